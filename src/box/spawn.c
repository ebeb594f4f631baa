/* Spawning a box's command: init_spawn (src/box/init_int.h), for the init
 * and a session's leader.
 *
 * vfork: the child borrows our memory until its exec, so no page table of
 * ours is copied for a process that execs at once (on a machine with slow
 * page faults a copy costs more than the command's own start). glibc's
 * posix_spawn does the same, but first queries and resets all 64 signal
 * dispositions in the child (113 system calls, 0.2 ms here); we know the
 * only handlers a process of the box's own has (INIT_FORWARDED) and reset
 * those. Between vfork and exec the child makes system calls only: it
 * allocates nothing and writes nothing of ours but the error it leaves. */
#include "util/common.h"

#include "box/init_int.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

static const int handled[] = { INIT_FORWARDED };

/* fd gets what src is (dup2 clears its close-on-exec; so does this when
 * they are one). 0 or an errno. */
static int move_fd(int src, int fd)
{
	if (src == fd)
		return fcntl(fd, F_SETFD, 0) < 0 ? errno : 0;
	return dup2(src, fd) < 0 ? errno : 0;
}

/* fd gets path, opened read-write (the first terminal opened by a session
 * leader becomes its controlling one). 0 or an errno. */
static int open_as(const char *path, int fd)
{
	int f = open(path, O_RDWR);
	if (f < 0)
		return errno;
	if (f == fd)
		return 0; // cppcheck-suppress resourceLeak ; f is fd: what the exec keeps
	int e = dup2(f, fd) < 0 ? errno : 0;
	close(f);
	return e;
}

/* The child, every signal blocked: a session of its own (before the
 * terminal, so that the terminal becomes its controlling one), the handled
 * signals at their defaults, io's fds and directory, then nothing blocked.
 * 0 or an errno. */
static int child_setup(const struct init_stdio *io, const char *pts)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	int e = 0, first = -1;

	for (size_t i = 0; i < ELEMENTSOF(handled); i++)
		if (sigaction(handled[i], &dfl, NULL) < 0)
			return errno;
	if (setsid() < 0)
		return errno;
	for (int fd = 0; io->fds && fd < 3 && e == 0; fd++)
		e = io->fds[fd] >= 0 ? move_fd(io->fds[fd], fd) : open_as("/dev/null", fd);
	if (e == 0 && io->cwd && chdir(io->cwd) < 0)
		e = errno;
	/* The standard fds that were the caller's terminal get the box's. */
	for (int fd = 0; pts[0] && fd < 3 && e == 0; fd++) {
		if (!(io->pty_fds & (1u << fd)))
			continue;
		e = first < 0 ? open_as(pts, fd) : move_fd(first, fd);
		if (first < 0)
			first = fd;
	}
	sigemptyset(&none);
	if (e == 0 && sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		e = errno;
	return e;
}

/* One file: vfork, the child's set-up, exec. 0 with *ret, or an errno (the
 * child that failed is reaped). */
static int spawn_file(const char *path, char *const *argv, char *const *envp,
		      const struct init_stdio *io, pid_t *ret)
{
	volatile int child_err = 0;
	char pts[32] = "";
	sigset_t all, old;

	if (io->pts >= 0 && io->pty_fds)
		snprintf(pts, sizeof(pts), "/dev/pts/%d", io->pts);
	/* No handler may run in the child while it shares our memory. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/* The child makes system calls only, then execs or exits: the use of
	 * vfork the analyzer cannot tell from a dangerous one. */
	pid_t pid = vfork(); // NOLINT(clang-analyzer-security.insecureAPI.vfork)
	if (pid == 0) {
		int e = child_setup(io, pts); // NOLINT(clang-analyzer-unix.Vfork)
		if (e == 0) {
			execve(path, argv, envp);
			e = errno;
		}
		child_err = e;
		_exit(127);
	}
	int e = pid < 0 ? errno : child_err;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid > 0 && e != 0)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	if (e == 0)
		*ret = pid;
	return e;
}

int init_spawn(char *const *argv, char *const *envp, const struct init_stdio *io, pid_t *ret)
{
	const char *cmd = argv[0];
	int r = ENOENT;

	if (strchr(cmd, '/'))
		return spawn_file(cmd, argv, envp, io, ret);
	const char *path = "/usr/local/bin:/usr/bin:/bin";
	for (char *const *v = envp; *v; v++)
		if (strncmp(*v, "PATH=", 5) == 0)
			path = *v + 5;
	for (const char *p = path;; p++) {
		const char *end = strchrnul(p, ':');
		char full[PATH_MAX];
		int len = (int)(end - p);
		int w = snprintf(full, sizeof(full), "%.*s/%s", len ? len : 1, len ? p : ".", cmd);
		if (w > 0 && (size_t)w < sizeof(full) && access(full, F_OK) == 0) {
			int e = spawn_file(full, argv, envp, io, ret);
			if (e == 0)
				return 0;
			/* Out of processes or memory: no other file would do. */
			if (e == EAGAIN || e == ENOMEM)
				return e;
			if (e != ENOENT && e != ENOTDIR)
				r = e;
		}
		if (*end == '\0')
			return r;
		p = end;
	}
}
