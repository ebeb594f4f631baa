/* Scanner engine: gitleaks semantics, known secrets, threads, bad input. */
#include "unit.h"

#include <pthread.h>

#include "scan/gitleaks.h"
#include "scan/scan.h"

struct got {
	char rule[8][96];
	char secret[8][128];
	unsigned line[8], col[8];
	int n;
};

static int collect(const struct scan_finding *f, void *ud)
{
	struct got *g = ud;
	if (g->n < 8) {
		snprintf(g->rule[g->n], sizeof(g->rule[0]), "%s", f->rule_id);
		if (f->secret)
			snprintf(g->secret[g->n], sizeof(g->secret[0]), "%.*s", (int)f->secret_len,
				 f->secret);
		else
			g->secret[g->n][0] = '\0';
		g->line[g->n] = f->start_line;
		g->col[g->n] = f->start_col;
	}
	g->n++;
	return 0;
}

static struct scan_rules *rules_from(const char *toml)
{
	struct scan_rules *rs = NULL;
	struct error ge, err;
	CHECK_INT(scan_rules_new(&rs), 0);
	int r = gitleaks_load(rs, "test.toml", toml, strlen(toml), &ge);
	if (r < 0)
		fprintf(stderr, "%s:%u: %s\n", ge.where, ge.line, ge.message);
	CHECK_INT(r, 0);
	CHECK_INT(scan_rules_compile(rs, &err), 0);
	return rs;
}

static struct got scan(const struct scan_rules *rs, const char *path, const char *text)
{
	struct got g = { .n = 0 };
	int r = scan_buffer(rs, path, text, strlen(text), collect, &g);
	CHECK_INT(r, g.n);
	return g;
}

static const char RULE_GENERIC[] =
    "[[rules]]\nid = 'gen'\nregex = '''(?i)[\\w.-]{0,50}?(?:key|token)(?:[ \\t\\w.-]{0,20})"
    "[\\s'\"]{0,3}=[ '\"]{0,5}([a-z0-9]{12,})'''\n";

static const char RULE[] =
    "[[rules]]\nid = 'tok'\nregex = '''tok_([a-z0-9]{10})'''\nkeywords = ['tok_']\n";

TEST(scan_secret_group_location_and_allow)
{
	struct scan_rules *rs = rules_from(RULE);
	struct got g = scan(rs, "f.txt", "first line\n  x = tok_abcdef1234 y\n");
	CHECK_INT(g.n, 1);
	CHECK_STREQ(g.rule[0], "tok");
	CHECK_STREQ(g.secret[0], "abcdef1234");
	CHECK_INT(g.line[0], 2);
	CHECK_INT(g.col[0], 7);
	g = scan(rs, "f.txt", "x = tok_abcdef1234 # gitleaks:allow\n");
	CHECK_INT(g.n, 0);
	g = scan(rs, "f.txt", "x = TOK_abcdef1234\n"); /* keyword is caseless, regex is not */
	CHECK_INT(g.n, 0);
	g = scan(rs, "f.txt", "tok_aaaaaaaaaa tok_bbbbbbbbbb\ntok_cccccccccc");
	CHECK_INT(g.n, 3);
	CHECK_INT(g.line[2], 2);
	scan_rules_free(rs);
}

TEST(scan_entropy_keywords_allowlists)
{
	struct scan_rules *rs = rules_from(
	    "[allowlist]\npaths = ['''\\.lock$''']\nstopwords = ['fake']\n"
	    "[[rules]]\nid = 'ent'\nregex = '''key=(\\w+)'''\nentropy = 3.0\nkeywords = ['key=']\n"
	    "[[rules.allowlists]]\nregexTarget = 'line'\nregexes = ['''^\\s*#''']\n"
	    "[[rules.allowlists]]\ncondition = 'AND'\npaths = ['''test''']\nregexes = "
	    "['''^z''']\n");
	CHECK_INT(scan(rs, "a", "key=aaaaaaaaaaaaaaa\n").n, 0); /* entropy 0 */
	CHECK_INT(scan(rs, "a", "key=a1b2c3d4e5f6g7h8\n").n, 1);
	CHECK_INT(scan(rs, "x.lock", "key=a1b2c3d4e5f6g7h8\n").n, 0);  /* global path */
	CHECK_INT(scan(rs, "a", "key=a1b2fakec3d4e5f6g7h8\n").n, 0);   /* stopword */
	CHECK_INT(scan(rs, "a", "# key=a1b2c3d4e5f6g7h8\n").n, 0);     /* line target */
	CHECK_INT(scan(rs, "test/a", "key=za1b2c3d4e5f6g7h8\n").n, 0); /* AND: both */
	CHECK_INT(scan(rs, "prod/a", "key=za1b2c3d4e5f6g7h8\n").n, 1); /* AND: path fails */
	CHECK_INT(scan(rs, "test/a", "key=a1b2c3d4e5f6g7h8\n").n, 1);  /* AND: regex fails */
	CHECK(scan_entropy("aaaa", 4) == 0.0);
	CHECK(scan_entropy("abcdefgh", 8) == 3.0);
	scan_rules_free(rs);
}

TEST(scan_go_syntax_and_path_rules)
{
	struct scan_rules *rs = rules_from(
	    "[[rules]]\nid = 'dollar'\nregex = '''end=(\\d+)$'''\n"
	    "[[rules]]\nid = 'space'\nregex = '''sp\\s(\\d\\d)'''\n"
	    "[[rules]]\nid = 'p12'\npath = '''\\.p12$'''\n"
	    "[[rules]]\nid = 'yaml'\npath = '''\\.ya?ml$'''\nregex = '''pw: (\\S+)'''\n");
	/* Go's $ is end of text, not end of line */
	CHECK_INT(scan(rs, "a", "end=12\nmore").n, 0);
	CHECK_INT(scan(rs, "a", "more\nend=12").n, 1);
	/* Go's \s excludes the vertical tab */
	CHECK_INT(scan(rs, "a",
		       "sp\x0b"
		       "12")
		      .n,
		  0);
	CHECK_INT(scan(rs, "a", "sp 12").n, 1);
	struct got g = scan(rs, "dir/cert.p12", "whatever");
	CHECK_INT(g.n, 1);
	CHECK_STREQ(g.rule[0], "p12");
	CHECK_INT(scan(rs, "x.yml", "pw: hunter2").n, 1);
	CHECK_INT(scan(rs, "x.txt", "pw: hunter2").n, 0);
	CHECK_INT(scan(rs, NULL, "pw: hunter2").n, 0);
	scan_rules_free(rs);
}

TEST(scan_ignore_fingerprints)
{
	struct scan_rules *rs = NULL;
	struct error ge, err;
	CHECK_INT(scan_rules_new(&rs), 0);
	CHECK_INT(gitleaks_load(rs, "t", RULE, strlen(RULE), &ge), 0);
	const char ign[] = "# comment\nf.txt:tok:2\n";
	CHECK_INT(scan_rules_add_ignore_text(rs, ign, strlen(ign)), 0);
	CHECK_INT(scan_rules_compile(rs, &err), 0);
	CHECK_INT(scan(rs, "f.txt", "tok_abcdef1234\n").n, 1);
	CHECK_INT(scan(rs, "f.txt", "\ntok_abcdef1234\n").n, 0);
	CHECK_INT(scan(rs, "g.txt", "\ntok_abcdef1234\n").n, 1);
	scan_rules_free(rs);
}

TEST(scan_known_secrets_all_encodings)
{
	struct scan_rules *rs = NULL;
	struct error err;
	const char *v = "s3cr3t/V@lue+42!";
	CHECK_INT(scan_rules_new(&rs), 0);
	CHECK_INT(scan_rules_add_known_secret(rs, "MY_KEY", v, strlen(v)), 0);
	CHECK_INT(scan_rules_add_known_secret(rs, "bad name", v, strlen(v)), -EINVAL);
	CHECK_INT(scan_rules_add_known_secret(rs, "SHORT", "abc", 3), -EINVAL);
	CHECK_INT(scan_rules_compile(rs, &err), 0);
	const char *texts[] = {
		"raw: s3cr3t/V@lue+42! end",
		"b64: czNjcjN0L1ZAbHVlKzQyIQ==",        /* base64 at offset 0 */
		"b64: eHMzY3IzdC9WQGx1ZSs0MiE=",        /* "x" + value */
		"b64: eHhzM2NyM3QvVkBsdWUrNDIh",        /* "xx" + value */
		"hex: 7333637233742f56406c75652b34322", /* prefix only: no */
		"hex: 7333637233742f56406c75652b343221",
		"HEX: 7333637233742F56406C75652B343221",
		"url: s3cr3t%2FV%40lue%2B42%21",
	};
	int expect[] = { 1, 1, 1, 1, 0, 1, 1, 1 };
	for (size_t i = 0; i < ELEMENTSOF(texts); i++) {
		struct got g = scan(rs, "f", texts[i]);
		if (g.n != expect[i])
			fprintf(stderr, "text %zu: %d findings\n", i, g.n);
		CHECK_INT(g.n, expect[i]);
		if (g.n) {
			CHECK_STREQ(g.rule[0], "known-secret:MY_KEY");
			CHECK_STREQ(g.secret[0], ""); /* never the value */
		}
	}
	scan_rules_free(rs);
}

struct thread_arg {
	const struct scan_rules *rs;
	int found;
};

static void *thread_scan(void *p)
{
	struct thread_arg *a = p;
	struct scan_ctx *ctx = NULL;
	char text[4096];
	if (scan_ctx_new(a->rs, &ctx) < 0)
		return NULL;
	for (int i = 0; i < 200; i++) {
		struct got g = { .n = 0 };
		snprintf(text, sizeof(text), "line\nx = tok_%010d\naws = AKIAQWERTYUIOPASDFGH\n",
			 i);
		if (scan_ctx_buffer(ctx, "f", text, strlen(text), collect, &g) == 2)
			a->found++;
	}
	scan_ctx_free(ctx);
	return NULL;
}

TEST(scan_threads_share_rules)
{
	char toml[512];
	snprintf(toml, sizeof(toml), "%s[[rules]]\nid = 'aws'\nregex = '''AKIA[A-Z2-7]{16}'''\n",
		 RULE);
	struct scan_rules *rs = rules_from(toml);
	pthread_t th[4];
	struct thread_arg args[4];
	for (int i = 0; i < 4; i++) {
		args[i] = (struct thread_arg){ rs, 0 };
		CHECK_INT(pthread_create(&th[i], NULL, thread_scan, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK_INT(args[i].found, 200);
	}
	scan_rules_free(rs);
}

TEST(scan_bad_input_never_crashes)
{
	struct scan_rules *rs = NULL;
	struct error ge, err;
	CHECK_INT(scan_rules_new(&rs), 0);
	CHECK_INT(gitleaks_load_default(rs, &ge), 0);
	CHECK_INT(scan_rules_compile(rs, &err), 0);
	size_t n = 4u << 20;
	char *big = malloc(n);
	CHECK(big);
	for (size_t i = 0; i < n; i++) /* one huge line of invalid UTF-8, NULs, key-ish text */
		big[i] = "key=\xff\xfe\0aZ9+/\xc3"[i % 14];
	struct got g = { .n = 0 };
	CHECK(scan_buffer(rs, "big", big, n, collect, &g) >= 0);
	memset(big, 'a', n);
	memcpy(big, "token = ", 8);
	CHECK(scan_buffer(rs, "big", big, n, collect, &g) >= 0);
	free(big);
	CHECK(scan_buffer(rs, NULL, "", 0, collect, &g) == 0);
	scan_rules_free(rs);
}

/* Rules of gitleaks' template are confirmed only in windows before their
 * anchor's occurrences: the results must equal a plain search's, at the
 * window's edges, for overlapping windows, and for the Unicode case folds
 * Hyperscan does not know (KELVIN SIGN for k, LONG S for s). */
TEST(scan_template_windows_are_exact)
{
	struct scan_rules *rs = rules_from(
	    "[[rules]]\nid = 'tpl'\nregex = '''(?i)[\\w.-]{0,5}?(?:key|token)=([a-z0-9]{6,})'''\n");
	struct got g = scan(rs, "f", "12345key=abcdef");
	CHECK_INT(g.n, 1);
	CHECK_STREQ(g.secret[0], "abcdef");
	CHECK_INT(g.col[0], 1); /* the leftmost start: 5 bytes before the anchor */
	g = scan(rs, "f", "123456key=abcdef");
	CHECK_INT(g.n, 1);
	CHECK_INT(g.col[0], 2); /* 6 bytes before: the match starts one later */
	g = scan(rs, "f", "a.key=abcdef token=qwerty12 xx-KEY=zzzzzz9");
	CHECK_INT(g.n, 3);
	CHECK_STREQ(g.secret[1], "qwerty12");
	CHECK_STREQ(g.secret[2], "zzzzzz9");
	g = scan(rs, "f",
		 "x \xe2\x84\xaa"
		 "ey=abcdef"); /* K = U+212A */
	CHECK_INT(g.n, 1);
	CHECK_STREQ(g.secret[0], "abcdef");
	g = scan(rs, "f",
		 "to\xc5\xbf"
		 "en=abcdef"); /* not a fold of 'k': no match */
	CHECK_INT(g.n, 0);
	g = scan(rs, "f", "\xc3\xa9key=abcdef"); /* non-ASCII before the prefix */
	CHECK_INT(g.n, 1);
	scan_rules_free(rs);
}

/* The compiled databases are cached; a cached load gives the same results,
 * and a damaged or foreign cache file is ignored. */
TEST(scan_compile_cache)
{
	char dir[] = "/tmp/clawbox-unit-cache.XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	setenv("CLAWBOX_CACHE_DIR", dir, 1);
	const char *text = "api_key = \"a1b2c3d4e5f6g7h8i9j0\"\n";
	struct scan_rules *rs = rules_from(RULE_GENERIC);
	struct got g1 = scan(rs, "f", text);
	scan_rules_free(rs);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "test -n \"$(ls %s/scan/*.hsdb)\"", dir);
	CHECK_INT(system(cmd), 0); /* written */
	rs = rules_from(RULE_GENERIC);
	struct got g2 = scan(rs, "f", text);
	scan_rules_free(rs);
	CHECK_INT(g1.n, 1);
	CHECK_INT(g2.n, g1.n);
	CHECK_STREQ(g2.secret[0], g1.secret[0]);
	/* damage it: truncated file */
	snprintf(cmd, sizeof(cmd),
		 "for f in %s/scan/*.hsdb; do head -c 100 $f > $f.x && mv $f.x $f; done", dir);
	CHECK_INT(system(cmd), 0);
	rs = rules_from(RULE_GENERIC);
	struct got g3 = scan(rs, "f", text);
	scan_rules_free(rs);
	CHECK_INT(g3.n, 1);
	/* world-writable: ignored (and rewritten) */
	snprintf(cmd, sizeof(cmd), "chmod 666 %s/scan/*.hsdb", dir);
	CHECK_INT(system(cmd), 0);
	rs = rules_from(RULE_GENERIC);
	struct got g4 = scan(rs, "f", text);
	scan_rules_free(rs);
	CHECK_INT(g4.n, 1);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK_INT(system(cmd), 0);
}
