#include "util/common.h"

#include "box/masks.h"
#include "util/fs.h"

#include <glob.h>
#include <pwd.h>

extern char **environ;

/* Always hidden. Directories become empty, files empty. /run goes whole: it
 * holds the sockets of the host's services (systemd, dbus, docker,
 * containerd, user sessions with their ssh and gpg agents). */
static const char *const builtin_masks[] = {
	"/root",
	"/home",
	"/run",
	"/var/run",
	"/etc/shadow",
	"/etc/shadow-",
	"/etc/gshadow",
	"/etc/gshadow-",
	"/etc/security/opasswd",
	"/etc/ssl/private",
	"/etc/krb5.keytab",
	"/etc/NetworkManager/system-connections",
	"/etc/wpa_supplicant",
	"/etc/docker",
	"/etc/kubernetes",
	"/var/backups",
	"/var/log",
	"/var/spool",
	"/var/mail",
	"/var/lib/docker",
	"/var/lib/containers",
	"/var/lib/kubelet",
	"/var/lib/sss",
	"/var/lib/clawbox",
};

static const char *const builtin_globs[] = { "/etc/ssh/ssh_host_*key", "/etc/ssh/*_key" };

/* /etc/passwd first: starting NSS (its nscd probes, nsswitch.conf) cost a
 * box start 0.08 ms; NSS for users it lacks. */
const struct passwd *masks_caller(void)
{
	static bool done;
	static struct passwd pw, *found;
	static char buf[4096];
	if (done)
		return found;
	done = true;
	FILE *f = fopen("/etc/passwd", "re");
	if (f) {
		/* Any error (ERANGE too) ends the scan: NSS then decides. */
		while (fgetpwent_r(f, &pw, buf, sizeof(buf), &found) == 0 &&
		       found->pw_uid != getuid())
			;
		fclose(f);
	}
	if (!found && getpwuid_r(getuid(), &pw, buf, sizeof(buf), &found) != 0)
		found = NULL;
	return found;
}

/* Canonical form of path: realpath when it exists, else path as given. */
static int add_canonical(struct strv *s, const char *path)
{
	char real[PATH_MAX];
	if (!path || path[0] != '/')
		return 0;
	return strv_push(s, realpath(path, real) ? real : path);
}

int masks_default(const char *state_dir, struct strv *ret)
{
	int r = 0;
	for (size_t i = 0; i < ELEMENTSOF(builtin_masks) && r == 0; i++)
		r = add_canonical(ret, builtin_masks[i]);
	for (size_t i = 0; i < ELEMENTSOF(builtin_globs) && r == 0; i++) {
		glob_t g;
		if (glob(builtin_globs[i], GLOB_NOSORT, NULL, &g) == 0)
			for (size_t j = 0; j < g.gl_pathc && r == 0; j++)
				r = add_canonical(ret, g.gl_pathv[j]);
		globfree(&g);
	}
	/* The caller's home by every name it may have. */
	const struct passwd *pw = masks_caller();
	if (r == 0 && pw)
		r = add_canonical(ret, pw->pw_dir);
	if (r == 0)
		r = add_canonical(ret, secure_getenv("HOME"));
	const char *sudo_user = secure_getenv("SUDO_USER");
	struct passwd *sudo_pw = sudo_user ? getpwnam(sudo_user) : NULL;
	if (r == 0 && sudo_pw)
		r = add_canonical(ret, sudo_pw->pw_dir);
	if (r == 0)
		r = add_canonical(ret, secure_getenv("SSH_AUTH_SOCK"));
	if (r == 0)
		r = add_canonical(ret, state_dir);
	return r;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* a is shown at a second path (beneath a root that b is not beneath). */
static bool shown_again(const char *a, const char *b, const char *const *roots, size_t nroots)
{
	for (size_t k = 0; k < nroots; k++)
		if (path_is_beneath(a, roots[k]) && !path_is_beneath(b, roots[k]))
			return true;
	return false;
}

void masks_normalize_roots(struct strv *m, const char *const *roots, size_t nroots)
{
	if (m->n == 0)
		return;
	qsort(m->v, m->n, sizeof(*m->v), cmp);
	size_t out = 0;
	for (size_t i = 0; i < m->n; i++) {
		bool drop = false;
		for (size_t j = 0; j < out && !drop; j++)
			drop = path_is_beneath(m->v[i], m->v[j]) &&
			       !shown_again(m->v[i], m->v[j], roots, nroots);
		if (drop)
			free(m->v[i]);
		else
			m->v[out++] = m->v[i];
	}
	m->n = out;
	m->v[out] = NULL;
}

void masks_normalize(struct strv *m, const char *project)
{
	masks_normalize_roots(m, &project, 1);
}

const char *masks_project_conflict(const struct strv *builtin, const char *project)
{
	for (size_t i = 0; i < builtin->n; i++)
		if (path_is_beneath(builtin->v[i], project))
			return builtin->v[i];
	return NULL;
}

/* Lexically normalize an absolute path: no "//", ".", "..", trailing "/". */
static int normalize(const char *in, char *out, size_t n)
{
	size_t len = 0;
	const char *p = in;
	if (*p != '/' || strlen(in) >= n)
		return -EINVAL;
	out[0] = '\0';
	while (*p) {
		while (*p == '/')
			p++;
		const char *e = strchrnul(p, '/');
		size_t cl = (size_t)(e - p);
		if (cl == 0 || (cl == 1 && p[0] == '.')) {
		} else if (cl == 2 && p[0] == '.' && p[1] == '.') {
			while (len > 0 && out[len - 1] != '/')
				len--;
			if (len > 0)
				len--;
			out[len] = '\0';
		} else {
			out[len++] = '/';
			memcpy(out + len, p, cl);
			len += cl;
			out[len] = '\0';
		}
		p = e;
	}
	if (len == 0)
		snprintf(out, n, "/");
	return 0;
}

int masks_add_deny(struct strv *masks, const char *project, const char *entry)
{
	char joined[PATH_MAX], norm[PATH_MAX], real[PATH_MAX];
	if (!entry[0])
		return -EINVAL;
	if (entry[0] == '/')
		snprintf(joined, sizeof(joined), "%s", entry);
	else if (path_join(joined, sizeof(joined), project, entry) < 0)
		return -ENAMETOOLONG;
	if (normalize(joined, norm, sizeof(norm)) < 0)
		return -EINVAL;
	/* Inside the project the path is the box's view: keep it lexical (the
	 * agent may create it later). Outside, resolve the host's symlinks. */
	if (!path_is_beneath(norm, project) && realpath(norm, real))
		return strv_push(masks, real);
	return strv_push(masks, norm);
}

int masks_add_secrets_file(struct strv *masks, const char *path)
{
	char real[PATH_MAX];
	if (!realpath(path, real))
		return errno == ENOENT ? 0 : -errno;
	return strv_push(masks, real);
}

int masks_read_deny_file(const char *path, const char *project, struct strv *masks)
{
	_cleanup_free_ char *data = NULL;
	int r = fs_read_file(path, 1024 * 1024, &data, NULL);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	char *save = NULL;
	for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		line += strspn(line, " \t");
		size_t len = strlen(line);
		while (len &&
		       (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (!len || line[0] == '#')
			continue;
		if ((r = masks_add_deny(masks, project, line)) < 0)
			return r;
	}
	return 0;
}

/* Dirs of credentials, wherever they are (their last components). */
static const char *const cred_dirs[] = {
	".ssh",
	".gnupg",
	".aws",
	".azure",
	".kube",
	".docker",
	".password-store",
	".config/gcloud",
	".config/gh",
	".local/share/keyrings",
	".mozilla",
	".config/google-chrome",
	".config/chromium",
	".netrc",
	".git-credentials",
	".npmrc",
	".pypirc",
	".cargo/credentials.toml",
};

static bool ends_with_dir(const char *path, const char *name)
{
	size_t pl = strlen(path), nl = strlen(name);
	return pl > nl && path[pl - nl - 1] == '/' && STREQ(path + pl - nl, name);
}

/* A home mask: /home, /root, or the caller's home by any of its names. */
static bool home_mask(const char *m)
{
	char real[PATH_MAX];
	const struct passwd *pw = masks_caller();
	const char *home = secure_getenv("HOME");
	return STREQ(m, "/home") || STREQ(m, "/root") ||
	       (pw && realpath(pw->pw_dir, real) && STREQ(m, real)) ||
	       (home && realpath(home, real) && STREQ(m, real)) || path_is_beneath(m, "/home");
}

const char *masks_mount_conflict(const struct strv *builtin, const char *src, char *ret_path,
				 size_t n)
{
	struct stat st;
	char sub[PATH_MAX];
	for (size_t i = 0; i < builtin->n; i++) {
		const char *m = builtin->v[i];
		snprintf(ret_path, n, "%s", m);
		if (path_is_beneath(m, src))
			return "it is or holds a path clawbox always hides";
		if (path_is_beneath(src, m) && !home_mask(m))
			return "it lies beneath a path clawbox always hides";
	}
	for (size_t i = 0; i < ELEMENTSOF(cred_dirs); i++) {
		const char *c = cred_dirs[i];
		/* src or an ancestor of it is a credential dir. */
		for (snprintf(sub, sizeof(sub), "%s", src); sub[0]; *strrchr(sub, '/') = '\0')
			if (ends_with_dir(sub, c)) {
				snprintf(ret_path, n, "%s", sub);
				return "it is or lies beneath a credential dir";
			}
		if (path_join(sub, sizeof(sub), src, c) == 0 && lstat(sub, &st) == 0) {
			snprintf(ret_path, n, "%s", sub);
			return "it holds credentials";
		}
	}
	return NULL;
}
