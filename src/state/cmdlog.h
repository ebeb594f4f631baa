/* The command log of an up box: what its long-lived command writes to
 * stdout and stderr, kept in $BOX/logs/cmd.log (0600, the dir 0700), read
 * by `clawbox logs`.
 *
 * A thread of its own reads a pipe, passes the bytes through the secrets'
 * stream redactor (src/secrets/secrets.h: a value split between two reads
 * is still caught) and appends them to cmd.log. At max_size the log is
 * rotated: cmd.log -> cmd.log.1 -> ... -> cmd.log.KEEP (the oldest goes).
 * A rotation waits for the end of the line being written (at most
 * CMDLOG_LINE_SLACK bytes more), so each file begins with a whole line;
 * a longer line is cut there. The host disk a box's log takes is bounded:
 * (keep + 1) * (max_size + CMDLOG_LINE_SLACK).
 *
 * The writer never follows a symlink (the dir and the files are opened
 * beneath the box dir's fd with O_NOFOLLOW) and never blocks the command
 * longer than a write to a local file takes; when it cannot write (disk
 * full), what it read is dropped and counted. Modules never print. */
#ifndef CLAWBOX_CMDLOG_H
#define CLAWBOX_CMDLOG_H
#include "util/common.h"
#include "util/error.h"

#define CMDLOG_DIR        "logs"
#define CMDLOG_FILE       "cmd.log"
#define CMDLOG_MAX_SIZE   (1024 * 1024) /* default size of a file before rotation */
#define CMDLOG_KEEP       3             /* default rotated files kept: cmd.log.1..3 */
#define CMDLOG_KEEP_MAX   9
#define CMDLOG_LINE_SLACK (16 * 1024) /* a line's end waits this much at most */

struct cmdlog;
struct secrets;

struct cmdlog_opts {
	uint64_t max_size; /* 0: CMDLOG_MAX_SIZE */
	unsigned keep;     /* 0: CMDLOG_KEEP; at most CMDLOG_KEEP_MAX */
};

/* Start the writer: read_fd (owned from now on, even on failure: closed by
 * cmdlog_stop) is read until its end or cmdlog_stop. box_dir/logs is made
 * when missing. redact (may be NULL: nothing to redact; borrowed: it must
 * outlive the writer) is the set whose values never reach the file. */
int cmdlog_start(int read_fd, const char *box_dir, const struct secrets *redact,
		 struct cmdlog **ret, struct error *err);
/* The same with opts (NULL: the defaults). */
int cmdlog_start_opts(int read_fd, const char *box_dir, const struct secrets *redact,
		      const struct cmdlog_opts *opts, struct cmdlog **ret, struct error *err);

/* Wait for the end of the pipe (every writer of it closed), write what the
 * redactor holds, stop the thread and free c. When writers may remain
 * (a restarted command's pipe kept open), use cmdlog_stop. Accepts NULL;
 * returns NULL. */
struct cmdlog *cmdlog_finish(struct cmdlog *c);

/* Write what is readable now and what the redactor holds, without
 * waiting for the pipe's end; stop the thread and free c. Accepts NULL;
 * returns NULL. */
struct cmdlog *cmdlog_stop(struct cmdlog *c);

/* Bytes read and bytes dropped (not written) so far. */
void cmdlog_counts(const struct cmdlog *c, uint64_t *ret_read, uint64_t *ret_dropped);

#endif
