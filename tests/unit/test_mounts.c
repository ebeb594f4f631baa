#include "unit.h"
#include "state/mounts.h"
#include "box/masks.h"
#include "util/fs.h"
#include "util/strv.h"

static int parse(struct mounts *m, const char *arg)
{
	return mounts_parse_opt(m, arg, false, NULL);
}

TEST(mount_opt_syntax)
{
	struct mounts m = { .n = 0 };
	CHECK_INT(parse(&m, "/src:/mnt/a"), 0);
	CHECK_INT(parse(&m, "rel/dir:/mnt/b:ro"), 0);
	CHECK_INT(parse(&m, "/s:/mnt/c:overlay"), 0);
	CHECK_INT(m.n, 3);
	CHECK_STREQ(m.v[0].src, "/src");
	CHECK_STREQ(m.v[0].dst, "/mnt/a");
	CHECK_INT(m.v[0].kind, MOUNT_RO); /* read-only by default */
	CHECK_STREQ(m.v[1].src, "rel/dir");
	CHECK_INT(m.v[2].kind, MOUNT_OVERLAY);
	/* Refused: no DST, rw, an unknown kind, a ':' too many, empty SRC. */
	CHECK_INT(parse(&m, "/src"), -EINVAL);
	CHECK_INT(parse(&m, "/src:/mnt/x:rw"), -EINVAL);
	CHECK_INT(parse(&m, "/src:/mnt/x:overlay:ro"), -EINVAL);
	CHECK_INT(parse(&m, "/a:b:/mnt/x"), -EINVAL);
	CHECK_INT(parse(&m, ":/mnt/x"), -EINVAL);
	CHECK_INT(parse(&m, "/src:"), -EINVAL);
	/* DST not absolute, not normalized, or "/". */
	CHECK_INT(parse(&m, "/src:mnt/x"), -EINVAL);
	CHECK_INT(parse(&m, "/src:/mnt/../etc"), -EINVAL);
	CHECK_INT(parse(&m, "/src:/mnt//x"), -EINVAL);
	CHECK_INT(parse(&m, "/src:/mnt/./x"), -EINVAL);
	CHECK_INT(parse(&m, "/src:/mnt/x/"), -EINVAL);
	CHECK_INT(parse(&m, "/src:/mnt/.."), -EINVAL);
	CHECK_INT(parse(&m, "/src:/"), -EINVAL);
	/* Hostile names. */
	CHECK_INT(parse(&m, "/s\nrc:/mnt/x"), -EINVAL);
	CHECK_INT(parse(&m, "/src:/mnt/x\ty"), -EINVAL);
	CHECK_INT(parse(&m, "/src:/mnt/\x1b[31m"), -EINVAL);
	CHECK_INT(parse(&m, "/src:/mnt/\xff"), -EINVAL);
	CHECK_INT(m.n, 3);
	mounts_clear(&m);
}

TEST(mount_opt_limit_and_vault)
{
	struct mounts m = { .n = 0 };
	struct error err = { 0 };
	CHECK_INT(mounts_parse_opt(&m, "/v", true, NULL), 0);
	CHECK_STREQ(m.v[0].dst, MOUNTS_VAULT);
	CHECK_INT(m.v[0].kind, MOUNT_RO);
	CHECK_INT(mounts_parse_opt(&m, "/v:overlay", true, NULL), 0);
	CHECK_INT(m.v[1].kind, MOUNT_OVERLAY);
	CHECK_INT(mounts_parse_opt(&m, "/v:/mnt/x", true, NULL), -EINVAL);
	CHECK_INT(mounts_parse_opt(&m, "/v:rw", true, NULL), -EINVAL);
	while (m.n < MOUNTS_MAX)
		CHECK_INT(parse(&m, "/s:/mnt/x"), 0);
	CHECK_INT(mounts_parse_opt(&m, "/s:/mnt/y", false, &err), -E2BIG);
	CHECK(strstr(err.message, "more than"));
	mounts_clear(&m);
}

static int dst_check(const char *dst, const char *project)
{
	struct mounts m = { .n = 0 };
	char arg[PATH_MAX + 8];
	snprintf(arg, sizeof(arg), "/s:%s", dst);
	CHECK_INT(parse(&m, arg), 0);
	int r = mounts_check_dst(&m, project, "/home/clawbox/.openclaw", NULL);
	mounts_clear(&m);
	return r;
}

TEST(mount_dst_rules)
{
	CHECK_INT(dst_check("/mnt/data", "/srv/p"), 0);
	CHECK_INT(dst_check("/home/clawbox/notes", "/srv/p"), 0);
	CHECK_INT(dst_check("/tmp/x", "/srv/p"), 0);
	CHECK_INT(dst_check("/opt", "/srv/p"), 0);
	static const char *const bad[] = {
		"/proc",
		"/proc/self",
		"/sys",
		"/sys/fs",
		"/dev",
		"/dev/shm",
		"/workspace",
		"/workspace/a",
		"/srv/p",
		"/srv/p/sub",
		"/srv",
		"/tmp",
		"/home/clawbox",
		"/home",
		"/.oldroot",
		"/etc",
		"/etc/resolv.conf",
		"/home/clawbox/.openclaw",
		"/home/clawbox/.openclaw/x",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		if (dst_check(bad[i], "/srv/p") != -EINVAL) {
			fprintf(stderr, "allowed: %s\n", bad[i]);
			exit(1);
		}
	/* Mounts at, above or beneath one another. */
	struct mounts m = { .n = 0 };
	CHECK_INT(parse(&m, "/a:/mnt/a"), 0);
	CHECK_INT(parse(&m, "/b:/mnt/a/b"), 0);
	CHECK_INT(mounts_check_dst(&m, "/srv/p", NULL, NULL), -EINVAL);
	mounts_clear(&m);
	CHECK_INT(parse(&m, "/a:/mnt/a/b"), 0);
	CHECK_INT(parse(&m, "/b:/mnt/a"), 0);
	CHECK_INT(mounts_check_dst(&m, "/srv/p", NULL, NULL), -EINVAL);
	mounts_clear(&m);
	CHECK_INT(parse(&m, "/a:/mnt/ab"), 0);
	CHECK_INT(parse(&m, "/b:/mnt/a"), 0);
	CHECK_INT(mounts_check_dst(&m, "/srv/p", NULL, NULL), 0);
	mounts_clear(&m);
}

TEST(mount_record_roundtrip)
{
	struct mounts m = { .n = 0 }, back = { .n = 0 };
	char dir[] = "/tmp/clawbox-unit-mounts-XXXXXX";
	CHECK(mkdtemp(dir));
	CHECK_INT(mounts_load(dir, &back, NULL), 0); /* none recorded */
	CHECK_INT(back.n, 0);
	CHECK_INT(parse(&m, "/src one:/mnt/a"), 0);
	CHECK_INT(parse(&m, "/s\xc3\xa9:/mnt/b:overlay"), 0);
	CHECK_INT(mounts_save(dir, &m), 0);
	CHECK_INT(mounts_load(dir, &back, NULL), 0);
	CHECK(mounts_equal(&m, &back));
	char d1[PATH_MAX], d2[PATH_MAX];
	CHECK_INT(mounts_data_dir("/data", &m.v[0], d1, sizeof(d1)), 0);
	CHECK_INT(mounts_data_dir("/data", &m.v[1], d2, sizeof(d2)), 0);
	CHECK(strncmp(d1, "/data/overlays/", 15) == 0 && strlen(d1) == 15 + 16);
	CHECK(strcmp(d1, d2) != 0);
	struct mounts none = { .n = 0 };
	CHECK_INT(mounts_save(dir, &none), 0); /* removes the record */
	CHECK_INT(mounts_load(dir, &back, NULL), 0);
	CHECK_INT(back.n, 0);
	mounts_clear(&m);
	rmdir(dir);
}

TEST(mount_record_malformed)
{
	struct mounts m = { .n = 0 };
	struct error err = { 0 };
	static const char *const bad[] = {
		"rw\t/a\t/b\n", "ro\t/a\n",          "ro\t/a\t/b\t/c\n",
		"ro\ta\t/b\n",  "ro\t/a\t/b/../c\n", "ro\t/a\t/\n",
		"ro /a /b\n",   "ro\t/a\t/b\r\n",    "overlay\t/a\t/b\x01\n",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		CHECK_INT(mounts_parse_record(bad[i], strlen(bad[i]), &m, &err), -EBADMSG);
	CHECK_INT(m.n, 0);
	const char ok[] = "# c\n\nro\t/a\t/b\noverlay\t/c\t/d";
	CHECK_INT(mounts_parse_record(ok, strlen(ok), &m, NULL), 0);
	CHECK_INT(m.n, 2);
	CHECK_INT(mounts_parse_record("ro\t/a\0\t/b", 9, &m, NULL), -EBADMSG);
	mounts_clear(&m);
}

TEST(mount_src_conflicts)
{
	struct strv builtin = { 0 };
	char hit[PATH_MAX], dir[] = "/tmp/clawbox-unit-src-XXXXXX", p[PATH_MAX];
	CHECK(mkdtemp(dir));
	CHECK_INT(strv_push(&builtin, "/home"), 0);
	CHECK_INT(strv_push(&builtin, "/var/lib/clawbox"), 0);
	CHECK_INT(strv_push(&builtin, "/etc/shadow"), 0);
	CHECK_INT(strv_push(&builtin, "/etc/ssl/private"), 0);
	CHECK(!masks_mount_conflict(&builtin, dir, hit, sizeof(hit)));
	CHECK(!masks_mount_conflict(&builtin, "/home/u/notes", hit, sizeof(hit)));
	CHECK(masks_mount_conflict(&builtin, "/", hit, sizeof(hit)));
	CHECK(masks_mount_conflict(&builtin, "/etc", hit, sizeof(hit)));
	CHECK_STREQ(hit, "/etc/shadow");
	CHECK(masks_mount_conflict(&builtin, "/var/lib", hit, sizeof(hit)));
	CHECK(masks_mount_conflict(&builtin, "/var/lib/clawbox/boxes", hit, sizeof(hit)));
	CHECK(masks_mount_conflict(&builtin, "/etc/ssl/private/x", hit, sizeof(hit)));
	CHECK(masks_mount_conflict(&builtin, "/home", hit, sizeof(hit)));
	CHECK(masks_mount_conflict(&builtin, "/home/u/.ssh", hit, sizeof(hit)));
	CHECK_STREQ(hit, "/home/u/.ssh");
	CHECK(masks_mount_conflict(&builtin, "/home/u/.ssh/keys", hit, sizeof(hit)));
	CHECK(masks_mount_conflict(&builtin, "/srv/x/.config/gcloud", hit, sizeof(hit)));
	CHECK(!masks_mount_conflict(&builtin, "/srv/x/.sshd", hit, sizeof(hit)));
	/* A dir that holds credentials. */
	snprintf(p, sizeof(p), "%s/.aws", dir);
	CHECK_INT(mkdir(p, 0700), 0);
	CHECK(masks_mount_conflict(&builtin, dir, hit, sizeof(hit)));
	CHECK_STREQ(hit, p);
	rmdir(p);
	rmdir(dir);
	strv_free(&builtin);
}

TEST(masks_kept_beneath_roots)
{
	struct strv m = { 0 };
	CHECK_INT(strv_push(&m, "/home/u"), 0);
	CHECK_INT(strv_push(&m, "/home/u/notes/.env"), 0);
	CHECK_INT(strv_push(&m, "/home/u/other/.env"), 0);
	const char *roots[] = { "/srv/p", "/home/u/notes" };
	masks_normalize_roots(&m, roots, 2);
	CHECK_INT(m.n, 2);
	CHECK_STREQ(m.v[0], "/home/u");
	CHECK_STREQ(m.v[1], "/home/u/notes/.env");
	strv_free(&m);
}
