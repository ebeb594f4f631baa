/* clawbox session: the sessions of an up box. */
#include "util/common.h"

#include "cli/cli.h"
#include "cli/commands.h"
#include "ctl/ctl.h"
#include "secrets/broker.h"
#include "secrets/secrets.h"
#include "util/log.h"
#include "util/size.h"
#include "util/strv.h"

#include <getopt.h>
#include <jansson.h>
#include <time.h>

static const char usage[] =
    "usage: clawbox session create NAME [--box NAME | --project DIR] [--net]\n"
    "                              [--idle SECS] [--time SECS] [--pids N]\n"
    "                              [--memory SIZE] [--secret NAME]...\n"
    "       clawbox session list [--box NAME | --project DIR] [--json]\n"
    "       clawbox session delete NAME [--box NAME | --project DIR]\n\n"
    "A session is a set of processes in a box that is up ('clawbox up'): what\n"
    "'clawbox exec --session NAME' starts there persists between execs (a\n"
    "background job runs on) until the session is deleted, is idle for --idle\n"
    "seconds, has lived --time seconds, or the box goes down. Its processes are in a pid namespace "
    "of\n"
    "their own: they see and signal only each other. A session has no network\n"
    "unless --net (then the box's: its proxy and allowlist), and none of the\n"
    "box's secrets unless named with --secret (from 'clawbox secrets').\n\n"
    "options:\n" BOX_OPTS_HELP "      --net            the box's network\n"
    "      --idle SECS      end after SECS seconds with no command running\n"
    "      --time SECS      end after SECS seconds in all\n"
    "      --pids N         at most N processes and threads at once (root: cgroup v1)\n"
    "      --memory SIZE    at most SIZE of memory, e.g. 512M (root: cgroup v1)\n"
    "      --secret NAME    give the session the box's stored secret NAME\n"
    "      --json           (list) one JSON array\n"
    "  -h, --help           show this help\n";

struct session_args {
	struct box_opts box;
	const char *verb, *name;
	struct ctl_session_spec spec;
	const char *secrets[64];
	size_t nsecrets;
	bool json;
};

static int parse(int argc, char **argv, struct session_args *a)
{
	enum { OPT_NET = 256, OPT_IDLE, OPT_SECRET, OPT_JSON, OPT_TIME, OPT_PIDS, OPT_MEMORY };
	static const struct option opts[] = {
		{ "box", required_argument, NULL, 'b' },
		{ "project", required_argument, NULL, 'p' },
		{ "net", no_argument, NULL, OPT_NET },
		{ "idle", required_argument, NULL, OPT_IDLE },
		{ "secret", required_argument, NULL, OPT_SECRET },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "time", required_argument, NULL, OPT_TIME },
		{ "pids", required_argument, NULL, OPT_PIDS },
		{ "memory", required_argument, NULL, OPT_MEMORY },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "b:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'b': a->box.box = optarg; break;
		case 'p': a->box.project = optarg; break;
		case OPT_NET: a->spec.net = true; break;
		case OPT_IDLE:
			if (cli_parse_seconds("--idle", optarg, &a->spec.idle_ms) < 0)
				return CLI_EXIT_USAGE;
			break;
		case OPT_TIME:
			if (cli_parse_seconds("--time", optarg, &a->spec.time_ms) < 0)
				return CLI_EXIT_USAGE;
			break;
		case OPT_PIDS:
			if (cli_parse_uint(optarg, &a->spec.pids) < 0) {
				log_error("invalid --pids '%s': a number", optarg);
				return CLI_EXIT_USAGE;
			}
			break;
		case OPT_MEMORY:
			if (size_parse(optarg, UINT64_MAX, &a->spec.memory) < 0 ||
			    !a->spec.memory) {
				log_error("invalid --memory '%s': a size, e.g. 512M", optarg);
				return CLI_EXIT_USAGE;
			}
			break;
		case OPT_SECRET:
			if (a->nsecrets == ELEMENTSOF(a->secrets)) {
				log_error("too many --secret options");
				return CLI_EXIT_USAGE;
			}
			a->secrets[a->nsecrets++] = optarg;
			break;
		case OPT_JSON: a->json = true; break;
		case 'h': fputs(usage, stdout); return 0;
		default: return cli_bad_option("session", argv);
		}
	}
	a->verb = optind < argc ? argv[optind++] : NULL;
	a->name = optind < argc ? argv[optind++] : NULL;
	if (!a->verb || (!STREQ(a->verb, "list") && !a->name)) {
		log_error("usage: clawbox session create|list|delete [NAME] (see --help)");
		return CLI_EXIT_USAGE;
	}
	if (optind < argc || (STREQ(a->verb, "list") && a->name))
		return cli_bad_argument("session", optind < argc ? argv[optind] : a->name);
	if (a->name && !ctl_session_name_valid(a->name)) {
		log_error("invalid session name '%s': 1 to 64 of A-Z a-z 0-9 . _ -, not "
			  "starting with . or -",
			  a->name);
		return CLI_EXIT_USAGE;
	}
	return -1;
}

struct grant_ctx {
	const struct session_args *a;
	struct strv *env;
	struct broker_set rules; /* the box's brokered secrets */
	uint8_t key[32];         /* the box's broker key, when it has rules */
	int r;
};

/* A brokered secret's placeholder (docs/SECRETS.md): the session, as the
 * box, never gets the value; the up box's proxy puts it in. */
static int grant_brokered(struct grant_ctx *g, const struct secret *s)
{
	_cleanup_secret_mem_ char *ph = secrets_mem_alloc(s->len + 1);
	if (!ph)
		return -ENOMEM;
	if (broker_placeholder(g->key, s->name, s->value, s->len, ph) < 0) {
		log_error("secret '%s' is brokered but too short for a placeholder; not granted",
			  s->name);
		return -EINVAL;
	}
	return strv_pushf(g->env, "%s=%s", s->name, ph);
}

static int grant_one(const struct secret *s, void *p)
{
	struct grant_ctx *g = p;
	for (size_t i = 0; i < g->a->nsecrets && g->r >= 0; i++)
		if (STREQ(s->name, g->a->secrets[i]))
			g->r = broker_set_find(&g->rules, s->name)
				   ? grant_brokered(g, s)
				   : strv_pushf(g->env, "%s=%.*s", s->name, (int)s->len,
						(const char *)s->value);
	return g->r;
}

/* The named secrets of b's store as NAME=VALUE: 0, or -errno (reported). */
static int grants(const struct box *b, const struct session_args *a, struct strv *env)
{
	_cleanup_secrets_ struct secrets *s = NULL;
	struct error err = { 0 };
	char msg[ERROR_FORMAT_MAX];
	if (a->nsecrets == 0)
		return 0;
	_cleanup_close_ int dirfd = open(b->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct grant_ctx g = { .a = a, .env = env };
	int r = dirfd < 0 ? -errno : secrets_new(&s);
	if (r == 0)
		r = secrets_store_load(b->dir, s, 0, &err);
	if (r >= 0)
		r = broker_load(dirfd, &g.rules, &err);
	if (r >= 0 && g.rules.n)
		r = broker_key(dirfd, g.key, &err);
	if (r < 0) {
		log_error("cannot read the secrets of box '%s': %s", b->name,
			  cli_error_text(&err, r, msg, sizeof(msg)));
		return r;
	}
	secrets_foreach(s, grant_one, &g);
	explicit_bzero(g.key, sizeof(g.key));
	if (g.r < 0)
		return g.r;
	if (env->n != a->nsecrets) {
		log_error("box '%s' has not every secret named with --secret ('clawbox secrets "
			  "list')",
			  b->name);
		return -ENOENT;
	}
	return 0;
}

static int list(const struct box *b, bool json)
{
	struct ctl_session_info *v = NULL;
	size_t n = 0;
	struct error err = { 0 };
	char msg[ERROR_FORMAT_MAX];
	int r = ctl_session_list(b, &v, &n, &err);
	if (r < 0) {
		log_error("%s", cli_error_text(&err, r, msg, sizeof(msg)));
		return CLI_EXIT_ERROR;
	}
	json_t *a = json ? json_array() : NULL;
	for (size_t i = 0; i < n; i++) {
		if (a)
			json_array_append_new(
			    a,
			    json_pack("{s:s, s:I, s:I, s:I, s:b}", "name", v[i].name, "created",
				      (json_int_t)v[i].created, "idle_ms", (json_int_t)v[i].idle_ms,
				      "running", (json_int_t)v[i].execs, "net", v[i].net));
		else
			printf("%-24s %u running%s\n", v[i].name, v[i].execs,
			       v[i].net ? ", network" : "");
	}
	if (a) {
		json_dumpf(a, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(a);
	}
	free(v);
	return 0;
}

int cmd_session(int argc, char **argv)
{
	struct session_args a = { 0 };
	struct strv env = { 0 };
	struct box b;
	bool created;
	struct error err = { 0 };
	char msg[ERROR_FORMAT_MAX];
	int r = parse(argc, argv, &a);
	if (r >= 0 || !a.verb)
		return r >= 0 ? r : CLI_EXIT_USAGE;
	if (cli_box(&a.box, false, BOX_MODE_SECURE, false, &b, &created) < 0)
		return CLI_EXIT_ERROR;
	if (STREQ(a.verb, "list"))
		return list(&b, a.json);
	if (STREQ(a.verb, "create")) {
		a.spec.name = a.name;
		if (grants(&b, &a, &env) < 0) {
			strv_free(&env);
			return CLI_EXIT_ERROR;
		}
		a.spec.env = env.v;
		r = ctl_session_create(&b, &a.spec, &err);
		strv_free(&env);
	} else if (STREQ(a.verb, "delete")) {
		r = ctl_session_delete(&b, a.name, &err);
	} else {
		log_error("unknown verb '%s': create, list or delete", a.verb);
		return CLI_EXIT_USAGE;
	}
	if (r < 0) {
		log_error("%s", cli_error_text(&err, r, msg, sizeof(msg)));
		return CLI_EXIT_ERROR;
	}
	return 0;
}
