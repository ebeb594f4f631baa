/* A small, strict TOML reader: see toml.h for what it accepts. */
#include "util/common.h"

#include "util/array.h"

#include <math.h>
#include <stdarg.h>

#include "util/toml.h"
#include "util/buf.h"

struct parser {
	const char *p, *end;
	unsigned line;
	int depth;
	const char *file;
	struct error *err;
};

static int fail(struct parser *ps, const char *fmt, ...) _printf_(2, 3);
static int fail(struct parser *ps, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = error_setv(ps->err, -EINVAL, ps->file, ps->line, fmt, ap);
	va_end(ap);
	return r;
}

const char *toml_type_name(enum toml_type t)
{
	switch (t) {
	case TOML_STRING: return "string";
	case TOML_INT: return "integer";
	case TOML_FLOAT: return "float";
	case TOML_BOOL: return "boolean";
	case TOML_ARRAY: return "array";
	case TOML_TABLE: return "table";
	}
	return "?";
}

struct toml_value *toml_free(struct toml_value *v)
{
	if (!v)
		return NULL;
	switch (v->type) {
	case TOML_STRING: free(v->str.s); break;
	case TOML_ARRAY:
		for (size_t i = 0; i < v->arr.n; i++)
			toml_free(v->arr.items[i]);
		free(v->arr.items);
		break;
	case TOML_TABLE:
		for (size_t i = 0; i < v->tab.n; i++) {
			free(v->tab.kv[i].key);
			toml_free(v->tab.kv[i].val);
		}
		free(v->tab.kv);
		break;
	default: break;
	}
	free(v);
	return NULL;
}

static void toml_freep(struct toml_value **v)
{
	toml_free(*v);
}
#define _cleanup_toml_ _cleanup_(toml_freep)

const struct toml_value *toml_get(const struct toml_value *t, const char *key)
{
	if (!t || !key || t->type != TOML_TABLE)
		return NULL;
	for (size_t i = 0; i < t->tab.n; i++)
		if (STREQ(t->tab.kv[i].key, key))
			return t->tab.kv[i].val;
	return NULL;
}

static struct toml_value *tab_find(struct toml_value *t, const char *key)
{
	return (struct toml_value *)toml_get(t, key);
}

static struct toml_value *value_new(enum toml_type type, unsigned line)
{
	struct toml_value *v = calloc(1, sizeof(*v));
	if (v) {
		v->type = type;
		v->line = line;
	}
	return v;
}

/* Adds key (ownership taken) -> val (ownership taken) to table t. */
static int tab_add(struct toml_value *t, char *key, struct toml_value *val)
{
	int r = array_grow((void **)&t->tab.kv, &t->tab.cap, t->tab.n, sizeof(struct toml_kv));
	if (r < 0) {
		free(key);
		toml_free(val);
		return r;
	}
	t->tab.kv[t->tab.n++] = (struct toml_kv){ key, val };
	return 0;
}

static int arr_add(struct toml_value *a, struct toml_value *val)
{
	int r = array_grow((void **)&a->arr.items, &a->arr.cap, a->arr.n, sizeof(void *));
	if (r < 0) {
		toml_free(val);
		return r;
	}
	a->arr.items[a->arr.n++] = val;
	return 0;
}

/* Validates UTF-8 and control characters of the whole document up front, so
 * the rest of the parser deals with bytes only. */
static int check_text(struct parser *ps)
{
	const unsigned char *s = (const unsigned char *)ps->p, *e = (const unsigned char *)ps->end;
	while (s < e) {
		unsigned c = *s;
		if (c == '\n') {
			ps->line++;
			s++;
			continue;
		}
		if (c < 0x80) {
			if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f)
				return fail(ps, "control character 0x%02x", c);
			s++;
			continue;
		}
		size_t n;
		unsigned cp;
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07;
		else
			return fail(ps, "invalid UTF-8");
		if ((size_t)(e - s) <= n)
			return fail(ps, "invalid UTF-8");
		for (size_t i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return fail(ps, "invalid UTF-8");
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return fail(ps, "invalid UTF-8");
		s += n + 1;
	}
	ps->line = 1;
	return 0;
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t'))
		ps->p++;
}

static void skip_comment(struct parser *ps)
{
	if (ps->p < ps->end && *ps->p == '#')
		while (ps->p < ps->end && *ps->p != '\n')
			ps->p++;
}

/* Skips whitespace, newlines and comments (inside arrays). */
static void skip_ws_nl(struct parser *ps)
{
	for (;;) {
		skip_ws(ps);
		skip_comment(ps);
		if (ps->p < ps->end && *ps->p == '\n') {
			ps->line++;
			ps->p++;
		} else if (ps->end - ps->p >= 2 && ps->p[0] == '\r' && ps->p[1] == '\n') {
			ps->line++;
			ps->p += 2;
		} else {
			return;
		}
	}
}

/* After a key/value or header: only whitespace, a comment, then newline or EOF. */
static int expect_eol(struct parser *ps)
{
	skip_ws(ps);
	skip_comment(ps);
	if (ps->p == ps->end)
		return 0;
	if (*ps->p == '\n') {
		ps->p++;
		ps->line++;
		return 0;
	}
	if (ps->end - ps->p >= 2 && ps->p[0] == '\r' && ps->p[1] == '\n') {
		ps->p += 2;
		ps->line++;
		return 0;
	}
	return fail(ps, "unexpected '%c' after value", *ps->p);
}

static bool is_bare(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int put_utf8(struct parser *ps, struct buf *b, uint32_t cp)
{
	char o[4];
	size_t n;
	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return fail(ps, "invalid unicode escape");
	if (cp == 0)
		return fail(ps, "NUL in string");
	if (cp < 0x80)
		o[0] = (char)cp, n = 1;
	else if (cp < 0x800)
		o[0] = (char)(0xc0 | (cp >> 6)), o[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
	else if (cp < 0x10000)
		o[0] = (char)(0xe0 | (cp >> 12)), o[1] = (char)(0x80 | ((cp >> 6) & 0x3f)),
		o[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
	else
		o[0] = (char)(0xf0 | (cp >> 18)), o[1] = (char)(0x80 | ((cp >> 12) & 0x3f)),
		o[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), o[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
	return buf_append(b, o, n);
}

/* The opening delimiter at ps->p (a quote): *ret_ml for a multi-line
 * string (allowed only when multi), whose newline right after the
 * delimiter is trimmed. */
static int string_open(struct parser *ps, bool multi, bool *ret_ml)
{
	char q = *ps->p;
	bool ml = ps->end - ps->p >= 3 && ps->p[1] == q && ps->p[2] == q;

	if (ml && !multi)
		return fail(ps, "multi-line string not allowed here");
	ps->p += ml ? 3 : 1;
	if (ml) {
		if (ps->p < ps->end && *ps->p == '\n')
			ps->p++, ps->line++;
		else if (ps->end - ps->p >= 2 && ps->p[0] == '\r' && ps->p[1] == '\n')
			ps->p += 2, ps->line++;
	}
	*ret_ml = ml;
	return 0;
}

/* The delimiter quote q at ps->p: 1 when it closes the string (in a
 * multi-line one, three of them; up to two more belong to the content),
 * 0 when it is content. */
static int string_quote(struct parser *ps, struct buf *b, char q, bool ml)
{
	int r;

	if (!ml) {
		ps->p++;
		return 1;
	}
	if (ps->end - ps->p >= 3 && ps->p[1] == q && ps->p[2] == q) {
		size_t extra = 0;
		while (extra < 2 && ps->end - ps->p >= (ptrdiff_t)(4 + extra) &&
		       ps->p[3 + extra] == q)
			extra++;
		if ((r = buf_append(b, ps->p, extra)) < 0)
			return r;
		ps->p += 3 + extra;
		return 1;
	}
	if ((r = buf_append(b, &q, 1)) < 0)
		return r;
	ps->p++;
	return 0;
}

/* A newline (LF or CRLF) at ps->p: a multi-line string keeps it as LF. */
static int string_newline(struct parser *ps, struct buf *b, bool ml)
{
	if (!ml)
		return fail(ps, "newline in single-line string");
	if (*ps->p == '\r')
		ps->p++;
	ps->p++;
	ps->line++;
	return buf_append(b, "\n", 1);
}

/* A \u or \U escape at ps->p (the backslash): 4 or 8 hex digits, the code
 * point appended in UTF-8. */
static int string_unicode(struct parser *ps, struct buf *b)
{
	int n = ps->p[1] == 'u' ? 4 : 8, r;
	uint32_t cp = 0;

	if (ps->end - ps->p < 2 + n)
		return fail(ps, "short unicode escape");
	for (int i = 0; i < n; i++) {
		int h = hexval(ps->p[2 + i]);
		if (h < 0)
			return fail(ps, "bad unicode escape");
		cp = cp << 4 | (uint32_t)h;
	}
	if ((r = put_utf8(ps, b, cp)) < 0)
		return r;
	ps->p += 2 + n;
	return 0;
}

/* A line-ending backslash at ps->p of a multi-line string (only blanks
 * up to the newline): 1 with the blanks and newlines after it trimmed, 0
 * when it is not one. */
static int string_line_end(struct parser *ps)
{
	const char *t = ps->p + 1;

	while (t < ps->end && (*t == ' ' || *t == '\t'))
		t++;
	if (t >= ps->end || (*t != '\n' && *t != '\r'))
		return 0;
	ps->p = t;
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) {
		if (*ps->p == '\n')
			ps->line++;
		ps->p++;
	}
	return 1;
}

/* An escape at ps->p (the backslash) of a basic string. */
static int string_escape(struct parser *ps, struct buf *b, bool ml)
{
	static const char from[] = "btnfre\"\\", to[] = "\b\t\n\f\r\x1b\"\\";

	if (ps->end - ps->p < 2)
		return fail(ps, "unterminated string");
	char e = ps->p[1];
	const char *k = e ? strchr(from, e) : NULL;
	if (k) {
		ps->p += 2;
		return buf_append(b, &to[k - from], 1);
	}
	if (e == 'u' || e == 'U')
		return string_unicode(ps, b);
	if (ml && string_line_end(ps))
		return 0;
	if ((unsigned char)e >= 0x20 && (unsigned char)e < 0x7f)
		return fail(ps, "invalid escape '\\%c' in string", e);
	return fail(ps, "invalid escape in string");
}

/* Parses a string starting at ps->p (a quote). *ret = new NUL-terminated
 * string; multi-line forms allowed only when multi is true. */
static int parse_string(struct parser *ps, bool multi, char **ret, size_t *ret_len)
{
	_cleanup_buf_ struct buf b = BUF_INIT(TOML_MAX_INPUT);
	char q = *ps->p;
	bool ml = false, literal = q == '\'';
	int r;

	if ((r = string_open(ps, multi, &ml)) < 0 || (r = buf_append(&b, "", 0)) < 0)
		return r;
	for (;;) {
		if (ps->p >= ps->end)
			return fail(ps, "unterminated string");
		char c = *ps->p;
		if (c == q)
			r = string_quote(ps, &b, q, ml);
		else if (c == '\n' || (c == '\r' && ps->end - ps->p >= 2 && ps->p[1] == '\n'))
			r = string_newline(ps, &b, ml);
		else if (c == '\r')
			return fail(ps, "bare carriage return in string");
		else if (c == '\\' && !literal)
			r = string_escape(ps, &b, ml);
		else if ((r = buf_append(&b, &c, 1)) == 0)
			ps->p++;
		if (r < 0)
			return r;
		if (r == 1)
			break;
	}
	*ret_len = b.len;
	*ret = buf_steal(&b);
	return 0;
}

/* One key part: bare or quoted. */
static int parse_key_part(struct parser *ps, char **ret)
{
	size_t len;
	if (ps->p < ps->end && (*ps->p == '"' || *ps->p == '\''))
		return parse_string(ps, false, ret, &len);
	const char *s = ps->p;
	while (ps->p < ps->end && is_bare(*ps->p))
		ps->p++;
	if (ps->p == s) {
		if (ps->p < ps->end && *ps->p != '\n')
			return fail(ps, "invalid key at '%c'", *ps->p);
		return fail(ps, "missing key");
	}
	char *k = strndup(s, (size_t)(ps->p - s));
	if (!k)
		return -ENOMEM;
	*ret = k;
	return 0;
}

struct keypath {
	char *parts[TOML_MAX_DEPTH];
	size_t n;
};

static void keypath_free(struct keypath *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->parts[i]);
	k->n = 0;
}

static int parse_keypath(struct parser *ps, struct keypath *k)
{
	for (;;) {
		skip_ws(ps);
		if (k->n >= TOML_MAX_DEPTH)
			return fail(ps, "key nested too deeply");
		int r = parse_key_part(ps, &k->parts[k->n]);
		if (r < 0)
			return r;
		k->n++;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == '.') {
			ps->p++;
			continue;
		}
		return 0;
	}
}

/* Descends into t[key] as a table for a header or dotted key, creating an
 * implicit table when missing; an array of tables yields its last element. */
static int descend(struct parser *ps, struct toml_value *t, const char *key, bool dotted,
		   struct toml_value **ret)
{
	if (!key)
		return -EINVAL;
	struct toml_value *v = tab_find(t, key);
	if (!v) {
		v = value_new(TOML_TABLE, ps->line);
		if (!v)
			return -ENOMEM;
		v->tab.implicit = true;
		char *k = strdup(key);
		if (!k) {
			toml_free(v);
			return -ENOMEM;
		}
		int r = tab_add(t, k, v);
		if (r < 0)
			return r;
		*ret = v;
		return 0;
	}
	if (v->type == TOML_ARRAY && v->arr.of_tables && !dotted) {
		*ret = v->arr.items[v->arr.n - 1];
		return 0;
	}
	if (v->type != TOML_TABLE || v->tab.is_inline ||
	    (dotted && v->tab.defined && !v->tab.implicit))
		return fail(ps, "key '%s' is already defined (line %u) as a %s", key, v->line,
			    v->type == TOML_TABLE ? "table" : toml_type_name(v->type));
	*ret = v;
	return 0;
}

static int parse_value(struct parser *ps, struct toml_value **ret);

static int parse_inline_table(struct parser *ps, struct toml_value **ret);

static int set_keyval(struct parser *ps, struct toml_value *t)
{
	struct keypath k = { .n = 0 };
	_cleanup_toml_ struct toml_value *val = NULL;
	int r = parse_keypath(ps, &k);
	if (r < 0)
		goto out;
	if (ps->p >= ps->end || *ps->p != '=') {
		r = fail(ps, "expected '=' after key '%s'", k.parts[k.n - 1]);
		goto out;
	}
	ps->p++;
	skip_ws(ps);
	r = parse_value(ps, &val);
	if (r < 0)
		goto out;
	for (size_t i = 0; i + 1 < k.n; i++) {
		r = descend(ps, t, k.parts[i], true, &t);
		if (r < 0)
			goto out;
	}
	struct toml_value *old = tab_find(t, k.parts[k.n - 1]);
	if (old) {
		r = fail(ps, "duplicate key '%s' (first defined on line %u)", k.parts[k.n - 1],
			 old->line);
		goto out;
	}
	r = tab_add(t, TAKE_PTR(k.parts[k.n - 1]), TAKE_PTR(val));
	k.n--;
out:
	keypath_free(&k);
	return r;
}

static int parse_array(struct parser *ps, struct toml_value **ret)
{
	_cleanup_toml_ struct toml_value *a = value_new(TOML_ARRAY, ps->line);
	int r;
	if (!a)
		return -ENOMEM;
	ps->p++; /* [ */
	for (;;) {
		skip_ws_nl(ps);
		if (ps->p >= ps->end)
			return fail(ps, "unterminated array");
		if (*ps->p == ']') {
			ps->p++;
			break;
		}
		struct toml_value *v = NULL;
		r = parse_value(ps, &v);
		if (r < 0)
			return r;
		r = arr_add(a, v);
		if (r < 0)
			return r;
		skip_ws_nl(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == ']') {
			ps->p++;
			break;
		}
		if (ps->p >= ps->end)
			return fail(ps, "unterminated array");
		return fail(ps, "expected ',' or ']' in array");
	}
	*ret = TAKE_PTR(a);
	return 0;
}

static int parse_inline_table(struct parser *ps, struct toml_value **ret)
{
	_cleanup_toml_ struct toml_value *t = value_new(TOML_TABLE, ps->line);
	int r;
	if (!t)
		return -ENOMEM;
	t->tab.defined = true;
	ps->p++; /* { */
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		t->tab.is_inline = true;
		*ret = TAKE_PTR(t);
		return 0;
	}
	for (;;) {
		skip_ws(ps);
		r = set_keyval(ps, t);
		if (r < 0)
			return r;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == '}') {
			ps->p++;
			break;
		}
		return fail(ps, "expected ',' or '}' in inline table");
	}
	t->tab.is_inline = true;
	*ret = TAKE_PTR(t);
	return 0;
}

/* A new value of type t at the current line: 0 with *ret, or -ENOMEM. */
static int scalar_new(struct parser *ps, enum toml_type t, struct toml_value **ret)
{
	*ret = value_new(t, ps->line);
	return *ret ? 0 : -ENOMEM;
}

/* s[0..len) without its '_' separators into tok (len < sizeof(tok) is the
 * caller's): '_' only between (hex) digits; a ':', or a '-' that does not
 * follow an exponent, makes it a date or time, which are refused. */
static int scalar_token(struct parser *ps, const char *s, size_t len, char *tok)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '_') {
			if (i == 0 || i + 1 == len || hexval(s[i - 1]) < 0 || hexval(s[i + 1]) < 0)
				return fail(ps, "invalid value '%.*s'", (int)len, s);
			continue;
		}
		if (s[i] == ':' || (s[i] == '-' && i > 0 && s[i - 1] != 'e' && s[i - 1] != 'E'))
			return fail(ps, "dates and times are not supported ('%.*s')", (int)len, s);
		tok[n++] = s[i];
	}
	tok[n] = '\0';
	return 0;
}

/* The float tok (d: after its sign): a '.' must be followed by a digit. */
static int scalar_float(struct parser *ps, const char *tok, const char *d, struct toml_value **ret)
{
	const char *dot = strchr(d, '.');
	char *endp;

	if (dot && !(dot[1] >= '0' && dot[1] <= '9'))
		return fail(ps, "invalid float '%s'", tok);
	errno = 0;
	double f = strtod(tok, &endp);
	if (*endp || errno)
		return fail(ps, "invalid float '%s'", tok);
	if (scalar_new(ps, TOML_FLOAT, ret) < 0)
		return -ENOMEM;
	(*ret)->f = f;
	return 0;
}

/* The integer tok, digits d in base (10: tok with its sign). */
static int scalar_int(struct parser *ps, const char *tok, const char *d, int base,
		      struct toml_value **ret)
{
	char *endp;

	for (const char *c = d; *c; c++)
		if (hexval(*c) < 0 || hexval(*c) >= base)
			return fail(ps, "invalid integer '%s'", tok);
	errno = 0;
	long long v = base == 10 ? strtoll(tok, &endp, 10) : strtoll(d, &endp, base);
	if (*endp || errno)
		return fail(ps, "invalid integer '%s'", tok);
	if (scalar_new(ps, TOML_INT, ret) < 0)
		return -ENOMEM;
	(*ret)->i = v;
	return 0;
}

/* The number tok (s[0..len): as written): inf and nan, 0x/0o/0b integers
 * (no sign), decimal integers and floats (no leading zero). */
static int scalar_number(struct parser *ps, const char *s, size_t len, const char *tok,
			 struct toml_value **ret)
{
	const char *d = tok;
	bool neg = false, is_float = false;
	int base = 10;

	if (*d == '+' || *d == '-')
		neg = *d == '-', d++;
	if (STREQ(d, "inf") || STREQ(d, "nan")) {
		if (scalar_new(ps, TOML_FLOAT, ret) < 0)
			return -ENOMEM;
		(*ret)->f = d[0] == 'i' ? (neg ? -INFINITY : INFINITY) : NAN;
		return 0;
	}
	if (d[0] == '0' && (d[1] == 'x' || d[1] == 'o' || d[1] == 'b')) {
		if (d != tok || !d[2])
			return fail(ps, "invalid value '%s'", tok);
		base = d[1] == 'x' ? 16 : d[1] == 'o' ? 8 : 2;
		return scalar_int(ps, tok, d + 2, base, ret);
	}
	if (!(*d >= '0' && *d <= '9'))
		return fail(ps, "invalid value '%.*s'", (int)len, s);
	for (const char *c = d; *c; c++)
		if (*c == '.' || *c == 'e' || *c == 'E')
			is_float = true;
	if (d[0] == '0' && d[1] >= '0' && d[1] <= '9')
		return fail(ps, "leading zero in number '%s'", tok);
	return is_float ? scalar_float(ps, tok, d, ret) : scalar_int(ps, tok, d, base, ret);
}

/* Integers, floats, booleans, inf/nan. Dates are rejected explicitly. */
static int parse_scalar(struct parser *ps, struct toml_value **ret)
{
	const char *s = ps->p;
	char tok[128];
	int r;

	while (ps->p < ps->end &&
	       (is_bare(*ps->p) || *ps->p == '+' || *ps->p == '.' || *ps->p == ':'))
		ps->p++;
	size_t len = (size_t)(ps->p - s);
	if (len == 0)
		return fail(
		    ps, ps->p < ps->end ? "invalid value starting with '%c'" : "missing value%c",
		    ps->p < ps->end ? *ps->p : ' ');
	if ((len == 4 && !memcmp(s, "true", 4)) || (len == 5 && !memcmp(s, "false", 5))) {
		if (scalar_new(ps, TOML_BOOL, ret) < 0)
			return -ENOMEM;
		(*ret)->b = len == 4;
		return 0;
	}
	if (len >= sizeof(tok))
		return fail(ps, "invalid value '%.20s...'", s);
	if ((r = scalar_token(ps, s, len, tok)) < 0)
		return r;
	return scalar_number(ps, s, len, tok, ret);
}

static int parse_value(struct parser *ps, struct toml_value **ret)
{
	int r;
	if (ps->p >= ps->end || *ps->p == '\n' || *ps->p == '#')
		return fail(ps, "missing value");
	if (++ps->depth > TOML_MAX_DEPTH)
		return fail(ps, "values nested too deeply");
	char c = *ps->p;
	if (c == '"' || c == '\'') {
		unsigned line = ps->line;
		char *s = NULL;
		size_t len = 0;
		r = parse_string(ps, true, &s, &len);
		if (r >= 0) {
			*ret = value_new(TOML_STRING, line);
			if (!*ret) {
				free(s);
				r = -ENOMEM;
			} else {
				(*ret)->str.s = s;
				(*ret)->str.len = len;
			}
		}
	} else if (c == '[') {
		r = parse_array(ps, ret);
	} else if (c == '{') {
		r = parse_inline_table(ps, ret);
	} else {
		r = parse_scalar(ps, ret);
	}
	ps->depth--;
	return r;
}

static int parse_header(struct parser *ps, struct toml_value *root, struct toml_value **ret_cur)
{
	bool aot = ps->end - ps->p >= 2 && ps->p[1] == '[';
	struct keypath k = { .n = 0 };
	struct toml_value *t = root;
	int r;

	ps->p += aot ? 2 : 1;
	r = parse_keypath(ps, &k);
	if (r < 0)
		goto out;
	if (ps->p >= ps->end || *ps->p != ']' ||
	    (aot && (ps->end - ps->p < 2 || ps->p[1] != ']'))) {
		r = fail(ps, "expected '%s' to close table header", aot ? "]]" : "]");
		goto out;
	}
	ps->p += aot ? 2 : 1;
	for (size_t i = 0; i + 1 < k.n; i++) {
		r = descend(ps, t, k.parts[i], false, &t);
		if (r < 0)
			goto out;
	}
	const char *last = k.parts[k.n - 1];
	struct toml_value *v = tab_find(t, last);
	if (aot) {
		if (!v) {
			v = value_new(TOML_ARRAY, ps->line);
			if (!v) {
				r = -ENOMEM;
				goto out;
			}
			v->arr.of_tables = true;
			r = tab_add(t, TAKE_PTR(k.parts[k.n - 1]), v);
			k.n--;
			if (r < 0)
				goto out;
		} else if (v->type != TOML_ARRAY || !v->arr.of_tables) {
			r = fail(ps, "'%s' is already defined (line %u) as a %s", last, v->line,
				 toml_type_name(v->type));
			goto out;
		}
		struct toml_value *nt = value_new(TOML_TABLE, ps->line);
		if (!nt) {
			r = -ENOMEM;
			goto out;
		}
		nt->tab.defined = true;
		r = arr_add(v, nt);
		if (r < 0)
			goto out;
		*ret_cur = nt;
	} else {
		if (v) {
			if (v->type != TOML_TABLE || v->tab.defined || v->tab.is_inline) {
				r = fail(ps, "table '%s' is already defined (line %u)", last,
					 v->line);
				goto out;
			}
			v->tab.defined = true;
			v->line = ps->line;
		} else {
			v = value_new(TOML_TABLE, ps->line);
			if (!v) {
				r = -ENOMEM;
				goto out;
			}
			v->tab.defined = true;
			r = tab_add(t, TAKE_PTR(k.parts[k.n - 1]), v);
			k.n--;
			if (r < 0)
				goto out;
		}
		*ret_cur = v;
	}
	r = 0;
out:
	keypath_free(&k);
	return r;
}

int toml_parse(const char *data, size_t len, const char *file, struct toml_value **ret_root,
	       struct error *err)
{
	struct parser ps = { .p = data, .end = data + len, .line = 1, .file = file, .err = err };
	_cleanup_toml_ struct toml_value *root = NULL;
	struct toml_value *cur;
	int r;

	error_clear(err);
	if (len > TOML_MAX_INPUT)
		return error_set(err, -E2BIG, file, 0, "file too large");
	if (len >= 3 && !memcmp(data, "\xef\xbb\xbf", 3))
		ps.p += 3;
	r = check_text(&ps);
	if (r < 0)
		return r;
	root = value_new(TOML_TABLE, 1);
	if (!root)
		return -ENOMEM;
	root->tab.defined = true;
	cur = root;
	for (;;) {
		skip_ws_nl(&ps);
		if (ps.p >= ps.end)
			break;
		if (*ps.p == '[') {
			r = parse_header(&ps, root, &cur);
		} else {
			r = set_keyval(&ps, cur);
		}
		if (r < 0)
			return r;
		r = expect_eol(&ps);
		if (r < 0)
			return r;
	}
	*ret_root = TAKE_PTR(root);
	return 0;
}
