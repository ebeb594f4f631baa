/* The git part of the sync gate (see gitsync.h and docs/SYNC.md "Git"). */
#include "util/common.h"

#include "state/audit.h"
#include "sync/gitsync.h"
#include "scan/scan.h"
#include "sync/syncpolicy.h"
#include "util/array.h"
#include "util/strv.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/utf8.h"

#include <dirent.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#define QDIR                  "git"      /* the quarantine repository in $BOX/sync */
#define QHOME                 "git-home" /* an empty $HOME for every git we run */
#define QIMPORTED             "clawbox-imported"
#define LOOSE_OBJ_MAX         (64u << 20)
#define LOOSE_TOTAL_MAX       (1ull << 30)
#define LOOSE_COUNT_MAX       500000u
#define PACK_MAX              (2ull << 30)
#define REF_OBJECTS_MAX       200000u /* new objects of one ref */
#define SCAN_TOTAL_MAX        (512ull << 20)
#define OUT_MAX               (64u << 20) /* output of a rev-list or log */
#define HOST_REFS_MAX         500000u     /* the host's refs (the box's: GITSYNC_REFS_MAX) */
#define FINDINGS_MAX          64
#define GITSYNC_SYNC_REFS_MAX 500u /* refs checked in one sync */

/* ---- parsers ------------------------------------------------------------- */

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

/* The error of a failed call, for the command layer. */
static int fail(struct gate_error *err, int r, const char *subject, const char *what)
{
	if (err) {
		gate_path_display(subject, err->subject, sizeof(err->subject));
		snprintf(err->what, sizeof(err->what), "%s: %s", what, strerror(-r));
	}
	return r;
}

/* ---- refs ----------------------------------------------------------------- */

struct refent {
	char *name;
	char oid[65]; /* "" for a deleted (whited-out) loose ref */
};
struct refmap {
	struct refent *v;
	size_t n, cap;
	size_t max; /* 0: GITSYNC_REFS_MAX */
	bool sorted, full;
};

static int refent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct refent *)a)->name, ((const struct refent *)b)->name);
}

static int refmap_add(struct refmap *m, const char *name, const char *oid)
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

static const struct refent *refmap_get(struct refmap *m, const char *name)
{
	if (!m->sorted) {
		if (m->n)
			qsort(m->v, m->n, sizeof(m->v[0]), refent_cmp);
		m->sorted = true;
	}
	struct refent key = { .name = (char *)name };
	return m->n ? bsearch(&key, m->v, m->n, sizeof(m->v[0]), refent_cmp) : NULL;
}

static void refmap_free(struct refmap *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].name);
	free(m->v);
	memset(m, 0, sizeof(*m));
}

/* ---- the working state of one plan ------------------------------------- */

struct obj {
	char oid[65];
	char type; /* 'c'ommit, 't'ree, 'b'lob, 'g' tag, '?' unknown */
	bool symlink, checked;
	uint64_t size;
	char *path;      /* a path it is at (for the scanner and messages) */
	char commit[65]; /* a commit that adds it at path */
	struct gitsync_finding *f;
	size_t nf;
};

struct gs {
	struct gate *g;
	const struct box *b;
	const struct sync_policy *pol;
	struct gitsync_plan *p;
	int root_fd, upper_git, host_git, sync_fd, q_fd;
	bool git_opaque;
	char qpath[PATH_MAX], home[PATH_MAX], gitbin[64];
	struct refmap box_loose, box_packed, host_loose, host_packed;
	bool box_has_packed;
	char host_head[65];
	size_t hexlen;
	struct obj *objs;
	size_t nobjs, cap;
	uint32_t *ht; /* open addressing: index + 1 into objs */
	size_t htcap;
	uint64_t scanned;
	/* per ref, while it is checked */
	uint32_t **ref_objs;
	size_t *ref_nobjs;
};

_printf_(2, 3) static int note(struct gitsync_plan *p, const char *fmt, ...)
{
	char raw[PATH_MAX + 256], disp[PATH_MAX + 256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	gate_path_display(raw, disp, sizeof(disp));
	for (size_t i = 0; i < p->nnotes; i++)
		if (STREQ(p->notes[i], disp))
			return 0;
	if (p->nnotes >= 256)
		return 0;
	if (array_grow_counted((void **)&p->notes, p->nnotes, sizeof(*p->notes)) < 0)
		return -ENOMEM;
	if (!(p->notes[p->nnotes] = strdup(disp)))
		return -ENOMEM;
	p->nnotes++;
	return 0;
}

/* A regular file beneath dirfd, at most max bytes, NUL-terminated. */
static int read_small(int dirfd, const char *name, size_t max, char *out, size_t *ret_len)
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
	for (;;) {
		ssize_t k = read(fd, out + len, max - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		len += (size_t)k;
		if (len == max)
			return -EFBIG;
	}
	out[len] = '\0';
	*ret_len = len;
	return 0;
}

static bool is_whiteout_st(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

static bool ovl_xattr(int fd, const char *attr)
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
		int fd = gate_openat(s->upper_git, part, O_PATH | O_NOFOLLOW, 0);
		if (fd < 0)
			return false;
		bool cov = fstat(fd, &st) == 0 && is_whiteout_st(&st);
		close(fd);
		if (cov)
			return true;
		fd = gate_openat(s->upper_git, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
		if (fd >= 0) {
			cov = ovl_xattr(fd, "opaque");
			close(fd);
			if (cov)
				return true;
		}
	}
	struct stat st;
	return fstatat(s->upper_git, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && is_whiteout_st(&st);
}

struct walkctx {
	struct gs *s;
	struct refmap *m;
	bool box;
};

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
		struct stat st;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			int fd = depth < 16 ? gate_openat(dirfd, de->d_name,
							  O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0)
					    : -ELOOP;
			if (fd >= 0) {
				r = walk_refs(w, fd, path, plen + 1 + nl, depth + 1);
				close(fd);
			}
		} else if (w->box && is_whiteout_st(&st)) {
			if (gitsync_refname_valid(path))
				r = refmap_add(w->m, path, "");
		} else if (S_ISREG(st.st_mode)) {
			char buf[GITSYNC_LOOSE_REF_MAX + 1], val[GITSYNC_REF_MAX + 1];
			size_t len = 0;
			int k = read_small(dirfd, de->d_name, GITSYNC_LOOSE_REF_MAX, buf, &len);
			if (!gitsync_refname_valid(path)) {
				if (w->box)
					r = note(w->s->p, "ref '%s' refused: an invalid ref name",
						 path);
			} else if (k == -EFBIG) {
				if (w->box)
					r = note(w->s->p, "ref '%s' refused: its file is too large",
						 path);
			} else if (k == 0 &&
				   (k = gitsync_parse_loose(buf, len, val)) == GITSYNC_LOOSE_OID) {
				r = refmap_add(w->m, path, val);
			} else if (k == GITSYNC_LOOSE_SYMREF) {
				if (w->box)
					r = note(w->s->p,
						 "ref '%s' not brought home: a symbolic ref", path);
			} else if (w->box) {
				r = note(w->s->p, "ref '%s' refused: not an object id", path);
			}
		} else if (w->box) {
			r = note(w->s->p, "ref '%s' refused: not a regular file", path);
		}
		path[plen] = '\0';
	}
	closedir(d);
	return r;
}

static int read_loose_refs(struct gs *s, int gitfd, const char *top, struct refmap *m, bool box)
{
	char path[GITSYNC_REF_MAX + 2];
	snprintf(path, sizeof(path), "%s", top);
	int fd = gate_openat(gitfd, top, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (fd == -ENOENT || fd == -ENOTDIR)
		return 0;
	if (fd < 0)
		return box ? note(s->p, "'%s' refused: %s", top, strerror(-fd)) : 0;
	struct walkctx w = { s, m, box };
	int r = walk_refs(&w, fd, path, strlen(path), 0);
	close(fd);
	if (r == 0 && m->full && box)
		r = note(s->p, "more than %u refs: the others are not brought home",
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
	return refmap_add(c->m, name, oid);
}

static void packed_bad(unsigned line, const char *why, void *ctx)
{
	struct packedctx *c = ctx;
	if (c->box && c->err == 0)
		c->err = note(c->s->p, "packed-refs line %u refused: %s", line, why);
}

static int read_packed(struct gs *s, int gitfd, struct refmap *m, bool box, bool *ret_present)
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
	int r = read_small(gitfd, "packed-refs", cap, buf, &len);
	if (r == -EFBIG && cap < GITSYNC_PACKED_MAX)
		r = -EAGAIN; /* grew while read */
	if (ret_present)
		*ret_present = r == 0;
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return box ? note(s->p, "packed-refs refused: %s",
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
	const struct refent *e = refmap_get(&s->box_loose, name);
	if (e && e->oid[0])
		return e->oid;
	if (!e && !upper_covers(s, name) && (e = refmap_get(&s->host_loose, name)))
		return e->oid;
	e = refmap_get(s->box_has_packed ? &s->box_packed : &s->host_packed, name);
	return e ? e->oid : NULL;
}

static const char *host_value(struct gs *s, const char *name)
{
	const struct refent *e = refmap_get(&s->host_loose, name);
	if (!e)
		e = refmap_get(&s->host_packed, name);
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
		return note(p, "ref '%s' not brought home: '%s' is not a valid ref name", name,
			    dest);
	if (p->nrefs >= GITSYNC_SYNC_REFS_MAX)
		return note(p, "more than %u refs changed: the others wait for the next sync",
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

static int find_candidates(struct gs *s)
{
	int r = 0;
	/* sorted once, before the loops below walk them */
	(void)refmap_get(&s->box_loose, "");
	(void)refmap_get(&s->box_packed, "");
	(void)refmap_get(&s->host_loose, "");
	(void)refmap_get(&s->host_packed, "");
	for (size_t i = 0; r == 0 && i < s->box_loose.n; i++) {
		const char *n = s->box_loose.v[i].name;
		const char *v = box_value(s, n);
		if (v)
			r = add_candidate(s, n, v);
	}
	for (size_t i = 0; r == 0 && s->box_has_packed && i < s->box_packed.n; i++) {
		const char *n = s->box_packed.v[i].name;
		if (!wanted_ns(n) || refmap_get(&s->box_loose, n))
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
	int k = read_small(s->upper_git, "HEAD", GITSYNC_LOOSE_REF_MAX, buf, &len);
	if (r == 0 && k == 0 && gitsync_parse_loose(buf, len, val) == GITSYNC_LOOSE_OID)
		r = add_candidate(s, "HEAD", val);
	else if (r == 0 && k == 0 && gitsync_parse_loose(buf, len, val) < 0)
		r = note(s->p, "HEAD refused: neither an object id nor a ref");
	return r;
}

static void host_head(struct gs *s)
{
	char buf[GITSYNC_LOOSE_REF_MAX + 1], val[GITSYNC_REF_MAX + 1];
	size_t len = 0;
	s->host_head[0] = '\0';
	if (read_small(s->host_git, "HEAD", GITSYNC_LOOSE_REF_MAX, buf, &len) < 0)
		return;
	int k = gitsync_parse_loose(buf, len, val);
	const char *v = k == GITSYNC_LOOSE_OID      ? val
			: k == GITSYNC_LOOSE_SYMREF ? host_value(s, val)
						    : NULL;
	if (v)
		snprintf(s->host_head, sizeof(s->host_head), "%s", v);
}

/* ---- running git ----------------------------------------------------------- */

struct run {
	int in_fd;      /* stdin, or -1 */
	const char *in; /* else these bytes (or nothing) */
	size_t inlen;
	struct buf *out; /* stdout collected, or */
	int (*sink)(void *ctx, const char *data, size_t len);
	void *ctx;
	char err[240]; /* the first line of its stderr */
	int status;    /* exit status, or 128 + signal */
};

static int find_git(struct gs *s)
{
	static const char *const paths[] = { "/usr/bin/git", "/usr/local/bin/git", "/bin/git" };
	for (size_t i = 0; i < ELEMENTSOF(paths); i++)
		if (access(paths[i], X_OK) == 0) {
			snprintf(s->gitbin, sizeof(s->gitbin), "%s", paths[i]);
			return 0;
		}
	return -ENOENT;
}

static int memfd_with(const char *data, size_t len)
{
	int fd = memfd_create("clawbox-git", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = fs_write_all(fd, data, len);
	if (r == 0 && lseek(fd, 0, SEEK_SET) < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

/* Run git with args (after our fixed options) in a clean environment. */
static int git_run(struct gs *s, const char *const *args, struct run *rn)
{
	char home[PATH_MAX + 8], sd1[PATH_MAX + 32], sd2[PATH_MAX + 32], sd3[PATH_MAX + 32];
	const char *argv[64];
	size_t n = 0;
	snprintf(home, sizeof(home), "HOME=%s", s->home);
	snprintf(sd1, sizeof(sd1), "safe.directory=%s", s->qpath);
	snprintf(sd2, sizeof(sd2), "safe.directory=%s", s->b->project);
	snprintf(sd3, sizeof(sd3), "safe.directory=%s/.git", s->b->project);
	const char *const envp[] = { "PATH=/usr/local/bin:/usr/bin:/bin",
				     home,
				     "GIT_CONFIG_NOSYSTEM=1",
				     "GIT_CONFIG_GLOBAL=/dev/null",
				     "GIT_TERMINAL_PROMPT=0",
				     "GIT_NO_REPLACE_OBJECTS=1",
				     "GIT_ATTR_NOSYSTEM=1",
				     "GIT_NO_LAZY_FETCH=1",
				     "LC_ALL=C",
				     NULL };
	const char *fixed[] = { "git",
				"-c",
				"core.hooksPath=/dev/null",
				"-c",
				"core.fsmonitor=false",
				"-c",
				sd1,
				"-c",
				sd2,
				"-c",
				sd3 };
	for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
		argv[n++] = fixed[i];
	for (; *args && n < ELEMENTSOF(argv) - 1; args++)
		argv[n++] = *args;
	argv[n] = NULL;

	int in = rn->in_fd >= 0 ? fcntl(rn->in_fd, F_DUPFD_CLOEXEC, 3)
		 : rn->in       ? memfd_with(rn->in, rn->inlen)
				: open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return in == -1 ? -errno : in;
	int errfd = memfd_create("clawbox-git-err", MFD_CLOEXEC), pfd[2] = { -1, -1 };
	if (errfd < 0 || pipe2(pfd, O_CLOEXEC) < 0) {
		int e = -errno;
		close(in);
		if (errfd >= 0)
			close(errfd);
		return e;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		if (dup2(in, 0) < 0 || dup2(pfd[1], 1) < 0 || dup2(errfd, 2) < 0)
			_exit(127);
		execve(s->gitbin, (char *const *)argv, (char *const *)envp);
		_exit(127);
	}
	int e = pid < 0 ? -errno : 0;
	close(in);
	close(pfd[1]);
	char buf[65536];
	int r = 0;
	for (;;) {
		if (pid < 0)
			break;
		ssize_t k = read(pfd[0], buf, sizeof(buf));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		if (r < 0)
			continue; /* drain */
		if (rn->sink)
			r = rn->sink(rn->ctx, buf, (size_t)k);
		else if (rn->out)
			r = buf_append(rn->out, buf, (size_t)k);
		if (r < 0)
			kill(pid, SIGKILL);
	}
	close(pfd[0]);
	int st = 0;
	while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	rn->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	ssize_t k = pread(errfd, rn->err, sizeof(rn->err) - 1, 0);
	rn->err[k > 0 ? k : 0] = '\0';
	rn->err[strcspn(rn->err, "\n")] = '\0';
	close(errfd);
	return e < 0 ? e : r;
}

#define GIT(s, rn, ...) git_run((s), (const char *const[]){ __VA_ARGS__, NULL }, (rn))

/* ---- the quarantine -------------------------------------------------------- */

static int q_setup(struct gs *s, const char *format)
{
	char alt[PATH_MAX + 16];
	struct run rn = { .in_fd = -1 };
	int r;
	if (strpbrk(s->b->project, "\n\"") || s->b->project[0] != '/')
		return -EINVAL;
	if (faccessat(s->sync_fd, QDIR "/HEAD", F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
		r = fs_remove_tree_at(s->sync_fd, QDIR);
		if (r < 0 && r != -ENOENT)
			return r;
		char fmt[32];
		snprintf(fmt, sizeof(fmt), "--object-format=%s", format);
		r = GIT(s, &rn, "init", "--bare", "-q", fmt, s->qpath);
		if (r < 0)
			return r;
		if (rn.status != 0)
			return -EIO;
	}
	s->q_fd = gate_openat(s->sync_fd, QDIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (s->q_fd < 0)
		return s->q_fd;
	int n = snprintf(alt, sizeof(alt), "%s/.git/objects\n", s->b->project);
	if (n < 0 || (size_t)n >= sizeof(alt))
		return -ENAMETOOLONG;
	int info = gate_openat(s->q_fd, "objects/info", O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (info < 0)
		return info;
	r = fs_write_atomic_at(info, "alternates", alt, (size_t)n, 0600);
	close(info);
	return r;
}

static bool hex_name(const char *n, size_t len)
{
	if (strlen(n) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((n[i] >= '0' && n[i] <= '9') || (n[i] >= 'a' && n[i] <= 'f')))
			return false;
	return true;
}

static int copy_loose(struct gs *s, int src_dir, int dst_dir, const char *name, uint64_t *total)
{
	_cleanup_close_ int fd =
	    gate_openat(src_dir, name, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW, 0);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return 0; /* a whiteout, a link, ...: not an object */
	if ((uint64_t)st.st_size > LOOSE_OBJ_MAX || *total + (uint64_t)st.st_size > LOOSE_TOTAL_MAX)
		return -EFBIG;
	size_t cap = (size_t)st.st_size + 1, len = 0;
	_cleanup_free_ char *data = malloc(cap);
	if (!data)
		return -ENOMEM;
	for (;;) {
		ssize_t k = read(fd, data + len, cap - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0 || (len += (size_t)k) == cap)
			break;
	}
	if (len == cap)
		return 0; /* grew while read: next time */
	*total += len;
	char tmp[96];
	snprintf(tmp, sizeof(tmp), "tmp-clawbox-%s", name);
	(void)unlinkat(dst_dir, tmp, 0);
	int out = openat(dst_dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
	if (out < 0)
		return -errno;
	int r = fs_write_all(out, data, len);
	close(out);
	if (r == 0 && renameat(dst_dir, tmp, dst_dir, name) < 0)
		r = -errno;
	if (r < 0)
		(void)unlinkat(dst_dir, tmp, 0);
	return r;
}

/* The box's loose objects (objects/xx/yyyy, regular files) into Q. */
static int import_loose(struct gs *s, int objdir)
{
	DIR *d = fs_opendir_dup(objdir);
	struct dirent *de;
	uint64_t total = 0, count = 0;
	int r = 0;
	if (!d)
		return -errno;
	while (r == 0 && (de = readdir(d))) {
		if (!hex_name(de->d_name, 2))
			continue;
		int sub = gate_openat(objdir, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
		if (sub < 0)
			continue;
		char qsub[16];
		snprintf(qsub, sizeof(qsub), "objects/%s", de->d_name);
		(void)mkdirat(s->q_fd, qsub, 0755);
		int dst = gate_openat(s->q_fd, qsub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
		DIR *d2 = dst >= 0 ? fs_opendir_dup(sub) : NULL;
		struct dirent *e2;
		while (r == 0 && d2 && (e2 = readdir(d2))) {
			if (!hex_name(e2->d_name, s->hexlen - 2))
				continue;
			if (++count > LOOSE_COUNT_MAX)
				r = -EFBIG;
			else if (faccessat(dst, e2->d_name, F_OK, AT_SYMLINK_NOFOLLOW) != 0)
				r = copy_loose(s, sub, dst, e2->d_name, &total);
		}
		if (d2)
			closedir(d2);
		if (dst >= 0)
			close(dst);
		close(sub);
	}
	closedir(d);
	if (r == -EFBIG)
		r = note(s->p, "the box's loose objects are over the cap (1 GiB or 500 000 "
			       "objects): the others are not imported");
	return r;
}

/* The box's packs (objects/pack/pack-*.pack only: never its .idx) through
 * 'git index-pack --strict', which checks every object. */
static int import_packs(struct gs *s, int objdir)
{
	int pd = gate_openat(objdir, "pack", O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (pd < 0)
		return 0;
	DIR *d = fs_opendir_dup(pd);
	struct dirent *de;
	int r = 0;
	char done[65536];
	size_t dlen = 0;
	if (read_small(s->q_fd, QIMPORTED, sizeof(done) - 1, done, &dlen) < 0)
		done[0] = '\0', dlen = 0;
	while (d && r == 0 && (de = readdir(d))) {
		size_t nl = strlen(de->d_name);
		if (nl < 10 || strncmp(de->d_name, "pack-", 5) != 0 ||
		    strcmp(de->d_name + nl - 5, ".pack") != 0)
			continue;
		_cleanup_close_ int fd =
		    gate_openat(pd, de->d_name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW, 0);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		char key[PATH_MAX];
		snprintf(key, sizeof(key), "%s %lld\n", de->d_name, (long long)st.st_size);
		if (strstr(done, key))
			continue;
		if ((uint64_t)st.st_size > PACK_MAX) {
			r = note(s->p, "the box's pack '%s' is larger than 2 GiB: not imported",
				 de->d_name);
			continue;
		}
		char max[48];
		snprintf(max, sizeof(max), "--max-input-size=%llu", (unsigned long long)PACK_MAX);
		struct run rn = { .in_fd = fd };
		r = GIT(s, &rn, "-C", s->qpath, "index-pack", "--stdin", "--strict", max);
		if (r < 0)
			break;
		if (rn.status != 0) {
			r = note(s->p, "the box's pack '%s' was refused by git index-pack: %s",
				 de->d_name, rn.err);
			continue;
		}
		if (dlen + strlen(key) < sizeof(done)) {
			memcpy(done + dlen, key, strlen(key) + 1);
			dlen += strlen(key);
			r = fs_write_atomic_at(s->q_fd, QIMPORTED, done, dlen, 0600);
		}
	}
	if (d)
		closedir(d);
	close(pd);
	return r;
}

/* ---- objects and checks --------------------------------------------------- */

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

_printf_(6, 7) static int add_finding(struct gitsync_finding **v, size_t *n, const char *rule,
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
			r = add_finding(&ref->findings, &ref->nfindings, "name-control", path, 0,
					"the file name holds a control character (0x%02x)", *c);
	if (r == 0 && ref->nfindings == before && !utf8_valid(path))
		r = add_finding(&ref->findings, &ref->nfindings, "name-encoding", path, 0,
				"the file name is not valid UTF-8");
	if (r == 0 && has_dotgit(path))
		r = add_finding(&ref->findings, &ref->nfindings, "git-path", path, 0,
				"a path through a '.git' (git would treat it as a repository)");
	if (r == 0 && (m = syncpolicy_denied(s->pol, path)))
		r = add_finding(&ref->findings, &ref->nfindings, "path-deny", path, 0,
				"denied by the pattern '%s'", m);
	if (r == 0 && !syncpolicy_allowed(s->pol, path))
		r = add_finding(&ref->findings, &ref->nfindings, "path-not-allowed", path, 0,
				"not matched by any allow pattern");
	if (r == 0 && (mode & 0170000) != 0160000 && (m = syncpolicy_blocked_ext(s->pol, path)))
		r = add_finding(&ref->findings, &ref->nfindings, "credential-file", path, 0,
				"credential file type '%s' is never synced", m);
	const char *why = NULL;
	if (r == 0 && (m = syncpolicy_needs_approval(s->pol, path, &why))) {
		r = add_finding(&ref->findings, &ref->nfindings, "path-approval", path, 0,
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
static int host_tips(struct gs *s, struct refmap *ret)
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
			if (!refmap_get(ret, l))
				r = refmap_add(ret, l, l);
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
	return add_finding(&ref->findings, &ref->nfindings, rule, NULL, 0, "%s", reason);
}

/* The objects of ref new to the host, and the paths its commits add. */
static int list_ref(struct gs *s, size_t idx, const struct refmap *tips)
{
	struct gitsync_ref *ref = &s->p->refs[idx];
	struct buf in = BUF_INIT(64u << 20), out = BUF_INIT(OUT_MAX);
	int r = ref_stdin(s, ref, tips, &in);
	struct run rn = { .in_fd = -1, .in = in.data, .inlen = in.len, .out = &out };
	if (r == 0)
		r = GIT(s, &rn, "-C", s->qpath, "rev-list", "--objects", "--stdin");
	if (r == -E2BIG || (r == 0 && rn.status != 0)) {
		r = r == -E2BIG
			? held(ref, "git-cap", "%s", "too many new objects to check")
			: held(ref, "git-history",
			       "its history cannot be read in full from the box (missing or "
			       "broken objects): %s",
			       rn.err);
		goto out;
	}
	for (char *l = out.data, *e; r == 0 && l && (e = strchr(l, '\n')); l = e + 1) {
		*e = '\0';
		char *sp = strchr(l, ' ');
		if (sp)
			*sp = '\0';
		uint32_t oi;
		if (strlen(l) != s->hexlen)
			continue;
		if (s->ref_nobjs[idx] >= REF_OBJECTS_MAX) {
			r = held(ref, "git-cap", "more than %s new objects: too many to check",
				 "200000");
			goto out;
		}
		if ((r = obj_get(s, l, &oi)) < 0)
			break;
		if (array_grow_counted((void **)&s->ref_objs[idx], s->ref_nobjs[idx],
				       sizeof(*s->ref_objs[idx])) < 0) {
			r = -ENOMEM;
			break;
		}
		s->ref_objs[idx][s->ref_nobjs[idx]++] = oi;
		if (sp && sp[1] && !s->objs[oi].path && !(s->objs[oi].path = strdup(sp + 1)))
			r = -ENOMEM;
	}
	ref->objects = s->ref_nobjs[idx];
	buf_reset(&out);
	rn = (struct run){ .in_fd = -1, .in = in.data, .inlen = in.len, .out = &out };
	if (r == 0)
		r = GIT(s, &rn, "-C", s->qpath, "log", "-z", "--raw", "--no-renames", "--no-abbrev",
			"-m", "--root", "--no-color", "--no-ext-diff", "--no-textconv",
			"--format=tformat:%x01%H", "--stdin");
	if (r == -E2BIG || (r == 0 && rn.status != 0)) {
		r = held(ref, "git-history", "its history cannot be read in full: %s",
			 r == -E2BIG ? "too many changes" : rn.err);
		goto out;
	}
	struct rawctx rc = { s, ref };
	if (r == 0 && out.len && gitsync_parse_raw(out.data, out.len, on_raw, &rc) == -EBADMSG)
		r = held(ref, "git-history", "%s", "git log's output could not be read");
out:
	buf_free(&in);
	buf_free(&out);
	return r;
}

/* Types and sizes of every object listed. */
static int check_types(struct gs *s)
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
		return add_finding(&c->o->f, &c->o->nf, f->rule_id, NULL, f->start_line,
				   "holds the box's secret %s", f->known_name);
	return add_finding(&c->o->f, &c->o->nf, f->rule_id, NULL, f->start_line, "secret: %s",
			   f->description ? f->description : "secret");
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
	struct gate_error ge;
	int r = 0;
	if (o->type == 'b' && o->symlink && !link_inside(o->path ? o->path : "", data, len))
		r = add_finding(&o->f, &o->nf, "symlink-escape", NULL, 0,
				"a symlink whose target leaves the project");
	if (r == 0)
		r = gate_scan_data(s->g, o->type == 'b' ? o->path : NULL, data, len, on_secret, &c,
				   &ge);
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

/* Contents of every commit, tag and blob (under the size limit), scanned
 * once each. A git that dies on a broken object is started again after it
 * (at most 8 times); what stays unread is held. */
static int check_contents(struct gs *s)
{
	struct buf in = BUF_INIT(256u << 20);
	uint32_t *todo = calloc(s->nobjs + 1, sizeof(*todo));
	size_t n = 0;
	int r = 0;
	if (!todo)
		return -ENOMEM;
	for (size_t i = 0; i < s->nobjs; i++) {
		struct obj *o = &s->objs[i];
		if (o->type == 't')
			continue;
		if (o->type == '?') {
			r = add_finding(&o->f, &o->nf, "git-object", NULL, 0,
					"an object that cannot be read");
		} else if (o->size > s->pol->max_size) {
			r = add_finding(&o->f, &o->nf, "size-limit", NULL, 0,
					"%llu bytes, over the limit of %llu bytes",
					(unsigned long long)o->size,
					(unsigned long long)s->pol->max_size);
		} else if (s->scanned + o->size > SCAN_TOTAL_MAX) {
			r = add_finding(&o->f, &o->nf, "git-cap", NULL, 0,
					"over the cap of what one sync checks (512 MiB): next "
					"time");
		} else {
			s->scanned += o->size;
			todo[n++] = (uint32_t)i;
		}
		if (r < 0)
			break;
	}
	for (int round = 0; r == 0 && n && round < 8; round++) {
		buf_reset(&in);
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
			r = 0; /* output git should not give: the object is held below */
		if (r < 0)
			break;
		if (bt.done >= n)
			n = 0;
		else {
			struct obj *o = &s->objs[todo[bt.done]];
			r = add_finding(&o->f, &o->nf, "git-object", NULL, 0,
					"an object that cannot be read");
			memmove(todo, todo + bt.done + 1, (n - bt.done - 1) * sizeof(*todo));
			n -= bt.done + 1;
		}
	}
	for (size_t i = 0; r == 0 && i < n; i++) {
		struct obj *o = &s->objs[todo[i]];
		r = add_finding(&o->f, &o->nf, "git-object", NULL, 0,
				"an object that cannot be read");
	}
	free(todo);
	buf_free(&in);
	return r;
}

/* The verdict of each ref from the findings of its objects. */
static int judge(struct gs *s, size_t idx)
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
			r = add_finding(&ref->findings, &ref->nfindings, f->rule, path, f->line,
					"%s", f->reason);
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

/* ---- plan ------------------------------------------------------------------- */

static int files_notes(struct gs *s, const struct gate_plan *files, bool host_repo)
{
	int r = 0;
	for (size_t i = 0; files && i < files->n && r == 0; i++) {
		const char *p = files->v[i].path;
		if (!host_repo && STREQ(p, ".git"))
			r = note(s->p, "the box's repository (.git made in the box) is not brought "
				       "home: the project on the host has none");
		const char *g = strstr(p, "/.git");
		if (g && (g[5] == '\0' || g[5] == '/')) {
			char dir[PATH_MAX];
			snprintf(dir, sizeof(dir), "%.*s", (int)(g - p), p);
			r = note(s->p, "nested repositories are not brought home: '%s'", dir);
		}
	}
	return r;
}

static void gs_free(struct gs *s)
{
	refmap_free(&s->box_loose);
	refmap_free(&s->box_packed);
	refmap_free(&s->host_loose);
	refmap_free(&s->host_packed);
	for (size_t i = 0; i < s->nobjs; i++) {
		free(s->objs[i].path);
		for (size_t j = 0; j < s->objs[i].nf; j++) {
			free(s->objs[i].f[j].path);
			free(s->objs[i].f[j].where);
		}
		free(s->objs[i].f);
	}
	free(s->objs);
	free(s->ht);
	for (size_t i = 0; s->ref_objs && i < s->p->nrefs; i++)
		free(s->ref_objs[i]);
	free(s->ref_objs);
	free(s->ref_nobjs);
	int fds[] = { s->root_fd, s->upper_git, s->host_git, s->sync_fd, s->q_fd };
	for (size_t i = 0; i < ELEMENTSOF(fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static int object_format(struct gs *s, char *out, size_t n)
{
	struct buf b = BUF_INIT(4096);
	struct run rn = { .in_fd = -1, .out = &b };
	int r = GIT(s, &rn, "-C", s->b->project, "rev-parse", "--show-object-format");
	if (r == 0 && rn.status == 0 && b.data) {
		b.data[strcspn(b.data, "\n")] = '\0';
		snprintf(out, n, "%s", b.data);
	} else if (r == 0)
		r = -EIO;
	buf_free(&b);
	if (r == 0 && !STREQ(out, "sha1") && !STREQ(out, "sha256"))
		r = -EPROTONOSUPPORT;
	return r;
}

static int open_repos(struct gs *s, const struct gate_plan *files, bool *ret_go)
{
	char path[PATH_MAX];
	int r;
	*ret_go = false;
	if ((r = path_join(path, sizeof(path), s->b->data, "upper")) < 0)
		return r;
	int upper = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (upper < 0)
		return -errno;
	s->upper_git = gate_openat(upper, ".git", O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	struct stat st;
	bool upper_has = fstatat(upper, ".git", &st, AT_SYMLINK_NOFOLLOW) == 0;
	bool upper_whiteout = upper_has && is_whiteout_st(&st);
	close(upper);
	s->root_fd = open(s->b->project, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s->root_fd < 0)
		return -errno;
	s->host_git = gate_openat(s->root_fd, ".git", O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	int hs = fstatat(s->root_fd, ".git", &st, AT_SYMLINK_NOFOLLOW);
	if ((r = files_notes(s, files, s->host_git >= 0)) < 0)
		return r;
	if (!upper_has || upper_whiteout)
		return 0; /* nothing of git changed in the box (a removed .git is never applied) */
	if (s->upper_git < 0)
		return note(s->p, "the box replaced .git by something else than a directory: not "
				  "brought home");
	if (hs < 0)
		return 0; /* said by files_notes */
	if (s->host_git < 0)
		return note(s->p, "the project's .git is not a directory (a worktree or a "
				  "submodule): the box's commits are not brought home");
	if (faccessat(s->host_git, "commondir", F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
	    faccessat(s->host_git, "reftable", F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
	    faccessat(s->upper_git, "reftable", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return note(s->p, "the project's repository layout (commondir or reftable) is not "
				  "supported: the box's commits are not brought home");
	int fd = gate_openat(s->upper_git, ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (fd >= 0) {
		/* a .git the box removed and made again hides the host's refs */
		struct stat gst;
		s->git_opaque = ovl_xattr(fd, "opaque") && fstat(fd, &gst) == 0;
		close(fd);
	}
	*ret_go = true;
	return 0;
}

int gitsync_plan(struct gate *g, const struct box *b, const struct gate_plan *files,
		 struct gitsync_plan *ret, struct gate_error *err)
{
	struct gitsync_plan p = { 0 };
	struct gs s = { .g = g, .b = b, .pol = gate_policy(g), .p = &p };
	s.root_fd = s.upper_git = s.host_git = s.sync_fd = s.q_fd = -1;
	bool go = false;
	char fmt[16];
	int r;
	if (err)
		memset(err, 0, sizeof(*err));
	s.host_loose.max = s.host_packed.max = HOST_REFS_MAX;
	r = open_repos(&s, files, &go);
	if (r < 0 || !go)
		goto done;
	if ((r = read_loose_refs(&s, s.upper_git, "refs/heads", &s.box_loose, true)) < 0 ||
	    (r = read_loose_refs(&s, s.upper_git, "refs/tags", &s.box_loose, true)) < 0 ||
	    (r = read_packed(&s, s.upper_git, &s.box_packed, true, &s.box_has_packed)) < 0 ||
	    (r = read_loose_refs(&s, s.host_git, "refs", &s.host_loose, false)) < 0 ||
	    (r = read_packed(&s, s.host_git, &s.host_packed, false, NULL)) < 0)
		goto done;
	host_head(&s);
	if ((r = find_candidates(&s)) < 0 || p.nrefs == 0)
		goto done;

	/* Work to do: git from here on. */
	if (find_git(&s) < 0) {
		r = note(&p, "git is not installed: the box's commits are not brought home");
		goto drop;
	}
	if ((r = path_join(s.qpath, sizeof(s.qpath), b->data, GATE_DIR_NAME "/" QDIR)) < 0 ||
	    (r = path_join(s.home, sizeof(s.home), b->data, GATE_DIR_NAME "/" QHOME)) < 0)
		goto done;
	s.sync_fd = open(b->data, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s.sync_fd >= 0) {
		int sfd =
		    gate_openat(s.sync_fd, GATE_DIR_NAME, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
		close(s.sync_fd);
		s.sync_fd = sfd;
	}
	if (s.sync_fd < 0) {
		r = s.sync_fd;
		goto done;
	}
	if (mkdirat(s.sync_fd, QHOME, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		goto done;
	}
	if ((r = object_format(&s, fmt, sizeof(fmt))) < 0) {
		r = note(&p,
			 "the project's repository cannot be read by git (%s): the box's "
			 "commits are not brought home",
			 strerror(-r));
		goto drop;
	}
	s.hexlen = STREQ(fmt, "sha1") ? 40 : 64;
	for (size_t i = 0; i < p.nrefs;) {
		if (strlen(p.refs[i].oid) != s.hexlen) {
			r = note(&p, "ref '%s' refused: its value is not a %s object id",
				 p.refs[i].name, fmt);
			free(p.refs[i].name);
			free(p.refs[i].dest);
			memmove(&p.refs[i], &p.refs[i + 1], (p.nrefs - i - 1) * sizeof(p.refs[0]));
			p.nrefs--;
		} else
			i++;
	}
	if (p.nrefs == 0)
		goto done;
	if ((r = q_setup(&s, fmt)) == -EINVAL) {
		r = note(&p, "the project's path cannot be named in an alternates file (a newline "
			     "or a quote): the box's commits are not brought home");
		goto drop;
	}
	if (r < 0) {
		fail(err, r, s.qpath, "cannot prepare the quarantine repository");
		goto done;
	}
	int objdir = gate_openat(s.upper_git, "objects", O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (objdir >= 0) {
		r = import_loose(&s, objdir);
		if (r == 0)
			r = import_packs(&s, objdir);
		close(objdir);
		if (r < 0)
			goto done;
	}
	struct refmap tips = { 0 };
	s.ref_objs = calloc(p.nrefs, sizeof(*s.ref_objs));
	s.ref_nobjs = calloc(p.nrefs, sizeof(*s.ref_nobjs));
	r = s.ref_objs && s.ref_nobjs ? host_tips(&s, &tips) : -ENOMEM;
	for (size_t i = 0; r == 0 && i < p.nrefs; i++)
		r = list_ref(&s, i, &tips);
	refmap_free(&tips);
	if (r == 0)
		r = check_types(&s);
	if (r == 0)
		r = check_contents(&s);
	for (size_t i = 0; r == 0 && i < p.nrefs; i++)
		r = judge(&s, i);
	if (r < 0 && err && !err->what[0])
		fail(err, r, "git", "cannot check the box's commits");
	goto done;
drop:
	for (size_t i = 0; i < p.nrefs; i++) {
		free(p.refs[i].name);
		free(p.refs[i].dest);
	}
	free(p.refs);
	p.refs = NULL;
	p.nrefs = 0;
done:
	gs_free(&s);
	if (r < 0) {
		if (err && !err->what[0])
			fail(err, r, "git", "cannot read the box's repository");
		gitsync_plan_free(&p);
		return r;
	}
	*ret = p;
	return 0;
}

void gitsync_plan_free(struct gitsync_plan *p)
{
	for (size_t i = 0; i < p->nrefs; i++) {
		free(p->refs[i].name);
		free(p->refs[i].dest);
		for (size_t j = 0; j < p->refs[i].nfindings; j++) {
			free(p->refs[i].findings[j].path);
			free(p->refs[i].findings[j].where);
		}
		free(p->refs[i].findings);
	}
	free(p->refs);
	strv_free_n(p->notes, p->nnotes);
	memset(p, 0, sizeof(*p));
}

size_t gitsync_pending(const struct gitsync_plan *p)
{
	size_t n = 0;
	for (size_t i = 0; i < p->nrefs; i++)
		n += p->refs[i].verdict != GITSYNC_FETCHED;
	return n;
}

const char *gitsync_verdict_name(enum gitsync_verdict v)
{
	static const char *const names[] = { [GITSYNC_FETCH] = "fetch",
					     [GITSYNC_HELD] = "held",
					     [GITSYNC_FETCHED] = "fetched",
					     [GITSYNC_FAILED] = "failed" };
	return names[v];
}

/* ---- apply -------------------------------------------------------------- */

static json_t *held_json(const struct gitsync_ref *r)
{
	const struct gitsync_finding *f = NULL;
	for (size_t j = 0; j < r->nfindings && !f; j++)
		if (!r->findings[j].note)
			f = &r->findings[j];
	char path[PATH_MAX] = "", ref[GITSYNC_REF_MAX * 4 + 8];
	gate_path_display(r->name, ref, sizeof(ref));
	if (f && f->path)
		gate_path_display(f->path, path, sizeof(path));
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "ref", ref, "oid", r->oid, "rule",
			      f ? f->rule : "", "object", f ? f->object : "", "path", path,
			      "reason", f ? f->reason : "");
	if (j && f && f->line)
		json_object_set_new(j, "line", json_integer(f->line));
	return j;
}

int gitsync_audit_held(const struct box *b, const struct gitsync_plan *p,
		       bool (*log_held)(const struct gitsync_ref *r, void *ctx), void *ctx)
{
	struct audit *a = NULL;
	int r = 0;
	for (size_t i = 0; i < p->nrefs && r == 0; i++) {
		const struct gitsync_ref *ref = &p->refs[i];
		if ((ref->verdict != GITSYNC_HELD && ref->verdict != GITSYNC_FAILED) ||
		    (log_held && !log_held(ref, ctx)))
			continue;
		if (!a && (r = audit_open(b->dir, b->name, &a)) < 0)
			break;
		r = audit_append(a, "sync.git.held", held_json(ref));
	}
	audit_close(a);
	return r;
}

/* refs/clawbox-q/I of the quarantine: what the fetch takes ref I from (a
 * cache of ours: no fsync). */
static int write_qref(struct gs *s, size_t i, const char *oid)
{
	char name[48], line[80];
	int n = snprintf(line, sizeof(line), "%s\n", oid);
	snprintf(name, sizeof(name), "refs/clawbox-q/%zu", i);
	int fd = openat(s->q_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	int r = fs_write_all(fd, line, (size_t)n);
	close(fd);
	return r;
}

static int fetch(struct gs *s, struct gitsync_plan *p, const size_t *idx, size_t n, struct run *rn)
{
	const char *args[48 + 32];
	char spec[32][GITSYNC_REF_MAX + 96];
	size_t k = 0;
	const char *fixed[] = { "-C",
				s->b->project,
				"-c",
				"transfer.fsckObjects=true",
				"-c",
				"fetch.writeCommitGraph=false",
				"fetch",
				"-q",
				"--no-tags",
				"--no-prune",
				"--no-write-fetch-head",
				"--no-recurse-submodules",
				"--no-auto-gc",
				"--no-show-forced-updates",
				s->qpath };
	for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
		args[k++] = fixed[i];
	for (size_t i = 0; i < n && i < 32; i++) {
		snprintf(spec[i], sizeof(spec[i]), "+refs/clawbox-q/%zu:%s", idx[i],
			 p->refs[idx[i]].dest);
		args[k++] = spec[i];
	}
	args[k] = NULL;
	*rn = (struct run){ .in_fd = -1 };
	return git_run(s, args, rn);
}

int gitsync_apply(struct gate *g, const struct box *b, struct gitsync_plan *p,
		  bool (*log_held)(const struct gitsync_ref *r, void *ctx), void *ctx,
		  struct gate_error *err)
{
	struct gs s = { .g = g, .b = b, .pol = gate_policy(g), .p = p };
	s.root_fd = s.upper_git = s.host_git = s.sync_fd = s.q_fd = -1;
	size_t idx[32], n = 0;
	struct audit *a = NULL;
	int r = 0;
	if (err)
		memset(err, 0, sizeof(*err));
	for (size_t i = 0; i < p->nrefs; i++)
		if (p->refs[i].verdict == GITSYNC_FETCH)
			n++;
	if (n == 0)
		goto logheld;
	if ((r = find_git(&s)) < 0 ||
	    (r = path_join(s.qpath, sizeof(s.qpath), b->data, GATE_DIR_NAME "/" QDIR)) < 0 ||
	    (r = path_join(s.home, sizeof(s.home), b->data, GATE_DIR_NAME "/" QHOME)) < 0)
		goto out;
	s.q_fd = open(s.qpath, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s.q_fd < 0) {
		r = s.q_fd;
		goto out;
	}
	(void)fs_remove_tree_at(s.q_fd, "refs/clawbox-q");
	if (mkdirat(s.q_fd, "refs/clawbox-q", 0755) < 0) {
		r = -errno;
		goto out;
	}
	if ((r = audit_open(b->dir, b->name, &a)) < 0)
		goto out;
	/* In groups of 32 refs; a group that fails is fetched one ref at a
	 * time, so one bad ref does not hold the others. */
	for (size_t i = 0; i < p->nrefs && r == 0;) {
		n = 0;
		for (; i < p->nrefs && n < ELEMENTSOF(idx); i++)
			if (p->refs[i].verdict == GITSYNC_FETCH) {
				if ((r = write_qref(&s, i, p->refs[i].oid)) < 0)
					break;
				idx[n++] = i;
			}
		struct run rn;
		if (r < 0 || n == 0 || (r = fetch(&s, p, idx, n, &rn)) < 0)
			break;
		int group = rn.status;
		for (size_t k = 0; k < n && r == 0; k++) {
			struct gitsync_ref *ref = &p->refs[idx[k]];
			if (group != 0 && n > 1 && (r = fetch(&s, p, &idx[k], 1, &rn)) < 0)
				break;
			if (rn.status != 0) {
				ref->verdict = GITSYNC_FAILED;
				r = add_finding(&ref->findings, &ref->nfindings, "git-fetch", NULL,
						0, "the fetch into the project failed: %s", rn.err);
				continue;
			}
			ref->verdict = GITSYNC_FETCHED;
			char name[GITSYNC_REF_MAX * 4 + 8], dest[GITSYNC_REF_MAX * 4 + 8];
			gate_path_display(ref->name, name, sizeof(name));
			gate_path_display(ref->dest, dest, sizeof(dest));
			r = audit_append(a, "sync.git.fetch",
					 json_pack("{s:s, s:s, s:s, s:I}", "ref", name, "to", dest,
						   "oid", ref->oid, "commits",
						   (json_int_t)ref->commits));
		}
	}
	(void)fs_remove_tree_at(s.q_fd, "refs/clawbox-q");
logheld:
	if (r == 0)
		r = gitsync_audit_held(b, p, log_held, ctx);
out:
	audit_close(a);
	gs_free(&s);
	if (r < 0)
		fail(err, r, "git", "cannot bring the box's commits home");
	return r;
}

/* ---- --deny-read of tracked files --------------------------------------- */

int gitsync_tracked(const char *project, const char *const *paths, size_t n, bool *ret_tracked)
{
	struct box b = { 0 };
	struct gs s = { .b = &b };
	struct buf out = BUF_INIT(16u << 20);
	const char *args[64 + 8];
	size_t k = 0;
	struct stat st;
	char gitdir[PATH_MAX];
	for (size_t i = 0; i < n; i++)
		ret_tracked[i] = false;
	if (n == 0 || n > 64 || path_join(gitdir, sizeof(gitdir), project, ".git") < 0 ||
	    lstat(gitdir, &st) < 0 || !S_ISDIR(st.st_mode) || find_git(&s) < 0)
		return 0;
	snprintf(b.project, sizeof(b.project), "%s", project);
	snprintf(s.home, sizeof(s.home), "/nonexistent");
	for (const char *a[] = { "--literal-pathspecs", "-C", project, "ls-files", "-z", "--" },
			*const *p = a;
	     p < a + 6; p++)
		args[k++] = *p;
	for (size_t i = 0; i < n; i++)
		args[k++] = paths[i];
	args[k] = NULL;
	struct run rn = { .in_fd = -1, .out = &out };
	int r = git_run(&s, args, &rn);
	for (const char *l = out.data; r == 0 && rn.status == 0 && l && l < out.data + out.len;
	     l += strlen(l) + 1)
		for (size_t i = 0; i < n; i++) {
			size_t pl = strlen(paths[i]);
			if (strncmp(l, paths[i], pl) == 0 && (l[pl] == '\0' || l[pl] == '/'))
				ret_tracked[i] = true;
		}
	buf_free(&out);
	return r < 0 ? r : 0;
}
