/*
 * util.c - error reporting, hex, time parsing and formatting, and careful
 * file I/O for every module of the Coffer core.
 *
 * Errors go to stderr as "progname: message" (or to syslog once the FUSE
 * daemon has detached, or nowhere while a test silences them).  Time zone
 * conversions must go through the process-global TZ variable, so every use
 * of setenv("TZ")/tzset()/mktime()/localtime_r() is serialised on tz_lock
 * and the previous TZ is put back afterwards; calendar arithmetic that does
 * not depend on a zone uses timegm()/gmtime_r() and takes no lock.
 * Limits: dates are years 0000-9999 as four digits; leap seconds (":60")
 * are refused; fractions of a second are truncated to milliseconds.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define CF_ERROR_MAX 1024
#define CF_ZONEINFO "/usr/share/zoneinfo"

static const char *progname = "coffer";
static atomic_int log_syslog;
static atomic_int log_quiet;

/* Guards TZ, tzset() and every libc call that reads the zone state. */
static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;

void
cf_set_progname(const char *name)
{
	if (name != NULL && *name != '\0')
		progname = name;
}

const char *
cf_progname(void)
{
	return progname;
}

void
cf_log_to_syslog(int on)
{
	if (on && !atomic_load(&log_syslog))
		openlog(progname, LOG_PID, LOG_DAEMON);
	else if (!on && atomic_load(&log_syslog))
		closelog();
	atomic_store(&log_syslog, on ? 1 : 0);
}

void
cf_log_quiet(int on)
{
	atomic_store(&log_quiet, on ? 1 : 0);
}

void
cf_error(const char *fmt, ...)
{
	char msg[CF_ERROR_MAX];
	va_list ap;
	int saved = errno;

	if (atomic_load(&log_quiet))
		goto out;
	va_start(ap, fmt);
	/* Truncation is acceptable for a message; a failure leaves "". */
	if (vsnprintf(msg, sizeof msg, fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	if (atomic_load(&log_syslog))
		syslog(LOG_ERR, "%s", msg);
	else
		fprintf(stderr, "%s: %s\n", progname, msg);
out:
	errno = saved;
}

void
cf_hex_encode(char *out, const uint8_t *in, size_t inlen)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < inlen; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * inlen] = '\0';
}

/*
 * Value of one hex digit, computed with masks rather than branches on the
 * digit (the input may be a recovery key).  Returns 0..15, or a value with
 * bit 8 set when c is not a hex digit.
 */
static unsigned
hex_nibble(unsigned char c)
{
	unsigned dig = (unsigned)c - '0';            /* 0..9 for 0-9 */
	unsigned let = ((unsigned)c | 0x20u) - 'a';  /* 0..5 for a-f, A-F */
	unsigned is_dig = 0u - (unsigned)(dig < 10u);
	unsigned is_let = 0u - (unsigned)(let < 6u);

	return (dig & is_dig) | ((let + 10u) & is_let) | (~(is_dig | is_let) & 0x100u);
}

int
cf_hex_decode(uint8_t *out, size_t outlen, const char *in)
{
	unsigned bad = 0;
	size_t i;

	if (in == NULL || strlen(in) != 2 * outlen)
		return -EINVAL;
	for (i = 0; i < outlen; i++) {
		unsigned hi = hex_nibble((unsigned char)in[2 * i]);
		unsigned lo = hex_nibble((unsigned char)in[2 * i + 1]);

		bad |= (hi | lo) & ~0x0fu;
		out[i] = (uint8_t)(((hi & 0x0f) << 4) | (lo & 0x0f));
	}
	if (bad) {
		memset(out, 0, outlen);
		return -EINVAL;
	}
	return 0;
}

/*
 * Switch TZ to tz under tz_lock.  tz NULL/"" keeps the current TZ (the
 * machine's zone).  *saved receives a copy of the previous value (NULL when
 * TZ was unset), to give to tz_leave().  Returns 0, -EINVAL (unknown zone)
 * or -ENOMEM; the lock is not held on failure.
 */
static int
tz_enter(const char *tz, char **saved, int *had)
{
	/* last zone name found valid; guarded by tz_lock */
	static char known[256];
	const char *old;

	*saved = NULL;
	*had = 0;
	if (pthread_mutex_lock(&tz_lock) != 0)
		return -EDEADLK;
	if (tz != NULL && *tz != '\0' && strcmp(tz, known) != 0) {
		/* glibc silently falls back to UTC for an unknown zone */
		if (cf_tz_valid(tz) < 0) {
			pthread_mutex_unlock(&tz_lock);
			return -EINVAL;
		}
		if (strlen(tz) < sizeof known)
			memcpy(known, tz, strlen(tz) + 1);
	}
	old = getenv("TZ");
	if (old != NULL) {
		*saved = strdup(old);
		if (*saved == NULL)
			goto nomem;
		*had = 1;
	}
	if (tz != NULL && *tz != '\0' && setenv("TZ", tz, 1) != 0)
		goto nomem;
	tzset();
	return 0;
nomem:
	free(*saved);
	*saved = NULL;
	pthread_mutex_unlock(&tz_lock);
	return -ENOMEM;
}

static void
tz_leave(char *saved, int had)
{
	/* Restoring can only fail for lack of memory; the zone then stays
	 * switched, which every cf_ time call tolerates since each sets its
	 * own. */
	if (had)
		(void)setenv("TZ", saved, 1);
	else
		(void)unsetenv("TZ");
	tzset();
	free(saved);
	pthread_mutex_unlock(&tz_lock);
}

/* Read exactly n decimal digits from *p into *val. */
static int
parse_digits(const char **p, int n, int *val)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		char c = (*p)[i];

		if (c < '0' || c > '9')
			return -EINVAL;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*val = v;
	return 0;
}

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/* Are the calendar fields of tm a real date (no Feb 30)?  Zone-free. */
static int
date_exists(const struct tm *tm)
{
	struct tm t = *tm, back;
	time_t secs;

	t.tm_isdst = 0;
	secs = timegm(&t);
	if (gmtime_r(&secs, &back) == NULL)
		return 0;
	return back.tm_year == tm->tm_year && back.tm_mon == tm->tm_mon &&
	    back.tm_mday == tm->tm_mday && back.tm_hour == tm->tm_hour &&
	    back.tm_min == tm->tm_min && back.tm_sec == tm->tm_sec;
}

int
cf_parse_time(const char *s, const char *tz, int64_t *ms, int *had_offset)
{
	struct tm tm;
	const char *p = s;
	int year, mon, day, hour, min, sec = 0, frac = 0, off = 0, has_off = 0;
	int64_t secs;

	if (s == NULL || ms == NULL)
		return -EINVAL;
	if (parse_digits(&p, 4, &year) < 0 || *p++ != '-' ||
	    parse_digits(&p, 2, &mon) < 0 || *p++ != '-' ||
	    parse_digits(&p, 2, &day) < 0)
		return -EINVAL;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return -EINVAL;
	p++;
	if (parse_digits(&p, 2, &hour) < 0 || *p++ != ':' ||
	    parse_digits(&p, 2, &min) < 0)
		return -EINVAL;
	if (*p == ':') {
		p++;
		if (parse_digits(&p, 2, &sec) < 0)
			return -EINVAL;
		if (*p == '.' || *p == ',') {
			int ndig = 0;

			p++;
			while (*p >= '0' && *p <= '9') {
				if (ndig < 3)
					frac = frac * 10 + (*p - '0');
				ndig++;
				p++;
			}
			if (ndig == 0)
				return -EINVAL;
			for (; ndig < 3; ndig++)
				frac *= 10;
		}
	}
	if (*p == 'Z' || *p == 'z') {
		has_off = 1;
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1, oh, om;

		p++;
		if (parse_digits(&p, 2, &oh) < 0)
			return -EINVAL;
		if (*p == ':')
			p++;
		if (parse_digits(&p, 2, &om) < 0)
			return -EINVAL;
		if (oh > 23 || om > 59)
			return -EINVAL;
		off = sign * (oh * 3600 + om * 60);
		has_off = 1;
	}
	if (*p != '\0')
		return -EINVAL;
	if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 ||
	    sec > 59)
		return -EINVAL;

	memset(&tm, 0, sizeof tm);
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	if (!date_exists(&tm))
		return -EINVAL;

	if (has_off) {
		tm.tm_isdst = 0;
		secs = (int64_t)timegm(&tm) - off;
	} else {
		char *saved;
		int had, rc;
		time_t t;

		rc = tz_enter(tz, &saved, &had);
		if (rc < 0)
			return rc;
		tm.tm_isdst = -1;
		/* A local time inside a DST gap is moved forward by mktime;
		 * that is the reading people expect of "02:30" on that day. */
		/* With 4-digit years and a 64-bit time_t only EOVERFLOW
		 * distinguishes a failure from the legitimate result -1. */
		errno = 0;
		t = mktime(&tm);
		rc = (t == (time_t)-1 && errno == EOVERFLOW) ? -EINVAL : 0;
		tz_leave(saved, had);
		if (rc < 0)
			return rc;
		secs = (int64_t)t;
	}
	*ms = secs * 1000 + frac;
	if (had_offset != NULL)
		*had_offset = has_off;
	return 0;
}

int
cf_parse_date_arg(const char *s, const char *tz, int end_of_day, int64_t *secs)
{
	char full[32];
	const char *p = s;
	int y, m, d, rc;
	int64_t ms;

	if (s == NULL || secs == NULL)
		return -EINVAL;
	if (strlen(s) == 10 && parse_digits(&p, 4, &y) == 0 && *p++ == '-' &&
	    parse_digits(&p, 2, &m) == 0 && *p++ == '-' &&
	    parse_digits(&p, 2, &d) == 0) {
		rc = cf_path(full, sizeof full, "%sT%s", s, end_of_day ? "23:59:59" : "00:00:00");
		if (rc < 0)
			return -EINVAL;
		rc = cf_parse_time(full, tz, &ms, NULL);
	} else {
		rc = cf_parse_time(s, tz, &ms, NULL);
	}
	if (rc < 0)
		return rc;
	*secs = floor_div(ms, 1000);
	return 0;
}

void
cf_format_time_utc(int64_t ms, char *buf, size_t n)
{
	time_t t = (time_t)floor_div(ms, 1000);
	struct tm tm;

	if (n == 0)
		return;
	if (gmtime_r(&t, &tm) == NULL || strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, n, "%s", "invalid-time");
}

int
cf_localtime(int64_t ms, const char *tz, struct tm *out)
{
	time_t t = (time_t)floor_div(ms, 1000);
	struct tm *res;
	char *saved;
	int had, rc;

	if (tz == NULL || *tz == '\0')
		return gmtime_r(&t, out) != NULL ? 0 : -EINVAL;
	rc = tz_enter(tz, &saved, &had);
	if (rc < 0)
		return rc;
	res = localtime_r(&t, out);
	tz_leave(saved, had);
	return res != NULL ? 0 : -EINVAL;
}

int
cf_tz_valid(const char *tz)
{
	char path[PATH_MAX], magic[4];
	struct stat st;
	int fd, rc = -ENOENT;
	ssize_t got;

	if (tz == NULL || *tz == '\0')
		return -ENOENT;
	if (strcmp(tz, "UTC") == 0 || strcmp(tz, "Etc/UTC") == 0)
		return 0;
	if (tz[0] == '/' || strstr(tz, "..") != NULL)
		return -ENOENT;
	if (cf_path(path, sizeof path, "%s/%s", CF_ZONEINFO, tz) < 0)
		return -ENOENT;
	/* Zone files may be symbolic links inside zoneinfo; follow them. */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		goto out;
	/* zoneinfo also holds tables (zone.tab, ...) that are not zones. */
	got = cf_pread_all(fd, magic, sizeof magic, 0);
	if (got == (ssize_t)sizeof magic && memcmp(magic, "TZif", 4) == 0)
		rc = 0;
out:
	close(fd);
	return rc;
}

static char local_zone[256] = "UTC";
static pthread_once_t local_zone_once = PTHREAD_ONCE_INIT;

static void
local_zone_find(void)
{
	char link[PATH_MAX], name[sizeof local_zone];
	const char *z;
	ssize_t n;
	char *buf = NULL;
	size_t len;

	n = readlink("/etc/localtime", link, sizeof link - 1);
	if (n > 0) {
		link[n] = '\0';
		z = strstr(link, "zoneinfo/");
		if (z != NULL) {
			z += strlen("zoneinfo/");
			if (strlen(z) < sizeof name && cf_tz_valid(z) == 0) {
				snprintf(local_zone, sizeof local_zone, "%s", z);
				return;
			}
		}
	}
	if (access("/etc/timezone", R_OK) == 0 && cf_read_file("/etc/timezone", &buf, &len) == 0) {
		buf[strcspn(buf, "\r\n")] = '\0';
		if (buf[0] != '\0' && strlen(buf) < sizeof name && cf_tz_valid(buf) == 0)
			snprintf(local_zone, sizeof local_zone, "%s", buf);
		free(buf);
	}
}

const char *
cf_tz_local_name(void)
{
	(void)pthread_once(&local_zone_once, local_zone_find);
	return local_zone;
}

int
cf_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t
cf_pread_all(int fd, void *buf, size_t len, off_t off)
{
	uint8_t *p = buf;
	size_t done = 0;

	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	while (done < len) {
		ssize_t n = pread(fd, p + done, len - done, off + (off_t)done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int
cf_fsync_dir(const char *dir)
{
	int fd, rc = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		cf_error("%s: %s", dir, strerror(-rc));
		return rc;
	}
	if (fsync(fd) < 0) {
		rc = -errno;
		cf_error("%s: %s", dir, strerror(-rc));
	}
	close(fd);
	return rc;
}

int
cf_read_file(const char *path, char **buf, size_t *len)
{
	struct stat st;
	char *data = NULL;
	size_t cap, used = 0;
	int fd, rc = 0;

	*buf = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		cf_error("%s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		cf_error("%s: %s", path, strerror(-rc));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		cf_error("%s: not a regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size >= SSIZE_MAX / 2) {
		rc = -EFBIG;
		cf_error("%s: %s", path, strerror(EFBIG));
		goto out;
	}
	/* The size is a hint: the file may still grow or shrink. */
	cap = (size_t)st.st_size + 1;
	data = malloc(cap);
	if (data == NULL) {
		rc = -ENOMEM;
		cf_error("%s: %s", path, strerror(ENOMEM));
		goto out;
	}
	for (;;) {
		ssize_t n;

		if (used + 1 >= cap) {
			char *bigger;

			if (cap >= SSIZE_MAX / 4) {
				rc = -EFBIG;
				cf_error("%s: %s", path, strerror(EFBIG));
				goto out;
			}
			bigger = realloc(data, cap * 2);
			if (bigger == NULL) {
				rc = -ENOMEM;
				cf_error("%s: %s", path, strerror(ENOMEM));
				goto out;
			}
			data = bigger;
			cap *= 2;
		}
		n = read(fd, data + used, cap - 1 - used);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			cf_error("%s: %s", path, strerror(-rc));
			goto out;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	data[used] = '\0';
	*buf = data;
	*len = used;
	data = NULL;
out:
	free(data);
	close(fd);
	return rc;
}

char *
cf_memdup_str(const char *s, size_t len)
{
	char *p = malloc(len + 1);

	if (p == NULL)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

int
cf_path(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(buf, n, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -EINVAL;
	if ((size_t)r >= n)
		return -ENAMETOOLONG;
	return 0;
}

int
cf_name_valid(const char *name)
{
	size_t i, len;

	if (name == NULL)
		return -EINVAL;
	len = strlen(name);
	if (len < 1 || len > 64)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		char c = name[i];
		int alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return -EINVAL;
	}
	return 0;
}

/* 1 when the name part of option arg (before '=') is a proper prefix of
 * full, at least "--" and one more character. */
static int
abbreviates(const char *arg, const char *full)
{
	size_t n = strcspn(arg, "=");

	return n > 2 && n < strlen(full) && strncmp(arg, full, n) == 0;
}

int
cf_args_refuse_secrets(int argc, char *const argv[])
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0)
			break;
		if (strncmp(a, "--", 2) != 0)
			continue;
		if (abbreviates(a, "--passphrase-file") || abbreviates(a, "--new-passphrase-file")) {
			cf_error("%.*s: passphrases are never taken from the command line; give a file "
			    "with --passphrase-file FILE (or --new-passphrase-file FILE), or type it "
			    "when asked", (int)strcspn(a, "="), a);
			return -EINVAL;
		}
	}
	return 0;
}

/* Eight ASCII bytes at a time where it can; each multi-byte form checked
 * by its lead byte's ranges (Unicode table 3-7), without decoding it. */
int
cf_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	uint64_t w;

	while (p < end) {
		unsigned char c = *p;

		if (c < 0x80) {
			if (end - p >= 8) {
				memcpy(&w, p, 8);
				if ((w & 0x8080808080808080ULL) == 0) {
					p += 8;
					continue;
				}
			}
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			if (end - p < 2 || (p[1] & 0xc0) != 0x80)
				return 0;
			p += 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			if (end - p < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
			    (c == 0xe0 && p[1] < 0xa0) ||         /* overlong */
			    (c == 0xed && p[1] > 0x9f))           /* surrogates */
				return 0;
			p += 3;
		} else if (c >= 0xf0 && c <= 0xf4) {
			if (end - p < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
			    (p[3] & 0xc0) != 0x80 ||
			    (c == 0xf0 && p[1] < 0x90) ||         /* overlong */
			    (c == 0xf4 && p[1] > 0x8f))           /* past U+10FFFF */
				return 0;
			p += 4;
		} else {
			return 0;       /* a continuation byte, C0, C1, F5..FF */
		}
	}
	return 1;
}
