/* Relaying a connection: bytes both ways between two connected, non-blocking
 * sockets, with splice() through a pipe per direction (RELAY_BUF each), so
 * they never pass through user space. Used by the proxy and by published
 * ports. Never prints. */
#ifndef CLAWBOX_RELAY_H
#define CLAWBOX_RELAY_H
#include "util/common.h"

#define RELAY_BUF (256 * 1024)

/* Copy a <-> b until both directions ended (each end's write side is shut
 * once its source ended and everything was delivered), an error, idle_ms
 * without traffic, or stop_fd becoming readable. Adds the bytes moved to
 * *a_to_b and *b_to_a. At most a_limit bytes go from a to b (RELAY_ALL:
 * no limit); then that direction ends without shutting b's write side,
 * and what a sends after them stays unread in a. Closes neither socket. */
#define RELAY_ALL UINT64_MAX
void relay_splice(int a, int b, int stop_fd, int idle_ms, uint64_t a_limit, uint64_t *a_to_b,
		  uint64_t *b_to_a);

#endif
