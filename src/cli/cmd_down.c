/* clawbox down: stop an up box. */
#include "util/common.h"

#include "cli/cli.h"
#include "cli/commands.h"
#include "ctl/ctl.h"
#include "util/log.h"

#include <getopt.h>

static const char usage[] =
    "usage: clawbox down [--box NAME | --project DIR] [--grace SECS]\n\n"
    "Stop a box that is up ('clawbox up'): its command and every process of it\n"
    "get SIGTERM, what is left after the grace period SIGKILL; returns once the\n"
    "box is gone (its overlay unmounted, its network gone). Its writes stay in\n"
    "the overlay ('clawbox status', 'clawbox sync').\n\n"
    "options:\n" BOX_OPTS_HELP
    "  -g, --grace SECS     how long the box's processes have to end (default 5)\n"
    "  -h, --help           show this help\n";

int cmd_down(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "box", required_argument, NULL, 'b' },
		{ "project", required_argument, NULL, 'p' },
		{ "grace", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct box_opts bo = { 0 };
	uint64_t grace = 5;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "b:p:g:h", opts, NULL)) != -1) {
		switch (c) {
		case 'b': bo.box = optarg; break;
		case 'p': bo.project = optarg; break;
		case 'g':
			if ((optarg[0] != '0' || optarg[1]) &&
			    (cli_parse_uint(optarg, &grace) < 0 || grace > 600)) {
				log_error("invalid --grace '%s': 0 to 600 seconds", optarg);
				return CLI_EXIT_USAGE;
			}
			if (optarg[0] == '0' && !optarg[1])
				grace = 0;
			break;
		case 'h': fputs(usage, stdout); return 0;
		default: return cli_bad_option("down", argv);
		}
	}
	if (optind < argc)
		return cli_bad_argument("down", argv[optind]);
	struct box b;
	bool created;
	struct error err = { 0 };
	char msg[ERROR_FORMAT_MAX];
	if (cli_box(&bo, false, BOX_MODE_SECURE, false, &b, &created) < 0)
		return CLI_EXIT_ERROR;
	int r = ctl_down(&b, (int64_t)grace * 1000, &err);
	if (r == -ENOTCONN) {
		log_info("box '%s' is not up", b.name);
		return 0;
	}
	if (r < 0) {
		log_error("%s", cli_error_text(&err, r, msg, sizeof(msg)));
		return CLI_EXIT_ERROR;
	}
	log_info("box '%s' is down", b.name);
	return 0;
}
