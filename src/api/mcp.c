/* /mcp: MCP's streamable HTTP transport (revision 2025-11-25) over the
 * daemon. POST carries one JSON-RPC message and gets its reply as JSON (202
 * and no body for a notification); "initialize" makes a session, named by
 * the Mcp-Session-Id header of the answer, which every later request must
 * carry (404 once it expired: the client initializes again); DELETE ends
 * it; GET (a server-sent event stream) is not offered: 405. The box is
 * the daemon's --box or ?box=NAME, its execs run in ?session=NAME (as
 * `clawbox mcp --session`), sync_apply only with --mcp-allow-sync. The stateless
 * "server/discover" of 2026-07-28 needs no session. Origin and auth are
 * checked for every request as for the rest of the API (auth.c). */
#include "util/common.h"
#include "util/clock.h"

#include <sys/eventfd.h>
#include <sys/random.h>

#include "api/api_int.h"
#include "ctl/ctl.h"
#include "mcp/mcp.h"

#define MCP_SESSIONS_MAX 64
#define MCP_IDLE_MS      (30 * 60 * 1000)
#define MCP_ID_LEN       32

struct msession {
	char id[MCP_ID_LEN + 1];
	struct mcp_ctx *ctx;
	pthread_mutex_t lock; /* a context is not thread-safe */
	unsigned refs;
	int64_t used_ms;
	bool gone; /* deleted or expired: freed with the last reference */
	/* The call in flight (its id, compact JSON; NULL: none) and the fd that
	 * cancels it (the context's cancel_fd), under cancel_lock: a
	 * cancellation comes in another request while lock is held. */
	pthread_mutex_t cancel_lock;
	char *inflight;
	int cancel_fd;
};

struct api_mcp {
	pthread_mutex_t lock;
	struct msession *v[MCP_SESSIONS_MAX];
};

int api_mcp_new(struct api *a)
{
	a->mcp = calloc(1, sizeof(*a->mcp));
	if (!a->mcp)
		return -ENOMEM;
	pthread_mutex_init(&a->mcp->lock, NULL);
	return 0;
}

static void ms_unref(struct api_mcp *t, struct msession *s)
{
	pthread_mutex_lock(&t->lock);
	bool last = --s->refs == 0;
	pthread_mutex_unlock(&t->lock);
	if (!last)
		return;
	mcp_ctx_free(s->ctx);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->cancel_lock);
	free(s->inflight);
	close(s->cancel_fd);
	free(s);
}

/* Drop slot i from the table (t->lock held); its reference goes. */
static void drop_locked(struct api_mcp *t, size_t i)
{
	struct msession *s = t->v[i];
	t->v[i] = NULL;
	s->gone = true;
	if (--s->refs == 0) {
		mcp_ctx_free(s->ctx);
		pthread_mutex_destroy(&s->lock);
		free(s);
	}
}

void api_mcp_free(struct api *a)
{
	if (!a->mcp)
		return;
	for (size_t i = 0; i < MCP_SESSIONS_MAX; i++)
		if (a->mcp->v[i])
			drop_locked(a->mcp, i);
	pthread_mutex_destroy(&a->mcp->lock);
	free(a->mcp);
	a->mcp = NULL;
}

/* The session id, with a reference; expired ones are dropped on the way. */
static struct msession *ms_get(struct api_mcp *t, const char *id)
{
	struct msession *found = NULL;
	int64_t now = clock_ms();
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < MCP_SESSIONS_MAX; i++) {
		struct msession *s = t->v[i];
		if (s && s->refs == 1 && now - s->used_ms > MCP_IDLE_MS)
			drop_locked(t, i);
		else if (s && id && strlen(id) == MCP_ID_LEN &&
			 api_secret_equal(s->id, MCP_ID_LEN, id, MCP_ID_LEN)) {
			s->refs++;
			s->used_ms = now;
			found = s;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return found;
}

/* A new session for ctx and its cancel_fd (both taken): in the table,
 * with a reference. */
static struct msession *ms_add(struct api_mcp *t, struct mcp_ctx *ctx, int cancel_fd)
{
	uint8_t rnd[MCP_ID_LEN / 2];
	struct msession *s = calloc(1, sizeof(*s));
	if (!s || getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		free(s);
		mcp_ctx_free(ctx);
		close(cancel_fd);
		return NULL;
	}
	s->cancel_fd = cancel_fd;
	pthread_mutex_init(&s->cancel_lock, NULL);
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(s->id + 2 * i, 3, "%02x", rnd[i]);
	s->ctx = ctx;
	s->refs = 2;
	s->used_ms = clock_ms();
	pthread_mutex_init(&s->lock, NULL);
	(void)ms_get(t, NULL); /* expire the idle ones first */
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < MCP_SESSIONS_MAX; i++)
		if (!t->v[i]) {
			t->v[i] = s;
			pthread_mutex_unlock(&t->lock);
			return s;
		}
	pthread_mutex_unlock(&t->lock);
	s->refs = 1;
	ms_unref(t, s);
	return NULL;
}

static void ms_delete(struct api_mcp *t, struct msession *s)
{
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < MCP_SESSIONS_MAX; i++)
		if (t->v[i] == s)
			drop_locked(t, i);
	pthread_mutex_unlock(&t->lock);
}

/* The method of the message, when it is a request or notification. */
static const char *method_of(json_t *msg)
{
	return json_string_value(json_object_get(msg, "method"));
}

static struct mcp_ctx *new_ctx(struct api_req *rq, struct api_resp *rs, const int *cancel_fd)
{
	const char *box = rq->query(rq, "box");
	if (!box)
		box = rq->api->cfg.box;
	if (!box) {
		api_errorf(rs, 409, "no box: add ?box=NAME or start clawbox serve with --box NAME");
		return NULL;
	}
	const char *session = rq->query(rq, "session");
	if (session && !ctl_session_name_valid(session)) {
		api_errorf(rs, 400, "'session': not a session name");
		return NULL;
	}
	struct mcp_config cfg = { .cancel_fd = cancel_fd,
				  .box = box,
				  .session = session,
				  .allow_sync = rq->api->cfg.mcp_allow_sync,
				  .server_version = rq->api->cfg.version,
				  .client = rq->client };
	struct mcp_ctx *c = mcp_ctx_new(&cfg);
	if (!c)
		api_errorf(rs,
			   errno == ENOENT   ? 404
			   : errno == ENOSYS ? 501
					     : 500,
			   errno == ENOENT   ? "no box '%.100s'"
			   : errno == ENOSYS ? "MCP is not built in (box '%.100s')"
					     : "cannot start an MCP session (box '%.100s')",
			   box);
	return c;
}

/* Hand the body to c and put the reply in rs. */
static int handle(struct api_req *rq, struct api_resp *rs, struct mcp_ctx *c)
{
	char *reply = NULL;
	int r = mcp_handle(c, rq->body, rq->body_len, &reply);
	if (r < 0)
		return api_errorf(rs, r == -ENOSYS ? 501 : 500, "the MCP server failed: %s",
				  strerror(-r));
	if (!reply) {
		rs->status = 202;
		return 0;
	}
	rs->status = 200;
	rs->data = reply;
	rs->len = strlen(reply);
	rs->ctype = "application/json";
	return 0;
}

/* The compact JSON of v (NULL: none). */
static char *json_text(json_t *v)
{
	return v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
}

/* The call in flight in s is id (taken; NULL: none); a cancellation that
 * came too late for the last one is dropped. */
static void set_inflight(struct msession *s, char *id)
{
	uint64_t v;
	pthread_mutex_lock(&s->cancel_lock);
	free(s->inflight);
	s->inflight = id;
	while (read(s->cancel_fd, &v, sizeof(v)) > 0)
		;
	pthread_mutex_unlock(&s->cancel_lock);
}

/* notifications/cancelled (msg) for s's call in flight: its command is
 * killed (the call answers a tool error). Never waits for the call. */
static void cancel(struct msession *s, json_t *msg)
{
	_cleanup_free_ char *want =
	    json_text(json_object_get(json_object_get(msg, "params"), "requestId"));
	uint64_t one = 1;
	pthread_mutex_lock(&s->cancel_lock);
	if (want && s->inflight && STREQ(want, s->inflight))
		(void)!write(s->cancel_fd, &one, sizeof(one));
	pthread_mutex_unlock(&s->cancel_lock);
}

/* A message for the existing session id. */
static int in_session(struct api_req *rq, struct api_resp *rs, const char *id, json_t *msg)
{
	struct msession *s = ms_get(rq->api->mcp, id);
	const char *m = method_of(msg);
	if (!s)
		return api_errorf(rs, 404, "no such MCP session (expired?): initialize again");
	if (m && STREQ(m, "notifications/cancelled")) {
		cancel(s, msg);
		ms_unref(rq->api->mcp, s);
		rs->status = 202;
		return 0;
	}
	pthread_mutex_lock(&s->lock);
	set_inflight(s, m ? json_text(json_object_get(msg, "id")) : NULL);
	int r = handle(rq, rs, s->ctx);
	set_inflight(s, NULL);
	pthread_mutex_unlock(&s->lock);
	ms_unref(rq->api->mcp, s);
	return r;
}

int api_h_mcp_post(struct api_req *rq, struct api_resp *rs)
{
	json_t *msg = json_loadb(rq->body, rq->body_len, 0, NULL);
	const char *m = method_of(msg);
	bool init = m && STREQ(m, "initialize"), discover = m && STREQ(m, "server/discover");
	const char *id = rq->header(rq, "Mcp-Session-Id");
	struct mcp_ctx *c;
	struct msession *s = NULL;
	int r;
	if (!init && !(discover && !id)) {
		r = id ? in_session(rq, rs, id, msg)
		       : api_errorf(rs, 400, "no Mcp-Session-Id: initialize first");
		json_decref(msg);
		return r;
	}
	json_decref(msg);
	int cfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (cfd < 0)
		return api_errorf(rs, 500, "cannot start an MCP session: %s", strerror(errno));
	if (!(c = new_ctx(rq, rs, &cfd))) {
		close(cfd);
		return -EINVAL;
	}
	r = handle(rq, rs, c);
	if (!discover && r == 0 && rs->status == 200 && (s = ms_add(rq->api->mcp, c, cfd)))
		api_header_add(rs, "Mcp-Session-Id", s->id);
	else if (!discover && r == 0 && rs->status == 200)
		return api_errorf(rs, 503, "too many MCP sessions (%d)", MCP_SESSIONS_MAX);
	else {
		mcp_ctx_free(c);
		close(cfd);
	}
	if (s)
		ms_unref(rq->api->mcp, s);
	return r;
}

int api_h_mcp_delete(struct api_req *rq, struct api_resp *rs)
{
	struct msession *s = ms_get(rq->api->mcp, rq->header(rq, "Mcp-Session-Id"));
	if (!s)
		return api_errorf(rs, 404, "no such MCP session");
	ms_delete(rq->api->mcp, s);
	ms_unref(rq->api->mcp, s);
	return api_json(rs, 200, NULL);
}

int api_h_mcp_get(struct api_req *rq, struct api_resp *rs)
{
	api_header_add(rs, "Allow", "POST, DELETE");
	return api_errorf(rs, 405, "no server-sent event stream: POST JSON-RPC messages");
}
