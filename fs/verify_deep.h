/*
 * verify_deep.h - `coffer verify --deep`: decrypt everything one unlocked
 * principal may read and report every part that fails, with its
 * conversation and, when known, its time.
 *
 * The keyless cf_verify (archive.h) proves that every file is the one the
 * keystore recorded; this walk proves that what is recorded also opens:
 * every segment header, every chunk, every record and every attachment of
 * the conversations the session may read (all of them for an admin or the
 * recovery key).  It locates damage: a chunk that fails authentication is
 * reported with the messages around it, and the walk goes on past it.
 */
#ifndef COFFER_VERIFY_DEEP_H
#define COFFER_VERIFY_DEEP_H

#include <stdint.h>

#include "archive.h"

struct cf_verify_deep_result {
	uint64_t conversations;         /* conversations walked */
	uint64_t segments;              /* segments opened */
	uint64_t messages;              /* message records decoded */
	uint64_t attachments;           /* attachments decrypted */
	uint64_t failed;                /* findings reported */
};

/*
 * Walk every conversation s may read now (cf_chats_list): decrypt each
 * segment chunk by chunk, decode each record, then decrypt each attachment
 * blob of the conversation whole.  Every failure is one finding passed to
 * report as one line that starts with
 *   conversation <32 hex digits> "<title>": ...
 * and names the blob file, the part that fails (segment header, chunk
 * bytes, record number) and the time of the messages concerned when it is
 * known: a message's own time, the times of the readable messages either
 * side of a hole, or the segment's time span from its keystore summary.
 * Titles and attachment names are plaintext that the caller may print
 * only to whoever unlocked s; they may hold control characters.
 * A keystore whose conversation metadata does not open is a finding too,
 * and so, when s holds the ingest key (admins), is a conversation record
 * whose MAC does not verify (cf_chat_check_mac).
 * Lower layers also report causes on stderr (cf_error).
 * Returns 0 when it could check (look at r->failed) or -errno.
 */
int cf_verify_deep(struct cf_archive *a, struct cf_session *s,
    void (*report)(const char *line, void *arg), void *arg, struct cf_verify_deep_result *r);

#endif
