/* The rule set (scan.h): rules, allowlists, ignored fingerprints and known
 * secrets as they are added, then scan_rules_compile(), which interns the
 * keywords and builds the Hyperscan databases (or loads them from the
 * cache, dbcache.c). After that the set is never written again. */
#include "util/common.h"

#include "util/array.h"

#include "scan/scan_int.h"

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int strv_copy(const char *const *src, size_t n, bool lower, char ***ret)
{
	char **v = calloc(n ? n : 1, sizeof(char *));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		v[i] = strdup(src[i] ? src[i] : "");
		if (!v[i]) {
			strv_free(v, i);
			return -ENOMEM;
		}
		if (lower)
			for (char *c = v[i]; *c; c++)
				if (*c >= 'A' && *c <= 'Z')
					*c = (char)(*c - 'A' + 'a');
	}
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
	strv_free(a->stopwords, a->n_stopwords);
}

static void rule_clear(struct rule *r)
{
	free(r->id);
	free(r->description);
	strv_free(r->tags, r->n_tags);
	free(r->regex_src);
	free(r->anchor);
	pcre2_code_free(r->re);
	pcre2_code_free(r->path_re);
	strv_free(r->keywords, r->n_keywords);
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
	strv_free(rs->ignores, rs->n_ignores);
	strv_free(rs->known_names, rs->n_known);
	for (size_t i = 0; i < rs->n_variants; i++) {
		explicit_bzero(rs->variants[i].bytes, rs->variants[i].len);
		free(rs->variants[i].bytes);
	}
	free(rs->variants);
	strv_free(rs->kw, rs->n_kw);
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
		_cleanup_free_ char *pcre_src = regex_to_pcre(spec->regex, &unused);
		bool templ = pcre_src && regex_template_anchor(pcre_src, &r.anchor, &r.anchor_lead,
							       &r.anchor_caseless);
		r.re = regex_compile(rs->cctx, spec->regex, templ ? PCRE2_USE_OFFSET_LIMIT : 0,
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
		r.path_re = regex_compile(rs->cctx, spec->path, 0, NULL, NULL, err, errlen);
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
		a.regexes[i] =
		    regex_compile(rs->cctx, spec->regexes[i], 0, NULL, NULL, err, errlen);
		if (!a.regexes[i])
			goto fail;
		a.n_regexes++;
	}
	for (size_t i = 0; i < spec->n_paths; i++) {
		a.paths[i] = regex_compile(rs->cctx, spec->paths[i], 0, NULL, NULL, err, errlen);
		if (!a.paths[i])
			goto fail;
		a.n_paths++;
	}
	ret = -ENOMEM;
	size_t cap = *n; /* arrays grow one by one: allowlists are few */
	void *p = realloc(*list, (cap + 1) * sizeof(struct allowlist));
	if (!p)
		goto fail;
	*list = p;
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
	char **names = realloc(rs->known_names, (rs->n_known + 1) * sizeof(char *));
	if (!names)
		return -ENOMEM;
	rs->known_names = names;
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
	if (dbcache_load(rs) < 0) {
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
		dbcache_store(rs);
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
