/*
 * retention.c - retention periods (retention.h): parsing, printing and
 * adding calendar years, months and days to a Unix time.
 *
 * The calendar arithmetic uses day numbers (days since 1970-01-01) and the
 * civil-from-days / days-from-civil conversions of the proleptic Gregorian
 * calendar, in 64-bit integers, so that it needs neither time_t, nor
 * struct tm, nor the process's time zone, and cannot overflow for the
 * ranges retention.h allows.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "retention.h"

#define SECS_PER_DAY 86400
/* from_secs range accepted: about years -99999 .. 99999 */
#define FROM_LIMIT ((int64_t)36524250 * SECS_PER_DAY)

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/* Days since 1970-01-01 of y-m-d (m 1..12, d 1..31). */
static int64_t
days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = floor_div(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yoe + era * 400 + (*m <= 2);
}

static int64_t
days_in_month(int64_t y, int64_t m)
{
	static const int64_t len[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : len[m - 1];
}

int
cf_keep_parse(const char *s, struct cf_keep *k)
{
	uint64_t years = 0, months = 0, days = 0, v;
	int seen_y = 0, seen_m = 0, seen_d = 0, seen_w = 0;
	const char *p = s;

	memset(k, 0, sizeof *k);
	if (s == NULL || *s == '\0')
		return -EINVAL;
	if (strcmp(s, "forever") == 0) {
		k->forever = 1;
		return 0;
	}
	while (*p != '\0') {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = 0;
		while (*p >= '0' && *p <= '9') {
			v = v * 10 + (uint64_t)(*p - '0');
			if (v > CF_KEEP_DAYS_MAX)
				return -EINVAL;
			p++;
		}
		switch (*p) {
		case 'y':
			if (seen_y++)
				return -EINVAL;
			years = v;
			break;
		case 'm':
			if (seen_m++)
				return -EINVAL;
			months = v;
			break;
		case 'w':
			if (seen_w++)
				return -EINVAL;
			days += v * 7;
			break;
		case 'd':
			if (seen_d++)
				return -EINVAL;
			days += v;
			break;
		default:
			return -EINVAL;
		}
		p++;
	}
	if (years > CF_KEEP_YEARS_MAX || months > CF_KEEP_MONTHS_MAX || days > CF_KEEP_DAYS_MAX ||
	    years + months + days == 0)
		return -EINVAL;
	k->years = (uint32_t)years;
	k->months = (uint32_t)months;
	k->days = (uint32_t)days;
	return 0;
}

void
cf_keep_format(const struct cf_keep *k, char *buf, size_t n)
{
	/* three u32 and their units fit easily */
	char y[16] = "", m[16] = "", d[16] = "";

	if (k->forever) {
		snprintf(buf, n, "forever");
		return;
	}
	if (k->years != 0)
		snprintf(y, sizeof y, "%uy", (unsigned)k->years);
	if (k->months != 0)
		snprintf(m, sizeof m, "%um", (unsigned)k->months);
	if (k->days != 0 || (k->years == 0 && k->months == 0))
		snprintf(d, sizeof d, "%ud", (unsigned)k->days);
	snprintf(buf, n, "%s%s%s", y, m, d);
}

int
cf_keep_until(int64_t from_secs, const struct cf_keep *k, int64_t *until)
{
	int64_t day, sod, y, m, d, months, dim;

	if (k->forever) {
		*until = INT64_MAX;
		return 0;
	}
	if (from_secs > FROM_LIMIT || from_secs < -FROM_LIMIT ||
	    k->years > CF_KEEP_YEARS_MAX || k->months > CF_KEEP_MONTHS_MAX ||
	    k->days > CF_KEEP_DAYS_MAX)
		return -EOVERFLOW;
	day = floor_div(from_secs, SECS_PER_DAY);
	sod = from_secs - day * SECS_PER_DAY;
	civil_from_days(day, &y, &m, &d);
	y += k->years;
	months = (m - 1) + (int64_t)k->months;
	y += months / 12;
	m = months % 12 + 1;
	dim = days_in_month(y, m);
	if (d > dim)
		d = dim;
	day = days_from_civil(y, m, d) + (int64_t)k->days;
	*until = day * SECS_PER_DAY + sod;
	return 0;
}

int
cf_keep_expired(int64_t from_secs, const struct cf_keep *k, int64_t now)
{
	int64_t until;

	if (cf_keep_until(from_secs, k, &until) != 0 || until == INT64_MAX)
		return 0;
	return until < now;
}
