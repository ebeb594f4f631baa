/* For unit tests of the network modules: a private network namespace of the
 * test's own (the runner forks per test, so it ends with the test), with
 * loopback up. Skips the test without the privilege to make one. */
#ifndef CLAWBOX_UNIT_NETNS_H
#define CLAWBOX_UNIT_NETNS_H
#include "unit.h"

#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

/* Enter a new network namespace with lo up; an fd of it (O_CLOEXEC). */
static inline int unit_netns(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	if (unshare(CLONE_NEWNET) < 0)
		SKIP("cannot make a network namespace: %s", strerror(errno));
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK(s >= 0);
	CHECK(ioctl(s, SIOCGIFFLAGS, &ifr) == 0);
	ifr.ifr_flags |= IFF_UP;
	CHECK(ioctl(s, SIOCSIFFLAGS, &ifr) == 0);
	close(s);
	int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	return fd;
}

#endif
