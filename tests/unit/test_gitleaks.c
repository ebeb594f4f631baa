/* scan/gitleaks.c: gitleaks TOML configurations into a rule set; every
 * error names the file and, where one applies, the line. */
#include "unit.h"
#include "unit_scan.h"

#include "scan/gitleaks.h"
#include "scan/scan.h"

TEST(gitleaks_errors_name_file_and_line)
{
	struct {
		const char *toml;
		unsigned line;
		const char *needle;
	} cases[] = {
		{ "[[rules]]\nid = 'x'\nregex = '''(a'''\n", 3, "invalid regex" },
		{ "[[rules]]\nid = 'x'\nregex = 'a'\nbogus = 1\n", 4, "unknown key 'bogus'" },
		{ "[[rules]]\nid = 'x'\nregex = 'a'\nsecretGroup = 2\n", 4, "secretGroup" },
		{ "[[rules]]\nid = 'x'\nregex = 'a'\n[[rules.allowlists]]\nregexTarget = "
		  "'all'\nregexes=['a']\n",
		  5, "regexTarget" },
		{ "[[rules]]\nid = 'x'\nregex = 'a'\n[[rules]]\nid = 'x'\nregex = 'b'\n", 5,
		  "duplicate rule id" },
		{ "[extend]\nuseDefault = 'yes'\n", 2, "useDefault" },
		{ "title = 1\nx = \n", 2, "missing value" },
		{ "[[rules]]\nid = 'x'\nkeywords = 'a'\nregex = 'a'\n", 3, "array" },
		{ "[[rules]]\nid = 'x'\nregex = 'a'\n[[rules.allowlists]]\nregexes = ['ok',\n"
		  "'(bad']\n",
		  6, "invalid regex '(bad'" },
		{ "[[rules]]\nid = 'x'\npath = '[z-a]'\n", 3, "invalid regex '[z-a]'" },
		{ "[allowlist]\ndescription = 'nothing'\n", 1, "at least one of" },
		{ "[extend]\nurl = 'https://example.com/x.toml'\n", 2, "not supported" },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		struct scan_rules *rs = NULL;
		struct error ge;
		CHECK_INT(scan_rules_new(&rs), 0);
		int r = gitleaks_load(rs, "c.toml", cases[i].toml, strlen(cases[i].toml), &ge);
		if (r != -EINVAL || ge.line != cases[i].line ||
		    !strstr(ge.message, cases[i].needle))
			fprintf(stderr, "case %zu: r=%d line %u: %s\n", i, r, ge.line, ge.message);
		CHECK_INT(r, -EINVAL);
		CHECK_INT(ge.line, cases[i].line);
		CHECK(strstr(ge.message, cases[i].needle));
		CHECK_STREQ(ge.where, "c.toml");
		scan_rules_free(rs);
	}
}

/* [extend] useDefault loads clawbox's rules first; disabledRules go
 * afterwards; the file's own rules are added. */
TEST(gitleaks_extend_default_and_disable)
{
	static const char toml[] = "[extend]\nuseDefault = true\ndisabledRules = ['github-token']\n"
				   "[[rules]]\nid = 'mine'\nregex = '''mine_[0-9]{6}'''\n";
	struct scan_rules *rs = NULL;
	struct error err;
	CHECK_INT(scan_rules_new(&rs), 0);
	CHECK_INT(gitleaks_load(rs, "t.toml", toml, strlen(toml), &err), 0);
	CHECK_INT(scan_rules_compile(rs, &err), 0);
	CHECK(scan_rules_has_rule(rs, "aws-access-token"));
	CHECK(!scan_rules_has_rule(rs, "github-token"));
	CHECK_INT(findings(rs, "mine_123456"), 1);
	CHECK_INT(findings(rs, "ghp_0123456789abcdefghijABCDEFGHIJ123456"), 0);
	scan_rules_free(rs);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	CHECK(f);
	CHECK(fputs(text, f) >= 0);
	CHECK_INT(fclose(f), 0);
}

/* [extend] path: the other file's rules come first; an error in it names
 * that file; a file that extends itself stops at the depth limit. */
TEST(gitleaks_extend_path)
{
	char dir[] = "/tmp/clawbox-unit-gitleaks.XXXXXX", base[PATH_MAX], top[PATH_MAX + 32];
	struct scan_rules *rs = NULL;
	struct error err;
	CHECK(mkdtemp(dir));
	snprintf(base, sizeof(base), "%s/base.toml", dir);
	snprintf(top, sizeof(top), "[extend]\npath = '%s'\n", base);
	write_text(base, "[[rules]]\nid = 'base'\nregex = 'base_[0-9]{4}'\n");
	CHECK_INT(scan_rules_new(&rs), 0);
	CHECK_INT(gitleaks_load(rs, "top.toml", top, strlen(top), &err), 0);
	CHECK(scan_rules_has_rule(rs, "base"));
	scan_rules_free(rs);

	write_text(base, "title = 'x'\n\n[[rules]]\nid = 'base'\nregex = 'a'\nnope = 1\n");
	CHECK_INT(scan_rules_new(&rs), 0);
	CHECK_INT(gitleaks_load(rs, "top.toml", top, strlen(top), &err), -EINVAL);
	CHECK_STREQ(err.where, base);
	CHECK_INT(err.line, 6);
	scan_rules_free(rs);

	write_text(base, top); /* extends itself */
	CHECK_INT(scan_rules_new(&rs), 0);
	CHECK_INT(gitleaks_load(rs, "top.toml", top, strlen(top), &err), -EINVAL);
	CHECK_STREQ(err.where, base);
	CHECK(strstr(err.message, "too deeply"));
	scan_rules_free(rs);
	CHECK_INT(unlink(base), 0);
	CHECK_INT(rmdir(dir), 0);
}

/* An unreadable file: -EINVAL, the file named, no line; error_format gives
 * the one line cli prints. A success clears an earlier error. */
TEST(gitleaks_load_file_errors)
{
	struct scan_rules *rs = NULL;
	struct error err;
	char buf[ERROR_FORMAT_MAX];
	CHECK_INT(scan_rules_new(&rs), 0);
	CHECK_INT(gitleaks_load_file(rs, "/nonexistent/g.toml", &err), -EINVAL);
	CHECK_INT(err.code, -EINVAL);
	CHECK_INT(err.line, 0);
	CHECK_STREQ(
	    error_format(&err, buf, sizeof(buf)),
	    "'/nonexistent/g.toml': cannot read the configuration: No such file or directory");
	CHECK_INT(gitleaks_load(rs, "b.toml", "x = 1\n", 6, &err), -EINVAL);
	CHECK_STREQ(error_format(&err, buf, sizeof(buf)),
		    "b.toml:1: unknown key 'x' in the configuration");
	CHECK_INT(gitleaks_load(rs, "ok.toml", "title = 'x'\n", 12, &err), 0);
	CHECK(!error_isset(&err));
	CHECK_INT(gitleaks_load_file(rs, "/nonexistent/g.toml", NULL), -EINVAL);
	CHECK_INT(gitleaks_load_default(rs, NULL), 0);
	CHECK(scan_rules_has_rule(rs, "github-token"));
	scan_rules_free(rs);
}
