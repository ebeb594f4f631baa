/* The MCP tools of the sync gate: sync_status (the plan, changing nothing)
 * and sync_apply (what `clawbox sync --auto` does without approvals: only
 * what passes every check), src/mcp/mcp_int.h. The gate is src/sync/gate.h;
 * what it shows of a path is redacted of the box's known secrets and
 * escaped (gate_path_display), as the CLI shows it. */
#include "mcp/mcp_int.h"

#include "sync/gate.h"
#include "sync/gitsync.h"
#include "util/error.h"

/* The open gate of a call, with the box's known secrets. */
struct sync_call {
	struct mcp_ctx *c;
	struct gate *g;
	struct secrets *known;
	struct gate_plan p;
	struct gitsync_plan gp;
	bool interrupted;
};

static void sync_call_done(struct sync_call *s)
{
	gate_plan_free(&s->p);
	gitsync_plan_free(&s->gp);
	gate_close(s->g);
	secrets_free(s->known);
}

/* path as shown: the known values redacted, controls escaped. */
static json_t *shown(const struct sync_call *s, const char *path)
{
	char disp[PATH_MAX];
	_cleanup_free_ char *red = NULL;
	if (s->known && secrets_redact(s->known, path, strlen(path), &red) < 0)
		return json_string("[REDACTED]");
	gate_path_display(red ? red : path, disp, sizeof(disp));
	return mcp_text(disp, strlen(disp));
}

static int add_known(const struct secret *sec, void *ctx)
{
	if (sec->len < SECRETS_REDACT_MIN)
		return 0;
	return gate_add_known_secret(ctx, sec->name, sec->value, sec->len);
}

/* Open the gate of c's box with its known secrets; a tool error (1) when
 * it cannot be (busy, yolo-unsafe, ...). */
static int sync_open(struct mcp_ctx *c, const char *tool, struct sync_call *s, struct mcp_out *o)
{
	struct error err = { 0 };
	int r;
	*s = (struct sync_call){ .c = c };
	if (c->box.mode == BOX_MODE_YOLO_UNSAFE)
		return mcp_fail(o,
				"%s: box '%s' is yolo-unsafe: its writes go straight to the "
				"project, there is nothing to sync",
				tool, c->box.name)
			   ?: 1;
	if ((r = mcp_known(c, &s->known, &err)) < 0)
		return mcp_fail_error(o, tool, &err, r) ?: 1;
	r = gate_open(&c->box, 0, &s->g, &err);
	if (r == -EBUSY)
		return mcp_fail(o, "%s: another sync of the box is running: try again", tool) ?: 1;
	if (r < 0)
		return mcp_fail_error(o, tool, &err, r) ?: 1;
	if ((r = secrets_foreach(s->known, add_known, s->g)) < 0)
		return mcp_fail_error(o, tool, NULL, r) ?: 1;
	s->interrupted = gate_interrupted(s->g);
	return 0;
}

/* The plan (staged for an apply) and the git part; a tool error (1). */
static int sync_plan(struct sync_call *s, const char *tool, bool stage, struct mcp_out *o)
{
	struct error err = { 0 };
	struct gate_plan_opts po = { .stage = stage };
	int r = gate_plan(s->g, &po, &s->p, &err);
	if (r == 0)
		r = gitsync_plan(s->g, &s->c->box, &s->p, &s->gp, &err);
	if (r < 0)
		return mcp_fail_error(o, tool, &err, r) ?: 1;
	return 0;
}

static json_t *findings_json(const struct sync_call *s, const struct gate_entry *e)
{
	json_t *arr = json_array();
	for (size_t k = 0; arr && k < e->nfindings; k++) {
		const struct gate_finding *f = &e->findings[k];
		json_t *o = json_pack("{s:o, s:s, s:o}", "rule", shown(s, f->rule), "severity",
				      gate_severity_name(f->sev), "reason", shown(s, f->reason));
		if (o && f->line)
			json_object_set_new(o, "line", json_integer(f->line));
		json_array_append_new(arr, o);
	}
	return arr;
}

static json_t *change_json(const struct sync_call *s, const struct gate_entry *e)
{
	json_t *o =
	    json_pack("{s:o, s:s, s:s, s:s, s:I, s:s, s:o}", "path", shown(s, gate_entry_shown(e)),
		      "change", change_kind_name(e->kind), "type", gate_type_name(e->type),
		      "action", gate_action_name(e->action), "size", (json_int_t)e->size, "verdict",
		      gate_verdict_name(e->verdict), "findings", findings_json(s, e));
	if (o && e->target)
		json_object_set_new(o, "target", shown(s, e->target));
	if (o && e->applied)
		json_object_set_new(o, "applied", json_true());
	return o;
}

static json_t *summary_json(const struct gate_plan *p)
{
	json_int_t n[GATE_GITDATA + 1] = { 0 };
	json_int_t pending = 0;
	for (size_t i = 0; i < p->n; i++) {
		n[p->v[i].verdict]++;
		pending += p->v[i].verdict != GATE_SETTLED && p->v[i].verdict != GATE_GITDATA &&
			   !p->v[i].applied;
	}
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "pending", pending, "pass", n[GATE_OK],
			 "needs_approval", n[GATE_NEEDS_APPROVAL], "blocked", n[GATE_BLOCKED],
			 "conflicts", n[GATE_CONFLICT], "git_data", n[GATE_GITDATA]);
}

static json_t *git_json(const struct sync_call *s)
{
	json_t *refs = json_array(), *notes = json_array();
	for (size_t i = 0; refs && i < s->gp.nrefs; i++) {
		const struct gitsync_ref *r = &s->gp.refs[i];
		json_array_append_new(refs, json_pack("{s:o, s:o, s:I, s:s, s:I}", "ref",
						      shown(s, r->name), "to", shown(s, r->dest),
						      "commits", (json_int_t)r->commits, "verdict",
						      gitsync_verdict_name(r->verdict), "findings",
						      (json_int_t)r->nfindings));
	}
	for (size_t i = 0; notes && i < s->gp.nnotes; i++)
		json_array_append_new(notes, shown(s, s->gp.notes[i]));
	return json_pack("{s:I, s:o, s:o}", "pending", (json_int_t)gitsync_pending(&s->gp), "refs",
			 refs, "notes", notes);
}

/* The result of both tools: the plan as it stands (after an apply: what
 * was applied, what stays pending). */
static json_t *plan_json(const struct sync_call *s)
{
	json_t *changes = json_array();
	for (size_t i = 0; changes && i < s->p.n; i++)
		if (s->p.v[i].verdict != GATE_SETTLED)
			json_array_append_new(changes, change_json(s, &s->p.v[i]));
	return json_pack("{s:s, s:b, s:b, s:o, s:o, s:o}", "box", s->c->box.name, "running",
			 s->p.running, "interrupted", s->interrupted, "summary",
			 summary_json(&s->p), "changes", changes, "git", git_json(s));
}

int mcp_tool_sync_status(struct mcp_ctx *c, json_t *args, struct mcp_out *o)
{
	static const char *const names[] = { NULL };
	struct mcp_why why = { 0 };
	struct sync_call s;
	if (mcp_args_known(args, names, &why) < 0)
		return mcp_fail(o, "sync_status: %s", why.text);
	int r = sync_open(c, "sync_status", &s, o);
	/* An interrupted apply: sync_apply (or clawbox sync) finishes it
	 * first; the plan waits until then. */
	if (r == 0 && !s.interrupted)
		r = sync_plan(&s, "sync_status", false, o);
	if (r == 0)
		o->structured = plan_json(&s);
	sync_call_done(&s);
	if (r != 0)
		return r < 0 ? r : 0;
	return o->structured ? 0 : -ENOMEM;
}

/* Finish an interrupted apply, then plan (staged), choose what passes,
 * apply it and the git refs that passed. A tool error (1) on failure. */
static int sync_run(struct sync_call *s, struct mcp_out *o)
{
	struct gate_recover_result rr;
	struct gate_apply_result res;
	struct error err = { 0 };
	int r;
	if (s->interrupted && (r = gate_recover(s->g, &rr, &err)) < 0)
		return mcp_fail_error(o, "sync_apply: finishing the interrupted apply", &err, r)
			   ?: 1;
	s->interrupted = false;
	if ((r = sync_plan(s, "sync_apply", true, o)) != 0)
		return r;
	gate_plan_choose_auto(&s->p, NULL, 0);
	if ((r = gate_apply(s->g, &s->p, &res, &err)) < 0)
		return mcp_fail_error(o, "sync_apply", &err, r) ?: 1;
	gate_audit_held(s->g, &s->p, NULL, NULL);
	if ((r = gitsync_apply(s->g, &s->c->box, &s->gp, NULL, NULL, &err)) < 0)
		return mcp_fail_error(o, "sync_apply: the git refs", &err, r) ?: 1;
	return 0;
}

int mcp_tool_sync_apply(struct mcp_ctx *c, json_t *args, struct mcp_out *o)
{
	static const char *const names[] = { NULL };
	struct mcp_why why = { 0 };
	struct sync_call s;
	if (!c->allow_sync) /* not offered: never reached through tools/call */
		return mcp_fail(o, "sync_apply: not allowed for this session");
	if (mcp_args_known(args, names, &why) < 0)
		return mcp_fail(o, "sync_apply: %s", why.text);
	int r = sync_open(c, "sync_apply", &s, o);
	if (r == 0)
		r = sync_run(&s, o);
	if (r == 0)
		o->structured = plan_json(&s);
	sync_call_done(&s);
	if (r != 0)
		return r < 0 ? r : 0;
	return o->structured ? 0 : -ENOMEM;
}
