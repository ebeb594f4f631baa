#include "util/common.h"

#include "secrets/dotenv.h"

#include <stdarg.h>

/* Where errors go: the caller's err and the file it names. */
struct sink {
	struct error *err;
	const char *file;
};

_printf_(3, 4) static int fail(const struct sink *to, unsigned line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = error_setv(to->err, -EINVAL, to->file, line, fmt, ap);
	va_end(ap);
	return r;
}

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool name_start(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool name_char(char c)
{
	return name_start(c) || (c >= '0' && c <= '9');
}

bool dotenv_name_valid(const char *name)
{
	size_t n = 0;
	if (!name || !name_start(name[0]))
		return false;
	for (; name[n]; n++)
		if (!name_char(name[n]))
			return false;
	return n <= DOTENV_NAME_MAX;
}

/* The escapes of double-quoted values; 0 for a backslash kept as it is. */
static char unescape(char c)
{
	switch (c) {
	case 'n': return '\n';
	case 'r': return '\r';
	case 't': return '\t';
	case '\\':
	case '"':
	case '\'':
	case '$':
	case '`': return c;
	default: return 0;
	}
}

struct cursor {
	char *d;
	size_t len, i;
	unsigned line;
};

/* At a line end (or the end of the data)? Consumes it when so. */
static bool eat_eol(struct cursor *c)
{
	if (c->i == c->len)
		return true;
	if (c->d[c->i] == '\n') {
		c->i++;
		c->line++;
		return true;
	}
	if (c->d[c->i] == '\r' && (c->i + 1 == c->len || c->d[c->i + 1] == '\n')) {
		c->i += c->i + 1 == c->len ? 1 : 2;
		c->line++;
		return true;
	}
	return false;
}

static void skip_to_eol(struct cursor *c)
{
	while (c->i < c->len && c->d[c->i] != '\n')
		c->i++;
	eat_eol(c);
}

static void skip_blanks(struct cursor *c)
{
	while (c->i < c->len && blank(c->d[c->i]))
		c->i++;
}

/* A quoted value starting after its opening quote q: decoded in place from
 * c->i on (CRLF becomes LF; escapes in double quotes). Returns the decoded
 * end, or (size_t)-1 when unterminated. */
static size_t quoted(struct cursor *c, char q)
{
	size_t w = c->i;
	while (c->i < c->len) {
		char ch = c->d[c->i];
		if (ch == q) {
			c->i++;
			return w;
		}
		if (ch == '\\' && q == '"' && c->i + 1 < c->len && unescape(c->d[c->i + 1])) {
			c->d[w++] = unescape(c->d[c->i + 1]);
			c->i += 2;
			continue;
		}
		if (ch == '\r' && c->i + 1 < c->len && c->d[c->i + 1] == '\n') {
			c->i++;
			continue;
		}
		if (ch == '\n')
			c->line++;
		c->d[w++] = ch;
		c->i++;
	}
	return (size_t)-1;
}

/* An unquoted value from c->i to the line end or a " #" comment, trailing
 * blanks (and the CR of CRLF) removed. Leaves c->i at the line end. */
static size_t unquoted(struct cursor *c)
{
	size_t start = c->i, end;
	/* c->i > 0: the value follows at least "N=". */
	while (c->i < c->len && c->d[c->i] != '\n' && !(c->d[c->i] == '#' && blank(c->d[c->i - 1])))
		c->i++;
	end = c->i;
	if (end > start && c->d[end - 1] == '\r' && (end == c->len || c->d[end] == '\n'))
		end--;
	while (end > start && blank(c->d[end - 1]))
		end--;
	return end;
}

int dotenv_parse(char *data, size_t len, const char *file, dotenv_cb cb, void *ctx,
		 struct error *err)
{
	struct cursor c = { .d = data, .len = len, .i = 0, .line = 1 };
	const struct sink to = { err, file };
	int count = 0;

	error_clear(err);
	const char *nul = memchr(data, '\0', len);
	if (nul) {
		unsigned line = 1;
		for (const char *p = data; p < nul; p++)
			line += *p == '\n';
		return fail(&to, line, "NUL byte (a text file was expected)");
	}
	data[len] = '\0';
	while (c.i < c.len) {
		skip_blanks(&c);
		if (eat_eol(&c))
			continue;
		if (data[c.i] == '#') {
			skip_to_eol(&c);
			continue;
		}
		if (c.len - c.i > 6 && memcmp(data + c.i, "export", 6) == 0 &&
		    blank(data[c.i + 6])) {
			c.i += 6;
			skip_blanks(&c);
		}
		unsigned line = c.line;
		size_t ns = c.i;
		while (c.i < c.len && name_char(data[c.i]))
			c.i++;
		size_t ne = c.i;
		if (ne == ns || !name_start(data[ns]) ||
		    (c.i < c.len && !blank(data[c.i]) && data[c.i] != '=' && data[c.i] != '\n' &&
		     data[c.i] != '\r'))
			return fail(&to, line,
				    "invalid name (letters, digits and '_', not starting with a "
				    "digit; NAME=VALUE expected)");
		if (ne - ns > DOTENV_NAME_MAX)
			return fail(&to, line, "name longer than %d bytes", DOTENV_NAME_MAX);
		skip_blanks(&c);
		if (c.i == c.len || data[c.i] != '=')
			return fail(&to, line, "'=' expected after the name (NAME=VALUE)");
		c.i++;
		skip_blanks(&c);
		size_t vs = c.i, ve;
		if (c.i < c.len && (data[c.i] == '\'' || data[c.i] == '"')) {
			char q = data[c.i];
			vs = ++c.i;
			ve = quoted(&c, q);
			if (ve == (size_t)-1)
				return fail(&to, line, "unterminated %s quote",
					    q == '"' ? "double" : "single");
			skip_blanks(&c);
			if (c.i < c.len && data[c.i] == '#')
				skip_to_eol(&c);
			else if (!eat_eol(&c))
				return fail(&to, c.line, "unexpected text after the closing quote");
		} else {
			ve = unquoted(&c);
			skip_to_eol(&c);
		}
		if (ve - vs > DOTENV_VALUE_MAX)
			return fail(&to, line, "value longer than %d bytes", DOTENV_VALUE_MAX);
		/* Both terminators land on bytes already consumed: ne is at most
		 * the '=', ve at most the closing quote or the line end. */
		data[ne] = '\0';
		data[ve] = '\0';
		int r = cb(data + ns, data + vs, ve - vs, line, ctx);
		if (r < 0)
			return r;
		if (count < INT_MAX)
			count++;
	}
	return count;
}
