/* Internals shared by the gate's modules. Not for other modules.
 *
 *   gate.c        open, plan (classify, in four stages), staging
 *   gate_check.c  the checks of one entry: path, host side, link, subtree
 *   gate_scan.c   the secret scanner and its cache (contents and names)
 *   gate_show.c   names of verdicts etc., printable paths, error subjects
 *   gatetree.c    the tree before and after the apply, git directories
 *   apply.c       journal, apply, recovery, settling */
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

/* Record an error for the command layer in err (may be NULL): code r,
 * where subject (a path or name, made printable by gate_path_display;
 * NULL: none) and the formatted message. Returns r. */
_printf_(4, 5) int gate_fail(struct error *err, int r, const char *subject, const char *fmt, ...);

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

/* gate_check.c: the checks of one entry; each adds findings to e and
 * returns 0, or -errno when it could not check (-ENOMEM...). */

/* Whether e has a finding of severity sev. */
bool gate_has_sev(const struct gate_entry *e, enum gate_severity sev);

/* The path of e against the policy (deny, allow, approve, credential file
 * types) and its name (control characters, UTF-8), its type and mode. */
int gate_check_path(struct gate *g, struct gate_entry *e);

/* Whether d (n bytes) starts as an ELF, PE or Mach-O executable. */
bool gate_is_executable(const unsigned char *d, size_t n);

/* Host side of e: its type, identity and (for a regular file of the same
 * size as the box's) its hash. A host path through a symlink blocks. */
int gate_probe_host(struct gate *g, struct gate_entry *e);

/* Whether the host changed e's path after the box last saw it (rec: its
 * baseline record, or NULL). */
bool gate_host_changed(struct gate *g, struct gate_entry *e, const struct baseline_rec *rec);

/* A link e with target t (n bytes): where it resolves, before and after
 * the apply; its target's bytes as a name. */
int gate_check_link(struct gate *g, struct gate_entry *e, const char *t, size_t n);

/* Mark e as git data of the git directory root (verdict GATE_GITDATA). */
int gate_set_gitdata(struct gate_entry *e, const char *root);

/* e removes a host directory: every host entry beneath it checked as a
 * path of its own; *ret_changed for a conflict beneath. */
int gate_check_subtree(struct gate *g, struct gate_entry *e, bool *ret_changed);

/* gate_scan.c: the secret scanner and its cache. */

/* g->rules_key from the rules' text and the known secrets. 0 or -errno
 * (err set when the gitleaks configuration cannot be read). */
int gate_rules_key(struct gate *g, struct error *err);

/* Load the cache of the last scans made with the same rules (none when
 * absent or damaged), and save the one made now (when it changed; a cache
 * that cannot be written only costs time next run). */
void gate_cache_load(struct gate *g);
void gate_cache_save(struct gate *g);

/* Secret findings of e's content data (len bytes), cached. */
int gate_check_secrets(struct gate *g, struct gate_entry *e, const void *data, size_t len,
		       struct error *err);

/* Secret findings of e's name (and link target), cached; e->shown gets
 * the name with what was found redacted. */
int gate_check_name(struct gate *g, struct gate_entry *e, struct error *err);

#endif
