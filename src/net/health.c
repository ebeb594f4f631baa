/* A box's health URL: parsed, recorded, probed on the host's loopback. */
#include "util/common.h"

#include "net/health.h"
#include "util/fs.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

/* The host part at *p (moved past it): family of a loopback name, or
 * -EINVAL. */
static int parse_host(const char **p)
{
	static const struct {
		const char *name;
		int family;
	} hosts[] = { { "127.0.0.1", AF_INET }, { "localhost", AF_INET }, { "[::1]", AF_INET6 } };
	for (size_t i = 0; i < ELEMENTSOF(hosts); i++) {
		size_t n = strlen(hosts[i].name);
		if (strncmp(*p, hosts[i].name, n) == 0 && strchr(":/", (*p)[n])) {
			*p += n;
			return hosts[i].family;
		}
	}
	return -EINVAL;
}

/* ":PORT" at *p (moved past it), 1-65535; no colon: 80. */
static int parse_port(const char **p, uint16_t *ret)
{
	if (**p != ':') {
		*ret = 80;
		return 0;
	}
	unsigned v = 0;
	const char *s = ++*p;
	while (**p >= '0' && **p <= '9' && *p - s < 5)
		v = v * 10 + (unsigned)(*(*p)++ - '0');
	if (*p == s || v == 0 || v > 65535 || (**p != '/' && **p != '\0'))
		return -EINVAL;
	*ret = (uint16_t)v;
	return 0;
}

int health_url_parse(const char *url, struct health_url *ret)
{
	struct health_url u = { 0 };
	const char *p = url;
	if (strncmp(p, "http://", 7) != 0)
		return -EINVAL;
	p += 7;
	int family = parse_host(&p);
	if (family < 0 || parse_port(&p, &u.port) < 0)
		return -EINVAL;
	u.family = family;
	const char *path = *p ? p : "/";
	size_t n = strlen(path);
	if (n >= sizeof(u.path))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (path[i] <= ' ' || path[i] >= 0x7f || path[i] == '#')
			return -EINVAL;
	memcpy(u.path, path, n + 1);
	*ret = u;
	return 0;
}

int health_status_parse(const char *line, size_t len)
{
	if (len < 12 || memcmp(line, "HTTP/1.", 7) != 0 || line[7] < '0' || line[7] > '9' ||
	    line[8] != ' ')
		return -EBADMSG;
	int code = 0;
	for (size_t i = 9; i < 12; i++) {
		if (line[i] < '0' || line[i] > '9')
			return -EBADMSG;
		code = code * 10 + (line[i] - '0');
	}
	if (code < 100 || code > 599 || (len > 12 && line[12] != ' ' && line[12] != '\r'))
		return -EBADMSG;
	return code;
}

int health_record(int dir_fd, const char *url, struct error *err)
{
	struct health_url u;
	if (!url) {
		if (unlinkat(dir_fd, HEALTH_FILE, 0) < 0 && errno != ENOENT)
			return error_errno(err, -errno, "cannot remove the box's health URL");
		return 0;
	}
	if (health_url_parse(url, &u) < 0)
		return error_set(
		    err, -EINVAL, NULL, 0,
		    "invalid health URL '%s': http://127.0.0.1|localhost|[::1][:PORT]/PATH", url);
	int r = fs_write_atomic_at(dir_fd, HEALTH_FILE, url, strlen(url), 0600);
	if (r < 0)
		return error_errno(err, r, "cannot record the box's health URL");
	return 0;
}

int health_read(int dir_fd, char *url, size_t n)
{
	_cleanup_close_ int fd = openat(dir_fd, HEALTH_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	size_t len;
	int r = n ? fs_read_fd(fd, url, n - 1, &len) : -EINVAL;
	if (r < 0)
		return r;
	url[len] = '\0';
	return 1;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is ready for events, at most until deadline. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		int r = poll(&pfd, 1, (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

/* A non-blocking socket connected to the URL's loopback port. */
static int connect_loopback(const struct health_url *u, int64_t deadline)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	if (u->family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		*a = (struct sockaddr_in6){ .sin6_family = AF_INET6,
					    .sin6_port = htons(u->port),
					    .sin6_addr = IN6ADDR_LOOPBACK_INIT };
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		*a = (struct sockaddr_in){ .sin_family = AF_INET,
					   .sin_port = htons(u->port),
					   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		len = sizeof(*a);
	}
	_cleanup_close_ int fd = socket(u->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS)
		return -errno;
	int r = wait_fd(fd, POLLOUT, deadline), e = 0;
	socklen_t elen = sizeof(e);
	if (r < 0)
		return r;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) < 0)
		return -errno;
	return e ? -e : TAKE_FD(fd);
}

int health_probe(const struct health_url *u, int *ret_status)
{
	int64_t deadline = now_ms() + HEALTH_TIMEOUT_MS;
	_cleanup_close_ int fd = connect_loopback(u, deadline);
	if (fd < 0)
		return fd;
	char req[HEALTH_URL_MAX + 128], resp[64];
	int n = snprintf(req, sizeof(req),
			 "GET %s HTTP/1.0\r\nHost: localhost\r\nUser-Agent: clawbox-status\r\n\r\n",
			 u->path);
	if (n < 0 || (size_t)n >= sizeof(req))
		return -ENAMETOOLONG;
	if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
		return -EIO;
	size_t got = 0;
	while (got < 12) {
		int r = wait_fd(fd, POLLIN, deadline);
		if (r < 0)
			return r;
		ssize_t k = recv(fd, resp + got, sizeof(resp) - got, 0);
		if (k < 0 && errno != EINTR && errno != EAGAIN)
			return -errno;
		if (k == 0) /* closed: a --publish port with nothing listening in the box */
			return got ? -EBADMSG : -ECONNREFUSED;
		got += k > 0 ? (size_t)k : 0;
	}
	int code = health_status_parse(resp, got);
	if (code < 0)
		return code;
	*ret_status = code;
	return 0;
}
