#include "util/common.h"

#include "net/httpproxy.h"

#include <strings.h>

static bool is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

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

static bool header_is(const char *name, size_t nl, const char *want)
{
	return strlen(want) == nl && strncasecmp(name, want, nl) == 0;
}

/* Drop on forwarding: hop-by-hop headers and the proxy's own. */
static bool dropped(const char *name, size_t nl)
{
	static const char *const names[] = { "Proxy-Connection", "Proxy-Authorization",
					     "Connection", "Keep-Alive", "Proxy-Authenticate" };
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (header_is(name, nl, names[i]))
			return true;
	return false;
}

/* A Content-Length value v[0..end): OWS, 1-18 digits, OWS. A second one
 * must be equal. */
static int parse_length(const char *v, const char *end, uint64_t *len, bool *seen)
{
	uint64_t x = 0;
	size_t digits = 0;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	for (; v < end; v++, digits++) {
		if (*v < '0' || *v > '9' || digits >= 18)
			return -EBADMSG;
		x = x * 10 + (uint64_t)(*v - '0');
	}
	if (digits == 0 || (*seen && x != *len))
		return -EBADMSG;
	*len = x;
	*seen = true;
	return 0;
}

static const char *find_crlf(const char *p, const char *end)
{
	for (; p + 1 < end; p++)
		if (p[0] == '\r' && p[1] == '\n')
			return p;
	return NULL;
}

int httpreq_parse(const char *data, size_t n, struct httpreq *ret, struct buf *fwd)
{
	struct httpreq req = { 0 };
	const char *head_end = NULL;
	size_t lim = n < HTTPREQ_HEAD_MAX ? n : HTTPREQ_HEAD_MAX;

	/* Find the end of the head first: nothing is parsed twice in vain. */
	for (size_t i = 0; i + 3 < lim; i++)
		if (data[i] == '\r' && memcmp(data + i, "\r\n\r\n", 4) == 0) {
			head_end = data + i + 2; /* after the last header's CRLF */
			break;
		}
	if (!head_end) {
		if (memchr(data, '\0', lim))
			return -EBADMSG;
		return n >= HTTPREQ_HEAD_MAX ? -E2BIG : 0;
	}
	req.head_len = (size_t)(head_end - data) + 2;
	for (size_t i = 0; i < req.head_len; i++) {
		unsigned char c = (unsigned char)data[i];
		if ((c < 0x20 && c != '\r' && c != '\n' && c != '\t') || c == 0x7f)
			return -EBADMSG;
	}

	/* Request line. */
	const char *line_end = find_crlf(data, head_end + 2);
	const char *sp1 = memchr(data, ' ', (size_t)(line_end - data));
	if (!sp1 || sp1 == data || (size_t)(sp1 - data) >= sizeof(req.method))
		return -EBADMSG;
	for (const char *p = data; p < sp1; p++)
		if (!is_tchar((unsigned char)*p))
			return -EBADMSG;
	memcpy(req.method, data, (size_t)(sp1 - data));
	const char *target = sp1 + 1;
	const char *sp2 = memchr(target, ' ', (size_t)(line_end - target));
	if (!sp2 || sp2 == target)
		return -EBADMSG;
	const char *version = sp2 + 1;
	size_t vl = (size_t)(line_end - version);
	if (vl != 8 || strncmp(version, "HTTP/1.", 7) != 0)
		return vl >= 5 && strncmp(version, "HTTP/", 5) == 0 ? -EPROTONOSUPPORT : -EBADMSG;
	if (version[7] != '0' && version[7] != '1')
		return -EPROTONOSUPPORT;
	size_t tl = (size_t)(sp2 - target);
	for (size_t i = 0; i < tl; i++)
		if (target[i] == ' ' || target[i] == '\t')
			return -EBADMSG;

	const char *path = NULL;
	size_t path_len = 0;
	bool absolute = false;
	req.connect = STREQ(req.method, "CONNECT");
	if (req.connect) {
		if (split_authority(target, tl, req.host, sizeof(req.host), &req.port, 0) < 0)
			return -EINVAL;
	} else if (target[0] == '/') {
		path = target;
		path_len = tl;
	} else {
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
		if (split_authority(auth, (size_t)(slash - auth), req.host, sizeof(req.host),
				    &req.port, 80) < 0)
			return -EINVAL;
		path = slash;
		path_len = (size_t)(end - slash);
		absolute = true;
	}

	/* Headers. */
	bool have_host = false, have_len = false;
	char hhost[sizeof(req.host)];
	uint16_t hport = 0;
	if (fwd && !req.connect) {
		int r = buf_printf(fwd, "%s %s%.*s HTTP/1.%c\r\n", req.method,
				   path_len && path[0] == '/' ? "" : "/", (int)path_len, path,
				   version[7]);
		if (r < 0)
			return r;
	}
	for (const char *l = line_end + 2; l < head_end;) {
		const char *le = find_crlf(l, head_end + 2);
		if (*l == ' ' || *l == '\t')
			return -EBADMSG; /* obsolete line folding */
		const char *colon = memchr(l, ':', (size_t)(le - l));
		if (!colon || colon == l)
			return -EBADMSG;
		for (const char *p = l; p < colon; p++)
			if (!is_tchar((unsigned char)*p))
				return -EBADMSG;
		size_t nl = (size_t)(colon - l);
		if (header_is(l, nl, "Host")) {
			const char *v = colon + 1, *ve = le;
			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			if (have_host || split_authority(v, (size_t)(ve - v), hhost, sizeof(hhost),
							 &hport, 80) < 0)
				return -EINVAL;
			have_host = true;
		}
		if (header_is(l, nl, "Content-Length")) {
			int r = parse_length(colon + 1, le, &req.body_len, &have_len);
			if (r < 0)
				return r;
		}
		if (header_is(l, nl, "Transfer-Encoding"))
			req.chunked = true;
		if (fwd && !req.connect && !dropped(l, nl)) {
			int r = buf_append(fwd, l, (size_t)(le - l) + 2);
			if (r < 0)
				return r;
		}
		l = le + 2;
	}
	if (have_len && req.chunked)
		return -EBADMSG;
	if (!req.connect && !absolute) {
		if (!have_host)
			return -EINVAL;
		memcpy(req.host, hhost, sizeof(req.host));
		req.port = hport;
	} else if (absolute && have_host &&
		   (strcasecmp(hhost, req.host) != 0 || hport != req.port)) {
		return -EINVAL;
	}
	if (fwd && !req.connect) {
		int r = 0;
		if (!have_host) {
			bool v6 = strchr(req.host, ':') != NULL;
			r = buf_printf(fwd, "Host: %s%s%s", v6 ? "[" : "", req.host, v6 ? "]" : "");
			if (r == 0 && req.port != 80)
				r = buf_printf(fwd, ":%u", (unsigned)req.port);
			if (r == 0)
				r = buf_puts(fwd, "\r\n");
		}
		if (r == 0)
			r = buf_puts(fwd, "Connection: close\r\n\r\n");
		if (r < 0)
			return r;
	}
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
