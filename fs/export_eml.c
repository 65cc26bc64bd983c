/*
 * export_eml.c - the MIME pieces the EML and RSMF writers share (base64,
 * header fields with RFC 2047 encoded words, mailboxes, attachment part
 * headers with RFC 2231 file names, the reader's notes beside a body) and
 * the EML writer: one RFC 5322 message per chat message.
 *
 * An exported message (HEX/NNNNNNN.eml, NNNNNNN its 1-based position in the
 * conversation, so that names sort in time order):
 *   From: the sender as a mailbox "Name <pK@HEX.coffer.invalid>" (pK: the
 *     participant number; "system@…" for an event without a sender);
 *   To: the conversation as an empty group "Title:;";
 *   Subject: the title; Date: the message time (UTC);
 *   Message-ID <mN.HEX@coffer.invalid>; In-Reply-To and References name the
 *     message replied to when it is in the archive;
 *   X-Coffer-* fields: conversation id, source, source chat id, source
 *     message id, exact time, the time as the source wrote it and its zone;
 *   body: text/plain UTF-8 (base64), the message text then the notes
 *     (reply, edits, reactions…); attachments as base64 MIME parts of a
 *     multipart/mixed message.
 * Lines end in CRLF.  Bodies are base64, so no boundary can occur in them
 * (base64 has no "-").  The addresses use the reserved .invalid domain: a
 * chat has no e-mail addresses, and a made-up one must never be deliverable.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "crypto.h"
#include "export_int.h"
#include "util.h"

#define B64_LINE 76
#define EW_BYTES 45                     /* input bytes per encoded word: 60 base64 chars */
#define PCT_LINE 48                     /* %-encoded characters of a name per line */
#define PLAIN_NAME 60                   /* longest name written as a quoted string */

static const char b64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* ---- base64 ---------------------------------------------------------------- */

void
x_b64_begin(struct xb64 *b, struct xout *w)
{
	memset(b, 0, sizeof(*b));
	b->w = w;
}

static void
b64_emit(struct xb64 *b, const char out[4])
{
	x_write(b->w, out, 4);
	b->col += 4;
	if (b->col >= B64_LINE) {
		x_write(b->w, "\r\n", 2);
		b->col = 0;
	}
}

static void
b64_quad(const uint8_t in[3], size_t n, char out[4])
{
	uint32_t v = (uint32_t)in[0] << 16 | (uint32_t)(n > 1 ? in[1] : 0) << 8 |
	    (uint32_t)(n > 2 ? in[2] : 0);

	out[0] = b64_chars[(v >> 18) & 63];
	out[1] = b64_chars[(v >> 12) & 63];
	out[2] = n > 1 ? b64_chars[(v >> 6) & 63] : '=';
	out[3] = n > 2 ? b64_chars[v & 63] : '=';
}

void
x_b64_add(struct xb64 *b, const void *p, size_t n)
{
	const uint8_t *u = p;
	char out[4];

	while (n > 0) {
		b->in[b->nin++] = *u++;
		n--;
		if (b->nin == 3) {
			b64_quad(b->in, 3, out);
			b64_emit(b, out);
			b->nin = 0;
		}
	}
}

void
x_b64_end(struct xb64 *b)
{
	char out[4];

	if (b->nin > 0) {
		b64_quad(b->in, b->nin, out);
		b64_emit(b, out);
		b->nin = 0;
	}
	if (b->col > 0)
		x_write(b->w, "\r\n", 2);
	b->col = 0;
	cf_wipe(b->in, sizeof(b->in));
}

/* Text as canonical MIME text: every line break CRLF. */
static void
b64_text(struct xb64 *b, const char *s)
{
	const char *nl;

	while ((nl = strchr(s, '\n')) != NULL) {
		size_t n = (size_t)(nl - s);

		if (n > 0 && s[n - 1] == '\r')
			n--;
		x_b64_add(b, s, n);
		x_b64_add(b, "\r\n", 2);
		s = nl + 1;
	}
	x_b64_add(b, s, strlen(s));
}

static int
sink_b64(void *arg, const void *p, size_t n)
{
	struct xb64 *b = arg;

	x_b64_add(b, p, n);
	return 0;
}

/* ---- header fields ----------------------------------------------------------- */

static int
plain_ascii(const char *s, size_t max)
{
	size_t n = 0;

	for (; *s != '\0'; s++, n++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e || n >= max)
			return 0;
		if (s[0] == '=' && s[1] == '?')
			return 0;
	}
	return 1;
}

/* The bytes of s that start a UTF-8 character at or before want. */
static size_t
utf8_cut(const char *s, size_t len, size_t want)
{
	size_t n = want < len ? want : len;

	if (n == len)
		return n;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n > 0 ? n : (want < len ? want : len);
}

/* s as RFC 2047 encoded words (control characters as spaces), separated
 * by sep. */
static void
encoded_words(struct xbuf *out, const char *s, const char *sep)
{
	size_t len = strlen(s), off = 0, n, k, i;
	uint8_t chunk[EW_BYTES];
	char quad[5];

	quad[4] = '\0';
	if (len == 0) {
		xb_puts(out, "=?UTF-8?B?" "?=");
		return;
	}
	while (off < len) {
		n = utf8_cut(s + off, len - off, EW_BYTES);
		for (i = 0; i < n; i++) {
			unsigned char c = (unsigned char)s[off + i];

			chunk[i] = (c < 0x20 || c == 0x7f) ? ' ' : c;
		}
		if (off > 0)
			xb_puts(out, sep);
		xb_puts(out, "=?UTF-8?B?");
		for (k = 0; k < n; k += 3) {
			b64_quad(chunk + k, n - k < 3 ? n - k : 3, quad);
			xb_puts(out, quad);
		}
		xb_puts(out, "?=");
		off += n;
	}
	cf_wipe(chunk, sizeof chunk);
	cf_wipe(quad, sizeof quad);
}

void
x_header(struct xout *w, const char *name, const char *value)
{
	struct xbuf b = { 0 };

	x_puts(w, name);
	if (plain_ascii(value, 900)) {
		/* folded before a space where the line would pass 78 */
		const char *p = value;
		size_t col = strlen(name) + 2, seg;

		x_puts(w, ": ");
		while (*p != '\0') {
			seg = 1 + strcspn(p + 1, " ");
			if (p != value && col + seg > 78) {
				x_puts(w, "\r\n");
				col = 0;
			}
			x_write(w, p, seg);
			col += seg;
			p += seg;
		}
	} else {
		encoded_words(&b, value, "\r\n ");
		/* the first word on a line of its own when it would make the
		 * first line longer than 78 */
		if (b.err == 0 && strlen(name) + 2 + strcspn(b.p, "\r") > 78)
			x_puts(w, ":\r\n ");
		else
			x_puts(w, ": ");
		if (b.err == 0)
			x_write(w, b.p, b.len);
		else
			x_puts(w, "?");
		xb_free(&b);
	}
	x_puts(w, "\r\n");
}

void
x_phrase(struct xbuf *b, const char *s)
{
	if (plain_ascii(s, 200)) {
		xb_puts(b, "\"");
		for (; *s != '\0'; s++) {
			if (*s == '"' || *s == '\\')
				xb_puts(b, "\\");
			xb_add(b, s, 1);
		}
		xb_puts(b, "\"");
		return;
	}
	encoded_words(b, s, "\r\n ");
}

void
x_mailbox(struct xbuf *b, const char *display, const char *addr)
{
	size_t start = b->len, col;
	const char *last;

	x_phrase(b, display);
	if (b->err != 0)
		return;
	/* fold before the address rather than make a line longer than 78
	 * (the first line starts with "From: ") */
	last = strrchr(b->p + start, '\n');
	col = last != NULL ? strlen(last + 1) : 6 + strlen(b->p + start);
	if (col + strlen(addr) + 3 > 78)
		xb_puts(b, "\r\n <");
	else
		xb_puts(b, " <");
	xb_puts(b, addr);
	xb_puts(b, ">");
}

static const char *
content_type(const char *name)
{
	static const char *const map[][2] = {
		{ "jpg", "image/jpeg" }, { "jpeg", "image/jpeg" }, { "png", "image/png" },
		{ "gif", "image/gif" }, { "webp", "image/webp" }, { "pdf", "application/pdf" },
		{ "txt", "text/plain" }, { "mp4", "video/mp4" }, { "mov", "video/quicktime" },
		{ "mp3", "audio/mpeg" }, { "ogg", "audio/ogg" }, { "opus", "audio/ogg" },
		{ "m4a", "audio/mp4" }, { "vcf", "text/vcard" }, { "zip", "application/zip" },
		{ "json", "application/json" }, { "csv", "text/csv" },
	};
	const char *dot = strrchr(name, '.');
	size_t i;

	if (dot == NULL)
		return "application/octet-stream";
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcasecmp(dot + 1, map[i][0]) == 0)
			return map[i][1];
	return "application/octet-stream";
}

/*
 * Parameter key of a MIME header: key="name" when the name is short plain
 * ASCII, else only the RFC 2231 form key*=UTF-8''%XX… (cut into key*0*,
 * key*1*… continuations so that lines stay short; a %XX is never split).
 * Both forms at once would not do: readers disagree on which one wins.
 */
static void
mime_param(struct xout *w, const char *key, const char *name, const struct xbuf *pct)
{
	size_t off = 0, n, part = 0;

	if (plain_ascii(name, PLAIN_NAME) && strpbrk(name, "\"\\") == NULL) {
		x_printf(w, "%s=\"", key);
		x_puts(w, name);
		x_puts(w, "\"");
		return;
	}
	if (pct->len <= PCT_LINE) {
		x_printf(w, "%s*=UTF-8''", key);
		x_write(w, pct->p, pct->len);
		return;
	}
	while (off < pct->len) {
		n = pct->len - off < PCT_LINE ? pct->len - off : PCT_LINE;
		if (off + n < pct->len && pct->p[off + n - 1] == '%')
			n -= 1;
		else if (off + n < pct->len && pct->p[off + n - 2] == '%')
			n -= 2;
		x_printf(w, "%s%s*%zu*=%s", part > 0 ? ";\r\n " : "", key, part,
		    part == 0 ? "UTF-8''" : "");
		x_write(w, pct->p + off, n);
		off += n;
		part++;
	}
}

void
x_attachment_headers(struct xout *w, const char *ctype, const char *name)
{
	static const char attr_chars[] = "!#$&+-.^_`|~";
	struct xbuf pct = { 0 };
	const unsigned char *u;
	char hx[4];

	if (name[0] == '\0')
		name = "attachment";
	for (u = (const unsigned char *)name; *u != '\0'; u++) {
		if ((*u >= 'a' && *u <= 'z') || (*u >= 'A' && *u <= 'Z') ||
		    (*u >= '0' && *u <= '9') || strchr(attr_chars, *u) != NULL) {
			xb_add(&pct, (const char *)u, 1);
		} else {
			snprintf(hx, sizeof hx, "%%%02X", *u);
			xb_puts(&pct, hx);
		}
	}
	/* out of memory: a generic name rather than a broken header */
	if (pct.err != 0) {
		xb_free(&pct);
		name = "attachment";
		xb_puts(&pct, name);
	}
	x_puts(w, "Content-Type: ");
	x_puts(w, ctype != NULL ? ctype : content_type(name));
	x_puts(w, ";\r\n ");
	mime_param(w, "name", name, &pct);
	x_puts(w, "\r\nContent-Disposition: attachment;\r\n ");
	mime_param(w, "filename", name, &pct);
	x_puts(w, "\r\nContent-Transfer-Encoding: base64\r\n\r\n");
	xb_free(&pct);
}

/* ---- notes beside a body ---------------------------------------------------------- */

/* ms in an extra member: an integer (ms), or a date-time string. */
static int
extra_time(json_t *v, int64_t *ms)
{
	if (json_is_integer(v)) {
		*ms = (int64_t)json_integer_value(v);
		return 0;
	}
	if (json_is_string(v))
		return cf_parse_time(json_string_value(v), "UTC", ms, NULL);
	return -EINVAL;
}

void
x_notes(struct xbuf *b, const struct xconv *cv, size_t i)
{
	const struct cf_chat_content *cc = cv->cc;
	json_t *x = cv->extra[i - cv->lo], *v, *e, *who;
	const char *s, *kind;
	char idbuf[32], t[40];
	size_t k, w;
	long j;
	int64_t ms;

	if (x == NULL)
		return;
	if ((s = json_string_value(json_object_get(x, "forwarded_from"))) != NULL)
		xb_printf(b, "[forwarded from %s]\n", s);
	if ((s = x_reply_to(x, idbuf, sizeof idbuf)) != NULL) {
		if ((j = x_find_id(cv, s)) >= 0) {
			const struct cf_msg *r = &cc->msgs[j];
			const char *body = r->body != NULL ? r->body : "";
			size_t n = strcspn(body, "\r\n");

			x_time_iso(r->ts_ms, t, sizeof t);
			if (n > 80)
				n = utf8_cut(body, strlen(body), 80);
			xb_printf(b, "[in reply to %s %s: ", t,
			    r->sender != NULL && r->sender[0] != '\0' ? r->sender : "*");
			xb_add(b, body, n);
			xb_puts(b, body[n] != '\0' ? "…]\n" : "]\n");
		} else {
			xb_printf(b, "[in reply to message %s, not in this archive]\n", s);
		}
	}
	v = json_object_get(x, "quote");
	if (json_is_object(v) && json_object_get(x, "reply_to") == NULL) {
		const char *a = json_string_value(json_object_get(v, "author"));

		s = json_string_value(json_object_get(v, "text"));
		xb_printf(b, "[quoting %s: %s]\n", a != NULL && a[0] != '\0' ? a : "?",
		    s != NULL ? s : "");
	}
	v = json_object_get(x, "edits");
	json_array_foreach(v, k, e) {
		s = json_string_value(json_object_get(e, "body"));
		if (extra_time(json_object_get(e, "ts"), &ms) == 0) {
			x_time_iso(ms, t, sizeof t);
			xb_printf(b, "[before an edit, version of %s: %s]\n", t, s != NULL ? s : "");
		} else {
			xb_printf(b, "[before an edit: %s]\n", s != NULL ? s : "");
		}
	}
	kind = json_string_value(json_object_get(x, "kind"));
	if (extra_time(json_object_get(x, "edited_ts"), &ms) == 0) {
		x_time_iso(ms, t, sizeof t);
		xb_printf(b, "[edited %s]\n", t);
	} else if (json_array_size(v) == 0 && (json_is_true(json_object_get(x, "edited")) ||
	    (kind != NULL && strcmp(kind, "edited") == 0))) {
		xb_puts(b, "[edited]\n");
	}
	v = json_object_get(x, "reactions");
	if (json_array_size(v) > 0) {
		xb_puts(b, "[reactions:");
		json_array_foreach(v, k, e) {
			json_t *by = json_object_get(e, "by");
			json_int_t count = json_integer_value(json_object_get(e, "count"));

			s = json_string_value(json_object_get(e, "emoji"));
			xb_printf(b, "%s%s", k > 0 ? "; " : " ", s != NULL ? s : "?");
			if (json_array_size(by) > 0) {
				json_array_foreach(by, w, who) {
					s = json_string_value(who);
					xb_printf(b, "%s%s", w > 0 ? ", " : " ", s != NULL ? s : "?");
				}
			} else if (count > 0) {
				xb_printf(b, " %" JSON_INTEGER_FORMAT, count);
			}
		}
		xb_puts(b, "]\n");
	}
	json_array_foreach(json_object_get(x, "missing_attachments"), k, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		const char *why = json_string_value(json_object_get(e, "reason"));

		xb_printf(b, "[attachment not in the archive: %s%s%s%s]\n",
		    name != NULL && name[0] != '\0' ? name : "(no name)",
		    why != NULL && why[0] != '\0' ? " (" : "", why != NULL ? why : "",
		    why != NULL && why[0] != '\0' ? ")" : "");
	}
	if (kind != NULL && kind[0] != '\0' && strcmp(kind, "edited") != 0)
		xb_printf(b, "[kind: %s]\n", kind);
}

/* ---- the EML writer ------------------------------------------------------------------- */

static void
eml_address(char *buf, size_t n, const struct xconv *cv, const char *sender)
{
	long p = x_participant(cv, sender);

	if (p >= 0)
		snprintf(buf, n, "p%ld@%s.coffer.invalid", p + 1, cv->hex);
	else
		snprintf(buf, n, "system@%s.coffer.invalid", cv->hex);
}

/* The header of message i, up to and including the blank line when the
 * message has no attachment (else the multipart preamble follows). */
static void
eml_header(struct xout *w, const struct xconv *cv, size_t i, struct xbuf *tmp)
{
	const struct cf_msg *m = &cv->cc->msgs[i];
	const char *title = cv->c->title != NULL && cv->c->title[0] != '\0' ? cv->c->title :
	    cv->chat;
	const char *sender = m->sender != NULL && m->sender[0] != '\0' ? m->sender : NULL;
	char addr[128], date[40], iso[40], idbuf[32];
	const char *reply;
	long j;

	eml_address(addr, sizeof addr, cv, sender);
	x_mailbox(tmp, sender != NULL ? sender : "system", addr);
	x_puts(w, "From: ");
	if (tmp->err == 0)
		x_write(w, tmp->p, tmp->len);
	x_puts(w, "\r\n");
	xb_free(tmp);
	x_phrase(tmp, title);
	x_puts(w, "To: ");
	if (tmp->err == 0)
		x_write(w, tmp->p, tmp->len);
	x_puts(w, ":;\r\n");
	xb_free(tmp);
	x_header(w, "Subject", title);
	x_time_rfc5322(m->ts_ms, date, sizeof date);
	x_printf(w, "Date: %s\r\n", date);
	x_printf(w, "Message-ID: <m%zu.%s@coffer.invalid>\r\n", i + 1, cv->hex);
	reply = x_reply_to(cv->extra[i - cv->lo], idbuf, sizeof idbuf);
	if (reply != NULL && (j = x_find_id(cv, reply)) >= 0) {
		x_printf(w, "In-Reply-To: <m%ld.%s@coffer.invalid>\r\n", j + 1, cv->hex);
		x_printf(w, "References: <m%ld.%s@coffer.invalid>\r\n", j + 1, cv->hex);
	}
	x_printf(w, "X-Coffer-Conversation: %s\r\n", cv->hex);
	if (cv->c->source != NULL && cv->c->source[0] != '\0')
		x_header(w, "X-Coffer-Source", cv->c->source);
	x_header(w, "X-Coffer-Chat", cv->chat);
	if (m->id != NULL && m->id[0] != '\0')
		x_header(w, "X-Coffer-Message-Id", m->id);
	x_time_iso(m->ts_ms, iso, sizeof iso);
	x_printf(w, "X-Coffer-Time: %s\r\n", iso);
	if (m->ts_raw != NULL && m->ts_raw[0] != '\0')
		x_header(w, "X-Coffer-Source-Time", m->ts_raw);
	if (m->tz != NULL && m->tz[0] != '\0')
		x_header(w, "X-Coffer-Source-Zone", m->tz);
	x_puts(w, "MIME-Version: 1.0\r\n");
}

static int
eml_one(struct xconv *cv, size_t i)
{
	const struct cf_msg *m = &cv->cc->msgs[i];
	struct xbuf text = { 0 }, tmp = { 0 };
	struct xout *w = NULL;
	struct xb64 b;
	char rel[PATH_MAX];
	size_t k;
	int rc;

	if ((rc = cf_path(rel, sizeof rel, "%s/%07zu.eml", cv->hex, i + 1)) != 0) {
		cf_error("%s: a file name is too long", x_dirname(cv->x));
		return rc;
	}
	xb_puts(&text, m->body != NULL ? m->body : "");
	if (text.len > 0 && text.p[text.len - 1] != '\n')
		xb_puts(&text, "\n");
	if (cv->extra[i - cv->lo] != NULL) {
		struct xbuf notes = { 0 };

		x_notes(&notes, cv, i);
		if (notes.len > 0) {
			if (text.len > 0)
				xb_puts(&text, "\n");
			xb_add(&text, notes.p, notes.len);
		}
		if (notes.err != 0)
			text.err = notes.err;
		xb_free(&notes);
	}
	if (text.err != 0) {
		xb_free(&text);
		cf_error("out of memory");
		return -ENOMEM;
	}
	if ((rc = x_open(cv->x, rel, &w)) != 0)
		goto out;
	eml_header(w, cv, i, &tmp);
	if (m->natt > 0) {
		x_puts(w, "Content-Type: multipart/mixed; boundary=\"" X_BOUNDARY "\"\r\n\r\n");
		x_puts(w, "This is a message in MIME format.\r\n\r\n--" X_BOUNDARY "\r\n");
	}
	x_puts(w, "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n");
	x_b64_begin(&b, w);
	b64_text(&b, text.p != NULL ? text.p : "");
	x_b64_end(&b);
	for (k = 0; k < m->natt; k++) {
		const char *name = m->att[k].name != NULL && m->att[k].name[0] != '\0' ?
		    m->att[k].name : cv->attfile[cv->attfirst[i - cv->lo] + k];

		x_puts(w, "\r\n--" X_BOUNDARY "\r\n");
		x_attachment_headers(w, NULL, name);
		x_b64_begin(&b, w);
		rc = x_attachment_read(cv, &m->att[k], sink_b64, &b);       /* reports */
		if (rc != 0) {
			x_abort(w);
			w = NULL;
			goto out;
		}
		x_b64_end(&b);
	}
	if (m->natt > 0)
		x_puts(w, "\r\n--" X_BOUNDARY "--\r\n");
	rc = x_close(w, cv);
	w = NULL;
out:
	x_abort(w);
	xb_free(&tmp);
	xb_free(&text);
	return rc;
}

int
x_write_eml(struct xconv *cv)
{
	size_t i;
	int rc;

	for (i = cv->lo; i < cv->hi; i++)
		if ((rc = eml_one(cv, i)) != 0)
			return rc;
	return 0;
}
