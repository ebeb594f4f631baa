/* HTTP/2 on the brokered path (docs/SECRETS.md, "Brokered credentials"),
 * for a box's client that offered only h2 in its TLS handshake, to an
 * upstream that speaks it too (src/net/brokertls.c decides, and ends both
 * TLS sessions). Each stream of the box's is a stream upstream: its head is
 * checked and rewritten by brokerhttp_request() as the HTTP/1.1 head it
 * stands for (the same checks, the same places for the values), its body
 * and its response pass as they come, trailers too (gRPC); what comes back
 * is scrubbed of the values. Flow control holds end to end: a stream's
 * window on one side opens as its bytes leave on the other, so a stream
 * holds at most a window of each direction. Needs h2lib_load(). Never
 * prints; one connection per thread. */
#ifndef CLAWBOX_BROKERH2_H
#define CLAWBOX_BROKERH2_H
#include "util/common.h"

#include "net/brokertls.h"

#define BROKERH2_STREAMS_MAX 32 /* streams of the box's at once */

struct ssl_st;
struct brokerh2;

/* The protocol without the I/O (what brokerh2_serve() runs, and what the
 * fuzz harness and the unit tests drive): both sessions, their settings
 * queued. ss (its host, port, secrets, report) must outlive it. */
int brokerh2_new(const struct brokertls_session *ss, struct brokerh2 **ret);
/* Bytes the box sent: 0, or -EPROTO when they break HTTP/2 (the
 * connection must end). */
int brokerh2_from_box(struct brokerh2 *h, const uint8_t *d, size_t n);
/* Bytes the upstream sent: 0, or < 0 when its connection must end (then
 * the box is told, GOAWAY, as by brokerh2_up_gone()). */
int brokerh2_from_up(struct brokerh2 *h, const uint8_t *d, size_t n);
void brokerh2_up_gone(struct brokerh2 *h);
/* What to send next to the box / upstream: its length with *d (valid
 * until the next call), 0 when nothing, -EIO. */
ssize_t brokerh2_to_box(struct brokerh2 *h, const uint8_t **d);
ssize_t brokerh2_to_up(struct brokerh2 *h, const uint8_t **d);
/* The box's side has nothing more to read or send. */
bool brokerh2_done(const struct brokerh2 *h);
/* Every stream still open is reported; NULL is fine. */
void brokerh2_free(struct brokerh2 *h);

/* Serve the connection: box and up are the two TLS sessions (h2 agreed on
 * both), over ss->cfd and ss->ufd (non-blocking), until either side ends,
 * the idle timeout, or ss->stop_fd. Every stream is reported as an HTTP/1
 * request is (ss->report). */
void brokerh2_serve(const struct brokertls_session *ss, struct ssl_st *box, struct ssl_st *up);

#endif
