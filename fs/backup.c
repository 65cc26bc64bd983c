/*
 * backup.c - `coffer backup`: a consistent, self-contained copy of a live
 * archive.
 *
 * Order is what makes the copy consistent (backup.h): the keystore first,
 * as a compact snapshot taken inside one read transaction
 * (cf_ks_backup), then exactly the blobs that snapshot references, read
 * from the snapshot itself rather than from the live keystore, then the
 * COFFER marker.  A concurrent import may add blobs and commit while this
 * runs; the snapshot does not reference them, so they are not copied, and
 * nothing the snapshot references can be missing because a blob is
 * complete and fsync'd before any commit names it.
 *
 * Every blob is hashed while it is copied and compared with its record, so
 * a backup never silently carries bit rot: damage is reported, counted and
 * the copy goes on (the caller decides what a damaged source means).
 * Limits: one pass, no incremental mode (rsync, restic and borg do that on
 * top of a copy; docs/BACKUP.md); the blob list is walked inside one read
 * transaction of the snapshot, which nobody else writes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup.h"
#include "util.h"

#define BACKUP_BUF (1u << 20)
#define BACKUP_MARKER "COFFER"
#define BACKUP_MARKER_MAX 4096

struct backup_ctx {
	struct cf_archive *a;
	const char *dest;
	int flags;
	struct cf_backup_stats *st;
	uint8_t *buf;                   /* BACKUP_BUF bytes of ciphertext */
	uint8_t fanout[256];            /* dest/blobs/XX created (1) */
};

/* 1 when dir is an empty folder, 0 when it holds something, -errno. */
static int
backup_dir_empty(const char *dir)
{
	struct dirent *e;
	DIR *d;
	int empty = 1;

	if ((d = opendir(dir)) == NULL)
		return -errno;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			empty = 0;
			break;
		}
	}
	closedir(d);
	return empty;
}

/* Remove the files of one folder (not recursing) and the folder. */
static void
backup_rm_dir(const char *dir)
{
	char p[PATH_MAX];
	struct dirent *e;
	DIR *d;

	if ((d = opendir(dir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			if (cf_path(p, sizeof p, "%s/%s", dir, e->d_name) == 0)
				(void)unlink(p);
		}
		closedir(d);
	}
	(void)rmdir(dir);
}

/* Undo a failed backup.  dest was empty or absent when we started, so
 * everything of the archive's shape under it is ours. */
static void
backup_cleanup(const char *dest, int created)
{
	char p[PATH_MAX], sub[PATH_MAX];
	struct dirent *e;
	DIR *d;

	if (cf_path(p, sizeof p, "%s/%s", dest, BACKUP_MARKER) == 0)
		(void)unlink(p);
	if (cf_path(p, sizeof p, "%s/keystore", dest) == 0)
		backup_rm_dir(p);
	if (cf_path(p, sizeof p, "%s/blobs", dest) == 0 && (d = opendir(p)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			if (cf_path(sub, sizeof sub, "%s/%s", p, e->d_name) == 0)
				backup_rm_dir(sub);
		}
		closedir(d);
		(void)rmdir(p);
	}
	if (created)
		(void)rmdir(dest);
}

/* dest must not exist (it is created, 0700) or be an empty folder. */
static int
backup_prepare_dest(const char *dest, int *created)
{
	struct stat st;
	int rc;

	*created = 0;
	if (mkdir(dest, 0700) == 0) {
		*created = 1;
		return 0;
	}
	if (errno != EEXIST) {
		rc = -errno;
		cf_error("%s: %s", dest, strerror(-rc));
		return rc;
	}
	if (lstat(dest, &st) != 0) {
		rc = -errno;
		cf_error("%s: %s", dest, strerror(-rc));
		return rc;
	}
	if (!S_ISDIR(st.st_mode)) {
		cf_error("%s: exists and is not a folder", dest);
		return -ENOTDIR;
	}
	rc = backup_dir_empty(dest);
	if (rc < 0) {
		cf_error("%s: %s", dest, strerror(-rc));
		return rc;
	}
	if (rc == 0) {
		cf_error("%s: exists and is not empty", dest);
		return -EEXIST;
	}
	return 0;
}

/* A backup inside the archive would copy itself (and confuse verify). */
static int
backup_check_outside(const struct cf_archive *a, const char *dest)
{
	const char *src = cf_archive_dir(a);
	size_t n = strlen(src);
	char *real;
	int rc = 0;

	if ((real = realpath(dest, NULL)) == NULL) {
		rc = -errno;
		cf_error("%s: %s", dest, strerror(-rc));
		return rc;
	}
	if (strncmp(real, src, n) == 0 && (real[n] == '\0' || real[n] == '/')) {
		cf_error("%s: is inside the archive %s", dest, src);
		rc = -EINVAL;
	}
	free(real);
	return rc;
}

/* mkdir that accepts an existing folder; reports. */
static int
backup_mkdir(const char *path)
{
	int rc;

	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	rc = -errno;
	cf_error("%s: %s", path, strerror(-rc));
	return rc;
}

/* Copy the marker file of the source archive into dest (O_EXCL, fsync'd). */
static int
backup_marker(const struct cf_archive *a, const char *dest)
{
	char src[PATH_MAX], dst[PATH_MAX], *text = NULL;
	size_t len = 0;
	int fd = -1, rc;

	if ((rc = cf_path(src, sizeof src, "%s/%s", cf_archive_dir(a), BACKUP_MARKER)) != 0 ||
	    (rc = cf_path(dst, sizeof dst, "%s/%s", dest, BACKUP_MARKER)) != 0) {
		cf_error("%s: %s", dest, strerror(-rc));
		return rc;
	}
	if ((rc = cf_read_file(src, &text, &len)) != 0)
		return rc;
	if (len > BACKUP_MARKER_MAX) {
		cf_error("%s: not a Coffer marker file", src);
		rc = -EINVAL;
		goto out;
	}
	fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		cf_error("%s: %s", dst, strerror(-rc));
		goto out;
	}
	if ((rc = cf_write_all(fd, text, len)) == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc != 0)
		cf_error("%s: %s", dst, strerror(-rc));
out:
	free(text);
	return rc;
}

/* A referenced blob that is missing or differs from its record. */
static void
backup_damaged(struct backup_ctx *x, const char *path, const char *what)
{
	x->st->damaged++;
	cf_error("%s: %s", path, what);
}

/*
 * Copy src to dst (created O_EXCL, 0600, fsync'd), hashing what is read.
 * Returns 0, -ENOENT when src is missing (not reported), or -errno
 * (reported).
 */
static int
backup_copy_file(struct backup_ctx *x, const char *src, const char *dst, uint64_t *size,
    uint8_t hash[CF_HASH_BYTES])
{
	struct cf_hash_state hs;
	struct stat st;
	int sfd, dfd = -1, rc = 0;
	ssize_t n;

	*size = 0;
	sfd = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0) {
		rc = -errno;
		if (rc != -ENOENT)
			cf_error("%s: %s", src, strerror(-rc));
		return rc;
	}
	if (fstat(sfd, &st) != 0) {
		rc = -errno;
		cf_error("%s: %s", src, strerror(-rc));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		cf_error("%s: not a regular file", src);
		goto out;
	}
	dfd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (dfd < 0) {
		rc = -errno;
		cf_error("%s: %s", dst, strerror(-rc));
		goto out;
	}
	cf_hash_init(&hs);
	for (;;) {
		n = read(sfd, x->buf, BACKUP_BUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			cf_error("%s: %s", src, strerror(-rc));
			goto out;
		}
		if (n == 0)
			break;
		cf_hash_update(&hs, x->buf, (size_t)n);
		if ((rc = cf_write_all(dfd, x->buf, (size_t)n)) != 0) {
			cf_error("%s: %s", dst, strerror(-rc));
			goto out;
		}
		*size += (uint64_t)n;
	}
	cf_hash_final(&hs, hash);
	if (fsync(dfd) != 0) {
		rc = -errno;
		cf_error("%s: %s", dst, strerror(-rc));
		goto out;
	}
	rc = close(dfd) == 0 ? 0 : -errno;
	dfd = -1;
	if (rc != 0)
		cf_error("%s: %s", dst, strerror(-rc));
out:
	if (dfd >= 0)
		(void)close(dfd);
	if (rc != 0 && rc != -ENOENT)
		(void)unlink(dst);
	(void)close(sfd);       /* read-only: nothing to lose */
	return rc;
}

/* cf_ks_blob_foreach callback: bring one referenced blob into dest. */
static int
backup_blob(const struct cf_blob_rec *b, void *arg)
{
	struct backup_ctx *x = arg;
	char src[PATH_MAX], dst[PATH_MAX], fan[PATH_MAX];
	uint8_t hash[CF_HASH_BYTES];
	uint64_t size = 0;
	int rc, linked = 0;

	x->st->blobs++;
	if ((rc = cf_blob_path(src, sizeof src, cf_archive_dir(x->a), b->id)) != 0 ||
	    (rc = cf_blob_path(dst, sizeof dst, x->dest, b->id)) != 0 ||
	    (rc = cf_path(fan, sizeof fan, "%s/blobs/%02x", x->dest, (unsigned)b->id[0])) != 0) {
		cf_error("%s: %s", x->dest, strerror(-rc));
		return rc;
	}
	if (!x->fanout[b->id[0]]) {
		if ((rc = backup_mkdir(fan)) != 0)
			return rc;
		x->fanout[b->id[0]] = 1;
	}
	if (x->flags & CF_BACKUP_LINK) {
		/* a link shares the inode: check the file all the same, so that
		 * damage is reported as it is for a copy */
		rc = cf_blob_check_file(src, &size, hash, NULL);
		if (rc == 0) {
			if (link(src, dst) == 0) {
				linked = 1;
			} else if (errno != EXDEV && errno != EPERM && errno != EMLINK) {
				rc = -errno;
				cf_error("%s: %s", dst, strerror(-rc));
				return rc;
			}
		}
	}
	/* not linked: across file systems, or the source is missing */
	if (!linked && rc == 0)
		rc = backup_copy_file(x, src, dst, &size, hash);
	if (rc == -ENOENT) {
		backup_damaged(x, src, "missing, though the keystore references it; "
		    "the backup lacks it too");
		return 0;
	}
	if (rc != 0)
		return rc;
	if (linked) {
		x->st->linked++;
	} else {
		x->st->copied++;
		x->st->bytes += size;
	}
	if (size != b->file_size || cf_ct_compare(hash, b->hash, CF_HASH_BYTES) != 0)
		backup_damaged(x, src, "does not match its keystore record (bit rot or "
		    "tampering); copied as it is");
	return 0;
}

/* fsync every folder the blobs went into, then blobs/ itself. */
static int
backup_sync_dirs(struct backup_ctx *x)
{
	char p[PATH_MAX];
	int i, rc;

	for (i = 0; i < 256; i++) {
		if (!x->fanout[i])
			continue;
		if ((rc = cf_path(p, sizeof p, "%s/blobs/%02x", x->dest, (unsigned)i)) != 0)
			return rc;
		if ((rc = cf_fsync_dir(p)) != 0)
			return rc;
	}
	if ((rc = cf_path(p, sizeof p, "%s/blobs", x->dest)) != 0)
		return rc;
	return cf_fsync_dir(p);
}

int
cf_backup(struct cf_archive *a, const char *dest, int flags, struct cf_backup_stats *st)
{
	struct backup_ctx x;
	struct cf_ks *copy = NULL;
	struct cf_txn *t = NULL;
	struct cf_meta meta;
	char p[PATH_MAX];
	int rc, created = 0;

	memset(st, 0, sizeof *st);
	memset(&x, 0, sizeof x);
	x.a = a;
	x.dest = dest;
	x.flags = flags;
	x.st = st;
	if ((rc = backup_prepare_dest(dest, &created)) != 0)
		return rc;
	if ((rc = backup_check_outside(a, dest)) != 0)
		goto out;
	if ((x.buf = malloc(BACKUP_BUF)) == NULL) {
		rc = -ENOMEM;
		cf_error("%s: %s", dest, strerror(ENOMEM));
		goto out;
	}

	/* 1. the keystore snapshot: one read transaction of the live one */
	if ((rc = cf_path(p, sizeof p, "%s/keystore", dest)) != 0) {
		cf_error("%s: %s", dest, strerror(-rc));
		goto out;
	}
	if (mkdir(p, 0700) != 0) {
		rc = -errno;
		cf_error("%s: %s", p, strerror(-rc));
		goto out;
	}
	if ((rc = cf_ks_backup(cf_archive_ks(a), p)) != 0)
		goto out;

	/* 2. the blobs the snapshot (not the live keystore) references */
	if ((rc = cf_path(p, sizeof p, "%s/blobs", dest)) != 0) {
		cf_error("%s: %s", dest, strerror(-rc));
		goto out;
	}
	if (mkdir(p, 0700) != 0) {
		rc = -errno;
		cf_error("%s: %s", p, strerror(-rc));
		goto out;
	}
	if ((rc = cf_ks_open(&copy, dest, CF_KS_RDONLY)) != 0)
		goto out;
	if ((rc = cf_ks_begin(copy, 0, &t)) != 0)
		goto out;
	rc = cf_ks_meta_get(t, &meta);
	if (rc == 0 && cf_ct_compare(meta.archive_id, cf_archive_id(a), CF_ID_BYTES) != 0) {
		cf_error("%s/keystore: the snapshot is of another archive", dest);
		rc = -EBADMSG;
	} else if (rc == -ENOENT) {
		cf_error("%s/keystore: the snapshot has no archive metadata", dest);
	}
	if (rc != 0)
		goto out;
	if ((rc = cf_ks_blob_foreach(t, backup_blob, &x)) != 0)
		goto out;
	cf_ks_abort(t);
	t = NULL;
	cf_ks_close(copy);
	copy = NULL;
	/* opening the snapshot made a lock file; no one else has it open */
	if ((rc = cf_path(p, sizeof p, "%s/keystore/lock.mdb", dest)) != 0 ||
	    (unlink(p) != 0 && errno != ENOENT)) {
		rc = rc != 0 ? rc : -errno;
		cf_error("%s: %s", p, strerror(-rc));
		goto out;
	}
	if ((rc = cf_path(p, sizeof p, "%s/keystore", dest)) != 0 || (rc = cf_fsync_dir(p)) != 0)
		goto out;
	if ((rc = backup_sync_dirs(&x)) != 0)
		goto out;

	/* 3. the marker last: without it the folder is no archive */
	if ((rc = backup_marker(a, dest)) != 0)
		goto out;
	rc = cf_fsync_dir(dest);
out:
	cf_ks_abort(t);
	cf_ks_close(copy);
	free(x.buf);
	if (rc != 0)
		backup_cleanup(dest, created);
	return rc;
}
