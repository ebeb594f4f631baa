#include "util/common.h"

#include "box/pty.h"
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
	r->in = r->tty = -1;
	r->out = STDOUT_FILENO;
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
		fs_write_all(r->out, out, k);
}

int pty_relay_timeout(const struct pty_relay *r)
{
	int t = r->redact ? secrets_stream_flush_in(r->redact) : -1;
	if (r->master >= 0 && r->stdin_open && !r->foreground &&
	    (t < 0 || t > PTY_BACKGROUND_RECHECK_MS))
		t = PTY_BACKGROUND_RECHECK_MS;
	return t;
}

/* Are we in the foreground process group of the terminal we read? Not
 * when it is not our controlling terminal at all (tcgetpgrp fails). */
static bool in_foreground(const struct pty_relay *r)
{
	pid_t fg = tcgetpgrp(r->in);
	return fg > 0 && fg == getpgrp();
}

/* Check the foreground; on entering it, put the terminal in raw mode (its
 * modes saved the first time). Outside it, the modes are not ours: the
 * shell restores its own when it takes the terminal back. */
static void check_foreground(struct pty_relay *r)
{
	if (r->in < 0 || !r->stdin_open)
		return;
	bool fg = in_foreground(r);
	if (fg && !r->foreground) {
		struct termios raw;
		if (!r->saved_ok && tcgetattr(r->in, &r->saved) == 0)
			r->saved_ok = true;
		raw = r->saved;
		cfmakeraw(&raw);
		r->raw = r->saved_ok && tcsetattr(r->in, TCSANOW, &raw) == 0;
	} else if (!fg) {
		r->raw = false;
	}
	r->foreground = fg;
}

void pty_relay_tick(struct pty_relay *r)
{
	const char *out;
	size_t k;
	check_foreground(r);
	if (!r->redact || !secrets_stream_waiting(r->redact) || r->failed)
		return;
	int e = secrets_stream_flush(r->redact, &out, &k);
	if (e < 0)
		redact_failed(r, -e);
	else
		fs_write_all(r->out, out, k);
}

void pty_relay_resize(struct pty_relay *r)
{
	struct winsize ws;
	if (r->master >= 0 && r->tty >= 0 && ioctl(r->tty, TIOCGWINSZ, &ws) == 0)
		ioctl(r->master, TIOCSWINSZ, &ws);
}

void pty_relay_resume(struct pty_relay *r)
{
	if (r->master < 0)
		return;
	r->foreground = false; /* re-apply raw mode if we are in front again */
	check_foreground(r);
	pty_relay_resize(r);
}

void pty_relay_start(struct pty_relay *r, int master, unsigned tty_fds)
{
	r->master = master;
	r->in = tty_fds & 1 ? STDIN_FILENO : -1;
	r->out = tty_fds & 2 ? STDOUT_FILENO : tty_fds & 4 ? STDERR_FILENO : STDIN_FILENO;
	r->tty = r->in >= 0 ? r->in : r->out;
	r->stdin_open = r->in >= 0;
	pty_relay_resize(r);
	check_foreground(r);
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
	if (r->stdin_open && r->foreground)
		p[n++] = (struct pollfd){ .fd = r->in, .events = POLLIN };
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
		} else if (p[i].fd == r->in) {
			/* In the background since the poll: a read would stop us
			 * (SIGTTIN); wait for the foreground instead. */
			if (!in_foreground(r)) {
				r->foreground = false;
				continue;
			}
			ssize_t k = read(r->in, buf, sizeof(buf));
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
	/* Only in the foreground: from the background the modes are the
	 * shell's, and tcsetattr would stop us (SIGTTOU). */
	if (r->raw && in_foreground(r))
		tcsetattr(r->in, TCSADRAIN, &r->saved);
	r->raw = false;
	if (r->master >= 0)
		close(r->master);
	r->master = -1;
}
