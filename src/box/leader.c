/* A leader of an up box: src/box/leader.h. It never prints: it answers
 * the init over its socket (src/box/ctlmsg.h). */
#include "util/clock.h"
#include "util/common.h"
#include "util/error.h"

#include "box/ctlmsg.h"
#include "box/init_int.h"
#include "box/leader.h"
#include "box/rootfs.h"

#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

enum { SOCK = 3 };     /* the leader's socket to the init */
#define MAX_EXECS 1024 /* commands of one leader running at once */

struct running {
	uint32_t id; /* the exec's id; 0: the box's long-lived command */
	pid_t pid;
};

struct leader {
	const struct leader_spec *ls;
	struct running run[MAX_EXECS];
	size_t n;
	int sigfd;
	bool stopping;      /* the box goes down: no restart */
	pid_t cmd;          /* the long-lived command, 0 when none runs */
	int64_t restart_at; /* when to start it again (ms), 0: not due */
	int64_t backoff_ms, cmd_started;
	int64_t idle_since, end_at; /* end_at: the time limit's end (ms), 0: none */
	char buf[CTLMSG_MAX];
};

/* A leader's end: its pid namespace and everything in it go with it. */
_noreturn_ static void leave(void)
{
	_exit(0);
}

static void reply_error(uint32_t id, int code, const char *where, const char *msg)
{
	struct error e;
	error_set(&e, code, where, 0, "%s", msg);
	if (ctlmsg_send_error(SOCK, id, &e) < 0)
		leave();
}

static void send_or_leave(uint32_t type, uint32_t id, int64_t value, const int *fds, size_t n)
{
	if (ctlmsg_send(SOCK, type, id, value, NULL, 0, fds, n) < 0)
		leave();
}

/* env with over's NAME=VALUE strings set over it: a new vector (the
 * strings are borrowed), or NULL when out of memory. */
static char **merge_env(char **env, char *const *over, size_t nover)
{
	size_t n = 0;
	while (env[n])
		n++;
	char **v = calloc(n + nover + 1, sizeof(*v));
	if (!v)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		size_t len = strcspn(env[i], "=");
		bool replaced = false;
		for (size_t j = 0; j < nover && !replaced; j++)
			replaced = strncmp(over[j], env[i], len + 1) == 0;
		if (!replaced)
			v[k++] = env[i];
	}
	for (size_t j = 0; j < nover; j++)
		v[k++] = over[j];
	return v;
}

/* The strings of m tagged tag, into v[0..max): how many. */
static size_t strings_of(const struct ctlmsg *m, char tag, char **v, size_t max)
{
	size_t pos = 0, n = 0;
	for (const char *s; (s = ctlmsg_next(m, &pos));)
		if (s[0] == tag && n < max)
			v[n++] = (char *)s + 1;
	return n;
}

static bool track(struct leader *l, uint32_t id, pid_t pid)
{
	if (l->n == MAX_EXECS)
		return false;
	l->run[l->n++] = (struct running){ .id = id, .pid = pid };
	return true;
}

/* The standard fds of an exec request: value bits 4-6 say which came (in
 * order), bits 0-2 which get the terminal. */
static void exec_fds(const struct ctlmsg *m, int fds[3])
{
	unsigned given = (unsigned)(m->h.value >> 4) & 7;
	size_t k = 0;
	for (int fd = 0; fd < 3; fd++)
		fds[fd] = (given & (1u << fd)) && k < m->nfds ? m->fds[k++] : -1;
}

/* Run an exec request: its terminal (sent first), the command, STARTED;
 * or an error for the id. */
static void do_exec(struct leader *l, struct ctlmsg *m)
{
	enum { ARGS_MAX = 4096 };
	static char *argv[ARGS_MAX + 1], *over[ARGS_MAX];
	unsigned pty_fds = (unsigned)m->h.value & 7;
	int fds[3];
	struct error err;

	size_t argc = strings_of(m, 'a', argv, ARGS_MAX);
	size_t nover = strings_of(m, 'e', over, ARGS_MAX);
	argv[argc] = NULL;
	if (argc == 0 || !argv[0][0]) {
		reply_error(m->h.id, -EINVAL, NULL, "no command to run");
		return;
	}
	exec_fds(m, fds);
	const char *cwd = ctlmsg_get(m, 'c');
	struct stat st;
	if (cwd && (stat(cwd, &st) < 0 || !S_ISDIR(st.st_mode))) {
		/* Not the command's failure (no 127): the directory's. */
		char msg[ERROR_MESSAGE_MAX];
		snprintf(msg, sizeof(msg), "no such working directory in the box '%s'", cwd);
		reply_error(m->h.id, -ENOENT, NULL, msg);
		return;
	}
	struct init_stdio io = {
		.fds = fds, .pts = -1, .pty_fds = pty_fds, .cwd = ctlmsg_get(m, 'c')
	};
	if (pty_fds) {
		int master = -1;
		if ((io.pts = init_open_pty(&master, &err)) < 0) {
			reply_error(m->h.id, err.code, NULL, err.message);
			return;
		}
		send_or_leave(CTLMSG_PTY, m->h.id, 0, &master, 1);
		close(master);
	}
	_cleanup_free_ char **envp = merge_env(l->ls->env, over, nover);
	pid_t pid;
	int e = envp ? init_spawn(argv, envp, &io, &pid) : ENOMEM;
	if (e == 0 && !track(l, m->h.id, pid)) {
		kill(pid, SIGKILL);
		e = EAGAIN;
	}
	if (e != 0) {
		reply_error(m->h.id, -e, argv[0], "");
		return;
	}
	send_or_leave(CTLMSG_STARTED, m->h.id, pid, NULL, 0);
}

static struct running *find(struct leader *l, uint32_t id)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->run[i].id == id && id != 0)
			return &l->run[i];
	return NULL;
}

static void forget(struct leader *l, struct running *r)
{
	*r = l->run[--l->n];
}

/* A request from the init. */
static void handle(struct leader *l, struct ctlmsg *m)
{
	struct running *r;
	switch (m->h.type) {
	case CTLMSG_EXEC: do_exec(l, m); break;
	case CTLMSG_SIGNAL:
		if ((r = find(l, m->h.id)) && m->h.value > 0 && m->h.value < _NSIG)
			kill(-r->pid, (int)m->h.value);
		break;
	case CTLMSG_HANGUP:
		if ((r = find(l, m->h.id))) {
			kill(-r->pid, SIGKILL);
			r->id = UINT32_MAX; /* reaped, never reported */
		}
		break;
	case CTLMSG_DOWN: l->stopping = true; break;
	}
	ctlmsg_close_fds(m);
}

/* Start the box's long-lived command (main leader), with our standard
 * fds (the supervisor's log) and the box's working directory. */
static void start_cmd(struct leader *l)
{
	const struct supervisor_spec *s = l->ls->box;
	struct init_stdio io = { .pts = -1, .cwd = s->cwd };
	pid_t pid;
	int e = init_spawn(s->argv, l->ls->env, &io, &pid);
	l->restart_at = 0;
	if (e != 0) {
		/* Reported as an exit of 127/126; the policy decides. */
		send_or_leave(CTLMSG_CMD, 0, (e == ENOENT ? 127 : 126) << 8, NULL, 0);
		l->restart_at =
		    s->restart == SUPERVISOR_RESTART_NO ? 0 : clock_ms() + l->backoff_ms;
		return;
	}
	l->cmd = pid;
	l->cmd_started = clock_ms();
	send_or_leave(CTLMSG_CMD, 0, -(int64_t)pid, NULL, 0);
}

/* The long-lived command ended with st: report it, and per the restart
 * policy start it again after a back-off (1 s, doubling to 60 s; back to
 * 1 s after a run of a minute). */
static void cmd_ended(struct leader *l, int st)
{
	enum supervisor_restart p = l->ls->box->restart;
	l->cmd = 0;
	send_or_leave(CTLMSG_CMD, 0, st, NULL, 0);
	bool failed = !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	if (l->stopping || p == SUPERVISOR_RESTART_NO ||
	    (p == SUPERVISOR_RESTART_ON_FAILURE && !failed))
		return;
	if (clock_ms() - l->cmd_started > 60000)
		l->backoff_ms = 1000;
	l->restart_at = clock_ms() + l->backoff_ms;
	l->backoff_ms = l->backoff_ms * 2 > 60000 ? 60000 : l->backoff_ms * 2;
}

static void reap(struct leader *l)
{
	struct signalfd_siginfo si;
	while (read(l->sigfd, &si, sizeof(si)) > 0)
		;
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);
		if (p <= 0)
			return;
		if (p == l->cmd && l->cmd) {
			cmd_ended(l, st);
			continue;
		}
		for (size_t i = 0; i < l->n; i++) {
			if (l->run[i].pid != p)
				continue;
			if (l->run[i].id != UINT32_MAX)
				send_or_leave(CTLMSG_EXIT, l->run[i].id, st, NULL, 0);
			forget(l, &l->run[i]);
			if (l->n == 0)
				l->idle_since = clock_ms();
			break;
		}
	}
}

/* How long poll may wait: until the next restart or the idle end. */
static int next_wait(const struct leader *l)
{
	int64_t now = clock_ms(), until = -1;
	if (l->restart_at)
		until = l->restart_at;
	if (l->end_at && (until < 0 || l->end_at < until))
		until = l->end_at;
	if (l->ls->idle_ms > 0 && l->n == 0) {
		int64_t idle_end = l->idle_since + l->ls->idle_ms;
		if (until < 0 || idle_end < until)
			until = idle_end;
	}
	if (until < 0)
		return -1;
	return until <= now ? 0 : (int)(until - now > 60000 ? 60000 : until - now);
}

_noreturn_ static void serve(struct leader *l)
{
	for (;;) {
		struct pollfd p[2] = { { .fd = SOCK, .events = POLLIN },
				       { .fd = l->sigfd, .events = POLLIN } };
		int r = poll(p, 2, next_wait(l));
		if (r < 0 && errno != EINTR)
			leave();
		/* Requests first: a DOWN sent before the box's TERM is seen
		 * before the long-lived command's end. */
		if (p[0].revents) {
			struct ctlmsg m;
			int k = ctlmsg_recv(SOCK, l->buf, &m);
			if (k == 0 || (k < 0 && k != -EINTR && k != -EAGAIN && k != -EBADMSG))
				leave();
			if (k > 0)
				handle(l, &m);
		}
		if (p[1].revents)
			reap(l);
		int64_t now = clock_ms();
		if (l->restart_at && now >= l->restart_at && !l->stopping)
			start_cmd(l);
		if ((l->ls->idle_ms > 0 && l->n == 0 && now - l->idle_since >= l->ls->idle_ms) ||
		    (l->end_at && now >= l->end_at))
			leave();
	}
}

/* Our namespaces' set-up, then confinement; 0 or -errno with *err. */
static int set_up(const struct leader_spec *ls, struct error *err)
{
	int r;
	if ((r = rootfs_proc_remount(err)) < 0)
		return r;
	if (!ls->main && !ls->net && (r = init_loopback_up(err)) < 0)
		return r;
	r = init_confine(ls->box, err);
	return r < 0 ? r : 0;
}

_noreturn_ static void leader_main(const struct leader_spec *ls, int sock)
{
	static struct leader l;
	struct error err;
	sigset_t chld;

	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (dup3(sock, SOCK, O_CLOEXEC) < 0)
		_exit(EXIT_SETUP);
	/* Stdin, stdout and stderr stay (the supervisor's log for the main
	 * leader's command); nothing else of the init's. */
	close_range(SOCK + 1, ~0U, 0);
	if (!ls->main) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		for (int fd = 0; fd < 3 && null >= 0; fd++)
			dup2(null, fd);
	}
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	l = (struct leader){ .ls = ls, .backoff_ms = 1000, .idle_since = clock_ms() };
	l.end_at = ls->time_ms > 0 ? l.idle_since + ls->time_ms : 0;
	if ((l.sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
		error_errno(&err, -errno, "create a signalfd");
	if (l.sigfd < 0 || set_up(ls, &err) < 0) {
		ctlmsg_send_error(SOCK, 0, &err);
		_exit(EXIT_SETUP);
	}
	send_or_leave(CTLMSG_READY, 0, 0, NULL, 0);
	if (ls->main && ls->box->argv && ls->box->argv[0])
		start_cmd(&l);
	serve(&l);
}

/* The leader's first message: READY, or the error of its set-up. */
static int await_ready(int sock, struct error *err)
{
	_cleanup_free_ char *buf = malloc(CTLMSG_MAX);
	struct ctlmsg m;
	if (!buf)
		return error_errno(err, -ENOMEM, "start a session");
	int k = ctlmsg_recv(sock, buf, &m);
	if (k <= 0)
		return error_errno(err, k < 0 ? k : -EPIPE, "start a session");
	ctlmsg_close_fds(&m);
	if (m.h.type == CTLMSG_READY)
		return 0;
	if (ctlmsg_error(&m, err) == 0)
		return err ? err->code : -EIO;
	return error_errno(err, -EBADMSG, "start a session");
}

int leader_start(const struct leader_spec *ls, pid_t *ret_pid, int *ret_pidfd, int *ret_sock,
		 struct error *err)
{
	int sp[2], pidfd = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return error_errno(err, -errno, "create a session's socket");
	uint64_t flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_PIDFD;
	if (!ls->main && !ls->net)
		flags |= CLONE_NEWNET;
	struct clone_args args = { .flags = flags,
				   .pidfd = (uint64_t)(uintptr_t)&pidfd,
				   .exit_signal = SIGCHLD };
	pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
	if (pid == 0) {
		close(sp[0]);
		leader_main(ls, sp[1]);
	}
	close(sp[1]);
	if (pid < 0) {
		close(sp[0]);
		return error_errno(err, -errno, "create a session's namespaces");
	}
	int r = await_ready(sp[0], err);
	if (r < 0) {
		kill(pid, SIGKILL);
		close(sp[0]);
		close(pidfd);
		return r; /* reaped by the init's loop */
	}
	*ret_pid = pid;
	*ret_pidfd = pidfd;
	*ret_sock = sp[0];
	return 0;
}
