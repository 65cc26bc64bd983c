/*
 * gc.c - remove the blob files nothing references (gc.h).
 *
 * The walk runs inside one keystore transaction: a write transaction, so
 * that LMDB's writer lock keeps every import from committing while a file
 * is looked up and removed, or a read transaction for a dry run, which
 * removes nothing.  The clock is read once the lock is held; a file whose
 * modification time is less than the grace period before that moment is
 * kept, because a writer may have created it before taking the lock and
 * be about to commit a reference to it.
 *
 * The folders are opened with O_NOFOLLOW|O_DIRECTORY and every entry is
 * examined with fstatat(AT_SYMLINK_NOFOLLOW) and removed with unlinkat()
 * relative to its folder's descriptor, so no symbolic link is followed,
 * whatever is planted in blobs/.  Only a regular file whose name is its
 * own blob id in its own XX folder can be removed.
 *
 * Limits: removals are not fsync'd (a crash right after may bring an
 * orphan back; the next gc removes it again); empty XX folders stay.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gc.h"
#include "util.h"

struct gc_ctx {
	struct cf_archive *a;
	struct cf_txn *t;
	int dry_run;
	int64_t min_age;
	struct timespec now;            /* read once the lock is held */
	void (*report)(const char *line, void *arg);
	void *arg;
	uint64_t removed;
	int err;                        /* first failure to remove a file */
};

static void
gc_report(struct gc_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
gc_report(struct gc_ctx *x, const char *fmt, ...)
{
	char line[8192];
	va_list ap;

	if (x->report == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	x->report(line, x->arg);
}

/* Whole seconds from t to the moment the lock was taken (negative when t
 * is later). */
static int64_t
age_secs(const struct gc_ctx *x, const struct timespec *t)
{
	int64_t age = (int64_t)x->now.tv_sec - (int64_t)t->tv_sec;

	if (x->now.tv_nsec < t->tv_nsec)
		age--;
	return age;
}

static int
is_hex2(const char *s)
{
	static const char digits[] = "0123456789abcdef";

	return s[0] != '\0' && strchr(digits, s[0]) != NULL && s[1] != '\0' &&
	    strchr(digits, s[1]) != NULL && s[2] == '\0';
}

/* One entry of blobs/XX: remove it if it is an old unreferenced blob. */
static int
gc_entry(struct gc_ctx *x, int dfd, const char *folder, const char *name)
{
	char path[4096], canon[2 * CF_ID_BYTES + 1];
	uint8_t id[CF_ID_BYTES];
	struct cf_blob_rec rec;
	struct stat st;
	int64_t age;
	int rc;

	if (cf_path(path, sizeof(path), "%s/blobs/%s/%s", cf_archive_dir(x->a), folder,
	    name) != 0)
		snprintf(path, sizeof(path), "%s/blobs/%s/(a long name)", cf_archive_dir(x->a),
		    folder);
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT)
			return 0;       /* gone meanwhile */
		rc = -errno;
		cf_error("%s: %s", path, strerror(errno));
		return rc;
	}
	/* only the canonical name of an id, in the folder of its first
	 * two digits, is a blob */
	canon[0] = '\0';
	if (cf_hex_decode(id, sizeof(id), name) == 0)
		cf_hex_encode(canon, id, sizeof(id));
	if (canon[0] == '\0' || strcmp(canon, name) != 0 || strncmp(canon, folder, 2) != 0) {
		gc_report(x, "%s: not a blob name; left alone", path);
		return 0;
	}
	if (!S_ISREG(st.st_mode)) {
		gc_report(x, "%s: not a regular file; left alone", path);
		return 0;
	}
	rc = cf_ks_blob_get(x->t, id, &rec);
	if (rc == 0)
		return 0;               /* referenced: never touched */
	if (rc != -ENOENT)
		return rc;
	age = age_secs(x, &st.st_mtim);
	if (x->min_age > 0 && age < x->min_age) {
		gc_report(x, "%s: unreferenced but modified %llds ago; kept (grace period %llds)",
		    path, (long long)age, (long long)x->min_age);
		return 0;
	}
	if (x->dry_run) {
		gc_report(x, "%s: unreferenced, would be removed (%llu bytes)", path,
		    (unsigned long long)st.st_size);
		x->removed++;
		return 0;
	}
	if (unlinkat(dfd, name, 0) != 0) {
		if (errno == ENOENT)
			return 0;
		/* report it, go on with the others, fail at the end */
		cf_error("%s: cannot remove: %s", path, strerror(errno));
		if (x->err == 0)
			x->err = -errno;
		return 0;
	}
	gc_report(x, "%s: removed (unreferenced, %llu bytes)", path,
	    (unsigned long long)st.st_size);
	x->removed++;
	return 0;
}

/* Walk the entries of the open folder fd (blobs/NAME); takes fd over. */
static int
gc_folder(struct gc_ctx *x, int fd, const char *name)
{
	struct dirent *e;
	DIR *d;
	int rc = 0;

	if ((d = fdopendir(fd)) == NULL) {
		rc = -errno;
		cf_error("%s/blobs/%s: %s", cf_archive_dir(x->a), name, strerror(errno));
		close(fd);
		return rc;
	}
	for (;;) {
		errno = 0;
		if ((e = readdir(d)) == NULL) {
			if (errno != 0) {
				rc = -errno;
				cf_error("%s/blobs/%s: %s", cf_archive_dir(x->a), name,
				    strerror(errno));
			}
			break;
		}
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if ((rc = gc_entry(x, dirfd(d), name, e->d_name)) != 0)
			break;
	}
	closedir(d);
	return rc;
}

/* Walk blobs/: every XX folder in turn. */
static int
gc_walk(struct gc_ctx *x, const char *blobs)
{
	struct dirent *e;
	struct stat st;
	DIR *d;
	int fd, sub, rc = 0;

	fd = open(blobs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		cf_error("%s: %s", blobs, strerror(errno));
		return rc;
	}
	if ((d = fdopendir(fd)) == NULL) {
		rc = -errno;
		cf_error("%s: %s", blobs, strerror(errno));
		close(fd);
		return rc;
	}
	for (;;) {
		errno = 0;
		if ((e = readdir(d)) == NULL) {
			if (errno != 0) {
				rc = -errno;
				cf_error("%s: %s", blobs, strerror(errno));
			}
			break;
		}
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno == ENOENT)
				continue;
			rc = -errno;
			cf_error("%s/%s: %s", blobs, e->d_name, strerror(errno));
			break;
		}
		if (!S_ISDIR(st.st_mode) || !is_hex2(e->d_name)) {
			gc_report(x, "%s/%s: not a blob folder; left alone", blobs, e->d_name);
			continue;
		}
		/* O_NOFOLLOW: a folder swapped for a link since the fstatat
		 * is refused, not followed */
		sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			if (errno == ENOENT)
				continue;
			rc = -errno;
			cf_error("%s/%s: %s", blobs, e->d_name, strerror(errno));
			break;
		}
		if ((rc = gc_folder(x, sub, e->d_name)) != 0)
			break;
	}
	closedir(d);
	return rc;
}

int
cf_gc(struct cf_archive *a, int dry_run, int64_t min_age_secs,
    void (*report)(const char *line, void *arg), void *arg, uint64_t *removed)
{
	struct gc_ctx x;
	char blobs[4096];
	int rc;

	*removed = 0;
	if (min_age_secs < 0) {
		cf_error("%s: negative grace period", cf_archive_dir(a));
		return -EINVAL;
	}
	if ((rc = cf_path(blobs, sizeof(blobs), "%s/blobs", cf_archive_dir(a))) != 0) {
		cf_error("%s: path too long", cf_archive_dir(a));
		return rc;
	}
	memset(&x, 0, sizeof(x));
	x.a = a;
	x.dry_run = dry_run;
	x.min_age = min_age_secs;
	x.report = report;
	x.arg = arg;
	/* blocks until a running import has committed or aborted */
	if ((rc = cf_ks_begin(cf_archive_ks(a), !dry_run, &x.t)) != 0)
		return rc;
	if (clock_gettime(CLOCK_REALTIME, &x.now) != 0) {
		rc = -errno;
		cf_error("clock: %s", strerror(errno));
		goto out;
	}
	rc = gc_walk(&x, blobs);
	if (rc == 0)
		rc = x.err;
out:
	/* nothing was written to the keystore: aborting releases the lock */
	cf_ks_abort(x.t);
	*removed = x.removed;
	return rc;
}
