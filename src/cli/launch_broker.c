#include "util/common.h"

#include "box/rootfs.h"
#include "cli/cli.h"
#include "cli/launch_broker.h"
#include "net/brokerca.h"
#include "net/brokertls.h"
#include "net/proxy.h"
#include "net/tlslib.h"
#include "secrets/broker.h"
#include "secrets/secrets.h"
#include "state/box.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/strv.h"

#define HOST_BUNDLE     ROOTFS_CA_BUNDLE /* the host's, where Debian keeps it */
#define HOST_BUNDLE_MAX (8 << 20)

struct launch_broker {
	struct broker_set *rules; /* its own allocation: see launch_broker_prepare */
	struct brokerca *ca;
	struct proxy_broker proxy;
	char bundle[PATH_MAX];
	/* The placeholders (secret memory: as long as the values). */
	char *placeholder[BROKER_MAX];
};

static int report(const struct error *e, int r)
{
	char why[ERROR_FORMAT_MAX];
	log_error("brokered secrets: %s", cli_error_text(e, r, why, sizeof(why)));
	return r;
}

/* The box's bundle: the host's certificates, then the box's CA. */
static int write_bundle(struct launch_broker *lb, const struct box *b, int dirfd)
{
	_cleanup_free_ char *host = NULL;
	size_t len = 0;
	int r = fs_read_file(HOST_BUNDLE, HOST_BUNDLE_MAX, &host, &len);
	if (r < 0) {
		log_error("brokered secrets need the host's CA bundle %s: %s (Debian: apt-get "
			  "install ca-certificates)",
			  HOST_BUNDLE, strerror(-r));
		return r;
	}
	const char *pem = brokerca_pem(lb->ca);
	size_t pl = strlen(pem);
	_cleanup_free_ char *all = malloc(len + 1 + pl);
	if (!all)
		return -ENOMEM;
	memcpy(all, host, len);
	all[len] = '\n';
	memcpy(all + len + 1, pem, pl);
	if ((r = fs_write_atomic_at(dirfd, LAUNCH_BROKER_BUNDLE, all, len + 1 + pl, 0644)) < 0) {
		log_error("cannot write the CA bundle of box '%s': %s", b->name, strerror(-r));
		return r;
	}
	return path_join(lb->bundle, sizeof(lb->bundle), b->dir, LAUNCH_BROKER_BUNDLE);
}

/* Every rule's hosts, each once. */
static size_t all_hosts(const struct broker_set *s, const char **hosts)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++)
		for (size_t h = 0; h < s->rule[i].nhosts; h++) {
			const char *x = s->rule[i].hosts[h];
			size_t j = 0;
			while (j < n && !STREQ(hosts[j], x))
				j++;
			if (j == n && n < BROKERCA_HOSTS_MAX)
				hosts[n++] = x;
		}
	return n;
}

/* Told by the proxy, once, when the box's first TLS handshake with it
 * failed: the advice when it looks like the CA was not trusted (an alert
 * saying so, or a client that hung up). */
static void notice(const char *host, const char *why)
{
	bool trust = strstr(why, "unknown ca") || strstr(why, "certificate") ||
		     strstr(why, "closed the connection");
	log_warn("brokered host %s: %s%s%s", host, why,
		 trust ? "; a client in the box must trust the box's CA (clawbox sets "
			 "SSL_CERT_FILE, NODE_EXTRA_CA_CERTS, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE "
			 "and GIT_SSL_CAINFO to "
		       : "",
		 trust ? ROOTFS_CA_BUNDLE ")" : "");
}

int launch_broker_prepare(const struct box *b, struct launch_broker **ret)
{
	_cleanup_close_ int dirfd = open(b->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct error err = { 0 };
	const char *hosts[BROKERCA_HOSTS_MAX];
	int r;

	*ret = NULL;
	if (dirfd < 0)
		return report(NULL, -errno);
	/* Not zeroed: broker_load fills the rules it finds, and most boxes
	 * have none, so nothing of its 80 KiB is touched (a page's first
	 * touch is what a start pays most for). */
	struct broker_set *rules = malloc(sizeof(*rules));
	if (!rules)
		return report(NULL, -ENOMEM);
	if ((r = broker_load(dirfd, rules, &err)) < 0 || rules->n == 0) {
		free(rules);
		return r < 0 ? report(&err, r) : 0;
	}
	struct launch_broker *lb = calloc(1, sizeof(*lb));
	if (!lb) {
		free(rules);
		return report(NULL, -ENOMEM);
	}
	lb->rules = rules;
	size_t nh = all_hosts(lb->rules, hosts);
	if ((r = tlslib_load(&err)) < 0 ||
	    (r = brokerca_open(dirfd, b->name, hosts, nh, &lb->ca, &err)) < 0 ||
	    (r = brokertls_new(lb->ca, secure_getenv(BROKERTLS_UPSTREAM_CA_ENV), &lb->proxy.tls,
			       &err)) < 0) {
		report(&err, r);
		launch_broker_free(lb);
		return r;
	}
	if ((r = write_bundle(lb, b, dirfd)) < 0) {
		launch_broker_free(lb);
		return r;
	}
	lb->proxy.notice = notice;
	*ret = lb;
	return 0;
}

const char *launch_broker_bundle(const struct launch_broker *lb)
{
	return lb ? lb->bundle : NULL;
}

const struct proxy_broker *launch_broker_proxy(const struct launch_broker *lb)
{
	return lb ? &lb->proxy : NULL;
}

/* Broker sec under rule r: its placeholder made, the proxy told. */
static int broker_one(struct launch_broker *lb, const uint8_t key[32], const struct secret *sec,
		      const struct broker_rule *r)
{
	size_t i = lb->proxy.n;
	char *ph = secrets_mem_alloc(sec->len + 1);
	if (!ph)
		return -ENOMEM;
	lb->placeholder[i] = ph;
	if (broker_placeholder(key, sec->name, sec->value, sec->len, ph) < 0) {
		log_error("secret '%s' cannot be brokered: a value of at least %d letters or "
			  "digits is needed for a placeholder of its shape; the run does not "
			  "start (its value must not reach the box)",
			  sec->name, SECRETS_SHORT);
		return -EINVAL;
	}
	lb->proxy.s[i] = (struct brokerhttp_secret){ .placeholder = ph,
						     .plen = sec->len,
						     .value = sec->value,
						     .vlen = sec->len,
						     .inject = r->inject,
						     .ninject = r->ninject };
	lb->proxy.rule[i] = r;
	lb->proxy.n++;
	return 0;
}

/* secrets, with each brokered value replaced by its placeholder. */
static int shown_copy(const struct launch_broker *lb, const struct secrets *secrets,
		      struct secrets **ret)
{
	struct secrets *s = NULL;
	int r = secrets_new(&s);
	for (size_t i = 0; r >= 0 && i < secrets_count(secrets); i++) {
		const struct secret *sec = secrets_at(secrets, i);
		const char *v = sec->value;
		for (size_t j = 0; j < lb->proxy.n; j++)
			if (STREQ(lb->proxy.rule[j]->name, sec->name))
				v = lb->proxy.s[j].placeholder;
		r = secrets_put(s, sec->name, v, sec->len, sec->source, NULL, 0);
	}
	if (r < 0) {
		secrets_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

int launch_broker_secrets(struct launch_broker *lb, const struct box *b,
			  const struct secrets *secrets, struct secrets **ret_shown,
			  struct strv *env)
{
	static const char *const vars[] = { "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS",
					    "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
					    "GIT_SSL_CAINFO" };
	_cleanup_close_ int dirfd = -1;
	struct error err = { 0 };
	uint8_t key[32];
	int r = 0;

	*ret_shown = NULL;
	if (!lb)
		return 0;
	if ((dirfd = open(b->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return report(NULL, -errno);
	if ((r = broker_key(dirfd, key, &err)) < 0)
		return report(&err, r);
	for (size_t i = 0; i < lb->rules->n && r >= 0; i++) {
		const struct broker_rule *rule = &lb->rules->rule[i];
		const struct secret *sec = secrets_get(secrets, rule->name);
		if (sec && sec->len > 0)
			r = broker_one(lb, key, sec, rule);
		else
			log_warn("secret '%s' is brokered for %s but has no value in this run",
				 rule->name, rule->hosts[0]);
	}
	explicit_bzero(key, sizeof(key));
	for (size_t i = 0; i < ELEMENTSOF(vars) && r >= 0; i++)
		r = strv_pushf(env, "%s=%s", vars[i], ROOTFS_CA_BUNDLE);
	if (r >= 0)
		r = shown_copy(lb, secrets, ret_shown);
	if (r < 0 && r != -EINVAL)
		log_error("cannot broker the run's secrets: %s", strerror(-r));
	return r;
}

json_t *launch_broker_json(const struct launch_broker *lb)
{
	json_t *a = json_array();
	for (size_t i = 0; a && lb && i < lb->proxy.n; i++)
		json_array_append_new(a, json_string(lb->proxy.rule[i]->name));
	return a;
}

struct launch_broker *launch_broker_free(struct launch_broker *lb)
{
	if (!lb)
		return NULL;
	brokertls_free(lb->proxy.tls);
	brokerca_free(lb->ca);
	for (size_t i = 0; i < BROKER_MAX; i++)
		if (lb->placeholder[i])
			secrets_mem_free(lb->placeholder[i]);
	free(lb->rules);
	free(lb);
	return NULL;
}
