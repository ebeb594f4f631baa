/* Relaying the caller's terminal to a terminal of the box's own (a pts of
 * the box's private devpts), so the box never holds the caller's terminal:
 * no TIOCSTI into the host shell, job control that works inside. The
 * caller's terminal is in raw mode while relaying and restored after. */
#ifndef CLAWBOX_PTY_H
#define CLAWBOX_PTY_H
#include "util/common.h"

#include <poll.h>
#include <termios.h>

struct pty_relay {
	int master; /* -1 until started, and after the box side closed */
	bool stdin_open;
	bool raw; /* the caller's terminal was put in raw mode */
	struct termios saved;
};

void pty_relay_init(struct pty_relay *r);
/* Take ownership of master; copy the caller's window size; go raw. */
void pty_relay_start(struct pty_relay *r, int master);
bool pty_relay_active(const struct pty_relay *r);
/* Fill up to 2 pollfds (stdin, master); returns how many. */
nfds_t pty_relay_pollfds(struct pty_relay *r, struct pollfd *p);
/* Move bytes for the pollfds filled by the last pty_relay_pollfds(). */
void pty_relay_io(struct pty_relay *r, const struct pollfd *p, nfds_t n);
/* The caller's window changed size. */
void pty_relay_resize(struct pty_relay *r);
/* Restore the caller's terminal and close the master. */
void pty_relay_finish(struct pty_relay *r);

#endif
