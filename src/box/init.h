/* The box's init: pid 1 of the box's pid namespace, cloned by the
 * supervisor (box/supervisor.c) into the box's namespaces. */
#ifndef CLAWBOX_INIT_H
#define CLAWBOX_INIT_H
#include "util/common.h"

#include "box/supervisor.h"

/* The init's side of supervisor_start(): build the view, confine, run the
 * command of s, report to report_fd; go_fd brings the go, the masks and the
 * environment, pty_fd takes the fds the init hands over; ctl_fd (a service
 * only, else -1) carries the control messages (src/box/initsvc.c). Never
 * returns. */
_noreturn_ void init_main(const struct supervisor_spec *s, int report_fd, int go_fd, int pty_fd,
			  int ctl_fd);

#endif
