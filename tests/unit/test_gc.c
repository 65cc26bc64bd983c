/*
 * test_gc.c - garbage collection of unreferenced blob files (fs/gc.h):
 * only old unreferenced blobs go; referenced blobs, young orphans, links
 * and files that are not blobs stay; a dry run removes nothing; gc waits
 * for an import's write transaction and then sees what it committed.
 *
 * The archive is real (cf_archive_init, an ingest principal, one import
 * with an attachment); the orphans are planted next to its blobs with
 * modification times set by utimensat.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"
#include "check.h"
#include "testlib.h"
#include "gc.h"
#include "util.h"

#define PW(s) (s), strlen(s)
#define OLD_SECS 7200           /* well past the default grace period */

static char dir[2048];
static char arch[4096];

static char *
xstrdup(const char *s)
{
	char *d = strdup(s);

	REQUIRE(d != NULL);
	return d;
}

static void
add(struct cf_batch *b, const char *chat, const char *id, const char *body,
    const char *attach_path)
{
	struct cf_msg m;

	memset(&m, 0, sizeof(m));
	m.id = xstrdup(id);
	m.ts_ms = 1700000000000;
	m.sender = xstrdup("Ann");
	m.body = xstrdup(body);
	if (attach_path != NULL) {
		REQUIRE((m.att = calloc(1, sizeof(*m.att))) != NULL);
		m.natt = 1;
		m.att[0].name = xstrdup("doc.bin");
		m.att[0].src_path = xstrdup(attach_path);
	}
	CHECK_RC(cf_batch_add(b, chat, "Chat", &m), 0);
}

static int
exists(const char *p)
{
	struct stat st;

	return lstat(p, &st) == 0;
}

static void
write_filler(const char *p, size_t n)
{
	FILE *f = fopen(p, "wx");

	REQUIRE(f != NULL);
	for (size_t i = 0; i < n; i++)
		fputc((int)(i * 13 & 0xff), f);
	REQUIRE(fclose(f) == 0);
}

/* Set the modification time of p (not of what a link points to) to
 * ago seconds in the past. */
static void
age_file(const char *p, int64_t ago)
{
	struct timespec ts[2];

	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - ago;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	REQUIRE(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW) == 0);
}

/* Path of a new blob id in folder XX of id like (same first byte). */
static void
orphan_path(char *p, size_t n, const uint8_t like[CF_ID_BYTES], int same_folder)
{
	uint8_t id[CF_ID_BYTES];
	char sub[8192];

	cf_random(id, sizeof(id));
	if (same_folder)
		id[0] = like[0];
	else
		id[0] = (uint8_t)(like[0] ^ 0x5a);
	REQUIRE(cf_blob_path(p, n, arch, id) == 0);
	snprintf(sub, sizeof(sub), "%s", p);
	*strrchr(sub, '/') = '\0';
	REQUIRE(mkdir(sub, 0700) == 0 || errno == EEXIST);
}

/* The ids of every file under blobs/ (the referenced ones, right after
 * an import). */
static size_t
list_blobs(uint8_t ids[][CF_ID_BYTES], size_t max)
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
		REQUIRE((sub = opendir(sp)) != NULL);
		while ((f = readdir(sub)) != NULL) {
			if (f->d_name[0] == '.')
				continue;
			REQUIRE(n < max);
			REQUIRE(cf_hex_decode(ids[n], CF_ID_BYTES, f->d_name) == 0);
			n++;
		}
		closedir(sub);
	}
	closedir(d);
	return n;
}

static void
count_line(const char *line, void *arg)
{
	(void)line;
	(*(int *)arg)++;
}

static uint64_t
unreferenced(struct cf_archive *a)
{
	struct cf_verify_result vr;

	REQUIRE(cf_verify(a, NULL, NULL, &vr) == 0);
	CHECK(vr.damaged == 0);
	return vr.unreferenced;
}

/*
 * gc in a child process must wait while the parent holds the write lock
 * with a record of planted (old) file p uncommitted, and must then leave p
 * alone because the commit made it referenced.
 */
static void
check_waits_for_import(struct cf_archive *a, const uint8_t conv_id[CF_ID_BYTES])
{
	struct cf_blob_rec rec;
	struct cf_txn *t = NULL;
	char p[8192];
	int go[2], status;
	pid_t pid;

	memset(&rec, 0, sizeof(rec));
	cf_random(rec.id, CF_ID_BYTES);
	memcpy(rec.conv_id, conv_id, CF_ID_BYTES);
	rec.kind = CF_BLOB_ATTACHMENT;
	REQUIRE(cf_blob_path(p, sizeof(p), arch, rec.id) == 0);
	{
		char sub[8192];

		snprintf(sub, sizeof(sub), "%s", p);
		*strrchr(sub, '/') = '\0';
		REQUIRE(mkdir(sub, 0700) == 0 || errno == EEXIST);
	}
	write_filler(p, 1000);
	age_file(p, OLD_SECS);
	REQUIRE(cf_blob_check_file(p, &rec.file_size, rec.hash, NULL) == 0);
	/* a size that fits the file's, as verify checks: 160 + 16 + P */
	rec.plain_size = rec.file_size - 176;
	REQUIRE(pipe(go) == 0);

	REQUIRE((pid = fork()) >= 0);
	if (pid == 0) {
		struct cf_archive *ca = NULL;
		uint64_t removed = 99;
		char c;

		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(100);
		/* a fresh environment: LMDB handles do not cross fork() */
		if (cf_archive_open(&ca, arch, 0) != 0)
			_exit(101);
		if (cf_gc(ca, 0, 0, NULL, NULL, &removed) != 0)
			_exit(102);
		cf_archive_close(ca);
		_exit(removed > 50 ? 50 : (int)removed);
	}
	close(go[0]);
	/* the "import": its record is written but not committed */
	REQUIRE(cf_ks_begin(cf_archive_ks(a), 1, &t) == 0);
	REQUIRE(cf_ks_blob_put(t, &rec) == 0);
	REQUIRE(write(go[1], "g", 1) == 1);
	close(go[1]);
	usleep(700000);
	CHECK(waitpid(pid, &status, WNOHANG) == 0);     /* gc is waiting */
	CHECK(exists(p));
	CHECK_RC(cf_ks_commit(t), 0);
	REQUIRE(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(exists(p));                               /* referenced now */
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");
	struct cf_archive *a = NULL, *ro = NULL;
	struct cf_session *adm = NULL, *ing = NULL;
	struct cf_batch *b = NULL;
	struct cf_import_stats st;
	struct cf_chat_list l;
	struct cf_chat_content cc;
	uint8_t *secret;
	uint8_t ids[8][CF_ID_BYTES];
	char attpath[8192], refpath[8][8192];
	char old1[8192], old2[8192], young[8192], link_id[8192], odd[8192], misplaced[8192];
	char upper[8192], outside[8192], linkdir[8192], outside_orphan[8192];
	char hex[2 * CF_ID_BYTES + 1];
	uint64_t removed;
	size_t nref, i;
	int lines;

	REQUIRE(cf_crypto_init() == 0);
	snprintf(dir, sizeof(dir), "%s/coffer-test-gc.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(arch, sizeof(arch), "%s/a", dir);
	snprintf(attpath, sizeof(attpath), "%s/doc.bin", dir);
	write_filler(attpath, 70000);

	REQUIRE((secret = cf_secure_alloc(CF_KEY_BYTES)) != NULL);
	REQUIRE(cf_archive_init(arch, "admin", PW("pw admin"), secret) == 0);
	REQUIRE(cf_archive_open(&a, arch, 0) == 0);
	REQUIRE(cf_session_unlock(a, "admin", PW("pw admin"), &adm) == 0);
	REQUIRE(cf_principal_add(a, adm, "ing", CF_ROLE_INGEST, PW("pw ing")) == 0);
	REQUIRE(cf_session_unlock(a, "ing", PW("pw ing"), &ing) == 0);
	REQUIRE(cf_batch_new(&b, "jsonl", "UTC") == 0);
	add(b, "c1", "m1", "hello", NULL);
	add(b, "c2", "m2", "with a file", attpath);
	REQUIRE(cf_import(a, ing, b, &st) == 0);
	cf_batch_free(b);
	nref = list_blobs(ids, 8);
	REQUIRE(nref == 3);             /* two segments, one attachment */
	for (i = 0; i < nref; i++) {
		REQUIRE(cf_blob_path(refpath[i], sizeof(refpath[i]), arch, ids[i]) == 0);
		age_file(refpath[i], OLD_SECS);  /* old, but referenced */
	}
	CHECK(unreferenced(a) == 0);

	/* nothing to collect yet */
	lines = 0;
	CHECK_RC(cf_gc(a, 0, 0, count_line, &lines, &removed), 0);
	CHECK(removed == 0 && lines == 0);

	/* plant: two old orphans (one beside a blob, one in a new folder),
	 * a young one, and things that are not blobs */
	orphan_path(old1, sizeof(old1), ids[0], 1);
	write_filler(old1, 500);
	age_file(old1, OLD_SECS);
	orphan_path(old2, sizeof(old2), ids[0], 0);
	write_filler(old2, 0);            /* killed before its header was out */
	age_file(old2, OLD_SECS);
	orphan_path(young, sizeof(young), ids[1], 1);
	write_filler(young, 300);
	/* a link named like a blob, pointing outside the archive */
	snprintf(outside, sizeof(outside), "%s/outside.bin", dir);
	write_filler(outside, 10);
	age_file(outside, OLD_SECS);
	orphan_path(link_id, sizeof(link_id), ids[2], 1);
	REQUIRE(symlink(outside, link_id) == 0);
	age_file(link_id, OLD_SECS);
	/* a folder link: blobs/XX -> a folder holding a blob-like old file */
	snprintf(linkdir, sizeof(linkdir), "%s/elsewhere", dir);
	REQUIRE(mkdir(linkdir, 0700) == 0);
	{
		uint8_t id[CF_ID_BYTES];
		char xx[3], lp[8192];

		do
			cf_random(id, sizeof(id));
		while (id[0] == ids[0][0] || id[0] == ids[1][0] || id[0] == ids[2][0] ||
		    id[0] == (uint8_t)(ids[0][0] ^ 0x5a));
		cf_hex_encode(hex, id, sizeof(id));
		REQUIRE(cf_path(outside_orphan, sizeof(outside_orphan), "%s/%s", linkdir,
		    hex) == 0);
		write_filler(outside_orphan, 10);
		age_file(outside_orphan, OLD_SECS);
		memcpy(xx, hex, 2);
		xx[2] = '\0';
		REQUIRE(cf_path(lp, sizeof(lp), "%s/blobs/%s", arch, xx) == 0);
		REQUIRE(symlink(linkdir, lp) == 0);
	}
	/* not blob names: a stray file, an upper-case id, an id in the wrong
	 * folder */
	REQUIRE(cf_path(odd, sizeof(odd), "%s/blobs/%02x/notes.txt", arch, ids[0][0]) == 0);
	write_filler(odd, 5);
	age_file(odd, OLD_SECS);
	{
		uint8_t id[CF_ID_BYTES];

		cf_random(id, sizeof(id));
		id[0] = ids[1][0];
		cf_hex_encode(hex, id, sizeof(id));
	}
	for (i = 0; hex[i] != '\0'; i++)
		if (hex[i] >= 'a' && hex[i] <= 'f')
			hex[i] = (char)(hex[i] - 'a' + 'A');
	hex[31] = 'A';                  /* at least one upper-case digit */
	REQUIRE(cf_path(upper, sizeof(upper), "%s/blobs/%02x/%s", arch, ids[1][0], hex) == 0);
	write_filler(upper, 5);
	age_file(upper, OLD_SECS);
	{
		uint8_t id[CF_ID_BYTES];

		cf_random(id, sizeof(id));
		id[0] = (uint8_t)(ids[0][0] + 1);
		cf_hex_encode(hex, id, sizeof(id));
		REQUIRE(cf_path(misplaced, sizeof(misplaced), "%s/blobs/%02x/%s", arch, ids[0][0],
		    hex) == 0);
		write_filler(misplaced, 5);
		age_file(misplaced, OLD_SECS);
	}
	CHECK(unreferenced(a) >= 6);

	/* a dry run says two, removes nothing; it works read-only.  (LMDB
	 * forbids two handles on one keystore in one process: closing one
	 * drops the other's locks, so a is closed meanwhile.) */
	cf_archive_close(a);
	REQUIRE(cf_archive_open(&ro, arch, CF_KS_RDONLY) == 0);
	lines = 0;
	CHECK_RC(cf_gc(ro, 1, CF_GC_MIN_AGE_DEFAULT, count_line, &lines, &removed), 0);
	CHECK(removed == 2);
	CHECK(lines >= 2);
	CHECK(exists(old1) && exists(old2) && exists(young));
	cf_log_quiet(1);
	CHECK_RC(cf_gc(ro, 0, CF_GC_MIN_AGE_DEFAULT, NULL, NULL, &removed), -EROFS);
	CHECK_RC(cf_gc(ro, 1, -1, NULL, NULL, &removed), -EINVAL);
	cf_log_quiet(0);
	CHECK(exists(old1) && exists(old2));
	cf_archive_close(ro);
	REQUIRE(cf_archive_open(&a, arch, 0) == 0);

	/* the default grace period: only the old orphans go */
	CHECK_RC(cf_gc(a, 0, CF_GC_MIN_AGE_DEFAULT, NULL, NULL, &removed), 0);
	CHECK(removed == 2);
	CHECK(!exists(old1) && !exists(old2));
	CHECK(exists(young));
	for (i = 0; i < nref; i++)
		CHECK(exists(refpath[i]));
	CHECK(exists(link_id) && exists(outside));
	CHECK(exists(outside_orphan));
	CHECK(exists(odd) && exists(upper) && exists(misplaced));

	/* a shorter grace period than the young file's age: it goes too */
	age_file(young, 120);
	CHECK_RC(cf_gc(a, 0, 300, NULL, NULL, &removed), 0);
	CHECK(removed == 0 && exists(young));
	CHECK_RC(cf_gc(a, 0, 60, NULL, NULL, &removed), 0);
	CHECK(removed == 1 && !exists(young));

	/* no grace period: still never a referenced blob, a link or a stray */
	CHECK_RC(cf_gc(a, 0, 0, NULL, NULL, &removed), 0);
	CHECK(removed == 0);
	for (i = 0; i < nref; i++)
		CHECK(exists(refpath[i]));
	CHECK(exists(link_id) && exists(outside) && exists(outside_orphan));
	CHECK(exists(odd) && exists(upper) && exists(misplaced));

	/* the archive is whole: every message still reads */
	REQUIRE(cf_chats_list(a, adm, &l) == 0);
	CHECK(l.n == 2);
	for (i = 0; i < l.n; i++) {
		CHECK_RC(cf_chat_load(a, &l.v[i], &cc), 0);
		CHECK(cc.n == 1);
		cf_chat_content_free(&cc);
	}
	CHECK(unreferenced(a) == 5);    /* the link, the folder link, 3 strays */

	/* gc waits for a running import and honours what it commits */
	check_waits_for_import(a, l.v[0].id);
	cf_chats_free(&l);
	CHECK(unreferenced(a) == 5);

	cf_session_free(adm);
	cf_session_free(ing);
	cf_archive_close(a);
	cf_secure_free(secret);
	remove_tree(dir);
	return CHECK_DONE("test_gc");
}
