/* Process restrictions applied by the box init before anything untrusted
 * runs: resource limits and the end of all privilege (capabilities, the
 * bounding and ambient sets, root's special treatment at exec). */
#ifndef CLAWBOX_CONFINE_H
#define CLAWBOX_CONFINE_H
#include "util/common.h"
#include "util/error.h"

/* Processes and threads of the box's uid, unless --pids says otherwise: a
 * runaway fork loop stops here even without cgroups. The count is the box's
 * own (its user namespace's), not the caller's other processes. */
#define CONFINE_DEFAULT_NPROC 8192

struct confine_limits {
	uint64_t nofile;   /* RLIMIT_NOFILE (capped by the current hard limit) */
	uint64_t nproc;    /* RLIMIT_NPROC, 0 = CONFINE_DEFAULT_NPROC */
	uint64_t as_bytes; /* RLIMIT_AS, 0 = unchanged */
};

/* Set core 0 and the given limits. Returns 0, or -errno with *err (may be
 * NULL) naming the limit that could not be set. */
int confine_rlimits(const struct confine_limits *l, struct error *err);

/* Lock securebits (no root privilege at exec, no setuid fixups), empty the
 * bounding and ambient sets and every capability set of this process.
 * Afterwards nothing this process execs can regain a capability. */
/* Returns 0, or -errno with *err (may be NULL) naming the step. */
int confine_drop_caps(struct error *err);

/* True when the calling process has no capability in any set. */
bool confine_caps_empty(void);

#endif
