/* A box's extra mounts (--mount SRC:DST[:ro|overlay], --vault DIR): the
 * option's syntax, the lexical rules for DST, and the record kept with the
 * box ($STATE/boxes/NAME/mounts), so the next run gets the same mounts.
 *   ro       SRC shown read-only (nosuid, nodev) at DST: the default
 *   overlay  SRC the lower layer of an overlay of its own at DST: writes
 *            held in the box's data dir (overlays/ID/upper), SRC unchanged
 * The record is text, one mount a line, "KIND<TAB>SRC<TAB>DST"; '#' lines
 * are comments. Paths never hold control characters (a tab or a newline
 * cannot reach the record) and are valid UTF-8.
 * What the host side must check too (SRC against the masks, SRC a
 * directory) is src/box/masks.h's; modules never print. */
#ifndef CLAWBOX_MOUNTS_H
#define CLAWBOX_MOUNTS_H
#include "util/common.h"
#include "util/error.h"

#define MOUNTS_MAX   16
#define MOUNTS_VAULT "/mnt/obsidian" /* where --vault DIR shows DIR */
#define MOUNTS_DATA  "overlays"      /* in the data dir: the overlay mounts' dirs */

enum mount_kind { MOUNT_RO, MOUNT_OVERLAY };

struct mount_entry {
	enum mount_kind kind;
	char *src; /* absolute (canonical once resolved) host dir */
	char *dst; /* absolute, normalized path in the box */
};

struct mounts {
	struct mount_entry v[MOUNTS_MAX];
	size_t n;
};

const char *mount_kind_name(enum mount_kind k);

/* Free the entries' paths; m is empty after. */
void mounts_clear(struct mounts *m);

/* A path a mount may name: absolute, lexically normalized (no "//", "."
 * or ".." component, no trailing '/'), not "/", shorter than PATH_MAX,
 * valid UTF-8 without control characters. */
bool mounts_path_valid(const char *path);

/* Parse an --mount argument SRC:DST[:ro|overlay] (vault: an --vault
 * argument DIR[:ro|overlay], DST MOUNTS_VAULT) and append it to m. SRC is
 * kept as given (the caller resolves it); it may not hold ':' (reach such a
 * dir through a symlink whose path has none). -EINVAL (the syntax, a
 * control character, DST not valid), -E2BIG (more than MOUNTS_MAX), with
 * *err saying which. */
int mounts_parse_opt(struct mounts *m, const char *arg, bool vault, struct error *err);

/* DST's rules in a box whose project is at project and whose --config dir
 * (NULL: none) at config: not "/", not at or beneath /proc, /sys, /dev,
 * /workspace, the project, the config dir or clawbox's own mount points,
 * not /tmp or the box's home itself, not an ancestor of any of those, and
 * no two mounts at, beneath or above one another. 0, or -EINVAL with *err
 * naming the DST and the reason. */
int mounts_check_dst(const struct mounts *m, const char *project, const char *config,
		     struct error *err);

/* Parse a record (text of n bytes) into *ret (emptied first). -EBADMSG on
 * any malformed line (*err names the line), -E2BIG past MOUNTS_MAX. */
int mounts_parse_record(const char *text, size_t n, struct mounts *ret, struct error *err);

/* The record of m as text (a new string, caller frees); NULL on ENOMEM. */
char *mounts_format(const struct mounts *m);

/* Load the box dir's record ("mounts"); none: 0 entries. Save replaces it
 * atomically (an empty m removes it). */
int mounts_load(const char *box_dir, struct mounts *ret, struct error *err);
int mounts_save(const char *box_dir, const struct mounts *m);

/* True when a and b are the same mounts in the same order. */
bool mounts_equal(const struct mounts *a, const struct mounts *b);

/* The dir of an overlay mount's upper and work in the box's data dir:
 * data/overlays/ID, ID 16 hex digits of the sha256 of SRC and DST (a mount
 * of another SRC at the same DST never sees another's writes). */
int mounts_data_dir(const char *data, const struct mount_entry *e, char *out, size_t n);

/* Remove every overlay mount's held writes (data/mounts). The caller holds
 * the box's lock. */
int mounts_reset(const char *data);

#endif
