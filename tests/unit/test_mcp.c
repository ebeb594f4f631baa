/* src/mcp: the MCP server's JSON-RPC reader, lifecycle, methods and the
 * tools' argument checks (the box is not up: every tool that needs it
 * answers a tool error). */
#include "unit.h"
#include "unit_tmp.h"

#include "mcp/jsonrpc.h"
#include "mcp/mcp.h"
#include "mcp/mcp_int.h"
#include "secrets/secrets.h"
#include "state/audit.h"
#include "state/box.h"
#include "util/fs.h"

#include <jansson.h>

/* The dir ctx_new_with() made for each context, removed by ctx_free(). */
static struct {
	struct mcp_ctx *c;
	char base[32];
} bases[8];
static size_t nbases;

/* A box of the test's own (state dir and project under /tmp) and a
 * context on it. */
static struct mcp_ctx *ctx_new_with(struct mcp_config *cfg)
{
	char base[] = "/tmp/clawbox-unit.XXXXXX", state[PATH_MAX], proj[PATH_MAX];
	struct box b;
	CHECK(mkdtemp(base));
	CHECK(nbases < ELEMENTSOF(bases));
	snprintf(state, sizeof(state), "%s/state", base);
	snprintf(proj, sizeof(proj), "%s/proj", base);
	CHECK_INT(fs_mkdir_p(state, 0700), 0);
	CHECK_INT(fs_mkdir_p(proj, 0755), 0);
	CHECK_INT(setenv("CLAWBOX_STATE_DIR", state, 1), 0);
	CHECK_INT(box_create(state, "t", proj, BOX_MODE_SECURE, 0, &b), 0);
	cfg->box = "t";
	struct mcp_ctx *c = mcp_ctx_new(cfg);
	CHECK(c);
	bases[nbases].c = c;
	snprintf(bases[nbases++].base, sizeof(bases[0].base), "%s", base);
	return c;
}

/* Free c and remove its box's dir. */
static void ctx_free(struct mcp_ctx *c)
{
	mcp_ctx_free(c);
	for (size_t i = 0; i < nbases; i++)
		if (bases[i].c == c) {
			unit_rmtree(bases[i].base);
			bases[i] = bases[--nbases];
			break;
		}
}

static struct mcp_ctx *ctx_new(bool allow_sync)
{
	struct mcp_config cfg = { .allow_sync = allow_sync };
	return ctx_new_with(&cfg);
}

/* The reply to msg, parsed (NULL: no reply). */
static json_t *rpc_n(struct mcp_ctx *c, const char *msg, size_t n)
{
	char *reply = (char *)"unset";
	CHECK_INT(mcp_handle(c, msg, n, &reply), 0);
	if (!reply)
		return NULL;
	json_error_t e;
	json_t *j = json_loads(reply, 0, &e);
	CHECK(j);
	CHECK(!strchr(reply, '\n')); /* one line: the stdio transport's framing */
	free(reply);
	return j;
}

static json_t *rpc(struct mcp_ctx *c, const char *msg)
{
	return rpc_n(c, msg, strlen(msg));
}

/* The error code of a reply (0: a result). */
static int code_of(json_t *r)
{
	CHECK(r);
	json_t *e = json_object_get(r, "error");
	int code = e ? (int)json_integer_value(json_object_get(e, "code")) : 0;
	CHECK(!e != !json_object_get(r, "result"));
	return code;
}

static int code(struct mcp_ctx *c, const char *msg)
{
	json_t *r = rpc(c, msg);
	int k = code_of(r);
	json_decref(r);
	return k;
}

#define INIT                                                                      \
	"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"    \
	"\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{" \
	"\"name\":\"unit\",\"version\":\"1\"}}}"
#define INITIALIZED "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}"

static void init(struct mcp_ctx *c)
{
	CHECK_INT(code(c, INIT), 0);
	CHECK(!rpc(c, INITIALIZED));
}

#define CALL(tool, args)                                                                \
	"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":" \
	"\"" tool "\",\"arguments\":" args "}}"

/* The result of a tools/call, checked to be one (not a protocol error). */
static json_t *tool(struct mcp_ctx *c, const char *msg, bool *ret_is_error, const char **ret_text)
{
	json_t *r = rpc(c, msg);
	CHECK_INT(code_of(r), 0);
	json_t *res = json_object_get(r, "result");
	*ret_is_error = json_is_true(json_object_get(res, "isError"));
	*ret_text = json_string_value(
	    json_object_get(json_array_get(json_object_get(res, "content"), 0), "text"));
	CHECK(*ret_text);
	return r;
}

static void tool_error(struct mcp_ctx *c, const char *msg, const char *needle)
{
	bool is_error;
	const char *text;
	json_t *r = tool(c, msg, &is_error, &text);
	if (!is_error || !strstr(text, needle)) {
		fprintf(stderr, "expected a tool error with '%s', got: %s\n", needle, text);
		exit(1);
	}
	CHECK(!json_object_get(json_object_get(r, "result"), "structuredContent"));
	json_decref(r);
}

TEST(mcp_parse_errors)
{
	struct mcp_ctx *c = ctx_new(false);
	CHECK_INT(code(c, "{bad"), -32700);
	CHECK_INT(code(c, ""), -32700);
	CHECK_INT(code(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"} x"), -32700);
	/* invalid UTF-8, a NUL escaped and raw, duplicate keys */
	CHECK_INT(code(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"p\xff\"}"), -32700);
	CHECK_INT(code(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"p\\u0000\"}"), -32700);
	json_t *r = rpc_n(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\0", 42);
	CHECK_INT(code_of(r), -32700);
	CHECK(json_is_null(json_object_get(r, "id")));
	json_decref(r);
	CHECK_INT(code(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":\"ping\"}"), -32700);
	ctx_free(c);
}

TEST(mcp_invalid_requests)
{
	struct mcp_ctx *c = ctx_new(false);
	static const char *const bad[] = {
		"[]",
		"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", /* no batches */
		"1",
		"\"ping\"",
		"null",
		"{\"id\":1,\"method\":\"ping\"}",
		"{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}",
		"{\"jsonrpc\":2.0,\"id\":1,\"method\":\"ping\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":1}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":\"x\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":3}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"result\":{}}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"extra\":1}",
		"{\"jsonrpc\":\"2.0\",\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"error\":{}}",
		"{\"jsonrpc\":\"2.0\",\"result\":{}}",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		int k = code(c, bad[i]);
		if (k != -32600) {
			fprintf(stderr, "%s: got %d\n", bad[i], k);
			exit(1);
		}
	}
	json_t *b = rpc(c, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]");
	CHECK(strstr(json_string_value(json_object_get(json_object_get(b, "error"), "message")),
		     "batches are not supported"));
	json_decref(b);
	/* the id is answered when it could be read */
	json_t *r = rpc(c, "{\"jsonrpc\":\"1.0\",\"id\":\"abc\",\"method\":\"ping\"}");
	CHECK_STREQ(json_string_value(json_object_get(r, "id")), "abc");
	json_decref(r);
	/* a long method name, a long string id */
	char big[600];
	snprintf(big, sizeof(big), "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%0200d\"}", 0);
	CHECK_INT(code(c, big), -32600);
	snprintf(big, sizeof(big), "{\"jsonrpc\":\"2.0\",\"id\":\"%0300d\",\"method\":\"ping\"}",
		 0);
	CHECK_INT(code(c, big), -32600);
	ctx_free(c);
}

TEST(mcp_oversized_message)
{
	struct mcp_config cfg = { .max_message = 100 };
	struct mcp_ctx *c = ctx_new_with(&cfg);
	char msg[200];
	snprintf(msg, sizeof(msg),
		 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"a\":\"%080d\"}}",
		 0);
	json_t *r = rpc(c, msg);
	CHECK_INT(code_of(r), -32600);
	CHECK(strstr(json_string_value(json_object_get(json_object_get(r, "error"), "message")),
		     "at most 100 bytes"));
	json_decref(r);
	CHECK_INT(code(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}"), 0);
	ctx_free(c);
}

TEST(mcp_hostile_nesting)
{
	struct mcp_ctx *c = ctx_new(false);
	size_t n = 200000;
	char *deep = malloc(2 * n + 64);
	CHECK(deep);
	memset(deep, '[', n);
	memset(deep + n, ']', n);
	json_t *r = rpc_n(c, deep, 2 * n);
	CHECK_INT(code_of(r), -32700); /* too deep for the parser */
	json_decref(r);
	int k = snprintf(deep, 64,
			 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"a\":");
	memset(deep + k, '[', 1000);
	memset(deep + k + 1000, ']', 1000);
	memcpy(deep + k + 2000, "}}", 3);
	CHECK_INT(code(c, deep), 0);
	free(deep);
	ctx_free(c);
}

TEST(mcp_method_not_found)
{
	struct mcp_ctx *c = ctx_new(false);
	init(c);
	CHECK_INT(code(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/list\"}"), -32601);
	CHECK_INT(code(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"rpc.discover\"}"), -32601);
	CHECK_INT(
	    code(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"notifications/initialized\"}"),
	    -32601);
	/* unknown notifications are dropped: nothing to answer */
	CHECK(!rpc(c, "{\"jsonrpc\":\"2.0\",\"method\":\"nope\"}"));
	CHECK(!rpc(c, "{\"jsonrpc\":\"2.0\",\"method\":\"ping\"}"));
	/* a response (we never ask anything): dropped */
	CHECK(!rpc(c, "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}"));
	CHECK(!rpc(c, "{\"jsonrpc\":\"2.0\",\"id\":5,\"error\":{\"code\":1,\"message\":\"x\"}}"));
	ctx_free(c);
}

TEST(mcp_lifecycle_order)
{
	struct mcp_ctx *c = ctx_new(false);
	static const char list[] = "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}";
	/* before initialize: only initialize, ping and server/discover */
	CHECK_INT(code(c, list), -32600);
	CHECK_INT(code(c, CALL("exec", "{\"command\":\"true\"}")), -32600);
	CHECK_INT(code(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}"), 0);
	CHECK_INT(code(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"server/discover\"}"), 0);
	CHECK(!rpc(c, INITIALIZED)); /* too early: dropped, changes nothing */
	CHECK_INT(code(c, list), -32600);
	CHECK_INT(code(c, INIT), 0);
	/* answered, but the client has not said initialized yet */
	CHECK_INT(code(c, list), -32600);
	CHECK_INT(code(c, INIT), -32600); /* once per session */
	CHECK(!rpc(c, INITIALIZED));
	CHECK_INT(code(c, list), 0);
	CHECK_INT(code(c, INIT), -32600);
	ctx_free(c);
}

static const char *init_version(const char *asked)
{
	static char v[32];
	char msg[512];
	struct mcp_ctx *c = ctx_new(false);
	snprintf(msg, sizeof(msg),
		 "{\"jsonrpc\":\"2.0\",\"id\":\"i\",\"method\":\"initialize\",\"params\":{"
		 "\"protocolVersion\":\"%s\",\"capabilities\":{\"roots\":{}},\"clientInfo\":{"
		 "\"name\":\"x\",\"version\":\"1\"}}}",
		 asked);
	json_t *r = rpc(c, msg);
	CHECK_INT(code_of(r), 0);
	json_t *res = json_object_get(r, "result");
	snprintf(v, sizeof(v), "%s", json_string_value(json_object_get(res, "protocolVersion")));
	CHECK(json_is_object(json_object_get(json_object_get(res, "capabilities"), "tools")));
	CHECK_STREQ(json_string_value(json_object_get(json_object_get(res, "serverInfo"), "name")),
		    "clawbox");
	json_decref(r);
	ctx_free(c);
	return v;
}

TEST(mcp_version_negotiation)
{
	CHECK_STREQ(init_version("2025-11-25"), "2025-11-25");
	/* older (or unknown) versions are offered ours: the client decides */
	CHECK_STREQ(init_version("2025-06-18"), "2025-11-25");
	CHECK_STREQ(init_version("2025-03-26"), "2025-11-25");
	CHECK_STREQ(init_version("1999-01-01"), "2025-11-25");
}

TEST(mcp_initialize_params)
{
	struct mcp_ctx *c = ctx_new(false);
	static const char *const bad[] = {
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":[]}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{}}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
		"\"protocolVersion\":1,\"capabilities\":{},\"clientInfo\":{\"name\":\"x\"}}}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
		"\"protocolVersion\":\"2025-11-25\",\"capabilities\":[],\"clientInfo\":{\"name\":"
		"\"x\"}}}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
		"\"protocolVersion\":\"2025-11-25\",\"capabilities\":{}}}",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		CHECK_INT(code(c, bad[i]), -32602);
	CHECK_INT(code(c, INIT), 0); /* the refused ones did not count */
	ctx_free(c);
}

TEST(mcp_ids_echoed)
{
	struct mcp_ctx *c = ctx_new(false);
	json_t *r = rpc(c, "{\"jsonrpc\":\"2.0\",\"id\":\"a-b\",\"method\":\"ping\"}");
	CHECK_STREQ(json_string_value(json_object_get(r, "id")), "a-b");
	CHECK_INT(json_object_size(json_object_get(r, "result")), 0);
	json_decref(r);
	r = rpc(c, "{\"jsonrpc\":\"2.0\",\"id\":-9007199254740993,\"method\":\"ping\"}");
	CHECK(json_integer_value(json_object_get(r, "id")) == -9007199254740993LL);
	json_decref(r);
	ctx_free(c);
}

static json_t *tools_list(struct mcp_ctx *c)
{
	json_t *r =
	    rpc(c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\",\"params\":{}}");
	CHECK_INT(code_of(r), 0);
	return r;
}

TEST(mcp_tools_list)
{
	static const char *const names[] = { "exec",   "read_file",   "write_file", "list_dir",
					     "search", "sync_status", "sync_apply" };
	for (int allow = 0; allow < 2; allow++) {
		struct mcp_ctx *c = ctx_new(allow);
		init(c);
		json_t *r = tools_list(c);
		json_t *tools = json_object_get(json_object_get(r, "result"), "tools"), *t;
		size_t i;
		CHECK_INT(json_array_size(tools), allow ? 7 : 6);
		json_array_foreach(tools, i, t)
		{
			CHECK_STREQ(json_string_value(json_object_get(t, "name")), names[i]);
			json_t *in = json_object_get(t, "inputSchema");
			CHECK_STREQ(json_string_value(json_object_get(in, "type")), "object");
			CHECK(json_is_object(json_object_get(in, "properties")));
			CHECK(json_is_false(json_object_get(in, "additionalProperties")));
			json_t *out = json_object_get(t, "outputSchema");
			CHECK(out && json_is_array(json_object_get(out, "required")));
			CHECK(json_string_length(json_object_get(t, "description")) > 20);
		}
		json_decref(r);
		/* sync_apply is not there without the grant: an unknown tool */
		if (!allow)
			CHECK_INT(code(c, CALL("sync_apply", "{}")), -32602);
		CHECK_INT(
		    code(c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\",\"params\":{"
			    "\"cursor\":\"x\"}}"),
		    -32602);
		ctx_free(c);
	}
}

TEST(mcp_tools_call_protocol_errors)
{
	struct mcp_ctx *c = ctx_new(false);
	init(c);
	CHECK_INT(code(c, CALL("nope", "{}")), -32602);
	CHECK_INT(code(c, CALL("EXEC", "{}")), -32602);
	CHECK_INT(code(c, CALL("exec", "[]")), -32602);
	CHECK_INT(code(c, CALL("exec", "\"ls\"")), -32602);
	CHECK_INT(code(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\"}"), -32602);
	CHECK_INT(code(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":[]}"),
		  -32602);
	CHECK_INT(code(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{"
			  "\"name\":5}}"),
		  -32602);
	ctx_free(c);
}

/* Bad arguments are tool errors (the model reads them and corrects its
 * call: SEP-1303, in 2025-11-25), never protocol errors. */
TEST(mcp_tool_argument_errors)
{
	struct mcp_ctx *c = ctx_new(false);
	init(c);
	tool_error(c, CALL("exec", "{}"), "give argv or command");
	tool_error(c, CALL("exec", "{\"argv\":[\"ls\"],\"command\":\"ls\"}"),
		   "give argv or command");
	tool_error(c, CALL("exec", "{\"argv\":[]}"), "argv must be an array of 1");
	tool_error(c, CALL("exec", "{\"argv\":\"ls\"}"), "argv must be an array");
	tool_error(c, CALL("exec", "{\"argv\":[\"ls\",1]}"), "argv must hold strings");
	/* a NUL never reaches a tool: the reader refuses it */
	CHECK_INT(code(c, CALL("exec", "{\"argv\":[\"ls\\u0000x\"]}")), -32700);
	tool_error(c, CALL("exec", "{\"command\":5}"), "'command' must be a string");
	tool_error(c, CALL("exec", "{\"command\":\"ls\",\"timeout_ms\":0}"), "between 1 and");
	tool_error(c, CALL("exec", "{\"command\":\"ls\",\"timeout_ms\":1e300}"), "an integer");
	tool_error(c, CALL("exec", "{\"command\":\"ls\",\"timeout_ms\":\"5\"}"), "an integer");
	tool_error(c, CALL("exec", "{\"command\":\"ls\",\"env\":{\"A=B\":\"x\"}}"),
		   "variable name");
	tool_error(c, CALL("exec", "{\"command\":\"ls\",\"env\":{\"A\":1}}"), "variable name");
	tool_error(c, CALL("exec", "{\"command\":\"ls\",\"env\":[]}"), "env must be an object");
	tool_error(c, CALL("exec", "{\"command\":\"ls\",\"sudo\":true}"),
		   "unknown argument 'sudo'");
	tool_error(c, CALL("read_file", "{}"), "'path' is required");
	tool_error(c, CALL("read_file", "{\"path\":\"/etc/passwd\"}"), "relative to the workspace");
	tool_error(c, CALL("read_file", "{\"path\":\"a\",\"length\":0}"), "between 1 and");
	tool_error(c, CALL("read_file", "{\"path\":\"a\",\"offset\":-1}"), "between 0 and");
	tool_error(c, CALL("write_file", "{\"path\":\"a\"}"), "'content' is required");
	tool_error(c,
		   CALL("write_file", "{\"path\":\"a\",\"content\":\"x\",\"encoding\":\"rot13\"}"),
		   "utf-8 or base64");
	tool_error(
	    c, CALL("write_file", "{\"path\":\"a\",\"content\":\"!!!!\",\"encoding\":\"base64\"}"),
	    "not base64");
	tool_error(c, CALL("write_file", "{\"path\":\"a\",\"content\":\"x\",\"mode\":4095}"),
		   "between 0 and 511");
	tool_error(c, CALL("list_dir", "{\"path\":[]}"), "must be a string");
	tool_error(c, CALL("search", "{}"), "'pattern' is required");
	tool_error(c, CALL("search", "{\"pattern\":\"x\",\"max_results\":5000}"),
		   "between 1 and 1000");
	tool_error(c, CALL("sync_status", "{\"x\":1}"), "unknown argument 'x'");
	ctx_free(c);
}

/* With the box down, the tools that need it say so (a tool error). */
TEST(mcp_tools_box_not_up)
{
	struct mcp_ctx *c = ctx_new(false);
	init(c);
	tool_error(c, CALL("exec", "{\"command\":\"true\"}"), "not up");
	tool_error(c, CALL("exec", "{\"argv\":[\"true\"],\"cwd\":\"src\",\"env\":{\"A\":\"b\"}}"),
		   "not up");
	tool_error(c, CALL("read_file", "{\"path\":\"/workspace/README\"}"), "not up");
	tool_error(
	    c, CALL("write_file", "{\"path\":\"x\",\"content\":\"aGk=\",\"encoding\":\"base64\"}"),
	    "not up");
	tool_error(c, CALL("list_dir", "{}"), "not up");
	tool_error(c, CALL("search", "{\"pattern\":\"x\",\"fixed\":true}"), "not up");
	ctx_free(c);
}

TEST(mcp_sync_status_of_an_idle_box)
{
	struct mcp_ctx *c = ctx_new(true);
	bool is_error;
	const char *text;
	init(c);
	json_t *r = tool(c, CALL("sync_status", "{}"), &is_error, &text);
	CHECK(!is_error);
	json_t *sc = json_object_get(json_object_get(r, "result"), "structuredContent");
	CHECK_STREQ(json_string_value(json_object_get(sc, "box")), "t");
	CHECK_INT(json_integer_value(json_object_get(json_object_get(sc, "summary"), "pending")),
		  0);
	CHECK_INT(json_array_size(json_object_get(sc, "changes")), 0);
	json_decref(r);
	r = tool(c, CALL("sync_apply", "{}"), &is_error, &text);
	CHECK(!is_error);
	json_decref(r);
	ctx_free(c);
}

#define META(ver)                                                             \
	"\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"" ver "\"," \
	"\"io.modelcontextprotocol/clientCapabilities\":{}}"

TEST(mcp_server_discover)
{
	struct mcp_ctx *c = ctx_new(false);
	json_t *r = rpc(c, "{\"jsonrpc\":\"2.0\",\"id\":\"d\",\"method\":\"server/discover\","
			   "\"params\":{" META("2026-07-28") "}}");
	json_t *res = json_object_get(r, "result");
	json_t *v = json_object_get(res, "supportedVersions");
	CHECK_STREQ(json_string_value(json_array_get(v, 0)), MCP_STATELESS_VERSION);
	CHECK_STREQ(json_string_value(json_array_get(v, 1)), MCP_PROTOCOL_VERSION);
	CHECK_STREQ(json_string_value(json_object_get(res, "resultType")), "complete");
	CHECK(json_is_object(json_object_get(json_object_get(res, "capabilities"), "tools")));
	CHECK(json_is_string(json_object_get(json_object_get(res, "serverInfo"), "version")));
	json_decref(r);
	/* it changes no state: the session still needs initialize */
	CHECK_INT(code(c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}"), -32600);
	ctx_free(c);
}

TEST(mcp_stateless_requests)
{
	struct mcp_ctx *c = ctx_new(false);
	/* a request of 2026-07-28 carries its version: no handshake */
	json_t *r =
	    rpc(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{" META(
		       "2026-07-28") "}}");
	json_t *res = json_object_get(r, "result");
	CHECK_INT(json_array_size(json_object_get(res, "tools")), 6);
	CHECK_STREQ(json_string_value(json_object_get(res, "resultType")), "complete");
	json_decref(r);
	/* a version we do not speak: -32022 with what we do */
	r = rpc(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{" META(
		       "2027-01-01") "}}");
	CHECK_INT(code_of(r), -32022);
	json_t *data = json_object_get(json_object_get(r, "error"), "data");
	CHECK_STREQ(json_string_value(json_array_get(json_object_get(data, "supported"), 0)),
		    "2026-07-28");
	CHECK_STREQ(json_string_value(json_object_get(data, "requested")), "2027-01-01");
	json_decref(r);
	CHECK_INT(code(c,
		       "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{"
		       "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}}}"),
		  -32602);
	/* the handshake does not exist there */
	CHECK_INT(
	    code(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{" META(
			"2026-07-28") "}}"),
	    -32601);
	tool_error(c,
		   "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{" META(
		       "2026-07-28") ",\"name\":\"exec\",\"arguments\":{\"command\":\"true\"}}}",
		   "not up");
	ctx_free(c);
}

TEST(mcp_text_and_base64)
{
	json_t *s = mcp_text("a\xff"
			     "b\0c\xe2\x82",
			     7);
	CHECK_STREQ(json_string_value(s), "a\xef\xbf\xbd"
					  "b\xef\xbf\xbd"
					  "c\xef\xbf\xbd\xef\xbf\xbd");
	json_decref(s);
	s = mcp_text("h\xc3\xa9", 3);
	CHECK_STREQ(json_string_value(s), "h\xc3\xa9");
	json_decref(s);
	static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const enc[] = { "",         "Zg==",     "Zm8=",    "Zm9v",
					   "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	for (size_t i = 0; i < ELEMENTSOF(plain); i++) {
		char *e = mcp_base64_encode(plain[i], strlen(plain[i])), *d;
		size_t n;
		CHECK_STREQ(e, enc[i]);
		CHECK_INT(mcp_base64_decode(e, strlen(e), &d, &n), 0);
		CHECK_INT(n, strlen(plain[i]));
		CHECK(memcmp(d, plain[i], n) == 0);
		free(e);
		free(d);
	}
	static const char *const bad[] = { "Zg=",          "Z===", "Zg=a", "Zm9v\n",
					   "Zm9vYg==Zm9v", "Zm 9", "=Zm9" };
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		char *d = NULL;
		size_t n;
		CHECK_INT(mcp_base64_decode(bad[i], strlen(bad[i]), &d, &n), -EINVAL);
		CHECK(!d);
	}
}

static void put(const char *dir, const char *name, const char *data)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	CHECK_INT(fs_write_all(fd, data, strlen(data)), 0);
	close(fd);
}

/* A verdict of the plan's entry for path. */
static const char *verdict_of(json_t *sc, const char *path)
{
	json_t *e;
	size_t i;
	json_array_foreach(
	    json_object_get(sc, "changes"), i,
	    e) if (STREQ(json_string_value(json_object_get(e, "path")),
			 path)) return json_string_value(json_object_get(e, "verdict"));
	return NULL;
}

/* sync_apply brings what passes, never what the gate blocks: the same
 * checks as clawbox sync --auto without approvals. */
TEST(mcp_sync_apply_only_what_passes)
{
	struct mcp_ctx *c = ctx_new(true);
	char p[PATH_MAX];
	bool is_error;
	const char *text;
	init(c);
	snprintf(p, sizeof(p), "%s/upper", c->box.data);
	put(p, "ok.txt", "hello\n");
	put(p, "leak.py", "token = \"ghp_R8mZk2Lq9XwT4vNp7YhC3sJd6FbG1aE5uKoV\"\n");
	json_t *r = tool(c, CALL("sync_status", "{}"), &is_error, &text);
	json_t *sc = json_object_get(json_object_get(r, "result"), "structuredContent");
	CHECK(!is_error);
	CHECK_STREQ(verdict_of(sc, "ok.txt"), "apply");
	CHECK_STREQ(verdict_of(sc, "leak.py"), "blocked");
	CHECK_INT(json_integer_value(json_object_get(json_object_get(sc, "summary"), "pending")),
		  2);
	CHECK(!strstr(text, "ghp_R8mZk2")); /* findings never quote the secret */
	json_decref(r);
	snprintf(p, sizeof(p), "%s/ok.txt", c->box.project);
	CHECK(access(p, F_OK) < 0); /* status changed nothing */
	r = tool(c, CALL("sync_apply", "{}"), &is_error, &text);
	CHECK(!is_error);
	sc = json_object_get(json_object_get(r, "result"), "structuredContent");
	CHECK_INT(json_integer_value(json_object_get(json_object_get(sc, "summary"), "pending")),
		  1);
	json_decref(r);
	CHECK(access(p, F_OK) == 0);
	snprintf(p, sizeof(p), "%s/leak.py", c->box.project);
	CHECK(access(p, F_OK) < 0);
	ctx_free(c);
}

static int count_calls(json_t *obj, const char *raw, void *ctx)
{
	if (STREQ(json_string_value(json_object_get(obj, "event")), "mcp.call"))
		json_array_append(ctx, obj);
	return 0;
}

/* Every tool call is an audit event: who (transport, client, session),
 * what, how it ended. */
TEST(mcp_calls_audited)
{
	struct mcp_config cfg = { .client = "unit-transport", .session = "s1" };
	struct mcp_ctx *c = ctx_new_with(&cfg);
	init(c);
	tool_error(c, CALL("exec", "{\"command\":\"echo hi\"}"), "not up");
	tool_error(c, CALL("read_file", "{\"path\":\"a/b\"}"), "not up");
	bool is_error;
	const char *text;
	json_decref(tool(c, CALL("sync_status", "{}"), &is_error, &text));
	json_t *ev = json_array();
	CHECK_INT(audit_foreach(c->box.dir, 0, count_calls, ev), 0);
	CHECK_INT(json_array_size(ev), 3);
	json_t *e = json_array_get(ev, 0);
	CHECK_STREQ(json_string_value(json_object_get(e, "tool")), "exec");
	CHECK_STREQ(json_string_value(json_object_get(e, "via")), "unit-transport");
	CHECK_STREQ(json_string_value(json_object_get(e, "client")), "unit");
	CHECK_STREQ(json_string_value(json_object_get(e, "session")), "s1");
	CHECK_STREQ(json_string_value(json_object_get(e, "outcome")), "error");
	CHECK_STREQ(json_string_value(json_object_get(json_object_get(e, "args"), "command")),
		    "/bin/sh -c echo hi");
	e = json_array_get(ev, 1);
	CHECK_STREQ(json_string_value(json_object_get(json_object_get(e, "args"), "path")), "a/b");
	CHECK_STREQ(json_string_value(json_object_get(json_array_get(ev, 2), "outcome")), "done");
	json_decref(ev);
	ctx_free(c);
}

/* A value the box was given never shows: not in a path, not in a finding;
 * a file holding it is blocked. */
TEST(mcp_sync_status_redacts_known_values)
{
	struct mcp_ctx *c = ctx_new(false);
	static const char value[] = "Zq8xV3rT6yKp2LmN";
	struct secrets *k;
	char up[PATH_MAX];
	bool is_error;
	const char *text;
	CHECK_INT(secrets_new_known(&k), 0);
	CHECK(secrets_know(k, "TOKEN", value, strlen(value)) == 1);
	CHECK_INT(secrets_known_save(c->box.dir, k), 0);
	secrets_free(k);
	snprintf(up, sizeof(up), "%s/upper", c->box.data);
	put(up, "Zq8xV3rT6yKp2LmN.txt", "nothing\n");
	put(up, "conf.ini", "key = Zq8xV3rT6yKp2LmN\n");
	init(c);
	json_t *r = tool(c, CALL("sync_status", "{}"), &is_error, &text);
	json_t *sc = json_object_get(json_object_get(r, "result"), "structuredContent");
	CHECK(!is_error);
	CHECK(!strstr(text, value));
	CHECK_STREQ(verdict_of(sc, "conf.ini"), "blocked");
	CHECK(verdict_of(sc, "[REDACTED:TOKEN].txt"));
	json_decref(r);
	ctx_free(c);
}
