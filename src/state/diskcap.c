#include "util/common.h"

#include "state/diskcap.h"
#include "util/fs.h"

#include <dirent.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <linux/magic.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#ifndef EXT4_IOC_RESIZE_FS
#define EXT4_IOC_RESIZE_FS _IOW('f', 16, __u64)
#endif

#define IMAGE_NEW   DISKCAP_IMAGE ".new"
#define IMAGE_BLOCK 4096
#define LOOP_MAJOR  7

/* statfs of dir, or of its nearest existing ancestor (a state dir is made
 * with its first box). */
static int statfs_up(const char *dir, struct statfs *f)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s", dir);
	for (;;) {
		if (statfs(p, f) == 0)
			return 0;
		char *slash = strrchr(p, '/');
		if (errno != ENOENT || !slash)
			return -errno;
		if (slash == p)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
}

uint64_t diskcap_default(const char *dir)
{
	struct statfs f;
	uint64_t cap = DISKCAP_DEFAULT;
	if (statfs_up(dir, &f) == 0) {
		uint64_t half = (uint64_t)f.f_bfree * (uint64_t)f.f_bsize / 2;
		if (half < cap)
			cap = half;
	}
	if (cap < DISKCAP_MIN)
		cap = DISKCAP_MIN;
	return cap & ~(uint64_t)(IMAGE_BLOCK - 1);
}

int diskcap_check(const char *dir, uint64_t bytes, uint64_t *ret_fs_size)
{
	struct statfs f;
	if (bytes < DISKCAP_MIN)
		return -ERANGE;
	if (bytes > DISKCAP_MAX)
		return -EFBIG;
	int r = statfs_up(dir, &f);
	if (r < 0)
		return r;
	uint64_t size = (uint64_t)f.f_blocks * (uint64_t)f.f_bsize;
	if (bytes > size) {
		if (ret_fs_size)
			*ret_fs_size = size;
		return -EFBIG;
	}
	return 0;
}

/* Run tool (an absolute path) with argv, the image as its fd 3, its output
 * discarded. 0 when it exited 0, -ENOEXEC when it could not run or failed. */
static int run_tool(char *const argv[], int image)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st, r;
	if (posix_spawn_file_actions_init(&fa) != 0)
		return -ENOMEM;
	posix_spawn_file_actions_adddup2(&fa, image, 3);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	char *const envp[] = { (char *)"PATH=/usr/sbin:/sbin:/usr/bin:/bin", NULL };
	r = posix_spawn(&pid, argv[0], &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		return -ENOEXEC;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -ENOEXEC;
}

static const char *find_tool(const char *name, char *buf, size_t n)
{
	static const char *const dirs[] = { "/usr/sbin", "/sbin", "/usr/bin", "/bin" };
	for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
		snprintf(buf, n, "%s/%s", dirs[i], name);
		if (access(buf, X_OK) == 0)
			return buf;
	}
	return NULL;
}

/* Format the image (fd) as ext4: 4 KiB blocks, a journal (its replay
 * makes a crash of the host need no fsck), inode tables discarded rather
 * than written (a punched hole reads as zeros, so ext4 needs no lazy
 * zeroing that would allocate them on the host), and no blocks reserved for
 * root (a box's root is uid 0: it would get them). */
static int format(int image, uint64_t bytes)
{
	char mke2fs[64], blocks[32];
	if (!find_tool("mke2fs", mke2fs, sizeof(mke2fs)))
		return -ENOEXEC;
	snprintf(blocks, sizeof(blocks), "%llu", (unsigned long long)(bytes / IMAGE_BLOCK));
	char *const argv[] = { mke2fs,
			       (char *)"-q",
			       (char *)"-F",
			       (char *)"-t",
			       (char *)"ext4",
			       (char *)"-b",
			       (char *)"4096",
			       (char *)"-m",
			       (char *)"0",
			       (char *)"-L",
			       (char *)"clawbox",
			       (char *)"-E",
			       (char *)"lazy_journal_init=1,root_owner=0:0",
			       (char *)"/proc/self/fd/3",
			       blocks,
			       NULL };
	return run_tool(argv, image);
}

int diskcap_create(int box, uint64_t bytes)
{
	if (bytes < DISKCAP_MIN || bytes > DISKCAP_MAX)
		return -ERANGE;
	bytes &= ~(uint64_t)(IMAGE_BLOCK - 1);
	(void)unlinkat(box, IMAGE_NEW, 0);
	_cleanup_close_ int fd =
	    openat(box, IMAGE_NEW, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	struct stat st = { 0 };
	int r = ftruncate(fd, (off_t)bytes) < 0 || fstat(fd, &st) < 0 ? -errno : 0;
	/* Without sparse files the image would take the whole cap at once. */
	if (r == 0 && (uint64_t)st.st_blocks * 512 > bytes / 2)
		r = -EOPNOTSUPP;
	if (r == 0)
		r = format(fd, bytes);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && mkdirat(box, DISKCAP_MOUNT, 0700) < 0 && errno != EEXIST)
		r = -errno;
	if (r == 0 && renameat2(box, IMAGE_NEW, box, DISKCAP_IMAGE, RENAME_NOREPLACE) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlinkat(box, IMAGE_NEW, 0);
		(void)unlinkat(box, DISKCAP_MOUNT, AT_REMOVEDIR);
		return r;
	}
	return fsync(box) < 0 ? -errno : 0;
}

bool diskcap_has_image(int box)
{
	struct stat st;
	return fstatat(box, DISKCAP_IMAGE, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

/* Is the dir fd the root of a mounted ext4? */
static bool is_mounted(int dir)
{
	struct statx stx;
	struct statfs f;
	return statx(dir, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx) == 0 &&
	       (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	       (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) && fstatfs(dir, &f) == 0 &&
	       f.f_type == EXT4_SUPER_MAGIC;
}

/* A free loop device backed by image, with autoclear: an fd of it. */
static int loop_attach(int image)
{
	_cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return -errno;
	for (int tries = 0; tries < 16; tries++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0)
			return -errno;
		char dev[32];
		snprintf(dev, sizeof(dev), "/dev/loop%d", n);
		_cleanup_close_ int fd = open(dev, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		struct loop_config cfg = { .fd = (__u32)image,
					   .info = { .lo_flags = LO_FLAGS_AUTOCLEAR } };
		snprintf((char *)cfg.info.lo_file_name, sizeof(cfg.info.lo_file_name), "clawbox");
		if (ioctl(fd, LOOP_CONFIGURE, &cfg) == 0)
			return TAKE_FD(fd);
		if (errno != EBUSY) /* taken by someone else meanwhile: the next one */
			return -errno;
	}
	return -EBUSY;
}

/* Is the loop device fd backed by image? */
static bool loop_backs(int loop, int image)
{
	struct loop_info64 li;
	struct stat st;
	return ioctl(loop, LOOP_GET_STATUS64, &li) == 0 && fstat(image, &st) == 0 &&
	       li.lo_inode == st.st_ino && li.lo_device == st.st_dev;
}

/* A loop device already backed by image, or -ENOENT. Its filesystem may
 * still be alive (unmounted here, but a clone of its mount in a running
 * box's namespace): mounting the image through a second device would give
 * one filesystem two superblocks; mounting this one again gives the same. */
static int loop_find(int image)
{
	DIR *d = opendir("/sys/block");
	struct dirent *de;
	int found = -ENOENT;
	if (!d)
		return -errno;
	while (found < 0 && (de = readdir(d))) {
		char dev[300];
		if (strncmp(de->d_name, "loop", 4) != 0)
			continue;
		snprintf(dev, sizeof(dev), "/dev/%s", de->d_name);
		_cleanup_close_ int fd = open(dev, O_RDWR | O_CLOEXEC);
		if (fd >= 0 && loop_backs(fd, image))
			found = TAKE_FD(fd);
	}
	closedir(d);
	return found;
}

static int mount_image(int image, int dir)
{
	_cleanup_close_ int loop = loop_find(image);
	if (loop < 0)
		loop = loop_attach(image);
	if (loop < 0)
		return loop;
	struct stat lst;
	char src[32];
	if (fstat(loop, &lst) < 0)
		return -errno;
	snprintf(src, sizeof(src), "/dev/loop%u", minor(lst.st_rdev));
	_cleanup_close_ int fs = fsopen("ext4", FSOPEN_CLOEXEC);
	if (fs < 0)
		return -errno;
	/* No online discard (each journal commit would punch the image, a box's
	 * end among them): diskcap_trim() gives the space back in bulk. */
	if (fsconfig(fs, FSCONFIG_SET_STRING, "source", src, 0) < 0 ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return -errno;
	_cleanup_close_ int m =
	    fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOATIME);
	if (m < 0)
		return -errno;
	if (move_mount(m, "", dir, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return -errno;
	return 1;
}

int diskcap_ensure(int box)
{
	_cleanup_close_ int dir =
	    openat(box, DISKCAP_MOUNT, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0)
		return -errno;
	if (is_mounted(dir))
		return 0;
	/* Two clawbox processes (a run and a status after a reboot) must not
	 * both attach a loop device: one filesystem, two superblocks. The
	 * image's flock serializes them, taken on an open file of its own (the
	 * loop device keeps the one it is given, and a lock with it); the
	 * mount point is opened again under it (an fd opened before a mount
	 * keeps naming the dir beneath). */
	_cleanup_close_ int lock = openat(box, DISKCAP_IMAGE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (lock < 0 || flock(lock, LOCK_EX) < 0)
		return -errno;
	_cleanup_close_ int image = openat(box, DISKCAP_IMAGE, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (image < 0 || fstat(image, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	close(dir);
	dir = openat(box, DISKCAP_MOUNT, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0)
		return -errno;
	return is_mounted(dir) ? 0 : mount_image(image, dir);
}

int diskcap_unmount(int box)
{
	_cleanup_close_ int dir =
	    openat(box, DISKCAP_MOUNT, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!is_mounted(dir))
		return 0;
	char path[32];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", dir);
	return umount2(path, MNT_DETACH) < 0 ? -errno : 0;
}

/* The box's mount point, opened: -ENOTCONN when the image is not mounted
 * there. */
static int open_mounted(int box)
{
	_cleanup_close_ int dir =
	    openat(box, DISKCAP_MOUNT, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0)
		return -errno;
	if (!is_mounted(dir))
		return -ENOTCONN;
	return TAKE_FD(dir);
}

int diskcap_usage(int box, struct diskcap_usage *ret)
{
	struct stat st;
	struct statfs f;
	_cleanup_close_ int dir = open_mounted(box);
	if (dir < 0)
		return dir;
	if (fstatfs(dir, &f) < 0 || fstatat(box, DISKCAP_IMAGE, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	*ret = (struct diskcap_usage){
		.cap = (uint64_t)st.st_size,
		.used = ((uint64_t)f.f_blocks - (uint64_t)f.f_bfree) * (uint64_t)f.f_bsize,
		.avail = (uint64_t)f.f_bavail * (uint64_t)f.f_bsize,
		.host = (uint64_t)st.st_blocks * 512,
	};
	return 0;
}

int diskcap_unjam(int box)
{
	struct statfs f;
	_cleanup_close_ int data =
	    openat(box, DISKCAP_MOUNT, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (data < 0 || fstatfs(data, &f) < 0)
		return -errno;
	if ((uint64_t)f.f_bavail * (uint64_t)f.f_bsize >= (1ULL << 20))
		return 0;
	_cleanup_close_ int work =
	    openat(data, "work", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (work < 0)
		return -errno;
	int r = fs_remove_tree_at(work, "work");
	_cleanup_close_ int trash =
	    openat(data, "trash", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (trash >= 0)
		(void)fs_clear_dir(trash);
	return r == -ENOENT ? 0 : r;
}

int diskcap_trim(int box, const struct diskcap_usage *u)
{
	uint64_t slack = u->cap / 10 > (64ULL << 20) ? u->cap / 10 : (64ULL << 20);
	if (u->host <= u->used + slack)
		return 0;
	_cleanup_close_ int dir = open_mounted(box);
	if (dir < 0)
		return dir;
	/* Blocks freed in the running transaction are trimmed only once it
	 * is committed. */
	struct fstrim_range range = { .start = 0, .len = UINT64_MAX, .minlen = 0 };
	return syncfs(dir) < 0 || ioctl(dir, FITRIM, &range) < 0 ? -errno : 1;
}

bool diskcap_full(const struct diskcap_usage *u)
{
	return u->avail < (1ULL << 20) || u->avail < u->cap / 100;
}

/* Wait (at most 10 s: the kernel may still be tearing down the last run's
 * box, whose overlay holds the image's filesystem) until no loop device is
 * backed by image: true when none is. */
static bool loop_gone(int image)
{
	for (int i = 0; i < 1000; i++) {
		_cleanup_close_ int fd = loop_find(image);
		if (fd < 0)
			return true;
		usleep(10000);
	}
	return false;
}

/* Grow an unmounted image's ext4 to its file's size: e2fsck -f -p, then
 * resize2fs. Only once no loop device is backed by it any more (a box that
 * runs may hold a clone of its mount: -EBUSY then). */
static int grow_offline(int box, int image)
{
	char e2fsck[64], resize2fs[64];
	int r = diskcap_unmount(box);
	if (r < 0)
		return r;
	if (!loop_gone(image))
		return -EBUSY;
	if (!find_tool("e2fsck", e2fsck, sizeof(e2fsck)) ||
	    !find_tool("resize2fs", resize2fs, sizeof(resize2fs)))
		return -ENOEXEC;
	char *const fsck[] = { e2fsck, (char *)"-f", (char *)"-p", (char *)"/proc/self/fd/3",
			       NULL };
	char *const resize[] = { resize2fs, (char *)"/proc/self/fd/3", NULL };
	if ((r = run_tool(fsck, image)) < 0 || (r = run_tool(resize, image)) < 0)
		return r;
	return 0;
}

/* Grow the mounted image's file and its ext4 to bytes while mounted: 0, or
 * -EPERM when the kernel does not let us resize online. The mount point and
 * the loop device are closed on return: the offline way needs them gone. */
static int grow_online(int box, int image, uint64_t bytes)
{
	struct statx stx;
	_cleanup_close_ int dir =
	    openat(box, DISKCAP_MOUNT, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0)
		return -errno;
	if (!is_mounted(dir) || statx(dir, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx) < 0 ||
	    stx.stx_dev_major != LOOP_MAJOR)
		return -ENOTCONN;
	char dev[32];
	snprintf(dev, sizeof(dev), "/dev/loop%u", stx.stx_dev_minor);
	_cleanup_close_ int loop = open(dev, O_RDONLY | O_CLOEXEC);
	/* The loop device must be backed by this very image. */
	int r = loop < 0 ? -errno : loop_backs(loop, image) ? 0 : -ENODEV;
	__u64 blocks = bytes / IMAGE_BLOCK;
	if (r == 0 && (ftruncate(image, (off_t)bytes) < 0 || ioctl(loop, LOOP_SET_CAPACITY, 0) < 0))
		r = -errno;
	/* Online, where the kernel lets us (CAP_SYS_RESOURCE). */
	if (r == 0 && ioctl(dir, EXT4_IOC_RESIZE_FS, &blocks) < 0)
		r = -errno;
	return r;
}

int diskcap_grow(int box, uint64_t bytes)
{
	bytes &= ~(uint64_t)(IMAGE_BLOCK - 1);
	if (bytes > DISKCAP_MAX)
		return -EFBIG;
	_cleanup_close_ int image = openat(box, DISKCAP_IMAGE, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (image < 0)
		return -errno;
	struct stat st;
	if (fstat(image, &st) < 0)
		return -errno;
	if (bytes < (uint64_t)st.st_size)
		return -EINVAL;
	if (bytes == (uint64_t)st.st_size)
		return 0;
	/* Online; else offline, unmounted, which the box's lock allows. */
	int r = grow_online(box, image, bytes);
	if (r != -EPERM)
		return r;
	r = grow_offline(box, image);
	int m = diskcap_ensure(box);
	return r < 0 ? r : m < 0 ? m : 0;
}
