#include "util/common.h"

#include "util/pathglob.h"

/* One component: pattern p[0..pn) against s[0..sn), '*' '?' '[..]' '\'.
 * Greedy with one backtrack point (the last '*'): O(pn x sn). */
static char fold(char c, bool ci)
{
	return ci && c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool class_match(const char *p, size_t pn, size_t *i, char c, bool ci)
{
	size_t j = *i + 1; /* after '[' */
	bool neg = false, hit = false;
	if (j < pn && (p[j] == '!' || p[j] == '^')) {
		neg = true;
		j++;
	}
	bool first = true;
	while (j < pn && (p[j] != ']' || first)) {
		first = false;
		char lo = p[j];
		if (lo == '\\' && j + 1 < pn)
			lo = p[++j];
		char hi = lo;
		if (j + 2 < pn && p[j + 1] == '-' && p[j + 2] != ']') {
			hi = p[j + 2];
			if (hi == '\\' && j + 3 < pn)
				hi = p[++j + 2];
			j += 2;
		}
		if ((unsigned char)c >= (unsigned char)lo && (unsigned char)c <= (unsigned char)hi)
			hit = true;
		/* Case-insensitive: the other case of c in the range too. */
		char oc = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : fold(c, true);
		if (ci && (unsigned char)oc >= (unsigned char)lo &&
		    (unsigned char)oc <= (unsigned char)hi)
			hit = true;
		j++;
	}
	*i = j; /* at ']' */
	return hit != neg;
}

static bool comp_match(const char *p, size_t pn, const char *s, size_t sn, bool ci)
{
	size_t i = 0, k = 0, star_i = SIZE_MAX, star_k = 0;
	while (k < sn) {
		if (i < pn && p[i] == '*') {
			star_i = ++i;
			star_k = k;
			continue;
		}
		if (i < pn) {
			size_t ni = i;
			bool ok;
			if (p[i] == '?')
				ok = true;
			else if (p[i] == '[')
				ok = class_match(p, pn, &ni, s[k], ci);
			else if (p[i] == '\\' && i + 1 < pn)
				ok = fold(p[++ni], ci) == fold(s[k], ci);
			else
				ok = fold(p[i], ci) == fold(s[k], ci);
			if (ok) {
				i = ni + 1;
				k++;
				continue;
			}
		}
		if (star_i == SIZE_MAX)
			return false;
		i = star_i;
		k = ++star_k;
	}
	while (i < pn && p[i] == '*')
		i++;
	return i == pn;
}

struct comp {
	const char *s;
	size_t n;
};

/* Split s on '/' into at most max components; -1 when there are more. */
static int split(const char *s, struct comp *c, int max)
{
	int n = 0;
	while (*s) {
		const char *e = strchr(s, '/');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		if (n == max)
			return -1;
		c[n++] = (struct comp){ s, len };
		s += len;
		if (*s == '/')
			s++;
	}
	return n;
}

static bool is_dstar(const struct comp *c)
{
	return c->n == 2 && c->s[0] == '*' && c->s[1] == '*';
}

/* Components: greedy with one backtrack point (the last "**"), as above.
 * Returns true when the pattern matches a prefix of the path ending on a
 * component boundary (so a match of a directory covers what is below). */
static bool path_match(const struct comp *p, int pn, const struct comp *s, int sn, bool ci)
{
	int i = 0, k = 0, star_i = -1, star_k = 0;
	for (;;) {
		if (i == pn)
			return true; /* matched s[0..k): a dir of path, or path itself */
		if (is_dstar(&p[i])) {
			star_i = ++i;
			star_k = k;
			continue;
		}
		if (k < sn && comp_match(p[i].s, p[i].n, s[k].s, s[k].n, ci)) {
			i++;
			k++;
			continue;
		}
		if (star_i < 0 || star_k >= sn)
			return false;
		i = star_i;
		k = ++star_k;
	}
}

#define MAX_COMPS 256

static bool match(const char *pattern, const char *path, bool ci)
{
	struct comp pc[MAX_COMPS / 4], sc[MAX_COMPS];
	int pn = split(pattern, pc, (int)ELEMENTSOF(pc));
	int sn = split(path, sc, (int)ELEMENTSOF(sc));
	if (pn <= 0 || sn <= 0)
		return false;
	if (!strchr(pattern, '/')) {
		/* Any component, and then everything below it. */
		for (int k = 0; k < sn; k++)
			if (is_dstar(&pc[0]) || comp_match(pc[0].s, pc[0].n, sc[k].s, sc[k].n, ci))
				return true;
		return false;
	}
	return path_match(pc, pn, sc, sn, ci);
}

bool pathglob_match(const char *pattern, const char *path)
{
	return match(pattern, path, false);
}

bool pathglob_match_nocase(const char *pattern, const char *path)
{
	return match(pattern, path, true);
}

int pathglob_valid(const char *pattern, const char **ret_why)
{
	size_t n = strlen(pattern);
	const char *why = NULL;
	if (n == 0)
		why = "empty pattern";
	else if (n > PATHGLOB_MAX)
		why = "pattern too long";
	else if (pattern[0] == '/')
		why = "patterns are relative to the project root (no leading '/')";
	for (size_t i = 0; !why && i < n; i++) {
		char c = pattern[i];
		if (c == '\\' && i + 1 == n)
			why = "trailing '\\'";
		else if (c == '\\')
			i++;
		else if (c == '[') {
			size_t j = i + 1;
			if (j < n && (pattern[j] == '!' || pattern[j] == '^'))
				j++;
			if (j < n && pattern[j] == ']')
				j++;
			while (j < n && pattern[j] != ']')
				j++;
			if (j >= n)
				why = "unclosed '['";
			i = j;
		} else if (c == '*' && i + 1 < n && pattern[i + 1] == '*') {
			bool start = i == 0 || pattern[i - 1] == '/';
			bool end = i + 2 == n || pattern[i + 2] == '/';
			if (!start || !end)
				why = "'**' must be a whole path component";
			i++;
		} else if (c == '/' && i + 1 < n && pattern[i + 1] == '/')
			why = "empty path component ('//')";
	}
	if (!why) {
		struct comp pc[MAX_COMPS / 4];
		if (split(pattern, pc, (int)ELEMENTSOF(pc)) < 0)
			why = "too many path components";
	}
	if (why) {
		if (ret_why)
			*ret_why = why;
		return -EINVAL;
	}
	return 0;
}
