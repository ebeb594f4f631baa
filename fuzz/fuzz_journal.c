/* libFuzzer harness for the sync gate's state files: the journal and the
 * baseline. Any input is accepted whole or refused (-EBADMSG); what is
 * accepted formats back to a text that parses to the same thing. */
#include "util/common.h"

#include "sync/journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct journal j = { 0 }, j2 = { 0 };
	struct baseline b = { 0 }, b2 = { 0 };
	int r = journal_parse((const char *)data, size, &j);
	if (r != 0 && r != -EBADMSG && r != -ENOMEM && r != -E2BIG)
		abort();
	if (r == 0) {
		struct buf out = BUF_INIT(JOURNAL_MAX_BYTES);
		if (journal_format(&j, &out) == 0) {
			if (journal_parse(out.data, out.len, &j2) != 0 || j2.n != j.n)
				abort();
			for (size_t i = 0; i < j.n; i++)
				if (strcmp(j.ops[i].host, j2.ops[i].host) != 0 ||
				    j.ops[i].action != j2.ops[i].action)
					abort();
			journal_free(&j2);
		}
		buf_free(&out);
		journal_free(&j);
	}
	r = baseline_parse((const char *)data, size, &b);
	if (r != 0 && r != -EBADMSG && r != -ENOMEM && r != -E2BIG)
		abort();
	if (r == 0) {
		struct buf out = BUF_INIT(JOURNAL_MAX_BYTES);
		if (baseline_format(&b, &out) == 0) {
			if (baseline_parse(out.data, out.len, &b2) != 0 || b2.n != b.n)
				abort();
			baseline_free(&b2);
		}
		buf_free(&out);
		baseline_free(&b);
	}
	return 0;
}
