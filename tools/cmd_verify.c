/*
 * cmd_verify.c - `coffer verify`: check, without any key, that every blob
 * the keystore references is there with its recorded size and hash, that
 * every conversation's segment list is complete, and list the files
 * nothing references.  Exit status: 0 nothing damaged, 1 damage found,
 * 2 could not check.  Unreferenced files (left by an interrupted import)
 * are reported but are not damage.
 */
#include <inttypes.h>
#include <stdio.h>

#include "archive.h"
#include "cli.h"
#include "util.h"

static void
print_finding(const char *line, void *arg)
{
	(void)arg;
	printf("%s\n", line);
}

int
cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	struct cf_verify_result r = { 0, 0, 0 };
	struct cf_archive *a = NULL;
	const char *pos[1];
	int c, npos = 0, rc;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, "-h", opts, NULL)) != -1) {
		switch (c) {
		case 1:
			if ((rc = cli_positional("verify", pos, &npos, 1, optarg)) != CMD_OK)
				return rc;
			break;
		case 'h':
			return CMD_HELP;
		default:
			return CMD_USAGE;
		}
	}
	if ((rc = cli_rest("verify", pos, &npos, 1, argc, argv)) != CMD_OK)
		return rc;
	if (npos != 1)
		return cli_usage_error("verify", "missing ARCHIVE");

	if (cf_archive_open(&a, pos[0], CF_KS_RDONLY) < 0)
		return CMD_ERROR;
	rc = cf_verify(a, print_finding, NULL, &r);
	cf_archive_close(a);
	if (rc < 0)
		return CMD_ERROR;
	printf("verify: %" PRIu64 " blobs checked, %" PRIu64 " damaged, %" PRIu64
	    " unreferenced\n", r.blobs_checked, r.damaged, r.unreferenced);
	return r.damaged > 0 ? CMD_FOUND : CMD_OK;
}
