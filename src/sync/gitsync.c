/* The git part of the sync gate (see gitsync.h and docs/SYNC.md "Git"):
 * the plan, step by step (gitsync_int.h lists where each step lives). */
#include "util/common.h"

#include "sync/gitsync_int.h"
#include "util/strv.h"
#include "util/array.h"
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
	if (array_grow_counted((void **)&p->notes, p->nnotes, sizeof(*p->notes)) < 0)
		return -ENOMEM;
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
	_cleanup_close_ int upper = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (upper < 0)
		return -errno;
	s->upper_git = gate_openat(upper, ".git", O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	struct stat st;
	bool upper_has = fstatat(upper, ".git", &st, AT_SYMLINK_NOFOLLOW) == 0;
	bool upper_whiteout = upper_has && gitsync_is_whiteout(&st);
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

/* The refs of both repositories (the box's beneath the upper dir, the
 * host's), the host's HEAD, then the candidates. */
static int plan_refs(struct gs *s)
{
	int r;
	if ((r = gitsync_read_loose_refs(s, s->upper_git, "refs/heads", &s->box_loose, true)) < 0 ||
	    (r = gitsync_read_loose_refs(s, s->upper_git, "refs/tags", &s->box_loose, true)) < 0 ||
	    (r = gitsync_read_packed(s, s->upper_git, &s->box_packed, true, &s->box_has_packed)) <
		0 ||
	    (r = gitsync_read_loose_refs(s, s->host_git, "refs", &s->host_loose, false)) < 0 ||
	    (r = gitsync_read_packed(s, s->host_git, &s->host_packed, false, NULL)) < 0)
		return r;
	gitsync_host_head(s);
	return gitsync_find_candidates(s);
}

/* The places every git of this plan needs: git itself, the quarantine's
 * path, $BOX/sync opened and the empty HOME made in it. Returns 1 when git
 * is not installed (a note says so), 0, or -errno. */
static int plan_places(struct gs *s)
{
	int r;
	if (gitsync_find_git(s) < 0) {
		r = gitsync_note(s->p, "git is not installed: the box's commits are not brought "
				       "home");
		return r < 0 ? r : 1;
	}
	if ((r = path_join(s->qpath, sizeof(s->qpath), s->b->data, GATE_DIR_NAME "/" QDIR)) < 0 ||
	    (r = path_join(s->home, sizeof(s->home), s->b->data, GATE_DIR_NAME "/" QHOME)) < 0)
		return r;
	_cleanup_close_ int data =
	    open(s->b->data, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (data < 0)
		return -errno;
	s->sync_fd = gate_openat(data, GATE_DIR_NAME, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (s->sync_fd < 0)
		return s->sync_fd;
	if (mkdirat(s->sync_fd, QHOME, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* The project's object format into fmt (s->hexlen set); the candidates
 * whose value is not an id of that format are dropped with a note.
 * Returns 1 when the project's repository cannot be read (a note says so),
 * 0, or -errno. */
static int plan_format(struct gs *s, char *fmt, size_t n)
{
	struct gitsync_plan *p = s->p;
	int r = gitsync_object_format(s, fmt, n);
	if (r < 0) {
		r = gitsync_note(p,
				 "the project's repository cannot be read by git (%s): the box's "
				 "commits are not brought home",
				 strerror(-r));
		return r < 0 ? r : 1;
	}
	s->hexlen = STREQ(fmt, "sha1") ? 40 : 64;
	for (size_t i = 0; i < p->nrefs && r == 0;) {
		if (strlen(p->refs[i].oid) == s->hexlen) {
			i++;
			continue;
		}
		r = gitsync_note(p, "ref '%s' refused: its value is not a %s object id",
				 p->refs[i].name, fmt);
		free(p->refs[i].name);
		free(p->refs[i].dest);
		memmove(&p->refs[i], &p->refs[i + 1], (p->nrefs - i - 1) * sizeof(p->refs[0]));
		p->nrefs--;
	}
	return r;
}

/* The quarantine made and the box's objects imported into it. Returns 1
 * when the project's path cannot be named in an alternates file (a note
 * says so), 0, or -errno (err set for the quarantine). */
static int plan_import(struct gs *s, const char *fmt, struct error *err)
{
	int r = gitsync_q_setup(s, fmt);
	if (r == -EINVAL) {
		r = gitsync_note(s->p, "the project's path cannot be named in an alternates file "
				       "(a newline or a quote): the box's commits are not brought "
				       "home");
		return r < 0 ? r : 1;
	}
	if (r < 0)
		return gitsync_fail(err, r, s->qpath, "cannot prepare the quarantine repository");
	_cleanup_close_ int objdir =
	    gate_openat(s->upper_git, "objects", O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (objdir < 0)
		return 0;
	r = gitsync_import_loose(s, objdir);
	return r < 0 ? r : gitsync_import_packs(s, objdir);
}

/* Every candidate's new objects listed and checked, then judged. */
static int plan_check(struct gs *s)
{
	struct gitsync_plan *p = s->p;
	struct refmap tips = { 0 };
	s->ref_objs = calloc(p->nrefs, sizeof(*s->ref_objs));
	s->ref_nobjs = calloc(p->nrefs, sizeof(*s->ref_nobjs));
	int r = s->ref_objs && s->ref_nobjs ? gitsync_host_tips(s, &tips) : -ENOMEM;
	for (size_t i = 0; r == 0 && i < p->nrefs; i++)
		r = gitsync_list_ref(s, i, &tips);
	gitsync_refmap_free(&tips);
	if (r == 0)
		r = gitsync_check_types(s);
	if (r == 0)
		r = gitsync_check_contents(s);
	for (size_t i = 0; r == 0 && i < p->nrefs; i++)
		r = gitsync_judge(s, i);
	return r;
}

/* Nothing comes home: the candidates are dropped (the notes say why). */
static void drop_refs(struct gitsync_plan *p)
{
	for (size_t i = 0; i < p->nrefs; i++) {
		free(p->refs[i].name);
		free(p->refs[i].dest);
	}
	free(p->refs);
	p->refs = NULL;
	p->nrefs = 0;
}

/* The steps of a plan into s->p: each returns 1 when the plan ends with a
 * note and nothing comes home, 0 to go on, or -errno. */
static int plan_steps(struct gs *s, const struct gate_plan *files, struct error *err)
{
	char fmt[16];
	bool go = false;
	int r = open_repos(s, files, &go);
	if (r < 0 || !go)
		return r;
	if ((r = plan_refs(s)) < 0 || s->p->nrefs == 0)
		return r;
	/* Work to do: git from here on. */
	if ((r = plan_places(s)) != 0 || (r = plan_format(s, fmt, sizeof(fmt))) != 0)
		return r;
	if (s->p->nrefs == 0)
		return 0;
	if ((r = plan_import(s, fmt, err)) != 0)
		return r;
	r = plan_check(s);
	if (r < 0 && !error_isset(err))
		gitsync_fail(err, r, "git", "cannot check the box's commits");
	return r;
}

int gitsync_plan(struct gate *g, const struct box *b, const struct gate_plan *files,
		 struct gitsync_plan *ret, struct error *err)
{
	struct gitsync_plan p = { 0 };
	struct gs s = { .g = g, .b = b, .pol = gate_policy(g), .p = &p };
	s.root_fd = s.upper_git = s.host_git = s.sync_fd = s.q_fd = -1;
	s.host_loose.max = s.host_packed.max = HOST_REFS_MAX;
	error_clear(err);
	int r = plan_steps(&s, files, err);
	if (r == 1) {
		drop_refs(&p);
		r = 0;
	}
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
	strv_free_n(p->notes, p->nnotes);
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
