/* OpenSSL 3 (libssl and the libcrypto it needs), loaded with dlopen() by the
 * proxy of a box with a brokered secret only (docs/SECRETS.md, "Brokered
 * credentials"): every other start of clawbox pays nothing for it, as
 * src/api/httplib.h does for libmicrohttpd. Include this after the OpenSSL
 * headers; calls keep their names and go through the table (OpenSSL's own
 * macros, SSL_set_tlsext_host_name and the like, expand to functions of
 * the table too). */
#ifndef CLAWBOX_TLSLIB_H
#define CLAWBOX_TLSLIB_H
#include "util/common.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define TLSLIB_FUNCS(X)                   \
	X(ASN1_INTEGER_set_uint64)        \
	X(BIO_ctrl)                       \
	X(BIO_free)                       \
	X(BIO_new)                        \
	X(BIO_new_mem_buf)                \
	X(BIO_s_mem)                      \
	X(ERR_clear_error)                \
	X(ERR_error_string_n)             \
	X(ERR_get_error)                  \
	X(EVP_PKEY_Q_keygen)              \
	X(EVP_PKEY_free)                  \
	X(EVP_PKEY_up_ref)                \
	X(EVP_sha256)                     \
	X(PEM_read_bio_PrivateKey)        \
	X(PEM_read_bio_X509)              \
	X(PEM_write_bio_PrivateKey)       \
	X(PEM_write_bio_X509)             \
	X(RAND_bytes)                     \
	X(SSL_CTX_ctrl)                   \
	X(SSL_CTX_free)                   \
	X(SSL_CTX_load_verify_locations)  \
	X(SSL_CTX_load_verify_dir)        \
	X(SSL_CTX_load_verify_file)       \
	X(SSL_CTX_new)                    \
	X(SSL_CTX_sess_set_new_cb)        \
	X(SSL_CTX_set_alpn_protos)        \
	X(SSL_CTX_set_alpn_select_cb)     \
	X(SSL_CTX_set_client_hello_cb)    \
	X(SSL_CTX_set_options)            \
	X(SSL_CTX_set_verify)             \
	X(SSL_CTX_use_PrivateKey)         \
	X(SSL_CTX_use_certificate)        \
	X(SSL_accept)                     \
	X(SSL_connect)                    \
	X(SSL_ctrl)                       \
	X(SSL_free)                       \
	X(SSL_get0_alpn_selected)         \
	X(SSL_get0_param)                 \
	X(SSL_get_error)                  \
	X(SSL_get_servername)             \
	X(SSL_get_verify_result)          \
	X(SSL_new)                        \
	X(SSL_pending)                    \
	X(SSL_SESSION_free)               \
	X(SSL_read)                       \
	X(SSL_select_next_proto)          \
	X(SSL_set1_host)                  \
	X(SSL_set_alpn_protos)            \
	X(SSL_set_fd)                     \
	X(SSL_set_session)                \
	X(SSL_shutdown)                   \
	X(SSL_use_PrivateKey)             \
	X(SSL_use_certificate)            \
	X(SSL_write)                      \
	X(TLS_client_method)              \
	X(TLS_server_method)              \
	X(X509V3_EXT_conf_nid)            \
	X(X509V3_set_ctx)                 \
	X(X509_EXTENSION_free)            \
	X(X509_NAME_add_entry_by_txt)     \
	X(X509_STORE_CTX_free)            \
	X(X509_STORE_CTX_get0_param)      \
	X(X509_STORE_CTX_get_error)       \
	X(X509_STORE_CTX_init)            \
	X(X509_STORE_CTX_new)             \
	X(X509_STORE_add_cert)            \
	X(X509_STORE_free)                \
	X(X509_STORE_new)                 \
	X(X509_VERIFY_PARAM_set1_host)    \
	X(X509_VERIFY_PARAM_set1_ip_asc)  \
	X(X509_add_ext)                   \
	X(X509_get_default_cert_dir)      \
	X(X509_get_default_cert_dir_env)  \
	X(X509_get_default_cert_file)     \
	X(X509_get_default_cert_file_env) \
	X(X509_free)                      \
	X(X509_get_serialNumber)          \
	X(X509_get_subject_name)          \
	X(X509_getm_notAfter)             \
	X(X509_getm_notBefore)            \
	X(X509_gmtime_adj)                \
	X(X509_new)                       \
	X(X509_set_issuer_name)           \
	X(X509_set_pubkey)                \
	X(X509_set_version)               \
	X(X509_sign)                      \
	X(X509_up_ref)                    \
	X(X509_verify_cert)               \
	X(X509_verify_cert_error_string)

struct tlslib {
#define TLSLIB_FIELD(f) __typeof__(&f) f;
	TLSLIB_FUNCS(TLSLIB_FIELD)
#undef TLSLIB_FIELD
};

extern struct tlslib tlslib;

struct error;

/* Load libssl once (thread-safe). 0, or -ELIBACC when it is missing or
 * lacks a function; err (may be NULL) then names it (where). */
int tlslib_load(struct error *err);

/* OpenSSL's last error queued in this thread, as text in out (n bytes),
 * the queue emptied; "unknown error" when it is empty. Returns out. */
char *tlslib_error(char *out, size_t n);

#ifndef TLSLIB_NO_REDIRECT
#define ASN1_INTEGER_set_uint64        (tlslib.ASN1_INTEGER_set_uint64)
#define BIO_ctrl                       (tlslib.BIO_ctrl)
#define BIO_free                       (tlslib.BIO_free)
#define BIO_new                        (tlslib.BIO_new)
#define BIO_new_mem_buf                (tlslib.BIO_new_mem_buf)
#define BIO_s_mem                      (tlslib.BIO_s_mem)
#define ERR_clear_error                (tlslib.ERR_clear_error)
#define ERR_error_string_n             (tlslib.ERR_error_string_n)
#define ERR_get_error                  (tlslib.ERR_get_error)
#define EVP_PKEY_Q_keygen              (tlslib.EVP_PKEY_Q_keygen)
#define EVP_PKEY_free                  (tlslib.EVP_PKEY_free)
#define EVP_PKEY_up_ref                (tlslib.EVP_PKEY_up_ref)
#define EVP_sha256                     (tlslib.EVP_sha256)
#define PEM_read_bio_PrivateKey        (tlslib.PEM_read_bio_PrivateKey)
#define PEM_read_bio_X509              (tlslib.PEM_read_bio_X509)
#define PEM_write_bio_PrivateKey       (tlslib.PEM_write_bio_PrivateKey)
#define PEM_write_bio_X509             (tlslib.PEM_write_bio_X509)
#define RAND_bytes                     (tlslib.RAND_bytes)
#define SSL_CTX_ctrl                   (tlslib.SSL_CTX_ctrl)
#define SSL_CTX_free                   (tlslib.SSL_CTX_free)
#define SSL_CTX_load_verify_locations  (tlslib.SSL_CTX_load_verify_locations)
#define SSL_CTX_load_verify_dir        (tlslib.SSL_CTX_load_verify_dir)
#define SSL_CTX_load_verify_file       (tlslib.SSL_CTX_load_verify_file)
#define SSL_CTX_new                    (tlslib.SSL_CTX_new)
#define SSL_CTX_sess_set_new_cb        (tlslib.SSL_CTX_sess_set_new_cb)
#define SSL_CTX_set_alpn_protos        (tlslib.SSL_CTX_set_alpn_protos)
#define SSL_CTX_set_alpn_select_cb     (tlslib.SSL_CTX_set_alpn_select_cb)
#define SSL_CTX_set_client_hello_cb    (tlslib.SSL_CTX_set_client_hello_cb)
#define SSL_CTX_set_options            (tlslib.SSL_CTX_set_options)
#define SSL_CTX_set_verify             (tlslib.SSL_CTX_set_verify)
#define SSL_CTX_use_PrivateKey         (tlslib.SSL_CTX_use_PrivateKey)
#define SSL_CTX_use_certificate        (tlslib.SSL_CTX_use_certificate)
#define SSL_accept                     (tlslib.SSL_accept)
#define SSL_connect                    (tlslib.SSL_connect)
#define SSL_ctrl                       (tlslib.SSL_ctrl)
#define SSL_free                       (tlslib.SSL_free)
#define SSL_get0_alpn_selected         (tlslib.SSL_get0_alpn_selected)
#define SSL_get0_param                 (tlslib.SSL_get0_param)
#define SSL_get_error                  (tlslib.SSL_get_error)
#define SSL_get_servername             (tlslib.SSL_get_servername)
#define SSL_get_verify_result          (tlslib.SSL_get_verify_result)
#define SSL_new                        (tlslib.SSL_new)
#define SSL_pending                    (tlslib.SSL_pending)
#define SSL_SESSION_free               (tlslib.SSL_SESSION_free)
#define SSL_read                       (tlslib.SSL_read)
#define SSL_select_next_proto          (tlslib.SSL_select_next_proto)
#define SSL_set_alpn_protos            (tlslib.SSL_set_alpn_protos)
#define SSL_set1_host                  (tlslib.SSL_set1_host)
#define SSL_set_fd                     (tlslib.SSL_set_fd)
#define SSL_set_session                (tlslib.SSL_set_session)
#define SSL_shutdown                   (tlslib.SSL_shutdown)
#define SSL_use_PrivateKey             (tlslib.SSL_use_PrivateKey)
#define SSL_use_certificate            (tlslib.SSL_use_certificate)
#define SSL_write                      (tlslib.SSL_write)
#define TLS_client_method              (tlslib.TLS_client_method)
#define TLS_server_method              (tlslib.TLS_server_method)
#define X509V3_EXT_conf_nid            (tlslib.X509V3_EXT_conf_nid)
#define X509V3_set_ctx                 (tlslib.X509V3_set_ctx)
#define X509_EXTENSION_free            (tlslib.X509_EXTENSION_free)
#define X509_NAME_add_entry_by_txt     (tlslib.X509_NAME_add_entry_by_txt)
#define X509_STORE_CTX_free            (tlslib.X509_STORE_CTX_free)
#define X509_STORE_CTX_get0_param      (tlslib.X509_STORE_CTX_get0_param)
#define X509_STORE_CTX_get_error       (tlslib.X509_STORE_CTX_get_error)
#define X509_STORE_CTX_init            (tlslib.X509_STORE_CTX_init)
#define X509_STORE_CTX_new             (tlslib.X509_STORE_CTX_new)
#define X509_STORE_add_cert            (tlslib.X509_STORE_add_cert)
#define X509_STORE_free                (tlslib.X509_STORE_free)
#define X509_STORE_new                 (tlslib.X509_STORE_new)
#define X509_VERIFY_PARAM_set1_host    (tlslib.X509_VERIFY_PARAM_set1_host)
#define X509_VERIFY_PARAM_set1_ip_asc  (tlslib.X509_VERIFY_PARAM_set1_ip_asc)
#define X509_add_ext                   (tlslib.X509_add_ext)
#define X509_get_default_cert_dir      (tlslib.X509_get_default_cert_dir)
#define X509_get_default_cert_dir_env  (tlslib.X509_get_default_cert_dir_env)
#define X509_get_default_cert_file     (tlslib.X509_get_default_cert_file)
#define X509_get_default_cert_file_env (tlslib.X509_get_default_cert_file_env)
#define X509_free                      (tlslib.X509_free)
#define X509_get_serialNumber          (tlslib.X509_get_serialNumber)
#define X509_get_subject_name          (tlslib.X509_get_subject_name)
#define X509_getm_notAfter             (tlslib.X509_getm_notAfter)
#define X509_getm_notBefore            (tlslib.X509_getm_notBefore)
#define X509_gmtime_adj                (tlslib.X509_gmtime_adj)
#define X509_new                       (tlslib.X509_new)
#define X509_set_issuer_name           (tlslib.X509_set_issuer_name)
#define X509_set_pubkey                (tlslib.X509_set_pubkey)
#define X509_set_version               (tlslib.X509_set_version)
#define X509_sign                      (tlslib.X509_sign)
#define X509_up_ref                    (tlslib.X509_up_ref)
#define X509_verify_cert               (tlslib.X509_verify_cert)
#define X509_verify_cert_error_string  (tlslib.X509_verify_cert_error_string)
#endif

#endif
