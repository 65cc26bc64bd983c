/*
 * cmd_backup.c - `coffer backup ARCHIVE DEST [--link]`: a consistent copy
 * of a live archive into DEST (absent or empty), safe while the archive is
 * mounted and while imports run: the keystore is snapshotted first, then
 * the blobs that snapshot references are copied (fs/backup.h).  It needs
 * no key: everything copied is ciphertext or wrapped keys.  --link
 * hard-links the blobs instead of copying them where DEST is on the same
 * file system (a cheap snapshot to hand to another backup tool; not a
 * second copy of the data).  Exit status: 0 done, 1 done but the source
 * had damaged or missing blobs (copied as they are, each reported), 2
 * error (nothing is left in DEST).
 */
#include <inttypes.h>
#include <stdio.h>

#include "archive.h"
#include "backup.h"
#include "cli.h"
#include "util.h"

int
cmd_backup(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "link", no_argument, NULL, 'l' },
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	struct cf_backup_stats st;
	struct cf_archive *a = NULL;
	const char *pos[2];
	int c, npos = 0, rc, flags = 0;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, "-h", opts, NULL)) != -1) {
		switch (c) {
		case 1:
			if ((rc = cli_positional("backup", pos, &npos, 2, optarg)) != CMD_OK)
				return rc;
			break;
		case 'l':
			flags |= CF_BACKUP_LINK;
			break;
		case 'h':
			return CMD_HELP;
		default:
			return CMD_USAGE;
		}
	}
	if ((rc = cli_rest("backup", pos, &npos, 2, argc, argv)) != CMD_OK)
		return rc;
	if (npos == 0)
		return cli_usage_error("backup", "missing ARCHIVE");
	if (npos == 1)
		return cli_usage_error("backup", "missing DEST");

	if (cf_archive_open(&a, pos[0], CF_KS_RDONLY) < 0)
		return CMD_ERROR;
	rc = cf_backup(a, pos[1], flags, &st);
	cf_archive_close(a);
	if (rc < 0)
		return CMD_ERROR;
	printf("backup: %" PRIu64 " blobs (%" PRIu64 " copied, %" PRIu64 " bytes; %" PRIu64
	    " linked), %" PRIu64 " damaged in the source\n", st.blobs, st.copied, st.bytes,
	    st.linked, st.damaged);
	if (st.damaged > 0) {
		cf_error("backup: %s holds %" PRIu64 " damaged or missing blobs, as the source "
		    "does; run 'coffer verify'", pos[1], st.damaged);
		return CMD_FOUND;
	}
	return CMD_OK;
}
