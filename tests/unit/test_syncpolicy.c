/* The sync policy ($BOX/config.toml's [sync] table, src/sync/syncpolicy.c):
 * defaults and keys, the execute-on-host list, errors with their lines. */
#include "unit.h"

#include "sync/syncpolicy.h"
#include "util/pathglob.h"

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
