/* TOML reader: accepted forms, values, and line-numbered errors. */
#include "unit.h"

#include "util/toml.h"
#include "util/fs.h"

static struct toml_value *parse_ok(const char *s)
{
	struct toml_value *root = NULL;
	struct error err;
	int r = toml_parse(s, strlen(s), NULL, &root, &err);
	if (r < 0)
		fprintf(stderr, "line %u: %s\n", err.line, err.message);
	CHECK_INT(r, 0);
	return root;
}

static void parse_err(const char *s, unsigned line, const char *needle)
{
	struct toml_value *root = NULL;
	struct error err;
	int r = toml_parse(s, strlen(s), "t.toml", &root, &err);
	CHECK_INT(r, -EINVAL);
	CHECK(root == NULL);
	if (!strstr(err.message, needle))
		fprintf(stderr, "message: %s\n", err.message);
	CHECK(strstr(err.message, needle) != NULL);
	CHECK_INT(err.line, line);
	CHECK_INT(err.code, -EINVAL);
	CHECK_STREQ(err.where, "t.toml");
}

TEST(toml_scalars_and_strings)
{
	struct toml_value *r =
	    parse_ok("# c\n"
		     "title = \"a\\tb\\u00e9\" # trailing\n"
		     "lit = 'C:\\path'\n"
		     "re = '''\\bA3-[A-Z]{6}'''\n"
		     "ml = \"\"\"\nline1\\\n   line2\"\"\"\n"
		     "n = 1_000\nh = 0xff\nf = 3.5\ne = 1e3\nb = true\nc = false\nneg = -7\n"
		     "\"quoted key\" = 1\n"
		     "dotted.key = 'x'\n");
	CHECK_STREQ(toml_get(r, "title")->str.s, "a\tb\xc3\xa9");
	CHECK_STREQ(toml_get(r, "lit")->str.s, "C:\\path");
	CHECK_STREQ(toml_get(r, "re")->str.s, "\\bA3-[A-Z]{6}");
	CHECK_STREQ(toml_get(r, "ml")->str.s, "line1line2");
	CHECK_INT(toml_get(r, "n")->i, 1000);
	CHECK_INT(toml_get(r, "h")->i, 255);
	CHECK(toml_get(r, "f")->f == 3.5);
	CHECK(toml_get(r, "e")->f == 1000.0);
	CHECK(toml_get(r, "b")->b);
	CHECK(!toml_get(r, "c")->b);
	CHECK_INT(toml_get(r, "neg")->i, -7);
	CHECK_INT(toml_get(r, "quoted key")->i, 1);
	CHECK_STREQ(toml_get(toml_get(r, "dotted"), "key")->str.s, "x");
	CHECK_INT(toml_get(r, "re")->line, 4);
	toml_free(r);
}

TEST(toml_tables_and_arrays)
{
	struct toml_value *r =
	    parse_ok("[allowlist]\npaths = [\n  '''a''', # c\n  \"b\",\n]\n"
		     "[[rules]]\nid = 'one'\n[[rules.allowlists]]\nregexes = ['x']\n"
		     "[[rules.allowlists]]\nstopwords = []\n"
		     "[[rules]]\nid = 'two'\n[extend]\nuseDefault = true\n"
		     "inl = { a = 1, b = [1, 2] }\n");
	const struct toml_value *rules = toml_get(r, "rules");
	CHECK(rules && rules->type == TOML_ARRAY);
	CHECK_INT(rules->arr.n, 2);
	CHECK_STREQ(toml_get(rules->arr.items[1], "id")->str.s, "two");
	const struct toml_value *al = toml_get(rules->arr.items[0], "allowlists");
	CHECK_INT(al->arr.n, 2);
	CHECK_STREQ(toml_get(al->arr.items[0], "regexes")->arr.items[0]->str.s, "x");
	CHECK_INT(toml_get(toml_get(r, "allowlist"), "paths")->arr.n, 2);
	CHECK(toml_get(toml_get(r, "extend"), "useDefault")->b);
	CHECK_INT(toml_get(toml_get(toml_get(r, "extend"), "inl"), "b")->arr.n, 2);
	toml_free(r);
}

TEST(toml_errors_name_the_line)
{
	parse_err("a = 1\nb = \n", 2, "missing value");
	parse_err("a = 1\na = 2\n", 2, "duplicate key 'a'");
	parse_err("[t]\nx=1\n[t]\n", 3, "already defined");
	parse_err("x = 'abc\n", 1, "newline in single-line string");
	parse_err("\n\nx = '''abc", 3, "unterminated string");
	parse_err("x = \"\\q\"\n", 1, "invalid escape");
	parse_err("x = 1 2\n", 1, "unexpected");
	parse_err("x = 1979-05-27\n", 1, "dates");
	parse_err("x = [1,\n2\n", 3, "unterminated array");
	parse_err("ok = 1\nx = \"\xff\"\n", 2, "invalid UTF-8");
	parse_err("[[a]]\n[a]\n", 2, "already defined");
	parse_err("a = 1\n[a.b]\n", 2, "already defined");
	parse_err("= 1\n", 1, "key");
	parse_err("x = 007\n", 1, "leading zero");
	struct toml_value *root = NULL;
	CHECK_INT(toml_parse("a\0b", 3, NULL, &root, NULL), -EINVAL);
}

TEST(toml_reads_gitleaks_config)
{
	_cleanup_free_ char *path = NULL, *data = NULL;
	const char *shared = secure_getenv("SHARED");
	size_t len;
	if (!shared)
		SKIP("SHARED is not set (tests/run sets it)");
	CHECK(asprintf(&path, "%s/data/gitleaks/gitleaks.toml", shared) > 0);
	if (access(path, R_OK) < 0)
		SKIP("%s is absent", path);
	CHECK_INT(fs_read_file(path, 1 << 24, &data, &len), 0);
	struct toml_value *r = parse_ok(data);
	const struct toml_value *rules = toml_get(r, "rules");
	CHECK_INT(rules->arr.n, 222);
	CHECK_STREQ(toml_get(rules->arr.items[0], "id")->str.s, "1password-secret-key");
	toml_free(r);
}
