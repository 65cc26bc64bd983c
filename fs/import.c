/*
 * import.c - the registry of source formats.
 *
 * Adding a format means writing fs/import_<format>.c, which defines one
 * const struct cf_importer, and listing it in cf_importers[] below.  The
 * order is the order of auto-detection, so put the most specific detector
 * first.
 */
#include <errno.h>
#include <ftw.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "import.h"
#include "util.h"

/* Registered temporary folders (one import per process). */
static char **tempdirs;
static size_t ntempdirs;

const struct cf_importer *const cf_importers[] = {
	&cf_importer_slack,
	&cf_importer_telegram,
	&cf_importer_whatsapp,
	&cf_importer_signal,
	&cf_importer_jsonl,
	NULL,
};

const struct cf_importer *
cf_importer_find(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; cf_importers[i] != NULL; i++)
		if (strcmp(cf_importers[i]->name, name) == 0)
			return cf_importers[i];
	return NULL;
}

const struct cf_importer *
cf_importer_detect(const char *path)
{
	size_t i;

	if (path == NULL)
		return NULL;
	for (i = 0; cf_importers[i] != NULL; i++)
		if (cf_importers[i]->detect(path) == 1)
			return cf_importers[i];
	return NULL;
}

int
cf_import_maybe_flush(const struct cf_import_opts *o, struct cf_batch *b)
{
	if (o == NULL || o->flush == NULL || (cf_batch_bytes(b) < CF_IMPORT_FLUSH_BYTES &&
	    cf_batch_messages(b) < CF_IMPORT_FLUSH_MESSAGES))
		return 0;
	return o->flush(b, o->flush_arg);
}

int
cf_import_tempdir_add(const char *dir)
{
	char **nd, *copy;

	if ((copy = strdup(dir)) == NULL)
		goto nomem;
	if ((nd = realloc(tempdirs, (ntempdirs + 1) * sizeof(*nd))) == NULL) {
		free(copy);
		goto nomem;
	}
	tempdirs = nd;
	tempdirs[ntempdirs++] = copy;
	return 0;
nomem:
	cf_error("out of memory");
	return -ENOMEM;
}

/*
 * Remove one entry of a temporary folder.  Files are unlinked, not
 * overwritten: their blocks may hold plaintext until reused, which is why
 * the folders live under TMPDIR (tmpfs on most systems; see THREAT-MODEL).
 * Failures are counted, not fatal, so that the walk removes what it can.
 */
static int tempdir_failures;

static int
tempdir_rm(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)st;
	(void)f;
	if ((type == FTW_DP ? rmdir(path) : unlink(path)) != 0 && errno != ENOENT)
		tempdir_failures++;
	return 0;
}

void
cf_import_tempdirs_clean(void)
{
	size_t i;

	for (i = 0; i < ntempdirs; i++) {
		tempdir_failures = 0;
		if (nftw(tempdirs[i], tempdir_rm, 16, FTW_DEPTH | FTW_PHYS) != 0 ||
		    tempdir_failures != 0)
			cf_error("%s: could not remove temporary files", tempdirs[i]);
		free(tempdirs[i]);
	}
	free(tempdirs);
	tempdirs = NULL;
	ntempdirs = 0;
}
