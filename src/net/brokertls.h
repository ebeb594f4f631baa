/* The proxy's brokered path (docs/SECRETS.md, "Brokered credentials"): a
 * CONNECT to a brokered host is not tunnelled but ended here. The box's
 * TLS is terminated with a leaf of the box's CA (src/net/brokerca.h); the
 * upstream's is verified against the host's trust store (and, for tests or
 * a company's CA, BROKERTLS_UPSTREAM_CA_ENV); each HTTP/1.1 request goes
 * on with the secrets put in (src/net/brokerhttp.h) and each response comes
 * back as it arrives (streamed: SSE, chunked), request after request while
 * both sides keep the connection; the values are scrubbed from what comes
 * back. A client that offers only HTTP/2 (ALPN) gets HTTP/2 on both sides
 * (src/net/brokerh2.h); one that does not trust the CA is refused at the
 * handshake, with the reason in the audit. Never prints; one session per
 * thread. */
#ifndef CLAWBOX_BROKERTLS_H
#define CLAWBOX_BROKERTLS_H
#include "util/common.h"

#include "net/brokerca.h"
#include "net/brokerhttp.h"

#define BROKERTLS_UPSTREAM_CA_ENV "CLAWBOX_UPSTREAM_CA_FILE"

struct brokertls;
struct error;

/* The TLS contexts: the box's side (leaves of ca, which must outlive it)
 * and the upstream's: the host's trust store, where OpenSSL's default paths
 * say (SSL_CERT_FILE, SSL_CERT_DIR), its hashed directory looked up as
 * chains need it (load_host_store() in brokertls.c), plus the PEM file
 * upstream_ca when not NULL (a file that does not load is an error). */
int brokertls_new(struct brokerca *ca, const char *upstream_ca, struct brokertls **ret,
		  struct error *err);
struct brokertls *brokertls_free(struct brokertls *t);

/* What one session reports: each request that went upstream, or why the
 * session ended early (what: "handshake", "upstream", "request",
 * "response"; status: the HTTP status sent to the box, 0 if none). */
struct brokertls_report {
	void (*request)(void *ctx, const struct brokerhttp_req *rq, int status, uint64_t out,
			uint64_t in, const struct brokerhttp_secret *s, size_t ns);
	void (*refused)(void *ctx, const char *what, int status, const char *why);
	void *ctx;
};

struct brokertls_session {
	int cfd, ufd; /* the box's side (after the proxy's 200), the upstream (connected) */
	const char *host;
	uint16_t port;
	const struct brokerhttp_secret *s; /* every brokered secret; here set for host */
	size_t ns;
	int stop_fd;      /* readable: the box is ending */
	int idle_ms;      /* between requests, and within a body */
	int handshake_ms; /* each handshake, each request head */
	const struct brokertls_report *report;
};

/* Serve one connection to its end. Closes neither fd. */
void brokertls_serve(struct brokertls *t, const struct brokertls_session *ss);

#endif
