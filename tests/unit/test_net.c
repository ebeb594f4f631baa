#include "unit.h"
#include "net/dnsstub.h"
#include "net/httpproxy.h"
#include "net/netpolicy.h"
#include "net/socks5.h"

#include <arpa/inet.h>
#include <netinet/in.h>

static struct sockaddr_storage v4(const char *s)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *a = (struct sockaddr_in *)&ss;
	a->sin_family = AF_INET;
	CHECK(inet_pton(AF_INET, s, &a->sin_addr) == 1);
	return ss;
}

static struct sockaddr_storage v6(const char *s)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
	a->sin6_family = AF_INET6;
	CHECK(inet_pton(AF_INET6, s, &a->sin6_addr) == 1);
	return ss;
}

TEST(netpolicy_patterns)
{
	struct netpolicy p = { 0 };
	const char *rule;
	CHECK_INT(netpolicy_add_domain(&p, "api.Example.com", true), 0);
	CHECK_INT(netpolicy_add_domain(&p, "*.slack.com", true), 0);
	CHECK_INT(netpolicy_add_domain(&p, "git.example.org:22", true), 0);
	CHECK_INT(netpolicy_add_domain(&p, "*.example.org", true), 0);
	CHECK_INT(netpolicy_add_domain(&p, "bad.example.org", false), 0);
	CHECK_INT(netpolicy_add_domain(&p, "*.example.org:8443", false), 0);

	CHECK(netpolicy_allow_name(&p, "api.example.com", 443, &rule));
	CHECK_STREQ(rule, "api.Example.com");
	CHECK(netpolicy_allow_name(&p, "API.EXAMPLE.COM.", 80, &rule));
	CHECK(!netpolicy_allow_name(&p, "api.example.com", 8080, &rule));
	CHECK_STREQ(rule, "unmatched");
	CHECK(!netpolicy_allow_name(&p, "x.api.example.com", 443, &rule));
	CHECK(!netpolicy_allow_name(&p, "slack.com", 443, &rule)); /* subdomains only */
	CHECK(netpolicy_allow_name(&p, "a.b.slack.com", 443, &rule));
	CHECK(!netpolicy_allow_name(&p, "evilslack.com", 443, &rule));
	CHECK(netpolicy_allow_name(&p, "git.example.org", 22, &rule));
	CHECK(!netpolicy_allow_name(&p, "bad.example.org", 443, &rule)); /* deny wins */
	CHECK_STREQ(rule, "bad.example.org");
	CHECK(!netpolicy_allow_name(&p, "bad.example.org", 22, &rule)); /* every port */
	CHECK(!netpolicy_allow_name(&p, "x.example.org", 8443, &rule));
	CHECK(netpolicy_allow_name(&p, "x.example.org", 443, &rule));
	CHECK(!netpolicy_allow_name(&p, "bad..example.org", 443, &rule));
	CHECK_STREQ(rule, "invalid-name");
	/* DNS: any port; a port-specific deny does not refuse the name. */
	CHECK(netpolicy_allow_name_any_port(&p, "git.example.org", &rule));
	CHECK(netpolicy_allow_name_any_port(&p, "x.example.org", &rule));
	CHECK(!netpolicy_allow_name_any_port(&p, "bad.example.org", &rule));
	CHECK(!netpolicy_allow_name_any_port(&p, "example.org", &rule));
	/* IP literals need an address rule. */
	CHECK(!netpolicy_allow_name(&p, "93.184.215.14", 443, &rule));
	CHECK_STREQ(rule, "ip-literal");
	CHECK_INT(netpolicy_add_ip(&p, "93.184.215.0/24"), 0);
	CHECK(netpolicy_allow_name(&p, "93.184.215.14", 443, &rule));
	CHECK_STREQ(rule, "93.184.215.0/24");
	CHECK(!netpolicy_allow_name(&p, "[::1]", 443, &rule));
	netpolicy_free(&p);
}

TEST(netpolicy_invalid_patterns)
{
	struct netpolicy p = { 0 };
	static const char *const bad[] = { "",          "*.",     "*",          "a..b",
					   ".a",        "a b",    "x.com:0",    "x.com:",
					   "-x.com",    "x-.com", "1.2.3.4",    "*.*.x.com",
					   "x.com:1:2", "a/b",    "x.com:65536" };
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		if (netpolicy_add_domain(&p, bad[i], true) != -EINVAL) {
			fprintf(stderr, "accepted '%s'\n", bad[i]);
			CHECK(false);
		}
	static const char *const badip[] = { "",       "x",         "1.2.3.4/", "1.2.3.4/33",
					     "::/129", "1.2.3.4/a", "/8" };
	for (size_t i = 0; i < ELEMENTSOF(badip); i++)
		CHECK_INT(netpolicy_add_ip(&p, badip[i]), -EINVAL);
	CHECK_INT(p.npat + p.nip, 0);
}

TEST(netpolicy_special_addresses)
{
	struct netpolicy p = { 0 };
	const char *rule;
	static const struct {
		const char *addr, *what;
	} tab[] = {
		{ "127.0.0.1", "loopback" },         { "10.1.2.3", "private" },
		{ "172.16.0.1", "private" },         { "172.31.255.255", "private" },
		{ "192.168.1.1", "private" },        { "100.64.0.1", "private" },
		{ "169.254.169.254", "metadata" },   { "169.254.1.1", "link-local" },
		{ "0.0.0.0", "unspecified" },        { "224.0.0.1", "multicast" },
		{ "100.100.100.200", "metadata" },   { "192.0.2.7", "documentation" },
		{ "198.51.100.1", "documentation" }, { "203.0.113.255", "documentation" },
		{ "255.255.255.255", "broadcast" },  { "0.1.2.3", "unspecified" },
		{ "239.255.255.250", "multicast" },  { "100.127.255.255", "private" },
	};
	for (size_t i = 0; i < ELEMENTSOF(tab); i++) {
		struct sockaddr_storage ss = v4(tab[i].addr);
		CHECK(!netpolicy_allow_addr(&p, (struct sockaddr *)&ss, &rule));
		CHECK_STREQ(rule, tab[i].what);
	}
	struct sockaddr_storage ok = v4("172.32.0.1");
	CHECK(netpolicy_allow_addr(&p, (struct sockaddr *)&ok, &rule));
	CHECK_STREQ(rule, "public");
	static const char *const bad6[] = { "::1",
					    "::",
					    "fe80::1",
					    "fd00::1",
					    "fd00:ec2::254",
					    "::ffff:10.0.0.1",
					    "::ffff:127.0.0.1",
					    "ff02::1",
					    "2001:db8::1",
					    "::127.0.0.1",
					    "::ffff:203.0.113.9",
					    "64:ff9b::7f00:1",
					    "64:ff9b::c000:207",
					    "64:ff9b:1::1",
					    "2002:7f00:1::1",
					    "2002:a00:1::",
					    "fec0::1",
					    "100::1" };
	for (size_t i = 0; i < ELEMENTSOF(bad6); i++) {
		struct sockaddr_storage ss = v6(bad6[i]);
		CHECK(!netpolicy_allow_addr(&p, (struct sockaddr *)&ss, &rule));
	}
	struct sockaddr_storage pub6 = v6("2606:4700::1111");
	CHECK(netpolicy_allow_addr(&p, (struct sockaddr *)&pub6, &rule));
	struct sockaddr_storage pub6to4 = v6("2002:0101:0101::1");
	CHECK(netpolicy_allow_addr(&p, (struct sockaddr *)&pub6to4, &rule));
	/* The IPv4 address carried by IPv6 forms (the proxy's own-address
	 * check tests it too). */
	struct sockaddr_in e4;
	struct sockaddr_storage nat = v6("64:ff9b::102:304"), plain = v6("2606:4700::1");
	CHECK(netpolicy_embedded_v4((struct sockaddr *)&nat, &e4) &&
	      e4.sin_addr.s_addr == htonl(0x01020304));
	CHECK(!netpolicy_embedded_v4((struct sockaddr *)&plain, &e4));
	CHECK_INT(netpolicy_add_ip(&p, "10.77.0.0/16"), 0);
	struct sockaddr_storage in = v4("10.77.3.4"), out = v4("10.78.0.1");
	CHECK(netpolicy_allow_addr(&p, (struct sockaddr *)&in, &rule));
	CHECK_STREQ(rule, "10.77.0.0/16");
	CHECK(!netpolicy_allow_addr(&p, (struct sockaddr *)&out, &rule));
	/* A host's own address passes only by a rule naming that address. */
	CHECK(!netpolicy_names_addr(&p, (struct sockaddr *)&in, &rule));
	CHECK_INT(netpolicy_add_ip(&p, "10.77.3.4"), 0);
	CHECK(netpolicy_names_addr(&p, (struct sockaddr *)&in, &rule));
	netpolicy_free(&p);
}

TEST(netpolicy_file)
{
	char path[] = "/tmp/clawbox-unit.netXXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	const char *text = "# comment\n\nallow-domain a.example\n  deny-domain b.example:8080 \n"
			   "allow-ip 10.0.0.0/8\nallow-domain\n";
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	struct netpolicy p = { 0 };
	unsigned line = 0;
	CHECK_INT(netpolicy_read_file(&p, path, &line), -EINVAL);
	CHECK_INT(line, 6);
	CHECK_INT(p.npat, 2);
	CHECK_INT(p.nip, 1);
	netpolicy_free(&p);
	unlink(path);
	CHECK_INT(netpolicy_read_file(&p, "/nonexistent/clawbox/net", &line), 0);
}

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

TEST(socks5_parser)
{
	bool noauth = false;
	struct socks5_req r;
	const uint8_t g1[] = { 5, 2, 2, 0 }, g2[] = { 5, 1, 2 }, g3[] = { 4, 1 };
	CHECK_INT(socks5_parse_greeting(g1, 3, &noauth), 0);
	CHECK_INT(socks5_parse_greeting(g1, 4, &noauth), 4);
	CHECK(noauth);
	CHECK_INT(socks5_parse_greeting(g2, 3, &noauth), 3);
	CHECK(!noauth);
	CHECK_INT(socks5_parse_greeting(g3, 2, &noauth), -EPROTO);

	const uint8_t name[] = { 5, 1, 0, 3, 6, 'a', '.', 't', 'e', 's', 't', 0x01, 0xbb };
	CHECK_INT(socks5_parse_request(name, sizeof(name) - 1, &r), 0);
	CHECK_INT(socks5_parse_request(name, sizeof(name), &r), (int)sizeof(name));
	CHECK_STREQ(r.host, "a.test");
	CHECK_INT(r.port, 443);
	const uint8_t ip4[] = { 5, 1, 0, 1, 10, 0, 0, 1, 0, 80 };
	CHECK_INT(socks5_parse_request(ip4, sizeof(ip4), &r), 10);
	CHECK_STREQ(r.host, "10.0.0.1");
	const uint8_t bind[] = { 5, 2, 0, 1, 10, 0, 0, 1, 0, 80 };
	CHECK_INT(socks5_parse_request(bind, sizeof(bind), &r), -EOPNOTSUPP);
	const uint8_t atyp[] = { 5, 1, 0, 9 };
	CHECK_INT(socks5_parse_request(atyp, sizeof(atyp), &r), -EAFNOSUPPORT);
	const uint8_t empty[] = { 5, 1, 0, 3, 0, 0, 80 };
	CHECK_INT(socks5_parse_request(empty, sizeof(empty), &r), -EINVAL);
	const uint8_t port0[] = { 5, 1, 0, 1, 1, 2, 3, 4, 0, 0 };
	CHECK_INT(socks5_parse_request(port0, sizeof(port0), &r), -EINVAL);
	const uint8_t rsv[] = { 5, 1, 1, 1 };
	CHECK_INT(socks5_parse_request(rsv, sizeof(rsv), &r), -EPROTO);
	const uint8_t nul[] = { 5, 1, 0, 3, 3, 'a', 0, 'b', 0, 80 };
	CHECK_INT(socks5_parse_request(nul, sizeof(nul), &r), -EINVAL);
}

TEST(dnsstub_query_and_reply)
{
	/* id 0x1234, RD, one question: api.test A IN */
	const uint8_t q[] = { 0x12, 0x34, 0x01, 0x00, 0,   1,   0,   0,   0, 0, 0, 0, 3,
			      'a',  'p',  'i',  4,    't', 'e', 's', 't', 0, 0, 1, 0, 1 };
	char name[NETPOLICY_NAME_MAX + 1];
	uint16_t qtype;
	size_t qend;
	CHECK_INT(dnsstub_parse_query(q, sizeof(q), name, &qtype, &qend), 0);
	CHECK_STREQ(name, "api.test");
	CHECK_INT(qtype, 1);
	CHECK_INT(qend, sizeof(q));
	struct sockaddr_storage a[2] = { v4("93.184.215.14"), v6("2606:4700::1") };
	uint8_t out[DNSSTUB_MSG_MAX];
	int n = dnsstub_build_reply(q, qend, DNS_NOERROR, 1, a, 2, out, sizeof(out));
	CHECK_INT(n, (int)sizeof(q) + 16);
	CHECK(out[0] == 0x12 && out[1] == 0x34 && (out[2] & 0x80) && out[7] == 1);
	CHECK(memcmp(out + sizeof(q) + 12, "\x5d\xb8\xd7\x0e", 4) == 0);
	n = dnsstub_build_reply(q, qend, DNS_REFUSED, 1, a, 2, out, sizeof(out));
	CHECK_INT(n, (int)sizeof(q));
	CHECK_INT(out[3] & 0x0f, DNS_REFUSED);
	CHECK_INT(out[7], 0);

	uint8_t bad[sizeof(q)];
	memcpy(bad, q, sizeof(q));
	bad[12] = 0xc0; /* a compression pointer in a question */
	CHECK_INT(dnsstub_parse_query(bad, sizeof(bad), name, &qtype, &qend), -EBADMSG);
	CHECK_INT(dnsstub_parse_query(q, sizeof(q) - 1, name, &qtype, &qend), -EBADMSG);
	memcpy(bad, q, sizeof(q));
	bad[2] |= 0x80; /* a response */
	CHECK_INT(dnsstub_parse_query(bad, sizeof(bad), name, &qtype, &qend), -EOPNOTSUPP);
	memcpy(bad, q, sizeof(q));
	bad[15] = '.';
	CHECK_INT(dnsstub_parse_query(bad, sizeof(bad), name, &qtype, &qend), -EBADMSG);
}
