/* Names and numbers shared by the nftables rulesets (tools/gen_nftrules.c,
 * text in tools/nftrules.nft) and the code that works with them at run time
 * (src/net/nftload.c, src/net/netfilter.c, src/net/nflog.c). */
#ifndef CLAWBOX_NFTRULES_DEF_H
#define CLAWBOX_NFTRULES_DEF_H

/* In the box's network namespace. */
#define NFTRULES_BOX_TABLE   "clawbox"
/* In the host's: NAT and host input (table ip clawbox), and, when clawbox
 * turned forwarding on, the forwarding guard (table ip clawbox_guard). */
#define NFTRULES_HOST_TABLE  "clawbox"
#define NFTRULES_GUARD_TABLE "clawbox_guard"

/* The host side of every box's veth is "clawbox<slot>"; the box side is
 * renamed eth0. */
#define NFTRULES_IFPREFIX "clawbox"
/* --net filtered boxes get one /30 of this pool each. */
#define NFTRULES_POOL     "10.213.0.0"
#define NFTRULES_POOL_LEN 16

/* NFLOG group of the box's denials (groups are per network namespace), how
 * much of each packet is copied (IP and TCP/UDP headers), and the prefixes
 * that tell the direction. */
#define NFTRULES_NFLOG_GROUP   7
#define NFTRULES_NFLOG_SNAPLEN 64
#define NFTRULES_PREFIX_OUT    "clawbox-out"
#define NFTRULES_PREFIX_IN     "clawbox-in"
/* Logged denials per second (and burst) per rule of a box: the rest are
 * rejected unlogged (each logged one is a line of the audit log). */
#define NFTRULES_LOG_RATE      20
#define NFTRULES_LOG_BURST     40

#endif
