/* The extra mounts of run, shell and up (--mount, --vault, --no-mounts):
 * the options, the box's record (src/state/mounts.h), the host-side checks
 * (masks_mount_conflict), and what status, sync and reset say of them. */
#ifndef CLAWBOX_LAUNCH_MOUNTS_H
#define CLAWBOX_LAUNCH_MOUNTS_H
#include "util/common.h"

#include "box/rootfs.h"
#include "state/box.h"
#include "state/mounts.h"
#include "util/strv.h"

#include <jansson.h>

enum { MOUNT_OPT_MOUNT = 1200, MOUNT_OPT_VAULT, MOUNT_OPT_NO_MOUNTS };
/* clang-format off */
#define MOUNT_LONG_OPTIONS \
	{ "mount", required_argument, NULL, MOUNT_OPT_MOUNT }, \
	{ "vault", required_argument, NULL, MOUNT_OPT_VAULT }, \
	{ "no-mounts", no_argument, NULL, MOUNT_OPT_NO_MOUNTS }
/* clang-format on */
#define MOUNT_OPTS_HELP                                                                      \
	"      --mount SRC:DST[:ro|overlay]  show the host dir SRC at DST in the box\n"      \
	"                       (repeatable): ro (the default) read-only; overlay\n"         \
	"                       writable, the writes held in the box ('clawbox status')\n"   \
	"                       until 'clawbox sync' brings them home, as the project's.\n"  \
	"                       Refused: a SRC that is, holds or lies in a hidden path\n"    \
	"                       or a credential dir; a DST at or above the box's own\n"      \
	"                       (/proc, /dev, /workspace, ...). Recorded with the box:\n"    \
	"                       the next run gets the same mounts; new ones replace\n"       \
	"                       them (said in one line)\n"                                   \
	"      --vault DIR[:ro|overlay]  an Obsidian vault at " MOUNTS_VAULT ", read-only\n" \
	"                       by default (a --mount of DIR)\n"                             \
	"      --no-mounts      forget the box's recorded mounts\n"

struct launch_mounts {
	struct mounts given;    /* --mount and --vault, in their order */
	bool none;              /* --no-mounts */
	struct mounts use;      /* the run's (launch_mounts_resolve) */
	const struct box *save; /* to record use in (launch_mounts_check_denied) */
	size_t replaced;        /* how many recorded mounts it replaces */
	struct rootfs_mount spec[ROOTFS_MOUNTS_MAX];
	char overlay[ROOTFS_MOUNTS_MAX][PATH_MAX];
};

/* Option c (MOUNT_OPT_*) with arg into *m (allocated on first use). -1 to go
 * on, or EXIT_SETUP after a usage error (reported). */
int launch_mounts_opt(struct launch_mounts **m, int c, const char *arg);

/* Whether the options named mounts (a box that is up has its own). */
bool launch_mounts_given(const struct launch_mounts *m);

/* With the box locked: the run's mounts (the options', else the record's),
 * each checked against the host (SRC a dir, masks_mount_conflict) and the
 * box (mounts_check_dst; config: the --config path or NULL), their overlay
 * dirs made (recorded by launch_mounts_check_denied, when new). *ret_spec and *ret_n for the rootfs spec (m
 * may be NULL: none). 0, or -errno after an error message. */
int launch_mounts_resolve(struct launch_mounts *m, const struct box *b, const char *state,
			  const char *config, const struct rootfs_mount **ret_spec, size_t *ret_n);

/* Once the masks are known: a mount must not show what --deny-read (or the
 * box's deny-read file, or a secrets file) hides: a source at or beneath one
 * of masks that is not a built-in mask (those are masks_mount_conflict's)
 * is refused. Then the options' mounts are recorded (said in one line when
 * they replace others). 0, or -errno after an error message. */
int launch_mounts_check_denied(struct launch_mounts *m, const struct strv *masks,
			       const char *state);

/* The sources of the resolved mounts, for masks_normalize_roots(). */
size_t launch_mounts_roots(const struct launch_mounts *m, const char **roots, size_t max);

struct launch_mounts *launch_mounts_free(struct launch_mounts *m);

/* What the overlay mount e of box b holds: 0 with *ret filled, or -errno. */
struct changes_summary;
int launch_mounts_pending(const struct box *b, const struct mount_entry *e,
			  struct changes_summary *ret);

/* clawbox status: one line per recorded mount (with the overlay's pending
 * changes), nothing when none. */
void launch_mounts_status(const struct box *b);

/* The same as a JSON array of {src, dst, kind[, pending]} (new reference). */
json_t *launch_mounts_json(const struct box *b);

/* Call fn for each overlay mount of the box's record that holds an upper
 * dir, as a root of the sync gate of its own: root is a box like b whose
 * project is the mount's SRC and whose data dir is the mount's (upper,
 * work, and the gate's sync/: its staging, journal and baseline). The
 * policy, the audit log and the run lock stay the box's. Stops at fn < 0
 * and returns it; 0 when done, or -errno when the record is unreadable. */
int launch_mounts_foreach_root(const struct box *b,
			       int (*fn)(const struct box *root, const struct mount_entry *e,
					 void *ctx),
			       void *ctx);

#endif
