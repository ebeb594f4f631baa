/* The strict JSON-RPC 2.0 reader: src/mcp/jsonrpc.h. */
#include "mcp/jsonrpc.h"

#include <stdarg.h>

static int refuse(struct jsonrpc_refusal *why, int code, json_t *id, const char *fmt, ...)
    _printf_(4, 5);

static int refuse(struct jsonrpc_refusal *why, int code, json_t *id, const char *fmt, ...)
{
	va_list ap;
	why->code = code;
	why->id = id ? json_incref(id) : NULL;
	va_start(ap, fmt);
	vsnprintf(why->message, sizeof(why->message), fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

/* Whether id is one MCP allows: a string (of at most JSONRPC_ID_MAX bytes)
 * or an integer. */
static bool id_valid(const json_t *id)
{
	if (json_is_integer(id))
		return true;
	return json_is_string(id) && json_string_length(id) <= JSONRPC_ID_MAX;
}

/* The members of a message are the protocol's, nothing else. */
static bool members_known(json_t *o)
{
	static const char *const known[] = {
		"jsonrpc", "id", "method", "params", "result", "error"
	};
	const char *key;
	json_t *v;
	json_object_foreach(o, key, v)
	{
		bool ok = false;
		for (size_t i = 0; i < ELEMENTSOF(known) && !ok; i++)
			ok = STREQ(key, known[i]);
		if (!ok)
			return false;
	}
	return true;
}

/* A response (result or error, no method): never answered, but checked. */
static int classify_response(json_t *o, json_t *id, struct jsonrpc_msg *m,
			     struct jsonrpc_refusal *why)
{
	json_t *res = json_object_get(o, "result"), *err = json_object_get(o, "error");
	if ((res != NULL) == (err != NULL) || !id || (!json_is_null(id) && !id_valid(id)) ||
	    json_object_get(o, "params") || (err && !json_is_object(err)))
		return refuse(why, -32600, NULL,
			      "Invalid Request: not a request, a "
			      "notification or a response");
	m->kind = JSONRPC_RESPONSE;
	m->id = id;
	return 0;
}

/* The method and params of a request or notification. */
static int classify_call(json_t *o, json_t *id, struct jsonrpc_msg *m, struct jsonrpc_refusal *why)
{
	json_t *method = json_object_get(o, "method"), *params = json_object_get(o, "params");
	json_t *answer = id && id_valid(id) ? id : NULL;
	if (id && !id_valid(id))
		return refuse(why, -32600, NULL,
			      "Invalid Request: an id is a string (of at most %d bytes) or an "
			      "integer",
			      JSONRPC_ID_MAX);
	if (json_object_get(o, "result") || json_object_get(o, "error"))
		return refuse(why, -32600, answer,
			      "Invalid Request: a request has no result or "
			      "error");
	if (!json_is_string(method) || json_string_length(method) == 0 ||
	    json_string_length(method) > JSONRPC_METHOD_MAX)
		return refuse(why, -32600, answer,
			      "Invalid Request: method is a string of 1 to %d bytes",
			      JSONRPC_METHOD_MAX);
	if (params && !json_is_object(params) && !json_is_array(params))
		return refuse(why, -32600, answer, "Invalid Request: params is an object");
	m->kind = id ? JSONRPC_REQUEST : JSONRPC_NOTIFICATION;
	m->id = id;
	m->method = json_string_value(method);
	m->params = params;
	return 0;
}

/* The parsed root into *m (which takes it on success). */
static int classify(json_t *root, struct jsonrpc_msg *m, struct jsonrpc_refusal *why)
{
	if (json_is_array(root))
		return refuse(why, -32600, NULL,
			      "Invalid Request: batches are not supported (MCP %s has none)",
			      "2025-11-25");
	if (!json_is_object(root))
		return refuse(why, -32600, NULL, "Invalid Request: a message is a JSON object");
	json_t *id = json_object_get(root, "id");
	json_t *answer = id && id_valid(id) ? id : NULL;
	json_t *ver = json_object_get(root, "jsonrpc");
	if (!json_is_string(ver) || !STREQ(json_string_value(ver), "2.0"))
		return refuse(why, -32600, answer, "Invalid Request: \"jsonrpc\" must be \"2.0\"");
	if (!members_known(root))
		return refuse(why, -32600, answer,
			      "Invalid Request: a member JSON-RPC 2.0 does not define");
	if (json_object_get(root, "method"))
		return classify_call(root, id, m, why);
	return classify_response(root, id, m, why);
}

int jsonrpc_parse(const char *s, size_t len, size_t max, struct jsonrpc_msg *ret,
		  struct jsonrpc_refusal *why)
{
	json_error_t jerr;
	struct jsonrpc_msg m = { 0 };
	if (len > max)
		return refuse(why, -32600, NULL, "Invalid Request: a message is at most %zu bytes",
			      max);
	json_t *root = json_loadb(s, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!root)
		return refuse(why, -32700, NULL, "Parse error: %s (at byte %d)", jerr.text,
			      jerr.position);
	int r = classify(root, &m, why);
	if (r < 0) {
		json_decref(root);
		return r;
	}
	m.root = root;
	*ret = m;
	return 0;
}

void jsonrpc_msg_free(struct jsonrpc_msg *m)
{
	json_decref(m->root);
	*m = (struct jsonrpc_msg){ 0 };
}

static char *dump(json_t *o)
{
	if (!o)
		return NULL;
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return s;
}

char *jsonrpc_result(json_t *id, json_t *result)
{
	if (!result)
		return NULL;
	return dump(json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result));
}

char *jsonrpc_error(json_t *id, int code, const char *message, json_t *data)
{
	json_t *e = json_pack("{s:i, s:s}", "code", code, "message", message);
	if (e && data)
		json_object_set_new(e, "data", data);
	else
		json_decref(data);
	if (!e)
		return NULL;
	return dump(json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id ? id : json_null(),
			      "error", e));
}
