/*
 * export_rsmf.c - the RSMF 2.0 writer (Relativity Short Message Format).
 *
 * A conversation is cut into slices: the messages of one UTC day, at most
 * the event limit (10,000) each; every slice is one file
 * HEX/YYYY-MM-DD_NNN.rsmf.  An .rsmf file is an RFC 5322 message with the
 * X-RSMF-* header fields (Version 2.0.0, Generator, BeginDate, EndDate,
 * EventCount, AttachmentCount, Application, Participants,
 * EventCollectionID), a text/plain preview of the slice and exactly one
 * attachment, rsmf.zip, holding rsmf_manifest.json and the slice's
 * attachment files.  The manifest (schema rsmf_schema_2_0_0.json):
 *   participants   every name the slice mentions, id "P<k>" numbered over
 *                  the whole export of the conversation, so that ids agree
 *                  between the slices
 *   conversations  one: id = the conversation id (hex), display = title,
 *                  platform = the source format, type direct (at most two
 *                  senders) or channel
 *   events         one per message, id "m<N>" (N: position in the
 *                  conversation): type message, or disclaimer for an event
 *                  without a sender; parent = the thread root or the message
 *                  replied to when it is exported too; reactions, edits
 *                  (previous/new text of each version), deleted, attachments
 *                  (zip member, original name, size) and custom fields for
 *                  the rest (source message id, source time and zone, kind,
 *                  forwarded from, quote, attachments not in the archive,
 *                  unknown source fields)
 *   eventcollectionid  the conversation id: the same in every slice
 * docs/EXPORT.md has the full mapping.
 *
 * The zip is written by libzip to a hidden file in the conversation's
 * folder (below DIR, never elsewhere), copied into the .rsmf in base64 and
 * removed.  Attachments are streamed into it from their blobs through a
 * libzip source callback, stored uncompressed (media are compressed
 * already); the manifest is deflated.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <zip.h>

#include "crypto.h"
#include "export_int.h"
#include "util.h"

#define RSMF_VERSION "2.0.0"
#define RSMF_READ 65536

/* ---- slices ------------------------------------------------------------------ */

static size_t
max_events(const struct xconv *cv)
{
	size_t m = cv->o->max_events;

	return m == 0 || m > CF_EXPORT_RSMF_MAX_EVENTS ? CF_EXPORT_RSMF_MAX_EVENTS : m;
}

size_t
x_rsmf_slice_end(const struct xconv *cv, size_t start)
{
	const struct cf_chat_content *cc = cv->cc;
	int64_t day = x_day(cc->msgs[start].ts_ms);
	size_t e = start + 1, max = max_events(cv);

	while (e < cv->hi && e - start < max && x_day(cc->msgs[e].ts_ms) == day)
		e++;
	return e;
}

size_t
x_rsmf_count(const struct xconv *cv)
{
	size_t s, n = 0;

	for (s = cv->lo; s < cv->hi; s = x_rsmf_slice_end(cv, s))
		n++;
	return n;
}

/* ---- the manifest -------------------------------------------------------------- */

static int
set_s(json_t *o, const char *key, const char *val)
{
	json_t *s = json_string(val);

	return s != NULL && json_object_set_new(o, key, s) == 0 ? 0 : -1;
}

/* A custom {name, value}; nothing when value is empty (the schema wants
 * at least one character). */
static int
add_custom(json_t *arr, const char *name, const char *value)
{
	json_t *o;

	if (value == NULL || value[0] == '\0')
		return 0;
	if ((o = json_object()) == NULL || set_s(o, "name", name) != 0 ||
	    set_s(o, "value", value) != 0 || json_array_append_new(arr, o) != 0) {
		json_decref(o);
		return -1;
	}
	return 0;
}

static int
pid(char *buf, size_t n, const struct xconv *cv, const char *name)
{
	long p = x_participant(cv, name);

	if (p < 0)
		return -1;
	snprintf(buf, n, "P%ld", p + 1);
	return 0;
}

/* ms of an extra member: integer ms or a date-time string. */
static int
extra_ms(json_t *v, int64_t *ms)
{
	if (json_is_integer(v)) {
		*ms = (int64_t)json_integer_value(v);
		return 0;
	}
	if (json_is_string(v))
		return cf_parse_time(json_string_value(v), "UTC", ms, NULL);
	return -EINVAL;
}

/* extra members this writer maps; "source", "source_text" and "dup" (the
 * original input, kept for a later rendering) are not exported */
static const char *const mapped[] = {
	"kind", "reply_to", "thread", "edits", "edited", "edited_ts", "reactions",
	"missing_attachments", "forwarded_from", "quote", "source", "source_text", "dup", NULL,
};

static int
is_mapped(const char *key)
{
	size_t i;

	for (i = 0; mapped[i] != NULL; i++)
		if (strcmp(mapped[i], key) == 0)
			return 1;
	return 0;
}

static int
event_reactions(json_t *ev, const struct xconv *cv, json_t *x)
{
	json_t *arr = NULL, *r, *o, *who, *ps;
	size_t k, w;
	char id[32];
	int bad = 0;

	if (json_array_size(json_object_get(x, "reactions")) == 0)
		return 0;
	if ((arr = json_array()) == NULL)
		return -1;
	json_array_foreach(json_object_get(x, "reactions"), k, r) {
		const char *emoji = json_string_value(json_object_get(r, "emoji"));
		json_int_t count = json_integer_value(json_object_get(r, "count"));
		json_t *by = json_object_get(r, "by");

		if (emoji == NULL || emoji[0] == '\0')
			continue;
		if ((o = json_object()) == NULL || json_array_append_new(arr, o) != 0) {
			bad = 1;
			break;
		}
		bad |= set_s(o, "value", emoji);
		if (count <= 0)
			count = (json_int_t)json_array_size(by);
		if (count > 0)
			bad |= json_object_set_new(o, "count", json_integer(count));
		if (json_array_size(by) > 0) {
			bad |= (ps = json_array()) == NULL ||
			    json_object_set_new(o, "participants", ps) != 0;
			json_array_foreach(by, w, who) {
				if (bad)
					break;
				if (pid(id, sizeof id, cv, json_string_value(who)) == 0)
					bad |= json_array_append_new(ps, json_string(id));
			}
		}
	}
	if (!bad && json_array_size(arr) > 0)
		return json_object_set_new(ev, "reactions", arr);
	json_decref(arr);
	return bad ? -1 : 0;
}

/* Edits: version k of extra.edits (oldest first) was replaced by version
 * k + 1, the last by the current body. */
static int
event_edits(json_t *ev, const struct xconv *cv, size_t i, json_t *x, json_t *custom)
{
	const struct cf_msg *m = &cv->cc->msgs[i];
	json_t *edits = json_object_get(x, "edits"), *arr, *o, *e;
	const char *kind = json_string_value(json_object_get(x, "kind"));
	char who[32], t[40];
	size_t k, n = json_array_size(edits);
	int64_t ms;
	int edited = json_is_true(json_object_get(x, "edited")) ||
	    json_object_get(x, "edited_ts") != NULL || (kind != NULL && strcmp(kind, "edited") == 0);
	int bad = 0;

	if (n == 0 && !edited)
		return 0;
	/* an edit must name who made it: the sender */
	if (pid(who, sizeof who, cv, m->sender) != 0)
		return add_custom(custom, "Edited", "true");
	if ((arr = json_array()) == NULL || json_object_set_new(ev, "edits", arr) != 0)
		return -1;
	if (n == 0) {
		if ((o = json_object()) == NULL || json_array_append_new(arr, o) != 0)
			return -1;
		bad |= set_s(o, "participant", who);
		if (extra_ms(json_object_get(x, "edited_ts"), &ms) == 0) {
			x_time_iso(ms, t, sizeof t);
			bad |= set_s(o, "timestamp", t);
		}
		return bad ? -1 : 0;
	}
	json_array_foreach(edits, k, e) {
		const char *prev = json_string_value(json_object_get(e, "body"));
		const char *next = k + 1 < n ?
		    json_string_value(json_object_get(json_array_get(edits, k + 1), "body")) :
		    m->body;
		json_t *when = k + 1 < n ? json_object_get(json_array_get(edits, k + 1), "ts") :
		    json_object_get(x, "edited_ts");

		if ((o = json_object()) == NULL || json_array_append_new(arr, o) != 0)
			return -1;
		bad |= set_s(o, "participant", who);
		if (extra_ms(when, &ms) == 0) {
			x_time_iso(ms, t, sizeof t);
			bad |= set_s(o, "timestamp", t);
		}
		if (prev != NULL)
			bad |= set_s(o, "previous", prev);
		if (next != NULL)
			bad |= set_s(o, "new", next);
	}
	return bad ? -1 : 0;
}

/* The parent event: the thread's root, else the message replied to, when
 * it is among the exported messages. */
static long
event_parent(const struct xconv *cv, size_t i, json_t *x)
{
	char buf[32];
	const char *th = json_string_value(json_object_get(x, "thread"));
	const char *rep = x_reply_to(x, buf, sizeof buf);
	long j = -1;

	if (th != NULL)
		j = x_find_id(cv, th);
	if ((j < 0 || (size_t)j == i) && rep != NULL)
		j = x_find_id(cv, rep);
	if (j < 0 || (size_t)j == i || (size_t)j < cv->lo || (size_t)j >= cv->hi)
		return -1;
	return j;
}

static int
event_custom(json_t *custom, const struct xconv *cv, size_t i, json_t *x)
{
	const struct cf_msg *m = &cv->cc->msgs[i];
	json_t *v, *e;
	const char *key, *s;
	char buf[32], *text;
	size_t k;
	int bad = 0;

	bad |= add_custom(custom, "Message ID", m->id);
	bad |= add_custom(custom, "Source time", m->ts_raw);
	bad |= add_custom(custom, "Source zone", m->tz);
	if (x == NULL)
		return bad;
	bad |= add_custom(custom, "Kind", json_string_value(json_object_get(x, "kind")));
	bad |= add_custom(custom, "Forwarded from",
	    json_string_value(json_object_get(x, "forwarded_from")));
	bad |= add_custom(custom, "In reply to", x_reply_to(x, buf, sizeof buf));
	bad |= add_custom(custom, "Thread", json_string_value(json_object_get(x, "thread")));
	v = json_object_get(x, "quote");
	if (json_is_object(v)) {
		const char *a = json_string_value(json_object_get(v, "author"));

		s = json_string_value(json_object_get(v, "text"));
		bad |= add_custom(custom, "Quote author", a);
		bad |= add_custom(custom, "Quote", s);
	}
	json_array_foreach(json_object_get(x, "missing_attachments"), k, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		const char *why = json_string_value(json_object_get(e, "reason"));

		if (asprintf(&text, "%s%s%s%s", name != NULL && name[0] != '\0' ? name : "(no name)",
		    why != NULL && why[0] != '\0' ? " (" : "", why != NULL ? why : "",
		    why != NULL && why[0] != '\0' ? ")" : "") < 0)
			return -1;
		bad |= add_custom(custom, "Attachment not in the archive", text);
		cf_free_wiped(text);
	}
	/* source fields Coffer has no name for */
	json_object_foreach(x, key, v) {
		if (is_mapped(key) || bad)
			continue;
		if (json_is_string(v)) {
			bad |= add_custom(custom, key, json_string_value(v));
			continue;
		}
		if ((text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)
			return -1;
		bad |= add_custom(custom, key, text);
		cf_free_wiped(text);
	}
	return bad;
}

static json_t *
make_event(const struct xconv *cv, size_t i)
{
	const struct cf_msg *m = &cv->cc->msgs[i];
	json_t *x = cv->extra[i - cv->lo], *ev, *custom = NULL, *atts, *a;
	const char *kind = json_string_value(json_object_get(x, "kind"));
	char id[40], t[40];
	size_t k;
	long j;
	int bad = 0;

	if ((ev = json_object()) == NULL)
		return NULL;
	snprintf(id, sizeof id, "m%zu", i + 1);
	bad |= set_s(ev, "id", id);
	if (pid(id, sizeof id, cv, m->sender) == 0) {
		bad |= set_s(ev, "type", "message");
		bad |= set_s(ev, "participant", id);
	} else {
		bad |= set_s(ev, "type", "disclaimer");
	}
	bad |= set_s(ev, "conversation", cv->hex);
	x_time_iso(m->ts_ms, t, sizeof t);
	bad |= set_s(ev, "timestamp", t);
	bad |= set_s(ev, "body", m->body != NULL ? m->body : "");
	if ((j = event_parent(cv, i, x)) >= 0) {
		snprintf(id, sizeof id, "m%ld", j + 1);
		bad |= set_s(ev, "parent", id);
	}
	if (kind != NULL && strcmp(kind, "deleted") == 0)
		bad |= json_object_set_new(ev, "deleted", json_true());
	if (m->natt > 0) {
		bad |= (atts = json_array()) == NULL || json_object_set_new(ev, "attachments", atts);
		for (k = 0; k < m->natt && !bad; k++) {
			const char *file = cv->attfile[cv->attfirst[i - cv->lo] + k];
			const char *nm = m->att[k].name;

			bad |= (a = json_object()) == NULL || json_array_append_new(atts, a) != 0;
			if (bad)
				break;
			bad |= set_s(a, "id", file);
			bad |= set_s(a, "display", nm != NULL && nm[0] != '\0' ? nm : file);
			bad |= json_object_set_new(a, "size", json_integer((json_int_t)m->att[k].size));
		}
	}
	bad |= (custom = json_array()) == NULL;
	if (!bad) {
		bad |= event_reactions(ev, cv, x) != 0;
		bad |= event_edits(ev, cv, i, x, custom) != 0;
		bad |= event_custom(custom, cv, i, x) != 0;
	}
	if (!bad && json_array_size(custom) > 0) {
		bad |= json_object_set_new(ev, "custom", custom) != 0;
		custom = NULL;
	}
	json_decref(custom);
	if (bad) {
		json_decref(ev);
		return NULL;
	}
	return ev;
}

/* Mark every participant slice [s, e) mentions. */
static void
mark_participants(const struct xconv *cv, size_t s, size_t e, unsigned char *mark)
{
	json_t *r, *who;
	size_t i, k, w;
	long p;

	for (i = s; i < e; i++) {
		if ((p = x_participant(cv, cv->cc->msgs[i].sender)) >= 0)
			mark[p] = 1;
		json_array_foreach(json_object_get(cv->extra[i - cv->lo], "reactions"), k, r) {
			json_array_foreach(json_object_get(r, "by"), w, who) {
				if ((p = x_participant(cv, json_string_value(who))) >= 0)
					mark[p] = 1;
			}
		}
	}
}

static char *
make_manifest(const struct xconv *cv, size_t s, size_t e, const unsigned char *mark)
{
	json_t *root, *parts, *convs, *conv, *cparts, *events, *ev, *o, *custom;
	const char *title = cv->c->title != NULL && cv->c->title[0] != '\0' ? cv->c->title :
	    cv->chat;
	char id[32], *text = NULL;
	size_t i, p;
	int bad = 0;

	/* each new value is owned by its parent at once (json_*_set_new and
	 * _append_new take it even when they fail), so root frees them all */
	if ((root = json_object()) == NULL)
		return NULL;
	parts = json_array();
	convs = json_array();
	events = json_array();
	conv = json_object();
	cparts = json_array();
	custom = json_array();
	bad |= set_s(root, "version", RSMF_VERSION) != 0;
	bad |= parts == NULL || json_object_set_new(root, "participants", parts) != 0;
	bad |= convs == NULL || json_object_set_new(root, "conversations", convs) != 0;
	bad |= events == NULL || json_object_set_new(root, "events", events) != 0;
	bad |= conv == NULL || convs == NULL || json_array_append_new(convs, conv) != 0;
	if (bad || cparts == NULL || custom == NULL) {
		if (convs == NULL)
			json_decref(conv);
		json_decref(cparts);
		json_decref(custom);
		json_decref(root);
		return NULL;
	}
	/* the conversation's members in the schema's order */
	bad |= set_s(conv, "id", cv->hex);
	bad |= set_s(conv, "display", title);
	bad |= set_s(conv, "platform", cv->c->source != NULL && cv->c->source[0] != '\0' ?
	    cv->c->source : "unknown");
	bad |= set_s(conv, "type", cv->nsenders <= 2 ? "direct" : "channel");
	bad |= json_object_set_new(conv, "participants", cparts) != 0;
	for (p = 0; p < cv->np && !bad; p++) {
		if (!mark[p])
			continue;
		snprintf(id, sizeof id, "P%zu", p + 1);
		bad |= (o = json_object()) == NULL || json_array_append_new(parts, o) != 0;
		if (!bad) {
			bad |= set_s(o, "id", id);
			bad |= set_s(o, "display", cv->pnames[p]);
			bad |= json_array_append_new(cparts, json_string(id)) != 0;
		}
	}
	bad |= add_custom(custom, "Source chat id", cv->chat);
	bad |= add_custom(custom, "Coffer conversation", cv->hex);
	bad |= json_object_set_new(conv, "custom", custom) != 0;
	for (i = s; i < e && !bad; i++) {
		if ((ev = make_event(cv, i)) == NULL || json_array_append_new(events, ev) != 0)
			bad = 1;
	}
	bad |= set_s(root, "eventcollectionid", cv->hex);
	if (!bad)
		text = json_dumps(root, JSON_INDENT(1));
	json_decref(root);
	return text;
}

/* ---- the zip --------------------------------------------------------------------- */

/* One attachment as a libzip source, read from its blob when libzip asks. */
struct attsrc {
	const struct xconv *cv;
	const struct cf_attach *at;
	int64_t mtime;
	struct cf_blob_reader *r;
	uint64_t off;
	zip_error_t err;
	int rc;                         /* our error (reported), 0 if none */
};

static zip_int64_t
att_fail(struct attsrc *a, int rc)
{
	a->rc = rc;
	zip_error_set(&a->err, ZIP_ER_READ, -rc);
	return -1;
}

static zip_int64_t
att_cb(void *ud, void *data, zip_uint64_t len, zip_source_cmd_t cmd)
{
	struct attsrc *a = ud;
	zip_stat_t *st;
	ssize_t got;
	int rc;

	switch (cmd) {
	case ZIP_SOURCE_OPEN:
		if (a->r == NULL) {
			rc = cf_chat_attachment_open(a->cv->a, a->cv->c, a->at->blob_id, &a->r);
			if (rc != 0)
				return att_fail(a, rc);
			if (cf_blob_plain_size(a->r) != a->at->size) {
				cf_error("%s: conversation %s: an attachment's size differs from "
				    "its record", cf_archive_dir(a->cv->a), a->cv->hex);
				return att_fail(a, -EBADMSG);
			}
		}
		a->off = 0;
		return 0;
	case ZIP_SOURCE_READ:
		if (a->off >= a->at->size)
			return 0;
		got = cf_blob_pread(a->r, data, len > RSMF_READ ? RSMF_READ : (size_t)len, a->off);
		if (got < 0)
			return att_fail(a, (int)got);
		if (got == 0) {
			cf_error("%s: conversation %s: an attachment ends early",
			    cf_archive_dir(a->cv->a), a->cv->hex);
			return att_fail(a, -EBADMSG);
		}
		a->off += (uint64_t)got;
		return got;
	case ZIP_SOURCE_CLOSE:
		cf_blob_close(a->r);
		a->r = NULL;
		return 0;
	case ZIP_SOURCE_STAT:
		if (len < sizeof(*st)) {
			zip_error_set(&a->err, ZIP_ER_INVAL, 0);
			return -1;
		}
		st = data;
		zip_stat_init(st);
		st->size = a->at->size;
		st->mtime = (time_t)(a->mtime / 1000);
		st->valid |= ZIP_STAT_SIZE | ZIP_STAT_MTIME;
		return (zip_int64_t)sizeof(*st);
	case ZIP_SOURCE_ERROR:
		return zip_error_to_data(&a->err, data, len);
	case ZIP_SOURCE_FREE:
		return 0;
	case ZIP_SOURCE_SUPPORTS:
		return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ,
		    ZIP_SOURCE_CLOSE, ZIP_SOURCE_STAT, ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE, -1);
	default:
		zip_error_set(&a->err, ZIP_ER_OPNOTSUPP, 0);
		return -1;
	}
}

/* Write the zip of slice [s, e) to DIR/zrel: rsmf_manifest.json, then
 * every attachment.  Returns 0 or -errno (reported). */
static int
write_zip(const struct xconv *cv, size_t s, size_t e, const char *manifest, const char *zrel,
    size_t natt)
{
	struct attsrc *srcs = NULL;
	zip_source_t *src;
	zip_int64_t idx;
	zip_t *z = NULL;
	char path[PATH_MAX];
	size_t i, k, n = 0;
	int zerr = 0, rc;

	if ((rc = cf_path(path, sizeof path, "%s/%s", x_dirname(cv->x), zrel)) != 0) {
		cf_error("%s: a path is too long", x_dirname(cv->x));
		return rc;
	}
	if (natt > 0 && (srcs = calloc(natt, sizeof(*srcs))) == NULL) {
		cf_error("out of memory");
		return -ENOMEM;
	}
	if ((z = zip_open(path, ZIP_CREATE | ZIP_EXCL, &zerr)) == NULL) {
		zip_error_t ze;

		zip_error_init_with_code(&ze, zerr);
		cf_error("%s: %s", path, zip_error_strerror(&ze));
		zip_error_fini(&ze);
		rc = -EIO;
		goto out;
	}
	if ((src = zip_source_buffer(z, manifest, strlen(manifest), 0)) == NULL)
		goto zfail;
	if ((idx = zip_file_add(z, "rsmf_manifest.json", src, ZIP_FL_ENC_UTF_8)) < 0) {
		zip_source_free(src);
		goto zfail;
	}
	if (zip_file_set_mtime(z, (zip_uint64_t)idx,
	    (time_t)(cv->cc->msgs[e - 1].ts_ms / 1000), 0) != 0)
		goto zfail;
	for (i = s; i < e; i++) {
		for (k = 0; k < cv->cc->msgs[i].natt; k++, n++) {
			struct attsrc *a = &srcs[n];

			a->cv = cv;
			a->at = &cv->cc->msgs[i].att[k];
			a->mtime = cv->cc->msgs[i].ts_ms;
			zip_error_init(&a->err);
			if ((src = zip_source_function(z, att_cb, a)) == NULL)
				goto zfail;
			idx = zip_file_add(z, cv->attfile[cv->attfirst[i - cv->lo] + k], src,
			    ZIP_FL_ENC_UTF_8);
			if (idx < 0) {
				zip_source_free(src);
				goto zfail;
			}
			if (zip_set_file_compression(z, (zip_uint64_t)idx, ZIP_CM_STORE, 0) != 0 ||
			    zip_file_set_mtime(z, (zip_uint64_t)idx, (time_t)(a->mtime / 1000), 0))
				goto zfail;
		}
	}
	if (zip_close(z) != 0)
		goto zfail;
	z = NULL;
	rc = 0;
	goto out;
zfail:
	rc = -EIO;
	for (k = 0; k < n; k++)
		if (srcs[k].rc != 0)
			rc = srcs[k].rc;        /* already reported */
	if (rc == -EIO)
		cf_error("%s: %s", path, zip_strerror(z));
	if (z != NULL)
		zip_discard(z);
	z = NULL;
	(void)unlink(path);
out:
	for (k = 0; k < n; k++) {
		cf_blob_close(srcs[k].r);
		zip_error_fini(&srcs[k].err);
	}
	free(srcs);
	return rc;
}

/* Copy DIR/zrel into w as base64, then remove it. */
static int
zip_into(struct xout *w, const struct xconv *cv, const char *zrel)
{
	struct xb64 b;
	unsigned char *buf;
	ssize_t n;
	int fd, rc = 0;

	fd = openat(x_dirfd(cv->x), zrel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		cf_error("%s/%s: %s", x_dirname(cv->x), zrel, strerror(-rc));
		return rc;
	}
	if ((buf = malloc(RSMF_READ)) == NULL) {
		cf_error("out of memory");
		(void)close(fd);
		return -ENOMEM;
	}
	x_b64_begin(&b, w);
	for (;;) {
		n = read(fd, buf, RSMF_READ);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			cf_error("%s/%s: %s", x_dirname(cv->x), zrel, strerror(-rc));
			break;
		}
		if (n == 0)
			break;
		x_b64_add(&b, buf, (size_t)n);
	}
	x_b64_end(&b);
	cf_wipe(buf, RSMF_READ);
	free(buf);
	(void)close(fd);                /* read-only */
	return rc;
}

/* ---- one .rsmf file ------------------------------------------------------------------- */

static void
preview(struct xbuf *b, const struct xconv *cv, size_t s, size_t e, const unsigned char *mark)
{
	const char *title = cv->c->title != NULL && cv->c->title[0] != '\0' ? cv->c->title :
	    cv->chat;
	char t[40];
	size_t i, p, n = 0;

	xb_printf(b, "Conversation: %s\nConversation id: %s\nParticipants: ", title, cv->hex);
	for (p = 0; p < cv->np; p++) {
		if (mark[p])
			xb_printf(b, "%s%s", n++ > 0 ? ", " : "", cv->pnames[p]);
	}
	xb_printf(b, "\nEvents: %zu\n\n", e - s);
	for (i = s; i < e; i++) {
		const struct cf_msg *m = &cv->cc->msgs[i];

		x_time_iso(m->ts_ms, t, sizeof t);
		xb_printf(b, "%s  %s: %s\n", t,
		    m->sender != NULL && m->sender[0] != '\0' ? m->sender : "*",
		    m->body != NULL ? m->body : "");
		if (cv->extra[i - cv->lo] != NULL)
			x_notes(b, cv, i);
	}
}

static void
rsmf_headers(struct xout *w, const struct xconv *cv, size_t s, size_t e, size_t part,
    int parts, size_t natt, const unsigned char *mark)
{
	const struct cf_chat_content *cc = cv->cc;
	const char *title = cv->c->title != NULL && cv->c->title[0] != '\0' ? cv->c->title :
	    cv->chat;
	struct xbuf b = { 0 };
	char begin[40], end[40], date[40], day[16];
	size_t p, n = 0;

	x_time_iso(cc->msgs[s].ts_ms, begin, sizeof begin);
	x_time_iso(cc->msgs[e - 1].ts_ms, end, sizeof end);
	snprintf(day, sizeof day, "%.10s", begin);
	x_mailbox(&b, "Coffer export", "export@coffer.invalid");
	x_puts(w, "From: ");
	if (b.err == 0)
		x_write(w, b.p, b.len);
	x_puts(w, "\r\n");
	xb_free(&b);
	x_phrase(&b, title);
	x_puts(w, "To: ");
	if (b.err == 0)
		x_write(w, b.p, b.len);
	x_puts(w, ":;\r\n");
	xb_free(&b);
	if (parts)
		xb_printf(&b, "%s, %s (part %zu)", title, day, part);
	else
		xb_printf(&b, "%s, %s", title, day);
	x_header(w, "Subject", b.err == 0 ? b.p : title);
	xb_free(&b);
	x_time_rfc5322(cc->msgs[s].ts_ms, date, sizeof date);
	x_printf(w, "Date: %s\r\n", date);
	x_printf(w, "Message-ID: <%s.%.4s%.2s%.2s.%03zu@coffer.invalid>\r\n", cv->hex, day,
	    day + 5, day + 8, part);
	x_puts(w, "X-RSMF-Version: " RSMF_VERSION "\r\n");
	x_puts(w, "X-RSMF-Generator: Coffer\r\n");
	x_printf(w, "X-RSMF-BeginDate: %s\r\n", begin);
	x_printf(w, "X-RSMF-EndDate: %s\r\n", end);
	x_printf(w, "X-RSMF-EventCount: %zu\r\n", e - s);
	x_printf(w, "X-RSMF-AttachmentCount: %zu\r\n", natt);
	x_header(w, "X-RSMF-Application", cv->c->source != NULL && cv->c->source[0] != '\0' ?
	    cv->c->source : "unknown");
	for (p = 0; p < cv->np; p++) {
		if (mark[p])
			xb_printf(&b, "%s%s", n++ > 0 ? ", " : "", cv->pnames[p]);
	}
	if (n > 0 && b.err == 0)
		x_header(w, "X-RSMF-Participants", b.p);
	xb_free(&b);
	x_printf(w, "X-RSMF-EventCollectionID: %s\r\n", cv->hex);
	x_puts(w, "MIME-Version: 1.0\r\n");
	x_puts(w, "Content-Type: multipart/mixed; boundary=\"" X_BOUNDARY "\"\r\n\r\n");
	x_puts(w, "This is a message in MIME format.\r\n");
}

static int
rsmf_slice(struct xconv *cv, size_t s, size_t e, size_t part, int parts)
{
	const struct cf_chat_content *cc = cv->cc;
	struct xbuf text = { 0 };
	struct xout *w = NULL;
	struct xb64 b;
	unsigned char *mark = NULL;
	char *manifest = NULL, rel[PATH_MAX], zrel[PATH_MAX], day[40];
	size_t i, natt = 0;
	int rc, zip_made = 0;

	for (i = s; i < e; i++)
		natt += cc->msgs[i].natt;
	x_time_iso(cc->msgs[s].ts_ms, day, sizeof day);
	if ((rc = cf_path(rel, sizeof rel, "%s/%.10s_%03zu.rsmf", cv->hex, day, part)) != 0 ||
	    (rc = cf_path(zrel, sizeof zrel, "%s/.%.10s_%03zu.zip", cv->hex, day, part)) != 0) {
		cf_error("%s: a file name is too long", x_dirname(cv->x));
		return rc;
	}
	if (cv->np > 0 && (mark = calloc(cv->np, 1)) == NULL) {
		cf_error("out of memory");
		return -ENOMEM;
	}
	mark_participants(cv, s, e, mark);
	if ((manifest = make_manifest(cv, s, e, mark)) == NULL) {
		cf_error("%s/%s: the RSMF manifest cannot be made (out of memory, or text that "
		    "is not UTF-8)", x_dirname(cv->x), rel);
		rc = -ENOMEM;
		goto out;
	}
	preview(&text, cv, s, e, mark);
	if (text.err != 0) {
		cf_error("out of memory");
		rc = text.err;
		goto out;
	}
	if ((rc = write_zip(cv, s, e, manifest, zrel, natt)) != 0)
		goto out;
	zip_made = 1;
	if ((rc = x_open(cv->x, rel, &w)) != 0)
		goto out;
	rsmf_headers(w, cv, s, e, part, parts, natt, mark);
	x_puts(w, "\r\n--" X_BOUNDARY "\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n");
	x_b64_begin(&b, w);
	x_b64_add(&b, text.p, text.len);
	x_b64_end(&b);
	x_puts(w, "\r\n--" X_BOUNDARY "\r\n");
	x_attachment_headers(w, "application/zip", "rsmf.zip");
	if ((rc = zip_into(w, cv, zrel)) != 0)
		goto out;
	x_puts(w, "\r\n--" X_BOUNDARY "--\r\n");
	rc = x_close(w, cv);
	w = NULL;
out:
	x_abort(w);
	if (zip_made)
		(void)unlinkat(x_dirfd(cv->x), zrel, 0);
	cf_free_wiped(manifest);
	xb_free(&text);
	free(mark);
	return rc;
}

int
x_write_rsmf(struct xconv *cv)
{
	size_t s, e, part = 0;
	int64_t day = INT64_MIN;
	int rc, parts;

	for (s = cv->lo; s < cv->hi; s = e) {
		e = x_rsmf_slice_end(cv, s);
		if (x_day(cv->cc->msgs[s].ts_ms) != day) {
			day = x_day(cv->cc->msgs[s].ts_ms);
			part = 0;
		}
		part++;
		/* the day goes on in another file, or came from one */
		parts = part > 1 || (e < cv->hi && x_day(cv->cc->msgs[e].ts_ms) == day);
		if ((rc = rsmf_slice(cv, s, e, part, parts)) != 0)
			return rc;
	}
	return 0;
}
