/* Which process of a box holds a socket: the pid of a proxy client, for the
 * audit log. The supervisor sees the proxy's end of a connection; the box's
 * end is a socket in the box's network namespace. A NETLINK_SOCK_DIAG
 * socket opened in that namespace (by the box's builder, or else by a
 * short-lived child that joins the box's user and network namespaces, so
 * it works without root too) finds
 * that socket by its addresses and gives its inode; the box's processes
 * (the box init's descendants, through /proc/PID/task/TID/children) are then
 * searched for the one with an fd on socket:[inode].
 *
 * Costs a netlink round trip and a walk of the box's processes and their
 * fds (bounded: SOCKOWNER_MAX_PROCS processes, up to 4096 fds each, newest first;
 * the last holder found is tried first, its pid cached); callers do it off the
 * connection's critical path. Thread-safe. Never prints. */
#ifndef CLAWBOX_SOCKOWNER_H
#define CLAWBOX_SOCKOWNER_H
#include "util/common.h"

#include <sys/socket.h>

#define SOCKOWNER_MAX_PROCS 4096

struct sockowner;

struct sockowner_pid {
	pid_t pid;      /* in the box's pid namespace */
	pid_t host_pid; /* in the supervisor's */
};

/* A finder for the box whose init is host pid init_pid and whose network
 * namespace is netns. diag: a NETLINK_SOCK_DIAG socket the box made in
 * that namespace, or -1 to open one on the first lookup (a child joins the
 * box's namespaces: 0.4-4 ms). Both fds are taken over whatever this
 * returns. */
int sockowner_new(int netns, int diag, pid_t init_pid, struct sockowner **ret);

/* NULL is fine; returns NULL. */
struct sockowner *sockowner_free(struct sockowner *o);

/* The process holding the box's socket of protocol proto (IPPROTO_TCP or
 * IPPROTO_UDP) whose own address is box_end and whose peer is
 * proxy_end (for UDP: the address it sent to; an unconnected socket
 * matches too). -ENOENT when the socket or its holder is gone (never a
 * guess), -ESRCH when it is held by no process of the box, other -errno
 * when the lookup cannot be made. The first holder found is given (a
 * socket shared across fork() has several; the one nearest the init wins). */
int sockowner_find(struct sockowner *o, int proto, const struct sockaddr_storage *box_end,
		   const struct sockaddr_storage *proxy_end, struct sockowner_pid *ret);

#endif
