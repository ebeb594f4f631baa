/* libFuzzer harness for the display filter of text from a box
 * (src/util/utf8.h): the output is never longer than the input, holds no
 * control but '\n' and '\t' and only valid UTF-8, the carried tail is a
 * cut sequence of at most 3 bytes; and gate_path_display of the same bytes
 * stays within its buffer and shows no control raw. */
#include "util/common.h"

#include "sync/gate.h"
#include "util/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_clean(const unsigned char *s, size_t n, bool nl_ok)
{
	for (size_t i = 0; i < n;) {
		uint32_t cp = 0;
		size_t len = utf8_decode(s + i, n - i, &cp);
		if (len == 0 || (utf8_is_control(cp) && !(nl_ok && (cp == '\n' || cp == '\t'))))
			abort();
		i += len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	size_t keep = 99;
	size_t n = utf8_display_filter(buf, size, &keep);
	if (n > size || keep > 3 || keep > size || n + keep > size)
		abort();
	check_clean((unsigned char *)buf, n, true);
	buf[size] = '\0';
	memcpy(buf, data, size);
	char out[256];
	size_t z = strnlen(buf, size);
	buf[z] = '\0';
	gate_path_display(buf, out, sizeof(out));
	size_t ol = strnlen(out, sizeof(out));
	if (ol >= sizeof(out))
		abort();
	check_clean((unsigned char *)out, ol, false);
	free(buf);
	return 0;
}
