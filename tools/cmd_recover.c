/*
 * cmd_recover.c - `coffer recover`: with the offline recovery key, create
 * a new admin holding every conversation key (when every admin passphrase
 * is lost).  The secret is read from the key file into secure memory and
 * wiped as soon as cf_recover has used it.
 */
#include <stdio.h>
#include <string.h>

#include "archive.h"
#include "cli.h"
#include "crypto.h"
#include "pass.h"
#include "util.h"

int
cmd_recover(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "recovery-key-file", required_argument, NULL, 'r' },
		{ "new-admin", required_argument, NULL, 'n' },
		{ "new-passphrase-file", required_argument, NULL, 'N' },
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	const char *pos[1], *keyfile = NULL, *admin = NULL, *newfile = NULL;
	struct cf_archive *a = NULL;
	uint8_t *secret = NULL;
	char *pass = NULL;
	size_t passlen = 0;
	int c, npos = 0, rc, result = CMD_ERROR;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, "-h", opts, NULL)) != -1) {
		switch (c) {
		case 1:
			if ((rc = cli_positional("recover", pos, &npos, 1, optarg)) != CMD_OK)
				return rc;
			break;
		case 'r':
			keyfile = optarg;
			break;
		case 'n':
			admin = optarg;
			break;
		case 'N':
			newfile = optarg;
			break;
		case 'h':
			return CMD_HELP;
		default:
			return CMD_USAGE;
		}
	}
	if ((rc = cli_rest("recover", pos, &npos, 1, argc, argv)) != CMD_OK)
		return rc;
	if (npos != 1)
		return cli_usage_error("recover", "missing ARCHIVE");
	if (keyfile == NULL)
		return cli_usage_error("recover", "missing --recovery-key-file F");
	if (admin == NULL)
		return cli_usage_error("recover", "missing --new-admin NAME");
	if ((rc = cli_check_name("recover", "--new-admin", admin)) != CMD_OK)
		return rc;

	if (cf_archive_open(&a, pos[0], 0) < 0)
		return CMD_ERROR;
	secret = cf_secure_alloc(CF_KEY_BYTES);
	if (secret == NULL)
		goto out;
	if (cli_recovery_read(keyfile, secret) < 0)
		goto out;
	if (cli_read_new_pass(newfile, admin, &pass, &passlen) < 0)
		goto out;
	rc = cf_recover(a, secret, admin, pass, passlen);
	cf_pass_free(pass, passlen);
	if (rc < 0)
		goto out;
	printf("added admin %s with every conversation key\n", admin);
	result = CMD_OK;
out:
	cf_secure_free(secret);
	cf_archive_close(a);
	return result;
}
