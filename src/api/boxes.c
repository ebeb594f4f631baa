/* Endpoints of the daemon and of boxes: health, version, metadata, the
 * boxes (list, status, up, down) and their sessions. */
#include "util/common.h"
#include "util/clock.h"

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>

#include "api/api_int.h"
#include "ctl/ctl.h"
#include "state/audit.h"

#define UP_OUTPUT_MAX (64u << 10)
#define UP_TIMEOUT_MS 120000

extern char **environ;

int api_load_box(struct api_req *rq, struct api_resp *rs, const char *name, struct box *ret)
{
	if (!box_name_valid(name))
		return api_errorf(rs, 400, "'%.100s' is not a box name", name);
	int r = box_load(rq->api->state, name, ret);
	if (r == -ENOENT)
		return api_errorf(rs, 404, "no box '%s'", name);
	if (r < 0)
		return api_errorf(rs, 500, "cannot load box '%s': %s", name, strerror(-r));
	return 0;
}

int api_req_box(struct api_req *rq, struct api_resp *rs, struct box *ret)
{
	if (!strncmp(rq->route->pattern, "/v1/boxes/{}", 12))
		return api_load_box(rq, rs, rq->params[0], ret);
	if (!rq->api->cfg.box)
		return api_errorf(rs, 409, "no default box: start clawbox serve with --box NAME");
	return api_load_box(rq, rs, rq->api->cfg.box, ret);
}

void api_audit(struct api_req *rq, const struct box *b, const char *event, json_t *fields)
{
	struct audit *a = NULL;
	if (!fields)
		return;
	json_object_set_new(fields, "client", json_string(rq->client));
	if (audit_open(b->dir, b->name, &a) < 0) {
		json_decref(fields);
		return;
	}
	(void)audit_append(a, event, fields);
	audit_close(a);
}

/* A ctl.h call that failed with r: 409 when the box is not up. */
int api_ctl_failed(struct api_resp *rs, const struct box *b, int r, const struct error *err)
{
	if (r == -ENOTCONN)
		return api_errorf(rs, 409, "box '%s' is not up", b->name);
	return api_fail(rs, r, err);
}

int api_h_health(struct api_req *rq, struct api_resp *rs)
{
	if (rq->api->stopping)
		return api_json(rs, 503, json_pack("{s:s}", "status", "stopping"));
	return api_json(rs, 200, json_pack("{s:s}", "status", "ok"));
}

int api_h_version(struct api_req *rq, struct api_resp *rs)
{
	return api_json(rs, 200,
			json_pack("{s:s, s:s}", "version",
				  rq->api->cfg.version ? rq->api->cfg.version : "unknown", "api",
				  "v1"));
}

int api_h_metadata(struct api_req *rq, struct api_resp *rs)
{
	/* agent-sandbox's /v1/metadata: the orchestrator's SANDBOX_* variables
	 * (never credentials: only that prefix is shown). */
	json_t *env = json_object();
	for (char **e = environ; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		if (eq && !strncmp(*e, "SANDBOX_", 8)) {
			char name[128];
			snprintf(name, sizeof(name), "%.*s", (int)(eq - *e), *e);
			json_object_set_new(env, name, api_text(eq + 1, strlen(eq + 1)));
		}
	}
	return api_json(rs, 200,
			json_pack("{s:s?, s:s, s:s, s:o}", "box", rq->api->cfg.box, "workspace",
				  "/workspace", "version",
				  rq->api->cfg.version ? rq->api->cfg.version : "unknown", "env",
				  env));
}

static json_t *box_json(const struct box *b)
{
	struct ctl_status st;
	json_t *j =
	    json_pack("{s:s, s:o, s:s, s:I, s:I}", "name", b->name, "project",
		      api_text(b->project, strlen(b->project)), "mode", box_mode_name(b->mode),
		      "created", (json_int_t)b->created, "disk", (json_int_t)b->disk);
	int r = ctl_status(b, &st, NULL);
	json_object_set_new(j, "up", json_boolean(r == 0));
	if (r == 0)
		json_object_update_new(j, json_pack("{s:i, s:I, s:i, s:i, s:i, s:i}", "supervisor",
						    (int)st.supervisor, "since",
						    (json_int_t)st.since, "cmd", (int)st.cmd,
						    "restarts", (int)st.restarts, "sessions",
						    (int)st.sessions, "execs", (int)st.execs));
	return j;
}

static int add_box(const struct box *b, void *ctx)
{
	return json_array_append_new(ctx, box_json(b)) < 0 ? -ENOMEM : 0;
}

int api_h_boxes(struct api_req *rq, struct api_resp *rs)
{
	json_t *arr = json_array();
	int r = box_foreach(rq->api->state, add_box, arr);
	if (r < 0 && r != -ENOENT) {
		json_decref(arr);
		return api_errorf(rs, 500, "cannot list the boxes: %s", strerror(-r));
	}
	return api_json(rs, 200, json_pack("{s:o}", "boxes", arr));
}

int api_h_box(struct api_req *rq, struct api_resp *rs)
{
	struct box b = { 0 };
	if (api_req_box(rq, rs, &b) < 0)
		return -EINVAL;
	return api_json(rs, 200, box_json(&b));
}

int api_h_down(struct api_req *rq, struct api_resp *rs)
{
	struct box b = { 0 };
	struct error err = { 0 };
	json_t *body = NULL;
	if (api_req_box(rq, rs, &b) < 0 || api_body_json(rq, rs, &body) < 0)
		return -EINVAL;
	json_int_t grace = json_integer_value(json_object_get(body, "grace_ms"));
	json_decref(body);
	int r = ctl_down(&b, grace > 0 ? grace : 10000, &err);
	api_audit(rq, &b, "api-down", json_pack("{s:i}", "result", r));
	if (r < 0)
		return api_ctl_failed(rs, &b, r, &err);
	return api_json(rs, 200, json_pack("{s:s, s:b}", "box", b.name, "up", 0));
}

/* ---- up: the same binary, never a shell ---- */

/* argv of `clawbox up --box NAME [--project P] OPTIONS... [-- CMD...]`
 * from body: NULL (rs: 400) when an option is not a string or smuggles
 * "--" or another box in. */
static char **up_argv(struct api_req *rq, struct api_resp *rs, const char *name, json_t *body)
{
	json_t *opts = json_object_get(body, "options"), *cmd = json_object_get(body, "cmd");
	const char *project = json_string_value(json_object_get(body, "project"));
	size_t no = json_array_size(opts), nc = json_array_size(cmd), k = 0;
	if ((opts && !json_is_array(opts)) || (cmd && !json_is_array(cmd)) || no > 256 ||
	    nc > 4096) {
		api_errorf(rs, 400, "'options' and 'cmd' are arrays of strings");
		return NULL;
	}
	char **v = calloc(no + nc + 8, sizeof(*v));
	v[k++] = rq->api->exe, v[k++] = "up", v[k++] = "--box", v[k++] = (char *)name;
	if (project)
		v[k++] = "--project", v[k++] = (char *)project;
	for (size_t i = 0; i < no; i++) {
		const char *o = json_string_value(json_array_get(opts, i));
		if (!o || STREQ(o, "--") || !strncmp(o, "--box", 5) || !strncmp(o, "-b", 2) ||
		    STREQ(o, "--explain")) {
			free(v);
			api_errorf(rs, 400, "option %zu: a string, not '--', a box or --explain",
				   i);
			return NULL;
		}
		v[k++] = (char *)o;
	}
	if (nc)
		v[k++] = "--";
	for (size_t i = 0; i < nc; i++)
		if (!(v[k++] = (char *)json_string_value(json_array_get(cmd, i)))) {
			free(v);
			api_errorf(rs, 400, "cmd %zu: not a string", i);
			return NULL;
		}
	return v;
}

/* Read fd (nonblocking) into out until EOF or deadline; 0 or -ETIMEDOUT. */
static int collect(int fd, char *out, size_t cap, size_t *len, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - clock_ms();
		struct pollfd p = { fd, POLLIN, 0 };
		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)(left > 1000 ? 1000 : left)) <= 0)
			continue;
		char buf[4096];
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return 0;
		size_t take = (size_t)n < cap - 1 - *len ? (size_t)n : cap - 1 - *len;
		memcpy(out + *len, buf, take);
		*len += take;
	}
}

/* Run argv with stdout and stderr into out; *ret_status its wait status. */
static int spawn_up(char **argv, char *out, size_t cap, size_t *len, int *ret_status)
{
	int p[2];
	pid_t pid;
	posix_spawn_file_actions_t fa;
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	int r = -posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (r == 0) {
		r = collect(p[0], out, cap, len, clock_ms() + UP_TIMEOUT_MS);
		if (r == -ETIMEDOUT)
			kill(pid, SIGTERM);
		while (waitpid(pid, ret_status, 0) < 0 && errno == EINTR)
			;
	}
	close(p[0]);
	out[*len] = '\0';
	return r;
}

int api_h_up(struct api_req *rq, struct api_resp *rs)
{
	json_t *body = NULL;
	const char *name = rq->params[0];
	char out[UP_OUTPUT_MAX];
	size_t len = 0;
	int st = 0;
	if (!box_name_valid(name))
		return api_errorf(rs, 400, "'%.100s' is not a box name", name);
	if (api_body_json(rq, rs, &body) < 0)
		return -EINVAL;
	_cleanup_free_ char **argv = up_argv(rq, rs, name, body);
	int r = argv ? spawn_up(argv, out, sizeof(out), &len, &st) : -EINVAL;
	json_decref(body);
	if (!argv)
		return r;
	if (r < 0)
		return api_errorf(rs, r == -ETIMEDOUT ? 504 : 500, "clawbox up: %s", strerror(-r));
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	if (code != 0) {
		api_errorf(rs,
			   code == CLI_EXIT_USAGE   ? 400
			   : code == CLI_EXIT_ERROR ? 409
						    : 500,
			   "clawbox up failed (exit %d)", code);
		json_object_set_new(rs->json, "output", api_text(out, len));
		return -EINVAL;
	}
	return api_json(
	    rs, 200,
	    json_pack("{s:s, s:b, s:o}", "box", name, "up", 1, "output", api_text(out, len)));
}

/* ---- sessions ---- */

int api_h_sessions(struct api_req *rq, struct api_resp *rs)
{
	struct box b = { 0 };
	struct error err = { 0 };
	struct ctl_session_info *v = NULL;
	size_t n = 0;
	if (api_req_box(rq, rs, &b) < 0)
		return -EINVAL;
	int r = ctl_session_list(&b, &v, &n, &err);
	if (r < 0)
		return api_ctl_failed(rs, &b, r, &err);
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:i, s:b}", "name", v[i].name,
						     "created", (json_int_t)v[i].created, "idle_ms",
						     (json_int_t)v[i].idle_ms, "execs",
						     (int)v[i].execs, "net", v[i].net));
	free(v);
	return api_json(rs, 200, json_pack("{s:o}", "sessions", arr));
}

int api_env(json_t *env, char ***ret)
{
	const char *k;
	json_t *v;
	size_t i = 0;
	*ret = NULL;
	if (!env)
		return 0;
	if (!json_is_object(env) || json_object_size(env) > 1024)
		return -EINVAL;
	char **out = calloc(json_object_size(env) + 1, sizeof(*out));
	if (!out)
		return -ENOMEM;
	json_object_foreach(env, k, v)
	{
		const char *s = json_string_value(v);
		if (!s || !*k || strchr(k, '=') || asprintf(&out[i], "%s=%s", k, s) < 0) {
			for (size_t j = 0; j < i; j++)
				free(out[j]);
			free(out);
			return -EINVAL;
		}
		i++;
	}
	*ret = out;
	return 0;
}

void api_env_free(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

int api_h_session_new(struct api_req *rq, struct api_resp *rs)
{
	struct box b = { 0 };
	struct error err = { 0 };
	json_t *body = NULL;
	char **env = NULL;
	if (api_req_box(rq, rs, &b) < 0 || api_body_json(rq, rs, &body) < 0)
		return -EINVAL;
	const char *name = json_string_value(json_object_get(body, "name"));
	if (!name || !ctl_session_name_valid(name)) {
		json_decref(body);
		return api_errorf(
		    rs, 400, "'name': 1 to 64 of [A-Za-z0-9._-], not starting with '.' or '-'");
	}
	if (api_env(json_object_get(body, "env"), &env) < 0) {
		json_decref(body);
		return api_errorf(rs, 400, "'env': an object of strings");
	}
	struct ctl_session_spec s = {
		.name = name,
		.env = env,
		.net = json_is_true(json_object_get(body, "net")),
		.idle_ms = json_integer_value(json_object_get(body, "idle_ms")),
	};
	int r = ctl_session_create(&b, &s, &err);
	api_audit(rq, &b, "api-session",
		  json_pack("{s:s, s:s, s:i}", "op", "create", "session", name, "result", r));
	if (r == 0)
		api_json(rs, 201, json_pack("{s:s}", "name", name));
	else
		api_ctl_failed(rs, &b, r, &err);
	api_env_free(env);
	json_decref(body);
	return r;
}

int api_h_session_del(struct api_req *rq, struct api_resp *rs)
{
	struct box b = { 0 };
	struct error err = { 0 };
	const char *name = rq->params[1];
	if (api_req_box(rq, rs, &b) < 0)
		return -EINVAL;
	if (!ctl_session_name_valid(name))
		return api_errorf(rs, 400, "'%.100s' is not a session name", name);
	int r = ctl_session_delete(&b, name, &err);
	api_audit(rq, &b, "api-session",
		  json_pack("{s:s, s:s, s:i}", "op", "delete", "session", name, "result", r));
	if (r < 0)
		return api_ctl_failed(rs, &b, r, &err);
	return api_json(rs, 200, json_pack("{s:s}", "deleted", name));
}
