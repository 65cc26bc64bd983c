/*
 * fuzz_blob.c - libFuzzer target for the blob reader (fs/blob.c:
 * cf_blob_open, cf_blob_pread, cf_blob_read_all, cf_blob_verify,
 * cf_blob_verify_header,
 * cf_blob_check_file) on hostile files, and a tamper-detection check.
 *
 * Random bytes would never get past the header checks, so the target is
 * structure-aware.  Once, in a private mkdtemp folder, it writes genuine
 * blobs with cf_blob_create/cf_blob_write/cf_blob_finish under a fixed
 * conversation key pair:
 *   0  segment,        777 bytes (one partial chunk)
 *   1  attachment, 200929 bytes (three full chunks and a partial one)
 *   2  attachment, 131072 bytes (exactly two chunks: the last one is full)
 *   3  segment,          0 bytes (one empty final chunk)
 * libsodium's random generator is replaced by a deterministic one before
 * it starts, so ids, keys and files are the same in every run and an input
 * found once reproduces.  Each input is then an edit program applied to a
 * copy of one genuine blob, written over that blob's file:
 *   byte 0   bits 0-1: which blob; bit 2 HDR: the next 160 bytes (fewer
 *            if the input ends) replace the header, but the archive,
 *            conversation and blob ids and the sealed key (bytes 16..143)
 *            are put back unless bit 5 RAW is set (the ids are compared in
 *            constant time, so the fuzzer could never learn them); bit 3
 *            LEN: the next 3 bytes (u24 LE, modulo genuine length + two
 *            chunks + 1) give the file length: truncated, or extended with
 *            zero bytes; bit 4 KIND: open it expecting the other kind;
 *            bit 6 FIT (instead of LEN): the file length is the one the
 *            header's plaintext size calls for, so that a changed size gets
 *            past the file size check; bit 7 is not used.
 *   then     edits of 4 bytes: an offset (u24 LE, modulo the file length)
 *            and a byte XORed in there.
 * The reader then opens the file with the genuine ids and key, verifies
 * it, reads it all and reads a few ranges (chunk boundaries, the end,
 * past the end).  Besides memory safety, a finding (abort) is:
 *   - a read that succeeds with bytes other than the original plaintext
 *     (a modified blob must fail, never decrypt to something else), or
 *     read_all succeeding on a plaintext of another length;
 *   - a modified file that opens and reads all through without an error
 *     (every byte of a blob is checked by the time read_all is done: the
 *     header at open or as every chunk's associated data, the length
 *     against the header, each chunk by its tag);
 *   - the unmodified blob failing to open or read (a false alarm), or
 *     opening when the other kind is expected;
 *   - cf_blob_verify or cf_blob_check_file disagreeing with "the file is
 *     byte for byte the genuine one";
 *   - an error code other than those documented.
 * Errors are silenced.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "blob.h"
#include "crypto.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define F_HDR 0x04
#define F_LEN 0x08
#define F_KIND 0x10
#define F_RAW 0x20
#define F_FIT 0x40
#define NBLOBS 4
#define CHUNK_CT (CF_CHUNK_SIZE + CF_AEAD_TAG)
/* header bytes put back unless F_RAW: archive, conversation and blob ids,
 * sealed blob key */
#define HDR_KEEP_FROM 16
#define HDR_KEEP_TO 144

struct genuine {
	int kind;
	size_t plain_len;
	uint8_t *plain;
	size_t file_len;
	uint8_t *file;
	struct cf_blob_info info;
	char path[PATH_MAX];
};

static const size_t plain_sizes[NBLOBS] = { 777, 3 * CF_CHUNK_SIZE + 4321, 2 * CF_CHUNK_SIZE, 0 };
static const int kinds[NBLOBS] = { CF_BLOB_SEGMENT, CF_BLOB_ATTACHMENT, CF_BLOB_ATTACHMENT,
	CF_BLOB_SEGMENT };

static char dir[PATH_MAX];
static char arch[PATH_MAX];
static uint8_t archive_id[CF_ID_BYTES], conv_id[CF_ID_BYTES];
static struct cf_keypair conv;
static struct genuine blobs[NBLOBS];
static uint8_t *work;
static size_t work_cap;

/* ---- a deterministic randombytes implementation ----------------------- */

static uint64_t rng_calls;

static const char *
rng_name(void)
{
	return "coffer-fuzz-deterministic";
}

/* Call n of the stream: ChaCha20 under a fixed seed with n mixed in. */
static void
rng_buf(void *buf, size_t n)
{
	uint8_t seed[randombytes_SEEDBYTES];
	int i;

	memset(seed, 0x5c, sizeof seed);
	for (i = 0; i < 8; i++)
		seed[i] ^= (uint8_t)(rng_calls >> (8 * i));
	rng_calls++;
	randombytes_buf_deterministic(buf, n, seed);
}

static uint32_t
rng_random(void)
{
	uint32_t v;

	rng_buf(&v, sizeof v);
	return v;
}

static struct randombytes_implementation rng_impl = {
	.implementation_name = rng_name,
	.random = rng_random,
	.buf = rng_buf,
};

/* ---- set-up ------------------------------------------------------------ */

/* A failure of the harness itself (it cannot go on). */
static void
die(const char *what)
{
	fprintf(stderr, "fuzz_blob: set-up failed: %s\n", what);
	abort();
}

/* A finding: say what, and let libFuzzer keep the input. */
static void
finding(const char *what)
{
	fprintf(stderr, "fuzz_blob: FINDING: %s\n", what);
	abort();
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path);
}

static void
cleanup(void)
{
	if (dir[0] != '\0')
		(void)nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
make_blob(struct genuine *g, size_t plain_len, int kind, uint8_t seed)
{
	struct cf_blob_writer *w = NULL;
	size_t i, done = 0, step = 1000;
	char *buf = NULL;
	size_t len = 0;

	g->kind = kind;
	g->plain_len = plain_len;
	g->plain = malloc(plain_len + 1);
	if (g->plain == NULL)
		die("out of memory");
	for (i = 0; i < plain_len; i++)
		g->plain[i] = (uint8_t)(seed + i * 31 + (i >> 16));
	if (cf_blob_create(&w, arch, archive_id, conv_id, conv.pk, kind, plain_len) != 0)
		die("cf_blob_create");
	/* odd-sized writes, as an importer would */
	while (done < plain_len) {
		size_t n = plain_len - done < step ? plain_len - done : step;

		if (cf_blob_write(w, g->plain + done, n) != 0)
			die("cf_blob_write");
		done += n;
		step = step * 3 + 7;
	}
	if (cf_blob_finish(w, &g->info) != 0)
		die("cf_blob_finish");
	if (cf_blob_path(g->path, sizeof g->path, arch, g->info.id) != 0)
		die("cf_blob_path");
	if (cf_read_file(g->path, &buf, &len) != 0 || len != g->info.file_size ||
	    len != cf_blob_file_size(plain_len))
		die("reading a genuine blob back");
	g->file = (uint8_t *)buf;
	g->file_len = len;
}

static void
setup(void)
{
	const char *t = getenv("TMPDIR");
	uint8_t seed[CF_KEY_BYTES];
	size_t i;

	if (randombytes_set_implementation(&rng_impl) != 0)
		die("randombytes_set_implementation");
	if (cf_crypto_init() != 0)
		die("cf_crypto_init");
	cf_log_quiet(1);
	snprintf(dir, sizeof dir, "%s/fuzz_blob.XXXXXX", t != NULL && *t ? t : "/tmp");
	if (mkdtemp(dir) == NULL)
		die("mkdtemp");
	atexit(cleanup);
	if (cf_path(arch, sizeof arch, "%s/arch", dir) != 0 || mkdir(arch, 0700) != 0)
		die("archive folder");
	memset(seed, 0x42, sizeof seed);
	if (cf_keypair_from_seed(&conv, seed) != 0)
		die("key pair");
	memset(archive_id, 0xa1, sizeof archive_id);
	memset(conv_id, 0xc0, sizeof conv_id);
	for (i = 0; i < NBLOBS; i++) {
		make_blob(&blobs[i], plain_sizes[i], kinds[i], (uint8_t)(17 * i + 3));
		if (blobs[i].file_len + 2 * CHUNK_CT > work_cap)
			work_cap = blobs[i].file_len + 2 * CHUNK_CT;
	}
	work = malloc(work_cap);
	if (work == NULL)
		die("out of memory");
}

/* ---- one input --------------------------------------------------------- */

static void
put_file(const char *path, const uint8_t *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		die("opening the blob file");
	if (n > 0 && cf_write_all(fd, p, n) != 0)
		die("writing the blob file");
	if (close(fd) != 0)
		die("closing the blob file");
}

static uint32_t
u24(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
}

/* pread one range and hold the result against the original plaintext. */
static void
check_pread(struct cf_blob_reader *r, const struct genuine *g, uint64_t off, size_t len,
    int same)
{
	uint64_t ps = cf_blob_plain_size(r);
	uint64_t want = off >= ps ? 0 : (ps - off < len ? ps - off : len);
	uint8_t *buf = malloc(len > 0 ? len : 1);
	ssize_t got;

	if (buf == NULL)
		return;
	got = cf_blob_pread(r, buf, len, off);
	if (got >= 0) {
		if ((uint64_t)got != want)
			finding("cf_blob_pread returned the wrong count");
		if (got > 0 && (off + (uint64_t)got > g->plain_len ||
		    memcmp(buf, g->plain + off, (size_t)got) != 0))
			finding("a modified blob decrypted to other plaintext (pread)");
	} else if (got != -EBADMSG || same) {
		finding("cf_blob_pread failed on a genuine blob or with an unexpected code");
	}
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct genuine *g;
	struct cf_blob_reader *r = NULL;
	uint8_t hash[CF_HASH_BYTES], flags, *all = NULL;
	const uint8_t *p;
	size_t left, len, all_len = 0;
	uint64_t fsize = 0, ps;
	int same, kind, rc;

	if (work == NULL)
		setup();
	if (size == 0)
		return 0;
	flags = data[0];
	g = &blobs[flags % NBLOBS];
	p = data + 1;
	left = size - 1;
	len = g->file_len;
	memcpy(work, g->file, len);
	if (flags & F_HDR) {
		size_t n = left < CF_BLOB_HDR_BYTES ? left : CF_BLOB_HDR_BYTES;

		memcpy(work, p, n);
		if (!(flags & F_RAW))
			memcpy(work + HDR_KEEP_FROM, g->file + HDR_KEEP_FROM,
			    HDR_KEEP_TO - HDR_KEEP_FROM);
		p += n;
		left -= n;
	}
	if (flags & F_FIT) {
		uint64_t hsize = 0;
		int i;

		for (i = 7; i >= 0; i--)
			hsize = hsize << 8 | work[144 + i];
		if (hsize <= work_cap && cf_blob_file_size(hsize) <= work_cap) {
			size_t n = (size_t)cf_blob_file_size(hsize);

			if (n > len)
				memset(work + len, 0, n - len);
			len = n;
		}
	} else if ((flags & F_LEN) && left >= 3) {
		size_t n = u24(p) % (g->file_len + 2 * CHUNK_CT + 1);

		if (n > len)
			memset(work + len, 0, n - len);
		len = n;
		p += 3;
		left -= 3;
	}
	for (; left >= 4 && len > 0; p += 4, left -= 4)
		work[u24(p) % len] ^= p[3];
	same = len == g->file_len && memcmp(work, g->file, len) == 0;
	put_file(g->path, work, len);

	/* the keyless check that verify and gc use */
	rc = cf_blob_check_file(g->path, &fsize, hash, NULL);
	if (rc != 0 || fsize != len)
		finding("cf_blob_check_file failed on a readable file");
	if ((memcmp(hash, g->info.hash, CF_HASH_BYTES) == 0) != same)
		finding("cf_blob_check_file: hash equality disagrees with the file");

	kind = g->kind;
	if (flags & F_KIND)
		kind = kind == CF_BLOB_SEGMENT ? CF_BLOB_ATTACHMENT : CF_BLOB_SEGMENT;
	rc = cf_blob_open(&r, arch, archive_id, conv_id, g->info.id, kind, &conv);
	if (rc != 0) {
		if (rc != -EBADMSG || r != NULL)
			finding("cf_blob_open: unexpected code");
		if (same && !(flags & F_KIND))
			finding("cf_blob_open refused the genuine blob");
		return 0;
	}
	if ((flags & F_KIND) && same)
		finding("cf_blob_open accepted a blob of the other kind");

	rc = cf_blob_verify(r, g->info.file_size, g->info.hash);
	if (rc != 0 && rc != -EBADMSG)
		finding("cf_blob_verify: unexpected code");
	if ((rc == 0) != same)
		finding("cf_blob_verify disagrees with the file");
	/* the mount's check of an attachment: size and header only, the
	 * chunks are checked as they are read (below) */
	rc = cf_blob_verify_header(r, g->info.file_size, g->info.head_hash);
	if (rc != 0 && rc != -EBADMSG)
		finding("cf_blob_verify_header: unexpected code");
	if ((rc == 0) != (len == g->file_len && memcmp(work, g->file, CF_BLOB_HDR_BYTES) == 0))
		finding("cf_blob_verify_header disagrees with the file's size and header");

	rc = cf_blob_read_all(r, &all, &all_len);
	if (rc == 0) {
		if (all_len != g->plain_len || memcmp(all, g->plain, all_len) != 0)
			finding("a modified blob decrypted to other plaintext (read_all)");
		free(all);
		if (!same)
			finding("a modified blob opened and read without an error");
	} else if (rc != -EBADMSG || same) {
		finding("cf_blob_read_all failed on a genuine blob or with an unexpected code");
	}

	ps = cf_blob_plain_size(r);
	check_pread(r, g, 0, 1, same);
	check_pread(r, g, 0, (size_t)ps, same);
	check_pread(r, g, CF_CHUNK_SIZE - 1, 2, same);
	check_pread(r, g, CF_CHUNK_SIZE, CF_CHUNK_SIZE, same);
	check_pread(r, g, CF_CHUNK_SIZE + 5, 2 * CF_CHUNK_SIZE, same);
	check_pread(r, g, ps > 0 ? ps - 1 : 0, 10, same);
	check_pread(r, g, ps, 1, same);
	check_pread(r, g, ps / 3, (size_t)(ps / 2 + 1), same);
	check_pread(r, g, UINT64_MAX, 5, same);
	cf_blob_close(r);
	return 0;
}
