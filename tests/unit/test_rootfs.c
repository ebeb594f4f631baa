/* box/rootfs.c: the box's view, built for real in namespaces of the test's
 * own (the runner forks per test, so nothing of it outlives the test). */
#include "unit.h"
#include "unit_box.h"

#include "box/rootfs.h"
#include "util/fs.h"

#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>

static void put(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];
	CHECK_INT(path_join(path, sizeof(path), dir, name), 0);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	CHECK_INT(fs_write_all(fd, text, strlen(text)), 0);
}

/* A project with "hello" and ".env", and a box dir (upper, work, home). */
static void make_dirs(struct box_dirs *d)
{
	make_box(d);
	put(d->project, "hello", "hi\n");
	put(d->project, ".env", "TOKEN=x\n");
}

static void write_map(const char *file, const char *map)
{
	_cleanup_close_ int fd = open(file, O_WRONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_INT(fs_write_all(fd, map, strlen(map)), 0);
}

/* New user and mount namespaces, our ids mapped to themselves (a process
 * may map its own ids only, from inside). */
static void enter_namespaces(void)
{
	unsigned uid = (unsigned)geteuid(), gid = (unsigned)getegid();
	char map[64];
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		SKIP("cannot create user and mount namespaces: %s", strerror(errno));
	write_map("/proc/self/setgroups", "deny");
	snprintf(map, sizeof(map), "%u %u 1\n", uid, uid);
	write_map("/proc/self/uid_map", map);
	snprintf(map, sizeof(map), "%u %u 1\n", gid, gid);
	write_map("/proc/self/gid_map", map);
}

/* In a new pid namespace, ASan's leak check at exit() hangs: the code that
 * runs there ends with _exit(), also when a check fails. */
#define NS_CHECK(cond)                                                                           \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			_exit(1);                                                                \
		}                                                                                \
	} while (0)

/* overlayfs is a kernel feature a test may miss. */
static void need_overlay(void)
{
	_cleanup_free_ char *fs = NULL;
	if (fs_read_file("/proc/filesystems", 1 << 20, &fs, NULL) < 0 || !strstr(fs, "\toverlay\n"))
		SKIP("no overlayfs in this kernel");
}

static struct rootfs_spec spec_for(const struct box_dirs *d)
{
	return (struct rootfs_spec){ .project = d->project,
				     .upper = d->upper,
				     .work = d->work,
				     .home = d->home,
				     .tmp_size = 16 << 20 };
}

TEST(rootfs_layers_must_be_siblings)
{
	struct rootfs_spec s = { .project = "/", .upper = "/x/box/upper", .work = "/y/work" };
	struct rootfs_layers l;
	struct error err = { 0 };
	CHECK_INT(rootfs_layers_open(&s, &l, &err), -EINVAL);
	CHECK_STREQ(err.message,
		    "use the box's upper and work dirs '/x/box/upper': Invalid argument");
	CHECK_INT(l.lower, -1);
	CHECK_INT(l.box, -1);
	s.work = "/x/box/work";
	s.project = "/nonexistent/clawbox-project";
	CHECK_INT(rootfs_layers_open(&s, &l, &err), -ENOENT);
	CHECK_STREQ(err.message, "open the overlay layer '/nonexistent/clawbox-project': No such "
				 "file or directory");
}

/* The overlay: the project shows through, writes land in upper, and the
 * last run's work dir goes to the trash, which rootfs_trash_empty empties. */
TEST(rootfs_overlay_and_trash)
{
	struct box_dirs d;
	struct rootfs_layers l;
	struct error err = { 0 };
	char path[PATH_MAX + 16], mnt[PATH_MAX];
	struct stat st;

	need_overlay();
	make_dirs(&d);
	struct rootfs_spec s = spec_for(&d);
	enter_namespaces();
	CHECK_INT(rootfs_layers_open(&s, &l, &err), 0);
	snprintf(mnt, sizeof(mnt), "%s/mnt", d.base);
	CHECK_INT(mkdir(mnt, 0755), 0);
	int fd = rootfs_overlay_mount(&s, &l, &err);
	if (fd < 0)
		fprintf(stderr, "rootfs_overlay_mount: %s\n", err.message);
	CHECK(fd >= 0);
	CHECK_INT(move_mount(fd, "", AT_FDCWD, mnt, MOVE_MOUNT_F_EMPTY_PATH), 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/hello", mnt);
	CHECK(stat(path, &st) == 0 && st.st_size == 3);
	put(mnt, "new", "from the box\n");
	snprintf(path, sizeof(path), "%s/new", d.upper);
	CHECK_INT(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/new", d.project);
	CHECK(stat(path, &st) < 0 && errno == ENOENT);
	CHECK_INT(umount2(mnt, MNT_DETACH), 0);

	/* A second mount finds work/work of the first: set aside. */
	CHECK((fd = rootfs_overlay_mount(&s, &l, &err)) >= 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/box/trash/work.0", d.base);
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(rootfs_trash_empty(l.box), 0);
	CHECK(stat(path, &st) < 0 && errno == ENOENT);
	rootfs_layers_close(&l);
	CHECK_INT(l.lower, -1);
}

/* A failed step names itself and its subject. */
TEST(rootfs_build_names_what_failed)
{
	struct box_dirs d;
	struct error err;
	int keep[2];
	char home[PATH_MAX + 16];

	make_dirs(&d);
	struct rootfs_spec s = spec_for(&d);
	s.unsafe = true;
	snprintf(home, sizeof(home), "%s/no-home", d.base);
	s.home = home;
	enter_namespaces();
	CHECK_INT(rootfs_build(&s, keep, &err), -ENOENT);
	CHECK_INT(err.code, -ENOENT);
	char want[PATH_MAX + 128];
	snprintf(want, sizeof(want), "clone the box's home '%s': No such file or directory", home);
	CHECK_STREQ(err.message, want);
}

struct hook {
	const struct rootfs_spec *spec;
	struct rootfs_layers layers;
};

static int overlay_hook(void *ctx, struct error *err)
{
	struct hook *h = ctx;
	return rootfs_overlay_mount(h->spec, &h->layers, err);
}

/* The view as the box's init sees it; exit status: 0 when it is right. */
/* Whether a file can be created at path. */
static bool put_ok(const char *path)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	return fd >= 0;
}

_noreturn_ static void check_view(const struct box_dirs *d)
{
	char path[PATH_MAX + 16];
	struct stat st;

	NS_CHECK(getpid() == 1);
	NS_CHECK(stat("/workspace/hello", &st) == 0 && st.st_size == 3);
	snprintf(path, sizeof(path), "%s/hello", d->project);
	NS_CHECK(stat(path, &st) == 0 && st.st_size == 3); /* at its own path too */
	snprintf(path, sizeof(path), "%s/.env", d->project);
	NS_CHECK(stat(path, &st) == 0 && st.st_size == 0); /* masked */
	NS_CHECK(stat("/workspace/.env", &st) == 0 && st.st_size == 0);
	NS_CHECK(stat(d->base, &st) == 0 && S_ISDIR(st.st_mode));
	NS_CHECK(put_ok("/workspace/written"));
	NS_CHECK(put_ok("/tmp/scratch"));
	NS_CHECK(put_ok(ROOTFS_HOME "/profile"));
	errno = 0;
	NS_CHECK(open("/etc/passwd", O_WRONLY | O_CLOEXEC) < 0 && errno == EROFS);
	errno = 0;
	NS_CHECK(mkdir("/new-top-level-dir", 0755) < 0 && errno == EROFS);
	errno = 0;
	NS_CHECK(stat(ROOTFS_OLD_ROOT, &st) < 0 && errno == ENOENT);
	NS_CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode));
	NS_CHECK(stat("/dev/pts/ptmx", &st) == 0);
	char self[16] = "";
	NS_CHECK(readlink("/proc/self", self, sizeof(self) - 1) > 0);
	NS_CHECK(STREQ(self, "1"));
	_exit(0);
}

TEST(rootfs_build_the_view)
{
	struct box_dirs d;
	struct error err;
	char mask[PATH_MAX + 16];
	char *masks[] = { "/home", mask }; /* sorted, as the box's are */
	int keep[2], st;

	need_overlay();
	make_dirs(&d);
	struct rootfs_spec s = spec_for(&d);
	snprintf(mask, sizeof(mask), "%s/.env", d.project);
	s.masks = masks;
	s.nmasks = 2;
	struct hook h = { .spec = &s };
	s.overlay = overlay_hook;
	s.hook_ctx = &h;
	/* The builder runs as the init of new user, mount and pid namespaces. */
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		alarm(60);
		enter_namespaces();
		NS_CHECK(unshare(CLONE_NEWPID) == 0);
		pid_t init = fork();
		NS_CHECK(init >= 0);
		if (init == 0) {
			alarm(60);
			NS_CHECK(rootfs_layers_open(&s, &h.layers, &err) == 0);
			if (rootfs_build(&s, keep, &err) < 0) {
				fprintf(stderr, "rootfs_build: %s\n", err.message);
				_exit(2);
			}
			check_view(&d);
		}
		NS_CHECK(waitpid(init, &st, 0) == init);
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 3);
	}
	CHECK_INT(waitpid(pid, &st, 0), pid);
	CHECK(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		SKIP("no user namespaces here");
	CHECK_INT(WEXITSTATUS(st), 0);
	/* What the box wrote is in the upper dir, not in the project. */
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/written", d.upper);
	CHECK(access(path, F_OK) == 0);
	snprintf(path, sizeof(path), "%s/written", d.project);
	CHECK(access(path, F_OK) < 0);
	snprintf(path, sizeof(path), "%s/profile", d.home);
	CHECK(access(path, F_OK) == 0);
}
