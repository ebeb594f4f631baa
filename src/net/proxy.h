/* The box's egress proxy, run by the supervisor (host network namespace) on
 * listening sockets that the box init created inside the box's network
 * namespace (so the box reaches them on its own loopback; no bridge):
 *   HTTP  CONNECT tunnels and plain-HTTP forwarding (src/net/httpproxy.c)
 *   SOCKS5 CONNECT, no authentication (src/net/socks5.c)
 *   DNS   the stub (src/net/dnsstub.c), when given a UDP socket
 * Every destination goes through the box's policy (src/net/netpolicy.c): the name
 * first (deny, then allow patterns), then each resolved address (no loopback,
 * private, link-local or metadata address without an address rule). Names
 * are resolved here, with the host's resolver and /etc/hosts.
 *
 * No thread runs until the box first connects or asks a name (most runs
 * never do). Each connection is served by the thread that accepted it (leader and
 * followers: it first hands the wait for the next connection to an idle
 * thread, kept 30 s, or a new one) with bounded memory (a 16 KiB head,
 * two RELAY_BUF pipes), a 10 s deadline for its
 * request (slowloris), a connect timeout and an idle timeout. At most
 * PROXY_MAX_CONNS connections at once; more are closed at once (and logged).
 * Every decision, allowed or denied, is one "net.connect" event in the box's
 * audit log (allowed ones when they end, with their byte counts; refused
 * DNS questions are "net.dns" events), with the pid of the box's process
 * that asked when it can be found (looked up while the upstream connection
 * is being made, or before a refusal is sent), written
 * through the proxy's own struct audit under a mutex. Never prints. */
#ifndef CLAWBOX_PROXY_H
/* Denied connections and DNS questions logged one by one: at most this
 * many a second, in bursts of up to PROXY_DENY_BURST; the rest are counted
 * and logged as one event with "suppressed": COUNT (docs/NETWORK.md). */
#define PROXY_DENY_RATE  20
#define PROXY_DENY_BURST 40
#define CLAWBOX_PROXY_H
#include "util/common.h"

#include <poll.h>

#include "net/brokerhttp.h"
#include "net/netpolicy.h"
#include "net/sockowner.h"

#define PROXY_MAX_CONNS 128

/* The listeners' addresses inside the box. */
#define PROXY_HTTP_PORT  3128
#define PROXY_SOCKS_PORT 1080
#define PROXY_DNS_PORT   53

enum { PROXY_FD_HTTP, PROXY_FD_SOCKS, PROXY_FD_DNS, PROXY_NFDS };

struct brokertls;

/* Brokered credentials (docs/SECRETS.md): a CONNECT (HTTP or SOCKS5) to a
 * host of one of the rules is not tunnelled but ended in tls
 * (src/net/brokertls.h), with the secrets brokered for that host put in,
 * each request a "net.broker" event; a plain-HTTP request whose head holds
 * any placeholder is refused (403, a "net.broker" denial). Filled before
 * the box's command starts (n = 0 until then: nothing is brokered) and
 * read-only after. notice (may be NULL) is told, once per proxy, when a
 * client in the box did not trust the box's CA. */
struct proxy_broker {
	struct brokertls *tls;
	struct brokerhttp_secret s[BROKER_MAX];
	const struct broker_rule *rule[BROKER_MAX]; /* s[i]'s: its name, its hosts */
	size_t n;
	void (*notice)(const char *host, const char *why);
};

struct proxy_config {
	const struct netpolicy *policy; /* must outlive the proxy */
	const char *box_dir;            /* for the audit log */
	const char *box_name;
	/* Finds the box process behind a connection or a DNS question, for
	 * the events' "pid"; NULL: not recorded. Must outlive the proxy. */
	struct sockowner *owners;
	const struct proxy_broker *broker; /* NULL: none; must outlive the proxy */
	int request_timeout_ms;            /* 0: 10 s */
	int connect_timeout_ms;            /* 0: 10 s */
	int idle_timeout_ms;               /* 0: 15 min */
};

struct proxy;

/* A proxy for fds[] (each a listening TCP socket, or for PROXY_FD_DNS a bound
 * UDP socket, or -1). The proxy owns the fds from this call on, whatever it
 * returns. No thread runs yet: the caller watches proxy_pollfds() and calls
 * proxy_serve() when one is readable (most box runs never connect, and then
 * no thread is started or stopped). */
int proxy_start(const struct proxy_config *cfg, const int fds[PROXY_NFDS], struct proxy **ret);

/* The fds to watch for proxy_serve(), into pf (PROXY_NFDS at most): how
 * many, 0 once serving (or for NULL). */
size_t proxy_pollfds(const struct proxy *p, struct pollfd *pf);

/* Serve: start the first connection thread (once). 0, or -errno. */
int proxy_serve(struct proxy *p);

/* Stop accepting, end every connection (each is logged), and free (NULL is
 * fine). Returns 0, or -EBUSY when a connection stuck in the host's resolver
 * for more than 3 s still uses the proxy (and so the policy): both must then
 * stay alive until the process exits. */
int proxy_stop(struct proxy *p);

#endif
