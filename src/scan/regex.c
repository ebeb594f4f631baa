/* Go RE2 syntax (gitleaks' rules) -> PCRE2 syntax, which Hyperscan takes
 * too; and the provider template whose anchor lets a rule run only near the
 * anchor's occurrences. Contract in scan_int.h. Pure functions, except
 * regex_compile(), which calls PCRE2. */
#include "util/common.h"

#include "scan/scan_int.h"

/* The state of one translation: src[i] is the byte at hand; each step
 * leaves i on the last byte it consumed. out has room for 16 bytes per
 * source byte (the longest replacement is 12). */
struct xlat {
	const char *src;
	size_t n, i;
	char *o;
	bool in_class, sensitive;
};

static void put(struct xlat *x, const char *s, size_t l)
{
	memcpy(x->o, s, l);
	x->o += l;
}

/* \Q...\E: copied verbatim up to and including \E (or the end). */
static void xlat_quote(struct xlat *x)
{
	const char *from = x->src + x->i + 1;
	const char *endq = strstr(from, "\\E");
	size_t l = endq ? (size_t)(endq - from) + 2 : x->n - x->i - 1;
	put(x, "\\Q", 2);
	put(x, from, l);
	x->i += l;
}

/* The escape at src[i] == '\\' (with a byte after it). */
static void xlat_escape(struct xlat *x)
{
	char e = x->src[++x->i];
	if (e == 'Q') {
		xlat_quote(x);
	} else if (e == 's') {
		const char *cls = x->in_class ? "\\t\\n\\f\\r " : "[\\t\\n\\f\\r ]";
		put(x, cls, strlen(cls));
	} else if (e == 'S' && !x->in_class) {
		put(x, "[^\\t\\n\\f\\r ]", 12);
		x->sensitive = true;
	} else if (e == 'v') {
		put(x, "\\x0b", 4);
	} else {
		if (strchr("SWDpPCX", e))
			x->sensitive = true;
		*x->o++ = '\\';
		*x->o++ = e;
	}
}

/* A byte inside a class: [:name:] whole, ']' closes it. */
static void xlat_class_byte(struct xlat *x)
{
	const char *at = x->src + x->i;
	if (at[0] == '[' && x->i + 1 < x->n && at[1] == ':') {
		const char *endc = strstr(at + 2, ":]");
		if (endc) {
			size_t l = (size_t)(endc - at) + 2;
			put(x, at, l);
			x->i += l - 1;
			return;
		}
	}
	if (at[0] == ']')
		x->in_class = false;
	*x->o++ = at[0];
}

/* '[' opens a class; a '^' after it negates it, a ']' after that is literal. */
static void xlat_open_class(struct xlat *x)
{
	x->in_class = true;
	*x->o++ = '[';
	if (x->i + 1 < x->n && x->src[x->i + 1] == '^') {
		x->sensitive = true;
		*x->o++ = '^';
		x->i++;
	}
	if (x->i + 1 < x->n && x->src[x->i + 1] == ']') {
		*x->o++ = ']';
		x->i++;
	}
}

/* Rewrites the few constructs whose meaning differs between Go and PCRE2:
 * \s (Go: [\t\n\f\r ], PCRE2 adds \v), \S outside classes, \v (Go: the
 * vertical tab, PCRE2: a class). Everything else in Go's syntax means the
 * same to PCRE2 compiled with UTF | DOLLAR_ENDONLY | MATCH_INVALID_UTF and
 * without UCP ($ = end of text, \b \w \d ASCII, . excludes only \n).
 * Also reports whether the pattern can match a non-ASCII byte through a
 * wildcard, a negated class or \S \W \D (*ret_byte_sensitive). */
char *regex_to_pcre(const char *src, bool *ret_byte_sensitive)
{
	size_t n = strlen(src);
	if (n > SIZE_MAX / 16 - 1)
		return NULL;
	char *out = malloc(n * 16 + 1);
	if (!out)
		return NULL;
	struct xlat x = { .src = src, .n = n, .o = out };
	for (x.i = 0; x.i < n; x.i++) {
		char c = src[x.i];
		if (c == '\\' && x.i + 1 < n)
			xlat_escape(&x);
		else if (x.in_class)
			xlat_class_byte(&x);
		else if (c == '[')
			xlat_open_class(&x);
		else {
			if (c == '.')
				x.sensitive = true;
			*x.o++ = c;
		}
	}
	*x.o = '\0';
	*ret_byte_sensitive = x.sensitive;
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
bool regex_template_anchor(const char *src, char **ret_anchor, size_t *ret_lead, bool *ret_caseless)
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

int regex_compile(pcre2_compile_context *cctx, const char *go_src, uint32_t extra,
		  pcre2_code **ret_re, bool *ret_sensitive, char **ret_src, struct error *err)
{
	bool sensitive = false;
	_cleanup_free_ char *src = regex_to_pcre(go_src, &sensitive);
	int code;
	PCRE2_SIZE off;
	if (!src)
		return -ENOMEM;
	pcre2_code *re = pcre2_compile(
	    (PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED,
	    PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_MATCH_INVALID_UTF | extra, &code, &off, cctx);
	if (!re) {
		PCRE2_UCHAR msg[160];
		pcre2_get_error_message(code, msg, sizeof(msg));
		return error_set(err, -EINVAL, NULL, 0, "invalid regex '%s': %s at offset %zu",
				 go_src, (char *)msg, (size_t)off);
	}
	(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter */
	*ret_re = re;
	if (ret_sensitive)
		*ret_sensitive = sensitive;
	if (ret_src)
		*ret_src = TAKE_PTR(src);
	return 0;
}
