/* The HTTP proxy's request parser: one request head (request line and
 * headers, up to the empty line) in, a destination and (for plain HTTP) the
 * head to forward out. Accepted forms:
 *   CONNECT host:port HTTP/1.x          (a tunnel; the port is required)
 *   METHOD http://host[:port]/path HTTP/1.x   (absolute form; a Host header,
 *                                        when present, must name the same
 *                                        host and port)
 *   METHOD /path HTTP/1.x + Host: host[:port]  (origin form)
 * Strict: CRLF line ends, no obsolete line folding, no whitespace before a
 * header's colon, one Host header, no userinfo, no control characters; the
 * head is at most HTTPREQ_HEAD_MAX bytes. Never prints; no allocation
 * beyond the bounded forward buffer. */
#ifndef CLAWBOX_HTTPPROXY_H
#define CLAWBOX_HTTPPROXY_H
#include "util/common.h"

#include "net/netpolicy.h"
#include "util/buf.h"

#define HTTPREQ_HEAD_MAX 16384

struct httpreq {
	bool connect;
	char method[24];
	char host[NETPOLICY_NAME_MAX + 1]; /* a name or a bare IP literal */
	uint16_t port;
	size_t head_len; /* bytes of the head, "\r\n\r\n" included */
	/* Plain HTTP: the body's framing. body_len from Content-Length (0
	 * without one: a request without either header has no body); chunked
	 * when a Transfer-Encoding header is present. */
	uint64_t body_len;
	bool chunked;
};

/* Parse the head at the start of data[0..n).
 * Returns 1 with *ret filled (and, for plain HTTP, *fwd = the head to send
 * upstream: origin-form request line, Proxy-* / Connection / Keep-Alive
 * headers dropped, "Connection: close" added; fwd is appended to and may be
 * NULL for CONNECT); 0 when the head is incomplete and more may come;
 * -E2BIG when no head ends within HTTPREQ_HEAD_MAX bytes (answer 431);
 * -EBADMSG for a malformed head (also: a Content-Length that is not a
 * decimal number, two that differ, or one beside Transfer-Encoding: the
 * framing a request smuggler plays with), -EINVAL for a bad host or port (400);
 * -EPROTONOSUPPORT for a scheme other than http or a version other than
 * HTTP/1.0 or 1.1 (400/505). */
int httpreq_parse(const char *data, size_t n, struct httpreq *ret, struct buf *fwd);

/* The status line and body for an error: e.g. httpreq_status_text(403). */
const char *httpreq_status_text(int code);

#endif
