/* Agent profiles (src/agents/profile.h): the built-in ones parse, good and
 * bad files, overrides from the box dir, and which profile a command picks. */
#include "unit.h"

#include "agents/profile.h"
#include "util/buf.h"
#include "util/fs.h"

static struct agent_profile *parse_ok(const char *s)
{
	struct agent_profile *p = NULL;
	struct error err = { 0 };
	int r = agent_profile_parse("t", s, strlen(s), "t.toml", &p, &err);
	if (r < 0)
		fprintf(stderr, "%u: %s\n", err.line, err.message);
	CHECK_INT(r, 0);
	return p;
}

static void parse_err(const char *s, unsigned line, const char *needle)
{
	struct agent_profile *p = NULL;
	struct error err = { 0 };
	int r = agent_profile_parse("t", s, strlen(s), "t.toml", &p, &err);
	CHECK_INT(r, -EINVAL);
	CHECK(p == NULL);
	if (!strstr(err.message, needle))
		fprintf(stderr, "message: %s\n", err.message);
	CHECK(strstr(err.message, needle) != NULL);
	CHECK_INT(err.line, line);
	CHECK_STREQ(err.where, "t.toml");
}

TEST(profile_builtin_all_parse)
{
	size_t n = 0;
	for (const char *name; (name = agent_builtin_name(n)); n++) {
		struct agent_profile *p = NULL;
		CHECK_INT(agent_profile_load(NULL, name, &p, NULL), 0);
		CHECK_STREQ(p->name, name);
		CHECK(p->commands && p->commands[0]);
		agent_profile_free(p);
	}
	CHECK_INT(n, 5);
}

TEST(profile_builtin_contents)
{
	struct agent_profile *p = NULL;
	CHECK_INT(agent_profile_load(NULL, "claude", &p, NULL), 0);
	CHECK_STREQ(p->file, "built-in agents/claude.toml");
	CHECK_STREQ(p->env.v[0].name, "IS_SANDBOX");
	CHECK_STREQ(p->env.v[0].value, "1");
	CHECK_STREQ(p->allow.v[0].name, "platform.claude.com");
	p = agent_profile_free(p);
	CHECK_INT(agent_profile_load(NULL, "codex", &p, NULL), 0);
	CHECK_INT(p->files.n, 1);
	CHECK_STREQ(p->files.v[0].name, ".codex/config.toml");
	CHECK_INT(p->files.v[0].mode, 0600);
	CHECK(strstr(p->files.v[0].value, "sandbox_mode = \"danger-full-access\"\n"));
	p = agent_profile_free(p);
	CHECK_INT(agent_profile_load(NULL, "openclaw", &p, NULL), 0);
	CHECK_STREQ(p->state.v[0].name, ".openclaw-state");
	agent_profile_free(p);
	CHECK_INT(agent_profile_load(NULL, "nosuch", &p, NULL), -ENOENT);
	CHECK_INT(agent_profile_load(NULL, "../x", &p, NULL), -ENOENT);
}

TEST(profile_good)
{
	struct agent_profile *p = parse_ok("description = \"d\"\n"
					   "commands = [\"a\", \"b\"]\n"
					   "packages = [\"@s/a\"]\n"
					   "[[env]]\nname = \"X\"\nvalue = \"\"\n"
					   "[[env]]\nname = \"Y\"\nvalue = \"2\"\nwhy = \"w\"\n"
					   "when = \"config\"\n"
					   "[[allow]]\ndomain = \"*.example.com:8443\"\n"
					   "[[file]]\npath = \"a/b.txt\"\ncontent = \"hi\"\n"
					   "[[state]]\npath = \".s\"\n");
	CHECK_STREQ(p->description, "d");
	CHECK_STREQ(p->commands[1], "b");
	CHECK(p->commands[2] == NULL);
	CHECK_STREQ(p->packages[0], "@s/a");
	CHECK_INT(p->env.n, 2);
	CHECK_STREQ(p->env.v[0].value, "");
	CHECK(p->env.v[0].why == NULL);
	CHECK_STREQ(p->env.v[1].why, "w");
	CHECK(!p->env.v[0].only_with_config);
	CHECK(p->env.v[1].only_with_config);
	CHECK_INT(p->env.v[1].line, 7);
	CHECK_INT(p->files.v[0].mode, 0644);
	CHECK_STREQ(p->files.v[0].value, "hi");
	agent_profile_free(p);
	agent_profile_free(parse_ok(""));
}

TEST(profile_bad_lines)
{
	parse_err("x = 1\n", 1, "unknown key 'x'");
	parse_err("\ncommands = \"a\"\n", 2, "array of strings");
	parse_err("commands = [\"a/b\"]\n", 1, "not a command");
	parse_err("commands = [\"a b\"]\n", 1, "not a command");
	parse_err("[[env]]\nname = \"1X\"\nvalue = \"v\"\n", 2, "invalid variable name");
	parse_err("[[env]]\nname = \"X\"\n", 1, "without 'value'");
	parse_err("[[env]]\nname = \"X\"\nvalue = 1\n", 3, "must be a string");
	parse_err("[[env]]\nname = \"X\"\nvalue = \"a\"\n[[env]]\nname = \"X\"\nvalue = \"b\"\n", 4,
		  "already in [[env]] (line 1)");
	parse_err("[[env]]\nname = \"X\"\nvalue = \"v\"\nvalu = \"w\"\n", 4, "unknown key 'valu'");
	parse_err("[[file]]\npath = \"../x\"\ncontent = \"\"\n", 2, "normalized path");
	parse_err("[[file]]\npath = \"/etc/x\"\ncontent = \"\"\n", 2, "normalized path");
	parse_err("[[file]]\npath = \"a//b\"\ncontent = \"\"\n", 2, "normalized path");
	parse_err("[[file]]\npath = \"a\"\n", 1, "without 'content'");
	parse_err("[[file]]\npath = \"a\"\ncontent = \"\"\nmode = 0o1777\n", 4, "'mode'");
	parse_err("[[state]]\npath = \"a/./b\"\n", 2, "normalized path");
	parse_err("[[allow]]\ndomain = \"a b\"\n", 2, "invalid domain");
	parse_err("[[allow]]\nwhy = \"w\"\n", 1, "without 'domain'");
	parse_err("env = 1\n", 1, "array of tables");
	parse_err("[[env]]\nname = \"X\"\nvalue = \"v\"\nwhen = \"always\"\n", 4, "'when'");
	parse_err("[[state]]\npath = \"x\"\nwhen = \"config\"\n", 3, "unknown key 'when'");
	parse_err("a = \"unterminated\n", 1, "");
}

TEST(profile_limits)
{
	char *s = malloc(AGENT_FILE_MAX + 2);
	struct agent_profile *p = NULL;
	memset(s, '#', AGENT_FILE_MAX + 1);
	s[AGENT_FILE_MAX + 1] = '\0';
	CHECK_INT(agent_profile_parse("t", s, AGENT_FILE_MAX + 1, "t", &p, NULL), -E2BIG);
	free(s);
	struct buf b = BUF_INIT(1 << 20);
	for (int i = 0; i <= AGENT_ITEMS_MAX; i++)
		buf_printf(&b, "[[state]]\npath = \"d%d\"\n", i);
	CHECK_INT(agent_profile_parse("t", b.data, b.len, "t", &p, NULL), -EINVAL);
	buf_free(&b);
	CHECK_INT(agent_profile_parse("Bad", "", 0, "t", &p, NULL), -EINVAL);
	CHECK(!agent_path_valid("a/"));
	CHECK(!agent_path_valid(".."));
	CHECK(!agent_path_valid("a\tb"));
	CHECK(agent_path_valid(".config/x-y/z.json"));
}

static char *box_dir(void)
{
	char tmpl[] = "/tmp/clawbox-unit-profile.XXXXXX", path[PATH_MAX];
	CHECK(mkdtemp(tmpl) != NULL);
	snprintf(path, sizeof(path), "%s/%s", tmpl, AGENT_DIR);
	CHECK(mkdir(path, 0700) == 0);
	return strdup(tmpl);
}

static void put(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s/%s", dir, AGENT_DIR, name);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	fputs(text, f);
	fclose(f);
}

TEST(profile_override_replaces)
{
	char *dir = box_dir();
	struct agent_profile *p = NULL;
	struct error err = { 0 };
	put(dir, "claude.toml", "commands = [\"claude\"]\n[[env]]\nname = \"A\"\nvalue = \"1\"\n");
	CHECK_INT(agent_profile_load(dir, "claude", &p, NULL), 0);
	CHECK_INT(p->env.n, 1); /* replaced, not merged: no IS_SANDBOX */
	CHECK_STREQ(p->env.v[0].name, "A");
	CHECK_INT(p->allow.n, 0);
	CHECK(strstr(p->file, "/agents/claude.toml") != NULL);
	p = agent_profile_free(p);
	put(dir, "codex.toml", "[[env]]\nname = \"A\"\nvalue = 1\n");
	CHECK_INT(agent_profile_load(dir, "codex", &p, &err), -EINVAL);
	CHECK_INT(err.line, 3);
	CHECK(strstr(err.where, "/agents/codex.toml") != NULL);
	/* load_all fails on it too: a bad file changes nothing */
	struct agent_profile **v = NULL;
	size_t n = 0;
	CHECK_INT(agent_profiles_load_all(dir, &v, &n, &err), -EINVAL);
	put(dir, "codex.toml", "commands = [\"codex\"]\n");
	put(dir, "mine.toml", "commands = [\"my-agent\"]\n");
	put(dir, "Not-A-Profile.toml", "garbage = \n");
	CHECK_INT(agent_profiles_load_all(dir, &v, &n, &err), 0);
	CHECK_INT(n, 6);
	char *argv[] = { (char *)"/opt/bin/my-agent", NULL };
	ssize_t i = agent_pick(argv, v, n);
	CHECK(i >= 0);
	CHECK_STREQ(v[i]->name, "mine");
	agent_profiles_free(v, n);
	free(dir);
}

static const char *pick(char **argv)
{
	static char name[AGENT_NAME_MAX + 1];
	struct agent_profile **v = NULL;
	size_t n = 0;
	CHECK_INT(agent_profiles_load_all(NULL, &v, &n, NULL), 0);
	ssize_t i = agent_pick(argv, v, n);
	snprintf(name, sizeof(name), "%s", i >= 0 ? v[i]->name : "-");
	agent_profiles_free(v, n);
	return name;
}

#define PICK(want, ...) CHECK_STREQ(pick((char *[]){ __VA_ARGS__, NULL }), want)

TEST(profile_pick)
{
	PICK("claude", "claude", "-p", "hi");
	PICK("claude", "/usr/local/bin/claude");
	PICK("codex", "./codex", "exec");
	PICK("openclaw", "openclaw", "gateway");
	PICK("aider", "aider");
	PICK("gemini", "gemini");
	PICK("codex", "npx", "-y", "@openai/codex@0.171.0", "exec");
	PICK("claude", "npx", "@anthropic-ai/claude-code");
	PICK("claude", "bunx", "claude");
	PICK("aider", "uvx", "aider-chat==0.86");
	PICK("aider", "pipx", "run", "aider-chat");
	PICK("gemini", "pnpm", "dlx", "@google/gemini-cli");
	PICK("openclaw", "npx", "--", "openclaw@2026.9.6");
	PICK("-", "node", "/x/node_modules/@openai/codex/bin/codex.js");
	PICK("-", "python3", "-m", "aider");
	PICK("-", "npx");
	PICK("-", "npx", "-y");
	PICK("-", "npx", "cowsay");
	PICK("-", "npm", "install", "claude");
	PICK("-", "npm", "run", "claude");
	PICK("codex", "npm", "exec", "--", "@openai/codex");
	PICK("-", "claude-helper");
	PICK("-", "sh", "-c", "claude");
	PICK("-", "");
}
