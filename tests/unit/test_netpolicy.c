#include "unit.h"
#include "unit_addr.h"
#include "net/netpolicy.h"
#include "util/error.h"

#include <arpa/inet.h>
#include <netinet/in.h>

TEST(netpolicy_patterns)
{
	struct netpolicy p = { 0 };
	const char *rule;
	CHECK_INT(netpolicy_add_domain(&p, "api.Example.com", true), 0);
	CHECK_INT(netpolicy_add_domain(&p, "*.slack.com", true), 0);
	CHECK_INT(netpolicy_add_domain(&p, "git.example.org:22", true), 0);
	CHECK_INT(netpolicy_add_domain(&p, "*.example.org", true), 0);
	CHECK_INT(netpolicy_add_domain(&p, "bad.example.org", false), 0);
	CHECK_INT(netpolicy_add_domain(&p, "*.example.org:8443", false), 0);

	CHECK(netpolicy_allow_name(&p, "api.example.com", 443, &rule));
	CHECK_STREQ(rule, "api.Example.com");
	CHECK(netpolicy_allow_name(&p, "API.EXAMPLE.COM.", 80, &rule));
	CHECK(!netpolicy_allow_name(&p, "api.example.com", 8080, &rule));
	CHECK_STREQ(rule, "unmatched");
	CHECK(!netpolicy_allow_name(&p, "x.api.example.com", 443, &rule));
	CHECK(!netpolicy_allow_name(&p, "slack.com", 443, &rule)); /* subdomains only */
	CHECK(netpolicy_allow_name(&p, "a.b.slack.com", 443, &rule));
	CHECK(!netpolicy_allow_name(&p, "evilslack.com", 443, &rule));
	CHECK(netpolicy_allow_name(&p, "git.example.org", 22, &rule));
	CHECK(!netpolicy_allow_name(&p, "bad.example.org", 443, &rule)); /* deny wins */
	CHECK_STREQ(rule, "bad.example.org");
	CHECK(!netpolicy_allow_name(&p, "bad.example.org", 22, &rule)); /* every port */
	CHECK(!netpolicy_allow_name(&p, "x.example.org", 8443, &rule));
	CHECK(netpolicy_allow_name(&p, "x.example.org", 443, &rule));
	CHECK(!netpolicy_allow_name(&p, "bad..example.org", 443, &rule));
	CHECK_STREQ(rule, "invalid-name");
	/* DNS: any port; a port-specific deny does not refuse the name. */
	CHECK(netpolicy_allow_name_any_port(&p, "git.example.org", &rule));
	CHECK(netpolicy_allow_name_any_port(&p, "x.example.org", &rule));
	CHECK(!netpolicy_allow_name_any_port(&p, "bad.example.org", &rule));
	CHECK(!netpolicy_allow_name_any_port(&p, "example.org", &rule));
	/* IP literals need an address rule. */
	CHECK(!netpolicy_allow_name(&p, "93.184.215.14", 443, &rule));
	CHECK_STREQ(rule, "ip-literal");
	CHECK_INT(netpolicy_add_ip(&p, "93.184.215.0/24"), 0);
	CHECK(netpolicy_allow_name(&p, "93.184.215.14", 443, &rule));
	CHECK_STREQ(rule, "93.184.215.0/24");
	CHECK(!netpolicy_allow_name(&p, "[::1]", 443, &rule));
	netpolicy_free(&p);
}

TEST(netpolicy_invalid_patterns)
{
	struct netpolicy p = { 0 };
	static const char *const bad[] = { "",          "*.",     "*",          "a..b",
					   ".a",        "a b",    "x.com:0",    "x.com:",
					   "-x.com",    "x-.com", "1.2.3.4",    "*.*.x.com",
					   "x.com:1:2", "a/b",    "x.com:65536" };
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		if (netpolicy_add_domain(&p, bad[i], true) != -EINVAL) {
			fprintf(stderr, "accepted '%s'\n", bad[i]);
			CHECK(false);
		}
	static const char *const badip[] = { "",       "x",         "1.2.3.4/", "1.2.3.4/33",
					     "::/129", "1.2.3.4/a", "/8" };
	for (size_t i = 0; i < ELEMENTSOF(badip); i++)
		CHECK_INT(netpolicy_add_ip(&p, badip[i]), -EINVAL);
	CHECK_INT(p.npat + p.nip, 0);
}

TEST(netpolicy_special_addresses)
{
	struct netpolicy p = { 0 };
	const char *rule;
	static const struct {
		const char *addr, *what;
	} tab[] = {
		{ "127.0.0.1", "loopback" },         { "10.1.2.3", "private" },
		{ "172.16.0.1", "private" },         { "172.31.255.255", "private" },
		{ "192.168.1.1", "private" },        { "100.64.0.1", "private" },
		{ "169.254.169.254", "metadata" },   { "169.254.1.1", "link-local" },
		{ "0.0.0.0", "unspecified" },        { "224.0.0.1", "multicast" },
		{ "100.100.100.200", "metadata" },   { "192.0.2.7", "documentation" },
		{ "198.51.100.1", "documentation" }, { "203.0.113.255", "documentation" },
		{ "255.255.255.255", "broadcast" },  { "0.1.2.3", "unspecified" },
		{ "239.255.255.250", "multicast" },  { "100.127.255.255", "private" },
	};
	for (size_t i = 0; i < ELEMENTSOF(tab); i++) {
		struct sockaddr_storage ss = v4(tab[i].addr);
		CHECK(!netpolicy_allow_addr(&p, (struct sockaddr *)&ss, &rule));
		CHECK_STREQ(rule, tab[i].what);
	}
	struct sockaddr_storage ok = v4("172.32.0.1");
	CHECK(netpolicy_allow_addr(&p, (struct sockaddr *)&ok, &rule));
	CHECK_STREQ(rule, "public");
	static const char *const bad6[] = { "::1",
					    "::",
					    "fe80::1",
					    "fd00::1",
					    "fd00:ec2::254",
					    "::ffff:10.0.0.1",
					    "::ffff:127.0.0.1",
					    "ff02::1",
					    "2001:db8::1",
					    "::127.0.0.1",
					    "::ffff:203.0.113.9",
					    "64:ff9b::7f00:1",
					    "64:ff9b::c000:207",
					    "64:ff9b:1::1",
					    "2002:7f00:1::1",
					    "2002:a00:1::",
					    "fec0::1",
					    "100::1" };
	for (size_t i = 0; i < ELEMENTSOF(bad6); i++) {
		struct sockaddr_storage ss = v6(bad6[i]);
		CHECK(!netpolicy_allow_addr(&p, (struct sockaddr *)&ss, &rule));
	}
	struct sockaddr_storage pub6 = v6("2606:4700::1111");
	CHECK(netpolicy_allow_addr(&p, (struct sockaddr *)&pub6, &rule));
	struct sockaddr_storage pub6to4 = v6("2002:0101:0101::1");
	CHECK(netpolicy_allow_addr(&p, (struct sockaddr *)&pub6to4, &rule));
	/* The IPv4 address carried by IPv6 forms (the proxy's own-address
	 * check tests it too). */
	struct sockaddr_in e4;
	struct sockaddr_storage nat = v6("64:ff9b::102:304"), plain = v6("2606:4700::1");
	CHECK(netpolicy_embedded_v4((struct sockaddr *)&nat, &e4) &&
	      e4.sin_addr.s_addr == htonl(0x01020304));
	CHECK(!netpolicy_embedded_v4((struct sockaddr *)&plain, &e4));
	CHECK_INT(netpolicy_add_ip(&p, "10.77.0.0/16"), 0);
	struct sockaddr_storage in = v4("10.77.3.4"), out = v4("10.78.0.1");
	CHECK(netpolicy_allow_addr(&p, (struct sockaddr *)&in, &rule));
	CHECK_STREQ(rule, "10.77.0.0/16");
	CHECK(!netpolicy_allow_addr(&p, (struct sockaddr *)&out, &rule));
	/* A host's own address passes only by a rule naming that address. */
	CHECK(!netpolicy_names_addr(&p, (struct sockaddr *)&in, &rule));
	CHECK_INT(netpolicy_add_ip(&p, "10.77.3.4"), 0);
	CHECK(netpolicy_names_addr(&p, (struct sockaddr *)&in, &rule));
	netpolicy_free(&p);
}

TEST(netpolicy_file)
{
	char path[] = "/tmp/clawbox-unit.netXXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	const char *text = "# comment\n\nallow-domain a.example\n  deny-domain b.example:8080 \n"
			   "allow-ip 10.0.0.0/8\nallow-domain\n";
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	struct netpolicy p = { 0 };
	struct error e = { 0 };
	char b[ERROR_FORMAT_MAX], want[ERROR_FORMAT_MAX];
	CHECK_INT(netpolicy_read_file(&p, path, &e), -EINVAL);
	CHECK_INT(e.line, 6);
	snprintf(want, sizeof(want),
		 "%s:6: invalid line (allow-domain P, deny-domain P or allow-ip A[/L])", path);
	CHECK_STREQ(error_format(&e, b, sizeof(b)), want);
	CHECK_INT(p.npat, 2);
	CHECK_INT(p.nip, 1);
	netpolicy_free(&p);
	unlink(path);
	CHECK_INT(netpolicy_read_file(&p, "/nonexistent/clawbox/net", &e), 0);
	/* A file that cannot be read names itself. */
	CHECK_INT(netpolicy_read_file(&p, "/", &e), -EIO);
	CHECK_STREQ(error_format(&e, b, sizeof(b)), "read '/': Input/output error");
	netpolicy_free(&p);
}
