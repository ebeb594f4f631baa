/* The gate's secret scanner: the rules (gitleaks' or clawbox's, with the
 * box's known secrets) compiled on first use, and the scan results of
 * contents and names cached by path + content in $BOX/sync/scancache.json. */
#include "util/common.h"

#include "sync/gate_int.h"
#include "scan/gitleaks.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/hash.h"

#define CACHE_FILE "scancache.json"
#define CACHE_MAX  (64u << 20)

/* The key of the rules: their text and the known secrets (hashed). */
int gate_rules_key(struct gate *g, struct error *err)
{
	struct buf b = BUF_INIT((17u << 20));
	char *text = NULL;
	size_t len = 0;
	int r = 0;
	if (g->pol.gitleaks_config) {
		r = fs_read_file(g->pol.gitleaks_config, 16u << 20, &text, &len);
		if (r < 0) {
			return gate_fail(err, r, g->pol.gitleaks_config,
					 "cannot read the gitleaks configuration: %s",
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

static int ensure_rules(struct gate *g, struct error *err)
{
	struct error e = { 0 };
	if (g->rules)
		return 0;
	struct scan_rules *rs;
	int r = scan_rules_new(&rs);
	if (r < 0)
		return r;
	r = g->pol.gitleaks_config ? gitleaks_load_file(rs, g->pol.gitleaks_config, &e)
				   : gitleaks_load_default(rs, &e);
	if (r < 0) {
		scan_rules_free(rs);
		r = gate_fail(err, r, e.where[0] ? e.where : "gitleaks", "%s",
			      e.message[0] ? e.message : strerror(-r));
		if (err)
			err->line = e.line;
		return r;
	}
	for (size_t i = 0; r == 0 && i < g->nsecrets; i++)
		r = scan_rules_add_known_secret(rs, g->secrets[i].name, g->secrets[i].value,
						g->secrets[i].len);
	if (r == 0)
		r = scan_rules_compile(rs, &e);
	if (r < 0) {
		scan_rules_free(rs);
		return gate_fail(err, r, "scanner", "cannot compile the secret rules: %s",
				 e.message[0] ? e.message : strerror(-r));
	}
	g->rules = rs;
	return 0;
}

void gate_cache_load(struct gate *g)
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

void gate_cache_save(struct gate *g)
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
int gate_check_secrets(struct gate *g, struct gate_entry *e, const void *data, size_t len,
		       struct error *err)
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
			return gate_fail(err, c.err ? c.err : r, e->path, "cannot scan: %s",
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
			r = gate_add_finding(e, GATE_SEV_BLOCK, rule, (unsigned)line, "secret: %s",
					     why);
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
int gate_check_name(struct gate *g, struct gate_entry *e, struct error *err)
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
			r = gate_fail(err, c.err ? c.err : r, e->path, "cannot scan the name: %s",
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
			r = gate_add_finding(
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
		   int (*fn)(const struct scan_finding *f, void *ctx), void *ctx, struct error *err)
{
	int r = ensure_rules(g, err);
	return r < 0 ? r : scan_buffer(g->rules, path, data, len, fn, ctx);
}
