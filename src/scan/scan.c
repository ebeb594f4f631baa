/* Secret scanner engine (see scan.h). Hyperscan proposes, PCRE2 disposes:
 * one Hyperscan block-mode database holds every rule regex compiled with
 * HS_FLAG_PREFILTER (a superset of the real matches, reported as end
 * offsets), a second holds the rule keywords as caseless literals, a third
 * the known-secret variants. For each rule that is enabled by its keywords
 * and has prefilter hits, PCRE2-JIT finds the real matches with Go's
 * leftmost-first semantics, starting near the hits instead of scanning the
 * whole buffer. */
#include "util/common.h"

#include "util/array.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/strv.h"

#include <math.h>

#include "scan/scan.h"
#include "scan/scanlib.h"

/* A rule with more prefilter hits than this in one buffer is confirmed by one
 * linear PCRE pass instead of hit by hit (bounds the memory for hit lists). */
#define DENSE_HITS  4096
#define MATCH_LIMIT 2000000
#define DEPTH_LIMIT 100000
#define MAX_KNOWN   1024
#define ANCHOR_ID   0x80000000u /* on_rule_hit(): id is a rule index */

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
	/* The gitleaks template CLASS{0,N}?(?:ANCHOR)...: see template_anchor(). */
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

struct hit {
	uint32_t rule;
	size_t end;
};

struct known_hit {
	uint32_t known;
	size_t start, end;
};

struct scan_ctx {
	const struct scan_rules *rs;
	hs_scratch_t *scratch;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jit;
	unsigned limit_hits;
	/* per buffer */
	struct hit *hits;
	size_t n_hits, cap_hits;
	uint32_t *hit_count; /* per rule */
	bool *kw_present;
	struct known_hit *khits;
	size_t n_khits, cap_khits;
	size_t *nl; /* newline offsets */
	size_t n_nl, cap_nl;
	bool nl_ready, oom;
	const char *data;
	size_t len;
};

static int strv_copy(const char *const *src, size_t n, bool lower, char ***ret)
{
	char **v;
	int r = strv_dup_n(src, n, &v);
	if (r < 0)
		return r;
	for (size_t i = 0; lower && i < n; i++)
		for (char *c = v[i]; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
	*ret = v;
	return 0;
}

/* ---- Go RE2 -> PCRE2 ---- */

/* Rewrites the few constructs whose meaning differs between Go and PCRE2:
 * \s (Go: [\t\n\f\r ], PCRE2 adds \v), \S outside classes, \v (Go: the
 * vertical tab, PCRE2: a class). Everything else in Go's syntax means the
 * same to PCRE2 compiled with UTF | DOLLAR_ENDONLY | MATCH_INVALID_UTF and
 * without UCP ($ = end of text, \b \w \d ASCII, . excludes only \n).
 * Also reports whether the pattern can match a non-ASCII byte through a
 * wildcard, a negated class or \S \W \D (*ret_byte_sensitive). */
static char *go_to_pcre(const char *src, bool *ret_byte_sensitive)
{
	size_t n = strlen(src);
	if (n > SIZE_MAX / 16 - 1)
		return NULL;
	char *out = malloc(n * 16 + 1), *o = out;
	bool in_class = false, sensitive = false;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char c = src[i];
		if (c == '\\' && i + 1 < n) {
			char e = src[i + 1];
			i++;
			if (e == 'Q') { /* \Q...\E literal: copy verbatim */
				const char *endq = strstr(src + i + 1, "\\E");
				size_t l = endq ? (size_t)(endq - (src + i + 1)) + 2 : n - i - 1;
				memcpy(o, "\\Q", 2);
				o += 2;
				memcpy(o, src + i + 1, l);
				o += l;
				i += l;
				continue;
			}
			if (e == 's') {
				const char *cls = in_class ? "\\t\\n\\f\\r " : "[\\t\\n\\f\\r ]";
				size_t l = strlen(cls);
				memcpy(o, cls, l);
				o += l;
				continue;
			}
			if (e == 'S' && !in_class) {
				memcpy(o, "[^\\t\\n\\f\\r ]", 12);
				o += 12;
				sensitive = true;
				continue;
			}
			if (e == 'v') {
				memcpy(o, "\\x0b", 4);
				o += 4;
				continue;
			}
			if (e == 'S' || e == 'W' || e == 'D' || e == 'p' || e == 'P' || e == 'C' ||
			    e == 'X')
				sensitive = true;
			*o++ = '\\';
			*o++ = e;
			continue;
		}
		if (in_class) {
			if (c == '[' && i + 1 < n && src[i + 1] == ':') { /* [:alpha:] */
				const char *endc = strstr(src + i + 2, ":]");
				if (endc) {
					size_t l = (size_t)(endc - (src + i)) + 2;
					memcpy(o, src + i, l);
					o += l;
					i += l - 1;
					continue;
				}
			}
			if (c == ']')
				in_class = false;
			*o++ = c;
			continue;
		}
		if (c == '[') {
			in_class = true;
			*o++ = c;
			if (i + 1 < n && src[i + 1] == '^') {
				sensitive = true;
				*o++ = '^';
				i++;
			}
			if (i + 1 < n && src[i + 1] == ']') { /* leading ] is literal */
				*o++ = ']';
				i++;
			}
			continue;
		}
		if (c == '.')
			sensitive = true;
		*o++ = c;
	}
	*o = '\0';
	*ret_byte_sensitive = sensitive;
	return out;
}

/* Skip a character class starting at src[0] == '['; returns the index just
 * past its closing ']', or 0 if it does not close. */
static size_t skip_class(const char *src)
{
	size_t i = 1;
	if (src[i] == '^')
		i++;
	if (src[i] == ']')
		i++; /* a leading ']' is literal */
	for (; src[i]; i++) {
		if (src[i] == '\\' && src[i + 1])
			i++;
		else if (src[i] == '[' && src[i + 1] == ':') {
			const char *e = strstr(src + i + 2, ":]");
			if (!e)
				return 0;
			i = (size_t)(e - src) + 1;
		} else if (src[i] == ']')
			return i + 1;
	}
	return 0;
}

/* True when the first n bytes of a pattern can only match ASCII bytes one
 * character per byte, as Hyperscan sees them: no '.', negated class, \\S,
 * \\W, \\D, \\p, \\P, \\X, \\C or non-ASCII byte. The window arithmetic of
 * template rules counts bytes. */
static bool ascii_safe(const char *src, size_t n)
{
	bool in_class = false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)src[i];
		if (ch >= 0x80 || (ch == '.' && !in_class))
			return false;
		if (ch == '[' && !in_class) {
			if (i + 1 < n && src[i + 1] == '^')
				return false;
			in_class = true;
		} else if (ch == ']' && in_class) {
			in_class = false;
		} else if (ch == '\\' && i + 1 < n) {
			if (strchr("SWDpPXCN", src[i + 1]))
				return false;
			i++;
		}
	}
	return true;
}

/* True if src has an alternation outside every group and class: then its
 * matches need not follow the template. */
static bool has_top_level_bar(const char *src)
{
	int depth = 0;
	for (size_t i = 0; src[i]; i++) {
		if (src[i] == '\\' && src[i + 1])
			i++;
		else if (src[i] == '[') {
			size_t c = skip_class(src + i);
			if (!c)
				return true;
			i += c - 1;
		} else if (src[i] == '(')
			depth++;
		else if (src[i] == ')')
			depth--;
		else if (src[i] == '|' && depth == 0)
			return true;
	}
	return false;
}

/* Rules of gitleaks' provider template, generic-api-key among them:
 *   [(?i)]CLASS{0,N}[?](?:ANCHOR)REST
 * Every match starts at most N bytes before an occurrence of ANCHOR, so the
 * regex need only run in the N bytes before each occurrence, which a
 * Hyperscan database of the anchors finds; that is exact, not a heuristic.
 * src is the PCRE form of the regex. On success *ret_anchor is a new string
 * "(?:ANCHOR)" and *ret_lead is N. */
static bool template_anchor(const char *src, char **ret_anchor, size_t *ret_lead,
			    bool *ret_caseless)
{
	bool caseless = strncmp(src, "(?i)", 4) == 0;
	const char *p = src + (caseless ? 4 : 0);
	if (*p != '[')
		return false;
	const char *cls = p;
	size_t k = skip_class(p);
	if (!k || strncmp(p + k, "{0,", 3) != 0)
		return false;
	p += k + 3;
	char *end;
	unsigned long n = strtoul(p, &end, 10);
	if (end == p || *end != '}' || n > 1000)
		return false;
	p = end + 1;
	if (*p == '?')
		p++;
	if (strncmp(p, "(?:", 3) != 0)
		return false;
	int depth = 0;
	size_t i = 0;
	for (; p[i]; i++) {
		if (p[i] == '\\' && p[i + 1])
			i++;
		else if (p[i] == '[') {
			size_t c = skip_class(p + i);
			if (!c)
				return false;
			i += c - 1;
		} else if (p[i] == '(')
			depth++;
		else if (p[i] == ')' && --depth == 0)
			break;
	}
	if (!p[i] || has_top_level_bar(src) || !ascii_safe(cls, k) || !ascii_safe(p, i + 1))
		return false;
	char *a = strndup(p, i + 1);
	if (!a)
		return false;
	*ret_anchor = a;
	*ret_lead = n;
	*ret_caseless = caseless;
	return true;
}

static pcre2_code *compile_re(struct scan_rules *rs, const char *go_src, uint32_t extra,
			      bool *ret_sensitive, char **ret_src, char *err, size_t errlen)
{
	bool sensitive = false;
	char *src = go_to_pcre(go_src, &sensitive);
	int code;
	PCRE2_SIZE off;
	if (!src) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pcre2_code *re =
	    pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED,
			  PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_MATCH_INVALID_UTF | extra, &code,
			  &off, rs->cctx);
	if (!re) {
		PCRE2_UCHAR msg[160];
		pcre2_get_error_message(code, msg, sizeof(msg));
		snprintf(err, errlen, "invalid regex '%s': %s at offset %zu", go_src, (char *)msg,
			 (size_t)off);
		free(src);
		return NULL;
	}
	(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter */
	if (ret_sensitive)
		*ret_sensitive = sensitive;
	if (ret_src)
		*ret_src = src;
	else
		free(src);
	return re;
}

/* ---- rule set ---- */

int scan_rules_new(struct scan_rules **ret)
{
	int r = scanlib_load(NULL);
	if (r < 0)
		return r;
	struct scan_rules *rs = calloc(1, sizeof(*rs));
	if (!rs)
		return -ENOMEM;
	rs->cctx = pcre2_compile_context_create(NULL);
	if (!rs->cctx) {
		free(rs);
		return -ENOMEM;
	}
	pcre2_set_newline(rs->cctx, PCRE2_NEWLINE_LF);
	pcre2_set_bsr(rs->cctx, PCRE2_BSR_ANYCRLF);
	*ret = rs;
	return 0;
}

static void allowlist_clear(struct allowlist *a)
{
	for (size_t i = 0; i < a->n_regexes; i++)
		pcre2_code_free(a->regexes[i]);
	free(a->regexes);
	for (size_t i = 0; i < a->n_paths; i++)
		pcre2_code_free(a->paths[i]);
	free(a->paths);
	strv_free_n(a->stopwords, a->n_stopwords);
}

static void rule_clear(struct rule *r)
{
	free(r->id);
	free(r->description);
	strv_free_n(r->tags, r->n_tags);
	free(r->regex_src);
	free(r->anchor);
	pcre2_code_free(r->re);
	pcre2_code_free(r->path_re);
	strv_free_n(r->keywords, r->n_keywords);
	free(r->kw_ids);
	for (size_t i = 0; i < r->n_allowlists; i++)
		allowlist_clear(&r->allowlists[i]);
	free(r->allowlists);
	memset(r, 0, sizeof(*r));
}

struct scan_rules *scan_rules_free(struct scan_rules *rs)
{
	if (!rs)
		return NULL;
	for (size_t i = 0; i < rs->n; i++)
		rule_clear(&rs->rules[i]);
	free(rs->rules);
	for (size_t i = 0; i < rs->n_global; i++)
		allowlist_clear(&rs->global[i]);
	free(rs->global);
	strv_free_n(rs->ignores, rs->n_ignores);
	strv_free_n(rs->known_names, rs->n_known);
	for (size_t i = 0; i < rs->n_variants; i++) {
		explicit_bzero(rs->variants[i].bytes, rs->variants[i].len);
		free(rs->variants[i].bytes);
	}
	free(rs->variants);
	strv_free_n(rs->kw, rs->n_kw);
	free(rs->hs_rule_of);
	hs_free_database(rs->db_rules);
	hs_free_database(rs->db_kw);
	hs_free_database(rs->db_known);
	hs_free_database(rs->db_anchor);
	free(rs->anchor_rule_of);
	hs_free_scratch(rs->scratch);
	pcre2_compile_context_free(rs->cctx);
	free(rs);
	return NULL;
}

static struct rule *find_rule(const struct scan_rules *rs, const char *id)
{
	for (size_t i = 0; i < rs->n; i++)
		if (!rs->rules[i].disabled && STREQ(rs->rules[i].id, id))
			return &rs->rules[i];
	return NULL;
}

bool scan_rules_has_rule(const struct scan_rules *rs, const char *rule_id)
{
	return find_rule(rs, rule_id);
}

size_t scan_rules_count(const struct scan_rules *rs)
{
	size_t n = 0;
	for (size_t i = 0; i < rs->n; i++)
		n += !rs->rules[i].disabled;
	return n;
}

int scan_rules_add_rule(struct scan_rules *rs, const struct scan_rule_spec *spec, char *err,
			size_t errlen)
{
	struct rule r = { 0 };
	int ret = -ENOMEM;

	if (rs->compiled)
		return -EBUSY;
	if (!spec->id || !*spec->id) {
		snprintf(err, errlen, "rule without an id");
		return -EINVAL;
	}
	if (!spec->regex && !spec->path) {
		snprintf(err, errlen, "rule '%s' has neither regex nor path", spec->id);
		return -EINVAL;
	}
	r.id = strdup(spec->id);
	r.description = strdup(spec->description ? spec->description : "");
	if (!r.id || !r.description)
		goto fail;
	if (strv_copy(spec->tags, spec->n_tags, false, &r.tags) < 0)
		goto fail;
	r.n_tags = spec->n_tags;
	if (strv_copy(spec->keywords, spec->n_keywords, true, &r.keywords) < 0)
		goto fail;
	r.n_keywords = spec->n_keywords;
	r.secret_group = spec->secret_group;
	r.entropy = spec->entropy;
	r.width = SIZE_MAX;
	ret = -EINVAL;
	if (spec->regex) {
		bool unused;
		_cleanup_free_ char *pcre_src = go_to_pcre(spec->regex, &unused);
		bool templ = pcre_src && template_anchor(pcre_src, &r.anchor, &r.anchor_lead,
							 &r.anchor_caseless);
		r.re = compile_re(rs, spec->regex, templ ? PCRE2_USE_OFFSET_LIMIT : 0,
				  &r.byte_sensitive, &r.regex_src, err, errlen);
		if (!r.re)
			goto fail;
		pcre2_pattern_info(r.re, PCRE2_INFO_CAPTURECOUNT, &r.ncaptures);
		if (r.secret_group < 0 || (uint32_t)r.secret_group > r.ncaptures) {
			snprintf(err, errlen,
				 "rule '%s': secretGroup %d but the regex has %u groups", spec->id,
				 r.secret_group, r.ncaptures);
			goto fail;
		}
	}
	if (spec->path) {
		r.path_re = compile_re(rs, spec->path, 0, NULL, NULL, err, errlen);
		if (!r.path_re)
			goto fail;
	}
	ret = -ENOMEM;
	if (array_grow((void **)&rs->rules, &rs->cap, rs->n, sizeof(struct rule)) < 0)
		goto fail;
	struct rule *old = find_rule(rs, spec->id);
	if (old)
		old->disabled = true;
	rs->rules[rs->n++] = r;
	return 0;
fail:
	rule_clear(&r);
	return ret;
}

int scan_rules_add_allowlist(struct scan_rules *rs, const char *rule_id,
			     const struct scan_allowlist_spec *spec, char *err, size_t errlen)
{
	struct allowlist a = { .cond_and = spec->cond_and,
			       .target = spec->target,
			       .has_commits = spec->has_commits };
	struct allowlist **list;
	size_t *n;
	int ret = -ENOMEM;
	struct rule *r = NULL;

	if (rs->compiled)
		return -EBUSY;
	if (rule_id) {
		r = find_rule(rs, rule_id);
		if (!r) {
			snprintf(err, errlen, "no rule '%s'", rule_id);
			return -ENOENT;
		}
		list = &r->allowlists;
		n = &r->n_allowlists;
	} else {
		list = &rs->global;
		n = &rs->n_global;
	}
	a.regexes = calloc(spec->n_regexes + 1, sizeof(void *));
	a.paths = calloc(spec->n_paths + 1, sizeof(void *));
	if (!a.regexes || !a.paths)
		goto fail;
	if (strv_copy(spec->stopwords, spec->n_stopwords, true, &a.stopwords) < 0)
		goto fail;
	a.n_stopwords = spec->n_stopwords;
	ret = -EINVAL;
	for (size_t i = 0; i < spec->n_regexes; i++) {
		a.regexes[i] = compile_re(rs, spec->regexes[i], 0, NULL, NULL, err, errlen);
		if (!a.regexes[i])
			goto fail;
		a.n_regexes++;
	}
	for (size_t i = 0; i < spec->n_paths; i++) {
		a.paths[i] = compile_re(rs, spec->paths[i], 0, NULL, NULL, err, errlen);
		if (!a.paths[i])
			goto fail;
		a.n_paths++;
	}
	ret = -ENOMEM;
	if (array_grow_counted((void **)list, *n, sizeof(**list)) < 0)
		goto fail;
	(*list)[(*n)++] = a;
	return 0;
fail:
	allowlist_clear(&a);
	return ret;
}

int scan_rules_disable(struct scan_rules *rs, const char *rule_id)
{
	struct rule *r;
	if (rs->compiled)
		return -EBUSY;
	r = find_rule(rs, rule_id);
	if (!r)
		return -ENOENT;
	r->disabled = true;
	return 0;
}

int scan_rules_add_ignore(struct scan_rules *rs, const char *fingerprint)
{
	if (rs->compiled)
		return -EBUSY;
	if (array_grow((void **)&rs->ignores, &rs->cap_ignores, rs->n_ignores, sizeof(char *)) < 0)
		return -ENOMEM;
	char *s = strdup(fingerprint);
	if (!s)
		return -ENOMEM;
	rs->ignores[rs->n_ignores++] = s;
	return 0;
}

int scan_rules_add_ignore_text(struct scan_rules *rs, const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *s = p, *e = le;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			e--;
		if (e > s && *s != '#') {
			_cleanup_free_ char *fp = strndup(s, (size_t)(e - s));
			if (!fp)
				return -ENOMEM;
			int r = scan_rules_add_ignore(rs, fp);
			if (r < 0)
				return r;
		}
		p = le + 1;
	}
	return 0;
}

static int add_variant(struct scan_rules *rs, unsigned known, const char *bytes, size_t len,
		       bool caseless)
{
	if (len == 0)
		return 0;
	for (size_t i = 0; i < rs->n_variants; i++) /* no duplicates */
		if (rs->variants[i].len == len && !memcmp(rs->variants[i].bytes, bytes, len) &&
		    rs->variants[i].known == known)
			return 0;
	if (array_grow((void **)&rs->variants, &rs->cap_variants, rs->n_variants,
		       sizeof(struct known_variant)) < 0)
		return -ENOMEM;
	char *b = malloc(len);
	if (!b)
		return -ENOMEM;
	memcpy(b, bytes, len);
	rs->variants[rs->n_variants++] = (struct known_variant){ b, len, known, caseless };
	return 0;
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The base64 characters that encode only bytes of value when it sits at
 * stream offset k (0..2), in the standard or URL alphabet. */
static int add_base64_variants(struct scan_rules *rs, unsigned known, const unsigned char *v,
			       size_t len)
{
	size_t total = len + 2;
	if (total > SIZE_MAX / 2)
		return -ENOMEM;
	_cleanup_free_ unsigned char *in = malloc(total);
	_cleanup_free_ char *enc = malloc(total * 2 + 8);
	int r;
	if (!in || !enc)
		return -ENOMEM;
	for (size_t k = 0; k < 3; k++) {
		memset(in, 0, k);
		memcpy(in + k, v, len);
		size_t bits = (k + len) * 8, nchars = 0;
		size_t first = (8 * k + 5) / 6; /* first char fully inside value */
		for (size_t i = first; 6 * i + 6 <= bits; i++) {
			size_t bit = 6 * i, byte = bit / 8, shift = bit % 8;
			unsigned w =
			    (unsigned)in[byte] << 8 | (byte + 1 < k + len ? in[byte + 1] : 0);
			unsigned idx = (w >> (10 - shift)) & 63;
			enc[nchars++] = B64[idx];
		}
		if (nchars < 6)
			continue;
		r = add_variant(rs, known, enc, nchars, false);
		if (r < 0)
			return r;
		for (size_t i = 0; i < nchars; i++)
			enc[i] = enc[i] == '+' ? '-' : enc[i] == '/' ? '_' : enc[i];
		r = add_variant(rs, known, enc, nchars, false);
		if (r < 0)
			return r;
	}
	explicit_bzero(in, total);
	explicit_bzero(enc, total * 2 + 8);
	return 0;
}

int scan_rules_add_known_secret(struct scan_rules *rs, const char *name, const void *value,
				size_t len)
{
	const unsigned char *v = value;
	int r;
	if (rs->compiled)
		return -EBUSY;
	if (!name || !*name || strlen(name) > 64 || len < 4 || len > 65536 ||
	    rs->n_known >= MAX_KNOWN)
		return -EINVAL;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
		      (*c >= '0' && *c <= '9') || *c == '_' || *c == '.' || *c == '-'))
			return -EINVAL;
	if (array_grow_counted((void **)&rs->known_names, rs->n_known, sizeof(char *)) < 0)
		return -ENOMEM;
	if (asprintf(&rs->known_names[rs->n_known], "known-secret:%s", name) < 0)
		return -ENOMEM;
	unsigned k = (unsigned)rs->n_known++;
	r = add_variant(rs, k, value, len, false);
	if (r < 0)
		return r;
	r = add_base64_variants(rs, k, v, len);
	if (r < 0)
		return r;
	_cleanup_free_ char *enc = malloc(len * 3 + 1);
	if (!enc)
		return -ENOMEM;
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		enc[2 * i] = hex[v[i] >> 4];
		enc[2 * i + 1] = hex[v[i] & 15];
	}
	r = add_variant(rs, k, enc, len * 2, true);
	if (r < 0)
		goto out;
	size_t n = 0;
	bool changed = false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = v[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			enc[n++] = (char)c;
		} else {
			enc[n++] = '%';
			enc[n++] = "0123456789ABCDEF"[c >> 4];
			enc[n++] = "0123456789ABCDEF"[c & 15];
			changed = true;
		}
	}
	if (changed)
		r = add_variant(rs, k, enc, n, true);
out:
	explicit_bzero(enc, len * 3 + 1);
	return r;
}

static unsigned kw_intern(struct scan_rules *rs, const char *kw, size_t *cap, int *err)
{
	for (size_t i = 0; i < rs->n_kw; i++)
		if (STREQ(rs->kw[i], kw))
			return (unsigned)i;
	if (array_grow((void **)&rs->kw, cap, rs->n_kw, sizeof(char *)) < 0) {
		*err = -ENOMEM;
		return 0;
	}
	rs->kw[rs->n_kw] = strdup(kw);
	if (!rs->kw[rs->n_kw]) {
		*err = -ENOMEM;
		return 0;
	}
	return (unsigned)rs->n_kw++;
}

/* The anchors of template rules (see template_anchor()) in one database;
 * a rule whose anchor Hyperscan refuses or cannot bound keeps the prefilter
 * path. Sets r->anchored. */
static int compile_anchor_db(struct scan_rules *rs)
{
	size_t n = 0;
	_cleanup_free_ const char **exprs = calloc(rs->n + 1, sizeof(char *));
	_cleanup_free_ unsigned *flags = calloc(rs->n + 1, sizeof(unsigned));
	_cleanup_free_ unsigned *ids = calloc(rs->n + 1, sizeof(unsigned));
	rs->anchor_rule_of = calloc(rs->n + 1, sizeof(unsigned));
	if (!exprs || !flags || !ids || !rs->anchor_rule_of)
		return -ENOMEM;
	for (size_t i = 0; i < rs->n; i++) {
		struct rule *r = &rs->rules[i];
		hs_expr_info_t *info = NULL;
		hs_compile_error_t *cerr = NULL;
		unsigned f = r->anchor_caseless ? HS_FLAG_CASELESS : 0;
		if (r->disabled || !r->re || !r->anchor)
			continue;
		if (hs_expression_info(r->anchor, f, &info, &cerr) != HS_SUCCESS) {
			hs_free_compile_error(cerr);
			continue;
		}
		bool bounded = info->max_width != UINT_MAX && info->min_width > 0;
		r->anchor_minw = info->min_width;
		r->anchor_maxw = info->max_width;
		free(info);
		if (!bounded)
			continue;
		exprs[n] = r->anchor;
		flags[n] = f;
		ids[n] = (unsigned)n;
		rs->anchor_rule_of[n] = (unsigned)i;
		n++;
	}
	while (n > 0) {
		hs_compile_error_t *cerr = NULL;
		if (hs_compile_multi(exprs, flags, ids, (unsigned)n, HS_MODE_BLOCK, NULL,
				     &rs->db_anchor, &cerr) == HS_SUCCESS)
			break;
		int bad = cerr->expression;
		hs_free_compile_error(cerr);
		if (bad < 0 || (size_t)bad >= n)
			return -EINVAL;
		for (size_t j = (size_t)bad; j + 1 < n; j++) {
			exprs[j] = exprs[j + 1];
			flags[j] = flags[j + 1];
			rs->anchor_rule_of[j] = rs->anchor_rule_of[j + 1];
		}
		n--;
	}
	for (size_t j = 0; j < n; j++)
		rs->rules[rs->anchor_rule_of[j]].anchored = true;
	return 0;
}

static int compile_rule_db(struct scan_rules *rs, char *err, size_t errlen)
{
	size_t n = 0;
	_cleanup_free_ const char **exprs = calloc(rs->n + 1, sizeof(char *));
	_cleanup_free_ unsigned *flags = calloc(rs->n + 1, sizeof(unsigned));
	_cleanup_free_ unsigned *ids = calloc(rs->n + 1, sizeof(unsigned));
	rs->hs_rule_of = calloc(rs->n + 1, sizeof(unsigned));
	if (!exprs || !flags || !ids || !rs->hs_rule_of)
		return -ENOMEM;
	for (size_t i = 0; i < rs->n; i++) {
		struct rule *r = &rs->rules[i];
		if (r->disabled || !r->re || r->anchored)
			continue;
		/* Patterns Hyperscan rejects even as prefilters run without one. */
		hs_expr_info_t *info = NULL;
		hs_compile_error_t *cerr = NULL;
		unsigned f = HS_FLAG_PREFILTER | HS_FLAG_ALLOWEMPTY;
		if (hs_expression_info(r->regex_src, f, &info, &cerr) != HS_SUCCESS) {
			hs_free_compile_error(cerr);
			continue;
		}
		free(info);
		info = NULL;
		/* The width bound must hold for the real pattern, not the approximation. */
		if (hs_expression_info(r->regex_src, HS_FLAG_ALLOWEMPTY, &info, &cerr) ==
		    HS_SUCCESS) {
			if (info->max_width != UINT_MAX)
				r->width = info->max_width;
			free(info);
		} else {
			hs_free_compile_error(cerr);
		}
		exprs[n] = r->regex_src;
		flags[n] = f;
		ids[n] = (unsigned)n;
		rs->hs_rule_of[n] = (unsigned)i;
		r->in_hs = true;
		n++;
	}
	while (n > 0) {
		hs_compile_error_t *cerr = NULL;
		if (hs_compile_multi(exprs, flags, ids, (unsigned)n, HS_MODE_BLOCK, NULL,
				     &rs->db_rules, &cerr) == HS_SUCCESS)
			break;
		int bad = cerr->expression;
		hs_free_compile_error(cerr);
		if (bad < 0 || (size_t)bad >= n) {
			snprintf(err, errlen, "cannot build the prefilter database");
			return -EINVAL;
		}
		/* drop the one Hyperscan refuses; it runs without prefilter */
		rs->rules[rs->hs_rule_of[bad]].in_hs = false;
		rs->rules[rs->hs_rule_of[bad]].width = SIZE_MAX;
		for (size_t j = (size_t)bad; j + 1 < n; j++) {
			exprs[j] = exprs[j + 1];
			rs->hs_rule_of[j] = rs->hs_rule_of[j + 1];
		}
		n--;
	}
	return 0;
}

static int compile_literal_db(const char **lits, const size_t *lens, const unsigned *flags,
			      size_t n, hs_database_t **ret)
{
	_cleanup_free_ unsigned *ids = calloc(n + 1, sizeof(unsigned));
	hs_compile_error_t *cerr = NULL;
	if (!ids)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		ids[i] = (unsigned)i;
	if (hs_compile_lit_multi(lits, flags, ids, lens, (unsigned)n, HS_MODE_BLOCK, NULL, ret,
				 &cerr) != HS_SUCCESS) {
		hs_free_compile_error(cerr);
		return -EINVAL;
	}
	return 0;
}

/* ---- the compiled-database cache ----
 * Compiling the Hyperscan databases of gitleaks' ~220 rules costs ~0.7 CPU
 * seconds, more than scanning 100 MB. The result (both databases and what
 * the compile decided per rule) is cached in $CLAWBOX_CACHE_DIR (default
 * /var/cache/clawbox as root, else $XDG_CACHE_HOME/clawbox or
 * ~/.cache/clawbox), under scan/<sha256 of everything it depends on>. A
 * cache file is used only if it is a regular file of ours, not writable by
 * anyone else, and passes every bounds check; anything else is ignored and
 * the databases are compiled. Failing to write the cache changes nothing. */

#define CACHE_MAGIC "clawbox-hsdb-1\n"

static int cache_dir(char *out, size_t n)
{
	const char *env = secure_getenv("CLAWBOX_CACHE_DIR");
	int w;
	if (env && env[0] == '/')
		w = snprintf(out, n, "%s/scan", env);
	else if (env && env[0])
		return -EINVAL;
	else if (geteuid() == 0)
		w = snprintf(out, n, "/var/cache/clawbox/scan");
	else if ((env = secure_getenv("XDG_CACHE_HOME")) && env[0] == '/')
		w = snprintf(out, n, "%s/clawbox/scan", env);
	else if ((env = secure_getenv("HOME")) && env[0] == '/')
		w = snprintf(out, n, "%s/.cache/clawbox/scan", env);
	else
		return -ENOENT;
	return (w < 0 || (size_t)w >= n) ? -ENAMETOOLONG : 0;
}

static void cache_key(const struct scan_rules *rs, char out[2 * HASH_SHA256_SIZE + 1])
{
	struct buf b = BUF_INIT(64u << 20);
	int r = buf_printf(&b, "%s%s\n%zu\n", CACHE_MAGIC, hs_version(), rs->n);
	for (size_t i = 0; i < rs->n && r == 0; i++) {
		const struct rule *ru = &rs->rules[i];
		r = buf_printf(&b, "%d %d %s\n%s\n", ru->disabled, ru->anchor_caseless,
			       ru->regex_src ? ru->regex_src : "-", ru->anchor ? ru->anchor : "-");
	}
	if (r < 0)
		out[0] = '\0'; /* no key: no cache */
	else
		hash_sha256_hex(b.data, b.len, out);
	buf_free(&b);
}

struct cache_rule {
	uint64_t width, minw, maxw;
	uint8_t in_hs, anchored;
};

static int cache_path(const struct scan_rules *rs, char *out, size_t n, bool create_dir)
{
	char dir[PATH_MAX], key[2 * HASH_SHA256_SIZE + 1];
	int r = cache_dir(dir, sizeof(dir));
	if (r < 0)
		return r;
	cache_key(rs, key);
	if (!key[0])
		return -ENOMEM;
	if (create_dir && (r = fs_mkdir_p(dir, 0700)) < 0)
		return r;
	int w = snprintf(out, n, "%s/%s.hsdb", dir, key);
	return (w < 0 || (size_t)w >= n) ? -ENAMETOOLONG : 0;
}

/* Read a length-prefixed database from *p (bounded by end). */
static int take_db(const char **p, const char *end, hs_database_t **ret)
{
	uint64_t len;
	if ((size_t)(end - *p) < sizeof(len))
		return -EBADMSG;
	memcpy(&len, *p, sizeof(len));
	*p += sizeof(len);
	if (len == 0) {
		*ret = NULL;
		return 0;
	}
	if (len > (uint64_t)(end - *p))
		return -EBADMSG;
	if (hs_deserialize_database(*p, (size_t)len, ret) != HS_SUCCESS)
		return -EBADMSG;
	*p += len;
	return 0;
}

static int cache_load(struct scan_rules *rs)
{
	char path[PATH_MAX];
	_cleanup_free_ char *data = NULL;
	size_t len;
	struct stat st;
	if (cache_path(rs, path, sizeof(path), false) < 0)
		return -ENOENT;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 022))
		return -ENOENT;
	if (fs_read_file(path, 256u << 20, &data, &len) < 0)
		return -ENOENT;
	const char *p = data, *end = data + len;
	size_t table = (rs->n + 1) * sizeof(unsigned);
	size_t need = strlen(CACHE_MAGIC) + rs->n * sizeof(struct cache_rule) + 2 * table;
	if (len < need || memcmp(p, CACHE_MAGIC, strlen(CACHE_MAGIC)) != 0)
		return -EBADMSG;
	p += strlen(CACHE_MAGIC);
	rs->hs_rule_of = calloc(rs->n + 1, sizeof(unsigned));
	rs->anchor_rule_of = calloc(rs->n + 1, sizeof(unsigned));
	if (!rs->hs_rule_of || !rs->anchor_rule_of)
		return -ENOMEM;
	for (size_t i = 0; i < rs->n; i++) {
		struct cache_rule cr;
		memcpy(&cr, p, sizeof(cr));
		p += sizeof(cr);
		rs->rules[i].width = cr.width > SIZE_MAX ? SIZE_MAX : (size_t)cr.width;
		rs->rules[i].anchor_minw = (size_t)cr.minw;
		rs->rules[i].anchor_maxw = (size_t)cr.maxw;
		rs->rules[i].in_hs = cr.in_hs;
		rs->rules[i].anchored = cr.anchored;
	}
	memcpy(rs->hs_rule_of, p, table);
	p += table;
	memcpy(rs->anchor_rule_of, p, table);
	p += table;
	for (size_t i = 0; i <= rs->n; i++)
		if (rs->hs_rule_of[i] > rs->n || rs->anchor_rule_of[i] > rs->n)
			return -EBADMSG;
	if (take_db(&p, end, &rs->db_rules) < 0 || take_db(&p, end, &rs->db_anchor) < 0 || p != end)
		return -EBADMSG;
	return 0;
}

static int put_db(struct buf *b, const hs_database_t *db)
{
	char *bytes = NULL;
	size_t n = 0;
	uint64_t len = 0;
	if (db && hs_serialize_database(db, &bytes, &n) != HS_SUCCESS)
		return -ENOMEM;
	len = n;
	int r = buf_append(b, &len, sizeof(len));
	if (r == 0 && n)
		r = buf_append(b, bytes, n);
	free(bytes);
	return r;
}

static void cache_store(const struct scan_rules *rs)
{
	char path[PATH_MAX];
	struct buf b = BUF_INIT(256u << 20);
	if (cache_path(rs, path, sizeof(path), true) < 0)
		return;
	int r = buf_puts(&b, CACHE_MAGIC);
	for (size_t i = 0; i < rs->n && r == 0; i++) {
		const struct rule *ru = &rs->rules[i];
		struct cache_rule cr = { .width = ru->width,
					 .minw = ru->anchor_minw,
					 .maxw = ru->anchor_maxw,
					 .in_hs = ru->in_hs,
					 .anchored = ru->anchored };
		r = buf_append(&b, &cr, sizeof(cr));
	}
	size_t table = (rs->n + 1) * sizeof(unsigned);
	if (r == 0)
		r = buf_append(&b, rs->hs_rule_of, table);
	if (r == 0)
		r = buf_append(&b, rs->anchor_rule_of, table);
	if (r == 0)
		r = put_db(&b, rs->db_rules);
	if (r == 0)
		r = put_db(&b, rs->db_anchor);
	char *slash = strrchr(path, '/');
	if (r == 0 && slash) {
		*slash = '\0';
		int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd >= 0) {
			fs_write_atomic_at(dfd, slash + 1, b.data, b.len, 0600);
			close(dfd);
		}
	}
	buf_free(&b);
}

int scan_rules_compile(struct scan_rules *rs, char *err, size_t errlen)
{
	int r, e = 0;
	size_t kwcap = 0;
	if (rs->compiled)
		return -EBUSY;
	for (size_t i = 0; i < rs->n; i++) {
		struct rule *ru = &rs->rules[i];
		if (ru->disabled)
			continue;
		ru->kw_ids = calloc(ru->n_keywords + 1, sizeof(unsigned));
		if (!ru->kw_ids)
			return -ENOMEM;
		for (size_t k = 0; k < ru->n_keywords; k++) {
			ru->kw_ids[k] = kw_intern(rs, ru->keywords[k], &kwcap, &e);
			if (e < 0)
				return e;
		}
	}
	if (cache_load(rs) < 0) {
		/* compile; drop whatever a failed load left */
		free(rs->hs_rule_of);
		free(rs->anchor_rule_of);
		hs_free_database(rs->db_rules);
		hs_free_database(rs->db_anchor);
		rs->hs_rule_of = rs->anchor_rule_of = NULL;
		rs->db_rules = rs->db_anchor = NULL;
		for (size_t i = 0; i < rs->n; i++) {
			rs->rules[i].in_hs = rs->rules[i].anchored = false;
			rs->rules[i].width = SIZE_MAX;
		}
		r = compile_anchor_db(rs);
		if (r < 0) {
			snprintf(err, errlen, "cannot build the anchor database");
			return r;
		}
		r = compile_rule_db(rs, err, errlen);
		if (r < 0)
			return r;
		cache_store(rs);
	}
	if (rs->n_kw > 0) {
		_cleanup_free_ const char **lits = calloc(rs->n_kw, sizeof(char *));
		_cleanup_free_ size_t *lens = calloc(rs->n_kw, sizeof(size_t));
		_cleanup_free_ unsigned *flags = calloc(rs->n_kw, sizeof(unsigned));
		if (!lits || !lens || !flags)
			return -ENOMEM;
		for (size_t i = 0; i < rs->n_kw; i++) {
			lits[i] = rs->kw[i];
			lens[i] = strlen(rs->kw[i]);
			flags[i] = HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH;
		}
		/* an empty keyword matches everything: handled at scan time */
		size_t m = 0;
		for (size_t i = 0; i < rs->n_kw; i++)
			if (lens[i] == 0)
				lens[i] = 1, lits[i] = "\n", flags[i] = HS_FLAG_SINGLEMATCH;
		m = rs->n_kw;
		r = compile_literal_db(lits, lens, flags, m, &rs->db_kw);
		if (r < 0) {
			snprintf(err, errlen, "cannot build the keyword database");
			return r;
		}
	}
	if (rs->n_variants > 0) {
		_cleanup_free_ const char **lits = calloc(rs->n_variants, sizeof(char *));
		_cleanup_free_ size_t *lens = calloc(rs->n_variants, sizeof(size_t));
		_cleanup_free_ unsigned *flags = calloc(rs->n_variants, sizeof(unsigned));
		if (!lits || !lens || !flags)
			return -ENOMEM;
		for (size_t i = 0; i < rs->n_variants; i++) {
			lits[i] = rs->variants[i].bytes;
			lens[i] = rs->variants[i].len;
			flags[i] = HS_FLAG_SOM_LEFTMOST |
				   (rs->variants[i].caseless ? HS_FLAG_CASELESS : 0);
		}
		r = compile_literal_db(lits, lens, flags, rs->n_variants, &rs->db_known);
		if (r < 0) {
			snprintf(err, errlen, "cannot build the known-secret database");
			return r;
		}
	}
	hs_database_t *dbs[] = { rs->db_rules, rs->db_kw, rs->db_known, rs->db_anchor };
	for (size_t i = 0; i < ELEMENTSOF(dbs); i++)
		if (dbs[i] && hs_alloc_scratch(dbs[i], &rs->scratch) != HS_SUCCESS)
			return -ENOMEM;
	rs->compiled = true;
	return 0;
}

/* ---- scanning ---- */

int scan_ctx_new(const struct scan_rules *rs, struct scan_ctx **ret)
{
	struct scan_ctx *c;
	if (!rs->compiled)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->rs = rs;
	if (rs->scratch && hs_clone_scratch(rs->scratch, &c->scratch) != HS_SUCCESS)
		goto fail;
	c->md = pcre2_match_data_create(64, NULL);
	c->mctx = pcre2_match_context_create(NULL);
	c->jit = pcre2_jit_stack_create(32 * 1024, 2 * 1024 * 1024, NULL);
	c->hit_count = calloc(rs->n + 1, sizeof(uint32_t));
	c->kw_present = calloc(rs->n_kw + 1, sizeof(bool));
	if (!c->md || !c->mctx || !c->jit || !c->hit_count || !c->kw_present)
		goto fail;
	pcre2_set_match_limit(c->mctx, MATCH_LIMIT);
	pcre2_set_depth_limit(c->mctx, DEPTH_LIMIT);
	pcre2_jit_stack_assign(c->mctx, NULL, c->jit);
	*ret = c;
	return 0;
fail:
	scan_ctx_free(c);
	return -ENOMEM;
}

struct scan_ctx *scan_ctx_free(struct scan_ctx *c)
{
	if (!c)
		return NULL;
	hs_free_scratch(c->scratch);
	pcre2_match_data_free(c->md);
	pcre2_match_context_free(c->mctx);
	pcre2_jit_stack_free(c->jit);
	free(c->hits);
	free(c->hit_count);
	free(c->kw_present);
	free(c->khits);
	free(c->nl);
	free(c);
	return NULL;
}

unsigned scan_ctx_limit_hits(const struct scan_ctx *ctx)
{
	return ctx->limit_hits;
}

double scan_entropy(const char *s, size_t len)
{
	uint32_t ascii[128] = { 0 };
	struct {
		uint32_t cp, n;
	} other[64];
	size_t n_other = 0, overflow = 0;
	double h = 0;
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x80) {
			ascii[c]++;
			i++;
			continue;
		}
		uint32_t cp = 0xfffd;
		size_t n = 1;
		size_t need = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc2 ? 1 : 0;
		if (need && c <= 0xf4 && i + need < len + 0) {
			uint32_t v = c & (0x3f >> need);
			bool ok = true;
			for (size_t k = 1; k <= need; k++) {
				if (i + k >= len || ((unsigned char)s[i + k] & 0xc0) != 0x80) {
					ok = false;
					break;
				}
				v = v << 6 | ((unsigned char)s[i + k] & 0x3f);
			}
			if (ok && !((need == 2 && v < 0x800) ||
				    (need == 3 && (v < 0x10000 || v > 0x10ffff)) ||
				    (v >= 0xd800 && v <= 0xdfff))) {
				cp = v;
				n = need + 1;
			}
		}
		i += n;
		size_t j;
		for (j = 0; j < n_other; j++)
			if (other[j].cp == cp)
				break;
		if (j < n_other)
			other[j].n++;
		else if (n_other < ELEMENTSOF(other))
			other[n_other++] = (typeof(other[0])){ cp, 1 };
		else
			overflow++; /* >64 distinct non-ASCII runes: count each as distinct */
	}
	double inv = 1.0 / (double)len;
	for (size_t i = 0; i < 128; i++)
		if (ascii[i]) {
			double f = ascii[i] * inv;
			h -= f * log2(f);
		}
	for (size_t i = 0; i < n_other; i++) {
		double f = other[i].n * inv;
		h -= f * log2(f);
	}
	if (overflow) {
		double f = inv;
		h -= (double)overflow * f * log2(f);
	}
	return h;
}

bool scan_looks_binary(const void *data, size_t len)
{
	return memchr(data, '\0', len < 8000 ? len : 8000) != NULL;
}

static int on_kw(unsigned id, unsigned long long from, unsigned long long to, unsigned fl, void *ud)
{
	struct scan_ctx *c = ud;
	c->kw_present[id] = true;
	return 0;
}

static int on_rule_hit(unsigned id, unsigned long long from, unsigned long long to, unsigned fl,
		       void *ud)
{
	struct scan_ctx *c = ud;
	uint32_t rule = (id & ANCHOR_ID) ? (id & ~ANCHOR_ID) : c->rs->hs_rule_of[id];
	if (c->hit_count[rule] > DENSE_HITS)
		return 0;
	if (++c->hit_count[rule] > DENSE_HITS)
		return 0; /* dense: one linear pass */
	if (array_grow((void **)&c->hits, &c->cap_hits, c->n_hits, sizeof(struct hit)) < 0) {
		c->hit_count[rule] = DENSE_HITS + 1; /* fall back to a linear pass */
		return 0;
	}
	c->hits[c->n_hits++] = (struct hit){ rule, (size_t)to };
	return 0;
}

static int on_anchor_hit(unsigned id, unsigned long long from, unsigned long long to, unsigned fl,
			 void *ud)
{
	struct scan_ctx *c = ud;
	/* the same bookkeeping as a prefilter hit, under the anchor's rule */
	return on_rule_hit(c->rs->anchor_rule_of[id] | ANCHOR_ID, from, to, fl, ud);
}

static int on_known(unsigned id, unsigned long long from, unsigned long long to, unsigned fl,
		    void *ud)
{
	struct scan_ctx *c = ud;
	if (array_grow((void **)&c->khits, &c->cap_khits, c->n_khits, sizeof(struct known_hit)) <
	    0) {
		c->oom = true;
		return 1;
	}
	c->khits[c->n_khits++] =
	    (struct known_hit){ c->rs->variants[id].known, (size_t)from, (size_t)to };
	return 0;
}

static int hit_cmp(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;
	if (x->rule != y->rule)
		return x->rule < y->rule ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

static int khit_cmp(const void *a, const void *b)
{
	const struct known_hit *x = a, *y = b;
	if (x->known != y->known)
		return x->known < y->known ? -1 : 1;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->end < y->end ? 1 : x->end > y->end ? -1 : 0;
}

static int build_newlines(struct scan_ctx *c)
{
	if (c->nl_ready)
		return 0;
	c->n_nl = 0;
	const char *p = c->data, *end = c->data + c->len;
	while (p < end) {
		const char *q = memchr(p, '\n', (size_t)(end - p));
		if (!q)
			break;
		if (array_grow((void **)&c->nl, &c->cap_nl, c->n_nl, sizeof(size_t)) < 0)
			return -ENOMEM;
		c->nl[c->n_nl++] = (size_t)(q - c->data);
		p = q + 1;
	}
	c->nl_ready = true;
	return 0;
}

/* Number of newlines before offset off. */
static size_t nl_before(const struct scan_ctx *c, size_t off)
{
	size_t lo = 0, hi = c->n_nl;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->nl[mid] < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void locate(const struct scan_ctx *c, struct scan_finding *f)
{
	size_t a = nl_before(c, f->start);
	size_t last = f->end > f->start ? f->end - 1 : f->start;
	size_t b = nl_before(c, last);
	size_t ls_a = a ? c->nl[a - 1] + 1 : 0, ls_b = b ? c->nl[b - 1] + 1 : 0;
	f->start_line = (unsigned)(a + 1);
	f->end_line = (unsigned)(b + 1);
	f->start_col = (unsigned)(f->start - ls_a + 1);
	f->end_col = (unsigned)(last - ls_b + 1);
}

static bool re_matches(struct scan_ctx *c, pcre2_code *re, const char *s, size_t len)
{
	int rc = pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, c->md, c->mctx);
	if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
	    rc == PCRE2_ERROR_JIT_STACKLIMIT)
		c->limit_hits++;
	return rc >= 0;
}

static bool any_matches(struct scan_ctx *c, pcre2_code **res, size_t n, const char *s, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (re_matches(c, res[i], s, len))
			return true;
	return false;
}

static bool has_stopword(const struct allowlist *a, const char *secret, size_t len)
{
	if (!a->n_stopwords)
		return false;
	char small[512];
	_cleanup_free_ char *big = NULL;
	char *low = small;
	if (len > sizeof(small)) {
		big = malloc(len);
		if (!big)
			return false;
		low = big;
	}
	for (size_t i = 0; i < len; i++)
		low[i] = (secret[i] >= 'A' && secret[i] <= 'Z') ? (char)(secret[i] - 'A' + 'a')
								: secret[i];
	for (size_t i = 0; i < a->n_stopwords; i++)
		if (memmem(low, len, a->stopwords[i], strlen(a->stopwords[i])))
			return true;
	return false;
}

static bool path_allowed(struct scan_ctx *c, const struct allowlist *a, const char *path)
{
	return path && a->n_paths && any_matches(c, a->paths, a->n_paths, path, strlen(path));
}

/* Whether a path/commit-only decision allows the whole buffer (gitleaks'
 * checkCommitOrPathAllowed). */
static bool path_allows_all(struct scan_ctx *c, const struct allowlist *al, size_t n,
			    const char *path)
{
	for (size_t i = 0; i < n; i++) {
		const struct allowlist *a = &al[i];
		if (a->cond_and) {
			if (a->n_regexes || a->n_stopwords)
				continue;
			bool ok = a->n_paths || a->has_commits;
			if (a->has_commits)
				ok = false;
			if (a->n_paths && !path_allowed(c, a, path))
				ok = false;
			if (ok)
				return true;
		} else if (path_allowed(c, a, path)) {
			return true;
		}
	}
	return false;
}

static bool finding_allowed(struct scan_ctx *c, const struct allowlist *al, size_t n,
			    const struct scan_finding *f, const char *line, size_t line_len)
{
	for (size_t i = 0; i < n; i++) {
		const struct allowlist *a = &al[i];
		const char *t = f->secret;
		size_t tl = f->secret_len;
		if (a->target == SCAN_TARGET_MATCH)
			t = f->match, tl = f->match_len;
		else if (a->target == SCAN_TARGET_LINE)
			t = line, tl = line_len;
		bool path_ok = path_allowed(c, a, f->path);
		bool re_ok = a->n_regexes && any_matches(c, a->regexes, a->n_regexes, t, tl);
		bool stop_ok = has_stopword(a, f->secret, f->secret_len);
		bool allowed;
		if (a->cond_and) {
			bool any = false;
			allowed = true;
			if (a->has_commits)
				allowed = false, any = true;
			if (a->n_paths)
				allowed = allowed && path_ok, any = true;
			if (a->n_regexes)
				allowed = allowed && re_ok, any = true;
			if (a->n_stopwords)
				allowed = allowed && stop_ok, any = true;
			allowed = allowed && any;
		} else {
			allowed = path_ok || re_ok || stop_ok;
		}
		if (allowed)
			return true;
	}
	return false;
}

static bool ignored(const struct scan_rules *rs, const struct scan_finding *f)
{
	if (!rs->n_ignores || !f->path)
		return false;
	char fp[PATH_MAX + 256];
	snprintf(fp, sizeof(fp), "%s:%s:%u", f->path, f->rule_id, f->start_line);
	for (size_t i = 0; i < rs->n_ignores; i++)
		if (STREQ(rs->ignores[i], fp))
			return true;
	return false;
}

/* Reports one regex match [s,e) of rule r after gitleaks' checks.
 * Returns 1 reported, 0 dropped, < 0 error or callback stop. */
static int report_match(struct scan_ctx *c, const struct rule *r, const char *path, size_t s,
			size_t e, scan_callback cb, void *ud)
{
	const struct scan_rules *rs = c->rs;
	const char *d = c->data;
	struct scan_finding f = {
		.rule_id = r->id,
		.description = r->description,
		.tags = (const char *const *)r->tags,
		.n_tags = r->n_tags,
		.path = path,
		.start = s,
		.end = e,
	};
	int rc;
	/* the match with newlines trimmed at both ends, as gitleaks */
	size_t ms = s, me = e;
	while (ms < me && d[ms] == '\n')
		ms++;
	while (me > ms && d[me - 1] == '\n')
		me--;
	f.match = d + ms;
	f.match_len = me - ms;
	f.secret = f.match;
	f.secret_len = f.match_len;
	rc = build_newlines(c);
	if (rc < 0)
		return rc;
	locate(c, &f);
	/* the lines of the match, from the newline before it (gitleaks' Line) */
	size_t a = nl_before(c, s);
	size_t line_start = a ? c->nl[a - 1] : 0;
	const char *nl = memchr(d + e, '\n', c->len - e);
	size_t line_end = nl ? (size_t)(nl - d) : c->len;
	if (line_end < line_start)
		line_end = line_start;
	if (memmem(d + line_start, line_end - line_start, "gitleaks:allow", 14))
		return 0;
	if (r->ncaptures > 0) {
		rc = pcre2_match(r->re, (PCRE2_SPTR)f.match, f.match_len, 0, 0, c->md, c->mctx);
		if (rc > 0 || rc == 0) {
			PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
			uint32_t np = pcre2_get_ovector_count(c->md);
			if (r->secret_group > 0) {
				uint32_t g = (uint32_t)r->secret_group;
				if (g < np && ov[2 * g] != PCRE2_UNSET) {
					f.secret = f.match + ov[2 * g];
					f.secret_len = ov[2 * g + 1] - ov[2 * g];
				} else {
					f.secret_len = 0; /* unset group: empty secret */
				}
			} else {
				for (uint32_t g = 1; g <= r->ncaptures && g < np; g++) {
					if (ov[2 * g] != PCRE2_UNSET && ov[2 * g + 1] > ov[2 * g]) {
						f.secret = f.match + ov[2 * g];
						f.secret_len = ov[2 * g + 1] - ov[2 * g];
						break;
					}
				}
			}
		} else if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
			   rc == PCRE2_ERROR_JIT_STACKLIMIT) {
			c->limit_hits++;
		}
	}
	f.entropy = scan_entropy(f.secret, f.secret_len);
	if (r->entropy != 0 && f.entropy <= r->entropy)
		return 0;
	if (finding_allowed(c, rs->global, rs->n_global, &f, d + line_start, line_end - line_start))
		return 0;
	if (finding_allowed(c, r->allowlists, r->n_allowlists, &f, d + line_start,
			    line_end - line_start))
		return 0;
	if (ignored(rs, &f))
		return 0;
	rc = cb(&f, ud);
	return rc < 0 ? rc : 1;
}

/* Runs rule r's regex over the buffer: from each position p, the leftmost
 * match. With sorted prefilter hit ends (hits, n), the search starts no
 * earlier than the first hit end minus the rule's maximum width: a match
 * starting before that would end before the first hit, and every real match
 * ends at a reported hit. */
/* One step of a search as gitleaks does it: the leftmost match of r at or
 * after q (starting no later than limit, when that is not PCRE2_UNSET),
 * reported. Returns 1 and sets *ret_next to where the search goes on, 0 when
 * there is no match (or a match limit was hit, which is counted), < 0 when
 * the callback stopped the scan. */
static int confirm_step(struct scan_ctx *c, const struct rule *r, const char *path, size_t q,
			PCRE2_SIZE limit, scan_callback cb, void *ud, int *found, size_t *ret_next)
{
	/* Only this match may see the limit: allowlist regexes share the
	 * context and were compiled without offset limits. */
	if (limit != PCRE2_UNSET)
		pcre2_set_offset_limit(c->mctx, limit);
	int rc = pcre2_match(r->re, (PCRE2_SPTR)c->data, c->len, q, 0, c->md, c->mctx);
	if (limit != PCRE2_UNSET)
		pcre2_set_offset_limit(c->mctx, PCRE2_UNSET);
	if (rc < 0) {
		if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
		    rc == PCRE2_ERROR_JIT_STACKLIMIT)
			c->limit_hits++;
		return 0;
	}
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
	size_t s = ov[0], e = ov[1];
	if (e <= s) { /* empty match: gitleaks skips nothing, we never report it */
		*ret_next = s + 1;
		return 1;
	}
	int x = report_match(c, r, path, s, e, cb, ud);
	if (x < 0)
		return x;
	*found += x;
	*ret_next = e;
	return 1;
}

/* An anchored rule: its matches start in [t - maxw - N, t - minw] for an end
 * t of an anchor occurrence. Search only there (the offset limit bounds the
 * start), window by window in order, continuing after each match as the
 * linear search would: the same matches, a fraction of the work. */
static int run_windows(struct scan_ctx *c, const struct rule *r, const char *path,
		       const struct hit *hits, size_t n, scan_callback cb, void *ud, int *found)
{
	size_t p = 0, k = 0, back = r->anchor_maxw + r->anchor_lead;
	while (k < n) {
		/* merge the windows that overlap or touch */
		size_t a = hits[k].end > back ? hits[k].end - back : 0;
		size_t b = hits[k].end - r->anchor_minw;
		for (k++; k < n; k++) {
			size_t a2 = hits[k].end > back ? hits[k].end - back : 0;
			if (a2 > b + 1)
				break;
			b = hits[k].end - r->anchor_minw;
		}
		size_t q = a > p ? a : p;
		while (q <= b) {
			int x = confirm_step(c, r, path, q, b, cb, ud, found, &q);
			if (x < 0)
				return x;
			if (x == 0)
				break; /* nothing more starts in this window */
			p = q;
		}
	}
	return 0;
}

static int run_rule(struct scan_ctx *c, const struct rule *r, const char *path,
		    const struct hit *hits, size_t n, bool dense, scan_callback cb, void *ud,
		    int *found)
{
	if (r->anchored && !dense)
		return run_windows(c, r, path, hits, n, cb, ud, found);
	size_t p = 0, k = 0;
	while (p <= c->len) {
		size_t q = p;
		if (!dense) {
			while (k < n && hits[k].end < p)
				k++;
			if (k == n)
				break;
			if (r->width != SIZE_MAX && hits[k].end > r->width &&
			    hits[k].end - r->width > q)
				q = hits[k].end - r->width;
		}
		int x = confirm_step(c, r, path, q, PCRE2_UNSET, cb, ud, found, &p);
		if (x <= 0)
			return x;
	}
	return 0;
}

static int run_known(struct scan_ctx *c, scan_callback cb, void *ud, const char *path, int *found)
{
	const struct scan_rules *rs = c->rs;
	if (!rs->db_known)
		return 0;
	c->n_khits = 0;
	if (hs_scan(rs->db_known, c->data, (unsigned)c->len, 0, c->scratch, on_known, c) !=
		HS_SUCCESS &&
	    c->oom)
		return -ENOMEM;
	if (c->n_khits == 0)
		return 0;
	qsort(c->khits, c->n_khits, sizeof(struct known_hit), khit_cmp);
	int r = build_newlines(c);
	if (r < 0)
		return r;
	size_t covered_known = SIZE_MAX, covered_end = 0;
	for (size_t i = 0; i < c->n_khits; i++) {
		const struct known_hit *h = &c->khits[i];
		if (h->known == covered_known && h->start < covered_end)
			continue; /* overlaps a reported occurrence of the same secret */
		covered_known = h->known;
		covered_end = h->end;
		struct scan_finding f = {
			.rule_id = rs->known_names[h->known],
			.description = "a known secret value (raw or encoded)",
			.path = path,
			.start = h->start,
			.end = h->end,
			.known_secret = true,
			.known_name = rs->known_names[h->known] + strlen("known-secret:"),
		};
		locate(c, &f);
		r = cb(&f, ud);
		if (r < 0)
			return r;
		(*found)++;
	}
	return 0;
}

int scan_ctx_buffer(struct scan_ctx *c, const char *path, const void *data, size_t len,
		    scan_callback cb, void *ud)
{
	const struct scan_rules *rs = c->rs;
	int found = 0, r;

	if (len > UINT_MAX)
		return -EFBIG; /* Hyperscan's block limit; callers split or cap */
	c->data = data ? data : "";
	c->len = len;
	c->nl_ready = false;
	c->n_hits = 0;
	c->oom = false;
	memset(c->hit_count, 0, (rs->n + 1) * sizeof(uint32_t));
	memset(c->kw_present, 0, (rs->n_kw + 1) * sizeof(bool));

	r = run_known(c, cb, ud, path, &found);
	if (r < 0)
		return r;
	if (path && path_allows_all(c, rs->global, rs->n_global, path))
		return found;
	if (rs->db_kw &&
	    hs_scan(rs->db_kw, c->data, (unsigned)len, 0, c->scratch, on_kw, c) != HS_SUCCESS)
		return -EIO;
	if (rs->db_rules && hs_scan(rs->db_rules, c->data, (unsigned)len, 0, c->scratch,
				    on_rule_hit, c) != HS_SUCCESS)
		return -EIO;
	if (rs->db_anchor && hs_scan(rs->db_anchor, c->data, (unsigned)len, 0, c->scratch,
				     on_anchor_hit, c) != HS_SUCCESS)
		return -EIO;
	if (c->n_hits > 1)
		qsort(c->hits, c->n_hits, sizeof(struct hit), hit_cmp);
	bool ascii = true;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)c->data[i] >= 0x80) {
			ascii = false;
			break;
		}
	bool folds_to_ascii = !ascii && (memmem(c->data, len, "\xe2\x84\xaa", 3) ||
					 memmem(c->data, len, "\xc5\xbf", 2));
	size_t h = 0;
	for (size_t i = 0; i < rs->n; i++) {
		const struct rule *ru = &rs->rules[i];
		size_t h0 = h;
		while (h < c->n_hits && c->hits[h].rule == i)
			h++;
		if (ru->disabled)
			continue;
		if (ru->n_keywords) {
			bool ok = false;
			for (size_t k = 0; k < ru->n_keywords && !ok; k++)
				ok = c->kw_present[ru->kw_ids[k]] || !ru->keywords[k][0];
			if (!ok)
				continue;
		}
		if (path && path_allows_all(c, ru->allowlists, ru->n_allowlists, path))
			continue;
		if (ru->path_re) {
			bool pm = path && re_matches(c, ru->path_re, path, strlen(path));
			if (!pm)
				continue;
			if (!ru->re) {
				struct scan_finding f = {
					.rule_id = ru->id,
					.description = ru->description,
					.tags = (const char *const *)ru->tags,
					.n_tags = ru->n_tags,
					.path = path,
					.match = path,
					.match_len = strlen(path),
					.secret = path,
					.secret_len = strlen(path),
				};
				if (ignored(rs, &f))
					continue;
				r = cb(&f, ud);
				if (r < 0)
					return r;
				found++;
				continue;
			}
		}
		if (!ru->re)
			continue;
		/* Hyperscan folds case in ASCII only; PCRE2 and Go also fold the
		 * KELVIN SIGN to k and the LONG S to s. */
		bool dense = !(ru->in_hs || ru->anchored) || c->hit_count[i] > DENSE_HITS ||
			     (ru->anchored ? ru->anchor_caseless && folds_to_ascii
					   : !ascii && ru->byte_sensitive);
		if (!dense && h == h0)
			continue;
		/* No hits at all (dense rules only): c->hits may still be NULL. */
		const struct hit *hs = c->hits ? c->hits + h0 : NULL;
		r = run_rule(c, ru, path, hs, h - h0, dense, cb, ud, &found);
		if (r < 0)
			return r;
	}
	return found;
}

int scan_buffer(const struct scan_rules *rs, const char *path, const void *data, size_t len,
		scan_callback cb, void *userdata)
{
	struct scan_ctx *c = NULL;
	int r = scan_ctx_new(rs, &c);
	if (r < 0)
		return r;
	r = scan_ctx_buffer(c, path, data, len, cb, userdata);
	scan_ctx_free(c);
	return r;
}
