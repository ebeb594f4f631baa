/* The scanner's libraries, Hyperscan and PCRE2, and libm (log2, for the
 * entropy), loaded with dlopen() on the scanner's first use instead of at
 * every start of clawbox: a box start would otherwise pay about 1 ms and
 * 1 MiB of RSS to map and relocate them (and libstdc++) for nothing (libm
 * alone: 0.06 ms). Include this after <hs/hs.h> and <pcre2.h>;
 * calls keep their names and go through the table. */
#ifndef CLAWBOX_SCANLIB_H
#define CLAWBOX_SCANLIB_H
#include "util/common.h"

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <hs/hs.h>
#include <math.h>
#include <pcre2.h>

#define SCANLIB_FUNCS(X)                  \
	X(hs_alloc_scratch)               \
	X(hs_clone_scratch)               \
	X(hs_compile_lit_multi)           \
	X(hs_compile_multi)               \
	X(hs_expression_info)             \
	X(hs_free_compile_error)          \
	X(hs_free_database)               \
	X(hs_free_scratch)                \
	X(hs_scan)                        \
	X(hs_serialize_database)          \
	X(hs_deserialize_database)        \
	X(hs_version)                     \
	X(pcre2_code_free_8)              \
	X(pcre2_compile_8)                \
	X(pcre2_compile_context_create_8) \
	X(pcre2_compile_context_free_8)   \
	X(pcre2_get_error_message_8)      \
	X(pcre2_get_ovector_count_8)      \
	X(pcre2_get_ovector_pointer_8)    \
	X(pcre2_jit_compile_8)            \
	X(pcre2_jit_stack_assign_8)       \
	X(pcre2_jit_stack_create_8)       \
	X(pcre2_jit_stack_free_8)         \
	X(pcre2_match_8)                  \
	X(pcre2_match_context_create_8)   \
	X(pcre2_match_context_free_8)     \
	X(pcre2_match_data_create_8)      \
	X(pcre2_match_data_free_8)        \
	X(pcre2_pattern_info_8)           \
	X(pcre2_set_bsr_8)                \
	X(pcre2_set_depth_limit_8)        \
	X(pcre2_set_match_limit_8)        \
	X(pcre2_set_newline_8)            \
	X(pcre2_set_offset_limit_8)       \
	X(log2)

struct scanlib {
#define SCANLIB_FIELD(f) __typeof__(&f) f;
	SCANLIB_FUNCS(SCANLIB_FIELD)
#undef SCANLIB_FIELD
};

extern struct scanlib scanlib;

struct error;

/* Load the libraries once (thread-safe). 0, or -ELIBACC when one is
 * missing or lacks a function; err (may be NULL) then names it (where). */
int scanlib_load(struct error *err);

/* From here on, the library's names call through the table (not in
 * scanlib.c itself, which fills it). */
#ifndef SCANLIB_NO_REDIRECT
#undef pcre2_code_free
#undef pcre2_compile
#undef pcre2_compile_context_create
#undef pcre2_compile_context_free
#undef pcre2_get_error_message
#undef pcre2_get_ovector_count
#undef pcre2_get_ovector_pointer
#undef pcre2_jit_compile
#undef pcre2_jit_stack_assign
#undef pcre2_jit_stack_create
#undef pcre2_jit_stack_free
#undef pcre2_match
#undef pcre2_match_context_create
#undef pcre2_match_context_free
#undef pcre2_match_data_create
#undef pcre2_match_data_free
#undef pcre2_pattern_info
#undef pcre2_set_bsr
#undef pcre2_set_depth_limit
#undef pcre2_set_match_limit
#undef pcre2_set_newline
#undef pcre2_set_offset_limit
#define hs_alloc_scratch             (scanlib.hs_alloc_scratch)
#define hs_clone_scratch             (scanlib.hs_clone_scratch)
#define hs_compile_lit_multi         (scanlib.hs_compile_lit_multi)
#define hs_compile_multi             (scanlib.hs_compile_multi)
#define hs_expression_info           (scanlib.hs_expression_info)
#define hs_free_compile_error        (scanlib.hs_free_compile_error)
#define hs_free_database             (scanlib.hs_free_database)
#define hs_free_scratch              (scanlib.hs_free_scratch)
#define hs_scan                      (scanlib.hs_scan)
#define hs_serialize_database        (scanlib.hs_serialize_database)
#define hs_deserialize_database      (scanlib.hs_deserialize_database)
#define hs_version                   (scanlib.hs_version)
#define pcre2_code_free              (scanlib.pcre2_code_free_8)
#define pcre2_compile                (scanlib.pcre2_compile_8)
#define pcre2_compile_context_create (scanlib.pcre2_compile_context_create_8)
#define pcre2_compile_context_free   (scanlib.pcre2_compile_context_free_8)
#define pcre2_get_error_message      (scanlib.pcre2_get_error_message_8)
#define pcre2_get_ovector_count      (scanlib.pcre2_get_ovector_count_8)
#define pcre2_get_ovector_pointer    (scanlib.pcre2_get_ovector_pointer_8)
#define pcre2_jit_compile            (scanlib.pcre2_jit_compile_8)
#define pcre2_jit_stack_assign       (scanlib.pcre2_jit_stack_assign_8)
#define pcre2_jit_stack_create       (scanlib.pcre2_jit_stack_create_8)
#define pcre2_jit_stack_free         (scanlib.pcre2_jit_stack_free_8)
#define pcre2_match                  (scanlib.pcre2_match_8)
#define pcre2_match_context_create   (scanlib.pcre2_match_context_create_8)
#define pcre2_match_context_free     (scanlib.pcre2_match_context_free_8)
#define pcre2_match_data_create      (scanlib.pcre2_match_data_create_8)
#define pcre2_match_data_free        (scanlib.pcre2_match_data_free_8)
#define pcre2_pattern_info           (scanlib.pcre2_pattern_info_8)
#define pcre2_set_bsr                (scanlib.pcre2_set_bsr_8)
#define pcre2_set_depth_limit        (scanlib.pcre2_set_depth_limit_8)
#define pcre2_set_match_limit        (scanlib.pcre2_set_match_limit_8)
#define pcre2_set_newline            (scanlib.pcre2_set_newline_8)
#define pcre2_set_offset_limit       (scanlib.pcre2_set_offset_limit_8)
#define log2                         (scanlib.log2)
#endif

#endif
