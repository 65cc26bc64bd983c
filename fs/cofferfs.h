/*
 * cofferfs.h - the read-only FUSE view of an archive for one unlocked
 * principal (libfuse3 low-level API).  Used by the cofferfs program and by
 * `coffer mount`.
 */
#ifndef COFFER_COFFERFS_H
#define COFFER_COFFERFS_H

#include "archive.h"

struct cfs_opts {
	int foreground;         /* -f: stay in the foreground */
	int debug;              /* -d: libfuse debug output (implies -f) */
	const char *tz;         /* -o tz=ZONE: zone for transcripts (NULL = UTC) */
	const char *fuse_opts;  /* other -o options, comma-separated, or NULL */
};

/*
 * Parse one "-o a,b,c" argument into o: Coffer's own options (tz=ZONE) are
 * taken out, the rest appended to *rest (malloc'd, comma-separated).
 * Returns 0 or -EINVAL (reported).
 */
int cfs_parse_o(const char *arg, struct cfs_opts *o, char **rest);

/*
 * Mount at mountpoint and serve until unmounted.  Refuses an ingest
 * identity; lists the conversations s may read before mounting (so a wrong
 * identity fails before anything is mounted); cleans up a Coffer mount
 * whose daemon died at mountpoint and refuses a live one
 * (cf_mnt_clean_stale); then mounts read-only, daemonises unless
 * o->foreground (the parent process _exit(0)s inside fuse_daemonize once
 * the mount is ready: only the daemon returns) and serves with a
 * multi-threaded loop.  SIGHUP makes the daemon list the conversations
 * again and show the changes (see cofferfs.c; `coffer mount --refresh`
 * sends it and waits, mnt.h); SIGINT and SIGTERM unmount.  Takes ownership
 * of a and s (freed on return).  Returns 0 or -errno (reported).
 */
int cfs_run(struct cf_archive *a, struct cf_session *s, const char *mountpoint,
    const struct cfs_opts *o);

#endif
