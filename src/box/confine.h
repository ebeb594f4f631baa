/* Process restrictions applied by the box init before anything untrusted
 * runs: resource limits and the end of all privilege (capabilities, the
 * bounding and ambient sets, root's special treatment at exec). */
#ifndef CLAWBOX_CONFINE_H
#define CLAWBOX_CONFINE_H
#include "util/common.h"

/* Processes and threads of the box's uid, unless --pids says otherwise: a
 * runaway fork loop stops here even without cgroups. The count is the box's
 * own (its user namespace's), not the caller's other processes. */
#define CONFINE_DEFAULT_NPROC 8192

struct confine_limits {
	uint64_t nofile;   /* RLIMIT_NOFILE (capped by the current hard limit) */
	uint64_t nproc;    /* RLIMIT_NPROC, 0 = CONFINE_DEFAULT_NPROC */
	uint64_t as_bytes; /* RLIMIT_AS, 0 = unchanged */
};

/* Set core 0 and the given limits. Returns 0 or -errno; *ret_what names the
 * limit that could not be set. */
int confine_rlimits(const struct confine_limits *l, const char **ret_what);

/* Lock securebits (no root privilege at exec, no setuid fixups), empty the
 * bounding and ambient sets and every capability set of this process.
 * Afterwards nothing this process execs can regain a capability. */
int confine_drop_caps(const char **ret_what);

/* True when the calling process has no capability in any set. */
bool confine_caps_empty(void);

#endif
