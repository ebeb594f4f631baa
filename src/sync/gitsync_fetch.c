/* The fetch of the refs that passed from the quarantine into the host's
 * refs/clawbox/BOX/... ('git fetch' with transfer.fsckObjects, forced: the
 * box may rewrite its branches), and the audit of each ref fetched or
 * held. */
#include "util/common.h"

#include "sync/gitsync_int.h"
#include "state/audit.h"
#include "util/fs.h"

static json_t *held_json(const struct gitsync_ref *r)
{
	const struct gitsync_finding *f = NULL;
	for (size_t j = 0; j < r->nfindings && !f; j++)
		if (!r->findings[j].note)
			f = &r->findings[j];
	char path[PATH_MAX] = "", ref[GITSYNC_REF_MAX * 4 + 8];
	gate_path_display(r->name, ref, sizeof(ref));
	if (f && f->path)
		gate_path_display(f->path, path, sizeof(path));
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "ref", ref, "oid", r->oid, "rule",
			      f ? f->rule : "", "object", f ? f->object : "", "path", path,
			      "reason", f ? f->reason : "");
	if (j && f && f->line)
		json_object_set_new(j, "line", json_integer(f->line));
	return j;
}

int gitsync_audit_held(const struct box *b, const struct gitsync_plan *p,
		       bool (*log_held)(const struct gitsync_ref *r, void *ctx), void *ctx)
{
	struct audit *a = NULL;
	int r = 0;
	for (size_t i = 0; i < p->nrefs && r == 0; i++) {
		const struct gitsync_ref *ref = &p->refs[i];
		if ((ref->verdict != GITSYNC_HELD && ref->verdict != GITSYNC_FAILED) ||
		    (log_held && !log_held(ref, ctx)))
			continue;
		if (!a && (r = audit_open(b->dir, b->name, &a)) < 0)
			break;
		r = audit_append(a, "sync.git.held", held_json(ref));
	}
	audit_close(a);
	return r;
}

/* refs/clawbox-q/I of the quarantine: what the fetch takes ref I from (a
 * cache of ours: no fsync). */
static int write_qref(struct gs *s, size_t i, const char *oid)
{
	char name[48], line[80];
	int n = snprintf(line, sizeof(line), "%s\n", oid);
	snprintf(name, sizeof(name), "refs/clawbox-q/%zu", i);
	int fd = openat(s->q_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	int r = fs_write_all(fd, line, (size_t)n);
	close(fd);
	return r;
}

static int fetch(struct gs *s, struct gitsync_plan *p, const size_t *idx, size_t n, struct run *rn)
{
	const char *args[48 + 32];
	char spec[32][GITSYNC_REF_MAX + 96];
	size_t k = 0;
	const char *fixed[] = { "-C",
				s->b->project,
				"-c",
				"transfer.fsckObjects=true",
				"-c",
				"fetch.writeCommitGraph=false",
				"fetch",
				"-q",
				"--no-tags",
				"--no-prune",
				"--no-write-fetch-head",
				"--no-recurse-submodules",
				"--no-auto-gc",
				"--no-show-forced-updates",
				s->qpath };
	for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
		args[k++] = fixed[i];
	for (size_t i = 0; i < n && i < 32; i++) {
		snprintf(spec[i], sizeof(spec[i]), "+refs/clawbox-q/%zu:%s", idx[i],
			 p->refs[idx[i]].dest);
		args[k++] = spec[i];
	}
	args[k] = NULL;
	*rn = (struct run){ .in_fd = -1 };
	return gitsync_git_run(s, args, rn);
}

/* The quarantine opened for a fetch, with an empty refs/clawbox-q. */
static int apply_open(struct gs *s)
{
	int r;
	if ((r = gitsync_find_git(s)) < 0 ||
	    (r = path_join(s->qpath, sizeof(s->qpath), s->b->data, GATE_DIR_NAME "/" QDIR)) < 0 ||
	    (r = path_join(s->home, sizeof(s->home), s->b->data, GATE_DIR_NAME "/" QHOME)) < 0)
		return r;
	s->q_fd = open(s->qpath, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s->q_fd < 0)
		return -errno;
	(void)fs_remove_tree_at(s->q_fd, "refs/clawbox-q");
	if (mkdirat(s->q_fd, "refs/clawbox-q", 0755) < 0)
		return -errno;
	return 0;
}

/* ref after its fetch ended as rn says: FETCHED and logged, or FAILED
 * with a finding that says why. */
static int fetched(struct audit *a, struct gitsync_ref *ref, const struct run *rn)
{
	char name[GITSYNC_REF_MAX * 4 + 8], dest[GITSYNC_REF_MAX * 4 + 8];
	if (rn->status != 0) {
		ref->verdict = GITSYNC_FAILED;
		return gitsync_add_finding(&ref->findings, &ref->nfindings, "git-fetch", NULL, 0,
					   "the fetch into the project failed: %s", rn->err);
	}
	ref->verdict = GITSYNC_FETCHED;
	gate_path_display(ref->name, name, sizeof(name));
	gate_path_display(ref->dest, dest, sizeof(dest));
	return audit_append(a, "sync.git.fetch",
			    json_pack("{s:s, s:s, s:s, s:I}", "ref", name, "to", dest, "oid",
				      ref->oid, "commits", (json_int_t)ref->commits));
}

/* The n refs idx[] fetched in one git; when that fails, one ref at a time,
 * so one bad ref does not hold the others. */
static int fetch_group(struct gs *s, struct audit *a, const size_t *idx, size_t n)
{
	struct run rn;
	int r = fetch(s, s->p, idx, n, &rn);
	if (r < 0)
		return r;
	int group = rn.status;
	for (size_t k = 0; k < n && r == 0; k++) {
		if (group != 0 && n > 1 && (r = fetch(s, s->p, &idx[k], 1, &rn)) < 0)
			break;
		r = fetched(a, &s->p->refs[idx[k]], &rn);
	}
	return r;
}

/* Every ref with verdict GITSYNC_FETCH fetched, in groups of 32. */
static int apply_fetch(struct gs *s, struct audit *a)
{
	struct gitsync_plan *p = s->p;
	size_t idx[32];
	int r = 0;
	for (size_t i = 0; i < p->nrefs && r == 0;) {
		size_t n = 0;
		for (; i < p->nrefs && n < ELEMENTSOF(idx) && r == 0; i++)
			if (p->refs[i].verdict == GITSYNC_FETCH &&
			    (r = write_qref(s, i, p->refs[i].oid)) == 0)
				idx[n++] = i;
		if (r < 0 || n == 0)
			break;
		r = fetch_group(s, a, idx, n);
	}
	(void)fs_remove_tree_at(s->q_fd, "refs/clawbox-q");
	return r;
}

int gitsync_apply(struct gate *g, const struct box *b, struct gitsync_plan *p,
		  bool (*log_held)(const struct gitsync_ref *r, void *ctx), void *ctx,
		  struct error *err)
{
	struct gs s = { .g = g, .b = b, .pol = gate_policy(g), .p = p };
	s.root_fd = s.upper_git = s.host_git = s.sync_fd = s.q_fd = -1;
	struct audit *a = NULL;
	size_t n = 0;
	int r = 0;
	error_clear(err);
	for (size_t i = 0; i < p->nrefs; i++)
		n += p->refs[i].verdict == GITSYNC_FETCH;
	if (n && (r = apply_open(&s)) == 0 && (r = audit_open(b->dir, b->name, &a)) == 0)
		r = apply_fetch(&s, a);
	if (r == 0)
		r = gitsync_audit_held(b, p, log_held, ctx);
	audit_close(a);
	gitsync_state_free(&s);
	if (r < 0)
		gitsync_fail(err, r, "git", "cannot bring the box's commits home");
	return r;
}
