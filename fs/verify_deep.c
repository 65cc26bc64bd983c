/*
 * verify_deep.c - decrypt everything a session may read and locate what
 * fails (`coffer verify --deep`).
 *
 * cf_chat_load stops at the first segment that fails, which is right for
 * a reader but useless for finding damage, so this walk opens the blobs
 * itself (through blob.h, with the keys cf_chats_list unwrapped) and keeps
 * going.  A segment is decrypted chunk by chunk; the chunks that fail
 * authentication are holes in its plaintext.  Records are then followed by
 * their length prefixes; a record whose extent is known but touches a hole
 * is skipped, and when a hole swallows a length prefix the walk finds the
 * next record start after it: a message record always begins with
 * {"type":"message" and JSON escapes every quote inside strings, so that
 * text occurs only at record starts, and a candidate is accepted only if
 * the chain of lengths from it runs to the end of the segment (or into the
 * next hole).  Each run of failing chunks is one finding, told with the
 * readable messages either side of it.  Attachments are decrypted whole,
 * chunk by chunk, and named with the message that refers to them.  With
 * the ingest key (admins), each conversation's keystore record is also
 * checked against its MAC (cf_chat_check_mac), which keyless verify
 * cannot do.
 *
 * Plaintext (titles, names, message records) stays in memory that is wiped
 * before it is freed; report lines hold titles and attachment names and
 * are wiped too.  Limits: a segment's plaintext is held whole (an import
 * batch, bounded by CF_IMPORT_FLUSH_BYTES); records lost in a hole cannot
 * be counted, only bracketed.
 */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "keystore.h"
#include "util.h"
#include "verify_deep.h"

#define DEEP_MARK "{\"type\":\"message\""
#define DEEP_MARK_LEN (sizeof(DEEP_MARK) - 1)
#define DEEP_IDX_UNKNOWN UINT64_MAX

/* What the keystore says of a blob (a small copy of struct cf_blob_rec). */
struct deep_blob {
	uint8_t id[CF_ID_BYTES];
	uint8_t conv_id[CF_ID_BYTES];
	uint32_t seq;
	uint64_t file_size;
	uint8_t hash[CF_HASH_BYTES];
	int64_t created;                /* Unix seconds */
	int64_t first_ms, last_ms;      /* segments: summary span, 0 unknown */
};

/* An attachment a decoded message refers to. */
struct deep_ref {
	uint8_t blob_id[CF_ID_BYTES];
	int64_t ts_ms;
	uint64_t size;
	char *name;                     /* plaintext: cf_free_wiped */
	int seen;                       /* a keystore record of the chat names it */
};

/* A record decoded from good bytes of a segment. */
struct deep_ent {
	size_t start, end;
	uint64_t idx;                   /* record number, or DEEP_IDX_UNKNOWN */
	int64_t ts_ms;                  /* 0 for the header */
};

struct deep_vec {
	void *v;
	size_t n, cap, size;
};

struct deep_ctx {
	struct cf_archive *a;
	struct cf_session *s;
	void (*report)(const char *line, void *arg);
	void *arg;
	struct cf_verify_deep_result *r;
	const struct cf_chat *c;        /* the conversation being walked */
	char hex[2 * CF_ID_BYTES + 1];  /* its id */
	struct deep_vec atts;           /* every attachment, sorted by (conv, id) */
	struct deep_vec segs;           /* the segments of c */
	struct deep_vec refs;           /* attachments c's messages refer to */
	struct deep_vec ents;           /* records of the segment being walked */
};

static int
deep_push(struct deep_vec *vec, const void *item)
{
	if (vec->n == vec->cap) {
		size_t cap = vec->cap != 0 ? vec->cap * 2 : 16;
		void *nv;

		if (cap > SIZE_MAX / vec->size || (nv = realloc(vec->v, cap * vec->size)) == NULL) {
			cf_error("out of memory");
			return -ENOMEM;
		}
		vec->v = nv;
		vec->cap = cap;
	}
	memcpy((char *)vec->v + vec->n * vec->size, item, vec->size);
	vec->n++;
	return 0;
}

static void
deep_vec_free(struct deep_vec *vec)
{
	free(vec->v);
	vec->v = NULL;
	vec->n = vec->cap = 0;
}

static void
deep_refs_clear(struct deep_vec *refs)
{
	size_t i;

	for (i = 0; i < refs->n; i++)
		cf_free_wiped(((struct deep_ref *)refs->v)[i].name);
	refs->n = 0;
}

static void
deep_time(int64_t ms, char *buf, size_t n)
{
	if (ms == 0)
		snprintf(buf, n, "an unknown time");
	else
		cf_format_time_utc(ms, buf, n);
}

/* One finding about the current conversation:
 * conversation HEX "TITLE": MESSAGE.  The line is wiped after use. */
static void dreport(struct deep_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
dreport(struct deep_ctx *x, const char *fmt, ...)
{
	char *msg = NULL, *line = NULL;
	va_list ap;
	int n;

	x->r->failed++;
	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0) {
		msg = NULL;
		cf_error("out of memory (a finding about conversation %s is lost)", x->hex);
		return;
	}
	if (asprintf(&line, "conversation %s \"%s\": %s", x->hex, x->c->title, msg) < 0) {
		line = NULL;
		cf_error("out of memory (a finding about conversation %s is lost)", x->hex);
	} else if (x->report != NULL) {
		x->report(line, x->arg);
	}
	cf_free_wiped(msg);
	cf_free_wiped(line);
}

/* The blob's path relative to the archive ("blobs/XX/ID"), for reports. */
static void
deep_blob_name(char *buf, size_t n, const uint8_t id[CF_ID_BYTES])
{
	if (cf_blob_path(buf, n, "", id) != 0 || buf[0] == '\0')
		snprintf(buf, n, "blobs/?");
	else
		memmove(buf, buf + 1, strlen(buf));     /* drop the leading '/' */
}

/* ---- the keystore lists ---------------------------------------------- */

static void
deep_blob_from(struct deep_blob *d, const struct cf_blob_rec *b)
{
	memset(d, 0, sizeof *d);
	memcpy(d->id, b->id, CF_ID_BYTES);
	memcpy(d->conv_id, b->conv_id, CF_ID_BYTES);
	d->seq = b->seq;
	d->file_size = b->file_size;
	memcpy(d->hash, b->hash, CF_HASH_BYTES);
	d->created = b->created;
}

static int
deep_collect_att(const struct cf_blob_rec *b, void *arg)
{
	struct deep_vec *atts = arg;
	struct deep_blob d;

	if (b->kind != CF_BLOB_ATTACHMENT)
		return 0;
	deep_blob_from(&d, b);
	return deep_push(atts, &d);
}

static int
deep_att_cmp(const void *p, const void *q)
{
	const struct deep_blob *x = p, *y = q;
	int c = memcmp(x->conv_id, y->conv_id, CF_ID_BYTES);

	return c != 0 ? c : memcmp(x->id, y->id, CF_ID_BYTES);
}

/* The time span of a segment from its sealed summary (0, 0 if unknown). */
static void
deep_summary_span(const struct cf_blob_rec *b, const struct cf_keypair *kp, struct deep_blob *d)
{
	uint8_t *plain;
	size_t len;
	json_int_t first, last;
	json_t *j;

	if (b->sealed_summary_len < CF_SEAL_OVERHEAD ||
	    b->sealed_summary_len > CF_SEALED_SUMMARY_MAX)
		return;
	len = b->sealed_summary_len - CF_SEAL_OVERHEAD;
	if ((plain = malloc(len + 1)) == NULL)
		return;
	if (cf_unseal(plain, b->sealed_summary, b->sealed_summary_len, kp) == 0) {
		j = json_loadb((const char *)plain, len, 0, NULL);
		if (j != NULL && json_unpack(j, "{s:I,s:I}", "first", &first, "last", &last) == 0) {
			d->first_ms = (int64_t)first;
			d->last_ms = (int64_t)last;
		}
		json_decref(j);
	}
	cf_wipe(plain, len);
	free(plain);
}

static int
deep_collect_seg(const struct cf_blob_rec *b, void *arg)
{
	struct deep_ctx *x = arg;
	struct deep_blob d;

	deep_blob_from(&d, b);
	deep_summary_span(b, &x->c->kp, &d);
	return deep_push(&x->segs, &d);
}

/* ---- segments --------------------------------------------------------- */

/* 1 when no byte of [from, to) lies in a chunk that failed. */
static int
deep_good(const uint8_t *bad, size_t from, size_t to)
{
	size_t i;

	if (to <= from)
		return 1;
	for (i = from / CF_CHUNK_SIZE; i <= (to - 1) / CF_CHUNK_SIZE; i++)
		if (bad[i])
			return 0;
	return 1;
}

static uint32_t
deep_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Does the chain of record lengths from q run to the end of the segment,
 * or into the next hole, through message records only? */
static int
deep_chain_ok(const uint8_t *p, size_t len, const uint8_t *bad, size_t q)
{
	size_t pos = q, l;

	while (pos < len) {
		if (len - pos < 4 || !deep_good(bad, pos, pos + 4))
			return len - pos >= 4;          /* into a hole: plausible */
		l = deep_le32(p + pos);
		if (l > len - pos - 4)
			return 0;
		if (l >= DEEP_MARK_LEN && deep_good(bad, pos + 4, pos + 4 + DEEP_MARK_LEN) &&
		    memcmp(p + pos + 4, DEEP_MARK, DEEP_MARK_LEN) != 0)
			return 0;
		pos += 4 + l;
	}
	return 1;
}

/* The next record start at or after from, or len when there is none. */
static size_t
deep_resync(const uint8_t *p, size_t len, const uint8_t *bad, size_t from)
{
	const uint8_t *hit;
	size_t q = from;

	while (q + 4 + DEEP_MARK_LEN <= len) {
		hit = memmem(p + q + 4, len - q - 4, DEEP_MARK, DEEP_MARK_LEN);
		if (hit == NULL)
			break;
		q = (size_t)(hit - p) - 4;
		if (deep_good(bad, q, q + 4 + DEEP_MARK_LEN) && deep_chain_ok(p, len, bad, q))
			return q;
		q++;
	}
	return len;
}

/* Remember the attachments a decoded message refers to. */
static int
deep_add_refs(struct deep_ctx *x, const struct cf_msg *m)
{
	struct deep_ref ref;
	size_t i;
	int rc;

	for (i = 0; i < m->natt; i++) {
		memset(&ref, 0, sizeof ref);
		memcpy(ref.blob_id, m->att[i].blob_id, CF_ID_BYTES);
		ref.ts_ms = m->ts_ms;
		ref.size = m->att[i].size;
		ref.name = strdup(m->att[i].name != NULL ? m->att[i].name : "");
		if (ref.name == NULL) {
			cf_error("out of memory");
			return -ENOMEM;
		}
		if ((rc = deep_push(&x->refs, &ref)) != 0) {
			cf_free_wiped(ref.name);
			return rc;
		}
	}
	return 0;
}

/*
 * Follow the records of a decrypted segment through its holes: fill
 * x->ents with the records that decode and report those that do not.
 */
static int
deep_records(struct deep_ctx *x, const struct deep_blob *b, const char *name,
    const uint8_t *p, size_t len, const uint8_t *bad)
{
	struct deep_ent ent;
	struct cf_seghdr h;
	struct cf_msg m;
	char when[32];
	size_t pos = 0, end, dpos;
	uint64_t idx = 0;
	int64_t last_ts = 0;
	uint32_t l;
	int rc;

	x->ents.n = 0;
	while (pos < len) {
		if (len - pos < 4) {
			dreport(x, "segment %u (%s): %zu stray bytes at its end", b->seq, name,
			    len - pos);
			break;
		}
		if (!deep_good(bad, pos, pos + 4)) {
			/* a hole ate the length: find the next record start */
			pos = deep_resync(p, len, bad, pos);
			idx = DEEP_IDX_UNKNOWN;
			continue;
		}
		l = deep_le32(p + pos);
		if (l > len - pos - 4) {
			deep_time(last_ts, when, sizeof when);
			dreport(x, "segment %u (%s): record %llu (after the message of %s) runs "
			    "past the end of the segment", b->seq, name,
			    (unsigned long long)idx, when);
			break;
		}
		end = pos + 4 + l;
		if (!deep_good(bad, pos, end)) {
			/* lost, but its extent is known: the run of failing
			 * chunks is reported once, by deep_holes */
			pos = end;
			if (idx != DEEP_IDX_UNKNOWN)
				idx++;
			continue;
		}
		memset(&ent, 0, sizeof ent);
		ent.start = pos;
		ent.end = end;
		ent.idx = idx;
		dpos = pos;
		if (pos == 0) {
			memset(&h, 0, sizeof h);
			rc = cf_record_next_hdr(p, end, &dpos, &h);
			cf_seghdr_clear(&h);
		} else {
			memset(&m, 0, sizeof m);
			rc = cf_record_next_msg(p, end, &dpos, &m);
			if (rc == 1) {
				ent.ts_ms = m.ts_ms;
				last_ts = m.ts_ms;
				x->r->messages++;
				rc = deep_add_refs(x, &m);
				cf_msg_clear(&m);
				if (rc != 0)
					return rc;
				rc = 1;
			}
		}
		if (rc != 1 || dpos != end) {
			deep_time(last_ts, when, sizeof when);
			if (pos == 0)
				dreport(x, "segment %u (%s): the segment header record does not "
				    "decode", b->seq, name);
			else
				dreport(x, "segment %u (%s): record %s%llu (after the message of %s) "
				    "does not decode", b->seq, name,
				    idx == DEEP_IDX_UNKNOWN ? "after a hole, #" : "",
				    (unsigned long long)(idx == DEEP_IDX_UNKNOWN ? 0 : idx), when);
		} else if ((rc = deep_push(&x->ents, &ent)) != 0) {
			return rc;
		}
		pos = end;
		if (idx != DEEP_IDX_UNKNOWN)
			idx++;
	}
	return 0;
}

/* "chunk 2 of 6" or "chunks 2-4 of 6". */
static void
deep_chunks(char *buf, size_t n, size_t first, size_t last, size_t nchunks)
{
	if (first == last)
		snprintf(buf, n, "chunk %zu of %zu", first, nchunks);
	else
		snprintf(buf, n, "chunks %zu-%zu of %zu", first, last, nchunks);
}

/* One finding per run of failing chunks, with the readable records either
 * side of it. */
static void
deep_holes(struct deep_ctx *x, const struct deep_blob *b, const char *name, size_t len,
    const uint8_t *bad, size_t nchunks)
{
	const struct deep_ent *e = x->ents.v, *prev, *next;
	char t1[32], t2[32], f[32], l[32], before[96], after[96], span[128], chunks[80];
	size_t i = 0, j, k, from, to;

	while (i < nchunks) {
		if (!bad[i]) {
			i++;
			continue;
		}
		for (j = i; j + 1 < nchunks && bad[j + 1]; j++)
			;
		from = i * CF_CHUNK_SIZE;
		to = (j + 1) * CF_CHUNK_SIZE < len ? (j + 1) * CF_CHUNK_SIZE : len;
		prev = next = NULL;
		for (k = 0; k < x->ents.n; k++) {
			if (e[k].end <= from)
				prev = &e[k];
			else if (e[k].start >= to && next == NULL)
				next = &e[k];
		}
		if (prev == NULL) {
			snprintf(before, sizeof before, "from the segment header on");
		} else if (prev->start == 0) {
			snprintf(before, sizeof before, "after the segment header");
		} else {
			deep_time(prev->ts_ms, t1, sizeof t1);
			if (prev->idx != DEEP_IDX_UNKNOWN)
				snprintf(before, sizeof before, "from record %llu, after the message of %s",
				    (unsigned long long)prev->idx + 1, t1);
			else
				snprintf(before, sizeof before, "after the message of %s", t1);
		}
		if (next == NULL) {
			snprintf(after, sizeof after, "to the end of the segment");
		} else {
			deep_time(next->ts_ms, t2, sizeof t2);
			snprintf(after, sizeof after, "up to the message of %s", t2);
		}
		span[0] = '\0';
		if ((prev == NULL || next == NULL) && b->first_ms != 0) {
			deep_time(b->first_ms, f, sizeof f);
			deep_time(b->last_ms, l, sizeof l);
			snprintf(span, sizeof span, " (the segment holds messages from %s to %s)", f, l);
		}
		deep_chunks(chunks, sizeof chunks, i, j, nchunks);
		dreport(x, "segment %u (%s): bytes %zu-%zu (%s) fail authentication; the "
		    "messages stored there cannot be read: %s, %s%s", b->seq, name, from, to - 1,
		    chunks, before, after, span);
		i = j + 1;
	}
}

/*
 * Decrypt every chunk of an open blob into buf (plain bytes), marking the
 * chunks that fail in bad.  Returns the number of failing chunks or
 * -errno for trouble other than damage.
 */
static ssize_t
deep_decrypt(struct cf_blob_reader *r, uint8_t *buf, size_t plain, uint8_t *bad, size_t nchunks)
{
	size_t i, off, n;
	ssize_t got, nbad = 0;

	for (i = 0; i < nchunks; i++) {
		off = i * CF_CHUNK_SIZE;
		n = plain - off < CF_CHUNK_SIZE ? plain - off : CF_CHUNK_SIZE;
		got = cf_blob_pread(r, buf + off, n, off);
		if (got == -ENOMEM)
			return got;
		if (got != (ssize_t)n) {
			bad[i] = 1;
			nbad++;
			memset(buf + off, 0, n);
		}
	}
	return nbad;
}

static size_t
deep_nchunks(uint64_t plain)
{
	return plain == 0 ? 1 : (size_t)((plain + CF_CHUNK_SIZE - 1) / CF_CHUNK_SIZE);
}

static int
deep_segment(struct deep_ctx *x, const struct deep_blob *b)
{
	struct cf_blob_reader *r = NULL;
	uint8_t *buf = NULL, *bad = NULL;
	char name[128], f[32], l[32];
	size_t plain = 0, nchunks;
	ssize_t nbad;
	int rc, hash_ok;

	deep_blob_name(name, sizeof name, b->id);
	deep_time(b->first_ms, f, sizeof f);
	deep_time(b->last_ms, l, sizeof l);
	rc = cf_blob_open(&r, cf_archive_dir(x->a), cf_archive_id(x->a), x->c->id, b->id,
	    CF_BLOB_SEGMENT, &x->c->kp);
	if (rc == -ENOMEM)
		return rc;
	if (rc != 0) {
		dreport(x, "segment %u (%s) %s: none of its messages can be read (they are "
		    "from %s to %s)", b->seq, name, rc == -ENOENT ? "is missing" :
		    "does not open (damaged header or key, truncated or extended)", f, l);
		return 0;
	}
	x->r->segments++;
	hash_ok = cf_blob_verify(r, b->file_size, b->hash) == 0;
	if (cf_blob_plain_size(r) > SIZE_MAX - 1) {
		rc = -EFBIG;
		goto out;
	}
	plain = (size_t)cf_blob_plain_size(r);
	nchunks = deep_nchunks(plain);
	if ((buf = malloc(plain + 1)) == NULL || (bad = calloc(nchunks, 1)) == NULL) {
		cf_error("out of memory");
		rc = -ENOMEM;
		goto out;
	}
	if ((nbad = deep_decrypt(r, buf, plain, bad, nchunks)) < 0) {
		rc = (int)nbad;
		goto out;
	}
	if ((rc = deep_records(x, b, name, buf, plain, bad)) != 0)
		goto out;
	deep_holes(x, b, name, plain, bad, nchunks);
	if (!hash_ok && nbad == 0)
		dreport(x, "segment %u (%s): every chunk opens but the file is not the one the "
		    "keystore recorded (replaced?); its messages are from %s to %s", b->seq, name,
		    f, l);
out:
	if (buf != NULL) {
		cf_wipe(buf, plain);
		free(buf);
	}
	free(bad);
	cf_blob_close(r);
	return rc;
}

/* ---- attachments ------------------------------------------------------ */

/* "attachment "NAME" of the message of TIME" or, with no message known,
 * "attachment imported TIME". */
static void
deep_att_label(const struct deep_ref *ref, const struct deep_blob *b, char **out)
{
	char when[32];

	*out = NULL;
	if (ref != NULL) {
		deep_time(ref->ts_ms, when, sizeof when);
		if (asprintf(out, "attachment \"%s\" of the message of %s", ref->name, when) < 0)
			*out = NULL;
	} else {
		deep_time(b->created * 1000, when, sizeof when);
		if (asprintf(out, "attachment imported %s (no readable message refers to it)",
		    when) < 0)
			*out = NULL;
	}
}

static int
deep_attachment(struct deep_ctx *x, const struct deep_blob *b, const struct deep_ref *ref)
{
	struct cf_blob_reader *r = NULL;
	uint8_t *buf = NULL, *bad = NULL;
	char name[128], chunks[80], *what = NULL;
	size_t i, j, nchunks, off, n;
	uint64_t plain;
	ssize_t got;
	int rc = 0, hash_ok, nbad = 0;

	deep_blob_name(name, sizeof name, b->id);
	deep_att_label(ref, b, &what);
	if (what == NULL) {
		cf_error("out of memory");
		return -ENOMEM;
	}
	rc = cf_blob_open(&r, cf_archive_dir(x->a), cf_archive_id(x->a), x->c->id, b->id,
	    CF_BLOB_ATTACHMENT, &x->c->kp);
	if (rc == -ENOMEM)
		goto out;
	if (rc != 0) {
		dreport(x, "%s (%s) %s", what, name, rc == -ENOENT ? "is missing" :
		    "does not open (damaged header or key, truncated or extended)");
		rc = 0;
		goto out;
	}
	x->r->attachments++;
	hash_ok = cf_blob_verify(r, b->file_size, b->hash) == 0;
	plain = cf_blob_plain_size(r);
	if (ref != NULL && ref->size != plain)
		dreport(x, "%s (%s) holds %llu bytes, the message says %llu", what, name,
		    (unsigned long long)plain, (unsigned long long)ref->size);
	nchunks = deep_nchunks(plain);
	if ((buf = malloc(CF_CHUNK_SIZE)) == NULL || (bad = calloc(nchunks, 1)) == NULL) {
		cf_error("out of memory");
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < nchunks; i++) {
		off = i * CF_CHUNK_SIZE;
		n = plain - off < CF_CHUNK_SIZE ? (size_t)(plain - off) : CF_CHUNK_SIZE;
		got = cf_blob_pread(r, buf, n, off);
		if (got == -ENOMEM) {
			rc = -ENOMEM;
			goto out;
		}
		if (got != (ssize_t)n) {
			bad[i] = 1;
			nbad++;
		}
	}
	for (i = 0; i < nchunks; i = j + 1) {
		if (!bad[i]) {
			j = i;
			continue;
		}
		for (j = i; j + 1 < nchunks && bad[j + 1]; j++)
			;
		off = (j + 1) * CF_CHUNK_SIZE < plain ? (j + 1) * CF_CHUNK_SIZE : (size_t)plain;
		deep_chunks(chunks, sizeof chunks, i, j, nchunks);
		dreport(x, "%s (%s): bytes %zu-%zu (%s) fail authentication", what, name,
		    i * CF_CHUNK_SIZE, off > 0 ? off - 1 : 0, chunks);
	}
	if (!hash_ok && nbad == 0)
		dreport(x, "%s (%s): every chunk opens but the file is not the one the keystore "
		    "recorded (replaced?)", what, name);
out:
	if (buf != NULL) {
		cf_wipe(buf, CF_CHUNK_SIZE);
		free(buf);
	}
	free(bad);
	cf_free_wiped(what);
	cf_blob_close(r);
	return rc;
}

/* Every attachment record of the conversation, then the references that
 * name no record of it. */
static int
deep_attachments(struct deep_ctx *x)
{
	const struct deep_blob *atts = x->atts.v;
	struct deep_ref *refs = x->refs.v;
	struct deep_blob key;
	char when[32];
	size_t lo = 0, hi = x->atts.n, mid, i, k;
	int rc;

	memset(&key, 0, sizeof key);
	memcpy(key.conv_id, x->c->id, CF_ID_BYTES);
	while (lo < hi) {               /* first record of this conversation */
		mid = lo + (hi - lo) / 2;
		if (memcmp(atts[mid].conv_id, key.conv_id, CF_ID_BYTES) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = lo; i < x->atts.n && memcmp(atts[i].conv_id, x->c->id, CF_ID_BYTES) == 0; i++) {
		const struct deep_ref *ref = NULL;

		for (k = 0; k < x->refs.n; k++) {
			if (memcmp(refs[k].blob_id, atts[i].id, CF_ID_BYTES) == 0) {
				refs[k].seen = 1;
				if (ref == NULL)
					ref = &refs[k];
			}
		}
		if ((rc = deep_attachment(x, &atts[i], ref)) != 0)
			return rc;
	}
	for (k = 0; k < x->refs.n; k++) {
		if (refs[k].seen)
			continue;
		deep_time(refs[k].ts_ms, when, sizeof when);
		dreport(x, "the message of %s refers to attachment \"%s\", which has no keystore "
		    "record in this conversation", when, refs[k].name);
	}
	return 0;
}

/* ---- the walk --------------------------------------------------------- */

static int
deep_chat(struct deep_ctx *x, const struct cf_chat *c)
{
	struct cf_txn *t = NULL;
	size_t i;
	int rc;

	x->c = c;
	cf_hex_encode(x->hex, c->id, CF_ID_BYTES);
	x->segs.n = 0;
	deep_refs_clear(&x->refs);
	x->r->conversations++;
	/* with the ingest key (admins), the record's MAC: what keyless verify
	 * cannot see (creation time, public key, title) */
	rc = cf_chat_check_mac(x->a, x->s, c);
	if (rc == -EBADMSG)
		dreport(x, "its keystore record fails its integrity check (MAC under the "
		    "ingest key): damaged or altered");
	else if (rc != 0 && rc != -ENOKEY)
		return rc;
	if ((rc = cf_ks_begin(cf_archive_ks(x->a), 0, &t)) != 0)
		return rc;
	rc = cf_ks_conv_segments(t, c->id, deep_collect_seg, x);
	cf_ks_abort(t);
	if (rc != 0)
		return rc;
	for (i = 0; i < x->segs.n; i++)
		if ((rc = deep_segment(x, (const struct deep_blob *)x->segs.v + i)) != 0)
			return rc;
	rc = deep_attachments(x);
	deep_refs_clear(&x->refs);
	return rc;
}

int
cf_verify_deep(struct cf_archive *a, struct cf_session *s,
    void (*report)(const char *line, void *arg), void *arg, struct cf_verify_deep_result *r)
{
	struct deep_ctx x;
	struct cf_chat_list l = { .v = NULL };
	struct cf_txn *t = NULL;
	size_t i;
	int rc;

	memset(r, 0, sizeof *r);
	memset(&x, 0, sizeof x);
	x.a = a;
	x.s = s;
	x.report = report;
	x.arg = arg;
	x.r = r;
	x.atts.size = sizeof(struct deep_blob);
	x.segs.size = sizeof(struct deep_blob);
	x.refs.size = sizeof(struct deep_ref);
	x.ents.size = sizeof(struct deep_ent);

	rc = cf_chats_list(a, s, &l);
	if (rc == -EBADMSG) {
		/* reported by cf_chats_list: a keystore record that fails
		 * authentication is damage, not a failure to check */
		r->failed++;
		if (report != NULL)
			report("keystore: a conversation's metadata or a segment summary does not "
			    "open; no conversation could be walked", arg);
		return 0;
	}
	if (rc != 0)
		return rc;
	if ((rc = cf_ks_begin(cf_archive_ks(a), 0, &t)) != 0)
		goto out;
	rc = cf_ks_blob_foreach(t, deep_collect_att, &x.atts);
	cf_ks_abort(t);
	if (rc != 0)
		goto out;
	if (x.atts.n > 0)
		qsort(x.atts.v, x.atts.n, x.atts.size, deep_att_cmp);
	for (i = 0; i < l.n; i++)
		if ((rc = deep_chat(&x, &l.v[i])) != 0)
			goto out;
out:
	deep_refs_clear(&x.refs);
	deep_vec_free(&x.refs);
	deep_vec_free(&x.segs);
	deep_vec_free(&x.ents);
	deep_vec_free(&x.atts);
	cf_chats_free(&l);
	return rc;
}
