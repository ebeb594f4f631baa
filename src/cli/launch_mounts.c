/* --mount, --vault and --no-mounts (src/cli/launch_mounts.h). */
#include "util/common.h"

#include "box/masks.h"
#include "cli/cli.h"
#include "cli/launch_mounts.h"
#include "sync/changes.h"
#include "sync/gate.h"
#include "util/fs.h"
#include "util/log.h"

/* With no mount option, the record's mounts, held here (one run per
 * process). */
static struct launch_mounts from_record;

int launch_mounts_opt(struct launch_mounts **mp, int c, const char *arg)
{
	struct error err = { 0 };
	char msg[ERROR_FORMAT_MAX];
	if (!*mp && !(*mp = calloc(1, sizeof(**mp)))) {
		log_error("cannot hold the mounts: %s", strerror(ENOMEM));
		return EXIT_SETUP;
	}
	if (c == MOUNT_OPT_NO_MOUNTS) {
		(*mp)->none = true;
		return -1;
	}
	if (mounts_parse_opt(&(*mp)->given, arg, c == MOUNT_OPT_VAULT, &err) < 0) {
		log_error("%s (see 'clawbox run --help')", error_format(&err, msg, sizeof(msg)));
		return EXIT_SETUP;
	}
	return -1;
}

bool launch_mounts_given(const struct launch_mounts *m)
{
	return m && (m->none || m->given.n);
}

struct launch_mounts *launch_mounts_free(struct launch_mounts *m)
{
	if (m) {
		mounts_clear(&m->given);
		mounts_clear(&m->use);
		free(m);
	}
	return NULL;
}

/* SRC of e as a canonical host dir (in place), allowed by the masks. A
 * recorded SRC must still be canonical: a symlink put in its place since is
 * refused, not followed. 0 or -errno after an error message. */
static int check_src(struct mount_entry *e, const struct strv *builtin, bool recorded)
{
	char real[PATH_MAX], hit[PATH_MAX];
	struct stat st;
	if (!realpath(e->src, real) || stat(real, &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_error("cannot mount '%s': not a directory%s", e->src,
			  recorded ? " (recorded with the box; --no-mounts forgets it)" : "");
		return -ENOTDIR;
	}
	if (recorded && !STREQ(real, e->src)) {
		log_error("cannot mount '%s': it is now a symlink to '%s'", e->src, real);
		return -ELOOP;
	}
	if (!mounts_path_valid(real)) {
		log_error("cannot mount '%s': control characters in its path", e->src);
		return -EINVAL;
	}
	const char *why = masks_mount_conflict(builtin, real, hit, sizeof(hit));
	if (why) {
		log_error("refusing to mount '%s': %s ('%s')", real, why, hit);
		return -EPERM;
	}
	char *dup = strdup(real);
	if (!dup)
		return -ENOMEM;
	free(e->src);
	e->src = dup;
	return 0;
}

int launch_mounts_pending(const struct box *b, const struct mount_entry *e,
			  struct changes_summary *ret)
{
	char dir[PATH_MAX], upper[PATH_MAX];
	struct changes_summary s = { 0 };
	int r = mounts_data_dir(b->data, e, dir, sizeof(dir));
	if (r < 0 || (r = path_join(upper, sizeof(upper), dir, "upper")) < 0)
		return r;
	_cleanup_close_ int ufd = open(upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (ufd < 0) {
		*ret = s;
		return errno == ENOENT ? 0 : -errno;
	}
	_cleanup_close_ int lfd = open(e->src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if ((r = changes_summarize(ufd, lfd, &s)) < 0)
		return r;
	*ret = s;
	return 0;
}

/* An overlay mount of old that new drops (or changes) must not hold
 * writes: they would be out of reach. 0 or -EBUSY after a message. */
static int check_dropped(const struct box *b, const struct mounts *old, const struct mounts *new)
{
	for (size_t i = 0; i < old->n; i++) {
		const struct mount_entry *o = &old->v[i];
		struct changes_summary s;
		bool kept = false;
		for (size_t j = 0; j < new->n && !kept; j++)
			kept = new->v[j].kind == MOUNT_OVERLAY &&STREQ(new->v[j].src, o->src) &&
			       STREQ(new->v[j].dst, o->dst);
		if (o->kind != MOUNT_OVERLAY || kept || launch_mounts_pending(b, o, &s) < 0 ||
		    changes_total(&s) == 0)
			continue;
		log_error("box '%s': the overlay mount of '%s' at '%s' holds %llu pending changes: "
			  "keep it (--mount %s:%s:overlay), or discard them ('clawbox reset')",
			  b->name, o->src, o->dst, (unsigned long long)changes_total(&s), o->src,
			  o->dst);
		return -EBUSY;
	}
	return 0;
}

/* The dirs of an overlay mount: upper takes SRC's owner and mode, so DST
 * looks like SRC. */
static int make_overlay_dirs(const struct box *b, const struct mount_entry *e, char *dir, size_t n)
{
	char upper[PATH_MAX], work[PATH_MAX];
	struct stat st;
	int r = mounts_data_dir(b->data, e, dir, n);
	if (r < 0 || (r = path_join(upper, sizeof(upper), dir, "upper")) < 0 ||
	    (r = path_join(work, sizeof(work), dir, "work")) < 0 ||
	    (r = fs_mkdir_p(work, 0700)) < 0)
		return r;
	if (mkdir(upper, 0700) < 0) {
		if (errno != EEXIST)
			return -errno;
		return 0;
	}
	if (stat(e->src, &st) < 0 || lchown(upper, st.st_uid, st.st_gid) < 0 ||
	    chmod(upper, st.st_mode & 07777) < 0)
		return -errno;
	return 0;
}

/* Say in one line what replaced the recorded mounts. */
static void say_replaced(const struct box *b, size_t old, const struct mounts *new)
{
	char list[1024] = "";
	size_t off = 0;
	for (size_t i = 0; i < new->n &&off < sizeof(list); i++) {
		int w = snprintf(list + off, sizeof(list) - off, "%s%s:%s:%s", i ? ", " : "",
				 new->v[i].src, new->v[i].dst, mount_kind_name(new->v[i].kind));
		off += w > 0 ? (size_t)w : 0;
	}
	log_info("box '%s': its %zu recorded mounts are replaced by %s", b->name, old,
		 new->n ? list : "none");
}

/* A DST in the box's home must not pass through a symlink or a file there
 * (the box put it there; rootfs refuses it too, once the box starts: this
 * says so before anything is recorded). 0 or -ELOOP after a message. */
static int check_home_dst(const struct box *b, const char *dst)
{
	char path[PATH_MAX];
	struct stat st;
	size_t hl = strlen(ROOTFS_HOME);
	if (!path_is_beneath(dst, ROOTFS_HOME) ||
	    snprintf(path, sizeof(path), "%s/home%s", b->data, dst + hl) >= (int)sizeof(path))
		return 0;
	for (char *p = path + strlen(b->data) + strlen("/home"); p;) {
		char *next = strchr(p + 1, '/');
		if (next)
			*next = '\0';
		int r = lstat(path, &st);
		if (next)
			*next = '/';
		if (r < 0)
			return 0;
		if (!S_ISDIR(st.st_mode)) {
			log_error("cannot mount at '%s': a symlink or a file is on the way in the "
				  "box's home",
				  dst);
			return -ELOOP;
		}
		p = next;
	}
	return 0;
}

/* Check m->use; record it when it came from the options. */
static int settle(struct launch_mounts *m, const struct box *b, const char *state,
		  const char *config, struct mounts *rec, bool from_opts)
{
	struct error err = { 0 };
	char msg[ERROR_FORMAT_MAX];
	struct strv builtin = { 0 };
	int r = masks_default(state, &builtin);
	for (size_t i = 0; i < m->use.n && r == 0; i++)
		r = check_src(&m->use.v[i], &builtin, !from_opts);
	strv_free(&builtin);
	if (r < 0)
		return r;
	if ((r = mounts_check_dst(&m->use, b->project, config, &err)) < 0) {
		log_error("%s", error_format(&err, msg, sizeof(msg)));
		return r;
	}
	for (size_t i = 0; i < m->use.n; i++) {
		if ((r = check_home_dst(b, m->use.v[i].dst)) < 0)
			return r;
		if (m->use.v[i].kind == MOUNT_OVERLAY && b->mode == BOX_MODE_YOLO_UNSAFE) {
			log_error("cannot mount '%s' as an overlay in box '%s': a yolo-unsafe box "
				  "has no sync to bring its writes home (use ro)",
				  m->use.v[i].dst, b->name);
			return -EINVAL;
		}
	}
	if (!from_opts || mounts_equal(rec, &m->use))
		return 0;
	if ((r = check_dropped(b, rec, &m->use)) < 0)
		return r;
	m->save = b;
	m->replaced = rec->n;
	return 0;
}

/* Record the options' mounts, once every check passed. */
static int record(struct launch_mounts *m)
{
	const struct box *b = m->save;
	if (!b)
		return 0;
	m->save = NULL;
	int r = mounts_save(b->dir, &m->use);
	if (r < 0) {
		log_error("cannot record the mounts of box '%s': %s", b->name, strerror(-r));
		return r;
	}
	if (m->replaced)
		say_replaced(b, m->replaced, &m->use);
	return 0;
}

static int settle_root(const struct box *root, const struct mount_entry *e, void *ctx)
{
	(void)ctx;
	int r = gate_settle_idle(root);
	if (r < 0 && r != -EBUSY)
		log_warn("cannot settle the synced changes of the mount '%s': %s", e->dst,
			 strerror(-r));
	return 0;
}

int launch_mounts_resolve(struct launch_mounts *m, const struct box *b, const char *state,
			  const char *config, const struct rootfs_mount **ret_spec, size_t *ret_n)
{
	struct error err = { 0 };
	char msg[ERROR_FORMAT_MAX];
	struct mounts rec = { .n = 0 };
	bool from_opts = launch_mounts_given(m);
	int r = mounts_load(b->dir, &rec, &err);
	if (r < 0) {
		log_error("cannot read the box's mounts: %s", error_format(&err, msg, sizeof(msg)));
		return r;
	}
	if (!m && rec.n == 0) {
		*ret_spec = NULL;
		*ret_n = 0;
		return 0;
	}
	if (!m)
		m = &from_record;
	mounts_clear(&m->use);
	if (from_opts) {
		m->use = m->given;
		m->given = (struct mounts){ .n = 0 };
	} else {
		m->use = rec;
		rec = (struct mounts){ .n = 0 };
	}
	r = settle(m, b, state, config, &rec, from_opts);
	mounts_clear(&rec);
	for (size_t i = 0; i < m->use.n && r >= 0; i++) {
		const struct mount_entry *e = &m->use.v[i];
		m->spec[i] = (struct rootfs_mount){ .src = e->src, .dst = e->dst };
		if (e->kind == MOUNT_OVERLAY &&
		    (r = make_overlay_dirs(b, e, m->overlay[i], sizeof(m->overlay[i]))) < 0)
			log_error("cannot make the overlay dirs of the mount '%s': %s", e->dst,
				  strerror(-r));
		else if (e->kind == MOUNT_OVERLAY)
			m->spec[i].overlay = m->overlay[i];
	}
	if (r < 0)
		return r;
	/* What the gate applied while the box last ran leaves the uppers now. */
	(void)launch_mounts_foreach_root(b, settle_root, NULL);
	*ret_spec = m->spec;
	*ret_n = m->use.n;
	return 0;
}

int launch_mounts_check_denied(struct launch_mounts *m, const struct strv *masks, const char *state)
{
	struct strv builtin = { 0 };
	int r = 0;
	if (!m)
		m = &from_record;
	if (m->use.n == 0)
		return record(m);
	if ((r = masks_default(state, &builtin)) < 0)
		return r;
	for (size_t i = 0; i < masks->n && r == 0; i++) {
		bool own = false;
		for (size_t k = 0; k < builtin.n && !own; k++)
			own = STREQ(builtin.v[k], masks->v[i]);
		for (size_t j = 0; j < m->use.n && !own && r == 0; j++)
			if (path_is_beneath(m->use.v[j].src, masks->v[i])) {
				log_error("refusing to mount '%s': '%s' is hidden from the box "
					  "(--deny-read)",
					  m->use.v[j].src, masks->v[i]);
				r = -EPERM;
			}
	}
	strv_free(&builtin);
	return r < 0 ? r : record(m);
}

size_t launch_mounts_roots(const struct launch_mounts *m, const char **roots, size_t max)
{
	size_t n = 0;
	if (!m)
		m = &from_record;
	for (size_t i = 0; i < m->use.n && n < max; i++)
		roots[n++] = m->use.v[i].src;
	return n;
}

void launch_mounts_status(const struct box *b)
{
	struct mounts rec = { .n = 0 };
	struct error err = { 0 };
	char msg[ERROR_FORMAT_MAX];
	if (mounts_load(b->dir, &rec, &err) < 0) {
		printf("mounts:   unreadable (%s)\n", error_format(&err, msg, sizeof(msg)));
		return;
	}
	for (size_t i = 0; i < rec.n; i++) {
		const struct mount_entry *e = &rec.v[i];
		struct changes_summary s = { 0 };
		printf("%s %s at %s, %s", i ? "         " : "mounts:  ", e->src, e->dst,
		       e->kind == MOUNT_OVERLAY ? "overlay" : "read-only");
		if (e->kind == MOUNT_OVERLAY && launch_mounts_pending(b, e, &s) == 0)
			printf(" (%llu pending changes, held in the box)",
			       (unsigned long long)changes_total(&s));
		printf("\n");
	}
	mounts_clear(&rec);
}

int launch_mounts_foreach_root(const struct box *b,
			       int (*fn)(const struct box *root, const struct mount_entry *e,
					 void *ctx),
			       void *ctx)
{
	struct mounts rec = { .n = 0 };
	int r = mounts_load(b->dir, &rec, NULL);
	for (size_t i = 0; i < rec.n && r >= 0; i++) {
		const struct mount_entry *e = &rec.v[i];
		struct box root = *b;
		char upper[PATH_MAX];
		struct stat st;
		if (e->kind != MOUNT_OVERLAY ||
		    mounts_data_dir(b->data, e, root.data, sizeof(root.data)) < 0 ||
		    path_join(upper, sizeof(upper), root.data, "upper") < 0 ||
		    lstat(upper, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		snprintf(root.project, sizeof(root.project), "%s", e->src);
		r = fn(&root, e, ctx);
	}
	mounts_clear(&rec);
	return r;
}

json_t *launch_mounts_json(const struct box *b)
{
	struct mounts rec = { .n = 0 };
	json_t *a = json_array();
	if (mounts_load(b->dir, &rec, NULL) < 0)
		return a;
	for (size_t i = 0; a && i < rec.n; i++) {
		const struct mount_entry *e = &rec.v[i];
		struct changes_summary s = { 0 };
		json_t *o = json_pack("{s:s, s:s, s:s}", "src", e->src, "dst", e->dst, "kind",
				      mount_kind_name(e->kind));
		if (o && e->kind == MOUNT_OVERLAY && launch_mounts_pending(b, e, &s) == 0)
			json_object_set_new(o, "pending",
					    json_integer((json_int_t)changes_total(&s)));
		json_array_append_new(a, o);
	}
	mounts_clear(&rec);
	return a;
}
