/* Agent profiles: what a known agent (Claude Code, Codex, OpenClaw, ...)
 * needs in a box, as data (docs/AGENTS.md): environment defaults, domains
 * to allow, files it expects in the box home, state directories.
 *
 * A profile is a small TOML file. The built-in ones (agents/NAME.toml in the
 * source tree) are compiled into the binary; a file NAME.toml in the box's
 * agents/ directory replaces the built-in profile of that name for that box
 * (replaces, never merges: what the file says is the whole profile).
 *
 * Nothing here prints, touches the box or the network: the command layer
 * (src/cli/launch_agent.c) applies a profile. Every value is bounded
 * (AGENT_*_MAX) and every error names the file and the line. */
#ifndef CLAWBOX_AGENT_PROFILE_H
#define CLAWBOX_AGENT_PROFILE_H
#include "util/common.h"

#include "util/error.h"

#define AGENT_NAME_MAX    32          /* a profile's name: [a-z0-9_-] */
#define AGENT_FILE_MAX    (256 << 10) /* bytes of a profile file */
#define AGENT_ITEMS_MAX   64          /* entries of each list */
#define AGENT_VALUE_MAX   (32 << 10)  /* an env value, a string */
#define AGENT_CONTENT_MAX (64 << 10)  /* a seeded file's content */
#define AGENT_PATH_MAX    255         /* a path beneath the box home */
#define AGENT_DIR         "agents"    /* in the box's state dir */

/* One entry of a list: env (name, value: "{config}" at its start stands
 * for where --config shows its DIR; only_with_config: set only when the run
 * has --config), allow (name: the domain), file (name: the path beneath the
 * box home, value: its content, mode), state (name: the path). why may be
 * NULL. line: where the entry is in file. */
struct agent_item {
	char *name;
	char *value;
	char *why;
	unsigned mode;
	unsigned line;
	bool only_with_config;
};

struct agent_list {
	struct agent_item *v;
	size_t n;
};

struct agent_profile {
	char *name;        /* "claude" */
	char *file;        /* where it was read from: a path, or "built-in agents/NAME.toml" */
	char *description; /* may be NULL */
	char **commands;   /* command names (basenames) that pick it; NULL-terminated */
	char **packages;   /* package names (npx X, uvx X) that pick it; NULL-terminated */
	struct agent_list env, allow, files, state;
};

/* Parse a profile named name from data[0..len) (file names it in errors).
 * 0 and *ret_profile (free with agent_profile_free), or -EINVAL with err
 * holding "file:line: message" for a TOML error, an unknown key, a wrong
 * type, an invalid variable name, path or mode, a duplicate or a list over
 * AGENT_ITEMS_MAX; -E2BIG past AGENT_FILE_MAX; -ENOMEM. */
int agent_profile_parse(const char *name, const char *data, size_t len, const char *file,
			struct agent_profile **ret_profile, struct error *err);

struct agent_profile *agent_profile_free(struct agent_profile *p);

/* Whether name can name a profile: 1..AGENT_NAME_MAX of [a-z0-9_-],
 * starting with a letter or digit. */
bool agent_name_valid(const char *name);

/* Whether path is a normalized relative path (no "", ".", "..", "//",
 * leading or trailing '/'), at most AGENT_PATH_MAX bytes of printable
 * ASCII. */
bool agent_path_valid(const char *path);

/* The i-th built-in profile's name in name order, NULL past the last. */
const char *agent_builtin_name(size_t i);

/* The profile called name for the box whose state dir is box_dir (NULL: no
 * box, the built-in one): box_dir/agents/NAME.toml when it exists (it
 * replaces the built-in one), else the built-in. 0 and *ret_profile;
 * -ENOENT when there is neither; -EINVAL (err: file:line) for a bad file;
 * -errno when the box's file cannot be read (err says which). */
int agent_profile_load(const char *box_dir, const char *name, struct agent_profile **ret_profile,
		       struct error *err);

/* Every profile a box can pick: the built-in ones, each replaced by the
 * box's own file of that name, and the box's other files
 * box_dir/agents/NAME.toml (box_dir may be NULL: built-in only), in name
 * order. 0 with *ret_v (free with agent_profiles_free) and *ret_n, or what
 * agent_profile_load() returns for the first that fails. */
int agent_profiles_load_all(const char *box_dir, struct agent_profile ***ret_v, size_t *ret_n,
			    struct error *err);
void agent_profiles_free(struct agent_profile **v, size_t n);

/* The profile of v[0..n) that argv picks: the first that lists argv[0]'s
 * basename in commands, or, for a package runner (npx, bunx, pnpx, uvx,
 * pipx run, pnpm dlx, npm exec, yarn dlx, bun x), its first argument that is not an option,
 * by package name (a version "@1.2" cut off) or command name. Returns its
 * index, or -1: an interpreter (node, python), a script path or an unknown
 * name picks nothing. */
ssize_t agent_pick(char *const *argv, struct agent_profile *const *v, size_t n);

#endif
