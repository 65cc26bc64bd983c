/*
 * export.h - export conversations for eDiscovery: RSMF 2.0, EML and the
 * canonical JSON Lines format, with a hash manifest, every conversation
 * audited before any of its plaintext is written.
 *
 * Export is the one operation that writes plaintext, and only below the
 * folder the caller names (DIR): DIR must not exist (it is created, 0700)
 * or be an empty folder, must not be a symbolic link and must not lie
 * inside the archive.  Every file is created with O_EXCL | O_NOFOLLOW,
 * mode 0600, every folder 0700; nothing is written anywhere else (the RSMF
 * zip is built in DIR under a hidden temporary name and removed once it is
 * inside its .rsmf file).
 *
 * Layout of DIR (HEX: the conversation id, 32 hex digits):
 *   rsmf:   HEX/YYYY-MM-DD_NNN.rsmf     one per UTC day and slice of at most
 *                                       max_events events (NNN from 001)
 *   eml:    HEX/NNNNNNN.eml             one per message, in time order
 *   jsonl:  HEX/messages.jsonl          re-importable with
 *           HEX/attachments/FILE        `coffer import --format jsonl`
 *   manifest.json                       what was exported, by whom, when,
 *                                       and every file's SHA-256 and size
 *   MANIFEST.sha256                     `sha256sum -c` input for every file
 *                                       above, manifest.json included
 * docs/EXPORT.md describes each format's mapping in full.
 *
 * Audit: before the first byte of a conversation's plaintext is written,
 * one record (action "export", object the conversation id, detail the
 * format and counts, never content) is committed; if that fails the export
 * stops there (fail closed).  Any other failure once the policy allowed
 * the conversation (ciphertext that does not decrypt, a write error) is
 * recorded with result "failed".  On any failure every file the export wrote
 * is removed again (and DIR itself if the export created it).
 */
#ifndef COFFER_EXPORT_H
#define COFFER_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "archive.h"

enum cf_export_format {
	CF_EXPORT_RSMF = 1,
	CF_EXPORT_EML,
	CF_EXPORT_JSONL,
};

/* RSMF events per file (the limit Relativity's tools assume). */
#define CF_EXPORT_RSMF_MAX_EVENTS 10000

/* Bounds not set */
#define CF_EXPORT_NO_FROM INT64_MIN
#define CF_EXPORT_NO_TO INT64_MAX

struct cf_export_opts {
	enum cf_export_format format;
	/* Messages with from_ms <= ts < to_ms are exported: from is
	 * inclusive, to exclusive (CF_EXPORT_NO_FROM / _NO_TO: unbounded). */
	int64_t from_ms;
	int64_t to_ms;
	/* rsmf: events per file; 0 means CF_EXPORT_RSMF_MAX_EVENTS (tests
	 * use small values).  Larger values are cut to that maximum. */
	size_t max_events;
};

struct cf_export_stats {
	uint64_t conversations;         /* exported (audited) */
	uint64_t messages;
	uint64_t attachments;
	uint64_t files;                 /* manifests included */
	uint64_t bytes;                 /* of every file written */
};

/* "rsmf" | "eml" | "jsonl" -> format.  Returns 0 or -EINVAL (not
 * reported). */
int cf_export_format_parse(const char *s, enum cf_export_format *f);
const char *cf_export_format_name(enum cf_export_format f);

/*
 * A --from / --to bound: a date "2025-03-10" (00:00:00 UTC that day) or an
 * RFC 3339 date-time ("2025-03-10T08:00:00Z", "…+01:00"; one without an
 * offset is read as UTC).  Result in Unix milliseconds.  Returns 0 or
 * -EINVAL (not reported).
 */
int cf_export_parse_bound(const char *s, int64_t *ms);

/*
 * Export conversations chats[0..n) (as listed for session s by
 * cf_chats_list) to dir, in format o->format, limited to o's time range.
 * Each conversation's policy is checked again (cf_policy_check; a denial
 * is audited and stops the export with -EACCES), then it is decrypted,
 * audited and written.  st (may be NULL) receives counts.
 * The archive must be open read-write (the audit log is written).
 * Returns 0 or -errno (reported once, naming the file); on failure nothing
 * the export wrote is left behind.
 */
int cf_export(struct cf_archive *a, struct cf_session *s, const struct cf_chat *const *chats,
    size_t n, const char *dir, const struct cf_export_opts *o, struct cf_export_stats *st);

#endif
