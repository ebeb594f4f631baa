/* The interface of src/mcp/mcp.h (branch mcp) that the /mcp transport
 * uses, declared here until that branch is merged: then include
 * "mcp/mcp.h" instead and delete this file and mcp_stub.c. The struct must
 * stay the same as mcp.h's. */
#ifndef CLAWBOX_API_MCP_IFACE_H
#define CLAWBOX_API_MCP_IFACE_H
#include "util/common.h"

#include "state/box.h"

struct mcp_config {
	const char *box;
	const char *session;
	bool allow_sync;
	const struct box *box_data;
	const char *server_version;
	const char *client;
	size_t max_message;
	size_t max_output;
	int64_t max_timeout_ms;
};

struct mcp_ctx;
struct mcp_ctx *mcp_ctx_new(const struct mcp_config *cfg);
void mcp_ctx_free(struct mcp_ctx *c);
int mcp_handle(struct mcp_ctx *c, const char *msg, size_t len, char **ret_reply);

#endif
