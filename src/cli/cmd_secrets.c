/* clawbox secrets: the box's stored secrets (list, set, unset, import). A
 * value is never taken from argv and never printed. */
#include "util/common.h"

#include "state/audit.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "secrets/secrets.h"
#include "util/fs.h"
#include "util/log.h"

#include <getopt.h>
#include <termios.h>

static const char usage[] =
    "usage: clawbox secrets [options] list\n"
    "       clawbox secrets [options] set NAME      (the value from stdin or a prompt)\n"
    "       clawbox secrets [options] unset NAME\n"
    "       clawbox secrets [options] import FILE   (a dotenv file: NAME=VALUE lines)\n\n"
    "The box's stored secrets: kept in its state dir (mode 0600), given to the\n"
    "box's command in its environment only, redacted from the audit log and\n"
    "clawbox's messages. 'clawbox run' merges, highest first: -e NAME=VALUE,\n"
    "--secrets FILE, --config DIR (DIR/.env), then these. A value is never read\n"
    "from the command line: 'set' reads one line from a terminal (not echoed) or\n"
    "all of stdin (one final newline removed). The box remembers every value it\n"
    "was given (secrets.known, 0600): 'unset' stops giving one to the box, but\n"
    "the sync gate still blocks it and the redactors still hide it.\n\n"
    "Known names (any other name of letters, digits and '_' works too):\n"
    "  ANTHROPIC_API_KEY OPENAI_API_KEY GEMINI_API_KEY OPENROUTER_API_KEY\n"
    "  OPENCLAW_GATEWAY_PASSWORD OPENCLAW_GATEWAY_TOKEN SLACK_BOT_TOKEN\n"
    "  DISCORD_BOT_TOKEN TELEGRAM_BOT_TOKEN\n\n"
    "options:\n" BOX_OPTS_HELP "      --secrets FILE   list: also show what FILE would give a run\n"
    "      --config DIR     list: also show what DIR/.env would give a run\n"
    "      --strict         refuse files that others can read or write\n"
    "  -h, --help           show this help\n";

struct opts {
	struct box_opts box;
	const char *secrets_file;
	const char *config;
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

static int do_set(const struct opts *o, const struct box *b, struct secrets *s, const char *name)
{
	struct error err = { 0 };
	char why[ERROR_FORMAT_MAX];
	_cleanup_secret_mem_ char *value = NULL;
	size_t len = 0;
	if (!dotenv_name_valid(name))
		return put_error(name, -EINVAL);
	int r = read_value(name, &value, &len);
	if (r < 0)
		return put_error(name, r);
	if (len == 0) {
		log_error("no value for '%s' on stdin; nothing stored", name);
		return CLI_EXIT_ERROR;
	}
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
	bool existed = secrets_get(s, name) != NULL;
	r = secrets_put(s, name, value, len, SECRET_SOURCE_STORE, NULL, 0);
	if (r < 0)
		return put_error(name, r);
	if ((r = secrets_store_save(b->dir, s)) < 0) {
		log_error("cannot store the secrets of box '%s': %s", b->name, strerror(-r));
		return CLI_EXIT_ERROR;
	}
	audit_event(b, s, "secrets.set",
		    json_pack("{s:s, s:b}", "name", name, "replaced", existed));
	printf("box '%s': secret '%s' %s (%zu bytes)\n", b->name, name,
	       existed ? "replaced" : "stored", len);
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
	enum { OPT_SECRETS = 256, OPT_CONFIG, OPT_STRICT };
	static const struct option opts[] = {
		{ "box", required_argument, NULL, 'b' },
		{ "project", required_argument, NULL, 'p' },
		{ "secrets", required_argument, NULL, OPT_SECRETS },
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "strict", no_argument, NULL, OPT_STRICT },
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
		case 'h': fputs(usage, stdout); return 0;
		default: return cli_bad_option("secrets", argv);
		}
	}
	const char *sub = optind < argc ? argv[optind++] : "list";
	bool list = STREQ(sub, "list"), import = STREQ(sub, "import");
	bool set = STREQ(sub, "set"), unset = STREQ(sub, "unset");
	if (!list && !import && !set && !unset) {
		log_error("unknown secrets command '%s' (list, set, unset or import)", sub);
		return CLI_EXIT_USAGE;
	}
	const char *arg = optind < argc ? argv[optind++] : NULL;
	if (!list && !arg) {
		log_error("'clawbox secrets %s' needs %s", sub, import ? "a FILE" : "a NAME");
		return CLI_EXIT_USAGE;
	}
	if (list && arg)
		return cli_bad_argument("secrets", arg);
	if (optind < argc)
		return cli_bad_argument("secrets", argv[optind]);
	struct box b;
	bool created;
	if (cli_box(&o.box, set || import, BOX_MODE_SECURE, false, &b, &created) < 0)
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
	int r = list    ? do_list(&o, &b, s)
		: set   ? do_set(&o, &b, s, arg)
		: unset ? do_unset(&o, &b, s, arg)
			: do_import(&o, &b, s, arg);
	secrets_free(s);
	return r;
}
