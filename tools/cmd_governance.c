/*
 * cmd_governance.c - records management: `coffer retention`, `coffer
 * hold`, `coffer expire` and `coffer shred` (docs/RETENTION.md).
 *
 * All four are admin actions: they unlock --as ADMIN, and the library
 * checks the role again, signs what it stores and audits every change.
 * CHAT is a conversation id (32 hex digits, taken as it is, so that a
 * conversation whose metadata no longer opens can still be held or
 * shredded), a unique id prefix of 8 digits or more, or an exact title,
 * resolved among the conversations the admin sees.  Listings are
 * tab-separated with the title last (shown only to the admin, with
 * control characters blanked), like `coffer chats`.  Everything on the
 * command line is checked before the passphrase is asked for.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "archive.h"
#include "audit.h"
#include "cli.h"
#include "retention.h"
#include "util.h"

#define HEX_ID (2 * CF_ID_BYTES)

/* Resolve CHAT to a conversation id: 32 hex digits as they are, else
 * through the admin's list (a prefix or a title). */
static int
resolve_chat(struct cf_archive *a, struct cf_session *s, const char *arg,
    uint8_t id[CF_ID_BYTES])
{
	struct cf_chat_list l = { .v = NULL };
	int i, rc;

	if (strlen(arg) == HEX_ID && cf_hex_decode(id, CF_ID_BYTES, arg) == 0)
		return 0;
	if ((rc = cf_chats_list(a, s, &l)) < 0)
		return rc;
	i = cf_chat_find(&l, arg);     /* reports */
	if (i >= 0)
		memcpy(id, l.v[i].id, CF_ID_BYTES);
	cf_chats_free(&l);
	return i < 0 ? i : 0;
}

/* The title of conversation id in l, or "". */
static const char *
title_of(const struct cf_chat_list *l, const uint8_t id[CF_ID_BYTES])
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (memcmp(l->v[i].id, id, CF_ID_BYTES) == 0)
			return l->v[i].title != NULL ? l->v[i].title : "";
	return "";
}

static void
format_secs(int64_t secs, char *buf, size_t n)
{
	cli_format_ms(secs * 1000, buf, n);
}

/* Only admins see every conversation: say so plainly. */
static int
check_admin(const char *dir, struct cf_session *s)
{
	if (cf_session_role(s) == CF_ROLE_ADMIN)
		return 0;
	cf_error("%s: %s is not an admin", dir, cf_session_name(s));
	return -EPERM;
}

/* ---- listings ---------------------------------------------------------- */

struct list_ctx {
	const struct cf_chat_list *chats;
};

static int
print_policy(const struct cf_policy *p, int signed_ok, void *arg)
{
	static const uint8_t zero[CF_ID_BYTES];
	const struct list_ctx *x = arg;
	char id[HEX_ID + 1], when[32], keep[CF_KEEP_TEXT_MAX];
	int is_default = memcmp(p->conv_id, zero, CF_ID_BYTES) == 0;

	if (is_default)
		snprintf(id, sizeof id, "default");
	else
		cf_hex_encode(id, p->conv_id, CF_ID_BYTES);
	format_secs(p->created, when, sizeof when);
	if (p->kind == CF_POLICY_RETENTION) {
		cf_keep_format(&p->keep, keep, sizeof keep);
		printf("%s\t%s\t%s\t%s\t%s\t", id, keep, when, p->by, signed_ok ? "yes" : "NO");
	} else {
		printf("%s\t%s\t%s\t%s\t", id, when, p->by, signed_ok ? "yes" : "NO");
		cli_print_clean(p->reason);
		putchar('\t');
	}
	cli_print_clean(is_default ? "" : title_of(x->chats, p->conv_id));
	putchar('\n');
	return 0;
}

/* `retention --list` and `hold --list`: needs titles, so the admin's
 * conversation list; audited like `coffer chats`. */
static int
list_policy(struct cf_archive *a, struct cf_session *s, uint8_t kind)
{
	struct cf_chat_list l = { .v = NULL };
	struct list_ctx x = { &l };
	int rc;

	if ((rc = cf_chats_list(a, s, &l)) < 0)
		return rc;
	rc = cf_audit_log(cf_archive_ks(a), cf_session_name(s), kind == CF_POLICY_HOLD ?
	    "hold-list" : "retention-list", NULL, CF_AUDIT_OK, NULL);
	if (rc == 0) {
		if (kind == CF_POLICY_HOLD)
			printf("CHAT\tPLACED\tBY\tSIGNED\tREASON\tTITLE\n");
		else
			printf("CHAT\tKEEP\tSET\tBY\tSIGNED\tTITLE\n");
		rc = cf_policy_list(a, s, kind, print_policy, &x);
	}
	cf_chats_free(&l);
	return rc;
}

/* ---- retention ---------------------------------------------------------- */

int
cmd_retention(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "default", no_argument, NULL, 'D' },
		{ "keep", required_argument, NULL, 'k' },
		{ "remove", no_argument, NULL, 'R' },
		{ "list", no_argument, NULL, 'l' },
		{ "as", required_argument, NULL, 'a' },
		{ "passphrase-file", required_argument, NULL, 'p' },
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	const char *pos[2], *keep_arg = NULL, *as = NULL, *passfile = NULL;
	char hex[HEX_ID + 1], text[CF_KEEP_TEXT_MAX];
	uint8_t id[CF_ID_BYTES];
	struct cf_keep keep;
	struct cf_archive *a = NULL;
	struct cf_session *s = NULL;
	int c, npos = 0, rc, def = 0, remove = 0, list = 0, result = CMD_ERROR;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, "-h", opts, NULL)) != -1) {
		switch (c) {
		case 1:
			if ((rc = cli_positional("retention", pos, &npos, 2, optarg)) != CMD_OK)
				return rc;
			break;
		case 'D':
			def = 1;
			break;
		case 'k':
			keep_arg = optarg;
			break;
		case 'R':
			remove = 1;
			break;
		case 'l':
			list = 1;
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
	if ((rc = cli_rest("retention", pos, &npos, 2, argc, argv)) != CMD_OK)
		return rc;
	if (npos == 0)
		return cli_usage_error("retention", "missing ARCHIVE");
	if (list) {
		if (npos > 1 || def || keep_arg != NULL || remove)
			return cli_usage_error("retention", "--list takes only ARCHIVE and --as");
	} else {
		if (npos == 1 && !def)
			return cli_usage_error("retention", "missing CHAT or --default");
		if (npos == 2 && def)
			return cli_usage_error("retention", "give either CHAT or --default, not both");
		if ((keep_arg == NULL) == !remove)
			return cli_usage_error("retention", "give either --keep DURATION or --remove");
		if (keep_arg != NULL && cf_keep_parse(keep_arg, &keep) < 0)
			return cli_usage_error("retention", "--keep: invalid duration '%s' (e.g. 7y, "
			    "18m, 6w, 90d, 1y6m, or forever)", keep_arg);
	}
	if (as == NULL)
		return cli_usage_error("retention", "missing --as ADMIN");
	if ((rc = cli_check_name("retention", "--as", as)) != CMD_OK)
		return rc;

	if (cli_open_session(pos[0], 0, as, passfile, &a, &s) < 0)
		return CMD_ERROR;
	if (check_admin(pos[0], s) < 0)
		goto out;
	if (list) {
		if (list_policy(a, s, CF_POLICY_RETENTION) == 0)
			result = CMD_OK;
		goto out;
	}
	if (!def && resolve_chat(a, s, pos[1], id) < 0)
		goto out;
	if (cf_retention_set(a, s, def ? NULL : id, remove ? NULL : &keep) < 0)
		goto out;
	if (def)
		snprintf(hex, sizeof hex, "default");
	else
		cf_hex_encode(hex, id, CF_ID_BYTES);
	if (remove) {
		printf("retention of %s removed\n", hex);
	} else {
		cf_keep_format(&keep, text, sizeof text);
		printf("retention of %s: keep %s after the last message\n", hex, text);
	}
	result = CMD_OK;
out:
	cli_close_session(a, s);
	return result;
}

/* ---- hold -------------------------------------------------------------- */

int
cmd_hold(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "add", no_argument, NULL, 'A' },
		{ "remove", no_argument, NULL, 'R' },
		{ "list", no_argument, NULL, 'l' },
		{ "reason", required_argument, NULL, 'r' },
		{ "as", required_argument, NULL, 'a' },
		{ "passphrase-file", required_argument, NULL, 'p' },
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	const char *pos[2], *reason = NULL, *as = NULL, *passfile = NULL;
	char hex[HEX_ID + 1];
	uint8_t id[CF_ID_BYTES];
	struct cf_archive *a = NULL;
	struct cf_session *s = NULL;
	int c, npos = 0, rc, add = 0, remove = 0, list = 0, result = CMD_ERROR;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, "-h", opts, NULL)) != -1) {
		switch (c) {
		case 1:
			if ((rc = cli_positional("hold", pos, &npos, 2, optarg)) != CMD_OK)
				return rc;
			break;
		case 'A':
			add = 1;
			break;
		case 'R':
			remove = 1;
			break;
		case 'l':
			list = 1;
			break;
		case 'r':
			reason = optarg;
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
	if ((rc = cli_rest("hold", pos, &npos, 2, argc, argv)) != CMD_OK)
		return rc;
	if (npos == 0)
		return cli_usage_error("hold", "missing ARCHIVE");
	if (add + remove + list != 1)
		return cli_usage_error("hold", "give one of --add, --remove or --list");
	if (list && (npos > 1 || reason != NULL))
		return cli_usage_error("hold", "--list takes only ARCHIVE and --as");
	if (!list && npos < 2)
		return cli_usage_error("hold", "missing CHAT");
	if (add && (reason == NULL || reason[0] == '\0'))
		return cli_usage_error("hold", "--add needs --reason TEXT (the matter it is for)");
	if (reason != NULL && strlen(reason) > CF_REASON_MAX)
		return cli_usage_error("hold", "--reason is longer than %d bytes", CF_REASON_MAX);
	if (as == NULL)
		return cli_usage_error("hold", "missing --as ADMIN");
	if ((rc = cli_check_name("hold", "--as", as)) != CMD_OK)
		return rc;

	if (cli_open_session(pos[0], 0, as, passfile, &a, &s) < 0)
		return CMD_ERROR;
	if (check_admin(pos[0], s) < 0)
		goto out;
	if (list) {
		if (list_policy(a, s, CF_POLICY_HOLD) == 0)
			result = CMD_OK;
		goto out;
	}
	if (resolve_chat(a, s, pos[1], id) < 0)
		goto out;
	if (cf_hold(a, s, id, add, reason) < 0)
		goto out;
	cf_hex_encode(hex, id, CF_ID_BYTES);
	printf("%s %s\n", add ? "legal hold placed on" : "legal hold lifted from", hex);
	result = CMD_OK;
out:
	cli_close_session(a, s);
	return result;
}

/* ---- expire ------------------------------------------------------------ */

static void
print_expire_item(const struct cf_expire_item *it, void *arg)
{
	static const char *const states[] = {
		[CF_EXPIRE_DUE] = "due", [CF_EXPIRE_SHREDDED] = "shredded",
		[CF_EXPIRE_HELD] = "held", [CF_EXPIRE_SUSPECT] = "suspect",
	};
	char id[HEX_ID + 1], last[32], due[32], keep[CF_KEEP_TEXT_MAX];

	(void)arg;
	cf_hex_encode(id, it->id, CF_ID_BYTES);
	format_secs(it->last, last, sizeof last);
	if (it->state == CF_EXPIRE_SUSPECT) {
		snprintf(keep, sizeof keep, "-");
		snprintf(due, sizeof due, "-");
	} else {
		cf_keep_format(&it->keep, keep, sizeof keep);
		format_secs(it->due, due, sizeof due);
	}
	printf("%s\t%s\t%s\t%s%s\t%s\t", states[it->state], id, last, keep,
	    it->state != CF_EXPIRE_SUSPECT && !it->own ? " (default)" : "", due);
	cli_print_clean(it->note != NULL && it->note[0] != '\0' ? it->note : "-");
	putchar('\t');
	cli_print_clean(it->title != NULL ? it->title : "");
	putchar('\n');
}

int
cmd_expire(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "as", required_argument, NULL, 'a' },
		{ "passphrase-file", required_argument, NULL, 'p' },
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	const char *pos[1], *as = NULL, *passfile = NULL;
	struct cf_expire_result r;
	struct cf_archive *a = NULL;
	struct cf_session *s = NULL;
	int c, npos = 0, rc, dry_run = 0, result = CMD_ERROR;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, "-h", opts, NULL)) != -1) {
		switch (c) {
		case 1:
			if ((rc = cli_positional("expire", pos, &npos, 1, optarg)) != CMD_OK)
				return rc;
			break;
		case 'n':
			dry_run = 1;
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
	if ((rc = cli_rest("expire", pos, &npos, 1, argc, argv)) != CMD_OK)
		return rc;
	if (npos == 0)
		return cli_usage_error("expire", "missing ARCHIVE");
	if (as == NULL)
		return cli_usage_error("expire", "missing --as ADMIN");
	if ((rc = cli_check_name("expire", "--as", as)) != CMD_OK)
		return rc;

	if (cli_open_session(pos[0], 0, as, passfile, &a, &s) < 0)
		return CMD_ERROR;
	if (check_admin(pos[0], s) < 0)
		goto out;
	printf("STATE\tCHAT\tLAST\tKEEP\tDUE\tNOTE\tTITLE\n");
	rc = cf_expire(a, s, dry_run, print_expire_item, NULL, &r);
	if (rc < 0)
		goto out;
	printf("expire%s: %" PRIu64 " conversations, %" PRIu64 " %s, %" PRIu64 " held, %" PRIu64
	    " suspect, %" PRIu64 " files removed\n", dry_run ? " --dry-run" : "",
	    r.conversations, dry_run ? r.due : r.shredded, dry_run ? "due" : "shredded",
	    r.held, r.suspect, r.shred.files_removed);
	result = r.shred.files_left > 0 ? CMD_ERROR : CMD_OK;
out:
	cli_close_session(a, s);
	return result;
}

/* ---- shred ------------------------------------------------------------- */

int
cmd_shred(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "as", required_argument, NULL, 'a' },
		{ "passphrase-file", required_argument, NULL, 'p' },
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	const char *pos[2], *as = NULL, *passfile = NULL;
	char hex[HEX_ID + 1];
	uint8_t id[CF_ID_BYTES];
	struct cf_shred_result r;
	struct cf_archive *a = NULL;
	struct cf_session *s = NULL;
	int c, npos = 0, rc, result = CMD_ERROR;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, "-h", opts, NULL)) != -1) {
		switch (c) {
		case 1:
			if ((rc = cli_positional("shred", pos, &npos, 2, optarg)) != CMD_OK)
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
	if ((rc = cli_rest("shred", pos, &npos, 2, argc, argv)) != CMD_OK)
		return rc;
	if (npos < 2)
		return cli_usage_error("shred", "missing %s", npos == 0 ? "ARCHIVE" : "CHAT");
	if (as == NULL)
		return cli_usage_error("shred", "missing --as ADMIN");
	if ((rc = cli_check_name("shred", "--as", as)) != CMD_OK)
		return rc;

	if (cli_open_session(pos[0], 0, as, passfile, &a, &s) < 0)
		return CMD_ERROR;
	if (check_admin(pos[0], s) < 0)
		goto out;
	if (resolve_chat(a, s, pos[1], id) < 0)
		goto out;
	if (cf_shred(a, s, id, &r) < 0)
		goto out;
	cf_hex_encode(hex, id, CF_ID_BYTES);
	printf("shredded %s: %" PRIu64 " wrapped keys, %" PRIu64 " segments, %" PRIu64
	    " attachments, %" PRIu64 " files removed\n", hex, r.ks.wraps, r.ks.segments,
	    r.ks.attachments, r.files_removed);
	result = r.files_left > 0 ? CMD_ERROR : CMD_OK;
out:
	cli_close_session(a, s);
	return result;
}
