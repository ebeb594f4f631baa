/* Running a command in a box (clawbox run, clawbox shell): the command
 * layer that resolves the box, applies its policy, writes the audit trail
 * and turns the outcome into an exit status. */
#ifndef CLAWBOX_LAUNCH_H
#define CLAWBOX_LAUNCH_H
#include "util/common.h"

#include "box/supervisor.h"
#include "state/box.h"
#include "cli/cli.h"
#include "cli/launch_agent.h"
#include "cli/launch_net.h"
#include "cli/launch_mounts.h"

struct launch_opts {
	struct box_opts box;
	enum box_mode mode;
	bool mode_given;
	bool shell;
	uint64_t memory, pids, nofile, tmp_size;
	const char *deny[64];
	size_t ndeny;
	struct net_opts net;
	struct agent_opts agent; /* --agent, --explain, --setenv */

	char **argv; /* the command (NULL-terminated); unused for a shell */
	/* Secrets: -e values while parsing, every source once launch_run() has
	 * loaded them (owned; freed by launch_opts_free). */
	struct secrets *secrets;
	const char *secrets_file;   /* --secrets FILE */
	char config_dir[PATH_MAX];  /* --config DIR, canonical; "" when not given */
	char config_path[PATH_MAX]; /* where the box sees it */
	bool strict;                /* --strict */
	bool no_watch;              /* --no-watch: no fs.* events (writewatch) */

	/* --mount, --vault, --no-mounts (src/cli/launch_mounts.h); NULL: none */
	struct launch_mounts *mounts;
	/* clawbox up (src/cli/cmd_up.c): the box as a service; argv may be
	 * empty. Once it serves, ready_fd gets 'R', and msg_fd (where
	 * clawbox's messages went until then) stderr again; both are closed. */
	bool up;
	enum supervisor_restart restart;
	const char *health; /* --health URL (src/net/health.h), or NULL */
	int ready_fd, msg_fd;
	int log_fd; /* clawbox up: the read end of its stdout+stderr (cmdlog), or -1 */
};

#define LAUNCH_OPTS_INIT                                                            \
	{                                                                           \
		.mode = BOX_MODE_SECURE, .nofile = 65536, .tmp_size = 512ULL << 20, \
		.ready_fd = -1, .msg_fd = -1, .log_fd = -1                          \
	}

/* A usage error of run's options (shell's, up's): msg, then where --help
 * is. Returns EXIT_SETUP. */
_printf_(1, 2) int launch_usage_error(const char *fmt, ...);

/* Parse run/shell options into o. Returns -1 to go on, or the exit status
 * to end with (0 after --help, 125 after a usage error, already reported). */
int launch_parse(int argc, char **argv, bool shell, struct launch_opts *o);

/* Run; returns clawbox's exit status. */
int launch_run(const struct launch_opts *o);

/* Wipe and free what parsing and running held (the secrets); stop redacting
 * clawbox's messages. */
void launch_opts_free(struct launch_opts *o);

#endif
