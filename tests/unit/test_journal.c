/* The sync journal and baseline formats (src/sync/journal.c). */
#include "unit.h"

#include "sync/journal.h"
#include "util/hash.h"

TEST(journal_roundtrip_and_damage)
{
	struct journal j = { 0 }, back = { 0 };
	snprintf(j.id, sizeof(j.id), "0123456789abcdef");
	struct journal_op op = { .action = GATE_ACT_WRITE,
				 .choice = GATE_CHOICE_APPLY,
				 .mode = 0644,
				 .stage = 7,
				 .upper = { 12, 34, -5, 6, 0100644 },
				 .host = "dir/new\nline\xff",
				 .uppath = NULL };
	snprintf(op.old, sizeof(op.old), "-");
	snprintf(op.newv, sizeof(op.newv), "f:%064d", 0);
	CHECK_INT(journal_add(&j, &op), 0);
	struct journal_op l = { .action = GATE_ACT_SYMLINK,
				.choice = GATE_CHOICE_BESIDE,
				.host = "x.from-box",
				.uppath = "x",
				.target = "../t" };
	snprintf(l.old, sizeof(l.old), "d");
	snprintf(l.newv, sizeof(l.newv), "l:%064d", 1);
	CHECK_INT(journal_add(&j, &l), 0);
	struct buf b = BUF_INIT(1 << 20);
	CHECK_INT(journal_format(&j, &b), 0);
	CHECK_INT(journal_parse(b.data, b.len, &back), 0);
	CHECK_INT(back.n, 2);
	CHECK_STREQ(back.id, j.id);
	CHECK_STREQ(back.ops[0].host, "dir/new\nline\xff");
	CHECK_STREQ(back.ops[0].uppath, back.ops[0].host);
	CHECK_INT(back.ops[0].upper.mtime_ns, -5);
	CHECK_INT(back.ops[0].stage, 7);
	CHECK_STREQ(back.ops[1].uppath, "x");
	CHECK_STREQ(back.ops[1].target, "../t");
	CHECK_INT(back.ops[1].choice, GATE_CHOICE_BESIDE);
	journal_free(&back);
	/* Every truncation and every single-byte change is refused. */
	for (size_t n = 0; n < b.len; n++)
		CHECK_INT(journal_parse(b.data, n, &back), -EBADMSG);
	for (size_t i = 0; i < b.len; i++) {
		char saved = b.data[i];
		b.data[i] = saved == 'a' ? 'b' : 'a';
		CHECK_INT(journal_parse(b.data, b.len, &back), -EBADMSG);
		b.data[i] = saved;
	}
	buf_free(&b);
	journal_free(&j);
}

TEST(journal_refuses_escaping_paths)
{
	/* A valid checksum over a path with ".." is still refused. */
	const char *bad[] = { "2e2e2f78", "2f6574632f706173737764", "612f2e2f62",
			      "61"
			      "2f" };
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct buf b = BUF_INIT(1 << 16);
		struct journal j = { 0 };
		CHECK_INT(
		    buf_printf(&b,
			       "clawbox-sync-journal 1 0123456789abcdef\nop m a 755 - - 0 1 2 3 "
			       "4 755 %s - -\n",
			       bad[i]),
		    0);
		char h[65];
		hash_sha256_hex(b.data, b.len, h);
		CHECK_INT(buf_printf(&b, "end %s\n", h), 0);
		CHECK_INT(journal_parse(b.data, b.len, &j), -EBADMSG);
		buf_free(&b);
	}
}

TEST(baseline_roundtrip)
{
	struct baseline bl = { 0 }, back = { 0 };
	struct baseline_rec r = { .path = "a/b", .upper = { 1, 2, 3, 4, 0100644 } };
	CHECK_INT(baseline_put(&bl, &r), 0);
	r.path = "c";
	CHECK_INT(baseline_put(&bl, &r), 0);
	r.upper.ino = 9;
	CHECK_INT(baseline_put(&bl, &r), 0); /* replaces */
	CHECK_INT(bl.n, 2);
	struct buf b = BUF_INIT(1 << 16);
	CHECK_INT(baseline_format(&bl, &b), 0);
	CHECK_INT(baseline_parse(b.data, b.len, &back), 0);
	CHECK_INT(back.n, 2);
	CHECK_INT(baseline_get(&back, "c")->upper.ino, 9);
	CHECK(baseline_get(&back, "zz") == NULL);
	baseline_del(&back, "a/b");
	CHECK(baseline_get(&back, "a/b") == NULL);
	CHECK_INT(baseline_parse(b.data, b.len - 2, &bl), -EBADMSG);
	buf_free(&b);
	baseline_free(&back);
	baseline_free(&bl);
}
