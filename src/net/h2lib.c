#include "util/common.h"

#include <pthread.h>

#include "util/dynlib.h"
#include "util/error.h"

#define H2LIB_NO_REDIRECT
#include "net/h2lib.h"

/* Set by the Makefile from the installed library's SONAME. */
#ifndef H2LIB_SONAME
#define H2LIB_SONAME "libnghttp2.so.14"
#endif

struct h2lib h2lib;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int load_result;
static const char *load_what;

static void load(void)
{
	static const char *const names[] = { H2LIB_FUNCS(DYNLIB_NAME) };
	void *fns[ELEMENTSOF(names)];
	size_t i = 0;
	load_result = dynlib_load(H2LIB_SONAME, names, fns, ELEMENTSOF(names), &load_what);
	if (load_result < 0)
		return;
#define SET(f) DYNLIB_SET(h2lib, fns, i, f)
	H2LIB_FUNCS(SET)
#undef SET
}

int h2lib_load(struct error *err)
{
	pthread_once(&once, load);
	if (load_result < 0)
		return error_set(err, load_result, load_what, 0,
				 "cannot load it (HTTP/2 on a brokered host needs libnghttp2)");
	return 0;
}
