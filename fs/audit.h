/*
 * audit.h - the tamper-evident audit log.
 *
 * Every action that reads, changes or is refused access to the archive
 * leaves one record in the keystore's "audit" sub-database: a sequence
 * number (1, 2, ...), the UTC time, the principal, the action, the object
 * (a conversation id in hex, optionally followed by "/" and a file of the
 * mounted view), the result and a short detail.  Each record carries the
 * BLAKE2b-256 hash of the one before it (32 zero bytes for record 1) and its
 * own hash over all of that, so editing or deleting a record breaks the
 * chain at that point; truncating the end is caught by verifying against a
 * head printed earlier and kept elsewhere (cf_audit_head).
 *
 * Records never hold message content, titles, participant names or file
 * names of attachments: objects are ids, and the callers pass only
 * non-secret details (counts, reasons given by an admin, error names).
 *
 * Fail closed: callers treat a failure to append as a refusal of the action
 * (a read gets EACCES).  Within a write transaction cf_audit_append makes
 * the record part of the action's own commit.
 */
#ifndef COFFER_AUDIT_H
#define COFFER_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "keystore.h"

#define CF_AUDIT_ACTION_MAX 32
#define CF_AUDIT_OBJECT_MAX 160
#define CF_AUDIT_RESULT_MAX 16
#define CF_AUDIT_DETAIL_MAX 400

/* Results */
#define CF_AUDIT_OK "ok"
#define CF_AUDIT_DENIED "denied"
#define CF_AUDIT_FAILED "failed"

struct cf_audit_rec {
	uint64_t seq;
	int64_t time_ms;                        /* Unix milliseconds, UTC */
	char principal[CF_NAME_MAX + 1];        /* "" when nobody is named */
	char action[CF_AUDIT_ACTION_MAX + 1];
	char object[CF_AUDIT_OBJECT_MAX + 1];   /* "" when none */
	char result[CF_AUDIT_RESULT_MAX + 1];
	char detail[CF_AUDIT_DETAIL_MAX + 1];
	uint8_t prev[CF_HASH_BYTES];
	uint8_t hash[CF_HASH_BYTES];
};

/*
 * Append a record inside t (a write transaction): it commits or aborts with
 * the rest of t.  NULL strings are "".  Strings longer than the fields are
 * cut (on a UTF-8 boundary); principal must fit.  Returns 0 or -errno
 * (reported).
 */
int cf_audit_append(struct cf_txn *t, const char *principal, const char *action,
    const char *object, const char *result, const char *detail);
/* The same in a write transaction of its own, committed (and so durable)
 * before it returns.  Returns 0 or -errno (reported). */
int cf_audit_log(struct cf_ks *ks, const char *principal, const char *action,
    const char *object, const char *result, const char *detail);

/* object text for a conversation and an optional file ("" or NULL: none). */
void cf_audit_object(char buf[CF_AUDIT_OBJECT_MAX + 1], const uint8_t conv_id[CF_ID_BYTES],
    const char *file);

/* Decode one stored value (does not check the chain).  Returns 0 or
 * -EBADMSG (not reported). */
int cf_audit_decode(uint64_t seq, const uint8_t *val, size_t len, struct cf_audit_rec *r);

/* Records with seq >= from_seq, in order, decoded; a record that does not
 * decode stops the walk with -EBADMSG (reported).  cb's non-zero return
 * stops the walk and is returned. */
int cf_audit_foreach(struct cf_ks *ks, uint64_t from_seq,
    int (*cb)(const struct cf_audit_rec *r, void *arg), void *arg);

/* The last record's sequence number and hash; seq 0 and a zero hash for an
 * empty log.  Returns 0 or -errno. */
int cf_audit_head(struct cf_ks *ks, uint64_t *seq, uint8_t hash[CF_HASH_BYTES]);

struct cf_audit_check {
	uint64_t records;                       /* records read */
	uint64_t head_seq;                      /* last good record */
	uint8_t head[CF_HASH_BYTES];
	uint64_t first_bad;                     /* 0 when intact */
	char why[128];                          /* what is wrong at first_bad */
};

/*
 * Recompute the chain from record 1: each record decodes, has the next
 * sequence number, names the previous record's hash and hashes to its own.
 * With anchor_seq > 0, the record anchor_seq must also exist and have hash
 * anchor_hash (a head printed earlier): this detects a truncated log.
 * Returns 0 intact, 1 broken (out->first_bad, out->why), or -errno.
 */
int cf_audit_verify(struct cf_ks *ks, uint64_t anchor_seq,
    const uint8_t anchor_hash[CF_HASH_BYTES], struct cf_audit_check *out);

/* One JSON object (no newline) for a record, malloc'd in *out:
 * {"seq":…,"time":"2026-11-28T03:22:18.123Z","principal":…,"action":…,
 *  "object":…,"result":…,"detail":…,"prev":"hex","hash":"hex"}.
 * Returns 0 or -ENOMEM. */
int cf_audit_json(const struct cf_audit_rec *r, char **out);

/* "2026-11-28T03:22:18.123Z" into buf (at least 32 bytes). */
void cf_audit_time(char *buf, size_t n, int64_t time_ms);

#endif
