/*
 * archive.h - the archive model: identities, conversations, policy, import,
 * grants, recovery and keyless verification, on top of crypto, blob,
 * keystore and record.  This is the API the `coffer` tool and the `cofferfs`
 * daemon use; neither touches the keystore or the blobs directly.
 *
 * Archive folder layout:
 *   ARCHIVE/COFFER        a one-line marker "coffer archive v1" (no secret)
 *   ARCHIVE/keystore/     LMDB environment (keystore.h)
 *   ARCHIVE/blobs/XX/ID   immutable ciphertext files (blob.h)
 *
 * Who can read what is enforced twice: cryptographically (a conversation's
 * secret key is sealed only to the principals allowed to hold it: every
 * admin, the recovery key, and reviewers through grants) and by policy
 * (cf_chats_list checks grants, expiry and the principal's status before it
 * unwraps anything).  The ingest identity holds no conversation secret key;
 * it has only the archive's ingest key, which computes the chat-map and
 * dedup tags.
 */
#ifndef COFFER_ARCHIVE_H
#define COFFER_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "blob.h"
#include "crypto.h"
#include "keystore.h"
#include "record.h"

struct cf_archive;
struct cf_session;

/*
 * Create ARCHIVE (must not exist, or be an empty folder), its keystore, the
 * first admin (passphrase pass, Argon2id MODERATE), the ingest key and the
 * recovery key pair.  The 32-byte recovery secret is written to
 * recovery_secret (caller's secure memory) and stored nowhere.
 * Returns 0 or -errno (reported); on failure nothing is left behind.
 */
int cf_archive_init(const char *dir, const char *admin, const char *pass, size_t passlen,
    uint8_t recovery_secret[CF_KEY_BYTES]);

/* Open an existing archive (CF_KS_RDONLY for read-only use); the path is
 * resolved to an absolute one.  Reports
 * "ARCHIVE: not a Coffer archive" and the like.  Returns 0 or -errno. */
int cf_archive_open(struct cf_archive **a, const char *dir, int flags);
void cf_archive_close(struct cf_archive *a);
/*
 * Close and reopen the keystore.  LMDB handles must not cross fork(): the
 * FUSE daemon calls this in the child right after daemonising.  The archive
 * path is absolute (cf_archive_open resolves it), so a chdir does not
 * matter.  Returns 0 or -errno (reported).
 */
int cf_archive_reopen(struct cf_archive *a);
const char *cf_archive_dir(const struct cf_archive *a);
const uint8_t *cf_archive_id(const struct cf_archive *a);
struct cf_ks *cf_archive_ks(struct cf_archive *a);

/*
 * Unlock a principal with its passphrase.  Returns 0, -ENOENT (no such
 * principal), -EACCES (wrong passphrase), -EPERM (disabled); each reported
 * as a one-line error that never includes the passphrase.
 */
int cf_session_unlock(struct cf_archive *a, const char *name, const char *pass,
    size_t passlen, struct cf_session **s);
/* A session acting as the recovery key (admin rights over every
 * conversation).  Returns 0 or -EACCES when the secret does not match. */
int cf_session_recovery(struct cf_archive *a, const uint8_t secret[CF_KEY_BYTES],
    struct cf_session **s);
/* Wipes every key.  Accepts NULL. */
void cf_session_free(struct cf_session *s);
const char *cf_session_name(const struct cf_session *s);
enum cf_role cf_session_role(const struct cf_session *s);
/* After fork(): re-lock the session's secret memory. */
int cf_session_relock(struct cf_session *s);

const char *cf_role_name(enum cf_role r);
/* "admin" | "reviewer" | "ingest" -> role; returns 0 or -EINVAL. */
int cf_role_parse(const char *s, enum cf_role *r);

/*
 * Add a principal (admin session only; -EPERM otherwise; -EEXIST if the
 * name is taken).  A new admin gets every conversation key and the ingest
 * key; a new ingest identity gets the ingest key; a reviewer gets nothing
 * until granted.  Returns 0 or -errno (reported).
 */
int cf_principal_add(struct cf_archive *a, struct cf_session *admin, const char *name,
    enum cf_role role, const char *pass, size_t passlen);

/*
 * Disable (or enable again) principal name: a disabled principal is refused
 * everywhere (unlock, mount, import, refresh of a running mount) and keeps
 * its history, keys and grants.  Admin session only; an admin cannot
 * disable itself.  Audited.  Returns 0 or -errno (reported).
 */
int cf_principal_set_disabled(struct cf_archive *a, struct cf_session *admin, const char *name,
    int disabled);

/* Every principal, in name order (no session needed: names and roles are
 * not secret).  cb's non-zero return stops the walk. */
int cf_principal_foreach(struct cf_archive *a,
    int (*cb)(const struct cf_principal *p, void *arg), void *arg);

/* A conversation as an unlocked session sees it. */
struct cf_chat {
	uint8_t id[CF_ID_BYTES];
	char *title;                    /* latest title, "" if none */
	char *chat;                     /* source conversation id */
	char *source;                   /* source format of the first import */
	uint64_t messages;
	int64_t first_ms, last_ms;      /* 0 when empty */
	int64_t until;                  /* Unix seconds at which the grant that
	                                 * lets the session read it ends; 0 none */
	struct cf_keypair kp;           /* sk unwrapped for this session */
	/* earlier generations of the key pair (a revocation rotates it),
	 * newest first, opened through kp: blobs written before a rotation
	 * are sealed to one of them */
	struct cf_keypair *old;
	size_t nold;
};
struct cf_chat_list {
	struct cf_chat *v;
	size_t n;
	/* conversations s holds a grant for that has ended or not begun yet
	 * (ids, CF_ID_BYTES each), so that the refusal can be audited */
	uint8_t *outside;
	size_t noutside;
};

/*
 * The conversations s may read now, sorted by title then id: for an admin
 * or recovery session all of them; for a reviewer those with a wrapped key
 * for it and a grant valid now; for ingest none.  Returns 0 or -errno.
 */
int cf_chats_list(struct cf_archive *a, struct cf_session *s, struct cf_chat_list *out);
void cf_chats_free(struct cf_chat_list *l);

/* Find a conversation by hex id (32 digits, or a unique prefix of at least
 * 8) or exact title among those s may read.  Returns its index in l, or
 * -ENOENT / -EEXIST (ambiguous title), reported. */
int cf_chat_find(const struct cf_chat_list *l, const char *arg);

/* Everything stored for one conversation. */
struct cf_chat_content {
	struct cf_msg *msgs;            /* sorted by (ts_ms, seg_seq, rec_idx) */
	size_t n;
	struct cf_seghdr *hdrs;         /* one per segment, in seq order */
	size_t nhdrs;
};

/* Decrypt every segment of c.  A segment that fails authentication makes
 * the whole call fail with -EBADMSG (reported with the blob's path).
 * Returns 0 or -errno. */
int cf_chat_load(struct cf_archive *a, const struct cf_chat *c, struct cf_chat_content *out);
void cf_chat_content_free(struct cf_chat_content *cc);
/* Open blob blob_id of c (kind CF_BLOB_SEGMENT or CF_BLOB_ATTACHMENT) with
 * whichever generation of c's key opens it; no hash check (callers then
 * call cf_blob_verify).  Returns 0 or -errno (reported). */
int cf_chat_blob_open(struct cf_archive *a, const struct cf_chat *c,
    const uint8_t blob_id[CF_ID_BYTES], int kind, struct cf_blob_reader **r);
/* Open an attachment blob of c for reading. */
int cf_chat_attachment_open(struct cf_archive *a, const struct cf_chat *c,
    const uint8_t blob_id[CF_ID_BYTES], struct cf_blob_reader **r);

/*
 * Re-check policy for one conversation now (grant still valid, principal
 * still active).  Returns 0 allowed, -EACCES denied, or -errno.
 */
int cf_policy_check(struct cf_archive *a, struct cf_session *s, const uint8_t conv_id[CF_ID_BYTES]);

/* ---- import ---------------------------------------------------------- */

struct cf_batch;

/* A batch of messages from one source format.  tz is the zone used for
 * zone-less times (recorded in each segment header). */
int cf_batch_new(struct cf_batch **b, const char *source, const char *tz);
/*
 * Add a message to the conversation whose source id is chat (creating it in
 * the batch on first use; a non-NULL title replaces the batch's title).  The
 * message's strings and attachments are moved into the batch and *m is
 * zeroed.  Attachments must have name and src_path set.
 * Returns 0 or -ENOMEM.
 */
int cf_batch_add(struct cf_batch *b, const char *chat, const char *title, struct cf_msg *m);
size_t cf_batch_messages(const struct cf_batch *b);
/* Approximate bytes of message data the batch holds. */
size_t cf_batch_bytes(const struct cf_batch *b);
/* Call cb for every message of the batch, conversation by conversation in
 * the order they were first added (title: the batch's title for that
 * conversation, or NULL).  A non-zero return from cb stops the walk and is
 * returned.  For tests and tools that inspect what an importer produced. */
int cf_batch_foreach(const struct cf_batch *b,
    int (*cb)(const char *chat, const char *title, const struct cf_msg *m, void *arg),
    void *arg);
/* Drop every message (after a successful cf_import), keeping source and
 * zone, so that the batch can be filled again. */
void cf_batch_reset(struct cf_batch *b);
void cf_batch_free(struct cf_batch *b);

struct cf_import_stats {
	uint64_t conversations;         /* touched by the batch */
	uint64_t new_conversations;
	uint64_t added;                 /* messages stored */
	uint64_t duplicates;            /* already present, skipped */
	uint64_t attachments;           /* attachment blobs written */
};

/*
 * Store a batch atomically: blobs are written and fsync'd, then one LMDB
 * transaction references them all.  On any error nothing is referenced (the
 * files written are removed) and the archive is as before.  Messages whose
 * dedup tag is already present are skipped.  The session needs the ingest
 * key (ingest or admin).  Returns 0 or -errno (reported).
 */
int cf_import(struct cf_archive *a, struct cf_session *s, struct cf_batch *b,
    struct cf_import_stats *st);

/* ---- grants, recovery ------------------------------------------------ */

/*
 * Grant reviewer `to` conversation conv_id (NULL: every conversation, now
 * and later) for [not_before, not_after] (Unix seconds, 0 = open).  Admin
 * session only.  Re-granting replaces the bounds.  Returns 0 or -errno.
 */
int cf_grant(struct cf_archive *a, struct cf_session *admin, const uint8_t *conv_id,
    const char *to, int64_t not_before, int64_t not_after, const char *reason);
/* Remove the grant and the wrapped keys it gave.  conv_id NULL: the --all
 * grant and every conversation grant.  Returns 0, -ENOENT (nothing to
 * revoke) or -errno. */
int cf_revoke(struct cf_archive *a, struct cf_session *admin, const uint8_t *conv_id,
    const char *from);

/* With the recovery secret, create admin new_admin holding every key.
 * Returns 0 or -errno (reported). */
int cf_recover(struct cf_archive *a, const uint8_t secret[CF_KEY_BYTES], const char *new_admin,
    const char *pass, size_t passlen);

/* ---- verify ---------------------------------------------------------- */

struct cf_verify_result {
	uint64_t blobs_checked;
	uint64_t damaged;               /* missing, wrong size, wrong hash, and
	                                 * damaged keystore records */
	uint64_t unreferenced;          /* files no keystore entry names */
};
/*
 * Without any key.  The keystore: data.mdb's page structure
 * (cf_ks_check_pages); every value of every sub-database decodes; the
 * archive signatures of meta, principals and grants verify (they need only
 * the public signing key); every principal's Argon2id cost is one Coffer
 * writes; every record names what exists (a wrapped key's conversation and
 * principal, a grant's reviewer, conversation and wrapped key, a blob's
 * conversation, a segment list entry's blob record of that conversation
 * and sequence number, a chat map or dedup entry's conversation, and the
 * chat map entry agrees with the conversation's chat tag); every
 * conversation has its chat map entry, keys wrapped for the recovery key
 * and every admin, and a complete segment list; a blob record's file size
 * fits its plaintext size.  The store: every blob the keystore references
 * exists with its recorded size and hash; files under blobs/ that nothing
 * references are listed.  Each finding is one line passed to report,
 * naming the file or ARCHIVE/keystore and the record, and counts in
 * r->damaged.  Sealed boxes, the conversation MAC and dedup tags need keys:
 * see verify_deep.h and cf_chat_check_mac.  Returns 0 when it could check
 * (look at r->damaged), -errno when it could not.
 */
int cf_verify(struct cf_archive *a, void (*report)(const char *line, void *arg), void *arg,
    struct cf_verify_result *r);

/*
 * With s's ingest key (admins; not reviewers), check conversation c's
 * keystore record: its MAC (every field: public key, creation time,
 * segment count, chat tag, sealed metadata) and that its chat tag is the
 * one of the source conversation its metadata names.  Nothing is reported.
 * Returns 0, -EBADMSG (the record was altered or is damaged), -ENOKEY (s
 * holds no ingest key), or -errno.
 */
int cf_chat_check_mac(struct cf_archive *a, struct cf_session *s, const struct cf_chat *c);

/* ---- retention, legal holds, shredding (docs/RETENTION.md) ------------ */

/*
 * Set how long conversation conv_id (NULL: the default, for every
 * conversation without its own) is kept after its last message; keep NULL
 * removes the setting (the conversation falls back to the default; without
 * a default nothing expires), keep->forever exempts it from the default.
 * Admin session only; the record is signed with the archive key and the
 * change audited ("retention") in the same transaction.  Returns 0,
 * -ENOENT (no such conversation, or nothing to remove) or -errno
 * (reported).
 */
int cf_retention_set(struct cf_archive *a, struct cf_session *admin, const uint8_t *conv_id,
    const struct cf_keep *keep);

/*
 * Place (add 1) or lift (add 0) a legal hold on conversation conv_id.  A
 * held conversation is never shredded, by cf_shred or cf_expire.  Placing
 * needs a reason (1..CF_REASON_MAX bytes, stored and audited in
 * plaintext: name the matter, not its content); placing again replaces
 * the reason without a gap.  Lifting takes an optional reason (audited).
 * Admin session only; signed; audited ("hold", "hold-remove").  Returns 0,
 * -ENOENT (no such conversation, or no hold to lift) or -errno (reported).
 */
int cf_hold(struct cf_archive *a, struct cf_session *admin, const uint8_t conv_id[CF_ID_BYTES],
    int add, const char *reason);

/*
 * Every retention (kind CF_POLICY_RETENTION), hold (CF_POLICY_HOLD) or
 * both (0), in key order, with signed_ok 1 when its archive signature
 * verifies.  Admin session only.  cb's non-zero return stops the walk and
 * is returned.  Returns 0 or -errno (reported).
 */
int cf_policy_list(struct cf_archive *a, struct cf_session *admin, uint8_t kind,
    int (*cb)(const struct cf_policy *p, int signed_ok, void *arg), void *arg);

/* What a shred removed (cf_shred, cf_expire). */
struct cf_shred_result {
	struct cf_ks_destroyed ks;      /* keystore records removed */
	uint64_t files_removed;         /* blob files unlinked */
	uint64_t files_left;            /* could not be unlinked: `coffer gc` */
};

/*
 * Destroy conversation conv_id: refuse with -EBUSY (reported with the
 * hold's reason, audited as denied) when it is on legal hold, or when its
 * hold record is damaged or not signed by the archive (fail safe);
 * otherwise, in one keystore transaction, remove every wrapped copy of its
 * key (every principal and the recovery key), its earlier key generations,
 * grants, segment and attachment records, chat map and dedup entries,
 * retention and hold records and the conversation record itself
 * (cf_ks_convs_destroy), with a "shred" audit record; then unlink its blob
 * files and fsync their folders.  A file that cannot be unlinked is
 * reported and counted in r->files_left: nothing names it any more, so it
 * is an orphan that `coffer gc` removes; so is one left by a crash between
 * the commit and the unlink.  Admin session only.  r may be NULL.
 * Returns 0 or -errno (reported).
 */
int cf_shred(struct cf_archive *a, struct cf_session *admin, const uint8_t conv_id[CF_ID_BYTES],
    struct cf_shred_result *r);

enum cf_expire_state {
	CF_EXPIRE_DUE = 1,              /* past retention (dry run: would be shredded) */
	CF_EXPIRE_SHREDDED,             /* past retention and shredded */
	CF_EXPIRE_HELD,                 /* past retention but on legal hold: kept */
	CF_EXPIRE_SUSPECT,              /* its retention or hold record is not signed
	                                 * by the archive or damaged: kept */
};

/* One conversation cf_expire reports. */
struct cf_expire_item {
	enum cf_expire_state state;
	uint8_t id[CF_ID_BYTES];
	const char *title;              /* plaintext: show it only to the admin */
	int64_t last;                   /* Unix seconds: last message, or creation */
	struct cf_keep keep;            /* the retention that applies */
	int own;                        /* 1: its own retention, 0: the default */
	int64_t due;                    /* last + keep */
	const char *note;               /* HELD: the hold's reason; SUSPECT: why */
};

struct cf_expire_result {
	uint64_t conversations;         /* looked at */
	uint64_t due;                   /* past retention and not held */
	uint64_t shredded;
	uint64_t held;                  /* past retention, kept by a hold */
	uint64_t suspect;
	struct cf_shred_result shred;   /* totals over what was shredded */
};

/*
 * Shred every conversation past its retention and not on hold.  A
 * conversation is past retention when the time of its last message (of
 * its creation when it has none) plus its own retention, or else the
 * default, is before now (retention.h); with neither it is kept forever.
 * report (may be NULL) gets every conversation past retention: DUE (dry
 * run), SHREDDED, HELD, and every SUSPECT one (kept, whatever its dates).
 * A dry run changes nothing but leaves one "expire" audit record; a real
 * run shreds in transactions of up to 64 conversations, each with an
 * "expire" audit record per conversation shredded or kept by a hold
 * (denied), re-checking holds inside the transaction; then unlinks the
 * files as cf_shred does.  Admin session only (it reads every
 * conversation's dates).  r may be NULL.  Returns 0 or -errno (reported);
 * conversations shredded before a failure stay shredded.
 */
int cf_expire(struct cf_archive *a, struct cf_session *admin, int dry_run,
    void (*report)(const struct cf_expire_item *it, void *arg), void *arg,
    struct cf_expire_result *r);

#endif
