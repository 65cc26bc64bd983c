/*
 * cmd_principal.c - `coffer principal add|list|disable|enable`.
 *
 * disable blocks a principal everywhere (unlock, mount, import, grants)
 * without deleting anything: its history, keys and grants stay, and enable
 * lets it back in.  Both are admin actions and audited.
 *
 * add unlocks the admin first, so that a wrong admin passphrase fails
 * before the new principal's passphrase is asked for.  list needs no key:
 * names, roles and status are not secret.
 */
#include <stdio.h>
#include <string.h>

#include "archive.h"
#include "cli.h"
#include "pass.h"
#include "util.h"

static int
principal_add(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "role", required_argument, NULL, 'r' },
		{ "as", required_argument, NULL, 'a' },
		{ "passphrase-file", required_argument, NULL, 'p' },
		{ "new-passphrase-file", required_argument, NULL, 'n' },
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	const char *pos[2], *role_arg = NULL, *as = NULL, *passfile = NULL, *newfile = NULL;
	struct cf_archive *a = NULL;
	struct cf_session *s = NULL;
	enum cf_role role;
	char *pass = NULL;
	size_t passlen = 0;
	int c, npos = 0, rc, result = CMD_ERROR;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, "-h", opts, NULL)) != -1) {
		switch (c) {
		case 1:
			if ((rc = cli_positional("principal add", pos, &npos, 2, optarg)) != CMD_OK)
				return rc;
			break;
		case 'r':
			role_arg = optarg;
			break;
		case 'a':
			as = optarg;
			break;
		case 'p':
			passfile = optarg;
			break;
		case 'n':
			newfile = optarg;
			break;
		case 'h':
			return CMD_HELP;
		default:
			return CMD_USAGE;
		}
	}
	if ((rc = cli_rest("principal add", pos, &npos, 2, argc, argv)) != CMD_OK)
		return rc;
	if (npos != 2)
		return cli_usage_error("principal add", "missing %s",
		    npos == 0 ? "ARCHIVE" : "NAME");
	if (role_arg == NULL)
		return cli_usage_error("principal add", "missing --role admin|reviewer|ingest");
	if (cf_role_parse(role_arg, &role) < 0)
		return cli_usage_error("principal add", "--role: unknown role '%s' "
		    "(admin, reviewer or ingest)", role_arg);
	if (as == NULL)
		return cli_usage_error("principal add", "missing --as ADMIN");
	if ((rc = cli_check_name("principal add", "NAME", pos[1])) != CMD_OK ||
	    (rc = cli_check_name("principal add", "--as", as)) != CMD_OK)
		return rc;
	/* Both from standard input would need two first lines. */
	if (passfile != NULL && newfile != NULL && strcmp(passfile, "-") == 0 &&
	    strcmp(newfile, "-") == 0)
		return cli_usage_error("principal add", "--passphrase-file and "
		    "--new-passphrase-file cannot both be standard input");

	if (cli_open_session(pos[0], 0, as, passfile, &a, &s) < 0)
		return CMD_ERROR;
	if (cli_read_new_pass(newfile, pos[1], &pass, &passlen) < 0)
		goto out;
	rc = cf_principal_add(a, s, pos[1], role, pass, passlen);
	cf_pass_free(pass, passlen);
	if (rc < 0)
		goto out;
	printf("added %s %s\n", cf_role_name(role), pos[1]);
	result = CMD_OK;
out:
	cli_close_session(a, s);
	return result;
}

static int
print_principal(const struct cf_principal *p, void *arg)
{
	char created[32];

	(void)arg;
	cf_format_time_utc(p->created * 1000, created, sizeof created);
	printf("%s\t%s\t%s\t%s\n", p->name, cf_role_name((enum cf_role)p->role),
	    p->disabled ? "disabled" : "active", created);
	return 0;
}

static int
principal_list(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	const char *pos[1];
	struct cf_archive *a = NULL;
	int c, npos = 0, rc;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, "-h", opts, NULL)) != -1) {
		switch (c) {
		case 1:
			rc = cli_positional("principal list", pos, &npos, 1, optarg);
			if (rc != CMD_OK)
				return rc;
			break;
		case 'h':
			return CMD_HELP;
		default:
			return CMD_USAGE;
		}
	}
	if ((rc = cli_rest("principal list", pos, &npos, 1, argc, argv)) != CMD_OK)
		return rc;
	if (npos != 1)
		return cli_usage_error("principal list", "missing ARCHIVE");

	if (cf_archive_open(&a, pos[0], CF_KS_RDONLY) < 0)
		return CMD_ERROR;
	printf("NAME\tROLE\tSTATUS\tCREATED\n");
	rc = cf_principal_foreach(a, print_principal, NULL);
	cf_archive_close(a);
	return rc < 0 ? CMD_ERROR : CMD_OK;
}

/* `coffer principal disable|enable ARCHIVE NAME --as ADMIN` */
static int
principal_disable(int argc, char **argv, const char *cmd, int disabled)
{
	static const struct option opts[] = {
		{ "as", required_argument, NULL, 'a' },
		{ "passphrase-file", required_argument, NULL, 'p' },
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	const char *pos[2], *as = NULL, *passfile = NULL;
	struct cf_archive *a = NULL;
	struct cf_session *s = NULL;
	int c, npos = 0, rc, result = CMD_ERROR;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, "-h", opts, NULL)) != -1) {
		switch (c) {
		case 1:
			if ((rc = cli_positional(cmd, pos, &npos, 2, optarg)) != CMD_OK)
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
	if ((rc = cli_rest(cmd, pos, &npos, 2, argc, argv)) != CMD_OK)
		return rc;
	if (npos != 2)
		return cli_usage_error(cmd, "missing %s", npos == 0 ? "ARCHIVE" : "NAME");
	if (as == NULL)
		return cli_usage_error(cmd, "missing --as ADMIN");
	if ((rc = cli_check_name(cmd, "NAME", pos[1])) != CMD_OK ||
	    (rc = cli_check_name(cmd, "--as", as)) != CMD_OK)
		return rc;
	if (cli_open_session(pos[0], 0, as, passfile, &a, &s) < 0)
		return CMD_ERROR;
	if (cf_principal_set_disabled(a, s, pos[1], disabled) == 0) {
		printf("%s: %s\n", pos[1], disabled ? "disabled" : "enabled");
		if (disabled)
			printf("a mount of %s already running shows nothing after `coffer mount "
			    "--refresh`\n", pos[1]);
		result = CMD_OK;
	}
	cli_close_session(a, s);
	return result;
}

int
cmd_principal(int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error("principal", "missing subcommand (add, list, disable or "
		    "enable)");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return CMD_HELP;
	/* The subcommand's argv[0] names it in getopt's messages. */
	if (strcmp(argv[1], "add") == 0) {
		static char name[] = "coffer principal add";

		argv[1] = name;
		return principal_add(argc - 1, argv + 1);
	}
	if (strcmp(argv[1], "list") == 0) {
		static char name[] = "coffer principal list";

		argv[1] = name;
		return principal_list(argc - 1, argv + 1);
	}
	if (strcmp(argv[1], "disable") == 0) {
		static char name[] = "coffer principal disable";

		argv[1] = name;
		return principal_disable(argc - 1, argv + 1, "principal disable", 1);
	}
	if (strcmp(argv[1], "enable") == 0) {
		static char name[] = "coffer principal enable";

		argv[1] = name;
		return principal_disable(argc - 1, argv + 1, "principal enable", 0);
	}
	return cli_usage_error("principal", "unknown subcommand '%s' (add, list, disable or "
	    "enable)", argv[1]);
}
