/*
 * test_load.c - cf_chat_load on a conversation of several segments large
 * enough to be loaded by two threads: every message comes back once, in
 * time order, with its body; a damaged byte in any one segment fails the
 * whole load with EBADMSG and leaves nothing behind.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive.h"
#include "check.h"
#include "testlib.h"
#include "util.h"

#define PW(s) (s), strlen(s)
#define BATCHES 4
#define PER_BATCH 300
#define BODY_LEN 1200

static char dir[2048];
static char arch[4096];

/* The body of message number k: its number, then filler. */
static void
body_of(char *buf, size_t k)
{
	size_t i, n = (size_t)snprintf(buf, BODY_LEN + 1, "message %zu \xc3\xa9 ", k);

	for (i = n; i < BODY_LEN; i++)
		buf[i] = (char)('a' + (k + i) % 26);
	buf[BODY_LEN] = '\0';
}

/* Messages k = b, b + BATCHES, ... go to batch b: the batches interleave
 * in time, so the load must sort across segments. */
static void
import_all(struct cf_archive *a, struct cf_session *ing)
{
	struct cf_import_stats st;
	struct cf_batch *b;
	char body[BODY_LEN + 1], id[32];
	struct cf_msg m;
	size_t bi, j, k;

	for (bi = 0; bi < BATCHES; bi++) {
		REQUIRE(cf_batch_new(&b, "jsonl", "UTC") == 0);
		for (j = 0; j < PER_BATCH; j++) {
			k = j * BATCHES + bi;
			body_of(body, k);
			snprintf(id, sizeof id, "m%zu", k);
			memset(&m, 0, sizeof m);
			m.id = strdup(id);
			m.ts_ms = 1700000000000 + (int64_t)k * 1000;
			m.sender = strdup("Ann");
			m.body = strdup(body);
			REQUIRE(m.id != NULL && m.sender != NULL && m.body != NULL);
			REQUIRE(cf_batch_add(b, "big", "Big", &m) == 0);
		}
		CHECK_RC(cf_import(a, ing, b, &st), 0);
		cf_batch_free(b);
	}
}

static int
load_big(struct cf_archive *a, struct cf_session *s, struct cf_chat_content *cc)
{
	struct cf_chat_list l;
	int rc, idx;

	REQUIRE(cf_chats_list(a, s, &l) == 0);
	idx = cf_chat_find(&l, "Big");
	REQUIRE(idx >= 0);
	rc = cf_chat_load(a, &l.v[idx], cc);
	cf_chats_free(&l);
	return rc;
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");
	struct cf_archive *a = NULL;
	struct cf_session *adm = NULL, *ing = NULL;
	struct cf_chat_content cc;
	char body[BODY_LEN + 1], p[8192], sp[16384];
	struct dirent *e, *f;
	DIR *d, *sub;
	size_t k, ok = 0, files = 0;

	REQUIRE(cf_crypto_init() == 0);
	snprintf(dir, sizeof(dir), "%s/coffer-test-load.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(arch, sizeof(arch), "%s/a", dir);
	{
		uint8_t *secret = cf_secure_alloc(CF_KEY_BYTES);

		REQUIRE(secret != NULL);
		REQUIRE(cf_archive_init(arch, "admin", PW("pw admin"), secret) == 0);
		cf_secure_free(secret);
	}
	REQUIRE(cf_archive_open(&a, arch, 0) == 0);
	REQUIRE(cf_session_unlock(a, "admin", PW("pw admin"), &adm) == 0);
	REQUIRE(cf_principal_add(a, adm, "ing", CF_ROLE_INGEST, PW("pw ing")) == 0);
	REQUIRE(cf_session_unlock(a, "ing", PW("pw ing"), &ing) == 0);
	import_all(a, ing);

	/* all of it, once, in time order */
	REQUIRE(load_big(a, adm, &cc) == 0);
	CHECK(cc.n == BATCHES * PER_BATCH);
	CHECK(cc.nhdrs == BATCHES);
	for (k = 0; k < cc.n && k < BATCHES * PER_BATCH; k++) {
		body_of(body, k);
		if (cc.msgs[k].ts_ms == 1700000000000 + (int64_t)k * 1000 &&
		    cc.msgs[k].body != NULL && strcmp(cc.msgs[k].body, body) == 0)
			ok++;
	}
	CHECK(ok == BATCHES * PER_BATCH);
	cf_chat_content_free(&cc);

	/* a damaged byte in any segment fails the whole load */
	snprintf(p, sizeof(p), "%s/blobs", arch);
	REQUIRE((d = opendir(p)) != NULL);
	cf_log_quiet(1);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(sp, sizeof(sp), "%s/%s", p, e->d_name);
		if ((sub = opendir(sp)) == NULL)
			continue;
		while ((f = readdir(sub)) != NULL) {
			char fp[20000];

			if (f->d_name[0] == '.')
				continue;
			snprintf(fp, sizeof(fp), "%s/%s", sp, f->d_name);
			files++;
			flip_byte(fp, 160 + 70000);
			memset(&cc, 0x5a, sizeof cc);
			CHECK_RC(load_big(a, adm, &cc), -EBADMSG);
			CHECK(cc.n == 0 && cc.msgs == NULL && cc.nhdrs == 0);
			flip_byte(fp, 160 + 70000);
		}
		closedir(sub);
	}
	closedir(d);
	cf_log_quiet(0);
	CHECK(files == BATCHES);
	REQUIRE(load_big(a, adm, &cc) == 0);
	CHECK(cc.n == BATCHES * PER_BATCH);
	cf_chat_content_free(&cc);

	cf_session_free(adm);
	cf_session_free(ing);
	cf_archive_close(a);
	CHECK(remove_tree(dir) == 0);
	return CHECK_DONE("test_load");
}
