/* clawbox shell: an interactive shell inside a project's box. */
#include "util/common.h"

#include "cli/commands.h"
#include "cli/launch.h"

int cmd_shell(int argc, char **argv)
{
	struct runbox_opts o = RUNBOX_OPTS_INIT;
	int r = runbox_parse(argc, argv, true, &o);
	if (r < 0) {
		o.shell = true;
		r = runbox(&o);
	}
	runbox_opts_free(&o);
	return r;
}
