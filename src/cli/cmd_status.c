/* clawbox status: a box's mode, project and pending changes. */
#include "util/common.h"

#include "sync/changes.h"
#include "cli/cli.h"
#include "cli/launch_mounts.h"
#include "cli/commands.h"
#include "ctl/ctl.h"
#include "net/health.h"
#include "state/diskcap.h"
#include "util/fs.h"
#include "util/log.h"

#include <jansson.h>

static const char usage[] =
    "usage: clawbox status [--box NAME | --project DIR] [--json]\n\n"
    "Show a box: its name, project, mode, whether it is running or up, the changes\n"
    "pending in its overlay (not yet on the host), and its disk use and cap.\n\n"
    "options:\n" BOX_OPTS_HELP "      --json           one JSON object\n"
    "  -h, --help           show this help\n";

/* {"cap", "used", "available", "host"} in bytes, or null without a cap. */
static json_t *disk_json(const struct box *b)
{
	struct diskcap_usage u = { 0 };
	_cleanup_close_ int dfd =
	    b->disk ? open(b->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
	if (dfd < 0 || diskcap_usage(dfd, &u) < 0)
		return b->disk ? json_pack("{s:I}", "cap", (json_int_t)b->disk) : json_null();
	return json_pack("{s:I, s:I, s:I, s:I, s:b}", "cap", (json_int_t)u.cap, "used",
			 (json_int_t)u.used, "available", (json_int_t)u.avail, "host",
			 (json_int_t)u.host, "full", diskcap_full(&u));
}

/* The up box's health (clawbox up --health): {"url", "ok", "status" or
 * "error"}, or NULL when it has no health URL. */
static json_t *health_json(const struct box *b)
{
	char url[HEALTH_URL_MAX];
	struct health_url u;
	int code = 0;
	_cleanup_close_ int dfd = open(b->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0 || health_read(dfd, url, sizeof(url)) <= 0)
		return NULL;
	int r = health_url_parse(url, &u) < 0 ? -EINVAL : health_probe(&u, &code);
	if (r < 0)
		return json_pack("{s:s, s:b, s:s}", "url", url, "ok", 0, "error", strerror(-r));
	return json_pack("{s:s, s:b, s:i}", "url", url, "ok", code >= 200 && code < 300, "status",
			 code);
}

static void health_print(json_t *h)
{
	const char *err = json_string_value(json_object_get(h, "error"));
	const char *url = json_string_value(json_object_get(h, "url"));
	if (err)
		printf("health:   unreachable (%s: %s)\n", url, err);
	else
		printf("health:   %s (HTTP %d from %s)\n",
		       json_is_true(json_object_get(h, "ok")) ? "ok" : "failing",
		       (int)json_integer_value(json_object_get(h, "status")), url);
}

int cmd_status(int argc, char **argv)
{
	struct cli_simple o;
	int c = cli_parse_simple(argc, argv, "status", usage, CLI_BOX | CLI_JSON, &o);
	if (c >= 0)
		return c;
	struct box b;
	bool created;
	if (cli_box(&o.box, false, BOX_MODE_SECURE, false, &b, &created) < 0 ||
	    cli_box_data(&b, 0, false, false) < 0)
		return CLI_EXIT_ERROR;

	struct changes_summary s = { 0 };
	char upper[PATH_MAX];
	path_join(upper, sizeof(upper), b.data, "upper");
	_cleanup_close_ int ufd = open(upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int lfd = open(b.project, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = ufd < 0 ? -errno : changes_summarize(ufd, lfd, &s);
	if (r < 0) {
		log_error("cannot read the overlay of box '%s': %s", b.name, strerror(-r));
		return CLI_EXIT_ERROR;
	}
	pid_t holder = 0;
	bool running = box_in_use(&b, &holder);
	bool project_ok = lfd >= 0;
	struct ctl_status up = { 0 };
	bool is_up = running && ctl_status(&b, &up, NULL) == 0;
	json_t *health = is_up ? health_json(&b) : NULL;

	if (o.json) {
		json_t *j =
		    json_pack("{s:s, s:s, s:s, s:b, s:b, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I}}",
			      "box", b.name, "project", b.project, "mode", box_mode_name(b.mode),
			      "running", running, "project_exists", project_ok, "pending",
			      "changes", (json_int_t)changes_total(&s), "added",
			      (json_int_t)s.added, "modified", (json_int_t)s.modified, "deleted",
			      (json_int_t)s.deleted, "replaced", (json_int_t)s.replaced, "meta",
			      (json_int_t)s.meta, "bytes", (json_int_t)s.bytes);
		if (running && holder)
			json_object_set_new(j, "pid", json_integer(holder));
		if (is_up)
			json_object_set_new(
			    j, "up",
			    json_pack("{s:I, s:I, s:I, s:I, s:I}", "since", (json_int_t)up.since,
				      "command_pid", (json_int_t)up.cmd, "restarts",
				      (json_int_t)up.restarts, "sessions", (json_int_t)up.sessions,
				      "running", (json_int_t)up.execs));
		if (health)
			json_object_set_new(j, "health", health);
		json_object_set_new(j, "disk", disk_json(&b));
		json_object_set_new(j, "mounts", launch_mounts_json(&b));
		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(j);
		return 0;
	}
	char size[32];
	cli_human_size(s.bytes, size, sizeof(size));
	printf("box:      %s\n", b.name);
	printf("project:  %s%s\n", b.project, project_ok ? "" : " (missing!)");
	printf("mode:     %s\n", box_mode_name(b.mode));
	if (is_up)
		printf("state:    up (clawbox pid %d; command %s, %u restarts; %u sessions, %u "
		       "commands running)\n",
		       (int)holder, up.cmd ? "running" : "not running", up.restarts, up.sessions,
		       up.execs);
	else if (running)
		printf("state:    running (clawbox pid %d)\n", (int)holder);
	else
		printf("state:    idle\n");
	if (health)
		health_print(health);
	json_decref(health);
	if (b.mode == BOX_MODE_YOLO_UNSAFE)
		printf("pending:  none (yolo-unsafe: writes go straight to the project)\n");
	else
		printf("pending:  %llu changes (%llu added, %llu modified, %llu deleted, %llu "
		       "replaced dirs, %llu mode changes), %s\n",
		       (unsigned long long)changes_total(&s), (unsigned long long)s.added,
		       (unsigned long long)s.modified, (unsigned long long)s.deleted,
		       (unsigned long long)s.replaced, (unsigned long long)s.meta, size);
	launch_mounts_status(&b);
	char disk[160];
	cli_disk_describe(&b, disk, sizeof(disk));
	printf("disk:     %s\n", disk);
	return 0;
}
