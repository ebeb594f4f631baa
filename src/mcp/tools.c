/* The MCP server's tools: their table (names, schemas) and the helpers they
 * share (arguments, text, base64, the session, the audit log). */
#include "mcp/mcp_int.h"

#include "ctl/ctl.h"
#include "state/audit.h"
#include "util/error.h"
#include "util/utf8.h"

#include <stdarg.h>

/* The tools' JSON Schemas (2020-12), as the client sees them in tools/list:
 * S_* build one property, S_OBJ an input schema (no other property
 * allowed), S_OUT an output schema. */
/* clang-format off */
#define S_STR(d)  "{\"type\":\"string\",\"description\":\"" d "\"}"
#define S_INT(d)  "{\"type\":\"integer\",\"description\":\"" d "\"}"
#define S_BOOL(d) "{\"type\":\"boolean\",\"description\":\"" d "\"}"
#define S_OBJ(props, req) \
	"{\"type\":\"object\",\"properties\":{" props "},\"required\":[" req "]," \
	"\"additionalProperties\":false}"
#define S_OUT(props, req) \
	"{\"type\":\"object\",\"properties\":{" props "},\"required\":[" req "]}"
#define T_STR "{\"type\":\"string\"}"
#define T_INT "{\"type\":\"integer\"}"
#define T_BOOL "{\"type\":\"boolean\"}"

static const char exec_in[] = S_OBJ(
	"\"argv\":{\"type\":\"array\",\"items\":" T_STR ",\"minItems\":1,\"maxItems\":1024,"
		"\"description\":\"the command and its arguments, run as they are (argv[0] is "
		"looked up in the box's PATH); give argv or command\"},"
	"\"command\":" S_STR("a shell command line, run with /bin/sh -c in the box") ","
	"\"stdin\":" S_STR("text for the command's standard input (default: none)") ","
	"\"cwd\":" S_STR("working directory: relative to the workspace, or absolute in the box "
		"(default: the workspace)") ","
	"\"env\":{\"type\":\"object\",\"additionalProperties\":" T_STR ","
		"\"description\":\"environment variables set for the command\"},"
	"\"timeout_ms\":{\"type\":\"integer\",\"minimum\":1,\"description\":\"kill the command "
		"after this many milliseconds (default 30000; a client gives up on a call after its own timeout, 60 s by default for many)\"}",
	"");
static const char exec_out[] = S_OUT(
	"\"exit_code\":" S_INT("the exit status (128+N: killed by signal N; 125-127: could not "
		"start)") ","
	"\"signal\":" S_INT("the signal that ended the command, when one did") ","
	"\"stdout\":" T_STR ",\"stderr\":" T_STR ","
	"\"truncated\":" S_BOOL("output past the cap was dropped") ","
	"\"timed_out\":" S_BOOL("killed at timeout_ms") ","
	"\"duration_ms\":" T_INT,
	"\"exit_code\",\"stdout\",\"stderr\",\"truncated\",\"timed_out\",\"duration_ms\"");

static const char read_in[] = S_OBJ(
	"\"path\":" S_STR("the file, relative to the workspace") ","
	"\"offset\":{\"type\":\"integer\",\"minimum\":0,\"description\":\"first byte to read\"},"
	"\"length\":{\"type\":\"integer\",\"minimum\":1,\"description\":\"most bytes to read "
		"(default and cap: 1 MiB)\"}",
	"\"path\"");
static const char read_out[] = S_OUT(
	"\"path\":" T_STR ",\"size\":" S_INT("the file's size") ",\"offset\":" T_INT ","
	"\"content\":" T_STR ","
	"\"encoding\":{\"type\":\"string\",\"enum\":[\"utf-8\",\"base64\"]},"
	"\"truncated\":" S_BOOL("more of the file follows"),
	"\"path\",\"size\",\"offset\",\"content\",\"encoding\",\"truncated\"");

static const char write_in[] = S_OBJ(
	"\"path\":" S_STR("the file, relative to the workspace") ","
	"\"content\":" S_STR("the file's new content") ","
	"\"encoding\":{\"type\":\"string\",\"enum\":[\"utf-8\",\"base64\"],"
		"\"description\":\"how content is given (default utf-8)\"},"
	"\"mode\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":511,\"description\":"
		"\"permission bits (default: those of the file replaced, 420 (0644) for a new "
		"one)\"},"
	"\"create_dirs\":" S_BOOL("create the missing parent directories"),
	"\"path\",\"content\"");
static const char write_out[] = S_OUT("\"path\":" T_STR ",\"bytes\":" T_INT,
				      "\"path\",\"bytes\"");

static const char list_in[] = S_OBJ(
	"\"path\":" S_STR("the directory, relative to the workspace (default: the workspace)"),
	"");
static const char list_out[] = S_OUT(
	"\"path\":" T_STR ","
	"\"entries\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
		"\"name\":" T_STR ","
		"\"type\":{\"type\":\"string\",\"enum\":[\"file\",\"dir\",\"symlink\",\"fifo\","
			"\"socket\",\"chardev\",\"blockdev\"]},"
		"\"size\":" T_INT "},\"required\":[\"name\",\"type\"]}}",
	"\"path\",\"entries\"");

static const char search_in[] = S_OBJ(
	"\"pattern\":" S_STR("a regular expression (POSIX extended), or a fixed string with "
		"fixed") ","
	"\"path\":" S_STR("the file or directory to search, relative to the workspace (default: "
		"the workspace)") ","
	"\"fixed\":" S_BOOL("pattern is a fixed string") ","
	"\"ignore_case\":" S_BOOL("match without regard to case") ","
	"\"glob\":" S_STR("search only files whose name matches this glob (e.g. *.c)") ","
	"\"max_results\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000,"
		"\"description\":\"most matching lines (default 200)\"}",
	"\"pattern\"");
static const char search_out[] = S_OUT(
	"\"matches\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
		"\"path\":" T_STR ",\"line\":" T_INT ",\"text\":" T_STR "},"
		"\"required\":[\"path\",\"line\",\"text\"]}},"
	"\"truncated\":" S_BOOL("more lines matched than are shown"),
	"\"matches\",\"truncated\"");

static const char sync_in[] = S_OBJ("", "");
static const char sync_out[] = S_OUT(
	"\"box\":" T_STR ",\"running\":" T_BOOL ","
	"\"interrupted\":" S_BOOL("an apply was interrupted: sync_apply finishes it") ","
	"\"summary\":{\"type\":\"object\"},"
	"\"changes\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}},"
	"\"git\":{\"type\":\"object\"}",
	"\"box\",\"running\",\"interrupted\",\"summary\",\"changes\"");
/* clang-format on */

static const struct mcp_tool tools[] = {
	{ "exec", "Run a command in the box",
	  "Run a command in the box (confined as clawbox run confines it: its files are the "
	  "workspace's overlay, its network the box's) and return its exit status and output "
	  "(each of stdout and stderr capped at 1 MiB). Give argv (run as is) or command (run "
	  "with /bin/sh -c).",
	  exec_in, exec_out, mcp_tool_exec, false, false },
	{ "read_file", "Read a file of the workspace",
	  "Read a file of the box's workspace (what the box sees, its pending changes "
	  "included). Text comes as utf-8, anything else as base64. Known secret values are "
	  "shown as [REDACTED:NAME].",
	  read_in, read_out, mcp_tool_read_file, false, true },
	{ "write_file", "Write a file of the workspace",
	  "Create or replace a file in the box's workspace. The project on the host does not "
	  "change: the write is pending until it passes the sync gate.",
	  write_in, write_out, mcp_tool_write_file, false, false },
	{ "list_dir", "List a directory of the workspace",
	  "List a directory of the box's workspace: each entry's name, type and size.", list_in,
	  list_out, mcp_tool_list_dir, false, true },
	{ "search", "Search the workspace",
	  "Search the files of the workspace for a regular expression or a fixed string "
	  "(grep -rn in the box; binary files and .git are skipped). Returns the matching "
	  "lines with their file and line number.",
	  search_in, search_out, mcp_tool_search, false, true },
	{ "sync_status", "Show the changes pending sync",
	  "What the box changed that is not in the project yet, and the sync gate's verdict on "
	  "each change (pass, needs approval, blocked, conflict) with its findings. Changes "
	  "nothing.",
	  sync_in, sync_out, mcp_tool_sync_status, false, true },
	{ "sync_apply", "Apply the changes that pass the gate",
	  "Bring to the project every pending change that passes every check of the sync gate "
	  "(as 'clawbox sync --auto' without approvals); the others stay pending for the user.",
	  sync_in, sync_out, mcp_tool_sync_apply, true, false },
};

const struct mcp_tool *mcp_tool_at(const struct mcp_ctx *c, size_t i)
{
	for (size_t k = 0; k < ELEMENTSOF(tools); k++) {
		if (tools[k].sync_apply && !c->allow_sync)
			continue;
		if (i-- == 0)
			return &tools[k];
	}
	return NULL;
}

const struct mcp_tool *mcp_tool_find(const struct mcp_ctx *c, const char *name)
{
	const struct mcp_tool *t;
	for (size_t i = 0; (t = mcp_tool_at(c, i)); i++)
		if (STREQ(t->name, name))
			return t;
	return NULL;
}

/* ---- tool errors -------------------------------------------------------- */

int mcp_fail(struct mcp_out *o, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	json_decref(o->structured);
	free(o->text);
	o->structured = NULL;
	o->text = s;
	o->is_error = true;
	return s ? 0 : -ENOMEM;
}

int mcp_fail_error(struct mcp_out *o, const char *what, const struct error *err, int r)
{
	char buf[ERROR_FORMAT_MAX];
	struct error bare = { .code = r };
	if (r == -ENOTCONN)
		return mcp_fail(o, "%s: the box is not up (start it with 'clawbox up')", what);
	return mcp_fail(o, "%s: %s", what,
			error_format(error_isset(err) ? err : &bare, buf, sizeof(buf)));
}

/* ---- arguments ---------------------------------------------------------- */

static int bad(struct mcp_why *why, const char *fmt, ...) _printf_(2, 3);
static int bad(struct mcp_why *why, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why->text, sizeof(why->text), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int mcp_args_known(json_t *args, const char *const *names, struct mcp_why *why)
{
	const char *key;
	json_t *v;
	json_object_foreach(args, key, v)
	{
		bool ok = false;
		for (size_t i = 0; names[i] && !ok; i++)
			ok = STREQ(key, names[i]);
		if (!ok)
			return bad(why, "unknown argument '%.64s'", key);
	}
	return 0;
}

int mcp_arg_string(json_t *args, const char *name, bool required, size_t max, const char **ret,
		   struct mcp_why *why)
{
	json_t *v = json_object_get(args, name);
	if (!v) {
		*ret = NULL;
		return required ? bad(why, "argument '%s' is required", name) : 0;
	}
	if (!json_is_string(v))
		return bad(why, "argument '%s' must be a string", name);
	size_t n = json_string_length(v);
	if (n > max)
		return bad(why, "argument '%s' is longer than %zu bytes", name, max);
	if (memchr(json_string_value(v), '\0', n))
		return bad(why, "argument '%s' holds a NUL character", name);
	*ret = json_string_value(v);
	return 0;
}

int mcp_arg_int(json_t *args, const char *name, int64_t min, int64_t max, int64_t def, int64_t *ret,
		struct mcp_why *why)
{
	json_t *v = json_object_get(args, name);
	int64_t x;
	if (!v) {
		*ret = def;
		return 0;
	}
	/* 5.0 is an integer to JSON Schema; jansson keeps it a real. */
	double d = json_is_real(v) ? json_real_value(v) : 0;
	if (json_is_real(v) && d >= -9e15 && d <= 9e15 && d == (double)(int64_t)d)
		x = (int64_t)d;
	else if (json_is_integer(v))
		x = json_integer_value(v);
	else
		return bad(why, "argument '%s' must be an integer", name);
	if (x < min || x > max)
		return bad(why, "argument '%s' must be between %lld and %lld", name, (long long)min,
			   (long long)max);
	*ret = x;
	return 0;
}

int mcp_arg_bool(json_t *args, const char *name, bool def, bool *ret, struct mcp_why *why)
{
	json_t *v = json_object_get(args, name);
	if (!v) {
		*ret = def;
		return 0;
	}
	if (!json_is_boolean(v))
		return bad(why, "argument '%s' must be true or false", name);
	*ret = json_is_true(v);
	return 0;
}

int mcp_arg_path(json_t *args, const char *name, bool required, const char **ret,
		 struct mcp_why *why)
{
	const char *p = NULL;
	int r = mcp_arg_string(args, name, required, PATH_MAX - 1, &p, why);
	if (r < 0)
		return r;
	/* The workspace as the box names it is the workspace. */
	size_t wl = strlen(MCP_WORKSPACE);
	if (p && strncmp(p, MCP_WORKSPACE, wl) == 0 && (p[wl] == '/' || !p[wl]))
		for (p += wl; *p == '/'; p++)
			;
	if (p && p[0] == '/')
		return bad(why, "argument '%s' must be relative to the workspace (or beneath %s)",
			   name, MCP_WORKSPACE);
	*ret = p;
	return 0;
}

/* ---- the session, the audit log ----------------------------------------- */

int mcp_session_ready(struct mcp_ctx *c, struct error *err)
{
	if (!c->session || c->session_made)
		return 0;
	/* No network, no secrets, no idle end: what the session may do is
	 * what the box may do without them. */
	struct ctl_session_spec s = { .name = c->session };
	int r = ctl_session_create(&c->box, &s, err);
	if (r < 0 && r != -EEXIST)
		return r;
	error_clear(err);
	c->session_made = true;
	return 0;
}

void mcp_audit_call(const struct mcp_ctx *c, const char *tool, const struct mcp_out *o)
{
	struct audit *a = NULL;
	const char *outcome = o->outcome[0] ? o->outcome : o->is_error ? "error" : "done";
	json_t *f =
	    json_pack("{s:s, s:s, s:s, s:s, s:s}", "tool", tool, "via", c->client, "client",
		      c->client_name, "session", c->session ? c->session : "", "outcome", outcome);
	if (f && o->what)
		json_object_set(f, "args", o->what);
	if (f && o->is_error && o->text)
		json_object_set_new(f, "error", mcp_text(o->text, strnlen(o->text, 500)));
	if (!f || audit_open(c->box.dir, c->box.name, &a) < 0) {
		json_decref(f);
		return;
	}
	(void)audit_append(a, "mcp.call", f);
	audit_close(a);
}
