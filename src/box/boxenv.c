/* The environment of the box's command: see box/boxenv.h. */
#include "util/common.h"

#include "box/boxenv.h"
#include "box/masks.h"
#include "box/rootfs.h"
#include "secrets/secrets.h"

#include <pwd.h>
#include <strings.h>

extern char **environ;

static bool passes(const char *kv)
{
	static const char *const names[] = { "PATH",      "TERM",     "LANG",    "LANGUAGE", "TZ",
					     "COLORTERM", "NO_COLOR", "COLUMNS", "LINES" };
	size_t klen = strcspn(kv, "=");
	if (kv[klen] != '=')
		return false;
	if (klen > 3 && strncmp(kv, "LC_", 3) == 0)
		return true;
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (strlen(names[i]) == klen && strncmp(kv, names[i], klen) == 0)
			return true;
	return false;
}

const char *boxenv_reserved(const char *name)
{
	static const char *const own[] = { "HOME", "USER", "LOGNAME", "SHELL", "PWD", "TMPDIR" };
	size_t n = strlen(name);
	for (size_t i = 0; i < ELEMENTSOF(own); i++)
		if (STREQ(name, own[i]))
			return "clawbox sets it for the box";
	if (strncmp(name, "CLAWBOX_", 8) == 0)
		return "clawbox's own variables are clawbox's to set";
	if (n >= 6 && strcasecmp(name + n - 6, "_PROXY") == 0)
		return "the box's network is clawbox's proxy: its variables are clawbox's to set";
	if (strncmp(name, "LD_", 3) == 0)
		return "the dynamic loader's variables are not settings";
	return NULL;
}

int boxenv_vars(const char *box, const char *cwd, const char *shell, struct strv *ret)
{
	const struct passwd *pw = masks_caller();
	const char *user = pw ? pw->pw_name : "clawbox";
	bool have_path = false;
	int r = 0;

	for (char **e = environ; *e && r == 0; e++)
		if (passes(*e)) {
			have_path |= strncmp(*e, "PATH=", 5) == 0;
			r = strv_push(ret, *e);
		}
	if (r == 0 && !have_path)
		r = strv_push(ret,
			      "PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin");
	if (r == 0)
		r = strv_pushf(ret, "HOME=%s", ROOTFS_HOME);
	if (r == 0)
		r = strv_pushf(ret, "USER=%s", user);
	if (r == 0)
		r = strv_pushf(ret, "LOGNAME=%s", user);
	if (r == 0)
		r = strv_pushf(ret, "SHELL=%s", shell);
	if (r == 0)
		r = strv_pushf(ret, "PWD=%s", cwd);
	if (r == 0)
		r = strv_push(ret, "TMPDIR=/tmp");
	if (r == 0)
		r = strv_pushf(ret, "CLAWBOX_BOX=%s", box);
	return r;
}

int boxenv_build(const char *box, const char *cwd, const char *shell, char *const *extra,
		 const struct secrets *secrets, struct secrets_env **ret)
{
	struct strv base = { 0 };
	int r = boxenv_vars(box, cwd, shell, &base);
	for (size_t i = 0; extra && extra[i] && r == 0; i++)
		r = strv_push(&base, extra[i]);
	if (r == 0)
		r = secrets_env_build(secrets, base.v, ret);
	strv_free(&base);
	return r;
}
