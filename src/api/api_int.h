/* The API daemon's insides, shared by its files (src/api/): a request as
 * the handlers see it, the response they fill, the route table. The HTTP
 * library stays in server.c: handlers never see it, so the routing, auth
 * and every handler can be tested without a socket. */
#ifndef CLAWBOX_API_INT_H
#define CLAWBOX_API_INT_H
#include "util/common.h"

#include <jansson.h>
#include <pthread.h>
#include <sys/socket.h>

#include "api/api.h"
#include "state/box.h"
#include "util/error.h"

#define API_PARAMS_MAX 3
#define API_HDRS_OUT   4

enum api_transport { API_UNIX, API_TCP };

/* What one daemon holds, across listeners and requests. */
struct api {
	struct api_config cfg;
	char state[PATH_MAX];
	char box[BOX_NAME_MAX + 1]; /* the default box, "" when none */
	char exe[PATH_MAX];
	volatile int stopping; /* set by api_stop: streams end, health says 503 */
	struct api_procs *procs;
	struct api_mcp *mcp;
};

struct api_resp {
	unsigned status;
	json_t *json; /* the body as JSON (owned), or */
	char *data;   /* raw bytes (owned, freed with free) */
	size_t len;
	const char *ctype; /* of data */
	int fd;            /* or a file: size bytes from off (owned; -1: none) */
	uint64_t off, size;
	/* or a stream (chunked): fn fills buf with up to max bytes, returns
	 * the count, 0 at the end, < 0 on error (the connection is cut). */
	ssize_t (*stream)(void *ctx, char *buf, size_t max);
	void (*stream_free)(void *ctx);
	void *stream_ctx;
	const char *hdr[API_HDRS_OUT][2]; /* extra headers (static or in hdr_buf) */
	char hdr_buf[API_HDRS_OUT][128];
	size_t nhdr;
};

struct api_req;
typedef int (*api_handler)(struct api_req *rq, struct api_resp *rs);
/* A streamed body: each piece as it comes (len 0: the end, before the
 * handler); < 0 ends the request with what rs holds. */
typedef int (*api_body_fn)(struct api_req *rq, const char *data, size_t len, struct api_resp *rs);

enum {
	API_ROUTE_STREAM_BODY = 1 << 0, /* the body goes to body_fn, not into memory */
	API_ROUTE_NO_AUTH = 1 << 1,     /* /v1/health: probes carry no secret */
	API_ROUTE_NAME_LAST = 1 << 2,   /* its last {} is a name: a '/' in it is a 400 */
};

struct api_route {
	const char *method;  /* "GET", ...; "*" any */
	const char *pattern; /* "/v1/boxes/{}/files/{*}": {} one segment, {*} the rest */
	api_handler handle;
	api_body_fn body;
	unsigned flags;
};

struct api_req {
	struct api *api;
	enum api_transport transport;
	void *conn; /* the HTTP library's connection (server.c only) */
	char method[16];
	char *path; /* decoded */
	const struct api_route *route;
	char *params[API_PARAMS_MAX];
	size_t nparams;
	char client[96]; /* who: "unix uid 1000", "tcp 127.0.0.1:5555" */
	char allow[64];  /* the methods of the path, after a 405 of api_route */
	char *body;      /* the body (not for streamed ones), NUL-terminated */
	size_t body_len;
	bool body_too_big;
	int64_t started_ms;
	/* A handler's state across the calls of one request (a file being
	 * written), freed with state_free when the request ends. */
	void *state;
	void (*state_free)(void *state);
	/* Header and query lookups (server.c, or a test's). */
	const char *(*header)(struct api_req *rq, const char *name);
	const char *(*query)(struct api_req *rq, const char *name);
};

/* ---- router.c ---- */
extern const struct api_route api_routes[];
/* The route of method and path: 0 with *ret and rq's params filled; -ENOENT
 * when no route has the path (404), -EPERM when one has it for another
 * method (405), -EINVAL when a segment holds a '/' where one segment is
 * meant (the path had more segments than the route, e.g. a session name
 * with '/': 400). */
int api_route(struct api_req *rq, const char *method, const char *path,
	      const struct api_route **ret);
void api_req_params_free(struct api_req *rq);

/* ---- auth.c ---- */
/* Whether rq may go on: 0, or fills rs (401, 403) and returns < 0. Checks
 * the peer (unix: our uid or root), Authorization on TCP (constant time),
 * Origin (loopback or configured) and, without auth, Host (loopback names
 * only: no DNS rebinding). */
int api_authorize(struct api_req *rq, struct api_resp *rs);
/* Whether the Origin header value o is allowed (loopback or configured). */
bool api_origin_allowed(const struct api *a, const char *o);
/* Whether host (a Host header: "name[:port]", "[v6]:port") is a loopback one. */
bool api_host_loopback(const char *host);
/* Parse "ADDR:PORT" ("[v6]:PORT", "localhost:PORT"). */

int api_parse_listen(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len);
bool api_addr_loopback(const struct sockaddr *sa);
/* Constant-time comparison of a[0..alen) and b[0..blen) (lengths too). */
bool api_secret_equal(const char *a, size_t alen, const char *b, size_t blen);

/* ---- resp.c: filling a response ---- */
int api_json(struct api_resp *rs, unsigned status, json_t *j);
int api_errorf(struct api_resp *rs, unsigned status, const char *fmt, ...) _printf_(3, 4);
/* The status of -errno r, and a body {"error": err as one line}. */
int api_fail(struct api_resp *rs, int r, const struct error *err);
unsigned api_status_of(int r);
void api_header_add(struct api_resp *rs, const char *name, const char *value);
void api_resp_free(struct api_resp *rs);
/* s[0..n) as a JSON string: invalid UTF-8 bytes become U+FFFD. */
json_t *api_text(const char *s, size_t n);
/* s[0..n) in base64. */
json_t *api_base64(const char *s, size_t n);
/* Decode base64 s into *ret (malloc'ed) of *ret_len; -EINVAL when malformed. */
int api_unbase64(const char *s, size_t n, char **ret, size_t *ret_len);
/* The request body as a JSON object: 0 with *ret, or fills rs (400). An
 * empty body is an empty object. */
int api_body_json(struct api_req *rq, struct api_resp *rs, json_t **ret);
/* A query argument as a number; def when absent; -EINVAL (rs: 400) when bad. */
int api_query_u64(struct api_req *rq, struct api_resp *rs, const char *name, uint64_t def,
		  uint64_t *ret);
bool api_query_bool(struct api_req *rq, const char *name);
/* The wall clock in ms (for times a request names; durations and
 * deadlines use util/clock.h). */
int64_t api_wall_ms(void);

/* ---- boxes.c ---- */
/* Load the box name (valid, existing): 0, or fills rs (400, 404). */
int api_load_box(struct api_req *rq, struct api_resp *rs, const char *name, struct box *ret);
/* The box of rq: its {} parameter, or the default box for /v1/ routes. */
int api_req_box(struct api_req *rq, struct api_resp *rs, struct box *ret);
/* A ctl.h call that failed with r: 409 "box 'X' is not up" for -ENOTCONN. */
int api_ctl_failed(struct api_resp *rs, const struct box *b, int r, const struct error *err);
/* {"NAME": "VALUE", ...} into a NULL-terminated NAME=VALUE array (*ret,
 * NULL for a missing env; free with api_env_free); -EINVAL when malformed. */
int api_env(json_t *env, char ***ret);
void api_env_free(char **env);
/* Add an audit event for box b: what an API client did (client, fields). */
void api_audit(struct api_req *rq, const struct box *b, const char *event, json_t *fields);

int api_h_health(struct api_req *rq, struct api_resp *rs);
int api_h_version(struct api_req *rq, struct api_resp *rs);
int api_h_metadata(struct api_req *rq, struct api_resp *rs);
int api_h_boxes(struct api_req *rq, struct api_resp *rs);
int api_h_box(struct api_req *rq, struct api_resp *rs);
int api_h_up(struct api_req *rq, struct api_resp *rs);
int api_h_down(struct api_req *rq, struct api_resp *rs);
int api_h_sessions(struct api_req *rq, struct api_resp *rs);
int api_h_session_new(struct api_req *rq, struct api_resp *rs);
int api_h_session_del(struct api_req *rq, struct api_resp *rs);

/* ---- exec.c ---- */
int api_h_exec(struct api_req *rq, struct api_resp *rs);
int api_h_exec_stream(struct api_req *rq, struct api_resp *rs);
int api_h_proc_execute(struct api_req *rq, struct api_resp *rs);
int api_h_proc_start(struct api_req *rq, struct api_resp *rs);
int api_h_proc_stdin(struct api_req *rq, struct api_resp *rs);
int api_h_proc_signal(struct api_req *rq, struct api_resp *rs);
int api_h_proc_resize(struct api_req *rq, struct api_resp *rs);
int api_procs_new(struct api *a);
void api_procs_free(struct api *a);

/* ---- files.c (of the API) ---- */
int api_h_file_get(struct api_req *rq, struct api_resp *rs);
int api_h_file_put(struct api_req *rq, struct api_resp *rs);
int api_h_file_put_body(struct api_req *rq, const char *data, size_t len, struct api_resp *rs);
int api_h_file_delete(struct api_req *rq, struct api_resp *rs);

/* ---- sync.c, audit.c ---- */
int api_h_sync_plan(struct api_req *rq, struct api_resp *rs);
int api_h_sync_apply(struct api_req *rq, struct api_resp *rs);
int api_h_audit(struct api_req *rq, struct api_resp *rs);

/* ---- mcp.c (of the API): the /mcp transport ---- */
int api_h_mcp_post(struct api_req *rq, struct api_resp *rs);
int api_h_mcp_delete(struct api_req *rq, struct api_resp *rs);
int api_h_mcp_get(struct api_req *rq, struct api_resp *rs);
int api_mcp_new(struct api *a);
void api_mcp_free(struct api *a);

#endif
