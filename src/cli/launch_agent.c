/* The agent of a run: see cli/launch_agent.h and docs/AGENTS.md. */
#include "util/common.h"

#include "agents/profile.h"
#include "box/boxenv.h"
#include "box/rootfs.h"
#include "cli/launch.h"
#include "cli/launch_agent.h"
#include "cli/launch_net.h"
#include "net/netpolicy.h"
#include "secrets/dotenv.h"
#include "secrets/secrets.h"
#include "state/box.h"
#include "util/array.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/strv.h"

#include <stdarg.h>

#define ENV_FILE_MAX (256 << 10)

/* One variable the run sets that is not a secret. */
struct setting {
	char *name, *value;
	const char *why;  /* the profile's reason, or NULL */
	char source[512]; /* "profile claude", "PATH:LINE", "--setenv" */
	bool from_profile;
};

#define SETTINGS_MAX (AGENT_ITEMS_MAX * 2 + AGENT_SETENV_MAX)

struct launch_agent {
	struct agent_profile *profile; /* NULL: none */
	char picked[128];              /* why this profile */
	struct setting *set; /* grown as settings come (a start touches no more than it uses) */
	size_t nset;
	struct net_opts net;
};

int agent_opts_parse(struct agent_opts *o, int c, const char *arg)
{
	char name[DOTENV_NAME_MAX + 1];
	const char *eq, *why;
	switch (c) {
	case AGENT_OPT_AGENT:
		if (!STREQ(arg, "none") && !agent_name_valid(arg))
			return launch_usage_error(
			    "invalid agent profile name '%s' (a-z, 0-9, '-' and '_')", arg);
		o->agent = arg;
		return 0;
	case AGENT_OPT_EXPLAIN: o->explain = true; return 0;
	case AGENT_OPT_SETENV:
		eq = strchr(arg, '=');
		if (!eq || eq == arg || (size_t)(eq - arg) > DOTENV_NAME_MAX)
			return launch_usage_error("--setenv: NAME=VALUE expected");
		memcpy(name, arg, (size_t)(eq - arg));
		name[eq - arg] = '\0';
		if (!dotenv_name_valid(name))
			return launch_usage_error(
			    "--setenv: invalid variable name '%s' (letters, digits and '_', "
			    "not starting with a digit)",
			    name);
		if ((why = boxenv_reserved(name)))
			return launch_usage_error("--setenv: cannot set '%s': %s", name, why);
		if (strlen(eq + 1) > AGENT_VALUE_MAX)
			return launch_usage_error("--setenv %s: the value is longer than %d bytes",
						  name, AGENT_VALUE_MAX);
		if (o->nsetenv == AGENT_SETENV_MAX)
			return launch_usage_error("too many --setenv options");
		o->setenv[o->nsetenv++] = arg;
		return 0;
	default: return launch_usage_error("unknown option");
	}
}

/* Set name=value (a later setting of a name replaces the earlier one). */
static int add_setting(struct launch_agent *a, const char *name, size_t nlen, const char *value,
		       const char *source, const char *why, bool from_profile)
{
	struct setting *s = NULL;
	for (size_t i = 0; i < a->nset && !s; i++)
		if (strlen(a->set[i].name) == nlen && strncmp(a->set[i].name, name, nlen) == 0)
			s = &a->set[i];
	if (!s && a->nset == SETTINGS_MAX)
		return -E2BIG;
	if (!s) {
		if (array_grow_counted((void **)&a->set, a->nset, sizeof(*a->set)) < 0)
			return -ENOMEM;
		s = &a->set[a->nset];
		*s = (struct setting){ .name = strndup(name, nlen) };
		if (!s->name)
			return -ENOMEM;
		a->nset++;
	}
	free(s->value);
	if (!(s->value = strdup(value)))
		return -ENOMEM;
	snprintf(s->source, sizeof(s->source), "%s", source);
	s->why = why;
	s->from_profile = from_profile;
	return 0;
}

/* The profile: --agent NAME, none, or the one argv picks. */
static int pick_profile(const struct agent_opts *o, char *const *argv, const char *box_dir,
			struct launch_agent *a)
{
	struct error err = { 0 };
	char msg[ERROR_FORMAT_MAX];
	struct agent_profile **v = NULL;
	size_t n = 0;
	int r;
	if (o->agent && STREQ(o->agent, "none"))
		return 0;
	if (o->agent) {
		snprintf(a->picked, sizeof(a->picked), "--agent %s", o->agent);
		r = agent_profile_load(box_dir, o->agent, &a->profile, &err);
	} else if ((r = agent_profiles_load_all(box_dir, &v, &n, &err)) == 0) {
		ssize_t i = argv ? agent_pick(argv, v, n) : -1;
		if (i >= 0 && argv) {
			a->profile = TAKE_PTR(v[i]);
			const char *base =
			    strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
			bool cmd = false;
			for (char **c = a->profile->commands; c && *c && !cmd; c++)
				cmd = STREQ(*c, base);
			snprintf(a->picked, sizeof(a->picked),
				 cmd ? "the command '%s'" : "what '%s' runs", base);
		}
		agent_profiles_free(v, n);
	}
	if (r == -ENOENT && o->agent)
		log_error(
		    "no agent profile '%s' (built-in: claude, codex, openclaw, aider, gemini; "
		    "or %s/%s.toml in the box's state dir)",
		    o->agent, AGENT_DIR, o->agent);
	else if (r < 0)
		log_error("%s%s", err.line ? "" : "bad agent profile: ",
			  error_format(&err, msg, sizeof(msg)));
	return r;
}

/* The value of profile entry e: "{config}" at its start is where --config
 * shows its DIR in the box (config: the run's, NULL: the default). */
static int env_value(const struct agent_item *e, const char *config, char **ret)
{
	static const char mark[] = "{config}";
	if (strncmp(e->value, mark, sizeof(mark) - 1) != 0)
		return (*ret = strdup(e->value)) ? 0 : -ENOMEM;
	return asprintf(ret, "%s%s", config ? config : ROOTFS_CONFIG, e->value + sizeof(mark) - 1) <
		       0
		   ? -ENOMEM
		   : 0;
}

/* The profile's variables and domains, checked against clawbox's rules.
 * config: where the run's --config DIR is in the box, NULL without one. */
static int apply_profile(struct launch_agent *a, const char *config)
{
	const struct agent_profile *p = a->profile;
	char source[64];
	int r = 0;
	if (!p)
		return 0;
	snprintf(source, sizeof(source), "profile %s", p->name);
	for (size_t i = 0; i < p->env.n && r == 0; i++) {
		const struct agent_item *e = &p->env.v[i];
		const char *why = boxenv_reserved(e->name);
		_cleanup_free_ char *value = NULL;
		if (why) {
			log_error("%s:%u: cannot set '%s': %s", p->file, e->line, e->name, why);
			return -EINVAL;
		}
		if ((e->only_with_config && !config) || (r = env_value(e, config, &value)) < 0)
			continue;
		r = add_setting(a, e->name, strlen(e->name), value, source, e->why, true);
	}
	for (size_t i = 0; i < p->allow.n && r == 0; i++) {
		const struct agent_item *d = &p->allow.v[i];
		struct netpolicy probe = { 0 };
		r = netpolicy_add_domain(&probe, d->name, true);
		netpolicy_free(&probe);
		if (r < 0) {
			log_error("%s:%u: invalid domain pattern '%s' (name or *.name, optional "
				  ":port)",
				  p->file, d->line, d->name);
			return -EINVAL;
		}
		if (a->net.nallow == NET_OPTS_MAX) {
			log_error("%s: too many domains with the --allow-domain options", p->file);
			return -E2BIG;
		}
		a->net.allow[a->net.nallow++] = d->name;
	}
	if (r < 0)
		log_error("cannot apply agent profile '%s': %s", p->name, strerror(-r));
	return r;
}

struct env_file_ctx {
	struct launch_agent *a;
	const char *path;
	struct error *err;
};

static int env_file_line(const char *name, const char *value, size_t len, unsigned line, void *p)
{
	struct env_file_ctx *c = p;
	char source[PATH_MAX + 32];
	const char *why = boxenv_reserved(name);
	if (why)
		return error_set(c->err, -EINVAL, c->path, line, "cannot set '%s': %s", name, why);
	if (strlen(value) != len)
		return error_set(c->err, -EINVAL, c->path, line, "'%s': a NUL byte in the value",
				 name);
	snprintf(source, sizeof(source), "%s:%u", c->path, line);
	int r = add_setting(c->a, name, strlen(name), value, source, NULL, false);
	return r < 0 ? error_errno(c->err, r, "set '%s'", name) : 0;
}

/* The box's env file (NAME=VALUE lines, the dotenv grammar), if any. */
static int load_env_file(struct launch_agent *a, const char *box_dir)
{
	char path[PATH_MAX], msg[ERROR_FORMAT_MAX];
	struct error err = { 0 };
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r;
	if (!box_dir || path_join(path, sizeof(path), box_dir, AGENT_ENV_FILE) < 0)
		return 0;
	r = fs_read_file(path, ENV_FILE_MAX, &data, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		log_error("cannot read '%s': %s", path, strerror(r == -EFBIG ? E2BIG : -r));
		return r;
	}
	struct env_file_ctx c = { .a = a, .path = path, .err = &err };
	r = dotenv_parse(data, len, path, env_file_line, &c, &err);
	if (r < 0)
		log_error("%s", error_format(&err, msg, sizeof(msg)));
	return r < 0 ? r : 0;
}

void launch_agent_freep(struct launch_agent **a)
{
	launch_agent_free(*a);
}

int launch_agent_prepare(const struct launch_opts *lo, const struct box *b,
			 struct launch_agent **ret)
{
	_cleanup_(launch_agent_freep) struct launch_agent *a = calloc(1, sizeof(*a));
	const struct agent_opts *o = &lo->agent;
	char *const *argv = lo->shell || !lo->argv || !lo->argv[0] ? NULL : lo->argv;
	const char *box_dir = b ? b->dir : NULL;
	int r;
	if (!a) {
		log_error("cannot prepare the agent: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	a->net = lo->net;
	if ((r = pick_profile(o, argv, box_dir, a)) < 0 ||
	    (r = apply_profile(a, lo->config_dir[0] ? lo->config_path : NULL)) < 0 ||
	    (r = load_env_file(a, box_dir)) < 0)
		return r;
	for (size_t i = 0; i < o->nsetenv && r == 0; i++) {
		const char *eq = strchr(o->setenv[i], '=');
		r = add_setting(a, o->setenv[i], (size_t)(eq - o->setenv[i]), eq + 1, "--setenv",
				NULL, false);
	}
	if (r < 0) {
		log_error("cannot hold the settings: %s", strerror(-r));
		return r;
	}
	*ret = TAKE_PTR(a);
	return 0;
}

const struct net_opts *launch_agent_net(const struct launch_agent *a)
{
	return &a->net;
}

struct launch_agent *launch_agent_free(struct launch_agent *a)
{
	if (!a)
		return NULL;
	for (size_t i = 0; i < a->nset; i++) {
		free(a->set[i].name);
		free(a->set[i].value);
	}
	free(a->set);
	agent_profile_free(a->profile);
	free(a);
	return NULL;
}

/* Open (making it, mode 0755, when absent) the directory path beneath dirfd,
 * one component at a time, never following a symlink (the box owns its home
 * and may have planted one). Returns the fd or -errno. */
static int open_dirs(int dirfd, const char *path, size_t n)
{
	char comp[AGENT_PATH_MAX + 1];
	int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	for (size_t at = 0; fd >= 0 && at < n;) {
		size_t l = strcspn(path + at, "/");
		if (l > n - at)
			l = n - at;
		memcpy(comp, path + at, l);
		comp[l] = '\0';
		if (mkdirat(fd, comp, 0755) < 0 && errno != EEXIST) {
			int e = -errno;
			close(fd);
			return e;
		}
		int next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int e = -errno;
		close(fd);
		if (next < 0)
			return e == -ELOOP ? -ENOTDIR : e;
		fd = next;
		at += l + 1;
	}
	return fd < 0 ? -errno : fd;
}

/* The file it beneath home (an fd): written when absent, kept when there.
 * 1 written, 0 kept, -errno. */
static int seed_file(int home, const struct agent_item *it)
{
	const char *slash = strrchr(it->name, '/');
	const char *base = slash ? slash + 1 : it->name;
	_cleanup_close_ int dir = open_dirs(home, it->name, slash ? (size_t)(slash - it->name) : 0);
	if (dir < 0)
		return dir;
	_cleanup_close_ int fd = openat(
	    dir, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, it->mode & 0777);
	if (fd < 0)
		return errno == EEXIST ? 0 : -errno;
	int r = fs_write_all(fd, it->value, strlen(it->value));
	if (r == 0 && fchmod(fd, it->mode & 0777) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dir, base, 0);
		return r;
	}
	return 1;
}

/* Remove path beneath home (an fd) when it is there: its directories
 * opened one at a time, never through a symlink (the box owns its home: a
 * link it planted is removed, not followed). 1 removed, 0 absent, -errno. */
static int remove_beneath(int home, const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	_cleanup_close_ int fd = fcntl(home, F_DUPFD_CLOEXEC, 3);
	char comp[AGENT_PATH_MAX + 1];
	for (const char *at = path; fd >= 0 && slash && at < slash;) {
		size_t l = strcspn(at, "/");
		snprintf(comp, sizeof(comp), "%.*s", (int)l, at);
		int next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0)
			return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? 0 : -errno;
		close(fd);
		fd = next;
		at += l + 1;
	}
	struct stat st;
	if (fd < 0)
		return -errno;
	if (fstatat(fd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	int r = S_ISDIR(st.st_mode) ? fs_remove_tree_at(fd, base)
				    : (unlinkat(fd, base, 0) < 0 ? -errno : 0);
	return r < 0 ? r : 1;
}

int launch_agent_reset(const struct box *b)
{
	struct agent_profile **v = NULL;
	size_t n = 0;
	struct error err;
	char home[PATH_MAX];
	int r = agent_profiles_load_all(b->dir, &v, &n, &err);
	if (r < 0) {
		log_error("%s", error_format(&err, home, sizeof(home)));
		return r;
	}
	_cleanup_close_ int fd = path_join(home, sizeof(home), b->data, "home") == 0
				     ? open(home, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
				     : -1;
	for (size_t i = 0; i < n && fd >= 0 && r >= 0; i++)
		for (size_t j = 0; j < v[i]->reset.n && r >= 0; j++) {
			const char *path = v[i]->reset.v[j].name;
			r = remove_beneath(fd, path);
			if (r > 0)
				printf("removed ~/%s from the box home (agent profile '%s': it "
				       "describes the workspace)\n",
				       path, v[i]->name);
			else if (r < 0)
				log_error("cannot remove ~/%s from the box home: %s", path,
					  strerror(-r));
		}
	agent_profiles_free(v, n);
	return r < 0 ? r : 0;
}

int launch_agent_seed(const struct launch_agent *a, const struct box *b)
{
	const struct agent_profile *p = a->profile;
	char home[PATH_MAX];
	if (!p || (p->files.n == 0 && p->state.n == 0))
		return 0;
	if (path_join(home, sizeof(home), b->data, "home") < 0)
		return -ENAMETOOLONG;
	_cleanup_close_ int fd = open(home, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		log_error("cannot open the box home '%s': %s", home, strerror(errno));
		return -errno;
	}
	for (size_t i = 0; i < p->state.n; i++) {
		int d = open_dirs(fd, p->state.v[i].name, strlen(p->state.v[i].name));
		if (d < 0) {
			log_error("agent profile '%s': cannot make '~/%s' in the box home: %s",
				  p->name, p->state.v[i].name, strerror(-d));
			return d;
		}
		close(d);
	}
	for (size_t i = 0; i < p->files.n; i++) {
		int r = seed_file(fd, &p->files.v[i]);
		if (r < 0) {
			log_error("agent profile '%s': cannot write '~/%s' in the box home: %s",
				  p->name, p->files.v[i].name, strerror(-r));
			return r;
		}
	}
	return 0;
}

int launch_agent_env(const struct launch_agent *a, const struct secrets *secrets, struct strv *env)
{
	int r = 0;
	for (size_t i = 0; i < a->nset && r == 0; i++) {
		const struct setting *s = &a->set[i];
		const struct secret *sec = secrets ? secrets_get(secrets, s->name) : NULL;
		if (sec && s->from_profile)
			continue; /* the secret replaces the profile's default */
		if (sec) {
			log_error("'%s' is both a setting (%s) and a secret of this run (%s): a "
				  "variable is one or the other",
				  s->name, s->source, secrets_source_name(sec->source));
			return -EINVAL;
		}
		r = strv_pushf(env, "%s=%s", s->name, s->value);
	}
	if (r < 0)
		log_error("cannot build the box's environment: %s", strerror(-r));
	return r;
}

json_t *launch_agent_json(const struct launch_agent *a)
{
	json_t *set = json_array(), *o;
	for (size_t i = 0; set && a && i < a->nset; i++)
		json_array_append_new(
		    set, json_pack("{s:s, s:s}", "name", a->set[i].name, "from", a->set[i].source));
	if (!a || !a->profile) {
		o = json_pack("{s:n, s:o}", "profile", "env", set);
		return o;
	}
	json_t *dom = json_array();
	for (size_t i = 0; dom && i < a->profile->allow.n; i++)
		json_array_append_new(dom, json_string(a->profile->allow.v[i].name));
	return json_pack("{s:s, s:s, s:s, s:o, s:o}", "profile", a->profile->name, "file",
			 a->profile->file, "picked_by", a->picked, "env", set, "allow", dom);
}

/* The box --explain reads profiles and the env file from: the one the
 * options name, when it exists (a box is never created here). */
static bool explain_box(const struct launch_opts *o, struct box *b)
{
	char state[PATH_MAX], dir[PATH_MAX], name[BOX_NAME_MAX + 1];
	if (box_state_dir(state, sizeof(state)) < 0)
		return false;
	if (o->box.box)
		snprintf(name, sizeof(name), "%s", o->box.box);
	else if (o->box.project && realpath(o->box.project, dir) &&
		 box_default_name(dir, name, sizeof(name)) == 0)
		; /* the project's default box */
	else if (o->box.project || !getcwd(dir, sizeof(dir)) ||
		 box_find_by_path(state, dir, name, sizeof(name)) < 0)
		return false;
	return box_name_valid(name) && box_load(state, name, b) == 0;
}

static void print_why(const char *why)
{
	if (why)
		printf("      why: %s\n", why);
}

/* title, then each path of l beneath the box home with its reason. */
static void print_home_paths(const char *title, const struct agent_list *l)
{
	printf("%s:%s\n", title, l->n ? "" : " none");
	for (size_t i = 0; i < l->n; i++) {
		printf("  ~/%s\n", l->v[i].name);
		print_why(l->v[i].why);
	}
}

static void explain_profile(const struct launch_agent *a, bool config)
{
	const struct agent_profile *p = a->profile;
	printf("agent profile '%s' (%s), picked by %s\n", p->name, p->file, a->picked);
	if (p->description)
		printf("  %s\n", p->description);
	for (size_t i = 0; i < p->env.n; i++)
		if (p->env.v[i].only_with_config && !config)
			printf("  (%s only with --config)\n", p->env.v[i].name);
	printf("domains it allows (besides the built-in list and the box's net file):%s\n",
	       p->allow.n ? "" : " none");
	for (size_t i = 0; i < p->allow.n; i++) {
		printf("  %s\n", p->allow.v[i].name);
		print_why(p->allow.v[i].why);
	}
	printf("files it writes in the box home when absent (never over yours):%s\n",
	       p->files.n ? "" : " none");
	for (size_t i = 0; i < p->files.n; i++) {
		printf("  ~/%s (mode %04o)\n", p->files.v[i].name, p->files.v[i].mode);
		print_why(p->files.v[i].why);
	}
	print_home_paths("state directories it makes in the box home (kept between runs)",
			 &p->state);
	print_home_paths(
	    "what 'clawbox reset' removes from the box home with the workspace's changes",
	    &p->reset);
}

int launch_agent_explain(const struct launch_opts *o)
{
	struct box b;
	bool have_box = explain_box(o, &b);
	struct launch_agent *a = NULL;
	char *const *argv = o->shell || !o->argv || !o->argv[0] ? NULL : o->argv;
	if (launch_agent_prepare(o, have_box ? &b : NULL, &a) < 0)
		return EXIT_SETUP;
	if (a->profile)
		explain_profile(a, o->config_dir[0] != '\0');
	else if (o->agent.agent)
		printf("agent profile: none (--agent none)\n");
	else
		printf("agent profile: none (%s)\n", argv ? "no profile lists this command"
							  : "no command given: use --agent NAME");
	printf("environment it sets (not secrets; a secret of the same name wins over a "
	       "profile's):%s\n",
	       a->nset ? "" : " nothing");
	for (size_t i = 0; i < a->nset; i++) {
		printf("  %s=%s  (%s)\n", a->set[i].name, a->set[i].value, a->set[i].source);
		print_why(a->set[i].why);
	}
	if (o->net.mode != NET_NONE)
		printf(
		    "every box on the proxy network also gets HTTP(S)_PROXY, ALL_PROXY, NO_PROXY\n"
		    "and NODE_USE_ENV_PROXY=1 (Node's own fetch() uses the proxy only then)\n");
	if (!have_box)
		printf("(no box yet for this project: built-in profiles only, no env file)\n");
	launch_agent_free(a);
	return 0;
}
