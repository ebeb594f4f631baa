/* What the box's init (init.c), its service loop (initsvc.c) and its
 * leaders (leader.c) share. Internal to src/box/. */
#ifndef CLAWBOX_INIT_INT_H
#define CLAWBOX_INIT_INT_H
#include "util/common.h"
#include "util/error.h"

#include "box/supervisor.h"

/* The init's channels to the supervisor, at fixed numbers: its reports,
 * the go and the blocks it waits for, the fds it hands over, and (a
 * service) the control messages (src/box/ctlmsg.h). */
enum { FD_REPORT = 3, FD_GO = 4, FD_PTY = 5, FD_CTL = 6 };

/* Report that step failed with code (-errno), and go on; detail (may be
 * NULL) says what that means for the box. */
void init_warn(int code, const char *step, const char *detail);

/* Confine the calling process and all it will run: rlimits, no_new_privs,
 * non-dumpable, Landlock's write rules, no capabilities, the seccomp
 * filter. 0; 1 when the kernel has no Landlock (the rest is applied: the
 * caller says so); -errno with *err. */
int init_confine(const struct supervisor_spec *s, struct error *err);

/* Bring the loopback interface of our network namespace up. */
int init_loopback_up(struct error *err);

/* Open a terminal in the box's devpts: the master in *ret_master, returns
 * the pts number, or -errno with *err. */
int init_open_pty(int *ret_master, struct error *err);

/* A command's standard fds and directory. */
struct init_stdio {
	const int *fds;   /* [3] given to fds 0-2 (-1: /dev/null); NULL: inherited */
	int pts;          /* the box terminal for the fds in pty_fds, or -1 */
	unsigned pty_fds; /* bits 0-2 */
	const char *cwd;  /* NULL: ours */
};

/* The signals the init forwards to its command: the only ones a process
 * of the box's own (the init, a session's leader) ever has a handler for,
 * which init_spawn resets in the child before it unblocks anything. */
#define INIT_FORWARDED \
	SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGTSTP

/* Spawn argv[0] (searched in envp's PATH when it has no '/') in a session
 * of its own, with io, INIT_FORWARDED at their defaults and nothing
 * blocked (src/box/spawn.c). 0 with *ret, or an errno: EAGAIN or ENOMEM at
 * once (out of processes or memory), else that of the last file found that
 * could not be run (ENOENT when none was found). */
int init_spawn(char *const *argv, char *const *envp, const struct init_stdio *io, pid_t *ret);

/* Kill and reap whatever is left in the box (as its pid 1: kill(-1)
 * reaches every other process of the box, sessions included). */
void init_empty_box(void);

/* The service side of the init (initsvc.c): serve the control channel
 * FD_CTL until the box goes down. envp: the long-lived command's
 * environment (secrets included); base: the box's environment without the
 * secrets, for the sessions. Never returns. */
_noreturn_ void initsvc_main(const struct supervisor_spec *s, char **envp, char **base);

#endif
