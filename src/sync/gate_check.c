/* The gate's checks of one entry: its path against the policy, the host
 * side (what is there, whether it changed since the box saw it), a link's
 * target, and the host tree a deletion or replacement removes. Each check
 * adds findings; the verdict is classify's (gate.c). */
#include "util/common.h"

#include "sync/gate_int.h"
#include "util/array.h"
#include "util/hash.h"
#include "util/utf8.h"

#include <stdarg.h>

int gate_add_finding(struct gate_entry *e, enum gate_severity sev, const char *rule, unsigned line,
		     const char *fmt, ...)
{
	if (e->nfindings >= 64)
		return 0; /* enough to decide; the rest would be noise */
	if (array_grow_counted((void **)&e->findings, e->nfindings, sizeof(*e->findings)) < 0)
		return -ENOMEM;
	struct gate_finding *f = &e->findings[e->nfindings++];
	memset(f, 0, sizeof(*f));
	snprintf(f->rule, sizeof(f->rule), "%s", rule);
	f->line = line;
	f->sev = sev;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->reason, sizeof(f->reason), fmt, ap);
	va_end(ap);
	return 0;
}

bool gate_has_sev(const struct gate_entry *e, enum gate_severity sev)
{
	for (size_t i = 0; i < e->nfindings; i++)
		if (e->findings[i].sev == sev)
			return true;
	return false;
}

int gate_check_path(struct gate *g, struct gate_entry *e)
{
	const struct sync_policy *p = &g->pol;
	const char *m;
	int r = 0;
	unsigned char c = utf8_ascii_control(e->path);
	if (c)
		r = gate_add_finding(e, GATE_SEV_BLOCK, "name-control", 0,
				     "the file name holds a control character (0x%02x)", c);
	if (r == 0 && !utf8_valid(e->path))
		r = gate_add_finding(e, GATE_SEV_BLOCK, "name-encoding", 0,
				     "the file name is not valid UTF-8");
	if (r == 0 && (m = syncpolicy_denied(p, e->path)))
		r = gate_add_finding(e, GATE_SEV_BLOCK, "path-deny", 0,
				     "denied by the pattern '%s'", m);
	if (r == 0 && !syncpolicy_allowed(p, e->path))
		r = gate_add_finding(e, GATE_SEV_BLOCK, "path-not-allowed", 0,
				     "not matched by any allow pattern");
	const char *why = NULL;
	if (r == 0 && (m = syncpolicy_needs_approval(p, e->path, &why)))
		r = gate_add_finding(e, GATE_SEV_APPROVE, "path-approval", 0,
				     "'%s': %s; needs explicit approval", m, why);
	if (r == 0 && e->type != GATE_DIR && e->type != GATE_WHITEOUT &&
	    (m = syncpolicy_blocked_ext(p, e->path)))
		r = gate_add_finding(e, GATE_SEV_BLOCK, "credential-file", 0,
				     "credential file type '%s' is never synced", m);
	if (r == 0 && e->type == GATE_SPECIAL)
		r = gate_add_finding(e, GATE_SEV_BLOCK, "special-file", 0,
				     "devices, fifos and sockets are never synced");
	if (r == 0 && (e->upper.mode & (S_ISUID | S_ISGID)) && e->type != GATE_WHITEOUT)
		r = gate_add_finding(e, GATE_SEV_NOTE, "setuid", 0,
				     "setuid/setgid bits are not synced (mode %04o applied)",
				     (unsigned)e->mode);
	if (r == 0 && (e->upper.mode & S_IWOTH) && e->type != GATE_WHITEOUT &&
	    e->type != GATE_SYMLINK)
		r = gate_add_finding(e, GATE_SEV_NOTE, "world-writable", 0,
				     "the world-writable bit is not synced (mode %04o applied)",
				     (unsigned)e->mode);
	return r;
}

bool gate_is_executable(const unsigned char *d, size_t n)
{
	if (n >= 4 && d[0] == 0x7f && d[1] == 'E' && d[2] == 'L' && d[3] == 'F')
		return true;
	if (n >= 0x40 && d[0] == 'M' && d[1] == 'Z') {
		uint32_t off = d[0x3c] | d[0x3d] << 8 | d[0x3e] << 16 | (uint32_t)d[0x3f] << 24;
		if (off <= n - 4 && memcmp(d + off, "PE\0\0", 4) == 0)
			return true;
	}
	if (n >= 4) {
		uint32_t be = (uint32_t)d[0] << 24 | d[1] << 16 | d[2] << 8 | d[3];
		if (be == 0xfeedface || be == 0xfeedfacf || be == 0xcefaedfe || be == 0xcffaedfe)
			return true;
		if (be == 0xcafebabe && n >= 8) {
			uint32_t nfat = (uint32_t)d[4] << 24 | d[5] << 16 | d[6] << 8 | d[7];
			return nfat > 0 && nfat < 32; /* not a Java class (version >= 45) */
		}
	}
	return false;
}

/* Host side of e: its type, identity and (for a regular file of the same
 * size as the box's) its hash. A host path through a symlink blocks. */
int gate_probe_host(struct gate *g, struct gate_entry *e)
{
	_cleanup_close_ int dfd = -1;
	const char *base = NULL;
	struct stat st;
	int r = gate_parent(g->root_fd, e->path, &dfd, &base);
	if (r == -ENOENT || r == -ENOTDIR)
		return 0;
	if (r == -ELOOP || r == -EXDEV)
		return gate_add_finding(e, GATE_SEV_BLOCK, "host-symlink", 0,
					"the path on the host passes through a symlink");
	if (r < 0)
		return r;
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	e->host_type = (int)(st.st_mode & S_IFMT);
	gate_fp_from_stat(&st, &e->host);
	e->host_ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
	if (S_ISREG(st.st_mode) && e->type == GATE_FILE && (uint64_t)st.st_size == e->size) {
		_cleanup_close_ int fd =
		    openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0 && gate_hash_fd(fd, g->pol.max_size, e->host_hash) < 0)
			e->host_hash[0] = '\0';
	} else if (S_ISLNK(st.st_mode) && e->type == GATE_SYMLINK) {
		char t[PATH_MAX];
		ssize_t n = readlinkat(dfd, base, t, sizeof(t) - 1);
		if (n >= 0) {
			t[n] = '\0';
			hash_sha256_hex(t, (size_t)n, e->host_hash);
		}
	}
	return 0;
}

static int64_t upper_btime(struct gate *g, const struct gate_entry *e)
{
	int dfd = -1;
	const char *base = NULL;
	struct statx stx;
	int64_t t = e->upper.ctime_ns ? e->upper.ctime_ns : INT64_MAX;
	if (gate_parent(g->upper_fd, e->path, &dfd, &base) < 0)
		return t;
	if (statx(dfd, base, AT_SYMLINK_NOFOLLOW, STATX_BTIME, &stx) == 0 &&
	    (stx.stx_mask & STATX_BTIME))
		t = (int64_t)stx.stx_btime.tv_sec * 1000000000 + stx.stx_btime.tv_nsec;
	close(dfd);
	return t;
}

/* Whether the host changed e's path after the box last saw it. */
bool gate_host_changed(struct gate *g, struct gate_entry *e, const struct baseline_rec *rec)
{
	if (rec) {
		struct gate_fp none = { 0 };
		return !gate_fp_equal(e->host_type ? &e->host : &none, &rec->host);
	}
	switch (e->kind) {
	case CHANGE_ADDED: return e->host_type != 0;
	case CHANGE_MODIFIED: return !e->host_type || e->host_ctime_ns > upper_btime(g, e);
	case CHANGE_DELETED:
	case CHANGE_REPLACED: return e->host_type && e->host_ctime_ns > upper_btime(g, e);
	case CHANGE_META: return e->host_type != S_IFDIR;
	}
	return false;
}

/* A link is judged by where it resolves: in the tree as it will be after
 * the apply and in the host's tree as it is now (the other pending changes
 * may stay pending); its target's bytes as a name. */
int gate_check_link(struct gate *g, struct gate_entry *e, const char *t, size_t n)
{
	int r = 0;
	for (size_t k = 0; k < n && r == 0; k++)
		if ((unsigned char)t[k] < 0x20 || t[k] == 0x7f)
			r = gate_add_finding(e, GATE_SEV_BLOCK, "name-control", 0,
					     "the link's target holds a control character (0x%02x)",
					     (unsigned char)t[k]);
	if (r == 0 && !utf8_valid(t))
		r = gate_add_finding(e, GATE_SEV_BLOCK, "name-encoding", 0,
				     "the link's target is not valid UTF-8");
	int link_depth = 1;
	for (const char *s = e->path; (s = strchr(s, '/')); s++)
		link_depth++;
	for (int v = 0; v < 2 && r == 0; v++) {
		int dir_depth = -1;
		int k = gate_link_resolves(g, v == 0, e->path, t, &dir_depth);
		if (k == -ENOMEM)
			return k;
		/* A link to a directory above its own place makes "LINK/.."
		 * climb higher than its text says: a link on the host that
		 * was judged inside could then resolve outside. */
		if (k == GATE_LINK_INSIDE && v == 0 && dir_depth >= 0 && dir_depth < link_depth)
			r = gate_add_finding(
			    e, GATE_SEV_APPROVE, "symlink-up", 0,
			    "a link to a directory above it: links on the host that "
			    "pass through it could resolve outside the project");
		if (k == GATE_LINK_INSIDE)
			continue;
		r = gate_add_finding(
		    e, GATE_SEV_BLOCK, "symlink-escape", 0, "%s",
		    k < 0 ? "the link's target cannot be resolved on the host"
		    : k == GATE_LINK_LOOPS
			? "the link's target does not resolve within 40 links (a loop)"
		    : v == 0 ? "the link resolves outside the project after the apply"
			     : "the link resolves outside the project on the host as it is "
			       "now");
		break;
	}
	return r;
}

int gate_set_gitdata(struct gate_entry *e, const char *root)
{
	e->verdict = GATE_GITDATA;
	free(e->gitdir);
	if (!(e->gitdir = strdup(root)))
		return -ENOMEM;
	return gate_add_finding(
	    e, GATE_SEV_BLOCK, "git-data", 0,
	    "git data: comes home through git (refs/clawbox/BOX/...), never as files");
}

struct subtree {
	struct gate *g;
	struct gate_entry *e;
	int64_t btime;
	bool deny, allow, approve, changed, git;
	char git_root[PATH_MAX];
	int err;
};

/* One host entry beneath a directory that e removes. */
static int subtree_entry(const char *rel, const struct stat *st, bool bare, void *ctx)
{
	struct subtree *t = ctx;
	struct gate_entry *e = t->e;
	char full[PATH_MAX];
	const char *m, *why = NULL;
	if (snprintf(full, sizeof(full), "%s%s%s", e->path, rel[0] ? "/" : "", rel) >=
	    (int)sizeof(full))
		return -ENAMETOOLONG;
	const char *slash = strrchr(full, '/');
	const char *name = slash ? slash + 1 : full;
	if (bare || gate_name_is_dotgit(name, strlen(name))) {
		if (!t->git)
			snprintf(t->git_root, sizeof(t->git_root), "%s", full);
		t->git = true;
		return 0;
	}
	const struct sync_policy *p = &t->g->pol;
	int r = 0;
	if (!t->deny && (m = syncpolicy_denied(p, full))) {
		t->deny = true;
		r = gate_add_finding(e, GATE_SEV_BLOCK, "path-deny", 0,
				     "removes '%s', denied by the pattern '%s'", rel, m);
	}
	if (r == 0 && !t->allow && !syncpolicy_allowed(p, full)) {
		t->allow = true;
		r = gate_add_finding(e, GATE_SEV_BLOCK, "path-not-allowed", 0,
				     "removes '%s', not matched by any allow pattern", rel);
	}
	if (r == 0 && !t->approve && (m = syncpolicy_needs_approval(p, full, &why))) {
		t->approve = true;
		r = gate_add_finding(e, GATE_SEV_APPROVE, "path-approval", 0,
				     "removes '%s' ('%s': %s); needs explicit approval", rel, m,
				     why);
	}
	/* New or changed on the host since the box saw it: as gate_host_changed()
	 * does for one entry (a dir's ctime moves when an entry comes or goes). */
	const struct baseline_rec *rec = baseline_get(&t->g->base, full);
	bool changed;
	if (rec) {
		struct gate_fp now;
		gate_fp_from_stat(st, &now);
		changed = !gate_fp_equal(&now, &rec->host);
	} else {
		changed = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec > t->btime;
	}
	if (r == 0 && changed && !t->changed) {
		t->changed = true;
		r = gate_add_finding(
		    e, GATE_SEV_NOTE, "conflict", 0,
		    "removes '%s', new or changed on the host after the box saw it", rel);
	}
	return r;
}

/* e removes a host directory (delete, replace, a file or link in its
 * place): every host entry beneath it is checked as a path of its own, and
 * the tree's hash is kept for the apply to see it unchanged. Too big or
 * unreadable: held with a finding. Sets *ret_changed for a conflict. */
int gate_check_subtree(struct gate *g, struct gate_entry *e, bool *ret_changed)
{
	struct subtree t = { .g = g, .e = e, .btime = upper_btime(g, e) };
	int dfd = -1;
	const char *base = NULL;
	int r = gate_parent(g->root_fd, e->path, &dfd, &base);
	if (r == 0) {
		r = gate_tree_walk(dfd, base, GATE_TREE_MAX, subtree_entry, &t, e->host_tree);
		close(dfd);
	}
	if (r == -ENOMEM)
		return r;
	if (t.git)
		return gate_set_gitdata(e, t.git_root);
	if (r == -E2BIG)
		return gate_add_finding(
		    e, GATE_SEV_BLOCK, "tree-too-large", 0,
		    "removes more than %u host entries (or deeper than 256): held, "
		    "remove it on the host",
		    GATE_TREE_MAX);
	if (r < 0)
		return gate_add_finding(e, GATE_SEV_BLOCK, "host-tree", 0,
					"cannot read the host tree it removes: %s", strerror(-r));
	*ret_changed = t.changed;
	return 0;
}
