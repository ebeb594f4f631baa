/* An up box's command log: see launch_log.h. */
#include "util/common.h"

#include "cli/launch_log.h"
#include "state/cmdlog.h"
#include "util/fs.h"
#include "util/log.h"

/* The log file as stdout and stderr (unredacted, unrotated): better than
 * a pipe nobody reads. */
static void log_file_fallback(const struct box *b)
{
	char path[PATH_MAX];
	if (path_join(path, sizeof(path), b->dir, CMDLOG_DIR "/" CMDLOG_FILE) < 0)
		return;
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		log_warn("cannot write the command log of box '%s': %s", b->name, strerror(errno));
	close(fd);
}

struct cmdlog *launch_cmdlog_start(int read_fd, const struct box *b, const struct secrets *known)
{
	struct error err = { 0 };
	char msg[ERROR_FORMAT_MAX];
	struct cmdlog *c = NULL;
	int r = cmdlog_start(read_fd, b->dir, known, &c, &err);
	if (r == 0)
		return c;
	log_warn("the command log of box '%s' is neither redacted nor rotated: cannot %s", b->name,
		 error_format(&err, msg, sizeof(msg)));
	log_file_fallback(b);
	return NULL;
}
