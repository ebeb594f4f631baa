/* box/report.c: the init's report records, through a real pipe. */
#include "unit.h"

#include "box/report.h"

TEST(report_carries_the_error)
{
	int p[2];
	struct report r;
	struct error e;

	CHECK_INT(pipe(p), 0);
	error_errno(&e, -EACCES, "mount the box's /proc '%s'", "/proc");
	report_send(p[1], REPORT_FAIL, 0, &e);
	report_send(p[1], REPORT_EXIT, 0x0300, NULL);
	close(p[1]);

	CHECK_INT(report_recv(p[0], &r), 1);
	CHECK_INT(r.kind, REPORT_FAIL);
	CHECK_INT(r.error.code, -EACCES);
	CHECK_STREQ(r.error.message, "mount the box's /proc '/proc': Permission denied");
	CHECK_STREQ(r.error.where, "");

	CHECK_INT(report_recv(p[0], &r), 1);
	CHECK_INT(r.kind, REPORT_EXIT);
	CHECK_INT(r.value, 0x0300);
	CHECK(!error_isset(&r.error));
	CHECK_STREQ(r.error.message, "");

	CHECK_INT(report_recv(p[0], &r), 0); /* the init is gone */
	close(p[0]);
}

TEST(report_exec_failure_names_the_command)
{
	int p[2];
	struct report r;
	struct error e;
	char buf[ERROR_FORMAT_MAX];

	CHECK_INT(pipe(p), 0);
	error_set(&e, -ENOENT, "no-such-command", 0, "%s", "");
	report_send(p[1], REPORT_EXEC_FAIL, 0, &e);
	CHECK_INT(report_recv(p[0], &r), 1);
	CHECK_INT(r.kind, REPORT_EXEC_FAIL);
	CHECK_STREQ(r.error.where, "no-such-command");
	CHECK_STREQ(error_format(&r.error, buf, sizeof(buf)),
		    "'no-such-command': No such file or directory");
	close(p[0]);
	close(p[1]);
}

/* What does not come whole, or would run off its strings, is refused. */
TEST(report_refuses_broken_records)
{
	int p[2];
	struct report r = { .kind = 42 }, bad;

	CHECK_INT(pipe(p), 0);
	CHECK_INT(write(p[1], "short", 5), 5);
	CHECK_INT(report_recv(p[0], &r), -EBADMSG);
	CHECK_INT(r.kind, 42); /* untouched */

	memset(&bad, 'x', sizeof(bad));
	bad.kind = REPORT_FAIL;
	CHECK_INT(write(p[1], &bad, sizeof(bad)), (ssize_t)sizeof(bad));
	CHECK_INT(report_recv(p[0], &r), -EBADMSG);
	CHECK_INT(r.kind, 42);

	bad.error.where[0] = '\0';
	bad.error.message[sizeof(bad.error.message) - 1] = '\0';
	CHECK_INT(write(p[1], &bad, sizeof(bad)), (ssize_t)sizeof(bad));
	CHECK_INT(report_recv(p[0], &r), 1);
	CHECK_INT(strlen(r.error.message), sizeof(r.error.message) - 1);
	close(p[0]);
	close(p[1]);
}
