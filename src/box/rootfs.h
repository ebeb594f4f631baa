/* The box's filesystem view, built inside the box's new mount namespace by
 * its init process (src/box/init.c) before anything untrusted runs:
 *   /               a tmpfs, read-only at the end
 *   /usr /etc ...   recursive clones of the host's top-level entries,
 *                   read-only, nosuid, nodev
 *   /workspace and the project's own path: one overlay (lower = project,
 *                   upper/work = the box's), or in yolo-unsafe mode a
 *                   read-write bind of the project
 *   /home/clawbox   the box's own persistent $HOME
 *   config path     with --config DIR: DIR, read-only, its .env hidden
 *                   (default /home/clawbox/.openclaw)
 *   --mount DSTs    each extra mount (struct rootfs_mount): a host dir,
 *                   read-only or an overlay of its own; the masks beneath
 *                   its source hidden beneath it too
 *   /tmp /dev/shm   dirs of the box's own tmpfs (with the root's, one cap)
 *   /dev            null zero full random urandom tty, a private devpts
 *   /proc           the box's pid namespace; sys, sysrq-trigger, irq, bus
 *                   read-only
 *   masks           each masked host path shows as an empty read-only dir
 *                   or file
 *   CA bundle       with brokered secrets: the bundle clawbox wrote (the
 *                   host's and the box's CA), read-only over the view's
 *                   ROOTFS_CA_BUNDLE
 * Host paths are resolved while the host tree is still visible; everything
 * else after pivot_root, so no symlink of the host can redirect a mount. */
#ifndef CLAWBOX_ROOTFS_H
#define CLAWBOX_ROOTFS_H
#include "util/common.h"
#include "util/error.h"

#define ROOTFS_WORKSPACE "/workspace"
#define ROOTFS_HOME      "/home/clawbox"
#define ROOTFS_CONFIG    "/home/clawbox/.openclaw"
#define ROOTFS_OLD_ROOT  "/.oldroot" /* the host's root until detached */
#define ROOTFS_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

#define ROOTFS_MOUNTS_MAX 16

/* An extra mount (--mount, --vault; the rules: src/state/mounts.h and
 * masks_mount_conflict()): src, a canonical host dir, shown at dst (absolute,
 * normalized) read-only (nosuid, nodev), or with overlay set as an overlay
 * (nosuid, nodev) whose lower layer is src and whose upper and work are the
 * dirs "upper" and "work" of the host dir overlay. A missing dst is made: in
 * the box's root, home or /tmp as a dir; when the deepest existing ancestor
 * is read-only, /mnt, /media or a masked dir, over an empty read-only tmpfs
 * put on it, which then shows nothing else; else refused. dst must not pass
 * through a symlink of the view. */
struct rootfs_mount {
	const char *src, *dst, *overlay;
};

struct rootfs_spec {
	const char *project; /* canonical host path of the project */
	const char *upper;   /* host path of the box's overlay upper dir */
	const char *work;    /* host path of the box's overlay work dir */
	const char *home;    /* host path of the box's home dir */
	bool unsafe;         /* bind the project read-write (yolo-unsafe) */
	char *const *masks;  /* canonical host paths to hide */
	size_t nmasks;
	uint64_t tmp_size; /* bytes for /tmp and /dev/shm together */
	/* --config DIR: the host dir shown read-only (nosuid, nodev) at
	 * config_path, which is absolute and beneath ROOTFS_HOME; its ".env"
	 * (the secrets, given by environment only) is hidden by an empty file.
	 * NULL: none. */
	const char *config;
	const char *config_path;
	const struct rootfs_mount *mounts; /* at most ROOTFS_MOUNTS_MAX */
	size_t nmounts;
	/* Shown read-only at /etc/resolv.conf when not NULL and the view's
	 * /etc/resolv.conf is a regular file (e.g. the proxy's DNS stub). At
	 * most 1 KiB. */
	const char *resolv_conf;
	/* A host file shown read-only at ROOTFS_CA_BUNDLE, which must be a
	 * regular file of the view (brokered secrets: the box's CA bundle,
	 * src/cli/launch_broker.h). NULL: none. */
	const char *ca_bundle;
	/* Unless unsafe: the workspace's overlay, as made by
	 * rootfs_overlay_mount() (maybe by another process, while the view is
	 * built). Called once, right before the workspace is attached; returns
	 * the detached mount's fd, or -errno with *err filled in. */
	int (*overlay)(void *ctx, struct error *err);
	/* After pivot_root the host's root sits at ROOTFS_OLD_ROOT, and
	 * detaching it waits for an RCU grace period, so it may happen beside
	 * the rest of the build: when set, old_root(ctx, true) is called right
	 * after the pivot (someone may start rootfs_detach_old_root() then),
	 * and old_root(ctx, false) before the view is done, which must return
	 * once it is detached (0) or -errno. NULL: rootfs_build detaches it. */
	int (*old_root)(void *ctx, bool start);
	void *hook_ctx;
};

/* The overlay's layers as O_PATH fds, opened while the host tree is
 * visible: the project, and the dir holding upper and work (they must be
 * siblings: overlay wants them on one mount). The overlay must be made
 * while their mounts are still in the namespace, i.e. before the host's old
 * root is detached (the builder makes it first). */
struct rootfs_layers {
	int lower, box;
	char upper[NAME_MAX + 1], work[NAME_MAX + 1]; /* their names in box */
};
int rootfs_layers_open(const struct rootfs_spec *spec, struct rootfs_layers *ret,
		       struct error *err);
void rootfs_layers_close(struct rootfs_layers *l);

/* Create the workspace's overlay from l as a detached mount (nosuid,
 * nodev). Any root will do (the layers are reached through the fds), as
 * long as the old root is not detached yet (see rootfs_layers). Needs
 * CAP_SYS_ADMIN in the box's user namespace. Returns the mount's fd or
 * -errno with *err filled in.
 * overlayfs removes the work dir's "work" and makes it again at every
 * mount, and on a filesystem mounted with `discard` the removal waits for
 * the disk (0.5-0.9 ms here, most of the mount). So the last run's is
 * first moved into the box dir's "trash" (a rename; best effort: when it
 * fails, overlayfs removes it as before), for rootfs_trash_empty() later,
 * when nothing waits for it. */
int rootfs_overlay_mount(const struct rootfs_spec *spec, const struct rootfs_layers *l,
			 struct error *err);

/* Remove what rootfs_overlay_mount() moved into the trash of the box dir
 * box (an fd of it). Never while an overlay of the box is being mounted.
 * 0 or -errno. */
int rootfs_trash_empty(int box);

/* Detach the host's old root (lazily) from a process in the box's mount
 * namespace, after the pivot. 0 or -errno. */
int rootfs_detach_old_root(void);

/* Build the view and pivot into it. Must run as the init of new user, mount
 * and pid namespaces, with CAP_SYS_ADMIN there. On success ret_keep[0..1]
 * are two fds of the box's own tmpfs, detached and close-on-exec, for the
 * caller to close when it costs nothing (closing a detached mount waits for
 * an RCU grace period; e.g. once the command runs). On failure returns
 * -errno and fills *err; the namespace is then unusable and the caller
 * exits. Every function here that takes err (may be NULL) fills it when it
 * fails: the step, its subject in quotes, the errno's text, and what the
 * kernel said of a mount it refused ("mount the overlay '/p': Invalid
 * argument — overlayfs: ..."). */
int rootfs_build(const struct rootfs_spec *spec, int ret_keep[2], struct error *err);

/* In a new pid and mount namespace of the box (a session's, src/box/leader.c):
 * the mounts made private, a /proc of the new pid namespace over the box's,
 * protected as the box's is. 0, or -errno with *err. */
int rootfs_proc_remount(struct error *err);

#endif
