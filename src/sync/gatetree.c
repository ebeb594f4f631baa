/* The sync gate's view of the tree: the project as it is now (host) and as
 * it will be after the apply (host plus every pending change), and what is
 * judged on it: git directories, where symlinks resolve, and the host
 * subtree a deletion or replacement would remove. Every lookup is beneath
 * the project root or the upper dir, never through a symlink; the cost
 * follows the pending changes (and the subtrees they remove), never the
 * project's size. docs/SYNC.md describes the rules. */
#include "util/common.h"

#include "sync/gate_int.h"
#include "util/array.h"
#include "util/fs.h"
#include "util/strv.h"

#include <dirent.h>
#include <nettle/sha2.h>
#include <strings.h>

#define LINK_HOPS 40 /* as the kernel's MAXSYMLINKS */

/* ---- names -------------------------------------------------------------- */

/* Bytes HFS+ ignores in a name (U+200C..U+200F, U+202A..U+202E,
 * U+206A..U+206F, U+FEFF): length of the one at s, 0 when none. */
static size_t hfs_ignorable(const unsigned char *s, size_t n)
{
	if (n >= 3 && s[0] == 0xe2 && s[1] == 0x80 &&
	    ((s[2] >= 0x8c && s[2] <= 0x8f) || (s[2] >= 0xaa && s[2] <= 0xae)))
		return 3;
	if (n >= 3 && s[0] == 0xe2 && s[1] == 0x81 && s[2] >= 0xaa && s[2] <= 0xaf)
		return 3;
	if (n >= 3 && s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf)
		return 3;
	return 0;
}

bool gate_name_is_dotgit(const char *name, size_t n)
{
	/* What a case-insensitive filesystem takes for ".git": any letter
	 * case, HFS+'s ignored code points, NTFS's trailing dots and spaces
	 * and its short name GIT~1. */
	char v[16] = "";
	size_t k = 0;
	const unsigned char *s = (const unsigned char *)name;
	for (size_t i = 0; i < n;) {
		size_t skip = hfs_ignorable(s + i, n - i);
		if (skip) {
			i += skip;
			continue;
		}
		if (k == sizeof(v))
			return false;
		v[k++] = (char)s[i++];
	}
	while (k && (v[k - 1] == '.' || v[k - 1] == ' '))
		k--;
	return (k == 4 && strncasecmp(v, ".git", 4) == 0) ||
	       (k == 5 && strncasecmp(v, "git~1", 5) == 0);
}

/* ---- the two views -------------------------------------------------------- */

static int entry_cmp(const char *x, const char *y)
{
	for (; *x && *x == *y; x++, y++)
		;
	unsigned cx = *x == '/' ? 1 : *x ? (unsigned char)*x + 1u : 0;
	unsigned cy = *y == '/' ? 1 : *y ? (unsigned char)*y + 1u : 0;
	return (int)cx - (int)cy;
}

/* The pending change at path, or NULL (g->allv is sorted as the plan). */
static const struct gate_entry *pending_at(const struct gate *g, const char *path)
{
	size_t lo = 0, hi = g->alln;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = entry_cmp(path, g->allv[mid].path);
		if (c == 0)
			return &g->allv[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static int type_of(const struct gate_entry *e)
{
	switch (e->type) {
	case GATE_FILE: return S_IFREG;
	case GATE_DIR: return S_IFDIR;
	case GATE_SYMLINK: return S_IFLNK;
	case GATE_SPECIAL: return S_IFIFO;
	case GATE_WHITEOUT: return 0;
	}
	return 0;
}

/* Whether the host's entries at path are hidden after the apply: an
 * ancestor of path (or path itself when self) is deleted, replaced or
 * made a non-directory by a pending change. */
static bool host_hidden(const struct gate *g, const char *path, bool self)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);
	if (n >= sizeof(buf))
		return true;
	memcpy(buf, path, n + 1);
	for (size_t i = 0; i <= n; i++) {
		if (i < n && buf[i] != '/')
			continue;
		if (i == n && !self)
			break;
		char c = buf[i];
		buf[i] = '\0';
		const struct gate_entry *e = pending_at(g, buf);
		buf[i] = c;
		if (e && (e->type != GATE_DIR || e->kind == CHANGE_REPLACED))
			return true;
	}
	return false;
}

/* Type (S_IFMT, 0 when absent) of the host entry dfd/name, its link target
 * in tgt when it is a symlink and tgt is not NULL. */
static int host_type_at(int dfd, const char *name, char *tgt, size_t tn)
{
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT || errno == ENOTDIR || errno == ENAMETOOLONG ? 0
										    : gate_errno();
	if (S_ISLNK(st.st_mode) && tgt) {
		ssize_t k = readlinkat(dfd, name, tgt, tn - 1);
		if (k < 0)
			return gate_errno();
		tgt[k] = '\0';
	}
	return (int)(st.st_mode & S_IFMT);
}

static int tree_type(int treefd, const char *path, char *tgt, size_t tn)
{
	_cleanup_close_ int dfd = -1;
	const char *base = NULL;
	int r = gate_parent(treefd, path, &dfd, &base);
	if (r == -ENOENT || r == -ENOTDIR || r == -ELOOP || r == -EXDEV || r == -ENAMETOOLONG)
		return 0;
	if (r < 0)
		return r;
	return host_type_at(dfd, base, tgt, tn);
}

int gate_view_type(const struct gate *g, bool after, const char *path, char *tgt, size_t tn)
{
	if (!path[0])
		return S_IFDIR;
	if (after) {
		const struct gate_entry *e = pending_at(g, path);
		if (e || host_hidden(g, path, false)) {
			int t = e ? type_of(e) : 0;
			if (t == S_IFLNK && tgt) {
				if (!e->target)
					return tree_type(g->upper_fd, path, tgt, tn);
				snprintf(tgt, tn, "%s", e->target);
			}
			return t;
		}
	}
	return tree_type(g->root_fd, path, tgt, tn);
}

/* At most n bytes of the file at path in a view (the box's version when a
 * pending change makes it), NUL-terminated. 0 when it is no regular file. */
static int view_read(const struct gate *g, bool after, const char *path, char *out, size_t n)
{
	const struct gate_entry *e = after ? pending_at(g, path) : NULL;
	int treefd = g->root_fd;
	out[0] = '\0';
	if (e && e->type != GATE_FILE)
		return 0;
	if (e)
		treefd = g->upper_fd;
	else if (after && host_hidden(g, path, false))
		return 0;
	_cleanup_close_ int fd =
	    gate_openat(treefd, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0);
	if (fd < 0)
		return 0;
	struct stat st;
	ssize_t k = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? read(fd, out, n - 1) : 0;
	out[k > 0 ? k : 0] = '\0';
	return 0;
}

/* ---- git directories ------------------------------------------------------ */

static int add_gitdir(struct gate *g, const char *dir)
{
	for (size_t i = 0; i < g->ngitdirs; i++)
		if (STREQ(g->gitdirs[i], dir))
			return 0;
	if (g->ngitdirs >= 4096)
		return -E2BIG;
	if (array_grow_counted((void **)&g->gitdirs, g->ngitdirs, sizeof(*g->gitdirs)) < 0)
		return -ENOMEM;
	if (!(g->gitdirs[g->ngitdirs] = strdup(dir)))
		return -ENOMEM;
	g->ngitdirs++;
	return 0;
}

bool gate_git_target(const char *project, const char *base, const char *text, char *out, size_t n)
{
	char t[PATH_MAX];
	snprintf(t, sizeof(t), "%s", text);
	size_t len = strlen(t);
	while (len && (t[len - 1] == '\n' || t[len - 1] == '\r' || t[len - 1] == ' ' ||
		       t[len - 1] == '\t'))
		t[--len] = '\0';
	if (!len)
		return false;
	const char *rel = t;
	size_t pl = strlen(project);
	size_t o = 0;
	out[0] = '\0';
	if (t[0] == '/') {
		if (strncmp(t, project, pl) != 0 || (t[pl] && t[pl] != '/'))
			return false;
		rel = t + pl;
	} else if (base[0]) {
		o = (size_t)snprintf(out, n, "%s", base);
		if (o >= n)
			return false;
	}
	for (const char *c = rel; *c;) {
		while (*c == '/')
			c++;
		size_t k = strcspn(c, "/");
		if (!k)
			break;
		if (k == 2 && c[0] == '.' && c[1] == '.') {
			if (!o)
				return false;
			char *s = strrchr(out, '/');
			o = s ? (size_t)(s - out) : 0;
			out[o] = '\0';
		} else if (!(k == 1 && c[0] == '.')) {
			if (o + k + 2 > n)
				return false;
			if (o)
				out[o++] = '/';
			memcpy(out + o, c, k);
			o += k;
			out[o] = '\0';
		}
		c += k;
	}
	return true;
}

static int join(char *out, size_t n, const char *dir, const char *name)
{
	int k = dir[0] ? snprintf(out, n, "%s/%s", dir, name) : snprintf(out, n, "%s", name);
	return k < 0 || (size_t)k >= n ? -ENAMETOOLONG : 0;
}

/* The commondir a git dir names (in either view), as a git dir too. */
static int add_commondir(struct gate *g, const char *gitdir)
{
	char path[PATH_MAX], text[PATH_MAX], dir[PATH_MAX];
	if (join(path, sizeof(path), gitdir, "commondir") < 0)
		return 0;
	for (int v = 0; v < 2; v++) {
		view_read(g, v, path, text, sizeof(text));
		if (text[0] && gate_git_target(g->box.project, gitdir, text, dir, sizeof(dir))) {
			int r = add_gitdir(g, dir);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* Whether dir holds what git's is_git_directory() looks for in a view:
 * HEAD, and objects/ and refs/ (or a commondir that holds them). */
static bool looks_bare(const struct gate *g, bool after, const char *dir)
{
	char p[PATH_MAX];
	if (join(p, sizeof(p), dir, "HEAD") < 0 || gate_view_type(g, after, p, NULL, 0) <= 0)
		return false;
	if (join(p, sizeof(p), dir, "commondir") == 0 && gate_view_type(g, after, p, NULL, 0) > 0)
		return true;
	if (join(p, sizeof(p), dir, "objects") < 0 || gate_view_type(g, after, p, NULL, 0) <= 0)
		return false;
	return join(p, sizeof(p), dir, "refs") == 0 && gate_view_type(g, after, p, NULL, 0) > 0;
}

/* The git dirs that dir reveals: itself when it looks like a bare repo;
 * the target of a gitfile dir/.git; the commondirs of both and of dir/.git. */
static int scan_dir(struct gate *g, const char *dir)
{
	char p[PATH_MAX], text[PATH_MAX] = { 0 }, target[PATH_MAX];
	int r;
	for (int v = 0; v < 2; v++) {
		int t = gate_view_type(g, v, dir, NULL, 0);
		if (t != S_IFDIR)
			continue;
		if (looks_bare(g, v, dir)) {
			if ((r = add_gitdir(g, dir)) < 0 || (r = add_commondir(g, dir)) < 0)
				return r;
		}
		if (join(p, sizeof(p), dir, ".git") < 0)
			continue;
		t = gate_view_type(g, v, p, NULL, 0);
		if (t == S_IFDIR && (r = add_commondir(g, p)) < 0)
			return r;
		if (t != S_IFREG)
			continue;
		view_read(g, v, p, text, sizeof(text));
		if (strncmp(text, "gitdir:", 7) != 0)
			continue;
		const char *s = text + 7;
		while (*s == ' ' || *s == '\t')
			s++;
		if (gate_git_target(g->box.project, dir, s, target, sizeof(target)) &&
		    ((r = add_gitdir(g, target)) < 0 || (r = add_commondir(g, target)) < 0))
			return r;
	}
	return 0;
}

/* Length of the common leading directories of a and b (component-wise),
 * counting a whole path equal to a directory of the other. */
static size_t common_dirs(const char *a, const char *b)
{
	size_t i = 0, last = 0;
	for (; a[i] && a[i] == b[i]; i++)
		if (a[i] == '/')
			last = i;
	if ((!a[i] && (b[i] == '/' || !b[i])) || (!b[i] && a[i] == '/'))
		return i;
	return last;
}

static const char *const bare_markers[] = { "HEAD", "objects", "refs", "commondir" };

static int marker_of(const char *name)
{
	for (int m = 0; m < (int)ELEMENTSOF(bare_markers); m++)
		if (strcasecmp(name, bare_markers[m]) == 0)
			return m;
	return -1;
}

struct marker {
	const char *path; /* a pending entry named as a marker, in any case */
	size_t dirlen;    /* its parent's length */
	int m;
};

static int marker_cmp(const void *a, const void *b)
{
	const struct marker *x = a, *y = b;
	size_t n = x->dirlen < y->dirlen ? x->dirlen : y->dirlen;
	int c = memcmp(x->path, y->path, n);
	return c ? c : x->dirlen < y->dirlen ? -1 : x->dirlen > y->dirlen;
}

/* Dirs that look like a bare repository after the apply when the letter
 * case of the pending markers is ignored (on a case-insensitive filesystem
 * "head" is HEAD; the host's markers are looked up by name, which such a
 * filesystem matches in any case). Pending markers grouped by dir: cost
 * O(k log k) in the k entries named so. */
static int find_bare_nocase(struct gate *g)
{
	struct marker *v = NULL;
	size_t n = 0;
	int r = 0;
	for (size_t i = 0; i < g->alln; i++) {
		const char *path = g->allv[i].path;
		const char *slash = strrchr(path, '/');
		int m = marker_of(slash ? slash + 1 : path);
		if (m < 0 || g->allv[i].type == GATE_WHITEOUT)
			continue;
		if (array_grow_counted((void **)&v, n, sizeof(*v)) < 0) {
			free(v);
			return -ENOMEM;
		}
		v[n++] = (struct marker){ path, slash ? (size_t)(slash - path) : 0, m };
	}
	if (n)
		qsort(v, n, sizeof(*v), marker_cmp);
	for (size_t i = 0, j; i < n && r == 0; i = j) {
		bool has[ELEMENTSOF(bare_markers)] = { 0 };
		for (j = i; j < n && marker_cmp(&v[i], &v[j]) == 0; j++)
			has[v[j].m] = true;
		char dir[PATH_MAX], p[PATH_MAX];
		snprintf(dir, sizeof(dir), "%.*s", (int)v[i].dirlen, v[i].path);
		for (size_t m = 0; m < ELEMENTSOF(bare_markers); m++)
			if (!has[m] && join(p, sizeof(p), dir, bare_markers[m]) == 0)
				has[m] = gate_view_type(g, true, p, NULL, 0) > 0;
		if (has[0] && (has[3] || (has[1] && has[2])))
			r = add_gitdir(g, dir);
	}
	free(v);
	return r;
}

int gate_find_gitdirs(struct gate *g)
{
	char dir[PATH_MAX];
	int r;
	for (size_t i = 0; i < g->ngitdirs; i++)
		free(g->gitdirs[i]);
	g->ngitdirs = 0;
	if ((r = scan_dir(g, "")) < 0)
		return r;
	/* Each directory once: the dirs of a path that the previous path (in
	 * sorted order, so a subtree is contiguous) shared were scanned. */
	const char *prev = "";
	for (size_t i = 0; i < g->alln; i++) {
		const char *path = g->allv[i].path;
		size_t n = strlen(path), from = i ? common_dirs(prev, path) : 0;
		prev = path;
		if (n >= sizeof(dir))
			continue;
		memcpy(dir, path, n + 1);
		/* The path itself only when the box makes it a dir: a host dir
		 * it deletes or replaces is walked by the gate (check_subtree). */
		size_t last = g->allv[i].type == GATE_DIR ? n : n - 1;
		for (size_t k = from + (from > 0); k <= last; k++) {
			if (k < n && dir[k] != '/')
				continue;
			dir[k] = '\0';
			r = scan_dir(g, dir);
			if (k < n)
				dir[k] = '/';
			if (r < 0)
				return r;
		}
	}
	/* Markers in another letter case. */
	return find_bare_nocase(g);
}

bool gate_git_root(const struct gate *g, const char *path, char *out, size_t n)
{
	for (const char *c = path; *c;) {
		size_t k = strcspn(c, "/");
		if (gate_name_is_dotgit(c, k)) {
			snprintf(out, n, "%.*s", (int)(c - path + (ptrdiff_t)k), path);
			return true;
		}
		c += k;
		while (*c == '/')
			c++;
	}
	size_t pn = strlen(path);
	for (size_t i = 0; i < g->ngitdirs; i++) {
		const char *d = g->gitdirs[i];
		size_t dn = strlen(d);
		if (!dn ||
		    (pn >= dn && strncasecmp(path, d, dn) == 0 && (path[dn] == '/' || !path[dn]))) {
			snprintf(out, n, "%s", dn ? d : ".");
			return true;
		}
	}
	return false;
}

bool gate_is_git_path(const struct gate *g, const char *path)
{
	char root[PATH_MAX];
	return gate_git_root(g, path, root, sizeof(root));
}

/* ---- symlinks ------------------------------------------------------------- */

/* A symlink's resolution in progress (see gate_link_resolves()). */
struct link_walk {
	const struct gate *g;
	bool after;
	char cur[PATH_MAX]; /* the directory reached, "" for the root */
	char *rest;         /* the components still to walk (owned) */
	size_t pos;         /* where in rest the next one starts */
	long depth;         /* >= 0: lexical from here on (a component is missing) */
	unsigned hops;      /* symlinks followed */
};

static void link_walk_done(struct link_walk *w)
{
	free(w->rest);
}

/* The number of components of path ("" has none). */
static int path_components(const char *path)
{
	int d = path[0] ? 1 : 0;
	for (const char *s = path; (s = strchr(s, '/')); s++)
		d++;
	return d;
}

/* Follow a symlink met on the way (its target tgt): what is left to walk
 * becomes tgt, then the rest. GATE_LINK_INSIDE to go on, GATE_LINK_LOOPS
 * past LINK_HOPS links, GATE_LINK_ESCAPES for an absolute or empty target,
 * or -ENOMEM. */
static int link_follow(struct link_walk *w, const char *tgt)
{
	if (++w->hops > LINK_HOPS)
		return GATE_LINK_LOOPS;
	if (tgt[0] == '/' || !tgt[0])
		return GATE_LINK_ESCAPES;
	/* rest := tgt "/" what is left */
	size_t tl = strlen(tgt), left = strlen(w->rest + w->pos);
	char *nr = malloc(tl + left + 2);
	if (!nr)
		return -ENOMEM;
	snprintf(nr, tl + left + 2, "%s/%s", tgt, w->rest + w->pos);
	free(w->rest);
	w->rest = nr;
	w->pos = 0;
	return GATE_LINK_INSIDE;
}

/* One component c (k bytes, neither "" nor ".") walked from w->cur: ".."
 * goes up, a directory is entered, a symlink followed; past a missing or
 * non-dir component only the text counts (w->depth). GATE_LINK_INSIDE to
 * go on, another GATE_LINK_* verdict to stop, or -errno. c may point into
 * w->rest: it is not used once a symlink is followed. */
static int link_step(struct link_walk *w, const char *c, size_t k)
{
	char cand[PATH_MAX], tgt[PATH_MAX];
	bool up = k == 2 && c[0] == '.' && c[1] == '.';
	if (w->depth >= 0) {
		w->depth += up ? -1 : 1;
		return w->depth < 0 ? GATE_LINK_ESCAPES : GATE_LINK_INSIDE;
	}
	if (up) {
		if (!w->cur[0])
			return GATE_LINK_ESCAPES;
		char *s = strrchr(w->cur, '/');
		*(s ? s : w->cur) = '\0';
		return GATE_LINK_INSIDE;
	}
	int n = w->cur[0] ? snprintf(cand, sizeof(cand), "%s/%.*s", w->cur, (int)k, c)
			  : snprintf(cand, sizeof(cand), "%.*s", (int)k, c);
	if (n < 0 || (size_t)n >= sizeof(cand))
		return GATE_LINK_LOOPS; /* cannot be judged */
	tgt[0] = '\0';
	int t = gate_view_type(w->g, w->after, cand, tgt, sizeof(tgt));
	if (t < 0)
		return t;
	if (t == S_IFLNK)
		return link_follow(w, tgt);
	if (t != S_IFDIR) {
		/* Missing or not a dir: what a later change could make of it
		 * is judged by the text from here on. */
		w->depth = path_components(cand);
		return GATE_LINK_INSIDE;
	}
	memcpy(w->cur, cand, (size_t)n + 1);
	return GATE_LINK_INSIDE;
}

int gate_link_resolves(const struct gate *g, bool after, const char *linkpath, const char *target,
		       int *ret_dir_depth)
{
	if (ret_dir_depth)
		*ret_dir_depth = -1;
	if (target[0] == '/' || !target[0])
		return GATE_LINK_ESCAPES;
	_cleanup_(link_walk_done) struct link_walk w = { .g = g, .after = after, .depth = -1 };
	const char *slash = strrchr(linkpath, '/');
	snprintf(w.cur, sizeof(w.cur), "%.*s", slash ? (int)(slash - linkpath) : 0, linkpath);
	w.rest = strdup(target);
	if (!w.rest)
		return -ENOMEM;
	while (w.rest[w.pos]) {
		const char *c = w.rest + w.pos;
		size_t k = strcspn(c, "/");
		w.pos += k;
		while (w.rest[w.pos] == '/')
			w.pos++;
		if (!k || (k == 1 && c[0] == '.'))
			continue;
		int r = link_step(&w, c, k);
		if (r != GATE_LINK_INSIDE)
			return r;
	}
	if (ret_dir_depth && w.depth < 0)
		*ret_dir_depth = path_components(w.cur);
	return GATE_LINK_INSIDE;
}

/* ---- host subtrees -------------------------------------------------------- */

struct tree_walk {
	struct sha256_ctx sha;
	size_t entries, max;
	int (*fn)(const char *rel, const struct stat *st, bool bare, void *ctx);
	void *ctx;
	char rel[PATH_MAX];
};

static void hash_entry(struct tree_walk *w, size_t rl, const struct stat *st)
{
	char rec[160];
	bool dir = S_ISDIR(st->st_mode);
	int n = snprintf(rec, sizeof(rec), " %llu %o %lld %lld.%09ld %lld.%09ld\n",
			 (unsigned long long)st->st_ino, (unsigned)st->st_mode,
			 dir ? 0LL : (long long)st->st_size,
			 dir ? 0LL : (long long)st->st_mtim.tv_sec, dir ? 0L : st->st_mtim.tv_nsec,
			 dir ? 0LL : (long long)st->st_ctim.tv_sec, dir ? 0L : st->st_ctim.tv_nsec);
	sha256_update(&w->sha, rl + 1, (const uint8_t *)w->rel);
	sha256_update(&w->sha, (size_t)n, (const uint8_t *)rec);
}

/* Whether a directory with these entry names is a bare git directory:
 * HEAD, and commondir or both objects and refs. */
static bool names_bare(char *const *names, size_t n)
{
	bool head = false, objects = false, refs = false, common = false;
	for (size_t i = 0; i < n; i++) {
		head |= STREQ(names[i], "HEAD");
		objects |= STREQ(names[i], "objects");
		refs |= STREQ(names[i], "refs");
		common |= STREQ(names[i], "commondir");
	}
	return head && (common || (objects && refs));
}

static int walk_tree(struct tree_walk *w, int dfd, size_t rl, int depth);

/* The subdirectory name of dfd, at w->rel (l bytes), walked at depth + 1.
 * 0, -ESTALE when it went away, or -errno. */
static int walk_subdir(struct tree_walk *w, int dfd, const char *name, size_t l, int depth)
{
	int fd = gate_openat(dfd, name, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fd == -ENOENT ? -ESTALE : fd;
	int r = walk_tree(w, fd, l, depth + 1);
	close(fd);
	return r;
}

/* The entry name of dfd (whose path is w->rel, rl bytes): its path put in
 * w->rel, hashed, given to w->fn, and walked when a directory; w->rel is
 * cut back to rl after. 0, -ESTALE when it went away, fn's error, or
 * -errno. */
static int walk_entry(struct tree_walk *w, int dfd, const char *name, size_t rl, int depth)
{
	size_t nl = strlen(name);
	if (rl + nl + 2 > sizeof(w->rel))
		return -ENAMETOOLONG;
	size_t l = rl;
	if (rl)
		w->rel[l++] = '/';
	memcpy(w->rel + l, name, nl + 1);
	l += nl;
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? -ESTALE : gate_errno();
	hash_entry(w, l, &st);
	int r = 0;
	if (w->fn)
		r = w->fn(w->rel, &st, false, w->ctx);
	if (r == 0 && S_ISDIR(st.st_mode))
		r = walk_subdir(w, dfd, name, l, depth);
	w->rel[rl] = '\0';
	return r;
}

/* The directory dfd (at w->rel, rl bytes; depth levels down), every entry
 * beneath in name order: hashed and given to w->fn (a bare git directory
 * first as itself, bare). At most w->max entries in all, 256 levels. 0 or
 * -errno (-ESTALE: an entry went away while walked). */
static int walk_tree(struct tree_walk *w, int dfd, size_t rl, int depth)
{
	if (depth > 256)
		return -E2BIG;
	char **names = NULL;
	size_t n = 0;
	int r = fs_dir_names(dfd, NULL, w->max - w->entries, &names, &n);
	if (r < 0)
		return r;
	w->entries += n;
	if (r == 0 && names_bare(names, n) && w->fn)
		r = w->fn(w->rel, NULL, true, w->ctx);
	for (size_t i = 0; i < n && r == 0; i++)
		r = walk_entry(w, dfd, names[i], rl, depth);
	strv_free_n(names, n);
	return r;
}

int gate_tree_walk(int dirfd, const char *name, size_t max,
		   int (*fn)(const char *rel, const struct stat *st, bool bare, void *ctx),
		   void *ctx, char ret_hash[65])
{
	static const char hex[] = "0123456789abcdef";
	_cleanup_free_ struct tree_walk *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->max = max;
	w->fn = fn;
	w->ctx = ctx;
	sha256_init(&w->sha);
	_cleanup_close_ int fd = gate_openat(dirfd, name, O_RDONLY | O_DIRECTORY, 0);
	int r = fd < 0 ? fd : walk_tree(w, fd, 0, 0);
	if (r == 0) {
		uint8_t d[SHA256_DIGEST_SIZE];
		sha256_digest(&w->sha, sizeof(d), d);
		for (size_t i = 0; i < sizeof(d); i++) {
			ret_hash[2 * i] = hex[d[i] >> 4];
			ret_hash[2 * i + 1] = hex[d[i] & 15];
		}
		ret_hash[64] = '\0';
	}
	return r;
}
