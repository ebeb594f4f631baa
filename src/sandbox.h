/* Running a command in a box. The supervisor (the clawbox process) clones
 * the box init into new user, mount, pid, ipc, uts and net namespaces (and a
 * cgroup namespace once its cgroups are joined), writes its id maps, and
 * then only relays: the terminal, signals, and the init's reports. The init
 * (src/boxinit.c) builds the filesystem view, confines itself, forks the
 * command, reaps, and reports the command's end. When the supervisor dies the
 * init is killed (PDEATHSIG) and with it the whole pid namespace. */
#ifndef CLAWBOX_SANDBOX_H
#define CLAWBOX_SANDBOX_H
#include "util/common.h"

#include "cgroup.h"
#include "confine.h"
#include "netbox.h"
#include "report.h"
#include "rootfs.h"

struct sandbox_spec {
	struct rootfs_spec fs;
	char *const *argv; /* the command; argv[0] searched in the box's PATH */
	char *const *envp; /* its whole environment */
	const char *cwd;   /* working directory inside the box */
	bool pty;          /* give the command a terminal of the box's own */
	bool net_proxy;    /* the init opens the proxy's listeners in the box's netns */
	struct confine_limits limits;
	/* eth0 (--net filtered) and the ruleset the init sets up (src/netbox.h) */
	struct netbox_spec net;
	struct cgroup_limits cg; /* filled by the caller when cgroups are used */
};

struct sandbox_hooks {
	/* The init is running as host pid. */
	void (*started)(pid_t pid, void *ctx);
	/* A protection could not be applied (REPORT_WARN). */
	void (*warn)(const struct report *r, void *ctx);
	/* With net_proxy: the listeners the init opened on the box's loopback,
	 * indexed as PROXY_FD_* (src/proxy.h), -1 for a missing one, then (with
	 * net.filtered) the box's NFLOG socket (src/nflog.h). The hook owns
	 * them. Called from the relay loop, before or while the command
	 * runs (connections wait in the listen queue until served). */
	void (*net_listeners)(int *fds, size_t n, void *ctx);
	void *ctx;
};

struct sandbox_result {
	int exit_code;         /* what clawbox should exit with */
	bool ran;              /* the command was executed */
	int wstatus;           /* its wait status, when it ran and ended */
	struct report failure; /* REPORT_FAIL or REPORT_EXEC_FAIL, kind 0 if none */
	int64_t duration_ms;
};

/* Run spec in a box. Returns 0 when the run was carried out to its end (look
 * at ret->exit_code, which is 125/126/127 when setup or exec failed inside),
 * or -errno when the supervisor itself could not start it (*ret_what tells). */
int sandbox_run(const struct sandbox_spec *s, const struct sandbox_hooks *h,
		struct sandbox_result *ret, const char **ret_what);

/* The init's side; never returns. */
_noreturn_ void boxinit_main(const struct sandbox_spec *s, int report_fd, int go_fd, int pty_fd);

#endif
