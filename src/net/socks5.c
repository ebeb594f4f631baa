#include "util/common.h"

#include "net/socks5.h"

#include <arpa/inet.h>

int socks5_parse_greeting(const uint8_t *d, size_t n, bool *ret_noauth)
{
	if (n >= 1 && d[0] != 5)
		return -EPROTO;
	if (n < 2)
		return 0;
	if (d[1] == 0)
		return -EPROTO;
	size_t len = 2 + (size_t)d[1];
	if (n < len)
		return 0;
	bool noauth = false;
	for (size_t i = 2; i < len; i++)
		noauth |= d[i] == 0;
	*ret_noauth = noauth;
	return (int)len;
}

int socks5_parse_request(const uint8_t *d, size_t n, struct socks5_req *ret)
{
	struct socks5_req req = { 0 };
	size_t len;

	if ((n >= 1 && d[0] != 5) || (n >= 3 && d[2] != 0))
		return -EPROTO;
	if (n < 4)
		return 0;
	req.cmd = d[1];
	switch (d[3]) {
	case 1: len = 4 + 4 + 2; break;
	case 4: len = 4 + 16 + 2; break;
	case 3:
		if (n < 5)
			return 0;
		len = 4 + 1 + (size_t)d[4] + 2;
		break;
	default: return -EAFNOSUPPORT;
	}
	/* The command is judged once the address type is known to be sane, so
	 * the reply can say which one is unsupported. */
	if (req.cmd != 1)
		return -EOPNOTSUPP;
	if (n < len)
		return 0;
	if (d[3] == 1) {
		inet_ntop(AF_INET, d + 4, req.host, sizeof(req.host));
	} else if (d[3] == 4) {
		inet_ntop(AF_INET6, d + 4, req.host, sizeof(req.host));
	} else {
		size_t hl = d[4];
		if (hl == 0)
			return -EINVAL;
		for (size_t i = 0; i < hl; i++)
			if (d[5 + i] <= 0x20 || d[5 + i] >= 0x7f)
				return -EINVAL;
		memcpy(req.host, d + 5, hl);
		req.host[hl] = '\0';
	}
	req.port = (uint16_t)(d[len - 2] << 8 | d[len - 1]);
	if (req.port == 0)
		return -EINVAL;
	*ret = req;
	return (int)len;
}
