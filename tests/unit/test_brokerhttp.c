/* src/net/brokerhttp.c: requests to a brokered host, rewritten. */
#include "unit.h"

#include "net/brokerhttp.h"

static const struct broker_inject anth[] = { { BROKER_HEADER, "x-api-key" },
					     { BROKER_AUTHORIZATION, "" } };
static const struct broker_inject tg[] = { { BROKER_PATH, "" }, { BROKER_QUERY, "key" } };
static const struct broker_inject other[] = { { BROKER_AUTHORIZATION, "" } };

/* K: brokered here, T: here (path, query), O: brokered for another host. */
static struct brokerhttp_secret secrets[] = {
	{ "sk-ant-PLACEHOLDER1", 19, "sk-ant-REALVALUE111", 19, anth, 2, true },
	{ "123:TGPLACEHOLDER", 17, "123:TG/REAL VALUE", 17, tg, 2, true },
	{ "ghp_OTHERPLACEHOLD", 18, "ghp_OTHERREALVALUE", 18, other, 1, false },
};

static char out_text[8192];

/* The request in, its rewrite in out_text; the return code. */
static int req(const char *in, struct brokerhttp_req *r)
{
	struct buf out = BUF_INIT(65536);
	int e = brokerhttp_request(in, strlen(in), "api.anthropic.com", 443, secrets, 3, r, &out);
	snprintf(out_text, sizeof(out_text), "%.*s", (int)out.len, out.data ? out.data : "");
	buf_free(&out);
	return e;
}

TEST(brokerhttp_puts_values_where_rules_say)
{
	struct brokerhttp_req r;
	CHECK_INT(req("POST /v1/messages HTTP/1.1\r\nHost: api.anthropic.com\r\n"
		      "x-api-key: sk-ant-PLACEHOLDER1\r\nX-Other: sk-ant-PLACEHOLDER1\r\n"
		      "Content-Length: 5\r\n\r\nhello",
		      &r),
		  1);
	CHECK_STREQ(out_text, "POST /v1/messages HTTP/1.1\r\nHost: api.anthropic.com\r\n"
			      "x-api-key: sk-ant-REALVALUE111\r\nX-Other: sk-ant-PLACEHOLDER1\r\n"
			      "Content-Length: 5\r\n\r\n");
	CHECK_INT(r.used, 1);
	CHECK(r.body_len == 5 && !r.chunked && !r.close);
	CHECK_STREQ(r.method, "POST");
	CHECK_STREQ(r.path, "/v1/messages");
	/* Bearer, and Basic's password */
	CHECK_INT(req("GET / HTTP/1.1\r\nHost: api.anthropic.com:443\r\n"
		      "Authorization: Bearer sk-ant-PLACEHOLDER1\r\n\r\n",
		      &r),
		  1);
	CHECK(strstr(out_text, "Authorization: Bearer sk-ant-REALVALUE111\r\n") != NULL);
	/* base64("x:sk-ant-PLACEHOLDER1") */
	CHECK_INT(req("GET / HTTP/1.1\r\nHost: api.anthropic.com\r\n"
		      "Authorization: Basic eDpzay1hbnQtUExBQ0VIT0xERVIx\r\n\r\n",
		      &r),
		  1);
	/* base64("x:sk-ant-REALVALUE111") */
	CHECK(strstr(out_text, "Authorization: Basic eDpzay1hbnQtUkVBTFZBTFVFMTEx\r\n") != NULL);
	/* path and query, percent-encoded as each part needs */
	CHECK_INT(
	    req("GET /bot123:TGPLACEHOLDER/getMe?a=1&key=123:TGPLACEHOLDER&b=123:TGPLACEHOLDER "
		"HTTP/1.1\r\nHost: api.anthropic.com\r\nConnection: close\r\n\r\n",
		&r),
	    1);
	CHECK(strstr(out_text,
		     "GET /bot123:TG%2FREAL%20VALUE/getMe?a=1&key=123%3ATG%2FREAL%20VALUE&"
		     "b=123:TGPLACEHOLDER HTTP/1.1\r\n") == out_text);
	CHECK(r.close && r.used == 2);
	/* a client that percent-encodes the query's values (Python's quote) */
	CHECK_INT(
	    req("GET /x?key=123%3aTGPLACEHOLDER&b=1 HTTP/1.1\r\nHost: api.anthropic.com\r\n\r\n",
		&r),
	    1);
	CHECK(strstr(out_text, "GET /x?key=123%3ATG%2FREAL%20VALUE&b=1 HTTP/1.1\r\n") == out_text);
	CHECK_INT(
	    req("GET /x?key=123%3aTGPLACEHOLDEr HTTP/1.1\r\nHost: api.anthropic.com\r\n\r\n", &r),
	    1);
	CHECK(strstr(out_text, "GET /x?key=123%3aTGPLACEHOLDEr HTTP/1.1\r\n") == out_text);
	/* a placeholder in the body only: nothing to do, nothing refused */
	CHECK_INT(req("POST / HTTP/1.1\r\nHost: api.anthropic.com\r\nContent-Length: 18\r\n\r\n"
		      "ghp_OTHERPLACEHOLD",
		      &r),
		  1);
	CHECK_INT(r.used, 0);
	/* Expect: 100-continue is the proxy's to answer: not sent on */
	CHECK_INT(req("POST / HTTP/1.1\r\nHost: api.anthropic.com\r\nExpect: 100-Continue\r\n"
		      "Content-Length: 3\r\n\r\n",
		      &r),
		  1);
	CHECK(r.expect_continue && r.body_len == 3);
	CHECK_STREQ(out_text,
		    "POST / HTTP/1.1\r\nHost: api.anthropic.com\r\nContent-Length: 3\r\n\r\n");
	CHECK_INT(req("POST / HTTP/1.1\r\nHost: api.anthropic.com\r\nExpect: other\r\n\r\n", &r),
		  1);
	CHECK(!r.expect_continue && strstr(out_text, "Expect: other\r\n") != NULL);
}

TEST(brokerhttp_refuses)
{
	struct brokerhttp_req r;
	static const struct {
		const char *in;
		int code;
	} bad[] = {
		/* a key brokered for another host, anywhere in the head */
		{ "GET / HTTP/1.1\r\nHost: api.anthropic.com\r\nX-Leak: ghp_OTHERPLACEHOLD\r\n\r\n",
		  -EACCES },
		{ "GET /?q=ghp_OTHERPLACEHOLD HTTP/1.1\r\nHost: api.anthropic.com\r\n\r\n",
		  -EACCES },
		/* smuggling */
		{ "POST / HTTP/1.1\r\nHost: api.anthropic.com\r\nContent-Length: 3\r\n"
		  "Transfer-Encoding: chunked\r\n\r\n",
		  -EBADMSG },
		{ "POST / HTTP/1.1\r\nHost: api.anthropic.com\r\nTransfer-Encoding: gzip, "
		  "chunked\r\n\r\n",
		  -EBADMSG },
		{ "POST / HTTP/1.1\r\nHost: api.anthropic.com\r\nTransfer-Encoding: chunked\r\n"
		  "Transfer-Encoding: chunked\r\n\r\n",
		  -EBADMSG },
		{ "POST / HTTP/1.1\r\nHost: api.anthropic.com\r\nContent-Length: 3\r\n"
		  "Content-Length: 4\r\n\r\n",
		  -EBADMSG },
		{ "POST / HTTP/1.1\r\nHost: api.anthropic.com\r\nContent-Length: +3\r\n\r\n",
		  -EBADMSG },
		/* header injection, folding, forms */
		{ "GET / HTTP/1.1\r\nHost: api.anthropic.com\r\nX-A: a\rInjected: 1\r\n\r\n",
		  -EBADMSG },
		{ "GET / HTTP/1.1\r\nHost: api.anthropic.com\r\nX-A: a\nInjected: 1\r\n\r\n",
		  -EBADMSG },
		{ "GET / HTTP/1.1\r\nHost: api.anthropic.com\r\nX-A: a\r\n b\r\n\r\n", -EBADMSG },
		{ "GET / HTTP/1.1\r\nHost: api.anthropic.com\r\nX A: a\r\n\r\n", -EBADMSG },
		{ "GET http://evil.example/ HTTP/1.1\r\nHost: api.anthropic.com\r\n\r\n",
		  -EBADMSG },
		{ "GET /#x HTTP/1.1\r\nHost: api.anthropic.com\r\n\r\n", -EBADMSG },
		/* the destination */
		{ "GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n", -EINVAL },
		{ "GET / HTTP/1.1\r\nHost: api.anthropic.com:8443\r\n\r\n", -EINVAL },
		{ "GET / HTTP/1.1\r\nHost: api.anthropic.com\r\nHost: api.anthropic.com\r\n\r\n",
		  -EINVAL },
		{ "GET / HTTP/1.1\r\nX: y\r\n\r\n", -EINVAL },
		{ "GET / HTTP/2.0\r\nHost: api.anthropic.com\r\n\r\n", -EPROTONOSUPPORT },
		{ "GET / HTTP/1.1\r\nHost: api.anthropic.com\r\nX: \x01\r\n\r\n", -EBADMSG },
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		int e = req(bad[i].in, &r);
		if (e != bad[i].code)
			fprintf(stderr, "case %zu: %s\n", i, bad[i].in);
		CHECK_INT(e, bad[i].code);
	}
	/* incomplete, then too long */
	CHECK_INT(req("GET / HTTP/1.1\r\nHost: api.anthropic.com\r\n", &r), 0);
	static char big[BROKERHTTP_HEAD_MAX + 100];
	memset(big, 'a', sizeof(big) - 1);
	CHECK_INT(req(big, &r), -E2BIG);
	/* a value a header cannot hold */
	struct brokerhttp_secret crlf = {
		"sk-ant-PLACEHOLDER1", 19, "a\r\nInjected: 1", 14, anth, 1, true
	};
	struct buf out = BUF_INIT(65536);
	const char *in =
	    "GET / HTTP/1.1\r\nHost: api.anthropic.com\r\nx-api-key: sk-ant-PLACEHOLDER1\r\n\r\n";
	CHECK_INT(brokerhttp_request(in, strlen(in), "api.anthropic.com", 443, &crlf, 1, &r, &out),
		  -ENOTSUP);
	buf_free(&out);
}

static int resp(const char *in, const char *method, struct brokerhttp_resp *r)
{
	return brokerhttp_response(in, strlen(in), method, r);
}

TEST(brokerhttp_response_framing)
{
	struct brokerhttp_resp r;
	CHECK_INT(resp("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", "GET", &r), 1);
	CHECK(r.status == 200 && r.has_len && r.body_len == 12 && !r.close && !r.until_close);
	CHECK_INT(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "POST", &r), 1);
	CHECK(r.chunked && !r.has_len && !r.close);
	CHECK_INT(resp("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", "HEAD", &r), 1);
	CHECK(r.has_len && r.body_len == 0);
	CHECK_INT(resp("HTTP/1.1 204 No Content\r\n\r\n", "GET", &r), 1);
	CHECK(r.has_len && r.body_len == 0 && !r.until_close);
	CHECK_INT(resp("HTTP/1.1 100 Continue\r\n\r\n", "POST", &r), 1);
	CHECK(r.status == 100);
	CHECK_INT(resp("HTTP/1.1 200 OK\r\n\r\n", "GET", &r), 1);
	CHECK(r.until_close && r.close);
	/* both: the length ignored, the connection not kept */
	CHECK_INT(resp("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
		       "GET", &r),
		  1);
	CHECK(r.chunked && !r.has_len && r.close);
	CHECK_INT(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "GET", &r), 1);
	CHECK(r.until_close && r.close);
	CHECK_INT(resp("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", "GET", &r), 1);
	CHECK(r.close);
	CHECK_INT(resp("HTTP/1.1 20 OK\r\n\r\n", "GET", &r), -EBADMSG);
	CHECK_INT(resp("HTTP/2 200 OK\r\n\r\n", "GET", &r), -EBADMSG);
	CHECK_INT(
	    resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "GET", &r),
	    -EBADMSG);
	CHECK_INT(resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n", "GET", &r), 0);
}

/* Feed body in pieces of step bytes; the bytes used until done. */
static int chunks(const char *body, size_t step, size_t *ret_used, bool *ret_done)
{
	struct brokerhttp_chunks c = { 0 };
	size_t n = strlen(body), total = 0;
	*ret_done = false;
	for (size_t i = 0; i < n && !*ret_done; i += step) {
		size_t used, k = n - i < step ? n - i : step;
		int e = brokerhttp_chunks_feed(&c, body + i, k, &used, ret_done);
		if (e < 0)
			return e;
		total += used;
	}
	*ret_used = total;
	return 0;
}

TEST(brokerhttp_chunked_bodies)
{
	static const char body[] = "5\r\nhello\r\n1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n"
				   "Trailer: x\r\n\r\nNEXT REQUEST";
	size_t used;
	bool done;
	for (size_t step = 1; step < sizeof(body); step++) {
		CHECK_INT(chunks(body, step, &used, &done), 0);
		CHECK(done);
		CHECK_INT(used, sizeof(body) - 1 - strlen("NEXT REQUEST"));
	}
	CHECK_INT(chunks("0\r\n\r\n", 1, &used, &done), 0);
	CHECK(done && used == 5);
	CHECK_INT(chunks("5\r\nhel", 2, &used, &done), 0);
	CHECK(!done && used == 6);
	CHECK_INT(chunks("x\r\n", 1, &used, &done), -EBADMSG);
	CHECK_INT(chunks("5\r\nhelloXX", 1, &used, &done), -EBADMSG);
	CHECK_INT(chunks("5\nhello\r\n", 1, &used, &done), -EBADMSG);
	CHECK_INT(chunks("ffffffffffffffff\r\n", 1, &used, &done), -EBADMSG);
}

TEST(brokerhttp_scrub_covers_values)
{
	static const struct brokerhttp_secret s[] = {
		{ "PH-12345", 8, "VALUE-01", 8, anth, 2, true },
		{ "LONGPLACEHOLDER", 15, "SHORT-99", 8, anth, 2, false }, /* lengths differ: '*' */
	};
	char b[64];
	/* whole values, any of them, here or not */
	snprintf(b, sizeof(b), "a VALUE-01 b SHORT-99 VALUE-01");
	CHECK_INT((int)brokerhttp_scrub(s, 2, b, strlen(b), false), 0);
	CHECK_STREQ(b, "a PH-12345 b ******** PH-12345");
	/* a tail that may begin a value: kept back, or covered when final */
	snprintf(b, sizeof(b), "x VALUE-");
	CHECK_INT((int)brokerhttp_scrub(s, 2, b, strlen(b), false), 6);
	CHECK_STREQ(b, "x VALUE-");
	CHECK_INT((int)brokerhttp_scrub(s, 2, b, strlen(b), true), 0);
	CHECK_STREQ(b, "x PH-123");
	/* nothing that looks like a value: nothing held, nothing changed */
	snprintf(b, sizeof(b), "VALUE-0 is not it");
	CHECK_INT((int)brokerhttp_scrub(s, 2, b, strlen(b), false), 0);
	CHECK_STREQ(b, "VALUE-0 is not it");
}
