/*
 * jfast.h - reading and writing a strict subset of JSON quickly, for the
 * fast paths of the message record codec (record.c) and the JSON Lines
 * importer (import_jsonl.c).
 *
 * jansson builds a tree for every object it reads or writes; for the
 * millions of small, regular objects Coffer stores and imports, that tree
 * was most of the time spent (docs/PERFORMANCE.md).  The readers here
 * accept only the plainest JSON: no whitespace, member names of a-z and
 * '_' without escapes, strings without \u escapes or raw control
 * characters and valid UTF-8 once decoded, integers of at most 18 digits
 * without fraction or exponent.  They never refuse anything: a reader
 * returns 0 for "not in the subset", and the caller then hands the whole
 * object to jansson, which decodes it or refuses it with its own message.
 * So a fast path changes speed, never results (each caller's tests
 * compare both paths on the same inputs).
 *
 * Readers: 1 on success (the cursor moves past what was read), 0 when the
 * input is not in the subset (the cursor is left where it was), -ENOMEM.
 */
#ifndef COFFER_JFAST_H
#define COFFER_JFAST_H

#include <stddef.h>
#include <stdint.h>

/* A cursor over JSON text [p, end). */
struct cf_jf {
	const char *p;
	const char *end;
};

/* A string value: *out is malloc'd and NUL-terminated (free it wiped: it
 * may be message text). */
int cf_jf_str(struct cf_jf *f, char **out);
/* A member name and its colon, into key (at most size - 1 bytes). */
int cf_jf_key(struct cf_jf *f, char *key, size_t size);
/* An integer value (followed by ',', '}' or ']'). */
int cf_jf_int(struct cf_jf *f, int64_t *v);
/* The character c. */
int cf_jf_eat(struct cf_jf *f, char c);

/* A member an object of the subset may have, and its bit in a set. */
struct cf_jf_member {
	const char *key;
	unsigned bit;
};
/*
 * A member name and its colon, looked up in members[0..n): 1 with *bit set
 * and added to *seen; 0 when the name is not in the subset, not in the
 * table, or already in *seen (a repeated member is jansson's to refuse).
 */
int cf_jf_member(struct cf_jf *f, const struct cf_jf_member *members, size_t n,
    unsigned *seen, unsigned *bit);
/* After a value in an array or object that ends with close: 1 after a ','
 * (another value follows), 2 after close, 0 for anything else. */
int cf_jf_next(struct cf_jf *f, char close);

/* The bytes s (NUL-terminated) takes as a JSON string, quotes included,
 * escaped as jansson escapes it: \" \\ \b \f \n \r \t, other control
 * characters as \u00XX, everything else as it is. */
size_t cf_jf_put_len(const char *s);
/* Write s so at p (cf_jf_put_len(s) bytes); returns the end. */
char *cf_jf_put(char *p, const char *s);

#endif
