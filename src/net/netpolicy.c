#include "util/common.h"

#include "net/netpolicy.h"
#include "util/array.h"
#include "util/error.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>

const char *const netpolicy_default_allow[] = {
	"api.anthropic.com",
	"api.openai.com",
	"generativelanguage.googleapis.com",
	"openrouter.ai",
	"api.telegram.org",
	"slack.com",
	"*.slack.com",
	"discord.com",
	"gateway.discord.gg",
	NULL,
};

#define MAX_RULES 4096

/* Lowercase a DNS name into out (without one trailing dot). Labels of
 * [a-z0-9-_], 1..63 long, not starting or ending with '-'. */
static int normalize_name(const char *in, size_t n, char out[NETPOLICY_NAME_MAX + 1])
{
	if (n && in[n - 1] == '.')
		n--;
	if (n == 0 || n > NETPOLICY_NAME_MAX)
		return -EINVAL;
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == '.') {
			if (label == 0 || in[i - 1] == '-')
				return -EINVAL;
			label = 0;
		} else if (isalnum(c) || c == '_' || (c == '-' && label > 0)) {
			if (++label > 63)
				return -EINVAL;
		} else {
			return -EINVAL;
		}
		out[i] = (char)tolower(c);
	}
	if (label == 0 || in[n - 1] == '-')
		return -EINVAL;
	out[n] = '\0';
	return 0;
}

int netpolicy_parse_port(const char *s, size_t n, uint16_t *ret)
{
	unsigned v = 0;
	if (n == 0 || n > 5)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -EINVAL;
	*ret = (uint16_t)v;
	return 0;
}

int netpolicy_add_domain(struct netpolicy *p, const char *pattern, bool allow)
{
	struct netpolicy_pattern np = { .allow = allow };
	const char *s = pattern, *colon;
	size_t n;

	if (strlen(pattern) >= sizeof(np.text) || p->npat >= MAX_RULES)
		return -EINVAL;
	snprintf(np.text, sizeof(np.text), "%s", pattern);
	if (strncmp(s, "*.", 2) == 0) {
		np.wildcard = true;
		s += 2;
	}
	colon = strchr(s, ':');
	n = colon ? (size_t)(colon - s) : strlen(s);
	if (colon && netpolicy_parse_port(colon + 1, strlen(colon + 1), &np.port) < 0)
		return -EINVAL;
	if (normalize_name(s, n, np.host) < 0)
		return -EINVAL;
	/* An IP literal is not a domain: address rules are --allow-ip. */
	struct sockaddr_storage ss;
	if (netpolicy_parse_ip(np.host, &ss))
		return -EINVAL;
	if (array_grow_counted((void **)&p->pat, p->npat, sizeof(*p->pat)) < 0)
		return -ENOMEM;
	p->pat[p->npat++] = np;
	return 0;
}

int netpolicy_add_ip(struct netpolicy *p, const char *cidr)
{
	struct netpolicy_cidr c = { 0 };
	char addr[64];
	const char *slash = strchr(cidr, '/');
	size_t n = slash ? (size_t)(slash - cidr) : strlen(cidr);

	if (n == 0 || n >= sizeof(addr) || strlen(cidr) >= sizeof(c.text) || p->nip >= MAX_RULES)
		return -EINVAL;
	memcpy(addr, cidr, n);
	addr[n] = '\0';
	if (inet_pton(AF_INET, addr, c.addr) == 1) {
		c.family = AF_INET;
		c.len = 32;
	} else if (inet_pton(AF_INET6, addr, c.addr) == 1) {
		c.family = AF_INET6;
		c.len = 128;
	} else {
		return -EINVAL;
	}
	if (slash) {
		unsigned v = 0;
		const char *d = slash + 1;
		if (!*d || strlen(d) > 3)
			return -EINVAL;
		for (; *d; d++) {
			if (*d < '0' || *d > '9')
				return -EINVAL;
			v = v * 10 + (unsigned)(*d - '0');
		}
		if (v > c.len)
			return -EINVAL;
		c.len = v;
	}
	snprintf(c.text, sizeof(c.text), "%s", cidr);
	if (array_grow_counted((void **)&p->ip, p->nip, sizeof(*p->ip)) < 0)
		return -ENOMEM;
	p->ip[p->nip++] = c;
	return 0;
}

/* One line of a policy file (no newline): a rule, a comment or blank. */
static int read_line(struct netpolicy *p, char *line)
{
	char *s = line + strspn(line, " \t");
	if (!*s || *s == '#')
		return 0;
	char *arg = s + strcspn(s, " \t");
	if (*arg)
		*arg++ = '\0';
	arg += strspn(arg, " \t");
	arg[strcspn(arg, " \t")] = '\0';
	if (STREQ(s, "allow-domain"))
		return netpolicy_add_domain(p, arg, true);
	if (STREQ(s, "deny-domain"))
		return netpolicy_add_domain(p, arg, false);
	if (STREQ(s, "allow-ip"))
		return netpolicy_add_ip(p, arg);
	return -EINVAL;
}

int netpolicy_read_file(struct netpolicy *p, const char *path, struct error *err)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char line[512];
	unsigned no = 0;
	int r = 0;

	if (!f)
		return errno == ENOENT ? 0 : error_errno(err, -errno, "read '%s'", path);
	while (r == 0 && fgets(line, sizeof(line), f)) {
		no++;
		size_t len = strlen(line);
		if (len == sizeof(line) - 1 && line[len - 1] != '\n')
			r = -EINVAL;
		else {
			line[strcspn(line, "\r\n")] = '\0';
			r = read_line(p, line);
		}
	}
	if (r == -EINVAL)
		return error_set(err, r, path, no,
				 "invalid line (allow-domain P, deny-domain P or allow-ip A[/L])");
	if (r == 0 && ferror(f))
		r = -EIO;
	return r < 0 ? error_errno(err, r, "read '%s'", path) : 0;
}

void netpolicy_free(struct netpolicy *p)
{
	free(p->pat);
	free(p->ip);
	memset(p, 0, sizeof(*p));
}

bool netpolicy_parse_ip(const char *host, struct sockaddr_storage *ret)
{
	char tmp[64];
	size_t n = strlen(host);
	memset(ret, 0, sizeof(*ret));
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		if (n - 2 >= sizeof(tmp))
			return false;
		memcpy(tmp, host + 1, n - 2);
		tmp[n - 2] = '\0';
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ret;
		s6->sin6_family = AF_INET6;
		return inet_pton(AF_INET6, tmp, &s6->sin6_addr) == 1;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ret;
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		return true;
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ret;
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		return true;
	}
	return false;
}

static bool pattern_matches(const struct netpolicy_pattern *pt, const char *host, uint16_t port,
			    bool any_port)
{
	if (!any_port) {
		if (pt->port ? pt->port != port : (pt->allow && port != 443 && port != 80))
			return false;
	}
	size_t hl = strlen(host), pl = strlen(pt->host);
	if (!pt->wildcard)
		return STREQ(host, pt->host);
	return hl > pl + 1 && host[hl - pl - 1] == '.' && STREQ(host + hl - pl, pt->host);
}

static bool name_decide(const struct netpolicy *p, const char *host, uint16_t port, bool any_port,
			const char **ret_rule)
{
	char name[NETPOLICY_NAME_MAX + 1];
	if (normalize_name(host, strlen(host), name) < 0) {
		*ret_rule = "invalid-name";
		return false;
	}
	/* A deny with a port denies only that port; without, every port. */
	for (size_t i = 0; i < p->npat; i++) {
		if (p->pat[i].allow || (any_port && p->pat[i].port))
			continue;
		if (pattern_matches(&p->pat[i], name, port, p->pat[i].port == 0)) {
			*ret_rule = p->pat[i].text;
			return false;
		}
	}
	for (size_t i = 0; i < p->npat; i++)
		if (p->pat[i].allow && pattern_matches(&p->pat[i], name, port, any_port)) {
			*ret_rule = p->pat[i].text;
			return true;
		}
	*ret_rule = "unmatched";
	return false;
}

static bool cidr_contains(const struct netpolicy_cidr *c, const uint8_t *addr, int family)
{
	if (c->family != family)
		return false;
	unsigned full = c->len / 8, rest = c->len % 8;
	if (memcmp(c->addr, addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (c->addr[full] & mask) == (addr[full] & mask);
}

static const struct netpolicy_cidr *addr_rule(const struct netpolicy *p, const uint8_t *addr,
					      int family)
{
	for (size_t i = 0; i < p->nip; i++)
		if (cidr_contains(&p->ip[i], addr, family))
			return &p->ip[i];
	return NULL;
}

bool netpolicy_allow_name(const struct netpolicy *p, const char *host, uint16_t port,
			  const char **ret_rule)
{
	struct sockaddr_storage ss;
	if (netpolicy_parse_ip(host, &ss)) {
		const uint8_t *a = ss.ss_family == AF_INET
				       ? (const uint8_t *)&((struct sockaddr_in *)&ss)->sin_addr
				       : (const uint8_t *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
		const struct netpolicy_cidr *c = addr_rule(p, a, ss.ss_family);
		*ret_rule = c ? c->text : "ip-literal";
		return c != NULL;
	}
	return name_decide(p, host, port, false, ret_rule);
}

bool netpolicy_allow_name_any_port(const struct netpolicy *p, const char *host,
				   const char **ret_rule)
{
	return name_decide(p, host, 0, true, ret_rule);
}

/* The class of a special IPv4 address (host byte order), or NULL. The
 * first matching entry names it (single addresses first). */
static const char *special_v4(uint32_t a)
{
	static const struct {
		uint32_t net;
		unsigned len;
		const char *what;
	} tab[] = {
		{ 0xA9FEA9FE, 32, "metadata" },      /* 169.254.169.254 */
		{ 0x646464C8, 32, "metadata" },      /* 100.100.100.200 */
		{ 0xFFFFFFFF, 32, "broadcast" },     /* 255.255.255.255 */
		{ 0x00000000, 8, "unspecified" },    /* 0/8: "this network" */
		{ 0x0A000000, 8, "private" },        /* 10/8 */
		{ 0x64400000, 10, "private" },       /* 100.64/10, carrier NAT and Tailscale */
		{ 0x7F000000, 8, "loopback" },       /* 127/8 */
		{ 0xA9FE0000, 16, "link-local" },    /* 169.254/16 */
		{ 0xAC100000, 12, "private" },       /* 172.16/12 */
		{ 0xC0000000, 24, "reserved" },      /* 192.0.0/24, IETF assignments */
		{ 0xC0000200, 24, "documentation" }, /* 192.0.2/24, TEST-NET-1 */
		{ 0xC0586300, 24, "reserved" },      /* 192.88.99/24, 6to4 relays */
		{ 0xC0A80000, 16, "private" },       /* 192.168/16 */
		{ 0xC6120000, 15, "reserved" },      /* 198.18/15, benchmarking */
		{ 0xC6336400, 24, "documentation" }, /* 198.51.100/24, TEST-NET-2 */
		{ 0xCB007100, 24, "documentation" }, /* 203.0.113/24, TEST-NET-3 */
		{ 0xE0000000, 4, "multicast" },      /* 224/4 */
		{ 0xF0000000, 4, "reserved" },       /* 240/4 */
	};
	for (size_t i = 0; i < ELEMENTSOF(tab); i++) {
		uint32_t mask = tab[i].len ? ~0U << (32 - tab[i].len) : 0;
		if ((a & mask) == tab[i].net)
			return tab[i].what;
	}
	return NULL;
}

static uint32_t v4_at(const uint8_t *a)
{
	return (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
}

/* The IPv4 address an IPv6 one carries and reaches: IPv4-mapped
 * (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d, deprecated), NAT64
 * (64:ff9b::a.b.c.d) and 6to4 (2002:AABB:CCDD::). */
static bool embedded_v4(const uint8_t *a, uint32_t *ret)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const uint8_t nat64[12] = { 0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t zero[12] = { 0 };
	if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0 ||
	    (memcmp(a, zero, 12) == 0 && v4_at(a + 12) > 1)) {
		*ret = v4_at(a + 12);
		return true;
	}
	if (a[0] == 0x20 && a[1] == 0x02) {
		*ret = v4_at(a + 2);
		return true;
	}
	return false;
}

bool netpolicy_embedded_v4(const struct sockaddr *sa, struct sockaddr_in *ret)
{
	uint32_t v4;
	if (sa->sa_family != AF_INET6 ||
	    !embedded_v4(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr, &v4))
		return false;
	*ret = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(v4) };
	return true;
}

static const char *special_v6(const uint8_t *a)
{
	static const uint8_t zero[15] = { 0 };
	uint32_t v4;
	if (embedded_v4(a, &v4)) {
		const char *w = special_v4(v4);
		if (w || a[0] != 0x20) /* 6to4 of a public address: itself */
			return w;
	}
	if (memcmp(a, zero, 15) == 0)
		return a[15] == 1 ? "loopback" : "unspecified";
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return "link-local";
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)
		return "private"; /* fec0::/10, site-local (deprecated) */
	if ((a[0] & 0xfe) == 0xfc)
		return a[0] == 0xfd && a[1] == 0x00 && a[2] == 0x0e && a[3] == 0xc2 ? "metadata"
										    : "private";
	if (a[0] == 0xff)
		return "multicast";
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)
		return "documentation"; /* 2001:db8::/32 */
	if (a[0] == 0 && a[1] == 0x64 && a[2] == 0xff && a[3] == 0x9b && a[4] == 0 && a[5] == 1)
		return "private"; /* 64:ff9b:1::/48, local-use NAT64 */
	if (a[0] == 1 && memcmp(a + 1, zero, 7) == 0)
		return "reserved"; /* 100::/64, discard-only */
	return NULL;
}

bool netpolicy_names_addr(const struct netpolicy *p, const struct sockaddr *sa,
			  const char **ret_rule)
{
	unsigned full = sa->sa_family == AF_INET ? 32 : 128;
	const uint8_t *a = sa->sa_family == AF_INET
			       ? (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr
			       : (const uint8_t *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
	for (size_t i = 0; i < p->nip; i++)
		if (p->ip[i].len == full && cidr_contains(&p->ip[i], a, sa->sa_family)) {
			*ret_rule = p->ip[i].text;
			return true;
		}
	return false;
}

bool netpolicy_allow_addr(const struct netpolicy *p, const struct sockaddr *sa,
			  const char **ret_rule)
{
	const uint8_t *a;
	const char *special;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		a = (const uint8_t *)&s4->sin_addr;
		special = special_v4(ntohl(s4->sin_addr.s_addr));
	} else if (sa->sa_family == AF_INET6) {
		a = (const uint8_t *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
		special = special_v6(a);
	} else {
		*ret_rule = "family";
		return false;
	}
	const struct netpolicy_cidr *c = addr_rule(p, a, sa->sa_family);
	if (c) {
		*ret_rule = c->text;
		return true;
	}
	*ret_rule = special ? special : "public";
	return special == NULL;
}
