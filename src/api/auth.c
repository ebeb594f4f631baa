/* Who may use the API: the TCP side's auth policy, the Authorization
 * check, Origin and Host. */
#include "util/common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <nettle/base64.h>
#include <strings.h>
#include <sys/socket.h>

#include "api/api_int.h"
#include "util/hash.h"

bool api_secret_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	/* Compared as sha256 digests, byte by byte without an early end: the
	 * time says nothing of where they differ, nor of the length. */
	uint8_t ha[HASH_SHA256_SIZE], hb[HASH_SHA256_SIZE];
	volatile uint8_t diff = 0;
	hash_sha256(a, alen, ha);
	hash_sha256(b, blen, hb);
	for (size_t i = 0; i < sizeof(ha); i++)
		diff |= ha[i] ^ hb[i];
	explicit_bzero(ha, sizeof(ha));
	explicit_bzero(hb, sizeof(hb));
	return diff == 0;
}

bool api_addr_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family != AF_INET6)
		return false;
	const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	if (IN6_IS_ADDR_LOOPBACK(a))
		return true;
	return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
}

int api_parse_listen(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	if (!colon || colon == s || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - s), s);
	char *end;
	errno = 0;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (errno || !colon[1] || *end || port > 65535 || colon[1] == '-' || colon[1] == '+')
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	size_t hl = strlen(host);
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ret;
		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
			return -EINVAL;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*ret_len = sizeof(*a6);
		return 0;
	}
	struct sockaddr_in *a4 = (struct sockaddr_in *)ret;
	if (STREQ(host, "localhost"))
		snprintf(host, sizeof(host), "127.0.0.1");
	if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
		return -EINVAL;
	a4->sin_family = AF_INET;
	a4->sin_port = htons((uint16_t)port);
	*ret_len = sizeof(*a4);
	return 0;
}

int api_check_auth_policy(const struct api_config *cfg, struct error *err)
{
	struct sockaddr_storage ss;
	socklen_t len;
	bool secret = (cfg->token && *cfg->token) || (cfg->password && *cfg->password);
	if (!cfg->listen)
		return 0;
	if (api_parse_listen(cfg->listen, &ss, &len) < 0)
		return error_set(err, -EINVAL, cfg->listen, 0,
				 "not an address to listen on (ADDR:PORT, [V6ADDR]:PORT)");
	bool loop = api_addr_loopback((struct sockaddr *)&ss);
	if (secret && cfg->no_auth)
		return error_set(err, -EINVAL, NULL, 0,
				 "--no-auth with a token or password set: unset one of them");
	if (secret)
		return 0;
	if (!loop)
		return error_set(err, -EINVAL, cfg->listen, 0,
				 "refusing to listen on a non-loopback address without auth: set "
				 "CLAWBOX_API_TOKEN or CLAWBOX_API_PASSWORD");
	if (!cfg->no_auth)
		return error_set(
		    err, -EINVAL, cfg->listen, 0,
		    "TCP needs auth: set CLAWBOX_API_TOKEN or CLAWBOX_API_PASSWORD, or "
		    "give --no-auth (loopback only: your uid and root only)");
	return 0;
}

bool api_host_loopback(const char *host)
{
	char h[128];
	size_t n = strlen(host);
	if (n >= sizeof(h))
		return false;
	memcpy(h, host, n + 1);
	if (h[0] == '[') {
		char *close = strchr(h, ']');
		if (!close || (close[1] && close[1] != ':'))
			return false;
		*close = '\0';
		struct in6_addr a;
		return inet_pton(AF_INET6, h + 1, &a) == 1 && IN6_IS_ADDR_LOOPBACK(&a);
	}
	char *colon = strchr(h, ':');
	if (colon)
		*colon = '\0';
	struct in_addr a4;
	if (strcasecmp(h, "localhost") == 0)
		return true;
	return inet_pton(AF_INET, h, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

bool api_origin_allowed(const struct api *a, const char *o)
{
	for (size_t i = 0; i < a->cfg.norigins; i++)
		if (STREQ(o, a->cfg.origins[i]))
			return true;
	const char *rest = !strncmp(o, "http://", 7)    ? o + 7
			   : !strncmp(o, "https://", 8) ? o + 8
							: NULL;
	return rest && !strchr(rest, '/') && !strchr(rest, '@') && api_host_loopback(rest);
}

/* Whether the Authorization value v carries the token or the password. */
static bool auth_ok(const struct api *a, const char *v)
{
	const char *tok = a->cfg.token, *pw = a->cfg.password;
	if (!v)
		return false;
	if (!strncasecmp(v, "Bearer ", 7) && tok && *tok)
		return api_secret_equal(v + 7, strlen(v + 7), tok, strlen(tok));
	if (strncasecmp(v, "Basic ", 6) != 0 || !pw || !*pw)
		return false;
	const char *b = v + 6;
	size_t bl = strlen(b), dl = 0;
	if (bl > 1024)
		return false;
	char dec[BASE64_DECODE_LENGTH(1024) + 1];
	struct base64_decode_ctx ctx;
	base64_decode_init(&ctx);
	if (!base64_decode_update(&ctx, &dl, (uint8_t *)dec, bl, b) || !base64_decode_final(&ctx))
		return false;
	char *colon = memchr(dec, ':', dl);
	bool ok =
	    colon && api_secret_equal(colon + 1, dl - (size_t)(colon + 1 - dec), pw, strlen(pw));
	explicit_bzero(dec, sizeof(dec));
	return ok;
}

int api_authorize(struct api_req *rq, struct api_resp *rs)
{
	const struct api *a = rq->api;
	const char *origin = rq->header(rq, "Origin");
	if (origin && !api_origin_allowed(a, origin))
		return api_errorf(rs, 403, "origin '%.200s' is not allowed", origin);
	if (rq->transport != API_TCP)
		return 0;
	if (a->cfg.no_auth) {
		/* No secret: only a loopback Host (a web page's DNS rebinding
		 * would send its own name). */
		const char *host = rq->header(rq, "Host");
		if (!host || !api_host_loopback(host))
			return api_errorf(rs, 403, "a loopback Host header is required");
		return 0;
	}
	if (rq->route && (rq->route->flags & API_ROUTE_NO_AUTH))
		return 0;
	if (!auth_ok(a, rq->header(rq, "Authorization"))) {
		api_header_add(rs, "WWW-Authenticate",
			       a->cfg.token ? "Bearer realm=\"clawbox\""
					    : "Basic realm=\"clawbox\"");
		return api_errorf(rs, 401, "authentication required");
	}
	return 0;
}
