/*
 * test_rotation.c - revocation rotates a conversation's key pair (issue 4,
 * acceptance 2): a reviewer who saved the conversation's secret key before
 * being revoked can still open what was stored before (nothing can undo
 * that) but not one segment or attachment imported afterwards; everyone
 * still entitled (admins, the recovery key, other reviewers, the revoked
 * reviewer granted again) reads everything through the chain of key
 * generations; the conversation's public key changes, its records still
 * verify, and a second rotation chains a third generation.
 */
#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "archive.h"
#include "blob.h"
#include "check.h"
#include "testlib.h"
#include "crypto.h"
#include "keystore.h"
#include "util.h"

#define PW(s) (s), strlen(s)

static char dir[2048];
static char arch[4096];
static char attpath[4200];

static char *
xstrdup(const char *s)
{
	char *d = strdup(s);

	REQUIRE(d != NULL);
	return d;
}

/* Import n messages (one with an attachment) into conversation "c". */
static void
import_some(struct cf_archive *a, struct cf_session *ing, const char *prefix, int64_t ts)
{
	struct cf_batch *b = NULL;
	struct cf_import_stats st;
	struct cf_msg m;
	char id[64];
	int i;

	REQUIRE(cf_batch_new(&b, "jsonl", "UTC") == 0);
	for (i = 0; i < 3; i++) {
		memset(&m, 0, sizeof(m));
		snprintf(id, sizeof(id), "%s-%d", prefix, i);
		m.id = xstrdup(id);
		m.ts_ms = ts + i * 1000;
		m.sender = xstrdup("Ann");
		m.body = xstrdup(id);
		if (i == 0) {
			m.att = calloc(1, sizeof(*m.att));
			REQUIRE(m.att != NULL);
			m.natt = 1;
			m.att[0].name = xstrdup("doc.bin");
			m.att[0].src_path = xstrdup(attpath);
		}
		REQUIRE(cf_batch_add(b, "c", "Conv", &m) == 0);
	}
	CHECK_RC(cf_import(a, ing, b, &st), 0);
	CHECK(st.added == 3);
	cf_batch_free(b);
}

/* The one conversation as s sees it (list kept in *l). */
static struct cf_chat *
the_chat(struct cf_archive *a, struct cf_session *s, struct cf_chat_list *l)
{
	REQUIRE(cf_chats_list(a, s, l) == 0);
	REQUIRE(l->n == 1);
	return &l->v[0];
}

struct blobs {
	uint8_t id[16][CF_ID_BYTES];
	int kind[16];
	size_t n;
};

static int
collect_blob(const struct cf_blob_rec *b, void *arg)
{
	struct blobs *x = arg;

	if (x->n < 16) {
		memcpy(x->id[x->n], b->id, CF_ID_BYTES);
		x->kind[x->n] = b->kind;
		x->n++;
	}
	return 0;
}

/* Every blob of the archive, segments and attachments, in creation order
 * is not known: collect them with their creation flags instead. */
static void
all_blobs(struct cf_archive *a, struct blobs *x)
{
	struct cf_txn *t;

	memset(x, 0, sizeof(*x));
	REQUIRE(cf_ks_begin(cf_archive_ks(a), 0, &t) == 0);
	REQUIRE(cf_ks_blob_foreach(t, collect_blob, x) == 0);
	cf_ks_abort(t);
}

static int
known(const struct blobs *x, const uint8_t id[CF_ID_BYTES])
{
	size_t i;

	for (i = 0; i < x->n; i++)
		if (memcmp(x->id[i], id, CF_ID_BYTES) == 0)
			return 1;
	return 0;
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");
	struct cf_archive *a = NULL;
	struct cf_session *adm = NULL, *rev = NULL, *rev2 = NULL, *ing = NULL, *rec = NULL;
	struct cf_chat_list l, l2;
	struct cf_chat_content cc;
	struct cf_chat *c;
	struct cf_keypair saved = { 0 };
	struct cf_blob_reader *r = NULL;
	struct cf_verify_result vr;
	struct blobs before, after;
	uint8_t pk_before[CF_PK_BYTES], conv_id[CF_ID_BYTES];
	uint8_t *secret;
	size_t i, old_ok = 0, new_refused = 0;
	FILE *fp;

	REQUIRE(cf_crypto_init() == 0);
	snprintf(dir, sizeof(dir), "%s/coffer-test-rot.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(arch, sizeof(arch), "%s/a", dir);
	snprintf(attpath, sizeof(attpath), "%s/doc.bin", dir);
	REQUIRE((fp = fopen(attpath, "w")) != NULL);
	for (int k = 0; k < 90000; k++)
		fputc((k * 13) & 0xff, fp);
	fclose(fp);
	secret = cf_secure_alloc(CF_KEY_BYTES);
	REQUIRE(secret != NULL);
	REQUIRE(cf_archive_init(arch, "admin", PW("pw admin"), secret) == 0);
	REQUIRE(cf_archive_open(&a, arch, 0) == 0);
	REQUIRE(cf_session_unlock(a, "admin", PW("pw admin"), &adm) == 0);
	REQUIRE(cf_principal_add(a, adm, "rev", CF_ROLE_REVIEWER, PW("pw rev")) == 0);
	REQUIRE(cf_principal_add(a, adm, "rev2", CF_ROLE_REVIEWER, PW("pw rev2")) == 0);
	REQUIRE(cf_principal_add(a, adm, "ing", CF_ROLE_INGEST, PW("pw ing")) == 0);
	REQUIRE(cf_session_unlock(a, "rev", PW("pw rev"), &rev) == 0);
	REQUIRE(cf_session_unlock(a, "rev2", PW("pw rev2"), &rev2) == 0);
	REQUIRE(cf_session_unlock(a, "ing", PW("pw ing"), &ing) == 0);

	import_some(a, ing, "early", 1700000000000);
	c = the_chat(a, adm, &l);
	memcpy(conv_id, c->id, CF_ID_BYTES);
	CHECK(c->nold == 0);
	cf_chats_free(&l);
	REQUIRE(cf_grant(a, adm, conv_id, "rev", 0, 0, NULL) == 0);
	REQUIRE(cf_grant(a, adm, conv_id, "rev2", 0, 0, NULL) == 0);

	/* rev keeps a copy of the conversation's secret key */
	c = the_chat(a, rev, &l);
	memcpy(pk_before, c->kp.pk, CF_PK_BYTES);
	REQUIRE(cf_keypair_from_sk(&saved, c->kp.sk) == 0);
	cf_chats_free(&l);
	all_blobs(a, &before);
	CHECK(before.n == 2);   /* one segment, one attachment */

	CHECK_RC(cf_revoke(a, adm, conv_id, "rev"), 0);
	import_some(a, ing, "late", 1800000000000);
	all_blobs(a, &after);
	CHECK(after.n == 4);

	/* the saved key opens what was there before, nothing stored after */
	cf_log_quiet(1);
	for (i = 0; i < after.n; i++) {
		int rc = cf_blob_open(&r, arch, cf_archive_id(a), conv_id, after.id[i],
		    after.kind[i], &saved);

		cf_blob_close(r);
		r = NULL;
		if (known(&before, after.id[i])) {
			CHECK_RC(rc, 0);
			old_ok++;
		} else {
			CHECK_RC(rc, -EBADMSG);
			new_refused++;
		}
	}
	cf_log_quiet(0);
	CHECK(old_ok == 2 && new_refused == 2);

	/* the revoked reviewer sees nothing; the others everything */
	CHECK_RC(cf_chats_list(a, rev, &l), 0);
	CHECK(l.n == 0);
	cf_chats_free(&l);
	c = the_chat(a, adm, &l);
	CHECK(memcmp(c->kp.pk, pk_before, CF_PK_BYTES) != 0);
	CHECK(c->nold == 1 && memcmp(c->old[0].pk, pk_before, CF_PK_BYTES) == 0);
	CHECK(c->messages == 6);
	memset(&cc, 0, sizeof(cc));
	CHECK_RC(cf_chat_load(a, c, &cc), 0);
	CHECK(cc.n == 6);
	for (i = 0; i < cc.n; i++) {
		if (cc.msgs[i].natt > 0) {
			CHECK_RC(cf_chat_attachment_open(a, c, cc.msgs[i].att[0].blob_id, &r), 0);
			cf_blob_close(r);
			r = NULL;
		}
	}
	cf_chat_content_free(&cc);
	cf_chats_free(&l);
	c = the_chat(a, rev2, &l);
	CHECK(c->nold == 1 && c->messages == 6);
	memset(&cc, 0, sizeof(cc));
	CHECK_RC(cf_chat_load(a, c, &cc), 0);
	CHECK(cc.n == 6);
	cf_chat_content_free(&cc);
	cf_chats_free(&l);
	REQUIRE(cf_session_recovery(a, secret, &rec) == 0);
	c = the_chat(a, rec, &l);
	memset(&cc, 0, sizeof(cc));
	CHECK_RC(cf_chat_load(a, c, &cc), 0);
	CHECK(cc.n == 6);
	cf_chat_content_free(&cc);
	cf_chats_free(&l);

	/* granted again, rev reads it all through the chain */
	CHECK_RC(cf_grant(a, adm, conv_id, "rev", 0, 0, NULL), 0);
	c = the_chat(a, rev, &l);
	memset(&cc, 0, sizeof(cc));
	CHECK_RC(cf_chat_load(a, c, &cc), 0);
	CHECK(cc.n == 6);
	cf_chat_content_free(&cc);
	cf_chats_free(&l);

	/* a second rotation: three generations, still all readable; the
	 * keystore still verifies (the MAC was recomputed) */
	CHECK_RC(cf_revoke(a, adm, NULL, "rev2"), 0);
	import_some(a, ing, "later", 1900000000000);
	c = the_chat(a, adm, &l);
	CHECK(c->nold == 2 && c->messages == 9);
	memset(&cc, 0, sizeof(cc));
	CHECK_RC(cf_chat_load(a, c, &cc), 0);
	CHECK(cc.n == 9);
	cf_chat_content_free(&cc);
	c = the_chat(a, rev, &l2);
	CHECK(c->nold == 2);
	cf_chats_free(&l2);
	cf_chats_free(&l);
	CHECK_RC(cf_verify(a, NULL, NULL, &vr), 0);
	CHECK(vr.damaged == 0);

	cf_keypair_clear(&saved);
	cf_session_free(adm);
	cf_session_free(rev);
	cf_session_free(rev2);
	cf_session_free(ing);
	cf_session_free(rec);
	cf_archive_close(a);
	cf_secure_free(secret);
	remove_tree(dir);
	return CHECK_DONE("test_rotation");
}
