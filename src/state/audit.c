#include "util/common.h"

#include "state/audit.h"
#include "secrets/secrets.h"
#include "util/fs.h"
#include "util/hash.h"

#include <sys/file.h>
#include <time.h>

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

struct audit {
	int dirfd;
	int logfd;
	/* audit.head once it exists, kept open: it is overwritten in place,
	 * never replaced, so one fd serves every append (two opens and two
	 * closes an event fewer). -1 until then. */
	int headfd;
	char box[128];
	const struct secrets *known; /* every value the box was given; NULL: none */
	struct secrets *own_known;   /* known, when audit_open loaded it */
	audit_redact_fn redact;
	void *redact_ctx;
};

void audit_set_redactor(struct audit *a, audit_redact_fn fn, void *ctx)
{
	a->redact = fn;
	a->redact_ctx = ctx;
}

/* The filtered form of the string v, or NULL when it needs no change. A
 * result that is no longer valid UTF-8 (a value ending inside a character)
 * becomes "[REDACTED]" whole. */
static int redact_string(struct audit *a, json_t *v, json_t **ret)
{
	_cleanup_free_ char *out = NULL;
	char *out2 = NULL;
	const char *str = json_string_value(v);
	size_t len = json_string_length(v);
	int r = 0, hit = 0;
	*ret = NULL;
	if (a->known && (r = secrets_redact(a->known, str, len, &out)) > 0) {
		str = out;
		len = strlen(out);
		hit = 1;
	}
	if (r >= 0 && a->redact && (r = a->redact(str, len, &out2, a->redact_ctx)) > 0) {
		free(out);
		out = out2;
		hit = 1;
	}
	if (r < 0 || !hit)
		return r < 0 ? r : 0;
	*ret = json_string(out);
	if (!*ret)
		*ret = json_string("[REDACTED]");
	return *ret ? 0 : -ENOMEM;
}

static int redact_json(struct audit *a, json_t *j);

/* Filter v, a member of an object or array: a string's filtered form in
 * *ret (NULL: unchanged), anything else filtered in place. */
static int redact_member(struct audit *a, json_t *v, json_t **ret)
{
	*ret = NULL;
	return json_is_string(v) ? redact_string(a, v, ret) : redact_json(a, v);
}

/* Apply the filter to every string value of j, recursively (keys are the
 * code's own names and are left alone). */
static int redact_json(struct audit *a, json_t *j)
{
	const char *key;
	json_t *v, *nv;
	size_t i;
	int r;
	if (json_is_object(j)) {
		json_object_foreach(j, key, v)
		{
			if ((r = redact_member(a, v, &nv)) < 0)
				return r;
			if (nv && json_object_set_new(j, key, nv) < 0)
				return -ENOMEM;
		}
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v)
		{
			if ((r = redact_member(a, v, &nv)) < 0)
				return r;
			if (nv && json_array_set_new(j, i, nv) < 0)
				return -ENOMEM;
		}
	}
	return 0;
}

int audit_open(const char *box_dir, const char *box_name, struct audit **ret)
{
	return audit_open_known(box_dir, box_name, NULL, ret);
}

int audit_open_known(const char *box_dir, const char *box_name, const struct secrets *known,
		     struct audit **ret)
{
	_cleanup_free_ struct audit *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	_cleanup_close_ int dirfd = open(box_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	_cleanup_close_ int logfd = openat(
	    dirfd, "audit.jsonl", O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (logfd < 0)
		return -errno;
	snprintf(a->box, sizeof(a->box), "%s", box_name);
	/* Every event of the box is redacted against every value it was ever
	 * given: the one place every writer passes. Unreadable: no log. */
	_cleanup_secrets_ struct secrets *own = NULL;
	int r = known ? 0 : secrets_new_known(&own);
	if (r == 0 && !known)
		r = secrets_known_load(box_dir, own, NULL);
	if (r < 0)
		return r;
	a->dirfd = TAKE_FD(dirfd);
	a->logfd = TAKE_FD(logfd);
	a->headfd = -1;
	a->own_known = TAKE_PTR(own);
	a->known = known ? known : a->own_known;
	if (secrets_count(a->known) == 0)
		a->known = NULL;
	*ret = TAKE_PTR(a);
	return 0;
}

struct audit *audit_close(struct audit *a)
{
	if (a) {
		close(a->logfd);
		close(a->dirfd);
		if (a->headfd >= 0)
			close(a->headfd);
		secrets_free(a->own_known);
		free(a);
	}
	return NULL;
}

void audit_format_time(int64_t ms, char out[32])
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03uZ", (unsigned)(ms % 1000));
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int audit_parse_time(const char *s, int64_t now, int64_t *ret_ms)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (end != s && errno == 0 && v >= 0 && end[0] && !end[1] && !strchr(s, '-')) {
		int64_t unit = end[0] == 's'   ? 1000
			       : end[0] == 'm' ? 60000
			       : end[0] == 'h' ? 3600000
			       : end[0] == 'd' ? 86400000
					       : 0;
		if (!unit || v > INT64_MAX / unit / 2)
			return -EINVAL;
		*ret_ms = now - (int64_t)v * unit;
		return 0;
	}
	struct tm tm = { 0 };
	const char *p = strptime(s, "%Y-%m-%d", &tm);
	if (!p)
		return -EINVAL;
	int ms = 0;
	if (*p == 'T' || *p == ' ') {
		p = strptime(p + 1, "%H:%M", &tm);
		if (!p)
			return -EINVAL;
		if (*p == ':') {
			p = strptime(p + 1, "%S", &tm);
			if (!p)
				return -EINVAL;
			if (*p == '.') {
				int digits = 0;
				for (p++; *p >= '0' && *p <= '9'; p++, digits++)
					if (digits < 3)
						ms = ms * 10 + (*p - '0');
				for (; digits < 3; digits++)
					ms *= 10;
			}
		}
		if (*p == 'Z')
			p++;
	}
	if (*p)
		return -EINVAL;
	*ret_ms = (int64_t)timegm(&tm) * 1000 + ms;
	return 0;
}

/* Read "SEQ HASH [LEN]" from audit.head (LEN: the log's size in bytes up to
 * and including the recorded line; UINT64_MAX when absent). -ENOENT when
 * there is none yet. */
static int read_head_fd(int fd, uint64_t *ret_seq, char ret_hash[65], uint64_t *ret_len)
{
	char buf[160];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return -EBADMSG;
	buf[n] = '\0';
	char *end, *lend;
	errno = 0;
	unsigned long long seq = strtoull(buf, &end, 10);
	if (errno || end == buf || *end != ' ' || strspn(end + 1, "0123456789abcdef") != 64)
		return -EBADMSG;
	uint64_t len = UINT64_MAX;
	const char *t = end + 65;
	if (*t == ' ') {
		errno = 0;
		unsigned long long l = strtoull(t + 1, &lend, 10);
		if (errno || lend == t + 1)
			return -EBADMSG;
		len = l;
		t = lend;
	}
	if (*t != '\n' && *t != '\0')
		return -EBADMSG;
	*ret_seq = seq;
	memcpy(ret_hash, end + 1, 64);
	ret_hash[64] = '\0';
	*ret_len = len;
	return 0;
}

static int read_head(int dirfd, uint64_t *ret_seq, char ret_hash[65], uint64_t *ret_len)
{
	_cleanup_close_ int fd = openat(dirfd, "audit.head", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : read_head_fd(fd, ret_seq, ret_hash, ret_len);
}

/* Overwrite audit.head in place: one small pwrite (its length only grows
 * with the sequence number). A rename would make ext4 flush the new file on
 * every event (auto_da_alloc), which a box start cannot afford. */
static int write_head_fd(int fd, uint64_t seq, const char hash[65], uint64_t len)
{
	char buf[160];
	int n = snprintf(buf, sizeof(buf), "%llu %s %llu\n", (unsigned long long)seq, hash,
			 (unsigned long long)len);
	ssize_t w = pwrite(fd, buf, (size_t)n, 0);
	return w == n ? 0 : (w < 0 ? -errno : -EIO);
}

/* a's head, opened (and made, with create) once. 0 or -errno. */
static int head_open(struct audit *a, bool create)
{
	if (a->headfd >= 0)
		return 0;
	a->headfd = openat(a->dirfd, "audit.head",
			   O_RDWR | O_NOFOLLOW | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
	return a->headfd < 0 ? -errno : 0;
}

/* An append interrupted by a crash or SIGKILL leaves the log longer than its
 * head says: either a whole line that was written before the head (adopted:
 * it continues the chain), or part of a line (cut off again). Anything else
 * past the head is not ours to fix: -EBADMSG, and verify names it. On
 * return *seq, prev and *len describe the log's real end. */
static int recover_tail(struct audit *a, uint64_t *seq, char prev[65], uint64_t *len)
{
	struct stat st;
	if (*len == UINT64_MAX || fstat(a->logfd, &st) < 0)
		return 0; /* an old head without a length: nothing to compare */
	uint64_t size = (uint64_t)st.st_size;
	if (size == *len)
		return 0;
	if (size < *len || size - *len > AUDIT_LINE_MAX + 1)
		return -EBADMSG;
	size_t extra = (size_t)(size - *len);
	_cleanup_free_ char *buf = malloc(extra + 1);
	if (!buf)
		return -ENOMEM;
	if (pread(a->logfd, buf, extra, (off_t)*len) != (ssize_t)extra)
		return -EIO;
	buf[extra] = '\0';
	char *nl = memchr(buf, '\n', extra);
	if (!nl)
		return ftruncate(a->logfd, (off_t)*len) < 0 ? -errno : 0; /* torn: cut off */
	if (nl != buf + extra - 1)
		return -EBADMSG;
	json_t *j = json_loadb(buf, extra - 1, 0, NULL);
	const char *p = j ? json_string_value(json_object_get(j, "prev")) : NULL;
	bool ok = p && STREQ(p, prev) &&
		  json_integer_value(json_object_get(j, "seq")) == (json_int_t)(*seq + 1);
	json_decref(j);
	if (!ok)
		return -EBADMSG;
	hash_sha256_hex(buf, extra - 1, prev);
	(*seq)++;
	*len = size;
	return write_head_fd(a->headfd, *seq, prev, *len);
}

/* An append in progress: the log locked, where its chain ends. */
struct audit_tx {
	uint64_t seq, hlen;
	char prev[65];
};

/* Lock the log and find its end (repairing an interrupted append). */
static int tx_begin(struct audit *a, struct audit_tx *t)
{
	int r;
	t->seq = 0;
	t->hlen = UINT64_MAX;
	if (flock(a->logfd, LOCK_EX) < 0)
		return -errno;
	r = head_open(a, false);
	if (r == 0)
		r = read_head_fd(a->headfd, &t->seq, t->prev, &t->hlen);
	if (r == 0)
		r = recover_tail(a, &t->seq, t->prev, &t->hlen);
	if (r == -ENOENT) {
		struct stat st;
		/* A log without a head was tampered with or is not ours: refuse to
		 * extend it silently; verify will point at it. */
		if (fstat(a->logfd, &st) == 0 && st.st_size > 0)
			r = -EBADMSG;
		else {
			t->seq = 0;
			memcpy(t->prev, ZERO_HASH, 65);
			t->hlen = 0;
			r = 0;
		}
	}
	if (r < 0)
		flock(a->logfd, LOCK_UN);
	return r;
}

/* Append one line to the locked log and record it in the head (each line
 * its own head update: a crash leaves at most one line past the head). */
static int tx_line(struct audit *a, struct audit_tx *t, const char *event, json_t *fields)
{
	char ts[32], hash[65];
	int r = 0;
	json_t *line = json_object();
	if (!line)
		return -ENOMEM;
	audit_format_time(now_ms(), ts);
	json_object_set_new(line, "seq", json_integer((json_int_t)(t->seq + 1)));
	json_object_set_new(line, "time", json_string(ts));
	json_object_set_new(line, "box", json_string(a->box));
	json_object_set_new(line, "event", json_string(event));
	/* The event's fields only: seq, time, prev are the chain's own. */
	if ((a->known || a->redact) && fields)
		r = redact_json(a, fields);
	if (r == 0 && fields)
		json_object_update(line, fields);
	if (r == 0)
		json_object_set_new(line, "prev", json_string(t->prev));
	char *s = r == 0 ? json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII)
			 : NULL;
	json_decref(line);
	if (r < 0 || !s)
		return r < 0 ? r : -ENOMEM;
	size_t len = strlen(s);
	hash_sha256_hex(s, len, hash);
	s[len] = '\n'; /* overwrite NUL: json_dumps allocates len + 1 */
	r = fs_write_all(a->logfd, s, len + 1);
	free(s);
	struct stat st;
	/* the length, when the old head had one; else from the file */
	uint64_t end = t->hlen != UINT64_MAX       ? t->hlen + len + 1
		       : fstat(a->logfd, &st) == 0 ? (uint64_t)st.st_size
						   : 0;
	if (r == 0)
		r = head_open(a, true);
	if (r == 0)
		r = write_head_fd(a->headfd, t->seq + 1, hash, end);
	if (r == 0) {
		t->seq++;
		t->hlen = end;
		memcpy(t->prev, hash, 65);
	}
	return r;
}

int audit_append(struct audit *a, const char *event, json_t *fields)
{
	return audit_append_many(a, 1, &event, &fields);
}

int audit_append_many(struct audit *a, size_t n, const char *const *events, json_t **fields)
{
	struct audit_tx t;
	int r = tx_begin(a, &t);
	bool locked = r == 0;
	for (size_t i = 0; i < n && r == 0; i++)
		r = tx_line(a, &t, events[i], fields[i]);
	if (locked)
		flock(a->logfd, LOCK_UN);
	for (size_t i = 0; i < n; i++)
		json_decref(fields[i]);
	return r;
}

/* Read the next line (without '\n') of at most AUDIT_LINE_MAX bytes. Returns
 * its length, -1 at the end, -E2BIG for an overlong line. */
static ssize_t next_line(FILE *f, char **buf, size_t *cap)
{
	ssize_t n = getline(buf, cap, f);
	if (n < 0)
		return -1;
	if (n > AUDIT_LINE_MAX)
		return -E2BIG;
	if (n > 0 && (*buf)[n - 1] == '\n')
		(*buf)[--n] = '\0';
	return n;
}

static int verify_fail(struct audit_verify_result *ret, uint64_t line, const char *why)
{
	ret->bad_line = line;
	snprintf(ret->reason, sizeof(ret->reason), "%s", why);
	return -EBADMSG;
}

int audit_verify(const char *box_dir, struct audit_verify_result *ret)
{
	char path[PATH_MAX], prev[65] = ZERO_HASH, before[65] = ZERO_HASH, head_hash[65];
	uint64_t n = 0, head_seq = 0, head_len;
	_cleanup_free_ char *buf = NULL;
	size_t cap = 0;
	bool torn = false;
	int r = path_join(path, sizeof(path), box_dir, "audit.jsonl");
	if (r < 0)
		return r;
	memset(ret, 0, sizeof(*ret));
	_cleanup_close_ int dirfd = open(box_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	for (;;) {
		ssize_t raw = getline(&buf, &cap, f);
		if (raw < 0)
			break;
		bool nl = raw > 0 && buf[raw - 1] == '\n';
		ssize_t len = nl ? raw - 1 : raw;
		n++;
		if (len > AUDIT_LINE_MAX)
			return verify_fail(ret, n, "line too long");
		json_t *j = json_loadb(buf, (size_t)len, 0, NULL);
		if (!j && !nl && getc(f) == EOF) {
			/* the last line, cut short: an append that was interrupted */
			torn = true;
			n--;
			break;
		}
		if (!j)
			return verify_fail(ret, n, "not a JSON object");
		json_int_t seq = json_integer_value(json_object_get(j, "seq"));
		const char *p = json_string_value(json_object_get(j, "prev"));
		bool seq_ok = seq == (json_int_t)n, prev_ok = p && STREQ(p, prev);
		json_decref(j);
		if (!seq_ok)
			return verify_fail(
			    ret, n, "sequence number out of order (line inserted or removed)");
		if (!prev_ok)
			return verify_fail(ret, n,
					   "hash of the previous line does not match (line edited, "
					   "inserted or removed)");
		memcpy(before, prev, sizeof(before));
		hash_sha256_hex(buf, (size_t)len, prev);
	}
	ret->lines = n;
	r = read_head(dirfd, &head_seq, head_hash, &head_len);
	if (r == -ENOENT && n == 0)
		return 0;
	if (r < 0)
		return verify_fail(ret, n, "audit.head is missing or malformed");
	bool at_head = head_seq == n && STREQ(head_hash, prev);
	/* The line was written, the head not yet: an interrupted append. */
	bool one_past = n > 0 && head_seq == n - 1 && STREQ(head_hash, before);
	if (!at_head && !one_past) {
		if (head_seq > n)
			return verify_fail(ret, n,
					   "log ends before its recorded head (lines "
					   "removed at the end)");
		return verify_fail(ret, n,
				   "the log does not end where its head says (lines "
				   "edited, added or removed at the end)");
	}
	if (one_past || torn)
		snprintf(ret->note, sizeof(ret->note),
			 "an append was interrupted (%s); the next one completes it",
			 torn ? "a torn last line" : "the last line is not in audit.head yet");
	return 0;
}

int audit_foreach(const char *box_dir, int64_t since_ms,
		  int (*fn)(json_t *obj, const char *raw, void *ctx), void *ctx)
{
	char path[PATH_MAX];
	_cleanup_free_ char *buf = NULL;
	size_t cap = 0;
	int r = path_join(path, sizeof(path), box_dir, "audit.jsonl");
	if (r < 0)
		return r;
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	for (;;) {
		ssize_t len = next_line(f, &buf, &cap);
		if (len == -1)
			return 0;
		if (len < 0)
			return (int)len;
		json_t *j = json_loadb(buf, (size_t)len, 0, NULL);
		if (!j)
			return -EBADMSG;
		int64_t t = 0;
		const char *ts = json_string_value(json_object_get(j, "time"));
		if (since_ms && (!ts || audit_parse_time(ts, 0, &t) < 0 || t < since_ms)) {
			json_decref(j);
			continue;
		}
		r = fn(j, buf, ctx);
		json_decref(j);
		if (r < 0)
			return r;
	}
}
