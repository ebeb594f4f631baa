/* clawbox list: the boxes in the state directory. */
#include "util/common.h"

#include "state/box.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "ctl/ctl.h"
#include "util/log.h"

#include <jansson.h>

static const char usage[] = "usage: clawbox list [--json]\n\n"
			    "List the boxes: name, mode, state (idle, running, or up: a service,\n"
			    "'clawbox up'), disk cap and project.\n\n"
			    "options:\n"
			    "      --json           a JSON array\n"
			    "  -h, --help           show this help\n";

static int print_one(const struct box *b, void *p)
{
	json_t *arr = p;
	pid_t holder = 0;
	bool running = box_in_use(b, &holder);
	struct ctl_status st;
	bool up = running && ctl_status(b, &st, NULL) == 0;
	if (arr)
		return json_array_append_new(
		    arr, json_pack("{s:s, s:s, s:s, s:b, s:b, s:o}", "box", b->name, "project",
				   b->project, "mode", box_mode_name(b->mode), "running", running,
				   "up", up, "disk",
				   b->disk ? json_integer((json_int_t)b->disk) : json_null()));
	char disk[32] = "-";
	if (b->disk)
		cli_human_size(b->disk, disk, sizeof(disk));
	printf("%-32s %-12s %-8s %-10s %s\n", b->name, box_mode_name(b->mode),
	       up        ? "up"
	       : running ? "running"
			 : "idle",
	       disk, b->project);
	return 0;
}

int cmd_list(int argc, char **argv)
{
	struct cli_simple o;
	int c = cli_parse_simple(argc, argv, "list", usage, CLI_JSON, &o);
	if (c >= 0)
		return c;
	char state[PATH_MAX];
	if (box_state_dir(state, sizeof(state)) < 0) {
		log_error(
		    "cannot find the state directory (set CLAWBOX_STATE_DIR to an absolute path)");
		return CLI_EXIT_ERROR;
	}
	json_t *arr = o.json ? json_array() : NULL;
	if (!o.json)
		printf("%-32s %-12s %-8s %-10s %s\n", "BOX", "MODE", "STATE", "DISK", "PROJECT");
	int r = box_foreach(state, print_one, arr);
	if (r < 0) {
		log_error("cannot list the boxes in '%s': %s", state, strerror(-r));
		json_decref(arr);
		return CLI_EXIT_ERROR;
	}
	if (arr) {
		json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(arr);
	}
	return 0;
}
