/* src/secrets/broker.c: brokered secrets' rules and placeholders. */
#include "unit.h"
#include "unit_tmp.h"

#include <ctype.h>
#include <sys/stat.h>

#include "secrets/broker.h"
#include "util/error.h"
#include "util/fs.h"

static int parse(const char *text, struct broker_set *s, struct error *err)
{
	return broker_parse(text, strlen(text), "broker.toml", s, err);
}

TEST(broker_parse_rules)
{
	static struct broker_set s;
	struct error err;
	char t[80];
	CHECK_INT(parse("[ANTHROPIC_API_KEY]\npreset = \"anthropic\"\n\n"
			"[MY_TOKEN]\nhosts = [\"api.example.com\", \"10.0.0.2\"]\n"
			"inject = [\"header:X-Token\", \"query:key\"]\n",
			&s, &err),
		  0);
	CHECK_INT(s.n, 2);
	CHECK_STREQ(s.rule[0].name, "ANTHROPIC_API_KEY");
	CHECK_STREQ(s.rule[0].hosts[0], "api.anthropic.com");
	CHECK_INT(s.rule[0].ninject, 2);
	CHECK_STREQ(broker_inject_text(&s.rule[0].inject[0], t, sizeof(t)), "header:x-api-key");
	CHECK_STREQ(broker_inject_text(&s.rule[0].inject[1], t, sizeof(t)), "authorization");
	CHECK_INT(s.rule[1].nhosts, 2);
	CHECK_STREQ(broker_inject_text(&s.rule[1].inject[0], t, sizeof(t)), "header:x-token");
	CHECK_STREQ(broker_inject_text(&s.rule[1].inject[1], t, sizeof(t)), "query:key");
	CHECK(broker_set_find(&s, "MY_TOKEN") == &s.rule[1]);
	CHECK(broker_set_find(&s, "NOPE") == NULL);
}

TEST(broker_parse_errors_have_lines)
{
	static struct broker_set s;
	struct error err;
	static const struct {
		const char *text;
		unsigned line;
		const char *says;
	} bad[] = {
		{ "[A]\npreset = \"nope\"\n", 2, "unknown preset" },
		{ "[A]\nhosts = [\"x.com\"]\n", 1, "needs hosts and inject" },
		{ "[A]\nhosts = [\"x..com\"]\ninject = [\"path\"]\n", 2, "invalid hosts" },
		{ "[A]\nhosts = [\"x.com\"]\ninject = [\"cookie\"]\n", 3, "invalid inject" },
		{ "[A]\nhosts = [\"x.com\"]\ninject = [\"header:authorization\"]\n", 3,
		  "invalid inject" },
		{ "[A]\nhosts = [\"x.com\"]\ninject = [\"header:a b\"]\n", 3, "invalid inject" },
		{ "[A]\npreset = \"npm\"\nhosts = [\"x.com\"]\n", 2, "a preset, or hosts" },
		{ "[A]\npreset = \"npm\"\nport = 1\n", 3, "unknown key" },
		{ "[1A]\npreset = \"npm\"\n", 1, "not a variable name" },
		{ "A = 1\n", 1, "must be a table" },
		{ "[A]\nhosts = \"x.com\"\ninject = [\"path\"]\n", 2, "list of strings" },
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		CHECK_INT(parse(bad[i].text, &s, &err), -EINVAL);
		CHECK_INT(s.n, 0);
		CHECK_INT(err.line, bad[i].line);
		if (!strstr(err.message, bad[i].says))
			CHECK_STREQ(err.message, bad[i].says);
	}
}

TEST(broker_spec_and_roundtrip)
{
	static struct broker_set s, back;
	struct broker_rule r;
	struct error err;
	char dir[64], t[80];
	/* auto: the preset of a known name, or a clear refusal */
	CHECK_INT(broker_rule_from_spec("ANTHROPIC_API_KEY", "auto", &r, &err), 0);
	CHECK_STREQ(r.preset, "anthropic");
	CHECK_STREQ(r.hosts[0], "api.anthropic.com");
	CHECK_INT(broker_rule_from_spec("TELEGRAM_BOT_TOKEN", "auto", &r, &err), 0);
	CHECK(r.ninject == 1 && r.inject[0].where == BROKER_PATH);
	CHECK_INT(broker_rule_from_spec("MY_KEY", "auto", &r, &err), -EINVAL);
	CHECK(strstr(err.message, "no preset for 'MY_KEY'") != NULL);
	CHECK_INT(broker_rule_from_spec("GH", "github", &r, &err), 0);
	CHECK_STREQ(r.preset, "github");
	CHECK_INT(broker_set_put(&s, &r), 0);
	/* a preset's host takes the preset's places */
	CHECK_INT(broker_rule_from_spec("K", "API.Anthropic.com", &r, &err), 0);
	CHECK_STREQ(r.hosts[0], "api.anthropic.com");
	CHECK_INT(r.ninject, 2);
	CHECK_INT(broker_set_put(&s, &r), 0);
	/* any other host says where */
	CHECK_INT(broker_rule_from_spec("T", "api.example.com", &r, &err), -EINVAL);
	CHECK(strstr(err.message, "api.example.com=header:NAME") != NULL);
	CHECK_INT(
	    broker_rule_from_spec("T", "api.example.com=header:x-token,10.1.2.3=path", &r, &err),
	    0);
	CHECK_INT(r.nhosts, 2);
	CHECK_INT(r.ninject, 2);
	CHECK_INT(broker_set_put(&s, &r), 0);
	CHECK_INT(broker_rule_from_spec("T", "api.example.com=cookie:x", &r, &err), -EINVAL);
	CHECK_INT(broker_rule_from_spec("T", "a b.com=path", &r, &err), -EINVAL);
	CHECK_INT(broker_rule_from_spec("bad-name", "github", &r, &err), -EINVAL);

	int dfd = unit_tmpdir(dir, sizeof(dir));
	CHECK_INT(broker_save(dfd, &s, &err), 0);
	struct stat st;
	CHECK(fstatat(dfd, BROKER_FILE, &st, 0) == 0 && (st.st_mode & 07777) == 0600);
	CHECK_INT(broker_load(dfd, &back, &err), 0);
	CHECK_INT(back.n, 3);
	CHECK_STREQ(back.rule[0].preset, "github");
	CHECK_STREQ(back.rule[2].hosts[1], "10.1.2.3");
	CHECK_STREQ(broker_inject_text(&back.rule[2].inject[1], t, sizeof(t)), "path");
	CHECK_INT(broker_set_remove(&back, "K"), 1);
	CHECK_INT(broker_set_remove(&back, "K"), 0);
	CHECK_INT(back.n, 2);
	CHECK_STREQ(back.rule[1].name, "T");
	close(dfd);
	unit_rmtree(dir);
}

TEST(broker_placeholders)
{
	uint8_t k1[32] = { 1 }, k2[32] = { 2 };
	static const char v[] = "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx-0123456789_zz";
	char p[sizeof(v)], q[sizeof(v)];
	CHECK_INT(broker_placeholder(k1, "K", v, strlen(v), p), 0);
	CHECK_INT(strlen(p), strlen(v));
	CHECK(!strncmp(p, "sk-ant-api03-", 13)); /* the format's prefix kept */
	CHECK(strcmp(p, v) != 0);
	for (size_t i = 13; i < strlen(v); i++) { /* each character of its kind */
		CHECK(!!isupper((unsigned char)p[i]) == !!isupper((unsigned char)v[i]));
		CHECK(!!islower((unsigned char)p[i]) == !!islower((unsigned char)v[i]));
		CHECK(!!isdigit((unsigned char)p[i]) == !!isdigit((unsigned char)v[i]));
		if (!isalnum((unsigned char)v[i]))
			CHECK(p[i] == v[i]);
	}
	CHECK_INT(broker_placeholder(k1, "K", v, strlen(v), q), 0);
	CHECK_STREQ(q, p); /* stable */
	CHECK_INT(broker_placeholder(k2, "K", v, strlen(v), q), 0);
	CHECK(strcmp(q, p) != 0); /* the box's key decides */
	CHECK_INT(broker_placeholder(k1, "OTHER", v, strlen(v), q), 0);
	CHECK(strcmp(q, p) != 0);
	/* a Telegram token: nothing kept (the ':' ends any prefix) */
	static const char tg[] = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
	char tp[sizeof(tg)];
	CHECK_INT(broker_placeholder(k1, "T", tg, strlen(tg), tp), 0);
	CHECK(tp[9] == ':' && strncmp(tp, tg, 9) != 0);
	/* short, or nothing to replace */
	CHECK_INT(broker_placeholder(k1, "K", "abc", 3, q), -EINVAL);
	CHECK_INT(broker_placeholder(k1, "K", "--------------", 14, q), -EINVAL);
}

TEST(broker_key_file)
{
	char dir[64];
	uint8_t a[32], b[32];
	struct error err;
	int dfd = unit_tmpdir(dir, sizeof(dir));
	CHECK_INT(broker_key(dfd, a, &err), 0);
	CHECK_INT(broker_key(dfd, b, &err), 0);
	CHECK(memcmp(a, b, 32) == 0);
	CHECK(fchmodat(dfd, BROKER_KEY_FILE, 0640, 0) == 0);
	CHECK_INT(broker_key(dfd, b, &err), -EPERM);
	CHECK_INT(fs_write_atomic_at(dfd, BROKER_KEY_FILE, "short", 5, 0600), 0);
	CHECK_INT(broker_key(dfd, b, &err), -EPERM);
	close(dfd);
	unit_rmtree(dir);
}
