#include "util/common.h"

#include <dlfcn.h>
#include <pthread.h>

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
/* Kept loaded for the process's life once every function is found. */
static void *lib;

/* libssl's handle finds libcrypto's functions too (its dependency). */
static void load(void)
{
	load_result = -ELIBACC;
	load_what = TLSLIB_SSL_SONAME;
	if (!(lib = dlopen(TLSLIB_SSL_SONAME, RTLD_NOW | RTLD_LOCAL)))
		return;
#define TLSLIB_LOAD(f)                                        \
	if (!(tlslib.f = (__typeof__(&(f)))dlsym(lib, #f))) { \
		load_what = #f;                               \
		goto fail;                                    \
	}
	TLSLIB_FUNCS(TLSLIB_LOAD)
#undef TLSLIB_LOAD
	load_result = 0;
	return;
fail:
	dlclose(lib);
	lib = NULL;
	memset(&tlslib, 0, sizeof(tlslib));
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
