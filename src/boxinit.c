/* The box init: pid 1 of the box's pid namespace. Builds the view, confines
 * itself (and so everything after it), forks the command, forwards signals to
 * it, reaps every orphan, and reports the command's end to the supervisor.
 * It never prints: everything goes through report_send(). */
#include "util/common.h"

#include "landlock.h"
#include "proxy.h"
#include "sandbox.h"
#include "sysfilter.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>

enum { FD_REPORT = 3, FD_GO = 4, FD_PTY = 5 };

static volatile pid_t command_pid;

_noreturn_ static void die(int err, const char *what, const char *path, const char *detail)
{
	report_send(FD_REPORT, REPORT_FAIL, err, 0, what, path, detail);
	_exit(EXIT_SETUP);
}

static void warn(int err, const char *what, const char *detail)
{
	report_send(FD_REPORT, REPORT_WARN, err, 0, what, "", detail);
}

/* Keep exactly stdin/out/err and our three channels, at known numbers. */
static void settle_fds(int report_fd, int go_fd, int pty_fd)
{
	int tmp[3] = { report_fd, go_fd, pty_fd };
	for (int i = 0; i < 3; i++)
		if (tmp[i] >= 0 && (tmp[i] = fcntl(tmp[i], F_DUPFD_CLOEXEC, 10)) < 0)
			_exit(EXIT_SETUP);
	for (int i = 0; i < 3; i++) {
		if (tmp[i] < 0)
			continue;
		if (dup3(tmp[i], FD_REPORT + i, O_CLOEXEC) < 0)
			_exit(EXIT_SETUP);
	}
	close_range(FD_PTY + 1, ~0U, 0);
	if (pty_fd < 0)
		close(FD_PTY);
}

static void loopback_up(void)
{
	_cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = { 0 };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		die(errno, "configure the loopback interface", "lo", NULL);
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		die(errno, "bring the loopback interface up", "lo", NULL);
}

/* Pass fds to the supervisor as one message tagged with tag. */
static int send_fds(char tag, const int *fds, size_t n)
{
	char cbuf[CMSG_SPACE(sizeof(int) * (PROXY_NFDS + 1))] = { 0 };
	struct iovec iov = { .iov_base = &tag, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = cbuf,
			      .msg_controllen = CMSG_SPACE(sizeof(int) * n) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	return sendmsg(FD_PTY, &msg, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

static int listen_on(int type, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		die(errno, "create a proxy listener", NULL, NULL);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 128) < 0))
		die(errno, "bind a proxy listener in the box", "127.0.0.1", NULL);
	return fd;
}

/* The proxy's listeners on the box's loopback, served by the supervisor
 * from the host's network namespace (src/proxy.c), and the NFLOG socket
 * (nflog >= 0) of --net filtered. The box's processes never hold them. */
static void open_proxy_listeners(int nflog)
{
	int fds[PROXY_NFDS + 1];
	size_t n = PROXY_NFDS;
	fds[PROXY_FD_HTTP] = listen_on(SOCK_STREAM, PROXY_HTTP_PORT);
	fds[PROXY_FD_SOCKS] = listen_on(SOCK_STREAM, PROXY_SOCKS_PORT);
	fds[PROXY_FD_DNS] = listen_on(SOCK_DGRAM, PROXY_DNS_PORT);
	if (nflog >= 0)
		fds[n++] = nflog;
	int r = send_fds('N', fds, n);
	if (r < 0)
		die(-r, "pass the proxy listeners to clawbox", NULL, NULL);
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

/* Open a terminal in the box's own devpts and hand the master to the
 * supervisor. Returns the pts number for the command's side. */
static int open_pty(void)
{
	int master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	int unlock = 0, n = -1, r;
	if (master < 0)
		die(errno, "open a terminal", "/dev/pts/ptmx", NULL);
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCGPTN, &n) < 0)
		die(errno, "unlock the terminal", "/dev/pts/ptmx", NULL);
	if ((r = send_fds('T', &master, 1)) < 0)
		die(-r, "pass the terminal to clawbox", NULL, NULL);
	close(master);
	return n;
}

static void confine(const struct sandbox_spec *s)
{
	const char *what = NULL;
	const char *dirs[] = { ROOTFS_WORKSPACE, s->fs.project, "/tmp",
			       "/dev/shm",       "/dev/pts",    ROOTFS_HOME };
	static const char *const files[] = { "/dev/null",   "/dev/zero",    "/dev/full",
					     "/dev/random", "/dev/urandom", "/dev/tty" };
	int r;

	if ((r = confine_rlimits(&s->limits, &what)) < 0)
		die(-r, "set the resource limit", what, NULL);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die(errno, "set no_new_privs", NULL, NULL);
	/* Our fds and memory are not for the box's processes: no /proc/1/fd. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		die(errno, "make the box init non-dumpable", NULL, NULL);
	r = landlock_restrict_writes(dirs, ELEMENTSOF(dirs), files, ELEMENTSOF(files), &what);
	if (r == -EOPNOTSUPP)
		warn(EOPNOTSUPP, "apply the Landlock write rules",
		     "the kernel has no Landlock; the read-only mounts still apply");
	else if (r < 0)
		die(-r, "apply the Landlock write rules", what, NULL);
	if ((r = confine_drop_caps(&what)) < 0)
		die(-r, "drop", what, NULL);
	if ((r = sysfilter_load(&what)) < 0)
		die(-r, "load the seccomp filter at", what, NULL);
}

static void forward(int sig)
{
	pid_t p = command_pid;
	if (p > 0)
		kill(-p, sig);
}

static const int forwarded[] = { SIGHUP,  SIGINT,   SIGQUIT, SIGTERM, SIGUSR1,
				 SIGUSR2, SIGWINCH, SIGCONT, SIGTSTP };

static void search_exec(char *const *argv, char *const *envp)
{
	const char *cmd = argv[0];
	if (strchr(cmd, '/')) {
		execve(cmd, argv, envp);
		return;
	}
	const char *path = "/usr/local/bin:/usr/bin:/bin";
	for (char *const *e = envp; *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			path = *e + 5;
	int saved = ENOENT;
	for (const char *p = path;; p++) {
		const char *end = strchrnul(p, ':');
		char full[PATH_MAX];
		int len = (int)(end - p);
		int w = snprintf(full, sizeof(full), "%.*s/%s", len ? len : 1, len ? p : ".", cmd);
		/* A failed execve costs a new mm; a lookup is cheap. Only existing
		 * files are tried, so PATH entries hidden in the box cost nothing. */
		if (w > 0 && (size_t)w < sizeof(full) && access(full, F_OK) == 0) {
			execve(full, argv, envp);
			if (errno == EACCES || errno == ENOEXEC || errno == EPERM)
				saved = errno;
		}
		if (*end == '\0')
			break;
		p = end;
	}
	errno = saved;
}

/* The command's side of the fork: a session of its own (no way back to the
 * host terminal), the box terminal when asked, then exec. */
_noreturn_ static void exec_command(const struct sandbox_spec *s, int pts, int errfd)
{
	sigset_t none;
	sigemptyset(&none);
	for (size_t i = 0; i < ELEMENTSOF(forwarded); i++)
		signal(forwarded[i], SIG_DFL);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (setsid() < 0)
		goto fail;
	if (pts >= 0) {
		char path[64];
		snprintf(path, sizeof(path), "/dev/pts/%d", pts);
		int fd = open(path, O_RDWR);
		if (fd < 0 || ioctl(fd, TIOCSCTTY, 0) < 0)
			goto fail;
		for (int i = 0; i < 3; i++)
			if (dup2(fd, i) < 0)
				goto fail;
		if (fd > 2)
			close(fd);
	}
	close(FD_REPORT);
	search_exec(s->argv, s->envp);
fail:;
	int e = errno;
	(void)!write(errfd, &e, sizeof(e));
	_exit(e == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC);
}

_noreturn_ static void reap_until_done(pid_t cmd)
{
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, 0);
		if (p < 0) {
			if (errno == EINTR)
				continue;
			report_send(FD_REPORT, REPORT_EXIT, ECHILD, 0, "", "", "");
			_exit(0);
		}
		if (p == cmd) {
			report_send(FD_REPORT, REPORT_EXIT, 0, st, "", "", "");
			/* Leaving kills whatever the command left behind. */
			_exit(0);
		}
	}
}

static void start_command(const struct sandbox_spec *s, int pts)
{
	int ep[2];
	sigset_t all, old;
	struct sigaction sa = { .sa_handler = forward, .sa_flags = SA_RESTART };

	if (pipe2(ep, O_CLOEXEC) < 0)
		die(errno, "create a pipe", NULL, NULL);
	sigfillset(&sa.sa_mask);
	for (size_t i = 0; i < ELEMENTSOF(forwarded); i++)
		sigaction(forwarded[i], &sa, NULL);
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid_t pid = fork();
	if (pid < 0)
		die(errno, "fork the command", NULL, NULL);
	if (pid == 0) {
		close(ep[0]);
		exec_command(s, pts, ep[1]);
	}
	command_pid = pid;
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(ep[1]);
	int e = 0;
	ssize_t n;
	while ((n = read(ep[0], &e, sizeof(e))) < 0 && errno == EINTR)
		;
	close(ep[0]);
	if (n == (ssize_t)sizeof(e))
		report_send(FD_REPORT, REPORT_EXEC_FAIL, e, 0, "execute", s->argv[0], NULL);
	else
		report_send(FD_REPORT, REPORT_READY, 0, pid, "", "", "");
	reap_until_done(pid);
}

void boxinit_main(const struct sandbox_spec *s, int report_fd, int go_fd, int pty_fd)
{
	struct rootfs_error ferr;
	const char *what = NULL;
	char go;
	int r, nflog;

	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	settle_fds(report_fd, go_fd, pty_fd);
	/* The supervisor writes our id maps and joins us to our cgroups first;
	 * EOF means it died before that. */
	if (read(FD_GO, &go, 1) != 1)
		_exit(EXIT_SETUP);
	close(FD_GO);
	if (unshare(CLONE_NEWCGROUP) < 0)
		warn(errno, "create a cgroup namespace", NULL);
	if (sethostname("clawbox", 7) < 0)
		die(errno, "set the hostname", NULL, NULL);
	loopback_up();
	if ((r = netbox_setup(&s->net, &nflog, &what)) < 0)
		die(-r, what, NULL, NULL);
	if (s->net_proxy)
		open_proxy_listeners(nflog);
	if ((r = rootfs_build(&s->fs, &ferr)) < 0)
		die(-r, ferr.what, ferr.path, ferr.detail);
	int pts = s->pty ? open_pty() : -1;
	if (s->pty || s->net_proxy)
		close(FD_PTY);
	if (chdir(s->cwd) < 0 && chdir(s->fs.project) < 0)
		die(errno, "enter the working directory", s->cwd, NULL);
	confine(s);
	start_command(s, pts);
	_exit(EXIT_SETUP);
}
