/* clawbox run: run a command inside a project's box. */
#include "util/common.h"

#include "cli/commands.h"
#include "cli/launch.h"

int cmd_run(int argc, char **argv)
{
	struct runbox_opts o = RUNBOX_OPTS_INIT;
	int r = runbox_parse(argc, argv, false, &o);
	if (r < 0)
		r = runbox(&o);
	runbox_opts_free(&o);
	return r;
}
