/*
 * cli.h - what the `coffer` commands share: the command table entry, the
 * handler return codes, option parsing conventions, passphrases, sessions,
 * recovery key files and time printing.
 *
 * Conventions every command follows:
 *   - options are parsed with getopt_long and an optstring starting with
 *     "-", so that positional arguments may come anywhere (even with
 *     POSIXLY_CORRECT set): they arrive as option 1 and are collected with
 *     cli_positional(); "--" ends the options;
 *   - every command knows --help (-h), which returns CMD_HELP;
 *   - a usage problem is reported with cli_usage_error() and returns
 *     CMD_USAGE; main then prints the usage on stderr;
 *   - no secret is ever taken from argv or the environment: passphrases
 *     come from --passphrase-file / --new-passphrase-file or the terminal.
 */
#ifndef COFFER_CLI_H
#define COFFER_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

#include "archive.h"

/* What a handler returns; only main turns it into an exit status. */
enum cmd_result {
	CMD_OK = 0,             /* exit 0 */
	CMD_FOUND = 1,          /* ran and found a problem (verify): exit 1 */
	CMD_ERROR = 2,          /* operational error, already reported: exit 2 */
	CMD_USAGE = 3,          /* bad command line: usage on stderr, exit 2 */
	CMD_HELP = 4,           /* --help: usage on stdout, exit 0 */
};

struct cmd {
	const char *name;
	const char *summary;    /* one line for `coffer help` */
	const char *usage;      /* synopsis lines, '\n'-separated, no "usage: " */
	int (*run)(int argc, char **argv);      /* argv[0] is "coffer NAME" */
};

/* Handlers, one file each (tools/cmd_*.c). */
int cmd_init(int argc, char **argv);
int cmd_principal(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_chats(int argc, char **argv);
int cmd_grant(int argc, char **argv);
int cmd_revoke(int argc, char **argv);
int cmd_mount(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_recover(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_retention(int argc, char **argv);
int cmd_hold(int argc, char **argv);
int cmd_expire(int argc, char **argv);
int cmd_shred(int argc, char **argv);

/* The --help entry every command's option table ends with. */
#define CLI_OPT_HELP { "help", no_argument, NULL, 'h' }
#define CLI_OPT_END { NULL, 0, NULL, 0 }

/* Call before each getopt_long loop: resets getopt's state completely
 * (optind = 0, the glibc way). */
void cli_getopt_reset(void);

/*
 * Store positional argument arg in pos[*npos] if fewer than max are
 * there; otherwise report "CMD: unexpected argument 'ARG'" and return
 * CMD_USAGE.  Returns CMD_OK.
 */
int cli_positional(const char *cmd, const char **pos, int *npos, int max, const char *arg);

/* After the getopt loop: take argv[optind..] (what follows "--") as
 * positional arguments too.  Returns CMD_OK or CMD_USAGE. */
int cli_rest(const char *cmd, const char **pos, int *npos, int max, int argc, char **argv);

/* Report a usage problem as "coffer: CMD: MESSAGE" and return CMD_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A valid principal name, else a usage error naming the option. */
int cli_check_name(const char *cmd, const char *opt, const char *name);

/*
 * Read the passphrase of principal name: from file when non-NULL, else
 * from the terminal with the prompt "Passphrase for NAME: ".
 * Returns 0 or -errno (reported).
 */
int cli_read_pass(const char *file, const char *name, char **pass, size_t *len);
/* A new passphrase: "New passphrase for NAME: ", asked twice on a tty. */
int cli_read_new_pass(const char *file, const char *name, char **pass, size_t *len);

/*
 * Open dir (flags as cf_archive_open), read name's passphrase and unlock
 * it.  The passphrase is wiped before return.  On failure nothing is left
 * open.  Returns 0 or -errno (reported).
 */
int cli_open_session(const char *dir, int flags, const char *name, const char *passfile,
    struct cf_archive **a, struct cf_session **s);

/* Close both; either may be NULL. */
void cli_close_session(struct cf_archive *a, struct cf_session *s);

/*
 * Recovery key file, text:
 *   # Coffer recovery key for archive <id hex>. Keep it offline: ...
 *   COFFER-RECOVERY-1:<64 lowercase hex digits>
 */
#define CLI_RECOVERY_TAG "COFFER-RECOVERY-1:"

/* Create path for the recovery key before the archive exists
 * (O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW, 0600): refuses to overwrite
 * anything.  Returns the descriptor or -errno (reported). */
int cli_recovery_create(const char *path);

/*
 * Write the two lines of the recovery key to fd (a file from
 * cli_recovery_create, fsync'd; or standard output).  The text is built in
 * secure memory and wiped.  name is used in error messages.
 * Returns 0 or -errno (reported).
 */
int cli_recovery_write(int fd, const char *name, const uint8_t archive_id[CF_ID_BYTES],
    const uint8_t secret[CF_KEY_BYTES]);

/*
 * Read a recovery key file into secret (caller's secure memory): comment
 * lines ("#") and blank lines are skipped, the COFFER-RECOVERY-1 line is
 * decoded.  Anything else: "F: not a Coffer recovery key", -EINVAL.
 * Returns 0 or -errno (reported).
 */
int cli_recovery_read(const char *path, uint8_t secret[CF_KEY_BYTES]);

/* "2025-03-13T19:44:01Z", or "-" for 0.  buf >= 32 bytes. */
void cli_format_ms(int64_t ms, char *buf, size_t n);

/* Print s on stdout with control characters shown as spaces, so that an
 * imported title cannot break a line or drive the terminal. */
void cli_print_clean(const char *s);

#endif
