#include "util/common.h"

#include "scan/scan.h"
#include "secrets/secrets.h"
#include "util/array.h"
#include "util/buf.h"
#include "util/fs.h"

#include <pthread.h>
#include <stdarg.h>
#include <sys/file.h>
#include <sys/mman.h>

#define MAX_WARNINGS 32
/* The value, base64 in 2 alphabets x 3 alignments, hex in 2 cases,
 * URL-encoded in 2 cases. */
#define MAX_PATTERNS 11
#define B64_MIN      8 /* shorter base64 forms would redact ordinary text */

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

struct pattern {
	const char *p;
	size_t n;
};

struct entry {
	struct secret pub;
	char name[DOTENV_NAME_MAX + 1];
	char *mem; /* secret memory: the value, NUL, then its base64 forms */
	struct pattern pat[MAX_PATTERNS];
	size_t npat;
};

/* The redactors' index: every pattern by a hash of its first two bytes (a
 * pattern has at least 4), so a position costs the few patterns that begin
 * like it, not all of them (a box may know 1024 values, 9 patterns each). */
#define IDX_BUCKETS 4096
struct slot {
	const struct entry *e;
	const struct pattern *pt;
};

struct secrets {
	pthread_mutex_t idx_lock;
	bool idx_dirty;   /* the patterns changed since the index was built */
	struct slot *idx; /* by bucket */
	uint32_t *bucket; /* IDX_BUCKETS + 1 starts in idx */
	struct entry **e; /* sorted by name (a known set: equal names in the
			   * order they were learnt) */
	size_t n, cap;
	size_t max;   /* SECRETS_MAX, or SECRETS_KNOWN_MAX for a known set */
	size_t bytes; /* of every value */
	bool known;   /* a known set: one name may hold several values */
	size_t nfile; /* a known set: how many its file held */
	char *warn[MAX_WARNINGS];
	size_t nwarn;
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

static unsigned idx_key(const char *b)
{
	return (((unsigned)(unsigned char)b[0] << 4) ^ (unsigned char)b[1]) & (IDX_BUCKETS - 1);
}

/* Build the index when the patterns changed (under its lock: the terminal
 * relay and clawbox's messages may redact against one set at once). */
static int index_ready(const struct secrets *cs)
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

/* Room for one more entry pointer. */
static int grow(struct secrets *s)
{
	void *v = s->e;
	/* An array of pointers: sizeof a pointer is meant. */
	int r = array_grow(&v, &s->cap, s->n, sizeof(*s->e)); // NOLINT(bugprone-sizeof-expression)
	if (r == 0)
		s->e = v;
	return r;
}

static struct entry *entry_free(struct entry *e)
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
		entry_free(s->e[i]);
	for (size_t i = 0; i < s->nwarn; i++)
		free(s->warn[i]);
	free(s->e);
	free(s->idx);
	free(s->bucket);
	pthread_mutex_destroy(&s->idx_lock);
	free(s);
	return NULL;
}

_printf_(2, 3) static void add_warning(struct secrets *s, const char *fmt, ...)
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

static int entry_new(const char *name, const void *value, size_t len, struct entry **ret)
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
		e->pat[e->npat++] = (struct pattern){ e->mem, len };
		char *o = e->mem + len + 1;
		for (unsigned a = 0; a < 2; a++)
			for (unsigned shift = 0; shift < 3; shift++) {
				size_t n = b64_stable(value, len, shift, a ? url : std, o);
				bool dup = false;
				for (size_t k = 1; k < e->npat && !dup; k++)
					dup = e->pat[k].n == n && memcmp(e->pat[k].p, o, n) == 0;
				if (n >= B64_MIN && !dup) {
					e->pat[e->npat++] = (struct pattern){ o, n };
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
			e->pat[e->npat++] = (struct pattern){ o, 2 * len };
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
			e->pat[e->npat++] = (struct pattern){ o, n };
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
				add_warning(s,
					    "'%s' line %u: '%s' is set again (first on line %u); "
					    "the last one wins",
					    origin, line, name, old->pub.line);
			else
				add_warning(s, "'%s': '%s' is set twice; the last one wins", origin,
					    name);
		}
	} else if (s->n == s->max) {
		return -ENOSPC;
	}
	struct entry *e;
	int r = grow(s);
	if (r < 0 || (r = entry_new(name, value, len, &e)) < 0)
		return r;
	e->pub.source = src;
	e->pub.line = line;
	s->bytes += len;
	s->idx_dirty = true;
	if (at >= 0) {
		s->bytes -= s->e[at]->pub.len;
		entry_free(s->e[at]);
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
	entry_free(s->e[at]);
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

/* ---- files ---- */

/* Read the whole of fd (a regular file of st->st_size bytes, at most
 * SECRETS_FILE_MAX) into secret memory with a NUL slot at the end. */
static int read_secret_fd(int fd, size_t max, char **ret, size_t *ret_len)
{
	size_t cap, len = 0;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size > max)
		return -EFBIG;
	cap = (size_t)st.st_size + 1;
	_cleanup_secret_mem_ char *buf = secrets_mem_alloc(cap + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == cap) /* grew while we read */
			return -EFBIG;
	}
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

struct load_ctx {
	struct secrets *s;
	enum secret_source src;
	const char *path;
	struct error *err;
};

static int load_one(const char *name, const char *value, size_t len, unsigned line, void *p)
{
	struct load_ctx *c = p;
	int r = secrets_put(c->s, name, value, len, c->src, c->path, line);
	if (r == -ENOSPC)
		return error_set(c->err, r, c->path, line, "more than %d secrets", SECRETS_MAX);
	if (r < 0)
		return error_set(c->err, r, c->path, line, "cannot add '%s': %s", name,
				 strerror(-r));
	return r;
}

static bool beneath_any(const char *path, const char *const *dirs)
{
	for (; *dirs; dirs++)
		if (path_is_beneath(path, *dirs))
			return true;
	return false;
}

/* Open path for reading secrets, with the checks of secrets_load_file().
 * Returns the fd, 0 for "nothing to read" (optional), or -errno with err. */
static int open_checked(struct secrets *s, const char *path, unsigned flags, bool allow_symlink,
			struct error *err)
{
	static const char *const odd[] = { "/proc", "/sys", "/dev", NULL };
	bool strict = flags & SECRETS_STRICT, optional = flags & SECRETS_OPTIONAL;
	char real[PATH_MAX];
	const char *open_path = path;
	struct stat st;

	if (lstat(path, &st) < 0) {
		int r = -errno;
		if (r == -ENOENT && optional)
			return 0;
		return error_errno(err, r, "cannot read secrets file '%s'", path);
	}
	if (S_ISLNK(st.st_mode)) {
		if (!allow_symlink)
			return error_set(err, -ELOOP, NULL, 0,
					 "refusing secrets file '%s': it is a symlink", path);
		if (!realpath(path, real))
			return error_errno(err, -errno, "secrets file '%s' is a symlink to nowhere",
					   path);
		if (beneath_any(real, odd))
			return error_set(err, -EPERM, NULL, 0,
					 "refusing secrets file '%s': it is a symlink to '%s'",
					 path, real);
		open_path = real;
	}
	_cleanup_close_ int fd =
	    open(open_path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		int r = -errno;
		if ((r == -EACCES || r == -EPERM) && optional && !strict) {
			add_warning(s, "cannot read secrets file '%s': %s; skipped", path,
				    strerror(-r));
			return 0;
		}
		return error_errno(err, r, "cannot read secrets file '%s'", path);
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return error_set(err, -EINVAL, NULL, 0,
				 "refusing secrets file '%s': not a regular file", path);
	bool foreign = st.st_uid != getuid() && st.st_uid != geteuid() && st.st_uid != 0;
	if (foreign && open_path != path)
		return error_set(err, -EPERM, NULL, 0,
				 "refusing secrets file '%s': a symlink to '%s', owned by uid %u",
				 path, real, (unsigned)st.st_uid);
	const char *why = foreign                  ? "is owned by another user"
			  : (st.st_mode & S_IWOTH) ? "is writable by others"
			  : (st.st_mode & S_IROTH) ? "is readable by others"
						   : NULL;
	if (why && strict)
		return error_set(
		    err, -EPERM, NULL, 0,
		    "refusing secrets file '%s': it %s (mode %04o); 'chmod 600' it (--strict)",
		    path, why, (unsigned)(st.st_mode & 07777));
	if (why)
		add_warning(s, "secrets file '%s' %s (mode %04o): 'chmod 600' it", path, why,
			    (unsigned)(st.st_mode & 07777));
	return TAKE_FD(fd);
}

/* Parse into a scratch set first, so that nothing is added unless the whole
 * file is good, then merge. */
static int load_fd(struct secrets *s, int fd, const char *path, enum secret_source src,
		   struct error *err)
{
	_cleanup_secret_mem_ char *data = NULL;
	_cleanup_secrets_ struct secrets *tmp = NULL;
	size_t len = 0;
	int r = read_secret_fd(fd, SECRETS_FILE_MAX, &data, &len);
	if (r == -EFBIG)
		return error_set(err, r, NULL, 0,
				 "cannot read secrets file '%s': larger than 1 MiB", path);
	if (r < 0)
		return error_errno(err, r, "cannot read secrets file '%s'", path);
	if ((r = secrets_new(&tmp)) < 0)
		return r;
	struct load_ctx c = { .s = tmp, .src = src, .path = path, .err = err };
	int n = dotenv_parse(data, len, path, load_one, &c, err);
	for (size_t i = 0; n >= 0 && i < tmp->n && r >= 0; i++) {
		const struct secret *e = &tmp->e[i]->pub;
		r = secrets_put(s, e->name, e->value, e->len, src, path, e->line);
		if (r == -ENOSPC)
			error_set(err, r, path, 0, "more than %d secrets in all", SECRETS_MAX);
	}
	for (size_t i = 0; i < tmp->nwarn; i++)
		add_warning(s, "%s", tmp->warn[i]);
	return n < 0 ? n : r < 0 ? r : n;
}

int secrets_load_file(struct secrets *s, const char *path, enum secret_source src, unsigned flags,
		      struct error *err)
{
	error_clear(err);
	int r = open_checked(s, path, flags, true, err);
	if (r <= 0) /* 0: nothing to read, not fd 0 */
		return r;
	_cleanup_close_ int fd = r;
	return load_fd(s, fd, path, src, err);
}

int secrets_store_load(const char *box_dir, struct secrets *s, unsigned flags, struct error *err)
{
	char path[PATH_MAX];
	int r = path_join(path, sizeof(path), box_dir, SECRETS_STORE_FILE);
	if (r < 0)
		return r;
	error_clear(err);
	r = open_checked(s, path, flags | SECRETS_OPTIONAL, false, err);
	if (r <= 0) /* 0: nothing to read, not fd 0 */
		return r;
	_cleanup_close_ int fd = r;
	return load_fd(s, fd, path, SECRET_SOURCE_STORE, err);
}

/* NAME="value" with \\ \" \n \r \$ \` escaped: dotenv_parse reads it back
 * byte for byte. */
static size_t store_format(const struct secrets *s, const char *head, char *out)
{
	size_t w = strlen(head);
	if (out)
		memcpy(out, head, w);
	for (size_t i = 0; i < s->n; i++) {
		const struct secret *e = &s->e[i]->pub;
		size_t nl = strlen(e->name);
		if (out) {
			memcpy(out + w, e->name, nl);
			out[w + nl] = '=';
			out[w + nl + 1] = '"';
		}
		w += nl + 2;
		for (size_t k = 0; k < e->len; k++) {
			char c = e->value[k], esc = c == '\n' ? 'n' : c == '\r' ? 'r' : 0;
			if (c == '\\' || c == '"' || c == '$' || c == '`')
				esc = c;
			if (esc) {
				if (out) {
					out[w] = '\\';
					out[w + 1] = esc;
				}
				w += 2;
			} else {
				if (out)
					out[w] = c;
				w++;
			}
		}
		if (out) {
			out[w] = '"';
			out[w + 1] = '\n';
		}
		w += 2;
	}
	return w;
}

static int save_as(const char *box_dir, const char *file, const char *head, const struct secrets *s)
{
	size_t n = store_format(s, head, NULL);
	_cleanup_secret_mem_ char *buf = secrets_mem_alloc(n + 1);
	if (!buf)
		return -ENOMEM;
	store_format(s, head, buf);
	_cleanup_close_ int dfd = open(box_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return dfd < 0 ? -errno : fs_write_atomic_at(dfd, file, buf, n, 0600);
}

int secrets_store_save(const char *box_dir, const struct secrets *s)
{
	return save_as(box_dir, SECRETS_STORE_FILE,
		       "# clawbox: this box's secrets (clawbox secrets set/unset/import). Mode "
		       "0600; given to the box only through its environment.\n",
		       s);
}

/* ---- the values a box was ever given ---- */

int secrets_know(struct secrets *s, const char *name, const void *value, size_t len)
{
	if (!s->known || !dotenv_name_valid(name))
		return -EINVAL;
	if (len > SECRETS_VALUE_MAX)
		return -E2BIG;
	if (memchr(value, '\0', len))
		return -EILSEQ;
	if (len == 0)
		return 0; /* nothing to know */
	size_t pos = s->n;
	for (size_t i = 0; i < s->n; i++) {
		int c = strcmp(s->e[i]->name, name);
		if (c == 0 && s->e[i]->pub.len == len && memcmp(s->e[i]->mem, value, len) == 0)
			return 0;
		if (c > 0 && pos == s->n)
			pos = i;
	}
	if (s->n == s->max || len > SECRETS_KNOWN_BYTES - s->bytes)
		return -ENOSPC;
	struct entry *e;
	int r = grow(s);
	if (r < 0 || (r = entry_new(name, value, len, &e)) < 0)
		return r;
	e->pub.source = SECRET_SOURCE_STORE;
	memmove(s->e + pos + 1, s->e + pos, (s->n - pos) * sizeof(struct entry *));
	s->e[pos] = e;
	s->n++;
	s->bytes += len;
	s->idx_dirty = true;
	return 1;
}

static int know_one(const char *name, const char *value, size_t len, unsigned line, void *p)
{
	int r = secrets_know(p, name, value, len);
	return r < 0 ? r : 0;
}

int secrets_know_all(struct secrets *known, const struct secrets *from)
{
	int added = 0;
	for (size_t i = 0; from && i < from->n; i++) {
		const struct secret *e = &from->e[i]->pub;
		int r = secrets_know(known, e->name, e->value, e->len);
		if (r < 0)
			return r;
		added += r;
	}
	return added;
}

/* secrets.known only (with_store: the store too). */
static int known_load(const char *box_dir, struct secrets *s, bool with_store, struct error *err)
{
	char path[PATH_MAX];
	_cleanup_secret_mem_ char *data = NULL;
	_cleanup_secrets_ struct secrets *store = NULL;
	size_t len = 0;
	int r = path_join(path, sizeof(path), box_dir, SECRETS_KNOWN_FILE);
	if (r < 0)
		return r;
	error_clear(err);
	/* Strict: the file is clawbox's own, written 0600. */
	r = open_checked(s, path, SECRETS_OPTIONAL | SECRETS_STRICT, false, err);
	if (r < 0)
		return r;
	if (r > 0) { /* 0: nothing to read, not fd 0 */
		_cleanup_close_ int fd = r;
		r = read_secret_fd(fd, SECRETS_KNOWN_FILE_MAX, &data, &len);
		if (r < 0)
			return error_errno(err, r, "cannot read '%s'", path);
		r = dotenv_parse(data, len, path, know_one, s, err);
		if (r < 0 && !error_isset(err))
			return error_errno(err, r, "cannot read '%s'", path);
		if (r < 0)
			return r;
	}
	s->nfile = s->n;
	if (!with_store)
		return (int)s->n;
	/* The store, for a box whose store predates this file. */
	if ((r = secrets_new(&store)) < 0)
		return r;
	r = secrets_store_load(box_dir, store, 0, err);
	if (r >= 0 && (r = secrets_know_all(s, store)) < 0)
		error_set(err, r, NULL, 0, "box '%s' knows too many secret values", box_dir);
	return r < 0 ? r : (int)s->n;
}

int secrets_known_load(const char *box_dir, struct secrets *s, struct error *err)
{
	return known_load(box_dir, s, true, err);
}

int secrets_known_save(const char *box_dir, const struct secrets *s)
{
	if (!s->known)
		return -EINVAL;
	return save_as(box_dir, SECRETS_KNOWN_FILE,
		       "# clawbox: every secret value this box was ever given (stored, unset, "
		       "-e, --secrets, --config), kept so that the sync gate and the redactors "
		       "know them all. Mode 0600; never shown to the box. Removed with the box.\n",
		       s);
}

int secrets_known_record(const char *box_dir, const struct secrets *given, struct secrets **ret,
			 struct error *err)
{
	_cleanup_secrets_ struct secrets *k = NULL;
	_cleanup_close_ int lock = secrets_store_lock(box_dir);
	int r = lock < 0 ? lock : secrets_new_known(&k);
	error_clear(err);
	/* given holds what the caller wants known (a run's set holds the
	 * store); without it, the store is what to learn. */
	if (r == 0)
		r = known_load(box_dir, k, !given, err);
	if (r >= 0 && (r = secrets_know_all(k, given)) == -ENOSPC)
		error_set(
		    err, r, NULL, 0,
		    "the box already knows %zu secret values (%zu bytes): it keeps at most %d "
		    "(%d bytes) and never forgets one; 'clawbox delete' the box to start "
		    "afresh",
		    k->n, k->bytes, SECRETS_KNOWN_MAX, SECRETS_KNOWN_BYTES);
	if (r >= 0 && k->n > k->nfile)
		r = secrets_known_save(box_dir, k);
	if (r < 0) {
		if (!error_isset(err))
			error_errno(err, r, "cannot record the box's secret values");
		return r;
	}
	if (ret)
		*ret = TAKE_PTR(k);
	return 0;
}

int secrets_store_lock(const char *box_dir)
{
	_cleanup_close_ int fd = open(box_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return -errno;
	return TAKE_FD(fd);
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

/* ---- redaction ---- */

int secrets_redact(const struct secrets *s, const char *in, size_t len, char **ret)
{
	struct buf out = BUF_INIT(64 * 1024 * 1024);
	size_t copied = 0;
	bool hit = false;
	*ret = NULL;
	if (!s || s->n == 0)
		return 0;
	int r0 = index_ready(s);
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
	int r = index_ready(s);
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
