/* libmicrohttpd, loaded with dlopen() by `clawbox serve` only: every other
 * start of clawbox (a box start is benchmarked) pays nothing for it, as
 * src/scan/scanlib.h does for the scanner's libraries. Include this after
 * <microhttpd.h>; calls keep their names and go through the table. */
#ifndef CLAWBOX_HTTPLIB_H
#define CLAWBOX_HTTPLIB_H
#include "util/common.h"

#include <sys/socket.h>

#include <microhttpd.h>

#define HTTPLIB_FUNCS(X)                           \
	X(MHD_start_daemon)                        \
	X(MHD_stop_daemon)                         \
	X(MHD_quiesce_daemon)                      \
	X(MHD_get_daemon_info)                     \
	X(MHD_get_connection_info)                 \
	X(MHD_set_connection_option)               \
	X(MHD_lookup_connection_value)             \
	X(MHD_get_connection_values)               \
	X(MHD_http_unescape)                       \
	X(MHD_create_response_from_buffer)         \
	X(MHD_create_response_from_callback)       \
	X(MHD_create_response_from_fd_at_offset64) \
	X(MHD_add_response_header)                 \
	X(MHD_queue_response)                      \
	X(MHD_destroy_response)

struct httplib {
#define HTTPLIB_FIELD(f) __typeof__(&f) f;
	HTTPLIB_FUNCS(HTTPLIB_FIELD)
#undef HTTPLIB_FIELD
};

extern struct httplib httplib;

struct error;

/* Load libmicrohttpd once (thread-safe). 0, or -ELIBACC when it is missing
 * or lacks a function; err (may be NULL) then names it (where). */
int httplib_load(struct error *err);

#ifndef HTTPLIB_NO_REDIRECT
#define MHD_start_daemon                        (httplib.MHD_start_daemon)
#define MHD_stop_daemon                         (httplib.MHD_stop_daemon)
#define MHD_quiesce_daemon                      (httplib.MHD_quiesce_daemon)
#define MHD_get_daemon_info                     (httplib.MHD_get_daemon_info)
#define MHD_get_connection_info                 (httplib.MHD_get_connection_info)
#define MHD_set_connection_option               (httplib.MHD_set_connection_option)
#define MHD_lookup_connection_value             (httplib.MHD_lookup_connection_value)
#define MHD_get_connection_values               (httplib.MHD_get_connection_values)
#define MHD_http_unescape                       (httplib.MHD_http_unescape)
#define MHD_create_response_from_buffer         (httplib.MHD_create_response_from_buffer)
#define MHD_create_response_from_callback       (httplib.MHD_create_response_from_callback)
#define MHD_create_response_from_fd_at_offset64 (httplib.MHD_create_response_from_fd_at_offset64)
#define MHD_add_response_header                 (httplib.MHD_add_response_header)
#define MHD_queue_response                      (httplib.MHD_queue_response)
#define MHD_destroy_response                    (httplib.MHD_destroy_response)
#endif

#endif
