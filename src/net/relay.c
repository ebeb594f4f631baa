/* Relaying bytes between two sockets with splice(). */
#include "util/common.h"

#include "net/relay.h"

#include <poll.h>
#include <sys/socket.h>

struct half {
	int pipe[2]; /* kernel buffer between source and sink (splice) */
	size_t len;  /* bytes in the pipe */
	bool eof;    /* source ended; shut the sink's write side once flushed */
	bool shut;
	bool keep_open; /* ended by the limit: the sink's write side stays open */
};

void relay_splice(int a, int b, int stop_fd, int idle_ms, uint64_t a_limit, uint64_t *a_to_b,
		  uint64_t *b_to_a)
{
	struct half h[2] = { { .pipe = { -1, -1 } }, { .pipe = { -1, -1 } } };
	uint64_t left[2] = { a_limit, RELAY_ALL };
	int src[2] = { a, b }, dst[2] = { b, a };
	uint64_t *count[2] = { a_to_b, b_to_a };

	for (int d = 0; d < 2; d++) {
		if (pipe2(h[d].pipe, O_CLOEXEC | O_NONBLOCK) < 0)
			goto out;
		fcntl(h[d].pipe[0], F_SETPIPE_SZ, RELAY_BUF);
	}
	for (;;) {
		struct pollfd pf[3] = { { .fd = a },
					{ .fd = b },
					{ .fd = stop_fd, .events = POLLIN } };
		for (int d = 0; d < 2; d++) {
			if (left[d] == 0 && !h[d].eof) {
				/* the limit: ends like an EOF, b's write side open */
				h[d].eof = true;
				h[d].keep_open = true;
			}
			if (h[d].len > 0)
				pf[d == 0 ? 1 : 0].events |= POLLOUT;
			if (!h[d].eof && h[d].len < RELAY_BUF)
				pf[d].events |= POLLIN;
		}
		if (!pf[0].events && !pf[1].events)
			break;
		int n = poll(pf, 3, idle_ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || pf[2].revents)
			break;
		bool fail = false;
		for (int d = 0; d < 2 && !fail; d++) {
			struct half *x = &h[d];
			/* Move what is there until either side would block, a few
			 * rounds at most: fewer polls per byte. */
			for (int round = 0; round < 8 && !fail; round++) {
				size_t before = x->len;
				uint64_t seen = *count[d];
				if (!x->eof &&
				    (round > 0 || (pf[d].revents & (POLLIN | POLLHUP | POLLERR)))) {
					size_t want =
					    left[d] < RELAY_BUF ? (size_t)left[d] : RELAY_BUF;
					ssize_t k =
					    want ? splice(src[d], NULL, x->pipe[1], NULL, want,
							  SPLICE_F_MOVE | SPLICE_F_NONBLOCK)
						 : -1;
					if (want == 0)
						errno = EAGAIN;
					if (k > 0) {
						x->len += (size_t)k;
						left[d] -= left[d] == RELAY_ALL ? 0 : (uint64_t)k;
						*count[d] += (uint64_t)k;
					} else if (k == 0) {
						x->eof = true;
					} else if (errno != EAGAIN && errno != EINTR) {
						x->eof = true;
						fail = true;
					}
				}
				if (x->len > 0) {
					ssize_t k = splice(x->pipe[0], NULL, dst[d], NULL, x->len,
							   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
					if (k > 0)
						x->len -= (size_t)k;
					else if (k < 0 && errno != EAGAIN && errno != EINTR)
						fail = true;
				}
				if (x->len == before && *count[d] == seen)
					break; /* no progress either way */
			}
			if (x->eof && x->len == 0 && !x->shut) {
				if (!x->keep_open)
					shutdown(dst[d], SHUT_WR);
				x->shut = true;
			}
		}
		if (fail || (h[0].shut && h[1].shut))
			break;
	}
out:
	for (int d = 0; d < 2; d++)
		for (int i = 0; i < 2; i++)
			if (h[d].pipe[i] >= 0)
				close(h[d].pipe[i]);
}
