/*
 * record.h - a message as Coffer stores it, and its encoding inside segments.
 *
 * A segment's plaintext is a sequence of records, each a 4-byte
 * little-endian length followed by that many bytes of UTF-8 JSON.  Record 0
 * is the segment header, every later one a message:
 *   {"type":"segment","v":1,"chat":"<source chat id>","title":"…",
 *    "source":"jsonl","tz":"Europe/Paris","imported":<ms>}
 *   {"type":"message","id":"…","ts":<Unix ms>,"ts_raw":"…","tz":"…",
 *    "sender":"…","body":"…","attachments":[{"name":"…","blob":"<hex id>",
 *    "size":N}],"extra":{…unknown source fields…}}
 * Optional members are omitted when empty.  Decoders ignore members they do
 * not know, so later versions can add some.
 */
#ifndef COFFER_RECORD_H
#define COFFER_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

struct cf_attach {
	char *name;                     /* original file name */
	uint8_t blob_id[CF_ID_BYTES];
	uint64_t size;                  /* plaintext bytes */
	char *src_path;                 /* import only: file to read; never stored */
};

struct cf_msg {
	char *id;                       /* source message id, or NULL */
	int64_t ts_ms;                  /* Unix milliseconds, UTC */
	char *ts_raw;                   /* time as the source wrote it, or NULL */
	char *tz;                       /* zone used for a zone-less time, or NULL */
	char *sender;                   /* NULL or "" for system events */
	char *body;                     /* never NULL after decode ("" allowed) */
	struct cf_attach *att;
	size_t natt;
	char *extra;                    /* JSON object text of unknown fields, or NULL */
	/* filled by the reader, not stored: order of import */
	uint32_t seg_seq;
	uint32_t rec_idx;
};

struct cf_seghdr {
	char *chat;                     /* source conversation id */
	char *title;
	char *source;                   /* "jsonl", "whatsapp", … */
	char *tz;                       /* zone used for zone-less times */
	int64_t imported_ms;
};

/* Encode as one record (length prefix included) appended to the growing buffer (buf, len, cap)
 * (a growing malloc'd buffer).  Returns 0 or -ENOMEM/-EINVAL. */
int cf_record_put_msg(uint8_t **buf, size_t *len, size_t *cap, const struct cf_msg *m);
int cf_record_put_hdr(uint8_t **buf, size_t *len, size_t *cap, const struct cf_seghdr *h);
/* The same message record built and written by jansson alone, without the
 * direct writer cf_record_put_msg uses for messages without extra
 * (record.c); for the tests that compare the two. */
int cf_record_put_msg_json(uint8_t **buf, size_t *len, size_t *cap, const struct cf_msg *m);

/*
 * Walk a segment's plaintext.  *pos starts at 0; each call decodes the next
 * record.  Returns 1 with *m (or *h for record 0, when idx == 0) filled,
 * 0 at the end, -EBADMSG for malformed data.
 * *m / *h is overwritten (not freed first); on failure it is left cleared and
 * *pos does not move.  seg_seq and rec_idx are left 0 for the caller to set.
 * Absent optional header strings read back as "", absent optional message
 * strings as NULL.  Neither encoders nor decoders report: they do not know
 * the file, so the caller reports (naming the blob or the input).
 */
int cf_record_next_hdr(const uint8_t *buf, size_t len, size_t *pos, struct cf_seghdr *h);
int cf_record_next_msg(const uint8_t *buf, size_t len, size_t *pos, struct cf_msg *m);
/* The same decoded by jansson alone, without the fast path that
 * cf_record_next_msg takes for the records cf_record_put_msg writes
 * (record.c); for the tests that compare the two. */
int cf_record_next_msg_json(const uint8_t *buf, size_t len, size_t *pos, struct cf_msg *m);

/* Free (and wipe) every string of m / h; the struct is zeroed.  NULL ok. */
void cf_msg_clear(struct cf_msg *m);
void cf_seghdr_clear(struct cf_seghdr *h);

/* Deep copy.  Returns 0 or -ENOMEM. */
int cf_msg_copy(struct cf_msg *dst, const struct cf_msg *src);

#endif
