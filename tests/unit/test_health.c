/* health: the health URL of an up box (clawbox up --health), its record and
 * its probe on the loopback. */
#include "unit.h"
#include "net/health.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

TEST(health_url_parse_loopback_only)
{
	struct health_url u;
	CHECK_INT(health_url_parse("http://127.0.0.1:18789/healthz", &u), 0);
	CHECK(u.family == AF_INET && u.port == 18789 && STREQ(u.path, "/healthz"));
	CHECK_INT(health_url_parse("http://localhost", &u), 0);
	CHECK(u.family == AF_INET && u.port == 80 && STREQ(u.path, "/"));
	CHECK_INT(health_url_parse("http://[::1]:8080/a?b=c", &u), 0);
	CHECK(u.family == AF_INET6 && u.port == 8080 && STREQ(u.path, "/a?b=c"));
	static const char *const bad[] = {
		"",
		"https://127.0.0.1/",
		"http://127.0.0.2/",
		"http://10.0.0.1:80/",
		"http://169.254.169.254/latest",
		"http://127.0.0.1.evil.com/",
		"http://localhost.evil.com/",
		"http://user@127.0.0.1/",
		"http://127.0.0.1@evil.com/",
		"http://127.0.0.1:0/",
		"http://127.0.0.1:65536/",
		"http://127.0.0.1:/",
		"http://127.0.0.1:80x/",
		"http://127.0.0.1/a b",
		"http://127.0.0.1/a\r\nHost: evil",
		"http://127.0.0.1/#frag",
		"HTTP://127.0.0.1/",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		if (health_url_parse(bad[i], &u) != -EINVAL) {
			fprintf(stderr, "accepted '%s'\n", bad[i]);
			CHECK(false);
		}
	}
}

TEST(health_status_line)
{
	CHECK_INT(health_status_parse("HTTP/1.1 200 OK\r\n", 17), 200);
	CHECK_INT(health_status_parse("HTTP/1.0 503 Service Unavailable", 32), 503);
	CHECK_INT(health_status_parse("HTTP/1.1 204", 12), 204);
	CHECK_INT(health_status_parse("HTTP/1.1 099 x", 14), -EBADMSG);
	CHECK_INT(health_status_parse("HTTP/1.1 2000 x", 15), -EBADMSG);
	CHECK_INT(health_status_parse("HTTP/2 200 OK", 13), -EBADMSG);
	CHECK_INT(health_status_parse("SSH-2.0-OpenSSH", 15), -EBADMSG);
	CHECK_INT(health_status_parse("HTTP/1.1 20", 11), -EBADMSG);
}

TEST(health_record_and_read)
{
	char dir[] = "/tmp/clawbox-health-XXXXXX", url[HEALTH_URL_MAX];
	CHECK(mkdtemp(dir) != NULL);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct error err = { 0 };
	CHECK_INT(health_read(dfd, url, sizeof(url)), 0);
	CHECK_INT(health_record(dfd, "http://127.0.0.1:1/x", &err), 0);
	CHECK_INT(health_read(dfd, url, sizeof(url)), 1);
	CHECK_STREQ(url, "http://127.0.0.1:1/x");
	CHECK_INT(health_record(dfd, "http://evil.com/", &err), -EINVAL);
	CHECK_INT(health_read(dfd, url, sizeof(url)), 1);
	CHECK_STREQ(url, "http://127.0.0.1:1/x");
	CHECK_INT(health_record(dfd, NULL, &err), 0);
	CHECK_INT(health_read(dfd, url, sizeof(url)), 0);
	close(dfd);
	CHECK(rmdir(dir) == 0);
}

/* A one-shot HTTP server on 127.0.0.1: answers what arg says. */
static void *serve_once(void *arg)
{
	int *fds = arg;
	int c = accept(fds[0], NULL, NULL);
	char buf[512];
	if (c >= 0) {
		(void)!recv(c, buf, sizeof(buf), 0);
		const char *a =
		    fds[1] ? "HTTP/1.1 503 Unavailable\r\n\r\n" : "HTTP/1.1 200 OK\r\n\r\n";
		(void)!send(c, a, strlen(a), MSG_NOSIGNAL);
		close(c);
	}
	return NULL;
}

TEST(health_probe_reads_the_status)
{
	for (int fail = 0; fail < 2; fail++) {
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in a = { .sin_family = AF_INET,
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t len = sizeof(a);
		CHECK(bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(s, 1) == 0);
		CHECK(getsockname(s, (struct sockaddr *)&a, &len) == 0);
		int fds[2] = { s, fail };
		pthread_t t;
		CHECK(pthread_create(&t, NULL, serve_once, fds) == 0);
		struct health_url u = { .family = AF_INET,
					.port = ntohs(a.sin_port),
					.path = "/h" };
		int code = 0;
		CHECK_INT(health_probe(&u, &code), 0);
		CHECK_INT(code, fail ? 503 : 200);
		pthread_join(t, NULL);
		close(s);
		/* nothing listens any more */
		CHECK_INT(health_probe(&u, &code), -ECONNREFUSED);
	}
}
