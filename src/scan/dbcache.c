/* The compiled-database cache (dbcache_load/dbcache_store in scan_int.h).
 * Compiling the Hyperscan databases of gitleaks' ~220 rules costs ~0.7 CPU
 * seconds, more than scanning 100 MB. The result (both databases and what
 * the compile decided per rule) is cached in $CLAWBOX_CACHE_DIR (default
 * /var/cache/clawbox as root, else $XDG_CACHE_HOME/clawbox or
 * ~/.cache/clawbox), under scan/<sha256 of everything it depends on>. A
 * cache file is used only if it is a regular file of ours, not writable by
 * anyone else, and passes every bounds check; anything else is ignored and
 * the databases are compiled. Failing to write the cache changes nothing. */
#include "util/common.h"

#include "util/buf.h"
#include "util/fs.h"
#include "util/hash.h"

#include "scan/scan_int.h"

#define CACHE_MAGIC "clawbox-hsdb-1\n"

static int cache_dir(char *out, size_t n)
{
	const char *env = secure_getenv("CLAWBOX_CACHE_DIR");
	int w;
	if (env && env[0] == '/')
		w = snprintf(out, n, "%s/scan", env);
	else if (env && env[0])
		return -EINVAL;
	else if (geteuid() == 0)
		w = snprintf(out, n, "/var/cache/clawbox/scan");
	else if ((env = secure_getenv("XDG_CACHE_HOME")) && env[0] == '/')
		w = snprintf(out, n, "%s/clawbox/scan", env);
	else if ((env = secure_getenv("HOME")) && env[0] == '/')
		w = snprintf(out, n, "%s/.cache/clawbox/scan", env);
	else
		return -ENOENT;
	return (w < 0 || (size_t)w >= n) ? -ENAMETOOLONG : 0;
}

static void cache_key(const struct scan_rules *rs, char out[2 * HASH_SHA256_SIZE + 1])
{
	_cleanup_buf_ struct buf b = BUF_INIT(64u << 20);
	int r = buf_printf(&b, "%s%s\n%zu\n", CACHE_MAGIC, hs_version(), rs->n);
	for (size_t i = 0; i < rs->n && r == 0; i++) {
		const struct rule *ru = &rs->rules[i];
		r = buf_printf(&b, "%d %d %s\n%s\n", ru->disabled, ru->anchor_caseless,
			       ru->regex_src ? ru->regex_src : "-", ru->anchor ? ru->anchor : "-");
	}
	if (r < 0)
		out[0] = '\0'; /* no key: no cache */
	else
		hash_sha256_hex(b.data, b.len, out);
}

struct cache_rule {
	uint64_t width, minw, maxw;
	uint8_t in_hs, anchored;
};

static int cache_path(const struct scan_rules *rs, char *out, size_t n, bool create_dir)
{
	char dir[PATH_MAX], key[2 * HASH_SHA256_SIZE + 1];
	int r = cache_dir(dir, sizeof(dir));
	if (r < 0)
		return r;
	cache_key(rs, key);
	if (!key[0])
		return -ENOMEM;
	if (create_dir && (r = fs_mkdir_p(dir, 0700)) < 0)
		return r;
	int w = snprintf(out, n, "%s/%s.hsdb", dir, key);
	return (w < 0 || (size_t)w >= n) ? -ENAMETOOLONG : 0;
}

int dbcache_path(const struct scan_rules *rs, char *out, size_t n)
{
	return cache_path(rs, out, n, false);
}

/* The bytes of the cache entry at path, if it is a regular file of ours
 * that nobody else can write. */
static int read_entry(const char *path, char **ret, size_t *ret_len)
{
	struct stat st;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 022))
		return -ENOENT;
	if (fs_read_file(path, 256u << 20, ret, ret_len) < 0)
		return -ENOENT;
	return 0;
}

/* Read a length-prefixed database from *p (bounded by end). */
static int take_db(const char **p, const char *end, hs_database_t **ret)
{
	uint64_t len;
	if ((size_t)(end - *p) < sizeof(len))
		return -EBADMSG;
	memcpy(&len, *p, sizeof(len));
	*p += sizeof(len);
	if (len == 0) {
		*ret = NULL;
		return 0;
	}
	if (len > (uint64_t)(end - *p))
		return -EBADMSG;
	if (hs_deserialize_database(*p, (size_t)len, ret) != HS_SUCCESS)
		return -EBADMSG;
	*p += len;
	return 0;
}

/* The per-rule decisions from *p (the caller checked the length). */
static void take_rules(struct scan_rules *rs, const char **p)
{
	for (size_t i = 0; i < rs->n; i++) {
		struct cache_rule cr;
		memcpy(&cr, *p, sizeof(cr));
		*p += sizeof(cr);
		rs->rules[i].width = cr.width > SIZE_MAX ? SIZE_MAX : (size_t)cr.width;
		rs->rules[i].anchor_minw = (size_t)cr.minw;
		rs->rules[i].anchor_maxw = (size_t)cr.maxw;
		rs->rules[i].in_hs = cr.in_hs;
		rs->rules[i].anchored = cr.anchored;
	}
}

/* The hs id -> rule tables from *p (the caller checked the length). */
static int take_tables(struct scan_rules *rs, const char **p)
{
	size_t table = (rs->n + 1) * sizeof(unsigned);
	rs->hs_rule_of = calloc(rs->n + 1, sizeof(unsigned));
	rs->anchor_rule_of = calloc(rs->n + 1, sizeof(unsigned));
	if (!rs->hs_rule_of || !rs->anchor_rule_of)
		return -ENOMEM;
	memcpy(rs->hs_rule_of, *p, table);
	*p += table;
	memcpy(rs->anchor_rule_of, *p, table);
	*p += table;
	for (size_t i = 0; i <= rs->n; i++)
		if (rs->hs_rule_of[i] > rs->n || rs->anchor_rule_of[i] > rs->n)
			return -EBADMSG;
	return 0;
}

int dbcache_load(struct scan_rules *rs)
{
	char path[PATH_MAX];
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r;
	if (cache_path(rs, path, sizeof(path), false) < 0 || read_entry(path, &data, &len) < 0)
		return -ENOENT;
	const char *p = data, *end = data + len;
	size_t table = (rs->n + 1) * sizeof(unsigned);
	size_t need = strlen(CACHE_MAGIC) + rs->n * sizeof(struct cache_rule) + 2 * table;
	if (len < need || memcmp(p, CACHE_MAGIC, strlen(CACHE_MAGIC)) != 0)
		return -EBADMSG;
	p += strlen(CACHE_MAGIC);
	take_rules(rs, &p);
	if ((r = take_tables(rs, &p)) < 0)
		return r;
	if (take_db(&p, end, &rs->db_rules) < 0 || take_db(&p, end, &rs->db_anchor) < 0 || p != end)
		return -EBADMSG;
	return 0;
}

static int put_db(struct buf *b, const hs_database_t *db)
{
	_cleanup_free_ char *bytes = NULL;
	size_t n = 0;
	uint64_t len = 0;
	if (db && hs_serialize_database(db, &bytes, &n) != HS_SUCCESS)
		return -ENOMEM;
	len = n;
	int r = buf_append(b, &len, sizeof(len));
	if (r == 0 && n)
		r = buf_append(b, bytes, n);
	return r;
}

/* What dbcache_load() reads, into b. */
static int serialize(const struct scan_rules *rs, struct buf *b)
{
	int r = buf_puts(b, CACHE_MAGIC);
	for (size_t i = 0; i < rs->n && r == 0; i++) {
		const struct rule *ru = &rs->rules[i];
		struct cache_rule cr = { .width = ru->width,
					 .minw = ru->anchor_minw,
					 .maxw = ru->anchor_maxw,
					 .in_hs = ru->in_hs,
					 .anchored = ru->anchored };
		r = buf_append(b, &cr, sizeof(cr));
	}
	size_t table = (rs->n + 1) * sizeof(unsigned);
	if (r == 0)
		r = buf_append(b, rs->hs_rule_of, table);
	if (r == 0)
		r = buf_append(b, rs->anchor_rule_of, table);
	if (r == 0)
		r = put_db(b, rs->db_rules);
	if (r == 0)
		r = put_db(b, rs->db_anchor);
	return r;
}

void dbcache_store(const struct scan_rules *rs)
{
	char path[PATH_MAX];
	_cleanup_buf_ struct buf b = BUF_INIT(256u << 20);
	if (cache_path(rs, path, sizeof(path), true) < 0 || serialize(rs, &b) < 0)
		return;
	char *slash = strrchr(path, '/');
	if (!slash)
		return;
	*slash = '\0';
	_cleanup_close_ int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd >= 0)
		(void)fs_write_atomic_at(dfd, slash + 1, b.data, b.len, 0600);
}
