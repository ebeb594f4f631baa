/* libFuzzer harness for the TOML reader: any input must parse or fail
 * cleanly with a line-numbered message, never crash or leak. */
#include "util/common.h"

#include "util/toml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct toml_value *root = NULL;
	struct error err;
	int r = toml_parse((const char *)data, size, NULL, &root, &err);
	if (r == 0 && (!root || root->type != TOML_TABLE))
		abort();
	if (r == -EINVAL && (err.code != r || err.line == 0 || !err.message[0]))
		abort();
	toml_free(root);
	return 0;
}
