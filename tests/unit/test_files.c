/* ctl/files: file calls beneath a workspace, and what a hostile box tries
 * against them (symlinks at every level, '..', FIFOs, devices, huge
 * reads, names the gate refuses, a directory swapped for a symlink). */
#include "unit.h"

#include "ctl/files.h"
#include "util/fs.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>

/* A workspace in a temp dir, and an "outside" dir beside it that nothing
 * may touch: *ret_out gets an fd of it. Returns an O_PATH fd of the
 * workspace, as ctl_workspace gives. */
static int workspace(char *dir, size_t n, int *ret_out)
{
	char sub[128];
	snprintf(dir, n, "/tmp/clawbox-unit.filesXXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	snprintf(sub, sizeof(sub), "%s/ws", dir);
	CHECK_INT(mkdir(sub, 0755), 0);
	snprintf(sub, sizeof(sub), "%s/outside", dir);
	CHECK_INT(mkdir(sub, 0755), 0);
	*ret_out = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(*ret_out >= 0);
	snprintf(sub, sizeof(sub), "%s/ws", dir);
	int fd = open(sub, O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(fd >= 0);
	return fd;
}

static void put(int dfd, const char *name, const char *text)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	CHECK(fd >= 0);
	CHECK_INT(fs_write_all(fd, text, strlen(text)), 0);
	close(fd);
}

/* A real fd of the workspace (O_PATH fds cannot make files). */
static int rw(int ws)
{
	int fd = openat(ws, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(fd >= 0);
	return fd;
}

static size_t count_entries(int dfd)
{
	char **names;
	size_t n;
	CHECK_INT(fs_dir_names(dfd, NULL, 1000, &names, &n), 0);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return n;
}

TEST(files_write_read_list_stat_delete)
{
	char dir[64];
	int out, ws = workspace(dir, sizeof(dir), &out);
	struct error err = { 0 };
	CHECK_INT(files_write(ws, "a/b/c.txt", "hello", 5, 0, -1, &err), -ENOENT);
	CHECK_INT(files_write(ws, "a/b/c.txt", "hello", 5, FILES_MKDIRS, -1, &err), 0);
	struct files_data d;
	CHECK_INT(files_read(ws, "a/b/c.txt", 0, 0, 1024, &d, &err), 0);
	CHECK_STREQ(d.data, "hello");
	CHECK(d.eof && d.size == 5);
	files_data_free(&d);
	CHECK_INT(files_read(ws, "a/b/c.txt", 1, 3, 1024, &d, &err), 0);
	CHECK_STREQ(d.data, "ell");
	CHECK(!d.eof);
	files_data_free(&d);
	CHECK_INT(files_read(ws, "a/b/c.txt", 99, 0, 1024, &d, &err), 0);
	CHECK(d.len == 0 && d.eof);
	files_data_free(&d);

	struct files_entry e;
	CHECK_INT(files_stat(ws, "a/b/c.txt", &e, &err), 0);
	CHECK_INT(e.mode, S_IFREG | 0644);
	CHECK_INT(e.size, 5);
	CHECK_INT(files_stat(ws, "", &e, &err), 0);
	CHECK(S_ISDIR(e.mode));
	/* mode: given, kept on overwrite, setuid dropped */
	CHECK_INT(files_write(ws, "a/b/c.txt", "x", 1, 0, 06700, &err), 0);
	CHECK_INT(files_stat(ws, "a/b/c.txt", &e, &err), 0);
	CHECK_INT(e.mode, S_IFREG | 0700);
	CHECK_INT(files_write(ws, "a/b/c.txt", "yy", 2, 0, -1, &err), 0);
	CHECK_INT(files_stat(ws, "a/b/c.txt", &e, &err), 0);
	CHECK_INT(e.mode, S_IFREG | 0700);
	CHECK_INT(files_write(ws, "a/b/c.txt", "z", 1, FILES_EXCL, -1, &err), -EEXIST);

	struct files_entry *v;
	size_t n;
	CHECK_INT(files_write(ws, "a/0", "", 0, 0, -1, &err), 0);
	CHECK_INT(files_list(ws, "a", 100, &v, &n, &err), 0);
	CHECK_INT(n, 2);
	CHECK_STREQ(v[0].name, "0");
	CHECK_STREQ(v[1].name, "b");
	CHECK_STREQ(files_type_name(v[1].mode), "dir");
	files_entries_free(v, n);
	CHECK_INT(files_list(ws, ".", 100, &v, &n, &err), 0);
	CHECK_INT(n, 1);
	files_entries_free(v, n);
	CHECK_INT(files_list(ws, "a", 1, &v, &n, &err), -E2BIG);

	/* no temporary file is left behind */
	int a = openat(rw(ws), "a/b", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK_INT(count_entries(a), 1);

	CHECK_INT(files_delete(ws, "a/b", false, &err), -ENOTEMPTY);
	CHECK_INT(files_delete(ws, "a/b/c.txt", false, &err), 0);
	CHECK_INT(files_delete(ws, "a/b", false, &err), 0);
	CHECK_INT(files_write(ws, "a/x/y/z", "1", 1, FILES_MKDIRS, -1, &err), 0);
	CHECK_INT(files_delete(ws, "a", true, &err), 0);
	CHECK_INT(files_stat(ws, "a", &e, &err), -ENOENT);
	CHECK_INT(files_delete(ws, "", true, &err), -EINVAL);
	CHECK_INT(files_delete(ws, ".", true, &err), -EINVAL);
}

TEST(files_paths_refused)
{
	char dir[64];
	int out, ws = workspace(dir, sizeof(dir), &out);
	struct error err = { 0 };
	static const char *const bad[] = {
		"/etc/passwd", "..",   "../x",  "a/../../x", "a/..",       "a/b/../../..",
		"x\ny",        "x\ty", "x\x7f", "\xff\xfe",  "a/\xc0\xaf",
	};
	put(rw(ws), "ok", "1");
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct files_data d;
		CHECK_INT(files_check_path(bad[i], strlen(bad[i]), 0, &err), -EINVAL);
		CHECK_INT(files_read(ws, bad[i], 0, 0, 100, &d, &err), -EINVAL);
		CHECK_INT(files_write(ws, bad[i], "x", 1, FILES_MKDIRS, -1, &err), -EINVAL);
		CHECK_INT(files_delete(ws, bad[i], true, &err), -EINVAL);
	}
	/* NUL inside the path (a JSON string may hold one) */
	CHECK_INT(files_check_path("ok\0/../x", 8, 0, &err), -EINVAL);
	CHECK(strstr(err.message, "NUL") != NULL);
	/* the message shows the path escaped, never raw control bytes */
	CHECK_INT(files_check_path("a\nb", 3, 0, &err), -EINVAL);
	CHECK(strchr(err.where, '\n') == NULL);
	/* "..." and "a..b" are names, not parents */
	CHECK_INT(files_check_path("...", 3, 0, &err), 0);
	CHECK_INT(files_check_path("a..b/c", 6, 0, &err), 0);
	/* a git directory is never written or deleted through file calls */
	CHECK_INT(files_write(ws, ".git/hooks/pre-commit", "x", 1, FILES_MKDIRS, -1, &err), -EPERM);
	CHECK_INT(files_write(ws, "sub/.GIT/config", "x", 1, FILES_MKDIRS, -1, &err), -EPERM);
	CHECK_INT(files_write(ws, "git~1/config", "x", 1, FILES_MKDIRS, -1, &err), -EPERM);
	CHECK_INT(files_delete(ws, ".git", true, &err), -EPERM);
	CHECK_INT(files_check_path(".git/HEAD", 9, 0, &err), 0);
	char longp[FILES_PATH_MAX + 10];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	CHECK_INT(files_check_path(longp, strlen(longp), 0, &err), -ENAMETOOLONG);
	CHECK_INT(count_entries(out), 0);
}

/* A symlink to the outside dir at each level of a path: every call is
 * refused with ELOOP and the outside stays untouched. */
TEST(files_symlink_at_each_level)
{
	char dir[64], target[96];
	int out, ws = workspace(dir, sizeof(dir), &out);
	int w = rw(ws);
	struct error err = { 0 };
	snprintf(target, sizeof(target), "%s/outside", dir);
	put(out, "secret", "s3cret");
	CHECK_INT(mkdirat(w, "a", 0755), 0);
	CHECK_INT(mkdirat(w, "a/b", 0755), 0);
	CHECK_INT(symlinkat(target, w, "l0"), 0);
	CHECK_INT(symlinkat(target, w, "a/l1"), 0);
	CHECK_INT(symlinkat(target, w, "a/b/l2"), 0);
	CHECK_INT(symlinkat("/etc", w, "etc"), 0);
	CHECK_INT(symlinkat("../../outside/secret", w, "a/b/rel"), 0);
	static const char *const paths[] = { "l0/secret",  "a/l1/secret", "a/b/l2/secret",
					     "etc/passwd", "a/b/rel",     "l0/new/f" };
	for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
		struct files_data d;
		struct files_entry *v, e;
		size_t n;
		CHECK_INT(files_read(ws, paths[i], 0, 0, 100, &d, &err), -ELOOP);
		CHECK(strstr(err.message, "symlink") != NULL);
		CHECK_INT(files_write(ws, paths[i], "x", 1, FILES_MKDIRS, -1, &err), -ELOOP);
		CHECK_INT(files_list(ws, paths[i], 100, &v, &n, &err), -ELOOP);
		if (i != 4) /* a/b/rel itself is a symlink: stat shows it */
			CHECK_INT(files_stat(ws, paths[i], &e, &err), -ELOOP);
	}
	CHECK_INT(files_list(ws, "l0", 100, &(struct files_entry *){ NULL }, &(size_t){ 0 }, &err),
		  -ELOOP);
	/* the link itself: stat shows a symlink; delete removes the link only */
	struct files_entry e;
	CHECK_INT(files_stat(ws, "l0", &e, &err), 0);
	CHECK(S_ISLNK(e.mode));
	CHECK_INT(files_write(ws, "l0", "x", 1, 0, -1, &err), -ELOOP);
	CHECK_INT(files_delete(ws, "l0", true, &err), 0);
	CHECK_INT(files_delete(ws, "a", true, &err), 0);
	CHECK_INT(count_entries(out), 1);
	struct stat st;
	CHECK_INT(fstatat(out, "secret", &st, 0), 0);
	CHECK_INT(st.st_size, 6);
}

/* FIFOs, sockets (and devices, as root) are refused without blocking. */
TEST(files_special_files_refused)
{
	char dir[64];
	int out, ws = workspace(dir, sizeof(dir), &out);
	int w = rw(ws);
	struct error err = { 0 };
	struct files_data d;
	CHECK_INT(mkfifoat(w, "fifo", 0644), 0);
	CHECK_INT(files_read(ws, "fifo", 0, 0, 100, &d, &err), -EPERM);
	CHECK(strstr(err.message, "fifo") != NULL);
	CHECK_INT(files_write(ws, "fifo", "x", 1, 0, -1, &err), -EPERM);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ws/sock", dir);
	CHECK_INT(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	CHECK_INT(files_read(ws, "sock", 0, 0, 100, &d, &err), -EPERM);
	if (geteuid() == 0 && mknodat(w, "null", S_IFCHR | 0666, makedev(1, 3)) == 0) {
		CHECK_INT(files_read(ws, "null", 0, 0, 100, &d, &err), -EPERM);
		CHECK_INT(files_write(ws, "null", "x", 1, 0, -1, &err), -EPERM);
	}
	CHECK_INT(mkdirat(w, "d", 0755), 0);
	CHECK_INT(files_read(ws, "d", 0, 0, 100, &d, &err), -EISDIR);
	CHECK_INT(files_write(ws, "d", "x", 1, 0, -1, &err), -EISDIR);
	CHECK_INT(files_write(ws, "d/", "x", 1, 0, -1, &err), -EISDIR);
}

TEST(files_huge_read_capped)
{
	char dir[64];
	int out, ws = workspace(dir, sizeof(dir), &out);
	int w = rw(ws);
	struct error err = { 0 };
	struct files_data d;
	int fd = openat(w, "big", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	CHECK_INT(ftruncate(fd, (off_t)1 << 40), 0); /* 1 TiB, sparse */
	close(fd);
	CHECK_INT(files_read(ws, "big", 0, 0, 1 << 20, &d, &err), -EFBIG);
	CHECK(strstr(err.message, "pieces") != NULL);
	CHECK_INT(files_read(ws, "big", 0, (1 << 20) + 1, 1 << 20, &d, &err), -EFBIG);
	CHECK_INT(files_read(ws, "big", UINT64_MAX - 5, 10, 1 << 20, &d, &err), -EFBIG);
	CHECK_INT(files_read(ws, "big", ((uint64_t)1 << 40) - 3, 0, 1 << 20, &d, &err), 0);
	CHECK_INT(d.len, 3);
	CHECK(d.eof);
	files_data_free(&d);
	CHECK_INT(files_read(ws, "big", 5, 4096, 1 << 20, &d, &err), 0);
	CHECK_INT(d.len, 4096);
	files_data_free(&d);
}

/* The box swaps a directory for a symlink: before the write it is refused;
 * during one (the parent already open) the file still lands beneath the
 * workspace, in the directory that was opened. */
TEST(files_dir_swapped_for_symlink)
{
	char dir[64], target[96];
	int out, ws = workspace(dir, sizeof(dir), &out);
	int w = rw(ws);
	struct error err = { 0 };
	snprintf(target, sizeof(target), "%s/outside", dir);
	CHECK_INT(mkdirat(w, "d", 0755), 0);
	struct files_writer *wr;
	CHECK_INT(files_write_open(ws, "d/f", 0, -1, &wr, &err), 0);
	CHECK_INT(files_write_append(wr, "data", 4, &err), 0);
	CHECK_INT(renameat(w, "d", w, "d.old"), 0);
	CHECK_INT(symlinkat(target, w, "d"), 0);
	CHECK_INT(files_write_commit(wr, &err), 0);
	CHECK_INT(count_entries(out), 0);
	struct files_data d;
	CHECK_INT(files_read(ws, "d.old/f", 0, 0, 100, &d, &err), 0);
	CHECK_STREQ(d.data, "data");
	files_data_free(&d);
	CHECK_INT(files_write(ws, "d/f", "x", 1, 0, -1, &err), -ELOOP);
	CHECK_INT(files_delete(ws, "d/f", false, &err), -ELOOP);
	/* the target swapped for a symlink before the commit: refused */
	CHECK_INT(files_write_open(ws, "d.old/g", 0, -1, &wr, &err), 0);
	CHECK_INT(symlinkat(target, w, "d.old/g"), 0);
	CHECK_INT(files_write_commit(wr, &err), -ELOOP);
	CHECK_INT(count_entries(out), 0);
	int old = openat(w, "d.old", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK_INT(count_entries(old), 2); /* f and the link g: no temp file left */
	/* an aborted write leaves nothing */
	CHECK_INT(files_write_open(ws, "d.old/h", 0, -1, &wr, &err), 0);
	files_write_abort(wr);
	CHECK_INT(count_entries(old), 2);
}
