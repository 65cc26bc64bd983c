/*
 * backup.h - a consistent copy of a live archive (`coffer backup`).
 *
 * The copy is made in the one order that is safe while imports run: first
 * a snapshot of the keystore (one LMDB read transaction, compacted, so it
 * is the state of a single commit), then the blobs that snapshot
 * references.  Blobs are immutable and written and fsync'd before the
 * commit that references them, so every blob the snapshot names is already
 * complete on disk; blobs written after the snapshot are not needed and
 * not copied.  The marker file COFFER is written last: a folder without it
 * is an interrupted backup, not an archive.  docs/BACKUP.md explains the
 * rule and how file-level tools (rsync, restic, borg) follow it.
 */
#ifndef COFFER_BACKUP_H
#define COFFER_BACKUP_H

#include <stdint.h>

#include "archive.h"

/* flags for cf_backup */
#define CF_BACKUP_LINK 0x1      /* hard-link blobs where possible (same file system) */

struct cf_backup_stats {
	uint64_t blobs;                 /* blobs the snapshot references */
	uint64_t copied;                /* of which copied */
	uint64_t linked;                /* of which hard-linked (CF_BACKUP_LINK) */
	uint64_t bytes;                 /* bytes of blob files copied */
	uint64_t damaged;               /* missing in the source, or not matching
	                                 * their keystore record (copied as they are) */
};

/*
 * Copy archive a into dest, which must not exist or be an empty folder:
 * dest/keystore/data.mdb (a compact snapshot), dest/blobs/XX/ID for every
 * blob the snapshot references (copied with O_EXCL, mode 0600, each file
 * fsync'd, or hard-linked with CF_BACKUP_LINK, falling back to a copy
 * across file systems), then dest/COFFER, and every folder fsync'd.  Each
 * blob's size and BLAKE2b hash are checked against the snapshot while it
 * is copied; a blob that is missing or does not match is reported (naming
 * the file), counted in st->damaged and the backup goes on, so that dest
 * is as faithful a copy as the source allows.  dest may not lie inside
 * the archive.  On failure everything created under dest (and dest itself
 * if it was created) is removed.
 * Returns 0 (look at st->damaged) or -errno (reported).
 */
int cf_backup(struct cf_archive *a, const char *dest, int flags, struct cf_backup_stats *st);

#endif
