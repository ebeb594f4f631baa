/* relay_splice over socketpairs: a is the client's side, b the upstream's.
 * Every test is bounded by alarm(): a relay that never returns kills it. */
#include "unit.h"
#include "net/relay.h"

#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>

/* The four ends: the relay's a and b, and their peers (the "client" and
 * the "upstream"), which the test drives. */
struct ends {
	int client, a, b, upstream;
};

static struct ends pairs(void)
{
	int x[2], y[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, x) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, y) == 0);
	CHECK(fcntl(x[1], F_SETFL, O_NONBLOCK) == 0);
	CHECK(fcntl(y[0], F_SETFL, O_NONBLOCK) == 0);
	alarm(20);
	return (struct ends){ .client = x[0], .a = x[1], .b = y[0], .upstream = y[1] };
}

static void send_all(int fd, const char *s)
{
	CHECK(write(fd, s, strlen(s)) == (ssize_t)strlen(s));
}

/* What fd has right now (no wait), as a string; "EOF" at its end, "" when
 * nothing is there. */
static const char *take(int fd, char *b, size_t size)
{
	ssize_t k = recv(fd, b, size - 1, MSG_DONTWAIT);
	if (k == 0)
		return "EOF";
	if (k < 0) {
		CHECK(errno == EAGAIN);
		k = 0;
	}
	b[k] = '\0';
	return b;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Both directions end: each side gets the other's bytes, then EOF. */
TEST(relay_both_ways_then_eof)
{
	struct ends e = pairs();
	int stop[2];
	char b[64];
	uint64_t up = 0, down = 0;
	CHECK(pipe2(stop, O_CLOEXEC) == 0);
	send_all(e.client, "hello");
	shutdown(e.client, SHUT_WR);
	send_all(e.upstream, "world!");
	shutdown(e.upstream, SHUT_WR);
	relay_splice(e.a, e.b, stop[0], 10000, RELAY_ALL, &up, &down);
	CHECK_INT(up, 5);
	CHECK_INT(down, 6);
	CHECK_STREQ(take(e.upstream, b, sizeof(b)), "hello");
	CHECK_STREQ(take(e.upstream, b, sizeof(b)), "EOF");
	CHECK_STREQ(take(e.client, b, sizeof(b)), "world!");
	CHECK_STREQ(take(e.client, b, sizeof(b)), "EOF");
}

struct relay_run {
	struct ends e;
	int stop[2];
	uint64_t limit, up, down;
	pthread_t t;
};

static void *relay_main(void *arg)
{
	struct relay_run *r = arg;
	relay_splice(r->e.a, r->e.b, r->stop[0], 10000, r->limit, &r->up, &r->down);
	return NULL;
}

/* Wait (5 s at most) for n bytes on fd, into b (a string). */
static void wait_for(int fd, char *b, size_t n)
{
	size_t got = 0;
	while (got < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		CHECK(poll(&p, 1, 5000) == 1);
		ssize_t k = recv(fd, b + got, n - got, 0);
		CHECK(k > 0);
		got += (size_t)k;
	}
	b[n] = '\0';
}

/* a_limit: that many bytes go to b, the rest stays unread in a, and b's
 * write side stays open (no EOF) while the other direction goes on. */
TEST(relay_limit_leaves_the_rest_in_a)
{
	struct relay_run r = { .e = pairs(), .limit = 3 };
	char b[64];
	CHECK(pipe2(r.stop, O_CLOEXEC) == 0);
	send_all(r.e.client, "abcdef");
	CHECK(pthread_create(&r.t, NULL, relay_main, &r) == 0);
	wait_for(r.e.upstream, b, 3);
	CHECK_STREQ(b, "abc");
	send_all(r.e.upstream, "xyz");
	shutdown(r.e.upstream, SHUT_WR);
	pthread_join(r.t, NULL);
	CHECK_INT(r.up, 3);
	CHECK_INT(r.down, 3);
	CHECK_STREQ(take(r.e.upstream, b, sizeof(b)), "");
	CHECK_STREQ(take(r.e.a, b, sizeof(b)), "def");
	CHECK_STREQ(take(r.e.client, b, sizeof(b)), "xyz");
	CHECK_STREQ(take(r.e.client, b, sizeof(b)), "EOF");
}

/* A readable stop_fd ends the relay at once, connections still open. */
TEST(relay_stops_on_stop_fd)
{
	struct ends e = pairs();
	int stop[2];
	uint64_t up = 0, down = 0;
	CHECK(pipe2(stop, O_CLOEXEC) == 0);
	send_all(stop[1], "x");
	int64_t t0 = now_ms();
	relay_splice(e.a, e.b, stop[0], 10000, RELAY_ALL, &up, &down);
	CHECK(now_ms() - t0 < 5000);
	CHECK_INT(up + down, 0);
}

/* idle_ms without traffic ends it; it waited that long first. */
TEST(relay_ends_when_idle)
{
	struct ends e = pairs();
	int stop[2];
	uint64_t up = 0, down = 0;
	CHECK(pipe2(stop, O_CLOEXEC) == 0);
	int64_t t0 = now_ms();
	relay_splice(e.a, e.b, stop[0], 100, RELAY_ALL, &up, &down);
	int64_t took = now_ms() - t0;
	CHECK(took >= 100 && took < 5000);
}

#define BIG (3 * RELAY_BUF + 12345)

struct pump {
	int fd;
	bool write;
	size_t done;
	uint32_t sum;
};

/* Write BIG bytes (a known pattern) then shut the write side, or read
 * until EOF, summing what came. Blocking. */
static void *pump_main(void *arg)
{
	struct pump *p = arg;
	static char b[65536];
	while (p->write && p->done < BIG) {
		size_t n = BIG - p->done < sizeof(b) ? BIG - p->done : sizeof(b);
		for (size_t i = 0; i < n; i++)
			b[i] = (char)((p->done + i) * 7 % 251);
		ssize_t k = write(p->fd, b, n);
		if (k <= 0)
			return NULL;
		p->done += (size_t)k;
	}
	if (p->write) {
		shutdown(p->fd, SHUT_WR);
		return NULL;
	}
	char r[65536];
	ssize_t k;
	while ((k = read(p->fd, r, sizeof(r))) > 0) {
		for (ssize_t i = 0; i < k; i++)
			p->sum += (uint8_t)r[i] == (p->done + (size_t)i) * 7 % 251;
		p->done += (size_t)k;
	}
	return NULL;
}

/* More than the pipes hold, with the reader slower than the relay: every
 * byte arrives, in order. */
TEST(relay_moves_more_than_its_buffers)
{
	struct ends e = pairs();
	int stop[2];
	uint64_t up = 0, down = 0;
	struct pump w = { .fd = e.client, .write = true }, r = { .fd = e.upstream };
	pthread_t tw, tr;
	CHECK(pipe2(stop, O_CLOEXEC) == 0);
	shutdown(e.upstream, SHUT_WR);
	CHECK(pthread_create(&tw, NULL, pump_main, &w) == 0);
	CHECK(pthread_create(&tr, NULL, pump_main, &r) == 0);
	relay_splice(e.a, e.b, stop[0], 10000, RELAY_ALL, &up, &down);
	pthread_join(tw, NULL);
	pthread_join(tr, NULL);
	CHECK_INT(up, BIG);
	CHECK_INT(r.done, BIG);
	CHECK_INT(r.sum, BIG);
}
