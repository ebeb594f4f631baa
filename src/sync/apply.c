/* The sync gate's apply: a journal for the whole apply, per-file atomic
 * host operations beneath the project root, recovery of an interrupted
 * apply, and settling (applied entries stop being pending).
 *
 * Order of an apply (see docs/SYNC.md):
 *   1. staged files are already fsynced ($BOX/sync/stage/N)
 *   2. $BOX/sync/journal written whole (temp + fsync + rename + fsync dir)
 *   3. each op: check the host entry is still the one planned (else: held),
 *      temp file beside the target + fsync + rename + fsync dir; after each
 *      op its number is appended to $BOX/sync/journal.done (fdatasync)
 *   4. settle: prune the upper entries (box idle) or record them in the
 *      baseline (box running), audit events
 *   5. journal, progress and staging area removed
 * A crash before 2 completes changes nothing on the host (a torn journal
 * fails its checksum and is dropped); after it, gate_recover() redoes from
 * the first op not marked done, each op checked against the host first. */
#include "util/common.h"

#include "sync/gate_int.h"
#include "util/fs.h"
#include "util/hash.h"

#include <sys/random.h>
#include <sys/xattr.h>

#define DONE_NAME    "journal.done"
#define TMP_PREFIX   ".clawbox-sync."
#define TRASH_PREFIX ".clawbox-trash."
/* A trash checked to be the planned tree: removed without a second look. */
#define GONE_PREFIX  ".clawbox-gone."
/* Host files hashed for the journal's OLD state; bigger ones are "o". */
#define HASH_BOUND   (256ULL << 20)

int gate_baseline_save(struct gate *g)
{
	if (g->base.n == 0) {
		if (unlinkat(g->sync_fd, GATE_BASELINE_NAME, 0) < 0 && errno != ENOENT)
			return -errno;
		return 0;
	}
	struct buf b = BUF_INIT(JOURNAL_MAX_BYTES);
	int r = baseline_format(&g->base, &b);
	if (r == 0)
		r = fs_write_atomic_at(g->sync_fd, GATE_BASELINE_NAME, b.data, b.len, 0600);
	buf_free(&b);
	return r;
}

/* The host entry dfd/base as a state token (see journal.h). */
static int host_state(int dfd, const char *base, char out[72], struct stat *ret_st)
{
	struct stat st;
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			return gate_errno();
		snprintf(out, 72, "-");
		memset(ret_st, 0, sizeof(*ret_st));
		return 0;
	}
	*ret_st = st;
	char h[65];
	if (S_ISDIR(st.st_mode)) {
		snprintf(out, 72, "d");
	} else if (S_ISREG(st.st_mode) && (uint64_t)st.st_size <= HASH_BOUND) {
		_cleanup_close_ int fd =
		    openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		int r = fd < 0 ? -errno : gate_hash_fd(fd, HASH_BOUND, h);
		if (r < 0)
			return r;
		snprintf(out, 72, "f:%s", h);
	} else if (S_ISLNK(st.st_mode)) {
		char t[PATH_MAX];
		ssize_t n = readlinkat(dfd, base, t, sizeof(t));
		if (n < 0)
			return -errno;
		hash_sha256_hex(t, (size_t)n, h);
		snprintf(out, 72, "l:%s", h);
	} else {
		snprintf(out, 72, "o");
	}
	return 0;
}

static void op_names(const struct journal *j, size_t i, char tmp[64], char trash[64], char gone[64])
{
	snprintf(gone, 64, GONE_PREFIX "%s.%zu", j->id, i);
	snprintf(tmp, 64, TMP_PREFIX "%s.%zu", j->id, i);
	snprintf(trash, 64, TRASH_PREFIX "%s.%zu", j->id, i);
}

/* As root, a new host file takes the owner of the file it replaces, else of
 * its directory (the agent's uid inside the box never reaches the host). */
static void set_owner(int fd, int dfd, const struct stat *old, bool is_link, int tfd,
		      const char *tname)
{
	struct stat ds;
	if (geteuid() != 0)
		return;
	const struct stat *o = old->st_ino ? old : (fstat(dfd, &ds) == 0 ? &ds : NULL);
	if (!o)
		return;
	/* Best effort: a file we cannot give away stays ours, never the box's. */
	int r = is_link ? fchownat(tfd, tname, o->st_uid, o->st_gid, AT_SYMLINK_NOFOLLOW)
			: fchown(fd, o->st_uid, o->st_gid);
	if (r < 0)
		errno = 0;
}

static int copy_stage(struct gate *g, const struct journal_op *op, int out)
{
	char name[32], h[65];
	gate_stage_name(op->stage, name);
	_cleanup_close_ int in = openat(g->sync_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return -errno;
	struct stat st;
	if (fstat(in, &st) < 0)
		return -errno;
	_cleanup_free_ char *data = malloc((size_t)st.st_size + 1);
	if (!data)
		return -ENOMEM;
	size_t len = 0;
	for (;;) {
		ssize_t k = read(in, data + len, (size_t)st.st_size + 1 - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0 || (len += (size_t)k) > (size_t)st.st_size)
			break;
	}
	hash_sha256_hex(data, len, h);
	if (len != (size_t)st.st_size || !STREQ(h, op->newv + 2))
		return -EBADMSG; /* the staged copy is not what was checked */
	return fs_write_all(out, data, len);
}

static int remove_trash(int dfd, const char *trash)
{
	int r = fs_remove_tree_at(dfd, trash);
	return r == -ENOENT ? 0 : r;
}

/* The trash of op (a directory moved aside) is what the plan saw: when the
 * op's OLD state is a tree ("t:HASH"), every entry beneath must be the one
 * checked. Then it is renamed to gone (removed after the op, also by a
 * recovery, without a second look: a removal cut by a crash leaves a
 * partial tree): 1. Otherwise it is put back at base (or, when base is
 * taken again, left in the trash, never removed): 0. */
static int trash_is_planned(int dfd, const char *base, const char *trash, const char *gone,
			    const char *old)
{
	char h[65];
	int r = 0;
	if (old[0] == 't')
		r = gate_tree_walk(dfd, trash, GATE_TREE_MAX, NULL, NULL, h);
	if (r == -ENOENT)
		return 1;
	if (r == 0 && (old[0] != 't' || STREQ(h, old + 2))) {
		(void)remove_trash(dfd, gone);
		return renameat(dfd, trash, dfd, gone) < 0 ? gate_errno() : 1;
	}
	if (r == -ENOMEM)
		return r;
	/* Something beneath appeared or changed after the plan: not ours. */
	(void)renameat2(dfd, trash, dfd, base, RENAME_NOREPLACE);
	return 0;
}

/* Move what is at base aside (atomic rename) so something else can take
 * its name; nothing when there is nothing. 0 when the tree moved aside is
 * not the planned one (put back: held), 1 when done. */
static int move_aside(int dfd, const char *base, const char *trash, const char *gone,
		      const char *old)
{
	if (renameat(dfd, base, dfd, trash) < 0)
		return errno == ENOENT ? 1 : -errno;
	/* From here on nothing new can arrive beneath it by its path. */
	return trash_is_planned(dfd, base, trash, gone, old);
}

/* One op. Returns 1 when done, 0 when held (the host is neither the
 * planned old state nor the new one: a conflict, left alone), or -errno. */
static int run_op(struct gate *g, const struct journal *j, size_t i)
{
	const struct journal_op *op = &j->ops[i];
	char tmp[64], trash[64], gone[64], cur[72] = "";
	struct stat old = { 0 };
	const char *base = NULL;
	int dfd, r;
	op_names(j, i, tmp, trash, gone);
	if (op->action == GATE_ACT_NONE)
		return 1;
	r = gate_parent(g->root_fd, op->host, &dfd, &base);
	/* Its directory is gone, or is a file or a symlink now: the host
	 * changed, held (one bad entry never stops the apply). */
	if (r == -ENOENT || r == -ENOTDIR || r == -ELOOP || r == -EXDEV)
		return 0;
	if (r < 0)
		return r;
	_cleanup_close_ int dirfd = dfd;
	(void)unlinkat(dfd, tmp, 0);
	/* A tree removed before a crash: what is still in the trash is checked
	 * before it goes. */
	bool trashed = faccessat(dfd, trash, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
	if (trashed && (r = trash_is_planned(dfd, base, trash, gone, op->old)) <= 0)
		return r;
	/* The old entry went aside before a crash: what is at base is new. */
	bool moved = trashed || faccessat(dfd, gone, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
	if ((r = host_state(dfd, base, cur, &old)) < 0)
		return r;
	bool is_new = STREQ(cur, op->newv);
	bool is_old = STREQ(cur, op->old) || (op->old[0] == 'o' && !is_new && cur[0] != '-') ||
		      (op->old[0] == 't' && cur[0] == 'd' && !moved) || (moved && cur[0] == '-');
	switch (op->action) {
	case GATE_ACT_WRITE:
	case GATE_ACT_SYMLINK: {
		if (is_new)
			break;
		if (!is_old)
			return 0;
		if (op->action == GATE_ACT_WRITE) {
			int fd = openat(
			    dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
			if (fd < 0)
				return -errno;
			r = copy_stage(g, op, fd);
			if (r == 0 && fchmod(fd, op->mode & 0777) < 0)
				r = -errno;
			if (r == 0)
				set_owner(fd, dfd, &old, false, -1, NULL);
			if (r == 0 && fsync(fd) < 0)
				r = -errno;
			if (close(fd) < 0 && r == 0)
				r = -errno;
		} else {
			r = symlinkat(op->target, dfd, tmp) < 0 ? -errno : 0;
			if (r == 0)
				set_owner(-1, dfd, &old, true, dfd, tmp);
		}
		if (r == 0 && cur[0] == 'd') {
			int m = move_aside(dfd, base, trash, gone, op->old);
			r = m < 0 ? m : m == 0 ? 1 : 0; /* 1: the tree changed, held */
		}
		if (r == 0 && renameat(dfd, tmp, dfd, base) < 0)
			r = -errno;
		if (r != 0) {
			(void)unlinkat(dfd, tmp, 0);
			return r < 0 ? r : 0;
		}
		break;
	}
	case GATE_ACT_MKDIR:
		if (cur[0] == 'd')
			break;
		if (cur[0] != '-')
			return 0;
		if (mkdirat(dfd, base, 0700) < 0)
			return -errno;
		if (fchmodat(dfd, base, op->mode & 01777, 0) < 0)
			return -errno;
		break;
	case GATE_ACT_DELETE:
		if (cur[0] == '-')
			break;
		if (!is_old)
			return 0;
		if (cur[0] == 'd')
			r = move_aside(dfd, base, trash, gone, op->old);
		else
			r = unlinkat(dfd, base, 0) < 0 && errno != ENOENT ? -errno : 1;
		if (r <= 0)
			return r;
		break;
	case GATE_ACT_REPLACE:
		/* In flight after a crash it may be done already: redoing it only
		 * replaces the new, still empty directory. */
		if (!is_old && cur[0] != 'd' && cur[0] != '-')
			return 0;
		/* The old tree in the trash (a crash after the move): the dir at
		 * base, if any, is the new one. */
		if (!moved && (r = move_aside(dfd, base, trash, gone, op->old)) <= 0)
			return r;
		if (mkdirat(dfd, base, 0700) < 0 && errno != EEXIST)
			return -errno;
		if (fchmodat(dfd, base, op->mode & 01777, 0) < 0)
			return -errno;
		break;
	case GATE_ACT_CHMOD: {
		if (cur[0] != 'd')
			return 0;
		_cleanup_close_ int fd =
		    gate_openat(g->root_fd, op->host, O_RDONLY | O_DIRECTORY, 0);
		if (fd < 0)
			return fd;
		if (fchmod(fd, op->mode & 01777) < 0)
			return -errno;
		break;
	}
	case GATE_ACT_NONE: break;
	}
	if (fsync(dfd) < 0)
		return -errno;
	if ((r = remove_trash(dfd, gone)) < 0)
		return r;
	return 1;
}

static int mark_done(int fd, size_t i)
{
	char line[32];
	int n = snprintf(line, sizeof(line), "%zu\n", i);
	int r = fs_write_all(fd, line, (size_t)n);
	if (r == 0 && fdatasync(fd) < 0)
		r = -errno;
	return r;
}

/* Remove the overlay's upper entry rel when it is still the one applied
 * (fp): the box then sees the host's. Only while the box is not mounted. */
static void prune_upper(struct gate *g, const struct journal_op *op)
{
	const char *base = NULL;
	_cleanup_close_ int dfd = -1;
	struct stat st;
	struct gate_fp now;
	if (gate_parent(g->upper_fd, op->uppath, &dfd, &base) < 0)
		return;
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		gate_fp_from_stat(&st, &now);
		if (gate_fp_equal(&now, &op->upper)) {
			if (S_ISDIR(st.st_mode)) {
				char proc[64];
				_cleanup_close_ int fd =
				    openat(dfd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
				if (fd >= 0 && op->action == GATE_ACT_REPLACE) {
					snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
					(void)removexattr(proc, "user.overlay.opaque");
					(void)removexattr(proc, "trusted.overlay.opaque");
				}
				(void)unlinkat(dfd, base, AT_REMOVEDIR);
			} else {
				(void)unlinkat(dfd, base, 0);
			}
		}
	}
	/* Directories left empty that only held changes go too, when the host
	 * has the same directory (same mode and owner). */
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s", op->uppath);
	for (char *s; (s = strrchr(path, '/'));) {
		*s = '\0';
		struct stat us, hs;
		char val[4];
		if (fstatat(g->upper_fd, path, &us, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(us.st_mode))
			break;
		_cleanup_close_ int fd = gate_openat(g->upper_fd, path, O_RDONLY | O_DIRECTORY, 0);
		if (fd < 0)
			break;
		bool opaque = fgetxattr(fd, "user.overlay.opaque", val, sizeof(val)) >= 0 ||
			      fgetxattr(fd, "trusted.overlay.opaque", val, sizeof(val)) >= 0;
		_cleanup_close_ int hfd = gate_openat(g->root_fd, path, O_PATH | O_DIRECTORY, 0);
		bool same = hfd >= 0 && fstat(hfd, &hs) == 0 &&
			    (hs.st_mode & 07777) == (us.st_mode & 07777) &&
			    hs.st_uid == us.st_uid && hs.st_gid == us.st_gid;
		if (opaque || !same || unlinkat(g->upper_fd, path, AT_REMOVEDIR) < 0)
			break;
	}
}

/* The host's identity of op's path now (for the baseline). */
static void host_fp(struct gate *g, const char *rel, struct gate_fp *ret)
{
	const char *base = NULL;
	_cleanup_close_ int dfd = -1;
	struct stat st;
	memset(ret, 0, sizeof(*ret));
	if (gate_parent(g->root_fd, rel, &dfd, &base) == 0 &&
	    fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0)
		gate_fp_from_stat(&st, ret);
}

/* Settle the ops marked settled[i]: prune (idle box) or baseline (running). */
static int settle(struct gate *g, const struct journal *j, const bool *settled, bool idle)
{
	for (size_t k = j->n; k-- > 0;) {
		const struct journal_op *op = &j->ops[k];
		if (!settled[k])
			continue;
		if (idle) {
			prune_upper(g, op);
			baseline_del(&g->base, op->uppath);
		} else {
			struct baseline_rec rec = { .path = op->uppath, .upper = op->upper };
			host_fp(g, op->uppath, &rec.host);
			int r = baseline_put(&g->base, &rec);
			if (r < 0)
				return r;
		}
	}
	if (idle) {
		/* Entries synced while the box ran: prune those still unchanged. */
		for (size_t k = g->base.n; k-- > 0;) {
			struct journal_op op = { .action = GATE_ACT_NONE,
						 .uppath = g->base.v[k].path,
						 .upper = g->base.v[k].upper };
			struct stat st;
			struct gate_fp now;
			const char *base = NULL;
			_cleanup_close_ int dfd = -1;
			bool same = false;
			if (gate_parent(g->upper_fd, op.uppath, &dfd, &base) == 0 &&
			    fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
				gate_fp_from_stat(&st, &now);
				same = gate_fp_equal(&now, &op.upper);
			}
			if (!same)
				continue;
			prune_upper(g, &op);
			baseline_del(&g->base, op.uppath);
		}
	}
	return gate_baseline_save(g);
}

static int finish_journal(struct gate *g)
{
	(void)unlinkat(g->sync_fd, DONE_NAME, 0);
	if (unlinkat(g->sync_fd, GATE_JOURNAL_NAME, 0) < 0 && errno != ENOENT)
		return -errno;
	if (fsync(g->sync_fd) < 0)
		return -errno;
	g->interrupted = false;
	int fd = openat(g->sync_fd, "stage", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		(void)fs_clear_dir(fd);
		close(fd);
	}
	return 0;
}

static void audit_op(struct gate *g, const struct journal_op *op, const char *event, int held)
{
	char disp[PATH_MAX];
	gate_path_display(op->host, disp, sizeof(disp));
	json_t *f = json_pack("{s:s, s:s, s:s}", "path", disp, "action",
			      gate_action_name(op->action), "choice", gate_choice_name(op->choice));
	if (f && held == 0)
		json_object_set_new(f, "reason", json_string("the host changed since the plan"));
	audit_append(g->audit, event, f);
}

/* Run (or resume) journal j from its first op not done. */
static int run_journal(struct gate *g, const struct journal *j, bool recovering,
		       struct gate_apply_result *res, size_t *ret_conflicts, struct error *err)
{
	_cleanup_free_ bool *done = calloc(j->n + 1, sizeof(bool));
	_cleanup_free_ bool *settled = calloc(j->n + 1, sizeof(bool));
	if (!done || !settled)
		return -ENOMEM;
	int dfd = openat(g->sync_fd, DONE_NAME,
			 O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (dfd < 0)
		return -errno;
	_cleanup_close_ int donefd = dfd;
	if (recovering) {
		char buf[4096];
		ssize_t k;
		size_t cur = 0;
		bool digits = false;
		while ((k = read(donefd, buf, sizeof(buf))) > 0)
			for (ssize_t x = 0; x < k; x++) {
				if (buf[x] >= '0' && buf[x] <= '9' && cur < SIZE_MAX / 16) {
					cur = cur * 10 + (size_t)(buf[x] - '0');
					digits = true;
				} else {
					if (buf[x] == '\n' && digits && cur < j->n)
						done[cur] = settled[cur] = true;
					cur = 0;
					digits = false;
				}
			}
	} else if (ftruncate(donefd, 0) < 0) {
		return -errno;
	}
	int r = 0;
	for (size_t i = 0; i < j->n; i++) {
		if (done[i])
			continue;
		r = run_op(g, j, i);
		if (r < 0) {
			return gate_fail(err, r, j->ops[i].host, "cannot apply: %s", strerror(-r));
		}
		if (r == 0) {
			(*ret_conflicts)++;
			audit_op(g, &j->ops[i], recovering ? "sync.recover.held" : "sync.held", 0);
			if (res)
				res->held++;
			continue;
		}
		if ((r = mark_done(donefd, i)) < 0) {
			return gate_fail(err, r, DONE_NAME,
					 "cannot record the apply's progress: %s", strerror(-r));
		}
		settled[i] = true;
		audit_op(g, &j->ops[i],
			 j->ops[i].choice == GATE_CHOICE_KEEP_HOST ? "sync.kept"
			 : recovering                              ? "sync.recovered"
								   : "sync.applied",
			 1);
		if (res && j->ops[i].choice == GATE_CHOICE_KEEP_HOST)
			res->settled++;
		else if (res)
			res->applied++;
	}
	pid_t holder;
	_cleanup_close_ int boxlock = box_lock(&g->box, &holder);
	if (boxlock < 0 && boxlock != -EBUSY && boxlock != -ETIMEDOUT) {
		return gate_fail(err, boxlock, g->box.name, "cannot lock the box: %s",
				 strerror(-boxlock));
	}
	if ((r = settle(g, j, settled, boxlock >= 0)) < 0) {
		return gate_fail(err, r, GATE_BASELINE_NAME, "cannot record the sync baseline: %s",
				 strerror(-r));
	}
	if ((r = finish_journal(g)) < 0) {
		return gate_fail(err, r, GATE_JOURNAL_NAME, "cannot remove the journal: %s",
				 strerror(-r));
	}
	return 0;
}

int gate_recover(struct gate *g, struct gate_recover_result *ret, struct error *err)
{
	struct gate_recover_result res = { 0 };
	char path[64];
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	error_clear(err);
	if (!g->interrupted) {
		*ret = res;
		return 0;
	}
	_cleanup_close_ int fd =
	    openat(g->sync_fd, GATE_JOURNAL_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return gate_fail(err, -errno, NULL, "cannot open the journal: %s", strerror(errno));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int r = fs_read_file(path, JOURNAL_MAX_BYTES, &text, &len);
	if (r < 0)
		return gate_fail(err, r, GATE_JOURNAL_NAME, "cannot read the journal: %s",
				 strerror(-r));
	struct journal j = { 0 };
	r = journal_parse(text, len, &j);
	if (r < 0) {
		/* Written whole before any host change: a torn journal means the
		 * apply never started. */
		audit_append(g->audit, "sync.recover",
			     json_pack("{s:s}", "outcome", "incomplete journal dropped"));
		r = finish_journal(g);
		*ret = res;
		return r;
	}
	res.ops = j.n;
	struct gate_apply_result ar = { 0 };
	r = run_journal(g, &j, true, &ar, &res.conflicts, err);
	res.done = ar.applied + ar.settled;
	if (r == 0)
		audit_append(g->audit, "sync.recover",
			     json_pack("{s:s, s:I, s:I}", "outcome", "finished", "ops",
				       (json_int_t)j.n, "held", (json_int_t)res.conflicts));
	journal_free(&j);
	if (r == 0)
		*ret = res;
	return r;
}

/* The current identity of the upper entry rel. */
static int upper_fp(struct gate *g, const char *rel, struct gate_fp *ret)
{
	const char *base = NULL;
	_cleanup_close_ int dfd = -1;
	struct stat st;
	int r = gate_parent(g->upper_fd, rel, &dfd, &base);
	if (r < 0)
		return r;
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	gate_fp_from_stat(&st, ret);
	return 0;
}

/* Whether e is beneath a directory the apply replaces (the host's old
 * entries there go with it). */
static bool under_replace(const struct gate_plan *p, const struct gate_entry *e)
{
	for (ssize_t k = e->parent; k >= 0; k = p->v[k].parent)
		if (p->v[k].action == GATE_ACT_REPLACE)
			return true;
	return false;
}

/* The host entry of e is still the one the plan judged: same identity, and
 * for a directory it removes, the same tree beneath. */
static int host_as_planned(struct gate *g, const struct gate_entry *e)
{
	struct gate_fp now;
	host_fp(g, e->path, &now);
	if (!e->host_type)
		return now.ino == 0 && now.mode == 0;
	if (!gate_fp_equal(&now, &e->host))
		return 0;
	if (!e->host_tree[0])
		return 1;
	char h[65];
	_cleanup_close_ int dfd = -1;
	const char *base = NULL;
	int r = gate_parent(g->root_fd, e->path, &dfd, &base);
	if (r < 0)
		return 0;
	r = gate_tree_walk(dfd, base, GATE_TREE_MAX, NULL, NULL, h);
	if (r == -ENOMEM)
		return r;
	return r == 0 && STREQ(h, e->host_tree);
}

static int plan_op(struct gate *g, const struct gate_plan *p, const struct gate_entry *e,
		   uint32_t idx, struct journal_op *op, char *beside, size_t bn)
{
	const char *base = NULL;
	_cleanup_close_ int dfd = -1;
	struct stat st;
	*op = (struct journal_op){ .action = e->action,
				   .choice = e->choice,
				   .mode = e->mode,
				   .stage = idx,
				   .upper = e->upper,
				   .host = e->path,
				   .uppath = e->path,
				   .target = e->target };
	snprintf(op->newv, sizeof(op->newv), "-");
	if (e->type == GATE_FILE)
		snprintf(op->newv, sizeof(op->newv), "f:%s", e->new_hash);
	else if (e->type == GATE_SYMLINK)
		snprintf(op->newv, sizeof(op->newv), "l:%s", e->new_hash);
	if (e->choice == GATE_CHOICE_KEEP_HOST) {
		op->action = GATE_ACT_NONE;
		snprintf(op->old, sizeof(op->old), "-");
		return 0;
	}
	if (e->choice == GATE_CHOICE_BESIDE) {
		if (snprintf(beside, bn, "%s" GATE_BESIDE_SUFFIX, e->path) >= (int)bn)
			return -ENAMETOOLONG;
		op->host = beside;
	}
	int r = gate_parent(g->root_fd, op->host, &dfd, &base);
	if (r == -ENOENT || (e->choice != GATE_CHOICE_BESIDE && under_replace(p, e))) {
		snprintf(op->old, sizeof(op->old), "-"); /* made by an earlier op */
		return 0;
	}
	if (r == -ENOTDIR || r == -ELOOP || r == -EXDEV)
		return -ESTALE; /* a dir on its path is a file or a symlink now */
	if (r < 0)
		return r;
	r = host_state(dfd, base, op->old, &st);
	/* A directory it removes: expected with every entry beneath. */
	if (r == 0 && op->old[0] == 'd' && e->choice != GATE_CHOICE_BESIDE && e->host_tree[0])
		snprintf(op->old, sizeof(op->old), "t:%s", e->host_tree);
	return r;
}

int gate_apply(struct gate *g, struct gate_plan *p, struct gate_apply_result *ret,
	       struct error *err)
{
	struct gate_apply_result res = { 0 };
	struct journal j = { 0 };
	uint8_t rnd[8];
	int r = 0;
	error_clear(err);
	if (g->interrupted) {
		return gate_fail(err, -EAGAIN, g->box.name,
				 "an interrupted apply must be finished first");
	}
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return gate_fail(err, -EIO, NULL, "no random bytes for the journal id");
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(j.id + 2 * i, 3, "%02x", rnd[i]);

	for (size_t i = 0; i < p->n && r == 0; i++) {
		struct gate_entry *e = &p->v[i];
		struct gate_fp now;
		struct journal_op op;
		char beside[PATH_MAX];
		if (!gate_entry_applicable(p, i))
			continue;
		if (e->type == GATE_FILE && e->choice != GATE_CHOICE_KEEP_HOST && !e->staged) {
			e->apply_err = -ENOENT; /* not staged: the plan was a dry run */
			res.held++;
			continue;
		}
		/* The box may have changed it since it was checked: next time. */
		if (upper_fp(g, e->path, &now) < 0 || !gate_fp_equal(&now, &e->upper)) {
			e->apply_err = -ESTALE;
			e->verdict = GATE_UNSTABLE;
			res.held++;
			continue;
		}
		/* The host changed after the plan (the user thought it over):
		 * next time, as a conflict. */
		if (e->choice == GATE_CHOICE_APPLY && !under_replace(p, e) &&
		    (r = host_as_planned(g, e)) <= 0) {
			if (r < 0 ||
			    (r = gate_add_finding(e, GATE_SEV_NOTE, "conflict", 0,
						  "changed on the host after the plan")) < 0)
				break;
			e->apply_err = -ESTALE;
			e->verdict = GATE_CONFLICT;
			res.held++;
			continue;
		}
		r = plan_op(g, p, e, (uint32_t)i, &op, beside, sizeof(beside));
		if (r == -ESTALE) {
			if ((r = gate_add_finding(e, GATE_SEV_NOTE, "conflict", 0,
						  "a directory on its path is no longer one on the "
						  "host")) < 0)
				break;
			e->apply_err = -ESTALE;
			e->verdict = GATE_CONFLICT;
			res.held++;
			continue;
		}
		if (r < 0) {
			gate_fail(err, r, e->path, "cannot read the host's version: %s",
				  strerror(-r));
			break;
		}
		r = journal_add(&j, &op);
		if (r == 0)
			e->applied = true;
	}
	if (r == 0 && j.n) {
		struct buf b = BUF_INIT(JOURNAL_MAX_BYTES);
		r = journal_format(&j, &b);
		if (r == 0)
			r = fs_write_atomic_at(g->sync_fd, GATE_JOURNAL_NAME, b.data, b.len, 0600);
		buf_free(&b);
		if (r < 0) {
			gate_fail(err, r, GATE_JOURNAL_NAME, "cannot write the journal: %s",
				  strerror(-r));
		} else {
			g->interrupted = true;
			size_t held = 0;
			r = run_journal(g, &j, false, &res, &held, err);
		}
	}
	if (r < 0) {
		for (size_t i = 0; i < p->n; i++)
			p->v[i].applied = false;
	}
	journal_free(&j);
	if (r == 0)
		*ret = res;
	return r;
}

/* Git data: one event per git directory (at its first entry), not one per
 * object file; with fresh, only when one of its entries is fresh. */
static int audit_gitdata(struct gate *g, const struct gate_plan *p, size_t i,
			 bool (*fresh)(const struct gate_entry *e, void *ctx), void *ctx)
{
	const struct gate_entry *e = &p->v[i];
	for (size_t k = 0; k < i; k++)
		if (p->v[k].verdict == GATE_GITDATA && STREQ(p->v[k].gitdir, e->gitdir))
			return 0;
	size_t n = 0;
	bool any = !fresh;
	for (size_t k = i; k < p->n; k++)
		if (p->v[k].verdict == GATE_GITDATA && STREQ(p->v[k].gitdir, e->gitdir)) {
			n++;
			any |= fresh && fresh(&p->v[k], ctx);
		}
	if (!any)
		return 0;
	char disp[PATH_MAX], first[PATH_MAX];
	gate_path_display(e->gitdir, disp, sizeof(disp));
	gate_path_display(e->path, first, sizeof(first));
	return audit_append(
	    g->audit, "sync.git-data",
	    json_pack("{s:s, s:s, s:I}", "git_dir", disp, "path", first, "entries", (json_int_t)n));
}

int gate_audit_held(struct gate *g, const struct gate_plan *p,
		    bool (*fresh)(const struct gate_entry *e, void *ctx), void *ctx)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct gate_entry *e = &p->v[i];
		if (e->verdict == GATE_GITDATA) {
			int r = audit_gitdata(g, p, i, fresh, ctx);
			if (r < 0)
				return r;
			continue;
		}
		if (e->applied || e->verdict == GATE_SETTLED || (fresh && !fresh(e, ctx)))
			continue;
		char disp[PATH_MAX];
		gate_path_display(gate_entry_shown(e), disp, sizeof(disp));
		json_t *rules = json_array();
		for (size_t k = 0; rules && k < e->nfindings; k++)
			json_array_append_new(
			    rules, json_pack("{s:s, s:i, s:s}", "rule", e->findings[k].rule, "line",
					     (int)e->findings[k].line, "action",
					     gate_severity_name(e->findings[k].sev)));
		const char *ev = e->verdict == GATE_BLOCKED    ? "sync.blocked"
				 : e->verdict == GATE_CONFLICT ? "sync.conflict"
							       : "sync.pending";
		int r = audit_append(g->audit, ev,
				     json_pack("{s:s, s:s, s:s, s:o}", "path", disp, "verdict",
					       gate_verdict_name(e->verdict), "choice",
					       gate_choice_name(e->choice), "findings", rules));
		if (r < 0)
			return r;
	}
	return 0;
}

int gate_reset_state(struct gate *g)
{
	static const char *const files[] = { GATE_JOURNAL_NAME, DONE_NAME, GATE_BASELINE_NAME,
					     "scancache.json" };
	for (size_t i = 0; i < ELEMENTSOF(files); i++)
		if (unlinkat(g->sync_fd, files[i], 0) < 0 && errno != ENOENT)
			return -errno;
	baseline_free(&g->base);
	g->interrupted = false;
	int fd = openat(g->sync_fd, "stage", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		(void)fs_clear_dir(fd);
		close(fd);
	}
	return fsync(g->sync_fd) < 0 ? -errno : 0;
}

int gate_settle_idle(const struct box *b)
{
	struct gate *g;
	struct journal empty = { 0 };
	bool none = false;
	char path[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s/" GATE_DIR_NAME "/" GATE_BASELINE_NAME, b->data) >=
		(int)sizeof(path) ||
	    access(path, F_OK) < 0)
		return 0; /* nothing was synced while the box ran */
	int r = gate_open(b, 0, &g, NULL);
	if (r < 0)
		return r;
	if (g->base.n == 0 || g->interrupted) {
		gate_close(g);
		return 0;
	}
	r = settle(g, &empty, &none, true);
	gate_close(g);
	return r;
}
