/* What a box may see: the paths always hidden from it (credentials, other
 * users' homes, sockets that reach the host's services, clawbox's own state)
 * and its environment. Policy only: src/box/rootfs.c applies the masks. */
#ifndef CLAWBOX_POLICY_H
#define CLAWBOX_POLICY_H
#include "util/common.h"

#include "util/strv.h"

/* The built-in masks for a caller, plus state_dir: canonical absolute paths
 * (symlinks resolved where the path exists), sorted, no duplicates. */
int policy_default_masks(const char *state_dir, struct strv *ret);

/* Add a user deny-read entry: absolute, or relative to project. Fails with
 * -EINVAL for an empty path. */
int policy_add_deny(struct strv *masks, const char *project, const char *entry);

/* Hide a file the box's secrets are read from (--secrets FILE, the --config
 * DIR's .env) at its host path: path (relative to the cwd, or through
 * symlinks) resolved to the file itself. A file in the project is then
 * hidden at both of the project's paths (src/box/rootfs.c). A missing file: no
 * mask (reading it fails anyway). */
int policy_add_secrets_file(struct strv *masks, const char *path);

/* Sort and deduplicate, dropping entries beneath another entry (they are
 * hidden already) unless they are beneath the project too. */
void policy_normalize_masks(struct strv *masks, const char *project);

/* If project is one of the built-in masks or contains one, return it (the
 * box would expose or hide what it must not); NULL otherwise. */
const char *policy_project_conflict(const struct strv *builtin, const char *project);

/* The environment of the box's command: a few variables of the caller's
 * (PATH, TERM, LANG, LC_*, TZ, COLORTERM, NO_COLOR) and clawbox's own (HOME,
 * USER, LOGNAME, SHELL, PWD, TMPDIR, CLAWBOX_BOX). Nothing else passes. */
int policy_environment(const char *box, const char *cwd, const char *shell, struct strv *ret);

/* The whole environment of the box's command: policy_environment()'s
 * variables, then extra (NULL-terminated "NAME=VALUE" strings, e.g. the
 * proxy's variables; may be NULL), then every secret as NAME=VALUE (a secret replaces a variable of
 * the same name). It is one block of secret memory (src/secrets/secrets.h): hand
 * secrets_env_vector(*ret) to the box, free it with secrets_env_free(). No
 * value is ever on an argv or in a file. secrets may be NULL. */
struct secrets;
struct secrets_env;
int policy_box_environment(const char *box, const char *cwd, const char *shell, char *const *extra,
			   const struct secrets *secrets, struct secrets_env **ret);

/* Read deny-read entries, one per line ('#' comments), from path. Missing
 * file: 0 entries. */
int policy_read_deny_file(const char *path, const char *project, struct strv *masks);

#endif
