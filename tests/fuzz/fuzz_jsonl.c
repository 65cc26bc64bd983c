/*
 * fuzz_jsonl.c - libFuzzer target for the canonical JSON Lines importer:
 * every input is one line given to cf_jsonl_parse_line (attachment paths
 * resolve under a folder that does not exist, so no file is read).
 */
#include <stddef.h>
#include <stdint.h>

#include "import.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cf_jsonl_line l;
	char why[256];

	cf_log_quiet(1);
	if (cf_jsonl_parse_line((const char *)data, size, "/nonexistent-coffer-fuzz", "UTC", &l,
	    why, sizeof(why)) == 1)
		cf_jsonl_line_clear(&l);
	return 0;
}
