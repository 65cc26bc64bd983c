/*
 * cmd_audit.c - `coffer audit ARCHIVE verify|show|export|head`: read the
 * audit log (fs/audit.h).
 *
 *   verify [--head SEQ:HASH]   recompute the hash chain; exit 0 intact,
 *                              1 broken (the first bad record is named).
 *                              With --head (as printed by `head` earlier and
 *                              kept elsewhere) a log cut short is caught.
 *   show [--since T] [--principal P] [--as ADMIN]
 *                              one line per record; with --as, an admin who
 *                              can read a conversation sees its title next
 *                              to its id (that look-up is itself audited).
 *   export [-o FILE]           JSON Lines for a SIEM (stdout by default).
 *   head                       "SEQ:HASH" of the last record.
 *
 * The log holds no secret (records carry ids, never titles or content), so
 * reading it needs no key; only resolving titles does.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive.h"
#include "audit.h"
#include "cli.h"
#include "util.h"

struct show_ctx {
	int64_t since_ms;
	const char *principal;
	const struct cf_chat_list *titles;      /* NULL: ids only */
	FILE *out;
	int json;
	uint64_t shown;
};

/* The title of the conversation an object names, when known. */
static const char *
object_title(const struct show_ctx *x, const char *object)
{
	uint8_t id[CF_ID_BYTES];
	char hex[2 * CF_ID_BYTES + 1];
	size_t i;

	if (x->titles == NULL || strlen(object) < 2 * CF_ID_BYTES)
		return NULL;
	memcpy(hex, object, 2 * CF_ID_BYTES);
	hex[2 * CF_ID_BYTES] = '\0';
	if (cf_hex_decode(id, CF_ID_BYTES, hex) != 0)
		return NULL;
	for (i = 0; i < x->titles->n; i++)
		if (memcmp(x->titles->v[i].id, id, CF_ID_BYTES) == 0)
			return x->titles->v[i].title;
	return NULL;
}

static int
show_one(const struct cf_audit_rec *r, void *arg)
{
	struct show_ctx *x = arg;
	char when[40], *line = NULL;
	const char *title;

	if (r->time_ms < x->since_ms)
		return 0;
	if (x->principal != NULL && strcmp(r->principal, x->principal) != 0)
		return 0;
	x->shown++;
	if (x->json) {
		if (cf_audit_json(r, &line) != 0) {
			cf_error("audit export: %s", strerror(ENOMEM));
			return -ENOMEM;
		}
		if (fprintf(x->out, "%s\n", line) < 0) {
			free(line);
			cf_error("audit export: %s", strerror(errno));
			return -EIO;
		}
		free(line);
		return 0;
	}
	cf_audit_time(when, sizeof when, r->time_ms);
	printf("%" PRIu64 "\t%s\t%s\t%s\t%s\t%s\t", r->seq, when,
	    r->principal[0] ? r->principal : "-", r->action, r->object[0] ? r->object : "-",
	    r->result);
	cli_print_clean(r->detail);
	title = object_title(x, r->object);
	if (title != NULL) {
		printf("\ttitle=");
		cli_print_clean(title);
	}
	putchar('\n');
	return 0;
}

/* "SEQ:HASH" -> seq, hash.  Returns 0 or -EINVAL. */
static int
parse_head(const char *s, uint64_t *seq, uint8_t hash[CF_HASH_BYTES])
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != ':' || v == 0)
		return -EINVAL;
	if (strlen(end + 1) != 2 * CF_HASH_BYTES || cf_hex_decode(hash, CF_HASH_BYTES, end + 1) != 0)
		return -EINVAL;
	*seq = v;
	return 0;
}

static int
audit_verify(struct cf_archive *a, const char *head)
{
	struct cf_audit_check chk;
	uint8_t hash[CF_HASH_BYTES];
	uint64_t seq = 0;
	char hex[2 * CF_HASH_BYTES + 1];
	int rc;

	if (head != NULL && parse_head(head, &seq, hash) != 0)
		return cli_usage_error("audit verify", "--head: expected SEQ:HASH as `coffer "
		    "audit ARCHIVE head` prints it");
	rc = cf_audit_verify(cf_archive_ks(a), seq, head != NULL ? hash : NULL, &chk);
	if (rc < 0)
		return CMD_ERROR;
	if (rc == 1) {
		printf("audit: chain broken at record %" PRIu64 ": %s (%" PRIu64
		    " records intact before it)\n", chk.first_bad, chk.why, chk.head_seq);
		return CMD_FOUND;
	}
	cf_hex_encode(hex, chk.head, CF_HASH_BYTES);
	printf("audit: %" PRIu64 " records, chain intact, head %" PRIu64 ":%s\n", chk.records,
	    chk.head_seq, hex);
	return CMD_OK;
}

int
cmd_audit(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "head", required_argument, NULL, 'H' },
		{ "since", required_argument, NULL, 's' },
		{ "principal", required_argument, NULL, 'P' },
		{ "as", required_argument, NULL, 'a' },
		{ "passphrase-file", required_argument, NULL, 'p' },
		{ "output", required_argument, NULL, 'o' },
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	const char *pos[2], *head = NULL, *since = NULL, *principal = NULL, *as = NULL;
	const char *passfile = NULL, *output = NULL, *sub;
	struct cf_chat_list l = { .v = NULL };
	struct cf_archive *a = NULL;
	struct cf_session *s = NULL;
	struct show_ctx x;
	int c, npos = 0, rc, result = CMD_ERROR, fd = -1;
	int64_t since_s = 0;

	memset(&x, 0, sizeof x);
	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, "-ho:", opts, NULL)) != -1) {
		switch (c) {
		case 1:
			if ((rc = cli_positional("audit", pos, &npos, 2, optarg)) != CMD_OK)
				return rc;
			break;
		case 'H':
			head = optarg;
			break;
		case 's':
			since = optarg;
			break;
		case 'P':
			principal = optarg;
			break;
		case 'a':
			as = optarg;
			break;
		case 'p':
			passfile = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 'h':
			return CMD_HELP;
		default:
			return CMD_USAGE;
		}
	}
	if ((rc = cli_rest("audit", pos, &npos, 2, argc, argv)) != CMD_OK)
		return rc;
	if (npos != 2)
		return cli_usage_error("audit", "missing %s", npos == 0 ? "ARCHIVE" :
		    "verify, show, export or head");
	sub = pos[1];
	if (strcmp(sub, "verify") != 0 && strcmp(sub, "show") != 0 &&
	    strcmp(sub, "export") != 0 && strcmp(sub, "head") != 0)
		return cli_usage_error("audit", "unknown subcommand '%s' (verify, show, export "
		    "or head)", sub);
	if (head != NULL && strcmp(sub, "verify") != 0)
		return cli_usage_error("audit", "--head goes with verify");
	if (output != NULL && strcmp(sub, "export") != 0)
		return cli_usage_error("audit", "-o goes with export");
	if ((as != NULL || passfile != NULL) && strcmp(sub, "show") != 0)
		return cli_usage_error("audit", "--as goes with show");
	if (since != NULL) {
		if (cf_parse_date_arg(since, NULL, 0, &since_s) != 0)
			return cli_usage_error("audit", "--since: not a date or time: %s", since);
		x.since_ms = since_s * 1000;
	}
	if (as != NULL && (rc = cli_check_name("audit", "--as", as)) != CMD_OK)
		return rc;

	if (as != NULL) {
		/* titles are decrypted: that needs an admin and is audited */
		if (cli_open_session(pos[0], 0, as, passfile, &a, &s) < 0)
			return CMD_ERROR;
		if (cf_session_role(s) != CF_ROLE_ADMIN) {
			cf_error("audit show --as: %s is not an admin; titles are shown to admins "
			    "only", as);
			goto out;
		}
		if (cf_chats_list(a, s, &l) < 0)
			goto out;
		if (cf_audit_log(cf_archive_ks(a), as, "audit-show", NULL, CF_AUDIT_OK,
		    "titles resolved") < 0)
			goto out;
		x.titles = &l;
	} else if (cf_archive_open(&a, pos[0], CF_KS_RDONLY) < 0) {
		return CMD_ERROR;
	}

	if (strcmp(sub, "verify") == 0) {
		result = audit_verify(a, head);
	} else if (strcmp(sub, "head") == 0) {
		uint8_t hash[CF_HASH_BYTES];
		char hex[2 * CF_HASH_BYTES + 1];
		uint64_t seq;

		if (cf_audit_head(cf_archive_ks(a), &seq, hash) < 0)
			goto out;
		cf_hex_encode(hex, hash, CF_HASH_BYTES);
		printf("%" PRIu64 ":%s\n", seq, hex);
		result = CMD_OK;
	} else {
		x.principal = principal;
		x.out = stdout;
		x.json = strcmp(sub, "export") == 0;
		if (x.json && output != NULL && strcmp(output, "-") != 0) {
			fd = open(output, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
			if (fd < 0 || (x.out = fdopen(fd, "w")) == NULL) {
				cf_error("%s: %s", output, strerror(errno));
				if (fd >= 0)
					close(fd);
				goto out;
			}
		}
		rc = cf_audit_foreach(cf_archive_ks(a), 1, show_one, &x);
		if (x.out != stdout) {
			if (fclose(x.out) != 0 && rc == 0) {
				cf_error("%s: %s", output, strerror(errno));
				rc = -EIO;
			}
		} else if (fflush(stdout) != 0 && rc == 0) {
			cf_error("audit: standard output: %s", strerror(errno));
			rc = -EIO;
		}
		result = rc < 0 ? CMD_ERROR : CMD_OK;
	}
out:
	cf_chats_free(&l);
	cli_close_session(a, s);
	return result;
}
