/*
 * import.c - the registry of source formats.
 *
 * Adding a format means writing fs/import_<format>.c, which defines one
 * const struct cf_importer, and listing it in cf_importers[] below.  The
 * order is the order of auto-detection, so put the most specific detector
 * first.
 */
#include <stddef.h>
#include <string.h>

#include "import.h"

const struct cf_importer *const cf_importers[] = {
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
