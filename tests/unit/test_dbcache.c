/* scan/dbcache.c: the compiled-database cache. An entry gives back exactly
 * what the compile decided; a damaged, foreign or misplaced entry is never
 * used; the key follows the rules. */
#include "unit.h"

#include <sys/stat.h>

#include "scan/scan_int.h"
#include "util/fs.h"

static const char TEMPLATE[] = "(?i)[\\w.-]{0,50}?(?:key|token)(?:[ \\t\\w.-]{0,20})"
			       "[\\s'\"]{0,3}=[ '\"]{0,5}([a-z0-9]{12,})";

static void add(struct scan_rules *rs, const char *id, const char *regex)
{
	struct scan_rule_spec spec = { .id = id, .regex = regex };
	CHECK_INT(scan_rules_add_rule(rs, &spec, NULL), 0);
}

/* Rules of three kinds: a template (anchored), a plain prefiltered one, one
 * Hyperscan cannot bound. */
static struct scan_rules *rules(const char *plain)
{
	struct scan_rules *rs = NULL;
	CHECK_INT(scan_rules_new(&rs), 0);
	add(rs, "tpl", TEMPLATE);
	add(rs, "plain", plain);
	add(rs, "open", "sk_[a-z]+");
	return rs;
}

static char *cache_dir(void)
{
	static char dir[] = "/tmp/clawbox-unit-dbcache.XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	CHECK_INT(setenv("CLAWBOX_CACHE_DIR", dir, 1), 0);
	return dir;
}

static void rm_rf(const char *dir)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK_INT(system(cmd), 0);
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	(void)unlink(path);
	FILE *f = fopen(path, "w");
	CHECK(f);
	CHECK_INT(fwrite(data, 1, len, f), len);
	CHECK_INT(fclose(f), 0);
	CHECK_INT(chmod(path, mode), 0);
}

TEST(dbcache_entry_gives_back_the_compile)
{
	char *dir = cache_dir(), path[PATH_MAX];
	struct scan_rules *a = rules("tok_[a-z0-9]{10}"), *b = rules("tok_[a-z0-9]{10}");
	struct stat st;
	CHECK_INT(dbcache_load(a), -ENOENT); /* nothing stored yet */
	CHECK_INT(scan_rules_compile(a, NULL), 0);
	CHECK_INT(dbcache_path(b, path, sizeof(path)), 0);
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0600);
	CHECK_INT(dbcache_load(b), 0);
	CHECK(b->db_rules && b->db_anchor);
	for (size_t i = 0; i < a->n; i++) {
		CHECK_INT(b->rules[i].width, a->rules[i].width);
		CHECK_INT(b->rules[i].in_hs, a->rules[i].in_hs);
		CHECK_INT(b->rules[i].anchored, a->rules[i].anchored);
		CHECK_INT(b->rules[i].anchor_minw, a->rules[i].anchor_minw);
		CHECK_INT(b->rules[i].anchor_maxw, a->rules[i].anchor_maxw);
	}
	CHECK(a->rules[0].anchored && !a->rules[0].in_hs);
	CHECK(a->rules[1].in_hs && a->rules[1].width == 14);
	CHECK(a->rules[2].in_hs && a->rules[2].width == SIZE_MAX);
	CHECK(!memcmp(b->hs_rule_of, a->hs_rule_of, (a->n + 1) * sizeof(unsigned)));
	CHECK(!memcmp(b->anchor_rule_of, a->anchor_rule_of, (a->n + 1) * sizeof(unsigned)));
	scan_rules_free(a);
	scan_rules_free(b);
	rm_rf(dir);
}

/* Loads into a fresh rule set: 0 or the error. */
static int load_fresh(void)
{
	struct scan_rules *rs = rules("tok_[a-z0-9]{10}");
	int r = dbcache_load(rs);
	scan_rules_free(rs);
	return r;
}

TEST(dbcache_refuses_bad_entries)
{
	char *dir = cache_dir(), path[PATH_MAX], other[PATH_MAX + 8];
	struct scan_rules *rs = rules("tok_[a-z0-9]{10}");
	_cleanup_free_ char *good = NULL;
	size_t len;
	CHECK_INT(scan_rules_compile(rs, NULL), 0);
	CHECK_INT(dbcache_path(rs, path, sizeof(path)), 0);
	scan_rules_free(rs);
	CHECK_INT(fs_read_file(path, 256u << 20, &good, &len), 0);
	CHECK_INT(load_fresh(), 0);

	write_file(path, good, len - 1, 0600); /* truncated */
	CHECK(load_fresh() < 0);
	_cleanup_free_ char *longer = malloc(len + 1);
	CHECK(longer);
	memcpy(longer, good, len);
	longer[len] = 'x';
	write_file(path, longer, len + 1, 0600); /* trailing bytes */
	CHECK(load_fresh() < 0);
	good[0] ^= 1; /* another magic */
	write_file(path, good, len, 0600);
	CHECK(load_fresh() < 0);
	good[0] ^= 1;
	write_file(path, good, len, 0620); /* others may write it */
	CHECK(load_fresh() < 0);
	write_file(path, good, len, 0602);
	CHECK(load_fresh() < 0);
	snprintf(other, sizeof(other), "%s.real", path); /* a symlink to a good entry */
	write_file(other, good, len, 0600);
	CHECK_INT(unlink(path), 0);
	CHECK_INT(symlink(other, path), 0);
	CHECK(load_fresh() < 0);
	CHECK_INT(unlink(path), 0);
	write_file(path, good, len, 0600); /* and back: used again */
	CHECK_INT(load_fresh(), 0);
	rm_rf(dir);
}

TEST(dbcache_key_and_place)
{
	char *dir = cache_dir(), p1[PATH_MAX], p2[PATH_MAX], p3[PATH_MAX];
	struct scan_rules *a = rules("tok_[a-z0-9]{10}"), *b = rules("tok_[a-z0-9]{10}"),
			  *c = rules("tok_[a-z0-9]{11}");
	CHECK_INT(dbcache_path(a, p1, sizeof(p1)), 0);
	CHECK_INT(dbcache_path(b, p2, sizeof(p2)), 0);
	CHECK_INT(dbcache_path(c, p3, sizeof(p3)), 0);
	CHECK_STREQ(p1, p2);
	CHECK(strcmp(p1, p3) != 0);
	CHECK(strncmp(p1, dir, strlen(dir)) == 0);
	CHECK(strncmp(p1 + strlen(dir), "/scan/", 6) == 0);
	CHECK_INT(strlen(p1 + strlen(dir) + 6), 64 + 5); /* sha256 hex + ".hsdb" */
	CHECK_INT(scan_rules_disable(b, "open"), 0);     /* a disabled rule changes the key */
	CHECK_INT(dbcache_path(b, p2, sizeof(p2)), 0);
	CHECK(strcmp(p1, p2) != 0);
	CHECK_INT(setenv("CLAWBOX_CACHE_DIR", "relative", 1), 0);
	CHECK_INT(dbcache_path(a, p1, sizeof(p1)), -EINVAL);
	CHECK_INT(scan_rules_compile(a, NULL), 0); /* no cache: compiled all the same */
	scan_rules_free(a);
	scan_rules_free(b);
	scan_rules_free(c);
	rm_rf(dir);
}
