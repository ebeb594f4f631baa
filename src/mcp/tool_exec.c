/* The MCP tools that run in the box: exec and search (src/mcp/mcp_int.h).
 * Both go through ctl_exec_buffered: the command runs in the up box,
 * confined as `clawbox run` confines it, its output capped. */
#include "mcp/mcp_int.h"

#include "ctl/ctl.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/strv.h"

#include <sys/wait.h>

#define ARGV_MAX      1024
#define ARG_BYTES_MAX (1u << 20) /* all of argv, or a command line */
#define ENV_MAX       128
#define ENV_NAME_MAX  256
#define ENV_VALUE_MAX (128u << 10)

/* args' argv (an array of strings) or command (run with /bin/sh -c) into
 * *v. */
static int exec_argv(json_t *args, struct strv *v, struct mcp_why *why)
{
	json_t *a = json_object_get(args, "argv"), *s;
	const char *cmd;
	size_t i, total = 0;
	if (mcp_arg_string(args, "command", false, ARG_BYTES_MAX, &cmd, why) < 0)
		return -EINVAL;
	if (!a == !cmd)
		return snprintf(why->text, sizeof(why->text), "give argv or command (one of them)"),
		       -EINVAL;
	if (cmd)
		return strv_push(v, "/bin/sh") < 0 || strv_push(v, "-c") < 0 ||
			       strv_push(v, cmd) < 0
			   ? -ENOMEM
			   : 0;
	if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > ARGV_MAX)
		return snprintf(why->text, sizeof(why->text),
				"argv must be an array of 1 to %d strings", ARGV_MAX),
		       -EINVAL;
	json_array_foreach(a, i, s)
	{
		if (!json_is_string(s) || memchr(json_string_value(s), 0, json_string_length(s)) ||
		    (total += json_string_length(s)) > ARG_BYTES_MAX)
			return snprintf(why->text, sizeof(why->text),
					"argv must hold strings (no NUL, %u bytes in all)",
					ARG_BYTES_MAX),
			       -EINVAL;
		if (strv_push(v, json_string_value(s)) < 0)
			return -ENOMEM;
	}
	return 0;
}

static bool env_name_valid(const char *s)
{
	if (!*s || strlen(s) > ENV_NAME_MAX || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9')))
			return false;
	return true;
}

/* args' env (an object of strings) into *v as NAME=VALUE. */
static int exec_env(json_t *args, struct strv *v, struct mcp_why *why)
{
	json_t *e = json_object_get(args, "env"), *val;
	const char *name;
	if (!e)
		return 0;
	if (!json_is_object(e) || json_object_size(e) > ENV_MAX)
		return snprintf(why->text, sizeof(why->text),
				"env must be an object of at most %d strings", ENV_MAX),
		       -EINVAL;
	json_object_foreach(e, name, val)
	{
		if (!env_name_valid(name) || !json_is_string(val) ||
		    json_string_length(val) > ENV_VALUE_MAX ||
		    memchr(json_string_value(val), 0, json_string_length(val)))
			return snprintf(
				   why->text, sizeof(why->text),
				   "env: '%.64s' must be a variable name ([A-Za-z_][A-Za-z0-9_]*) "
				   "with a string value",
				   name),
			       -EINVAL;
		if (strv_pushf(v, "%s=%s", name, json_string_value(val)) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* A working directory the box knows: rel beneath the workspace. */
static int box_path(const char *rel, char *out, size_t n)
{
	int k = snprintf(out, n, "%s%s%s", MCP_WORKSPACE, rel && *rel ? "/" : "", rel ? rel : "");
	return k < 0 || (size_t)k >= n ? -ENAMETOOLONG : 0;
}

/* Run spec with the context's session and caps; 0 with *ret, or a tool
 * error in *o (then 1), or -ENOMEM. */
static int run(struct mcp_ctx *c, struct ctl_exec_spec *spec, const char *in, int64_t timeout_ms,
	       struct ctl_output *ret, struct mcp_out *o)
{
	struct error err = { 0 };
	spec->session = c->session;
	spec->fds[0] = spec->fds[1] = spec->fds[2] = -1;
	int r = mcp_session_ready(c, &err);
	if (r == 0)
		r = ctl_exec_buffered_cancel(&c->box, spec, in, in ? strlen(in) : 0, c->max_output,
					     timeout_ms, c->cancel_fd, ret, &err);
	if (r == -ENOMEM)
		return r;
	if (r == -ECANCELED) {
		snprintf(o->outcome, sizeof(o->outcome), "cancelled");
		return mcp_fail(o, "the call was cancelled: the command was killed") ?: 1;
	}
	if (r < 0)
		return mcp_fail_error(o, "cannot run the command", &err, r) ?: 1;
	if (ret->exit_code >= 125 && ret->exit_code <= 127 && error_isset(&err)) {
		ctl_output_free(ret);
		return mcp_fail_error(o, "cannot run the command", &err, err.code) ?: 1;
	}
	return 0;
}

static json_t *output_json(const struct secrets *known, const struct ctl_output *out)
{
	json_t *o =
	    json_pack("{s:i, s:o, s:o, s:b, s:b, s:I}", "exit_code", out->exit_code, "stdout",
		      mcp_text_redacted(known, out->out, out->out_len), "stderr",
		      mcp_text_redacted(known, out->err, out->err_len), "truncated", out->truncated,
		      "timed_out", out->timed_out, "duration_ms", (json_int_t)out->duration_ms);
	if (o && WIFSIGNALED(out->wstatus))
		json_object_set_new(o, "signal", json_integer(WTERMSIG(out->wstatus)));
	return o;
}

/* What the audit log keeps of a command: its line (argv joined with
 * spaces), cut to AUDIT_CMD_MAX bytes. */
#define AUDIT_CMD_MAX 1000
static json_t *audit_what(const struct strv *argv)
{
	_cleanup_buf_ struct buf b = BUF_INIT(AUDIT_CMD_MAX);
	for (size_t i = 0; i < argv->n; i++)
		if ((i && buf_puts(&b, " ") < 0) || buf_puts(&b, argv->v[i]) < 0)
			break;
	return json_pack("{s:o}", "command", mcp_text(b.data ? b.data : "", b.len));
}

/* How a command ended, for the audit log. */
static void outcome(const struct ctl_output *out, char *buf, size_t n)
{
	if (out->timed_out)
		snprintf(buf, n, "timed out");
	else if (WIFSIGNALED(out->wstatus))
		snprintf(buf, n, "signal %d", WTERMSIG(out->wstatus));
	else
		snprintf(buf, n, "exit %d", out->exit_code);
}

/* The exec arguments into spec's parts; 0, -EINVAL (why filled) or
 * -ENOMEM. */
static int exec_args(struct mcp_ctx *c, json_t *args, struct strv *argv, struct strv *env,
		     char *cwd, const char **in, int64_t *timeout, struct mcp_why *why)
{
	static const char *const names[] = { "argv", "command",    "stdin", "cwd",
					     "env",  "timeout_ms", NULL };
	const char *rel;
	int r;
	if ((r = mcp_args_known(args, names, why)) < 0 || (r = exec_argv(args, argv, why)) < 0 ||
	    (r = exec_env(args, env, why)) < 0)
		return r;
	if (mcp_arg_string(args, "stdin", false, MCP_WRITE_MAX, in, why) < 0 ||
	    mcp_arg_string(args, "cwd", false, PATH_MAX - 1, &rel, why) < 0 ||
	    mcp_arg_int(args, "timeout_ms", 1, c->max_timeout_ms, MCP_TIMEOUT_DEFAULT_MS, timeout,
			why) < 0)
		return -EINVAL;
	if (rel && rel[0] == '/')
		snprintf(cwd, PATH_MAX, "%s", rel);
	else if (box_path(rel, cwd, PATH_MAX) < 0)
		return snprintf(why->text, sizeof(why->text), "cwd is too long"), -EINVAL;
	return 0;
}

int mcp_tool_exec(struct mcp_ctx *c, json_t *args, struct mcp_out *o)
{
	_cleanup_(strv_free) struct strv argv = { 0 }, env = { 0 };
	char cwd[PATH_MAX];
	const char *in = NULL;
	int64_t timeout;
	struct mcp_why why = { 0 };
	int r = exec_args(c, args, &argv, &env, cwd, &in, &timeout, &why);
	if (r == -EINVAL)
		return mcp_fail(o, "exec: %s", why.text);
	if (r < 0)
		return r;
	struct ctl_exec_spec spec = { .argv = argv.v, .env = env.n ? env.v : NULL, .cwd = cwd };
	struct ctl_output out = { 0 };
	o->what = audit_what(&argv);
	r = run(c, &spec, in, timeout, &out, o);
	if (r != 0)
		return r < 0 ? r : 0;
	_cleanup_secrets_ struct secrets *known = NULL;
	(void)mcp_known(c, &known, NULL); /* unreadable: the audit log refuses it too */
	o->structured = output_json(known, &out);
	outcome(&out, o->outcome, sizeof(o->outcome));
	ctl_output_free(&out);
	return o->structured ? 0 : -ENOMEM;
}

/* ---- search ------------------------------------------------------------- */

#define SEARCH_PATTERN_MAX 4096
#define SEARCH_LINE_MAX    1000 /* bytes of a matching line shown */
#define SEARCH_TIMEOUT_MS  30000

/* One match of grep -rnZ ("FILE\0LINE:TEXT\n") at s[0..n) into arr;
 * the bytes used, 0 at a partial line. */
static size_t search_line(const char *s, size_t n, const struct secrets *known, json_t *arr)
{
	const char *nul = memchr(s, '\0', n), *nl;
	if (!nul || !(nl = memchr(nul, '\n', n - (size_t)(nul - s))))
		return 0;
	char *colon;
	unsigned long line = strtoul(nul + 1, &colon, 10);
	if (*colon != ':' || colon > nl)
		return (size_t)(nl - s) + 1;
	const char *path = s, *text = colon + 1;
	if (strncmp(path, "./", 2) == 0)
		path += 2;
	size_t tl = (size_t)(nl - text);
	json_array_append_new(
	    arr,
	    json_pack("{s:o, s:I, s:o}", "path", mcp_text_redacted(known, path, strlen(path)),
		      "line", (json_int_t)line, "text",
		      mcp_text_redacted(known, text, tl > SEARCH_LINE_MAX ? SEARCH_LINE_MAX : tl)));
	return (size_t)(nl - s) + 1;
}

static json_t *search_json(const struct mcp_ctx *c, const struct ctl_output *out, int64_t max,
			   bool *ret_truncated)
{
	_cleanup_secrets_ struct secrets *known = NULL;
	json_t *arr = json_array();
	size_t at = 0, k;
	(void)mcp_known(c, &known, NULL);
	while (arr && at < out->out_len && (int64_t)json_array_size(arr) < max &&
	       (k = search_line(out->out + at, out->out_len - at, known, arr)) > 0)
		at += k;
	*ret_truncated = out->truncated || at < out->out_len;
	return arr;
}

/* The grep command line of the search arguments. */
static int search_argv(json_t *args, struct strv *v, int64_t *ret_max, struct mcp_why *why)
{
	static const char *const names[] = { "pattern", "path",        "fixed", "ignore_case",
					     "glob",    "max_results", NULL };
	const char *pat, *path, *glob;
	bool fixed, icase;
	if (mcp_args_known(args, names, why) < 0 ||
	    mcp_arg_string(args, "pattern", true, SEARCH_PATTERN_MAX, &pat, why) < 0 ||
	    mcp_arg_path(args, "path", false, &path, why) < 0 ||
	    mcp_arg_bool(args, "fixed", false, &fixed, why) < 0 ||
	    mcp_arg_bool(args, "ignore_case", false, &icase, why) < 0 ||
	    mcp_arg_string(args, "glob", false, 256, &glob, why) < 0 ||
	    mcp_arg_int(args, "max_results", 1, 1000, 200, ret_max, why) < 0)
		return -EINVAL;
	/* -I: no binary files; -Z: the name ends with NUL (any name parses);
	 * every argument of the caller after an option that takes it. */
	if (strv_push(v, "grep") < 0 || strv_push(v, "-rnIHZ") < 0 ||
	    strv_push(v, "--color=never") < 0 || strv_push(v, "--exclude-dir=.git") < 0 ||
	    strv_push(v, fixed ? "-F" : "-E") < 0 || (icase && strv_push(v, "-i") < 0) ||
	    (glob && strv_pushf(v, "--include=%s", glob) < 0) ||
	    strv_pushf(v, "--max-count=%lld", (long long)*ret_max) < 0 || strv_push(v, "-e") < 0 ||
	    strv_push(v, pat) < 0 || strv_push(v, "--") < 0 ||
	    strv_push(v, path && *path ? path : ".") < 0)
		return -ENOMEM;
	return 0;
}

int mcp_tool_search(struct mcp_ctx *c, json_t *args, struct mcp_out *o)
{
	_cleanup_(strv_free) struct strv argv = { 0 };
	static char *const env[] = { "LC_ALL=C", NULL };
	char cwd[PATH_MAX];
	int64_t max;
	bool truncated;
	struct mcp_why why = { 0 };
	int r = search_argv(args, &argv, &max, &why);
	if (r == -EINVAL)
		return mcp_fail(o, "search: %s", why.text);
	if (r < 0)
		return r;
	box_path(NULL, cwd, sizeof(cwd));
	struct ctl_exec_spec spec = { .argv = argv.v, .env = env, .cwd = cwd };
	struct ctl_output out = { 0 };
	o->what = json_pack("{s:O}", "pattern", json_object_get(args, "pattern"));
	if ((r = run(c, &spec, NULL, SEARCH_TIMEOUT_MS, &out, o)) != 0)
		return r < 0 ? r : 0;
	/* grep: 0 found, 1 nothing found, 2 an error (and maybe matches). */
	if (out.exit_code > 1 && out.out_len == 0) {
		_cleanup_secrets_ struct secrets *known = NULL;
		(void)mcp_known(c, &known, NULL);
		json_t *msg =
		    mcp_text_redacted(known, out.err, out.err_len > 500 ? 500 : out.err_len);
		r = mcp_fail(o, "search: %s",
			     out.timed_out ? "timed out"
			     : msg         ? json_string_value(msg)
					   : "grep failed");
		json_decref(msg);
		ctl_output_free(&out);
		return r;
	}
	json_t *m = search_json(c, &out, max, &truncated);
	o->structured =
	    json_pack("{s:o, s:b}", "matches", m, "truncated", truncated || out.timed_out);
	ctl_output_free(&out);
	return o->structured ? 0 : -ENOMEM;
}
