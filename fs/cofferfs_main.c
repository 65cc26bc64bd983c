/*
 * cofferfs_main.c - the `cofferfs` program: unlock one principal of an
 * archive and mount what it may read, read-only (cofferfs.h does the
 * work).  The passphrase comes from --passphrase-file or the terminal,
 * never from the command line.  Exit status: 0 once mounted (or after
 * --help), 2 on any error.  The usage line is the synopsis of
 * docs/cofferfs.8: change both together.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "cofferfs.h"
#include "crypto.h"
#include "pass.h"
#include "util.h"

#define EXIT_TROUBLE 2

static const char usage_line[] =
    "usage: cofferfs ARCHIVE MOUNTPOINT --as NAME [--passphrase-file FILE] [-f] [-d] "
    "[-o OPTIONS]\n";

static void
usage_help(void)
{
	fputs(usage_line, stdout);
	fputs("\n"
	    "Mount the conversations NAME may read from the Coffer archive ARCHIVE,\n"
	    "read-only, at MOUNTPOINT.  Unmount with: fusermount3 -u MOUNTPOINT\n"
	    "Show what changed since the mount (imports, grants, revocations):\n"
	    "coffer mount --refresh MOUNTPOINT, or SIGHUP to the daemon.  A mount\n"
	    "whose daemon died at MOUNTPOINT is unmounted first.\n"
	    "\n"
	    "  --as NAME               the principal to unlock (required)\n"
	    "  --passphrase-file FILE  read the passphrase from the first line of FILE\n"
	    "                          (\"-\": standard input) instead of the terminal\n"
	    "  -f                      stay in the foreground\n"
	    "  -d                      print FUSE debugging output (implies -f)\n"
	    "  -o OPTIONS              comma-separated mount options: tz=ZONE shows\n"
	    "                          times in ZONE (default UTC); others go to FUSE\n"
	    "                          (rw, allow_other and allow_root are refused)\n"
	    "  -h, --help              show this help\n", stdout);
}

static int
usage_error(const char *why)
{
	if (why != NULL)
		cf_error("%s", why);
	fputs(usage_line, stderr);
	return EXIT_TROUBLE;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "as", required_argument, NULL, 'a' },
		{ "passphrase-file", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *as = NULL, *passfile = NULL;
	struct cf_archive *a = NULL;
	struct cf_session *s = NULL;
	struct cfs_opts o;
	char *rest = NULL, *pass = NULL, *prompt = NULL, *archive = NULL;
	size_t passlen = 0;
	int c, rc, status = EXIT_TROUBLE;

	cf_set_progname("cofferfs");
	memset(&o, 0, sizeof(o));
	if (cf_args_refuse_secrets(argc, argv) != 0)
		return EXIT_TROUBLE;
	while ((c = getopt_long(argc, argv, "hfdo:", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			as = optarg;
			break;
		case 'p':
			passfile = optarg;
			break;
		case 'f':
			o.foreground = 1;
			break;
		case 'd':
			o.debug = 1;
			o.foreground = 1;
			break;
		case 'o':
			if (cfs_parse_o(optarg, &o, &rest) != 0) {
				status = usage_error(NULL);
				goto out;
			}
			break;
		case 'h':
			usage_help();
			status = 0;
			goto out;
		default:
			status = usage_error(NULL);
			goto out;
		}
	}
	if (argc - optind != 2) {
		status = usage_error(argc - optind < 2 ? "missing ARCHIVE or MOUNTPOINT" :
		    "too many arguments");
		goto out;
	}
	if (as == NULL) {
		status = usage_error("missing --as NAME");
		goto out;
	}
	if (cf_name_valid(as) != 0) {
		status = usage_error("--as: not a valid principal name");
		goto out;
	}
	o.fuse_opts = rest;

	if (cf_crypto_init() != 0)
		goto out;
	/* The daemon changes to "/": keep the archive's absolute path. */
	if ((archive = realpath(argv[optind], NULL)) == NULL) {
		cf_error("%s: %s", argv[optind], strerror(errno));
		goto out;
	}
	if (cf_archive_open(&a, archive, 0) != 0)   /* read-write: audited */
		goto out;
	if (asprintf(&prompt, "Passphrase for %s: ", as) < 0) {
		prompt = NULL;
		cf_error("out of memory");
		goto out;
	}
	if (cf_pass_read(passfile, prompt, 0, &pass, &passlen) != 0)
		goto out;
	rc = cf_session_unlock(a, as, pass, passlen, &s);
	cf_pass_free(pass, passlen);
	pass = NULL;
	if (rc != 0)
		goto out;
	rc = cfs_run(a, s, argv[optind + 1], &o);       /* takes a and s */
	a = NULL;
	s = NULL;
	status = rc == 0 ? 0 : EXIT_TROUBLE;
out:
	cf_session_free(s);
	cf_archive_close(a);
	free(prompt);
	free(archive);
	free(rest);
	return status;
}
