/*
 * keystore.h - the LMDB keystore: ARCHIVE/keystore/{data,lock}.mdb.
 *
 * It holds everything that is not a blob: archive metadata, principals and
 * their passphrase-wrapped secret keys, conversations with their public keys
 * and sealed titles, the conversation keys wrapped per principal, grants,
 * the list of blobs with each file's size and hash, and the keyed tags that
 * make imports idempotent.  Values are fixed little-endian layouts described
 * in docs/FORMAT.md; this module alone encodes and decodes them.
 *
 * This module knows nothing about policy: it stores and fetches.  fs/archive.c
 * decides who may do what.  A transaction is one struct cf_txn; every
 * function taking one works inside it, and nothing is visible to others
 * until cf_ks_commit().  One write transaction at a time (LMDB's writer
 * lock), any number of readers, across processes.
 *
 * Sub-databases (key -> value):
 *   meta        "archive"                     -> struct cf_meta
 *   principals  name                          -> struct cf_principal
 *   convs       conv id (16)                  -> struct cf_conv
 *   wraps       conv id (16) || principal     -> sealed conversation sk (80)
 *   grants      principal || 0 || conv id(16) -> struct cf_grant (all-zero id = --all)
 *   blobs       blob id (16)                  -> struct cf_blob_rec
 *   convblobs   conv id (16) || seq (u32 BE)  -> blob id (16), segments in order
 *   chatmap     keyed tag (32)                -> conv id (16)
 *   dedup       keyed tag (32)                -> conv id (16)
 *   audit       seq (u64 BE, from 1)          -> audit record (fs/audit.c)
 *   convkeys    conv id (16) || gen (u32 BE)  -> earlier key pair generation:
 *                                                pk (32) || sk sealed to the
 *                                                next generation's pk (80)
 *   policy      "R" || conv id (16)           -> struct cf_policy, a retention
 *                                                (all-zero id: the default)
 *               "H" || conv id (16)           -> struct cf_policy, a legal hold
 * The principal name of the recovery key in wraps is CF_RECOVERY_NAME.
 */
#ifndef COFFER_KEYSTORE_H
#define COFFER_KEYSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

#define CF_NAME_MAX 64
#define CF_RECOVERY_NAME "#recovery"
#define CF_SEALED_META_MAX 4096  /* sealed conversation metadata */
#define CF_SEALED_SUMMARY_MAX 1024
#define CF_REASON_MAX 256
#define CF_FORMAT_VERSION 1
#define CF_AUDIT_VAL_MAX 1024        /* largest encoded audit record */

/* flags for cf_ks_open */
#define CF_KS_RDONLY 0x1
/* Skip the page structure check: only to open again, in the same process
 * or a child, a keystore this program has just checked (the mount daemon
 * after fork: cf_archive_reopen). */
#define CF_KS_CHECKED 0x2

struct cf_ks;
struct cf_txn;

struct cf_meta {
	uint32_t version;                   /* CF_FORMAT_VERSION */
	uint8_t archive_id[CF_ID_BYTES];
	uint8_t recovery_pk[CF_PK_BYTES];
	/* the archive's ingest key sealed to recovery_pk */
	uint8_t recovery_sealed_ingest_key[CF_SEALED_KEY_BYTES];
	int64_t created;                    /* Unix seconds */
	/* the archive's signing public key; the secret key is derived from the
	 * recovery secret and sealed to every admin */
	uint8_t sign_pk[CF_SIGN_PK_BYTES];
	uint8_t sig[CF_SIG_BYTES];          /* by sign_pk, over the fields above */
};

enum cf_role { CF_ROLE_ADMIN = 1, CF_ROLE_REVIEWER = 2, CF_ROLE_INGEST = 3 };

struct cf_principal {
	char name[CF_NAME_MAX + 1];
	uint8_t role;                       /* enum cf_role */
	uint8_t disabled;                   /* 1: refused everywhere */
	uint8_t has_ingest_key;             /* sealed_ingest_key is valid */
	uint8_t pk[CF_PK_BYTES];
	struct cf_kdf kdf;
	uint8_t wrapped_sk[CF_PW_WRAPPED_BYTES];
	/* the archive's ingest key (chat-map and dedup tags), sealed to pk */
	uint8_t sealed_ingest_key[CF_SEALED_KEY_BYTES];
	int64_t created;
	uint8_t has_sign_key;               /* admins: sealed_sign_sk is valid */
	uint8_t sealed_sign_sk[CF_SEALED_SIGN_KEY_BYTES];
	uint8_t sig[CF_SIG_BYTES];          /* archive signature (archive.c) */
};

struct cf_conv {
	uint8_t id[CF_ID_BYTES];
	uint8_t pk[CF_PK_BYTES];
	int64_t created;
	uint32_t next_seq;                  /* seq of the next segment */
	uint8_t chat_tag[CF_HASH_BYTES];    /* the chatmap key that names it */
	uint8_t mac[CF_HASH_BYTES];         /* keyed with the ingest key (archive.c) */
	uint32_t sealed_meta_len;
	/* JSON {"title":…,"source":…,"chat":…} sealed to pk */
	uint8_t sealed_meta[CF_SEALED_META_MAX];
};

struct cf_grant {
	char principal[CF_NAME_MAX + 1];
	uint8_t conv_id[CF_ID_BYTES];       /* all zero: every conversation */
	int64_t not_before;                 /* Unix seconds, 0 = no bound */
	int64_t not_after;                  /* Unix seconds, 0 = no bound */
	int64_t created;
	char granted_by[CF_NAME_MAX + 1];
	char reason[CF_REASON_MAX + 1];
	uint8_t sig[CF_SIG_BYTES];          /* archive signature (archive.c) */
};

struct cf_blob_rec {
	uint8_t id[CF_ID_BYTES];
	uint8_t conv_id[CF_ID_BYTES];
	uint8_t kind;                       /* CF_BLOB_SEGMENT / CF_BLOB_ATTACHMENT */
	uint32_t seq;                       /* segments: position in the conversation */
	uint64_t file_size;
	uint64_t plain_size;
	uint8_t hash[CF_HASH_BYTES];
	int64_t created;
	uint32_t sealed_summary_len;        /* segments: JSON summary sealed to conv pk */
	uint8_t sealed_summary[CF_SEALED_SUMMARY_MAX];
	int has_head_hash;                  /* records written before it have none */
	uint8_t head_hash[CF_HASH_BYTES];   /* BLAKE2b-256 of the blob's header */
};

/* Create ARCHIVE/keystore/ (0700) and an empty environment.  Fails with
 * -EEXIST if one is there.  Returns 0 or -errno (reported). */
int cf_ks_create(const char *archive_dir);
/* Open the environment (map size grows as needed).  Returns 0 or -errno;
 * a missing or damaged keystore is reported with its path. */
int cf_ks_open(struct cf_ks **ks, const char *archive_dir, int flags);
/* Accepts NULL. */
void cf_ks_close(struct cf_ks *ks);
/*
 * Drop this process's mapping of the keystore pages it has touched (they
 * stay in the kernel's page cache).  Call with no transaction open, after a
 * large write: it keeps the resident size of a long import from growing
 * with the keystore.
 */
void cf_ks_release_pages(struct cf_ks *ks);
/* Consistent compact copy of the environment into dir (mdb_env_copy2). */
int cf_ks_backup(struct cf_ks *ks, const char *dir);

int cf_ks_begin(struct cf_ks *ks, int write, struct cf_txn **t);
/* Commit (and free t).  -ENOSPC etc. reported.  On failure t is freed too. */
int cf_ks_commit(struct cf_txn *t);
/* Abort and free.  Accepts NULL. */
void cf_ks_abort(struct cf_txn *t);

/* All getters return 0, -ENOENT when absent, -EBADMSG for a value that does
 * not decode (reported), or -errno.  Putters overwrite. */
int cf_ks_meta_get(struct cf_txn *t, struct cf_meta *m);
int cf_ks_meta_put(struct cf_txn *t, const struct cf_meta *m);

int cf_ks_principal_get(struct cf_txn *t, const char *name, struct cf_principal *p);
int cf_ks_principal_put(struct cf_txn *t, const struct cf_principal *p);
/* Calls cb for every principal in name order; a non-zero return from cb
 * stops the walk and is returned. */
int cf_ks_principal_foreach(struct cf_txn *t,
    int (*cb)(const struct cf_principal *p, void *arg), void *arg);

int cf_ks_conv_get(struct cf_txn *t, const uint8_t id[CF_ID_BYTES], struct cf_conv *c);
int cf_ks_conv_put(struct cf_txn *t, const struct cf_conv *c);
int cf_ks_conv_foreach(struct cf_txn *t,
    int (*cb)(const struct cf_conv *c, void *arg), void *arg);

int cf_ks_wrap_get(struct cf_txn *t, const uint8_t conv_id[CF_ID_BYTES],
    const char *principal, uint8_t sealed[CF_SEALED_KEY_BYTES]);
int cf_ks_wrap_put(struct cf_txn *t, const uint8_t conv_id[CF_ID_BYTES],
    const char *principal, const uint8_t sealed[CF_SEALED_KEY_BYTES]);
/* Returns 0 or -ENOENT. */
int cf_ks_wrap_del(struct cf_txn *t, const uint8_t conv_id[CF_ID_BYTES], const char *principal);

/* conv_id NULL means the --all grant. */
int cf_ks_grant_get(struct cf_txn *t, const char *principal,
    const uint8_t conv_id[CF_ID_BYTES], struct cf_grant *g);
int cf_ks_grant_put(struct cf_txn *t, const struct cf_grant *g);
int cf_ks_grant_del(struct cf_txn *t, const char *principal, const uint8_t conv_id[CF_ID_BYTES]);
/* principal NULL: every grant. */
int cf_ks_grant_foreach(struct cf_txn *t, const char *principal,
    int (*cb)(const struct cf_grant *g, void *arg), void *arg);

/* Also maintains convblobs for segments. */
int cf_ks_blob_put(struct cf_txn *t, const struct cf_blob_rec *b);
int cf_ks_blob_get(struct cf_txn *t, const uint8_t id[CF_ID_BYTES], struct cf_blob_rec *b);
int cf_ks_blob_foreach(struct cf_txn *t,
    int (*cb)(const struct cf_blob_rec *b, void *arg), void *arg);
/* The segments of one conversation in seq order. */
int cf_ks_conv_segments(struct cf_txn *t, const uint8_t conv_id[CF_ID_BYTES],
    int (*cb)(const struct cf_blob_rec *b, void *arg), void *arg);

int cf_ks_chatmap_get(struct cf_txn *t, const uint8_t tag[CF_HASH_BYTES], uint8_t conv_id[CF_ID_BYTES]);
int cf_ks_chatmap_put(struct cf_txn *t, const uint8_t tag[CF_HASH_BYTES], const uint8_t conv_id[CF_ID_BYTES]);
/* Returns 1 present, 0 absent, or -errno. */
int cf_ks_dedup_has(struct cf_txn *t, const uint8_t tag[CF_HASH_BYTES]);
int cf_ks_dedup_put(struct cf_txn *t, const uint8_t tag[CF_HASH_BYTES], const uint8_t conv_id[CF_ID_BYTES]);

/*
 * Run the decoder of sub-database db ("meta", "principals", "convs",
 * "wraps", "grants", "blobs", "convblobs", "chatmap", "dedup", "policy")
 * over one raw value, exactly as the getters do, without a keystore and
 * without reporting anything.  key/klen is the key the value is stored under; with
 * key NULL the checks that the value agrees with its key are skipped (meta,
 * wraps, chatmap and dedup values say nothing about their key: there key
 * is ignored).  For the fuzzers (tests/fuzz/fuzz_keystore.c) and tests.
 * Returns 0 when the value decodes, -EBADMSG when not, -EINVAL for an
 * unknown db.
 */
int cf_ks_value_check(const char *db, const void *key, size_t klen, const void *val, size_t len);

/*
 * Key rotation (archive.c, at revocation): generation g of a conversation's
 * key pair, kept as its public key and its secret key sealed to generation
 * g + 1's public key, so that whoever holds the current key can open every
 * earlier one, and nobody holding only an earlier one can open a later one.
 * put fails with -EEXIST when gen exists.  foreach walks one conversation
 * in increasing generation order.  cf_ks_convs_destroy removes them with
 * the conversation (shredding).
 */
int cf_ks_convkey_put(struct cf_txn *t, const uint8_t conv_id[CF_ID_BYTES], uint32_t gen,
    const uint8_t pk[CF_PK_BYTES], const uint8_t sealed[CF_SEALED_KEY_BYTES]);
int cf_ks_convkey_foreach(struct cf_txn *t, const uint8_t conv_id[CF_ID_BYTES],
    int (*cb)(uint32_t gen, const uint8_t pk[CF_PK_BYTES],
    const uint8_t sealed[CF_SEALED_KEY_BYTES], void *arg), void *arg);
/* Every wrapped key of one conversation, in principal name order
 * (CF_RECOVERY_NAME included). */
int cf_ks_wrap_foreach(struct cf_txn *t, const uint8_t conv_id[CF_ID_BYTES],
    int (*cb)(const char *principal, const uint8_t sealed[CF_SEALED_KEY_BYTES], void *arg),
    void *arg);

/*
 * The audit log: opaque records (fs/audit.c encodes them) under increasing
 * sequence numbers.  Append only: there is no delete.  append fails with
 * -EEXIST if seq is taken and -EINVAL if it is not above the last one.
 * last returns -ENOENT for an empty log.  foreach walks from from_seq
 * upwards; cb's non-zero return stops the walk and is returned.
 */
int cf_ks_audit_append(struct cf_txn *t, uint64_t seq, const void *val, size_t len);
int cf_ks_audit_last(struct cf_txn *t, uint64_t *seq, uint8_t val[CF_AUDIT_VAL_MAX], size_t *len);
int cf_ks_audit_foreach(struct cf_txn *t, uint64_t from_seq,
    int (*cb)(uint64_t seq, const uint8_t *val, size_t len, void *arg), void *arg);

/*
 * Retention and legal holds ("policy"; docs/RETENTION.md).  One record per
 * (kind, conversation): a retention says how long a conversation is kept
 * after its last message (the all-zero conversation id holds the default
 * for conversations without their own); a hold keeps a conversation from
 * being shredded at all.  Records are signed by the archive (archive.c,
 * retention_msg and hold_msg); this module only stores them.
 */
#define CF_POLICY_RETENTION 'R'
#define CF_POLICY_HOLD 'H'
/* Largest amounts a retention may name (a thousand years, in each unit). */
#define CF_KEEP_YEARS_MAX 1000u
#define CF_KEEP_MONTHS_MAX 12000u
#define CF_KEEP_DAYS_MAX 366000u

/* How long to keep: calendar years, then months, then days, added to the
 * time of the last message (fs/retention.h); or forever. */
struct cf_keep {
	uint8_t forever;                    /* 1: kept forever, amounts zero */
	uint32_t years, months, days;
};

struct cf_policy {
	uint8_t kind;                       /* CF_POLICY_RETENTION or _HOLD */
	uint8_t conv_id[CF_ID_BYTES];       /* retention: all zero = default */
	struct cf_keep keep;                /* retention only (zero for holds) */
	int64_t created;                    /* Unix seconds */
	char by[CF_NAME_MAX + 1];           /* the admin (or CF_RECOVERY_NAME) */
	char reason[CF_REASON_MAX + 1];     /* holds only ("" for retentions) */
	uint8_t sig[CF_SIG_BYTES];          /* archive signature (archive.c) */
};

/* kind is CF_POLICY_RETENTION or CF_POLICY_HOLD; conv_id NULL means the
 * all-zero id (the default retention; a hold never has it). */
int cf_ks_policy_get(struct cf_txn *t, uint8_t kind, const uint8_t *conv_id,
    struct cf_policy *p);
int cf_ks_policy_put(struct cf_txn *t, const struct cf_policy *p);
/* Returns 0 or -ENOENT (not reported). */
int cf_ks_policy_del(struct cf_txn *t, uint8_t kind, const uint8_t *conv_id);
/* Every record of kind (0: both), in key order; a record that does not
 * decode stops the walk with -EBADMSG (reported). */
int cf_ks_policy_foreach(struct cf_txn *t, uint8_t kind,
    int (*cb)(const struct cf_policy *p, void *arg), void *arg);

/*
 * Shredding: remove every trace of conversations ids[0..n-1] (n >= 1,
 * sorted by memcmp, no duplicates) from the keystore inside t: the convs
 * record, every wrapped key (every principal and CF_RECOVERY_NAME), the
 * earlier key generations, the grants naming them, their blobs records
 * and segment lists, the chatmap and dedup entries whose value names one
 * of them, and their retention and hold records.  blob_cb (may be NULL)
 * is called with each removed blob's id and the index of its conversation
 * in ids, before the record goes, so that the caller can unlink the files
 * once t commits; its non-zero return stops and is returned.  counts
 * (may be NULL; n elements) receives what went per conversation.
 * This is the only way blobs and convblobs entries are ever removed: the
 * keystore refuses to drop a segment otherwise.  Checking legal holds is
 * the caller's business (archive.c, cf_shred).  Returns 0 or -errno.
 */
struct cf_ks_destroyed {
	uint64_t wraps, convkeys, grants, segments, attachments, chatmap, dedup, policy;
};
int cf_ks_convs_destroy(struct cf_txn *t, const uint8_t *ids, size_t n,
    int (*blob_cb)(const uint8_t blob_id[CF_ID_BYTES], size_t conv_index, void *arg),
    void *arg, struct cf_ks_destroyed *counts);

/*
 * One entry of the keystore as cf_ks_check_walk hands it over: its
 * sub-database, its raw key, and, unless bad is set, its decoded value in
 * the member of u named after the sub-database (chatmap and dedup share
 * tagged).  bad: the key or value does not decode, exactly as a getter
 * would refuse it.  Pointers are valid during the callback only.
 */
struct cf_ks_entry {
	const char *db;                 /* "meta", "principals", ..., "audit" */
	const uint8_t *key;
	size_t klen;
	int bad;
	union {
		const struct cf_meta *meta;
		const struct cf_principal *principal;
		const struct cf_conv *conv;
		struct {
			const uint8_t *conv_id;
			const char *principal;  /* a name or CF_RECOVERY_NAME */
		} wrap;
		const struct cf_grant *grant;
		const struct cf_blob_rec *blob;
		struct {
			const uint8_t *conv_id;
			uint32_t seq;
			const uint8_t *blob_id;
		} convblob;
		struct {
			const uint8_t *tag;
			const uint8_t *conv_id;
		} tagged;
		struct {
			uint64_t seq;
			const uint8_t *val;     /* opaque (fs/audit.c) */
			size_t len;
		} audit;
		struct {
			const uint8_t *conv_id;
			uint32_t gen;
			const uint8_t *pk;
		} convkey;
		const struct cf_policy *policy;
	} u;
};

/*
 * Walk every entry of sub-database db (NULL: of every sub-database, in the
 * order of keystore.h's list, policy last), in key order, decoding each with
 * the getters' own decoders, and call cb for each, bad or not: a bad entry
 * is not reported here (the caller says what it makes of it) and does not
 * stop the walk.  A non-zero return from cb stops the walk and is
 * returned.  For `coffer verify`.  Returns 0, cb's value, or -errno (LMDB
 * failures reported, as elsewhere).
 */
int cf_ks_check_walk(struct cf_txn *t, const char *db,
    int (*cb)(const struct cf_ks_entry *e, void *arg), void *arg);

/*
 * Check the structure of data.mdb's current snapshot page by page, without
 * LMDB (which trusts the file and may crash on a damaged page): page
 * types, headers, node extents, child and overflow page numbers, tree
 * depths and entry counts.  cf_ks_open already refuses (-EBADMSG) a
 * keystore whose damage would make LMDB misbehave; this also finds what
 * LMDB would ignore.  bad gets one line per finding.  For `coffer verify`.
 * Returns the number of findings (0: sound), or -errno (reported).
 */
int cf_ks_check_pages(struct cf_ks *ks, void (*bad)(const char *what, void *arg), void *arg);

#endif
