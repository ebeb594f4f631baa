/* publish: --publish specs, the host's listener, and forwarding into the
 * box's network namespace (two private namespaces: the "host" and the
 * "box", so a connection that arrives proves the setns). */
#include "unit.h"
#include "unit_netns.h"
#include "net/publish.h"
#include "util/fs.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>

TEST(publish_parse_specs)
{
	struct publish_port p;
	CHECK_INT(publish_parse("8080", &p), 0);
	CHECK(p.host == 8080 && p.box == 8080 && p.fd == -1);
	CHECK_INT(publish_parse("18789:80", &p), 0);
	CHECK(p.host == 18789 && p.box == 80 && p.fd == -1);
	static const char *const bad[] = { "",    "0",  "x",     "80:",   ":80", "1:0",
					   "0:1", "-1", "65536", "1:2:3", " 80", "80x" };
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		p = (struct publish_port){ .host = 1, .box = 2, .fd = 3 };
		if (publish_parse(bad[i], &p) != -EINVAL) {
			fprintf(stderr, "accepted '%s'\n", bad[i]);
			exit(1);
		}
		CHECK(p.host == 1 && p.box == 2 && p.fd == 3); /* untouched */
	}
}

static struct sockaddr_in loopback(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sa;
}

/* A listener on 127.0.0.1:port of the current namespace. */
static int listener(uint16_t port)
{
	struct sockaddr_in sa = loopback(port);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0);
	CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(listen(fd, 8) == 0);
	return fd;
}

/* A connected socket to 127.0.0.1:port, or -errno. */
static int connect_to(uint16_t port)
{
	struct sockaddr_in sa = loopback(port);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* Wait (5 s at most) for fd to be readable; what recv() then gives, as a
 * string ("EOF" at the end). */
static const char *next(int fd, char *b, size_t size)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	CHECK(poll(&p, 1, 5000) == 1);
	ssize_t k = recv(fd, b, size - 1, 0);
	CHECK(k >= 0);
	b[k] = '\0';
	return k == 0 ? "EOF" : b;
}

/* The box's audit log, as one string (freed by the caller). */
static char *audit_text(const char *dir)
{
	char path[PATH_MAX], *data = NULL;
	size_t len = 0;
	snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
	CHECK_INT(fs_read_file(path, 1 << 20, &data, &len), 0);
	return data;
}

TEST(publish_listen_takes_the_host_port)
{
	unit_netns();
	struct publish_port p, q;
	CHECK_INT(publish_parse("18080", &p), 0);
	CHECK_INT(publish_listen(&p), 0);
	CHECK(p.fd >= 0);
	int c = connect_to(18080);
	CHECK(c >= 0);
	q = p;
	q.fd = -1;
	CHECK_INT(publish_listen(&q), -EADDRINUSE);
	CHECK_INT(q.fd, -1);
}

/* Two namespaces: returns an fd of the box's, with a listener on port
 * there (*ret_srv, or none for port 0); the caller is back in the host's. */
static int host_and_box(uint16_t port, int *ret_srv)
{
	int host = unit_netns(), box = unit_netns();
	*ret_srv = port ? listener(port) : -1;
	CHECK(setns(host, CLONE_NEWNET) == 0);
	close(host);
	return box;
}

TEST(publish_forwards_into_the_box)
{
	char dir[] = "/tmp/clawbox-unit.XXXXXX", b[64];
	struct publish *pub = NULL;
	struct publish_port p;
	int srv, box = host_and_box(8000, &srv);
	CHECK(mkdtemp(dir) != NULL);
	/* The box's port is not the host's. */
	CHECK_INT(connect_to(8000), -ECONNREFUSED);
	CHECK_INT(publish_parse("18000:8000", &p), 0);
	CHECK_INT(publish_listen(&p), 0);
	CHECK_INT(publish_start(&p, 1, box, dir, "b", &pub), 0);

	int c = connect_to(18000);
	CHECK(c >= 0);
	CHECK(write(c, "ping", 4) == 4);
	struct pollfd pf = { .fd = srv, .events = POLLIN };
	CHECK(poll(&pf, 1, 5000) == 1);
	int a = accept4(srv, NULL, NULL, SOCK_CLOEXEC);
	CHECK(a >= 0);
	CHECK_STREQ(next(a, b, sizeof(b)), "ping");
	CHECK(write(a, "pong!", 5) == 5);
	CHECK_STREQ(next(c, b, sizeof(b)), "pong!");
	shutdown(c, SHUT_WR);
	CHECK_STREQ(next(a, b, sizeof(b)), "EOF");
	close(a);
	CHECK_STREQ(next(c, b, sizeof(b)), "EOF");
	close(c);
	CHECK_INT(publish_stop(pub), 0);

	_cleanup_free_ char *log = audit_text(dir);
	CHECK(strstr(log, "\"event\":\"net.publish\"") != NULL);
	CHECK(strstr(log, "\"host_port\":18000,\"box_port\":8000,\"decision\":\"allow\"") != NULL);
	CHECK(strstr(log, "\"bytes_in\":4,\"bytes_out\":5") != NULL);
}

TEST(publish_closes_when_nothing_listens_in_the_box)
{
	char dir[] = "/tmp/clawbox-unit.XXXXXX", b[64];
	struct publish *pub = NULL;
	struct publish_port p;
	int srv, box = host_and_box(0, &srv);
	CHECK(mkdtemp(dir) != NULL);
	CHECK_INT(publish_parse("18001:8001", &p), 0);
	CHECK_INT(publish_listen(&p), 0);
	CHECK_INT(publish_start(&p, 1, box, dir, "b", &pub), 0);
	int c = connect_to(18001);
	CHECK(c >= 0);
	CHECK_STREQ(next(c, b, sizeof(b)), "EOF");
	close(c);
	CHECK_INT(publish_stop(pub), 0);

	_cleanup_free_ char *log = audit_text(dir);
	CHECK(strstr(log, "\"host_port\":18001,\"box_port\":8001,\"decision\":\"deny\","
			  "\"reason\":\"nothing listens on the box's port\"") != NULL);
}

/* publish_stop ends a connection still open (both ends idle), and logs it. */
TEST(publish_stop_ends_open_connections)
{
	char dir[] = "/tmp/clawbox-unit.XXXXXX", b[64];
	struct publish *pub = NULL;
	struct publish_port p;
	int srv, box = host_and_box(8002, &srv);
	CHECK(mkdtemp(dir) != NULL);
	CHECK_INT(publish_parse("18002:8002", &p), 0);
	CHECK_INT(publish_listen(&p), 0);
	CHECK_INT(publish_start(&p, 1, box, dir, "b", &pub), 0);
	int c = connect_to(18002);
	CHECK(c >= 0);
	struct pollfd pf = { .fd = srv, .events = POLLIN };
	CHECK(poll(&pf, 1, 5000) == 1);
	int a = accept4(srv, NULL, NULL, SOCK_CLOEXEC);
	CHECK(a >= 0);
	/* A byte through: the relay runs. */
	CHECK(write(c, "x", 1) == 1);
	CHECK_STREQ(next(a, b, sizeof(b)), "x");
	CHECK_INT(publish_stop(pub), 0);
	CHECK_STREQ(next(c, b, sizeof(b)), "EOF");
	_cleanup_free_ char *log = audit_text(dir);
	CHECK(strstr(log, "\"host_port\":18002,\"box_port\":8002,\"decision\":\"allow\"") != NULL);
}
