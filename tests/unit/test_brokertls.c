/* src/net/brokertls.c: the brokered path, end to end in one process: a
 * "box" client and an "upstream" server (threads, over socketpairs) with
 * brokertls_serve between them. */
#include "unit.h"
#include "unit_tmp.h"

#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include "net/brokertls.h"
#include "net/tlslib.h"
#include "util/error.h"
#include "util/fs.h"

#define HOST "127.0.0.1"

static const struct broker_inject key_header[] = { { BROKER_HEADER, "x-api-key" } };

struct world {
	char dir[64], box_ca[128], up_ca[128];
	struct brokerca *box, *up; /* the box's CA; the upstream's (its own trust) */
	int c[2], u[2];            /* box <-> proxy, proxy <-> upstream */
	char upstream_saw[4096];   /* the request heads the upstream got */
	char box_got[4096];        /* what the box read */
	bool box_trusts;
	char refused[512];
	int requests, last_status;
};

static void on_request(void *ctx, const struct brokerhttp_req *rq, int status, uint64_t out,
		       uint64_t in, const struct brokerhttp_secret *s, size_t ns)
{
	struct world *w = ctx;
	w->requests++;
	w->last_status = status;
}

static void on_refused(void *ctx, const char *what, int status, const char *why)
{
	struct world *w = ctx;
	snprintf(w->refused, sizeof(w->refused), "%s %d %s", what, status, why);
}

static void write_pem(const char *path, const char *pem)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0 && fs_write_all(fd, pem, strlen(pem)) == 0);
	close(fd);
}

static void world_init(struct world *w)
{
	struct error err;
	const char *hosts[] = { HOST };
	memset(w, 0, sizeof(*w));
	signal(SIGPIPE, SIG_IGN); /* the test's own box and upstream threads */
	snprintf(w->dir, sizeof(w->dir), "/tmp/clawbox-unit.XXXXXX");
	CHECK(mkdtemp(w->dir) != NULL);
	char sub[128];
	snprintf(sub, sizeof(sub), "%s/up", w->dir);
	CHECK(mkdir(sub, 0700) == 0);
	int d = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC),
	    du = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK_INT(brokerca_open(d, "box", hosts, 1, &w->box, &err), 0);
	CHECK_INT(brokerca_open(du, "upstream", hosts, 1, &w->up, &err), 0);
	close(d);
	close(du);
	snprintf(w->box_ca, sizeof(w->box_ca), "%s/box.pem", w->dir);
	snprintf(w->up_ca, sizeof(w->up_ca), "%s/up.pem", w->dir);
	write_pem(w->box_ca, brokerca_pem(w->box));
	write_pem(w->up_ca, brokerca_pem(w->up));
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, w->c) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, w->u) == 0);
}

/* Read from ssl until want is in buf (or the end): the bytes read. */
static size_t read_until(SSL *ssl, char *buf, size_t cap, size_t n, const char *want)
{
	while (n < cap - 1) {
		buf[n] = '\0';
		if (want && strstr(buf, want))
			break;
		int k = SSL_read(ssl, buf + n, (int)(cap - 1 - n));
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	buf[n] = '\0';
	return n;
}

static void *upstream(void *p)
{
	struct world *w = p;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	X509 *cert;
	EVP_PKEY *key;
	struct error err;
	char buf[4096];
	if (brokerca_leaf(w->up, HOST, &cert, &key, &err) < 0)
		return NULL;
	SSL *ssl = SSL_new(ctx);
	SSL_use_certificate(ssl, cert);
	SSL_use_PrivateKey(ssl, key);
	SSL_set_fd(ssl, w->u[1]);
	if (SSL_accept(ssl) == 1) {
		size_t n = read_until(ssl, buf, sizeof(buf), 0, "\r\n\r\nbody");
		snprintf(w->upstream_saw, sizeof(w->upstream_saw), "%s", buf);
		static const char sse[] =
		    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n9\r\ndata: 1\n\n\r\n0\r\n\r\n";
		SSL_write(ssl, sse, sizeof(sse) - 1);
		n = read_until(ssl, buf, sizeof(buf), 0, "\r\n\r\n");
		strncat(w->upstream_saw, buf,
			sizeof(w->upstream_saw) - strlen(w->upstream_saw) - 1);
		/* an upstream that echoes the value back, in a header and in
		 * a body cut in the middle of it */
		static const char ok[] = "HTTP/1.1 200 OK\r\nX-Echo: REAL-VALUE-1\r\n"
					 "Content-Length: 16\r\n\r\nok REAL-VA";
		SSL_write(ssl, ok, sizeof(ok) - 1);
		SSL_write(ssl, "LUE-1\n", 6);
		(void)n;
	}
	SSL_shutdown(ssl);
	SSL_free(ssl);
	X509_free(cert);
	EVP_PKEY_free(key);
	SSL_CTX_free(ctx);
	close(w->u[1]);
	return NULL;
}

static void *box(void *p)
{
	struct world *w = p;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (w->box_trusts)
		SSL_CTX_load_verify_locations(ctx, w->box_ca, NULL);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL *ssl = SSL_new(ctx);
	SSL_set_fd(ssl, w->c[1]);
	X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), HOST);
	if (SSL_connect(ssl) == 1) {
		static const char r1[] =
		    "POST /v1/messages HTTP/1.1\r\nHost: " HOST
		    "\r\nx-api-key: PLACEHOLDR-1\r\nContent-Length: 4\r\n\r\nbody";
		SSL_write(ssl, r1, sizeof(r1) - 1);
		size_t n = read_until(ssl, w->box_got, sizeof(w->box_got), 0, "0\r\n\r\n");
		static const char r2[] =
		    "GET /second HTTP/1.1\r\nHost: " HOST "\r\nConnection: close\r\n\r\n";
		SSL_write(ssl, r2, sizeof(r2) - 1);
		read_until(ssl, w->box_got, sizeof(w->box_got), n, NULL);
	} else {
		snprintf(w->box_got, sizeof(w->box_got), "handshake failed");
	}
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(w->c[1]);
	return NULL;
}

/* Run a session between the box and the upstream. */
static void run(struct world *w, const char *upstream_ca)
{
	static const struct brokerhttp_secret s[] = {
		{ "PLACEHOLDR-1", 12, "REAL-VALUE-1", 12, key_header, 1, true },
	};
	struct brokertls *t;
	struct error err;
	struct brokertls_report rep = { on_request, on_refused, w };
	pthread_t a, b;
	CHECK_INT(brokertls_new(w->box, upstream_ca, &t, &err), 0);
	CHECK(pthread_create(&a, NULL, upstream, w) == 0);
	CHECK(pthread_create(&b, NULL, box, w) == 0);
	struct brokertls_session ss = { .cfd = w->c[0],
					.ufd = w->u[0],
					.host = HOST,
					.port = 443,
					.s = s,
					.ns = 1,
					.stop_fd = -1,
					.idle_ms = 5000,
					.handshake_ms = 5000,
					.report = &rep };
	brokertls_serve(t, &ss);
	close(w->c[0]);
	close(w->u[0]);
	pthread_join(b, NULL);
	pthread_join(a, NULL);
	brokertls_free(t);
}

static void world_end(struct world *w)
{
	brokerca_free(w->box);
	brokerca_free(w->up);
	unit_rmtree(w->dir);
}

TEST(brokertls_puts_the_value_in_and_streams_back)
{
	static struct world w;
	if (tlslib_load(NULL) < 0)
		SKIP("no libssl");
	world_init(&w);
	w.box_trusts = true;
	run(&w, w.up_ca);
	/* the upstream got the value in the header, the body unchanged, then
	 * the kept-alive second request */
	CHECK(strstr(w.upstream_saw, "x-api-key: REAL-VALUE-1\r\n") != NULL);
	CHECK(strstr(w.upstream_saw, "PLACEHOLDR-1") == NULL);
	CHECK(strstr(w.upstream_saw, "\r\n\r\nbody") != NULL);
	CHECK(strstr(w.upstream_saw, "GET /second HTTP/1.1\r\n") != NULL);
	/* the box got both answers, and never the value: the echoes carry
	 * the placeholder, the framing unchanged */
	CHECK(strstr(w.box_got, "9\r\ndata: 1\n\n\r\n0\r\n\r\n") != NULL);
	CHECK(strstr(w.box_got, "X-Echo: PLACEHOLDR-1\r\n") != NULL);
	CHECK(strstr(w.box_got, "Content-Length: 16\r\n\r\nok PLACEHOLDR-1\n") != NULL);
	CHECK(strstr(w.box_got, "REAL-VA") == NULL);
	CHECK_INT(w.requests, 2);
	CHECK_INT(w.last_status, 200);
	CHECK_STREQ(w.refused, "");
	world_end(&w);
}

TEST(brokertls_box_without_the_ca_is_refused_at_the_handshake)
{
	static struct world w;
	if (tlslib_load(NULL) < 0)
		SKIP("no libssl");
	world_init(&w);
	w.box_trusts = false;
	run(&w, w.up_ca); /* the upstream sees its connection closed */
	CHECK_STREQ(w.box_got, "handshake failed");
	CHECK(strstr(w.refused, "handshake 0 TLS handshake with the box failed") == w.refused);
	CHECK(strstr(w.refused, "unknown ca") != NULL);
	CHECK_INT(w.requests, 0);
	CHECK_STREQ(w.upstream_saw, "");
	world_end(&w);
}

TEST(brokertls_untrusted_upstream_is_refused)
{
	static struct world w;
	if (tlslib_load(NULL) < 0)
		SKIP("no libssl");
	world_init(&w);
	w.box_trusts = true;
	run(&w, NULL); /* the upstream's CA is not trusted */
	CHECK(strstr(w.refused, "upstream 502 TLS with 127.0.0.1 failed") == w.refused);
	CHECK(strstr(w.box_got, "HTTP/1.1 502 Bad Gateway") == w.box_got);
	CHECK(strstr(w.upstream_saw, "REAL-VALUE") == NULL);
	CHECK_INT(w.requests, 0);
	world_end(&w);
}

/* The host's store is OpenSSL's default paths: the hashed directory
 * (SSL_CERT_DIR here) looked up as the chain needs it, or the bundle that
 * SSL_CERT_FILE names. */
static void with_store(const char *file, const char *dir, struct world *w)
{
	if (file)
		setenv("SSL_CERT_FILE", file, 1);
	else
		unsetenv("SSL_CERT_FILE");
	if (dir)
		setenv("SSL_CERT_DIR", dir, 1);
	else
		unsetenv("SSL_CERT_DIR");
	run(w, NULL);
	unsetenv("SSL_CERT_FILE");
	unsetenv("SSL_CERT_DIR");
}

/* dir/HASH.0 for the certificate in pem (its subject's hash, as
 * c_rehash names it); false without the openssl command. */
static bool hash_link(const char *pem, const char *dir)
{
	char cmd[512], hash[32] = "", path[256];
	snprintf(cmd, sizeof(cmd), "openssl x509 -hash -noout -in %s 2>/dev/null", pem);
	FILE *f = popen(cmd, "r");
	bool ok = f && fgets(hash, sizeof(hash), f) && strlen(hash) == 9;
	if (f)
		pclose(f);
	if (!ok)
		return false;
	hash[8] = '\0';
	snprintf(path, sizeof(path), "%s/%s.0", dir, hash);
	CHECK(symlink(pem, path) == 0);
	return true;
}

/* A session whose store is a hashed directory holding pem only: false
 * (nothing run) without the openssl command. */
static bool run_with_dir(struct world *w, const char *pem)
{
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/certs", w->dir);
	CHECK(mkdir(dir, 0700) == 0);
	if (!hash_link(pem, dir))
		return false;
	w->box_trusts = true;
	with_store(NULL, dir, w);
	return true;
}

TEST(brokertls_upstream_trusted_through_the_hashed_directory)
{
	static struct world w;
	if (tlslib_load(NULL) < 0)
		SKIP("no libssl");
	world_init(&w);
	if (!run_with_dir(&w, w.up_ca)) {
		world_end(&w);
		SKIP("no openssl command to name the hashed certificate");
	}
	CHECK_STREQ(w.refused, "");
	CHECK(strstr(w.upstream_saw, "x-api-key: REAL-VALUE-1\r\n") != NULL);
	CHECK_INT(w.requests, 2);
	world_end(&w);
}

TEST(brokertls_upstream_trusted_through_ssl_cert_file)
{
	static struct world w;
	if (tlslib_load(NULL) < 0)
		SKIP("no libssl");
	world_init(&w);
	w.box_trusts = true;
	with_store(w.up_ca, NULL, &w);
	CHECK_STREQ(w.refused, "");
	CHECK_INT(w.requests, 2);
	world_end(&w);
}

TEST(brokertls_directory_without_the_issuer_refuses_the_upstream)
{
	static struct world w;
	if (tlslib_load(NULL) < 0)
		SKIP("no libssl");
	world_init(&w);
	/* hashed names there, none of them the upstream's issuer: the bundle
	 * is not read, and the chain does not verify */
	if (!run_with_dir(&w, w.box_ca)) {
		world_end(&w);
		SKIP("no openssl command to name the hashed certificate");
	}
	CHECK(strstr(w.refused, "upstream 502 TLS with 127.0.0.1 failed") == w.refused);
	CHECK(strstr(w.refused, "local issuer") != NULL);
	CHECK(strstr(w.upstream_saw, "REAL-VALUE") == NULL);
	CHECK_INT(w.requests, 0);
	world_end(&w);
}
