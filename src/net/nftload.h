/* Loading a static nftables ruleset: the netlink batch that
 * tools/gen_nftrules.c built at build time (build/gen/nftrules.h), sent as
 * it is on a NETLINK_NETFILTER socket of the caller's network namespace.
 * No libnftables, no libnftnl at run time. Async-signal-safe: no allocation,
 * no stdio, so the box init may call it. */
#ifndef CLAWBOX_NFTLOAD_H
#define CLAWBOX_NFTLOAD_H
#include "util/common.h"

enum nftload_ruleset {
	NFTLOAD_BOX_CLOSED,   /* --net proxy / none, in the box: loopback only */
	NFTLOAD_BOX_FILTERED, /* --net filtered, in the box: the original's table */
	NFTLOAD_HOST_NAT,     /* --net filtered, in the host: masquerade, no input */
	NFTLOAD_HOST_GUARD,   /* --net filtered, in the host: forwarding guard */
};

/* Send ruleset in the caller's network namespace and check the kernel's
 * answer to every message of the batch; the whole batch applies or none of
 * it does. 0, or -errno: the first error the kernel reported (-EPERM
 * without CAP_NET_ADMIN over the namespace), or -EPROTO when an answer is
 * missing or malformed. */
int nftload(enum nftload_ruleset ruleset);

/* The ruleset generation of the caller's network namespace
 * (NFT_MSG_GETGEN): the kernel adds one with every committed change to any
 * table, so an unchanged value means nothing was changed. */
int nftload_genid(uint32_t *ret);

#endif
