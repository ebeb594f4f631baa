/* The MCP tools on the workspace's files: read_file, write_file, list_dir
 * (src/mcp/mcp_int.h), through src/ctl/files.h beneath the up box's
 * workspace fd (ctl_workspace): what the box sees, its overlay; never a
 * symlink followed, never a path outside it. */
#include "mcp/mcp_int.h"

#include "ctl/ctl.h"
#include "ctl/files.h"
#include "util/error.h"
#include "util/utf8.h"

#define LIST_MAX 10000

/* The workspace fd of the up box, or a tool error (1). */
static int workspace(struct mcp_ctx *c, const char *tool, int *ret_fd, struct mcp_out *o)
{
	struct error err = { 0 };
	int r = ctl_workspace(&c->box, ret_fd, &err);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return mcp_fail_error(o, tool, &err, r) ?: 1;
	return 0;
}

/* Text when d holds valid UTF-8 (no NUL), else NULL. */
static bool is_text(const struct files_data *d)
{
	return !memchr(d->data, '\0', d->len) && utf8_valid(d->data);
}

static json_t *read_json(const struct mcp_ctx *c, const char *path, uint64_t offset,
			 const struct files_data *d)
{
	_cleanup_secrets_ struct secrets *known = NULL;
	(void)mcp_known(c, &known, NULL);
	bool text = is_text(d);
	_cleanup_free_ char *b64 = text ? NULL : mcp_base64_encode(d->data, d->len);
	if (!text && !b64)
		return NULL;
	return json_pack("{s:s, s:I, s:I, s:o, s:s, s:b}", "path", path, "size",
			 (json_int_t)d->size, "offset", (json_int_t)offset, "content",
			 text ? mcp_text_redacted(known, d->data, d->len) : json_string(b64),
			 "encoding", text ? "utf-8" : "base64", "truncated", !d->eof);
}

int mcp_tool_read_file(struct mcp_ctx *c, json_t *args, struct mcp_out *o)
{
	static const char *const names[] = { "path", "offset", "length", NULL };
	const char *path;
	int64_t offset, length;
	struct mcp_why why = { 0 };
	if (mcp_args_known(args, names, &why) < 0 ||
	    mcp_arg_path(args, "path", true, &path, &why) < 0 ||
	    mcp_arg_int(args, "offset", 0, INT64_MAX, 0, &offset, &why) < 0 ||
	    mcp_arg_int(args, "length", 1, (int64_t)c->max_output, (int64_t)c->max_output, &length,
			&why) < 0)
		return mcp_fail(o, "read_file: %s", why.text);
	_cleanup_close_ int root = -1;
	o->what = json_pack("{s:s}", "path", path);
	int r = workspace(c, "read_file", &root, o);
	if (r != 0)
		return r < 0 ? r : 0;
	struct files_data d = { 0 };
	struct error err = { 0 };
	r = files_read(root, path, (uint64_t)offset, (uint64_t)length, c->max_output, &d, &err);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return mcp_fail_error(o, "read_file", &err, r);
	o->structured = read_json(c, path, (uint64_t)offset, &d);
	files_data_free(&d);
	return o->structured ? 0 : -ENOMEM;
}

/* The content argument, decoded: *ret (a copy when decoded), or a tool
 * error text in why. */
static int write_content(json_t *args, char **ret_buf, const char **ret, size_t *ret_len,
			 struct mcp_why *why)
{
	const char *content, *enc;
	if (mcp_arg_string(args, "encoding", false, 16, &enc, why) < 0)
		return -EINVAL;
	bool b64 = enc && STREQ(enc, "base64");
	if (enc && !b64 && !STREQ(enc, "utf-8"))
		return snprintf(why->text, sizeof(why->text), "encoding is utf-8 or base64"),
		       -EINVAL;
	json_t *v = json_object_get(args, "content");
	if (!json_is_string(v))
		return snprintf(why->text, sizeof(why->text),
				"argument 'content' is required (a "
				"string)"),
		       -EINVAL;
	content = json_string_value(v);
	size_t n = json_string_length(v);
	if (n > (b64 ? MCP_WRITE_MAX / 3 * 4 + 4 : MCP_WRITE_MAX))
		return snprintf(why->text, sizeof(why->text), "content is over %u bytes",
				MCP_WRITE_MAX),
		       -EINVAL;
	if (!b64) {
		*ret = content;
		*ret_len = n;
		return 0;
	}
	int r = mcp_base64_decode(content, n, ret_buf, ret_len);
	if (r == -EINVAL)
		snprintf(why->text, sizeof(why->text), "content is not base64 (RFC 4648, padded)");
	*ret = *ret_buf;
	return r;
}

int mcp_tool_write_file(struct mcp_ctx *c, json_t *args, struct mcp_out *o)
{
	static const char *const names[] = { "path", "content",     "encoding",
					     "mode", "create_dirs", NULL };
	_cleanup_free_ char *decoded = NULL;
	const char *path = NULL, *data = NULL;
	size_t len = 0;
	int64_t mode = -1;
	bool mkdirs = false;
	struct mcp_why why = { 0 };
	int r = mcp_args_known(args, names, &why);
	if (r == 0 && (mcp_arg_path(args, "path", true, &path, &why) < 0 ||
		       mcp_arg_int(args, "mode", 0, 0777, -1, &mode, &why) < 0 ||
		       mcp_arg_bool(args, "create_dirs", false, &mkdirs, &why) < 0))
		r = -EINVAL;
	if (r == 0)
		r = write_content(args, &decoded, &data, &len, &why);
	if (r == -EINVAL)
		return mcp_fail(o, "write_file: %s", why.text);
	if (r < 0)
		return r;
	_cleanup_close_ int root = -1;
	o->what = json_pack("{s:s, s:I}", "path", path, "bytes", (json_int_t)len);
	if ((r = workspace(c, "write_file", &root, o)) != 0)
		return r < 0 ? r : 0;
	struct error err = { 0 };
	r = files_write(root, path, data, len, mkdirs ? FILES_MKDIRS : 0, (int)mode, &err);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return mcp_fail_error(o, "write_file", &err, r);
	o->structured = json_pack("{s:s, s:I}", "path", path, "bytes", (json_int_t)len);
	return o->structured ? 0 : -ENOMEM;
}

static json_t *list_json(const struct mcp_ctx *c, const char *path, const struct files_entry *v,
			 size_t n)
{
	_cleanup_secrets_ struct secrets *known = NULL;
	(void)mcp_known(c, &known, NULL);
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < n; i++) {
		json_t *e = json_pack("{s:o, s:s}", "name",
				      mcp_text_redacted(known, v[i].name, strlen(v[i].name)),
				      "type", files_type_name(v[i].mode));
		if (e && S_ISREG(v[i].mode))
			json_object_set_new(e, "size", json_integer((json_int_t)v[i].size));
		if (json_array_append_new(arr, e) < 0)
			return json_decref(arr), NULL;
	}
	return json_pack("{s:s, s:o}", "path", *path ? path : ".", "entries", arr);
}

int mcp_tool_list_dir(struct mcp_ctx *c, json_t *args, struct mcp_out *o)
{
	static const char *const names[] = { "path", NULL };
	const char *path;
	struct mcp_why why = { 0 };
	if (mcp_args_known(args, names, &why) < 0 ||
	    mcp_arg_path(args, "path", false, &path, &why) < 0)
		return mcp_fail(o, "list_dir: %s", why.text);
	if (!path)
		path = "";
	_cleanup_close_ int root = -1;
	o->what = json_pack("{s:s}", "path", path);
	int r = workspace(c, "list_dir", &root, o);
	if (r != 0)
		return r < 0 ? r : 0;
	struct files_entry *v = NULL;
	size_t n = 0;
	struct error err = { 0 };
	r = files_list(root, path, LIST_MAX, &v, &n, &err);
	if (r == -ENOMEM)
		return r;
	if (r == -E2BIG)
		return mcp_fail(o, "list_dir: '%s' holds more than %d entries: use search or exec",
				path, LIST_MAX);
	if (r < 0)
		return mcp_fail_error(o, "list_dir", &err, r);
	o->structured = list_json(c, path, v, n);
	files_entries_free(v, n);
	return o->structured ? 0 : -ENOMEM;
}
