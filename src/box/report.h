/* The box init reports to the supervisor over a pipe with fixed-size records
 * (each write is atomic: sizeof(struct report) <= PIPE_BUF). The supervisor
 * hands them up (src/box/supervisor.h); the command layer turns them into
 * messages and exit codes; the init never prints. */
#ifndef CLAWBOX_REPORT_H
#define CLAWBOX_REPORT_H
#include "util/common.h"
#include "util/error.h"

#include <limits.h>

enum report_kind {
	REPORT_WARN = 1,  /* a protection could not be applied: say so, go on */
	REPORT_FAIL,      /* setup failed: exit 125 */
	REPORT_EXEC_FAIL, /* the command could not be executed: 126/127 */
	REPORT_EXIT = 5,  /* the command started and ended: value = wait status */
};

struct report {
	int32_t kind;
	int32_t value;      /* REPORT_EXIT: the command's wait status */
	struct error error; /* what went wrong (code 0 when nothing did); for
			     * REPORT_EXEC_FAIL where is the command */
};

_Static_assert(sizeof(struct report) <= PIPE_BUF, "a report is one atomic write");

/* Write one record of kind and value, with a copy of e (NULL: no error), to
 * fd. Async-signal-safe (no allocation, no formatting). */
void report_send(int fd, int kind, int value, const struct error *e);

/* Read one record from fd into *ret. Returns 1, 0 at the end of the pipe,
 * or -errno: -EINTR (try again), -EBADMSG for a record that is not whole or
 * whose strings are not terminated (*ret is then left alone). */
int report_recv(int fd, struct report *ret);

#endif
