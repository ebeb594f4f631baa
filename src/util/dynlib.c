#include "util/common.h"

#include <dlfcn.h>

#include "util/dynlib.h"

int dynlib_load(const char *soname, const char *const *names, void **fns, size_t n,
		const char **ret_what)
{
	void *lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	*ret_what = soname;
	if (!lib)
		return -ELIBACC;
	for (size_t i = 0; i < n; i++)
		if (!(fns[i] = dlsym(lib, names[i]))) {
			*ret_what = names[i];
			memset(fns, 0, n * sizeof(*fns));
			dlclose(lib);
			return -ELIBACC;
		}
	return 0;
}
