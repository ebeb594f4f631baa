#include "util/array.h"

int array_grow(void **items, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 8;
	if (ncap < *cap || size == 0 || ncap > SIZE_MAX / size)
		return -ENOMEM;
	void *p = realloc(*items, ncap * size);
	if (!p)
		return -ENOMEM;
	*items = p;
	*cap = ncap;
	return 0;
}

int array_grow_counted(void **items, size_t n, size_t size)
{
	size_t cap = n ? 8 : 0;

	while (cap < n && cap <= SIZE_MAX / 2)
		cap *= 2;
	return array_grow(items, &cap, n, size);
}
