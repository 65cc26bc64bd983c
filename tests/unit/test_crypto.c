/*
 * test_crypto.c - unit tests for crypto.c: sealed boxes, chunk AEAD with
 * its position binding, passphrase wrapping, small boxes, hashes, keyed
 * tags and key pairs.  Every "must fail" case changes exactly one input.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "crypto.h"
#include "util.h"

/* Stop when a set-up call fails (REQUIRE would evaluate the call twice). */
static void
must(int rc, int line)
{
	CHECK(rc == 0);
	if (rc != 0) {
		fprintf(stderr, "%s:%d: set-up failed (%d), cannot continue\n", __FILE__, line, rc);
		exit(1);
	}
}

static void
test_seal(void)
{
	struct cf_keypair a = { { 0 }, NULL }, b = { { 0 }, NULL };
	uint8_t msg[CF_KEY_BYTES], box[CF_SEALED_KEY_BYTES], out[CF_KEY_BYTES];

	must(cf_keypair_new(&a), __LINE__);
	must(cf_keypair_new(&b), __LINE__);
	CHECK(memcmp(a.pk, b.pk, CF_PK_BYTES) != 0);
	cf_random(msg, sizeof msg);
	CHECK_RC(cf_seal(box, msg, sizeof msg, a.pk), 0);
	memset(out, 0, sizeof out);
	CHECK_RC(cf_unseal(out, box, sizeof box, &a), 0);
	CHECK(memcmp(out, msg, sizeof msg) == 0);
	/* wrong key */
	CHECK_RC(cf_unseal(out, box, sizeof box, &b), -EBADMSG);
	/* tampered: every region of the box */
	box[0] ^= 1;
	CHECK_RC(cf_unseal(out, box, sizeof box, &a), -EBADMSG);
	box[0] ^= 1;
	box[40] ^= 0x80;
	CHECK_RC(cf_unseal(out, box, sizeof box, &a), -EBADMSG);
	box[40] ^= 0x80;
	box[sizeof box - 1] ^= 1;
	CHECK_RC(cf_unseal(out, box, sizeof box, &a), -EBADMSG);
	box[sizeof box - 1] ^= 1;
	/* truncated */
	CHECK_RC(cf_unseal(out, box, sizeof box - 1, &a), -EBADMSG);
	CHECK_RC(cf_unseal(out, box, CF_SEAL_OVERHEAD - 1, &a), -EINVAL);
	/* public-only key pair cannot open */
	{
		struct cf_keypair pub = { { 0 }, NULL };

		memcpy(pub.pk, a.pk, CF_PK_BYTES);
		CHECK_RC(cf_unseal(out, box, sizeof box, &pub), -EINVAL);
	}
	CHECK_RC(cf_unseal(out, box, sizeof box, &a), 0);
	cf_keypair_clear(&a);
	CHECK(a.sk == NULL);
	cf_keypair_clear(&a);
	cf_keypair_clear(&b);
}

static void
test_keypairs(void)
{
	struct cf_keypair a = { { 0 }, NULL }, b = { { 0 }, NULL }, c = { { 0 }, NULL };
	uint8_t seed[CF_KEY_BYTES], seed2[CF_KEY_BYTES];

	memset(seed, 0x42, sizeof seed);
	memcpy(seed2, seed, sizeof seed2);
	seed2[31] ^= 1;
	must(cf_keypair_from_seed(&a, seed), __LINE__);
	must(cf_keypair_from_seed(&b, seed), __LINE__);
	CHECK(memcmp(a.pk, b.pk, CF_PK_BYTES) == 0);
	CHECK(memcmp(a.sk, b.sk, CF_SK_BYTES) == 0);
	cf_keypair_clear(&b);
	must(cf_keypair_from_seed(&b, seed2), __LINE__);
	CHECK(memcmp(a.pk, b.pk, CF_PK_BYTES) != 0);
	/* the public key is recomputed from a stored secret key */
	must(cf_keypair_from_sk(&c, a.sk), __LINE__);
	CHECK(memcmp(a.pk, c.pk, CF_PK_BYTES) == 0);
	CHECK(c.sk != a.sk);
	cf_keypair_clear(&a);
	cf_keypair_clear(&b);
	cf_keypair_clear(&c);
}

static void
test_chunk(void)
{
	uint8_t key[CF_KEY_BYTES], key2[CF_KEY_BYTES], ad[160], ad2[160];
	uint8_t in[1000], ct[1000 + CF_AEAD_TAG], out[1000], ct2[1000 + CF_AEAD_TAG];
	uint8_t empty[CF_AEAD_TAG];

	cf_random(key, sizeof key);
	memcpy(key2, key, sizeof key2);
	key2[0] ^= 1;
	cf_random(ad, sizeof ad);
	memcpy(ad2, ad, sizeof ad2);
	ad2[100] ^= 4;
	cf_random(in, sizeof in);

	CHECK_RC(cf_chunk_seal(ct, in, sizeof in, key, 7, 0, ad, sizeof ad), 0);
	CHECK_RC(cf_chunk_open(out, ct, sizeof ct, key, 7, 0, ad, sizeof ad), 0);
	CHECK(memcmp(in, out, sizeof in) == 0);
	/* sealing is deterministic in (key, index, final, ad) */
	CHECK_RC(cf_chunk_seal(ct2, in, sizeof in, key, 7, 0, ad, sizeof ad), 0);
	CHECK(memcmp(ct, ct2, sizeof ct) == 0);
	/* a different index gives a different ciphertext (nonce) */
	CHECK_RC(cf_chunk_seal(ct2, in, sizeof in, key, 8, 0, ad, sizeof ad), 0);
	CHECK(memcmp(ct, ct2, sizeof ct) != 0);

	CHECK_RC(cf_chunk_open(out, ct, sizeof ct, key, 8, 0, ad, sizeof ad), -EBADMSG);
	CHECK_RC(cf_chunk_open(out, ct, sizeof ct, key, 7 + (1ULL << 40), 0, ad, sizeof ad),
	    -EBADMSG);
	CHECK_RC(cf_chunk_open(out, ct, sizeof ct, key, 7, 1, ad, sizeof ad), -EBADMSG);
	CHECK_RC(cf_chunk_open(out, ct, sizeof ct, key, 7, 0, ad2, sizeof ad2), -EBADMSG);
	CHECK_RC(cf_chunk_open(out, ct, sizeof ct, key, 7, 0, ad, sizeof ad - 1), -EBADMSG);
	CHECK_RC(cf_chunk_open(out, ct, sizeof ct, key2, 7, 0, ad, sizeof ad), -EBADMSG);
	CHECK_RC(cf_chunk_open(out, ct, sizeof ct - 1, key, 7, 0, ad, sizeof ad), -EBADMSG);
	CHECK_RC(cf_chunk_open(out, ct, CF_AEAD_TAG - 1, key, 7, 0, ad, sizeof ad), -EBADMSG);
	ct[sizeof ct - 1] ^= 1;     /* tag */
	CHECK_RC(cf_chunk_open(out, ct, sizeof ct, key, 7, 0, ad, sizeof ad), -EBADMSG);
	ct[sizeof ct - 1] ^= 1;
	ct[500] ^= 0x10;            /* body */
	CHECK_RC(cf_chunk_open(out, ct, sizeof ct, key, 7, 0, ad, sizeof ad), -EBADMSG);
	ct[500] ^= 0x10;
	CHECK_RC(cf_chunk_open(out, ct, sizeof ct, key, 7, 0, ad, sizeof ad), 0);

	/* empty final chunk: only the tag, still bound to index and flag */
	CHECK_RC(cf_chunk_seal(empty, NULL, 0, key, 0, 1, ad, sizeof ad), 0);
	CHECK_RC(cf_chunk_open(out, empty, sizeof empty, key, 0, 1, ad, sizeof ad), 0);
	CHECK_RC(cf_chunk_open(out, empty, sizeof empty, key, 0, 0, ad, sizeof ad), -EBADMSG);
	CHECK_RC(cf_chunk_open(out, empty, sizeof empty, key, 1, 1, ad, sizeof ad), -EBADMSG);
	/* no AD */
	CHECK_RC(cf_chunk_seal(ct, in, 10, key, 0, 0, NULL, 0), 0);
	CHECK_RC(cf_chunk_open(out, ct, 10 + CF_AEAD_TAG, key, 0, 0, NULL, 0), 0);
	CHECK_RC(cf_chunk_open(out, ct, 10 + CF_AEAD_TAG, key, 0, 0, ad, 1), -EBADMSG);
	/* AD beyond the supported size is refused */
	{
		static uint8_t big[5000];

		CHECK_RC(cf_chunk_seal(ct, in, 10, key, 0, 0, big, sizeof big), -EINVAL);
		CHECK_RC(cf_chunk_seal(ct, in, 10, key, 0, 0, big, 4096), 0);
		CHECK_RC(cf_chunk_open(out, ct, 10 + CF_AEAD_TAG, key, 0, 0, big, 4096), 0);
	}
}

static void
test_box(void)
{
	uint8_t key[CF_KEY_BYTES], key2[CF_KEY_BYTES];
	uint8_t in[40], c1[40 + CF_AEAD_NONCE + CF_AEAD_TAG], c2[sizeof c1], out[40];
	static const uint8_t ad[] = "conv-title";

	cf_random(key, sizeof key);
	cf_random(key2, sizeof key2);
	cf_random(in, sizeof in);
	CHECK_RC(cf_box_seal(c1, in, sizeof in, key, ad, sizeof ad), 0);
	CHECK_RC(cf_box_seal(c2, in, sizeof in, key, ad, sizeof ad), 0);
	CHECK(memcmp(c1, c2, sizeof c1) != 0);      /* random nonce */
	CHECK_RC(cf_box_open(out, c1, sizeof c1, key, ad, sizeof ad), 0);
	CHECK(memcmp(in, out, sizeof in) == 0);
	CHECK_RC(cf_box_open(out, c1, sizeof c1, key2, ad, sizeof ad), -EBADMSG);
	CHECK_RC(cf_box_open(out, c1, sizeof c1, key, ad, sizeof ad - 1), -EBADMSG);
	CHECK_RC(cf_box_open(out, c1, sizeof c1 - 1, key, ad, sizeof ad), -EBADMSG);
	CHECK_RC(cf_box_open(out, c1, CF_AEAD_NONCE + CF_AEAD_TAG - 1, key, ad, sizeof ad),
	    -EBADMSG);
	c1[3] ^= 1;                 /* nonce */
	CHECK_RC(cf_box_open(out, c1, sizeof c1, key, ad, sizeof ad), -EBADMSG);
	c1[3] ^= 1;
	c1[sizeof c1 - 1] ^= 1;     /* tag */
	CHECK_RC(cf_box_open(out, c1, sizeof c1, key, ad, sizeof ad), -EBADMSG);
	c1[sizeof c1 - 1] ^= 1;
	CHECK_RC(cf_box_open(out, c1, sizeof c1, key, ad, sizeof ad), 0);
}

static void
test_pw(void)
{
	struct cf_kdf k, k2;
	uint8_t sk[CF_SK_BYTES], out[CF_SK_BYTES], w1[CF_PW_WRAPPED_BYTES], w2[CF_PW_WRAPPED_BYTES];
	static const uint8_t ad[] = "archive-id||alice";
	static const char pass[] = "correct horse battery staple";

	cf_kdf_init(&k, CF_KDF_INTERACTIVE);
	cf_kdf_init(&k2, CF_KDF_INTERACTIVE);
	CHECK(memcmp(k.salt, k2.salt, sizeof k.salt) != 0);
	CHECK(k.opslimit > 0 && k.memlimit >= 8192);
	cf_kdf_init(&k2, CF_KDF_MODERATE);
	CHECK(k2.memlimit > k.memlimit);

	cf_random(sk, sizeof sk);
	CHECK_RC(cf_pw_wrap(w1, sk, pass, strlen(pass), &k, ad, sizeof ad), 0);
	CHECK_RC(cf_pw_wrap(w2, sk, pass, strlen(pass), &k, ad, sizeof ad), 0);
	CHECK(memcmp(w1, w2, sizeof w1) != 0);
	memset(out, 0, sizeof out);
	CHECK_RC(cf_pw_unwrap(out, w1, pass, strlen(pass), &k, ad, sizeof ad), 0);
	CHECK(memcmp(out, sk, sizeof sk) == 0);
	/* wrong passphrase (one character) */
	CHECK_RC(cf_pw_unwrap(out, w1, pass, strlen(pass) - 1, &k, ad, sizeof ad), -EACCES);
	CHECK_RC(cf_pw_unwrap(out, w1, "Correct horse battery staple", strlen(pass), &k, ad,
	    sizeof ad), -EACCES);
	/* wrong owner */
	CHECK_RC(cf_pw_unwrap(out, w1, pass, strlen(pass), &k, (const uint8_t *)"archive-id||mallory",
	    19), -EACCES);
	/* other salt */
	k2 = k;
	k2.salt[0] ^= 1;
	CHECK_RC(cf_pw_unwrap(out, w1, pass, strlen(pass), &k2, ad, sizeof ad), -EACCES);
	/* tampered */
	w1[CF_PW_WRAPPED_BYTES - 1] ^= 1;
	CHECK_RC(cf_pw_unwrap(out, w1, pass, strlen(pass), &k, ad, sizeof ad), -EACCES);
	w1[CF_PW_WRAPPED_BYTES - 1] ^= 1;
	/* absurd costs from a damaged keystore are refused before Argon2 runs */
	cf_log_quiet(1);
	k2 = k;
	k2.memlimit = 1ULL << 50;
	CHECK_RC(cf_pw_unwrap(out, w1, pass, strlen(pass), &k2, ad, sizeof ad), -EINVAL);
	k2 = k;
	k2.opslimit = 0;
	CHECK_RC(cf_pw_unwrap(out, w1, pass, strlen(pass), &k2, ad, sizeof ad), -EINVAL);
	/* legal for libsodium but far above anything Coffer writes: hours of
	 * work before "wrong passphrase" (found by t51's bit flips) */
	k2 = k;
	k2.opslimit = crypto_pwhash_OPSLIMIT_SENSITIVE + 1;
	CHECK_RC(cf_pw_unwrap(out, w1, pass, strlen(pass), &k2, ad, sizeof ad), -EINVAL);
	cf_log_quiet(0);
	CHECK_RC(cf_pw_unwrap(out, w1, pass, strlen(pass), &k, ad, sizeof ad), 0);
}

static void
test_hashes(void)
{
	uint8_t h1[CF_HASH_BYTES], h2[CF_HASH_BYTES], t1[CF_HASH_BYTES], t2[CF_HASH_BYTES];
	uint8_t key[CF_KEY_BYTES], key2[CF_KEY_BYTES];
	struct cf_hash_state st;
	char hex[2 * CF_HASH_BYTES + 1];
	static const char msg[] = "The quick brown fox jumps over the lazy dog";

	/* BLAKE2b-256 reference value of the empty string */
	cf_hash(h1, "", 0);
	cf_hex_encode(hex, h1, sizeof h1);
	CHECK_STR(hex, "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
	/* incremental = one shot */
	cf_hash(h1, msg, strlen(msg));
	cf_hash_init(&st);
	cf_hash_update(&st, msg, 10);
	cf_hash_update(&st, msg + 10, 0);
	cf_hash_update(&st, msg + 10, strlen(msg) - 10);
	cf_hash_final(&st, h2);
	CHECK(memcmp(h1, h2, sizeof h1) == 0);
	CHECK_RC(cf_ct_compare(h1, h2, sizeof h1), 0);
	h2[5] ^= 1;
	CHECK(cf_ct_compare(h1, h2, sizeof h1) != 0);

	memset(key, 1, sizeof key);
	memcpy(key2, key, sizeof key2);
	key2[31] = 2;
	cf_keyed_tag(t1, key, "dedup", "telegram", 8, "12345", 5);
	cf_keyed_tag(t2, key, "dedup", "telegram", 8, "12345", 5);
	CHECK(memcmp(t1, t2, sizeof t1) == 0);
	cf_keyed_tag(t2, key2, "dedup", "telegram", 8, "12345", 5);
	CHECK(memcmp(t1, t2, sizeof t1) != 0);
	cf_keyed_tag(t2, key, "chatmap", "telegram", 8, "12345", 5);
	CHECK(memcmp(t1, t2, sizeof t1) != 0);
	cf_keyed_tag(t2, key, "dedup", "telegram", 8, "12346", 5);
	CHECK(memcmp(t1, t2, sizeof t1) != 0);
	/* the separator keeps (a, b) boundaries apart */
	cf_keyed_tag(t2, key, "dedup", "telegram1", 9, "2345", 4);
	CHECK(memcmp(t1, t2, sizeof t1) != 0);
	/* b = NULL differs from an empty b */
	cf_keyed_tag(t1, key, "dedup", "x", 1, NULL, 0);
	cf_keyed_tag(t2, key, "dedup", "x", 1, "", 0);
	CHECK(memcmp(t1, t2, sizeof t1) != 0);
	/* a keyed tag is not the plain hash */
	cf_hash(h1, "dedup\0x", 7);
	CHECK(memcmp(t1, h1, sizeof t1) != 0);
}

static void
test_secure(void)
{
	uint8_t *p = cf_secure_alloc(100);

	REQUIRE(p != NULL);
	memset(p, 0xaa, 100);
	CHECK_RC(cf_secure_relock(p, 100), 0);
	cf_wipe(p, 100);
	CHECK(p[0] == 0 && p[99] == 0);
	cf_secure_free(p);
	cf_secure_free(NULL);
}

int
main(void)
{
	cf_set_progname("test_crypto");
	must(cf_crypto_init(), __LINE__);
	test_seal();
	test_keypairs();
	test_chunk();
	test_box();
	test_pw();
	test_hashes();
	test_secure();
	return CHECK_DONE("test_crypto");
}
