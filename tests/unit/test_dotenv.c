#include "unit.h"
#include "secrets/dotenv.h"
#include "secrets/secrets.h"

#include <sys/wait.h>

struct got {
	char names[16][DOTENV_NAME_MAX + 1];
	char values[16][256];
	size_t lens[16];
	unsigned lines[16];
	size_t n;
};

static int collect(const char *name, const char *value, size_t len, unsigned line, void *ctx)
{
	struct got *g = ctx;
	CHECK(g->n < 16 && len < 256);
	snprintf(g->names[g->n], sizeof(g->names[0]), "%s", name);
	memcpy(g->values[g->n], value, len);
	g->values[g->n][len] = '\0';
	CHECK_INT(strlen(value), len);
	g->lens[g->n] = len;
	g->lines[g->n] = line;
	g->n++;
	return 0;
}

/* Parse a copy of text (with its NUL slot), as the callers do. */
static int parse(const char *text, struct got *g, struct error *err)
{
	size_t len = strlen(text);
	char *copy = malloc(len + 1);
	memcpy(copy, text, len + 1);
	memset(g, 0, sizeof(*g));
	int r = dotenv_parse(copy, len, "t.env", collect, g, err);
	free(copy);
	return r;
}

TEST(dotenv_basics)
{
	struct got g;
	struct error e;
	CHECK_INT(parse("# comment\n\n  \nA=1\nexport B=two\n  C = spaced  \nD=\n", &g, &e), 4);
	CHECK_STREQ(g.names[0], "A");
	CHECK_STREQ(g.values[0], "1");
	CHECK_INT(g.lines[0], 4);
	CHECK_STREQ(g.names[1], "B");
	CHECK_STREQ(g.values[1], "two");
	CHECK_STREQ(g.names[2], "C");
	CHECK_STREQ(g.values[2], "spaced");
	CHECK_STREQ(g.names[3], "D");
	CHECK_STREQ(g.values[3], "");
	CHECK_INT(g.lines[3], 7);
}

TEST(dotenv_exact_names)
{
	struct got g;
	struct error e;
	CHECK_INT(parse("AZURE_OPENAI_API_KEY=azure\nOPENAI_API_KEY=openai\n#OPENAI_API_KEY=old\n",
			&g, &e),
		  2);
	CHECK_STREQ(g.names[0], "AZURE_OPENAI_API_KEY");
	CHECK_STREQ(g.values[0], "azure");
	CHECK_STREQ(g.names[1], "OPENAI_API_KEY");
	CHECK_STREQ(g.values[1], "openai");
}

TEST(dotenv_hash_and_equals)
{
	struct got g;
	struct error e;
	CHECK_INT(parse("A=x=y==z\nB=abc#def\nC=abc #comment\nD=#start\nE= #only comment\n"
			"F=a\t# tab comment\n",
			&g, &e),
		  6);
	CHECK_STREQ(g.values[0], "x=y==z");
	CHECK_STREQ(g.values[1], "abc#def");
	CHECK_STREQ(g.values[2], "abc");
	CHECK_STREQ(g.values[3], "#start");
	CHECK_STREQ(g.values[4], "");
	CHECK_STREQ(g.values[5], "a");
}

TEST(dotenv_quotes)
{
	struct got g;
	struct error e;
	CHECK_INT(parse("A='single # not a comment \\n'\n"
			"B=\"tab\\tnl\\nq\\\"bs\\\\dollar\\$x\\q\" # comment\n"
			"C=\"multi\nline\"\n"
			"D='it''s'\n"
			"E=\"\"\n"
			"F=mid\"quote'\n",
			&g, &e),
		  -EINVAL); /* D: text after the closing quote */
	CHECK_INT(e.line, 5);
	CHECK_INT(parse("A='single # not a comment \\n'\n"
			"B=\"tab\\tnl\\nq\\\"bs\\\\dollar\\$x\\q\" # comment\n"
			"C=\"multi\nline\"\n"
			"E=\"\"\n"
			"F=mid\"quote'\n",
			&g, &e),
		  5);
	CHECK_STREQ(g.values[0], "single # not a comment \\n");
	CHECK_STREQ(g.values[1], "tab\tnl\nq\"bs\\dollar$x\\q");
	CHECK_STREQ(g.values[2], "multi\nline");
	CHECK_INT(g.lines[3], 5);
	CHECK_STREQ(g.values[3], "");
	CHECK_STREQ(g.values[4], "mid\"quote'");
}

TEST(dotenv_crlf)
{
	struct got g;
	struct error e;
	CHECK_INT(parse("# c\r\nA=1\r\nB=\"two\"\r\nC='x\r\ny'\r\nD=last\r", &g, &e), 4);
	CHECK_STREQ(g.values[0], "1");
	CHECK_STREQ(g.values[1], "two");
	CHECK_STREQ(g.values[2], "x\ny");
	CHECK_STREQ(g.values[3], "last");
	CHECK_INT(g.lines[3], 6);
}

TEST(dotenv_errors_have_lines_and_no_content)
{
	static const struct {
		const char *text;
		unsigned line;
		const char *msg;
	} cases[] = {
		{ "A=1\n1BAD=x\n", 2, "invalid name" },
		{ "A=1\nB-C=x\n", 2, "invalid name" },
		{ "A=1\n\nsk-ant-secretvalue\n", 3, "invalid name" },
		{ "JUSTNAME\n", 1, "'=' expected" },
		{ "export B\n", 1, "'=' expected" },
		{ "A B=1\n", 1, "'=' expected" },
		{ "A=1\nB=\"open\nC=2\n", 2, "unterminated double quote" },
		{ "B='open\n", 1, "unterminated single quote" },
		{ "B=\"x\" y\n", 1, "after the closing quote" },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		struct got g;
		struct error e;
		CHECK_INT(parse(cases[i].text, &g, &e), -EINVAL);
		if (e.line != cases[i].line || !strstr(e.message, cases[i].msg)) {
			fprintf(stderr, "case %zu: line %u '%s'\n", i, e.line, e.message);
			CHECK(0);
		}
		CHECK_INT(e.code, -EINVAL);
		CHECK_STREQ(e.where, "t.env");
		CHECK(!strstr(e.message, "secretvalue") && !strstr(e.message, "open"));
	}
}

TEST(dotenv_nul_and_caps)
{
	char buf[64] = "A=1\nB=x\0y\n";
	struct got g = { .n = 0 };
	struct error e;
	CHECK_INT(dotenv_parse(buf, 10, NULL, collect, &g, &e), -EINVAL);
	CHECK_INT(e.line, 2);
	CHECK(strstr(e.message, "NUL"));
	CHECK_INT(g.n, 0); /* nothing handed out before the check */

	size_t big = DOTENV_VALUE_MAX + 16;
	char *v = malloc(big + 8);
	memcpy(v, "A=", 2);
	memset(v + 2, 'x', big);
	v[big + 2] = '\0';
	CHECK_INT(dotenv_parse(v, big + 2, NULL, collect, &g, &e), -EINVAL);
	CHECK(strstr(e.message, "longer than"));
	free(v);

	char name[DOTENV_NAME_MAX + 8];
	memset(name, 'N', sizeof(name));
	memcpy(name + DOTENV_NAME_MAX + 1, "=1\n", 4);
	CHECK_INT(parse(name, &g, &e), -EINVAL);
	CHECK(strstr(e.message, "name longer"));
	CHECK(dotenv_name_valid("_A1"));
	CHECK(!dotenv_name_valid("1A"));
	CHECK(!dotenv_name_valid(""));
	CHECK(!dotenv_name_valid("A.B"));
}

/* ---- secrets ---- */

static char *tmpfile_with(const char *text, mode_t mode)
{
	char *path = strdup("/tmp/clawbox-unit.XXXXXX");
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK((size_t)write(fd, text, strlen(text)) == strlen(text));
	fchmod(fd, mode);
	close(fd);
	return path;
}

TEST(secrets_precedence_and_duplicates)
{
	struct secrets *s;
	struct error err;
	CHECK_INT(secrets_new(&s), 0);
	CHECK_INT(secrets_put(s, "K", "from-cli", 8, SECRET_SOURCE_CLI, "-e", 0), 0);
	char *f = tmpfile_with("K=from-file\nL=first\nL=second\nM=file\n", 0600);
	CHECK_INT(secrets_load_file(s, f, SECRET_SOURCE_FILE, 0, &err), 4);
	CHECK_INT(secrets_put(s, "M", "stored", 6, SECRET_SOURCE_STORE, NULL, 0), 0);
	CHECK_INT(secrets_put(s, "N", "stored", 6, SECRET_SOURCE_STORE, NULL, 0), 0);
	CHECK_STREQ(secrets_get(s, "K")->value, "from-cli");
	CHECK_STREQ(secrets_get(s, "L")->value, "second");
	CHECK_STREQ(secrets_get(s, "M")->value, "file");
	CHECK_INT(secrets_get(s, "M")->source, SECRET_SOURCE_FILE);
	CHECK_STREQ(secrets_get(s, "N")->value, "stored");
	CHECK_INT(secrets_count(s), 4);
	CHECK_STREQ(secrets_at(s, 0)->name, "K");
	CHECK_INT(secrets_warning_count(s), 1);
	CHECK(strstr(secrets_warning(s, 0), "line 3: 'L' is set again (first on line 2)"));
	CHECK_INT(secrets_put(s, "bad-name", "x", 1, SECRET_SOURCE_CLI, "-e", 0), -EINVAL);
	CHECK_INT(secrets_put(s, "Z", "a\0b", 3, SECRET_SOURCE_CLI, "-e", 0), -EILSEQ);
	CHECK_INT(secrets_unset(s, "K"), 0);
	CHECK_INT(secrets_unset(s, "K"), -ENOENT);
	unlink(f);
	free(f);
	secrets_free(s);
}

TEST(secrets_bad_files_add_nothing)
{
	struct secrets *s;
	struct error err;
	CHECK_INT(secrets_new(&s), 0);
	char *f = tmpfile_with("A=1\nB=\"unterminated\n", 0600);
	CHECK_INT(secrets_load_file(s, f, SECRET_SOURCE_FILE, 0, &err), -EINVAL);
	CHECK_STREQ(err.where, f);
	CHECK_INT(err.line, 2);
	CHECK_STREQ(err.message, "unterminated double quote");
	CHECK_INT(secrets_count(s), 0);
	unlink(f);
	free(f);

	f = tmpfile_with("A=1\n", 0644);
	CHECK_INT(secrets_load_file(s, f, SECRET_SOURCE_FILE, SECRETS_STRICT, &err), -EPERM);
	CHECK(strstr(err.message, "readable by others"));
	CHECK_INT(secrets_count(s), 0);
	CHECK_INT(secrets_load_file(s, f, SECRET_SOURCE_FILE, 0, &err), 1);
	CHECK_INT(secrets_warning_count(s), 1);
	unlink(f);
	free(f);

	CHECK_INT(secrets_load_file(s, "/nonexistent/x.env", SECRET_SOURCE_FILE, 0, &err), -ENOENT);
	CHECK_INT(
	    secrets_load_file(s, "/nonexistent/x.env", SECRET_SOURCE_FILE, SECRETS_OPTIONAL, &err),
	    0);
	CHECK_INT(secrets_load_file(s, "/dev/null", SECRET_SOURCE_FILE, 0, &err), -EINVAL);
	char link[] = "/tmp/clawbox-unit.lnkXXXXXX";
	CHECK(mkdtemp(link));
	char lp[128];
	snprintf(lp, sizeof(lp), "%s/env", link);
	CHECK_INT(symlink("/proc/self/environ", lp), 0);
	CHECK_INT(secrets_load_file(s, lp, SECRET_SOURCE_FILE, 0, &err), -EPERM);
	CHECK(strstr(err.message, "symlink"));
	unlink(lp);
	rmdir(link);
	secrets_free(s);
}

TEST(secrets_store_roundtrip)
{
	char dir[] = "/tmp/clawbox-unit.storeXXXXXX";
	CHECK(mkdtemp(dir));
	struct secrets *s, *t;
	struct error err;
	const char odd[] = "q\"b\\s$d`t\tn\nr\r#=' end ";
	CHECK_INT(secrets_new(&s), 0);
	CHECK_INT(secrets_put(s, "ODD", odd, sizeof(odd) - 1, SECRET_SOURCE_CLI, NULL, 0), 0);
	CHECK_INT(secrets_put(s, "PLAIN", "v", 1, SECRET_SOURCE_FILE, NULL, 0), 0);
	CHECK_INT(secrets_store_save(dir, s), 0);
	char path[256];
	snprintf(path, sizeof(path), "%s/" SECRETS_STORE_FILE, dir);
	struct stat st;
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 07777, 0600);
	CHECK_INT(secrets_new(&t), 0);
	CHECK_INT(secrets_store_load(dir, t, SECRETS_STRICT, &err), 2);
	CHECK_INT(secrets_get(t, "ODD")->len, sizeof(odd) - 1);
	CHECK(memcmp(secrets_get(t, "ODD")->value, odd, sizeof(odd) - 1) == 0);
	CHECK_INT(secrets_get(t, "ODD")->source, SECRET_SOURCE_STORE);
	chmod(path, 0604);
	secrets_free(t);
	CHECK_INT(secrets_new(&t), 0);
	CHECK_INT(secrets_store_load(dir, t, SECRETS_STRICT, &err), -EPERM);
	unlink(path);
	CHECK_INT(symlink("/etc/passwd", path), 0);
	CHECK(secrets_store_load(dir, t, 0, &err) < 0);
	CHECK(strstr(err.message, "symlink"));
	unlink(path);
	rmdir(dir);
	secrets_free(s);
	secrets_free(t);
}

TEST(secrets_environment)
{
	struct secrets *s;
	struct secrets_env *env;
	char *base[] = { "PATH=/bin", "HOME=/h", "TOKEN=base", NULL };
	CHECK_INT(secrets_new(&s), 0);
	CHECK_INT(secrets_put(s, "TOKEN", "secret-1", 8, SECRET_SOURCE_CLI, NULL, 0), 0);
	CHECK_INT(secrets_put(s, "TOK", "secret-2", 8, SECRET_SOURCE_CLI, NULL, 0), 0);
	CHECK_INT(secrets_env_build(s, base, &env), 0);
	char *const *v = secrets_env_vector(env);
	CHECK_STREQ(v[0], "PATH=/bin");
	CHECK_STREQ(v[1], "HOME=/h");
	CHECK_STREQ(v[2], "TOK=secret-2");
	CHECK_STREQ(v[3], "TOKEN=secret-1");
	CHECK(v[4] == NULL);
	secrets_env_free(env);
	secrets_free(s);
}

static void check_redact(const struct secrets *s, const char *in, const char *want)
{
	char *out = NULL;
	int r = secrets_redact(s, in, strlen(in), &out);
	CHECK(r >= 0);
	CHECK_STREQ(r ? out : in, want);
	free(out);
}

TEST(secrets_redaction)
{
	struct secrets *s;
	CHECK_INT(secrets_new(&s), 0);
	CHECK_INT(secrets_put(s, "API", "sk-live-0123456789", 18, SECRET_SOURCE_CLI, NULL, 0), 0);
	CHECK_INT(secrets_put(s, "LONG", "sk-live-0123456789-more", 23, SECRET_SOURCE_CLI, NULL, 0),
		  0);
	CHECK_INT(secrets_put(s, "SHORT", "abc", 3, SECRET_SOURCE_CLI, NULL, 0), 0);
	check_redact(s, "nothing here abc", "nothing here abc");
	check_redact(s, "key=sk-live-0123456789 and sk-live-0123456789-more!",
		     "key=[REDACTED:API] and [REDACTED:LONG]!");
	/* base64 of the value, alone and inside longer encodings at every
	 * alignment, in both alphabets */
	check_redact(s, "c2stbGl2ZS0wMTIzNDU2Nzg5", "[REDACTED:API]");
	check_redact(s, "Basic dXNlcjpzay1saXZlLTAxMjM0NTY3ODk=", "Basic dXNlcjp[REDACTED:API]k=");
	check_redact(s, "eHNrLWxpdmUtMDEyMzQ1Njc4OQ", "eH[REDACTED:API]Q");
	check_redact(s, "eHhzay1saXZlLTAxMjM0NTY3ODk", "eHh[REDACTED:API]k");
	secrets_free(s);
}

/* Feed in as chunks cut at the given points (flushing where asked), and
 * return what the stream passed on. */
static char *stream_through(const struct secrets *s, const char *in, const size_t *cuts,
			    size_t ncuts, bool flush_at_cuts)
{
	struct secrets_stream *st;
	static char got[4096];
	size_t n = 0, from = 0, len = strlen(in);
	const char *out;
	size_t k;
	CHECK_INT(secrets_stream_new(s, &st), 0);
	for (size_t c = 0; c <= ncuts; c++) {
		size_t to = c < ncuts ? cuts[c] : len;
		CHECK_INT(secrets_stream_feed(st, in + from, to - from, &out, &k), 0);
		memcpy(got + n, out, k);
		n += k;
		if (flush_at_cuts) {
			CHECK_INT(secrets_stream_flush(st, &out, &k), 0);
			memcpy(got + n, out, k);
			n += k;
		}
		from = to;
	}
	CHECK_INT(secrets_stream_flush(st, &out, &k), 0);
	memcpy(got + n, out, k);
	n += k;
	got[n] = '\0';
	CHECK(!secrets_stream_waiting(st));
	secrets_stream_free(st);
	return got;
}

TEST(secrets_stream_redaction)
{
	struct secrets *s;
	struct secrets_stream *st;
	CHECK_INT(secrets_new(&s), 0);
	CHECK_INT(secrets_stream_new(s, &st), 0);
	CHECK(st == NULL); /* nothing to redact: no stream */
	CHECK_INT(secrets_put(s, "API", "sk-live-0123456789", 18, SECRET_SOURCE_CLI, NULL, 0), 0);
	CHECK_INT(secrets_put(s, "LONG", "sk-live-0123456789-more", 23, SECRET_SOURCE_CLI, NULL, 0),
		  0);
	const char *in =
	    "a sk-live-0123456789 b sk-live-0123456789-more c c2stbGl2ZS0wMTIzNDU2Nzg5 "
	    "d sk-live-012 e";
	const char *want = "a [REDACTED:API] b [REDACTED:LONG] c [REDACTED:API] d sk-live-012 e";
	/* One cut anywhere, and two anywhere: the same as the whole text. */
	for (size_t i = 0; i <= strlen(in); i++) {
		size_t one[] = { i };
		CHECK_STREQ(stream_through(s, in, one, 1, false), want);
		for (size_t j = i; j <= strlen(in); j += 7) {
			size_t two[] = { i, j };
			CHECK_STREQ(stream_through(s, in, two, 2, false), want);
		}
	}
	/* A value cut by a flush (no more output for a while) goes out as two
	 * pieces: the stream never holds the terminal back for long; the
	 * second is a suffix of the value, caught when 12 bytes or more. */
	size_t cut[] = { 6 }, late[] = { 12 };
	CHECK_STREQ(stream_through(s, "x sk-live-0123456789 y", cut, 1, true),
		    "x sk-l[REDACTED:API] y");
	/* both pieces under 12 bytes: neither is caught (docs/SECRETS.md) */
	CHECK_STREQ(stream_through(s, "x sk-live-0123456789 y", late, 1, true),
		    "x sk-live-0123456789 y");
	/* What waits: a prefix, flushed soon only while short. */
	const char *out;
	size_t k;
	CHECK_INT(secrets_stream_new(s, &st), 0);
	CHECK_INT(secrets_stream_feed(st, "ab sk-", 6, &out, &k), 0);
	CHECK(k == 3 && memcmp(out, "ab ", 3) == 0);
	CHECK_INT(secrets_stream_flush_in(st), SECRETS_STREAM_WAIT_MS);
	CHECK_INT(secrets_stream_feed(st, "live-0", 6, &out, &k), 0);
	CHECK(k == 0);
	CHECK_INT(secrets_stream_flush_in(st), -1); /* 9 bytes of a value: wait for more */
	CHECK_INT(secrets_stream_feed(st, "9", 1, &out, &k), 0);
	CHECK(k == 10 && memcmp(out, "sk-live-09", 10) == 0); /* not a value after all */
	CHECK(!secrets_stream_waiting(st));
	secrets_stream_free(st);
	secrets_free(s);
}

/* A prefix or a suffix of a value shown alone (a key dialog shows a key's
 * last 20 characters): 12 characters or more are redacted, whole; 11 are
 * not; the longest match wins. In a stream a prefix is caught across any
 * cut, a suffix whole when it comes in one chunk, and its last 12
 * characters always. */
TEST(secrets_redaction_prefix_suffix)
{
	static const char key[] = "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789";
	struct secrets *s;
	CHECK_INT(secrets_new(&s), 0);
	CHECK_INT(secrets_put(s, "K", key, strlen(key), SECRET_SOURCE_CLI, NULL, 0), 0);
	check_redact(s, "key ...StUvWxYz0123456789 set", "key ...[REDACTED:K] set");
	check_redact(s, "tail z0123456789 only 11", "tail z0123456789 only 11");
	check_redact(s, "tail Yz0123456789 is 12", "tail [REDACTED:K] is 12");
	check_redact(s, "head sk-ant-api03-AbC... shown", "head [REDACTED:K]... shown");
	check_redact(s, "head sk-ant-api0 is 11", "head sk-ant-api0 is 11");
	check_redact(s, "both sk-ant-api03-AbCd...Yz0123456789!",
		     "both [REDACTED:K]...[REDACTED:K]!");
	check_redact(s, key, "[REDACTED:K]");
	const char *in = "dialog: ...StUvWxYz0123456789 and sk-ant-api03-AbCdE... end";
	const char *want = "dialog: ...[REDACTED:K] and [REDACTED:K]... end";
	for (size_t i = 0; i <= strlen(in); i++) {
		size_t one[] = { i };
		const char *got = stream_through(s, in, one, 1, false);
		if (i <= 11 || i >= 29) /* the cut outside the suffix */
			CHECK_STREQ(got, want);
		CHECK(strstr(got, "Yz0123456789") == NULL);
		CHECK(strstr(got, "sk-ant-api03-") == NULL);
	}
	secrets_free(s);
}

TEST(secrets_memory_is_not_dumped)
{
	char *p = secrets_mem_alloc(100);
	CHECK(p != NULL);
	memcpy(p, "marker-for-smaps", 16);
	FILE *f = fopen("/proc/self/smaps", "re");
	CHECK(f);
	char line[512];
	unsigned long start, end, me = (unsigned long)p;
	bool in = false, found = false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			in = me >= start && me < end;
		if (in && strncmp(line, "VmFlags:", 8) == 0)
			found = strstr(line, " dd") != NULL;
	}
	fclose(f);
	CHECK(found);
	secrets_mem_free(p);
	CHECK(secrets_mem_free(NULL) == NULL);
}

/* The known set: a name may hold several values, each learnt once; never
 * more than the bounds (no value is dropped to make room); every value is
 * redacted under its name; values are matched literally. */
TEST(secrets_known_set)
{
	struct secrets *k, *s;
	CHECK_INT(secrets_new_known(&k), 0);
	CHECK_INT(secrets_know(k, "TOKEN", "first-value-1", 13), 1);
	CHECK_INT(secrets_know(k, "TOKEN", "first-value-1", 13), 0);
	CHECK_INT(secrets_know(k, "TOKEN", "second-value-2", 14), 1);
	CHECK_INT(secrets_know(k, "A", "a.b*c+[x]$(y)", 13), 1);
	CHECK_INT(secrets_know(k, "bad-name", "x", 1), -EINVAL);
	CHECK_INT(secrets_know(k, "E", "", 0), 0);
	CHECK_INT(secrets_put(k, "P", "v", 1, SECRET_SOURCE_CLI, NULL, 0), -EINVAL);
	CHECK_INT(secrets_count(k), 3);
	CHECK_STREQ(secrets_at(k, 0)->name, "A");
	check_redact(k, "old first-value-1 new second-value-2",
		     "old [REDACTED:TOKEN] new [REDACTED:TOKEN]");
	check_redact(k, "a.b*c+[x]$(y) aXb*c+[x]$(y) abbbc", "[REDACTED:A] aXb*c+[x]$(y) abbbc");
	/* hex, both cases */
	check_redact(k, "666972737420", "666972737420");
	check_redact(k, "66697273742d76616c75652d31", "[REDACTED:TOKEN]");
	check_redact(k, "66697273742D76616C75652D31", "[REDACTED:TOKEN]");
	/* URL-encoded, both cases; a value with nothing to escape has no
	 * such form */
	CHECK_INT(secrets_know(k, "U", "a+b/c=d e", 9), 1);
	check_redact(k, "?q=a%2Bb%2Fc%3Dd%20e&x", "?q=[REDACTED:U]&x");
	check_redact(k, "?q=a%2bb%2fc%3dd%20e&x", "?q=[REDACTED:U]&x");
	check_redact(k, "?q=a%2Bb", "?q=a%2Bb");
	/* a set of run values joins */
	CHECK_INT(secrets_new(&s), 0);
	CHECK_INT(secrets_put(s, "TOKEN", "second-value-2", 14, SECRET_SOURCE_CLI, NULL, 0), 0);
	CHECK_INT(secrets_put(s, "NEW", "third-value-3", 13, SECRET_SOURCE_CLI, NULL, 0), 0);
	CHECK_INT(secrets_know_all(k, s), 1);
	secrets_free(s);
	secrets_free(k);
	/* the bounds: count */
	CHECK_INT(secrets_new_known(&k), 0);
	char v[32];
	for (int i = 0; i < SECRETS_KNOWN_MAX; i++) {
		snprintf(v, sizeof(v), "value-%08d", i);
		CHECK_INT(secrets_know(k, "N", v, strlen(v)), 1);
	}
	CHECK_INT(secrets_know(k, "N", "one-more-value", 14), -ENOSPC);
	CHECK_INT(secrets_know(k, "N", "value-00000000", 14), 0);
	CHECK_INT(secrets_count(k), SECRETS_KNOWN_MAX);
	secrets_free(k);
	/* bytes */
	CHECK_INT(secrets_new_known(&k), 0);
	char *big = malloc(SECRETS_VALUE_MAX);
	CHECK(big != NULL);
	int i;
	for (i = 0;; i++) {
		memset(big, 'a' + i % 26, SECRETS_VALUE_MAX);
		big[0] = (char)('0' + i % 10);
		big[1] = (char)('0' + i / 10);
		int r = secrets_know(k, "B", big, SECRETS_VALUE_MAX);
		if (r == -ENOSPC)
			break;
		CHECK_INT(r, 1);
	}
	CHECK_INT(i, SECRETS_KNOWN_BYTES / SECRETS_VALUE_MAX);
	free(big);
	secrets_free(k);
}

/* secrets.known: written 0600, read back whole, the store's values joined;
 * unset from the store does not forget. */
TEST(secrets_known_file_roundtrip)
{
	char dir[64] = "/tmp/clawbox-unit.XXXXXX", path[128];
	struct secrets *s, *k;
	struct error err;
	struct stat st;
	CHECK(mkdtemp(dir) != NULL);
	CHECK_INT(secrets_new(&s), 0);
	CHECK_INT(secrets_put(s, "ST", "stored-value-1", 14, SECRET_SOURCE_STORE, NULL, 0), 0);
	CHECK_INT(secrets_store_save(dir, s), 0);
	CHECK_INT(secrets_unset(s, "ST"), 0);
	CHECK_INT(secrets_put(s, "RUN", "multi\nline \"q\" $x\\", 18, SECRET_SOURCE_CLI, NULL, 0),
		  0);
	/* the store first (what `secrets unset` does), then a run's set */
	CHECK_INT(secrets_known_record(dir, NULL, NULL, &err), 0);
	CHECK_INT(secrets_known_record(dir, s, &k, &err), 0);
	CHECK_INT(secrets_count(k), 2);
	secrets_free(k);
	CHECK_INT(secrets_store_save(dir, s), 0); /* ST gone from the store */
	secrets_free(s);
	snprintf(path, sizeof(path), "%s/" SECRETS_KNOWN_FILE, dir);
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 07777, 0600);
	CHECK_INT(secrets_new_known(&k), 0);
	CHECK_INT(secrets_known_load(dir, k, &err), 2);
	CHECK(secrets_get(k, "ST") != NULL);
	CHECK_STREQ(secrets_get(k, "RUN")->value, "multi\nline \"q\" $x\\");
	secrets_free(k);
}
