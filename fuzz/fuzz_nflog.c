/* libFuzzer harness for the NFLOG message parser: never reads past the
 * input, and a parsed packet has a printable address. */
#include "util/common.h"

#include "net/nflog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nflog_packet p;
	int r = nflog_parse(data, size, &p);
	if (r == 1 && !p.addr[0])
		abort();
	if (r < 0 && r != -EBADMSG)
		abort();
	return 0;
}
