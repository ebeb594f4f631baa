/* Netlink acks, shared by the modules that talk to the kernel's netlink
 * families (nftables batches, rtnetlink, NFLOG configuration). */
#ifndef CLAWBOX_UTIL_NETLINK_H
#define CLAWBOX_UTIL_NETLINK_H
#include "util/common.h"

/* Read want acks (NLMSG_ERROR answers) from fd, after a request sent with
 * NLM_F_ACK on its messages. The kernel handles a netlink request to
 * these families within the sending call, so every answer is queued by
 * then and nothing here blocks. 0 when all came back with error 0;
 * otherwise the first error the kernel reported (-errno), or -EPROTO when
 * an answer is missing or is not an ack. No allocation: async-signal-safe. */
int netlink_acks(int fd, unsigned want);

#endif
