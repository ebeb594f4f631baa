#include "util/common.h"

#include "scan/scan.h"
#include "secrets/secrets_int.h"
#include "util/array.h"

#include <pthread.h>
#include <stdarg.h>
#include <sys/mman.h>

const char *const secrets_known_names[] = {
	"ANTHROPIC_API_KEY",
	"OPENAI_API_KEY",
	"GEMINI_API_KEY",
	"OPENROUTER_API_KEY",
	"OPENCLAW_GATEWAY_PASSWORD",
	"OPENCLAW_GATEWAY_TOKEN",
	"SLACK_BOT_TOKEN",
	"DISCORD_BOT_TOKEN",
	"TELEGRAM_BOT_TOKEN",
	NULL,
};

/* ---- secret memory ---- */

#define MEM_HDR 16

void *secrets_mem_alloc(size_t n)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t page = pg > 0 ? (size_t)pg : 4096;
	if (n > SIZE_MAX - MEM_HDR - page)
		return NULL;
	size_t size = (n + MEM_HDR + page - 1) / page * page;
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	/* Kept out of core dumps; kept out of swap when the memlock limit
	 * allows (best effort: a user's limit may be small). */
	(void)madvise(p, size, MADV_DONTDUMP);
	(void)mlock(p, size);
	memcpy(p, &size, sizeof(size));
	return p + MEM_HDR;
}

void *secrets_mem_free(void *ptr)
{
	if (!ptr)
		return NULL;
	char *p = (char *)ptr - MEM_HDR;
	size_t size;
	memcpy(&size, p, sizeof(size));
	explicit_bzero(p, size);
	(void)munlock(p, size);
	munmap(p, size);
	return NULL;
}

/* ---- the set ---- */

const char *secrets_source_name(enum secret_source src)
{
	switch (src) {
	case SECRET_SOURCE_STORE: return "stored";
	case SECRET_SOURCE_CONFIG: return "config";
	case SECRET_SOURCE_FILE: return "file";
	case SECRET_SOURCE_CLI: return "-e";
	}
	return "?";
}

int secrets_new(struct secrets **ret)
{
	struct secrets *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->max = SECRETS_MAX;
	s->idx_dirty = true;
	pthread_mutex_init(&s->idx_lock, NULL);
	*ret = s;
	return 0;
}

/* Build the index when the patterns changed (under its lock: the terminal
 * relay and clawbox's messages may redact against one set at once). */
int secrets_index_ready(const struct secrets *cs)
{
	struct secrets *s = (struct secrets *)cs; /* the index is a cache */
	int r = 0;
	pthread_mutex_lock(&s->idx_lock);
	if (s->idx_dirty) {
		size_t total = 0;
		for (size_t k = 0; k < s->n; k++)
			total += s->e[k]->npat;
		_cleanup_free_ struct slot *idx = calloc(total ? total : 1, sizeof(*idx));
		_cleanup_free_ uint32_t *bucket = calloc(IDX_BUCKETS + 1, sizeof(*bucket));
		if (!idx || !bucket) {
			r = -ENOMEM;
		} else {
			for (size_t k = 0; k < s->n; k++)
				for (size_t j = 0; j < s->e[k]->npat; j++)
					bucket[idx_key(s->e[k]->pat[j].p) + 1]++;
			for (size_t b = 0; b < IDX_BUCKETS; b++)
				bucket[b + 1] += bucket[b];
			uint32_t fill[IDX_BUCKETS];
			memcpy(fill, bucket, sizeof(fill));
			for (size_t k = 0; k < s->n; k++)
				for (size_t j = 0; j < s->e[k]->npat; j++) {
					const struct pattern *pt = &s->e[k]->pat[j];
					idx[fill[idx_key(pt->p)]++] = (struct slot){ s->e[k], pt };
				}
			free(s->idx);
			free(s->bucket);
			s->idx = TAKE_PTR(idx);
			s->bucket = TAKE_PTR(bucket);
			s->idx_dirty = false;
		}
	}
	pthread_mutex_unlock(&s->idx_lock);
	return r;
}

int secrets_new_known(struct secrets **ret)
{
	int r = secrets_new(ret);
	if (r == 0) {
		(*ret)->known = true;
		(*ret)->max = SECRETS_KNOWN_MAX;
	}
	return r;
}

int secrets_grow(struct secrets *s)
{
	void *v = s->e;
	/* An array of pointers: sizeof a pointer is meant. */
	int r = array_grow(&v, &s->cap, s->n, sizeof(*s->e)); // NOLINT(bugprone-sizeof-expression)
	if (r == 0)
		s->e = v;
	return r;
}

struct entry *secrets_entry_free(struct entry *e)
{
	if (e) {
		secrets_mem_free(e->mem);
		free(e);
	}
	return NULL;
}

struct secrets *secrets_free(struct secrets *s)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->n; i++)
		secrets_entry_free(s->e[i]);
	for (size_t i = 0; i < s->nwarn; i++)
		free(s->warn[i]);
	free(s->e);
	free(s->idx);
	free(s->bucket);
	pthread_mutex_destroy(&s->idx_lock);
	free(s);
	return NULL;
}

void secrets_add_warning(struct secrets *s, const char *fmt, ...)
{
	va_list ap;
	char *m = NULL;
	if (s->nwarn == MAX_WARNINGS)
		return;
	va_start(ap, fmt);
	int n = vasprintf(&m, fmt, ap);
	va_end(ap);
	if (n >= 0)
		s->warn[s->nwarn++] = m;
}

size_t secrets_warning_count(const struct secrets *s)
{
	return s ? s->nwarn : 0;
}

const char *secrets_warning(const struct secrets *s, size_t i)
{
	return s && i < s->nwarn ? s->warn[i] : NULL;
}

/* Index of name, or -(insertion point) - 1. */
static ssize_t find(const struct secrets *s, const char *name)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->e[mid]->name, name);
		if (c == 0)
			return (ssize_t)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(ssize_t)lo - 1;
}

/* The base64 characters of value that do not depend on its neighbours when
 * it sits at byte offset shift (0..2) of a 3-byte group: written at out, the
 * count returned. */
static size_t b64_stable(const unsigned char *v, size_t len, unsigned shift, const char *alpha,
			 char *out)
{
	size_t total = shift + len, w = 0;
	size_t full = total / 3 * 4, rem = total % 3;
	size_t end = full + (rem == 0 ? 0 : rem == 1 ? 1 : 2);
	size_t start = shift == 0 ? 0 : shift == 1 ? 2 : 3;
	for (size_t k = start; k < end; k++) {
		/* The 6 bits of output character k: bits 6k..6k+5 of the
		 * shifted stream (bytes before the value are zero). */
		size_t bit = k * 6;
		unsigned acc = 0;
		for (unsigned b = 0; b < 6; b++, bit++) {
			size_t byte = bit / 8;
			unsigned char c = byte < shift ? 0 : v[byte - shift];
			acc = (acc << 1) | ((c >> (7 - bit % 8)) & 1);
		}
		out[w++] = alpha[acc];
	}
	return w;
}

/* value percent-encoded as a URL's query or path would carry it (every
 * byte but A-Z a-z 0-9 - . _ ~ as %XX): written at out, its length
 * returned. */
static size_t url_encode(const unsigned char *v, size_t len, const char *digits, char *out)
{
	size_t w = 0;
	for (size_t k = 0; k < len; k++) {
		unsigned char c = v[k];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			out[w++] = (char)c;
		} else {
			out[w++] = '%';
			out[w++] = digits[c >> 4];
			out[w++] = digits[c & 15];
		}
	}
	return w;
}

int secrets_entry_new(const char *name, const void *value, size_t len, struct entry **ret)
{
	static const char std[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char url[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	_cleanup_free_ struct entry *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	/* The value, NUL, six base64 forms of at most 4/3 len + 4 each, two
	 * hex forms, two URL-encoded forms of at most 3 len each. */
	size_t b64 = len / 3 * 4 + 8;
	e->mem = secrets_mem_alloc(len + 1 + 6 * b64 + 4 * len + 6 * len);
	if (!e->mem)
		return -ENOMEM;
	memcpy(e->mem, value, len);
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->pub = (struct secret){ .name = e->name, .value = e->mem, .len = len };
	if (len >= SECRETS_REDACT_MIN) {
		e->pat[e->npat++] = (struct pattern){ e->mem, len, 0, PAT_VALUE };
		if (len > SECRETS_AFFIX_MIN)
			e->pat[e->npat++] =
			    (struct pattern){ e->mem + len - SECRETS_AFFIX_MIN, SECRETS_AFFIX_MIN,
					      len - SECRETS_AFFIX_MIN, PAT_SUFFIX };
		size_t first_form = e->npat;
		char *o = e->mem + len + 1;
		for (unsigned a = 0; a < 2; a++)
			for (unsigned shift = 0; shift < 3; shift++) {
				size_t n = b64_stable(value, len, shift, a ? url : std, o);
				bool dup = false;
				for (size_t k = first_form; k < e->npat && !dup; k++)
					dup = e->pat[k].n == n && memcmp(e->pat[k].p, o, n) == 0;
				if (n >= B64_MIN && !dup) {
					e->pat[e->npat++] = (struct pattern){ .p = o, .n = n };
					o += n;
				}
			}
		for (unsigned c = 0; c < 2; c++) {
			const char *digits = c ? "0123456789ABCDEF" : "0123456789abcdef";
			const unsigned char *v = value;
			for (size_t k = 0; k < len; k++) {
				o[2 * k] = digits[v[k] >> 4];
				o[2 * k + 1] = digits[v[k] & 15];
			}
			e->pat[e->npat++] = (struct pattern){ .p = o, .n = 2 * len };
			o += 2 * len;
		}
		for (unsigned c = 0; c < 2; c++) {
			size_t n =
			    url_encode(value, len, c ? "0123456789abcdef" : "0123456789ABCDEF", o);
			/* the same as the value (nothing to escape) or as the
			 * upper-case form (no letter in an escape): not again */
			if (n == len || (c && memcmp(o, e->pat[e->npat - 1].p, n) == 0 &&
					 e->pat[e->npat - 1].n == n))
				continue;
			e->pat[e->npat++] = (struct pattern){ .p = o, .n = n };
			o += n;
		}
	}
	*ret = TAKE_PTR(e);
	return 0;
}

int secrets_put(struct secrets *s, const char *name, const void *value, size_t len,
		enum secret_source src, const char *origin, unsigned line)
{
	if (s->known)
		return -EINVAL; /* secrets_know() */
	if (!dotenv_name_valid(name))
		return -EINVAL;
	if (len > SECRETS_VALUE_MAX)
		return -E2BIG;
	if (memchr(value, '\0', len))
		return -EILSEQ;
	ssize_t at = find(s, name);
	if (at >= 0) {
		struct entry *old = s->e[at];
		if (old->pub.source > src)
			return 0; /* a higher source has it */
		if (old->pub.source == src && origin) {
			if (old->pub.line && line)
				secrets_add_warning(
				    s,
				    "'%s' line %u: '%s' is set again (first on line %u); "
				    "the last one wins",
				    origin, line, name, old->pub.line);
			else
				secrets_add_warning(s, "'%s': '%s' is set twice; the last one wins",
						    origin, name);
		}
	} else if (s->n == s->max) {
		return -ENOSPC;
	}
	struct entry *e;
	int r = secrets_grow(s);
	if (r < 0 || (r = secrets_entry_new(name, value, len, &e)) < 0)
		return r;
	e->pub.source = src;
	e->pub.line = line;
	s->bytes += len;
	s->idx_dirty = true;
	if (at >= 0) {
		s->bytes -= s->e[at]->pub.len;
		secrets_entry_free(s->e[at]);
		s->e[at] = e;
		return 0;
	}
	size_t pos = (size_t)(-at - 1);
	memmove(s->e + pos + 1, s->e + pos, (s->n - pos) * sizeof(struct entry *));
	s->e[pos] = e;
	s->n++;
	return 0;
}

int secrets_unset(struct secrets *s, const char *name)
{
	ssize_t at = find(s, name);
	if (at < 0 || s->known)
		return at < 0 ? -ENOENT : -EINVAL;
	s->bytes -= s->e[at]->pub.len;
	s->idx_dirty = true;
	secrets_entry_free(s->e[at]);
	memmove(s->e + at, s->e + at + 1, (s->n - (size_t)at - 1) * sizeof(struct entry *));
	s->n--;
	return 0;
}

size_t secrets_count(const struct secrets *s)
{
	return s ? s->n : 0;
}

const struct secret *secrets_at(const struct secrets *s, size_t i)
{
	return s && i < s->n ? &s->e[i]->pub : NULL;
}

const struct secret *secrets_get(const struct secrets *s, const char *name)
{
	ssize_t at = s ? find(s, name) : -1;
	return at >= 0 ? &s->e[at]->pub : NULL;
}

int secrets_foreach(const struct secrets *s, int (*fn)(const struct secret *sec, void *ctx),
		    void *ctx)
{
	for (size_t i = 0; s && i < s->n; i++) {
		int r = fn(&s->e[i]->pub, ctx);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- environment ---- */

struct secrets_env {
	char **v; /* points into the block itself */
};

static bool same_name(const char *kv, const char *name)
{
	size_t n = strlen(name);
	return strncmp(kv, name, n) == 0 && kv[n] == '=';
}

/* True when a secret replaces the base entry kv ("NAME=..."). */
static bool shadowed(const struct secrets *s, const char *kv)
{
	for (size_t j = 0; s && j < s->n; j++)
		if (same_name(kv, s->e[j]->name))
			return true;
	return false;
}

int secrets_env_build(const struct secrets *s, char *const *base, struct secrets_env **ret)
{
	size_t nbase = 0, count = 0, bytes = 0;
	for (; base && base[nbase]; nbase++)
		;
	for (size_t i = 0; i < nbase; i++) {
		if (shadowed(s, base[i]))
			continue;
		bytes += strlen(base[i]) + 1;
		count++;
	}
	for (size_t i = 0; s && i < s->n; i++) {
		bytes += strlen(s->e[i]->name) + 1 + s->e[i]->pub.len + 1;
		count++;
	}
	size_t vec = (count + 1) * sizeof(char *);
	struct secrets_env *e = secrets_mem_alloc(sizeof(*e) + vec + bytes);
	if (!e)
		return -ENOMEM;
	e->v = (char **)(e + 1);
	char *p = (char *)e->v + vec;
	size_t k = 0;
	for (size_t i = 0; i < nbase; i++) {
		if (shadowed(s, base[i]))
			continue;
		size_t l = strlen(base[i]) + 1;
		memcpy(p, base[i], l);
		e->v[k++] = p;
		p += l;
	}
	for (size_t i = 0; s && i < s->n; i++) {
		const struct secret *sec = &s->e[i]->pub;
		size_t nl = strlen(sec->name);
		e->v[k++] = p;
		memcpy(p, sec->name, nl);
		p[nl] = '=';
		memcpy(p + nl + 1, sec->value, sec->len);
		p[nl + 1 + sec->len] = '\0';
		p += nl + 1 + sec->len + 1;
	}
	e->v[k] = NULL;
	*ret = e;
	return 0;
}

char *const *secrets_env_vector(const struct secrets_env *e)
{
	return e->v;
}

struct secrets_env *secrets_env_free(struct secrets_env *e)
{
	return secrets_mem_free(e);
}

/* ---- the scanner ---- */

int secrets_add_to_scan(const struct secrets *s, struct scan_rules *rules)
{
	for (size_t i = 0; s && i < s->n; i++) {
		const struct secret *e = &s->e[i]->pub;
		if (e->len < SECRETS_REDACT_MIN)
			continue;
		int r = scan_rules_add_known_secret(rules, e->name, e->value, e->len);
		if (r < 0)
			return r;
	}
	return 0;
}

char *secrets_redact_message(const char *msg, void *ctx)
{
	char *out = NULL;
	if (secrets_redact(ctx, msg, strlen(msg), &out) < 0)
		return strdup("(a message was withheld: it could not be redacted)");
	return out;
}
