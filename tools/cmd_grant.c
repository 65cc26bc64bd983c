/*
 * cmd_grant.c - `coffer grant` and `coffer revoke`.
 *
 * CHAT is a conversation id (hex, or a unique prefix of 8 digits or more)
 * or its exact title, resolved among the conversations the admin sees;
 * --all means every conversation, now and later.  --from / --until are
 * dates ("2026-12-31": start of that day for --from, end of it for
 * --until) or date-times, read in the local zone.  Everything on the
 * command line is checked before the passphrase is asked for.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "archive.h"
#include "cli.h"
#include "util.h"

/* Resolve CHAT to a conversation id with the admin's list. */
static int
resolve_chat(struct cf_archive *a, struct cf_session *s, const char *arg,
    uint8_t id[CF_ID_BYTES], char hex[2 * CF_ID_BYTES + 1])
{
	struct cf_chat_list l = { .v = NULL };
	int i, rc;

	rc = cf_chats_list(a, s, &l);
	if (rc < 0)
		return rc;
	i = cf_chat_find(&l, arg);     /* reports */
	if (i >= 0) {
		memcpy(id, l.v[i].id, CF_ID_BYTES);
		cf_hex_encode(hex, id, CF_ID_BYTES);
	}
	cf_chats_free(&l);
	return i < 0 ? i : 0;
}

/* Only an admin sees every conversation: say so rather than "no such
 * conversation" when a reviewer tries. */
static int
require_admin(const char *dir, struct cf_session *s)
{
	if (cf_session_role(s) == CF_ROLE_ADMIN)
		return 0;
	cf_error("%s: %s is not an admin", dir, cf_session_name(s));
	return -EPERM;
}

static void
format_secs(int64_t secs, char *buf, size_t n)
{
	if (secs == 0)
		snprintf(buf, n, "-");
	else
		cf_format_time_utc(secs * 1000, buf, n);
}

int
cmd_grant(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'A' },
		{ "to", required_argument, NULL, 't' },
		{ "as", required_argument, NULL, 'a' },
		{ "from", required_argument, NULL, 'f' },
		{ "until", required_argument, NULL, 'u' },
		{ "reason", required_argument, NULL, 'r' },
		{ "passphrase-file", required_argument, NULL, 'p' },
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	const char *pos[2], *to = NULL, *as = NULL, *from = NULL, *until = NULL;
	const char *reason = NULL, *passfile = NULL;
	char hex[2 * CF_ID_BYTES + 1], nb_text[32], na_text[32];
	uint8_t id[CF_ID_BYTES];
	struct cf_archive *a = NULL;
	struct cf_session *s = NULL;
	int64_t not_before = 0, not_after = 0;
	int c, npos = 0, rc, all = 0, result = CMD_ERROR;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, "-h", opts, NULL)) != -1) {
		switch (c) {
		case 1:
			if ((rc = cli_positional("grant", pos, &npos, 2, optarg)) != CMD_OK)
				return rc;
			break;
		case 'A':
			all = 1;
			break;
		case 't':
			to = optarg;
			break;
		case 'a':
			as = optarg;
			break;
		case 'f':
			from = optarg;
			break;
		case 'u':
			until = optarg;
			break;
		case 'r':
			reason = optarg;
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
	if ((rc = cli_rest("grant", pos, &npos, 2, argc, argv)) != CMD_OK)
		return rc;
	if (npos == 0)
		return cli_usage_error("grant", "missing ARCHIVE");
	if (npos == 1 && !all)
		return cli_usage_error("grant", "missing CHAT or --all");
	if (npos == 2 && all)
		return cli_usage_error("grant", "give either CHAT or --all, not both");
	if (to == NULL)
		return cli_usage_error("grant", "missing --to NAME");
	if (as == NULL)
		return cli_usage_error("grant", "missing --as ADMIN");
	if ((rc = cli_check_name("grant", "--to", to)) != CMD_OK ||
	    (rc = cli_check_name("grant", "--as", as)) != CMD_OK)
		return rc;
	if (from != NULL && cf_parse_date_arg(from, NULL, 0, &not_before) < 0)
		return cli_usage_error("grant", "--from: invalid date '%s' (YYYY-MM-DD or "
		    "YYYY-MM-DDTHH:MM[:SS][offset])", from);
	if (until != NULL && cf_parse_date_arg(until, NULL, 1, &not_after) < 0)
		return cli_usage_error("grant", "--until: invalid date '%s' (YYYY-MM-DD or "
		    "YYYY-MM-DDTHH:MM[:SS][offset])", until);
	/* 0 means "no bound" to cf_grant: a bound at the epoch itself is
	 * nudged by a second rather than silently dropped. */
	if (from != NULL && not_before == 0)
		not_before = 1;
	if (until != NULL && not_after == 0)
		not_after = -1;
	if (from != NULL && until != NULL && not_after < not_before)
		return cli_usage_error("grant", "--until is before --from");
	if (reason != NULL && strlen(reason) > CF_REASON_MAX)
		return cli_usage_error("grant", "--reason is longer than %d bytes", CF_REASON_MAX);

	if (cli_open_session(pos[0], 0, as, passfile, &a, &s) < 0)
		return CMD_ERROR;
	if (require_admin(pos[0], s) < 0)
		goto out;
	if (!all && resolve_chat(a, s, pos[1], id, hex) < 0)
		goto out;
	if (cf_grant(a, s, all ? NULL : id, to, not_before, not_after, reason) < 0)
		goto out;
	format_secs(not_before, nb_text, sizeof nb_text);
	format_secs(not_after, na_text, sizeof na_text);
	printf("granted %s %s from %s until %s\n", to, all ? "every conversation" : hex,
	    nb_text, na_text);
	result = CMD_OK;
out:
	cli_close_session(a, s);
	return result;
}

int
cmd_revoke(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'A' },
		{ "from", required_argument, NULL, 'f' },
		{ "as", required_argument, NULL, 'a' },
		{ "passphrase-file", required_argument, NULL, 'p' },
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	const char *pos[2], *from = NULL, *as = NULL, *passfile = NULL;
	char hex[2 * CF_ID_BYTES + 1];
	uint8_t id[CF_ID_BYTES];
	struct cf_archive *a = NULL;
	struct cf_session *s = NULL;
	int c, npos = 0, rc, all = 0, result = CMD_ERROR;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, "-h", opts, NULL)) != -1) {
		switch (c) {
		case 1:
			if ((rc = cli_positional("revoke", pos, &npos, 2, optarg)) != CMD_OK)
				return rc;
			break;
		case 'A':
			all = 1;
			break;
		case 'f':
			from = optarg;
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
	if ((rc = cli_rest("revoke", pos, &npos, 2, argc, argv)) != CMD_OK)
		return rc;
	if (npos == 0)
		return cli_usage_error("revoke", "missing ARCHIVE");
	if (npos == 1 && !all)
		return cli_usage_error("revoke", "missing CHAT or --all");
	if (npos == 2 && all)
		return cli_usage_error("revoke", "give either CHAT or --all, not both");
	if (from == NULL)
		return cli_usage_error("revoke", "missing --from NAME");
	if (as == NULL)
		return cli_usage_error("revoke", "missing --as ADMIN");
	if ((rc = cli_check_name("revoke", "--from", from)) != CMD_OK ||
	    (rc = cli_check_name("revoke", "--as", as)) != CMD_OK)
		return rc;

	if (cli_open_session(pos[0], 0, as, passfile, &a, &s) < 0)
		return CMD_ERROR;
	if (require_admin(pos[0], s) < 0)
		goto out;
	if (!all && resolve_chat(a, s, pos[1], id, hex) < 0)
		goto out;
	if (cf_revoke(a, s, all ? NULL : id, from) < 0)
		goto out;
	printf("revoked %s %s\n", from, all ? "every conversation" : hex);
	printf("the conversation key was rotated: %s reads nothing imported from now on; a "
	    "mount of %s already running keeps what it shows until `coffer mount --refresh`\n",
	    from, from);
	result = CMD_OK;
out:
	cli_close_session(a, s);
	return result;
}
