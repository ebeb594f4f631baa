/* The redactors: whole strings and streams. See secrets.h. */
#include "util/common.h"

#include "secrets/secrets_int.h"
#include "util/buf.h"

/* ---- redaction ---- */

int secrets_redact(const struct secrets *s, const char *in, size_t len, char **ret)
{
	struct buf out = BUF_INIT(64 * 1024 * 1024);
	size_t copied = 0;
	bool hit = false;
	*ret = NULL;
	if (!s || s->n == 0)
		return 0;
	int r0 = secrets_index_ready(s);
	if (r0 < 0)
		return r0;
	for (size_t i = 0; i < len;) {
		const struct entry *best = NULL;
		size_t best_n = 0;
		unsigned key = len - i >= 2 ? idx_key(in + i) : 0;
		for (uint32_t x = s->bucket[key]; len - i >= 2 && x < s->bucket[key + 1]; x++) {
			const struct pattern *pt = s->idx[x].pt;
			if (pt->n > best_n && pt->n <= len - i &&
			    memcmp(pt->p, in + i, pt->n) == 0) {
				best = s->idx[x].e;
				best_n = pt->n;
			}
		}
		if (!best) {
			i++;
			continue;
		}
		int r = buf_append(&out, in + copied, i - copied);
		if (r == 0)
			r = buf_printf(&out, "[REDACTED:%s]", best->name);
		if (r < 0) {
			buf_free(&out);
			return r;
		}
		hit = true;
		i += best_n;
		copied = i;
	}
	if (!hit)
		return 0;
	int r = buf_append(&out, in + copied, len - copied);
	if (r < 0) {
		buf_free(&out);
		return r;
	}
	*ret = buf_steal(&out);
	return 1;
}

/* ---- redaction of a stream ---- */

struct secrets_stream {
	const struct secrets *s;
	size_t maxpat;  /* the longest pattern */
	char *work;     /* secret memory: what waits, then the chunk */
	size_t nwait;   /* work[0..nwait) waits: a proper prefix of a pattern */
	struct buf out; /* what goes on: redacted, so plain memory */
};

int secrets_stream_new(const struct secrets *s, struct secrets_stream **ret)
{
	*ret = NULL;
	if (!s || s->n == 0)
		return 0;
	_cleanup_free_ struct secrets_stream *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->s = s;
	for (size_t k = 0; s && k < s->n; k++)
		for (size_t j = 0; j < s->e[k]->npat; j++)
			if (s->e[k]->pat[j].n > st->maxpat)
				st->maxpat = s->e[k]->pat[j].n;
	int r = secrets_index_ready(s);
	if (r < 0)
		return r;
	st->out = (struct buf)BUF_INIT(32 * SECRETS_STREAM_CHUNK);
	if (!(st->work = secrets_mem_alloc(st->maxpat + SECRETS_STREAM_CHUNK)))
		return -ENOMEM;
	*ret = TAKE_PTR(st);
	return 0;
}

struct secrets_stream *secrets_stream_free(struct secrets_stream *st)
{
	if (st) {
		secrets_mem_free(st->work);
		buf_free(&st->out);
		free(st);
	}
	return NULL;
}

bool secrets_stream_waiting(const struct secrets_stream *st)
{
	return st->nwait > 0;
}

int secrets_stream_flush_in(const struct secrets_stream *st)
{
	return st->nwait > 0 && st->nwait < SECRETS_STREAM_HOLD ? SECRETS_STREAM_WAIT_MS : -1;
}

/* At b[0..n): the longest whole pattern (its entry, *ret_n its length),
 * and in *ret_prefix whether b is a proper prefix of some pattern (the
 * rest may come). */
static const struct entry *match_at(const struct secrets *s, const char *b, size_t n, size_t *ret_n,
				    bool *ret_prefix)
{
	const struct entry *best = NULL;
	*ret_n = 0;
	*ret_prefix = false;
	if (n < 2) { /* one byte: no key; a prefix of a pattern or not */
		for (size_t k = 0; k < s->n && !*ret_prefix; k++)
			for (size_t j = 0; j < s->e[k]->npat; j++)
				*ret_prefix |= s->e[k]->pat[j].p[0] == b[0];
		return NULL;
	}
	unsigned key = idx_key(b);
	for (uint32_t x = s->bucket[key]; x < s->bucket[key + 1]; x++) {
		const struct pattern *pt = s->idx[x].pt;
		if (pt->n <= n) {
			if (pt->n > *ret_n && memcmp(pt->p, b, pt->n) == 0) {
				best = s->idx[x].e;
				*ret_n = pt->n;
			}
		} else if (memcmp(pt->p, b, n) == 0) {
			*ret_prefix = true;
		}
	}
	return best;
}

/* Redact work[0..n) into out; with wait, stop at the first position whose
 * rest begins a pattern and keep that rest waiting. */
static int stream_run(struct secrets_stream *st, size_t n, bool wait)
{
	const char *b = st->work;
	size_t i = 0, copied = 0;
	buf_reset(&st->out);
	while (i < n) {
		size_t mn;
		bool prefix;
		const struct entry *e = match_at(st->s, b + i, n - i, &mn, &prefix);
		if (wait && prefix)
			break;
		if (!e) {
			i++;
			continue;
		}
		int r = buf_append(&st->out, b + copied, i - copied);
		if (r == 0)
			r = buf_printf(&st->out, "[REDACTED:%s]", e->name);
		if (r < 0)
			return r;
		i += mn;
		copied = i;
	}
	int r = buf_append(&st->out, b + copied, i - copied);
	if (r < 0)
		return r;
	memmove(st->work, b + i, n - i);
	explicit_bzero(st->work + (n - i), i);
	st->nwait = n - i;
	return 0;
}

int secrets_stream_feed(struct secrets_stream *st, const char *in, size_t len, const char **out,
			size_t *out_len)
{
	if (len > SECRETS_STREAM_CHUNK)
		return -E2BIG;
	memcpy(st->work + st->nwait, in, len);
	int r = stream_run(st, st->nwait + len, true);
	*out = st->out.data;
	*out_len = st->out.len;
	return r;
}

int secrets_stream_flush(struct secrets_stream *st, const char **out, size_t *out_len)
{
	int r = st->nwait ? stream_run(st, st->nwait, false) : (buf_reset(&st->out), 0);
	*out = st->out.data;
	*out_len = st->out.len;
	return r;
}
