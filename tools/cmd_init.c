/*
 * cmd_init.c - `coffer init`: create an archive, its first admin and the
 * recovery key.
 *
 * The recovery secret exists only in secure memory until it is written
 * once: to --recovery-key-file F, which is created (O_EXCL, 0600) before
 * the archive so that an existing file or an unwritable folder stops init
 * before anything is made; or, without F, to standard output.  It is
 * stored nowhere else.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "archive.h"
#include "cli.h"
#include "crypto.h"
#include "pass.h"
#include "util.h"

int
cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "admin", required_argument, NULL, 'a' },
		{ "recovery-key-file", required_argument, NULL, 'r' },
		{ "new-passphrase-file", required_argument, NULL, 'n' },
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	const char *pos[1], *admin = NULL, *keyfile = NULL, *passfile = NULL, *dir;
	uint8_t archive_id[CF_ID_BYTES];
	uint8_t *secret = NULL;
	struct cf_archive *a = NULL;
	char *pass = NULL;
	size_t passlen = 0;
	int c, npos = 0, fd = -1, rc, result = CMD_ERROR, saved = 0;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, "-h", opts, NULL)) != -1) {
		switch (c) {
		case 1:
			if ((rc = cli_positional("init", pos, &npos, 1, optarg)) != CMD_OK)
				return rc;
			break;
		case 'a':
			admin = optarg;
			break;
		case 'r':
			keyfile = optarg;
			break;
		case 'n':
			passfile = optarg;
			break;
		case 'h':
			return CMD_HELP;
		default:
			return CMD_USAGE;
		}
	}
	if ((rc = cli_rest("init", pos, &npos, 1, argc, argv)) != CMD_OK)
		return rc;
	if (npos != 1)
		return cli_usage_error("init", "missing ARCHIVE");
	if (admin == NULL)
		return cli_usage_error("init", "missing --admin NAME");
	if ((rc = cli_check_name("init", "--admin", admin)) != CMD_OK)
		return rc;
	dir = pos[0];

	if (keyfile != NULL) {
		fd = cli_recovery_create(keyfile);
		if (fd < 0)
			return CMD_ERROR;
	}
	secret = cf_secure_alloc(CF_KEY_BYTES);
	if (secret == NULL)
		goto out;
	if (cli_read_new_pass(passfile, admin, &pass, &passlen) < 0)
		goto out;
	rc = cf_archive_init(dir, admin, pass, passlen, secret);
	cf_pass_free(pass, passlen);
	if (rc < 0)
		goto out;

	/* The id only labels the key file; should reopening fail, the key is
	 * still written (with a zero id) rather than lost. */
	memset(archive_id, 0, sizeof archive_id);
	if (cf_archive_open(&a, dir, CF_KS_RDONLY) == 0) {
		memcpy(archive_id, cf_archive_id(a), CF_ID_BYTES);
		cf_archive_close(a);
		result = CMD_OK;
	}

	if (keyfile != NULL) {
		rc = cli_recovery_write(fd, keyfile, archive_id, secret);
		if (rc == 0 && close(fd) != 0) {
			rc = -errno;
			cf_error("%s: %s", keyfile, strerror(-rc));
		}
		fd = -1;
		if (rc < 0)
			goto lost;
		saved = 1;
		printf("created archive %s; its recovery key is in %s: keep that file offline\n",
		    dir, keyfile);
	} else {
		/* Straight to the descriptor: stdio must not keep a copy. */
		if (fflush(stdout) != 0) {
			cf_error("standard output: %s", strerror(errno));
			goto lost;
		}
		if (cli_recovery_write(STDOUT_FILENO, "standard output", archive_id, secret) < 0)
			goto lost;
		saved = 1;
		cf_error("init: the recovery key above is shown only this once; write it down, "
		    "keep it offline, and clear this screen");
	}
	goto out;
lost:
	cf_error("%s: the archive was created but its recovery key was not saved; "
	    "remove %s and run init again", dir, dir);
	result = CMD_ERROR;
out:
	if (fd >= 0)
		(void)close(fd);        /* incomplete: removed below */
	if (keyfile != NULL && !saved && unlink(keyfile) != 0 && errno != ENOENT)
		cf_error("%s: %s", keyfile, strerror(errno));
	cf_secure_free(secret);
	return result;
}
