/*
 * crypto.c - the only file that calls libsodium's cryptographic functions.
 *
 * Every primitive choice of crypto.h is made here: X25519 sealed boxes for
 * wrapping keys to principals, Argon2id + XChaCha20-Poly1305 for secret keys
 * at rest under a passphrase, XChaCha20-Poly1305-IETF for blob chunks (nonce
 * = chunk index, unique because each blob has its own random key) and small
 * boxes, BLAKE2b-256 for hashes and keyed tags.
 * Derived keys live in sodium_malloc memory and are freed (wiped) before
 * return; the callers own the memory of the keys they pass in.  Every
 * libsodium return value is checked: functions whose header type is void
 * report a failure and leave a zero output, which never matches a real hash.
 * Limit: associated data of a chunk is at most CF_CHUNK_AD_MAX bytes.
 */
#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <sodium.h>

#include "crypto.h"
#include "util.h"

/* Largest caller AD for a chunk; the blob header (160 bytes) is far below. */
#define CF_CHUNK_AD_MAX 4096
/* what cf_chunk_seal appends to the caller's AD: index (8) || final (1) */
#define CF_CHUNK_AD_EXTRA 9

_Static_assert(CF_PK_BYTES == crypto_box_PUBLICKEYBYTES, "pk size");
_Static_assert(CF_SK_BYTES == crypto_box_SECRETKEYBYTES, "sk size");
_Static_assert(CF_KEY_BYTES == crypto_box_SEEDBYTES, "seed size");
_Static_assert(CF_SEAL_OVERHEAD == crypto_box_SEALBYTES, "seal overhead");
_Static_assert(CF_SALT_BYTES == crypto_pwhash_SALTBYTES, "salt size");
_Static_assert(CF_AEAD_TAG == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag size");
_Static_assert(CF_AEAD_NONCE == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce size");
_Static_assert(CF_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "aead key size");
_Static_assert(CF_HASH_BYTES >= crypto_generichash_BYTES_MIN &&
    CF_HASH_BYTES <= crypto_generichash_BYTES_MAX, "hash size");
_Static_assert(CF_KEY_BYTES >= crypto_generichash_KEYBYTES_MIN &&
    CF_KEY_BYTES <= crypto_generichash_KEYBYTES_MAX, "hash key size");
_Static_assert(sizeof(crypto_generichash_state) <= sizeof(struct cf_hash_state),
    "cf_hash_state too small for crypto_generichash_state");
_Static_assert(alignof(crypto_generichash_state) <= 64, "cf_hash_state alignment");

int
cf_crypto_init(void)
{
	struct rlimit nocore = { 0, 0 };
	int rc;

	if (sodium_init() < 0) {
		cf_error("cannot initialise libsodium");
		return -EIO;
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		rc = -errno;
		cf_error("prctl(PR_SET_DUMPABLE): %s", strerror(-rc));
		return rc;
	}
	if (setrlimit(RLIMIT_CORE, &nocore) != 0) {
		rc = -errno;
		cf_error("setrlimit(RLIMIT_CORE): %s", strerror(-rc));
		return rc;
	}
	return 0;
}

void *
cf_secure_alloc(size_t n)
{
	static atomic_int warned;
	void *p = sodium_malloc(n);

	if (p == NULL) {
		cf_error("out of secure memory");
		return NULL;
	}
	/*
	 * sodium_malloc locks the pages but ignores a failure to do so; lock
	 * again to learn the outcome, and say so once rather than let keys be
	 * swapped out silently.
	 */
	if (sodium_mlock(p, n) != 0 && atomic_exchange(&warned, 1) == 0)
		cf_error("warning: cannot lock memory (%s): keys may be written to swap; "
		    "raise RLIMIT_MEMLOCK (ulimit -l)", strerror(errno));
	return p;
}

void
cf_secure_free(void *p)
{
	sodium_free(p);
}

int
cf_secure_relock(void *p, size_t n)
{
	int rc;

	if (sodium_mlock(p, n) != 0) {
		rc = errno != 0 ? -errno : -ENOMEM;
		cf_error("cannot lock secure memory: %s", strerror(-rc));
		return rc;
	}
	return 0;
}

void
cf_wipe(void *p, size_t n)
{
	sodium_memzero(p, n);
}

void
cf_free_wiped(char *s)
{
	if (s != NULL) {
		cf_wipe(s, strlen(s));
		free(s);
	}
}

void
cf_random(void *buf, size_t n)
{
	randombytes_buf(buf, n);
}

int
cf_keypair_new(struct cf_keypair *kp)
{
	uint8_t *sk;

	kp->sk = NULL;
	sk = cf_secure_alloc(CF_SK_BYTES);
	if (sk == NULL)
		return -ENOMEM;
	if (crypto_box_keypair(kp->pk, sk) != 0) {
		cf_error("cannot generate a key pair");
		cf_secure_free(sk);
		return -EIO;
	}
	kp->sk = sk;
	return 0;
}

int
cf_keypair_from_seed(struct cf_keypair *kp, const uint8_t seed[CF_KEY_BYTES])
{
	uint8_t *sk;

	kp->sk = NULL;
	sk = cf_secure_alloc(CF_SK_BYTES);
	if (sk == NULL)
		return -ENOMEM;
	if (crypto_box_seed_keypair(kp->pk, sk, seed) != 0) {
		cf_error("cannot derive a key pair from its seed");
		cf_secure_free(sk);
		return -EIO;
	}
	kp->sk = sk;
	return 0;
}

int
cf_keypair_from_sk(struct cf_keypair *kp, const uint8_t sk[CF_SK_BYTES])
{
	uint8_t *copy;

	kp->sk = NULL;
	copy = cf_secure_alloc(CF_SK_BYTES);
	if (copy == NULL)
		return -ENOMEM;
	memcpy(copy, sk, CF_SK_BYTES);
	if (crypto_scalarmult_base(kp->pk, copy) != 0) {
		cf_error("invalid secret key");
		cf_secure_free(copy);
		return -EINVAL;
	}
	kp->sk = copy;
	return 0;
}

void
cf_keypair_clear(struct cf_keypair *kp)
{
	if (kp == NULL)
		return;
	cf_secure_free(kp->sk);
	kp->sk = NULL;
	sodium_memzero(kp->pk, sizeof kp->pk);
}

int
cf_seal(uint8_t *out, const uint8_t *msg, size_t len, const uint8_t pk[CF_PK_BYTES])
{
	if (crypto_box_seal(out, msg, len, pk) != 0)
		return -EINVAL;
	return 0;
}

int
cf_unseal(uint8_t *out, const uint8_t *c, size_t clen, const struct cf_keypair *kp)
{
	if (kp == NULL || kp->sk == NULL || clen < CF_SEAL_OVERHEAD)
		return -EINVAL;
	if (crypto_box_seal_open(out, c, clen, kp->pk, kp->sk) != 0)
		return -EBADMSG;
	return 0;
}

void
cf_kdf_init(struct cf_kdf *k, enum cf_kdf_level level)
{
	switch (level) {
	case CF_KDF_INTERACTIVE:
		k->opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
		k->memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
		break;
	case CF_KDF_SENSITIVE:
		k->opslimit = crypto_pwhash_OPSLIMIT_SENSITIVE;
		k->memlimit = crypto_pwhash_MEMLIMIT_SENSITIVE;
		break;
	case CF_KDF_MODERATE:
	default:
		/* Unknown levels get the safe default for people. */
		k->opslimit = crypto_pwhash_OPSLIMIT_MODERATE;
		k->memlimit = crypto_pwhash_MEMLIMIT_MODERATE;
		break;
	}
	randombytes_buf(k->salt, sizeof k->salt);
}

/*
 * Derive the passphrase key into new secure memory (*key), or report.
 * The cost parameters come from the keystore, so they are range-checked
 * before Argon2id is asked to allocate memlimit bytes.
 */
static int
pw_derive(uint8_t **key, const char *pass, size_t passlen, const struct cf_kdf *k)
{
	uint8_t *dk;

	*key = NULL;
	/* Upper bounds: what Coffer writes at most (SENSITIVE).  A damaged
	 * or hostile opslimit below OPSLIMIT_MAX would still run for hours. */
	if (k->opslimit < crypto_pwhash_OPSLIMIT_MIN ||
	    k->opslimit > crypto_pwhash_OPSLIMIT_SENSITIVE ||
	    k->memlimit < crypto_pwhash_MEMLIMIT_MIN ||
	    k->memlimit > crypto_pwhash_MEMLIMIT_SENSITIVE ||
	    passlen > crypto_pwhash_PASSWD_MAX) {
		cf_error("passphrase key derivation: parameters out of range");
		return -EINVAL;
	}
	dk = cf_secure_alloc(CF_KEY_BYTES);
	if (dk == NULL)
		return -ENOMEM;
	if (crypto_pwhash(dk, CF_KEY_BYTES, pass, passlen, k->salt,
	    (unsigned long long)k->opslimit, (size_t)k->memlimit,
	    crypto_pwhash_ALG_ARGON2ID13) != 0) {
		cf_error("passphrase key derivation: out of memory");
		cf_secure_free(dk);
		return -ENOMEM;
	}
	*key = dk;
	return 0;
}

int
cf_pw_wrap(uint8_t out[CF_PW_WRAPPED_BYTES], const uint8_t sk[CF_SK_BYTES],
    const char *pass, size_t passlen, const struct cf_kdf *k,
    const uint8_t *ad, size_t adlen)
{
	uint8_t *key = NULL;
	unsigned long long clen;
	int rc;

	rc = pw_derive(&key, pass, passlen, k);
	if (rc < 0)
		goto out;
	randombytes_buf(out, CF_AEAD_NONCE);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(out + CF_AEAD_NONCE, &clen, sk,
	    CF_SK_BYTES, ad, adlen, NULL, out, key) != 0 ||
	    clen != CF_SK_BYTES + CF_AEAD_TAG) {
		cf_error("cannot encrypt the secret key");
		sodium_memzero(out, CF_PW_WRAPPED_BYTES);
		rc = -EINVAL;
		goto out;
	}
	rc = 0;
out:
	cf_secure_free(key);
	return rc;
}

int
cf_pw_unwrap(uint8_t sk[CF_SK_BYTES], const uint8_t in[CF_PW_WRAPPED_BYTES],
    const char *pass, size_t passlen, const struct cf_kdf *k,
    const uint8_t *ad, size_t adlen)
{
	uint8_t *key = NULL;
	unsigned long long mlen;
	int rc;

	rc = pw_derive(&key, pass, passlen, k);
	if (rc < 0)
		goto out;
	/* Wrong passphrase and tampering look the same; the caller, who
	 * knows whose key this is, reports it. */
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(sk, &mlen, NULL, in + CF_AEAD_NONCE,
	    CF_SK_BYTES + CF_AEAD_TAG, ad, adlen, in, key) != 0 || mlen != CF_SK_BYTES) {
		sodium_memzero(sk, CF_SK_BYTES);
		rc = -EACCES;
		goto out;
	}
	rc = 0;
out:
	cf_secure_free(key);
	return rc;
}

/* nonce = index (u64 LE) || 16 zero bytes; ad' = ad || index (u64 LE) || final */
static int
chunk_params(uint8_t nonce[CF_AEAD_NONCE], uint8_t *adbuf, size_t *adbuflen,
    uint64_t index, int final, const uint8_t *ad, size_t adlen)
{
	int i;

	if (adlen > CF_CHUNK_AD_MAX || (adlen > 0 && ad == NULL))
		return -EINVAL;
	memset(nonce, 0, CF_AEAD_NONCE);
	if (adlen > 0)
		memcpy(adbuf, ad, adlen);
	for (i = 0; i < 8; i++) {
		nonce[i] = (uint8_t)(index >> (8 * i));
		adbuf[adlen + (size_t)i] = nonce[i];
	}
	adbuf[adlen + 8] = final ? 1 : 0;
	*adbuflen = adlen + CF_CHUNK_AD_EXTRA;
	return 0;
}

int
cf_chunk_seal(uint8_t *out, const uint8_t *in, size_t len,
    const uint8_t key[CF_KEY_BYTES], uint64_t index, int final,
    const uint8_t *ad, size_t adlen)
{
	uint8_t nonce[CF_AEAD_NONCE], adbuf[CF_CHUNK_AD_MAX + CF_CHUNK_AD_EXTRA];
	unsigned long long clen;
	size_t fulladlen;

	if (chunk_params(nonce, adbuf, &fulladlen, index, final, ad, adlen) < 0)
		return -EINVAL;
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(out, &clen, in, len, adbuf, fulladlen,
	    NULL, nonce, key) != 0 || clen != (unsigned long long)len + CF_AEAD_TAG)
		return -EINVAL;
	return 0;
}

int
cf_chunk_open(uint8_t *out, const uint8_t *in, size_t clen,
    const uint8_t key[CF_KEY_BYTES], uint64_t index, int final,
    const uint8_t *ad, size_t adlen)
{
	uint8_t nonce[CF_AEAD_NONCE], adbuf[CF_CHUNK_AD_MAX + CF_CHUNK_AD_EXTRA];
	unsigned long long mlen;
	size_t fulladlen;

	if (clen < CF_AEAD_TAG)
		return -EBADMSG;
	if (chunk_params(nonce, adbuf, &fulladlen, index, final, ad, adlen) < 0)
		return -EBADMSG;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &mlen, NULL, in, clen, adbuf,
	    fulladlen, nonce, key) != 0 || mlen != (unsigned long long)clen - CF_AEAD_TAG)
		return -EBADMSG;
	return 0;
}

int
cf_box_seal(uint8_t *out, const uint8_t *in, size_t len, const uint8_t key[CF_KEY_BYTES],
    const uint8_t *ad, size_t adlen)
{
	unsigned long long clen;

	randombytes_buf(out, CF_AEAD_NONCE);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(out + CF_AEAD_NONCE, &clen, in, len, ad,
	    adlen, NULL, out, key) != 0 || clen != (unsigned long long)len + CF_AEAD_TAG)
		return -EINVAL;
	return 0;
}

int
cf_box_open(uint8_t *out, const uint8_t *in, size_t clen, const uint8_t key[CF_KEY_BYTES],
    const uint8_t *ad, size_t adlen)
{
	unsigned long long mlen;

	if (clen < CF_AEAD_NONCE + CF_AEAD_TAG)
		return -EBADMSG;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &mlen, NULL, in + CF_AEAD_NONCE,
	    clen - CF_AEAD_NONCE, ad, adlen, in, key) != 0 ||
	    mlen != (unsigned long long)clen - CF_AEAD_NONCE - CF_AEAD_TAG)
		return -EBADMSG;
	return 0;
}

void
cf_hash(uint8_t out[CF_HASH_BYTES], const void *in, size_t len)
{
	if (crypto_generichash(out, CF_HASH_BYTES, in, len, NULL, 0) != 0) {
		cf_error("BLAKE2b failed");
		memset(out, 0, CF_HASH_BYTES);
	}
}

static crypto_generichash_state *
hash_state(struct cf_hash_state *st)
{
	/* The opaque buffer is 64-byte aligned and checked large enough. */
	return (crypto_generichash_state *)(void *)st->opaque;
}

void
cf_hash_init(struct cf_hash_state *st)
{
	if (crypto_generichash_init(hash_state(st), NULL, 0, CF_HASH_BYTES) != 0)
		cf_error("BLAKE2b init failed");
}

void
cf_hash_update(struct cf_hash_state *st, const void *in, size_t len)
{
	if (crypto_generichash_update(hash_state(st), in, len) != 0)
		cf_error("BLAKE2b update failed");
}

void
cf_hash_final(struct cf_hash_state *st, uint8_t out[CF_HASH_BYTES])
{
	if (crypto_generichash_final(hash_state(st), out, CF_HASH_BYTES) != 0) {
		cf_error("BLAKE2b final failed");
		memset(out, 0, CF_HASH_BYTES);
	}
	sodium_memzero(st, sizeof *st);
}

void
cf_keyed_tag(uint8_t out[CF_HASH_BYTES], const uint8_t key[CF_KEY_BYTES],
    const char *domain, const void *a, size_t alen, const void *b, size_t blen)
{
	static const uint8_t zero = 0;
	struct cf_hash_state st;
	crypto_generichash_state *s = hash_state(&st);
	int bad = 0;

	/* The keyed state holds the key: wipe it on every path. */
	bad |= crypto_generichash_init(s, key, CF_KEY_BYTES, CF_HASH_BYTES);
	bad |= crypto_generichash_update(s, (const uint8_t *)domain, strlen(domain));
	bad |= crypto_generichash_update(s, &zero, 1);
	bad |= crypto_generichash_update(s, a, alen);
	if (b != NULL) {
		bad |= crypto_generichash_update(s, &zero, 1);
		bad |= crypto_generichash_update(s, b, blen);
	}
	bad |= crypto_generichash_final(s, out, CF_HASH_BYTES);
	sodium_memzero(&st, sizeof st);
	if (bad != 0) {
		cf_error("keyed BLAKE2b failed");
		memset(out, 0, CF_HASH_BYTES);
	}
}

int
cf_sign_keypair_new(uint8_t pk[CF_SIGN_PK_BYTES], uint8_t *sk)
{
	_Static_assert(CF_SIGN_PK_BYTES == crypto_sign_PUBLICKEYBYTES, "sign pk size");
	_Static_assert(CF_SIGN_SK_BYTES == crypto_sign_SECRETKEYBYTES, "sign sk size");
	_Static_assert(CF_SIG_BYTES == crypto_sign_BYTES, "signature size");
	if (crypto_sign_keypair(pk, sk) != 0) {
		cf_error("cannot create a signing key");
		return -EINVAL;
	}
	return 0;
}

int
cf_sign_keypair_from_seed(uint8_t pk[CF_SIGN_PK_BYTES], uint8_t *sk,
    const uint8_t seed[CF_KEY_BYTES])
{
	if (crypto_sign_seed_keypair(pk, sk, seed) != 0) {
		cf_error("cannot derive a signing key");
		return -EINVAL;
	}
	return 0;
}

void
cf_sign(uint8_t sig[CF_SIG_BYTES], const void *msg, size_t len, const uint8_t *sk)
{
	/* cannot fail with a well-formed key */
	(void)crypto_sign_detached(sig, NULL, msg, len, sk);
}

int
cf_sign_verify(const uint8_t sig[CF_SIG_BYTES], const void *msg, size_t len,
    const uint8_t pk[CF_SIGN_PK_BYTES])
{
	return crypto_sign_verify_detached(sig, msg, len, pk) == 0 ? 0 : -EBADMSG;
}

int
cf_ct_compare(const void *a, const void *b, size_t n)
{
	return sodium_memcmp(a, b, n) == 0 ? 0 : -1;
}
