/* A box: a project's sandbox state under $STATE/boxes/NAME/:
 *   box.json     name, project (canonical path), mode, creation time, disk cap
 *   upper/ work/ the overlay's upper and work dirs (every write of the agent)
 *   home/        the box's $HOME (persistent, never the user's)
 *   overlays/ID/ an overlay mount's upper and work (src/state/mounts.h)
 *   mounts       the record of the box's extra mounts (in the box dir)
 *   sync/        the sync gate's state and staging area
 *   disk.img     with a disk cap: the box's filesystem image (src/state/diskcap.h),
 *   disk/        mounted here; upper, work, home and sync are in it then
 *   audit.jsonl  the hash-chained audit log (src/state/audit.c), audit.head
 *   lock         flock()ed by the one clawbox process running the box
 * Modules never print; every function returns >= 0 or -errno. */
#ifndef CLAWBOX_BOX_H
#define CLAWBOX_BOX_H
#include "util/common.h"

#define BOX_NAME_MAX 64

enum box_mode {
	BOX_MODE_SECURE,      /* overlay, manual sync */
	BOX_MODE_YOLO_UNSAFE, /* project bound read-write: explicit opt-in */
	BOX_MODE_YOLO,        /* overlay, the sync gate runs every auto_interval */
};

struct box {
	char name[BOX_NAME_MAX + 1];
	char dir[PATH_MAX];     /* $STATE/boxes/NAME */
	char project[PATH_MAX]; /* canonical absolute path of the project */
	enum box_mode mode;
	int64_t created;     /* unix seconds */
	uint64_t disk;       /* the disk cap in bytes; 0: none (no root, or an older box) */
	char data[PATH_MAX]; /* the dir of upper, work, home, sync: dir, or dir/disk */
};

const char *box_mode_name(enum box_mode m);
int box_mode_parse(const char *s, enum box_mode *ret);

/* Resolve the state directory: $CLAWBOX_STATE_DIR, else /var/lib/clawbox for
 * root, else $XDG_STATE_HOME/clawbox or ~/.local/state/clawbox. */
int box_state_dir(char *out, size_t n);

/* A name is 1..64 of [A-Za-z0-9._-], not starting with '.' or '-'. */
bool box_name_valid(const char *name);

/* The default box name of a project: its basename (sanitized) plus 8 hex
 * digits of the sha256 of its path, so equal basenames do not collide. */
int box_default_name(const char *project, char *out, size_t n);

/* Load an existing box. -ENOENT if there is none, -EBADMSG if box.json is
 * malformed. */
int box_load(const char *state, const char *name, struct box *ret);

/* Create the box directory and its state (mode 0700) for project. The upper
 * dir takes the project root's owner and mode, so /workspace looks like the
 * project. disk > 0 (root only): the box's data lives in a filesystem image
 * of that size, made and mounted here (src/state/diskcap.h; -ENOEXEC without
 * mke2fs). Fails with -EEXIST if the box exists. Nothing is left behind on
 * failure. */
int box_create(const char *state, const char *name, const char *project, enum box_mode mode,
	       uint64_t disk, struct box *ret);

/* Record a new disk cap in box.json (after diskcap_grow()). */
int box_set_disk(struct box *b, uint64_t disk);

/* Find the box whose project is dir or the nearest ancestor of dir. Writes the
 * name on success; -ENOENT if none. */
int box_find_by_path(const char *state, const char *dir, char *ret_name, size_t n);

/* Longest wait for the teardown of a box's last run. */
#define BOX_LOCK_WAIT_MS 10000

/* Take the box's run lock (exclusive, non-blocking). Returns the lock fd, or
 * -EBUSY when another clawbox holds it (*ret_holder gets its pid if known).
 * The box of the last run may still be torn down by the kernel (its
 * clawbox returned before): this waits for that, or -ETIMEDOUT after
 * BOX_LOCK_WAIT_MS. */
int box_lock(const struct box *b, pid_t *ret_holder);
/* Record in the lock (fd from box_lock) that the box's init is host pid
 * init, for the next box_lock() to wait for. */
void box_lock_note_init(int fd, pid_t init);

/* True when some clawbox process holds the box's run lock. */
bool box_in_use(const struct box *b, pid_t *ret_holder);

/* Call fn for each box in the state dir, in name order. Stops on fn < 0. */
int box_foreach(const char *state, int (*fn)(const struct box *b, void *ctx), void *ctx);

/* Remove the box and all its state (its image unmounted first). The caller
 * holds the lock. */
int box_remove(const struct box *b);

/* Discard the overlay's contents (upper and work, dotfiles included). The
 * caller holds the lock. Never touches the project. */
int box_reset(const struct box *b);

/* Empty the box's home (its contents, dotfiles included; the dir stays).
 * The caller holds the lock. */
int box_reset_home(const struct box *b);

#endif
