/*
 * fuzz_record.c - libFuzzer target for the segment record decoder (the
 * plaintext of a segment after decryption): walks the input as a header
 * record followed by message records, as cf_chat_load does.  A decrypted
 * segment is authenticated, so this guards against our own bugs and
 * against a future writer, not against outsiders; it must still never
 * crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cf_seghdr h;
	struct cf_msg m;
	size_t pos = 0;
	int rc;

	memset(&h, 0, sizeof(h));
	memset(&m, 0, sizeof(m));
	if (cf_record_next_hdr(data, size, &pos, &h) == 1)
		cf_seghdr_clear(&h);
	while ((rc = cf_record_next_msg(data, size, &pos, &m)) == 1)
		cf_msg_clear(&m);
	(void)rc;
	return 0;
}
