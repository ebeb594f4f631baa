/* The git part of the sync gate (see gitsync.h and docs/SYNC.md "Git"):
 * the plan, step by step (gitsync_int.h lists where each step lives). */
#include "util/common.h"

#include "sync/gitsync_int.h"
#include "util/fs.h"

#include <stdarg.h>

/* The error of a failed call, for the command layer. */
int gitsync_fail(struct error *err, int r, const char *subject, const char *what)
{
	char where[ERROR_WHERE_MAX];
	gate_path_display(subject, where, sizeof(where));
	return error_set(err, r, where, 0, "%s: %s", what, strerror(-r));
}

_printf_(2, 3) int gitsync_note(struct gitsync_plan *p, const char *fmt, ...)
{
	char raw[PATH_MAX + 256], disp[PATH_MAX + 256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	gate_path_display(raw, disp, sizeof(disp));
	for (size_t i = 0; i < p->nnotes; i++)
		if (STREQ(p->notes[i], disp))
			return 0;
	if (p->nnotes >= 256)
		return 0;
	char **nv = reallocarray(p->notes, p->nnotes + 1, sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	p->notes = nv;
	if (!(p->notes[p->nnotes] = strdup(disp)))
		return -ENOMEM;
	p->nnotes++;
	return 0;
}

static int files_notes(struct gs *s, const struct gate_plan *files, bool host_repo)
{
	int r = 0;
	for (size_t i = 0; files && i < files->n && r == 0; i++) {
		const char *p = files->v[i].path;
		if (!host_repo && STREQ(p, ".git"))
			r = gitsync_note(
			    s->p, "the box's repository (.git made in the box) is not brought "
				  "home: the project on the host has none");
		const char *g = strstr(p, "/.git");
		if (g && (g[5] == '\0' || g[5] == '/')) {
			char dir[PATH_MAX];
			snprintf(dir, sizeof(dir), "%.*s", (int)(g - p), p);
			r = gitsync_note(s->p, "nested repositories are not brought home: '%s'",
					 dir);
		}
	}
	return r;
}

void gitsync_state_free(struct gs *s)
{
	gitsync_refmap_free(&s->box_loose);
	gitsync_refmap_free(&s->box_packed);
	gitsync_refmap_free(&s->host_loose);
	gitsync_refmap_free(&s->host_packed);
	for (size_t i = 0; i < s->nobjs; i++) {
		free(s->objs[i].path);
		for (size_t j = 0; j < s->objs[i].nf; j++) {
			free(s->objs[i].f[j].path);
			free(s->objs[i].f[j].where);
		}
		free(s->objs[i].f);
	}
	free(s->objs);
	free(s->ht);
	for (size_t i = 0; s->ref_objs && i < s->p->nrefs; i++)
		free(s->ref_objs[i]);
	free(s->ref_objs);
	free(s->ref_nobjs);
	int fds[] = { s->root_fd, s->upper_git, s->host_git, s->sync_fd, s->q_fd };
	for (size_t i = 0; i < ELEMENTSOF(fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static int open_repos(struct gs *s, const struct gate_plan *files, bool *ret_go)
{
	char path[PATH_MAX];
	int r;
	*ret_go = false;
	if ((r = path_join(path, sizeof(path), s->b->data, "upper")) < 0)
		return r;
	int upper = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (upper < 0)
		return -errno;
	s->upper_git = gate_openat(upper, ".git", O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	struct stat st;
	bool upper_has = fstatat(upper, ".git", &st, AT_SYMLINK_NOFOLLOW) == 0;
	bool upper_whiteout = upper_has && gitsync_is_whiteout(&st);
	close(upper);
	s->root_fd = open(s->b->project, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s->root_fd < 0)
		return -errno;
	s->host_git = gate_openat(s->root_fd, ".git", O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	int hs = fstatat(s->root_fd, ".git", &st, AT_SYMLINK_NOFOLLOW);
	if ((r = files_notes(s, files, s->host_git >= 0)) < 0)
		return r;
	if (!upper_has || upper_whiteout)
		return 0; /* nothing of git changed in the box (a removed .git is never applied) */
	if (s->upper_git < 0)
		return gitsync_note(s->p,
				    "the box replaced .git by something else than a directory: not "
				    "brought home");
	if (hs < 0)
		return 0; /* said by files_notes */
	if (s->host_git < 0)
		return gitsync_note(s->p, "the project's .git is not a directory (a worktree or a "
					  "submodule): the box's commits are not brought home");
	if (faccessat(s->host_git, "commondir", F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
	    faccessat(s->host_git, "reftable", F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
	    faccessat(s->upper_git, "reftable", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return gitsync_note(
		    s->p, "the project's repository layout (commondir or reftable) is not "
			  "supported: the box's commits are not brought home");
	int fd = gate_openat(s->upper_git, ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (fd >= 0) {
		/* a .git the box removed and made again hides the host's refs */
		struct stat gst;
		s->git_opaque = gitsync_ovl_xattr(fd, "opaque") && fstat(fd, &gst) == 0;
		close(fd);
	}
	*ret_go = true;
	return 0;
}

int gitsync_plan(struct gate *g, const struct box *b, const struct gate_plan *files,
		 struct gitsync_plan *ret, struct error *err)
{
	struct gitsync_plan p = { 0 };
	struct gs s = { .g = g, .b = b, .pol = gate_policy(g), .p = &p };
	s.root_fd = s.upper_git = s.host_git = s.sync_fd = s.q_fd = -1;
	bool go = false;
	char fmt[16];
	int r;
	error_clear(err);
	s.host_loose.max = s.host_packed.max = HOST_REFS_MAX;
	r = open_repos(&s, files, &go);
	if (r < 0 || !go)
		goto done;
	if ((r = gitsync_read_loose_refs(&s, s.upper_git, "refs/heads", &s.box_loose, true)) < 0 ||
	    (r = gitsync_read_loose_refs(&s, s.upper_git, "refs/tags", &s.box_loose, true)) < 0 ||
	    (r = gitsync_read_packed(&s, s.upper_git, &s.box_packed, true, &s.box_has_packed)) <
		0 ||
	    (r = gitsync_read_loose_refs(&s, s.host_git, "refs", &s.host_loose, false)) < 0 ||
	    (r = gitsync_read_packed(&s, s.host_git, &s.host_packed, false, NULL)) < 0)
		goto done;
	gitsync_host_head(&s);
	if ((r = gitsync_find_candidates(&s)) < 0 || p.nrefs == 0)
		goto done;

	/* Work to do: git from here on. */
	if (gitsync_find_git(&s) < 0) {
		r = gitsync_note(&p,
				 "git is not installed: the box's commits are not brought home");
		goto drop;
	}
	if ((r = path_join(s.qpath, sizeof(s.qpath), b->data, GATE_DIR_NAME "/" QDIR)) < 0 ||
	    (r = path_join(s.home, sizeof(s.home), b->data, GATE_DIR_NAME "/" QHOME)) < 0)
		goto done;
	s.sync_fd = open(b->data, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s.sync_fd >= 0) {
		int sfd =
		    gate_openat(s.sync_fd, GATE_DIR_NAME, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
		close(s.sync_fd);
		s.sync_fd = sfd;
	}
	if (s.sync_fd < 0) {
		r = s.sync_fd;
		goto done;
	}
	if (mkdirat(s.sync_fd, QHOME, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		goto done;
	}
	if ((r = gitsync_object_format(&s, fmt, sizeof(fmt))) < 0) {
		r = gitsync_note(&p,
				 "the project's repository cannot be read by git (%s): the box's "
				 "commits are not brought home",
				 strerror(-r));
		goto drop;
	}
	s.hexlen = STREQ(fmt, "sha1") ? 40 : 64;
	for (size_t i = 0; i < p.nrefs;) {
		if (strlen(p.refs[i].oid) != s.hexlen) {
			r = gitsync_note(&p, "ref '%s' refused: its value is not a %s object id",
					 p.refs[i].name, fmt);
			free(p.refs[i].name);
			free(p.refs[i].dest);
			memmove(&p.refs[i], &p.refs[i + 1], (p.nrefs - i - 1) * sizeof(p.refs[0]));
			p.nrefs--;
		} else
			i++;
	}
	if (p.nrefs == 0)
		goto done;
	if ((r = gitsync_q_setup(&s, fmt)) == -EINVAL) {
		r = gitsync_note(
		    &p, "the project's path cannot be named in an alternates file (a newline "
			"or a quote): the box's commits are not brought home");
		goto drop;
	}
	if (r < 0) {
		gitsync_fail(err, r, s.qpath, "cannot prepare the quarantine repository");
		goto done;
	}
	int objdir = gate_openat(s.upper_git, "objects", O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (objdir >= 0) {
		r = gitsync_import_loose(&s, objdir);
		if (r == 0)
			r = gitsync_import_packs(&s, objdir);
		close(objdir);
		if (r < 0)
			goto done;
	}
	struct refmap tips = { 0 };
	s.ref_objs = calloc(p.nrefs, sizeof(*s.ref_objs));
	s.ref_nobjs = calloc(p.nrefs, sizeof(*s.ref_nobjs));
	r = s.ref_objs && s.ref_nobjs ? gitsync_host_tips(&s, &tips) : -ENOMEM;
	for (size_t i = 0; r == 0 && i < p.nrefs; i++)
		r = gitsync_list_ref(&s, i, &tips);
	gitsync_refmap_free(&tips);
	if (r == 0)
		r = gitsync_check_types(&s);
	if (r == 0)
		r = gitsync_check_contents(&s);
	for (size_t i = 0; r == 0 && i < p.nrefs; i++)
		r = gitsync_judge(&s, i);
	if (r < 0 && !error_isset(err))
		gitsync_fail(err, r, "git", "cannot check the box's commits");
	goto done;
drop:
	for (size_t i = 0; i < p.nrefs; i++) {
		free(p.refs[i].name);
		free(p.refs[i].dest);
	}
	free(p.refs);
	p.refs = NULL;
	p.nrefs = 0;
done:
	gitsync_state_free(&s);
	if (r < 0) {
		if (!error_isset(err))
			gitsync_fail(err, r, "git", "cannot read the box's repository");
		gitsync_plan_free(&p);
		return r;
	}
	*ret = p;
	return 0;
}

void gitsync_plan_free(struct gitsync_plan *p)
{
	for (size_t i = 0; i < p->nrefs; i++) {
		free(p->refs[i].name);
		free(p->refs[i].dest);
		for (size_t j = 0; j < p->refs[i].nfindings; j++) {
			free(p->refs[i].findings[j].path);
			free(p->refs[i].findings[j].where);
		}
		free(p->refs[i].findings);
	}
	free(p->refs);
	for (size_t i = 0; i < p->nnotes; i++)
		free(p->notes[i]);
	free(p->notes);
	memset(p, 0, sizeof(*p));
}

size_t gitsync_pending(const struct gitsync_plan *p)
{
	size_t n = 0;
	for (size_t i = 0; i < p->nrefs; i++)
		n += p->refs[i].verdict != GITSYNC_FETCHED;
	return n;
}

const char *gitsync_verdict_name(enum gitsync_verdict v)
{
	static const char *const names[] = { [GITSYNC_FETCH] = "fetch",
					     [GITSYNC_HELD] = "held",
					     [GITSYNC_FETCHED] = "fetched",
					     [GITSYNC_FAILED] = "failed" };
	return names[v];
}
