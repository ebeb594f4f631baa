/* --net filtered, the host's side (root only): a slot per running box (a
 * /30 of NFTRULES_POOL, flock'ed under NETFILTER_RUN_DIR), the veth pair
 * into the box's network namespace, the shared NAT table, and IPv4
 * forwarding with its guard. The box's side is src/net/netbox.c. Never prints;
 * functions return >= 0 or -errno with err (may be NULL) naming the failed
 * step. */
#ifndef CLAWBOX_NETFILTER_H
#define CLAWBOX_NETFILTER_H
#include "util/common.h"

#include <net/if.h>

struct error;

#define NETFILTER_RUN_DIR "/run/clawbox/net"
#define NETFILTER_SLOTS   1024

struct netfilter_slot {
	int lock_fd; /* holds flock(NETFILTER_RUN_DIR/slot-N) for the box's life */
	unsigned n;
	char path[64];
	char host_if[IFNAMSIZ];       /* NFTRULES_IFPREFIX + n */
	uint32_t host_addr, box_addr; /* network byte order; the /30's .1 and .2 */
	int prefix;                   /* 30 */
};

/* Take the first free slot whose /30 overlaps no route of the host's main
 * table (other boxes' excepted: their slots are locked). -EADDRNOTAVAIL
 * when none is left. */
int netfilter_slot_take(struct netfilter_slot *ret, struct error *err);
/* Remove and unlock the slot file. Idempotent. The veth pair goes with the
 * box's network namespace (the kernel deletes it when the box init is
 * gone), not here: deleting it costs tens of ms of RCU waits. */
void netfilter_slot_release(struct netfilter_slot *s);

/* Install the host's NAT table (idempotent; skipped when the host's
 * nftables generation is the one recorded in NETFILTER_RUN_DIR/host-gen
 * right after clawbox last installed it, i.e. nothing has changed any
 * table since). When IPv4 forwarding is off,
 * install the forwarding guard first, then turn forwarding on, and say so
 * with *ret_enabled; when it is on, leave the host's forwarding alone. */
int netfilter_host_prepare(bool *ret_enabled, struct error *err);

/* Create the slot's veth pair: host_if here with host_addr, eth0 in the
 * network namespace of box_pid (the box init configures it). A stale
 * host_if (a crashed box's netns not yet gone) is replaced. */
int netfilter_veth_up(struct netfilter_slot *s, pid_t box_pid, struct error *err);

#endif
