/*
 * coffer.c - the `coffer` command: a table of subcommands, each a handler
 * in its own tools/cmd_*.c that parses its own options and returns a
 * CMD_* code; main alone turns that code into an exit status:
 *   0  success (and --help)
 *   1  the command ran and found a problem (verify: damaged blobs)
 *   2  usage error or operational error (reported on stderr, one line)
 *
 * The usage strings below are the synopsis of docs/coffer.1: change both
 * together.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "crypto.h"
#include "util.h"

#define EXIT_FOUND 1
#define EXIT_TROUBLE 2

static const struct cmd commands[] = {
	{ "init", "create an archive, its first admin and its recovery key",
	  "coffer init ARCHIVE --admin NAME [--recovery-key-file F] [--new-passphrase-file F]",
	  cmd_init },
	{ "principal", "add, list, disable or enable principals (admin, reviewer, ingest)",
	  "coffer principal add ARCHIVE NAME --role admin|reviewer|ingest --as ADMIN "
	  "[--passphrase-file F] [--new-passphrase-file F]\n"
	  "coffer principal list ARCHIVE\n"
	  "coffer principal disable|enable ARCHIVE NAME --as ADMIN [--passphrase-file F]",
	  cmd_principal },
	{ "import", "import chat exports (ingest can write but not read)",
	  "coffer import ARCHIVE --as INGEST [--format jsonl|whatsapp|telegram|signal|slack] "
	  "[--timezone ZONE] [--passphrase-file F] PATH...",
	  cmd_import },
	{ "chats", "list the conversations a principal may read",
	  "coffer chats ARCHIVE --as NAME [--passphrase-file F]",
	  cmd_chats },
	{ "grant", "let a reviewer read one conversation, or all of them",
	  "coffer grant ARCHIVE (CHAT | --all) --to NAME --as ADMIN [--from DATE] "
	  "[--until DATE] [--reason TEXT] [--passphrase-file F]",
	  cmd_grant },
	{ "revoke", "take a grant back with the keys it gave, and rotate the conversation key",
	  "coffer revoke ARCHIVE (CHAT | --all) --from NAME --as ADMIN [--passphrase-file F]",
	  cmd_revoke },
	{ "mount", "show the conversations a principal may read as a read-only file system",
	  "coffer mount ARCHIVE MOUNTPOINT --as NAME [-f] [-d] [-o OPTIONS] "
	  "[--passphrase-file F]\n"
	  "coffer mount --refresh MOUNTPOINT",
	  cmd_mount },
	{ "verify", "check every blob of an archive without any key (--deep: decrypt too)",
	  "coffer verify ARCHIVE [--deep --as NAME [--passphrase-file F]]",
	  cmd_verify },
	{ "audit", "check, show or export the tamper-evident audit log",
	  "coffer audit ARCHIVE verify [--head SEQ:HASH]\n"
	  "coffer audit ARCHIVE show [--since T] [--principal P] [--as ADMIN [--passphrase-file F]]\n"
	  "coffer audit ARCHIVE export [-o FILE]\n"
	  "coffer audit ARCHIVE head",
	  cmd_audit },
	{ "export", "write conversations as RSMF, EML or JSONL with a SHA-256 manifest (audited)",
	  "coffer export ARCHIVE (CHAT | --all) --as NAME --format rsmf|eml|jsonl -o DIR "
	  "[--from T --to T] [--passphrase-file F]",
	  cmd_export },
	{ "retention", "set how long conversations are kept after their last message",
	  "coffer retention ARCHIVE (CHAT | --default) (--keep DURATION | --remove) --as ADMIN "
	  "[--passphrase-file F]\n"
	  "coffer retention ARCHIVE --list --as ADMIN [--passphrase-file F]",
	  cmd_retention },
	{ "hold", "place or lift a legal hold, which keeps a conversation from being shredded",
	  "coffer hold ARCHIVE CHAT (--add --reason TEXT | --remove [--reason TEXT]) --as ADMIN "
	  "[--passphrase-file F]\n"
	  "coffer hold ARCHIVE --list --as ADMIN [--passphrase-file F]",
	  cmd_hold },
	{ "expire", "list (--dry-run) or shred what is past retention and not on hold",
	  "coffer expire ARCHIVE --as ADMIN [--dry-run] [--passphrase-file F]",
	  cmd_expire },
	{ "shred", "destroy a conversation: every wrapped copy of its key, then its files",
	  "coffer shred ARCHIVE CHAT --as ADMIN [--passphrase-file F]",
	  cmd_shred },
	{ "backup", "copy a live archive consistently: keystore snapshot, then its blobs",
	  "coffer backup ARCHIVE DEST [--link]",
	  cmd_backup },
	{ "gc", "remove the orphan files an interrupted import left",
	  "coffer gc ARCHIVE [--dry-run] [--min-age SECONDS]",
	  cmd_gc },
	{ "recover", "create a new admin with the recovery key",
	  "coffer recover ARCHIVE --recovery-key-file F --new-admin NAME "
	  "[--new-passphrase-file F]",
	  cmd_recover },
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const struct cmd *
find_command(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* "usage: LINE1\n       LINE2\n..." then the summary. */
static void
print_usage(FILE *f, const struct cmd *c, int with_summary)
{
	const char *p = c->usage;
	const char *prefix = "usage: ";
	size_t n;

	while (*p != '\0') {
		n = strcspn(p, "\n");
		fprintf(f, "%s%.*s\n", prefix, (int)n, p);
		prefix = "       ";
		p += n;
		if (*p == '\n')
			p++;
	}
	if (with_summary)
		fprintf(f, "\n%c%s.\n", toupper((unsigned char)c->summary[0]), c->summary + 1);
}

static void
print_commands(FILE *f)
{
	size_t i;

	fprintf(f, "usage: coffer COMMAND [ARGS]\n       coffer help [COMMAND]\n\nCommands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "   %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun 'coffer help COMMAND' or 'coffer COMMAND --help' for its usage.\n");
}

static int
is_help(const char *s)
{
	return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0 || strcmp(s, "help") == 0;
}

/* Make a failed write to standard output (a full disk, a closed pipe)
 * an error rather than a silent loss. */
static int
finish_stdout(int status)
{
	errno = 0;
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cf_error("standard output: %s", strerror(errno != 0 ? errno : EIO));
		return EXIT_TROUBLE;
	}
	return status;
}

int
main(int argc, char **argv)
{
	static char progname[64];
	const struct cmd *c;
	int rc;

	cf_set_progname("coffer");
	if (cf_crypto_init() < 0)
		return EXIT_TROUBLE;
	/* Whatever a command creates outside the archive (a recovery key
	 * file) is private to its owner. */
	umask(077);

	if (argc < 2) {
		print_commands(stderr);
		return EXIT_TROUBLE;
	}
	if (is_help(argv[1])) {
		if (argc == 2) {
			print_commands(stdout);
			return finish_stdout(0);
		}
		c = find_command(argv[2]);
		if (c == NULL) {
			cf_error("unknown command '%s'; 'coffer help' lists them", argv[2]);
			return EXIT_TROUBLE;
		}
		if (argc > 3) {
			cf_error("help: unexpected argument '%s'", argv[3]);
			return EXIT_TROUBLE;
		}
		print_usage(stdout, c, 1);
		return finish_stdout(0);
	}
	c = find_command(argv[1]);
	if (c == NULL) {
		cf_error("unknown command '%s'; 'coffer help' lists them", argv[1]);
		return EXIT_TROUBLE;
	}
	if (cf_args_refuse_secrets(argc, argv) != 0)
		return EXIT_TROUBLE;

	/* The handler sees argv[0] = "coffer CMD", which getopt puts in
	 * front of its own messages. */
	snprintf(progname, sizeof progname, "coffer %s", c->name);
	argv[1] = progname;
	rc = c->run(argc - 1, argv + 1);
	switch (rc) {
	case CMD_OK:
		return finish_stdout(0);
	case CMD_FOUND:
		return finish_stdout(EXIT_FOUND);
	case CMD_USAGE:
		print_usage(stderr, c, 0);
		return EXIT_TROUBLE;
	case CMD_HELP:
		print_usage(stdout, c, 1);
		return finish_stdout(0);
	case CMD_ERROR:
	default:
		(void)finish_stdout(EXIT_TROUBLE);
		return EXIT_TROUBLE;
	}
}
