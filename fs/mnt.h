/*
 * mnt.h - Coffer mounts seen from outside their daemon: recognising one
 * in the mount table, cleaning up one whose daemon died, and asking a live
 * one to refresh its view.
 *
 * A Coffer mount has the file system type "fuse.coffer" (cofferfs.c mounts
 * with subtype=coffer).  Its root answers two extended attributes, which
 * is how a client finds and follows the daemon without any pid file (the
 * answer comes from the live daemon itself, so it cannot be stale):
 *   user.coffer.pid      the daemon's process id, in decimal
 *   user.coffer.refresh  "STARTED DONE RC ADDED REMOVED": refreshes begun,
 *                        refreshes finished, the last one's result (0 or
 *                        -errno) and the folders it added (new or changed)
 *                        and removed
 * Only the user who mounted can read them (the mount is private).
 */
#ifndef COFFER_MNT_H
#define COFFER_MNT_H

#define CF_MNT_FSTYPE "fuse.coffer"
#define CF_MNT_XATTR_PID "user.coffer.pid"
#define CF_MNT_XATTR_REFRESH "user.coffer.refresh"

/*
 * Whether the top mount at path (resolved to an absolute path without
 * touching path itself, so that a dead mount can be asked about) is a
 * Coffer file system, from /proc/self/mountinfo.  Returns 1 yes, 0 no (not
 * a mount point, or another type), or -errno (reported).
 */
int cf_mnt_is_coffer(const char *path);

/*
 * Get mountpoint ready for a new mount.  If it is a Coffer mount whose
 * daemon died (stat fails with ENOTCONN), unmount it by running
 * fusermount3 -u (then -uz, lazily, if something still uses it; no shell)
 * and say so in one line on stderr.  Returns 0 (nothing to do, or cleaned
 * up), -EBUSY (a live Coffer mount is already there), -ENOTCONN (a dead
 * mount Coffer did not make: left alone), or -errno; reported.
 */
int cf_mnt_clean_stale(const char *mountpoint);

/* What a refresh did. */
struct cf_mnt_refresh_result {
	unsigned long added;            /* folders new or changed */
	unsigned long removed;          /* folders gone */
};

/*
 * Ask the daemon serving mountpoint to refresh its view (SIGHUP) and wait
 * until a refresh that began after the request has finished, at most
 * timeout_ms milliseconds.  Returns 0 with *res filled (res may be NULL),
 * -EINVAL (not a Coffer mount), -ETIMEDOUT, the refresh's own error, or
 * -errno; reported.
 */
int cf_mnt_refresh(const char *mountpoint, int timeout_ms, struct cf_mnt_refresh_result *res);

#endif
