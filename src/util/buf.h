/* A growable byte buffer with a hard maximum (curl's dynbuf): appending past
 * the maximum fails with -E2BIG and leaves the buffer unchanged. The data is
 * always NUL-terminated. */
#ifndef CLAWBOX_BUF_H
#define CLAWBOX_BUF_H
#include "util/common.h"

struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
};

#define BUF_INIT(maxbytes)                                          \
	{                                                           \
		.data = NULL, .len = 0, .cap = 0, .max = (maxbytes) \
	}

int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) _printf_(2, 3);
void buf_reset(struct buf *b);
/* Frees the storage; the buffer may be reused afterwards. */
void buf_free(struct buf *b);
/* Hands the data out (caller frees); the buffer becomes empty. */
char *buf_steal(struct buf *b);

static inline void buf_freep(struct buf *b)
{
	buf_free(b);
}
#define _cleanup_buf_ _cleanup_(buf_freep)

#endif
