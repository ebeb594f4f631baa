/* A box's secrets: named values given to the agent (layer 1) through its
 * environment at exec, and kept out of everything else.
 *
 * Sources, merged per name, highest first:
 *   SECRET_SOURCE_CLI     -e NAME=VALUE (or -e NAME: the caller's variable)
 *   SECRET_SOURCE_FILE    --secrets FILE (dotenv, src/secrets/dotenv.h)
 *   SECRET_SOURCE_CONFIG  --config DIR: DIR/.env
 *   SECRET_SOURCE_STORE   the box's stored secrets, $BOX/secrets.env (0600)
 * A value of a higher source replaces one of a lower source whatever the
 * order they are added in; a second value from the same source replaces the
 * first (last wins) and leaves a warning.
 *
 * Memory: every value, every form of it kept for redaction, every file read
 * for values and the environment block handed to exec live in "secret
 * memory" (secrets_mem_alloc): private anonymous pages, excluded from core
 * dumps (MADV_DONTDUMP), locked in RAM when the memlock limit allows, and
 * wiped with explicit_bzero before they are unmapped. Names are not secret.
 *
 * Nothing here prints and no error message holds a value. Functions return
 * >= 0 or -errno.
 *
 * For other modules (the sync gate, the audit writer):
 *   struct secrets *k;
 *   secrets_new_known(&k);
 *   secrets_known_load(box_dir, k, &err);      // every value the box knew
 *   secrets_add_to_scan(k, rules);             // known-secret matching
 *   ...
 *   k = secrets_free(k);
 * During a run, cli/launch.c holds the merged set of that run (all four
 * sources: the command's environment) and the box's known set (that run's
 * values recorded in it); secrets_foreach() walks (name, value) pairs of
 * any set. */
#ifndef CLAWBOX_SECRETS_H
#define CLAWBOX_SECRETS_H
#include "util/common.h"

#include "secrets/dotenv.h"

#define SECRETS_MAX            256              /* names in one set */
#define SECRETS_FILE_MAX       (1024 * 1024)    /* bytes of a dotenv file */
#define SECRETS_VALUE_MAX      DOTENV_VALUE_MAX /* bytes of one value */
#define SECRETS_REDACT_MIN     4                /* shorter values are not redacted */
#define SECRETS_AFFIX_MIN      12               /* a shown prefix or suffix this long is */
#define SECRETS_SHORT          8                /* shorter ones: a warning */
#define SECRETS_STORE_FILE     "secrets.env"    /* in the box's state dir */
#define SECRETS_CONFIG_ENV     ".env"           /* in a --config DIR */
#define SECRETS_KNOWN_FILE     "secrets.known"  /* in the box's state dir */
#define SECRETS_KNOWN_MAX      1024             /* values a box remembers */
#define SECRETS_KNOWN_BYTES    (1024 * 1024)    /* bytes of those values */
#define SECRETS_KNOWN_FILE_MAX (4 * SECRETS_KNOWN_BYTES)

enum secret_source {
	SECRET_SOURCE_STORE = 0,
	SECRET_SOURCE_CONFIG,
	SECRET_SOURCE_FILE,
	SECRET_SOURCE_CLI,
};

/* "stored", "config", "file", "-e". */
const char *secrets_source_name(enum secret_source src);

/* The original's known names (ANTHROPIC_API_KEY, ...), NULL-terminated. Any
 * other valid name is accepted too. */
extern const char *const secrets_known_names[];

/* One secret as other modules see it; valid until the set changes. */
struct secret {
	const char *name;
	const char *value; /* NUL-terminated, in secret memory; no NUL inside */
	size_t len;
	enum secret_source source;
	unsigned line; /* line in its file, 0 when not from a file */
};

struct secrets;

/* Secret memory: n bytes, zeroed; NULL when out of memory. */
void *secrets_mem_alloc(size_t n);
/* Wipes and unmaps; accepts NULL; returns NULL. */
void *secrets_mem_free(void *p);

int secrets_new(struct secrets **ret);
/* Wipes every value; accepts NULL; returns NULL. */
struct secrets *secrets_free(struct secrets *s);

static inline void secrets_freep(struct secrets **s)
{
	secrets_free(*s);
}
/* For a pointer into secret memory (secrets_mem_alloc): wiped on scope exit. */
static inline void secrets_mem_freep(void *p)
{
	secrets_mem_free(*(void **)p);
}
#define _cleanup_secrets_    _cleanup_(secrets_freep)
#define _cleanup_secret_mem_ _cleanup_(secrets_mem_freep)

/* Add (or replace, see the precedence above) one secret; value is copied.
 * -EINVAL for an invalid name, -E2BIG for a value over SECRETS_VALUE_MAX,
 * -EILSEQ for a NUL byte in the value, -ENOSPC past SECRETS_MAX names.
 * origin (a path or "-e") and line are only used in duplicate warnings. */
int secrets_put(struct secrets *s, const char *name, const void *value, size_t len,
		enum secret_source src, const char *origin, unsigned line);
/* Remove name; -ENOENT when it is not there. */
int secrets_unset(struct secrets *s, const char *name);

size_t secrets_count(const struct secrets *s);
/* The i-th secret in name order, or NULL past the end. */
const struct secret *secrets_at(const struct secrets *s, size_t i);
/* The secret called name, or NULL. */
const struct secret *secrets_get(const struct secrets *s, const char *name);
/* Call fn for every secret in name order; stops at fn < 0 and returns it. */
int secrets_foreach(const struct secrets *s, int (*fn)(const struct secret *sec, void *ctx),
		    void *ctx);

/* Warnings gathered while adding (duplicates, loose file modes, unreadable
 * optional files, values too short to redact): messages without values. */
size_t secrets_warning_count(const struct secrets *s);
const char *secrets_warning(const struct secrets *s, size_t i);

enum {
	SECRETS_OPTIONAL = 1 << 0, /* a missing file is no error (0 added); an
				    * unreadable one is a warning */
	SECRETS_STRICT = 1 << 1,   /* refuse what would only be warned about:
				    * a file readable or writable by others,
				    * owned by another user, or unreadable */
};

/* Read the dotenv file path into s as src. The file must be a regular file
 * of at most SECRETS_FILE_MAX bytes; a symlink is followed only to a regular
 * file owned by the caller or root, outside /proc, /sys and /dev. A file
 * readable or writable by others, or owned by another user, is a warning
 * (an error with SECRETS_STRICT). Nothing is added unless the whole file
 * parses. Returns the number of assignments read. */
int secrets_load_file(struct secrets *s, const char *path, enum secret_source src, unsigned flags,
		      struct error *err);

/* The store: $box_dir/secrets.env, 0600, owned by the caller, never a
 * symlink. Missing: 0 added. */
int secrets_store_load(const char *box_dir, struct secrets *s, unsigned flags, struct error *err);
/* Replace the store with every secret of s (whatever its source), written
 * atomically with mode 0600. */
int secrets_store_save(const char *box_dir, const struct secrets *s);
/* Serialize writers of the store: an exclusive flock on the box dir. Returns
 * the fd to close. */
int secrets_store_lock(const char *box_dir);

/* The environment for exec: every entry of base (NULL-terminated, not
 * secret) and every secret as NAME=VALUE, a secret replacing a base entry of
 * the same name. The vector and its strings are one block of secret memory:
 * pass secrets_env_vector() to execve and free the block afterwards. */
struct secrets_env;
int secrets_env_build(const struct secrets *s, char *const *base, struct secrets_env **ret);
char *const *secrets_env_vector(const struct secrets_env *e);
struct secrets_env *secrets_env_free(struct secrets_env *e);

/* Redaction: every value of at least SECRETS_REDACT_MIN bytes, and its
 * base64 forms (standard and URL alphabets, any alignment, at least 8
 * characters), hex and URL-encoded forms (lower and upper case each), and
 * a prefix or a suffix of the value of SECRETS_AFFIX_MIN bytes or more (a
 * key dialog shows a key's last 20 characters) in in[0..len) become
 * "[REDACTED:NAME]" (the longest match wins). Returns 0 and leaves *ret NULL when nothing matched; 1 with *ret a
 * new heap string (caller frees; it holds no value) when something did. */
int secrets_redact(const struct secrets *s, const char *in, size_t len, char **ret);

/* A message filter for clawbox's own messages (src/util/log.h's
 * log_set_filter, ctx: the struct secrets): NULL when msg holds no value,
 * else a new string with the values redacted, or, when redaction fails, a
 * notice that the message was withheld (never msg itself). */
char *secrets_redact_message(const char *msg, void *ctx);

/* The same redaction on a stream (the box terminal's output), chunk by
 * chunk: a value split between chunks is still caught. A chunk is passed
 * on at once but for a tail that begins a value or a base64 form: that
 * waits for the next chunk, or for secrets_stream_flush(). A short tail
 * (under SECRETS_STREAM_HOLD bytes: a keystroke's echo can be one) is
 * flushed after SECRETS_STREAM_WAIT_MS without output, so a terminal never
 * stalls; a longer one waits for more output or the end. What waits is
 * kept in secret memory. s must outlive the stream. */
#define SECRETS_STREAM_WAIT_MS 20
#define SECRETS_STREAM_HOLD    8
#define SECRETS_STREAM_CHUNK   8192 /* most bytes of one feed */
struct secrets_stream;
/* *ret NULL when s has nothing to redact. 0 or -ENOMEM. */
int secrets_stream_new(const struct secrets *s, struct secrets_stream **ret);
/* Feed in[0..len) (len <= SECRETS_STREAM_CHUNK): *out gets the bytes to
 * pass on now, *out_len of them, valid until the next call. 0 or -errno. */
int secrets_stream_feed(struct secrets_stream *st, const char *in, size_t len, const char **out,
			size_t *out_len);
/* When to flush if no more output comes: in milliseconds, or -1 (nothing
 * waits, or what waits waits for more output or the end). */
int secrets_stream_flush_in(const struct secrets_stream *st);
/* Something waits. */
bool secrets_stream_waiting(const struct secrets_stream *st);
/* Pass on what waits (redacted where it holds a whole value). */
int secrets_stream_flush(struct secrets_stream *st, const char **out, size_t *out_len);
struct secrets_stream *secrets_stream_free(struct secrets_stream *st);

/* The values a box was ever given: $box_dir/secrets.known (0600, the
 * store's format, one line per value, a name may repeat), a "known set".
 * Every value of the store and of every run (-e, --secrets, --config) is
 * added before the box can see it; nothing ever removes one (secrets unset
 * neither: the box may have copied it anywhere); it goes with the box
 * (clawbox delete). The values themselves, not hashes: the scanner and the
 * redactors match their encoded forms. Bounded by SECRETS_KNOWN_MAX values
 * and SECRETS_KNOWN_BYTES bytes: past that, recording fails (-ENOSPC; the
 * run or `secrets set` is refused) rather than forgetting an old value.
 *
 * A known set works with secrets_count/at/foreach, secrets_redact, the
 * stream redactor and secrets_add_to_scan; secrets_put/unset refuse it. */
int secrets_new_known(struct secrets **ret);
/* Learn (name, value): 1 when new, 0 when known already (or empty),
 * -ENOSPC past the bounds, -EINVAL for a bad name or a set not known. */
int secrets_know(struct secrets *known, const char *name, const void *value, size_t len);
/* Learn every value of from (any set); the number of new ones. */
int secrets_know_all(struct secrets *known, const struct secrets *from);
/* Load secrets.known and the store (for boxes older than the file) into a
 * known set. The file must be a regular file owned by the caller (or
 * root), not open to others (it is written 0600), never a symlink.
 * Missing: nothing added. Returns the number of values. */
int secrets_known_load(const char *box_dir, struct secrets *known, struct error *err);
int secrets_known_save(const char *box_dir, const struct secrets *known);
/* Under the store's lock (not to be held by the caller): load the known
 * set, learn given's values (given may be NULL: the store's only), save
 * when the file lacked one. *ret (may be NULL) gets the whole known set. */
int secrets_known_record(const char *box_dir, const struct secrets *given, struct secrets **ret,
			 struct error *err);

/* Hand every value (of at least 4 bytes) to the scanner as a known secret
 * named NAME (raw, base64, hex and URL-encoded matching: src/scan/scan.h). Call
 * before scan_rules_compile(). */
struct scan_rules;
int secrets_add_to_scan(const struct secrets *s, struct scan_rules *rules);

#endif
