/* The HTTP side of the API daemon: libmicrohttpd (dlopen'ed), one thread
 * per connection, its caps, requests handed to the routes of router.c, and
 * the graceful stop. The only file of src/api/ that sees the library. */
#include "util/clock.h"
#include "util/common.h"

#include <arpa/inet.h>
#include <poll.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "api/api_int.h"
#include "api/httplib.h"
#include "util/sockdiag.h"

struct listener {
	struct api_server *srv;
	enum api_transport transport;
	struct MHD_Daemon *d;
	int fd; /* the listening socket until MHD has it */
};

struct api_server {
	struct api a;
	struct listener unix_l, tcp_l;
	int lock_fd;
	char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char listening[256];
	pthread_mutex_t lock;
	unsigned inflight; /* requests begun and not completed */
};

/* A request of the daemon: what a handler sees, and the server's part. */
struct sreq {
	struct api_req rq;
	struct api_resp rs;
	struct listener *l;
	bool nul_in_url;
	bool begun, queued;
	bool failed;    /* the body failed: its answer waits for its end */
	size_t dropped; /* bytes of body dropped since */
};

static const char *req_header(struct api_req *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

static const char *req_query(struct api_req *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* The uid owning the client's end of the TCP connection fd, a loopback
 * one (the kernel's socket table: sock_diag), in *ret; -ENOENT when that
 * end is gone or not on this host's network namespace. */
static int tcp_peer_uid(int fd, uid_t *ret)
{
	struct sockaddr_storage self, peer;
	socklen_t sl = sizeof(self), pl = sizeof(peer);
	struct inet_diag_msg msg;
	if (getsockname(fd, (struct sockaddr *)&self, &sl) < 0 ||
	    getpeername(fd, (struct sockaddr *)&peer, &pl) < 0)
		return -errno;
	_cleanup_close_ int diag = sockdiag_open();
	if (diag < 0)
		return diag;
	/* The client's socket: its own address is our peer, its peer is us. */
	int r = sockdiag_find(diag, 1, IPPROTO_TCP, &peer, &self, &msg);
	if (r == 0)
		*ret = msg.idiag_uid;
	return r;
}

/* Who is on the other side of c: its uid on the unix socket (refused
 * unless ours or root's: -EPERM), its address on TCP; with --no-auth its
 * uid there too, and the same rule (loopback only: the client is a
 * process of this host). */
static int describe_peer(struct listener *l, struct MHD_Connection *c, char *out, size_t n)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (l->transport == API_UNIX) {
		struct ucred cr;
		socklen_t cl = sizeof(cr);
		if (!ci || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0)
			return -EPERM;
		snprintf(out, n, "unix uid %u pid %d", (unsigned)cr.uid, (int)cr.pid);
		return cr.uid == geteuid() || cr.uid == 0 ? 0 : -EPERM;
	}
	const union MHD_ConnectionInfo *ai =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (ai && ai->client_addr->sa_family == AF_INET) {
		const struct sockaddr_in *a4 = (const struct sockaddr_in *)ai->client_addr;
		inet_ntop(AF_INET, &a4->sin_addr, host, sizeof(host));
		port = ntohs(a4->sin_port);
	} else if (ai && ai->client_addr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)ai->client_addr;
		inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof(host));
		port = ntohs(a6->sin6_port);
	}
	if (!l->srv->a.cfg.no_auth) {
		snprintf(out, n, "tcp %s:%u", host, port);
		return 0;
	}
	uid_t uid = (uid_t)-1;
	if (!ci || tcp_peer_uid(ci->connect_fd, &uid) < 0)
		return -EPERM;
	snprintf(out, n, "tcp %s:%u uid %u", host, port, (unsigned)uid);
	return uid == geteuid() || uid == 0 ? 0 : -EPERM;
}

/* MHD: the request line is read. Makes our request (returned as the
 * request's context), counts it in flight. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct listener *l = cls;
	struct sreq *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->l = l;
	s->rs.fd = -1;
	s->rq.api = &l->srv->a;
	s->rq.transport = l->transport;
	s->rq.conn = c;
	s->rq.header = req_header;
	s->rq.query = req_query;
	s->rq.started_ms = clock_ms();
	s->nul_in_url = strcasestr(uri, "%00") != NULL;
	pthread_mutex_lock(&l->srv->lock);
	l->srv->inflight++;
	pthread_mutex_unlock(&l->srv->lock);
	return s;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct listener *l = cls;
	struct sreq *s = *req_cls;
	if (!s)
		return;
	*req_cls = NULL;
	if (s->rq.state_free)
		s->rq.state_free(s->rq.state);
	api_resp_free(&s->rs);
	api_req_params_free(&s->rq);
	free(s->rq.path);
	free(s->rq.body);
	free(s);
	pthread_mutex_lock(&l->srv->lock);
	l->srv->inflight--;
	pthread_mutex_unlock(&l->srv->lock);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct api_resp *st = cls;
	ssize_t n = st->stream(st->stream_ctx, buf, max);
	return n > 0    ? n
	       : n == 0 ? MHD_CONTENT_READER_END_OF_STREAM
			: MHD_CONTENT_READER_END_WITH_ERROR;
}

static void stream_done(void *cls)
{
	struct api_resp *st = cls;
	if (st->stream_free)
		st->stream_free(st->stream_ctx);
	free(st);
}

/* rs's JSON as a response: compact, one line. */
static struct MHD_Response *json_response(struct api_resp *rs)
{
	struct MHD_Response *r = NULL;
	char *text = json_dumps(rs->json, JSON_COMPACT);
	size_t n = text ? strlen(text) : 0;
	char *line = text ? realloc(text, n + 2) : NULL;
	if (line) {
		text = line;
		text[n] = '\n';
		text[n + 1] = '\0';
		r = MHD_create_response_from_buffer(n + 1, text, MHD_RESPMEM_MUST_FREE);
	}
	if (!r)
		free(text);
	rs->ctype = "application/json";
	return r;
}

/* The library's response for rs (whose stream or fd it takes over). */
static struct MHD_Response *make_response(struct api_resp *rs)
{
	struct MHD_Response *r = NULL;
	if (rs->stream) {
		struct api_resp *st = malloc(sizeof(*st));
		if (!st)
			return NULL;
		*st = (struct api_resp){ .stream = rs->stream,
					 .stream_free = rs->stream_free,
					 .stream_ctx = rs->stream_ctx,
					 .fd = -1 };
		r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, stream_read, st,
						      stream_done);
		if (!r) {
			free(st);
			return NULL;
		}
		/* st is the response's now: stream_done() frees it. */
		rs->stream = NULL, rs->stream_free = NULL, rs->stream_ctx = NULL;
		// cppcheck-suppress memleak
	} else if (rs->fd >= 0) {
		r = MHD_create_response_from_fd_at_offset64(rs->size, rs->fd, rs->off);
		if (r)
			rs->fd = -1;
	} else if (rs->json) {
		r = json_response(rs);
	} else {
		r = MHD_create_response_from_buffer(rs->len, rs->data ? rs->data : (char *)"",
						    rs->data ? MHD_RESPMEM_MUST_FREE
							     : MHD_RESPMEM_PERSISTENT);
		if (r)
			rs->data = NULL;
	}
	return r;
}

static enum MHD_Result queue(struct sreq *s)
{
	struct api_resp *rs = &s->rs;
	if (!rs->status)
		api_errorf(rs, 500, "the handler gave no answer");
	struct MHD_Response *r = make_response(rs);
	if (!r)
		return MHD_NO;
	if (rs->ctype)
		MHD_add_response_header(r, "Content-Type", rs->ctype);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	for (size_t i = 0; i < rs->nhdr; i++)
		MHD_add_response_header(r, rs->hdr[i][0], rs->hdr[i][1]);
	if (s->rq.api->stopping)
		MHD_add_response_header(r, "Connection", "close");
	enum MHD_Result ok = MHD_queue_response(s->rq.conn, rs->status, r);
	MHD_destroy_response(r);
	s->queued = true;
	return ok;
}

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
				    const char *value)
{
	(*(unsigned *)cls)++;
	return MHD_YES;
}

/* The checks of a request's head, before its body: 0 to go on, or < 0 with
 * s->rs filled. */
static int begin(struct sreq *s, const char *url, const char *method)
{
	struct api_req *rq = &s->rq;
	struct api_resp *rs = &s->rs;
	const struct api_config *cfg = &rq->api->cfg;
	unsigned nh = 0;
	if (describe_peer(s->l, rq->conn, rq->client, sizeof(rq->client)) < 0)
		return api_errorf(rs, 403, "this socket serves its owner only");
	MHD_get_connection_values(rq->conn, MHD_HEADER_KIND, count_header, &nh);
	if (nh > API_HEADERS_MAX)
		return api_errorf(rs, 431, "more than %d header lines", API_HEADERS_MAX);
	if (s->nul_in_url)
		return api_errorf(rs, 400, "the URL holds a NUL byte (%%00)");
	snprintf(rq->method, sizeof(rq->method), "%s", method);
	if (!(rq->path = strdup(url)))
		return api_errorf(rs, 500, "out of memory");
	int r = api_route(rq, method, url, &rq->route);
	if (r < 0)
		rq->route = NULL;
	if (api_authorize(rq, rs) < 0)
		return -EPERM;
	if (r == -EPERM) {
		api_header_add(rs, "Allow", rq->allow);
		return api_errorf(rs, 405, "method %s is not allowed on '%.200s'", method, url);
	}
	if (r == -EINVAL)
		return api_errorf(rs, 400, "a name in '%.200s' holds a '/'", url);
	if (r < 0)
		return api_errorf(rs, 404, "no such endpoint: %.200s", url);
	const char *cl = req_header(rq, "Content-Length");
	size_t max = cfg->max_body ? cfg->max_body : API_BODY_MAX;
	if (cl && strtoull(cl, NULL, 10) > max)
		return api_errorf(rs, 413, "the body is larger than %zu bytes", max);
	return 0;
}

/* One piece of the body: kept (up to the cap) or given to the route. */
static int body_piece(struct sreq *s, const char *data, size_t n)
{
	struct api_req *rq = &s->rq;
	const struct api_config *cfg = &rq->api->cfg;
	size_t max = cfg->max_body ? cfg->max_body : API_BODY_MAX;
	unsigned bt = cfg->body_timeout_s ? cfg->body_timeout_s : API_BODY_TIMEOUT_S;
	if (clock_ms() - rq->started_ms > (int64_t)bt * 1000)
		return -ETIMEDOUT;
	if (n > max - rq->body_len) {
		api_errorf(&s->rs, 413, "the body is larger than %zu bytes", max);
		return -EFBIG;
	}
	if (rq->route->flags & API_ROUTE_STREAM_BODY) {
		rq->body_len += n;
		return rq->route->body(rq, data, n, &s->rs);
	}
	char *b = realloc(rq->body, rq->body_len + n + 1);
	if (!b)
		return -ENOMEM;
	memcpy(b + rq->body_len, data, n);
	rq->body = b;
	rq->body_len += n;
	b[rq->body_len] = '\0';
	return 0;
}

/* After an error in the body (its answer ready): the rest is read and
 * dropped (the library answers only once the body is in), up to the
 * body's cap and time; past them the connection is cut (-E2BIG). */
static int drop_piece(struct sreq *s, size_t n)
{
	const struct api_config *cfg = &s->rq.api->cfg;
	size_t max = cfg->max_body ? cfg->max_body : API_BODY_MAX;
	unsigned bt = cfg->body_timeout_s ? cfg->body_timeout_s : API_BODY_TIMEOUT_S;
	if (clock_ms() - s->rq.started_ms > (int64_t)bt * 1000)
		return -ETIMEDOUT;
	s->dropped += n;
	return s->dropped > max ? -E2BIG : 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req_cls)
{
	struct sreq *s = *req_cls;
	if (!s)
		return MHD_NO;
	if (s->queued)
		return MHD_YES; /* an early answer: the rest of the body is dropped */
	if (!s->begun) {
		s->begun = true;
		return begin(s, url, method) < 0 ? queue(s) : MHD_YES;
	}
	if (*upload_size) {
		int r =
		    s->failed ? drop_piece(s, *upload_size) : body_piece(s, upload, *upload_size);
		*upload_size = 0;
		if (r == -ETIMEDOUT || r == -ENOMEM || r == -E2BIG)
			return MHD_NO; /* a client too slow, or too much: cut off */
		s->failed = s->failed || r < 0;
		return MHD_YES;
	}
	if (s->failed)
		return queue(s);
	if (!s->rq.body)
		s->rq.body = strdup("");
	if (s->rq.route->flags & API_ROUTE_STREAM_BODY &&
	    s->rq.route->body(&s->rq, NULL, 0, &s->rs) < 0)
		return queue(s);
	if (!s->rs.status)
		s->rq.route->handle(&s->rq, &s->rs);
	return queue(s);
}

/* ---- listeners -------------------------------------------------------- */

static int lock_state(struct api_server *srv, const char *sock, struct error *err)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s.lock", sock);
	srv->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (srv->lock_fd < 0)
		return error_errno(err, -errno, "open '%s'", path);
	if (flock(srv->lock_fd, LOCK_EX | LOCK_NB) < 0)
		return error_set(err, -EBUSY, sock, 0,
				 "another clawbox serve is serving this socket");
	return 0;
}

static int bind_unix(struct api_server *srv, const char *path, struct error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	if (strlen(path) >= sizeof(sa.sun_path))
		return error_set(err, -ENAMETOOLONG, path, 0, "too long for a unix socket");
	int r = lock_state(srv, path, err);
	if (r < 0)
		return r;
	if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
		return error_set(err, -EEXIST, path, 0, "exists and is not a socket");
	unlink(path); /* a stale socket: we hold the lock */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	snprintf(srv->sock_path, sizeof(srv->sock_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_errno(err, -errno, "socket");
	mode_t old = umask(0177); /* 0600 from birth: no window for others */
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	umask(old);
	if (r == 0 && (chmod(path, 0600) < 0 || listen(fd, 128) < 0))
		r = -errno;
	if (r < 0) {
		close(fd);
		return error_errno(err, r, "listen on '%s'", path);
	}
	srv->unix_l.fd = fd;
	size_t k = strlen(srv->listening);
	snprintf(srv->listening + k, sizeof(srv->listening) - k, "unix:%s\n", path);
	return 0;
}

static int bind_tcp(struct api_server *srv, const char *addr, struct error *err)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char host[INET6_ADDRSTRLEN];
	if (api_parse_listen(addr, &ss, &len) < 0)
		return error_set(err, -EINVAL, addr, 0, "not an address (ADDR:PORT)");
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	if (fd < 0)
		return error_errno(err, -errno, "socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 128) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		int e = -errno;
		close(fd);
		return error_errno(err, e, "listen on '%s'", addr);
	}
	srv->tcp_l.fd = fd;
	bool v6 = ss.ss_family == AF_INET6;
	inet_ntop(ss.ss_family,
		  v6 ? (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr
		     : (void *)&((struct sockaddr_in *)&ss)->sin_addr,
		  host, sizeof(host));
	unsigned port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
				 : ((struct sockaddr_in *)&ss)->sin_port);
	size_t k = strlen(srv->listening);
	snprintf(srv->listening + k, sizeof(srv->listening) - k,
		 v6 ? "tcp:[%s]:%u\n" : "tcp:%s:%u\n", host, port);
	return 0;
}

static int start_daemon(struct api_server *srv, struct listener *l, struct error *err)
{
	const struct api_config *cfg = &srv->a.cfg;
	unsigned flags =
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ITC;
	struct MHD_OptionItem o[12];
	size_t n = 0;
	l->srv = srv;
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_LISTEN_SOCKET, l->fd, NULL };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT,
					  cfg->max_conns ? cfg->max_conns : API_CONNS_MAX, NULL };
	if (l->transport == API_TCP)
		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_PER_IP_CONNECTION_LIMIT,
						  cfg->max_per_client ? cfg->max_per_client
								      : API_CONNS_PER_CLIENT,
						  NULL };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT,
					  cfg->timeout_s ? cfg->timeout_s : API_TIMEOUT_S, NULL };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT, 2 * API_HEADER_BYTES,
					  NULL };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, l };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, l };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	l->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, l, MHD_OPTION_ARRAY, o,
				MHD_OPTION_END);
	if (!l->d)
		return error_set(err, -EIO, NULL, 0,
				 "cannot start the HTTP server (libmicrohttpd)");
	l->fd = -1; /* the daemon's now */
	return 0;
}

static int setup(struct api_server *srv, const struct api_config *cfg, struct error *err)
{
	struct api *a = &srv->a;
	int r = api_check_auth_policy(cfg, err);
	if (r < 0)
		return r;
	a->cfg = *cfg;
	snprintf(a->state, sizeof(a->state), "%s", cfg->state ? cfg->state : "");
	snprintf(a->box, sizeof(a->box), "%s", cfg->box ? cfg->box : "");
	snprintf(a->exe, sizeof(a->exe), "%s", cfg->exe ? cfg->exe : "/proc/self/exe");
	a->cfg.state = a->state;
	a->cfg.box = a->box[0] ? a->box : NULL;
	if ((r = httplib_load(err)) < 0)
		return r;
	if ((r = api_procs_new(a)) < 0 || (r = api_mcp_new(a)) < 0)
		return error_set(err, r, NULL, 0, "out of memory");
	if (cfg->socket && (r = bind_unix(srv, cfg->socket, err)) < 0)
		return r;
	if (cfg->listen && (r = bind_tcp(srv, cfg->listen, err)) < 0)
		return r;
	if (!cfg->socket && !cfg->listen)
		return error_set(err, -EINVAL, NULL, 0, "nothing to listen on");
	srv->unix_l.transport = API_UNIX;
	srv->tcp_l.transport = API_TCP;
	if (cfg->socket && (r = start_daemon(srv, &srv->unix_l, err)) < 0)
		return r;
	if (cfg->listen && (r = start_daemon(srv, &srv->tcp_l, err)) < 0)
		return r;
	return 0;
}

int api_start(const struct api_config *cfg, struct api_server **ret, struct error *err)
{
	struct api_server *srv = calloc(1, sizeof(*srv));
	if (!srv)
		return error_set(err, -ENOMEM, NULL, 0, "out of memory");
	srv->lock_fd = srv->unix_l.fd = srv->tcp_l.fd = -1;
	pthread_mutex_init(&srv->lock, NULL);
	int r = setup(srv, cfg, err);
	if (r < 0) {
		api_stop(srv, 0);
		return r;
	}
	*ret = srv;
	return 0;
}

const char *api_listening(const struct api_server *s)
{
	return s->listening;
}

static unsigned inflight(struct api_server *s)
{
	pthread_mutex_lock(&s->lock);
	unsigned n = s->inflight;
	pthread_mutex_unlock(&s->lock);
	return n;
}

static void quiesce(struct listener *l)
{
	if (l->d) {
		MHD_socket fd = MHD_quiesce_daemon(l->d);
		if (fd != MHD_INVALID_SOCKET)
			close(fd);
	}
}

unsigned api_stop(struct api_server *s, int64_t grace_ms)
{
	if (!s)
		return 0;
	struct listener *ls[] = { &s->unix_l, &s->tcp_l };
	s->a.stopping = 1;
	for (size_t i = 0; i < ELEMENTSOF(ls); i++)
		quiesce(ls[i]);
	if (s->sock_path[0])
		unlink(s->sock_path);
	int64_t end = clock_ms() + grace_ms;
	while (inflight(s) && clock_ms() < end)
		poll(NULL, 0, 20);
	unsigned cut = inflight(s);
	if (cut)
		return cut; /* a thread may wait on a box's command: the process
			       exits without them (its commands end with their
			       connections to the box) */
	for (size_t i = 0; i < ELEMENTSOF(ls); i++) {
		if (ls[i]->d)
			MHD_stop_daemon(ls[i]->d);
		if (ls[i]->fd >= 0)
			close(ls[i]->fd);
	}
	api_mcp_free(&s->a);
	api_procs_free(&s->a);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return cut;
}
