/* The git part of the sync gate: the box's new commits, branches and tags
 * come home through git's own object transfer into refs of their own,
 * refs/clawbox/BOX/{heads,tags}/ and refs/clawbox/BOX/HEAD, never as files.
 *
 *   gitsync_plan()   reads the box's refs itself (beneath the upper dir, no
 *                    symlink followed, size-capped, strictly validated),
 *                    imports the box's objects into a quarantine repository
 *                    clawbox owns ($BOX/sync/git: loose objects copied,
 *                    packs through 'git index-pack --strict'), and checks
 *                    every object new to the host: blob contents, commit
 *                    and tag texts (the gate's scanner with the box's known
 *                    secrets), the paths blobs are added at (credential
 *                    files, deny/allow globs, names), the size limit. A ref
 *                    whose new history holds a blocked object is held.
 *   gitsync_apply()  fetches the refs that passed from the quarantine into
 *                    the host ('git fetch' with transfer.fsckObjects, forced:
 *                    the box may rewrite its branches) and logs each.
 *
 * Every git runs with a clean environment (no GIT_* variables, no system or
 * global config, HOME an empty dir of ours, hooks off). No git ever runs in
 * the box's repository or reads its config, hooks, alternates, index or
 * packs' indexes. Only the project's top-level repository, when the
 * project's .git is a directory; everything else is reported as not
 * brought home. The module never prints. docs/SYNC.md ("Git"). */
#ifndef CLAWBOX_GITSYNC_H
#define CLAWBOX_GITSYNC_H
#include "util/common.h"

#include "state/box.h"
#include "sync/gate.h"

#define GITSYNC_REF_MAX       1024       /* bytes of a ref name */
#define GITSYNC_LOOSE_REF_MAX 4096       /* bytes of a loose ref file */
#define GITSYNC_PACKED_MAX    (8u << 20) /* bytes of packed-refs */
#define GITSYNC_REFS_MAX      10000      /* refs read from one repository */

enum gitsync_verdict {
	GITSYNC_FETCH,   /* passes: comes home */
	GITSYNC_HELD,    /* a check failed: stays pending */
	GITSYNC_FETCHED, /* after gitsync_apply: in the host's namespace */
	GITSYNC_FAILED,  /* the fetch of it failed (reason in findings) */
};

struct gitsync_finding {
	char rule[64];
	char object[65]; /* the commit (or tag) it is attributed to, "" none */
	char *path;      /* the path in the tree, or NULL */
	unsigned line;   /* 0 when none */
	char reason[200];
	char *where; /* "commit 0123abcd4567 adds \'PATH\'", display-safe, or NULL */
	bool note;   /* shown, but does not hold the ref */
};

struct gitsync_ref {
	char *name; /* as in the box: refs/heads/x, refs/tags/v, HEAD */
	char *dest; /* refs/clawbox/BOX/heads/x, ... */
	char oid[65];
	size_t commits, objects; /* new to the host */
	enum gitsync_verdict verdict;
	struct gitsync_finding *findings;
	size_t nfindings;
};

struct gitsync_plan {
	struct gitsync_ref *refs;
	size_t nrefs;
	char **notes; /* what is not brought home, and why (display-safe) */
	size_t nnotes;
};

/* The git part of box b's pending changes. files, when not NULL, is the
 * file gate's plan: nested repositories (a .git below the top) and a .git
 * the box made in a project without one are named in notes from it. The
 * gate g gives the policy and the scanner (its known secrets). Writes only
 * beneath $BOX/sync/git. Nothing to do (the box's upper dir holds no .git,
 * or no ref of it differs from the host's) costs no process. */
int gitsync_plan(struct gate *g, const struct box *b, const struct gate_plan *files,
		 struct gitsync_plan *ret, struct error *err);

/* Fetch the refs with verdict GITSYNC_FETCH into the host; each becomes
 * FETCHED or FAILED. Logs sync.git.fetch / sync.git.held events (held ones
 * only when log_held says so, or always when it is NULL). */
int gitsync_apply(struct gate *g, const struct box *b, struct gitsync_plan *p,
		  bool (*log_held)(const struct gitsync_ref *r, void *ctx), void *ctx,
		  struct error *err);

/* Log the held refs of p (dry runs do not; interactive and --auto do). */
int gitsync_audit_held(const struct box *b, const struct gitsync_plan *p,
		       bool (*log_held)(const struct gitsync_ref *r, void *ctx), void *ctx);

void gitsync_plan_free(struct gitsync_plan *p);

size_t gitsync_pending(const struct gitsync_plan *p);

const char *gitsync_verdict_name(enum gitsync_verdict v);

/* Which of paths (project-relative, literal) git tracks in project (a file,
 * or files beneath a dir): ret_tracked[i]. Runs one 'git ls-files' with the
 * clean environment when the project's .git is a directory; otherwise every
 * answer is false. For --deny-read: a tracked file stays readable in the
 * box through the history ('git show HEAD:PATH'). */
int gitsync_tracked(const char *project, const char *const *paths, size_t n, bool *ret_tracked);

/* ---- parsers (pure; unit-tested and fuzzed) ---------------------------- */

/* A ref name as git check-ref-format accepts it, stricter: printable ASCII
 * or valid UTF-8 only, at most GITSYNC_REF_MAX bytes, at least two
 * components, none empty or starting with '.', none ending with ".lock",
 * no "..", "@{", '\\', space, ~ ^ : ? * [, not ending with '/' or '.', not "@". */
bool gitsync_refname_valid(const char *name);

/* An object id: exactly 40 or 64 lowercase hex digits. Returns its length,
 * or 0. */
size_t gitsync_oid_len(const char *s, size_t n);

enum { GITSYNC_LOOSE_OID = 0, GITSYNC_LOOSE_SYMREF = 1 };
/* The content of a loose ref file (or HEAD): "<oid>\n" (the newline may be
 * missing) -> GITSYNC_LOOSE_OID with out the oid; "ref: <name>\n" ->
 * GITSYNC_LOOSE_SYMREF with out the name (out has GITSYNC_REF_MAX + 1
 * bytes). Anything else: -EINVAL. */
int gitsync_parse_loose(const char *data, size_t len, char *out);

/* packed-refs: an optional "# pack-refs with:" first line, then "<oid>
 * <name>" lines, each optionally followed by "^<oid>" (peeled). Calls ref()
 * for every valid line and bad() with the line number and a reason for
 * every other (then goes on). Returns the first < 0 of a callback, else 0. */
int gitsync_parse_packed(const char *data, size_t len,
			 int (*ref)(const char *name, const char *oid, void *ctx),
			 void (*bad)(unsigned line, const char *why, void *ctx), void *ctx);

/* The output of 'git log -z --raw --no-abbrev --format=tformat:%x01%H':
 * entry() for each changed path of each commit with its new mode, new oid
 * and status letter; a record that does not parse: -EBADMSG. */
int gitsync_parse_raw(const char *data, size_t len,
		      int (*entry)(const char *commit, unsigned mode, const char *oid, char status,
				   const char *path, void *ctx),
		      void *ctx);

#endif
