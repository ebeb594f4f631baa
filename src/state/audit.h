/* The audit log of a box: $BOX/audit.jsonl, one JSON object per line:
 *   {"seq":N,"time":"2026-11-28T08:30:00.123Z","box":"NAME","event":"E",
 *    ...event fields...,"prev":"<sha256 hex of the previous line>"}
 * The first line's prev is 64 zeros. $BOX/audit.head holds "N HASH" of the
 * last line, so removing lines at the end is detected too. Appends are
 * serialized with flock(); any module adds its events through audit_append().
 * Modules never print; functions return >= 0 or -errno. */
#ifndef CLAWBOX_AUDIT_H
#define CLAWBOX_AUDIT_H
#include "util/common.h"

#include <jansson.h>

#define AUDIT_LINE_MAX (1024 * 1024)

struct audit;

/* Open (creating if needed, mode 0600) the audit log in box_dir. Every
 * string of every event is then redacted against every value the box ever
 * knew (src/secrets/secrets.h: secrets.known and the store, loaded here): whoever
 * writes an event cannot leave a value in the log. A secrets.known that
 * cannot be read fails the open (nothing unredacted is written). */
int audit_open(const char *box_dir, const char *box_name, struct audit **ret);
/* The same with the box's known set at hand (borrowed: it must outlive the
 * log's use), e.g. a run's, which holds its new values too. */
struct secrets;
int audit_open_known(const char *box_dir, const char *box_name, const struct secrets *known,
		     struct audit **ret);
struct audit *audit_close(struct audit *a);

/* Append one event. fields is a JSON object or NULL; it is consumed (its
 * reference is stolen) whether or not the append succeeds. Its keys must not
 * be seq/time/box/event/prev. */
int audit_append(struct audit *a, const char *event, json_t *fields);
/* Append n events (events[i] with fields[i], each consumed) under one lock
 * and one read of the head: for a writer with many at once (the write
 * watcher). Stops at the first failure (the events before it are
 * written). */
int audit_append_many(struct audit *a, size_t n, const char *const *events, json_t **fields);

/* A filter of the caller's own, applied after the known values to every
 * string of every line before the line is hashed and written: fn returns 0 when
 * s[0..len) needs no change, 1 with *ret a new heap string replacing it, or
 * < 0, which fails the append (nothing unfiltered is written). */
typedef int (*audit_redact_fn)(const char *s, size_t len, char **ret, void *ctx);
/* Install (fn NULL: remove) the filter of a; ctx must outlive its use. */
void audit_set_redactor(struct audit *a, audit_redact_fn fn, void *ctx);

/* Format t (unix milliseconds) as the log's time stamp (UTC, RFC 3339). */
void audit_format_time(int64_t ms, char out[32]);
/* Parse an RFC 3339 UTC time ("2026-11-28T08:30:00Z", fraction optional, or a
 * plain date) or a relative age ("90s", "10m", "2h", "7d" before now) into
 * unix milliseconds. */
int audit_parse_time(const char *s, int64_t now_ms, int64_t *ret_ms);

struct audit_verify_result {
	uint64_t lines;    /* lines checked */
	uint64_t bad_line; /* first bad line (1-based), 0 if intact */
	char reason[128];
	char note[128]; /* intact, but an interrupted append was seen */
};
/* Check the whole chain and the head. 0 when intact; -EBADMSG with
 * ret->bad_line and ret->reason when a line was edited, inserted or removed.
 * A crash in the middle of an append (a whole line past the head that
 * continues the chain, or a torn last line) is not tampering: 0, with
 * ret->note saying so; the next append repairs it. */
int audit_verify(const char *box_dir, struct audit_verify_result *ret);

/* Call fn for every line whose time is >= since_ms (0: all), in order, with
 * the parsed object and the raw line. Stops when fn returns < 0. */
int audit_foreach(const char *box_dir, int64_t since_ms,
		  int (*fn)(json_t *obj, const char *raw, void *ctx), void *ctx);

#endif
