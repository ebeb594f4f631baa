/* The SOCKS5 parser (RFC 1928): the client's greeting and its request.
 * Only "no authentication" and CONNECT are supported. Never prints. */
#ifndef CLAWBOX_SOCKS5_H
#define CLAWBOX_SOCKS5_H
#include "util/common.h"

#include "net/netpolicy.h"

/* Reply codes (RFC 1928 section 6). */
enum {
	SOCKS5_OK = 0x00,
	SOCKS5_FAILURE = 0x01,
	SOCKS5_NOT_ALLOWED = 0x02,
	SOCKS5_NET_UNREACHABLE = 0x03,
	SOCKS5_HOST_UNREACHABLE = 0x04,
	SOCKS5_REFUSED = 0x05,
	SOCKS5_TTL_EXPIRED = 0x06,
	SOCKS5_CMD_UNSUPPORTED = 0x07,
	SOCKS5_ATYP_UNSUPPORTED = 0x08,
};

struct socks5_req {
	uint8_t cmd;
	char host[NETPOLICY_NAME_MAX + 1]; /* a name or a bare IP literal */
	uint16_t port;
};

/* The greeting: VER=5 NMETHODS METHODS. Returns its length (> 0) when
 * complete, 0 when more bytes are needed, -EPROTO when it is not SOCKS5.
 * *ret_noauth tells whether method 0 ("no authentication") was offered. */
int socks5_parse_greeting(const uint8_t *d, size_t n, bool *ret_noauth);

/* The request: VER CMD RSV ATYP DST.ADDR DST.PORT. Returns its length when
 * complete (*ret filled), 0 when more bytes are needed, -EPROTO for a bad
 * version or reserved byte, -EOPNOTSUPP for a command other than CONNECT
 * (reply 0x07), -EAFNOSUPPORT for an unknown address type (0x08), -EINVAL
 * for an empty or invalid name or port 0. */
int socks5_parse_request(const uint8_t *d, size_t n, struct socks5_req *ret);

#endif
