/* The sync gate: bringing a box's pending changes (its overlay upper dir)
 * to the host project, checked, atomically and without losing anything.
 *
 *   gate_open()     the box's policy, dir fds, the sync lock, the audit log
 *   gate_recover()  finish an apply a crash interrupted (journal)
 *   gate_plan()     the pending changes, each with its checks and verdict;
 *                   with stage=true the bytes to apply are copied into the
 *                   staging area ($BOX/sync/stage) first and every content
 *                   check runs on that copy
 *   (the caller sets entry->choice: apply, keep host, write beside)
 *   gate_apply()    journaled apply of the chosen entries, then settles them
 *                   (no longer pending): pruned from the upper dir when the
 *                   box is idle, recorded in the baseline while it runs
 *
 * Cost follows the number of pending changes, never the project size.
 * Host-side paths are opened beneath the project root with openat2
 * (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS). The module
 * never prints; every decision goes to the box's audit log. docs/SYNC.md
 * has the design. */
#ifndef CLAWBOX_GATE_H
#define CLAWBOX_GATE_H
#include "util/common.h"

#include "util/error.h"

#include "state/box.h"
#include "sync/changes.h"
#include "sync/syncpolicy.h"

enum gate_type { GATE_FILE, GATE_DIR, GATE_SYMLINK, GATE_SPECIAL, GATE_WHITEOUT };

enum gate_action {
	GATE_ACT_NONE,    /* nothing to do on the host */
	GATE_ACT_WRITE,   /* regular file: temp + fsync + rename */
	GATE_ACT_SYMLINK, /* symlink: temp link + rename */
	GATE_ACT_MKDIR,   /* new directory */
	GATE_ACT_DELETE,  /* remove a file or a whole tree */
	GATE_ACT_REPLACE, /* a directory made anew: old one removed, new one made */
	GATE_ACT_CHMOD,   /* directory mode change */
};

enum gate_severity { GATE_SEV_NOTE, GATE_SEV_APPROVE, GATE_SEV_BLOCK };

enum gate_verdict {
	GATE_OK,             /* passes every check */
	GATE_NEEDS_APPROVAL, /* applied only with an explicit approval */
	GATE_BLOCKED,        /* never applied */
	GATE_CONFLICT,       /* the host changed since the box saw it */
	GATE_WAITING,        /* its parent directory is not applied */
	GATE_UNSTABLE,       /* changed while it was being checked: next time */
	GATE_SETTLED,        /* nothing to do (already equal or synced) */
	GATE_GITDATA,        /* beneath a git directory: never applied as files
				(git's own transfer brings commits home);
				not pending, never makes sync fail */
};

enum gate_choice {
	GATE_CHOICE_NONE,      /* stays pending */
	GATE_CHOICE_APPLY,     /* bring the box's version (for a conflict: take box) */
	GATE_CHOICE_KEEP_HOST, /* conflict: keep the host's, drop the box's */
	GATE_CHOICE_BESIDE,    /* conflict: write the box's as PATH.from-box */
};

#define GATE_BESIDE_SUFFIX ".from-box"

struct gate_finding {
	char rule[64];
	char reason[200];
	unsigned line; /* 0 when none applies */
	enum gate_severity sev;
};

/* Identity of a file as stat shows it: a change of any field is a change. */
struct gate_fp {
	uint64_t ino, size;
	int64_t mtime_ns, ctime_ns;
	uint32_t mode;
};

struct gate_entry {
	char *path; /* project-relative */
	enum change_kind kind;
	enum gate_type type;
	enum gate_action action;
	mode_t mode;          /* permission bits to apply (setuid/setgid never) */
	uint64_t size;        /* of the box's file */
	struct gate_fp upper; /* the upper entry when it was checked */
	int host_type;        /* S_IFMT of the host entry, 0 when absent */
	struct gate_fp host;
	int64_t host_ctime_ns; /* also for directories */
	char host_hash[65];    /* sha256 of the host's regular file, "" otherwise */
	char new_hash[65];     /* sha256 of the staged bytes (files) */
	char *target;          /* symlink target */
	char *shown;           /* path with what the scanner found in it redacted, or NULL:
				* what events and the plan show (gate_entry_shown) */
	char *gitdir;          /* GATE_GITDATA: the git directory it belongs to */
	char host_tree[65];    /* a host dir this entry removes: its tree's hash */
	struct gate_finding *findings;
	size_t nfindings;
	enum gate_verdict verdict;
	bool binary;    /* content has NUL bytes (no text diff) */
	bool truncated; /* a dir whose changes beneath are not walked (too long, too deep) */
	bool staged;    /* the staging area holds the checked bytes */
	ssize_t parent; /* nearest ancestor entry that makes a dir, or -1 */
	enum gate_choice choice;
	/* after gate_apply */
	bool applied;
	int apply_err; /* -errno when the apply of this entry failed */
};

struct gate_plan {
	struct gate_entry *v;
	size_t n, cap;
	bool running; /* the box was running when the plan was made */
};

struct gate;

/* The path of e as events and the plan show it: a secret the scanner found
 * in the name (a rule's match, a known value) is "[REDACTED:RULE]". */
static inline const char *gate_entry_shown(const struct gate_entry *e)
{
	return e->shown ? e->shown : e->path;
}

enum {
	GATE_OPEN_WAIT = 1 << 0, /* wait for another sync of the box to end */
};

/* Open the gate of box b: the project root (refused when it is no longer a
 * directory, e.g. replaced by a symlink), the upper dir, $BOX/sync, the
 * policy (config.toml) and the audit log; takes the box's sync lock
 * (-EBUSY when another sync holds it and GATE_OPEN_WAIT is not set). */
int gate_open(const struct box *b, unsigned flags, struct gate **ret, struct error *err);
struct gate *gate_close(struct gate *g);

const struct sync_policy *gate_policy(const struct gate *g);

/* The box's own secrets, matched exactly (raw, base64, hex, URL-encoded) in
 * every staged file as rule known-secret:NAME. The hook for the secrets
 * store: call before gate_plan. The value is copied into wiped memory. */
int gate_add_known_secret(struct gate *g, const char *name, const void *value, size_t len);

struct scan_finding;
/* The gate's secret scanner (its rules and the box's known secrets, as for
 * files) on data named path (src/sync/gitsync_objects.c scans git objects with it): fn
 * gets every finding. Compiles the rules on first use. */
int gate_scan_data(struct gate *g, const char *path, const void *data, size_t len,
		   int (*fn)(const struct scan_finding *f, void *ctx), void *ctx,
		   struct error *err);

/* True when an interrupted apply waits in the journal. */
bool gate_interrupted(const struct gate *g);

struct gate_recover_result {
	size_t ops, done, conflicts; /* conflicts: host changed since; left alone */
};
/* Finish the interrupted apply (roll forward: every op is checked against
 * the host first; a host file that is neither the old nor the new version
 * is left alone), then settle it and remove the journal. 0 when there was
 * nothing to recover. */
int gate_recover(struct gate *g, struct gate_recover_result *ret, struct error *err);

struct gate_plan_opts {
	bool stage;              /* copy into the staging area (needed by gate_apply) */
	const char *const *only; /* project-relative paths; NULL/0: everything */
	size_t nonly;
};

/* Build the plan of pending changes. Entries with verdict GATE_SETTLED are
 * kept (their count is part of the plan) but have nothing to show. */
int gate_plan(struct gate *g, const struct gate_plan_opts *o, struct gate_plan *ret,
	      struct error *err);
void gate_plan_free(struct gate_plan *p);

/* Whether path (project-relative) is a git directory or beneath one: a
 * component named ".git" in any letter case (or what HFS+ or NTFS take for
 * it; a dir, a gitfile or a symlink alike), or a directory the last
 * gate_plan found to be git's: one that looks like a bare repository
 * (HEAD with objects/ and refs/, or a commondir) on the host or after the
 * apply, the target of a gitfile ("gitdir: PATH") or of a git dir's
 * "commondir" inside the project. The file gate never applies such paths
 * (verdict GATE_GITDATA); git's own transfer (src/sync/gitsync.c) may use this
 * to tell what it owns. Before the first gate_plan only the names count. */
bool gate_is_git_path(const struct gate *g, const char *path);

/* Set the default choice of every entry for an unattended apply (--auto):
 * GATE_OK entries (and approvals matching approve[]) get APPLY; everything
 * else stays pending. */
void gate_plan_choose_auto(struct gate_plan *p, const char *const *approve, size_t napprove);

/* Whether entry i can be applied with its current choice, considering its
 * verdict and its parent directory's choice. */
bool gate_entry_applicable(const struct gate_plan *p, size_t i);

struct gate_apply_result {
	size_t applied, settled, held, failed;
};
/* Apply the entries whose choice says so: journal, host ops, settle, audit.
 * Blocked entries are never applied whatever their choice. An entry whose
 * upper file changed since the plan is skipped (held). On a host error
 * (ENOSPC...) the apply stops with that error and err->where naming the
 * path; the journal stays and the next gate_recover finishes it. */
int gate_apply(struct gate *g, struct gate_plan *p, struct gate_apply_result *ret,
	       struct error *err);

/* For a box about to start, whose run lock the caller holds: prune from
 * the upper dir the entries synced while the box last ran (baseline) and
 * unchanged since, so the box starts with the host's view of them. Never
 * touches the host. 0 when there was nothing to do or another sync holds
 * the gate (-EBUSY is not reported). */
int gate_settle_idle(const struct box *b);

/* Log the decisions that keep entries pending (blocked, conflict, declined)
 * to the audit log; when fresh is not NULL, only the entries it returns
 * true for (the yolo loop logs each held version once). */
int gate_audit_held(struct gate *g, const struct gate_plan *p,
		    bool (*fresh)(const struct gate_entry *e, void *ctx), void *ctx);

/* For a diff of entry i (staged): read-only fds of the host's file (-1
 * when the host has no regular file there) and of the staged bytes. */
int gate_entry_fds(struct gate *g, const struct gate_plan *p, size_t i, int *ret_host,
		   int *ret_box);

/* Drop the sync state (journal, staging area, baseline, scan cache). */
int gate_reset_state(struct gate *g);

/* A printable form of a path: control characters, '\\' and invalid UTF-8 as
 * \xNN escapes. Always NUL-terminated; truncated with "..." to n. */
void gate_path_display(const char *path, char *out, size_t n);

const char *gate_verdict_name(enum gate_verdict v);
const char *gate_action_name(enum gate_action a);
const char *gate_type_name(enum gate_type t);
const char *gate_severity_name(enum gate_severity s);
const char *gate_choice_name(enum gate_choice c);

/* Paths of the gate's state in the box dir. */
#define GATE_DIR_NAME      "sync"
#define GATE_JOURNAL_NAME  "journal"
#define GATE_BASELINE_NAME "baseline"

/* openat2 beneath dirfd, never through a symlink or magic link (the last
 * component included): fd, or -errno. For the sync layer's host and upper
 * reads. */
int gate_openat(int dirfd, const char *path, int flags, mode_t mode);

/* A name a case-insensitive filesystem (or HFS+, NTFS) takes for ".git". */
bool gate_name_is_dotgit(const char *name, size_t n);

#endif
