/* libFuzzer harness for the SOCKS5 parser: the greeting, then the request
 * after it; lengths stay within the input, a parsed request has a host and
 * a port, and nothing crashes. */
#include "util/common.h"

#include "net/socks5.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool noauth;
	struct socks5_req r;
	int g = socks5_parse_greeting(data, size, &noauth);
	if (g > (int)size)
		abort();
	if (g <= 0)
		return 0;
	int q = socks5_parse_request(data + g, size - (size_t)g, &r);
	if (q > (int)(size - (size_t)g))
		abort();
	if (q > 0 && (!r.host[0] || r.port == 0 || r.cmd != 1))
		abort();
	if (q < 0 && q != -EPROTO && q != -EOPNOTSUPP && q != -EAFNOSUPPORT && q != -EINVAL)
		abort();
	return 0;
}
