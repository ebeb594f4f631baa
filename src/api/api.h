/* The API daemon of clawbox (`clawbox serve`): HTTP/1.1 + JSON over a unix
 * socket (0600, in the state dir) and, when asked, TCP. docs/API.md has
 * every endpoint; docs/KUBERNETES.md the agent-sandbox compatible ones.
 * libmicrohttpd does the HTTP (loaded with dlopen: src/api/httplib.h), one
 * thread per connection; the handlers call ctl.h (up boxes), ctl/files.h,
 * the sync gate and the audit log. Modules never print: the command
 * (src/cli/cmd_serve.c) reports what api_start returns. */
#ifndef CLAWBOX_API_H
#define CLAWBOX_API_H
#include "util/common.h"

#include "util/error.h"

#define API_BODY_MAX         (16u << 20) /* a request body (a file written, a JSON) */
#define API_READ_MAX         (16u << 20) /* a file read in one response */
#define API_OUTPUT_MAX       (4u << 20)  /* stdout, stderr of a buffered exec */
#define API_CONNS_MAX        64
#define API_CONNS_PER_CLIENT 16
#define API_TIMEOUT_S        30          /* a connection idle this long is closed */
#define API_BODY_TIMEOUT_S   120         /* a request's whole body, from its first byte */
#define API_HEADERS_MAX      64          /* header lines of a request */
#define API_HEADER_BYTES     (16u << 10) /* the request head (line and headers) */
#define API_GRACE_MS         10000
#define API_ORIGINS_MAX      16

struct api_config {
	const char *state;  /* the state dir (box_state_dir) */
	const char *box;    /* the box of /v1/files, /v1/process, /v1/metadata (NULL: none) */
	const char *socket; /* the unix socket's path (NULL: none) */
	const char *listen; /* "ADDR:PORT" for TCP (NULL: none; port 0: any) */
	bool no_auth;       /* TCP on loopback without auth (refused elsewhere) */
	/* The secrets clients must present on TCP (borrowed; NULL: none):
	 * Authorization: Bearer TOKEN, or Basic with PASSWORD (any user). */
	const char *token, *password;
	const char *origins[API_ORIGINS_MAX]; /* Origin values allowed besides loopback ones */
	size_t norigins;
	size_t max_body; /* 0: the defaults above */
	unsigned max_conns, max_per_client, timeout_s, body_timeout_s;
	const char *exe;     /* the clawbox binary for `up` (NULL: /proc/self/exe) */
	const char *version; /* clawbox's, for /v1/version */
	bool mcp_allow_sync; /* /mcp offers sync_apply */
};

/* Whether cfg's TCP side is allowed: --listen needs a token or password,
 * except on a loopback address with no_auth; a non-loopback address always
 * needs one. -EINVAL with *err saying why. Called by api_start too. */
int api_check_auth_policy(const struct api_config *cfg, struct error *err);

struct api_server;

/* Bind the listeners (the socket: refused when another daemon holds the
 * state dir's api.lock; a stale socket file is replaced) and start serving
 * in threads of their own. cfg is copied. */
int api_start(const struct api_config *cfg, struct api_server **ret, struct error *err);

/* "unix:PATH" and "tcp:ADDR:PORT" of what s listens on, one per line. */
const char *api_listening(const struct api_server *s);

/* Stop accepting, give the requests in flight up to grace_ms to end (the
 * streams among them are told to end at once), then close everything.
 * Returns how many were cut off. NULL is a no-op. */
unsigned api_stop(struct api_server *s, int64_t grace_ms);

#endif
