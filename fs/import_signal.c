/*
 * import_signal.c - Signal exports made by third-party tools (Signal has no
 * export of its own): sigtop's `export-messages -f json` and the
 * signal-export (sigexport) folder.  Format notes: docs/IMPORT-signal.md.
 *
 * sigtop writes one file per conversation, "<Name> (<detail>).json", holding
 * a JSON array of Signal Desktop's raw message objects; attachments go, with
 * `export-attachments` into the same folder, to "<Name> (<detail>)/<file>".
 * The array is streamed one element at a time (jansson with
 * JSON_DISABLE_EOF_CHECK fed one byte at a time), so a huge conversation
 * never sits in memory whole.  Names do not appear in the messages: a first
 * pass over the contact files of the input learns which service id, phone
 * number and conversation id belong to which file name, and the second pass
 * uses that to name senders, mentions (U+FFFC placeholders whose ranges
 * count UTF-16 code units) and reactions.
 *
 * sigexport writes one folder per conversation with chat.md, data.json (JSON
 * Lines) and media/.  data.json is read when present, chat.md otherwise; both
 * have local times without zone (read in o->tz) and no message id, so
 * identical messages are numbered with extra.dup.
 *
 * Plaintext handling: line buffers and stdio buffers are wiped before they
 * are freed, and every block jansson frees is wiped by the allocator
 * record.c installs; strings that realloc moved are not.  Nothing here prints message content: errors
 * name the file, the line and the JSON path.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "import.h"
#include "util.h"

#define SIG_DETECT_MAX 65536            /* bytes detect() reads from a file */
#define SIG_DETECT_ENTRIES 256          /* folder entries detect() looks at */
#define SIG_FLUSH_EVERY 5000            /* messages between flush checks */
#define SIG_WHY_MAX (PATH_MAX + 256)
#define SIG_SELF "Me"                   /* sender of outgoing messages */

/* ---- small helpers ------------------------------------------------------- */

static int
has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}


static const char *
base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

/* path's parent folder (malloc'd). */
static char *
parent_dir(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return cf_memdup_str(path, (size_t)(slash - path));
}

/* The last component of a folder path, ignoring trailing slashes. */
static char *
folder_name(const char *dir)
{
	size_t n = strlen(dir), len;
	const char *start;
	char *real, *name;

	while (n > 1 && dir[n - 1] == '/')
		n--;
	start = dir + n;
	while (start > dir && start[-1] != '/')
		start--;
	len = (size_t)(dir + n - start);
	if (len > 0 && !(len == 1 && *start == '.') &&
	    !(len == 2 && start[0] == '.' && start[1] == '.') && !(len == 1 && *start == '/'))
		return cf_memdup_str(start, len);
	/* "." or "..": the real name */
	if ((real = realpath(dir, NULL)) == NULL)
		return strdup("signal");
	name = strdup(strcmp(real, "/") == 0 ? "signal" : base_name(real));
	free(real);
	return name;
}

static int
is_reg_nolink(const char *path, struct stat *st)
{
	return lstat(path, st) == 0 && S_ISREG(st->st_mode);
}

/* Read up to max bytes of a regular file (not a link); returns the count or
 * -1.  Never reports: for detect(). */
static ssize_t
read_head(const char *path, char *buf, size_t max)
{
	struct stat st;
	size_t total = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		(void)close(fd);        /* read-only */
		return -1;
	}
	while (total < max) {
		n = read(fd, buf + total, max - total);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += (size_t)n;
	}
	(void)close(fd);
	return (ssize_t)total;
}

/* ---- a string map (names, sent_at -> id, counters) ---------------------- */

struct smap_ent {
	char *key;                      /* NULL: free slot */
	char *val;
	uint64_t n;
};

struct smap {
	struct smap_ent *v;
	size_t cap, used;               /* cap: 0 or a power of two */
};

static uint64_t
smap_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static struct smap_ent *
smap_slot(const struct smap *m, const char *key)
{
	size_t i = (size_t)smap_hash(key) & (m->cap - 1);

	while (m->v[i].key != NULL && strcmp(m->v[i].key, key) != 0)
		i = (i + 1) & (m->cap - 1);
	return &m->v[i];
}

static int
smap_grow(struct smap *m)
{
	struct smap_ent *old = m->v, *e;
	size_t oldcap = m->cap, i, cap = m->cap ? m->cap * 2 : 64;

	m->v = calloc(cap, sizeof(*m->v));
	if (m->v == NULL) {
		m->v = old;
		return -ENOMEM;
	}
	m->cap = cap;
	for (i = 0; i < oldcap; i++) {
		if (old[i].key == NULL)
			continue;
		e = smap_slot(m, old[i].key);
		*e = old[i];
	}
	free(old);
	return 0;
}

/* The entry for key, created (val NULL, n 0) when absent; NULL: no memory. */
static struct smap_ent *
smap_get(struct smap *m, const char *key)
{
	struct smap_ent *e;

	if ((m->used + 1) * 2 > m->cap && smap_grow(m) < 0)
		return NULL;
	e = smap_slot(m, key);
	if (e->key == NULL) {
		if ((e->key = strdup(key)) == NULL)
			return NULL;
		m->used++;
	}
	return e;
}

static const struct smap_ent *
smap_find(const struct smap *m, const char *key)
{
	const struct smap_ent *e;

	if (m->cap == 0)
		return NULL;
	e = smap_slot(m, key);
	return e->key != NULL ? e : NULL;
}

/* Set key's value (a copy); keep_old: leave an existing value alone. */
static int
smap_set(struct smap *m, const char *key, const char *val, int keep_old)
{
	struct smap_ent *e = smap_get(m, key);
	char *v;

	if (e == NULL)
		return -ENOMEM;
	if (keep_old && e->val != NULL)
		return 0;
	if ((v = strdup(val)) == NULL)
		return -ENOMEM;
	cf_free_wiped(e->val);
	e->val = v;
	return 0;
}

static const char *
smap_val(const struct smap *m, const char *key)
{
	const struct smap_ent *e = smap_find(m, key);

	return e != NULL ? e->val : NULL;
}

static void
smap_free(struct smap *m)
{
	size_t i;

	for (i = 0; i < m->cap; i++) {
		cf_free_wiped(m->v[i].key);
		cf_free_wiped(m->v[i].val);
	}
	free(m->v);
	memset(m, 0, sizeof(*m));
}

/* ---- the parse context -------------------------------------------------- */

struct sig {
	struct cf_batch *b;
	const struct cf_import_opts *o;
	const char *zone;               /* for zone-less times */
	struct smap names;              /* "aci:", "tel:", "cid:" -> name */
	struct smap sent;               /* per conversation: sent_at -> id */
	struct smap attnames;           /* per conversation: file -> uses */
	struct smap dups;               /* per file: content digest -> count */
	unsigned long added;
	char why[SIG_WHY_MAX];
};

static void
sig_conv_reset(struct sig *s)
{
	smap_free(&s->sent);
	smap_free(&s->attnames);
	smap_free(&s->dups);
}

/* Report "FILE:LINE: reason" (line 0: "FILE: reason"); returns -EINVAL. */
static int sig_fail(const char *file, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
sig_fail(const char *file, unsigned long line, const char *fmt, ...)
{
	char why[SIG_WHY_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	if (line > 0)
		cf_error("%s:%lu: %s", file, line, why);
	else
		cf_error("%s: %s", file, why);
	return -EINVAL;
}

static int
sig_nomem(const char *file)
{
	cf_error("%s: %s", file, strerror(ENOMEM));
	return -ENOMEM;
}

/* Move m into the batch (m is cleared either way) and flush now and then. */
static int
sig_add(struct sig *s, const char *chat, const char *title, struct cf_msg *m)
{
	int rc = cf_batch_add(s->b, chat, title, m);     /* reports */

	if (rc < 0) {
		cf_msg_clear(m);
		return rc;
	}
	if (++s->added % SIG_FLUSH_EVERY == 0)
		return cf_import_maybe_flush(s->o, s->b);
	return 0;
}

/* Compact JSON text of obj (malloc'd, freed by cf_msg_clear). */
static int
dump_extra(json_t *obj, char **dst)
{
	size_t n;

	*dst = NULL;
	if (obj == NULL || json_object_size(obj) == 0)
		return 0;
	n = json_dumpb(obj, NULL, 0, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (n == 0 || (*dst = malloc(n + 1)) == NULL)
		return -ENOMEM;
	if (json_dumpb(obj, *dst, n, JSON_COMPACT | JSON_PRESERVE_ORDER) != n) {
		free(*dst);
		*dst = NULL;
		return -ENOMEM;
	}
	(*dst)[n] = '\0';
	return 0;
}

/* Set obj[key] = new value (stolen); -ENOMEM when either failed. */
static int
set_new(json_t *obj, const char *key, json_t *v)
{
	if (v == NULL)
		return -ENOMEM;
	return json_object_set_new(obj, key, v) == 0 ? 0 : -ENOMEM;
}

/* The number of earlier messages of this file with the same time, sender
 * and body (the "dup" convention for id-less formats). */
static int
dup_count(struct sig *s, const struct cf_msg *m, uint64_t *count)
{
	crypto_generichash_state st;
	unsigned char d[16];
	char hex[33];
	struct smap_ent *e;
	int64_t ts = m->ts_ms;
	const char *snd = m->sender != NULL ? m->sender : "";

	if (crypto_generichash_init(&st, NULL, 0, sizeof d) != 0 ||
	    crypto_generichash_update(&st, (const unsigned char *)&ts, sizeof ts) != 0 ||
	    crypto_generichash_update(&st, (const unsigned char *)snd, strlen(snd) + 1) != 0 ||
	    crypto_generichash_update(&st, (const unsigned char *)m->body,
	    strlen(m->body) + 1) != 0 ||
	    crypto_generichash_final(&st, d, sizeof d) != 0)
		return -EINVAL;
	sodium_memzero(&st, sizeof st);
	cf_hex_encode(hex, d, sizeof d);
	if ((e = smap_get(&s->dups, hex)) == NULL)
		return -ENOMEM;
	*count = e->n++;
	return 0;
}

/* reactions: an array of {"emoji", "by": [...], "count"}; add one. */
static int
reaction_add(json_t *arr, const char *emoji, const char *by)
{
	json_t *r, *v;
	size_t i;

	json_array_foreach(arr, i, r) {
		if (strcmp(json_string_value(json_object_get(r, "emoji")), emoji) != 0)
			continue;
		if (json_array_append_new(json_object_get(r, "by"), json_string(by)) != 0)
			return -ENOMEM;
		v = json_object_get(r, "count");
		return json_integer_set(v, json_integer_value(v) + 1) == 0 ? 0 : -ENOMEM;
	}
	if ((r = json_object()) == NULL)
		return -ENOMEM;
	if (set_new(r, "emoji", json_string(emoji)) < 0 ||
	    set_new(r, "by", json_array()) < 0 ||
	    json_array_append_new(json_object_get(r, "by"), json_string(by)) != 0 ||
	    set_new(r, "count", json_integer(1)) < 0) {
		json_decref(r);
		return -ENOMEM;
	}
	return json_array_append_new(arr, r) == 0 ? 0 : -ENOMEM;
}

/* One file that an attachment reference names: present (filled into *at)
 * or recorded in missing[] with reason.  Never an error: neither exporter
 * promises the files (both skip what they cannot copy). */
static int
attach_one(const char *full, const char *name, const char *reason, struct cf_msg *m,
    json_t *missing)
{
	struct cf_attach *na;
	struct stat st;
	json_t *o;

	if (full != NULL && is_reg_nolink(full, &st)) {
		na = realloc(m->att, (m->natt + 1) * sizeof(*na));
		if (na == NULL)
			return -ENOMEM;
		m->att = na;
		memset(&na[m->natt], 0, sizeof(*na));
		na[m->natt].name = strdup(name);
		na[m->natt].src_path = strdup(full);
		na[m->natt].size = (uint64_t)st.st_size;
		m->natt++;
		if (na[m->natt - 1].name == NULL || na[m->natt - 1].src_path == NULL)
			return -ENOMEM;
		return 0;
	}
	if (full != NULL && lstat(full, &st) == 0 && S_ISLNK(st.st_mode))
		reason = "symbolic link in the export, not followed";
	if ((o = json_object()) == NULL)
		return -ENOMEM;
	if (set_new(o, "name", json_string(name)) < 0 ||
	    set_new(o, "reason", json_string(reason)) < 0) {
		json_decref(o);
		return -ENOMEM;
	}
	return json_array_append_new(missing, o) == 0 ? 0 : -ENOMEM;
}

/* A name the view can show as a file: like sigtop's sanitiser, "/" and
 * control characters become "_", and "", ".", ".." get a "_" appended. */
static char *
plain_name(const char *s)
{
	size_t n = strlen(s), i;
	char *p = malloc(n + 2);

	if (p == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		p[i] = (s[i] == '/' || (unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '_' : s[i];
	p[n] = '\0';
	if (n == 0 || strcmp(p, ".") == 0 || strcmp(p, "..") == 0) {
		p[n] = '_';
		p[n + 1] = '\0';
	}
	return p;
}

/* ---- mentions: U+FFFC + ranges counted in UTF-16 code units -------------- */

struct mention {
	size_t start, len;              /* UTF-16 code units */
	const char *name;
};

static int
mention_cmp(const void *a, const void *b)
{
	const struct mention *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* Bytes of the UTF-8 sequence starting with c (1 for a stray byte). */
static size_t
u8_seqlen(unsigned char c)
{
	if (c >= 0xf0 && c < 0xf8)
		return 4;
	if (c >= 0xe0)
		return c < 0xf0 ? 3 : 1;
	if (c >= 0xc0)
		return 2;
	return 1;
}

/*
 * Advance the cursor (*i bytes, *k UTF-16 units) through s[0..len) until *k
 * reaches target.  Returns 0, or -1 when target is past the end or falls
 * inside a surrogate pair.
 */
static int
u16_seek(const char *s, size_t len, size_t *i, size_t *k, size_t target)
{
	size_t n;

	while (*k < target) {
		if (*i >= len)
			return -1;
		n = u8_seqlen((unsigned char)s[*i]);
		if (*i + n > len)
			n = len - *i;
		*k += n == 4 ? 2 : 1;
		*i += n;
	}
	return *k == target ? 0 : -1;
}

/* The display name of a mentioned service id. */
static const char *
aci_name(const struct sig *s, const char *aci, char *key, size_t keylen)
{
	const char *v;
	size_t i;

	if (aci == NULL || *aci == '\0')
		return NULL;
	snprintf(key, keylen, "aci:%s", aci);
	for (i = 4; key[i] != '\0'; i++)
		key[i] = (char)tolower((unsigned char)key[i]);
	v = smap_val(&s->names, key);
	return v;
}

/*
 * body with every mention range replaced by "@Name" (name: the range's
 * replacementText, else the name learnt for its service id, else the id).
 * Ranges that do not fit the text leave the body as it is.  Style ranges
 * (bold…) are ignored.  Returns a malloc'd string or NULL (no memory).
 */
static char *
render_mentions(const struct sig *s, const char *body, size_t blen, json_t *ranges)
{
	struct mention *mv = NULL;
	char key[160], *out = NULL, *p;
	size_t n = 0, i, cap = 0, bi = 0, bk = 0, from, total;
	json_t *r;

	if (json_is_array(ranges) && json_array_size(ranges) > 0) {
		mv = calloc(json_array_size(ranges), sizeof(*mv));
		if (mv == NULL)
			return NULL;
		json_array_foreach(ranges, i, r) {
			const char *aci = json_string_value(json_object_get(r, "mentionAci"));
			const char *repl = json_string_value(json_object_get(r, "replacementText"));
			json_t *st = json_object_get(r, "start"), *ln = json_object_get(r, "length");

			if (aci == NULL)
				aci = json_string_value(json_object_get(r, "mentionUuid"));
			if (aci == NULL)
				continue;       /* a style range */
			if (!json_is_integer(st) || !json_is_integer(ln) ||
			    json_integer_value(st) < 0 || json_integer_value(ln) < 0 ||
			    json_integer_value(st) > (json_int_t)blen * 2 ||
			    json_integer_value(ln) > (json_int_t)blen * 2)
				goto asis;
			mv[n].start = (size_t)json_integer_value(st);
			mv[n].len = (size_t)json_integer_value(ln);
			if (repl != NULL && *repl != '\0')
				mv[n].name = repl;
			else if ((mv[n].name = aci_name(s, aci, key, sizeof key)) == NULL)
				mv[n].name = aci;
			/* names held in the tree or the map: stable until we return */
			n++;
		}
	}
	if (n == 0)
		goto asis;
	qsort(mv, n, sizeof(*mv), mention_cmp);
	total = blen + 1;
	for (i = 0; i < n; i++)
		total += strlen(mv[i].name) + 1;
	cap = total;
	if ((out = malloc(cap)) == NULL)
		goto out;
	p = out;
	for (i = 0; i < n; i++) {
		from = bi;
		if (u16_seek(body, blen, &bi, &bk, mv[i].start) < 0)
			goto asis_free;
		memcpy(p, body + from, bi - from);
		p += bi - from;
		*p++ = '@';
		memcpy(p, mv[i].name, strlen(mv[i].name));
		p += strlen(mv[i].name);
		if (u16_seek(body, blen, &bi, &bk, mv[i].start + mv[i].len) < 0)
			goto asis_free;
	}
	memcpy(p, body + bi, blen - bi);
	p += blen - bi;
	*p = '\0';
	goto out;
asis_free:
	cf_wipe(out, cap);
	free(out);
asis:
	out = cf_memdup_str(body, blen);
out:
	free(mv);
	return out;
}

/* A JSON string member's text rendered with its sibling "bodyRanges". */
static char *
render_body(const struct sig *s, json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_string(v))
		return strdup("");
	return render_mentions(s, json_string_value(v), json_string_length(v),
	    json_object_get(obj, "bodyRanges"));
}

/* ---- sigtop: conversation files ----------------------------------------- */

struct conv {
	const char *file;               /* the .json file */
	char *stem;                     /* file name without ".json" */
	char *title;                    /* stem without its " (detail)" */
	char *detail;                   /* "+phone", "group", username, id, or NULL */
	char *attdir;                   /* folder export-attachments made */
	int direct;                     /* a contact's conversation */
	int learn;                      /* first pass: learn names */
	char *self_ids[2];              /* first pass: the account's ids */
};

static void
conv_free(struct conv *c)
{
	free(c->stem);
	free(c->title);
	free(c->detail);
	free(c->attdir);
	free(c->self_ids[0]);
	free(c->self_ids[1]);
	memset(c, 0, sizeof(*c));
}

static int
uuid_like(const char *s)
{
	size_t i;

	if (strlen(s) != 36)
		return 0;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)s[i])) {
			return 0;
		}
	}
	return 1;
}

/* A Signal username: "name.NN". */
static int
username_like(const char *s)
{
	const char *dot = strrchr(s, '.');
	const char *p;

	if (dot == NULL || dot == s || dot[1] == '\0' || strchr(s, ' ') != NULL)
		return 0;
	for (p = dot + 1; *p != '\0'; p++)
		if (!isdigit((unsigned char)*p))
			return 0;
	return 1;
}

/* Split "Alice (+3161234)" into title and detail, the way sigtop named the
 * file; a stem without a recognisable detail is the title. */
static int
conv_init(struct conv *c, const char *file)
{
	const char *base = base_name(file), *open;
	size_t n = strlen(base), dl;
	char *dir;
	int rc;

	memset(c, 0, sizeof(*c));
	c->file = file;
	if (has_suffix(base, ".json"))
		n -= 5;
	if ((c->stem = cf_memdup_str(base, n)) == NULL)
		return -ENOMEM;
	open = n >= 4 && c->stem[n - 1] == ')' ? strstr(c->stem, " (") : NULL;
	while (open != NULL && strstr(open + 2, " (") != NULL)
		open = strstr(open + 2, " (");          /* the last " (" */
	if (open != NULL && open > c->stem) {
		dl = (size_t)(c->stem + n - 1 - (open + 2));
		if ((c->detail = cf_memdup_str(open + 2, dl)) == NULL)
			return -ENOMEM;
		if (strcmp(c->detail, "group") == 0 || (c->detail[0] == '+' && dl > 1) ||
		    uuid_like(c->detail) || username_like(c->detail)) {
			c->title = cf_memdup_str(c->stem, (size_t)(open - c->stem));
			c->direct = strcmp(c->detail, "group") != 0;
		} else {
			free(c->detail);
			c->detail = NULL;
		}
	}
	if (c->title == NULL && (c->title = strdup(c->stem)) == NULL)
		return -ENOMEM;
	if ((dir = parent_dir(file)) == NULL)
		return -ENOMEM;
	rc = asprintf(&c->attdir, "%s/%s", dir, c->stem) < 0 ? -ENOMEM : 0;
	if (rc < 0)
		c->attdir = NULL;
	free(dir);
	return rc;
}

/* The name learnt for an identity ("aci:"/"tel:"/"cid:"), or NULL. */
static const char *
name_of(const struct sig *s, const char *prefix, const char *id)
{
	char key[256];
	size_t i, p = strlen(prefix);

	if (id == NULL || *id == '\0' || strlen(id) + p >= sizeof key)
		return NULL;
	memcpy(key, prefix, p);
	memcpy(key + p, id, strlen(id) + 1);
	if (strcmp(prefix, "aci:") == 0)
		for (i = p; key[i] != '\0'; i++)
			key[i] = (char)tolower((unsigned char)key[i]);
	return smap_val(&s->names, key);
}

static int
name_learn(struct sig *s, const char *prefix, const char *id, const char *name)
{
	char key[256];
	size_t i, p = strlen(prefix);

	if (id == NULL || *id == '\0' || strlen(id) + p >= sizeof key)
		return 0;
	memcpy(key, prefix, p);
	memcpy(key + p, id, strlen(id) + 1);
	if (strcmp(prefix, "aci:") == 0)
		for (i = p; key[i] != '\0'; i++)
			key[i] = (char)tolower((unsigned char)key[i]);
	return smap_set(&s->names, key, name, 1);
}

static const char *
msg_aci(json_t *m)
{
	const char *v = json_string_value(json_object_get(m, "sourceServiceId"));

	return v != NULL ? v : json_string_value(json_object_get(m, "sourceUuid"));
}

/* Sender of an incoming message. */
static const char *
incoming_sender(const struct sig *s, const struct conv *c, json_t *m)
{
	const char *aci = msg_aci(m), *tel = json_string_value(json_object_get(m, "source"));
	const char *v;

	if (c->direct)
		return c->title;
	if ((v = name_of(s, "aci:", aci)) != NULL || (v = name_of(s, "tel:", tel)) != NULL)
		return v;
	if (tel != NULL && *tel != '\0')
		return tel;
	if (aci != NULL && *aci != '\0')
		return aci;
	return "Unknown";
}

/* An integer member (a real with an integral value is accepted).  Returns
 * 1 found, 0 absent or null, -1 wrong type. */
static int
get_int(json_t *obj, const char *key, int64_t *out)
{
	json_t *v = json_object_get(obj, key);
	double d;

	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		*out = (int64_t)json_integer_value(v);
		return 1;
	}
	if (json_is_real(v)) {
		d = json_real_value(v);
		if (d >= -9.2e18 && d <= 9.2e18 && d == (double)(int64_t)d) {
			*out = (int64_t)d;
			return 1;
		}
	}
	return -1;
}

/* Remove every "localKey" (attachment decryption keys of Signal Desktop's
 * own encrypted files: no part of the conversation) from a copied tree. */
static void
strip_keys(json_t *j)
{
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_object(j)) {
		if (json_object_get(j, "localKey") != NULL) {
			(void)json_object_del(j, "localKey");
		}
		json_object_foreach(j, key, v)
			strip_keys(v);
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			strip_keys(v);
	}
}

/* File-name extension sigtop would pick for a content type. */
static const char *
mime_ext(const char *ct)
{
	static const char *const tab[][2] = {
		{ "image/jpeg", ".jpg" }, { "image/png", ".png" }, { "image/gif", ".gif" },
		{ "image/webp", ".webp" }, { "image/heic", ".heic" }, { "image/bmp", ".bmp" },
		{ "video/mp4", ".mp4" }, { "video/quicktime", ".mov" }, { "video/webm", ".webm" },
		{ "audio/aac", ".aac" }, { "audio/mpeg", ".mp3" }, { "audio/ogg", ".ogg" },
		{ "audio/mp4", ".m4a" }, { "audio/x-m4a", ".m4a" }, { "audio/wav", ".wav" },
		{ "application/pdf", ".pdf" }, { "application/zip", ".zip" },
		{ "text/plain", ".txt" }, { "text/x-signal-plain", ".txt" },
		{ "text/x-vcard", ".vcf" }, { "text/vcard", ".vcf" },
	};
	size_t i;

	if (ct == NULL)
		return NULL;
	for (i = 0; i < sizeof tab / sizeof tab[0]; i++)
		if (strcasecmp(ct, tab[i][0]) == 0)
			return tab[i][1];
	return NULL;
}

/*
 * Where export-attachments put the attachment: "<attdir>/<fileName>", the
 * n-th file of that name as "<stem>-<n><ext>"; without a file name,
 * "attachment-<local sent time><ext>".  *name gets the display name.
 */
static int
sigtop_att_path(struct sig *s, const struct conv *c, json_t *a, int64_t sent, char **full,
    char **name)
{
	const char *fn = json_string_value(json_object_get(a, "fileName"));
	const char *ext;
	struct smap_ent *e;
	char gen[96], *file = NULL, *dot;
	struct tm tm;
	int rc = 0;

	*full = NULL;
	*name = NULL;
	if (fn != NULL && *fn != '\0') {
		if ((*name = plain_name(fn)) == NULL)
			return -ENOMEM;
	} else {
		ext = mime_ext(json_string_value(json_object_get(a, "contentType")));
		if (cf_localtime(sent, s->zone, &tm) < 0 ||
		    strftime(gen, sizeof gen - 8, "attachment-%Y-%m-%d-%H-%M-%S", &tm) == 0)
			snprintf(gen, sizeof gen - 8, "attachment");
		strcat(gen, ext != NULL ? ext : "");
		if ((*name = strdup(gen)) == NULL)
			return -ENOMEM;
		if (ext == NULL)
			return 0;               /* cannot tell the file */
	}
	if ((e = smap_get(&s->attnames, *name)) == NULL)
		return -ENOMEM;
	if (e->n++ == 0) {
		file = strdup(*name);
	} else {
		dot = strrchr(*name, '.');
		if (dot == NULL)
			dot = *name + strlen(*name);
		if (asprintf(&file, "%.*s-%" PRIu64 "%s", (int)(dot - *name), *name, e->n, dot) < 0)
			file = NULL;
	}
	if (file == NULL)
		return -ENOMEM;
	if (asprintf(full, "%s/%s", c->attdir, file) < 0) {
		*full = NULL;
		rc = -ENOMEM;
	}
	free(file);
	return rc;
}

static int
sigtop_attachments(struct sig *s, const struct conv *c, json_t *m, int64_t sent,
    struct cf_msg *out, json_t *missing)
{
	json_t *arr = json_object_get(m, "attachments"), *a;
	char *full, *name;
	const char *reason;
	size_t i;
	int rc;

	if (!json_is_array(arr))
		return 0;
	json_array_foreach(arr, i, a) {
		if (!json_is_object(a))
			continue;
		full = name = NULL;
		if (json_is_true(json_object_get(a, "pending"))) {
			/* never downloaded: export-attachments skipped it */
			const char *fn = json_string_value(json_object_get(a, "fileName"));

			name = plain_name(fn != NULL ? fn : "attachment");
			rc = name == NULL ? -ENOMEM : 0;
			reason = "not downloaded by Signal Desktop";
		} else {
			rc = sigtop_att_path(s, c, a, sent, &full, &name);
			reason = "not exported";
		}
		if (rc == 0)
			rc = attach_one(full, name, reason, out, missing);
		free(full);
		free(name);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Body of a call-history event. */
static char *
call_text(json_t *m)
{
	json_t *d = json_object_get(m, "callHistoryDetails");
	const char *dir = json_string_value(json_object_get(d, "direction"));
	const char *type = json_string_value(json_object_get(d, "type"));
	const char *status = json_string_value(json_object_get(d, "status"));
	const char *mode = json_string_value(json_object_get(d, "callMode"));
	const char *media;
	char buf[128];

	if (!json_is_object(d))
		return strdup("Call");
	if (mode != NULL && strcmp(mode, "Group") == 0)
		return strdup("Group call");
	if (dir != NULL) {
		media = type != NULL && strcasecmp(type, "Video") == 0 ? "video" :
		    type != NULL && strcasecmp(type, "Group") == 0 ? "group" : "voice";
		if (status != NULL && strcmp(status, "Missed") == 0)
			snprintf(buf, sizeof buf, "Missed %s call", media);
		else if (status != NULL && *status != '\0')
			snprintf(buf, sizeof buf, "%s %s call (%s)", dir, media, status);
		else
			snprintf(buf, sizeof buf, "%s %s call", dir, media);
		return strdup(buf);
	}
	media = json_is_true(json_object_get(d, "wasVideoCall")) ? "video" : "voice";
	if (json_is_true(json_object_get(d, "wasIncoming"))) {
		if (json_is_true(json_object_get(d, "wasDeclined")))
			snprintf(buf, sizeof buf, "Declined %s call", media);
		else if (json_object_get(d, "acceptedTime") == NULL ||
		    json_is_null(json_object_get(d, "acceptedTime")))
			snprintf(buf, sizeof buf, "Missed %s call", media);
		else
			snprintf(buf, sizeof buf, "Incoming %s call", media);
	} else {
		snprintf(buf, sizeof buf, "Outgoing %s call", media);
	}
	return strdup(buf);
}

/* Body of a group-v2-change event: its changes, one phrase each. */
static char *
group_change_text(json_t *m)
{
	json_t *det = json_object_get(json_object_get(m, "groupV2Change"), "details"), *d;
	char *out = NULL, *next;
	const char *t, *phrase, *title;
	size_t i;

	if (!json_is_array(det) || json_array_size(det) == 0)
		return strdup("Group updated");
	json_array_foreach(det, i, d) {
		t = json_string_value(json_object_get(d, "type"));
		title = json_string_value(json_object_get(d, "newTitle"));
		phrase = t == NULL ? "group updated" :
		    strcmp(t, "create") == 0 ? "Group created" :
		    strcmp(t, "title") == 0 ? (title != NULL ? NULL : "Group name removed") :
		    strcmp(t, "avatar") == 0 ? "Group avatar changed" :
		    strcmp(t, "description") == 0 ? "Group description changed" :
		    strcmp(t, "member-add") == 0 ? "Member added" :
		    strcmp(t, "member-add-from-invite") == 0 ? "Member joined from invite" :
		    strcmp(t, "member-add-from-link") == 0 ? "Member joined from link" :
		    strcmp(t, "member-remove") == 0 ? "Member removed" :
		    strcmp(t, "member-privilege") == 0 ? "Member role changed" :
		    strcmp(t, "pending-add-one") == 0 ? "Member invited" :
		    strcmp(t, "group-link-add") == 0 ? "Group link turned on" :
		    strcmp(t, "group-link-remove") == 0 ? "Group link turned off" : t;
		if (phrase == NULL) {
			if (asprintf(&next, "%s%sGroup name changed to \"%s\"", out != NULL ? out : "",
			    out != NULL ? "; " : "", title) < 0)
				next = NULL;
		} else if (asprintf(&next, "%s%s%s", out != NULL ? out : "", out != NULL ? "; " : "",
		    phrase) < 0) {
			next = NULL;
		}
		cf_free_wiped(out);
		if ((out = next) == NULL)
			return NULL;
	}
	return out;
}

/* Body of a non-chat message type (English, like Signal's own labels). */
static char *
system_text(const struct sig *s, json_t *m, const char *type)
{
	json_t *v;
	int64_t secs = 0;
	char buf[256], *p;
	const char *a, *b;

	if (strcmp(type, "group-v2-change") == 0)
		return group_change_text(m);
	if (strcmp(type, "timer-notification") == 0 ||
	    strcmp(type, "universal-timer-notification") == 0) {
		v = json_object_get(m, "expirationTimerUpdate");
		if (get_int(v, "expireTimer", &secs) == 1 && secs > 0)
			snprintf(buf, sizeof buf, "Disappearing message time set to %" PRId64
			    " seconds", secs);
		else if (json_is_object(v))
			snprintf(buf, sizeof buf, "Disappearing messages disabled");
		else
			snprintf(buf, sizeof buf, "Disappearing message timer changed");
		return strdup(buf);
	}
	if (strcmp(type, "keychange") == 0)
		return strdup("Safety number changed");
	if (strcmp(type, "verified-change") == 0)
		return strdup(json_is_true(json_object_get(m, "verified")) ?
		    "Marked as verified" : "Marked as not verified");
	if (strcmp(type, "profile-change") == 0) {
		v = json_object_get(m, "profileChange");
		a = json_string_value(json_object_get(v, "oldName"));
		b = json_string_value(json_object_get(v, "newName"));
		if (a != NULL && b != NULL) {
			if (asprintf(&p, "%s changed their name to %s", a, b) < 0)
				return NULL;
			return p;
		}
		return strdup("Profile changed");
	}
	if (strcmp(type, "change-number-notification") == 0)
		return strdup("Phone number changed");
	if (strcmp(type, "chat-session-refreshed") == 0)
		return strdup("Chat session refreshed");
	if (strcmp(type, "delivery-issue") == 0)
		return strdup("A message could not be delivered");
	if (strcmp(type, "joined-signal-notification") == 0)
		return strdup("Joined Signal");
	(void)s;
	/* unknown: the type itself, "title-transition-notification" ->
	 * "title transition notification" */
	if ((p = strdup(type)) == NULL)
		return NULL;
	for (a = p; *a != '\0'; a++)
		if (*a == '-' || *a == '_')
			p[a - p] = ' ';
	return p;
}

/* extra.quote and extra.reply_to of a message quoting another. */
static int
sigtop_quote(struct sig *s, json_t *q, json_t *extra)
{
	json_t *qo = NULL, *names = NULL, *a;
	const char *author, *idv;
	char num[32], *text = NULL;
	int64_t qid = 0;
	size_t i;
	int rc = -ENOMEM, has_id;

	if (!json_is_object(q))
		return 0;
	has_id = get_int(q, "id", &qid) == 1;
	if (has_id) {
		snprintf(num, sizeof num, "%" PRId64, qid);
		idv = smap_val(&s->sent, num);
		if (set_new(extra, "reply_to", json_string(idv != NULL ? idv : num)) < 0)
			goto out;
	}
	author = json_string_value(json_object_get(q, "authorAci"));
	if (author == NULL)
		author = json_string_value(json_object_get(q, "authorUuid"));
	if (author != NULL)
		author = name_of(s, "aci:", author) != NULL ? name_of(s, "aci:", author) : author;
	if (author == NULL && (author = json_string_value(json_object_get(q, "author"))) != NULL)
		author = name_of(s, "tel:", author) != NULL ? name_of(s, "tel:", author) : author;
	if ((qo = json_object()) == NULL || (text = render_body(s, q, "text")) == NULL)
		goto out;
	if (has_id && set_new(qo, "id", json_integer(qid)) < 0)
		goto out;
	if (author != NULL && set_new(qo, "author", json_string(author)) < 0)
		goto out;
	if (set_new(qo, "text", json_string(text)) < 0)
		goto out;
	if (json_array_size(json_object_get(q, "attachments")) > 0) {
		if ((names = json_array()) == NULL)
			goto out;
		json_array_foreach(json_object_get(q, "attachments"), i, a) {
			const char *fn = json_string_value(json_object_get(a, "fileName"));
			const char *ct = json_string_value(json_object_get(a, "contentType"));

			if (json_array_append_new(names, json_string(fn != NULL ? fn :
			    ct != NULL ? ct : "attachment")) != 0)
				goto out;
		}
		rc = json_object_set_new(qo, "attachments", names);
		names = NULL;
		if (rc != 0) {
			rc = -ENOMEM;
			goto out;
		}
	}
	rc = json_object_set_new(extra, "quote", qo) == 0 ? 0 : -ENOMEM;
	qo = NULL;
out:
	json_decref(names);
	json_decref(qo);
	cf_free_wiped(text);
	return rc;
}

static int
sigtop_reactions(const struct sig *s, json_t *m, json_t *extra)
{
	json_t *arr = json_object_get(m, "reactions"), *r, *out;
	const char *emoji, *from, *by;
	size_t i;
	int rc;

	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return 0;
	if ((out = json_array()) == NULL)
		return -ENOMEM;
	json_array_foreach(arr, i, r) {
		emoji = json_string_value(json_object_get(r, "emoji"));
		if (emoji == NULL || json_is_true(json_object_get(r, "remove")))
			continue;
		from = json_string_value(json_object_get(r, "fromId"));
		by = name_of(s, "cid:", from);
		if (by == NULL)
			by = name_of(s, "aci:", json_string_value(json_object_get(r, "source")));
		if (by == NULL)
			by = from != NULL ? from : "Unknown";
		if ((rc = reaction_add(out, emoji, by)) < 0) {
			json_decref(out);
			return rc;
		}
	}
	if (json_array_size(out) == 0) {
		json_decref(out);
		return 0;
	}
	return json_object_set_new(extra, "reactions", out) == 0 ? 0 : -ENOMEM;
}

static int
version_cmp(const void *a, const void *b)
{
	const int64_t *x = a, *y = b;

	return x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : (x[1] > y[1]) - (x[1] < y[1]);
}

/* extra.edits: every earlier version, oldest first (sigtop's editHistory
 * lists the versions newest first, the current one included). */
static int
sigtop_edits(const struct sig *s, json_t *m, const char *body, json_t *extra)
{
	json_t *hist = json_object_get(m, "editHistory"), *ed = NULL, *e, *o;
	int64_t (*ord)[2] = NULL;
	size_t n, i, k, last;
	char *text;
	int rc = -ENOMEM;

	if (!json_is_array(hist) || (n = json_array_size(hist)) == 0)
		return 0;
	/* (timestamp, position) pairs sorted: oldest first, stable */
	if ((ord = calloc(n, sizeof(*ord))) == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		ord[i][0] = 0;
		(void)get_int(json_array_get(hist, i), "timestamp", &ord[i][0]);
		ord[i][1] = -(int64_t)i;        /* equal times: later in list = older */
	}
	qsort(ord, n, sizeof(*ord), version_cmp);
	if ((ed = json_array()) == NULL)
		goto out;
	last = n;
	/* the newest version is the current body: not an "earlier" one */
	text = render_body(s, json_array_get(hist, (size_t)-ord[n - 1][1]), "body");
	if (text == NULL)
		goto out;
	if (strcmp(text, body) == 0)
		last = n - 1;
	cf_free_wiped(text);
	for (k = 0; k < last; k++) {
		e = json_array_get(hist, (size_t)-ord[k][1]);
		if ((text = render_body(s, e, "body")) == NULL)
			goto out;
		o = json_object();
		if (o == NULL || set_new(o, "ts", json_integer(ord[k][0])) < 0 ||
		    set_new(o, "body", json_string(text)) < 0 ||
		    json_array_append_new(ed, o) != 0) {
			cf_free_wiped(text);
			goto out;
		}
		cf_free_wiped(text);
	}
	rc = 0;
	if (json_array_size(ed) > 0) {
		rc = json_object_set_new(extra, "edits", ed) == 0 ? 0 : -ENOMEM;
		ed = NULL;
	}
out:
	json_decref(ed);
	free(ord);
	return rc;
}

/* The first pass: which ids belong to this file's contact (see conv). */
static int
sigtop_learn(struct sig *s, struct conv *c, json_t *m)
{
	const char *type = json_string_value(json_object_get(m, "type"));
	const char *cid = json_string_value(json_object_get(m, "conversationId"));
	const char *aci = msg_aci(m), *tel = json_string_value(json_object_get(m, "source"));
	int rc = 0;

	if (cid != NULL && (rc = name_learn(s, "cid:", cid, c->title)) < 0)
		return rc;
	if (type != NULL && strcmp(type, "outgoing") == 0) {
		if ((rc = name_learn(s, "aci:", aci, SIG_SELF)) < 0 ||
		    (rc = name_learn(s, "tel:", tel, SIG_SELF)) < 0)
			return rc;
		return 0;
	}
	if (!c->direct || type == NULL || strcmp(type, "incoming") != 0)
		return 0;
	if ((rc = name_learn(s, "aci:", aci, c->title)) < 0 ||
	    (rc = name_learn(s, "tel:", tel, c->title)) < 0)
		return rc;
	return 0;
}

/* Convert element idx of c's array into a message and add it. */
static int
sigtop_message(struct sig *s, struct conv *c, size_t idx, unsigned long line, json_t *m)
{
	struct cf_msg msg;
	json_t *extra = NULL, *missing = NULL, *src = NULL, *v;
	const char *type, *chat, *kind = NULL, *tsfield;
	char num[32];
	int64_t ts = 0;
	int rc, g, system = 0;

	memset(&msg, 0, sizeof msg);
	if (!json_is_object(m))
		return sig_fail(c->file, line, "[%zu]: not a JSON object", idx);
	v = json_object_get(m, "type");
	if (v != NULL && !json_is_null(v) && !json_is_string(v))
		return sig_fail(c->file, line, "[%zu].type: must be a string", idx);
	type = json_is_string(v) ? json_string_value(v) : "incoming";
	v = json_object_get(m, "body");
	if (v != NULL && !json_is_null(v) && !json_is_string(v))
		return sig_fail(c->file, line, "[%zu].body: must be a string", idx);
	v = json_object_get(m, "conversationId");
	if (v != NULL && !json_is_null(v) && !json_is_string(v))
		return sig_fail(c->file, line, "[%zu].conversationId: must be a string", idx);
	chat = json_is_string(v) && json_string_length(v) > 0 ? json_string_value(v) : c->stem;

	/* time: sent_at, as Signal shows it; older objects may lack it */
	tsfield = "sent_at";
	if ((g = get_int(m, "sent_at", &ts)) == 0 &&
	    (g = get_int(m, (tsfield = "timestamp"), &ts)) == 0 &&
	    (g = get_int(m, (tsfield = "serverTimestamp"), &ts)) == 0 &&
	    (g = get_int(m, (tsfield = "received_at_ms"), &ts)) == 0)
		return sig_fail(c->file, line, "[%zu]: missing \"sent_at\"", idx);
	if (g < 0)
		return sig_fail(c->file, line, "[%zu].%s: must be an integer", idx, tsfield);
	if (c->learn)
		return sigtop_learn(s, c, m) < 0 ? sig_nomem(c->file) : 0;

	rc = -ENOMEM;
	snprintf(num, sizeof num, "%" PRId64, ts);
	msg.ts_ms = ts;
	if ((msg.ts_raw = strdup(num)) == NULL)
		goto out;
	v = json_object_get(m, "id");
	if (json_is_string(v) && json_string_length(v) > 0)
		msg.id = strdup(json_string_value(v));
	else if (json_is_integer(v) && asprintf(&msg.id, "%" JSON_INTEGER_FORMAT,
	    json_integer_value(v)) < 0)
		msg.id = NULL;
	else if (!json_is_integer(v))
		msg.id = strdup(num);
	if (msg.id == NULL || (extra = json_object()) == NULL || (missing = json_array()) == NULL)
		goto out;
	if (get_int(m, "sent_at", &ts) == 1 && smap_set(&s->sent, num, msg.id, 1) < 0)
		goto out;

	if (strcmp(type, "incoming") == 0 || strcmp(type, "outgoing") == 0) {
		msg.sender = strdup(strcmp(type, "outgoing") == 0 ? SIG_SELF :
		    incoming_sender(s, c, m));
		if (msg.sender == NULL || (msg.body = render_body(s, m, "body")) == NULL)
			goto out;
	} else if (strcmp(type, "call-history") == 0) {
		kind = "call";
		if ((msg.body = call_text(m)) == NULL)
			goto out;
	} else {
		kind = "system";
		system = 1;
		if ((msg.body = system_text(s, m, type)) == NULL)
			goto out;
	}
	if (json_is_true(json_object_get(m, "deletedForEveryone"))) {
		kind = "deleted";
		cf_free_wiped(msg.body);
		if ((msg.body = strdup("This message was deleted.")) == NULL)
			goto out;
	} else if (json_is_object(json_object_get(m, "sticker"))) {
		const char *emoji = json_string_value(json_object_get(json_object_get(m,
		    "sticker"), "emoji"));

		kind = "sticker";
		if (msg.body[0] == '\0') {
			free(msg.body);
			if ((msg.body = strdup(emoji != NULL ? emoji : "[sticker]")) == NULL)
				goto out;
		}
	}
	if (kind != NULL && set_new(extra, "kind", json_string(kind)) < 0)
		goto out;
	if (system && set_new(extra, "signal_type", json_string(type)) < 0)
		goto out;
	if ((rc = sigtop_quote(s, json_object_get(m, "quote"), extra)) < 0 ||
	    (rc = sigtop_edits(s, m, msg.body, extra)) < 0 ||
	    (rc = sigtop_reactions(s, m, extra)) < 0 ||
	    (rc = sigtop_attachments(s, c, m, msg.ts_ms, &msg, missing)) < 0)
		goto out;
	rc = -ENOMEM;
	if (json_array_size(missing) > 0 &&
	    json_object_set(extra, "missing_attachments", missing) != 0)
		goto out;
	if ((src = json_deep_copy(m)) == NULL)
		goto out;
	strip_keys(src);
	if (json_object_set_new(extra, "source", src) != 0)
		goto out;
	if ((rc = dump_extra(extra, &msg.extra)) < 0)
		goto out;
	rc = sig_add(s, chat, c->title, &msg);  /* reports */
	goto done;
out:
	if (rc == -ENOMEM)
		cf_error("%s: %s", c->file, strerror(ENOMEM));
done:
	cf_msg_clear(&msg);
	json_decref(extra);
	json_decref(missing);
	return rc;
}

/* jansson reads one byte at a time so that the stream stays right after
 * each element (JSON_DISABLE_EOF_CHECK stops there). */
struct jreader {
	FILE *f;
	unsigned long line;
	int err;
};

static size_t
jreader_get(void *buf, size_t len, void *arg)
{
	struct jreader *r = arg;
	int ch;

	if (len == 0)
		return 0;
	ch = getc_unlocked(r->f);
	if (ch == EOF) {
		if (ferror(r->f)) {
			r->err = EIO;
			return (size_t)-1;
		}
		return 0;
	}
	if (ch == '\n')
		r->line++;
	*(unsigned char *)buf = (unsigned char)ch;
	return 1;
}

/* The next byte that is not JSON white space (EOF at the end). */
static int
jreader_skip_ws(struct jreader *r)
{
	int ch;

	for (;;) {
		ch = getc_unlocked(r->f);
		if (ch == '\n')
			r->line++;
		if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n')
			return ch;
	}
}

/* jansson's message without the " near '<token>'" part (content). */
static void
json_reason(const json_error_t *e, char *why, size_t whylen)
{
	char text[JSON_ERROR_TEXT_LENGTH];
	char *near;

	snprintf(text, sizeof text, "%s", e->text);
	near = strstr(text, " near ");
	if (near != NULL)
		*near = '\0';
	snprintf(why, whylen, "invalid JSON: %s", text);
	cf_wipe(text, sizeof text);
}

/* Stream c->file's array through sigtop_message. */
static int
sigtop_file(struct sig *s, struct conv *c)
{
	struct jreader r = { NULL, 1, 0 };
	json_error_t jerr;
	json_t *el;
	char *iobuf = NULL;
	size_t idx = 0;
	int fd, ch, rc;

	fd = open(c->file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		cf_error("%s: %s", c->file, rc == -ELOOP ? "is a symbolic link" : strerror(-rc));
		return rc;
	}
	if ((r.f = fdopen(fd, "r")) == NULL) {
		rc = -errno;
		(void)close(fd);
		cf_error("%s: %s", c->file, strerror(-rc));
		return rc;
	}
	if ((iobuf = malloc(BUFSIZ)) == NULL || setvbuf(r.f, iobuf, _IOFBF, BUFSIZ) != 0) {
		rc = sig_nomem(c->file);
		goto out;
	}
	ch = jreader_skip_ws(&r);
	if (ch == 0xef && getc_unlocked(r.f) == 0xbb && getc_unlocked(r.f) == 0xbf)
		ch = jreader_skip_ws(&r);
	if (ch != '[') {
		rc = sig_fail(c->file, r.line, "not a sigtop JSON export (expected a JSON array)");
		goto out;
	}
	ch = jreader_skip_ws(&r);
	if (ch == ']')
		goto end;
	if (ch == EOF) {
		rc = sig_fail(c->file, r.line, "[0]: truncated JSON");
		goto out;
	}
	if (ungetc(ch, r.f) == EOF) {
		rc = -EIO;
		cf_error("%s: %s", c->file, strerror(EIO));
		goto out;
	}
	for (;;) {
		el = json_load_callback(jreader_get, &r, JSON_DISABLE_EOF_CHECK, &jerr);
		if (el == NULL) {
			if (json_error_code(&jerr) == json_error_out_of_memory) {
				rc = sig_nomem(c->file);
			} else if (r.err != 0) {
				rc = -r.err;
				cf_error("%s: %s", c->file, strerror(r.err));
			} else if (feof(r.f)) {
				rc = sig_fail(c->file, r.line, "[%zu]: truncated JSON", idx);
			} else {
				json_reason(&jerr, s->why, sizeof s->why);
				rc = sig_fail(c->file, r.line, "[%zu]: %s", idx, s->why);
			}
			cf_wipe(&jerr, sizeof jerr);
			goto out;
		}
		rc = sigtop_message(s, c, idx, r.line, el);
		json_decref(el);
		if (rc < 0)
			goto out;
		idx++;
		ch = jreader_skip_ws(&r);
		if (ch == ']')
			break;
		if (ch != ',') {
			rc = sig_fail(c->file, r.line, ch == EOF ?
			    "truncated JSON: missing ']' after [%zu]" :
			    "invalid JSON: expected ',' or ']' after [%zu]", idx - 1);
			goto out;
		}
	}
end:
	if (jreader_skip_ws(&r) != EOF) {
		rc = sig_fail(c->file, r.line, "invalid JSON: data after the array");
		goto out;
	}
	if (ferror(r.f)) {
		rc = -EIO;
		cf_error("%s: %s", c->file, strerror(EIO));
		goto out;
	}
	rc = 0;
out:
	(void)fclose(r.f);      /* read-only */
	if (iobuf != NULL) {
		cf_wipe(iobuf, BUFSIZ);
		free(iobuf);
	}
	return rc;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of dir accepted by want(), full paths, sorted. */
static int
list_dir(const char *dir, int (*want)(const char *dir, const char *name), char ***out,
    size_t *n)
{
	struct dirent *de;
	char **v = NULL, **nv, *p;
	size_t cnt = 0;
	DIR *d;
	int rc = 0;

	*out = NULL;
	*n = 0;
	if ((d = opendir(dir)) == NULL) {
		rc = -errno;
		cf_error("%s: %s", dir, strerror(-rc));
		return rc;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0) {
				rc = -errno;
				cf_error("%s: %s", dir, strerror(-rc));
			}
			break;
		}
		if (de->d_name[0] == '.' || !want(dir, de->d_name))
			continue;
		if (asprintf(&p, "%s/%s", dir, de->d_name) < 0)
			p = NULL;
		if (p == NULL || (nv = realloc(v, (cnt + 1) * sizeof(*v))) == NULL) {
			free(p);
			rc = -ENOMEM;
			cf_error("%s: %s", dir, strerror(ENOMEM));
			break;
		}
		v = nv;
		v[cnt++] = p;
	}
	(void)closedir(d);
	if (rc < 0) {
		while (cnt > 0)
			free(v[--cnt]);
		free(v);
		return rc;
	}
	if (cnt > 0)
		qsort(v, cnt, sizeof(*v), name_cmp);
	*out = v;
	*n = cnt;
	return 0;
}

static void
list_free(char **v, size_t n)
{
	while (n > 0)
		free(v[--n]);
	free(v);
}

static int
want_json(const char *dir, const char *name)
{
	char p[PATH_MAX];
	struct stat st;

	return has_suffix(name, ".json") && cf_path(p, sizeof p, "%s/%s", dir, name) == 0 &&
	    is_reg_nolink(p, &st);
}

/* sigtop files (one or a folder of them): learn names, then import. */
static int
sigtop_parse(struct sig *s, char *const *files, size_t n)
{
	struct conv c;
	size_t i;
	int rc = 0, pass;

	for (pass = 0; pass < 2 && rc == 0; pass++) {
		for (i = 0; i < n && rc == 0; i++) {
			if ((rc = conv_init(&c, files[i])) < 0) {
				conv_free(&c);
				return sig_nomem(files[i]);
			}
			if (!cf_utf8_valid(c.stem, strlen(c.stem))) {
				conv_free(&c);
				return sig_fail(files[i], 0, "file name is not valid UTF-8");
			}
			c.learn = pass == 0;
			/* group files teach only conversation ids and our own */
			rc = sigtop_file(s, &c);
			conv_free(&c);
			sig_conv_reset(s);
			if (rc == 0 && pass == 1)
				rc = cf_import_maybe_flush(s->o, s->b);
		}
	}
	return rc;
}

/* ---- sigexport: data.json ------------------------------------------------ */

/* Decode the "%20" sigexport wrote for white space in media paths. */
static char *
url_spaces(const char *p)
{
	char *out = malloc(strlen(p) + 1), *o = out;

	if (out == NULL)
		return NULL;
	while (*p != '\0') {
		if (p[0] == '%' && p[1] == '2' && p[2] == '0') {
			*o++ = ' ';
			p += 3;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return out;
}

/*
 * The file a media link names, relative to the conversation folder: under
 * media/ ("./media/x", "media/x") or the sticker folder the export shares
 * ("../exported_stickers/…").  NULL with *bad set for any other path (a
 * link elsewhere is not an attachment of this export).
 */
static char *
media_path(const char *convdir, const char *link, int *bad)
{
	char *rel, *full = NULL;
	const char *p;

	*bad = 0;
	if ((rel = url_spaces(link)) == NULL)
		return NULL;
	p = rel;
	if (strncmp(p, "./", 2) == 0)
		p += 2;
	if (strncmp(p, "media/", 6) != 0 && strncmp(p, "../exported_stickers/", 21) != 0) {
		*bad = 1;
		goto out;
	}
	if (strstr(p + 3, "/../") != NULL || has_suffix(p, "/..") || strstr(p, "//") != NULL) {
		*bad = 1;
		goto out;
	}
	if (asprintf(&full, "%s/%s", convdir, p) < 0)
		full = NULL;
out:
	free(rel);
	return full;
}

/* sigexport appends two spaces to every body (markdown line break). */
static void
strip_md_spaces(char *body)
{
	size_t n = strlen(body);

	if (n >= 2 && body[n - 1] == ' ' && body[n - 2] == ' ')
		body[n - 2] = '\0';
}

/* A quote as sigexport writes it ("\n\n> line\n> line\n\n") -> its text. */
static char *
md_quote_text(const char *q)
{
	size_t n = strlen(q), i;
	char *out, *o;

	while (n > 0 && q[n - 1] == '\n')
		n--;
	while (n > 0 && *q == '\n') {
		q++;
		n--;
	}
	if ((out = malloc(n + 1)) == NULL)
		return NULL;
	o = out;
	for (i = 0; i < n; i++) {
		if ((i == 0 || q[i - 1] == '\n') && q[i] == '>') {
			if (i + 1 < n && q[i + 1] == ' ')
				i++;
			continue;
		}
		*o++ = q[i];
	}
	*o = '\0';
	return out;
}

/* Finish a sigexport message: dup number, extra, add. */
static int
export_add(struct sig *s, const char *file, const char *chat, struct cf_msg *m, json_t *extra)
{
	uint64_t dup;

	if (dup_count(s, m, &dup) < 0 ||
	    (dup > 0 && set_new(extra, "dup", json_integer((json_int_t)dup)) < 0) ||
	    dump_extra(extra, &m->extra) < 0) {
		cf_msg_clear(m);
		return sig_nomem(file);
	}
	return sig_add(s, chat, chat, m);       /* reports */
}

/* One line of data.json. */
static int
datajson_line(struct sig *s, const char *file, const char *dir, const char *chat,
    unsigned long lineno, const char *line, size_t len)
{
	struct cf_msg m;
	json_error_t jerr;
	json_t *root = NULL, *extra = NULL, *missing = NULL, *v, *a, *reac = NULL;
	const char *date, *sender, *kind = NULL, *sticker = NULL, *reason;
	char *full = NULL, *name = NULL, *q;
	int rc, had_offset = 0, bad = 0;
	size_t i;

	memset(&m, 0, sizeof m);
	root = json_loadb(line, len, 0, &jerr);
	if (root == NULL) {
		if (json_error_code(&jerr) == json_error_out_of_memory)
			return sig_nomem(file);
		json_reason(&jerr, s->why, sizeof s->why);
		cf_wipe(&jerr, sizeof jerr);
		return sig_fail(file, lineno, "%s", s->why);
	}
	rc = -EINVAL;
	if (!json_is_object(root)) {
		sig_fail(file, lineno, "not a JSON object");
		goto out;
	}
	date = json_string_value(json_object_get(root, "date"));
	if (date == NULL) {
		sig_fail(file, lineno, "\"date\" must be a string");
		goto out;
	}
	if (cf_parse_time(date, s->zone, &m.ts_ms, &had_offset) < 0) {
		sig_fail(file, lineno, "\"date\" is not an ISO 8601 date-time");
		goto out;
	}
	v = json_object_get(root, "sender");
	if (v != NULL && !json_is_null(v) && !json_is_string(v)) {
		sig_fail(file, lineno, "\"sender\" must be a string");
		goto out;
	}
	sender = json_string_length(v) > 0 ? json_string_value(v) : "Unknown";
	v = json_object_get(root, "body");
	if (v != NULL && !json_is_null(v) && !json_is_string(v)) {
		sig_fail(file, lineno, "\"body\" must be a string");
		goto out;
	}
	v = json_object_get(root, "attachments");
	if (v != NULL && !json_is_null(v) && !json_is_array(v)) {
		sig_fail(file, lineno, "\"attachments\" must be an array");
		goto out;
	}
	rc = -ENOMEM;
	if ((m.ts_raw = strdup(date)) == NULL || (m.sender = strdup(sender)) == NULL ||
	    (m.body = strdup(json_is_string(json_object_get(root, "body")) ?
	    json_string_value(json_object_get(root, "body")) : "")) == NULL)
		goto out;
	if (!had_offset && (m.tz = strdup(s->zone)) == NULL)
		goto out;
	strip_md_spaces(m.body);
	if ((extra = json_object()) == NULL || (missing = json_array()) == NULL ||
	    (reac = json_array()) == NULL)
		goto out;

	v = json_object_get(root, "sticker");
	if (json_is_string(v) && json_string_length(v) > 0)
		sticker = json_string_value(v);
	else if (json_is_object(v))
		sticker = json_string_value(json_object_get(v, "emoji"));
	if (json_is_true(json_object_get(root, "deleted")))
		kind = "deleted";
	else if (json_is_true(json_object_get(root, "call")))
		kind = "call";
	else if (sticker != NULL || json_is_object(v))
		kind = "sticker";
	if (kind != NULL && set_new(extra, "kind", json_string(kind)) < 0)
		goto out;
	if (kind != NULL && strcmp(kind, "sticker") == 0 && m.body[0] == '\0') {
		free(m.body);
		if ((m.body = strdup(sticker != NULL ? sticker : "[sticker]")) == NULL)
			goto out;
	}
	if (kind != NULL && strcmp(kind, "deleted") == 0 && m.body[0] == '\0') {
		free(m.body);
		if ((m.body = strdup("This message was deleted.")) == NULL)
			goto out;
	}
	v = json_object_get(root, "quote");
	if (json_is_string(v) && json_string_length(v) > 0) {
		json_t *qo = json_object();

		if (qo == NULL || (q = md_quote_text(json_string_value(v))) == NULL) {
			json_decref(qo);
			goto out;
		}
		rc = set_new(qo, "text", json_string(q));
		cf_free_wiped(q);
		if (rc < 0 || json_object_set_new(extra, "quote", qo) != 0) {
			rc = -ENOMEM;
			goto out;
		}
		rc = -ENOMEM;
	}
	json_array_foreach(json_object_get(root, "reactions"), i, a) {
		const char *who = NULL, *emoji = NULL;

		if (json_is_array(a)) {
			who = json_string_value(json_array_get(a, 0));
			emoji = json_string_value(json_array_get(a, 1));
		} else if (json_is_object(a)) {
			who = json_string_value(json_object_get(a, "name"));
			emoji = json_string_value(json_object_get(a, "emoji"));
		}
		if (emoji != NULL && reaction_add(reac, emoji, who != NULL ? who : "Unknown") < 0)
			goto out;
	}
	if (json_array_size(reac) > 0 && json_object_set(extra, "reactions", reac) != 0)
		goto out;
	json_array_foreach(json_object_get(root, "attachments"), i, a) {
		const char *an = json_string_value(json_object_get(a, "name"));
		const char *ap = json_string_value(json_object_get(a, "path"));
		const char *mk = json_string_value(json_object_get(a, "missing_kind"));

		if (ap == NULL && an == NULL)
			continue;
		reason = mk != NULL ? mk : "not in the export folder";
		full = NULL;
		if (ap != NULL && (full = media_path(dir, ap, &bad)) == NULL && !bad)
			goto out;
		if (bad) {
			rc = sig_fail(file, lineno, "attachments[%zu]: \"path\" is outside the "
			    "export's media folder", i);
			goto out;
		}
		if ((name = plain_name(an != NULL ? an : base_name(ap))) == NULL)
			goto out;
		rc = attach_one(full, name, reason, &m, missing);
		free(full);
		full = NULL;
		free(name);
		name = NULL;
		if (rc < 0)
			goto out;
		rc = -ENOMEM;
	}
	if (json_array_size(missing) > 0 && json_object_set(extra, "missing_attachments",
	    missing) != 0)
		goto out;
	if (json_object_set(extra, "source", root) != 0)
		goto out;
	rc = export_add(s, file, chat, &m, extra);     /* reports */
	goto done;
out:
	if (rc == -ENOMEM)
		sig_nomem(file);
done:
	free(full);
	free(name);
	cf_msg_clear(&m);
	json_decref(missing);
	json_decref(reac);
	json_decref(extra);
	json_decref(root);
	return rc;
}

/* Read path line by line; cb gets each line without its newline (and a
 * final CR).  Buffers are wiped. */
static int
read_lines(const char *path, int (*cb)(void *arg, unsigned long lineno, char *line, size_t len),
    void *arg)
{
	char *line = NULL, *iobuf = NULL;
	size_t cap = 0, skip;
	unsigned long lineno = 0;
	ssize_t n;
	FILE *f = NULL;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		cf_error("%s: %s", path, rc == -ELOOP ? "is a symbolic link" : strerror(-rc));
		return rc;
	}
	if ((f = fdopen(fd, "r")) == NULL) {
		rc = -errno;
		(void)close(fd);
		cf_error("%s: %s", path, strerror(-rc));
		return rc;
	}
	if ((iobuf = malloc(BUFSIZ)) == NULL || setvbuf(f, iobuf, _IOFBF, BUFSIZ) != 0) {
		rc = sig_nomem(path);
		goto out;
	}
	for (;;) {
		errno = 0;
		n = getline(&line, &cap, f);
		if (n < 0) {
			if (ferror(f)) {
				rc = errno != 0 ? -errno : -EIO;
				cf_error("%s: %s", path, strerror(-rc));
			}
			break;
		}
		lineno++;
		skip = 0;
		if (lineno == 1 && n >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0)
			skip = 3;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		rc = cb(arg, lineno, line + skip, (size_t)n - skip);
		cf_wipe(line, (size_t)n);
		if (rc < 0)
			break;
	}
out:
	(void)fclose(f);        /* read-only */
	if (line != NULL) {
		cf_wipe(line, cap);
		free(line);
	}
	if (iobuf != NULL) {
		cf_wipe(iobuf, BUFSIZ);
		free(iobuf);
	}
	return rc;
}

struct export_file {
	struct sig *s;
	const char *file, *dir, *chat;
	/* chat.md: the message being read */
	unsigned long start;            /* its header's line, 0: none yet */
	char ts_raw[32];
	int64_t ts;
	char *sender;
	char *text;                     /* after "Name: ", then "\n" + each line */
	size_t len, cap;
	char *src;                      /* the lines as in the file */
	size_t slen, scap;
	size_t blank_tail;              /* empty lines at the end of text */
};

static int
datajson_cb(void *arg, unsigned long lineno, char *line, size_t len)
{
	struct export_file *x = arg;
	size_t i;

	for (i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t')
			break;
	if (i == len)
		return 0;
	return datajson_line(x->s, x->file, x->dir, x->chat, lineno, line, len);
}

/* ---- sigexport: chat.md -------------------------------------------------- */

static int
digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

/*
 * A chat.md header: "[YYYY-MM-DD HH:MM:SS] Name: …" or the older
 * "[YYYY-MM-DD, HH:MM] Name: …".  Returns the length of the bracketed time
 * (without brackets) in *tlen, the sender span and the offset of the text;
 * 0 when line is not a header.
 */
static int
md_header(const char *line, size_t len, size_t *tlen, size_t *sb, size_t *se, size_t *rest)
{
	size_t p, i;

	if (len < 19 || line[0] != '[' || !digits(line + 1, 4) || line[5] != '-' ||
	    !digits(line + 6, 2) || line[8] != '-' || !digits(line + 9, 2))
		return 0;
	p = 11;
	if (line[p] == ',')
		p++;
	if (line[p] != ' ')
		return 0;
	p++;
	if (p + 5 > len || !digits(line + p, 2) || line[p + 2] != ':' || !digits(line + p + 3, 2))
		return 0;
	p += 5;
	if (p + 3 <= len && line[p] == ':' && digits(line + p + 1, 2))
		p += 3;
	if (p + 2 > len || line[p] != ']' || line[p + 1] != ' ')
		return 0;
	*tlen = p - 1;
	*sb = p + 2;
	for (i = *sb; i < len; i++) {
		if (line[i] == ':' && (i + 1 == len || line[i + 1] == ' ')) {
			if (i == *sb)
				return 0;       /* no sender */
			*se = i;
			*rest = i + 1 < len ? i + 2 : len;
			return 1;
		}
	}
	return 0;
}

/* "2019-12-24, 12:23" / "2019-12-24 12:23:05" -> ms in zone. */
static int
md_time(const char *t, size_t tlen, const char *zone, int64_t *ms)
{
	char iso[32];

	if (tlen >= sizeof iso)
		return -EINVAL;
	if (t[10] == ',')
		snprintf(iso, sizeof iso, "%.10sT%.*s", t, (int)(tlen - 12), t + 12);
	else
		snprintf(iso, sizeof iso, "%.10sT%.*s", t, (int)(tlen - 11), t + 11);
	return cf_parse_time(iso, zone, ms, NULL);
}

static int
buf_add(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	char *nb;
	size_t ncap;

	if (*len + n + 1 > *cap) {
		ncap = *cap ? *cap : 256;
		while (ncap < *len + n + 1)
			ncap *= 2;
		if ((nb = malloc(ncap)) == NULL)
			return -ENOMEM;
		/* grow by copy, so the old buffer can be wiped */
		if (*buf != NULL) {
			memcpy(nb, *buf, *len);
			cf_wipe(*buf, *cap);
			free(*buf);
		}
		*buf = nb;
		*cap = ncap;
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

static int
media_prefix(const char *p, size_t n)
{
	return (n > 8 && strncmp(p, "./media/", 8) == 0) || (n > 6 && strncmp(p, "media/", 6) == 0) ||
	    (n > 21 && strncmp(p, "../exported_stickers/", 21) == 0);
}

/*
 * One attachment token at s: "![name](path)  ", "[name](path)  " or
 * "(media not exported)  ".  Returns its length, 0 when s is not one.
 */
static size_t
md_att_token(const char *s, const char **name, size_t *nlen, const char **path, size_t *plen)
{
	const char *p = s, *mid, *end;

	if (strncmp(s, "(media not exported)  ", 22) == 0) {
		*name = NULL;
		*path = NULL;
		return 22;
	}
	if (*p == '!')
		p++;
	if (*p != '[')
		return 0;
	if ((mid = strstr(p + 1, "](")) == NULL || memchr(p + 1, '\n', (size_t)(mid - p - 1)))
		return 0;
	if ((end = strstr(mid + 2, ")  ")) == NULL || end == mid + 2 ||
	    memchr(mid + 2, ' ', (size_t)(end - mid - 2)) != NULL ||
	    memchr(mid + 2, '\n', (size_t)(end - mid - 2)) != NULL)
		return 0;
	*path = mid + 2;
	*plen = (size_t)(end - mid - 2);
	if (!media_prefix(*path, *plen))
		return 0;
	*name = p + 1;
	*nlen = (size_t)(mid - p - 1);
	return (size_t)(end + 3 - s);
}

#define MD_ATT_LINE_MAX (1u << 20)

/*
 * The earliest offset in the last line (text[ls..len)) from which the rest
 * is nothing but attachment tokens (as md_att_token reads them), or len.
 * Linear: the next "](", ")  " and " " are tabulated from the right, then
 * ok[q] = "a token starts at q and ok[its end]".
 */
static size_t
md_att_start(const char *text, size_t ls, size_t len)
{
	const size_t none = SIZE_MAX, n = len - ls;
	const char *t = text + ls;
	size_t *na = NULL, *nb = NULL, *ns = NULL, i, q, b, mid, end, e, best = len;
	unsigned char *ok = NULL;

	if (n < 3 || n > MD_ATT_LINE_MAX || memcmp(text + len - 3, ")  ", 3) != 0)
		return len;
	na = malloc((n + 1) * sizeof(*na));
	nb = malloc((n + 1) * sizeof(*nb));
	ns = malloc((n + 1) * sizeof(*ns));
	ok = malloc(n + 1);
	if (na == NULL || nb == NULL || ns == NULL || ok == NULL)
		goto out;               /* no memory: the text stays the body */
	na[n] = nb[n] = ns[n] = none;
	ok[n] = 1;
	for (i = n; i-- > 0;) {
		na[i] = t[i] == ']' && i + 1 < n && t[i + 1] == '(' ? i : na[i + 1];
		nb[i] = t[i] == ')' && i + 2 < n && t[i + 1] == ' ' && t[i + 2] == ' ' ? i :
		    nb[i + 1];
		ns[i] = t[i] == ' ' ? i : ns[i + 1];
	}
	for (q = n; q-- > 0;) {
		ok[q] = 0;
		e = none;
		if (n - q >= 22 && memcmp(t + q, "(media not exported)  ", 22) == 0) {
			e = q + 22;
		} else {
			b = q + (t[q] == '!');
			if (b + 1 < n && t[b] == '[' && (mid = na[b + 1]) != none &&
			    (end = nb[mid + 2 <= n ? mid + 2 : n]) != none && end > mid + 2 &&
			    ns[mid + 2] >= end && media_prefix(t + mid + 2, end - mid - 2))
				e = end + 3;
		}
		if (e != none && e <= n && ok[e]) {
			ok[q] = 1;
			best = ls + q;
		}
	}
out:
	free(na);
	free(nb);
	free(ns);
	free(ok);
	return best;
}

/* Split off and resolve the attachments at the end of text. */
static int
md_attachments(struct export_file *x, char *text, struct cf_msg *m, json_t *missing,
    unsigned long lineno, int *sticker_file)
{
	size_t len = strlen(text), from, t, nl = 0, pl = 0;
	const char *line = strrchr(text, '\n'), *n = NULL, *p = NULL;
	char *link = NULL, *full = NULL, *name = NULL;
	int rc = 0, bad;

	line = line != NULL ? line + 1 : text;
	if ((from = md_att_start(text, (size_t)(line - text), len)) >= len)
		return 0;
	t = from;
	while (t < len) {
		size_t tl = md_att_token(text + t, &n, &nl, &p, &pl);

		if (p == NULL) {
			rc = attach_one(NULL, "attachment", "media not exported", m, missing);
		} else {
			if ((link = cf_memdup_str(p, pl)) == NULL) {
				rc = -ENOMEM;
				break;
			}
			if (strncmp(link, "../exported_stickers/", 21) == 0)
				*sticker_file = 1;
			if ((full = media_path(x->dir, link, &bad)) == NULL) {
				rc = bad ? sig_fail(x->file, lineno, "attachment link outside the "
				    "export's media folder") : -ENOMEM;
				break;
			}
			name = nl > 0 ? cf_memdup_str(n, nl) : strdup(base_name(full));
			if (name == NULL) {
				rc = -ENOMEM;
				break;
			}
			if (strchr(name, '/') != NULL || strcmp(name, ".") == 0 ||
			    strcmp(name, "..") == 0) {
				free(name);
				name = strdup(base_name(full));
			}
			rc = name == NULL ? -ENOMEM : attach_one(full, name,
			    "not in the export folder", m, missing);
			free(link);
			free(full);
			free(name);
			link = full = name = NULL;
		}
		if (rc < 0)
			break;
		t += tl;
	}
	free(link);
	free(full);
	free(name);
	if (rc == 0)
		text[from] = '\0';
	return rc;
}

/* "(- Bob: 😀, Me: 👍 -)" as the last line: into reactions, cut off. */
static int
md_reactions(char *text, json_t *reac)
{
	size_t len = strlen(text);
	char *line, *p, *next, *colon;
	int rc;

	if (len < 6 || strcmp(text + len - 3, " -)") != 0)
		return 0;
	line = strrchr(text, '\n');
	if (line == NULL || strncmp(line + 1, "(- ", 3) != 0)
		return 0;
	text[len - 3] = '\0';
	for (p = line + 4; p != NULL && *p != '\0'; p = next) {
		next = strstr(p, ", ");
		if (next != NULL) {
			*next = '\0';
			next += 2;
		}
		colon = strstr(p, ": ");
		while (colon != NULL && strstr(colon + 2, ": ") != NULL)
			colon = strstr(colon + 2, ": ");
		if (colon == NULL)
			continue;
		*colon = '\0';
		if ((rc = reaction_add(reac, colon + 2, p)) < 0)
			return rc;
	}
	*line = '\0';
	return 0;
}

/* The message read so far, complete: turn it into a cf_msg. */
static int
md_finish(struct export_file *x)
{
	struct sig *s = x->s;
	struct cf_msg m;
	json_t *extra = NULL, *missing = NULL, *reac = NULL, *qo;
	char *text, *body, *q = NULL, *end, *stk;
	size_t n;
	int rc = -ENOMEM, sticker_file = 0;
	const char *kind = NULL, *shown;

	if (x->start == 0)
		return 0;
	memset(&m, 0, sizeof m);
	text = x->text;
	/* the empty line that follows each message, and any other */
	n = x->len;
	while (n > 0 && text[n - 1] == '\n')
		n--;
	text[n] = '\0';
	if (x->slen >= x->blank_tail)
		x->src[x->slen - x->blank_tail] = '\0';
	m.ts_ms = x->ts;
	if ((m.ts_raw = strdup(x->ts_raw)) == NULL || (m.tz = strdup(s->zone)) == NULL ||
	    (m.sender = x->sender) == NULL)
		goto out;
	x->sender = NULL;
	if ((extra = json_object()) == NULL || (missing = json_array()) == NULL ||
	    (reac = json_array()) == NULL)
		goto out;
	/* a quote: "Name: " then "\n\n> …\n\n" then the body */
	body = text;
	if (strncmp(text, "\n\n>", 3) == 0 && (end = strstr(text + 2, "\n\n")) != NULL) {
		const char *l = text + 2, *nl;
		int all = 1;

		while (l < end) {
			if (*l != '>') {
				all = 0;
				break;
			}
			if ((nl = memchr(l, '\n', (size_t)(end - l))) == NULL)
				break;
			l = nl + 1;
		}
		if (all) {
			*end = '\0';
			if ((q = md_quote_text(text)) == NULL)
				goto out;
			body = end + 2;
			if ((qo = json_object()) == NULL)
				goto out;
			if (set_new(qo, "text", json_string(q)) < 0) {
				json_decref(qo);
				goto out;
			}
			if (json_object_set_new(extra, "quote", qo) != 0)
				goto out;
		}
	}
	if ((rc = md_attachments(x, body, &m, missing, x->start, &sticker_file)) < 0)
		goto out;
	rc = -ENOMEM;
	n = strlen(body);
	if (n >= 7 && strcmp(body + n - 3, " ))") == 0 && (stk = strrchr(body, '\n')) != NULL &&
	    strncmp(stk + 1, "(( ", 3) == 0) {
		kind = "sticker";
		body[n - 3] = '\0';
		if (set_new(extra, "sticker", json_string(stk + 4)) < 0)
			goto out;
		*stk = '\0';
	} else if (sticker_file) {
		kind = "sticker";
	}
	if (md_reactions(body, reac) < 0)
		goto out;
	strip_md_spaces(body);
	if (strcmp(body, "(This message was deleted)") == 0)
		kind = "deleted";
	shown = body;
	if (kind != NULL && strcmp(kind, "sticker") == 0 && body[0] == '\0' &&
	    json_is_string(json_object_get(extra, "sticker")))
		shown = json_string_value(json_object_get(extra, "sticker"));
	if ((m.body = strdup(shown)) == NULL)
		goto out;
	if (kind != NULL && set_new(extra, "kind", json_string(kind)) < 0)
		goto out;
	/* keep the key order of the convention: kind first */
	if (kind != NULL && json_object_get(extra, "quote") != NULL) {
		json_t *qq = json_incref(json_object_get(extra, "quote"));

		if (json_object_del(extra, "quote") != 0 ||
		    json_object_set_new(extra, "quote", qq) != 0)
			goto out;
	}
	if (json_array_size(reac) > 0 && json_object_set(extra, "reactions", reac) != 0)
		goto out;
	if (json_array_size(missing) > 0 && json_object_set(extra, "missing_attachments",
	    missing) != 0)
		goto out;
	if (set_new(extra, "source_text", json_string(x->src)) < 0)
		goto out;
	rc = export_add(s, x->file, x->chat, &m, extra);       /* reports */
	goto done;
out:
	if (rc == -ENOMEM)
		sig_nomem(x->file);
done:
	cf_free_wiped(q);
	cf_msg_clear(&m);
	json_decref(missing);
	json_decref(reac);
	json_decref(extra);
	cf_free_wiped(x->sender);
	x->sender = NULL;
	x->start = 0;
	return rc;
}

static int
chatmd_cb(void *arg, unsigned long lineno, char *line, size_t len)
{
	struct export_file *x = arg;
	size_t tlen, sb, se, rest;

	if (!cf_utf8_valid(line, len))
		return sig_fail(x->file, lineno, "invalid UTF-8");
	if (md_header(line, len, &tlen, &sb, &se, &rest)) {
		int rc = md_finish(x);

		if (rc < 0)
			return rc;
		x->start = lineno;
		snprintf(x->ts_raw, sizeof x->ts_raw, "%.*s", (int)tlen, line + 1);
		if (md_time(line + 1, tlen, x->s->zone, &x->ts) < 0)
			return sig_fail(x->file, lineno, "invalid date or time in message header");
		x->len = x->slen = x->blank_tail = 0;
		if ((x->sender = cf_memdup_str(line + sb, se - sb)) == NULL ||
		    buf_add(&x->text, &x->len, &x->cap, line + rest, len - rest) < 0 ||
		    buf_add(&x->src, &x->slen, &x->scap, line, len) < 0)
			return sig_nomem(x->file);
		return 0;
	}
	if (x->start == 0) {
		if (len == 0)
			return 0;       /* blank lines before the first message */
		return sig_fail(x->file, lineno, "not a Signal chat.md message header");
	}
	if (buf_add(&x->text, &x->len, &x->cap, "\n", 1) < 0 ||
	    buf_add(&x->text, &x->len, &x->cap, line, len) < 0 ||
	    buf_add(&x->src, &x->slen, &x->scap, "\n", 1) < 0 ||
	    buf_add(&x->src, &x->slen, &x->scap, line, len) < 0)
		return sig_nomem(x->file);
	x->blank_tail = len == 0 ? x->blank_tail + 1 : 0;
	return 0;
}

/* One sigexport conversation file (data.json or chat.md); chat: its name. */
static int
export_file(struct sig *s, const char *file, const char *chat, int is_json)
{
	struct export_file x;
	char *dir;
	int rc;

	memset(&x, 0, sizeof x);
	if (!cf_utf8_valid(chat, strlen(chat)))
		return sig_fail(file, 0, "conversation name is not valid UTF-8");
	if ((dir = parent_dir(file)) == NULL)
		return sig_nomem(file);
	x.s = s;
	x.file = file;
	x.dir = dir;
	x.chat = chat;
	if (is_json) {
		rc = read_lines(file, datajson_cb, &x);
	} else {
		rc = read_lines(file, chatmd_cb, &x);
		if (rc == 0)
			rc = md_finish(&x);
	}
	cf_free_wiped(x.sender);
	if (x.text != NULL) {
		cf_wipe(x.text, x.cap);
		free(x.text);
	}
	if (x.src != NULL) {
		cf_wipe(x.src, x.scap);
		free(x.src);
	}
	free(dir);
	sig_conv_reset(s);
	if (rc == 0)
		rc = cf_import_maybe_flush(s->o, s->b);
	return rc;
}

/* A sigexport conversation folder: data.json, else chat.md. */
static int
export_folder(struct sig *s, const char *dir)
{
	char p[PATH_MAX], *chat;
	struct stat st;
	int rc;

	if ((chat = folder_name(dir)) == NULL)
		return sig_nomem(dir);
	if (cf_path(p, sizeof p, "%s/data.json", dir) == 0 && is_reg_nolink(p, &st)) {
		rc = export_file(s, p, chat, 1);
	} else if (cf_path(p, sizeof p, "%s/chat.md", dir) == 0 && is_reg_nolink(p, &st)) {
		rc = export_file(s, p, chat, 0);
	} else {
		cf_error("%s: no data.json or chat.md in this Signal export folder", dir);
		rc = -EINVAL;
	}
	free(chat);
	return rc;
}

static int
want_conv_folder(const char *dir, const char *name)
{
	char p[PATH_MAX];
	struct stat st;

	return (cf_path(p, sizeof p, "%s/%s/data.json", dir, name) == 0 && is_reg_nolink(p, &st)) ||
	    (cf_path(p, sizeof p, "%s/%s/chat.md", dir, name) == 0 && is_reg_nolink(p, &st));
}

/* ---- detection ----------------------------------------------------------- */

/* First line of buf (len bytes) is a sigexport data.json object? */
static int
datajson_head(const char *buf, size_t len)
{
	const char *nl = memchr(buf, '\n', len);
	json_t *j;
	int ok;

	j = json_loadb(buf, nl != NULL ? (size_t)(nl - buf) : len, 0, NULL);
	ok = json_is_object(j) && json_is_string(json_object_get(j, "date")) &&
	    json_object_get(j, "sender") != NULL && json_object_get(j, "body") != NULL &&
	    (json_object_get(j, "reactions") != NULL || json_object_get(j, "quote") != NULL);
	json_decref(j);
	return ok;
}

/* sigtop's array of Signal Desktop messages: "[" then an object with
 * "conversationId" and a Signal time member near the start. */
static int
sigtop_head(const char *buf, size_t len)
{
	size_t i = 0;

	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < len && isspace((unsigned char)buf[i]))
		i++;
	if (i >= len || buf[i++] != '[')
		return 0;
	while (i < len && isspace((unsigned char)buf[i]))
		i++;
	/* "[]" is not enough: sigtop writes no file for an empty
	 * conversation, and other exports have empty lists */
	if (i >= len || buf[i] != '{')
		return 0;
	return memmem(buf + i, len - i, "\"conversationId\"", 16) != NULL &&
	    (memmem(buf + i, len - i, "\"sent_at\"", 9) != NULL ||
	    memmem(buf + i, len - i, "\"received_at\"", 13) != NULL);
}

/* A chat.md-style text: first non-empty line is a header. */
static int
chatmd_head(const char *name, const char *buf, size_t len)
{
	size_t i = 0, e, tlen, sb, se, rest;

	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < len && (buf[i] == '\n' || buf[i] == '\r'))
		i++;
	for (e = i; e < len && buf[e] != '\n'; e++)
		;
	if (e > i && buf[e - 1] == '\r')
		e--;
	if (!md_header(buf + i, e - i, &tlen, &sb, &se, &rest))
		return 0;
	/* "[2019-12-24, 12:23]" is sigexport's own; the other form is also
	 * a WhatsApp iOS one in a few locales, so want the file name too. */
	return buf[i + 11] == ',' || strcmp(name, "chat.md") == 0 || has_suffix(name, ".md");
}

static int
file_kind(const char *path)
{
	char *buf;
	ssize_t n;
	int kind = 0;

	if ((buf = malloc(SIG_DETECT_MAX)) == NULL)
		return 0;
	n = read_head(path, buf, SIG_DETECT_MAX);
	if (n > 0) {
		if (sigtop_head(buf, (size_t)n))
			kind = 1;
		else if (datajson_head(buf, (size_t)n))
			kind = 2;
		else if (chatmd_head(base_name(path), buf, (size_t)n))
			kind = 3;
	}
	if (n > 0)
		cf_wipe(buf, (size_t)n);
	free(buf);
	return kind;
}

/* What a folder holds: 1 sigtop files, 2 a sigexport conversation, 3 a
 * sigexport root; 0 none of them.  Looks at a bounded number of entries. */
static int
dir_kind(const char *dir)
{
	char p[PATH_MAX];
	struct dirent *de;
	struct stat st;
	int kind = 0, seen = 0, jsons = 0;
	DIR *d;

	if ((cf_path(p, sizeof p, "%s/data.json", dir) == 0 && is_reg_nolink(p, &st)) ||
	    (cf_path(p, sizeof p, "%s/chat.md", dir) == 0 && is_reg_nolink(p, &st)))
		return 2;
	if ((d = opendir(dir)) == NULL)
		return 0;
	while (kind == 0 && seen++ < SIG_DETECT_ENTRIES && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (has_suffix(de->d_name, ".json")) {
			if (jsons++ < 8 && cf_path(p, sizeof p, "%s/%s", dir, de->d_name) == 0 &&
			    file_kind(p) == 1)
				kind = 1;
		} else if (want_conv_folder(dir, de->d_name)) {
			kind = 3;
		}
	}
	(void)closedir(d);
	return kind;
}

static int
signal_detect(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return 0;
	if (S_ISDIR(st.st_mode))
		return dir_kind(path) != 0;
	return S_ISREG(st.st_mode) && file_kind(path) != 0;
}

/* ---- parse --------------------------------------------------------------- */

static int
signal_parse(const char *path, struct cf_batch *b, const struct cf_import_opts *o)
{
	struct sig *s;
	struct stat st;
	char **v = NULL, *chat = NULL, *dir = NULL;
	char *one = NULL;
	size_t n = 0, i;
	int rc, kind;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return sig_nomem(path);
	s->b = b;
	s->o = o;
	s->zone = (o != NULL && o->tz != NULL && *o->tz != '\0') ? o->tz : cf_tz_local_name();
	if (cf_tz_valid(s->zone) < 0) {
		cf_error("%s: unknown time zone", s->zone);
		rc = -EINVAL;
		goto out;
	}
	if (stat(path, &st) != 0) {
		rc = -errno;
		cf_error("%s: %s", path, strerror(-rc));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		kind = dir_kind(path);
		if (kind == 2) {
			rc = export_folder(s, path);
		} else if (kind == 1) {
			if ((rc = list_dir(path, want_json, &v, &n)) == 0)
				rc = sigtop_parse(s, v, n);
		} else if (kind == 3) {
			if ((rc = list_dir(path, want_conv_folder, &v, &n)) == 0)
				for (i = 0; i < n && rc == 0; i++)
					rc = export_folder(s, v[i]);
		} else {
			cf_error("%s: no Signal export here (sigtop .json files, or "
			    "signal-export folders with chat.md or data.json)", path);
			rc = -EINVAL;
		}
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		cf_error("%s: not a regular file", path);
		rc = -EINVAL;
		goto out;
	}
	kind = file_kind(path);
	if (kind == 0) {
		/* by name: the parser then says what is wrong */
		if (strcmp(base_name(path), "data.json") == 0)
			kind = 2;
		else if (has_suffix(path, ".json"))
			kind = 1;
		else
			kind = 3;
	}
	if (kind == 1) {
		if ((one = strdup(path)) == NULL)
			rc = sig_nomem(path);
		else
			rc = sigtop_parse(s, &one, 1);
		goto out;
	}
	/* chat.md / data.json: the conversation is the folder; another name
	 * (a chat.md saved elsewhere) is its own conversation */
	if (strcmp(base_name(path), "chat.md") == 0 || strcmp(base_name(path), "data.json") == 0) {
		dir = parent_dir(path);
		chat = dir != NULL ? folder_name(dir) : NULL;
	} else {
		const char *bn = base_name(path), *dot = strrchr(bn, '.');

		chat = cf_memdup_str(bn, dot != NULL && dot != bn ? (size_t)(dot - bn) : strlen(bn));
	}
	if (chat == NULL) {
		rc = sig_nomem(path);
		goto out;
	}
	rc = export_file(s, path, chat, kind == 2);
out:
	if (v != NULL)
		list_free(v, n);
	free(one);
	free(chat);
	free(dir);
	smap_free(&s->names);
	sig_conv_reset(s);
	cf_wipe(s, sizeof(*s));
	free(s);
	return rc;
}

const struct cf_importer cf_importer_signal = {
	.name = "signal",
	.detect = signal_detect,
	.parse = signal_parse,
};
