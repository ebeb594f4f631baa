/* What the pieces of the scanner share (not an API: include it only from
 * src/scan/ and the scanner's unit tests). The public contract is scan.h.
 *
 *   regex.c    Go RE2 syntax -> what PCRE2 and Hyperscan take; the provider
 *              template's anchor
 *   rules.c    the rule set: rules, allowlists, ignores, known secrets, and
 *              scan_rules_compile() which builds the Hyperscan databases
 *   dbcache.c  the on-disk cache of those compiled databases
 *   scan.c     matching: scanning a buffer, findings, allowlists at scan
 *              time, entropy
 */
#ifndef CLAWBOX_SCAN_INT_H
#define CLAWBOX_SCAN_INT_H
#include "util/common.h"

#include "scan/scan.h"
#include "scan/scanlib.h"
#include "util/error.h"

#define MAX_KNOWN 1024 /* known secrets in one rule set */

struct allowlist {
	bool cond_and, has_commits;
	enum scan_target target;
	pcre2_code **regexes;
	size_t n_regexes;
	pcre2_code **paths;
	size_t n_paths;
	char **stopwords;
	size_t n_stopwords;
};

struct rule {
	char *id, *description;
	char **tags;
	size_t n_tags;
	char *regex_src; /* translated to PCRE syntax */
	pcre2_code *re;
	uint32_t ncaptures;
	pcre2_code *path_re;
	int secret_group;
	double entropy;
	char **keywords;
	size_t n_keywords;
	unsigned *kw_ids;
	struct allowlist *allowlists;
	size_t n_allowlists;
	bool disabled;
	bool byte_sensitive; /* could match non-ASCII through . [^ ] \S \W \D */
	bool in_hs;          /* has a prefilter pattern */
	size_t width;        /* max match width in bytes, SIZE_MAX if unbounded */
	/* The gitleaks template CLASS{0,N}?(?:ANCHOR)...: see regex_template_anchor(). */
	char *anchor; /* the anchor's pattern, NULL if not of that form */
	bool anchor_caseless;
	bool anchored;      /* confirmed in windows before anchor occurrences */
	size_t anchor_lead; /* N */
	size_t anchor_minw, anchor_maxw;
};

struct known_variant {
	char *bytes;
	size_t len;
	unsigned known; /* index into known names */
	bool caseless;
};

struct scan_rules {
	struct rule *rules;
	size_t n, cap;
	struct allowlist *global;
	size_t n_global;
	char **ignores;
	size_t n_ignores, cap_ignores;
	char **known_names; /* "known-secret:NAME" */
	size_t n_known;
	struct known_variant *variants;
	size_t n_variants, cap_variants;
	char **kw; /* unique lowercase keywords */
	size_t n_kw;
	unsigned *hs_rule_of;     /* hs id -> rule index */
	unsigned *anchor_rule_of; /* anchor hs id -> rule index */
	hs_database_t *db_rules, *db_kw, *db_known, *db_anchor;
	hs_scratch_t *scratch;
	pcre2_compile_context *cctx;
	bool compiled;
};

/* ---- regex.c ---- */

/* src (Go RE2 syntax) in PCRE2 syntax, a new string; NULL when out of
 * memory. *ret_byte_sensitive: whether the pattern can match a non-ASCII
 * byte through a wildcard, a negated class or \S \W \D. */
char *regex_to_pcre(const char *src, bool *ret_byte_sensitive);

/* Whether src (PCRE2 syntax) has the gitleaks provider template's form
 * [(?i)]CLASS{0,N}[?](?:ANCHOR)REST; then *ret_anchor is a new string
 * "(?:ANCHOR)", *ret_lead is N and *ret_caseless tells (?i). */
bool regex_template_anchor(const char *src, char **ret_anchor, size_t *ret_lead,
			   bool *ret_caseless);

/* go_src (Go syntax) compiled by PCRE2 with cctx (UTF, DOLLAR_ENDONLY,
 * MATCH_INVALID_UTF, plus extra), JIT-compiled when possible, in *ret_re.
 * *ret_sensitive (may be NULL) is as regex_to_pcre() says, *ret_src (may be
 * NULL) the PCRE2 source, a new string. -EINVAL with err holding "invalid
 * regex '...': why at offset N", or -ENOMEM. */
int regex_compile(pcre2_compile_context *cctx, const char *go_src, uint32_t extra,
		  pcre2_code **ret_re, bool *ret_sensitive, char **ret_src, struct error *err);

/* ---- dbcache.c ---- */

/* Loads rs's prefilter and anchor databases and the per-rule decisions of
 * their compile (width, in_hs, anchored, anchor widths, the id tables) from
 * the cache. 0, or < 0 when there is no usable entry; then rs may hold part
 * of an entry, which the caller frees. */
int dbcache_load(struct scan_rules *rs);

/* The cache entry's path for rs (whether or not it exists). */
int dbcache_path(const struct scan_rules *rs, char *out, size_t n);

/* Stores what dbcache_load() reads. Failing changes nothing. */
void dbcache_store(const struct scan_rules *rs);

#endif
