/* String vectors: a NULL-terminated, growing array of owned strings. */
#ifndef CLAWBOX_STRV_H
#define CLAWBOX_STRV_H
#include "util/common.h"

struct strv {
	char **v;
	size_t n, cap;
};

int strv_push(struct strv *s, const char *str);
int strv_pushf(struct strv *s, const char *fmt, ...) _printf_(2, 3);
void strv_free(struct strv *s);

#endif
