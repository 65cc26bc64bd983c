/*
 * fuzz_jsonl.c - libFuzzer target for the canonical JSON Lines importer:
 * every input is one line given to cf_jsonl_parse_line (attachment paths
 * resolve under a folder that does not exist, so no file is read), and to
 * cf_jsonl_parse_line_json, jansson alone: the fast path must give the
 * same result, the same reason and the same fields, or the target aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import.h"
#include "util.h"
#include "../unit/same.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cf_jsonl_line a, b;
	char wa[256], wb[256];
	int ra, rb, same;

	cf_log_quiet(1);
	ra = cf_jsonl_parse_line((const char *)data, size, "/nonexistent-coffer-fuzz", "UTC", &a,
	    wa, sizeof(wa));
	rb = cf_jsonl_parse_line_json((const char *)data, size, "/nonexistent-coffer-fuzz", "UTC",
	    &b, wb, sizeof(wb));
	same = ra == rb && (ra >= 0 || strcmp(wa, wb) == 0);
	if (same && ra == 1)
		same = same_jsonl_line(&a, &b);
	if (ra == 1)
		cf_jsonl_line_clear(&a);
	if (rb == 1)
		cf_jsonl_line_clear(&b);
	if (!same) {
		fprintf(stderr, "fuzz_jsonl: the fast path (%d) and jansson (%d) differ\n", ra, rb);
		abort();
	}
	return 0;
}
