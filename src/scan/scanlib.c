#include "util/common.h"

#include <dlfcn.h>
#include <gnu/lib-names.h>
#include <pthread.h>

#include "util/error.h"

#define SCANLIB_NO_REDIRECT
#include "scan/scanlib.h"

/* Set by the Makefile from the installed libraries' SONAMEs. */
#ifndef SCANLIB_HS_SONAME
#define SCANLIB_HS_SONAME "libhs.so.5"
#endif
#ifndef SCANLIB_PCRE2_SONAME
#define SCANLIB_PCRE2_SONAME "libpcre2-8.so.0"
#endif

struct scanlib scanlib;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int load_result;
static const char *load_what;

static void load(void)
{
	void *hs = dlopen(SCANLIB_HS_SONAME, RTLD_NOW | RTLD_LOCAL);
	void *pc = dlopen(SCANLIB_PCRE2_SONAME, RTLD_NOW | RTLD_LOCAL);
	void *m = dlopen(LIBM_SO, RTLD_NOW | RTLD_LOCAL);
	load_result = -ELIBACC;
	if (!hs) {
		load_what = SCANLIB_HS_SONAME;
		return;
	}
	if (!pc) {
		load_what = SCANLIB_PCRE2_SONAME;
		return;
	}
	if (!m) {
		load_what = LIBM_SO;
		return;
	}
#define SCANLIB_LOAD(f)                                                          \
	scanlib.f = (__typeof__(&(f)))dlsym(strncmp(#f, "hs_", 3) == 0      ? hs \
					    : strncmp(#f, "pcre2_", 6) == 0 ? pc \
									    : m, \
					    #f);                                 \
	if (!scanlib.f) {                                                        \
		load_what = #f;                                                  \
		return;                                                          \
	}
	SCANLIB_FUNCS(SCANLIB_LOAD)
#undef SCANLIB_LOAD
	load_result = 0;
}

int scanlib_load(struct error *err)
{
	pthread_once(&once, load);
	if (load_result < 0)
		return error_set(err, load_result, load_what, 0,
				 "cannot load it (the scanner needs Hyperscan, PCRE2 and libm)");
	return 0;
}
