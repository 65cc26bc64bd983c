/*
 * gc.h - garbage collection of the store: remove the blob files under
 * ARCHIVE/blobs/ that no keystore entry references.
 *
 * Such orphans are what a killed or failed import can leave: its blobs are
 * written and fsync'd before the keystore transaction that references them
 * commits, so a crash in between leaves files nothing names (harmless, and
 * reported by cf_verify as "unreferenced", not as damage).
 *
 * Safety against an import running at the same time rests on two rules:
 *   - cf_gc holds the keystore's write lock (an LMDB write transaction)
 *     from the moment it looks up whether a file is referenced until it has
 *     removed it, so no import can commit a reference in between;
 *   - it leaves alone every file modified less than min_age_secs ago,
 *     because a writer may create its blobs before it takes that lock.
 * Only regular files named by a blob id in their own blobs/XX folder are
 * candidates; anything else (symbolic links, odd names, folders) is
 * reported and left alone.  Symbolic links are never followed.  Empty
 * blobs/XX folders are kept: removing one could race with a writer that
 * has just checked that it exists.
 */
#ifndef COFFER_GC_H
#define COFFER_GC_H

#include <stdint.h>

#include "archive.h"

/* The default grace period of `coffer gc` (--min-age), in seconds. */
#define CF_GC_MIN_AGE_DEFAULT 600

/*
 * Remove the unreferenced blob files of a (writable) archive that were last
 * modified at least min_age_secs ago; dry_run removes nothing (and needs
 * only a read transaction, so the archive may be opened CF_KS_RDONLY).
 * Every finding is passed to report (may be NULL) as one line naming the
 * file: removed (or "would remove"), kept because too young, or left alone
 * because it is not a blob.  *removed receives the number of files removed
 * (or that would be).  Waits for a running import to commit first.
 * Returns 0, or -errno (reported) when it could not finish; files removed
 * before the failure stay removed and are counted.
 */
int cf_gc(struct cf_archive *a, int dry_run, int64_t min_age_secs,
    void (*report)(const char *line, void *arg), void *arg, uint64_t *removed);

#endif
