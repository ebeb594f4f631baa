#include "util/common.h"

#include "box/report.h"

static void copy(char *dst, size_t n, const char *src)
{
	size_t i = 0;
	if (src)
		for (; src[i] && i + 1 < n; i++)
			dst[i] = src[i];
	dst[i] = '\0';
}

void report_send(int fd, int kind, int err, int value, const char *what, const char *path,
		 const char *detail)
{
	struct report r;
	memset(&r, 0, sizeof(r));
	r.kind = kind;
	r.err = err;
	r.value = value;
	copy(r.what, sizeof(r.what), what);
	copy(r.path, sizeof(r.path), path);
	copy(r.detail, sizeof(r.detail), detail);
	while (write(fd, &r, sizeof(r)) < 0 && errno == EINTR)
		;
}
