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

/* Bytes of message data, or messages, above which cf_import_maybe_flush
 * flushes.  The count bounds the keystore pages one transaction dirties
 * (each new message adds a dedup tag at a random place in a B-tree). */
#define CF_IMPORT_FLUSH_BYTES (32u << 20)
#define CF_IMPORT_FLUSH_MESSAGES 20000u

/* Call o->flush when it is set and b holds more than CF_IMPORT_FLUSH_BYTES
 * or CF_IMPORT_FLUSH_MESSAGES.  Returns 0 or the flush's error. */
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
 * sender (non-empty string, or null for an event without a sender, as
 * `coffer export` writes system lines), body (string, may be empty).
 * Optional: id
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
/* The same with jansson alone, without the fast path cf_jsonl_parse_line
 * takes for plain lines (import_jsonl.c); for the tests that compare. */
int cf_jsonl_parse_line_json(const char *line, size_t len, const char *dir, const char *tz,
    struct cf_jsonl_line *out, char *why, size_t whylen);
/* Free (and wipe) everything in l; the struct is zeroed.  NULL ok. */
void cf_jsonl_line_clear(struct cf_jsonl_line *l);

/* ---- Telegram Desktop JSON export (fs/import_telegram.c) ----------------
 *
 * result.json of "Export chat history" (the document is one chat object
 * {name, type, id, messages}) or of "Export Telegram data" (chats.list[]
 * and left_chats.list[] of chat objects; every other section is skipped).
 * Streamed: only one message is held at a time, whatever the file's size.
 * Conversation: chat id = "id" as decimal text (else "name", else the file
 * name without ".json"); title = "name" ("Saved Messages" and the like for
 * chats without one).  Message: id = "id"; ts from "date_unixtime"
 * (absolute, tz NULL; ts_raw is that text), else "date" read in the zone
 * (recorded in tz); sender = "from", else "from_id", else "Deleted
 * Account"; body = "text" flattened (a string, or strings and entity
 * objects: each shows as its text, a text_link with a different target as
 * "text (href)"), "text_entities" when "text" is empty.  Service messages:
 * sender NULL, body a sentence ("Alice joined Telegram", "Phone call from
 * Alice (56 s)"), kind "system" or "call".  Polls, locations, venues,
 * contacts and stickers are rendered as text with their kind.  Media
 * ("photo", "file", "thumbnail", "contact_vcard") are paths relative to
 * the folder of result.json: attached when present; a "(File not
 * included…)"-style sentence is recorded in extra.missing_attachments; a
 * path whose file is absent, a symbolic link or a path leaving the folder
 * is an error.  extra: kind, reply_to, edited_ts (ms), forwarded_from,
 * reactions, missing_attachments, source (the whole message object).
 * "\xHH" escapes (not JSON, but written by Telegram) are accepted.
 * Errors: "FILE: truncated JSON at byte N", "FILE: invalid JSON at byte N:
 * reason", "FILE: chats.list[2].messages[7]: reason".
 */
extern const struct cf_importer cf_importer_telegram;

/* ---- WhatsApp "Export chat" (fs/import_whatsapp.c) ----------------------
 *
 * PATH is the exported .txt alone, a folder holding it and its media, or the
 * .zip (member _chat.txt or "WhatsApp Chat with X.txt"; __MACOSX/ ignored).
 * Android ("18/03/2022, 14:56 - Name: text") and iOS ("[3/18/22, 14:56:01]
 * Name: text") lines in every locale of the corpus; lines that are not a
 * header continue the previous message.  Day/month order is decided for
 * the whole file (guessed, and recorded as extra "date_guess", when no
 * date tells).  Times are read in cf_import_opts.tz.  The chat id and title
 * are the export's name without "WhatsApp Chat with "/"WhatsApp Chat - "
 * and extension (for _chat.txt: the zip's or folder's name).  No message
 * ids: cf_msg.id is NULL; extra holds "kind" (system, deleted, edited,
 * poll, location, call, sticker, contact), "missing_attachments",
 * "poll", "dup" and "source_text".  Referenced files missing from a zip or
 * folder are an error; next to a lone .txt they are recorded as missing.
 * See docs/IMPORT.md.
 */
extern const struct cf_importer cf_importer_whatsapp;

/* ---- Signal (fs/import_signal.c) ----------------------------------------
 *
 * Third-party exports (Signal has none of its own); PATH is a file or a
 * folder of either:
 * - sigtop `export-messages -f json`: one "<Name> (<+phone|group|…>).json"
 *   per conversation, a JSON array of Signal Desktop message objects
 *   (streamed one object at a time); a folder of them is read twice, the
 *   first pass learning names (contact files: service id, phone number and
 *   conversation id -> the file's name).  Chat id = "conversationId"; title
 *   = the file name without ".json" and its " (detail)".  Message: id =
 *   "id" (else sent_at); ts_ms = "sent_at" (absolute, tz NULL; ts_raw its
 *   decimal text); sender "Me" for outgoing, the contact for incoming
 *   (groups: the name learnt, else the phone number or service id); body
 *   with each mention (U+FFFC + bodyRanges counted in UTF-16 units) as
 *   "@Name".  Non-chat types: sender NULL, an English body, extra.kind
 *   "system" (or "call") and "signal_type".  Attachments: linked from the
 *   folder export-attachments writes next to the file ("<Name> (…)/file"),
 *   else in extra.missing_attachments (never an error).
 * - signal-export (sigexport): a root folder of conversation folders, one
 *   conversation folder, or its data.json (JSON Lines, preferred) or
 *   chat.md ("[YYYY-MM-DD HH:MM:SS] Name: text", older "[YYYY-MM-DD, HH:MM]
 *   Name: text"; continuation lines until the next header).  Chat id and
 *   title = the folder name (a chat.md-style file with another name: its
 *   name without extension).  Times have no zone (read in o->tz, recorded
 *   in tz); id NULL, repeats numbered with extra.dup; media/ linked.
 * extra: kind, reply_to (sigtop), quote {id, author, text, attachments},
 * edits [{ts, body}] oldest first, reactions, missing_attachments, dup,
 * source (the JSON object, attachment "localKey"s removed) or source_text.
 * Errors: "FILE:LINE: [12].sent_at: must be an integer", "FILE:LINE: [3]:
 * invalid JSON: …", "FILE:LINE: not a Signal chat.md message header".
 */
extern const struct cf_importer cf_importer_signal;

/* ---- Slack workspace export (fs/import_slack.c) -------------------------
 *
 * A folder or a .zip (the export may sit inside one top folder of the zip;
 * __MACOSX/ is ignored, absolute or ".." member names are refused) holding
 * users.json, channels.json, groups.json, dms.json, mpims.json (each
 * optional, "[]" allowed) and FOLDER/YYYY-MM-DD.json day files (JSON arrays
 * of message objects).  Also accepted: a lone day file (its parent folder
 * names the conversation; when its grandparent is an export folder, that
 * export's names are used) and a lone message object (the file name
 * without ".json" names the conversation).
 * Conversation: chat id = the id from the list file whose entry matches the
 * folder (channels and groups by name, dms by id, mpims by name; either
 * key as a fallback), else the folder name; title "#name" for channels and
 * groups, the members' names ("Ann, Bob") for dms and mpims.
 * User names: profile.display_name, profile.real_name, real_name, name
 * (first non-blank), else the message's user_profile snapshot, else the id.
 * Message: id and ts_raw = "ts", ts_ms from it (absolute: tz NULL); sender =
 * the user's name; bot messages: bot_profile.name, username, the user's
 * name, bot_id.  body = "text" with <@U…> -> "@Name", <#C…|name> -> "#name",
 * <!here> -> "@here", <url|label> -> "label (url)", <url> -> url, &amp;
 * &lt; &gt; decoded, :emoji: kept; Block Kit blocks only when "text" is
 * absent or empty; legacy attachments[] (pretext, title (link), text,
 * fields, else fallback) appended as lines.  System subtypes (joins,
 * leaves, topic, purpose, rename, archive, pins, tombstone, bot_add…):
 * sender NULL, a readable body ("Ann joined #general").  extra: "kind"
 * ("system"), "reply_to" and "thread" (thread_ts of a reply), "edited_ts"
 * (ms), "reactions" [{emoji ":name:", by [names], count}],
 * "missing_attachments" (files[] / file{}: never in a Slack export, URLs
 * never fetched), "source" (the whole message object).
 */
extern const struct cf_importer cf_importer_slack;

#endif
