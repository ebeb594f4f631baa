/* UTF-8 for display: which characters may be shown to a user as they are.
 * Text from a box (file names, link targets, file contents in a diff) is
 * shown on the user's terminal; a character the terminal acts on (C0, DEL,
 * C1 such as U+009B CSI) or one that reorders or hides what is shown (the
 * bidi controls, e.g. U+202E RIGHT-TO-LEFT OVERRIDE) must be escaped. */
#ifndef CLAWBOX_UTF8_H
#define CLAWBOX_UTF8_H
#include "util/common.h"

/* The length (1-4) of the valid UTF-8 sequence at s[0..n), its code point
 * in *ret_cp; 0 for an invalid, overlong, surrogate or truncated one (and
 * for n == 0). */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *ret_cp);

/* True when the NUL-terminated s is valid UTF-8 throughout (no overlong,
 * surrogate or truncated sequence). */
bool utf8_valid(const char *s);

/* The first byte of the NUL-terminated s that no file name may hold for
 * the sync gate and the file calls (a C0 control, below 0x20, or DEL), or
 * 0 when there is none. */
unsigned char utf8_ascii_control(const char *s);

/* Is cp a control a terminal acts on, or a character that reorders or
 * hides text: C0, DEL, C1 (U+0080..U+009F), U+061C, U+200E,
 * U+200F, U+202A..U+202E, U+2066..U+2069, U+2028, U+2029? */
bool utf8_is_control(uint32_t cp);

/* Make buf[0..n) safe to show, in place: every control (utf8_is_control,
 * except '\n' and '\t') and every byte of an invalid sequence becomes '?'.
 * Returns the new length (<= n). A sequence cut at the end of buf is
 * left out: *ret_keep gets its length (0-3), for the caller to carry
 * into the next call. */
size_t utf8_display_filter(char *buf, size_t n, size_t *ret_keep);

#endif
