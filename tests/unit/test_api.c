/* api: the routing of paths, the auth policy of the TCP side, the
 * Authorization, Origin and Host checks, and the JSON helpers. */
#include "unit.h"

#include "api/api_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>

struct fake {
	const char *hdr[8][2];
	size_t n;
};

static struct fake fake_hdrs;

static const char *fake_header(struct api_req *rq, const char *name)
{
	for (size_t i = 0; i < fake_hdrs.n; i++)
		if (strcasecmp(fake_hdrs.hdr[i][0], name) == 0)
			return fake_hdrs.hdr[i][1];
	return NULL;
}

static const char *no_query(struct api_req *rq, const char *name)
{
	return NULL;
}

static struct api_req req(struct api *a, enum api_transport t)
{
	fake_hdrs.n = 0;
	return (
	    struct api_req){ .api = a, .transport = t, .header = fake_header, .query = no_query };
}

static void hdr(const char *name, const char *value)
{
	fake_hdrs.hdr[fake_hdrs.n][0] = name;
	fake_hdrs.hdr[fake_hdrs.n][1] = value;
	fake_hdrs.n++;
}

TEST(api_route_matches_and_extracts)
{
	struct api a = { 0 };
	struct api_req rq = req(&a, API_UNIX);
	const struct api_route *rt;
	CHECK_INT(api_route(&rq, "GET", "/v1/health", &rt), 0);
	CHECK(rt->handle == api_h_health);
	CHECK_INT(api_route(&rq, "HEAD", "/v1/health", &rt), 0); /* HEAD is GET's */
	CHECK_INT(api_route(&rq, "POST", "/v1/boxes/b1/exec", &rt), 0);
	CHECK(rt->handle == api_h_exec);
	CHECK_STREQ(rq.params[0], "b1");
	api_req_params_free(&rq);
	CHECK_INT(api_route(&rq, "POST", "/v1/boxes/b1/exec/stream", &rt), 0);
	CHECK(rt->handle == api_h_exec_stream);
	api_req_params_free(&rq);
	CHECK_INT(api_route(&rq, "GET", "/v1/boxes/b/files/a/b/c.txt", &rt), 0);
	CHECK_INT(rq.nparams, 2);
	CHECK_STREQ(rq.params[1], "a/b/c.txt");
	api_req_params_free(&rq);
	/* the workspace itself: with and without the slash */
	CHECK_INT(api_route(&rq, "GET", "/v1/files", &rt), 0);
	CHECK_STREQ(rq.params[0], "");
	api_req_params_free(&rq);
	CHECK_INT(api_route(&rq, "GET", "/v1/files/", &rt), 0);
	CHECK_STREQ(rq.params[0], "");
	api_req_params_free(&rq);
	CHECK_INT(api_route(&rq, "DELETE", "/v1/boxes/b/sessions/s1", &rt), 0);
	CHECK_STREQ(rq.params[1], "s1");
	api_req_params_free(&rq);
}

TEST(api_route_errors)
{
	struct api a = { 0 };
	struct api_req rq = req(&a, API_UNIX);
	const struct api_route *rt;
	CHECK_INT(api_route(&rq, "GET", "/v1/nope", &rt), -ENOENT);
	CHECK_INT(api_route(&rq, "GET", "/v1/health/x", &rt), -ENOENT);
	CHECK_INT(api_route(&rq, "GET", "/v1/boxes//exec", &rt), -ENOENT);
	CHECK_INT(api_route(&rq, "GET", "", &rt), -ENOENT);
	CHECK_INT(api_route(&rq, "PUT", "/v1/health", &rt), -EPERM);
	CHECK_STREQ(rq.allow, "GET");
	CHECK_INT(api_route(&rq, "PATCH", "/v1/boxes/b/sessions", &rt), -EPERM);
	CHECK_STREQ(rq.allow, "GET, POST");
	/* a session name with '/' (decoded %2F): refused, never a route */
	CHECK_INT(api_route(&rq, "DELETE", "/v1/boxes/b/sessions/a/b", &rt), -EINVAL);
	CHECK_INT(rq.nparams, 0);
	/* an unknown path beneath a box is not mistaken for a name */
	CHECK_INT(api_route(&rq, "GET", "/v1/boxes/b/nope/x", &rt), -ENOENT);
}

TEST(api_auth_policy)
{
	struct api_config c = { .listen = NULL };
	struct error err = { 0 };
	CHECK_INT(api_check_auth_policy(&c, &err), 0); /* the socket alone */
	c.listen = "127.0.0.1:8080";
	CHECK_INT(api_check_auth_policy(&c, &err), -EINVAL);
	CHECK(strstr(err.message, "TCP needs auth") != NULL);
	c.no_auth = true;
	CHECK_INT(api_check_auth_policy(&c, &err), 0);
	c.listen = "[::1]:1";
	CHECK_INT(api_check_auth_policy(&c, &err), 0);
	c.listen = "0.0.0.0:8080";
	CHECK_INT(api_check_auth_policy(&c, &err), -EINVAL);
	CHECK(strstr(err.message, "non-loopback") != NULL);
	c.listen = "[::]:8080";
	CHECK_INT(api_check_auth_policy(&c, &err), -EINVAL);
	c.token = "t";
	CHECK_INT(api_check_auth_policy(&c, &err), -EINVAL); /* --no-auth and a token */
	c.no_auth = false;
	CHECK_INT(api_check_auth_policy(&c, &err), 0);
	c.token = "";
	c.password = "p";
	CHECK_INT(api_check_auth_policy(&c, &err), 0);
	static const char *const bad[] = { "127.0.0.1", "127.0.0.1:",   "127.0.0.1:65536",
					   ":80",       "127.0.0.1:-1", "host.example:80",
					   "[::1:80",   "1.2.3:80" };
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		c.listen = bad[i];
		CHECK_INT(api_check_auth_policy(&c, &err), -EINVAL);
	}
}

TEST(api_loopback_and_origin)
{
	struct sockaddr_storage ss;
	socklen_t len;
	CHECK_INT(api_parse_listen("localhost:80", &ss, &len), 0);
	CHECK(api_addr_loopback((struct sockaddr *)&ss));
	CHECK_INT(api_parse_listen("127.9.9.9:80", &ss, &len), 0);
	CHECK(api_addr_loopback((struct sockaddr *)&ss));
	CHECK_INT(api_parse_listen("10.0.0.1:80", &ss, &len), 0);
	CHECK(!api_addr_loopback((struct sockaddr *)&ss));
	CHECK_INT(api_parse_listen("[::ffff:127.0.0.1]:80", &ss, &len), 0);
	CHECK(api_addr_loopback((struct sockaddr *)&ss));
	CHECK(api_host_loopback("127.0.0.1:8080"));
	CHECK(api_host_loopback("localhost"));
	CHECK(api_host_loopback("[::1]:80"));
	CHECK(!api_host_loopback("evil.example"));
	CHECK(!api_host_loopback("127.0.0.1.evil.example"));
	CHECK(!api_host_loopback("localhost.evil.example:80"));
	CHECK(!api_host_loopback("[::1]x"));
	struct api a = { 0 };
	CHECK(api_origin_allowed(&a, "http://127.0.0.1:3000"));
	CHECK(api_origin_allowed(&a, "https://localhost"));
	CHECK(!api_origin_allowed(&a, "null"));
	CHECK(!api_origin_allowed(&a, "http://evil.example"));
	CHECK(!api_origin_allowed(&a, "http://localhost@evil.example"));
	CHECK(!api_origin_allowed(&a, "http://127.0.0.1.nip.io"));
	CHECK(!api_origin_allowed(&a, "file://localhost/x"));
	a.cfg.origins[a.cfg.norigins++] = "https://app.example";
	CHECK(api_origin_allowed(&a, "https://app.example"));
	CHECK(!api_origin_allowed(&a, "https://app.example.evil"));
}

TEST(api_authorize_tcp)
{
	struct api a = { .cfg = { .token = "tok-123" } };
	struct api_resp rs = { .fd = -1 };
	struct api_req rq = req(&a, API_TCP);
	CHECK(api_authorize(&rq, &rs) < 0);
	CHECK_INT(rs.status, 401);
	api_resp_free(&rs);
	rq = req(&a, API_TCP);
	hdr("Authorization", "Bearer tok-12");
	CHECK(api_authorize(&rq, &rs) < 0);
	api_resp_free(&rs);
	rq = req(&a, API_TCP);
	hdr("Authorization", "Bearer tok-1234");
	CHECK(api_authorize(&rq, &rs) < 0);
	api_resp_free(&rs);
	rq = req(&a, API_TCP);
	hdr("Authorization", "bearer tok-123");
	CHECK_INT(api_authorize(&rq, &rs), 0);
	/* Basic is for the password only */
	rq = req(&a, API_TCP);
	hdr("Authorization", "Basic dTp0b2stMTIz"); /* u:tok-123 */
	CHECK(api_authorize(&rq, &rs) < 0);
	api_resp_free(&rs);
	a.cfg.token = NULL;
	a.cfg.password = "tok-123";
	rq = req(&a, API_TCP);
	hdr("Authorization", "Basic dTp0b2stMTIz");
	CHECK_INT(api_authorize(&rq, &rs), 0);
	rq = req(&a, API_TCP);
	hdr("Authorization", "Basic !!!");
	CHECK(api_authorize(&rq, &rs) < 0);
	api_resp_free(&rs);
	/* the unix socket needs none; a bad Origin is refused everywhere */
	rq = req(&a, API_UNIX);
	CHECK_INT(api_authorize(&rq, &rs), 0);
	hdr("Origin", "http://evil.example");
	CHECK(api_authorize(&rq, &rs) < 0);
	CHECK_INT(rs.status, 403);
	api_resp_free(&rs);
	/* no auth: the Host must be a loopback one */
	a.cfg.password = NULL;
	a.cfg.no_auth = true;
	rq = req(&a, API_TCP);
	hdr("Host", "127.0.0.1:8080");
	CHECK_INT(api_authorize(&rq, &rs), 0);
	rq = req(&a, API_TCP);
	hdr("Host", "rebind.evil.example:8080");
	CHECK(api_authorize(&rq, &rs) < 0);
	api_resp_free(&rs);
}

TEST(api_secret_equal_lengths)
{
	CHECK(api_secret_equal("abc", 3, "abc", 3));
	CHECK(!api_secret_equal("abc", 3, "abd", 3));
	CHECK(!api_secret_equal("abc", 2, "abc", 3));
	CHECK(!api_secret_equal("", 0, "a", 1));
}

TEST(api_text_and_base64)
{
	json_t *j = api_text("ok\xc3\xa9", 4);
	CHECK_STREQ(json_string_value(j), "ok\xc3\xa9");
	json_decref(j);
	j = api_text("a\xff"
		     "b\xc3",
		     4);
	CHECK_STREQ(json_string_value(j), "a\xef\xbf\xbd"
					  "b\xef\xbf\xbd");
	json_decref(j);
	j = api_text("a\0b", 3);
	CHECK_INT(json_string_length(j), 3);
	json_decref(j);
	j = api_base64("\xffok", 3);
	CHECK_STREQ(json_string_value(j), "/29r");
	json_decref(j);
	char *d;
	size_t n;
	CHECK_INT(api_unbase64("aGkK", 4, &d, &n), 0);
	CHECK(n == 3 && memcmp(d, "hi\n", 3) == 0);
	free(d);
	CHECK_INT(api_unbase64("a$b", 3, &d, &n), -EINVAL);
	CHECK_INT(api_status_of(-ENOTCONN), 409);
	CHECK_INT(api_status_of(-ELOOP), 403);
	CHECK_INT(api_status_of(-EFBIG), 413);
	CHECK_INT(api_status_of(-ENOENT), 404);
}
