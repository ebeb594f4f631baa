/* The route table of the API and the matching of a path against it. */
#include "util/common.h"

#include "api/api_int.h"

/* Every endpoint (docs/API.md). {} is one segment, {*} the rest of the
 * path (maybe empty). HEAD is served by the GET route. */
const struct api_route api_routes[] = {
	{ "GET", "/v1/health", api_h_health, NULL, API_ROUTE_NO_AUTH },
	{ "GET", "/v1/version", api_h_version, NULL, 0 },
	{ "GET", "/v1/metadata", api_h_metadata, NULL, 0 },
	{ "GET", "/v1/boxes", api_h_boxes, NULL, 0 },
	{ "GET", "/v1/boxes/{}", api_h_box, NULL, 0 },
	{ "POST", "/v1/boxes/{}/up", api_h_up, NULL, 0 },
	{ "POST", "/v1/boxes/{}/down", api_h_down, NULL, 0 },
	{ "GET", "/v1/boxes/{}/sessions", api_h_sessions, NULL, 0 },
	{ "POST", "/v1/boxes/{}/sessions", api_h_session_new, NULL, 0 },
	{ "DELETE", "/v1/boxes/{}/sessions/{}", api_h_session_del, NULL, API_ROUTE_NAME_LAST },
	{ "POST", "/v1/boxes/{}/exec", api_h_exec, NULL, 0 },
	{ "POST", "/v1/boxes/{}/exec/stream", api_h_exec_stream, NULL, 0 },
	{ "GET", "/v1/boxes/{}/files/{*}", api_h_file_get, NULL, 0 },
	{ "PUT", "/v1/boxes/{}/files/{*}", api_h_file_put, api_h_file_put_body,
	  API_ROUTE_STREAM_BODY },
	{ "DELETE", "/v1/boxes/{}/files/{*}", api_h_file_delete, NULL, 0 },
	{ "GET", "/v1/boxes/{}/sync", api_h_sync_plan, NULL, 0 },
	{ "POST", "/v1/boxes/{}/sync", api_h_sync_apply, NULL, 0 },
	{ "GET", "/v1/boxes/{}/audit", api_h_audit, NULL, 0 },
	/* kubernetes-sigs/agent-sandbox's runtime API, on the default box */
	{ "GET", "/v1/files/{*}", api_h_file_get, NULL, 0 },
	{ "PUT", "/v1/files/{*}", api_h_file_put, api_h_file_put_body, API_ROUTE_STREAM_BODY },
	{ "DELETE", "/v1/files/{*}", api_h_file_delete, NULL, 0 },
	{ "POST", "/v1/process/execute", api_h_proc_execute, NULL, 0 },
	{ "POST", "/v1/process/start", api_h_proc_start, NULL, 0 },
	{ "POST", "/v1/process/stdin", api_h_proc_stdin, NULL, 0 },
	{ "POST", "/v1/process/signal", api_h_proc_signal, NULL, 0 },
	{ "POST", "/v1/process/resize", api_h_proc_resize, NULL, 0 },
	/* MCP's streamable HTTP transport */
	{ "POST", "/mcp", api_h_mcp_post, NULL, 0 },
	{ "DELETE", "/mcp", api_h_mcp_delete, NULL, 0 },
	{ "GET", "/mcp", api_h_mcp_get, NULL, 0 },
	{ NULL, NULL, NULL, NULL, 0 },
};

void api_req_params_free(struct api_req *rq)
{
	for (size_t i = 0; i < rq->nparams; i++) {
		free(rq->params[i]);
		rq->params[i] = NULL;
	}
	rq->nparams = 0;
}

/* Match path against pattern: 1 (params appended to rq), 0 no match, -1 a
 * one-segment parameter would hold a '/' (the rest matched), -ENOMEM. */
static int match(struct api_req *rq, const char *pattern, const char *path)
{
	const char *p = pattern, *s = path;
	while (*p) {
		if (p[0] == '{' && p[1] == '*') {
			if (rq->nparams == API_PARAMS_MAX || !(rq->params[rq->nparams] = strdup(s)))
				return -ENOMEM;
			rq->nparams++;
			return 1;
		}
		if (p[0] == '{') {
			size_t k = strcspn(s, "/");
			const char *after = p + 2;
			if (k == 0)
				return 0;
			/* a '/' in a one-segment parameter that ends the pattern */
			if (!*after && s[k] == '/')
				return -1;
			if (rq->nparams == API_PARAMS_MAX ||
			    !(rq->params[rq->nparams] = strndup(s, k)))
				return -ENOMEM;
			rq->nparams++;
			p = after;
			s += k;
			continue;
		}
		if (*p != *s)
			return 0;
		p++;
		s++;
	}
	return *s == '\0' ? 1 : 0;
}

/* "{*}" routes also match their path without the trailing "/{*}" (the
 * root of the workspace: /v1/files and /v1/files/). */
static int match_route(struct api_req *rq, const struct api_route *rt, const char *path)
{
	int m = match(rq, rt->pattern, path);
	size_t pl = strlen(rt->pattern);
	if (m == 0 && pl > 4 && STREQ(rt->pattern + pl - 4, "/{*}")) {
		api_req_params_free(rq);
		char pat[128];
		snprintf(pat, sizeof(pat), "%.*s", (int)(pl - 4), rt->pattern);
		m = match(rq, pat, path);
		if (m == 1 && !(rq->params[rq->nparams++] = strdup("")))
			return -ENOMEM;
	}
	if (m != 1)
		api_req_params_free(rq);
	return m;
}

int api_route(struct api_req *rq, const char *method, const char *path,
	      const struct api_route **ret)
{
	const char *m = STREQ(method, "HEAD") ? "GET" : method;
	bool other_method = false, slash = false;
	rq->allow[0] = '\0';
	for (const struct api_route *rt = api_routes; rt->pattern; rt++) {
		int r = match_route(rq, rt, path);
		if (r == -ENOMEM)
			return r;
		if (r == -1 && (rt->flags & API_ROUTE_NAME_LAST))
			slash = true;
		if (r != 1)
			continue;
		if (STREQ(rt->method, m)) {
			*ret = rt;
			return 0;
		}
		other_method = true;
		api_req_params_free(rq);
		size_t k = strlen(rq->allow);
		snprintf(rq->allow + k, sizeof(rq->allow) - k, "%s%s", k ? ", " : "", rt->method);
	}
	return other_method ? -EPERM : slash ? -EINVAL : -ENOENT;
}
