#include "unit.h"
#include "box/sysfilter.h"

#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

/* The embedded (build-time compiled) filter denies what it must and lets
 * ordinary calls through. */
TEST(sysfilter_denies_and_allows)
{
	struct error err = { 0 };
	CHECK_INT(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
	CHECK_INT(sysfilter_load(&err), 0);
	CHECK(!error_isset(&err));
	CHECK(getpid() > 0);
	errno = 0;
	CHECK(mount("none", "/tmp", "tmpfs", 0, NULL) < 0 && errno == EPERM);
	errno = 0;
	CHECK(unshare(CLONE_NEWUSER) < 0 && errno == EPERM);
	errno = 0;
	CHECK(syscall(SYS_clone3, NULL, 0) < 0 && errno == ENOSYS);
	errno = 0;
	CHECK(syscall(SYS_keyctl, 0, 0, 0, 0, 0) < 0 && errno == EPERM);
	errno = 0;
	CHECK(mknod("/tmp/clawbox-unit-dev", S_IFCHR | 0600, makedev(1, 3)) < 0 && errno == EPERM);
	char fifo[] = "/tmp/clawbox-unit-fifo.XXXXXX";
	int fd = mkstemp(fifo);
	CHECK(fd >= 0);
	close(fd);
	unlink(fifo);
	CHECK_INT(mknod(fifo, S_IFIFO | 0600, 0), 0); /* fifos stay allowed */
	unlink(fifo);
	/* socket families: unix, inet, inet6, netlink route/sock_diag only */
	errno = 0;
	CHECK(socket(40 /* AF_VSOCK */, SOCK_STREAM, 0) < 0 && errno == EAFNOSUPPORT);
	errno = 0;
	CHECK(socket(AF_NETLINK, SOCK_RAW, 15 /* KOBJECT_UEVENT */) < 0 && errno == EAFNOSUPPORT);
	errno = 0;
	int sv[2];
	CHECK(socketpair(AF_INET, SOCK_STREAM, 0, sv) < 0 && errno == EAFNOSUPPORT);
	int u = socket(AF_UNIX, SOCK_STREAM, 0), n = socket(AF_NETLINK, SOCK_RAW, 0);
	CHECK(u >= 0 && n >= 0);
	close(u);
	close(n);
	pid_t p = fork(); /* plain fork (clone without namespace flags) works */
	if (p == 0)
		_exit(7);
	CHECK(p > 0);
	int st;
	CHECK(waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 7);
}
