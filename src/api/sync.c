/* The sync endpoints: GET /v1/boxes/B/sync is the plan (what `clawbox sync
 * --dry-run --json` shows), POST applies as `clawbox sync --auto` does:
 * the same gate, the same checks, only the entries that pass, approvals
 * only those the request names ("approve"), never more. */
#include "util/common.h"

#include "api/api_int.h"
#include "ctl/files.h"
#include "secrets/secrets.h"
#include "state/diskcap.h"
#include "sync/gate.h"
#include "sync/gitsync.h"

#define SYNC_LIST_MAX 64

struct job {
	struct box b;
	struct gate *g;
	struct secrets *known;
	struct gate_plan p;
	struct gitsync_plan gp;
	const char *only[SYNC_LIST_MAX], *approve[SYNC_LIST_MAX];
	size_t nonly, napprove;
};

static void job_free(struct job *j)
{
	gate_plan_free(&j->p);
	gitsync_plan_free(&j->gp);
	gate_close(j->g);
	secrets_free(j->known);
}

static int add_known(const struct secret *sec, void *ctx)
{
	if (sec->len < SECRETS_REDACT_MIN)
		return 0;
	return gate_add_known_secret(ctx, sec->name, sec->value, sec->len);
}

/* The box's data (its disk image mounted), what it knows, its gate. */
static int job_open(struct api_req *rq, struct api_resp *rs, struct job *j)
{
	struct error err = { 0 };
	if (api_req_box(rq, rs, &j->b) < 0)
		return -EINVAL;
	if (j->b.mode == BOX_MODE_YOLO_UNSAFE)
		return api_errorf(rs, 409, "box '%s' is yolo-unsafe: there is nothing to sync",
				  j->b.name);
	_cleanup_close_ int dfd =
	    j->b.disk ? open(j->b.dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
	int r = j->b.disk ? (dfd < 0 ? -errno : diskcap_ensure(dfd)) : 0;
	if (r < 0)
		return api_errorf(rs, 500, "cannot mount the disk image of box '%s': %s", j->b.name,
				  strerror(-r));
	if ((r = secrets_new_known(&j->known)) < 0 ||
	    (r = secrets_known_load(j->b.dir, j->known, &err)) < 0)
		return api_fail(rs, r, &err);
	if ((r = gate_open(&j->b, 0, &j->g, &err)) < 0) {
		if (r == -EBUSY)
			return api_errorf(rs, 409, "another sync of box '%s' is running",
					  j->b.name);
		return api_fail(rs, r, &err);
	}
	if (secrets_foreach(j->known, add_known, j->g) < 0)
		return api_errorf(rs, 500, "cannot give the box's secrets to the gate");
	return 0;
}

/* path as a response shows it: the box's values redacted, then escaped. */
static json_t *shown(const struct job *j, const char *path)
{
	char out[PATH_MAX];
	_cleanup_free_ char *red = NULL;
	if (secrets_redact(j->known, path, strlen(path), &red) < 0)
		return json_string("[REDACTED]");
	gate_path_display(red ? red : path, out, sizeof(out));
	return json_string(out);
}

static json_t *entry_json(const struct job *j, const struct gate_entry *e)
{
	json_t *f = json_array();
	for (size_t k = 0; k < e->nfindings; k++) {
		const struct gate_finding *x = &e->findings[k];
		json_t *o = json_pack("{s:o, s:o, s:s}", "rule", shown(j, x->rule), "reason",
				      shown(j, x->reason), "action", gate_severity_name(x->sev));
		if (o && x->line)
			json_object_set_new(o, "line", json_integer(x->line));
		json_array_append_new(f, o);
	}
	json_t *o =
	    json_pack("{s:o, s:s, s:s, s:s, s:I, s:s, s:o}", "path", shown(j, gate_entry_shown(e)),
		      "change", change_kind_name(e->kind), "type", gate_type_name(e->type),
		      "action", gate_action_name(e->action), "size", (json_int_t)e->size, "verdict",
		      gate_verdict_name(e->verdict), "findings", f);
	if (o && e->target)
		json_object_set_new(o, "target", shown(j, e->target));
	if (o && e->applied)
		json_object_set_new(o, "applied", json_true());
	return o;
}

static json_t *git_json(const struct job *j)
{
	json_t *refs = json_array();
	for (size_t i = 0; i < j->gp.nrefs; i++) {
		const struct gitsync_ref *r = &j->gp.refs[i];
		json_array_append_new(refs, json_pack("{s:o, s:o, s:s, s:I}", "ref",
						      shown(j, r->name), "dest", shown(j, r->dest),
						      "verdict", gitsync_verdict_name(r->verdict),
						      "commits", (json_int_t)r->commits));
	}
	return json_pack("{s:I, s:o}", "pending", (json_int_t)gitsync_pending(&j->gp), "refs",
			 refs);
}

static json_t *plan_json(const struct job *j)
{
	json_t *arr = json_array();
	size_t pending = 0;
	for (size_t i = 0; i < j->p.n; i++) {
		const struct gate_entry *e = &j->p.v[i];
		if (e->verdict == GATE_SETTLED || e->verdict == GATE_GITDATA)
			continue;
		pending += !e->applied;
		json_array_append_new(arr, entry_json(j, e));
	}
	return json_pack("{s:s, s:o, s:b, s:I, s:o, s:o}", "box", j->b.name, "project",
			 api_text(j->b.project, strlen(j->b.project)), "running", j->p.running,
			 "pending", (json_int_t)pending, "changes", arr, "git", git_json(j));
}

static int make_plan(struct api_resp *rs, struct job *j, bool stage)
{
	struct error err = { 0 };
	struct gate_plan_opts po = { .stage = stage, .only = j->only, .nonly = j->nonly };
	int r = gate_plan(j->g, &po, &j->p, &err);
	if (r == 0 && j->nonly == 0)
		r = gitsync_plan(j->g, &j->b, &j->p, &j->gp, &err);
	return r < 0 ? api_fail(rs, r, &err) : 0;
}

int api_h_sync_plan(struct api_req *rq, struct api_resp *rs)
{
	struct job j = { 0 };
	int r = job_open(rq, rs, &j);
	if (r == 0 && gate_interrupted(j.g))
		r = api_errorf(rs, 409,
			       "box '%s' has an interrupted apply: POST to sync finishes it",
			       j.b.name);
	if (r == 0 && (r = make_plan(rs, &j, false)) == 0)
		api_json(rs, 200, plan_json(&j));
	job_free(&j);
	return r;
}

/* "paths" and "approve" of the body: arrays of up to 64 project-relative
 * strings (globs for approve). */
static int parse_lists(struct api_resp *rs, json_t *body, struct job *j)
{
	const char *names[2] = { "paths", "approve" };
	for (int k = 0; k < 2; k++) {
		json_t *a = json_object_get(body, names[k]);
		size_t *n = k ? &j->napprove : &j->nonly;
		if (a && (!json_is_array(a) || json_array_size(a) > SYNC_LIST_MAX))
			return api_errorf(rs, 400, "'%s': an array of at most %d strings", names[k],
					  SYNC_LIST_MAX);
		for (size_t i = 0; i < json_array_size(a); i++) {
			json_t *s = json_array_get(a, i);
			if (!json_is_string(s) ||
			    files_check_path(json_string_value(s), json_string_length(s),
					     FILES_ROOT_OK, NULL) < 0)
				return api_errorf(rs, 400,
						  "'%s' %zu: a path relative to the project",
						  names[k], i);
			(k ? j->approve : j->only)[(*n)++] = json_string_value(s);
		}
	}
	return 0;
}

static int apply(struct api_req *rq, struct api_resp *rs, struct job *j)
{
	struct error err = { 0 };
	struct gate_recover_result rr;
	struct gate_apply_result res = { 0 };
	int r = gate_interrupted(j->g) ? gate_recover(j->g, &rr, &err) : 0;
	if (r < 0 || (r = make_plan(rs, j, true)) < 0)
		return r < 0 && !rs->status ? api_fail(rs, r, &err) : r;
	gate_plan_choose_auto(&j->p, j->approve, j->napprove);
	if ((r = gate_apply(j->g, &j->p, &res, &err)) < 0)
		return api_fail(rs, r, &err);
	gate_audit_held(j->g, &j->p, NULL, NULL);
	if (j->nonly == 0 && (r = gitsync_apply(j->g, &j->b, &j->gp, NULL, NULL, &err)) < 0)
		return api_fail(rs, r, &err);
	json_t *out = plan_json(j);
	json_object_set_new(out, "applied", json_integer((json_int_t)res.applied));
	api_audit(rq, &j->b, "api-sync",
		  json_pack("{s:I, s:I}", "applied", (json_int_t)res.applied, "approved",
			    (json_int_t)j->napprove));
	return api_json(rs, 200, out);
}

int api_h_sync_apply(struct api_req *rq, struct api_resp *rs)
{
	struct job j = { 0 };
	json_t *body = NULL;
	int r = api_body_json(rq, rs, &body);
	if (r == 0 && (r = parse_lists(rs, body, &j)) == 0 && (r = job_open(rq, rs, &j)) == 0)
		r = apply(rq, rs, &j);
	job_free(&j);
	json_decref(body);
	return r;
}
