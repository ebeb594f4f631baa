/* The MCP server's parts (src/mcp/): the context, the tools' table and the
 * helpers the tools share. Not for use outside src/mcp/. */
#ifndef CLAWBOX_MCP_INT_H
#define CLAWBOX_MCP_INT_H
#include "util/common.h"

#include "mcp/mcp.h"
#include "secrets/secrets.h"
#include "state/box.h"

#include <jansson.h>

enum mcp_state {
	MCP_STATE_NEW,      /* nothing but initialize, ping, server/discover */
	MCP_STATE_ANSWERED, /* initialize answered; waits for notifications/initialized */
	MCP_STATE_READY,
};

struct mcp_ctx {
	struct box box;
	char *session;
	char *version;
	char *client;
	bool allow_sync;
	bool session_made; /* the session was created (or found) once */
	size_t max_message, max_output;
	int64_t max_timeout_ms;
	int cancel_fd; /* -1: none (struct mcp_config) */
	enum mcp_state state;
	char client_name[65]; /* initialize's clientInfo.name, for the audit log */
};

/* What a tool call answers: structured (a JSON object matching the tool's
 * outputSchema) on success, or is_error with text saying why. */
struct mcp_out {
	json_t *structured;
	char *text; /* NULL: the serialized structured content */
	bool is_error;
	json_t *what;     /* for the audit log: what was asked (path, argv[0]), or NULL */
	char outcome[64]; /* for the audit log: how it ended ("": done, or error) */
};

/* Set o to a tool error (isError) with the formatted message; returns 0 (a
 * tool error is an answer, not a failure of the call). */
int mcp_fail(struct mcp_out *o, const char *fmt, ...) _printf_(2, 3);

/* A tool error for r (< 0) of a module with *err: error_format's line. */
struct error;
int mcp_fail_error(struct mcp_out *o, const char *what, const struct error *err, int r);

struct mcp_tool {
	const char *name, *title, *description;
	const char *input_schema, *output_schema; /* JSON texts */
	/* 0 with *o filled (maybe a tool error), or -ENOMEM. */
	int (*call)(struct mcp_ctx *c, json_t *args, struct mcp_out *o);
	bool sync_apply; /* offered only with allow_sync */
	bool read_only;  /* annotations.readOnlyHint */
};

/* The tools the context offers, in order; NULL past the last. */
const struct mcp_tool *mcp_tool_at(const struct mcp_ctx *c, size_t i);
const struct mcp_tool *mcp_tool_find(const struct mcp_ctx *c, const char *name);

/* The tools (src/mcp/tool_*.c). */
int mcp_tool_exec(struct mcp_ctx *c, json_t *args, struct mcp_out *o);
int mcp_tool_search(struct mcp_ctx *c, json_t *args, struct mcp_out *o);
int mcp_tool_read_file(struct mcp_ctx *c, json_t *args, struct mcp_out *o);
int mcp_tool_write_file(struct mcp_ctx *c, json_t *args, struct mcp_out *o);
int mcp_tool_list_dir(struct mcp_ctx *c, json_t *args, struct mcp_out *o);
int mcp_tool_sync_status(struct mcp_ctx *c, json_t *args, struct mcp_out *o);
int mcp_tool_sync_apply(struct mcp_ctx *c, json_t *args, struct mcp_out *o);

/* ---- arguments: each check fills why (a tool error's text) and returns
 * -EINVAL, or 0 ---------------------------------------------------------- */
struct mcp_why {
	char text[256];
};
/* Every member of args is one of names (NULL-terminated). */
int mcp_args_known(json_t *args, const char *const *names, struct mcp_why *why);
/* A string of at most max bytes (no NUL); absent: *ret NULL, or -EINVAL
 * when required. */
int mcp_arg_string(json_t *args, const char *name, bool required, size_t max, const char **ret,
		   struct mcp_why *why);
/* An integer in [min, max]; absent: def. */
int mcp_arg_int(json_t *args, const char *name, int64_t min, int64_t max, int64_t def, int64_t *ret,
		struct mcp_why *why);
/* A boolean; absent: def. */
int mcp_arg_bool(json_t *args, const char *name, bool def, bool *ret, struct mcp_why *why);
/* Where the box sees its workspace (src/box/rootfs.h's ROOTFS_WORKSPACE). */
#define MCP_WORKSPACE "/workspace"

/* A path of the workspace: relative to it (or beneath MCP_WORKSPACE, which
 * is cut), at most PATH_MAX - 1 bytes, no NUL; "" and "." name the
 * workspace. Absent: *ret NULL. */
int mcp_arg_path(json_t *args, const char *name, bool required, const char **ret,
		 struct mcp_why *why);

/* ---- text ------------------------------------------------------------- */
/* A JSON string of s[0..n) with every invalid UTF-8 byte and NUL as U+FFFD
 * (jansson holds valid UTF-8 only). NULL when memory is short. */
json_t *mcp_text(const char *s, size_t n);
/* The same after the box's known secrets (c's box) are redacted from it. */
json_t *mcp_text_redacted(const struct secrets *known, const char *s, size_t n);
/* The box's known set (every value it was ever given), loaded now: a run
 * or `clawbox secrets set` may have added values since the last call. */
int mcp_known(const struct mcp_ctx *c, struct secrets **ret, struct error *err);
/* Standard base64 (RFC 4648, padded). */
char *mcp_base64_encode(const void *p, size_t n);
/* -EINVAL for anything but padded standard base64 (no spaces). */
int mcp_base64_decode(const char *s, size_t n, char **ret, size_t *ret_len);

/* Create the context's session in the up box once (no network, no
 * secrets); 0 when there is none to make. */
int mcp_session_ready(struct mcp_ctx *c, struct error *err);

/* Append an mcp.call event for tool to the box's audit log (best effort):
 * who called (the transport, the client's name, the session), o->what and
 * how it ended. */
void mcp_audit_call(const struct mcp_ctx *c, const char *tool, const struct mcp_out *o);

#endif
