/* The rule set (scan.h): rules, allowlists, ignored fingerprints and known
 * secrets as they are added, then scan_rules_compile(), which interns the
 * keywords and builds the Hyperscan databases (or loads them from the
 * cache, dbcache.c). After that the set is never written again. */
#include "util/common.h"

#include "util/array.h"
#include "util/strv.h"

#include "scan/scan_int.h"

/* A copy of src[0..n) (NULL entries as ""), lowercased when lower. */
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

/* The strings of spec copied into r (keywords in lowercase). */
static int rule_copy_spec(struct rule *r, const struct scan_rule_spec *spec)
{
	r->id = strdup(spec->id);
	r->description = strdup(spec->description ? spec->description : "");
	if (!r->id || !r->description)
		return -ENOMEM;
	if (strv_copy(spec->tags, spec->n_tags, false, &r->tags) < 0)
		return -ENOMEM;
	r->n_tags = spec->n_tags;
	if (strv_copy(spec->keywords, spec->n_keywords, true, &r->keywords) < 0)
		return -ENOMEM;
	r->n_keywords = spec->n_keywords;
	return 0;
}

/* r's regex compiled, its template anchor found, its secretGroup checked. */
static int rule_compile_regex(struct scan_rules *rs, struct rule *r, const char *regex,
			      struct error *err)
{
	bool unused;
	_cleanup_free_ char *pcre_src = regex_to_pcre(regex, &unused);
	bool templ = pcre_src && regex_template_anchor(pcre_src, &r->anchor, &r->anchor_lead,
						       &r->anchor_caseless);
	int ret = regex_compile(rs->cctx, regex, templ ? PCRE2_USE_OFFSET_LIMIT : 0, &r->re,
				&r->byte_sensitive, &r->regex_src, err);
	if (ret < 0)
		return ret;
	pcre2_pattern_info(r->re, PCRE2_INFO_CAPTURECOUNT, &r->ncaptures);
	if (r->secret_group < 0 || (uint32_t)r->secret_group > r->ncaptures)
		return error_set(err, -EINVAL, NULL, 0,
				 "rule '%s': secretGroup %d but the regex has %u groups", r->id,
				 r->secret_group, r->ncaptures);
	return 0;
}

int scan_rules_add_rule(struct scan_rules *rs, const struct scan_rule_spec *spec, struct error *err)
{
	_cleanup_(rule_clear) struct rule r = {
		.secret_group = spec->secret_group,
		.entropy = spec->entropy,
		.width = SIZE_MAX,
	};
	int ret;

	if (rs->compiled)
		return -EBUSY;
	if (!spec->id || !*spec->id)
		return error_set(err, -EINVAL, NULL, 0, "rule without an id");
	if (!spec->regex && !spec->path)
		return error_set(err, -EINVAL, NULL, 0, "rule '%s' has neither regex nor path",
				 spec->id);
	if ((ret = rule_copy_spec(&r, spec)) < 0)
		return ret;
	if (spec->regex && (ret = rule_compile_regex(rs, &r, spec->regex, err)) < 0)
		return ret;
	if (spec->path &&
	    (ret = regex_compile(rs->cctx, spec->path, 0, &r.path_re, NULL, NULL, err)) < 0)
		return ret;
	if (array_grow((void **)&rs->rules, &rs->cap, rs->n, sizeof(struct rule)) < 0)
		return -ENOMEM;
	struct rule *old = find_rule(rs, spec->id);
	if (old)
		old->disabled = true;
	rs->rules[rs->n++] = r;
	r = (struct rule){ 0 }; /* the set owns it now */
	return 0;
}

/* The n regexes src compiled into res[0..n), counted in *count as they are
 * (so that allowlist_clear() frees exactly those on failure). */
static int compile_all(struct scan_rules *rs, const char *const *src, size_t n, pcre2_code **res,
		       size_t *count, struct error *err)
{
	for (size_t i = 0; i < n; i++) {
		int r = regex_compile(rs->cctx, src[i], 0, &res[i], NULL, NULL, err);
		if (r < 0)
			return r;
		(*count)++;
	}
	return 0;
}

int scan_rules_add_allowlist(struct scan_rules *rs, const char *rule_id,
			     const struct scan_allowlist_spec *spec, struct error *err)
{
	_cleanup_(allowlist_clear) struct allowlist a = { .cond_and = spec->cond_and,
							  .target = spec->target,
							  .has_commits = spec->has_commits };
	struct allowlist **list = &rs->global;
	size_t *n = &rs->n_global;
	int r;

	if (rs->compiled)
		return -EBUSY;
	if (rule_id) {
		struct rule *ru = find_rule(rs, rule_id);
		if (!ru)
			return error_set(err, -ENOENT, NULL, 0, "no rule '%s'", rule_id);
		list = &ru->allowlists;
		n = &ru->n_allowlists;
	}
	a.regexes = calloc(spec->n_regexes + 1, sizeof(void *));
	a.paths = calloc(spec->n_paths + 1, sizeof(void *));
	if (!a.regexes || !a.paths ||
	    strv_copy(spec->stopwords, spec->n_stopwords, true, &a.stopwords) < 0)
		return -ENOMEM;
	a.n_stopwords = spec->n_stopwords;
	if ((r = compile_all(rs, spec->regexes, spec->n_regexes, a.regexes, &a.n_regexes, err)) <
		0 ||
	    (r = compile_all(rs, spec->paths, spec->n_paths, a.paths, &a.n_paths, err)) < 0)
		return r;
	/* arrays grow one by one: allowlists are few */
	if (array_grow_counted((void **)list, *n, sizeof(**list)) < 0)
		return -ENOMEM;
	(*list)[(*n)++] = a;
	memset(&a, 0, sizeof(a)); /* the set owns it now: nothing left for the cleanup */
	return 0;
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

/* A buffer that holds secret material: wiped, then freed. */
struct wiped {
	char *p;
	size_t len;
};

static void wiped_free(struct wiped *w)
{
	if (w->p)
		explicit_bzero(w->p, w->len);
	free(w->p);
}

#define _cleanup_wiped_ _cleanup_(wiped_free)

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Into enc: the base64 characters that encode only bytes of v[0..len) when
 * it sits at stream offset k (0..2); in (len + 2 bytes) is scratch space.
 * Returns their number. */
static size_t base64_inner(unsigned char *in, const unsigned char *v, size_t len, size_t k,
			   char *enc)
{
	size_t bits = (k + len) * 8, nchars = 0;
	size_t first = (8 * k + 5) / 6; /* first char fully inside value */
	memset(in, 0, k);
	memcpy(in + k, v, len);
	for (size_t i = first; 6 * i + 6 <= bits; i++) {
		size_t bit = 6 * i, byte = bit / 8, shift = bit % 8;
		unsigned w = (unsigned)in[byte] << 8 | (byte + 1 < k + len ? in[byte + 1] : 0);
		enc[nchars++] = B64[(w >> (10 - shift)) & 63];
	}
	return nchars;
}

/* The base64 forms of v at every alignment, in the standard and the URL
 * alphabet. */
static int add_base64_variants(struct scan_rules *rs, unsigned known, const unsigned char *v,
			       size_t len)
{
	size_t total = len + 2;
	if (total > SIZE_MAX / 2)
		return -ENOMEM;
	_cleanup_wiped_ struct wiped in = { malloc(total), total };
	_cleanup_wiped_ struct wiped enc = { malloc(total * 2 + 8), total * 2 + 8 };
	if (!in.p || !enc.p)
		return -ENOMEM;
	for (size_t k = 0; k < 3; k++) {
		size_t nchars = base64_inner((unsigned char *)in.p, v, len, k, enc.p);
		if (nchars < 6)
			continue;
		int r = add_variant(rs, known, enc.p, nchars, false);
		if (r < 0)
			return r;
		for (size_t i = 0; i < nchars; i++)
			enc.p[i] = enc.p[i] == '+' ? '-' : enc.p[i] == '/' ? '_' : enc.p[i];
		r = add_variant(rs, known, enc.p, nchars, false);
		if (r < 0)
			return r;
	}
	return 0;
}

/* v in lowercase hex, matched caseless. */
static int add_hex_variant(struct scan_rules *rs, unsigned known, const unsigned char *v,
			   size_t len)
{
	static const char hex[] = "0123456789abcdef";
	_cleanup_wiped_ struct wiped enc = { malloc(len * 2 + 1), len * 2 + 1 };
	if (!enc.p)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		enc.p[2 * i] = hex[v[i] >> 4];
		enc.p[2 * i + 1] = hex[v[i] & 15];
	}
	return add_variant(rs, known, enc.p, len * 2, true);
}

/* v URL-encoded (RFC 3986 unreserved characters kept), matched caseless;
 * nothing when no byte needs encoding (the raw variant covers it). */
static int add_url_variant(struct scan_rules *rs, unsigned known, const unsigned char *v,
			   size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	_cleanup_wiped_ struct wiped enc = { malloc(len * 3 + 1), len * 3 + 1 };
	size_t n = 0;
	bool changed = false;
	if (!enc.p)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = v[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			enc.p[n++] = (char)c;
		} else {
			enc.p[n++] = '%';
			enc.p[n++] = hex[c >> 4];
			enc.p[n++] = hex[c & 15];
			changed = true;
		}
	}
	return changed ? add_variant(rs, known, enc.p, n, true) : 0;
}

static bool known_name_valid(const char *name)
{
	if (!name || !*name || strlen(name) > 64)
		return false;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
		      (*c >= '0' && *c <= '9') || *c == '_' || *c == '.' || *c == '-'))
			return false;
	return true;
}

int scan_rules_add_known_secret(struct scan_rules *rs, const char *name, const void *value,
				size_t len)
{
	const unsigned char *v = value;
	int r;
	if (rs->compiled)
		return -EBUSY;
	if (!known_name_valid(name) || len < 4 || len > 65536 || rs->n_known >= MAX_KNOWN)
		return -EINVAL;
	if (array_grow_counted((void **)&rs->known_names, rs->n_known, sizeof(char *)) < 0)
		return -ENOMEM;
	if (asprintf(&rs->known_names[rs->n_known], "known-secret:%s", name) < 0)
		return -ENOMEM;
	unsigned k = (unsigned)rs->n_known++;
	if ((r = add_variant(rs, k, value, len, false)) < 0 ||
	    (r = add_base64_variants(rs, k, v, len)) < 0 ||
	    (r = add_hex_variant(rs, k, v, len)) < 0)
		return r;
	return add_url_variant(rs, k, v, len);
}

/* The index of keyword kw in rs->kw, added if new. */
static int kw_intern(struct scan_rules *rs, const char *kw, size_t *cap, unsigned *ret_id)
{
	for (size_t i = 0; i < rs->n_kw; i++)
		if (STREQ(rs->kw[i], kw)) {
			*ret_id = (unsigned)i;
			return 0;
		}
	if (array_grow((void **)&rs->kw, cap, rs->n_kw, sizeof(char *)) < 0)
		return -ENOMEM;
	rs->kw[rs->n_kw] = strdup(kw);
	if (!rs->kw[rs->n_kw])
		return -ENOMEM;
	*ret_id = (unsigned)rs->n_kw++;
	return 0;
}

/* Every enabled rule's keywords interned: rule->kw_ids[k] indexes rs->kw. */
static int intern_keywords(struct scan_rules *rs)
{
	size_t cap = 0;
	for (size_t i = 0; i < rs->n; i++) {
		struct rule *ru = &rs->rules[i];
		if (ru->disabled)
			continue;
		ru->kw_ids = calloc(ru->n_keywords + 1, sizeof(unsigned));
		if (!ru->kw_ids)
			return -ENOMEM;
		for (size_t k = 0; k < ru->n_keywords; k++) {
			int r = kw_intern(rs, ru->keywords[k], &cap, &ru->kw_ids[k]);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* Whether Hyperscan accepts expr with flags; then its minimum and maximum
 * match widths (UINT_MAX: unbounded). */
static bool hs_widths(const char *expr, unsigned flags, unsigned *ret_min, unsigned *ret_max)
{
	hs_expr_info_t *info = NULL;
	hs_compile_error_t *cerr = NULL;
	if (hs_expression_info(expr, flags, &info, &cerr) != HS_SUCCESS) {
		hs_free_compile_error(cerr);
		return false;
	}
	*ret_min = info->min_width;
	*ret_max = info->max_width;
	free(info);
	return true;
}

/* The anchors of template rules (see regex_template_anchor()) in one database;
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
		unsigned f = r->anchor_caseless ? HS_FLAG_CASELESS : 0, minw, maxw;
		if (r->disabled || !r->re || !r->anchor || !hs_widths(r->anchor, f, &minw, &maxw))
			continue;
		r->anchor_minw = minw;
		r->anchor_maxw = maxw;
		if (maxw == UINT_MAX || minw == 0)
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

static int compile_rule_db(struct scan_rules *rs, struct error *err)
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
		unsigned f = HS_FLAG_PREFILTER | HS_FLAG_ALLOWEMPTY, minw, maxw;
		if (!hs_widths(r->regex_src, f, &minw, &maxw))
			continue;
		/* The width bound must hold for the real pattern, not the approximation. */
		if (hs_widths(r->regex_src, HS_FLAG_ALLOWEMPTY, &minw, &maxw) && maxw != UINT_MAX)
			r->width = maxw;
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
		if (bad < 0 || (size_t)bad >= n)
			return error_set(err, -EINVAL, NULL, 0,
					 "cannot build the prefilter database");
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

/* The prefilter and anchor databases, from the cache or compiled (and then
 * cached). */
static int build_prefilters(struct scan_rules *rs, struct error *err)
{
	if (dbcache_load(rs) == 0)
		return 0;
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
	int r = compile_anchor_db(rs);
	if (r < 0)
		return error_set(err, r, NULL, 0, "cannot build the anchor database");
	r = compile_rule_db(rs, err);
	if (r < 0)
		return r;
	dbcache_store(rs);
	return 0;
}

/* The keywords as caseless single-match literals. An empty keyword matches
 * everything, which the scan handles: it stands in as "\n". */
static int build_keyword_db(struct scan_rules *rs, struct error *err)
{
	if (rs->n_kw == 0)
		return 0;
	_cleanup_free_ const char **lits = calloc(rs->n_kw, sizeof(char *));
	_cleanup_free_ size_t *lens = calloc(rs->n_kw, sizeof(size_t));
	_cleanup_free_ unsigned *flags = calloc(rs->n_kw, sizeof(unsigned));
	if (!lits || !lens || !flags)
		return -ENOMEM;
	for (size_t i = 0; i < rs->n_kw; i++) {
		lits[i] = rs->kw[i];
		lens[i] = strlen(rs->kw[i]);
		flags[i] = HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH;
		if (lens[i] == 0)
			lens[i] = 1, lits[i] = "\n", flags[i] = HS_FLAG_SINGLEMATCH;
	}
	int r = compile_literal_db(lits, lens, flags, rs->n_kw, &rs->db_kw);
	if (r < 0)
		return error_set(err, r, NULL, 0, "cannot build the keyword database");
	return 0;
}

/* The known secrets' variants as literals, with their start offsets. */
static int build_known_db(struct scan_rules *rs, struct error *err)
{
	if (rs->n_variants == 0)
		return 0;
	_cleanup_free_ const char **lits = calloc(rs->n_variants, sizeof(char *));
	_cleanup_free_ size_t *lens = calloc(rs->n_variants, sizeof(size_t));
	_cleanup_free_ unsigned *flags = calloc(rs->n_variants, sizeof(unsigned));
	if (!lits || !lens || !flags)
		return -ENOMEM;
	for (size_t i = 0; i < rs->n_variants; i++) {
		lits[i] = rs->variants[i].bytes;
		lens[i] = rs->variants[i].len;
		flags[i] = HS_FLAG_SOM_LEFTMOST | (rs->variants[i].caseless ? HS_FLAG_CASELESS : 0);
	}
	int r = compile_literal_db(lits, lens, flags, rs->n_variants, &rs->db_known);
	if (r < 0)
		return error_set(err, r, NULL, 0, "cannot build the known-secret database");
	return 0;
}

int scan_rules_compile(struct scan_rules *rs, struct error *err)
{
	int r;
	if (rs->compiled)
		return -EBUSY;
	if ((r = intern_keywords(rs)) < 0 || (r = build_prefilters(rs, err)) < 0 ||
	    (r = build_keyword_db(rs, err)) < 0 || (r = build_known_db(rs, err)) < 0)
		return r;
	hs_database_t *dbs[] = { rs->db_rules, rs->db_kw, rs->db_known, rs->db_anchor };
	for (size_t i = 0; i < ELEMENTSOF(dbs); i++)
		if (dbs[i] && hs_alloc_scratch(dbs[i], &rs->scratch) != HS_SUCCESS)
			return -ENOMEM;
	rs->compiled = true;
	return 0;
}
