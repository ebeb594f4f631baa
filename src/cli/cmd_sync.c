/* clawbox sync: the gate between a box's overlay and the host project. */
#include "util/common.h"

#include "state/audit.h"
#include "cli/cli.h"
#include "cli/launch_mounts.h"
#include "cli/commands.h"
#include "sync/gate.h"
#include "sync/gitsync.h"
#include "secrets/secrets.h"
#include "util/array.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/utf8.h"

#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

static const char usage[] =
    "usage: clawbox sync [--box NAME | --project DIR] [--dry-run | --auto] [--json]\n"
    "                    [--only PATH]... [--approve GLOB]...\n"
    "       clawbox sync [--box NAME | --project DIR] --status | --reset [--yes]\n\n"
    "Bring the changes pending in the box's overlay to the project on the host,\n"
    "through the gate: every change is staged, then checked (secrets, the box's\n"
    "own secrets, credential file types, path policy, size, executables,\n"
    "special files, setuid and o+w bits, symlinks resolving outside the project,\n"
    "file names), and applied atomically with a journal. A host file changed\n"
    "since the box saw it (or beneath a dir the box deleted) is never\n"
    "overwritten: you decide (keep host, take box, write beside). Files the host\n"
    "runs on opening or entering the project (.vscode/, .github/, .envrc, .npmrc,\n"
    "*.pth, ...: docs/SYNC.md) always need approval. Nothing beneath a git\n"
    "directory is applied as files (verdict git-data: shown, not pending).\n"
    "Without --dry-run or --auto, it asks (a terminal is needed).\n\n"
    "The box's overlay mounts (run --mount SRC:DST:overlay) come next, each the\n"
    "same way into its SRC, under a \"mount 'DST'\" line (--json and --only: the\n"
    "project only).\n\n"
    "The box's git repository comes home as git data, never as files: its new\n"
    "branches, tags and detached HEAD are fetched into refs/clawbox/BOX/ (merge\n"
    "them yourself), every new object checked like a file; a ref whose new\n"
    "history holds a blocked object stays out (see docs/SYNC.md, \"Git\").\n\n"
    "options:\n" BOX_OPTS_HELP
    "  -n, --dry-run        show the pending changes and their findings; change nothing\n"
    "  -a, --auto           apply every change that passes every check; the others\n"
    "                       stay pending (exit 1 when any did)\n"
    "      --approve GLOB   with --auto: also apply changes that need approval and\n"
    "                       match GLOB (never blocked ones, never git data)\n"
    "      --only PATH      only PATH and what is beneath it (project-relative;\n"
    "                       repeatable)\n"
    "      --json           one JSON object\n"
    "      --status         the sync state: pending changes, interrupted apply\n"
    "      --reset          discard every pending change and the sync state\n"
    "  -y, --yes            do not ask before --reset\n"
    "  -q, --quiet          no summary lines\n"
    "  -h, --help           show this help\n\n"
    "policy: $STATE/boxes/NAME/config.toml, table [sync] (see docs/SYNC.md).\n"
    "exit status: 0 done (all applied), 1 something stays pending or an error,\n"
    "2 usage.\n";

struct opts {
	struct box_opts box;
	bool dry, autom, json, status, reset, yes, quiet;
	unsigned yolo; /* the auto-sync loop of a running yolo box */
	const char *only[64];
	size_t nonly;
	const char *approve[64];
	size_t napprove;
};

/* The gate's error e (or, when it holds none, r's strerror), once. */
static void report(const struct error *e, int r)
{
	char buf[ERROR_FORMAT_MAX];
	struct error bare = { .code = r };
	log_error("%s", error_format(error_isset(e) ? e : &bare, buf, sizeof(buf)));
	if (r == -ENOSPC)
		log_error("the box's disk is full: its files are staged within its disk cap; make "
			  "room in the box, or grow the cap with 'clawbox run --disk SIZE'");
}

static const char *kind_letter(const struct gate_entry *e)
{
	switch (e->kind) {
	case CHANGE_ADDED: return "A";
	case CHANGE_MODIFIED: return "M";
	case CHANGE_DELETED: return "D";
	case CHANGE_REPLACED: return "R";
	case CHANGE_META: return "m";
	}
	return "?";
}

struct counts {
	size_t pending, ok, approve, blocked, conflict, waiting, unstable;
	size_t gitdata; /* not pending: git's own transfer brings it home */
};

static struct counts count(const struct gate_plan *p)
{
	struct counts c = { 0 };
	for (size_t i = 0; i < p->n; i++) {
		switch (p->v[i].verdict) {
		case GATE_OK: c.ok++; break;
		case GATE_NEEDS_APPROVAL: c.approve++; break;
		case GATE_BLOCKED: c.blocked++; break;
		case GATE_CONFLICT: c.conflict++; break;
		case GATE_WAITING: c.waiting++; break;
		case GATE_UNSTABLE: c.unstable++; break;
		case GATE_SETTLED: continue;
		case GATE_GITDATA: c.gitdata++; continue;
		}
		c.pending++;
	}
	return c;
}

static void show_path(const char *path, char *out, size_t n);

static void print_entry(const struct gate_plan *p, size_t i)
{
	const struct gate_entry *e = &p->v[i];
	char disp[PATH_MAX], size[32] = "";
	show_path(gate_entry_shown(e), disp, sizeof(disp));
	if (e->type == GATE_FILE)
		cli_human_size(e->size, size, sizeof(size));
	printf("  %s %-8s %10s  %s%s  [%s]\n", kind_letter(e), gate_type_name(e->type), size, disp,
	       e->type == GATE_DIR ? "/" : "", gate_verdict_name(e->verdict));
	if (e->target) {
		char t[PATH_MAX];
		show_path(e->target, t, sizeof(t));
		printf("      -> %s\n", t);
	}
	for (size_t k = 0; k < e->nfindings; k++) {
		const struct gate_finding *f = &e->findings[k];
		/* A reason may quote the box's text (a link target, a rule id
		 * of a config): shown escaped like a path. */
		char rule[256], why[PATH_MAX];
		gate_path_display(f->rule, rule, sizeof(rule));
		gate_path_display(f->reason, why, sizeof(why));
		if (f->line)
			printf("      %s: %s (line %u): %s\n", gate_severity_name(f->sev), rule,
			       f->line, why);
		else
			printf("      %s: %s: %s\n", gate_severity_name(f->sev), rule, why);
	}
	if (e->verdict == GATE_WAITING)
		printf("      waits for its directory to be applied\n");
	if (e->verdict == GATE_UNSTABLE)
		printf("      changed while it was being checked: next time\n");
}

/* One line per git directory for the entries beneath it (git data). */
static void print_gitdata(const struct gate_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct gate_entry *e = &p->v[i];
		bool first = e->verdict == GATE_GITDATA;
		for (size_t k = 0; first && k < i; k++)
			if (p->v[k].verdict == GATE_GITDATA && STREQ(p->v[k].gitdir, e->gitdir))
				first = false;
		if (!first)
			continue;
		size_t n = 0;
		for (size_t k = i; k < p->n; k++)
			n += p->v[k].verdict == GATE_GITDATA && STREQ(p->v[k].gitdir, e->gitdir);
		char disp[PATH_MAX];
		gate_path_display(e->gitdir, disp, sizeof(disp));
		printf("  git data beneath %s: %zu entr%s, not applied as files\n", disp, n,
		       n == 1 ? "y" : "ies");
	}
}

static bool shown(const struct gate_entry *e)
{
	return e->verdict != GATE_SETTLED && e->verdict != GATE_GITDATA;
}

static void print_summary(const struct box *b, const struct gate_plan *p)
{
	struct counts c = count(p);
	printf("box '%s'%s: %zu pending change%s (%zu pass, %zu need approval, %zu blocked, %zu "
	       "conflicts%s)\n",
	       b->name, p->running ? " (running)" : "", c.pending, c.pending == 1 ? "" : "s", c.ok,
	       c.approve, c.blocked, c.conflict,
	       c.waiting + c.unstable ? ", others waiting or changing" : "");
	for (size_t i = 0; i < p->n; i++)
		if (shown(&p->v[i]))
			print_entry(p, i);
	print_gitdata(p);
}

static json_t *plan_json(const struct box *b, const struct gate_plan *p)
{
	struct counts c = count(p);
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < p->n; i++) {
		const struct gate_entry *e = &p->v[i];
		if (e->verdict == GATE_SETTLED)
			continue;
		char disp[PATH_MAX];
		show_path(gate_entry_shown(e), disp, sizeof(disp));
		json_t *f = json_array();
		for (size_t k = 0; f && k < e->nfindings; k++) {
			json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "rule", e->findings[k].rule,
					      "path", disp, "reason", e->findings[k].reason,
					      "action", gate_severity_name(e->findings[k].sev));
			if (o && e->findings[k].line)
				json_object_set_new(o, "line", json_integer(e->findings[k].line));
			json_array_append_new(f, o);
		}
		json_t *o =
		    json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:o}", "path", disp, "change",
			      change_kind_name(e->kind), "type", gate_type_name(e->type), "action",
			      gate_action_name(e->action), "size", (json_int_t)e->size, "verdict",
			      gate_verdict_name(e->verdict), "findings", f);
		char mode[8];
		snprintf(mode, sizeof(mode), "%04o", (unsigned)e->mode);
		if (o && e->type != GATE_WHITEOUT)
			json_object_set_new(o, "mode", json_string(mode));
		if (o && e->target) {
			char t[PATH_MAX];
			show_path(e->target, t, sizeof(t));
			json_object_set_new(o, "target", json_string(t));
		}
		if (o && e->applied)
			json_object_set_new(o, "applied", json_true());
		if (o && e->gitdir) {
			char gd[PATH_MAX];
			gate_path_display(e->gitdir, gd, sizeof(gd));
			json_object_set_new(o, "git_dir", json_string(gd));
		}
		json_array_append_new(arr, o);
	}
	return json_pack("{s:s, s:s, s:b, s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:o}", "box", b->name,
			 "project", b->project, "running", p->running, "summary", "pending",
			 (json_int_t)c.pending, "pass", (json_int_t)c.ok, "needs_approval",
			 (json_int_t)c.approve, "blocked", (json_int_t)c.blocked, "conflicts",
			 (json_int_t)c.conflict, "git_data", (json_int_t)c.gitdata, "changes", arr);
}

static void print_json(json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(j);
}

/* The held versions the yolo loop has logged already: one line each. */
static char **held_seen;
static size_t nheld_seen;

static bool seen_once(const char *key)
{
	for (size_t i = 0; i < nheld_seen; i++)
		if (STREQ(held_seen[i], key))
			return false;
	if (nheld_seen >= 4096)
		return true; /* stop remembering; logging again is harmless */
	if (array_grow_counted((void **)&held_seen, nheld_seen, sizeof(*held_seen)) < 0)
		return true;
	if ((held_seen[nheld_seen] = strdup(key)))
		nheld_seen++;
	return true;
}

/* ---- the git part (src/sync/gitsync.c) ---------------------------------------- */

static void print_git_ref(const struct gitsync_ref *r)
{
	char name[PATH_MAX], dest[PATH_MAX];
	gate_path_display(r->name, name, sizeof(name));
	gate_path_display(r->dest, dest, sizeof(dest));
	if (r->verdict == GITSYNC_FETCH || r->verdict == GITSYNC_FETCHED) {
		printf("  %s: %zu new commit%s -> %s%s\n", name, r->commits,
		       r->commits == 1 ? "" : "s", dest,
		       r->verdict == GITSYNC_FETCHED ? " (fetched)" : "");
	} else {
		size_t shown = 0;
		for (size_t k = 0; k < r->nfindings; k++) {
			const struct gitsync_finding *f = &r->findings[k];
			if (f->note)
				continue;
			if (shown++ == 0)
				printf("  %s: held (%s stays out):\n", name, dest);
			if (shown > 5)
				continue;
			printf("      %s%s", f->where ? f->where : "", f->where ? "" : "");
			if (f->line)
				printf("%sline %u", f->where ? " " : "", f->line);
			printf("%s%s (%s)\n", f->where || f->line ? ": " : "", f->reason, f->rule);
		}
		if (shown > 5)
			printf("      ... and %zu more\n", shown - 5);
	}
	for (size_t k = 0; k < r->nfindings; k++)
		if (r->findings[k].note)
			printf("      note: %s: %s (%s)\n",
			       r->findings[k].where ? r->findings[k].where : "",
			       r->findings[k].reason, r->findings[k].rule);
}

static void print_git(const struct gitsync_plan *gp)
{
	if (gp->nrefs == 0 && gp->nnotes == 0)
		return;
	size_t pend = gitsync_pending(gp);
	if (gp->nrefs)
		printf("git: %zu ref%s of the box%s\n", gp->nrefs, gp->nrefs == 1 ? "" : "s",
		       pend ? "" : " brought home");
	for (size_t i = 0; i < gp->nrefs; i++)
		print_git_ref(&gp->refs[i]);
	for (size_t i = 0; i < gp->nnotes; i++)
		printf("git: %s\n", gp->notes[i]);
}

static json_t *git_json(const struct gitsync_plan *gp)
{
	json_t *refs = json_array(), *notes = json_array();
	for (size_t i = 0; refs && i < gp->nrefs; i++) {
		const struct gitsync_ref *r = &gp->refs[i];
		char name[PATH_MAX], dest[PATH_MAX];
		gate_path_display(r->name, name, sizeof(name));
		gate_path_display(r->dest, dest, sizeof(dest));
		json_t *f = json_array();
		for (size_t k = 0; f && k < r->nfindings; k++) {
			const struct gitsync_finding *x = &r->findings[k];
			char path[PATH_MAX] = "";
			if (x->path)
				gate_path_display(x->path, path, sizeof(path));
			json_t *o =
			    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "rule", x->rule, "object",
				      x->object, "path", path, "where", x->where ? x->where : "",
				      "reason", x->reason, "action", x->note ? "note" : "block");
			if (o && x->line)
				json_object_set_new(o, "line", json_integer(x->line));
			json_array_append_new(f, o);
		}
		json_array_append_new(
		    refs, json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:o}", "ref", name, "to", dest,
				    "oid", r->oid, "commits", (json_int_t)r->commits, "objects",
				    (json_int_t)r->objects, "verdict",
				    gitsync_verdict_name(r->verdict), "findings", f));
	}
	for (size_t i = 0; notes && i < gp->nnotes; i++)
		json_array_append_new(notes, json_string(gp->notes[i]));
	return json_pack("{s:I, s:o, s:o}", "pending", (json_int_t)gitsync_pending(gp), "refs",
			 refs, "notes", notes);
}

static int git_plan(struct gate *g, const struct box *b, const struct gate_plan *p,
		    struct gitsync_plan *gp)
{
	struct error err;
	int r = gitsync_plan(g, b, p, gp, &err);
	if (r < 0)
		report(&err, r);
	return r;
}

/* The held refs the yolo loop has logged already (ref + value). */
static bool git_held_fresh(const struct gitsync_ref *r, void *ctx)
{
	char key[PATH_MAX + 128];
	snprintf(key, sizeof(key), "git:%s:%s", r->name, r->oid);
	return seen_once(key);
}

/* Bring the refs that passed home; 1 when some stay pending. */
static int git_apply(struct gate *g, const struct box *b, const struct opts *o,
		     struct gitsync_plan *gp)
{
	struct error err;
	int r = gitsync_apply(g, b, gp, o->yolo ? git_held_fresh : NULL, NULL, &err);
	if (r < 0) {
		report(&err, r);
		return CLI_EXIT_ERROR;
	}
	return gitsync_pending(gp) ? CLI_EXIT_ERROR : 0;
}

static int recover(struct gate *g, const struct opts *o)
{
	struct gate_recover_result rr;
	struct error err;
	if (!gate_interrupted(g))
		return 0;
	int r = gate_recover(g, &rr, &err);
	if (r < 0) {
		report(&err, r);
		log_error("the interrupted apply is kept in the journal; run 'clawbox sync' again "
			  "to finish it");
		return r;
	}
	if (!o->quiet && !o->json)
		log_info("finished an interrupted apply: %zu of %zu operations done%s", rr.done,
			 rr.ops, rr.conflicts ? " (some left alone: the host changed)" : "");
	return 0;
}

/* Project-relative form of an --only argument. */
static int only_rel(const struct box *b, const char *arg, char *out, size_t n)
{
	const char *s = arg;
	size_t pl = strlen(b->project);
	if (arg[0] == '/') {
		if (strncmp(arg, b->project, pl) != 0 || (arg[pl] && arg[pl] != '/'))
			return -EINVAL;
		s = arg + pl;
	}
	while (*s == '/' || (s[0] == '.' && s[1] == '/'))
		s += *s == '/' ? 1 : 2;
	if (STREQ(s, "."))
		s = "";
	size_t len = strlen(s);
	while (len && s[len - 1] == '/')
		len--;
	if (len >= n)
		return -ENAMETOOLONG;
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

static int add_known(const struct secret *sec, void *ctx)
{
	/* Values under 4 bytes cannot be matched meaningfully (and are warned
	 * about when given). */
	if (sec->len < SECRETS_REDACT_MIN)
		return 0;
	return gate_add_known_secret(ctx, sec->name, sec->value, sec->len);
}

/* Every value the box was ever given (src/secrets/secrets.h, the known set): what
 * the gate blocks, and what this command never shows. */
static struct secrets *known;

/* path as shown on the terminal: the box's values redacted, then escaped
 * (gate_path_display). */
static void show_path(const char *path, char *out, size_t n)
{
	_cleanup_free_ char *red = NULL;
	if (known && secrets_redact(known, path, strlen(path), &red) < 0)
		red = strdup("[REDACTED]");
	gate_path_display(red ? red : path, out, n);
}

/* (Re)load what the box knows: a run or `secrets set` may have added
 * values since. Installs it as the filter of this command's messages. 0, or
 * -errno after a message. */
static int load_known(const struct box *b)
{
	_cleanup_secrets_ struct secrets *sec = NULL;
	struct error serr = { 0 };
	char why[ERROR_FORMAT_MAX];
	int r = secrets_new_known(&sec);
	if (r == 0)
		r = secrets_known_load(b->dir, sec, &serr);
	if (r < 0) {
		log_error("cannot read what box '%s' knows: %s", b->name,
			  cli_error_text(&serr, r, why, sizeof(why)));
		return r;
	}
	log_set_filter(secrets_redact_message, sec);
	secrets_free(known);
	known = TAKE_PTR(sec);
	return 0;
}

static int load_known_secrets(struct gate *g, const struct box *b)
{
	int r = load_known(b);
	if (r == 0 && (r = secrets_foreach(known, add_known, g)) < 0)
		log_error("cannot give the box's secrets to the gate: %s", strerror(-r));
	return r < 0 ? r : 0;
}

static int make_plan(struct gate *g, const struct box *b, const struct opts *o, bool stage,
		     struct gate_plan *p, struct gitsync_plan *gp)
{
	static char only_buf[64][PATH_MAX];
	const char *only[64];
	struct error err;
	for (size_t i = 0; i < o->nonly; i++) {
		if (only_rel(b, o->only[i], only_buf[i], sizeof(only_buf[i])) < 0) {
			log_error("'%s' is not in the project '%s'", o->only[i], b->project);
			return -EINVAL;
		}
		only[i] = only_buf[i];
	}
	/* Every value the box was ever given (stored, unset since, or given
	 * to a run): blocked wherever they appear, raw or encoded. */
	if (load_known_secrets(g, b) < 0)
		return -EINVAL;
	struct gate_plan_opts po = { .stage = stage, .only = only, .nonly = o->nonly };
	int r = gate_plan(g, &po, p, &err);
	if (r < 0)
		report(&err, r);
	/* The git part: the project's whole repository (not narrowed by --only). */
	if (r == 0 && gp && o->nonly == 0)
		r = git_plan(g, b, p, gp);
	return r;
}

static bool held_fresh(const struct gate_entry *e, void *ctx)
{
	char key[PATH_MAX + 64];
	snprintf(key, sizeof(key), "%s:%llu:%lld:%s", e->path, (unsigned long long)e->upper.ino,
		 (long long)e->upper.ctime_ns, gate_verdict_name(e->verdict));
	return seen_once(key);
}

static int do_apply(struct gate *g, const struct box *b, const struct opts *o, struct gate_plan *p,
		    struct gitsync_plan *gp)
{
	struct gate_apply_result res = { 0 };
	struct error err;
	int r = gate_apply(g, p, &res, &err);
	if (r < 0) {
		report(&err, r);
		if (gate_interrupted(g))
			log_error("the apply stopped; every file is either old or new, and the "
				  "journal is kept: run 'clawbox sync' again to finish it");
		return CLI_EXIT_ERROR;
	}
	gate_audit_held(g, p, o->yolo ? held_fresh : NULL, NULL);
	int gcode = git_apply(g, b, o, gp);
	size_t held = 0;
	for (size_t i = 0; i < p->n; i++)
		if (shown(&p->v[i]) && !p->v[i].applied)
			held++;
	if (o->json) {
		json_t *j = plan_json(b, p);
		json_object_set_new(j, "applied", json_integer((json_int_t)res.applied));
		json_object_set_new(j, "held", json_integer((json_int_t)held));
		json_object_set_new(j, "git", git_json(gp));
		print_json(j);
	} else if (!o->quiet) {
		printf("box '%s': applied %zu change%s%s", b->name, res.applied,
		       res.applied == 1 ? "" : "s",
		       res.settled ? ", kept the host's version of some" : "");
		printf("; %zu pending\n", held);
		for (size_t i = 0; i < p->n && held; i++)
			if (shown(&p->v[i]) && !p->v[i].applied)
				print_entry(p, i);
		print_gitdata(p);
		print_git(gp);
	}
	return held || gcode ? CLI_EXIT_ERROR : 0;
}

/* ---- interactive ------------------------------------------------------- */

static int ask(const char *prompt, const char *choices)
{
	char line[64];
	for (;;) {
		fprintf(stdout, "%s ", prompt);
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return 'q'; /* end of input: quit, nothing applied */
		if (line[0] && strchr(choices, line[0]) && (line[1] == '\n' || !line[1]))
			return line[0];
		printf("please answer one of: %s\n", choices);
	}
}

/* Print a unified diff (host -> box) of entry i, controls (C0, DEL, C1,
 * bidi) and invalid UTF-8 shown as '?'. */
static void show_diff(struct gate *g, const struct gate_plan *p, size_t i)
{
	const struct gate_entry *e = &p->v[i];
	char disp[PATH_MAX];
	show_path(gate_entry_shown(e), disp, sizeof(disp));
	if (e->type != GATE_FILE) {
		printf("(no diff: %s %s)\n", gate_type_name(e->type), change_kind_name(e->kind));
		return;
	}
	if (e->binary || !e->staged) {
		printf("(no diff: %s)\n", e->binary ? "binary file" : "not staged");
		return;
	}
	_cleanup_close_ int hfd = -1, bfd = -1;
	int pfd[2];
	if (gate_entry_fds(g, p, i, &hfd, &bfd) < 0 || pipe2(pfd, O_CLOEXEC) < 0) {
		printf("(no diff: cannot open the versions)\n");
		return;
	}
	_cleanup_close_ int out = pfd[0];
	char la[PATH_MAX + 8], lb[PATH_MAX + 8];
	snprintf(la, sizeof(la), "host/%s", disp);
	snprintf(lb, sizeof(lb), "box/%s", disp);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (dup2(hfd >= 0 ? hfd : nul, 3) < 0 || dup2(bfd, 4) < 0 || dup2(pfd[1], 1) < 0)
			_exit(EXIT_NOT_FOUND);
		execlp("diff", "diff", "-u", "--label", la, "--label", lb, "/dev/fd/3", "/dev/fd/4",
		       (char *)NULL);
		_exit(EXIT_NOT_FOUND);
	}
	close(pfd[1]); /* the read below ends when diff does */
	char buf[4096];
	size_t have = 0, keep = 0;
	ssize_t k;
	/* Controls (C0, DEL, C1, bidi) and invalid UTF-8 are shown as '?'; a
	 * sequence cut by the read waits for the rest. */
	while ((k = read(out, buf + have, sizeof(buf) - have)) > 0) {
		have += (size_t)k;
		size_t shown = utf8_display_filter(buf, have, &keep);
		fwrite(buf, 1, shown, stdout);
		memmove(buf, buf + have - keep, keep);
		have = keep;
	}
	if (have > 0) {
		memset(buf, '?', have);
		fwrite(buf, 1, have, stdout);
	}
	int st;
	if (pid > 0)
		waitpid(pid, &st, 0);
}

static bool wants_question(const struct gate_entry *e)
{
	return e->verdict == GATE_OK || e->verdict == GATE_NEEDS_APPROVAL ||
	       e->verdict == GATE_CONFLICT;
}

/* Ask about entry i; false when the user quits. */
static bool ask_entry(struct gate *g, struct gate_plan *p, size_t i)
{
	struct gate_entry *e = &p->v[i];
	for (;;) {
		print_entry(p, i);
		int c;
		if (e->verdict == GATE_CONFLICT) {
			c = ask(e->type == GATE_FILE || e->type == GATE_SYMLINK
				    ? "conflict: [k]eep host, [t]ake box, write [b]eside, [d]iff, "
				      "[s]kip, [q]uit?"
				    : "conflict: [k]eep host, [t]ake box, [d]iff, [s]kip, [q]uit?",
				e->type == GATE_FILE || e->type == GATE_SYMLINK ? "ktbdsq"
										: "ktdsq");
			if (c == 'k')
				e->choice = GATE_CHOICE_KEEP_HOST;
			else if (c == 't')
				e->choice = GATE_CHOICE_APPLY;
			else if (c == 'b')
				e->choice = GATE_CHOICE_BESIDE;
		} else {
			c = ask(e->verdict == GATE_NEEDS_APPROVAL
				    ? "approve and apply? [y]es, [n]o, [d]iff, [q]uit"
				    : "apply? [y]es, [n]o, [d]iff, [q]uit",
				"ynYNdq");
			if (c == 'y' || c == 'Y')
				e->choice = GATE_CHOICE_APPLY;
		}
		if (c == 'd') {
			show_diff(g, p, i);
			continue;
		}
		return c != 'q';
	}
}

static int interactive(struct gate *g, const struct box *b, const struct opts *o,
		       struct gate_plan *p, struct gitsync_plan *gp)
{
	if (!isatty(STDIN_FILENO)) {
		log_error("no terminal to ask on: use 'clawbox sync --dry-run' to see the changes, "
			  "or '--auto' to apply those that pass");
		return CLI_EXIT_ERROR;
	}
	print_summary(b, p);
	struct counts c = count(p);
	if (c.ok + c.approve + c.conflict == 0) {
		if (c.pending)
			gate_audit_held(g, p, NULL, NULL);
		/* the git part needs no answer: refs in a namespace of their own */
		int gcode = git_apply(g, b, o, gp);
		print_git(gp);
		return c.pending || gcode ? CLI_EXIT_ERROR : 0;
	}
	print_git(gp);
	for (;;) {
		int a = ask("[a]pply all that pass (then ask about the rest), [c]hoose per file, "
			    "show [d]iffs, [q]uit?",
			    "acdq");
		if (a == 'q') {
			printf("nothing applied\n");
			for (size_t i = 0; i < p->n; i++)
				p->v[i].choice = GATE_CHOICE_NONE;
			gate_audit_held(g, p, NULL, NULL);
			return CLI_EXIT_ERROR;
		}
		if (a == 'd') {
			for (size_t i = 0; i < p->n; i++)
				if (wants_question(&p->v[i])) {
					print_entry(p, i);
					show_diff(g, p, i);
				}
			continue;
		}
		bool go = true;
		for (size_t i = 0; i < p->n && go; i++) {
			struct gate_entry *e = &p->v[i];
			if (!wants_question(e))
				continue;
			if (a == 'a' && e->verdict == GATE_OK)
				e->choice = GATE_CHOICE_APPLY;
			else
				go = ask_entry(g, p, i);
		}
		if (!go) {
			printf("nothing applied\n");
			for (size_t i = 0; i < p->n; i++)
				p->v[i].choice = GATE_CHOICE_NONE;
			gate_audit_held(g, p, NULL, NULL);
			return CLI_EXIT_ERROR;
		}
		break;
	}
	return do_apply(g, b, o, p, gp);
}

/* ---- status, reset, yolo ----------------------------------------------- */

static int do_status(struct gate *g, const struct box *b, const struct opts *o)
{
	struct gate_plan p = { 0 };
	bool interrupted = gate_interrupted(g);
	if (!interrupted && make_plan(g, b, o, false, &p, NULL) < 0)
		return CLI_EXIT_ERROR;
	struct counts c = count(&p);
	const struct sync_policy *pol = gate_policy(g);
	if (o->json) {
		json_t *j = json_pack(
		    "{s:s, s:s, s:s, s:b, s:b, s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:s, "
		    "s:i}",
		    "box", b->name, "project", b->project, "mode", box_mode_name(b->mode),
		    "running", box_in_use(b, NULL), "interrupted", interrupted, "pending",
		    "changes", (json_int_t)c.pending, "pass", (json_int_t)c.ok, "needs_approval",
		    (json_int_t)c.approve, "blocked", (json_int_t)c.blocked, "conflicts",
		    (json_int_t)c.conflict, "git_data", (json_int_t)c.gitdata, "policy",
		    pol->source[0] ? pol->source : "defaults", "auto_interval",
		    (int)pol->auto_interval);
		print_json(j);
	} else {
		printf("box:      %s (%s%s)\n", b->name, box_mode_name(b->mode),
		       box_in_use(b, NULL) ? ", running" : "");
		printf("project:  %s\n", b->project);
		printf("policy:   %s\n", pol->source[0] ? pol->source : "defaults");
		if (interrupted)
			printf("apply:    interrupted (run 'clawbox sync' to finish it)\n");
		else
			printf("pending:  %zu (%zu pass, %zu need approval, %zu blocked, %zu "
			       "conflicts)\n",
			       c.pending, c.ok, c.approve, c.blocked, c.conflict);
		if (!interrupted && c.gitdata)
			printf("git data: %zu entries beneath git directories (not applied as "
			       "files)\n",
			       c.gitdata);
	}
	gate_plan_free(&p);
	return 0;
}

static int do_reset(struct gate *g, const struct box *b, const struct opts *o)
{
	pid_t holder = 0;
	_cleanup_close_ int lock = box_lock(b, &holder);
	if (lock < 0) {
		log_error("box '%s' is running (clawbox pid %d): stop it before resetting", b->name,
			  (int)holder);
		return CLI_EXIT_ERROR;
	}
	if (!o->yes && !cli_confirm("discard every pending change of the box and its sync "
				    "state?")) {
		log_error("not reset (use --yes to reset without asking)");
		return CLI_EXIT_ERROR;
	}
	/* An interrupted apply is finished first: the host never stays half
	 * applied. */
	if (recover(g, o) < 0)
		return CLI_EXIT_ERROR;
	int r = box_reset(b);
	if (r == 0)
		r = gate_reset_state(g);
	if (r < 0) {
		log_error("cannot reset box '%s': %s", b->name, strerror(-r));
		return CLI_EXIT_ERROR;
	}
	if (!o->quiet)
		printf("box '%s': pending changes and sync state discarded; the project was not "
		       "touched\n",
		       b->name);
	return 0;
}

static volatile sig_atomic_t stop_loop;
static void on_term(int sig)
{
	stop_loop = 1;
}

/* One unattended round: recover, plan, apply what passes. */
static int auto_round(const struct box *b, const struct opts *o, unsigned *ret_interval)
{
	struct gate *g;
	struct error err;
	struct gate_plan p = { 0 };
	if (load_known(b) < 0)
		return -EINVAL;
	struct gitsync_plan gp = { 0 };
	int r = gate_open(b, 0, &g, &err);
	if (r == -EBUSY)
		return 0; /* a manual sync is on: next round */
	if (r < 0) {
		report(&err, r);
		return r;
	}
	*ret_interval = gate_policy(g)->auto_interval;
	r = recover(g, o);
	if (r == 0)
		r = make_plan(g, b, o, true, &p, &gp);
	if (r == 0) {
		gate_plan_choose_auto(&p, o->approve, o->napprove);
		r = do_apply(g, b, o, &p, &gp) == 0 ? 0 : 1;
	}
	gate_plan_free(&p);
	gitsync_plan_free(&gp);
	gate_close(g);
	return r;
}

/* The audit log's mark of a mount root: the sync.* events that follow are
 * of its paths (relative to SRC), until the next mark or run. */
static void audit_mount(const struct box *b, const struct mount_entry *e)
{
	struct audit *a;
	if (audit_open(b->dir, b->name, &a) < 0)
		return;
	audit_append(a, "sync.mount", json_pack("{s:s, s:s}", "dst", e->dst, "src", e->src));
	audit_close(a);
}

/* An auto round of an overlay mount's root (at the project's interval). */
static int auto_root(const struct box *root, const struct mount_entry *e, void *p)
{
	unsigned interval;
	struct changes_summary s = { 0 };
	char upper[PATH_MAX];
	path_join(upper, sizeof(upper), root->data, "upper");
	_cleanup_close_ int ufd = open(upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int lfd = open(root->project, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ufd < 0 || changes_summarize(ufd, lfd, &s) < 0 || changes_total(&s) == 0)
		return 0; /* nothing to do: no mark in the audit log every round */
	audit_mount(root, e);
	(void)auto_round(root, p, &interval);
	return 0;
}

/* The yolo auto-sync: a round every auto_interval seconds until the parent
 * (the box's clawbox run) ends or SIGTERM, then one last round. */
static int yolo_loop(const struct box *b, struct opts *o)
{
	struct sigaction sa = { .sa_handler = on_term };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	pid_t parent = (pid_t)o->yolo;
	o->quiet = true;
	unsigned interval = 30;
	while (!stop_loop) {
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		(void)auto_round(b, o, &interval);
		(void)launch_mounts_foreach_root(b, auto_root, o);
		for (;;) {
			if (stop_loop || getppid() != parent)
				break;
			clock_gettime(CLOCK_MONOTONIC, &t1);
			if (t1.tv_sec - t0.tv_sec >= (time_t)interval)
				break;
			poll(NULL, 0, 100);
		}
		if (getppid() != parent)
			break;
	}
	(void)auto_round(b, o, &interval);
	(void)launch_mounts_foreach_root(b, auto_root, o);
	return 0;
}

enum { OPT_ONLY = 256, OPT_APPROVE, OPT_STATUS, OPT_RESET, OPT_JSON, OPT_YOLO };

static const struct option lopts[] = {
	{ "box", required_argument, NULL, 'b' },
	{ "project", required_argument, NULL, 'p' },
	{ "dry-run", no_argument, NULL, 'n' },
	{ "auto", no_argument, NULL, 'a' },
	{ "approve", required_argument, NULL, OPT_APPROVE },
	{ "only", required_argument, NULL, OPT_ONLY },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "status", no_argument, NULL, OPT_STATUS },
	{ "reset", no_argument, NULL, OPT_RESET },
	{ "yes", no_argument, NULL, 'y' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "yolo-loop", required_argument, NULL, OPT_YOLO },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

/* Add arg to --only (only) or --approve. Returns -1 to go on, or
 * CLI_EXIT_USAGE (reported) past 64 of them. */
static int add_glob(struct opts *o, bool only, const char *arg)
{
	size_t *n = only ? &o->nonly : &o->napprove;
	if (*n == 64) {
		log_error("too many --%s options (see 'clawbox sync --help')",
			  only ? "only" : "approve");
		return CLI_EXIT_USAGE;
	}
	(only ? o->only : o->approve)[(*n)++] = arg;
	return -1;
}

/* The option c (of getopt_long) into *o. Returns -1 to go on, or the exit
 * status to end with (0 after --help; CLI_EXIT_USAGE, reported). */
static int parse_opt(int c, char **argv, struct opts *o)
{
	uint64_t v;
	switch (c) {
	case 'b': o->box.box = optarg; break;
	case 'p': o->box.project = optarg; break;
	case 'n': o->dry = true; break;
	case 'a': o->autom = true; break;
	case 'y': o->yes = true; break;
	case 'q': o->quiet = true; break;
	case OPT_JSON: o->json = true; break;
	case OPT_STATUS: o->status = true; break;
	case OPT_RESET: o->reset = true; break;
	case OPT_ONLY:
	case OPT_APPROVE: return add_glob(o, c == OPT_ONLY, optarg);
	case OPT_YOLO:
		if (cli_parse_uint(optarg, &v) < 0 || v > INT32_MAX)
			return cli_bad_argument("sync", optarg);
		o->yolo = (unsigned)v;
		break;
	case 'h': fputs(usage, stdout); return 0;
	default: return cli_bad_option("sync", argv);
	}
	return -1;
}

/* The command line into *o. Returns -1 to go on, or the exit status to end
 * with (0 after --help; CLI_EXIT_USAGE, reported). */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	int c, code;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "b:p:nayqh", lopts, NULL)) != -1)
		if ((code = parse_opt(c, argv, o)) >= 0)
			return code;
	if (optind < argc)
		return cli_bad_argument("sync", argv[optind]);
	if (o->dry + o->autom + o->status + o->reset > 1) {
		log_error("--dry-run, --auto, --status and --reset exclude each other (see "
			  "'clawbox sync --help')");
		return CLI_EXIT_USAGE;
	}
	return -1;
}

/* The box of o into *b (filled even on failure), its data ready; < 0
 * (reported) when there is none or it is yolo-unsafe (nothing to sync). */
static int open_box(const struct opts *o, struct box *b)
{
	bool created;
	if (cli_box(&o->box, false, BOX_MODE_SECURE, false, b, &created) < 0 ||
	    cli_box_data(b, 0, false, false) < 0)
		return -EINVAL;
	if (b->mode == BOX_MODE_YOLO_UNSAFE) {
		log_error("box '%s' is yolo-unsafe: its writes go straight to the project, there "
			  "is nothing to sync",
			  b->name);
		return -EINVAL;
	}
	return 0;
}

/* --dry-run: show the plan (p, gp: filled here); change nothing, an
 * interrupted apply included. Returns the exit status. */
static int do_dry(struct gate *g, const struct box *b, const struct opts *o, struct gate_plan *p,
		  struct gitsync_plan *gp)
{
	if (gate_interrupted(g)) {
		log_error("box '%s' has an interrupted apply: run 'clawbox sync' (or "
			  "--auto) to finish it first",
			  b->name);
		return CLI_EXIT_ERROR;
	}
	if (make_plan(g, b, o, false, p, gp) < 0)
		return CLI_EXIT_ERROR;
	if (o->json) {
		json_t *j = plan_json(b, p);
		json_object_set_new(j, "git", git_json(gp));
		print_json(j);
	} else {
		print_summary(b, p);
		print_git(gp);
	}
	return 0;
}

/* The action o asks for, on the open gate g. Returns the exit status. */
static int run_gate(struct gate *g, const struct box *b, const struct opts *o)
{
	int code;
	struct gate_plan p = { 0 };
	struct gitsync_plan gp = { 0 };
	if (o->status)
		code = do_status(g, b, o);
	else if (o->reset)
		code = do_reset(g, b, o);
	else if (o->dry)
		code = do_dry(g, b, o, &p, &gp);
	else if (recover(g, o) < 0 || make_plan(g, b, o, true, &p, &gp) < 0)
		code = CLI_EXIT_ERROR;
	else if (o->autom) {
		gate_plan_choose_auto(&p, o->approve, o->napprove);
		code = do_apply(g, b, o, &p, &gp);
	} else
		code = interactive(g, b, o, &p, &gp);
	gate_plan_free(&p);
	gitsync_plan_free(&gp);
	return code;
}

struct root_run {
	const struct opts *o;
	int code;     /* the worst exit status yet */
	bool pending; /* --json, --only: a mount holds changes */
};

/* An overlay mount, a root of the gate of its own: the same action. */
static int sync_root(const struct box *root, const struct mount_entry *e, void *p)
{
	struct root_run *c = p;
	struct gate *g;
	struct error err;
	if (c->o->json || c->o->nonly) {
		struct changes_summary s = { 0 };
		char upper[PATH_MAX];
		path_join(upper, sizeof(upper), root->data, "upper");
		_cleanup_close_ int ufd =
		    open(upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		_cleanup_close_ int lfd = open(root->project, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		c->pending |= ufd >= 0 && changes_summarize(ufd, lfd, &s) == 0 && changes_total(&s);
		return 0;
	}
	if (!c->o->quiet)
		printf("\nmount '%s' (from '%s'):\n", e->dst, e->src);
	audit_mount(root, e);
	int r = gate_open(root, GATE_OPEN_WAIT, &g, &err);
	if (r < 0) {
		report(&err, r);
		c->code = CLI_EXIT_ERROR;
		return 0;
	}
	int code = run_gate(g, root, c->o);
	gate_close(g);
	if (code > c->code)
		c->code = code;
	return 0;
}

/* After the project: the box's overlay mounts (--mount SRC:DST:overlay),
 * each through the gate as the project is; not with --json or --only
 * (said). Returns the worst exit status. */
static int sync_mounts(const struct box *b, const struct opts *o, int code)
{
	struct root_run c = { .o = o, .code = code };
	if (launch_mounts_foreach_root(b, sync_root, &c) < 0)
		log_warn("cannot read the mounts of box '%s': its overlay mounts were not synced",
			 b->name);
	if (c.pending)
		log_warn("box '%s': its overlay mounts hold changes, which %s does not cover: run "
			 "'clawbox sync' without it for them",
			 b->name, o->json ? "--json" : "--only");
	return c.code;
}

int cmd_sync(int argc, char **argv)
{
	struct opts o = { 0 };
	int code = parse_opts(argc, argv, &o);
	if (code >= 0)
		return code;
	struct box b;
	if (open_box(&o, &b) < 0)
		return CLI_EXIT_ERROR;
	if (o.yolo)
		return yolo_loop(&b, &o);

	struct gate *g;
	struct error err;
	if (load_known(&b) < 0) /* nothing printed shows a value */
		return CLI_EXIT_ERROR;
	int r = gate_open(&b, GATE_OPEN_WAIT, &g, &err);
	if (r < 0) {
		report(&err, r);
		return CLI_EXIT_ERROR;
	}
	code = run_gate(g, &b, &o);
	gate_close(g);
	return sync_mounts(&b, &o, code);
}
