/*
 * test_archive.c - the archive model: sessions, write-only ingest, policy
 * (grant, revoke, expiry, --all), idempotent and atomic import, recovery and
 * keyless verification, through the API of fs/archive.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"
#include "check.h"
#include "testlib.h"
#include "util.h"

static char dir[2048];
static char arch[4096];

#define PW(s) (s), strlen(s)

static char *
xstrdup(const char *s)
{
	char *d = strdup(s);

	REQUIRE(d != NULL);
	return d;
}

/* Add one message to batch b. */
static void
add(struct cf_batch *b, const char *chat, const char *title, const char *id, int64_t ts,
    const char *sender, const char *body, const char *attach_path)
{
	struct cf_msg m;

	memset(&m, 0, sizeof(m));
	m.id = id ? xstrdup(id) : NULL;
	m.ts_ms = ts;
	m.sender = xstrdup(sender);
	m.body = xstrdup(body);
	if (attach_path != NULL) {
		m.att = calloc(1, sizeof(*m.att));
		REQUIRE(m.att != NULL);
		m.natt = 1;
		m.att[0].name = xstrdup("doc.bin");
		m.att[0].src_path = xstrdup(attach_path);
	}
	CHECK_RC(cf_batch_add(b, chat, title, &m), 0);
}

static size_t
count_chats(struct cf_archive *a, struct cf_session *s)
{
	struct cf_chat_list l;
	size_t n;

	if (cf_chats_list(a, s, &l) != 0)
		return (size_t)-1;
	n = l.n;
	cf_chats_free(&l);
	return n;
}

static size_t
count_blob_files(void)
{
	char p[8192];
	DIR *d, *sub;
	struct dirent *e, *f;
	size_t n = 0;

	snprintf(p, sizeof(p), "%s/blobs", arch);
	REQUIRE((d = opendir(p)) != NULL);
	while ((e = readdir(d)) != NULL) {
		char sp[16384];

		if (e->d_name[0] == '.')
			continue;
		snprintf(sp, sizeof(sp), "%s/%s", p, e->d_name);
		if ((sub = opendir(sp)) == NULL)
			continue;
		while ((f = readdir(sub)) != NULL)
			if (f->d_name[0] != '.')
				n++;
		closedir(sub);
	}
	closedir(d);
	return n;
}

static void
collect(const char *line, void *arg)
{
	(void)line;
	(*(int *)arg)++;
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");
	uint8_t *secret, *wrong;
	struct cf_archive *a = NULL;
	struct cf_session *adm = NULL, *rev = NULL, *ing = NULL, *rec = NULL, *adm2 = NULL;
	struct cf_batch *b = NULL;
	struct cf_import_stats st;
	struct cf_chat_list l;
	struct cf_chat_content cc;
	struct cf_verify_result vr;
	char attpath[8192], blobfile[8192];
	int64_t now = (int64_t)time(NULL);
	int idx, reports = 0;
	size_t before;
	FILE *fp;

	REQUIRE(cf_crypto_init() == 0);
	snprintf(dir, sizeof(dir), "%s/coffer-test-archive.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(arch, sizeof(arch), "%s/a", dir);
	snprintf(attpath, sizeof(attpath), "%s/doc.bin", dir);
	REQUIRE((fp = fopen(attpath, "w")) != NULL);
	for (int i = 0; i < 70000; i++)
		fputc((i * 7) & 0xff, fp);
	fclose(fp);

	secret = cf_secure_alloc(CF_KEY_BYTES);
	wrong = cf_secure_alloc(CF_KEY_BYTES);
	REQUIRE(secret && wrong);
	CHECK_RC(cf_archive_init(arch, "admin", PW("pw admin"), secret), 0);
	cf_log_quiet(1);
	CHECK_RC(cf_archive_init(arch, "admin", PW("pw admin"), wrong), -EEXIST);
	CHECK_RC(cf_archive_open(&a, dir, 0), -ENOENT);         /* not an archive */
	cf_log_quiet(0);
	REQUIRE(cf_archive_open(&a, arch, 0) == 0);

	/* sessions */
	cf_log_quiet(1);
	CHECK_RC(cf_session_unlock(a, "admin", PW("pw wrong"), &adm), -EACCES);
	CHECK_RC(cf_session_unlock(a, "nobody", PW("pw admin"), &adm), -ENOENT);
	cf_log_quiet(0);
	REQUIRE(cf_session_unlock(a, "admin", PW("pw admin"), &adm) == 0);
	CHECK(cf_session_role(adm) == CF_ROLE_ADMIN);
	CHECK_RC(cf_principal_add(a, adm, "rev", CF_ROLE_REVIEWER, PW("pw rev")), 0);
	CHECK_RC(cf_principal_add(a, adm, "ing", CF_ROLE_INGEST, PW("pw ing")), 0);
	cf_log_quiet(1);
	CHECK_RC(cf_principal_add(a, adm, "rev", CF_ROLE_REVIEWER, PW("x")), -EEXIST);
	CHECK_RC(cf_principal_add(a, adm, "bad/name", CF_ROLE_REVIEWER, PW("x")), -EINVAL);
	cf_log_quiet(0);
	REQUIRE(cf_session_unlock(a, "rev", PW("pw rev"), &rev) == 0);
	REQUIRE(cf_session_unlock(a, "ing", PW("pw ing"), &ing) == 0);
	cf_log_quiet(1);
	CHECK_RC(cf_principal_add(a, rev, "eve", CF_ROLE_ADMIN, PW("x")), -EPERM);
	cf_log_quiet(0);

	/* import as ingest */
	REQUIRE(cf_batch_new(&b, "jsonl", "UTC") == 0);
	add(b, "c1", "One", "m1", 1700000000000, "Ann", "hello one", NULL);
	add(b, "c1", NULL, "m2", 1700000060000, "Ben", "second\nline", NULL);
	add(b, "c2", "Two", NULL, 1700000120000, "Cy", "with file", attpath);
	CHECK(cf_batch_messages(b) == 3);
	CHECK_RC(cf_import(a, ing, b, &st), 0);
	CHECK(st.added == 3 && st.new_conversations == 2 && st.attachments == 1 &&
	    st.duplicates == 0);
	cf_batch_free(b);
	before = count_blob_files();
	CHECK(before == 3);

	/* a reviewer cannot import */
	REQUIRE(cf_batch_new(&b, "jsonl", "UTC") == 0);
	add(b, "c1", NULL, "m9", 1700000000000, "Ann", "x", NULL);
	cf_log_quiet(1);
	CHECK_RC(cf_import(a, rev, b, &st), -EPERM);
	cf_log_quiet(0);
	cf_batch_free(b);

	/* the same messages again: nothing added, nothing written */
	REQUIRE(cf_batch_new(&b, "jsonl", "UTC") == 0);
	add(b, "c1", "One", "m1", 1700000000000, "Ann", "hello one", NULL);
	add(b, "c1", NULL, "m2", 1700000060000, "Ben", "second\nline", NULL);
	add(b, "c2", "Two", NULL, 1700000120000, "Cy", "with file", attpath);
	CHECK_RC(cf_import(a, ing, b, &st), 0);
	CHECK(st.added == 0 && st.duplicates == 3 && st.new_conversations == 0);
	cf_batch_free(b);
	CHECK(count_blob_files() == before);

	/* atomic: the second chat fails (missing attachment), nothing stays */
	REQUIRE(cf_batch_new(&b, "jsonl", "UTC") == 0);
	add(b, "c1", NULL, "m3", 1700000180000, "Ann", "new in c1", NULL);
	add(b, "c4", "Four", "m4", 1700000180000, "Ann", "new chat", "/nonexistent/file");
	cf_log_quiet(1);
	CHECK(cf_import(a, ing, b, &st) < 0);
	cf_log_quiet(0);
	cf_batch_free(b);
	CHECK(count_blob_files() == before);

	/* who sees what */
	CHECK(count_chats(a, ing) == 0);
	CHECK(count_chats(a, rev) == 0);
	REQUIRE(cf_chats_list(a, adm, &l) == 0);
	REQUIRE(l.n == 2);
	CHECK_STR(l.v[0].title, "One");
	CHECK_STR(l.v[1].title, "Two");
	CHECK(l.v[0].messages == 2 && l.v[1].messages == 1);
	CHECK(l.v[0].first_ms == 1700000000000 && l.v[0].last_ms == 1700000060000);
	CHECK(cf_chat_find(&l, "Two") == 1);
	{
		char hex[2 * CF_ID_BYTES + 1];

		cf_hex_encode(hex, l.v[0].id, CF_ID_BYTES);
		CHECK(cf_chat_find(&l, hex) == 0);
		hex[10] = '\0';
		CHECK(cf_chat_find(&l, hex) == 0);
	}
	cf_log_quiet(1);
	CHECK(cf_chat_find(&l, "Three") == -ENOENT);
	cf_log_quiet(0);
	/* ingest holds no key for what it wrote */
	{
		struct cf_txn *t;
		uint8_t sealed[CF_SEALED_KEY_BYTES];

		REQUIRE(cf_ks_begin(cf_archive_ks(a), 0, &t) == 0);
		for (size_t i = 0; i < l.n; i++) {
			CHECK_RC(cf_ks_wrap_get(t, l.v[i].id, "ing", sealed), -ENOENT);
			CHECK_RC(cf_ks_wrap_get(t, l.v[i].id, "admin", sealed), 0);
			CHECK_RC(cf_ks_wrap_get(t, l.v[i].id, CF_RECOVERY_NAME, sealed), 0);
		}
		cf_ks_abort(t);
	}
	/* content */
	REQUIRE(cf_chat_load(a, &l.v[0], &cc) == 0);
	REQUIRE(cc.n == 2);
	CHECK_STR(cc.msgs[0].body, "hello one");
	CHECK_STR(cc.msgs[1].body, "second\nline");
	CHECK_STR(cc.msgs[1].sender, "Ben");
	REQUIRE(cc.nhdrs == 1);
	CHECK_STR(cc.hdrs[0].title, "One");
	CHECK_STR(cc.hdrs[0].source, "jsonl");
	cf_chat_content_free(&cc);
	REQUIRE(cf_chat_load(a, &l.v[1], &cc) == 0);
	REQUIRE(cc.n == 1 && cc.msgs[0].natt == 1);
	{
		struct cf_blob_reader *r;
		uint8_t *data;
		size_t len;
		int same = 1;

		CHECK(cc.msgs[0].att[0].size == 70000);
		REQUIRE(cf_chat_attachment_open(a, &l.v[1], cc.msgs[0].att[0].blob_id, &r) == 0);
		REQUIRE(cf_blob_read_all(r, &data, &len) == 0);
		CHECK(len == 70000);
		for (size_t i = 0; i < len && same; i++)
			same = data[i] == ((i * 7) & 0xff);
		CHECK(same);
		free(data);
		cf_blob_close(r);
		cf_blob_path(blobfile, sizeof(blobfile), arch, cc.msgs[0].att[0].blob_id);
	}
	cf_chat_content_free(&cc);

	/* grants: one conversation, expiry, not-before, revoke */
	CHECK_RC(cf_grant(a, adm, l.v[0].id, "rev", 0, 0, "case 1"), 0);
	CHECK(count_chats(a, rev) == 1);
	CHECK_RC(cf_policy_check(a, rev, l.v[0].id), 0);
	CHECK_RC(cf_policy_check(a, rev, l.v[1].id), -EACCES);
	CHECK_RC(cf_grant(a, adm, l.v[1].id, "rev", 0, now - 10, "expired"), 0);
	CHECK(count_chats(a, rev) == 1);
	CHECK_RC(cf_policy_check(a, rev, l.v[1].id), -EACCES);
	CHECK_RC(cf_grant(a, adm, l.v[1].id, "rev", now + 3600, 0, "later"), 0);
	CHECK(count_chats(a, rev) == 1);
	CHECK_RC(cf_grant(a, adm, l.v[1].id, "rev", now - 10, now + 3600, "now"), 0);
	CHECK(count_chats(a, rev) == 2);
	CHECK_RC(cf_revoke(a, adm, l.v[0].id, "rev"), 0);
	CHECK(count_chats(a, rev) == 1);
	cf_log_quiet(1);
	CHECK_RC(cf_revoke(a, adm, l.v[0].id, "rev"), -ENOENT);
	CHECK_RC(cf_grant(a, rev, l.v[0].id, "rev", 0, 0, NULL), -EPERM);
	CHECK_RC(cf_grant(a, adm, l.v[0].id, "ing", 0, 0, NULL), -EINVAL);
	cf_log_quiet(0);
	/* a grant without the key is not enough: the key decides too */
	{
		struct cf_txn *t;

		REQUIRE(cf_ks_begin(cf_archive_ks(a), 1, &t) == 0);
		CHECK_RC(cf_ks_wrap_del(t, l.v[1].id, "rev"), 0);
		CHECK_RC(cf_ks_commit(t), 0);
		CHECK(count_chats(a, rev) == 0);
	}
	/* --all covers conversations created later; revoke --all ends it */
	CHECK_RC(cf_grant(a, adm, NULL, "rev", 0, 0, "all"), 0);
	CHECK(count_chats(a, rev) == 2);
	REQUIRE(cf_batch_new(&b, "jsonl", "UTC") == 0);
	add(b, "c3", "Three", "m5", 1700000300000, "Dee", "third chat", NULL);
	CHECK_RC(cf_import(a, ing, b, &st), 0);
	cf_batch_free(b);
	CHECK(count_chats(a, rev) == 3);
	CHECK_RC(cf_revoke(a, adm, NULL, "rev"), 0);
	CHECK(count_chats(a, rev) == 0);
	cf_chats_free(&l);

	/* recovery */
	memcpy(wrong, secret, CF_KEY_BYTES);
	wrong[0] ^= 1;
	cf_log_quiet(1);
	CHECK_RC(cf_session_recovery(a, wrong, &rec), -EACCES);
	cf_log_quiet(0);
	REQUIRE(cf_session_recovery(a, secret, &rec) == 0);
	CHECK(count_chats(a, rec) == 3);
	CHECK_RC(cf_recover(a, secret, "admin2", PW("pw admin2")), 0);
	REQUIRE(cf_session_unlock(a, "admin2", PW("pw admin2"), &adm2) == 0);
	CHECK(count_chats(a, adm2) == 3);

	/* verify: clean, then a flipped byte, then a missing file */
	CHECK_RC(cf_verify(a, collect, &reports, &vr), 0);
	CHECK(vr.damaged == 0 && vr.unreferenced == 0 && vr.blobs_checked == 4);
	{
		int fd = open(blobfile, O_RDWR);
		uint8_t c;

		REQUIRE(fd >= 0);
		REQUIRE(pread(fd, &c, 1, 5000) == 1);
		c ^= 0x40;
		REQUIRE(pwrite(fd, &c, 1, 5000) == 1);
		close(fd);
	}
	reports = 0;
	CHECK_RC(cf_verify(a, collect, &reports, &vr), 0);
	CHECK(vr.damaged == 1 && reports == 1);
	REQUIRE(cf_chats_list(a, adm2, &l) == 0);
	idx = cf_chat_find(&l, "Two");
	REQUIRE(idx >= 0);
	REQUIRE(cf_chat_load(a, &l.v[idx], &cc) == 0);
	{
		struct cf_blob_reader *r;
		uint8_t buf[100];

		/* the header still matches its record, so the attachment opens
		 * (only the header is checked at open), and the damaged chunk
		 * fails when it is read; the other chunks read */
		REQUIRE(cf_chat_attachment_open(a, &l.v[idx], cc.msgs[0].att[0].blob_id, &r)
		    == 0);
		CHECK(cf_blob_pread(r, buf, 10, 66000) == 10);
		cf_log_quiet(1);
		CHECK_RC(cf_blob_pread(r, buf, sizeof(buf), 4990), -EBADMSG);
		cf_log_quiet(0);
		cf_blob_close(r);
		r = NULL;
		/* and below the record check, the chunk itself fails */
		/* (the key was rotated by the revocation above: the blob opens
		 * with an earlier generation) */
		REQUIRE(cf_chat_blob_open(a, &l.v[idx], cc.msgs[0].att[0].blob_id,
		    CF_BLOB_ATTACHMENT, &r) == 0);
		cf_log_quiet(1);
		CHECK_RC(cf_blob_pread(r, buf, sizeof(buf), 4990), -EBADMSG);
		cf_log_quiet(0);
		CHECK_RC(cf_blob_pread(r, buf, sizeof(buf), 66000), 100);
		cf_blob_close(r);
	}
	cf_chat_content_free(&cc);
	cf_chats_free(&l);
	REQUIRE(unlink(blobfile) == 0);
	CHECK_RC(cf_verify(a, collect, &reports, &vr), 0);
	CHECK(vr.damaged == 1);

	/* ---- an altered keystore is detected, never trusted ------------- */
	{
		struct cf_txn *t;
		struct cf_principal p;
		struct cf_grant g;
		struct cf_conv c;
		struct cf_meta meta, savedmeta;
		struct cf_keypair evil = { 0 };
		uint8_t cid[CF_ID_BYTES];
		struct cf_session *x = NULL;

		/* plant an admin nobody signed: the next import refuses to seal
		 * a new conversation's key to it */
		REQUIRE(cf_ks_begin(cf_archive_ks(a), 1, &t) == 0);
		REQUIRE(cf_ks_principal_get(t, "admin2", &p) == 0);
		REQUIRE(cf_keypair_new(&evil) == 0);
		snprintf(p.name, sizeof(p.name), "mallory");
		memcpy(p.pk, evil.pk, CF_PK_BYTES);
		REQUIRE(cf_ks_principal_put(t, &p) == 0);
		REQUIRE(cf_ks_commit(t) == 0);
		REQUIRE(cf_batch_new(&b, "jsonl", "UTC") == 0);
		add(b, "c9", "Nine", "m9", 1700000400000, "Eve", "after the plant", NULL);
		cf_log_quiet(1);
		CHECK_RC(cf_import(a, ing, b, &st), -EBADMSG);
		cf_log_quiet(0);
		cf_batch_free(b);
		cf_keypair_clear(&evil);

		/* an extended grant is no grant */
		CHECK_RC(cf_grant(a, adm2, NULL, "rev", 0, now - 5, "expired all"), 0);
		CHECK(count_chats(a, rev) == 0);
		REQUIRE(cf_ks_begin(cf_archive_ks(a), 1, &t) == 0);
		REQUIRE(cf_ks_grant_get(t, "rev", NULL, &g) == 0);
		g.not_after = 0;
		REQUIRE(cf_ks_grant_put(t, &g) == 0);
		REQUIRE(cf_ks_commit(t) == 0);
		cf_log_quiet(1);
		CHECK(count_chats(a, rev) == 0);
		cf_log_quiet(0);

		/* a conversation whose public key was swapped gets nothing more */
		REQUIRE(cf_chats_list(a, adm2, &l) == 0);
		idx = cf_chat_find(&l, "One");
		REQUIRE(idx >= 0);
		memcpy(cid, l.v[idx].id, CF_ID_BYTES);
		cf_chats_free(&l);
		REQUIRE(cf_ks_begin(cf_archive_ks(a), 1, &t) == 0);
		REQUIRE(cf_ks_conv_get(t, cid, &c) == 0);
		REQUIRE(cf_keypair_new(&evil) == 0);
		memcpy(c.pk, evil.pk, CF_PK_BYTES);
		REQUIRE(cf_ks_conv_put(t, &c) == 0);
		REQUIRE(cf_ks_commit(t) == 0);
		cf_keypair_clear(&evil);
		REQUIRE(cf_batch_new(&b, "jsonl", "UTC") == 0);
		add(b, "c1", NULL, "m10", 1700000500000, "Ann", "secret follow-up", NULL);
		cf_log_quiet(1);
		CHECK_RC(cf_import(a, ing, b, &st), -EBADMSG);
		cf_log_quiet(0);
		cf_batch_free(b);

		/* an ingest key sealed to ingest by an intruder is refused */
		REQUIRE(cf_ks_begin(cf_archive_ks(a), 1, &t) == 0);
		REQUIRE(cf_ks_principal_get(t, "ing", &p) == 0);
		{
			uint8_t fake[CF_KEY_BYTES] = { 1, 2, 3 };

			REQUIRE(cf_seal(p.sealed_ingest_key, fake, sizeof(fake), p.pk) == 0);
		}
		REQUIRE(cf_ks_principal_put(t, &p) == 0);
		REQUIRE(cf_ks_commit(t) == 0);
		cf_log_quiet(1);
		CHECK_RC(cf_session_unlock(a, "ing", PW("pw ing"), &x), -EBADMSG);
		cf_log_quiet(0);

		/* a replaced signing key makes every unlock fail */
		REQUIRE(cf_ks_begin(cf_archive_ks(a), 1, &t) == 0);
		REQUIRE(cf_ks_meta_get(t, &meta) == 0);
		savedmeta = meta;
		meta.sign_pk[0] ^= 1;
		REQUIRE(cf_ks_meta_put(t, &meta) == 0);
		REQUIRE(cf_ks_commit(t) == 0);
		cf_archive_close(a);
		REQUIRE(cf_archive_open(&a, arch, 0) == 0);
		cf_log_quiet(1);
		CHECK(cf_session_unlock(a, "rev", PW("pw rev"), &x) < 0);
		CHECK(cf_session_recovery(a, secret, &x) < 0);
		cf_log_quiet(0);
		REQUIRE(cf_ks_begin(cf_archive_ks(a), 1, &t) == 0);
		REQUIRE(cf_ks_meta_put(t, &savedmeta) == 0);
		REQUIRE(cf_ks_commit(t) == 0);
		cf_archive_close(a);
		REQUIRE(cf_archive_open(&a, arch, 0) == 0);
		CHECK_RC(cf_session_unlock(a, "rev", PW("pw rev"), &x), 0);
		cf_session_free(x);
	}

	cf_session_free(adm);
	cf_session_free(adm2);
	cf_session_free(rev);
	cf_session_free(ing);
	cf_session_free(rec);
	cf_archive_close(a);
	cf_secure_free(secret);
	cf_secure_free(wrong);
	remove_tree(dir);
	return CHECK_DONE("test_archive");
}
