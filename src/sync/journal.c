#include "util/common.h"

#include "sync/journal.h"
#include "util/array.h"
#include "util/hash.h"

#define JOURNAL_MAGIC  "clawbox-sync-journal 1"
#define BASELINE_MAGIC "clawbox-sync-baseline 1"

static const char action_letters[] = {
	[GATE_ACT_NONE] = 'n',  [GATE_ACT_WRITE] = 'w',  [GATE_ACT_SYMLINK] = 'l',
	[GATE_ACT_MKDIR] = 'm', [GATE_ACT_DELETE] = 'd', [GATE_ACT_REPLACE] = 'r',
	[GATE_ACT_CHMOD] = 'c'
};

bool gate_fp_equal(const struct gate_fp *a, const struct gate_fp *b)
{
	return a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns &&
	       a->ctime_ns == b->ctime_ns && a->mode == b->mode;
}

static int put_hex(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	if (!s || !*s)
		return buf_puts(out, " -");
	int r = buf_puts(out, " ");
	for (; r == 0 && *s; s++) {
		char two[2] = { hex[(unsigned char)*s >> 4], hex[(unsigned char)*s & 15] };
		r = buf_append(out, two, 2);
	}
	return r;
}

static int put_fp(struct buf *out, const struct gate_fp *f)
{
	return buf_printf(out, " %llu %llu %lld %lld %o", (unsigned long long)f->ino,
			  (unsigned long long)f->size, (long long)f->mtime_ns,
			  (long long)f->ctime_ns, (unsigned)f->mode);
}

static int put_end(struct buf *out)
{
	char h[65];
	hash_sha256_hex(out->data, out->len, h);
	return buf_printf(out, "end %s\n", h);
}

int journal_add(struct journal *j, const struct journal_op *op)
{
	if (j->n >= JOURNAL_MAX_OPS)
		return -E2BIG;
	if (array_grow((void **)&j->ops, &j->cap, j->n, sizeof(*j->ops)) < 0)
		return -ENOMEM;
	struct journal_op o = *op;
	o.host = strdup(op->host);
	o.uppath = strdup(op->uppath ? op->uppath : op->host);
	o.target = op->target ? strdup(op->target) : NULL;
	if (!o.host || !o.uppath || (op->target && !o.target)) {
		free(o.host);
		free(o.uppath);
		free(o.target);
		return -ENOMEM;
	}
	j->ops[j->n++] = o;
	return 0;
}

static char choice_letter(enum gate_choice c)
{
	return c == GATE_CHOICE_KEEP_HOST ? 'k' : c == GATE_CHOICE_BESIDE ? 'b' : 'a';
}

int journal_format(const struct journal *j, struct buf *out)
{
	int r = buf_printf(out, "%s %s\n", JOURNAL_MAGIC, j->id);
	for (size_t i = 0; r == 0 && i < j->n; i++) {
		const struct journal_op *o = &j->ops[i];
		r = buf_printf(out, "op %c %c %o %s %s %u", action_letters[o->action],
			       choice_letter(o->choice), (unsigned)o->mode, o->old, o->newv,
			       (unsigned)o->stage);
		if (r == 0)
			r = put_fp(out, &o->upper);
		if (r == 0)
			r = put_hex(out, o->host);
		if (r == 0)
			r = put_hex(out, STREQ(o->uppath, o->host) ? NULL : o->uppath);
		if (r == 0)
			r = put_hex(out, o->target);
		if (r == 0)
			r = buf_puts(out, "\n");
	}
	return r < 0 ? r : put_end(out);
}

/* Tokenizer over one line: space-separated fields. */
struct line {
	const char *p, *end;
};

static bool next_field(struct line *l, const char **ret, size_t *ret_n)
{
	if (l->p >= l->end)
		return false;
	const char *s = l->p;
	const char *e = memchr(s, ' ', (size_t)(l->end - s));
	if (!e)
		e = l->end;
	if (e == s)
		return false;
	*ret = s;
	*ret_n = (size_t)(e - s);
	l->p = e < l->end ? e + 1 : e;
	return true;
}

static bool field_eq(struct line *l, const char *want)
{
	const char *f;
	size_t n;
	return next_field(l, &f, &n) && n == strlen(want) && memcmp(f, want, n) == 0;
}

static bool field_u64(struct line *l, int base, uint64_t *ret)
{
	const char *f;
	size_t n;
	char tmp[32];
	if (!next_field(l, &f, &n) || n >= sizeof(tmp) || f[0] == '-' || f[0] == '+')
		return false;
	memcpy(tmp, f, n);
	tmp[n] = '\0';
	char *end;
	errno = 0;
	unsigned long long v = strtoull(tmp, &end, base);
	if (errno || *end || end == tmp)
		return false;
	*ret = v;
	return true;
}

static bool field_i64(struct line *l, int64_t *ret)
{
	const char *f;
	size_t n;
	char tmp[32];
	if (!next_field(l, &f, &n) || n >= sizeof(tmp))
		return false;
	memcpy(tmp, f, n);
	tmp[n] = '\0';
	char *end;
	errno = 0;
	long long v = strtoll(tmp, &end, 10);
	if (errno || *end || end == tmp || tmp[0] == '+')
		return false;
	*ret = v;
	return true;
}

static bool field_fp(struct line *l, struct gate_fp *f)
{
	uint64_t mode;
	if (!field_u64(l, 10, &f->ino) || !field_u64(l, 10, &f->size) ||
	    !field_i64(l, &f->mtime_ns) || !field_i64(l, &f->ctime_ns) || !field_u64(l, 8, &mode) ||
	    mode > 0xffffffffu)
		return false;
	f->mode = (uint32_t)mode;
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* A hex field into a new string; "-" gives NULL with *ok. NUL bytes and
 * '/'-less empty names are refused by the caller's checks. */
static bool field_hex(struct line *l, char **ret)
{
	const char *f;
	size_t n;
	*ret = NULL;
	if (!next_field(l, &f, &n))
		return false;
	if (n == 1 && f[0] == '-')
		return true;
	if (n % 2 || n / 2 >= PATH_MAX)
		return false;
	char *s = malloc(n / 2 + 1);
	if (!s)
		return false;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(f[2 * i]), lo = hexval(f[2 * i + 1]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			free(s);
			return false;
		}
		s[i] = (char)(hi << 4 | lo);
	}
	s[n / 2] = '\0';
	*ret = s;
	return true;
}

static bool valid_hash(const char *s, size_t n)
{
	if (n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (hexval(s[i]) < 0)
			return false;
	return true;
}

/* OLD/NEW state tokens. */
static bool field_state(struct line *l, bool is_new, char out[72])
{
	const char *f;
	size_t n;
	if (!next_field(l, &f, &n) || n >= 72)
		return false;
	bool ok = (n == 1 && f[0] == '-') || (!is_new && n == 1 && (f[0] == 'd' || f[0] == 'o')) ||
		  (n == 66 && (f[0] == 'f' || f[0] == 'l' || (!is_new && f[0] == 't')) &&
		   f[1] == ':' && valid_hash(f + 2, 64));
	if (!ok)
		return false;
	memcpy(out, f, n);
	out[n] = '\0';
	return true;
}

/* A project-relative path: not empty, no leading '/', no "." or ".."
 * component, no empty component. */
static bool valid_relpath(const char *p)
{
	if (!p || !*p || p[0] == '/')
		return false;
	for (const char *c = p; *c;) {
		const char *e = strchr(c, '/');
		size_t n = e ? (size_t)(e - c) : strlen(c);
		if (n == 0 || n > NAME_MAX || (n == 1 && c[0] == '.') ||
		    (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		c += n;
		if (*c == '/')
			c++;
		if (e && !*c)
			return false;
	}
	return true;
}

/* Splits text into lines, checks the magic first line and the end line's
 * checksum; calls fn for each body line. */
static int parse_lines(const char *text, size_t len, const char *magic, size_t max,
		       int (*fn)(struct line *l, void *ctx), void *ctx, struct line *ret_first)
{
	if (len > max || len == 0 || text[len - 1] != '\n' || memchr(text, '\0', len))
		return -EBADMSG;
	const char *p = text, *end = text + len;
	size_t lineno = 0;
	bool ended = false;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		struct line l = { p, nl };
		if (ended)
			return -EBADMSG;
		if (lineno == 0) {
			size_t m = strlen(magic);
			if ((size_t)(nl - p) < m || memcmp(p, magic, m) != 0 ||
			    (p + m != nl && p[m] != ' '))
				return -EBADMSG;
			l.p = p + m + (p + m != nl);
			*ret_first = l;
		} else if (nl - p >= 4 && memcmp(p, "end ", 4) == 0) {
			char h[65];
			hash_sha256_hex(text, (size_t)(p - text), h);
			if ((size_t)(nl - p) != 4 + 64 || memcmp(p + 4, h, 64) != 0)
				return -EBADMSG;
			ended = true;
		} else {
			int r = fn(&l, ctx);
			if (r < 0)
				return r;
		}
		lineno++;
		p = nl + 1;
	}
	return ended ? 0 : -EBADMSG;
}

static int parse_op(struct line *l, void *ctx)
{
	struct journal *j = ctx;
	struct journal_op o = { 0 };
	const char *f;
	size_t n;
	uint64_t mode, stage;
	int r = -EBADMSG;
	if (!field_eq(l, "op") || !next_field(l, &f, &n) || n != 1)
		return -EBADMSG;
	const char *a = memchr(action_letters, f[0], sizeof(action_letters));
	if (!a || f[0] == 0)
		return -EBADMSG;
	o.action = (enum gate_action)(a - action_letters);
	if (!next_field(l, &f, &n) || n != 1 || !strchr("akb", f[0]))
		return -EBADMSG;
	o.choice = f[0] == 'k'   ? GATE_CHOICE_KEEP_HOST
		   : f[0] == 'b' ? GATE_CHOICE_BESIDE
				 : GATE_CHOICE_APPLY;
	if (!field_u64(l, 8, &mode) || mode > 07777 || !field_state(l, false, o.old) ||
	    !field_state(l, true, o.newv) || !field_u64(l, 10, &stage) || stage > UINT32_MAX ||
	    !field_fp(l, &o.upper))
		return -EBADMSG;
	o.mode = (uint32_t)mode;
	o.stage = (uint32_t)stage;
	if (field_hex(l, &o.host) && field_hex(l, &o.uppath) && field_hex(l, &o.target) &&
	    l->p == l->end && valid_relpath(o.host) && (!o.uppath || valid_relpath(o.uppath)) &&
	    (o.action != GATE_ACT_SYMLINK || o.target) &&
	    (o.action != GATE_ACT_WRITE || o.newv[0] == 'f'))
		r = journal_add(j, &o);
	free(o.host);
	free(o.uppath);
	free(o.target);
	return r;
}

int journal_parse(const char *text, size_t len, struct journal *ret)
{
	struct journal j = { 0 };
	struct line first;
	int r = parse_lines(text, len, JOURNAL_MAGIC, JOURNAL_MAX_BYTES, parse_op, &j, &first);
	if (r == 0) {
		const char *f;
		size_t n;
		if (!next_field(&first, &f, &n) || n != 16 || first.p != first.end)
			r = -EBADMSG;
		for (size_t i = 0; r == 0 && i < n; i++)
			if (hexval(f[i]) < 0)
				r = -EBADMSG;
		if (r == 0) {
			memcpy(j.id, f, 16);
			j.id[16] = '\0';
		}
	}
	if (r < 0) {
		journal_free(&j);
		return r;
	}
	*ret = j;
	return 0;
}

void journal_free(struct journal *j)
{
	for (size_t i = 0; i < j->n; i++) {
		free(j->ops[i].host);
		free(j->ops[i].uppath);
		free(j->ops[i].target);
	}
	free(j->ops);
	memset(j, 0, sizeof(*j));
}

int baseline_put(struct baseline *b, const struct baseline_rec *rec)
{
	for (size_t i = 0; i < b->n; i++)
		if (STREQ(b->v[i].path, rec->path)) {
			b->v[i].upper = rec->upper;
			b->v[i].host = rec->host;
			return 0;
		}
	if (b->n >= JOURNAL_MAX_OPS)
		return -E2BIG;
	if (array_grow((void **)&b->v, &b->cap, b->n, sizeof(*b->v)) < 0)
		return -ENOMEM;
	struct baseline_rec r = *rec;
	if (!(r.path = strdup(rec->path)))
		return -ENOMEM;
	b->v[b->n++] = r;
	return 0;
}

const struct baseline_rec *baseline_get(const struct baseline *b, const char *path)
{
	for (size_t i = 0; i < b->n; i++)
		if (STREQ(b->v[i].path, path))
			return &b->v[i];
	return NULL;
}

void baseline_del(struct baseline *b, const char *path)
{
	for (size_t i = 0; i < b->n; i++)
		if (STREQ(b->v[i].path, path)) {
			free(b->v[i].path);
			b->v[i] = b->v[--b->n];
			return;
		}
}

int baseline_format(const struct baseline *b, struct buf *out)
{
	int r = buf_printf(out, "%s\n", BASELINE_MAGIC);
	for (size_t i = 0; r == 0 && i < b->n; i++) {
		r = buf_puts(out, "b");
		if (r == 0)
			r = put_hex(out, b->v[i].path);
		if (r == 0)
			r = put_fp(out, &b->v[i].upper);
		if (r == 0)
			r = put_fp(out, &b->v[i].host);
		if (r == 0)
			r = buf_puts(out, "\n");
	}
	return r < 0 ? r : put_end(out);
}

static int parse_rec(struct line *l, void *ctx)
{
	struct baseline *b = ctx;
	struct baseline_rec rec = { 0 };
	int r = -EBADMSG;
	if (field_eq(l, "b") && field_hex(l, &rec.path) && valid_relpath(rec.path) &&
	    field_fp(l, &rec.upper) && field_fp(l, &rec.host) && l->p == l->end)
		r = baseline_put(b, &rec);
	free(rec.path);
	return r;
}

int baseline_parse(const char *text, size_t len, struct baseline *ret)
{
	struct baseline b = { 0 };
	struct line first;
	int r = parse_lines(text, len, BASELINE_MAGIC, JOURNAL_MAX_BYTES, parse_rec, &b, &first);
	if (r == 0 && first.p != first.end)
		r = -EBADMSG;
	if (r < 0) {
		baseline_free(&b);
		return r;
	}
	*ret = b;
	return 0;
}

void baseline_free(struct baseline *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->v[i].path);
	free(b->v);
	memset(b, 0, sizeof(*b));
}
