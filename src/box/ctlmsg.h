/* The messages of an up box's control: between a client (src/ctl/ctl.c)
 * and the supervisor (src/box/control.c), the supervisor and the box's
 * init, the init and its leaders (src/box/initsvc.c, src/box/leader.c).
 * Each is one SOCK_SEQPACKET datagram: a fixed head, then the payload (len
 * bytes: NUL-terminated strings, each a one-byte tag and its value), with
 * up to CTLMSG_FDS fds (SCM_RIGHTS). The id names the exec or request a
 * message belongs to: the supervisor gives each client connection one, and
 * every reply carries it back. */
#ifndef CLAWBOX_CTLMSG_H
#define CLAWBOX_CTLMSG_H
#include "util/common.h"
#include "util/error.h"

#define CTLMSG_MAX (128u << 10) /* the largest message, head included */
#define CTLMSG_FDS 3

enum ctlmsg_type {
	/* a client's requests (value, strings as said) */
	CTLMSG_EXEC = 1,    /* value: pty_fds; 'a' argv..., 'e' env..., 's' session, 'c' cwd;
			     * fds: the standard fds not in pty_fds, in order */
	CTLMSG_SIGNAL,      /* value: the signal for this connection's exec */
	CTLMSG_SESSION_NEW, /* value: CTLMSG_NET; 'n' name, 'e' env..., 'i' idle ms, 't' time
			     * ms, 'P' pids, 'm' memory bytes (the last two: the supervisor's) */
	CTLMSG_SESSION_DEL, /* 'n' name */
	CTLMSG_SESSION_LIST,
	CTLMSG_STATUS,
	CTLMSG_DOWN, /* value: grace ms */
	CTLMSG_WORKSPACE,
	/* the supervisor to the init: the connection of exec id is gone */
	CTLMSG_HANGUP = 32,
	/* replies and events */
	CTLMSG_OK = 64, /* value: a number; strings as the request says */
	CTLMSG_ERR,     /* a struct error in the payload */
	CTLMSG_PTY,     /* fd: the master of the exec's terminal */
	CTLMSG_STARTED, /* value: the exec's pid */
	CTLMSG_EXIT,    /* value: the exec's wait status */
	CTLMSG_READY,   /* the init to the supervisor: the box serves */
	CTLMSG_CMD,     /* the init to the supervisor: value: the long-lived command's
			  * wait status, or -pid when it (re)started */
	CTLMSG_GONE,    /* the init to the supervisor: session 'n' ended */
};

#define CTLMSG_NET 1 /* CTLMSG_SESSION_NEW: the session has the box's network */

struct ctlmsg_head {
	uint32_t type;
	uint32_t id;
	int64_t value;
	uint32_t len; /* payload bytes after the head */
	uint32_t pad;
};

/* A message as received: the head, the payload (in the caller's buffer),
 * and the fds (the receiver's to close). */
struct ctlmsg {
	struct ctlmsg_head h;
	const char *payload;
	int fds[CTLMSG_FDS];
	size_t nfds;
};

/* Send one message: head fields, the payload of n strings v[0..n) (each
 * sent with its NUL; the tag is the string's first byte), and nfds fds.
 * Returns 0 or -errno (-E2BIG over CTLMSG_MAX, -EPIPE: the peer is gone). */
int ctlmsg_send(int sock, uint32_t type, uint32_t id, int64_t value, char *const *v, size_t n,
		const int *fds, size_t nfds);

/* Send m as it came (head, payload, fds) to another socket. */
int ctlmsg_forward(int sock, const struct ctlmsg *m);

/* Send a CTLMSG_ERR carrying e. */
int ctlmsg_send_error(int sock, uint32_t id, const struct error *e);

/* Receive one message into buf (CTLMSG_MAX bytes), m->payload pointing
 * into it. 1, 0 at the end of the stream, or -errno: -EBADMSG for a
 * message that is cut, longer than it says, or whose payload does not end
 * in a NUL (its fds are closed then), -EINTR/-EAGAIN. */
int ctlmsg_recv(int sock, char *buf, struct ctlmsg *m);

/* Walk m's strings: *pos starts at 0; returns the next string (its tag is
 * s[0], its value s + 1), or NULL at the end. */
const char *ctlmsg_next(const struct ctlmsg *m, size_t *pos);

/* The first string of m tagged tag (its value), or NULL. */
const char *ctlmsg_get(const struct ctlmsg *m, char tag);

/* The error of a CTLMSG_ERR, its strings terminated. -EBADMSG if the
 * payload is not one. */
int ctlmsg_error(const struct ctlmsg *m, struct error *ret);

/* Close m's fds. */
void ctlmsg_close_fds(struct ctlmsg *m);

#endif
