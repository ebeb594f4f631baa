/* Passing fds over a unix socket: one message is a tag byte and up to
 * FDPASS_MAX fds (SCM_RIGHTS). Only system calls and memcpy: usable in a
 * child forked from a threaded process. */
#ifndef CLAWBOX_FDPASS_H
#define CLAWBOX_FDPASS_H
#include "util/common.h"

#define FDPASS_MAX 8

/* Send tag with fds[0..n) (n <= FDPASS_MAX; 0 sends the tag alone).
 * 0 or -errno. */
int fdpass_send(int sock, char tag, const int *fds, size_t n);

/* Receive one message: its tag in *ret_tag, its fds (close-on-exec) in
 * fds[0..max). Returns how many (>= 0); -EPIPE when the peer is gone;
 * -EBADMSG for more than max fds or a truncated message (what came is
 * closed). */
int fdpass_recv(int sock, char *ret_tag, int *fds, size_t max);

#endif
