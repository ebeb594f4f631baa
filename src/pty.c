#include "util/common.h"

#include "pty.h"
#include "util/fs.h"

#include <sys/ioctl.h>

/* Redaction failed: show nothing more of the box's output (it may hold a
 * value), and say so once. */
static void redact_failed(struct pty_relay *r, int err)
{
	if (!r->failed) {
		static const char msg[] = "\r\nclawbox: cannot redact the box's output (";
		fs_write_all(STDERR_FILENO, msg, sizeof(msg) - 1);
		fs_write_all(STDERR_FILENO, strerror(err), strlen(strerror(err)));
		fs_write_all(STDERR_FILENO, "): it is no longer shown\r\n", 27);
	}
	r->failed = true;
}

void pty_relay_init(struct pty_relay *r, const struct secrets *redact)
{
	memset(r, 0, sizeof(*r));
	r->master = -1;
	int e = secrets_stream_new(redact, &r->redact);
	if (e < 0)
		redact_failed(r, -e);
}

/* Show n bytes the box printed (through the redaction). */
static void show(struct pty_relay *r, const char *p, size_t n)
{
	const char *out = p;
	size_t k = n;
	int e = 0;
	if (r->failed)
		return;
	if (r->redact)
		e = secrets_stream_feed(r->redact, p, n, &out, &k);
	if (e < 0)
		redact_failed(r, -e);
	else
		fs_write_all(STDOUT_FILENO, out, k);
}

int pty_relay_timeout(const struct pty_relay *r)
{
	return r->redact ? secrets_stream_flush_in(r->redact) : -1;
}

void pty_relay_tick(struct pty_relay *r)
{
	const char *out;
	size_t k;
	if (!r->redact || !secrets_stream_waiting(r->redact) || r->failed)
		return;
	int e = secrets_stream_flush(r->redact, &out, &k);
	if (e < 0)
		redact_failed(r, -e);
	else
		fs_write_all(STDOUT_FILENO, out, k);
}

void pty_relay_resize(struct pty_relay *r)
{
	struct winsize ws;
	if (r->master >= 0 && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
		ioctl(r->master, TIOCSWINSZ, &ws);
}

void pty_relay_start(struct pty_relay *r, int master)
{
	r->master = master;
	r->stdin_open = true;
	pty_relay_resize(r);
	if (tcgetattr(STDIN_FILENO, &r->saved) == 0) {
		struct termios raw = r->saved;
		cfmakeraw(&raw);
		if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
			r->raw = true;
	}
}

bool pty_relay_active(const struct pty_relay *r)
{
	return r->master >= 0;
}

nfds_t pty_relay_pollfds(struct pty_relay *r, struct pollfd *p)
{
	nfds_t n = 0;
	if (r->master < 0)
		return 0;
	p[n++] = (struct pollfd){ .fd = r->master, .events = POLLIN };
	if (r->stdin_open)
		p[n++] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
	return n;
}

void pty_relay_io(struct pty_relay *r, const struct pollfd *p, nfds_t n)
{
	char buf[SECRETS_STREAM_CHUNK];
	for (nfds_t i = 0; i < n; i++) {
		if (!p[i].revents)
			continue;
		if (p[i].fd == r->master) {
			ssize_t k = read(r->master, buf, sizeof(buf));
			if (k > 0) {
				show(r, buf, (size_t)k);
				explicit_bzero(buf, (size_t)k);
			} else if (k == 0 || (errno != EINTR && errno != EAGAIN)) {
				/* EIO: every box-side fd of the terminal is closed. */
				pty_relay_tick(r);
				close(r->master);
				r->master = -1;
				return;
			}
		} else if (p[i].fd == STDIN_FILENO) {
			ssize_t k = read(STDIN_FILENO, buf, sizeof(buf));
			if (k > 0)
				fs_write_all(r->master, buf, (size_t)k);
			else if (k == 0 || (errno != EINTR && errno != EAGAIN))
				r->stdin_open = false;
		}
	}
}

void pty_relay_finish(struct pty_relay *r)
{
	pty_relay_tick(r);
	r->redact = secrets_stream_free(r->redact);
	if (r->raw)
		tcsetattr(STDIN_FILENO, TCSADRAIN, &r->saved);
	r->raw = false;
	if (r->master >= 0)
		close(r->master);
	r->master = -1;
}
