/* Libraries loaded on first use with dlopen(), so that a start of clawbox
 * that does not need one pays nothing for it (src/api/httplib.h,
 * src/net/tlslib.h, src/net/h2lib.h; each keeps a table of the functions
 * it calls, filled from fns[] here). */
#ifndef CLAWBOX_DYNLIB_H
#define CLAWBOX_DYNLIB_H
#include "util/common.h"

/* Load soname (kept for the process's life) and resolve names[0..n) into
 * fns[0..n) (dlsym's pointers: POSIX lets the caller convert them to
 * function pointers). 0, or -ELIBACC with *ret_what naming the library or
 * the function it lacks (then nothing stays loaded, fns zeroed). */
int dynlib_load(const char *soname, const char *const *names, void **fns, size_t n,
		const char **ret_what);

/* The table's side: names of an X-macro list, and the fill. */
#define DYNLIB_NAME(f)               #f,
#define DYNLIB_SET(table, fns, i, f) (table).f = (__typeof__(&(f)))(fns)[(i)++];

#endif
