/* util/array: growing arrays with and without a kept capacity. */
#include "unit.h"

#include "util/array.h"

TEST(array_grow_doubles_from_eight)
{
	int *v = NULL;
	size_t cap = 0;

	for (size_t n = 0; n < 100; n++) {
		CHECK_INT(array_grow((void **)&v, &cap, n, sizeof(*v)), 0);
		CHECK(cap > n);
		v[n] = (int)n;
	}
	CHECK_INT(cap, 128);
	for (int i = 0; i < 100; i++)
		CHECK_INT(v[i], i);
	CHECK_INT(array_grow((void **)&v, &cap, 5, SIZE_MAX / 2), 0); /* room already */
	size_t big = 128;
	CHECK_INT(array_grow((void **)&v, &big, 128, SIZE_MAX / 64), -ENOMEM);
	CHECK_INT(big, 128);
	free(v);
}

/* Without a capacity: every slot up to n is writable (ASan sees an overflow
 * otherwise), the contents survive, and it reallocates only at 0, 8, 16, 32... */
TEST(array_grow_counted_keeps_room_for_n)
{
	long *v = NULL;
	unsigned moves = 0;

	for (size_t n = 0; n < 1000; n++) {
		long *before = v;
		CHECK_INT(array_grow_counted((void **)&v, n, sizeof(*v)), 0);
		moves += v != before;
		v[n] = (long)n * 3;
	}
	for (long i = 0; i < 1000; i++)
		CHECK_INT(v[i], i * 3);
	CHECK(moves <= 8); /* 0, 8, 16, ..., 512: at most 8 allocations, not 1000 */
	free(v);
}
