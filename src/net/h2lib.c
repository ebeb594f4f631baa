#include "util/common.h"

#include <dlfcn.h>
#include <pthread.h>

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

/* Kept loaded for the process's life once every function is found. */
static void load(void)
{
	void *lib = dlopen(H2LIB_SONAME, RTLD_NOW | RTLD_LOCAL);
	load_result = -ELIBACC;
	load_what = H2LIB_SONAME;
	if (!lib)
		return;
#define H2LIB_LOAD(f)                                        \
	if (!(h2lib.f = (__typeof__(&(f)))dlsym(lib, #f))) { \
		load_what = #f;                              \
		goto fail;                                   \
	}
	H2LIB_FUNCS(H2LIB_LOAD)
#undef H2LIB_LOAD
	load_result = 0;
	return;
fail:
	dlclose(lib);
	memset(&h2lib, 0, sizeof(h2lib));
}

int h2lib_load(struct error *err)
{
	pthread_once(&once, load);
	if (load_result < 0)
		return error_set(err, load_result, load_what, 0,
				 "cannot load it (HTTP/2 on a brokered host needs libnghttp2)");
	return 0;
}
