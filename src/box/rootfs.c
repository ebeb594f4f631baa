#include "util/common.h"
#include "util/trace.h"

#include "box/rootfs.h"
#include "util/fs.h"

#include <dirent.h>
#include <sys/mount.h>
#include <sys/syscall.h>

#define MAX_TOP 128
#define MAX_RO  256

struct top_entry {
	char name[NAME_MAX + 1];
	mode_t type; /* S_IFDIR, S_IFREG or S_IFLNK */
	int fd;      /* detached clone for dirs and files */
	/* For symlinks. Allocated: a PATH_MAX array in each entry made every
	 * entry a page of its own to fault in. */
	char *target;
};

/* Everything built while the host tree is still visible. */
struct host_parts {
	int workspace; /* detached overlay (or rw clone of the project) */
	int home;      /* detached clone of the box home */
	int base;      /* the detached base tmpfs (make_base) */
	int scratch;   /* its read-only mask templates (make_scratch) */
	int config;    /* detached read-only clone of the --config dir, or -1 */
	int bundle;    /* detached read-only clone of the CA bundle, or -1 */

	/* The detached extra mounts (--mount), or -1. */
	int extra[ROOTFS_MOUNTS_MAX];
	int devnodes[6];
	struct top_entry *top;
	size_t ntop;
};

static const char *const dev_nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };

/* Mount points to make read-only once everything is attached. */
struct ro_list {
	char *paths[MAX_RO];
	size_t n;
};

/* The step what on path (NULL: none) failed with errno: fill *err.
 * Returns -errno (-EIO when errno is 0). */
static int fail(struct error *err, const char *what, const char *path)
{
	int r = errno ? -errno : -EIO;
	if (path && path[0])
		return error_errno(err, r, "%s '%s'", what, path);
	return error_errno(err, r, "%s", what);
}

/* As fail(), for a step of the filesystem context fsfd: the kernel's
 * messages about it ("e overlayfs: ...") follow in *err's message. */
static int fail_fs(int fsfd, struct error *err, const char *what, const char *path)
{
	int r = fail(err, what, path);
	char buf[256];
	bool first = true;

	while (err) {
		size_t off = strlen(err->message);
		ssize_t n = read(fsfd, buf, sizeof(buf) - 1);
		if (n <= 0)
			break;
		buf[n] = '\0';
		int w = snprintf(err->message + off, sizeof(err->message) - off, "%s%s",
				 first ? " — " : "; ", buf);
		if (w < 0 || (size_t)w >= sizeof(err->message) - off)
			break;
		first = false;
	}
	return r;
}

static int set_attr(int fd, const char *path, unsigned flags, uint64_t attr)
{
	struct mount_attr a = { .attr_set = attr };
	return mount_setattr(fd, path, flags, &a, sizeof(a));
}

#ifndef SYS_open_tree_attr
#define SYS_open_tree_attr 467 /* Linux 6.15; one number on every arch */
#endif

/* A detached clone of path under dirfd (recursive: its submounts too) with
 * the mount attributes attr set on every mount of it: open_tree_attr(), one
 * call, or on kernels without it open_tree() and mount_setattr(). Returns
 * the fd or -1 with errno. */
static int clone_tree(int dirfd, const char *path, bool recursive, uint64_t attr)
{
	static bool no_attr_call;
	unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0);
	struct mount_attr a = { .attr_set = attr };
	if (!no_attr_call) {
		int fd = (int)syscall(SYS_open_tree_attr, dirfd, path, flags, &a, sizeof(a));
		if (fd >= 0 || errno != ENOSYS)
			return fd;
		no_attr_call = true;
	}
	_cleanup_close_ int fd = open_tree(dirfd, path, flags);
	if (fd < 0)
		return -1;
	if (mount_setattr(fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &a, sizeof(a)) <
	    0)
		return -1; /* errno kept by the cleanup */
	return TAKE_FD(fd);
}

/* An O_PATH fd of the dir path. */
static int open_dir(const char *path, struct error *err)
{
	int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return fail(err, "open the overlay layer", path);
	return fd;
}

int rootfs_layers_open(const struct rootfs_spec *s, struct rootfs_layers *ret, struct error *err)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(s->upper, '/');
	*ret = (struct rootfs_layers){ .lower = -1, .box = -1 };
	/* upper and work must be on one mount: siblings in one clone. */
	if (!slash || slash == s->upper || (size_t)(slash - s->upper) >= sizeof(dir) ||
	    strncmp(s->upper, s->work, (size_t)(slash - s->upper + 1)) != 0 ||
	    strchr(s->work + (slash - s->upper + 1), '/')) {
		errno = EINVAL;
		return fail(err, "use the box's upper and work dirs", s->upper);
	}
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - s->upper), s->upper);
	snprintf(ret->upper, sizeof(ret->upper), "%s", slash + 1);
	snprintf(ret->work, sizeof(ret->work), "%s", s->work + (slash - s->upper + 1));
	if ((ret->lower = open_dir(s->project, err)) < 0 || (ret->box = open_dir(dir, err)) < 0) {
		int r = ret->lower < 0 ? ret->lower : ret->box;
		rootfs_layers_close(ret);
		return r;
	}
	return 0;
}

void rootfs_layers_close(struct rootfs_layers *l)
{
	if (l->lower >= 0)
		close(l->lower);
	if (l->box >= 0)
		close(l->box);
	l->lower = l->box = -1;
}

/* The layers go by /proc/self/fd/N[/NAME]: reached through our own fds,
 * so the root we have at that moment does not change what they are. */
static int fsconfig_fd(int fs, const char *key, int fd, const char *name)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "/proc/self/fd/%d%s%s", fd, name ? "/" : "", name ? name : "");
	return fsconfig(fs, FSCONFIG_SET_STRING, key, path, 0);
}

#define TRASH     "trash"
#define TRASH_MAX 16

/* Move the last run's WORK/work into the trash, as trash/work.N. */
static void set_aside_work(const struct rootfs_layers *l)
{
	char from[NAME_MAX + 8], to[32];
	snprintf(from, sizeof(from), "%s/work", l->work);
	if (mkdirat(l->box, TRASH, 0700) < 0 && errno != EEXIST)
		return;
	for (int i = 0; i < TRASH_MAX; i++) {
		snprintf(to, sizeof(to), TRASH "/work.%d", i);
		if (renameat2(l->box, from, l->box, to, RENAME_NOREPLACE) == 0 || errno != EEXIST)
			return;
	}
}

int rootfs_trash_empty(int box)
{
	_cleanup_close_ int fd =
	    openat(box, TRASH, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	return fs_clear_dir(fd);
}

/* An overlay of lower (its host path what, for messages) with the dirs
 * upper and work beneath box, detached (nosuid, nodev): its fd. */
static int overlay_make(int lower, int box, const char *upper, const char *work, const char *what,
			struct error *err)
{
	_cleanup_close_ int fs = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fs < 0)
		return fail(err, "open the overlay filesystem", NULL);
	if (fsconfig_fd(fs, "lowerdir+", lower, NULL) < 0)
		return fail_fs(fs, err, "use as the overlay's lower layer", what);
	if (fsconfig_fd(fs, "upperdir", box, upper) < 0 ||
	    fsconfig_fd(fs, "workdir", box, work) < 0)
		return fail_fs(fs, err, "use the box's upper and work dirs for", what);
	/* We always run in a user namespace: overlay metadata lives in user.*
	 * xattrs, and without trusted.* xattrs redirects and metacopy are off,
	 * so the upper dir holds whole files only (the sync gate relies on it). */
	if (fsconfig(fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_STRING, "index", "off", 0) < 0 ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return fail_fs(fs, err, "create the overlay of", what);
	int m = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
	if (m < 0)
		return fail_fs(fs, err, "mount the overlay of", what);
	return m;
}

int rootfs_overlay_mount(const struct rootfs_spec *s, const struct rootfs_layers *l,
			 struct error *err)
{
	set_aside_work(l);
	return overlay_make(l->lower, l->box, l->upper, l->work, s->project, err);
}

/* yolo-unsafe: the project itself, read-write. */
static int bind_project(const struct rootfs_spec *s, struct error *err)
{
	int fd = clone_tree(AT_FDCWD, s->project, true, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
	return fd < 0 ? fail(err, "bind the project read-write", s->project) : fd;
}

static int write_resolv_conf(int dirfd, const char *text)
{
	size_t n = strlen(text);
	if (n > 1024)
		return -E2BIG;
	_cleanup_close_ int fd =
	    openat(dirfd, "scratch/resolv.conf", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	if (fd < 0)
		return -errno;
	return write(fd, text, n) == (ssize_t)n ? 0 : -EIO;
}

/* The box's one tmpfs (--tmp-size), detached: "root" becomes the box's /
 * (its mount points, /dev's symlinks), "tmp" and "shm" its /tmp and
 * /dev/shm, and "scratch" holds "empty" (a file), "dir" (an empty dir) and
 * resolv.conf, of which every mask is a read-only clone. One filesystem for
 * all of it: a mask costs a mount, and the box has fewer superblocks to
 * build and tear down. Each part is shown by a mount of its own dir, so
 * none reaches another ("scratch" is never visible in the box). */
static int make_base(const struct rootfs_spec *s, struct error *err)
{
	char size[32];
	int r;
	snprintf(size, sizeof(size), "%llu", (unsigned long long)s->tmp_size);
	_cleanup_close_ int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
	if (fs < 0 || fsconfig(fs, FSCONFIG_SET_STRING, "size", size, 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0755", 0) < 0 ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return fail(err, "create the box's root tmpfs", NULL);
	_cleanup_close_ int m = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
	if (m < 0)
		return fail(err, "mount the box's root tmpfs", NULL);
	/* mknodat, not open: the empty file with no fd to close. */
	if (mkdirat(m, "root", 0755) < 0 || mkdirat(m, "scratch", 0755) < 0 ||
	    mknodat(m, "scratch/empty", S_IFREG | 0444, 0) < 0 ||
	    mkdirat(m, "scratch/dir", 0755) < 0 || mkdirat(m, "tmp", 01777) < 0 ||
	    fchmodat(m, "tmp", 01777, 0) < 0 || mkdirat(m, "shm", 01777) < 0 ||
	    fchmodat(m, "shm", 01777, 0) < 0)
		return fail(err, "create the empty mask file and dir", NULL);
	if (s->resolv_conf && (r = write_resolv_conf(m, s->resolv_conf)) < 0) {
		errno = -r;
		return fail(err, "write the box's resolv.conf", NULL);
	}
	return TAKE_FD(m);
}

/* base's "scratch", as a detached read-only, noexec clone: every mask is
 * a clone of an entry of it, and inherits those flags. */
static int make_scratch(int base, struct error *err)
{
	int fd = clone_tree(base, "scratch", false, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOEXEC);
	return fd < 0 ? fail(err, "clone the mask templates", NULL) : fd;
}

/* A clone of scratch's NAME, to mount over a hidden path. */
static int scratch_clone(int scratch, const char *name)
{
	int fd = open_tree(scratch, name, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Clone every top-level entry of the host's / except the ones the box gets
 * fresh (/proc, /dev, /tmp), read-only, nosuid, nodev. */
static bool masked(const struct rootfs_spec *s, const char *path)
{
	for (size_t i = 0; i < s->nmasks; i++)
		if (STREQ(s->masks[i], path))
			return true;
	return false;
}

static void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

static int clone_host_top(const struct rootfs_spec *s, struct host_parts *h, struct error *err)
{
	_cleanup_(closedirp) DIR *d = opendir("/");
	if (!d)
		return fail(err, "read the host's root directory", "/");
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		char path[PATH_MAX];
		struct stat st;
		if (STREQ(n, ".") || STREQ(n, "..") || STREQ(n, "proc") || STREQ(n, "dev") ||
		    STREQ(n, "tmp"))
			continue;
		if (h->ntop == MAX_TOP)
			break;
		snprintf(path, sizeof(path), "/%s", n);
		if (lstat(path, &st) < 0)
			continue;
		struct top_entry *e = &h->top[h->ntop];
		snprintf(e->name, sizeof(e->name), "%s", n);
		e->fd = -1;
		e->target = NULL;
		if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t k = readlink(path, target, sizeof(target) - 1);
			if (k < 0)
				continue;
			if (!(e->target = strndup(target, (size_t)k))) {
				errno = ENOMEM;
				return fail(err, "read the host's symlink", path);
			}
			e->type = S_IFLNK;
		} else if (S_ISDIR(st.st_mode) && masked(s, path)) {
			/* Hidden whole (/root, /home, /run): nothing to clone, the
			 * mask goes on an empty mount point. */
			e->type = S_IFDIR;
		} else if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) {
			e->type = st.st_mode & S_IFMT;
			e->fd =
			    clone_tree(AT_FDCWD, path, true,
				       MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
			if (e->fd < 0)
				return fail(err, "clone the host directory read-only", path);
		} else {
			continue;
		}
		h->ntop++;
	}
	return 0;
}

static int clone_dev_nodes(struct host_parts *h, struct error *err)
{
	for (size_t i = 0; i < ELEMENTSOF(dev_nodes); i++) {
		char path[64];
		snprintf(path, sizeof(path), "/dev/%s", dev_nodes[i]);
		h->devnodes[i] =
		    clone_tree(AT_FDCWD, path, false, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
		if (h->devnodes[i] < 0)
			return fail(err, "clone the device node", path);
	}
	return 0;
}

/* Attach base's "root" at "/tmp" of the host view, put a /proc for the new
 * pid namespace in it (proc must be mounted while a full /proc is still
 * visible), and pivot into it. The host's root is left at ROOTFS_OLD_ROOT
 * for detach_old_root(). */
static int pivot_to_base(int base, struct error *err)
{
	_cleanup_close_ int fd = open_tree(base, "root", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (fd < 0 || move_mount(fd, "", AT_FDCWD, "/tmp", MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return fail(err, "attach the box's root tmpfs", "/");
	if (mkdir("/tmp/proc", 0555) < 0 || mkdir("/tmp" ROOTFS_OLD_ROOT, 0700) < 0)
		return fail(err, "create", "/proc");
	if (mount("proc", "/tmp/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return fail(err, "mount the box's /proc", "/proc");
	if (chdir("/tmp") < 0)
		return fail(err, "enter the box's root", "/");
	if (syscall(SYS_pivot_root, ".", "." ROOTFS_OLD_ROOT) < 0)
		return fail(err, "pivot_root into the box's root", "/");
	if (chdir("/") < 0)
		return fail(err, "enter the box's root", "/");
	return 0;
}

int rootfs_detach_old_root(void)
{
	return umount2(ROOTFS_OLD_ROOT, MNT_DETACH) < 0 ? -errno : 0;
}

/* The host's old root must be gone before the view is done. */
static int old_root_gone(const struct rootfs_spec *s, struct error *err)
{
	int r = s->old_root ? s->old_root(s->hook_ctx, false) : rootfs_detach_old_root();
	if (r < 0) {
		errno = -r;
		return fail(err, "detach the host's root", ROOTFS_OLD_ROOT);
	}
	if (rmdir(ROOTFS_OLD_ROOT) < 0)
		return fail(err, "remove", ROOTFS_OLD_ROOT);
	return 0;
}

static int attach(int fd, const char *path, struct error *err)
{
	if (move_mount(fd, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return fail(err, "attach a mount at", path);
	return 0;
}

/* Create an empty file (or keep an existing one) to mount a file over.
 * mknod, not open: no file to set up and tear down (a third cheaper). */
static int touch(const char *path, struct error *err)
{
	struct stat st;
	if (mknod(path, S_IFREG | 0444, 0) == 0 ||
	    (errno == EEXIST && lstat(path, &st) == 0 && S_ISREG(st.st_mode)))
		return 0;
	return fail(err, "create the mount point", path);
}

static int populate_top(struct host_parts *h, struct error *err)
{
	for (size_t i = 0; i < h->ntop; i++) {
		struct top_entry *e = &h->top[i];
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "/%s", e->name);
		int r = 0;
		if (e->type == S_IFLNK) {
			if (symlink(e->target, path) < 0)
				r = fail(err, "create the symlink", path);
			free(e->target);
			e->target = NULL;
		} else if (e->type == S_IFDIR) {
			if (mkdir(path, 0755) < 0)
				r = fail(err, "create the mount point", path);
			else if (e->fd >= 0)
				r = attach(e->fd, path, err);
		} else {
			r = touch(path, err);
			if (r == 0)
				r = attach(e->fd, path, err);
		}
		/* Attached: the fd would only be a way back to the host's tree. */
		if (e->fd >= 0)
			close(e->fd);
		e->fd = -1;
		if (r < 0)
			return r;
	}
	return 0;
}

static void ro_list_free(struct ro_list *ro)
{
	for (size_t i = 0; i < ro->n; i++)
		free(ro->paths[i]);
	ro->n = 0;
}

static int ro_add(struct ro_list *ro, const char *path)
{
	if (ro->n == MAX_RO)
		return -E2BIG;
	ro->paths[ro->n] = strdup(path);
	if (!ro->paths[ro->n])
		return -ENOMEM;
	ro->n++;
	return 0;
}

static int build_dev(struct host_parts *h, struct error *err)
{
	static const char *const links[][2] = {
		{ "/proc/self/fd", "/dev/fd" },       { "/proc/self/fd/0", "/dev/stdin" },
		{ "/proc/self/fd/1", "/dev/stdout" }, { "/proc/self/fd/2", "/dev/stderr" },
		{ "pts/ptmx", "/dev/ptmx" },
	};
	/* A dir of the box's root: read-only with it. */
	if (mkdir("/dev", 0755) < 0)
		return fail(err, "create", "/dev");
	for (size_t i = 0; i < ELEMENTSOF(dev_nodes); i++) {
		char path[64];
		snprintf(path, sizeof(path), "/dev/%s", dev_nodes[i]);
		int r = touch(path, err);
		if (r < 0 || (r = attach(h->devnodes[i], path, err)) < 0)
			return r;
		close(h->devnodes[i]);
		h->devnodes[i] = -1;
	}
	for (size_t i = 0; i < ELEMENTSOF(links); i++)
		if (symlink(links[i][0], links[i][1]) < 0)
			return fail(err, "create the symlink", links[i][1]);
	if (mkdir("/dev/pts", 0755) < 0 || mkdir("/dev/shm", 01777) < 0)
		return fail(err, "create", "/dev/pts");
	if (mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		  "newinstance,ptmxmode=0666,mode=0620") < 0)
		return fail(err, "mount a private devpts on", "/dev/pts");
	return 0;
}

/* /tmp and /dev/shm: base's "tmp" and "shm", so --tmp-size caps them
 * together (the rest of base is a few empty files and dirs). */
static int mount_tmp(int base, struct error *err)
{
	static const char *const dirs[][2] = { { "tmp", "/tmp" }, { "shm", "/dev/shm" } };
	if (mkdir("/tmp", 01777) < 0)
		return fail(err, "create", "/tmp");
	for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
		_cleanup_close_ int fd =
		    open_tree(base, dirs[i][0], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (fd < 0)
			return fail(err, "clone the private tmpfs for", dirs[i][1]);
		int r = attach(fd, dirs[i][1], err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* /proc of the box's pid namespace, with the knobs that reach the host
 * (sysctls, sysrq, irq affinity, bus) bound read-only over themselves. */
static int protect_proc(struct error *err)
{
	static const char *const ro_paths[] = { "/proc/sys", "/proc/sysrq-trigger", "/proc/irq",
						"/proc/bus" };
	for (size_t i = 0; i < ELEMENTSOF(ro_paths); i++) {
		const char *p = ro_paths[i];
		if (access(p, F_OK) < 0)
			continue;
		_cleanup_close_ int fd = clone_tree(AT_FDCWD, p, true,
						    MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
							MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
		if (fd < 0)
			return fail(err, "clone read-only", p);
		int r = attach(fd, p, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int rootfs_proc_remount(struct error *err)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return fail(err, "make private the mounts of", "/");
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return fail(err, "mount the box's /proc", "/proc");
	return protect_proc(err);
}

/* Cover the dir path with an empty dir of its own in base, to hold mount
 * points, read-only once they are there. */
static int hold(const struct host_parts *h, const char *path, struct ro_list *ro, struct error *err)
{
	static unsigned holders;
	char name[32];
	snprintf(name, sizeof(name), "hold%u", holders++);
	if (mkdirat(h->base, name, 0755) < 0)
		return fail(err, "mask", path);
	_cleanup_close_ int fd = clone_tree(
	    h->base, name, false, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
	if (fd < 0)
		return fail(err, "mask", path);
	int r = attach(fd, path, err);
	if (r < 0)
		return r;
	if ((r = ro_add(ro, path)) < 0)
		return error_errno(err, r, "mask '%s'", path);
	return 0;
}

/* Hide one path: an empty read-only dir over a directory, the empty file
 * over anything else (clones from the scratch tmpfs). A masked dir that must
 * hold a mount point (the project, the box home) gets a tmpfs of its own,
 * made read-only at the end. Paths that do not exist in the view are
 * skipped. */
static int mask_one(const struct rootfs_spec *s, const char *path, const struct host_parts *h,
		    struct ro_list *ro, struct error *err)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return 0;
	if (S_ISLNK(st.st_mode))
		return 0; /* masks are canonical paths; a symlink here is the view's own */
	bool dir = S_ISDIR(st.st_mode);
	_cleanup_close_ int fd = -1;
	if (dir && (path_is_beneath(s->project, path) || path_is_beneath(ROOTFS_HOME, path)))
		return hold(h, path, ro, err);
	if ((fd = scratch_clone(h->scratch, dir ? "dir" : "empty")) < 0) {
		errno = -fd;
		return fail(err, "clone the empty mask file for", path);
	}
	return attach(fd, path, err);
}

static int mask_all(const struct rootfs_spec *s, const struct host_parts *h, bool inside_project,
		    struct ro_list *ro, struct error *err)
{
	for (size_t i = 0; i < s->nmasks; i++) {
		const char *m = s->masks[i];
		bool inside = path_is_beneath(m, s->project);
		if (inside != inside_project)
			continue;
		int r = mask_one(s, m, h, ro, err);
		if (r < 0)
			return r;
		if (inside && !STREQ(s->project, ROOTFS_WORKSPACE)) {
			char alt[PATH_MAX];
			const char *rel = m + strlen(s->project);
			if (snprintf(alt, sizeof(alt), "%s%s", ROOTFS_WORKSPACE, rel) >=
			    (int)sizeof(alt))
				continue;
			if ((r = mask_one(s, alt, h, ro, err)) < 0)
				return r;
		}
	}
	return 0;
}

static int mount_workspace(const struct rootfs_spec *s, struct host_parts *h, struct error *err)
{
	int r;
	if ((r = fs_mkdir_p(ROOTFS_WORKSPACE, 0755)) < 0) {
		errno = -r;
		return fail(err, "create", ROOTFS_WORKSPACE);
	}
	if (!s->unsafe && (h->workspace = s->overlay(s->hook_ctx, err)) < 0)
		return h->workspace;
	if ((r = attach(h->workspace, ROOTFS_WORKSPACE, err)) < 0)
		return r;
	if (STREQ(s->project, ROOTFS_WORKSPACE))
		return 0;
	if ((r = fs_mkdir_p(s->project, 0755)) < 0) {
		errno = -r;
		return fail(err, "create the project's mount point", s->project);
	}
	_cleanup_close_ int fd = open_tree(AT_FDCWD, ROOTFS_WORKSPACE,
					   OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (fd < 0)
		return fail(err, "clone the workspace for", s->project);
	return attach(fd, s->project, err);
}

static int mount_home(struct host_parts *h, struct error *err)
{
	int r = fs_mkdir_p(ROOTFS_HOME, 0755);
	if (r < 0) {
		errno = -r;
		return fail(err, "create", ROOTFS_HOME);
	}
	return attach(h->home, ROOTFS_HOME, err);
}

/* The --config dir at its path in the box's home, read-only, with its
 * .env (the secrets) hidden: the agent gets those by environment only. */
static int mount_config(const struct rootfs_spec *s, struct host_parts *h, struct ro_list *ro,
			struct error *err)
{
	char env[PATH_MAX];
	struct stat st;
	int r = fs_mkdir_p(s->config_path, 0755);
	if (r < 0) {
		errno = -r;
		return fail(err, "create the config mount point", s->config_path);
	}
	if ((r = attach(h->config, s->config_path, err)) < 0)
		return r;
	if (path_join(env, sizeof(env), s->config_path, ".env") < 0 || lstat(env, &st) < 0)
		return 0;
	if (S_ISLNK(st.st_mode)) {
		errno = ELOOP;
		return fail(err, "hide the config's .env (a symlink)", env);
	}
	return mask_one(s, env, h, ro, err);
}

/* Make the mount point dst of an extra mount (see struct rootfs_mount). */
static int extra_point(const struct rootfs_spec *s, const char *dst, const struct host_parts *h,
		       struct ro_list *ro, struct error *err)
{
	char up[PATH_MAX], real[PATH_MAX];
	struct stat st;
	int r = fs_mkdir_p(dst, 0755);
	if (r == -EROFS) {
		/* The deepest existing ancestor is read-only: hold it. */
		snprintf(up, sizeof(up), "%s", dst);
		do
			*strrchr(up, '/') = '\0';
		while (up[0] && lstat(up, &st) < 0);
		if (!up[0] || !S_ISDIR(st.st_mode)) {
			errno = ENOTDIR;
			return fail(err, "create the mount point", dst);
		}
		/* Held, a dir shows nothing else: only where that is no loss. */
		if (!STREQ(up, "/mnt") && !STREQ(up, "/media") && !masked(s, up)) {
			errno = EROFS;
			return fail(err,
				    "create the mount point (its parent is the host's, "
				    "read-only: make the dir on the host, or mount beneath /mnt)",
				    dst);
		}
		if ((r = hold(h, up, ro, err)) < 0)
			return r;
		r = fs_mkdir_p(dst, 0755);
	}
	if (r < 0) {
		errno = -r;
		return fail(err, "create the mount point", dst);
	}
	if (!realpath(dst, real) || !STREQ(real, dst)) {
		errno = ELOOP;
		return fail(err, "mount at (a symlink on the way in the box's view)", dst);
	}
	return 0;
}

/* The extra mounts, then the masks beneath their sources beneath them. */
static int mount_extra(const struct rootfs_spec *s, struct host_parts *h, struct ro_list *ro,
		       struct error *err)
{
	int r;
	for (size_t i = 0; i < s->nmounts; i++) {
		if ((r = extra_point(s, s->mounts[i].dst, h, ro, err)) < 0 ||
		    (r = attach(h->extra[i], s->mounts[i].dst, err)) < 0)
			return r;
		close(h->extra[i]);
		h->extra[i] = -1;
	}
	for (size_t i = 0; i < s->nmounts; i++) {
		const struct rootfs_mount *x = &s->mounts[i];
		size_t sl = strlen(x->src);
		for (size_t j = 0; j < s->nmasks; j++) {
			char alt[PATH_MAX];
			const char *m = s->masks[j];
			if (!path_is_beneath(m, x->src) || !m[sl] ||
			    snprintf(alt, sizeof(alt), "%s%s", x->dst, m + sl) >= (int)sizeof(alt))
				continue;
			if ((r = mask_one(s, alt, h, ro, err)) < 0)
				return r;
		}
	}
	return 0;
}

/* Each extra mount as a detached mount, while the host tree is visible. */
static int prepare_extra(const struct rootfs_spec *s, struct host_parts *h, struct error *err)
{
	if (s->nmounts > ROOTFS_MOUNTS_MAX) {
		errno = E2BIG;
		return fail(err, "prepare the extra mounts", NULL);
	}
	for (size_t i = 0; i < s->nmounts; i++) {
		const struct rootfs_mount *x = &s->mounts[i];
		if (!x->overlay) {
			h->extra[i] =
			    clone_tree(AT_FDCWD, x->src, true,
				       MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
			if (h->extra[i] < 0)
				return fail(err, "clone read-only", x->src);
			continue;
		}
		_cleanup_close_ int lower = open_dir(x->src, err);
		_cleanup_close_ int box = lower < 0 ? -1 : open_dir(x->overlay, err);
		if (box < 0)
			return lower < 0 ? lower : box;
		if ((h->extra[i] = overlay_make(lower, box, "upper", "work", x->src, err)) < 0)
			return h->extra[i];
	}
	return 0;
}

static int finish_read_only(struct ro_list *ro, struct error *err)
{
	for (size_t i = 0; i < ro->n; i++)
		if (set_attr(AT_FDCWD, ro->paths[i], 0, MOUNT_ATTR_RDONLY) < 0)
			return fail(err, "make read-only", ro->paths[i]);
	if (set_attr(AT_FDCWD, "/", 0, MOUNT_ATTR_RDONLY) < 0)
		return fail(err, "make the box's root read-only", "/");
	return 0;
}

static int prepare_host(const struct rootfs_spec *s, struct host_parts *h, struct error *err)
{
	int r;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return fail(err, "make the mount namespace private", "/");
	if (s->unsafe && (h->workspace = bind_project(s, err)) < 0)
		return h->workspace;
	h->home = clone_tree(AT_FDCWD, s->home, false, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
	if (h->home < 0)
		return fail(err, "clone the box's home", s->home);
	if ((h->base = make_base(s, err)) < 0)
		return h->base;
	if ((h->scratch = make_scratch(h->base, err)) < 0)
		return h->scratch;
	if (s->config) {
		h->config = clone_tree(AT_FDCWD, s->config, true,
				       MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
		if (h->config < 0)
			return fail(err, "clone the config dir read-only", s->config);
	}
	if (s->ca_bundle) {
		h->bundle = clone_tree(AT_FDCWD, s->ca_bundle, false,
				       MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
					   MOUNT_ATTR_NOEXEC);
		if (h->bundle < 0)
			return fail(err, "clone the box's CA bundle", s->ca_bundle);
	}
	if ((r = clone_dev_nodes(h, err)) < 0 || (r = prepare_extra(s, h, err)) < 0)
		return r;
	return clone_host_top(s, h, err);
}

/* Show the scratch's resolv.conf at /etc/resolv.conf, when that is a
 * regular file of the view (a symlink into the masked /run is left alone:
 * names then do not resolve in the box, which the proxy does not need). */
static int mount_resolv_conf(const struct rootfs_spec *s, int scratch, struct error *err)
{
	struct stat st;
	if (!s->resolv_conf || lstat("/etc/resolv.conf", &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	_cleanup_close_ int fd = scratch_clone(scratch, "resolv.conf");
	if (fd < 0) {
		errno = -fd;
		return fail(err, "clone the box's resolv.conf", NULL);
	}
	return attach(fd, "/etc/resolv.conf", err);
}

/* The CA bundle over the view's own (a regular file, not a link: the
 * view is the host's, unchanged by the box so far). */
static int mount_bundle(int bundle, struct error *err)
{
	struct stat st;
	if (lstat(ROOTFS_CA_BUNDLE, &st) < 0 || !S_ISREG(st.st_mode)) {
		errno = ENOENT;
		return fail(err, "find the CA bundle to show the box's CA in (not a regular file)",
			    ROOTFS_CA_BUNDLE);
	}
	return attach(bundle, ROOTFS_CA_BUNDLE, err);
}

int rootfs_build(const struct rootfs_spec *s, int ret_keep[2], struct error *err)
{
	static struct top_entry top[MAX_TOP];
	struct host_parts h = { .workspace = -1,
				.home = -1,
				.base = -1,
				.scratch = -1,
				.config = -1,
				.bundle = -1,
				.top = top };
	for (size_t i = 0; i < ROOTFS_MOUNTS_MAX; i++)
		h.extra[i] = -1;
	_cleanup_(ro_list_free) struct ro_list ro = { .n = 0 };
	int r;

	error_clear(err);
	if ((r = prepare_host(s, &h, err)) < 0)
		return r;
	trace_point("view.host");
	if ((r = pivot_to_base(h.base, err)) < 0)
		return r;
	if (s->old_root)
		s->old_root(s->hook_ctx, true);
	trace_point("view.pivot");
	if ((r = populate_top(&h, err)) < 0 || (r = build_dev(&h, err)) < 0 ||
	    (r = protect_proc(err)) < 0 || (r = mount_tmp(h.base, err)) < 0)
		return r;
	/* Masks first, so the workspace and home can sit inside a masked dir. */
	if ((r = mask_all(s, &h, false, &ro, err)) < 0 || (r = mount_workspace(s, &h, err)) < 0 ||
	    (r = mount_home(&h, err)) < 0 ||
	    (s->config && (r = mount_config(s, &h, &ro, err)) < 0) ||
	    (r = mount_extra(s, &h, &ro, err)) < 0 || (r = mask_all(s, &h, true, &ro, err)) < 0 ||
	    (r = mount_resolv_conf(s, h.scratch, err)) < 0 ||
	    (h.bundle >= 0 && (r = mount_bundle(h.bundle, err)) < 0))
		return r;
	trace_point("view.mounts");
	/* Nothing of the host stays open in the init (its fds are not for the
	 * box). base and scratch, the box's own and never attached, go to the
	 * caller: closing a detached mount waits for an RCU grace period. */
	close(h.workspace);
	close(h.home);
	if (h.config >= 0)
		close(h.config);
	if (h.bundle >= 0)
		close(h.bundle);
	ret_keep[0] = h.base;
	ret_keep[1] = h.scratch;
	if ((r = old_root_gone(s, err)) < 0)
		return r;
	return finish_read_only(&ro, err);
}
