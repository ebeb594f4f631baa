/* libFuzzer harness for the scanner: the default rules plus a small gitleaks
 * rule set and a known secret over arbitrary bytes (as a file whose name is
 * taken from the first input line). Findings must lie inside the buffer. */
#include "util/common.h"

#include "scan/gitleaks.h"
#include "scan/scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct scan_rules *rules;

static const char extra[] =
    "[extend]\nuseDefault = true\n"
    "[[rules]]\nid = 'multi'\nregex = '''(?s)BEGIN(.{0,40}?)END'''\n"
    "[[rules]]\nid = 'pathy'\npath = '''\\.ya?ml$'''\nregex = '''pw:\\s*(\\S+)'''\n"
    "[[rules.allowlists]]\nregexTarget = 'line'\nregexes = ['''^#''']\n";

static int check(const struct scan_finding *f, void *ud)
{
	size_t len = *(size_t *)ud;
	if (f->start > f->end || f->end > len)
		abort();
	if (f->secret && f->secret_len > len)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!rules) {
		struct error ge, err;
		if (scan_rules_new(&rules) < 0 ||
		    gitleaks_load(rules, "fuzz", extra, strlen(extra), &ge) < 0 ||
		    scan_rules_add_known_secret(rules, "FUZZ", "hunter22", 8) < 0 ||
		    scan_rules_compile(rules, &err) < 0)
			abort();
	}
	char path[64] = "";
	const uint8_t *nl = memchr(data, '\n', size < 63 ? size : 63);
	if (nl)
		memcpy(path, data, (size_t)(nl - data)), path[nl - data] = '\0';
	if (scan_buffer(rules, nl ? path : NULL, data, size, check, &size) < 0)
		abort();
	return 0;
}
