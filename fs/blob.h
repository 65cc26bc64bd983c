/*
 * blob.h - the immutable ciphertext files of the store.
 *
 * Every file under ARCHIVE/blobs/ is a blob: a fixed header followed by
 * chunks of at most CF_CHUNK_SIZE plaintext bytes, each sealed on its own
 * (crypto.h: cf_chunk_seal) so that any offset can be read by decrypting
 * one or two chunks.  Two kinds share the format: a segment (the messages
 * of one conversation from one import batch) and an attachment.
 *
 * File name: blobs/XX/ID where ID is the blob id as 32 hex digits and XX its
 * first two.  Ids are random; a name reveals nothing.
 *
 * Header (CF_BLOB_HDR_BYTES = 160 bytes, all integers little-endian):
 *   0   magic "COFFERB1"             8
 *   8   version (1)                  1
 *   9   kind (1 segment, 2 attach.)  1
 *   10  reserved, zero               2
 *   12  chunk size (65536)           4
 *   16  archive id                  16
 *   32  conversation id             16
 *   48  blob id                     16
 *   64  blob key sealed to the conversation public key   80
 *   144 plaintext size               8
 *   152 reserved, zero               8
 * Chunk i (0-based) starts at 160 + i * (chunk size + 16).  The associated
 * data of every chunk is the whole 160-byte header, so a changed header
 * fails every chunk.  A blob of plaintext size 0 has one empty final chunk.
 *
 * Invariant: a blob file is written once, fsync'd, and never modified; the
 * keystore references it only after that.
 */
#ifndef COFFER_BLOB_H
#define COFFER_BLOB_H

#include <stdint.h>
#include <sys/types.h>

#include "crypto.h"

#define CF_BLOB_HDR_BYTES 160
#define CF_CHUNK_SIZE 65536
#define CF_BLOB_SEGMENT 1
#define CF_BLOB_ATTACHMENT 2

/* What the keystore records of a finished blob. */
struct cf_blob_info {
	uint8_t id[CF_ID_BYTES];
	uint8_t kind;
	uint64_t plain_size;
	uint64_t file_size;
	uint8_t hash[CF_HASH_BYTES];    /* BLAKE2b-256 of the whole file */
	uint8_t head_hash[CF_HASH_BYTES]; /* BLAKE2b-256 of the 160-byte header */
};

/* File size of a blob with this much plaintext. */
uint64_t cf_blob_file_size(uint64_t plain_size);

/* "ARCHIVE/blobs/XX/ID".  Returns 0 or -ENAMETOOLONG. */
int cf_blob_path(char *buf, size_t n, const char *archive_dir, const uint8_t id[CF_ID_BYTES]);

struct cf_blob_writer;

/*
 * Start a new blob with a fresh random id and key; the key is sealed to
 * conv_pk, so the writer (ingest) cannot read the blob back.  The file is
 * created O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600, creating blobs/XX/ (0700)
 * as needed.  plain_size must be exact: cf_blob_finish fails otherwise.
 * Returns 0 or -errno (reported).
 */
int cf_blob_create(struct cf_blob_writer **w, const char *archive_dir,
    const uint8_t archive_id[CF_ID_BYTES], const uint8_t conv_id[CF_ID_BYTES],
    const uint8_t conv_pk[CF_PK_BYTES], int kind, uint64_t plain_size);
/* Append plaintext.  Returns 0 or -errno (reported: ENOSPC names the file). */
int cf_blob_write(struct cf_blob_writer *w, const void *data, size_t len);
/* Seal the last chunk, fsync the file and its folder, fill *info, free w.
 * On failure the file is removed.  Returns 0 or -errno (reported). */
int cf_blob_finish(struct cf_blob_writer *w, struct cf_blob_info *info);
/* Give up: close, unlink the file, free.  Accepts NULL. */
void cf_blob_abort(struct cf_blob_writer *w);

struct cf_blob_reader;

/*
 * Open a blob for reading: checks magic, version, kind, archive id,
 * conversation id, blob id and file size against what the caller expects,
 * then unseals the blob key with conv (which must have sk); a blob of
 * plaintext size 0 also has its one empty chunk authenticated here, since
 * no read will.  Any mismatch is -EBADMSG, reported with the file name.
 * Returns 0 or -errno.
 */
int cf_blob_open(struct cf_blob_reader **r, const char *archive_dir,
    const uint8_t archive_id[CF_ID_BYTES], const uint8_t conv_id[CF_ID_BYTES],
    const uint8_t blob_id[CF_ID_BYTES], int kind, const struct cf_keypair *conv);
/* The same with several candidate keys (the generations of a conversation's
 * key pair, see archive.c's key rotation): the blob key is unsealed with
 * the first of keys[0..nkeys) that opens it. */
int cf_blob_open_keys(struct cf_blob_reader **r, const char *archive_dir,
    const uint8_t archive_id[CF_ID_BYTES], const uint8_t conv_id[CF_ID_BYTES],
    const uint8_t blob_id[CF_ID_BYTES], int kind, const struct cf_keypair *keys, size_t nkeys);
uint64_t cf_blob_plain_size(const struct cf_blob_reader *r);
/* Read plaintext [off, off+len) (clipped at the end).  Returns bytes read,
 * or -EBADMSG when a chunk fails authentication (reported once per reader),
 * or -errno.  Safe to call from several threads on one reader. */
ssize_t cf_blob_pread(struct cf_blob_reader *r, void *buf, size_t len, uint64_t off);
/* Decrypt the whole blob into malloc'd memory (NUL-terminated, not
 * counted).  Returns 0 or -errno. */
int cf_blob_read_all(struct cf_blob_reader *r, uint8_t **out, size_t *len);
/*
 * Check that the opened file is the one the keystore recorded: its size and
 * BLAKE2b-256 hash.  Anyone holding a conversation's public key can write a
 * blob that opens, so a reader that must not be fooled by a replaced file
 * calls this once after cf_blob_open; later reads use the same descriptor,
 * so the file cannot be swapped in between.  Returns 0, -EBADMSG
 * (reported) or -errno.
 */
int cf_blob_verify(struct cf_blob_reader *r, uint64_t size, const uint8_t hash[CF_HASH_BYTES]);
/*
 * The same guarantee without reading the file: check that the opened
 * file's size is size and that its 160-byte header hashes to head_hash
 * (cf_blob_info.head_hash, kept in the keystore record).  The header holds
 * the blob key sealed at creation and is the associated data of every
 * chunk, so a file with this header whose chunks all authenticate is the
 * file that was written: a forger without the blob key cannot seal a chunk
 * under it, and a new key means a new header.  Unlike cf_blob_verify, a
 * chunk damaged later is found when it is read (cf_blob_pread: -EBADMSG),
 * not at open.  Returns 0, -EBADMSG (reported) or -errno.
 */
int cf_blob_verify_header(struct cf_blob_reader *r, uint64_t size,
    const uint8_t head_hash[CF_HASH_BYTES]);
/* Close and wipe the key.  Accepts NULL. */
void cf_blob_close(struct cf_blob_reader *r);

/* Hash and size of a blob file without any key (for verify), and, when
 * head_hash is not NULL, the hash of its header (all zero for a file
 * shorter than a header).  Returns 0, -ENOENT, or -errno (reported). */
int cf_blob_check_file(const char *path, uint64_t *size, uint8_t hash[CF_HASH_BYTES],
    uint8_t *head_hash);

#endif
