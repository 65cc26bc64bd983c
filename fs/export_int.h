/*
 * export_int.h - what the export modules share, grouped by defining file:
 * export.c (the export in progress, output files, the prepared
 * conversation, times, a growing text buffer), export_eml.c (MIME pieces
 * and the EML writer) and export_rsmf.c (the RSMF writer).  Not part of
 * the public API (export.h); the unit test uses it to check the pieces.
 */
#ifndef COFFER_EXPORT_INT_H
#define COFFER_EXPORT_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "archive.h"
#include "export.h"

/* ---- export.c ------------------------------------------------------------ */

struct xctx;                    /* one export in progress */
struct xout;                    /* one output file being written */

/* A message's source id and its position, for finding reply targets. */
struct xid {
	const char *id;                 /* points into the message */
	size_t idx;                     /* into cc->msgs */
};

/*
 * One conversation prepared for the writers.  Invariants: msgs[lo..hi) are
 * the exported messages (in cc order: time, then import order); extra[i -
 * lo] is message i's extra parsed as an object, or NULL; pnames holds every
 * name the exported messages mention (senders, reaction and edit authors),
 * sorted by strcmp and distinct: the name at k has participant id
 * "P<k+1>"; attfile[attfirst[i - lo] + k] is the file name (unique within
 * the conversation) of attachment k of message i.
 */
struct xconv {
	struct xctx *x;
	struct cf_archive *a;
	const struct cf_chat *c;
	const struct cf_chat_content *cc;
	const struct cf_export_opts *o;
	char hex[2 * CF_ID_BYTES + 1];
	const char *chat;               /* source chat id as exported */
	size_t lo, hi;
	json_t **extra;
	const char **pnames;
	size_t np;
	struct xid *ids;                /* every message with an id, sorted by id */
	size_t nids;
	char **attfile;
	size_t *attfirst;
	size_t natt;
	size_t nsenders;                /* distinct senders among the exported messages */
};

/* Create a folder (mode 0700) below DIR; rel is relative to DIR.
 * Returns 0 or -errno (reported). */
int x_mkdir(struct xctx *x, const char *rel);

/* Create file rel below DIR (O_EXCL | O_NOFOLLOW, 0600).  Returns 0 or
 * -errno (reported). */
int x_open(struct xctx *x, const char *rel, struct xout **w);
/* Append; errors are sticky and come out of x_close. */
void x_write(struct xout *w, const void *p, size_t n);
void x_puts(struct xout *w, const char *s);
void x_printf(struct xout *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Flush and close; the file goes into the manifest under conversation cv
 * (NULL: none).  On failure the file is removed.  Returns 0 or -errno
 * (reported).  Frees w either way. */
int x_close(struct xout *w, const struct xconv *cv);
/* Close and remove the file.  Accepts NULL. */
void x_abort(struct xout *w);
/* The folder DIR as opened (for files made by other means, the zip). */
int x_dirfd(const struct xctx *x);
const char *x_dirname(const struct xctx *x);

/* Stream attachment at of conversation cv to sink in pieces.  Returns 0,
 * sink's non-zero return, or -errno (reported). */
int x_attachment_read(const struct xconv *cv, const struct cf_attach *at,
    int (*sink)(void *arg, const void *p, size_t n), void *arg);

/* Index of name in cv->pnames, or -1. */
long x_participant(const struct xconv *cv, const char *name);
/* Index into cc->msgs of the message whose source id is id, or -1. */
long x_find_id(const struct xconv *cv, const char *id);
/* reply_to of an extra object as text (a string, or an integer in buf),
 * or NULL. */
const char *x_reply_to(json_t *extra, char *buf, size_t n);

/* "2025-03-10T07:58:12Z", with ".250" before the Z when there are
 * milliseconds.  buf >= 40 bytes. */
void x_time_iso(int64_t ms, char *buf, size_t n);
/* RFC 5322 date in UTC: "Mon, 10 Mar 2025 07:58:12 +0000".  buf >= 40. */
void x_time_rfc5322(int64_t ms, char *buf, size_t n);
/* The UTC day of ms (days since 1970-01-01, floored). */
int64_t x_day(int64_t ms);

/* A growing text buffer; memory that held text is wiped before it is
 * freed.  Errors (-ENOMEM) are sticky. */
struct xbuf {
	char *p;
	size_t len, cap;
	int err;
};
void xb_add(struct xbuf *b, const char *s, size_t n);
void xb_puts(struct xbuf *b, const char *s);
void xb_printf(struct xbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void xb_free(struct xbuf *b);

/* The JSONL writer (export.c). */
int x_write_jsonl(struct xconv *cv);

/* ---- export_eml.c ------------------------------------------------------- */

/* Streaming base64 (RFC 2045: 76-character lines, CRLF) into a file. */
struct xb64 {
	struct xout *w;
	uint8_t in[3];
	size_t nin;
	size_t col;
};
void x_b64_begin(struct xb64 *b, struct xout *w);
void x_b64_add(struct xb64 *b, const void *p, size_t n);
/* Pad, end the last line with CRLF. */
void x_b64_end(struct xb64 *b);

/*
 * A header field "Name: value" CRLF.  value is unstructured text: written
 * as it is when it is printable ASCII, else as RFC 2047 encoded words
 * (UTF-8, base64) folded onto continuation lines.  Control characters
 * become spaces either way.
 */
void x_header(struct xout *w, const char *name, const char *value);
/* The boundary of every multipart body: it cannot occur in base64. */
#define X_BOUNDARY "coffer-part-boundary"

/* A display name (a phrase): a quoted string when it is plain ASCII, else
 * RFC 2047 encoded words. */
void x_phrase(struct xbuf *b, const char *s);
/* A mailbox "Display Name <local@domain>" for From/To: the name quoted or
 * encoded as needed. */
void x_mailbox(struct xbuf *b, const char *display, const char *addr);
/* The attachment part headers of file name (RFC 2231 filename* and an
 * ASCII fallback), base64 transfer encoding; ends with the blank line. */
void x_attachment_headers(struct xout *w, const char *content_type, const char *name);

/*
 * The lines a reader needs beside a message's body: forwarded from, in
 * reply to, quote, earlier versions, edited, reactions, attachments not in
 * the archive, kind.  Appended to b, each line starting with "[" and
 * ending with "]\n".  i is the message's index in cc->msgs.
 */
void x_notes(struct xbuf *b, const struct xconv *cv, size_t i);

/* One .eml file per exported message. */
int x_write_eml(struct xconv *cv);

/* ---- export_rsmf.c ------------------------------------------------------ */

/* The end of the slice that starts at message start (same UTC day, at
 * most the event limit). */
size_t x_rsmf_slice_end(const struct xconv *cv, size_t start);
/* Number of .rsmf files cv gives. */
size_t x_rsmf_count(const struct xconv *cv);
/* One .rsmf file per slice. */
int x_write_rsmf(struct xconv *cv);

#endif
