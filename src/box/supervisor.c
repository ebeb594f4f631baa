/* The supervisor's side of a run: clone the box init, write its id maps, join
 * its cgroups, then relay reports, signals and (with a pty) the terminal. */
#include "util/clock.h"
#include "util/common.h"
#include "util/trace.h"

#include "box/control.h"
#include "box/pty.h"
#include "box/init.h"
#include "box/supervisor.h"
#include "util/fdpass.h"
#include "util/fs.h"

#include <linux/magic.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#define BOX_CLONE_FLAGS \
	(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_PIDFD)

static volatile sig_atomic_t target_pidfd = -1;
static int sigpipe_w = -1;

static void on_signal(int sig)
{
	int saved = errno;
	if (target_pidfd >= 0 && sig != SIGWINCH && sig != SIGCONT)
		syscall(SYS_pidfd_send_signal, target_pidfd, sig, NULL, 0);
	if (sigpipe_w >= 0) {
		unsigned char b = (unsigned char)sig;
		(void)!write(sigpipe_w, &b, 1);
	}
	errno = saved;
}

/* Relayed to the box, except SIGWINCH and SIGCONT (ours: the terminal's
 * size, and 'fg' or 'bg' of clawbox as a job of the caller's shell). */
static const int relayed[] = {
	SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT
};

static int write_file(pid_t pid, const char *name, const char *data)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, data, strlen(data));
	return n < 0 ? -errno : 0;
}

/* Filesystems whose files are the kernel's interfaces, not data. */
static bool kernel_fs(long type)
{
	static const long types[] = {
		PROC_SUPER_MAGIC,
		SYSFS_MAGIC,
		CGROUP_SUPER_MAGIC,
		CGROUP2_SUPER_MAGIC,
		DEBUGFS_MAGIC,
		TRACEFS_MAGIC,
		SECURITYFS_MAGIC,
		BPF_FS_MAGIC,
		PSTOREFS_MAGIC,
		EFIVARFS_MAGIC,
		NSFS_MAGIC,
		ANON_INODE_FS_MAGIC,
		0x50494446 /* pidfs */,
		0x62656570 /* configfs */,
		0x42494e4d /* binfmt_misc */,
		SELINUX_MAGIC,
		SMACK_MAGIC,
	};
	for (size_t i = 0; i < ELEMENTSOF(types); i++)
		if (type == types[i])
			return true;
	return false;
}

static enum supervisor_stdio stdio_socket(int fd, const char **ret_why)
{
	int domain = 0, type = 0;
	socklen_t l = sizeof(domain);
	struct sockaddr_storage peer;
	socklen_t pl = sizeof(peer);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &l) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &(socklen_t){ sizeof(type) }) < 0) {
		*ret_why = "a socket of unknown kind";
		return SUPERVISOR_STDIO_REFUSE;
	}
	if (domain == AF_UNIX)
		return SUPERVISOR_STDIO_PASS;
	if ((domain == AF_INET || domain == AF_INET6) && type == SOCK_STREAM &&
	    getpeername(fd, (struct sockaddr *)&peer, &pl) == 0)
		return SUPERVISOR_STDIO_PASS;
	*ret_why = domain == AF_INET || domain == AF_INET6
		       ? "an unconnected or non-TCP internet socket (the host's network, past the "
			 "proxy)"
		       : "a socket of a family other than unix and inet";
	return SUPERVISOR_STDIO_REFUSE;
}

enum supervisor_stdio supervisor_stdio_check(int fd, const char **ret_why)
{
	struct stat st;
	struct statfs sf;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fstat(fd, &st) < 0) {
		*ret_why = "closed";
		return SUPERVISOR_STDIO_REFUSE;
	}
	if (fl & O_PATH) {
		*ret_why = "an O_PATH descriptor (a handle on the host's tree)";
		return SUPERVISOR_STDIO_REFUSE;
	}
	if (isatty(fd))
		return SUPERVISOR_STDIO_TTY;
	switch (st.st_mode & S_IFMT) {
	case S_IFIFO: return SUPERVISOR_STDIO_PASS;
	case S_IFSOCK: return stdio_socket(fd, ret_why);
	case S_IFDIR:
		*ret_why = "a directory (the box would walk the host's tree from it)";
		return SUPERVISOR_STDIO_REFUSE;
	case S_IFBLK: *ret_why = "a block device"; return SUPERVISOR_STDIO_REFUSE;
	case S_IFCHR:
		/* null, zero, full, random, urandom: the box has them anyway */
		if (major(st.st_rdev) == 1 &&
		    (minor(st.st_rdev) == 3 || minor(st.st_rdev) == 5 || minor(st.st_rdev) == 7 ||
		     minor(st.st_rdev) == 8 || minor(st.st_rdev) == 9))
			return SUPERVISOR_STDIO_PASS;
		*ret_why = "a character device other than /dev/null and its kind";
		return SUPERVISOR_STDIO_REFUSE;
	case S_IFREG:
		if (fstatfs(fd, &sf) == 0 && !kernel_fs((long)sf.f_type))
			return SUPERVISOR_STDIO_PASS;
		*ret_why = "a file of the kernel's own (proc, sysfs, a namespace or pidfd, ...)";
		return SUPERVISOR_STDIO_REFUSE;
	default:
		*ret_why = "a kernel object (epoll, eventfd, signalfd, timerfd, ...)";
		return SUPERVISOR_STDIO_REFUSE;
	}
}

/* As root the box is an identity-mapped user namespace (its capabilities are
 * the namespace's, not the host's); otherwise the caller's ids map to
 * themselves and nothing else exists. */
static int write_id_maps(pid_t pid, struct error *err)
{
	char uid[64], gid[64];
	int r;
	if (geteuid() == 0) {
		snprintf(uid, sizeof(uid), "0 0 4294967295\n");
		snprintf(gid, sizeof(gid), "0 0 4294967295\n");
	} else {
		snprintf(uid, sizeof(uid), "%u %u 1\n", (unsigned)geteuid(), (unsigned)geteuid());
		snprintf(gid, sizeof(gid), "%u %u 1\n", (unsigned)getegid(), (unsigned)getegid());
		if ((r = write_file(pid, "setgroups", "deny")) < 0)
			return error_errno(err, r, "deny setgroups in the box");
	}
	if ((r = write_file(pid, "uid_map", uid)) < 0)
		return error_errno(err, r, "write the box's uid map");
	if ((r = write_file(pid, "gid_map", gid)) < 0)
		return error_errno(err, r, "write the box's gid map");
	return 0;
}

/* Close the fds of v that are open (>= 0). */
static void close_all(const int *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] >= 0)
			close(v[i]);
}

struct run {
	const struct supervisor_spec *spec;
	const struct supervisor_hooks *hooks;
	struct supervisor_result *res;
	int report_fd;           /* read end */
	int diag;                /* the box's NETLINK_SOCK_DIAG socket until 'N', or -1 */
	int pty_sock;            /* our end of the fd channel */
	int pending;             /* messages still expected on it: pty, network */
	int master;              /* the box terminal's master, -1 until received */
	int sig_r;               /* self-pipe of relayed signals */
	bool exited;             /* REPORT_EXIT seen */
	struct control *control; /* an up box's, else NULL */
};

static void handle_report(struct run *run, const struct report *r)
{
	switch (r->kind) {
	case REPORT_WARN:
		if (run->hooks->warn)
			run->hooks->warn(&r->error, run->hooks->ctx);
		break;
	case REPORT_FAIL:
	case REPORT_EXEC_FAIL: run->res->failure = *r; break;
	case REPORT_EXIT: /* sent only for a command that was started */
		run->res->ran = true;
		run->exited = true;
		run->res->wstatus = r->value;
		break;
	}
}

/* One message of the init's fd channel: the box terminal ('T'), the
 * netlink diag socket ('D', optional, before 'N', which takes it along),
 * the network ('N'). The channel closes after the expected ones. */
static void channel_message(struct run *run, struct pty_relay *pr)
{
	int fds[6];
	char tag = 0;
	int k = fdpass_recv(run->pty_sock, &tag, fds, ELEMENTSOF(fds));
	if (k == 0) /* every message of the init's carries fds */
		k = -EBADMSG;
	if (k == 1 && tag == 'D' && run->diag < 0) {
		run->diag = fds[0];
		return;
	}
	if (k == 1 && tag == 'W' && run->control) {
		control_set_workspace(run->control, fds[0]);
	} else if (k == 1 && tag == 'T') {
		pty_relay_start(pr, fds[0], run->spec->pty_fds);
	} else if (k > 0 && tag == 'N' && run->hooks->net) {
		run->hooks->net(fds[0], run->diag, fds + 1, (size_t)k - 1, run->hooks->ctx);
		run->diag = -1;
	} else {
		for (int i = 0; i < k; i++)
			close(fds[i]);
	}
	if (k < 0 || --run->pending <= 0) {
		close(run->pty_sock);
		run->pty_sock = -1;
	}
}

/* Relay until the init has reported the command's end and closed its pipe. */
static void relay(struct run *run, const struct secrets *redact)
{
	struct pty_relay pr;
	bool report_open = true;

	pty_relay_init(&pr, redact);
	while (report_open || pty_relay_active(&pr)) {
		struct pollfd p[5 + SUPERVISOR_WATCH_MAX];
		nfds_t n = 0;
		int ir = -1, is = -1, ip = -1, iw, base;
		if (report_open)
			p[ir = (int)n++] =
			    (struct pollfd){ .fd = run->report_fd, .events = POLLIN };
		p[is = (int)n++] = (struct pollfd){ .fd = run->sig_r, .events = POLLIN };
		if (run->pty_sock >= 0)
			p[ip = (int)n++] = (struct pollfd){ .fd = run->pty_sock, .events = POLLIN };
		iw = (int)n;
		if (report_open && run->hooks->watch)
			n += run->hooks->watch(p + n, run->hooks->ctx);
		base = (int)n;
		n += pty_relay_pollfds(&pr, p + n);
		if (!report_open && n == (nfds_t)base)
			break;
		/* Once the command ended, drain the terminal without waiting
		 * forever; redacted output held back waits a moment only. */
		int held = pty_relay_timeout(&pr), wait = report_open ? -1 : 200;
		if (held >= 0 && (wait < 0 || held < wait))
			wait = held;
		int ready = poll(p, n, wait);
		if (ready == 0 && held >= 0) {
			pty_relay_tick(&pr);
			continue;
		}
		if (ready <= 0) {
			if (!report_open)
				break;
			continue;
		}
		if (ir >= 0 && p[ir].revents) {
			struct report r;
			int k = report_recv(run->report_fd, &r);
			if (k > 0)
				handle_report(run, &r);
			else if (k != -EINTR && k != -EBADMSG)
				report_open = false;
		}
		if (p[is].revents) {
			unsigned char sig[16];
			ssize_t k = read(run->sig_r, sig, sizeof(sig));
			for (ssize_t i = 0; i < k; i++)
				if (run->control &&
				    (sig[i] == SIGTERM || sig[i] == SIGINT || sig[i] == SIGHUP))
					control_down(run->control, SUPERVISOR_DOWN_GRACE_MS);
				else if (sig[i] == SIGWINCH)
					pty_relay_resize(&pr);
				else if (sig[i] == SIGCONT)
					pty_relay_resume(&pr);
		}
		if (ip >= 0 && p[ip].revents)
			channel_message(run, &pr);
		for (int i = iw; i < base; i++)
			if (p[i].revents) {
				run->hooks->watch_ready(run->hooks->ctx);
				break;
			}
		pty_relay_io(&pr, p + base, n - (nfds_t)base);
	}
	pty_relay_finish(&pr);
}

static int exit_code(const struct supervisor_result *res, bool exited, int init_status)
{
	if (res->failure.kind == REPORT_FAIL)
		return EXIT_SETUP;
	if (res->failure.kind == REPORT_EXEC_FAIL)
		return res->failure.error.code == -ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC;
	int st = exited ? res->wstatus : init_status;
	if (WIFEXITED(st))
		return exited ? WEXITSTATUS(st) : (WEXITSTATUS(st) ? WEXITSTATUS(st) : EXIT_SETUP);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return EXIT_SETUP;
}

static void install_handlers(bool on)
{
	struct sigaction sa = { .sa_handler = on ? on_signal : SIG_DFL, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ELEMENTSOF(relayed); i++)
		sigaction(relayed[i], &sa, NULL);
}

/* The network namespace comes later, from the init's builder (init.c),
 * except with --net filtered, where the supervisor wires the veth into it
 * before the init goes on. */
static pid_t clone_box(bool netns, int *ret_pidfd)
{
	struct clone_args args = {
		.flags = BOX_CLONE_FLAGS | (netns ? CLONE_NEWNET : 0),
		.pidfd = (uint64_t)(uintptr_t)ret_pidfd,
		.exit_signal = SIGCHLD,
	};
	return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

struct supervisor {
	const struct supervisor_spec *spec;
	const struct supervisor_hooks *hooks;
	pid_t pid;
	int pidfd, rep, go, ps, sig_r, sig_w; /* our ends; -1 when closed */
	int ctl;                              /* an up box's control channel, or -1 */
	int64_t t0;
};

static void supervisor_free(struct supervisor *sb)
{
	install_handlers(false);
	target_pidfd = -1;
	sigpipe_w = -1;
	int all[] = { sb->rep, sb->go, sb->ps, sb->sig_r, sb->sig_w, sb->pidfd, sb->ctl };
	close_all(all, ELEMENTSOF(all));
	free(sb);
}

void supervisor_abort(struct supervisor *sb)
{
	if (!sb)
		return;
	kill(sb->pid, SIGKILL);
	while (waitpid(sb->pid, NULL, 0) < 0 && errno == EINTR)
		;
	supervisor_free(sb);
}

/* The channels to the init, both ends each: its reports (rep), the go and
 * the blocks it waits for (go), the fds it hands over (ps), and our signal
 * self-pipe (sp). 0, or -errno with all of them closed. */
static int open_channels(int rep[2], int go[2], int ps[2], int sp[2])
{
	if (pipe2(rep, O_CLOEXEC) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, go) < 0 ||
	    pipe2(sp, O_CLOEXEC | O_NONBLOCK) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ps) < 0) {
		int r = -errno;
		int all[] = { rep[0], rep[1], go[0], go[1], ps[0], ps[1], sp[0], sp[1] };
		close_all(all, ELEMENTSOF(all));
		return r;
	}
	return 0;
}

/* The box is cloned: its id maps, its cgroups, then the go. 0, or -errno
 * with *err filled in. */
static int let_go(struct supervisor *sb, struct error *err)
{
	const struct supervisor_spec *s = sb->spec;
	const struct supervisor_hooks *h = sb->hooks;
	int r = write_id_maps(sb->pid, err);

	if (r == 0 && (s->cg.memory_dir[0] || s->cg.pids_dir[0]) &&
	    (r = cgroup_attach(&s->cg, sb->pid)) < 0)
		return error_errno(err, r, "join the box's cgroups");
	trace_point("go");
	if (r == 0 && h->started)
		h->started(sb->pid, h->ctx);
	if (r == 0 && send(sb->go, "g", 1, MSG_NOSIGNAL) != 1)
		return error_errno(err, -errno, "start the box");
	return r;
}

int supervisor_start(const struct supervisor_spec *s, const struct supervisor_hooks *h,
		     struct supervisor **ret, struct error *err)
{
	int rep[2] = { -1, -1 }, go[2] = { -1, -1 }, ps[2] = { -1, -1 }, sp[2] = { -1, -1 };
	int ctl[2] = { -1, -1 }, pidfd = -1, r;
	int64_t t0 = clock_ms();

	*ret = NULL;
	struct supervisor *sb = calloc(1, sizeof(*sb));
	if (!sb)
		return error_errno(err, -ENOMEM, "create the channels to the box");
	if ((r = open_channels(rep, go, ps, sp)) < 0) {
		free(sb);
		return error_errno(err, r, "create the channels to the box");
	}
	if (s->service && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0) {
		r = -errno;
		close_all((int[]){ rep[0], rep[1], go[0], go[1], ps[0], ps[1], sp[0], sp[1] }, 8);
		free(sb);
		return error_errno(err, r, "create the channels to the box");
	}
	sigpipe_w = sp[1];
	install_handlers(true);
	/* No cleanup runs in the child: init_main() never returns. */
	pid_t pid = clone_box(s->net.filtered, &pidfd);
	if (pid > 0)
		trace_point("cloned");
	if (pid == 0) {
		install_handlers(false);
		init_main(s, rep[1], go[0], ps[1], ctl[1]);
	}
	r = pid < 0 ? -errno : 0;
	close_all((int[]){ rep[1], go[0], ps[1], ctl[1] }, 4);
	*sb = (struct supervisor){ .spec = s,
				   .hooks = h,
				   .t0 = t0,
				   .pid = pid,
				   .pidfd = pidfd,
				   .rep = rep[0],
				   .go = go[1],
				   .ps = ps[0],
				   .sig_r = sp[0],
				   .sig_w = sp[1],
				   .ctl = ctl[0] };
	if (pid < 0) {
		supervisor_free(sb);
		return error_errno(err, r, "create the box's namespaces");
	}
	target_pidfd = pidfd;
	if ((r = let_go(sb, err)) < 0) {
		supervisor_abort(sb);
		return r;
	}
	*ret = sb;
	return 0;
}

/* Send all of iov[0..n) (which it consumes), in as few sendmsg() calls as
 * the socket takes: every one may wake the init. */
static int send_iov(int fd, struct iovec *iov, size_t n)
{
	while (n > 0) {
		struct msghdr m = { .msg_iov = iov, .msg_iovlen = n < IOV_MAX ? n : IOV_MAX };
		ssize_t k = sendmsg(fd, &m, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EPIPE;
		size_t done = (size_t)k;
		while (n > 0 && done >= iov->iov_len) {
			done -= iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + done;
			iov->iov_len -= done;
		}
	}
	return 0;
}

/* One block to the init: its length (uint32), then the n strings of v,
 * each NUL-terminated (src/box/init.c: receive_block). Sent from where the
 * strings are: the environment holds the secrets. */
static int send_block(int fd, char *const *v, size_t n)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += strlen(v[i]) + 1;
	if (total > SUPERVISOR_BLOCK_MAX)
		return -E2BIG;
	uint32_t len = (uint32_t)total;
	_cleanup_free_ struct iovec *iov = calloc(n + 1, sizeof(*iov));
	if (!iov)
		return -ENOMEM;
	iov[0] = (struct iovec){ .iov_base = &len, .iov_len = sizeof(len) };
	for (size_t i = 0; i < n; i++)
		iov[i + 1] = (struct iovec){ .iov_base = v[i], .iov_len = strlen(v[i]) + 1 };
	return send_iov(fd, iov, n + 1);
}

/* EPIPE: the init ended already (a setup failure it reports). */
static bool init_gone(int r)
{
	return r == -EPIPE || r == -ECONNRESET;
}

int supervisor_set_masks(struct supervisor *sb, char *const *masks, size_t n)
{
	int r = send_block(sb->go, masks, n);
	return init_gone(r) ? 0 : r;
}

/* An up box's second block: the sessions' environment. */
static int send_base_env(struct supervisor *sb)
{
	char *const *v = sb->spec->base_env;
	size_t n = 0;
	while (v && v[n])
		n++;
	return send_block(sb->go, v ? v : (char *const[]){ NULL }, n);
}

/* An up box's control socket, served from now on. */
static int start_control(struct supervisor *sb, struct control **ret, struct error *err)
{
	const struct supervisor_spec *s = sb->spec;
	struct control_spec cs = { .dirfd = s->control_dir,
				   .init_sock = sb->ctl,
				   .audit = s->control_audit,
				   .ready = sb->hooks->ready,
				   .ctx = sb->hooks->ctx };
	int r = control_start(&cs, ret, err);
	if (r == 0)
		sb->ctl = -1; /* the control's */
	return r;
}

int supervisor_finish(struct supervisor *sb, char *const *envp, const struct secrets *redact,
		      struct supervisor_result *ret, struct error *err)
{
	const struct supervisor_hooks *h = sb->hooks;
	memset(ret, 0, sizeof(*ret));
	size_t n = 0;
	while (envp[n])
		n++;
	int r = send_block(sb->go, envp, n);
	if (r >= 0 && sb->spec->service)
		r = send_base_env(sb);
	if (r < 0 && !init_gone(r)) {
		supervisor_abort(sb);
		return error_errno(err, r, "pass the environment to the box");
	}
	close(sb->go);
	sb->go = -1;
	struct control *control = NULL;
	if (sb->spec->service && (r = start_control(sb, &control, err)) < 0) {
		supervisor_abort(sb);
		return r;
	}

	struct run run = { .spec = sb->spec,
			   .hooks = h,
			   .res = ret,
			   .report_fd = sb->rep,
			   .pty_sock = sb->ps,
			   .pending = (int)sb->spec->pty + (int)sb->spec->service + 1,
			   .control = control,
			   .master = -1,
			   .diag = -1,
			   .sig_r = sb->sig_r };
	sb->ps = -1;
	relay(&run, redact);
	control_stop(control);
	if (run.pty_sock >= 0)
		close(run.pty_sock);
	if (run.diag >= 0)
		close(run.diag);
	trace_point("ended");
	/* The command's end is known: let the caller do its bookkeeping while
	 * the kernel tears the box's namespaces and mounts down. */
	if (run.exited) {
		ret->exit_code = exit_code(ret, true, 0);
		ret->duration_ms = clock_ms() - sb->t0;
		if (h->ended)
			h->ended(ret, h->ctx);
	}
	/* The init reports the end once nothing of the box runs; what is left
	 * is the kernel's teardown, and the box's lock is the init's until that
	 * is done. */
	if (run.exited && !sb->spec->wait_teardown) {
		supervisor_free(sb);
		return 0;
	}
	siginfo_t si = { 0 };
	while (waitid(P_PIDFD, (id_t)sb->pidfd, &si, WEXITED) < 0 && errno == EINTR)
		;
	trace_point("waited");
	if (!run.exited) {
		/* Rebuild a wait status from the siginfo. */
		int init_status =
		    si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8 : (si.si_status & 0x7f);
		ret->exit_code = exit_code(ret, false, init_status);
		ret->duration_ms = clock_ms() - sb->t0;
		if (h->ended)
			h->ended(ret, h->ctx);
	}
	supervisor_free(sb);
	return 0;
}
