/* The sync gate: opening a box's gate, building the plan of its pending
 * changes, the checks and the staging area. The apply is in apply.c. */
#include "util/common.h"

#include "sync/gate_int.h"
#include "scan/gitleaks.h"
#include "util/array.h"
#include "util/strv.h"
#include "util/pathglob.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/utf8.h"

#include <linux/openat2.h>
#include <stdarg.h>
#include <sys/file.h>
#include <sys/syscall.h>

#define STAGE_DIR  "stage"
#define CACHE_FILE "scancache.json"
#define CACHE_MAX  (64u << 20)

static const char *const verdict_names[] = {
	[GATE_OK] = "apply",        [GATE_NEEDS_APPROVAL] = "needs-approval",
	[GATE_BLOCKED] = "blocked", [GATE_CONFLICT] = "conflict",
	[GATE_WAITING] = "waiting", [GATE_UNSTABLE] = "changing",
	[GATE_SETTLED] = "settled", [GATE_GITDATA] = "git-data",
};
static const char *const action_names[] = {
	[GATE_ACT_NONE] = "none",   [GATE_ACT_WRITE] = "write",   [GATE_ACT_SYMLINK] = "symlink",
	[GATE_ACT_MKDIR] = "mkdir", [GATE_ACT_DELETE] = "delete", [GATE_ACT_REPLACE] = "replace",
	[GATE_ACT_CHMOD] = "chmod",
};
static const char *const type_names[] = {
	[GATE_FILE] = "file",       [GATE_DIR] = "dir",           [GATE_SYMLINK] = "symlink",
	[GATE_SPECIAL] = "special", [GATE_WHITEOUT] = "whiteout",
};
static const char *const sev_names[] = {
	[GATE_SEV_NOTE] = "note",
	[GATE_SEV_APPROVE] = "needs-approval",
	[GATE_SEV_BLOCK] = "block",
};
static const char *const choice_names[] = {
	[GATE_CHOICE_NONE] = "none",
	[GATE_CHOICE_APPLY] = "apply",
	[GATE_CHOICE_KEEP_HOST] = "keep-host",
	[GATE_CHOICE_BESIDE] = "beside",
};

const char *gate_verdict_name(enum gate_verdict v)
{
	return verdict_names[v];
}
const char *gate_action_name(enum gate_action a)
{
	return action_names[a];
}
const char *gate_type_name(enum gate_type t)
{
	return type_names[t];
}
const char *gate_severity_name(enum gate_severity s)
{
	return sev_names[s];
}
const char *gate_choice_name(enum gate_choice c)
{
	return choice_names[c];
}

int gate_fail(struct gate_error *err, int r, const char *fmt, ...)
{
	va_list ap;
	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->what, sizeof(err->what), fmt, ap);
		va_end(ap);
	}
	return r;
}

void gate_subject(struct gate_error *err, const char *subject)
{
	if (err)
		gate_path_display(subject, err->subject, sizeof(err->subject));
}

static int openat2_nosym(int dirfd, const char *path, int flags, mode_t mode, bool beneath)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
		.resolve =
		    (beneath ? RESOLVE_BENEATH : 0) | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd;
	do
		fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN);
	return fd < 0 ? gate_errno() : (int)fd;
}

int gate_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	return openat2_nosym(dirfd, path, flags, mode, true);
}

int gate_parent(int dirfd, const char *rel, int *ret_fd, const char **ret_base)
{
	const char *slash = strrchr(rel, '/');
	int fd;
	/* Written on failure too (-1 and rel), which keeps callers simple. */
	*ret_fd = -1;
	*ret_base = rel;
	if (!slash) {
		fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			return gate_errno();
		*ret_base = rel;
	} else {
		char dir[PATH_MAX];
		size_t n = (size_t)(slash - rel);
		if (n >= sizeof(dir))
			return -ENAMETOOLONG;
		memcpy(dir, rel, n);
		dir[n] = '\0';
		fd = gate_openat(dirfd, dir, O_RDONLY | O_DIRECTORY, 0);
		if (fd < 0)
			return fd;
		*ret_base = slash + 1;
	}
	*ret_fd = fd;
	return 0;
}

void gate_fp_from_stat(const struct stat *st, struct gate_fp *ret)
{
	*ret = (struct gate_fp){
		.ino = st->st_ino,
		.size = S_ISDIR(st->st_mode) ? 0 : (uint64_t)st->st_size,
		.mtime_ns = S_ISDIR(st->st_mode)
				? 0
				: (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec,
		/* A directory is itself by inode and mode: its times change
		 * with what it holds, which are entries of their own. */
		.ctime_ns = S_ISDIR(st->st_mode)
				? 0
				: (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec,
		.mode = st->st_mode,
	};
}

int gate_hash_fd(int fd, uint64_t max, char out[65])
{
	/* Streaming sha256 through nettle's API is in util/hash only as a
	 * one-shot; files here are bounded by max (the policy's size limit). */
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size > max)
		return -EFBIG;
	size_t cap = (size_t)st.st_size + 1;
	_cleanup_free_ char *data = malloc(cap);
	if (!data)
		return -ENOMEM;
	size_t len = 0;
	for (;;) {
		ssize_t k = pread(fd, data + len, cap - len, (off_t)len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		len += (size_t)k;
		if (len == cap)
			return -EFBIG; /* grew while read */
	}
	hash_sha256_hex(data, len, out);
	return 0;
}

void gate_stage_name(uint32_t i, char out[32])
{
	snprintf(out, 32, STAGE_DIR "/%u", (unsigned)i);
}

void gate_path_display(const char *path, char *out, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, left = strlen(path);
	const unsigned char *s = (const unsigned char *)path;
	if (n < 8) {
		if (n)
			out[0] = '\0';
		return;
	}
	while (*s) {
		unsigned char c = *s;
		uint32_t cp = 0;
		/* a valid UTF-8 sequence is copied as is, unless it is a C1 or
		 * bidi control (shown as \uXXXX) */
		size_t seq = c >= 0x80 ? utf8_decode(s, left, &cp) : 0;
		if (o + 8 >= n) {
			memcpy(out + (o + 4 <= n ? o : n - 4), "...", 4);
			return;
		}
		if (seq && utf8_is_control(cp)) {
			o += (size_t)snprintf(out + o, n - o, "\\u%04x", (unsigned)cp);
			s += seq;
			left -= seq;
		} else if (seq) {
			memcpy(out + o, s, seq);
			o += seq;
			s += seq;
			left -= seq;
		} else if (c < 0x20 || c == 0x7f || c >= 0x80 || c == '\\') {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
			s++;
			left--;
		} else {
			out[o++] = (char)c;
			s++;
			left--;
		}
	}
	out[o] = '\0';
}

/* ---- opening ---------------------------------------------------------- */

static int load_baseline(struct gate *g)
{
	char *text = NULL;
	size_t len = 0;
	int fd = openat(g->sync_fd, GATE_BASELINE_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int r = fs_read_file(path, JOURNAL_MAX_BYTES, &text, &len);
	close(fd);
	if (r < 0)
		return r;
	/* A damaged baseline only makes synced entries pending again. */
	if (baseline_parse(text, len, &g->base) < 0)
		memset(&g->base, 0, sizeof(g->base));
	free(text);
	return 0;
}

int gate_open(const struct box *b, unsigned flags, struct gate **ret, struct gate_error *err)
{
	struct syncpolicy_error pe;
	char path[PATH_MAX];
	int r;
	struct gate *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->box = *b;
	g->root_fd = g->upper_fd = g->sync_fd = g->lock_fd = -1;
	if (err)
		memset(err, 0, sizeof(*err));

	g->root_fd = openat2_nosym(AT_FDCWD, b->project, O_RDONLY | O_DIRECTORY, 0, false);
	if (g->root_fd < 0) {
		r = g->root_fd;
		gate_subject(err, b->project);
		gate_fail(err, r,
			  r == -ELOOP     ? "the project is (or is reached through) a symlink now"
			  : r == -ENOENT  ? "the project no longer exists"
			  : r == -ENOTDIR ? "the project is no longer a directory"
					  : "cannot open the project: %s",
			  strerror(-r));
		goto fail;
	}
	if ((r = path_join(path, sizeof(path), b->data, "upper")) < 0 ||
	    (g->upper_fd = r = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		r = r < 0 && errno ? -errno : r;
		gate_subject(err, path);
		gate_fail(err, r, "cannot open the overlay: %s", strerror(-r));
		goto fail;
	}
	if ((r = path_join(path, sizeof(path), b->data, GATE_DIR_NAME)) < 0 ||
	    (mkdir(path, 0700) < 0 && errno != EEXIST) ||
	    (g->sync_fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
	    (mkdirat(g->sync_fd, STAGE_DIR, 0700) < 0 && errno != EEXIST) ||
	    (g->lock_fd =
		 openat(g->sync_fd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
		r = r < 0 ? r : -errno;
		gate_subject(err, path);
		gate_fail(err, r, "cannot open the sync state: %s", strerror(-r));
		goto fail;
	}
	while ((r = flock(g->lock_fd, LOCK_EX | (flags & GATE_OPEN_WAIT ? 0 : LOCK_NB))) < 0 &&
	       errno == EINTR)
		;
	if (r < 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		gate_subject(err, b->name);
		gate_fail(err, r, "another sync of the box is running");
		goto fail;
	}
	if ((r = syncpolicy_load(b->dir, &g->pol, &pe)) < 0) {
		snprintf(path, sizeof(path), "%s/config.toml", b->dir);
		gate_subject(err, path);
		if (err)
			err->line = pe.line;
		gate_fail(err, r, "%s", r == -EINVAL ? pe.msg : strerror(-r));
		goto fail;
	}
	if ((r = audit_open(b->dir, b->name, &g->audit)) < 0) {
		gate_subject(err, b->name);
		gate_fail(err, r, "cannot open the audit log: %s", strerror(-r));
		goto fail;
	}
	if ((r = load_baseline(g)) < 0) {
		gate_subject(err, GATE_BASELINE_NAME);
		gate_fail(err, r, "cannot read the sync baseline: %s", strerror(-r));
		goto fail;
	}
	g->interrupted = faccessat(g->sync_fd, GATE_JOURNAL_NAME, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
	*ret = g;
	return 0;
fail:
	gate_close(g);
	return r;
}

struct gate *gate_close(struct gate *g)
{
	if (!g)
		return NULL;
	if (g->root_fd >= 0)
		close(g->root_fd);
	if (g->upper_fd >= 0)
		close(g->upper_fd);
	if (g->sync_fd >= 0)
		close(g->sync_fd);
	if (g->lock_fd >= 0)
		close(g->lock_fd);
	syncpolicy_free(&g->pol);
	audit_close(g->audit);
	scan_rules_free(g->rules);
	for (size_t i = 0; i < g->nsecrets; i++) {
		explicit_bzero(g->secrets[i].value, g->secrets[i].len);
		free(g->secrets[i].value);
	}
	free(g->secrets);
	json_decref(g->cache_old);
	json_decref(g->cache_new);
	baseline_free(&g->base);
	strv_free_n(g->gitdirs, g->ngitdirs);
	free(g);
	return NULL;
}

const struct sync_policy *gate_policy(const struct gate *g)
{
	return &g->pol;
}

bool gate_interrupted(const struct gate *g)
{
	return g->interrupted;
}

int gate_add_known_secret(struct gate *g, const char *name, const void *value, size_t len)
{
	if (g->rules || strlen(name) >= sizeof(g->secrets[0].name) || len < 4)
		return -EINVAL;
	if (array_grow_counted((void **)&g->secrets, g->nsecrets, sizeof(*g->secrets)) < 0)
		return -ENOMEM;
	struct known_secret *s = &g->secrets[g->nsecrets];
	if (!(s->value = malloc(len)))
		return -ENOMEM;
	memcpy(s->value, value, len);
	s->len = len;
	snprintf(s->name, sizeof(s->name), "%s", name);
	g->nsecrets++;
	return 0;
}

/* ---- scanner and its cache --------------------------------------------- */

/* The key of the rules: their text and the known secrets (hashed). */
static int compute_rules_key(struct gate *g, struct gate_error *err)
{
	struct buf b = BUF_INIT((17u << 20));
	char *text = NULL;
	size_t len = 0;
	int r = 0;
	if (g->pol.gitleaks_config) {
		r = fs_read_file(g->pol.gitleaks_config, 16u << 20, &text, &len);
		if (r < 0) {
			gate_subject(err, g->pol.gitleaks_config);
			return gate_fail(err, r, "cannot read the gitleaks configuration: %s",
					 strerror(-r));
		}
		r = buf_printf(&b, "file:%s\n", g->pol.gitleaks_config);
		if (r == 0)
			r = buf_append(&b, text, len);
		free(text);
	} else {
		r = buf_puts(&b, "default\n");
		if (r == 0)
			r = buf_puts(&b, scan_default_rules_toml);
	}
	for (size_t i = 0; r == 0 && i < g->nsecrets; i++) {
		char h[65];
		hash_sha256_hex(g->secrets[i].value, g->secrets[i].len, h);
		r = buf_printf(&b, "\nsecret:%s:%s", g->secrets[i].name, h);
	}
	if (r == 0)
		hash_sha256_hex(b.data, b.len, g->rules_key);
	buf_free(&b);
	return r;
}

static int ensure_rules(struct gate *g, struct gate_error *err)
{
	struct gitleaks_error ge = { 0 };
	char msg[256] = "";
	if (g->rules)
		return 0;
	struct scan_rules *rs;
	int r = scan_rules_new(&rs);
	if (r < 0)
		return r;
	r = g->pol.gitleaks_config ? gitleaks_load_file(rs, g->pol.gitleaks_config, &ge)
				   : gitleaks_load_default(rs, &ge);
	if (r < 0) {
		scan_rules_free(rs);
		gate_subject(err, ge.file[0] ? ge.file : "gitleaks");
		if (err)
			err->line = ge.line;
		return gate_fail(err, r, "%s", ge.msg[0] ? ge.msg : strerror(-r));
	}
	for (size_t i = 0; r == 0 && i < g->nsecrets; i++)
		r = scan_rules_add_known_secret(rs, g->secrets[i].name, g->secrets[i].value,
						g->secrets[i].len);
	if (r == 0)
		r = scan_rules_compile(rs, msg, sizeof(msg));
	if (r < 0) {
		scan_rules_free(rs);
		gate_subject(err, "scanner");
		return gate_fail(err, r, "cannot compile the secret rules: %s",
				 msg[0] ? msg : strerror(-r));
	}
	g->rules = rs;
	return 0;
}

static void load_cache(struct gate *g)
{
	char path[64];
	int fd = openat(g->sync_fd, CACHE_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	g->cache_new = json_object();
	if (fd < 0)
		return;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	char *text = NULL;
	size_t len = 0;
	if (fs_read_file(path, CACHE_MAX, &text, &len) == 0) {
		json_t *j = json_loadb(text, len, 0, NULL);
		const char *key = json_string_value(json_object_get(j, "rules"));
		if (key && STREQ(key, g->rules_key) && json_is_object(json_object_get(j, "scans")))
			g->cache_old = json_incref(json_object_get(j, "scans"));
		json_decref(j);
	}
	free(text);
	close(fd);
}

static void save_cache(struct gate *g)
{
	if (!g->cache_dirty && g->cache_old &&
	    json_object_size(g->cache_old) == json_object_size(g->cache_new))
		return;
	json_t *j = json_pack("{s:s, s:O}", "rules", g->rules_key, "scans", g->cache_new);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	/* A cache that cannot be written only costs time next run. */
	if (text)
		(void)fs_write_atomic_at(g->sync_fd, CACHE_FILE, text, strlen(text), 0600);
	free(text);
	json_decref(j);
}

/* ---- entries and findings ---------------------------------------------- */

/* The name the checks below use. */
#define add_finding gate_add_finding

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

static bool has_sev(const struct gate_entry *e, enum gate_severity sev)
{
	for (size_t i = 0; i < e->nfindings; i++)
		if (e->findings[i].sev == sev)
			return true;
	return false;
}

static int check_path(struct gate *g, struct gate_entry *e)
{
	const struct sync_policy *p = &g->pol;
	const char *m;
	int r = 0;
	for (const unsigned char *s = (const unsigned char *)e->path; *s && r == 0; s++)
		if (*s < 0x20 || *s == 0x7f)
			r = add_finding(e, GATE_SEV_BLOCK, "name-control", 0,
					"the file name holds a control character (0x%02x)", *s);
	if (r == 0 && !utf8_valid(e->path))
		r = add_finding(e, GATE_SEV_BLOCK, "name-encoding", 0,
				"the file name is not valid UTF-8");
	if (r == 0 && (m = syncpolicy_denied(p, e->path)))
		r = add_finding(e, GATE_SEV_BLOCK, "path-deny", 0, "denied by the pattern '%s'", m);
	if (r == 0 && !syncpolicy_allowed(p, e->path))
		r = add_finding(e, GATE_SEV_BLOCK, "path-not-allowed", 0,
				"not matched by any allow pattern");
	const char *why = NULL;
	if (r == 0 && (m = syncpolicy_needs_approval(p, e->path, &why)))
		r = add_finding(e, GATE_SEV_APPROVE, "path-approval", 0,
				"'%s': %s; needs explicit approval", m, why);
	if (r == 0 && e->type != GATE_DIR && e->type != GATE_WHITEOUT &&
	    (m = syncpolicy_blocked_ext(p, e->path)))
		r = add_finding(e, GATE_SEV_BLOCK, "credential-file", 0,
				"credential file type '%s' is never synced", m);
	if (r == 0 && e->type == GATE_SPECIAL)
		r = add_finding(e, GATE_SEV_BLOCK, "special-file", 0,
				"devices, fifos and sockets are never synced");
	if (r == 0 && (e->upper.mode & (S_ISUID | S_ISGID)) && e->type != GATE_WHITEOUT)
		r = add_finding(e, GATE_SEV_NOTE, "setuid", 0,
				"setuid/setgid bits are not synced (mode %04o applied)",
				(unsigned)e->mode);
	if (r == 0 && (e->upper.mode & S_IWOTH) && e->type != GATE_WHITEOUT &&
	    e->type != GATE_SYMLINK)
		r = add_finding(e, GATE_SEV_NOTE, "world-writable", 0,
				"the world-writable bit is not synced (mode %04o applied)",
				(unsigned)e->mode);
	return r;
}

static bool is_executable_format(const unsigned char *d, size_t n)
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

struct scan_collect {
	struct gate_entry *e;
	json_t *arr;
	int err;
};

static int on_finding(const struct scan_finding *f, void *p)
{
	struct scan_collect *c = p;
	char reason[200];
	if (f->known_secret)
		snprintf(reason, sizeof(reason), "holds the box's secret %s", f->known_name);
	else
		snprintf(reason, sizeof(reason), "%s", f->description ? f->description : "secret");
	json_t *t = json_pack("[s, i, s]", f->rule_id, (int)f->start_line, reason);
	if (!t || json_array_append_new(c->arr, t) < 0) {
		c->err = -ENOMEM;
		return -ENOMEM;
	}
	return 0;
}

/* Secret findings of data as path: from the cache when the same bytes at
 * the same path were scanned with the same rules, else scanned now. */
static int check_secrets(struct gate *g, struct gate_entry *e, const void *data, size_t len,
			 struct gate_error *err)
{
	char key[65];
	struct buf kb = BUF_INIT(PATH_MAX + 128);
	int r = buf_printf(&kb, "%s", e->path);
	if (r == 0)
		r = buf_append(&kb, "", 1);
	if (r == 0)
		r = buf_puts(&kb, e->new_hash);
	if (r < 0) {
		buf_free(&kb);
		return r;
	}
	hash_sha256_hex(kb.data, kb.len, key);
	buf_free(&kb);
	json_t *hit = g->cache_old ? json_object_get(g->cache_old, key) : NULL;
	if (hit)
		json_incref(hit);
	else {
		if ((r = ensure_rules(g, err)) < 0)
			return r;
		struct scan_collect c = { e, json_array(), 0 };
		if (!c.arr)
			return -ENOMEM;
		r = scan_buffer(g->rules, e->path, data, len, on_finding, &c);
		if (r < 0) {
			json_decref(c.arr);
			gate_subject(err, e->path);
			return gate_fail(err, c.err ? c.err : r, "cannot scan: %s",
					 strerror(-(c.err ? c.err : r)));
		}
		hit = c.arr;
		g->cache_dirty = true;
	}
	size_t i;
	json_t *t;
	json_array_foreach(hit, i, t)
	{
		const char *rule = json_string_value(json_array_get(t, 0));
		const char *why = json_string_value(json_array_get(t, 1 + 1));
		json_int_t line = json_integer_value(json_array_get(t, 1));
		if (rule && why && r >= 0)
			r = add_finding(e, GATE_SEV_BLOCK, rule, (unsigned)line, "secret: %s", why);
	}
	if (json_object_set_new(g->cache_new, key, hit) < 0)
		r = -ENOMEM;
	return r < 0 ? r : 0;
}

/* Findings of a name: [rule, line, reason, start, end] (the match's
 * bytes in the scanned name). */
static int on_name_finding(const struct scan_finding *f, void *p)
{
	struct scan_collect *c = p;
	int r = on_finding(f, p);
	json_t *t = r < 0 ? NULL : json_array_get(c->arr, json_array_size(c->arr) - 1);
	if (t && (json_array_append_new(t, json_integer((json_int_t)f->start)) < 0 ||
		  json_array_append_new(t, json_integer((json_int_t)f->end)) < 0)) {
		c->err = -ENOMEM;
		return -ENOMEM;
	}
	return r;
}

/* e->shown: e's path with every span a finding of hit covers as
 * "[REDACTED:RULE]" (a cached finding without a span: the whole path). */
static int redact_name(struct gate_entry *e, json_t *hit)
{
	size_t n = strlen(e->path), i;
	_cleanup_free_ const char **cover = calloc(n + 1, sizeof(*cover));
	json_t *t;
	if (!cover)
		return -ENOMEM;
	json_array_foreach(hit, i, t)
	{
		const char *rule = json_string_value(json_array_get(t, 0));
		json_int_t a =
		    json_array_size(t) >= 5 ? json_integer_value(json_array_get(t, 3)) : 0;
		json_int_t b = json_array_size(t) >= 5 ? json_integer_value(json_array_get(t, 4))
						       : (json_int_t)n;
		for (json_int_t k = a < 0 ? 0 : a; rule && k < b && k < (json_int_t)n; k++)
			cover[k] = rule;
	}
	struct buf out = BUF_INIT(4 * PATH_MAX);
	int r = 0;
	for (size_t k = 0; k < n && r == 0;) {
		if (!cover[k]) {
			r = buf_append(&out, e->path + k, 1);
			k++;
			continue;
		}
		const char *rule = cover[k];
		if (strncmp(rule, "known-secret:", 13) == 0)
			rule += 13; /* as the redactor writes a known value */
		r = buf_printf(&out, "[REDACTED:%s]", rule);
		while (k < n && cover[k])
			k++;
	}
	if (r == 0)
		r = buf_append(&out, "", 1);
	if (r < 0) {
		buf_free(&out);
		return r;
	}
	free(e->shown);
	e->shown = buf_steal(&out);
	return 0;
}

/* A file name holding a secret (a box's known value in any form the
 * scanner matches, or anything a rule finds in a bare name) is blocked:
 * applying it would put the secret in the host's tree (and in every
 * listing); so is a link target holding one. The whole path is scanned,
 * then "\n" and the target. Cached like contents (key: "name", path,
 * target). A deletion names what the host has already: not scanned. */
static int check_name(struct gate *g, struct gate_entry *e, struct gate_error *err)
{
	char key[65];
	if (e->type == GATE_WHITEOUT)
		return 0;
	struct buf nb = BUF_INIT(2 * PATH_MAX + 16);
	int r = buf_puts(&nb, e->path);
	if (r == 0 && e->target)
		r = buf_printf(&nb, "\n%s", e->target);
	if (r < 0) {
		buf_free(&nb);
		return r;
	}
	struct buf kb = BUF_INIT(2 * PATH_MAX + 16);
	if ((r = buf_append(&kb, "name", 5)) == 0)
		r = buf_append(&kb, nb.data, nb.len);
	if (r == 0)
		hash_sha256_hex(kb.data, kb.len, key);
	buf_free(&kb);
	json_t *hit = r == 0 && g->cache_old ? json_object_get(g->cache_old, key) : NULL;
	if (hit)
		json_incref(hit);
	else if (r == 0 && (r = ensure_rules(g, err)) == 0) {
		struct scan_collect c = { e, json_array(), 0 };
		if (!c.arr)
			r = -ENOMEM;
		else if ((r = scan_buffer(g->rules, e->path, nb.data, nb.len, on_name_finding,
					  &c)) < 0) {
			json_decref(c.arr);
			gate_subject(err, e->path);
			r = gate_fail(err, c.err ? c.err : r, "cannot scan the name: %s",
				      strerror(-(c.err ? c.err : r)));
		} else {
			hit = c.arr;
			g->cache_dirty = true;
		}
	}
	buf_free(&nb);
	if (!hit)
		return r;
	size_t i;
	json_t *t;
	json_array_foreach(hit, i, t)
	{
		const char *rule = json_string_value(json_array_get(t, 0));
		const char *why = json_string_value(json_array_get(t, 2));
		if (rule && why && r >= 0)
			r = add_finding(
			    e, GATE_SEV_BLOCK, rule, 0, "the file name%s %s%s",
			    e->target ? " or link target" : "",
			    strncmp(why, "holds ", 6) == 0 ? "" : "holds a secret: ", why);
	}
	if (r >= 0 && json_array_size(hit))
		r = redact_name(e, hit);
	if (json_object_set_new(g->cache_new, key, hit) < 0)
		r = -ENOMEM;
	return r < 0 ? r : 0;
}

int gate_scan_data(struct gate *g, const char *path, const void *data, size_t len,
		   int (*fn)(const struct scan_finding *f, void *ctx), void *ctx,
		   struct gate_error *err)
{
	int r = ensure_rules(g, err);
	return r < 0 ? r : scan_buffer(g->rules, path, data, len, fn, ctx);
}

/* Read the upper file of e into memory (at most the size limit), check it
 * is still the file the walk saw. */
static int read_upper(struct gate *g, struct gate_entry *e, char **ret, size_t *ret_len)
{
	int dfd = -1;
	const char *base = NULL;
	int r = gate_parent(g->upper_fd, e->path, &dfd, &base);
	if (r < 0)
		return r;
	int fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	r = fd < 0 ? -errno : 0;
	close(dfd);
	if (r < 0)
		return r;
	struct stat st;
	size_t cap = (size_t)e->size + 1, len = 0;
	char *data = NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_ino != e->upper.ino ||
	    !(data = malloc(cap))) {
		r = data || !S_ISREG(st.st_mode) || st.st_ino != e->upper.ino ? -ESTALE : -ENOMEM;
		close(fd);
		return r;
	}
	for (;;) {
		ssize_t k = read(fd, data + len, cap - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = -errno;
			break;
		}
		if (k == 0)
			break;
		len += (size_t)k;
		if (len == cap) {
			r = -ESTALE; /* grew */
			break;
		}
	}
	struct gate_fp after;
	if (r == 0 && fstat(fd, &st) == 0) {
		gate_fp_from_stat(&st, &after);
		if (!gate_fp_equal(&after, &e->upper) || len != e->size)
			r = -ESTALE;
	}
	close(fd);
	if (r < 0) {
		free(data);
		return r;
	}
	*ret = data;
	*ret_len = len;
	return 0;
}

static int write_stage(struct gate *g, uint32_t idx, const void *data, size_t len)
{
	char name[32];
	gate_stage_name(idx, name);
	(void)unlinkat(g->sync_fd, name, 0);
	int fd =
	    openat(g->sync_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int r = fs_write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r < 0)
		(void)unlinkat(g->sync_fd, name, 0);
	return r;
}

/* Host side of e: its type, identity and (for a regular file of the same
 * size as the box's) its hash. A host path through a symlink blocks. */
static int probe_host(struct gate *g, struct gate_entry *e)
{
	int dfd = -1;
	const char *base = NULL;
	struct stat st;
	int r = gate_parent(g->root_fd, e->path, &dfd, &base);
	if (r == -ENOENT || r == -ENOTDIR)
		return 0;
	if (r == -ELOOP || r == -EXDEV)
		return add_finding(e, GATE_SEV_BLOCK, "host-symlink", 0,
				   "the path on the host passes through a symlink");
	if (r < 0)
		return r;
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		r = errno == ENOENT ? 0 : -errno;
		close(dfd);
		return r;
	}
	e->host_type = (int)(st.st_mode & S_IFMT);
	gate_fp_from_stat(&st, &e->host);
	e->host_ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
	if (S_ISREG(st.st_mode) && e->type == GATE_FILE && (uint64_t)st.st_size == e->size) {
		int fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0) {
			if (gate_hash_fd(fd, g->pol.max_size, e->host_hash) < 0)
				e->host_hash[0] = '\0';
			close(fd);
		}
	} else if (S_ISLNK(st.st_mode) && e->type == GATE_SYMLINK) {
		char t[PATH_MAX];
		ssize_t n = readlinkat(dfd, base, t, sizeof(t) - 1);
		if (n >= 0) {
			t[n] = '\0';
			hash_sha256_hex(t, (size_t)n, e->host_hash);
		}
	}
	close(dfd);
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
static bool host_changed(struct gate *g, struct gate_entry *e, const struct baseline_rec *rec)
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

struct collect {
	struct gate_plan *p;
	const struct gate_plan_opts *o;
	int err;
};

static bool only_covers(const struct gate_plan_opts *o, const char *path, bool is_dir)
{
	if (!o->nonly)
		return true;
	size_t pn = strlen(path);
	for (size_t i = 0; i < o->nonly; i++) {
		const char *w = o->only[i];
		size_t wn = strlen(w);
		if (wn == 0)
			return true;
		if (pn >= wn && memcmp(path, w, wn) == 0 && (pn == wn || path[wn] == '/'))
			return true; /* the path or beneath it */
		if (is_dir && wn > pn && memcmp(path, w, pn) == 0 && w[pn] == '/')
			return true; /* a dir the wanted path needs */
	}
	return false;
}

/* The entries of all that --only keeps, copied into ret (all itself when
 * there is no --only). */
static int only_filter(const struct gate_plan *all, const struct gate_plan_opts *o,
		       struct gate_plan *ret)
{
	if (!o->nonly) {
		*ret = *all;
		return 0;
	}
	struct gate_plan q = { .running = all->running };
	for (size_t i = 0; i < all->n; i++) {
		const struct gate_entry *e = &all->v[i];
		if (!only_covers(o, e->path, e->type == GATE_DIR))
			continue;
		if (array_grow((void **)&q.v, &q.cap, q.n, sizeof(*q.v)) < 0) {
			gate_plan_free(&q);
			return -ENOMEM;
		}
		q.v[q.n] = *e;
		if (!(q.v[q.n].path = strdup(e->path))) {
			gate_plan_free(&q);
			return -ENOMEM;
		}
		q.v[q.n].target = NULL;
		q.v[q.n].findings = NULL;
		q.v[q.n].gitdir = NULL;
		q.n++;
	}
	*ret = q;
	return 0;
}

static int collect_change(const struct change *c, void *ctx)
{
	struct collect *cl = ctx;
	struct gate_plan *p = cl->p;
	if (array_grow((void **)&p->v, &p->cap, p->n, sizeof(*p->v)) < 0)
		return -ENOMEM;
	struct gate_entry *e = &p->v[p->n];
	memset(e, 0, sizeof(*e));
	if (!(e->path = strdup(c->path)))
		return -ENOMEM;
	p->n++;
	e->kind = c->kind;
	e->parent = -1;
	const struct stat *st = c->st;
	gate_fp_from_stat(st, &e->upper);
	e->size = S_ISREG(st->st_mode) ? (uint64_t)st->st_size : 0;
	e->truncated = c->truncated;
	/* Never carried home: setuid, setgid, world-writable. */
	e->mode = st->st_mode & 0777 & ~(mode_t)(S_ISUID | S_ISGID | S_IWOTH);
	if (c->kind == CHANGE_DELETED)
		e->type = GATE_WHITEOUT;
	else if (S_ISREG(st->st_mode))
		e->type = GATE_FILE;
	else if (S_ISDIR(st->st_mode))
		e->type = GATE_DIR;
	else if (S_ISLNK(st->st_mode))
		e->type = GATE_SYMLINK;
	else
		e->type = GATE_SPECIAL;
	if (S_ISDIR(st->st_mode))
		e->mode = st->st_mode & 01777 & ~(mode_t)S_IWOTH;
	return 0;
}

/* Paths in an order where a directory comes right before what it holds:
 * '/' sorts before every other byte. */
static int path_cmp(const void *a, const void *b)
{
	const unsigned char *x = (const unsigned char *)((const struct gate_entry *)a)->path;
	const unsigned char *y = (const unsigned char *)((const struct gate_entry *)b)->path;
	for (; *x && *x == *y; x++, y++)
		;
	unsigned cx = *x == '/' ? 1 : *x ? *x + 1u : 0;
	unsigned cy = *y == '/' ? 1 : *y ? *y + 1u : 0;
	return (int)cx - (int)cy;
}

/* A link is judged by where it resolves: in the tree as it will be after
 * the apply and in the host's tree as it is now (the other pending changes
 * may stay pending); its target's bytes as a name. */
static int check_link(struct gate *g, struct gate_entry *e, const char *t, size_t n)
{
	int r = 0;
	for (size_t k = 0; k < n && r == 0; k++)
		if ((unsigned char)t[k] < 0x20 || t[k] == 0x7f)
			r = add_finding(e, GATE_SEV_BLOCK, "name-control", 0,
					"the link's target holds a control character (0x%02x)",
					(unsigned char)t[k]);
	if (r == 0 && !utf8_valid(t))
		r = add_finding(e, GATE_SEV_BLOCK, "name-encoding", 0,
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
			r = add_finding(e, GATE_SEV_APPROVE, "symlink-up", 0,
					"a link to a directory above it: links on the host that "
					"pass through it could resolve outside the project");
		if (k == GATE_LINK_INSIDE)
			continue;
		r = add_finding(e, GATE_SEV_BLOCK, "symlink-escape", 0, "%s",
				k < 0 ? "the link's target cannot be resolved on the host"
				: k == GATE_LINK_LOOPS
				    ? "the link's target does not resolve within 40 links (a loop)"
				: v == 0
				    ? "the link resolves outside the project after the apply"
				    : "the link resolves outside the project on the host as it is "
				      "now");
		break;
	}
	return r;
}

static int set_gitdata(struct gate_entry *e, const char *root)
{
	e->verdict = GATE_GITDATA;
	free(e->gitdir);
	if (!(e->gitdir = strdup(root)))
		return -ENOMEM;
	return add_finding(
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
		r = add_finding(e, GATE_SEV_BLOCK, "path-deny", 0,
				"removes '%s', denied by the pattern '%s'", rel, m);
	}
	if (r == 0 && !t->allow && !syncpolicy_allowed(p, full)) {
		t->allow = true;
		r = add_finding(e, GATE_SEV_BLOCK, "path-not-allowed", 0,
				"removes '%s', not matched by any allow pattern", rel);
	}
	if (r == 0 && !t->approve && (m = syncpolicy_needs_approval(p, full, &why))) {
		t->approve = true;
		r = add_finding(e, GATE_SEV_APPROVE, "path-approval", 0,
				"removes '%s' ('%s': %s); needs explicit approval", rel, m, why);
	}
	/* New or changed on the host since the box saw it: as host_changed()
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
		r = add_finding(e, GATE_SEV_NOTE, "conflict", 0,
				"removes '%s', new or changed on the host after the box saw it",
				rel);
	}
	return r;
}

static int64_t upper_btime(struct gate *g, const struct gate_entry *e);

/* e removes a host directory (delete, replace, a file or link in its
 * place): every host entry beneath it is checked as a path of its own, and
 * the tree's hash is kept for the apply to see it unchanged. Too big or
 * unreadable: held with a finding. Sets *ret_changed for a conflict. */
static int check_subtree(struct gate *g, struct gate_entry *e, bool *ret_changed)
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
		return set_gitdata(e, t.git_root);
	if (r == -E2BIG)
		return add_finding(e, GATE_SEV_BLOCK, "tree-too-large", 0,
				   "removes more than %u host entries (or deeper than 256): held, "
				   "remove it on the host",
				   GATE_TREE_MAX);
	if (r < 0)
		return add_finding(e, GATE_SEV_BLOCK, "host-tree", 0,
				   "cannot read the host tree it removes: %s", strerror(-r));
	*ret_changed = t.changed;
	return 0;
}

static int classify(struct gate *g, struct gate_entry *e, const struct gate_plan_opts *o,
		    uint32_t idx, bool under_replace, struct gate_error *err)
{
	const struct baseline_rec *rec = baseline_get(&g->base, e->path);
	int r;
	if (rec && gate_fp_equal(&rec->upper, &e->upper)) {
		e->verdict = GATE_SETTLED; /* applied while the box ran, unchanged since */
		return 0;
	}
	char root[PATH_MAX];
	if (gate_git_root(g, e->path, root, sizeof(root)))
		return set_gitdata(e, root);
	if (e->truncated || strlen(e->path) >= PATH_MAX) {
		e->verdict = GATE_BLOCKED;
		return add_finding(
		    e, GATE_SEV_BLOCK, "path-too-long", 0, "%s",
		    strlen(e->path) >= PATH_MAX
			? "the path is longer than PATH_MAX (4096 bytes): never synced"
			: "nested more than 512 directories deep: what it holds is "
			  "never synced");
	}
	/* Beneath a directory being replaced, the host has nothing yet. */
	if (!under_replace && (r = probe_host(g, e)) < 0)
		return r;
	switch (e->type) {
	case GATE_WHITEOUT: e->action = GATE_ACT_DELETE; break;
	case GATE_FILE: e->action = GATE_ACT_WRITE; break;
	case GATE_SYMLINK: e->action = GATE_ACT_SYMLINK; break;
	case GATE_SPECIAL: e->action = GATE_ACT_NONE; break;
	case GATE_DIR:
		e->action = e->kind == CHANGE_META       ? GATE_ACT_CHMOD
			    : e->kind == CHANGE_REPLACED ? GATE_ACT_REPLACE
							 : GATE_ACT_MKDIR;
		break;
	}
	if (e->action == GATE_ACT_REPLACE && !e->host_type)
		e->action = GATE_ACT_MKDIR;
	if ((r = check_path(g, e)) < 0)
		return r;
	bool subtree_changed = false;
	if (e->host_type == S_IFDIR &&
	    (e->action == GATE_ACT_DELETE || e->action == GATE_ACT_REPLACE ||
	     e->action == GATE_ACT_WRITE || e->action == GATE_ACT_SYMLINK) &&
	    (r = check_subtree(g, e, &subtree_changed)) < 0)
		return r;
	if (e->verdict == GATE_GITDATA)
		return 0;

	/* Content: read, check, stage. */
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	if (e->type == GATE_FILE && e->size > g->pol.max_size) {
		char lim[32];
		snprintf(lim, sizeof(lim), "%llu", (unsigned long long)g->pol.max_size);
		r = add_finding(e, GATE_SEV_BLOCK, "size-limit", 0,
				"%llu bytes, over the limit of %s bytes",
				(unsigned long long)e->size, lim);
	} else if (e->type == GATE_FILE) {
		r = read_upper(g, e, &data, &len);
		if (r == -ESTALE || r == -ENOENT || r == -ELOOP || r == -ENOTDIR) {
			e->verdict = GATE_UNSTABLE;
			return 0;
		}
		if (r < 0) {
			gate_subject(err, e->path);
			return gate_fail(err, r, "cannot read the box's file: %s", strerror(-r));
		}
		hash_sha256_hex(data, len, e->new_hash);
		e->binary = memchr(data, '\0', len < 8000 ? len : 8000) != NULL;
		if (is_executable_format((const unsigned char *)data, len))
			r = add_finding(e, GATE_SEV_APPROVE, "executable", 0,
					"an executable or shared object (ELF, PE or Mach-O): "
					"needs explicit approval");
		if (r == 0)
			r = check_secrets(g, e, data, len, err);
	} else if (e->type == GATE_SYMLINK) {
		char t[PATH_MAX];
		int dfd = -1;
		const char *base = NULL;
		ssize_t n = -1;
		if (gate_parent(g->upper_fd, e->path, &dfd, &base) == 0) {
			n = readlinkat(dfd, base, t, sizeof(t) - 1);
			close(dfd);
		}
		if (n < 0) {
			e->verdict = GATE_UNSTABLE;
			return 0;
		}
		t[n] = '\0';
		if (!(e->target = strdup(t)))
			return -ENOMEM;
		hash_sha256_hex(t, (size_t)n, e->new_hash);
		r = check_link(g, e, t, (size_t)n);
	}
	if (r == 0)
		r = check_name(g, e, err); /* and the link's target */
	if (r < 0)
		return r;

	/* Nothing to do: the host already has it. */
	bool same = false;
	if (e->type == GATE_FILE && e->host_type == S_IFREG && e->host_hash[0])
		same = STREQ(e->host_hash, e->new_hash) && (e->host.mode & 0777) == e->mode;
	else if (e->type == GATE_SYMLINK && e->host_type == S_IFLNK && e->host_hash[0])
		same = STREQ(e->host_hash, e->new_hash);
	else if (e->action == GATE_ACT_MKDIR && e->host_type == S_IFDIR)
		same = true;
	else if (e->action == GATE_ACT_CHMOD && e->host_type == S_IFDIR)
		same = (e->host.mode & 01777) == e->mode;
	else if (e->action == GATE_ACT_DELETE && !e->host_type)
		same = true;
	if (same && !has_sev(e, GATE_SEV_BLOCK)) {
		e->verdict = GATE_SETTLED;
		return 0;
	}
	bool changed = host_changed(g, e, rec);
	if (changed)
		r = add_finding(e, GATE_SEV_NOTE, "conflict", 0,
				!e->host_type ? "deleted on the host after the box saw it"
					      : "changed on the host after the box saw it");
	if (r < 0)
		return r;
	changed |= subtree_changed; /* with its own finding */
	if (has_sev(e, GATE_SEV_BLOCK))
		e->verdict = GATE_BLOCKED;
	else if (changed)
		e->verdict = GATE_CONFLICT;
	else if (has_sev(e, GATE_SEV_APPROVE))
		e->verdict = GATE_NEEDS_APPROVAL;
	else
		e->verdict = GATE_OK;
	if (o->stage && e->type == GATE_FILE && e->verdict != GATE_BLOCKED) {
		if ((r = write_stage(g, idx, data, len)) < 0) {
			gate_subject(err, "staging area");
			return gate_fail(err, r, "cannot stage '%s': %s", e->path, strerror(-r));
		}
		e->staged = true;
	}
	return 0;
}

static int clear_stage(struct gate *g)
{
	int fd = openat(g->sync_fd, STAGE_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	int r = fs_clear_dir(fd);
	close(fd);
	return r;
}

int gate_plan(struct gate *g, const struct gate_plan_opts *o, struct gate_plan *ret,
	      struct gate_error *err)
{
	struct gate_plan p = { 0 };
	struct collect cl = { &p, o, 0 };
	int r;
	if (err)
		memset(err, 0, sizeof(*err));
	if (g->interrupted) {
		gate_subject(err, g->box.name);
		return gate_fail(err, -EAGAIN, "an interrupted apply must be finished first");
	}
	if (o->stage && (r = clear_stage(g)) < 0) {
		gate_subject(err, "staging area");
		return gate_fail(err, r, "cannot clear the staging area: %s", strerror(-r));
	}
	p.running = box_in_use(&g->box, NULL);
	r = changes_walk(g->upper_fd, g->root_fd, collect_change, &cl);
	if (r < 0) {
		gate_plan_free(&p);
		gate_subject(err, "upper");
		return gate_fail(err, r, "cannot read the box's overlay: %s", strerror(-r));
	}
	if ((r = compute_rules_key(g, err)) < 0) {
		gate_plan_free(&p);
		return r;
	}
	load_cache(g);
	if (p.n)
		qsort(p.v, p.n, sizeof(p.v[0]), path_cmp);
	/* Every pending change makes the view after the apply, whatever
	 * --only keeps in the plan. */
	struct gate_plan all = p;
	g->allv = all.v;
	g->alln = all.n;
	if ((r = gate_find_gitdirs(g)) < 0 || (r = only_filter(&all, o, &p)) < 0) {
		g->allv = NULL;
		g->alln = 0;
		if (p.v != all.v)
			gate_plan_free(&p);
		gate_plan_free(&all);
		gate_subject(err, "upper");
		return gate_fail(err, r, "cannot read the project's git directories: %s",
				 strerror(-r));
	}
	/* Parents: a stack of the dirs above the current path. */
	ssize_t stack[512];
	size_t depth = 0;
	for (size_t i = 0; i < p.n && r == 0; i++) {
		struct gate_entry *e = &p.v[i];
		while (depth) {
			const char *d = p.v[stack[depth - 1]].path;
			size_t dn = strlen(d);
			if (strncmp(e->path, d, dn) == 0 && e->path[dn] == '/')
				break;
			depth--;
		}
		e->parent = depth ? stack[depth - 1] : -1;
		bool under_replace = false;
		for (size_t k = 0; k < depth; k++)
			under_replace |= p.v[stack[k]].action == GATE_ACT_REPLACE;
		r = classify(g, e, o, (uint32_t)i, under_replace, err);
		if (e->parent >= 0) {
			enum gate_verdict pv = p.v[e->parent].verdict;
			if ((pv == GATE_BLOCKED || pv == GATE_WAITING || pv == GATE_UNSTABLE ||
			     pv == GATE_GITDATA) &&
			    e->verdict != GATE_SETTLED && e->verdict != GATE_BLOCKED &&
			    e->verdict != GATE_GITDATA)
				e->verdict = GATE_WAITING;
		}
		if ((e->action == GATE_ACT_MKDIR || e->action == GATE_ACT_REPLACE) &&
		    depth < ELEMENTSOF(stack))
			stack[depth++] = (ssize_t)i;
	}
	g->allv = NULL;
	g->alln = 0;
	if (p.v != all.v)
		gate_plan_free(&all);
	if (r == 0)
		save_cache(g);
	if (r < 0) {
		gate_plan_free(&p);
		return r;
	}
	*ret = p;
	return 0;
}

void gate_plan_free(struct gate_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].path);
		free(p->v[i].target);
		free(p->v[i].shown);
		free(p->v[i].findings);
		free(p->v[i].gitdir);
	}
	free(p->v);
	memset(p, 0, sizeof(*p));
}

void gate_plan_choose_auto(struct gate_plan *p, const char *const *approve, size_t napprove)
{
	for (size_t i = 0; i < p->n; i++) {
		struct gate_entry *e = &p->v[i];
		e->choice = GATE_CHOICE_NONE;
		if (e->verdict == GATE_OK)
			e->choice = GATE_CHOICE_APPLY;
		for (size_t k = 0; e->verdict == GATE_NEEDS_APPROVAL && k < napprove; k++)
			if (pathglob_match(approve[k], e->path))
				e->choice = GATE_CHOICE_APPLY;
	}
}

bool gate_entry_applicable(const struct gate_plan *p, size_t i)
{
	const struct gate_entry *e = &p->v[i];
	switch (e->verdict) {
	case GATE_OK:
	case GATE_NEEDS_APPROVAL:
		if (e->choice != GATE_CHOICE_APPLY)
			return false;
		break;
	case GATE_CONFLICT:
		if (e->choice == GATE_CHOICE_NONE ||
		    (e->choice == GATE_CHOICE_BESIDE && e->type != GATE_FILE &&
		     e->type != GATE_SYMLINK))
			return false;
		break;
	default: return false;
	}
	if (e->parent >= 0 && p->v[e->parent].verdict != GATE_SETTLED) {
		const struct gate_entry *pe = &p->v[e->parent];
		if (pe->choice != GATE_CHOICE_APPLY || !gate_entry_applicable(p, (size_t)e->parent))
			return false;
	}
	return true;
}

int gate_entry_fds(struct gate *g, const struct gate_plan *p, size_t i, int *ret_host, int *ret_box)
{
	const struct gate_entry *e = &p->v[i];
	char name[32];
	if (!e->staged)
		return -ENOENT;
	gate_stage_name((uint32_t)i, name);
	int box = openat(g->sync_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (box < 0)
		return -errno;
	int host = -1;
	if (e->host_type == S_IFREG)
		host = gate_openat(g->root_fd, e->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
	*ret_box = box;
	*ret_host = host < 0 ? -1 : host;
	return 0;
}
