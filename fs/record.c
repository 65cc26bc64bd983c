/*
 * record.c - messages and segment headers as length-prefixed JSON records
 * (the layout is in record.h), built and parsed with jansson, except the
 * plain message records (no "extra"), which are written and read directly
 * through jfast.h: same bytes, same results (see "the fast path" below).
 *
 * Encoding: one compact JSON object per record (json_dumps with
 * JSON_COMPACT | JSON_PRESERVE_ORDER, members in the order of record.h),
 * preceded by its length as u32 little-endian.  Optional members (id,
 * ts_raw, tz, sender, attachments, extra; for headers chat, title, source,
 * tz) are omitted when NULL or empty, so "" and NULL read back the same:
 * NULL for the optional strings of a message, "" for those of a header.
 * Every string must be valid UTF-8 (strictly: no overlong forms, no
 * surrogates), else -EINVAL.  "extra" is JSON object text that is embedded
 * as an object, not as a string, and comes back as compact object text.
 *
 * Decoding is strict about shape (a top-level object of the right "type",
 * required members present with the right JSON type, duplicates refused, no
 * length running past the buffer) and lenient about content: members it
 * does not know are ignored.  Header "v" must be 1.  The decoders fill
 * neither seg_seq nor rec_idx (both 0): the caller knows which segment it
 * reads and counts the records.
 *
 * Errors are returned, not reported: this module never knows the file the
 * bytes came from, so the caller (which does) reports -EBADMSG with the
 * blob's path, and -EINVAL with the input it was importing.
 *
 * Plaintext: the output buffer grows by copy-and-wipe, never realloc, and
 * the text from json_dumps is wiped before it is freed.  Copies jansson
 * makes inside its own objects are wiped too: a constructor installs a free
 * function that clears malloc_usable_size() bytes before free(), for every
 * jansson user in the process.  Memory jansson hands out (json_dumps) is
 * still plain malloc memory, so callers may free() it as before.
 */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jfast.h"
#include "record.h"
#include "util.h"

#define REC_HDR_VERSION 1
#define REC_BUF_MIN 256
#define REC_HEX_ID (2 * CF_ID_BYTES)

/* ---- helpers --------------------------------------------------------- */

/* jansson's free: wipe what the block held (message text) before free(). */
static void
rec_json_free(void *p)
{
	if (p != NULL) {
		cf_wipe(p, malloc_usable_size(p));
		free(p);
	}
}

__attribute__((constructor)) static void
rec_json_init(void)
{
	json_set_alloc_funcs(malloc, rec_json_free);
}

/* Free memory that jansson allocated, with jansson's free function. */
static void
rec_jfree(void *p)
{
	json_malloc_t m;
	json_free_t f;

	json_get_alloc_funcs(&m, &f);
	f(p);
}

static void
rec_wipe_free(char *s)
{
	if (s == NULL)
		return;
	cf_wipe(s, strlen(s));
	free(s);
}

/* Strict UTF-8: shortest forms only, no surrogates, nothing past U+10FFFF. */
static int
rec_utf8_valid(const char *s)
{
	return cf_utf8_valid(s, strlen(s));
}

/* o[key] = s (s non-NULL).  json_object_set_new drops v even on failure. */
static int
rec_set_str(json_t *o, const char *key, const char *s)
{
	json_t *v;

	if (!rec_utf8_valid(s))
		return -EINVAL;
	v = json_string(s);
	if (v == NULL)
		return -ENOMEM;
	return json_object_set_new(o, key, v) == 0 ? 0 : -ENOMEM;
}

static int
rec_set_opt_str(json_t *o, const char *key, const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	return rec_set_str(o, key, s);
}

static int
rec_set_int(json_t *o, const char *key, int64_t n)
{
	json_t *v;

	v = json_integer((json_int_t)n);
	if (v == NULL)
		return -ENOMEM;
	return json_object_set_new(o, key, v) == 0 ? 0 : -ENOMEM;
}

/* Make room for more bytes: copy into a new buffer and wipe the old one. */
static int
rec_reserve(uint8_t **buf, size_t *len, size_t *cap, size_t more)
{
	size_t need, ncap;
	uint8_t *nb;

	if (*buf == NULL)
		*cap = 0;
	if (more > SIZE_MAX - *len)
		return -ENOMEM;
	need = *len + more;
	if (need <= *cap)
		return 0;
	ncap = *cap > REC_BUF_MIN ? *cap : REC_BUF_MIN;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	nb = malloc(ncap);
	if (nb == NULL)
		return -ENOMEM;
	if (*buf != NULL) {
		memcpy(nb, *buf, *len);
		cf_wipe(*buf, *cap);
		free(*buf);
	}
	*buf = nb;
	*cap = ncap;
	return 0;
}

/* The u32 little-endian length prefix of a record of n bytes. */
static void
rec_put_len(uint8_t *p, size_t n)
{
	p[0] = (uint8_t)n;
	p[1] = (uint8_t)(n >> 8);
	p[2] = (uint8_t)(n >> 16);
	p[3] = (uint8_t)(n >> 24);
}

/*
 * The record at pos of buf: 1 with its JSON text at *text, *n bytes, 0 at
 * the end of buf, -EBADMSG when its length prefix runs past the end.
 */
static int
rec_frame(const uint8_t *buf, size_t len, size_t pos, const uint8_t **text, size_t *n)
{
	const uint8_t *p;

	if (pos == len)
		return 0;
	if (pos > len || len - pos < 4)
		return -EBADMSG;
	p = buf + pos;
	*n = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
	if (*n > len - pos - 4)
		return -EBADMSG;
	*text = p + 4;
	return 1;
}

/* Serialise o and append it as one length-prefixed record. */
static int
rec_append(uint8_t **buf, size_t *len, size_t *cap, const json_t *o)
{
	char *text;
	size_t n;
	uint8_t *p;
	int rc;

	text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (text == NULL)
		return -ENOMEM;
	n = strlen(text);
	if (n > UINT32_MAX) {
		rc = -EINVAL;
		goto out;
	}
	rc = rec_reserve(buf, len, cap, 4 + n);
	if (rc < 0)
		goto out;
	p = *buf + *len;
	rec_put_len(p, n);
	memcpy(p + 4, text, n);
	*len += 4 + n;
out:
	cf_wipe(text, n);
	rec_jfree(text);
	return rc;
}

/* ---- encoding -------------------------------------------------------- */

static int
rec_attachments(json_t *o, const struct cf_attach *att, size_t natt)
{
	char hex[REC_HEX_ID + 1];
	json_t *arr, *a;
	size_t i;
	int rc = 0;

	if (natt == 0)
		return 0;
	if (att == NULL)
		return -EINVAL;
	arr = json_array();
	if (arr == NULL)
		return -ENOMEM;
	for (i = 0; i < natt; i++) {
		if (att[i].name == NULL || att[i].size > (uint64_t)INT64_MAX) {
			rc = -EINVAL;
			goto out;
		}
		a = json_object();
		if (a == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		if (json_array_append_new(arr, a) < 0) {
			rc = -ENOMEM;
			goto out;
		}
		cf_hex_encode(hex, att[i].blob_id, CF_ID_BYTES);
		rc = rec_set_str(a, "name", att[i].name);
		if (rc == 0)
			rc = rec_set_str(a, "blob", hex);
		if (rc == 0)
			rc = rec_set_int(a, "size", (int64_t)att[i].size);
		if (rc < 0)
			goto out;
	}
	rc = json_object_set(o, "attachments", arr) == 0 ? 0 : -ENOMEM;
out:
	json_decref(arr);
	return rc;
}

/* Embed extra (JSON object text) as an object; "" and "{}" add nothing. */
static int
rec_extra(json_t *o, const char *extra)
{
	json_error_t err;
	json_t *x;
	int rc = 0;

	if (extra == NULL || *extra == '\0')
		return 0;
	x = json_loads(extra, JSON_REJECT_DUPLICATES, &err);
	/* The error text may quote the input. */
	cf_wipe(&err, sizeof err);
	if (x == NULL || !json_is_object(x))
		rc = -EINVAL;
	else if (json_object_size(x) > 0)
		rc = json_object_set(o, "extra", x) == 0 ? 0 : -ENOMEM;
	json_decref(x);
	return rc;
}

int
cf_record_put_msg_json(uint8_t **buf, size_t *len, size_t *cap, const struct cf_msg *m)
{
	json_t *o;
	int rc;

	o = json_object();
	if (o == NULL)
		return -ENOMEM;
	rc = rec_set_str(o, "type", "message");
	if (rc == 0)
		rc = rec_set_opt_str(o, "id", m->id);
	if (rc == 0)
		rc = rec_set_int(o, "ts", m->ts_ms);
	if (rc == 0)
		rc = rec_set_opt_str(o, "ts_raw", m->ts_raw);
	if (rc == 0)
		rc = rec_set_opt_str(o, "tz", m->tz);
	if (rc == 0)
		rc = rec_set_opt_str(o, "sender", m->sender);
	if (rc == 0)
		rc = rec_set_str(o, "body", m->body != NULL ? m->body : "");
	if (rc == 0)
		rc = rec_attachments(o, m->att, m->natt);
	if (rc == 0)
		rc = rec_extra(o, m->extra);
	if (rc == 0)
		rc = rec_append(buf, len, cap, o);
	json_decref(o);
	return rc;
}

/* ---- the fast path for writing message records --------------------------- */

/*
 * The same bytes as json_dumps(JSON_COMPACT | JSON_PRESERVE_ORDER) of the
 * object cf_record_put_msg_json builds, without building it: a message
 * without "extra" (those go through jansson, which re-encodes the extra
 * object) is written directly.  tests/unit/test_record.c compares the two.
 */

/* ",\"key\":" then the string, for an optional member. */
static size_t
enc_member_len(const char *key, const char *s)
{
	return s == NULL || *s == '\0' ? 0 : 4 + strlen(key) + cf_jf_put_len(s);
}

static char *
enc_member(char *p, const char *key, const char *s)
{
	size_t k;

	if (s == NULL || *s == '\0')
		return p;
	k = strlen(key);
	*p++ = ',';
	*p++ = '"';
	memcpy(p, key, k);
	p += k;
	*p++ = '"';
	*p++ = ':';
	return cf_jf_put(p, s);
}

static int
fast_put_msg(uint8_t **buf, size_t *len, size_t *cap, const struct cf_msg *m)
{
	const char *body = m->body != NULL ? m->body : "";
	char ts[24], sizes[24], hex[REC_HEX_ID + 1];
	size_t n, i;
	char *p, *start;
	int rc;

	if ((m->id != NULL && !rec_utf8_valid(m->id)) ||
	    (m->ts_raw != NULL && !rec_utf8_valid(m->ts_raw)) ||
	    (m->tz != NULL && !rec_utf8_valid(m->tz)) ||
	    (m->sender != NULL && !rec_utf8_valid(m->sender)) || !rec_utf8_valid(body) ||
	    (m->natt > 0 && m->att == NULL))
		return -EINVAL;
	for (i = 0; i < m->natt; i++)
		if (m->att[i].name == NULL || m->att[i].size > (uint64_t)INT64_MAX ||
		    !rec_utf8_valid(m->att[i].name))
			return -EINVAL;
	snprintf(ts, sizeof ts, "%lld", (long long)m->ts_ms);
	n = strlen("{\"type\":\"message\"") + enc_member_len("id", m->id) +
	    strlen(",\"ts\":") + strlen(ts) + enc_member_len("ts_raw", m->ts_raw) +
	    enc_member_len("tz", m->tz) + enc_member_len("sender", m->sender) +
	    strlen(",\"body\":") + cf_jf_put_len(body) + 1;
	if (m->natt > 0)
		n += strlen(",\"attachments\":[]");
	for (i = 0; i < m->natt; i++) {
		snprintf(sizes, sizeof sizes, "%llu", (unsigned long long)m->att[i].size);
		n += (i > 0) + strlen("{\"name\":,\"blob\":\"\",\"size\":}") +
		    cf_jf_put_len(m->att[i].name) + REC_HEX_ID + strlen(sizes);
	}
	if (n > UINT32_MAX)
		return -EINVAL;
	if ((rc = rec_reserve(buf, len, cap, 4 + n)) < 0)
		return rc;
	start = p = (char *)*buf + *len + 4;
	p += sprintf(p, "{\"type\":\"message\"");
	p = enc_member(p, "id", m->id);
	p += sprintf(p, ",\"ts\":%s", ts);
	p = enc_member(p, "ts_raw", m->ts_raw);
	p = enc_member(p, "tz", m->tz);
	p = enc_member(p, "sender", m->sender);
	memcpy(p, ",\"body\":", 8);
	p = cf_jf_put(p + 8, body);
	if (m->natt > 0) {
		memcpy(p, ",\"attachments\":[", 16);
		p += 16;
		for (i = 0; i < m->natt; i++) {
			if (i > 0)
				*p++ = ',';
			memcpy(p, "{\"name\":", 8);
			p = cf_jf_put(p + 8, m->att[i].name);
			cf_hex_encode(hex, m->att[i].blob_id, CF_ID_BYTES);
			p += sprintf(p, ",\"blob\":\"%s\",\"size\":%llu}", hex,
			    (unsigned long long)m->att[i].size);
		}
		*p++ = ']';
	}
	*p++ = '}';
	if ((size_t)(p - start) != n)
		return -EINVAL;         /* cannot happen: the sizes above */
	rec_put_len(*buf + *len, n);
	*len += 4 + n;
	return 0;
}

int
cf_record_put_msg(uint8_t **buf, size_t *len, size_t *cap, const struct cf_msg *m)
{
	if (m->extra == NULL || *m->extra == '\0')
		return fast_put_msg(buf, len, cap, m);
	return cf_record_put_msg_json(buf, len, cap, m);
}

int
cf_record_put_hdr(uint8_t **buf, size_t *len, size_t *cap, const struct cf_seghdr *h)
{
	json_t *o;
	int rc;

	o = json_object();
	if (o == NULL)
		return -ENOMEM;
	rc = rec_set_str(o, "type", "segment");
	if (rc == 0)
		rc = rec_set_int(o, "v", REC_HDR_VERSION);
	if (rc == 0)
		rc = rec_set_opt_str(o, "chat", h->chat);
	if (rc == 0)
		rc = rec_set_opt_str(o, "title", h->title);
	if (rc == 0)
		rc = rec_set_opt_str(o, "source", h->source);
	if (rc == 0)
		rc = rec_set_opt_str(o, "tz", h->tz);
	if (rc == 0)
		rc = rec_set_int(o, "imported", h->imported_ms);
	if (rc == 0)
		rc = rec_append(buf, len, cap, o);
	json_decref(o);
	return rc;
}

/* ---- decoding -------------------------------------------------------- */

/*
 * Parse the record at *pos: 1 with *root (an object whose "type" is type)
 * and *next set, 0 at the end of buf, -EBADMSG otherwise.
 */
static int
rec_load(const uint8_t *buf, size_t len, size_t pos, const char *type, json_t **root,
    size_t *next)
{
	json_error_t err;
	const uint8_t *text;
	json_t *o, *t;
	size_t n = 0;
	int rc;

	*root = NULL;
	if ((rc = rec_frame(buf, len, pos, &text, &n)) != 1)
		return rc;
	o = json_loadb((const char *)text, n, JSON_REJECT_DUPLICATES, &err);
	cf_wipe(&err, sizeof err);
	if (o == NULL)
		return -EBADMSG;
	t = json_object_get(o, "type");
	if (!json_is_object(o) || !json_is_string(t) || strcmp(json_string_value(t), type) != 0) {
		json_decref(o);
		return -EBADMSG;
	}
	*root = o;
	*next = pos + 4 + n;
	return 1;
}

/*
 * *out = copy of string member key.  Absent: NULL, or "" with empty_if_absent,
 * or -EBADMSG with required.  Present with another JSON type: -EBADMSG.
 */
static int
rec_get_str(const json_t *o, const char *key, int required, int empty_if_absent, char **out)
{
	const json_t *v = json_object_get(o, key);
	const char *s;

	*out = NULL;
	if (v == NULL) {
		if (required)
			return -EBADMSG;
		if (!empty_if_absent)
			return 0;
		s = "";
	} else if (json_is_string(v)) {
		s = json_string_value(v);
	} else {
		return -EBADMSG;
	}
	*out = strdup(s);
	return *out != NULL ? 0 : -ENOMEM;
}

static int
rec_get_int(const json_t *o, const char *key, int required, int64_t *out)
{
	const json_t *v = json_object_get(o, key);

	*out = 0;
	if (v == NULL)
		return required ? -EBADMSG : 0;
	if (!json_is_integer(v))
		return -EBADMSG;
	*out = (int64_t)json_integer_value(v);
	return 0;
}

static int
rec_get_attachments(const json_t *o, struct cf_msg *m)
{
	const json_t *arr, *a, *blob;
	int64_t size;
	size_t i, n;
	int rc;

	arr = json_object_get(o, "attachments");
	if (arr == NULL)
		return 0;
	if (!json_is_array(arr))
		return -EBADMSG;
	n = json_array_size(arr);
	if (n == 0)
		return 0;
	m->att = calloc(n, sizeof *m->att);
	if (m->att == NULL)
		return -ENOMEM;
	m->natt = n;
	for (i = 0; i < n; i++) {
		a = json_array_get(arr, i);
		if (!json_is_object(a))
			return -EBADMSG;
		rc = rec_get_str(a, "name", 1, 0, &m->att[i].name);
		if (rc < 0)
			return rc;
		blob = json_object_get(a, "blob");
		if (!json_is_string(blob) || json_string_length(blob) != REC_HEX_ID ||
		    cf_hex_decode(m->att[i].blob_id, CF_ID_BYTES, json_string_value(blob)) < 0)
			return -EBADMSG;
		rc = rec_get_int(a, "size", 1, &size);
		if (rc < 0)
			return rc;
		if (size < 0)
			return -EBADMSG;
		m->att[i].size = (uint64_t)size;
	}
	return 0;
}

static int
rec_get_extra(const json_t *o, char **out)
{
	const json_t *x;
	char *text;
	size_t n;

	*out = NULL;
	x = json_object_get(o, "extra");
	if (x == NULL)
		return 0;
	if (!json_is_object(x))
		return -EBADMSG;
	text = json_dumps(x, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (text == NULL)
		return -ENOMEM;
	n = strlen(text);
	*out = strdup(text);
	cf_wipe(text, n);
	rec_jfree(text);
	return *out != NULL ? 0 : -ENOMEM;
}


/* ---- the fast path for message records --------------------------------- */

/*
 * Nearly every stored message record is exactly what cf_record_put_msg
 * writes: compact JSON with the members of record.h and no "extra".
 * Building a jansson tree for each was two thirds of the daemon's time
 * when a conversation is first looked at (docs/PERFORMANCE.md), so such
 * records are decoded directly.  The fast path takes a strict subset of
 * JSON: no whitespace; member names without escapes; strings without \u
 * escapes or raw control characters, and valid UTF-8 after decoding;
 * integers of at most 18 digits without fraction or exponent; each member
 * of record.h at most once and no other.  Anything else, "extra" included,
 * is not refused but handed to jansson (cf_record_next_msg_json), which
 * decodes it or refuses it; so a record decodes to the same struct, or
 * fails the same way, on either path (tests/unit/test_record.c,
 * tests/fuzz/fuzz_record.c compare them).
 */

/* One attachment object into a (zeroed): 1, 0 or -ENOMEM. */
static int
fast_att(struct cf_jf *f, struct cf_attach *a)
{
	static const struct cf_jf_member members[] = {
		{ "name", 1u }, { "blob", 2u }, { "size", 4u },
	};
	char *blob = NULL;
	unsigned seen = 0, bit;
	int64_t size = 0;
	int rc, more;

	if (!cf_jf_eat(f, '{'))
		return 0;
	do {
		if (!cf_jf_member(f, members, sizeof members / sizeof members[0], &seen, &bit))
			return 0;
		if (bit == 1) {
			rc = cf_jf_str(f, &a->name);
		} else if (bit == 2) {
			rc = cf_jf_str(f, &blob);
			if (rc == 1 && (strlen(blob) != REC_HEX_ID ||
			    cf_hex_decode(a->blob_id, CF_ID_BYTES, blob) < 0))
				rc = 0;
			rec_wipe_free(blob);
			blob = NULL;
		} else {
			rc = cf_jf_int(f, &size);
			if (rc == 1 && size < 0)
				rc = 0;
			a->size = (uint64_t)size;
		}
		if (rc != 1)
			return rc;
	} while ((more = cf_jf_next(f, '}')) == 1);
	return more == 2 && seen == 7u ? 1 : 0;
}

/* The attachments array: 1, 0 or -ENOMEM. */
static int
fast_atts(struct cf_jf *f, struct cf_msg *m)
{
	struct cf_attach *na;
	int rc, more;

	if (!cf_jf_eat(f, '['))
		return 0;
	if (cf_jf_eat(f, ']'))
		return 1;
	do {
		if ((na = realloc(m->att, (m->natt + 1) * sizeof *na)) == NULL)
			return -ENOMEM;
		m->att = na;
		memset(&m->att[m->natt], 0, sizeof *na);
		m->natt++;
		if ((rc = fast_att(f, &m->att[m->natt - 1])) != 1)
			return rc;
	} while ((more = cf_jf_next(f, ']')) == 1);
	return more == 2 ? 1 : 0;
}

/* The member bits of a message record. */
enum {
	FM_TYPE = 1u << 0, FM_ID = 1u << 1, FM_TS = 1u << 2, FM_TS_RAW = 1u << 3,
	FM_TZ = 1u << 4, FM_SENDER = 1u << 5, FM_BODY = 1u << 6, FM_ATT = 1u << 7,
};

/* A message record's JSON text (n bytes): 1 with *m filled, 0 when it is
 * for jansson (*m cleared), -ENOMEM. */
static int
fast_msg(const uint8_t *text, size_t n, struct cf_msg *m)
{
	static const struct cf_jf_member members[] = {
		{ "type", FM_TYPE }, { "id", FM_ID }, { "ts", FM_TS }, { "ts_raw", FM_TS_RAW },
		{ "tz", FM_TZ }, { "sender", FM_SENDER }, { "body", FM_BODY },
		{ "attachments", FM_ATT },
	};
	struct cf_jf f = { (const char *)text, (const char *)text + n };
	char *type = NULL;
	unsigned seen = 0, bit;
	int rc = 0, more;

	memset(m, 0, sizeof *m);
	if (!cf_jf_eat(&f, '{'))
		return 0;
	do {
		/* "extra", an unknown or a repeated member: jansson's */
		if (!cf_jf_member(&f, members, sizeof members / sizeof members[0], &seen, &bit))
			goto nope;
		switch (bit) {
		case FM_TYPE:
			rc = cf_jf_str(&f, &type);
			if (rc == 1 && strcmp(type, "message") != 0)
				rc = 0;
			free(type);
			type = NULL;
			break;
		case FM_ID: rc = cf_jf_str(&f, &m->id); break;
		case FM_TS: rc = cf_jf_int(&f, &m->ts_ms); break;
		case FM_TS_RAW: rc = cf_jf_str(&f, &m->ts_raw); break;
		case FM_TZ: rc = cf_jf_str(&f, &m->tz); break;
		case FM_SENDER: rc = cf_jf_str(&f, &m->sender); break;
		case FM_BODY: rc = cf_jf_str(&f, &m->body); break;
		default: rc = fast_atts(&f, m); break;
		}
		if (rc != 1)
			goto nope;
	} while ((more = cf_jf_next(&f, '}')) == 1);
	rc = 0;
	if (more != 2 || f.p != f.end ||
	    (seen & (FM_TYPE | FM_TS | FM_BODY)) != (FM_TYPE | FM_TS | FM_BODY))
		goto nope;
	if (m->natt == 0) {
		free(m->att);
		m->att = NULL;
	}
	return 1;
nope:
	cf_msg_clear(m);
	return rc < 0 ? rc : 0;
}

int
cf_record_next_msg_json(const uint8_t *buf, size_t len, size_t *pos, struct cf_msg *m)
{
	json_t *o = NULL;
	size_t next = 0;
	int rc;

	memset(m, 0, sizeof *m);
	rc = rec_load(buf, len, *pos, "message", &o, &next);
	if (rc <= 0)
		return rc;
	rc = rec_get_str(o, "id", 0, 0, &m->id);
	if (rc == 0)
		rc = rec_get_int(o, "ts", 1, &m->ts_ms);
	if (rc == 0)
		rc = rec_get_str(o, "ts_raw", 0, 0, &m->ts_raw);
	if (rc == 0)
		rc = rec_get_str(o, "tz", 0, 0, &m->tz);
	if (rc == 0)
		rc = rec_get_str(o, "sender", 0, 0, &m->sender);
	if (rc == 0)
		rc = rec_get_str(o, "body", 1, 0, &m->body);
	if (rc == 0)
		rc = rec_get_attachments(o, m);
	if (rc == 0)
		rc = rec_get_extra(o, &m->extra);
	json_decref(o);
	if (rc < 0) {
		cf_msg_clear(m);
		return rc;
	}
	*pos = next;
	return 1;
}

int
cf_record_next_msg(const uint8_t *buf, size_t len, size_t *pos, struct cf_msg *m)
{
	const uint8_t *text;
	size_t n = 0;
	int rc;

	memset(m, 0, sizeof *m);
	if ((rc = rec_frame(buf, len, *pos, &text, &n)) != 1)
		return rc;
	if ((rc = fast_msg(text, n, m)) != 0) {
		if (rc == 1)
			*pos += 4 + n;
		return rc;
	}
	return cf_record_next_msg_json(buf, len, pos, m);
}

int
cf_record_next_hdr(const uint8_t *buf, size_t len, size_t *pos, struct cf_seghdr *h)
{
	json_t *o = NULL;
	size_t next = 0;
	int64_t v;
	int rc;

	memset(h, 0, sizeof *h);
	rc = rec_load(buf, len, *pos, "segment", &o, &next);
	if (rc <= 0)
		return rc;
	rc = rec_get_int(o, "v", 1, &v);
	if (rc == 0 && v != REC_HDR_VERSION)
		rc = -EBADMSG;
	if (rc == 0)
		rc = rec_get_str(o, "chat", 0, 1, &h->chat);
	if (rc == 0)
		rc = rec_get_str(o, "title", 0, 1, &h->title);
	if (rc == 0)
		rc = rec_get_str(o, "source", 0, 1, &h->source);
	if (rc == 0)
		rc = rec_get_str(o, "tz", 0, 1, &h->tz);
	if (rc == 0)
		rc = rec_get_int(o, "imported", 0, &h->imported_ms);
	json_decref(o);
	if (rc < 0) {
		cf_seghdr_clear(h);
		return rc;
	}
	*pos = next;
	return 1;
}

/* ---- lifetime -------------------------------------------------------- */

void
cf_msg_clear(struct cf_msg *m)
{
	size_t i;

	if (m == NULL)
		return;
	rec_wipe_free(m->id);
	rec_wipe_free(m->ts_raw);
	rec_wipe_free(m->tz);
	rec_wipe_free(m->sender);
	rec_wipe_free(m->body);
	rec_wipe_free(m->extra);
	if (m->att != NULL) {
		for (i = 0; i < m->natt; i++) {
			rec_wipe_free(m->att[i].name);
			rec_wipe_free(m->att[i].src_path);
		}
		cf_wipe(m->att, m->natt * sizeof *m->att);
		free(m->att);
	}
	cf_wipe(m, sizeof *m);
}

void
cf_seghdr_clear(struct cf_seghdr *h)
{
	if (h == NULL)
		return;
	rec_wipe_free(h->chat);
	rec_wipe_free(h->title);
	rec_wipe_free(h->source);
	rec_wipe_free(h->tz);
	cf_wipe(h, sizeof *h);
}

/* *dst = copy of s, or NULL for NULL.  Returns 0 or -ENOMEM. */
static int
rec_dup(char **dst, const char *s)
{
	*dst = NULL;
	if (s == NULL)
		return 0;
	*dst = strdup(s);
	return *dst != NULL ? 0 : -ENOMEM;
}

int
cf_msg_copy(struct cf_msg *dst, const struct cf_msg *src)
{
	size_t i;
	int rc;

	memset(dst, 0, sizeof *dst);
	dst->ts_ms = src->ts_ms;
	dst->seg_seq = src->seg_seq;
	dst->rec_idx = src->rec_idx;
	rc = rec_dup(&dst->id, src->id);
	if (rc == 0)
		rc = rec_dup(&dst->ts_raw, src->ts_raw);
	if (rc == 0)
		rc = rec_dup(&dst->tz, src->tz);
	if (rc == 0)
		rc = rec_dup(&dst->sender, src->sender);
	if (rc == 0)
		rc = rec_dup(&dst->body, src->body);
	if (rc == 0)
		rc = rec_dup(&dst->extra, src->extra);
	if (rc == 0 && src->natt > 0 && src->att != NULL) {
		dst->att = calloc(src->natt, sizeof *dst->att);
		if (dst->att == NULL)
			rc = -ENOMEM;
		else
			dst->natt = src->natt;
		for (i = 0; rc == 0 && i < src->natt; i++) {
			memcpy(dst->att[i].blob_id, src->att[i].blob_id, CF_ID_BYTES);
			dst->att[i].size = src->att[i].size;
			rc = rec_dup(&dst->att[i].name, src->att[i].name);
			if (rc == 0)
				rc = rec_dup(&dst->att[i].src_path, src->att[i].src_path);
		}
	}
	if (rc < 0)
		cf_msg_clear(dst);
	return rc;
}
