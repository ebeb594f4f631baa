/* Path globs (src/util/pathglob.c): matching, its cost on hostile input,
 * validation, case-insensitive matching. */
#include "unit.h"

#include "util/pathglob.h"

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

TEST(pathglob_nocase)
{
	CHECK(pathglob_match_nocase(".github", ".GitHub/Workflows/a.yml"));
	CHECK(pathglob_match_nocase("*.pth", "a/B.PTH"));
	CHECK(pathglob_match_nocase("[a-c]x", "BX"));
	CHECK(!pathglob_match(".github", ".GitHub/x"));
	CHECK(!pathglob_match_nocase(".github", ".githubx"));
}
