/* util/fs: the one recursive walker (fs_walk and what is built on it:
 * fs_clear_dir, fs_remove_tree_at, fs_tree_usage) and fs_dir_names. */
#include "unit.h"

#include "util/fs.h"
#include "util/strv.h"

#include <sys/stat.h>

static int tmpdir_fd(char *dir, size_t n)
{
	snprintf(dir, n, "/tmp/clawbox-unit.fsXXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(fd >= 0);
	return fd;
}

static void put(int dfd, const char *name, const char *text)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK_INT(fs_write_all(fd, text, strlen(text)), 0);
	close(fd);
}

/* a/ (b/ (c: 3 bytes), d: 5 bytes), e: 1 byte, link -> / */
static void make_tree(int dfd)
{
	CHECK_INT(mkdirat(dfd, "a", 0755), 0);
	CHECK_INT(mkdirat(dfd, "a/b", 0755), 0);
	put(dfd, "a/b/c", "ccc");
	put(dfd, "a/d", "ddddd");
	put(dfd, "e", "e");
	CHECK_INT(symlinkat("/", dfd, "link"), 0);
}

struct seen {
	char log[512];
};

static int record(int dirfd, const char *name, const struct stat *st, bool post, void *ctx)
{
	struct seen *s = ctx;
	size_t l = strlen(s->log);
	(void)dirfd;
	snprintf(s->log + l, sizeof(s->log) - l, "%s%s%s ", post ? "/" : "", name,
		 S_ISDIR(st->st_mode) ? "/" : "");
	return S_ISDIR(st->st_mode) && !STREQ(name, "b");
}

TEST(fs_walk_order_entering_and_symlinks)
{
	char dir[64];
	int dfd = tmpdir_fd(dir, sizeof(dir));
	struct seen s = { "" };
	make_tree(dfd);
	CHECK_INT(fs_walk(dfd, 0, record, &s), 0);
	/* a/ is entered and closed after its contents; b/ is not entered (fn
	 * said 0), so c is not seen; the symlink is an entry, never followed. */
	CHECK(strstr(s.log, "a/ "));
	CHECK(strstr(s.log, "/a/ "));
	CHECK(strstr(s.log, "b/ "));
	CHECK(strstr(s.log, "d "));
	CHECK(strstr(s.log, "e "));
	CHECK(strstr(s.log, "link "));
	CHECK(!strstr(s.log, "c "));
	CHECK(!strstr(s.log, "/b/"));
	CHECK(strstr(s.log, "d ") < strstr(s.log, "/a/ "));
	CHECK(strstr(s.log, "a/ ") < strstr(s.log, "d "));
	CHECK_INT(fs_walk(-1, 0, record, &s), -EBADF);
	CHECK_INT(fs_clear_dir(dfd), 0);
	close(dfd);
	CHECK_INT(rmdir(dir), 0);
}

static int stop_at_e(int dirfd, const char *name, const struct stat *st, bool post, void *ctx)
{
	(void)dirfd, (void)st, (void)post, (void)ctx;
	return STREQ(name, "e") ? -ECANCELED : 1;
}

TEST(fs_walk_stops_on_error)
{
	char dir[64];
	int dfd = tmpdir_fd(dir, sizeof(dir));
	make_tree(dfd);
	CHECK_INT(fs_walk(dfd, 0, stop_at_e, NULL), -ECANCELED);
	CHECK_INT(fs_clear_dir(dfd), 0);
	close(dfd);
	CHECK_INT(rmdir(dir), 0);
}

TEST(fs_tree_usage_and_removal)
{
	char dir[64];
	int dfd = tmpdir_fd(dir, sizeof(dir));
	uint64_t bytes = 0, entries = 0;
	make_tree(dfd);
	CHECK_INT(fs_tree_usage(dfd, &bytes, &entries), 0);
	CHECK_INT(bytes, 9);   /* 3 + 5 + 1: symlinks and directories count no bytes */
	CHECK_INT(entries, 6); /* a, a/b, a/b/c, a/d, e, link */
	/* a directory without permissions is made searchable and removed (as
	 * root, permissions do not stop it anyway) */
	CHECK_INT(fchmodat(dfd, "a/b", 0, 0), 0);
	CHECK_INT(fs_remove_tree_at(dfd, "a"), 0);
	CHECK(faccessat(dfd, "a", F_OK, AT_SYMLINK_NOFOLLOW) < 0);
	CHECK(faccessat(dfd, "e", F_OK, AT_SYMLINK_NOFOLLOW) == 0);
	CHECK_INT(fs_remove_tree_at(dfd, "absent"), 0);
	CHECK_INT(fs_clear_dir(dfd), 0);
	CHECK_INT(fs_tree_usage(dfd, &bytes, &entries), 0);
	CHECK_INT(entries, 0);
	CHECK_INT(bytes, 0);
	close(dfd);
	CHECK_INT(rmdir(dir), 0);
	/* the symlink went, not what it pointed to */
	CHECK(access("/etc", F_OK) == 0);
}

static bool no_e(const char *name)
{
	return !STREQ(name, "e");
}

TEST(fs_dir_names_sorted_filtered_bounded)
{
	char dir[64];
	int dfd = tmpdir_fd(dir, sizeof(dir));
	char **v = NULL;
	size_t n = 0;
	make_tree(dfd);
	put(dfd, "B", "");
	put(dfd, ".hidden", "");
	CHECK_INT(fs_dir_names(dfd, NULL, SIZE_MAX, &v, &n), 0);
	CHECK_INT(n, 5);
	CHECK_STREQ(v[0], ".hidden");
	CHECK_STREQ(v[1], "B");
	CHECK_STREQ(v[2], "a");
	CHECK_STREQ(v[3], "e");
	CHECK_STREQ(v[4], "link");
	strv_free_n(v, n);
	CHECK_INT(fs_dir_names(dfd, no_e, SIZE_MAX, &v, &n), 0);
	CHECK_INT(n, 4);
	CHECK_STREQ(v[3], "link");
	strv_free_n(v, n);
	/* max counts what keep accepts */
	CHECK_INT(fs_dir_names(dfd, no_e, 4, &v, &n), 0);
	strv_free_n(v, n);
	v = NULL;
	CHECK_INT(fs_dir_names(dfd, NULL, 4, &v, &n), -E2BIG);
	CHECK(v == NULL);
	/* dfd is still usable (a duplicate was read) */
	CHECK_INT(fs_dir_names(dfd, NULL, SIZE_MAX, &v, &n), 0);
	CHECK_INT(n, 5);
	strv_free_n(v, n);
	CHECK_INT(fs_clear_dir(dfd), 0);
	CHECK_INT(fs_dir_names(dfd, NULL, 0, &v, &n), 0);
	CHECK_INT(n, 0);
	strv_free_n(v, n);
	close(dfd);
	CHECK_INT(rmdir(dir), 0);
}

TEST(fs_read_fd_reads_to_the_end_and_refuses_a_full_buffer)
{
	int p[2];
	char buf[8];
	size_t len = 99;

	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK(write(p[1], "abc", 3) == 3);
	CHECK(write(p[1], "de", 2) == 2);
	close(p[1]);
	CHECK_INT(fs_read_fd(p[0], buf, sizeof(buf), &len), 0);
	CHECK_INT(len, 5);
	CHECK(memcmp(buf, "abcde", 5) == 0);
	close(p[0]);

	/* Exactly cap bytes: more may follow, so it is too large. */
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK(write(p[1], "12345678", 8) == 8);
	close(p[1]);
	len = 99;
	CHECK_INT(fs_read_fd(p[0], buf, sizeof(buf), &len), -EFBIG);
	CHECK_INT(len, 99);
	close(p[0]);

	CHECK(pipe2(p, O_CLOEXEC) == 0);
	close(p[1]);
	CHECK_INT(fs_read_fd(p[0], buf, sizeof(buf), &len), 0);
	CHECK_INT(len, 0);
	close(p[0]);
	CHECK_INT(fs_read_fd(-1, buf, sizeof(buf), &len), -EBADF);
}
