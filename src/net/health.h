/* A box's health URL (clawbox up --health URL): an HTTP endpoint of the
 * service in the box, reached on the host's loopback (usually through a
 * --publish port), recorded in $BOX/health and probed by `clawbox status`.
 * Loopback only: status never makes a request anywhere else. Never prints. */
#ifndef CLAWBOX_HEALTH_H
#define CLAWBOX_HEALTH_H
#include "util/common.h"
#include "util/error.h"

#define HEALTH_URL_MAX    512
#define HEALTH_FILE       "health"
#define HEALTH_TIMEOUT_MS 3000

struct health_url {
	int family; /* AF_INET (127.0.0.1, localhost) or AF_INET6 ([::1]) */
	uint16_t port;
	char path[HEALTH_URL_MAX]; /* begins with '/'; printable ASCII, no space */
};

/* Parse "http://HOST[:PORT][/PATH]", HOST 127.0.0.1, localhost or [::1],
 * PORT 1-65535 (default 80). -EINVAL for anything else (another scheme or
 * host, userinfo, a fragment, control bytes or spaces in the path). */
int health_url_parse(const char *url, struct health_url *ret);

/* The HTTP status code of a status line ("HTTP/1.x NNN ..."), 100-599, or
 * -EBADMSG. */
int health_status_parse(const char *line, size_t len);

/* Write url to dir_fd's HEALTH_FILE (0600, replaced atomically), or remove
 * the file when url is NULL. -errno. */
int health_record(int dir_fd, const char *url, struct error *err);

/* Read dir_fd's HEALTH_FILE into url (size n). 0 when there is none, 1 when
 * read, -errno. */
int health_read(int dir_fd, char *url, size_t n);

/* GET the URL; 0 with *ret_status the HTTP status code, or -errno
 * (-ECONNREFUSED, also when the connection is closed before any answer, as
 * a --publish port does with nothing listening in the box; -ETIMEDOUT after
 * HEALTH_TIMEOUT_MS; -EBADMSG for an answer that is not HTTP). */
int health_probe(const struct health_url *u, int *ret_status);

#endif
