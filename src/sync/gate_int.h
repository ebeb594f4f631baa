/* Internals shared by the gate's modules (gate.c: open, plan, checks,
 * staging; apply.c: journal, apply, recovery, settling). Not for other
 * modules. */
#ifndef CLAWBOX_GATE_INT_H
#define CLAWBOX_GATE_INT_H
#include "util/common.h"

#include "state/audit.h"
#include "sync/gate.h"
#include "sync/journal.h"
#include "scan/scan.h"

#include <jansson.h>

struct known_secret {
	char name[65];
	char *value; /* wiped on free */
	size_t len;
};

struct gate {
	struct box box;
	int root_fd;  /* the project, opened with no symlink on its path */
	int upper_fd; /* $BOX/upper */
	int sync_fd;  /* $BOX/sync */
	int lock_fd;  /* $BOX/sync/lock, flock()ed */
	struct sync_policy pol;
	struct audit *audit;
	struct scan_rules *rules; /* compiled on the first cache miss */
	char rules_key[65];       /* identifies rules + known secrets */
	struct known_secret *secrets;
	size_t nsecrets;
	json_t *cache_old, *cache_new; /* scan results by path + content */
	bool cache_dirty;
	struct baseline base;
	bool interrupted; /* a journal is there */
	/* While planning: every pending change, sorted as the plan (whatever
	 * --only keeps), for the view of the tree after the apply. */
	const struct gate_entry *allv;
	size_t alln;
	/* Git directories found by the last plan besides the ".git" names:
	 * bare-looking dirs, gitfile and commondir targets ("" = the root). */
	char **gitdirs;
	size_t ngitdirs;
};

/* -errno, never 0 (for the analyzers: a failed call always sets errno). */
static inline int gate_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

/* The parent directory of rel (beneath dirfd, no symlinks) opened O_RDONLY,
 * and the last component of rel. On failure *ret_fd is -1. */
int gate_parent(int dirfd, const char *rel, int *ret_fd, const char **ret_base);

void gate_fp_from_stat(const struct stat *st, struct gate_fp *ret);

/* sha256 hex of a regular file's content (fd at any offset, read with
 * pread), at most max bytes: -EFBIG beyond. */
int gate_hash_fd(int fd, uint64_t max, char out[65]);

/* Add a finding to e (at most 64; the reason is formatted). -ENOMEM. */
_printf_(5, 6) int gate_add_finding(struct gate_entry *e, enum gate_severity sev, const char *rule,
				    unsigned line, const char *fmt, ...);

_printf_(3, 4) int gate_fail(struct gate_error *err, int r, const char *fmt, ...);
void gate_subject(struct gate_error *err, const char *subject);

/* gatetree.c: the tree as it is (host) and as it will be after the apply
 * (after: host plus every pending change in g->allv).
 *
 * Type (S_IFMT, 0 when absent, -errno) of path in a view; a symlink's
 * target in tgt when tgt is not NULL. */
int gate_view_type(const struct gate *g, bool after, const char *path, char *tgt, size_t tn);

/* base (a project-relative dir, "" for the root) joined with a path read
 * from a git file (a gitfile's "gitdir:" value or a "commondir"; trailing
 * white space dropped; absolute paths count when inside project),
 * normalized lexically into out (project-relative: no "", ".", ".."
 * component, no leading '/'; "" for the root). false when it leaves the
 * project, is empty or does not fit n. */
bool gate_git_target(const char *project, const char *base, const char *text, char *out, size_t n);

/* Fill g->gitdirs from both views, looking at every directory of a pending
 * path (and each path itself): bare-looking dirs, gitfiles' targets,
 * commondirs. */
int gate_find_gitdirs(struct gate *g);

/* When path is (beneath) a git directory: true, its root in out. */
bool gate_git_root(const struct gate *g, const char *path, char *out, size_t n);

enum { GATE_LINK_INSIDE, GATE_LINK_ESCAPES, GATE_LINK_LOOPS };
/* Where the link linkpath -> target resolves in a view: component by
 * component, following every symlink (at most 40), ".." above the root or
 * an absolute target escapes; past a missing or non-dir component the
 * rest is judged by its text. When it is inside and ends at a directory,
 * *ret_dir_depth (may be NULL) gets that directory's number of components
 * (0: the project root), else -1. */
int gate_link_resolves(const struct gate *g, bool after, const char *linkpath, const char *target,
		       int *ret_dir_depth);

/* Walk the host tree dirfd/name (not following symlinks, beneath dirfd),
 * at most max entries (-E2BIG beyond), calling fn for each entry (rel to
 * name; bare=true and st NULL for a dir that looks like a bare git repo)
 * and hashing every entry's identity into ret_hash (the tree's state: a
 * change beneath changes it). */
int gate_tree_walk(int dirfd, const char *name, size_t max,
		   int (*fn)(const char *rel, const struct stat *st, bool bare, void *ctx),
		   void *ctx, char ret_hash[65]);
#define GATE_TREE_MAX 100000

/* Baseline persistence (apply.c). */
int gate_baseline_save(struct gate *g);

/* Stage file name of entry i. */
void gate_stage_name(uint32_t i, char out[32]);

#endif
