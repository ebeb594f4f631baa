#include "util/common.h"

#include "util/array.h"
#include "util/strv.h"

#include <stdarg.h>

int strv_push(struct strv *s, const char *str)
{
	/* room for the string and the NULL after it */
	if (array_grow((void **)&s->v, &s->cap, s->n + 1, sizeof(*s->v)) < 0)
		return -ENOMEM;
	if (!(s->v[s->n] = strdup(str)))
		return -ENOMEM;
	s->v[++s->n] = NULL;
	return 0;
}

int strv_pushf(struct strv *s, const char *fmt, ...)
{
	va_list ap;
	char *p = NULL;
	va_start(ap, fmt);
	int n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	int r = strv_push(s, p);
	free(p);
	return r;
}

void strv_free(struct strv *s)
{
	strv_free_n(s->v, s->n);
	memset(s, 0, sizeof(*s));
}

int strv_dup_n(const char *const *src, size_t n, char ***ret)
{
	char **v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!(v[i] = strdup(src[i] ? src[i] : ""))) {
			strv_free_n(v, i);
			return -ENOMEM;
		}
	*ret = v;
	return 0;
}

void strv_free_n(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}
