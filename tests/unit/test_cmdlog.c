#include "unit.h"
#include "secrets/secrets.h"
#include "state/cmdlog.h"
#include "util/fs.h"

static void tmpbox(char *out, size_t n)
{
	snprintf(out, n, "/tmp/clawbox-unit.XXXXXX");
	CHECK(mkdtemp(out) != NULL);
}

/* The log file name (cmd.log or cmd.log.N) of box dir, read whole; NULL
 * when missing. */
static char *slurp(const char *dir, const char *name, size_t *ret_len)
{
	char path[256], *data = NULL;
	size_t len = 0;
	snprintf(path, sizeof(path), "%s/logs/%s", dir, name);
	if (fs_read_file(path, 1 << 24, &data, &len) < 0)
		return NULL;
	if (ret_len)
		*ret_len = len;
	return data;
}

/* Write each string to the pipe, pausing between them so the writer
 * reads them apart; then close it and wait for the writer. */
static void drive(const char *dir, const struct secrets *s, const struct cmdlog_opts *o,
		  const char *const *parts, size_t n)
{
	int p[2];
	struct cmdlog *c;
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK_INT(cmdlog_start_opts(p[0], dir, s, o, &c, NULL), 0);
	for (size_t i = 0; i < n; i++) {
		CHECK(write(p[1], parts[i], strlen(parts[i])) == (ssize_t)strlen(parts[i]));
		usleep(5 * 1000);
	}
	close(p[1]);
	cmdlog_finish(c);
}

TEST(cmdlog_rotates_keeping_three)
{
	char dir[64], line[32];
	struct cmdlog_opts o = { .max_size = 100, .keep = 3 };
	const char *parts[40];
	char lines[40][32];
	tmpbox(dir, sizeof(dir));
	for (int i = 0; i < 40; i++) {
		snprintf(lines[i], sizeof(lines[i]), "line %02d 0123456789\n", i); /* 19 bytes */
		parts[i] = lines[i];
	}
	drive(dir, NULL, &o, parts, 40);
	/* 40 lines of 19 bytes: files of 6 lines (114 bytes: the sixth line
	 * ends past 100); cmd.log holds the last 4, .1 .2 .3 six each. */
	static const char *const names[] = { "cmd.log.3", "cmd.log.2", "cmd.log.1", "cmd.log" };
	int next = 40 - 4 - 18;
	for (size_t f = 0; f < ELEMENTSOF(names); f++) {
		size_t len;
		_cleanup_free_ char *data = slurp(dir, names[f], &len);
		CHECK(data != NULL);
		CHECK(len <= 100 + 19);
		for (const char *p = data; p < data + len; p += 19) {
			snprintf(line, sizeof(line), "line %02d 0123456789\n", next++);
			CHECK(strncmp(p, line, 19) == 0);
		}
	}
	CHECK_INT(next, 40);
	CHECK(slurp(dir, "cmd.log.4", NULL) == NULL);
}

TEST(cmdlog_partial_line_at_rotation)
{
	char dir[64];
	struct cmdlog_opts o = { .max_size = 50, .keep = 3 };
	const char *parts[] = { "0123456789012345678901234567890123456789", /* 40, no '\n' */
				"abcdefghijklmnopqrstuvwxyz\n", "next\n" };
	tmpbox(dir, sizeof(dir));
	drive(dir, NULL, &o, parts, ELEMENTSOF(parts));
	_cleanup_free_ char *old = slurp(dir, "cmd.log.1", NULL);
	_cleanup_free_ char *cur = slurp(dir, "cmd.log", NULL);
	CHECK_STREQ(old, "0123456789012345678901234567890123456789abcdefghijklmnopqrstuvwxyz\n");
	CHECK_STREQ(cur, "next\n");
}

TEST(cmdlog_long_line_is_cut)
{
	char dir[64];
	struct cmdlog_opts o = { .max_size = 1000, .keep = 2 };
	_cleanup_free_ char *big = malloc(3 * CMDLOG_LINE_SLACK + 1);
	memset(big, 'x', 3 * CMDLOG_LINE_SLACK);
	big[3 * CMDLOG_LINE_SLACK] = '\0';
	const char *parts[] = { big };
	tmpbox(dir, sizeof(dir));
	drive(dir, NULL, &o, parts, 1);
	size_t a, b, c;
	_cleanup_free_ char *d0 = slurp(dir, "cmd.log", &a);
	_cleanup_free_ char *d1 = slurp(dir, "cmd.log.1", &b);
	_cleanup_free_ char *d2 = slurp(dir, "cmd.log.2", &c);
	CHECK(d0 && d1 && d2);
	CHECK_INT(b, 1000 + CMDLOG_LINE_SLACK);
	CHECK_INT(c, 1000 + CMDLOG_LINE_SLACK);
	CHECK(a <= 1000 + CMDLOG_LINE_SLACK);
}

TEST(cmdlog_redacts_a_value_split_between_reads)
{
	char dir[64];
	struct secrets *s;
	const char *v = "sk-Split-Value-0123456789";
	/* the last: a prefix of 16 bytes, the output's end: shown alone, and
	 * redacted as a prefix of 12 bytes or more is; of 11 it would pass */
	const char *parts[] = { "token: sk-Split-Va", "lue-0123456789 done\n",
				"and at the end sk-Split-Value-0 and sk-Split-Va" };
	tmpbox(dir, sizeof(dir));
	CHECK_INT(secrets_new(&s), 0);
	CHECK_INT(secrets_put(s, "API_KEY", v, strlen(v), SECRET_SOURCE_CLI, "-e", 0), 0);
	drive(dir, s, NULL, parts, ELEMENTSOF(parts));
	_cleanup_free_ char *cur = slurp(dir, "cmd.log", NULL);
	CHECK_STREQ(cur, "token: [REDACTED:API_KEY] done\nand at the end [REDACTED:API_KEY] and "
			 "sk-Split-Va");
	secrets_free(s);
}

TEST(cmdlog_never_follows_a_symlink)
{
	char dir[64], path[128], target[128];
	int p[2];
	struct cmdlog *c = NULL;
	tmpbox(dir, sizeof(dir));
	snprintf(target, sizeof(target), "%s/elsewhere", dir);
	CHECK(mkdir(target, 0700) == 0);
	snprintf(path, sizeof(path), "%s/logs", dir);
	CHECK(symlink(target, path) == 0);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK(cmdlog_start(p[0], dir, NULL, &c, NULL) < 0);
	CHECK(c == NULL);
	CHECK(unlink(path) == 0 && mkdir(path, 0700) == 0);
	snprintf(path, sizeof(path), "%s/logs/cmd.log", dir);
	snprintf(target, sizeof(target), "%s/elsewhere/f", dir);
	CHECK(symlink(target, path) == 0);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK(cmdlog_start(p[0], dir, NULL, &c, NULL) < 0);
	CHECK(access(target, F_OK) < 0);
	close(p[1]);
}

TEST(cmdlog_stop_does_not_wait_for_writers)
{
	char dir[64];
	int p[2];
	struct cmdlog *c;
	uint64_t rd, dropped;
	tmpbox(dir, sizeof(dir));
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK_INT(cmdlog_start(p[0], dir, NULL, &c, NULL), 0);
	CHECK(write(p[1], "kept\n", 5) == 5);
	usleep(20 * 1000);
	cmdlog_counts(c, &rd, &dropped);
	CHECK_INT(rd, 5);
	CHECK_INT(dropped, 0);
	cmdlog_stop(c); /* p[1] still open */
	_cleanup_free_ char *cur = slurp(dir, "cmd.log", NULL);
	CHECK_STREQ(cur, "kept\n");
	close(p[1]);
}
