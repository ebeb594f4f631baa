/* Requests from the box to a brokered host, inside the TLS the proxy
 * terminates (docs/SECRETS.md, "Brokered credentials"): each request head
 * is parsed strictly and written out again with every brokered secret's
 * placeholder replaced by its value in the places its rule names (a
 * header, Authorization in any scheme, Basic's user:password included, a
 * query parameter, the path), and nowhere else: a body passes unchanged.
 * A placeholder of a secret not brokered for this host, anywhere in the
 * head, refuses the request (an attempt to send a key elsewhere).
 * "Expect: 100-continue" is taken out, for the proxy to answer itself.
 * Responses' heads are parsed for their framing only (keep-alive).
 * Never prints; no allocation but the output buffer. */
#ifndef CLAWBOX_BROKERHTTP_H
#define CLAWBOX_BROKERHTTP_H
#include "util/common.h"

#include "secrets/broker.h"
#include "util/buf.h"

#define BROKERHTTP_HEAD_MAX 32768
#define BROKERHTTP_PATH_MAX 256 /* bytes of the path kept for the audit */

struct brokerhttp_secret {
	const char *placeholder; /* what the box holds, plen bytes */
	size_t plen;
	const char *value; /* the secret (secret memory), vlen bytes */
	size_t vlen;
	const struct broker_inject *inject; /* its places, ninject */
	size_t ninject;
	bool here; /* brokered for this request's host */
};

struct brokerhttp_req {
	char method[24];
	char path[BROKERHTTP_PATH_MAX + 1]; /* the target without its query, cut */
	size_t head_len;                    /* bytes of the head read */
	uint64_t body_len;                  /* Content-Length; 0 without one */
	bool chunked;                       /* Transfer-Encoding: chunked */
	bool close;                         /* no keep-alive after it */
	bool expect_continue;               /* Expect: 100-continue, dropped from out: answer it */
	uint32_t used;                      /* bit i: secret i was put in */
};

/* The head at data[0..n) of a request to host:port (a brokered
 * destination; port 443 may go unsaid in Host), written to out as it goes
 * upstream. out then holds values: the caller wipes it
 * (explicit_bzero(out->data, out->len)) once sent. Returns 1 with *ret; 0
 * when the head is not complete; -E2BIG when none ends within
 * BROKERHTTP_HEAD_MAX bytes (431); -EBADMSG for a malformed head: not
 * origin-form, obsolete line folding, a Content-Length beside a
 * Transfer-Encoding, a Transfer-Encoding other than chunked, two lengths
 * that differ, CR or LF where they may not be (400); -EINVAL when the Host
 * header is missing or names another destination (400); -EPROTONOSUPPORT
 * for a version other than HTTP/1.0 or 1.1 (505); -EACCES when a
 * placeholder of a secret not brokered here is in the head (403);
 * -ENOTSUP when a value would need bytes a header cannot hold (502);
 * -ENOMEM. At most 32 secrets. */
int brokerhttp_request(const char *data, size_t n, const char *host, uint16_t port,
		       const struct brokerhttp_secret *s, size_t ns, struct brokerhttp_req *ret,
		       struct buf *out);

struct brokerhttp_resp {
	int status;
	size_t head_len;
	uint64_t body_len; /* with has_len */
	bool has_len, chunked;
	bool until_close; /* the body ends when the upstream closes */
	bool close;       /* no keep-alive after it */
};

/* What comes back from a brokered host never shows the box a value (an
 * echo, an error quoting the key): every value of s[0..ns) in buf[0..n) is
 * covered by its placeholder (same length: framing stays; '*'s should the
 * lengths differ). The end of buf may begin a value the next read
 * completes: when final (nothing follows), that beginning is covered too
 * and 0 returned; else returns how many bytes at the end to keep back
 * until more comes (a caller that cannot may pass them: only whole values
 * are then covered). */
size_t brokerhttp_scrub(const struct brokerhttp_secret *s, size_t ns, char *buf, size_t n,
			bool final);

/* The head of a response to a request of method at data[0..n): 1 with
 * *ret, 0 when not complete, -E2BIG, -EBADMSG (as above). A 1xx answer is
 * a head of its own (ret->status < 200: read the next one). */
int brokerhttp_response(const char *data, size_t n, const char *method,
			struct brokerhttp_resp *ret);

/* A chunked body, followed: feed it bytes as they pass; it says where the
 * body ends (the last chunk and the trailers). */
struct brokerhttp_chunks {
	int state;
	uint64_t left; /* of the chunk's data */
	unsigned digits, line;
};

/* How many of data[0..n) belong to the body (all n while it goes on);
 * *ret_done once its end is among them. -EBADMSG for a malformed chunk
 * size or framing. */
int brokerhttp_chunks_feed(struct brokerhttp_chunks *c, const char *data, size_t n,
			   size_t *ret_used, bool *ret_done);

#endif
