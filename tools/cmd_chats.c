/*
 * cmd_chats.c - `coffer chats`: the conversations a principal may read
 * now, one per line, tab-separated:
 *   ID  MESSAGES  FIRST  LAST  TITLE
 * ID is the conversation id in hex (what grant, revoke and the mount use),
 * times are UTC RFC 3339 ("-" for none).  The ingest identity may read
 * nothing and gets only the header line.  The listing is audited; if the
 * audit record cannot be written nothing is listed.
 */
#include <inttypes.h>
#include <stdio.h>

#include "archive.h"
#include "audit.h"
#include "cli.h"
#include "util.h"

int
cmd_chats(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "as", required_argument, NULL, 'a' },
		{ "passphrase-file", required_argument, NULL, 'p' },
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	const char *pos[1], *as = NULL, *passfile = NULL;
	char id[2 * CF_ID_BYTES + 1], first[32], last[32];
	struct cf_chat_list l = { .v = NULL };
	struct cf_archive *a = NULL;
	struct cf_session *s = NULL;
	int c, npos = 0, rc, result = CMD_ERROR;
	size_t i;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, "-h", opts, NULL)) != -1) {
		switch (c) {
		case 1:
			if ((rc = cli_positional("chats", pos, &npos, 1, optarg)) != CMD_OK)
				return rc;
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
	if ((rc = cli_rest("chats", pos, &npos, 1, argc, argv)) != CMD_OK)
		return rc;
	if (npos != 1)
		return cli_usage_error("chats", "missing ARCHIVE");
	if (as == NULL)
		return cli_usage_error("chats", "missing --as NAME");
	if ((rc = cli_check_name("chats", "--as", as)) != CMD_OK)
		return rc;

	/* read-write: the listing (it decrypts titles) is audited */
	if (cli_open_session(pos[0], 0, as, passfile, &a, &s) < 0)
		return CMD_ERROR;
	if (cf_chats_list(a, s, &l) < 0)
		goto out;
	{
		char detail[64];

		snprintf(detail, sizeof detail, "conversations=%zu", l.n);
		if (cf_audit_log(cf_archive_ks(a), as, "chats", NULL, CF_AUDIT_OK, detail) < 0)
			goto out;
	}
	printf("ID\tMESSAGES\tFIRST\tLAST\tTITLE\n");
	for (i = 0; i < l.n; i++) {
		cf_hex_encode(id, l.v[i].id, CF_ID_BYTES);
		cli_format_ms(l.v[i].first_ms, first, sizeof first);
		cli_format_ms(l.v[i].last_ms, last, sizeof last);
		printf("%s\t%" PRIu64 "\t%s\t%s\t", id, l.v[i].messages, first, last);
		cli_print_clean(l.v[i].title != NULL ? l.v[i].title : "");
		putchar('\n');
	}
	result = CMD_OK;
out:
	cf_chats_free(&l);
	cli_close_session(a, s);
	return result;
}
