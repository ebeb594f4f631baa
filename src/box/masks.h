/* What a box may see: the paths always hidden from it (credentials, other
 * users' homes, sockets that reach the host's services, clawbox's own state).
 * Policy only: src/box/rootfs.c applies the masks. */
#ifndef CLAWBOX_MASKS_H
#define CLAWBOX_MASKS_H
#include "util/common.h"

#include "util/strv.h"

/* The built-in masks for a caller, plus state_dir: canonical absolute paths
 * (symlinks resolved where the path exists), sorted, no duplicates. */
int masks_default(const char *state_dir, struct strv *ret);

/* Add a user deny-read entry: absolute, or relative to project. Fails with
 * -EINVAL for an empty path. */
int masks_add_deny(struct strv *masks, const char *project, const char *entry);

/* Hide a file the box's secrets are read from (--secrets FILE, the --config
 * DIR's .env) at its host path: path (relative to the cwd, or through
 * symlinks) resolved to the file itself. A file in the project is then
 * hidden at both of the project's paths (src/box/rootfs.c). A missing file: no
 * mask (reading it fails anyway). */
int masks_add_secrets_file(struct strv *masks, const char *path);

/* Sort and deduplicate, dropping entries beneath another entry (they are
 * hidden already) unless they are beneath the project too. */
void masks_normalize(struct strv *masks, const char *project);

/* If project is one of the built-in masks or contains one, return it (the
 * box would expose or hide what it must not); NULL otherwise. */
const char *masks_project_conflict(const struct strv *builtin, const char *project);

/* Whether the host dir src (canonical) may be shown in a box by --mount:
 * NULL when it may, else the reason (a static string naming what is in the
 * way in *ret_path, which gets a path of at most n bytes). A mount must not
 * punch through a mask: src is refused when it is or contains a built-in
 * mask (builtin: from masks_default(): /, /etc, a home, the state dir...),
 * lies beneath one other than a home (/home, /root, the caller's: like a
 * project, a dir in a home may be shown), is or lies beneath a credential
 * dir (.ssh, .gnupg, .aws, ...: wherever it is), or holds one. */
const char *masks_mount_conflict(const struct strv *builtin, const char *src, char *ret_path,
				 size_t n);

/* Sort and deduplicate as masks_normalize(), keeping entries beneath any of
 * the nroots dirs roots (the project, the mounts' sources) even when they are
 * beneath another entry: they are shown at a second path too. */
void masks_normalize_roots(struct strv *masks, const char *const *roots, size_t nroots);

/* Read deny-read entries, one per line ('#' comments), from path. Missing
 * file: 0 entries. */
int masks_read_deny_file(const char *path, const char *project, struct strv *masks);

/* The caller's passwd entry (its home is masked; the box's environment
 * names its user), looked up once, in storage of its own; NULL when there
 * is none. */
struct passwd;
const struct passwd *masks_caller(void);

#endif
