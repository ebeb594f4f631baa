/* The MCP server of clawbox (Model Context Protocol, revision 2025-11-25,
 * and the stateless server/discover of 2026-07-28): one JSON-RPC message in,
 * one reply out, for any transport (`clawbox mcp` on stdio, /mcp of
 * `clawbox serve` over streamable HTTP). Its tools act on one up box:
 * exec, read_file, write_file, list_dir, search, sync_status and, when the
 * config allows it, sync_apply. docs/MCP.md has the tools and the security
 * model.
 *
 * A context is one MCP session (its lifecycle: initialize, then
 * notifications/initialized, then requests); it is not thread-safe: a
 * transport serving many sessions gives each its own context. Modules
 * never print. */
#ifndef CLAWBOX_MCP_H
#define CLAWBOX_MCP_H
#include "util/common.h"

#include "state/box.h"

struct mcp_config {
	const char *box;     /* the box's name (loaded from the state dir) */
	const char *session; /* the ctl session execs run in (NULL: the box's own view);
				created (no network, no secrets) when it is missing */
	bool allow_sync;     /* offer sync_apply */
	/* Optional (0/NULL: the defaults below). */
	const struct box *box_data; /* the box, already loaded (box is then ignored) */
	const char *server_version; /* serverInfo.version ("unknown") */
	const char *client;         /* who is calling, for the audit log ("mcp") */
	size_t max_message;         /* MCP_MESSAGE_MAX */
	size_t max_output;          /* MCP_OUTPUT_MAX: of each of stdout, stderr, a read */
	int64_t max_timeout_ms;     /* MCP_TIMEOUT_MAX_MS: the longest exec a call may ask */
	/* Readable when the client cancelled the call in flight (its exec is
	 * killed and the call answers a tool error); NULL: never. */
	const int *cancel_fd;
};

#define MCP_PROTOCOL_VERSION   "2025-11-25"
#define MCP_STATELESS_VERSION  "2026-07-28"
#define MCP_MESSAGE_MAX        (8u << 20) /* one JSON-RPC message */
#define MCP_OUTPUT_MAX         (1u << 20) /* stdout, stderr, a file read */
#define MCP_WRITE_MAX          (4u << 20) /* a file written (decoded) */
#define MCP_TIMEOUT_DEFAULT_MS 30000
#define MCP_TIMEOUT_MAX_MS     (3600 * 1000)

/* JSON-RPC 2.0 and MCP error codes. */
#define MCP_ERR_PARSE               -32700
#define MCP_ERR_INVALID             -32600
#define MCP_ERR_METHOD              -32601
#define MCP_ERR_PARAMS              -32602
#define MCP_ERR_INTERNAL            -32603
#define MCP_ERR_UNSUPPORTED_VERSION -32022 /* 2026-07-28: UnsupportedProtocolVersion */

struct mcp_ctx;

/* A context for cfg (copied; the strings too). NULL with errno set when the
 * box cannot be loaded (ENOENT: no such box) or memory is short. */
struct mcp_ctx *mcp_ctx_new(const struct mcp_config *cfg);
void mcp_ctx_free(struct mcp_ctx *c);

/* Handle one JSON-RPC message (msg[0..len), not NUL-terminated; any bytes
 * at all). *ret_reply gets a malloc'ed JSON text (one line, no newline) to
 * send back, or NULL when there is nothing to send (a notification, a
 * response). Protocol errors are replies too (JSON-RPC errors); a tool that
 * fails answers a result with isError. 0, or -ENOMEM. */
int mcp_handle(struct mcp_ctx *c, const char *msg, size_t len, char **ret_reply);

#endif
