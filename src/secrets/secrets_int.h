/* What the parts of the secrets module share (src/secrets/secrets.c: the
 * set and its memory; secrets_store.c: the files; secrets_redact.c: the
 * redactors). Not for other modules: they use secrets.h. */
#ifndef CLAWBOX_SECRETS_INT_H
#define CLAWBOX_SECRETS_INT_H
#include "util/common.h"

#include "secrets/secrets.h"

#include <pthread.h>

#define MAX_WARNINGS 32
/* The value, base64 in 2 alphabets x 3 alignments, hex in 2 cases,
 * URL-encoded in 2 cases, the value's last SECRETS_AFFIX_MIN bytes. */
#define MAX_PATTERNS 12
#define B64_MIN      8 /* shorter base64 forms would redact ordinary text */

enum pattern_kind {
	PAT_WHOLE,  /* matches whole */
	PAT_VALUE,  /* the value: its first SECRETS_AFFIX_MIN or more bytes match too */
	PAT_SUFFIX, /* the value's last SECRETS_AFFIX_MIN bytes: the match grows back
		     * over the bytes before it while they are the value's */
};

struct pattern {
	const char *p;
	size_t n;
	size_t back; /* PAT_SUFFIX: the value's bytes before p */
	enum pattern_kind kind;
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

static inline unsigned idx_key(const char *b)
{
	return (((unsigned)(unsigned char)b[0] << 4) ^ (unsigned char)b[1]) & (IDX_BUCKETS - 1);
}

/* Build the index when the patterns changed (under its lock: the terminal
 * relay and clawbox's messages may redact against one set at once). */
int secrets_index_ready(const struct secrets *s);
/* Room for one more entry pointer in s->e. */
int secrets_grow(struct secrets *s);
/* A new entry holding value and its encoded forms, in secret memory. */
int secrets_entry_new(const char *name, const void *value, size_t len, struct entry **ret);
/* Wipes e; accepts NULL; returns NULL. */
struct entry *secrets_entry_free(struct entry *e);
/* Add a warning (at most MAX_WARNINGS; later ones are dropped). */
void secrets_add_warning(struct secrets *s, const char *fmt, ...) _printf_(2, 3);

#endif
