#include "unit.h"
#include "state/box.h"
#include "cli/cli.h"
#include "box/masks.h"
#include "util/strv.h"

TEST(box_names)
{
	CHECK(box_name_valid("demo"));
	CHECK(box_name_valid("my-proj_1.2"));
	CHECK(!box_name_valid(""));
	CHECK(!box_name_valid("."));
	CHECK(!box_name_valid(".."));
	CHECK(!box_name_valid("../x"));
	CHECK(!box_name_valid("a/b"));
	CHECK(!box_name_valid("-rf"));
	CHECK(!box_name_valid("a b"));
	CHECK(!box_name_valid("a\nb"));
	CHECK(!box_name_valid(
	    "0123456789012345678901234567890123456789012345678901234567890123456789"));
}

TEST(default_names_are_valid_and_distinct)
{
	char a[80], b[80], c[80];
	CHECK_INT(box_default_name("/home/u/proj", a, sizeof(a)), 0);
	CHECK_INT(box_default_name("/srv/proj", b, sizeof(b)), 0);
	CHECK_INT(box_default_name("/x/-we ird\n name..", c, sizeof(c)), 0);
	CHECK(strncmp(a, "proj-", 5) == 0);
	CHECK(strcmp(a, b) != 0);
	CHECK(box_name_valid(a) && box_name_valid(b) && box_name_valid(c));
}

TEST(cli_numbers)
{
	uint64_t v;
	CHECK_INT(cli_parse_uint("12", &v), 0);
	CHECK_INT(cli_parse_uint("12a", &v), -EINVAL);
	CHECK_INT(cli_parse_uint("", &v), -EINVAL);
}

TEST(masks_normalize)
{
	struct strv m = { 0 };
	strv_push(&m, "/home/u/proj/.env");
	strv_push(&m, "/home");
	strv_push(&m, "/home/u");
	strv_push(&m, "/run/user");
	strv_push(&m, "/run");
	strv_push(&m, "/home");
	masks_normalize(&m, "/home/u/proj");
	CHECK_INT(m.n, 3);
	CHECK_STREQ(m.v[0], "/home");
	CHECK_STREQ(m.v[1], "/home/u/proj/.env"); /* inside the project: kept */
	CHECK_STREQ(m.v[2], "/run");
	strv_free(&m);
}

TEST(deny_entries)
{
	struct strv m = { 0 };
	CHECK_INT(masks_add_deny(&m, "/p", ".env"), 0);
	CHECK_INT(masks_add_deny(&m, "/p", "a/../b/./c/"), 0);
	CHECK_INT(masks_add_deny(&m, "/p", "../../etc"), 0);
	CHECK_INT(masks_add_deny(&m, "/p", ""), -EINVAL);
	CHECK_STREQ(m.v[0], "/p/.env");
	CHECK_STREQ(m.v[1], "/p/b/c");
	CHECK_STREQ(m.v[2], "/etc");
	strv_free(&m);
}

TEST(project_conflicts)
{
	struct strv b = { 0 };
	strv_push(&b, "/root");
	strv_push(&b, "/etc/shadow");
	CHECK(masks_project_conflict(&b, "/etc") != NULL);
	CHECK(masks_project_conflict(&b, "/root") != NULL);
	CHECK(masks_project_conflict(&b, "/root/proj") == NULL);
	CHECK(masks_project_conflict(&b, "/srv/x") == NULL);
	strv_free(&b);
}
