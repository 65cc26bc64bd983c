/*
 * test_pass.c - unit tests for pass.c, passphrase files only (the terminal
 * path needs a person): first line, line endings, empty, too long, missing,
 * symbolic link, and "-" for standard input.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "crypto.h"
#include "pass.h"
#include "util.h"

static char dir[512];

static void
put(const char *name, const char *data, size_t len, char *path, size_t n)
{
	int fd;

	if (cf_path(path, n, "%s/%s", dir, name) < 0)
		exit(1);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	REQUIRE(fd >= 0);
	CHECK(cf_write_all(fd, data, len) == 0);
	close(fd);
}

/* Read path and compare with want (NULL: expect the error code err). */
static void
expect(const char *path, const char *want, int err, int line)
{
	char *pass = NULL;
	size_t len = 0;
	int rc = cf_pass_read(path, NULL, 0, &pass, &len);

	if (want != NULL) {
		CHECK(rc == 0);
		CHECK(pass != NULL && len == strlen(want) && memcmp(pass, want, len) == 0 &&
		    pass[len] == '\0');
		if (rc != 0 || pass == NULL || strcmp(pass, want) != 0)
			fprintf(stderr, "  (from line %d)\n", line);
	} else {
		CHECK(rc == err);
		CHECK(pass == NULL);
		if (rc != err)
			fprintf(stderr, "  (from line %d: got %d)\n", line, rc);
	}
	cf_pass_free(pass, len);
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");
	char path[700], link[700], big[1100], *d;
	int fd, saved_stdin, rc;

	cf_set_progname("test_pass");
	rc = cf_crypto_init();
	REQUIRE(rc == 0);
	if (cf_path(dir, sizeof dir, "%s/coffer-test-pass-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp") < 0)
		return 1;
	d = mkdtemp(dir);
	REQUIRE(d != NULL);

	put("a", "secret\n", 7, path, sizeof path);
	expect(path, "secret", 0, __LINE__);
	put("a", "secret\r\nsecond line\n", 20, path, sizeof path);
	expect(path, "secret", 0, __LINE__);
	put("a", "no newline", 10, path, sizeof path);
	expect(path, "no newline", 0, __LINE__);
	put("a", " spaces kept \n", 14, path, sizeof path);
	expect(path, " spaces kept ", 0, __LINE__);
	memset(big, 'x', 1024);
	big[1024] = '\n';
	put("a", big, 1025, path, sizeof path);
	big[1024] = '\0';
	expect(path, big, 0, __LINE__);

	cf_log_quiet(1);
	memset(big, 'x', 1025);
	put("a", big, 1025, path, sizeof path);
	expect(path, NULL, -EINVAL, __LINE__);
	put("a", "", 0, path, sizeof path);
	expect(path, NULL, -EINVAL, __LINE__);
	put("a", "\n", 1, path, sizeof path);
	expect(path, NULL, -EINVAL, __LINE__);
	put("a", "\r\nsecret\n", 9, path, sizeof path);
	expect(path, NULL, -EINVAL, __LINE__);
	if (cf_path(link, sizeof link, "%s/link", dir) < 0)
		return 1;
	CHECK(symlink(path, link) == 0);
	expect(link, NULL, -ELOOP, __LINE__);
	CHECK(unlink(link) == 0);
	expect(link, NULL, -ENOENT, __LINE__);
	cf_log_quiet(0);

	/* "-" reads the first line of standard input, and no further */
	put("a", "from stdin\nrest", 15, path, sizeof path);
	saved_stdin = dup(STDIN_FILENO);
	fd = open(path, O_RDONLY);
	REQUIRE(fd >= 0 && saved_stdin >= 0);
	CHECK(dup2(fd, STDIN_FILENO) == STDIN_FILENO);
	close(fd);
	expect("-", "from stdin", 0, __LINE__);
	{
		char rest[8] = { 0 };

		CHECK(read(STDIN_FILENO, rest, sizeof rest) == 4);
		CHECK(memcmp(rest, "rest", 4) == 0);
	}
	CHECK(dup2(saved_stdin, STDIN_FILENO) == STDIN_FILENO);
	close(saved_stdin);

	cf_pass_free(NULL, 0);
	CHECK(unlink(path) == 0);
	CHECK(rmdir(dir) == 0);
	return CHECK_DONE("test_pass");
}
