#include "util/common.h"

#include <ctype.h>
#include <nettle/base64.h>
#include <strings.h>

#include "net/brokerhttp.h"
#include "net/http1.h"

#define BASIC_MAX 1024 /* bytes of Basic's user:password */

enum enc { ENC_RAW, ENC_HEADER, ENC_PATH, ENC_QUERY };

/* v (n bytes) as it may go in: raw (then base64-encoded: Basic); a header
 * keeps visible ASCII, space and tab only; a path or query percent-encodes
 * what its part cannot hold. */
static int put_value(struct buf *out, const char *v, size_t n, enum enc e)
{
	static const char hex[] = "0123456789ABCDEF";
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		unsigned char c = (unsigned char)v[i];
		bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			     (c >= '0' && c <= '9') || (c && strchr("-._~", c));
		if (e == ENC_PATH && c && strchr("!$&'()*+,;=:@", c))
			plain = true;
		if (e == ENC_HEADER && ((c < 0x20 && c != '\t') || c == 0x7f))
			return -ENOTSUP;
		if (e == ENC_RAW || e == ENC_HEADER || plain) {
			r = buf_append(out, v + i, 1);
		} else {
			char pct[3] = { '%', hex[c >> 4], hex[c & 15] };
			r = buf_append(out, pct, 3);
		}
	}
	return r;
}

static bool injects(const struct brokerhttp_secret *s, enum broker_where w, const char *param)
{
	for (size_t i = 0; i < s->ninject; i++)
		if (s->inject[i].where == w && (!param || !strcmp(s->inject[i].param, param)))
			return true;
	return false;
}

/* v[0..n) to out with the placeholder of every secret brokered here that
 * goes in place (w, param) replaced by its value, encoded as e. */
static int put_replaced(struct buf *out, const char *v, size_t n, const struct brokerhttp_secret *s,
			size_t ns, enum broker_where w, const char *param, enum enc e,
			uint32_t *used)
{
	size_t from = 0;
	int r = 0;
	for (size_t i = 0; i < n && r == 0;) {
		size_t k = 0;
		while (k < ns &&
		       !(s[k].here && s[k].plen <= n - i &&
			 !memcmp(v + i, s[k].placeholder, s[k].plen) && injects(&s[k], w, param)))
			k++;
		if (k == ns) {
			i++;
			continue;
		}
		r = buf_append(out, v + from, i - from);
		if (r == 0)
			r = put_value(out, s[k].value, s[k].vlen, e);
		*used |= 1u << k;
		i += s[k].plen;
		from = i;
	}
	return r < 0 ? r : buf_append(out, v + from, n - from);
}

static int hex_digit(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

/* Is v[0..n), its %XX escapes decoded, the placeholder p[0..pl)? (Clients
 * encode a query's values: Python's quote, URLSearchParams.) */
static bool is_placeholder(const char *v, size_t n, const char *p, size_t pl)
{
	size_t j = 0;
	for (size_t i = 0; i < n; i++, j++) {
		int c = (unsigned char)v[i];
		if (c == '%' && i + 2 < n && hex_digit(v[i + 1]) >= 0 && hex_digit(v[i + 2]) >= 0) {
			c = hex_digit(v[i + 1]) * 16 + hex_digit(v[i + 2]);
			i += 2;
		}
		if (j >= pl || c != (unsigned char)p[j])
			return false;
	}
	return j == pl;
}

/* The query q[0..n) ("a=1&key=PH"): a parameter whose value is a
 * placeholder (percent-encoded or not) of a secret that goes in that
 * parameter gets the value. */
static int put_query(struct buf *out, const char *q, size_t n, const struct brokerhttp_secret *s,
		     size_t ns, uint32_t *used)
{
	int r = 0;
	for (const char *p = q, *end = q + n; p < end && r == 0;) {
		const char *amp = memchr(p, '&', (size_t)(end - p)), *pe = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(pe - p));
		size_t k = ns;
		char name[BROKER_PARAM_MAX + 1];
		if (eq && (size_t)(eq - p) <= BROKER_PARAM_MAX) {
			memcpy(name, p, (size_t)(eq - p));
			name[eq - p] = '\0';
			for (k = 0; k < ns; k++)
				if (s[k].here &&
				    is_placeholder(eq + 1, (size_t)(pe - eq - 1), s[k].placeholder,
						   s[k].plen) &&
				    injects(&s[k], BROKER_QUERY, name))
					break;
		}
		if (k < ns) {
			r = buf_append(out, p, (size_t)(eq + 1 - p));
			if (r == 0)
				r = put_value(out, s[k].value, s[k].vlen, ENC_QUERY);
			*used |= 1u << k;
		} else
			r = buf_append(out, p, (size_t)(pe - p));
		if (r == 0 && amp)
			r = buf_append(out, "&", 1);
		p = amp ? amp + 1 : end;
	}
	return r;
}

/* Authorization: Basic base64(user:password) with a placeholder inside:
 * decoded, the value put in, encoded again. 0 with nothing written when it
 * is not Basic or holds no placeholder of a secret for it. */
static int put_basic(struct buf *out, const char *v, size_t n, const struct brokerhttp_secret *s,
		     size_t ns, uint32_t *used, bool *ret_done)
{
	char dec[BASIC_MAX], enc[BASE64_ENCODE_RAW_LENGTH(BASIC_MAX) + 1];
	struct base64_decode_ctx ctx;
	size_t dl = sizeof(dec);
	*ret_done = false;
	if (n < 6 || strncasecmp(v, "Basic ", 6) != 0 ||
	    n - 6 > BASE64_ENCODE_RAW_LENGTH(BASIC_MAX))
		return 0;
	base64_decode_init(&ctx);
	if (!base64_decode_update(&ctx, &dl, (uint8_t *)dec, n - 6, v + 6) ||
	    !base64_decode_final(&ctx))
		return 0;
	struct buf b = BUF_INIT(BASIC_MAX);
	uint32_t u = 0;
	int r = put_replaced(&b, dec, dl, s, ns, BROKER_AUTHORIZATION, NULL, ENC_RAW, &u);
	if (r == 0 && u && b.len <= BASIC_MAX) {
		base64_encode_raw(enc, b.len, (const uint8_t *)b.data);
		r = buf_append(out, "Basic ", 6);
		if (r == 0)
			r = buf_append(out, enc, BASE64_ENCODE_RAW_LENGTH(b.len));
		*used |= u;
		*ret_done = r == 0;
	} else if (r == 0 && u)
		r = -ENOTSUP;
	if (b.data)
		explicit_bzero(b.data, b.len);
	buf_free(&b);
	explicit_bzero(dec, sizeof(dec));
	explicit_bzero(enc, sizeof(enc));
	return r;
}

/* What the stages of a request's parse share. */
struct reqparse {
	const char *host;
	uint16_t port;
	const struct brokerhttp_secret *s;
	size_t ns;
	struct brokerhttp_req *req;
	struct buf *out;
	bool have_host, have_len, have_te, http10;
};

/* METHOD SP origin-form SP HTTP/1.x CRLF, the target's secrets put in. */
static int request_line(struct reqparse *p, const char *l, const char *le)
{
	if (memchr(l, '\r', (size_t)(le - l)) || memchr(l, '\n', (size_t)(le - l)))
		return -EBADMSG;
	const char *sp1 = memchr(l, ' ', (size_t)(le - l));
	if (!sp1 || sp1 == l || (size_t)(sp1 - l) >= sizeof(p->req->method))
		return -EBADMSG;
	for (const char *c = l; c < sp1; c++)
		if (!http1_tchar((unsigned char)*c))
			return -EBADMSG;
	memcpy(p->req->method, l, (size_t)(sp1 - l));
	const char *t = sp1 + 1, *sp2 = memchr(t, ' ', (size_t)(le - t));
	if (!sp2 || *t != '/' || memchr(t, '\t', (size_t)(sp2 - t)) ||
	    memchr(t, '#', (size_t)(sp2 - t)))
		return -EBADMSG;
	const char *v = sp2 + 1;
	if (le - v != 8 || strncmp(v, "HTTP/1.", 7) != 0)
		return le - v >= 5 && !strncmp(v, "HTTP/", 5) ? -EPROTONOSUPPORT : -EBADMSG;
	if (v[7] != '0' && v[7] != '1')
		return -EPROTONOSUPPORT;
	p->http10 = v[7] == '0';
	const char *q = memchr(t, '?', (size_t)(sp2 - t)), *pe = q ? q : sp2;
	snprintf(
	    p->req->path, sizeof(p->req->path), "%.*s",
	    (int)((size_t)(pe - t) < BROKERHTTP_PATH_MAX ? (size_t)(pe - t) : BROKERHTTP_PATH_MAX),
	    t);
	int r = buf_append(p->out, l, (size_t)(t - l));
	if (r == 0)
		r = put_replaced(p->out, t, (size_t)(pe - t), p->s, p->ns, BROKER_PATH, NULL,
				 ENC_PATH, &p->req->used);
	if (r == 0 && q)
		r = buf_append(p->out, "?", 1);
	if (r == 0 && q)
		r = put_query(p->out, q + 1, (size_t)(sp2 - q - 1), p->s, p->ns, &p->req->used);
	return r < 0 ? r : buf_append(p->out, sp2, (size_t)(le - sp2) + 2);
}

/* Host: the destination's name, its port unsaid only when 443. */
static int check_host(struct reqparse *p, const char *v, size_t n)
{
	char want[BROKER_HOST_MAX + 16];
	bool v6 = strchr(p->host, ':') != NULL;
	if (p->have_host)
		return -EINVAL;
	p->have_host = true;
	snprintf(want, sizeof(want), "%s%s%s", v6 ? "[" : "", p->host, v6 ? "]" : "");
	size_t wl = strlen(want);
	if (n == wl && !strncasecmp(v, want, n))
		return p->port == 443 ? 0 : -EINVAL;
	snprintf(want + wl, sizeof(want) - wl, ":%u", (unsigned)p->port);
	return n == strlen(want) && !strncasecmp(v, want, n) ? 0 : -EINVAL;
}

/* The colon of header line l[0..le) whose name is a token, or NULL: no
 * colon, an empty name, obsolete line folding, a bare CR or LF. */
static const char *header_colon(const char *l, const char *le)
{
	size_t n = (size_t)(le - l);
	const char *colon = memchr(l, ':', n);
	if (*l == ' ' || *l == '\t' || memchr(l, '\r', n) || memchr(l, '\n', n) || !colon ||
	    colon == l)
		return NULL;
	for (const char *c = l; c < colon; c++)
		if (!http1_tchar((unsigned char)*c))
			return NULL;
	return colon;
}

/* True when the comma-separated list v[0..n) has token tok. */
static bool has_token(const char *v, size_t n, const char *tok)
{
	size_t tl = strlen(tok);
	for (const char *p = v, *end = v + n; p < end;) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		const char *e = p;
		while (e < end && *e != ',')
			e++;
		const char *te = e;
		while (te > p && (te[-1] == ' ' || te[-1] == '\t'))
			te--;
		if ((size_t)(te - p) == tl && !strncasecmp(p, tok, tl))
			return true;
		p = e;
	}
	return false;
}

/* One header line l[0..le): checked, its framing taken, written out with
 * the secrets that go in it. */
static int header_line(struct reqparse *p, const char *l, const char *le)
{
	const char *colon = header_colon(l, le);
	if (!colon)
		return -EBADMSG;
	size_t nl = (size_t)(colon - l);
	const char *v = colon + 1, *ve = le;
	while (v < ve && (*v == ' ' || *v == '\t'))
		v++;
	while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
		ve--;
	size_t vn = (size_t)(ve - v);
	int r = 0;
	if (http1_header_is(l, nl, "Expect") && vn == 12 && !strncasecmp(v, "100-continue", 12)) {
		p->req->expect_continue = true; /* the proxy answers it: not sent on */
		return 0;
	}
	if (http1_header_is(l, nl, "Host"))
		r = check_host(p, v, vn);
	else if (http1_header_is(l, nl, "Content-Length"))
		r = http1_content_length(v, ve, &p->req->body_len, &p->have_len);
	else if (http1_header_is(l, nl, "Transfer-Encoding")) {
		if (p->have_te || vn != 7 || strncasecmp(v, "chunked", 7) != 0)
			return -EBADMSG;
		p->have_te = p->req->chunked = true;
	} else if (http1_header_is(l, nl, "Connection") && has_token(v, vn, "close"))
		p->req->close = true;
	if (r < 0)
		return r;
	r = buf_append(p->out, l, (size_t)(v - l));
	bool done = false;
	if (r == 0 && http1_header_is(l, nl, "Authorization"))
		r = put_basic(p->out, v, vn, p->s, p->ns, &p->req->used, &done);
	if (r == 0 && !done) {
		char name[BROKER_PARAM_MAX + 1];
		bool auth = http1_header_is(l, nl, "Authorization");
		snprintf(name, sizeof(name), "%.*s", (int)(nl < BROKER_PARAM_MAX ? nl : 0), l);
		for (char *c = name; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		r = put_replaced(p->out, v, vn, p->s, p->ns,
				 auth ? BROKER_AUTHORIZATION : BROKER_HEADER, auth ? NULL : name,
				 ENC_HEADER, &p->req->used);
	}
	return r < 0 ? r : buf_append(p->out, ve, (size_t)(le - ve) + 2);
}

int brokerhttp_request(const char *data, size_t n, const char *host, uint16_t port,
		       const struct brokerhttp_secret *s, size_t ns, struct brokerhttp_req *ret,
		       struct buf *out)
{
	struct brokerhttp_req req = { 0 };
	struct reqparse p = {
		.host = host, .port = port, .s = s, .ns = ns, .req = &req, .out = out
	};
	int r = ns > 32 ? -EINVAL : http1_head_end(data, n, BROKERHTTP_HEAD_MAX, &req.head_len);
	if (r <= 0)
		return r;
	for (size_t k = 0; k < ns; k++)
		if (!s[k].here && memmem(data, req.head_len, s[k].placeholder, s[k].plen))
			return -EACCES;
	const char *end = data + req.head_len - 2, *le = http1_crlf(data, end + 2);
	if ((r = request_line(&p, data, le)) < 0)
		return r;
	for (const char *l = le + 2; l < end; l = le + 2) {
		le = http1_crlf(l, end + 2);
		if ((r = header_line(&p, l, le)) < 0)
			return r;
	}
	if (p.have_len && p.have_te)
		return -EBADMSG;
	if (!p.have_host)
		return -EINVAL;
	if ((r = buf_append(out, "\r\n", 2)) < 0)
		return r;
	req.close |= p.http10;
	*ret = req;
	return 1;
}

static void cover(const struct brokerhttp_secret *x, char *dst, size_t k)
{
	for (size_t i = 0; i < k; i++)
		dst[i] = x->plen == x->vlen ? x->placeholder[i] : '*';
}

size_t brokerhttp_scrub(const struct brokerhttp_secret *s, size_t ns, char *buf, size_t n,
			bool final)
{
	size_t hold = 0;
	for (size_t i = 0; i < ns; i++) {
		const struct brokerhttp_secret *x = &s[i];
		char *p = buf, *end = buf + n;
		while ((p = memmem(p, (size_t)(end - p), x->value, x->vlen))) {
			cover(x, p, x->vlen);
			p += x->vlen;
		}
		for (size_t k = x->vlen - 1 < n ? x->vlen - 1 : n; k > 0; k--)
			if (memcmp(end - k, x->value, k) == 0) {
				if (final)
					cover(x, end - k, k);
				hold = k > hold ? k : hold;
				break;
			}
	}
	return final ? 0 : hold;
}

/* A response's header line: its framing taken. */
static int resp_header(const char *l, const char *le, struct brokerhttp_resp *rs, bool *have_te)
{
	const char *colon = header_colon(l, le);
	if (!colon)
		return -EBADMSG;
	size_t nl = (size_t)(colon - l), vn = (size_t)(le - colon - 1);
	const char *v = colon + 1;
	if (http1_header_is(l, nl, "Content-Length"))
		return http1_content_length(v, le, &rs->body_len, &rs->has_len);
	if (http1_header_is(l, nl, "Transfer-Encoding")) {
		/* chunked only as the last coding; anything else: until close */
		*have_te = true;
		const char *e = le;
		while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		const char *last = e;
		while (last > v && last[-1] != ',')
			last--;
		while (last < e && (*last == ' ' || *last == '\t'))
			last++;
		rs->chunked = e - last == 7 && !strncasecmp(last, "chunked", 7);
	} else if (http1_header_is(l, nl, "Connection") && has_token(v, vn, "close"))
		rs->close = true;
	return 0;
}

int brokerhttp_response(const char *data, size_t n, const char *method, struct brokerhttp_resp *ret)
{
	struct brokerhttp_resp rs = { 0 };
	bool have_te = false;
	int r = http1_head_end(data, n, BROKERHTTP_HEAD_MAX, &rs.head_len);
	if (r <= 0)
		return r;
	const char *end = data + rs.head_len - 2, *le = http1_crlf(data, end + 2);
	/* HTTP/1.x SP 3DIGIT [SP reason] */
	if (le - data < 12 || strncmp(data, "HTTP/1.", 7) != 0 ||
	    (data[7] != '0' && data[7] != '1') || data[8] != ' ' ||
	    (le - data > 12 && data[12] != ' '))
		return -EBADMSG;
	for (int i = 9; i < 12; i++) {
		if (data[i] < '0' || data[i] > '9')
			return -EBADMSG;
		rs.status = rs.status * 10 + (data[i] - '0');
	}
	if (rs.status < 100)
		return -EBADMSG;
	for (const char *l = le + 2; l < end; l = le + 2) {
		le = http1_crlf(l, end + 2);
		if ((r = resp_header(l, le, &rs, &have_te)) < 0)
			return r;
	}
	rs.close |= data[7] == '0';
	if (!strcmp(method, "HEAD") || rs.status < 200 || rs.status == 204 || rs.status == 304) {
		rs.chunked = rs.until_close = false;
		rs.has_len = true;
		rs.body_len = 0;
	} else if (have_te) {
		/* a length beside it is ignored, and the connection not kept */
		rs.close |= rs.has_len || !rs.chunked;
		rs.until_close = !rs.chunked;
		rs.has_len = false;
	} else if (!rs.has_len)
		rs.until_close = rs.close = true;
	*ret = rs;
	return 1;
}

enum {
	CH_SIZE,
	CH_EXT,
	CH_SIZE_LF,
	CH_DATA,
	CH_DATA_CR,
	CH_DATA_LF,
	CH_TRAILER_START,
	CH_TRAILER,
	CH_TRAILER_LF,
	CH_END_LF,
	CH_DONE,
};

/* One byte of a chunked body; -EBADMSG for a framing error. */
static int chunk_byte(struct brokerhttp_chunks *c, unsigned char b)
{
	int hexv = b >= '0' && b <= '9'   ? b - '0'
		   : b >= 'a' && b <= 'f' ? b - 'a' + 10
		   : b >= 'A' && b <= 'F' ? b - 'A' + 10
					  : -1;
	switch (c->state) {
	case CH_SIZE:
		if (hexv >= 0 && c->digits < 15) {
			c->left = c->left * 16 + (uint64_t)hexv;
			c->digits++;
			return 0;
		}
		if (c->digits == 0 || hexv >= 0)
			return -EBADMSG;
		c->state = b == ';' ? CH_EXT : b == '\r' ? CH_SIZE_LF : -1;
		return c->state < 0 ? -EBADMSG : 0;
	case CH_EXT:
		if (b == '\r')
			c->state = CH_SIZE_LF;
		else if (b == '\n' || b < 0x20 || b == 0x7f)
			return b == '\t' ? 0 : -EBADMSG;
		return 0;
	case CH_SIZE_LF:
		if (b != '\n')
			return -EBADMSG;
		c->state = c->left ? CH_DATA : CH_TRAILER_START;
		return 0;
	case CH_DATA_CR: c->state = b == '\r' ? CH_DATA_LF : -1; return c->state < 0 ? -EBADMSG : 0;
	case CH_DATA_LF:
		if (b != '\n')
			return -EBADMSG;
		c->state = CH_SIZE;
		c->digits = 0;
		return 0;
	case CH_TRAILER_START:
		c->state = b == '\r' ? CH_END_LF : CH_TRAILER;
		return b == '\n' ? -EBADMSG : 0;
	case CH_TRAILER:
		if (b == '\r')
			c->state = CH_TRAILER_LF;
		return b == '\n' ? -EBADMSG : 0;
	case CH_TRAILER_LF:
	case CH_END_LF:
		if (b != '\n')
			return -EBADMSG;
		c->state = c->state == CH_END_LF ? CH_DONE : CH_TRAILER_START;
		return 0;
	default: return -EBADMSG;
	}
}

int brokerhttp_chunks_feed(struct brokerhttp_chunks *c, const char *data, size_t n,
			   size_t *ret_used, bool *ret_done)
{
	size_t i = 0;
	while (i < n && c->state != CH_DONE) {
		if (c->state == CH_DATA) {
			size_t k = c->left < n - i ? (size_t)c->left : n - i;
			c->left -= k;
			i += k;
			if (c->left == 0)
				c->state = CH_DATA_CR;
			continue;
		}
		if (chunk_byte(c, (unsigned char)data[i++]) < 0)
			return -EBADMSG;
	}
	*ret_used = i;
	*ret_done = c->state == CH_DONE;
	return 0;
}
