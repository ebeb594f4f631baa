/* box/pty.c: the relay between a terminal of the box's own and the caller,
 * with a real pty pair; "the caller's terminal" is a pipe on stdout here. */
#include "unit.h"

#include "box/pty.h"

#include <poll.h>
#include <termios.h>

struct pair {
	int master, slave;
	int out; /* read end of what the relay shows (our fd 1) */
};

/* A pty pair in raw mode (no \n -> \r\n), and a pipe as our stdout. */
static void open_pair(struct pair *p)
{
	int fds[2];
	struct termios t;

	p->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (p->master < 0)
		SKIP("no pty: %s", strerror(errno));
	CHECK_INT(grantpt(p->master), 0);
	CHECK_INT(unlockpt(p->master), 0);
	p->slave = open(ptsname(p->master), O_RDWR | O_NOCTTY | O_CLOEXEC);
	CHECK(p->slave >= 0);
	CHECK_INT(tcgetattr(p->slave, &t), 0);
	cfmakeraw(&t);
	CHECK_INT(tcsetattr(p->slave, TCSANOW, &t), 0);
	CHECK_INT(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
	CHECK(dup2(fds[1], STDOUT_FILENO) == STDOUT_FILENO);
	close(fds[1]);
	p->out = fds[0];
}

/* Relay until the master has nothing more for 100 ms, or is closed. */
static void pump(struct pty_relay *r)
{
	struct pollfd pf[2];
	for (int i = 0; i < 100 && pty_relay_active(r); i++) {
		nfds_t n = pty_relay_pollfds(r, pf);
		if (poll(pf, n, 100) <= 0)
			return;
		pty_relay_io(r, pf, n);
	}
}

static size_t shown(const struct pair *p, char *buf, size_t size)
{
	ssize_t k = read(p->out, buf, size - 1);
	buf[k > 0 ? k : 0] = '\0';
	return k > 0 ? (size_t)k : 0;
}

TEST(pty_relays_the_box_output)
{
	struct pair p;
	struct pty_relay r;
	char buf[256];

	open_pair(&p);
	pty_relay_init(&r, NULL);
	CHECK(!pty_relay_active(&r));
	pty_relay_start(&r, p.master, 1u << STDOUT_FILENO);
	CHECK(pty_relay_active(&r));
	CHECK_INT(r.out, STDOUT_FILENO);
	CHECK_INT(r.in, -1); /* stdin is not a terminal given to the box */
	CHECK_INT(write(p.slave, "hello from the box\n", 19), 19);
	pump(&r);
	shown(&p, buf, sizeof(buf));
	CHECK_STREQ(buf, "hello from the box\n");
	/* The box side closes: the relay ends (EIO on the master). */
	close(p.slave);
	pump(&r);
	CHECK(!pty_relay_active(&r));
	pty_relay_finish(&r);
}

/* What the box prints passes through the redaction: a value it was given
 * never reaches the caller's terminal, even cut in two writes. */
TEST(pty_redacts_secrets)
{
	static const char value[] = "s3cr3t-token-0123456789";
	struct secrets *s = NULL;
	struct pair p;
	struct pty_relay r;
	char buf[512];

	CHECK_INT(secrets_new(&s), 0);
	CHECK_INT(secrets_put(s, "API_TOKEN", value, strlen(value), SECRET_SOURCE_CLI, "-e", 0), 0);
	open_pair(&p);
	pty_relay_init(&r, s);
	pty_relay_start(&r, p.master, 1u << STDOUT_FILENO);
	CHECK_INT(write(p.slave, "key=s3cr3t-tok", 14), 14);
	pump(&r);
	CHECK_INT(write(p.slave, "en-0123456789 done\n", 19), 19);
	pump(&r);
	close(p.slave);
	pump(&r);
	pty_relay_finish(&r); /* shows what the redaction held back */
	size_t n = shown(&p, buf, sizeof(buf));
	CHECK(n > 0);
	CHECK(!strstr(buf, "s3cr3t"));
	CHECK(!strstr(buf, "0123456789"));
	CHECK(strstr(buf, "key=[REDACTED:API_TOKEN] done\n") != NULL);
	s = secrets_free(s);
}
