/* libFuzzer harness for the HTTP proxy's request parser: any input must
 * parse, ask for more, or fail with one of the documented errors; a parsed
 * request has a valid head length, a host and a port, and never crashes or
 * leaks. */
#include "util/common.h"

#include "net/httpproxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct httpreq r;
	struct buf fwd = BUF_INIT(HTTPREQ_HEAD_MAX + 64);
	int ret = httpreq_parse((const char *)data, size, &r, &fwd);
	if (ret == 1) {
		if (r.head_len == 0 || r.head_len > size || r.head_len > HTTPREQ_HEAD_MAX ||
		    !r.host[0] || r.port == 0)
			abort();
		if (!r.connect && (fwd.len == 0 || fwd.len > fwd.max))
			abort();
		if (r.chunked && r.body_len != 0) /* both framings: refused */
			abort();
	} else if (ret != 0 && ret != -E2BIG && ret != -EBADMSG && ret != -EINVAL &&
		   ret != -EPROTONOSUPPORT) {
		abort();
	}
	buf_free(&fwd);
	return 0;
}
