/*
 * fuzz_slack.c - libFuzzer target for the Slack importer (fs/import_slack.c).
 *
 * The input picks the layout the importer sees:
 *   starts with "PK"        -> written as export.zip (zip export);
 *   contains a NUL byte     -> split at NUL bytes into users.json,
 *                              channels.json and general/2024-01-01.json of
 *                              an export folder (missing parts are absent);
 *   anything else           -> a lone file chan/2024-01-01.json (a day file
 *                              or a single message object).
 * Seed it with the corpus files as they are (zip, day files, messages) and
 * with "users.json NUL channels.json NUL day file" concatenations.
 * Errors are silenced; a crash, a sanitizer report or a leak is a finding.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "import.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[PATH_MAX];

static void
put(const char *rel, const uint8_t *p, size_t n)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof path, "%s/%s", dir, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		abort();
	if (n > 0 && cf_write_all(fd, p, n) != 0)
		abort();
	close(fd);
}

static void
drop(const char *rel)
{
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/%s", dir, rel);
	(void)unlink(path);
}

static void
setup(void)
{
	const char *t = getenv("TMPDIR");
	char p[PATH_MAX];

	snprintf(dir, sizeof dir, "%s/fuzz_slack.XXXXXX", t != NULL && *t ? t : "/tmp");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(p, sizeof p, "%s/exp", dir);
	(void)mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/exp/general", dir);
	(void)mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/lone", dir);
	(void)mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/lone/chan", dir);
	(void)mkdir(p, 0700);
	cf_log_quiet(1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const parts[] = {
		"exp/users.json", "exp/channels.json", "exp/general/2024-01-01.json",
	};
	struct cf_import_opts o = { .tz = "UTC" };
	struct cf_batch *b = NULL;
	char path[PATH_MAX];
	const uint8_t *p = data, *nul;
	size_t i, left = size;

	if (dir[0] == '\0')
		setup();
	if (cf_batch_new(&b, "slack", "UTC") != 0)
		return 0;
	if (size >= 2 && data[0] == 'P' && data[1] == 'K') {
		put("export.zip", data, size);
		snprintf(path, sizeof path, "%s/export.zip", dir);
	} else if (memchr(data, 0, size) != NULL) {
		for (i = 0; i < 3; i++) {
			if (p == NULL) {
				drop(parts[i]);
				continue;
			}
			nul = memchr(p, 0, left);
			put(parts[i], p, nul != NULL ? (size_t)(nul - p) : left);
			if (nul != NULL) {
				left -= (size_t)(nul - p) + 1;
				p = nul + 1;
			} else {
				p = NULL;
			}
		}
		snprintf(path, sizeof path, "%s/exp", dir);
	} else {
		put("lone/chan/2024-01-01.json", data, size);
		snprintf(path, sizeof path, "%s/lone/chan/2024-01-01.json", dir);
	}
	(void)cf_importer_slack.detect(path);
	(void)cf_importer_slack.parse(path, b, &o);
	cf_batch_free(b);
	return 0;
}
