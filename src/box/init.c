/* The box init: pid 1 of the box's pid namespace. Builds the view, confines
 * itself (and so everything after it), forks the command, forwards signals to
 * it, reaps every orphan, and reports the command's end to the supervisor.
 * It never prints: everything goes through report_send(). */
#include "util/common.h"
#include "util/error.h"
#include "util/fdpass.h"
#include "util/trace.h"

#include "box/landlock.h"
#include "net/proxy.h"
#include "box/init.h"
#include "box/init_int.h"
#include "box/supervisor.h"
#include "box/sysfilter.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <poll.h>
#include <malloc.h>
#include <pthread.h>
#include <linux/netlink.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>

static volatile pid_t command_pid;

/* Report e as the box's setup failure and end (the supervisor exits 125). */
_noreturn_ static void die(const struct error *e)
{
	report_send(FD_REPORT, REPORT_FAIL, 0, e);
	_exit(EXIT_SETUP);
}

/* die() with the step fmt that failed with code (-errno). */
_noreturn_ _printf_(2, 3) static void die_errno(int code, const char *fmt, ...)
{
	char step[ERROR_MESSAGE_MAX];
	struct error e;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(step, sizeof(step), fmt, ap);
	va_end(ap);
	error_errno(&e, code, "%s", step);
	die(&e);
}

void init_warn(int code, const char *step, const char *detail)
{
	struct error e;
	size_t n;

	error_errno(&e, code, "%s", step);
	n = strlen(e.message);
	if (detail)
		snprintf(e.message + n, sizeof(e.message) - n, "; %s", detail);
	report_send(FD_REPORT, REPORT_WARN, 0, &e);
}

/* Keep exactly stdin/out/err and our channels, at known numbers (FD_*;
 * ctl_fd is -1 but for a service). The caller's terminal (tty_fds: the
 * standard fds that are one) is never held in the box: /dev/null in its
 * place (the command gets the box's own terminal there). */
static void settle_fds(int report_fd, int go_fd, int pty_fd, int ctl_fd, unsigned tty_fds)
{
	for (int fd = 0; fd < 3; fd++) {
		if (!(tty_fds & (1u << fd)))
			continue;
		int n = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (n < 0 || dup2(n, fd) < 0)
			_exit(EXIT_SETUP);
		close(n);
	}
	int tmp[4] = { report_fd, go_fd, pty_fd, ctl_fd };
	for (int i = 0; i < 4; i++)
		if (tmp[i] >= 0 && (tmp[i] = fcntl(tmp[i], F_DUPFD_CLOEXEC, 10)) < 0)
			_exit(EXIT_SETUP);
	for (int i = 0; i < 4; i++) {
		if (tmp[i] < 0)
			continue;
		if (dup3(tmp[i], FD_REPORT + i, O_CLOEXEC) < 0)
			_exit(EXIT_SETUP);
	}
#ifdef CLAWBOX_TRACE_STARTUP
	close_range(FD_CTL + 1, TRACE_FD - 1, 0);
	close_range(TRACE_FD + 1, ~0U, 0);
#else
	close_range(FD_CTL + 1, ~0U, 0);
#endif
	if (pty_fd < 0)
		close(FD_PTY);
	if (ctl_fd < 0)
		close(FD_CTL);
}

int init_loopback_up(struct error *err)
{
	_cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = { 0 };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return error_errno(err, -errno, "configure the loopback interface 'lo'");
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		return error_errno(err, -errno, "bring the loopback interface 'lo' up");
	return 0;
}

/* Pass fds to the supervisor as one message tagged with tag. */
static int send_fds(char tag, const int *fds, size_t n)
{
	return fdpass_send(FD_PTY, tag, fds, n);
}

static int listen_on(int type, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		die_errno(-errno, "create a proxy listener");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 128) < 0))
		die_errno(-errno, "bind a proxy listener in the box '127.0.0.1'");
	return fd;
}

/* The proxy's listeners on the box's loopback, served by the supervisor
 * from the host's network namespace (src/net/proxy.c). The box's processes
 * never hold them. */
static void open_proxy_listeners(int fds[PROXY_NFDS])
{
	fds[PROXY_FD_HTTP] = listen_on(SOCK_STREAM, PROXY_HTTP_PORT);
	fds[PROXY_FD_SOCKS] = listen_on(SOCK_STREAM, PROXY_SOCKS_PORT);
	fds[PROXY_FD_DNS] = listen_on(SOCK_DGRAM, PROXY_DNS_PORT);
}

/* Three things of a start cost the most kernel time and need nothing of
 * the view: the workspace's overlay, the box's network namespace, and
 * detaching the host's old root after pivot_root (an RCU grace period). A
 * builder thread does them, in that order, while the init builds the view.
 * A thread, not a process: a process of its own would cost a copy of the
 * init's page tables, a copy-on-write fault for each page either of them
 * writes next, and the teardown of that copy, which on a machine with slow
 * page faults cost more than the builder saved. It shares the init's fd
 * table until it has detached the old root, so what it opens stays open for
 * the init, and it hands over a message for each through a pipe; the init
 * tells it through another when the old root may go. It runs nothing but
 * this code, with every signal blocked (the init's handlers are the init's),
 * and a failure of it ends the init (die() ends every thread). With --net filtered the namespace comes with the init
 * instead (clone3), so that the supervisor can put the veth's box side
 * into it before the init starts. */
struct built_net {
	int net;                   /* the new network namespace */
	int listeners[PROXY_NFDS]; /* with net_proxy, in that namespace */
	int diag;                  /* with net_proxy, NETLINK_SOCK_DIAG there, or -1 */
};

/* With the proxy: a NETLINK_SOCK_DIAG socket in our network namespace, for
 * the supervisor to find the box's processes behind proxy connections
 * (src/net/sockowner.h); -1 when the kernel has none (no pids then). */
static int open_diag(const struct supervisor_spec *s)
{
	return s->net_proxy ? socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG) : -1;
}

#define BUILDER_STACK (256u << 10)

struct builder {
	const struct supervisor_spec *spec;
	pthread_t thread;
	int out[2]; /* builder to init; all ends stay open here: one fd table */
	int in[2];  /* init to builder: the old root may go */
	struct rootfs_layers layers;
	bool net;    /* the builder makes the network namespace */
	int got;     /* messages received: overlay, net, detached */
	int overlay; /* the detached overlay, or -1 */
	struct built_net nb;
	int detached; /* 0, or -errno of detaching the old root */
};

static void builder_send(struct builder *bd, const void *msg, size_t n)
{
	if (write(bd->out[1], msg, n) != (ssize_t)n)
		die_errno(-errno, "hand over the box's network namespace and overlay");
}

/* Set up the network namespace we are in: loopback, eth0 (filtered), the
 * ruleset; *ret_nflog gets the NFLOG socket (filtered) or -1. */
static void net_setup(const struct supervisor_spec *s, int *ret_nflog)
{
	struct error e = { 0 };
	if (init_loopback_up(&e) < 0 || netbox_setup(&s->net, ret_nflog, &e) < 0)
		die(&e);
}

/* What the supervisor gets of the network namespace we are in. */
static struct built_net net_parts(const struct supervisor_spec *s)
{
	struct built_net b = { .diag = -1 };
	if ((b.net = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
		die_errno(-errno, "open the box's network namespace");
	if (s->net_proxy)
		open_proxy_listeners(b.listeners);
	b.diag = open_diag(s);
	return b;
}

static void builder_net(const struct supervisor_spec *s, struct builder *bd)
{
	int nflog;
	if (unshare(CLONE_NEWNET) < 0)
		die_errno(-errno, "create the box's network namespace");
	net_setup(s, &nflog);
	struct built_net b = net_parts(s);
	builder_send(bd, &b, sizeof(b));
}

/* Keep fds a and b only, in a table of our own from now on. */
static int keep_only(int a, int b)
{
	unsigned lo = (unsigned)(a < b ? a : b), hi = (unsigned)(a < b ? b : a);
	if (unshare(CLONE_FILES) < 0)
		return -errno;
	if (lo > 0)
		close_range(0, lo - 1, 0);
	if (hi > lo + 1)
		close_range(lo + 1, hi - 1, 0);
	close_range(hi + 1, ~0U, 0);
	return 0;
}

/* The builder thread. Its end is the init's (PR_SET_PDEATHSIG included). */
static void *builder_main(void *arg)
{
	struct builder *bd = arg;
	const struct supervisor_spec *s = bd->spec;
	struct error err;
	int overlay = -1;
	char go;

	/* We hold host fds: not for the box's processes (no /proc/1/fd). The
	 * memory is the init's: this makes the init non-dumpable from here on,
	 * as confine() would. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	trace_point("b.start");
	if (!s->fs.unsafe && (overlay = rootfs_overlay_mount(&s->fs, &bd->layers, &err)) < 0)
		die(&err);
	builder_send(bd, &overlay, sizeof(overlay));
	trace_point("b.overlay");
	/* The fd table is one: this closes the init's too. The box dir stays
	 * open for the trash (below); the init closes it in its table. */
	if (bd->layers.lower >= 0)
		close(bd->layers.lower);
	if (bd->net)
		builder_net(s, bd);
	trace_point("b.net");
	/* Our root is the box's now too: pivot_root moved every process of
	 * the namespace that had the old one. */
	if (read(bd->in[0], &go, 1) != 1)
		_exit(EXIT_SETUP);
	trace_point("b.go");
	int r = rootfs_detach_old_root();
	trace_point("b.detached");
	int box = bd->layers.box;
	if (box >= 0 && keep_only(box, bd->out[1]) < 0)
		box = -1;
	builder_send(bd, &r, sizeof(r));
	/* After the init's last wait for us, beside the command: a best effort
	 * (what is left goes next time) whose errors are not the box's. */
	if (box >= 0)
		(void)rootfs_trash_empty(box);
	return NULL;
}

static void builder_start(const struct supervisor_spec *s, struct builder *bd)
{
	struct error err;

	*bd = (struct builder){ .spec = s, .out = { -1, -1 }, .in = { -1, -1 }, .overlay = -1 };
	bd->layers = (struct rootfs_layers){ .lower = -1, .box = -1 };
	bd->net = !s->net.filtered;
	if (!s->fs.unsafe && rootfs_layers_open(&s->fs, &bd->layers, &err) < 0)
		die(&err);
	if (pipe2(bd->out, O_CLOEXEC | O_NONBLOCK) < 0 || pipe2(bd->in, O_CLOEXEC) < 0)
		die_errno(-errno, "create a pipe");
	/* The thread's stack and heap are the init's address space, which a
	 * command's RLIMIT_AS (--memory without root) bounds too: a small
	 * stack, and no malloc arena of its own (64 MiB reserved each). */
	pthread_attr_t attr;
	mallopt(M_ARENA_MAX, 1);
	if (pthread_attr_init(&attr) != 0 || pthread_attr_setstacksize(&attr, BUILDER_STACK) != 0)
		die_errno(-ENOMEM, "start the builder");
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int e = pthread_create(&bd->thread, &attr, builder_main, bd);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (e != 0)
		die_errno(-e, "start the builder");
}

/* The builder's next message, of n bytes (a failure of the builder ends
 * us before we would miss one). */
static void builder_receive(struct builder *bd, void *msg, size_t n)
{
	struct pollfd p = { .fd = bd->out[0], .events = POLLIN };
	while (poll(&p, 1, -1) < 0 && errno == EINTR)
		;
	if (read(bd->out[0], msg, n) != (ssize_t)n)
		_exit(EXIT_SETUP);
}

/* Receive the builder's messages, in their order, up to the k-th. */
static void builder_until(struct builder *bd, int k)
{
	if (bd->got < 1 && k >= 1) {
		builder_receive(bd, &bd->overlay, sizeof(bd->overlay));
		bd->got = 1;
	}
	if (bd->got < 2 && k >= 2) {
		if (bd->net)
			builder_receive(bd, &bd->nb, sizeof(bd->nb));
		bd->got = 2;
	}
	if (bd->got < 3 && k >= 3) {
		builder_receive(bd, &bd->detached, sizeof(bd->detached));
		bd->got = 3;
	}
}

static int builder_overlay(void *ctx, struct error *err)
{
	struct builder *bd = ctx;
	(void)err;
	builder_until(bd, 1);
	return bd->overlay;
}

static int builder_old_root(void *ctx, bool start)
{
	struct builder *bd = ctx;
	if (start)
		return write(bd->in[1], "d", 1) == 1 ? 0 : -errno;
	builder_until(bd, 3);
	return bd->detached;
}

/* Be in the box's network namespace, and pass it to the supervisor (for
 * --publish) with the proxy's listeners and (filtered) the NFLOG socket. */
static void builder_finish(const struct supervisor_spec *s, struct builder *bd, int nflog)
{
	int fds[2 + PROXY_NFDS];
	size_t n = 1;

	builder_until(bd, 3);
	/* Filtered: the namespace is ours since the clone. */
	struct built_net b = bd->net ? bd->nb : net_parts(s);
	if (bd->net && setns(b.net, CLONE_NEWNET) < 0)
		die_errno(-errno, "enter the box's network namespace");
	/* The builder closed the project's fd (in our table: it was one) and
	 * has a table of its own now: the box dir's is ours to close. */
	int all[] = { bd->out[0], bd->out[1], bd->in[0], bd->in[1], bd->layers.box };
	for (size_t i = 0; i < ELEMENTSOF(all); i++)
		close(all[i]);
	if (b.diag >= 0) {
		int r = send_fds('D', &b.diag, 1);
		if (r < 0)
			die_errno(r, "pass the socket diagnostics socket to clawbox");
		close(b.diag);
	}
	fds[0] = b.net;
	if (s->net_proxy)
		for (int i = 0; i < PROXY_NFDS; i++)
			fds[n++] = b.listeners[i];
	if (nflog >= 0)
		fds[n++] = nflog;
	int r = send_fds('N', fds, n);
	if (r < 0)
		die_errno(r, "pass the network namespace to clawbox");
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

int init_open_pty(int *ret_master, struct error *err)
{
	_cleanup_close_ int master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	int unlock = 0, n = -1;
	if (master < 0)
		return error_errno(err, -errno, "open a terminal '/dev/pts/ptmx'");
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCGPTN, &n) < 0)
		return error_errno(err, -errno, "unlock the terminal '/dev/pts/ptmx'");
	*ret_master = TAKE_FD(master);
	return n;
}

/* Open a terminal in the box's own devpts and hand the master to the
 * supervisor. Returns the pts number for the command's side. */
static int open_pty(void)
{
	struct error err;
	int master = -1, r;
	int n = init_open_pty(&master, &err);
	if (n < 0)
		die(&err);
	if ((r = send_fds('T', &master, 1)) < 0)
		die_errno(r, "pass the terminal to clawbox");
	close(master);
	return n;
}

int init_confine(const struct supervisor_spec *s, struct error *err)
{
	const char *dirs[6 + ROOTFS_MOUNTS_MAX] = { ROOTFS_WORKSPACE, s->fs.project, "/tmp",
						    "/dev/shm",       "/dev/pts",    ROOTFS_HOME };
	size_t ndirs = 6;
	/* The overlay mounts are writable too (the read-only ones are not). */
	for (size_t i = 0; i < s->fs.nmounts && i < ROOTFS_MOUNTS_MAX; i++)
		if (s->fs.mounts[i].overlay)
			dirs[ndirs++] = s->fs.mounts[i].dst;
	/* /proc: files only (its knobs that reach the host are read-only mounts,
	 * rootfs.c), so a process may raise its own oom_score_adj or name itself
	 * in comm as it can anywhere; /proc/PID/mem of another box process opens
	 * only where ptrace would be allowed (the init and leaders are
	 * non-dumpable): the box's processes are one trust domain. */
	static const char *const files[] = { "/dev/null",   "/dev/zero",    "/dev/full",
					     "/dev/random", "/dev/urandom", "/dev/tty",
					     "/proc" };
	int r;

	bool no_landlock = false;
	if ((r = confine_rlimits(&s->limits, err)) < 0)
		return r;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return error_errno(err, -errno, "set no_new_privs");
	/* Our fds and memory are not for the box's processes: no /proc/1/fd. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return error_errno(err, -errno, "make the box init non-dumpable");
	r = landlock_restrict_writes(dirs, ndirs, files, ELEMENTSOF(files), err);
	if (r == -EOPNOTSUPP)
		no_landlock = true;
	else if (r < 0)
		return r;
	if ((r = confine_drop_caps(err)) < 0 || (r = sysfilter_load(err)) < 0)
		return r;
	return no_landlock ? 1 : 0;
}

/* Confine the init itself, or die. */
static void confine(const struct supervisor_spec *s)
{
	struct error err;
	int r = init_confine(s, &err);
	if (r < 0)
		die(&err);
	if (r > 0)
		init_warn(-EOPNOTSUPP, "apply the Landlock write rules",
			  "the kernel has no Landlock; the read-only mounts still apply");
}

static void forward(int sig)
{
	pid_t p = command_pid;
	if (p > 0)
		kill(-p, sig);
}

static const int forwarded[] = { INIT_FORWARDED };

/* Kill and reap whatever is left in the box (we are its pid 1: kill(-1)
 * reaches every other process of our pid namespace, and orphans are ours
 * to reap), so that nothing of the box runs once the end is reported. */
void init_empty_box(void)
{
	kill(-1, SIGKILL);
	for (;;) {
		pid_t p = waitpid(-1, NULL, 0);
		if (p < 0 && errno != EINTR)
			return;
	}
}

_noreturn_ static void reap_until_done(pid_t cmd)
{
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, 0);
		if (p < 0 && errno == EINTR)
			continue;
		if (p < 0 || p == cmd) {
			trace_point("init.reaped");
			init_empty_box();
			if (p < 0)
				report_send(FD_REPORT, REPORT_EXIT, 0,
					    &(struct error){ .code = -ECHILD });
			else
				report_send(FD_REPORT, REPORT_EXIT, st, NULL);
			/* The supervisor goes on (and may be gone) while the
			 * kernel tears us down (src/state/box.c: box_lock waits). */
			close(FD_REPORT);
			_exit(0);
		}
	}
}

static void start_command(const struct supervisor_spec *s, char *const *envp, int pts,
			  const int keep[2])
{
	struct sigaction sa = { .sa_handler = forward, .sa_flags = SA_RESTART };
	sigset_t all, old;
	pid_t pid;

	sigfillset(&sa.sa_mask);
	for (size_t i = 0; i < ELEMENTSOF(forwarded); i++)
		sigaction(forwarded[i], &sa, NULL);
	/* Signals wait until command_pid says where to forward them. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	struct init_stdio io = { .pts = pts, .pty_fds = s->pty_fds };
	int e = init_spawn(s->argv, envp, &io, &pid);
	if (e != 0) {
		struct error err;
		/* where: the command; the message: strerror(e) */
		error_set(&err, -e, s->argv[0], 0, "%s", "");
		report_send(FD_REPORT, REPORT_EXEC_FAIL, 0, &err);
		close(FD_REPORT);
		_exit(0);
	}
	command_pid = pid;
	sigprocmask(SIG_SETMASK, &old, NULL);
	/* The command runs (it never had them: close-on-exec). No report
	 * now: waking the supervisor would only take the CPU from it. */
	close(keep[0]);
	close(keep[1]);
	reap_until_done(pid);
}

/* Read exactly n bytes from the supervisor; EOF means it gave up: leave
 * quietly. */
static void receive_exact(void *p, size_t n, const char *what)
{
	char *c = p;
	while (n > 0) {
		ssize_t k = read(FD_GO, c, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			die_errno(-errno, "receive %s", what);
		if (k == 0)
			_exit(EXIT_SETUP);
		c += k;
		n -= (size_t)k;
	}
}

/* One block of strings from the supervisor (supervisor_set_masks,
 * supervisor_finish): a uint32 length, then NUL-terminated strings. Returns
 * them as a NULL-terminated array, their count in *ret_n. */
static char **receive_block(const char *what, size_t *ret_n)
{
	uint32_t len;
	receive_exact(&len, sizeof(len), what);
	if (len > SUPERVISOR_BLOCK_MAX)
		die_errno(-E2BIG, "receive %s", what);
	char *buf = malloc(len + 1);
	if (!buf)
		die_errno(-ENOMEM, "receive %s", what);
	receive_exact(buf, len, what);
	if (len > 0 && buf[len - 1] != '\0')
		die_errno(-EBADMSG, "receive %s", what);
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += buf[i] == '\0';
	char **v = calloc(n + 1, sizeof(*v));
	if (!v)
		die_errno(-ENOMEM, "receive %s", what);
	for (size_t i = 0, k = 0; k < n; k++) {
		v[k] = buf + i;
		i += strlen(buf + i) + 1;
	}
	*ret_n = n;
	return v;
}

/* An up box: an O_PATH fd of the workspace as the box sees it, for the
 * supervisor's file calls (src/ctl/ctl.h: ctl_workspace). */
static void send_workspace(const struct supervisor_spec *s)
{
	int fd =
	    open(s->fs.unsafe ? s->fs.project : ROOTFS_WORKSPACE, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int r = fd < 0 ? -errno : send_fds('W', &fd, 1);
	if (r < 0)
		die_errno(r, "pass the workspace to clawbox");
	close(fd);
}

void init_main(const struct supervisor_spec *s, int report_fd, int go_fd, int pty_fd, int ctl_fd)
{
	struct error err;
	struct supervisor_spec spec = *s;
	struct builder bd;
	int nflog = -1;

	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	settle_fds(report_fd, go_fd, pty_fd, ctl_fd, s->pty ? s->pty_fds : 0);
	/* The supervisor writes our id maps and joins us to our cgroups first;
	 * EOF means it died before that. */
	char go;
	if (recv(FD_GO, &go, 1, 0) != 1)
		_exit(EXIT_SETUP);
	trace_point("init.go");
	if (unshare(CLONE_NEWCGROUP) < 0)
		init_warn(-errno, "create a cgroup namespace", NULL);
	if (sethostname("clawbox", 7) < 0)
		die_errno(-errno, "set the hostname");
	/* --net filtered: the supervisor made our eth0 before it said go. */
	if (s->net.filtered)
		net_setup(s, &nflog);
	builder_start(s, &bd);
	spec.fs.masks = receive_block("the box's masks", &spec.fs.nmasks);
	spec.fs.overlay = builder_overlay;
	spec.fs.old_root = builder_old_root;
	spec.fs.hook_ctx = &bd;
	int keep[2];
	if (rootfs_build(&spec.fs, keep, &err) < 0)
		die(&err);
	builder_finish(s, &bd, nflog);
	int pts = s->pty ? open_pty() : -1;
	if (s->service)
		send_workspace(s);
	close(FD_PTY);
	trace_point("init.view");
	if (chdir(s->cwd) < 0 && chdir(s->fs.project) < 0)
		die_errno(-errno, "enter the working directory '%s'", s->cwd);
	size_t nenv;
	char **envp = receive_block("the command's environment", &nenv);
	char **base = s->service ? receive_block("the box's environment", &nenv) : NULL;
	close(FD_GO);
	/* A supervisor killed before our PR_SET_PDEATHSIG above took effect
	 * sent no signal, and may have sent everything we needed: its end of
	 * the report pipe is closed by now (a dying process closes its files
	 * before its children are told), so the box must not start. */
	struct pollfd orphan = { .fd = FD_REPORT };
	if (poll(&orphan, 1, 0) < 0 || (orphan.revents & POLLERR))
		_exit(EXIT_SETUP);
	/* A service clones its sessions' leaders with clone3, which, unlike
	 * fork(), does not make libc's locks safe for the child: no other
	 * thread may be running then (the builder empties the trash last). */
	if (s->service) {
		pthread_join(bd.thread, NULL);
		initsvc_main(s, envp, base);
	}
	confine(s);
	trace_point("init.confined");
	start_command(s, envp, pts, keep);
	_exit(EXIT_SETUP);
}
