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
/* Frees every string of s and its array; s is empty again. */
void strv_free(struct strv *s);

/* Plain arrays of n owned strings (no NULL terminator needed). */

/* A new array of copies of src[0..n) (a NULL item becomes ""); at least one
 * slot is allocated, so *ret is never NULL on success. 0 or -ENOMEM. */
int strv_dup_n(const char *const *src, size_t n, char ***ret);

/* Frees v[0..n) and v; accepts NULL. */
void strv_free_n(char **v, size_t n);

#endif
