/* clawbox scan: scan files, directories or stdin for secrets with the
 * default rules or a gitleaks configuration. Exit 0 clean, 1 findings,
 * 2 error (bad configuration, bad usage, a file that could not be read). */
#include "util/common.h"

#include <dirent.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "cli/commands.h"
#include "scan/gitleaks.h"
#include "scan/scan.h"
#include "util/array.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/size.h"
#include "util/strv.h"
#include "util/fs.h"
#include "util/log.h"
#include "cli/version.h"

#define DEFAULT_MAX_SIZE (10u << 20)
#define MAX_JOBS         64
#define MAX_FILES        (1u << 24)
#define MAX_FINDINGS     (1u << 19) /* per file */

enum format { FMT_TEXT, FMT_JSON, FMT_SARIF };

struct finding {
	const char *rule_id, *description;
	const char *const *tags;
	size_t n_tags;
	char *match, *secret; /* NULL for known secrets */
	const char *known_name;
	unsigned start_line, end_line, start_col, end_col;
	double entropy;
};

struct file_job {
	char *path;
	struct finding *f;
	size_t n, cap;
	int error; /* -errno when it could not be read */
	bool binary, too_big, stopped;
	uint64_t size;
};

struct scan_state {
	const struct scan_rules *rs;
	struct file_job *files;
	size_t n_files, cap_files;
	atomic_size_t next;
	size_t max_size;
	bool scan_binary;
	int fatal; /* -errno from the engine */
	pthread_mutex_t lock;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: clawbox scan [options] [PATH... | -]\n\n"
		"Scan files, directories (recursively, symlinks are not followed, .git\n"
		"directories are skipped) or standard input ('-') for secrets. Without PATH,\n"
		"the current directory is scanned.\n\n"
		"options:\n"
		"  --config FILE         gitleaks TOML configuration instead of the default\n"
		"                        rules ([extend] useDefault adds clawbox's defaults)\n"
		"  --format FMT          text (default), json (gitleaks report fields) or\n"
		"                        sarif (SARIF 2.1.0)\n"
		"  --redact              replace secrets by REDACTED in json and sarif output\n"
		"  --no-redact           show secrets in text output (redacted by default)\n"
		"  --jobs N              scan with N threads (default: number of CPUs, max %d)\n"
		"  --max-size BYTES      skip (and report) files larger than this\n"
		"                        (default %u; suffixes K, M, G)\n"
		"  --binary              also scan files that look binary (NUL bytes)\n"
		"  --ignore-file FILE    fingerprints to ignore (default: .gitleaksignore in\n"
		"                        each directory PATH and in the current directory)\n"
		"  --known-secret-env NAME\n"
		"                        report the value of environment variable NAME\n"
		"                        wherever it occurs, raw, base64, hex or URL-encoded,\n"
		"                        as known-secret:NAME (the value is never printed)\n"
		"  -q, --quiet           no summary on standard error\n"
		"  -h, --help            this help\n\n"
		"Findings carry rule id, file, line, column, match, entropy and fingerprint\n"
		"(file:rule:line, listable in .gitleaksignore). 'gitleaks:allow' on a line\n"
		"suppresses findings on it. Exit status: 0 no findings, 1 findings, 2 error.\n",
		MAX_JOBS, DEFAULT_MAX_SIZE);
}

static int add_file(struct scan_state *st, const char *path)
{
	if (st->n_files >= MAX_FILES)
		return -E2BIG;
	if (array_grow((void **)&st->files, &st->cap_files, st->n_files, sizeof(*st->files)) < 0)
		return -ENOMEM;
	char *dup = strdup(path);
	if (!dup)
		return -ENOMEM;
	st->files[st->n_files++] = (struct file_job){ .path = dup };
	return 0;
}

/* Collects the regular files beneath dirfd (path names it), sorted by name,
 * never following symlinks. Unreadable directories become error entries. */
static int walk(struct scan_state *st, int dirfd, const char *path, int depth)
{
	_cleanup_close_ int dfd = dirfd; /* ours */
	char **names = NULL;
	size_t n = 0;

	if (depth > 256)
		return -ELOOP;
	int r = fs_dir_names(dfd, NULL, SIZE_MAX, &names, &n);
	for (size_t i = 0; i < n && r >= 0; i++) {
		char child[PATH_MAX];
		struct stat sb;
		int jr = STREQ(path, ".")
			     ? (snprintf(child, sizeof(child), "%s", names[i]) < (int)sizeof(child)
				    ? 0
				    : -ENAMETOOLONG)
			     : path_join(child, sizeof(child), path, names[i]);
		if (jr < 0) {
			r = add_file(st, names[i]);
			if (r >= 0)
				st->files[st->n_files - 1].error = -ENAMETOOLONG;
			continue;
		}
		if (fstatat(dfd, names[i], &sb, AT_SYMLINK_NOFOLLOW) < 0) {
			r = add_file(st, child);
			if (r >= 0)
				st->files[st->n_files - 1].error = -errno;
			continue;
		}
		if (S_ISDIR(sb.st_mode)) {
			if (STREQ(names[i], ".git"))
				continue;
			int fd =
			    openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0) {
				r = add_file(st, child);
				if (r >= 0)
					st->files[st->n_files - 1].error = -errno;
				continue;
			}
			r = walk(st, fd, child, depth + 1);
			if (r == -EACCES || r == -ELOOP) {
				r = add_file(st, child);
				if (r >= 0)
					st->files[st->n_files - 1].error = -EACCES;
			}
		} else if (S_ISREG(sb.st_mode)) {
			r = add_file(st, child);
		}
	}
	strv_free_n(names, n);
	return r;
}

struct collect {
	struct file_job *job;
	int error;
};

static char *dup_bytes(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

static int on_finding(const struct scan_finding *sf, void *ud)
{
	struct collect *c = ud;
	struct file_job *j = c->job;
	if (j->n >= MAX_FINDINGS)
		return -E2BIG;
	if (array_grow((void **)&j->f, &j->cap, j->n, sizeof(*j->f)) < 0)
		return -ENOMEM;
	struct finding f = {
		.rule_id = sf->rule_id,
		.description = sf->description,
		.tags = sf->tags,
		.n_tags = sf->n_tags,
		.known_name = sf->known_name,
		.start_line = sf->start_line,
		.end_line = sf->end_line,
		.start_col = sf->start_col,
		.end_col = sf->end_col,
		.entropy = sf->entropy,
	};
	if (!sf->known_secret) {
		/* the match with the secret replaced is built at output time:
		 * keep the offsets of the secret inside the match */
		f.match = dup_bytes(sf->match, sf->match_len);
		f.secret = dup_bytes(sf->secret, sf->secret_len);
		if (!f.match || !f.secret) {
			free(f.match);
			free(f.secret);
			return -ENOMEM;
		}
	}
	j->f[j->n++] = f;
	return 0;
}

static int read_fd(int fd, size_t max, struct buf *b, bool *ret_too_big)
{
	char tmp[65536];
	*ret_too_big = false;
	buf_reset(b);
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return 0;
		if (b->len + (size_t)n > max) {
			*ret_too_big = true;
			return 0;
		}
		int r = buf_append(b, tmp, (size_t)n);
		if (r < 0)
			return r;
	}
}

static void scan_one(struct scan_state *st, struct scan_ctx *ctx, struct file_job *j, struct buf *b)
{
	struct collect c = { j, 0 };
	_cleanup_close_ int fd = -1;
	struct stat sb;
	bool stdin_input = STREQ(j->path, "-");
	int r;

	if (j->error)
		return;
	if (stdin_input) {
		fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
	} else {
		fd = open(j->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	}
	if (fd < 0) {
		j->error = -errno;
		return;
	}
	if (!stdin_input) {
		if (fstat(fd, &sb) < 0) {
			j->error = -errno;
			return;
		}
		if (!S_ISREG(sb.st_mode)) {
			j->error = -EINVAL;
			return;
		}
		j->size = (uint64_t)sb.st_size;
		if ((uint64_t)sb.st_size > st->max_size) {
			j->too_big = true;
			return;
		}
	}
	r = read_fd(fd, st->max_size, b, &j->too_big);
	if (r < 0) {
		j->error = r;
		return;
	}
	if (j->too_big)
		return;
	j->size = b->len;
	if (!st->scan_binary && scan_looks_binary(b->data ? b->data : "", b->len)) {
		j->binary = true;
		return;
	}
	r = scan_ctx_buffer(ctx, stdin_input ? NULL : j->path, b->data ? b->data : "", b->len,
			    on_finding, &c);
	if (r < 0) {
		pthread_mutex_lock(&st->lock);
		if (!st->fatal)
			st->fatal = r;
		pthread_mutex_unlock(&st->lock);
	}
}

static void *worker(void *arg)
{
	struct scan_state *st = arg;
	struct scan_ctx *ctx = NULL;
	_cleanup_buf_ struct buf b = BUF_INIT(SIZE_MAX / 2);
	int r = scan_ctx_new(st->rs, &ctx);
	if (r < 0) {
		pthread_mutex_lock(&st->lock);
		st->fatal = r;
		pthread_mutex_unlock(&st->lock);
		return NULL;
	}
	for (;;) {
		size_t i = atomic_fetch_add(&st->next, 1);
		if (i >= st->n_files)
			break;
		scan_one(st, ctx, &st->files[i], &b);
		if (b.cap > (8u << 20))
			buf_free(&b); /* do not keep a large file's buffer around */
	}
	scan_ctx_free(ctx);
	return NULL;
}

/* The match with every occurrence of the secret replaced by REDACTED. */
static char *redacted_match(const struct finding *f)
{
	_cleanup_buf_ struct buf b = BUF_INIT(1u << 24);
	size_t sl = strlen(f->secret);
	const char *p = f->match;
	if (sl == 0)
		return strdup(f->match);
	for (;;) {
		const char *q = strstr(p, f->secret);
		if (!q)
			break;
		if (buf_append(&b, p, (size_t)(q - p)) < 0 || buf_puts(&b, "REDACTED") < 0)
			return NULL;
		p = q + sl;
	}
	if (buf_puts(&b, p) < 0)
		return NULL;
	return buf_steal(&b);
}

/* A single-line, bounded, printable rendering for the terminal. */
static void print_clean(FILE *out, const char *s, size_t max)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p && n < max; p++, n++) {
		if (*p == '\n')
			fputs("\\n", out);
		else if (*p == '\t')
			fputs("\\t", out);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(out, "\\x%02x", *p);
		else
			fputc(*p, out);
	}
	if (strlen(s) > max)
		fputs("...", out);
}

static const char *display_path(const struct file_job *j)
{
	return j->path;
}

static void fingerprint(char *out, size_t n, const struct file_job *j, const struct finding *f)
{
	snprintf(out, n, "%s:%s:%u", display_path(j), f->rule_id, f->start_line);
}

static void output_text(FILE *out, struct scan_state *st, bool redact)
{
	for (size_t i = 0; i < st->n_files; i++) {
		struct file_job *j = &st->files[i];
		for (size_t k = 0; k < j->n; k++) {
			const struct finding *f = &j->f[k];
			char fp[PATH_MAX + 300];
			fingerprint(fp, sizeof(fp), j, f);
			fprintf(out, "%s:%u:%u: %s: %s\n", display_path(j), f->start_line,
				f->start_col, f->rule_id, f->description);
			fputs("    match: ", out);
			if (!f->match) {
				fprintf(out, "[REDACTED:%s]", f->known_name);
			} else if (redact) {
				_cleanup_free_ char *m = redacted_match(f);
				print_clean(out, m ? m : "REDACTED", 200);
			} else {
				print_clean(out, f->match, 400);
			}
			fprintf(out, "\n    entropy: %.2f  fingerprint: %s\n", f->entropy, fp);
		}
	}
}

static json_t *finding_json(const struct file_job *j, const struct finding *f, bool redact)
{
	char fp[PATH_MAX + 300];
	_cleanup_free_ char *m = NULL;
	const char *match, *secret;
	json_t *tags = json_array();
	fingerprint(fp, sizeof(fp), j, f);
	if (!f->match) {
		match = secret = "REDACTED";
	} else if (redact) {
		m = redacted_match(f);
		match = m ? m : "REDACTED";
		secret = "REDACTED";
	} else {
		match = f->match;
		secret = f->secret;
	}
	for (size_t t = 0; t < f->n_tags; t++)
		json_array_append_new(tags, json_string(f->tags[t]));
	/* json_string* rejects invalid UTF-8: fall back to a lossy copy */
	json_t *jm = json_string(match), *js = json_string(secret);
	if (!jm)
		jm = json_string("<invalid UTF-8>");
	if (!js)
		js = json_string("<invalid UTF-8>");
	return json_pack("{s:s, s:i, s:i, s:i, s:i, s:o, s:o, s:s, s:s, s:s, s:f, s:s, s:s, s:s, "
			 "s:s, s:o, s:s, s:s}",
			 "Description", f->description, "StartLine", (int)f->start_line, "EndLine",
			 (int)f->end_line, "StartColumn", (int)f->start_col, "EndColumn",
			 (int)f->end_col, "Match", jm, "Secret", js, "File", display_path(j),
			 "SymlinkFile", "", "Commit", "", "Entropy", (double)(float)f->entropy,
			 "Author", "", "Email", "", "Date", "", "Message", "", "Tags", tags,
			 "RuleID", f->rule_id, "Fingerprint", fp);
}

static int output_json(FILE *out, struct scan_state *st, bool redact)
{
	json_t *arr = json_array();
	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < st->n_files; i++)
		for (size_t k = 0; k < st->files[i].n; k++) {
			json_t *o = finding_json(&st->files[i], &st->files[i].f[k], redact);
			if (!o || json_array_append_new(arr, o) < 0) {
				json_decref(arr);
				return -ENOMEM;
			}
		}
	int r = json_dumpf(arr, out, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	fputc('\n', out);
	json_decref(arr);
	return r < 0 ? -EIO : 0;
}

static int output_sarif(FILE *out, struct scan_state *st, bool redact)
{
	json_t *rules = json_array(), *results = json_array(), *seen = json_object();
	for (size_t i = 0; i < st->n_files; i++) {
		const struct file_job *j = &st->files[i];
		for (size_t k = 0; k < j->n; k++) {
			const struct finding *f = &j->f[k];
			_cleanup_free_ char *m = NULL;
			if (!json_object_get(seen, f->rule_id)) {
				json_object_set_new(seen, f->rule_id, json_true());
				json_array_append_new(
				    rules, json_pack("{s:s, s:s, s:{s:s}}", "id", f->rule_id,
						     "name", f->rule_id, "shortDescription", "text",
						     f->description));
			}
			const char *snippet;
			if (!f->match)
				snippet = "REDACTED";
			else if (redact)
				snippet = (m = redacted_match(f)) ? m : "REDACTED";
			else
				snippet = f->match;
			json_t *sn = json_string(snippet);
			if (!sn)
				sn = json_string("<invalid UTF-8>");
			char msg[512];
			snprintf(msg, sizeof(msg), "%s has detected a secret in %s", f->rule_id,
				 display_path(j));
			json_t *res = json_pack(
			    "{s:s, s:s, s:{s:s}, s:[{s:{s:{s:s}, s:{s:i, s:i, s:i, s:i, "
			    "s:{s:o}}}}]}",
			    "ruleId", f->rule_id, "level", "error", "message", "text", msg,
			    "locations", "physicalLocation", "artifactLocation", "uri",
			    display_path(j), "region", "startLine",
			    (int)(f->start_line ? f->start_line : 1), "startColumn",
			    (int)(f->start_col ? f->start_col : 1), "endLine",
			    (int)(f->end_line ? f->end_line : 1), "endColumn",
			    (int)(f->end_col ? f->end_col + 1 : 1), "snippet", "text", sn);
			if (res) {
				char fp[PATH_MAX + 300];
				fingerprint(fp, sizeof(fp), j, f);
				json_object_set_new(res, "partialFingerprints",
						    json_pack("{s:s}", "clawbox/v1", fp));
				json_array_append_new(results, res);
			}
		}
	}
	json_t *doc = json_pack(
	    "{s:s, s:s, s:[{s:{s:{s:s, s:s, s:s, s:o}}, s:o}]}", "$schema",
	    "https://json.schemastore.org/sarif-2.1.0.json", "version", "2.1.0", "runs", "tool",
	    "driver", "name", "clawbox", "semanticVersion", CLAWBOX_VERSION, "informationUri",
	    "https://github.com/clawbox/clawbox", "rules", rules, "results", results);
	json_decref(seen);
	if (!doc)
		return -ENOMEM;
	int r = json_dumpf(doc, out, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	fputc('\n', out);
	json_decref(doc);
	return r < 0 ? -EIO : 0;
}

static int load_ignore_file(struct scan_rules *rs, const char *path, bool must_exist)
{
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r = fs_read_file(path, 16u << 20, &data, &len);
	if (r == -ENOENT && !must_exist)
		return 0;
	if (r < 0) {
		log_error("cannot read ignore file '%s': %s", path, strerror(-r));
		return r;
	}
	return scan_rules_add_ignore_text(rs, data, len);
}

enum {
	OPT_CONFIG = 256,
	OPT_FORMAT,
	OPT_REDACT,
	OPT_NO_REDACT,
	OPT_JOBS,
	OPT_MAX_SIZE,
	OPT_BINARY,
	OPT_IGNORE,
	OPT_KNOWN
};

static const struct option long_opts[] = {
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "redact", no_argument, NULL, OPT_REDACT },
	{ "no-redact", no_argument, NULL, OPT_NO_REDACT },
	{ "jobs", required_argument, NULL, OPT_JOBS },
	{ "max-size", required_argument, NULL, OPT_MAX_SIZE },
	{ "binary", no_argument, NULL, OPT_BINARY },
	{ "ignore-file", required_argument, NULL, OPT_IGNORE },
	{ "known-secret-env", required_argument, NULL, OPT_KNOWN },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* The command line of clawbox scan. */
struct scan_opts {
	const char *config, *ignore_file;
	const char *known[64];
	size_t n_known;
	enum format fmt;
	bool redact, text_redact, quiet, scan_binary;
	long jobs;
	size_t max_size;
	char *const *paths; /* "." when none was named */
	int n_paths;
};

/* --format arg into o->fmt. Returns -1 to go on, or SCAN_EXIT_ERROR
 * (reported) for an unknown format. */
static int parse_format(struct scan_opts *o, const char *arg)
{
	if (STREQ(arg, "text"))
		o->fmt = FMT_TEXT;
	else if (STREQ(arg, "json"))
		o->fmt = FMT_JSON;
	else if (STREQ(arg, "sarif"))
		o->fmt = FMT_SARIF;
	else {
		log_error("unknown format '%s' (text, json or sarif)", arg);
		return SCAN_EXIT_ERROR;
	}
	return -1;
}

/* --jobs arg into o->jobs. Returns -1 to go on, or SCAN_EXIT_ERROR
 * (reported) unless it is 1 to MAX_JOBS. */
static int parse_jobs(struct scan_opts *o, const char *arg)
{
	char *end;
	errno = 0;
	o->jobs = strtol(arg, &end, 10);
	if (errno || *end || o->jobs < 1 || o->jobs > MAX_JOBS) {
		log_error("invalid --jobs '%s' (1 to %d)", arg, MAX_JOBS);
		return SCAN_EXIT_ERROR;
	}
	return -1;
}

/* The option c (of getopt_long) into *o. Returns -1 to go on, or the exit
 * status to end with (0 after --help; SCAN_EXIT_ERROR, reported). */
static int parse_opt(int c, struct scan_opts *o)
{
	uint64_t max;
	switch (c) {
	case OPT_CONFIG: o->config = optarg; break;
	case OPT_FORMAT: return parse_format(o, optarg);
	case OPT_REDACT: o->redact = true; break;
	case OPT_NO_REDACT: o->text_redact = false; break;
	case OPT_JOBS: return parse_jobs(o, optarg);
	case OPT_MAX_SIZE:
		if (size_parse(optarg, UINT32_MAX, &max) < 0) {
			log_error("invalid --max-size '%s'", optarg);
			return SCAN_EXIT_ERROR;
		}
		o->max_size = (size_t)max;
		break;
	case OPT_BINARY: o->scan_binary = true; break;
	case OPT_IGNORE: o->ignore_file = optarg; break;
	case OPT_KNOWN:
		if (o->n_known >= ELEMENTSOF(o->known)) {
			log_error("too many --known-secret-env options");
			return SCAN_EXIT_ERROR;
		}
		o->known[o->n_known++] = optarg;
		break;
	case 'q': o->quiet = true; break;
	case 'h': usage(stdout); return 0;
	default: usage(stderr); return SCAN_EXIT_ERROR;
	}
	return -1;
}

/* The command line into *o (defaults first). Returns -1 to go on, or the
 * exit status to end with (0 after --help; SCAN_EXIT_ERROR, reported). */
static int parse_opts(int argc, char **argv, struct scan_opts *o)
{
	static char *def_paths[] = { (char *)"." };
	int c, code;
	*o = (struct scan_opts){ .fmt = FMT_TEXT,
				 .text_redact = true,
				 .jobs = sysconf(_SC_NPROCESSORS_ONLN),
				 .max_size = DEFAULT_MAX_SIZE };
	optind = 1;
	while ((c = getopt_long(argc, argv, "qh", long_opts, NULL)) != -1)
		if ((code = parse_opt(c, o)) >= 0)
			return code;
	if (o->jobs < 1)
		o->jobs = 1;
	if (o->jobs > MAX_JOBS)
		o->jobs = MAX_JOBS;
	o->paths = optind < argc ? argv + optind : def_paths;
	o->n_paths = optind < argc ? argc - optind : 1;
	return -1;
}

static void scan_rules_freep(struct scan_rules **rs)
{
	scan_rules_free(*rs);
}

/* The rules of --config (or the default ones) into rs; < 0, reported. */
static int load_config(struct scan_rules *rs, const char *config)
{
	struct error err = { 0 };
	char msg[ERROR_FORMAT_MAX];
	int r = config ? gitleaks_load_file(rs, config, &err) : gitleaks_load_default(rs, &err);
	if (r < 0) {
		if (error_isset(&err))
			log_error("%s", error_format(&err, msg, sizeof(msg)));
		else
			log_error("cannot load the rules from '%s': %s",
				  config ? config : "(default)", strerror(-r));
	}
	return r;
}

/* The values of the --known-secret-env variables into rs; < 0, reported. */
static int add_known(struct scan_rules *rs, const struct scan_opts *o)
{
	for (size_t i = 0; i < o->n_known; i++) {
		const char *v = secure_getenv(o->known[i]);
		if (!v || strlen(v) < 4) {
			log_error("environment variable '%s' is unset or shorter than 4 bytes",
				  o->known[i]);
			return -EINVAL;
		}
		int r = scan_rules_add_known_secret(rs, o->known[i], v, strlen(v));
		if (r < 0) {
			log_error("cannot use known secret '%s': %s", o->known[i], strerror(-r));
			return r;
		}
	}
	return 0;
}

/* --ignore-file, or else the .gitleaksignore of each directory named and
 * of the current one (when they exist), into rs; < 0, reported. */
static int load_ignores(struct scan_rules *rs, const struct scan_opts *o)
{
	if (o->ignore_file)
		return load_ignore_file(rs, o->ignore_file, true);
	for (int i = 0; i < o->n_paths; i++) {
		struct stat sb;
		char p[PATH_MAX];
		const char *path = o->paths[i];
		if (STREQ(path, "-") || stat(path, &sb) < 0 || !S_ISDIR(sb.st_mode))
			continue;
		if (path_join(p, sizeof(p), path, ".gitleaksignore") >= 0 &&
		    load_ignore_file(rs, p, false) < 0)
			return -EINVAL;
	}
	return load_ignore_file(rs, ".gitleaksignore", false);
}

/* The compiled rules of o (config, known secrets, ignore files) into
 * *ret_rs; < 0, reported. */
static int load_rules(const struct scan_opts *o, struct scan_rules **ret_rs)
{
	_cleanup_(scan_rules_freep) struct scan_rules *rs = NULL;
	struct error err = { 0 };
	char msg[ERROR_FORMAT_MAX];
	int r = scan_rules_new(&rs);
	if (r < 0) {
		log_error("cannot set the scanner up: %s", strerror(-r));
		return r;
	}
	if (load_config(rs, o->config) < 0 || add_known(rs, o) < 0 || load_ignores(rs, o) < 0)
		return -EINVAL;
	r = scan_rules_compile(rs, &err);
	if (r < 0) {
		log_error("cannot compile the rules: %s",
			  error_isset(&err) ? error_format(&err, msg, sizeof(msg)) : strerror(-r));
		return r;
	}
	*ret_rs = TAKE_PTR(rs);
	return 0;
}

/* Add path p to st as a file that could not be read (-error). */
static int add_unreadable(struct scan_state *st, const char *p, int error)
{
	int r = add_file(st, p);
	if (r >= 0)
		st->files[st->n_files - 1].error = error;
	return r;
}

/* Add the operand p (a file, a directory walked, "-" for stdin) to st;
 * one that cannot be read is added with its error. < 0 on failure. */
static int list_path(struct scan_state *st, const char *p)
{
	struct stat sb;
	if (STREQ(p, "-"))
		return add_file(st, "-");
	if (lstat(p, &sb) < 0)
		return add_unreadable(st, p, -errno);
	if (S_ISDIR(sb.st_mode)) {
		int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return add_unreadable(st, p, -errno);
		int r = walk(st, fd, p, 0);
		return r == -EACCES ? add_unreadable(st, p, -EACCES) : r;
	}
	if (S_ISREG(sb.st_mode))
		return add_file(st, p);
	/* a symlink or special file named on the command line is skipped */
	return add_unreadable(st, p, S_ISLNK(sb.st_mode) ? -ELOOP : -EINVAL);
}

/* Scan st's files on up to jobs threads (this one included). */
static void run_workers(struct scan_state *st, long jobs)
{
	pthread_t th[MAX_JOBS];
	long started = 0;
	if ((size_t)jobs > st->n_files)
		jobs = st->n_files ? (long)st->n_files : 1;
	for (long i = 1; i < jobs; i++) {
		if (pthread_create(&th[i], NULL, worker, st) != 0)
			break;
		started = i;
	}
	worker(st);
	for (long i = 1; i <= started; i++)
		pthread_join(th[i], NULL);
}

struct totals {
	size_t findings, errors, binary, big, scanned;
	uint64_t bytes;
};

/* Count st's findings and files; warn about each file skipped. */
static struct totals tally(const struct scan_state *st)
{
	struct totals t = { 0 };
	for (size_t i = 0; i < st->n_files; i++) {
		const struct file_job *j = &st->files[i];
		const char *name = STREQ(j->path, "-") ? "standard input" : j->path;
		t.findings += j->n;
		if (j->error) {
			t.errors++;
			log_warn("cannot read '%s': %s; skipped", name,
				 j->error == -ELOOP    ? "it is a symbolic link"
				 : j->error == -EINVAL ? "not a regular file"
						       : strerror(-j->error));
		} else if (j->too_big) {
			t.big++;
			log_warn("'%s' is larger than the size cap (%zu bytes); skipped", name,
				 st->max_size);
		} else if (j->binary) {
			t.binary++;
		} else {
			t.scanned++;
			t.bytes += j->size;
		}
	}
	return t;
}

/* Warn about the skipped files, write the report in o's format and the
 * summary. Returns the exit status: findings, else unreadable files. */
static int report(struct scan_state *st, const struct scan_opts *o)
{
	struct totals t = tally(st);
	int r = 0;
	if (o->fmt == FMT_TEXT)
		output_text(stdout, st, o->text_redact);
	else if (o->fmt == FMT_JSON)
		r = output_json(stdout, st, o->redact);
	else
		r = output_sarif(stdout, st, o->redact);
	if (fflush(stdout) != 0 && r >= 0)
		r = -errno;
	if (r < 0) {
		log_error("cannot write the report: %s", strerror(-r));
		return SCAN_EXIT_ERROR;
	}
	if (!o->quiet)
		log_info("scanned %zu files (%.1f MB), %zu findings; skipped %zu binary, "
			 "%zu too large, %zu unreadable",
			 t.scanned, (double)t.bytes / 1e6, t.findings, t.binary, t.big, t.errors);
	return t.findings ? SCAN_EXIT_FINDINGS : t.errors ? SCAN_EXIT_ERROR : 0;
}

/* Free st's files and findings (the secrets wiped first). */
static void scan_state_done(struct scan_state *st)
{
	for (size_t i = 0; i < st->n_files; i++) {
		for (size_t k = 0; k < st->files[i].n; k++) {
			free(st->files[i].f[k].match);
			if (st->files[i].f[k].secret) {
				explicit_bzero(st->files[i].f[k].secret,
					       strlen(st->files[i].f[k].secret));
				free(st->files[i].f[k].secret);
			}
		}
		free(st->files[i].f);
		free(st->files[i].path);
	}
	free(st->files);
}

int cmd_scan(int argc, char **argv)
{
	struct scan_opts o;
	int code = parse_opts(argc, argv, &o);
	if (code >= 0)
		return code;
	_cleanup_(scan_state_done) struct scan_state st = {
		.max_size = o.max_size,
		.scan_binary = o.scan_binary,
		.lock = PTHREAD_MUTEX_INITIALIZER,
	};
	_cleanup_(scan_rules_freep) struct scan_rules *rs = NULL;
	if (load_rules(&o, &rs) < 0)
		return SCAN_EXIT_ERROR;
	st.rs = rs;
	for (int i = 0; i < o.n_paths; i++) {
		int r = list_path(&st, o.paths[i]);
		if (r < 0) {
			log_error("cannot list '%s': %s", o.paths[i], strerror(-r));
			return SCAN_EXIT_ERROR;
		}
	}
	run_workers(&st, o.jobs);
	if (st.fatal) {
		log_error("scanning failed: %s", strerror(-st.fatal));
		return SCAN_EXIT_ERROR;
	}
	return report(&st, &o);
}
