#include "util/clock.h"
#include "util/common.h"

#include "state/audit.h"
#include "net/brokertls.h"
#include "net/dnsstub.h"
#include "net/httpproxy.h"
#include "net/proxy.h"
#include "net/relay.h"
#include "net/socks5.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <strings.h>
#include <time.h>

struct proxy {
	struct proxy_config cfg;
	struct audit *audit;
	bool audit_failed;
	pthread_mutex_t lock; /* guards audit, the counts below, dns_started */
	pthread_cond_t idle;  /* active and workers reached 0 */
	pthread_cond_t work;  /* no leader any more, or stopping */
	unsigned active;      /* connections accepted and not yet ended */
	unsigned workers;     /* connection threads alive */
	unsigned waiting;     /* of which idle, waiting to lead */
	bool leading;         /* one of them waits for connections */
	bool serving;         /* proxy_serve() started the first one */
	bool stopping;
	int stop_r, stop_w;
	int fds[PROXY_NFDS];
	/* Finding the box's process behind a connection (src/net/sockowner.h):
	 * one lookup at a time. */
	pthread_mutex_t owner_lock;
	pthread_t dns;
	struct sockaddr_storage dns_addr; /* the stub's, for its clients' pids */
	bool dns_started;
	/* Denials are logged at most PROXY_DENY_RATE a second (burst
	 * PROXY_DENY_BURST), as the kernel logs the filtered mode's; the rest
	 * are counted per event and reported as one "suppressed" event.
	 * Under lock. */
	double deny_tokens;
	int64_t deny_last_ms;
	uint64_t suppressed[2]; /* DENY_CONNECT, DENY_DNS */
	bool noticed;           /* cfg.broker->notice told; under lock */
};

enum { DENY_CONNECT, DENY_DNS };
static const char *const deny_event[] = { "net.connect", "net.dns" };

struct conn {
	struct proxy *p;
	int kind; /* PROXY_FD_HTTP or PROXY_FD_SOCKS */
	int cfd;  /* the box's side */
	int ufd;  /* upstream, -1 until connected */
	int64_t t0;
	/* For the audit event. */
	const char *proto;
	char host[NETPOLICY_NAME_MAX + 1];
	char addr[INET6_ADDRSTRLEN];
	uint16_t port;
	const char *rule;
	const char *addr_rule; /* the --allow-ip rule a special address passed by */
	uint64_t bytes_out, bytes_in;
	struct sockowner_pid owner; /* pid 0: not known */
	bool owner_looked;          /* the lookup was done */
	bool brokered;              /* ended here (brokertls), not tunnelled */
};

static void log_event(struct proxy *p, const char *event, json_t *f)
{
	pthread_mutex_lock(&p->lock);
	/* Opened on the first event: a box that never uses the network pays
	 * nothing for it. */
	if (!p->audit && !p->audit_failed &&
	    audit_open(p->cfg.box_dir, p->cfg.box_name, &p->audit) < 0)
		p->audit_failed = true;
	if (p->audit)
		audit_append(p->audit, event, f);
	else
		json_decref(f);
	pthread_mutex_unlock(&p->lock);
}

/* The summary of the denials of one kind not logged one by one. Under
 * p->lock, with the audit log open. */
static void log_suppressed(struct proxy *p, int kind)
{
	if (!p->suppressed[kind] || !p->audit)
		return;
	json_t *f = json_pack("{s:s, s:s, s:s, s:s, s:I}", "proto",
			      kind == DENY_DNS ? "dns" : "any", "decision", "deny", "rule", "rate",
			      "reason", "denials over the logging rate, counted", "suppressed",
			      (json_int_t)p->suppressed[kind]);
	p->suppressed[kind] = 0;
	if (f)
		audit_append(p->audit, deny_event[kind], f);
}

/* May a denial of this kind be logged now? A token bucket shared by both
 * kinds (a flood of either is bounded); when it is empty the denial is
 * counted instead, and the count is logged before the next denial of the
 * kind that is (or when the proxy stops). */
static bool deny_admit(struct proxy *p, int kind)
{
	int64_t now = clock_ms();
	pthread_mutex_lock(&p->lock);
	if (p->deny_last_ms == 0)
		p->deny_tokens = PROXY_DENY_BURST;
	else
		p->deny_tokens += (double)(now - p->deny_last_ms) * PROXY_DENY_RATE / 1000.0;
	if (p->deny_tokens > PROXY_DENY_BURST)
		p->deny_tokens = PROXY_DENY_BURST;
	p->deny_last_ms = now;
	bool ok = p->deny_tokens >= 1.0;
	if (ok) {
		p->deny_tokens -= 1.0;
		if (!p->audit && !p->audit_failed &&
		    audit_open(p->cfg.box_dir, p->cfg.box_name, &p->audit) < 0)
			p->audit_failed = true;
		log_suppressed(p, kind);
	} else {
		p->suppressed[kind]++;
	}
	pthread_mutex_unlock(&p->lock);
	return ok;
}

static int start_thread(pthread_t *t, void *(*fn)(void *), void *arg);

/* Find the box's process behind c, once: before the first answer to the
 * client (it still waits for it then, so it has not exited), or beside the
 * upstream connect (open_upstream). A lookup is a netlink round trip and a
 * walk of the box's /proc. */
static void conn_owner(struct conn *c)
{
	struct proxy *p = c->p;
	if (c->owner_looked || !p->cfg.owners)
		return;
	c->owner_looked = true;
	struct sockaddr_storage box, me;
	socklen_t bl = sizeof(box), ml = sizeof(me);
	struct sockowner_pid o = { 0 };
	if (getpeername(c->cfd, (struct sockaddr *)&box, &bl) < 0 ||
	    getsockname(c->cfd, (struct sockaddr *)&me, &ml) < 0)
		return;
	pthread_mutex_lock(&p->owner_lock);
	if (sockowner_find(p->cfg.owners, IPPROTO_TCP, &box, &me, &o) == 0)
		c->owner = o;
	pthread_mutex_unlock(&p->owner_lock);
}

static void set_owner(json_t *f, const struct sockowner_pid *o)
{
	if (o->pid <= 0)
		return;
	json_object_set_new(f, "pid", json_integer(o->pid));
	json_object_set_new(f, "host_pid", json_integer(o->host_pid));
}

/* One audit event for a connection's decision. */
static void conn_log(struct conn *c, bool allow, const char *reason)
{
	if (!allow && !deny_admit(c->p, DENY_CONNECT))
		return;
	conn_owner(c);
	json_t *f = json_pack("{s:s, s:s, s:i, s:s, s:s}", "proto", c->proto, "host", c->host,
			      "port", (int)c->port, "decision", allow ? "allow" : "deny", "rule",
			      c->rule ? c->rule : "");
	if (!f)
		return;
	if (c->addr[0])
		json_object_set_new(f, "addr", json_string(c->addr));
	if (c->addr_rule)
		json_object_set_new(f, "addr_rule", json_string(c->addr_rule));
	if (reason)
		json_object_set_new(f, "reason", json_string(reason));
	set_owner(f, &c->owner);
	if (c->brokered)
		json_object_set_new(f, "brokered", json_true());
	if (allow) {
		json_object_set_new(f, "bytes_out", json_integer((json_int_t)c->bytes_out));
		json_object_set_new(f, "bytes_in", json_integer((json_int_t)c->bytes_in));
		json_object_set_new(f, "duration_ms", json_integer(clock_ms() - c->t0));
	}
	log_event(c->p, "net.connect", f);
}

/* Wait for events on fd until deadline (monotonic ms). 1 when ready,
 * -ETIMEDOUT, -ECANCELED when the proxy stops. */
static int wait_fd(struct conn *c, int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - clock_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd pf[2] = { { .fd = fd, .events = events },
					{ .fd = c->p->stop_r, .events = POLLIN } };
		int n = poll(pf, 2, left > INT_MAX ? INT_MAX : (int)left);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0 && pf[1].revents)
			return -ECANCELED;
		if (n > 0 && pf[0].revents)
			return 1;
	}
}

/* Read what is there (at least one byte) before deadline. 0 at EOF. */
static ssize_t read_some(struct conn *c, int fd, void *buf, size_t n, int64_t deadline)
{
	for (;;) {
		ssize_t k = recv(fd, buf, n, 0);
		if (k >= 0)
			return k;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		int r = wait_fd(c, fd, POLLIN, deadline);
		if (r < 0)
			return r;
	}
}

static int write_all(struct conn *c, int fd, const void *buf, size_t n, int64_t deadline)
{
	const char *p = buf;
	while (n > 0) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		if (k > 0) {
			p += k;
			n -= (size_t)k;
			continue;
		}
		if (k < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		int r = wait_fd(c, fd, POLLOUT, deadline);
		if (r < 0)
			return r;
	}
	return 0;
}

static int connect_timeout(struct proxy *p)
{
	return p->cfg.connect_timeout_ms > 0 ? p->cfg.connect_timeout_ms : 10000;
}

enum outcome {
	OUT_OK,
	OUT_DENIED,     /* policy: name or address */
	OUT_UNRESOLVED, /* no such name */
	OUT_REFUSED,    /* every allowed address refused the connection */
	OUT_TIMEOUT,
	OUT_STOPPED,
};

/* Can this host bind the address (port 0)? Then it is one of its own:
 * any interface's address, loopback or not, as the kernel knows them at
 * this moment (an interface added while the box runs counts too). A
 * socket, a bind and a close: a few microseconds per connect, no list to
 * keep fresh. Any answer but EADDRNOTAVAIL counts as own (refused). */
static bool bind_test(const struct sockaddr *sa, socklen_t len)
{
	struct sockaddr_storage ss = { 0 };
	if (len > sizeof(ss))
		return true;
	memcpy(&ss, sa, len);
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = 0;
	_cleanup_close_ int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return true;
	return bind(fd, (struct sockaddr *)&ss, len) == 0 || errno != EADDRNOTAVAIL;
}

/* Is sa (or the IPv4 address an IPv6 one carries) an address of the host? */
static bool own_address(const struct sockaddr *sa, socklen_t len)
{
	struct sockaddr_in v4;
	if (netpolicy_embedded_v4(sa, &v4) && bind_test((struct sockaddr *)&v4, sizeof(v4)))
		return true;
	return bind_test(sa, len);
}

/* Check host:port against the policy, resolve it, check each address,
 * connect to the first allowed one that answers. Fills c->ufd, c->addr,
 * c->rule. */
static enum outcome open_upstream(struct conn *c, const char **ret_reason)
{
	const struct netpolicy *pol = c->p->cfg.policy;
	const char *rule = NULL;
	if (!netpolicy_allow_name(pol, c->host, c->port, &rule)) {
		c->rule = rule;
		*ret_reason =
		    STREQ(rule, "ip-literal") ? "ip literal without --allow-ip" : "domain policy";
		return OUT_DENIED;
	}
	c->rule = rule;

	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	char port[8];
	snprintf(port, sizeof(port), "%u", (unsigned)c->port);
	struct sockaddr_storage lit;
	if (netpolicy_parse_ip(c->host, &lit))
		hints.ai_flags = AI_NUMERICHOST;
	int g = getaddrinfo(c->host, port, &hints, &res);
	if (g != 0) {
		*ret_reason = g == EAI_NONAME || g == EAI_NODATA ? "no such name" : gai_strerror(g);
		return OUT_UNRESOLVED;
	}
	enum outcome out = OUT_DENIED;
	const char *addr_rule = NULL;
	int64_t deadline = clock_ms() + connect_timeout(c->p);
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		const char *ar = NULL;
		void *a = ai->ai_family == AF_INET
			      ? (void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
			      : (void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
		bool ok = netpolicy_allow_addr(pol, ai->ai_addr, &ar);
		if (ok && own_address(ai->ai_addr, ai->ai_addrlen) &&
		    !netpolicy_names_addr(pol, ai->ai_addr, &ar)) {
			ok = false;
			ar = "host";
		}
		if (!ok) {
			if (!addr_rule) {
				addr_rule = ar;
				inet_ntop(ai->ai_family, a, c->addr, sizeof(c->addr));
			}
			continue;
		}
		inet_ntop(ai->ai_family, a, c->addr, sizeof(c->addr));
		int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			out = OUT_REFUSED;
			continue;
		}
		int r = connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ? 1 : -errno;
		if (r == -EINPROGRESS) {
			conn_owner(c); /* while the connect is on its way */
			r = wait_fd(c, fd, POLLOUT, deadline);
			int err = 0;
			socklen_t el = sizeof(err);
			if (r > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err)
				r = -err;
		}
		if (r > 0) {
			int one = 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			c->ufd = fd;
			if (ar && !STREQ(ar, "public"))
				c->addr_rule = ar;
			freeaddrinfo(res);
			return OUT_OK;
		}
		close(fd);
		out = r == -ECANCELED ? OUT_STOPPED : r == -ETIMEDOUT ? OUT_TIMEOUT : OUT_REFUSED;
		if (out != OUT_REFUSED)
			break;
	}
	freeaddrinfo(res);
	if (out == OUT_DENIED) {
		c->rule = addr_rule;
		*ret_reason = "address policy";
	} else {
		*ret_reason = out == OUT_TIMEOUT   ? "connect timed out"
			      : out == OUT_STOPPED ? "box ended"
						   : "connection refused";
	}
	return out;
}

/* Relay both ways; at most out_limit bytes from the box (RELAY_ALL: all). */
static void relay(struct conn *c, uint64_t out_limit)
{
	int idle = c->p->cfg.idle_timeout_ms > 0 ? c->p->cfg.idle_timeout_ms : 15 * 60 * 1000;
	relay_splice(c->cfd, c->ufd, c->p->stop_r, idle, out_limit, &c->bytes_out, &c->bytes_in);
}

/* Brokered credentials (struct proxy_broker). */

/* The broker's secrets for a connection to host, into s (BROKER_MAX),
 * each with "here" set when brokered for host; how many are. */
static size_t broker_match(const struct proxy *p, const char *host, struct brokerhttp_secret *s)
{
	const struct proxy_broker *b = p->cfg.broker;
	size_t here = 0;
	for (size_t i = 0; b && i < b->n; i++) {
		s[i] = b->s[i];
		s[i].here = false;
		for (size_t h = 0; h < b->rule[i]->nhosts && !s[i].here; h++)
			s[i].here = strcasecmp(host, b->rule[i]->hosts[h]) == 0;
		here += s[i].here;
	}
	return here;
}

/* The name of a brokered secret whose placeholder is in data[0..n), or
 * NULL. */
static const char *broker_leak(const struct proxy *p, const char *data, size_t n)
{
	const struct proxy_broker *b = p->cfg.broker;
	for (size_t i = 0; b && i < b->n; i++)
		if (memmem(data, n, b->s[i].placeholder, b->s[i].plen))
			return b->rule[i]->name;
	return NULL;
}

static void broker_deny(struct conn *c, const char *what, int status, const char *why)
{
	if (!deny_admit(c->p, DENY_CONNECT))
		return;
	conn_owner(c);
	json_t *f = json_pack("{s:s, s:i, s:s, s:s, s:s}", "host", c->host, "port", (int)c->port,
			      "decision", "deny", "what", what, "reason", why);
	if (!f)
		return;
	if (status)
		json_object_set_new(f, "status", json_integer(status));
	set_owner(f, &c->owner);
	log_event(c->p, "net.broker", f);
}

/* brokertls's reports: each request as a "net.broker" event, each
 * refusal as a denial. */
static void broker_request(void *ctx, const struct brokerhttp_req *rq, int status, uint64_t out,
			   uint64_t in, const struct brokerhttp_secret *s, size_t ns)
{
	struct conn *c = ctx;
	const struct proxy_broker *b = c->p->cfg.broker;
	json_t *names = json_array();
	(void)s;
	for (size_t i = 0; names && i < ns; i++)
		if (rq->used & (1u << i))
			json_array_append_new(names, json_string(b->rule[i]->name));
	c->bytes_out += out;
	c->bytes_in += in;
	json_t *f = json_pack("{s:s, s:i, s:s, s:s, s:i, s:I, s:I, s:o, s:s}", "host", c->host,
			      "port", (int)c->port, "method", rq->method, "path", rq->path,
			      "status", status, "bytes_out", (json_int_t)out, "bytes_in",
			      (json_int_t)in, "secrets", names, "decision", "allow");
	if (!f)
		return;
	set_owner(f, &c->owner);
	log_event(c->p, "net.broker", f);
}

static void broker_refused(void *ctx, const char *what, int status, const char *why)
{
	struct conn *c = ctx;
	struct proxy *p = c->p;
	broker_deny(c, what, status, why);
	if (!STREQ(what, "handshake") || !p->cfg.broker->notice)
		return;
	pthread_mutex_lock(&p->lock);
	bool first = !p->noticed;
	p->noticed = true;
	pthread_mutex_unlock(&p->lock);
	if (first)
		p->cfg.broker->notice(c->host, why);
}

/* Serve a CONNECT to a brokered host (the box told it is established):
 * its TLS ended here, the secrets s[] put in. */
static void broker_serve(struct conn *c, const struct brokerhttp_secret *s)
{
	struct proxy *p = c->p;
	static const struct brokertls_report report = { .request = broker_request,
							.refused = broker_refused };
	struct brokertls_report rep = report;
	rep.ctx = c;
	int idle = p->cfg.idle_timeout_ms > 0 ? p->cfg.idle_timeout_ms : 15 * 60 * 1000;
	int tmo = p->cfg.request_timeout_ms > 0 ? p->cfg.request_timeout_ms : 10000;
	struct brokertls_session ss = { .cfd = c->cfd,
					.ufd = c->ufd,
					.host = c->host,
					.port = c->port,
					.s = s,
					.ns = p->cfg.broker->n,
					.stop_fd = p->stop_r,
					.idle_ms = idle,
					.handshake_ms = tmo,
					.report = &rep };
	conn_owner(c);
	brokertls_serve(p->cfg.broker->tls, &ss);
}

/* Does the box speak TLS in the tunnel? Its first byte, once it comes
 * (within the request timeout): a TLS record of a handshake is 0x16. 1
 * TLS, 0 something else (plain HTTP in a CONNECT, as Node's proxy agent
 * sends an http:// URL), < 0 nothing came. */
static int speaks_tls(struct conn *c)
{
	int tmo = c->p->cfg.request_timeout_ms > 0 ? c->p->cfg.request_timeout_ms : 10000;
	uint8_t b;
	int r = wait_fd(c, c->cfd, POLLIN, clock_ms() + tmo);
	if (r < 0)
		return r;
	ssize_t k = recv(c->cfd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return k == 1 ? b == 0x16 : -EPIPE;
}

/* After the box was told a CONNECT to a brokered host is established:
 * serve it (extra: bytes the box sent before that answer, which would be
 * the start of its TLS: refused), then log it. What is not TLS is
 * tunnelled as to any host (no value goes in plain text), unless its first
 * bytes hold a placeholder (refused, as in a plain-HTTP request). */
static void broker_connect(struct conn *c, const struct brokerhttp_secret *s, size_t extra)
{
	char b[HTTPREQ_HEAD_MAX];
	int tls = extra ? 0 : speaks_tls(c);
	if (extra) {
		broker_deny(c, "handshake", 0, "bytes sent before the proxy's answer");
	} else if (tls == 1) {
		broker_serve(c, s);
	} else if (tls == 0) {
		ssize_t k = recv(c->cfd, b, sizeof(b), MSG_PEEK | MSG_DONTWAIT);
		const char *leak = k > 0 ? broker_leak(c->p, b, (size_t)k) : NULL;
		c->brokered = false;
		if (leak) {
			char why[128];
			snprintf(why, sizeof(why),
				 "the placeholder of brokered secret %s in plain text in a tunnel",
				 leak);
			broker_deny(c, "placeholder", 0, why);
		} else {
			relay(c, RELAY_ALL);
		}
	}
	conn_log(c, true, NULL);
}

static void http_error(struct conn *c, int code, int64_t deadline)
{
	char msg[160];
	conn_owner(c);
	int n = snprintf(msg, sizeof(msg),
			 "HTTP/1.1 %s\r\nContent-Length: 0\r\nConnection: close\r\n"
			 "X-Clawbox: denied\r\n\r\n",
			 httpreq_status_text(code));
	(void)write_all(c, c->cfd, msg, (size_t)n, deadline);
}

static int outcome_http(enum outcome o)
{
	switch (o) {
	case OUT_DENIED: return 403;
	case OUT_TIMEOUT: return 504;
	default: return 502;
	}
}

/* After a plain HTTP request: head[from..n) and whatever the client sent
 * after its body (unread in the socket) are not relayed. When they hold a
 * request for another host or port, that is a denial the audit log shows. */
static void pipelined(struct conn *c, const struct httpreq *first, char *head, size_t from,
		      size_t n)
{
	struct httpreq next;
	memmove(head, head + from, n - from);
	n -= from;
	ssize_t k = recv(c->cfd, head + n, HTTPREQ_HEAD_MAX - n, MSG_DONTWAIT);
	if (k > 0)
		n += (size_t)k;
	if (n == 0 || httpreq_parse(head, n, &next, NULL) != 1)
		return;
	if (!next.connect && strcasecmp(next.host, first->host) == 0 && next.port == first->port)
		return; /* the same destination: the client retries after the close */
	snprintf(c->host, sizeof(c->host), "%s", next.host);
	c->port = next.port;
	c->addr[0] = '\0';
	c->addr_rule = NULL;
	c->rule = "pipelined";
	conn_log(c, false, "pipelined request to another destination: one request per connection");
}

static void http_session(struct conn *c)
{
	int tmo = c->p->cfg.request_timeout_ms > 0 ? c->p->cfg.request_timeout_ms : 10000;
	int64_t deadline = clock_ms() + tmo;
	_cleanup_free_ char *head = malloc(HTTPREQ_HEAD_MAX);
	_cleanup_buf_ struct buf fwd = BUF_INIT(HTTPREQ_HEAD_MAX + 64);
	struct httpreq req;
	size_t n = 0;
	int r = 0;

	c->proto = "http";
	if (!head)
		return;
	while (n < HTTPREQ_HEAD_MAX) {
		ssize_t k = read_some(c, c->cfd, head + n, HTTPREQ_HEAD_MAX - n, deadline);
		if (k <= 0) {
			r = k == 0 ? -EPIPE : (int)k;
			break;
		}
		/* Parse only once the head can be complete: a client trickling
		 * bytes must not cost a full parse per byte. */
		size_t from = n > 3 ? n - 3 : 0;
		n += (size_t)k;
		if (!memmem(head + from, n - from, "\r\n\r\n", 4) && n < HTTPREQ_HEAD_MAX &&
		    !memchr(head + from, '\0', n - from))
			continue;
		buf_reset(&fwd);
		if ((r = httpreq_parse(head, n, &req, &fwd)) != 0)
			break;
	}
	if (r == 0 && n >= HTTPREQ_HEAD_MAX)
		r = -E2BIG;
	if (r <= 0) {
		int code = r == -E2BIG ? 431 : r == -ETIMEDOUT ? 408 : 400;
		const char *why = r == -E2BIG             ? "request head too large"
				  : r == -ETIMEDOUT       ? "request timed out"
				  : r == -EPIPE           ? "client closed before a request"
				  : r == -ECANCELED       ? "box ended"
				  : r == -EINVAL          ? "bad host or port"
				  : r == -EPROTONOSUPPORT ? "unsupported scheme or version"
							  : "malformed request";
		if (r == -EPROTONOSUPPORT)
			code = 400;
		if (r != -EPIPE && r != -ECANCELED)
			http_error(c, code, clock_ms() + 1000);
		/* An empty connection (a port probe) is not worth a line. */
		if (r != -EPIPE || n > 0) {
			c->rule = "protocol";
			conn_log(c, false, why);
		}
		return;
	}
	snprintf(c->host, sizeof(c->host), "%s", req.host);
	c->port = req.port;
	c->proto = req.connect ? "http-connect" : "http";
	const char *leak = req.connect ? NULL : broker_leak(c->p, head, req.head_len);
	if (leak) {
		char why[128];
		snprintf(why, sizeof(why),
			 "the placeholder of brokered secret %s in a plain-HTTP request", leak);
		http_error(c, 403, clock_ms() + 1000);
		broker_deny(c, "placeholder", 403, why);
		return;
	}
	if (!req.connect && req.chunked) {
		http_error(c, 411, clock_ms() + 1000);
		c->rule = "protocol";
		conn_log(c, false, "chunked request body: plain HTTP needs a Content-Length");
		return;
	}
	const char *reason = NULL;
	enum outcome o = open_upstream(c, &reason);
	if (o != OUT_OK) {
		http_error(c, outcome_http(o), clock_ms() + 1000);
		conn_log(c, false, reason);
		return;
	}
	struct brokerhttp_secret bs[BROKER_MAX];
	c->brokered = req.connect && broker_match(c->p, c->host, bs) > 0;
	int64_t far = clock_ms() + connect_timeout(c->p);
	/* Nothing is relayed before the lookup, begun at accept, has ended:
	 * the client is still there, so its pid is known. */
	conn_owner(c);
	/* Plain HTTP is one request per connection (its head says
	 * "Connection: close"): its body, by its Content-Length, and nothing
	 * after it. Bytes past the body are a pipelined request, which would
	 * reach this upstream with a Host never checked: never relayed. */
	size_t extra = n - req.head_len, now = extra;
	uint64_t body_left = RELAY_ALL;
	if (req.connect) {
		static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
		r = write_all(c, c->cfd, ok, sizeof(ok) - 1, far);
		if (r == 0 && c->brokered) {
			broker_connect(c, bs, extra);
			return;
		}
	} else {
		if (req.body_len < extra)
			now = (size_t)req.body_len;
		body_left = req.body_len - now;
		r = write_all(c, c->ufd, fwd.data, fwd.len, far);
		if (r == 0)
			c->bytes_out += fwd.len;
	}
	if (r == 0 && now > 0) {
		r = write_all(c, c->ufd, head + req.head_len, now, far);
		c->bytes_out += now;
	}
	buf_free(&fwd);
	if (r == 0)
		relay(c, body_left);
	conn_log(c, true, NULL);
	if (!req.connect)
		pipelined(c, &req, head, req.head_len + now, n);
}

static uint8_t outcome_socks(enum outcome o)
{
	switch (o) {
	case OUT_DENIED: return SOCKS5_NOT_ALLOWED;
	case OUT_UNRESOLVED: return SOCKS5_HOST_UNREACHABLE;
	case OUT_TIMEOUT: return SOCKS5_TTL_EXPIRED;
	case OUT_REFUSED: return SOCKS5_REFUSED;
	default: return SOCKS5_FAILURE;
	}
}

static void socks_reply(struct conn *c, uint8_t code)
{
	conn_owner(c);
	uint8_t rep[10] = { 5, code, 0, 1, 0, 0, 0, 0, 0, 0 };
	(void)write_all(c, c->cfd, rep, sizeof(rep), clock_ms() + 1000);
}

static void socks_session(struct conn *c)
{
	int tmo = c->p->cfg.request_timeout_ms > 0 ? c->p->cfg.request_timeout_ms : 10000;
	int64_t deadline = clock_ms() + tmo;
	uint8_t b[1024];
	size_t n = 0, used = 0;
	bool greeted = false, noauth = false;
	struct socks5_req req;
	int r = 0;

	c->proto = "socks5";
	c->rule = "protocol";
	for (;;) {
		if (!greeted) {
			r = socks5_parse_greeting(b, n, &noauth);
			if (r > 0) {
				greeted = true;
				used = (size_t)r;
				if (!noauth) {
					static const uint8_t no[2] = { 5, 0xff };
					conn_owner(c);
					(void)write_all(c, c->cfd, no, 2, deadline);
					conn_log(c, false, "no acceptable authentication method");
					return;
				}
				static const uint8_t yes[2] = { 5, 0 };
				if (write_all(c, c->cfd, yes, 2, deadline) < 0)
					return;
				continue;
			}
		} else {
			r = socks5_parse_request(b + used, n - used, &req);
			if (r > 0) {
				used += (size_t)r;
				break;
			}
		}
		if (r < 0) {
			uint8_t code = r == -EOPNOTSUPP     ? SOCKS5_CMD_UNSUPPORTED
				       : r == -EAFNOSUPPORT ? SOCKS5_ATYP_UNSUPPORTED
							    : SOCKS5_FAILURE;
			if (greeted)
				socks_reply(c, code);
			conn_log(c, false,
				 r == -EOPNOTSUPP     ? "unsupported command"
				 : r == -EAFNOSUPPORT ? "unsupported address type"
						      : "malformed request");
			return;
		}
		if (n == sizeof(b)) {
			conn_log(c, false, "malformed request");
			return;
		}
		ssize_t k = read_some(c, c->cfd, b + n, sizeof(b) - n, deadline);
		if (k <= 0) {
			if (k == -ETIMEDOUT || n > 0)
				conn_log(c, false,
					 k == -ETIMEDOUT ? "request timed out" : "client closed");
			return;
		}
		n += (size_t)k;
	}
	snprintf(c->host, sizeof(c->host), "%s", req.host);
	c->port = req.port;
	const char *reason = NULL;
	enum outcome o = open_upstream(c, &reason);
	if (o != OUT_OK) {
		socks_reply(c, outcome_socks(o));
		conn_log(c, false, reason);
		return;
	}
	struct brokerhttp_secret bs[BROKER_MAX];
	c->brokered = broker_match(c->p, c->host, bs) > 0;
	socks_reply(c, SOCKS5_OK);
	if (c->brokered) {
		broker_connect(c, bs, n - used);
		return;
	}
	if (n > used && write_all(c, c->ufd, b + used, n - used, deadline) == 0)
		c->bytes_out += n - used;
	relay(c, RELAY_ALL);
	conn_log(c, true, NULL);
}

static void serve_conn(struct conn *c)
{
	c->t0 = clock_ms();
	if (c->kind == PROXY_FD_HTTP)
		http_session(c);
	else
		socks_session(c);
	conn_owner(c);
	close(c->cfd);
	if (c->ufd >= 0)
		close(c->ufd);
	free(c);
}

static void *dns_main(void *arg);

/* Start the DNS thread with the first question (most box runs never ask
 * one); until then the leader watches its socket. Under p->lock. */
static void start_dns(struct proxy *p)
{
	p->dns_started = start_thread(&p->dns, dns_main, p) == 0;
	if (!p->dns_started) {
		/* No thread: drop the question rather than spin. */
		char b[DNSSTUB_MSG_MAX];
		(void)!recv(p->fds[PROXY_FD_DNS], b, sizeof(b), MSG_DONTWAIT);
	}
}

/* The leader's wait: the next connection on either listener (its kind in
 * *ret_kind), or -1 when the proxy stops. */
static int lead(struct proxy *p, int *ret_kind)
{
	for (;;) {
		struct pollfd pf[4] = { { .fd = p->stop_r, .events = POLLIN },
					{ .fd = p->fds[PROXY_FD_HTTP], .events = POLLIN },
					{ .fd = p->fds[PROXY_FD_SOCKS], .events = POLLIN },
					{ .fd = p->dns_started ? -1 : p->fds[PROXY_FD_DNS],
					  .events = POLLIN } };
		int n = poll(pf, 4, -1);
		if (n < 0 && errno != EINTR)
			return -1;
		if (n <= 0)
			continue;
		if (pf[0].revents)
			return -1;
		if (pf[3].revents) {
			pthread_mutex_lock(&p->lock);
			start_dns(p);
			pthread_mutex_unlock(&p->lock);
		}
		for (int i = 1; i < 3; i++) {
			if (!pf[i].revents)
				continue;
			int fd = accept4(pf[i].fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (fd >= 0) {
				int one = 1;
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				*ret_kind = i == 1 ? PROXY_FD_HTTP : PROXY_FD_SOCKS;
				return fd;
			}
			if (errno == EMFILE || errno == ENFILE) {
				/* Do not spin: let connections end first. */
				struct timespec ts = { 0, 50 * 1000 * 1000 };
				nanosleep(&ts, NULL);
			}
		}
	}
}

static void *worker_main(void *arg);

/* A new connection thread, detached. Under p->lock. */
static bool spawn_worker(struct proxy *p)
{
	pthread_attr_t attr;
	pthread_t t;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	bool ok = pthread_create(&t, &attr, worker_main, p) == 0;
	pthread_attr_destroy(&attr);
	if (ok)
		p->workers++;
	return ok;
}

static void refuse(struct proxy *p, int kind, int fd)
{
	close(fd);
	if (!deny_admit(p, DENY_CONNECT))
		return;
	log_event(p, "net.connect",
		  json_pack("{s:s, s:s, s:s, s:s}", "proto",
			    kind == PROXY_FD_HTTP ? "http" : "socks5", "decision", "deny", "rule",
			    "limit", "reason", "too many connections"));
}

/* A connection thread, leader and followers: one thread (the leader) waits
 * for connections; when one comes, it hands the lead to an idle thread (or
 * a new one) and serves that connection itself, so no connection waits for
 * a thread to wake up. An idle thread waits 30 s to lead (a new thread
 * costs 30-60 us), then ends. All end when the proxy stops. */
static void *worker_main(void *arg)
{
	struct proxy *p = arg;
	pthread_mutex_lock(&p->lock);
	while (!p->stopping) {
		if (p->leading) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 30;
			p->waiting++;
			int r = pthread_cond_timedwait(&p->work, &p->lock, &until);
			p->waiting--;
			if (r == ETIMEDOUT && p->leading)
				break;
			continue;
		}
		p->leading = true;
		pthread_mutex_unlock(&p->lock);
		int kind = 0, fd = lead(p, &kind);
		pthread_mutex_lock(&p->lock);
		p->leading = false;
		if (fd < 0) {
			p->stopping = true;
			break;
		}
		struct conn *c = p->active < PROXY_MAX_CONNS ? calloc(1, sizeof(*c)) : NULL;
		if (c)
			p->active++;
		/* The next leader: an idle thread, or a new one (else this one
		 * leads again after the connection). */
		if (p->waiting > 0)
			pthread_cond_signal(&p->work);
		else
			(void)spawn_worker(p);
		pthread_mutex_unlock(&p->lock);
		if (!c) {
			refuse(p, kind, fd);
		} else {
			*c = (struct conn){ .p = p, .kind = kind, .cfd = fd, .ufd = -1 };
			serve_conn(c);
		}
		pthread_mutex_lock(&p->lock);
		if (c)
			p->active--;
	}
	pthread_cond_broadcast(&p->work);
	if (--p->workers == 0 && p->active == 0)
		pthread_cond_broadcast(&p->idle);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Called before the answer is sent, so the asking process still waits. */
static void dns_log(void *ctx, const struct sockaddr_storage *from, const char *name,
		    const char *qtype, bool allow, const char *rule)
{
	struct proxy *p = ctx;
	struct sockowner_pid owner = { 0 };
	if (!allow && !deny_admit(p, DENY_DNS))
		return;
	json_t *f = json_pack("{s:s, s:s, s:s, s:s, s:s}", "proto", "dns", "host", name, "qtype",
			      qtype, "decision", allow ? "allow" : "deny", "rule", rule);
	if (!f)
		return;
	if (p->cfg.owners && p->dns_addr.ss_family != AF_UNSPEC) {
		pthread_mutex_lock(&p->owner_lock);
		if (sockowner_find(p->cfg.owners, IPPROTO_UDP, from, &p->dns_addr, &owner) == 0)
			set_owner(f, &owner);
		pthread_mutex_unlock(&p->owner_lock);
	}
	log_event(p, "net.dns", f);
}

static void *dns_main(void *arg)
{
	struct proxy *p = arg;
	socklen_t l = sizeof(p->dns_addr);
	if (getsockname(p->fds[PROXY_FD_DNS], (struct sockaddr *)&p->dns_addr, &l) < 0)
		p->dns_addr.ss_family = AF_UNSPEC;
	dnsstub_serve(p->fds[PROXY_FD_DNS], p->stop_r, p->cfg.policy, dns_log, p);
	return NULL;
}

static int start_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	int r = pthread_create(t, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	return -r;
}

int proxy_start(const struct proxy_config *cfg, const int fds[PROXY_NFDS], struct proxy **ret)
{
	struct proxy *p = calloc(1, sizeof(*p));
	int pp[2], r;

	if (!p) {
		for (int i = 0; i < PROXY_NFDS; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		return -ENOMEM;
	}
	p->cfg = *cfg;
	p->stop_r = p->stop_w = -1;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->idle, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_mutex_init(&p->owner_lock, NULL);
	for (int i = 0; i < PROXY_NFDS; i++) {
		p->fds[i] = fds[i];
		if (fds[i] >= 0)
			fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
	}
	if (pipe2(pp, O_CLOEXEC) < 0) {
		r = -errno;
		proxy_stop(p);
		return r;
	}
	p->stop_r = pp[0];
	p->stop_w = pp[1];
	*ret = p;
	return 0;
}

size_t proxy_pollfds(const struct proxy *p, struct pollfd *pf)
{
	size_t n = 0;
	if (!p || p->serving)
		return 0;
	for (int i = 0; i < PROXY_NFDS; i++)
		if (p->fds[i] >= 0)
			pf[n++] = (struct pollfd){ .fd = p->fds[i], .events = POLLIN };
	return n;
}

int proxy_serve(struct proxy *p)
{
	sigset_t all, old;
	if (p->serving)
		return 0;
	/* Signals are the main thread's business (threads created by the
	 * first one inherit its mask). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_mutex_lock(&p->lock);
	p->serving = spawn_worker(p);
	pthread_mutex_unlock(&p->lock);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return p->serving ? 0 : -EAGAIN;
}

int proxy_stop(struct proxy *p)
{
	if (!p)
		return 0;
	if (p->stop_w >= 0)
		(void)!write(p->stop_w, "x", 1);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 3;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->work);
	int r = 0;
	while ((p->active > 0 || p->workers > 0) && r != ETIMEDOUT)
		r = pthread_cond_timedwait(&p->idle, &p->lock, &until);
	/* Only connection threads start it, and none is left, or stuck. */
	bool dns = p->dns_started && p->workers == 0;
	bool stuck = p->active > 0 || p->workers > 0;
	pthread_mutex_unlock(&p->lock);
	if (dns)
		pthread_join(p->dns, NULL);
	if (stuck)
		return -EBUSY; /* a thread still uses p (see the header) */
	/* Every denial is accounted for: what was counted is logged now. */
	if (p->suppressed[DENY_CONNECT] || p->suppressed[DENY_DNS]) {
		if (!p->audit && !p->audit_failed &&
		    audit_open(p->cfg.box_dir, p->cfg.box_name, &p->audit) < 0)
			p->audit_failed = true;
		log_suppressed(p, DENY_CONNECT);
		log_suppressed(p, DENY_DNS);
	}
	for (int i = 0; i < PROXY_NFDS; i++)
		if (p->fds[i] >= 0)
			close(p->fds[i]);
	if (p->stop_r >= 0)
		close(p->stop_r);
	if (p->stop_w >= 0)
		close(p->stop_w);
	audit_close(p->audit);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->idle);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->owner_lock);
	free(p);
	return 0;
}
