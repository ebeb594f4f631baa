/* scan/rules.c: building a rule set (its errors name the problem, not a
 * file), replacing and disabling rules, known secrets and their variants,
 * and the compile that freezes the set. */
#include "unit.h"
#include "unit_scan.h"

#include "scan/scan_int.h"

static struct scan_rules *new_rules(void)
{
	struct scan_rules *rs = NULL;
	CHECK_INT(scan_rules_new(&rs), 0);
	return rs;
}

static void check_error(const struct error *err, int code, const char *message)
{
	if (!strstr(err->message, message))
		fprintf(stderr, "message: '%s', want '%s'\n", err->message, message);
	CHECK_INT(err->code, code);
	CHECK(strstr(err->message, message));
	CHECK_STREQ(err->where, "");
	CHECK_INT(err->line, 0);
}

TEST(rules_add_rule_errors)
{
	struct scan_rules *rs = new_rules();
	struct error err = { 0 };
	struct scan_rule_spec spec = { .regex = "a" };
	CHECK_INT(scan_rules_add_rule(rs, &spec, &err), -EINVAL);
	check_error(&err, -EINVAL, "rule without an id");
	spec = (struct scan_rule_spec){ .id = "x" };
	CHECK_INT(scan_rules_add_rule(rs, &spec, &err), -EINVAL);
	check_error(&err, -EINVAL, "rule 'x' has neither regex nor path");
	spec.regex = "a(b";
	CHECK_INT(scan_rules_add_rule(rs, &spec, &err), -EINVAL);
	check_error(&err, -EINVAL, "invalid regex 'a(b': ");
	spec.regex = "a(b)";
	spec.secret_group = 2;
	CHECK_INT(scan_rules_add_rule(rs, &spec, &err), -EINVAL);
	check_error(&err, -EINVAL, "rule 'x': secretGroup 2 but the regex has 1 groups");
	spec.secret_group = 0;
	spec.path = "[";
	CHECK_INT(scan_rules_add_rule(rs, &spec, &err), -EINVAL);
	check_error(&err, -EINVAL, "invalid regex '['");
	CHECK_INT(scan_rules_count(rs), 0);
	spec.path = NULL;
	CHECK_INT(scan_rules_add_rule(rs, &spec, NULL), 0); /* err may be NULL */
	CHECK_INT(scan_rules_count(rs), 1);
	scan_rules_free(rs);
}

TEST(rules_allowlist_errors)
{
	struct scan_rules *rs = new_rules();
	struct error err = { 0 };
	const char *bad[] = { "ok", "(x" };
	struct scan_allowlist_spec al = { .regexes = bad, .n_regexes = 1 };
	CHECK_INT(scan_rules_add_allowlist(rs, "nope", &al, &err), -ENOENT);
	check_error(&err, -ENOENT, "no rule 'nope'");
	CHECK_INT(scan_rules_add_allowlist(rs, NULL, &al, &err), 0);
	al.n_regexes = 2;
	CHECK_INT(scan_rules_add_allowlist(rs, NULL, &al, &err), -EINVAL);
	check_error(&err, -EINVAL, "invalid regex '(x'");
	al = (struct scan_allowlist_spec){ .paths = bad + 1, .n_paths = 1 };
	CHECK_INT(scan_rules_add_allowlist(rs, NULL, &al, NULL), -EINVAL);
	CHECK_INT(rs->n_global, 1); /* the failed ones left nothing behind */
	scan_rules_free(rs);
}

/* A rule added again under its id replaces the first; a disabled rule is
 * gone; once compiled the set refuses every change. */
TEST(rules_replace_disable_freeze)
{
	struct scan_rules *rs = new_rules();
	struct scan_rule_spec a = { .id = "r", .regex = "aaa[0-9]" };
	struct scan_rule_spec b = { .id = "r", .regex = "bbb[0-9]" };
	struct scan_rule_spec c = { .id = "c", .regex = "ccc[0-9]" };
	CHECK_INT(scan_rules_add_rule(rs, &a, NULL), 0);
	CHECK_INT(scan_rules_add_rule(rs, &b, NULL), 0);
	CHECK_INT(scan_rules_add_rule(rs, &c, NULL), 0);
	CHECK_INT(scan_rules_count(rs), 2);
	CHECK_INT(scan_rules_disable(rs, "c"), 0);
	CHECK_INT(scan_rules_disable(rs, "c"), -ENOENT);
	CHECK(!scan_rules_has_rule(rs, "c"));
	CHECK_INT(scan_rules_count(rs), 1);
	CHECK_INT(scan_rules_compile(rs, NULL), 0);
	CHECK_INT(findings(rs, "aaa1 bbb2 ccc3"), 1);
	CHECK_INT(scan_rules_compile(rs, NULL), -EBUSY);
	CHECK_INT(scan_rules_add_rule(rs, &c, NULL), -EBUSY);
	CHECK_INT(scan_rules_disable(rs, "r"), -EBUSY);
	CHECK_INT(scan_rules_add_ignore(rs, "f:r:1"), -EBUSY);
	CHECK_INT(scan_rules_add_known_secret(rs, "K", "abcdef", 6), -EBUSY);
	scan_rules_free(rs);
}

/* Names and sizes a known secret may have. */
TEST(rules_known_secret_limits)
{
	struct scan_rules *rs = new_rules();
	CHECK_INT(scan_rules_add_known_secret(rs, "A.b-c_9", "abcd", 4), 0);
	CHECK_INT(scan_rules_add_known_secret(rs, "", "abcd", 4), -EINVAL);
	CHECK_INT(scan_rules_add_known_secret(rs, NULL, "abcd", 4), -EINVAL);
	CHECK_INT(scan_rules_add_known_secret(rs, "a b", "abcd", 4), -EINVAL);
	CHECK_INT(scan_rules_add_known_secret(rs, "a/b", "abcd", 4), -EINVAL);
	CHECK_INT(scan_rules_add_known_secret(rs, "K", "abc", 3), -EINVAL);
	char name[66];
	memset(name, 'n', 65);
	name[65] = '\0';
	CHECK_INT(scan_rules_add_known_secret(rs, name, "abcd", 4), -EINVAL);
	name[64] = '\0';
	CHECK_INT(scan_rules_add_known_secret(rs, name, "abcd", 4), 0);
	CHECK_INT(rs->n_known, 2);
	CHECK_STREQ(rs->known_names[0], "known-secret:A.b-c_9");
	scan_rules_free(rs);
}

static bool has_variant(const struct scan_rules *rs, const char *s, bool caseless)
{
	for (size_t i = 0; i < rs->n_variants; i++)
		if (rs->variants[i].len == strlen(s) &&
		    !memcmp(rs->variants[i].bytes, s, strlen(s)) &&
		    rs->variants[i].caseless == caseless)
			return true;
	return false;
}

/* The variants of a value: raw; base64 at each of the three alignments in
 * both alphabets, only the characters that encode nothing but the value;
 * hex, caseless; URL-encoded, caseless. */
TEST(rules_known_secret_variants)
{
	struct scan_rules *rs = new_rules();
	const char v[] = "a?b>c~d";
	CHECK_INT(scan_rules_add_known_secret(rs, "K", v, strlen(v)), 0);
	CHECK(has_variant(rs, v, false));
	/* base64: YT9iPmN+ZA== at 0, xGE/Yj5jfmQ= at 1, xxhP2I+Y35k at 2 */
	CHECK(has_variant(rs, "YT9iPmN+Z", false));
	CHECK(has_variant(rs, "YT9iPmN-Z", false)); /* the URL alphabet */
	CHECK(has_variant(rs, "E/Yj5jfm", false));
	CHECK(has_variant(rs, "E_Yj5jfm", false));
	CHECK(has_variant(rs, "hP2I+Y35k", false));
	CHECK(!has_variant(rs, "YT9iPmN+ZA", false)); /* 'A' encodes padding bits too */
	CHECK(has_variant(rs, "613f623e637e64", true));
	CHECK(has_variant(rs, "a%3Fb%3Ec~d", true));
	scan_rules_free(rs);
}
