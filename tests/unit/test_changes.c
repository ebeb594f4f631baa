/* The pending changes of a box (src/sync/changes.c): an upper dir read
 * against its lower dir, built here by hand as overlayfs leaves them
 * (whiteouts, opaque dirs), no mount needed. */
#include "unit.h"

#include "sync/changes.h"
#include "util/fs.h"

#include <sys/sysmacros.h>
#include <sys/xattr.h>

struct seen {
	char lines[600][1200];
	size_t n;
	bool truncated[600];
	int stop_after; /* 0: never stop */
};

static struct seen *seen_new(int stop_after)
{
	struct seen *s = calloc(1, sizeof(*s));
	CHECK(s != NULL);
	s->stop_after = stop_after;
	return s;
}

static int collect(const struct change *c, void *ctx)
{
	struct seen *s = ctx;
	CHECK(s->n < ELEMENTSOF(s->lines));
	snprintf(s->lines[s->n], sizeof(s->lines[0]), "%s %s", change_kind_name(c->kind), c->path);
	s->truncated[s->n] = c->truncated;
	s->n++;
	return s->stop_after && (int)s->n >= s->stop_after ? -ECANCELED : 0;
}

static int line_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The changes of upper against lower, sorted ("kind path" each). */
static int walk(int upper, int lower, struct seen *s)
{
	int r = changes_walk(upper, lower, collect, s);
	qsort(s->lines, s->n, sizeof(s->lines[0]), line_cmp);
	return r;
}

/* Remove the tree top (made by tmpdir). */
static void rmtree(const char *top)
{
	int fd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_INT(fs_remove_tree_at(fd, top + strlen("/tmp/")), 0);
	close(fd);
}

static int tmpdir(char *out, size_t n, const char *sub)
{
	snprintf(out, n, "/tmp/clawbox-unit.XXXXXX");
	CHECK(mkdtemp(out) != NULL);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", out, sub);
	CHECK(mkdir(path, 0755) == 0);
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(fd >= 0);
	return fd;
}

static void put(int dirfd, const char *name, const char *text)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	CHECK_INT(fs_write_all(fd, text, strlen(text)), 0);
	close(fd);
}

/* A whiteout as overlayfs makes it: a 0:0 char device, or (where mknod is
 * not allowed) an empty file with the user.overlay.whiteout xattr. */
static void whiteout(int dirfd, const char *name)
{
	if (mknodat(dirfd, name, S_IFCHR | 0, makedev(0, 0)) == 0)
		return;
	put(dirfd, name, "");
	char proc[64];
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (setxattr(proc, "user.overlay.whiteout", "", 0, 0) < 0)
		SKIP("neither mknod nor user xattrs here: %s", strerror(errno));
	close(fd);
}

static void opaque(int dirfd, const char *name)
{
	char proc[64];
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(fd >= 0);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (setxattr(proc, "user.overlay.opaque", "y", 1, 0) < 0)
		SKIP("no user xattrs here: %s", strerror(errno));
	close(fd);
}

/* Every kind, each where overlayfs would leave it; dirs that only hold
 * changes are walked, not reported. */
TEST(changes_kinds)
{
	char top[64];
	int lower = tmpdir(top, sizeof(top), "lower");
	int upper = openat(lower, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(mkdirat(upper, "upper", 0755) == 0);
	int u = openat(upper, "upper", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(upper);
	CHECK(u >= 0);

	CHECK(mkdirat(lower, "a", 0755) == 0);
	put(lower, "a/keep.txt", "keep\n");
	put(lower, "a/mod.txt", "old\n");
	put(lower, "del.txt", "gone\n");
	CHECK(mkdirat(lower, "rep", 0755) == 0);
	put(lower, "rep/old.txt", "old\n");
	CHECK(mkdirat(lower, "meta", 0755) == 0);
	put(lower, "file-then-dir", "f\n");
	CHECK(mkdirat(lower, "real", 0755) == 0);
	CHECK(symlinkat("real", lower, "via-link") == 0);

	CHECK(mkdirat(u, "a", 0755) == 0);
	put(u, "a/mod.txt", "new!\n");
	put(u, "a/new.txt", "added\n");
	whiteout(u, "del.txt");
	CHECK(mkdirat(u, "rep", 0755) == 0);
	opaque(u, "rep");
	put(u, "rep/new.txt", "n\n");
	CHECK(mkdirat(u, "meta", 0700) == 0);
	CHECK(fchmodat(u, "meta", 0700, 0) == 0);
	CHECK(mkdirat(u, "newdir", 0755) == 0);
	put(u, "newdir/x", "x\n");
	CHECK(symlinkat("/", u, "link") == 0);
	CHECK(mkdirat(u, "file-then-dir", 0755) == 0);
	/* The lower's symlink to a dir is not followed: a dir in its place
	 * replaces it. */
	CHECK(mkdirat(u, "via-link", 0755) == 0);

	struct seen *s = seen_new(0);
	CHECK_INT(walk(u, lower, s), 0);
	static const char *const want[] = {
		"added a/new.txt", "added link",         "added newdir",
		"added newdir/x",  "added rep/new.txt",  "deleted del.txt",
		"meta meta",       "modified a/mod.txt", "replaced file-then-dir",
		"replaced rep",    "replaced via-link",
	};
	for (size_t i = 0; i < s->n && i < ELEMENTSOF(want); i++)
		CHECK_STREQ(s->lines[i], want[i]);
	CHECK_INT(s->n, ELEMENTSOF(want));
	for (size_t i = 0; i < s->n; i++)
		CHECK(!s->truncated[i]);
	free(s);

	/* Nothing below: everything in the upper dir is added (a whiteout
	 * still says deleted). */
	/* (a fresh fd: a walk leaves the dir's offset at its end) */
	int u2 = openat(u, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct seen *t = seen_new(0);
	CHECK_INT(walk(u2, -1, t), 0);
	close(u2);
	CHECK_STREQ(t->lines[0], "added a");
	CHECK_STREQ(t->lines[t->n - 1], "deleted del.txt");
	free(t);

	struct changes_summary sum;
	u2 = openat(u, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK_INT(changes_summarize(u2, lower, &sum), 0);
	close(u2);
	CHECK_INT(sum.added, 5);
	CHECK_INT(sum.modified, 1);
	CHECK_INT(sum.deleted, 1);
	CHECK_INT(sum.replaced, 3);
	CHECK_INT(sum.meta, 1);
	CHECK_INT(changes_total(&sum), 11);
	/* a/mod.txt, a/new.txt, rep/new.txt, newdir/x: 5 + 6 + 2 + 2 bytes */
	CHECK_INT(sum.bytes, 15);
	close(u);
	close(lower);
	rmtree(top);
}

/* A callback's error stops the walk with that error. */
TEST(changes_callback_stops_walk)
{
	char top[64];
	int u = tmpdir(top, sizeof(top), "upper");
	put(u, "a", "1");
	put(u, "b", "2");
	put(u, "c", "3");
	struct seen *s = seen_new(2);
	CHECK_INT(changes_walk(u, -1, collect, s), -ECANCELED);
	CHECK_INT(s->n, 2);
	free(s);
	close(u);
	rmtree(top);
}

/* A dir nested deeper than 512 is reported once, marked truncated, and
 * nothing beneath it is walked. */
TEST(changes_depth_bound)
{
	char top[64];
	int u = tmpdir(top, sizeof(top), "upper");
	int fd = fcntl(u, F_DUPFD_CLOEXEC, 3);
	for (int i = 0; i < 514; i++) {
		CHECK(mkdirat(fd, "d", 0755) == 0);
		int next = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		CHECK(next >= 0);
		close(fd);
		fd = next;
	}
	put(fd, "deep.txt", "x");
	close(fd);
	struct seen *s = seen_new(0);
	CHECK_INT(changes_walk(u, -1, collect, s), 0);
	/* d at depths 0..511 walked, the one at 512 reported truncated */
	CHECK_INT(s->n, 513);
	for (size_t i = 0; i < 512; i++)
		CHECK(!s->truncated[i]);
	CHECK(s->truncated[512]);
	for (size_t i = 0; i < s->n; i++)
		CHECK(strstr(s->lines[i], "deep.txt") == NULL);
	free(s);
	close(u);
	rmtree(top);
}
