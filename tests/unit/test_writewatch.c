#include "unit.h"
#include "state/audit.h"
#include "state/writewatch.h"
#include "util/fs.h"

#include <sys/file.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

struct ww_fix {
	char dir[64], upper[128];
	int ufd;
	struct audit *a;
	struct writewatch *w;
};

static void fix_start_opts(struct ww_fix *f, const struct writewatch_opts *o)
{
	snprintf(f->dir, sizeof(f->dir), "/tmp/clawbox-unit.XXXXXX");
	CHECK(mkdtemp(f->dir) != NULL);
	snprintf(f->upper, sizeof(f->upper), "%s/upper", f->dir);
	CHECK(mkdir(f->upper, 0755) == 0);
	f->ufd = open(f->upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(f->ufd >= 0);
	CHECK_INT(audit_open(f->dir, "b", &f->a), 0);
	CHECK_INT(writewatch_start_opts(f->ufd, "/workspace", f->a, o, &f->w, NULL), 0);
}

static void fix_start(struct ww_fix *f)
{
	fix_start_opts(f, NULL);
}

struct ww_log {
	char text[1 << 19];
	size_t n;
};

static int collect(json_t *obj, const char *raw, void *ctx)
{
	struct ww_log *l = ctx;
	const char *ev = json_string_value(json_object_get(obj, "event"));
	const char *from = json_string_value(json_object_get(obj, "from"));
	(void)raw;
	if (strncmp(ev, "fs.", 3) != 0 || l->n + 600 > sizeof(l->text))
		return 0;
	l->n += (size_t)snprintf(l->text + l->n, sizeof(l->text) - l->n, "%s %s%s%s\n", ev,
				 from ? from : "", from ? " -> " : "",
				 json_string_value(json_object_get(obj, "path"))
				     ?: json_string_value(json_object_get(obj, "reason")));
	return 0;
}

/* Stop the watcher (it writes everything queued) and return its events. */
static void fix_stop(struct ww_fix *f, struct ww_log *l)
{
	f->w = writewatch_stop(f->w);
	f->a = audit_close(f->a);
	close(f->ufd);
	l->n = 0;
	l->text[0] = '\0';
	CHECK_INT(audit_foreach(f->dir, 0, collect, l), 0);
}

static void put(const char *dir, const char *name, const char *data)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	CHECK(write(fd, data, strlen(data)) == (ssize_t)strlen(data));
	close(fd);
}

/* Let the watcher see one step before the next (its events are read after
 * the fact: what it finds decides a few of them): wait until it wrote n
 * events (at most 10 s, for a loaded machine). */
static void settle(struct ww_fix *f, uint64_t n)
{
	for (int i = 0; i < 2000 && writewatch_events(f->w) < n; i++)
		usleep(5 * 1000);
	if (writewatch_events(f->w) < n)
		fprintf(stderr, "%llu events, not %llu\n",
			(unsigned long long)writewatch_events(f->w), (unsigned long long)n);
	CHECK(writewatch_events(f->w) >= n);
}

static size_t count(const char *text, const char *line)
{
	size_t n = 0;
	for (const char *p = text; (p = strstr(p, line)); p += strlen(line))
		n++;
	return n;
}

TEST(writewatch_escape_hostile_names)
{
	char out[64];
	writewatch_escape("a\nb\x1b[31m\xff\\c", out, sizeof(out));
	CHECK_STREQ(out, "a\\x0ab\\x1b[31m\\xff\\x5cc");
	writewatch_escape("caf\xc3\xa9 \xe2\x80\xae", out, sizeof(out));
	CHECK_STREQ(out, "caf\xc3\xa9 \\u202e");
	char longname[200];
	memset(longname, '\x01', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	writewatch_escape(longname, out, sizeof(out));
	CHECK(strlen(out) < sizeof(out));
	CHECK(strstr(out, "...") != NULL);
}

TEST(writewatch_reports_in_order)
{
	struct ww_fix f;
	struct ww_log l;
	char p[256], q[256];
	fix_start(&f);
	put(f.upper, "new.txt", "x");
	snprintf(p, sizeof(p), "%s/d", f.upper);
	CHECK(mkdir(p, 0755) == 0);
	settle(&f, 3);
	put(p, "in", "y");
	snprintf(p, sizeof(p), "%s/new.txt", f.upper);
	snprintf(q, sizeof(q), "%s/d/moved.txt", f.upper);
	CHECK(rename(p, q) == 0);
	CHECK(unlink(q) == 0);
	/* a whiteout appearing: the agent deleted a project file */
	snprintf(p, sizeof(p), "%s/d/gone", f.upper);
	CHECK(mknod(p, S_IFCHR | 0600, makedev(0, 0)) == 0);
	settle(&f, 8);
	snprintf(p, sizeof(p), "%s/d", f.upper);
	snprintf(q, sizeof(q), "%s/e", f.upper);
	CHECK(rename(p, q) == 0);
	settle(&f, 9);
	put(q, "after", "z");
	fix_stop(&f, &l);
	CHECK_STREQ(l.text, "fs.create /workspace/new.txt\n"
			    "fs.modify /workspace/new.txt\n"
			    "fs.create /workspace/d\n"
			    "fs.create /workspace/d/in\n"
			    "fs.modify /workspace/d/in\n"
			    "fs.rename /workspace/new.txt -> /workspace/d/moved.txt\n"
			    "fs.delete /workspace/d/moved.txt\n"
			    "fs.delete /workspace/d/gone\n"
			    "fs.rename /workspace/d -> /workspace/e\n"
			    "fs.create /workspace/e/after\n"
			    "fs.modify /workspace/e/after\n");
}

TEST(writewatch_copy_up_is_no_create)
{
	struct ww_fix f;
	struct ww_log l;
	char p[256], q[256];
	fix_start(&f);
	/* overlayfs copies a directory up in its work dir, then moves it in */
	snprintf(p, sizeof(p), "%s/work", f.dir);
	CHECK(mkdir(p, 0755) == 0);
	snprintf(p, sizeof(p), "%s/work/src", f.dir);
	CHECK(mkdir(p, 0755) == 0 && setxattr(p, "user.overlay.origin", "o", 1, 0) == 0);
	snprintf(q, sizeof(q), "%s/src", f.upper);
	CHECK(rename(p, q) == 0);
	put(f.upper, "mark", ""); /* its event comes after the copy-up's */
	settle(&f, 1);
	put(q, "f.c", "more");
	fix_stop(&f, &l);
	CHECK_STREQ(l.text, "fs.create /workspace/mark\n"
			    "fs.create /workspace/src/f.c\nfs.modify /workspace/src/f.c\n");
}

TEST(writewatch_coalesces_modifies)
{
	struct ww_fix f;
	struct ww_log l;
	char p[256];
	fix_start(&f);
	snprintf(p, sizeof(p), "%s/flood", f.upper);
	int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	for (int i = 0; i < 20000; i++)
		CHECK(write(fd, "x", 1) == 1);
	close(fd);
	fix_stop(&f, &l);
	size_t n = count(l.text, "fs.modify /workspace/flood\n");
	CHECK(n >= 1 && n <= 3);
	CHECK_INT(count(l.text, "fs.create /workspace/flood\n"), 1);
}

TEST(writewatch_symlinks_not_followed)
{
	struct ww_fix f;
	struct ww_log l;
	char p[256], host[128];
	fix_start(&f);
	snprintf(host, sizeof(host), "%s/host", f.dir);
	CHECK(mkdir(host, 0755) == 0);
	snprintf(p, sizeof(p), "%s/link", f.upper);
	CHECK(symlink(host, p) == 0);
	settle(&f, 1);
	put(host, "secret", "s");
	fix_stop(&f, &l);
	CHECK_STREQ(l.text, "fs.create /workspace/link\n");
}

TEST(writewatch_overflow_is_one_event)
{
	struct ww_fix f;
	struct ww_log l;
	char p[256];
	fix_start(&f);
	/* Hold the audit log's lock: the watcher waits at its first event
	 * while the kernel's queue fills. */
	snprintf(p, sizeof(p), "%s/audit.jsonl", f.dir);
	int lk = open(p, O_RDWR | O_CLOEXEC);
	CHECK(lk >= 0 && flock(lk, LOCK_EX) == 0);
	int max = 16384;
	FILE *m = fopen("/proc/sys/fs/inotify/max_queued_events", "re");
	if (m && fscanf(m, "%d", &max) != 1)
		max = 16384;
	if (m)
		fclose(m);
	if (max > 200000)
		SKIP("max_queued_events is %d", max);
	/* A file made and removed in turn: the kernel merges an event only
	 * with the one before it (and writes would quiet the directory). */
	snprintf(p, sizeof(p), "%s/f", f.upper);
	for (int i = 0; i < max; i++)
		CHECK(mknod(p, S_IFREG | 0644, 0) == 0 && unlink(p) == 0);
	close(lk);
	fix_stop(&f, &l);
	CHECK_INT(count(l.text, "event queue overflowed"), 1);
}

TEST(writewatch_quiet_directory_misses_no_file)
{
	struct ww_fix f;
	struct ww_log l;
	char p[256];
	int fd[2];
	fix_start(&f);
	for (int i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/f%d", f.upper, i);
		fd[i] = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		CHECK(fd[i] >= 0);
	}
	/* two files of one directory written in turn: their writes are no
	 * events after the first one; each is told at most once a second */
	for (int i = 0; i < 20000; i++)
		CHECK(write(fd[i & 1], "x", 1) == 1);
	settle(&f, 3);
	/* a third file written while the directory is quiet: told at its close */
	put(f.upper, "late", "z");
	settle(&f, 5);
	close(fd[0]);
	close(fd[1]);
	fix_stop(&f, &l);
	CHECK(count(l.text, "fs.modify /workspace/f0\n") <= 3);
	CHECK(count(l.text, "fs.modify /workspace/f1\n") >= 1);
	CHECK(count(l.text, "fs.modify /workspace/f1\n") <= 3);
	CHECK_INT(count(l.text, "fs.create /workspace/late\nfs.modify /workspace/late\n"), 1);
}

TEST(writewatch_rate_limited)
{
	struct ww_fix f;
	struct ww_log l;
	char p[256];
	fix_start_opts(&f, &(struct writewatch_opts){ .burst = 50, .per_sec = 10 });
	for (int i = 0; i < 300; i++) {
		snprintf(p, sizeof(p), "%s/f%03d", f.upper, i);
		CHECK(mknod(p, S_IFREG | 0644, 0) == 0);
	}
	fix_stop(&f, &l);
	size_t n = count(l.text, "fs.create");
	CHECK(n >= 50 && n < 150);
	CHECK(count(l.text, "fs.lost") >= 1);
	CHECK(strstr(l.text, "fs.lost") > strstr(l.text, "fs.create /workspace/f049"));
}

TEST(writewatch_many_directories_come_and_go)
{
	struct ww_fix f;
	struct ww_log l;
	char p[256];
	fix_start(&f);
	/* descriptors only grow: the table must stay as small as what lives */
	for (int i = 0; i < 3000; i++) {
		/* counted before the mkdir: read after it, a watcher that
		 * already saw the mkdir would be waited on for the rmdir,
		 * which comes only after the wait */
		uint64_t seen = writewatch_events(f.w);
		snprintf(p, sizeof(p), "%s/d%d", f.upper, i % 7);
		CHECK(mkdir(p, 0755) == 0);
		if (i % 500 == 0)
			settle(&f, seen + 1);
		CHECK(rmdir(p) == 0);
	}
	snprintf(p, sizeof(p), "%s/last", f.upper);
	CHECK(mkdir(p, 0755) == 0);
	settle(&f, 6001); /* every mkdir and rmdir, and last */
	put(p, "file", "x");
	fix_stop(&f, &l);
	CHECK_INT(count(l.text, "fs.create /workspace/last/file\n"), 1);
	CHECK_INT(count(l.text, "fs.modify /workspace/last/file\n"), 1);
}

TEST(writewatch_directories_after_removals_still_watched)
{
	struct ww_fix f;
	struct ww_log l;
	char p[256], name[32];
	fix_start(&f);
	for (int i = 0; i < 300; i++) {
		snprintf(p, sizeof(p), "%s/d%03d", f.upper, i);
		CHECK(mkdir(p, 0755) == 0);
	}
	settle(&f, 300);
	for (int i = 0; i < 300; i += 2) {
		snprintf(p, sizeof(p), "%s/d%03d", f.upper, i);
		CHECK(rmdir(p) == 0);
	}
	settle(&f, 450);
	for (int i = 1; i < 300; i += 2) {
		snprintf(p, sizeof(p), "%s/d%03d", f.upper, i);
		snprintf(name, sizeof(name), "f%03d", i);
		put(p, name, "");
	}
	fix_stop(&f, &l);
	CHECK_INT(count(l.text, "/f"), 150);
}
