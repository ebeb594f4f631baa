/* libFuzzer harness for a box's mounts record and the --mount syntax: any
 * input parses or fails with -EBADMSG/-EINVAL/-E2BIG; what parses has valid
 * paths, formats back to a record that parses to the same mounts, and
 * never crashes or leaks. */
#include "util/common.h"

#include "state/mounts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mounts m = { .n = 0 }, back = { .n = 0 };
	int r = mounts_parse_record((const char *)data, size, &m, NULL);
	if (r == 0) {
		for (size_t i = 0; i < m.n; i++)
			if (!mounts_path_valid(m.v[i].src) || !mounts_path_valid(m.v[i].dst))
				abort();
		char *text = mounts_format(&m);
		if (!text || mounts_parse_record(text, strlen(text), &back, NULL) != 0 ||
		    !mounts_equal(&m, &back))
			abort();
		free(text);
		(void)mounts_check_dst(&m, "/srv/p", NULL, NULL);
	} else if (r != -EBADMSG && r != -E2BIG && r != -ENOMEM) {
		abort();
	}
	mounts_clear(&m);
	mounts_clear(&back);
	/* The same bytes as an --mount and an --vault argument. */
	char *arg = strndup((const char *)data, size);
	if (arg) {
		for (int vault = 0; vault < 2; vault++) {
			r = mounts_parse_opt(&m, arg, vault, NULL);
			if (r == 0 && !mounts_path_valid(m.v[m.n - 1].dst))
				abort();
			if (r != 0 && r != -EINVAL && r != -E2BIG && r != -ENOMEM)
				abort();
		}
		free(arg);
	}
	mounts_clear(&m);
	return 0;
}
