/* One socket's record from the kernel's NETLINK_SOCK_DIAG (inet_diag): who
 * owns the other end of a connection on this host. Used by the proxy (the
 * box process behind a client, src/net/sockowner.c) and the API (the uid
 * behind a loopback client, src/api/server.c). Never prints. */
#ifndef CLAWBOX_UTIL_SOCKDIAG_H
#define CLAWBOX_UTIL_SOCKDIAG_H
#include "util/common.h"

#include <linux/inet_diag.h>
#include <sys/socket.h>

/* A NETLINK_SOCK_DIAG socket of the caller's network namespace. */
int sockdiag_open(void);

/* One exact-match request on fd (from sockdiag_open, or one made in
 * another namespace; seq: a number the caller increments per request): the
 * record of the socket of protocol proto (IPPROTO_TCP or IPPROTO_UDP)
 * whose own address is self and whose peer is peer. The kernel answers
 * within the send, so this never blocks. -ENOENT when there is none or
 * only the kernel still holds it (closed, idiag_inode 0). Not thread-safe
 * per fd. */
int sockdiag_find(int fd, uint32_t seq, int proto, const struct sockaddr_storage *self,
		  const struct sockaddr_storage *peer, struct inet_diag_msg *ret);

#endif
