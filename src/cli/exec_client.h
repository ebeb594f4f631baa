/* Running a command in an up box from the command line (clawbox exec, and
 * run/shell on a box that is up): the caller's standard fds handed in, a
 * terminal relayed through one of the box's, signals forwarded, the exit
 * status as clawbox run's. */
#ifndef CLAWBOX_EXEC_CLIENT_H
#define CLAWBOX_EXEC_CLIENT_H
#include "util/common.h"

#include "state/box.h"

/* Exit status of a command killed at its --timeout (as timeout(1)'s). */
#define EXEC_EXIT_TIMEOUT 124

struct exec_client_opts {
	char *const *argv;
	char *const *env;    /* NAME=VALUE over the box's (may be NULL) */
	const char *session; /* NULL: the box's own view */
	const char *cwd;     /* NULL: the box's working directory */
	int64_t timeout_ms;  /* 0: none */
};

/* Run o in b's up box; prints what went wrong; returns clawbox's exit
 * status (the command's, 128+N for signal N, 124 at the timeout, 125-127
 * as run). */
int exec_client_run(const struct box *b, const struct exec_client_opts *o);

#endif
