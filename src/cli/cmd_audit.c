/* clawbox audit: show or verify a box's audit log. */
#include "util/common.h"

#include "state/audit.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "util/log.h"

#include <getopt.h>
#include <time.h>

static const char usage[] =
    "usage: clawbox audit [--box NAME | --project DIR] [--json] [--net] [--since T]\n"
    "       clawbox audit verify [--box NAME | --project DIR]\n\n"
    "Show the box's audit log (box, exec and other events), or verify that no\n"
    "line of it was edited, inserted or removed (each line carries the sha256 of\n"
    "the line before it; the last one is recorded in audit.head).\n\n"
    "options:\n" BOX_OPTS_HELP "      --json           the raw JSON lines\n"
    "      --net            network decisions only (net.connect, net.dns, net.broker):\n"
    "                       one line each with the decision, destination, rule (for\n"
    "                       a brokered request: method, path, status, the secrets\n"
    "                       put in), the box's pid when known and bytes\n"
    "      --since T        only events at or after T: an RFC 3339 UTC time\n"
    "                       (2026-11-28T08:30:00Z), a date, or an age (90s, 10m,\n"
    "                       2h, 7d)\n"
    "  -h, --help           show this help\n\n"
    "exit status of verify: 0 intact, 1 tampered or unreadable.\n";

struct show {
	bool json, net;
};

static const char *str(json_t *obj, const char *key)
{
	const char *v = json_string_value(json_object_get(obj, key));
	return v ? v : "";
}

static void print_tail(json_t *obj)
{
	json_t *pid = json_object_get(obj, "pid");
	if (json_is_integer(pid))
		printf(" pid=%lld", (long long)json_integer_value(pid));
	if (*str(obj, "reason"))
		printf(" (%s)", str(obj, "reason"));
	json_t *out = json_object_get(obj, "bytes_out"), *in = json_object_get(obj, "bytes_in");
	if (json_is_integer(out) && json_is_integer(in))
		printf(" out=%lld in=%lld", (long long)json_integer_value(out),
		       (long long)json_integer_value(in));
	putchar('\n');
}

/* time  ALLOW  broker  host:port  METHOD PATH STATUS  secrets=A,B  [pid] bytes;
 * time  DENY   broker  host:port  what=WHAT [status]  [pid] (reason) */
static void print_broker(json_t *obj, const char *dest)
{
	bool allow = STREQ(str(obj, "decision"), "allow");
	json_t *status = json_object_get(obj, "status"), *names = json_object_get(obj, "secrets");
	printf("%s  %-5s %-12s %-40s", str(obj, "time"), allow ? "ALLOW" : "DENY", "broker", dest);
	if (allow)
		printf(" %s %s %lld secrets=", str(obj, "method"), str(obj, "path"),
		       (long long)json_integer_value(status));
	else
		printf(" what=%s", str(obj, "what"));
	if (!allow && json_is_integer(status))
		printf(" status=%lld", (long long)json_integer_value(status));
	for (size_t i = 0; allow && i < json_array_size(names); i++)
		printf("%s%s", i ? "," : "", json_string_value(json_array_get(names, i)));
	if (allow && json_array_size(names) == 0)
		putchar('-');
	print_tail(obj);
}

/* time  ALLOW|DENY  proto  host:port  addr  rule  [pid]  (reason | bytes); or
 * time  NOTE  sysctl=value (guard) for net.forwarding; net.broker: above */
static void print_net(json_t *obj)
{
	json_t *port = json_object_get(obj, "port");
	if (STREQ(str(obj, "event"), "net.forwarding")) {
		printf("%s  NOTE  %s=%s turned on by clawbox (guard: %s)\n", str(obj, "time"),
		       str(obj, "sysctl"), str(obj, "value"), str(obj, "guard"));
		return;
	}
	char dest[300];
	if (json_is_integer(port))
		snprintf(dest, sizeof(dest), "%s:%lld", str(obj, "host"),
			 (long long)json_integer_value(port));
	else
		snprintf(dest, sizeof(dest), "%s%s%s", str(obj, "host"),
			 *str(obj, "qtype") ? " " : "", str(obj, "qtype"));
	if (STREQ(str(obj, "event"), "net.broker")) {
		print_broker(obj, dest);
		return;
	}
	printf("%s  %-5s %-12s %-40s %-15s rule=%s", str(obj, "time"),
	       STREQ(str(obj, "decision"), "allow") ? "ALLOW" : "DENY", str(obj, "proto"), dest,
	       *str(obj, "addr") ? str(obj, "addr") : "-", str(obj, "rule"));
	print_tail(obj);
}

static int print_line(json_t *obj, const char *raw, void *p)
{
	const struct show *sh = p;
	if (sh->net && strncmp(str(obj, "event"), "net.", 4) != 0)
		return 0;
	if (sh->net && !sh->json) {
		print_net(obj);
		return 0;
	}
	if (sh->json) {
		puts(raw);
		return 0;
	}
	const char *t = json_string_value(json_object_get(obj, "time"));
	const char *e = json_string_value(json_object_get(obj, "event"));
	printf("%s  %-12s", t ? t : "?", e ? e : "?");
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v)
	{
		if (STREQ(key, "seq") || STREQ(key, "time") || STREQ(key, "box") ||
		    STREQ(key, "event") || STREQ(key, "prev"))
			continue;
		_cleanup_free_ char *s =
		    json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
		printf(" %s=%s", key, s ? s : "?");
	}
	putchar('\n');
	return 0;
}

static int verify(const struct box *b)
{
	struct audit_verify_result v;
	int r = audit_verify(b->dir, &v);
	if (r == 0) {
		printf("audit log of box '%s': intact (%llu lines)%s%s\n", b->name,
		       (unsigned long long)v.lines, v.note[0] ? "; " : "", v.note);
		return 0;
	}
	if (r == -EBADMSG)
		log_error("audit log of box '%s' was tampered with at line %llu: %s", b->name,
			  (unsigned long long)v.bad_line, v.reason);
	else
		log_error("cannot read the audit log of box '%s': %s", b->name, strerror(-r));
	return CLI_EXIT_ERROR;
}

int cmd_audit(int argc, char **argv)
{
	enum { OPT_SINCE = 256, OPT_NET };
	static const struct option opts[] = {
		{ "box", required_argument, NULL, 'b' },
		{ "project", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "net", no_argument, NULL, OPT_NET },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct box_opts bo = { 0 };
	struct show sh = { 0 };
	bool do_verify = false;
	int64_t since = 0;
	int c;

	if (argc > 1 && STREQ(argv[1], "verify")) {
		do_verify = true;
		argv++;
		argc--;
	}
	opterr = 0;
	while ((c = getopt_long(argc, argv, "b:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'b': bo.box = optarg; break;
		case 'p': bo.project = optarg; break;
		case 'j': sh.json = true; break;
		case OPT_NET: sh.net = true; break;
		case OPT_SINCE: {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			if (audit_parse_time(optarg, (int64_t)ts.tv_sec * 1000, &since) < 0) {
				log_error("invalid time '%s' for --since (e.g. "
					  "2026-11-28T08:30:00Z or 2h)",
					  optarg);
				return CLI_EXIT_USAGE;
			}
			break;
		}
		case 'h': fputs(usage, stdout); return 0;
		default: return cli_bad_option("audit", argv);
		}
	}
	if (optind < argc)
		return cli_bad_argument("audit", argv[optind]);
	struct box b;
	bool created;
	if (cli_box(&bo, false, BOX_MODE_SECURE, false, &b, &created) < 0)
		return CLI_EXIT_ERROR;
	if (do_verify)
		return verify(&b);
	int r = audit_foreach(b.dir, since, print_line, &sh);
	if (r < 0) {
		log_error("cannot read the audit log of box '%s': %s", b.name,
			  r == -EBADMSG ? "a line is not JSON (run 'clawbox audit verify')"
					: strerror(-r));
		return CLI_EXIT_ERROR;
	}
	return 0;
}
