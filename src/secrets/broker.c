#include "util/common.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "secrets/broker.h"
#include "secrets/secrets.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/toml.h"

struct preset {
	const char *name;
	const char *hosts[4];
	const char *inject[3];
};

/* Where each service takes its key (their API references). */
static const struct preset presets[] = {
	{ "anthropic", { "api.anthropic.com" }, { "header:x-api-key", "authorization" } },
	{ "openai", { "api.openai.com" }, { "authorization" } },
	{ "gemini",
	  { "generativelanguage.googleapis.com" },
	  { "header:x-goog-api-key", "query:key" } },
	{ "openrouter", { "openrouter.ai" }, { "authorization" } },
	{ "github", { "api.github.com", "github.com", "uploads.github.com" }, { "authorization" } },
	{ "telegram", { "api.telegram.org" }, { "path" } },
	{ "npm", { "registry.npmjs.org" }, { "authorization" } },
};

/* The variables the services' own clients read, for "auto". */
static const struct {
	const char *name, *preset;
} known_names[] = {
	{ "ANTHROPIC_API_KEY", "anthropic" },
	{ "OPENAI_API_KEY", "openai" },
	{ "GEMINI_API_KEY", "gemini" },
	{ "GOOGLE_API_KEY", "gemini" },
	{ "OPENROUTER_API_KEY", "openrouter" },
	{ "GITHUB_TOKEN", "github" },
	{ "GH_TOKEN", "github" },
	{ "TELEGRAM_BOT_TOKEN", "telegram" },
	{ "NPM_TOKEN", "npm" },
};

const char *broker_preset_for(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(known_names); i++)
		if (!strcmp(known_names[i].name, name))
			return known_names[i].preset;
	return NULL;
}

const char *broker_preset_names(void)
{
	return "anthropic, openai, gemini, openrouter, github, telegram, npm";
}

static const struct preset *preset_find(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(presets); i++)
		if (!strcmp(presets[i].name, name))
			return &presets[i];
	return NULL;
}

static const struct preset *preset_of_host(const char *host)
{
	for (size_t i = 0; i < ELEMENTSOF(presets); i++)
		for (size_t j = 0; j < ELEMENTSOF(presets[i].hosts) && presets[i].hosts[j]; j++)
			if (!strcmp(presets[i].hosts[j], host))
				return &presets[i];
	return NULL;
}

bool broker_host_is_ip(const char *h)
{
	unsigned char a[16];
	return inet_pton(AF_INET, h, a) == 1 || inet_pton(AF_INET6, h, a) == 1;
}

bool broker_host_valid(const char *h)
{
	size_t n = strlen(h);
	if (broker_host_is_ip(h))
		return true;
	if (n == 0 || n > BROKER_HOST_MAX || h[0] == '.' || h[0] == '-' || h[n - 1] == '.' ||
	    strstr(h, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= '0' && h[i] <= '9') || h[i] == '-' ||
		      h[i] == '.'))
			return false;
	return true;
}

/* A header name (a token, lowercased) or a query parameter name. */
static bool param_valid(const char *p)
{
	size_t n = strlen(p);
	if (n == 0 || n > BROKER_PARAM_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '-' ||
		      p[i] == '_' || p[i] == '.'))
			return false;
	return true;
}

static int inject_parse(const char *s, struct broker_inject *ret)
{
	const char *colon = strchr(s, ':');
	*ret = (struct broker_inject){ 0 };
	if (!strcmp(s, "authorization"))
		ret->where = BROKER_AUTHORIZATION;
	else if (!strcmp(s, "path"))
		ret->where = BROKER_PATH;
	else if (colon && (!strncmp(s, "header:", 7) || !strncmp(s, "query:", 6))) {
		ret->where = s[0] == 'h' ? BROKER_HEADER : BROKER_QUERY;
		if (strlen(colon + 1) > BROKER_PARAM_MAX)
			return -EINVAL;
		snprintf(ret->param, sizeof(ret->param), "%s", colon + 1);
		for (char *c = ret->param; ret->where == BROKER_HEADER && *c; c++)
			*c = (char)tolower((unsigned char)*c);
		if (!param_valid(ret->param) ||
		    (ret->where == BROKER_HEADER && !strcmp(ret->param, "authorization")))
			return -EINVAL;
	} else
		return -EINVAL;
	return 0;
}

const char *broker_inject_text(const struct broker_inject *in, char *out, size_t n)
{
	switch (in->where) {
	case BROKER_HEADER: snprintf(out, n, "header:%s", in->param); break;
	case BROKER_QUERY: snprintf(out, n, "query:%s", in->param); break;
	case BROKER_AUTHORIZATION: snprintf(out, n, "authorization"); break;
	case BROKER_PATH: snprintf(out, n, "path"); break;
	}
	return out;
}

static int add_host(struct broker_rule *r, const char *h)
{
	if (!broker_host_valid(h))
		return -EINVAL;
	for (size_t i = 0; i < r->nhosts; i++)
		if (!strcmp(r->hosts[i], h))
			return 0;
	if (r->nhosts == BROKER_HOSTS_MAX)
		return -E2BIG;
	snprintf(r->hosts[r->nhosts++], sizeof(r->hosts[0]), "%s", h);
	return 0;
}

static int add_inject(struct broker_rule *r, const char *s)
{
	struct broker_inject in;
	if (inject_parse(s, &in) < 0)
		return -EINVAL;
	for (size_t i = 0; i < r->ninject; i++)
		if (r->inject[i].where == in.where && !strcmp(r->inject[i].param, in.param))
			return 0;
	if (r->ninject == BROKER_INJECT_MAX)
		return -E2BIG;
	r->inject[r->ninject++] = in;
	return 0;
}

static int use_preset(struct broker_rule *r, const struct preset *p)
{
	int e = 0;
	snprintf(r->preset, sizeof(r->preset), "%s", p->name);
	for (size_t j = 0; j < ELEMENTSOF(p->hosts) && p->hosts[j] && e == 0; j++)
		e = add_host(r, p->hosts[j]);
	for (size_t j = 0; j < ELEMENTSOF(p->inject) && p->inject[j] && e == 0; j++)
		e = add_inject(r, p->inject[j]);
	return e;
}

/* Strings of array v into r with add (hosts or places). */
static int strings_into(struct broker_rule *r, const struct toml_value *v,
			int (*add)(struct broker_rule *, const char *), const char *what,
			const char *file, struct error *err)
{
	if (v->type != TOML_ARRAY || v->arr.n == 0)
		return error_set(err, -EINVAL, file, v->line, "'%s' must be a list of strings",
				 what);
	for (size_t i = 0; i < v->arr.n; i++) {
		const struct toml_value *s = v->arr.items[i];
		int e = s->type == TOML_STRING ? add(r, s->str.s) : -EINVAL;
		if (e == -E2BIG)
			return error_set(err, -EINVAL, file, s->line, "too many %s", what);
		if (e < 0)
			return error_set(err, -EINVAL, file, s->line, "invalid %s '%.*s'", what, 80,
					 s->type == TOML_STRING ? s->str.s : "?");
	}
	return 0;
}

static int rule_parse(const char *name, const struct toml_value *t, const char *file,
		      struct broker_rule *r, struct error *err)
{
	*r = (struct broker_rule){ 0 };
	if (!dotenv_name_valid(name))
		return error_set(err, -EINVAL, file, t->line, "'%.64s' is not a variable name",
				 name);
	if (t->type != TOML_TABLE)
		return error_set(err, -EINVAL, file, t->line, "'%.64s' must be a table", name);
	snprintf(r->name, sizeof(r->name), "%s", name);
	const struct toml_value *preset = toml_get(t, "preset"), *hosts = toml_get(t, "hosts"),
				*inject = toml_get(t, "inject");
	for (size_t i = 0; i < t->tab.n; i++)
		if (!STREQ(t->tab.kv[i].key, "preset") && !STREQ(t->tab.kv[i].key, "hosts") &&
		    !STREQ(t->tab.kv[i].key, "inject"))
			return error_set(err, -EINVAL, file, t->tab.kv[i].val->line,
					 "unknown key '%.64s' (preset, hosts, inject)",
					 t->tab.kv[i].key);
	if (preset) {
		const struct preset *p =
		    preset->type == TOML_STRING ? preset_find(preset->str.s) : NULL;
		if (hosts || inject)
			return error_set(err, -EINVAL, file, preset->line,
					 "%s: a preset, or hosts and inject", name);
		if (!p)
			return error_set(err, -EINVAL, file, preset->line,
					 "unknown preset (one of %s)", broker_preset_names());
		return use_preset(r, p);
	}
	if (!hosts || !inject)
		return error_set(err, -EINVAL, file, t->line,
				 "%s: needs hosts and inject (or a preset)", name);
	int e = strings_into(r, hosts, add_host, "hosts", file, err);
	return e < 0 ? e : strings_into(r, inject, add_inject, "inject", file, err);
}

int broker_parse(const char *data, size_t len, const char *file, struct broker_set *ret,
		 struct error *err)
{
	struct toml_value *root = NULL;
	ret->n = 0;
	int r = toml_parse(data, len, file, &root, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < root->tab.n && r == 0; i++) {
		if (ret->n == BROKER_MAX)
			r = error_set(err, -EINVAL, file, root->tab.kv[i].val->line,
				      "more than %d rules", BROKER_MAX);
		else if ((r = rule_parse(root->tab.kv[i].key, root->tab.kv[i].val, file,
					 &ret->rule[ret->n], err)) == 0)
			ret->n++;
	}
	toml_free(root);
	if (r < 0)
		ret->n = 0;
	return r;
}

int broker_load(int box_dirfd, struct broker_set *ret, struct error *err)
{
	_cleanup_close_ int fd = openat(box_dirfd, BROKER_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ret->n = 0;
	if (fd < 0)
		return errno == ENOENT ? 0 : error_errno(err, -errno, "open '%s'", BROKER_FILE);
	_cleanup_free_ char *buf = malloc(BROKER_FILE_MAX + 1);
	size_t len;
	if (!buf)
		return error_errno(err, -ENOMEM, "read '%s'", BROKER_FILE);
	int r = fs_read_fd(fd, buf, BROKER_FILE_MAX + 1, &len);
	if (r < 0)
		return error_errno(err, r == -EFBIG ? -E2BIG : r, "read '%s'", BROKER_FILE);
	return broker_parse(buf, len, BROKER_FILE, ret, err);
}

int broker_save(int box_dirfd, const struct broker_set *s, struct error *err)
{
	struct buf b = BUF_INIT(BROKER_FILE_MAX);
	char in[BROKER_PARAM_MAX + 16];
	int r = buf_printf(&b, "# Brokered secrets of this box: clawbox secrets set NAME --broker "
			       "...\n# (docs/SECRETS.md, \"Brokered credentials\")\n");
	for (size_t i = 0; i < s->n && r == 0; i++) {
		const struct broker_rule *x = &s->rule[i];
		r = buf_printf(&b, "\n[%s]\n", x->name);
		if (r == 0 && x->preset[0]) {
			r = buf_printf(&b, "preset = \"%s\"\n", x->preset);
			continue;
		}
		for (size_t j = 0; j < x->nhosts && r == 0; j++)
			r = buf_printf(&b, "%s\"%s\"%s", j ? ", " : "hosts = [", x->hosts[j],
				       j + 1 == x->nhosts ? "]\n" : "");
		for (size_t j = 0; j < x->ninject && r == 0; j++)
			r = buf_printf(&b, "%s\"%s\"%s", j ? ", " : "inject = [",
				       broker_inject_text(&x->inject[j], in, sizeof(in)),
				       j + 1 == x->ninject ? "]\n" : "");
	}
	if (r == 0)
		r = fs_write_atomic_at(box_dirfd, BROKER_FILE, b.data, b.len, 0600);
	buf_free(&b);
	return r < 0 ? error_errno(err, r, "write '%s'", BROKER_FILE) : 0;
}

/* One "HOST[=PLACE]" of a --broker spec into r. */
static int spec_item(struct broker_rule *r, char *item, struct error *err)
{
	char *eq = strchr(item, '=');
	if (eq)
		*eq++ = '\0';
	for (char *c = item; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	const struct preset *p = preset_of_host(item);
	int e = add_host(r, item);
	if (e == -EINVAL)
		return error_set(err, e, NULL, 0, "invalid host '%.*s'", BROKER_HOST_MAX, item);
	if (e == 0 && eq)
		e = add_inject(r, eq);
	else if (e == 0 && p)
		for (size_t j = 0; j < ELEMENTSOF(p->inject) && p->inject[j] && e == 0; j++)
			e = add_inject(r, p->inject[j]);
	else if (e == 0)
		return error_set(err, -EINVAL, NULL, 0,
				 "say where %s goes for '%s': %s=header:NAME, =authorization, "
				 "=query:NAME or =path",
				 r->name, item, item);
	if (e == -EINVAL)
		return error_set(
		    err, e, NULL, 0,
		    "invalid place '%.*s' (header:NAME, authorization, query:NAME, path)",
		    BROKER_PARAM_MAX, eq ? eq : "");
	return e == -E2BIG ? error_set(err, e, NULL, 0, "too many hosts or places") : e;
}

int broker_rule_from_spec(const char *name, const char *spec, struct broker_rule *ret,
			  struct error *err)
{
	struct broker_rule r = { 0 };
	if (!dotenv_name_valid(name))
		return error_set(err, -EINVAL, NULL, 0, "invalid name '%.64s'", name);
	snprintf(r.name, sizeof(r.name), "%s", name);
	if (!strcmp(spec, "auto") && !(spec = broker_preset_for(name)))
		return error_set(
		    err, -EINVAL, NULL, 0,
		    "no preset for '%.64s' (auto knows ANTHROPIC_API_KEY, OPENAI_API_KEY, "
		    "GEMINI_API_KEY, GOOGLE_API_KEY, OPENROUTER_API_KEY, GITHUB_TOKEN, "
		    "GH_TOKEN, TELEGRAM_BOT_TOKEN, NPM_TOKEN): name a preset (%s) or hosts",
		    name, broker_preset_names());
	const struct preset *p = preset_find(spec);
	if (p) {
		int e = use_preset(&r, p);
		if (e < 0)
			return error_set(err, e, NULL, 0, "the preset '%s' is broken", spec);
		*ret = r;
		return 0;
	}
	_cleanup_free_ char *copy = strdup(spec);
	if (!copy)
		return -ENOMEM;
	char *save = NULL;
	for (char *it = strtok_r(copy, ",", &save); it; it = strtok_r(NULL, ",", &save)) {
		int e = spec_item(&r, it, err);
		if (e < 0)
			return e;
	}
	if (r.nhosts == 0)
		return error_set(err, -EINVAL, NULL, 0, "--broker needs hosts or a preset (%s)",
				 broker_preset_names());
	*ret = r;
	return 0;
}

const struct broker_rule *broker_set_find(const struct broker_set *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->rule[i].name, name))
			return &s->rule[i];
	return NULL;
}

int broker_set_put(struct broker_set *s, const struct broker_rule *r)
{
	struct broker_rule *old = (struct broker_rule *)broker_set_find(s, r->name);
	if (!old && s->n == BROKER_MAX)
		return -E2BIG;
	*(old ? old : &s->rule[s->n++]) = *r;
	return 0;
}

int broker_set_remove(struct broker_set *s, const char *name)
{
	const struct broker_rule *r = broker_set_find(s, name);
	if (!r)
		return 0;
	size_t i = (size_t)(r - s->rule);
	memmove(&s->rule[i], &s->rule[i + 1], (s->n - i - 1) * sizeof(s->rule[0]));
	s->n--;
	return 1;
}

/* The length of value's public prefix: lowercase segments each ending in
 * '-' or '_', within the first 16 bytes ("sk-ant-api03-", "ghp_"). */
static size_t public_prefix(const char *v, size_t len)
{
	size_t keep = 0, seg = 0;
	for (size_t i = 0; i < len && i < 16; i++) {
		char c = v[i];
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			seg++;
		else if ((c == '-' || c == '_') && seg > 0) {
			keep = i + 1;
			seg = 0;
		} else
			break;
	}
	return keep;
}

int broker_placeholder(const uint8_t key[32], const char *name, const char *value, size_t len,
		       char *out)
{
	uint8_t block[HASH_SHA256_SIZE];
	size_t keep = public_prefix(value, len);
	if (len < SECRETS_SHORT || len > SECRETS_VALUE_MAX)
		return -EINVAL;
	memcpy(out, value, keep);
	for (size_t i = keep; i < len; i++) {
		if (i == keep || (i - keep) % HASH_SHA256_SIZE == 0) {
			uint32_t ctr = (uint32_t)((i - keep) / HASH_SHA256_SIZE);
			const void *parts[] = { &ctr, name, "=", value };
			size_t lens[] = { sizeof(ctr), strlen(name), 1, len };
			hash_hmac_sha256(key, 32, 4, parts, lens, block);
		}
		uint8_t b = block[(i - keep) % HASH_SHA256_SIZE];
		char c = value[i];
		out[i] = c >= 'a' && c <= 'z'   ? (char)('a' + b % 26)
			 : c >= 'A' && c <= 'Z' ? (char)('A' + b % 26)
			 : c >= '0' && c <= '9' ? (char)('0' + b % 10)
						: c;
	}
	out[len] = '\0';
	explicit_bzero(block, sizeof(block));
	/* Nothing (or next to nothing) changed: no placeholder can stand in. */
	size_t differ = 0;
	for (size_t i = 0; i < len; i++)
		differ += out[i] != value[i];
	return differ < 8 ? -EINVAL : 0;
}

int broker_key(int box_dirfd, uint8_t ret[32], struct error *err)
{
	_cleanup_close_ int fd =
	    openat(box_dirfd, BROKER_KEY_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	size_t n = 0;
	if (fd < 0 && errno == ENOENT) {
		if (getrandom(ret, 32, 0) != 32)
			return error_errno(err, -EIO, "make the box's broker key");
		int r = fs_write_atomic_at(box_dirfd, BROKER_KEY_FILE, ret, 32, 0600);
		return r < 0 ? error_errno(err, r, "write '%s'", BROKER_KEY_FILE) : 0;
	}
	if (fd < 0 || fstat(fd, &st) < 0)
		return error_errno(err, -errno, "open '%s'", BROKER_KEY_FILE);
	uint8_t buf[32 + 1];
	bool ok = S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600 && st.st_uid == geteuid() &&
		  fs_read_fd(fd, buf, sizeof(buf), &n) == 0 && n == 32;
	if (ok)
		memcpy(ret, buf, 32);
	explicit_bzero(buf, sizeof(buf));
	if (!ok) {
		return error_set(err, -EPERM, BROKER_KEY_FILE, 0,
				 "must be a file of 32 bytes, mode 0600, owned by uid %u",
				 (unsigned)geteuid());
	}
	return 0;
}
