/* The pieces of HTTP/1.1 (RFC 9112) that the proxy's parsers share: the
 * plain-HTTP proxy request (src/net/httpproxy.c) and the requests to a
 * brokered host (src/net/brokerhttp.c). Strict: what is not plainly valid
 * is an error, never guessed at. Never prints; no allocation. */
#ifndef CLAWBOX_HTTP1_H
#define CLAWBOX_HTTP1_H
#include "util/common.h"

/* A token character (a method, a header name). */
bool http1_tchar(unsigned char c);

/* The header name name[0..nl) is want (case-blind). */
bool http1_header_is(const char *name, size_t nl, const char *want);

/* A Content-Length value v[0..end): OWS, 1-18 digits, OWS; with *seen, it
 * must equal *len (two that differ: a smuggler's). -EBADMSG otherwise. */
int http1_content_length(const char *v, const char *end, uint64_t *len, bool *seen);

/* The first CRLF in p[0..end), or NULL. */
const char *http1_crlf(const char *p, const char *end);

/* The end of the head (request or status line and headers, up to the empty
 * line) in data[0..n), looked for in the first max bytes: 1 with *ret_len
 * its length (the empty line included), 0 when more bytes are needed,
 * -E2BIG when none ends within max, -EBADMSG for a NUL or a control
 * character (but CR, LF, TAB) in it. */
int http1_head_end(const char *data, size_t n, size_t max, size_t *ret_len);

#endif
