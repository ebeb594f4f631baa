#include "util/common.h"

#include "sync/changes.h"
#include "util/fs.h"

#include <dirent.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#define MAX_DEPTH 512

static const char *const kind_names[] = {
	[CHANGE_ADDED] = "added",     [CHANGE_MODIFIED] = "modified",
	[CHANGE_DELETED] = "deleted", [CHANGE_REPLACED] = "replaced",
	[CHANGE_META] = "meta",
};

const char *change_kind_name(enum change_kind k)
{
	return kind_names[k];
}

struct walk {
	int (*fn)(const struct change *c, void *ctx);
	void *ctx;
	/* One name past PATH_MAX fits: such a path is reported (and held by
	 * the gate), what lies deeper is not walked. */
	char path[PATH_MAX + NAME_MAX + 2];
};

/* An overlay xattr, in either namespace (userxattr mounts use user.*). */
static bool has_ovl_xattr(int dirfd, const char *name, const char *attr, bool want_y)
{
	char proc[64], val[8];
	_cleanup_close_ int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	bool found = false;
	static const char *const ns[] = { "user.overlay.", "trusted.overlay." };
	for (size_t i = 0; i < ELEMENTSOF(ns) && !found; i++) {
		char key[64];
		snprintf(key, sizeof(key), "%s%s", ns[i], attr);
		ssize_t n = getxattr(proc, key, val, sizeof(val));
		found = n >= 0 && (!want_y || (n >= 1 && val[0] == 'y'));
	}
	return found;
}

static bool is_whiteout(int dirfd, const char *name, const struct stat *st)
{
	if (S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0))
		return true;
	return S_ISREG(st->st_mode) && st->st_size == 0 &&
	       has_ovl_xattr(dirfd, name, "whiteout", false);
}

static int emit(struct walk *w, enum change_kind k, const struct stat *st)
{
	struct change c = { .path = w->path, .kind = k, .st = st };
	return w->fn(&c, w->ctx);
}

/* A directory whose changes are not listed (path or depth over the bound). */
static int emit_truncated(struct walk *w, enum change_kind k, const struct stat *st)
{
	struct change c = { .path = w->path, .kind = k, .st = st, .truncated = true };
	return w->fn(&c, w->ctx);
}

static int walk_dir(struct walk *w, int upper, int lower, size_t plen, int depth);

static int walk_entry(struct walk *w, int upper, int lower, const char *name, size_t plen,
		      int depth)
{
	struct stat st, lst;
	bool in_lower;
	int r;

	if (fstatat(upper, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	in_lower = lower >= 0 && fstatat(lower, name, &lst, AT_SYMLINK_NOFOLLOW) == 0;
	size_t nlen = strlen(name);
	if (plen + nlen + 2 > sizeof(w->path))
		return -ENAMETOOLONG; /* never: plen < PATH_MAX, nlen <= NAME_MAX */
	size_t len = plen;
	if (plen)
		w->path[len++] = '/';
	memcpy(w->path + len, name, nlen + 1);
	len += nlen;

	if (is_whiteout(upper, name, &st))
		return emit(w, CHANGE_DELETED, &st);
	if (!S_ISDIR(st.st_mode))
		return emit(w, in_lower ? CHANGE_MODIFIED : CHANGE_ADDED, &st);

	bool lower_dir = in_lower && S_ISDIR(lst.st_mode);
	bool opaque = has_ovl_xattr(upper, name, "opaque", true);
	enum change_kind kind = !in_lower              ? CHANGE_ADDED
				: !lower_dir || opaque ? CHANGE_REPLACED
						       : CHANGE_META;
	/* Too long or too deep to walk: the dir itself, marked, and nothing
	 * beneath (one bad subtree never stops the others). */
	if (len >= PATH_MAX || depth + 1 > MAX_DEPTH)
		return emit_truncated(w, kind, &st);
	if (!in_lower)
		r = emit(w, CHANGE_ADDED, &st);
	else if (!lower_dir || opaque)
		r = emit(w, CHANGE_REPLACED, &st);
	else if ((st.st_mode & 07777) != (lst.st_mode & 07777) || st.st_uid != lst.st_uid ||
		 st.st_gid != lst.st_gid)
		r = emit(w, CHANGE_META, &st);
	else
		r = 0;
	if (r < 0)
		return r;

	_cleanup_close_ int ufd =
	    openat(upper, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (ufd < 0)
		return -errno;
	_cleanup_close_ int lfd = -1;
	if (lower_dir && !opaque)
		lfd = openat(lower, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return walk_dir(w, ufd, lfd, len, depth + 1);
}

static int walk_dir(struct walk *w, int upper, int lower, size_t plen, int depth)
{
	DIR *d = fs_opendir_dup(upper);
	if (!d)
		return -errno;
	struct dirent *de;
	int r = 0;
	while (r >= 0 && (de = readdir(d))) {
		if (STREQ(de->d_name, ".") || STREQ(de->d_name, ".."))
			continue;
		r = walk_entry(w, upper, lower, de->d_name, plen, depth);
		w->path[plen] = '\0';
	}
	closedir(d);
	return r;
}

int changes_walk(int upper_fd, int lower_fd, int (*fn)(const struct change *c, void *ctx),
		 void *ctx)
{
	_cleanup_free_ struct walk *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fn = fn;
	w->ctx = ctx;
	return walk_dir(w, upper_fd, lower_fd, 0, 0);
}

static int count(const struct change *c, void *p)
{
	struct changes_summary *s = p;
	uint64_t *slot[] = { &s->added, &s->modified, &s->deleted, &s->replaced, &s->meta };
	(*slot[c->kind])++;
	if (S_ISREG(c->st->st_mode) && c->kind != CHANGE_DELETED)
		s->bytes += (uint64_t)c->st->st_size;
	return 0;
}

int changes_summarize(int upper_fd, int lower_fd, struct changes_summary *ret)
{
	struct changes_summary s = { 0 };
	int r = changes_walk(upper_fd, lower_fd, count, &s);
	if (r < 0)
		return r;
	*ret = s;
	return 0;
}
