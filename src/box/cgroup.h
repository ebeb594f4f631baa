/* Memory and pids limits through the cgroup v1 controllers (the only ones
 * this machine kind has): a child cgroup per run under the caller's own
 * cgroup of each controller. Needs root; without it, or without the
 * controller, the functions fail and the caller reports and falls back. */
#ifndef CLAWBOX_CGROUP_H
#define CLAWBOX_CGROUP_H
#include "util/common.h"
#include "util/error.h"

struct cgroup_limits {
	uint64_t memory; /* bytes, 0 = none */
	uint64_t pids;   /* tasks, 0 = none */
	char memory_dir[PATH_MAX];
	char pids_dir[PATH_MAX];
};

/* Create the cgroups for name and set the limits. Returns 0, or -errno with
 * *err (may be NULL) naming the controller. */
int cgroup_create(struct cgroup_limits *c, const char *name, struct error *err);
/* Move pid into the created cgroups. */
int cgroup_attach(const struct cgroup_limits *c, pid_t pid);
/* Remove the cgroups (after every task in them has exited). */
void cgroup_destroy(struct cgroup_limits *c);

/* Remove the empty cgroups that a clawbox killed before it could (SIGKILL)
 * left beside ours: "clawbox-...-PID" of a PID that is gone. Best effort. */
void cgroup_sweep(void);

#endif
