#include "util/common.h"

#include <pthread.h>
#include <sys/stat.h>

#include "net/brokerca.h"
#include "net/tlslib.h"
#include "secrets/broker.h"
#include "util/error.h"
#include "util/fs.h"

#define KEY_FILE_MAX (16 * 1024)
#define HOST_MAX     BROKER_HOST_MAX

struct leaf {
	char host[HOST_MAX + 1];
	X509 *cert;
	int64_t until; /* unix seconds: made anew after */
};

struct brokerca {
	pthread_mutex_t lock; /* guards leaf_key, leaves, nleaves, next */
	EVP_PKEY *key;
	X509 *cert;
	char *pem;
	char **hosts;
	size_t nhosts;
	EVP_PKEY *leaf_key;
	struct leaf leaves[BROKERCA_LEAVES_MAX];
	size_t nleaves, next; /* next: the slot a new leaf takes when full */
};

static int ssl_fail(struct error *err, int code, const char *what)
{
	char e[256];
	return error_set(err, code, NULL, 0, "%s: %s", what, tlslib_error(e, sizeof(e)));
}

/* The key in dirfd's BROKERCA_KEY_FILE: 1 loaded, 0 none there. */
static int key_load(int dirfd, EVP_PKEY **ret, struct error *err)
{
	_cleanup_close_ int fd =
	    openat(dirfd, BROKERCA_KEY_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 || fstat(fd, &st) < 0)
		return error_errno(err, -errno, "open the box's CA key '%s'", BROKERCA_KEY_FILE);
	if (!S_ISREG(st.st_mode) || (st.st_mode & 07777) != 0600 || st.st_uid != geteuid())
		return error_set(err, -EPERM, BROKERCA_KEY_FILE, 0,
				 "the box's CA key must be a file of mode 0600 owned by uid %u",
				 (unsigned)geteuid());
	char *buf = malloc(KEY_FILE_MAX + 1);
	size_t len = 0;
	if (!buf)
		return error_errno(err, -ENOMEM, "read the box's CA key");
	int r = fs_read_fd(fd, buf, KEY_FILE_MAX + 1, &len);
	BIO *b = r == 0 ? BIO_new_mem_buf(buf, (int)len) : NULL;
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	explicit_bzero(buf, KEY_FILE_MAX + 1);
	free(buf);
	if (r < 0)
		return error_errno(err, r == -EFBIG ? -EBADMSG : r, "read the box's CA key");
	if (!k)
		return error_set(err, -EBADMSG, BROKERCA_KEY_FILE, 0,
				 "not a private key in PEM (remove it to make a new CA)");
	*ret = k;
	return 1;
}

/* A new P-256 key, written to dirfd's BROKERCA_KEY_FILE (0600) first. */
static int key_make(int dirfd, EVP_PKEY **ret, struct error *err)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (!k)
		return ssl_fail(err, -EIO, "make the box's CA key");
	BIO *b = BIO_new(BIO_s_mem());
	char *pem = NULL;
	long len = b && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL)
		       ? BIO_get_mem_data(b, &pem)
		       : -1;
	int r =
	    len > 0 ? fs_write_atomic_at(dirfd, BROKERCA_KEY_FILE, pem, (size_t)len, 0600) : -EIO;
	if (len > 0)
		explicit_bzero(pem, (size_t)len);
	BIO_free(b);
	if (r < 0) {
		EVP_PKEY_free(k);
		return error_errno(err, r, "write the box's CA key '%s'", BROKERCA_KEY_FILE);
	}
	*ret = k;
	return 0;
}

/* Add extension nid (OpenSSL's config syntax in value) to x, issued by
 * issuer. */
static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	int ok = e && X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok ? 0 : -EIO;
}

/* A certificate for subject cn and key, valid from an hour ago for secs,
 * with a random serial; issued by issuer (NULL: itself) and signed by
 * sign_key once the caller added its extensions (cert_sign). */
static X509 *cert_new(const char *cn, EVP_PKEY *key, X509 *issuer, long secs)
{
	uint64_t serial;
	X509 *x = X509_new();
	if (!x || RAND_bytes((unsigned char *)&serial, sizeof(serial)) != 1 ||
	    !X509_set_version(x, X509_VERSION_3) ||
	    !ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), serial >> 1) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), secs) || !X509_set_pubkey(x, key) ||
	    !X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
					(const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(issuer ? issuer : x))) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* "critical,permitted;DNS:a,..." for the CA's name constraints: DNS names
 * only. An IP address constraint makes some clients (BoringSSL's: Bun,
 * so Claude Code) refuse every certificate under the CA, whatever its
 * names; so brokered IP literals are not constrained. Without a DNS host,
 * the one name permitted is "invalid" (RFC 6761: never a real name). */
static int constraints(char *const *hosts, size_t n, char *out, size_t cap)
{
	size_t w = 0, dns = 0;
	w += (size_t)snprintf(out, cap, "critical");
	for (size_t i = 0; i < n && w < cap; i++)
		if (!broker_host_is_ip(hosts[i])) {
			w += (size_t)snprintf(out + w, cap - w, ",permitted;DNS:%s", hosts[i]);
			dns++;
		}
	if (dns == 0 && w < cap)
		w += (size_t)snprintf(out + w, cap - w, ",permitted;DNS:invalid");
	return w < cap ? 0 : -E2BIG;
}

/* The CA certificate for ca->hosts, and its PEM. */
static int ca_issue(struct brokerca *ca, const char *box_name, struct error *err)
{
	char cn[128], nc[BROKERCA_HOSTS_MAX * (HOST_MAX + 64) + 16];
	snprintf(cn, sizeof(cn), "clawbox box %.64s CA", box_name);
	if (constraints(ca->hosts, ca->nhosts, nc, sizeof(nc)) < 0)
		return error_set(err, -E2BIG, NULL, 0, "too many brokered hosts");
	X509 *x = cert_new(cn, ca->key, NULL, (long)BROKERCA_DAYS * 86400);
	if (!x || add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") < 0 ||
	    add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
	    add_ext(x, x, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(x, x, NID_name_constraints, nc) < 0 || !X509_sign(x, ca->key, EVP_sha256())) {
		X509_free(x);
		return ssl_fail(err, -EIO, "issue the box's CA certificate");
	}
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	long len = b && PEM_write_bio_X509(b, x) ? BIO_get_mem_data(b, &p) : -1;
	ca->pem = len > 0 ? strndup(p, (size_t)len) : NULL;
	BIO_free(b);
	ca->cert = x;
	return ca->pem ? 0 : error_errno(err, -ENOMEM, "write the box's CA certificate");
}

int brokerca_open(int box_dirfd, const char *box_name, const char *const *hosts, size_t n,
		  struct brokerca **ret, struct error *err)
{
	int r = tlslib_load(err);
	if (r < 0)
		return r;
	if (n == 0 || n > BROKERCA_HOSTS_MAX)
		return error_set(err, -EINVAL, NULL, 0, "1 to %d brokered hosts, not %zu",
				 BROKERCA_HOSTS_MAX, n);
	struct brokerca *ca = calloc(1, sizeof(*ca));
	if (!ca || !(ca->hosts = calloc(n, sizeof(*ca->hosts)))) {
		free(ca);
		return error_errno(err, -ENOMEM, "make the box's CA");
	}
	pthread_mutex_init(&ca->lock, NULL);
	for (size_t i = 0; i < n; i++) {
		if (!broker_host_valid(hosts[i])) {
			brokerca_free(ca);
			return error_set(err, -EINVAL, NULL, 0, "invalid brokered host '%.*s'",
					 HOST_MAX, hosts[i]);
		}
		if (!(ca->hosts[ca->nhosts++] = strdup(hosts[i]))) {
			brokerca_free(ca);
			return error_errno(err, -ENOMEM, "make the box's CA");
		}
	}
	r = key_load(box_dirfd, &ca->key, err);
	if (r == 0)
		r = key_make(box_dirfd, &ca->key, err);
	if (r >= 0)
		r = ca_issue(ca, box_name, err);
	if (r < 0) {
		brokerca_free(ca);
		return r;
	}
	*ret = ca;
	return 0;
}

const char *brokerca_pem(const struct brokerca *ca)
{
	return ca->pem;
}

static bool ca_names(const struct brokerca *ca, const char *host)
{
	for (size_t i = 0; i < ca->nhosts; i++)
		if (!strcmp(ca->hosts[i], host))
			return true;
	return false;
}

/* A new leaf for host (under ca->lock). */
static X509 *leaf_make(struct brokerca *ca, const char *host)
{
	char san[HOST_MAX + 8];
	snprintf(san, sizeof(san), "%s:%s", broker_host_is_ip(host) ? "IP" : "DNS", host);
	if (!ca->leaf_key && !(ca->leaf_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")))
		return NULL;
	/* The name is in the subjectAltName only: a subject CN that looks
	 * like a host is checked against the CA's DNS constraints too, which
	 * an IP literal would fail. */
	X509 *x = cert_new("clawbox brokered host", ca->leaf_key, ca->cert,
			   (long)BROKERCA_LEAF_HOURS * 3600);
	if (!x || add_ext(x, ca->cert, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(x, ca->cert, NID_key_usage, "critical,digitalSignature") < 0 ||
	    add_ext(x, ca->cert, NID_ext_key_usage, "serverAuth") < 0 ||
	    add_ext(x, ca->cert, NID_authority_key_identifier, "keyid:always") < 0 ||
	    add_ext(x, ca->cert, NID_subject_alt_name, san) < 0 ||
	    !X509_sign(x, ca->key, EVP_sha256())) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* The cached leaf of host still valid for an hour, or a new one cached. */
static X509 *leaf_get(struct brokerca *ca, const char *host, int64_t now)
{
	for (size_t i = 0; i < ca->nleaves; i++)
		if (!strcmp(ca->leaves[i].host, host)) {
			if (ca->leaves[i].until > now + 3600)
				return ca->leaves[i].cert;
			X509 *x = leaf_make(ca, host);
			if (x) {
				X509_free(ca->leaves[i].cert);
				ca->leaves[i].cert = x;
				ca->leaves[i].until = now + BROKERCA_LEAF_HOURS * 3600;
			}
			return x;
		}
	X509 *x = leaf_make(ca, host);
	if (!x)
		return NULL;
	size_t slot = ca->nleaves;
	if (ca->nleaves < BROKERCA_LEAVES_MAX)
		ca->nleaves++;
	else { /* full: the oldest goes */
		slot = ca->next;
		ca->next = (ca->next + 1) % BROKERCA_LEAVES_MAX;
		X509_free(ca->leaves[slot].cert);
	}
	struct leaf *l = &ca->leaves[slot];
	snprintf(l->host, sizeof(l->host), "%s", host);
	l->cert = x;
	l->until = now + BROKERCA_LEAF_HOURS * 3600;
	return x;
}

int brokerca_leaf(struct brokerca *ca, const char *host, X509 **ret_cert, EVP_PKEY **ret_key,
		  struct error *err)
{
	if (!ca_names(ca, host))
		return error_set(err, -EPERM, NULL, 0, "'%.*s' is not a brokered host", HOST_MAX,
				 host);
	pthread_mutex_lock(&ca->lock);
	X509 *x = leaf_get(ca, host, (int64_t)time(NULL));
	if (x) {
		X509_up_ref(x);
		EVP_PKEY_up_ref(ca->leaf_key);
		*ret_cert = x;
		*ret_key = ca->leaf_key;
	}
	pthread_mutex_unlock(&ca->lock);
	return x ? 0 : ssl_fail(err, -EIO, "issue a certificate for a brokered host");
}

struct brokerca *brokerca_free(struct brokerca *ca)
{
	if (!ca)
		return NULL;
	for (size_t i = 0; i < ca->nleaves; i++)
		X509_free(ca->leaves[i].cert);
	for (size_t i = 0; i < ca->nhosts; i++)
		free(ca->hosts[i]);
	free(ca->hosts);
	if (ca->leaf_key)
		EVP_PKEY_free(ca->leaf_key);
	if (ca->key)
		EVP_PKEY_free(ca->key);
	if (ca->cert)
		X509_free(ca->cert);
	free(ca->pem);
	pthread_mutex_destroy(&ca->lock);
	free(ca);
	return NULL;
}
