/*
 * cmd_export.c - `coffer export`: write conversations a principal may read
 * as RSMF, EML or canonical JSON Lines into a new (or empty) folder, with
 * a SHA-256 manifest; every conversation is audited before its plaintext
 * is written (fs/export.h, docs/EXPORT.md).
 *
 * CHAT is a conversation id (hex, or a unique prefix of 8 digits or more)
 * or its exact title, among those NAME may read; --all is every one of
 * them.  --from T is inclusive, --to T exclusive; T is a date (00:00:00
 * UTC of that day) or an RFC 3339 date-time (UTC when it has no offset),
 * so "--from 2025-03-10 --to 2025-03-11" is the whole of 10 March (UTC).
 * Everything on the command line is checked before the passphrase is
 * asked for.  A conversation NAME's grant no longer (or not yet) covers is
 * not exported, and the refusal is audited.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "archive.h"
#include "audit.h"
#include "cli.h"
#include "export.h"
#include "util.h"

/*
 * Audit a refusal for every conversation NAME holds a grant for that is not
 * valid now (l->outside) and that the command asked for: all of them with
 * --all, else the one whose id CHAT is or starts (8 hex digits or more).
 * Returns how many were recorded.
 */
static size_t
audit_outside(struct cf_archive *a, const char *as, const struct cf_chat_list *l,
    const char *chat, const char *format)
{
	char hex[2 * CF_ID_BYTES + 1], object[CF_AUDIT_OBJECT_MAX + 1], detail[96];
	size_t i, n = 0, len = chat != NULL ? strlen(chat) : 0;

	snprintf(detail, sizeof detail, "format=%s: grant not valid now", format);
	for (i = 0; i < l->noutside; i++) {
		const uint8_t *id = l->outside + i * CF_ID_BYTES;

		cf_hex_encode(hex, id, CF_ID_BYTES);
		if (chat != NULL && (len < 8 || len > 2 * CF_ID_BYTES ||
		    strncasecmp(hex, chat, len) != 0))
			continue;
		cf_audit_object(object, id, NULL);
		(void)cf_audit_log(cf_archive_ks(a), as, "export", object, CF_AUDIT_DENIED, detail);
		n++;
	}
	return n;
}

int
cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'A' },
		{ "as", required_argument, NULL, 'a' },
		{ "format", required_argument, NULL, 'F' },
		{ "output", required_argument, NULL, 'o' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "passphrase-file", required_argument, NULL, 'p' },
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	const char *pos[2], *as = NULL, *format = NULL, *out = NULL, *from = NULL, *to = NULL;
	const char *passfile = NULL;
	struct cf_export_opts o = { .from_ms = CF_EXPORT_NO_FROM, .to_ms = CF_EXPORT_NO_TO };
	struct cf_chat_list l = { .v = NULL };
	const struct cf_chat **sel = NULL;
	struct cf_export_stats st;
	struct cf_archive *a = NULL;
	struct cf_session *s = NULL;
	size_t i, nsel = 0;
	int c, npos = 0, rc, all = 0, result = CMD_ERROR;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, "-ho:", opts, NULL)) != -1) {
		switch (c) {
		case 1:
			if ((rc = cli_positional("export", pos, &npos, 2, optarg)) != CMD_OK)
				return rc;
			break;
		case 'A':
			all = 1;
			break;
		case 'a':
			as = optarg;
			break;
		case 'F':
			format = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'f':
			from = optarg;
			break;
		case 't':
			to = optarg;
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
	if ((rc = cli_rest("export", pos, &npos, 2, argc, argv)) != CMD_OK)
		return rc;
	if (npos == 0)
		return cli_usage_error("export", "missing ARCHIVE");
	if (npos == 1 && !all)
		return cli_usage_error("export", "missing CHAT or --all");
	if (npos == 2 && all)
		return cli_usage_error("export", "give either CHAT or --all, not both");
	if (as == NULL)
		return cli_usage_error("export", "missing --as NAME");
	if ((rc = cli_check_name("export", "--as", as)) != CMD_OK)
		return rc;
	if (format == NULL)
		return cli_usage_error("export", "missing --format rsmf|eml|jsonl");
	if (cf_export_format_parse(format, &o.format) != 0)
		return cli_usage_error("export", "--format: unknown format '%s' (rsmf, eml or "
		    "jsonl)", format);
	if (out == NULL || out[0] == '\0')
		return cli_usage_error("export", "missing -o DIR");
	if (from != NULL && cf_export_parse_bound(from, &o.from_ms) != 0)
		return cli_usage_error("export", "--from: invalid time '%s' (YYYY-MM-DD or "
		    "YYYY-MM-DDTHH:MM:SS[.mmm]Z)", from);
	if (to != NULL && cf_export_parse_bound(to, &o.to_ms) != 0)
		return cli_usage_error("export", "--to: invalid time '%s' (YYYY-MM-DD or "
		    "YYYY-MM-DDTHH:MM:SS[.mmm]Z)", to);
	if (o.to_ms <= o.from_ms)
		return cli_usage_error("export", "--to must be after --from (--from is inclusive, "
		    "--to exclusive)");

	/* read-write: every exported conversation is audited */
	if (cli_open_session(pos[0], 0, as, passfile, &a, &s) < 0)
		return CMD_ERROR;
	if (cf_chats_list(a, s, &l) < 0)
		goto out;
	(void)audit_outside(a, as, &l, all ? NULL : pos[1], format);
	if (all) {
		if (l.n == 0) {
			cf_error("%s: %s may read no conversation: nothing to export", pos[0], as);
			goto out;
		}
		if ((sel = calloc(l.n, sizeof(*sel))) == NULL) {
			cf_error("out of memory");
			goto out;
		}
		for (i = 0; i < l.n; i++)
			sel[nsel++] = &l.v[i];
	} else {
		if ((rc = cf_chat_find(&l, pos[1])) < 0)       /* reports */
			goto out;
		if ((sel = calloc(1, sizeof(*sel))) == NULL) {
			cf_error("out of memory");
			goto out;
		}
		sel[nsel++] = &l.v[rc];
	}
	if (cf_export(a, s, sel, nsel, out, &o, &st) < 0)
		goto out;
	printf("exported %" PRIu64 " conversations, %" PRIu64 " messages, %" PRIu64
	    " attachments as %s to ", st.conversations, st.messages, st.attachments, format);
	cli_print_clean(out);
	printf(" (%" PRIu64 " files, %" PRIu64 " bytes; check with: sha256sum -c "
	    "MANIFEST.sha256)\n", st.files, st.bytes);
	result = CMD_OK;
out:
	free(sel);
	cf_chats_free(&l);
	cli_close_session(a, s);
	return result;
}
