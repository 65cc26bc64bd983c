/*
 * cmd_gc.c - `coffer gc`: remove the blob files nothing references (the
 * orphans an interrupted import leaves), without any key.  It holds the
 * keystore's write lock while it works, so it waits for a running import
 * to commit, and it keeps files modified less than --min-age seconds ago
 * (default 600), which an import may be about to reference.  --dry-run
 * lists what would go and removes nothing.  Each finding is a line on
 * standard output, then a summary.  Exit status 0, or 2 when it could not
 * finish.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "archive.h"
#include "cli.h"
#include "gc.h"
#include "util.h"

static void
print_finding(const char *line, void *arg)
{
	(void)arg;
	printf("%s\n", line);
}

/* A whole number of seconds, 0 or more. */
static int
parse_secs(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || s[0] == '-' || s[0] == '+')
		return -EINVAL;
	*out = (int64_t)v;
	return 0;
}

int
cmd_gc(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "min-age", required_argument, NULL, 'm' },
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	struct cf_archive *a = NULL;
	const char *pos[1];
	int64_t min_age = CF_GC_MIN_AGE_DEFAULT;
	uint64_t removed = 0;
	int c, npos = 0, dry_run = 0, rc;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, "-h", opts, NULL)) != -1) {
		switch (c) {
		case 1:
			if ((rc = cli_positional("gc", pos, &npos, 1, optarg)) != CMD_OK)
				return rc;
			break;
		case 'n':
			dry_run = 1;
			break;
		case 'm':
			if (parse_secs(optarg, &min_age) != 0)
				return cli_usage_error("gc", "--min-age wants a number of seconds, "
				    "not '%s'", optarg);
			break;
		case 'h':
			return CMD_HELP;
		default:
			return CMD_USAGE;
		}
	}
	if ((rc = cli_rest("gc", pos, &npos, 1, argc, argv)) != CMD_OK)
		return rc;
	if (npos != 1)
		return cli_usage_error("gc", "missing ARCHIVE");

	/* a dry run reads only, so it also works on a read-only copy */
	if (cf_archive_open(&a, pos[0], dry_run ? CF_KS_RDONLY : 0) < 0)
		return CMD_ERROR;
	rc = cf_gc(a, dry_run, min_age, print_finding, NULL, &removed);
	cf_archive_close(a);
	if (dry_run)
		printf("gc: %" PRIu64 " unreferenced files would be removed\n", removed);
	else
		printf("gc: %" PRIu64 " unreferenced files removed\n", removed);
	return rc < 0 ? CMD_ERROR : CMD_OK;
}
