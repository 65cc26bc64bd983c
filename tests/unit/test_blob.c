/*
 * test_blob.c - unit tests for blob.c: round trips at the chunk boundaries
 * with writes in odd-sized pieces, random preads (also from several
 * threads), and the integrity checks: a flipped byte in the header or in
 * any chunk, a truncated or extended file, swapped chunks, a blob copied
 * over another, a wrong key, id or kind must all fail; failed or abandoned
 * writes must leave no file behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

#include "blob.h"
#include "check.h"
#include "testlib.h"
#include "crypto.h"
#include "util.h"

static char archive[512];
static uint8_t aid[CF_ID_BYTES], cid[CF_ID_BYTES];
static struct cf_keypair conv, other;
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Stop when a set-up call fails (REQUIRE would evaluate the call twice). */
static void
must(long rc, int line)
{
	CHECK(rc == 0);
	if (rc != 0) {
		fprintf(stderr, "%s:%d: set-up failed (%ld), cannot continue\n", __FILE__, line, rc);
		exit(1);
	}
}

/* Number of files under ARCHIVE/blobs. */
static int
count_blob_files(void)
{
	char dir[600], sub[700];
	struct dirent *e, *f;
	DIR *d, *s;
	int n = 0;

	must(cf_path(dir, sizeof dir, "%s/blobs", archive), __LINE__);
	d = opendir(dir);
	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		must(cf_path(sub, sizeof sub, "%s/%s", dir, e->d_name), __LINE__);
		s = opendir(sub);
		if (s == NULL)
			continue;
		while ((f = readdir(s)) != NULL)
			if (f->d_name[0] != '.')
				n++;
		closedir(s);
	}
	closedir(d);
	return n;
}

/* Write src as a blob in pieces of varying, odd sizes. */
static void
write_blob(const uint8_t *src, size_t size, int kind, struct cf_blob_info *info)
{
	static const size_t pieces[] = { 1, 7, 4093, 65537, 13, 70001, 65535, 333 };
	struct cf_blob_writer *w = NULL;
	size_t done = 0, i = 0;

	must(cf_blob_create(&w, archive, aid, cid, conv.pk, kind, size), __LINE__);
	while (done < size) {
		size_t n = pieces[i++ % (sizeof pieces / sizeof pieces[0])];

		if (n > size - done)
			n = size - done;
		must(cf_blob_write(w, src + done, n), __LINE__);
		done += n;
	}
	/* zero-length writes are harmless */
	must(cf_blob_write(w, src, 0), __LINE__);
	must(cf_blob_finish(w, info), __LINE__);
}

static void
blob_file(char *path, size_t n, const uint8_t id[CF_ID_BYTES])
{
	must(cf_blob_path(path, n, archive, id), __LINE__);
}

static void
copy_file(const char *from, const char *to)
{
	char *buf = NULL;
	size_t len = 0;
	int fd;

	must(cf_read_file(from, &buf, &len), __LINE__);
	fd = open(to, O_WRONLY | O_TRUNC);
	REQUIRE(fd >= 0);
	must(cf_write_all(fd, buf, len), __LINE__);
	close(fd);
	free(buf);
}

/*
 * Open the blob and read it all: 0 when everything authenticates, else the
 * first error (from cf_blob_open or cf_blob_read_all).
 */
static int
open_and_read(const uint8_t id[CF_ID_BYTES], int kind, const struct cf_keypair *kp)
{
	struct cf_blob_reader *r = NULL;
	uint8_t *all = NULL;
	size_t len = 0;
	int rc;

	rc = cf_blob_open(&r, archive, aid, cid, id, kind, kp);
	if (rc < 0) {
		CHECK(r == NULL);
		return rc;
	}
	rc = cf_blob_read_all(r, &all, &len);
	if (rc < 0)
		CHECK(all == NULL);
	free(all);
	cf_blob_close(r);
	return rc;
}

static void
check_reads(struct cf_blob_reader *r, const uint8_t *src, size_t size)
{
	uint8_t *buf = malloc(size + 200000);
	int i;

	REQUIRE(buf != NULL);
	for (i = 0; i < 60; i++) {
		uint64_t off = size ? rnd() % (size + 10) : rnd() % 3;
		size_t len = (size_t)(rnd() % (i % 3 == 0 ? 200000 : 70000));
		size_t want = off >= size ? 0 : (size - off < len ? size - off : len);
		ssize_t got = cf_blob_pread(r, buf, len, off);

		CHECK(got == (ssize_t)want);
		if (got == (ssize_t)want && want > 0)
			CHECK(memcmp(buf, src + off, want) == 0);
	}
	/* exact chunk boundaries */
	if (size > CF_CHUNK_SIZE) {
		size_t want = size - CF_CHUNK_SIZE < CF_CHUNK_SIZE ? size - CF_CHUNK_SIZE : CF_CHUNK_SIZE;

		CHECK(cf_blob_pread(r, buf, CF_CHUNK_SIZE, CF_CHUNK_SIZE) == (ssize_t)want);
		CHECK(memcmp(buf, src + CF_CHUNK_SIZE, want) == 0);
		CHECK(cf_blob_pread(r, buf, 2, CF_CHUNK_SIZE - 1) == 2);
		CHECK(buf[0] == src[CF_CHUNK_SIZE - 1] && buf[1] == src[CF_CHUNK_SIZE]);
	}
	CHECK(cf_blob_pread(r, buf, 10, size) == 0);
	CHECK(cf_blob_pread(r, buf, 10, UINT64_MAX) == 0);
	CHECK(cf_blob_pread(r, buf, 0, 0) == 0);
	free(buf);
}

static void
test_round_trips(void)
{
	static const size_t sizes[] = { 0, 1, 65535, 65536, 65537, 131072, 300000 };
	size_t s;

	for (s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		size_t size = sizes[s];
		uint8_t *src = malloc(size + 1), *all = NULL, hash[CF_HASH_BYTES];
		struct cf_blob_reader *r = NULL;
		struct cf_blob_info info;
		char path[700];
		struct stat st;
		uint64_t fsize = 0;
		size_t len = 0;

		REQUIRE(src != NULL);
		cf_random(src, size + 1);
		write_blob(src, size, CF_BLOB_ATTACHMENT, &info);
		CHECK(info.plain_size == size);
		CHECK(info.kind == CF_BLOB_ATTACHMENT);
		CHECK(info.file_size == cf_blob_file_size(size));
		CHECK(info.file_size == CF_BLOB_HDR_BYTES + size +
		    (size == 0 ? 1 : (size + CF_CHUNK_SIZE - 1) / CF_CHUNK_SIZE) * CF_AEAD_TAG);
		blob_file(path, sizeof path, info.id);
		CHECK(lstat(path, &st) == 0);
		CHECK((uint64_t)st.st_size == info.file_size);
		CHECK((st.st_mode & 0777) == 0600);

		CHECK_RC(cf_blob_check_file(path, &fsize, hash, NULL), 0);
		CHECK(fsize == info.file_size);
		CHECK(memcmp(hash, info.hash, CF_HASH_BYTES) == 0);

		must(cf_blob_open(&r, archive, aid, cid, info.id, CF_BLOB_ATTACHMENT, &conv), __LINE__);
		CHECK(cf_blob_plain_size(r) == size);
		CHECK_RC(cf_blob_read_all(r, &all, &len), 0);
		CHECK(len == size);
		CHECK(all != NULL && all[size] == '\0');
		CHECK(all != NULL && memcmp(all, src, size) == 0);
		free(all);
		check_reads(r, src, size);
		cf_blob_close(r);
		free(src);
	}
	cf_blob_close(NULL);
	cf_blob_abort(NULL);
}

struct reader_job {
	struct cf_blob_reader *r;
	const uint8_t *src;
	size_t size;
	uint64_t seed;
	int bad;
};

static void *
reader_thread(void *arg)
{
	struct reader_job *j = arg;
	uint8_t *buf = malloc(150000);
	uint64_t x = j->seed;
	int i;

	if (buf == NULL) {
		j->bad = 1;
		return NULL;
	}
	for (i = 0; i < 200; i++) {
		uint64_t off, len;
		ssize_t got;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		off = x % j->size;
		len = (x >> 20) % 150000;
		if (len > j->size - off)
			len = j->size - off;
		got = cf_blob_pread(j->r, buf, (size_t)len, off);
		if (got != (ssize_t)len || memcmp(buf, j->src + off, (size_t)len) != 0)
			j->bad++;
	}
	free(buf);
	return NULL;
}

static void
test_threads(void)
{
	size_t size = 500000;
	uint8_t *src = malloc(size);
	struct cf_blob_reader *r = NULL;
	struct cf_blob_info info;
	struct reader_job jobs[4];
	pthread_t t[4];
	int i;

	REQUIRE(src != NULL);
	cf_random(src, size);
	write_blob(src, size, CF_BLOB_SEGMENT, &info);
	must(cf_blob_open(&r, archive, aid, cid, info.id, CF_BLOB_SEGMENT, &conv), __LINE__);
	for (i = 0; i < 4; i++) {
		jobs[i] = (struct reader_job){ r, src, size, 0x1234567ULL * (uint64_t)(i + 1), 0 };
		CHECK(pthread_create(&t[i], NULL, reader_thread, &jobs[i]) == 0);
	}
	for (i = 0; i < 4; i++) {
		CHECK(pthread_join(t[i], NULL) == 0);
		CHECK(jobs[i].bad == 0);
	}
	cf_blob_close(r);
	free(src);
}

static void
test_tampering(void)
{
	size_t size = 300000;       /* chunks 0..4, the last one partial */
	uint8_t *src = malloc(size), *buf = malloc(size), h1[CF_HASH_BYTES], h2[CF_HASH_BYTES];
	struct cf_blob_info info, info2;
	struct cf_blob_reader *r = NULL;
	char path[700], path2[700], backup[700];
	uint64_t fsize, mid = CF_BLOB_HDR_BYTES + 2 * (uint64_t)(CF_CHUNK_SIZE + CF_AEAD_TAG) + 1000;
	static const uint64_t hdr_offsets[] = { 0, 8, 9, 10, 12, 16, 40, 50, 64, 100, 143, 144,
	    150, 152, 159 };
	size_t i;
	int fd;

	REQUIRE(src != NULL && buf != NULL);
	cf_random(src, size);
	write_blob(src, size, CF_BLOB_SEGMENT, &info);
	blob_file(path, sizeof path, info.id);
	must(cf_path(backup, sizeof backup, "%s/backup", archive), __LINE__);
	fd = open(backup, O_WRONLY | O_CREAT | O_EXCL, 0600);
	REQUIRE(fd >= 0);
	close(fd);
	copy_file(path, backup);
	CHECK_RC(open_and_read(info.id, CF_BLOB_SEGMENT, &conv), 0);

	cf_log_quiet(1);
	/* one flipped byte anywhere in the header */
	for (i = 0; i < sizeof hdr_offsets / sizeof hdr_offsets[0]; i++) {
		flip_byte(path, hdr_offsets[i]);
		CHECK_RC(open_and_read(info.id, CF_BLOB_SEGMENT, &conv), -EBADMSG);
		copy_file(backup, path);
	}

	/* a middle chunk: the blob opens, reads elsewhere work, reads over it fail */
	flip_byte(path, mid);
	CHECK_RC(cf_blob_check_file(path, &fsize, h1, NULL), 0);
	CHECK(memcmp(h1, info.hash, CF_HASH_BYTES) != 0);
	CHECK(fsize == info.file_size);
	must(cf_blob_open(&r, archive, aid, cid, info.id, CF_BLOB_SEGMENT, &conv), __LINE__);
	CHECK(cf_blob_pread(r, buf, 1000, 10) == 1000);
	CHECK(memcmp(buf, src + 10, 1000) == 0);
	CHECK_RC(cf_blob_pread(r, buf, 10, 2 * CF_CHUNK_SIZE + 5), -EBADMSG);
	CHECK_RC(cf_blob_pread(r, buf, 3 * CF_CHUNK_SIZE, CF_CHUNK_SIZE), -EBADMSG);
	CHECK_RC(cf_blob_pread(r, buf, 3 * CF_CHUNK_SIZE, CF_CHUNK_SIZE), -EBADMSG);
	CHECK(cf_blob_pread(r, buf, 100, 4 * CF_CHUNK_SIZE) == 100);
	cf_blob_close(r);
	r = NULL;
	CHECK_RC(open_and_read(info.id, CF_BLOB_SEGMENT, &conv), -EBADMSG);
	copy_file(backup, path);

	/* the final chunk: body, and tag */
	flip_byte(path, info.file_size - 100);
	CHECK_RC(open_and_read(info.id, CF_BLOB_SEGMENT, &conv), -EBADMSG);
	copy_file(backup, path);
	flip_byte(path, info.file_size - 1);
	CHECK_RC(open_and_read(info.id, CF_BLOB_SEGMENT, &conv), -EBADMSG);
	copy_file(backup, path);
	/* first chunk */
	flip_byte(path, CF_BLOB_HDR_BYTES);
	CHECK_RC(open_and_read(info.id, CF_BLOB_SEGMENT, &conv), -EBADMSG);
	copy_file(backup, path);
	CHECK_RC(open_and_read(info.id, CF_BLOB_SEGMENT, &conv), 0);

	/* swapping two whole chunks is detected (each is bound to its index) */
	{
		size_t cl = CF_CHUNK_SIZE + CF_AEAD_TAG;
		uint8_t *c0 = malloc(cl), *c1 = malloc(cl);

		REQUIRE(c0 != NULL && c1 != NULL);
		fd = open(path, O_RDWR);
		REQUIRE(fd >= 0);
		CHECK(pread(fd, c0, cl, CF_BLOB_HDR_BYTES) == (ssize_t)cl);
		CHECK(pread(fd, c1, cl, CF_BLOB_HDR_BYTES + (off_t)cl) == (ssize_t)cl);
		CHECK(pwrite(fd, c1, cl, CF_BLOB_HDR_BYTES) == (ssize_t)cl);
		CHECK(pwrite(fd, c0, cl, CF_BLOB_HDR_BYTES + (off_t)cl) == (ssize_t)cl);
		close(fd);
		free(c0);
		free(c1);
		CHECK_RC(open_and_read(info.id, CF_BLOB_SEGMENT, &conv), -EBADMSG);
		copy_file(backup, path);
	}

	/* truncated by one byte, or extended by one byte */
	CHECK(truncate(path, (off_t)info.file_size - 1) == 0);
	CHECK_RC(cf_blob_open(&r, archive, aid, cid, info.id, CF_BLOB_SEGMENT, &conv), -EBADMSG);
	CHECK(r == NULL);
	CHECK(truncate(path, (off_t)info.file_size + 1) == 0);
	CHECK_RC(cf_blob_open(&r, archive, aid, cid, info.id, CF_BLOB_SEGMENT, &conv), -EBADMSG);
	CHECK(truncate(path, 100) == 0);
	CHECK_RC(cf_blob_open(&r, archive, aid, cid, info.id, CF_BLOB_SEGMENT, &conv), -EBADMSG);
	copy_file(backup, path);
	CHECK(truncate(path, (off_t)info.file_size) == 0);
	CHECK_RC(open_and_read(info.id, CF_BLOB_SEGMENT, &conv), 0);

	/* wrong key, ids, kind; public-only key */
	CHECK_RC(open_and_read(info.id, CF_BLOB_SEGMENT, &other), -EBADMSG);
	CHECK_RC(open_and_read(info.id, CF_BLOB_ATTACHMENT, &conv), -EBADMSG);
	CHECK_RC(cf_blob_open(&r, archive, cid, cid, info.id, CF_BLOB_SEGMENT, &conv), -EBADMSG);
	CHECK_RC(cf_blob_open(&r, archive, aid, aid, info.id, CF_BLOB_SEGMENT, &conv), -EBADMSG);
	{
		struct cf_keypair pub = { { 0 }, NULL };

		memcpy(pub.pk, conv.pk, CF_PK_BYTES);
		CHECK(cf_blob_open(&r, archive, aid, cid, info.id, CF_BLOB_SEGMENT, &pub) < 0);
		CHECK(r == NULL);
	}

	/* blob X copied over blob Y: opening Y must fail */
	write_blob(src, size, CF_BLOB_SEGMENT, &info2);
	blob_file(path2, sizeof path2, info2.id);
	CHECK_RC(open_and_read(info2.id, CF_BLOB_SEGMENT, &conv), 0);
	copy_file(path, path2);
	CHECK_RC(open_and_read(info2.id, CF_BLOB_SEGMENT, &conv), -EBADMSG);
	CHECK_RC(cf_blob_check_file(path2, &fsize, h2, NULL), 0);
	CHECK(memcmp(h2, info2.hash, CF_HASH_BYTES) != 0);

	/* missing file */
	CHECK(unlink(path2) == 0);
	CHECK_RC(cf_blob_check_file(path2, &fsize, h2, NULL), -ENOENT);
	CHECK_RC(cf_blob_open(&r, archive, aid, cid, info2.id, CF_BLOB_SEGMENT, &conv), -ENOENT);
	/* a symbolic link is not followed */
	CHECK(symlink(path, path2) == 0);
	CHECK(cf_blob_open(&r, archive, aid, cid, info2.id, CF_BLOB_SEGMENT, &conv) < 0);
	CHECK(cf_blob_check_file(path2, &fsize, h2, NULL) < 0);
	CHECK(unlink(path2) == 0);
	cf_log_quiet(0);

	CHECK(unlink(backup) == 0);
	free(src);
	free(buf);
}

/*
 * cf_blob_verify_header, the mount's check of an attachment: the genuine
 * file passes; a file that opens under the same ids but was sealed with
 * another key (what anyone with the conversation's public key can make)
 * fails it, and so does a file of another size; a damaged chunk passes it
 * and is caught when read.
 */
static void
test_header_check(void)
{
	const size_t size = 3 * CF_CHUNK_SIZE + 17;
	uint8_t *src = malloc(size), *buf = malloc(size), *forged = NULL;
	uint8_t h[CF_HASH_BYTES], head[CF_HASH_BYTES];
	struct cf_blob_info a, b;
	struct cf_blob_reader *r = NULL;
	char pa[600], pb[600];
	uint64_t fsize;
	size_t flen;
	FILE *f;

	REQUIRE(src != NULL && buf != NULL);
	cf_random(src, size);
	write_blob(src, size, CF_BLOB_ATTACHMENT, &a);
	write_blob(src, size, CF_BLOB_ATTACHMENT, &b);
	blob_file(pa, sizeof pa, a.id);
	blob_file(pb, sizeof pb, b.id);

	/* genuine: passes; verify's keyless hash of the header agrees */
	must(cf_blob_open(&r, archive, aid, cid, a.id, CF_BLOB_ATTACHMENT, &conv), __LINE__);
	CHECK_RC(cf_blob_verify_header(r, a.file_size, a.head_hash), 0);
	cf_log_quiet(1);
	CHECK_RC(cf_blob_verify_header(r, a.file_size + 1, a.head_hash), -EBADMSG);
	cf_log_quiet(0);
	cf_blob_close(r);
	r = NULL;
	CHECK_RC(cf_blob_check_file(pa, &fsize, h, head), 0);
	CHECK(memcmp(head, a.head_hash, CF_HASH_BYTES) == 0);
	CHECK(memcmp(a.head_hash, b.head_hash, CF_HASH_BYTES) != 0);

	/* b's file with a's id in its header put in a's place: it opens as a */
	f = fopen(pb, "rb");
	REQUIRE(f != NULL);
	forged = malloc(b.file_size);
	REQUIRE(forged != NULL);
	flen = fread(forged, 1, b.file_size, f);
	fclose(f);
	CHECK(flen == b.file_size);
	memcpy(forged + 48, a.id, CF_ID_BYTES);
	f = fopen(pa, "wb");
	REQUIRE(f != NULL);
	CHECK(fwrite(forged, 1, flen, f) == flen);
	CHECK(fclose(f) == 0);
	cf_log_quiet(1);
	must(cf_blob_open(&r, archive, aid, cid, a.id, CF_BLOB_ATTACHMENT, &conv), __LINE__);
	CHECK_RC(cf_blob_verify_header(r, a.file_size, a.head_hash), -EBADMSG);
	cf_blob_close(r);
	r = NULL;

	/* a genuine header over a damaged chunk: passes, that chunk's read fails */
	CHECK(unlink(pa) == 0);
	flip_byte(pb, CF_BLOB_HDR_BYTES + CF_CHUNK_SIZE + 100);
	must(cf_blob_open(&r, archive, aid, cid, b.id, CF_BLOB_ATTACHMENT, &conv), __LINE__);
	CHECK_RC(cf_blob_verify_header(r, b.file_size, b.head_hash), 0);
	CHECK(cf_blob_pread(r, buf, 100, 0) == 100);
	CHECK(memcmp(buf, src, 100) == 0);
	CHECK_RC(cf_blob_pread(r, buf, 100, CF_CHUNK_SIZE + 50), -EBADMSG);
	cf_blob_close(r);
	cf_log_quiet(0);
	free(forged);
	free(src);
	free(buf);
}

static void
test_failed_writes(void)
{
	struct cf_blob_writer *w = NULL;
	struct cf_blob_info info;
	uint8_t data[100];
	int before = count_blob_files();

	cf_random(data, sizeof data);
	cf_log_quiet(1);
	/* abort */
	must(cf_blob_create(&w, archive, aid, cid, conv.pk, CF_BLOB_SEGMENT, 100), __LINE__);
	CHECK(count_blob_files() == before + 1);
	must(cf_blob_write(w, data, 50), __LINE__);
	cf_blob_abort(w);
	CHECK(count_blob_files() == before);

	/* too few bytes */
	must(cf_blob_create(&w, archive, aid, cid, conv.pk, CF_BLOB_SEGMENT, 100), __LINE__);
	must(cf_blob_write(w, data, 99), __LINE__);
	CHECK_RC(cf_blob_finish(w, &info), -EINVAL);
	CHECK(count_blob_files() == before);

	/* too many bytes: refused, the writer stays usable */
	must(cf_blob_create(&w, archive, aid, cid, conv.pk, CF_BLOB_SEGMENT, 100), __LINE__);
	must(cf_blob_write(w, data, 60), __LINE__);
	CHECK_RC(cf_blob_write(w, data, 41), -EINVAL);
	must(cf_blob_write(w, data + 60, 40), __LINE__);
	CHECK_RC(cf_blob_write(w, data, 1), -EINVAL);
	CHECK_RC(cf_blob_finish(w, &info), 0);
	CHECK(count_blob_files() == before + 1);
	CHECK(info.plain_size == 100);
	{
		struct cf_blob_reader *r = NULL;
		uint8_t back[100];

		must(cf_blob_open(&r, archive, aid, cid, info.id, CF_BLOB_SEGMENT, &conv), __LINE__);
		CHECK(cf_blob_pread(r, back, sizeof back, 0) == 100);
		CHECK(memcmp(back, data, 100) == 0);
		cf_blob_close(r);
	}

	/* a write error (here EFBIG from a file size limit, as ENOSPC would
	 * be on a full disk) is reported and removes the file */
	{
		struct rlimit saved, small;
		uint8_t *big = calloc(1, 300000);
		int rc = 0, i;

		REQUIRE(big != NULL);
		CHECK(getrlimit(RLIMIT_FSIZE, &saved) == 0);
		small = saved;
		small.rlim_cur = 100000;
		CHECK(signal(SIGXFSZ, SIG_IGN) != SIG_ERR);
		CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0);
		must(cf_blob_create(&w, archive, aid, cid, conv.pk, CF_BLOB_SEGMENT, 300000), __LINE__);
		for (i = 0; i < 3 && rc == 0; i++)
			rc = cf_blob_write(w, big + i * 100000, 100000);
		CHECK_RC(rc, -EFBIG);
		CHECK(count_blob_files() == before + 1);   /* only the good blob above */
		/* later calls keep failing with the same error */
		CHECK_RC(cf_blob_write(w, big, 1), -EFBIG);
		CHECK_RC(cf_blob_finish(w, &info), -EFBIG);
		CHECK(setrlimit(RLIMIT_FSIZE, &saved) == 0);
		CHECK(signal(SIGXFSZ, SIG_DFL) != SIG_ERR);
		free(big);
	}

	/* bad kind */
	CHECK_RC(cf_blob_create(&w, archive, aid, cid, conv.pk, 3, 100), -EINVAL);
	CHECK(w == NULL);
	cf_log_quiet(0);
}

/*
 * Found by tests/fuzz/fuzz_blob.c: a blob of plaintext size 0 has nothing
 * to read, so no chunk used to be checked and its header went unchecked.
 * A genuine blob with its size field set to 0 and its file cut to
 * 160 + 16 bytes then opened and read as an empty blob, and an empty
 * blob's final chunk could be anything.
 */
static void
test_empty_rewrite(void)
{
	static const uint8_t zero8[8];
	uint8_t data[777];
	struct cf_blob_info info, empty;
	struct cf_blob_reader *r = NULL;
	char path[700];
	int fd;

	cf_random(data, sizeof data);
	write_blob(data, sizeof data, CF_BLOB_SEGMENT, &info);
	blob_file(path, sizeof path, info.id);
	fd = open(path, O_WRONLY);
	REQUIRE(fd >= 0);
	CHECK(pwrite(fd, zero8, sizeof zero8, 144) == (ssize_t)sizeof zero8);
	close(fd);
	CHECK(truncate(path, (off_t)cf_blob_file_size(0)) == 0);
	cf_log_quiet(1);
	CHECK_RC(open_and_read(info.id, CF_BLOB_SEGMENT, &conv), -EBADMSG);
	cf_log_quiet(0);

	/* a genuine empty blob opens and reads empty; with its one chunk's
	 * tag changed, or expected as the other kind, it does not open */
	write_blob(data, 0, CF_BLOB_ATTACHMENT, &empty);
	CHECK_RC(open_and_read(empty.id, CF_BLOB_ATTACHMENT, &conv), 0);
	blob_file(path, sizeof path, empty.id);
	flip_byte(path, CF_BLOB_HDR_BYTES + 3);
	cf_log_quiet(1);
	CHECK_RC(cf_blob_open(&r, archive, aid, cid, empty.id, CF_BLOB_ATTACHMENT, &conv),
	    -EBADMSG);
	CHECK(r == NULL);
	cf_blob_close(r);
	r = NULL;
	flip_byte(path, CF_BLOB_HDR_BYTES + 3);
	flip_byte(path, 9);                  /* kind 2 -> 0x22 */
	CHECK_RC(open_and_read(empty.id, 0x22, &conv), -EBADMSG);
	cf_log_quiet(0);
	flip_byte(path, 9);
	CHECK_RC(open_and_read(empty.id, CF_BLOB_ATTACHMENT, &conv), 0);
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");
	char *dir;

	cf_set_progname("test_blob");
	must(cf_crypto_init(), __LINE__);
	must(cf_path(archive, sizeof archive, "%s/coffer-test-blob-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp"), __LINE__);
	dir = mkdtemp(archive);
	REQUIRE(dir != NULL);
	cf_random(aid, sizeof aid);
	cf_random(cid, sizeof cid);
	must(cf_keypair_new(&conv), __LINE__);
	must(cf_keypair_new(&other), __LINE__);

	test_round_trips();
	test_threads();
	test_tampering();
	test_header_check();
	test_failed_writes();
	test_empty_rewrite();

	cf_keypair_clear(&conv);
	cf_keypair_clear(&other);
	CHECK(remove_tree(archive) == 0);
	return CHECK_DONE("test_blob");
}
