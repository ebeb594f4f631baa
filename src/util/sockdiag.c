#include "util/common.h"

#include "util/sockdiag.h"

#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>

int sockdiag_open(void)
{
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	return fd;
}

static int put_addr(struct inet_diag_sockid *id, bool src, const struct sockaddr_storage *ss)
{
	__be32 *a = src ? id->idiag_src : id->idiag_dst;
	__be16 *port = src ? &id->idiag_sport : &id->idiag_dport;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
		a[0] = s->sin_addr.s_addr;
		*port = s->sin_port;
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
		memcpy(a, &s->sin6_addr, 16);
		*port = s->sin6_port;
	} else
		return -EAFNOSUPPORT;
	return 0;
}

int sockdiag_find(int fd, uint32_t seq, int proto, const struct sockaddr_storage *self,
		  const struct sockaddr_storage *peer, struct inet_diag_msg *ret)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req = { .nlh = { .nlmsg_len = sizeof(req),
			   .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			   .nlmsg_flags = NLM_F_REQUEST,
			   .nlmsg_seq = seq },
		  .r = { .sdiag_family = (uint8_t)self->ss_family,
			 .sdiag_protocol = (uint8_t)proto,
			 .idiag_states = ~0u,
			 .id.idiag_cookie = { INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE } } };
	/* TCP finds the socket whose own address is src; UDP, for historical
	 * reasons, the one whose own address is dst. */
	bool tcp = proto == IPPROTO_TCP;
	if (self->ss_family != peer->ss_family || put_addr(&req.r.id, tcp, self) < 0 ||
	    put_addr(&req.r.id, !tcp, peer) < 0)
		return -EAFNOSUPPORT;
	if (send(fd, &req, sizeof(req), 0) < 0)
		return -errno;
	/* The kernel answers within send(): anything else queued is a stale
	 * answer and is skipped by its sequence number. */
	for (;;) {
		union {
			struct nlmsghdr h;
			char b[1024];
		} ans;
		ssize_t k = recv(fd, &ans, sizeof(ans), MSG_DONTWAIT);
		if (k < 0)
			return errno == EAGAIN ? -ENOENT : -errno;
		if ((size_t)k < sizeof(ans.h) || ans.h.nlmsg_seq != seq)
			continue;
		if (ans.h.nlmsg_type == NLMSG_ERROR)
			return -ENOENT;
		if (ans.h.nlmsg_type != SOCK_DIAG_BY_FAMILY ||
		    (size_t)k < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
			return -EPROTO;
		const struct inet_diag_msg *msg = NLMSG_DATA(&ans.h);
		if (msg->idiag_inode == 0)
			return -ENOENT; /* closed: only the kernel holds it */
		*ret = *msg;
		return 0;
	}
}
