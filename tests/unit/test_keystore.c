/*
 * test_keystore.c - the LMDB keystore: every record type round-trips with
 * all its fields at their maximum sizes, absent keys are -ENOENT, grants and
 * segments come back in the documented order, transactions are atomic,
 * read-only handles cannot write, damaged values are -EBADMSG, and a backup
 * opens with the same data.  Works in a private mkdtemp folder.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>

#include "blob.h"
#include "check.h"
#include "testlib.h"
#include "keystore.h"
#include "util.h"

static char tmpdir[1024];        /* short, so that derived paths fit */
static char arch[PATH_MAX];

static void
fill(void *p, size_t n, uint8_t seed)
{
	uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = (uint8_t)(seed + i * 7);
}

static void
make_id(uint8_t id[CF_ID_BYTES], uint8_t seed)
{
	fill(id, CF_ID_BYTES, seed);
}

/* ---- equality, field by field (no struct memcmp: padding) ------------- */

static int
meta_eq(const struct cf_meta *a, const struct cf_meta *b)
{
	return a->version == b->version &&
	    memcmp(a->archive_id, b->archive_id, CF_ID_BYTES) == 0 &&
	    memcmp(a->recovery_pk, b->recovery_pk, CF_PK_BYTES) == 0 &&
	    memcmp(a->recovery_sealed_ingest_key, b->recovery_sealed_ingest_key,
	    CF_SEALED_KEY_BYTES) == 0 &&
	    a->created == b->created;
}

static int
principal_eq(const struct cf_principal *a, const struct cf_principal *b)
{
	return strcmp(a->name, b->name) == 0 && a->role == b->role &&
	    a->disabled == b->disabled && a->has_ingest_key == b->has_ingest_key &&
	    memcmp(a->pk, b->pk, CF_PK_BYTES) == 0 &&
	    a->kdf.opslimit == b->kdf.opslimit && a->kdf.memlimit == b->kdf.memlimit &&
	    memcmp(a->kdf.salt, b->kdf.salt, CF_SALT_BYTES) == 0 &&
	    memcmp(a->wrapped_sk, b->wrapped_sk, CF_PW_WRAPPED_BYTES) == 0 &&
	    memcmp(a->sealed_ingest_key, b->sealed_ingest_key, CF_SEALED_KEY_BYTES) == 0 &&
	    a->created == b->created;
}

static int
conv_eq(const struct cf_conv *a, const struct cf_conv *b)
{
	return memcmp(a->id, b->id, CF_ID_BYTES) == 0 &&
	    memcmp(a->pk, b->pk, CF_PK_BYTES) == 0 && a->created == b->created &&
	    a->next_seq == b->next_seq && a->sealed_meta_len == b->sealed_meta_len &&
	    memcmp(a->sealed_meta, b->sealed_meta, a->sealed_meta_len) == 0;
}

static int
grant_eq(const struct cf_grant *a, const struct cf_grant *b)
{
	return strcmp(a->principal, b->principal) == 0 &&
	    memcmp(a->conv_id, b->conv_id, CF_ID_BYTES) == 0 &&
	    a->not_before == b->not_before && a->not_after == b->not_after &&
	    a->created == b->created && strcmp(a->granted_by, b->granted_by) == 0 &&
	    strcmp(a->reason, b->reason) == 0;
}

static int
blob_eq(const struct cf_blob_rec *a, const struct cf_blob_rec *b)
{
	return memcmp(a->id, b->id, CF_ID_BYTES) == 0 &&
	    memcmp(a->conv_id, b->conv_id, CF_ID_BYTES) == 0 && a->kind == b->kind &&
	    a->seq == b->seq && a->file_size == b->file_size &&
	    a->plain_size == b->plain_size && memcmp(a->hash, b->hash, CF_HASH_BYTES) == 0 &&
	    a->created == b->created && a->sealed_summary_len == b->sealed_summary_len &&
	    memcmp(a->sealed_summary, b->sealed_summary, a->sealed_summary_len) == 0 &&
	    a->has_head_hash == b->has_head_hash &&
	    memcmp(a->head_hash, b->head_hash, CF_HASH_BYTES) == 0;
}

/* ---- fixtures --------------------------------------------------------- */

static struct cf_meta meta;
static struct cf_principal p_long, p_alice, p_bob;
static struct cf_conv conv1, conv2;
static struct cf_grant g_bob1, g_bob_all, g_bobby, g_alice2;
static struct cf_blob_rec segs[4], seg_other, attach;
static const uint32_t seg_seqs[4] = { 300, 1, 256, 2 };   /* insertion order */
static uint8_t wrap_alice[CF_SEALED_KEY_BYTES], wrap_rec[CF_SEALED_KEY_BYTES];
static uint8_t tag1[CF_HASH_BYTES], tag2[CF_HASH_BYTES];

static void
make_principal(struct cf_principal *p, const char *name, uint8_t role, uint8_t seed)
{
	memset(p, 0, sizeof *p);
	snprintf(p->name, sizeof p->name, "%s", name);
	p->role = role;
	p->disabled = seed & 1;
	p->has_ingest_key = 1;
	fill(p->pk, sizeof p->pk, seed);
	p->kdf.opslimit = 3 + seed;
	p->kdf.memlimit = (uint64_t)256 << 20 | seed;
	fill(p->kdf.salt, sizeof p->kdf.salt, seed + 1);
	fill(p->wrapped_sk, sizeof p->wrapped_sk, seed + 2);
	fill(p->sealed_ingest_key, sizeof p->sealed_ingest_key, seed + 3);
	p->created = -1700000000 - seed;    /* negative: sign must survive */
}

static void
make_grant(struct cf_grant *g, const char *who, const struct cf_conv *c, int64_t nb)
{
	memset(g, 0, sizeof *g);
	snprintf(g->principal, sizeof g->principal, "%s", who);
	if (c != NULL)
		memcpy(g->conv_id, c->id, CF_ID_BYTES);
	g->not_before = nb;
	g->not_after = nb + 86400;
	g->created = INT64_MAX - nb;
	snprintf(g->granted_by, sizeof g->granted_by, "%s", "admin");
}

static void
make_blob(struct cf_blob_rec *b, const struct cf_conv *c, uint8_t kind, uint32_t seq,
    uint8_t seed, uint32_t summary_len)
{
	memset(b, 0, sizeof *b);
	make_id(b->id, seed);
	memcpy(b->conv_id, c->id, CF_ID_BYTES);
	b->kind = kind;
	b->seq = seq;
	b->plain_size = UINT64_MAX - seed;
	b->file_size = (uint64_t)1 << 40 | seed;
	fill(b->hash, sizeof b->hash, seed + 5);
	b->created = 1700000000 + seed;
	b->sealed_summary_len = summary_len;
	fill(b->sealed_summary, summary_len, seed + 9);
}

static void
make_fixtures(void)
{
	char longname[CF_NAME_MAX + 1];
	int i;

	memset(&meta, 0, sizeof meta);
	meta.version = CF_FORMAT_VERSION;
	make_id(meta.archive_id, 1);
	fill(meta.recovery_pk, sizeof meta.recovery_pk, 2);
	fill(meta.recovery_sealed_ingest_key, sizeof meta.recovery_sealed_ingest_key, 3);
	meta.created = 1741894441;

	memset(longname, 'a', CF_NAME_MAX);
	longname[CF_NAME_MAX] = '\0';
	make_principal(&p_long, longname, CF_ROLE_REVIEWER, 11);
	make_principal(&p_alice, "alice", CF_ROLE_ADMIN, 20);
	make_principal(&p_bob, "bob", CF_ROLE_INGEST, 30);

	memset(&conv1, 0, sizeof conv1);
	make_id(conv1.id, 40);
	fill(conv1.pk, sizeof conv1.pk, 41);
	conv1.created = 1700000001;
	conv1.next_seq = 301;
	conv1.sealed_meta_len = CF_SEALED_META_MAX;
	fill(conv1.sealed_meta, CF_SEALED_META_MAX, 42);
	memset(&conv2, 0, sizeof conv2);
	make_id(conv2.id, 50);
	fill(conv2.pk, sizeof conv2.pk, 51);
	conv2.sealed_meta_len = 0;

	fill(wrap_alice, sizeof wrap_alice, 60);
	fill(wrap_rec, sizeof wrap_rec, 61);

	make_grant(&g_bob1, "bob", &conv1, 1000);
	memset(g_bob1.reason, 'r', CF_REASON_MAX);
	g_bob1.reason[CF_REASON_MAX] = '\0';
	snprintf(g_bob1.granted_by, sizeof g_bob1.granted_by, "%s", longname);
	make_grant(&g_bob_all, "bob", NULL, 0);
	snprintf(g_bob_all.reason, sizeof g_bob_all.reason, "%s", "case 42");
	snprintf(g_bob_all.granted_by, sizeof g_bob_all.granted_by, "%s", CF_RECOVERY_NAME);
	make_grant(&g_bobby, "bobby", &conv1, 5);
	make_grant(&g_alice2, "alice", &conv2, 7);

	for (i = 0; i < 4; i++)
		make_blob(&segs[i], &conv1, CF_BLOB_SEGMENT, seg_seqs[i], (uint8_t)(70 + i),
		    i == 0 ? CF_SEALED_SUMMARY_MAX : (uint32_t)(10 * i));
	make_blob(&seg_other, &conv2, CF_BLOB_SEGMENT, 0, 80, 0);
	make_blob(&attach, &conv1, CF_BLOB_ATTACHMENT, 0, 81, 0);
	/* the segments have no header hash (records written before it), the
	 * attachment has one: both must read back as written */
	attach.has_head_hash = 1;
	fill(attach.head_hash, sizeof attach.head_hash, 82);

	fill(tag1, sizeof tag1, 90);
	fill(tag2, sizeof tag2, 91);
}

/* ---- callbacks -------------------------------------------------------- */

struct names {
	char v[8][CF_NAME_MAX + 1];
	int n;
};

static int
collect_principal(const struct cf_principal *p, void *arg)
{
	struct names *ns = arg;

	if (ns->n < 8)
		snprintf(ns->v[ns->n], sizeof ns->v[0], "%s", p->name);
	ns->n++;
	return 0;
}

static int
stop_at_first(const struct cf_principal *p, void *arg)
{
	(void)p;
	(*(int *)arg)++;
	return 42;
}

static int
count_conv(const struct cf_conv *c, void *arg)
{
	(void)c;
	(*(int *)arg)++;
	return 0;
}

struct grants {
	struct cf_grant v[8];
	int n;
};

static int
collect_grant(const struct cf_grant *g, void *arg)
{
	struct grants *gs = arg;

	if (gs->n < 8)
		gs->v[gs->n] = *g;
	gs->n++;
	return 0;
}

struct blobs {
	struct cf_blob_rec v[8];
	int n;
};

static int
collect_blob(const struct cf_blob_rec *b, void *arg)
{
	struct blobs *bs = arg;

	if (bs->n < 8)
		bs->v[bs->n] = *b;
	bs->n++;
	return 0;
}

/* ---- phases ----------------------------------------------------------- */

static void
test_create(void)
{
	char path[PATH_MAX + 32];
	struct cf_ks *ks = NULL;
	struct stat st;

	cf_log_quiet(1);
	CHECK_RC(cf_ks_open(&ks, arch, 0), -ENOENT);
	CHECK(ks == NULL);
	cf_log_quiet(0);

	CHECK_RC(cf_ks_create(arch), 0);
	snprintf(path, sizeof path, "%s/keystore", arch);
	REQUIRE(stat(path, &st) == 0);
	CHECK(S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700);
	snprintf(path, sizeof path, "%s/keystore/data.mdb", arch);
	REQUIRE(stat(path, &st) == 0);
	CHECK((st.st_mode & 07777) == 0600);
	snprintf(path, sizeof path, "%s/keystore/lock.mdb", arch);
	REQUIRE(stat(path, &st) == 0);
	CHECK((st.st_mode & 07777) == 0600);

	cf_log_quiet(1);
	CHECK_RC(cf_ks_create(arch), -EEXIST);
	cf_log_quiet(0);

	/* A fresh keystore opens read-only: every sub-database exists. */
	CHECK_RC(cf_ks_open(&ks, arch, CF_KS_RDONLY), 0);
	cf_ks_close(ks);
	cf_ks_close(NULL);
}

static void
test_fill(struct cf_ks *ks)
{
	struct cf_txn *t = NULL;
	struct cf_principal p;
	struct cf_principal bad;
	struct cf_conv c;
	struct cf_meta m;
	struct cf_blob_rec b;
	int i;

	REQUIRE(cf_ks_begin(ks, 1, &t) == 0);
	CHECK_RC(cf_ks_meta_get(t, &m), -ENOENT);
	CHECK_RC(cf_ks_meta_put(t, &meta), 0);
	CHECK_RC(cf_ks_principal_put(t, &p_bob), 0);
	CHECK_RC(cf_ks_principal_put(t, &p_long), 0);
	CHECK_RC(cf_ks_principal_put(t, &p_alice), 0);
	CHECK_RC(cf_ks_conv_put(t, &conv1), 0);
	CHECK_RC(cf_ks_conv_put(t, &conv2), 0);
	CHECK_RC(cf_ks_wrap_put(t, conv1.id, "alice", wrap_alice), 0);
	CHECK_RC(cf_ks_wrap_put(t, conv1.id, CF_RECOVERY_NAME, wrap_rec), 0);
	CHECK_RC(cf_ks_grant_put(t, &g_bob1), 0);
	CHECK_RC(cf_ks_grant_put(t, &g_bob_all), 0);
	CHECK_RC(cf_ks_grant_put(t, &g_bobby), 0);
	CHECK_RC(cf_ks_grant_put(t, &g_alice2), 0);
	for (i = 0; i < 4; i++)
		CHECK_RC(cf_ks_blob_put(t, &segs[i]), 0);
	CHECK_RC(cf_ks_blob_put(t, &seg_other), 0);
	CHECK_RC(cf_ks_blob_put(t, &attach), 0);
	CHECK_RC(cf_ks_chatmap_put(t, tag1, conv1.id), 0);
	CHECK_RC(cf_ks_dedup_has(t, tag2), 0);
	CHECK_RC(cf_ks_dedup_put(t, tag2, conv1.id), 0);
	CHECK_RC(cf_ks_dedup_has(t, tag2), 1);

	/* Invalid input is refused before anything is written. */
	cf_log_quiet(1);
	bad = p_alice;
	snprintf(bad.name, sizeof bad.name, "%s", "#bad");
	CHECK_RC(cf_ks_principal_put(t, &bad), -EINVAL);
	snprintf(bad.name, sizeof bad.name, "%s", CF_RECOVERY_NAME);
	CHECK_RC(cf_ks_principal_put(t, &bad), -EINVAL);
	memset(bad.name, 'x', sizeof bad.name);       /* no NUL at all */
	CHECK_RC(cf_ks_principal_put(t, &bad), -EINVAL);
	bad = p_alice;
	bad.role = 9;
	CHECK_RC(cf_ks_principal_put(t, &bad), -EINVAL);
	CHECK_RC(cf_ks_principal_get(t, "", &p), -EINVAL);
	c = conv2;
	c.sealed_meta_len = CF_SEALED_META_MAX + 1;
	CHECK_RC(cf_ks_conv_put(t, &c), -EINVAL);
	b = attach;
	b.sealed_summary_len = CF_SEALED_SUMMARY_MAX + 1;
	CHECK_RC(cf_ks_blob_put(t, &b), -EINVAL);
	b = attach;
	b.kind = 7;
	CHECK_RC(cf_ks_blob_put(t, &b), -EINVAL);
	CHECK_RC(cf_ks_wrap_put(t, conv1.id, "no/slash", wrap_alice), -EINVAL);
	cf_log_quiet(0);

	CHECK_RC(cf_ks_commit(t), 0);
}

static void
test_read(struct cf_ks *ks)
{
	struct cf_txn *t = NULL;
	struct cf_meta m;
	struct cf_principal p;
	struct cf_conv c;
	struct cf_grant g;
	struct cf_blob_rec b;
	struct names ns;
	struct grants gs;
	struct blobs bs;
	uint8_t sealed[CF_SEALED_KEY_BYTES], id[CF_ID_BYTES], absent[CF_ID_BYTES];
	int n, i;
	static const uint32_t want_seq[4] = { 1, 2, 256, 300 };

	make_id(absent, 200);
	REQUIRE(cf_ks_begin(ks, 0, &t) == 0);

	CHECK_RC(cf_ks_meta_get(t, &m), 0);
	CHECK(meta_eq(&m, &meta));

	CHECK_RC(cf_ks_principal_get(t, p_long.name, &p), 0);
	CHECK(principal_eq(&p, &p_long));
	CHECK_RC(cf_ks_principal_get(t, "alice", &p), 0);
	CHECK(principal_eq(&p, &p_alice));
	CHECK_RC(cf_ks_principal_get(t, "bob", &p), 0);
	CHECK(principal_eq(&p, &p_bob));
	CHECK_RC(cf_ks_principal_get(t, "nobody", &p), -ENOENT);

	memset(&ns, 0, sizeof ns);
	CHECK_RC(cf_ks_principal_foreach(t, collect_principal, &ns), 0);
	CHECK(ns.n == 3);
	CHECK_STR(ns.v[0], p_long.name);      /* "aaa…" sorts before "alice" */
	CHECK_STR(ns.v[1], "alice");
	CHECK_STR(ns.v[2], "bob");
	n = 0;
	CHECK_RC(cf_ks_principal_foreach(t, stop_at_first, &n), 42);
	CHECK(n == 1);

	CHECK_RC(cf_ks_conv_get(t, conv1.id, &c), 0);
	CHECK(conv_eq(&c, &conv1));
	CHECK_RC(cf_ks_conv_get(t, conv2.id, &c), 0);
	CHECK(conv_eq(&c, &conv2));
	CHECK_RC(cf_ks_conv_get(t, absent, &c), -ENOENT);
	n = 0;
	CHECK_RC(cf_ks_conv_foreach(t, count_conv, &n), 0);
	CHECK(n == 2);

	CHECK_RC(cf_ks_wrap_get(t, conv1.id, "alice", sealed), 0);
	CHECK(memcmp(sealed, wrap_alice, sizeof sealed) == 0);
	CHECK_RC(cf_ks_wrap_get(t, conv1.id, CF_RECOVERY_NAME, sealed), 0);
	CHECK(memcmp(sealed, wrap_rec, sizeof sealed) == 0);
	CHECK_RC(cf_ks_wrap_get(t, conv2.id, "alice", sealed), -ENOENT);
	CHECK_RC(cf_ks_wrap_get(t, conv1.id, "bob", sealed), -ENOENT);

	CHECK_RC(cf_ks_grant_get(t, "bob", conv1.id, &g), 0);
	CHECK(grant_eq(&g, &g_bob1));
	CHECK(strlen(g.reason) == CF_REASON_MAX);
	CHECK_RC(cf_ks_grant_get(t, "bob", NULL, &g), 0);
	CHECK(grant_eq(&g, &g_bob_all));
	CHECK_RC(cf_ks_grant_get(t, "bob", conv2.id, &g), -ENOENT);
	CHECK_RC(cf_ks_grant_get(t, "alice", NULL, &g), -ENOENT);
	memset(&gs, 0, sizeof gs);
	CHECK_RC(cf_ks_grant_foreach(t, "bob", collect_grant, &gs), 0);
	REQUIRE(gs.n == 2);
	/* zero id (--all) sorts first */
	CHECK(grant_eq(&gs.v[0], &g_bob_all));
	CHECK(grant_eq(&gs.v[1], &g_bob1));
	memset(&gs, 0, sizeof gs);
	CHECK_RC(cf_ks_grant_foreach(t, "bobby", collect_grant, &gs), 0);
	CHECK(gs.n == 1 && grant_eq(&gs.v[0], &g_bobby));
	memset(&gs, 0, sizeof gs);
	CHECK_RC(cf_ks_grant_foreach(t, "carol", collect_grant, &gs), 0);
	CHECK(gs.n == 0);
	memset(&gs, 0, sizeof gs);
	CHECK_RC(cf_ks_grant_foreach(t, NULL, collect_grant, &gs), 0);
	CHECK(gs.n == 4);

	for (i = 0; i < 4; i++) {
		CHECK_RC(cf_ks_blob_get(t, segs[i].id, &b), 0);
		CHECK(blob_eq(&b, &segs[i]));
	}
	CHECK(segs[0].sealed_summary_len == CF_SEALED_SUMMARY_MAX);
	CHECK_RC(cf_ks_blob_get(t, attach.id, &b), 0);
	CHECK(blob_eq(&b, &attach));
	CHECK_RC(cf_ks_blob_get(t, absent, &b), -ENOENT);
	memset(&bs, 0, sizeof bs);
	CHECK_RC(cf_ks_blob_foreach(t, collect_blob, &bs), 0);
	CHECK(bs.n == 6);
	memset(&bs, 0, sizeof bs);
	CHECK_RC(cf_ks_conv_segments(t, conv1.id, collect_blob, &bs), 0);
	REQUIRE(bs.n == 4);
	for (i = 0; i < 4; i++)
		CHECK(bs.v[i].seq == want_seq[i]);
	CHECK(blob_eq(&bs.v[3], &segs[0]));       /* seq 300, full summary */
	memset(&bs, 0, sizeof bs);
	CHECK_RC(cf_ks_conv_segments(t, conv2.id, collect_blob, &bs), 0);
	CHECK(bs.n == 1 && blob_eq(&bs.v[0], &seg_other));
	memset(&bs, 0, sizeof bs);
	CHECK_RC(cf_ks_conv_segments(t, absent, collect_blob, &bs), 0);
	CHECK(bs.n == 0);

	CHECK_RC(cf_ks_chatmap_get(t, tag1, id), 0);
	CHECK(memcmp(id, conv1.id, CF_ID_BYTES) == 0);
	CHECK_RC(cf_ks_chatmap_get(t, tag2, id), -ENOENT);
	CHECK_RC(cf_ks_dedup_has(t, tag2), 1);
	CHECK_RC(cf_ks_dedup_has(t, tag1), 0);

	/* A write through a read transaction fails (LMDB: EACCES). */
	cf_log_quiet(1);
	CHECK(cf_ks_dedup_put(t, tag1, conv1.id) < 0);
	cf_log_quiet(0);
	cf_ks_abort(t);
	cf_ks_abort(NULL);
}

static void
test_changes(struct cf_ks *ks)
{
	struct cf_txn *t = NULL;
	struct cf_principal p, carol;
	struct cf_grant g;
	uint8_t sealed[CF_SEALED_KEY_BYTES];

	/* abort discards */
	make_principal(&carol, "carol", CF_ROLE_REVIEWER, 99);
	REQUIRE(cf_ks_begin(ks, 1, &t) == 0);
	CHECK_RC(cf_ks_principal_put(t, &carol), 0);
	CHECK_RC(cf_ks_principal_get(t, "carol", &p), 0);
	CHECK_RC(cf_ks_wrap_del(t, conv1.id, "alice"), 0);
	cf_ks_abort(t);
	REQUIRE(cf_ks_begin(ks, 0, &t) == 0);
	CHECK_RC(cf_ks_principal_get(t, "carol", &p), -ENOENT);
	CHECK_RC(cf_ks_wrap_get(t, conv1.id, "alice", sealed), 0);
	CHECK_RC(cf_ks_commit(t), 0);            /* committing a reader is fine */

	/* deletes, then overwrite */
	REQUIRE(cf_ks_begin(ks, 1, &t) == 0);
	CHECK_RC(cf_ks_wrap_del(t, conv1.id, "alice"), 0);
	CHECK_RC(cf_ks_wrap_get(t, conv1.id, "alice", sealed), -ENOENT);
	CHECK_RC(cf_ks_wrap_del(t, conv1.id, "alice"), -ENOENT);
	CHECK_RC(cf_ks_wrap_get(t, conv1.id, CF_RECOVERY_NAME, sealed), 0);
	CHECK_RC(cf_ks_grant_del(t, "bob", conv1.id), 0);
	CHECK_RC(cf_ks_grant_get(t, "bob", conv1.id, &g), -ENOENT);
	CHECK_RC(cf_ks_grant_get(t, "bob", NULL, &g), 0);
	CHECK_RC(cf_ks_grant_del(t, "bob", conv1.id), -ENOENT);
	p = p_bob;
	p.disabled = 1;
	CHECK_RC(cf_ks_principal_put(t, &p), 0);
	CHECK_RC(cf_ks_commit(t), 0);

	REQUIRE(cf_ks_begin(ks, 0, &t) == 0);
	CHECK_RC(cf_ks_principal_get(t, "bob", &p), 0);
	CHECK(p.disabled == 1);
	CHECK_RC(cf_ks_wrap_get(t, conv1.id, "alice", sealed), -ENOENT);
	cf_ks_abort(t);

	/* put them back for the later phases */
	REQUIRE(cf_ks_begin(ks, 1, &t) == 0);
	CHECK_RC(cf_ks_principal_put(t, &p_bob), 0);
	CHECK_RC(cf_ks_wrap_put(t, conv1.id, "alice", wrap_alice), 0);
	CHECK_RC(cf_ks_grant_put(t, &g_bob1), 0);
	CHECK_RC(cf_ks_commit(t), 0);
}

static void
test_readonly(void)
{
	struct cf_ks *ks = NULL;
	struct cf_txn *t = NULL;

	REQUIRE(cf_ks_open(&ks, arch, CF_KS_RDONLY) == 0);
	cf_log_quiet(1);
	CHECK_RC(cf_ks_begin(ks, 1, &t), -EROFS);
	cf_log_quiet(0);
	CHECK(t == NULL);
	test_read(ks);
	cf_ks_close(ks);
}

static void
test_backup(void)
{
	char bak[PATH_MAX], dst[PATH_MAX + 16], junk[PATH_MAX + 32];
	struct cf_ks *ks = NULL;
	struct stat st;
	FILE *f;

	snprintf(bak, sizeof bak, "%s/bak", tmpdir);
	snprintf(dst, sizeof dst, "%s/keystore", bak);
	REQUIRE(mkdir(bak, 0700) == 0 && mkdir(dst, 0700) == 0);
	REQUIRE(cf_ks_open(&ks, arch, CF_KS_RDONLY) == 0);
	CHECK_RC(cf_ks_backup(ks, dst), 0);
	/* a second copy into the now non-empty folder is refused */
	cf_log_quiet(1);
	CHECK_RC(cf_ks_backup(ks, dst), -ENOTEMPTY);
	cf_log_quiet(0);
	cf_ks_close(ks);
	snprintf(junk, sizeof junk, "%s/data.mdb", dst);
	REQUIRE(stat(junk, &st) == 0);
	CHECK((st.st_mode & 07777) == 0600);

	REQUIRE(cf_ks_open(&ks, bak, CF_KS_RDONLY) == 0);
	test_read(ks);
	cf_ks_close(ks);

	/* cf_ks_create refuses a non-empty folder but accepts an empty one */
	snprintf(junk, sizeof junk, "%s/other", tmpdir);
	REQUIRE(mkdir(junk, 0700) == 0);
	snprintf(junk, sizeof junk, "%s/other/keystore", tmpdir);
	REQUIRE(mkdir(junk, 0755) == 0);
	snprintf(junk, sizeof junk, "%s/other", tmpdir);
	CHECK_RC(cf_ks_create(junk), 0);
	snprintf(junk, sizeof junk, "%s/other/keystore", tmpdir);
	REQUIRE(stat(junk, &st) == 0);
	CHECK((st.st_mode & 07777) == 0700);
	snprintf(junk, sizeof junk, "%s/third", tmpdir);
	REQUIRE(mkdir(junk, 0700) == 0);
	snprintf(junk, sizeof junk, "%s/third/keystore", tmpdir);
	REQUIRE(mkdir(junk, 0700) == 0);
	snprintf(junk, sizeof junk, "%s/third/keystore/x", tmpdir);
	f = fopen(junk, "w");
	REQUIRE(f != NULL);
	fclose(f);
	snprintf(junk, sizeof junk, "%s/third", tmpdir);
	cf_log_quiet(1);
	CHECK_RC(cf_ks_create(junk), -EEXIST);
	/* no data.mdb there: open does not silently create one */
	CHECK_RC(cf_ks_open(&ks, junk, 0), -ENOENT);
	cf_log_quiet(0);
}

/* Write raw bytes into a sub-database, bypassing the encoders. */
static void
raw_put(const char *archive, const char *db, const void *k, size_t klen, const void *v,
    size_t vlen)
{
	char path[PATH_MAX + 16];
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_val key = { klen, (void *)k }, val = { vlen, (void *)v };

	snprintf(path, sizeof path, "%s/keystore", archive);
	REQUIRE(mdb_env_create(&env) == 0);
	REQUIRE(mdb_env_set_maxdbs(env, 16) == 0);
	REQUIRE(mdb_env_open(env, path, 0, 0600) == 0);
	REQUIRE(mdb_txn_begin(env, NULL, 0, &txn) == 0);
	REQUIRE(mdb_dbi_open(txn, db, MDB_CREATE, &dbi) == 0);
	REQUIRE(mdb_put(txn, dbi, &key, &val, 0) == 0);
	REQUIRE(mdb_txn_commit(txn) == 0);
	mdb_env_close(env);
}

static void
test_corrupt(void)
{
	struct cf_ks *ks = NULL;
	struct cf_txn *t = NULL;
	struct cf_principal p;
	struct cf_blob_rec b;
	struct names ns;
	struct blobs bs;
	uint8_t val[300], key[CF_ID_BYTES + 4], conv3[CF_ID_BYTES], ghost[1 + CF_ID_BYTES];
	char other[PATH_MAX + 16], plain[PATH_MAX + 16];
	MDB_env *env = NULL;

	raw_put(arch, "principals", "mallory", 7, "garbage", 7);
	/* right size for "zed" (230 + 3) but a layout version of 2 */
	memset(val, 0, sizeof val);
	val[0] = 2;
	val[1] = 3;
	memcpy(val + 3, "zed", 3);
	val[6] = CF_ROLE_ADMIN;
	raw_put(arch, "principals", "zed", 3, val, 233);
	/* version 1 but the stored name disagrees with the key */
	val[0] = 1;
	raw_put(arch, "principals", "zee", 3, val, 233);
	/* a segment index entry whose blob record is missing */
	make_id(conv3, 150);
	memcpy(key, conv3, CF_ID_BYTES);
	memset(key + CF_ID_BYTES, 0, 4);
	ghost[0] = 1;
	make_id(ghost + 1, 151);
	raw_put(arch, "convblobs", key, sizeof key, ghost, sizeof ghost);
	/* a blob record one byte short of the fixed part */
	memset(val, 0, sizeof val);
	val[0] = 1;
	make_id(val + 1, 152);
	val[33] = CF_BLOB_ATTACHMENT;
	raw_put(arch, "blobs", val + 1, CF_ID_BYTES, val, 97);

	REQUIRE(cf_ks_open(&ks, arch, 0) == 0);
	REQUIRE(cf_ks_begin(ks, 0, &t) == 0);
	cf_log_quiet(1);
	CHECK_RC(cf_ks_principal_get(t, "mallory", &p), -EBADMSG);
	CHECK_RC(cf_ks_principal_get(t, "zed", &p), -EBADMSG);
	CHECK_RC(cf_ks_principal_get(t, "zee", &p), -EBADMSG);
	memset(&ns, 0, sizeof ns);
	CHECK_RC(cf_ks_principal_foreach(t, collect_principal, &ns), -EBADMSG);
	CHECK(ns.n == 3);                         /* aaa…, alice, bob, then mallory */
	CHECK_RC(cf_ks_blob_get(t, ghost + 1, &b), -ENOENT);
	make_id(key, 152);
	CHECK_RC(cf_ks_blob_get(t, key, &b), -EBADMSG);
	memset(&bs, 0, sizeof bs);
	CHECK_RC(cf_ks_conv_segments(t, conv3, collect_blob, &bs), -EBADMSG);
	CHECK(bs.n == 0);
	cf_log_quiet(0);
	CHECK_RC(cf_ks_principal_get(t, "alice", &p), 0);
	cf_ks_abort(t);
	cf_ks_close(ks);

	/* An LMDB environment without our sub-databases is not a keystore. */
	snprintf(other, sizeof other, "%s/plain", tmpdir);
	snprintf(plain, sizeof plain, "%s/plain/keystore", tmpdir);
	REQUIRE(mkdir(other, 0700) == 0 && mkdir(plain, 0700) == 0);
	REQUIRE(mdb_env_create(&env) == 0);
	REQUIRE(mdb_env_open(env, plain, 0, 0600) == 0);
	mdb_env_close(env);
	cf_log_quiet(1);
	CHECK_RC(cf_ks_open(&ks, other, CF_KS_RDONLY), -EBADMSG);
	cf_log_quiet(0);
	CHECK(ks == NULL);
}

/* Room for any raw value or key the value-check test reads. */
#define KS_TEST_VAL_MAX 8192
#define KS_TEST_KEY_MAX 128

/* ---- cf_ks_value_check: the decoders over raw values ------------------ */

/* Read one raw value out of a sub-database into buf (cap bytes). */
static size_t
raw_get(const char *archive, const char *db, const void *k, size_t klen, uint8_t *buf,
    size_t cap)
{
	char path[PATH_MAX + 16];
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_val key = { klen, (void *)k }, val;
	size_t n;

	snprintf(path, sizeof path, "%s/keystore", archive);
	REQUIRE(mdb_env_create(&env) == 0);
	REQUIRE(mdb_env_set_maxdbs(env, 16) == 0);
	REQUIRE(mdb_env_open(env, path, MDB_RDONLY, 0600) == 0);
	REQUIRE(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0);
	REQUIRE(mdb_dbi_open(txn, db, 0, &dbi) == 0);
	REQUIRE(mdb_get(txn, dbi, &key, &val) == 0);
	REQUIRE(val.mv_size <= cap);
	memcpy(buf, val.mv_data, val.mv_size);
	n = val.mv_size;
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return n;
}

/* One genuine value: accepted with and without its key, refused when it is
 * cut short, extended, of another layout version or under another key.
 * key_checked: 0 the key is ignored, 1 the value must agree with it, 2 only
 * its length is checked (convblobs). */
static void
value_check_one(const char *db, const void *k, size_t klen, int key_checked)
{
	uint8_t val[KS_TEST_VAL_MAX + 1], other[KS_TEST_KEY_MAX];
	size_t n = raw_get(arch, db, k, klen, val, sizeof val - 1);

	CHECK_RC(cf_ks_value_check(db, k, klen, val, n), 0);
	CHECK_RC(cf_ks_value_check(db, NULL, 0, val, n), 0);
	CHECK_RC(cf_ks_value_check(db, k, klen, val, n - 1), -EBADMSG);
	CHECK_RC(cf_ks_value_check(db, k, klen, val, 1), -EBADMSG);
	CHECK_RC(cf_ks_value_check(db, k, klen, val, 0), -EBADMSG);
	CHECK_RC(cf_ks_value_check(db, NULL, 0, NULL, 0), -EBADMSG);
	val[n] = 0;
	CHECK_RC(cf_ks_value_check(db, k, klen, val, n + 1), -EBADMSG);
	val[0] = 2;
	CHECK_RC(cf_ks_value_check(db, k, klen, val, n), -EBADMSG);
	val[0] = 0;
	CHECK_RC(cf_ks_value_check(db, k, klen, val, n), -EBADMSG);
	val[0] = 1;
	CHECK_RC(cf_ks_value_check(db, k, klen, val, n), 0);
	/* the same value under a key that differs in its last byte */
	REQUIRE(klen <= sizeof other);
	memcpy(other, k, klen);
	other[klen - 1] ^= 1;
	CHECK_RC(cf_ks_value_check(db, other, klen, val, n), key_checked == 1 ? -EBADMSG : 0);
	CHECK_RC(cf_ks_value_check(db, k, klen - 1, val, n), key_checked ? -EBADMSG : 0);
}

static void
test_value_check(void)
{
	uint8_t wkey[CF_ID_BYTES + 5], gkey[4 + CF_ID_BYTES], ckey[CF_ID_BYTES + 4];
	uint8_t val[KS_TEST_VAL_MAX];
	size_t n;

	memcpy(wkey, conv1.id, CF_ID_BYTES);
	memcpy(wkey + CF_ID_BYTES, "alice", 5);
	memcpy(gkey, "bob", 4);                   /* with its NUL */
	memcpy(gkey + 4, conv1.id, CF_ID_BYTES);
	memcpy(ckey, conv1.id, CF_ID_BYTES);
	ckey[CF_ID_BYTES] = 0;
	ckey[CF_ID_BYTES + 1] = 0;
	ckey[CF_ID_BYTES + 2] = 300 >> 8;
	ckey[CF_ID_BYTES + 3] = 300 & 0xff;

	value_check_one("meta", "archive", 7, 0);
	value_check_one("principals", "alice", 5, 1);
	value_check_one("principals", p_long.name, CF_NAME_MAX, 1);
	value_check_one("convs", conv1.id, CF_ID_BYTES, 1);     /* full metadata */
	value_check_one("convs", conv2.id, CF_ID_BYTES, 1);     /* none */
	value_check_one("wraps", wkey, sizeof wkey, 0);
	value_check_one("grants", gkey, sizeof gkey, 1);
	value_check_one("blobs", segs[0].id, CF_ID_BYTES, 1);   /* full summary */
	value_check_one("blobs", attach.id, CF_ID_BYTES, 1);
	value_check_one("convblobs", ckey, sizeof ckey, 2);
	value_check_one("chatmap", tag1, CF_HASH_BYTES, 0);
	value_check_one("dedup", tag2, CF_HASH_BYTES, 0);

	/* lengths past their field's capacity, enum bytes out of range */
	n = raw_get(arch, "principals", "alice", 5, val, sizeof val);
	val[1] = CF_NAME_MAX + 1;
	CHECK_RC(cf_ks_value_check("principals", NULL, 0, val, n), -EBADMSG);
	n = raw_get(arch, "principals", "alice", 5, val, sizeof val);
	val[3 + 5] = CF_ROLE_INGEST + 1;
	CHECK_RC(cf_ks_value_check("principals", NULL, 0, val, n), -EBADMSG);
	n = raw_get(arch, "blobs", attach.id, CF_ID_BYTES, val, sizeof val);
	val[33] = 3;
	CHECK_RC(cf_ks_value_check("blobs", NULL, 0, val, n), -EBADMSG);
	n = raw_get(arch, "convs", conv2.id, CF_ID_BYTES, val, sizeof val);
	val[61] = 1;                              /* metadata length 1, none there */
	CHECK_RC(cf_ks_value_check("convs", NULL, 0, val, n), -EBADMSG);

	/* not a sub-database */
	CHECK_RC(cf_ks_value_check("nope", NULL, 0, val, n), -EINVAL);
	CHECK_RC(cf_ks_value_check(NULL, NULL, 0, val, n), -EINVAL);
}

int
main(void)
{
	const char *base = getenv("TMPDIR");
	struct cf_ks *ks = NULL;

	umask(022);
	snprintf(tmpdir, sizeof tmpdir, "%s/test_keystore.XXXXXX",
	    base != NULL && *base != '\0' ? base : "/tmp");
	REQUIRE(mkdtemp(tmpdir) != NULL);
	snprintf(arch, sizeof arch, "%s/arch", tmpdir);
	REQUIRE(mkdir(arch, 0700) == 0);
	make_fixtures();

	test_create();
	REQUIRE(cf_ks_open(&ks, arch, 0) == 0);
	test_fill(ks);
	test_read(ks);
	test_changes(ks);
	cf_ks_close(ks);

	/* reopen after close keeps data */
	REQUIRE(cf_ks_open(&ks, arch, 0) == 0);
	test_read(ks);
	cf_ks_close(ks);

	test_readonly();
	test_backup();
	test_corrupt();
	test_value_check();

	remove_tree(tmpdir);
	return CHECK_DONE("test_keystore");
}
