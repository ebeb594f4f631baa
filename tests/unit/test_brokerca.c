/* src/net/brokerca.c: the box's CA for brokered hosts. */
#include "unit.h"
#include "unit_tmp.h"

#include <sys/stat.h>

#include "net/brokerca.h"
#include "net/tlslib.h"
#include "util/error.h"
#include "util/fs.h"

static const char *const hosts[] = { "api.anthropic.com", "10.0.0.2" };

static X509 *pem_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	return x;
}

/* X509_V_OK when leaf verifies against ca for the name (a host, or an IP
 * literal when ip), else OpenSSL's verify error. */
static int verify(X509 *ca, X509 *leaf, const char *name, bool ip)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	CHECK(st && ctx && X509_STORE_add_cert(st, ca) == 1);
	CHECK(X509_STORE_CTX_init(ctx, st, leaf, NULL) == 1);
	X509_VERIFY_PARAM *p = X509_STORE_CTX_get0_param(ctx);
	CHECK((ip ? X509_VERIFY_PARAM_set1_ip_asc(p, name)
		  : X509_VERIFY_PARAM_set1_host(p, name, 0)) == 1);
	int ok = X509_verify_cert(ctx);
	int e = ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	return e;
}

TEST(brokerca_key_kept_leaves_verify)
{
	char dir[64];
	struct error err;
	struct brokerca *ca = NULL;
	if (tlslib_load(NULL) < 0)
		SKIP("no libssl");
	int dfd = unit_tmpdir(dir, sizeof(dir));
	CHECK_INT(brokerca_open(dfd, "b1", hosts, 2, &ca, &err), 0);
	struct stat st;
	CHECK(fstatat(dfd, BROKERCA_KEY_FILE, &st, 0) == 0 && (st.st_mode & 07777) == 0600);
	char *key1 = NULL, *key2 = NULL;
	size_t n1, n2;
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, BROKERCA_KEY_FILE);
	CHECK_INT(fs_read_file(path, 65536, &key1, &n1), 0);
	CHECK(strstr(brokerca_pem(ca), "-----BEGIN CERTIFICATE-----") == brokerca_pem(ca));
	CHECK(strstr(brokerca_pem(ca), "PRIVATE") == NULL);
	X509 *cacert = pem_cert(brokerca_pem(ca));
	CHECK(cacert != NULL);

	X509 *leaf, *again;
	EVP_PKEY *k, *k2;
	CHECK_INT(brokerca_leaf(ca, "api.anthropic.com", &leaf, &k, &err), 0);
	CHECK_INT(verify(cacert, leaf, "api.anthropic.com", false), X509_V_OK);
	CHECK(verify(cacert, leaf, "evil.example", false) != X509_V_OK);
	CHECK_INT(brokerca_leaf(ca, "api.anthropic.com", &again, &k2, &err), 0);
	CHECK(again == leaf); /* cached */
	X509_free(again);
	EVP_PKEY_free(k2);
	X509_free(leaf);
	EVP_PKEY_free(k);
	CHECK_INT(brokerca_leaf(ca, "10.0.0.2", &leaf, &k, &err), 0);
	CHECK_INT(verify(cacert, leaf, "10.0.0.2", true), X509_V_OK);
	X509_free(leaf);
	EVP_PKEY_free(k);
	/* a host the CA is not for: no leaf */
	CHECK_INT(brokerca_leaf(ca, "evil.example", &leaf, &k, &err), -EPERM);
	brokerca_free(ca);
	X509_free(cacert);

	/* The next start keeps the key, and its CA names only its hosts. */
	const char *one[] = { "api.openai.com" };
	CHECK_INT(brokerca_open(dfd, "b1", one, 1, &ca, &err), 0);
	CHECK_INT(fs_read_file(path, 65536, &key2, &n2), 0);
	CHECK(n1 == n2 && memcmp(key1, key2, n1) == 0);
	CHECK(strstr(brokerca_pem(ca), "-----BEGIN CERTIFICATE-----") != NULL);
	brokerca_free(ca);
	free(key1);
	free(key2);
	close(dfd);
	unit_rmtree(dir);
}

/* A leaf the CA's key signs for a name beyond its constraints does not
 * verify: the name constraints hold even against the key. */
TEST(brokerca_name_constraints_hold)
{
	char dir[64];
	struct error err;
	struct brokerca *ca = NULL, *other = NULL;
	if (tlslib_load(NULL) < 0)
		SKIP("no libssl");
	int dfd = unit_tmpdir(dir, sizeof(dir));
	const char *a[] = { "api.anthropic.com" }, *b[] = { "evil.example" };
	CHECK_INT(brokerca_open(dfd, "b1", a, 1, &ca, &err), 0);
	/* the same key (same dir), a CA for another host: its leaf is signed
	 * by the key of the first CA's certificate */
	CHECK_INT(brokerca_open(dfd, "b1", b, 1, &other, &err), 0);
	X509 *cacert = pem_cert(brokerca_pem(ca)), *leaf;
	EVP_PKEY *k;
	CHECK_INT(brokerca_leaf(other, "evil.example", &leaf, &k, &err), 0);
	CHECK_INT(verify(cacert, leaf, "evil.example", false), X509_V_ERR_PERMITTED_VIOLATION);
	X509_free(leaf);
	EVP_PKEY_free(k);
	X509_free(cacert);
	brokerca_free(ca);
	brokerca_free(other);
	close(dfd);
	unit_rmtree(dir);
}

/* A CA of IP literals only: no IP constraint (clients such as Bun refuse
 * one), and no DNS name but "invalid" permitted. */
TEST(brokerca_ip_hosts_constrain_no_name)
{
	char dir[64];
	struct error err;
	struct brokerca *ca = NULL, *other = NULL;
	if (tlslib_load(NULL) < 0)
		SKIP("no libssl");
	int dfd = unit_tmpdir(dir, sizeof(dir));
	const char *a[] = { "10.0.0.2" }, *b[] = { "evil.example" };
	CHECK_INT(brokerca_open(dfd, "b1", a, 1, &ca, &err), 0);
	CHECK_INT(brokerca_open(dfd, "b1", b, 1, &other, &err), 0);
	X509 *cacert = pem_cert(brokerca_pem(ca)), *leaf;
	EVP_PKEY *k;
	/* the constraints as the openssl command shows them */
	char pem[128], cmd[256], out[512] = "";
	snprintf(pem, sizeof(pem), "%s/ca.pem", dir);
	CHECK_INT(
	    fs_write_atomic_at(dfd, "ca.pem", brokerca_pem(ca), strlen(brokerca_pem(ca)), 0600), 0);
	snprintf(cmd, sizeof(cmd), "openssl x509 -noout -ext nameConstraints -in %s 2>&1", pem);
	FILE *f = popen(cmd, "r");
	CHECK(f != NULL);
	size_t n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	if (pclose(f) != 0 && strstr(out, "not found"))
		SKIP("no openssl command");
	CHECK(strstr(out, "Permitted:") != NULL);
	CHECK(strstr(out, "DNS:invalid") != NULL);
	CHECK(strstr(out, "IP:") == NULL);
	CHECK(strstr(out, "Excluded") == NULL);
	CHECK_INT(brokerca_leaf(ca, "10.0.0.2", &leaf, &k, &err), 0);
	CHECK_INT(verify(cacert, leaf, "10.0.0.2", true), X509_V_OK);
	X509_free(leaf);
	EVP_PKEY_free(k);
	CHECK_INT(brokerca_leaf(other, "evil.example", &leaf, &k, &err), 0);
	CHECK_INT(verify(cacert, leaf, "evil.example", false), X509_V_ERR_PERMITTED_VIOLATION);
	X509_free(leaf);
	EVP_PKEY_free(k);
	X509_free(cacert);
	brokerca_free(ca);
	brokerca_free(other);
	close(dfd);
	unit_rmtree(dir);
}

TEST(brokerca_bad_key_file_and_hosts)
{
	char dir[64];
	struct error err;
	struct brokerca *ca = NULL;
	if (tlslib_load(NULL) < 0)
		SKIP("no libssl");
	int dfd = unit_tmpdir(dir, sizeof(dir));
	const char *bad[] = { "a..b" }, *ctl[] = { "a\nb" }, *ok[] = { "api.openai.com" };
	CHECK_INT(brokerca_open(dfd, "b1", bad, 1, &ca, &err), -EINVAL);
	CHECK_INT(brokerca_open(dfd, "b1", ctl, 1, &ca, &err), -EINVAL);
	CHECK_INT(brokerca_open(dfd, "b1", ok, 0, &ca, &err), -EINVAL);
	/* garbage where the key is: refused, never replaced */
	CHECK_INT(fs_write_atomic_at(dfd, BROKERCA_KEY_FILE, "junk\n", 5, 0600), 0);
	CHECK_INT(brokerca_open(dfd, "b1", ok, 1, &ca, &err), -EBADMSG);
	CHECK(strstr(err.message, "not a private key") != NULL);
	/* a key others may read: refused */
	CHECK(fchmodat(dfd, BROKERCA_KEY_FILE, 0644, 0) == 0);
	CHECK_INT(brokerca_open(dfd, "b1", ok, 1, &ca, &err), -EPERM);
	/* a symlink in its place: not followed */
	CHECK(unlinkat(dfd, BROKERCA_KEY_FILE, 0) == 0);
	CHECK(symlinkat("/etc/passwd", dfd, BROKERCA_KEY_FILE) == 0);
	CHECK(brokerca_open(dfd, "b1", ok, 1, &ca, &err) < 0);
	close(dfd);
	unit_rmtree(dir);
}
