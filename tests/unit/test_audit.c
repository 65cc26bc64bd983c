/*
 * test_audit.c - the audit log: records append with consecutive sequence
 * numbers and a chain of hashes; verification finds an intact chain
 * intact and names the first bad record after an edit, a deletion, a
 * reordering, or (against an anchored head) a truncation; appending to a
 * read-only keystore fails (the callers then refuse the action); records
 * decode and print as JSON without losing fields; long fields are cut on a
 * UTF-8 boundary.  The damage is done with LMDB directly, as an attacker
 * with write access to the keystore would.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <lmdb.h>

#include "audit.h"
#include "check.h"
#include "testlib.h"
#include "keystore.h"
#include "util.h"

static char tmpdir[1024];

static struct cf_ks *
fresh(const char *name)
{
	char dir[PATH_MAX];
	struct cf_ks *ks = NULL;

	snprintf(dir, sizeof dir, "%s/%s", tmpdir, name);
	REQUIRE(mkdir(dir, 0700) == 0);
	REQUIRE(cf_ks_create(dir) == 0);
	REQUIRE(cf_ks_open(&ks, dir, 0) == 0);
	return ks;
}

static void
append_n(struct cf_ks *ks, int n)
{
	char obj[32];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(obj, sizeof obj, "object-%d", i);
		CHECK_RC(cf_audit_log(ks, "alice", "read", obj, CF_AUDIT_OK, "detail"), 0);
	}
}

/* Raw LMDB access to the "audit" sub-database of archive dir `name`. */
struct raw {
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
};

static void
raw_open(struct raw *r, const char *name)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof dir, "%s/%s/keystore", tmpdir, name);
	REQUIRE(mdb_env_create(&r->env) == 0);
	REQUIRE(mdb_env_set_maxdbs(r->env, 16) == 0);
	REQUIRE(mdb_env_set_mapsize(r->env, (size_t)1 << 30) == 0);
	REQUIRE(mdb_env_open(r->env, dir, MDB_NOTLS, 0600) == 0);
	REQUIRE(mdb_txn_begin(r->env, NULL, 0, &r->txn) == 0);
	REQUIRE(mdb_dbi_open(r->txn, "audit", 0, &r->dbi) == 0);
}

static void
raw_close(struct raw *r)
{
	REQUIRE(mdb_txn_commit(r->txn) == 0);
	mdb_env_close(r->env);
}

static void
seq_key(uint8_t k[8], uint64_t seq)
{
	int i;

	for (i = 7; i >= 0; i--) {
		k[i] = (uint8_t)seq;
		seq >>= 8;
	}
}

/* Flip one byte of record seq at offset off (from the end when < 0). */
static void
raw_flip(const char *name, uint64_t seq, long off)
{
	struct raw r;
	uint8_t k[8], buf[CF_AUDIT_VAL_MAX];
	MDB_val key = { 8, k }, val;

	raw_open(&r, name);
	seq_key(k, seq);
	REQUIRE(mdb_get(r.txn, r.dbi, &key, &val) == 0);
	memcpy(buf, val.mv_data, val.mv_size);
	buf[off >= 0 ? (size_t)off : val.mv_size - (size_t)(-off)] ^= 0x01;
	val.mv_data = buf;
	REQUIRE(mdb_put(r.txn, r.dbi, &key, &val, 0) == 0);
	raw_close(&r);
}

static void
raw_del(const char *name, uint64_t seq)
{
	struct raw r;
	uint8_t k[8];
	MDB_val key = { 8, k };

	raw_open(&r, name);
	seq_key(k, seq);
	REQUIRE(mdb_del(r.txn, r.dbi, &key, NULL) == 0);
	raw_close(&r);
}

/* Move record `from` to key `to` (renumbering). */
static void
raw_move(const char *name, uint64_t from, uint64_t to)
{
	struct raw r;
	uint8_t k[8], k2[8], buf[CF_AUDIT_VAL_MAX];
	MDB_val key = { 8, k }, key2 = { 8, k2 }, val;

	raw_open(&r, name);
	seq_key(k, from);
	seq_key(k2, to);
	REQUIRE(mdb_get(r.txn, r.dbi, &key, &val) == 0);
	memcpy(buf, val.mv_data, val.mv_size);
	val.mv_data = buf;
	REQUIRE(mdb_del(r.txn, r.dbi, &key, NULL) == 0);
	REQUIRE(mdb_put(r.txn, r.dbi, &key2, &val, 0) == 0);
	raw_close(&r);
}

static int
count_cb(const struct cf_audit_rec *r, void *arg)
{
	uint64_t *n = arg;

	(*n)++;
	CHECK(r->seq == *n);
	CHECK_STR(r->principal, "alice");
	return 0;
}

static void
test_chain(void)
{
	struct cf_ks *ks = fresh("chain");
	struct cf_audit_check chk;
	char dir[PATH_MAX];
	uint8_t head[CF_HASH_BYTES], zero[CF_HASH_BYTES] = { 0 };
	uint64_t seq, n = 0;

	CHECK_RC(cf_audit_head(ks, &seq, head), 0);
	CHECK(seq == 0 && memcmp(head, zero, sizeof zero) == 0);
	CHECK_RC(cf_audit_verify(ks, 0, NULL, &chk), 0);
	CHECK(chk.records == 0);

	append_n(ks, 10);
	CHECK_RC(cf_audit_foreach(ks, 1, count_cb, &n), 0);
	CHECK(n == 10);
	CHECK_RC(cf_audit_head(ks, &seq, head), 0);
	CHECK(seq == 10);
	CHECK_RC(cf_audit_verify(ks, 0, NULL, &chk), 0);
	CHECK(chk.records == 10 && chk.head_seq == 10 && chk.first_bad == 0);
	CHECK(memcmp(chk.head, head, CF_HASH_BYTES) == 0);
	/* the head anchors: intact with it, and with an older one */
	CHECK_RC(cf_audit_verify(ks, 10, head, &chk), 0);
	append_n(ks, 2);
	CHECK_RC(cf_audit_verify(ks, 10, head, &chk), 0);
	/* a wrong anchor hash is a broken chain */
	head[0] ^= 1;
	CHECK_RC(cf_audit_verify(ks, 10, head, &chk), 1);
	CHECK(chk.first_bad == 10);
	head[0] ^= 1;
	cf_ks_close(ks);

	/* truncation: drop the last two records; the chain alone looks fine,
	 * the anchored head (record 12) catches it */
	ks = fresh("trunc");
	append_n(ks, 12);
	CHECK_RC(cf_audit_head(ks, &seq, head), 0);
	cf_ks_close(ks);
	raw_del("trunc", 12);
	raw_del("trunc", 11);
	snprintf(dir, sizeof dir, "%s/trunc", tmpdir);
	REQUIRE(cf_ks_open(&ks, dir, 0) == 0);
	CHECK_RC(cf_audit_verify(ks, 0, NULL, &chk), 0);
	CHECK_RC(cf_audit_verify(ks, 12, head, &chk), 1);
	CHECK(chk.first_bad == 11 && strstr(chk.why, "truncated") != NULL);
	cf_ks_close(ks);
}

static void
broken(const char *name, void (*damage)(const char *name), uint64_t want_bad)
{
	char dir[PATH_MAX];
	struct cf_ks *ks = fresh(name);
	struct cf_audit_check chk;

	append_n(ks, 6);
	cf_ks_close(ks);
	damage(name);
	snprintf(dir, sizeof dir, "%s/%s", tmpdir, name);
	REQUIRE(cf_ks_open(&ks, dir, 0) == 0);
	CHECK_RC(cf_audit_verify(ks, 0, NULL, &chk), 1);
	CHECK(chk.first_bad == want_bad);
	if (chk.first_bad != want_bad)
		fprintf(stderr, "%s: first bad %llu (%s), wanted %llu\n", name,
		    (unsigned long long)chk.first_bad, chk.why, (unsigned long long)want_bad);
	cf_ks_close(ks);
}

static void dmg_detail(const char *n) { raw_flip(n, 3, 30); }
static void dmg_hash(const char *n) { raw_flip(n, 4, -1); }
static void dmg_prev(const char *n) { raw_flip(n, 5, -40); }
static void dmg_delete(const char *n) { raw_del(n, 3); }
static void dmg_first(const char *n) { raw_del(n, 1); }
static void dmg_renumber(const char *n) { raw_del(n, 6); raw_move(n, 5, 6); }

static void
test_damage(void)
{
	broken("edit", dmg_detail, 3);          /* content edited */
	broken("hash", dmg_hash, 4);            /* stored hash edited */
	broken("prev", dmg_prev, 5);            /* previous-hash edited */
	broken("delete", dmg_delete, 3);        /* middle record deleted */
	broken("first", dmg_first, 1);          /* first record deleted */
	broken("renumber", dmg_renumber, 5);    /* a record moved to hide a gap */
}

static void
test_readonly_fails(void)
{
	char dir[PATH_MAX];
	struct cf_ks *ks = fresh("ro");

	append_n(ks, 1);
	cf_ks_close(ks);
	snprintf(dir, sizeof dir, "%s/ro", tmpdir);
	REQUIRE(cf_ks_open(&ks, dir, CF_KS_RDONLY) == 0);
	cf_log_quiet(1);
	CHECK(cf_audit_log(ks, "alice", "read", "x", CF_AUDIT_OK, NULL) < 0);
	cf_log_quiet(0);
	cf_ks_close(ks);
}

static int
json_cb(const struct cf_audit_rec *r, void *arg)
{
	json_t *j;
	char *s = NULL;

	(void)arg;
	CHECK_RC(cf_audit_json(r, &s), 0);
	REQUIRE(s != NULL);
	j = json_loads(s, 0, NULL);
	CHECK(j != NULL);
	CHECK(json_integer_value(json_object_get(j, "seq")) == (json_int_t)r->seq);
	CHECK_STR(json_string_value(json_object_get(j, "action")), r->action);
	CHECK_STR(json_string_value(json_object_get(j, "result")), r->result);
	CHECK(strlen(json_string_value(json_object_get(j, "hash"))) == 64);
	CHECK(strlen(json_string_value(json_object_get(j, "time"))) == 24);
	json_decref(j);
	free(s);
	return 0;
}

static int
long_cb(const struct cf_audit_rec *r, void *arg)
{
	size_t *len = arg;

	*len = strlen(r->detail);
	return 0;
}

static void
test_fields(void)
{
	struct cf_ks *ks = fresh("fields");
	char big[CF_AUDIT_DETAIL_MAX + 50];
	char name[CF_NAME_MAX + 2];
	size_t i, len = 0;

	CHECK_RC(cf_audit_log(ks, "bob", "grant", "all", CF_AUDIT_OK, "to=carol"), 0);
	CHECK_RC(cf_audit_foreach(ks, 1, json_cb, NULL), 0);
	/* a detail of two-byte characters cut at the limit stays UTF-8 */
	for (i = 0; i + 2 < sizeof big; i += 2) {
		big[i] = (char)0xc3;
		big[i + 1] = (char)0xa9;
	}
	big[i] = '\0';
	CHECK_RC(cf_audit_log(ks, "bob", "x", NULL, CF_AUDIT_OK, big), 0);
	CHECK_RC(cf_audit_foreach(ks, 2, long_cb, &len), 0);
	CHECK(len <= CF_AUDIT_DETAIL_MAX && len % 2 == 0 && len >= CF_AUDIT_DETAIL_MAX - 1);
	/* a principal too long is refused, not cut */
	memset(name, 'a', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	cf_log_quiet(1);
	CHECK_RC(cf_audit_log(ks, name, "x", NULL, CF_AUDIT_OK, NULL), -EINVAL);
	cf_log_quiet(0);
	cf_ks_close(ks);
}

int
main(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof tmpdir, "%s/cf-audit-XXXXXX", base ? base : "/tmp");
	REQUIRE(mkdtemp(tmpdir) != NULL);
	test_chain();
	test_damage();
	test_readonly_fails();
	test_fields();
	remove_tree(tmpdir);
	return CHECK_DONE("test_audit");
}
