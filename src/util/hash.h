/* SHA-256 (nettle): the audit chain and box names. Nettle rather than
 * OpenSSL because loading and initializing libcrypto costs a box start
 * about 4 ms; nettle costs about 0.1 ms. */
#ifndef CLAWBOX_HASH_H
#define CLAWBOX_HASH_H
#include "util/common.h"

#define HASH_SHA256_SIZE 32

void hash_sha256(const void *data, size_t len, uint8_t out[HASH_SHA256_SIZE]);
/* Lowercase hex of the SHA-256 of data, NUL-terminated. */
void hash_sha256_hex(const void *data, size_t len, char out[2 * HASH_SHA256_SIZE + 1]);

/* HMAC-SHA256 of the n parts (part[i], len[i] bytes each, in order) under
 * key (klen bytes). */
void hash_hmac_sha256(const void *key, size_t klen, size_t n, const void *const *part,
		      const size_t *len, uint8_t out[HASH_SHA256_SIZE]);

#endif
