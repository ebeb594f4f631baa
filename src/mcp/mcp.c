/* The MCP server: the session's lifecycle and the methods (src/mcp/mcp.h).
 * The tools are in tools.c and tool_*.c. */
#include "mcp/mcp.h"

#include "mcp/jsonrpc.h"
#include "mcp/mcp_int.h"

#include <errno.h>

static const char instructions[] =
    "Tools of a clawbox box: a sandbox whose workspace is an overlay of the user's project. "
    "Paths are relative to the workspace. Nothing you write reaches the project until it "
    "passes the sync gate (sync_status shows what is pending and each verdict).";

static void ctx_freep(struct mcp_ctx **c)
{
	mcp_ctx_free(*c);
}

struct mcp_ctx *mcp_ctx_new(const struct mcp_config *cfg)
{
	_cleanup_(ctx_freep) struct mcp_ctx *c = calloc(1, sizeof(*c));
	char state[PATH_MAX];
	int r = 0;
	if (!c)
		return NULL;
	if (cfg->box_data)
		c->box = *cfg->box_data;
	else if (!cfg->box)
		r = -EINVAL;
	else if ((r = box_state_dir(state, sizeof(state))) >= 0)
		r = box_load(state, cfg->box, &c->box);
	if (r >= 0 && cfg->session && !box_name_valid(cfg->session))
		r = -EINVAL;
	c->version = strdup(cfg->server_version ? cfg->server_version : "unknown");
	c->client = strdup(cfg->client ? cfg->client : "mcp");
	c->session = cfg->session ? strdup(cfg->session) : NULL;
	if (r >= 0 && (!c->version || !c->client || (cfg->session && !c->session)))
		r = -ENOMEM;
	if (r < 0) {
		errno = -r;
		return NULL;
	}
	c->allow_sync = cfg->allow_sync;
	c->cancel_fd = cfg->cancel_fd ? *cfg->cancel_fd : -1;
	c->max_message = cfg->max_message ? cfg->max_message : MCP_MESSAGE_MAX;
	c->max_output = cfg->max_output ? cfg->max_output : MCP_OUTPUT_MAX;
	c->max_timeout_ms = cfg->max_timeout_ms ? cfg->max_timeout_ms : MCP_TIMEOUT_MAX_MS;
	return TAKE_PTR(c);
}

void mcp_ctx_free(struct mcp_ctx *c)
{
	if (!c)
		return;
	free(c->session);
	free(c->version);
	free(c->client);
	free(c);
}

/* ---- a method's answer ------------------------------------------------ */

/* What a method answers: a result (an object), or an error. */
struct answer {
	json_t *result;
	int code;
	char message[200];
	json_t *data;
};

static int answer_error(struct answer *a, int code, const char *fmt, ...) _printf_(3, 4);
static int answer_error(struct answer *a, int code, const char *fmt, ...)
{
	va_list ap;
	a->code = code;
	va_start(ap, fmt);
	vsnprintf(a->message, sizeof(a->message), fmt, ap);
	va_end(ap);
	return 0;
}

static json_t *server_info(const struct mcp_ctx *c)
{
	return json_pack("{s:s, s:s, s:s}", "name", "clawbox", "title", "clawbox sandbox",
			 "version", c->version);
}

/* params as an object (absent: NULL); -EINVAL (with a -32602 answer) for
 * an array. */
static int params_object(json_t *params, struct answer *a)
{
	if (params && !json_is_object(params)) {
		answer_error(a, MCP_ERR_PARAMS, "Invalid params: params is an object");
		return -EINVAL;
	}
	return 0;
}

/* ---- lifecycle -------------------------------------------------------- */

static int m_initialize(struct mcp_ctx *c, json_t *params, bool stateless, struct answer *a)
{
	const char *ver = NULL, *name = NULL;
	json_t *caps = NULL;
	if (params_object(params, a) < 0)
		return 0;
	if (c->state != MCP_STATE_NEW)
		return answer_error(a, MCP_ERR_INVALID,
				    "Invalid Request: the session is initialized already");
	if (!params ||
	    json_unpack(params, "{s:s, s:o, s:{s:s}}", "protocolVersion", &ver, "capabilities",
			&caps, "clientInfo", "name", &name) < 0 ||
	    !json_is_object(caps))
		return answer_error(a, MCP_ERR_PARAMS,
				    "Invalid params: initialize takes protocolVersion (a string), "
				    "capabilities (an object) and clientInfo with a name");
	/* Our one version of the handshake: asked for another, we offer it
	 * (the client disconnects when it cannot speak it). */
	snprintf(c->client_name, sizeof(c->client_name), "%s", name);
	a->result = json_pack("{s:s, s:{s:{s:b}}, s:o, s:s}", "protocolVersion",
			      MCP_PROTOCOL_VERSION, "capabilities", "tools", "listChanged", false,
			      "serverInfo", server_info(c), "instructions", instructions);
	c->state = MCP_STATE_ANSWERED;
	return a->result ? 0 : -ENOMEM;
}

/* server/discover (2026-07-28): what this server speaks, in any state. */
static int m_discover(struct mcp_ctx *c, json_t *params, bool stateless, struct answer *a)
{
	if (params_object(params, a) < 0)
		return 0;
	a->result = json_pack("{s:s, s:[s, s], s:{s:{}}, s:o, s:s}", "resultType", "complete",
			      "supportedVersions", MCP_STATELESS_VERSION, MCP_PROTOCOL_VERSION,
			      "capabilities", "tools", "serverInfo", server_info(c), "instructions",
			      instructions);
	return a->result ? 0 : -ENOMEM;
}

static int m_ping(struct mcp_ctx *c, json_t *params, bool stateless, struct answer *a)
{
	if (params_object(params, a) < 0)
		return 0;
	a->result = json_object();
	return a->result ? 0 : -ENOMEM;
}

/* ---- tools ------------------------------------------------------------ */

static json_t *tool_json(const struct mcp_tool *t)
{
	json_error_t jerr;
	json_t *in = json_loads(t->input_schema, 0, &jerr);
	json_t *out = t->output_schema ? json_loads(t->output_schema, 0, &jerr) : NULL;
	json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:{s:b, s:b, s:b}}", "name", t->name, "title",
			      t->title, "description", t->description, "inputSchema", in,
			      "annotations", "readOnlyHint", t->read_only, "destructiveHint",
			      !t->read_only, "openWorldHint", STREQ(t->name, "exec"));
	if (o && out)
		json_object_set_new(o, "outputSchema", out);
	else
		json_decref(out);
	return o;
}

static int m_tools_list(struct mcp_ctx *c, json_t *params, bool stateless, struct answer *a)
{
	json_t *cursor =
	    params && json_is_object(params) ? json_object_get(params, "cursor") : NULL;
	if (params_object(params, a) < 0)
		return 0;
	/* One page: a cursor can only be one we never gave. */
	if (cursor)
		return answer_error(a, MCP_ERR_PARAMS, "Invalid params: unknown cursor");
	json_t *tools = json_array();
	const struct mcp_tool *t;
	for (size_t i = 0; tools && (t = mcp_tool_at(c, i)); i++)
		if (json_array_append_new(tools, tool_json(t)) < 0)
			return json_decref(tools), -ENOMEM;
	a->result = json_pack("{s:o}", "tools", tools);
	return a->result ? 0 : -ENOMEM;
}

/* The CallToolResult of o (consumed). */
static json_t *call_result(struct mcp_out *o)
{
	if (!o->text && o->structured)
		o->text = json_dumps(o->structured, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_t *r = json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text",
			      o->text ? o->text : "", "isError", o->is_error);
	if (r && o->structured && !o->is_error)
		json_object_set(r, "structuredContent", o->structured);
	json_decref(o->structured);
	free(o->text);
	*o = (struct mcp_out){ 0 };
	return r;
}

static int m_tools_call(struct mcp_ctx *c, json_t *params, bool stateless, struct answer *a)
{
	const char *name = NULL;
	json_t *args = NULL;
	if (params_object(params, a) < 0)
		return 0;
	if (!params || json_unpack(params, "{s:s, s?o}", "name", &name, "arguments", &args) < 0 ||
	    (args && !json_is_object(args)))
		return answer_error(a, MCP_ERR_PARAMS,
				    "Invalid params: tools/call takes a name (a string) and "
				    "arguments (an object)");
	const struct mcp_tool *t = mcp_tool_find(c, name);
	if (!t)
		return answer_error(a, MCP_ERR_PARAMS, "Invalid params: unknown tool '%.64s'",
				    name);
	_cleanup_(json_decrefp) json_t *empty = json_object();
	struct mcp_out o = { 0 };
	int r = t->call(c, args ? args : empty, &o);
	if (r == 0)
		mcp_audit_call(c, t->name, &o);
	json_decref(o.what);
	if (r < 0) {
		json_decref(o.structured);
		free(o.text);
		return r;
	}
	a->result = call_result(&o);
	return a->result ? 0 : -ENOMEM;
}

/* notifications/cancelled: the transport acts on it while the call runs
 * (struct mcp_config's cancel_fd: clawbox mcp's reader sees it first);
 * here, after the call was answered, there is nothing left to cancel. */
static int m_cancelled(struct mcp_ctx *c, json_t *params, bool stateless, struct answer *a)
{
	return 0;
}

static int m_initialized(struct mcp_ctx *c, json_t *params, bool stateless, struct answer *a)
{
	if (c->state == MCP_STATE_ANSWERED)
		c->state = MCP_STATE_READY;
	return 0;
}

enum { ANY_STATE = 1, NOTIFICATION = 2, STATELESS = 4 };

struct method {
	const char *name;
	int (*fn)(struct mcp_ctx *c, json_t *params, bool stateless, struct answer *a);
	unsigned flags;
};

static const struct method methods[] = {
	{ "initialize", m_initialize, ANY_STATE },
	{ "ping", m_ping, ANY_STATE | STATELESS },
	{ "server/discover", m_discover, ANY_STATE | STATELESS },
	{ "tools/list", m_tools_list, STATELESS },
	{ "tools/call", m_tools_call, STATELESS },
	{ "notifications/initialized", m_initialized, NOTIFICATION | ANY_STATE },
	{ "notifications/cancelled", m_cancelled, NOTIFICATION | ANY_STATE },
};

static const struct method *method_find(const char *name, bool notification)
{
	for (size_t i = 0; i < ELEMENTSOF(methods); i++)
		if (STREQ(methods[i].name, name) &&
		    !!(methods[i].flags & NOTIFICATION) == notification)
			return &methods[i];
	return NULL;
}

/* ---- dispatch --------------------------------------------------------- */

#define META_VERSION "io.modelcontextprotocol/protocolVersion"
#define META_CAPS    "io.modelcontextprotocol/clientCapabilities"

/* A request of the stateless revision carries its version in
 * params._meta: 1 when m does (then checked: -32022 for a version we do
 * not speak, -32602 without client capabilities), 0 when it does not. */
static int stateless_request(const struct jsonrpc_msg *m, struct answer *a)
{
	json_t *meta = json_is_object(m->params) ? json_object_get(m->params, "_meta") : NULL;
	json_t *ver = json_is_object(meta) ? json_object_get(meta, META_VERSION) : NULL;
	if (!ver)
		return 0;
	if (!json_is_string(ver) || !STREQ(json_string_value(ver), MCP_STATELESS_VERSION)) {
		answer_error(a, MCP_ERR_UNSUPPORTED_VERSION, "Unsupported protocol version");
		a->data =
		    json_pack("{s:[s], s:O}", "supported", MCP_STATELESS_VERSION, "requested", ver);
		return -EPROTONOSUPPORT;
	}
	if (!json_is_object(json_object_get(meta, META_CAPS))) {
		answer_error(a, MCP_ERR_PARAMS, "Invalid params: _meta has no %s", META_CAPS);
		return -EINVAL;
	}
	return 1;
}

/* Whether the lifecycle lets method run now; else a -32600 answer. */
static bool lifecycle_allows(const struct mcp_ctx *c, const struct method *md, struct answer *a)
{
	if (md->flags & ANY_STATE || c->state == MCP_STATE_READY)
		return true;
	answer_error(a, MCP_ERR_INVALID,
		     c->state == MCP_STATE_NEW
			 ? "Invalid Request: the session is not initialized (send initialize "
			   "first)"
			 : "Invalid Request: the session waits for notifications/initialized");
	return false;
}

/* Answer the request m into *a. 0, or -ENOMEM. */
static int dispatch(struct mcp_ctx *c, const struct jsonrpc_msg *m, struct answer *a)
{
	int st = stateless_request(m, a);
	if (st < 0)
		return 0;
	const struct method *md = method_find(m->method, false);
	if (!md || (st && !(md->flags & STATELESS)))
		return answer_error(a, MCP_ERR_METHOD, "Method not found: '%.64s'", m->method);
	if (!st && !lifecycle_allows(c, md, a))
		return 0;
	int r = md->fn(c, m->params, st, a);
	if (r == 0 && st && a->result)
		json_object_set_new(a->result, "resultType", json_string("complete"));
	return r;
}

static int notify(struct mcp_ctx *c, const struct jsonrpc_msg *m)
{
	const struct method *md = method_find(m->method, true);
	struct answer a = { 0 };
	/* An unknown notification, or one too early, is dropped: it has no
	 * answer to carry an error. */
	if (!md)
		return 0;
	return md->fn(c, m->params, false, &a);
}

/* The reply to the request m: its result, or its error (an internal error
 * when the method failed). NULL when memory is short. */
static char *answer_request(struct mcp_ctx *c, const struct jsonrpc_msg *m)
{
	struct answer a = { 0 };
	int r = dispatch(c, m, &a);
	if (r < 0) {
		json_decref(a.result);
		a.result = NULL;
		answer_error(&a, MCP_ERR_INTERNAL, "Internal error: %s", strerror(-r));
	}
	if (a.result) {
		json_decref(a.data);
		return jsonrpc_result(m->id, a.result);
	}
	return jsonrpc_error(m->id, a.code, a.message, a.data);
}

int mcp_handle(struct mcp_ctx *c, const char *msg, size_t len, char **ret_reply)
{
	struct jsonrpc_msg m;
	struct jsonrpc_refusal why = { 0 };
	char *reply = NULL;
	int r = 0;
	if (jsonrpc_parse(msg, len, c->max_message, &m, &why) < 0) {
		reply = jsonrpc_error(why.id, why.code, why.message, NULL);
		json_decref(why.id);
		if (!reply)
			return -ENOMEM;
		*ret_reply = reply;
		return 0;
	}
	if (m.kind == JSONRPC_NOTIFICATION)
		r = notify(c, &m);
	else if (m.kind == JSONRPC_REQUEST && !(reply = answer_request(c, &m)))
		r = -ENOMEM;
	jsonrpc_msg_free(&m);
	if (r < 0) {
		free(reply);
		return r;
	}
	*ret_reply = reply;
	return 0;
}
