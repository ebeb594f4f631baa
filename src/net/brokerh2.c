#include "util/common.h"

#include <poll.h>

#include "net/brokerh2.h"
#include "net/h2lib.h"
#include "net/tlslib.h"
#include "util/buf.h"
#include "util/clock.h"

#define IO_BUF    16384
#define BODY_MAX  (1 << 20) /* bytes a stream buffers per direction (windows keep it far lower) */
#define FIELD_MAX 8192      /* bytes of one pseudo-header value */

struct brokerh2;

/* A body on its way: what one side sent and the other has not taken. */
struct pipe {
	struct buf b;
	size_t off;
	bool end; /* the sender ended it */
};

/* One stream of the box's and the one it became upstream. */
struct hs {
	struct brokerh2 *h;
	struct hs *prev, *next; /* h's streams */
	int32_t bid, uid;       /* the box's; upstream's (0: not sent, -1: closed) */
	char method[24], scheme[8];
	struct buf path, authority, fields; /* the request's head as it comes */
	bool bad;                           /* a field too long: 431 */
	struct brokerhttp_req rq;
	struct pipe req, resp;
	struct buf resp_fields, trailers; /* "name\0value\0" pairs, scrubbed */
	int status;
	bool answered; /* response headers submitted to the box */
	bool reported;
	uint64_t out, in;
};

struct brokerh2 {
	const struct brokertls_session *ss;
	nghttp2_option *opt;
	nghttp2_session *box, *up;
	bool up_gone;       /* the upstream's connection ended */
	struct hs *streams; /* every stream of the box's still open */
};

static void pipe_free(struct pipe *p)
{
	buf_free(&p->b);
}

static size_t pipe_left(const struct pipe *p)
{
	return p->b.len - p->off;
}

static int pipe_put(struct pipe *p, const uint8_t *d, size_t n)
{
	if (p->off == p->b.len)
		p->off = p->b.len = 0;
	if (pipe_left(p) + n > BODY_MAX)
		return -E2BIG;
	return buf_append(&p->b, d, n);
}

static void report(struct hs *s)
{
	const struct brokertls_report *r = s->h->ss->report;
	if (s->reported || !s->uid || !r || !r->request)
		return;
	s->reported = true;
	r->request(r->ctx, &s->rq, s->status, s->out, s->in, s->h->ss->s, s->h->ss->ns);
}

static void refused_ss(const struct brokertls_session *ss, const char *what, int status,
		       const char *why)
{
	const struct brokertls_report *r = ss->report;
	if (r && r->refused)
		r->refused(r->ctx, what, status, why);
}

static void hs_free(struct hs *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		s->h->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	buf_free(&s->path);
	buf_free(&s->authority);
	buf_free(&s->fields);
	pipe_free(&s->req);
	pipe_free(&s->resp);
	buf_free(&s->resp_fields);
	buf_free(&s->trailers);
	free(s);
}

/* nva[] over the pairs of b (at most max); how many. */
static size_t pairs(const struct buf *b, nghttp2_nv *nva, size_t max)
{
	size_t n = 0;
	for (size_t at = 0; at < b->len && n < max;) {
		const char *name = b->data + at, *value = name + strlen(name) + 1;
		size_t vl = strlen(value);
		nva[n++] = (nghttp2_nv){ (uint8_t *)name, (uint8_t *)value, strlen(name), vl,
					 NGHTTP2_NV_FLAG_NONE };
		at = (size_t)(value + vl + 1 - b->data);
	}
	return n;
}

static int pair_put(struct buf *b, const uint8_t *name, size_t nl, const uint8_t *value, size_t vl)
{
	int r = buf_append(b, name, nl);
	if (r == 0)
		r = buf_append(b, "", 1);
	if (r == 0)
		r = buf_append(b, value, vl);
	return r == 0 ? buf_append(b, "", 1) : r;
}

/* Data providers: a pipe's bytes into a DATA frame; their window on the
 * sender's side opens as they leave. */
static ssize_t pipe_read(struct pipe *p, nghttp2_session *from, int32_t from_id, uint8_t *buf,
			 size_t length, uint32_t *flags)
{
	size_t n = pipe_left(p) < length ? pipe_left(p) : length;
	if (n)
		memcpy(buf, p->b.data + p->off, n);
	p->off += n;
	if (n && from_id > 0)
		(void)nghttp2_session_consume(from, from_id, n);
	if (pipe_left(p) == 0 && p->end)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	else if (n == 0)
		return NGHTTP2_ERR_DEFERRED;
	return (ssize_t)n;
}

static ssize_t req_read(nghttp2_session *up, int32_t id, uint8_t *buf, size_t length,
			uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	struct hs *s = src->ptr;
	ssize_t n = pipe_read(&s->req, s->h->box, s->bid, buf, length, flags);
	s->out += n > 0 ? (uint64_t)n : 0;
	return n;
}

static ssize_t resp_read(nghttp2_session *box, int32_t id, uint8_t *buf, size_t length,
			 uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	struct hs *s = src->ptr;
	ssize_t n = pipe_read(&s->resp, s->h->up, s->uid, buf, length, flags);
	s->in += n > 0 ? (uint64_t)n : 0;
	if ((*flags & NGHTTP2_DATA_FLAG_EOF) && s->trailers.len) {
		nghttp2_nv nva[64];
		size_t k = pairs(&s->trailers, nva, ELEMENTSOF(nva));
		*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
		if (nghttp2_submit_trailer(box, id, nva, k) != 0)
			*flags &= ~(uint32_t)NGHTTP2_DATA_FLAG_NO_END_STREAM;
	}
	return n;
}

/* clawbox's own answer to a stream of the box's (a refusal). */
static void answer(struct hs *s, int status, const char *why)
{
	char code[4];
	snprintf(code, sizeof(code), "%d", status);
	nghttp2_nv nva[] = {
		{ (uint8_t *)":status", (uint8_t *)code, 7, strlen(code), NGHTTP2_NV_FLAG_NONE },
		{ (uint8_t *)"content-type", (uint8_t *)"text/plain", 12, 10,
		  NGHTTP2_NV_FLAG_NONE },
	};
	buf_reset(&s->resp.b);
	s->resp.off = 0;
	if (buf_printf(&s->resp.b, "clawbox: %s\n", why) < 0)
		buf_reset(&s->resp.b);
	s->resp.end = true;
	s->answered = true;
	s->uid = 0;
	nghttp2_data_provider prd = { .source.ptr = s, .read_callback = resp_read };
	if (nghttp2_submit_response(s->h->box, s->bid, nva, ELEMENTSOF(nva), &prd) != 0)
		(void)nghttp2_submit_rst_stream(s->h->box, NGHTTP2_FLAG_NONE, s->bid,
						NGHTTP2_INTERNAL_ERROR);
	refused_ss(s->h->ss, "request", status, why);
}

/* The rewritten head in out (brokerhttp's) as the upstream's request:
 * its path, its fields but Host (the :authority). Submitted; 0 or < 0. */
static int submit_upstream(struct hs *s, struct buf *out, bool body)
{
	nghttp2_nv nva[4 + 128];
	size_t n = 0;
	char *line = out->data, *end = out->data + out->len;
	char *le = memmem(line, (size_t)(end - line), "\r\n", 2);
	char *sp1 = memchr(line, ' ', (size_t)(le - line)), *sp2 = le;
	while (sp2 > sp1 && *sp2 != ' ')
		sp2--;
	if (!sp1 || sp2 <= sp1)
		return -EBADMSG;
	nva[n++] = (nghttp2_nv){ (uint8_t *)":method", (uint8_t *)s->method, 7, strlen(s->method),
				 NGHTTP2_NV_FLAG_NONE };
	nva[n++] =
	    (nghttp2_nv){ (uint8_t *)":scheme", (uint8_t *)"https", 7, 5, NGHTTP2_NV_FLAG_NONE };
	nva[n++] = (nghttp2_nv){ (uint8_t *)":authority", (uint8_t *)s->authority.data, 10,
				 s->authority.len, NGHTTP2_NV_FLAG_NONE };
	nva[n++] = (nghttp2_nv){ (uint8_t *)":path", (uint8_t *)sp1 + 1, 5, (size_t)(sp2 - sp1 - 1),
				 NGHTTP2_NV_FLAG_NO_INDEX };
	for (line = le + 2; line < end; line = le + 2) {
		le = memmem(line, (size_t)(end - line), "\r\n", 2);
		char *colon = le ? memchr(line, ':', (size_t)(le - line)) : NULL;
		if (!le || le == line)
			break;
		if (!colon)
			return -EBADMSG;
		if (n == ELEMENTSOF(nva))
			return -E2BIG;
		char *v = colon + 1;
		while (v < le && *v == ' ')
			v++;
		if ((size_t)(colon - line) == 4 && !strncasecmp(line, "host", 4))
			continue;
		/* never in the encoders' tables: these may hold a value */
		nva[n++] = (nghttp2_nv){ (uint8_t *)line, (uint8_t *)v, (size_t)(colon - line),
					 (size_t)(le - v), NGHTTP2_NV_FLAG_NO_INDEX };
	}
	nghttp2_data_provider prd = { .source.ptr = s, .read_callback = req_read };
	int32_t id = nghttp2_submit_request(s->h->up, NULL, nva, n, body ? &prd : NULL, s);
	if (id < 0)
		return -EIO;
	s->uid = id;
	return 0;
}

/* The box's request head is whole: checked, rewritten, sent on. */
static void request_ready(struct hs *s, bool body)
{
	const struct brokertls_session *ss = s->h->ss;
	struct buf head = BUF_INIT(BROKERHTTP_HEAD_MAX + 64),
		   out = BUF_INIT(2 * BROKERHTTP_HEAD_MAX);
	const char *why = "malformed request";
	int status = 400, r;
	if (s->bad) {
		answer(s, 431, "request head too large");
		return;
	}
	if (!STREQ(s->scheme, "https") || !s->method[0] || !s->path.len) {
		answer(s, 400, "a request needs :method, :scheme https and :path");
		return;
	}
	r = buf_printf(&head, "%s %.*s HTTP/1.1\r\n", s->method, (int)s->path.len, s->path.data);
	if (r == 0 && s->authority.len)
		r = buf_printf(&head, "Host: %.*s\r\n", (int)s->authority.len, s->authority.data);
	if (r == 0)
		r = buf_append(&head, s->fields.data, s->fields.len);
	if (r == 0)
		r = buf_append(&head, "\r\n", 2);
	if (r == 0)
		r = brokerhttp_request(head.data, head.len, ss->host, ss->port, ss->s, ss->ns,
				       &s->rq, &out);
	if (r == 1 && !s->authority.len)
		r = -EINVAL; /* the host header alone: :authority is what goes on */
	switch (r) {
	case 1: break;
	case -E2BIG: status = 431, why = "request head too large"; break;
	case -EINVAL: why = ":authority does not name the brokered host"; break;
	case -EACCES:
		status = 403, why = "a placeholder of a secret brokered for another host";
		break;
	case -ENOTSUP: status = 502, why = "the secret cannot go in a header"; break;
	default: break;
	}
	int e = r == 1 ? submit_upstream(s, &out, body) : 0;
	if (e < 0) {
		r = e;
		status = e == -E2BIG ? 431 : 502;
		why = e == -E2BIG ? "more than 128 header fields" : "the upstream refused a stream";
	}
	if (out.data)
		explicit_bzero(out.data, out.cap);
	buf_free(&out);
	buf_free(&head);
	if (r != 1)
		answer(s, status, why);
}

/* The box's side. */

static int box_begin_headers(nghttp2_session *box, const nghttp2_frame *f, void *ud)
{
	struct brokerh2 *h = ud;
	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	struct hs *s = calloc(1, sizeof(*s));
	if (!s)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	s->h = h;
	s->bid = f->hd.stream_id;
	s->path = (struct buf)BUF_INIT(FIELD_MAX);
	s->authority = (struct buf)BUF_INIT(FIELD_MAX);
	s->fields = (struct buf)BUF_INIT(BROKERHTTP_HEAD_MAX);
	s->req.b = (struct buf)BUF_INIT(BODY_MAX);
	s->resp.b = (struct buf)BUF_INIT(BODY_MAX);
	s->resp_fields = (struct buf)BUF_INIT(BROKERHTTP_HEAD_MAX);
	s->trailers = (struct buf)BUF_INIT(BROKERHTTP_HEAD_MAX);
	if (nghttp2_session_set_stream_user_data(box, s->bid, s) != 0) {
		free(s);
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	s->next = h->streams;
	if (h->streams)
		h->streams->prev = s;
	h->streams = s;
	return 0;
}

static int box_header(nghttp2_session *box, const nghttp2_frame *f, const uint8_t *name, size_t nl,
		      const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
	struct hs *s = nghttp2_session_get_stream_user_data(box, f->hd.stream_id);
	if (!s || f->hd.type != NGHTTP2_HEADERS)
		return 0;
	if (f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0; /* the box's trailers: not sent on */
	size_t total = s->path.len + s->authority.len + s->fields.len + nl + vl;
	if (total > BROKERHTTP_HEAD_MAX - 256 || vl > FIELD_MAX) {
		s->bad = true;
		return 0;
	}
	int r = 0;
	if (nl == 7 && !memcmp(name, ":method", 7))
		snprintf(s->method, sizeof(s->method), "%.*s", (int)vl, value);
	else if (nl == 7 && !memcmp(name, ":scheme", 7))
		snprintf(s->scheme, sizeof(s->scheme), "%.*s", (int)vl, value);
	else if (nl == 5 && !memcmp(name, ":path", 5))
		r = buf_append(&s->path, value, vl);
	else if (nl == 10 && !memcmp(name, ":authority", 10))
		r = buf_append(&s->authority, value, vl);
	else if (nl && name[0] != ':')
		r = buf_printf(&s->fields, "%.*s: %.*s\r\n", (int)nl, name, (int)vl, value);
	return r < 0 ? NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE : 0;
}

static int box_frame(nghttp2_session *box, const nghttp2_frame *f, void *ud)
{
	struct hs *s = nghttp2_session_get_stream_user_data(box, f->hd.stream_id);
	bool end = f->hd.flags & NGHTTP2_FLAG_END_STREAM;
	if (!s)
		return 0;
	if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST)
		request_ready(s, !end);
	if (end && (f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA)) {
		s->req.end = true;
		if (s->uid > 0)
			(void)nghttp2_session_resume_data(s->h->up, s->uid);
	}
	return 0;
}

static int box_data(nghttp2_session *box, uint8_t flags, int32_t id, const uint8_t *d, size_t n,
		    void *ud)
{
	struct hs *s = nghttp2_session_get_stream_user_data(box, id);
	if (!s || s->uid <= 0) {
		(void)nghttp2_session_consume(box, id, n); /* answered already: dropped */
		return 0;
	}
	if (pipe_put(&s->req, d, n) < 0)
		return nghttp2_submit_rst_stream(box, NGHTTP2_FLAG_NONE, id,
						 NGHTTP2_FLOW_CONTROL_ERROR);
	(void)nghttp2_session_resume_data(s->h->up, s->uid);
	return 0;
}

static int box_close(nghttp2_session *box, int32_t id, uint32_t code, void *ud)
{
	struct hs *s = nghttp2_session_get_stream_user_data(box, id);
	if (!s)
		return 0;
	if (s->uid > 0) {
		(void)nghttp2_session_set_stream_user_data(s->h->up, s->uid, NULL);
		if (code != NGHTTP2_NO_ERROR || !s->resp.end)
			(void)nghttp2_submit_rst_stream(s->h->up, NGHTTP2_FLAG_NONE, s->uid,
							NGHTTP2_CANCEL);
	}
	report(s);
	(void)nghttp2_session_set_stream_user_data(box, id, NULL);
	hs_free(s);
	return 0;
}

/* The upstream's side. */

static int up_header(nghttp2_session *up, const nghttp2_frame *f, const uint8_t *name, size_t nl,
		     const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
	struct hs *s = nghttp2_session_get_stream_user_data(up, f->hd.stream_id);
	if (!s || f->hd.type != NGHTTP2_HEADERS)
		return 0;
	if (nl == 7 && !memcmp(name, ":status", 7)) {
		s->status = (int)strtol((const char *)value, NULL, 10);
		return 0;
	}
	struct buf *b =
	    f->headers.cat == NGHTTP2_HCAT_HEADERS && s->answered ? &s->trailers : &s->resp_fields;
	size_t at = b->len + nl + 1;
	if (pair_put(b, name, nl, value, vl) < 0)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	(void)brokerhttp_scrub(s->h->ss->s, s->h->ss->ns, b->data + at, vl, true); /* whole */
	return 0;
}

/* The upstream's response head is whole: to the box (a 1xx is dropped). */
static void response_ready(struct hs *s, bool end)
{
	nghttp2_nv nva[1 + 128];
	char code[4];
	if (s->status < 200) {
		buf_reset(&s->resp_fields);
		return;
	}
	snprintf(code, sizeof(code), "%d", s->status);
	nva[0] = (nghttp2_nv){ (uint8_t *)":status", (uint8_t *)code, 7, strlen(code),
			       NGHTTP2_NV_FLAG_NONE };
	size_t n = 1 + pairs(&s->resp_fields, nva + 1, ELEMENTSOF(nva) - 1);
	nghttp2_data_provider prd = { .source.ptr = s, .read_callback = resp_read };
	s->answered = true;
	s->resp.end = end;
	if (nghttp2_submit_response(s->h->box, s->bid, nva, n, end ? NULL : &prd) != 0)
		(void)nghttp2_submit_rst_stream(s->h->box, NGHTTP2_FLAG_NONE, s->bid,
						NGHTTP2_INTERNAL_ERROR);
}

static int up_frame(nghttp2_session *up, const nghttp2_frame *f, void *ud)
{
	struct hs *s = nghttp2_session_get_stream_user_data(up, f->hd.stream_id);
	bool end = f->hd.flags & NGHTTP2_FLAG_END_STREAM;
	if (!s)
		return 0;
	if (f->hd.type == NGHTTP2_HEADERS && !s->answered)
		response_ready(s, end);
	else if (end && (f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA))
		s->resp.end = true;
	if (end && s->answered)
		(void)nghttp2_session_resume_data(s->h->box, s->bid);
	return 0;
}

static int up_data(nghttp2_session *up, uint8_t flags, int32_t id, const uint8_t *d, size_t n,
		   void *ud)
{
	struct hs *s = nghttp2_session_get_stream_user_data(up, id);
	if (!s) {
		(void)nghttp2_session_consume(up, id, n);
		return 0;
	}
	size_t at = s->resp.off == s->resp.b.len ? 0 : s->resp.b.len;
	if (pipe_put(&s->resp, d, n) < 0)
		return nghttp2_submit_rst_stream(up, NGHTTP2_FLAG_NONE, id,
						 NGHTTP2_FLOW_CONTROL_ERROR);
	/* DATA comes in frames: whole values in each are covered */
	(void)brokerhttp_scrub(s->h->ss->s, s->h->ss->ns, s->resp.b.data + at, n, false);
	(void)nghttp2_session_resume_data(s->h->box, s->bid);
	return 0;
}

static int up_close(nghttp2_session *up, int32_t id, uint32_t code, void *ud)
{
	struct hs *s = nghttp2_session_get_stream_user_data(up, id);
	if (!s)
		return 0;
	s->uid = -1;
	if (code != NGHTTP2_NO_ERROR || !s->resp.end)
		(void)nghttp2_submit_rst_stream(s->h->box, NGHTTP2_FLAG_NONE, s->bid,
						code ? code : NGHTTP2_INTERNAL_ERROR);
	return 0;
}

/* The sessions. */

static int setup(struct brokerh2 *h)
{
	nghttp2_session_callbacks *cb = NULL;
	nghttp2_settings_entry box_set[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, BROKERH2_STREAMS_MAX },
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
	};
	nghttp2_settings_entry up_set[] = { { NGHTTP2_SETTINGS_ENABLE_PUSH, 0 } };
	if (nghttp2_option_new(&h->opt) != 0 || nghttp2_session_callbacks_new(&cb) != 0)
		return -ENOMEM;
	/* windows open as bytes leave on the other side (pipe_read) */
	nghttp2_option_set_no_auto_window_update(h->opt, 1);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, box_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, box_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, box_frame);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, box_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, box_close);
	int r = nghttp2_session_server_new2(&h->box, cb, h, h->opt);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, NULL);
	nghttp2_session_callbacks_set_on_header_callback(cb, up_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, up_frame);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, up_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, up_close);
	if (r == 0)
		r = nghttp2_session_client_new2(&h->up, cb, h, h->opt);
	nghttp2_session_callbacks_del(cb);
	if (r == 0)
		r = nghttp2_submit_settings(h->box, NGHTTP2_FLAG_NONE, box_set,
					    ELEMENTSOF(box_set));
	if (r == 0)
		r = nghttp2_submit_settings(h->up, NGHTTP2_FLAG_NONE, up_set, ELEMENTSOF(up_set));
	return r == 0 ? 0 : -ENOMEM;
}

int brokerh2_new(const struct brokertls_session *ss, struct brokerh2 **ret)
{
	struct brokerh2 *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->ss = ss;
	int r = setup(h);
	if (r < 0) {
		brokerh2_free(h);
		return r;
	}
	*ret = h;
	return 0;
}

void brokerh2_free(struct brokerh2 *h)
{
	if (!h)
		return;
	if (h->box)
		nghttp2_session_del(h->box);
	if (h->up)
		nghttp2_session_del(h->up);
	if (h->opt)
		nghttp2_option_del(h->opt);
	/* the streams still open when the connection ended */
	while (h->streams) {
		report(h->streams);
		hs_free(h->streams);
	}
	free(h);
}

int brokerh2_from_box(struct brokerh2 *h, const uint8_t *d, size_t n)
{
	return nghttp2_session_mem_recv(h->box, d, n) < 0 ? -EPROTO : 0;
}

void brokerh2_up_gone(struct brokerh2 *h)
{
	if (h->up_gone)
		return;
	h->up_gone = true;
	(void)nghttp2_session_terminate_session(h->box, NGHTTP2_NO_ERROR);
}

int brokerh2_from_up(struct brokerh2 *h, const uint8_t *d, size_t n)
{
	if (h->up_gone)
		return -EPIPE;
	if (nghttp2_session_mem_recv(h->up, d, n) >= 0)
		return 0;
	brokerh2_up_gone(h);
	return -EPROTO;
}

ssize_t brokerh2_to_box(struct brokerh2 *h, const uint8_t **d)
{
	ssize_t n = nghttp2_session_mem_send(h->box, d);
	return n < 0 ? -EIO : n;
}

ssize_t brokerh2_to_up(struct brokerh2 *h, const uint8_t **d)
{
	ssize_t n = h->up_gone ? 0 : nghttp2_session_mem_send(h->up, d);
	return n < 0 ? -EIO : n;
}

bool brokerh2_done(const struct brokerh2 *h)
{
	return !nghttp2_session_want_read(h->box) && !nghttp2_session_want_write(h->box);
}

/* The loop over TLS. */

struct tls_io {
	const struct brokertls_session *ss;
	SSL *bssl, *ussl;
};

/* Write n bytes of d to ssl on fd. 0 or < 0. */
static int tls_write(const struct tls_io *io, SSL *ssl, int fd, const uint8_t *d, ssize_t n)
{
	int64_t deadline = clock_ms() + io->ss->idle_ms;
	while (n > 0) {
		int k = SSL_write(ssl, d, (int)n);
		if (k > 0) {
			d += k;
			n -= k;
			continue;
		}
		int e = SSL_get_error(ssl, k);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			return -EPIPE;
		struct pollfd p = { fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, 0 };
		int64_t left = deadline - clock_ms();
		if (left <= 0 || poll(&p, 1, (int)left) < 0)
			return -ETIMEDOUT;
	}
	return 0;
}

/* Send what the box's side (box) or the upstream's has. 0 or < 0. */
static int flush(struct brokerh2 *h, const struct tls_io *io, bool box)
{
	const uint8_t *d;
	ssize_t n;
	while ((n = box ? brokerh2_to_box(h, &d) : brokerh2_to_up(h, &d)) > 0) {
		int r = box ? tls_write(io, io->bssl, io->ss->cfd, d, n)
			    : tls_write(io, io->ussl, io->ss->ufd, d, n);
		if (r < 0)
			return r;
	}
	return n < 0 ? -EIO : 0;
}

/* Read what ssl has: > 0 bytes into b, 0 nothing now, -EPIPE at its end. */
static int tls_read(SSL *ssl, uint8_t *b, size_t n)
{
	int k = SSL_read(ssl, b, (int)n);
	if (k > 0)
		return k;
	int e = SSL_get_error(ssl, k);
	return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -EPIPE;
}

/* One turn: send what both sides have, wait, read. 0 to go on, else why
 * it ends (1: the box's session is done). */
static int turn(struct brokerh2 *h, const struct tls_io *io)
{
	const struct brokertls_session *ss = io->ss;
	uint8_t b[IO_BUF];
	if (!h->up_gone && flush(h, io, false) < 0)
		brokerh2_up_gone(h);
	if (flush(h, io, true) < 0)
		return -EPIPE;
	if (brokerh2_done(h))
		return 1;
	bool bp = SSL_pending(io->bssl) > 0, up = !h->up_gone && SSL_pending(io->ussl) > 0;
	struct pollfd p[3] = { { ss->cfd, POLLIN, 0 },
			       { h->up_gone ? -1 : ss->ufd, POLLIN, 0 },
			       { ss->stop_fd, POLLIN, 0 } };
	if (!bp && !up) {
		int k = poll(p, 3, ss->idle_ms);
		if (k == 0)
			return -ETIMEDOUT;
		if (k < 0)
			return errno == EINTR ? 0 : -errno;
		if (p[2].revents)
			return -ECANCELED;
	}
	if (bp || p[0].revents) {
		int k = tls_read(io->bssl, b, sizeof(b));
		if (k < 0)
			return k;
		if (k > 0 && brokerh2_from_box(h, b, (size_t)k) < 0)
			return -EPROTO;
	}
	if (up || p[1].revents) {
		int k = tls_read(io->ussl, b, sizeof(b));
		if (k < 0)
			brokerh2_up_gone(h);
		else if (k > 0)
			(void)brokerh2_from_up(h, b, (size_t)k);
	}
	return 0;
}

void brokerh2_serve(const struct brokertls_session *ss, SSL *box, SSL *up)
{
	struct tls_io io = { .ss = ss, .bssl = box, .ussl = up };
	struct brokerh2 *h = NULL;
	int r = brokerh2_new(ss, &h);
	while (r == 0)
		r = turn(h, &io);
	if (r == -EPROTO)
		refused_ss(ss, "request", 0, "malformed HTTP/2 from the box");
	else if (r == -ETIMEDOUT)
		refused_ss(ss, "request", 0, "idle");
	brokerh2_free(h);
}
