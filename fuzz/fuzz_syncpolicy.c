/* libFuzzer harness for the sync policy file ($BOX/config.toml [sync]): any
 * input parses or fails with a line-numbered message; a parsed policy's
 * globs match any path without crashing. */
#include "util/common.h"

#include "util/pathglob.h"
#include "sync/syncpolicy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sync_policy p;
	struct error err;
	int r = syncpolicy_parse((const char *)data, size, "/box", &p, &err);
	if (r == -EINVAL && (!err.message[0] || err.code != r))
		abort();
	if (r == 0) {
		static const char *const paths[] = { "a", ".git/hooks/x", "a/b/c.pem", "x/.env.y",
						     "deep/er/still/deeper/file.txt" };
		for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
			(void)syncpolicy_denied(&p, paths[i]);
			(void)syncpolicy_allowed(&p, paths[i]);
			{
				const char *why;
				(void)syncpolicy_needs_approval(&p, paths[i], &why);
				if (p.napprove)
					(void)pathglob_match_nocase(p.approve[0], paths[i]);
			}
			(void)syncpolicy_blocked_ext(&p, paths[i]);
		}
		if (p.max_size == 0 || p.auto_interval == 0)
			abort();
		syncpolicy_free(&p);
	}
	return 0;
}
