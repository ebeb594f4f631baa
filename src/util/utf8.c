#include "util/utf8.h"

size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *ret_cp)
{
	static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	if (n == 0)
		return 0;
	unsigned char c = s[0];
	size_t len = c < 0x80                 ? 1
		     : c >= 0xc2 && c <= 0xdf ? 2
		     : c >= 0xe0 && c <= 0xef ? 3
		     : c >= 0xf0 && c <= 0xf4 ? 4
					      : 0;
	if (len == 0 || len > n)
		return 0;
	uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
	for (size_t k = 1; k < len; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[k] & 0x3f);
	}
	if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*ret_cp = cp;
	return len;
}

unsigned char utf8_ascii_control(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return *p;
	return 0;
}

bool utf8_is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200e ||
	       cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
	       cp == 0x2028 || cp == 0x2029;
}

size_t utf8_display_filter(char *buf, size_t n, size_t *ret_keep)
{
	unsigned char *s = (unsigned char *)buf;
	size_t i = 0, o = 0;
	*ret_keep = 0;
	while (i < n) {
		uint32_t cp = 0;
		size_t len = utf8_decode(s + i, n - i, &cp);
		if (len == 0 && s[i] >= 0xc2 && s[i] <= 0xf4 && n - i < 4) {
			/* maybe a sequence cut at the end: valid so far? */
			size_t want = s[i] <= 0xdf ? 2 : s[i] <= 0xef ? 3 : 4, k = 1;
			while (i + k < n && (s[i + k] & 0xc0) == 0x80)
				k++;
			if (i + k == n && k < want) {
				*ret_keep = k;
				break;
			}
		}
		if (len == 0 || (utf8_is_control(cp) && cp != '\n' && cp != '\t')) {
			s[o++] = '?';
			i += len ? len : 1;
			continue;
		}
		memmove(s + o, s + i, len);
		o += len;
		i += len;
	}
	return o;
}

bool utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	while (n) {
		uint32_t cp;
		size_t k = utf8_decode(p, n, &cp);
		if (!k)
			return false;
		p += k;
		n -= k;
	}
	return true;
}
