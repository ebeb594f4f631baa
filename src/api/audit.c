/* GET /v1/boxes/B/audit: the last N events of the box's audit log
 * (?tail=N, ?since=TIME), or with ?follow=true a stream of them
 * (newline-delimited JSON, the log's own lines) that goes on with every
 * new event until the client leaves or the daemon stops. */
#include "util/common.h"
#include "util/clock.h"

#include <poll.h>

#include "api/api_int.h"
#include "state/audit.h"

#define TAIL_DEFAULT   100
#define TAIL_MAX       10000
#define FOLLOW_POLL_MS 250
#define KEEPALIVE_MS   15000

/* The last n lines (raw) with seq > after, in a ring. */
struct tail {
	char **v;
	size_t n, cap, first;
	int64_t after, last_seq, last_ms;
};

static int keep(json_t *obj, const char *raw, void *ctx)
{
	struct tail *t = ctx;
	int64_t seq = json_integer_value(json_object_get(obj, "seq"));
	if (seq <= t->after)
		return 0;
	t->last_seq = seq;
	char *line = strdup(raw);
	if (!line)
		return -ENOMEM;
	if (t->n < t->cap) {
		t->v[(t->first + t->n++) % t->cap] = line;
	} else {
		free(t->v[t->first]);
		t->v[t->first] = line;
		t->first = (t->first + 1) % t->cap;
	}
	return 0;
}

static void tail_free(struct tail *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[(t->first + i) % t->cap]);
	free(t->v);
	t->v = NULL;
	t->n = t->first = 0;
}

static int tail_read(const struct box *b, int64_t since_ms, struct tail *t)
{
	if (!t->v && !(t->v = calloc(t->cap, sizeof(*t->v))))
		return -ENOMEM;
	int r = audit_foreach(b->dir, since_ms, keep, t);
	return r == -ENOENT ? 0 : r;
}

struct follow {
	struct api *api;
	struct box b;
	struct tail t;
	char *buf;
	size_t len, off;
	off_t size; /* of the log when last read */
	int64_t quiet_since;
};

/* Move what t holds into f's buffer (one line each). */
static int flush_tail(struct follow *f)
{
	size_t total = 0;
	for (size_t i = 0; i < f->t.n; i++)
		total += strlen(f->t.v[(f->t.first + i) % f->t.cap]) + 1;
	free(f->buf);
	f->buf = malloc(total + 1);
	f->len = f->off = 0;
	if (!f->buf)
		return -ENOMEM;
	for (size_t i = 0; i < f->t.n; i++) {
		const char *l = f->t.v[(f->t.first + i) % f->t.cap];
		size_t k = strlen(l);
		memcpy(f->buf + f->len, l, k);
		f->buf[f->len + k] = '\n';
		f->len += k + 1;
	}
	f->t.after = f->t.last_seq;
	tail_free(&f->t);
	return 0;
}

/* Whether the log grew since f last read it. */
static bool grew(struct follow *f)
{
	char path[PATH_MAX + 16];
	struct stat st;
	snprintf(path, sizeof(path), "%s/audit.jsonl", f->b.dir);
	if (stat(path, &st) < 0 || st.st_size == f->size)
		return false;
	f->size = st.st_size;
	return true;
}

static ssize_t follow_stream(void *ctx, char *out, size_t max)
{
	struct follow *f = ctx;
	while (f->off == f->len) {
		if (f->api->stopping)
			return 0;
		if (grew(f)) {
			if (tail_read(&f->b, 0, &f->t) < 0 || flush_tail(f) < 0)
				return -1;
			f->quiet_since = clock_ms();
			continue;
		}
		if (clock_ms() - f->quiet_since > KEEPALIVE_MS) {
			f->quiet_since = clock_ms();
			out[0] = '\n'; /* a blank line: tells a dead client apart */
			return 1;
		}
		poll(NULL, 0, FOLLOW_POLL_MS);
	}
	size_t n = f->len - f->off < max ? f->len - f->off : max;
	memcpy(out, f->buf + f->off, n);
	f->off += n;
	return (ssize_t)n;
}

static void follow_free(void *ctx)
{
	struct follow *f = ctx;
	tail_free(&f->t);
	free(f->buf);
	free(f);
}

static int start_follow(struct api_req *rq, struct api_resp *rs, const struct box *b,
			struct tail *t)
{
	struct follow *f = calloc(1, sizeof(*f));
	if (!f)
		return api_errorf(rs, 500, "out of memory");
	f->api = rq->api;
	f->b = *b;
	f->t = *t;
	f->quiet_since = clock_ms();
	(void)grew(f);
	if (flush_tail(f) < 0) {
		follow_free(f);
		return api_errorf(rs, 500, "out of memory");
	}
	f->t.cap = TAIL_MAX;
	rs->status = 200;
	rs->ctype = "application/x-ndjson";
	rs->stream = follow_stream;
	rs->stream_free = follow_free;
	rs->stream_ctx = f;
	return 0;
}

int api_h_audit(struct api_req *rq, struct api_resp *rs)
{
	struct box b = { 0 };
	uint64_t n;
	int64_t since = 0;
	if (api_req_box(rq, rs, &b) < 0 || api_query_u64(rq, rs, "tail", TAIL_DEFAULT, &n) < 0)
		return -EINVAL;
	const char *s = rq->query(rq, "since");
	if (s && audit_parse_time(s, api_wall_ms(), &since) < 0)
		return api_errorf(rs, 400,
				  "'since': a time (2026-11-28T08:30:00Z) or an age (10m, 2h)");
	struct tail t = { .cap = n == 0         ? 1
				 : n > TAIL_MAX ? TAIL_MAX
						: (size_t)n,
			  .after = -1,
			  .last_seq = -1 };
	int r = tail_read(&b, since, &t);
	if (r < 0) {
		tail_free(&t);
		return api_errorf(rs, 500, "cannot read the audit log of box '%s': %s", b.name,
				  strerror(-r));
	}
	if (n == 0)
		tail_free(&t); /* follow only what comes */
	if (api_query_bool(rq, "follow"))
		return start_follow(rq, rs, &b, &t);
	json_t *arr = json_array();
	for (size_t i = 0; i < t.n; i++)
		json_array_append_new(arr, json_loads(t.v[(t.first + i) % t.cap], 0, NULL));
	tail_free(&t);
	return api_json(rs, 200, json_pack("{s:s, s:o}", "box", b.name, "events", arr));
}
