/* clawbox: dispatch to one subcommand. */
#include "util/common.h"
#include "util/trace.h"

#include "cli/commands.h"
#include "util/log.h"
#include "cli/version.h"

static int cmd_version(int argc, char **argv)
{
	printf("clawbox %s\n", CLAWBOX_VERSION);
	return 0;
}

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "run", cmd_run, "run a command inside a project's box" },
	{ "shell", cmd_shell, "open an interactive shell inside a box" },
	{ "up", cmd_up, "start a box as a service (its command, execs, sessions)" },
	{ "exec", cmd_exec, "run a command in a box that is up" },
	{ "session", cmd_session, "create, list or delete the sessions of an up box" },
	{ "down", cmd_down, "stop a box that is up" },
	{ "status", cmd_status, "show a box: mode, project, pending changes" },
	{ "reset", cmd_reset, "discard every write held in a box's overlay" },
	{ "delete", cmd_delete, "delete a box and all of its state" },
	{ "list", cmd_list, "list boxes" },
	{ "audit", cmd_audit, "show or verify a box's audit log" },
	{ "logs", cmd_logs, "show (-f: follow) the command log of an up box" },
	{ "secrets", cmd_secrets, "list, set, unset or import a box's secrets" },
	{ "scan", cmd_scan, "scan files or stdin for secrets (gitleaks-compatible)" },
	{ "sync", cmd_sync, "bring a box's changes to the project, checked and atomic" },
	{ "mcp", cmd_mcp, "serve a box's tools to an MCP client on stdio" },
	{ "serve", cmd_serve, "serve the HTTP/JSON API and MCP for the boxes (docs/API.md)" },
	{ "version", cmd_version, "print the version" },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: clawbox <command> [options] [--] [args]\n\n"
		     "clawbox runs AI agents (or any command) against a project in a box:\n"
		     "the project is writable through an overlay, the host never changes,\n"
		     "and nothing leaves the box unchecked.\n\ncommands:\n");
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nrun 'clawbox <command> --help' for the options of each command.\n"
		     "environment: CLAWBOX_STATE_DIR (default /var/lib/clawbox as root,\n"
		     "$XDG_STATE_HOME/clawbox otherwise)\n");
}

/* Standard fds that are closed get /dev/null: otherwise the next file
 * clawbox opens (a lock, a log) would take number 0, 1 or 2 and be handed
 * on as one (to a box, to diff). */
static void standard_fds(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF && open("/dev/null", O_RDWR) < 0)
			return; /* it takes the lowest free number: fd */
}

int main(int argc, char **argv)
{
	standard_fds();
	trace_point("exec");
	if (argc < 2) {
		usage(stderr);
		return EXIT_SETUP;
	}
	const char *name = argv[1];
	if (STREQ(name, "--help") || STREQ(name, "-h") || STREQ(name, "help")) {
		usage(stdout);
		return 0;
	}
	if (STREQ(name, "--version"))
		return cmd_version(argc - 1, argv + 1);
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		if (STREQ(name, commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	log_error("unknown command '%s' (see 'clawbox --help')", name);
	return EXIT_SETUP;
}
