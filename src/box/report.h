/* The box init reports to the supervisor over a pipe with fixed-size records
 * (each write is atomic: sizeof(struct report) < PIPE_BUF). The supervisor
 * turns them into messages and exit codes; the init never prints. */
#ifndef CLAWBOX_REPORT_H
#define CLAWBOX_REPORT_H
#include "util/common.h"

enum report_kind {
	REPORT_WARN = 1,  /* a protection could not be applied: say so, go on */
	REPORT_FAIL,      /* setup failed: exit 125 */
	REPORT_EXEC_FAIL, /* the command could not be executed: 126/127 */
	REPORT_EXIT = 5,  /* the command started and ended: value = wait status */
};

struct report {
	int32_t kind;
	int32_t err; /* errno, when relevant */
	int32_t value;
	char what[96];    /* what was being done: "mount the overlay" */
	char path[256];   /* the subject, may be empty */
	char detail[160]; /* extra text (e.g. the kernel's fs_context message) */
};

/* Fill and write one record to fd. Async-signal-safe (no allocation). */
void report_send(int fd, int kind, int err, int value, const char *what, const char *path,
		 const char *detail);

#endif
