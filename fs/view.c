/*
 * view.c - the in-memory model of the mounted tree (view.h).
 *
 * The root and the conversation folders are made by cf_view_new from the
 * conversation list alone.  A conversation's files are made by
 * cf_view_conv_build from its decrypted messages: the day transcripts and
 * info.txt are rendered completely here, so that their sizes are exact
 * before anyone reads them, and kept in memory (render_day and render_info
 * are the only producers of text, so rendering can later be made lazy).
 * Attachment nodes only record the blob to read.
 *
 * Refresh: cf_view_refresh gives the view a new conversation list.  Every
 * conversation the view ever showed keeps its slot (struct vconv) until
 * cf_view_free, in an append-only array whose elements never move; a
 * folder whose conversation is listed again unchanged stays as it is
 * (inodes, built nodes); a new or changed one gets a new slot and new
 * inodes, so an inode number never names two different things; a
 * conversation no longer listed answers EACCES everywhere.  The root's
 * listing is a separate object, swapped with a release store.
 *
 * Concurrency: readers never lock.  What they reach is either immutable
 * or published with a release store that they load with acquire: a
 * build fills a new array of nodes, appends its inode run to the range
 * index, then releases the conversation's state; a refresh fills new
 * slots, appends their run, stores every conversation's list position,
 * then swaps the root listing.  Builds, failures, refreshes and reclaims
 * are serialised by the view's lock.  Attachment handles are set once
 * with a compare-and-swap.  Memory that readers might still hold (the
 * replaced listings, the content of conversations no longer listed) is
 * freed only by cf_view_reclaim, which the caller runs once no reader can
 * still be using it.
 *
 * Limits: a view holds every rendered transcript of every conversation
 * opened so far, and a conversation that changed keeps its old rendering
 * beside the new one (for whoever still has it open); nothing is evicted
 * while mounted except conversations no longer listed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "util.h"
#include "view.h"

#define VN_DIR 1
#define VN_TEXT 2
#define VN_ATTACH 3

#define NO_CONV SIZE_MAX
#define NOT_LISTED SIZE_MAX
#define INDENT "          "        /* width of "HH:MM:SS  " */
#define ATT_DIR "attachments"
#define INFO_NAME "info.txt"

struct vnode {
	char *name;
	uint64_t ino;
	uint64_t parent;
	int64_t mtime;                  /* Unix seconds */
	uint64_t size;
	size_t conv;                    /* owning conversation, NO_CONV for the root */
	int kind;                       /* VN_* */
	uint32_t nsubdirs;              /* VN_DIR */
	struct vnode **kids;            /* VN_DIR: readdir order */
	struct vnode **sorted;          /* VN_DIR: kids by name (strcmp), for lookup */
	size_t nkids;
	char *text;                     /* VN_TEXT: size bytes */
	uint8_t blob_id[CF_ID_BYTES];   /* VN_ATTACH */
	_Atomic(void *) handle;         /* VN_ATTACH: set once (CAS), closed on free */
	atomic_int read_audited;        /* files: the first read was audited */
};

struct vconv {
	/* dir (name, ino, mtime), id, title, messages, first_ms, last_ms:
	 * set before the conversation is published, then immutable until a
	 * purge.  dir's kids, sorted, nkids, nsubdirs, and nodes, nnodes,
	 * base: written by the build before state is released. */
	struct vnode dir;
	uint8_t id[CF_ID_BYTES];
	char *title;                    /* as listed, "" if none */
	uint64_t messages;
	int64_t first_ms, last_ms;
	atomic_int state;               /* 0, 1 built, < 0 failed; release/acquire */
	atomic_size_t listed;           /* its position in the latest list, or
	                                 * NOT_LISTED; written under lock */
	_Atomic int64_t until;          /* the grant's end (Unix s), 0 = none;
	                                 * updated by each refresh */
	int purged;                     /* lock: content wiped (cf_view_reclaim) */
	struct vnode *nodes;            /* valid once state == 1 */
	size_t nnodes;
	uint64_t base;                  /* inode of nodes[0] */
};

/*
 * An append-only array whose elements never move, so that readers can
 * index it without a lock while one writer (holding the view's lock)
 * appends: chunk k holds AV_FIRST << k elements and is never reallocated.
 * An element is filled before the release store of n that covers it.
 */
#define AV_FIRST 32
#define AV_CHUNKS 48

struct avec {
	void *chunk[AV_CHUNKS];         /* written under lock before n covers them */
	size_t esize;                   /* immutable */
	atomic_size_t n;                /* release on append, acquire to read */
};

/* A run of inodes: conversation folders (dirs: inode start + j is the
 * folder of conversation conv + j) or the nodes of one built conversation
 * (inode start + j is nodes[j]). */
struct vrange {
	uint64_t start, count;
	size_t conv;
	int dirs;
};

/* One listing of the root; a refresh publishes a new one. */
struct vroot {
	struct vnode node;              /* immutable once published */
	struct vroot *next;             /* lock: the retired list */
};

struct cf_view {
	char *tz;                       /* display zone, NULL = UTC; immutable */
	void (*handle_close)(void *h);  /* immutable */
	_Atomic(struct vroot *) root;   /* the current listing: release on swap */
	struct vroot *retired;          /* lock: listings replaced by a refresh */
	struct avec convs;              /* of struct vconv, every conversation
	                                 * this view ever showed, in creation order */
	struct avec ranges;             /* of struct vrange, by increasing start */
	pthread_mutex_t lock;           /* serialises builds, failures, refreshes
	                                 * and reclaims */
	_Atomic uint64_t next_ino;      /* written under lock */
};

/* ---- growing text buffer ---------------------------------------------- */

struct sbuf {
	char *p;
	size_t len, cap;
	int err;                        /* sticky: -ENOMEM */
};

static void
sb_add(struct sbuf *sb, const char *s, size_t n)
{
	size_t cap;
	char *p;

	if (sb->err != 0)
		return;
	if (n > SIZE_MAX - sb->len - 1) {
		sb->err = -ENOMEM;
		return;
	}
	if (sb->len + n + 1 > sb->cap) {
		cap = sb->cap != 0 ? sb->cap : 256;
		while (cap < sb->len + n + 1)
			cap = cap > SIZE_MAX / 2 ? sb->len + n + 1 : cap * 2;
		/* Not realloc: the old copy of decrypted text is wiped. */
		if ((p = malloc(cap)) == NULL) {
			sb->err = -ENOMEM;
			return;
		}
		if (sb->p != NULL) {
			memcpy(p, sb->p, sb->len);
			explicit_bzero(sb->p, sb->cap);
			free(sb->p);
		}
		sb->p = p;
		sb->cap = cap;
	}
	memcpy(sb->p + sb->len, s, n);
	sb->len += n;
	sb->p[sb->len] = '\0';
}

static void
sb_puts(struct sbuf *sb, const char *s)
{
	sb_add(sb, s, strlen(s));
}

static void
sb_putc(struct sbuf *sb, char c)
{
	sb_add(sb, &c, 1);
}

static void sb_printf(struct sbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sb_printf(struct sbuf *sb, const char *fmt, ...)
{
	char small[128];
	va_list ap;
	int n;
	char *big;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		sb->err = -EINVAL;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		sb_add(sb, small, (size_t)n);
		return;
	}
	if ((big = malloc((size_t)n + 1)) == NULL) {
		sb->err = -ENOMEM;
		return;
	}
	va_start(ap, fmt);
	(void)vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb_add(sb, big, (size_t)n);
	free(big);
}

/* Text that must stay on one line (names, ids): control characters
 * become spaces. */
static void
sb_put_oneline(struct sbuf *sb, const char *s)
{
	const unsigned char *u;

	for (u = (const unsigned char *)s; *u != '\0'; u++)
		sb_putc(sb, (*u < 0x20 || *u == 0x7f) ? ' ' : (char)*u);
}

/* Take the buffer's string (an empty one when nothing was added). */
static char *
sb_take(struct sbuf *sb, size_t *len)
{
	char *p;

	if (sb->err == 0 && sb->p == NULL)
		sb_add(sb, "", 0);
	if (sb->err != 0) {
		if (sb->p != NULL)
			explicit_bzero(sb->p, sb->cap);
		free(sb->p);
		memset(sb, 0, sizeof(*sb));
		return NULL;
	}
	p = sb->p;
	*len = sb->len;
	memset(sb, 0, sizeof(*sb));
	return p;
}

/* ---- a small set of strings (open addressing) -------------------------- */

struct sset {
	const char **keys;              /* not owned */
	size_t *vals;
	size_t cap, n;
};

static uint64_t
str_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void
sset_free(struct sset *s)
{
	free(s->keys);
	free(s->vals);
	memset(s, 0, sizeof(*s));
}

/* The slot of key: where it is, or the empty slot where it would go. */
static size_t
sset_slot(const struct sset *s, const char *key)
{
	size_t i = (size_t)str_hash(key) & (s->cap - 1);

	while (s->keys[i] != NULL && strcmp(s->keys[i], key) != 0)
		i = (i + 1) & (s->cap - 1);
	return i;
}

static int
sset_grow(struct sset *s)
{
	struct sset bigger = { .cap = s->cap != 0 ? s->cap * 2 : 16 };
	size_t i, j;

	bigger.keys = calloc(bigger.cap, sizeof(*bigger.keys));
	bigger.vals = calloc(bigger.cap, sizeof(*bigger.vals));
	if (bigger.keys == NULL || bigger.vals == NULL) {
		sset_free(&bigger);
		return -ENOMEM;
	}
	for (i = 0; i < s->cap; i++) {
		if (s->keys[i] == NULL)
			continue;
		j = sset_slot(&bigger, s->keys[i]);
		bigger.keys[j] = s->keys[i];
		bigger.vals[j] = s->vals[i];
	}
	bigger.n = s->n;
	sset_free(s);
	*s = bigger;
	return 0;
}

/* Pointer to key's value (0 when just added), or NULL when out of memory.
 * key must outlive the set. */
static size_t *
sset_get(struct sset *s, const char *key)
{
	size_t i;

	if ((s->n + 1) * 2 > s->cap && sset_grow(s) != 0)
		return NULL;
	i = sset_slot(s, key);
	if (s->keys[i] == NULL) {
		s->keys[i] = key;
		s->vals[i] = 0;
		s->n++;
	}
	return &s->vals[i];
}

/* Pointer to key's value, or NULL when key is not in the set. */
static size_t *
sset_find(const struct sset *s, const char *key)
{
	size_t i;

	if (s->cap == 0)
		return NULL;
	i = sset_slot(s, key);
	return s->keys[i] != NULL ? &s->vals[i] : NULL;
}

static int
sset_has(const struct sset *s, const char *key)
{
	return sset_find(s, key) != NULL;
}

/* ---- names -------------------------------------------------------------- */

char *
cf_view_sanitize(const char *name)
{
	size_t len = strlen(name), start = 0, end, i;
	char *out;
	unsigned char c;

	if ((out = malloc(len + 1)) == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		c = (unsigned char)name[i];
		out[i] = (c < 0x20 || c == 0x7f || c == '/') ? '_' : (char)c;
	}
	end = len;
	while (start < end && out[start] == ' ')
		start++;
	while (end > start && out[end - 1] == ' ')
		end--;
	len = end - start;
	memmove(out, out + start, len);
	if (len > CF_VIEW_NAME_MAX) {
		/* Cut before the character that straddles the limit. */
		len = CF_VIEW_NAME_MAX;
		while (len > 0 && ((unsigned char)out[len] & 0xc0) == 0x80)
			len--;
		while (len > 0 && out[len - 1] == ' ')
			len--;
	}
	out[len] = '\0';
	if (strcmp(out, ".") == 0)
		out[0] = '_';
	else if (strcmp(out, "..") == 0)
		memcpy(out, "__", 3);
	return out;
}

static char *
str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
str_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : s;
}

struct name_ix {
	const char *name;
	size_t ix;
};

static int
name_ix_cmp(const void *pa, const void *pb)
{
	const struct name_ix *a = pa, *b = pb;
	int c = strcmp(a->name, b->name);

	if (c != 0)
		return c;
	return a->ix < b->ix ? -1 : a->ix > b->ix;
}

/*
 * Mark in dup[] every name that is not unique.  Returns the number marked,
 * or -ENOMEM.
 */
static long
mark_dups(char *const *names, size_t n, unsigned char *dup)
{
	struct name_ix *ix;
	size_t i;
	long count = 0;

	memset(dup, 0, n);
	if (n < 2)
		return 0;
	if ((ix = calloc(n, sizeof(*ix))) == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		ix[i].name = names[i];
		ix[i].ix = i;
	}
	qsort(ix, n, sizeof(*ix), name_ix_cmp);
	for (i = 0; i + 1 < n; i++) {
		if (strcmp(ix[i].name, ix[i + 1].name) == 0) {
			count += !dup[ix[i].ix] + !dup[ix[i + 1].ix];
			dup[ix[i].ix] = dup[ix[i + 1].ix] = 1;
		}
	}
	free(ix);
	return count;
}

/*
 * Folder names for every conversation: the sanitised title ("chat-" and 8
 * hex digits when empty); names that collide all get " (8 hex digits)", and
 * if that is not enough (two ids sharing 8 digits, or a title that already
 * looks like a suffixed one) the full id, then the full id and position.
 */
static int
conv_names(const struct cf_chat_list *l, char **names)
{
	char **base = NULL, hex[2 * CF_ID_BYTES + 1];
	unsigned char *dup = NULL;
	size_t i;
	long ndup;
	int level, rc = 0;

	if (l->n == 0)
		return 0;
	base = calloc(l->n, sizeof(*base));
	dup = calloc(l->n, 1);
	if (base == NULL || dup == NULL)
		goto nomem;
	for (i = 0; i < l->n; i++) {
		cf_hex_encode(hex, l->v[i].id, CF_ID_BYTES);
		base[i] = cf_view_sanitize(l->v[i].title != NULL ? l->v[i].title : "");
		if (base[i] == NULL)
			goto nomem;
		if (base[i][0] == '\0') {
			free(base[i]);
			if ((base[i] = str_printf("chat-%.8s", hex)) == NULL)
				goto nomem;
		}
		if ((names[i] = strdup(base[i])) == NULL)
			goto nomem;
	}
	for (level = 1; level <= 3; level++) {
		if ((ndup = mark_dups(names, l->n, dup)) < 0)
			goto nomem;
		if (ndup == 0)
			break;
		for (i = 0; i < l->n; i++) {
			if (!dup[i])
				continue;
			cf_hex_encode(hex, l->v[i].id, CF_ID_BYTES);
			free(names[i]);
			if (level == 1)
				names[i] = str_printf("%s (%.8s)", base[i], hex);
			else if (level == 2)
				names[i] = str_printf("%s (%s)", base[i], hex);
			else
				names[i] = str_printf("%s (%s-%zu)", base[i], hex, i + 1);
			if (names[i] == NULL)
				goto nomem;
		}
	}
	goto out;
nomem:
	cf_error("out of memory");
	rc = -ENOMEM;
out:
	if (base != NULL) {
		for (i = 0; i < l->n; i++)
			free(base[i]);
	}
	free(base);
	free(dup);
	return rc;
}

/* "stem_N.ext": N inserted before the last dot that is not the first
 * character. */
static char *
name_numbered(const char *name, unsigned long n)
{
	const char *dot = strrchr(name, '.');

	if (dot == NULL || dot == name)
		return str_printf("%s_%lu", name, n);
	return str_printf("%.*s_%lu%s", (int)(dot - name), name, n, dot);
}

/* ---- node helpers -------------------------------------------------------- */

static int
vnode_ptr_cmp(const void *pa, const void *pb)
{
	const struct vnode *const *a = pa, *const *b = pb;

	return strcmp((*a)->name, (*b)->name);
}

/* Set d's children (kids, n of them; the array is taken on success only)
 * and its sorted index.  Returns 0 or -ENOMEM. */
static int
dir_set_kids(struct vnode *d, struct vnode **kids, size_t n)
{
	struct vnode **sorted = NULL;
	size_t i;

	if (n > 0) {
		if ((sorted = malloc(n * sizeof(*sorted))) == NULL)
			return -ENOMEM;
		memcpy(sorted, kids, n * sizeof(*kids));
		qsort(sorted, n, sizeof(*sorted), vnode_ptr_cmp);
	}
	d->kids = kids;
	d->sorted = sorted;
	d->nkids = n;
	d->nsubdirs = 0;
	for (i = 0; i < n; i++)
		d->nsubdirs += kids[i]->kind == VN_DIR;
	return 0;
}

static const struct vnode *
dir_find(const struct vnode *d, const char *name)
{
	size_t lo = 0, hi = d->nkids, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(name, d->sorted[mid]->name);
		if (c == 0)
			return d->sorted[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static void
vnode_clear(struct cf_view *v, struct vnode *n)
{
	void *h;

	/* Names and texts come from decrypted content: wipe them. */
	if (n->name != NULL)
		explicit_bzero(n->name, strlen(n->name));
	if (n->text != NULL)
		explicit_bzero(n->text, (size_t)n->size);
	free(n->name);
	free(n->kids);
	free(n->sorted);
	free(n->text);
	n->name = NULL;
	n->kids = NULL;
	n->sorted = NULL;
	n->text = NULL;
	n->nkids = 0;
	if (n->kind == VN_ATTACH) {
		h = atomic_exchange_explicit(&n->handle, NULL, memory_order_acq_rel);
		if (h != NULL && v->handle_close != NULL)
			v->handle_close(h);
	}
}

static int64_t
ms_to_secs(int64_t ms)
{
	return ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
}

/* ---- append-only arrays ---------------------------------------------------- */

/* The chunk holding element i, and i's offset in it. */
static size_t
av_chunk_of(size_t i, size_t *off)
{
	unsigned long long q = (unsigned long long)(i / AV_FIRST) + 1;
	size_t k = (size_t)(63 - __builtin_clzll(q));

	*off = i - AV_FIRST * (((size_t)1 << k) - 1);
	return k;
}

static size_t
av_count(const struct avec *a)
{
	return atomic_load_explicit(&a->n, memory_order_acquire);
}

/* Element i: below a count loaded with av_count, or a slot that the
 * caller, holding the view's lock, got from av_slot. */
static void *
av_at(const struct avec *a, size_t i)
{
	size_t off, k = av_chunk_of(i, &off);

	return (char *)a->chunk[k] + off * a->esize;
}

/* Slot i (at or past the count: not visible to readers yet), its chunk
 * allocated if need be.  Lock held.  Returns NULL when out of memory. */
static void *
av_slot(struct avec *a, size_t i)
{
	size_t off, k = av_chunk_of(i, &off);

	if (k >= AV_CHUNKS)
		return NULL;
	if (a->chunk[k] == NULL && (a->chunk[k] = calloc((size_t)AV_FIRST << k, a->esize)) == NULL)
		return NULL;
	return (char *)a->chunk[k] + off * a->esize;
}

/* Make the first n elements visible to readers. */
static void
av_publish(struct avec *a, size_t n)
{
	atomic_store_explicit(&a->n, n, memory_order_release);
}

static void
av_free(struct avec *a)
{
	size_t k;

	for (k = 0; k < AV_CHUNKS; k++)
		free(a->chunk[k]);
}

/* ---- view ----------------------------------------------------------------- */

static struct vconv *
conv_at(const struct cf_view *v, size_t idx)
{
	return av_at(&v->convs, idx);
}

static struct vroot *
root_load(const struct cf_view *v)
{
	return atomic_load_explicit(&v->root, memory_order_acquire);
}

/* A listing's own arrays: its entries belong to the conversations. */
static void
root_free(struct vroot *r)
{
	if (r == NULL)
		return;
	free(r->node.kids);
	free(r->node.sorted);
	free(r);
}

/* Wipe and free everything conversation c holds except its slot. */
static void
conv_clear(struct cf_view *v, struct vconv *c)
{
	size_t j;

	for (j = 0; j < c->nnodes; j++)
		vnode_clear(v, &c->nodes[j]);
	free(c->nodes);
	c->nodes = NULL;
	c->nnodes = 0;
	vnode_clear(v, &c->dir);
	if (c->title != NULL)
		explicit_bzero(c->title, strlen(c->title));
	free(c->title);
	c->title = NULL;
}

/* A conversation id with a position (in a list, or in the view). */
struct id_pos {
	const uint8_t *id;
	size_t pos;
};

static int
id_pos_cmp(const void *pa, const void *pb)
{
	const struct id_pos *a = pa, *b = pb;

	return memcmp(a->id, b->id, CF_ID_BYTES);
}

/* The position paired with id in ix (n entries sorted by id), or
 * NOT_LISTED. */
static size_t
id_pos_find(const struct id_pos *ix, size_t n, const uint8_t *id)
{
	size_t lo = 0, hi = n, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = memcmp(id, ix[mid].id, CF_ID_BYTES);
		if (c == 0)
			return ix[mid].pos;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NOT_LISTED;
}

/* Whether the folder of c still shows list entry e, named name: the same
 * title, message count and time span (messages are only ever added), and
 * not failed (a refresh retries a damaged conversation). */
static int
conv_same(const struct vconv *c, const struct cf_chat *e, const char *name)
{
	return atomic_load_explicit(&c->state, memory_order_acquire) >= 0 &&
	    strcmp(c->dir.name, name) == 0 &&
	    strcmp(c->title, e->title != NULL ? e->title : "") == 0 &&
	    c->messages == e->messages && c->first_ms == e->first_ms && c->last_ms == e->last_ms;
}

void
cf_view_delta_free(struct cf_view_delta *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->nnames; i++) {
		/* folder names are titles: wipe them */
		explicit_bzero(d->names[i], strlen(d->names[i]));
		free(d->names[i]);
	}
	free(d->names);
	free(d->inos);
	memset(d, 0, sizeof(*d));
}

/*
 * What the kernel must forget when listing nr replaces old: every root
 * name whose folder changed, appeared or went; the root itself and every
 * node of a conversation that listed[] (the new positions, for the nold
 * conversations that exist already) no longer lists.  Returns 0 or
 * -ENOMEM (d is then partly filled: the caller frees it).
 */
static int
delta_make(const struct cf_view *v, const struct vroot *old, const struct vroot *nr,
    const size_t *listed, size_t nold, struct cf_view_delta *d)
{
	struct vnode *const *a = old->node.sorted, *const *b = nr->node.sorted;
	size_t na = old->node.nkids, nb = nr->node.nkids, i, j, n, k;
	const struct vconv *c;
	const char *name;
	int pass, cmp;

	for (pass = 0; pass < 2; pass++) {
		for (i = j = n = 0; i < na || j < nb;) {
			cmp = i == na ? 1 : j == nb ? -1 : strcmp(a[i]->name, b[j]->name);
			if (cmp == 0 && a[i]->ino == b[j]->ino) {
				i++;
				j++;
				continue;
			}
			name = cmp <= 0 ? a[i]->name : b[j]->name;
			if (pass == 1) {
				if ((d->names[n] = strdup(name)) == NULL)
					return -ENOMEM;
				d->nnames = n + 1;
			}
			n++;
			d->added += pass == 0 && cmp >= 0;
			d->removed += pass == 0 && cmp <= 0 && listed[a[i]->conv] == NOT_LISTED;
			i += cmp <= 0;
			j += cmp >= 0;
		}
		if (pass == 0 && n > 0 && (d->names = calloc(n, sizeof(*d->names))) == NULL)
			return -ENOMEM;
	}
	for (pass = 0; pass < 2; pass++) {
		n = 1;
		for (i = 0; i < nold; i++) {
			c = conv_at(v, i);
			if (c->purged || listed[i] != NOT_LISTED ||
			    atomic_load_explicit(&c->listed, memory_order_relaxed) == NOT_LISTED)
				continue;
			if (pass == 1)
				d->inos[n] = c->dir.ino;
			n++;
			if (atomic_load_explicit(&c->state, memory_order_relaxed) != 1)
				continue;
			for (k = 0; k < c->nnodes; k++, n++)
				if (pass == 1)
					d->inos[n] = c->base + k;
		}
		if (pass == 0) {
			if ((d->inos = calloc(n, sizeof(*d->inos))) == NULL)
				return -ENOMEM;
			d->inos[0] = CF_VIEW_ROOT_INO;
		}
	}
	d->ninos = n;
	return 0;
}

/*
 * Make l the view's listing (lock held, or the view not shared yet): see
 * cf_view_refresh.  Everything is allocated before anything is
 * published, so that a failure changes nothing.
 */
static int
view_relist(struct cf_view *v, const struct cf_chat_list *l, int64_t now_ms,
    struct cf_view_delta *d)
{
	struct vroot *old = atomic_load_explicit(&v->root, memory_order_relaxed), *nr = NULL;
	struct id_pos *lix = NULL, *cix = NULL;
	struct vnode **kids = NULL;
	struct vrange *range = NULL;
	struct vconv *c;
	char **names = NULL;
	size_t *listed = NULL;
	size_t nold = av_count(&v->convs), ncur = old->node.nkids, nadd = 0, filled = 0;
	size_t nranges = av_count(&v->ranges), i, j, pos;
	uint64_t first = atomic_load_explicit(&v->next_ino, memory_order_relaxed);
	int64_t newest = 0;
	int rc, have_newest = 0;

	if (d != NULL)
		memset(d, 0, sizeof(*d));
	if (l->n > 0) {
		names = calloc(l->n, sizeof(*names));
		kids = calloc(l->n, sizeof(*kids));
		lix = calloc(l->n, sizeof(*lix));
		if (names == NULL || kids == NULL || lix == NULL)
			goto nomem;
		if ((rc = conv_names(l, names)) != 0)
			goto out;
	}
	if (ncur > 0 && (cix = calloc(ncur, sizeof(*cix))) == NULL)
		goto nomem;
	for (j = 0; j < l->n; j++) {
		lix[j].id = l->v[j].id;
		lix[j].pos = j;
	}
	if (l->n > 1)
		qsort(lix, l->n, sizeof(*lix), id_pos_cmp);
	for (i = 0; i < ncur; i++) {
		cix[i].pos = old->node.kids[i]->conv;
		cix[i].id = conv_at(v, cix[i].pos)->id;
	}
	if (ncur > 1)
		qsort(cix, ncur, sizeof(*cix), id_pos_cmp);

	/* A folder shown now that still shows the same content stays,
	 * inodes and built nodes included; any other entry gets a new one. */
	for (j = 0; j < l->n; j++) {
		pos = id_pos_find(cix, ncur, l->v[j].id);
		if (pos != NOT_LISTED && conv_same(conv_at(v, pos), &l->v[j], names[j])) {
			kids[j] = &conv_at(v, pos)->dir;
			atomic_store_explicit(&conv_at(v, pos)->until, l->v[j].until,
			    memory_order_relaxed);
		} else {
			nadd++;
		}
		if (l->v[j].last_ms != 0 && (!have_newest || l->v[j].last_ms > newest)) {
			newest = l->v[j].last_ms;
			have_newest = 1;
		}
	}
	for (j = 0; j < l->n; j++) {
		if (kids[j] != NULL)
			continue;
		if ((c = av_slot(&v->convs, nold + filled)) == NULL)
			goto nomem;
		memset(c, 0, sizeof(*c));
		c->dir.ino = first + filled;
		c->dir.parent = CF_VIEW_ROOT_INO;
		c->dir.kind = VN_DIR;
		c->dir.conv = nold + filled;
		c->dir.mtime = ms_to_secs(l->v[j].last_ms != 0 ? l->v[j].last_ms : now_ms);
		atomic_init(&c->dir.handle, NULL);
		atomic_init(&c->state, 0);
		atomic_init(&c->listed, j);
		atomic_init(&c->until, l->v[j].until);
		memcpy(c->id, l->v[j].id, CF_ID_BYTES);
		c->messages = l->v[j].messages;
		c->first_ms = l->v[j].first_ms;
		c->last_ms = l->v[j].last_ms;
		c->dir.name = names[j];
		names[j] = NULL;
		filled++;
		if ((c->title = strdup(l->v[j].title != NULL ? l->v[j].title : "")) == NULL)
			goto nomem;
		kids[j] = &c->dir;
	}
	if (nadd > 0 && (range = av_slot(&v->ranges, nranges)) == NULL)
		goto nomem;
	if ((nr = calloc(1, sizeof(*nr))) == NULL)
		goto nomem;
	nr->node.ino = CF_VIEW_ROOT_INO;
	nr->node.parent = CF_VIEW_ROOT_INO;
	nr->node.kind = VN_DIR;
	nr->node.conv = NO_CONV;
	nr->node.mtime = ms_to_secs(have_newest ? newest : now_ms);
	atomic_init(&nr->node.handle, NULL);
	if (dir_set_kids(&nr->node, kids, l->n) != 0)
		goto nomem;
	kids = NULL;
	if (nold + nadd > 0 && (listed = calloc(nold + nadd, sizeof(*listed))) == NULL)
		goto nomem;
	for (i = 0; i < nold + nadd; i++) {
		c = conv_at(v, i);
		listed[i] = c->purged ? NOT_LISTED : id_pos_find(lix, l->n, c->id);
	}
	if (d != NULL && delta_make(v, old, nr, listed, nold, d) != 0)
		goto nomem;

	/* Publish: the new folders and their inodes, then who is listed
	 * where, then the listing itself.  Nothing can fail from here. */
	if (nadd > 0) {
		range->start = first;
		range->count = nadd;
		range->conv = nold;
		range->dirs = 1;
		atomic_store_explicit(&v->next_ino, first + nadd, memory_order_relaxed);
		av_publish(&v->convs, nold + nadd);
		av_publish(&v->ranges, nranges + 1);
	}
	for (i = 0; i < nold + nadd; i++)
		atomic_store_explicit(&conv_at(v, i)->listed, listed[i], memory_order_release);
	atomic_store_explicit(&v->root, nr, memory_order_release);
	old->next = v->retired;
	v->retired = old;
	nr = NULL;
	filled = 0;
	rc = 0;
	goto out;
nomem:
	cf_error("out of memory");
	rc = -ENOMEM;
out:
	/* On failure: the slots filled are past the count, unseen. */
	for (i = 0; i < filled; i++)
		conv_clear(v, conv_at(v, nold + i));
	if (names != NULL) {
		for (j = 0; j < l->n; j++)
			free(names[j]);
	}
	free(names);
	free(kids);
	free(lix);
	free(cix);
	free(listed);
	root_free(nr);
	if (rc != 0)
		cf_view_delta_free(d);
	return rc;
}

int
cf_view_new(struct cf_view **vp, const struct cf_chat_list *l, const char *tz,
    int64_t now_ms, void (*handle_close)(void *h))
{
	struct cf_view *v;
	struct vroot *empty;
	int rc;

	*vp = NULL;
	if (tz != NULL && *tz != '\0' && cf_tz_valid(tz) != 0) {
		cf_error("unknown time zone %s", tz);
		return -EINVAL;
	}
	if ((v = calloc(1, sizeof(*v))) == NULL) {
		cf_error("out of memory");
		return -ENOMEM;
	}
	if ((rc = pthread_mutex_init(&v->lock, NULL)) != 0) {
		free(v);
		cf_error("cannot create a lock: %s", strerror(rc));
		return -rc;
	}
	v->handle_close = handle_close;
	v->convs.esize = sizeof(struct vconv);
	v->ranges.esize = sizeof(struct vrange);
	atomic_init(&v->convs.n, 0);
	atomic_init(&v->ranges.n, 0);
	atomic_init(&v->next_ino, CF_VIEW_ROOT_INO + 1);
	/* An empty listing for view_relist to replace: the first folders
	 * get inodes 2..n+1, in list order. */
	if ((empty = calloc(1, sizeof(*empty))) == NULL) {
		atomic_init(&v->root, NULL);
		goto nomem;
	}
	empty->node.ino = CF_VIEW_ROOT_INO;
	empty->node.kind = VN_DIR;
	empty->node.conv = NO_CONV;
	atomic_init(&empty->node.handle, NULL);
	atomic_init(&v->root, empty);
	if (tz != NULL && *tz != '\0' && (v->tz = strdup(tz)) == NULL)
		goto nomem;
	if ((rc = view_relist(v, l, now_ms, NULL)) != 0)
		goto fail;
	cf_view_reclaim(v);
	*vp = v;
	return 0;
nomem:
	cf_error("out of memory");
	rc = -ENOMEM;
fail:
	cf_view_free(v);
	return rc;
}

int
cf_view_refresh(struct cf_view *v, const struct cf_chat_list *l, int64_t now_ms,
    struct cf_view_delta *d)
{
	int rc;

	if ((rc = pthread_mutex_lock(&v->lock)) != 0) {
		cf_error("cannot take the view's lock: %s", strerror(rc));
		return -rc;
	}
	rc = view_relist(v, l, now_ms, d);
	pthread_mutex_unlock(&v->lock);
	return rc;
}

void
cf_view_reclaim(struct cf_view *v)
{
	struct vroot *r;
	struct vconv *c;
	size_t i, n;

	if (pthread_mutex_lock(&v->lock) != 0)
		return;
	while ((r = v->retired) != NULL) {
		v->retired = r->next;
		root_free(r);
	}
	n = av_count(&v->convs);
	for (i = 0; i < n; i++) {
		c = conv_at(v, i);
		if (c->purged || atomic_load_explicit(&c->listed, memory_order_relaxed) != NOT_LISTED)
			continue;
		conv_clear(v, c);
		c->purged = 1;
	}
	pthread_mutex_unlock(&v->lock);
}

void
cf_view_free(struct cf_view *v)
{
	struct vroot *r;
	size_t i, n;

	if (v == NULL)
		return;
	n = av_count(&v->convs);
	for (i = 0; i < n; i++)
		conv_clear(v, conv_at(v, i));
	av_free(&v->convs);
	av_free(&v->ranges);
	root_free(atomic_load_explicit(&v->root, memory_order_relaxed));
	while ((r = v->retired) != NULL) {
		v->retired = r->next;
		root_free(r);
	}
	free(v->tz);
	pthread_mutex_destroy(&v->lock);
	free(v);
}

size_t
cf_view_nconv(const struct cf_view *v)
{
	return av_count(&v->convs);
}

const char *
cf_view_conv_name(const struct cf_view *v, size_t idx)
{
	return idx < av_count(&v->convs) ? conv_at(v, idx)->dir.name : NULL;
}

int
cf_view_conv_state(const struct cf_view *v, size_t idx)
{
	if (idx >= av_count(&v->convs))
		return -ENOENT;
	return atomic_load_explicit(&conv_at(v, idx)->state, memory_order_acquire);
}

int
cf_view_conv_listed(const struct cf_view *v, size_t idx, size_t *pos)
{
	size_t p;

	if (idx >= av_count(&v->convs))
		return -ENOENT;
	p = atomic_load_explicit(&conv_at(v, idx)->listed, memory_order_acquire);
	if (p == NOT_LISTED)
		return -EACCES;
	*pos = p;
	return 0;
}

uint64_t
cf_view_ninodes(const struct cf_view *v)
{
	return atomic_load_explicit(&v->next_ino, memory_order_relaxed) - 1;
}

/*
 * The node ino names: 0 with *np set, -ENOENT, or -EACCES when its
 * conversation is no longer listed.
 */
static int
node_get(const struct cf_view *v, uint64_t ino, const struct vnode **np)
{
	const struct vrange *r;
	const struct vconv *c;
	size_t lo, hi, mid;

	if (ino == CF_VIEW_ROOT_INO) {
		*np = &root_load(v)->node;
		return 0;
	}
	/* The last run that starts at or before ino. */
	lo = 0;
	hi = av_count(&v->ranges);
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		r = av_at(&v->ranges, mid);
		if (r->start <= ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return -ENOENT;
	r = av_at(&v->ranges, lo - 1);
	if (ino - r->start >= r->count)
		return -ENOENT;
	c = conv_at(v, r->dirs ? r->conv + (size_t)(ino - r->start) : r->conv);
	if (atomic_load_explicit(&c->listed, memory_order_acquire) == NOT_LISTED)
		return -EACCES;
	*np = r->dirs ? &c->dir : &c->nodes[ino - r->start];
	return 0;
}

static int
is_conv_dir(const struct cf_view *v, const struct vnode *n)
{
	return n->kind == VN_DIR && n->conv != NO_CONV && n == &conv_at(v, n->conv)->dir;
}

static void
node_attr(const struct cf_view *v, const struct vnode *n, struct cf_view_attr *a)
{
	int st;

	memset(a, 0, sizeof(*a));
	a->ino = n->ino;
	a->parent = n->parent;
	a->is_dir = n->kind == VN_DIR;
	a->size = n->kind == VN_DIR ? 0 : n->size;
	a->mtime = n->mtime;
	a->final = 1;
	if (n->kind != VN_DIR) {
		a->nlink = 1;
		return;
	}
	if (is_conv_dir(v, n)) {
		st = atomic_load_explicit(&conv_at(v, n->conv)->state, memory_order_acquire);
		if (st == 1) {
			a->nlink = 2 + n->nsubdirs;
		} else if (st == 0) {
			a->nlink = 1;
			a->final = 0;
		} else {
			a->nlink = 2;
		}
		return;
	}
	a->nlink = 2 + n->nsubdirs;
}

int
cf_view_conv_of(const struct cf_view *v, uint64_t ino, size_t *idx)
{
	const struct vnode *n;
	int rc;

	if ((rc = node_get(v, ino, &n)) != 0)
		return rc;
	if (n->conv == NO_CONV)
		return -ENOENT;
	*idx = n->conv;
	return 0;
}

int
cf_view_getattr(const struct cf_view *v, uint64_t ino, struct cf_view_attr *a)
{
	const struct vnode *n;
	int rc;

	if ((rc = node_get(v, ino, &n)) != 0)
		return rc;
	node_attr(v, n, a);
	return 0;
}

/* A folder ready to be searched or listed, or why not. */
static int
dir_ready(const struct cf_view *v, uint64_t ino, const struct vnode **dp)
{
	const struct vnode *d;
	int rc, st;

	if ((rc = node_get(v, ino, &d)) != 0)
		return rc;
	if (d->kind != VN_DIR)
		return -ENOTDIR;
	if (is_conv_dir(v, d)) {
		st = atomic_load_explicit(&conv_at(v, d->conv)->state, memory_order_acquire);
		if (st == 0)
			return -EAGAIN;
		if (st < 0)
			return -EIO;
	}
	*dp = d;
	return 0;
}

int
cf_view_lookup(const struct cf_view *v, uint64_t parent, const char *name,
    struct cf_view_attr *a)
{
	const struct vnode *d, *n;
	int rc;

	if ((rc = dir_ready(v, parent, &d)) != 0)
		return rc;
	if ((n = dir_find(d, name)) == NULL)
		return -ENOENT;
	node_attr(v, n, a);
	return 0;
}

int
cf_view_readdir(const struct cf_view *v, uint64_t dir, size_t pos, const char **name,
    struct cf_view_attr *a)
{
	const struct vnode *d;
	int rc;

	if ((rc = dir_ready(v, dir, &d)) != 0)
		return rc;
	if (pos >= d->nkids)
		return 0;
	*name = d->kids[pos]->name;
	node_attr(v, d->kids[pos], a);
	return 1;
}

int
cf_view_text(const struct cf_view *v, uint64_t ino, const char **text, size_t *len)
{
	const struct vnode *n;
	int rc;

	if ((rc = node_get(v, ino, &n)) != 0)
		return rc;
	if (n->kind == VN_DIR)
		return -EISDIR;
	if (n->kind != VN_TEXT)
		return -EINVAL;
	*text = n->text;
	*len = (size_t)n->size;
	return 0;
}

int
cf_view_attachment(const struct cf_view *v, uint64_t ino, size_t *conv,
    uint8_t blob_id[CF_ID_BYTES], uint64_t *size)
{
	const struct vnode *n;
	int rc;

	if ((rc = node_get(v, ino, &n)) != 0)
		return rc;
	if (n->kind != VN_ATTACH)
		return -EINVAL;
	*conv = n->conv;
	memcpy(blob_id, n->blob_id, CF_ID_BYTES);
	*size = n->size;
	return 0;
}

int64_t
cf_view_conv_until(const struct cf_view *v, size_t idx)
{
	if (idx >= av_count(&v->convs))
		return 0;
	return atomic_load_explicit(&conv_at((struct cf_view *)v, idx)->until,
	    memory_order_relaxed);
}

/* A day transcript's name: "YYYY-MM-DD.txt". */
static int
is_day_name(const char *s)
{
	int i;

	for (i = 0; i < 10; i++) {
		if (i == 4 || i == 7) {
			if (s[i] != '-')
				return 0;
		} else if (s[i] < '0' || s[i] > '9') {
			return 0;
		}
	}
	return strcmp(s + 10, ".txt") == 0;
}

int
cf_view_file_ref(const struct cf_view *v, uint64_t ino, size_t *conv, char *buf, size_t n)
{
	const struct vnode *f;
	char hex[2 * CF_ID_BYTES + 1];
	int rc;

	if ((rc = node_get(v, ino, &f)) != 0)
		return rc;
	if (f->kind == VN_DIR || f->conv == NO_CONV)
		return -EISDIR;
	*conv = f->conv;
	if (f->kind == VN_ATTACH) {
		cf_hex_encode(hex, f->blob_id, CF_ID_BYTES);
		snprintf(buf, n, "attachment:%s", hex);
	} else if (strcmp(f->name, INFO_NAME) == 0 || is_day_name(f->name)) {
		snprintf(buf, n, "%s", f->name);
	} else {
		snprintf(buf, n, "file:%llu", (unsigned long long)f->ino);
	}
	return 0;
}

int
cf_view_read_audited(const struct cf_view *v, uint64_t ino)
{
	const struct vnode *f;

	if (node_get(v, ino, &f) != 0)
		return 0;
	return atomic_load_explicit(&f->read_audited, memory_order_acquire);
}

void
cf_view_set_read_audited(const struct cf_view *v, uint64_t ino)
{
	const struct vnode *f;

	if (node_get(v, ino, &f) == 0)
		atomic_store_explicit((atomic_int *)&f->read_audited, 1, memory_order_release);
}

void *
cf_view_handle_get(const struct cf_view *v, uint64_t ino)
{
	const struct vnode *n;

	if (node_get(v, ino, &n) != 0 || n->kind != VN_ATTACH)
		return NULL;
	/* The cast drops const only to reach the atomic load. */
	return atomic_load_explicit((_Atomic(void *) *)&n->handle, memory_order_acquire);
}

int
cf_view_handle_set(struct cf_view *v, uint64_t ino, void *h)
{
	const struct vnode *n;
	void *expected = NULL;
	int rc;

	if ((rc = node_get(v, ino, &n)) != 0)
		return rc;
	if (n->kind != VN_ATTACH)
		return -EINVAL;
	/* Nodes are const to readers; a handle is the one field set later. */
	if (!atomic_compare_exchange_strong_explicit((_Atomic(void *) *)&n->handle, &expected, h,
	    memory_order_acq_rel, memory_order_acquire))
		return -EEXIST;
	return 0;
}

/* ---- building a conversation ---------------------------------------------- */

/* A message's time broken down in the display zone. */
struct mtime {
	int year, mon, day, hour, min, sec;
	int64_t daykey;                 /* year * 10000 + mon * 100 + day */
};

struct build {
	const struct cf_view *v;
	const struct cf_chat *c;
	const struct cf_chat_content *cc;
	struct mtime *t;                /* one per message */
	char **attnames;                /* every attachment, in message order */
	size_t natt;
	size_t *attfirst;               /* per message: index of its first attachment name */
	int64_t *days;                  /* distinct day keys, ascending */
	size_t ndays;
	size_t *day_of;                 /* per message: index into days */
	size_t *day_first;              /* per day: its first message */
};

static int
daykey_cmp(const void *pa, const void *pb)
{
	const int64_t *a = pa, *b = pb;

	return *a < *b ? -1 : *a > *b;
}

static size_t
day_index(const struct build *b, int64_t key)
{
	size_t lo = 0, hi = b->ndays, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (b->days[mid] < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int
build_times(struct build *b)
{
	const struct cf_chat_content *cc = b->cc;
	struct tm tm;
	size_t i, n = 0;
	int rc;

	if (cc->n == 0)
		return 0;
	b->t = calloc(cc->n, sizeof(*b->t));
	b->days = calloc(cc->n, sizeof(*b->days));
	b->attfirst = calloc(cc->n, sizeof(*b->attfirst));
	if (b->t == NULL || b->days == NULL || b->attfirst == NULL) {
		cf_error("out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < cc->n; i++) {
		struct mtime *t = &b->t[i];

		if ((rc = cf_localtime(cc->msgs[i].ts_ms, b->v->tz, &tm)) != 0) {
			cf_error("cannot convert a message time to zone %s",
			    b->v->tz != NULL ? b->v->tz : "UTC");
			return rc;
		}
		t->year = tm.tm_year + 1900;
		t->mon = tm.tm_mon + 1;
		t->day = tm.tm_mday;
		t->hour = tm.tm_hour;
		t->min = tm.tm_min;
		t->sec = tm.tm_sec;
		t->daykey = (int64_t)t->year * 10000 + t->mon * 100 + t->day;
		b->days[i] = t->daykey;
		b->attfirst[i] = b->natt;
		b->natt += cc->msgs[i].natt;
	}
	qsort(b->days, cc->n, sizeof(*b->days), daykey_cmp);
	for (i = 0; i < cc->n; i++) {
		if (n == 0 || b->days[n - 1] != b->days[i])
			b->days[n++] = b->days[i];
	}
	b->ndays = n;
	b->day_of = calloc(cc->n, sizeof(*b->day_of));
	b->day_first = calloc(n, sizeof(*b->day_first));
	if (b->day_of == NULL || b->day_first == NULL) {
		cf_error("out of memory");
		return -ENOMEM;
	}
	for (i = cc->n; i-- > 0;) {
		b->day_of[i] = day_index(b, b->t[i].daykey);
		b->day_first[b->day_of[i]] = i;
	}
	return 0;
}

/*
 * Name every attachment: its sanitised name ("attachment" when empty);
 * a name that occurs more than once gets, on every copy, its message's
 * "YYYY-MM-DD_HHMMSS_" prefix; any clash left gets "_2", "_3"… before the
 * extension.
 */
static int
build_attnames(struct build *b)
{
	const struct cf_chat_content *cc = b->cc;
	struct sset count = { 0 }, taken = { 0 };
	char **base = NULL, *cand = NULL;
	size_t i, j, k, *cnt;
	unsigned long num;
	int rc = -ENOMEM;

	if (b->natt == 0)
		return 0;
	base = calloc(b->natt, sizeof(*base));
	b->attnames = calloc(b->natt, sizeof(*b->attnames));
	if (base == NULL || b->attnames == NULL)
		goto out;
	for (i = 0, k = 0; i < cc->n; i++) {
		for (j = 0; j < cc->msgs[i].natt; j++, k++) {
			const char *nm = cc->msgs[i].att[j].name;

			if ((base[k] = cf_view_sanitize(nm != NULL ? nm : "")) == NULL)
				goto out;
			if (base[k][0] == '\0') {
				free(base[k]);
				if ((base[k] = strdup("attachment")) == NULL)
					goto out;
			}
			if ((cnt = sset_get(&count, base[k])) == NULL)
				goto out;
			(*cnt)++;
		}
	}
	/* Names that occur once keep their name and are taken first, so that
	 * no prefixed or numbered name can steal them. */
	for (k = 0; k < b->natt; k++) {
		cnt = sset_find(&count, base[k]);
		if (cnt != NULL && *cnt == 1) {
			b->attnames[k] = base[k];
			base[k] = NULL;
			if (sset_get(&taken, b->attnames[k]) == NULL)
				goto out;
		}
	}
	for (i = 0, k = 0; i < cc->n; i++) {
		const struct mtime *t = &b->t[i];

		for (j = 0; j < cc->msgs[i].natt; j++, k++) {
			if (b->attnames[k] != NULL)
				continue;
			cand = str_printf("%04d-%02d-%02d_%02d%02d%02d_%s", t->year, t->mon, t->day,
			    t->hour, t->min, t->sec, base[k]);
			if (cand == NULL)
				goto out;
			if (!sset_has(&taken, cand)) {
				b->attnames[k] = cand;
				cand = NULL;
			}
			for (num = 2; b->attnames[k] == NULL; num++) {
				if ((b->attnames[k] = name_numbered(cand, num)) == NULL)
					goto out;
				if (sset_has(&taken, b->attnames[k])) {
					free(b->attnames[k]);
					b->attnames[k] = NULL;
				}
			}
			free(cand);
			cand = NULL;
			if (sset_get(&taken, b->attnames[k]) == NULL)
				goto out;
		}
	}
	rc = 0;
out:
	if (rc != 0)
		cf_error("out of memory");
	free(cand);
	if (base != NULL) {
		for (k = 0; k < b->natt; k++)
			free(base[k]);
	}
	free(base);
	/* count's keys pointed into base: free the table only. */
	sset_free(&count);
	sset_free(&taken);
	return rc;
}

/* One message as transcript lines. */
/*
 * Members of cf_msg.extra that importers fill by convention (import.h) and
 * that the transcript renders; everything else in extra is a source field
 * the view does not know, listed in info.txt.  "source"/"source_text" (the
 * original input) and "dup" are kept in the record but shown nowhere.
 */
static const char *const extra_known[] = {
	"kind", "reply_to", "edits", "edited", "edited_ts", "reactions", "missing_attachments",
	"thread", "forwarded_from", "poll", "date_guess", "quote", "source", "source_text", "dup",
	NULL,
};

static int
extra_is_known(const char *key)
{
	for (size_t i = 0; extra_known[i] != NULL; i++)
		if (strcmp(extra_known[i], key) == 0)
			return 1;
	return 0;
}

/* The message whose source id is id, searched backwards from before i
 * (replies follow what they answer), then forwards. */
static const struct cf_msg *
find_by_id(const struct build *b, size_t i, const char *id, size_t *at)
{
	const struct cf_chat_content *cc = b->cc;
	size_t j;

	for (j = i; j-- > 0;)
		if (cc->msgs[j].id != NULL && strcmp(cc->msgs[j].id, id) == 0)
			return *at = j, &cc->msgs[j];
	for (j = i + 1; j < cc->n; j++)
		if (cc->msgs[j].id != NULL && strcmp(cc->msgs[j].id, id) == 0)
			return *at = j, &cc->msgs[j];
	return NULL;
}

/* First line of s, at most max bytes (cut on a UTF-8 boundary), "…" if cut. */
static void
sb_put_excerpt(struct sbuf *sb, const char *s, size_t max)
{
	size_t n = strcspn(s, "\r\n");
	int cut = s[n] != '\0';

	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
		cut = 1;
	}
	sb_add(sb, s, n);
	if (cut)
		sb_puts(sb, "…");
}

/* The continuation lines that extra's conventional members call for. */
static void
render_extra(struct sbuf *sb, const struct build *b, size_t i, json_t *x)
{
	json_t *v, *e;
	size_t k;
	const char *str;

	if ((str = json_string_value(json_object_get(x, "forwarded_from"))) != NULL) {
		sb_puts(sb, "\n" INDENT "[forwarded from ");
		sb_put_oneline(sb, str);
		sb_putc(sb, ']');
	}
	v = json_object_get(x, "reply_to");
	if (json_is_string(v) || json_is_integer(v)) {
		char idbuf[32];
		const struct cf_msg *r;
		size_t at = 0;

		if (json_is_integer(v)) {
			snprintf(idbuf, sizeof(idbuf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
			str = idbuf;
		} else {
			str = json_string_value(v);
		}
		if ((r = find_by_id(b, i, str, &at)) != NULL) {
			const struct mtime *t = &b->t[at];

			sb_printf(sb, "\n" INDENT "[in reply to %04d-%02d-%02d %02d:%02d:%02d ",
			    t->year, t->mon, t->day, t->hour, t->min, t->sec);
			sb_put_oneline(sb, r->sender != NULL && r->sender[0] != '\0' ? r->sender : "*");
			sb_puts(sb, ": ");
			sb_put_excerpt(sb, r->body != NULL ? r->body : "", 60);
			sb_putc(sb, ']');
		} else {
			sb_puts(sb, "\n" INDENT "[in reply to message ");
			sb_put_oneline(sb, str);
			sb_puts(sb, ", not in this archive]");
		}
	}
	/* a quote says what was answered even where the reply has no id */
	v = json_object_get(x, "quote");
	if (json_is_object(v) && json_object_get(x, "reply_to") == NULL) {
		const char *who = json_string_value(json_object_get(v, "author"));

		str = json_string_value(json_object_get(v, "text"));
		sb_puts(sb, "\n" INDENT "[quoting ");
		sb_put_oneline(sb, who != NULL && who[0] != '\0' ? who : "?");
		sb_puts(sb, ": ");
		sb_put_excerpt(sb, str != NULL ? str : "", 60);
		sb_putc(sb, ']');
	}
	v = json_object_get(x, "edits");
	if (json_is_array(v) && json_array_size(v) > 0) {
		json_array_foreach(v, k, e) {
			str = json_string_value(json_object_get(e, "body"));
			sb_puts(sb, "\n" INDENT "[before an edit: ");
			sb_put_excerpt(sb, str != NULL ? str : "", 200);
			sb_putc(sb, ']');
		}
	} else if (json_object_get(x, "edited_ts") != NULL ||
	    json_is_true(json_object_get(x, "edited")) ||
	    (json_is_string(json_object_get(x, "kind")) &&
	    strcmp(json_string_value(json_object_get(x, "kind")), "edited") == 0)) {
		sb_puts(sb, "\n" INDENT "[edited]");
	}
	v = json_object_get(x, "missing_attachments");
	if (json_is_array(v)) {
		json_array_foreach(v, k, e) {
			const char *name = json_string_value(json_object_get(e, "name"));
			const char *why = json_string_value(json_object_get(e, "reason"));

			sb_puts(sb, "\n" INDENT "[attachment not in the archive: ");
			sb_put_oneline(sb, name != NULL && name[0] != '\0' ? name : "(no name)");
			if (why != NULL && why[0] != '\0') {
				sb_puts(sb, " (");
				sb_put_oneline(sb, why);
				sb_putc(sb, ')');
			}
			sb_putc(sb, ']');
		}
	}
	v = json_object_get(x, "reactions");
	if (json_is_array(v) && json_array_size(v) > 0) {
		sb_puts(sb, "\n" INDENT "[reactions:");
		json_array_foreach(v, k, e) {
			json_t *by = json_object_get(e, "by"), *who;
			json_int_t count = json_integer_value(json_object_get(e, "count"));
			size_t w;

			str = json_string_value(json_object_get(e, "emoji"));
			sb_puts(sb, k > 0 ? "; " : " ");
			sb_put_oneline(sb, str != NULL ? str : "?");
			if (json_is_array(by) && json_array_size(by) > 0) {
				json_array_foreach(by, w, who) {
					const char *name = json_string_value(who);

					sb_puts(sb, w > 0 ? ", " : " ");
					sb_put_oneline(sb, name != NULL ? name : "?");
				}
			} else if (count > 0) {
				sb_printf(sb, " %" JSON_INTEGER_FORMAT, count);
			}
		}
		sb_putc(sb, ']');
	}
}

static void
render_msg(struct sbuf *sb, const struct build *b, size_t i)
{
	const struct cf_msg *m = &b->cc->msgs[i];
	const struct mtime *t = &b->t[i];
	const char *body = m->body != NULL ? m->body : "";
	size_t j;

	sb_printf(sb, "%02d:%02d:%02d  ", t->hour, t->min, t->sec);
	if (m->sender != NULL && m->sender[0] != '\0') {
		sb_put_oneline(sb, m->sender);
		sb_putc(sb, ':');
	} else {
		sb_putc(sb, '*');
	}
	if (body[0] != '\0') {
		const char *p = body, *nl;

		sb_putc(sb, ' ');
		for (;;) {
			nl = strchr(p, '\n');
			if (nl == NULL) {
				sb_puts(sb, p);
				break;
			}
			/* "\r\n" counts as "\n". */
			sb_add(sb, p, (size_t)(nl - p) - (nl > p && nl[-1] == '\r'));
			sb_puts(sb, "\n" INDENT);
			p = nl + 1;
		}
	}
	for (j = 0; j < m->natt; j++) {
		if (j == 0 && body[0] == '\0')
			sb_puts(sb, " [attachment: " ATT_DIR "/");
		else
			sb_puts(sb, "\n" INDENT "[attachment: " ATT_DIR "/");
		sb_puts(sb, b->attnames[b->attfirst[i] + j]);
		sb_putc(sb, ']');
	}
	if (m->extra != NULL && m->extra[0] != '\0') {
		json_t *x = json_loads(m->extra, 0, NULL);

		if (json_is_object(x))
			render_extra(sb, b, i, x);
		json_decref(x);
	}
	sb_putc(sb, '\n');
}

/*
 * Every day transcript in one pass over the messages: days[d] gets the
 * text of day d (an index into b->days; the node's text and size) and
 * its mtime, the time of its last message.  Returns 0 or -ENOMEM.
 */
static int
render_days(const struct build *b, struct vnode *days)
{
	struct sbuf *sb;
	size_t i, d, len;
	int rc = 0;

	if (b->ndays == 0)
		return 0;
	if ((sb = calloc(b->ndays, sizeof(*sb))) == NULL)
		return -ENOMEM;
	for (d = 0; d < b->ndays; d++)
		days[d].mtime = INT64_MIN;
	for (i = 0; i < b->cc->n; i++) {
		d = b->day_of[i];
		render_msg(&sb[d], b, i);
		if (ms_to_secs(b->cc->msgs[i].ts_ms) > days[d].mtime)
			days[d].mtime = ms_to_secs(b->cc->msgs[i].ts_ms);
	}
	for (d = 0; d < b->ndays; d++) {
		if ((days[d].text = sb_take(&sb[d], &len)) == NULL)
			rc = -ENOMEM;
		days[d].size = len;
	}
	free(sb);
	return rc;
}

/* Add s to the list (", "-separated in sb) unless seen already. */
static int
list_add_distinct(struct sbuf *sb, struct sset *seen, const char *s)
{
	size_t *val;

	if (s == NULL || s[0] == '\0' || sset_has(seen, s))
		return 0;
	if ((val = sset_get(seen, s)) == NULL)
		return -ENOMEM;
	if (seen->n > 1)
		sb_puts(sb, ", ");
	sb_put_oneline(sb, s);
	return 0;
}

static char *
render_info(const struct build *b, size_t *len)
{
	const struct cf_chat *c = b->c;
	const struct cf_chat_content *cc = b->cc;
	struct sbuf sb = { 0 };
	struct sset seen = { 0 };
	char hex[2 * CF_ID_BYTES + 1], when[40];
	size_t i, nextra = 0;
	int rc = 0;

	cf_hex_encode(hex, c->id, CF_ID_BYTES);
	sb_puts(&sb, "Title: ");
	sb_put_oneline(&sb, c->title != NULL ? c->title : "");
	sb_printf(&sb, "\nConversation: %s\nSource: ", hex);
	for (i = 0; i < cc->nhdrs && rc == 0; i++)
		rc = list_add_distinct(&sb, &seen, cc->hdrs[i].source);
	if (seen.n == 0 && rc == 0)
		rc = list_add_distinct(&sb, &seen, c->source);
	sset_free(&seen);

	sb_puts(&sb, "\nSource chat id: ");
	if (c->chat != NULL && c->chat[0] != '\0')
		sb_put_oneline(&sb, c->chat);
	else if (cc->nhdrs > 0 && cc->hdrs[0].chat != NULL)
		sb_put_oneline(&sb, cc->hdrs[0].chat);

	sb_puts(&sb, "\nTime zone of source times: ");
	for (i = 0; i < cc->n && rc == 0; i++)
		rc = list_add_distinct(&sb, &seen, cc->msgs[i].tz);
	if (seen.n == 0)
		sb_puts(&sb, "none (all times carried an offset)");
	sset_free(&seen);

	sb_puts(&sb, "\nParticipants: ");
	for (i = 0; i < cc->n && rc == 0; i++) {
		rc = list_add_distinct(&sb, &seen, cc->msgs[i].sender);
		nextra += cc->msgs[i].extra != NULL && cc->msgs[i].extra[0] != '\0';
	}
	sset_free(&seen);

	sb_printf(&sb, "\nMessages: %zu\nAttachments: %zu\n", cc->n, b->natt);
	if (cc->n > 0) {
		cf_format_time_utc(cc->msgs[0].ts_ms, when, sizeof(when));
		sb_printf(&sb, "First: %s\n", when);
		cf_format_time_utc(cc->msgs[cc->n - 1].ts_ms, when, sizeof(when));
		sb_printf(&sb, "Last: %s\n", when);
	} else {
		sb_puts(&sb, "First: none\nLast: none\n");
	}
	sb_printf(&sb, "Shown in zone: %s\n", b->v->tz != NULL ? b->v->tz : "UTC");
	if (nextra > 0) {
		sb_puts(&sb, "Extra fields:\n");
		for (i = 0; i < cc->n; i++) {
			const struct cf_msg *m = &cc->msgs[i];
			const struct mtime *t = &b->t[i];

			json_t *x, *val;
			const char *key;
			void *tmp;
			char *text;

			if (m->extra == NULL || m->extra[0] == '\0')
				continue;
			/* only what the transcript does not show */
			x = json_loads(m->extra, JSON_DECODE_ANY, NULL);
			if (!json_is_object(x)) {
				json_decref(x);
				continue;
			}
			json_object_foreach_safe(x, tmp, key, val)
				if (extra_is_known(key))
					json_object_del(x, key);
			text = json_object_size(x) > 0 ?
			    json_dumps(x, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
			json_decref(x);
			if (text == NULL)
				continue;
			sb_puts(&sb, "  ");
			if (m->id != NULL && m->id[0] != '\0')
				sb_put_oneline(&sb, m->id);
			else
				sb_printf(&sb, "%04d-%02d-%02d %02d:%02d:%02d", t->year, t->mon,
				    t->day, t->hour, t->min, t->sec);
			sb_puts(&sb, ": ");
			sb_put_oneline(&sb, text);
			sb_putc(&sb, '\n');
			cf_wipe(text, strlen(text));
			free(text);
		}
	}
	if (rc != 0 && sb.err == 0)
		sb.err = rc;
	return sb_take(&sb, len);
}

static void
build_clear(struct build *b)
{
	size_t k;

	if (b->attnames != NULL) {
		for (k = 0; k < b->natt; k++)
			free(b->attnames[k]);
	}
	free(b->attnames);
	free(b->t);
	free(b->days);
	free(b->attfirst);
	free(b->day_of);
	free(b->day_first);
}

/*
 * Make the nodes of conversation idx (not yet numbered: base is set by the
 * caller).  Layout of nodes[]: days, then (if any attachment) the
 * attachments folder and its files, then info.txt.
 */
static int
build_nodes(struct cf_view *v, size_t idx, const struct cf_chat *c,
    const struct cf_chat_content *cc, struct vnode **nodesp, size_t *nnodesp,
    struct vnode ***convkids, size_t *nconvkids, uint64_t base)
{
	struct build b = { .v = v, .c = c, .cc = cc };
	struct vnode *nodes = NULL, *n, *attdir = NULL;
	struct vnode **kids = NULL, **attkids = NULL;
	size_t nnodes = 0, nk = 0, d, i, j, k;
	int rc;

	if ((rc = build_times(&b)) != 0 || (rc = build_attnames(&b)) != 0)
		goto out;
	nnodes = b.ndays + (b.natt > 0 ? 1 + b.natt : 0) + 1;
	nodes = calloc(nnodes, sizeof(*nodes));
	kids = calloc(b.ndays + 2, sizeof(*kids));
	if (nodes == NULL || kids == NULL)
		goto nomem;
	for (i = 0; i < nnodes; i++) {
		nodes[i].ino = base + i;
		nodes[i].conv = idx;
		nodes[i].parent = conv_at(v, idx)->dir.ino;
		atomic_init(&nodes[i].handle, NULL);
	}
	if (render_days(&b, nodes) != 0)
		goto nomem;
	for (d = 0; d < b.ndays; d++) {
		const struct mtime *t = &b.t[b.day_first[d]];

		n = &nodes[d];
		n->kind = VN_TEXT;
		if ((n->name = str_printf("%04d-%02d-%02d.txt", t->year, t->mon, t->day)) == NULL)
			goto nomem;
		kids[nk++] = n;
	}
	if (b.natt > 0) {
		attdir = &nodes[b.ndays];
		attdir->kind = VN_DIR;
		attdir->mtime = INT64_MIN;
		if ((attdir->name = strdup(ATT_DIR)) == NULL)
			goto nomem;
		if ((attkids = calloc(b.natt, sizeof(*attkids))) == NULL)
			goto nomem;
		for (i = 0, k = 0; i < cc->n; i++) {
			for (j = 0; j < cc->msgs[i].natt; j++, k++) {
				n = &nodes[b.ndays + 1 + k];
				n->kind = VN_ATTACH;
				n->parent = attdir->ino;
				n->name = b.attnames[k];
				b.attnames[k] = NULL;
				n->size = cc->msgs[i].att[j].size;
				n->mtime = ms_to_secs(cc->msgs[i].ts_ms);
				memcpy(n->blob_id, cc->msgs[i].att[j].blob_id, CF_ID_BYTES);
				if (n->mtime > attdir->mtime)
					attdir->mtime = n->mtime;
				attkids[k] = n;
			}
		}
		if ((rc = dir_set_kids(attdir, attkids, b.natt)) != 0)
			goto nomem;
		attkids = NULL;
		kids[nk++] = attdir;
	}
	n = &nodes[nnodes - 1];
	n->kind = VN_TEXT;
	if ((n->name = strdup(INFO_NAME)) == NULL)
		goto nomem;
	{
		size_t len;

		if ((n->text = render_info(&b, &len)) == NULL)
			goto nomem;
		n->size = len;
	}
	n->mtime = cc->n > 0 ? ms_to_secs(cc->msgs[cc->n - 1].ts_ms) : conv_at(v, idx)->dir.mtime;
	kids[nk++] = n;
	*nodesp = nodes;
	*nnodesp = nnodes;
	*convkids = kids;
	*nconvkids = nk;
	nodes = NULL;
	kids = NULL;
	rc = 0;
	goto out;
nomem:
	cf_error("out of memory");
	rc = -ENOMEM;
out:
	if (nodes != NULL) {
		for (i = 0; i < nnodes; i++)
			vnode_clear(v, &nodes[i]);
	}
	free(nodes);
	free(kids);
	free(attkids);
	build_clear(&b);
	return rc;
}

int
cf_view_conv_build(struct cf_view *v, size_t idx, const struct cf_chat *c,
    const struct cf_chat_content *cc)
{
	struct vconv *conv;
	struct vrange *range;
	struct vnode *nodes = NULL, **kids = NULL;
	size_t nnodes = 0, nkids = 0, i, nranges;
	uint64_t base;
	int rc;

	if ((rc = pthread_mutex_lock(&v->lock)) != 0)
		return -rc;
	if (idx >= av_count(&v->convs)) {
		cf_error("conversation %zu is not in the view", idx);
		rc = -EINVAL;
		goto out;
	}
	conv = conv_at(v, idx);
	if (conv->purged || atomic_load_explicit(&conv->listed, memory_order_relaxed) == NOT_LISTED) {
		rc = -EACCES;
		goto out;
	}
	if (atomic_load_explicit(&conv->state, memory_order_acquire) != 0) {
		rc = -EEXIST;
		goto out;
	}
	nranges = av_count(&v->ranges);
	if ((range = av_slot(&v->ranges, nranges)) == NULL) {
		cf_error("out of memory");
		rc = -ENOMEM;
		goto out;
	}
	base = atomic_load_explicit(&v->next_ino, memory_order_relaxed);
	rc = build_nodes(v, idx, c, cc, &nodes, &nnodes, &kids, &nkids, base);
	if (rc != 0)
		goto out;
	if ((rc = dir_set_kids(&conv->dir, kids, nkids)) != 0) {
		cf_error("out of memory");
		goto out;
	}
	kids = NULL;
	conv->nodes = nodes;
	conv->nnodes = nnodes;
	conv->base = base;
	nodes = NULL;
	range->start = base;
	range->count = nnodes;
	range->conv = idx;
	range->dirs = 0;
	atomic_store_explicit(&v->next_ino, base + nnodes, memory_order_relaxed);
	/* The inodes first: whoever sees the folder built can reach them. */
	av_publish(&v->ranges, nranges + 1);
	atomic_store_explicit(&conv->state, 1, memory_order_release);
out:
	if (nodes != NULL) {
		for (i = 0; i < nnodes; i++)
			vnode_clear(v, &nodes[i]);
		free(nodes);
	}
	free(kids);
	pthread_mutex_unlock(&v->lock);
	return rc;
}

void
cf_view_conv_fail(struct cf_view *v, size_t idx, int err)
{
	struct vconv *c;

	if (pthread_mutex_lock(&v->lock) != 0)
		return;
	if (idx < av_count(&v->convs)) {
		c = conv_at(v, idx);
		if (atomic_load_explicit(&c->state, memory_order_acquire) == 0)
			atomic_store_explicit(&c->state, err < 0 ? err : -EIO, memory_order_release);
	}
	pthread_mutex_unlock(&v->lock);
}
