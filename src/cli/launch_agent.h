/* The agent of a run (src/cli/launch.c): --agent, --explain, --setenv, the
 * box's env file, and the agent profile (src/agents/profile.h) the run
 * applies: its environment defaults, domains, files seeded in the box home
 * and state directories. Reports its own errors (command layer).
 *
 * The environment a box gets, lowest first: the profile's defaults, the
 * box's env file ($STATE/boxes/NAME/env), --setenv; a secret of the run
 * replaces a profile's default, and is an error beside an env file's or a
 * --setenv's value of the same name. None of them is a secret: they are
 * neither redacted nor remembered. */
#ifndef CLAWBOX_LAUNCH_AGENT_H
#define CLAWBOX_LAUNCH_AGENT_H
#include "util/common.h"

#include <jansson.h>

struct box;
struct launch_opts;
struct net_opts;
struct secrets;
struct strv;

#define AGENT_SETENV_MAX 64
#define AGENT_ENV_FILE   "env" /* in the box's state dir */

struct agent_opts {
	const char *agent; /* --agent NAME; "none": no profile; NULL: the command's */
	bool explain;      /* --explain */
	const char *setenv[AGENT_SETENV_MAX]; /* --setenv NAME=VALUE, checked */
	size_t nsetenv;
};

enum { AGENT_OPT_AGENT = 1100, AGENT_OPT_EXPLAIN, AGENT_OPT_SETENV };
/* clang-format off */
#define AGENT_LONG_OPTIONS \
	{ "agent", required_argument, NULL, AGENT_OPT_AGENT }, \
	{ "explain", no_argument, NULL, AGENT_OPT_EXPLAIN }, \
	{ "setenv", required_argument, NULL, AGENT_OPT_SETENV }
/* clang-format on */
#define AGENT_OPTS_HELP                                                                      \
	"      --agent NAME     apply agent profile NAME (docs/AGENTS.md): claude, codex,\n" \
	"                       openclaw, aider, gemini, or the box's own\n"                 \
	"                       $STATE/boxes/NAME/agents/NAME.toml; default: the one\n"      \
	"                       whose command CMD is (also 'npx PACKAGE'); none: no\n"       \
	"                       profile\n"                                                   \
	"      --explain        print what the profile sets (environment, domains,\n"        \
	"                       files, state) and why; start nothing\n"                      \
	"      --setenv NAME=VALUE  a setting that is not a secret, for CMD's\n"             \
	"                       environment (repeatable, never redacted; also NAME=VALUE\n"  \
	"                       lines in $STATE/boxes/NAME/env), over the profile's; a\n"    \
	"                       secret's name, *_PROXY, LD_* and clawbox's own are refused\n"

/* Handle option c (AGENT_OPT_*) with arg. 0, or EXIT_SETUP after a usage
 * error (launch_usage_error). */
int agent_opts_parse(struct agent_opts *o, int c, const char *arg);

/* What a run applies: the profile (or none), the settings. Opaque. */
struct launch_agent;

/* Resolve the agent of the run lo for box b (NULL: none yet): the profile
 * (--agent, or the one the command picks; a shell picks none), the env
 * file and --setenv, every name checked; the profile's domains added to a
 * copy of lo's network options (see launch_agent_net). 0, or -errno after
 * an error message ("file:line: ..." for a bad profile or env file). */
int launch_agent_prepare(const struct launch_opts *lo, const struct box *b,
			 struct launch_agent **ret);

/* The run's network options: net with the profile's domains allowed. */
const struct net_opts *launch_agent_net(const struct launch_agent *a);

/* `clawbox reset` (not --home): remove from the box home the paths its
 * profiles (every profile the box can pick) tie to the workspace, saying
 * each on stdout. 0, or -errno after a message. */
int launch_agent_reset(const struct box *b);

/* Seed the box home of b (the box not running): the profile's state
 * directories and its files that are absent; an existing file is never
 * written, a symlink on the way is refused. 0, or -errno after an error
 * message. */
int launch_agent_seed(const struct launch_agent *a, const struct box *b);

/* Append the settings to env ("NAME=VALUE" strings), checked against the
 * run's secrets: a profile default a secret names is left out (the secret
 * wins), an env file or --setenv value a secret names is an error. 0, or
 * -errno after an error message. */
int launch_agent_env(const struct launch_agent *a, const struct secrets *secrets, struct strv *env);

/* The run.start audit record's "agent" (profile, source, names set), or a
 * JSON null when there is none. */
json_t *launch_agent_json(const struct launch_agent *a);

struct launch_agent *launch_agent_free(struct launch_agent *a);
void launch_agent_freep(struct launch_agent **a);

/* clawbox run/shell/up --explain: print what the run would apply, start
 * nothing. Returns the exit status (0, or 125 after an error). */
int launch_agent_explain(const struct launch_opts *o);

#endif
