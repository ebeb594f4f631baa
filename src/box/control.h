/* The control socket of an up box: $BOX/control.sock, served by a thread
 * of the supervisor. Clients (src/ctl/ctl.c) of the user's own uid (or
 * root) connect; each connection carries one request, or one exec and its
 * signals (src/box/ctlmsg.h). The thread forwards them to the box's init
 * and routes the answers back; a connection that goes away takes its exec
 * with it (killed). Every exec and its end are audit events. */
#ifndef CLAWBOX_CONTROL_H
#define CLAWBOX_CONTROL_H
#include "util/common.h"
#include "util/error.h"

#define CONTROL_SOCKET "control.sock"

struct audit;
struct control;

struct control_spec {
	int dirfd;           /* the box dir: where CONTROL_SOCKET is bound */
	int init_sock;       /* the init's control channel (the thread's from now on) */
	struct audit *audit; /* the thread's own handle of the box's log (may be NULL) */
	/* The box serves (the init said so): once, from the control thread. */
	void (*ready)(void *ctx);
	void *ctx;
};

/* Bind the socket (replacing a stale one: the caller holds the box's lock)
 * and start the thread. 0 with *ret, or -errno with *err. */
int control_start(const struct control_spec *cs, struct control **ret, struct error *err);

/* The workspace as the box sees it (an O_PATH fd, taken), for the
 * clients' CTLMSG_WORKSPACE. Any thread. */
void control_set_workspace(struct control *c, int fd);

/* Ask the box to go down (as a client's CTLMSG_DOWN would). Any thread. */
int control_down(struct control *c, int64_t grace_ms);

/* Stop the thread, remove the socket, free c (NULL: no-op). Connections
 * that asked the box to go down stay open until the process exits, so
 * that their end says the box is gone. */
void control_stop(struct control *c);

#endif
