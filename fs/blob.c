/*
 * blob.c - writing and reading the immutable ciphertext files under
 * ARCHIVE/blobs/ (format in blob.h).
 *
 * The writer knows the exact plaintext size up front, so it can tell the
 * final chunk when it seals it: a chunk is final when the bytes sealed after
 * it reach plain_size.  Plaintext waits in one chunk of secure memory; each
 * sealed chunk is written at once and hashed as written, so info->hash is
 * the BLAKE2b of the exact bytes on disk.  Any write failure removes the
 * file: a half-written blob never stays behind (a crash can still leave one,
 * unreferenced, which verify and gc deal with).
 * The reader checks the header against what the keystore expects and the
 * file size against the header before unsealing the blob key, then
 * decrypts only the chunks a read covers (an empty blob's one chunk is
 * checked at open, since no read covers it); it holds no mutable state other
 * than the "already reported" flag, so FUSE threads may share it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob.h"
#include "util.h"

#define BLOB_MAGIC "COFFERB1"
#define BLOB_VERSION 1
#define CHUNK_CT (CF_CHUNK_SIZE + CF_AEAD_TAG)
/* Keeps cf_blob_file_size() and offsets far from overflow. */
#define BLOB_PLAIN_MAX ((uint64_t)1 << 50)

/* header offsets */
#define H_MAGIC 0
#define H_VERSION 8
#define H_KIND 9
#define H_RESERVED1 10
#define H_CHUNK 12
#define H_ARCHIVE 16
#define H_CONV 32
#define H_BLOB 48
#define H_KEY 64
#define H_SIZE 144
#define H_RESERVED2 152

_Static_assert(H_KEY + CF_SEALED_KEY_BYTES == H_SIZE, "header layout");
_Static_assert(H_RESERVED2 + 8 == CF_BLOB_HDR_BYTES, "header size");

struct cf_blob_writer {
	char path[PATH_MAX];
	char subdir[PATH_MAX];          /* ARCHIVE/blobs/XX */
	char blobsdir[PATH_MAX];        /* ARCHIVE/blobs */
	char archive[PATH_MAX];
	int made_blobsdir, made_subdir;
	int fd;                         /* -1 once closed */
	int failed;                     /* -errno of the first failure, reported */
	uint8_t hdr[CF_BLOB_HDR_BYTES];
	uint8_t *key;                   /* secure, CF_KEY_BYTES */
	uint8_t *plain;                 /* secure, CF_CHUNK_SIZE */
	uint8_t *ct;                    /* CHUNK_CT */
	size_t buffered;                /* plaintext bytes waiting in plain */
	uint64_t plain_size;            /* announced */
	uint64_t accepted;              /* given to cf_blob_write so far */
	uint64_t sealed;                /* plaintext bytes already sealed */
	uint64_t index;                 /* next chunk index */
	uint64_t file_size;
	struct cf_hash_state hs;
	uint8_t id[CF_ID_BYTES];
	uint8_t kind;
};

struct cf_blob_reader {
	char path[PATH_MAX];
	int fd;
	uint8_t hdr[CF_BLOB_HDR_BYTES];
	uint8_t *key;                   /* secure, CF_KEY_BYTES */
	uint64_t plain_size;
	uint64_t nchunks;
	atomic_int reported;            /* a chunk failure was reported */
};

static void
put_le(uint8_t *p, uint64_t v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	int i;

	for (i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t
chunk_count(uint64_t plain_size)
{
	if (plain_size == 0)
		return 1;
	return (plain_size + CF_CHUNK_SIZE - 1) / CF_CHUNK_SIZE;
}

uint64_t
cf_blob_file_size(uint64_t plain_size)
{
	return CF_BLOB_HDR_BYTES + chunk_count(plain_size) * CF_AEAD_TAG + plain_size;
}

int
cf_blob_path(char *buf, size_t n, const char *archive_dir, const uint8_t id[CF_ID_BYTES])
{
	char hex[2 * CF_ID_BYTES + 1];

	cf_hex_encode(hex, id, CF_ID_BYTES);
	return cf_path(buf, n, "%s/blobs/%.2s/%s", archive_dir, hex, hex);
}

/*
 * mkdir dir 0700 unless it exists; *made tells whether it was created.
 * An existing entry must be a real directory, not a symbolic link.
 */
static int
make_dir(const char *dir, int *made)
{
	struct stat st;
	int rc;

	*made = 0;
	if (mkdir(dir, 0700) == 0) {
		*made = 1;
		return 0;
	}
	if (errno != EEXIST) {
		rc = -errno;
		cf_error("%s: %s", dir, strerror(-rc));
		return rc;
	}
	if (lstat(dir, &st) < 0) {
		rc = -errno;
		cf_error("%s: %s", dir, strerror(-rc));
		return rc;
	}
	if (!S_ISDIR(st.st_mode)) {
		cf_error("%s: not a directory", dir);
		return -ENOTDIR;
	}
	return 0;
}

/* Report an I/O failure once, close and remove the file. */
static int
writer_fail(struct cf_blob_writer *w, int rc, const char *what)
{
	if (w->failed)
		return w->failed;
	if (what != NULL)
		cf_error("%s: %s", w->path, what);
	else
		cf_error("%s: %s", w->path, strerror(-rc));
	if (w->fd >= 0) {
		close(w->fd);
		w->fd = -1;
	}
	if (unlink(w->path) < 0 && errno != ENOENT)
		cf_error("%s: cannot remove: %s", w->path, strerror(errno));
	w->failed = rc;
	return rc;
}

static void
writer_free(struct cf_blob_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	cf_secure_free(w->key);
	cf_secure_free(w->plain);
	free(w->ct);
	cf_wipe(w, sizeof *w);
	free(w);
}

/* Write and hash bytes of the file. */
static int
writer_emit(struct cf_blob_writer *w, const uint8_t *p, size_t n)
{
	int rc;

	rc = cf_write_all(w->fd, p, n);
	if (rc < 0)
		return writer_fail(w, rc, NULL);
	cf_hash_update(&w->hs, p, n);
	w->file_size += n;
	return 0;
}

/* Seal the buffered plaintext as the next chunk. */
static int
writer_seal(struct cf_blob_writer *w)
{
	int final = w->sealed + w->buffered == w->plain_size;
	int rc;

	rc = cf_chunk_seal(w->ct, w->plain, w->buffered, w->key, w->index, final, w->hdr,
	    sizeof w->hdr);
	cf_wipe(w->plain, w->buffered);
	if (rc < 0)
		return writer_fail(w, rc, "cannot seal a chunk");
	rc = writer_emit(w, w->ct, w->buffered + CF_AEAD_TAG);
	if (rc < 0)
		return rc;
	w->sealed += w->buffered;
	w->buffered = 0;
	w->index++;
	return 0;
}

int
cf_blob_create(struct cf_blob_writer **wp, const char *archive_dir,
    const uint8_t archive_id[CF_ID_BYTES], const uint8_t conv_id[CF_ID_BYTES],
    const uint8_t conv_pk[CF_PK_BYTES], int kind, uint64_t plain_size)
{
	struct cf_blob_writer *w;
	char hex[2 * CF_ID_BYTES + 1];
	int rc;

	*wp = NULL;
	if (kind != CF_BLOB_SEGMENT && kind != CF_BLOB_ATTACHMENT) {
		cf_error("%s: invalid blob kind %d", archive_dir, kind);
		return -EINVAL;
	}
	if (plain_size > BLOB_PLAIN_MAX) {
		cf_error("%s: blob too large", archive_dir);
		return -EFBIG;
	}
	w = calloc(1, sizeof *w);
	if (w == NULL) {
		cf_error("%s: %s", archive_dir, strerror(ENOMEM));
		return -ENOMEM;
	}
	w->fd = -1;
	w->plain_size = plain_size;
	w->kind = (uint8_t)kind;
	w->key = cf_secure_alloc(CF_KEY_BYTES);
	w->plain = cf_secure_alloc(CF_CHUNK_SIZE);
	if (w->key == NULL || w->plain == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	w->ct = malloc(CHUNK_CT);
	if (w->ct == NULL) {
		rc = -ENOMEM;
		cf_error("%s: %s", archive_dir, strerror(ENOMEM));
		goto fail;
	}
	cf_random(w->id, sizeof w->id);
	cf_random(w->key, CF_KEY_BYTES);
	cf_hex_encode(hex, w->id, sizeof w->id);
	if ((rc = cf_path(w->archive, sizeof w->archive, "%s", archive_dir)) < 0 ||
	    (rc = cf_path(w->blobsdir, sizeof w->blobsdir, "%s/blobs", archive_dir)) < 0 ||
	    (rc = cf_path(w->subdir, sizeof w->subdir, "%s/%.2s", w->blobsdir, hex)) < 0 ||
	    (rc = cf_blob_path(w->path, sizeof w->path, archive_dir, w->id)) < 0) {
		cf_error("%s: %s", archive_dir, strerror(-rc));
		goto fail;
	}

	memcpy(w->hdr + H_MAGIC, BLOB_MAGIC, 8);
	w->hdr[H_VERSION] = BLOB_VERSION;
	w->hdr[H_KIND] = (uint8_t)kind;
	put_le(w->hdr + H_CHUNK, CF_CHUNK_SIZE, 4);
	memcpy(w->hdr + H_ARCHIVE, archive_id, CF_ID_BYTES);
	memcpy(w->hdr + H_CONV, conv_id, CF_ID_BYTES);
	memcpy(w->hdr + H_BLOB, w->id, CF_ID_BYTES);
	rc = cf_seal(w->hdr + H_KEY, w->key, CF_KEY_BYTES, conv_pk);
	if (rc < 0) {
		cf_error("%s: cannot seal the blob key", w->path);
		goto fail;
	}
	put_le(w->hdr + H_SIZE, plain_size, 8);

	if ((rc = make_dir(w->blobsdir, &w->made_blobsdir)) < 0 ||
	    (rc = make_dir(w->subdir, &w->made_subdir)) < 0)
		goto fail;
	w->fd = open(w->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (w->fd < 0) {
		rc = -errno;
		cf_error("%s: %s", w->path, strerror(-rc));
		goto fail;
	}
	cf_hash_init(&w->hs);
	rc = writer_emit(w, w->hdr, sizeof w->hdr);
	if (rc < 0)
		goto fail;
	*wp = w;
	return 0;
fail:
	writer_free(w);
	return rc;
}

int
cf_blob_write(struct cf_blob_writer *w, const void *data, size_t len)
{
	const uint8_t *p = data;
	int rc;

	if (w->failed)
		return w->failed;
	if (len > w->plain_size - w->accepted) {
		cf_error("%s: more data than the announced %llu bytes", w->path,
		    (unsigned long long)w->plain_size);
		return -EINVAL;
	}
	w->accepted += len;
	while (len > 0) {
		size_t n = CF_CHUNK_SIZE - w->buffered;

		if (n > len)
			n = len;
		memcpy(w->plain + w->buffered, p, n);
		w->buffered += n;
		p += n;
		len -= n;
		if (w->buffered == CF_CHUNK_SIZE) {
			rc = writer_seal(w);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

int
cf_blob_finish(struct cf_blob_writer *w, struct cf_blob_info *info)
{
	int rc;

	if (w->failed) {
		rc = w->failed;
		goto out;
	}
	if (w->accepted != w->plain_size) {
		char msg[96];

		snprintf(msg, sizeof msg, "only %llu of the announced %llu bytes were written",
		    (unsigned long long)w->accepted, (unsigned long long)w->plain_size);
		rc = writer_fail(w, -EINVAL, msg);
		goto out;
	}
	/* The final chunk is still to seal unless the size is a non-zero
	 * multiple of the chunk size (then it went out with the last write). */
	if (w->buffered > 0 || w->index == 0) {
		rc = writer_seal(w);
		if (rc < 0)
			goto out;
	}
	if (w->file_size != cf_blob_file_size(w->plain_size)) {
		rc = writer_fail(w, -EIO, "internal error: unexpected blob size");
		goto out;
	}
	if (fsync(w->fd) < 0) {
		rc = writer_fail(w, -errno, NULL);
		goto out;
	}
	if (close(w->fd) < 0) {
		w->fd = -1;
		rc = writer_fail(w, -errno, NULL);
		goto out;
	}
	w->fd = -1;
	/* Make the new name (and any new folder) durable before the keystore
	 * may reference it. */
	if ((rc = cf_fsync_dir(w->subdir)) < 0 ||
	    (w->made_subdir && (rc = cf_fsync_dir(w->blobsdir)) < 0) ||
	    (w->made_blobsdir && (rc = cf_fsync_dir(w->archive)) < 0)) {
		rc = writer_fail(w, rc, "removed: its folder could not be synced");
		goto out;
	}
	memset(info, 0, sizeof *info);
	memcpy(info->id, w->id, CF_ID_BYTES);
	info->kind = w->kind;
	info->plain_size = w->plain_size;
	info->file_size = w->file_size;
	cf_hash_final(&w->hs, info->hash);
	cf_hash(info->head_hash, w->hdr, sizeof w->hdr);
	rc = 0;
out:
	writer_free(w);
	return rc;
}

void
cf_blob_abort(struct cf_blob_writer *w)
{
	if (w == NULL)
		return;
	if (!w->failed) {
		if (w->fd >= 0) {
			close(w->fd);
			w->fd = -1;
		}
		if (unlink(w->path) < 0 && errno != ENOENT)
			cf_error("%s: cannot remove: %s", w->path, strerror(errno));
	}
	writer_free(w);
}

/* Report a header mismatch. */
static int
bad_header(const struct cf_blob_reader *r, const char *what)
{
	cf_error("%s: blob header does not match (%s)", r->path, what);
	return -EBADMSG;
}

static int
reader_check_header(const struct cf_blob_reader *r, const uint8_t archive_id[CF_ID_BYTES],
    const uint8_t conv_id[CF_ID_BYTES], const uint8_t blob_id[CF_ID_BYTES], int kind)
{
	static const uint8_t zero[8];
	const uint8_t *h = r->hdr;

	if (memcmp(h + H_MAGIC, BLOB_MAGIC, 8) != 0)
		return bad_header(r, "not a Coffer blob");
	if (h[H_VERSION] != BLOB_VERSION)
		return bad_header(r, "version");
	if (h[H_KIND] != kind)
		return bad_header(r, "kind");
	if (get_le(h + H_CHUNK, 4) != CF_CHUNK_SIZE)
		return bad_header(r, "chunk size");
	if (memcmp(h + H_RESERVED1, zero, 2) != 0 || memcmp(h + H_RESERVED2, zero, 8) != 0)
		return bad_header(r, "reserved bytes");
	if (cf_ct_compare(h + H_ARCHIVE, archive_id, CF_ID_BYTES) != 0)
		return bad_header(r, "archive id");
	if (cf_ct_compare(h + H_CONV, conv_id, CF_ID_BYTES) != 0)
		return bad_header(r, "conversation id");
	if (cf_ct_compare(h + H_BLOB, blob_id, CF_ID_BYTES) != 0)
		return bad_header(r, "blob id");
	if (get_le(h + H_SIZE, 8) > BLOB_PLAIN_MAX)
		return bad_header(r, "size");
	return 0;
}

static int reader_chunk(struct cf_blob_reader *r, uint64_t i, uint8_t *out, uint8_t *ct,
    size_t plen);

int
cf_blob_open(struct cf_blob_reader **rp, const char *archive_dir,
    const uint8_t archive_id[CF_ID_BYTES], const uint8_t conv_id[CF_ID_BYTES],
    const uint8_t blob_id[CF_ID_BYTES], int kind, const struct cf_keypair *conv)
{
	return cf_blob_open_keys(rp, archive_dir, archive_id, conv_id, blob_id, kind, conv,
	    conv != NULL ? 1 : 0);
}

int
cf_blob_open_keys(struct cf_blob_reader **rp, const char *archive_dir,
    const uint8_t archive_id[CF_ID_BYTES], const uint8_t conv_id[CF_ID_BYTES],
    const uint8_t blob_id[CF_ID_BYTES], int kind, const struct cf_keypair *keys, size_t nkeys)
{
	struct cf_blob_reader *r;
	struct stat st;
	ssize_t got;
	size_t i;
	int rc;

	*rp = NULL;
	r = calloc(1, sizeof *r);
	if (r == NULL) {
		cf_error("%s: %s", archive_dir, strerror(ENOMEM));
		return -ENOMEM;
	}
	r->fd = -1;
	atomic_init(&r->reported, 0);
	rc = cf_blob_path(r->path, sizeof r->path, archive_dir, blob_id);
	if (rc < 0) {
		cf_error("%s: %s", archive_dir, strerror(-rc));
		goto fail;
	}
	r->fd = open(r->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (r->fd < 0) {
		rc = -errno;
		cf_error("%s: %s", r->path, strerror(-rc));
		goto fail;
	}
	if (fstat(r->fd, &st) < 0) {
		rc = -errno;
		cf_error("%s: %s", r->path, strerror(-rc));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EBADMSG;
		cf_error("%s: not a regular file", r->path);
		goto fail;
	}
	got = cf_pread_all(r->fd, r->hdr, sizeof r->hdr, 0);
	if (got < 0) {
		rc = (int)got;
		cf_error("%s: %s", r->path, strerror(-rc));
		goto fail;
	}
	if (got != (ssize_t)sizeof r->hdr) {
		rc = -EBADMSG;
		cf_error("%s: truncated or extended blob", r->path);
		goto fail;
	}
	rc = reader_check_header(r, archive_id, conv_id, blob_id, kind);
	if (rc < 0)
		goto fail;
	r->plain_size = get_le(r->hdr + H_SIZE, 8);
	r->nchunks = chunk_count(r->plain_size);
	if ((uint64_t)st.st_size != cf_blob_file_size(r->plain_size)) {
		rc = -EBADMSG;
		cf_error("%s: truncated or extended blob", r->path);
		goto fail;
	}
	if (nkeys == 0 || keys == NULL || keys[0].sk == NULL) {
		rc = -EACCES;
		cf_error("%s: no conversation secret key to open the blob", r->path);
		goto fail;
	}
	r->key = cf_secure_alloc(CF_KEY_BYTES);
	if (r->key == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	/* Each generation of the conversation's key in turn (a revocation
	 * rotates it; blobs keep the one they were sealed to). */
	rc = -EBADMSG;
	for (i = 0; i < nkeys && rc < 0; i++)
		if (keys[i].sk != NULL)
			rc = cf_unseal(r->key, r->hdr + H_KEY, CF_SEALED_KEY_BYTES, &keys[i]);
	if (rc < 0) {
		rc = -EBADMSG;
		cf_error("%s: blob key does not open", r->path);
		goto fail;
	}
	/* No read ever decrypts a chunk of an empty blob, so its one (empty,
	 * final) chunk is checked now: it also authenticates the header, or a
	 * blob rewritten to size 0 and cut to match would open as empty. */
	if (r->plain_size == 0) {
		uint8_t ct[CF_AEAD_TAG], none[1];

		rc = reader_chunk(r, 0, none, ct, 0);
		if (rc < 0)
			goto fail;
	}
	*rp = r;
	return 0;
fail:
	cf_blob_close(r);
	return rc;
}

uint64_t
cf_blob_plain_size(const struct cf_blob_reader *r)
{
	return r->plain_size;
}

/* Report a bad chunk once per reader. */
static int
chunk_failed(struct cf_blob_reader *r, uint64_t index, const char *why)
{
	if (atomic_exchange(&r->reported, 1) == 0)
		cf_error("%s: chunk %llu %s", r->path, (unsigned long long)index, why);
	return -EBADMSG;
}

/*
 * Decrypt chunk i into out (room for its plaintext), using ct
 * (CHUNK_CT bytes) for the ciphertext.
 */
static int
reader_chunk(struct cf_blob_reader *r, uint64_t i, uint8_t *out, uint8_t *ct, size_t plen)
{
	off_t off = (off_t)(CF_BLOB_HDR_BYTES + i * (uint64_t)CHUNK_CT);
	ssize_t got;
	int rc;

	got = cf_pread_all(r->fd, ct, plen + CF_AEAD_TAG, off);
	if (got < 0) {
		rc = (int)got;
		if (atomic_exchange(&r->reported, 1) == 0)
			cf_error("%s: %s", r->path, strerror(-rc));
		return rc;
	}
	if ((size_t)got != plen + CF_AEAD_TAG)
		return chunk_failed(r, i, "is truncated");
	rc = cf_chunk_open(out, ct, plen + CF_AEAD_TAG, r->key, i, i + 1 == r->nchunks,
	    r->hdr, sizeof r->hdr);
	if (rc < 0) {
		cf_wipe(out, plen);
		return chunk_failed(r, i, "fails authentication");
	}
	return 0;
}

ssize_t
cf_blob_pread(struct cf_blob_reader *r, void *buf, size_t len, uint64_t off)
{
	uint8_t *dst = buf, *tmp = NULL, *ct, *plain;
	uint64_t i, first, last, end;
	ssize_t rc;

	if (off >= r->plain_size || len == 0)
		return 0;
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	end = r->plain_size - off < len ? r->plain_size : off + len;
	first = off / CF_CHUNK_SIZE;
	last = (end - 1) / CF_CHUNK_SIZE;
	/* ciphertext buffer, then a plaintext buffer for partly read chunks */
	tmp = malloc(CHUNK_CT + CF_CHUNK_SIZE);
	if (tmp == NULL) {
		cf_error("%s: %s", r->path, strerror(ENOMEM));
		return -ENOMEM;
	}
	ct = tmp;
	plain = tmp + CHUNK_CT;
	for (i = first; i <= last; i++) {
		uint64_t cstart = i * CF_CHUNK_SIZE;
		size_t plen = (size_t)(i + 1 == r->nchunks ? r->plain_size - cstart : CF_CHUNK_SIZE);
		uint64_t from = off > cstart ? off : cstart;
		uint64_t to = end < cstart + plen ? end : cstart + plen;

		if (from == cstart && to == cstart + plen) {
			/* whole chunk wanted: decrypt straight into the caller's buffer */
			rc = reader_chunk(r, i, dst + (from - off), ct, plen);
		} else {
			rc = reader_chunk(r, i, plain, ct, plen);
			if (rc == 0)
				memcpy(dst + (from - off), plain + (from - cstart), (size_t)(to - from));
		}
		if (rc < 0) {
			cf_wipe(buf, (size_t)(end - off));
			goto out;
		}
	}
	rc = (ssize_t)(end - off);
out:
	cf_wipe(plain, CF_CHUNK_SIZE);
	free(tmp);
	return rc;
}

int
cf_blob_read_all(struct cf_blob_reader *r, uint8_t **out, size_t *len)
{
	uint8_t *buf;
	ssize_t got;

	*out = NULL;
	*len = 0;
	if (r->plain_size >= SSIZE_MAX) {
		cf_error("%s: %s", r->path, strerror(EFBIG));
		return -EFBIG;
	}
	buf = malloc((size_t)r->plain_size + 1);
	if (buf == NULL) {
		cf_error("%s: %s", r->path, strerror(ENOMEM));
		return -ENOMEM;
	}
	got = cf_blob_pread(r, buf, (size_t)r->plain_size, 0);
	if (got < 0 || (uint64_t)got != r->plain_size) {
		cf_wipe(buf, (size_t)r->plain_size + 1);
		free(buf);
		return got < 0 ? (int)got : -EIO;
	}
	buf[r->plain_size] = '\0';
	*out = buf;
	*len = (size_t)r->plain_size;
	return 0;
}

void
cf_blob_close(struct cf_blob_reader *r)
{
	if (r == NULL)
		return;
	if (r->fd >= 0)
		close(r->fd);
	cf_secure_free(r->key);
	free(r);
}

/* Stream an open file through BLAKE2b-256 from offset 0. */
static int
hash_fd(int fd, const char *path, uint64_t *size, uint8_t hash[CF_HASH_BYTES],
    uint8_t *head_hash)
{
	struct cf_hash_state hs;
	uint8_t *buf;
	uint64_t total = 0;
	ssize_t n;

	buf = malloc(CHUNK_CT);
	if (buf == NULL) {
		cf_error("%s: %s", path, strerror(ENOMEM));
		return -ENOMEM;
	}
	cf_hash_init(&hs);
	if (head_hash != NULL)
		memset(head_hash, 0, CF_HASH_BYTES);
	while ((n = cf_pread_all(fd, buf, CHUNK_CT, (off_t)total)) > 0) {
		if (total == 0 && head_hash != NULL && (size_t)n >= CF_BLOB_HDR_BYTES)
			cf_hash(head_hash, buf, CF_BLOB_HDR_BYTES);
		cf_hash_update(&hs, buf, (size_t)n);
		total += (uint64_t)n;
	}
	free(buf);
	if (n < 0) {
		cf_error("%s: %s", path, strerror((int)-n));
		return (int)n;
	}
	cf_hash_final(&hs, hash);
	*size = total;
	return 0;
}

int
cf_blob_check_file(const char *path, uint64_t *size, uint8_t hash[CF_HASH_BYTES],
    uint8_t *head_hash)
{
	struct stat st;
	int fd, rc;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		if (rc != -ENOENT)
			cf_error("%s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		cf_error("%s: %s", path, strerror(-rc));
	} else if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		cf_error("%s: not a regular file", path);
	} else {
		rc = hash_fd(fd, path, size, hash, head_hash);
	}
	close(fd);
	return rc;
}

int
cf_blob_verify(struct cf_blob_reader *r, uint64_t size, const uint8_t hash[CF_HASH_BYTES])
{
	uint8_t got[CF_HASH_BYTES];
	uint64_t n;
	int rc;

	if ((rc = hash_fd(r->fd, r->path, &n, got, NULL)) != 0)
		return rc;
	if (n != size || cf_ct_compare(got, hash, CF_HASH_BYTES) != 0) {
		cf_error("%s: blob does not match its keystore record (replaced?)", r->path);
		return -EBADMSG;
	}
	return 0;
}

int
cf_blob_verify_header(struct cf_blob_reader *r, uint64_t size,
    const uint8_t head_hash[CF_HASH_BYTES])
{
	uint8_t got[CF_HASH_BYTES];
	struct stat st;

	if (fstat(r->fd, &st) != 0) {
		int e = errno;

		cf_error("%s: %s", r->path, strerror(e));
		return -e;
	}
	cf_hash(got, r->hdr, sizeof r->hdr);
	if ((uint64_t)st.st_size != size || cf_ct_compare(got, head_hash, CF_HASH_BYTES) != 0) {
		cf_error("%s: blob does not match its keystore record (replaced?)", r->path);
		return -EBADMSG;
	}
	return 0;
}
