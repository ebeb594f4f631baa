/* Matching (see scan.h): scanning a buffer with a compiled rule set.
 * Hyperscan proposes, PCRE2 disposes: one Hyperscan block-mode database
 * holds every rule regex compiled with HS_FLAG_PREFILTER (a superset of the
 * real matches, reported as end offsets), a second holds the rule keywords
 * as caseless literals, a third the known-secret variants, a fourth the
 * anchors of template rules (rules.c builds them). For each rule that is
 * enabled by its keywords and has prefilter hits, PCRE2-JIT finds the real
 * matches with Go's leftmost-first semantics, starting near the hits instead
 * of scanning the whole buffer; then entropy, allowlists, gitleaks:allow and
 * the ignore list decide what is reported. Also the entropy and binary
 * heuristics. */
#include "util/common.h"

#include "util/array.h"

#include <math.h>

#include "scan/scan_int.h"

/* A rule with more prefilter hits than this in one buffer is confirmed by one
 * linear PCRE pass instead of hit by hit (bounds the memory for hit lists). */
#define DENSE_HITS  4096
#define MATCH_LIMIT 2000000
#define DEPTH_LIMIT 100000
#define ANCHOR_ID   0x80000000u /* on_rule_hit(): id is a rule index */

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

static void scan_ctx_freep(struct scan_ctx **c)
{
	scan_ctx_free(*c);
}

int scan_ctx_new(const struct scan_rules *rs, struct scan_ctx **ret)
{
	if (!rs->compiled)
		return -EINVAL;
	_cleanup_(scan_ctx_freep) struct scan_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->rs = rs;
	if (rs->scratch && hs_clone_scratch(rs->scratch, &c->scratch) != HS_SUCCESS)
		return -ENOMEM;
	c->md = pcre2_match_data_create(64, NULL);
	c->mctx = pcre2_match_context_create(NULL);
	c->jit = pcre2_jit_stack_create(32 * 1024, 2 * 1024 * 1024, NULL);
	c->hit_count = calloc(rs->n + 1, sizeof(uint32_t));
	c->kw_present = calloc(rs->n_kw + 1, sizeof(bool));
	if (!c->md || !c->mctx || !c->jit || !c->hit_count || !c->kw_present)
		return -ENOMEM;
	pcre2_set_match_limit(c->mctx, MATCH_LIMIT);
	pcre2_set_depth_limit(c->mctx, DEPTH_LIMIT);
	pcre2_jit_stack_assign(c->mctx, NULL, c->jit);
	*ret = TAKE_PTR(c);
	return 0;
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

/* The non-ASCII rune at s[0..len) (len >= 1, s[0] >= 0x80), as Go's
 * decoder sees it: U+FFFD for one byte of an invalid sequence. *ret_n is
 * the number of bytes it takes. */
static uint32_t decode_rune(const unsigned char *s, size_t len, size_t *ret_n)
{
	unsigned char c = s[0];
	size_t need = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc2 ? 1 : 0;
	*ret_n = 1;
	if (!need || c > 0xf4 || need >= len)
		return 0xfffd;
	uint32_t v = c & (0x3f >> need);
	for (size_t k = 1; k <= need; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0xfffd;
		v = v << 6 | (s[k] & 0x3f);
	}
	if ((need == 2 && v < 0x800) || (need == 3 && (v < 0x10000 || v > 0x10ffff)) ||
	    (v >= 0xd800 && v <= 0xdfff))
		return 0xfffd;
	*ret_n = need + 1;
	return v;
}

/* Rune counts: ASCII directly, up to 64 distinct others by value, the rest
 * each counted as distinct. */
struct rune_counts {
	uint32_t ascii[128];
	struct {
		uint32_t cp, n;
	} other[64];
	size_t n_other, overflow;
};

static void count_rune(struct rune_counts *t, uint32_t cp)
{
	size_t j;
	for (j = 0; j < t->n_other; j++)
		if (t->other[j].cp == cp)
			break;
	if (j < t->n_other)
		t->other[j].n++;
	else if (t->n_other < ELEMENTSOF(t->other))
		t->other[t->n_other++] = (typeof(t->other[0])){ cp, 1 };
	else
		t->overflow++; /* >64 distinct non-ASCII runes: count each as distinct */
}

double scan_entropy(const char *s, size_t len)
{
	struct rune_counts t = { .n_other = 0 };
	double h = 0;
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		size_t n = 1;
		if (c < 0x80)
			t.ascii[c]++;
		else
			count_rune(&t, decode_rune((const unsigned char *)s + i, len - i, &n));
		i += n;
	}
	double inv = 1.0 / (double)len;
	for (size_t i = 0; i < 128; i++)
		if (t.ascii[i]) {
			double f = t.ascii[i] * inv;
			h -= f * log2(f);
		}
	for (size_t i = 0; i < t.n_other; i++) {
		double f = t.other[i].n * inv;
		h -= f * log2(f);
	}
	if (t.overflow) {
		double f = inv;
		h -= (double)t.overflow * f * log2(f);
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

/* The secret of finding f of rule r: its secretGroup, else its first
 * non-empty group, else the whole match (f->secret as it stands). */
static void pick_secret(struct scan_ctx *c, const struct rule *r, struct scan_finding *f)
{
	if (r->ncaptures == 0)
		return;
	int rc = pcre2_match(r->re, (PCRE2_SPTR)f->match, f->match_len, 0, 0, c->md, c->mctx);
	if (rc < 0) {
		if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
		    rc == PCRE2_ERROR_JIT_STACKLIMIT)
			c->limit_hits++;
		return;
	}
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
	uint32_t np = pcre2_get_ovector_count(c->md);
	if (r->secret_group > 0) {
		uint32_t g = (uint32_t)r->secret_group;
		if (g < np && ov[2 * g] != PCRE2_UNSET) {
			f->secret = f->match + ov[2 * g];
			f->secret_len = ov[2 * g + 1] - ov[2 * g];
		} else {
			f->secret_len = 0; /* unset group: empty secret */
		}
		return;
	}
	for (uint32_t g = 1; g <= r->ncaptures && g < np; g++) {
		if (ov[2 * g] != PCRE2_UNSET && ov[2 * g + 1] > ov[2 * g]) {
			f->secret = f->match + ov[2 * g];
			f->secret_len = ov[2 * g + 1] - ov[2 * g];
			return;
		}
	}
}

/* The lines of the match [s,e), from the newline before it (gitleaks'
 * Line), as [*ret_start, *ret_end). */
static void match_lines(const struct scan_ctx *c, size_t s, size_t e, size_t *ret_start,
			size_t *ret_end)
{
	size_t a = nl_before(c, s);
	size_t line_start = a ? c->nl[a - 1] : 0;
	const char *nl = memchr(c->data + e, '\n', c->len - e);
	size_t line_end = nl ? (size_t)(nl - c->data) : c->len;
	*ret_start = line_start;
	*ret_end = line_end < line_start ? line_start : line_end;
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
	size_t ms = s, me = e, ls, le;
	/* the match with newlines trimmed at both ends, as gitleaks */
	while (ms < me && d[ms] == '\n')
		ms++;
	while (me > ms && d[me - 1] == '\n')
		me--;
	f.match = f.secret = d + ms;
	f.match_len = f.secret_len = me - ms;
	int rc = build_newlines(c);
	if (rc < 0)
		return rc;
	locate(c, &f);
	match_lines(c, s, e, &ls, &le);
	if (memmem(d + ls, le - ls, "gitleaks:allow", 14))
		return 0;
	pick_secret(c, r, &f);
	f.entropy = scan_entropy(f.secret, f.secret_len);
	if ((r->entropy != 0 && f.entropy <= r->entropy) ||
	    finding_allowed(c, rs->global, rs->n_global, &f, d + ls, le - ls) ||
	    finding_allowed(c, r->allowlists, r->n_allowlists, &f, d + ls, le - ls) ||
	    ignored(rs, &f))
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

/* The Hyperscan passes over the buffer: keywords, rule prefilters, anchors;
 * then the hits sorted by rule and end. */
static int run_prefilters(struct scan_ctx *c)
{
	const struct scan_rules *rs = c->rs;
	unsigned len = (unsigned)c->len;
	if (rs->db_kw && hs_scan(rs->db_kw, c->data, len, 0, c->scratch, on_kw, c) != HS_SUCCESS)
		return -EIO;
	if (rs->db_rules &&
	    hs_scan(rs->db_rules, c->data, len, 0, c->scratch, on_rule_hit, c) != HS_SUCCESS)
		return -EIO;
	if (rs->db_anchor &&
	    hs_scan(rs->db_anchor, c->data, len, 0, c->scratch, on_anchor_hit, c) != HS_SUCCESS)
		return -EIO;
	if (c->n_hits > 1)
		qsort(c->hits, c->n_hits, sizeof(struct hit), hit_cmp);
	return 0;
}

/* Whether rule ru is to run on this buffer: one of its keywords (if it has
 * any) occurs and no path-only allowlist of its allows path. */
static bool rule_wanted(struct scan_ctx *c, const struct rule *ru, const char *path)
{
	if (ru->n_keywords) {
		bool ok = false;
		for (size_t k = 0; k < ru->n_keywords && !ok; k++)
			ok = c->kw_present[ru->kw_ids[k]] || !ru->keywords[k][0];
		if (!ok)
			return false;
	}
	return !(path && path_allows_all(c, ru->allowlists, ru->n_allowlists, path));
}

/* A path-only rule's finding for path (the caller checked it matches).
 * Returns 1 reported, 0 ignored, < 0 the callback's stop. */
static int report_path(const struct scan_rules *rs, const struct rule *ru, const char *path,
		       scan_callback cb, void *ud)
{
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
		return 0;
	int r = cb(&f, ud);
	return r < 0 ? r : 1;
}

/* What the whole buffer's bytes say about case folding (see run_rules()). */
struct buffer_kind {
	bool ascii;          /* only ASCII bytes */
	bool folds_to_ascii; /* holds a KELVIN SIGN or a LONG S */
};

static struct buffer_kind buffer_kind(const char *d, size_t len)
{
	struct buffer_kind k = { .ascii = true };
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)d[i] >= 0x80) {
			k.ascii = false;
			break;
		}
	k.folds_to_ascii =
	    !k.ascii && (memmem(d, len, "\xe2\x84\xaa", 3) || memmem(d, len, "\xc5\xbf", 2));
	return k;
}

/* Every rule over the buffer, in order, with its share of the sorted hits. */
static int run_rules(struct scan_ctx *c, const char *path, scan_callback cb, void *ud, int *found)
{
	const struct scan_rules *rs = c->rs;
	struct buffer_kind kind = buffer_kind(c->data, c->len);
	size_t h = 0;
	int r;
	for (size_t i = 0; i < rs->n; i++) {
		const struct rule *ru = &rs->rules[i];
		size_t h0 = h;
		while (h < c->n_hits && c->hits[h].rule == i)
			h++;
		if (ru->disabled || !rule_wanted(c, ru, path))
			continue;
		if (ru->path_re) {
			if (!path || !re_matches(c, ru->path_re, path, strlen(path)))
				continue;
			if (!ru->re) {
				if ((r = report_path(rs, ru, path, cb, ud)) < 0)
					return r;
				*found += r;
				continue;
			}
		}
		if (!ru->re)
			continue;
		/* Hyperscan folds case in ASCII only; PCRE2 and Go also fold the
		 * KELVIN SIGN to k and the LONG S to s. */
		bool dense = !(ru->in_hs || ru->anchored) || c->hit_count[i] > DENSE_HITS ||
			     (ru->anchored ? ru->anchor_caseless && kind.folds_to_ascii
					   : !kind.ascii && ru->byte_sensitive);
		if (!dense && h == h0)
			continue;
		/* No hits at all (dense rules only): c->hits may still be NULL. */
		const struct hit *hs = c->hits ? c->hits + h0 : NULL;
		if ((r = run_rule(c, ru, path, hs, h - h0, dense, cb, ud, found)) < 0)
			return r;
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

	if ((r = run_known(c, cb, ud, path, &found)) < 0)
		return r;
	if (path && path_allows_all(c, rs->global, rs->n_global, path))
		return found;
	if ((r = run_prefilters(c)) < 0 || (r = run_rules(c, path, cb, ud, &found)) < 0)
		return r;
	return found;
}

int scan_buffer(const struct scan_rules *rs, const char *path, const void *data, size_t len,
		scan_callback cb, void *userdata)
{
	_cleanup_(scan_ctx_freep) struct scan_ctx *c = NULL;
	int r = scan_ctx_new(rs, &c);
	if (r < 0)
		return r;
	return scan_ctx_buffer(c, path, data, len, cb, userdata);
}
