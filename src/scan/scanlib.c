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

/* The three libraries: kept loaded for the process's life once every
 * function is found (scanlib's pointers point into them); after a failure
 * none stays loaded. */
static void *libs[3];

static void unload(void)
{
	for (size_t i = 0; i < ELEMENTSOF(libs); i++)
		if (libs[i]) {
			dlclose(libs[i]);
			libs[i] = NULL;
		}
	memset(&scanlib, 0, sizeof(scanlib));
}

static void load(void)
{
	static const char *const names[] = { SCANLIB_HS_SONAME, SCANLIB_PCRE2_SONAME, LIBM_SO };
	load_result = -ELIBACC;
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (!(libs[i] = dlopen(names[i], RTLD_NOW | RTLD_LOCAL))) {
			load_what = names[i];
			unload();
			return;
		}
#define SCANLIB_LOAD(f)                                                                \
	scanlib.f = (__typeof__(&(f)))dlsym(strncmp(#f, "hs_", 3) == 0      ? libs[0]  \
					    : strncmp(#f, "pcre2_", 6) == 0 ? libs[1]  \
									    : libs[2], \
					    #f);                                       \
	if (!scanlib.f) {                                                              \
		load_what = #f;                                                        \
		unload();                                                              \
		return;                                                                \
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
