/*
 * test_retention.c - retention, legal holds and shredding: the period
 * parser and its calendar arithmetic (retention.h), the "policy" record
 * layouts and their strict decoders (keystore.h, docs/FORMAT.md), and,
 * through archive.h, the expire decision (default, own retention,
 * forever, holds), holds and forged records failing safe, and a shred
 * that leaves no keystore entry naming the conversation.
 */
#include <errno.h>
#include <ftw.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "archive.h"
#include "check.h"
#include "testlib.h"
#include "retention.h"
#include "util.h"

#define PW(s) (s), strlen(s)

static char dir[2048];
static char arch[4096];

/* ---- periods ------------------------------------------------------------ */

static void
check_parse(const char *s, int forever, uint32_t y, uint32_t m, uint32_t d, const char *text)
{
	struct cf_keep k;
	char buf[CF_KEEP_TEXT_MAX];

	CHECK_RC(cf_keep_parse(s, &k), 0);
	CHECK(k.forever == forever && k.years == y && k.months == m && k.days == d);
	cf_keep_format(&k, buf, sizeof buf);
	CHECK_STR(buf, text);
}

static void
check_until(int64_t from, const char *keep, int64_t want)
{
	struct cf_keep k;
	int64_t until = 0;

	REQUIRE(cf_keep_parse(keep, &k) == 0);
	CHECK_RC(cf_keep_until(from, &k, &until), 0);
	if (until != want)
		fprintf(stderr, "%lld + %s = %lld, wanted %lld\n", (long long)from, keep,
		    (long long)until, (long long)want);
	CHECK(until == want);
}

static void
test_periods(void)
{
	static const char *const bad[] = {
		"", "7", "y", "0d", "0y0m", "7x", "-1y", "+1y", "1y1y", "2w3w", "1001y", "12001m",
		"366001d", "52300w", "99999999999999999999y", " 7y", "7y ", "7Y", "1.5y", "forever1",
		"Forever",
	};
	struct cf_keep k;
	int64_t until;
	size_t i;

	check_parse("7y", 0, 7, 0, 0, "7y");
	check_parse("18m", 0, 0, 18, 0, "18m");
	check_parse("90d", 0, 0, 0, 90, "90d");
	check_parse("6w", 0, 0, 0, 42, "42d");
	check_parse("1y6m", 0, 1, 6, 0, "1y6m");
	check_parse("3d1y2w", 0, 1, 0, 17, "1y17d");
	check_parse("forever", 1, 0, 0, 0, "forever");
	check_parse("1000y12000m366000d", 0, 1000, 12000, 366000, "1000y12000m366000d");
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (cf_keep_parse(bad[i], &k) != -EINVAL)
			fprintf(stderr, "accepted bad period \"%s\"\n", bad[i]);
		CHECK(cf_keep_parse(bad[i], &k) == -EINVAL);
	}

	/* calendar years and months, clamped to the month's end, then days */
	check_until(1435685400, "7y", 1656610200);         /* 2015-06-30T17:30 -> 2022 */
	check_until(1577833200, "5y", 1735686000);         /* 2019-12-31T23:00 -> 2024 */
	check_until(1580428800, "1m", 1582934400);         /* 2020-01-31 -> 02-29 */
	check_until(1580428800, "1m30d", 1585526400);      /* ... -> 03-30 */
	check_until(1612087200, "1m", 1614506400);         /* 2021-01-31T10 -> 02-28T10 */
	check_until(1582934400, "1y", 1614470400);         /* 2020-02-29 -> 2021-02-28 */
	check_until(1582934400, "4y", 1709164800);         /* 2020-02-29 -> 2024-02-29 */
	check_until(951782400, "100y", 4107456000);        /* 2000-02-29 -> 2100-02-28 */
	check_until(1608012000, "13m", 1642226400);        /* 2020-12-15 -> 2022-01-15 */
	check_until(-43200, "1d", 43200);                   /* before 1970 */
	check_until(0, "2w", 14 * 86400);
	REQUIRE(cf_keep_parse("forever", &k) == 0);
	CHECK_RC(cf_keep_until(0, &k, &until), 0);
	CHECK(until == INT64_MAX);
	CHECK(cf_keep_expired(0, &k, INT64_MAX - 1) == 0);
	REQUIRE(cf_keep_parse("1y", &k) == 0);
	CHECK_RC(cf_keep_until(INT64_MAX / 2, &k, &until), -EOVERFLOW);
	CHECK(cf_keep_expired(INT64_MAX / 2, &k, INT64_MAX) == 0);
	/* past retention means strictly before now */
	REQUIRE(cf_keep_parse("7y", &k) == 0);
	CHECK(cf_keep_expired(1435685400, &k, 1656610200) == 0);
	CHECK(cf_keep_expired(1435685400, &k, 1656610201) == 1);
	CHECK(cf_keep_expired(1435685400, &k, 1656610199) == 0);
}

/* ---- record layouts ----------------------------------------------------- */

struct bytes {
	uint8_t b[1024];
	size_t n;
};

static void
put(struct bytes *x, const void *p, size_t n)
{
	REQUIRE(x->n + n <= sizeof x->b);
	memcpy(x->b + x->n, p, n);
	x->n += n;
}

static void
put_le(struct bytes *x, uint64_t v, int n)
{
	for (int i = 0; i < n; i++) {
		uint8_t c = (uint8_t)(v >> (8 * i));

		put(x, &c, 1);
	}
}

/* The documented retention layout (docs/FORMAT.md). */
static void
retention_bytes(struct bytes *x, const uint8_t id[CF_ID_BYTES], int forever, uint32_t y,
    uint32_t m, uint32_t d, const char *by)
{
	uint8_t sig[CF_SIG_BYTES];

	memset(x, 0, sizeof *x);
	memset(sig, 0x5a, sizeof sig);
	put_le(x, 1, 1);
	put_le(x, 'R', 1);
	put(x, id, CF_ID_BYTES);
	put_le(x, (uint64_t)forever, 1);
	put_le(x, y, 4);
	put_le(x, m, 4);
	put_le(x, d, 4);
	put_le(x, 1700000000, 8);
	put_le(x, strlen(by), 2);
	put(x, by, strlen(by));
	put(x, sig, sizeof sig);
}

static void
hold_bytes(struct bytes *x, const uint8_t id[CF_ID_BYTES], const char *by, const char *reason)
{
	uint8_t sig[CF_SIG_BYTES];

	memset(x, 0, sizeof *x);
	memset(sig, 0x5a, sizeof sig);
	put_le(x, 1, 1);
	put_le(x, 'H', 1);
	put(x, id, CF_ID_BYTES);
	put_le(x, 1700000000, 8);
	put_le(x, strlen(by), 2);
	put(x, by, strlen(by));
	put_le(x, strlen(reason), 2);
	put(x, reason, strlen(reason));
	put(x, sig, sizeof sig);
}

static int
check_val(const uint8_t key[1 + CF_ID_BYTES], const struct bytes *x)
{
	return cf_ks_value_check("policy", key, key != NULL ? 1 + CF_ID_BYTES : 0, x->b, x->n);
}

static void
test_layouts(void)
{
	static const uint8_t zero[CF_ID_BYTES];
	uint8_t id[CF_ID_BYTES], key[1 + CF_ID_BYTES], hkey[1 + CF_ID_BYTES], zkey[1 + CF_ID_BYTES];
	char long_reason[CF_REASON_MAX + 2], ksdir[4200], path[4300];
	struct bytes x;
	struct cf_ks *ks = NULL;
	struct cf_txn *t = NULL;
	struct cf_policy p, q;
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_val k, v;

	memset(id, 0xab, sizeof id);
	key[0] = 'R';
	memcpy(key + 1, id, CF_ID_BYTES);
	hkey[0] = 'H';
	memcpy(hkey + 1, id, CF_ID_BYTES);
	zkey[0] = 'R';
	memset(zkey + 1, 0, CF_ID_BYTES);

	retention_bytes(&x, id, 0, 7, 0, 0, "admin");
	CHECK(x.n == 105 + 5);
	CHECK_RC(check_val(key, &x), 0);
	CHECK_RC(check_val(NULL, &x), 0);
	CHECK_RC(check_val(hkey, &x), -EBADMSG);           /* kind disagrees with key */
	CHECK_RC(check_val(zkey, &x), -EBADMSG);           /* id disagrees with key */
	x.n--;
	CHECK_RC(check_val(key, &x), -EBADMSG);            /* short */
	x.n += 2;
	CHECK_RC(check_val(key, &x), -EBADMSG);            /* a byte too many */
	retention_bytes(&x, zero, 0, 0, 0, 30, "admin");
	CHECK_RC(check_val(zkey, &x), 0);                   /* the default */
	retention_bytes(&x, id, 1, 0, 0, 0, "#recovery");
	CHECK_RC(check_val(key, &x), 0);                    /* forever */
	retention_bytes(&x, id, 1, 7, 0, 0, "admin");
	CHECK_RC(check_val(key, &x), -EBADMSG);            /* forever with an amount */
	retention_bytes(&x, id, 0, 0, 0, 0, "admin");
	CHECK_RC(check_val(key, &x), -EBADMSG);            /* nothing at all */
	retention_bytes(&x, id, 2, 0, 0, 0, "admin");
	CHECK_RC(check_val(key, &x), -EBADMSG);
	retention_bytes(&x, id, 0, 1001, 0, 0, "admin");
	CHECK_RC(check_val(key, &x), -EBADMSG);
	retention_bytes(&x, id, 0, 0, 12001, 0, "admin");
	CHECK_RC(check_val(key, &x), -EBADMSG);
	retention_bytes(&x, id, 0, 0, 0, 366001, "admin");
	CHECK_RC(check_val(key, &x), -EBADMSG);
	retention_bytes(&x, id, 0, 7, 0, 0, "");
	CHECK_RC(check_val(key, &x), -EBADMSG);            /* nobody set it */
	retention_bytes(&x, id, 0, 7, 0, 0, "admin");
	x.b[0] = 2;
	CHECK_RC(check_val(key, &x), -EBADMSG);            /* layout version */
	retention_bytes(&x, id, 0, 7, 0, 0, "admin");
	x.b[1] = 'X';
	CHECK_RC(check_val(NULL, &x), -EBADMSG);           /* kind */

	hold_bytes(&x, id, "admin", "Case 42");
	CHECK(x.n == 94 + 5 + 7);
	CHECK_RC(check_val(hkey, &x), 0);
	CHECK_RC(check_val(key, &x), -EBADMSG);
	hold_bytes(&x, zero, "admin", "Case 42");
	CHECK_RC(check_val(NULL, &x), -EBADMSG);           /* a hold on nothing */
	hold_bytes(&x, id, "admin", "");
	CHECK_RC(check_val(hkey, &x), -EBADMSG);           /* a hold needs a reason */
	memset(long_reason, 'r', CF_REASON_MAX + 1);
	long_reason[CF_REASON_MAX + 1] = '\0';
	hold_bytes(&x, id, "admin", long_reason);
	CHECK_RC(check_val(hkey, &x), -EBADMSG);
	long_reason[CF_REASON_MAX] = '\0';
	hold_bytes(&x, id, "admin", long_reason);
	CHECK_RC(check_val(hkey, &x), 0);
	hold_bytes(&x, id, "admin", "Case 42");
	x.b[40] = 0;                                        /* a NUL inside the reason */
	CHECK_RC(check_val(hkey, &x), -EBADMSG);

	/* the encoder writes the documented bytes, and the getter reads them */
	snprintf(ksdir, sizeof ksdir, "%s/ks", dir);
	REQUIRE(mkdir(ksdir, 0700) == 0);
	REQUIRE(cf_ks_create(ksdir) == 0);
	REQUIRE(cf_ks_open(&ks, ksdir, 0) == 0);
	REQUIRE(cf_ks_begin(ks, 1, &t) == 0);
	memset(&p, 0, sizeof p);
	p.kind = CF_POLICY_RETENTION;
	memcpy(p.conv_id, id, CF_ID_BYTES);
	p.keep.years = 7;
	p.created = 1700000000;
	snprintf(p.by, sizeof p.by, "admin");
	memset(p.sig, 0x5a, sizeof p.sig);
	CHECK_RC(cf_ks_policy_put(t, &p), 0);
	q = p;
	q.kind = CF_POLICY_HOLD;
	q.keep.years = 0;
	snprintf(q.reason, sizeof q.reason, "Case 42");
	CHECK_RC(cf_ks_policy_put(t, &q), 0);
	cf_log_quiet(1);
	memset(q.conv_id, 0, CF_ID_BYTES);
	CHECK_RC(cf_ks_policy_put(t, &q), -EINVAL);         /* a hold on nothing */
	memcpy(q.conv_id, id, CF_ID_BYTES);
	q.reason[0] = '\0';
	CHECK_RC(cf_ks_policy_put(t, &q), -EINVAL);
	q = p;
	q.keep.forever = 1;
	CHECK_RC(cf_ks_policy_put(t, &q), -EINVAL);
	q.kind = 'Z';
	CHECK_RC(cf_ks_policy_put(t, &q), -EINVAL);
	cf_log_quiet(0);
	REQUIRE(cf_ks_commit(t) == 0);
	REQUIRE(cf_ks_begin(ks, 0, &t) == 0);
	CHECK_RC(cf_ks_policy_get(t, CF_POLICY_RETENTION, id, &q), 0);
	CHECK(q.kind == 'R' && q.keep.years == 7 && q.keep.months == 0 && q.created == 1700000000 &&
	    strcmp(q.by, "admin") == 0 && memcmp(q.sig, p.sig, CF_SIG_BYTES) == 0);
	CHECK_RC(cf_ks_policy_get(t, CF_POLICY_HOLD, id, &q), 0);
	CHECK_STR(q.reason, "Case 42");
	CHECK_RC(cf_ks_policy_get(t, CF_POLICY_RETENTION, NULL, &q), -ENOENT);
	cf_ks_abort(t);
	REQUIRE(cf_ks_begin(ks, 1, &t) == 0);
	CHECK_RC(cf_ks_policy_del(t, CF_POLICY_HOLD, id), 0);
	CHECK_RC(cf_ks_policy_del(t, CF_POLICY_HOLD, id), -ENOENT);
	/* the shredder takes only a sorted set of real ids */
	cf_log_quiet(1);
	CHECK_RC(cf_ks_convs_destroy(t, id, 0, NULL, NULL, NULL), -EINVAL);
	CHECK_RC(cf_ks_convs_destroy(t, zero, 1, NULL, NULL, NULL), -EINVAL);
	{
		uint8_t two[2 * CF_ID_BYTES];

		memset(two, 0xcc, CF_ID_BYTES);
		memset(two + CF_ID_BYTES, 0xaa, CF_ID_BYTES);
		CHECK_RC(cf_ks_convs_destroy(t, two, 2, NULL, NULL, NULL), -EINVAL);
		memcpy(two + CF_ID_BYTES, two, CF_ID_BYTES);
		CHECK_RC(cf_ks_convs_destroy(t, two, 2, NULL, NULL, NULL), -EINVAL);
	}
	cf_log_quiet(0);
	cf_ks_abort(t);
	cf_ks_close(ks);

	/* raw bytes as LMDB holds them */
	retention_bytes(&x, id, 0, 7, 0, 0, "admin");
	snprintf(path, sizeof path, "%s/keystore", ksdir);
	REQUIRE(mdb_env_create(&env) == 0);
	REQUIRE(mdb_env_set_maxdbs(env, 16) == 0);
	REQUIRE(mdb_env_open(env, path, MDB_RDONLY, 0600) == 0);
	REQUIRE(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0);
	REQUIRE(mdb_dbi_open(txn, "policy", 0, &dbi) == 0);
	k.mv_size = sizeof key;
	k.mv_data = key;
	REQUIRE(mdb_get(txn, dbi, &k, &v) == 0);
	CHECK(v.mv_size == x.n && memcmp(v.mv_data, x.b, x.n) == 0);
	/* the hold's removal above was aborted with its transaction */
	hold_bytes(&x, id, "admin", "Case 42");
	k.mv_data = hkey;
	REQUIRE(mdb_get(txn, dbi, &k, &v) == 0);
	CHECK(v.mv_size == x.n && memcmp(v.mv_data, x.b, x.n) == 0);
	mdb_txn_abort(txn);
	mdb_env_close(env);
}

/* ---- the archive: expire, holds, shred ---------------------------------- */

static char *
xstrdup(const char *s)
{
	char *d = strdup(s);

	REQUIRE(d != NULL);
	return d;
}

static void
add(struct cf_batch *b, const char *chat, const char *title, const char *id, int64_t ts_ms,
    const char *att)
{
	struct cf_msg m;

	memset(&m, 0, sizeof m);
	m.id = xstrdup(id);
	m.ts_ms = ts_ms;
	m.sender = xstrdup("Sam Sender");
	m.body = xstrdup("body text");
	if (att != NULL) {
		REQUIRE((m.att = calloc(1, sizeof *m.att)) != NULL);
		m.natt = 1;
		m.att[0].name = xstrdup("a.bin");
		m.att[0].src_path = xstrdup(att);
	}
	CHECK_RC(cf_batch_add(b, chat, title, &m), 0);
}

/* Conversation id by title, as s sees it. */
static int
find(struct cf_archive *a, struct cf_session *s, const char *title, uint8_t id[CF_ID_BYTES])
{
	struct cf_chat_list l;
	size_t i;
	int found = 0;

	REQUIRE(cf_chats_list(a, s, &l) == 0);
	for (i = 0; i < l.n; i++) {
		if (strcmp(l.v[i].title, title) == 0) {
			memcpy(id, l.v[i].id, CF_ID_BYTES);
			found = 1;
		}
	}
	cf_chats_free(&l);
	return found;
}

struct seen {
	size_t n;
	enum cf_expire_state state[16];
	uint8_t id[16][CF_ID_BYTES];
	char note[16][400];
};

static void
on_item(const struct cf_expire_item *it, void *arg)
{
	struct seen *s = arg;

	REQUIRE(s->n < 16);
	s->state[s->n] = it->state;
	memcpy(s->id[s->n], it->id, CF_ID_BYTES);
	snprintf(s->note[s->n], sizeof s->note[0], "%s", it->note != NULL ? it->note : "");
	s->n++;
}

/* The state s reported for id, or 0. */
static int
state_of(const struct seen *s, const uint8_t id[CF_ID_BYTES])
{
	for (size_t i = 0; i < s->n; i++)
		if (memcmp(s->id[i], id, CF_ID_BYTES) == 0)
			return (int)s->state[i];
	return 0;
}

/* Does any keystore entry name conversation id? */
struct trace {
	const uint8_t *id;
	int found;
};

static int
trace_step(const struct cf_ks_entry *e, void *arg)
{
	struct trace *x = arg;

	if (strcmp(e->db, "audit") == 0 || e->bad)
		return 0;
	if (memmem(e->key, e->klen, x->id, CF_ID_BYTES) != NULL)
		x->found++;
	else if (strcmp(e->db, "blobs") == 0 && memcmp(e->u.blob->conv_id, x->id, CF_ID_BYTES) == 0)
		x->found++;
	else if ((strcmp(e->db, "chatmap") == 0 || strcmp(e->db, "dedup") == 0) &&
	    memcmp(e->u.tagged.conv_id, x->id, CF_ID_BYTES) == 0)
		x->found++;
	return 0;
}

static int
traces(struct cf_archive *a, const uint8_t id[CF_ID_BYTES])
{
	struct trace x = { id, 0 };
	struct cf_txn *t;

	REQUIRE(cf_ks_begin(cf_archive_ks(a), 0, &t) == 0);
	CHECK_RC(cf_ks_check_walk(t, NULL, trace_step, &x), 0);
	cf_ks_abort(t);
	return x.found;
}

/* Store p (as is: its signature is whatever the caller put there). */
static void
forge(struct cf_archive *a, const struct cf_policy *p)
{
	struct cf_txn *t;

	REQUIRE(cf_ks_begin(cf_archive_ks(a), 1, &t) == 0);
	CHECK_RC(cf_ks_policy_put(t, p), 0);
	REQUIRE(cf_ks_commit(t) == 0);
}

static void
count_line(const char *line, void *arg)
{
	(void)line;
	(*(int *)arg)++;
}

static int
expire_seen(struct cf_archive *a, struct cf_session *s, int dry, struct seen *seen,
    struct cf_expire_result *r)
{
	memset(seen, 0, sizeof *seen);
	return cf_expire(a, s, dry, on_item, seen, r);
}

static void
test_archive(void)
{
	uint8_t *secret;
	struct cf_archive *a = NULL;
	struct cf_session *adm = NULL, *rev = NULL, *ing = NULL;
	struct cf_batch *b = NULL;
	struct cf_import_stats st;
	struct cf_expire_result r;
	struct cf_shred_result sr;
	struct cf_verify_result vr;
	struct cf_keep k7, k5, kf;
	struct cf_policy p;
	struct seen seen;
	uint8_t c15[CF_ID_BYTES], c19[CF_ID_BYTES], c24[CF_ID_BYTES], cf[CF_ID_BYTES];
	char att[4200];
	int64_t now_ms = (int64_t)time(NULL) * 1000;
	int lines = 0;
	FILE *f;

	snprintf(arch, sizeof arch, "%s/a", dir);
	snprintf(att, sizeof att, "%s/att.bin", dir);
	REQUIRE((f = fopen(att, "w")) != NULL);
	fputs("attachment bytes\n", f);
	fclose(f);
	REQUIRE((secret = cf_secure_alloc(CF_KEY_BYTES)) != NULL);
	REQUIRE(cf_archive_init(arch, "admin", PW("pw admin"), secret) == 0);
	REQUIRE(cf_archive_open(&a, arch, 0) == 0);
	REQUIRE(cf_session_unlock(a, "admin", PW("pw admin"), &adm) == 0);
	REQUIRE(cf_principal_add(a, adm, "rev", CF_ROLE_REVIEWER, PW("pw rev")) == 0);
	REQUIRE(cf_principal_add(a, adm, "ing", CF_ROLE_INGEST, PW("pw ing")) == 0);
	REQUIRE(cf_session_unlock(a, "rev", PW("pw rev"), &rev) == 0);
	REQUIRE(cf_session_unlock(a, "ing", PW("pw ing"), &ing) == 0);

	REQUIRE(cf_batch_new(&b, "jsonl", "UTC") == 0);
	add(b, "c15", "Old", "o1", 1420070400000, NULL);            /* 2015-01-01 */
	add(b, "c15", NULL, "o2", 1435685400000, att);              /* 2015-06-30T17:30 */
	add(b, "c19", "Mid", "m1", 1577833200000, NULL);            /* 2019-12-31T23:00 */
	add(b, "cf", "Kept", "k1", 1420070400000, NULL);            /* 2015, forever */
	add(b, "c24", "New", "n1", now_ms - 10LL * 86400 * 1000, NULL);
	REQUIRE(cf_import(a, ing, b, &st) == 0);
	cf_batch_free(b);
	REQUIRE(find(a, adm, "Old", c15) && find(a, adm, "Mid", c19) && find(a, adm, "New", c24) &&
	    find(a, adm, "Kept", cf));
	/* key rotation leaves earlier generations (convkeys) to shred too */
	REQUIRE(cf_grant(a, adm, c15, "rev", 0, 0, "review") == 0);
	REQUIRE(cf_revoke(a, adm, c15, "rev") == 0);
	REQUIRE(cf_grant(a, adm, c15, "rev", 0, 0, "review again") == 0);

	/* nothing set: nothing expires */
	CHECK_RC(expire_seen(a, adm, 1, &seen, &r), 0);
	CHECK(seen.n == 0 && r.conversations == 4 && r.due == 0);

	/* only admins */
	REQUIRE(cf_keep_parse("7y", &k7) == 0 && cf_keep_parse("5y", &k5) == 0 &&
	    cf_keep_parse("forever", &kf) == 0);
	cf_log_quiet(1);
	CHECK_RC(cf_retention_set(a, rev, NULL, &k7), -EPERM);
	CHECK_RC(cf_hold(a, rev, c15, 1, "x"), -EPERM);
	CHECK_RC(cf_shred(a, rev, c15, NULL), -EPERM);
	CHECK_RC(cf_expire(a, ing, 1, NULL, NULL, NULL), -EPERM);
	CHECK_RC(cf_hold(a, adm, c15, 1, ""), -EINVAL);
	CHECK_RC(cf_hold(a, adm, c15, 0, NULL), -ENOENT);
	CHECK_RC(cf_retention_set(a, adm, NULL, NULL), -ENOENT);
	{
		uint8_t nope[CF_ID_BYTES];

		memset(nope, 0x11, sizeof nope);
		CHECK_RC(cf_retention_set(a, adm, nope, &k7), -ENOENT);
		CHECK_RC(cf_hold(a, adm, nope, 1, "x"), -ENOENT);
		CHECK_RC(cf_shred(a, adm, nope, NULL), -ENOENT);
	}
	cf_log_quiet(0);

	/* default 7y, Mid 5y, Kept forever: Old and Mid are due */
	CHECK_RC(cf_retention_set(a, adm, NULL, &k7), 0);
	CHECK_RC(cf_retention_set(a, adm, c19, &k5), 0);
	CHECK_RC(cf_retention_set(a, adm, cf, &kf), 0);
	CHECK_RC(expire_seen(a, adm, 1, &seen, &r), 0);
	CHECK(seen.n == 2 && r.due == 2 && r.held == 0 && r.suspect == 0);
	CHECK(state_of(&seen, c15) == CF_EXPIRE_DUE && state_of(&seen, c19) == CF_EXPIRE_DUE);
	/* an own retention overrides the default, both ways */
	CHECK_RC(cf_retention_set(a, adm, c19, &kf), 0);
	CHECK_RC(expire_seen(a, adm, 1, &seen, &r), 0);
	CHECK(seen.n == 1 && state_of(&seen, c15) == CF_EXPIRE_DUE);
	CHECK_RC(cf_retention_set(a, adm, c19, &k5), 0);

	/* a hold keeps Old: listed as held, shred refused */
	CHECK_RC(cf_hold(a, adm, c15, 1, "Case 42"), 0);
	CHECK_RC(expire_seen(a, adm, 1, &seen, &r), 0);
	CHECK(r.due == 1 && r.held == 1 && state_of(&seen, c15) == CF_EXPIRE_HELD);
	for (size_t i = 0; i < seen.n; i++)
		if (memcmp(seen.id[i], c15, CF_ID_BYTES) == 0)
			CHECK_STR(seen.note[i], "Case 42");
	cf_log_quiet(1);
	CHECK_RC(cf_shred(a, adm, c15, NULL), -EBUSY);
	cf_log_quiet(0);
	CHECK(traces(a, c15) > 0);

	/* a forged hold (not signed) still holds, and verify reports it */
	memset(&p, 0, sizeof p);
	p.kind = CF_POLICY_HOLD;
	memcpy(p.conv_id, c19, CF_ID_BYTES);
	p.created = 1;
	snprintf(p.by, sizeof p.by, "admin");
	snprintf(p.reason, sizeof p.reason, "forged");
	forge(a, &p);
	cf_log_quiet(1);
	CHECK_RC(cf_shred(a, adm, c19, NULL), -EBUSY);
	cf_log_quiet(0);
	CHECK_RC(expire_seen(a, adm, 1, &seen, &r), 0);
	CHECK(r.due == 0 && r.held == 2 && state_of(&seen, c19) == CF_EXPIRE_HELD);
	lines = 0;
	CHECK_RC(cf_verify(a, count_line, &lines, &vr), 0);
	CHECK(vr.damaged == 1 && lines == 1);
	CHECK_RC(cf_hold(a, adm, c19, 0, "remove the forged one"), 0);

	/* a forged retention (a day, unsigned) is not applied: kept, suspect */
	memset(&p, 0, sizeof p);
	p.kind = CF_POLICY_RETENTION;
	memcpy(p.conv_id, c24, CF_ID_BYTES);
	p.keep.days = 1;
	p.created = 1;
	snprintf(p.by, sizeof p.by, "admin");
	forge(a, &p);
	CHECK_RC(expire_seen(a, adm, 1, &seen, &r), 0);
	CHECK(r.suspect == 1 && state_of(&seen, c24) == CF_EXPIRE_SUSPECT);
	/* a forged default keeps whatever relies on it */
	memset(p.conv_id, 0, CF_ID_BYTES);
	forge(a, &p);
	CHECK_RC(expire_seen(a, adm, 1, &seen, &r), 0);
	CHECK(r.suspect == 2 && r.held == 0 && r.due == 1 && state_of(&seen, c15) ==
	    CF_EXPIRE_SUSPECT && state_of(&seen, c19) == CF_EXPIRE_DUE);
	CHECK_RC(cf_retention_set(a, adm, NULL, &k7), 0);
	CHECK_RC(cf_retention_set(a, adm, c24, NULL), 0);

	/* the real run: Mid goes, Old is held */
	CHECK_RC(expire_seen(a, adm, 0, &seen, &r), 0);
	CHECK(r.shredded == 1 && r.held == 1 && r.suspect == 0);
	CHECK(state_of(&seen, c19) == CF_EXPIRE_SHREDDED && state_of(&seen, c15) == CF_EXPIRE_HELD);
	CHECK(r.shred.files_removed == 1 && r.shred.files_left == 0 && r.shred.ks.segments == 1 &&
	    r.shred.ks.wraps == 2);
	CHECK(traces(a, c19) == 0);
	CHECK(!find(a, adm, "Mid", c19));
	CHECK_RC(expire_seen(a, adm, 0, &seen, &r), 0);
	CHECK(r.shredded == 0 && r.held == 1);

	/* lifting the hold lets shred through: every trace goes */
	CHECK_RC(cf_hold(a, adm, c15, 0, NULL), 0);
	CHECK_RC(cf_shred(a, adm, c15, &sr), 0);
	CHECK(sr.ks.segments == 1 && sr.ks.attachments == 1 && sr.files_removed == 2 &&
	    sr.ks.wraps == 3 && sr.ks.grants == 1 && sr.ks.convkeys == 1 && sr.ks.dedup == 2 &&
	    sr.ks.policy == 0);
	CHECK(traces(a, c15) == 0);
	CHECK(!find(a, rev, "Old", c15));
	cf_log_quiet(1);
	CHECK_RC(cf_shred(a, adm, c15, NULL), -ENOENT);
	cf_log_quiet(0);
	lines = 0;
	CHECK_RC(cf_verify(a, count_line, &lines, &vr), 0);
	CHECK(vr.damaged == 0 && vr.unreferenced == 0 && lines == 0);

	/* the same source conversation imported again is a new conversation */
	REQUIRE(cf_batch_new(&b, "jsonl", "UTC") == 0);
	add(b, "c15", "Old", "o1", 1420070400000, NULL);
	REQUIRE(cf_import(a, ing, b, &st) == 0);
	cf_batch_free(b);
	CHECK(st.new_conversations == 1 && st.added == 1 && st.duplicates == 0);

	cf_session_free(adm);
	cf_session_free(rev);
	cf_session_free(ing);
	cf_archive_close(a);
	cf_secure_free(secret);
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");

	REQUIRE(cf_crypto_init() == 0);
	snprintf(dir, sizeof dir, "%s/coffer-test-retention.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	REQUIRE(mkdtemp(dir) != NULL);
	test_periods();
	test_layouts();
	test_archive();
	remove_tree(dir);
	return CHECK_DONE("test_retention");
}
