/* The network of a run: options, policy, environment, the proxy's life. */
#include "util/common.h"

#include "state/audit.h"
#include "cli/launch_net.h"
#include "net/nftrules_def.h"
#include "util/fs.h"
#include "util/log.h"

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
		o->publish[o->npublish++] = pp;
		return 0;
	}
	default: return -EINVAL;
	}
}

/* Listen on the published host ports now, so a port in use is an error
 * before the box starts. */
static int prepare_publish(const struct net_opts *o, struct net_run *n)
{
	if (o->npublish == 0)
		return 0;
	if (geteuid() != 0) {
		log_error("--publish needs root (entering the box's network namespace)");
		return -EPERM;
	}
	for (size_t i = 0; i < o->npublish; i++) {
		n->publish[i] = o->publish[i];
		int r = publish_listen(&n->publish[i]);
		if (r < 0) {
			log_error("cannot listen on 127.0.0.1:%u for --publish: %s",
				  (unsigned)o->publish[i].host, strerror(-r));
			for (size_t k = 0; k < i; k++)
				close(n->publish[k].fd);
			return r;
		}
	}
	n->npublish = o->npublish;
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
	const char *what = NULL;
	bool enabled = false;
	int r;
	if (geteuid() != 0) {
		log_error("--net filtered needs root (a veth pair and NAT in the host's network "
			  "namespace); use --net proxy");
		return -EPERM;
	}
	if ((r = netfilter_host_prepare(&enabled, &what)) < 0) {
		log_error("cannot %s: %s", what, strerror(-r));
		return r;
	}
	if (enabled) {
		log_warn("IPv4 forwarding was off: turned it on for --net filtered "
			 "(net.ipv4.ip_forward=1), with nftables table 'ip " NFTRULES_GUARD_TABLE
			 "' forwarding only the boxes' traffic");
		audit_forwarding(n);
	}
	if ((r = netfilter_slot_take(&n->slot, &what)) < 0) {
		log_error("cannot %s: %s", what, strerror(-r));
		return r;
	}
	return 0;
}

int net_prepare(const struct net_opts *o, const char *box_dir, const char *box_name,
		struct net_run *ret)
{
	struct net_run n = { .mode = o->mode, .box_dir = box_dir, .box_name = box_name };
	char path[PATH_MAX];
	unsigned line = 0;
	int r = 0;

	n.slot.lock_fd = -1;
	if (o->mode == NET_FILTERED && (r = prepare_filtered(&n)) < 0)
		return r;
	if ((r = prepare_publish(o, &n)) < 0) {
		netfilter_slot_release(&n.slot);
		return r;
	}
	if (o->mode == NET_NONE) {
		*ret = n;
		return 0;
	}
	for (size_t i = 0; netpolicy_default_allow[i] && r == 0; i++)
		r = netpolicy_add_domain(&n.policy, netpolicy_default_allow[i], true);
	if (r == 0 && (r = path_join(path, sizeof(path), box_dir, "net")) == 0 &&
	    (r = netpolicy_read_file(&n.policy, path, &line)) < 0) {
		if (r == -EINVAL)
			log_error("invalid line %u in '%s' (allow-domain P, deny-domain P or "
				  "allow-ip A[/L])",
				  line, path);
		else
			log_error("cannot read '%s': %s", path, strerror(-r));
	}
	for (size_t i = 0; i < o->nallow && r == 0; i++)
		r = netpolicy_add_domain(&n.policy, o->allow[i], true);
	for (size_t i = 0; i < o->ndeny && r == 0; i++)
		r = netpolicy_add_domain(&n.policy, o->deny[i], false);
	for (size_t i = 0; i < o->nip && r == 0; i++)
		r = netpolicy_add_ip(&n.policy, o->ip[i]);
	if (r < 0) {
		if (r != -EINVAL)
			log_error("cannot build the network policy: %s", strerror(-r));
		netpolicy_free(&n.policy);
		for (size_t i = 0; i < n.npublish; i++)
			close(n.publish[i].fd);
		netfilter_slot_release(&n.slot);
		return r;
	}
	*ret = n;
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
	return r;
}

void net_started(struct net_run *n, pid_t pid)
{
	const char *what = NULL;
	int e;
	n->init_pid = pid;
	/* On failure the box init finds no eth0 and the box fails to start. */
	if (n->mode == NET_FILTERED && (e = netfilter_veth_up(&n->slot, pid, &what)) < 0)
		log_error("cannot %s: %s", what, strerror(-e));
}

void net_ready(struct net_run *n, int netns, int diag)
{
	if (n->mode != NET_NONE && !n->owners && n->init_pid > 0) {
		int fd = fcntl(netns, F_DUPFD_CLOEXEC, 3);
		/* Without it the events carry no pid; nothing else changes. */
		if (fd >= 0)
			(void)sockowner_new(fd, diag, n->init_pid, &n->owners);
		else if (diag >= 0)
			close(diag);
		diag = -1;
	}
	if (diag >= 0)
		close(diag);
	if (n->npublish == 0) {
		close(netns);
		return;
	}
	size_t k = n->npublish;
	n->npublish = 0; /* the fds are publish_start()'s from here on */
	int r = publish_start(n->publish, k, netns, n->box_dir, n->box_name, &n->pub);
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

static void no_proxy(struct net_run *n, int r)
{
	/* The box keeps running without egress: nothing is reachable. */
	log_warn("cannot start the network proxy: %s; the box has no network", strerror(-r));
	n->proxy_failed = true;
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
				    .owners = n->owners };
	int r = proxy_start(&cfg, all, &n->proxy);
	if (r < 0)
		no_proxy(n, r);
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
		no_proxy(n, r);
	}
}

void net_finish(struct net_run *n)
{
	if (n->finished)
		return;
	n->finished = true;
	publish_stop(n->pub);
	n->pub = NULL;
	nflog_stop(n->nflog);
	n->nflog = NULL;
	netfilter_slot_release(&n->slot);
	for (size_t i = 0; i < n->npublish; i++)
		close(n->publish[i].fd);
	n->npublish = 0;
	if (proxy_stop(n->proxy) == 0) {
		/* else both still in use until exit */
		netpolicy_free(&n->policy);
		n->owners = sockowner_free(n->owners);
	}
	n->proxy = NULL;
}
