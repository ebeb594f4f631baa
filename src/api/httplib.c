#include "util/common.h"

#include <dlfcn.h>
#include <pthread.h>

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
/* Kept loaded for the process's life once every function is found. */
static void *lib;

static void load(void)
{
	load_result = -ELIBACC;
	load_what = HTTPLIB_MHD_SONAME;
	if (!(lib = dlopen(HTTPLIB_MHD_SONAME, RTLD_NOW | RTLD_LOCAL)))
		return;
#define HTTPLIB_LOAD(f)                                        \
	if (!(httplib.f = (__typeof__(&(f)))dlsym(lib, #f))) { \
		load_what = #f;                                \
		goto fail;                                     \
	}
	HTTPLIB_FUNCS(HTTPLIB_LOAD)
#undef HTTPLIB_LOAD
	load_result = 0;
	return;
fail:
	dlclose(lib);
	lib = NULL;
	memset(&httplib, 0, sizeof(httplib));
}

int httplib_load(struct error *err)
{
	pthread_once(&once, load);
	if (load_result < 0)
		return error_set(err, load_result, load_what, 0,
				 "cannot load it (clawbox serve needs libmicrohttpd)");
	return 0;
}
