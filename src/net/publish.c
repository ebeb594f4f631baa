#include "util/clock.h"
#include "util/common.h"

#include "state/audit.h"
#include "net/netpolicy.h"
#include "net/publish.h"
#include "net/relay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>

#define PUBLISH_MAX_CONNS 64

struct publish {
	struct publish_port ports[PUBLISH_MAX];
	size_t n;
	int netns; /* the box's network namespace */
	struct audit *audit;
	pthread_mutex_t lock; /* guards audit, active */
	pthread_cond_t idle;
	unsigned active;
	int stop_r, stop_w;
	pthread_t acceptor;
	bool started;
};

struct pconn {
	struct publish *p;
	int cfd;
	uint16_t host, box;
};

int publish_parse(const char *spec, struct publish_port *ret)
{
	struct publish_port p = { .fd = -1 };
	const char *colon = strchr(spec, ':');
	if (colon) {
		if (netpolicy_parse_port(spec, (size_t)(colon - spec), &p.host) < 0 ||
		    netpolicy_parse_port(colon + 1, strlen(colon + 1), &p.box) < 0)
			return -EINVAL;
	} else {
		if (netpolicy_parse_port(spec, strlen(spec), &p.box) < 0)
			return -EINVAL;
		p.host = p.box;
	}
	*ret = p;
	return 0;
}

int publish_listen(struct publish_port *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port->host) };
	int one = 1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	_cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0)
		return -errno;
	port->fd = TAKE_FD(fd);
	return 0;
}

static void log_conn(struct publish *p, const struct pconn *c, const char *reason, uint64_t in,
		     uint64_t out, int64_t t0)
{
	json_t *f = json_pack("{s:s, s:i, s:i, s:s}", "proto", "publish", "host_port", (int)c->host,
			      "box_port", (int)c->box, "decision", reason ? "deny" : "allow");
	if (!f)
		return;
	if (reason)
		json_object_set_new(f, "reason", json_string(reason));
	else {
		json_object_set_new(f, "bytes_in", json_integer((json_int_t)in));
		json_object_set_new(f, "bytes_out", json_integer((json_int_t)out));
		json_object_set_new(f, "duration_ms", json_integer(clock_ms() - t0));
	}
	pthread_mutex_lock(&p->lock);
	audit_append(p->audit, "net.publish", f);
	pthread_mutex_unlock(&p->lock);
}

/* A connection thread has ended (or was never started): the last one
 * wakes publish_stop(). */
static void conn_done(struct publish *p)
{
	pthread_mutex_lock(&p->lock);
	if (--p->active == 0)
		pthread_cond_broadcast(&p->idle);
	pthread_mutex_unlock(&p->lock);
}

/* Connect to the box's port c->box (within 5 s, or until stopped); the
 * socket, or -1 with *ret_reason saying why not. */
static int connect_box(struct publish *p, const struct pconn *c, const char **ret_reason)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(c->box) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	_cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		*ret_reason = "no socket in the box";
		return -1;
	}
	*ret_reason = "nothing listens on the box's port";
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
		return -1;
	struct pollfd pf[2] = { { .fd = fd, .events = POLLOUT },
				{ .fd = p->stop_r, .events = POLLIN } };
	int err = 0, n;
	socklen_t el = sizeof(err);
	while ((n = poll(pf, 2, 5000)) < 0 && errno == EINTR)
		;
	if (n <= 0 || pf[1].revents || !pf[0].revents ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err)
		return -1;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return TAKE_FD(fd);
}

/* Forward one connection (c->cfd, closed here) and log it. */
static void forward(struct publish *p, const struct pconn *c)
{
	_cleanup_close_ int cfd = c->cfd;
	int64_t t0 = clock_ms();
	uint64_t in = 0, out = 0;
	const char *reason = NULL;
	_cleanup_close_ int bfd = connect_box(p, c, &reason);
	if (bfd >= 0)
		relay_splice(cfd, bfd, p->stop_r, 15 * 60 * 1000, RELAY_ALL, &in, &out);
	log_conn(p, c, bfd >= 0 ? NULL : reason, in, out, t0);
}

/* Runs in the box's network namespace (inherited from the acceptor). */
static void *conn_main(void *arg)
{
	struct pconn *c = arg;
	struct publish *p = c->p;
	forward(p, c);
	free(c);
	conn_done(p);
	return NULL;
}

static void spawn(struct publish *p, const struct publish_port *port, int fd)
{
	struct pconn *c = calloc(1, sizeof(*c));
	pthread_attr_t attr;
	pthread_t t;
	bool full;

	pthread_mutex_lock(&p->lock);
	full = p->active >= PUBLISH_MAX_CONNS;
	if (!full && c)
		p->active++;
	pthread_mutex_unlock(&p->lock);
	if (full || !c) {
		free(c);
		close(fd);
		return;
	}
	*c = (struct pconn){ .p = p, .cfd = fd, .host = port->host, .box = port->box };
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 128 * 1024);
	if (pthread_create(&t, &attr, conn_main, c) != 0) {
		close(fd);
		free(c);
		conn_done(p);
	}
	pthread_attr_destroy(&attr);
}

static void *accept_main(void *arg)
{
	struct publish *p = arg;
	/* This thread (and the connection threads it creates) live in the box's
	 * network namespace; the listeners stay in the host's. */
	if (setns(p->netns, CLONE_NEWNET) < 0)
		return NULL;
	for (;;) {
		struct pollfd pf[PUBLISH_MAX + 1] = { { .fd = p->stop_r, .events = POLLIN } };
		for (size_t i = 0; i < p->n; i++)
			pf[i + 1] = (struct pollfd){ .fd = p->ports[i].fd, .events = POLLIN };
		int k = poll(pf, p->n + 1, -1);
		if (k < 0 && errno != EINTR)
			break;
		if (k <= 0)
			continue;
		if (pf[0].revents)
			break;
		for (size_t i = 0; i < p->n; i++) {
			if (!pf[i + 1].revents)
				continue;
			int fd = accept4(p->ports[i].fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (fd >= 0)
				spawn(p, &p->ports[i], fd);
		}
	}
	return NULL;
}

int publish_start(struct publish_port *ports, size_t n, int netns, const char *box_dir,
		  const char *box_name, struct publish **ret)
{
	struct publish *p = calloc(1, sizeof(*p));
	int pp[2], r;
	sigset_t all, old;

	if (!p || n > PUBLISH_MAX) {
		for (size_t i = 0; i < n; i++)
			if (ports[i].fd >= 0)
				close(ports[i].fd);
		close(netns);
		free(p);
		return p ? -EINVAL : -ENOMEM;
	}
	memcpy(p->ports, ports, n * sizeof(*ports));
	p->n = n;
	p->stop_r = p->stop_w = -1;
	p->netns = netns;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->idle, NULL);
	if (pipe2(pp, O_CLOEXEC) < 0) {
		r = -errno;
		goto fail;
	}
	p->stop_r = pp[0];
	p->stop_w = pp[1];
	if ((r = audit_open(box_dir, box_name, &p->audit)) < 0)
		goto fail;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = -pthread_create(&p->acceptor, NULL, accept_main, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0)
		goto fail;
	p->started = true;
	*ret = p;
	return 0;
fail:
	publish_stop(p);
	return r;
}

int publish_stop(struct publish *p)
{
	if (!p)
		return 0;
	if (p->stop_w >= 0)
		(void)!write(p->stop_w, "x", 1);
	if (p->started)
		pthread_join(p->acceptor, NULL);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 3;
	pthread_mutex_lock(&p->lock);
	int r = 0;
	while (p->active > 0 && r != ETIMEDOUT)
		r = pthread_cond_timedwait(&p->idle, &p->lock, &until);
	bool stuck = p->active > 0;
	pthread_mutex_unlock(&p->lock);
	if (stuck)
		return -EBUSY;
	for (size_t i = 0; i < p->n; i++)
		if (p->ports[i].fd >= 0)
			close(p->ports[i].fd);
	int fds[] = { p->netns, p->stop_r, p->stop_w };
	for (size_t i = 0; i < ELEMENTSOF(fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	audit_close(p->audit);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->idle);
	free(p);
	return 0;
}
