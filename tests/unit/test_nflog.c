#include "unit.h"
#include "net/nflog.h"
#include "net/nftload.h"
#include "net/nftrules_def.h"

#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netlink.h>
#include <sched.h>
#include <sys/wait.h>

struct msgbuf {
	union {
		uint8_t bytes[512];
		struct nlmsghdr h;
	};
};

static void add_attr(struct msgbuf *m, uint16_t type, const void *data, size_t len)
{
	struct nlattr a = { .nla_len = (uint16_t)(NLA_HDRLEN + len), .nla_type = type };
	size_t off = NLMSG_ALIGN(m->h.nlmsg_len);
	memcpy(m->bytes + off, &a, sizeof(a));
	memcpy(m->bytes + off + NLA_HDRLEN, data, len);
	m->h.nlmsg_len = (uint32_t)(off + NLA_ALIGN(NLA_HDRLEN + len));
}

/* An NFLOG packet message: prefix, then an IPv4/TCP header to dst:port. */
static void packet(struct msgbuf *m, const char *prefix, uint8_t proto, uint16_t port)
{
	uint8_t ip[24] = {
		0x45, 0, 0, 24, 0, 0, 0, 0, 64, proto, 0, 0, 10, 213, 0, 2, 10, 79, 1, 2
	};
	ip[22] = (uint8_t)(port >> 8);
	ip[23] = (uint8_t)port;
	memset(m, 0, sizeof(*m));
	m->h.nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET;
	m->h.nlmsg_len = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg));
	add_attr(m, NFULA_PREFIX, prefix, strlen(prefix) + 1);
	add_attr(m, NFULA_PAYLOAD, ip, sizeof(ip));
}

TEST(nflog_parse_packets)
{
	struct msgbuf m;
	struct nflog_packet p;
	packet(&m, NFTRULES_PREFIX_OUT, IPPROTO_TCP, 8080);
	CHECK_INT(nflog_parse(m.bytes, m.h.nlmsg_len, &p), 1);
	CHECK(p.out);
	CHECK_INT(p.proto, IPPROTO_TCP);
	CHECK_STREQ(p.addr, "10.79.1.2");
	CHECK_INT(p.port, 8080);
	packet(&m, NFTRULES_PREFIX_IN, IPPROTO_UDP, 53);
	CHECK_INT(nflog_parse(m.bytes, m.h.nlmsg_len, &p), 1);
	CHECK(!p.out);
	CHECK_STREQ(p.addr, "10.213.0.2"); /* incoming: the source */
	CHECK_INT(p.port, 53);
	/* Somebody else's log prefix, or none: not ours. */
	packet(&m, "other", IPPROTO_TCP, 1);
	CHECK_INT(nflog_parse(m.bytes, m.h.nlmsg_len, &p), 0);
	packet(&m, NFTRULES_PREFIX_OUT "x", IPPROTO_TCP, 1);
	CHECK_INT(nflog_parse(m.bytes, m.h.nlmsg_len, &p), 0);
	/* Truncated: the header claims more than there is. */
	packet(&m, NFTRULES_PREFIX_OUT, IPPROTO_TCP, 1);
	CHECK_INT(nflog_parse(m.bytes, m.h.nlmsg_len - 1, &p), -EBADMSG);
	CHECK_INT(nflog_parse(m.bytes, 8, &p), -EBADMSG);
}

/* Run fn in a child that first unshares flags; its exit status, or 77
 * when the namespaces cannot be made here. */
static int in_child(int flags, int (*fn)(void))
{
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		if (unshare(flags) < 0)
			_exit(77);
		_exit(fn());
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static int load_all(void)
{
	return nftload(NFTLOAD_BOX_FILTERED) == 0 && nftload(NFTLOAD_HOST_NAT) == 0 &&
		       nftload(NFTLOAD_HOST_NAT) == 0 && nftload(NFTLOAD_HOST_GUARD) == 0
		   ? 0
		   : 1;
}

static int load_refused(void)
{
	return nftload(NFTLOAD_BOX_CLOSED) == -EPERM ? 0 : 1;
}

/* The generated batches load, with every ack checked, in a network
 * namespace of the test's own (owned by a user namespace of its own, so
 * this works without root). Control: in the host's network namespace,
 * from a user namespace without CAP_NET_ADMIN over it, nothing loads (the
 * host's ruleset is never touched). */
TEST(nftload_rulesets)
{
	int r = in_child(CLONE_NEWUSER | CLONE_NEWNET, load_all);
	CHECK(r == 0 || r == 77);
	r = in_child(CLONE_NEWUSER, load_refused);
	CHECK(r == 0 || r == 77);
}
