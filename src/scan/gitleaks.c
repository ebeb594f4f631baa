/* gitleaks TOML configuration -> scan rules (see gitleaks.h). */
#include "util/common.h"

#include <stdarg.h>

#include "scan/gitleaks.h"
#include "util/toml.h"
#include "util/fs.h"

#define MAX_EXTEND_DEPTH 4

/* A configuration error at file:line (line 0: the whole file): -EINVAL. */
static int gl_fail(struct error *err, const char *file, unsigned line, const char *fmt, ...)
    _printf_(4, 5);
static int gl_fail(struct error *err, const char *file, unsigned line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = error_setv(err, -EINVAL, file, line, fmt, ap);
	va_end(ap);
	return r;
}

struct loader {
	struct scan_rules *rs;
	const char *file;
	struct error *err;
	int depth;
};

/* Every key of table t must be in the NULL-terminated list allowed. */
static int check_keys(struct loader *ld, const struct toml_value *t, const char *what,
		      const char *const *allowed)
{
	for (size_t i = 0; i < t->tab.n; i++) {
		bool ok = false;
		for (const char *const *a = allowed; *a && !ok; a++)
			ok = STREQ(*a, t->tab.kv[i].key);
		if (!ok)
			return gl_fail(ld->err, ld->file, t->tab.kv[i].val->line,
				       "unknown key '%s' in %s", t->tab.kv[i].key, what);
	}
	return 0;
}

static int get_string(struct loader *ld, const struct toml_value *t, const char *key,
		      const char **ret)
{
	const struct toml_value *v = toml_get(t, key);
	*ret = NULL;
	if (!v)
		return 0;
	if (v->type != TOML_STRING)
		return gl_fail(ld->err, ld->file, v->line, "'%s' must be a string, not a %s", key,
			       toml_type_name(v->type));
	*ret = v->str.s;
	return 0;
}

/* An array of strings as a NULL-terminated vector of borrowed pointers. */
static int get_strings(struct loader *ld, const struct toml_value *t, const char *key,
		       const char ***ret, size_t *ret_n)
{
	const struct toml_value *v = toml_get(t, key);
	*ret = NULL;
	*ret_n = 0;
	if (!v)
		return 0;
	if (v->type != TOML_ARRAY)
		return gl_fail(ld->err, ld->file, v->line, "'%s' must be an array of strings", key);
	_cleanup_free_ const char **out = calloc(v->arr.n + 1, sizeof(char *));
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < v->arr.n; i++) {
		if (v->arr.items[i]->type != TOML_STRING)
			return gl_fail(ld->err, ld->file, v->arr.items[i]->line,
				       "'%s' must hold only strings", key);
		out[i] = v->arr.items[i]->str.s;
	}
	*ret = TAKE_PTR(out);
	*ret_n = v->arr.n;
	return 0;
}

static int get_number(struct loader *ld, const struct toml_value *t, const char *key, double *ret)
{
	const struct toml_value *v = toml_get(t, key);
	if (!v)
		return 0;
	if (v->type == TOML_INT)
		*ret = (double)v->i;
	else if (v->type == TOML_FLOAT)
		*ret = v->f;
	else
		return gl_fail(ld->err, ld->file, v->line, "'%s' must be a number", key);
	return 0;
}

/* An allowlist's condition (NULL: OR) as *ret_and. */
static int parse_condition(struct loader *ld, const struct toml_value *t, const char *cond,
			   bool *ret_and)
{
	if (!cond || strcasecmp(cond, "OR") == 0 || strcmp(cond, "||") == 0)
		*ret_and = false;
	else if (strcasecmp(cond, "AND") == 0 || strcmp(cond, "&&") == 0)
		*ret_and = true;
	else
		return gl_fail(ld->err, ld->file, toml_get(t, "condition")->line,
			       "condition must be \"AND\" or \"OR\", not '%s'", cond);
	return 0;
}

/* An allowlist's regexTarget (NULL or "": the secret) as *ret. */
static int parse_target(struct loader *ld, const struct toml_value *t, const char *target,
			enum scan_target *ret)
{
	if (!target || !*target || STREQ(target, "secret"))
		*ret = SCAN_TARGET_SECRET;
	else if (STREQ(target, "match"))
		*ret = SCAN_TARGET_MATCH;
	else if (STREQ(target, "line"))
		*ret = SCAN_TARGET_LINE;
	else
		return gl_fail(ld->err, ld->file, toml_get(t, "regexTarget")->line,
			       "regexTarget must be \"secret\", \"match\" or \"line\", not '%s'",
			       target);
	return 0;
}

/* The line to blame for msg, an error of allowlist t: the pattern that
 * msg quotes when it is an invalid regex, else the table. */
static unsigned allowlist_error_line(const struct toml_value *t, const char *msg)
{
	const struct toml_value *v = toml_get(t, "regexes");
	if (!v || !strstr(msg, "invalid regex"))
		v = t;
	if (strstr(msg, "invalid regex") && toml_get(t, "paths")) {
		const struct toml_value *pv = toml_get(t, "paths");
		for (size_t i = 0; i < pv->arr.n; i++)
			if (strstr(msg, pv->arr.items[i]->str.s))
				v = pv->arr.items[i];
	}
	if (strstr(msg, "invalid regex") && toml_get(t, "regexes")) {
		const struct toml_value *rv = toml_get(t, "regexes");
		for (size_t i = 0; i < rv->arr.n; i++)
			if (strstr(msg, rv->arr.items[i]->str.s))
				v = rv->arr.items[i];
	}
	return v->line;
}

static int load_allowlist(struct loader *ld, const char *rule_id, const struct toml_value *t)
{
	static const char *const keys[] = { "description", "condition", "regexTarget", "regexes",
					    "paths",       "stopwords", "commits",     NULL };
	_cleanup_free_ const char **regexes = NULL, **paths = NULL, **stopwords = NULL,
				  **commits = NULL;
	struct scan_allowlist_spec spec = { 0 };
	const char *cond, *target;
	size_t n_commits;
	struct error ae = { 0 };
	int r;

	if (t->type != TOML_TABLE)
		return gl_fail(ld->err, ld->file, t->line, "an allowlist must be a table");
	if ((r = check_keys(ld, t, "allowlist", keys)) < 0 ||
	    (r = get_string(ld, t, "condition", &cond)) < 0 ||
	    (r = get_string(ld, t, "regexTarget", &target)) < 0 ||
	    (r = get_strings(ld, t, "regexes", &regexes, &spec.n_regexes)) < 0 ||
	    (r = get_strings(ld, t, "paths", &paths, &spec.n_paths)) < 0 ||
	    (r = get_strings(ld, t, "stopwords", &stopwords, &spec.n_stopwords)) < 0 ||
	    (r = get_strings(ld, t, "commits", &commits, &n_commits)) < 0)
		return r;
	if ((r = parse_condition(ld, t, cond, &spec.cond_and)) < 0 ||
	    (r = parse_target(ld, t, target, &spec.target)) < 0)
		return r;
	spec.has_commits = n_commits > 0;
	if (!spec.n_regexes && !spec.n_paths && !spec.n_stopwords && !spec.has_commits)
		return gl_fail(
		    ld->err, ld->file, t->line,
		    "allowlist must have at least one of commits, paths, regexes or stopwords");
	spec.regexes = regexes;
	spec.paths = paths;
	spec.stopwords = stopwords;
	r = scan_rules_add_allowlist(ld->rs, rule_id, &spec, &ae);
	if (r == -EINVAL || r == -ENOENT)
		return gl_fail(ld->err, ld->file, allowlist_error_line(t, ae.message), "%s",
			       ae.message);
	return r;
}

static int load_allowlists(struct loader *ld, const char *rule_id, const struct toml_value *owner)
{
	const struct toml_value *one = toml_get(owner, "allowlist"),
				*many = toml_get(owner, "allowlists");
	int r;
	if (one) {
		r = load_allowlist(ld, rule_id, one);
		if (r < 0)
			return r;
	}
	if (many) {
		if (many->type != TOML_ARRAY)
			return gl_fail(ld->err, ld->file, many->line,
				       "'allowlists' must be an array of tables");
		for (size_t i = 0; i < many->arr.n; i++) {
			r = load_allowlist(ld, rule_id, many->arr.items[i]);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int load_rule(struct loader *ld, const struct toml_value *t)
{
	static const char *const keys[] = { "id",        "description", "regex",      "secretGroup",
					    "entropy",   "keywords",    "path",       "tags",
					    "allowlist", "allowlists",  "skipReport", NULL };
	_cleanup_free_ const char **keywords = NULL, **tags = NULL;
	struct scan_rule_spec spec = { 0 };
	struct error re = { 0 };
	double group = 0;
	int r;

	if (t->type != TOML_TABLE)
		return gl_fail(ld->err, ld->file, t->line, "a rule must be a table");
	if ((r = check_keys(ld, t, "rule", keys)) < 0 ||
	    (r = get_string(ld, t, "id", &spec.id)) < 0 ||
	    (r = get_string(ld, t, "description", &spec.description)) < 0 ||
	    (r = get_string(ld, t, "regex", &spec.regex)) < 0 ||
	    (r = get_string(ld, t, "path", &spec.path)) < 0 ||
	    (r = get_number(ld, t, "secretGroup", &group)) < 0 ||
	    (r = get_number(ld, t, "entropy", &spec.entropy)) < 0 ||
	    (r = get_strings(ld, t, "keywords", &keywords, &spec.n_keywords)) < 0 ||
	    (r = get_strings(ld, t, "tags", &tags, &spec.n_tags)) < 0)
		return r;
	if (!spec.id || !*spec.id)
		return gl_fail(ld->err, ld->file, t->line, "rule without an id");
	if (group < 0 || group > 99 || group != (int)group)
		return gl_fail(ld->err, ld->file, toml_get(t, "secretGroup")->line,
			       "invalid secretGroup");
	spec.secret_group = (int)group;
	spec.keywords = keywords;
	spec.tags = tags;
	r = scan_rules_add_rule(ld->rs, &spec, &re);
	if (r == -EINVAL) {
		const char *msg = re.message;
		const struct toml_value *v = t;
		if (strstr(msg, "invalid regex") && spec.path && strstr(msg, spec.path))
			v = toml_get(t, "path");
		if (strstr(msg, "invalid regex") && spec.regex && strstr(msg, spec.regex))
			v = toml_get(t, "regex");
		if (strstr(msg, "secretGroup"))
			v = toml_get(t, "secretGroup");
		return gl_fail(ld->err, ld->file, v->line, "rule '%s': %s", spec.id, msg);
	}
	if (r < 0)
		return r;
	return load_allowlists(ld, spec.id, t);
}

static int load_text(struct loader *ld, const char *text, size_t len);

static int load_extend(struct loader *ld, const struct toml_value *ext, const char ***ret_disabled,
		       size_t *ret_n)
{
	static const char *const keys[] = { "useDefault", "path", "url", "disabledRules", NULL };
	const struct toml_value *ud = toml_get(ext, "useDefault");
	const char *path, *url;
	int r;
	if (ext->type != TOML_TABLE)
		return gl_fail(ld->err, ld->file, ext->line, "'extend' must be a table");
	if ((r = check_keys(ld, ext, "extend", keys)) < 0 ||
	    (r = get_string(ld, ext, "path", &path)) < 0 ||
	    (r = get_string(ld, ext, "url", &url)) < 0 ||
	    (r = get_strings(ld, ext, "disabledRules", ret_disabled, ret_n)) < 0)
		return r;
	if (url)
		return gl_fail(ld->err, ld->file, toml_get(ext, "url")->line,
			       "extend.url is not supported");
	if (ud && ud->type != TOML_BOOL)
		return gl_fail(ld->err, ld->file, ud->line, "'useDefault' must be a boolean");
	if (ld->depth >= MAX_EXTEND_DEPTH)
		return gl_fail(ld->err, ld->file, ext->line,
			       "configurations extend each other too deeply");
	if (ud && ud->b) {
		struct loader sub = { ld->rs, "(default rules)", ld->err, ld->depth + 1 };
		r = load_text(&sub, scan_default_rules_toml, strlen(scan_default_rules_toml));
		if (r < 0)
			return r;
	}
	if (path) {
		_cleanup_free_ char *data = NULL;
		size_t len;
		r = fs_read_file(path, TOML_MAX_INPUT, &data, &len);
		if (r < 0)
			return gl_fail(ld->err, ld->file, toml_get(ext, "path")->line,
				       "cannot read '%s': %s", path, strerror(-r));
		struct loader sub = { ld->rs, path, ld->err, ld->depth + 1 };
		r = load_text(&sub, data, len);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Whether rule i of rules has the id of an earlier one; then -EINVAL. */
static int check_duplicate_id(struct loader *ld, const struct toml_value *rules, size_t i)
{
	const struct toml_value *idv = toml_get(rules->arr.items[i], "id");
	if (!idv || idv->type != TOML_STRING)
		return 0;
	for (size_t j = 0; j < i; j++) {
		const struct toml_value *o = toml_get(rules->arr.items[j], "id");
		if (o && o->type == TOML_STRING && STREQ(o->str.s, idv->str.s))
			return gl_fail(ld->err, ld->file, idv->line, "duplicate rule id '%s'",
				       idv->str.s);
	}
	return 0;
}

/* The [[rules]] array (may be NULL). */
static int load_rules(struct loader *ld, const struct toml_value *rules)
{
	int r;
	if (!rules)
		return 0;
	if (rules->type != TOML_ARRAY)
		return gl_fail(ld->err, ld->file, rules->line,
			       "'rules' must be an array of tables ([[rules]])");
	for (size_t i = 0; i < rules->arr.n; i++)
		if ((r = check_duplicate_id(ld, rules, i)) < 0 ||
		    (r = load_rule(ld, rules->arr.items[i])) < 0)
			return r;
	return 0;
}

/* A parsed configuration: [extend] first (its disabledRules into
 * *disabled, borrowed from root), then the rules and the global
 * allowlists, then the disabled rules removed. */
static int load_root(struct loader *ld, const struct toml_value *root, const char ***disabled,
		     size_t *n_disabled)
{
	const struct toml_value *ext = toml_get(root, "extend");
	int r;
	if ((ext && (r = load_extend(ld, ext, disabled, n_disabled)) < 0) ||
	    (r = load_rules(ld, toml_get(root, "rules"))) < 0 ||
	    (r = load_allowlists(ld, NULL, root)) < 0)
		return r;
	for (size_t i = 0; i < *n_disabled; i++)
		(void)scan_rules_disable(ld->rs, (*disabled)[i]); /* absent ones: nothing to do */
	return 0;
}

static int load_text(struct loader *ld, const char *text, size_t len)
{
	static const char *const keys[] = { "title",      "description", "minVersion", "allowlist",
					    "allowlists", "rules",       "extend",     NULL };
	struct toml_value *root = NULL;
	struct error terr;
	_cleanup_free_ const char **disabled = NULL;
	size_t n_disabled = 0;
	int r = toml_parse(text, len, ld->file, &root, &terr);
	if (r == -EINVAL)
		return gl_fail(ld->err, ld->file, terr.line, "%s", terr.message);
	if (r == -E2BIG)
		return gl_fail(ld->err, ld->file, 0, "file too large");
	if (r < 0)
		return r;
	r = check_keys(ld, root, "the configuration", keys);
	if (r == 0)
		r = load_root(ld, root, &disabled, &n_disabled);
	toml_free(root);
	return r;
}

int gitleaks_load(struct scan_rules *rs, const char *file, const char *text, size_t len,
		  struct error *err)
{
	struct loader ld = { rs, file, err, 0 };
	error_clear(err);
	return load_text(&ld, text, len);
}

int gitleaks_load_file(struct scan_rules *rs, const char *file, struct error *err)
{
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r = fs_read_file(file, TOML_MAX_INPUT, &data, &len);
	if (r < 0)
		return gl_fail(err, file, 0, "cannot read the configuration: %s", strerror(-r));
	return gitleaks_load(rs, file, data, len, err);
}

int gitleaks_load_default(struct scan_rules *rs, struct error *err)
{
	return gitleaks_load(rs, "(default rules)", scan_default_rules_toml,
			     strlen(scan_default_rules_toml), err);
}
