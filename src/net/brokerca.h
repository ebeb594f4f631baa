/* The box's own certificate authority, for the proxy's brokered
 * destinations (docs/SECRETS.md, "Brokered credentials"): the proxy
 * terminates TLS to those hosts only, with leaf certificates this CA signs,
 * and the box trusts it through its CA bundle.
 *
 * The key (EC P-256) is made once and kept in the box's state dir
 * (BROKERCA_KEY_FILE, 0600, in the 0700 box dir: never in the box's view).
 * The CA certificate is issued anew each time a box starts, from that key:
 * valid from an hour ago for BROKERCA_DAYS days, and name-constrained to the
 * brokered DNS names of that start, so that even a stolen key signs for no
 * other name (IP literals are not constrained: some clients refuse a CA
 * with an IP constraint, see constraints() in brokerca.c). Leaf certificates (one key per process, made on first use)
 * are short-lived (BROKERCA_LEAF_HOURS) and cached per host.
 * Needs tlslib_load(). Never prints; thread-safe. */
#ifndef CLAWBOX_BROKERCA_H
#define CLAWBOX_BROKERCA_H
#include "util/common.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#define BROKERCA_KEY_FILE   "broker-ca.key"
#define BROKERCA_DAYS       30
#define BROKERCA_LEAF_HOURS 24
#define BROKERCA_HOSTS_MAX  64
#define BROKERCA_LEAVES_MAX 256 /* cached leaves; the oldest goes */

struct brokerca;
struct error;

/* The CA of the box whose state dir is box_dirfd (its key loaded, or made
 * and written there), its certificate issued for hosts[0..n) (names, or
 * IPv4/IPv6 literals; 1..BROKERCA_HOSTS_MAX). box_name goes in its subject.
 * -EINVAL for a bad host; -EBADMSG when the key file is not a private key
 * of ours (it is never replaced silently); -EPERM when it is not a regular
 * file of mode 0600 owned by us. */
int brokerca_open(int box_dirfd, const char *box_name, const char *const *hosts, size_t n,
		  struct brokerca **ret, struct error *err);

/* The CA certificate as PEM (NUL-terminated), for the box's bundle. */
const char *brokerca_pem(const struct brokerca *ca);

/* A leaf certificate for host (one of the CA's hosts: -EPERM otherwise)
 * and its key, from the cache or made now; each given a reference the
 * caller drops (X509_free, EVP_PKEY_free). */
int brokerca_leaf(struct brokerca *ca, const char *host, X509 **ret_cert, EVP_PKEY **ret_key,
		  struct error *err);

/* NULL is fine; returns NULL. */
struct brokerca *brokerca_free(struct brokerca *ca);

#endif
