#include "util/hash.h"

#include <nettle/base16.h>
#include <nettle/hmac.h>
#include <nettle/sha2.h>

void hash_sha256(const void *data, size_t len, uint8_t out[HASH_SHA256_SIZE])
{
	struct sha256_ctx ctx;
	sha256_init(&ctx);
	sha256_update(&ctx, len, data);
	sha256_digest(&ctx, HASH_SHA256_SIZE, out);
}

void hash_sha256_hex(const void *data, size_t len, char out[2 * HASH_SHA256_SIZE + 1])
{
	uint8_t md[HASH_SHA256_SIZE];
	hash_sha256(data, len, md);
	base16_encode_update(out, HASH_SHA256_SIZE, md);
	out[2 * HASH_SHA256_SIZE] = '\0';
}

void hash_hmac_sha256(const void *key, size_t klen, size_t n, const void *const *part,
		      const size_t *len, uint8_t out[HASH_SHA256_SIZE])
{
	struct hmac_sha256_ctx ctx;
	hmac_sha256_set_key(&ctx, klen, key);
	for (size_t i = 0; i < n; i++)
		hmac_sha256_update(&ctx, len[i], part[i]);
	hmac_sha256_digest(&ctx, HASH_SHA256_SIZE, out);
	explicit_bzero(&ctx, sizeof(ctx));
}
