/* Fuzz the small parsers of user input: sizes, counts, times, box names,
 * deny-read entries and files. Each input line is given to every parser. */
#include "util/common.h"

#include "state/audit.h"
#include "state/box.h"
#include "cli/cli.h"
#include "box/masks.h"
#include "util/size.h"
#include "util/strv.h"
#include "util/fs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	struct strv m = { 0 };
	char *save = NULL;
	for (char *line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		uint64_t v;
		int64_t t;
		char name[80];
		if (size_parse(line, UINT32_MAX, &v) == 0 && (v == 0 || v > UINT32_MAX))
			abort();
		cli_parse_uint(line, &v);
		audit_parse_time(line, 1795854600000LL, &t);
		if (box_name_valid(line) && strlen(line) > BOX_NAME_MAX)
			abort();
		if (line[0] == '/' && strlen(line) < PATH_MAX &&
		    box_default_name(line, name, sizeof(name)) == 0 && !box_name_valid(name))
			abort();
		masks_add_deny(&m, "/p", line);
	}
	masks_normalize(&m, "/p");
	for (size_t i = 0; i < m.n; i++)
		if (m.v[i][0] != '/')
			abort();
	strv_free(&m);
	free(s);
	return 0;
}
