#include "unit.h"
#include "state/audit.h"
#include "secrets/secrets.h"
#include "util/fs.h"

static void tmpdir(char *out, size_t n)
{
	snprintf(out, n, "/tmp/clawbox-unit.XXXXXX");
	CHECK(mkdtemp(out) != NULL);
}

TEST(audit_parse_time_forms)
{
	int64_t t;
	CHECK_INT(audit_parse_time("2026-11-28T08:30:00Z", 0, &t), 0);
	CHECK_INT(t, 1795854600000LL);
	CHECK_INT(audit_parse_time("2026-11-28T08:30:00.5Z", 0, &t), 0);
	CHECK_INT(t, 1795854600500LL);
	CHECK_INT(audit_parse_time("2026-11-28", 0, &t), 0);
	CHECK_INT(t, 1795824000000LL);
	CHECK_INT(audit_parse_time("2h", 10000000, &t), 0);
	CHECK_INT(t, 10000000 - 7200000);
	CHECK_INT(audit_parse_time("90s", 100000, &t), 0);
	CHECK_INT(t, 10000);
	CHECK_INT(audit_parse_time("yesterday", 0, &t), -EINVAL);
	CHECK_INT(audit_parse_time("2026-11-28T08:30:00Zjunk", 0, &t), -EINVAL);
	CHECK_INT(audit_parse_time("5w", 0, &t), -EINVAL);
	CHECK_INT(audit_parse_time("99999999999999999999d", 0, &t), -EINVAL);
	CHECK_INT(audit_parse_time("", 0, &t), -EINVAL);
}

TEST(audit_format_time_roundtrip)
{
	char buf[32];
	int64_t t;
	audit_format_time(1795854600123LL, buf);
	CHECK_STREQ(buf, "2026-11-28T08:30:00.123Z");
	CHECK_INT(audit_parse_time(buf, 0, &t), 0);
	CHECK_INT(t, 1795854600123LL);
}

TEST(audit_chain_appends_and_verifies)
{
	char dir[64], path[128];
	struct audit *a;
	struct audit_verify_result v;
	tmpdir(dir, sizeof(dir));
	CHECK_INT(audit_open(dir, "b", &a), 0);
	for (int i = 0; i < 10; i++)
		CHECK_INT(audit_append(a, "test", json_pack("{s:i, s:s}", "i", i, "s", "a\nb\"c")),
			  0);
	audit_append(a, "null-fields", NULL);
	audit_close(a);
	CHECK_INT(audit_verify(dir, &v), 0);
	CHECK_INT(v.lines, 11);
	/* One line per event: embedded newlines are escaped. */
	snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
	char *data;
	size_t len;
	CHECK_INT(fs_read_file(path, 1 << 20, &data, &len), 0);
	size_t nl = 0;
	for (size_t i = 0; i < len; i++)
		nl += data[i] == '\n';
	CHECK_INT(nl, 11);
	CHECK(strstr(data, "\"seq\":1,") != NULL);
	CHECK(
	    strstr(
		data,
		"\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\"") !=
	    NULL);
	free(data);
}

TEST(audit_refuses_to_extend_headless_log)
{
	char dir[64], path[128];
	struct audit *a;
	tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	fputs("{\"seq\":1}\n", f);
	fclose(f);
	CHECK_INT(audit_open(dir, "b", &a), 0);
	CHECK_INT(audit_append(a, "x", NULL), -EBADMSG);
	audit_close(a);
}

TEST(audit_empty_log_is_intact)
{
	char dir[64];
	struct audit_verify_result v;
	struct audit *a;
	tmpdir(dir, sizeof(dir));
	CHECK_INT(audit_open(dir, "b", &a), 0);
	audit_close(a);
	CHECK_INT(audit_verify(dir, &v), 0);
	CHECK_INT(v.lines, 0);
}

/* A crash in the middle of an append is not tampering: a whole line written
 * before the head, or a torn last line, verifies (with a note), and the next
 * append repairs the log; anything else past the head stays an error. */
TEST(audit_survives_interrupted_appends)
{
	char dir[64], log[128], head[128], saved[160];
	struct audit *a;
	struct audit_verify_result v;
	tmpdir(dir, sizeof(dir));
	snprintf(log, sizeof(log), "%s/audit.jsonl", dir);
	snprintf(head, sizeof(head), "%s/audit.head", dir);
	CHECK_INT(audit_open(dir, "b", &a), 0);
	CHECK_INT(audit_append(a, "one", NULL), 0);
	/* a line appended, the head left behind (SIGKILL between the two writes) */
	FILE *h = fopen(head, "r");
	CHECK(h && fgets(saved, sizeof(saved), h));
	fclose(h);
	CHECK_INT(audit_append(a, "two", NULL), 0);
	h = fopen(head, "w");
	CHECK(h);
	fputs(saved, h);
	fclose(h);
	CHECK_INT(audit_verify(dir, &v), 0);
	CHECK_INT(v.lines, 2);
	CHECK(v.note[0] != '\0');
	CHECK_INT(audit_append(a, "three", NULL), 0); /* adopts "two", then appends */
	CHECK_INT(audit_verify(dir, &v), 0);
	CHECK_INT(v.lines, 3);
	CHECK(v.note[0] == '\0');
	/* a torn line: part of an append */
	FILE *l = fopen(log, "a");
	CHECK(l);
	fputs("{\"seq\":4,\"time\":\"20", l);
	fclose(l);
	CHECK_INT(audit_verify(dir, &v), 0);
	CHECK(v.note[0] != '\0');
	CHECK_INT(audit_append(a, "four", NULL), 0); /* cuts the fragment off */
	CHECK_INT(audit_verify(dir, &v), 0);
	CHECK_INT(v.lines, 4);
	CHECK(v.note[0] == '\0');
	/* a whole line that does not continue the chain: not ours to fix */
	l = fopen(log, "a");
	CHECK(l);
	fputs("{\"seq\":5,\"prev\":\"forged\"}\n", l);
	fclose(l);
	CHECK_INT(audit_verify(dir, &v), -EBADMSG);
	CHECK_INT(audit_append(a, "five", NULL), -EBADMSG);
	audit_close(a);
}

/* Every writer of a box's log redacts against the values the box was ever
 * given (secrets.known and the store), with no hook installed: net events,
 * gate events, any string at any depth. */
TEST(audit_redacts_every_event_against_known_values)
{
	char dir[64], path[128];
	struct audit *a;
	struct secrets *k, *given;
	struct error err;
	struct audit_verify_result v;
	tmpdir(dir, sizeof(dir));
	CHECK_INT(secrets_new(&given), 0);
	CHECK_INT(secrets_put(given, "KEY", "tok-Value-0a1b2c3d", 18, SECRET_SOURCE_CLI, NULL, 0),
		  0);
	CHECK_INT(secrets_known_record(dir, given, &k, &err), 0);
	secrets_free(k);
	secrets_free(given);
	CHECK_INT(audit_open(dir, "b", &a), 0);
	CHECK_INT(
	    audit_append(a, "net.dns",
			 json_pack("{s:s, s:[s, {s:s}]}", "host", "tok-Value-0a1b2c3d.example",
				   "deep", "x", "y", "746f6b2d56616c75652d3061316232633364")),
	    0);
	audit_close(a);
	CHECK_INT(audit_verify(dir, &v), 0);
	snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
	char *data;
	size_t len;
	CHECK_INT(fs_read_file(path, 1 << 20, &data, &len), 0);
	CHECK(strstr(data, "\"host\":\"[REDACTED:KEY].example\"") != NULL);
	CHECK(strstr(data, "tok-Value") == NULL);
	/* hex of the value, lower case: redacted too */
	CHECK(strstr(data, "746f6b2d56616c7565") == NULL);
	free(data);
}

/* A log whose known values cannot be read is not written to (nothing
 * unredacted): a secrets.known that others may read is refused. */
TEST(audit_refuses_when_known_values_are_unreadable)
{
	char dir[64], path[128];
	struct audit *a;
	tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/" SECRETS_KNOWN_FILE, dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	CHECK_INT(fs_write_all(fd, "K=\"v-0123456789\"\n", 17), 0);
	close(fd);
	chmod(path, 0644);
	CHECK(audit_open(dir, "b", &a) < 0);
	chmod(path, 0600);
	CHECK_INT(audit_open(dir, "b", &a), 0);
	audit_close(a);
}
