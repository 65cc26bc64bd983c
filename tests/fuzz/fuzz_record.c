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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
str_eq(const char *a, const char *b)
{
	return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

static int
msg_eq(const struct cf_msg *a, const struct cf_msg *b)
{
	size_t i;

	if (!str_eq(a->id, b->id) || a->ts_ms != b->ts_ms || !str_eq(a->ts_raw, b->ts_raw) ||
	    !str_eq(a->tz, b->tz) || !str_eq(a->sender, b->sender) ||
	    !str_eq(a->body, b->body) || a->natt != b->natt || !str_eq(a->extra, b->extra) ||
	    (a->natt > 0 && (a->att == NULL || b->att == NULL)))
		return 0;
	for (i = 0; i < a->natt; i++)
		if (!str_eq(a->att[i].name, b->att[i].name) ||
		    memcmp(a->att[i].blob_id, b->att[i].blob_id, CF_ID_BYTES) != 0 ||
		    a->att[i].size != b->att[i].size)
			return 0;
	return 1;
}

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
		if (rc != jrc || pos != jpos || (rc == 1 && !msg_eq(&m, &j))) {
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
