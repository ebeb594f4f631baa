/* Sending a build-time generated nftables batch and checking its acks. */
#include "util/common.h"

#include "nftload.h"
#include "util/netlink.h"

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
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	if (fd < 0)
		return -errno;
	/* Acks carry only the header of the message they answer. */
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	int r = 0;
	if (sendto(fd, bytes, len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		r = -errno;
	else
		r = netlink_acks(fd, count_acked(bytes, len));
	close(fd);
	return r;
}
