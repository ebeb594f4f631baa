/* libnghttp2, loaded with dlopen() by the brokered path only, for a box's
 * client that speaks HTTP/2 alone (src/net/brokerh2.h), as
 * src/net/tlslib.h loads libssl. Include this after <nghttp2/nghttp2.h>;
 * calls keep their names and go through the table. */
#ifndef CLAWBOX_H2LIB_H
#define CLAWBOX_H2LIB_H
#include "util/common.h"

#include <nghttp2/nghttp2.h>

#define H2LIB_FUNCS(X)                                               \
	X(nghttp2_option_del)                                        \
	X(nghttp2_option_new)                                        \
	X(nghttp2_option_set_no_auto_window_update)                  \
	X(nghttp2_session_callbacks_del)                             \
	X(nghttp2_session_callbacks_new)                             \
	X(nghttp2_session_callbacks_set_on_begin_headers_callback)   \
	X(nghttp2_session_callbacks_set_on_data_chunk_recv_callback) \
	X(nghttp2_session_callbacks_set_on_frame_recv_callback)      \
	X(nghttp2_session_callbacks_set_on_header_callback)          \
	X(nghttp2_session_callbacks_set_on_stream_close_callback)    \
	X(nghttp2_session_client_new2)                               \
	X(nghttp2_session_consume)                                   \
	X(nghttp2_session_del)                                       \
	X(nghttp2_session_get_stream_user_data)                      \
	X(nghttp2_session_mem_recv)                                  \
	X(nghttp2_session_mem_send)                                  \
	X(nghttp2_session_resume_data)                               \
	X(nghttp2_session_server_new2)                               \
	X(nghttp2_session_set_stream_user_data)                      \
	X(nghttp2_session_terminate_session)                         \
	X(nghttp2_session_want_read)                                 \
	X(nghttp2_session_want_write)                                \
	X(nghttp2_strerror)                                          \
	X(nghttp2_submit_request)                                    \
	X(nghttp2_submit_response)                                   \
	X(nghttp2_submit_rst_stream)                                 \
	X(nghttp2_submit_settings)                                   \
	X(nghttp2_submit_trailer)

struct h2lib {
#define H2LIB_FIELD(f) __typeof__(&f) f;
	H2LIB_FUNCS(H2LIB_FIELD)
#undef H2LIB_FIELD
};

extern struct h2lib h2lib;

struct error;

/* Load libnghttp2 once (thread-safe). 0, or -ELIBACC when it is missing or
 * lacks a function; err (may be NULL) then names it. */
int h2lib_load(struct error *err);

#ifndef H2LIB_NO_REDIRECT
#define nghttp2_option_del                       (h2lib.nghttp2_option_del)
#define nghttp2_option_new                       (h2lib.nghttp2_option_new)
#define nghttp2_option_set_no_auto_window_update (h2lib.nghttp2_option_set_no_auto_window_update)
#define nghttp2_session_callbacks_del            (h2lib.nghttp2_session_callbacks_del)
#define nghttp2_session_callbacks_new            (h2lib.nghttp2_session_callbacks_new)
#define nghttp2_session_callbacks_set_on_begin_headers_callback \
	(h2lib.nghttp2_session_callbacks_set_on_begin_headers_callback)
#define nghttp2_session_callbacks_set_on_data_chunk_recv_callback \
	(h2lib.nghttp2_session_callbacks_set_on_data_chunk_recv_callback)
#define nghttp2_session_callbacks_set_on_frame_recv_callback \
	(h2lib.nghttp2_session_callbacks_set_on_frame_recv_callback)
#define nghttp2_session_callbacks_set_on_header_callback \
	(h2lib.nghttp2_session_callbacks_set_on_header_callback)
#define nghttp2_session_callbacks_set_on_stream_close_callback \
	(h2lib.nghttp2_session_callbacks_set_on_stream_close_callback)
#define nghttp2_session_client_new2          (h2lib.nghttp2_session_client_new2)
#define nghttp2_session_consume              (h2lib.nghttp2_session_consume)
#define nghttp2_session_del                  (h2lib.nghttp2_session_del)
#define nghttp2_session_get_stream_user_data (h2lib.nghttp2_session_get_stream_user_data)
#define nghttp2_session_mem_recv             (h2lib.nghttp2_session_mem_recv)
#define nghttp2_session_mem_send             (h2lib.nghttp2_session_mem_send)
#define nghttp2_session_resume_data          (h2lib.nghttp2_session_resume_data)
#define nghttp2_session_server_new2          (h2lib.nghttp2_session_server_new2)
#define nghttp2_session_set_stream_user_data (h2lib.nghttp2_session_set_stream_user_data)
#define nghttp2_session_terminate_session    (h2lib.nghttp2_session_terminate_session)
#define nghttp2_session_want_read            (h2lib.nghttp2_session_want_read)
#define nghttp2_session_want_write           (h2lib.nghttp2_session_want_write)
#define nghttp2_strerror                     (h2lib.nghttp2_strerror)
#define nghttp2_submit_request               (h2lib.nghttp2_submit_request)
#define nghttp2_submit_response              (h2lib.nghttp2_submit_response)
#define nghttp2_submit_rst_stream            (h2lib.nghttp2_submit_rst_stream)
#define nghttp2_submit_settings              (h2lib.nghttp2_submit_settings)
#define nghttp2_submit_trailer               (h2lib.nghttp2_submit_trailer)
#endif

#endif
