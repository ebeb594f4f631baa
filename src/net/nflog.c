/* NFLOG: the box's rejected packets into its audit log. */
#include "util/common.h"

#include "state/audit.h"
#include "net/nflog.h"
#include "net/nftrules_def.h"
#include "util/netlink.h"

#include <arpa/inet.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netlink.h>
#include <netinet/ip.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>

#define NFLOG_BUF 65536

/* One NFULNL_MSG_CONFIG message with a single attribute. */
static int config(int fd, uint16_t type, const void *data, uint16_t len)
{
	union {
		char bytes[64];
		struct nlmsghdr h;
	} m = { 0 };
	struct nfgenmsg *g = NLMSG_DATA(&m.h);
	struct nlattr *a = (struct nlattr *)((char *)g + NLMSG_ALIGN(sizeof(*g)));
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	m.h.nlmsg_len = NLMSG_LENGTH(NLMSG_ALIGN(sizeof(*g)) + NLA_ALIGN(NLA_HDRLEN + len));
	m.h.nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
	m.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	g->nfgen_family = AF_UNSPEC;
	g->version = NFNETLINK_V0;
	g->res_id = htons(NFTRULES_NFLOG_GROUP);
	a->nla_type = type;
	a->nla_len = (uint16_t)(NLA_HDRLEN + len);
	memcpy((char *)a + NLA_HDRLEN, data, len);
	if (sendto(fd, m.bytes, m.h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	return netlink_acks(fd, 1);
}

int nflog_open(void)
{
	struct nfulnl_msg_config_cmd bind_cmd = { .command = NFULNL_CFG_CMD_BIND };
	struct nfulnl_msg_config_mode mode = { .copy_range = htonl(NFTRULES_NFLOG_SNAPLEN),
					       .copy_mode = NFULNL_COPY_PACKET };
	uint32_t qthresh = htonl(1); /* each packet at once, not 100 at a time */
	int cap = 1, r;
	_cleanup_close_ int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &cap, sizeof(cap));
	if ((r = config(fd, NFULA_CFG_CMD, &bind_cmd, sizeof(bind_cmd))) < 0 ||
	    (r = config(fd, NFULA_CFG_MODE, &mode, sizeof(mode))) < 0 ||
	    (r = config(fd, NFULA_CFG_QTHRESH, &qthresh, sizeof(qthresh))) < 0)
		return r;
	return TAKE_FD(fd);
}

/* The attribute of type in [p, p+len), or NULL; *ret_len its payload size. */
static const uint8_t *attr(const uint8_t *p, size_t len, uint16_t type, size_t *ret_len)
{
	while (len >= NLA_HDRLEN) {
		struct nlattr a;
		memcpy(&a, p, sizeof(a));
		if (a.nla_len < NLA_HDRLEN || a.nla_len > len)
			return NULL;
		if ((a.nla_type & NLA_TYPE_MASK) == type) {
			*ret_len = a.nla_len - NLA_HDRLEN;
			return p + NLA_HDRLEN;
		}
		size_t step = NLA_ALIGN(a.nla_len);
		if (step >= len)
			break;
		p += step;
		len -= step;
	}
	return NULL;
}

static bool has_prefix(const uint8_t *v, size_t n, const char *want)
{
	size_t wl = strlen(want);
	return n >= wl && memcmp(v, want, wl) == 0 && (n == wl || v[wl] == '\0');
}

int nflog_parse(const void *msg, size_t len, struct nflog_packet *ret)
{
	struct nlmsghdr h;
	size_t plen = 0, xlen = 0;
	if (len < NLMSG_HDRLEN)
		return -EBADMSG;
	memcpy(&h, msg, sizeof(h));
	if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > len)
		return -EBADMSG;
	if (h.nlmsg_type != ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET))
		return 0;
	size_t hdr = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg));
	if (h.nlmsg_len < hdr)
		return -EBADMSG;
	const uint8_t *attrs = (const uint8_t *)msg + hdr;
	size_t alen = h.nlmsg_len - hdr;
	const uint8_t *prefix = attr(attrs, alen, NFULA_PREFIX, &xlen);
	const uint8_t *pkt = attr(attrs, alen, NFULA_PAYLOAD, &plen);
	struct nflog_packet p = { 0 };
	if (prefix && has_prefix(prefix, xlen, NFTRULES_PREFIX_OUT))
		p.out = true;
	else if (!prefix || !has_prefix(prefix, xlen, NFTRULES_PREFIX_IN))
		return 0;
	if (!pkt || plen < sizeof(struct iphdr) || (pkt[0] >> 4) != 4)
		return 0;
	size_t ihl = (size_t)(pkt[0] & 15) * 4;
	if (ihl < sizeof(struct iphdr))
		return -EBADMSG;
	struct in_addr a;
	memcpy(&a, pkt + (p.out ? 16 : 12), sizeof(a));
	inet_ntop(AF_INET, &a, p.addr, sizeof(p.addr));
	p.proto = pkt[9];
	if ((p.proto == IPPROTO_TCP || p.proto == IPPROTO_UDP) && plen >= ihl + 4)
		p.port = (uint16_t)(pkt[ihl + 2] << 8 | pkt[ihl + 3]);
	*ret = p;
	return 1;
}

struct nflog {
	int fd, stop_r, stop_w;
	const char *box_dir, *box_name;
	struct audit *audit;
	pthread_t thread;
};

static const char *proto_name(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_ICMP: return "icmp";
	default: return "ip";
	}
}

static void log_packet(struct nflog *l, const struct nflog_packet *p)
{
	if (!l->audit && audit_open(l->box_dir, l->box_name, &l->audit) < 0)
		return;
	json_t *f =
	    json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s}", "proto", proto_name(p->proto),
		      "host", p->addr, "addr", p->addr, "port", (int)p->port, "dir",
		      p->out ? "out" : "in", "decision", "deny", "rule", "filtered", "reason",
		      p->out ? "port or address not allowed by the box's firewall"
			     : "unsolicited incoming packet");
	audit_append(l->audit, "net.connect", f);
}

/* Every message of one datagram. */
static void handle(struct nflog *l, const uint8_t *buf, size_t n)
{
	while (n >= NLMSG_HDRLEN) {
		struct nlmsghdr h;
		struct nflog_packet p;
		memcpy(&h, buf, sizeof(h));
		if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > n)
			return;
		if (nflog_parse(buf, h.nlmsg_len, &p) == 1)
			log_packet(l, &p);
		size_t step = NLMSG_ALIGN(h.nlmsg_len);
		if (step >= n)
			return;
		buf += step;
		n -= step;
	}
}

/* Drain what is queued; false when the socket failed for good. */
static bool drain(struct nflog *l, uint8_t *buf)
{
	for (;;) {
		ssize_t n = recv(l->fd, buf, NFLOG_BUF, MSG_DONTWAIT);
		if (n > 0) {
			handle(l, buf, (size_t)n);
			continue;
		}
		/* ENOBUFS: packets were lost (a flood); the next ones still come. */
		return n < 0 && (errno == EAGAIN || errno == EINTR || errno == ENOBUFS);
	}
}

static void *serve(void *arg)
{
	struct nflog *l = arg;
	_cleanup_free_ uint8_t *buf = malloc(NFLOG_BUF);
	bool ok = buf != NULL;
	while (ok) {
		struct pollfd p[2] = { { .fd = l->fd, .events = POLLIN },
				       { .fd = l->stop_r, .events = POLLIN } };
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		ok = drain(l, buf);
		if (p[1].revents)
			break;
	}
	return NULL;
}

/* Close and free what l holds (any of it may be missing). */
static void nflog_free(struct nflog *l)
{
	closep(&l->stop_r);
	closep(&l->stop_w);
	closep(&l->fd);
	audit_close(l->audit);
	free(l);
}

int nflog_start(int fd, const char *box_dir, const char *box_name, struct nflog **ret)
{
	struct nflog *l = calloc(1, sizeof(*l));
	int pfd[2], r;
	if (!l) {
		close(fd);
		return -ENOMEM;
	}
	*l = (struct nflog){
		.fd = fd, .stop_r = -1, .stop_w = -1, .box_dir = box_dir, .box_name = box_name
	};
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		nflog_free(l);
		return -ENOMEM;
	}
	l->stop_r = pfd[0];
	l->stop_w = pfd[1];
	if ((r = pthread_create(&l->thread, NULL, serve, l)) != 0) {
		nflog_free(l);
		return -r;
	}
	*ret = l;
	return 0;
}

void nflog_stop(struct nflog *l)
{
	if (!l)
		return;
	(void)!write(l->stop_w, "x", 1);
	pthread_join(l->thread, NULL);
	nflog_free(l);
}
