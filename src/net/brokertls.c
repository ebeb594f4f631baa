#include "util/common.h"

#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include "net/brokerh2.h"
#include "net/brokertls.h"
#include "net/h2lib.h"
#include "net/tlslib.h"
#include "util/clock.h"
#include "util/error.h"

#define SIDE_BUF (BROKERHTTP_HEAD_MAX + 16384)

/* The upstreams' TLS sessions, the latest of each host, so that a new
 * connection resumes one (no certificate to send, sign and verify again):
 * most of the time a brokered request's new connection adds. */
struct resumable {
	char host[BROKER_HOST_MAX + 1];
	SSL_SESSION *sess;
};

struct brokertls {
	struct brokerca *ca;
	SSL_CTX *box, *up;
	pthread_mutex_t lock; /* guards sessions */
	struct resumable sessions[BROKERCA_HOSTS_MAX];
};

/* One side of a session: its TLS, its fd, what was read and not yet used. */
struct side {
	SSL *ssl;
	int fd;
	char *buf;
	size_t n;
};

struct sess {
	const struct brokertls_session *ss;
	struct brokertls *t;
	struct side c, u;
	uint64_t out, in;
};

/* The session this thread serves (the callbacks' way to it). */
static _Thread_local const struct sess *cur_sess;

/* A new session from host's upstream (TLS 1.3 sends it after the
 * handshake): kept for the next connection. */
static int new_session(SSL *ssl, SSL_SESSION *sess)
{
	const struct sess *s = cur_sess;
	(void)ssl;
	if (!s)
		return 0;
	struct brokertls *t = s->t;
	size_t i = 0, n = ELEMENTSOF(t->sessions);
	pthread_mutex_lock(&t->lock);
	while (i < n && t->sessions[i].sess && !STREQ(t->sessions[i].host, s->ss->host))
		i++;
	if (i == n)
		i = 0; /* more hosts than the CA has: cannot happen; reuse a slot */
	if (t->sessions[i].sess)
		SSL_SESSION_free(t->sessions[i].sess);
	snprintf(t->sessions[i].host, sizeof(t->sessions[i].host), "%s", s->ss->host);
	t->sessions[i].sess = sess;
	pthread_mutex_unlock(&t->lock);
	return 1; /* the reference is ours */
}

/* The last session of s's host, to resume. */
static void resume(struct brokertls *t, const struct sess *s)
{
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < ELEMENTSOF(t->sessions) && t->sessions[i].sess; i++)
		if (STREQ(t->sessions[i].host, s->ss->host)) {
			(void)SSL_set_session(s->u.ssl, t->sessions[i].sess);
			break;
		}
	pthread_mutex_unlock(&t->lock);
}

static const unsigned char alpn_h1[] = "\x08http/1.1", alpn_h2[] = "\x02h2";

/* ALPN: HTTP/1.1 when the client offers it; else HTTP/2 (src/net/brokerh2.h)
 * when it offers that and libnghttp2 loads; else the handshake fails. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto((unsigned char **)out, outlen, alpn_h1, sizeof(alpn_h1) - 1, in,
				  inlen) == OPENSSL_NPN_NEGOTIATED ||
	    (SSL_select_next_proto((unsigned char **)out, outlen, alpn_h2, sizeof(alpn_h2) - 1, in,
				   inlen) == OPENSSL_NPN_NEGOTIATED &&
	     h2lib_load(NULL) == 0))
		return SSL_TLSEXT_ERR_OK;
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* Set by client_hello() when this thread's box handshake has read the
 * box's hello: its ALPN is decided once the SSL_accept() call returns. */
static _Thread_local bool hello_seen;

static int client_hello(SSL *ssl, int *alert, void *arg)
{
	(void)ssl;
	(void)alert;
	(void)arg;
	hello_seen = true;
	return SSL_CLIENT_HELLO_SUCCESS;
}

/* Did ssl agree on HTTP/2? */
static bool is_h2(SSL *ssl)
{
	const unsigned char *p = NULL;
	unsigned int n = 0;
	SSL_get0_alpn_selected(ssl, &p, &n);
	return n == 2 && !memcmp(p, "h2", 2);
}

/* Whether dir holds the hashed names (c_rehash, update-ca-certificates:
 * "5ad8a5d6.0") that OpenSSL looks an issuer up by. */
static bool has_hashed_names(const char *dir)
{
	DIR *d = opendir(dir);
	bool found = false;
	for (struct dirent *e; d && !found && (e = readdir(d));) {
		const char *n = e->d_name;
		found = strlen(n) >= 10 && strspn(n, "0123456789abcdef") == 8 && n[8] == '.' &&
			n[9 + strspn(n + 9, "0123456789")] == '\0';
	}
	if (d)
		closedir(d);
	return found;
}

/* Whether a and b are one file (links followed). */
static bool same_file(const char *a, const char *b)
{
	struct stat x, y;
	return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

/* The host's store into up: where OpenSSL's default paths are
 * (SSL_CERT_FILE and SSL_CERT_DIR, or their defaults: on Debian one set of
 * certificates, as a bundle and as a hashed directory, both written by
 * update-ca-certificates), but the directory is looked up as chains need
 * it: a certificate or two read at the first handshake, not the bundle's
 * 140 parsed at each start (35-40 ms of CPU here, most of a brokered
 * start). The bundle is read whole only when SSL_CERT_FILE names another
 * than the default one, or when the directory has no hashed names. As with
 * the default paths, what does not load is left out: a chain that needed
 * it fails to verify, and the upstream's refusal says so. */
static void load_host_store(SSL_CTX *up)
{
	const char *def = X509_get_default_cert_file();
	const char *file = secure_getenv(X509_get_default_cert_file_env());
	const char *dir = secure_getenv(X509_get_default_cert_dir_env());
	if (!dir)
		dir = X509_get_default_cert_dir();
	bool hashed = has_hashed_names(dir);
	if (file && hashed && same_file(file, def))
		file = NULL;
	if (!file && !hashed)
		file = def;
	(void)SSL_CTX_load_verify_dir(up, dir);
	if (file)
		(void)SSL_CTX_load_verify_file(up, file);
	ERR_clear_error();
}

int brokertls_new(struct brokerca *ca, const char *upstream_ca, struct brokertls **ret,
		  struct error *err)
{
	char e[256];
	struct brokertls *t = calloc(1, sizeof(*t));
	if (!t)
		return error_errno(err, -ENOMEM, "set up the brokered path");
	t->ca = ca;
	pthread_mutex_init(&t->lock, NULL);
	t->box = SSL_CTX_new(TLS_server_method());
	t->up = SSL_CTX_new(TLS_client_method());
	bool ok = t->box && t->up && SSL_CTX_set_min_proto_version(t->box, TLS1_2_VERSION) &&
		  SSL_CTX_set_min_proto_version(t->up, TLS1_2_VERSION) &&
		  (!upstream_ca || SSL_CTX_load_verify_locations(t->up, upstream_ca, NULL)) &&
		  SSL_CTX_set_alpn_protos(t->up, alpn_h1, sizeof(alpn_h1) - 1) == 0;
	if (!ok) {
		error_set(err, -EIO, upstream_ca, 0, "set up TLS for brokered hosts: %s",
			  tlslib_error(e, sizeof(e)));
		brokertls_free(t);
		return -EIO;
	}
	/* A peer that closes without a TLS close_notify (Node's fetch, most
	 * HTTP clients between requests) ends its side as a close would. */
	SSL_CTX_set_options(t->box, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_options(t->up, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_verify(t->up, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_session_cache_mode(t->up,
				       SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(t->up, new_session);
	SSL_CTX_set_alpn_select_cb(t->box, alpn_select, NULL);
	SSL_CTX_set_client_hello_cb(t->box, client_hello, NULL);
	load_host_store(t->up);
	*ret = t;
	return 0;
}

struct brokertls *brokertls_free(struct brokertls *t)
{
	if (t) {
		for (size_t i = 0; i < ELEMENTSOF(t->sessions); i++)
			if (t->sessions[i].sess)
				SSL_SESSION_free(t->sessions[i].sess);
		if (t->box)
			SSL_CTX_free(t->box);
		if (t->up)
			SSL_CTX_free(t->up);
		pthread_mutex_destroy(&t->lock);
		free(t);
	}
	return NULL;
}

/* Wait until fd is ready for what ssl's last call (that returned ret)
 * wants: 0 to try again, -EPIPE when the peer closed, -ETIMEDOUT,
 * -ECANCELED (stop), -EPROTO (a TLS error). */
static int tls_wait(const struct sess *s, SSL *ssl, int fd, int ret, int64_t deadline)
{
	int e = SSL_get_error(ssl, ret);
	if (e == SSL_ERROR_ZERO_RETURN)
		return -EPIPE;
	if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
		return e == SSL_ERROR_SYSCALL ? -EPIPE : -EPROTO;
	struct pollfd p[2] = { { fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, 0 },
			       { s->ss->stop_fd, POLLIN, 0 } };
	for (;;) {
		int64_t left = deadline - clock_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		int k = poll(p, s->ss->stop_fd >= 0 ? 2 : 1, (int)(left > 60000 ? 60000 : left));
		if (k < 0 && errno != EINTR)
			return -errno;
		if (k > 0 && p[1].revents)
			return -ECANCELED;
		if (k > 0)
			return 0;
	}
}

/* Read more into side's buffer: > 0 bytes, -EPIPE at its end, or -errno. */
static int side_read(const struct sess *s, struct side *d, int64_t deadline)
{
	if (d->n == SIDE_BUF)
		return -E2BIG;
	for (;;) {
		int r = SSL_read(d->ssl, d->buf + d->n, (int)(SIDE_BUF - d->n));
		if (r > 0) {
			d->n += (size_t)r;
			return r;
		}
		if ((r = tls_wait(s, d->ssl, d->fd, r, deadline)) < 0)
			return r;
	}
}

static int side_write(const struct sess *s, struct side *d, const char *p, size_t n)
{
	int64_t deadline = clock_ms() + s->ss->idle_ms;
	while (n > 0) {
		int r = SSL_write(d->ssl, p, (int)(n > INT_MAX ? INT_MAX : n));
		if (r > 0) {
			p += r;
			n -= (size_t)r;
			continue;
		}
		if ((r = tls_wait(s, d->ssl, d->fd, r, deadline)) < 0)
			return r;
	}
	return 0;
}

/* Drop the first k bytes of d's buffer. */
static void side_take(struct side *d, size_t k)
{
	memmove(d->buf, d->buf + k, d->n - k);
	d->n -= k;
}

/* A body from one side to the other: len bytes, chunked, or until the
 * sender ends (until_close); *count gets the bytes. -ECONNABORTED when
 * the receiver stopped taking it, else < 0 for the sender's failure. From the upstream
 * (scrubbed), a body that is not chunked keeps back a tail that may begin
 * a value until more comes. */
static int relay_body(struct sess *s, struct side *from, struct side *to, bool chunked,
		      bool until_close, uint64_t len, uint64_t *count)
{
	struct brokerhttp_chunks ch = { 0 };
	bool up = from == &s->u;
	for (;;) {
		/* a chunked body is scrubbed read by read, its framing unknown here */
		bool ends = !chunked && !until_close && len <= from->n;
		size_t hold = up ? brokerhttp_scrub(s->ss->s, s->ss->ns, from->buf,
						    ends ? (size_t)len : from->n, ends)
				 : 0;
		size_t take = from->n;
		bool done = false;
		if (!chunked && hold)
			take = from->n - hold;
		if (chunked) {
			if (brokerhttp_chunks_feed(&ch, from->buf, from->n, &take, &done) < 0)
				return -EBADMSG;
		} else if (!until_close) {
			take = len < take ? (size_t)len : take;
			len -= take;
			done = len == 0;
		}
		if (take && side_write(s, to, from->buf, take) < 0)
			return -ECONNABORTED;
		*count += take;
		side_take(from, take);
		if (done)
			return 0;
		int r = side_read(s, from, clock_ms() + s->ss->idle_ms);
		if (r == -EPIPE && until_close) { /* what was kept back goes too */
			(void)brokerhttp_scrub(s->ss->s, s->ss->ns, from->buf, from->n, true);
			return from->n && side_write(s, to, from->buf, from->n) < 0 ? -EPIPE : 0;
		}
		if (r < 0)
			return r;
	}
}

/* An answer of clawbox's own to the box, the connection closed after. */
static void answer(struct sess *s, int code, const char *why)
{
	char b[512];
	const char *text = code == 400   ? "Bad Request"
			   : code == 403 ? "Forbidden"
			   : code == 408 ? "Request Timeout"
			   : code == 431 ? "Request Header Fields Too Large"
			   : code == 505 ? "HTTP Version Not Supported"
					 : "Bad Gateway";
	int n = snprintf(b, sizeof(b),
			 "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nConnection: close\r\n"
			 "Content-Length: %zu\r\n\r\nclawbox: %s\n",
			 code, text, strlen(why) + 10, why);
	if (n > 0 && (size_t)n < sizeof(b))
		(void)side_write(s, &s->c, b, (size_t)n);
}

static void refuse(struct sess *s, const char *what, int code, const char *why)
{
	if (code)
		answer(s, code, why);
	if (s->ss->report && s->ss->report->refused)
		s->ss->report->refused(s->ss->report->ctx, what, code, why);
}

/* The next request head from the box, rewritten into out: 1, 0 when the
 * box closed between requests, or < 0. */
static int next_request(struct sess *s, struct brokerhttp_req *rq, struct buf *out)
{
	const struct brokertls_session *ss = s->ss;
	int64_t deadline = clock_ms() + ss->idle_ms;
	for (bool first = true;; first = false) {
		buf_reset(out);
		int r = s->c.n ? brokerhttp_request(s->c.buf, s->c.n, ss->host, ss->port, ss->s,
						    ss->ns, rq, out)
			       : 0;
		if (r != 0)
			return r;
		r = side_read(s, &s->c, deadline);
		if (r == -EPIPE && s->c.n == 0)
			return 0;
		if (r < 0)
			return r == -EPIPE ? -EBADMSG : r;
		if (first) /* a head begun comes whole soon */
			deadline = clock_ms() + ss->handshake_ms;
	}
}

static int request_status(int r, const char **why)
{
	switch (r) {
	case -E2BIG: *why = "request head too large"; return 431;
	case -EINVAL: *why = "the Host header does not name the brokered host"; return 400;
	case -EPROTONOSUPPORT: *why = "HTTP/1.0 or 1.1 only"; return 505;
	case -EACCES: *why = "a placeholder of a secret brokered for another host"; return 403;
	case -ENOTSUP: *why = "the secret cannot go in a header"; return 502;
	case -ETIMEDOUT: *why = "request timed out"; return 408;
	case -ECANCELED: *why = "the box is ending"; return 0;
	default: *why = "malformed request"; return 400;
	}
}

/* The response to rq, from upstream to the box: 1xx heads passed on, then
 * the final head and its body. Its status, or < 0. */
static int pass_response(struct sess *s, const struct brokerhttp_req *rq, bool *close)
{
	struct brokerhttp_resp rs;
	int64_t deadline = clock_ms() + s->ss->idle_ms;
	for (;;) {
		int r = brokerhttp_response(s->u.buf, s->u.n, rq->method, &rs);
		if (r == 0) {
			if ((r = side_read(s, &s->u, deadline)) < 0)
				return r;
			continue;
		}
		if (r < 0)
			return r;
		(void)brokerhttp_scrub(s->ss->s, s->ss->ns, s->u.buf, rs.head_len, true);
		if (side_write(s, &s->c, s->u.buf, rs.head_len) < 0)
			return -EPIPE;
		s->in += rs.head_len;
		side_take(&s->u, rs.head_len);
		if (rs.status >= 200)
			break;
	}
	int r = rs.chunked || rs.until_close || rs.body_len
		    ? relay_body(s, &s->u, &s->c, rs.chunked, rs.until_close, rs.body_len, &s->in)
		    : 0;
	if (r < 0)
		return r == -ECANCELED ? r : -EPIPE;
	*close = rs.close || rs.until_close;
	return rs.status;
}

/* Requests, one after another, while both sides keep the connection. */
static void serve_requests(struct sess *s)
{
	struct buf out = BUF_INIT(2 * BROKERHTTP_HEAD_MAX);
	for (;;) {
		struct brokerhttp_req rq;
		const char *why;
		bool close = false;
		int r = next_request(s, &rq, &out);
		if (r <= 0) {
			int code = request_status(r, &why);
			/* the box ending is no refusal: its connections just end */
			if (r < 0 && r != -ECANCELED)
				refuse(s, "request", code, why);
			break;
		}
		s->out = s->in = 0;
		r = side_write(s, &s->u, out.data, out.len);
		explicit_bzero(out.data, out.len);
		s->out += out.len;
		side_take(&s->c, rq.head_len);
		/* the client waits for a go-ahead before its body */
		if (r == 0 && rq.expect_continue && (rq.chunked || rq.body_len))
			r = side_write(s, &s->c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
		if (r == 0 && (rq.chunked || rq.body_len))
			r = relay_body(s, &s->c, &s->u, rq.chunked, false, rq.body_len, &s->out);
		/* an upstream that stops taking the body may have answered (401,
		 * 413): that answer still goes to the box, and the connection ends */
		bool early = r == -ECONNABORTED;
		int status = r < 0 && !early ? r : pass_response(s, &rq, &close);
		close |= early;
		if (s->ss->report && s->ss->report->request)
			s->ss->report->request(s->ss->report->ctx, &rq, status < 0 ? 0 : status,
					       s->out, s->in, s->ss->s, s->ss->ns);
		if (r < 0 && !early) {
			if (r != -ECANCELED) /* the box ending is no refusal */
				refuse(s, "request", 0,
				       "the box's request body was cut or malformed");
			break;
		}
		if (status < 0) {
			if (status != -ECANCELED)
				refuse(s, "response", s->in ? 0 : 502,
				       "the upstream's answer was cut or malformed");
			break;
		}
		if (rq.close || close)
			break;
	}
	if (out.data)
		explicit_bzero(out.data, out.cap);
	buf_free(&out);
}

/* The box's side: a leaf for the host. */
static int box_prepare(struct brokertls *t, struct sess *s, char *why, size_t n)
{
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	struct error err;
	if (brokerca_leaf(t->ca, s->ss->host, &cert, &key, &err) < 0) {
		snprintf(why, n, "%s", err.message);
		return -EIO;
	}
	s->c.ssl = SSL_new(t->box);
	bool ok = s->c.ssl && SSL_use_certificate(s->c.ssl, cert) == 1 &&
		  SSL_use_PrivateKey(s->c.ssl, key) == 1 && SSL_set_fd(s->c.ssl, s->c.fd) == 1;
	X509_free(cert);
	EVP_PKEY_free(key);
	if (!ok)
		snprintf(why, n, "set up TLS for the box: out of memory");
	return ok ? 0 : -EIO;
}

static void upstream_failed(const struct sess *s, int r, char *why, size_t n)
{
	long v = s->u.ssl ? SSL_get_verify_result(s->u.ssl) : X509_V_OK;
	char e[200];
	snprintf(why, n, "TLS with %s failed: %s", s->ss->host,
		 v != X509_V_OK    ? X509_verify_cert_error_string(v)
		 : r == -ETIMEDOUT ? "timed out"
				   : tlslib_error(e, sizeof(e)));
}

/* The upstream's side: SNI, the host's name to verify, the box's protocol
 * (HTTP/2 only when the box's client speaks only that). */
static int upstream_prepare(struct brokertls *t, struct sess *s, char *why, size_t n)
{
	const char *host = s->ss->host;
	bool ip = strchr(host, ':') || strspn(host, "0123456789.") == strlen(host);
	bool h2 = is_h2(s->c.ssl);
	s->u.ssl = SSL_new(t->up);
	bool ok = s->u.ssl && SSL_set_fd(s->u.ssl, s->u.fd) == 1 &&
		  (!h2 || SSL_set_alpn_protos(s->u.ssl, alpn_h2, sizeof(alpn_h2) - 1) == 0) &&
		  (ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->u.ssl), host) == 1
		      : SSL_set_tlsext_host_name(s->u.ssl, host) == 1 &&
			    SSL_set1_host(s->u.ssl, host) == 1);
	if (ok)
		resume(t, s);
	else
		upstream_failed(s, -EIO, why, n);
	return ok ? 0 : -EIO;
}

/* One step of a handshake: 1 done, 0 to wait for *ev, -EPIPE when the
 * peer hung up, -EPROTO. */
static int hs_step(SSL *ssl, bool accept, short *ev)
{
	int r = accept ? SSL_accept(ssl) : SSL_connect(ssl);
	if (r == 1)
		return 1;
	int e = SSL_get_error(ssl, r);
	*ev = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	return e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN ? -EPIPE : -EPROTO;
}

enum { HS_OK, HS_BOX, HS_UPSTREAM, HS_ENDING }; /* which side failed; the box ends */

static void box_failed(int r, char *why, size_t n)
{
	char e[200];
	/* a client that does not trust the CA says so in its alert */
	snprintf(why, n, "TLS handshake with the box failed: %s",
		 r == -ETIMEDOUT ? "timed out"
		 : r == -EPIPE   ? "the client closed the connection"
				 : tlslib_error(e, sizeof(e)));
}

/* Both handshakes at once: the upstream's starts as soon as the box's
 * hello is in (its ALPN decided), so the two overlap instead of adding up.
 * HS_OK, or the side that failed, with why. */
static int handshakes(struct brokertls *t, struct sess *s, char *why, size_t n)
{
	int64_t deadline = clock_ms() + s->ss->handshake_ms;
	int b = 0, u = 0; /* 0: going on, 1: done, < 0: failed */
	bool started = false;
	short bev = 0, uev = 0;
	if (box_prepare(t, s, why, n) < 0)
		return HS_BOX;
	hello_seen = false;
	for (;;) {
		if (b == 0 && (b = hs_step(s->c.ssl, true, &bev)) < 0)
			box_failed(b, why, n);
		if (b < 0)
			return HS_BOX;
		if (!started && (hello_seen || b == 1)) {
			started = true;
			u = upstream_prepare(t, s, why, n);
		}
		if (started && u == 0 && (u = hs_step(s->u.ssl, false, &uev)) < 0)
			upstream_failed(s, u, why, n);
		if (b == 1 && u != 0)
			break;
		struct pollfd p[3] = { { b == 0 ? s->c.fd : -1, bev, 0 },
				       { started && u == 0 ? s->u.fd : -1, uev, 0 },
				       { s->ss->stop_fd, POLLIN, 0 } };
		int64_t left = deadline - clock_ms();
		int k = left > 0 ? poll(p, 3, (int)left) : 0;
		if (k > 0 && p[2].revents)
			return HS_ENDING;
		if (k == 0 && b == 0) {
			box_failed(-ETIMEDOUT, why, n);
			return HS_BOX;
		}
		if (k == 0) {
			upstream_failed(s, -ETIMEDOUT, why, n);
			return HS_UPSTREAM;
		}
	}
	if (u < 0)
		return HS_UPSTREAM;
	if (is_h2(s->c.ssl) != is_h2(s->u.ssl)) {
		snprintf(why, n, "%s does not speak HTTP/2, which the box's client needs",
			 s->ss->host);
		return HS_UPSTREAM;
	}
	return HS_OK;
}

static void side_end(struct side *d)
{
	if (d->ssl) {
		(void)SSL_shutdown(d->ssl);
		SSL_free(d->ssl);
	}
	if (d->buf) {
		explicit_bzero(d->buf, SIDE_BUF);
		free(d->buf);
	}
}

void brokertls_serve(struct brokertls *t, const struct brokertls_session *ss)
{
	struct sess s = { .ss = ss, .t = t, .c = { .fd = ss->cfd }, .u = { .fd = ss->ufd } };
	char why[512];
	int hs;
	/* OpenSSL writes with write(): a peer gone would raise SIGPIPE. Held
	 * for this thread while it serves, the one it may raise then taken. */
	sigset_t pipe, old;
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, &old);
	for (int i = 0; i < 2; i++) {
		int fd = i ? ss->ufd : ss->cfd, fl = fcntl(fd, F_GETFL);
		if (fl >= 0)
			(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	}
	cur_sess = &s;
	s.c.buf = malloc(SIDE_BUF);
	s.u.buf = malloc(SIDE_BUF);
	if (!s.c.buf || !s.u.buf)
		refuse(&s, "handshake", 0, "out of memory");
	else if ((hs = handshakes(t, &s, why, sizeof(why))) == HS_BOX)
		refuse(&s, "handshake", 0, why);
	else if (hs == HS_UPSTREAM)
		refuse(&s, "upstream", is_h2(s.c.ssl) ? 0 : 502, why);
	else if (hs == HS_ENDING)
		; /* the box is ending: nothing to serve, nothing refused */
	else if (is_h2(s.c.ssl))
		brokerh2_serve(ss, s.c.ssl, s.u.ssl);
	else
		serve_requests(&s);
	side_end(&s.c);
	side_end(&s.u);
	cur_sess = NULL;
	if (!sigismember(&old, SIGPIPE)) {
		while (sigtimedwait(&pipe, NULL, &(struct timespec){ 0 }) == SIGPIPE)
			;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
}
