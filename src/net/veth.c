/* veth pairs (rtnetlink) and interface addresses (ioctl). */
#include "util/common.h"

#include "util/netlink.h"
#include "net/veth.h"

#include <arpa/inet.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <net/route.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#define MSG_MAX 512

struct msg {
	union {
		struct nlmsghdr h;
		char bytes[MSG_MAX];
	};
};

/* Append an attribute; returns it (for nesting), or NULL when full. */
static struct rtattr *put(struct msg *m, unsigned short type, const void *data, size_t len)
{
	size_t off = NLMSG_ALIGN(m->h.nlmsg_len);
	if (off + RTA_SPACE(len) > sizeof(m->bytes))
		return NULL;
	struct rtattr *a = (struct rtattr *)(m->bytes + off);
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), data, len);
	m->h.nlmsg_len = (uint32_t)(off + RTA_SPACE(len));
	return a;
}

static void nest_end(struct msg *m, struct rtattr *a)
{
	a->rta_len = (unsigned short)(m->bytes + m->h.nlmsg_len - (char *)a);
}

/* Send m to the kernel and check its ack. */
static int talk(struct msg *m)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	int one = 1;
	_cleanup_close_ int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	m->h.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	m->h.nlmsg_seq = 1;
	if (sendto(fd, m->bytes, m->h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	return netlink_acks(fd, 1);
}

static void link_msg(struct msg *m, uint16_t type, uint16_t flags)
{
	memset(m, 0, sizeof(*m));
	m->h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
	m->h.nlmsg_type = type;
	m->h.nlmsg_flags = flags;
	((struct ifinfomsg *)NLMSG_DATA(&m->h))->ifi_family = AF_UNSPEC;
}

int veth_create(const char *host_name, const char *peer_name, pid_t peer_pid)
{
	struct msg m;
	struct ifinfomsg peer = { .ifi_family = AF_UNSPEC };
	uint32_t pid = (uint32_t)peer_pid;
	link_msg(&m, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	if (!put(&m, IFLA_IFNAME, host_name, strlen(host_name) + 1))
		return -ENOBUFS;
	struct rtattr *info = put(&m, IFLA_LINKINFO, NULL, 0);
	struct rtattr *data =
	    info && put(&m, IFLA_INFO_KIND, "veth", 5) ? put(&m, IFLA_INFO_DATA, NULL, 0) : NULL;
	struct rtattr *p = data ? put(&m, VETH_INFO_PEER, &peer, sizeof(peer)) : NULL;
	if (!p || !put(&m, IFLA_IFNAME, peer_name, strlen(peer_name) + 1) ||
	    !put(&m, IFLA_NET_NS_PID, &pid, sizeof(pid)))
		return -ENOBUFS;
	nest_end(&m, p);
	nest_end(&m, data);
	nest_end(&m, info);
	return talk(&m);
}

int veth_delete(const char *ifname)
{
	struct msg m;
	link_msg(&m, RTM_DELLINK, 0);
	if (!put(&m, IFLA_IFNAME, ifname, strlen(ifname) + 1))
		return -ENOBUFS;
	return talk(&m);
}

static void set_sin(struct sockaddr *sa, uint32_t addr)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = addr };
	memcpy(sa, &sin, sizeof(sin));
}

int veth_configure(const char *ifname, uint32_t addr, int prefix)
{
	struct ifreq ifr = { 0 };
	_cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (strlen(ifname) >= sizeof(ifr.ifr_name))
		return -ENAMETOOLONG;
	memcpy(ifr.ifr_name, ifname, strlen(ifname) + 1);
	set_sin(&ifr.ifr_addr, addr);
	if (ioctl(s, SIOCSIFADDR, &ifr) < 0)
		return -errno;
	set_sin(&ifr.ifr_netmask, prefix ? htonl(~0U << (32 - prefix)) : 0);
	if (ioctl(s, SIOCSIFNETMASK, &ifr) < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	ifr.ifr_flags |= IFF_UP;
	return ioctl(s, SIOCSIFFLAGS, &ifr) < 0 ? -errno : 0;
}

int veth_default_route(uint32_t gateway)
{
	struct rtentry rt = { .rt_flags = RTF_UP | RTF_GATEWAY };
	_cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	set_sin(&rt.rt_dst, 0);
	set_sin(&rt.rt_genmask, 0);
	set_sin(&rt.rt_gateway, gateway);
	return ioctl(s, SIOCADDRT, &rt) < 0 ? -errno : 0;
}
