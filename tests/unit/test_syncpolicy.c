/* The sync gate's pure parts: path globs, the policy file, the journal and
 * baseline formats, path display. */
#include "unit.h"

#include "sync/gate.h"
#include "sync/gate_int.h"
#include "sync/journal.h"
#include "util/pathglob.h"
#include "sync/syncpolicy.h"
#include "util/hash.h"

TEST(pathglob_matches)
{
	CHECK(pathglob_match("**", "a/b/c"));
	CHECK(pathglob_match("*.pem", "k.pem"));
	CHECK(pathglob_match("*.pem", "a/b/k.pem"));
	CHECK(!pathglob_match("*.pem", "a/b/k.pem.txt"));
	CHECK(pathglob_match(".git/hooks/**", ".git/hooks/pre-commit"));
	CHECK(pathglob_match(".git/hooks/**", ".git/hooks/a/b"));
	CHECK(!pathglob_match(".git/hooks/**", ".git/config"));
	CHECK(pathglob_match("**/x", "x"));
	CHECK(pathglob_match("**/x", "a/b/x"));
	CHECK(!pathglob_match("**/x", "a/bx"));
	CHECK(pathglob_match("a/**/z", "a/z"));
	CHECK(pathglob_match("a/**/z", "a/b/c/z"));
	CHECK(!pathglob_match("a/**/z", "b/a/z"));
	CHECK(pathglob_match("src/*.c", "src/main.c"));
	CHECK(!pathglob_match("src/*.c", "src/sub/main.c"));
	CHECK(pathglob_match("node_modules", "node_modules/x/y")); /* a dir covers below */
	CHECK(pathglob_match("build/", "build/obj/a.o"));
	CHECK(pathglob_match("f?o[0-9]", "foo7"));
	CHECK(!pathglob_match("f?o[!0-9]", "foo7"));
	CHECK(pathglob_match("\\*lit", "*lit"));
	CHECK(!pathglob_match("\\*lit", "xlit"));
	CHECK(!pathglob_match("a*", ""));
}

TEST(pathglob_is_linear_on_hostile_input)
{
	char path[4000], pat[200];
	memset(path, 'a', sizeof(path) - 2);
	path[sizeof(path) - 2] = 'b';
	path[sizeof(path) - 1] = '\0';
	snprintf(pat, sizeof(pat), "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*c");
	CHECK(!pathglob_match(pat, path)); /* would take forever with naive backtracking */
	/* "**" against a path of many components: still quick. */
	char deep[4000];
	size_t n = 0;
	for (int i = 0; i < 200 && n + 3 < sizeof(deep); i++) {
		memcpy(deep + n, "a/", 2);
		n += 2;
	}
	deep[n - 1] = '\0';
	CHECK(!pathglob_match("**/a/**/a/**/a/**/a/**/b", deep));
	CHECK(pathglob_match("**/a/**/a", deep));
}

TEST(pathglob_validates)
{
	const char *why = NULL;
	CHECK_INT(pathglob_valid(".git/hooks/**", &why), 0);
	CHECK_INT(pathglob_valid("**/x/**", &why), 0);
	CHECK_INT(pathglob_valid("a/**b", &why), -EINVAL);
	CHECK(strstr(why, "whole path component"));
	CHECK_INT(pathglob_valid("/abs", &why), -EINVAL);
	CHECK_INT(pathglob_valid("[abc", &why), -EINVAL);
	CHECK_INT(pathglob_valid("x\\", &why), -EINVAL);
	CHECK_INT(pathglob_valid("", &why), -EINVAL);
	CHECK_INT(pathglob_valid("a//b", &why), -EINVAL);
}

static const char *policy_err(const char *text, unsigned *line)
{
	static struct error err;
	struct sync_policy p;
	int r = syncpolicy_parse(text, strlen(text), "/box", &p, &err);
	CHECK_INT(r, -EINVAL);
	CHECK_INT(err.code, -EINVAL);
	CHECK_STREQ(err.where, ""); /* a text has no name: syncpolicy_load gives it */
	*line = err.line;
	return err.message;
}

TEST(syncpolicy_defaults_and_keys)
{
	struct sync_policy p;
	struct error err;
	const char *why = NULL;
	CHECK_INT(syncpolicy_parse("", 0, "/box", &p, &err), 0);
	CHECK_INT(p.max_size, 10 << 20);
	CHECK_INT(p.auto_interval, 30);
	CHECK(syncpolicy_allowed(&p, "any/thing"));
	CHECK(syncpolicy_needs_approval(&p, ".github/workflows/ci.yml", &why));
	CHECK(syncpolicy_needs_approval(&p, "sub/.bashrc", &why));
	CHECK(syncpolicy_needs_approval(&p, ".vscode/tasks.json", &why));
	CHECK(!syncpolicy_needs_approval(&p, "src/main.c", &why));
	CHECK_STREQ(syncpolicy_blocked_ext(&p, "a/.env"), ".env");
	CHECK_STREQ(syncpolicy_blocked_ext(&p, ".env.local"), ".env");
	CHECK_STREQ(syncpolicy_blocked_ext(&p, "x/KEY.PEM"), ".pem");
	CHECK(!syncpolicy_blocked_ext(&p, "environment.txt"));
	CHECK(!syncpolicy_denied(&p, "x"));
	syncpolicy_free(&p);

	const char *t = "[other]\nx = 1\n[sync]\nallow = [\"src/**\"]\ndeny = [\"*.log\"]\n"
			"max_size = \"2M\"\nauto_interval = 5\ngitleaks_config = \"gl.toml\"\n"
			"blocked_extensions = [\".key\"]\napprove = []\n";
	CHECK_INT(syncpolicy_parse(t, strlen(t), "/box", &p, &err), 0);
	CHECK_INT(p.max_size, 2 << 20);
	CHECK_INT(p.auto_interval, 5);
	CHECK_STREQ(p.gitleaks_config, "/box/gl.toml");
	CHECK(syncpolicy_allowed(&p, "src/a.c"));
	CHECK(!syncpolicy_allowed(&p, "README"));
	CHECK_STREQ(syncpolicy_denied(&p, "src/x.log"), "*.log");
	/* An empty approve list keeps the built-in execute-on-host list. */
	CHECK_STREQ(syncpolicy_needs_approval(&p, ".github/workflows/x.yml", &why), ".github");
	CHECK(!syncpolicy_needs_approval(&p, "src/x.c", &why));
	CHECK(!syncpolicy_blocked_ext(&p, "a.pem"));
	syncpolicy_free(&p);
	/* A given approve list adds to it, with its own reason. */
	t = "[sync]\napprove = [\"deploy/**\"]\n";
	CHECK_INT(syncpolicy_parse(t, strlen(t), "/box", &p, &err), 0);
	CHECK_STREQ(syncpolicy_needs_approval(&p, "deploy/run.sh", &why), "deploy/**");
	CHECK(strstr(why, "approve list"));
	CHECK_STREQ(syncpolicy_needs_approval(&p, "a/b/.envrc", &why), ".envrc");
	CHECK(strstr(why, "direnv"));
	syncpolicy_free(&p);
}

/* The execute-on-host list (issue 10 section 2): at any depth, any case. */
TEST(syncpolicy_exec_on_host)
{
	struct sync_policy p;
	struct error err;
	const char *why = NULL;
	CHECK_INT(syncpolicy_parse("", 0, "/box", &p, &err), 0);
	static const char *const need[] = {
		".devcontainer/devcontainer.json",
		"a/b.code-workspace",
		".husky/pre-commit",
		".pre-commit-config.yaml",
		".github/Workflows/x.yml",
		".GitHub/actions/a/action.yml",
		"sub/.github/workflows/ci.yml",
		".gitlab-ci.yml",
		".gitlab/ci/x.yml",
		".circleci/config.yml",
		"Jenkinsfile",
		"lib/x.pth",
		"venv/lib/site-packages/y.PTH",
		".venv/bin/activate",
		"env/bin/activate.fish",
		"venv/pyvenv.cfg",
		".mise.toml",
		"mise.toml",
		".tool-versions",
		".npmrc",
		"pkg/.npmrc",
		".yarnrc.yml",
		".pnpmfile.cjs",
		"bunfig.toml",
		".gitmodules",
		".gitattributes",
		".envrc",
		".VSCODE/settings.json",
		".idea/workspace.xml",
		"lefthook.yml",
		".travis.yml",
		"azure-pipelines.yml",
		"bitbucket-pipelines.yml",
		".buildkite/pipeline.yml",
		".drone.yml",
		".python-version",
		".nvmrc",
		"sub/.ZSHRC",
		".hg/hgrc",
	};
	for (size_t i = 0; i < ELEMENTSOF(need); i++) {
		why = NULL;
		if (!syncpolicy_needs_approval(&p, need[i], &why))
			fprintf(stderr, "no approval for %s\n", need[i]);
		CHECK(why && why[0]);
	}
	static const char *const data[] = { "Makefile",       ".editorconfig", "src/main.c",
					    "docs/github.md", "bin/tool",      ".clang-format" };
	for (size_t i = 0; i < ELEMENTSOF(data); i++)
		CHECK(!syncpolicy_needs_approval(&p, data[i], &why));
	size_t n = 0;
	const struct syncpolicy_exec *x = syncpolicy_exec_on_host(&n);
	CHECK(n > 40);
	for (size_t i = 0; i < n; i++)
		CHECK(pathglob_valid(x[i].pattern, NULL) == 0 && x[i].reason[0]);
	syncpolicy_free(&p);
}

/* What a case-insensitive filesystem (or HFS+, NTFS) takes for ".git". */
TEST(gate_dotgit_names)
{
	static const char *const yes[] = { ".git",
					   ".GIT",
					   ".Git",
					   ".git.",
					   ".git ",
					   ".git. .",
					   "GIT~1",
					   "git~1",
					   ".g\xe2\x80\x8cit",
					   "\xef\xbb\xbf.git" };
	static const char *const no[] = { "git", ".gitignore", ".git2",   "x.git",
					  ".gi", "GIT~2",      ".github", "" };
	for (size_t i = 0; i < ELEMENTSOF(yes); i++)
		CHECK(gate_name_is_dotgit(yes[i], strlen(yes[i])));
	for (size_t i = 0; i < ELEMENTSOF(no); i++)
		CHECK(!gate_name_is_dotgit(no[i], strlen(no[i])));
}

TEST(pathglob_nocase)
{
	CHECK(pathglob_match_nocase(".github", ".GitHub/Workflows/a.yml"));
	CHECK(pathglob_match_nocase("*.pth", "a/B.PTH"));
	CHECK(pathglob_match_nocase("[a-c]x", "BX"));
	CHECK(!pathglob_match(".github", ".GitHub/x"));
	CHECK(!pathglob_match_nocase(".github", ".githubx"));
}

TEST(syncpolicy_errors_have_lines)
{
	unsigned line;
	CHECK(strstr(policy_err("[sync]\n\nbogus = 1\n", &line), "unknown key 'sync.bogus'"));
	CHECK_INT(line, 3);
	CHECK(strstr(policy_err("[sync]\nallow = \"x\"\n", &line), "array of strings"));
	CHECK_INT(line, 2);
	CHECK(strstr(policy_err("[sync]\ndeny = [\n\"ok\",\n1]\n", &line), "must hold strings"));
	CHECK_INT(line, 4);
	CHECK(strstr(policy_err("[sync]\nmax_size = \"10Q\"\n", &line), "invalid size"));
	CHECK(strstr(policy_err("[sync]\nmax_size = -1\n", &line), "positive"));
	CHECK(strstr(policy_err("[sync]\nauto_interval = 0\n", &line), "auto_interval"));
	CHECK(strstr(policy_err("[sync]\nblocked_extensions = [\"pem\"]\n", &line),
		     "not an extension"));
	CHECK(strstr(policy_err("sync = 1\n", &line), "must be a table"));
	CHECK(strstr(policy_err("[sync\n", &line), "") != NULL);
	CHECK_INT(line, 1);
}

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

TEST(path_display_escapes)
{
	char out[64];
	gate_path_display("a\nb\x1b[31m\xff\\ok", out, sizeof(out));
	CHECK_STREQ(out, "a\\x0ab\\x1b[31m\\xff\\x5cok");
	gate_path_display("d\xc3\xa9j\xc3\xa0", out, sizeof(out));
	CHECK_STREQ(out, "d\xc3\xa9j\xc3\xa0");
	char longp[300];
	memset(longp, 'x', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	gate_path_display(longp, out, sizeof(out));
	CHECK(strlen(out) < sizeof(out));
	CHECK(strstr(out, "..."));
}
