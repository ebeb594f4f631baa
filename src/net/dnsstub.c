#include "util/common.h"

#include "net/dnsstub.h"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <time.h>

#define MAX_ANSWERS 16

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

int dnsstub_parse_query(const uint8_t *q, size_t n, char name[NETPOLICY_NAME_MAX + 1],
			uint16_t *ret_qtype, size_t *ret_qend)
{
	if (n < 12)
		return -EBADMSG;
	/* QR must be 0 (a query), opcode 0, exactly one question. */
	if ((q[2] & 0x80) || (q[2] & 0x78) || get16(q + 4) != 1)
		return -EOPNOTSUPP;
	size_t i = 12, out = 0;
	for (;;) {
		if (i >= n)
			return -EBADMSG;
		uint8_t len = q[i++];
		if (len == 0)
			break;
		if (len > 63 || i + len > n) /* compression pointers have no place here */
			return -EBADMSG;
		if (out + len + (out ? 1 : 0) > NETPOLICY_NAME_MAX)
			return -EBADMSG;
		if (out)
			name[out++] = '.';
		for (size_t k = 0; k < len; k++) {
			uint8_t c = q[i + k];
			if (c <= 0x20 || c >= 0x7f || c == '.')
				return -EBADMSG;
			name[out++] = (char)c;
		}
		i += len;
	}
	if (i + 4 > n)
		return -EBADMSG;
	name[out] = '\0';
	*ret_qtype = get16(q + i);
	*ret_qend = i + 4;
	return 0;
}

int dnsstub_build_reply(const uint8_t *q, size_t qend, uint8_t rcode, uint16_t qtype,
			const struct sockaddr_storage *addrs, size_t naddrs, uint8_t *out,
			size_t cap)
{
	if (qend < 12 || qend > cap)
		return -ENOBUFS;
	memcpy(out, q, qend);
	out[2] = (uint8_t)(0x80 | (q[2] & 0x01));  /* QR, opcode 0, RD copied */
	out[3] = (uint8_t)(0x80 | (rcode & 0x0f)); /* RA */
	put16(out + 6, 0);
	put16(out + 8, 0);
	put16(out + 10, 0);
	size_t len = qend;
	uint16_t an = 0;
	for (size_t i = 0; i < naddrs && rcode == DNS_NOERROR; i++) {
		int fam = addrs[i].ss_family;
		size_t alen = fam == AF_INET ? 4 : 16;
		if ((qtype == 1 && fam != AF_INET) || (qtype == 28 && fam != AF_INET6))
			continue;
		if (len + 12 + alen > cap)
			break;
		uint8_t *a = out + len;
		put16(a, 0xc00c); /* the name of the question */
		put16(a + 2, qtype);
		put16(a + 4, 1);
		a[6] = a[7] = 0;
		put16(a + 8, 60); /* TTL */
		put16(a + 10, (uint16_t)alen);
		if (fam == AF_INET)
			memcpy(a + 12, &((const struct sockaddr_in *)&addrs[i])->sin_addr, 4);
		else
			memcpy(a + 12, &((const struct sockaddr_in6 *)&addrs[i])->sin6_addr, 16);
		len += 12 + alen;
		an++;
	}
	put16(out + 6, an);
	return (int)len;
}

static const char *qtype_name(uint16_t t, char buf[16])
{
	switch (t) {
	case 1: return "A";
	case 28: return "AAAA";
	case 5: return "CNAME";
	case 15: return "MX";
	case 16: return "TXT";
	case 65: return "HTTPS";
	default: snprintf(buf, 16, "TYPE%u", (unsigned)t); return buf;
	}
}

static size_t resolve(const struct netpolicy *pol, const char *name, uint16_t qtype,
		      struct sockaddr_storage *out)
{
	struct addrinfo hints = { .ai_family = qtype == 1 ? AF_INET : AF_INET6,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	size_t n = 0;
	if (getaddrinfo(name, NULL, &hints, &res) != 0)
		return 0;
	for (struct addrinfo *ai = res; ai && n < MAX_ANSWERS; ai = ai->ai_next) {
		const char *rule;
		if (ai->ai_addrlen > sizeof(*out) || !netpolicy_allow_addr(pol, ai->ai_addr, &rule))
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		memcpy(&out[n], ai->ai_addr, ai->ai_addrlen);
		n++;
	}
	freeaddrinfo(res);
	return n;
}

void dnsstub_serve(int fd, int stop_fd, const struct netpolicy *pol, dnsstub_log_fn log, void *ctx)
{
	uint8_t q[DNSSTUB_MSG_MAX], out[DNSSTUB_MSG_MAX];
	char last[NETPOLICY_NAME_MAX + 1] = "";
	uint16_t last_type = 0;
	time_t last_t = 0;
	for (;;) {
		struct pollfd pf[2] = { { .fd = fd, .events = POLLIN },
					{ .fd = stop_fd, .events = POLLIN } };
		int k = poll(pf, 2, -1);
		if (k < 0 && errno != EINTR)
			return;
		if (k <= 0)
			continue;
		if (pf[1].revents)
			return;
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, q, sizeof(q), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (n < 0)
			continue;
		char name[NETPOLICY_NAME_MAX + 1], tb[16];
		uint16_t qtype = 0;
		size_t qend = 0;
		int r = dnsstub_parse_query(q, (size_t)n, name, &qtype, &qend);
		if (r < 0) {
			/* FORMERR with the header only, when there is a header. */
			if (n >= 12) {
				memcpy(out, q, 12);
				out[2] = 0x80;
				out[3] = DNS_FORMERR;
				memset(out + 4, 0, 8);
				sendto(fd, out, 12, MSG_DONTWAIT, (struct sockaddr *)&from, fl);
			}
			continue;
		}
		const char *rule = NULL;
		struct sockaddr_storage addrs[MAX_ANSWERS];
		size_t na = 0;
		uint8_t rcode = DNS_NOERROR;
		if (!netpolicy_allow_name_any_port(pol, name, &rule)) {
			rcode = DNS_REFUSED;
			/* Resolvers retry and ask A and AAAA: one line per name and
			 * type every 2 s is enough. */
			time_t t = time(NULL);
			if (!STREQ(name, last) || qtype != last_type || t - last_t >= 2) {
				log(ctx, &from, name, qtype_name(qtype, tb), false, rule);
				snprintf(last, sizeof(last), "%s", name);
				last_type = qtype;
				last_t = t;
			}
		} else if (qtype == 1 || qtype == 28) {
			na = resolve(pol, name, qtype, addrs);
		}
		int len = dnsstub_build_reply(q, qend, rcode, qtype, addrs, na, out, sizeof(out));
		if (len > 0)
			sendto(fd, out, (size_t)len, MSG_DONTWAIT, (struct sockaddr *)&from, fl);
	}
}
