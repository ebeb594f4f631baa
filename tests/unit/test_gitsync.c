/* The git part of the gate's parsers: ref names, loose refs, packed-refs,
 * and git log's raw output (src/sync/gitsync_refs.c, gitsync_objects.c). */
#include "unit.h"

#include "sync/gitsync.h"

#define OID1   "0123456789abcdef0123456789abcdef01234567"
#define OID2   "89abcdef0123456789abcdef0123456789abcdef"
#define OID256 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

TEST(gitsync_refnames)
{
	static const char *const good[] = {
		"refs/heads/main", "refs/heads/feature/x-1",       "refs/tags/v1.0",
		"refs/heads/a.b",  "refs/heads/\xc3\xa9t\xc3\xa9", "refs/heads/@",
		"refs/heads/a@b"
	};
	static const char *const bad[] = {
		"",
		"main",
		"refs/heads/",
		"refs/heads/a..b",
		"refs/heads/.hidden",
		"refs/heads/x.lock",
		"refs/heads/a/.b",
		"refs/heads/a.",
		"refs/heads//a",
		"refs/heads/a b",
		"refs/heads/a~1",
		"refs/heads/a^",
		"refs/heads/a:b",
		"refs/heads/a?",
		"refs/heads/a*",
		"refs/heads/a[",
		"refs/heads/a\\b",
		"refs/heads/a@{1}",
		"refs/heads/a\x1b",
		"refs/heads/a\x7f",
		"refs/heads/\xff",
		"refs/heads/\xc3",
		"@",
		"refs/heads/a/",
		"/refs/heads/a",
	};
	for (size_t i = 0; i < ELEMENTSOF(good); i++)
		if (!gitsync_refname_valid(good[i])) {
			fprintf(stderr, "refused: %s\n", good[i]);
			CHECK(false);
		}
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		if (gitsync_refname_valid(bad[i])) {
			fprintf(stderr, "accepted: %s\n", bad[i]);
			CHECK(false);
		}
	char longname[GITSYNC_REF_MAX + 16] = "refs/heads/";
	memset(longname + 11, 'a', GITSYNC_REF_MAX);
	longname[GITSYNC_REF_MAX + 11] = '\0';
	CHECK(!gitsync_refname_valid(longname));
}

TEST(gitsync_loose_refs)
{
	char out[GITSYNC_REF_MAX + 1];
	CHECK_INT(gitsync_parse_loose(OID1 "\n", 41, out), GITSYNC_LOOSE_OID);
	CHECK_STREQ(out, OID1);
	CHECK_INT(gitsync_parse_loose(OID1, 40, out), GITSYNC_LOOSE_OID);
	CHECK_INT(gitsync_parse_loose(OID256 "\n", 65, out), GITSYNC_LOOSE_OID);
	CHECK_INT(gitsync_parse_loose("ref: refs/heads/main\n", 21, out), GITSYNC_LOOSE_SYMREF);
	CHECK_STREQ(out, "refs/heads/main");
	CHECK_INT(gitsync_parse_loose("ref: refs/heads/a..b\n", 21, out), -EINVAL);
	CHECK_INT(gitsync_parse_loose("ref: ../../config\n", 18, out), -EINVAL);
	CHECK_INT(gitsync_parse_loose(OID1 "\n\n", 42, out), -EINVAL);
	CHECK_INT(gitsync_parse_loose(OID1 " \n", 42, out), -EINVAL);
	CHECK_INT(gitsync_parse_loose("0123456789ABCDEF0123456789abcdef01234567", 40, out),
		  -EINVAL);
	CHECK_INT(gitsync_parse_loose(OID1 "0", 41, out), -EINVAL);
	CHECK_INT(gitsync_parse_loose("", 0, out), -EINVAL);
	CHECK_INT(gitsync_parse_loose("ref: refs/heads/a\0b\n", 20, out), -EINVAL);
	CHECK_INT(gitsync_oid_len(OID1, 40), 40);
	CHECK_INT(gitsync_oid_len(OID1, 39), 0);
}

struct collected {
	char names[8][64];
	int n;
	unsigned bad[8];
	int nbad;
};

static int col_ref(const char *name, const char *oid, void *ctx)
{
	struct collected *c = ctx;
	if (c->n < 8)
		snprintf(c->names[c->n++], 64, "%s=%.4s", name, oid);
	return 0;
}

static void col_bad(unsigned line, const char *why, void *ctx)
{
	struct collected *c = ctx;
	if (c->nbad < 8)
		c->bad[c->nbad++] = line;
}

TEST(gitsync_packed_refs)
{
	static const char text[] = "# pack-refs with: peeled fully-peeled sorted \n" OID1
				   " refs/heads/main\n" OID2 " refs/tags/v1\n^" OID1 "\n"
				   "^" OID1 "\n"           /* 5: peel without a ref */
	    OID1 " refs/heads/a..b\n"                      /* 6 */
				   "nothex refs/heads/x\n" /* 7 */
	    OID1 "\n"                                      /* 8 */
	    OID1 " refs/heads/last";                       /* no final newline */
	struct collected c = { 0 };
	CHECK_INT(gitsync_parse_packed(text, sizeof(text) - 1, col_ref, col_bad, &c), 0);
	CHECK_INT(c.n, 3);
	CHECK_STREQ(c.names[0], "refs/heads/main=0123");
	CHECK_STREQ(c.names[1], "refs/tags/v1=89ab");
	CHECK_STREQ(c.names[2], "refs/heads/last=0123");
	CHECK_INT(c.nbad, 4);
	CHECK_INT(c.bad[0], 5);
	CHECK_INT(c.bad[1], 6);
	CHECK_INT(c.bad[2], 7);
	CHECK_INT(c.bad[3], 8);
}

struct raw {
	char lines[8][128];
	int n;
};

static int raw_entry(const char *commit, unsigned mode, const char *oid, char status,
		     const char *path, void *ctx)
{
	struct raw *r = ctx;
	if (r->n < 8)
		snprintf(r->lines[r->n++], 128, "%.4s %o %.4s %c %s", commit, mode, oid, status,
			 path);
	return 0;
}

TEST(gitsync_raw_log)
{
	static const char text[] = "\x01" OID1 "\0\n"
				   ":000000 100644 " OID2 " " OID1 " A\0dir/new file\0"
				   ":100644 120000 " OID1 " " OID2 " T\0link\0"
				   "\x01" OID2 "\0\n"
				   ":100644 000000 " OID1 " " OID2 " D\0gone\0";
	struct raw r = { 0 };
	CHECK_INT(gitsync_parse_raw(text, sizeof(text) - 1, raw_entry, &r), 0);
	CHECK_INT(r.n, 3);
	CHECK_STREQ(r.lines[0], "0123 100644 0123 A dir/new file");
	CHECK_STREQ(r.lines[1], "0123 120000 89ab T link");
	CHECK_STREQ(r.lines[2], "89ab 0 89ab D gone");
	/* A raw line before any commit, a missing path, garbage: refused. */
	static const char nocommit[] = ":000000 100644 " OID2 " " OID1 " A\0x\0";
	CHECK_INT(gitsync_parse_raw(nocommit, sizeof(nocommit) - 1, raw_entry, &r), -EBADMSG);
	static const char nopath[] = "\x01" OID1 "\0:000000 100644 " OID2 " " OID1 " A\0";
	CHECK_INT(gitsync_parse_raw(nopath, sizeof(nopath) - 1, raw_entry, &r), -EBADMSG);
	static const char junk[] = "\x01" OID1 "\0junk\0x\0";
	CHECK_INT(gitsync_parse_raw(junk, sizeof(junk) - 1, raw_entry, &r), -EBADMSG);
}
