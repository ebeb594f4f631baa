/* The box's side of its network, set up by the box init in the box's
 * network namespace while it still holds CAP_NET_ADMIN there, before the
 * command exists: eth0 (--net filtered), and the nftables ruleset, which
 * the agent, without capabilities, cannot change. Async-signal-safe but for
 * the formatting of a failure (err). */
#ifndef CLAWBOX_NETBOX_H
#define CLAWBOX_NETBOX_H
#include "util/common.h"

struct error;

#define NETBOX_IFNAME "eth0"

struct netbox_spec {
	bool filtered;    /* eth0 and the filtered ruleset; else loopback only */
	uint32_t addr;    /* filtered: eth0's address (network byte order) */
	uint32_t gateway; /* filtered: the host side, the default route */
	int prefix;       /* filtered: of addr's subnet */
};

/* Configure eth0 (filtered), load the ruleset, and (filtered) open the
 * NFLOG socket of the denials into *ret_nflog (else -1). 0, or -errno with
 * err (may be NULL) naming the failed step. */
int netbox_setup(const struct netbox_spec *n, int *ret_nflog, struct error *err);

#endif
