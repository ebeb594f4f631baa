/* The network policy of a box: which destinations its proxy may reach.
 *   domain patterns  "api.example.com", "*.example.com" (subdomains only,
 *                    never example.com itself), each with an optional
 *                    ":PORT"; without a port a pattern covers 443 and 80.
 *                    Deny patterns win over allow patterns; a name no allow
 *                    pattern matches is denied. A deny pattern without a port
 *                    denies every port.
 *   address rules    "ADDR[/LEN]" (IPv4 or IPv6): the only way to reach an
 *                    IP literal, or a name that resolves to a loopback,
 *                    link-local, private (RFC 1918, 100.64/10, fc00::/7),
 *                    metadata, documentation (TEST-NETs, 2001:db8::/32),
 *                    broadcast, multicast or otherwise special address
 *                    (an IPv6 form that carries an IPv4 address - mapped,
 *                    compatible, NAT64, 6to4 - is judged by that address).
 *                    The host's own addresses (src/net/proxy.c asks the kernel)
 *                    pass only with a rule naming that one address.
 * Policy only: src/net/proxy.c and src/net/dnsstub.c apply it. Never prints. */
#ifndef CLAWBOX_NETPOLICY_H
#define CLAWBOX_NETPOLICY_H
#include "util/common.h"

#include <sys/socket.h>

struct error;

#define NETPOLICY_NAME_MAX 253

struct netpolicy_pattern {
	char host[NETPOLICY_NAME_MAX + 1]; /* lowercase, without "*." */
	bool wildcard;                     /* "*.host": strict subdomains */
	uint16_t port;                     /* 0: 443 and 80 (allow) or any (deny) */
	bool allow;
	char text[NETPOLICY_NAME_MAX + 10]; /* as written, for the audit log */
};

struct netpolicy_cidr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	unsigned len;
	char text[64];
};

struct netpolicy {
	struct netpolicy_pattern *pat;
	size_t npat;
	struct netpolicy_cidr *ip;
	size_t nip;
};

/* The default allow list: the LLM and messaging APIs of the original. */
extern const char *const netpolicy_default_allow[];

/* Add a domain pattern. -EINVAL for an invalid pattern, -ENOMEM. */
int netpolicy_add_domain(struct netpolicy *p, const char *pattern, bool allow);
/* Add an address rule "ADDR[/LEN]". -EINVAL when invalid. */
int netpolicy_add_ip(struct netpolicy *p, const char *cidr);
/* Read a policy file: lines "allow-domain P", "deny-domain P", "allow-ip A"
 * ('#' comments, blank lines). Missing file: nothing added. -EINVAL for a
 * bad line (err: path, the 1-based line, what is wrong), or another -errno
 * (err: the failed read). err may be NULL. */
int netpolicy_read_file(struct netpolicy *p, const char *path, struct error *err);
void netpolicy_free(struct netpolicy *p);

/* A port: s[0..n) is 1 to 5 decimal digits, no sign or space, 1-65535.
 * 0 with *ret, or -EINVAL. */
int netpolicy_parse_port(const char *s, size_t n, uint16_t *ret);

/* Is host an IPv4 or IPv6 literal (brackets allowed)? Fills *ret when so. */
bool netpolicy_parse_ip(const char *host, struct sockaddr_storage *ret);

/* May the proxy go to host:port? host is a name or an IP literal (which only
 * an address rule can allow). *ret_rule is the deciding rule's text (or
 * "unmatched", "ip-literal"), valid while p lives. */
bool netpolicy_allow_name(const struct netpolicy *p, const char *host, uint16_t port,
			  const char **ret_rule);
/* Does some allow pattern cover host on any port, with no deny for it (the
 * DNS stub's question)? */
bool netpolicy_allow_name_any_port(const struct netpolicy *p, const char *host,
				   const char **ret_rule);
/* May the proxy connect to this resolved address? Ordinary public addresses
 * pass ("public"); special ones only with an address rule (its text), else
 * *ret_rule names the refused class ("loopback", "private", "metadata", ...). */
bool netpolicy_allow_addr(const struct netpolicy *p, const struct sockaddr *sa,
			  const char **ret_rule);

/* Does an address rule name exactly this address (a /32 or /128)? The
 * host's own addresses pass only so: a range such as 10.0.0.0/8 is not
 * meant to open the host itself. */
bool netpolicy_names_addr(const struct netpolicy *p, const struct sockaddr *sa,
			  const char **ret_rule);
/* The IPv4 address an IPv6 address carries and reaches (mapped,
 * compatible, NAT64, 6to4) into *ret (port 0); false when none. */
bool netpolicy_embedded_v4(const struct sockaddr *sa, struct sockaddr_in *ret);

#endif
