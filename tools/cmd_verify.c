/*
 * cmd_verify.c - `coffer verify`: check, without any key, that every blob
 * the keystore references is there with its recorded size and hash, that
 * every conversation's segment list is complete, and list the files
 * nothing references.  With --deep --as NAME it then also decrypts
 * everything NAME may read (fs/verify_deep.h) and prints one line per
 * part that fails, naming its conversation and, when known, the time of
 * the messages concerned.  Exit status: 0 nothing damaged, 1 damage
 * found, 2 could not check.  Unreferenced files (left by an interrupted
 * import) are reported but are not damage.
 */
#include <inttypes.h>
#include <stdio.h>

#include "archive.h"
#include "audit.h"
#include "cli.h"
#include "util.h"
#include "verify_deep.h"

static void
print_finding(const char *line, void *arg)
{
	(void)arg;
	printf("%s\n", line);
}

/* Deep findings quote titles and attachment names: no control characters
 * reach the terminal. */
static void
print_deep_finding(const char *line, void *arg)
{
	(void)arg;
	cli_print_clean(line);
	putchar('\n');
}

int
cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "deep", no_argument, NULL, 'd' },
		{ "as", required_argument, NULL, 'a' },
		{ "passphrase-file", required_argument, NULL, 'p' },
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	struct cf_verify_result r = { 0, 0, 0 };
	struct cf_verify_deep_result dr;
	struct cf_archive *a = NULL;
	struct cf_session *s = NULL;
	const char *pos[1], *as = NULL, *passfile = NULL;
	int c, npos = 0, rc, deep = 0, result = CMD_ERROR;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, "-h", opts, NULL)) != -1) {
		switch (c) {
		case 1:
			if ((rc = cli_positional("verify", pos, &npos, 1, optarg)) != CMD_OK)
				return rc;
			break;
		case 'd':
			deep = 1;
			break;
		case 'a':
			as = optarg;
			break;
		case 'p':
			passfile = optarg;
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
	if (deep && as == NULL)
		return cli_usage_error("verify", "--deep needs --as NAME");
	if (!deep && (as != NULL || passfile != NULL))
		return cli_usage_error("verify", "--as and --passphrase-file go with --deep");
	if (as != NULL && (rc = cli_check_name("verify", "--as", as)) != CMD_OK)
		return rc;

	/* read-write: the check and its result are audited */
	if (deep) {
		if (cli_open_session(pos[0], 0, as, passfile, &a, &s) < 0)
			return CMD_ERROR;
	} else if (cf_archive_open(&a, pos[0], 0) < 0) {
		return CMD_ERROR;
	}
	if (cf_verify(a, print_finding, NULL, &r) < 0)
		goto out;
	printf("verify: %" PRIu64 " blobs checked, %" PRIu64 " damaged, %" PRIu64
	    " unreferenced\n", r.blobs_checked, r.damaged, r.unreferenced);
	result = r.damaged > 0 ? CMD_FOUND : CMD_OK;
	if (deep) {
		if (cf_verify_deep(a, s, print_deep_finding, NULL, &dr) < 0) {
			result = CMD_ERROR;
			goto out;
		}
		printf("verify --deep: %" PRIu64 " conversations, %" PRIu64 " segments, %" PRIu64
		    " messages, %" PRIu64 " attachments decrypted as %s, %" PRIu64 " failed\n",
		    dr.conversations, dr.segments, dr.messages, dr.attachments, as, dr.failed);
		if (dr.failed > 0)
			result = CMD_FOUND;
	}
	{
		char detail[200];

		snprintf(detail, sizeof detail, "blobs=%" PRIu64 " damaged=%" PRIu64
		    " unreferenced=%" PRIu64 "%s", r.blobs_checked, r.damaged, r.unreferenced,
		    deep ? (dr.failed > 0 ? " deep=failed" : " deep=ok") : "");
		if (cf_audit_log(cf_archive_ks(a), deep ? as : NULL, deep ? "verify-deep" : "verify",
		    NULL, result == CMD_OK ? CF_AUDIT_OK : CF_AUDIT_FAILED, detail) < 0)
			result = CMD_ERROR;
	}
out:
	cli_close_session(a, s);
	return result;
}
