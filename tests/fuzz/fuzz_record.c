/*
 * fuzz_record.c - libFuzzer target for the segment record decoder (the
 * plaintext of a segment after decryption): walks the input as a header
 * record followed by message records, as cf_chat_load does.  A decrypted
 * segment is authenticated, so this guards against our own bugs and
 * against a future writer, not against outsiders; it must still never
 * crash.  Every message record is decoded twice, by cf_record_next_msg
 * (with its fast path) and by cf_record_next_msg_json (jansson alone):
 * a difference in result, position or decoded message aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "../unit/same.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cf_seghdr h;
	struct cf_msg m, j;
	size_t pos = 0, jpos;
	int rc, jrc;

	memset(&h, 0, sizeof(h));
	memset(&m, 0, sizeof(m));
	if (cf_record_next_hdr(data, size, &pos, &h) == 1)
		cf_seghdr_clear(&h);
	for (;;) {
		jpos = pos;
		rc = cf_record_next_msg(data, size, &pos, &m);
		jrc = cf_record_next_msg_json(data, size, &jpos, &j);
		if (rc != jrc || pos != jpos || (rc == 1 && !same_msg(&m, &j))) {
			fprintf(stderr, "fuzz_record: the fast path (%d) and jansson (%d) differ\n",
			    rc, jrc);
			abort();
		}
		if (rc == 1) {
			cf_msg_clear(&m);
			cf_msg_clear(&j);
		}
		if (rc != 1)
			break;
	}
	return 0;
}
