/* A strict JSON-RPC 2.0 reader (MCP's base protocol): one message, an
 * object, with "jsonrpc": "2.0"; ids are strings or integers (never null,
 * never fractions); no batches (MCP 2025-11-25 has none); no member beyond
 * the protocol's; no duplicate keys; valid UTF-8 and no NUL. Module of the
 * MCP server (src/mcp/mcp.h); never prints. */
#ifndef CLAWBOX_JSONRPC_H
#define CLAWBOX_JSONRPC_H
#include "util/common.h"

#include <jansson.h>

#define JSONRPC_METHOD_MAX 128 /* bytes of a method name */
#define JSONRPC_ID_MAX     256 /* bytes of a string id */

enum jsonrpc_kind {
	JSONRPC_REQUEST,      /* method and id: answered */
	JSONRPC_NOTIFICATION, /* method, no id: never answered */
	JSONRPC_RESPONSE,     /* result or error with an id: never answered */
};

struct jsonrpc_msg {
	enum jsonrpc_kind kind;
	json_t *root;       /* owned: the whole message */
	json_t *id;         /* borrowed from root; NULL for a notification */
	const char *method; /* borrowed from root; NULL for a response */
	json_t *params;     /* borrowed from root; NULL when absent */
};

/* Why a message was refused: a JSON-RPC error code, its message, and the
 * id to answer with (a new reference, or NULL: answer with null). */
struct jsonrpc_refusal {
	int code;
	char message[160];
	json_t *id;
};

/* Read s[0..len). 0 with *ret (free with jsonrpc_msg_free), or -EBADMSG
 * with *why filled (its id released by the caller with json_decref). A
 * message over max bytes is refused unread (-32600). */
int jsonrpc_parse(const char *s, size_t len, size_t max, struct jsonrpc_msg *ret,
		  struct jsonrpc_refusal *why);
void jsonrpc_msg_free(struct jsonrpc_msg *m);

/* A response text (malloc'ed, compact, one line): the result (consumed) for
 * id, or an error for id (NULL: null) with data (consumed; may be NULL).
 * NULL when memory is short. */
char *jsonrpc_result(json_t *id, json_t *result);
char *jsonrpc_error(json_t *id, int code, const char *message, json_t *data);

#endif
