/*
 * keystore.c - the LMDB keystore: ARCHIVE/keystore/{data,lock}.mdb.
 *
 * One LMDB environment with the named sub-databases listed in
 * keystore.h.  This file alone turns the structs of keystore.h into bytes
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
 * The decoders take the keystore only to name it in that report, so
 * cf_ks_value_check() runs the very same ones over a raw value, silently
 * (tests/fuzz/fuzz_keystore.c), and cf_ks_check_walk() over every entry
 * of every sub-database (`coffer verify`).
 * LMDB trusts data.mdb and can crash on a damaged page, so every page of
 * the current snapshot is checked against LMDB's layout when the
 * environment is opened, before LMDB reads one ("page structure check").
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
 *   audit       sequence number (u64 big-endian, from 1)
 *   convkeys    conv id (16) || generation (u32 big-endian, from 0)
 *   policy      "R" or "H" (1) || conv id (16; all zero: the default
 *               retention, "R" only)
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
 *   audit: an audit record as fs/audit.c encodes it (opaque here; at most
 *     CF_AUDIT_VAL_MAX bytes).  Records are only ever appended.
 *
 *   convkeys (113 bytes): an earlier generation of a conversation's key pair
 *     0    1   layout version (1)
 *     1   32   public key of generation g
 *     33  80   secret key of generation g sealed to the public key of
 *              generation g + 1 (the conversation's current key for the
 *              last one)
 *
 *   policy "R", a retention (105 + n bytes)
 *     0    1   layout version (1)
 *     1    1   kind 'R' (0x52; equals the key's first byte)
 *     2   16   conversation id (all zero: the default; equals the key)
 *     18   1   forever (0 or 1; 1: every amount below is 0)
 *     19   4   years (u32, <= 1000)
 *     23   4   months (u32, <= 12000)
 *     27   4   days (u32, <= 366000); not forever: not all three zero
 *     31   8   set (i64)
 *     39   2   set-by length n (u16, 1..64)
 *     41   n   set by (an admin or #recovery)
 *     41+n 64  archive signature (message: archive.c retention_msg)
 *
 *   policy "H", a legal hold (94 + n + r bytes)
 *     0    1   layout version (1)
 *     1    1   kind 'H' (0x48; equals the key's first byte)
 *     2   16   conversation id (never all zero; equals the key)
 *     18   8   placed (i64)
 *     26   2   placed-by length n (u16, 1..64)
 *     28   n   placed by
 *     28+n 2   reason length r (u16, 1..256)
 *     30+n r   reason
 *     30+n+r 64 archive signature (message: archive.c hold_msg)
 *
 * Nothing is ever removed from blobs or convblobs except by
 * cf_ks_convs_destroy (shredding): ks_del refuses those two sub-databases.
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
#include <pthread.h>
#include <stdatomic.h>
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
	KS_AUDIT,
	KS_CONVKEYS,
	KS_POLICY,
	KS_NDB
};

static const char *const ks_db_names[KS_NDB] = {
	"meta", "principals", "convs", "wraps", "grants", "blobs", "convblobs",
	"chatmap", "dedup", "audit", "convkeys", "policy"
};

struct cf_ks {
	MDB_env *env;
	int rdonly;
	int checked;                    /* CF_KS_CHECKED: no page check at open */
	/* The dedup tree (a tag per message ever imported: by far the largest)
	 * is left out of the page check at open and checked on its first use
	 * instead (ks_ready): most commands, and the mount, never read it. */
	atomic_int dedup_ok;
	pthread_mutex_t dedup_lock;
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

/* A value that does not decode.  ks NULL (cf_ks_value_check): not reported. */
static int
ks_bad(const struct cf_ks *ks, enum ks_db db)
{
	if (ks == NULL)
		return -EBADMSG;
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

static int ks_ready(struct cf_ks *ks, enum ks_db db);

static int
ks_get(struct cf_txn *t, enum ks_db db, const void *k, size_t klen, MDB_val *v)
{
	MDB_val key = { klen, (void *)k };
	int rc;

	if ((rc = ks_ready(t->ks, db)) != 0)
		return rc;
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
	if ((rc = ks_ready(t->ks, db)) != 0)
		return rc;
	rc = mdb_put(t->txn, t->ks->dbi[db], &key, &val, 0);
	if (rc != 0)
		return ks_fail(t->ks, rc);
	return 0;
}

/* Delete; -ENOENT (not reported) when absent.  Any sub-database: only
 * cf_ks_convs_destroy calls it for blobs and convblobs. */
static int
ks_del_any(struct cf_txn *t, enum ks_db db, const void *k, size_t klen)
{
	MDB_val key = { klen, (void *)k };
	int rc;

	if ((rc = ks_ready(t->ks, db)) != 0)
		return rc;
	rc = mdb_del(t->txn, t->ks->dbi[db], &key, NULL);
	if (rc == MDB_NOTFOUND)
		return -ENOENT;
	if (rc != 0)
		return ks_fail(t->ks, rc);
	return 0;
}

/* Delete; -ENOENT (not reported) when absent.  Segments and attachments
 * are never dropped this way: that is shredding (cf_ks_convs_destroy). */
static int
ks_del(struct cf_txn *t, enum ks_db db, const void *k, size_t klen)
{
	if (db == KS_BLOBS || db == KS_CONVBLOBS) {
		cf_error("%s: refusing to remove a %s record outside a shred", t->ks->path,
		    ks_db_names[db]);
		return -EPERM;
	}
	return ks_del_any(t, db, k, klen);
}

/*
 * The decoders below share one shape: ks names the keystore for the report
 * (NULL: do not report), k is the key the value was stored under (NULL: do
 * not check that the value agrees with it), v the raw value.  They return 0
 * or -EBADMSG.  The getters and cf_ks_value_check() both call them.
 */

/* A 1 + 16 byte value holding one id (convblobs, chatmap, dedup). */
static int
ks_id_decode(const struct cf_ks *ks, enum ks_db db, const MDB_val *v, uint8_t id[CF_ID_BYTES])
{
	struct ks_r r;

	r_start(&r, v);
	r_bytes(&r, id, CF_ID_BYTES);
	if (!r_ok(&r))
		return ks_bad(ks, db);
	return 0;
}

/* A convblobs entry: the key is conv id || seq, the value a blob id. */
static int
convblobs_decode(const struct cf_ks *ks, const MDB_val *k, const MDB_val *v,
    uint8_t id[CF_ID_BYTES])
{
	if (k != NULL && k->mv_size != CF_ID_BYTES + 4)
		return ks_bad(ks, KS_CONVBLOBS);
	return ks_id_decode(ks, KS_CONVBLOBS, v, id);
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

static int ks_pages_open_check(const struct cf_ks *ks, const char *skip, const char *only);

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
	/* before LMDB reads a page: a damaged one must not crash us */
	/* dedup is checked when first used: ks_ready */
	rc = ks->checked ? 0 : ks_pages_open_check(ks, ks_db_names[KS_DEDUP], NULL);
	if (rc == 0)
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
	atomic_init(&ks->dedup_ok, 0);
	if ((rc = pthread_mutex_init(&ks->dedup_lock, NULL)) != 0) {
		cf_error("%s: cannot create a lock: %s", ks->path, strerror(rc));
		free(ks);
		return -rc;
	}
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
	pthread_mutex_destroy(&ks->dedup_lock);
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
	ks->checked = (flags & CF_KS_CHECKED) != 0;
	rc = ks_env_open(ks, 1);
	if (rc < 0) {
		pthread_mutex_destroy(&ks->dedup_lock);
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
	pthread_mutex_destroy(&ks->dedup_lock);
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

/* The key is always KS_META_KEY (the getter looks only that up). */
static int
meta_decode(const struct cf_ks *ks, const MDB_val *v, struct cf_meta *m)
{
	struct ks_r r;

	memset(m, 0, sizeof *m);
	r_start(&r, v);
	m->version = r_u32(&r);
	r_bytes(&r, m->archive_id, sizeof m->archive_id);
	r_bytes(&r, m->recovery_pk, sizeof m->recovery_pk);
	r_bytes(&r, m->recovery_sealed_ingest_key, sizeof m->recovery_sealed_ingest_key);
	m->created = r_i64(&r);
	r_bytes(&r, m->sign_pk, sizeof m->sign_pk);
	r_bytes(&r, m->sig, sizeof m->sig);
	if (!r_ok(&r))
		return ks_bad(ks, KS_META);
	return 0;
}

int
cf_ks_meta_get(struct cf_txn *t, struct cf_meta *m)
{
	MDB_val v;
	int rc;

	rc = ks_get(t, KS_META, KS_META_KEY, strlen(KS_META_KEY), &v);
	if (rc < 0)
		return rc;
	return meta_decode(t->ks, &v, m);
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

	if ((rc = ks_ready(t->ks, db)) != 0)
		return rc;
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
principal_decode(const struct cf_ks *ks, const MDB_val *k, const MDB_val *v,
    struct cf_principal *p)
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
	    (k != NULL && (k->mv_size != len || memcmp(k->mv_data, p->name, len) != 0)))
		return ks_bad(ks, KS_PRINCIPALS);
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
	return principal_decode(t->ks, &k, &v, p);
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
	int rc = principal_decode(t->ks, k, v, &p);

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
conv_decode(const struct cf_ks *ks, const MDB_val *k, const MDB_val *v, struct cf_conv *c)
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
	if (!r_ok(&r) ||
	    (k != NULL && (k->mv_size != CF_ID_BYTES ||
	    memcmp(k->mv_data, c->id, CF_ID_BYTES) != 0)))
		return ks_bad(ks, KS_CONVS);
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
	return conv_decode(t->ks, &k, &v, c);
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
	int rc = conv_decode(t->ks, k, v, &c);

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

/* The key (conv id || principal) is the one the getter built. */
static int
wrap_decode(const struct cf_ks *ks, const MDB_val *v, uint8_t sealed[CF_SEALED_KEY_BYTES])
{
	struct ks_r r;

	r_start(&r, v);
	r_bytes(&r, sealed, CF_SEALED_KEY_BYTES);
	if (!r_ok(&r))
		return ks_bad(ks, KS_WRAPS);
	return 0;
}

int
cf_ks_wrap_get(struct cf_txn *t, const uint8_t conv_id[CF_ID_BYTES],
    const char *principal, uint8_t sealed[CF_SEALED_KEY_BYTES])
{
	uint8_t key[KS_KEY_MAX];
	size_t klen;
	MDB_val v;
	int rc;

	rc = wrap_key(t, key, &klen, conv_id, principal);
	if (rc < 0)
		return rc;
	rc = ks_get(t, KS_WRAPS, key, klen, &v);
	if (rc < 0)
		return rc;
	return wrap_decode(t->ks, &v, sealed);
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
grant_decode(const struct cf_ks *ks, const MDB_val *k, const MDB_val *v, struct cf_grant *g)
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
	if (!r_ok(&r) || len == 0 ||
	    (k != NULL && (k->mv_size != len + 1 + CF_ID_BYTES ||
	    memcmp(k->mv_data, g->principal, len + 1) != 0 ||
	    memcmp((const uint8_t *)k->mv_data + len + 1, g->conv_id, CF_ID_BYTES) != 0)))
		return ks_bad(ks, KS_GRANTS);
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
	return grant_decode(t->ks, &k, &v, g);
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
	int rc = grant_decode(t->ks, k, v, &g);

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
blob_decode(const struct cf_ks *ks, const MDB_val *k, const MDB_val *v, struct cf_blob_rec *b)
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
	/* Optional last field: the header hash (FORMAT.md 4.6). */
	if (!r.bad && r.n - r.off == CF_HASH_BYTES) {
		r_bytes(&r, b->head_hash, sizeof b->head_hash);
		b->has_head_hash = 1;
	}
	if (!r_ok(&r) || (b->kind != CF_BLOB_SEGMENT && b->kind != CF_BLOB_ATTACHMENT) ||
	    (k != NULL && (k->mv_size != CF_ID_BYTES ||
	    memcmp(k->mv_data, b->id, CF_ID_BYTES) != 0)))
		return ks_bad(ks, KS_BLOBS);
	return 0;
}

int
cf_ks_blob_put(struct cf_txn *t, const struct cf_blob_rec *b)
{
	uint8_t buf[KS_BLOB_FIXED + CF_SEALED_SUMMARY_MAX + CF_HASH_BYTES];
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
	if (b->has_head_hash)
		w_bytes(&w, b->head_hash, sizeof b->head_hash);
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
	return blob_decode(t->ks, &k, &v, b);
}

static int
blob_step(struct cf_txn *t, const MDB_val *k, const MDB_val *v, void *arg)
{
	const struct ks_each *e = arg;
	struct cf_blob_rec b;
	int rc = blob_decode(t->ks, k, v, &b);

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

	rc = convblobs_decode(t->ks, k, v, id);
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
	return ks_id_decode(t->ks, KS_CHATMAP, &v, conv_id);
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

/* ---- earlier generations of conversation keys ------------------------ */

#define KS_CONVKEY_SIZE (1 + CF_PK_BYTES + CF_SEALED_KEY_BYTES)

static int
convkey_decode(const MDB_val *k, const MDB_val *v, uint8_t pk[CF_PK_BYTES],
    uint8_t sealed[CF_SEALED_KEY_BYTES])
{
	struct ks_r r;

	r_start(&r, v);
	r_bytes(&r, pk, CF_PK_BYTES);
	r_bytes(&r, sealed, CF_SEALED_KEY_BYTES);
	if (!r_ok(&r) || (k != NULL && k->mv_size != CF_ID_BYTES + 4))
		return -EBADMSG;
	return 0;
}

int
cf_ks_convkey_put(struct cf_txn *t, const uint8_t conv_id[CF_ID_BYTES], uint32_t gen,
    const uint8_t pk[CF_PK_BYTES], const uint8_t sealed[CF_SEALED_KEY_BYTES])
{
	uint8_t key[CF_ID_BYTES + 4], buf[KS_CONVKEY_SIZE];
	struct ks_w w = { buf, 0, sizeof buf, 0 };
	MDB_val k = { sizeof key, key }, v;
	int rc;

	memcpy(key, conv_id, CF_ID_BYTES);
	be32_put(key + CF_ID_BYTES, gen);
	w_u8(&w, KS_LAYOUT);
	w_bytes(&w, pk, CF_PK_BYTES);
	w_bytes(&w, sealed, CF_SEALED_KEY_BYTES);
	v.mv_size = w.off;
	v.mv_data = buf;
	rc = mdb_put(t->txn, t->ks->dbi[KS_CONVKEYS], &k, &v, MDB_NOOVERWRITE);
	if (rc == MDB_KEYEXIST) {
		cf_error("%s: key generation %u of a conversation exists", t->ks->path, gen);
		return -EEXIST;
	}
	return rc == 0 ? 0 : ks_fail(t->ks, rc);
}

struct ks_convkey_each {
	int (*cb)(uint32_t gen, const uint8_t pk[CF_PK_BYTES],
	    const uint8_t sealed[CF_SEALED_KEY_BYTES], void *arg);
	void *arg;
};

static int
convkey_step(struct cf_txn *t, const MDB_val *k, const MDB_val *v, void *arg)
{
	struct ks_convkey_each *e = arg;
	uint8_t pk[CF_PK_BYTES], sealed[CF_SEALED_KEY_BYTES];

	if (convkey_decode(k, v, pk, sealed) != 0)
		return ks_bad(t->ks, KS_CONVKEYS);
	return e->cb(be32_get((const uint8_t *)k->mv_data + CF_ID_BYTES), pk, sealed, e->arg);
}

int
cf_ks_convkey_foreach(struct cf_txn *t, const uint8_t conv_id[CF_ID_BYTES],
    int (*cb)(uint32_t gen, const uint8_t pk[CF_PK_BYTES],
    const uint8_t sealed[CF_SEALED_KEY_BYTES], void *arg), void *arg)
{
	struct ks_convkey_each e = { cb, arg };

	return ks_walk(t, KS_CONVKEYS, conv_id, CF_ID_BYTES, convkey_step, &e);
}

/* ---- every wrapped key of one conversation --------------------------- */

struct ks_wrap_each {
	int (*cb)(const char *principal, const uint8_t sealed[CF_SEALED_KEY_BYTES], void *arg);
	void *arg;
};

static int
wrap_each_step(struct cf_txn *t, const MDB_val *k, const MDB_val *v, void *arg)
{
	struct ks_wrap_each *e = arg;
	char name[CF_NAME_MAX + 1];
	uint8_t sealed[CF_SEALED_KEY_BYTES];
	int rc;

	if (k->mv_size <= CF_ID_BYTES || k->mv_size > CF_ID_BYTES + CF_NAME_MAX)
		return ks_bad(t->ks, KS_WRAPS);
	memcpy(name, (const uint8_t *)k->mv_data + CF_ID_BYTES, k->mv_size - CF_ID_BYTES);
	name[k->mv_size - CF_ID_BYTES] = '\0';
	if ((rc = wrap_decode(t->ks, v, sealed)) != 0)
		return rc;
	return e->cb(name, sealed, e->arg);
}

int
cf_ks_wrap_foreach(struct cf_txn *t, const uint8_t conv_id[CF_ID_BYTES],
    int (*cb)(const char *principal, const uint8_t sealed[CF_SEALED_KEY_BYTES], void *arg),
    void *arg)
{
	struct ks_wrap_each e = { cb, arg };

	return ks_walk(t, KS_WRAPS, conv_id, CF_ID_BYTES, wrap_each_step, &e);
}

/* ---- audit log ------------------------------------------------------- */

static void
be64_put(uint8_t b[8], uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		b[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t
be64_get(const uint8_t b[8])
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | b[i];
	return v;
}

int
cf_ks_audit_append(struct cf_txn *t, uint64_t seq, const void *val, size_t len)
{
	uint8_t key[8];
	MDB_val k = { sizeof key, key };
	MDB_val v = { len, (void *)val };
	int rc;

	if (len == 0 || len > CF_AUDIT_VAL_MAX || seq == 0) {
		cf_error("%s: bad audit record", t->ks->path);
		return -EINVAL;
	}
	be64_put(key, seq);
	rc = mdb_put(t->txn, t->ks->dbi[KS_AUDIT], &k, &v, MDB_NOOVERWRITE | MDB_APPEND);
	if (rc == MDB_KEYEXIST) {
		cf_error("%s: audit record %llu exists", t->ks->path, (unsigned long long)seq);
		return -EEXIST;
	}
	if (rc != 0)
		return ks_fail(t->ks, rc);
	return 0;
}

/* Copy one audit entry out of the map. */
static int
audit_entry(struct cf_txn *t, const MDB_val *k, const MDB_val *v, uint64_t *seq,
    uint8_t *val, size_t *len)
{
	if (k->mv_size != 8 || v->mv_size == 0 || v->mv_size > CF_AUDIT_VAL_MAX) {
		cf_error("%s: bad audit record", t->ks->path);
		return -EBADMSG;
	}
	*seq = be64_get(k->mv_data);
	memcpy(val, v->mv_data, v->mv_size);
	*len = v->mv_size;
	return 0;
}

int
cf_ks_audit_last(struct cf_txn *t, uint64_t *seq, uint8_t val[CF_AUDIT_VAL_MAX], size_t *len)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc;

	rc = mdb_cursor_open(t->txn, t->ks->dbi[KS_AUDIT], &cur);
	if (rc != 0)
		return ks_fail(t->ks, rc);
	rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	if (rc == MDB_NOTFOUND)
		rc = -ENOENT;
	else if (rc != 0)
		rc = ks_fail(t->ks, rc);
	else
		rc = audit_entry(t, &k, &v, seq, val, len);
	mdb_cursor_close(cur);
	return rc;
}

struct ks_audit_each {
	int (*cb)(uint64_t seq, const uint8_t *val, size_t len, void *arg);
	void *arg;
	uint8_t val[CF_AUDIT_VAL_MAX];
};

static int
audit_step(struct cf_txn *t, const MDB_val *k, const MDB_val *v, void *arg)
{
	struct ks_audit_each *e = arg;
	uint64_t seq;
	size_t len;
	int rc;

	rc = audit_entry(t, k, v, &seq, e->val, &len);
	if (rc < 0)
		return rc;
	return e->cb(seq, e->val, len, e->arg);
}

int
cf_ks_audit_foreach(struct cf_txn *t, uint64_t from_seq,
    int (*cb)(uint64_t seq, const uint8_t *val, size_t len, void *arg), void *arg)
{
	struct ks_audit_each *e;
	MDB_cursor *cur = NULL;
	uint8_t key[8];
	MDB_val k = { sizeof key, key }, v;
	int rc;

	e = malloc(sizeof *e);
	if (e == NULL) {
		cf_error("%s: %s", t->ks->path, strerror(ENOMEM));
		return -ENOMEM;
	}
	e->cb = cb;
	e->arg = arg;
	be64_put(key, from_seq);
	rc = mdb_cursor_open(t->txn, t->ks->dbi[KS_AUDIT], &cur);
	if (rc != 0) {
		rc = ks_fail(t->ks, rc);
		goto out;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if ((rc = audit_step(t, &k, &v, e)) != 0)
			goto out;
	}
	rc = rc == MDB_NOTFOUND ? 0 : ks_fail(t->ks, rc);
out:
	mdb_cursor_close(cur);
	free(e);
	return rc;
}

/* ---- retention and legal holds --------------------------------------- */

#define KS_POLICY_KEY (1 + CF_ID_BYTES)
#define KS_RETENTION_FIXED 105
#define KS_HOLD_FIXED 94

static void
policy_key(uint8_t key[KS_POLICY_KEY], uint8_t kind, const uint8_t *conv_id)
{
	key[0] = kind;
	memcpy(key + 1, conv_id != NULL ? conv_id : ks_zero_id, CF_ID_BYTES);
}

/* Both kinds: the kind byte tells them apart, in the key and the value. */
static int
policy_decode(const struct cf_ks *ks, const MDB_val *k, const MDB_val *v, struct cf_policy *p)
{
	struct ks_r r;
	int zero;

	memset(p, 0, sizeof *p);
	r_start(&r, v);
	p->kind = r_u8(&r);
	r_bytes(&r, p->conv_id, sizeof p->conv_id);
	zero = memcmp(p->conv_id, ks_zero_id, CF_ID_BYTES) == 0;
	if (p->kind == CF_POLICY_RETENTION) {
		p->keep.forever = r_u8(&r);
		p->keep.years = r_u32(&r);
		p->keep.months = r_u32(&r);
		p->keep.days = r_u32(&r);
		p->created = r_i64(&r);
		r_str(&r, p->by, CF_NAME_MAX);
		if (p->keep.forever > 1 || p->keep.years > CF_KEEP_YEARS_MAX ||
		    p->keep.months > CF_KEEP_MONTHS_MAX || p->keep.days > CF_KEEP_DAYS_MAX ||
		    (p->keep.forever == 1) != (p->keep.years == 0 && p->keep.months == 0 &&
		    p->keep.days == 0))
			r.bad = 1;
	} else if (p->kind == CF_POLICY_HOLD) {
		p->created = r_i64(&r);
		r_str(&r, p->by, CF_NAME_MAX);
		r_str(&r, p->reason, CF_REASON_MAX);
		if (zero || p->reason[0] == '\0')
			r.bad = 1;
	} else {
		r.bad = 1;
	}
	r_bytes(&r, p->sig, sizeof p->sig);
	if (!r_ok(&r) || p->by[0] == '\0' ||
	    (k != NULL && (k->mv_size != KS_POLICY_KEY ||
	    ((const uint8_t *)k->mv_data)[0] != p->kind ||
	    memcmp((const uint8_t *)k->mv_data + 1, p->conv_id, CF_ID_BYTES) != 0)))
		return ks_bad(ks, KS_POLICY);
	return 0;
}

int
cf_ks_policy_get(struct cf_txn *t, uint8_t kind, const uint8_t *conv_id, struct cf_policy *p)
{
	uint8_t key[KS_POLICY_KEY];
	MDB_val k = { sizeof key, key }, v;
	int rc;

	policy_key(key, kind, conv_id);
	rc = ks_get(t, KS_POLICY, key, sizeof key, &v);
	if (rc < 0)
		return rc;
	return policy_decode(t->ks, &k, &v, p);
}

int
cf_ks_policy_put(struct cf_txn *t, const struct cf_policy *p)
{
	uint8_t key[KS_POLICY_KEY];
	uint8_t buf[KS_HOLD_FIXED + CF_NAME_MAX + CF_REASON_MAX];
	struct ks_w w = { buf, 0, sizeof buf, 0 };
	const struct cf_keep *kp = &p->keep;
	size_t reason_len;
	int rc, zero = memcmp(p->conv_id, ks_zero_id, CF_ID_BYTES) == 0;

	rc = ks_name_check(t->ks, p->by, 1);
	if (rc < 0)
		return rc;
	reason_len = strnlen(p->reason, CF_REASON_MAX + 1);
	if (p->kind == CF_POLICY_RETENTION) {
		if (kp->forever > 1 || kp->years > CF_KEEP_YEARS_MAX ||
		    kp->months > CF_KEEP_MONTHS_MAX || kp->days > CF_KEEP_DAYS_MAX ||
		    (kp->forever == 1) != (kp->years == 0 && kp->months == 0 && kp->days == 0)) {
			cf_error("%s: invalid retention period", t->ks->path);
			return -EINVAL;
		}
	} else if (p->kind == CF_POLICY_HOLD) {
		if (zero || reason_len == 0 || reason_len > CF_REASON_MAX) {
			cf_error("%s: a hold needs a conversation and a reason of 1 to %d bytes",
			    t->ks->path, CF_REASON_MAX);
			return -EINVAL;
		}
	} else {
		cf_error("%s: invalid policy record kind %u", t->ks->path, (unsigned)p->kind);
		return -EINVAL;
	}
	w_u8(&w, KS_LAYOUT);
	w_u8(&w, p->kind);
	w_bytes(&w, p->conv_id, CF_ID_BYTES);
	if (p->kind == CF_POLICY_RETENTION) {
		w_u8(&w, kp->forever);
		w_u32(&w, kp->years);
		w_u32(&w, kp->months);
		w_u32(&w, kp->days);
		w_i64(&w, p->created);
		w_str(&w, p->by, strlen(p->by));
	} else {
		w_i64(&w, p->created);
		w_str(&w, p->by, strlen(p->by));
		w_str(&w, p->reason, reason_len);
	}
	w_bytes(&w, p->sig, sizeof p->sig);
	policy_key(key, p->kind, p->conv_id);
	return ks_put(t, KS_POLICY, key, sizeof key, &w);
}

int
cf_ks_policy_del(struct cf_txn *t, uint8_t kind, const uint8_t *conv_id)
{
	uint8_t key[KS_POLICY_KEY];

	policy_key(key, kind, conv_id);
	return ks_del(t, KS_POLICY, key, sizeof key);
}

struct ks_policy_each {
	int (*cb)(const struct cf_policy *p, void *arg);
	void *arg;
	struct cf_policy p;
};

static int
policy_step(struct cf_txn *t, const MDB_val *k, const MDB_val *v, void *arg)
{
	struct ks_policy_each *e = arg;
	int rc = policy_decode(t->ks, k, v, &e->p);

	return rc != 0 ? rc : e->cb(&e->p, e->arg);
}

int
cf_ks_policy_foreach(struct cf_txn *t, uint8_t kind,
    int (*cb)(const struct cf_policy *p, void *arg), void *arg)
{
	struct ks_policy_each e;

	memset(&e, 0, sizeof e);
	e.cb = cb;
	e.arg = arg;
	return ks_walk(t, KS_POLICY, kind != 0 ? &kind : NULL, kind != 0 ? 1 : 0,
	    policy_step, &e);
}

/* ---- shredding ------------------------------------------------------- */

/*
 * cf_ks_convs_destroy walks each sub-database that may name one of the
 * conversations, collects the keys to remove, and removes them once the
 * walk's cursor is closed (deleting under a live cursor is avoided).  A
 * collected key is stored in a slot of KS_SLOT bytes: its length, then it.
 */
#define KS_SLOT (1 + KS_KEY_MAX)

struct ks_destroy {
	const uint8_t *ids;
	size_t n;
	struct cf_ks_destroyed *counts;         /* n, or NULL */
	int (*blob_cb)(const uint8_t blob_id[CF_ID_BYTES], size_t conv_index, void *arg);
	void *arg;
	enum ks_db db;                          /* being walked */
	size_t cur;                             /* prefix walks: the conversation */
	uint8_t *keys;                          /* slots */
	size_t nkeys, cap;
};

static int
id_index_cmp(const void *key, const void *elem)
{
	return memcmp(key, elem, CF_ID_BYTES);
}

/* The index of id in x->ids, or -1. */
static long
ks_destroy_find(const struct ks_destroy *x, const uint8_t *id)
{
	const uint8_t *hit = bsearch(id, x->ids, x->n, CF_ID_BYTES, id_index_cmp);

	return hit == NULL ? -1 : (long)((size_t)(hit - x->ids) / CF_ID_BYTES);
}

static int
ks_destroy_keep(struct cf_txn *t, struct ks_destroy *x, const MDB_val *k)
{
	if (k->mv_size == 0 || k->mv_size > KS_KEY_MAX) {
		cf_error("%s: bad %s key", t->ks->path, ks_db_names[x->db]);
		return -EBADMSG;
	}
	if (x->nkeys == x->cap) {
		size_t cap = x->cap != 0 ? x->cap * 2 : 64;
		uint8_t *nk = realloc(x->keys, cap * KS_SLOT);

		if (nk == NULL) {
			cf_error("%s: %s", t->ks->path, strerror(ENOMEM));
			return -ENOMEM;
		}
		x->keys = nk;
		x->cap = cap;
	}
	x->keys[x->nkeys * KS_SLOT] = (uint8_t)k->mv_size;
	memcpy(x->keys + x->nkeys * KS_SLOT + 1, k->mv_data, k->mv_size);
	x->nkeys++;
	return 0;
}

static void
ks_destroy_count(struct ks_destroy *x, size_t i, int kind)
{
	struct cf_ks_destroyed *c;

	if (x->counts == NULL)
		return;
	c = &x->counts[i];
	switch (x->db) {
	case KS_WRAPS:
		c->wraps++;
		break;
	case KS_CONVKEYS:
		c->convkeys++;
		break;
	case KS_GRANTS:
		c->grants++;
		break;
	case KS_BLOBS:
		if (kind == CF_BLOB_SEGMENT)
			c->segments++;
		else
			c->attachments++;
		break;
	case KS_CHATMAP:
		c->chatmap++;
		break;
	case KS_DEDUP:
		c->dedup++;
		break;
	case KS_POLICY:
		c->policy++;
		break;
	default:
		break;
	}
}

/* Prefix walks (wraps, convkeys, convblobs): every key is one to remove. */
static int
destroy_prefix_step(struct cf_txn *t, const MDB_val *k, const MDB_val *v, void *arg)
{
	struct ks_destroy *x = arg;

	(void)v;
	ks_destroy_count(x, x->cur, 0);
	return ks_destroy_keep(t, x, k);
}

static int
destroy_blob_step(struct cf_txn *t, const MDB_val *k, const MDB_val *v, void *arg)
{
	struct ks_destroy *x = arg;
	struct cf_blob_rec *b;
	long i;
	int rc;

	if ((b = malloc(sizeof *b)) == NULL) {
		cf_error("%s: %s", t->ks->path, strerror(ENOMEM));
		return -ENOMEM;
	}
	if ((rc = blob_decode(t->ks, k, v, b)) != 0)
		goto out;
	if ((i = ks_destroy_find(x, b->conv_id)) < 0)
		goto out;
	ks_destroy_count(x, (size_t)i, b->kind);
	if (x->blob_cb != NULL && (rc = x->blob_cb(b->id, (size_t)i, x->arg)) != 0)
		goto out;
	rc = ks_destroy_keep(t, x, k);
out:
	free(b);
	return rc;
}

static int
destroy_grant_step(struct cf_txn *t, const MDB_val *k, const MDB_val *v, void *arg)
{
	struct ks_destroy *x = arg;
	struct cf_grant g;
	long i;
	int rc;

	if ((rc = grant_decode(t->ks, k, v, &g)) != 0)
		return rc;
	if ((i = ks_destroy_find(x, g.conv_id)) < 0)
		return 0;
	ks_destroy_count(x, (size_t)i, 0);
	return ks_destroy_keep(t, x, k);
}

/* chatmap and dedup: the value names the conversation. */
static int
destroy_tag_step(struct cf_txn *t, const MDB_val *k, const MDB_val *v, void *arg)
{
	struct ks_destroy *x = arg;
	uint8_t id[CF_ID_BYTES];
	long i;
	int rc;

	if ((rc = ks_id_decode(t->ks, x->db, v, id)) != 0)
		return rc;
	if ((i = ks_destroy_find(x, id)) < 0)
		return 0;
	ks_destroy_count(x, (size_t)i, 0);
	return ks_destroy_keep(t, x, k);
}

/* Remove every key collected from x->db, then forget them. */
static int
ks_destroy_flush(struct cf_txn *t, struct ks_destroy *x)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < x->nkeys && rc == 0; i++) {
		const uint8_t *slot = x->keys + i * KS_SLOT;

		rc = ks_del_any(t, x->db, slot + 1, slot[0]);
		if (rc == -ENOENT)      /* a key collected twice cannot be, but harmless */
			rc = 0;
	}
	x->nkeys = 0;
	return rc;
}

int
cf_ks_convs_destroy(struct cf_txn *t, const uint8_t *ids, size_t n,
    int (*blob_cb)(const uint8_t blob_id[CF_ID_BYTES], size_t conv_index, void *arg),
    void *arg, struct cf_ks_destroyed *counts)
{
	static const enum ks_db prefixed[] = { KS_WRAPS, KS_CONVKEYS, KS_CONVBLOBS };
	static const enum ks_db tagged[] = { KS_CHATMAP, KS_DEDUP };
	static const uint8_t kinds[] = { CF_POLICY_RETENTION, CF_POLICY_HOLD };
	struct ks_destroy x;
	uint8_t key[KS_POLICY_KEY];
	size_t i, j;
	int rc = 0;

	if (n == 0) {
		cf_error("%s: nothing to shred", t->ks->path);
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		if (memcmp(ids + i * CF_ID_BYTES, ks_zero_id, CF_ID_BYTES) == 0 ||
		    (i > 0 && memcmp(ids + (i - 1) * CF_ID_BYTES, ids + i * CF_ID_BYTES,
		    CF_ID_BYTES) >= 0)) {
			cf_error("%s: conversations to shred are not a sorted set of ids",
			    t->ks->path);
			return -EINVAL;
		}
	}
	memset(&x, 0, sizeof x);
	x.ids = ids;
	x.n = n;
	x.counts = counts;
	x.blob_cb = blob_cb;
	x.arg = arg;
	if (counts != NULL)
		memset(counts, 0, n * sizeof *counts);

	/* blobs first: the caller learns every file before any record goes */
	x.db = KS_BLOBS;
	if ((rc = ks_walk(t, KS_BLOBS, NULL, 0, destroy_blob_step, &x)) != 0 ||
	    (rc = ks_destroy_flush(t, &x)) != 0)
		goto out;
	for (j = 0; j < sizeof prefixed / sizeof prefixed[0]; j++) {
		x.db = prefixed[j];
		for (i = 0; i < n; i++) {
			x.cur = i;
			if ((rc = ks_walk(t, x.db, ids + i * CF_ID_BYTES, CF_ID_BYTES,
			    destroy_prefix_step, &x)) != 0)
				goto out;
		}
		if ((rc = ks_destroy_flush(t, &x)) != 0)
			goto out;
	}
	x.db = KS_GRANTS;
	if ((rc = ks_walk(t, KS_GRANTS, NULL, 0, destroy_grant_step, &x)) != 0 ||
	    (rc = ks_destroy_flush(t, &x)) != 0)
		goto out;
	for (j = 0; j < sizeof tagged / sizeof tagged[0]; j++) {
		x.db = tagged[j];
		if ((rc = ks_walk(t, x.db, NULL, 0, destroy_tag_step, &x)) != 0 ||
		    (rc = ks_destroy_flush(t, &x)) != 0)
			goto out;
	}
	x.db = KS_POLICY;
	for (i = 0; i < n; i++) {
		for (j = 0; j < sizeof kinds / sizeof kinds[0]; j++) {
			policy_key(key, kinds[j], ids + i * CF_ID_BYTES);
			rc = ks_del(t, KS_POLICY, key, sizeof key);
			if (rc == 0)
				ks_destroy_count(&x, i, 0);
			else if (rc != -ENOENT)
				goto out;
		}
		/* last: a conversation already half gone is finished off */
		rc = ks_del(t, KS_CONVS, ids + i * CF_ID_BYTES, CF_ID_BYTES);
		if (rc != 0 && rc != -ENOENT)
			goto out;
		rc = 0;
	}
out:
	free(x.keys);
	return rc;
}

/* ---- raw value check (fuzzing, tests) -------------------------------- */

int
cf_ks_value_check(const char *db, const void *key, size_t klen, const void *val, size_t len)
{
	union {
		struct cf_meta m;
		struct cf_principal p;
		struct cf_conv c;
		struct cf_grant g;
		struct cf_blob_rec b;
		struct cf_policy pol;
		uint8_t sealed[CF_SEALED_KEY_BYTES];
		uint8_t id[CF_ID_BYTES];
		struct {
			uint8_t pk[CF_PK_BYTES];
			uint8_t sealed[CF_SEALED_KEY_BYTES];
		} ck;
	} out;
	MDB_val k = { klen, (void *)key }, v = { len, (void *)val };
	const MDB_val *kp = key != NULL ? &k : NULL;
	int i;

	if (db == NULL)
		return -EINVAL;
	for (i = 0; i < KS_NDB; i++)
		if (strcmp(db, ks_db_names[i]) == 0)
			break;
	switch (i) {
	case KS_META:
		return meta_decode(NULL, &v, &out.m);
	case KS_PRINCIPALS:
		return principal_decode(NULL, kp, &v, &out.p);
	case KS_CONVS:
		return conv_decode(NULL, kp, &v, &out.c);
	case KS_WRAPS:
		return wrap_decode(NULL, &v, out.sealed);
	case KS_GRANTS:
		return grant_decode(NULL, kp, &v, &out.g);
	case KS_BLOBS:
		return blob_decode(NULL, kp, &v, &out.b);
	case KS_CONVBLOBS:
		return convblobs_decode(NULL, kp, &v, out.id);
	case KS_CHATMAP:
	case KS_DEDUP:
		return ks_id_decode(NULL, (enum ks_db)i, &v, out.id);
	case KS_POLICY:
		return policy_decode(NULL, kp, &v, &out.pol);
	case KS_CONVKEYS:
		return convkey_decode(kp, &v, out.ck.pk, out.ck.sealed);
	default:
		return -EINVAL;
	}
}

/* ---- whole-keystore check walk (verify) ------------------------------ */

/*
 * What the walk keeps for one entry: the decoded value (the union holds
 * the large structs once) and the principal name of a wraps key.
 */
struct ks_check {
	int (*cb)(const struct cf_ks_entry *e, void *arg);
	void *arg;
	enum ks_db db;
	union {
		struct cf_meta m;
		struct cf_principal p;
		struct cf_conv c;
		struct cf_grant g;
		struct cf_blob_rec b;
		struct cf_policy pol;
		uint8_t sealed[CF_SEALED_KEY_BYTES];
		uint8_t id[CF_ID_BYTES];
		struct {
			uint8_t pk[CF_PK_BYTES];
			uint8_t sealed[CF_SEALED_KEY_BYTES];
		} ck;
	} out;
	char name[CF_NAME_MAX + 1];
};

/* A wraps key: conv id (16) || a principal name or CF_RECOVERY_NAME. */
static int
wrap_key_split(const MDB_val *k, char name[CF_NAME_MAX + 1])
{
	size_t len;

	if (k->mv_size <= CF_ID_BYTES || k->mv_size - CF_ID_BYTES > CF_NAME_MAX)
		return -EBADMSG;
	len = k->mv_size - CF_ID_BYTES;
	memcpy(name, (const uint8_t *)k->mv_data + CF_ID_BYTES, len);
	name[len] = '\0';
	if (memchr(name, '\0', len) != NULL)
		return -EBADMSG;
	if (strcmp(name, CF_RECOVERY_NAME) != 0 && cf_name_valid(name) != 0)
		return -EBADMSG;
	return 0;
}

/* Decode one raw entry of x->db into *e (silently: e->bad on failure). */
static void
check_decode(struct ks_check *x, const MDB_val *k, const MDB_val *v, struct cf_ks_entry *e)
{
	int rc = -EBADMSG;

	switch (x->db) {
	case KS_META:
		if (k->mv_size == strlen(KS_META_KEY) &&
		    memcmp(k->mv_data, KS_META_KEY, k->mv_size) == 0 &&
		    (rc = meta_decode(NULL, v, &x->out.m)) == 0)
			e->u.meta = &x->out.m;
		break;
	case KS_PRINCIPALS:
		if ((rc = principal_decode(NULL, k, v, &x->out.p)) == 0)
			e->u.principal = &x->out.p;
		break;
	case KS_CONVS:
		if ((rc = conv_decode(NULL, k, v, &x->out.c)) == 0)
			e->u.conv = &x->out.c;
		break;
	case KS_WRAPS:
		if ((rc = wrap_key_split(k, x->name)) == 0 &&
		    (rc = wrap_decode(NULL, v, x->out.sealed)) == 0) {
			e->u.wrap.conv_id = k->mv_data;
			e->u.wrap.principal = x->name;
		}
		break;
	case KS_GRANTS:
		if ((rc = grant_decode(NULL, k, v, &x->out.g)) == 0)
			e->u.grant = &x->out.g;
		break;
	case KS_BLOBS:
		if ((rc = blob_decode(NULL, k, v, &x->out.b)) == 0)
			e->u.blob = &x->out.b;
		break;
	case KS_CONVBLOBS:
		if ((rc = convblobs_decode(NULL, k, v, x->out.id)) == 0) {
			e->u.convblob.conv_id = k->mv_data;
			e->u.convblob.seq = be32_get((const uint8_t *)k->mv_data + CF_ID_BYTES);
			e->u.convblob.blob_id = x->out.id;
		}
		break;
	case KS_CHATMAP:
	case KS_DEDUP:
		if (k->mv_size == CF_HASH_BYTES &&
		    (rc = ks_id_decode(NULL, x->db, v, x->out.id)) == 0) {
			e->u.tagged.tag = k->mv_data;
			e->u.tagged.conv_id = x->out.id;
		}
		break;
	case KS_CONVKEYS:
		if ((rc = convkey_decode(k, v, x->out.ck.pk, x->out.ck.sealed)) == 0) {
			e->u.convkey.conv_id = k->mv_data;
			e->u.convkey.gen = be32_get((const uint8_t *)k->mv_data + CF_ID_BYTES);
			e->u.convkey.pk = x->out.ck.pk;
		}
		break;
	case KS_POLICY:
		if ((rc = policy_decode(NULL, k, v, &x->out.pol)) == 0)
			e->u.policy = &x->out.pol;
		break;
	case KS_AUDIT:
		/* opaque here: only what cf_ks_audit_foreach insists on */
		if (k->mv_size == 8 && v->mv_size > 0 && v->mv_size <= CF_AUDIT_VAL_MAX) {
			e->u.audit.seq = be64_get(k->mv_data);
			e->u.audit.val = v->mv_data;
			e->u.audit.len = v->mv_size;
			rc = 0;
		}
		break;
	case KS_NDB:
		break;
	}
	e->bad = rc != 0;
}

static int
check_step(struct cf_txn *t, const MDB_val *k, const MDB_val *v, void *arg)
{
	struct ks_check *x = arg;
	struct cf_ks_entry e;

	(void)t;
	memset(&e, 0, sizeof e);
	e.db = ks_db_names[x->db];
	e.key = k->mv_data;
	e.klen = k->mv_size;
	check_decode(x, k, v, &e);
	return x->cb(&e, x->arg);
}

int
cf_ks_check_walk(struct cf_txn *t, const char *db,
    int (*cb)(const struct cf_ks_entry *e, void *arg), void *arg)
{
	struct ks_check *x;
	int i, rc = 0;

	if (db != NULL) {
		for (i = 0; i < KS_NDB; i++)
			if (strcmp(db, ks_db_names[i]) == 0)
				break;
		if (i == KS_NDB) {
			cf_error("%s: no sub-database named %s", t->ks->path, db);
			return -EINVAL;
		}
	}
	/* the decoded value is large (a conversation's sealed metadata) */
	if ((x = malloc(sizeof *x)) == NULL) {
		cf_error("%s: %s", t->ks->path, strerror(ENOMEM));
		return -ENOMEM;
	}
	x->cb = cb;
	x->arg = arg;
	for (i = 0; i < KS_NDB && rc == 0; i++) {
		if (db != NULL && strcmp(db, ks_db_names[i]) != 0)
			continue;
		x->db = (enum ks_db)i;
		rc = ks_walk(t, x->db, NULL, 0, check_step, x);
	}
	cf_wipe(x, sizeof *x);
	free(x);
	return rc;
}

/* ---- page structure check -------------------------------------------- */

/*
 * LMDB trusts data.mdb: a damaged page header or node offset makes it read
 * outside the page, or fail an assertion, and the process dies.  So before
 * LMDB reads any page, every page of the current snapshot is checked here,
 * through pread on the file, against the LMDB 0.9 layout (lmdb's mdb.c:
 * MDB_page, MDB_node, MDB_meta, MDB_db; 64-bit pgno_t and size_t):
 *   page header (16)  pgno u64 @0, flags u16 @10, lower u16 @12, upper u16
 *                     @14 (overflow pages: page count u32 @12), then the
 *                     u16 node offsets of a branch or leaf page;
 *   node (8 + ...)    lo u16, hi u16, flags u16, key size u16, key, data;
 *                     leaf: data size lo | hi << 16, flags BIGDATA (data is
 *                     the u64 first page of an overflow run) or SUBDATA (a
 *                     named database's 48-byte record, main database only);
 *                     branch: child page lo | hi << 16 | flags << 32;
 *   meta (page 0, 1)  free db record @40, main db record @88, last page
 *                     @136, txn id @144;
 *   db record (48)    flags u16 @4, depth u16 @6, entries u64 @32, root @40.
 * The snapshot is the one a read transaction sees, held open during the
 * check so that no writer reuses its pages; its meta page is the one whose
 * txn id is the transaction's.
 *
 * Two levels: the open check (cf_ks_open) refuses what would make LMDB
 * misbehave (page types, bounds, node extents, child page numbers, depth);
 * cf_ks_check_pages (verify) also reports what LMDB ignores but a sound
 * file never holds (a header naming another page, stray flag bits, entry
 * counts that do not add up).
 */
#define PG_HDR 16
#define PG_BRANCH 0x01
#define PG_LEAF 0x02
#define PG_OVERFLOW 0x04
#define PG_META 0x08
#define PG_TYPES 0x6f                   /* branch leaf overflow meta leaf2 subp */
#define ND_HDR 8
#define ND_BIGDATA 0x01
#define ND_SUBDATA 0x02
#define META_FREE_DB 40
#define META_MAIN_DB 88
#define META_LAST_PG 136
#define META_TXNID 144
#define DB_REC 48
#define DB_FLAGS 4
#define DB_DEPTH 6
#define DB_ENTRIES 32
#define DB_ROOT 40
#define DB_INTEGERKEY 0x08
#define PG_NONE UINT64_MAX              /* P_INVALID: an empty database */
#define PG_DEPTH_MAX 32
#define PG_SUBDB_MAX 64                 /* named databases (Coffer has 10) */

struct ks_pages {
	const struct cf_ks *ks;
	int fd;                         /* data.mdb (LMDB's descriptor) */
	const uint8_t *map;             /* data.mdb mapped read-only, or NULL */
	size_t maplen;                  /* its size when mapped */
	size_t psize;
	uint64_t last_pg;
	int strict;
	uint64_t budget;                /* pages left to visit (no endless loop) */
	uint8_t *page;                  /* psize bytes per tree level */
	uint8_t *ovf;                   /* one overflow page header */
	void (*bad)(const char *what, void *arg);
	void *arg;
	int nbad;
	/* the named databases' records, walked after the main database */
	uint8_t subs[PG_SUBDB_MAX][DB_REC];
	uint8_t subcheck[PG_SUBDB_MAX]; /* whether to walk it (skip, only) */
	size_t nsubs;
	const char *skip;               /* a named database not to walk, or NULL */
	const char *only;               /* the only one to walk, or NULL */
};

static uint64_t
le_get(const uint8_t *p, int n)
{
	uint64_t v = 0;

	while (n-- > 0)
		v = (v << 8) | p[n];
	return v;
}

static void
pg_bad(struct ks_pages *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
pg_bad(struct ks_pages *c, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	c->nbad++;
	if (c->bad != NULL)
		c->bad(what, c->arg);
}

/* Read page pgno into buf.  0, or -EBADMSG (reported) / -errno. */
static int
pg_read(struct ks_pages *c, uint64_t pgno, uint8_t *buf, size_t len)
{
	ssize_t got;

	if (pgno < 2 || pgno > c->last_pg) {
		pg_bad(c, "page number %llu out of range", (unsigned long long)pgno);
		return -EBADMSG;
	}
	if (c->map != NULL) {
		/* the mapping: no system call per page (a keystore of a
		 * million messages has tens of thousands) */
		uint64_t off = pgno * c->psize;

		got = off >= c->maplen ? 0 :
		    (ssize_t)(c->maplen - off < len ? c->maplen - off : len);
		if (got > 0)
			memcpy(buf, c->map + off, (size_t)got);
	} else {
		got = cf_pread_all(c->fd, buf, len, (off_t)(pgno * c->psize));
	}
	if (got < 0) {
		cf_error("%s/data.mdb: %s", c->ks->path, strerror((int)-got));
		return (int)got;
	}
	if ((size_t)got != len) {
		pg_bad(c, "page %llu is past the end of the file", (unsigned long long)pgno);
		return -EBADMSG;
	}
	if (c->strict && le_get(buf, 8) != pgno)
		pg_bad(c, "page %llu: its header names page %llu", (unsigned long long)pgno,
		    (unsigned long long)le_get(buf, 8));
	return 0;
}

/* An overflow run holding dsize bytes from page pgno. */
static int
pg_overflow(struct ks_pages *c, uint64_t pgno, uint64_t dsize)
{
	uint64_t n;
	int rc;

	if ((rc = pg_read(c, pgno, c->ovf, PG_HDR)) != 0)
		return rc;
	n = le_get(c->ovf + 12, 4);
	if ((le_get(c->ovf + 10, 2) & PG_TYPES) != PG_OVERFLOW || n == 0 ||
	    n > c->last_pg - pgno + 1 || dsize > n * c->psize - PG_HDR) {
		pg_bad(c, "page %llu: bad overflow page", (unsigned long long)pgno);
		return -EBADMSG;
	}
	if (c->strict && le_get(c->ovf + 10, 2) != PG_OVERFLOW)
		pg_bad(c, "page %llu: stray flags", (unsigned long long)pgno);
	return 0;
}

/* Whether a main-database key (ksize bytes) names the database name
 * (NULL: none). */
static int
pg_named(const uint8_t *key, size_t ksize, const char *name)
{
	return name != NULL && ksize == strlen(name) && memcmp(key, name, ksize) == 0;
}

/* The subtree at pgno, which sits `level` levels above the leaves. */
static int
pg_walk(struct ks_pages *c, uint64_t pgno, unsigned level, int main_db, uint64_t *entries)
{
	uint8_t *p = c->page + (size_t)level * c->psize;
	unsigned want = level > 0 ? PG_BRANCH : PG_LEAF;
	size_t lower, upper, n, i, off, ksize, low = SIZE_MAX;
	uint64_t dsize;
	unsigned flags;
	int rc;

	if (c->budget-- == 0) {
		pg_bad(c, "page %llu: the tree has more pages than the file",
		    (unsigned long long)pgno);
		return -EBADMSG;
	}
	if ((rc = pg_read(c, pgno, p, c->psize)) != 0)
		return rc;
	flags = (unsigned)le_get(p + 10, 2);
	lower = (size_t)le_get(p + 12, 2);
	upper = (size_t)le_get(p + 14, 2);
	if ((flags & PG_TYPES) != want || lower < PG_HDR || (lower - PG_HDR) % 2 != 0 ||
	    upper < lower || upper > c->psize || lower == PG_HDR) {
		pg_bad(c, "page %llu: bad %s page header", (unsigned long long)pgno,
		    level > 0 ? "branch" : "leaf");
		return -EBADMSG;
	}
	if (c->strict && flags != want)
		pg_bad(c, "page %llu: stray flags", (unsigned long long)pgno);
	n = (lower - PG_HDR) / 2;
	for (i = 0; i < n; i++) {
		const uint8_t *nd;

		off = (size_t)le_get(p + PG_HDR + 2 * i, 2);
		if (off < upper || off > c->psize - ND_HDR) {
			pg_bad(c, "page %llu: node %zu out of the page", (unsigned long long)pgno, i);
			return -EBADMSG;
		}
		if (off < low)
			low = off;
		nd = p + off;
		ksize = (size_t)le_get(nd + 6, 2);
		flags = (unsigned)le_get(nd + 4, 2);
		if (ksize > c->psize - ND_HDR - off) {
			pg_bad(c, "page %llu: node %zu key out of the page", (unsigned long long)pgno,
			    i);
			return -EBADMSG;
		}
		if (i == n - 1 && c->strict && low != upper)
			pg_bad(c, "page %llu: free space ends at %zu, the nodes start at %zu",
			    (unsigned long long)pgno, upper, low);
		if (level > 0) {
			uint64_t child = le_get(nd, 4) | ((uint64_t)flags << 32);

			if ((rc = pg_walk(c, child, level - 1, main_db, entries)) != 0)
				return rc;
			continue;
		}
		(*entries)++;
		dsize = le_get(nd, 4);
		if ((flags & ~(unsigned)(ND_BIGDATA | ND_SUBDATA)) != 0 ||
		    ((flags & ND_SUBDATA) && (!main_db || (flags & ND_BIGDATA) || dsize != DB_REC))) {
			pg_bad(c, "page %llu: node %zu has bad flags", (unsigned long long)pgno, i);
			return -EBADMSG;
		}
		if (flags & ND_BIGDATA) {
			if (8 > c->psize - ND_HDR - off - ksize) {
				pg_bad(c, "page %llu: node %zu out of the page",
				    (unsigned long long)pgno, i);
				return -EBADMSG;
			}
			if ((rc = pg_overflow(c, le_get(nd + ND_HDR + ksize, 8), dsize)) != 0)
				return rc;
			continue;
		}
		if (dsize > c->psize - ND_HDR - off - ksize) {
			pg_bad(c, "page %llu: node %zu value out of the page",
			    (unsigned long long)pgno, i);
			return -EBADMSG;
		}
		if (flags & ND_SUBDATA) {
			if (c->nsubs == PG_SUBDB_MAX) {
				pg_bad(c, "more than %d named databases", PG_SUBDB_MAX);
				return -EBADMSG;
			}
			c->subcheck[c->nsubs] = (uint8_t)(c->only != NULL ?
			    pg_named(nd + ND_HDR, ksize, c->only) :
			    !pg_named(nd + ND_HDR, ksize, c->skip));
			memcpy(c->subs[c->nsubs++], nd + ND_HDR + ksize, DB_REC);
		}
	}
	return 0;
}

/* A whole database from its 48-byte record. */
static int
pg_tree(struct ks_pages *c, const uint8_t rec[DB_REC], int main_db)
{
	uint64_t root = le_get(rec + DB_ROOT, 8), entries = 0;
	unsigned depth = (unsigned)le_get(rec + DB_DEPTH, 2);
	unsigned dflags = (unsigned)le_get(rec + DB_FLAGS, 2);
	int rc;

	if (root == PG_NONE)
		return 0;
	/* Coffer's databases use default flags; only LMDB's free list has
	 * integer keys */
	if (depth == 0 || depth > PG_DEPTH_MAX || (dflags & ~(unsigned)DB_INTEGERKEY) != 0) {
		pg_bad(c, "database record with root page %llu is damaged",
		    (unsigned long long)root);
		return -EBADMSG;
	}
	if ((rc = pg_walk(c, root, depth - 1, main_db, &entries)) != 0)
		return rc;
	if (c->strict && entries != le_get(rec + DB_ENTRIES, 8))
		pg_bad(c, "database with root page %llu holds %llu entries, its record says %llu",
		    (unsigned long long)root, (unsigned long long)entries,
		    (unsigned long long)le_get(rec + DB_ENTRIES, 8));
	return 0;
}

/*
 * Check the snapshot of a read transaction.  Returns 0 (look at c->nbad in
 * strict mode), -EAGAIN when a commit overwrote the meta page meanwhile,
 * -EBADMSG on damage that stops the check, or -errno.
 */
static int
pg_check_txn(struct ks_pages *c, MDB_txn *txn)
{
	uint8_t meta[160], rec[DB_REC];
	uint64_t txnid = (uint64_t)mdb_txn_id(txn), ids[2] = { 0, 0 };
	ssize_t got;
	int rc, i;

	/* i == 2: again the one a read transaction uses, of its txn id's parity */
	for (i = 0; i < 3; i++) {
		got = cf_pread_all(c->fd, meta, sizeof meta,
		    (off_t)(i < 2 ? (uint64_t)i : (txnid & 1)) * (off_t)c->psize);
		if (got < 0) {
			cf_error("%s/data.mdb: %s", c->ks->path, strerror((int)-got));
			return (int)got;
		}
		if (got != (ssize_t)sizeof meta) {
			pg_bad(c, "data.mdb is shorter than its meta pages");
			return -EBADMSG;
		}
		if (i < 2 && c->strict &&
		    (le_get(meta, 8) != (uint64_t)i || le_get(meta + 10, 2) != PG_META))
			pg_bad(c, "meta page %d: damaged header", i);
		if (i < 2)
			ids[i] = le_get(meta + META_TXNID, 8);
	}
	/* commits alternate between the two: their ids are consecutive, the
	 * even one in page 0 (a new environment: both 0).  Otherwise LMDB
	 * may be reading an older snapshot, silently. */
	if (c->strict && !(ids[0] == 0 && ids[1] == 0) &&
	    ((ids[0] & 1) != 0 || (ids[1] & 1) != 1 ||
	    (ids[0] != ids[1] + 1 && ids[1] != ids[0] + 1)))
		pg_bad(c, "meta pages: transaction ids %llu and %llu are not consecutive",
		    (unsigned long long)ids[0], (unsigned long long)ids[1]);
	if (le_get(meta + META_TXNID, 8) != txnid)
		return -EAGAIN;
	c->last_pg = le_get(meta + META_LAST_PG, 8);
	c->budget = c->last_pg + 1;
	memcpy(rec, meta + META_FREE_DB, DB_REC);
	/* the free database's md_pad holds the page size */
	rec[0] = rec[1] = rec[2] = rec[3] = 0;
	if ((rc = pg_tree(c, rec, 0)) != 0)
		return rc;
	c->nsubs = 0;
	if ((rc = pg_tree(c, meta + META_MAIN_DB, 1)) != 0)
		return rc;
	for (i = 0; i < (int)c->nsubs; i++)
		if (c->subcheck[i] && (rc = pg_tree(c, c->subs[i], 0)) != 0)
			return rc;
	return 0;
}

/* Check the environment's current snapshot.  Returns 0, -EBADMSG (damage:
 * reported through c->bad) or -errno (reported). */
static int
ks_pages_check(struct ks_pages *c, MDB_env *env)
{
	MDB_txn *txn = NULL;
	MDB_stat st;
	int rc, tries;

	if ((rc = mdb_env_get_fd(env, &c->fd)) != 0 || (rc = mdb_env_stat(env, &st)) != 0)
		return ks_fail(c->ks, rc);
	c->psize = st.ms_psize;
	{
		struct stat fst;
		void *m;

		/* pread stays the fallback when the file cannot be mapped */
		if (fstat(c->fd, &fst) == 0 && fst.st_size > 0 &&
		    (uint64_t)fst.st_size <= SIZE_MAX &&
		    (m = mmap(NULL, (size_t)fst.st_size, PROT_READ, MAP_SHARED, c->fd, 0)) !=
		    MAP_FAILED) {
			c->map = m;
			c->maplen = (size_t)fst.st_size;
		}
	}
	c->page = malloc((size_t)PG_DEPTH_MAX * c->psize);
	c->ovf = malloc(PG_HDR);
	if (c->page == NULL || c->ovf == NULL) {
		cf_error("%s: %s", c->ks->path, strerror(ENOMEM));
		rc = -ENOMEM;
		goto out;
	}
	for (tries = 0; tries < 10; tries++) {
		if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0) {
			rc = ks_fail(c->ks, rc);
			goto out;
		}
		rc = pg_check_txn(c, txn);
		mdb_txn_abort(txn);
		if (rc != -EAGAIN)
			break;
	}
	/* not a commit racing us ten times: the meta pages lie */
	if (rc == -EAGAIN) {
		pg_bad(c, "the meta pages do not hold the current transaction id");
		rc = -EBADMSG;
	}
	if (rc == 0 && c->nbad > 0)
		rc = -EBADMSG;
out:
	if (c->map != NULL)
		(void)munmap((void *)c->map, c->maplen);
	c->map = NULL;
	free(c->page);
	free(c->ovf);
	return rc;
}

/* The open check reports the first damage once, with the keystore's path. */
static void
ks_pages_report(const char *what, void *arg)
{
	const struct cf_ks *ks = arg;

	cf_error("%s: damaged (%s)", ks->path, what);
}

/* The check of cf_ks_open and ks_ready, reporting the first damage once
 * with the keystore's path; skip and only as in struct ks_pages. */
static int
ks_pages_open_check(const struct cf_ks *ks, const char *skip, const char *only)
{
	struct ks_pages c;

	memset(&c, 0, sizeof c);
	c.ks = ks;
	c.bad = ks_pages_report;
	c.arg = (void *)ks;
	c.skip = skip;
	c.only = only;
	return ks_pages_check(&c, ks->env);
}

/*
 * Before sub-database db is used: the dedup tree is checked on its first
 * use in this environment (the open check left it out).  The check reads
 * the current snapshot through a read transaction of its own, also when
 * the caller holds a write transaction (the environment is MDB_NOTLS).
 * Returns 0, -EBADMSG (reported) or -errno.
 */
static int
ks_ready(struct cf_ks *ks, enum ks_db db)
{
	int rc;

	if (db != KS_DEDUP || atomic_load(&ks->dedup_ok))
		return 0;
	if ((rc = pthread_mutex_lock(&ks->dedup_lock)) != 0)
		return -rc;
	rc = 0;
	if (!atomic_load(&ks->dedup_ok) &&
	    (rc = ks_pages_open_check(ks, NULL, ks_db_names[KS_DEDUP])) == 0)
		atomic_store(&ks->dedup_ok, 1);
	pthread_mutex_unlock(&ks->dedup_lock);
	return rc;
}

int
cf_ks_check_pages(struct cf_ks *ks, void (*bad)(const char *what, void *arg), void *arg)
{
	struct ks_pages c;
	int rc;

	memset(&c, 0, sizeof c);
	c.ks = ks;
	c.strict = 1;
	c.bad = bad;
	c.arg = arg;
	rc = ks_pages_check(&c, ks->env);
	if (rc == -EBADMSG || rc == 0)
		return c.nbad;
	return rc;
}
