/* The network of a run: options, policy, environment, the proxy's life. */
#include "util/common.h"

#include "box/masks.h"
#include "box/supervisor.h"
#include "cli/launch_net.h"
#include "net/netbox.h"
#include "net/netfilter.h"
#include "net/netpolicy.h"
#include "net/nflog.h"
#include "net/nftrules_def.h"
#include "net/proxy.h"
#include "net/publish.h"
#include "net/sockowner.h"
#include "state/audit.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"

#include <poll.h>

_Static_assert(PROXY_NFDS <= SUPERVISOR_WATCH_MAX, "the proxy's listeners fit the watch");

struct net_run {
	enum net_mode mode;
	struct netpolicy policy;
	const char *box_dir, *box_name;
	struct proxy *proxy;
	struct publish_port publish[PUBLISH_MAX]; /* listening from net_prepare on */
	size_t npublish;
	struct publish *pub;
	struct netfilter_slot slot;        /* filtered: this box's /30 and veth */
	struct nflog *nflog;               /* filtered: the denials into the audit log */
	pid_t init_pid;                    /* the box init's host pid, from the started hook */
	struct sockowner *owners;          /* the proxy's clients' pids (proxy, filtered) */
	const struct proxy_broker *broker; /* brokered secrets, or NULL */
};

/* Report a failed step of the network's setup ("cannot STEP: reason");
 * returns its code. */
static int fail(const struct error *e)
{
	char b[ERROR_FORMAT_MAX];
	log_error("cannot %s", error_format(e, b, sizeof(b)));
	return e->code;
}

const char *net_mode_name(enum net_mode m)
{
	return m == NET_PROXY ? "proxy" : m == NET_FILTERED ? "filtered" : "none";
}

static int push(const char **v, size_t *n, const char *arg, const char *opt)
{
	if (*n == NET_OPTS_MAX) {
		log_error("too many %s options (see 'clawbox run --help')", opt);
		return -EINVAL;
	}
	v[(*n)++] = arg;
	return 0;
}

int net_opts_parse(struct net_opts *o, int c, const char *arg)
{
	struct netpolicy probe = { 0 };
	int r = 0;
	switch (c) {
	case NET_OPT_NET:
		if (STREQ(arg, "none"))
			o->mode = NET_NONE;
		else if (STREQ(arg, "proxy"))
			o->mode = NET_PROXY;
		else if (STREQ(arg, "filtered"))
			o->mode = NET_FILTERED;
		else {
			log_error(
			    "unknown network mode '%s' (proxy, none or filtered) (see 'clawbox run "
			    "--help')",
			    arg);
			return -EINVAL;
		}
		return 0;
	case NET_OPT_ALLOW_DOMAIN:
	case NET_OPT_DENY_DOMAIN:
		/* Check now, so a typo is a usage error before anything starts. */
		r = netpolicy_add_domain(&probe, arg, true);
		netpolicy_free(&probe);
		if (r < 0) {
			log_error("invalid domain pattern '%s' (name or *.name, optional :port)",
				  arg);
			return -EINVAL;
		}
		return c == NET_OPT_ALLOW_DOMAIN ? push(o->allow, &o->nallow, arg, "--allow-domain")
						 : push(o->deny, &o->ndeny, arg, "--deny-domain");
	case NET_OPT_ALLOW_IP:
		r = netpolicy_add_ip(&probe, arg);
		netpolicy_free(&probe);
		if (r < 0) {
			log_error("invalid address '%s' for --allow-ip (ADDR or ADDR/LEN)", arg);
			return -EINVAL;
		}
		return push(o->ip, &o->nip, arg, "--allow-ip");
	case NET_OPT_PUBLISH: {
		struct publish_port pp;
		if (publish_parse(arg, &pp) < 0) {
			log_error("invalid port '%s' for --publish ([HOSTPORT:]BOXPORT)", arg);
			return -EINVAL;
		}
		if (o->npublish == PUBLISH_MAX) {
			log_error("too many --publish options (see 'clawbox run --help')");
			return -EINVAL;
		}
		o->publish[o->npublish++] = arg;
		return 0;
	}
	default: return -EINVAL;
	}
}

/* Listen on the published host ports now, so a port in use is an error
 * before the box starts. The listeners are n's (closed by net_finish). */
static int prepare_publish(const struct net_opts *o, struct net_run *n)
{
	if (o->npublish == 0)
		return 0;
	if (geteuid() != 0) {
		log_error("--publish needs root (entering the box's network namespace)");
		return -EPERM;
	}
	for (size_t i = 0; i < o->npublish; i++) {
		struct publish_port *pp = &n->publish[n->npublish];
		/* Checked by net_opts_parse: cannot fail. */
		int r = publish_parse(o->publish[i], pp);
		if (r == 0)
			r = publish_listen(pp);
		if (r < 0) {
			log_error("cannot listen on 127.0.0.1:%u for --publish: %s",
				  (unsigned)pp->host, strerror(-r));
			return r;
		}
		n->npublish++;
	}
	return 0;
}

/* The audit event of forwarding turned on (the message is the caller's). */
static void audit_forwarding(const struct net_run *n)
{
	struct audit *a = NULL;
	if (audit_open(n->box_dir, n->box_name, &a) < 0)
		return;
	audit_append(a, "net.forwarding",
		     json_pack("{s:s, s:s, s:s}", "sysctl", "net.ipv4.ip_forward", "value", "1",
			       "guard", "table ip " NFTRULES_GUARD_TABLE));
	audit_close(a);
}

/* --net filtered: the host's NAT table and forwarding, and the box's slot. */
static int prepare_filtered(struct net_run *n)
{
	struct error e = { 0 };
	bool enabled = false;
	if (geteuid() != 0) {
		log_error("--net filtered needs root (a veth pair and NAT in the host's network "
			  "namespace); use --net proxy");
		return -EPERM;
	}
	if (netfilter_host_prepare(&enabled, &e) < 0)
		return fail(&e);
	if (enabled) {
		log_warn("IPv4 forwarding was off: turned it on for --net filtered "
			 "(net.ipv4.ip_forward=1), with nftables table 'ip " NFTRULES_GUARD_TABLE
			 "' forwarding only the boxes' traffic");
		audit_forwarding(n);
	}
	if (netfilter_slot_take(&n->slot, &e) < 0)
		return fail(&e);
	return 0;
}

/* The policy: the built-in allow list, the box's "net" file, the options
 * (checked by net_opts_parse). */
static int build_policy(const struct net_opts *o, struct net_run *n)
{
	struct error e = { 0 };
	char path[PATH_MAX], b[ERROR_FORMAT_MAX];
	int r = 0;

	for (size_t i = 0; netpolicy_default_allow[i] && r == 0; i++)
		r = netpolicy_add_domain(&n->policy, netpolicy_default_allow[i], true);
	if (r == 0 && (r = path_join(path, sizeof(path), n->box_dir, "net")) == 0 &&
	    netpolicy_read_file(&n->policy, path, &e) < 0) {
		if (e.line) /* a bad line: "PATH:LINE: what is wrong" */
			log_error("%s", error_format(&e, b, sizeof(b)));
		else
			log_error("cannot %s", error_format(&e, b, sizeof(b)));
		return e.code;
	}
	for (size_t i = 0; i < o->nallow && r == 0; i++)
		r = netpolicy_add_domain(&n->policy, o->allow[i], true);
	for (size_t i = 0; i < o->ndeny && r == 0; i++)
		r = netpolicy_add_domain(&n->policy, o->deny[i], false);
	for (size_t i = 0; i < o->nip && r == 0; i++)
		r = netpolicy_add_ip(&n->policy, o->ip[i]);
	if (r < 0)
		log_error("cannot build the network policy: %s", strerror(-r));
	return r;
}

int net_prepare(const struct net_opts *o, const char *box_dir, const char *box_name,
		struct net_run **ret)
{
	_cleanup_(net_finish) struct net_run *n = calloc(1, sizeof(*n));
	int r;

	if (!n) {
		log_error("cannot prepare the box's network: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	n->mode = o->mode;
	n->box_dir = box_dir;
	n->box_name = box_name;
	n->slot.lock_fd = -1;
	if (o->mode == NET_FILTERED && (r = prepare_filtered(n)) < 0)
		return r;
	if ((r = prepare_publish(o, n)) < 0)
		return r;
	if (o->mode != NET_NONE && (r = build_policy(o, n)) < 0)
		return r;
	*ret = TAKE_PTR(n);
	return 0;
}

int net_environment(const struct net_run *n, struct strv *env)
{
	static const char *const vars[] = {
		"HTTP_PROXY=http://127.0.0.1:3128",   "http_proxy=http://127.0.0.1:3128",
		"HTTPS_PROXY=http://127.0.0.1:3128",  "https_proxy=http://127.0.0.1:3128",
		"ALL_PROXY=socks5h://127.0.0.1:1080", "all_proxy=socks5h://127.0.0.1:1080",
		"NO_PROXY=localhost,127.0.0.1,::1",   "no_proxy=localhost,127.0.0.1,::1",
	};
	int r = 0;
	if (n->mode == NET_NONE)
		return 0;
	for (size_t i = 0; i < ELEMENTSOF(vars) && r == 0; i++)
		r = strv_push(env, vars[i]);
	/* Node (24, 22.21 on) sends fetch() and http(s) through the variables
	 * above only when told: without it a Node agent's plain fetch() goes
	 * direct and finds no route (docs/NETWORK.md). */
	return r < 0 ? r : strv_push(env, "NODE_USE_ENV_PROXY=1");
}

void net_started(struct net_run *n, pid_t pid)
{
	struct error e = { 0 };
	n->init_pid = pid;
	/* On failure the box init finds no eth0 and the box fails to start. */
	if (n->mode == NET_FILTERED && netfilter_veth_up(&n->slot, pid, &e) < 0)
		fail(&e);
}

void net_ready(struct net_run *n, int netns, int diag)
{
	_cleanup_close_ int ns = netns, dg = diag;
	if (n->mode != NET_NONE && !n->owners && n->init_pid > 0) {
		int fd = fcntl(ns, F_DUPFD_CLOEXEC, 3);
		/* Without it the events carry no pid; nothing else changes. */
		if (fd >= 0)
			(void)sockowner_new(fd, TAKE_FD(dg), n->init_pid, &n->owners);
	}
	if (n->npublish == 0)
		return;
	size_t k = n->npublish;
	n->npublish = 0; /* the fds are publish_start()'s from here on */
	int r = publish_start(n->publish, k, TAKE_FD(ns), n->box_dir, n->box_name, &n->pub);
	if (r < 0)
		log_warn("cannot forward the published ports: %s", strerror(-r));
}

void net_box_spec(const struct net_run *n, struct netbox_spec *ret)
{
	*ret = (struct netbox_spec){ .filtered = n->mode == NET_FILTERED,
				     .addr = n->slot.box_addr,
				     .gateway = n->slot.host_addr,
				     .prefix = n->slot.prefix };
}

const char *net_resolv_conf(const struct net_run *n)
{
	return n->mode != NET_NONE ? "# clawbox: the box's DNS stub (allowed names only)\n"
				     "nameserver 127.0.0.1\n"
				   : NULL;
}

static void start_nflog(struct net_run *n, int fd)
{
	int r = nflog_start(fd, n->box_dir, n->box_name, &n->nflog);
	if (r < 0)
		log_warn("cannot log the box's denied packets: %s", strerror(-r));
}

static void no_proxy(int r)
{
	/* The box keeps running without egress: nothing is reachable. */
	log_warn("cannot start the network proxy: %s; the box has no network", strerror(-r));
}

void net_listeners(int *fds, size_t nfds, struct net_run *n)
{
	int all[PROXY_NFDS] = { -1, -1, -1 };
	for (size_t i = 0; i < nfds; i++) {
		if (i < PROXY_NFDS && n->mode != NET_NONE && !n->proxy)
			all[i] = fds[i];
		else if (i == PROXY_NFDS && n->mode == NET_FILTERED && !n->nflog)
			start_nflog(n, fds[i]);
		else
			close(fds[i]);
	}
	if (n->mode == NET_NONE || n->proxy)
		return;
	struct proxy_config cfg = { .policy = &n->policy,
				    .box_dir = n->box_dir,
				    .box_name = n->box_name,
				    .owners = n->owners,
				    .broker = n->broker };
	int r = proxy_start(&cfg, all, &n->proxy);
	if (r < 0)
		no_proxy(r);
}

size_t net_watch(const struct net_run *n, struct pollfd *p)
{
	return proxy_pollfds(n->proxy, p);
}

void net_watch_ready(struct net_run *n)
{
	int r = n->proxy ? proxy_serve(n->proxy) : 0;
	if (r < 0) {
		/* Closed listeners: the box's connections are refused. */
		proxy_stop(n->proxy);
		n->proxy = NULL;
		no_proxy(r);
	}
}

void net_broker(struct net_run *n, const struct proxy_broker *b)
{
	n->broker = b;
}

int net_finish(struct net_run **np)
{
	struct net_run *n = *np;
	if (!n)
		return 0;
	*np = NULL;
	publish_stop(n->pub);
	nflog_stop(n->nflog);
	netfilter_slot_release(&n->slot);
	for (size_t i = 0; i < n->npublish; i++)
		close(n->publish[i].fd);
	/* -EBUSY: a connection still uses the proxy, the policy and the
	 * owners; all of them stay until exit. */
	if (proxy_stop(n->proxy) < 0)
		return -EBUSY;
	netpolicy_free(&n->policy);
	sockowner_free(n->owners);
	free(n);
	return 0;
}
