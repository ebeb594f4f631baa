/* The refs of the box's repository and the host's, read by clawbox itself:
 * beneath the upper dir's .git (no symlink followed, every file
 * size-capped), loose refs, packed-refs and HEAD, each name checked by
 * rules stricter than git's; then the candidates, the refs whose value in
 * the box differs from the host's. The parsers are pure (unit-tested and
 * fuzzed). */
#include "util/common.h"

#include "sync/gitsync_int.h"
#include "util/array.h"
#include "util/fs.h"
#include "util/utf8.h"

#include <dirent.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#define GITSYNC_SYNC_REFS_MAX 500u /* refs checked in one sync */

bool gitsync_refname_valid(const char *name)
{
	size_t len = strlen(name), ncomp = 0;
	if (len == 0 || len > GITSYNC_REF_MAX || STREQ(name, "@") || !utf8_valid(name))
		return false;
	if (name[len - 1] == '/' || name[len - 1] == '.')
		return false;
	for (const char *c = name; *c;) {
		const char *e = strchr(c, '/');
		size_t n = e ? (size_t)(e - c) : strlen(c);
		if (n == 0 || c[0] == '.')
			return false;
		if (n >= 5 && memcmp(c + n - 5, ".lock", 5) == 0)
			return false;
		ncomp++;
		c += n;
		if (*c == '/')
			c++;
	}
	for (const unsigned char *s = (const unsigned char *)name; *s; s++) {
		if (*s < 0x20 || *s == 0x7f || strchr(" ~^:?*[\\", *s))
			return false;
		if ((s[0] == '.' && s[1] == '.') || (s[0] == '@' && s[1] == '{'))
			return false;
	}
	return ncomp >= 2;
}

size_t gitsync_oid_len(const char *s, size_t n)
{
	if (n != 40 && n != 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return n;
}

int gitsync_parse_loose(const char *data, size_t len, char *out)
{
	if (len && data[len - 1] == '\n')
		len--;
	if (len >= 5 && memcmp(data, "ref: ", 5) == 0) {
		size_t n = len - 5;
		if (n > GITSYNC_REF_MAX || memchr(data + 5, '\0', n))
			return -EINVAL;
		memcpy(out, data + 5, n);
		out[n] = '\0';
		return gitsync_refname_valid(out) ? GITSYNC_LOOSE_SYMREF : -EINVAL;
	}
	if (!gitsync_oid_len(data, len))
		return -EINVAL;
	memcpy(out, data, len);
	out[len] = '\0';
	return GITSYNC_LOOSE_OID;
}

int gitsync_parse_packed(const char *data, size_t len,
			 int (*ref)(const char *name, const char *oid, void *ctx),
			 void (*bad)(unsigned line, const char *why, void *ctx), void *ctx)
{
	char name[GITSYNC_REF_MAX + 1], oid[65];
	unsigned lineno = 0;
	bool after_ref = false;
	for (size_t pos = 0; pos < len;) {
		const char *l = data + pos;
		const char *nl = memchr(l, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - l) : len - pos;
		pos += n + (nl ? 1 : 0);
		lineno++;
		if (lineno == 1 && n >= 17 && memcmp(l, "# pack-refs with:", 17) == 0)
			continue;
		if (n && l[0] == '^') {
			if (!after_ref || !gitsync_oid_len(l + 1, n - 1))
				bad(lineno, "a peeled line that does not follow a ref", ctx);
			after_ref = false;
			continue;
		}
		after_ref = false;
		const char *sp = memchr(l, ' ', n);
		size_t on = sp ? (size_t)(sp - l) : n;
		size_t nn = sp ? n - on - 1 : 0;
		if (!sp || !gitsync_oid_len(l, on)) {
			bad(lineno, "not '<object id> <ref name>'", ctx);
			continue;
		}
		if (nn == 0 || nn > GITSYNC_REF_MAX || memchr(sp + 1, '\0', nn)) {
			bad(lineno, "an invalid ref name", ctx);
			continue;
		}
		memcpy(name, sp + 1, nn);
		name[nn] = '\0';
		if (!gitsync_refname_valid(name)) {
			bad(lineno, "an invalid ref name", ctx);
			continue;
		}
		memcpy(oid, l, on);
		oid[on] = '\0';
		after_ref = true;
		int r = ref(name, oid, ctx);
		if (r < 0)
			return r;
	}
	return 0;
}

static int refent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct refent *)a)->name, ((const struct refent *)b)->name);
}

int gitsync_refmap_add(struct refmap *m, const char *name, const char *oid)
{
	if (m->n >= (m->max ? m->max : GITSYNC_REFS_MAX)) {
		m->full = true;
		return 0;
	}
	if (array_grow((void **)&m->v, &m->cap, m->n, sizeof(*m->v)) < 0)
		return -ENOMEM;
	struct refent *e = &m->v[m->n];
	if (!(e->name = strdup(name)))
		return -ENOMEM;
	snprintf(e->oid, sizeof(e->oid), "%s", oid);
	m->n++;
	m->sorted = false;
	return 0;
}

const struct refent *gitsync_refmap_get(struct refmap *m, const char *name)
{
	if (!m->sorted) {
		if (m->n)
			qsort(m->v, m->n, sizeof(m->v[0]), refent_cmp);
		m->sorted = true;
	}
	struct refent key = { .name = (char *)name };
	return m->n ? bsearch(&key, m->v, m->n, sizeof(m->v[0]), refent_cmp) : NULL;
}

void gitsync_refmap_free(struct refmap *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].name);
	free(m->v);
	memset(m, 0, sizeof(*m));
}

/* A regular file beneath dirfd, at most max bytes, NUL-terminated. */
int gitsync_read_small(int dirfd, const char *name, size_t max, char *out, size_t *ret_len)
{
	_cleanup_close_ int fd =
	    gate_openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW, 0);
	struct stat st;
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EPERM;
	if ((uint64_t)st.st_size > max)
		return -EFBIG;
	size_t len = 0;
	int r = fs_read_fd(fd, out, max, &len);
	if (r < 0)
		return r;
	out[len] = '\0';
	*ret_len = len;
	return 0;
}

bool gitsync_is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

bool gitsync_ovl_xattr(int fd, const char *attr)
{
	char key[64], val[8];
	static const char *const ns[] = { "user.overlay.", "trusted.overlay." };
	for (size_t i = 0; i < ELEMENTSOF(ns); i++) {
		snprintf(key, sizeof(key), "%s%s", ns[i], attr);
		ssize_t n = fgetxattr(fd, key, val, sizeof(val));
		if (n >= 1 && val[0] == 'y')
			return true;
	}
	return false;
}

/* Whether the box's view hides the host's loose ref name: a whiteout or an
 * opaque directory on its way in the upper dir. */
static bool upper_covers(struct gs *s, const char *name)
{
	char part[GITSYNC_REF_MAX + 1];
	if (s->git_opaque)
		return true;
	for (const char *c = name; (c = strchr(c, '/')); c++) {
		size_t n = (size_t)(c - name);
		memcpy(part, name, n);
		part[n] = '\0';
		struct stat st;
		_cleanup_close_ int fd = gate_openat(s->upper_git, part, O_PATH | O_NOFOLLOW, 0);
		if (fd < 0)
			return false;
		if (fstat(fd, &st) == 0 && gitsync_is_whiteout(&st))
			return true;
		_cleanup_close_ int dfd =
		    gate_openat(s->upper_git, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
		if (dfd >= 0 && gitsync_ovl_xattr(dfd, "opaque"))
			return true;
	}
	struct stat st;
	return fstatat(s->upper_git, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       gitsync_is_whiteout(&st);
}

struct walkctx {
	struct gs *s;
	struct refmap *m;
	bool box;
};

/* The loose ref file name (beneath dirfd) whose ref name is path, into
 * w->m; on the box's side what is refused is a note. */
static int walk_ref_file(struct walkctx *w, int dirfd, const char *name, const char *path)
{
	char buf[GITSYNC_LOOSE_REF_MAX + 1], val[GITSYNC_REF_MAX + 1];
	size_t len = 0;
	int k = gitsync_read_small(dirfd, name, GITSYNC_LOOSE_REF_MAX, buf, &len);
	if (!gitsync_refname_valid(path))
		return w->box ? gitsync_note(w->s->p, "ref '%s' refused: an invalid ref name", path)
			      : 0;
	if (k == -EFBIG)
		return w->box
			   ? gitsync_note(w->s->p, "ref '%s' refused: its file is too large", path)
			   : 0;
	if (k == 0 && (k = gitsync_parse_loose(buf, len, val)) == GITSYNC_LOOSE_OID)
		return gitsync_refmap_add(w->m, path, val);
	if (!w->box)
		return 0;
	if (k == GITSYNC_LOOSE_SYMREF)
		return gitsync_note(w->s->p, "ref '%s' not brought home: a symbolic ref", path);
	return gitsync_note(w->s->p, "ref '%s' refused: not an object id", path);
}

static int walk_refs(struct walkctx *w, int dirfd, char *path, size_t plen, int depth);

/* One entry name of dirfd, whose ref name is path: a directory walked (at
 * most 16 deep), a whiteout (the box deleted the ref), a ref file. */
static int walk_ref_entry(struct walkctx *w, int dirfd, const char *name, char *path, size_t plen,
			  int depth)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	if (S_ISDIR(st.st_mode)) {
		_cleanup_close_ int fd =
		    depth < 16 ? gate_openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0)
			       : -ELOOP;
		return fd >= 0 ? walk_refs(w, fd, path, plen, depth + 1) : 0;
	}
	if (w->box && gitsync_is_whiteout(&st))
		return gitsync_refname_valid(path) ? gitsync_refmap_add(w->m, path, "") : 0;
	if (S_ISREG(st.st_mode))
		return walk_ref_file(w, dirfd, name, path);
	return w->box ? gitsync_note(w->s->p, "ref '%s' refused: not a regular file", path) : 0;
}

/* The refs beneath dirfd, whose ref name prefix is path (plen bytes; the
 * buffer holds GITSYNC_REF_MAX + 2), into w->m until it is full. */
static int walk_refs(struct walkctx *w, int dirfd, char *path, size_t plen, int depth)
{
	DIR *d = fs_opendir_dup(dirfd);
	struct dirent *de;
	int r = 0;
	if (!d)
		return -errno;
	while (r == 0 && !w->m->full && (de = readdir(d))) {
		if (STREQ(de->d_name, ".") || STREQ(de->d_name, ".."))
			continue;
		size_t nl = strlen(de->d_name);
		if (plen + 1 + nl > GITSYNC_REF_MAX)
			continue;
		path[plen] = '/';
		memcpy(path + plen + 1, de->d_name, nl + 1);
		r = walk_ref_entry(w, dirfd, de->d_name, path, plen + 1 + nl, depth);
		path[plen] = '\0';
	}
	closedir(d);
	return r;
}

int gitsync_read_loose_refs(struct gs *s, int gitfd, const char *top, struct refmap *m, bool box)
{
	char path[GITSYNC_REF_MAX + 2];
	snprintf(path, sizeof(path), "%s", top);
	int fd = gate_openat(gitfd, top, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (fd == -ENOENT || fd == -ENOTDIR)
		return 0;
	if (fd < 0)
		return box ? gitsync_note(s->p, "'%s' refused: %s", top, strerror(-fd)) : 0;
	struct walkctx w = { s, m, box };
	int r = walk_refs(&w, fd, path, strlen(path), 0);
	close(fd);
	if (r == 0 && m->full && box)
		r = gitsync_note(s->p, "more than %u refs: the others are not brought home",
				 GITSYNC_REFS_MAX);
	return r;
}

struct packedctx {
	struct gs *s;
	struct refmap *m;
	bool box;
	int err;
};

static int packed_ref(const char *name, const char *oid, void *ctx)
{
	struct packedctx *c = ctx;
	return gitsync_refmap_add(c->m, name, oid);
}

static void packed_bad(unsigned line, const char *why, void *ctx)
{
	struct packedctx *c = ctx;
	if (c->box && c->err == 0)
		c->err = gitsync_note(c->s->p, "packed-refs line %u refused: %s", line, why);
}

int gitsync_read_packed(struct gs *s, int gitfd, struct refmap *m, bool box, bool *ret_present)
{
	/* sized by the file (cap + 1 at most: growth while read is caught) */
	struct stat st;
	size_t cap = fstatat(gitfd, "packed-refs", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			     S_ISREG(st.st_mode) && (uint64_t)st.st_size < GITSYNC_PACKED_MAX
			 ? (size_t)st.st_size + 1
			 : GITSYNC_PACKED_MAX;
	_cleanup_free_ char *buf = malloc(cap + 1);
	size_t len = 0;
	if (!buf)
		return -ENOMEM;
	int r = gitsync_read_small(gitfd, "packed-refs", cap, buf, &len);
	if (r == -EFBIG && cap < GITSYNC_PACKED_MAX)
		r = -EAGAIN; /* grew while read */
	if (ret_present)
		*ret_present = r == 0;
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return box ? gitsync_note(s->p, "packed-refs refused: %s",
					  r == -EFBIG    ? "larger than 8 MiB"
					  : r == -EAGAIN ? "it changed while it was read"
							 : strerror(-r))
			   : 0;
	struct packedctx c = { s, m, box, 0 };
	r = gitsync_parse_packed(buf, len, packed_ref, packed_bad, &c);
	return r < 0 ? r : c.err;
}

/* The value of name as the box sees it: upper loose > (not hidden) host
 * loose > packed-refs (the upper's when it has one, else the host's). */
static const char *box_value(struct gs *s, const char *name)
{
	const struct refent *e = gitsync_refmap_get(&s->box_loose, name);
	if (e && e->oid[0])
		return e->oid;
	if (!e && !upper_covers(s, name) && (e = gitsync_refmap_get(&s->host_loose, name)))
		return e->oid;
	e = gitsync_refmap_get(s->box_has_packed ? &s->box_packed : &s->host_packed, name);
	return e ? e->oid : NULL;
}

static const char *host_value(struct gs *s, const char *name)
{
	const struct refent *e = gitsync_refmap_get(&s->host_loose, name);
	if (!e)
		e = gitsync_refmap_get(&s->host_packed, name);
	return e ? e->oid : NULL;
}

static int add_candidate(struct gs *s, const char *name, const char *oid)
{
	char dest[GITSYNC_REF_MAX + 64];
	struct gitsync_plan *p = s->p;
	if (STREQ(name, "HEAD"))
		snprintf(dest, sizeof(dest), "refs/clawbox/%s/HEAD", s->b->name);
	else
		snprintf(dest, sizeof(dest), "refs/clawbox/%s/%s", s->b->name, name + 5);
	const char *hv = STREQ(name, "HEAD") ? s->host_head : host_value(s, name);
	const char *dv = host_value(s, dest);
	if ((hv && STREQ(hv, oid)) || (dv && STREQ(dv, oid)))
		return 0;
	if (!gitsync_refname_valid(dest))
		return gitsync_note(p, "ref '%s' not brought home: '%s' is not a valid ref name",
				    name, dest);
	if (p->nrefs >= GITSYNC_SYNC_REFS_MAX)
		return gitsync_note(p,
				    "more than %u refs changed: the others wait for the next sync",
				    GITSYNC_SYNC_REFS_MAX);
	if (array_grow_counted((void **)&p->refs, p->nrefs, sizeof(*p->refs)) < 0)
		return -ENOMEM;
	struct gitsync_ref *r = &p->refs[p->nrefs];
	memset(r, 0, sizeof(*r));
	r->name = strdup(name);
	r->dest = strdup(dest);
	if (!r->name || !r->dest) {
		free(r->name);
		free(r->dest);
		return -ENOMEM;
	}
	snprintf(r->oid, sizeof(r->oid), "%s", oid);
	p->nrefs++;
	return 0;
}

static bool wanted_ns(const char *name)
{
	return strncmp(name, "refs/heads/", 11) == 0 || strncmp(name, "refs/tags/", 10) == 0;
}

int gitsync_find_candidates(struct gs *s)
{
	int r = 0;
	/* sorted once, before the loops below walk them */
	(void)gitsync_refmap_get(&s->box_loose, "");
	(void)gitsync_refmap_get(&s->box_packed, "");
	(void)gitsync_refmap_get(&s->host_loose, "");
	(void)gitsync_refmap_get(&s->host_packed, "");
	for (size_t i = 0; r == 0 && i < s->box_loose.n; i++) {
		const char *n = s->box_loose.v[i].name;
		const char *v = box_value(s, n);
		if (v)
			r = add_candidate(s, n, v);
	}
	for (size_t i = 0; r == 0 && s->box_has_packed && i < s->box_packed.n; i++) {
		const char *n = s->box_packed.v[i].name;
		if (!wanted_ns(n) || gitsync_refmap_get(&s->box_loose, n))
			continue;
		if (i > 0 && STREQ(n, s->box_packed.v[i - 1].name))
			continue; /* listed twice */
		const char *v = box_value(s, n);
		if (v)
			r = add_candidate(s, n, v);
	}
	/* A detached HEAD. */
	char buf[GITSYNC_LOOSE_REF_MAX + 1], val[GITSYNC_REF_MAX + 1];
	size_t len = 0;
	int k = gitsync_read_small(s->upper_git, "HEAD", GITSYNC_LOOSE_REF_MAX, buf, &len);
	if (r == 0 && k == 0 && gitsync_parse_loose(buf, len, val) == GITSYNC_LOOSE_OID)
		r = add_candidate(s, "HEAD", val);
	else if (r == 0 && k == 0 && gitsync_parse_loose(buf, len, val) < 0)
		r = gitsync_note(s->p, "HEAD refused: neither an object id nor a ref");
	return r;
}

void gitsync_host_head(struct gs *s)
{
	char buf[GITSYNC_LOOSE_REF_MAX + 1], val[GITSYNC_REF_MAX + 1];
	size_t len = 0;
	s->host_head[0] = '\0';
	if (gitsync_read_small(s->host_git, "HEAD", GITSYNC_LOOSE_REF_MAX, buf, &len) < 0)
		return;
	int k = gitsync_parse_loose(buf, len, val);
	const char *v = k == GITSYNC_LOOSE_OID      ? val
			: k == GITSYNC_LOOSE_SYMREF ? host_value(s, val)
						    : NULL;
	if (v)
		snprintf(s->host_head, sizeof(s->host_head), "%s", v);
}
