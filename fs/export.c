/*
 * export.c - the export driver (export.h): the output folder, output files
 * with their SHA-256, the audit record per conversation, the conversation
 * model the writers share (export_int.h), the JSON Lines writer and the
 * two manifests.  The RSMF and EML writers are export_rsmf.c and
 * export_eml.c.
 *
 * Every output file is written through struct xout: created with openat()
 * relative to DIR's descriptor (O_EXCL | O_NOFOLLOW, 0600), buffered, its
 * SHA-256 computed on the way, and recorded for the manifest and for the
 * clean-up that removes everything again when the export fails.  Nothing
 * is fsync'd file by file: one syncfs() at the end, before the manifests
 * (which are then synced with the folder) say the export is complete.
 *
 * Plaintext in memory: output buffers and the text buffers are wiped
 * before they are freed; jansson's blocks are wiped by the allocator
 * record.c installs.  Limits: libzip's own buffers (export_rsmf.c) are
 * freed without wiping, and files removed after a failure leave their
 * blocks on the disk until overwritten, as any deleted file does.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "audit.h"
#include "crypto.h"
#include "export.h"
#include "export_int.h"
#include "util.h"
#include "view.h"

#define X_BUF 65536
#define NOT_A_CONV SIZE_MAX

/* A file written, for the manifest and the clean-up. */
struct xfile {
	char *rel;
	uint8_t sha[crypto_hash_sha256_BYTES];
	uint64_t size;
	size_t conv;                    /* index into xctx.convs, or NOT_A_CONV */
};

/* What the manifest says of one conversation. */
struct xconvinfo {
	char hex[2 * CF_ID_BYTES + 1];
	const char *title, *source;     /* the cf_chat's, alive during the export */
	char *chat;                     /* as exported (made unique for jsonl) */
	uint64_t messages, attachments, files;
};

struct xctx {
	struct cf_archive *a;
	struct cf_session *s;
	const struct cf_export_opts *o;
	const char *dir;                /* as the caller named it */
	int dirfd;
	int made_dir;                   /* DIR was created by this export */
	struct xfile *files;
	size_t nfiles, capfiles;
	char **dirs;                    /* folders made below DIR, in order */
	size_t ndirs, capdirs;
	struct xconvinfo *convs;
	size_t nconvs;
	size_t cur;                     /* conversation being written */
	struct cf_export_stats st;
};

struct xout {
	struct xctx *x;
	int fd;
	char *rel;
	crypto_hash_sha256_state h;
	uint64_t size;
	size_t len;
	int err;
	unsigned char buf[X_BUF];
};

/* ---- small helpers --------------------------------------------------------- */

static int64_t
fdiv(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int64_t
x_day(int64_t ms)
{
	return fdiv(ms, 86400000);
}

static int
utc_tm(int64_t ms, struct tm *tm, int *millis)
{
	time_t t = (time_t)fdiv(ms, 1000);

	*millis = (int)(ms - fdiv(ms, 1000) * 1000);
	return gmtime_r(&t, tm) != NULL ? 0 : -EINVAL;
}

void
x_time_iso(int64_t ms, char *buf, size_t n)
{
	struct tm tm;
	int millis;

	if (utc_tm(ms, &tm, &millis) != 0) {
		snprintf(buf, n, "1970-01-01T00:00:00Z");
		return;
	}
	if (millis != 0)
		snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
	else
		snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
		    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void
x_time_rfc5322(int64_t ms, char *buf, size_t n)
{
	static const char *const wday[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
	    "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	int millis;

	if (utc_tm(ms, &tm, &millis) != 0 || tm.tm_wday < 0 || tm.tm_wday > 6 ||
	    tm.tm_mon < 0 || tm.tm_mon > 11) {
		snprintf(buf, n, "Thu, 1 Jan 1970 00:00:00 +0000");
		return;
	}
	snprintf(buf, n, "%s, %d %s %04d %02d:%02d:%02d +0000", wday[tm.tm_wday], tm.tm_mday,
	    mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/*
 * The time of a JSONL line: in the message's own zone with its offset when
 * the source gave a zone-less time (the wall-clock time it showed), else
 * UTC.  Either way absolute, so the import's --timezone does not matter.
 */
static void
jsonl_time(const struct cf_msg *m, char *buf, size_t n)
{
	struct tm tm;
	long off;
	int millis = (int)(m->ts_ms - fdiv(m->ts_ms, 1000) * 1000);
	char frac[8] = "";

	if (m->tz == NULL || m->tz[0] == '\0' || cf_localtime(m->ts_ms, m->tz, &tm) != 0 ||
	    tm.tm_gmtoff % 60 != 0) {
		x_time_iso(m->ts_ms, buf, n);
		return;
	}
	if (millis != 0)
		snprintf(frac, sizeof frac, ".%03d", millis);
	off = tm.tm_gmtoff;
	snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d%s%c%02ld:%02ld", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac,
	    off < 0 ? '-' : '+', (off < 0 ? -off : off) / 3600, ((off < 0 ? -off : off) / 60) % 60);
}

int
cf_export_format_parse(const char *s, enum cf_export_format *f)
{
	if (strcmp(s, "rsmf") == 0)
		*f = CF_EXPORT_RSMF;
	else if (strcmp(s, "eml") == 0)
		*f = CF_EXPORT_EML;
	else if (strcmp(s, "jsonl") == 0)
		*f = CF_EXPORT_JSONL;
	else
		return -EINVAL;
	return 0;
}

const char *
cf_export_format_name(enum cf_export_format f)
{
	switch (f) {
	case CF_EXPORT_RSMF:
		return "rsmf";
	case CF_EXPORT_EML:
		return "eml";
	case CF_EXPORT_JSONL:
		return "jsonl";
	}
	return "?";
}

int
cf_export_parse_bound(const char *s, int64_t *ms)
{
	int64_t secs;
	size_t i;

	if (strlen(s) == 10 && s[4] == '-' && s[7] == '-') {
		for (i = 0; i < 10; i++)
			if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
				return -EINVAL;
		if (cf_parse_date_arg(s, "UTC", 0, &secs) != 0)
			return -EINVAL;
		*ms = secs * 1000;
		return 0;
	}
	return cf_parse_time(s, "UTC", ms, NULL) == 0 ? 0 : -EINVAL;
}

/* ---- text buffer ------------------------------------------------------------ */

void
xb_add(struct xbuf *b, const char *s, size_t n)
{
	size_t cap;
	char *p;

	if (b->err != 0)
		return;
	if (n > SIZE_MAX / 2 - b->len) {
		b->err = -ENOMEM;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		cap = b->cap != 0 ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		/* not realloc: the old copy holds text and is wiped */
		if ((p = malloc(cap)) == NULL) {
			b->err = -ENOMEM;
			return;
		}
		if (b->p != NULL) {
			memcpy(p, b->p, b->len);
			cf_wipe(b->p, b->cap);
			free(b->p);
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
xb_puts(struct xbuf *b, const char *s)
{
	xb_add(b, s, strlen(s));
}

void
xb_printf(struct xbuf *b, const char *fmt, ...)
{
	char small[256], *big;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->err = b->err != 0 ? b->err : -EINVAL;
		return;
	}
	if ((size_t)n < sizeof small) {
		xb_add(b, small, (size_t)n);
		cf_wipe(small, sizeof small);
		return;
	}
	if ((big = malloc((size_t)n + 1)) == NULL) {
		b->err = -ENOMEM;
		return;
	}
	va_start(ap, fmt);
	(void)vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	xb_add(b, big, (size_t)n);
	cf_wipe(big, (size_t)n + 1);
	free(big);
}

void
xb_free(struct xbuf *b)
{
	if (b->p != NULL) {
		cf_wipe(b->p, b->cap);
		free(b->p);
	}
	memset(b, 0, sizeof(*b));
}

/* ---- output files ------------------------------------------------------------ */

int
x_dirfd(const struct xctx *x)
{
	return x->dirfd;
}

const char *
x_dirname(const struct xctx *x)
{
	return x->dir;
}

int
x_mkdir(struct xctx *x, const char *rel)
{
	char **v;

	if (x->ndirs == x->capdirs) {
		size_t cap = x->capdirs != 0 ? x->capdirs * 2 : 16;

		if ((v = realloc(x->dirs, cap * sizeof(*v))) == NULL) {
			cf_error("out of memory");
			return -ENOMEM;
		}
		x->dirs = v;
		x->capdirs = cap;
	}
	if ((x->dirs[x->ndirs] = strdup(rel)) == NULL) {
		cf_error("out of memory");
		return -ENOMEM;
	}
	if (mkdirat(x->dirfd, rel, 0700) != 0) {
		int rc = -errno;

		cf_error("%s/%s: %s", x->dir, rel, strerror(-rc));
		free(x->dirs[x->ndirs]);
		return rc;
	}
	x->ndirs++;
	return 0;
}

int
x_open(struct xctx *x, const char *rel, struct xout **wp)
{
	struct xout *w;
	int rc;

	*wp = NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL || (w->rel = strdup(rel)) == NULL) {
		free(w);
		cf_error("out of memory");
		return -ENOMEM;
	}
	w->x = x;
	w->fd = openat(x->dirfd, rel, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (w->fd < 0) {
		rc = -errno;
		cf_error("%s/%s: %s", x->dir, rel, strerror(-rc));
		free(w->rel);
		free(w);
		return rc;
	}
	if (crypto_hash_sha256_init(&w->h) != 0) {
		cf_error("%s/%s: cannot start a hash", x->dir, rel);
		x_abort(w);
		return -EINVAL;
	}
	*wp = w;
	return 0;
}

static void
out_flush(struct xout *w)
{
	int rc;

	if (w->err != 0 || w->len == 0)
		return;
	if ((rc = cf_write_all(w->fd, w->buf, w->len)) != 0)
		w->err = rc;
	cf_wipe(w->buf, w->len);
	w->len = 0;
}

void
x_write(struct xout *w, const void *p, size_t n)
{
	const unsigned char *u = p;
	size_t k;

	if (w->err != 0 || n == 0)
		return;
	if (crypto_hash_sha256_update(&w->h, u, n) != 0) {
		w->err = -EINVAL;
		return;
	}
	w->size += n;
	while (n > 0 && w->err == 0) {
		k = sizeof(w->buf) - w->len;
		if (k > n)
			k = n;
		memcpy(w->buf + w->len, u, k);
		w->len += k;
		u += k;
		n -= k;
		if (w->len == sizeof(w->buf))
			out_flush(w);
	}
}

void
x_puts(struct xout *w, const char *s)
{
	x_write(w, s, strlen(s));
}

void
x_printf(struct xout *w, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof buf) {
		/* only short, generated lines come here */
		w->err = w->err != 0 ? w->err : -EOVERFLOW;
		return;
	}
	x_write(w, buf, (size_t)n);
	cf_wipe(buf, sizeof buf);
}

static void
out_free(struct xout *w)
{
	cf_wipe(w->buf, sizeof(w->buf));
	free(w->rel);
	free(w);
}

void
x_abort(struct xout *w)
{
	if (w == NULL)
		return;
	(void)close(w->fd);             /* being removed: nothing to keep */
	(void)unlinkat(w->x->dirfd, w->rel, 0);
	out_free(w);
}

int
x_close(struct xout *w, const struct xconv *cv)
{
	struct xctx *x = w->x;
	struct xfile *f;
	int rc;

	out_flush(w);
	if (w->err != 0) {
		rc = w->err;
		cf_error("%s/%s: %s", x->dir, w->rel, strerror(-rc));
		x_abort(w);
		return rc;
	}
	if (x->nfiles == x->capfiles) {
		size_t cap = x->capfiles != 0 ? x->capfiles * 2 : 64;

		if ((f = realloc(x->files, cap * sizeof(*f))) == NULL) {
			cf_error("out of memory");
			x_abort(w);
			return -ENOMEM;
		}
		x->files = f;
		x->capfiles = cap;
	}
	if (close(w->fd) != 0) {
		rc = -errno;
		w->fd = -1;
		cf_error("%s/%s: %s", x->dir, w->rel, strerror(-rc));
		(void)unlinkat(x->dirfd, w->rel, 0);
		out_free(w);
		return rc;
	}
	f = &x->files[x->nfiles++];
	memset(f, 0, sizeof(*f));
	(void)crypto_hash_sha256_final(&w->h, f->sha);
	f->rel = w->rel;
	w->rel = NULL;
	f->size = w->size;
	f->conv = cv != NULL ? x->cur : NOT_A_CONV;
	x->st.files++;
	x->st.bytes += w->size;
	if (cv != NULL)
		x->convs[x->cur].files++;
	out_free(w);
	return 0;
}

/* Remove everything this export made (after a failure). */
static void
x_remove_all(struct xctx *x)
{
	size_t i;

	for (i = x->nfiles; i-- > 0;)
		(void)unlinkat(x->dirfd, x->files[i].rel, 0);
	for (i = x->ndirs; i-- > 0;)
		(void)unlinkat(x->dirfd, x->dirs[i], AT_REMOVEDIR);
	if (x->made_dir)
		(void)rmdir(x->dir);
}

int
x_attachment_read(const struct xconv *cv, const struct cf_attach *at,
    int (*sink)(void *arg, const void *p, size_t n), void *arg)
{
	struct cf_blob_reader *r = NULL;
	unsigned char *buf = NULL;
	uint64_t off = 0, size;
	ssize_t got;
	int rc;

	if ((rc = cf_chat_attachment_open(cv->a, cv->c, at->blob_id, &r)) != 0)
		return rc;
	size = cf_blob_plain_size(r);
	if (size != at->size) {
		cf_error("%s: conversation %s: an attachment's size differs from its record",
		    cf_archive_dir(cv->a), cv->hex);
		rc = -EBADMSG;
		goto out;
	}
	if ((buf = malloc(X_BUF)) == NULL) {
		cf_error("out of memory");
		rc = -ENOMEM;
		goto out;
	}
	while (off < size) {
		got = cf_blob_pread(r, buf, X_BUF, off);        /* reports */
		if (got < 0) {
			rc = (int)got;
			goto out;
		}
		if (got == 0) {
			cf_error("%s: conversation %s: an attachment ends early",
			    cf_archive_dir(cv->a), cv->hex);
			rc = -EBADMSG;
			goto out;
		}
		if ((rc = sink(arg, buf, (size_t)got)) != 0)
			goto out;
		off += (uint64_t)got;
	}
	rc = 0;
out:
	if (buf != NULL) {
		cf_wipe(buf, X_BUF);
		free(buf);
	}
	cf_blob_close(r);
	return rc;
}

/* ---- the conversation model --------------------------------------------------- */

static int
str_ptr_cmp(const void *pa, const void *pb)
{
	const char *const *a = pa, *const *b = pb;

	return strcmp(*a, *b);
}

static int
xid_cmp(const void *pa, const void *pb)
{
	const struct xid *a = pa, *b = pb;
	int c = strcmp(a->id, b->id);

	if (c != 0)
		return c;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

long
x_participant(const struct xconv *cv, const char *name)
{
	size_t lo = 0, hi = cv->np, mid;
	int c;

	if (name == NULL)
		return -1;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(cv->pnames[mid], name);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

long
x_find_id(const struct xconv *cv, const char *id)
{
	size_t lo = 0, hi = cv->nids, mid;

	if (id == NULL || id[0] == '\0')
		return -1;
	/* the first message with that id */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (strcmp(cv->ids[mid].id, id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < cv->nids && strcmp(cv->ids[lo].id, id) == 0)
		return (long)cv->ids[lo].idx;
	return -1;
}

const char *
x_reply_to(json_t *extra, char *buf, size_t n)
{
	json_t *v = json_object_get(extra, "reply_to");

	if (json_is_string(v) && json_string_length(v) > 0)
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	}
	return NULL;
}

/* Every name the exported messages mention, for the participant table. */
static int
collect_names(struct xconv *cv)
{
	const struct cf_chat_content *cc = cv->cc;
	const char **names = NULL, **senders = NULL;
	size_t cap = 0, n = 0, ns = 0, i, k, w;
	json_t *x, *r, *who;
	int rc = -ENOMEM;

#define ADD_NAME(s) do { \
	if (n == cap) { \
		size_t c2 = cap != 0 ? cap * 2 : 64; \
		const char **v2 = realloc(names, c2 * sizeof(*v2)); \
		if (v2 == NULL) \
			goto out; \
		names = v2; \
		cap = c2; \
	} \
	names[n++] = (s); \
} while (0)

	if (cv->hi > cv->lo && (senders = calloc(cv->hi - cv->lo, sizeof(*senders))) == NULL)
		goto out;
	for (i = cv->lo; i < cv->hi; i++) {
		const char *s = cc->msgs[i].sender;

		if (s != NULL && s[0] != '\0') {
			ADD_NAME(s);
			senders[ns++] = s;
		}
		x = cv->extra[i - cv->lo];
		json_array_foreach(json_object_get(x, "reactions"), k, r) {
			json_array_foreach(json_object_get(r, "by"), w, who) {
				if (json_is_string(who) && json_string_length(who) > 0)
					ADD_NAME(json_string_value(who));
			}
		}
	}
#undef ADD_NAME
	if (n > 0)
		qsort(names, n, sizeof(*names), str_ptr_cmp);
	for (i = 0, k = 0; i < n; i++)
		if (k == 0 || strcmp(names[k - 1], names[i]) != 0)
			names[k++] = names[i];
	cv->pnames = names;
	cv->np = k;
	names = NULL;
	if (ns > 0)
		qsort(senders, ns, sizeof(*senders), str_ptr_cmp);
	for (i = 0, k = 0; i < ns; i++)
		if (i == 0 || strcmp(senders[i - 1], senders[i]) != 0)
			k++;
	cv->nsenders = k;
	rc = 0;
out:
	free(names);
	free(senders);
	if (rc != 0)
		cf_error("out of memory");
	return rc;
}

/* File names of the exported attachments: "<message>-<k>-<name>". */
static int
name_attachments(struct xconv *cv)
{
	const struct cf_chat_content *cc = cv->cc;
	size_t i, k, j = 0, n = 0;
	char *san;
	int len;

	for (i = cv->lo; i < cv->hi; i++)
		n += cc->msgs[i].natt;
	cv->natt = n;
	if (cv->hi > cv->lo && (cv->attfirst = calloc(cv->hi - cv->lo, sizeof(size_t))) == NULL)
		goto nomem;
	if (n > 0 && (cv->attfile = calloc(n, sizeof(char *))) == NULL)
		goto nomem;
	for (i = cv->lo; i < cv->hi; i++) {
		cv->attfirst[i - cv->lo] = j;
		for (k = 0; k < cc->msgs[i].natt; k++, j++) {
			const char *nm = cc->msgs[i].att[k].name;

			if ((san = cf_view_sanitize(nm != NULL ? nm : "")) == NULL)
				goto nomem;
			len = asprintf(&cv->attfile[j], "%zu-%zu-%s", i + 1, k + 1,
			    san[0] != '\0' ? san : "attachment");
			free(san);
			if (len < 0) {
				cv->attfile[j] = NULL;
				goto nomem;
			}
		}
	}
	return 0;
nomem:
	cf_error("out of memory");
	return -ENOMEM;
}

static void
xconv_clear(struct xconv *cv)
{
	size_t i;

	if (cv->extra != NULL) {
		for (i = 0; i < cv->hi - cv->lo; i++)
			json_decref(cv->extra[i]);
	}
	free(cv->extra);
	free(cv->pnames);
	free(cv->ids);
	if (cv->attfile != NULL) {
		for (i = 0; i < cv->natt; i++)
			free(cv->attfile[i]);
	}
	free(cv->attfile);
	free(cv->attfirst);
	memset(cv, 0, sizeof(*cv));
}

/* The first message at or after ms (messages are sorted by time). */
static size_t
first_at(const struct cf_chat_content *cc, int64_t ms)
{
	size_t lo = 0, hi = cc->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (cc->msgs[mid].ts_ms < ms)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int
xconv_prepare(struct xctx *x, struct xconv *cv, const struct cf_chat *c,
    const struct cf_chat_content *cc, const char *chat)
{
	size_t i, n = 0;
	int rc;

	memset(cv, 0, sizeof(*cv));
	cv->x = x;
	cv->a = x->a;
	cv->c = c;
	cv->cc = cc;
	cv->o = x->o;
	cv->chat = chat;
	cf_hex_encode(cv->hex, c->id, CF_ID_BYTES);
	cv->lo = x->o->from_ms == CF_EXPORT_NO_FROM ? 0 : first_at(cc, x->o->from_ms);
	cv->hi = x->o->to_ms == CF_EXPORT_NO_TO ? cc->n : first_at(cc, x->o->to_ms);
	if (cv->hi < cv->lo)
		cv->hi = cv->lo;
	if (cv->hi > cv->lo && (cv->extra = calloc(cv->hi - cv->lo, sizeof(json_t *))) == NULL)
		goto nomem;
	for (i = cv->lo; i < cv->hi; i++) {
		const char *e = cc->msgs[i].extra;
		json_t *j;

		if (e == NULL || e[0] == '\0')
			continue;
		j = json_loads(e, 0, NULL);
		if (json_is_object(j))
			cv->extra[i - cv->lo] = j;
		else
			json_decref(j);
	}
	for (i = 0; i < cc->n; i++)
		n += cc->msgs[i].id != NULL && cc->msgs[i].id[0] != '\0';
	if (n > 0 && (cv->ids = calloc(n, sizeof(*cv->ids))) == NULL)
		goto nomem;
	for (i = 0; i < cc->n; i++) {
		if (cc->msgs[i].id != NULL && cc->msgs[i].id[0] != '\0') {
			cv->ids[cv->nids].id = cc->msgs[i].id;
			cv->ids[cv->nids++].idx = i;
		}
	}
	if (cv->nids > 0)
		qsort(cv->ids, cv->nids, sizeof(*cv->ids), xid_cmp);
	if ((rc = collect_names(cv)) != 0 || (rc = name_attachments(cv)) != 0)
		return rc;
	return 0;
nomem:
	cf_error("out of memory");
	return -ENOMEM;
}

/* ---- JSON Lines ----------------------------------------------------------------- */

/* The members import_jsonl.c gives a meaning; an extra member of the same
 * name (no importer makes one) is written with "_" in front. */
static const char *const jsonl_members[] = {
	"chat", "chat_title", "id", "ts", "sender", "body", "attachments", NULL,
};

static int
jsonl_member(const char *key)
{
	size_t i;

	for (i = 0; jsonl_members[i] != NULL; i++)
		if (strcmp(jsonl_members[i], key) == 0)
			return 1;
	return 0;
}

static int
sink_out(void *arg, const void *p, size_t n)
{
	struct xout *w = arg;

	x_write(w, p, n);
	return w->err;
}

static int
set_str(json_t *o, const char *key, const char *val)
{
	json_t *s = json_string(val);

	return s != NULL && json_object_set_new(o, key, s) == 0 ? 0 : -1;
}

/* One message as a line of canonical JSONL (without the newline). */
static char *
jsonl_line(const struct xconv *cv, size_t i, int first)
{
	const struct cf_msg *m = &cv->cc->msgs[i];
	json_t *o, *arr = NULL, *att, *val, *extra = cv->extra[i - cv->lo];
	const char *key;
	char ts[64], *text = NULL, *key2 = NULL;
	size_t k;
	int bad = 0;

	if ((o = json_object()) == NULL)
		return NULL;
	jsonl_time(m, ts, sizeof ts);
	bad |= set_str(o, "chat", cv->chat);
	if (first && cv->c->title != NULL && cv->c->title[0] != '\0')
		bad |= set_str(o, "chat_title", cv->c->title);
	if (m->id != NULL && m->id[0] != '\0')
		bad |= set_str(o, "id", m->id);
	bad |= set_str(o, "ts", ts);
	if (m->sender != NULL && m->sender[0] != '\0')
		bad |= set_str(o, "sender", m->sender);
	else
		bad |= json_object_set_new(o, "sender", json_null());
	bad |= set_str(o, "body", m->body != NULL ? m->body : "");
	if (m->natt > 0) {
		bad |= (arr = json_array()) == NULL;
		for (k = 0; k < m->natt && !bad; k++) {
			const char *nm = m->att[k].name != NULL ? m->att[k].name : "";
			char *san = NULL, path[PATH_MAX];

			/* a name import_jsonl refuses is written as the view
			 * shows it */
			if (nm[0] == '\0' || strchr(nm, '/') != NULL || strcmp(nm, ".") == 0 ||
			    strcmp(nm, "..") == 0) {
				if ((san = cf_view_sanitize(nm)) == NULL)
					bad = 1;
				nm = san != NULL && san[0] != '\0' ? san : "attachment";
			}
			bad |= cf_path(path, sizeof path, "attachments/%s",
			    cv->attfile[cv->attfirst[i - cv->lo] + k]) != 0;
			bad |= (att = json_object()) == NULL;
			if (!bad) {
				bad |= set_str(att, "name", nm);
				bad |= set_str(att, "path", path);
				bad |= json_array_append_new(arr, att) != 0;
			}
			free(san);
		}
		if (arr != NULL)
			bad |= json_object_set_new(o, "attachments", arr) != 0;
	}
	json_object_foreach(extra, key, val) {
		if (bad)
			break;
		if (jsonl_member(key)) {
			/* "_id", "__id"...: the first name not taken */
			size_t len = strlen(key), pre = 1;

			do {
				free(key2);
				if ((key2 = malloc(pre + len + 1)) == NULL) {
					bad = 1;
					break;
				}
				memset(key2, '_', pre);
				memcpy(key2 + pre, key, len + 1);
				pre++;
			} while (json_object_get(o, key2) != NULL || json_object_get(extra, key2) != NULL);
			if (!bad)
				bad |= json_object_set(o, key2, val) != 0;
			continue;
		}
		bad |= json_object_set(o, key, val) != 0;
	}
	free(key2);
	if (!bad)
		text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

int
x_write_jsonl(struct xconv *cv)
{
	const struct cf_chat_content *cc = cv->cc;
	struct xout *w = NULL;
	char rel[PATH_MAX];
	char *line;
	size_t i, k;
	int rc;

	if (cv->natt > 0) {
		if ((rc = cf_path(rel, sizeof rel, "%s/attachments", cv->hex)) != 0 ||
		    (rc = x_mkdir(cv->x, rel)) != 0)
			return rc;
	}
	if ((rc = cf_path(rel, sizeof rel, "%s/messages.jsonl", cv->hex)) != 0)
		return rc;
	if ((rc = x_open(cv->x, rel, &w)) != 0)
		return rc;
	for (i = cv->lo; i < cv->hi; i++) {
		if ((line = jsonl_line(cv, i, i == cv->lo)) == NULL) {
			cf_error("%s/%s: message %zu cannot be written as JSON", x_dirname(cv->x),
			    rel, i + 1);
			x_abort(w);
			return -EINVAL;
		}
		x_puts(w, line);
		x_write(w, "\n", 1);
		cf_free_wiped(line);
	}
	if ((rc = x_close(w, cv)) != 0)
		return rc;
	for (i = cv->lo; i < cv->hi; i++) {
		for (k = 0; k < cc->msgs[i].natt; k++) {
			if ((rc = cf_path(rel, sizeof rel, "%s/attachments/%s", cv->hex,
			    cv->attfile[cv->attfirst[i - cv->lo] + k])) != 0) {
				cf_error("%s: an attachment's path is too long", x_dirname(cv->x));
				return rc;
			}
			if ((rc = x_open(cv->x, rel, &w)) != 0)
				return rc;
			rc = x_attachment_read(cv, &cc->msgs[i].att[k], sink_out, w);
			if (rc != 0) {
				if (rc == w->err)
					cf_error("%s/%s: %s", x_dirname(cv->x), rel, strerror(-rc));
				x_abort(w);
				return rc;
			}
			if ((rc = x_close(w, cv)) != 0)
				return rc;
		}
	}
	return 0;
}

/* ---- the output folder --------------------------------------------------------- */

/* DIR: created (0700), or an existing empty folder that is not a link;
 * never inside the archive. */
static int
open_dir(struct xctx *x)
{
	char real[PATH_MAX], arch[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd, rc;

	if (mkdir(x->dir, 0700) == 0) {
		x->made_dir = 1;
	} else if (errno != EEXIST) {
		rc = -errno;
		cf_error("%s: %s", x->dir, strerror(-rc));
		return rc;
	}
	fd = open(x->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		if (rc == -ELOOP || (rc == -ENOTDIR && lstat(x->dir, &st) == 0 &&
		    S_ISLNK(st.st_mode)))
			cf_error("%s: is a symbolic link", x->dir);
		else
			cf_error("%s: %s", x->dir, strerror(-rc));
		return rc;
	}
	x->dirfd = fd;
	if (realpath(x->dir, real) == NULL || realpath(cf_archive_dir(x->a), arch) == NULL) {
		rc = -errno;
		cf_error("%s: %s", x->dir, strerror(-rc));
		return rc;
	}
	if (strcmp(real, arch) == 0 || (strncmp(real, arch, strlen(arch)) == 0 &&
	    real[strlen(arch)] == '/')) {
		cf_error("%s: inside the archive %s; export elsewhere", x->dir, cf_archive_dir(x->a));
		return -EINVAL;
	}
	if (x->made_dir)
		return 0;
	if ((fd = dup(x->dirfd)) < 0 || (d = fdopendir(fd)) == NULL) {
		rc = -errno;
		if (fd >= 0)
			(void)close(fd);
		cf_error("%s: %s", x->dir, strerror(-rc));
		return rc;
	}
	rc = 0;
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			cf_error("%s: not empty; export into a new or empty folder", x->dir);
			rc = -EEXIST;
			break;
		}
	}
	if (rc == 0 && errno != 0) {
		rc = -errno;
		cf_error("%s: %s", x->dir, strerror(-rc));
	}
	(void)closedir(d);              /* read-only */
	return rc;
}

/* ---- manifests --------------------------------------------------------------------- */

static int
write_manifest_json(struct xctx *x, const char *now)
{
	char hex[2 * CF_ID_BYTES + 1], sha[2 * crypto_hash_sha256_BYTES + 1], t[40];
	json_t *root = NULL, *convs, *files, *o;
	struct xout *w = NULL;
	char *text = NULL;
	size_t i;
	int bad = 0, rc;

	cf_hex_encode(hex, cf_archive_id(x->a), CF_ID_BYTES);
	root = json_object();
	convs = json_array();
	files = json_array();
	if (root == NULL || convs == NULL || files == NULL) {
		json_decref(convs);
		json_decref(files);
		goto nomem;
	}
	bad |= set_str(root, "format", cf_export_format_name(x->o->format));
	bad |= set_str(root, "generator", "coffer");
	bad |= set_str(root, "created", now);
	bad |= set_str(root, "archive", hex);
	bad |= set_str(root, "principal", cf_session_name(x->s));
	if (x->o->from_ms != CF_EXPORT_NO_FROM) {
		x_time_iso(x->o->from_ms, t, sizeof t);
		bad |= set_str(root, "from", t);
	} else {
		bad |= json_object_set_new(root, "from", json_null());
	}
	if (x->o->to_ms != CF_EXPORT_NO_TO) {
		x_time_iso(x->o->to_ms, t, sizeof t);
		bad |= set_str(root, "to", t);
	} else {
		bad |= json_object_set_new(root, "to", json_null());
	}
	bad |= set_str(root, "range", "from <= time < to (from inclusive, to exclusive)");
	bad |= json_object_set_new(root, "conversations", convs);
	bad |= json_object_set_new(root, "files", files);
	for (i = 0; i < x->nconvs && !bad; i++) {
		const struct xconvinfo *ci = &x->convs[i];

		o = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I}", "id", ci->hex,
		    "title", ci->title != NULL ? ci->title : "",
		    "source", ci->source != NULL ? ci->source : "",
		    "chat", ci->chat != NULL ? ci->chat : "",
		    "messages", (json_int_t)ci->messages, "attachments", (json_int_t)ci->attachments,
		    "files", (json_int_t)ci->files);
		bad |= o == NULL || json_array_append_new(convs, o) != 0;
	}
	for (i = 0; i < x->nfiles && !bad; i++) {
		const struct xfile *f = &x->files[i];

		cf_hex_encode(sha, f->sha, sizeof(f->sha));
		o = json_pack("{s:s,s:I,s:s}", "path", f->rel, "size", (json_int_t)f->size,
		    "sha256", sha);
		if (o != NULL && f->conv != NOT_A_CONV)
			bad |= set_str(o, "conversation", x->convs[f->conv].hex);
		bad |= o == NULL || json_array_append_new(files, o) != 0;
	}
	if (bad || (text = json_dumps(root, JSON_INDENT(2))) == NULL)
		goto nomem;
	if ((rc = x_open(x, "manifest.json", &w)) != 0)
		goto out;
	x_puts(w, text);
	x_write(w, "\n", 1);
	rc = x_close(w, NULL);
	goto out;
nomem:
	cf_error("out of memory");
	rc = -ENOMEM;
out:
	cf_free_wiped(text);
	json_decref(root);
	return rc;
}

/* sha256sum's format: "HASH  NAME"; a name holding a backslash or a
 * newline is escaped and the line starts with a backslash. */
static int
write_manifest_sha256(struct xctx *x)
{
	char sha[2 * crypto_hash_sha256_BYTES + 1];
	struct xout *w = NULL;
	const char *p;
	size_t i;
	int rc;

	if ((rc = x_open(x, "MANIFEST.sha256", &w)) != 0)
		return rc;
	for (i = 0; i < x->nfiles; i++) {
		const struct xfile *f = &x->files[i];

		cf_hex_encode(sha, f->sha, sizeof(f->sha));
		if (strpbrk(f->rel, "\\\n") != NULL)
			x_write(w, "\\", 1);
		x_puts(w, sha);
		x_puts(w, "  ");
		for (p = f->rel; *p != '\0'; p++) {
			if (*p == '\\')
				x_puts(w, "\\\\");
			else if (*p == '\n')
				x_puts(w, "\\n");
			else
				x_write(w, p, 1);
		}
		x_write(w, "\n", 1);
	}
	return x_close(w, NULL);
}

/* ---- the driver ------------------------------------------------------------------------ */

/* Source chat ids as exported: JSONL keys conversations by (format, chat),
 * so two conversations of different sources with one chat id would merge
 * on re-import; the later ones get " #" and 8 hex digits of their id. */
static int
exported_chats(struct xctx *x, const struct cf_chat *const *chats, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		const struct cf_chat *c = chats[i];
		const char *chat = c->chat != NULL && c->chat[0] != '\0' ? c->chat : x->convs[i].hex;
		int dup = 0;

		for (j = 0; j < i && x->o->format == CF_EXPORT_JSONL; j++)
			dup |= strcmp(x->convs[j].chat, chat) == 0;
		if (!dup)
			x->convs[i].chat = strdup(chat);
		else if (asprintf(&x->convs[i].chat, "%s #%.8s", chat, x->convs[i].hex) < 0)
			x->convs[i].chat = NULL;
		if (x->convs[i].chat == NULL) {
			cf_error("out of memory");
			return -ENOMEM;
		}
	}
	return 0;
}

static void
audit_detail(char *buf, size_t n, const struct xctx *x, const struct xconv *cv, size_t nfiles)
{
	char from[40] = "-", to[40] = "-";

	if (x->o->from_ms != CF_EXPORT_NO_FROM)
		x_time_iso(x->o->from_ms, from, sizeof from);
	if (x->o->to_ms != CF_EXPORT_NO_TO)
		x_time_iso(x->o->to_ms, to, sizeof to);
	snprintf(buf, n, "format=%s files=%zu messages=%zu attachments=%zu from=%s to=%s",
	    cf_export_format_name(x->o->format), nfiles, cv->hi - cv->lo, cv->natt, from, to);
}

/* Export one conversation: check, load, audit, write. */
static int
export_one(struct xctx *x, const struct cf_chat *c)
{
	struct xconvinfo *ci = &x->convs[x->cur];
	struct cf_chat_content cc = { 0 };
	struct xconv cv = { 0 };
	char object[CF_AUDIT_OBJECT_MAX + 1], detail[CF_AUDIT_DETAIL_MAX + 1];
	const char *who = cf_session_name(x->s);
	const char *fmt = cf_export_format_name(x->o->format);
	size_t nfiles = 0;
	int rc, unaudited = 0;

	cf_audit_object(object, c->id, NULL);
	rc = cf_policy_check(x->a, x->s, c->id);
	if (rc == -EACCES) {
		snprintf(detail, sizeof detail, "format=%s: no valid grant", fmt);
		(void)cf_audit_log(cf_archive_ks(x->a), who, "export", object, CF_AUDIT_DENIED,
		    detail);
		cf_error("conversation %s: %s may not read it now", ci->hex, who);
		return rc;
	}
	if (rc != 0)
		return rc;
	if ((rc = cf_chat_load(x->a, c, &cc)) != 0)
		goto out;
	if ((rc = xconv_prepare(x, &cv, c, &cc, ci->chat)) != 0)
		goto out;
	if (cv.hi > cv.lo) {
		switch (x->o->format) {
		case CF_EXPORT_RSMF:
			nfiles = x_rsmf_count(&cv);
			break;
		case CF_EXPORT_EML:
			nfiles = cv.hi - cv.lo;
			break;
		case CF_EXPORT_JSONL:
			nfiles = 1 + cv.natt;
			break;
		}
	}
	audit_detail(detail, sizeof detail, x, &cv, nfiles);
	/* fail closed: no record, no plaintext */
	if ((rc = cf_audit_log(cf_archive_ks(x->a), who, "export", object, CF_AUDIT_OK,
	    detail)) != 0) {
		cf_error("conversation %s: export refused: it could not be audited", ci->hex);
		unaudited = 1;
		goto out;
	}
	ci->messages = cv.hi - cv.lo;
	ci->attachments = cv.natt;
	x->st.conversations++;
	x->st.messages += cv.hi - cv.lo;
	x->st.attachments += cv.natt;
	if (cv.hi == cv.lo)
		goto out;
	if ((rc = x_mkdir(x, cv.hex)) != 0)
		goto out;
	switch (x->o->format) {
	case CF_EXPORT_RSMF:
		rc = x_write_rsmf(&cv);
		break;
	case CF_EXPORT_EML:
		rc = x_write_eml(&cv);
		break;
	case CF_EXPORT_JSONL:
		rc = x_write_jsonl(&cv);
		break;
	}
out:
	/* a load that fails (damaged ciphertext) is recorded too */
	if (rc != 0 && !unaudited) {
		snprintf(detail, sizeof detail, "format=%s: %s", fmt, strerror(-rc));
		(void)cf_audit_log(cf_archive_ks(x->a), who, "export", object, CF_AUDIT_FAILED,
		    detail);
	}
	xconv_clear(&cv);
	cf_chat_content_free(&cc);
	return rc;
}

int
cf_export(struct cf_archive *a, struct cf_session *s, const struct cf_chat *const *chats,
    size_t n, const char *dir, const struct cf_export_opts *o, struct cf_export_stats *st)
{
	struct xctx x;
	char now[40];
	size_t i;
	int rc;

	memset(&x, 0, sizeof x);
	x.a = a;
	x.s = s;
	x.o = o;
	x.dir = dir;
	x.dirfd = -1;
	if (st != NULL)
		memset(st, 0, sizeof(*st));
	if (o->format != CF_EXPORT_RSMF && o->format != CF_EXPORT_EML &&
	    o->format != CF_EXPORT_JSONL) {
		cf_error("export: unknown format");
		return -EINVAL;
	}
	if (o->from_ms >= o->to_ms) {
		cf_error("export: the end of the time range is not after its start");
		return -EINVAL;
	}
	if (n > 0 && (x.convs = calloc(n, sizeof(*x.convs))) == NULL) {
		cf_error("out of memory");
		return -ENOMEM;
	}
	x.nconvs = n;
	for (i = 0; i < n; i++) {
		cf_hex_encode(x.convs[i].hex, chats[i]->id, CF_ID_BYTES);
		x.convs[i].title = chats[i]->title;
		x.convs[i].source = chats[i]->source;
	}
	if ((rc = exported_chats(&x, chats, n)) != 0)
		goto out;
	if ((rc = open_dir(&x)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		x.cur = i;
		if ((rc = export_one(&x, chats[i])) != 0)
			goto out;
	}
	/* the data first, then the manifests that say it is complete */
	if (syncfs(x.dirfd) != 0) {
		rc = -errno;
		cf_error("%s: %s", dir, strerror(-rc));
		goto out;
	}
	x_time_iso((int64_t)time(NULL) * 1000, now, sizeof now);
	if ((rc = write_manifest_json(&x, now)) != 0 || (rc = write_manifest_sha256(&x)) != 0)
		goto out;
	if (syncfs(x.dirfd) != 0 || fsync(x.dirfd) != 0) {
		rc = -errno;
		cf_error("%s: %s", dir, strerror(-rc));
		goto out;
	}
	if (st != NULL)
		*st = x.st;
	rc = 0;
out:
	if (rc != 0 && x.dirfd >= 0)
		x_remove_all(&x);
	else if (rc != 0 && x.made_dir)
		(void)rmdir(dir);
	if (x.dirfd >= 0)
		(void)close(x.dirfd);   /* a folder: synced above */
	for (i = 0; i < x.nfiles; i++)
		free(x.files[i].rel);
	free(x.files);
	for (i = 0; i < x.ndirs; i++)
		free(x.dirs[i]);
	free(x.dirs);
	for (i = 0; i < x.nconvs; i++)
		free(x.convs[i].chat);
	free(x.convs);
	return rc;
}
