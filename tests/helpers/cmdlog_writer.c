/* The command log's writer (src/state/cmdlog.h) on its own, for the tests
 * of 'clawbox logs' (until 'clawbox up' runs it): reads stdin to its end
 * into BOX_DIR/logs/cmd.log.
 *   cmdlog_writer BOX_DIR [MAX_SIZE [KEEP]]
 * $CMDLOG_SECRET (NAME=VALUE) is a value to redact. Built against the
 * library objects (Makefile), not static like the other helpers. */
#include "util/common.h"

#include "secrets/secrets.h"
#include "state/cmdlog.h"

int main(int argc, char **argv)
{
	struct cmdlog_opts o = { 0 };
	struct cmdlog *c;
	struct secrets *s = NULL;
	struct error err = { 0 };
	const char *sec = secure_getenv("CMDLOG_SECRET");
	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: cmdlog_writer BOX_DIR [MAX_SIZE [KEEP]]\n");
		return 2;
	}
	if (argc > 2)
		o.max_size = strtoull(argv[2], NULL, 10);
	if (argc > 3)
		o.keep = (unsigned)strtoul(argv[3], NULL, 10);
	if (sec && strchr(sec, '=')) {
		const char *v = strchr(sec, '=') + 1;
		char name[64];
		snprintf(name, sizeof(name), "%.*s", (int)(v - 1 - sec), sec);
		if (secrets_new(&s) < 0 ||
		    secrets_put(s, name, v, strlen(v), SECRET_SOURCE_CLI, "-e", 0) < 0)
			return 1;
	}
	int in = fcntl(0, F_DUPFD_CLOEXEC, 3);
	if (in < 0 || cmdlog_start_opts(in, argv[1], s, &o, &c, &err) < 0) {
		fprintf(stderr, "cmdlog_writer: %s\n",
			err.message[0] ? err.message : "cannot start");
		return 1;
	}
	cmdlog_finish(c);
	secrets_free(s);
	return 0;
}
