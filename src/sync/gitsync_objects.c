/* The object scan: every object a candidate ref brings that the host does
 * not have, listed with git rev-list and git log in the quarantine; blobs,
 * commit and tag messages checked like files (the gate's scanner, the size
 * limit), the paths commits add checked like the file gate's paths; then
 * the verdict of each ref. */
#include "util/common.h"

#include "sync/gitsync_int.h"
#include "scan/scan.h"
#include "sync/syncpolicy.h"
#include "util/array.h"
#include "util/buf.h"
#include "util/utf8.h"

#include <stdarg.h>

#define REF_OBJECTS_MAX 200000u /* new objects of one ref */
#define SCAN_TOTAL_MAX  (512ull << 20)
#define OUT_MAX         (64u << 20) /* output of a rev-list or log */
#define FINDINGS_MAX    64

static bool octal6(const char *s, unsigned *ret)
{
	unsigned v = 0;
	for (int i = 0; i < 6; i++) {
		if (s[i] < '0' || s[i] > '7')
			return false;
		v = v << 3 | (unsigned)(s[i] - '0');
	}
	*ret = v;
	return true;
}

/* "<oid> <type> <size>" of git cat-file's --batch(-check) output (NUL-
 * terminated line): false when it is not that. */
static bool batch_header(const char *l, char oid[65], char type[16], unsigned long long *ret_size)
{
	const char *sp1 = strchr(l, ' ');
	const char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp2 || !gitsync_oid_len(l, (size_t)(sp1 - l)) || sp2 - sp1 - 1 >= 16 || sp2 == sp1 + 1)
		return false;
	memcpy(oid, l, (size_t)(sp1 - l));
	oid[sp1 - l] = '\0';
	memcpy(type, sp1 + 1, (size_t)(sp2 - sp1 - 1));
	type[sp2 - sp1 - 1] = '\0';
	char *end;
	errno = 0;
	unsigned long long v = strtoull(sp2 + 1, &end, 10);
	if (errno || end == sp2 + 1 || (*end && *end != '\n') || sp2[1] == '-')
		return false;
	*ret_size = v;
	return true;
}

int gitsync_parse_raw(const char *data, size_t len,
		      int (*entry)(const char *commit, unsigned mode, const char *oid, char status,
				   const char *path, void *ctx),
		      void *ctx)
{
	char commit[65] = "";
	size_t pos = 0;
	while (pos < len) {
		if (data[pos] == '\n') {
			pos++;
			continue;
		}
		const char *z = memchr(data + pos, '\0', len - pos);
		if (!z)
			return -EBADMSG;
		size_t n = (size_t)(z - (data + pos));
		const char *l = data + pos;
		pos += n + 1;
		if (l[0] == '\x01') {
			if (!gitsync_oid_len(l + 1, n - 1))
				return -EBADMSG;
			memcpy(commit, l + 1, n - 1);
			commit[n - 1] = '\0';
			continue;
		}
		/* ":100644 100644 <old> <new> M" then the path */
		unsigned m1, m2;
		char st;
		size_t hl = 0;
		if (l[0] != ':' || !commit[0])
			return -EBADMSG;
		const char *sp1 = memchr(l, ' ', n);
		const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - l)) : NULL;
		const char *sp3 = sp2 ? memchr(sp2 + 1, ' ', n - (size_t)(sp2 + 1 - l)) : NULL;
		const char *sp4 = sp3 ? memchr(sp3 + 1, ' ', n - (size_t)(sp3 + 1 - l)) : NULL;
		if (!sp4 || sp1 - l != 7 || sp2 - sp1 != 7 || l + n - sp4 < 2)
			return -EBADMSG;
		if (!octal6(l + 1, &m1) || !octal6(sp1 + 1, &m2))
			return -EBADMSG;
		hl = (size_t)(sp4 - sp3 - 1);
		if (!gitsync_oid_len(sp3 + 1, hl) || (size_t)(sp3 - sp2 - 1) != hl)
			return -EBADMSG;
		st = sp4[1];
		char oid[65];
		memcpy(oid, sp3 + 1, hl);
		oid[hl] = '\0';
		const char *p = data + pos;
		const char *pz = memchr(p, '\0', len - pos);
		if (!pz || pz == p)
			return -EBADMSG;
		pos += (size_t)(pz - p) + 1;
		int r = entry(commit, m2, oid, st, p, ctx);
		if (r < 0)
			return r;
	}
	return 0;
}

static uint64_t oid_hash(const char *oid)
{
	uint64_t h = 0;
	for (int i = 0; i < 16; i++)
		h = h << 4 | (uint64_t)(oid[i] <= '9' ? oid[i] - '0' : oid[i] - 'a' + 10);
	return h;
}

/* The index of oid in the object table, added when absent. */
static int obj_get(struct gs *s, const char *oid, uint32_t *ret)
{
	if (s->nobjs * 2 >= s->htcap) {
		size_t nc = s->htcap ? s->htcap * 2 : 1024;
		uint32_t *nh = calloc(nc, sizeof(*nh));
		if (!nh)
			return -ENOMEM;
		for (size_t i = 0; i < s->nobjs; i++) {
			size_t k = oid_hash(s->objs[i].oid) & (nc - 1);
			while (nh[k])
				k = (k + 1) & (nc - 1);
			nh[k] = (uint32_t)i + 1;
		}
		free(s->ht);
		s->ht = nh;
		s->htcap = nc;
	}
	size_t k = oid_hash(oid) & (s->htcap - 1);
	for (; s->ht[k]; k = (k + 1) & (s->htcap - 1))
		if (STREQ(s->objs[s->ht[k] - 1].oid, oid)) {
			*ret = s->ht[k] - 1;
			return 0;
		}
	if (array_grow((void **)&s->objs, &s->cap, s->nobjs, sizeof(*s->objs)) < 0)
		return -ENOMEM;
	struct obj *o = &s->objs[s->nobjs];
	memset(o, 0, sizeof(*o));
	snprintf(o->oid, sizeof(o->oid), "%s", oid);
	o->type = '?';
	s->ht[k] = (uint32_t)s->nobjs + 1;
	*ret = (uint32_t)s->nobjs++;
	return 0;
}

_printf_(6, 7) int gitsync_add_finding(struct gitsync_finding **v, size_t *n, const char *rule,
				       const char *path, unsigned line, const char *fmt, ...)
{
	if (*n >= FINDINGS_MAX)
		return 0;
	if (array_grow_counted((void **)v, *n, sizeof(**v)) < 0)
		return -ENOMEM;
	struct gitsync_finding *f = &(*v)[(*n)++];
	memset(f, 0, sizeof(*f));
	snprintf(f->rule, sizeof(f->rule), "%s", rule);
	f->line = line;
	if (path && !(f->path = strdup(path))) {
		(*n)--;
		return -ENOMEM;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->reason, sizeof(f->reason), fmt, ap);
	va_end(ap);
	return 0;
}

/* Where finding f is, for messages: printf-like, made display-safe. */
_printf_(2, 3) static int set_where(struct gitsync_finding *f, const char *fmt, ...)
{
	char raw[PATH_MAX + 64], disp[PATH_MAX + 64];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	gate_path_display(raw, disp, sizeof(disp));
	free(f->where);
	f->where = strdup(disp);
	return f->where ? 0 : -ENOMEM;
}

/* A component that git on a case-insensitive filesystem takes for ".git". */
static bool has_dotgit(const char *path)
{
	for (const char *c = path; *c;) {
		size_t n = strcspn(c, "/");
		if (gate_name_is_dotgit(c, n))
			return true;
		c += n;
		if (*c == '/')
			c++;
	}
	return false;
}

/* The path checks of the file gate, for a path a commit adds something at. */
static int check_path(struct gs *s, struct gitsync_ref *ref, const char *commit, unsigned mode,
		      const char *path, const char *blob)
{
	const char *m;
	size_t before = ref->nfindings;
	int r = 0;
	for (const unsigned char *c = (const unsigned char *)path; *c && r == 0; c++)
		if (*c < 0x20 || *c == 0x7f)
			r = gitsync_add_finding(
			    &ref->findings, &ref->nfindings, "name-control", path, 0,
			    "the file name holds a control character (0x%02x)", *c);
	if (r == 0 && ref->nfindings == before && !utf8_valid(path))
		r = gitsync_add_finding(&ref->findings, &ref->nfindings, "name-encoding", path, 0,
					"the file name is not valid UTF-8");
	if (r == 0 && has_dotgit(path))
		r = gitsync_add_finding(
		    &ref->findings, &ref->nfindings, "git-path", path, 0,
		    "a path through a '.git' (git would treat it as a repository)");
	if (r == 0 && (m = syncpolicy_denied(s->pol, path)))
		r = gitsync_add_finding(&ref->findings, &ref->nfindings, "path-deny", path, 0,
					"denied by the pattern '%s'", m);
	if (r == 0 && !syncpolicy_allowed(s->pol, path))
		r = gitsync_add_finding(&ref->findings, &ref->nfindings, "path-not-allowed", path,
					0, "not matched by any allow pattern");
	if (r == 0 && (mode & 0170000) != 0160000 && (m = syncpolicy_blocked_ext(s->pol, path)))
		r = gitsync_add_finding(&ref->findings, &ref->nfindings, "credential-file", path, 0,
					"credential file type '%s' is never synced", m);
	const char *why = NULL;
	if (r == 0 && (m = syncpolicy_needs_approval(s->pol, path, &why))) {
		r = gitsync_add_finding(
		    &ref->findings, &ref->nfindings, "path-approval", path, 0,
		    "runs on the host once checked out (pattern '%s': %s): review "
		    "before you merge",
		    m, why ? why : "the policy's approve list");
		if (r == 0 && ref->nfindings)
			ref->findings[ref->nfindings - 1].note = true;
	}
	for (size_t i = before; i < ref->nfindings && r == 0; i++) {
		struct gitsync_finding *f = &ref->findings[i];
		snprintf(f->object, sizeof(f->object), "%s", blob ? blob : commit);
		r = blob ? set_where(f, "blob %.12s at '%s'", blob, path)
			 : set_where(f, "commit %.12s adds '%s'", commit, path);
	}
	return r;
}

struct rawctx {
	struct gs *s;
	struct gitsync_ref *ref;
};

static int on_raw(const char *commit, unsigned mode, const char *oid, char status, const char *path,
		  void *ctx)
{
	struct rawctx *c = ctx;
	struct gs *s = c->s;
	uint32_t i;
	if (status == 'D')
		return 0;
	int r = check_path(s, c->ref, commit, mode, path, NULL);
	if (r < 0 || (mode & 0170000) == 0160000 || (mode & 0170000) == 0040000)
		return r;
	if ((r = obj_get(s, oid, &i)) < 0)
		return r;
	struct obj *o = &s->objs[i];
	if ((mode & 0170000) == 0120000)
		o->symlink = true;
	if (!o->commit[0]) {
		free(o->path);
		if (!(o->path = strdup(path)))
			return -ENOMEM;
		snprintf(o->commit, sizeof(o->commit), "%s", commit);
	}
	return 0;
}

static int ref_stdin(struct gs *s, const struct gitsync_ref *ref, const struct refmap *tips,
		     struct buf *in)
{
	int r = buf_printf(in, "%s\n", ref->oid);
	for (size_t i = 0; r == 0 && i < tips->n; i++)
		r = buf_printf(in, "^%s\n", tips->v[i].oid);
	return r;
}

/* The host's tips that exist (a broken host ref must not stop rev-list). */
int gitsync_host_tips(struct gs *s, struct refmap *ret)
{
	struct buf in = BUF_INIT(64u << 20), out = BUF_INIT(64u << 20);
	struct refmap *src[] = { &s->host_loose, &s->host_packed };
	int r = 0;
	for (size_t k = 0; k < 2 && r == 0; k++)
		for (size_t i = 0; i < src[k]->n && r == 0; i++)
			if (strlen(src[k]->v[i].oid) == s->hexlen)
				r = buf_printf(&in, "%s\n", src[k]->v[i].oid);
	if (r == 0 && strlen(s->host_head) == s->hexlen)
		r = buf_printf(&in, "%s\n", s->host_head);
	struct run rn = { .in_fd = -1, .in = in.data ? in.data : "", .inlen = in.len, .out = &out };
	if (r == 0 && in.len)
		r = GIT(s, &rn, "-C", s->qpath, "cat-file",
			"--batch-check=%(objectname) %(objecttype)");
	for (char *l = out.data, *e; r == 0 && l && (e = strchr(l, '\n')); l = e + 1) {
		*e = '\0';
		char *sp = strchr(l, ' ');
		if (sp && !STREQ(sp + 1, "missing")) {
			*sp = '\0';
			if (!gitsync_refmap_get(ret, l))
				r = gitsync_refmap_add(ret, l, l);
		}
	}
	buf_free(&in);
	buf_free(&out);
	return r;
}

_printf_(3, 4) static int held(struct gitsync_ref *ref, const char *rule, const char *fmt, ...)
{
	char reason[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	ref->verdict = GITSYNC_HELD;
	return gitsync_add_finding(&ref->findings, &ref->nfindings, rule, NULL, 0, "%s", reason);
}

/* Object oi listed for ref idx. */
static int ref_add_obj(struct gs *s, size_t idx, uint32_t oi)
{
	if (array_grow_counted((void **)&s->ref_objs[idx], s->ref_nobjs[idx],
			       sizeof(*s->ref_objs[idx])) < 0)
		return -ENOMEM;
	s->ref_objs[idx][s->ref_nobjs[idx]++] = oi;
	return 0;
}

/* A step that held its ref stops the listing: 1, or held()'s -ENOMEM. */
static int stop(int held_r)
{
	return held_r < 0 ? held_r : 1;
}

/* The objects of ref idx new to the host: 'git rev-list --objects' with
 * in (the ref's value, ^ each tip) on stdin. Returns 1 when the ref is
 * held (its history cannot be read in full, too many objects), 0, or
 * -errno. */
static int list_objects(struct gs *s, size_t idx, const struct buf *in)
{
	struct gitsync_ref *ref = &s->p->refs[idx];
	_cleanup_buf_ struct buf out = BUF_INIT(OUT_MAX);
	struct run rn = { .in_fd = -1, .in = in->data, .inlen = in->len, .out = &out };
	int r = GIT(s, &rn, "-C", s->qpath, "rev-list", "--objects", "--stdin");
	if (r == -E2BIG)
		return stop(held(ref, "git-cap", "%s", "too many new objects to check"));
	if (r == 0 && rn.status != 0)
		return stop(held(ref, "git-history",
				 "its history cannot be read in full from the box (missing or "
				 "broken objects): %s",
				 rn.err));
	for (char *l = out.data, *e; r == 0 && l && (e = strchr(l, '\n')); l = e + 1) {
		*e = '\0';
		char *sp = strchr(l, ' ');
		if (sp)
			*sp = '\0';
		uint32_t oi;
		if (strlen(l) != s->hexlen)
			continue;
		if (s->ref_nobjs[idx] >= REF_OBJECTS_MAX)
			return stop(held(ref, "git-cap",
					 "more than %s new objects: too many to check", "200000"));
		if ((r = obj_get(s, l, &oi)) < 0 || (r = ref_add_obj(s, idx, oi)) < 0)
			break;
		if (sp && sp[1] && !s->objs[oi].path && !(s->objs[oi].path = strdup(sp + 1)))
			r = -ENOMEM;
	}
	ref->objects = s->ref_nobjs[idx];
	return r;
}

/* The paths the new commits of ref idx add, each checked ('git log --raw'
 * with in on stdin); a history that cannot be read holds the ref. */
static int list_paths(struct gs *s, size_t idx, const struct buf *in)
{
	struct gitsync_ref *ref = &s->p->refs[idx];
	_cleanup_buf_ struct buf out = BUF_INIT(OUT_MAX);
	struct run rn = { .in_fd = -1, .in = in->data, .inlen = in->len, .out = &out };
	struct rawctx rc = { s, ref };
	int r = GIT(s, &rn, "-C", s->qpath, "log", "-z", "--raw", "--no-renames", "--no-abbrev",
		    "-m", "--root", "--no-color", "--no-ext-diff", "--no-textconv",
		    "--format=tformat:%x01%H", "--stdin");
	if (r == -E2BIG || (r == 0 && rn.status != 0))
		return held(ref, "git-history", "its history cannot be read in full: %s",
			    r == -E2BIG ? "too many changes" : rn.err);
	if (r == 0 && out.len && gitsync_parse_raw(out.data, out.len, on_raw, &rc) == -EBADMSG)
		return held(ref, "git-history", "%s", "git log's output could not be read");
	return r;
}

int gitsync_list_ref(struct gs *s, size_t idx, const struct refmap *tips)
{
	_cleanup_buf_ struct buf in = BUF_INIT(64u << 20);
	int r = ref_stdin(s, &s->p->refs[idx], tips, &in);
	if (r == 0)
		r = list_objects(s, idx, &in);
	if (r == 0)
		r = list_paths(s, idx, &in);
	return r < 0 ? r : 0;
}

/* Types and sizes of every object listed. */
int gitsync_check_types(struct gs *s)
{
	struct buf in = BUF_INIT(256u << 20), out = BUF_INIT(256u << 20);
	int r = 0;
	for (size_t i = 0; i < s->nobjs && r == 0; i++)
		r = buf_printf(&in, "%s\n", s->objs[i].oid);
	struct run rn = { .in_fd = -1, .in = in.data ? in.data : "", .inlen = in.len, .out = &out };
	if (r == 0 && in.len)
		r = GIT(s, &rn, "-C", s->qpath, "cat-file",
			"--batch-check=%(objectname) %(objecttype) %(objectsize)");
	for (char *l = out.data, *e; r == 0 && l && (e = strchr(l, '\n')); l = e + 1) {
		*e = '\0';
		char oid[65], type[16];
		unsigned long long size;
		uint32_t oi;
		if (!batch_header(l, oid, type, &size))
			continue;
		if ((r = obj_get(s, oid, &oi)) < 0)
			break;
		struct obj *o = &s->objs[oi];
		o->size = size;
		o->type = STREQ(type, "commit") ? 'c'
			  : STREQ(type, "tree") ? 't'
			  : STREQ(type, "blob") ? 'b'
			  : STREQ(type, "tag")  ? 'g'
						: '?';
	}
	buf_free(&in);
	buf_free(&out);
	return r;
}

struct scanctx {
	struct gs *s;
	struct obj *o;
};

static int on_secret(const struct scan_finding *f, void *p)
{
	struct scanctx *c = p;
	if (f->known_secret)
		return gitsync_add_finding(&c->o->f, &c->o->nf, f->rule_id, NULL, f->start_line,
					   "holds the box's secret %s", f->known_name);
	return gitsync_add_finding(&c->o->f, &c->o->nf, f->rule_id, NULL, f->start_line,
				   "secret: %s", f->description ? f->description : "secret");
}

static bool link_inside(const char *path, const char *t, size_t n)
{
	if (n == 0 || t[0] == '/' || memchr(t, '\0', n) || memchr(t, '\n', n))
		return false;
	long depth = 0;
	for (const char *c = path; (c = strchr(c, '/')); c++)
		depth++;
	for (size_t i = 0; i < n;) {
		const char *e = memchr(t + i, '/', n - i);
		size_t k = e ? (size_t)(e - (t + i)) : n - i;
		if (k == 2 && t[i] == '.' && t[i + 1] == '.') {
			if (--depth < 0)
				return false;
		} else if (k && !(k == 1 && t[i] == '.'))
			depth++;
		i += k + 1;
	}
	return true;
}

static int check_content(struct gs *s, struct obj *o, const char *data, size_t len)
{
	struct scanctx c = { s, o };
	int r = 0;
	if (o->type == 'b' && o->symlink && !link_inside(o->path ? o->path : "", data, len))
		r = gitsync_add_finding(&o->f, &o->nf, "symlink-escape", NULL, 0,
					"a symlink whose target leaves the project");
	if (r == 0)
		r = gate_scan_data(s->g, o->type == 'b' ? o->path : NULL, data, len, on_secret, &c,
				   NULL);
	o->checked = true;
	return r;
}

struct batch {
	struct gs *s;
	struct buf b;
	size_t done; /* objects processed */
	int err;
};

static int batch_sink(void *ctx, const char *data, size_t len)
{
	struct batch *bt = ctx;
	int r = buf_append(&bt->b, data, len);
	if (r < 0)
		return r;
	for (;;) {
		char *nl = memchr(bt->b.data, '\n', bt->b.len);
		if (!nl)
			return 0;
		char oid[65], type[16];
		unsigned long long size;
		*nl = '\0';
		bool ok = batch_header(bt->b.data, oid, type, &size);
		*nl = '\n';
		if (!ok)
			return -EBADMSG;
		size_t hl = (size_t)(nl - bt->b.data) + 1;
		if (bt->b.len < hl + size + 1)
			return 0;
		uint32_t oi;
		if ((r = obj_get(bt->s, oid, &oi)) < 0 ||
		    (r = check_content(bt->s, &bt->s->objs[oi], bt->b.data + hl, size)) < 0)
			return r;
		bt->done++;
		size_t used = hl + size + 1;
		memmove(bt->b.data, bt->b.data + used, bt->b.len - used);
		bt->b.len -= used;
	}
}

/* The objects whose contents are read, into todo (*ret_n of them): every
 * commit, tag and blob under the size limit and within the cap of what
 * one sync reads; a finding for each of the others (trees are not read). */
static int pick_contents(struct gs *s, uint32_t *todo, size_t *ret_n)
{
	size_t n = 0;
	int r = 0;
	for (size_t i = 0; i < s->nobjs && r == 0; i++) {
		struct obj *o = &s->objs[i];
		if (o->type == 't')
			continue;
		if (o->type == '?')
			r = gitsync_add_finding(&o->f, &o->nf, "git-object", NULL, 0,
						"an object that cannot be read");
		else if (o->size > s->pol->max_size)
			r = gitsync_add_finding(&o->f, &o->nf, "size-limit", NULL, 0,
						"%llu bytes, over the limit of %llu bytes",
						(unsigned long long)o->size,
						(unsigned long long)s->pol->max_size);
		else if (s->scanned + o->size > SCAN_TOTAL_MAX)
			r = gitsync_add_finding(&o->f, &o->nf, "git-cap", NULL, 0,
						"over the cap of what one sync checks (512 MiB): "
						"next time");
		else {
			s->scanned += o->size;
			todo[n++] = (uint32_t)i;
		}
	}
	*ret_n = n;
	return r;
}

/* One 'git cat-file --batch' over the n objects of todo, each checked as
 * it comes; *ret_done: how many came before git stopped (n: all). */
static int read_contents(struct gs *s, const uint32_t *todo, size_t n, size_t *ret_done)
{
	_cleanup_buf_ struct buf in = BUF_INIT(256u << 20);
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++)
		r = buf_printf(&in, "%s\n", s->objs[todo[i]].oid);
	struct batch bt = { s, BUF_INIT(s->pol->max_size + 4096), 0, 0 };
	struct run rn = {
		.in_fd = -1, .in = in.data, .inlen = in.len, .sink = batch_sink, .ctx = &bt
	};
	if (r == 0)
		r = GIT(s, &rn, "-C", s->qpath, "cat-file", "--batch");
	buf_free(&bt.b);
	if (r == -EBADMSG || r == -E2BIG)
		r = 0; /* output git should not give: the object is held by the caller */
	if (r < 0)
		return r;
	*ret_done = bt.done;
	return 0;
}

/* Contents of every commit, tag and blob (under the size limit), scanned
 * once each. A git that dies on a broken object is started again after it
 * (at most 8 times); what stays unread is held. */
int gitsync_check_contents(struct gs *s)
{
	_cleanup_free_ uint32_t *todo = calloc(s->nobjs + 1, sizeof(*todo));
	size_t n = 0, done = 0;
	if (!todo)
		return -ENOMEM;
	int r = pick_contents(s, todo, &n);
	for (int round = 0; r == 0 && n && round < 8; round++) {
		if ((r = read_contents(s, todo, n, &done)) < 0)
			break;
		if (done >= n) {
			n = 0;
			break;
		}
		struct obj *o = &s->objs[todo[done]];
		r = gitsync_add_finding(&o->f, &o->nf, "git-object", NULL, 0,
					"an object that cannot be read");
		memmove(todo, todo + done + 1, (n - done - 1) * sizeof(*todo));
		n -= done + 1;
	}
	for (size_t i = 0; r == 0 && i < n; i++) {
		struct obj *o = &s->objs[todo[i]];
		r = gitsync_add_finding(&o->f, &o->nf, "git-object", NULL, 0,
					"an object that cannot be read");
	}
	return r;
}

/* The verdict of each ref from the findings of its objects. */
int gitsync_judge(struct gs *s, size_t idx)
{
	struct gitsync_ref *ref = &s->p->refs[idx];
	int r = 0;
	for (size_t k = 0; k < s->ref_nobjs[idx] && r == 0; k++) {
		struct obj *o = &s->objs[s->ref_objs[idx][k]];
		if (o->type == 'c')
			ref->commits++;
		/* a blob no new commit adds (a tag of a tree or blob): its path too */
		if (o->type == 'b' && o->path && !o->commit[0])
			r = check_path(s, ref, "", 0100644, o->path, o->oid);
		for (size_t j = 0; j < o->nf && r == 0; j++) {
			const struct gitsync_finding *f = &o->f[j];
			const char *path = o->type == 'b' ? o->path : NULL;
			size_t before = ref->nfindings;
			r = gitsync_add_finding(&ref->findings, &ref->nfindings, f->rule, path,
						f->line, "%s", f->reason);
			if (r == 0 && ref->nfindings > before) {
				struct gitsync_finding *nf = &ref->findings[ref->nfindings - 1];
				bool added = o->type == 'b' && o->commit[0];
				snprintf(nf->object, sizeof(nf->object), "%s",
					 added ? o->commit : o->oid);
				if (added)
					r = set_where(nf, "commit %.12s adds '%s'", o->commit,
						      o->path);
				else if (o->type == 'b')
					r = set_where(nf, "blob %.12s%s%s%s", o->oid,
						      o->path ? " at '" : "",
						      o->path ? o->path : "", o->path ? "'" : "");
				else
					r = set_where(nf, "%s %.12s (its message)",
						      o->type == 'g' ? "tag" : "commit", o->oid);
			}
		}
	}
	for (size_t j = 0; j < ref->nfindings; j++)
		if (!ref->findings[j].note)
			ref->verdict = GITSYNC_HELD;
	return r;
}
