/* The environment of the box's command: what of the caller's passes, what
 * clawbox sets, the secrets. */
#ifndef CLAWBOX_BOXENV_H
#define CLAWBOX_BOXENV_H
#include "util/common.h"

#include "util/strv.h"

/* The environment of the box's command: a few variables of the caller's
 * (PATH, TERM, LANG, LC_*, TZ, COLORTERM, NO_COLOR) and clawbox's own (HOME,
 * USER, LOGNAME, SHELL, PWD, TMPDIR, CLAWBOX_BOX). Nothing else passes. */
int boxenv_vars(const char *box, const char *cwd, const char *shell, struct strv *ret);

/* Why the variable name is clawbox's to set, or NULL when a setting that
 * is not a secret (an agent profile, the box's env file, --setenv) may set
 * it: what boxenv_vars() sets (HOME, USER, LOGNAME, SHELL, PWD, TMPDIR),
 * CLAWBOX_*, the proxy's variables (any *_PROXY, case-insensitive, with
 * NODE_USE_ENV_PROXY) and the dynamic loader's (LD_*). */
const char *boxenv_reserved(const char *name);

/* The whole environment of the box's command: boxenv_vars()'s
 * variables, then extra (NULL-terminated "NAME=VALUE" strings, e.g. the
 * proxy's variables; may be NULL), then every secret as NAME=VALUE (a secret replaces a variable of
 * the same name). It is one block of secret memory (src/secrets/secrets.h): hand
 * secrets_env_vector(*ret) to the box, free it with secrets_env_free(). No
 * value is ever on an argv or in a file. secrets may be NULL. */
struct secrets;
struct secrets_env;
int boxenv_build(const char *box, const char *cwd, const char *shell, char *const *extra,
		 const struct secrets *secrets, struct secrets_env **ret);

#endif
