/* The box's denied packets (--net filtered): the box's nftables rules log
 * every packet they reject to NFLOG group NFTRULES_NFLOG_GROUP of the box's
 * network namespace. The box init opens and binds the NFLOG socket while it
 * still holds CAP_NET_ADMIN there (nflog_open) and hands it to the
 * supervisor, whose thread (nflog_start) turns each packet into a
 * net.connect deny event in the box's audit log. */
#ifndef CLAWBOX_NFLOG_H
#define CLAWBOX_NFLOG_H
#include "util/common.h"

#include <netinet/in.h>

/* Open a NETLINK_NETFILTER socket bound to the box's NFLOG group, copying
 * NFTRULES_NFLOG_SNAPLEN bytes of each packet. Async-signal-safe. Returns
 * the fd or -errno. */
int nflog_open(void);

struct nflog_packet {
	bool out;                   /* logged by the output chain (else input) */
	uint8_t proto;              /* IPPROTO_TCP, IPPROTO_UDP, ... */
	char addr[INET_ADDRSTRLEN]; /* out: destination; in: source */
	uint16_t port;              /* destination port (TCP/UDP), else 0 */
};

/* Parse one netlink message of the NFLOG socket (header included, len
 * bytes). 1 with *ret for an IPv4 packet logged by clawbox's rules, 0 for
 * anything else, -EBADMSG when malformed. Never reads past len. */
int nflog_parse(const void *msg, size_t len, struct nflog_packet *ret);

struct nflog;

/* Serve fd (taken) from a thread: every logged packet becomes an audit
 * event of box box_name in box_dir (both must outlive the thread). */
int nflog_start(int fd, const char *box_dir, const char *box_name, struct nflog **ret);
/* Read what is still queued, stop the thread, free. NULL is fine. */
void nflog_stop(struct nflog *l);

#endif
