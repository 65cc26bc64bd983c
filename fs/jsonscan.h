/*
 * jsonscan.h - a streaming JSON scanner for documents too large to load.
 *
 * The scanner reads a file descriptor in blocks and lets its caller walk the
 * outer structure of the document (enter an object or array, step through
 * its members or elements) while each inner value is either skipped without
 * being kept or handed over as one complete slice of JSON text, to be parsed
 * with jansson (json_loadb).  Memory depends on the largest single value
 * handed over, never on the size of the document.
 *
 * It tracks strings, escapes and nesting only: values handed over are not
 * validated (jansson does that), skipped values only for balanced brackets.
 * Lenient on purpose: a "\xHH" escape inside a string (written by Telegram
 * Desktop for control characters, not valid JSON) is rewritten to "\u00HH"
 * in the slices it hands over and in member names.  A UTF-8 byte order mark
 * at the start is skipped.
 *
 * The scanner does not report: on failure a function returns -EINVAL with
 * a one-line reason in cf_jscan_why() ("truncated JSON at byte N", "invalid
 * JSON at byte N: expected ':'"; N counts from 0), or -errno for a read
 * error or -ENOMEM.  Reasons never quote the document.
 */
#ifndef COFFER_JSONSCAN_H
#define COFFER_JSONSCAN_H

#include <stddef.h>
#include <stdint.h>

struct cf_jscan;

/* Largest single value or member name handed over (bytes). */
#define CF_JSCAN_VALUE_MAX (64u << 20)

/* A scanner over fd (read from its current position; not closed by the
 * scanner).  Returns 0 or -ENOMEM. */
int cf_jscan_new(struct cf_jscan **s, int fd);
/* Wipe the buffers (they held document text) and free.  NULL ok. */
void cf_jscan_free(struct cf_jscan *s);

/*
 * The kind of the next value, after white space: '{', '[', '"', 't', 'f',
 * 'n', or '0' for a number.  Nothing is consumed.  Returns that character,
 * or -EINVAL (end of input: truncated; any other character: invalid).
 */
int cf_jscan_peek(struct cf_jscan *s);

/* Consume the '{' or '[' that starts the next value; the scanner then
 * expects cf_jscan_member (object) or cf_jscan_element (array) calls.
 * Nesting entered this way is limited to 64 levels.  Returns 0 or -EINVAL. */
int cf_jscan_enter(struct cf_jscan *s);

/*
 * In an entered object: 1 with *key set to the next member's name (decoded,
 * malloc'd, NUL-terminated; an embedded NUL ends it) and the ':' consumed,
 * so that the caller must then consume the value (value, skip or enter);
 * 0 when the closing '}' was consumed (the object is left); or -errno.
 */
int cf_jscan_member(struct cf_jscan *s, char **key);

/* In an entered array: 1 when an element follows (the caller consumes it),
 * 0 when the closing ']' was consumed, or -errno. */
int cf_jscan_element(struct cf_jscan *s);

/*
 * Consume the next value and hand it over: *text, *len is its JSON text
 * (not NUL-terminated), valid until the next call on s; *off its byte
 * offset in the input (for error messages).  Returns 0 or -errno.
 */
int cf_jscan_value(struct cf_jscan *s, const char **text, size_t *len, uint64_t *off);

/* Consume the next value without keeping it.  Returns 0 or -errno. */
int cf_jscan_skip(struct cf_jscan *s);

/* After the top-level value: only white space may remain.  0 or -EINVAL. */
int cf_jscan_finish(struct cf_jscan *s);

/* Byte offset of the next unread byte of the input. */
uint64_t cf_jscan_offset(const struct cf_jscan *s);

/* Why the last call returned -EINVAL ("" when it did not). */
const char *cf_jscan_why(const struct cf_jscan *s);

#endif
