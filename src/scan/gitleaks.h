/* Loads gitleaks v8 TOML configurations into a struct scan_rules. */
#ifndef CLAWBOX_GITLEAKS_H
#define CLAWBOX_GITLEAKS_H
#include "util/common.h"

#include "scan/scan.h"
#include "util/error.h"

/* clawbox's default rules as gitleaks TOML (src/scan/rules_default.c). */
extern const char scan_default_rules_toml[];

/* Adds the rules and allowlists of a gitleaks configuration text to rs.
 * file names the text in errors. [extend] useDefault loads clawbox's own
 * default rules (scan_default_rules_toml) first; [extend] path loads another
 * file first (relative paths as given, at most 4 levels); disabledRules are
 * removed afterwards. Unknown keys, wrong types, invalid regexes: -EINVAL
 * with err (may be NULL) naming the file (where), the line
 * (0 when none applies) and the problem. Never prints. */
int gitleaks_load(struct scan_rules *rs, const char *file, const char *text, size_t len,
		  struct error *err);

/* Reads file (at most 16 MiB) and loads it as above. */
int gitleaks_load_file(struct scan_rules *rs, const char *file, struct error *err);

/* Loads clawbox's default rules. */
int gitleaks_load_default(struct scan_rules *rs, struct error *err);

#endif
