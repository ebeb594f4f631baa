/* Sending a build-time generated nftables batch and checking its acks. */
#include "util/common.h"

#include "net/nftload.h"
#include "util/netlink.h"

#include <arpa/inet.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include "nftrules.h" /* build/gen: from tools/gen_nftrules.c */

static const struct {
	const unsigned char *bytes;
	size_t len;
} rulesets[] = {
	[NFTLOAD_BOX_CLOSED] = { nftrules_box_closed, sizeof(nftrules_box_closed) },
	[NFTLOAD_BOX_FILTERED] = { nftrules_box_filtered, sizeof(nftrules_box_filtered) },
	[NFTLOAD_HOST_NAT] = { nftrules_host_nat, sizeof(nftrules_host_nat) },
	[NFTLOAD_HOST_GUARD] = { nftrules_host_guard, sizeof(nftrules_host_guard) },
};

/* The messages of the batch that ask for an ack. */
static unsigned count_acked(const unsigned char *p, size_t len)
{
	unsigned n = 0;
	for (size_t off = 0; off + sizeof(struct nlmsghdr) <= len;) {
		struct nlmsghdr h;
		memcpy(&h, p + off, sizeof(h));
		if (h.nlmsg_len < sizeof(h))
			break;
		if (h.nlmsg_flags & NLM_F_ACK)
			n++;
		off += NLMSG_ALIGN(h.nlmsg_len);
	}
	return n;
}

int nftload(enum nftload_ruleset ruleset)
{
	if ((size_t)ruleset >= ELEMENTSOF(rulesets))
		return -EINVAL;
	const unsigned char *bytes = rulesets[ruleset].bytes;
	size_t len = rulesets[ruleset].len;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	int one = 1;
	_cleanup_close_ int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	if (fd < 0)
		return -errno;
	/* Acks carry only the header of the message they answer. */
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	if (sendto(fd, bytes, len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	return netlink_acks(fd, count_acked(bytes, len));
}

int nftload_genid(uint32_t *ret)
{
	struct {
		struct nlmsghdr h;
		struct nfgenmsg g;
	} req = { .h = { .nlmsg_len = sizeof(req),
			 .nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN,
			 .nlmsg_flags = NLM_F_REQUEST,
			 .nlmsg_seq = 1 },
		  .g = { .nfgen_family = AF_UNSPEC, .version = NFNETLINK_V0 } };
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	union {
		struct nlmsghdr h;
		char b[512];
	} ans;
	_cleanup_close_ int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	if (fd < 0)
		return -errno;
	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	/* Answered within sendto(). */
	ssize_t k = recv(fd, &ans, sizeof(ans), MSG_DONTWAIT);
	if (k < 0)
		return -errno;
	if ((size_t)k < NLMSG_LENGTH(sizeof(struct nfgenmsg)) || (size_t)k < ans.h.nlmsg_len ||
	    ans.h.nlmsg_len < NLMSG_LENGTH(sizeof(struct nfgenmsg)))
		return -EPROTO;
	if (ans.h.nlmsg_type == NLMSG_ERROR)
		return -EPROTO;
	size_t off = NLMSG_LENGTH(sizeof(struct nfgenmsg));
	while (off + sizeof(struct nlattr) <= ans.h.nlmsg_len) {
		struct nlattr a;
		memcpy(&a, ans.b + off, sizeof(a));
		if (a.nla_len < sizeof(a) || off + a.nla_len > ans.h.nlmsg_len)
			break;
		if ((a.nla_type & NLA_TYPE_MASK) == NFTA_GEN_ID && a.nla_len == NLA_HDRLEN + 4) {
			uint32_t v;
			memcpy(&v, ans.b + off + NLA_HDRLEN, 4);
			*ret = ntohl(v);
			return 0;
		}
		off += NLA_ALIGN(a.nla_len);
	}
	return -EPROTO;
}
