#include "util/common.h"

#include "box/confine.h"

#include <linux/securebits.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>

static int set_limit(int res, uint64_t v)
{
	struct rlimit rl;
	if (getrlimit(res, &rl) < 0)
		return -errno;
	if (rl.rlim_max != RLIM_INFINITY && v > rl.rlim_max)
		v = rl.rlim_max;
	rl.rlim_cur = rl.rlim_max = (rlim_t)v;
	return setrlimit(res, &rl) < 0 ? -errno : 0;
}

int confine_rlimits(const struct confine_limits *l, const char **ret_what)
{
	int r;
	*ret_what = "RLIMIT_CORE";
	if ((r = set_limit(RLIMIT_CORE, 0)) < 0)
		return r;
	*ret_what = "RLIMIT_NOFILE";
	if (l->nofile && (r = set_limit(RLIMIT_NOFILE, l->nofile)) < 0)
		return r;
	*ret_what = "RLIMIT_NPROC";
	if ((r = set_limit(RLIMIT_NPROC, l->nproc ? l->nproc : CONFINE_DEFAULT_NPROC)) < 0)
		return r;
	*ret_what = "RLIMIT_AS";
	if (l->as_bytes && (r = set_limit(RLIMIT_AS, l->as_bytes)) < 0)
		return r;
	return 0;
}

int confine_drop_caps(const char **ret_what)
{
	*ret_what = "securebits";
	if (cap_set_secbits(SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
			    SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
			    SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED) < 0)
		return -errno;
	*ret_what = "the ambient capability set";
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return -errno;
	*ret_what = "the capability bounding set";
	for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits(); c++)
		if (cap_drop_bound(c) < 0 && errno != EINVAL)
			return -errno;
	*ret_what = "the capability sets";
	cap_t empty = cap_init();
	if (!empty)
		return -ENOMEM;
	int r = cap_set_proc(empty) < 0 ? -errno : 0;
	cap_free(empty);
	return r;
}

bool confine_caps_empty(void)
{
	cap_t cur = cap_get_proc(), empty = cap_init();
	bool same = cur && empty && cap_compare(cur, empty) == 0;
	cap_free(cur);
	cap_free(empty);
	return same && prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN) == 0;
}
