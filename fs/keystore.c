/*
 * keystore.c - the LMDB keystore: ARCHIVE/keystore/{data,lock}.mdb.
 *
 * One LMDB environment with nine named sub-databases (listed in
 * keystore.h).  This file alone turns the structs of keystore.h into bytes
 * and back; nothing is ever stored by copying a struct, so neither padding
 * nor the host's byte order reaches the file.  Every value starts with a
 * one-byte layout version (KS_LAYOUT, 1); all integers are little-endian
 * except the sequence number inside convblobs keys, which is big-endian so
 * that LMDB's byte-wise key order walks a conversation's segments in
 * order.  Signed times are stored as two's-complement u64.  Strings are a
 * u16 length followed by that many bytes (no NUL, none inside); sealed
 * blobs are a u32 length followed by the bytes.  Decoders insist on the
 * exact total size, on lengths within the struct's capacity, on enum-like
 * bytes being in range and on the value agreeing with its key; anything
 * else is -EBADMSG, reported as "ARCHIVE/keystore: bad <db> record".
 *
 * Keys:
 *   meta        "archive" (7 bytes, no NUL)
 *   principals  name bytes (1..64, no NUL)
 *   convs       conv id (16)
 *   wraps       conv id (16) || principal name bytes (no NUL)
 *   grants      principal name bytes || 0x00 || conv id (16, all zero: --all)
 *   blobs       blob id (16)
 *   convblobs   conv id (16) || seq (u32 big-endian)
 *   chatmap     keyed tag (32)
 *   dedup       keyed tag (32)
 *
 * Values (offset, size, field); n, g, r are string lengths, s sealed sizes:
 *
 *   meta (237 bytes)
 *     0    1   layout version (1)
 *     1    4   format version (u32, CF_FORMAT_VERSION)
 *     5   16   archive id
 *     21  32   recovery public key
 *     53  80   ingest key sealed to the recovery public key
 *     133  8   created (i64, Unix seconds)
 *     141 32   archive signing public key (Ed25519)
 *     173 64   signature by the signing key (message: archive.c meta_msg)
 *
 *   principals (407 + n bytes)
 *     0    1   layout version (1)
 *     1    2   name length n (u16, 1..64; equals the key)
 *     3    n   name
 *     3+n  1   role (1 admin, 2 reviewer, 3 ingest)
 *     4+n  1   disabled (0 or 1)
 *     5+n  1   has ingest key (0 or 1)
 *     6+n 32   public key
 *     38+n 8   Argon2id opslimit (u64)
 *     46+n 8   Argon2id memlimit (u64)
 *     54+n 16  Argon2id salt
 *     70+n 72  passphrase-wrapped secret key (nonce || ciphertext || tag)
 *     142+n 80 ingest key sealed to the public key (zero when absent)
 *     222+n 8  created (i64)
 *     230+n 1  has signing key (0 or 1; admins)
 *     231+n 112 archive signing secret key sealed to the public key (zero
 *              when absent)
 *     343+n 64 archive signature (message: archive.c principal_msg)
 *
 *   convs (129 + s bytes)
 *     0    1   layout version (1)
 *     1   16   conversation id (equals the key)
 *     17  32   conversation public key
 *     49   8   created (i64)
 *     57   4   next segment seq (u32)
 *     61   4   sealed metadata length s (u32, <= 4096)
 *     65   s   sealed metadata
 *     65+s 32   chat tag (the chatmap key that names this conversation)
 *     97+s 32   MAC keyed with the ingest key (message: archive.c conv_mac)
 *
 *   wraps (81 bytes)
 *     0    1   layout version (1)
 *     1   80   conversation secret key sealed to the principal's public key
 *
 *   grants (111 + p + g + r bytes)
 *     0      1  layout version (1)
 *     1      2  principal length p (u16, 1..64; equals the key)
 *     3      p  principal
 *     3+p   16  conversation id (all zero: every conversation; equals the key)
 *     19+p   8  not before (i64, 0 = no bound)
 *     27+p   8  not after (i64, 0 = no bound)
 *     35+p   8  created (i64)
 *     43+p   2  granted-by length g (u16, <= 64)
 *     45+p   g  granted by
 *     45+p+g 2  reason length r (u16, <= 256)
 *     47+p+g r  reason
 *     47+p+g+r 64 archive signature (message: archive.c grant_msg)
 * *
 *   blobs (98 + s bytes)
 *     0    1   layout version (1)
 *     1   16   blob id (equals the key)
 *     17  16   conversation id
 *     33   1   kind (1 segment, 2 attachment)
 *     34   4   seq (u32; segments only, else 0)
 *     38   8   file size (u64)
 *     46   8   plaintext size (u64)
 *     54  32   BLAKE2b-256 of the whole file
 *     86   8   created (i64)
 *     94   4   sealed summary length s (u32, <= 1024)
 *     98   s   sealed summary
 *
 *   convblobs, chatmap, dedup (17 bytes)
 *     0    1   layout version (1)
 *     1   16   blob id (convblobs) or conversation id (chatmap, dedup)
 *
 * Errors from LMDB are reported with the keystore's path and LMDB's text
 * and mapped to -errno (ks_errno).  Transactions are plain MDB_txn; the
 * environment is opened MDB_NOTLS so that read transactions may be used
 * from any thread (FUSE workers), one thread at a time per transaction.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <lmdb.h>

#include "blob.h"
#include "keystore.h"
#include "util.h"

#define KS_LAYOUT 1
#define KS_MAXDBS 16
#define KS_MAXREADERS 126
/* Virtual size only: data.mdb grows as pages are written. */
#if SIZE_MAX > 0xffffffffu
#define KS_MAPSIZE ((size_t)16 << 30)
#else
#define KS_MAPSIZE ((size_t)1 << 30)
#endif
#define KS_META_KEY "archive"

/* Value sizes (see the table above). */
#define KS_META_SIZE 237
#define KS_PRINCIPAL_FIXED 407
#define KS_CONV_FIXED 129
#define KS_WRAP_SIZE (1 + CF_SEALED_KEY_BYTES)
#define KS_GRANT_FIXED 111
#define KS_BLOB_FIXED 98
#define KS_ID_VAL_SIZE (1 + CF_ID_BYTES)
/* Largest value any encoder writes (a conversation with full metadata). */
#define KS_VAL_MAX (KS_CONV_FIXED + CF_SEALED_META_MAX)
/* Largest key: a grant. */
#define KS_KEY_MAX (CF_NAME_MAX + 1 + CF_ID_BYTES)

enum ks_db {
	KS_META,
	KS_PRINCIPALS,
	KS_CONVS,
	KS_WRAPS,
	KS_GRANTS,
	KS_BLOBS,
	KS_CONVBLOBS,
	KS_CHATMAP,
	KS_DEDUP,
	KS_NDB
};

static const char *const ks_db_names[KS_NDB] = {
	"meta", "principals", "convs", "wraps", "grants", "blobs", "convblobs",
	"chatmap", "dedup"
};

struct cf_ks {
	MDB_env *env;
	int rdonly;
	MDB_dbi dbi[KS_NDB];            /* valid for the env's lifetime */
	char path[PATH_MAX];            /* ARCHIVE/keystore, for messages */
};

struct cf_txn {
	MDB_txn *txn;
	struct cf_ks *ks;
};

/* ---- errors ---------------------------------------------------------- */

/* LMDB's own codes to errno; positive values already are errno. */
static int
ks_errno(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return 0;
	case MDB_NOTFOUND:
		return -ENOENT;
	case MDB_KEYEXIST:
		return -EEXIST;
	case MDB_MAP_FULL:
		return -ENOSPC;
	case MDB_CORRUPTED:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
	case MDB_PAGE_NOTFOUND:
	case MDB_INCOMPATIBLE:
		return -EBADMSG;
	case MDB_READERS_FULL:
	case MDB_MAP_RESIZED:
		return -EAGAIN;
	case MDB_TXN_FULL:
	case MDB_CURSOR_FULL:
	case MDB_PAGE_FULL:
		return -ENOMEM;
	case MDB_BAD_VALSIZE:
		return -EINVAL;
	default:
		return rc > 0 ? -rc : -EIO;
	}
}

/* Report an LMDB failure once, naming the keystore, and map it. */
static int
ks_fail(const struct cf_ks *ks, int rc)
{
	cf_error("%s: %s", ks->path, mdb_strerror(rc));
	return ks_errno(rc);
}

static int
ks_bad(const struct cf_ks *ks, enum ks_db db)
{
	cf_error("%s: bad %s record", ks->path, ks_db_names[db]);
	return -EBADMSG;
}

/*
 * A principal name as a key: 1..CF_NAME_MAX bytes accepted by
 * cf_name_valid, or CF_RECOVERY_NAME where allow_recovery says so.  The
 * name may sit in a fixed array that is not NUL-terminated, hence strnlen.
 */
static int
ks_name_check(const struct cf_ks *ks, const char *name, int allow_recovery)
{
	size_t len;

	if (name == NULL) {
		cf_error("%s: missing principal name", ks->path);
		return -EINVAL;
	}
	len = strnlen(name, CF_NAME_MAX + 1);
	if (len <= CF_NAME_MAX) {
		if (allow_recovery && strcmp(name, CF_RECOVERY_NAME) == 0)
			return 0;
		if (cf_name_valid(name) == 0)
			return 0;
	}
	cf_error("%s: invalid principal name \"%.*s\"", ks->path,
	    (int)(len > CF_NAME_MAX ? CF_NAME_MAX : len), name);
	return -EINVAL;
}

/* ---- byte encoding --------------------------------------------------- */

struct ks_w {
	uint8_t *p;
	size_t off;
	size_t cap;
	int err;                        /* ran past cap (a bug, not data) */
};

struct ks_r {
	const uint8_t *p;
	size_t n;
	size_t off;
	int bad;                        /* short, overlong or out of range */
};

static void
w_bytes(struct ks_w *w, const void *b, size_t n)
{
	if (w->err || n > w->cap - w->off) {
		w->err = 1;
		return;
	}
	if (n > 0)
		memcpy(w->p + w->off, b, n);
	w->off += n;
}

static void
w_u8(struct ks_w *w, uint8_t v)
{
	w_bytes(w, &v, 1);
}

static void
w_u16(struct ks_w *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	w_bytes(w, b, sizeof b);
}

static void
w_u32(struct ks_w *w, uint32_t v)
{
	uint8_t b[4];
	int i;

	for (i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	w_bytes(w, b, sizeof b);
}

static void
w_u64(struct ks_w *w, uint64_t v)
{
	uint8_t b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	w_bytes(w, b, sizeof b);
}

static void
w_i64(struct ks_w *w, int64_t v)
{
	w_u64(w, (uint64_t)v);
}

/* The caller has checked that len fits the field. */
static void
w_str(struct ks_w *w, const char *s, size_t len)
{
	w_u16(w, (uint16_t)len);
	w_bytes(w, s, len);
}

static void
r_bytes(struct ks_r *r, void *out, size_t n)
{
	if (r->bad || n > r->n - r->off) {
		r->bad = 1;
		memset(out, 0, n);
		return;
	}
	if (n > 0)
		memcpy(out, r->p + r->off, n);
	r->off += n;
}

static uint8_t
r_u8(struct ks_r *r)
{
	uint8_t v;

	r_bytes(r, &v, 1);
	return v;
}

static uint16_t
r_u16(struct ks_r *r)
{
	uint8_t b[2];

	r_bytes(r, b, sizeof b);
	return (uint16_t)(b[0] | (b[1] << 8));
}

static uint32_t
r_u32(struct ks_r *r)
{
	uint8_t b[4];
	uint32_t v = 0;
	int i;

	r_bytes(r, b, sizeof b);
	for (i = 3; i >= 0; i--)
		v = (v << 8) | b[i];
	return v;
}

static uint64_t
r_u64(struct ks_r *r)
{
	uint8_t b[8];
	uint64_t v = 0;
	int i;

	r_bytes(r, b, sizeof b);
	for (i = 7; i >= 0; i--)
		v = (v << 8) | b[i];
	return v;
}

/* Two's complement back to signed without implementation-defined casts. */
static int64_t
r_i64(struct ks_r *r)
{
	uint64_t v = r_u64(r);

	if (v <= (uint64_t)INT64_MAX)
		return (int64_t)v;
	return -(int64_t)(UINT64_MAX - v) - 1;
}

/* A u16-length string into out[max + 1]; no NUL allowed inside. */
static void
r_str(struct ks_r *r, char *out, size_t max)
{
	size_t len = r_u16(r);

	if (r->bad || len > max) {
		r->bad = 1;
		out[0] = '\0';
		return;
	}
	r_bytes(r, out, len);
	out[len] = '\0';
	if (memchr(out, '\0', len) != NULL)
		r->bad = 1;
}

/* Start reading a value: checks the layout version byte. */
static void
r_start(struct ks_r *r, const MDB_val *v)
{
	r->p = v->mv_data;
	r->n = v->mv_size;
	r->off = 0;
	r->bad = 0;
	if (r_u8(r) != KS_LAYOUT)
		r->bad = 1;
}

/* Every byte consumed, nothing past the end. */
static int
r_ok(const struct ks_r *r)
{
	return !r->bad && r->off == r->n;
}

static void
be32_put(uint8_t b[4], uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

static uint32_t
be32_get(const uint8_t b[4])
{
	return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

/* ---- low-level access ------------------------------------------------ */

static int
ks_get(struct cf_txn *t, enum ks_db db, const void *k, size_t klen, MDB_val *v)
{
	MDB_val key = { klen, (void *)k };
	int rc;

	rc = mdb_get(t->txn, t->ks->dbi[db], &key, v);
	if (rc == MDB_NOTFOUND)
		return -ENOENT;
	if (rc != 0)
		return ks_fail(t->ks, rc);
	return 0;
}

static int
ks_put(struct cf_txn *t, enum ks_db db, const void *k, size_t klen, const struct ks_w *w)
{
	MDB_val key = { klen, (void *)k };
	MDB_val val = { w->off, w->p };
	int rc;

	if (w->err) {
		cf_error("%s: %s record too large", t->ks->path, ks_db_names[db]);
		return -EINVAL;
	}
	rc = mdb_put(t->txn, t->ks->dbi[db], &key, &val, 0);
	if (rc != 0)
		return ks_fail(t->ks, rc);
	return 0;
}

/* Delete; -ENOENT (not reported) when absent. */
static int
ks_del(struct cf_txn *t, enum ks_db db, const void *k, size_t klen)
{
	MDB_val key = { klen, (void *)k };
	int rc;

	rc = mdb_del(t->txn, t->ks->dbi[db], &key, NULL);
	if (rc == MDB_NOTFOUND)
		return -ENOENT;
	if (rc != 0)
		return ks_fail(t->ks, rc);
	return 0;
}

/* A 1 + 16 byte value holding one id. */
static int
ks_id_decode(struct cf_txn *t, enum ks_db db, const MDB_val *v, uint8_t id[CF_ID_BYTES])
{
	struct ks_r r;

	r_start(&r, v);
	r_bytes(&r, id, CF_ID_BYTES);
	if (!r_ok(&r))
		return ks_bad(t->ks, db);
	return 0;
}

static int
ks_id_put(struct cf_txn *t, enum ks_db db, const void *k, size_t klen,
    const uint8_t id[CF_ID_BYTES])
{
	uint8_t buf[KS_ID_VAL_SIZE];
	struct ks_w w = { buf, 0, sizeof buf, 0 };

	w_u8(&w, KS_LAYOUT);
	w_bytes(&w, id, CF_ID_BYTES);
	return ks_put(t, db, k, klen, &w);
}

/* ---- environment ----------------------------------------------------- */

/* 1 when dir holds nothing, 0 when it holds something, -errno (reported). */
static int
ks_dir_empty(const char *dir)
{
	DIR *d;
	struct dirent *e;
	int rc = 1;

	d = opendir(dir);
	if (d == NULL) {
		rc = -errno;
		cf_error("%s: %s", dir, strerror(-rc));
		return rc;
	}
	for (;;) {
		errno = 0;
		e = readdir(d);
		if (e == NULL) {
			if (errno != 0) {
				rc = -errno;
				cf_error("%s: %s", dir, strerror(-rc));
			}
			break;
		}
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			rc = 0;
			break;
		}
	}
	closedir(d);
	return rc;
}

/* Open every sub-database once; the handles then live as long as env. */
static int
ks_open_dbs(struct cf_ks *ks)
{
	MDB_txn *txn = NULL;
	int i, rc;

	rc = mdb_txn_begin(ks->env, NULL, ks->rdonly ? MDB_RDONLY : 0, &txn);
	if (rc != 0)
		return ks_fail(ks, rc);
	for (i = 0; i < KS_NDB; i++) {
		rc = mdb_dbi_open(txn, ks_db_names[i], ks->rdonly ? 0 : MDB_CREATE, &ks->dbi[i]);
		if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE) {
			cf_error("%s: not a Coffer keystore (no %s database)", ks->path,
			    ks_db_names[i]);
			mdb_txn_abort(txn);
			return -EBADMSG;
		}
		if (rc != 0) {
			mdb_txn_abort(txn);
			return ks_fail(ks, rc);
		}
	}
	/* Committing (even a read transaction) makes the handles shared. */
	rc = mdb_txn_commit(txn);
	if (rc != 0)
		return ks_fail(ks, rc);
	return 0;
}

/*
 * Open the environment at ks->path.  must_exist: refuse to create
 * data.mdb (cf_ks_open); cf_ks_create passes 0.
 */
static int
ks_env_open(struct cf_ks *ks, int must_exist)
{
	char data[PATH_MAX];
	struct stat st;
	unsigned int flags = MDB_NOTLS;
	int rc;

	if (stat(ks->path, &st) < 0) {
		rc = -errno;
		cf_error("%s: %s", ks->path, strerror(-rc));
		return rc;
	}
	if (!S_ISDIR(st.st_mode)) {
		cf_error("%s: %s", ks->path, strerror(ENOTDIR));
		return -ENOTDIR;
	}
	if (must_exist) {
		rc = cf_path(data, sizeof data, "%s/data.mdb", ks->path);
		if (rc < 0) {
			cf_error("%s: %s", ks->path, strerror(-rc));
			return rc;
		}
		if (stat(data, &st) < 0) {
			rc = -errno;
			cf_error("%s: %s", data, strerror(-rc));
			return rc;
		}
	}
	rc = mdb_env_create(&ks->env);
	if (rc != 0) {
		ks->env = NULL;
		return ks_fail(ks, rc);
	}
	rc = mdb_env_set_maxdbs(ks->env, KS_MAXDBS);
	if (rc == 0)
		rc = mdb_env_set_mapsize(ks->env, KS_MAPSIZE);
	if (rc == 0)
		rc = mdb_env_set_maxreaders(ks->env, KS_MAXREADERS);
	if (ks->rdonly)
		flags |= MDB_RDONLY;
	if (rc == 0)
		rc = mdb_env_open(ks->env, ks->path, flags, 0600);
	if (rc != 0) {
		rc = ks_fail(ks, rc);
		mdb_env_close(ks->env);
		ks->env = NULL;
		return rc;
	}
	rc = ks_open_dbs(ks);
	if (rc < 0) {
		mdb_env_close(ks->env);
		ks->env = NULL;
	}
	return rc;
}

static int
ks_alloc(struct cf_ks **ksp, const char *archive_dir, int rdonly)
{
	struct cf_ks *ks;
	int rc;

	*ksp = NULL;
	ks = calloc(1, sizeof *ks);
	if (ks == NULL) {
		cf_error("%s/keystore: %s", archive_dir, strerror(ENOMEM));
		return -ENOMEM;
	}
	rc = cf_path(ks->path, sizeof ks->path, "%s/keystore", archive_dir);
	if (rc < 0) {
		cf_error("%s/keystore: %s", archive_dir, strerror(-rc));
		free(ks);
		return rc;
	}
	ks->rdonly = rdonly;
	*ksp = ks;
	return 0;
}

/* Best effort after a failed create: remove what LMDB made. */
static void
ks_create_undo(const char *path, int made_dir)
{
	char f[PATH_MAX];

	if (cf_path(f, sizeof f, "%s/data.mdb", path) == 0)
		(void)unlink(f);
	if (cf_path(f, sizeof f, "%s/lock.mdb", path) == 0)
		(void)unlink(f);
	if (made_dir)
		(void)rmdir(path);
}

int
cf_ks_create(const char *archive_dir)
{
	struct cf_ks *ks = NULL;
	struct stat st;
	int rc, made_dir = 1;

	rc = ks_alloc(&ks, archive_dir, 0);
	if (rc < 0)
		return rc;
	if (mkdir(ks->path, 0700) < 0) {
		if (errno != EEXIST) {
			rc = -errno;
			cf_error("%s: %s", ks->path, strerror(-rc));
			goto out;
		}
		/* An empty folder (made by the caller) is fine; anything else is not. */
		made_dir = 0;
		if (lstat(ks->path, &st) < 0) {
			rc = -errno;
			cf_error("%s: %s", ks->path, strerror(-rc));
			goto out;
		}
		if (S_ISDIR(st.st_mode)) {
			rc = ks_dir_empty(ks->path);
			if (rc < 0)
				goto out;
		} else {
			rc = 0;
		}
		if (rc == 0) {
			rc = -EEXIST;
			cf_error("%s: %s", ks->path, strerror(EEXIST));
			goto out;
		}
		if (chmod(ks->path, 0700) < 0) {
			rc = -errno;
			cf_error("%s: %s", ks->path, strerror(-rc));
			goto out;
		}
	}
	rc = ks_env_open(ks, 0);
	if (rc < 0) {
		ks_create_undo(ks->path, made_dir);
		goto out;
	}
	mdb_env_close(ks->env);
	ks->env = NULL;
	rc = cf_fsync_dir(ks->path);
	if (rc == 0)
		rc = cf_fsync_dir(archive_dir);
	if (rc < 0)
		ks_create_undo(ks->path, made_dir);
out:
	free(ks);
	return rc;
}

int
cf_ks_open(struct cf_ks **ksp, const char *archive_dir, int flags)
{
	struct cf_ks *ks = NULL;
	int rc;

	*ksp = NULL;
	rc = ks_alloc(&ks, archive_dir, (flags & CF_KS_RDONLY) != 0);
	if (rc < 0)
		return rc;
	rc = ks_env_open(ks, 1);
	if (rc < 0) {
		free(ks);
		return rc;
	}
	*ksp = ks;
	return 0;
}

void
cf_ks_close(struct cf_ks *ks)
{
	if (ks == NULL)
		return;
	if (ks->env != NULL)
		mdb_env_close(ks->env);
	free(ks);
}

/*
 * Compacting copy into dir/data.mdb.  The file is created here (O_EXCL,
 * 0600) rather than by mdb_env_copy2, so that its mode does not depend on
 * the umask, and it is fsync'd with its folder before we return.
 */
/*
 * Where LMDB mapped data.mdb in this process.  LMDB does not say (its
 * me_mapaddr is set only for MDB_FIXEDMAP), so read it from
 * /proc/self/maps: the mapping whose file is this keystore's data.mdb.
 * Returns 0 with the address and length, or -ENOENT.
 */
static int
ks_find_map(const struct cf_ks *ks, void **addr, size_t *len)
{
	char line[PATH_MAX + 256], want[PATH_MAX + 16];
	unsigned long lo, hi;
	FILE *f;
	int rc = -ENOENT;

	if (snprintf(want, sizeof want, "%s/data.mdb", ks->path) >= (int)sizeof want)
		return -ENOENT;
	if ((f = fopen("/proc/self/maps", "re")) == NULL)
		return -ENOENT;
	while (fgets(line, sizeof line, f) != NULL) {
		char *p = strchr(line, '/');
		size_t n;

		if (p == NULL)
			continue;
		n = strcspn(p, "\n");
		p[n] = '\0';
		if (strcmp(p, want) == 0 && sscanf(line, "%lx-%lx", &lo, &hi) == 2 && hi > lo) {
			*addr = (void *)lo;
			*len = hi - lo;
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

void
cf_ks_release_pages(struct cf_ks *ks)
{
	void *addr;
	size_t len;

	/* a read-only shared file mapping: the pages stay in the page cache
	 * and fault back in on the next access, so this is safe at any time */
	if (ks_find_map(ks, &addr, &len) == 0)
		(void)madvise(addr, len, MADV_DONTNEED);
}

int
cf_ks_backup(struct cf_ks *ks, const char *dir)
{
	char data[PATH_MAX];
	int fd = -1, rc;

	rc = ks_dir_empty(dir);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		cf_error("%s: %s", dir, strerror(ENOTEMPTY));
		return -ENOTEMPTY;
	}
	rc = cf_path(data, sizeof data, "%s/data.mdb", dir);
	if (rc < 0) {
		cf_error("%s: %s", dir, strerror(-rc));
		return rc;
	}
	fd = open(data, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		cf_error("%s: %s", data, strerror(-rc));
		return rc;
	}
	rc = mdb_env_copyfd2(ks->env, fd, MDB_CP_COMPACT);
	if (rc != 0) {
		cf_error("%s: %s", data, mdb_strerror(rc));
		rc = ks_errno(rc);
		goto fail;
	}
	if (fsync(fd) < 0) {
		rc = -errno;
		cf_error("%s: %s", data, strerror(-rc));
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = -errno;
		cf_error("%s: %s", data, strerror(-rc));
		goto fail;
	}
	fd = -1;
	rc = cf_fsync_dir(dir);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	(void)unlink(data);
	return rc;
}

/* ---- transactions ---------------------------------------------------- */

int
cf_ks_begin(struct cf_ks *ks, int write, struct cf_txn **tp)
{
	struct cf_txn *t;
	int rc;

	*tp = NULL;
	if (write && ks->rdonly) {
		cf_error("%s: opened read-only", ks->path);
		return -EROFS;
	}
	t = calloc(1, sizeof *t);
	if (t == NULL) {
		cf_error("%s: %s", ks->path, strerror(ENOMEM));
		return -ENOMEM;
	}
	rc = mdb_txn_begin(ks->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
	if (rc != 0) {
		free(t);
		return ks_fail(ks, rc);
	}
	t->ks = ks;
	*tp = t;
	return 0;
}

/*
 * LMDB turns a short write into EIO ("short write, filesystem full?"), and
 * a write that fills the file system is usually short.  When the file
 * system holding the keystore has (next to) no room left, say so: the
 * commit failed for lack of space, nothing was committed.
 */
#define KS_FULL_BYTES ((uint64_t)1 << 20)

static int
ks_fs_full(const struct cf_ks *ks)
{
	struct statvfs sv;

	if (statvfs(ks->path, &sv) != 0)
		return 0;
	return (uint64_t)sv.f_bavail * sv.f_frsize < KS_FULL_BYTES;
}

int
cf_ks_commit(struct cf_txn *t)
{
	int rc;

	rc = mdb_txn_commit(t->txn);
	if (rc == EIO && ks_fs_full(t->ks)) {
		cf_error("%s: %s", t->ks->path, strerror(ENOSPC));
		rc = -ENOSPC;
	} else if (rc != 0) {
		rc = ks_fail(t->ks, rc);
	}
	free(t);
	return rc;
}

void
cf_ks_abort(struct cf_txn *t)
{
	if (t == NULL)
		return;
	mdb_txn_abort(t->txn);
	free(t);
}

/* ---- meta ------------------------------------------------------------ */

int
cf_ks_meta_get(struct cf_txn *t, struct cf_meta *m)
{
	MDB_val v;
	struct ks_r r;
	int rc;

	rc = ks_get(t, KS_META, KS_META_KEY, strlen(KS_META_KEY), &v);
	if (rc < 0)
		return rc;
	memset(m, 0, sizeof *m);
	r_start(&r, &v);
	m->version = r_u32(&r);
	r_bytes(&r, m->archive_id, sizeof m->archive_id);
	r_bytes(&r, m->recovery_pk, sizeof m->recovery_pk);
	r_bytes(&r, m->recovery_sealed_ingest_key, sizeof m->recovery_sealed_ingest_key);
	m->created = r_i64(&r);
	r_bytes(&r, m->sign_pk, sizeof m->sign_pk);
	r_bytes(&r, m->sig, sizeof m->sig);
	if (!r_ok(&r))
		return ks_bad(t->ks, KS_META);
	return 0;
}

int
cf_ks_meta_put(struct cf_txn *t, const struct cf_meta *m)
{
	uint8_t buf[KS_META_SIZE];
	struct ks_w w = { buf, 0, sizeof buf, 0 };

	w_u8(&w, KS_LAYOUT);
	w_u32(&w, m->version);
	w_bytes(&w, m->archive_id, sizeof m->archive_id);
	w_bytes(&w, m->recovery_pk, sizeof m->recovery_pk);
	w_bytes(&w, m->recovery_sealed_ingest_key, sizeof m->recovery_sealed_ingest_key);
	w_i64(&w, m->created);
	w_bytes(&w, m->sign_pk, sizeof m->sign_pk);
	w_bytes(&w, m->sig, sizeof m->sig);
	return ks_put(t, KS_META, KS_META_KEY, strlen(KS_META_KEY), &w);
}

/*
 * Walk db in key order: from the first key, or with plen > 0 from prefix
 * while keys start with it.  step gets each raw pair; a non-zero return
 * stops the walk and is returned.
 */
static int
ks_walk(struct cf_txn *t, enum ks_db db, const void *prefix, size_t plen,
    int (*step)(struct cf_txn *t, const MDB_val *k, const MDB_val *v, void *arg), void *arg)
{
	MDB_cursor *cur = NULL;
	MDB_val k = { plen, (void *)prefix }, v;
	int rc;

	rc = mdb_cursor_open(t->txn, t->ks->dbi[db], &cur);
	if (rc != 0)
		return ks_fail(t->ks, rc);
	for (rc = mdb_cursor_get(cur, &k, &v, plen > 0 ? MDB_SET_RANGE : MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (plen > 0 && (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0))
			break;
		if ((rc = step(t, &k, &v, arg)) != 0)
			goto out;
	}
	rc = rc == 0 || rc == MDB_NOTFOUND ? 0 : ks_fail(t->ks, rc);
out:
	mdb_cursor_close(cur);
	return rc;
}

/* Typed walks: decode each value, then call the caller's callback. */
struct ks_each {
	union {
		int (*principal)(const struct cf_principal *p, void *arg);
		int (*conv)(const struct cf_conv *c, void *arg);
		int (*grant)(const struct cf_grant *g, void *arg);
		int (*blob)(const struct cf_blob_rec *b, void *arg);
	} cb;
	void *arg;
};

/* ---- principals ------------------------------------------------------ */

static int
principal_decode(struct cf_txn *t, const MDB_val *k, const MDB_val *v, struct cf_principal *p)
{
	struct ks_r r;
	size_t len;

	memset(p, 0, sizeof *p);
	r_start(&r, v);
	r_str(&r, p->name, CF_NAME_MAX);
	p->role = r_u8(&r);
	p->disabled = r_u8(&r);
	p->has_ingest_key = r_u8(&r);
	r_bytes(&r, p->pk, sizeof p->pk);
	p->kdf.opslimit = r_u64(&r);
	p->kdf.memlimit = r_u64(&r);
	r_bytes(&r, p->kdf.salt, sizeof p->kdf.salt);
	r_bytes(&r, p->wrapped_sk, sizeof p->wrapped_sk);
	r_bytes(&r, p->sealed_ingest_key, sizeof p->sealed_ingest_key);
	p->created = r_i64(&r);
	p->has_sign_key = r_u8(&r);
	r_bytes(&r, p->sealed_sign_sk, sizeof p->sealed_sign_sk);
	r_bytes(&r, p->sig, sizeof p->sig);
	len = strlen(p->name);
	if (!r_ok(&r) || len == 0 || p->role < CF_ROLE_ADMIN || p->role > CF_ROLE_INGEST ||
	    p->disabled > 1 || p->has_ingest_key > 1 || p->has_sign_key > 1 ||
	    k->mv_size != len ||
	    memcmp(k->mv_data, p->name, len) != 0)
		return ks_bad(t->ks, KS_PRINCIPALS);
	return 0;
}

int
cf_ks_principal_get(struct cf_txn *t, const char *name, struct cf_principal *p)
{
	MDB_val k, v;
	int rc;

	rc = ks_name_check(t->ks, name, 0);
	if (rc < 0)
		return rc;
	k.mv_data = (void *)name;
	k.mv_size = strlen(name);
	rc = ks_get(t, KS_PRINCIPALS, k.mv_data, k.mv_size, &v);
	if (rc < 0)
		return rc;
	return principal_decode(t, &k, &v, p);
}

int
cf_ks_principal_put(struct cf_txn *t, const struct cf_principal *p)
{
	uint8_t buf[KS_PRINCIPAL_FIXED + CF_NAME_MAX];
	struct ks_w w = { buf, 0, sizeof buf, 0 };
	size_t len;
	int rc;

	rc = ks_name_check(t->ks, p->name, 0);
	if (rc < 0)
		return rc;
	if (p->role < CF_ROLE_ADMIN || p->role > CF_ROLE_INGEST || p->disabled > 1 ||
	    p->has_ingest_key > 1 || p->has_sign_key > 1) {
		cf_error("%s: principal %s: invalid role or flag", t->ks->path, p->name);
		return -EINVAL;
	}
	len = strlen(p->name);
	w_u8(&w, KS_LAYOUT);
	w_str(&w, p->name, len);
	w_u8(&w, p->role);
	w_u8(&w, p->disabled);
	w_u8(&w, p->has_ingest_key);
	w_bytes(&w, p->pk, sizeof p->pk);
	w_u64(&w, p->kdf.opslimit);
	w_u64(&w, p->kdf.memlimit);
	w_bytes(&w, p->kdf.salt, sizeof p->kdf.salt);
	w_bytes(&w, p->wrapped_sk, sizeof p->wrapped_sk);
	w_bytes(&w, p->sealed_ingest_key, sizeof p->sealed_ingest_key);
	w_i64(&w, p->created);
	w_u8(&w, p->has_sign_key);
	w_bytes(&w, p->sealed_sign_sk, sizeof p->sealed_sign_sk);
	w_bytes(&w, p->sig, sizeof p->sig);
	return ks_put(t, KS_PRINCIPALS, p->name, len, &w);
}

static int
principal_step(struct cf_txn *t, const MDB_val *k, const MDB_val *v, void *arg)
{
	const struct ks_each *e = arg;
	struct cf_principal p;
	int rc = principal_decode(t, k, v, &p);

	return rc != 0 ? rc : e->cb.principal(&p, e->arg);
}

int
cf_ks_principal_foreach(struct cf_txn *t,
    int (*cb)(const struct cf_principal *p, void *arg), void *arg)
{
	struct ks_each e = { .cb.principal = cb, .arg = arg };

	return ks_walk(t, KS_PRINCIPALS, NULL, 0, principal_step, &e);
}

/* ---- conversations --------------------------------------------------- */

static int
conv_decode(struct cf_txn *t, const MDB_val *k, const MDB_val *v, struct cf_conv *c)
{
	struct ks_r r;

	memset(c, 0, sizeof *c);
	r_start(&r, v);
	r_bytes(&r, c->id, sizeof c->id);
	r_bytes(&r, c->pk, sizeof c->pk);
	c->created = r_i64(&r);
	c->next_seq = r_u32(&r);
	c->sealed_meta_len = r_u32(&r);
	if (c->sealed_meta_len > CF_SEALED_META_MAX)
		r.bad = 1;
	else
		r_bytes(&r, c->sealed_meta, c->sealed_meta_len);
	r_bytes(&r, c->chat_tag, sizeof c->chat_tag);
	r_bytes(&r, c->mac, sizeof c->mac);
	if (!r_ok(&r) || k->mv_size != CF_ID_BYTES || memcmp(k->mv_data, c->id, CF_ID_BYTES) != 0)
		return ks_bad(t->ks, KS_CONVS);
	return 0;
}

int
cf_ks_conv_get(struct cf_txn *t, const uint8_t id[CF_ID_BYTES], struct cf_conv *c)
{
	MDB_val k = { CF_ID_BYTES, (void *)id }, v;
	int rc;

	rc = ks_get(t, KS_CONVS, id, CF_ID_BYTES, &v);
	if (rc < 0)
		return rc;
	return conv_decode(t, &k, &v, c);
}

int
cf_ks_conv_put(struct cf_txn *t, const struct cf_conv *c)
{
	uint8_t buf[KS_CONV_FIXED + CF_SEALED_META_MAX];
	struct ks_w w = { buf, 0, sizeof buf, 0 };

	if (c->sealed_meta_len > CF_SEALED_META_MAX) {
		cf_error("%s: conversation metadata too large (%u bytes)", t->ks->path,
		    (unsigned)c->sealed_meta_len);
		return -EINVAL;
	}
	w_u8(&w, KS_LAYOUT);
	w_bytes(&w, c->id, sizeof c->id);
	w_bytes(&w, c->pk, sizeof c->pk);
	w_i64(&w, c->created);
	w_u32(&w, c->next_seq);
	w_u32(&w, c->sealed_meta_len);
	w_bytes(&w, c->sealed_meta, c->sealed_meta_len);
	w_bytes(&w, c->chat_tag, sizeof c->chat_tag);
	w_bytes(&w, c->mac, sizeof c->mac);
	return ks_put(t, KS_CONVS, c->id, CF_ID_BYTES, &w);
}

static int
conv_step(struct cf_txn *t, const MDB_val *k, const MDB_val *v, void *arg)
{
	const struct ks_each *e = arg;
	struct cf_conv c;
	int rc = conv_decode(t, k, v, &c);

	return rc != 0 ? rc : e->cb.conv(&c, e->arg);
}

int
cf_ks_conv_foreach(struct cf_txn *t,
    int (*cb)(const struct cf_conv *c, void *arg), void *arg)
{
	struct ks_each e = { .cb.conv = cb, .arg = arg };

	return ks_walk(t, KS_CONVS, NULL, 0, conv_step, &e);
}

/* ---- wrapped conversation keys --------------------------------------- */

/* key = conv id || principal; *klen set.  Name checked and reported. */
static int
wrap_key(struct cf_txn *t, uint8_t key[KS_KEY_MAX], size_t *klen,
    const uint8_t conv_id[CF_ID_BYTES], const char *principal)
{
	size_t len;
	int rc;

	rc = ks_name_check(t->ks, principal, 1);
	if (rc < 0)
		return rc;
	len = strlen(principal);
	memcpy(key, conv_id, CF_ID_BYTES);
	memcpy(key + CF_ID_BYTES, principal, len);
	*klen = CF_ID_BYTES + len;
	return 0;
}

int
cf_ks_wrap_get(struct cf_txn *t, const uint8_t conv_id[CF_ID_BYTES],
    const char *principal, uint8_t sealed[CF_SEALED_KEY_BYTES])
{
	uint8_t key[KS_KEY_MAX];
	size_t klen;
	MDB_val v;
	struct ks_r r;
	int rc;

	rc = wrap_key(t, key, &klen, conv_id, principal);
	if (rc < 0)
		return rc;
	rc = ks_get(t, KS_WRAPS, key, klen, &v);
	if (rc < 0)
		return rc;
	r_start(&r, &v);
	r_bytes(&r, sealed, CF_SEALED_KEY_BYTES);
	if (!r_ok(&r))
		return ks_bad(t->ks, KS_WRAPS);
	return 0;
}

int
cf_ks_wrap_put(struct cf_txn *t, const uint8_t conv_id[CF_ID_BYTES],
    const char *principal, const uint8_t sealed[CF_SEALED_KEY_BYTES])
{
	uint8_t key[KS_KEY_MAX], buf[KS_WRAP_SIZE];
	struct ks_w w = { buf, 0, sizeof buf, 0 };
	size_t klen;
	int rc;

	rc = wrap_key(t, key, &klen, conv_id, principal);
	if (rc < 0)
		return rc;
	w_u8(&w, KS_LAYOUT);
	w_bytes(&w, sealed, CF_SEALED_KEY_BYTES);
	return ks_put(t, KS_WRAPS, key, klen, &w);
}

int
cf_ks_wrap_del(struct cf_txn *t, const uint8_t conv_id[CF_ID_BYTES], const char *principal)
{
	uint8_t key[KS_KEY_MAX];
	size_t klen;
	int rc;

	rc = wrap_key(t, key, &klen, conv_id, principal);
	if (rc < 0)
		return rc;
	return ks_del(t, KS_WRAPS, key, klen);
}

/* ---- grants ---------------------------------------------------------- */

static const uint8_t ks_zero_id[CF_ID_BYTES];

/* key = principal || 0 || conv id (zero id for NULL). */
static int
grant_key(struct cf_txn *t, uint8_t key[KS_KEY_MAX], size_t *klen, const char *principal,
    const uint8_t *conv_id)
{
	size_t len;
	int rc;

	rc = ks_name_check(t->ks, principal, 0);
	if (rc < 0)
		return rc;
	len = strlen(principal);
	memcpy(key, principal, len);
	key[len] = 0;
	memcpy(key + len + 1, conv_id != NULL ? conv_id : ks_zero_id, CF_ID_BYTES);
	*klen = len + 1 + CF_ID_BYTES;
	return 0;
}

static int
grant_decode(struct cf_txn *t, const MDB_val *k, const MDB_val *v, struct cf_grant *g)
{
	struct ks_r r;
	size_t len;

	memset(g, 0, sizeof *g);
	r_start(&r, v);
	r_str(&r, g->principal, CF_NAME_MAX);
	r_bytes(&r, g->conv_id, sizeof g->conv_id);
	g->not_before = r_i64(&r);
	g->not_after = r_i64(&r);
	g->created = r_i64(&r);
	r_str(&r, g->granted_by, CF_NAME_MAX);
	r_str(&r, g->reason, CF_REASON_MAX);
	r_bytes(&r, g->sig, sizeof g->sig);
	len = strlen(g->principal);
	if (!r_ok(&r) || len == 0 || k->mv_size != len + 1 + CF_ID_BYTES ||
	    memcmp(k->mv_data, g->principal, len + 1) != 0 ||
	    memcmp((const uint8_t *)k->mv_data + len + 1, g->conv_id, CF_ID_BYTES) != 0)
		return ks_bad(t->ks, KS_GRANTS);
	return 0;
}

int
cf_ks_grant_get(struct cf_txn *t, const char *principal,
    const uint8_t conv_id[CF_ID_BYTES], struct cf_grant *g)
{
	uint8_t key[KS_KEY_MAX];
	MDB_val k, v;
	int rc;

	rc = grant_key(t, key, &k.mv_size, principal, conv_id);
	if (rc < 0)
		return rc;
	k.mv_data = key;
	rc = ks_get(t, KS_GRANTS, key, k.mv_size, &v);
	if (rc < 0)
		return rc;
	return grant_decode(t, &k, &v, g);
}

int
cf_ks_grant_put(struct cf_txn *t, const struct cf_grant *g)
{
	uint8_t key[KS_KEY_MAX];
	uint8_t buf[KS_GRANT_FIXED + 2 * CF_NAME_MAX + CF_REASON_MAX];
	struct ks_w w = { buf, 0, sizeof buf, 0 };
	size_t klen, reason_len;
	int rc;

	rc = grant_key(t, key, &klen, g->principal, g->conv_id);
	if (rc < 0)
		return rc;
	rc = ks_name_check(t->ks, g->granted_by, 1);
	if (rc < 0)
		return rc;
	reason_len = strnlen(g->reason, CF_REASON_MAX + 1);
	if (reason_len > CF_REASON_MAX) {
		cf_error("%s: grant reason longer than %d bytes", t->ks->path, CF_REASON_MAX);
		return -EINVAL;
	}
	w_u8(&w, KS_LAYOUT);
	w_str(&w, g->principal, strlen(g->principal));
	w_bytes(&w, g->conv_id, sizeof g->conv_id);
	w_i64(&w, g->not_before);
	w_i64(&w, g->not_after);
	w_i64(&w, g->created);
	w_str(&w, g->granted_by, strlen(g->granted_by));
	w_str(&w, g->reason, reason_len);
	w_bytes(&w, g->sig, sizeof g->sig);
	return ks_put(t, KS_GRANTS, key, klen, &w);
}

int
cf_ks_grant_del(struct cf_txn *t, const char *principal, const uint8_t conv_id[CF_ID_BYTES])
{
	uint8_t key[KS_KEY_MAX];
	size_t klen;
	int rc;

	rc = grant_key(t, key, &klen, principal, conv_id);
	if (rc < 0)
		return rc;
	return ks_del(t, KS_GRANTS, key, klen);
}

static int
grant_step(struct cf_txn *t, const MDB_val *k, const MDB_val *v, void *arg)
{
	const struct ks_each *e = arg;
	struct cf_grant g;
	int rc = grant_decode(t, k, v, &g);

	return rc != 0 ? rc : e->cb.grant(&g, e->arg);
}

int
cf_ks_grant_foreach(struct cf_txn *t, const char *principal,
    int (*cb)(const struct cf_grant *g, void *arg), void *arg)
{
	struct ks_each e = { .cb.grant = cb, .arg = arg };
	uint8_t prefix[CF_NAME_MAX + 1];
	size_t plen = 0;
	int rc;

	if (principal != NULL) {
		rc = ks_name_check(t->ks, principal, 0);
		if (rc < 0)
			return rc;
		/* "name\0": without the NUL, "bob" would also match "bobby". */
		plen = strlen(principal) + 1;
		memcpy(prefix, principal, plen);
	}
	return ks_walk(t, KS_GRANTS, prefix, plen, grant_step, &e);
}

/* ---- blobs ----------------------------------------------------------- */

static int
blob_decode(struct cf_txn *t, const MDB_val *k, const MDB_val *v, struct cf_blob_rec *b)
{
	struct ks_r r;

	memset(b, 0, sizeof *b);
	r_start(&r, v);
	r_bytes(&r, b->id, sizeof b->id);
	r_bytes(&r, b->conv_id, sizeof b->conv_id);
	b->kind = r_u8(&r);
	b->seq = r_u32(&r);
	b->file_size = r_u64(&r);
	b->plain_size = r_u64(&r);
	r_bytes(&r, b->hash, sizeof b->hash);
	b->created = r_i64(&r);
	b->sealed_summary_len = r_u32(&r);
	if (b->sealed_summary_len > CF_SEALED_SUMMARY_MAX)
		r.bad = 1;
	else
		r_bytes(&r, b->sealed_summary, b->sealed_summary_len);
	if (!r_ok(&r) || (b->kind != CF_BLOB_SEGMENT && b->kind != CF_BLOB_ATTACHMENT) ||
	    k->mv_size != CF_ID_BYTES || memcmp(k->mv_data, b->id, CF_ID_BYTES) != 0)
		return ks_bad(t->ks, KS_BLOBS);
	return 0;
}

int
cf_ks_blob_put(struct cf_txn *t, const struct cf_blob_rec *b)
{
	uint8_t buf[KS_BLOB_FIXED + CF_SEALED_SUMMARY_MAX];
	uint8_t ckey[CF_ID_BYTES + 4];
	struct ks_w w = { buf, 0, sizeof buf, 0 };
	int rc;

	if (b->kind != CF_BLOB_SEGMENT && b->kind != CF_BLOB_ATTACHMENT) {
		cf_error("%s: invalid blob kind %u", t->ks->path, (unsigned)b->kind);
		return -EINVAL;
	}
	if (b->sealed_summary_len > CF_SEALED_SUMMARY_MAX) {
		cf_error("%s: segment summary too large (%u bytes)", t->ks->path,
		    (unsigned)b->sealed_summary_len);
		return -EINVAL;
	}
	w_u8(&w, KS_LAYOUT);
	w_bytes(&w, b->id, sizeof b->id);
	w_bytes(&w, b->conv_id, sizeof b->conv_id);
	w_u8(&w, b->kind);
	w_u32(&w, b->seq);
	w_u64(&w, b->file_size);
	w_u64(&w, b->plain_size);
	w_bytes(&w, b->hash, sizeof b->hash);
	w_i64(&w, b->created);
	w_u32(&w, b->sealed_summary_len);
	w_bytes(&w, b->sealed_summary, b->sealed_summary_len);
	rc = ks_put(t, KS_BLOBS, b->id, CF_ID_BYTES, &w);
	if (rc < 0 || b->kind != CF_BLOB_SEGMENT)
		return rc;
	memcpy(ckey, b->conv_id, CF_ID_BYTES);
	be32_put(ckey + CF_ID_BYTES, b->seq);
	return ks_id_put(t, KS_CONVBLOBS, ckey, sizeof ckey, b->id);
}

int
cf_ks_blob_get(struct cf_txn *t, const uint8_t id[CF_ID_BYTES], struct cf_blob_rec *b)
{
	MDB_val k = { CF_ID_BYTES, (void *)id }, v;
	int rc;

	rc = ks_get(t, KS_BLOBS, id, CF_ID_BYTES, &v);
	if (rc < 0)
		return rc;
	return blob_decode(t, &k, &v, b);
}

static int
blob_step(struct cf_txn *t, const MDB_val *k, const MDB_val *v, void *arg)
{
	const struct ks_each *e = arg;
	struct cf_blob_rec b;
	int rc = blob_decode(t, k, v, &b);

	return rc != 0 ? rc : e->cb.blob(&b, e->arg);
}

int
cf_ks_blob_foreach(struct cf_txn *t,
    int (*cb)(const struct cf_blob_rec *b, void *arg), void *arg)
{
	struct ks_each e = { .cb.blob = cb, .arg = arg };

	return ks_walk(t, KS_BLOBS, NULL, 0, blob_step, &e);
}

/* One convblobs entry: its blob record, checked against the index. */
static int
segment_step(struct cf_txn *t, const MDB_val *k, const MDB_val *v, void *arg)
{
	const struct ks_each *e = arg;
	uint8_t id[CF_ID_BYTES];
	struct cf_blob_rec b;
	int rc;

	if (k->mv_size != CF_ID_BYTES + 4)
		return ks_bad(t->ks, KS_CONVBLOBS);
	rc = ks_id_decode(t, KS_CONVBLOBS, v, id);
	if (rc < 0)
		return rc;
	rc = cf_ks_blob_get(t, id, &b);
	if (rc == -ENOENT) {
		cf_error("%s: convblobs names a blob with no record", t->ks->path);
		return -EBADMSG;
	}
	if (rc < 0)
		return rc;
	/* The index entry and the record must tell the same story. */
	if (b.kind != CF_BLOB_SEGMENT || memcmp(b.conv_id, k->mv_data, CF_ID_BYTES) != 0 ||
	    b.seq != be32_get((const uint8_t *)k->mv_data + CF_ID_BYTES))
		return ks_bad(t->ks, KS_CONVBLOBS);
	return e->cb.blob(&b, e->arg);
}

int
cf_ks_conv_segments(struct cf_txn *t, const uint8_t conv_id[CF_ID_BYTES],
    int (*cb)(const struct cf_blob_rec *b, void *arg), void *arg)
{
	struct ks_each e = { .cb.blob = cb, .arg = arg };

	return ks_walk(t, KS_CONVBLOBS, conv_id, CF_ID_BYTES, segment_step, &e);
}

/* ---- chat map and dedup tags ----------------------------------------- */

int
cf_ks_chatmap_get(struct cf_txn *t, const uint8_t tag[CF_HASH_BYTES], uint8_t conv_id[CF_ID_BYTES])
{
	MDB_val v;
	int rc;

	rc = ks_get(t, KS_CHATMAP, tag, CF_HASH_BYTES, &v);
	if (rc < 0)
		return rc;
	return ks_id_decode(t, KS_CHATMAP, &v, conv_id);
}

int
cf_ks_chatmap_put(struct cf_txn *t, const uint8_t tag[CF_HASH_BYTES], const uint8_t conv_id[CF_ID_BYTES])
{
	return ks_id_put(t, KS_CHATMAP, tag, CF_HASH_BYTES, conv_id);
}

int
cf_ks_dedup_has(struct cf_txn *t, const uint8_t tag[CF_HASH_BYTES])
{
	MDB_val v;
	int rc;

	rc = ks_get(t, KS_DEDUP, tag, CF_HASH_BYTES, &v);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	return 1;
}

int
cf_ks_dedup_put(struct cf_txn *t, const uint8_t tag[CF_HASH_BYTES], const uint8_t conv_id[CF_ID_BYTES])
{
	return ks_id_put(t, KS_DEDUP, tag, CF_HASH_BYTES, conv_id);
}
