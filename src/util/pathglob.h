/* Path globs for the sync policy, matched against project-relative paths
 * ("src/cli/main.c", never a leading '/'):
 *   *      any run of characters within one component (not '/')
 *   ?      one character other than '/'
 *   [..]   a character class ("[abc]", "[a-z]", "[!0-9]"), never '/'
 *   **     as a whole component: any number of components, zero included
 *          ("**" alone matches everything; ".git/hooks/" followed by "**"
 *          everything below .git/hooks; "**" then "/x": x at any depth)
 *   \c     the character c literally
 * A pattern without '/' matches the last component at any depth (as
 * gitignore: "*.pem" matches "a/b/k.pem"). A pattern also matches every
 * path beneath a directory it matches ("node_modules" matches
 * "node_modules/x/y"). Matching costs O(pattern x path) at worst: no
 * exponential backtracking, whatever the input. */
#ifndef CLAWBOX_PATHGLOB_H
#define CLAWBOX_PATHGLOB_H
#include "util/common.h"

/* Longest pattern pathglob_valid accepts. */
#define PATHGLOB_MAX 1024

/* 0 when pattern is a usable glob; -EINVAL (with *ret_why) when it is empty,
 * too long, absolute, has an unclosed '[' or a trailing '\', or a '**' that
 * is not a whole component. */
int pathglob_valid(const char *pattern, const char **ret_why);

/* True when path (relative, '/'-separated) matches pattern as above. */
bool pathglob_match(const char *pattern, const char *path);
/* The same, ASCII letters matched without regard to case (also in "[..]"). */
bool pathglob_match_nocase(const char *pattern, const char *path);

#endif
