#include "util/common.h"

#include "net/http1.h"
#include "net/httpproxy.h"

#include <strings.h>

/* Split "host[:port]" or "[v6][:port]" of length n. The host is copied bare
 * (no brackets). No port: defport (0 = a port is required). */
static int split_authority(const char *s, size_t n, char *host, size_t hostsz, uint16_t *port,
			   uint16_t defport)
{
	const char *hs = s, *he, *ps = NULL;
	if (n == 0)
		return -EINVAL;
	if (s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close)
			return -EINVAL;
		hs = s + 1;
		he = close;
		if (close + 1 < s + n) {
			if (close[1] != ':')
				return -EINVAL;
			ps = close + 2;
		}
	} else {
		const char *colon = memchr(s, ':', n);
		he = colon ? colon : s + n;
		if (colon)
			ps = colon + 1;
	}
	size_t hl = (size_t)(he - hs);
	if (hl == 0 || hl >= hostsz)
		return -EINVAL;
	for (size_t i = 0; i < hl; i++) {
		unsigned char c = (unsigned char)hs[i];
		if (!(c >= '0' && c <= '9') && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
		    !strchr(".-_:", c))
			return -EINVAL;
	}
	memcpy(host, hs, hl);
	host[hl] = '\0';
	if (!ps) {
		if (!defport)
			return -EINVAL;
		*port = defport;
		return 0;
	}
	return netpolicy_parse_port(ps, (size_t)(s + n - ps), port);
}

/* Drop on forwarding: hop-by-hop headers and the proxy's own. */
static bool dropped(const char *name, size_t nl)
{
	static const char *const names[] = { "Proxy-Connection", "Proxy-Authorization",
					     "Connection", "Keep-Alive", "Proxy-Authenticate" };
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (http1_header_is(name, nl, names[i]))
			return true;
	return false;
}

/* What the stages of one head's parse share. */
struct head {
	const char *end;      /* after the last header's CRLF */
	const char *line_end; /* the request line's CRLF */
	const char *version;  /* "HTTP/1.x" */
	const char *path;     /* what is forwarded (not CONNECT), path_len bytes */
	size_t path_len;
	bool absolute; /* an absolute-form target: the host came with it */
	bool have_host, have_len;
	char hhost[sizeof(((struct httpreq *)0)->host)]; /* the Host header's */
	uint16_t hport;
};

/* The end of the head in data[0..n): 1 with h->end and req->head_len, 0
 * when more bytes are needed, -E2BIG past HTTPREQ_HEAD_MAX, -EBADMSG for
 * a NUL or a control character in it. */
static int find_head(const char *data, size_t n, struct head *h, struct httpreq *req)
{
	int r = http1_head_end(data, n, HTTPREQ_HEAD_MAX, &req->head_len);
	if (r > 0)
		h->end = data + req->head_len - 2;
	return r;
}

/* The target of a request that is not CONNECT: origin form (/path) or
 * absolute form (http://authority/path; no userinfo). */
static int parse_origin_or_absolute(const char *target, size_t tl, struct head *h,
				    struct httpreq *req)
{
	if (target[0] == '/') {
		h->path = target;
		h->path_len = tl;
		return 0;
	}
	const char *colon = memchr(target, ':', tl);
	if (!colon || (size_t)(target + tl - colon) < 3 || strncmp(colon, "://", 3) != 0)
		return -EBADMSG;
	if ((size_t)(colon - target) != 4 || strncasecmp(target, "http", 4) != 0)
		return -EPROTONOSUPPORT;
	const char *auth = colon + 3;
	const char *end = target + tl;
	const char *slash = auth;
	while (slash < end && *slash != '/' && *slash != '?' && *slash != '#')
		slash++;
	if (memchr(auth, '@', (size_t)(slash - auth)))
		return -EINVAL;
	if (split_authority(auth, (size_t)(slash - auth), req->host, sizeof(req->host), &req->port,
			    80) < 0)
		return -EINVAL;
	h->path = slash;
	h->path_len = (size_t)(end - slash);
	h->absolute = true;
	return 0;
}

/* The request line: METHOD SP target SP HTTP/1.0|1.1. */
static int parse_request_line(const char *data, struct head *h, struct httpreq *req)
{
	h->line_end = http1_crlf(data, h->end + 2);
	const char *sp1 = memchr(data, ' ', (size_t)(h->line_end - data));
	if (!sp1 || sp1 == data || (size_t)(sp1 - data) >= sizeof(req->method))
		return -EBADMSG;
	for (const char *p = data; p < sp1; p++)
		if (!http1_tchar((unsigned char)*p))
			return -EBADMSG;
	memcpy(req->method, data, (size_t)(sp1 - data));
	const char *target = sp1 + 1;
	const char *sp2 = memchr(target, ' ', (size_t)(h->line_end - target));
	if (!sp2 || sp2 == target)
		return -EBADMSG;
	h->version = sp2 + 1;
	size_t vl = (size_t)(h->line_end - h->version);
	if (vl != 8 || strncmp(h->version, "HTTP/1.", 7) != 0)
		return vl >= 5 && strncmp(h->version, "HTTP/", 5) == 0 ? -EPROTONOSUPPORT
								       : -EBADMSG;
	if (h->version[7] != '0' && h->version[7] != '1')
		return -EPROTONOSUPPORT;
	size_t tl = (size_t)(sp2 - target);
	for (size_t i = 0; i < tl; i++)
		if (target[i] == ' ' || target[i] == '\t')
			return -EBADMSG;
	req->connect = STREQ(req->method, "CONNECT");
	if (req->connect)
		return split_authority(target, tl, req->host, sizeof(req->host), &req->port, 0) < 0
			   ? -EINVAL
			   : 0;
	return parse_origin_or_absolute(target, tl, h, req);
}

/* One header line l[0..le) (le: its CRLF): the name checked; Host,
 * Content-Length and Transfer-Encoding taken; forwarded (fwd, not
 * CONNECT) unless hop-by-hop. */
static int parse_header(const char *l, const char *le, struct head *h, struct httpreq *req,
			struct buf *fwd)
{
	if (*l == ' ' || *l == '\t')
		return -EBADMSG; /* obsolete line folding */
	const char *colon = memchr(l, ':', (size_t)(le - l));
	if (!colon || colon == l)
		return -EBADMSG;
	for (const char *p = l; p < colon; p++)
		if (!http1_tchar((unsigned char)*p))
			return -EBADMSG;
	size_t nl = (size_t)(colon - l);
	if (http1_header_is(l, nl, "Host")) {
		const char *v = colon + 1, *ve = le;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		if (h->have_host || split_authority(v, (size_t)(ve - v), h->hhost, sizeof(h->hhost),
						    &h->hport, 80) < 0)
			return -EINVAL;
		h->have_host = true;
	}
	if (http1_header_is(l, nl, "Content-Length")) {
		int r = http1_content_length(colon + 1, le, &req->body_len, &h->have_len);
		if (r < 0)
			return r;
	}
	if (http1_header_is(l, nl, "Transfer-Encoding"))
		req->chunked = true;
	if (fwd && !req->connect && !dropped(l, nl))
		return buf_append(fwd, l, (size_t)(le - l) + 2);
	return 0;
}

/* The destination: from the Host header for an origin-form target
 * (required); an absolute-form target's must agree with a Host header. */
static int settle_host(const struct head *h, struct httpreq *req)
{
	if (!req->connect && !h->absolute) {
		if (!h->have_host)
			return -EINVAL;
		memcpy(req->host, h->hhost, sizeof(req->host));
		req->port = h->hport;
	} else if (h->absolute && h->have_host &&
		   (strcasecmp(h->hhost, req->host) != 0 || h->hport != req->port)) {
		return -EINVAL;
	}
	return 0;
}

/* The forwarded head's end: a Host header when the request had none, and
 * Connection: close. */
static int forward_end(const struct head *h, const struct httpreq *req, struct buf *fwd)
{
	int r = 0;
	if (!h->have_host) {
		bool v6 = strchr(req->host, ':') != NULL;
		r = buf_printf(fwd, "Host: %s%s%s", v6 ? "[" : "", req->host, v6 ? "]" : "");
		if (r == 0 && req->port != 80)
			r = buf_printf(fwd, ":%u", (unsigned)req->port);
		if (r == 0)
			r = buf_puts(fwd, "\r\n");
	}
	if (r == 0)
		r = buf_puts(fwd, "Connection: close\r\n\r\n");
	return r;
}

int httpreq_parse(const char *data, size_t n, struct httpreq *ret, struct buf *fwd)
{
	struct httpreq req = { 0 };
	struct head h = { 0 };
	int r;

	if ((r = find_head(data, n, &h, &req)) <= 0)
		return r;
	if ((r = parse_request_line(data, &h, &req)) < 0)
		return r;
	if (fwd && !req.connect &&
	    (r = buf_printf(fwd, "%s %s%.*s HTTP/1.%c\r\n", req.method,
			    h.path_len && h.path[0] == '/' ? "" : "/", (int)h.path_len, h.path,
			    h.version[7])) < 0)
		return r;
	for (const char *l = h.line_end + 2; l < h.end;) {
		const char *le = http1_crlf(l, h.end + 2);
		if ((r = parse_header(l, le, &h, &req, fwd)) < 0)
			return r;
		l = le + 2;
	}
	if (h.have_len && req.chunked)
		return -EBADMSG;
	if ((r = settle_host(&h, &req)) < 0)
		return r;
	if (fwd && !req.connect && (r = forward_end(&h, &req, fwd)) < 0)
		return r;
	*ret = req;
	return 1;
}

const char *httpreq_status_text(int code)
{
	switch (code) {
	case 200: return "200 Connection established";
	case 400: return "400 Bad Request";
	case 403: return "403 Forbidden";
	case 408: return "408 Request Timeout";
	case 411: return "411 Length Required";
	case 431: return "431 Request Header Fields Too Large";
	case 502: return "502 Bad Gateway";
	case 503: return "503 Service Unavailable";
	case 504: return "504 Gateway Timeout";
	case 505: return "505 HTTP Version Not Supported";
	default: return "500 Internal Server Error";
	}
}
