/*
 * import.h - reading chat exports into a struct cf_batch (archive.h).
 *
 * Each source format is one importer, a detect function and a parse
 * function, defined in its own fs/import_<format>.c and listed in the
 * registry cf_importers[] (fs/import.c).  An importer only reads: it turns
 * its input into messages with cf_batch_add() and never touches the
 * archive, so a bad input is refused before anything is stored (the caller
 * drops the whole batch when parse fails).
 *
 * Parse errors are reported once with cf_error() as "FILE:LINE: reason"
 * (or "FILE: reason" when no line applies); the reason never quotes message
 * content, only member names and file names.
 */
#ifndef COFFER_IMPORT_H
#define COFFER_IMPORT_H

#include <stddef.h>

#include "archive.h"
#include "record.h"

struct cf_import_opts {
	/* IANA zone for times written without an offset; NULL or "" means the
	 * machine's local zone (cf_tz_local_name()).  The zone used is recorded
	 * in each such message's cf_msg.tz. */
	const char *tz;
	/*
	 * Optional: store what the batch holds so far and empty it (the caller
	 * passes cf_import plus cf_batch_reset).  Importers of inputs that can
	 * be huge call cf_import_maybe_flush() between conversations and every
	 * few thousand messages, so memory stays bounded; each flush is then
	 * its own atomic batch.  NULL: keep everything for one batch.
	 */
	int (*flush)(struct cf_batch *b, void *arg);
	void *flush_arg;
};

/* Bytes of message data above which cf_import_maybe_flush flushes. */
#define CF_IMPORT_FLUSH_BYTES (32u << 20)

/* Call o->flush when it is set and b holds more than CF_IMPORT_FLUSH_BYTES.
 * Returns 0 or the flush's error. */
int cf_import_maybe_flush(const struct cf_import_opts *o, struct cf_batch *b);

struct cf_importer {
	const char *name;               /* "jsonl"; also the batch's source */
	/* 1 when path looks like this format, 0 otherwise (never reports). */
	int (*detect)(const char *path);
	/* Add every message of path to b.  Returns 0, -EINVAL for a bad input
	 * (reported as "FILE:LINE: reason"), or -errno (reported). */
	int (*parse)(const char *path, struct cf_batch *b, const struct cf_import_opts *o);
};

/*
 * Temporary folders holding files extracted from an archive (zip) input:
 * they must outlive parse() because the batch refers to them until
 * cf_import() has read them.  An importer creates one with mkdtemp (0700,
 * files 0600: they hold plaintext) and registers it here;
 * cf_import_tempdirs_clean() removes every registered folder and its files
 * (the import command calls it on every exit path).  Returns 0 or -ENOMEM.
 */
int cf_import_tempdir_add(const char *dir);
void cf_import_tempdirs_clean(void);

/* Every importer, in detection order, terminated by NULL. */
extern const struct cf_importer *const cf_importers[];

/* The importer called name, or NULL (not reported). */
const struct cf_importer *cf_importer_find(const char *name);
/* The first importer whose detect() accepts path, or NULL (not reported). */
const struct cf_importer *cf_importer_detect(const char *path);

/* ---- JSON Lines (fs/import_jsonl.c) -------------------------------------
 *
 * The canonical format: one JSON object per line, UTF-8:
 *   {"chat": "source conversation id", "chat_title": "…", "id": "…",
 *    "ts": "2025-03-13T19:44:01Z", "sender": "…", "body": "…",
 *    "attachments": [{"name": "plan.pdf", "path": "files/plan.pdf"}]}
 * Required: chat (non-empty string), ts (RFC 3339 string, cf_parse_time),
 * sender (non-empty string), body (string, may be empty).  Optional: id
 * (string, or an integer taken as its decimal text), chat_title (string),
 * attachments (array of objects: "path" required, relative to the folder of
 * the JSONL file or absolute, must be a regular file and not a symbolic
 * link; "name" optional, default the last component of path, must be a
 * plain file name).  null is accepted for an optional member and means
 * absent.  Other members are kept, as compact JSON, in cf_msg.extra.
 * Lines holding only whitespace are skipped.
 */
extern const struct cf_importer cf_importer_jsonl;

/* One parsed line. */
struct cf_jsonl_line {
	char *chat;                     /* source conversation id */
	char *title;                    /* chat_title, or NULL */
	struct cf_msg msg;              /* att[].src_path set, blob ids zero */
};

/*
 * Parse one line (len bytes, no NUL needed) into *out.  dir is the folder
 * attachment paths are relative to; tz as in cf_import_opts.  Returns 1
 * with *out filled, 0 for a blank line, -EINVAL with the reason written to
 * why (whylen bytes, NUL-terminated; not reported), or -ENOMEM.  Exposed
 * for the unit tests and the fuzzer.
 */
int cf_jsonl_parse_line(const char *line, size_t len, const char *dir, const char *tz,
    struct cf_jsonl_line *out, char *why, size_t whylen);
/* Free (and wipe) everything in l; the struct is zeroed.  NULL ok. */
void cf_jsonl_line_clear(struct cf_jsonl_line *l);

#endif
