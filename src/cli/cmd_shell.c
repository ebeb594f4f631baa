/* clawbox shell: an interactive shell inside a project's box. */
#include "util/common.h"

#include "cli/commands.h"
#include "cli/launch.h"

int cmd_shell(int argc, char **argv)
{
	struct launch_opts o = LAUNCH_OPTS_INIT;
	int r = launch_parse(argc, argv, true, &o);
	if (r < 0) {
		o.shell = true;
		r = launch_run(&o);
	}
	launch_opts_free(&o);
	return r;
}
