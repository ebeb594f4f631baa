/* libFuzzer harness for the health URL and status line parsers (clawbox up
 * --health, clawbox status): any input parses or fails with -EINVAL /
 * -EBADMSG; a parsed URL names a loopback family and a port, and its path is
 * printable, begins with '/' and has no space. */
#include "util/common.h"

#include "net/health.h"

#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char url[HEALTH_URL_MAX + 64];
	size_t n = size < sizeof(url) - 1 ? size : sizeof(url) - 1;
	memcpy(url, data, n);
	url[n] = '\0';
	struct health_url u;
	int r = health_url_parse(url, &u);
	if (r == 0) {
		if ((u.family != AF_INET && u.family != AF_INET6) || u.port == 0 ||
		    u.path[0] != '/')
			abort();
		for (const char *p = u.path; *p; p++)
			if (*p <= ' ' || *p >= 0x7f)
				abort();
	} else if (r != -EINVAL) {
		abort();
	}
	int c = health_status_parse((const char *)data, size);
	if (c != -EBADMSG && (c < 100 || c > 599))
		abort();
	return 0;
}
