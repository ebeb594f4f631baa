#include "util/common.h"

#include <pthread.h>

#include "util/dynlib.h"
#include "util/error.h"

#define TLSLIB_NO_REDIRECT
#include "net/tlslib.h"

/* Set by the Makefile from the installed library's SONAME. */
#ifndef TLSLIB_SSL_SONAME
#define TLSLIB_SSL_SONAME "libssl.so.3"
#endif

struct tlslib tlslib;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int load_result;
static const char *load_what;

static void load(void)
{
	static const char *const names[] = { TLSLIB_FUNCS(DYNLIB_NAME) };
	void *fns[ELEMENTSOF(names)];
	size_t i = 0;
	load_result = dynlib_load(TLSLIB_SSL_SONAME, names, fns, ELEMENTSOF(names), &load_what);
	if (load_result < 0)
		return;
#define SET(f) DYNLIB_SET(tlslib, fns, i, f)
	TLSLIB_FUNCS(SET)
#undef SET
}

int tlslib_load(struct error *err)
{
	pthread_once(&once, load);
	if (load_result < 0)
		return error_set(err, load_result, load_what, 0,
				 "cannot load it (a brokered secret needs OpenSSL 3's libssl)");
	return 0;
}

char *tlslib_error(char *out, size_t n)
{
	unsigned long e = tlslib.ERR_get_error ? tlslib.ERR_get_error() : 0;
	if (e == 0)
		snprintf(out, n, "unknown error");
	else
		tlslib.ERR_error_string_n(e, out, n);
	if (tlslib.ERR_clear_error)
		tlslib.ERR_clear_error();
	return out;
}
