#include "util/common.h"

#include <pthread.h>

#include "util/dynlib.h"
#include "util/error.h"

#define HTTPLIB_NO_REDIRECT
#include "api/httplib.h"

/* Set by the Makefile from the installed library's SONAME. */
#ifndef HTTPLIB_MHD_SONAME
#define HTTPLIB_MHD_SONAME "libmicrohttpd.so.12"
#endif

struct httplib httplib;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int load_result;
static const char *load_what;

static void load(void)
{
	static const char *const names[] = { HTTPLIB_FUNCS(DYNLIB_NAME) };
	void *fns[ELEMENTSOF(names)];
	size_t i = 0;
	load_result = dynlib_load(HTTPLIB_MHD_SONAME, names, fns, ELEMENTSOF(names), &load_what);
	if (load_result < 0)
		return;
#define SET(f) DYNLIB_SET(httplib, fns, i, f)
	HTTPLIB_FUNCS(SET)
#undef SET
}

int httplib_load(struct error *err)
{
	pthread_once(&once, load);
	if (load_result < 0)
		return error_set(err, load_result, load_what, 0,
				 "cannot load it (clawbox serve needs libmicrohttpd)");
	return 0;
}
