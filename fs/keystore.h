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
 * The principal name of the recovery key in wraps is CF_RECOVERY_NAME.
 */
#ifndef COFFER_KEYSTORE_H
#define COFFER_KEYSTORE_H

#include <stdint.h>

#include "crypto.h"

#define CF_NAME_MAX 64
#define CF_RECOVERY_NAME "#recovery"
#define CF_SEALED_META_MAX 4096  /* sealed conversation metadata */
#define CF_SEALED_SUMMARY_MAX 1024
#define CF_REASON_MAX 256
#define CF_FORMAT_VERSION 1

/* flags for cf_ks_open */
#define CF_KS_RDONLY 0x1

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

#endif
