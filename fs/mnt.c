/*
 * mnt.c - Coffer mounts seen from outside their daemon (mnt.h): the mount
 * table, stale mount cleanup with fusermount3, and the refresh request.
 *
 * The mount table is read from /proc/self/mountinfo; the mount point field
 * there is the canonical absolute path with space, tab, newline and
 * backslash written as octal escapes.  The path asked about is made
 * absolute from its parent folder (realpath) and its last component, so
 * that a dead mount, which fails every stat, can still be recognised.
 *
 * fusermount3 is run with fork and execv, its output discarded: the
 * caller reports the outcome in one line.  Like libfuse, /usr/bin is tried
 * first, then PATH.
 *
 * Limits: only the top mount at a path is considered; a Coffer mount
 * hidden under another mount is not seen.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "mnt.h"
#include "util.h"

#define MNT_FUSERMOUNT "fusermount3"
#define MNT_FUSERMOUNT_PATH "/usr/bin/fusermount3"

/* path made absolute and canonical up to its last component, which is
 * kept as given (not followed).  Returns a malloc'd string or NULL with
 * errno set. */
static char *
mnt_abspath(const char *path)
{
	char *copy, *slash, *dir, *base, *res = NULL;
	size_t len;
	int saved;

	if ((copy = strdup(path)) == NULL)
		return NULL;
	len = strlen(copy);
	while (len > 1 && copy[len - 1] == '/')
		copy[--len] = '\0';
	slash = strrchr(copy, '/');
	if (slash == NULL) {
		dir = (char *)".";
		base = copy;
	} else if (slash == copy) {
		dir = (char *)"/";
		base = copy + 1;
	} else {
		*slash = '\0';
		dir = copy;
		base = slash + 1;
	}
	if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
		/* "/", ".", "..": nothing to keep unresolved */
		res = realpath(path, NULL);
	} else if ((dir = realpath(dir, NULL)) != NULL) {
		if (asprintf(&res, "%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/", base) < 0) {
			res = NULL;
			errno = ENOMEM;
		}
		saved = errno;
		free(dir);
		errno = saved;
	}
	saved = errno;
	free(copy);
	errno = saved;
	return res;
}

/* Undo mountinfo's octal escapes in place. */
static void
mnt_unescape(char *s)
{
	char *out = s;

	while (*s != '\0') {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)(((s[1] - '0') << 6) | ((s[2] - '0') << 3) | (s[3] - '0'));
			s += 4;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
}

/*
 * The type of the top mount at abs (an absolute canonical path) into
 * fstype.  Returns 1 found, 0 not a mount point, or -errno (reported).
 */
static int
mnt_fstype(const char *abs, char *fstype, size_t n)
{
	const char *table = "/proc/self/mountinfo";
	FILE *f;
	char *line = NULL, *p, *mp, *sep, *type, *save;
	size_t cap = 0;
	int found = 0, field, rc;

	if ((f = fopen(table, "re")) == NULL) {
		rc = -errno;
		cf_error("%s: %s", table, strerror(errno));
		return rc;
	}
	while (getline(&line, &cap, f) > 0) {
		/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - TYPE SOURCE SUPER" */
		if ((sep = strstr(line, " - ")) == NULL)
			continue;
		*sep = '\0';
		for (field = 0, p = strtok_r(line, " ", &save); p != NULL && field < 4;
		    field++, p = strtok_r(NULL, " ", &save))
			;
		mp = p;
		if (mp == NULL)
			continue;
		mnt_unescape(mp);
		if (strcmp(mp, abs) != 0)
			continue;
		type = sep + 3;
		type[strcspn(type, " \n")] = '\0';
		/* a later line for the same point is a mount on top: keep going */
		snprintf(fstype, n, "%s", type);
		found = 1;
	}
	rc = ferror(f) ? -EIO : found;
	if (rc < 0)
		cf_error("%s: cannot read", table);
	free(line);
	(void)fclose(f);        /* read only: nothing to lose */
	return rc;
}

int
cf_mnt_is_coffer(const char *path)
{
	char type[64], *abs;
	int rc;

	if ((abs = mnt_abspath(path)) == NULL) {
		rc = -errno;
		cf_error("%s: %s", path, strerror(errno));
		return rc;
	}
	rc = mnt_fstype(abs, type, sizeof(type));
	free(abs);
	if (rc <= 0)
		return rc;
	return strcmp(type, CF_MNT_FSTYPE) == 0;
}

/*
 * Run fusermount3 with one option on abs, its output discarded.  Returns
 * its exit status (0 success), or -errno when it could not be run.
 */
static int
mnt_fusermount(const char *opt, const char *abs)
{
	char *const argv[] = { (char *)MNT_FUSERMOUNT, (char *)opt, (char *)"--", (char *)abs, NULL };
	pid_t pid;
	int null, status, rc;

	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		(void)close(null);
		return rc;
	}
	if (pid == 0) {
		/* the child: only async-signal-safe calls until exec */
		if (dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
			_exit(126);
		execv(MNT_FUSERMOUNT_PATH, argv);
		execvp(MNT_FUSERMOUNT, argv);
		_exit(127);
	}
	(void)close(null);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	if (!WIFEXITED(status))
		return 128;
	if (WEXITSTATUS(status) == 127)
		return -ENOENT;
	return WEXITSTATUS(status);
}

/*
 * Whether path answers ENOTCONN: a FUSE mount whose daemon is gone.  stat
 * alone is not enough (the kernel may answer it from attributes it
 * cached); statfs always asks the daemon.
 */
static int
mnt_dead(const char *path)
{
	struct stat st;
	struct statvfs sv;

	if (stat(path, &st) != 0)
		return errno == ENOTCONN;
	return statvfs(path, &sv) != 0 && errno == ENOTCONN;
}

int
cf_mnt_clean_stale(const char *mountpoint)
{
	struct stat st;
	char *abs = NULL;
	int rc, ours, lazy = 0;

	if (stat(mountpoint, &st) != 0 && errno != ENOTCONN)
		return 0;       /* fuse_session_mount will say what is wrong */
	if (!mnt_dead(mountpoint)) {
		/* Mounting on top of a live mount of ours would hide it. */
		if ((ours = cf_mnt_is_coffer(mountpoint)) < 0)
			return ours;
		if (ours) {
			cf_error("%s: a Coffer mount is already there (coffer mount --refresh "
			    "makes it show new messages; fusermount3 -u unmounts it)", mountpoint);
			return -EBUSY;
		}
		return 0;
	}
	if ((abs = mnt_abspath(mountpoint)) == NULL) {
		rc = -errno;
		cf_error("%s: %s", mountpoint, strerror(errno));
		return rc;
	}
	if ((ours = cf_mnt_is_coffer(abs)) <= 0) {
		if (ours == 0)
			cf_error("%s: %s, and not a Coffer mount: left alone (unmount it with "
			    "fusermount3 -u)", mountpoint, strerror(ENOTCONN));
		rc = ours < 0 ? ours : -ENOTCONN;
		goto out;
	}
	rc = mnt_fusermount("-u", abs);
	if (rc != 0 && rc != -ENOENT) {
		/* Something still has it open or as working folder. */
		lazy = 1;
		rc = mnt_fusermount("-uz", abs);
	}
	if (rc == -ENOENT) {
		cf_error("%s: %s: the previous mount's daemon died, and %s is not installed to "
		    "unmount it", mountpoint, strerror(ENOTCONN), MNT_FUSERMOUNT);
		goto out;
	}
	if (rc != 0 || mnt_dead(mountpoint)) {
		cf_error("%s: %s: the previous mount's daemon died and %s could not unmount it",
		    mountpoint, strerror(ENOTCONN), MNT_FUSERMOUNT);
		rc = rc < 0 ? rc : -EBUSY;
		goto out;
	}
	cf_error("%s: the previous mount's daemon had died (%s): unmounted it%s", mountpoint,
	    strerror(ENOTCONN), lazy ? " lazily, as something still used it" : "");
	rc = 0;
out:
	free(abs);
	return rc;
}

/* The value of attribute name of path as a NUL-terminated string. */
static int
mnt_getattr(const char *path, const char *name, char *buf, size_t n)
{
	ssize_t got;

	got = getxattr(path, name, buf, n - 1);
	if (got < 0)
		return -errno;
	buf[got] = '\0';
	return 0;
}

struct mnt_status {
	unsigned long started, done, added, removed;
	int rc;
};

static int
mnt_status(const char *path, struct mnt_status *s)
{
	char buf[128];
	int rc;

	if ((rc = mnt_getattr(path, CF_MNT_XATTR_REFRESH, buf, sizeof(buf))) != 0)
		return rc;
	if (sscanf(buf, "%lu %lu %d %lu %lu", &s->started, &s->done, &s->rc, &s->added,
	    &s->removed) != 5)
		return -EPROTO;
	return 0;
}

int
cf_mnt_refresh(const char *mountpoint, int timeout_ms, struct cf_mnt_refresh_result *res)
{
	struct mnt_status before, now;
	struct timespec tick = { 0, 20 * 1000 * 1000 };
	char buf[32], *end, *abs = NULL;
	long pid;
	int rc, waited = 0;

	if ((rc = cf_mnt_is_coffer(mountpoint)) <= 0) {
		if (rc == 0)
			cf_error("%s: not a Coffer mount", mountpoint);
		return rc < 0 ? rc : -EINVAL;
	}
	if ((abs = mnt_abspath(mountpoint)) == NULL) {
		rc = -errno;
		cf_error("%s: %s", mountpoint, strerror(errno));
		return rc;
	}
	if ((rc = mnt_getattr(abs, CF_MNT_XATTR_PID, buf, sizeof(buf))) != 0 ||
	    (rc = mnt_status(abs, &before)) != 0) {
		cf_error("%s: cannot ask the daemon: %s", mountpoint, strerror(-rc));
		goto out;
	}
	errno = 0;
	pid = strtol(buf, &end, 10);
	if (errno != 0 || *end != '\0' || pid <= 1 || pid > INT_MAX) {
		cf_error("%s: the daemon gave an invalid process id", mountpoint);
		rc = -EPROTO;
		goto out;
	}
	if (kill((pid_t)pid, SIGHUP) != 0) {
		rc = -errno;
		cf_error("%s: cannot signal its daemon (process %ld): %s", mountpoint, pid,
		    strerror(errno));
		goto out;
	}
	/* A refresh numbered past what had begun when we asked began after
	 * our request: it saw everything done before it. */
	for (;;) {
		if ((rc = mnt_status(abs, &now)) != 0) {
			cf_error("%s: the daemon stopped answering: %s", mountpoint, strerror(-rc));
			goto out;
		}
		if (now.done > before.started)
			break;
		if (waited >= timeout_ms) {
			cf_error("%s: no refresh after %d s", mountpoint, timeout_ms / 1000);
			rc = -ETIMEDOUT;
			goto out;
		}
		(void)nanosleep(&tick, NULL);
		waited += 20;
	}
	if (now.rc < 0) {
		cf_error("%s: the refresh failed: %s (details in the daemon's log)", mountpoint,
		    strerror(-now.rc));
		rc = now.rc;
		goto out;
	}
	if (res != NULL) {
		res->added = now.added;
		res->removed = now.removed;
	}
	rc = 0;
out:
	free(abs);
	return rc;
}
