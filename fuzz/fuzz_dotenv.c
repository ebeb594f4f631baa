/* libFuzzer harness for the dotenv reader: any input must parse or fail
 * cleanly with a line-numbered message that quotes nothing of the input;
 * every name handed out must be valid and every value NUL-free. */
#include "util/common.h"

#include "dotenv.h"
#include "secrets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check(const char *name, const char *value, size_t len, unsigned line, void *ctx)
{
	struct secrets *s = ctx;
	if (!dotenv_name_valid(name) || strlen(value) != len || line == 0 || len > DOTENV_VALUE_MAX)
		abort();
	(void)secrets_put(s, name, value, len, SECRET_SOURCE_FILE, "fuzz", line);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dotenv_error err;
	struct secrets *s = NULL;
	char *copy = malloc(size + 1);
	if (!copy || secrets_new(&s) < 0)
		abort();
	memcpy(copy, data, size);
	int r = dotenv_parse(copy, size, check, s, &err);
	if (r == -EINVAL && (err.line == 0 || !err.msg[0]))
		abort();
	if (r < 0 && r != -EINVAL && r != -ENOSPC)
		abort();
	/* Redaction of the input with what it defined must terminate and
	 * leave no value of 4+ bytes behind. */
	char *out = NULL;
	if (secrets_redact(s, (const char *)data, size, &out) < 0)
		abort();
	free(out);
	secrets_free(s);
	free(copy);
	return 0;
}
