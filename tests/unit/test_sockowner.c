/* sockowner: which process of a "box" holds a socket. The test process is
 * the box's init (whose own sockets never count); its children are the
 * box's processes. In a private network namespace, over loopback. */
#include "unit.h"
#include "unit_netns.h"
#include "net/sockowner.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <poll.h>
#include <sys/wait.h>

/* A child holding one socket of proto, connected to 127.0.0.1:port, and no
 * fd of the parent's but ctl. It answers on ctl: 'r' once connected, 'c' after closing the socket when
 * sent 'c'; it exits when ctl closes. */
struct holder {
	pid_t pid;
	int ctl;
};

static void holder_main(int ctl, int proto, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd =
	    socket(AF_INET, (proto == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		_exit(1);
	if (proto == IPPROTO_UDP && send(fd, "q", 1, 0) != 1)
		_exit(1);
	char c;
	if (write(ctl, "r", 1) != 1)
		_exit(1);
	while (read(ctl, &c, 1) == 1) {
		close(fd);
		if (write(ctl, "c", 1) != 1)
			_exit(1);
	}
	_exit(0);
}

/* Wait (5 s at most) for the byte want on fd. */
static void expect_byte(int fd, char want)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c = 0;
	CHECK(poll(&p, 1, 5000) == 1);
	CHECK(read(fd, &c, 1) == 1);
	CHECK(c == want);
}

static struct holder holder_start(int proto, uint16_t port)
{
	int sp[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		/* Nothing of the parent's: the proxy's sockets are not the box's. */
		if (dup2(sp[1], 3) != 3 || close_range(4, ~0U, 0) < 0)
			_exit(1);
		holder_main(3, proto, port);
	}
	close(sp[1]);
	expect_byte(sp[0], 'r');
	return (struct holder){ .pid = pid, .ctl = sp[0] };
}

static void holder_end(struct holder *h)
{
	int st;
	close(h->ctl);
	CHECK(waitpid(h->pid, &st, 0) == h->pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static int listener(int proto, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd =
	    socket(AF_INET, (proto == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0);
	CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	if (proto == IPPROTO_TCP)
		CHECK(listen(fd, 8) == 0);
	return fd;
}

/* A finder for this namespace, whose "init" is this process. */
static struct sockowner *finder(int netns)
{
	struct sockowner *o = NULL;
	int diag = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	CHECK(diag >= 0);
	CHECK_INT(sockowner_new(netns, diag, getpid(), &o), 0);
	return o;
}

/* The proxy's end of an accepted connection, and the box's (its peer). */
static void ends(int fd, struct sockaddr_storage *box, struct sockaddr_storage *proxy)
{
	socklen_t l = sizeof(*box);
	CHECK(getpeername(fd, (struct sockaddr *)box, &l) == 0);
	l = sizeof(*proxy);
	CHECK(getsockname(fd, (struct sockaddr *)proxy, &l) == 0);
}

static int accept_one(int srv)
{
	struct pollfd p = { .fd = srv, .events = POLLIN };
	CHECK(poll(&p, 1, 5000) == 1);
	int fd = accept4(srv, NULL, NULL, SOCK_CLOEXEC);
	CHECK(fd >= 0);
	return fd;
}

TEST(sockowner_finds_the_tcp_client)
{
	struct sockowner *o = finder(unit_netns());
	struct sockaddr_storage box, proxy;
	struct sockowner_pid who = { 0 };
	int srv = listener(IPPROTO_TCP, 3128);
	/* Another process of the box, holding a socket of its own. */
	struct holder other = holder_start(IPPROTO_TCP, 3128);
	int other_fd = accept_one(srv);
	struct holder h = holder_start(IPPROTO_TCP, 3128);
	int fd = accept_one(srv);
	ends(fd, &box, &proxy);
	CHECK_INT(sockowner_find(o, IPPROTO_TCP, &box, &proxy, &who), 0);
	CHECK_INT(who.host_pid, h.pid);
	CHECK_INT(who.pid, h.pid); /* one pid namespace here */
	/* Again, by the last holder first, and the other one after it. */
	who = (struct sockowner_pid){ 0 };
	CHECK_INT(sockowner_find(o, IPPROTO_TCP, &box, &proxy, &who), 0);
	CHECK_INT(who.host_pid, h.pid);
	ends(other_fd, &box, &proxy);
	CHECK_INT(sockowner_find(o, IPPROTO_TCP, &box, &proxy, &who), 0);
	CHECK_INT(who.host_pid, other.pid);
	holder_end(&h);
	holder_end(&other);
	sockowner_free(o);
}

TEST(sockowner_finds_the_udp_sender)
{
	struct sockowner *o = finder(unit_netns());
	struct sockaddr_storage box, proxy;
	socklen_t l = sizeof(box);
	struct sockowner_pid who = { 0 };
	char c;
	int dns = listener(IPPROTO_UDP, 53);
	struct holder h = holder_start(IPPROTO_UDP, 53);
	CHECK(recvfrom(dns, &c, 1, 0, (struct sockaddr *)&box, &l) == 1);
	l = sizeof(proxy);
	CHECK(getsockname(dns, (struct sockaddr *)&proxy, &l) == 0);
	CHECK_INT(sockowner_find(o, IPPROTO_UDP, &box, &proxy, &who), 0);
	CHECK_INT(who.host_pid, h.pid);
	holder_end(&h);
	sockowner_free(o);
}

/* Never a guess: a closed socket, an unknown one, or one held only
 * outside the box's processes (the init itself) gives no pid. */
TEST(sockowner_never_guesses)
{
	struct sockowner *o = finder(unit_netns());
	struct sockaddr_storage box, proxy;
	struct sockowner_pid who = { .pid = 7, .host_pid = 7 };
	int srv = listener(IPPROTO_TCP, 1080);

	struct holder h = holder_start(IPPROTO_TCP, 1080);
	int fd = accept_one(srv);
	ends(fd, &box, &proxy);
	CHECK(write(h.ctl, "c", 1) == 1);
	expect_byte(h.ctl, 'c');
	CHECK_INT(sockowner_find(o, IPPROTO_TCP, &box, &proxy, &who), -ENOENT);

	((struct sockaddr_in *)&box)->sin_port = htons(1);
	CHECK_INT(sockowner_find(o, IPPROTO_TCP, &box, &proxy, &who), -ENOENT);

	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(1080) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int mine = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(mine >= 0 && connect(mine, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	fd = accept_one(srv);
	ends(fd, &box, &proxy);
	CHECK_INT(sockowner_find(o, IPPROTO_TCP, &box, &proxy, &who), -ESRCH);
	CHECK(who.pid == 7 && who.host_pid == 7); /* untouched */
	holder_end(&h);
	sockowner_free(o);
}
