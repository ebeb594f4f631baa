/* The gate's names and displays: the names of verdicts, actions, types,
 * severities and choices as plans show them, paths made printable, and the
 * subject of an error. */
#include "util/common.h"

#include "sync/gate_int.h"
#include "util/utf8.h"

#include <stdarg.h>

static const char *const verdict_names[] = {
	[GATE_OK] = "apply",        [GATE_NEEDS_APPROVAL] = "needs-approval",
	[GATE_BLOCKED] = "blocked", [GATE_CONFLICT] = "conflict",
	[GATE_WAITING] = "waiting", [GATE_UNSTABLE] = "changing",
	[GATE_SETTLED] = "settled", [GATE_GITDATA] = "git-data",
};
static const char *const action_names[] = {
	[GATE_ACT_NONE] = "none",   [GATE_ACT_WRITE] = "write",   [GATE_ACT_SYMLINK] = "symlink",
	[GATE_ACT_MKDIR] = "mkdir", [GATE_ACT_DELETE] = "delete", [GATE_ACT_REPLACE] = "replace",
	[GATE_ACT_CHMOD] = "chmod",
};
static const char *const type_names[] = {
	[GATE_FILE] = "file",       [GATE_DIR] = "dir",           [GATE_SYMLINK] = "symlink",
	[GATE_SPECIAL] = "special", [GATE_WHITEOUT] = "whiteout",
};
static const char *const sev_names[] = {
	[GATE_SEV_NOTE] = "note",
	[GATE_SEV_APPROVE] = "needs-approval",
	[GATE_SEV_BLOCK] = "block",
};
static const char *const choice_names[] = {
	[GATE_CHOICE_NONE] = "none",
	[GATE_CHOICE_APPLY] = "apply",
	[GATE_CHOICE_KEEP_HOST] = "keep-host",
	[GATE_CHOICE_BESIDE] = "beside",
};

const char *gate_verdict_name(enum gate_verdict v)
{
	return verdict_names[v];
}
const char *gate_action_name(enum gate_action a)
{
	return action_names[a];
}
const char *gate_type_name(enum gate_type t)
{
	return type_names[t];
}
const char *gate_severity_name(enum gate_severity s)
{
	return sev_names[s];
}
const char *gate_choice_name(enum gate_choice c)
{
	return choice_names[c];
}

int gate_fail(struct error *err, int r, const char *subject, const char *fmt, ...)
{
	char where[ERROR_WHERE_MAX] = "";
	va_list ap;
	if (!err)
		return r;
	if (subject)
		gate_path_display(subject, where, sizeof(where));
	va_start(ap, fmt);
	error_setv(err, r, where, 0, fmt, ap);
	va_end(ap);
	return r;
}

void gate_path_display(const char *path, char *out, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, left = strlen(path);
	const unsigned char *s = (const unsigned char *)path;
	if (n < 8) {
		if (n)
			out[0] = '\0';
		return;
	}
	while (*s) {
		unsigned char c = *s;
		uint32_t cp = 0;
		/* a valid UTF-8 sequence is copied as is, unless it is a C1 or
		 * bidi control (shown as \uXXXX) */
		size_t seq = c >= 0x80 ? utf8_decode(s, left, &cp) : 0;
		if (o + 8 >= n) {
			memcpy(out + (o + 4 <= n ? o : n - 4), "...", 4);
			return;
		}
		if (seq && utf8_is_control(cp)) {
			o += (size_t)snprintf(out + o, n - o, "\\u%04x", (unsigned)cp);
			s += seq;
			left -= seq;
		} else if (seq) {
			memcpy(out + o, s, seq);
			o += seq;
			s += seq;
			left -= seq;
		} else if (c < 0x20 || c == 0x7f || c >= 0x80 || c == '\\') {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
			s++;
			left--;
		} else {
			out[o++] = (char)c;
			s++;
			left--;
		}
	}
	out[o] = '\0';
}
