#include "unit.h"
#include "net/httpproxy.h"

static int parse(const char *s, struct httpreq *r, struct buf *fwd)
{
	buf_reset(fwd);
	return httpreq_parse(s, strlen(s), r, fwd);
}

TEST(httpreq_forms)
{
	struct httpreq r;
	_cleanup_buf_ struct buf fwd = BUF_INIT(HTTPREQ_HEAD_MAX + 64);
	CHECK_INT(
	    parse("CONNECT api.x.com:443 HTTP/1.1\r\nHost: api.x.com:443\r\n\r\nHELLO", &r, &fwd),
	    1);
	CHECK(r.connect);
	CHECK_STREQ(r.host, "api.x.com");
	CHECK_INT(r.port, 443);
	CHECK_INT(r.head_len,
		  strlen("CONNECT api.x.com:443 HTTP/1.1\r\nHost: api.x.com:443\r\n\r\n"));

	CHECK_INT(
	    parse("GET http://Good.test/a?b=1 HTTP/1.1\r\nHost: good.test\r\n"
		  "Proxy-Connection: keep-alive\r\nConnection: keep-alive\r\nAccept: */*\r\n\r\n",
		  &r, &fwd),
	    1);
	CHECK(!r.connect);
	CHECK_STREQ(r.host, "Good.test");
	CHECK_INT(r.port, 80);
	CHECK_STREQ(fwd.data, "GET /a?b=1 HTTP/1.1\r\nHost: good.test\r\nAccept: */*\r\n"
			      "Connection: close\r\n\r\n");

	CHECK_INT(parse("GET http://h.test:8080 HTTP/1.0\r\n\r\n", &r, &fwd), 1);
	CHECK_INT(r.port, 8080);
	CHECK_STREQ(fwd.data, "GET / HTTP/1.0\r\nHost: h.test:8080\r\nConnection: close\r\n\r\n");

	CHECK_INT(
	    parse("POST /x HTTP/1.1\r\nHost: o.test:81\r\nContent-Length: 3\r\n\r\nabc", &r, &fwd),
	    1);
	CHECK_STREQ(r.host, "o.test");
	CHECK_INT(r.port, 81);

	CHECK_INT(parse("GET http://[2001:db8::1]:8080/ HTTP/1.1\r\n\r\n", &r, &fwd), 1);
	CHECK_STREQ(fwd.data,
		    "GET / HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\nConnection: close\r\n\r\n");
	CHECK_INT(parse("CONNECT [2001:db8::1]:443 HTTP/1.1\r\n\r\n", &r, &fwd), 1);
	CHECK_STREQ(r.host, "2001:db8::1");
}

TEST(httpreq_bad_input)
{
	struct httpreq r;
	_cleanup_buf_ struct buf fwd = BUF_INIT(HTTPREQ_HEAD_MAX + 64);
	CHECK_INT(parse("GET http://a.test/ HTTP/1.1\r\nHost: a.test\r\n", &r, &fwd), 0);
	CHECK_INT(parse("CONNECT a.test HTTP/1.1\r\n\r\n", &r, &fwd), -EINVAL);
	CHECK_INT(parse("CONNECT a.test:0 HTTP/1.1\r\n\r\n", &r, &fwd), -EINVAL);
	CHECK_INT(parse("CONNECT a.test:99999 HTTP/1.1\r\n\r\n", &r, &fwd), -EINVAL);
	CHECK_INT(parse("GET http://a.test/ HTTP/1.1\r\nHost: b.test\r\n\r\n", &r, &fwd), -EINVAL);
	CHECK_INT(
	    parse("GET http://a.test/ HTTP/1.1\r\nHost: a.test\r\nHost: a.test\r\n\r\n", &r, &fwd),
	    -EINVAL);
	CHECK_INT(parse("GET http://u:p@a.test/ HTTP/1.1\r\n\r\n", &r, &fwd), -EINVAL);
	CHECK_INT(parse("GET https://a.test/ HTTP/1.1\r\n\r\n", &r, &fwd), -EPROTONOSUPPORT);
	CHECK_INT(parse("GET http://a.test/ HTTP/2.0\r\n\r\n", &r, &fwd), -EPROTONOSUPPORT);
	CHECK_INT(parse("GET / HTTP/1.1\r\n\r\n", &r, &fwd), -EINVAL); /* no Host */
	CHECK_INT(parse("GET http://a.test/ HTTP/1.1\r\n folded\r\n\r\n", &r, &fwd), -EBADMSG);
	CHECK_INT(parse("GET http://a.test/ HTTP/1.1\r\nX : y\r\n\r\n", &r, &fwd), -EBADMSG);
	CHECK_INT(parse("GET http://a.test/ HTTP/1.1\r\nX\r\n\r\n", &r, &fwd), -EBADMSG);
	CHECK_INT(parse("GET  http://a.test/ HTTP/1.1\r\n\r\n", &r, &fwd), -EBADMSG);
	CHECK_INT(parse("G(T http://a.test/ HTTP/1.1\r\n\r\n", &r, &fwd), -EBADMSG);
	CHECK_INT(parse("GET http://a.test/\x01 HTTP/1.1\r\n\r\n", &r, &fwd), -EBADMSG);
	CHECK_INT(parse("\r\n\r\n", &r, &fwd), -EBADMSG);
	CHECK_INT(parse("GET http://a_b!.test/ HTTP/1.1\r\n\r\n", &r, &fwd), -EINVAL);
	char *big = malloc(HTTPREQ_HEAD_MAX + 10);
	CHECK(big);
	memset(big, 'a', HTTPREQ_HEAD_MAX + 10);
	CHECK_INT(httpreq_parse(big, HTTPREQ_HEAD_MAX + 10, &r, &fwd), -E2BIG);
	CHECK_INT(httpreq_parse(big, 100, &r, &fwd), 0);
	free(big);
}
