#include "util/common.h"

#include "net/http1.h"

#include <strings.h>

bool http1_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

bool http1_header_is(const char *name, size_t nl, const char *want)
{
	return strlen(want) == nl && strncasecmp(name, want, nl) == 0;
}

int http1_content_length(const char *v, const char *end, uint64_t *len, bool *seen)
{
	uint64_t x = 0;
	size_t digits = 0;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	for (; v < end; v++, digits++) {
		if (*v < '0' || *v > '9' || digits >= 18)
			return -EBADMSG;
		x = x * 10 + (uint64_t)(*v - '0');
	}
	if (digits == 0 || (*seen && x != *len))
		return -EBADMSG;
	*len = x;
	*seen = true;
	return 0;
}

const char *http1_crlf(const char *p, const char *end)
{
	for (; p + 1 < end; p++)
		if (p[0] == '\r' && p[1] == '\n')
			return p;
	return NULL;
}

int http1_head_end(const char *data, size_t n, size_t max, size_t *ret_len)
{
	size_t lim = n < max ? n : max, len = 0;
	/* Find the end of the head first: nothing is parsed twice in vain. */
	for (size_t i = 0; i + 3 < lim; i++)
		if (data[i] == '\r' && memcmp(data + i, "\r\n\r\n", 4) == 0) {
			len = i + 4;
			break;
		}
	if (!len) {
		if (memchr(data, '\0', lim))
			return -EBADMSG;
		return n >= max ? -E2BIG : 0;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)data[i];
		if ((c < 0x20 && c != '\r' && c != '\n' && c != '\t') || c == 0x7f)
			return -EBADMSG;
	}
	*ret_len = len;
	return 1;
}
