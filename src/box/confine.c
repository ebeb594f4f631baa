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

/* Set limit res (named name) to v, or fill *err. */
static int limit(int res, const char *name, uint64_t v, struct error *err)
{
	int r = set_limit(res, v);
	return r < 0 ? error_errno(err, r, "set the resource limit '%s'", name) : 0;
}

int confine_rlimits(const struct confine_limits *l, struct error *err)
{
	int r;
	if ((r = limit(RLIMIT_CORE, "RLIMIT_CORE", 0, err)) < 0)
		return r;
	if (l->nofile && (r = limit(RLIMIT_NOFILE, "RLIMIT_NOFILE", l->nofile, err)) < 0)
		return r;
	if ((r = limit(RLIMIT_NPROC, "RLIMIT_NPROC", l->nproc ? l->nproc : CONFINE_DEFAULT_NPROC,
		       err)) < 0)
		return r;
	if (l->as_bytes && (r = limit(RLIMIT_AS, "RLIMIT_AS", l->as_bytes, err)) < 0)
		return r;
	return 0;
}

int confine_drop_caps(struct error *err)
{
	if (cap_set_secbits(SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
			    SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
			    SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED) < 0)
		return error_errno(err, -errno, "lock the securebits");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return error_errno(err, -errno, "drop the ambient capability set");
	for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits(); c++)
		if (cap_drop_bound(c) < 0 && errno != EINVAL)
			return error_errno(err, -errno, "drop the capability bounding set");
	cap_t empty = cap_init();
	if (!empty)
		return error_errno(err, -ENOMEM, "drop the capability sets");
	int r = cap_set_proc(empty) < 0 ? -errno : 0;
	cap_free(empty);
	return r < 0 ? error_errno(err, r, "drop the capability sets") : 0;
}

bool confine_caps_empty(void)
{
	cap_t cur = cap_get_proc(), empty = cap_init();
	bool same = cur && empty && cap_compare(cur, empty) == 0;
	cap_free(cur);
	cap_free(empty);
	return same && prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN) == 0;
}
