/* Relaying the caller's terminal to a terminal of the box's own (a pts of
 * the box's private devpts), so the box never holds the caller's terminal:
 * no TIOCSTI into the host shell, job control that works inside. The
 * caller's terminal is in raw mode while relaying and restored after.
 * Job control outside: input is read from the caller's terminal only while
 * clawbox is in its foreground process group (a box started with '&' gets
 * nothing the user types until 'fg'), and the terminal's modes are touched
 * only then; the foreground is checked again on SIGCONT (what 'fg' and
 * 'bg' send) and every PTY_BACKGROUND_RECHECK_MS while in the background. */
#ifndef CLAWBOX_PTY_H
#define CLAWBOX_PTY_H
#include "util/common.h"

#include <poll.h>
#include <stdbool.h>
#include <termios.h>

#include "secrets/secrets.h"

#define PTY_BACKGROUND_RECHECK_MS 500

struct pty_relay {
	int master; /* -1 until started, and after the box side closed */
	int in;     /* the caller's terminal to read (0), or -1 */
	int out;    /* where the box's terminal output goes (1, 2 or 0) */
	int tty;    /* a caller's fd that is the terminal (for its size) */
	bool stdin_open;
	bool foreground; /* in the terminal's foreground process group */
	bool raw;        /* the caller's terminal was put in raw mode */
	bool saved_ok;
	struct termios saved;
	struct secrets_stream *redact; /* what the box prints goes through it */
	bool failed;                   /* redaction failed: nothing more is shown */
};

/* redact: the secrets to hide in what the box prints (NULL: none). */
void pty_relay_init(struct pty_relay *r, const struct secrets *redact);
/* Take ownership of master; tty_fds: the caller's standard fds that are
 * its terminal (bits 0-2): input from 0 when it is one, output to the
 * first of 1, 2 that is one (else 0). Copies the window size; goes raw
 * when reading and in the foreground. */
void pty_relay_start(struct pty_relay *r, int master, unsigned tty_fds);
/* clawbox was continued (SIGCONT): in the foreground now or not. */
void pty_relay_resume(struct pty_relay *r);
bool pty_relay_active(const struct pty_relay *r);
/* Fill up to 2 pollfds (stdin, master); returns how many. */
nfds_t pty_relay_pollfds(struct pty_relay *r, struct pollfd *p);
/* Move bytes for the pollfds filled by the last pty_relay_pollfds(). */
void pty_relay_io(struct pty_relay *r, const struct pollfd *p, nfds_t n);
/* Milliseconds until bytes held back by the redaction are to be shown
 * anyway or the foreground is to be checked again, or -1 (nothing to do
 * then); and doing it (call on that timeout). */
int pty_relay_timeout(const struct pty_relay *r);
void pty_relay_tick(struct pty_relay *r);
/* The caller's window changed size. */
void pty_relay_resize(struct pty_relay *r);
/* Restore the caller's terminal and close the master. */
void pty_relay_finish(struct pty_relay *r);

#endif
