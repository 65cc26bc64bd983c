/*
 * fuzz_keystore.c - libFuzzer target for the decoders of keystore values
 * (fs/keystore.c, through cf_ks_value_check, which runs the very decoders
 * the getters use, without LMDB and without reporting), and of audit
 * records (fs/audit.c, cf_audit_decode; the key length stands for the
 * expected sequence number).
 *
 * Input: byte 0 is the length k of the key (0: no key, so the checks that
 * a value agrees with its key are skipped; longer than what follows: all
 * of it), then k key bytes, then the raw value.  Every sub-database's
 * decoder sees the same key and value.  Seeds (tests/fixtures/keystore/)
 * are genuine values in that form, one per sub-database.  The decoders
 * must never read outside the value nor accept an unknown database; a
 * crash, a sanitizer report or a leak is a finding.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "keystore.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const dbs[] = {
	"meta", "principals", "convs", "wraps", "grants", "blobs", "convblobs",
	"chatmap", "dedup", "convkeys", "policy",
};

/* An exact-size heap copy (so that ASan sees a read past its end); NULL
 * for n == 0 or when out of memory. */
static uint8_t *
copy(const uint8_t *p, size_t n)
{
	uint8_t *c;

	if (n == 0 || (c = malloc(n)) == NULL)
		return NULL;
	memcpy(c, p, n);
	return c;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *k = NULL, *v = NULL;
	size_t klen = 0, vlen, i;
	int rc;

	if (size == 0)
		return 0;
	cf_log_quiet(1);
	klen = data[0] < size - 1 ? data[0] : size - 1;
	vlen = size - 1 - klen;
	if ((klen > 0 && (k = copy(data + 1, klen)) == NULL) ||
	    (vlen > 0 && (v = copy(data + 1 + klen, vlen)) == NULL))
		goto out;
	for (i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
		rc = cf_ks_value_check(dbs[i], k, klen, v, vlen);
		if (rc != 0 && rc != -EBADMSG)
			abort();
	}
	if (cf_ks_value_check("archive", k, klen, v, vlen) != -EINVAL)
		abort();
	/* the audit log's records are decoded by fs/audit.c */
	{
		struct cf_audit_rec *r = malloc(sizeof *r);

		if (r != NULL) {
			rc = cf_audit_decode(klen, v != NULL ? v : (const uint8_t *)"", vlen, r);
			if (rc != 0 && rc != -EBADMSG)
				abort();
			free(r);
		}
	}
out:
	free(k);
	free(v);
	return 0;
}
