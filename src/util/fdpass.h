/* Passing fds over a unix socket: one message is bytes and up to
 * FDPASS_MAX fds (SCM_RIGHTS); the simplest is a tag byte with its fds.
 * Only system calls and memcpy: usable in a child forked from a threaded
 * process. */
#ifndef CLAWBOX_FDPASS_H
#define CLAWBOX_FDPASS_H
#include "util/common.h"

#include <sys/uio.h>

#define FDPASS_MAX 8

/* Send tag with fds[0..n) (n <= FDPASS_MAX; 0 sends the tag alone).
 * 0 or -errno. */
int fdpass_send(int sock, char tag, const int *fds, size_t n);

/* Receive one message: its tag in *ret_tag, its fds (close-on-exec) in
 * fds[0..max). Returns how many (>= 0); -EPIPE when the peer is gone;
 * -EBADMSG for more than max fds or a truncated message (what came is
 * closed). */
int fdpass_recv(int sock, char *ret_tag, int *fds, size_t max);

/* The same for a message of iov[0..niov) (one sendmsg: on a datagram or
 * seqpacket socket, one message). 0 or -errno. */
int fdpass_sendv(int sock, const struct iovec *iov, size_t niov, const int *fds, size_t n);

/* Receive one message of at most size bytes into buf (*ret_len: its
 * length; a longer one is -EBADMSG) with its fds, as fdpass_recv(). 0 at
 * the end of the stream (then *ret_len is 0 and no fds came). */
int fdpass_recvv(int sock, void *buf, size_t size, size_t *ret_len, int *fds, size_t max);

#endif
