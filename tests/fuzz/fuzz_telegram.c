/*
 * fuzz_telegram.c - libFuzzer target for the Telegram Desktop importer:
 * every input is written as result.json into a private temp folder (made
 * once, removed at exit; it also holds photos/p.jpg so that a media path
 * can resolve) and parsed into a fresh batch, which is then freed.  The
 * streaming scanner, the per-message jansson parse and the conversion all
 * see the input.
 */
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
static char input[PATH_MAX];
static char photo[PATH_MAX];
static char photos[PATH_MAX];

static void
cleanup(void)
{
	unlink(input);
	unlink(photo);
	rmdir(photos);
	rmdir(dir);
}

static int
setup(void)
{
	const char *base = getenv("TMPDIR");
	FILE *f;

	if (snprintf(dir, sizeof dir, "%s/fuzz_telegram.XXXXXX",
	    base != NULL && *base != '\0' ? base : "/tmp") >= (int)sizeof dir ||
	    mkdtemp(dir) == NULL)
		return -1;
	snprintf(input, sizeof input, "%s/result.json", dir);
	snprintf(photos, sizeof photos, "%s/photos", dir);
	snprintf(photo, sizeof photo, "%s/photos/p.jpg", dir);
	if (mkdir(photos, 0700) != 0 || (f = fopen(photo, "w")) == NULL)
		return -1;
	fputs("jpeg", f);
	fclose(f);
	atexit(cleanup);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cf_import_opts o = { .tz = "Europe/Paris" };
	struct cf_batch *b = NULL;
	FILE *f;

	cf_log_quiet(1);
	if (dir[0] == '\0' && setup() != 0)
		abort();
	f = fopen(input, "w");
	if (f == NULL)
		abort();
	if (size > 0 && fwrite(data, 1, size, f) != size)
		abort();
	if (fclose(f) != 0)
		abort();
	if (cf_batch_new(&b, "telegram", o.tz) != 0)
		abort();
	(void)cf_importer_telegram.parse(input, b, &o);
	cf_batch_free(b);
	return 0;
}
