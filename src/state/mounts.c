#include "util/common.h"

#include "state/mounts.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/utf8.h"

#define RECORD     "mounts"
#define RECORD_MAX (64 * 1024)

const char *mount_kind_name(enum mount_kind k)
{
	return k == MOUNT_OVERLAY ? "overlay" : "ro";
}

static int kind_parse(const char *s, size_t n, enum mount_kind *ret)
{
	if (n == 2 && memcmp(s, "ro", 2) == 0)
		*ret = MOUNT_RO;
	else if (n == 7 && memcmp(s, "overlay", 7) == 0)
		*ret = MOUNT_OVERLAY;
	else
		return -EINVAL;
	return 0;
}

void mounts_clear(struct mounts *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].src);
		free(m->v[i].dst);
	}
	m->n = 0;
}

/* No control character, valid UTF-8. */
static bool clean_text(const char *s)
{
	return utf8_valid(s) && !utf8_ascii_control(s) && !strchr(s, 0x7f);
}

bool mounts_path_valid(const char *p)
{
	size_t n = strlen(p);
	if (p[0] != '/' || n < 2 || n >= PATH_MAX || p[n - 1] == '/' || !clean_text(p))
		return false;
	for (const char *c = p; *c; c = strchrnul(c + 1, '/')) {
		const char *e = strchrnul(c + 1, '/');
		size_t cl = (size_t)(e - c - 1);
		if (cl == 0 || (cl == 1 && c[1] == '.') || (cl == 2 && c[1] == '.' && c[2] == '.'))
			return false;
	}
	return true;
}

static int push(struct mounts *m, enum mount_kind kind, const char *src, size_t sl, const char *dst,
		size_t dl)
{
	if (m->n == MOUNTS_MAX)
		return -E2BIG;
	struct mount_entry *e = &m->v[m->n];
	e->kind = kind;
	e->src = strndup(src, sl);
	e->dst = strndup(dst, dl);
	if (!e->src || !e->dst) {
		free(e->src);
		free(e->dst);
		return -ENOMEM;
	}
	m->n++;
	return 0;
}

int mounts_parse_opt(struct mounts *m, const char *arg, bool vault, struct error *err)
{
	const char *what = vault ? "--vault" : "--mount";
	const char *c1 = strchr(arg, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	const char *dst = vault ? MOUNTS_VAULT : c1 ? c1 + 1 : NULL;
	const char *kind = vault ? c1 : c2;
	size_t sl = c1 ? (size_t)(c1 - arg) : strlen(arg);
	size_t dl = vault ? strlen(dst)
		    : dst ? (size_t)((c2 ? c2 : strchrnul(dst, '\0')) - dst)
			  : 0;
	enum mount_kind k = MOUNT_RO;
	char d[PATH_MAX];

	if (!clean_text(arg))
		return error_set(err, -EINVAL, NULL, 0, "%s: control characters in the argument",
				 what);
	/* "a:b:/dst": a ':' in SRC, not a kind. */
	bool colon_src = kind && kind[1] == '/';
	if ((vault ? c2 != NULL : c1 == NULL || (c2 && strchr(c2 + 1, ':'))) || sl == 0 ||
	    colon_src)
		return error_set(err, -EINVAL, NULL, 0,
				 vault
				     ? "%s '%s': DIR or DIR:ro or DIR:overlay expected (a DIR "
				       "with ':' in its path: name it by a symlink without)"
				     : "%s '%s': SRC:DST, SRC:DST:ro or SRC:DST:overlay expected "
				       "(a SRC with ':' in its path: name it by a symlink without)",
				 what, arg);
	if (kind && kind_parse(kind + 1, strlen(kind + 1), &k) < 0)
		return error_set(err, -EINVAL, NULL, 0,
				 "%s '%s': unknown kind '%s' (ro or overlay; read-write is not "
				 "offered)",
				 what, arg, kind + 1);
	if (dl >= sizeof(d) || sl >= PATH_MAX)
		return error_set(err, -EINVAL, NULL, 0, "%s: path too long", what);
	memcpy(d, dst, dl);
	d[dl] = '\0';
	if (!mounts_path_valid(d))
		return error_set(err, -EINVAL, NULL, 0,
				 "%s '%s': the box's path '%s' must be absolute and normalized "
				 "(no '.', '..', '//' or trailing '/'), and not '/'",
				 what, arg, d);
	int r = push(m, k, arg, sl, d, dl);
	if (r == -E2BIG)
		return error_set(err, r, NULL, 0, "more than %d mounts", MOUNTS_MAX);
	return r < 0 ? error_errno(err, r, "%s", what) : 0;
}

/* dst against a reserved path: at or beneath it (beneath), or above it. */
static bool clashes(const char *dst, const char *reserved, bool beneath)
{
	return (beneath && path_is_beneath(dst, reserved)) || path_is_beneath(reserved, dst);
}

int mounts_check_dst(const struct mounts *m, const char *project, const char *config,
		     struct error *err)
{
	/* Whole trees of the box's own (at, beneath or above them: refused),
	 * then its mount points (at or above: refused; beneath /tmp and the
	 * box's home a mount may go). */
	const char *const trees[] = { "/proc",      "/sys",      "/dev",
				      "/workspace", "/.oldroot", "/etc/resolv.conf",
				      project,      config };
	const char *const points[] = { "/tmp", "/home/clawbox" };
	for (size_t i = 0; i < m->n; i++) {
		const char *d = m->v[i].dst;
		const char *hit = NULL;
		for (size_t j = 0; j < ELEMENTSOF(trees) && !hit; j++)
			if (trees[j] && clashes(d, trees[j], true))
				hit = trees[j];
		for (size_t j = 0; j < ELEMENTSOF(points) && !hit; j++)
			if (clashes(d, points[j], false))
				hit = points[j];
		if (hit)
			return error_set(err, -EINVAL, NULL, 0,
					 "cannot mount at '%s': the box's own '%s' is there", d,
					 hit);
		for (size_t j = 0; j < i; j++)
			if (clashes(d, m->v[j].dst, true))
				return error_set(err, -EINVAL, NULL, 0,
						 "cannot mount at '%s': another mount is at '%s'",
						 d, m->v[j].dst);
	}
	return 0;
}

/* One record line (NUL-terminated, no newline) into m. */
static int parse_line(char *line, struct mounts *m)
{
	char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
	enum mount_kind k;
	if (!t2 || strchr(t2 + 1, '\t') || kind_parse(line, (size_t)(t1 - line), &k) < 0)
		return -EBADMSG;
	*t1 = *t2 = '\0';
	if (!mounts_path_valid(t1 + 1) || !mounts_path_valid(t2 + 1))
		return -EBADMSG;
	return push(m, k, t1 + 1, strlen(t1 + 1), t2 + 1, strlen(t2 + 1));
}

int mounts_parse_record(const char *text, size_t n, struct mounts *ret, struct error *err)
{
	mounts_clear(ret);
	if (n > RECORD_MAX || memchr(text, '\0', n))
		return error_set(err, -EBADMSG, RECORD, 0, "malformed record");
	_cleanup_free_ char *copy = strndup(text, n);
	if (!copy)
		return -ENOMEM;
	unsigned lineno = 0;
	char *save = NULL;
	for (char *p = copy; p; p = save) {
		save = strchr(p, '\n');
		if (save)
			*save++ = '\0';
		lineno++;
		if (!p[0] || p[0] == '#')
			continue;
		int r = parse_line(p, ret);
		if (r < 0) {
			mounts_clear(ret);
			return error_set(err, r, RECORD, lineno,
					 r == -E2BIG ? "more than %d mounts" : "malformed line",
					 MOUNTS_MAX);
		}
	}
	return 0;
}

char *mounts_format(const struct mounts *m)
{
	size_t len = 64;
	for (size_t i = 0; i < m->n; i++)
		len += strlen(m->v[i].src) + strlen(m->v[i].dst) + 16;
	char *s = malloc(len), *p = s;
	if (!s)
		return NULL;
	p += snprintf(p, len, "# clawbox mounts: KIND<TAB>SRC<TAB>DST\n");
	for (size_t i = 0; i < m->n; i++)
		p += snprintf(p, len - (size_t)(p - s), "%s\t%s\t%s\n",
			      mount_kind_name(m->v[i].kind), m->v[i].src, m->v[i].dst);
	return s;
}

int mounts_load(const char *box_dir, struct mounts *ret, struct error *err)
{
	char path[PATH_MAX];
	_cleanup_free_ char *text = NULL;
	size_t n = 0;
	mounts_clear(ret);
	int r = path_join(path, sizeof(path), box_dir, RECORD);
	if (r < 0)
		return error_errno(err, r, "read the mounts of '%s'", box_dir);
	r = fs_read_file(path, RECORD_MAX, &text, &n);
	if (r == -ENOENT)
		return 0;
	if (r < 0 || !text)
		return error_errno(err, r < 0 ? r : -EIO, "read '%s'", path);
	r = mounts_parse_record(text, n, ret, err);
	if (r < 0 && err)
		snprintf(err->where, sizeof(err->where), "%s", path);
	return r;
}

int mounts_save(const char *box_dir, const struct mounts *m)
{
	_cleanup_close_ int dfd = open(box_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	if (m->n == 0)
		return unlinkat(dfd, RECORD, 0) < 0 && errno != ENOENT ? -errno : 0;
	_cleanup_free_ char *text = mounts_format(m);
	if (!text)
		return -ENOMEM;
	return fs_write_atomic_at(dfd, RECORD, text, strlen(text), 0600);
}

bool mounts_equal(const struct mounts *a, const struct mounts *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].kind != b->v[i].kind || !STREQ(a->v[i].src, b->v[i].src) ||
		    !STREQ(a->v[i].dst, b->v[i].dst))
			return false;
	return true;
}

int mounts_data_dir(const char *data, const struct mount_entry *e, char *out, size_t n)
{
	char key[2 * PATH_MAX + 2], hex[2 * HASH_SHA256_SIZE + 1];
	int kl = snprintf(key, sizeof(key), "%s%c%s", e->src, '\0', e->dst);
	hash_sha256_hex(key, (size_t)kl, hex);
	hex[16] = '\0';
	int w = snprintf(out, n, "%s/" MOUNTS_DATA "/%s", data, hex);
	return w < 0 || (size_t)w >= n ? -ENAMETOOLONG : 0;
}

int mounts_reset(const char *data)
{
	_cleanup_close_ int dfd = open(data, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	int r = fs_remove_tree_at(dfd, MOUNTS_DATA);
	return r == -ENOENT ? 0 : r;
}
