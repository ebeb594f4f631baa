/* The overlay's upper dir watched with inotify (src/state/writewatch.h).
 *
 * Why inotify, not fanotify: the watcher must work for ordinary users,
 * and unprivileged fanotify (Linux 5.13+) has inode marks only, which is
 * what inotify gives with less code; a filesystem mark (one mark for the
 * whole tree, no race with new directories) needs CAP_SYS_ADMIN in the
 * host's user namespace and resolving its file handles CAP_DAC_READ_SEARCH.
 *
 * The model: every watched directory is a node, indexed by its watch
 * descriptor, holding its parent's descriptor and its name, so a
 * directory's path is its chain of names and a rename moves one node. A
 * directory that leaves its place without a rename both of whose names we
 * saw (overlayfs moving it to its work dir) loses its watch and its
 * subtree's: its later events are not the agent's view any more. */
#include "util/clock.h"
#include "util/common.h"

#include "state/audit.h"
#include "state/writewatch.h"
#include "util/utf8.h"

#include <dirent.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <time.h>

#define WW_MASK                                                                           \
	(IN_CREATE | IN_DELETE | IN_MODIFY | IN_MOVED_FROM | IN_MOVED_TO | IN_MOVE_SELF | \
	 IN_DELETE_SELF | IN_ONLYDIR)
#define WW_MOD_SLOTS  4096 /* files whose last fs.modify is remembered */
#define WW_SCAN_DEPTH 256  /* directories deep a scan goes (its stack) */
#define WW_ORIGIN     "user.overlay.origin"
#define WW_READ_BUF   (8 * 1024)
#define WW_BATCH_MS   10  /* the least time between two reads */
#define WW_BATCH      256 /* events written under one lock at most */
#define WW_START_DIRS 256 /* directories watched before start returns */
#define WW_SHOWN_MAX  (PATH_MAX * 4 + 64)

struct ww_dir {
	int wd;
	int64_t quiet; /* until when its files' writes are not events (ms), or 0 */
	int parent;    /* its parent's watch descriptor; -1 for the upper dir */
	bool dead;     /* left its place: its events are ignored until IN_IGNORED */
	bool moved;    /* renamed by an event pair: its IN_MOVE_SELF is expected */
	char name[];
};

struct ww_mod {
	char *rel;            /* the file, NULL: a free slot */
	int64_t last;         /* when its last fs.modify was written (ms, monotonic) */
	struct timespec seen; /* when its last write was noted (wall clock) */
	bool pending;         /* written to since */
};

struct ww_move {
	bool has;
	bool isdir;
	int wd;
	uint32_t cookie;
	char name[NAME_MAX + 1];
};

struct ww_later {
	int parent;
	char *name;
};

struct writewatch {
	int ifd, stopfd, upper;
	int done[2]; /* a pipe: the thread says all is written (then frees w) */
	pthread_t thread;
	bool running; /* the thread was started */
	struct audit *audit;
	char prefix[PATH_MAX];
	struct ww_dir **dirs; /* by watch descriptor: a hash table */
	size_t cap, n, max_dirs;
	int root;
	struct ww_move move; /* an IN_MOVED_FROM waiting for its IN_MOVED_TO */
	struct ww_mod *mods; /* WW_MOD_SLOTS, by the hash of the path */
	int64_t due;         /* the earliest pending modify's time, or 0 */
	bool lost_watch;     /* fs.lost said that a directory went unwatched */
	int budget;          /* directories start may still watch; -1: any */
	int *quiet;          /* directories whose IN_MODIFY is off for now */
	size_t nquiet, capquiet;
	struct ww_later *later; /* directories left to the thread by start */
	size_t nlater;
	char last[WW_SHOWN_MAX]; /* the last event and path written (no repeats) */
	uint64_t events;
	const char *batch_ev[WW_BATCH]; /* events queued for one append */
	json_t *batch_f[WW_BATCH];
	size_t nbatch;
	struct writewatch_opts lim;
	uint64_t tokens, dropped; /* rate_ok: thousandths of an event; not written */
	struct timespec started;  /* wall clock */
	int64_t refilled;
};

void writewatch_escape(const char *s, char *out, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0, left = strlen(s);
	while (*p) {
		uint32_t cp = 0;
		size_t seq = *p >= 0x80 ? utf8_decode(p, left, &cp) : 0;
		if (o + 8 >= n) {
			memcpy(out + (o + 4 <= n ? o : n - 4), "...", 4);
			return;
		}
		if (seq && utf8_is_control(cp)) {
			o += (size_t)snprintf(out + o, n - o, "\\u%04x", (unsigned)cp);
		} else if (seq) {
			memcpy(out + o, p, seq);
			o += seq;
		} else if (*p < 0x20 || *p >= 0x7f || *p == '\\') {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		} else {
			out[o++] = (char)*p;
		}
		seq = seq ? seq : 1;
		p += seq;
		left -= seq;
	}
	out[o] = '\0';
}

/* The nodes: a hash table by watch descriptor, open addressing, at most
 * half full (descriptors only grow, so an array indexed by them would grow
 * with every directory the box ever made). */
static size_t wd_slot(const struct writewatch *w, int wd)
{
	return ((uint32_t)wd * 2654435761u) & (w->cap - 1);
}

/* The slot of wd, or w->cap when it has none. */
static size_t dir_index(const struct writewatch *w, int wd)
{
	for (size_t i = w->cap ? wd_slot(w, wd) : 0; w->cap && w->dirs[i];
	     i = (i + 1) & (w->cap - 1))
		if (w->dirs[i]->wd == wd)
			return i;
	return w->cap;
}

static struct ww_dir *dir_get(const struct writewatch *w, int wd)
{
	size_t i = dir_index(w, wd);
	return i < w->cap ? w->dirs[i] : NULL;
}

/* Put d in the table (replacing, and freeing, the node of its wd). */
static void dir_insert(struct writewatch *w, struct ww_dir *d)
{
	size_t i = wd_slot(w, d->wd);
	for (; w->dirs[i] && w->dirs[i]->wd != d->wd; i = (i + 1) & (w->cap - 1))
		;
	if (w->dirs[i])
		free(w->dirs[i]);
	else
		w->n++;
	w->dirs[i] = d;
}

static int dir_grow(struct writewatch *w)
{
	size_t cap = w->cap ? 2 * w->cap : 64, old = w->cap;
	struct ww_dir **t = calloc(cap, sizeof(struct ww_dir *)), **prev = w->dirs;
	if (!t)
		return -ENOMEM;
	w->dirs = t;
	w->cap = cap;
	w->n = 0;
	for (size_t i = 0; i < old; i++)
		if (prev[i])
			dir_insert(w, prev[i]);
	free(prev);
	return 0;
}

/* Free the node of wd; the entries after it move back (no tombstones). */
static void dir_remove(struct writewatch *w, int wd)
{
	size_t i = dir_index(w, wd), mask = w->cap - 1;
	if (i == w->cap)
		return;
	w->dirs[i] = (free(w->dirs[i]), NULL);
	w->n--;
	for (size_t j = (i + 1) & mask; w->dirs[j]; j = (j + 1) & mask) {
		size_t k = wd_slot(w, w->dirs[j]->wd);
		if ((j > i && (k <= i || k > j)) || (j < i && k <= i && k > j)) {
			w->dirs[i] = w->dirs[j];
			w->dirs[j] = NULL;
			i = j;
		}
	}
}

/* The path of directory wd relative to the upper dir ("" for itself). */
static int dir_rel(const struct writewatch *w, int wd, char *out, size_t n)
{
	int chain[PATH_MAX / 2];
	size_t depth = 0, o = 0;
	for (int d = wd; d != w->root; d = dir_get(w, d)->parent) {
		if (!dir_get(w, d) || depth == ELEMENTSOF(chain))
			return -ENOENT;
		chain[depth++] = d;
	}
	out[0] = '\0';
	while (depth--) {
		int m =
		    snprintf(out + o, n - o, "%s%s", o ? "/" : "", dir_get(w, chain[depth])->name);
		if (m < 0 || (size_t)m >= n - o)
			return -ENAMETOOLONG;
		o += (size_t)m;
	}
	return 0;
}

/* The path of name in directory wd, relative to the upper dir. */
static int child_rel(const struct writewatch *w, int wd, const char *name, char *out, size_t n)
{
	int r = dir_rel(w, wd, out, n);
	size_t o = strlen(out);
	if (r < 0)
		return r;
	r = snprintf(out + o, n - o, "%s%s", o ? "/" : "", name);
	return r < 0 || (size_t)r >= n - o ? -ENAMETOOLONG : 0;
}

/* Open rel ("" for the upper dir itself) beneath the upper dir, never
 * through a symlink or out of its filesystem. */
static int open_beneath(const struct writewatch *w, const char *rel, uint64_t flags)
{
	struct open_how how = { .flags = flags | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
					   RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV };
	long fd = syscall(SYS_openat2, w->upper, rel[0] ? rel : ".", &how, sizeof(how));
	return fd < 0 ? -errno : (int)fd;
}

static const char *type_name(mode_t m)
{
	return S_ISDIR(m) ? "dir" : S_ISLNK(m) ? "link" : S_ISREG(m) ? "file" : "other";
}

/* Write one event: path (and from) relative to the upper dir, shown as
 * prefix/REL, escaped. The same event on the same path twice in a row is
 * written once (overlayfs's exchanges can show one change twice). */
static void lost(struct writewatch *w, const char *reason);

/* Write the events queued (one lock and head read for all of them). */
static void flush_events(struct writewatch *w)
{
	if (!w->nbatch)
		return;
	if (audit_append_many(w->audit, w->nbatch, w->batch_ev, w->batch_f) == 0)
		__atomic_add_fetch(&w->events, w->nbatch, __ATOMIC_RELAXED);
	w->nbatch = 0;
}

/* Queue one event (fields consumed); written by flush_events, at the end
 * of each read of the kernel's events at the latest. */
static void queue(struct writewatch *w, const char *event, json_t *fields)
{
	if (!fields)
		return;
	if (w->nbatch == WW_BATCH)
		flush_events(w);
	w->batch_ev[w->nbatch] = event;
	w->batch_f[w->nbatch++] = fields;
}

/* May one more event be written? A token bucket (burst, then per_sec a
 * second), so that a box making files without end cannot fill the host's
 * disk with its audit log. The first event after a gap says how many
 * were not written. */
static bool rate_ok(struct writewatch *w)
{
	int64_t now = clock_ms();
	uint64_t cap = (uint64_t)w->lim.burst * 1000;
	w->tokens += (uint64_t)(now - w->refilled) * w->lim.per_sec;
	w->refilled = now;
	if (w->tokens > cap)
		w->tokens = cap;
	if (w->tokens < 1000) {
		w->dropped++;
		return false;
	}
	w->tokens -= 1000;
	return true;
}

/* Say how many events were not written (rate_ok), if any. */
static void rate_report(struct writewatch *w)
{
	char reason[160];
	if (!w->dropped)
		return;
	snprintf(reason, sizeof(reason),
		 "%" PRIu64 " changes were not recorded (more than %u a second after %u)",
		 w->dropped, w->lim.per_sec, w->lim.burst);
	w->dropped = 0;
	lost(w, reason);
}

static void emit(struct writewatch *w, const char *event, const char *rel, const char *from,
		 const char *type)
{
	char esc[WW_SHOWN_MAX], path[WW_SHOWN_MAX + PATH_MAX], key[sizeof(w->last)];
	if (!rate_ok(w))
		return;
	rate_report(w);
	writewatch_escape(rel, esc, sizeof(esc));
	snprintf(path, sizeof(path), "%s%s%s", w->prefix, rel[0] ? "/" : "", esc);
	snprintf(key, sizeof(key), "%s %s", event, path);
	if (!from && !STREQ(event, "fs.modify") && STREQ(key, w->last))
		return;
	snprintf(w->last, sizeof(w->last), "%s", key);
	json_t *f = json_pack("{s:s}", "path", path);
	if (f && from) {
		writewatch_escape(from, esc, sizeof(esc));
		snprintf(path, sizeof(path), "%s%s%s", w->prefix, from[0] ? "/" : "", esc);
		json_object_set_new(f, "from", json_string(path));
	}
	if (f && type)
		json_object_set_new(f, "type", json_string(type));
	queue(w, event, f);
}

static void lost(struct writewatch *w, const char *reason)
{
	w->last[0] = '\0';
	queue(w, "fs.lost", json_pack("{s:s}", "reason", reason));
}

static void due_at(struct writewatch *w, int64_t t)
{
	if (!w->due || t < w->due)
		w->due = t;
}

/* rel's slot; NULL before the first modify (the table is made then: a
 * box that writes nothing does not pay for it). */
static struct ww_mod *mod_slot(struct writewatch *w, const char *rel)
{
	uint32_t h = 2166136261u;
	if (!w->mods)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)rel; *p; p++)
		h = (h ^ *p) * 16777619u;
	return &w->mods[h & (WW_MOD_SLOTS - 1)];
}

/* Write the modify that waits for rel, if one does; forget rel (gone:
 * its next write is reported at once) when drop. */
static void mod_flush(struct writewatch *w, const char *rel, bool drop)
{
	struct ww_mod *s = mod_slot(w, rel);
	if (!s || !s->rel || !STREQ(s->rel, rel))
		return;
	if (s->pending)
		emit(w, "fs.modify", s->rel, NULL, NULL);
	s->pending = false;
	if (drop)
		s->rel = (free(s->rel), NULL);
}

/* A write to rel: fs.modify now, unless one was written less than
 * WRITEWATCH_MODIFY_MS ago; then it waits (mod_tick). A slot taken by
 * another file gives that file's waiting modify first. */
static void mod_note(struct writewatch *w, const char *rel, int64_t now)
{
	if (!w->mods && !(w->mods = calloc(WW_MOD_SLOTS, sizeof(*w->mods))))
		return;
	struct ww_mod *s = mod_slot(w, rel);
	if (s->rel && !STREQ(s->rel, rel))
		mod_flush(w, s->rel, true);
	if (!s->rel) {
		if (!(s->rel = strdup(rel)))
			return;
		s->last = now - WRITEWATCH_MODIFY_MS;
	}
	clock_gettime(CLOCK_REALTIME, &s->seen);
	if (now - s->last >= WRITEWATCH_MODIFY_MS) {
		emit(w, "fs.modify", rel, NULL, NULL);
		s->last = now;
		s->pending = false;
		return;
	}
	s->pending = true;
	due_at(w, s->last + WRITEWATCH_MODIFY_MS);
}

static void quiet_tick(struct writewatch *w, int64_t now);

/* Write the modifies that are due (all of them when all), and turn
 * IN_MODIFY on again where its second is over. */
static void mod_tick(struct writewatch *w, int64_t now, bool all)
{
	w->due = 0;
	for (size_t i = 0; w->mods && i < WW_MOD_SLOTS; i++) {
		struct ww_mod *s = &w->mods[i];
		if (!s->pending)
			continue;
		if (all || s->last + WRITEWATCH_MODIFY_MS <= now) {
			emit(w, "fs.modify", s->rel, NULL, NULL);
			s->last = now;
			s->pending = false;
		} else {
			due_at(w, s->last + WRITEWATCH_MODIFY_MS);
		}
	}
	quiet_tick(w, now);
	flush_events(w);
}

/* Record directory wd as name in parent (a watch on an inode we know
 * already gives its descriptor again: the node is moved). */
static int dir_put(struct writewatch *w, int wd, int parent, const char *name)
{
	int r;
	if (!dir_get(w, wd) && w->n >= w->max_dirs)
		return -ENOSPC;
	if ((w->n + 1) * 2 > w->cap && (r = dir_grow(w)) < 0)
		return r;
	struct ww_dir *d = malloc(sizeof(*d) + strlen(name) + 1);
	if (!d)
		return -ENOMEM;
	*d = (struct ww_dir){ .wd = wd, .parent = parent };
	memcpy(d->name, name, strlen(name) + 1);
	dir_insert(w, d);
	return 0;
}

/* The live node named name in parent, or -1. */
static int dir_find(const struct writewatch *w, int parent, const char *name)
{
	for (size_t i = 0; i < w->cap; i++)
		if (w->dirs[i] && !w->dirs[i]->dead && w->dirs[i]->parent == parent &&
		    STREQ(w->dirs[i]->name, name) && w->dirs[i]->wd != w->root)
			return w->dirs[i]->wd;
	return -1;
}

static bool dir_beneath(const struct writewatch *w, int wd, int top)
{
	for (size_t hops = 0; wd >= 0 && hops < PATH_MAX; hops++) {
		if (wd == top)
			return true;
		const struct ww_dir *d = dir_get(w, wd);
		if (!d || d->dead)
			return false;
		wd = d->parent;
	}
	return false;
}

/* Directory top left the agent's view: drop its watch and its subtree's. */
static void dir_kill(struct writewatch *w, int top)
{
	for (size_t i = 0; i < w->cap; i++)
		if (w->dirs[i] && w->dirs[i]->wd != top && !w->dirs[i]->dead &&
		    dir_beneath(w, w->dirs[i]->wd, top)) {
			w->dirs[i]->dead = true;
			inotify_rm_watch(w->ifd, w->dirs[i]->wd);
		}
	struct ww_dir *d = dir_get(w, top);
	if (d && !d->dead) {
		d->dead = true;
		inotify_rm_watch(w->ifd, top);
	}
}

static void scan(struct writewatch *w, int fd, int wd, const char *rel, bool report, int depth);

/* Watch the directory name in parent (its fd pfd, its path prel) and the
 * directories beneath it; report: each entry found is new (scan_report).
 * The watch is added through the parent's fd without following name; a
 * directory whose link count says it has no subdirectory (2, where the
 * filesystem counts them) is not read unless it reports: syscalls are
 * what a large upper dir costs. */
static int watch_add(struct writewatch *w, int pfd, int parent, const char *prel, const char *name,
		     bool report, int depth)
{
	char rel[PATH_MAX], self[64 + NAME_MAX];
	struct stat st;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	snprintf(self, sizeof(self), "/proc/self/fd/%d/%s", pfd, name);
	int wd = depth < WW_SCAN_DEPTH ? inotify_add_watch(w->ifd, self, WW_MASK | IN_DONT_FOLLOW)
				       : -ELOOP;
	int r = wd < 0 ? (wd == -ELOOP ? wd : -errno) : dir_put(w, wd, parent, name);
	if (r < 0) {
		if (wd >= 0)
			inotify_rm_watch(w->ifd, wd);
		if (!w->lost_watch)
			lost(w, "a directory could not be watched (too many directories, or too "
				"deep): writes beneath it are not reported");
		w->lost_watch = true;
		return r;
	}
	if (st.st_nlink == 2 && !report)
		return 0;
	int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 &&
	    snprintf(rel, sizeof(rel), "%s%s%s", prel, prel[0] ? "/" : "", name) < (int)sizeof(rel))
		scan(w, TAKE_FD(fd), wd, rel, report, depth + 1);
	if (fd >= 0)
		close(fd);
	return 0;
}

/* An entry found by a scan of a new or copied-up directory: made since
 * (a copied-up directory starts empty), so reported as its event would
 * be: a whiteout is a delete, a copy-up nothing, the rest a create. */
static void scan_report(struct writewatch *w, const char *rel, const char *name,
			const struct stat *st, int dfd)
{
	char crel[PATH_MAX], self[64 + NAME_MAX];
	if (snprintf(crel, sizeof(crel), "%s%s%s", rel, rel[0] ? "/" : "", name) >=
	    (int)sizeof(crel))
		return;
	if (S_ISCHR(st->st_mode) && st->st_rdev == 0) {
		emit(w, "fs.delete", crel, NULL, NULL);
		return;
	}
	snprintf(self, sizeof(self), "/proc/self/fd/%d/%s", dfd, name);
	if (lgetxattr(self, WW_ORIGIN, NULL, 0) < 0)
		emit(w, "fs.create", crel, NULL, type_name(st->st_mode));
}

/* Leave the directory name of parent to the thread (start's budget is
 * spent: a large upper dir must not delay the box). */
static void later(struct writewatch *w, int parent, const char *name)
{
	struct ww_later *l = realloc(w->later, (w->nlater + 1) * sizeof(*l));
	if (!l)
		return;
	w->later = l;
	if ((l[w->nlater].name = strdup(name)))
		l[w->nlater++].parent = parent;
}

/* One entry of a scan; its d_type spares a stat unless it reports. */
static void scan_entry(struct writewatch *w, int fd, int wd, const char *rel, bool report,
		       int depth, const struct dirent64 *e)
{
	struct stat st = { .st_mode = e->d_type == DT_DIR ? S_IFDIR : 0 };
	if (STREQ(e->d_name, ".") || STREQ(e->d_name, ".."))
		return;
	if ((report || e->d_type == DT_UNKNOWN) &&
	    fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	if (report)
		scan_report(w, rel, e->d_name, &st, fd);
	if (!S_ISDIR(st.st_mode))
		return;
	if (w->budget == 0) {
		later(w, wd, e->d_name);
		return;
	}
	if (w->budget > 0)
		w->budget--;
	watch_add(w, fd, wd, rel, e->d_name, report, depth);
}

/* Watch every directory beneath fd (owned: closed here; directory wd,
 * path rel). */
static void scan(struct writewatch *w, int fd, int wd, const char *rel, bool report, int depth)
{
	_cleanup_close_ int dfd = fd;
	_Alignas(struct dirent64) char buf[2048];
	long n;
	while ((n = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0)
		for (long off = 0; off < n;) {
			const struct dirent64 *e = (const struct dirent64 *)(buf + off);
			scan_entry(w, dfd, wd, rel, report, depth, e);
			off += e->d_reclen;
		}
}

struct ww_entry {
	bool gone, whiteout, origin;
	mode_t mode;
};

/* What is at name in directory wd now. */
static void classify(const struct writewatch *w, int wd, const char *name, struct ww_entry *ret)
{
	char rel[PATH_MAX], self[PATH_MAX + 64];
	struct stat st;
	*ret = (struct ww_entry){ .gone = true };
	if (dir_rel(w, wd, rel, sizeof(rel)) < 0)
		return;
	_cleanup_close_ int pfd = open_beneath(w, rel, O_PATH);
	if (pfd < 0 || fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	ret->gone = false;
	ret->mode = st.st_mode;
	ret->whiteout = S_ISCHR(st.st_mode) && st.st_rdev == 0;
	/* lgetxattr: name itself is never followed, nor are its parents
	 * (the fd was opened without symlinks). */
	snprintf(self, sizeof(self), "/proc/self/fd/%d/%s", pfd, name);
	ret->origin = lgetxattr(self, WW_ORIGIN, NULL, 0) >= 0;
}

/* Watch the new directory name of wd (report: what is in it already is
 * new too). */
static void watch_new(struct writewatch *w, int wd, const char *name, bool report)
{
	char rel[PATH_MAX];
	if (dir_rel(w, wd, rel, sizeof(rel)) < 0)
		return;
	_cleanup_close_ int pfd = open_beneath(w, rel, O_PATH);
	if (pfd >= 0)
		watch_add(w, pfd, wd, rel, name, report, 0);
}

/* IN_CREATE, or an IN_MOVED_TO whose IN_MOVED_FROM was not in the upper
 * dir (overlayfs's work dir): a copy-up is not the agent's (the writes
 * that follow are); a whiteout is a delete; a directory put in place of
 * a directory we watch is the exchange of a removal. */
static void on_new(struct writewatch *w, int wd, const char *name, bool moved_in, bool isdir)
{
	char rel[PATH_MAX];
	struct ww_entry e;
	if (child_rel(w, wd, name, rel, sizeof(rel)) < 0)
		return;
	if (moved_in && isdir && dir_find(w, wd, name) >= 0)
		return;
	classify(w, wd, name, &e);
	/* Gone already: a file moved in from the work dir was a whiteout
	 * (its parent went since) or a file created over one and removed;
	 * a directory moved in is a copy-up or an exchange. */
	if (e.gone && !(moved_in && isdir))
		emit(w, moved_in ? "fs.delete" : "fs.create", rel, NULL, NULL);
	if (e.gone)
		return;
	if (e.whiteout) {
		mod_flush(w, rel, true);
		emit(w, "fs.delete", rel, NULL, NULL);
		return;
	}
	if (!e.origin)
		emit(w, "fs.create", rel, NULL, type_name(e.mode));
	if (S_ISDIR(e.mode))
		watch_new(w, wd, name, true);
}

/* A rename both of whose names are in the upper dir. */
static void on_rename(struct writewatch *w, const struct ww_move *m, int wd, const char *name)
{
	char from[PATH_MAX], to[PATH_MAX];
	if (child_rel(w, m->wd, m->name, from, sizeof(from)) < 0 ||
	    child_rel(w, wd, name, to, sizeof(to)) < 0)
		return;
	mod_flush(w, from, true);
	mod_flush(w, to, true);
	emit(w, "fs.rename", to, from, m->isdir ? "dir" : NULL);
	if (!m->isdir)
		return;
	int d = dir_find(w, m->wd, m->name);
	int64_t quiet = d >= 0 ? dir_get(w, d)->quiet : 0;
	if (d < 0 || dir_put(w, d, wd, name) < 0) {
		watch_new(w, wd, name, false);
		return;
	}
	dir_get(w, d)->moved = true;
	dir_get(w, d)->quiet = quiet;
}

#define WW_QUIET_MASK ((WW_MASK & ~IN_MODIFY) | IN_CLOSE_WRITE)

/* Set the events directory wd reports, its watch found again by its path
 * beneath the upper dir. A path that leads to another directory now (the
 * box renamed things meanwhile) gets its own mask back. */
static void watch_mask(struct writewatch *w, int wd, uint32_t mask)
{
	char rel[PATH_MAX], self[64];
	if (dir_rel(w, wd, rel, sizeof(rel)) < 0)
		return;
	_cleanup_close_ int fd = open_beneath(w, rel, O_PATH);
	if (fd < 0)
		return;
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	int got = inotify_add_watch(w->ifd, self, mask);
	const struct ww_dir *o = got >= 0 && got != wd ? dir_get(w, got) : NULL;
	if (got >= 0 && got != wd && !o)
		inotify_rm_watch(w->ifd, got);
	else if (o)
		inotify_add_watch(w->ifd, self, o->quiet ? WW_QUIET_MASK : WW_MASK);
}

/* A write in directory wd was seen: for WRITEWATCH_MODIFY_MS its files'
 * writes are no events (a flood of writes costs the writer no event
 * each); a file written meanwhile is told at its close (IN_CLOSE_WRITE)
 * or at its next write after. */
static void quiet_start(struct writewatch *w, int wd, int64_t now)
{
	struct ww_dir *d = dir_get(w, wd);
	if (!d || d->quiet)
		return;
	if (w->nquiet == w->capquiet) {
		size_t cap = w->capquiet ? 2 * w->capquiet : 16;
		int *q = realloc(w->quiet, cap * sizeof(*q));
		if (!q)
			return;
		w->quiet = q;
		w->capquiet = cap;
	}
	w->quiet[w->nquiet++] = wd;
	d->quiet = now + WRITEWATCH_MODIFY_MS;
	due_at(w, d->quiet);
	watch_mask(w, wd, WW_QUIET_MASK);
}

static void quiet_tick(struct writewatch *w, int64_t now)
{
	size_t k = 0;
	for (size_t i = 0; i < w->nquiet; i++) {
		struct ww_dir *d = dir_get(w, w->quiet[i]);
		if (d && d->quiet > now) {
			due_at(w, d->quiet);
			w->quiet[k++] = w->quiet[i];
			continue;
		}
		if (d && !d->dead) {
			d->quiet = 0;
			watch_mask(w, w->quiet[i], WW_MASK);
		}
	}
	w->nquiet = k;
}

/* A file closed after writing (its directory quiet, its writes no
 * events): was it written since its last write we noted (or since the
 * start)? Its mtime says (a copy-up keeps the project file's). */
static bool written_since(struct writewatch *w, int wd, const char *name, const char *rel)
{
	char drel[PATH_MAX];
	struct stat st;
	const struct ww_mod *s = mod_slot(w, rel);
	struct timespec since = s && s->rel && STREQ(s->rel, rel) ? s->seen : w->started;
	if (dir_rel(w, wd, drel, sizeof(drel)) < 0)
		return false;
	_cleanup_close_ int pfd = open_beneath(w, drel, O_PATH);
	if (pfd < 0 || fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	return st.st_mtim.tv_sec > since.tv_sec ||
	       (st.st_mtim.tv_sec == since.tv_sec && st.st_mtim.tv_nsec > since.tv_nsec);
}

/* An IN_MOVED_FROM not followed by its IN_MOVED_TO. A directory left for
 * overlayfs's work dir (its removal's exchanges; its watch goes on its
 * IN_MOVE_SELF): nothing of the agent's. A file moved into a directory
 * not watched yet (its scan will tell it there): gone from here. */
static void moved_away(struct writewatch *w, const struct ww_move *m)
{
	char rel[PATH_MAX];
	if (m->isdir || child_rel(w, m->wd, m->name, rel, sizeof(rel)) < 0)
		return;
	mod_flush(w, rel, true);
	emit(w, "fs.delete", rel, NULL, NULL);
}

/* The events of a directory itself; true when ev is done with. */
static bool on_self(struct writewatch *w, const struct inotify_event *ev, struct ww_dir *d)
{
	if (ev->mask & IN_IGNORED) {
		dir_remove(w, ev->wd);
		return true;
	}
	if (d->dead)
		return true;
	if (ev->mask & IN_MOVE_SELF) {
		if (!d->moved && ev->wd != w->root)
			dir_kill(w, ev->wd);
		d->moved = false;
		return true;
	}
	if (ev->mask & IN_DELETE_SELF) {
		d->dead = true;
		return true;
	}
	return ev->len == 0;
}

/* Watch every directory of the upper dir (a watched one keeps its node). */
static void rescan(struct writewatch *w)
{
	int fd = openat(w->upper, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		scan(w, fd, w->root, "", false, 0);
}

static void handle(struct writewatch *w, const struct inotify_event *ev, int64_t now)
{
	char rel[PATH_MAX];
	struct ww_dir *d = dir_get(w, ev->wd);
	if (ev->mask & IN_Q_OVERFLOW) {
		w->move.has = false;
		lost(w, "the kernel's event queue overflowed: writes were not reported");
		rescan(w);
		return;
	}
	if (!d || on_self(w, ev, d))
		return;
	struct ww_move m = w->move;
	w->move.has = false;
	if (m.has && !(ev->mask & IN_MOVED_TO && m.cookie == ev->cookie))
		moved_away(w, &m);
	if (ev->mask & IN_MOVED_FROM) {
		w->move = (struct ww_move){ .has = true,
					    .isdir = ev->mask & IN_ISDIR,
					    .wd = ev->wd,
					    .cookie = ev->cookie };
		snprintf(w->move.name, sizeof(w->move.name), "%s", ev->name);
	} else if (ev->mask & IN_MOVED_TO && m.has && m.cookie == ev->cookie) {
		on_rename(w, &m, ev->wd, ev->name);
	} else if (ev->mask & (IN_MOVED_TO | IN_CREATE)) {
		on_new(w, ev->wd, ev->name, ev->mask & IN_MOVED_TO, ev->mask & IN_ISDIR);
	} else if (child_rel(w, ev->wd, ev->name, rel, sizeof(rel)) < 0) {
		return;
	} else if (ev->mask & IN_DELETE) {
		mod_flush(w, rel, true);
		emit(w, "fs.delete", rel, NULL, NULL);
	} else if (ev->mask & IN_MODIFY) {
		mod_note(w, rel, now);
		quiet_start(w, ev->wd, now);
	} else if (ev->mask & IN_CLOSE_WRITE && written_since(w, ev->wd, ev->name, rel)) {
		mod_note(w, rel, now);
	}
}

/* Read what is queued (never blocks). 0 when the queue is empty. */
static int drain_once(struct writewatch *w)
{
	_Alignas(struct inotify_event) char buf[WW_READ_BUF];
	ssize_t n = read(w->ifd, buf, sizeof(buf));
	if (n <= 0)
		return 0;
	int64_t now = clock_ms();
	for (char *p = buf; p < buf + n;) {
		const struct inotify_event *ev = (const struct inotify_event *)p;
		handle(w, ev, now);
		p += sizeof(*ev) + ev->len;
	}
	if (w->due && w->due <= now)
		mod_tick(w, now, false);
	flush_events(w);
	return 1;
}

static struct writewatch *ww_free(struct writewatch *w);

static void *thread_main(void *p)
{
	struct writewatch *w = p;
	/* What start left, unless the box ends first (its writes are done). */
	for (size_t i = 0; i < w->nlater; i++) {
		struct pollfd stop = { .fd = w->stopfd, .events = POLLIN };
		if (poll(&stop, 1, 0) > 0)
			break;
		watch_new(w, w->later[i].parent, w->later[i].name, false);
	}
	for (;;) {
		struct pollfd pf[2] = { { .fd = w->ifd, .events = POLLIN },
					{ .fd = w->stopfd, .events = POLLIN } };
		int64_t now = clock_ms();
		int timeout = w->due ? (int)(w->due > now ? w->due - now : 0) : -1;
		int r = poll(pf, 2, timeout);
		if (r < 0 && errno != EINTR)
			break;
		if (pf[1].revents)
			break;
		if (r == 0)
			mod_tick(w, clock_ms(), false);
		/* Read, then let events gather: a reader woken at every event
		 * costs the writer (and the CPU) a wake-up per write. */
		if (pf[0].revents && (drain_once(w), poll(&pf[1], 1, WW_BATCH_MS) != 0))
			break;
	}
	while (drain_once(w))
		;
	if (w->move.has)
		moved_away(w, &w->move);
	mod_tick(w, clock_ms(), true);
	rate_report(w);
	flush_events(w);
	/* Everything is written: writewatch_stop returns. Closing the inotify
	 * fd waits for an RCU grace period (the marks' end): here, beside
	 * what the supervisor does next, not before it. */
	(void)!write(w->done[1], "", 1);
	ww_free(w);
	return NULL;
}

static struct writewatch *ww_free(struct writewatch *w)
{
	if (!w)
		return NULL;
	for (size_t i = 0; i < w->cap; i++)
		free(w->dirs[i]);
	for (size_t i = 0; w->mods && i < WW_MOD_SLOTS; i++)
		free(w->mods[i].rel);
	for (size_t i = 0; i < w->nlater; i++)
		free(w->later[i].name);
	free(w->later);
	free(w->quiet);
	for (size_t i = 0; i < w->nbatch; i++)
		json_decref(w->batch_f[i]);
	free(w->dirs);
	free(w->mods);
	int fds[] = { w->ifd, w->stopfd, w->done[0], w->done[1] };
	for (size_t i = 0; i < ELEMENTSOF(fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(w);
	return NULL;
}

static void ww_freep(struct writewatch **w)
{
	ww_free(*w);
}

/* Half the user's inotify watches at most: the box must not take them
 * all from the user's other programs. */
static size_t max_dirs(void)
{
	char buf[32] = "";
	unsigned long long n = 8192;
	_cleanup_close_ int fd =
	    open("/proc/sys/fs/inotify/max_user_watches", O_RDONLY | O_CLOEXEC);
	ssize_t k = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (k > 0) {
		buf[k] = '\0';
		n = strtoull(buf, NULL, 10);
	}
	return n / 2 < WRITEWATCH_DIRS_MAX ? (size_t)(n / 2) : WRITEWATCH_DIRS_MAX;
}

int writewatch_start_opts(int upper_dirfd, const char *prefix, struct audit *a,
			  const struct writewatch_opts *opts, struct writewatch **ret,
			  struct error *err)
{
	bool lazy = opts && opts->lazy;
	_cleanup_(ww_freep) struct writewatch *w = calloc(1, sizeof(*w));
	char self[64];
	if (!w)
		return error_errno(err, -ENOMEM, "watch the box's writes");
	w->done[0] = w->done[1] = -1;
	w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	w->stopfd = eventfd(0, EFD_CLOEXEC);
	if (pipe2(w->done, O_CLOEXEC) < 0)
		w->done[0] = w->done[1] = -1;
	w->upper = upper_dirfd;
	w->audit = a;
	w->lim.burst = opts && opts->burst ? opts->burst : WRITEWATCH_BURST;
	w->lim.per_sec = opts && opts->per_sec ? opts->per_sec : WRITEWATCH_RATE;
	w->tokens = (uint64_t)w->lim.burst * 1000;
	w->refilled = clock_ms();
	clock_gettime(CLOCK_REALTIME, &w->started);
	w->max_dirs = max_dirs();
	snprintf(w->prefix, sizeof(w->prefix), "%s", prefix);
	if (w->ifd < 0 || w->stopfd < 0 || w->done[0] < 0)
		return error_errno(err, -errno, "watch the box's writes: inotify");
	snprintf(self, sizeof(self), "/proc/self/fd/%d", upper_dirfd);
	w->root = inotify_add_watch(w->ifd, self, WW_MASK);
	if (w->root < 0)
		return error_errno(err, -errno, "watch the box's upper dir");
	int r = dir_put(w, w->root, -1, "");
	if (r < 0)
		return error_errno(err, r, "watch the box's upper dir");
	w->budget = WW_START_DIRS;
	rescan(w);
	w->budget = -1;
	/* What start left needs the thread now. */
	if ((!lazy || w->nlater) && (r = writewatch_wake(w)) < 0)
		return error_errno(err, r, "start the box's write watcher");
	*ret = TAKE_PTR(w);
	return 0;
}

int writewatch_start(int upper_dirfd, const char *prefix, struct audit *a, struct writewatch **ret,
		     struct error *err)
{
	return writewatch_start_opts(upper_dirfd, prefix, a, NULL, ret, err);
}

int writewatch_fd(const struct writewatch *w)
{
	return w && !w->running ? w->ifd : -1;
}

int writewatch_wake(struct writewatch *w)
{
	sigset_t all, old;
	if (!w || w->running)
		return 0;
	/* Signals are the supervisor's main thread's business. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int r = -pthread_create(&w->thread, NULL, thread_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0)
		return r;
	pthread_detach(w->thread);
	w->running = true;
	return 0;
}

struct writewatch *writewatch_stop(struct writewatch *w)
{
	uint64_t one = 1;
	char c;
	if (!w)
		return NULL;
	if (!w->running) {
		while (drain_once(w))
			;
		if (w->move.has)
			moved_away(w, &w->move);
		mod_tick(w, clock_ms(), true);
		rate_report(w);
		flush_events(w);
		return ww_free(w);
	}
	/* Once told to stop, the thread owns w (and frees it): only the
	 * read end of done, taken before, is ours. */
	_cleanup_close_ int done = TAKE_FD(w->done[0]);
	if (write(w->stopfd, &one, sizeof(one)) != sizeof(one))
		abort(); /* an eventfd write of 1 cannot fail: never leave a thread behind */
	while (read(done, &c, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

uint64_t writewatch_events(const struct writewatch *w)
{
	return w ? __atomic_load_n(&w->events, __ATOMIC_RELAXED) : 0;
}
