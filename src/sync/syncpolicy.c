#include "util/common.h"

#include "util/pathglob.h"
#include "sync/syncpolicy.h"
#include "util/toml.h"
#include "util/fs.h"
#include "util/size.h"
#include "util/strv.h"

#include <stdarg.h>
#include <strings.h>

/* Execute on the host: a file the host runs (or that names what it runs)
 * on opening, entering or inspecting the project (editor, shell, git,
 * package manager or tool-version manager start-up), rather than when the
 * user runs the project's code. Always applied (a policy's approve list
 * adds to it), matched at any depth and without regard to case. The
 * reason is what the user sees. Mirrored in docs/SYNC.md. */
static const struct syncpolicy_exec exec_on_host[] = {
	{ ".gitmodules", "git runs a submodule's 'update = !command' and fetches its URL" },
	{ ".gitattributes",
	  "names the filter, diff and merge drivers git runs on status and diff" },
	{ ".envrc", "direnv runs it on entering the directory" },
	{ ".env",
	  "loaded on entering by direnv (dotenv), mise and editors: sets PATH, LD_PRELOAD" },
	{ ".env.*",
	  "loaded on entering by direnv (dotenv), mise and editors: sets PATH, LD_PRELOAD" },
	{ ".vscode", "VS Code runs its tasks on folder open and the programs its settings name" },
	{ "*.code-workspace", "a VS Code workspace: settings and tasks run on opening" },
	{ ".idea", "JetBrains IDEs run its startup tasks and the tools it names on opening" },
	{ ".devcontainer", "a dev container's initializeCommand runs on the host on opening" },
	{ ".devcontainer.json", "a dev container's initializeCommand runs on the host on opening" },
	{ ".husky", "git hooks (core.hooksPath) run on commit, checkout, merge" },
	{ ".pre-commit-config.yaml", "pre-commit runs the hooks it names on every commit" },
	{ "lefthook*", "lefthook runs the git hooks it names" },
	{ ".lefthook*", "lefthook runs the git hooks it names" },
	{ ".github", "GitHub workflows and actions run with the repository's secrets once pushed" },
	{ ".gitlab-ci.yml", "GitLab CI runs it with the project's secrets once pushed" },
	{ ".gitlab", "GitLab CI includes and templates run once pushed" },
	{ ".circleci", "CircleCI runs it with the project's secrets once pushed" },
	{ "Jenkinsfile", "Jenkins runs it with the job's credentials once pushed" },
	{ ".travis.yml", "Travis CI runs it with the project's secrets once pushed" },
	{ "azure-pipelines.yml", "Azure Pipelines runs it with the project's secrets once pushed" },
	{ "bitbucket-pipelines.yml", "Bitbucket Pipelines runs it once pushed" },
	{ ".buildkite", "Buildkite runs its pipeline once pushed" },
	{ ".drone.yml", "Drone CI runs it once pushed" },
	{ "*.pth", "Python runs its 'import' lines at every interpreter start-up" },
	{ "sitecustomize.py", "Python imports it at every interpreter start-up" },
	{ "usercustomize.py", "Python imports it at every interpreter start-up" },
	{ "**/bin/activate*", "a virtualenv's activate script, run by the shell that sources it" },
	{ "**/Scripts/activate*",
	  "a virtualenv's activate script, run by the shell that sources it" },
	{ "pyvenv.cfg", "names the interpreter a virtualenv runs" },
	{ "mise.toml", "mise runs its tasks, hooks and env scripts on entering" },
	{ ".mise.toml", "mise runs its tasks, hooks and env scripts on entering" },
	{ "mise.*.toml", "mise runs its tasks, hooks and env scripts on entering" },
	{ ".mise.*.toml", "mise runs its tasks, hooks and env scripts on entering" },
	{ ".mise", "mise's config dir: tasks, hooks, env scripts run on entering" },
	{ "**/mise/config.toml", "mise runs its tasks, hooks and env scripts on entering" },
	{ "**/.config/mise*", "mise runs its tasks, hooks and env scripts on entering" },
	{ ".rtx.toml", "rtx (mise) runs its hooks and env scripts on entering" },
	{ ".tool-versions", "asdf and mise install and run the plugins and versions it names" },
	{ ".nvmrc", "the node version nvm or fnm switches to (and installs) on entering" },
	{ ".node-version", "the node version a version manager runs on entering" },
	{ ".python-version", "the interpreter pyenv runs (CVE-2022-35861: a path here ran code)" },
	{ ".ruby-version", "the ruby rbenv or chruby runs on entering" },
	{ "rust-toolchain", "the toolchain rustup installs and runs (a path names any binary)" },
	{ "rust-toolchain.toml",
	  "the toolchain rustup installs and runs (a path names any binary)" },
	{ "**/.cargo/config",
	  "cargo's rustc-wrapper and runners, run by rust-analyzer on opening" },
	{ "**/.cargo/config.toml",
	  "cargo's rustc-wrapper and runners, run by rust-analyzer on opening" },
	{ ".npmrc",
	  "npm's script-shell, node-options and git settings, read by every npm command" },
	{ ".yarnrc", "yarn's yarn-path: the script every yarn command runs" },
	{ ".yarnrc.yml", "yarn's yarnPath and plugins: run by every yarn command" },
	{ ".pnpmfile.*", "pnpm runs its hooks on every install" },
	{ "bunfig.toml", "bun runs its preload scripts on every bun command" },
	{ "gradle-wrapper.properties",
	  "the Gradle distribution an IDE downloads and runs on opening" },
	{ ".mvn", "Maven wrapper and JVM settings an IDE runs on opening" },
	{ "Directory.Build.props", "MSBuild runs its tasks when an editor loads the project" },
	{ "Directory.Build.targets", "MSBuild runs its tasks when an editor loads the project" },
	{ ".clangd", "clangd's compile flags on opening a file (can load plugins)" },
	{ ".dir-locals.el", "Emacs evaluates its variables (eval forms) on opening a file" },
	{ ".exrc", "vim and neovim run it on start-up (exrc)" },
	{ ".nvimrc", "neovim runs it on start-up (exrc)" },
	{ ".nvim.lua", "neovim runs it on start-up (exrc)" },
	{ ".hg", "Mercurial runs the hooks of .hg/hgrc on status and diff" },
	{ ".bashrc", "a shell start-up file" },
	{ ".bash_profile", "a shell start-up file" },
	{ ".bash_login", "a shell start-up file" },
	{ ".bash_logout", "a shell start-up file" },
	{ ".profile", "a shell start-up file" },
	{ ".zshrc", "a shell start-up file" },
	{ ".zshenv", "a shell start-up file" },
	{ ".zprofile", "a shell start-up file" },
	{ ".zlogin", "a shell start-up file" },
	{ ".zlogout", "a shell start-up file" },
	{ ".cshrc", "a shell start-up file" },
	{ ".tcshrc", "a shell start-up file" },
	{ ".kshrc", "a shell start-up file" },
	{ ".inputrc", "readline's start-up file (key bindings run commands)" },
	{ "config.fish", "a shell start-up file" },
};

static const char *const default_blocked[] = {
	".env", ".pem", ".key", ".p12", ".pfx", ".jks", ".keystore", ".secret", ".credentials",
};

#define DEFAULT_MAX_SIZE      (10ULL << 20)
#define DEFAULT_AUTO_INTERVAL 30

void syncpolicy_free(struct sync_policy *p)
{
	strv_free_n(p->allow, p->nallow);
	strv_free_n(p->deny, p->ndeny);
	strv_free_n(p->approve, p->napprove);
	strv_free_n(p->blocked_ext, p->nblocked_ext);
	free(p->gitleaks_config);
	memset(p, 0, sizeof(*p));
}

static int strv_dup(const char *const *src, size_t n, char ***ret, size_t *ret_n)
{
	int r = strv_dup_n(src, n, ret);
	if (r == 0)
		*ret_n = n;
	return r;
}

int syncpolicy_defaults(struct sync_policy *p)
{
	struct sync_policy d = { .max_size = DEFAULT_MAX_SIZE,
				 .auto_interval = DEFAULT_AUTO_INTERVAL };
	static const char *const all[] = { "**" };
	int r;
	if ((r = strv_dup(all, 1, &d.allow, &d.nallow)) < 0 ||
	    (r = strv_dup(NULL, 0, &d.deny, &d.ndeny)) < 0 ||
	    (r = strv_dup(NULL, 0, &d.approve, &d.napprove)) < 0 ||
	    (r = strv_dup(default_blocked, ELEMENTSOF(default_blocked), &d.blocked_ext,
			  &d.nblocked_ext)) < 0) {
		syncpolicy_free(&d);
		return r;
	}
	*p = d;
	return 0;
}

/* A mistake at line of the text: -EINVAL with the formatted problem. */
_printf_(3, 4) static int fail(struct error *err, unsigned line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = error_setv(err, -EINVAL, NULL, line, fmt, ap);
	va_end(ap);
	return r;
}

static int get_list(const struct toml_value *v, const char *key, bool globs, char ***ret,
		    size_t *ret_n, struct error *err)
{
	if (v->type != TOML_ARRAY)
		return fail(err, v->line, "sync.%s must be an array of strings, not %s", key,
			    toml_type_name(v->type));
	if (v->arr.n > SYNCPOLICY_MAX_LIST)
		return fail(err, v->line, "sync.%s has more than %d entries", key,
			    SYNCPOLICY_MAX_LIST);
	const char *items[SYNCPOLICY_MAX_LIST];
	for (size_t i = 0; i < v->arr.n; i++) {
		const struct toml_value *it = v->arr.items[i];
		const char *why = NULL;
		if (it->type != TOML_STRING)
			return fail(err, it->line, "sync.%s must hold strings, not %s", key,
				    toml_type_name(it->type));
		if (globs && pathglob_valid(it->str.s, &why) < 0)
			return fail(err, it->line, "sync.%s: invalid pattern '%s': %s", key,
				    it->str.s, why);
		if (!globs && (it->str.len < 2 || it->str.s[0] != '.' || strchr(it->str.s, '/')))
			return fail(err, it->line,
				    "sync.%s: '%s' is not an extension (such as \".pem\")", key,
				    it->str.s);
		items[i] = it->str.s;
	}
	return strv_dup(items, v->arr.n, ret, ret_n) < 0 ? -ENOMEM : 0;
}

static int parse_size(const struct toml_value *v, uint64_t *ret, struct error *err)
{
	if (v->type == TOML_INT) {
		if (v->i <= 0)
			return fail(err, v->line, "sync.max_size must be positive");
		*ret = (uint64_t)v->i;
		return 0;
	}
	if (v->type != TOML_STRING)
		return fail(err, v->line, "sync.max_size must be a size such as \"10M\", not %s",
			    toml_type_name(v->type));
	int r = size_parse(v->str.s, UINT64_MAX >> 1, ret);
	if (r == -ERANGE)
		return fail(err, v->line, "sync.max_size: '%s' is too large", v->str.s);
	if (r < 0)
		return fail(err, v->line, "sync.max_size: invalid size '%s'", v->str.s);
	return 0;
}

static int apply_key(struct sync_policy *p, const struct toml_kv *kv, const char *base_dir,
		     struct error *err)
{
	const struct toml_value *v = kv->val;
	const char *k = kv->key;
	char ***list = NULL;
	size_t *nlist = NULL;
	bool globs = true;
	if (STREQ(k, "allow")) {
		list = &p->allow;
		nlist = &p->nallow;
	} else if (STREQ(k, "deny")) {
		list = &p->deny;
		nlist = &p->ndeny;
	} else if (STREQ(k, "approve")) {
		list = &p->approve;
		nlist = &p->napprove;
	} else if (STREQ(k, "blocked_extensions")) {
		list = &p->blocked_ext;
		nlist = &p->nblocked_ext;
		globs = false;
	}
	if (list) {
		char **nv = NULL;
		size_t nn = 0;
		int r = get_list(v, k, globs, &nv, &nn, err);
		if (r < 0)
			return r;
		strv_free_n(*list, *nlist);
		*list = nv;
		*nlist = nn;
		return 0;
	}
	if (STREQ(k, "max_size"))
		return parse_size(v, &p->max_size, err);
	if (STREQ(k, "auto_interval")) {
		if (v->type != TOML_INT || v->i < 1 || v->i > 86400)
			return fail(err, v->line,
				    "sync.auto_interval must be a number of seconds (1..86400)");
		p->auto_interval = (unsigned)v->i;
		return 0;
	}
	if (STREQ(k, "gitleaks_config")) {
		if (v->type != TOML_STRING || !v->str.len)
			return fail(err, v->line, "sync.gitleaks_config must be a file name");
		char path[PATH_MAX];
		if (v->str.s[0] == '/')
			snprintf(path, sizeof(path), "%s", v->str.s);
		else if (path_join(path, sizeof(path), base_dir ? base_dir : ".", v->str.s) < 0)
			return fail(err, v->line, "sync.gitleaks_config: path too long");
		free(p->gitleaks_config);
		p->gitleaks_config = strdup(path);
		return p->gitleaks_config ? 0 : -ENOMEM;
	}
	return fail(err, v->line, "unknown key 'sync.%s'", k);
}

int syncpolicy_parse(const char *text, size_t len, const char *base_dir, struct sync_policy *p,
		     struct error *err)
{
	struct toml_value *root = NULL;
	struct error te;
	struct sync_policy np;
	error_clear(err);
	int r = toml_parse(text, len, NULL, &root, &te);
	if (r == -EINVAL)
		return fail(err, te.line, "%s", te.message);
	if (r < 0)
		return r;
	if ((r = syncpolicy_defaults(&np)) < 0) {
		toml_free(root);
		return r;
	}
	const struct toml_value *sync = toml_get(root, "sync");
	if (sync && sync->type != TOML_TABLE)
		r = fail(err, sync->line, "'sync' must be a table");
	for (size_t i = 0; r == 0 && sync && sync->type == TOML_TABLE && i < sync->tab.n; i++)
		r = apply_key(&np, &sync->tab.kv[i], base_dir, err);
	toml_free(root);
	if (r < 0) {
		syncpolicy_free(&np);
		return r;
	}
	*p = np;
	return 0;
}

int syncpolicy_load(const char *box_dir, struct sync_policy *p, struct error *err)
{
	char path[PATH_MAX];
	char *text = NULL;
	size_t len = 0;
	error_clear(err);
	int r = path_join(path, sizeof(path), box_dir, "config.toml");
	if (r < 0)
		return error_set(err, r, box_dir, 0, "%s", "");
	r = fs_read_file(path, TOML_MAX_INPUT, &text, &len);
	if (r == -ENOENT)
		return syncpolicy_defaults(p);
	if (r < 0)
		return error_set(err, r, path, 0, "%s", "");
	r = syncpolicy_parse(text, len, box_dir, p, err);
	free(text);
	if (r < 0 && !error_isset(err))
		error_set(err, r, path, 0, "%s", "");
	else if (r < 0)
		snprintf(err->where, sizeof(err->where), "%s", path);
	if (r == 0)
		snprintf(p->source, sizeof(p->source), "%s", path);
	return r;
}

static const char *first_match(char *const *v, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++)
		if (pathglob_match(v[i], path))
			return v[i];
	return NULL;
}

const char *syncpolicy_denied(const struct sync_policy *p, const char *path)
{
	return first_match(p->deny, p->ndeny, path);
}

bool syncpolicy_allowed(const struct sync_policy *p, const char *path)
{
	return first_match(p->allow, p->nallow, path) != NULL;
}

const char *syncpolicy_needs_approval(const struct sync_policy *p, const char *path,
				      const char **ret_reason)
{
	for (size_t i = 0; i < ELEMENTSOF(exec_on_host); i++)
		if (pathglob_match_nocase(exec_on_host[i].pattern, path)) {
			*ret_reason = exec_on_host[i].reason;
			return exec_on_host[i].pattern;
		}
	*ret_reason = "in the policy's approve list";
	return first_match(p->approve, p->napprove, path);
}

const struct syncpolicy_exec *syncpolicy_exec_on_host(size_t *ret_n)
{
	*ret_n = ELEMENTSOF(exec_on_host);
	return exec_on_host;
}

const char *syncpolicy_blocked_ext(const struct sync_policy *p, const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t bn = strlen(base);
	for (size_t i = 0; i < p->nblocked_ext; i++) {
		const char *e = p->blocked_ext[i];
		size_t en = strlen(e);
		if (bn >= en && strcasecmp(base + bn - en, e) == 0)
			return e;
		if (bn > en && strncasecmp(base, e, en) == 0 && base[en] == '.')
			return e;
	}
	return NULL;
}
