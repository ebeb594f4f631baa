/* bench/netload: the load generator of bench/net.sh.
 *   netload serve ADDR PORT          one connection at a time: reads a
 *                                    command byte; 'p' -> answers one byte,
 *                                    'b' -> sends 1 GiB, then closes
 *   netload latency N HOST PORT [PROXYADDR PROXYPORT]
 *                                    N new connections (through an HTTP
 *                                    CONNECT proxy when given): connect,
 *                                    tunnel, one byte each way; prints the
 *                                    median and p90 in microseconds
 *   netload bulk HOST PORT [PROXYADDR PROXYPORT]
 *                                    1 GiB down; prints MB/s */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BULK (1ULL << 30)

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static int dial(const char *addr, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		die("address");
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* A connection to host:port, direct or through a CONNECT proxy. */
static int open_conn(char **argv, int argc, int i)
{
	if (argc <= i + 1)
		return dial(argv[0], atoi(argv[1]));
	int fd = dial(argv[i], atoi(argv[i + 1]));
	char req[256], resp[1024];
	int n = snprintf(req, sizeof(req), "CONNECT %s:%s HTTP/1.1\r\nHost: %s:%s\r\n\r\n",
			 argv[0], argv[1], argv[0], argv[1]);
	if (write(fd, req, n) != n)
		die("write");
	size_t got = 0;
	while (got < sizeof(resp) - 1) {
		ssize_t k = read(fd, resp + got, 1);
		if (k <= 0)
			die("proxy closed");
		got += k;
		resp[got] = 0;
		if (got >= 4 && !memcmp(resp + got - 4, "\r\n\r\n", 4))
			break;
	}
	if (strncmp(resp + 9, "200", 3) != 0) {
		fprintf(stderr, "proxy said: %s", resp);
		exit(2);
	}
	return fd;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void serve(const char *addr, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, l = socket(AF_INET, SOCK_STREAM, 0);
	static char buf[1 << 20];
	inet_pton(AF_INET, addr, &sa.sin_addr);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 128) < 0)
		die("listen");
	memset(buf, 'x', sizeof(buf));
	for (;;) {
		int c = accept(l, NULL, NULL);
		char cmd = 0;
		if (c < 0)
			continue;
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (read(c, &cmd, 1) == 1 && cmd == 'p') {
			(void)!write(c, "P", 1);
		} else if (cmd == 'b') {
			for (unsigned long long sent = 0; sent < BULK;) {
				ssize_t k = write(c, buf, sizeof(buf));
				if (k <= 0)
					break;
				sent += k;
			}
		}
		close(c);
	}
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "serve")) {
		serve(argv[2], atoi(argv[3]));
	} else if (argc >= 5 && !strcmp(argv[1], "latency")) {
		int n = atoi(argv[2]);
		double *t = calloc(n, sizeof(*t));
		for (int i = 0; i < n; i++) {
			double t0 = now_us();
			int fd = open_conn(argv + 3, argc - 3, 2);
			char b;
			if (write(fd, "p", 1) != 1 || read(fd, &b, 1) != 1)
				die("ping");
			t[i] = now_us() - t0;
			close(fd);
		}
		qsort(t, n, sizeof(*t), cmp);
		printf("%.0f %.0f\n", t[n / 2], t[n * 9 / 10]);
	} else if (argc >= 4 && !strcmp(argv[1], "bulk")) {
		static char buf[1 << 20];
		int fd = open_conn(argv + 2, argc - 2, 2);
		double t0 = now_us();
		unsigned long long got = 0;
		ssize_t k;
		if (write(fd, "b", 1) != 1)
			die("write");
		while ((k = read(fd, buf, sizeof(buf))) > 0)
			got += k;
		double dt = now_us() - t0;
		if (got != BULK) {
			fprintf(stderr, "bulk: got %llu bytes\n", got);
			return 2;
		}
		printf("%.0f\n", got / dt); /* bytes per microsecond = MB/s */
	} else {
		fprintf(stderr, "usage: see the comment at the top of bench/netload.c\n");
		return 2;
	}
	return 0;
}
