/*
 * bench_import.c - parse an export with one importer and report how many
 * messages it produced, to measure an importer's time and peak memory
 * without an archive:  /usr/bin/time -v bench_import telegram result.json
 *
 * Usage: bench_import FORMAT PATH [ZONE]
 *
 * The batch is flushed the way `coffer import` flushes it (the importer
 * offers cf_import_maybe_flush, which fires past CF_IMPORT_FLUSH_BYTES),
 * except that a flush here only counts and empties the batch instead of
 * storing it, so the figure is the parse's own memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "archive.h"
#include "import.h"
#include "util.h"

static unsigned long long flushed;
static unsigned flushes;

static int
bench_flush(struct cf_batch *b, void *arg)
{
	(void)arg;
	flushed += cf_batch_messages(b);
	flushes++;
	cf_batch_reset(b);
	return 0;
}

int
main(int argc, char **argv)
{
	struct cf_import_opts o = { .flush = bench_flush };
	const struct cf_importer *imp;
	struct cf_batch *b = NULL;
	struct timespec t0, t1;
	double secs;
	int rc;

	cf_set_progname("bench_import");
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: bench_import FORMAT PATH [ZONE]\n");
		return 2;
	}
	if ((imp = cf_importer_find(argv[1])) == NULL) {
		fprintf(stderr, "bench_import: %s: unknown format\n", argv[1]);
		return 2;
	}
	o.tz = argc == 4 ? argv[3] : "UTC";
	if (cf_batch_new(&b, imp->name, o.tz) != 0)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = imp->parse(argv[2], b, &o);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (rc == 0)
		printf("%s: %llu messages (%u flushes) in %.2f s\n", argv[2],
		    flushed + (unsigned long long)cf_batch_messages(b), flushes, secs);
	cf_batch_free(b);
	cf_import_tempdirs_clean();
	return rc == 0 ? 0 : 1;
}
