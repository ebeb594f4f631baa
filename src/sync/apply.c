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

/* One op being run: its names beside the target, the target's directory
 * (beneath the project root) and the host entry found there. */
struct op_run {
	struct gate *g;
	const struct journal_op *op;
	int dfd;          /* the target's directory; owned by run_op() */
	const char *base; /* the target's name in dfd */
	char tmp[64], trash[64], gone[64], cur[72];
	struct stat old; /* the host entry replaced (zero when none) */
	bool moved;      /* the old entry went aside before a crash */
	bool is_new;     /* the host already has the new state */
	bool is_old;     /* the host still has the planned old state */
};

/* What is at the target now, in o->cur, o->old, o->moved, o->is_new and
 * o->is_old; a trash left by a crash is checked first (and goes to gone).
 * 1 to go on, 0 when held (the trash is not the planned tree), or -errno. */
static int op_host_now(struct op_run *o)
{
	const struct journal_op *op = o->op;
	int r;
	/* A tree removed before a crash: what is still in the trash is checked
	 * before it goes. */
	bool trashed = faccessat(o->dfd, o->trash, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
	if (trashed && (r = trash_is_planned(o->dfd, o->base, o->trash, o->gone, op->old)) <= 0)
		return r;
	/* The old entry went aside before a crash: what is at base is new. */
	o->moved = trashed || faccessat(o->dfd, o->gone, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
	if ((r = host_state(o->dfd, o->base, o->cur, &o->old)) < 0)
		return r;
	o->is_new = STREQ(o->cur, op->newv);
	o->is_old =
	    STREQ(o->cur, op->old) || (op->old[0] == 'o' && !o->is_new && o->cur[0] != '-') ||
	    (op->old[0] == 't' && o->cur[0] == 'd' && !o->moved) || (o->moved && o->cur[0] == '-');
	return 1;
}

/* Fill the temp file fd (taken: closed here, always) with op's staged
 * bytes, its mode and the replaced file's owner, and fsync it. 0 or the
 * first error (a failing close counts) as -errno. */
static int fill_tmp(struct op_run *o, int fd)
{
	int r = copy_stage(o->g, o->op, fd);
	if (r == 0 && fchmod(fd, o->op->mode & 0777) < 0)
		r = -errno;
	if (r == 0)
		set_owner(fd, o->dfd, &o->old, false, -1, NULL);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

/* A file or a symlink: made as o->tmp beside the target, then renamed over
 * it (a directory there is moved aside first). 1 when done (or already
 * new), 0 when held (the temp file removed), or -errno (the same). */
static int op_put(struct op_run *o)
{
	int r;
	if (o->is_new)
		return 1;
	if (!o->is_old)
		return 0;
	if (o->op->action == GATE_ACT_WRITE) {
		int fd = openat(o->dfd, o->tmp,
				O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
		r = fill_tmp(o, fd);
	} else {
		r = symlinkat(o->op->target, o->dfd, o->tmp) < 0 ? -errno : 0;
		if (r == 0)
			set_owner(-1, o->dfd, &o->old, true, o->dfd, o->tmp);
	}
	if (r == 0 && o->cur[0] == 'd') {
		int m = move_aside(o->dfd, o->base, o->trash, o->gone, o->op->old);
		r = m < 0 ? m : m == 0 ? 1 : 0; /* 1: the tree changed, held */
	}
	if (r == 0 && renameat(o->dfd, o->tmp, o->dfd, o->base) < 0)
		r = -errno;
	if (r != 0) {
		(void)unlinkat(o->dfd, o->tmp, 0);
		return r < 0 ? r : 0;
	}
	return 1;
}

/* A new directory where there is none. 1 when done (or already a
 * directory), 0 when held (something else is there), or -errno. */
static int op_mkdir(struct op_run *o)
{
	if (o->cur[0] == 'd')
		return 1;
	if (o->cur[0] != '-')
		return 0;
	if (mkdirat(o->dfd, o->base, 0700) < 0)
		return -errno;
	if (fchmodat(o->dfd, o->base, o->op->mode & 01777, 0) < 0)
		return -errno;
	return 1;
}

/* The old entry removed (a directory by way of the trash). 1 when done
 * (or already absent), 0 when held, or -errno. */
static int op_delete(struct op_run *o)
{
	int r;
	if (o->cur[0] == '-')
		return 1;
	if (!o->is_old)
		return 0;
	if (o->cur[0] == 'd')
		r = move_aside(o->dfd, o->base, o->trash, o->gone, o->op->old);
	else
		r = unlinkat(o->dfd, o->base, 0) < 0 && errno != ENOENT ? -errno : 1;
	return r;
}

/* The old entry moved aside and a new, empty directory in its place. 1
 * when done, 0 when held, or -errno. */
static int op_replace(struct op_run *o)
{
	int r;
	/* In flight after a crash it may be done already: redoing it only
	 * replaces the new, still empty directory. */
	if (!o->is_old && o->cur[0] != 'd' && o->cur[0] != '-')
		return 0;
	/* The old tree in the trash (a crash after the move): the dir at
	 * base, if any, is the new one. */
	if (!o->moved && (r = move_aside(o->dfd, o->base, o->trash, o->gone, o->op->old)) <= 0)
		return r;
	if (mkdirat(o->dfd, o->base, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (fchmodat(o->dfd, o->base, o->op->mode & 01777, 0) < 0)
		return -errno;
	return 1;
}

/* A directory's new mode. 1 when done, 0 when held (not a directory), or
 * -errno. */
static int op_chmod(struct op_run *o)
{
	if (o->cur[0] != 'd')
		return 0;
	_cleanup_close_ int fd = gate_openat(o->g->root_fd, o->op->host, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	if (fchmod(fd, o->op->mode & 01777) < 0)
		return -errno;
	return 1;
}

/* The host change of o->op, by its action. 1 when done (the directory is
 * still to be fsynced), 0 when held, or -errno. */
static int op_act(struct op_run *o)
{
	switch (o->op->action) {
	case GATE_ACT_WRITE:
	case GATE_ACT_SYMLINK: return op_put(o);
	case GATE_ACT_MKDIR: return op_mkdir(o);
	case GATE_ACT_DELETE: return op_delete(o);
	case GATE_ACT_REPLACE: return op_replace(o);
	case GATE_ACT_CHMOD: return op_chmod(o);
	case GATE_ACT_NONE: break;
	}
	return 1;
}

/* One op. Returns 1 when done, 0 when held (the host is neither the
 * planned old state nor the new one: a conflict, left alone), or -errno. */
static int run_op(struct gate *g, const struct journal *j, size_t i)
{
	struct op_run o = { .g = g, .op = &j->ops[i], .cur = "" };
	_cleanup_close_ int dfd = -1;
	int r;
	op_names(j, i, o.tmp, o.trash, o.gone);
	if (o.op->action == GATE_ACT_NONE)
		return 1;
	r = gate_parent(g->root_fd, o.op->host, &dfd, &o.base);
	/* Its directory is gone, or is a file or a symlink now: the host
	 * changed, held (one bad entry never stops the apply). */
	if (r == -ENOENT || r == -ENOTDIR || r == -ELOOP || r == -EXDEV)
		return 0;
	if (r < 0)
		return r;
	o.dfd = dfd;
	(void)unlinkat(dfd, o.tmp, 0);
	if ((r = op_host_now(&o)) <= 0 || (r = op_act(&o)) <= 0)
		return r;
	if (fsync(dfd) < 0)
		return -errno;
	if ((r = remove_trash(dfd, o.gone)) < 0)
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

/* The ops a cut apply marked done in its progress file donefd (one number
 * a line; a torn last line does not count) into done[] and settled[]. A
 * read error ends the reading: those ops are checked against the host. */
static void read_done(int donefd, const struct journal *j, bool *done, bool *settled)
{
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
}

/* Op i of j, not done yet: run, then marked done in donefd (fdatasync) and
 * settled[i], or held; each audited and counted in res (may be NULL) and,
 * when held, *conflicts. 0, or -errno with err naming the op's path (or
 * the progress file). */
static int run_one(struct gate *g, const struct journal *j, size_t i, bool recovering, int donefd,
		   bool *settled, struct gate_apply_result *res, size_t *conflicts,
		   struct error *err)
{
	const struct journal_op *op = &j->ops[i];
	int r = run_op(g, j, i);
	if (r < 0)
		return gate_fail(err, r, op->host, "cannot apply: %s", strerror(-r));
	if (r == 0) {
		(*conflicts)++;
		audit_op(g, op, recovering ? "sync.recover.held" : "sync.held", 0);
		if (res)
			res->held++;
		return 0;
	}
	if ((r = mark_done(donefd, i)) < 0) {
		return gate_fail(err, r, DONE_NAME, "cannot record the apply's progress: %s",
				 strerror(-r));
	}
	settled[i] = true;
	audit_op(g, op,
		 op->choice == GATE_CHOICE_KEEP_HOST ? "sync.kept"
		 : recovering                        ? "sync.recovered"
						     : "sync.applied",
		 1);
	if (res && op->choice == GATE_CHOICE_KEEP_HOST)
		res->settled++;
	else if (res)
		res->applied++;
	return 0;
}

/* After the ops: the settled ones settled (pruned when the box is idle,
 * baselined while it runs, under the box lock when it can be had), then
 * the journal, its progress and the staging area removed. 0, or -errno
 * with err set (the journal is then kept: the next sync resumes). */
static int end_journal(struct gate *g, const struct journal *j, const bool *settled,
		       struct error *err)
{
	pid_t holder;
	int r;
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

/* Run (or resume) journal j from its first op not done. */
static int run_journal(struct gate *g, const struct journal *j, bool recovering,
		       struct gate_apply_result *res, size_t *ret_conflicts, struct error *err)
{
	_cleanup_free_ bool *done = calloc(j->n + 1, sizeof(bool));
	_cleanup_free_ bool *settled = calloc(j->n + 1, sizeof(bool));
	if (!done || !settled)
		return -ENOMEM;
	_cleanup_close_ int donefd = openat(
	    g->sync_fd, DONE_NAME, O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (donefd < 0)
		return -errno;
	if (recovering)
		read_done(donefd, j, done, settled);
	else if (ftruncate(donefd, 0) < 0)
		return -errno;
	for (size_t i = 0; i < j->n; i++) {
		if (done[i])
			continue;
		int r = run_one(g, j, i, recovering, donefd, settled, res, ret_conflicts, err);
		if (r < 0)
			return r;
	}
	return end_journal(g, j, settled, err);
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

/* A fresh random id for journal j (it names the temp and trash files). 0,
 * or -EIO with err set. */
static int journal_new_id(struct journal *j, struct error *err)
{
	uint8_t rnd[8];
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return gate_fail(err, -EIO, NULL, "no random bytes for the journal id");
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(j->id + 2 * i, 3, "%02x", rnd[i]);
	return 0;
}

/* Entry e held until the next sync with verdict v (res->held counted). */
static void hold_entry(struct gate_entry *e, enum gate_verdict v, struct gate_apply_result *res)
{
	e->apply_err = -ESTALE;
	e->verdict = v;
	res->held++;
}

/* Entry e held as a conflict, with a finding that says why. 0, or -errno
 * when the finding cannot be added (e is then left as it was). */
static int hold_conflict(struct gate_entry *e, const char *why, struct gate_apply_result *res)
{
	int r = gate_add_finding(e, GATE_SEV_NOTE, "conflict", 0, "%s", why);
	if (r < 0)
		return r;
	hold_entry(e, GATE_CONFLICT, res);
	return r;
}

/* Entry i of p into journal j (e->applied) when the box's and the host's
 * entries are still the ones checked; else it is held (res->held,
 * e->apply_err, and for the host a conflict). Not applicable: nothing.
 * 0, or -errno (err set when the host's version cannot be read). */
static int journal_entry(struct gate *g, struct gate_plan *p, size_t i, struct journal *j,
			 struct gate_apply_result *res, struct error *err)
{
	struct gate_entry *e = &p->v[i];
	struct gate_fp now;
	struct journal_op op;
	char beside[PATH_MAX];
	int r;
	if (!gate_entry_applicable(p, i))
		return 0;
	if (e->type == GATE_FILE && e->choice != GATE_CHOICE_KEEP_HOST && !e->staged) {
		e->apply_err = -ENOENT; /* not staged: the plan was a dry run */
		res->held++;
		return 0;
	}
	/* The box may have changed it since it was checked: next time. */
	if (upper_fp(g, e->path, &now) < 0 || !gate_fp_equal(&now, &e->upper)) {
		hold_entry(e, GATE_UNSTABLE, res);
		return 0;
	}
	/* The host changed after the plan (the user thought it over):
	 * next time, as a conflict. */
	if (e->choice == GATE_CHOICE_APPLY && !under_replace(p, e) &&
	    (r = host_as_planned(g, e)) <= 0)
		return r < 0 ? r : hold_conflict(e, "changed on the host after the plan", res);
	r = plan_op(g, p, e, (uint32_t)i, &op, beside, sizeof(beside));
	if (r == -ESTALE)
		return hold_conflict(e, "a directory on its path is no longer one on the host",
				     res);
	if (r < 0)
		return gate_fail(err, r, e->path, "cannot read the host's version: %s",
				 strerror(-r));
	r = journal_add(j, &op);
	if (r == 0)
		e->applied = true;
	return r;
}

/* Journal j written whole (temp + fsync + rename + fsync of the dir), which
 * makes the apply interrupted until it ends, then run. 0, or -errno with
 * err set. */
static int write_and_run(struct gate *g, const struct journal *j, struct gate_apply_result *res,
			 struct error *err)
{
	struct buf b = BUF_INIT(JOURNAL_MAX_BYTES);
	int r = journal_format(j, &b);
	if (r == 0)
		r = fs_write_atomic_at(g->sync_fd, GATE_JOURNAL_NAME, b.data, b.len, 0600);
	buf_free(&b);
	if (r < 0) {
		return gate_fail(err, r, GATE_JOURNAL_NAME, "cannot write the journal: %s",
				 strerror(-r));
	}
	g->interrupted = true;
	size_t held = 0;
	return run_journal(g, j, false, res, &held, err);
}

int gate_apply(struct gate *g, struct gate_plan *p, struct gate_apply_result *ret,
	       struct error *err)
{
	struct gate_apply_result res = { 0 };
	_cleanup_(journal_free) struct journal j = { 0 };
	int r = 0;
	error_clear(err);
	if (g->interrupted) {
		return gate_fail(err, -EAGAIN, g->box.name,
				 "an interrupted apply must be finished first");
	}
	if ((r = journal_new_id(&j, err)) < 0)
		return r;
	for (size_t i = 0; i < p->n && r == 0; i++)
		r = journal_entry(g, p, i, &j, &res, err);
	if (r == 0 && j.n)
		r = write_and_run(g, &j, &res, err);
	if (r < 0) {
		for (size_t i = 0; i < p->n; i++)
			p->v[i].applied = false;
	}
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
