#include "unit.h"
#include "net/socks5.h"

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
