/* libFuzzer harness for the API daemon's request handling: the input is the
 * raw bytes a client sends on one connection (one or more HTTP requests,
 * any garbage), sent to the real daemon (libmicrohttpd's parser, the caps,
 * the routing, auth and every handler) on its unix socket, as a client
 * would. The answer, when there is one, must be HTTP; nothing may crash,
 * hang or leak. The state dir is empty: box calls answer 404. */
#include "util/common.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "api/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__asan_default_options(void);

/* Every input starts a connection thread of the daemon: with a smaller
 * quarantine than ASan's 256 MiB, thousands of them run twice as fast. */
const char *__asan_default_options(void)
{
	return "quarantine_size_mb=16";
}

static struct api_server *srv;
static char state[] = "/tmp/clawbox-fuzz-api.XXXXXX";
static struct sockaddr_un addr = { .sun_family = AF_UNIX };

static void teardown(void)
{
	char lock[sizeof(addr.sun_path) + 8];
	api_stop(srv, 1000);
	snprintf(lock, sizeof(lock), "%s.lock", addr.sun_path);
	unlink(lock);
	rmdir(state);
}

static void setup(void)
{
	struct api_config cfg = {
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
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/api.sock", state);
	cfg.socket = addr.sun_path;
	if (api_start(&cfg, &srv, NULL) < 0)
		abort();
	atexit(teardown);
}

/* Send data (the server reads meanwhile), then end our side. */
static void send_all(int fd, const uint8_t *data, size_t size)
{
	while (size) {
		struct pollfd p = { fd, POLLOUT, 0 };
		int k = poll(&p, 1, 3000);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
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
	int sv[1];
	char head[16] = "";
	size_t got = 0;
	if (!srv)
		setup();
	sv[0] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sv[0] < 0 || connect(sv[0], (struct sockaddr *)&addr, sizeof(addr)) < 0)
		abort();
	send_all(sv[0], data, size);
	shutdown(sv[0], SHUT_WR);
	for (;;) {
		char buf[65536];
		struct pollfd p = { sv[0], POLLIN, 0 };
		int k = poll(&p, 1, 8000);
		if (k < 0 && errno == EINTR) /* libFuzzer's timer */
			continue;
		if (k <= 0)
			abort(); /* the daemon neither answered nor closed */
		ssize_t n = recv(sv[0], buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		if (got < sizeof(head) - 1) {
			size_t room = sizeof(head) - 1 - got;
			memcpy(head + got, buf, (size_t)n < room ? (size_t)n : room);
		}
		got += (size_t)n;
	}
	close(sv[0]);
	if (got && strncmp(head, "HTTP/1.", got < 7 ? got : 7) != 0)
		abort();
	return 0;
}
