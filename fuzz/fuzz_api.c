/* libFuzzer harness for the API daemon's request handling: the input is the
 * raw bytes a client sends on one connection (one or more HTTP requests,
 * any garbage), given to the real daemon (libmicrohttpd's parser, the caps,
 * the routing, auth and every handler) over a socketpair with
 * api_add_connection. The answer, when there is one, must be HTTP; nothing
 * may crash, hang or leak. The state dir is empty: box calls answer 404. */
#include "util/common.h"

#include <poll.h>
#include <sys/socket.h>

#include "api/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct api_server *srv;
static char state[] = "/tmp/clawbox-fuzz-api.XXXXXX";

static void teardown(void)
{
	api_stop(srv, 1000);
	rmdir(state);
}

static void setup(void)
{
	struct api_config cfg = {
		.fuzz = true,
		.box = "fuzzbox",
		.exe = "/bin/false", /* POST .../up must not start the harness again */
		.max_body = 64 * 1024,
		.timeout_s = 1,
		.body_timeout_s = 2,
		.version = "fuzz",
	};
	if (!mkdtemp(state))
		abort();
	cfg.state = state;
	if (api_start(&cfg, &srv, NULL) < 0)
		abort();
	atexit(teardown);
}

/* Send data (the server reads meanwhile), then end our side. */
static void send_all(int fd, const uint8_t *data, size_t size)
{
	while (size) {
		struct pollfd p = { fd, POLLOUT, 0 };
		if (poll(&p, 1, 3000) <= 0)
			return;
		ssize_t n = send(fd, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n <= 0) {
			if (n < 0 && errno == EAGAIN)
				continue;
			return;
		}
		data += n;
		size -= (size_t)n;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];
	char head[16] = "";
	size_t got = 0;
	if (!srv)
		setup();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	if (api_add_connection(srv, sv[1]) < 0)
		abort();
	send_all(sv[0], data, size);
	shutdown(sv[0], SHUT_WR);
	for (;;) {
		char buf[65536];
		struct pollfd p = { sv[0], POLLIN, 0 };
		if (poll(&p, 1, 8000) <= 0)
			abort(); /* the daemon neither answered nor closed */
		ssize_t n = recv(sv[0], buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		if (got < sizeof(head) - 1) {
			size_t k =
			    (size_t)n < sizeof(head) - 1 - got ? (size_t)n : sizeof(head) - 1 - got;
			memcpy(head + got, buf, k);
		}
		got += (size_t)n;
	}
	close(sv[0]);
	if (got && strncmp(head, "HTTP/1.", got < 7 ? got : 7) != 0)
		abort();
	return 0;
}
