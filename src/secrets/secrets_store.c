/* The secrets files: a --secrets or .env file, the box's store and the
 * values it was ever given (secrets.known). See secrets.h. */
#include "util/common.h"

#include "secrets/secrets_int.h"
#include "util/fs.h"

#include <sys/file.h>

/* ---- files ---- */

/* Read the whole of fd (a regular file of st->st_size bytes, at most
 * SECRETS_FILE_MAX) into secret memory with a NUL slot at the end. */
static int read_secret_fd(int fd, size_t max, char **ret, size_t *ret_len)
{
	size_t cap, len = 0;
	struct stat st;
	int r;
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size > max)
		return -EFBIG;
	cap = (size_t)st.st_size + 1;
	_cleanup_secret_mem_ char *buf = secrets_mem_alloc(cap + 1);
	if (!buf)
		return -ENOMEM;
	if ((r = fs_read_fd(fd, buf, cap, &len)) < 0)
		return r; /* -EFBIG: grew while we read */
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

struct load_ctx {
	struct secrets *s;
	enum secret_source src;
	const char *path;
	struct error *err;
};

static int load_one(const char *name, const char *value, size_t len, unsigned line, void *p)
{
	struct load_ctx *c = p;
	int r = secrets_put(c->s, name, value, len, c->src, c->path, line);
	if (r == -ENOSPC)
		return error_set(c->err, r, c->path, line, "more than %d secrets", SECRETS_MAX);
	if (r < 0)
		return error_set(c->err, r, c->path, line, "cannot add '%s': %s", name,
				 strerror(-r));
	return r;
}

static bool beneath_any(const char *path, const char *const *dirs)
{
	for (; *dirs; dirs++)
		if (path_is_beneath(path, *dirs))
			return true;
	return false;
}

/* Open path for reading secrets, with the checks of secrets_load_file().
 * Returns the fd, 0 for "nothing to read" (optional), or -errno with err. */
static int open_checked(struct secrets *s, const char *path, unsigned flags, bool allow_symlink,
			struct error *err)
{
	static const char *const odd[] = { "/proc", "/sys", "/dev", NULL };
	bool strict = flags & SECRETS_STRICT, optional = flags & SECRETS_OPTIONAL;
	char real[PATH_MAX];
	const char *open_path = path;
	struct stat st;

	if (lstat(path, &st) < 0) {
		int r = -errno;
		if (r == -ENOENT && optional)
			return 0;
		return error_errno(err, r, "cannot read secrets file '%s'", path);
	}
	if (S_ISLNK(st.st_mode)) {
		if (!allow_symlink)
			return error_set(err, -ELOOP, NULL, 0,
					 "refusing secrets file '%s': it is a symlink", path);
		if (!realpath(path, real))
			return error_errno(err, -errno, "secrets file '%s' is a symlink to nowhere",
					   path);
		if (beneath_any(real, odd))
			return error_set(err, -EPERM, NULL, 0,
					 "refusing secrets file '%s': it is a symlink to '%s'",
					 path, real);
		open_path = real;
	}
	_cleanup_close_ int fd =
	    open(open_path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		int r = -errno;
		if ((r == -EACCES || r == -EPERM) && optional && !strict) {
			secrets_add_warning(s, "cannot read secrets file '%s': %s; skipped", path,
					    strerror(-r));
			return 0;
		}
		return error_errno(err, r, "cannot read secrets file '%s'", path);
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return error_set(err, -EINVAL, NULL, 0,
				 "refusing secrets file '%s': not a regular file", path);
	bool foreign = st.st_uid != getuid() && st.st_uid != geteuid() && st.st_uid != 0;
	if (foreign && open_path != path)
		return error_set(err, -EPERM, NULL, 0,
				 "refusing secrets file '%s': a symlink to '%s', owned by uid %u",
				 path, real, (unsigned)st.st_uid);
	const char *why = foreign                  ? "is owned by another user"
			  : (st.st_mode & S_IWOTH) ? "is writable by others"
			  : (st.st_mode & S_IROTH) ? "is readable by others"
						   : NULL;
	if (why && strict)
		return error_set(
		    err, -EPERM, NULL, 0,
		    "refusing secrets file '%s': it %s (mode %04o); 'chmod 600' it (--strict)",
		    path, why, (unsigned)(st.st_mode & 07777));
	if (why)
		secrets_add_warning(s, "secrets file '%s' %s (mode %04o): 'chmod 600' it", path,
				    why, (unsigned)(st.st_mode & 07777));
	return TAKE_FD(fd);
}

/* Parse into a scratch set first, so that nothing is added unless the whole
 * file is good, then merge. */
static int load_fd(struct secrets *s, int fd, const char *path, enum secret_source src,
		   struct error *err)
{
	_cleanup_secret_mem_ char *data = NULL;
	_cleanup_secrets_ struct secrets *tmp = NULL;
	size_t len = 0;
	int r = read_secret_fd(fd, SECRETS_FILE_MAX, &data, &len);
	if (r == -EFBIG)
		return error_set(err, r, NULL, 0,
				 "cannot read secrets file '%s': larger than 1 MiB", path);
	if (r < 0)
		return error_errno(err, r, "cannot read secrets file '%s'", path);
	if ((r = secrets_new(&tmp)) < 0)
		return r;
	struct load_ctx c = { .s = tmp, .src = src, .path = path, .err = err };
	int n = dotenv_parse(data, len, path, load_one, &c, err);
	for (size_t i = 0; n >= 0 && i < tmp->n && r >= 0; i++) {
		const struct secret *e = &tmp->e[i]->pub;
		r = secrets_put(s, e->name, e->value, e->len, src, path, e->line);
		if (r == -ENOSPC)
			error_set(err, r, path, 0, "more than %d secrets in all", SECRETS_MAX);
	}
	for (size_t i = 0; i < tmp->nwarn; i++)
		secrets_add_warning(s, "%s", tmp->warn[i]);
	return n < 0 ? n : r < 0 ? r : n;
}

int secrets_load_file(struct secrets *s, const char *path, enum secret_source src, unsigned flags,
		      struct error *err)
{
	error_clear(err);
	int r = open_checked(s, path, flags, true, err);
	if (r <= 0) /* 0: nothing to read, not fd 0 */
		return r;
	_cleanup_close_ int fd = r;
	return load_fd(s, fd, path, src, err);
}

int secrets_store_load(const char *box_dir, struct secrets *s, unsigned flags, struct error *err)
{
	char path[PATH_MAX];
	int r = path_join(path, sizeof(path), box_dir, SECRETS_STORE_FILE);
	if (r < 0)
		return r;
	error_clear(err);
	r = open_checked(s, path, flags | SECRETS_OPTIONAL, false, err);
	if (r <= 0) /* 0: nothing to read, not fd 0 */
		return r;
	_cleanup_close_ int fd = r;
	return load_fd(s, fd, path, SECRET_SOURCE_STORE, err);
}

/* NAME="value" with \\ \" \n \r \$ \` escaped: dotenv_parse reads it back
 * byte for byte. */
static size_t store_format(const struct secrets *s, const char *head, char *out)
{
	size_t w = strlen(head);
	if (out)
		memcpy(out, head, w);
	for (size_t i = 0; i < s->n; i++) {
		const struct secret *e = &s->e[i]->pub;
		size_t nl = strlen(e->name);
		if (out) {
			memcpy(out + w, e->name, nl);
			out[w + nl] = '=';
			out[w + nl + 1] = '"';
		}
		w += nl + 2;
		for (size_t k = 0; k < e->len; k++) {
			char c = e->value[k], esc = c == '\n' ? 'n' : c == '\r' ? 'r' : 0;
			if (c == '\\' || c == '"' || c == '$' || c == '`')
				esc = c;
			if (esc) {
				if (out) {
					out[w] = '\\';
					out[w + 1] = esc;
				}
				w += 2;
			} else {
				if (out)
					out[w] = c;
				w++;
			}
		}
		if (out) {
			out[w] = '"';
			out[w + 1] = '\n';
		}
		w += 2;
	}
	return w;
}

static int save_as(const char *box_dir, const char *file, const char *head, const struct secrets *s)
{
	size_t n = store_format(s, head, NULL);
	_cleanup_secret_mem_ char *buf = secrets_mem_alloc(n + 1);
	if (!buf)
		return -ENOMEM;
	store_format(s, head, buf);
	_cleanup_close_ int dfd = open(box_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return dfd < 0 ? -errno : fs_write_atomic_at(dfd, file, buf, n, 0600);
}

int secrets_store_save(const char *box_dir, const struct secrets *s)
{
	return save_as(box_dir, SECRETS_STORE_FILE,
		       "# clawbox: this box's secrets (clawbox secrets set/unset/import). Mode "
		       "0600; given to the box only through its environment.\n",
		       s);
}

/* ---- the values a box was ever given ---- */

int secrets_know(struct secrets *s, const char *name, const void *value, size_t len)
{
	if (!s->known || !dotenv_name_valid(name))
		return -EINVAL;
	if (len > SECRETS_VALUE_MAX)
		return -E2BIG;
	if (memchr(value, '\0', len))
		return -EILSEQ;
	if (len == 0)
		return 0; /* nothing to know */
	size_t pos = s->n;
	for (size_t i = 0; i < s->n; i++) {
		int c = strcmp(s->e[i]->name, name);
		if (c == 0 && s->e[i]->pub.len == len && memcmp(s->e[i]->mem, value, len) == 0)
			return 0;
		if (c > 0 && pos == s->n)
			pos = i;
	}
	if (s->n == s->max || len > SECRETS_KNOWN_BYTES - s->bytes)
		return -ENOSPC;
	struct entry *e;
	int r = secrets_grow(s);
	if (r < 0 || (r = secrets_entry_new(name, value, len, &e)) < 0)
		return r;
	e->pub.source = SECRET_SOURCE_STORE;
	memmove(s->e + pos + 1, s->e + pos, (s->n - pos) * sizeof(struct entry *));
	s->e[pos] = e;
	s->n++;
	s->bytes += len;
	s->idx_dirty = true;
	return 1;
}

static int know_one(const char *name, const char *value, size_t len, unsigned line, void *p)
{
	int r = secrets_know(p, name, value, len);
	return r < 0 ? r : 0;
}

int secrets_know_all(struct secrets *known, const struct secrets *from)
{
	int added = 0;
	for (size_t i = 0; from && i < from->n; i++) {
		const struct secret *e = &from->e[i]->pub;
		int r = secrets_know(known, e->name, e->value, e->len);
		if (r < 0)
			return r;
		added += r;
	}
	return added;
}

/* secrets.known only (with_store: the store too). */
static int known_load(const char *box_dir, struct secrets *s, bool with_store, struct error *err)
{
	char path[PATH_MAX];
	_cleanup_secret_mem_ char *data = NULL;
	_cleanup_secrets_ struct secrets *store = NULL;
	size_t len = 0;
	int r = path_join(path, sizeof(path), box_dir, SECRETS_KNOWN_FILE);
	if (r < 0)
		return r;
	error_clear(err);
	/* Strict: the file is clawbox's own, written 0600. */
	r = open_checked(s, path, SECRETS_OPTIONAL | SECRETS_STRICT, false, err);
	if (r < 0)
		return r;
	if (r > 0) { /* 0: nothing to read, not fd 0 */
		_cleanup_close_ int fd = r;
		r = read_secret_fd(fd, SECRETS_KNOWN_FILE_MAX, &data, &len);
		if (r < 0)
			return error_errno(err, r, "cannot read '%s'", path);
		r = dotenv_parse(data, len, path, know_one, s, err);
		if (r < 0 && !error_isset(err))
			return error_errno(err, r, "cannot read '%s'", path);
		if (r < 0)
			return r;
	}
	s->nfile = s->n;
	if (!with_store)
		return (int)s->n;
	/* The store, for a box whose store predates this file. */
	if ((r = secrets_new(&store)) < 0)
		return r;
	r = secrets_store_load(box_dir, store, 0, err);
	if (r >= 0 && (r = secrets_know_all(s, store)) < 0)
		error_set(err, r, NULL, 0, "box '%s' knows too many secret values", box_dir);
	return r < 0 ? r : (int)s->n;
}

int secrets_known_load(const char *box_dir, struct secrets *s, struct error *err)
{
	return known_load(box_dir, s, true, err);
}

int secrets_known_save(const char *box_dir, const struct secrets *s)
{
	if (!s->known)
		return -EINVAL;
	return save_as(box_dir, SECRETS_KNOWN_FILE,
		       "# clawbox: every secret value this box was ever given (stored, unset, "
		       "-e, --secrets, --config), kept so that the sync gate and the redactors "
		       "know them all. Mode 0600; never shown to the box. Removed with the box.\n",
		       s);
}

int secrets_known_record(const char *box_dir, const struct secrets *given, struct secrets **ret,
			 struct error *err)
{
	_cleanup_secrets_ struct secrets *k = NULL;
	_cleanup_close_ int lock = secrets_store_lock(box_dir);
	int r = lock < 0 ? lock : secrets_new_known(&k);
	error_clear(err);
	/* given holds what the caller wants known (a run's set holds the
	 * store); without it, the store is what to learn. */
	if (r == 0)
		r = known_load(box_dir, k, !given, err);
	if (r >= 0 && (r = secrets_know_all(k, given)) == -ENOSPC)
		error_set(
		    err, r, NULL, 0,
		    "the box already knows %zu secret values (%zu bytes): it keeps at most %d "
		    "(%d bytes) and never forgets one; 'clawbox delete' the box to start "
		    "afresh",
		    k->n, k->bytes, SECRETS_KNOWN_MAX, SECRETS_KNOWN_BYTES);
	if (r >= 0 && k->n > k->nfile)
		r = secrets_known_save(box_dir, k);
	if (r < 0) {
		if (!error_isset(err))
			error_errno(err, r, "cannot record the box's secret values");
		return r;
	}
	if (ret)
		*ret = TAKE_PTR(k);
	return 0;
}

int secrets_store_lock(const char *box_dir)
{
	_cleanup_close_ int fd = open(box_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return -errno;
	return TAKE_FD(fd);
}
