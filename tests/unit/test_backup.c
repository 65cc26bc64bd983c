/*
 * test_backup.c - cf_backup (fs/backup.h) and cf_verify_deep
 * (fs/verify_deep.h): a backup is a complete archive that verifies, opens
 * and holds the same conversations; it copies only what its keystore
 * snapshot references; damage in the source is reported, not hidden;
 * refused destinations leave nothing behind.  The deep walk reports a
 * flipped byte in a segment chunk, in the first chunk, in an attachment or
 * a missing segment, each with its conversation and the times around it,
 * and keeps reading past the damage.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "backup.h"
#include "check.h"
#include "testlib.h"
#include "util.h"
#include "verify_deep.h"

#define PW(s) (s), strlen(s)
#define NMSG 2000                       /* conversation "Big": several chunks */
#define T0 1700000000000                /* ms; message i of Big is at T0 + i s */
#define ATT_SIZE 200000                 /* four chunks */

static char dir[2048];
static char arch[4096];

/* Findings of one cf_verify_deep run. */
struct lines {
	char v[16][1024];
	int n;
};

static void
collect(const char *line, void *arg)
{
	struct lines *l = arg;

	if (l->n < 16)
		snprintf(l->v[l->n], sizeof l->v[0], "%s", line);
	l->n++;
}

static void
count_line(const char *line, void *arg)
{
	(void)line;
	(*(int *)arg)++;
}

static char *
xstrdup(const char *s)
{
	char *d = strdup(s);

	REQUIRE(d != NULL);
	return d;
}

static void
add(struct cf_batch *b, const char *chat, const char *title, int64_t ts, const char *body,
    const char *attach)
{
	struct cf_msg m;

	memset(&m, 0, sizeof m);
	m.ts_ms = ts;
	m.sender = xstrdup("Ann");
	m.body = xstrdup(body);
	if (attach != NULL) {
		REQUIRE((m.att = calloc(1, sizeof *m.att)) != NULL);
		m.natt = 1;
		m.att[0].name = xstrdup("plan.bin");
		m.att[0].src_path = xstrdup(attach);
	}
	REQUIRE(cf_batch_add(b, chat, title, &m) == 0);
}

/* Entries of p that are not folders, plus the entries of its folders
 * (keystore/ -> its files; blobs/ -> the blob files). */
static int
count_files(const char *p)
{
	char sub[8192];
	struct dirent *e, *g;
	DIR *d, *s;
	int n = 0;

	if ((d = opendir(p)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof sub, "%s/%s", p, e->d_name);
		if ((s = opendir(sub)) == NULL) {
			n++;
			continue;
		}
		while ((g = readdir(s)) != NULL)
			if (g->d_name[0] != '.')
				n++;
		closedir(s);
	}
	closedir(d);
	return n;
}

/* File offset of plaintext chunk i of a blob (blob.h). */
static off_t
chunk_off(int i)
{
	return (off_t)CF_BLOB_HDR_BYTES + (off_t)i * (CF_CHUNK_SIZE + 16) + 100;
}

static int
first_seg(const struct cf_blob_rec *b, void *arg)
{
	memcpy(arg, b->id, CF_ID_BYTES);
	return 1;
}

static int
same_file(const char *x, const char *y)
{
	char *a = NULL, *b = NULL;
	size_t na = 0, nb = 0;
	int same;

	if (cf_read_file(x, &a, &na) != 0 || cf_read_file(y, &b, &nb) != 0) {
		free(a);
		return 0;
	}
	same = na == nb && memcmp(a, b, na) == 0;
	free(a);
	free(b);
	return same;
}

/* Parse "...after the message of T1, up to the message of T2..." */
static int
bracket(const char *line, int64_t *t1, int64_t *t2)
{
	const char *p = strstr(line, "after the message of "), *q = strstr(line, "up to the message of ");
	char a[32], b[32];

	if (p == NULL || q == NULL)
		return -1;
	if (sscanf(p + strlen("after the message of "), "%20s", a) != 1 ||
	    sscanf(q + strlen("up to the message of "), "%20s", b) != 1)
		return -1;
	if (cf_parse_time(a, "UTC", t1, NULL) != 0 || cf_parse_time(b, "UTC", t2, NULL) != 0)
		return -1;
	return 0;
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");
	uint8_t *secret;
	struct cf_archive *a = NULL, *ba = NULL;
	struct cf_session *adm = NULL, *rev = NULL, *badm = NULL;
	struct cf_batch *b = NULL;
	struct cf_import_stats ist;
	struct cf_backup_stats st;
	struct cf_verify_result vr;
	struct cf_verify_deep_result dr;
	struct cf_chat_list l = { .v = NULL }, bl = { .v = NULL };
	struct cf_chat_content cc;
	struct cf_txn *t;
	struct lines out;
	char att[4096], dest[4096], dest2[4096], p[8192], q[8192], hex_big[33], hex_small[33];
	char body[200];
	uint8_t seg_big[CF_ID_BYTES], seg_small[CF_ID_BYTES], att_id[CF_ID_BYTES];
	int big, small, i, n;
	struct stat sb;
	FILE *fp;

	REQUIRE(cf_crypto_init() == 0);
	snprintf(dir, sizeof dir, "%s/coffer-test-backup.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(arch, sizeof arch, "%s/a", dir);
	snprintf(att, sizeof att, "%s/plan.bin", dir);
	REQUIRE((fp = fopen(att, "w")) != NULL);
	for (i = 0; i < ATT_SIZE; i++)
		fputc((i * 13) & 0xff, fp);
	fclose(fp);

	REQUIRE((secret = cf_secure_alloc(CF_KEY_BYTES)) != NULL);
	REQUIRE(cf_archive_init(arch, "admin", PW("pw admin"), secret) == 0);
	REQUIRE(cf_archive_open(&a, arch, 0) == 0);
	REQUIRE(cf_session_unlock(a, "admin", PW("pw admin"), &adm) == 0);
	REQUIRE(cf_principal_add(a, adm, "rev", CF_ROLE_REVIEWER, PW("pw rev")) == 0);

	/* "Big": NMSG messages in one segment of several chunks; "Small": one
	 * message with an attachment of four chunks */
	REQUIRE(cf_batch_new(&b, "jsonl", "UTC") == 0);
	for (i = 0; i < NMSG; i++) {
		snprintf(body, sizeof body, "message %05d of the big conversation, padded so that "
		    "the segment spans several chunks of sixty-four KiB", i);
		add(b, "big", "Big", T0 + (int64_t)i * 1000, body, NULL);
	}
	add(b, "small", "Small", T0 + 5000000, "see the plan", att);
	REQUIRE(cf_import(a, adm, b, &ist) == 0);
	CHECK(ist.added == NMSG + 1 && ist.attachments == 1);
	cf_batch_free(b);
	b = NULL;

	REQUIRE(cf_chats_list(a, adm, &l) == 0);
	REQUIRE(l.n == 2);
	big = strcmp(l.v[0].title, "Big") == 0 ? 0 : 1;
	small = 1 - big;
	cf_hex_encode(hex_big, l.v[big].id, CF_ID_BYTES);
	cf_hex_encode(hex_small, l.v[small].id, CF_ID_BYTES);
	REQUIRE(cf_ks_begin(cf_archive_ks(a), 0, &t) == 0);
	REQUIRE(cf_ks_conv_segments(t, l.v[big].id, first_seg, seg_big) == 1);
	REQUIRE(cf_ks_conv_segments(t, l.v[small].id, first_seg, seg_small) == 1);
	cf_ks_abort(t);
	REQUIRE(cf_chat_load(a, &l.v[small], &cc) == 0);
	REQUIRE(cc.n == 1 && cc.msgs[0].natt == 1);
	memcpy(att_id, cc.msgs[0].att[0].blob_id, CF_ID_BYTES);
	cf_chat_content_free(&cc);

	/* ---- cf_backup -------------------------------------------------- */

	/* an orphan (an interrupted import) is not part of the snapshot */
	snprintf(p, sizeof p, "%s/blobs/00", arch);
	(void)mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/blobs/00/00000000000000000000000000000000", arch);
	REQUIRE((fp = fopen(p, "w")) != NULL);
	fputs("orphan", fp);
	fclose(fp);

	snprintf(dest, sizeof dest, "%s/backup", dir);
	CHECK_RC(cf_backup(a, dest, 0, &st), 0);
	CHECK(st.blobs == 3 && st.copied == 3 && st.linked == 0 && st.damaged == 0);
	CHECK(st.bytes > NMSG * 100);
	snprintf(p, sizeof p, "%s/keystore", dest);
	CHECK(count_files(p) == 1);             /* data.mdb, no lock file */
	snprintf(p, sizeof p, "%s/blobs", dest);
	CHECK(count_files(p) == 3);             /* not the orphan */
	snprintf(p, sizeof p, "%s/COFFER", dest);
	snprintf(q, sizeof q, "%s/COFFER", arch);
	CHECK(same_file(p, q));
	REQUIRE(cf_blob_path(p, sizeof p, dest, att_id) == 0);
	REQUIRE(cf_blob_path(q, sizeof q, arch, att_id) == 0);
	CHECK(same_file(p, q));
	CHECK(stat(p, &sb) == 0 && (sb.st_mode & 0777) == 0600 && sb.st_nlink == 1);
	snprintf(p, sizeof p, "%s/blobs/00/00000000000000000000000000000000", arch);
	REQUIRE(unlink(p) == 0);

	/* the copy is an archive: verifies clean, opens, same content */
	REQUIRE(cf_archive_open(&ba, dest, 0) == 0);
	CHECK(memcmp(cf_archive_id(ba), cf_archive_id(a), CF_ID_BYTES) == 0);
	CHECK_RC(cf_verify(ba, NULL, NULL, &vr), 0);
	CHECK(vr.blobs_checked == 3 && vr.damaged == 0 && vr.unreferenced == 0);
	REQUIRE(cf_session_unlock(ba, "admin", PW("pw admin"), &badm) == 0);
	REQUIRE(cf_chats_list(ba, badm, &bl) == 0);
	CHECK(bl.n == 2);
	if (bl.n == 2) {
		CHECK(memcmp(bl.v[big].id, l.v[big].id, CF_ID_BYTES) == 0);
		CHECK(bl.v[big].messages == NMSG);
		REQUIRE(cf_chat_load(ba, &bl.v[big], &cc) == 0);
		CHECK(cc.n == NMSG);
		CHECK(cc.n > 0 && strncmp(cc.msgs[NMSG - 1].body, "message 01999", 13) == 0);
		cf_chat_content_free(&cc);
	}
	memset(&out, 0, sizeof out);
	CHECK_RC(cf_verify_deep(ba, badm, collect, &out, &dr), 0);
	CHECK(dr.failed == 0 && out.n == 0);
	cf_chats_free(&bl);
	cf_session_free(badm);
	badm = NULL;
	cf_archive_close(ba);
	ba = NULL;

	/* refused destinations, nothing left behind */
	cf_log_quiet(1);
	CHECK_RC(cf_backup(a, dest, 0, &st), -EEXIST);          /* not empty */
	snprintf(p, sizeof p, "%s/COFFER", arch);
	CHECK_RC(cf_backup(a, p, 0, &st), -ENOTDIR);            /* a file */
	snprintf(p, sizeof p, "%s/blobs/inside", arch);
	CHECK_RC(cf_backup(a, p, 0, &st), -EINVAL);             /* in the archive */
	CHECK(access(p, F_OK) != 0);
	snprintf(p, sizeof p, "%s/no/such/parent", dir);
	CHECK_RC(cf_backup(a, p, 0, &st), -ENOENT);
	cf_log_quiet(0);

	/* an empty existing folder is fine; --link shares the inodes */
	snprintf(dest2, sizeof dest2, "%s/linked", dir);
	REQUIRE(mkdir(dest2, 0700) == 0);
	CHECK_RC(cf_backup(a, dest2, CF_BACKUP_LINK, &st), 0);
	CHECK(st.blobs == 3 && st.linked == 3 && st.copied == 0 && st.damaged == 0);
	REQUIRE(cf_blob_path(p, sizeof p, arch, seg_big) == 0);
	CHECK(stat(p, &sb) == 0 && sb.st_nlink == 2);
	remove_tree(dest2);

	/* damage in the source is reported and copied as it is */
	REQUIRE(cf_blob_path(p, sizeof p, arch, seg_small) == 0);
	flip_byte(p, chunk_off(0));
	cf_log_quiet(1);
	CHECK_RC(cf_backup(a, dest2, 0, &st), 0);
	cf_log_quiet(0);
	CHECK(st.blobs == 3 && st.damaged == 1);
	REQUIRE(cf_blob_path(q, sizeof q, dest2, seg_small) == 0);
	CHECK(same_file(p, q));
	flip_byte(p, chunk_off(0));
	remove_tree(dest2);
	/* a referenced blob that is missing: reported, the rest copied */
	REQUIRE(cf_blob_path(p, sizeof p, arch, att_id) == 0);
	snprintf(q, sizeof q, "%s/moved", dir);
	REQUIRE(rename(p, q) == 0);
	cf_log_quiet(1);
	CHECK_RC(cf_backup(a, dest2, 0, &st), 0);
	cf_log_quiet(0);
	CHECK(st.blobs == 3 && st.copied == 2 && st.damaged == 1);
	REQUIRE(rename(q, p) == 0);
	REQUIRE(cf_archive_open(&ba, dest2, CF_KS_RDONLY) == 0);
	CHECK_RC(cf_verify(ba, NULL, NULL, &vr), 0);
	CHECK(vr.damaged == 1);                 /* the copy says what it lacks */
	cf_archive_close(ba);
	ba = NULL;
	remove_tree(dest2);

	/* ---- cf_verify_deep --------------------------------------------- */

	memset(&out, 0, sizeof out);
	CHECK_RC(cf_verify_deep(a, adm, collect, &out, &dr), 0);
	CHECK(dr.conversations == 2 && dr.segments == 2 && dr.messages == NMSG + 1 &&
	    dr.attachments == 1 && dr.failed == 0 && out.n == 0);

	/* a reviewer walks only what it may read */
	REQUIRE(cf_session_unlock(a, "rev", PW("pw rev"), &rev) == 0);
	CHECK_RC(cf_verify_deep(a, rev, collect, &out, &dr), 0);
	CHECK(dr.conversations == 0 && dr.failed == 0);
	REQUIRE(cf_grant(a, adm, l.v[small].id, "rev", 0, 0, "audit") == 0);
	CHECK_RC(cf_verify_deep(a, rev, collect, &out, &dr), 0);
	CHECK(dr.conversations == 1 && dr.messages == 1 && dr.attachments == 1 && dr.failed == 0);

	/* a flipped byte in a middle chunk of Big's segment: one finding,
	 * naming Big, the chunk and the messages either side; the walk goes
	 * on after the hole */
	REQUIRE(cf_blob_path(p, sizeof p, arch, seg_big) == 0);
	flip_byte(p, chunk_off(2));
	memset(&out, 0, sizeof out);
	cf_log_quiet(1);
	CHECK_RC(cf_verify_deep(a, adm, collect, &out, &dr), 0);
	cf_log_quiet(0);
	CHECK(dr.failed == 1 && out.n == 1);
	CHECK(strstr(out.v[0], hex_big) != NULL);
	CHECK(strstr(out.v[0], "\"Big\"") != NULL);
	CHECK(strstr(out.v[0], "chunk 2 of ") != NULL);
	CHECK(strstr(out.v[0], "bytes 131072-196607") != NULL);
	{
		int64_t t1 = 0, t2 = 0, lost;

		CHECK(bracket(out.v[0], &t1, &t2) == 0);
		CHECK(t1 > T0 && t2 > t1);
		/* exactly the messages strictly between the two are lost, and
		 * the messages after the hole were read */
		lost = (t2 - t1) / 1000 - 1;
		CHECK(lost > 0 && lost < 1000);
		CHECK((int64_t)dr.messages == NMSG + 1 - lost);
		CHECK(t2 < T0 + (int64_t)(NMSG - 1) * 1000);
	}
	/* keyless verify sees a changed file too, but not where */
	CHECK_RC(cf_verify(a, NULL, NULL, &vr), 0);
	CHECK(vr.damaged == 1);
	flip_byte(p, chunk_off(2));

	/* the first chunk: the header and the first messages are lost */
	flip_byte(p, chunk_off(0));
	memset(&out, 0, sizeof out);
	cf_log_quiet(1);
	CHECK_RC(cf_verify_deep(a, adm, collect, &out, &dr), 0);
	cf_log_quiet(0);
	CHECK(dr.failed == 1 && out.n == 1);
	CHECK(strstr(out.v[0], "from the segment header on") != NULL);
	CHECK(strstr(out.v[0], "up to the message of 2023-11-14T22:") != NULL);
	CHECK(strstr(out.v[0], "the segment holds messages from 2023-11-14T22:13:20Z") != NULL);
	CHECK(dr.messages > NMSG / 2 && dr.messages < NMSG);
	flip_byte(p, chunk_off(0));

	/* an attachment chunk, with a segment chunk of the other
	 * conversation: two findings, each with its own conversation */
	REQUIRE(cf_blob_path(q, sizeof q, arch, att_id) == 0);
	flip_byte(q, chunk_off(1));
	flip_byte(p, chunk_off(4));
	memset(&out, 0, sizeof out);
	cf_log_quiet(1);
	CHECK_RC(cf_verify_deep(a, adm, collect, &out, &dr), 0);
	cf_log_quiet(0);
	CHECK(dr.failed == 2 && out.n == 2);
	n = 0;
	for (i = 0; i < out.n && i < 16; i++) {
		if (strstr(out.v[i], hex_small) != NULL && strstr(out.v[i], "\"Small\"") != NULL &&
		    strstr(out.v[i], "attachment \"plan.bin\" of the message of "
		    "2023-11-14T23:36:40Z") != NULL &&
		    strstr(out.v[i], "bytes 65536-131071 (chunk 1 of 4)") != NULL)
			n |= 1;
		if (strstr(out.v[i], hex_big) != NULL && strstr(out.v[i], "chunk 4 of ") != NULL)
			n |= 2;
	}
	CHECK(n == 3);
	/* the reviewer sees the attachment's damage only */
	memset(&out, 0, sizeof out);
	cf_log_quiet(1);
	CHECK_RC(cf_verify_deep(a, rev, collect, &out, &dr), 0);
	cf_log_quiet(0);
	CHECK(dr.failed == 1 && out.n == 1 && strstr(out.v[0], "plan.bin") != NULL);
	flip_byte(q, chunk_off(1));
	flip_byte(p, chunk_off(4));

	/* a missing segment: reported with its time span */
	snprintf(q, sizeof q, "%s/moved", dir);
	REQUIRE(rename(p, q) == 0);
	memset(&out, 0, sizeof out);
	cf_log_quiet(1);
	CHECK_RC(cf_verify_deep(a, adm, collect, &out, &dr), 0);
	cf_log_quiet(0);
	CHECK(dr.failed == 1 && out.n == 1);
	CHECK(strstr(out.v[0], "is missing") != NULL && strstr(out.v[0], hex_big) != NULL);
	CHECK(strstr(out.v[0], "from 2023-11-14T22:13:20Z to 2023-11-14T22:46:39Z") != NULL);
	REQUIRE(rename(q, p) == 0);

	/* and everything is whole again */
	n = 0;
	CHECK_RC(cf_verify_deep(a, adm, count_line, &n, &dr), 0);
	CHECK(n == 0 && dr.failed == 0 && dr.messages == NMSG + 1);

	cf_chats_free(&l);
	cf_session_free(rev);
	cf_session_free(adm);
	cf_archive_close(a);
	cf_secure_free(secret);
	remove_tree(dir);
	return CHECK_DONE("test_backup");
}
