/* clawbox exec: run a command in an up box. */
#include "util/common.h"

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/exec_client.h"
#include "ctl/ctl.h"
#include "util/log.h"
#include "util/strv.h"

#include <getopt.h>

static const char usage[] =
    "usage: clawbox exec [options] [--] CMD [ARG...]\n\n"
    "Run CMD in a box that is up ('clawbox up'): in its own pid, mount and\n"
    "network view, or in a session of it (--session), confined as 'clawbox run'\n"
    "confines. A terminal is relayed through one of the box's own; signals to\n"
    "clawbox go to CMD; CMD is killed when clawbox goes away.\n\n"
    "options:\n" BOX_OPTS_HELP
    "  -s, --session NAME   run in session NAME ('clawbox session create NAME')\n"
    "  -t, --timeout SECS   kill CMD after SECS seconds (exit status 124)\n"
    "  -e, --env NAME[=VALUE]  set NAME for CMD: VALUE, or your own $NAME\n"
    "                       (a VALUE on the command line is visible to other\n"
    "                       processes: prefer NAME alone); repeatable\n"
    "  -w, --workdir DIR    CMD's working directory in the box (default: the\n"
    "                       box's, the project's)\n"
    "  -h, --help           show this help\n\n"
    "exit status: CMD's own; 128+N when killed by signal N; 124 at the timeout;\n"
    "125 when the box is not up or clawbox failed; 126 when CMD cannot be\n"
    "executed; 127 when CMD is not found.\n";

/* -e NAME=VALUE or NAME (the caller's $NAME) into env. */
static int add_env(struct strv *env, const char *arg)
{
	size_t len = strcspn(arg, "=");
	if (len == 0) {
		log_error("invalid --env '%s': NAME[=VALUE]", arg);
		return -EINVAL;
	}
	if (arg[len] == '=')
		return strv_push(env, arg);
	const char *v = secure_getenv(arg);
	if (!v) {
		log_error("--env %s: $%s is not set", arg, arg);
		return -ENOENT;
	}
	_cleanup_free_ char *s = NULL;
	if (asprintf(&s, "%s=%s", arg, v) < 0)
		return -ENOMEM;
	return strv_push(env, s);
}

struct exec_args {
	struct box_opts box;
	struct exec_client_opts x;
	struct strv env;
};

/* Returns -1 to go on, or the exit status. */
static int parse(int argc, char **argv, struct exec_args *a)
{
	static const struct option opts[] = {
		{ "box", required_argument, NULL, 'b' },
		{ "project", required_argument, NULL, 'p' },
		{ "session", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "env", required_argument, NULL, 'e' },
		{ "workdir", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+b:p:s:t:e:w:h", opts, NULL)) != -1) {
		switch (c) {
		case 'b': a->box.box = optarg; break;
		case 'p': a->box.project = optarg; break;
		case 's':
			if (!ctl_session_name_valid(optarg)) {
				log_error("invalid session name '%s': 1 to 64 of A-Z a-z 0-9 . _ -",
					  optarg);
				return EXIT_SETUP;
			}
			a->x.session = optarg;
			break;
		case 't':
			if (cli_parse_seconds("--timeout", optarg, &a->x.timeout_ms) < 0)
				return EXIT_SETUP;
			break;
		case 'e':
			if (add_env(&a->env, optarg) < 0)
				return EXIT_SETUP;
			break;
		case 'w': a->x.cwd = optarg; break;
		case 'h': fputs(usage, stdout); return 0;
		default: cli_bad_option("exec", argv); return EXIT_SETUP;
		}
	}
	if (optind >= argc) {
		log_error("no command given (see 'clawbox exec --help')");
		return EXIT_SETUP;
	}
	a->x.argv = argv + optind;
	a->x.env = a->env.v;
	return -1;
}

int cmd_exec(int argc, char **argv)
{
	struct exec_args a = { 0 };
	struct box b;
	bool created;
	int r = parse(argc, argv, &a);
	if (r < 0 && cli_box(&a.box, false, BOX_MODE_SECURE, false, &b, &created) < 0)
		r = EXIT_SETUP;
	if (r < 0)
		r = exec_client_run(&b, &a.x);
	strv_free(&a.env);
	return r;
}
