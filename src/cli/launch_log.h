/* An up box's command log (src/state/cmdlog.h) as the command layer
 * starts it: the service's stdout and stderr are a pipe whose read end
 * the writer takes once the box's known values are at hand. */
#ifndef CLAWBOX_LAUNCH_LOG_H
#define CLAWBOX_LAUNCH_LOG_H
#include "util/common.h"

#include "state/box.h"

struct cmdlog;
struct secrets;

/* Start the writer on read_fd (owned) into b's logs/cmd.log, redacting
 * known (borrowed: it must outlive the writer). When it cannot start
 * (said as a warning), the log file itself becomes stdout and stderr, as
 * the command's output must go somewhere: NULL then. */
struct cmdlog *launch_cmdlog_start(int read_fd, const struct box *b, const struct secrets *known);

#endif
