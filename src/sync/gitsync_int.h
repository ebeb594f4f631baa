/* Internals shared by the git part of the sync gate. Not for other modules.
 *
 *   gitsync.c             the plan: the repositories opened, the steps run
 *   gitsync_refs.c        the refs of the box and the host, read by us; the
 *                         ref-name rules and the parsers; the candidates
 *   gitsync_quarantine.c  every git we run (environment from scratch), the
 *                         quarantine repository and the import into it
 *   gitsync_objects.c     the object scan and each ref's verdict
 *   gitsync_fetch.c       the fetch into refs/clawbox/BOX/... and its audit */
#ifndef CLAWBOX_GITSYNC_INT_H
#define CLAWBOX_GITSYNC_INT_H
#include "util/common.h"

#include "sync/gitsync.h"

#include <sys/stat.h>

#define QDIR          "git"      /* the quarantine repository in $BOX/sync */
#define QHOME         "git-home" /* an empty $HOME for every git we run */
#define HOST_REFS_MAX 500000u    /* the host's refs (the box's: GITSYNC_REFS_MAX) */

struct buf;
struct sync_policy;

struct refent {
	char *name;
	char oid[65]; /* "" for a deleted (whited-out) loose ref */
};

/* Refs by name, sorted on the first look-up after a change. */
struct refmap {
	struct refent *v;
	size_t n, cap;
	size_t max; /* 0: GITSYNC_REFS_MAX */
	bool sorted, full;
};

/* An object new to the host, as the scan knows it. */
struct obj {
	char oid[65];
	char type; /* 'c'ommit, 't'ree, 'b'lob, 'g' tag, '?' unknown */
	bool symlink, checked;
	uint64_t size;
	char *path;      /* a path it is at (for the scanner and messages) */
	char commit[65]; /* a commit that adds it at path */
	struct gitsync_finding *f;
	size_t nf;
};

/* The working state of one plan (or apply): fds and paths are -1 and ""
 * until opened; gitsync_state_free() releases everything. */
struct gs {
	struct gate *g;
	const struct box *b;
	const struct sync_policy *pol;
	struct gitsync_plan *p;
	int root_fd, upper_git, host_git, sync_fd, q_fd;
	bool git_opaque;
	char qpath[PATH_MAX], home[PATH_MAX], gitbin[64];
	struct refmap box_loose, box_packed, host_loose, host_packed;
	bool box_has_packed;
	char host_head[65];
	size_t hexlen;
	struct obj *objs;
	size_t nobjs, cap;
	uint32_t *ht; /* open addressing: index + 1 into objs */
	size_t htcap;
	uint64_t scanned;
	/* per ref, while it is checked */
	uint32_t **ref_objs;
	size_t *ref_nobjs;
};

/* One git run: its input, where its output goes, how it ended. */
struct run {
	int in_fd;      /* stdin, or -1 */
	const char *in; /* else these bytes (or nothing) */
	size_t inlen;
	struct buf *out; /* stdout collected, or */
	int (*sink)(void *ctx, const char *data, size_t len);
	void *ctx;
	char err[240]; /* the first line of its stderr */
	int status;    /* exit status, or 128 + signal */
};

/* ---- gitsync.c ---------------------------------------------------------- */

/* Record r as the error of a failed step for the command layer: subject
 * (made printable) and "what: strerror". Returns r. */
int gitsync_fail(struct error *err, int r, const char *subject, const char *what);

/* Add a note (made printable; a note already there is not repeated, at
 * most 256) to p: what is not brought home and why. 0 or -ENOMEM. */
_printf_(2, 3) int gitsync_note(struct gitsync_plan *p, const char *fmt, ...);

/* Release what s holds (not s->p). */
void gitsync_state_free(struct gs *s);

/* ---- gitsync_refs.c ----------------------------------------------------- */

int gitsync_refmap_add(struct refmap *m, const char *name, const char *oid);
const struct refent *gitsync_refmap_get(struct refmap *m, const char *name);
void gitsync_refmap_free(struct refmap *m);

/* A regular file beneath dirfd (no symlink followed), at most max bytes,
 * into out (max + 1 bytes) NUL-terminated: -EFBIG beyond, -EPERM when it
 * is not a regular file. */
int gitsync_read_small(int dirfd, const char *name, size_t max, char *out, size_t *ret_len);

/* An overlayfs whiteout (a 0:0 character device). */
bool gitsync_is_whiteout(const struct stat *st);

/* Whether the overlay attribute attr ("opaque") is set on fd, in the user
 * or trusted namespace. */
bool gitsync_ovl_xattr(int fd, const char *attr);

/* The loose refs beneath gitfd/top into m; box: the box's side (whiteouts
 * count, every refusal is a note). */
int gitsync_read_loose_refs(struct gs *s, int gitfd, const char *top, struct refmap *m, bool box);

/* gitfd's packed-refs into m; *ret_present (may be NULL) whether it has
 * one that could be read. */
int gitsync_read_packed(struct gs *s, int gitfd, struct refmap *m, bool box, bool *ret_present);

/* The refs whose value in the box differs from the host's (and from
 * refs/clawbox/BOX/...), into s->p->refs. */
int gitsync_find_candidates(struct gs *s);

/* s->host_head: the host's HEAD resolved once ("" when it cannot be). */
void gitsync_host_head(struct gs *s);

/* ---- gitsync_quarantine.c ------------------------------------------------ */

/* s->gitbin: git from a fixed list of places, never from $PATH. */
int gitsync_find_git(struct gs *s);

/* Run git with args (after our fixed options) in a clean environment;
 * rn says where its input comes from and its output goes. 0 (rn->status
 * set) or -errno (the first error of rn's sink). */
int gitsync_git_run(struct gs *s, const char *const *args, struct run *rn);
#define GIT(s, rn, ...) gitsync_git_run((s), (const char *const[]){ __VA_ARGS__, NULL }, (rn))

/* The quarantine s->qpath made (a bare repository in format, the
 * project's objects as alternates) and opened as s->q_fd; -EINVAL when the
 * project's path cannot be named in an alternates file. */
int gitsync_q_setup(struct gs *s, const char *format);

/* The box's loose objects and packs (beneath objdir) into the quarantine;
 * what is over a cap or refused is a note. */
int gitsync_import_loose(struct gs *s, int objdir);
int gitsync_import_packs(struct gs *s, int objdir);

/* The project's object format ("sha1" or "sha256") into out. */
int gitsync_object_format(struct gs *s, char *out, size_t n);

/* ---- gitsync_objects.c --------------------------------------------------- */

/* Add a finding (at most 64; the reason is formatted) to *v. -ENOMEM. */
_printf_(6, 7) int gitsync_add_finding(struct gitsync_finding **v, size_t *n, const char *rule,
				       const char *path, unsigned line, const char *fmt, ...);

/* The host's tips that exist in the quarantine, into ret. */
int gitsync_host_tips(struct gs *s, struct refmap *ret);

/* The objects of ref idx new to the host (not reachable from tips), and
 * the paths its commits add (checked). */
int gitsync_list_ref(struct gs *s, size_t idx, const struct refmap *tips);

/* The types and sizes of every object listed. */
int gitsync_check_types(struct gs *s);

/* The contents of every commit, tag and blob listed, scanned once each. */
int gitsync_check_contents(struct gs *s);

/* The verdict of ref idx from the findings of its objects. */
int gitsync_judge(struct gs *s, size_t idx);

#endif
