/*
 * pass.c - reading a passphrase from a file (--passphrase-file) or from the
 * controlling terminal with echo off; never from argv or the environment.
 *
 * The passphrase goes straight into secure memory, one byte at a time, so
 * that no stdio buffer keeps a copy and standard input is not read past the
 * first line.  A passphrase is at most PASS_MAX bytes; longer lines are
 * refused rather than cut.  Limit: if a signal kills the process while the
 * terminal's echo is off, echo stays off (stty echo restores it).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "crypto.h"
#include "pass.h"
#include "util.h"

#define PASS_MAX 1024
#define TTY_PATH "/dev/tty"

/*
 * Read one line from fd into buf (PASS_MAX + 1 bytes, secure), dropping the
 * "\n" or "\r\n".  End of file ends the line.  Errors are reported with name.
 */
static int
read_line(int fd, const char *name, char *buf, size_t *len)
{
	size_t n = 0;
	char c;
	int rc;

	for (;;) {
		ssize_t got = read(fd, &c, 1);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			cf_error("%s: %s", name, strerror(-rc));
			goto fail;
		}
		if (got == 0 || c == '\n')
			break;
		if (n == PASS_MAX) {
			rc = -EINVAL;
			cf_error("%s: passphrase longer than %d bytes", name, PASS_MAX);
			goto fail;
		}
		buf[n++] = c;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	cf_wipe(&c, sizeof c);
	if (n == 0) {
		cf_error("%s: empty passphrase", name);
		return -EINVAL;
	}
	*len = n;
	return 0;
fail:
	cf_wipe(&c, sizeof c);
	cf_wipe(buf, PASS_MAX + 1);
	return rc;
}

static int
read_file(const char *file, char *buf, size_t *len)
{
	const char *name = strcmp(file, "-") == 0 ? "standard input" : file;
	int fd, rc;

	if (strcmp(file, "-") == 0) {
		fd = STDIN_FILENO;
	} else {
		fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			rc = -errno;
			cf_error("%s: %s", file, strerror(-rc));
			return rc;
		}
	}
	rc = read_line(fd, name, buf, len);
	if (fd != STDIN_FILENO)
		close(fd);
	return rc;
}

/* Show prompt on the terminal and read one line with echo off. */
static int
tty_ask(int fd, const char *prompt, char *buf, size_t *len)
{
	struct termios saved, quiet;
	int rc, rc2;

	if (tcgetattr(fd, &saved) < 0) {
		rc = -errno;
		cf_error("%s: %s", TTY_PATH, strerror(-rc));
		return rc;
	}
	rc = cf_write_all(fd, prompt, strlen(prompt));
	if (rc < 0) {
		cf_error("%s: %s", TTY_PATH, strerror(-rc));
		return rc;
	}
	quiet = saved;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	if (tcsetattr(fd, TCSAFLUSH, &quiet) < 0) {
		rc = -errno;
		cf_error("%s: %s", TTY_PATH, strerror(-rc));
		return rc;
	}
	rc = read_line(fd, TTY_PATH, buf, len);
	if (tcsetattr(fd, TCSAFLUSH, &saved) < 0) {
		rc2 = -errno;
		cf_error("%s: cannot turn echo back on: %s", TTY_PATH, strerror(-rc2));
		if (rc == 0) {
			cf_wipe(buf, PASS_MAX + 1);
			rc = rc2;
		}
	}
	/* The user's Enter was not echoed. */
	(void)cf_write_all(fd, "\n", 1);
	return rc;
}

static int
read_tty(const char *prompt, int confirm, char *buf, size_t *len)
{
	char *again = NULL;
	size_t againlen = 0;
	int fd, rc;

	fd = open(TTY_PATH, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		cf_error("no terminal to read the passphrase from; use --passphrase-file");
		return -ENXIO;
	}
	rc = tty_ask(fd, prompt != NULL ? prompt : "Passphrase: ", buf, len);
	if (rc < 0 || !confirm)
		goto out;
	again = cf_secure_alloc(PASS_MAX + 1);
	if (again == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	rc = tty_ask(fd, "Repeat passphrase: ", again, &againlen);
	if (rc < 0)
		goto out;
	if (againlen != *len || cf_ct_compare(again, buf, *len) != 0) {
		cf_error("passphrases do not match");
		rc = -EINVAL;
	}
out:
	if (rc < 0)
		cf_wipe(buf, PASS_MAX + 1);
	cf_secure_free(again);
	close(fd);
	return rc;
}

int
cf_pass_read(const char *file, const char *prompt, int confirm, char **pass, size_t *len)
{
	char *buf;
	size_t n = 0;
	int rc;

	*pass = NULL;
	*len = 0;
	buf = cf_secure_alloc(PASS_MAX + 1);
	if (buf == NULL)
		return -ENOMEM;
	if (file != NULL)
		rc = read_file(file, buf, &n);
	else
		rc = read_tty(prompt, confirm, buf, &n);
	if (rc < 0) {
		cf_secure_free(buf);
		return rc;
	}
	*pass = buf;
	*len = n;
	return 0;
}

void
cf_pass_free(char *pass, size_t len)
{
	if (pass == NULL)
		return;
	cf_wipe(pass, len);
	cf_secure_free(pass);
}
