/*
 * crypto.h - every cryptographic primitive Coffer uses, on top of libsodium.
 *
 * Nothing else in the tree calls libsodium's encryption functions directly,
 * so the choice of primitives is made (and reviewed) here:
 *   - identities and conversation keys: X25519 key pairs (crypto_box);
 *   - wrapping a key for a principal: crypto_box_seal (anonymous sender);
 *   - a principal's secret key at rest: XChaCha20-Poly1305 under a key
 *     derived from the passphrase with Argon2id (crypto_pwhash);
 *   - blob chunks: XChaCha20-Poly1305-IETF with a per-blob random key, a
 *     nonce made of the chunk index (unique because the key is) and
 *     associated data that binds archive, conversation, blob and position;
 *   - hashes: BLAKE2b-256 (crypto_generichash), keyed where it must not be
 *     computable without a key.
 *
 * Invariant: secret keys live only in memory from cf_secure_alloc() (guarded,
 * mlocked, wiped on free).  Stack copies are wiped before return.
 */
#ifndef COFFER_CRYPTO_H
#define COFFER_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define CF_ID_BYTES 16          /* archive, conversation and blob ids */
#define CF_PK_BYTES 32          /* X25519 public key */
#define CF_SK_BYTES 32          /* X25519 secret key */
#define CF_KEY_BYTES 32         /* symmetric keys */
#define CF_HASH_BYTES 32        /* BLAKE2b-256 */
#define CF_SEAL_OVERHEAD 48     /* crypto_box_SEALBYTES */
#define CF_SEALED_KEY_BYTES (CF_KEY_BYTES + CF_SEAL_OVERHEAD) /* 80 */
#define CF_SALT_BYTES 16        /* crypto_pwhash_SALTBYTES */
#define CF_AEAD_TAG 16          /* Poly1305 tag */
#define CF_AEAD_NONCE 24        /* XChaCha20 nonce */
#define CF_SIGN_PK_BYTES 32     /* Ed25519 public key */
#define CF_SIGN_SK_BYTES 64     /* Ed25519 secret key (seed || pk) */
#define CF_SIG_BYTES 64         /* Ed25519 signature */
#define CF_SEALED_SIGN_KEY_BYTES (CF_SIGN_SK_BYTES + CF_SEAL_OVERHEAD) /* 112 */
/* passphrase-wrapped secret key: nonce || ciphertext || tag */
#define CF_PW_WRAPPED_BYTES (CF_AEAD_NONCE + CF_SK_BYTES + CF_AEAD_TAG) /* 72 */

/*
 * sodium_init(), then make the process unfit to leak secrets:
 * prctl(PR_SET_DUMPABLE, 0) and RLIMIT_CORE = 0.  Call first thing in every
 * program that may hold a key.  Returns 0 or -errno (reported).
 */
int cf_crypto_init(void);

/* Guarded, locked memory (sodium_malloc / sodium_free).  cf_secure_free
 * accepts NULL.  cf_secure_alloc returns NULL and reports on failure. */
void *cf_secure_alloc(size_t n);
void cf_secure_free(void *p);
/* Re-lock memory from cf_secure_alloc after fork() (locks are not
 * inherited).  Returns 0 or -errno (reported). */
int cf_secure_relock(void *p, size_t n);
/* sodium_memzero */
void cf_wipe(void *p, size_t n);
/* Wipe a NUL-terminated heap string (it may hold message text) and free
 * it.  Accepts NULL. */
void cf_free_wiped(char *s);

/* Fill buf with random bytes (randombytes_buf). */
void cf_random(void *buf, size_t n);

/*
 * A key pair.  sk points to CF_SK_BYTES of secure memory, or is NULL for a
 * public-only key (what ingest holds for a conversation).
 */
struct cf_keypair {
	uint8_t pk[CF_PK_BYTES];
	uint8_t *sk;
};

/* New random key pair.  Returns 0 or -ENOMEM. */
int cf_keypair_new(struct cf_keypair *kp);
/* Deterministic key pair from a 32-byte seed (the recovery key). */
int cf_keypair_from_seed(struct cf_keypair *kp, const uint8_t seed[CF_KEY_BYTES]);
/* Key pair from a stored secret key (recomputes pk).  Returns 0 or -ENOMEM. */
int cf_keypair_from_sk(struct cf_keypair *kp, const uint8_t sk[CF_SK_BYTES]);
/* Wipe and free sk; the struct may be reused.  Accepts a zeroed struct. */
void cf_keypair_clear(struct cf_keypair *kp);

/*
 * Sealed box: out (len + CF_SEAL_OVERHEAD bytes) can be opened only with
 * the secret key of pk.  Returns 0 or -EINVAL.
 */
int cf_seal(uint8_t *out, const uint8_t *msg, size_t len, const uint8_t pk[CF_PK_BYTES]);
/* Open a sealed box into out (clen - CF_SEAL_OVERHEAD bytes).
 * Returns 0, -EBADMSG (not for this key, or tampered) or -EINVAL. */
int cf_unseal(uint8_t *out, const uint8_t *c, size_t clen, const struct cf_keypair *kp);

/*
 * Argon2id cost.  CF_KDF_MODERATE for admins and reviewers (256 MiB),
 * CF_KDF_INTERACTIVE for machine identities (ingest).
 */
enum cf_kdf_level { CF_KDF_INTERACTIVE = 1, CF_KDF_MODERATE = 2, CF_KDF_SENSITIVE = 3 };
struct cf_kdf {
	uint64_t opslimit;
	uint64_t memlimit;
	uint8_t salt[CF_SALT_BYTES];
};
/* Fill opslimit/memlimit for a level and pick a fresh random salt. */
void cf_kdf_init(struct cf_kdf *k, enum cf_kdf_level level);

/*
 * Encrypt a secret key under a passphrase: key = Argon2id(pass, k->salt),
 * out = nonce || XChaCha20-Poly1305(sk, ad).  ad binds the wrapped key to
 * its owner and to the archive's signing key (archive.c: archive id ||
 * signing public key || principal name).  Returns 0, -ENOMEM.
 */
int cf_pw_wrap(uint8_t out[CF_PW_WRAPPED_BYTES], const uint8_t sk[CF_SK_BYTES],
    const char *pass, size_t passlen, const struct cf_kdf *k,
    const uint8_t *ad, size_t adlen);
/* Reverse of cf_pw_wrap.  Returns 0, -EACCES (wrong passphrase or tampered),
 * -ENOMEM. */
int cf_pw_unwrap(uint8_t sk[CF_SK_BYTES], const uint8_t in[CF_PW_WRAPPED_BYTES],
    const char *pass, size_t passlen, const struct cf_kdf *k,
    const uint8_t *ad, size_t adlen);

/*
 * Seal one chunk: out gets len + CF_AEAD_TAG bytes.  nonce = index as
 * 8 bytes little-endian followed by 16 zero bytes, which is unique because
 * every blob has its own random key.  The associated data actually
 * authenticated is ad || index (u64 LE) || final (1 byte), so a chunk
 * cannot be moved, and the last chunk cannot be dropped, undetected.
 * Returns 0 or -EINVAL.
 */
int cf_chunk_seal(uint8_t *out, const uint8_t *in, size_t len,
    const uint8_t key[CF_KEY_BYTES], uint64_t index, int final,
    const uint8_t *ad, size_t adlen);
/* Open one chunk (clen >= CF_AEAD_TAG); out gets clen - CF_AEAD_TAG bytes.
 * Returns 0 or -EBADMSG. */
int cf_chunk_open(uint8_t *out, const uint8_t *in, size_t clen,
    const uint8_t key[CF_KEY_BYTES], uint64_t index, int final,
    const uint8_t *ad, size_t adlen);

/* Symmetric secretbox with a random nonce, for small values
 * (out = nonce || ct || tag, len + CF_AEAD_NONCE + CF_AEAD_TAG bytes). */
int cf_box_seal(uint8_t *out, const uint8_t *in, size_t len, const uint8_t key[CF_KEY_BYTES],
    const uint8_t *ad, size_t adlen);
int cf_box_open(uint8_t *out, const uint8_t *in, size_t clen, const uint8_t key[CF_KEY_BYTES],
    const uint8_t *ad, size_t adlen);

/* BLAKE2b-256 of a buffer. */
void cf_hash(uint8_t out[CF_HASH_BYTES], const void *in, size_t len);

/* Incremental BLAKE2b-256 (for whole files). */
struct cf_hash_state {
	uint8_t opaque[384] __attribute__((aligned(64)));
};
void cf_hash_init(struct cf_hash_state *st);
void cf_hash_update(struct cf_hash_state *st, const void *in, size_t len);
void cf_hash_final(struct cf_hash_state *st, uint8_t out[CF_HASH_BYTES]);

/*
 * Keyed BLAKE2b-256 of domain || 0x00 || a || 0x00 || b (b may be NULL).
 * Used for the dedup and chat-map tags, so that the keystore holds no
 * source identifier in plaintext.
 */
void cf_keyed_tag(uint8_t out[CF_HASH_BYTES], const uint8_t key[CF_KEY_BYTES],
    const char *domain, const void *a, size_t alen, const void *b, size_t blen);

/*
 * Ed25519 signatures: the archive's signing key certifies the records that
 * admins write (principals, grants, archive metadata), so that a keystore
 * edited by someone without an admin key is detected.
 * cf_sign_keypair_new fills pk and sk (CF_SIGN_SK_BYTES of secure memory).
 */
int cf_sign_keypair_new(uint8_t pk[CF_SIGN_PK_BYTES], uint8_t *sk);
/* Deterministic signing key pair from a 32-byte seed. */
int cf_sign_keypair_from_seed(uint8_t pk[CF_SIGN_PK_BYTES], uint8_t *sk,
    const uint8_t seed[CF_KEY_BYTES]);
void cf_sign(uint8_t sig[CF_SIG_BYTES], const void *msg, size_t len, const uint8_t *sk);
/* Returns 0 when sig is pk's signature of msg, else -EBADMSG. */
int cf_sign_verify(const uint8_t sig[CF_SIG_BYTES], const void *msg, size_t len,
    const uint8_t pk[CF_SIGN_PK_BYTES]);

/* Constant-time compare (sodium_memcmp); 0 when equal. */
int cf_ct_compare(const void *a, const void *b, size_t n);

#endif
