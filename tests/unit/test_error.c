/* util/error.c: the one error type and its formatter. */
#include "unit.h"

#include "util/error.h"

TEST(error_set_returns_code_and_formats_file_line)
{
	struct error e;
	char buf[ERROR_FORMAT_MAX];

	CHECK_INT(error_set(&e, -EINVAL, "config.toml", 3, "unknown key '%s'", "x"), -EINVAL);
	CHECK(error_isset(&e));
	CHECK_STREQ(error_format(&e, buf, sizeof(buf)), "config.toml:3: unknown key 'x'");
	error_set(&e, -EINVAL, "a.env", 0, "not a file");
	CHECK_STREQ(error_format(&e, buf, sizeof(buf)), "'a.env': not a file");
	error_set(&e, -EINVAL, NULL, 0, "bad");
	CHECK_STREQ(error_format(&e, buf, sizeof(buf)), "bad");
}

TEST(error_errno_names_the_step_and_the_errno)
{
	struct error e;
	char buf[ERROR_FORMAT_MAX];

	CHECK_INT(error_errno(&e, -EACCES, "mount '%s'", "/proc"), -EACCES);
	CHECK_STREQ(error_format(&e, buf, sizeof(buf)), "mount '/proc': Permission denied");
	error_set(&e, -ENOENT, "x", 0, "%s", "");
	CHECK_STREQ(error_format(&e, buf, sizeof(buf)), "'x': No such file or directory");
}

TEST(error_null_and_clear_and_truncation)
{
	struct error e;
	char where[2000], buf[16];

	CHECK_INT(error_set(NULL, -E2BIG, "x", 1, "y"), -E2BIG);
	CHECK_INT(error_errno(NULL, -E2BIG, "y"), -E2BIG);
	error_clear(NULL);
	memset(where, 'w', sizeof(where) - 1);
	where[sizeof(where) - 1] = '\0';
	error_set(&e, -EINVAL, where, 1, "m");
	CHECK_INT(strlen(e.where), ERROR_WHERE_MAX - 1);
	CHECK_INT(strlen(error_format(&e, buf, sizeof(buf))), sizeof(buf) - 1);
	error_clear(&e);
	CHECK(!error_isset(&e));
	CHECK_STREQ(e.where, "");
}

_printf_(3, 4) static int wrapped(struct error *e, unsigned line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = error_setv(e, -EINVAL, "f.toml", line, fmt, ap);
	va_end(ap);
	return r;
}

TEST(error_setv_for_a_module_own_wrapper)
{
	struct error e;
	char buf[ERROR_FORMAT_MAX];

	CHECK_INT(wrapped(&e, 7, "key '%s' twice", "k"), -EINVAL);
	CHECK_STREQ(error_format(&e, buf, sizeof(buf)), "f.toml:7: key 'k' twice");
	CHECK_INT(wrapped(NULL, 1, "x"), -EINVAL);
}
