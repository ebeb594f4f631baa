/* Brokered secrets (docs/SECRETS.md, "Brokered credentials"): a secret the
 * box never holds. Its variable in the box holds a placeholder of the same
 * shape; the proxy, which terminates TLS for the rule's hosts only, puts
 * the value where the rule says (a header, the Authorization header in any
 * scheme, a query parameter, the path) in requests to those hosts, and
 * nowhere else.
 *
 * The rules live in the box's state dir, BROKER_FILE (TOML, written by
 * `clawbox secrets set NAME --broker ...`, editable), one table a secret:
 *   [ANTHROPIC_API_KEY]
 *   preset = "anthropic"                 # hosts and inject of a preset, or:
 *   hosts = ["api.anthropic.com"]        # names or IP literals, exact
 *   inject = ["header:x-api-key", "authorization", "query:key", "path"]
 * Placeholders are derived (HMAC-SHA256) from the box's BROKER_KEY_FILE
 * (32 random bytes, 0600, made on first use), the name and the value: the
 * same value keeps its placeholder from run to run; nothing about the value
 * can be learnt from it without that key. Never prints. */
#ifndef CLAWBOX_BROKER_H
#define CLAWBOX_BROKER_H
#include "util/common.h"

#include "secrets/dotenv.h"
#include "util/error.h"

#define BROKER_FILE       "broker.toml"
#define BROKER_KEY_FILE   "broker.key"
#define BROKER_MAX        32  /* brokered secrets of a box */
#define BROKER_HOSTS_MAX  8   /* hosts of one rule */
#define BROKER_HOST_MAX   253 /* bytes of a host */
#define BROKER_INJECT_MAX 4   /* places of one rule */
#define BROKER_PARAM_MAX  64  /* bytes of a header or parameter name */
#define BROKER_FILE_MAX   (64 * 1024)

enum broker_where {
	BROKER_HEADER,        /* the header named param: the placeholder in it */
	BROKER_AUTHORIZATION, /* Authorization: in Bearer/token/..., or in Basic's user:password */
	BROKER_QUERY,         /* the query parameter named param */
	BROKER_PATH,          /* the request's path (Telegram's /botTOKEN/) */
};

struct broker_inject {
	enum broker_where where;
	char param[BROKER_PARAM_MAX + 1]; /* header name (lowercase) or parameter */
};

struct broker_rule {
	char name[DOTENV_NAME_MAX + 1];
	char preset[16]; /* "" when none */
	char hosts[BROKER_HOSTS_MAX][BROKER_HOST_MAX + 1];
	size_t nhosts;
	struct broker_inject inject[BROKER_INJECT_MAX];
	size_t ninject;
};

struct broker_set {
	struct broker_rule rule[BROKER_MAX];
	size_t n;
};

/* A host a rule may name: an IPv4 or IPv6 literal, or a lowercase DNS name
 * of letters, digits, '-' and '.' (no empty label), 1..BROKER_HOST_MAX. */
bool broker_host_valid(const char *h);
bool broker_host_is_ip(const char *h);

/* The rules in data[0..len) (file names it in err). -EINVAL with err at
 * the line: an unknown key, preset or place, a bad host, a name that is
 * not a variable name, a rule without hosts or places, too many. */
int broker_parse(const char *data, size_t len, const char *file, struct broker_set *ret,
		 struct error *err);

/* The box's rules (BROKER_FILE in box_dirfd; none: an empty set). */
int broker_load(int box_dirfd, struct broker_set *ret, struct error *err);

/* Write s as the box's BROKER_FILE (atomically, 0600). */
int broker_save(int box_dirfd, const struct broker_set *s, struct error *err);

/* A rule for name from what `--broker` says: a preset's name
 * ("anthropic"), "auto" (the preset of a known variable name:
 * broker_preset_for()), or comma-separated hosts, each optionally with its
 * place after '=' ("api.example.com=header:x-token"); a host of a preset
 * without a place takes the preset's places. */
int broker_rule_from_spec(const char *name, const char *spec, struct broker_rule *ret,
			  struct error *err);

/* Put r into s, replacing a rule of the same name. -E2BIG when full. */
int broker_set_put(struct broker_set *s, const struct broker_rule *r);
/* Remove the rule of name; 1 when there was one. */
int broker_set_remove(struct broker_set *s, const char *name);
const struct broker_rule *broker_set_find(const struct broker_set *s, const char *name);

/* The preset of a variable its service's clients read (ANTHROPIC_API_KEY:
 * "anthropic", GITHUB_TOKEN: "github", ...), or NULL. */
const char *broker_preset_for(const char *name);

/* "anthropic openai gemini openrouter github telegram npm" and their rules. */
const char *broker_preset_names(void);

/* "header:x-api-key", "authorization", "query:key", "path" into out. */
const char *broker_inject_text(const struct broker_inject *in, char *out, size_t n);

/* The placeholder of value (len bytes) for name in out (len + 1 bytes):
 * the same length; a leading run of lowercase segments ending in '-' or
 * '_' within the first 16 bytes kept ("sk-ant-api03-", "ghp_"), every
 * other letter and digit replaced by one of its kind, other bytes kept.
 * key: the box's broker key (broker_key()). -EINVAL when value is shorter
 * than SECRETS_SHORT or nothing of it would change. */
int broker_placeholder(const uint8_t key[32], const char *name, const char *value, size_t len,
		       char *out);

/* The box's broker key from box_dirfd's BROKER_KEY_FILE, made (0600) when
 * missing; -EPERM when it is not a 0600 regular file of ours of 32 bytes. */
int broker_key(int box_dirfd, uint8_t ret[32], struct error *err);

#endif
