#include "unit.h"
#include "unit_addr.h"
#include "net/dnsstub.h"
#include "net/netpolicy.h"

#include <arpa/inet.h>
#include <netinet/in.h>

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
