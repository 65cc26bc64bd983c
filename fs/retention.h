/*
 * retention.h - retention periods: parsing, printing and calendar
 * arithmetic, with no keystore and no key (docs/RETENTION.md).
 *
 * A period (struct cf_keep, keystore.h) is a number of calendar years,
 * months and days, or "forever".  A conversation is past its retention
 * when the time of its last message plus the period is before now.  The
 * arithmetic is done on the proleptic Gregorian calendar in UTC: years and
 * months are added first, a day of month that the target month does not
 * have is clamped to its last day (31 January + 1 month = 28 or
 * 29 February, 29 February + 1 year = 28 February), then the days are
 * added; the time of day is kept.
 */
#ifndef COFFER_RETENTION_H
#define COFFER_RETENTION_H

#include <stddef.h>
#include <stdint.h>

#include "keystore.h"

/* Longest text cf_keep_format writes, with its NUL. */
#define CF_KEEP_TEXT_MAX 40

/*
 * Parse a period: "forever", or one or more of N followed by a unit, each
 * unit at most once, in any order: d (days), w (weeks: 7 days), m (calendar
 * months), y (calendar years), e.g. "7y", "18m", "90d", "1y6m".  N is
 * decimal, without sign.  At least one day in all; at most
 * CF_KEEP_YEARS_MAX years, CF_KEEP_MONTHS_MAX months and CF_KEEP_DAYS_MAX
 * days (weeks included).  Returns 0 or -EINVAL (not reported).
 */
int cf_keep_parse(const char *s, struct cf_keep *k);

/* "forever", or the non-zero amounts as "7y", "1y6m", "14d" (weeks are
 * stored as days).  buf of at least CF_KEEP_TEXT_MAX bytes. */
void cf_keep_format(const struct cf_keep *k, char *buf, size_t n);

/*
 * The time (Unix seconds) at which something last touched at from_secs
 * has been kept for k: INT64_MAX for forever.  Returns 0, or -EOVERFLOW
 * when from_secs is beyond the years -99999 .. 99999 (not reported).
 */
int cf_keep_until(int64_t from_secs, const struct cf_keep *k, int64_t *until);

/* 1 when cf_keep_until(from_secs, k) is before now, else 0 (forever, an
 * overflow, or not yet). */
int cf_keep_expired(int64_t from_secs, const struct cf_keep *k, int64_t now);

#endif
