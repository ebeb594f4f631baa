#include "unit.h"

#include "box/boxenv.h"

TEST(environment_allowlist)
{
	struct strv e = { 0 };
	setenv("SECRET_TOKEN", "x", 1);
	setenv("LC_TIME", "C", 1);
	setenv("TERM", "xterm", 1);
	CHECK_INT(boxenv_vars("bx", "/w", "/bin/sh", &e), 0);
	bool home = false, lc = false, term = false, secret = false, box = false;
	for (size_t i = 0; i < e.n; i++) {
		home |= STREQ(e.v[i], "HOME=/home/clawbox");
		lc |= STREQ(e.v[i], "LC_TIME=C");
		term |= STREQ(e.v[i], "TERM=xterm");
		secret |= strncmp(e.v[i], "SECRET_TOKEN", 12) == 0;
		box |= STREQ(e.v[i], "CLAWBOX_BOX=bx");
	}
	CHECK(home && lc && term && box && !secret);
	CHECK(e.v[e.n] == NULL);
	strv_free(&e);
}
