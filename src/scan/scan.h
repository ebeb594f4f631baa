/* Secret scanner engine: gitleaks-compatible rules (PCRE2-JIT confirms what a
 * Hyperscan multi-pattern prefilter proposes) plus known-secret matching.
 *
 * Life cycle:
 *   scan_rules_new()                    empty rule set
 *   scan_rules_add_rule() / _allowlist() / _disable() / _add_ignore()
 *   scan_rules_add_known_secret()       values given by name
 *   (gitleaks_load() in gitleaks.h fills a set from a gitleaks TOML config)
 *   scan_rules_compile()                builds the prefilter databases; the
 *                                       set is immutable from then on
 *   scan_buffer() / scan_ctx_buffer()   scan bytes, any number of threads
 *   scan_rules_free()
 *
 * Thread safety: a compiled struct scan_rules is never written again, so any
 * number of threads may scan with it at once. scan_buffer() allocates its
 * per-call state itself; a thread scanning many buffers should own one
 * struct scan_ctx (scan_ctx_new) and call scan_ctx_buffer(), which reuses it.
 * A scan_ctx must not be used by two threads at once.
 *
 * Semantics follow gitleaks v8 with decoding depth 0: every rule regex runs
 * over the whole buffer (matches may span lines); keywords gate rules;
 * secretGroup/first non-empty group picks the secret; entropy must be above
 * the rule's; global then rule allowlists; "gitleaks:allow" on the match's
 * lines; fingerprints "path:rule:line" listed with scan_rules_add_ignore().
 * Known secrets are reported as rule "known-secret:NAME" whatever the
 * allowlists, ignore list or gitleaks:allow say, and their findings never
 * carry the value (match and secret are NULL). */
#ifndef CLAWBOX_SCAN_H
#define CLAWBOX_SCAN_H
#include "util/common.h"
#include "util/error.h"

struct scan_rules;
struct scan_ctx;

enum scan_target {
	SCAN_TARGET_SECRET = 0,
	SCAN_TARGET_MATCH,
	SCAN_TARGET_LINE,
};

/* A rule as configured (gitleaks [[rules]]). Strings are copied. regex may
 * be NULL for a path-only rule (then path must be set). */
struct scan_rule_spec {
	const char *id;
	const char *description;
	const char *regex; /* Go RE2 syntax */
	const char *path;  /* Go RE2 syntax, matched against the file path */
	int secret_group;  /* 0 = first non-empty group */
	double entropy;    /* 0 = no entropy check */
	const char *const *keywords;
	size_t n_keywords;
	const char *const *tags;
	size_t n_tags;
};

struct scan_allowlist_spec {
	bool cond_and; /* condition = "AND" (default OR) */
	enum scan_target target;
	const char *const *regexes;
	size_t n_regexes;
	const char *const *paths;
	size_t n_paths;
	const char *const *stopwords;
	size_t n_stopwords;
	bool has_commits; /* commits never match when scanning files */
};

/* One finding, valid only during the callback. Offsets are bytes into the
 * scanned buffer; lines and columns are 1-based (end_col inclusive).
 * For path-only rules start = end = 0 and lines are 0. */
struct scan_finding {
	const char *rule_id;
	const char *description;
	const char *const *tags;
	size_t n_tags;
	const char *path;  /* as given to scan_buffer, may be NULL */
	size_t start, end; /* the match */
	const char *match; /* NULL for known secrets */
	size_t match_len;
	const char *secret; /* NULL for known secrets */
	size_t secret_len;
	unsigned start_line, end_line, start_col, end_col;
	double entropy;
	bool known_secret;
	const char *known_name; /* NAME of a known secret */
};

/* Called once per finding, in rule order then position order. Returning < 0
 * stops the scan; scan_*buffer() then returns that value. */
typedef int (*scan_callback)(const struct scan_finding *f, void *userdata);

int scan_rules_new(struct scan_rules **ret);
/* Accepts NULL; returns NULL. */
struct scan_rules *scan_rules_free(struct scan_rules *rs);

/* Adds (or, when the id exists, replaces) a rule. On -EINVAL err (may be
 * NULL) holds a message such as "invalid regex '(a': missing closing
 * parenthesis at offset 2"; err names no file (the caller knows it). */
int scan_rules_add_rule(struct scan_rules *rs, const struct scan_rule_spec *spec,
			struct error *err);
/* Adds an allowlist to rule rule_id, or the global one when rule_id is NULL.
 * -ENOENT when the rule does not exist, -EINVAL for an invalid regex; err
 * says which. */
int scan_rules_add_allowlist(struct scan_rules *rs, const char *rule_id,
			     const struct scan_allowlist_spec *spec, struct error *err);
/* Removes a rule from the set; -ENOENT when absent. */
int scan_rules_disable(struct scan_rules *rs, const char *rule_id);
bool scan_rules_has_rule(const struct scan_rules *rs, const char *rule_id);
size_t scan_rules_count(const struct scan_rules *rs);
/* A fingerprint ("path:rule:line") whose finding is not reported. */
int scan_rules_add_ignore(struct scan_rules *rs, const char *fingerprint);
/* Parses a .gitleaksignore text: one fingerprint a line, '#' comments. */
int scan_rules_add_ignore_text(struct scan_rules *rs, const char *text, size_t len);
/* A secret value reported wherever it occurs raw, base64 (standard and URL
 * alphabets, any alignment), hex (either case) or URL-encoded. The value is
 * copied into memory wiped on free. Values shorter than 4 bytes: -EINVAL.
 * name: [A-Za-z0-9_.-]{1,64}. */
int scan_rules_add_known_secret(struct scan_rules *rs, const char *name, const void *value,
				size_t len);

/* Builds the prefilters; afterwards the set may no longer be changed. When a
 * database cannot be built, err (may be NULL) says which. */
int scan_rules_compile(struct scan_rules *rs, struct error *err);

/* Per-thread scanning state. */
int scan_ctx_new(const struct scan_rules *rs, struct scan_ctx **ret);
struct scan_ctx *scan_ctx_free(struct scan_ctx *ctx);
/* Matches abandoned because a regex hit its match limit since the ctx was
 * created (a pathological input; the rest of that rule's buffer is skipped). */
unsigned scan_ctx_limit_hits(const struct scan_ctx *ctx);

/* Scans data[0..len) as the content of path (path may be NULL: path rules
 * and path allowlists then never match). Returns the number of findings
 * reported, a negative value returned by cb, or -errno. Never reads outside
 * the buffer; NUL bytes and invalid UTF-8 are fine. */
int scan_ctx_buffer(struct scan_ctx *ctx, const char *path, const void *data, size_t len,
		    scan_callback cb, void *userdata);
int scan_buffer(const struct scan_rules *rs, const char *path, const void *data, size_t len,
		scan_callback cb, void *userdata);

/* Shannon entropy of s (bits per character, as gitleaks: runes counted,
 * divided by the byte length). */
double scan_entropy(const char *s, size_t len);

/* True when the first 8000 bytes hold a NUL byte (git's heuristic). */
bool scan_looks_binary(const void *data, size_t len);

#endif
