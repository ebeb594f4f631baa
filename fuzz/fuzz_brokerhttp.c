/* libFuzzer harness for the brokered path's HTTP/1.1 parsers
 * (src/net/brokerhttp.c): any input as a request head, a response head and
 * a chunked body. A request accepted is written out as a head that parses
 * again to the same framing, with no bare CR or LF, and no placeholder of a
 * secret not brokered there. */
#include "util/common.h"

#include "net/brokerhttp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct broker_inject places[] = { { BROKER_HEADER, "x-api-key" },
					       { BROKER_AUTHORIZATION, "" },
					       { BROKER_QUERY, "key" },
					       { BROKER_PATH, "" } };
static const struct brokerhttp_secret secrets[] = {
	{ "PH-AAAAAAAA", 11, "VALUE-1/ ?&:", 12, places, 4, true },
	{ "PH-OTHERONE", 11, "VALUE-2", 7, places, 4, false },
};

static void request(const char *in, size_t n)
{
	struct brokerhttp_req r, again;
	struct buf out = BUF_INIT(4 * BROKERHTTP_HEAD_MAX);
	int e = brokerhttp_request(in, n, "api.example.com", 443, secrets, 2, &r, &out);
	if (e == 1) {
		struct buf twice = BUF_INIT(4 * BROKERHTTP_HEAD_MAX);
		if (out.len < 4 || memcmp(out.data + out.len - 4, "\r\n\r\n", 4) ||
		    memmem(out.data, out.len, "PH-OTHERONE", 11))
			abort();
		for (size_t i = 0; i < out.len; i++)
			if ((out.data[i] == '\r') != (i + 1 < out.len && out.data[i + 1] == '\n') ||
			    (out.data[i] == '\n' && (i == 0 || out.data[i - 1] != '\r')))
				abort();
		int e2 = brokerhttp_request(out.data, out.len, "api.example.com", 443, NULL, 0,
					    &again, &twice);
		if (e2 != 1 && e2 != -E2BIG)
			abort();
		if (e2 == 1 && (again.body_len != r.body_len || again.chunked != r.chunked ||
				again.close != r.close || strcmp(again.method, r.method)))
			abort();
		buf_free(&twice);
	} else if (e != 0 && e != -E2BIG && e != -EBADMSG && e != -EINVAL &&
		   e != -EPROTONOSUPPORT && e != -EACCES && e != -ENOTSUP && e != -ENOMEM)
		abort();
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct brokerhttp_resp rs;
	struct brokerhttp_chunks c = { 0 };
	size_t used;
	bool done;
	request(in, size);
	(void)brokerhttp_response(in, size, size && data[0] == 'H' ? "HEAD" : "GET", &rs);
	if (brokerhttp_chunks_feed(&c, in, size, &used, &done) == 0 &&
	    (used > size || (!done && used != size)))
		abort();
	return 0;
}
