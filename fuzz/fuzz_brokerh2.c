/* libFuzzer harness for HTTP/2 on the brokered path (src/net/brokerh2.c),
 * without TLS: the input is a series of chunks, each one byte (even: from
 * the box, odd: from the upstream), two bytes of length (big-endian) and
 * the bytes; the box's side starts with the client preface, given here.
 * After each chunk both sides' output is taken and dropped. Every stream
 * reported must carry a method and a path that begins with '/'. */
#include "util/common.h"

#include "net/brokerh2.h"
#include "net/h2lib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct broker_inject places[] = { { BROKER_HEADER, "x-api-key" },
					       { BROKER_AUTHORIZATION, "" },
					       { BROKER_QUERY, "key" },
					       { BROKER_PATH, "" } };
static const struct brokerhttp_secret secrets[] = {
	{ "PH-AAAAAAAAAA", 13, "VALUE-1/ ?&:x", 13, places, 4, true },
	{ "PH-OTHERONE", 11, "VALUE-2-abc", 11, places, 4, false },
};

static void on_request(void *ctx, const struct brokerhttp_req *rq, int status, uint64_t out,
		       uint64_t in, const struct brokerhttp_secret *s, size_t ns)
{
	if (!rq->method[0] || rq->path[0] != '/')
		abort();
}

static void on_refused(void *ctx, const char *what, int status, const char *why)
{
	if (!what || !why)
		abort();
}

static void drain(struct brokerh2 *h)
{
	const uint8_t *d;
	for (int i = 0; i < 64 && brokerh2_to_box(h, &d) > 0; i++)
		;
	for (int i = 0; i < 64 && brokerh2_to_up(h, &d) > 0; i++)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	static const struct brokertls_report rep = { on_request, on_refused, NULL };
	const struct brokertls_session ss = { .cfd = -1,
					      .ufd = -1,
					      .host = "api.example.com",
					      .port = 443,
					      .s = secrets,
					      .ns = 2,
					      .stop_fd = -1,
					      .report = &rep };
	struct brokerh2 *h = NULL;
	if (h2lib_load(NULL) < 0 || brokerh2_new(&ss, &h) < 0)
		return 0;
	bool box_ok = brokerh2_from_box(h, preface, sizeof(preface) - 1) == 0;
	bool up_ok = true;
	drain(h);
	while (size >= 3 && (box_ok || up_ok)) {
		size_t n = (size_t)data[1] << 8 | data[2];
		bool up = data[0] & 1;
		data += 3;
		size -= 3;
		if (n > size)
			n = size;
		if (up && up_ok)
			up_ok = brokerh2_from_up(h, data, n) == 0;
		else if (!up && box_ok)
			box_ok = brokerh2_from_box(h, data, n) == 0;
		data += n;
		size -= n;
		drain(h);
		if (brokerh2_done(h))
			break;
	}
	brokerh2_free(h);
	return 0;
}
