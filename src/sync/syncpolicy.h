/* The sync policy of a box: the [sync] table of $BOX/config.toml.
 *
 *   [sync]
 *   allow = ["**"]                 # paths that may sync (default: all)
 *   deny = []                      # paths that never sync (block)
 *   approve = [...]                # more paths that need explicit approval
 *   blocked_extensions = [".env", ".pem", ...]
 *   max_size = "10M"               # or an integer number of bytes
 *   auto_interval = 30             # seconds between yolo auto-syncs
 *   gitleaks_config = "/path/gitleaks.toml"  # default: clawbox's rules
 *
 * Every key is optional; a missing one keeps its default (the lists shown
 * by syncpolicy_defaults); a given list replaces the default list, except
 * approve: the built-in execute-on-host list always applies and a given
 * approve list adds to it. Other
 * top-level tables belong to other parts of clawbox and are ignored; an
 * unknown key or a wrong type inside [sync] is an error with its line.
 * Never prints. */
#ifndef CLAWBOX_SYNCPOLICY_H
#define CLAWBOX_SYNCPOLICY_H
#include "util/common.h"

#include "util/error.h"

#define SYNCPOLICY_MAX_LIST 256

struct sync_policy {
	char **allow, **deny, **approve, **blocked_ext;
	size_t nallow, ndeny, napprove, nblocked_ext;
	uint64_t max_size;      /* bytes */
	unsigned auto_interval; /* seconds, >= 1 */
	char *gitleaks_config;  /* NULL: clawbox's default rules */
	char source[PATH_MAX];  /* the file read, "" for the defaults */
};

/* Fill p with the defaults. */
int syncpolicy_defaults(struct sync_policy *p);

/* Parse a config.toml text: defaults, then the [sync] table's keys. On
 * -EINVAL, err (may be NULL) gets the line and the problem (no where: the
 * text has no name). p is written on success only. A relative
 * gitleaks_config is taken relative to base_dir. */
int syncpolicy_parse(const char *text, size_t len, const char *base_dir, struct sync_policy *p,
		     struct error *err);

/* Read $box_dir/config.toml (a missing file means the defaults). On
 * failure err (may be NULL) has where = the file, and for a mistake in it
 * (-EINVAL) its line and the problem. */
int syncpolicy_load(const char *box_dir, struct sync_policy *p, struct error *err);

/* Free the lists; p may be reused after syncpolicy_defaults. */
void syncpolicy_free(struct sync_policy *p);

/* Which list of p matches path: the first matching deny pattern, the
 * approval pattern, or whether allow covers it. NULL when none. */
const char *syncpolicy_denied(const struct sync_policy *p, const char *path);
bool syncpolicy_allowed(const struct sync_policy *p, const char *path);
/* The approval pattern path matches (the built-in execute-on-host list
 * first, case-insensitively, then the policy's approve list), with the
 * reason to show in *ret_reason; NULL when none. */
const char *syncpolicy_needs_approval(const struct sync_policy *p, const char *path,
				      const char **ret_reason);

/* The built-in execute-on-host list (pattern and why it needs approval). */
struct syncpolicy_exec {
	const char *pattern;
	const char *reason;
};
const struct syncpolicy_exec *syncpolicy_exec_on_host(size_t *ret_n);
/* The blocked extension path's last component carries (it ends with it, or
 * is it, or starts with it followed by '.', as ".env.local"). NULL: none. */
const char *syncpolicy_blocked_ext(const struct sync_policy *p, const char *path);

#endif
