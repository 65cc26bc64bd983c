/*
 * same.h - whether two decoded messages (or JSON Lines lines) are the
 * same, field by field: for the unit tests and the fuzz targets that
 * compare the fast paths with jansson's (record.c, import_jsonl.c).
 */
#ifndef COFFER_TEST_SAME_H
#define COFFER_TEST_SAME_H

#include <string.h>

#include "import.h"
#include "record.h"

static inline int
same_str(const char *a, const char *b)
{
	return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

static inline int
same_msg(const struct cf_msg *a, const struct cf_msg *b)
{
	size_t i;

	if (!same_str(a->id, b->id) || a->ts_ms != b->ts_ms || !same_str(a->ts_raw, b->ts_raw) ||
	    !same_str(a->tz, b->tz) || !same_str(a->sender, b->sender) ||
	    !same_str(a->body, b->body) || a->natt != b->natt || !same_str(a->extra, b->extra) ||
	    (a->natt > 0 && (a->att == NULL || b->att == NULL)))
		return 0;
	for (i = 0; i < a->natt; i++)
		if (!same_str(a->att[i].name, b->att[i].name) ||
		    memcmp(a->att[i].blob_id, b->att[i].blob_id, CF_ID_BYTES) != 0 ||
		    a->att[i].size != b->att[i].size)
			return 0;
	return 1;
}

static inline int
same_jsonl_line(const struct cf_jsonl_line *a, const struct cf_jsonl_line *b)
{
	return same_str(a->chat, b->chat) && same_str(a->title, b->title) &&
	    same_msg(&a->msg, &b->msg);
}

#endif
