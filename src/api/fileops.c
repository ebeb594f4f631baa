/* The file endpoints: /v1/boxes/B/files/PATH and agent-sandbox's
 * /v1/files/PATH (the default box). GET reads a file (raw bytes) or lists
 * a directory (JSON), ?stat=true describes, PUT writes atomically (the body
 * streamed into a temporary file), DELETE removes. Every path goes through
 * src/ctl/files.h beneath the up box's workspace (ctl_workspace). */
#include "util/common.h"

#include <time.h>

#include "api/api_int.h"
#include "ctl/ctl.h"
#include "ctl/files.h"

#define LIST_MAX 10000

/* The file path of rq: its last parameter. */
static const char *req_path(struct api_req *rq)
{
	return rq->params[rq->nparams - 1];
}

/* The box of rq and its workspace: 0 with *ret_b, *ret_ws, or rs filled. */
static int open_ws(struct api_req *rq, struct api_resp *rs, struct box *ret_b, int *ret_ws)
{
	struct error err = { 0 };
	if (api_req_box(rq, rs, ret_b) < 0)
		return -EINVAL;
	int r = ctl_workspace(ret_b, ret_ws, &err);
	return r < 0 ? api_ctl_failed(rs, ret_b, r, &err) : 0;
}

static void audit_file(struct api_req *rq, const struct box *b, const char *op, int r,
		       uint64_t size)
{
	const char *p = req_path(rq);
	api_audit(rq, b, "api-file",
		  json_pack("{s:s, s:o, s:i, s:I}", "op", op, "path", api_text(p, strlen(p)),
			    "result", r, "size", (json_int_t)size));
}

static const char *type_name(mode_t m)
{
	return S_ISDIR(m) ? "directory" : files_type_name(m);
}

static json_t *entry_json(const char *name, const struct files_entry *e)
{
	char mode[8], when[40];
	struct tm tm;
	time_t t = (time_t)(e->mtime_ns / 1000000000);
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(mode, sizeof(mode), "%04o", (unsigned)(e->mode & 07777));
	return json_pack("{s:o, s:s, s:I, s:s, s:s, s:I}", "name", api_text(name, strlen(name)),
			 "type", type_name(e->mode), "size", (json_int_t)e->size, "mode", mode,
			 "modified_at", when, "mtime_ns", (json_int_t)e->mtime_ns);
}

static int list_dir(struct api_req *rq, struct api_resp *rs, int ws)
{
	struct files_entry *v = NULL;
	size_t n = 0;
	struct error err = { 0 };
	const char *path = req_path(rq);
	int r = files_list(ws, path, LIST_MAX, &v, &n, &err);
	if (r < 0)
		return api_fail(rs, r, &err);
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, entry_json(v[i].name, &v[i]));
	files_entries_free(v, n);
	return api_json(
	    rs, 200, json_pack("{s:o, s:o}", "path", api_text(path, strlen(path)), "entries", arr));
}

/* The bytes of a regular file, from ?offset, at most ?limit. */
static int read_file(struct api_req *rq, struct api_resp *rs, int ws)
{
	struct error err = { 0 };
	struct stat st;
	uint64_t off, limit;
	int fd = -1;
	if (api_query_u64(rq, rs, "offset", 0, &off) < 0 ||
	    api_query_u64(rq, rs, "limit", 0, &limit) < 0)
		return -EINVAL;
	int r = files_open_read(ws, req_path(rq), &fd, &st, &err);
	if (r < 0)
		return api_fail(rs, r, &err);
	uint64_t size = (uint64_t)st.st_size, left = off < size ? size - off : 0;
	uint64_t want = limit && limit < left ? limit : left;
	if ((limit ? limit : left) > API_READ_MAX) {
		close(fd);
		return api_errorf(rs, 413,
				  "%llu bytes asked for, more than %u at a time: read it in pieces "
				  "(offset, limit)",
				  (unsigned long long)(limit ? limit : left), API_READ_MAX);
	}
	rs->status = 200;
	rs->fd = fd;
	rs->off = off < size ? off : size;
	rs->size = want;
	rs->ctype = "application/octet-stream";
	char sz[32];
	snprintf(sz, sizeof(sz), "%llu", (unsigned long long)size);
	api_header_add(rs, "X-File-Size", sz);
	return 0;
}

int api_h_file_get(struct api_req *rq, struct api_resp *rs)
{
	struct box b = { 0 };
	struct files_entry e;
	struct error err = { 0 };
	_cleanup_close_ int ws = -1;
	if (open_ws(rq, rs, &b, &ws) < 0)
		return -EINVAL;
	int r = files_stat(ws, req_path(rq), &e, &err);
	if (r == 0 && api_query_bool(rq, "stat")) {
		const char *p = req_path(rq);
		json_t *j = entry_json(p, &e);
		json_object_set_new(j, "path", api_text(p, strlen(p)));
		r = api_json(rs, 200, j);
	} else if (r == 0 && S_ISDIR(e.mode))
		r = list_dir(rq, rs, ws);
	else if (r == 0)
		r = read_file(rq, rs, ws);
	else
		api_fail(rs, r, &err);
	if (!STREQ(rq->method, "HEAD"))
		audit_file(rq, &b,
			   api_query_bool(rq, "stat")  ? "stat"
			   : r == 0 && S_ISDIR(e.mode) ? "list"
						       : "read",
			   r, rs->size);
	return r;
}

/* A PUT in progress. */
struct put {
	struct box b;
	int ws;
	struct files_writer *w;
};

static void put_free(void *state)
{
	struct put *p = state;
	files_write_abort(p->w);
	if (p->ws >= 0)
		close(p->ws);
	free(p);
}

/* ?mode=0644 (octal, 3 or 4 digits), or -1. */
static int query_mode(struct api_req *rq, int *ret)
{
	const char *m = rq->query(rq, "mode");
	char *end;
	*ret = -1;
	if (!m)
		return 0;
	size_t n = strlen(m);
	if (n < 3 || n > 4 || strspn(m, "01234567") != n)
		return -EINVAL;
	*ret = (int)strtol(m, &end, 8);
	return *ret > 0777 ? -EINVAL : 0;
}

static int put_open(struct api_req *rq, struct api_resp *rs)
{
	struct error err = { 0 };
	int mode;
	unsigned flags = 0;
	if (query_mode(rq, &mode) < 0)
		return api_errorf(rs, 400, "'mode': octal permission bits such as 0644");
	const char *mk = rq->query(rq, "mkdirs");
	if (!mk || !STREQ(mk, "false"))
		flags |= FILES_MKDIRS;
	if (api_query_bool(rq, "exclusive"))
		flags |= FILES_EXCL;
	struct put *p = calloc(1, sizeof(*p));
	if (!p)
		return api_errorf(rs, 500, "out of memory");
	p->ws = -1;
	rq->state = p;
	rq->state_free = put_free;
	if (open_ws(rq, rs, &p->b, &p->ws) < 0)
		return -EINVAL;
	int r = files_write_open(p->ws, req_path(rq), flags, mode, &p->w, &err);
	if (r < 0) {
		audit_file(rq, &p->b, "write", r, 0);
		return api_fail(rs, r, &err);
	}
	return 0;
}

int api_h_file_put_body(struct api_req *rq, const char *data, size_t len, struct api_resp *rs)
{
	struct error err = { 0 };
	if (!rq->state && put_open(rq, rs) < 0)
		return -EINVAL;
	struct put *p = rq->state;
	int r = len ? files_write_append(p->w, data, len, &err)
		    : files_write_commit(TAKE_PTR(p->w), &err);
	if (r < 0 || !len)
		audit_file(rq, &p->b, "write", r, rq->body_len);
	if (r < 0)
		return api_fail(rs, r, &err);
	return 0;
}

int api_h_file_put(struct api_req *rq, struct api_resp *rs)
{
	const char *p = req_path(rq);
	return api_json(rs, 200,
			json_pack("{s:o, s:I}", "path", api_text(p, strlen(p)), "size",
				  (json_int_t)rq->body_len));
}

int api_h_file_delete(struct api_req *rq, struct api_resp *rs)
{
	struct box b = { 0 };
	struct error err = { 0 };
	_cleanup_close_ int ws = -1;
	if (open_ws(rq, rs, &b, &ws) < 0)
		return -EINVAL;
	int r = files_delete(ws, req_path(rq), api_query_bool(rq, "recursive"), &err);
	audit_file(rq, &b, "delete", r, 0);
	if (r < 0)
		return api_fail(rs, r, &err);
	const char *p = req_path(rq);
	return api_json(rs, 200, json_pack("{s:o}", "deleted", api_text(p, strlen(p))));
}
