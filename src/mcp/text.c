/* The MCP server's text helpers: JSON strings of any bytes, redaction of
 * the box's known secrets, base64 (src/mcp/mcp_int.h). */
#include "mcp/mcp_int.h"

#include "util/buf.h"
#include "util/error.h"
#include "util/utf8.h"

json_t *mcp_text(const char *s, size_t n)
{
	static const char fffd[] = "\xef\xbf\xbd";
	_cleanup_buf_ struct buf b = BUF_INIT(SIZE_MAX / 4);
	size_t i = 0;
	/* Most text is valid: one copy then. */
	while (i < n) {
		uint32_t cp;
		size_t k = utf8_decode((const unsigned char *)s + i, n - i, &cp);
		if (k == 0 || cp == 0) {
			if (buf_append(&b, s, i) < 0 || buf_append(&b, fffd, 3) < 0)
				return NULL;
			s += i + 1;
			n -= i + 1;
			i = 0;
			continue;
		}
		i += k;
	}
	if (buf_append(&b, s, n) < 0)
		return NULL;
	return json_stringn(b.data ? b.data : "", b.len);
}

json_t *mcp_text_redacted(const struct secrets *known, const char *s, size_t n)
{
	_cleanup_free_ char *red = NULL;
	if (known && n > 0) {
		int r = secrets_redact(known, s, n, &red);
		if (r < 0)
			return NULL;
		if (r > 0)
			return mcp_text(red, strlen(red));
	}
	return mcp_text(s, n);
}

int mcp_known(const struct mcp_ctx *c, struct secrets **ret, struct error *err)
{
	_cleanup_secrets_ struct secrets *k = NULL;
	int r = secrets_new_known(&k);
	if (r < 0)
		return r;
	r = secrets_known_load(c->box.dir, k, err);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(k);
	return 0;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *mcp_base64_encode(const void *p, size_t n)
{
	const unsigned char *s = p;
	if (n > (SIZE_MAX / 4) * 3 - 3)
		return NULL;
	char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		*o++ = b64[v >> 18 & 63];
		*o++ = b64[v >> 12 & 63];
		*o++ = i + 1 < n ? b64[v >> 6 & 63] : '=';
		*o++ = i + 2 < n ? b64[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

static int b64_value(char ch)
{
	const char *p = ch ? strchr(b64, ch) : NULL;
	return p ? (int)(p - b64) : -1;
}

/* One quantum s[0..4) into out (1-3 bytes); the count, or -EINVAL. Padding
 * only in the last quantum. */
static int b64_quantum(const char *s, bool last, unsigned char *out)
{
	int v[4], pad = 0;
	for (int k = 0; k < 4; k++) {
		if (s[k] == '=' && last && k >= 2 && (k == 3 || s[3] == '=')) {
			v[k] = 0;
			pad++;
		} else if ((v[k] = b64_value(s[k])) < 0)
			return -EINVAL;
	}
	uint32_t x = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | v[3];
	out[0] = x >> 16 & 0xff;
	out[1] = x >> 8 & 0xff;
	out[2] = x & 0xff;
	return 3 - pad;
}

int mcp_base64_decode(const char *s, size_t n, char **ret, size_t *ret_len)
{
	if (n % 4)
		return -EINVAL;
	_cleanup_free_ char *out = malloc(n / 4 * 3 + 1);
	size_t len = 0;
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < n; i += 4) {
		int k = b64_quantum(s + i, i + 4 == n, (unsigned char *)out + len);
		if (k < 0)
			return k;
		len += (size_t)k;
	}
	out[len] = '\0';
	*ret = TAKE_PTR(out);
	*ret_len = len;
	return 0;
}
