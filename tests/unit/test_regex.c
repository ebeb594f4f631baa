/* scan/regex.c: Go RE2 syntax -> PCRE2, the provider template's anchor, and
 * the compile that reports an invalid pattern. */
#include "unit.h"

#include "scan/scan_int.h"

/* regex_to_pcre(go) must give want and say whether it is byte sensitive. */
static void check_xlat(const char *go, const char *want, bool want_sensitive)
{
	bool sensitive = !want_sensitive;
	_cleanup_free_ char *got = regex_to_pcre(go, &sensitive);
	CHECK(got);
	if (strcmp(got, want) != 0 || sensitive != want_sensitive)
		fprintf(stderr, "'%s': got '%s' (%d), want '%s' (%d)\n", go, got, sensitive, want,
			want_sensitive);
	CHECK_STREQ(got, want);
	CHECK_INT(sensitive, want_sensitive);
}

TEST(regex_go_constructs_translated)
{
	check_xlat("abc", "abc", false);
	check_xlat("a\\sb", "a[\\t\\n\\f\\r ]b", false); /* Go's \s has no \v */
	check_xlat("[\\s=]", "[\\t\\n\\f\\r =]", false);
	check_xlat("\\S+", "[^\\t\\n\\f\\r ]+", true);
	check_xlat("[\\S]", "[\\S]", true);
	check_xlat("\\v", "\\x0b", false); /* Go: the vertical tab, not a class */
	check_xlat("\\d\\w\\b", "\\d\\w\\b", false);
	check_xlat("\\W", "\\W", true);
	check_xlat("\\pL", "\\pL", true);
	check_xlat("a.c", "a.c", true);
	check_xlat("[^a]", "[^a]", true);
	check_xlat("[]a]", "[]a]", false); /* a leading ] is literal */
	check_xlat("[^]a]", "[^]a]", true);
	check_xlat("[[:alpha:]\\]]", "[[:alpha:]\\]]", false);
	check_xlat("\\Q.\\s\\E\\s", "\\Q.\\s\\E[\\t\\n\\f\\r ]", false); /* quoted: verbatim */
	check_xlat("\\Q.\\s", "\\Q.\\s", false);
	check_xlat("x\\", "x\\", false); /* a trailing backslash is left to PCRE2 */
}

static bool anchor_of(const char *pcre, char **ret_anchor, size_t *ret_lead, bool *ret_caseless)
{
	return regex_template_anchor(pcre, ret_anchor, ret_lead, ret_caseless);
}

TEST(regex_template_anchor_found)
{
	_cleanup_free_ char *a = NULL;
	size_t lead = 0;
	bool caseless = false;
	CHECK(anchor_of("(?i)[\\w.-]{0,50}?(?:key|token)(?:[ \\t\\w.-]{0,20})=([a-z0-9]{12,})", &a,
			&lead, &caseless));
	CHECK_STREQ(a, "(?:key|token)");
	CHECK_INT(lead, 50);
	CHECK(caseless);
	free(a);
	a = NULL;
	CHECK(anchor_of("[a-z]{0,7}(?:ab(?:c|d))x", &a, &lead, &caseless));
	CHECK_STREQ(a, "(?:ab(?:c|d))");
	CHECK_INT(lead, 7);
	CHECK(!caseless);
}

TEST(regex_template_anchor_refused)
{
	const char *not_templates[] = {
		"abc",
		"[a]{1,5}(?:x)",    /* not {0,N} */
		"[a]{0,1001}(?:x)", /* N too large */
		"[a]{0,5}(?:x)|y",  /* a match need not follow the template */
		"[^a]{0,5}(?:x)",   /* the class counts bytes wrongly for non-ASCII */
		"[a]{0,5}(?:.x)",   /* so does a wildcard in the anchor */
		"[a]{0,5}x(?:y)",   /* no anchor right after the class */
		"[a]{0,5}(?:x",     /* unclosed */
		"[a{0,5}(?:x)",     /* unclosed class */
	};
	for (size_t i = 0; i < ELEMENTSOF(not_templates); i++) {
		char *a = NULL;
		size_t lead = 0;
		bool caseless = false;
		if (anchor_of(not_templates[i], &a, &lead, &caseless))
			fprintf(stderr, "taken as a template: %s\n", not_templates[i]);
		CHECK(a == NULL);
	}
}

static bool matches(pcre2_code *re, const char *s)
{
	pcre2_match_data *md = pcre2_match_data_create(4, NULL);
	CHECK(md);
	int rc = pcre2_match(re, (PCRE2_SPTR)s, strlen(s), 0, 0, md, NULL);
	pcre2_match_data_free(md);
	return rc >= 0;
}

/* The compiled pattern means what Go means: \s is not \v, $ is the end of
 * the text, \d is ASCII. */
TEST(regex_compile_has_go_semantics)
{
	struct error err = { 0 };
	pcre2_code *re = NULL;
	char *src = NULL;
	bool sensitive = false;
	CHECK_INT(scanlib_load(&err), 0);
	CHECK(!error_isset(&err));
	CHECK_INT(regex_compile(NULL, "^a\\sb$", 0, &re, &sensitive, &src, &err), 0);
	CHECK_STREQ(src, "^a[\\t\\n\\f\\r ]b$");
	CHECK(!sensitive);
	CHECK(matches(re, "a\tb"));
	CHECK(!matches(re, "a\vb"));
	CHECK(!matches(re, "a b\n"));
	pcre2_code_free(re);
	free(src);
	CHECK_INT(regex_compile(NULL, "^\\d+x.$", 0, &re, NULL, NULL, &err), 0);
	CHECK(matches(re, "12x!"));
	CHECK(!matches(re, "\xd9\xa3x!")); /* ARABIC-INDIC DIGIT THREE */
	pcre2_code_free(re);
	CHECK(!error_isset(&err));
}

TEST(regex_compile_reports_invalid)
{
	struct error err = { 0 };
	pcre2_code *re = NULL;
	CHECK_INT(scanlib_load(NULL), 0);
	CHECK_INT(regex_compile(NULL, "ab(c", 0, &re, NULL, NULL, &err), -EINVAL);
	CHECK(re == NULL);
	CHECK_INT(err.code, -EINVAL);
	CHECK_STREQ(err.where, "");
	CHECK_INT(err.line, 0);
	CHECK(strncmp(err.message, "invalid regex 'ab(c': ", 22) == 0);
	CHECK(strstr(err.message, " at offset 4"));
	CHECK_INT(regex_compile(NULL, "a{2,1}", 0, &re, NULL, NULL, NULL), -EINVAL);
}
