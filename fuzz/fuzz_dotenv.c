/* libFuzzer harness for the dotenv reader: any input must parse or fail
 * cleanly with a line-numbered message that quotes nothing of the input;
 * every name handed out must be valid and every value NUL-free. */
#include "util/common.h"

#include "secrets/dotenv.h"
#include "secrets/secrets.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check(const char *name, const char *value, size_t len, unsigned line, void *ctx)
{
	struct secrets *s = ctx;
	if (!dotenv_name_valid(name) || strlen(value) != len || line == 0 || len > DOTENV_VALUE_MAX)
		abort();
	(void)secrets_put(s, name, value, len, SECRET_SOURCE_FILE, "fuzz", line);
	return 0;
}

/* What the stream passed on, fed in in chunks of step bytes, into got. */
static void stream_feed(struct secrets_stream *st, const char *in, size_t size, size_t step,
			struct buf *got)
{
	const char *out;
	size_t k;
	buf_reset(got);
	for (size_t i = 0; i < size; i += step) {
		size_t n = size - i < step ? size - i : step;
		if (secrets_stream_feed(st, in + i, n, &out, &k) < 0 || buf_append(got, out, k) < 0)
			abort();
	}
	if (secrets_stream_flush(st, &out, &k) < 0 || buf_append(got, out, k) < 0)
		abort();
}

/* True when needle (n bytes) occurs in hay (h bytes). */
static bool has(const char *hay, size_t h, const char *needle, size_t n)
{
	return n && memmem(hay, h, needle, n) != NULL;
}

/* The stream redaction: fed in one chunk, exactly the whole redaction
 * (want); fed in chunks of a size the input picks, no value and no value's
 * last SECRETS_AFFIX_MIN bytes that want does not show either (a suffix
 * shown alone is redacted whole only when it comes in one chunk). */
static void stream_same(const struct secrets *s, const char *in, size_t size, const char *want,
			size_t wlen)
{
	struct secrets_stream *st;
	struct buf got = BUF_INIT(64u << 20);
	size_t step = size ? (unsigned char)in[0] % 23 + 1 : 1;
	if (secrets_stream_new(s, &st) < 0)
		abort();
	if (!st) { /* nothing to redact: no stream, and nothing redacted */
		if (wlen != size || memcmp(want, in, size) != 0)
			abort();
		return;
	}
	if (size <= SECRETS_STREAM_CHUNK) {
		stream_feed(st, in, size, SECRETS_STREAM_CHUNK, &got);
		if (got.len != wlen || (wlen && memcmp(got.data, want, wlen) != 0))
			abort();
	}
	stream_feed(st, in, size, step, &got);
	for (size_t i = 0; i < secrets_count(s); i++) {
		const struct secret *v = secrets_at(s, i);
		size_t tn = v->len > SECRETS_AFFIX_MIN ? SECRETS_AFFIX_MIN : v->len;
		const char *tail = v->value + v->len - tn;
		if (v->len < SECRETS_REDACT_MIN)
			continue;
		if ((has(got.data, got.len, v->value, v->len) &&
		     !has(want, wlen, v->value, v->len)) ||
		    (has(got.data, got.len, tail, tn) && !has(want, wlen, tail, tn)))
			abort();
	}
	buf_free(&got);
	secrets_stream_free(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct error err;
	struct secrets *s = NULL;
	char *copy = malloc(size + 1);
	if (!copy || secrets_new(&s) < 0)
		abort();
	memcpy(copy, data, size);
	int r = dotenv_parse(copy, size, NULL, check, s, &err);
	if (r == -EINVAL && (err.code != r || err.line == 0 || !err.message[0]))
		abort();
	if (r < 0 && r != -EINVAL && r != -ENOSPC)
		abort();
	/* Redaction of the input with what it defined must terminate and
	 * leave no value of 4+ bytes behind. */
	char *out = NULL;
	int hit = secrets_redact(s, (const char *)data, size, &out);
	if (hit < 0)
		abort();
	/* The stream redaction, fed the input in chunks of a size the input
	 * picks, must pass on exactly the same. */
	if (size <= 64 * 1024)
		stream_same(s, (const char *)data, size, hit ? out : (const char *)data,
			    hit ? strlen(out) : size);
	/* The same values learnt into a known set (src/secrets/secrets.h) redact the
	 * same. */
	struct secrets *k = NULL;
	char *kout = NULL;
	if (secrets_new_known(&k) < 0 || secrets_know_all(k, s) < 0)
		abort();
	int khit = secrets_redact(k, (const char *)data, size, &kout);
	if (khit != hit || (hit && strcmp(out, kout) != 0))
		abort();
	free(kout);
	secrets_free(k);
	free(out);
	secrets_free(s);
	free(copy);
	return 0;
}
