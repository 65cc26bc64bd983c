/*
 * cli.c - helpers shared by the `coffer` commands: getopt conventions,
 * passphrases, unlocking a session, the recovery key file and printing.
 *
 * Secrets handled here (passphrases, the recovery secret and its hex text)
 * live only in cf_secure_alloc memory and are wiped when released; the
 * recovery key is written with write(2), never through stdio, so no copy is
 * left in a stdio buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "cli.h"
#include "crypto.h"
#include "pass.h"
#include "util.h"

#define CLI_PROMPT_MAX (CF_NAME_MAX + 32)
#define CLI_RECOVERY_FILE_MAX 4096      /* a key file is ~200 bytes */
#define CLI_RECOVERY_TEXT_MAX 256

void
cli_getopt_reset(void)
{
	/* optind = 0 makes glibc re-initialise getopt, including its
	 * permutation state, which optind = 1 would not. */
	optind = 0;
	opterr = 1;
}

int
cli_positional(const char *cmd, const char **pos, int *npos, int max, const char *arg)
{
	if (*npos >= max)
		return cli_usage_error(cmd, "unexpected argument '%s'", arg);
	pos[(*npos)++] = arg;
	return CMD_OK;
}

int
cli_rest(const char *cmd, const char **pos, int *npos, int max, int argc, char **argv)
{
	int i, rc;

	for (i = optind; i < argc; i++)
		if ((rc = cli_positional(cmd, pos, npos, max, argv[i])) != CMD_OK)
			return rc;
	return CMD_OK;
}

int
cli_usage_error(const char *cmd, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof msg, fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	cf_error("%s: %s", cmd, msg);
	return CMD_USAGE;
}

int
cli_check_name(const char *cmd, const char *opt, const char *name)
{
	if (cf_name_valid(name) == 0)
		return CMD_OK;
	return cli_usage_error(cmd, "%s: invalid name '%s' (1 to %d of A-Z a-z 0-9 . _ -, "
	    "starting with a letter or digit)", opt, name, CF_NAME_MAX);
}

int
cli_read_pass(const char *file, const char *name, char **pass, size_t *len)
{
	char prompt[CLI_PROMPT_MAX];

	snprintf(prompt, sizeof prompt, "Passphrase for %s: ", name);
	return cf_pass_read(file, prompt, 0, pass, len);
}

int
cli_read_new_pass(const char *file, const char *name, char **pass, size_t *len)
{
	char prompt[CLI_PROMPT_MAX];

	snprintf(prompt, sizeof prompt, "New passphrase for %s: ", name);
	return cf_pass_read(file, prompt, 1, pass, len);
}

int
cli_open_session(const char *dir, int flags, const char *name, const char *passfile,
    struct cf_archive **a, struct cf_session **s)
{
	char *pass = NULL;
	size_t len = 0;
	int rc;

	*a = NULL;
	*s = NULL;
	/* The archive first: "not a Coffer archive" before any prompt. */
	rc = cf_archive_open(a, dir, flags);
	if (rc < 0)
		return rc;
	rc = cli_read_pass(passfile, name, &pass, &len);
	if (rc < 0)
		goto fail;
	rc = cf_session_unlock(*a, name, pass, len, s);
	cf_pass_free(pass, len);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	cf_archive_close(*a);
	*a = NULL;
	*s = NULL;
	return rc;
}

void
cli_close_session(struct cf_archive *a, struct cf_session *s)
{
	cf_session_free(s);
	cf_archive_close(a);
}

int
cli_recovery_create(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0) {
		int e = errno;

		cf_error("%s: %s", path, e == EEXIST ? "already exists; refusing to overwrite it"
		    : strerror(e));
		return -e;
	}
	return fd;
}

int
cli_recovery_write(int fd, const char *name, const uint8_t archive_id[CF_ID_BYTES],
    const uint8_t secret[CF_KEY_BYTES])
{
	char idhex[2 * CF_ID_BYTES + 1];
	struct stat st;
	char *text;
	size_t len;
	int n, rc;

	text = cf_secure_alloc(CLI_RECOVERY_TEXT_MAX);
	if (text == NULL)
		return -ENOMEM;
	cf_hex_encode(idhex, archive_id, CF_ID_BYTES);
	n = snprintf(text, CLI_RECOVERY_TEXT_MAX, "# Coffer recovery key for archive %s. "
	    "Keep it offline: it opens every conversation.\n" CLI_RECOVERY_TAG, idhex);
	if (n < 0 || (size_t)n + 2 * CF_KEY_BYTES + 2 > CLI_RECOVERY_TEXT_MAX) {
		rc = -EOVERFLOW;
		cf_error("%s: %s", name, strerror(EOVERFLOW));
		goto out;
	}
	/* The secret's hex goes straight into secure memory, not through
	 * printf's buffers. */
	len = (size_t)n;
	cf_hex_encode(text + len, secret, CF_KEY_BYTES);
	len += 2 * CF_KEY_BYTES;
	text[len++] = '\n';

	rc = cf_write_all(fd, text, len);
	if (rc < 0) {
		cf_error("%s: %s", name, strerror(-rc));
		goto out;
	}
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && fsync(fd) != 0) {
		rc = -errno;
		cf_error("%s: %s", name, strerror(-rc));
		goto out;
	}
	rc = 0;
out:
	cf_secure_free(text);   /* sodium_free wipes */
	return rc;
}

/* Trim trailing blanks and a "\r" in place. */
static void
rtrim(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

int
cli_recovery_read(const char *path, uint8_t secret[CF_KEY_BYTES])
{
	char *text = NULL, *line, *next;
	struct stat st;
	ssize_t got;
	size_t size;
	int fd, rc, found = 0;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		cf_error("%s: %s", path, rc == -ELOOP ? "is a symbolic link" : strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		cf_error("%s: %s", path, strerror(-rc));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > CLI_RECOVERY_FILE_MAX) {
		rc = -EINVAL;
		goto bad;
	}
	size = (size_t)st.st_size;
	text = cf_secure_alloc(size + 1);
	if (text == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	got = cf_pread_all(fd, text, size, 0);
	if (got < 0) {
		rc = (int)got;
		cf_error("%s: %s", path, strerror(-rc));
		goto out;
	}
	text[got] = '\0';
	if (strlen(text) != (size_t)got) {       /* a NUL byte: not text */
		rc = -EINVAL;
		goto bad;
	}

	for (line = text; line != NULL; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		rtrim(line);
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (found || strncmp(line, CLI_RECOVERY_TAG, strlen(CLI_RECOVERY_TAG)) != 0 ||
		    cf_hex_decode(secret, CF_KEY_BYTES, line + strlen(CLI_RECOVERY_TAG)) != 0) {
			rc = -EINVAL;
			goto bad;
		}
		found = 1;
	}
	if (!found) {
		rc = -EINVAL;
		goto bad;
	}
	rc = 0;
	goto out;
bad:
	cf_wipe(secret, CF_KEY_BYTES);
	cf_error("%s: not a Coffer recovery key", path);
out:
	cf_secure_free(text);
	(void)close(fd);        /* read-only: nothing to lose */
	return rc;
}

void
cli_format_ms(int64_t ms, char *buf, size_t n)
{
	if (ms == 0)
		snprintf(buf, n, "-");
	else
		cf_format_time_utc(ms, buf, n);
}

void
cli_print_clean(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			putchar(' ');
		} else if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			/* C1 controls in UTF-8 (U+0080..U+009F, CSI among them) */
			putchar(' ');
			p++;
		} else {
			putchar(*p);
		}
	}
}
