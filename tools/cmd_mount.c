/*
 * cmd_mount.c - `coffer mount`: unlock a principal and show what it may
 * read as a read-only FUSE file system (cofferfs.h).  The archive is
 * opened read-only.  -o may be given several times; Coffer's own options
 * (tz=ZONE) are taken out by cfs_parse_o and the rest passed to libfuse.
 * The ingest identity is refused: it can read nothing.
 * cfs_run owns the archive and the session from then on; when it
 * daemonises it returns 0 here once the mount is ready.  A mount whose
 * daemon died is cleaned up first (cfs_run, mnt.h).
 *
 * `coffer mount --refresh MOUNTPOINT` takes no archive and no identity:
 * it asks the daemon serving MOUNTPOINT to list the conversations again
 * (mnt.h: SIGHUP to the pid the mount itself reports) and waits until
 * that is done, so that the next command sees the new view.
 */
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "audit.h"
#include "cli.h"
#include "cofferfs.h"
#include "mnt.h"
#include "util.h"

#define REFRESH_TIMEOUT_MS (10 * 60 * 1000)    /* a huge archive's listing */

int
cmd_mount(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "as", required_argument, NULL, 'a' },
		{ "passphrase-file", required_argument, NULL, 'p' },
		{ "refresh", no_argument, NULL, 'r' },
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	const char *pos[2], *as = NULL, *passfile = NULL;
	struct cf_archive *a = NULL;
	struct cf_session *s = NULL;
	struct cfs_opts o;
	char *rest = NULL;
	int c, npos = 0, rc, refresh = 0, other = 0, result = CMD_ERROR;

	memset(&o, 0, sizeof o);
	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, "-hfdo:", opts, NULL)) != -1) {
		switch (c) {
		case 1:
			if ((result = cli_positional("mount", pos, &npos, 2, optarg)) != CMD_OK)
				goto out;
			break;
		case 'a':
			as = optarg;
			other = 1;
			break;
		case 'p':
			passfile = optarg;
			other = 1;
			break;
		case 'r':
			refresh = 1;
			break;
		case 'f':
			o.foreground = 1;
			other = 1;
			break;
		case 'd':
			o.debug = 1;
			o.foreground = 1;
			other = 1;
			break;
		case 'o':
			other = 1;
			if (cfs_parse_o(optarg, &o, &rest) < 0) {
				result = CMD_USAGE;
				goto out;
			}
			break;
		case 'h':
			result = CMD_HELP;
			goto out;
		default:
			result = CMD_USAGE;
			goto out;
		}
	}
	if ((result = cli_rest("mount", pos, &npos, 2, argc, argv)) != CMD_OK)
		goto out;
	if (refresh) {
		if (other || npos != 1) {
			result = cli_usage_error("mount", "--refresh takes only MOUNTPOINT");
			goto out;
		}
		result = cf_mnt_refresh(pos[0], REFRESH_TIMEOUT_MS, NULL) == 0 ? CMD_OK : CMD_ERROR;
		goto out;
	}
	if (npos != 2) {
		result = cli_usage_error("mount", "missing %s",
		    npos == 0 ? "ARCHIVE" : "MOUNTPOINT");
		goto out;
	}
	if (as == NULL) {
		result = cli_usage_error("mount", "missing --as NAME");
		goto out;
	}
	if ((result = cli_check_name("mount", "--as", as)) != CMD_OK)
		goto out;
	if (o.tz != NULL && cf_tz_valid(o.tz) < 0) {
		result = cli_usage_error("mount", "-o tz: unknown time zone '%s'", o.tz);
		goto out;
	}
	o.fuse_opts = rest;
	result = CMD_ERROR;

	/* read-write: the daemon appends audit records */
	if (cli_open_session(pos[0], 0, as, passfile, &a, &s) < 0)
		goto out;
	/* Ingest holds no conversation key: say so instead of mounting an
	 * empty tree. */
	if (cf_session_role(s) == CF_ROLE_INGEST) {
		cf_error("%s: %s is an ingest identity: it can add messages but not read them, "
		    "so there is nothing to mount", pos[0], as);
		(void)cf_audit_log(cf_archive_ks(a), as, "mount", NULL, CF_AUDIT_DENIED,
		    "ingest identity");
		cli_close_session(a, s);
		goto out;
	}
	rc = cfs_run(a, s, pos[1], &o);   /* takes a and s */
	result = rc < 0 ? CMD_ERROR : CMD_OK;
out:
	free(rest);
	return result;
}
