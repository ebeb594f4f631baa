/* The sync gate: opening a box's gate, building the plan of its pending
 * changes (classify: the four stages that decide each entry's verdict) and
 * the staging area. The checks are in gate_check.c, the scanner in
 * gate_scan.c, the apply in apply.c (gate_int.h lists them all). */
#include "util/common.h"

#include "sync/gate_int.h"
#include "util/strv.h"
#include "util/array.h"
#include "util/pathglob.h"
#include "util/fs.h"
#include "util/hash.h"

#include <linux/openat2.h>
#include <sys/file.h>
#include <sys/syscall.h>

#define STAGE_DIR "stage"

static int openat2_nosym(int dirfd, const char *path, int flags, mode_t mode, bool beneath)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
		.resolve =
		    (beneath ? RESOLVE_BENEATH : 0) | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd;
	do
		fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN);
	return fd < 0 ? gate_errno() : (int)fd;
}

int gate_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	return openat2_nosym(dirfd, path, flags, mode, true);
}

int gate_parent(int dirfd, const char *rel, int *ret_fd, const char **ret_base)
{
	const char *slash = strrchr(rel, '/');
	int fd;
	/* Written on failure too (-1 and rel), which keeps callers simple. */
	*ret_fd = -1;
	*ret_base = rel;
	if (!slash) {
		fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			return gate_errno();
		*ret_base = rel;
	} else {
		char dir[PATH_MAX];
		size_t n = (size_t)(slash - rel);
		if (n >= sizeof(dir))
			return -ENAMETOOLONG;
		memcpy(dir, rel, n);
		dir[n] = '\0';
		fd = gate_openat(dirfd, dir, O_RDONLY | O_DIRECTORY, 0);
		if (fd < 0)
			return fd;
		*ret_base = slash + 1;
	}
	*ret_fd = fd;
	return 0;
}

void gate_fp_from_stat(const struct stat *st, struct gate_fp *ret)
{
	*ret = (struct gate_fp){
		.ino = st->st_ino,
		.size = S_ISDIR(st->st_mode) ? 0 : (uint64_t)st->st_size,
		.mtime_ns = S_ISDIR(st->st_mode)
				? 0
				: (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec,
		/* A directory is itself by inode and mode: its times change
		 * with what it holds, which are entries of their own. */
		.ctime_ns = S_ISDIR(st->st_mode)
				? 0
				: (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec,
		.mode = st->st_mode,
	};
}

int gate_hash_fd(int fd, uint64_t max, char out[65])
{
	/* Streaming sha256 through nettle's API is in util/hash only as a
	 * one-shot; files here are bounded by max (the policy's size limit). */
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size > max)
		return -EFBIG;
	size_t cap = (size_t)st.st_size + 1;
	_cleanup_free_ char *data = malloc(cap);
	if (!data)
		return -ENOMEM;
	size_t len = 0;
	for (;;) {
		ssize_t k = pread(fd, data + len, cap - len, (off_t)len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		len += (size_t)k;
		if (len == cap)
			return -EFBIG; /* grew while read */
	}
	hash_sha256_hex(data, len, out);
	return 0;
}

void gate_stage_name(uint32_t i, char out[32])
{
	snprintf(out, 32, STAGE_DIR "/%u", (unsigned)i);
}

/* ---- opening ---------------------------------------------------------- */

/* $BOX/sync/baseline into g->base (none: empty). */
static int load_baseline(struct gate *g)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	char path[64];
	_cleanup_close_ int fd =
	    openat(g->sync_fd, GATE_BASELINE_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int r = fs_read_file(path, JOURNAL_MAX_BYTES, &text, &len);
	if (r < 0)
		return r;
	/* A damaged baseline only makes synced entries pending again. */
	if (baseline_parse(text, len, &g->base) < 0)
		memset(&g->base, 0, sizeof(g->base));
	return 0;
}

/* The box's sync policy (config.toml) into g->pol; on failure err names
 * the file (made printable) and, for a mistake in it, its line. */
static int load_policy(struct gate *g, struct error *err)
{
	char where[ERROR_WHERE_MAX];
	int r = syncpolicy_load(g->box.dir, &g->pol, err);
	if (r < 0 && err) {
		gate_path_display(err->where, where, sizeof(where));
		memcpy(err->where, where, sizeof(where));
	}
	return r;
}

static void gate_closep(struct gate **g)
{
	gate_close(*g);
}

/* The project root of b into g->root_fd, opened without following a
 * symlink anywhere on its path. 0, or -errno with err saying what became
 * of the project. */
static int open_project(struct gate *g, const struct box *b, struct error *err)
{
	g->root_fd = openat2_nosym(AT_FDCWD, b->project, O_RDONLY | O_DIRECTORY, 0, false);
	if (g->root_fd >= 0)
		return 0;
	int r = g->root_fd;
	gate_fail(err, r, b->project,
		  r == -ELOOP     ? "the project is (or is reached through) a symlink now"
		  : r == -ENOENT  ? "the project no longer exists"
		  : r == -ENOTDIR ? "the project is no longer a directory"
				  : "cannot open the project: %s",
		  strerror(-r));
	return r;
}

/* The box's overlay upper directory into g->upper_fd. 0, or -errno with
 * err set. */
static int open_upper(struct gate *g, const struct box *b, struct error *err)
{
	char path[PATH_MAX];
	int r;
	if ((r = path_join(path, sizeof(path), b->data, "upper")) < 0 ||
	    (g->upper_fd = r = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		r = r < 0 && errno ? -errno : r;
		return gate_fail(err, r, path, "cannot open the overlay: %s", strerror(-r));
	}
	return 0;
}

/* $BOX/sync (made when missing, with its staging directory) into
 * g->sync_fd and its lock file into g->lock_fd. 0, or -errno with err
 * set. */
static int open_sync_state(struct gate *g, const struct box *b, struct error *err)
{
	char path[PATH_MAX];
	int r;
	if ((r = path_join(path, sizeof(path), b->data, GATE_DIR_NAME)) < 0 ||
	    (mkdir(path, 0700) < 0 && errno != EEXIST) ||
	    (g->sync_fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
	    (mkdirat(g->sync_fd, STAGE_DIR, 0700) < 0 && errno != EEXIST) ||
	    (g->lock_fd =
		 openat(g->sync_fd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
		r = r < 0 ? r : -errno;
		return gate_fail(err, r, path, "cannot open the sync state: %s", strerror(-r));
	}
	return 0;
}

/* One sync of the box at a time: g->lock_fd locked, waiting for it with
 * GATE_OPEN_WAIT in flags. 0, -EBUSY (another sync holds it) or -errno,
 * with err set. */
static int lock_sync(struct gate *g, const struct box *b, unsigned flags, struct error *err)
{
	int r;
	while ((r = flock(g->lock_fd, LOCK_EX | (flags & GATE_OPEN_WAIT ? 0 : LOCK_NB))) < 0 &&
	       errno == EINTR)
		;
	if (r < 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		return gate_fail(err, r, b->name, "another sync of the box is running");
	}
	return 0;
}

/* The box's sync policy, audit log and baseline into g. 0, or -errno with
 * err set. */
static int load_state(struct gate *g, const struct box *b, struct error *err)
{
	int r;
	if ((r = load_policy(g, err)) < 0)
		return r;
	if ((r = audit_open(b->dir, b->name, &g->audit)) < 0)
		return gate_fail(err, r, b->name, "cannot open the audit log: %s", strerror(-r));
	if ((r = load_baseline(g)) < 0) {
		return gate_fail(err, r, GATE_BASELINE_NAME, "cannot read the sync baseline: %s",
				 strerror(-r));
	}
	return 0;
}

int gate_open(const struct box *b, unsigned flags, struct gate **ret, struct error *err)
{
	int r;
	_cleanup_(gate_closep) struct gate *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->box = *b;
	g->root_fd = g->upper_fd = g->sync_fd = g->lock_fd = -1;
	error_clear(err);
	if ((r = open_project(g, b, err)) < 0 || (r = open_upper(g, b, err)) < 0 ||
	    (r = open_sync_state(g, b, err)) < 0 || (r = lock_sync(g, b, flags, err)) < 0 ||
	    (r = load_state(g, b, err)) < 0)
		return r;
	g->interrupted = faccessat(g->sync_fd, GATE_JOURNAL_NAME, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
	*ret = TAKE_PTR(g);
	return 0;
}

struct gate *gate_close(struct gate *g)
{
	if (!g)
		return NULL;
	if (g->root_fd >= 0)
		close(g->root_fd);
	if (g->upper_fd >= 0)
		close(g->upper_fd);
	if (g->sync_fd >= 0)
		close(g->sync_fd);
	if (g->lock_fd >= 0)
		close(g->lock_fd);
	syncpolicy_free(&g->pol);
	audit_close(g->audit);
	scan_rules_free(g->rules);
	for (size_t i = 0; i < g->nsecrets; i++) {
		explicit_bzero(g->secrets[i].value, g->secrets[i].len);
		free(g->secrets[i].value);
	}
	free(g->secrets);
	json_decref(g->cache_old);
	json_decref(g->cache_new);
	baseline_free(&g->base);
	strv_free_n(g->gitdirs, g->ngitdirs);
	free(g);
	return NULL;
}

const struct sync_policy *gate_policy(const struct gate *g)
{
	return &g->pol;
}

bool gate_interrupted(const struct gate *g)
{
	return g->interrupted;
}

int gate_add_known_secret(struct gate *g, const char *name, const void *value, size_t len)
{
	if (g->rules || strlen(name) >= sizeof(g->secrets[0].name) || len < 4)
		return -EINVAL;
	if (array_grow_counted((void **)&g->secrets, g->nsecrets, sizeof(*g->secrets)) < 0)
		return -ENOMEM;
	struct known_secret *s = &g->secrets[g->nsecrets];
	if (!(s->value = malloc(len)))
		return -ENOMEM;
	memcpy(s->value, value, len);
	s->len = len;
	snprintf(s->name, sizeof(s->name), "%s", name);
	g->nsecrets++;
	return 0;
}

/* Read the upper file of e into memory (at most the size limit), check it
 * is still the file the walk saw. */
static int read_upper(struct gate *g, struct gate_entry *e, char **ret, size_t *ret_len)
{
	_cleanup_close_ int dfd = -1;
	const char *base = NULL;
	struct stat st;
	struct gate_fp after;
	int r = gate_parent(g->upper_fd, e->path, &dfd, &base);
	if (r < 0)
		return r;
	_cleanup_close_ int fd =
	    openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_ino != e->upper.ino)
		return -ESTALE;
	size_t cap = (size_t)e->size + 1, len = 0;
	_cleanup_free_ char *data = malloc(cap);
	if (!data)
		return -ENOMEM;
	r = fs_read_fd(fd, data, cap, &len);
	if (r < 0)
		return r == -EFBIG ? -ESTALE : r; /* grew */
	if (fstat(fd, &st) == 0) {
		gate_fp_from_stat(&st, &after);
		if (!gate_fp_equal(&after, &e->upper) || len != e->size)
			return -ESTALE;
	}
	*ret = TAKE_PTR(data);
	*ret_len = len;
	return 0;
}

static int write_stage(struct gate *g, uint32_t idx, const void *data, size_t len)
{
	char name[32];
	gate_stage_name(idx, name);
	(void)unlinkat(g->sync_fd, name, 0);
	int fd =
	    openat(g->sync_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int r = fs_write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r < 0)
		(void)unlinkat(g->sync_fd, name, 0);
	return r;
}

struct collect {
	struct gate_plan *p;
	const struct gate_plan_opts *o;
	int err;
};

static bool only_covers(const struct gate_plan_opts *o, const char *path, bool is_dir)
{
	if (!o->nonly)
		return true;
	size_t pn = strlen(path);
	for (size_t i = 0; i < o->nonly; i++) {
		const char *w = o->only[i];
		size_t wn = strlen(w);
		if (wn == 0)
			return true;
		if (pn >= wn && memcmp(path, w, wn) == 0 && (pn == wn || path[wn] == '/'))
			return true; /* the path or beneath it */
		if (is_dir && wn > pn && memcmp(path, w, pn) == 0 && w[pn] == '/')
			return true; /* a dir the wanted path needs */
	}
	return false;
}

/* The entries of all that --only keeps, copied into ret (all itself when
 * there is no --only). */
static int only_filter(const struct gate_plan *all, const struct gate_plan_opts *o,
		       struct gate_plan *ret)
{
	if (!o->nonly) {
		*ret = *all;
		return 0;
	}
	struct gate_plan q = { .running = all->running };
	for (size_t i = 0; i < all->n; i++) {
		const struct gate_entry *e = &all->v[i];
		if (!only_covers(o, e->path, e->type == GATE_DIR))
			continue;
		if (array_grow((void **)&q.v, &q.cap, q.n, sizeof(*q.v)) < 0) {
			gate_plan_free(&q);
			return -ENOMEM;
		}
		q.v[q.n] = *e;
		if (!(q.v[q.n].path = strdup(e->path))) {
			gate_plan_free(&q);
			return -ENOMEM;
		}
		q.v[q.n].target = NULL;
		q.v[q.n].findings = NULL;
		q.v[q.n].gitdir = NULL;
		q.n++;
	}
	*ret = q;
	return 0;
}

static int collect_change(const struct change *c, void *ctx)
{
	struct collect *cl = ctx;
	struct gate_plan *p = cl->p;
	if (array_grow((void **)&p->v, &p->cap, p->n, sizeof(*p->v)) < 0)
		return -ENOMEM;
	struct gate_entry *e = &p->v[p->n];
	memset(e, 0, sizeof(*e));
	if (!(e->path = strdup(c->path)))
		return -ENOMEM;
	p->n++;
	e->kind = c->kind;
	e->parent = -1;
	const struct stat *st = c->st;
	gate_fp_from_stat(st, &e->upper);
	e->size = S_ISREG(st->st_mode) ? (uint64_t)st->st_size : 0;
	e->truncated = c->truncated;
	/* Never carried home: setuid, setgid, world-writable. */
	e->mode = st->st_mode & 0777 & ~(mode_t)(S_ISUID | S_ISGID | S_IWOTH);
	if (c->kind == CHANGE_DELETED)
		e->type = GATE_WHITEOUT;
	else if (S_ISREG(st->st_mode))
		e->type = GATE_FILE;
	else if (S_ISDIR(st->st_mode))
		e->type = GATE_DIR;
	else if (S_ISLNK(st->st_mode))
		e->type = GATE_SYMLINK;
	else
		e->type = GATE_SPECIAL;
	if (S_ISDIR(st->st_mode))
		e->mode = st->st_mode & 01777 & ~(mode_t)S_IWOTH;
	return 0;
}

/* Paths in an order where a directory comes right before what it holds:
 * '/' sorts before every other byte. */
static int path_cmp(const void *a, const void *b)
{
	const unsigned char *x = (const unsigned char *)((const struct gate_entry *)a)->path;
	const unsigned char *y = (const unsigned char *)((const struct gate_entry *)b)->path;
	for (; *x && *x == *y; x++, y++)
		;
	unsigned cx = *x == '/' ? 1 : *x ? *x + 1u : 0;
	unsigned cy = *y == '/' ? 1 : *y ? *y + 1u : 0;
	return (int)cx - (int)cy;
}

/* classify, stage 1: what is decided before anything is read. SETTLED when
 * the baseline says e was applied while the box ran and is unchanged since;
 * GITDATA beneath a git directory; BLOCKED for a path too long or nested
 * too deep to be walked. Returns 1 when e is decided, 0 to go on, -ENOMEM. */
static int classify_early(struct gate *g, struct gate_entry *e, const struct baseline_rec *rec)
{
	char root[PATH_MAX];
	int r;
	if (rec && gate_fp_equal(&rec->upper, &e->upper)) {
		e->verdict = GATE_SETTLED;
		return 1;
	}
	if (gate_git_root(g, e->path, root, sizeof(root))) {
		r = gate_set_gitdata(e, root);
		return r < 0 ? r : 1;
	}
	if (!e->truncated && strlen(e->path) < PATH_MAX)
		return 0;
	e->verdict = GATE_BLOCKED;
	r = gate_add_finding(e, GATE_SEV_BLOCK, "path-too-long", 0, "%s",
			     strlen(e->path) >= PATH_MAX
				 ? "the path is longer than PATH_MAX (4096 bytes): never synced"
				 : "nested more than 512 directories deep: what it holds is "
				   "never synced");
	return r < 0 ? r : 1;
}

/* What applying e does on the host, from its type and kind (and whether
 * the host has something there). */
static enum gate_action entry_action(const struct gate_entry *e)
{
	switch (e->type) {
	case GATE_WHITEOUT: return GATE_ACT_DELETE;
	case GATE_FILE: return GATE_ACT_WRITE;
	case GATE_SYMLINK: return GATE_ACT_SYMLINK;
	case GATE_SPECIAL: return GATE_ACT_NONE;
	case GATE_DIR: break;
	}
	if (e->kind == CHANGE_META)
		return GATE_ACT_CHMOD;
	return e->kind == CHANGE_REPLACED && e->host_type ? GATE_ACT_REPLACE : GATE_ACT_MKDIR;
}

/* classify, stage 2: the host side and the path. Probes the host (not
 * beneath a directory being replaced: the host has nothing there yet), sets
 * e->action, runs the path checks and, when e removes a host directory,
 * the checks of the tree beneath it (*ret_subtree_changed: a conflict
 * there). May decide GATE_GITDATA. 0 or -errno. */
static int classify_host(struct gate *g, struct gate_entry *e, bool under_replace,
			 bool *ret_subtree_changed)
{
	bool changed = false;
	int r;
	if (!under_replace && (r = gate_probe_host(g, e)) < 0)
		return r;
	e->action = entry_action(e);
	if ((r = gate_check_path(g, e)) < 0)
		return r;
	if (e->host_type == S_IFDIR &&
	    (e->action == GATE_ACT_DELETE || e->action == GATE_ACT_REPLACE ||
	     e->action == GATE_ACT_WRITE || e->action == GATE_ACT_SYMLINK) &&
	    (r = gate_check_subtree(g, e, &changed)) < 0)
		return r;
	*ret_subtree_changed = changed;
	return 0;
}

/* The box's file of e, read and checked: over the size limit it is
 * blocked unread; else its bytes go to *ret_data (the caller frees them),
 * hashed, checked for an executable format and for secrets. Returns 1 when
 * e is decided (GATE_UNSTABLE: it changed while read), 0, or -errno (err
 * set when there is more to say). */
static int classify_file(struct gate *g, struct gate_entry *e, char **ret_data, size_t *ret_len,
			 struct error *err)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	int r = 0;
	if (e->size > g->pol.max_size)
		return gate_add_finding(
		    e, GATE_SEV_BLOCK, "size-limit", 0, "%llu bytes, over the limit of %llu bytes",
		    (unsigned long long)e->size, (unsigned long long)g->pol.max_size);
	r = read_upper(g, e, &data, &len);
	if (r == -ESTALE || r == -ENOENT || r == -ELOOP || r == -ENOTDIR) {
		e->verdict = GATE_UNSTABLE;
		return 1;
	}
	if (r < 0) {
		return gate_fail(err, r, e->path, "cannot read the box's file: %s", strerror(-r));
	}
	hash_sha256_hex(data, len, e->new_hash);
	e->binary = memchr(data, '\0', len < 8000 ? len : 8000) != NULL;
	if (gate_is_executable((const unsigned char *)data, len))
		r = gate_add_finding(e, GATE_SEV_APPROVE, "executable", 0,
				     "an executable or shared object (ELF, PE or Mach-O): "
				     "needs explicit approval");
	if (r == 0)
		r = gate_check_secrets(g, e, data, len, err);
	if (r < 0)
		return r;
	*ret_data = TAKE_PTR(data);
	*ret_len = len;
	return 0;
}

/* The box's link of e: its target read into e->target, hashed and judged
 * (gate_check_link). Returns 1 when e is decided (GATE_UNSTABLE: gone while
 * read), 0, or -errno. */
static int classify_link(struct gate *g, struct gate_entry *e)
{
	char t[PATH_MAX];
	int dfd = -1;
	const char *base = NULL;
	ssize_t n = -1;
	if (gate_parent(g->upper_fd, e->path, &dfd, &base) == 0) {
		n = readlinkat(dfd, base, t, sizeof(t) - 1);
		close(dfd);
	}
	if (n < 0) {
		e->verdict = GATE_UNSTABLE;
		return 1;
	}
	t[n] = '\0';
	if (!(e->target = strdup(t)))
		return -ENOMEM;
	hash_sha256_hex(t, (size_t)n, e->new_hash);
	return gate_check_link(g, e, t, (size_t)n);
}

/* classify, stage 3: the content (a file's bytes, a link's target) and
 * the name. A file's checked bytes go to *ret_data (the caller frees them;
 * NULL for everything else). Returns 1 when e is decided, 0, or -errno. */
static int classify_content(struct gate *g, struct gate_entry *e, char **ret_data, size_t *ret_len,
			    struct error *err)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	int r = 0;
	if (e->type == GATE_FILE)
		r = classify_file(g, e, &data, &len, err);
	else if (e->type == GATE_SYMLINK)
		r = classify_link(g, e);
	if (r == 0)
		r = gate_check_name(g, e, err); /* and the link's target */
	if (r != 0)
		return r;
	*ret_data = TAKE_PTR(data);
	*ret_len = len;
	return 0;
}

/* Whether the host already has what applying e would make. */
static bool host_has_it(const struct gate_entry *e)
{
	if (e->type == GATE_FILE && e->host_type == S_IFREG && e->host_hash[0])
		return STREQ(e->host_hash, e->new_hash) && (e->host.mode & 0777) == e->mode;
	if (e->type == GATE_SYMLINK && e->host_type == S_IFLNK && e->host_hash[0])
		return STREQ(e->host_hash, e->new_hash);
	if (e->action == GATE_ACT_MKDIR && e->host_type == S_IFDIR)
		return true;
	if (e->action == GATE_ACT_CHMOD && e->host_type == S_IFDIR)
		return (e->host.mode & 01777) == e->mode;
	return e->action == GATE_ACT_DELETE && !e->host_type;
}

/* classify, stage 4: the verdict. SETTLED when the host already has it
 * and nothing blocks; else a conflict when the host changed since the box
 * saw it (rec: its baseline record, or NULL) or beneath it
 * (subtree_changed), then BLOCKED, CONFLICT, NEEDS_APPROVAL or OK from the
 * findings. 0 or -ENOMEM. */
static int classify_verdict(struct gate *g, struct gate_entry *e, const struct baseline_rec *rec,
			    bool subtree_changed)
{
	if (host_has_it(e) && !gate_has_sev(e, GATE_SEV_BLOCK)) {
		e->verdict = GATE_SETTLED;
		return 0;
	}
	bool changed = gate_host_changed(g, e, rec);
	if (changed) {
		int r =
		    gate_add_finding(e, GATE_SEV_NOTE, "conflict", 0,
				     !e->host_type ? "deleted on the host after the box saw it"
						   : "changed on the host after the box saw it");
		if (r < 0)
			return r;
	}
	changed |= subtree_changed; /* with its own finding */
	if (gate_has_sev(e, GATE_SEV_BLOCK))
		e->verdict = GATE_BLOCKED;
	else if (changed)
		e->verdict = GATE_CONFLICT;
	else if (gate_has_sev(e, GATE_SEV_APPROVE))
		e->verdict = GATE_NEEDS_APPROVAL;
	else
		e->verdict = GATE_OK;
	return 0;
}

/* The checked bytes of file e (data, len) into the staging area as entry
 * idx, unless it is blocked or settled. 0 or -errno with err set. */
static int stage_entry(struct gate *g, struct gate_entry *e, uint32_t idx, const char *data,
		       size_t len, struct error *err)
{
	if (e->type != GATE_FILE || e->verdict == GATE_BLOCKED || e->verdict == GATE_SETTLED)
		return 0;
	int r = write_stage(g, idx, data, len);
	if (r < 0) {
		return gate_fail(err, r, "staging area", "cannot stage '%s': %s", e->path,
				 strerror(-r));
	}
	e->staged = true;
	return 0;
}

/* The checks and the verdict of entry e (index idx of the plan), in four
 * stages: decided early, host and path, content and name, verdict; then
 * with o->stage its bytes are staged. under_replace: e is beneath a
 * directory the plan replaces. 0 or -errno (err set when there is more to
 * say); a check that fails on e's own data is a finding, not an error. */
static int classify(struct gate *g, struct gate_entry *e, const struct gate_plan_opts *o,
		    uint32_t idx, bool under_replace, struct error *err)
{
	const struct baseline_rec *rec = baseline_get(&g->base, e->path);
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	bool subtree_changed = false;
	int r = classify_early(g, e, rec);
	if (r != 0)
		return r < 0 ? r : 0;
	if ((r = classify_host(g, e, under_replace, &subtree_changed)) < 0)
		return r;
	if (e->verdict == GATE_GITDATA)
		return 0;
	if ((r = classify_content(g, e, &data, &len, err)) != 0)
		return r < 0 ? r : 0;
	if ((r = classify_verdict(g, e, rec, subtree_changed)) < 0)
		return r;
	return o->stage ? stage_entry(g, e, idx, data, len, err) : 0;
}

static int clear_stage(struct gate *g)
{
	int fd = openat(g->sync_fd, STAGE_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	int r = fs_clear_dir(fd);
	close(fd);
	return r;
}

/* Every pending change of the box into *p (sorted as the plan), with the
 * staging area cleared (o->stage), the rules' key and the scan cache
 * loaded. 0, or -errno with err set; p is freed on failure. */
static int plan_collect(struct gate *g, const struct gate_plan_opts *o, struct gate_plan *p,
			struct error *err)
{
	struct collect cl = { p, o, 0 };
	int r;
	if (o->stage && (r = clear_stage(g)) < 0)
		return gate_fail(err, r, "staging area", "cannot clear the staging area: %s",
				 strerror(-r));
	p->running = box_in_use(&g->box, NULL);
	r = changes_walk(g->upper_fd, g->root_fd, collect_change, &cl);
	if (r < 0) {
		gate_plan_free(p);
		return gate_fail(err, r, "upper", "cannot read the box's overlay: %s",
				 strerror(-r));
	}
	if ((r = gate_rules_key(g, err)) < 0) {
		gate_plan_free(p);
		return r;
	}
	gate_cache_load(g);
	if (p->n)
		qsort(p->v, p->n, sizeof(p->v[0]), path_cmp);
	return 0;
}

/* e waits when its parent directory is not applied (blocked, waiting,
 * changing or git data), unless e is settled or decided on its own. */
static void wait_for_parent(const struct gate_plan *p, struct gate_entry *e)
{
	if (e->parent < 0)
		return;
	enum gate_verdict pv = p->v[e->parent].verdict;
	if ((pv == GATE_BLOCKED || pv == GATE_WAITING || pv == GATE_UNSTABLE ||
	     pv == GATE_GITDATA) &&
	    e->verdict != GATE_SETTLED && e->verdict != GATE_BLOCKED && e->verdict != GATE_GITDATA)
		e->verdict = GATE_WAITING;
}

/* Every entry of p classified in order, each with its parent (the nearest
 * directory above it that the plan makes: a stack of them). */
static int classify_all(struct gate *g, const struct gate_plan_opts *o, struct gate_plan *p,
			struct error *err)
{
	ssize_t stack[512];
	size_t depth = 0;
	int r = 0;
	for (size_t i = 0; i < p->n && r == 0; i++) {
		struct gate_entry *e = &p->v[i];
		while (depth) {
			const char *d = p->v[stack[depth - 1]].path;
			size_t dn = strlen(d);
			if (strncmp(e->path, d, dn) == 0 && e->path[dn] == '/')
				break;
			depth--;
		}
		e->parent = depth ? stack[depth - 1] : -1;
		bool under_replace = false;
		for (size_t k = 0; k < depth; k++)
			under_replace |= p->v[stack[k]].action == GATE_ACT_REPLACE;
		r = classify(g, e, o, (uint32_t)i, under_replace, err);
		wait_for_parent(p, e);
		if ((e->action == GATE_ACT_MKDIR || e->action == GATE_ACT_REPLACE) &&
		    depth < ELEMENTSOF(stack))
			stack[depth++] = (ssize_t)i;
	}
	return r;
}

int gate_plan(struct gate *g, const struct gate_plan_opts *o, struct gate_plan *ret,
	      struct error *err)
{
	struct gate_plan p = { 0 };
	error_clear(err);
	if (g->interrupted)
		return gate_fail(err, -EAGAIN, g->box.name,
				 "an interrupted apply must be finished first");
	int r = plan_collect(g, o, &p, err);
	if (r < 0)
		return r;
	/* Every pending change makes the view after the apply, whatever
	 * --only keeps in the plan. */
	struct gate_plan all = p;
	g->allv = all.v;
	g->alln = all.n;
	if ((r = gate_find_gitdirs(g)) < 0 || (r = only_filter(&all, o, &p)) < 0)
		gate_fail(err, r, "upper", "cannot read the project's git directories: %s",
			  strerror(-r));
	else
		r = classify_all(g, o, &p, err);
	g->allv = NULL;
	g->alln = 0;
	if (p.v != all.v)
		gate_plan_free(&all);
	if (r < 0) {
		gate_plan_free(&p);
		return r;
	}
	gate_cache_save(g);
	*ret = p;
	return 0;
}

void gate_plan_free(struct gate_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].path);
		free(p->v[i].target);
		free(p->v[i].shown);
		free(p->v[i].findings);
		free(p->v[i].gitdir);
	}
	free(p->v);
	memset(p, 0, sizeof(*p));
}

void gate_plan_choose_auto(struct gate_plan *p, const char *const *approve, size_t napprove)
{
	for (size_t i = 0; i < p->n; i++) {
		struct gate_entry *e = &p->v[i];
		e->choice = GATE_CHOICE_NONE;
		if (e->verdict == GATE_OK)
			e->choice = GATE_CHOICE_APPLY;
		for (size_t k = 0; e->verdict == GATE_NEEDS_APPROVAL && k < napprove; k++)
			if (pathglob_match(approve[k], e->path))
				e->choice = GATE_CHOICE_APPLY;
	}
}

bool gate_entry_applicable(const struct gate_plan *p, size_t i)
{
	const struct gate_entry *e = &p->v[i];
	switch (e->verdict) {
	case GATE_OK:
	case GATE_NEEDS_APPROVAL:
		if (e->choice != GATE_CHOICE_APPLY)
			return false;
		break;
	case GATE_CONFLICT:
		if (e->choice == GATE_CHOICE_NONE ||
		    (e->choice == GATE_CHOICE_BESIDE && e->type != GATE_FILE &&
		     e->type != GATE_SYMLINK))
			return false;
		break;
	default: return false;
	}
	if (e->parent >= 0 && p->v[e->parent].verdict != GATE_SETTLED) {
		const struct gate_entry *pe = &p->v[e->parent];
		if (pe->choice != GATE_CHOICE_APPLY || !gate_entry_applicable(p, (size_t)e->parent))
			return false;
	}
	return true;
}

int gate_entry_fds(struct gate *g, const struct gate_plan *p, size_t i, int *ret_host, int *ret_box)
{
	const struct gate_entry *e = &p->v[i];
	char name[32];
	if (!e->staged)
		return -ENOENT;
	gate_stage_name((uint32_t)i, name);
	int box = openat(g->sync_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (box < 0)
		return -errno;
	int host = -1;
	if (e->host_type == S_IFREG)
		host = gate_openat(g->root_fd, e->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
	*ret_box = box;
	*ret_host = host < 0 ? -1 : host;
	return 0;
}
