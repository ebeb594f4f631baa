/* Relaying the caller's terminal to a terminal of the box's own (a pts of
 * the box's private devpts), so the box never holds the caller's terminal:
 * no TIOCSTI into the host shell, job control that works inside. The
 * caller's terminal is in raw mode while relaying and restored after. */
#ifndef CLAWBOX_PTY_H
#define CLAWBOX_PTY_H
#include "util/common.h"

#include <poll.h>
#include <stdbool.h>
#include <termios.h>

#include "secrets.h"

struct pty_relay {
	int master; /* -1 until started, and after the box side closed */
	bool stdin_open;
	bool raw; /* the caller's terminal was put in raw mode */
	struct termios saved;
	struct secrets_stream *redact; /* what the box prints goes through it */
	bool failed;                   /* redaction failed: nothing more is shown */
};

/* redact: the secrets to hide in what the box prints (NULL: none). */
void pty_relay_init(struct pty_relay *r, const struct secrets *redact);
/* Take ownership of master; copy the caller's window size; go raw. */
void pty_relay_start(struct pty_relay *r, int master);
bool pty_relay_active(const struct pty_relay *r);
/* Fill up to 2 pollfds (stdin, master); returns how many. */
nfds_t pty_relay_pollfds(struct pty_relay *r, struct pollfd *p);
/* Move bytes for the pollfds filled by the last pty_relay_pollfds(). */
void pty_relay_io(struct pty_relay *r, const struct pollfd *p, nfds_t n);
/* Milliseconds until bytes held back by the redaction are to be shown
 * anyway, or -1 (none, or they wait for more output); and showing them
 * (call on that timeout). */
int pty_relay_timeout(const struct pty_relay *r);
void pty_relay_tick(struct pty_relay *r);
/* The caller's window changed size. */
void pty_relay_resize(struct pty_relay *r);
/* Restore the caller's terminal and close the master. */
void pty_relay_finish(struct pty_relay *r);

#endif
