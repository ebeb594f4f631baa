/* The box's filesystem view, built inside the box's new mount namespace by
 * its init process (src/boxinit.c) before anything untrusted runs:
 *   /               a tmpfs, read-only at the end
 *   /usr /etc ...   recursive clones of the host's top-level entries,
 *                   read-only, nosuid, nodev
 *   /workspace and the project's own path: one overlay (lower = project,
 *                   upper/work = the box's), or in yolo-unsafe mode a
 *                   read-write bind of the project
 *   /home/clawbox   the box's own persistent $HOME
 *   config path     with --config DIR: DIR, read-only, its .env hidden
 *                   (default /home/clawbox/.openclaw)
 *   /tmp /dev/shm   private tmpfs with a size cap
 *   /dev            null zero full random urandom tty, a private devpts
 *   /proc           the box's pid namespace; sys, sysrq-trigger, irq, bus
 *                   read-only
 *   masks           each masked host path shows as an empty read-only dir
 *                   or file
 * Host paths are resolved while the host tree is still visible; everything
 * else after pivot_root, so no symlink of the host can redirect a mount. */
#ifndef CLAWBOX_ROOTFS_H
#define CLAWBOX_ROOTFS_H
#include "util/common.h"

#define ROOTFS_WORKSPACE "/workspace"
#define ROOTFS_HOME      "/home/clawbox"
#define ROOTFS_CONFIG    "/home/clawbox/.openclaw"

struct rootfs_spec {
	const char *project; /* canonical host path of the project */
	const char *upper;   /* host path of the box's overlay upper dir */
	const char *work;    /* host path of the box's overlay work dir */
	const char *home;    /* host path of the box's home dir */
	bool unsafe;         /* bind the project read-write (yolo-unsafe) */
	char *const *masks;  /* canonical host paths to hide */
	size_t nmasks;
	uint64_t tmp_size; /* bytes for /tmp and /dev/shm each */
	/* --config DIR: the host dir shown read-only (nosuid, nodev) at
	 * config_path, which is absolute and beneath ROOTFS_HOME; its ".env"
	 * (the secrets, given by environment only) is hidden by an empty file.
	 * NULL: none. */
	const char *config;
	const char *config_path;
	/* Shown read-only at /etc/resolv.conf when not NULL and the view's
	 * /etc/resolv.conf is a regular file (e.g. the proxy's DNS stub). At
	 * most 1 KiB. */
	const char *resolv_conf;
};

/* What failed, for the report to the supervisor. */
struct rootfs_error {
	const char *what;
	char path[256];
	char detail[160];
};

/* Build the view and pivot into it. Must run as the init of new user, mount
 * and pid namespaces, with CAP_SYS_ADMIN there. On failure returns -errno and
 * fills *err; the namespace is then unusable and the caller exits. */
int rootfs_build(const struct rootfs_spec *spec, struct rootfs_error *err);

#endif
