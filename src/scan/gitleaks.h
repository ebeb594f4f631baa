/* Loads gitleaks v8 TOML configurations into a struct scan_rules. */
#ifndef CLAWBOX_GITLEAKS_H
#define CLAWBOX_GITLEAKS_H
#include "util/common.h"

#include "scan/scan.h"

struct gitleaks_error {
	char file[256];
	unsigned line; /* 0 when no line applies */
	char msg[512];
};

/* Adds the rules and allowlists of a gitleaks configuration text to rs.
 * file names the text in errors. [extend] useDefault loads clawbox's own
 * default rules (scan_default_rules_toml) first; [extend] path loads another
 * file first (relative paths as given, at most 4 levels); disabledRules are
 * removed afterwards. Unknown keys, wrong types, invalid regexes: -EINVAL
 * with *err naming file, line and problem. Never prints. */
int gitleaks_load(struct scan_rules *rs, const char *file, const char *text, size_t len,
		  struct gitleaks_error *err);

/* Reads file (at most 16 MiB) and loads it as above. */
int gitleaks_load_file(struct scan_rules *rs, const char *file, struct gitleaks_error *err);

/* Loads clawbox's default rules. */
int gitleaks_load_default(struct scan_rules *rs, struct gitleaks_error *err);

#endif
