/* The network of a run, for the command layer (src/cli/launch.c): the --net,
 * --allow-domain, --deny-domain, --allow-ip and --publish options, the box's
 * policy (built-in allow list, the box's "net" file, the options), the
 * proxy's environment variables, and the life of the proxy, the published
 * ports and (filtered) the host's side around supervisor_finish(). Reports its own
 * errors (command layer). */
#ifndef CLAWBOX_LAUNCH_NET_H
#define CLAWBOX_LAUNCH_NET_H
#include "util/common.h"

struct netbox_spec;
struct pollfd;
struct proxy_broker;
struct strv;

/* The default first: a zeroed struct net_opts means proxy. */
enum net_mode { NET_PROXY, NET_NONE, NET_FILTERED };

#define NET_OPTS_MAX 64

struct net_opts {
	enum net_mode mode;
	const char *allow[NET_OPTS_MAX], *deny[NET_OPTS_MAX], *ip[NET_OPTS_MAX];
	const char *publish[NET_OPTS_MAX]; /* checked by net_opts_parse */
	size_t nallow, ndeny, nip, npublish;
};

/* The long options, for the caller's getopt table, and their help text. */
enum {
	NET_OPT_NET = 1000,
	NET_OPT_ALLOW_DOMAIN,
	NET_OPT_DENY_DOMAIN,
	NET_OPT_ALLOW_IP,
	NET_OPT_PUBLISH
};
/* clang-format off */
#define NET_LONG_OPTIONS \
	{ "net", required_argument, NULL, NET_OPT_NET }, \
	{ "allow-domain", required_argument, NULL, NET_OPT_ALLOW_DOMAIN }, \
	{ "deny-domain", required_argument, NULL, NET_OPT_DENY_DOMAIN }, \
	{ "allow-ip", required_argument, NULL, NET_OPT_ALLOW_IP }, \
	{ "publish", required_argument, NULL, NET_OPT_PUBLISH }
/* clang-format on */
#define NET_OPTS_HELP                                                                   \
	"      --net MODE       proxy (the default: only clawbox's HTTP/SOCKS5 proxy\n" \
	"                       and DNS stub, which allow the domains of the policy;\n" \
	"                       every decision is logged), none (loopback only) or\n"   \
	"                       filtered (root: the proxy, plus a veth with NAT out\n"  \
	"                       for TCP 443, 80, 53, UDP 53, 123, 41641 and\n"          \
	"                       100.64.0.0/10; other packets rejected and logged)\n"    \
	"      --allow-domain P allow P: name or *.name (subdomains only), optional\n"  \
	"                       :PORT (default 443 and 80); repeatable; also\n"         \
	"                       'allow-domain P' lines in $STATE/boxes/NAME/net\n"      \
	"      --deny-domain P  deny P (wins over any allow)\n"                         \
	"      --allow-ip A[/L] allow an address range: IP literals, and private,\n"    \
	"                       loopback, link-local or metadata addresses\n"           \
	"      --publish [H:]B  forward the host's 127.0.0.1:H (default B) to the\n"    \
	"                       box's 127.0.0.1:B (root; repeatable)\n"

const char *net_mode_name(enum net_mode m);

/* Handle option c (one of NET_OPT_*) with arg. 0 when taken, -EINVAL after
 * reporting a usage error. */
int net_opts_parse(struct net_opts *o, int c, const char *arg);

/* A run's network: the policy, the proxy, the published ports, (filtered)
 * the box's slot and its denials' log. Opaque; from net_prepare() to
 * net_finish(). */
struct net_run;

/* Build the run's policy (built-in allow list, box_dir/net, the options);
 * filtered: refuse without root, prepare the host (NAT table, forwarding)
 * and take the box's slot; listen on the published ports. box_dir and
 * box_name must outlive the run. Reports and returns -errno on failure. */
int net_prepare(const struct net_opts *o, const char *box_dir, const char *box_name,
		struct net_run **ret);
/* Add the proxy variables to the box's environment (proxy mode only). */
int net_environment(const struct net_run *n, struct strv *env);
/* The sandbox's started hook: the box init is host pid pid; (filtered)
 * create its veth pair, the box side in the init's network namespace. */
void net_started(struct net_run *n, pid_t pid);
/* The box's network namespace is in place (netns: an fd of it; diag: a
 * NETLINK_SOCK_DIAG socket the box made there, or -1; both taken over):
 * start forwarding the published ports into it, and find the processes
 * behind proxy connections with diag. */
void net_ready(struct net_run *n, int netns, int diag);
/* What the box init sets up in the box's network namespace. */
void net_box_spec(const struct net_run *n, struct netbox_spec *ret);
/* The box's /etc/resolv.conf (the DNS stub) in proxy mode, else NULL. */
const char *net_resolv_conf(const struct net_run *n);
/* The sandbox hook: the proxy takes the listeners, and (filtered) serve
 * the NFLOG socket that follows them. */
void net_listeners(int *fds, size_t nfds, struct net_run *n);
/* The listeners to watch (into p, SUPERVISOR_WATCH_MAX at most; how many)
 * until the first connection or DNS question, and the call for it: the
 * proxy's threads start then, not with every box. */
size_t net_watch(const struct net_run *n, struct pollfd *p);
void net_watch_ready(struct net_run *n);
/* The proxy's brokered secrets (src/cli/launch_broker.h): before the
 * box starts; b, filled before the box's command starts, must outlive the
 * proxy. */
void net_broker(struct net_run *n, const struct proxy_broker *b);
/* Stop the proxy, the forwarding and the denials' log, release the slot,
 * free *np and set it to NULL (NULL is fine: later calls do nothing).
 * -EBUSY when a connection still uses the proxy (stuck in the host's
 * resolver): what it was given (the broker) must then stay until exit. */
int net_finish(struct net_run **np);

#endif
