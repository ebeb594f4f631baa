/* clawbox secrets: the box's stored secrets (list, set, unset, import). A
 * value is never taken from argv and never printed. */
#include "util/common.h"

#include "state/audit.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "secrets/broker.h"
#include "secrets/secrets.h"
#include "util/fs.h"
#include "util/log.h"

#include <getopt.h>
#include <termios.h>

static const char usage[] =
    "usage: clawbox secrets [options] list\n"
    "       clawbox secrets [options] set NAME      (the value from stdin or a prompt)\n"
    "       clawbox secrets [options] unset NAME\n"
    "       clawbox secrets [options] import FILE   (a dotenv file: NAME=VALUE lines)\n"
    "       clawbox secrets [options] broker NAME SPEC|off\n\n"
    "The box's stored secrets: kept in its state dir (mode 0600), given to the\n"
    "box's command in its environment only, redacted from the audit log and\n"
    "clawbox's messages. 'clawbox run' merges, highest first: -e NAME=VALUE,\n"
    "--secrets FILE, --config DIR (DIR/.env), then these. A value is never read\n"
    "from the command line: 'set' reads one line from a terminal (not echoed) or\n"
    "all of stdin (one final newline removed). The box remembers every value it\n"
    "was given (secrets.known, 0600): 'unset' stops giving one to the box, but\n"
    "the sync gate still blocks it and the redactors still hide it.\n\n"
    "Brokered secrets (docs/SECRETS.md): the box never holds the value. Its\n"
    "variable holds a placeholder of the same shape, and the proxy puts the value\n"
    "in requests to the rule's hosts only (over TLS it ends with the box's own CA,\n"
    "which the box trusts); the placeholder sent anywhere else is refused. A rule\n"
    "is per name: it brokers the value whatever its source (-e, --secrets, the\n"
    "store), from the box's next start on. SPEC: a preset (anthropic, openai,\n"
    "gemini, openrouter, github, telegram, npm); auto, the preset of a known\n"
    "name (ANTHROPIC_API_KEY, OPENAI_API_KEY, GEMINI_API_KEY, GOOGLE_API_KEY,\n"
    "OPENROUTER_API_KEY, GITHUB_TOKEN, GH_TOKEN, TELEGRAM_BOT_TOKEN, NPM_TOKEN);\n"
    "or HOST[=PLACE],... with PLACE header:NAME, authorization (any scheme,\n"
    "Basic's user:password too), query:NAME or path; a preset's host alone\n"
    "takes the preset's places. The hosts must still be allowed by the box's\n"
    "network policy.\n"
    "  set NAME --broker SPEC   store the value and its rule\n"
    "  broker NAME SPEC         set the rule only; 'broker NAME off' removes it\n\n"
    "Known names (any other name of letters, digits and '_' works too):\n"
    "  ANTHROPIC_API_KEY OPENAI_API_KEY GEMINI_API_KEY OPENROUTER_API_KEY\n"
    "  OPENCLAW_GATEWAY_PASSWORD OPENCLAW_GATEWAY_TOKEN SLACK_BOT_TOKEN\n"
    "  DISCORD_BOT_TOKEN TELEGRAM_BOT_TOKEN\n\n"
    "options:\n" BOX_OPTS_HELP "      --secrets FILE   list: also show what FILE would give a run\n"
    "      --config DIR     list: also show what DIR/.env would give a run\n"
    "      --strict         refuse files that others can read or write\n"
    "      --broker SPEC    set: broker the secret (see above)\n"
    "  -h, --help           show this help\n";

struct opts {
	struct box_opts box;
	const char *secrets_file;
	const char *config;
	const char *broker; /* --broker SPEC */
	bool strict;
};

static void report_warnings(const struct secrets *s)
{
	for (size_t i = 0; i < secrets_warning_count(s); i++)
		log_warn("%s", secrets_warning(s, i));
}

static int redact(const char *str, size_t len, char **ret, void *ctx)
{
	return secrets_redact(ctx, str, len, ret);
}

static void audit_event(const struct box *b, struct secrets *s, const char *event, json_t *f)
{
	struct audit *a;
	if (audit_open(b->dir, b->name, &a) < 0) {
		json_decref(f);
		return;
	}
	audit_set_redactor(a, redact, s);
	audit_append(a, event, f);
	audit_close(a);
}

/* How many values the box remembers (secrets.known) that s does not hold
 * under the same name; 0 when that cannot be read. */
static size_t remembered_only(const struct box *b, const struct secrets *s)
{
	struct secrets *k = NULL;
	size_t n = 0;
	if (secrets_new_known(&k) == 0 && secrets_known_load(b->dir, k, NULL) >= 0)
		for (size_t i = 0; i < secrets_count(k); i++) {
			const struct secret *e = secrets_at(k, i), *c = secrets_get(s, e->name);
			n += !c || c->len != e->len || memcmp(c->value, e->value, e->len) != 0;
		}
	secrets_free(k);
	return n;
}

/* "api.anthropic.com (header:x-api-key, authorization)" */
static void rule_text(const struct broker_rule *r, char *out, size_t n)
{
	size_t at = 0;
	char place[BROKER_PARAM_MAX + 16];
	for (size_t i = 0; i < r->nhosts && at < n; i++)
		at += (size_t)snprintf(out + at, n - at, "%s%s", i ? ", " : "", r->hosts[i]);
	for (size_t i = 0; i < r->ninject && at < n; i++)
		at += (size_t)snprintf(out + at, n - at, "%s%s", i ? ", " : " (",
				       broker_inject_text(&r->inject[i], place, sizeof(place)));
	if (at < n)
		snprintf(out + at, n - at, ")");
}

static void list_rules(const struct box *b)
{
	_cleanup_close_ int dirfd = open(b->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct broker_set set;
	struct error err = { 0 };
	char why[ERROR_FORMAT_MAX], text[4096];
	if (dirfd < 0 || broker_load(dirfd, &set, &err) < 0) {
		log_warn("cannot read the brokered secrets: %s",
			 cli_error_text(&err, dirfd < 0 ? -errno : err.code, why, sizeof(why)));
		return;
	}
	for (size_t i = 0; i < set.n; i++) {
		rule_text(&set.rule[i], text, sizeof(text));
		printf("%-32s brokered for %s\n", set.rule[i].name, text);
	}
}

static int do_list(const struct opts *o, const struct box *b, struct secrets *s)
{
	struct error err = { 0 };
	char why[ERROR_FORMAT_MAX];
	unsigned strict = o->strict ? SECRETS_STRICT : 0;
	char env[PATH_MAX];
	int r = 0;
	if (o->secrets_file)
		r = secrets_load_file(s, o->secrets_file, SECRET_SOURCE_FILE, strict, &err);
	if (r >= 0 && o->config && (r = path_join(env, sizeof(env), o->config, ".env")) == 0)
		r = secrets_load_file(s, env, SECRET_SOURCE_CONFIG, strict | SECRETS_OPTIONAL,
				      &err);
	if (r >= 0)
		r = secrets_store_load(b->dir, s, strict, &err);
	report_warnings(s);
	if (r < 0) {
		log_error("%s", cli_error_text(&err, r, why, sizeof(why)));
		return CLI_EXIT_ERROR;
	}
	size_t earlier = remembered_only(b, s);
	if (secrets_count(s) == 0)
		printf("box '%s' has no secrets (add one with 'clawbox secrets set NAME')\n",
		       b->name);
	else
		printf("%-32s %-7s %s\n", "NAME", "SOURCE", "VALUE");
	for (size_t i = 0; i < secrets_count(s); i++) {
		const struct secret *e = secrets_at(s, i);
		printf("%-32s %-7s ******** (%zu bytes)\n", e->name, secrets_source_name(e->source),
		       e->len);
	}
	list_rules(b);
	if (earlier)
		printf("the box also remembers %zu earlier value%s (unset, or given to a run): "
		       "the sync gate blocks %s and the redactors hide %s\n",
		       earlier, earlier == 1 ? "" : "s", earlier == 1 ? "it" : "them",
		       earlier == 1 ? "it" : "them");
	return 0;
}

/* One line from the terminal with echo off, or all of stdin; one final
 * newline (LF or CRLF) removed. Into secret memory. */
static int read_value(const char *name, char **ret, size_t *ret_len)
{
	size_t cap = SECRETS_VALUE_MAX + 3, len = 0;
	char *buf = secrets_mem_alloc(cap);
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	if (!buf)
		return -ENOMEM;
	if (tty) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		quiet.c_lflag |= ECHONL;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
		fprintf(stderr, "value for %s (not echoed): ", name);
		fflush(stderr);
	}
	for (;;) {
		ssize_t n = read(STDIN_FILENO, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == cap || (tty && buf[len - 1] == '\n'))
			break;
	}
	if (tty)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	*ret = buf;
	*ret_len = len;
	return 0;
}

static int put_error(const char *name, int r)
{
	if (r == -EINVAL)
		log_error("invalid secret name '%s': letters, digits and '_', not starting with "
			  "a digit, at most %d",
			  name, DOTENV_NAME_MAX);
	else if (r == -E2BIG)
		log_error("the value of '%s' is longer than %d bytes; nothing stored", name,
			  SECRETS_VALUE_MAX);
	else if (r == -EILSEQ)
		log_error("the value of '%s' holds a NUL byte; nothing stored", name);
	else if (r == -ENOSPC)
		log_error("a box holds at most %d secrets; nothing stored", SECRETS_MAX);
	else
		log_error("cannot set '%s': %s", name, strerror(-r));
	return CLI_EXIT_ERROR;
}

/* Put rule (NULL: remove the one of name) in b's rules, under the store's
 * lock. 0, or CLI_EXIT_ERROR after a message; *ret_had: name had one. */
static int set_rule(const struct box *b, const char *name, const struct broker_rule *rule,
		    bool *ret_had)
{
	_cleanup_close_ int dirfd = open(b->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct broker_set set;
	struct error err = { 0 };
	char why[ERROR_FORMAT_MAX];
	int r = dirfd < 0 ? -errno : broker_load(dirfd, &set, &err);
	if (r < 0) {
		log_error("%s; nothing changed", cli_error_text(&err, r, why, sizeof(why)));
		return CLI_EXIT_ERROR;
	}
	*ret_had = broker_set_find(&set, name) != NULL;
	if (rule && broker_set_put(&set, rule) < 0) {
		log_error("a box brokers at most %d secrets; nothing changed", BROKER_MAX);
		return CLI_EXIT_ERROR;
	}
	if (!rule && broker_set_remove(&set, name) == 0)
		return 0;
	if ((r = broker_save(dirfd, &set, &err)) < 0) {
		log_error("%s; nothing changed", cli_error_text(&err, r, why, sizeof(why)));
		return CLI_EXIT_ERROR;
	}
	return 0;
}

static void audit_rule(const struct box *b, const struct broker_rule *r, const char *name)
{
	char text[4096];
	if (r)
		rule_text(r, text, sizeof(text));
	audit_event(b, NULL, "secrets.broker",
		    r ? json_pack("{s:s, s:s}", "name", name, "rule", text)
		      : json_pack("{s:s, s:b}", "name", name, "removed", true));
}

/* --broker SPEC for name: the rule, or CLI_EXIT_USAGE after a message. */
static int parse_rule(const char *name, const char *spec, struct broker_rule *ret)
{
	struct error err = { 0 };
	char why[ERROR_FORMAT_MAX];
	int r = broker_rule_from_spec(name, spec, ret, &err);
	if (r < 0) {
		log_error("invalid broker rule '%s': %s; nothing changed", spec,
			  cli_error_text(&err, r, why, sizeof(why)));
		return CLI_EXIT_USAGE;
	}
	return 0;
}

/* Can value be brokered (a placeholder of its shape made)? 0, or
 * CLI_EXIT_ERROR after a message. */
static int check_brokerable(const struct box *b, const char *name, const char *value, size_t len)
{
	_cleanup_close_ int dirfd = open(b->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_secret_mem_ char *ph = secrets_mem_alloc(len + 1);
	struct error err = { 0 };
	char why[ERROR_FORMAT_MAX];
	uint8_t key[32];
	int r = dirfd < 0 ? -errno : !ph ? -ENOMEM : broker_key(dirfd, key, &err);
	if (r < 0) {
		log_error("%s; nothing stored", cli_error_text(&err, r, why, sizeof(why)));
		return CLI_EXIT_ERROR;
	}
	r = broker_placeholder(key, name, value, len, ph);
	explicit_bzero(key, sizeof(key));
	if (r < 0) {
		log_error("'%s' cannot be brokered: a placeholder of its shape needs at least %d "
			  "bytes with letters or digits; nothing stored",
			  name, SECRETS_SHORT);
		return CLI_EXIT_ERROR;
	}
	return 0;
}

static int do_broker(const struct box *b, const char *name, const char *spec)
{
	struct broker_rule rule;
	bool off = STREQ(spec, "off"), had = false;
	int r = off ? 0 : parse_rule(name, spec, &rule);
	if (r)
		return r;
	_cleanup_close_ int lock = secrets_store_lock(b->dir);
	if (lock < 0) {
		log_error("cannot lock the secrets of box '%s': %s", b->name, strerror(-lock));
		return CLI_EXIT_ERROR;
	}
	if ((r = set_rule(b, name, off ? NULL : &rule, &had)) != 0)
		return r;
	if (off && !had) {
		log_error("box '%s' does not broker '%s'", b->name, name);
		return CLI_EXIT_ERROR;
	}
	audit_rule(b, off ? NULL : &rule, name);
	if (off) {
		printf("box '%s': secret '%s' no longer brokered (from its next start)\n", b->name,
		       name);
	} else {
		char text[4096];
		rule_text(&rule, text, sizeof(text));
		printf("box '%s': secret '%s' brokered for %s (from its next start)\n", b->name,
		       name, text);
	}
	return 0;
}

static int do_set(const struct opts *o, const struct box *b, struct secrets *s, const char *name)
{
	struct broker_rule rule;
	struct error err = { 0 };
	char why[ERROR_FORMAT_MAX];
	_cleanup_secret_mem_ char *value = NULL;
	size_t len = 0;
	if (!dotenv_name_valid(name))
		return put_error(name, -EINVAL);
	if (o->broker && parse_rule(name, o->broker, &rule))
		return CLI_EXIT_USAGE;
	int r = read_value(name, &value, &len);
	if (r < 0)
		return put_error(name, r);
	if (len == 0) {
		log_error("no value for '%s' on stdin; nothing stored", name);
		return CLI_EXIT_ERROR;
	}
	if (o->broker && check_brokerable(b, name, value, len))
		return CLI_EXIT_ERROR;
	/* Known to the gate and the redactors for good, before it is stored. */
	_cleanup_secrets_ struct secrets *one = NULL;
	r = secrets_new(&one);
	if (r == 0 && (r = secrets_put(one, name, value, len, SECRET_SOURCE_STORE, NULL, 0)) < 0)
		return put_error(name, r);
	if (r == 0)
		r = secrets_known_record(b->dir, one, NULL, &err);
	if (r < 0) {
		log_error("%s; nothing stored", cli_error_text(&err, r, why, sizeof(why)));
		return CLI_EXIT_ERROR;
	}
	_cleanup_close_ int lock = secrets_store_lock(b->dir);
	if (lock < 0 ||
	    (r = secrets_store_load(b->dir, s, o->strict ? SECRETS_STRICT : 0, &err)) < 0) {
		log_error("%s", cli_error_text(&err, lock < 0 ? lock : r, why, sizeof(why)));
		return CLI_EXIT_ERROR;
	}
	report_warnings(s);
	bool existed = secrets_get(s, name) != NULL, had = false;
	r = secrets_put(s, name, value, len, SECRET_SOURCE_STORE, NULL, 0);
	if (r < 0)
		return put_error(name, r);
	/* The rule first: a rule without its value brokers nothing. */
	if (o->broker && set_rule(b, name, &rule, &had))
		return CLI_EXIT_ERROR;
	if ((r = secrets_store_save(b->dir, s)) < 0) {
		log_error("cannot store the secrets of box '%s': %s", b->name, strerror(-r));
		return CLI_EXIT_ERROR;
	}
	audit_event(b, s, "secrets.set",
		    json_pack("{s:s, s:b}", "name", name, "replaced", existed));
	if (o->broker)
		audit_rule(b, &rule, name);
	printf("box '%s': secret '%s' %s (%zu bytes)\n", b->name, name,
	       existed ? "replaced" : "stored", len);
	if (o->broker) {
		char text[4096];
		rule_text(&rule, text, sizeof(text));
		printf("box '%s': secret '%s' brokered for %s (from its next start)\n", b->name,
		       name, text);
	}
	return 0;
}

static int do_unset(const struct opts *o, const struct box *b, struct secrets *s, const char *name)
{
	struct error err = { 0 };
	char why[ERROR_FORMAT_MAX];
	/* The value stays known (the box may hold a copy of it): a store
	 * older than secrets.known is recorded there first. */
	int r = secrets_known_record(b->dir, NULL, NULL, &err);
	if (r < 0) {
		log_error("%s; nothing removed", cli_error_text(&err, r, why, sizeof(why)));
		return CLI_EXIT_ERROR;
	}
	_cleanup_close_ int lock = secrets_store_lock(b->dir);
	r = lock < 0 ? lock : secrets_store_load(b->dir, s, 0, &err);
	if (r < 0) {
		log_error("%s", cli_error_text(&err, r, why, sizeof(why)));
		return CLI_EXIT_ERROR;
	}
	if (secrets_unset(s, name) < 0) {
		log_error("box '%s' has no secret '%s'", b->name, name);
		return CLI_EXIT_ERROR;
	}
	if ((r = secrets_store_save(b->dir, s)) < 0) {
		log_error("cannot store the secrets of box '%s': %s", b->name, strerror(-r));
		return CLI_EXIT_ERROR;
	}
	audit_event(b, s, "secrets.unset", json_pack("{s:s}", "name", name));
	printf("box '%s': secret '%s' removed\n", b->name, name);
	_cleanup_close_ int dirfd = open(b->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct broker_set set;
	if (dirfd >= 0 && broker_load(dirfd, &set, NULL) >= 0 && broker_set_find(&set, name))
		printf("its broker rule stays, for a value from -e or --secrets ('clawbox secrets "
		       "broker %s off' removes it)\n",
		       name);
	return 0;
}

static int do_import(const struct opts *o, const struct box *b, struct secrets *s, const char *file)
{
	struct error err = { 0 };
	char why[ERROR_FORMAT_MAX];
	_cleanup_secrets_ struct secrets *in = NULL;
	unsigned strict = o->strict ? SECRETS_STRICT : 0;
	int r = secrets_new(&in);
	if (r < 0)
		return put_error("?", r);
	/* The whole file first: nothing is stored unless all of it is good. */
	r = secrets_load_file(in, file, SECRET_SOURCE_FILE, strict, &err);
	report_warnings(in);
	if (r < 0) {
		log_error("%s; nothing stored", cli_error_text(&err, r, why, sizeof(why)));
		return CLI_EXIT_ERROR;
	}
	if ((r = secrets_known_record(b->dir, in, NULL, &err)) < 0) {
		log_error("%s; nothing stored", cli_error_text(&err, r, why, sizeof(why)));
		return CLI_EXIT_ERROR;
	}
	_cleanup_close_ int lock = secrets_store_lock(b->dir);
	r = lock < 0 ? lock : secrets_store_load(b->dir, s, strict, &err);
	for (size_t i = 0; r >= 0 && i < secrets_count(in); i++) {
		const struct secret *e = secrets_at(in, i);
		r = secrets_put(s, e->name, e->value, e->len, SECRET_SOURCE_STORE, NULL, 0);
		if (r == -ENOSPC)
			error_set(&err, r, NULL, 0, "a box holds at most %d secrets", SECRETS_MAX);
	}
	if (r >= 0)
		r = secrets_store_save(b->dir, s);
	if (r < 0) {
		log_error("%s; nothing stored", cli_error_text(&err, r, why, sizeof(why)));
		return CLI_EXIT_ERROR;
	}
	json_t *names = json_array();
	for (size_t i = 0; names && i < secrets_count(in); i++)
		json_array_append_new(names, json_string(secrets_at(in, i)->name));
	audit_event(b, s, "secrets.import", json_pack("{s:s, s:o}", "file", file, "names", names));
	printf("box '%s': imported %zu secrets from '%s'\n", b->name, secrets_count(in), file);
	for (size_t i = 0; i < secrets_count(in); i++)
		printf("  %s\n", secrets_at(in, i)->name);
	return 0;
}

int cmd_secrets(int argc, char **argv)
{
	enum { OPT_SECRETS = 256, OPT_CONFIG, OPT_STRICT, OPT_BROKER };
	static const struct option opts[] = {
		{ "box", required_argument, NULL, 'b' },
		{ "project", required_argument, NULL, 'p' },
		{ "secrets", required_argument, NULL, OPT_SECRETS },
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "strict", no_argument, NULL, OPT_STRICT },
		{ "broker", required_argument, NULL, OPT_BROKER },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct opts o = { 0 };
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "b:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'b': o.box.box = optarg; break;
		case 'p': o.box.project = optarg; break;
		case OPT_SECRETS: o.secrets_file = optarg; break;
		case OPT_CONFIG: o.config = optarg; break;
		case OPT_STRICT: o.strict = true; break;
		case OPT_BROKER: o.broker = optarg; break;
		case 'h': fputs(usage, stdout); return 0;
		default: return cli_bad_option("secrets", argv);
		}
	}
	const char *sub = optind < argc ? argv[optind++] : "list";
	bool list = STREQ(sub, "list"), import = STREQ(sub, "import");
	bool set = STREQ(sub, "set"), unset = STREQ(sub, "unset"), broker = STREQ(sub, "broker");
	if (!list && !import && !set && !unset && !broker) {
		log_error("unknown secrets command '%s' (list, set, unset, import or broker)", sub);
		return CLI_EXIT_USAGE;
	}
	const char *arg = optind < argc ? argv[optind++] : NULL;
	if (!list && !arg) {
		log_error("'clawbox secrets %s' needs %s", sub, import ? "a FILE" : "a NAME");
		return CLI_EXIT_USAGE;
	}
	const char *spec = broker && optind < argc ? argv[optind++] : NULL;
	if (broker && !spec) {
		log_error("'clawbox secrets broker %s' needs a SPEC, or off (see --help)", arg);
		return CLI_EXIT_USAGE;
	}
	if (o.broker && !set) {
		log_error(
		    "--broker goes with 'set' ('clawbox secrets broker NAME SPEC' sets a rule "
		    "alone)");
		return CLI_EXIT_USAGE;
	}
	if (list && arg)
		return cli_bad_argument("secrets", arg);
	if (optind < argc)
		return cli_bad_argument("secrets", argv[optind]);
	struct box b;
	bool created;
	if (cli_box(&o.box, set || import || broker, BOX_MODE_SECURE, false, &b, &created) < 0)
		return CLI_EXIT_ERROR;
	if (created)
		audit_event(
		    &b, NULL, "box.create",
		    json_pack("{s:s, s:s}", "project", b.project, "mode", box_mode_name(b.mode)));
	struct secrets *s = NULL;
	if (secrets_new(&s) < 0) {
		log_error("out of memory");
		return CLI_EXIT_ERROR;
	}
	int r = list     ? do_list(&o, &b, s)
		: set    ? do_set(&o, &b, s, arg)
		: unset  ? do_unset(&o, &b, s, arg)
		: broker ? do_broker(&b, arg, spec)
			 : do_import(&o, &b, s, arg);
	secrets_free(s);
	return r;
}
