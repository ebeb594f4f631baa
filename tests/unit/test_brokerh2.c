/* src/net/brokerh2.c: HTTP/2 on the brokered path, without TLS: a "box"
 * client session and an "upstream" server session (libnghttp2's own) with
 * brokerh2 between them, bytes handed across in memory. */
#include "unit.h"

#include "net/brokerh2.h"
#include "net/h2lib.h"

#define HOST "api.example.com"

static const struct broker_inject key_header[] = { { BROKER_HEADER, "x-api-key" } };
static const struct brokerhttp_secret secrets[] = {
	{ "PLACEHOLDR-1", 12, "REAL-VALUE-1", 12, key_header, 1, true },
	{ "OTHERHOLD-22", 12, "OTHER-VALUE2", 12, key_header, 1, false },
};

/* One side's view: the fields and body it got, how its stream ended. */
struct peer {
	nghttp2_session *s;
	char fields[2048], body[2048];
	bool ended;      /* the stream ended (END_STREAM seen) */
	uint32_t closed; /* 1 + the stream's close code */
	/* the upstream's answer, sent once the request has ended */
	const char *answer;
	bool trailers;
};

static int reports, last_status;
static uint32_t last_used;
static char refusal[256];

static void on_request(void *ctx, const struct brokerhttp_req *rq, int status, uint64_t out,
		       uint64_t in, const struct brokerhttp_secret *s, size_t ns)
{
	reports++;
	last_status = status;
	last_used = rq->used;
}

static void on_refused(void *ctx, const char *what, int status, const char *why)
{
	snprintf(refusal, sizeof(refusal), "%s %d %s", what, status, why);
}

static const struct brokertls_report rep = { on_request, on_refused, NULL };
static const struct brokertls_session ss = { .cfd = -1,
					     .ufd = -1,
					     .host = HOST,
					     .port = 443,
					     .s = secrets,
					     .ns = 2,
					     .stop_fd = -1,
					     .report = &rep };

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
		     const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
	struct peer *p = ud;
	size_t at = strlen(p->fields);
	snprintf(p->fields + at, sizeof(p->fields) - at, "%.*s: %.*s\n", (int)nl, name, (int)vl,
		 value);
	return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *d, size_t n,
		   void *ud)
{
	struct peer *p = ud;
	size_t at = strlen(p->body);
	snprintf(p->body + at, sizeof(p->body) - at, "%.*s", (int)n, d);
	return 0;
}

static ssize_t answer_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
			   uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	struct peer *p = ud;
	size_t n = strlen(src->ptr);
	memcpy(buf, src->ptr, n);
	*flags |= NGHTTP2_DATA_FLAG_EOF;
	if (p->trailers) {
		static const nghttp2_nv t[] = { { (uint8_t *)"grpc-status", (uint8_t *)"0", 11, 1,
						  NGHTTP2_NV_FLAG_NONE } };
		*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
		nghttp2_submit_trailer(s, id, t, 1);
	}
	return (ssize_t)n;
}

static int on_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct peer *p = ud;
	if (!(f->hd.flags & NGHTTP2_FLAG_END_STREAM) ||
	    (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA))
		return 0;
	p->ended = true;
	if (p->answer) { /* the upstream answers, echoing the key as a careless API might */
		static const nghttp2_nv h[] = {
			{ (uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE },
			{ (uint8_t *)"x-echo", (uint8_t *)"REAL-VALUE-1", 6, 12,
			  NGHTTP2_NV_FLAG_NONE },
		};
		nghttp2_data_provider prd = { .source.ptr = (void *)p->answer,
					      .read_callback = answer_read };
		CHECK_INT(nghttp2_submit_response(s, f->hd.stream_id, h, 2, &prd), 0);
	}
	return 0;
}

static int on_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
	struct peer *p = ud;
	p->closed = 1 + code;
	return 0;
}

static void peer_new(struct peer *p, bool server)
{
	nghttp2_session_callbacks *cb;
	memset(p, 0, sizeof(*p));
	CHECK_INT(nghttp2_session_callbacks_new(&cb), 0);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
	CHECK_INT(server ? nghttp2_session_server_new2(&p->s, cb, p, NULL)
			 : nghttp2_session_client_new2(&p->s, cb, p, NULL),
		  0);
	nghttp2_session_callbacks_del(cb);
	CHECK_INT(nghttp2_submit_settings(p->s, NGHTTP2_FLAG_NONE, NULL, 0), 0);
}

/* Hand bytes across until nothing moves. */
static void pump(struct brokerh2 *h, struct peer *box, struct peer *up)
{
	for (int moved = 1, turns = 0; moved && turns < 1000; turns++) {
		const uint8_t *d;
		ssize_t n;
		moved = 0;
		while ((n = brokerh2_to_box(h, &d)) > 0 && ++moved)
			CHECK(nghttp2_session_mem_recv(box->s, d, (size_t)n) == n);
		while ((n = nghttp2_session_mem_send(box->s, &d)) > 0 && ++moved)
			CHECK_INT(brokerh2_from_box(h, d, (size_t)n), 0);
		while ((n = brokerh2_to_up(h, &d)) > 0 && ++moved)
			CHECK(nghttp2_session_mem_recv(up->s, d, (size_t)n) == n);
		while ((n = nghttp2_session_mem_send(up->s, &d)) > 0 && ++moved)
			CHECK_INT(brokerh2_from_up(h, d, (size_t)n), 0);
	}
}

/* A request from the box with a key field, a body when body. */
static void request(struct peer *box, const char *authority, const char *key, const char *body)
{
	nghttp2_nv h[] = {
		{ (uint8_t *)":method", (uint8_t *)(body ? "POST" : "GET"), 7, body ? 4 : 3, 0 },
		{ (uint8_t *)":scheme", (uint8_t *)"https", 7, 5, 0 },
		{ (uint8_t *)":authority", (uint8_t *)authority, 10, strlen(authority), 0 },
		{ (uint8_t *)":path", (uint8_t *)"/v1/x?a=1", 5, 9, 0 },
		{ (uint8_t *)"x-api-key", (uint8_t *)key, 9, strlen(key), 0 },
	};
	nghttp2_data_provider prd = { .source.ptr = (void *)body, .read_callback = answer_read };
	CHECK(nghttp2_submit_request(box->s, NULL, h, ELEMENTSOF(h), body ? &prd : NULL, NULL) ==
	      1);
}

static void setup(struct brokerh2 **h, struct peer *box, struct peer *up)
{
	reports = last_status = 0;
	last_used = 0;
	refusal[0] = '\0';
	CHECK_INT(brokerh2_new(&ss, h), 0);
	peer_new(box, false);
	peer_new(up, true);
}

static void teardown(struct brokerh2 *h, struct peer *box, struct peer *up)
{
	brokerh2_free(h);
	nghttp2_session_del(box->s);
	nghttp2_session_del(up->s);
}

TEST(brokerh2_puts_the_value_in_and_scrubs_the_answer)
{
	static struct peer box, up;
	struct brokerh2 *h;
	if (h2lib_load(NULL) < 0)
		SKIP("no libnghttp2");
	setup(&h, &box, &up);
	up.answer = "hi REAL-VALUE-1";
	up.trailers = true;
	request(&box, HOST, "PLACEHOLDR-1", "body PLACEHOLDR-1");
	pump(h, &box, &up);
	/* the upstream: the value in the field, the body unchanged */
	CHECK(strstr(up.fields, "x-api-key: REAL-VALUE-1\n") != NULL);
	CHECK(strstr(up.fields, ":authority: " HOST "\n") != NULL);
	CHECK(strstr(up.fields, ":path: /v1/x?a=1\n") != NULL);
	CHECK_STREQ(up.body, "body PLACEHOLDR-1");
	/* the box: the echo as the placeholder, the trailer, never the value */
	CHECK(strstr(box.fields, ":status: 200\n") != NULL);
	CHECK(strstr(box.fields, "x-echo: PLACEHOLDR-1\n") != NULL);
	CHECK(strstr(box.fields, "grpc-status: 0\n") != NULL);
	CHECK_STREQ(box.body, "hi PLACEHOLDR-1");
	CHECK(box.ended && box.closed == 1);
	CHECK_INT(reports, 1);
	CHECK_INT(last_status, 200);
	CHECK_INT((int)last_used, 1);
	CHECK_STREQ(refusal, "");
	teardown(h, &box, &up);
}

TEST(brokerh2_refuses_what_http1_refuses)
{
	static struct peer box, up;
	struct brokerh2 *h;
	if (h2lib_load(NULL) < 0)
		SKIP("no libnghttp2");
	/* the placeholder of a secret brokered for another host: 403 */
	setup(&h, &box, &up);
	request(&box, HOST, "OTHERHOLD-22", NULL);
	pump(h, &box, &up);
	CHECK(strstr(box.fields, ":status: 403\n") != NULL);
	CHECK(strstr(box.body, "brokered for another host") != NULL);
	CHECK(strstr(refusal, "request 403") == refusal);
	CHECK_STREQ(up.fields, "");
	CHECK_INT(reports, 0);
	teardown(h, &box, &up);
	/* more header fields than the proxy sends on: 431, nothing dropped silently */
	setup(&h, &box, &up);
	{
		static nghttp2_nv many[4 + 130];
		static char names[130][8];
		many[0] = (nghttp2_nv){ (uint8_t *)":method", (uint8_t *)"GET", 7, 3, 0 };
		many[1] = (nghttp2_nv){ (uint8_t *)":scheme", (uint8_t *)"https", 7, 5, 0 };
		many[2] =
		    (nghttp2_nv){ (uint8_t *)":authority", (uint8_t *)HOST, 10, strlen(HOST), 0 };
		many[3] = (nghttp2_nv){ (uint8_t *)":path", (uint8_t *)"/", 5, 1, 0 };
		for (int i = 0; i < 130; i++) {
			snprintf(names[i], sizeof(names[i]), "x-%d", i);
			many[4 + i] = (nghttp2_nv){ (uint8_t *)names[i], (uint8_t *)"v",
						    strlen(names[i]), 1, 0 };
		}
		CHECK(nghttp2_submit_request(box.s, NULL, many, ELEMENTSOF(many), NULL, NULL) == 1);
	}
	pump(h, &box, &up);
	CHECK(strstr(box.fields, ":status: 431\n") != NULL);
	CHECK_STREQ(up.fields, "");
	teardown(h, &box, &up);
	/* an :authority that is not the brokered host: 400 */
	setup(&h, &box, &up);
	request(&box, "evil.example", "PLACEHOLDR-1", NULL);
	pump(h, &box, &up);
	CHECK(strstr(box.fields, ":status: 400\n") != NULL);
	CHECK_STREQ(up.fields, "");
	teardown(h, &box, &up);
}

TEST(brokerh2_box_reset_cancels_upstream)
{
	static struct peer box, up;
	struct brokerh2 *h;
	if (h2lib_load(NULL) < 0)
		SKIP("no libnghttp2");
	setup(&h, &box, &up);
	request(&box, HOST, "PLACEHOLDR-1", NULL); /* the upstream never answers */
	pump(h, &box, &up);
	CHECK(up.ended && !up.closed);
	CHECK_INT(nghttp2_submit_rst_stream(box.s, NGHTTP2_FLAG_NONE, 1, NGHTTP2_CANCEL), 0);
	pump(h, &box, &up);
	CHECK_INT((int)up.closed, 1 + NGHTTP2_CANCEL);
	CHECK_INT(reports, 1); /* reported, with no status */
	CHECK_INT(last_status, 0);
	teardown(h, &box, &up);
}
