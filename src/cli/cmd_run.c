/* clawbox run: run a command inside a project's box. */
#include "util/common.h"

#include "cli/commands.h"
#include "cli/launch.h"

int cmd_run(int argc, char **argv)
{
	struct launch_opts o = LAUNCH_OPTS_INIT;
	int r = launch_parse(argc, argv, false, &o);
	if (r < 0)
		r = launch_run(&o);
	launch_opts_free(&o);
	return r;
}
