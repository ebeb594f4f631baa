/* clawbox delete: delete a box and all of its state. */
#include "util/common.h"

#include "cli/cli.h"
#include "cli/commands.h"
#include "util/log.h"

static const char usage[] =
    "usage: clawbox delete [--box NAME | --project DIR] [--yes]\n\n"
    "Delete the box: its overlay (every pending change), its home, its audit log\n"
    "and its settings. The project on the host is never touched. The box must\n"
    "not be running. Deleting is the only way to change a box's mode.\n\n"
    "options:\n" BOX_OPTS_HELP "  -y, --yes            do not ask for confirmation\n"
    "  -h, --help           show this help\n";

int cmd_delete(int argc, char **argv)
{
	struct cli_simple o;
	int c = cli_parse_simple(argc, argv, "delete", usage, CLI_BOX | CLI_YES, &o);
	if (c >= 0)
		return c;
	struct box b;
	_cleanup_close_ int lock = cli_lock_idle_box(&o.box, "deleting", &b);
	if (lock < 0)
		return CLI_EXIT_ERROR;
	if (!o.yes) {
		char q[256];
		snprintf(q, sizeof(q), "delete box '%s' with all its pending changes?", b.name);
		if (!cli_confirm(q)) {
			log_error("not deleted (use --yes to delete without asking)");
			return CLI_EXIT_ERROR;
		}
	}
	int r = box_remove(&b);
	if (r < 0) {
		log_error("cannot delete box '%s': %s", b.name, strerror(-r));
		return CLI_EXIT_ERROR;
	}
	printf("box '%s' deleted; the project '%s' was not touched\n", b.name, b.project);
	return 0;
}
