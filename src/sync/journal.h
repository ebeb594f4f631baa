/* The sync gate's two state files, as text with a checksum line, so a torn
 * or edited file is detected (and never half-trusted):
 *
 * $BOX/sync/journal: the apply in progress.
 *   clawbox-sync-journal 1 ID
 *   op ACTION CHOICE MODE OLD NEW STAGE INO SIZE MTIME CTIME UMODE HOST UPPER TARGET
 *   ...
 *   end SHA256-of-the-lines-above
 * ACTION: one of w l m d r c n (write, symlink, mkdir, delete, replace,
 * chmod, none); CHOICE: a (apply), k (keep host), b (beside); MODE octal;
 * OLD: the host entry the apply expects to replace: "-" absent, "d" a
 * directory, "t:HASH" a directory the op removes, whose tree (every entry
 * beneath, see gate_tree_walk) hashes to HASH, "f:HASH" a regular file with
 * that sha256, "l:HASH" a symlink whose target has that sha256, "o"
 * anything else; NEW: "f:HASH" of the
 * staged file, "l:HASH" of the link target, or "-"; STAGE: the staged
 * file's number; INO..UMODE: the upper entry's identity when checked;
 * HOST, UPPER, TARGET: hex-encoded bytes ("-" for none), so any name
 * (newlines, invalid UTF-8) survives.
 *
 * $BOX/sync/baseline: entries applied while the box ran (not pending as
 * long as the upper entry is unchanged; the host identity after the apply
 * tells a later host change, i.e. a conflict).
 *   clawbox-sync-baseline 1
 *   b UPPER-PATH INO SIZE MTIME CTIME UMODE HINO HSIZE HMTIME HCTIME HMODE
 *   end SHA256
 * Parsers are strict: -EBADMSG for anything else. Never prints. */
#ifndef CLAWBOX_JOURNAL_H
#define CLAWBOX_JOURNAL_H
#include "util/common.h"

#include "sync/gate.h"
#include "util/buf.h"

#define JOURNAL_MAX_OPS   (1u << 20)
#define JOURNAL_MAX_BYTES (256u << 20)

struct journal_op {
	enum gate_action action;
	enum gate_choice choice; /* APPLY, KEEP_HOST or BESIDE */
	uint32_t mode;
	char old[72];  /* "-", "d", "o", "t:HASH", "f:HASH", "l:HASH" */
	char newv[72]; /* "-", "f:HASH", "l:HASH" */
	uint32_t stage;
	struct gate_fp upper;
	char *host;   /* host path, project-relative */
	char *uppath; /* upper path (differs from host for BESIDE) */
	char *target; /* symlink target or NULL */
};

struct journal {
	char id[17];
	struct journal_op *ops;
	size_t n, cap;
};

int journal_add(struct journal *j, const struct journal_op *op); /* strings copied */
int journal_format(const struct journal *j, struct buf *out);
/* -EBADMSG when text is not a complete, intact journal. */
int journal_parse(const char *text, size_t len, struct journal *ret);
void journal_free(struct journal *j);

struct baseline_rec {
	char *path;
	struct gate_fp upper, host; /* host.ino == 0: absent after the apply */
};

struct baseline {
	struct baseline_rec *v;
	size_t n, cap;
};

/* Add or replace the record of rec->path (copied). */
int baseline_put(struct baseline *b, const struct baseline_rec *rec);
/* The record of path or NULL. Linear; the baseline holds only the entries
 * synced while the box ran, dropped when the box is next idle at a sync. */
const struct baseline_rec *baseline_get(const struct baseline *b, const char *path);
void baseline_del(struct baseline *b, const char *path);
int baseline_format(const struct baseline *b, struct buf *out);
int baseline_parse(const char *text, size_t len, struct baseline *ret);
void baseline_free(struct baseline *b);

bool gate_fp_equal(const struct gate_fp *a, const struct gate_fp *b);

#endif
