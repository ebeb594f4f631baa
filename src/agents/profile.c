/* Agent profiles: see agents/profile.h and docs/AGENTS.md. */
#include "util/common.h"

#include "agents/profile.h"
#include "secrets/dotenv.h"
#include "util/fs.h"
#include "util/strv.h"
#include "util/toml.h"

#include <dirent.h>

struct agent_builtin {
	const char *name;
	const char *text;
};

#include "agents_builtin.h"

/* What an entry of a list holds, for the parser. */
enum item_kind { ITEM_ENV, ITEM_ALLOW, ITEM_FILE, ITEM_STATE };

static const struct {
	const char *list; /* the key of the array of tables */
	const char *key;  /* the key that names an entry */
	const char *keys; /* every key an entry may have, " "-separated */
} kinds[] = {
	[ITEM_ENV] = { "env", "name", " name value when why " },
	[ITEM_ALLOW] = { "allow", "domain", " domain why " },
	[ITEM_FILE] = { "file", "path", " path content mode why " },
	[ITEM_STATE] = { "state", "path", " path why " },
};

static bool lower_or_digit(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool agent_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > AGENT_NAME_MAX || !lower_or_digit(name[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!lower_or_digit(name[i]) && name[i] != '-' && name[i] != '_')
			return false;
	return true;
}

bool agent_path_valid(const char *path)
{
	size_t n = strlen(path);
	if (n == 0 || n > AGENT_PATH_MAX || path[0] == '/' || path[n - 1] == '/')
		return false;
	for (const char *c = path; *c; c++)
		if (*c < 0x21 || *c > 0x7e)
			return false;
	for (const char *seg = path; *seg;) {
		size_t l = strcspn(seg, "/");
		if (l == 0 || (l == 1 && seg[0] == '.') ||
		    (l == 2 && seg[0] == '.' && seg[1] == '.'))
			return false;
		seg += l + (seg[l] == '/');
	}
	return true;
}

static void list_free(struct agent_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].value);
		free(l->v[i].why);
	}
	free(l->v);
	*l = (struct agent_list){ 0 };
}

struct agent_profile *agent_profile_free(struct agent_profile *p)
{
	if (!p)
		return NULL;
	free(p->name);
	free(p->file);
	free(p->description);
	for (char **c = p->commands; c && *c; c++)
		free(*c);
	free(p->commands);
	for (char **c = p->packages; c && *c; c++)
		free(*c);
	free(p->packages);
	list_free(&p->env);
	list_free(&p->allow);
	list_free(&p->files);
	list_free(&p->state);
	free(p);
	return NULL;
}

/* v as a string of at most max bytes, or an error at v's line. */
static int want_string(const struct toml_value *v, const char *key, size_t max, const char *file,
		       const char **ret, struct error *err)
{
	/* -EINVAL spelled out: the analyzer cannot see what error_set returns. */
	if (v->type != TOML_STRING) {
		error_set(err, -EINVAL, file, v->line, "'%s' must be a string, not %s", key,
			  toml_type_name(v->type));
		return -EINVAL;
	}
	if (v->str.len > max) {
		error_set(err, -EINVAL, file, v->line, "'%s' is longer than %zu bytes", key, max);
		return -EINVAL;
	}
	*ret = v->str.s;
	return 0;
}

/* An array of names (commands, packages) into a new NULL-terminated
 * vector. */
static int parse_names(const struct toml_value *v, const char *key, const char *file, char ***ret,
		       struct error *err)
{
	bool packages = STREQ(key, "packages"); /* "@scope/name" */
	if (v->type != TOML_ARRAY || v->arr.of_tables)
		return error_set(err, -EINVAL, file, v->line, "'%s' must be an array of strings",
				 key);
	if (v->arr.n > AGENT_ITEMS_MAX)
		return error_set(err, -EINVAL, file, v->line, "'%s' has more than %d entries", key,
				 AGENT_ITEMS_MAX);
	char **out = calloc(v->arr.n + 1, sizeof(*out));
	if (!out)
		return -ENOMEM;
	*ret = out; /* freed with the profile, even half full */
	for (size_t i = 0; i < v->arr.n; i++) {
		const struct toml_value *s = v->arr.items[i];
		const char *str = NULL;
		int r = want_string(s, key, 214, file, &str, err);
		if (r < 0)
			return r;
		bool bad = !str[0] || (!packages && strchr(str, '/'));
		for (const char *c = str; *c; c++)
			bad |= *c <= ' ' || *c > '~';
		if (bad)
			return error_set(err, -EINVAL, file, s->line,
					 "'%s': '%s' is not a command or package name", key, str);
		if (!(out[i] = strdup(str)))
			return -ENOMEM;
	}
	return 0;
}

/* The checks of one entry's naming key. */
static int check_item_name(enum item_kind k, const struct toml_value *v, const char *name,
			   const char *file, struct error *err)
{
	if (k == ITEM_ENV && !dotenv_name_valid(name))
		return error_set(err, -EINVAL, file, v->line,
				 "invalid variable name '%s' (letters, digits and '_', not "
				 "starting with a digit)",
				 name);
	if ((k == ITEM_FILE || k == ITEM_STATE) && !agent_path_valid(name))
		return error_set(err, -EINVAL, file, v->line,
				 "'%s' is not a normalized path relative to the box home", name);
	if (k == ITEM_ALLOW && (!name[0] || strpbrk(name, " \t/")))
		return error_set(err, -EINVAL, file, v->line, "invalid domain pattern '%s'", name);
	return 0;
}

/* One key of an entry (other than its naming key) into it. */
static int parse_item_key(enum item_kind k, const struct toml_kv *kv, const char *file,
			  struct agent_item *it, struct error *err)
{
	const char *s = NULL;
	int r;
	if (STREQ(kv->key, "when")) {
		if (kv->val->type != TOML_STRING || !STREQ(kv->val->str.s, "config"))
			return error_set(err, -EINVAL, file, kv->val->line,
					 "'when' must be \"config\" (set only with --config)");
		it->only_with_config = true;
		return 0;
	}
	if (STREQ(kv->key, "mode")) {
		if (kv->val->type != TOML_INT || kv->val->i < 0 || kv->val->i > 0777)
			return error_set(err, -EINVAL, file, kv->val->line,
					 "'mode' must be an integer from 0 to 0o777");
		it->mode = (unsigned)kv->val->i;
		return 0;
	}
	size_t max = STREQ(kv->key, "content") ? AGENT_CONTENT_MAX : AGENT_VALUE_MAX;
	if ((r = want_string(kv->val, kv->key, max, file, &s, err)) < 0)
		return r;
	char **slot = STREQ(kv->key, "why") ? &it->why : &it->value;
	if (!(*slot = strdup(s)))
		return -ENOMEM;
	return 0;
}

static bool key_allowed(enum item_kind k, const char *key)
{
	size_t n = strlen(key);
	for (const char *p = kinds[k].keys; (p = strstr(p, key)); p++)
		if (p[-1] == ' ' && p[n] == ' ')
			return true;
	return false;
}

/* One [[list]] entry t into it. */
static int parse_item(enum item_kind k, const struct toml_value *t, const char *file,
		      struct agent_item *it, struct error *err)
{
	const struct toml_value *nv = toml_get(t, kinds[k].key);
	const char *name = NULL;
	int r;
	it->line = t->line;
	it->mode = 0644;
	if (!nv)
		return error_set(err, -EINVAL, file, t->line, "[[%s]] without '%s'", kinds[k].list,
				 kinds[k].key);
	if ((r = want_string(nv, kinds[k].key, AGENT_VALUE_MAX, file, &name, err)) < 0 ||
	    (r = check_item_name(k, nv, name, file, err)) < 0)
		return r;
	if (!(it->name = strdup(name)))
		return -ENOMEM;
	for (size_t i = 0; i < t->tab.n; i++) {
		const struct toml_kv *kv = &t->tab.kv[i];
		if (!key_allowed(k, kv->key))
			return error_set(err, -EINVAL, file, kv->val->line,
					 "unknown key '%s' in [[%s]]", kv->key, kinds[k].list);
		if (kv->val != nv && (r = parse_item_key(k, kv, file, it, err)) < 0)
			return r;
	}
	if (k == ITEM_ENV && !it->value)
		return error_set(err, -EINVAL, file, t->line, "[[env]] '%s' without 'value'", name);
	if (k == ITEM_FILE && !it->value)
		return error_set(err, -EINVAL, file, t->line, "[[file]] '%s' without 'content'",
				 name);
	return 0;
}

/* The entries of [[list]] v into l; a name twice is an error. */
static int parse_list(enum item_kind k, const struct toml_value *v, const char *file,
		      struct agent_list *l, struct error *err)
{
	if (v->type != TOML_ARRAY || (v->arr.n && v->arr.items[0]->type != TOML_TABLE))
		return error_set(err, -EINVAL, file, v->line,
				 "'%s' must be an array of tables ([[%s]])", kinds[k].list,
				 kinds[k].list);
	if (v->arr.n > AGENT_ITEMS_MAX)
		return error_set(err, -EINVAL, file, v->line, "more than %d [[%s]] entries",
				 AGENT_ITEMS_MAX, kinds[k].list);
	if (!(l->v = calloc(v->arr.n ? v->arr.n : 1, sizeof(*l->v))))
		return -ENOMEM;
	for (size_t i = 0; i < v->arr.n; i++) {
		const struct toml_value *t = v->arr.items[i];
		int r;
		if (t->type != TOML_TABLE)
			return error_set(err, -EINVAL, file, t->line, "'%s' must hold tables",
					 kinds[k].list);
		r = parse_item(k, t, file, &l->v[l->n], err);
		l->n++; /* freed with the list, even half full */
		if (r < 0)
			return r;
		for (size_t j = 0; j + 1 < l->n; j++)
			if (STREQ(l->v[j].name, l->v[i].name))
				return error_set(err, -EINVAL, file, t->line,
						 "'%s' is already in [[%s]] (line %u)",
						 l->v[i].name, kinds[k].list, l->v[j].line);
	}
	return 0;
}

/* One key of the profile's top level into p. */
static int parse_top(const struct toml_kv *kv, const char *file, struct agent_profile *p,
		     struct error *err)
{
	const char *s = NULL;
	int r;
	if (STREQ(kv->key, "description")) {
		if ((r = want_string(kv->val, kv->key, 1024, file, &s, err)) < 0)
			return r;
		return (p->description = strdup(s)) ? 0 : -ENOMEM;
	}
	if (STREQ(kv->key, "commands"))
		return parse_names(kv->val, kv->key, file, &p->commands, err);
	if (STREQ(kv->key, "packages"))
		return parse_names(kv->val, kv->key, file, &p->packages, err);
	struct agent_list *lists[] = { &p->env, &p->allow, &p->files, &p->state };
	for (size_t k = 0; k < ELEMENTSOF(kinds); k++)
		if (STREQ(kv->key, kinds[k].list))
			return parse_list((enum item_kind)k, kv->val, file, lists[k], err);
	return error_set(err, -EINVAL, file, kv->val->line, "unknown key '%s'", kv->key);
}

int agent_profile_parse(const char *name, const char *data, size_t len, const char *file,
			struct agent_profile **ret_profile, struct error *err)
{
	struct toml_value *root = NULL;
	struct agent_profile *p;
	int r;
	if (len > AGENT_FILE_MAX)
		return error_set(err, -E2BIG, file, 0, "larger than %d bytes", AGENT_FILE_MAX);
	if (!agent_name_valid(name))
		return error_set(err, -EINVAL, file, 0, "'%s' is not a profile name ([a-z0-9_-])",
				 name);
	if ((r = toml_parse(data, len, file, &root, err)) < 0)
		return r;
	if (!(p = calloc(1, sizeof(*p))) || !(p->name = strdup(name)) ||
	    !(p->file = strdup(file ? file : name))) {
		toml_free(root);
		agent_profile_free(p);
		return -ENOMEM;
	}
	for (size_t i = 0; i < root->tab.n && r >= 0; i++)
		r = parse_top(&root->tab.kv[i], file, p, err);
	toml_free(root);
	if (r < 0) {
		agent_profile_free(p);
		return r;
	}
	*ret_profile = p;
	return 0;
}

const char *agent_builtin_name(size_t i)
{
	return i < ELEMENTSOF(agents_builtin) ? agents_builtin[i].name : NULL;
}

static const struct agent_builtin *builtin(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(agents_builtin); i++)
		if (STREQ(agents_builtin[i].name, name))
			return &agents_builtin[i];
	return NULL;
}

int agent_profile_load(const char *box_dir, const char *name, struct agent_profile **ret_profile,
		       struct error *err)
{
	char path[PATH_MAX], where[64];
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r = -ENOENT;

	if (!agent_name_valid(name))
		return error_set(err, -ENOENT, NULL, 0, "no agent profile '%s'", name);
	if (box_dir && snprintf(path, sizeof(path), "%s/%s/%s.toml", box_dir, AGENT_DIR, name) <
			   (int)sizeof(path))
		r = fs_read_file(path, AGENT_FILE_MAX, &data, &len);
	if (r == -EFBIG)
		return error_set(err, -E2BIG, path, 0, "larger than %d bytes", AGENT_FILE_MAX);
	if (r < 0 && r != -ENOENT)
		return error_errno(err, r, "read '%s'", path);
	if (r >= 0)
		return agent_profile_parse(name, data, len, path, ret_profile, err);
	const struct agent_builtin *b = builtin(name);
	if (!b)
		return error_set(err, -ENOENT, NULL, 0, "no agent profile '%s'", name);
	snprintf(where, sizeof(where), "built-in agents/%s.toml", name);
	return agent_profile_parse(name, b->text, strlen(b->text), where, ret_profile, err);
}

void agent_profiles_free(struct agent_profile **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		agent_profile_free(v[i]);
	free(v);
}

static bool is_profile_file(const char *name)
{
	size_t n = strlen(name);
	char base[AGENT_NAME_MAX + 1];
	if (n <= 5 || n - 5 > AGENT_NAME_MAX || !STREQ(name + n - 5, ".toml"))
		return false;
	memcpy(base, name, n - 5);
	base[n - 5] = '\0';
	return agent_name_valid(base);
}

/* The names of every profile: built-in, and box_dir/agents's files. */
static int all_names(const char *box_dir, struct strv *names)
{
	char path[PATH_MAX];
	char **files = NULL;
	size_t nfiles = 0;
	int r = 0;
	for (size_t i = 0; i < ELEMENTSOF(agents_builtin) && r == 0; i++)
		r = strv_push(names, agents_builtin[i].name);
	if (r < 0 || !box_dir || path_join(path, sizeof(path), box_dir, AGENT_DIR) < 0)
		return r;
	_cleanup_close_ int dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return errno == ENOENT ? 0 : -errno;
	if ((r = fs_dir_names(dir, is_profile_file, AGENT_ITEMS_MAX, &files, &nfiles)) < 0)
		return r;
	for (size_t i = 0; i < nfiles && r == 0; i++) {
		files[i][strlen(files[i]) - 5] = '\0';
		if (!builtin(files[i]))
			r = strv_push(names, files[i]);
	}
	strv_free_n(files, nfiles);
	return r;
}

int agent_profiles_load_all(const char *box_dir, struct agent_profile ***ret_v, size_t *ret_n,
			    struct error *err)
{
	struct strv names = { 0 };
	struct agent_profile **v = NULL;
	size_t n = 0;
	int r = all_names(box_dir, &names);
	if (r < 0)
		error_errno(err, r, "list the agent profiles of '%s'", box_dir);
	else if (!(v = calloc(names.n + 1, sizeof(struct agent_profile *))))
		r = -ENOMEM;
	for (; r >= 0 && n < names.n; n++)
		r = agent_profile_load(box_dir, names.v[n], &v[n], err);
	strv_free(&names);
	if (r < 0) {
		agent_profiles_free(v, n);
		return r;
	}
	*ret_v = v;
	*ret_n = n;
	return 0;
}

static bool in_list(char *const *list, const char *name)
{
	for (; list && *list; list++)
		if (STREQ(*list, name))
			return true;
	return false;
}

/* name without a directory. */
static const char *base_name(const char *name)
{
	const char *s = strrchr(name, '/');
	return s ? s + 1 : name;
}

/* The package a runner's argv runs: its first argument that is not an
 * option, after "run" (pipx) or "dlx"/"exec" (pnpm, npm). NULL when argv is
 * not a package runner's. */
static const char *runner_package(char *const *argv)
{
	/* A runner, and the verb it needs ("" none) before the package. */
	static const char *const runners[][2] = {
		{ "npx", "" },     { "bunx", "" },    { "pnpx", "" },
		{ "uvx", "" },     { "pipx", "run" }, { "pnpm", "dlx" },
		{ "npm", "exec" }, { "yarn", "dlx" }, { "bun", "x" },
	};
	const char *cmd = base_name(argv[0]);
	size_t i = 0;
	for (size_t k = 0; k < ELEMENTSOF(runners) && i == 0; k++)
		if (STREQ(cmd, runners[k][0]))
			i = !runners[k][1][0]                          ? 1
			    : argv[1] && STREQ(argv[1], runners[k][1]) ? 2
								       : 0;
	if (i == 0)
		return NULL;
	for (; argv[i]; i++) {
		if (STREQ(argv[i], "--"))
			return argv[i + 1];
		if (argv[i][0] != '-')
			return argv[i];
	}
	return NULL;
}

/* pkg without its version: "@openai/codex@0.171.0" -> "@openai/codex",
 * "aider-chat==0.86" -> "aider-chat", into buf. */
static const char *strip_version(const char *pkg, char *buf, size_t size)
{
	size_t n = strcspn(pkg[0] == '@' ? pkg + 1 : pkg, "@=<>~![ ") + (pkg[0] == '@');
	if (n >= size)
		return NULL;
	memcpy(buf, pkg, n);
	buf[n] = '\0';
	return buf;
}

ssize_t agent_pick(char *const *argv, struct agent_profile *const *v, size_t n)
{
	char buf[256];
	const char *pkg, *cmd;
	if (!argv || !argv[0])
		return -1;
	cmd = base_name(argv[0]);
	for (size_t i = 0; i < n; i++)
		if (in_list(v[i]->commands, cmd))
			return (ssize_t)i;
	if (!(pkg = runner_package(argv)) || !(pkg = strip_version(pkg, buf, sizeof(buf))))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (in_list(v[i]->packages, pkg) || in_list(v[i]->commands, pkg))
			return (ssize_t)i;
	return -1;
}
