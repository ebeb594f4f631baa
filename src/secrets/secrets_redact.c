/* The redactors: whole strings and streams. See secrets.h. */
#include "util/common.h"

#include "secrets/secrets_int.h"
#include "util/buf.h"

/* ---- matching ---- */

/* How much of pattern pt matches at b[0..n): 0 for none; its length, or
 * for the value a prefix of SECRETS_AFFIX_MIN or more. Sets *prefix when
 * b is a proper prefix of pt (the rest may come). */
static size_t pattern_at(const struct pattern *pt, const char *b, size_t n, bool *prefix)
{
	size_t m = 0, max = pt->n < n ? pt->n : n;
	while (m < max && b[m] == pt->p[m])
		m++;
	if (m == n && m < pt->n)
		*prefix = true;
	if (m == pt->n)
		return m;
	return pt->kind == PAT_VALUE && m >= SECRETS_AFFIX_MIN ? m : 0;
}

/* The longest match at b[i..n) (a whole pattern wins a tie): its entry, *ret_start (a suffix grows back
 * to lo at most, the bytes before lo being passed on already) and *ret_n;
 * *ret_prefix when b[i..n) is a proper prefix of a pattern. */
static const struct entry *match_at(const struct secrets *s, const char *b, size_t lo, size_t i,
				    size_t n, size_t *ret_start, size_t *ret_n, bool *ret_prefix)
{
	const struct entry *best = NULL;
	bool best_whole = false;
	*ret_n = 0;
	*ret_prefix = false;
	if (n - i < 2) { /* one byte: no key; a prefix of a pattern or not */
		for (size_t k = 0; k < s->n && !*ret_prefix; k++)
			for (size_t j = 0; j < s->e[k]->npat; j++)
				*ret_prefix |= s->e[k]->pat[j].p[0] == b[i];
		return NULL;
	}
	unsigned key = idx_key(b + i);
	for (uint32_t x = s->bucket[key]; x < s->bucket[key + 1]; x++) {
		const struct pattern *pt = s->idx[x].pt;
		size_t m = pattern_at(pt, b + i, n - i, ret_prefix), k = 0;
		if (m && pt->kind == PAT_SUFFIX)
			while (k < pt->back && i - k > lo &&
			       b[i - k - 1] == pt->p[-(ptrdiff_t)k - 1])
				k++;
		bool whole = m == pt->n; /* wins a tie with a value's prefix */
		if (m + k > *ret_n || (m && m + k == *ret_n && whole && !best_whole)) {
			best = s->idx[x].e;
			best_whole = whole;
			*ret_n = m + k;
			*ret_start = i - k;
		}
	}
	return best;
}

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
		size_t start, n;
		bool prefix;
		const struct entry *best = match_at(s, in, copied, i, len, &start, &n, &prefix);
		if (!best) {
			i++;
			continue;
		}
		int r = buf_append(&out, in + copied, start - copied);
		if (r == 0)
			r = buf_printf(&out, "[REDACTED:%s]", best->name);
		if (r < 0) {
			buf_free(&out);
			return r;
		}
		hit = true;
		i = start + n;
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

/* Redact work[0..n) into out; with wait, stop at the first position whose
 * rest begins a pattern and keep that rest waiting. */
static int stream_run(struct secrets_stream *st, size_t n, bool wait)
{
	const char *b = st->work;
	size_t i = 0, copied = 0;
	buf_reset(&st->out);
	while (i < n) {
		size_t start, mn;
		bool prefix;
		const struct entry *e = match_at(st->s, b, copied, i, n, &start, &mn, &prefix);
		if (wait && prefix)
			break;
		if (!e) {
			i++;
			continue;
		}
		int r = buf_append(&st->out, b + copied, start - copied);
		if (r == 0)
			r = buf_printf(&st->out, "[REDACTED:%s]", e->name);
		if (r < 0)
			return r;
		i = start + mn;
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
