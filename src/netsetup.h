/* The network of a run, for the command layer (src/runbox.c): the --net,
 * --allow-domain, --deny-domain and --allow-ip options, the box's policy
 * (built-in allow list, the box's "net" file, the options), the proxy's
 * environment variables, and the proxy's life around sandbox_run(). Reports
 * its own errors (command layer). */
#ifndef CLAWBOX_NETSETUP_H
#define CLAWBOX_NETSETUP_H
#include "util/common.h"

#include "netpolicy.h"
#include "policy.h"
#include "proxy.h"
#include "publish.h"

/* The default first: a zeroed struct net_opts means proxy. */
enum net_mode { NET_PROXY, NET_NONE };

#define NET_OPTS_MAX 64

struct net_opts {
	enum net_mode mode;
	const char *allow[NET_OPTS_MAX], *deny[NET_OPTS_MAX], *ip[NET_OPTS_MAX];
	size_t nallow, ndeny, nip;
	struct publish_port publish[PUBLISH_MAX];
	size_t npublish;
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
	"                       every decision is logged) or none (loopback only)\n"    \
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

struct net_run {
	enum net_mode mode;
	struct netpolicy policy;
	const char *box_dir, *box_name;
	struct proxy *proxy;
	bool proxy_failed;
	struct publish_port publish[PUBLISH_MAX]; /* listening from net_prepare on */
	size_t npublish;
	struct publish *pub;
	bool finished;
};

/* Build the run's policy (built-in allow list, box_dir/net, the options).
 * Reports and returns -errno on an invalid pattern. */
int net_prepare(const struct net_opts *o, const char *box_dir, const char *box_name,
		struct net_run *ret);
/* Add the proxy variables to the box's environment (proxy mode only). */
int net_environment(const struct net_run *n, struct strv *env);
/* The box's network namespace is in place (netns: an fd of it, taken
 * over): start forwarding the published ports into it. */
void net_started(struct net_run *n, int netns);
/* The box's /etc/resolv.conf (the DNS stub) in proxy mode, else NULL. */
const char *net_resolv_conf(const struct net_run *n);
/* The sandbox hook: start the proxy on the listeners (ctx: struct net_run). */
void net_listeners(int *fds, size_t nfds, struct net_run *n);
/* Stop the proxy and free the policy; once (later calls do nothing). */
void net_finish(struct net_run *n);

#endif
