/* libFuzzer harness for the MCP server's JSON-RPC reader and its methods:
 * the input is split at newlines into messages (as `clawbox mcp` frames
 * them) and handed to a context that has been initialized, so the tools'
 * argument checks are reached too (the box is a made-up one: every tool
 * that needs it fails cleanly). Each message gets no reply or exactly one
 * JSON-RPC response, never a crash or a leak; the reader alone accepts or
 * refuses with a JSON-RPC code. */
#include "util/common.h"

#include "mcp/jsonrpc.h"
#include "mcp/mcp.h"

#include <jansson.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char init[] =
    "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
    "\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"fuzz\"}}}";
static const char initialized[] = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}";

/* A reply is one JSON-RPC response: "2.0", an id, a result or an error. */
static void check_reply(const char *reply)
{
	json_error_t e;
	json_t *j = json_loads(reply, 0, &e);
	if (!j || strchr(reply, '\n') || !json_is_string(json_object_get(j, "jsonrpc")) ||
	    !json_object_get(j, "id") ||
	    !json_object_get(j, "result") == !json_object_get(j, "error"))
		abort();
	json_t *err = json_object_get(j, "error");
	if (err && !json_is_integer(json_object_get(err, "code")))
		abort();
	json_decref(j);
}

static void one(struct mcp_ctx *c, const char *s, size_t n)
{
	char *reply = NULL;
	struct jsonrpc_msg m;
	struct jsonrpc_refusal why = { 0 };
	if (jsonrpc_parse(s, n, 1 << 20, &m, &why) == 0)
		jsonrpc_msg_free(&m);
	else if (why.code != -32700 && why.code != -32600)
		abort();
	json_decref(why.id);
	if (mcp_handle(c, s, n, &reply) < 0)
		return;
	if (reply)
		check_reply(reply);
	free(reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct box b = { .name = "fuzz",
			 .dir = "/nonexistent/clawbox-fuzz",
			 .project = "/nonexistent/clawbox-fuzz-project",
			 .data = "/nonexistent/clawbox-fuzz" };
	struct mcp_config cfg = { .box = "fuzz",
				  .box_data = &b,
				  .allow_sync = true,
				  .max_message = 1 << 20,
				  .max_timeout_ms = 1 };
	struct mcp_ctx *c = mcp_ctx_new(&cfg);
	if (!c)
		return 0;
	one(c, init, strlen(init));
	one(c, initialized, strlen(initialized));
	const char *s = (const char *)data, *end = s + size;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
		one(c, s, n);
		s += n + 1;
	}
	mcp_ctx_free(c);
	return 0;
}
