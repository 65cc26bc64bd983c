/*
 * audit.c - the audit log's records and their hash chain.
 *
 * A record is stored (keystore "audit" sub-database, key = seq) as:
 *   0   1   layout version (1)
 *   1   8   seq (u64 little-endian; equals the key)
 *   9   8   time (i64, Unix milliseconds UTC)
 *   17  2+n principal   (u16 length, bytes)   -- each string: no NUL,
 *   ..  2+n action                                at most its field size
 *   ..  2+n object
 *   ..  2+n result
 *   ..  2+n detail
 *   ..  32  hash of the previous record (zero for seq 1)
 *   ..  32  BLAKE2b-256 of every byte above
 * The chain is checked by recomputing each hash and comparing it with the
 * next record's "previous" field.  The keystore only appends: the next
 * sequence number and previous hash are read from the last record inside
 * the same write transaction, and LMDB has one writer at a time, so
 * concurrent processes (a mount, an import, the command line) extend one
 * chain.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "audit.h"
#include "util.h"

#define AUDIT_LAYOUT 1

struct enc {
	uint8_t *p;
	size_t off, cap;
	int err;
};

static void
put_bytes(struct enc *e, const void *b, size_t n)
{
	if (e->err || n > e->cap - e->off) {
		e->err = 1;
		return;
	}
	memcpy(e->p + e->off, b, n);
	e->off += n;
}

static void
put_le(struct enc *e, uint64_t v, int bytes)
{
	uint8_t b[8];
	int i;

	for (i = 0; i < bytes; i++) {
		b[i] = (uint8_t)v;
		v >>= 8;
	}
	put_bytes(e, b, (size_t)bytes);
}

static void
put_str(struct enc *e, const char *s)
{
	size_t n = strlen(s);

	put_le(e, n, 2);
	put_bytes(e, s, n);
}

/* Copy s into out[max + 1], cut at max bytes on a UTF-8 boundary. */
static void
field_copy(char *out, size_t max, const char *s)
{
	size_t n;

	if (s == NULL)
		s = "";
	n = strnlen(s, max + 1);
	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(out, s, n);
	out[n] = '\0';
}

/* Encode r (all but its hash) into buf; returns the length or 0. */
static size_t
audit_encode(const struct cf_audit_rec *r, uint8_t *buf, size_t cap)
{
	struct enc e = { buf, 0, cap, 0 };

	put_le(&e, AUDIT_LAYOUT, 1);
	put_le(&e, r->seq, 8);
	put_le(&e, (uint64_t)r->time_ms, 8);
	put_str(&e, r->principal);
	put_str(&e, r->action);
	put_str(&e, r->object);
	put_str(&e, r->result);
	put_str(&e, r->detail);
	put_bytes(&e, r->prev, CF_HASH_BYTES);
	return e.err ? 0 : e.off;
}

struct dec {
	const uint8_t *p;
	size_t off, n;
	int bad;
};

static uint64_t
get_le(struct dec *d, int bytes)
{
	uint64_t v = 0;
	int i;

	if (d->bad || (size_t)bytes > d->n - d->off) {
		d->bad = 1;
		return 0;
	}
	for (i = bytes - 1; i >= 0; i--)
		v = (v << 8) | d->p[d->off + (size_t)i];
	d->off += (size_t)bytes;
	return v;
}

static void
get_bytes(struct dec *d, void *out, size_t n)
{
	if (d->bad || n > d->n - d->off) {
		d->bad = 1;
		memset(out, 0, n);
		return;
	}
	memcpy(out, d->p + d->off, n);
	d->off += n;
}

static void
get_str(struct dec *d, char *out, size_t max)
{
	size_t n = (size_t)get_le(d, 2);

	out[0] = '\0';
	if (d->bad || n > max || n > d->n - d->off) {
		d->bad = 1;
		return;
	}
	memcpy(out, d->p + d->off, n);
	out[n] = '\0';
	if (memchr(out, '\0', n) != NULL)
		d->bad = 1;
	d->off += n;
}

int
cf_audit_decode(uint64_t seq, const uint8_t *val, size_t len, struct cf_audit_rec *r)
{
	struct dec d = { val, 0, len, 0 };
	int64_t t;

	memset(r, 0, sizeof *r);
	if (get_le(&d, 1) != AUDIT_LAYOUT)
		d.bad = 1;
	r->seq = get_le(&d, 8);
	t = (int64_t)get_le(&d, 8);
	r->time_ms = t;
	get_str(&d, r->principal, CF_NAME_MAX);
	get_str(&d, r->action, CF_AUDIT_ACTION_MAX);
	get_str(&d, r->object, CF_AUDIT_OBJECT_MAX);
	get_str(&d, r->result, CF_AUDIT_RESULT_MAX);
	get_str(&d, r->detail, CF_AUDIT_DETAIL_MAX);
	get_bytes(&d, r->prev, CF_HASH_BYTES);
	get_bytes(&d, r->hash, CF_HASH_BYTES);
	if (d.bad || d.off != d.n || r->seq != seq)
		return -EBADMSG;
	return 0;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
cf_audit_append(struct cf_txn *t, const char *principal, const char *action,
    const char *object, const char *result, const char *detail)
{
	struct cf_audit_rec *r = NULL, *last = NULL;
	uint8_t *buf = NULL;
	size_t len;
	uint64_t seq;
	int rc;

	if (principal != NULL && strlen(principal) > CF_NAME_MAX) {
		cf_error("audit: principal name too long");
		return -EINVAL;
	}
	r = calloc(1, sizeof *r);
	last = calloc(1, sizeof *last);
	buf = malloc(CF_AUDIT_VAL_MAX);
	if (r == NULL || last == NULL || buf == NULL) {
		cf_error("audit: %s", strerror(ENOMEM));
		rc = -ENOMEM;
		goto out;
	}
	rc = cf_ks_audit_last(t, &seq, buf, &len);
	if (rc == -ENOENT) {
		seq = 0;
	} else if (rc < 0) {
		goto out;
	} else if (cf_audit_decode(seq, buf, len, last) < 0) {
		cf_error("audit: record %llu does not decode; the log needs `coffer audit verify`",
		    (unsigned long long)seq);
		rc = -EBADMSG;
		goto out;
	} else {
		memcpy(r->prev, last->hash, CF_HASH_BYTES);
	}
	r->seq = seq + 1;
	r->time_ms = now_ms();
	field_copy(r->principal, CF_NAME_MAX, principal);
	field_copy(r->action, CF_AUDIT_ACTION_MAX, action);
	field_copy(r->object, CF_AUDIT_OBJECT_MAX, object);
	field_copy(r->result, CF_AUDIT_RESULT_MAX, result);
	field_copy(r->detail, CF_AUDIT_DETAIL_MAX, detail);
	len = audit_encode(r, buf, CF_AUDIT_VAL_MAX - CF_HASH_BYTES);
	if (len == 0) {
		cf_error("audit: record too large");
		rc = -EINVAL;
		goto out;
	}
	cf_hash(buf + len, buf, len);
	rc = cf_ks_audit_append(t, r->seq, buf, len + CF_HASH_BYTES);
out:
	free(r);
	free(last);
	free(buf);
	return rc;
}

int
cf_audit_log(struct cf_ks *ks, const char *principal, const char *action,
    const char *object, const char *result, const char *detail)
{
	struct cf_txn *t = NULL;
	int rc;

	rc = cf_ks_begin(ks, 1, &t);
	if (rc < 0)
		return rc;
	rc = cf_audit_append(t, principal, action, object, result, detail);
	if (rc < 0) {
		cf_ks_abort(t);
		return rc;
	}
	return cf_ks_commit(t);
}

void
cf_audit_object(char buf[CF_AUDIT_OBJECT_MAX + 1], const uint8_t conv_id[CF_ID_BYTES],
    const char *file)
{
	char hex[2 * CF_ID_BYTES + 1];

	cf_hex_encode(hex, conv_id, CF_ID_BYTES);
	if (file != NULL && *file != '\0')
		snprintf(buf, CF_AUDIT_OBJECT_MAX + 1, "%s/%s", hex, file);
	else
		snprintf(buf, CF_AUDIT_OBJECT_MAX + 1, "%s", hex);
}

struct audit_walk {
	int (*cb)(const struct cf_audit_rec *r, void *arg);
	void *arg;
	const char *path;
	struct cf_audit_rec r;
};

static int
walk_step(uint64_t seq, const uint8_t *val, size_t len, void *arg)
{
	struct audit_walk *w = arg;

	if (cf_audit_decode(seq, val, len, &w->r) < 0) {
		cf_error("%s: audit record %llu does not decode", w->path, (unsigned long long)seq);
		return -EBADMSG;
	}
	return w->cb(&w->r, w->arg);
}

int
cf_audit_foreach(struct cf_ks *ks, uint64_t from_seq,
    int (*cb)(const struct cf_audit_rec *r, void *arg), void *arg)
{
	struct audit_walk *w;
	struct cf_txn *t = NULL;
	int rc;

	w = calloc(1, sizeof *w);
	if (w == NULL) {
		cf_error("audit: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	w->cb = cb;
	w->arg = arg;
	w->path = "keystore";
	rc = cf_ks_begin(ks, 0, &t);
	if (rc == 0) {
		rc = cf_ks_audit_foreach(t, from_seq, walk_step, w);
		cf_ks_abort(t);
	}
	free(w);
	return rc;
}

int
cf_audit_head(struct cf_ks *ks, uint64_t *seq, uint8_t hash[CF_HASH_BYTES])
{
	struct cf_txn *t = NULL;
	uint8_t *buf;
	size_t len;
	int rc;

	*seq = 0;
	memset(hash, 0, CF_HASH_BYTES);
	buf = malloc(CF_AUDIT_VAL_MAX);
	if (buf == NULL) {
		cf_error("audit: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	rc = cf_ks_begin(ks, 0, &t);
	if (rc == 0) {
		rc = cf_ks_audit_last(t, seq, buf, &len);
		if (rc == -ENOENT) {
			*seq = 0;
			rc = 0;
		} else if (rc == 0) {
			if (len < CF_HASH_BYTES) {
				cf_error("audit: record %llu does not decode", (unsigned long long)*seq);
				rc = -EBADMSG;
			} else {
				memcpy(hash, buf + len - CF_HASH_BYTES, CF_HASH_BYTES);
			}
		}
		cf_ks_abort(t);
	}
	free(buf);
	return rc;
}

struct audit_chk {
	struct cf_audit_check *out;
	uint64_t expect;
	uint8_t prev[CF_HASH_BYTES];
	uint64_t anchor_seq;
	const uint8_t *anchor_hash;
	int anchor_seen;
	struct cf_audit_rec r;
	uint8_t buf[CF_AUDIT_VAL_MAX];
};

static int
chk_bad(struct audit_chk *c, uint64_t seq, const char *why)
{
	c->out->first_bad = seq;
	snprintf(c->out->why, sizeof c->out->why, "%s", why);
	return 1;
}

static int
chk_step(uint64_t seq, const uint8_t *val, size_t len, void *arg)
{
	struct audit_chk *c = arg;
	uint8_t h[CF_HASH_BYTES];
	size_t n;

	c->out->records++;
	if (seq != c->expect)
		return chk_bad(c, c->expect, seq > c->expect ? "record missing" :
		    "sequence out of order");
	if (cf_audit_decode(seq, val, len, &c->r) < 0)
		return chk_bad(c, seq, "record does not decode");
	if (cf_ct_compare(c->r.prev, c->prev, CF_HASH_BYTES) != 0)
		return chk_bad(c, seq, "previous-record hash does not match");
	n = audit_encode(&c->r, c->buf, sizeof c->buf);
	if (n == 0 || n + CF_HASH_BYTES != len)
		return chk_bad(c, seq, "record does not decode");
	cf_hash(h, c->buf, n);
	if (cf_ct_compare(h, c->r.hash, CF_HASH_BYTES) != 0)
		return chk_bad(c, seq, "record hash does not match its content");
	if (seq == c->anchor_seq) {
		if (cf_ct_compare(h, c->anchor_hash, CF_HASH_BYTES) != 0)
			return chk_bad(c, seq, "record differs from the anchored head");
		c->anchor_seen = 1;
	}
	memcpy(c->prev, h, CF_HASH_BYTES);
	c->out->head_seq = seq;
	memcpy(c->out->head, h, CF_HASH_BYTES);
	c->expect = seq + 1;
	return 0;
}

int
cf_audit_verify(struct cf_ks *ks, uint64_t anchor_seq,
    const uint8_t anchor_hash[CF_HASH_BYTES], struct cf_audit_check *out)
{
	struct audit_chk *c;
	struct cf_txn *t = NULL;
	int rc;

	memset(out, 0, sizeof *out);
	c = calloc(1, sizeof *c);
	if (c == NULL) {
		cf_error("audit: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	c->out = out;
	c->expect = 1;
	c->anchor_seq = anchor_seq;
	c->anchor_hash = anchor_hash;
	rc = cf_ks_begin(ks, 0, &t);
	if (rc < 0)
		goto done;
	rc = cf_ks_audit_foreach(t, 0, chk_step, c);
	cf_ks_abort(t);
	if (rc == -EBADMSG) {
		/* a key or value the keystore itself could not read */
		out->first_bad = c->expect;
		snprintf(out->why, sizeof out->why, "record does not decode");
		rc = 1;
	}
	if (rc == 0 && anchor_seq > 0 && !c->anchor_seen) {
		out->first_bad = c->expect;
		snprintf(out->why, sizeof out->why,
		    "log ends at record %llu, before the anchored head %llu (truncated)",
		    (unsigned long long)out->head_seq, (unsigned long long)anchor_seq);
		rc = 1;
	}
done:
	free(c);
	return rc;
}

void
cf_audit_time(char *buf, size_t n, int64_t time_ms)
{
	char s[32];
	int64_t ms = time_ms % 1000;

	if (ms < 0)
		ms += 1000;
	cf_format_time_utc(time_ms, s, sizeof s);
	/* "…:SSZ" -> "…:SS.mmmZ" */
	if (strlen(s) == 20 && s[19] == 'Z')
		snprintf(buf, n, "%.19s.%03dZ", s, (int)ms);
	else
		snprintf(buf, n, "%s", s);
}

int
cf_audit_json(const struct cf_audit_rec *r, char **out)
{
	char when[40], prev[2 * CF_HASH_BYTES + 1], hash[2 * CF_HASH_BYTES + 1];
	json_t *o;

	*out = NULL;
	cf_audit_time(when, sizeof when, r->time_ms);
	cf_hex_encode(prev, r->prev, CF_HASH_BYTES);
	cf_hex_encode(hash, r->hash, CF_HASH_BYTES);
	o = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}",
	    "seq", (json_int_t)r->seq, "time", when, "principal", r->principal,
	    "action", r->action, "object", r->object, "result", r->result,
	    "detail", r->detail, "prev", prev, "hash", hash);
	if (o == NULL)
		return -ENOMEM;
	*out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
	json_decref(o);
	return *out != NULL ? 0 : -ENOMEM;
}
