#include "util/common.h"

#include "pty.h"
#include "util/fs.h"

#include <sys/ioctl.h>

void pty_relay_init(struct pty_relay *r)
{
	memset(r, 0, sizeof(*r));
	r->master = -1;
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
	char buf[8192];
	for (nfds_t i = 0; i < n; i++) {
		if (!p[i].revents)
			continue;
		if (p[i].fd == r->master) {
			ssize_t k = read(r->master, buf, sizeof(buf));
			if (k > 0)
				fs_write_all(STDOUT_FILENO, buf, (size_t)k);
			else if (k == 0 || (errno != EINTR && errno != EAGAIN)) {
				/* EIO: every box-side fd of the terminal is closed. */
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
	if (r->raw)
		tcsetattr(STDIN_FILENO, TCSADRAIN, &r->saved);
	r->raw = false;
	if (r->master >= 0)
		close(r->master);
	r->master = -1;
}
