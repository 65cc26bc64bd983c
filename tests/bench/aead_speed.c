/*
 * aead_speed.c - the single-core decrypt speed of the AEAD Coffer uses
 * for attachment chunks (XChaCha20-Poly1305, libsodium), the yardstick
 * for the attachment read figure of perf.sh.
 *
 * Usage: aead_speed [MIB]
 *        aead_speed kdf interactive|moderate
 *
 * Seals MIB (default 256) mebibytes of random bytes as 64 KiB chunks with
 * a 32-byte associated data, as a blob does, then opens them all on one
 * thread and prints the plaintext rate in MB/s (10^6 bytes) on stdout.
 *
 * With "kdf LEVEL": the seconds one Argon2id derivation takes at the
 * libsodium level Coffer uses to unlock a principal (interactive for the
 * ingest identity, moderate for people: fs/crypto.c), which perf.sh
 * subtracts to give the mount and import times without the unlock.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#define CHUNK 65536
#define TAG crypto_aead_xchacha20poly1305_ietf_ABYTES
#define NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES

static int
kdf_time(const char *level)
{
	unsigned char key[32], salt[crypto_pwhash_SALTBYTES] = { 0 };
	unsigned long long ops;
	size_t mem;
	struct timespec t0, t1;

	if (strcmp(level, "interactive") == 0) {
		ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
		mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
	} else if (strcmp(level, "moderate") == 0) {
		ops = crypto_pwhash_OPSLIMIT_MODERATE;
		mem = crypto_pwhash_MEMLIMIT_MODERATE;
	} else {
		fprintf(stderr, "usage: aead_speed kdf interactive|moderate\n");
		return 2;
	}
	if (clock_gettime(CLOCK_MONOTONIC, &t0) != 0 ||
	    crypto_pwhash(key, sizeof key, "benchmark", 9, salt, ops, mem,
	    crypto_pwhash_ALG_ARGON2ID13) != 0 ||
	    clock_gettime(CLOCK_MONOTONIC, &t1) != 0) {
		fprintf(stderr, "aead_speed: Argon2id failed\n");
		return 1;
	}
	printf("%.4f\n", (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}

int
main(int argc, char **argv)
{
	unsigned char key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES], ad[32];
	unsigned char *plain = NULL, *sealed = NULL, *out = NULL;
	unsigned long long clen, mlen;
	unsigned long mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
	size_t chunks, i;
	struct timespec t0, t1;
	double secs;
	int rc = 1;

	if (sodium_init() < 0) {
		fprintf(stderr, "aead_speed: libsodium cannot start\n");
		return 2;
	}
	if (argc == 3 && strcmp(argv[1], "kdf") == 0)
		return kdf_time(argv[2]);
	if (mib == 0 || mib > 4096) {
		fprintf(stderr, "usage: aead_speed [MIB 1..4096]\n");
		return 2;
	}
	chunks = (size_t)mib * (1024 * 1024 / CHUNK);
	plain = malloc(CHUNK);
	out = malloc(CHUNK);
	sealed = malloc(chunks * (NONCE + CHUNK + TAG));
	if (plain == NULL || out == NULL || sealed == NULL) {
		fprintf(stderr, "aead_speed: out of memory\n");
		goto out;
	}
	crypto_aead_xchacha20poly1305_ietf_keygen(key);
	randombytes_buf(ad, sizeof ad);
	randombytes_buf(plain, CHUNK);
	for (i = 0; i < chunks; i++) {
		unsigned char *c = sealed + i * (NONCE + CHUNK + TAG);

		randombytes_buf(c, NONCE);
		if (crypto_aead_xchacha20poly1305_ietf_encrypt(c + NONCE, &clen, plain, CHUNK,
		    ad, sizeof ad, NULL, c, key) != 0) {
			fprintf(stderr, "aead_speed: seal failed\n");
			goto out;
		}
	}
	if (clock_gettime(CLOCK_MONOTONIC, &t0) != 0)
		goto out;
	for (i = 0; i < chunks; i++) {
		unsigned char *c = sealed + i * (NONCE + CHUNK + TAG);

		if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &mlen, NULL, c + NONCE,
		    CHUNK + TAG, ad, sizeof ad, c, key) != 0 || mlen != CHUNK) {
			fprintf(stderr, "aead_speed: open failed\n");
			goto out;
		}
	}
	if (clock_gettime(CLOCK_MONOTONIC, &t1) != 0)
		goto out;
	if (memcmp(out, plain, CHUNK) != 0) {
		fprintf(stderr, "aead_speed: wrong plaintext\n");
		goto out;
	}
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%.0f\n", (double)chunks * CHUNK / 1e6 / secs);
	rc = 0;
out:
	free(plain);
	free(out);
	free(sealed);
	return rc;
}
