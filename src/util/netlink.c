#include "util/common.h"

#include "util/netlink.h"

#include <linux/netlink.h>
#include <sys/socket.h>

int netlink_acks(int fd, unsigned want)
{
	unsigned got = 0;
	union {
		char bytes[4096];
		struct nlmsghdr align;
	} buf;
	while (got < want) {
		ssize_t n = recv(fd, buf.bytes, sizeof(buf.bytes), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -EPROTO : -errno;
		for (struct nlmsghdr *h = &buf.align; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type != NLMSG_ERROR ||
			    h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
				return -EPROTO;
			const struct nlmsgerr *e = NLMSG_DATA(h);
			if (e->error != 0)
				return e->error < 0 ? e->error : -EPROTO;
			got++;
		}
	}
	return 0;
}
