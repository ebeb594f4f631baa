/* Weak stand-ins for src/mcp/ until the mcp branch is merged: the real
 * functions, when linked in, take their place. /mcp answers 501 meanwhile. */
#include "util/common.h"

#include "api/mcp_iface.h"

__attribute__((weak)) struct mcp_ctx *mcp_ctx_new(const struct mcp_config *cfg)
{
	errno = ENOSYS;
	return NULL;
}

__attribute__((weak)) void mcp_ctx_free(struct mcp_ctx *c) {}

__attribute__((weak)) int mcp_handle(struct mcp_ctx *c, const char *msg, size_t len,
				     char **ret_reply)
{
	return -ENOSYS;
}
