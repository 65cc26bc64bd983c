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
	struct cf_keypair kp;           /* sk unwrapped for this session */
};
struct cf_chat_list {
	struct cf_chat *v;
	size_t n;
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
	uint64_t damaged;               /* missing, wrong size, wrong hash */
	uint64_t unreferenced;          /* files no keystore entry names */
};
/*
 * Without any key: every blob the keystore references exists with its
 * recorded size and hash; every conversation's segment list is complete;
 * files under blobs/ that nothing references are listed.  Each finding is
 * passed to report (one line, naming the file).  Returns 0 when it could
 * check (look at r->damaged), -errno when it could not.
 */
int cf_verify(struct cf_archive *a, void (*report)(const char *line, void *arg), void *arg,
    struct cf_verify_result *r);

#endif
