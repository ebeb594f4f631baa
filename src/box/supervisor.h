/* Running a command in a box. The supervisor (the clawbox process) clones
 * the box init into new user, mount, pid, ipc, uts and net namespaces (and a
 * cgroup namespace once its cgroups are joined), writes its id maps, and
 * then only relays: the terminal, signals, and the init's reports. The init
 * (src/box/init.c) builds the filesystem view, confines itself, forks the
 * command, reaps, and reports the command's end. When the supervisor dies the
 * init is killed (PDEATHSIG) and with it the whole pid namespace. */
#ifndef CLAWBOX_SUPERVISOR_H
#define CLAWBOX_SUPERVISOR_H
#include "util/common.h"

#include <poll.h>

#include "box/cgroup.h"
#include "box/confine.h"
#include "net/netbox.h"
#include "box/report.h"
#include "box/rootfs.h"

/* What becomes of an up box's long-lived command when it ends. */
enum supervisor_restart {
	SUPERVISOR_RESTART_NO,
	SUPERVISOR_RESTART_ON_FAILURE, /* a non-zero exit or a signal */
	SUPERVISOR_RESTART_ALWAYS,
};

struct audit;

struct supervisor_spec {
	struct rootfs_spec fs;
	char *const *argv; /* the command; argv[0] searched in the box's PATH */
	const char *cwd;   /* working directory inside the box */
	bool pty;          /* give the command a terminal of the box's own */
	unsigned pty_fds;  /* with pty: which standard fds (bit 0-2) get it: the
			    * caller's that are terminals (supervisor_stdio_check) */
	bool net_proxy;    /* the init opens the proxy's listeners in the box's netns */
	struct confine_limits limits;
	/* eth0 (--net filtered) and the ruleset the init sets up (src/net/netbox.h) */
	struct netbox_spec net;
	struct cgroup_limits cg; /* filled by the caller when cgroups are used */
	/* Wait for the kernel's teardown of the box (its mounts, namespaces)
	 * in supervisor_finish, e.g. to remove the box's cgroups after it; else
	 * return once the command's end is reported, when no process of the
	 * box is left (the next box_lock() waits for the teardown). */
	bool wait_teardown;
	/* An up box (clawbox up): the init serves execs and sessions
	 * (src/box/initsvc.c), the supervisor a control socket in the dir
	 * control_dir (src/box/control.h) with its own handle of the audit log
	 * (control_audit, may be NULL); argv (may be empty) is the long-lived
	 * command, under restart; base_env is the environment of the sessions
	 * (the box's without the secrets). */
	bool service;
	enum supervisor_restart restart;
	int control_dir;
	struct audit *control_audit;
	char *const *base_env;
};

struct supervisor_result;
struct secrets;

struct supervisor_hooks {
	/* The init is running as host pid (it joins the box's network
	 * namespace later: see net). */
	void (*started)(pid_t pid, void *ctx);
	/* A protection could not be applied (REPORT_WARN): e says which, why,
	 * and what that means. */
	void (*warn)(const struct error *e, void *ctx);
	/* The box's network namespace is in place: netns (an fd of it), diag
	 * (a NETLINK_SOCK_DIAG socket in it, or -1), and with net_proxy the
	 * listeners the init opened on the box's loopback, indexed as
	 * PROXY_FD_* (src/net/proxy.h), then (with net.filtered) the box's NFLOG
	 * socket (src/net/nflog.h). The hook owns every fd. Called from the relay
	 * loop, before the command runs (connections wait in the listen queue
	 * until served). */
	void (*net)(int netns, int diag, int *fds, size_t n, void *ctx);
	/* Fds the relay loop watches for the caller (into p, at most
	 * SUPERVISOR_WATCH_MAX; returns how many; asked before each wait), and
	 * the call when any of them is ready: both, or neither. */
	size_t (*watch)(struct pollfd *p, void *ctx);
	void (*watch_ready)(void *ctx);
	/* The run's outcome is known (res as supervisor_finish returns it);
	 * usually called while the box is still being torn down, so that the
	 * caller's bookkeeping overlaps with it. Called once, unless
	 * supervisor_finish fails. */
	void (*ended)(const struct supervisor_result *res, void *ctx);
	/* An up box serves (its control socket answers). Called once, from
	 * another thread of the supervisor's. */
	void (*ready)(void *ctx);
	void *ctx;
};

struct supervisor_result {
	int exit_code; /* what clawbox should exit with */
	bool ran;      /* the command was executed (and its end reported) */
	int wstatus;   /* its wait status, when it ran and ended */
	/* REPORT_FAIL (failure.error: the setup step that failed) or
	 * REPORT_EXEC_FAIL (failure.error.where: the command); kind 0 if none */
	struct report failure;
	int64_t duration_ms;
};

struct supervisor;

/* Most fds of the caller's watch hook. */
#define SUPERVISOR_WATCH_MAX 4

/* How long an up box's processes have to end after a SIGTERM to clawbox. */
#define SUPERVISOR_DOWN_GRACE_MS 5000

/* Most bytes of masks or environment sent to a box's init. */
#define SUPERVISOR_BLOCK_MAX (4u << 20)

/* Start a box for spec: clone the init into its namespaces, write its id
 * maps, join its cgroups. The init builds the box's view meanwhile, and
 * waits for supervisor_finish() before it runs anything of spec->argv, so the
 * caller can do its own work (secrets, audit) in parallel. spec and h must
 * live until the box is finished. Returns 0 with *ret, or -errno with *err
 * (may be NULL) telling what failed. */
int supervisor_start(const struct supervisor_spec *spec, const struct supervisor_hooks *h,
		     struct supervisor **ret, struct error *err);

/* The paths the box hides (rootfs_spec.masks), for a box just started:
 * the init waits for them before it builds the view, so the caller works
 * them out while the init gets going. Once, before supervisor_finish(). 0 or
 * -errno (then supervisor_abort() it). */
int supervisor_set_masks(struct supervisor *sb, char *const *masks, size_t n);

/* Give the command its environment (envp: its whole environment; it goes
 * to the init over a socket, never through a file), let it run, and relay
 * until the box has ended; with spec->pty, what the box's terminal prints
 * is shown with the values of redact (NULL: none) redacted (src/secrets/secrets.h:
 * secrets_stream). Returns 0 when the run was carried out to its end (look
 * at ret->exit_code, which is 125/126/127 when setup or exec failed
 * inside), or -errno with *err (may be NULL) telling what failed. Frees sb
 * either way. */
int supervisor_finish(struct supervisor *sb, char *const *envp, const struct secrets *redact,
		      struct supervisor_result *ret, struct error *err);

/* Kill a started box before it ran anything, and free sb. NULL is a no-op. */
void supervisor_abort(struct supervisor *sb);

/* What becomes of the caller's standard fd (0, 1 or 2) in the box. */
enum supervisor_stdio {
	SUPERVISOR_STDIO_PASS,   /* given as it is: a pipe, a regular file, a unix or
			       * connected TCP socket, null/zero/full/random */
	SUPERVISOR_STDIO_TTY,    /* a terminal: the box gets one of its own instead,
			       * relayed (src/box/pty.h) */
	SUPERVISOR_STDIO_REFUSE, /* anything else: not given to a box */
};
/* Judge the caller's standard fd. A box never gets what would reach past
 * its walls: a directory (openat(fd, "..") and /proc/self/fd/N/.. walk the
 * host's tree), an O_PATH fd, a block device, a character device other
 * than null, zero, full, random and urandom (a terminal is relayed), a
 * kernel object (epoll, eventfd, pidfd, namespace, ... fds), a file of
 * the kernel's own filesystems (proc, sysfs, cgroup, debugfs, ...), a
 * socket other than unix or connected TCP (raw, packet, netlink, an
 * unconnected UDP socket of the host's network). Returns the verdict,
 * with *ret_why (a noun phrase) for SUPERVISOR_STDIO_REFUSE. A closed fd is
 * refused too (main() opens /dev/null on closed ones). */
enum supervisor_stdio supervisor_stdio_check(int fd, const char **ret_why);

#endif
