/*
 * test_util.c - unit tests for util.c: time parsing (offsets, fractions,
 * zone-less times in a zone with DST, refused dates), date arguments,
 * formatting, hex, zone names, principal names, the file helpers, and the
 * strict UTF-8 check against a decoding reference.
 * Expected values were computed independently (Python's zoneinfo).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "util.h"

static void
test_parse_time(void)
{
	int64_t ms = 0;
	int had = -1;

	CHECK_RC(cf_parse_time("2025-03-13T19:44:01Z", "Europe/Paris", &ms, &had), 0);
	CHECK(ms == 1741895041000LL);
	CHECK(had == 1);
	CHECK_RC(cf_parse_time("2025-03-13t19:44:01z", NULL, &ms, NULL), 0);
	CHECK(ms == 1741895041000LL);
	CHECK_RC(cf_parse_time("2025-03-13T19:44:01.250+01:00", NULL, &ms, &had), 0);
	CHECK(ms == 1741891441250LL);
	CHECK(had == 1);
	CHECK_RC(cf_parse_time("2025-03-13T19:44+0530", NULL, &ms, NULL), 0);
	CHECK(ms == 1741875240000LL);
	CHECK_RC(cf_parse_time("2025-03-13T19:44:00-08:00", NULL, &ms, NULL), 0);
	CHECK(ms == 1741923840000LL);
	/* fractions: fewer digits scale up, more are truncated */
	CHECK_RC(cf_parse_time("2025-03-13T19:44:01.5Z", NULL, &ms, NULL), 0);
	CHECK(ms == 1741895041500LL);
	CHECK_RC(cf_parse_time("2025-03-13T19:44:01.123456Z", NULL, &ms, NULL), 0);
	CHECK(ms == 1741895041123LL);
	CHECK_RC(cf_parse_time("2025-03-13T19:44:01,07Z", NULL, &ms, NULL), 0);
	CHECK(ms == 1741895041070LL);
	/* before 1970 */
	CHECK_RC(cf_parse_time("1960-06-01T00:00:00.5Z", NULL, &ms, NULL), 0);
	CHECK(ms == -302486400000LL + 500);

	/* zone-less: read in tz */
	CHECK_RC(cf_parse_time("2025-03-13 19:44:01", "UTC", &ms, &had), 0);
	CHECK(ms == 1741895041000LL);
	CHECK(had == 0);
	CHECK_RC(cf_parse_time("2025-03-13T19:44", "Etc/UTC", &ms, NULL), 0);
	CHECK(ms == 1741895040000LL);
	CHECK_RC(cf_parse_time("2025-07-01T12:00:00", "Europe/Paris", &ms, &had), 0);
	CHECK(ms == 1751364000000LL);   /* summer: UTC+2 */
	CHECK(had == 0);
	CHECK_RC(cf_parse_time("2025-01-15T12:00:00", "Europe/Paris", &ms, NULL), 0);
	CHECK(ms == 1736938800000LL);   /* winter: UTC+1 */
	/* an explicit offset wins over tz */
	CHECK_RC(cf_parse_time("2025-07-01T12:00:00Z", "Europe/Paris", &ms, NULL), 0);
	CHECK(ms == 1751371200000LL);
	CHECK_RC(cf_parse_time("2025-07-01T12:00:00", "No/Such_Zone", &ms, NULL), -EINVAL);

	/* refused */
	CHECK_RC(cf_parse_time("2025-13-01T00:00:00Z", NULL, &ms, NULL), -EINVAL);
	CHECK_RC(cf_parse_time("2025-00-01T00:00:00Z", NULL, &ms, NULL), -EINVAL);
	CHECK_RC(cf_parse_time("2025-02-30T00:00Z", NULL, &ms, NULL), -EINVAL);
	CHECK_RC(cf_parse_time("2025-02-29T00:00Z", NULL, &ms, NULL), -EINVAL);
	CHECK_RC(cf_parse_time("2024-02-29T00:00Z", NULL, &ms, NULL), 0);
	CHECK_RC(cf_parse_time("2025-04-31T00:00Z", NULL, &ms, NULL), -EINVAL);
	CHECK_RC(cf_parse_time("2025-01-00T00:00Z", NULL, &ms, NULL), -EINVAL);
	CHECK_RC(cf_parse_time("2025-01-01T24:00Z", NULL, &ms, NULL), -EINVAL);
	CHECK_RC(cf_parse_time("2025-01-01T23:60Z", NULL, &ms, NULL), -EINVAL);
	CHECK_RC(cf_parse_time("2025-01-01T23:59:60Z", NULL, &ms, NULL), -EINVAL);
	CHECK_RC(cf_parse_time("2025-01-01T00:00:00+24:00", NULL, &ms, NULL), -EINVAL);
	CHECK_RC(cf_parse_time("2025-01-01T00:00:00+01:60", NULL, &ms, NULL), -EINVAL);
	CHECK_RC(cf_parse_time("2025-01-01T00:00:00+1", NULL, &ms, NULL), -EINVAL);
	CHECK_RC(cf_parse_time("2025-01-01T00:00:00Zx", NULL, &ms, NULL), -EINVAL);
	CHECK_RC(cf_parse_time("2025-01-01T00:00:00.", NULL, &ms, NULL), -EINVAL);
	CHECK_RC(cf_parse_time("2025-01-01T00:00:", NULL, &ms, NULL), -EINVAL);
	CHECK_RC(cf_parse_time("2025-01-01X00:00", NULL, &ms, NULL), -EINVAL);
	CHECK_RC(cf_parse_time("2025-1-01T00:00Z", NULL, &ms, NULL), -EINVAL);
	CHECK_RC(cf_parse_time("2025-01-01", NULL, &ms, NULL), -EINVAL);
	CHECK_RC(cf_parse_time("", NULL, &ms, NULL), -EINVAL);
	CHECK_RC(cf_parse_time("yesterday", NULL, &ms, NULL), -EINVAL);
}

static void
test_tz_restored(void)
{
	int64_t ms;
	const char *tz;

	/* Every cf_ time call puts the process TZ back as it found it. */
	CHECK(setenv("TZ", "America/New_York", 1) == 0);
	CHECK_RC(cf_parse_time("2025-07-01T12:00:00", "Europe/Paris", &ms, NULL), 0);
	tz = getenv("TZ");
	CHECK_STR(tz, "America/New_York");
	/* NULL zone = the process's local zone */
	CHECK_RC(cf_parse_time("2025-07-01T12:00:00", NULL, &ms, NULL), 0);
	CHECK(ms == 1751385600000LL);   /* EDT: UTC-4 */
	CHECK(unsetenv("TZ") == 0);
	CHECK_RC(cf_parse_time("2025-07-01T12:00:00", "Europe/Paris", &ms, NULL), 0);
	CHECK(getenv("TZ") == NULL);
}

static void
test_date_arg(void)
{
	int64_t s = 0;

	CHECK_RC(cf_parse_date_arg("2026-12-31", "UTC", 1, &s), 0);
	CHECK(s == 1798761599LL);
	CHECK_RC(cf_parse_date_arg("2026-12-31", "UTC", 0, &s), 0);
	CHECK(s == 1798675200LL);
	CHECK_RC(cf_parse_date_arg("2026-12-31", "Europe/Paris", 0, &s), 0);
	CHECK(s == 1798671600LL);
	CHECK_RC(cf_parse_date_arg("2026-12-31", "Europe/Paris", 1, &s), 0);
	CHECK(s == 1798671600LL + 86399);
	CHECK_RC(cf_parse_date_arg("2025-03-13T19:44:01.999Z", "Europe/Paris", 1, &s), 0);
	CHECK(s == 1741895041LL);
	CHECK_RC(cf_parse_date_arg("1960-06-01T00:00:00.5Z", NULL, 0, &s), 0);
	CHECK(s == -302486400LL);
	CHECK_RC(cf_parse_date_arg("2026-02-30", "UTC", 1, &s), -EINVAL);
	CHECK_RC(cf_parse_date_arg("2026-12", "UTC", 1, &s), -EINVAL);
	CHECK_RC(cf_parse_date_arg("2026-12-31junk", "UTC", 1, &s), -EINVAL);
}

static void
test_format_localtime(void)
{
	char buf[32];
	struct tm tm;

	cf_format_time_utc(1741895041250LL, buf, sizeof buf);
	CHECK_STR(buf, "2025-03-13T19:44:01Z");
	cf_format_time_utc(-1, buf, sizeof buf);
	CHECK_STR(buf, "1969-12-31T23:59:59Z");
	cf_format_time_utc(0, buf, sizeof buf);
	CHECK_STR(buf, "1970-01-01T00:00:00Z");

	CHECK_RC(cf_localtime(1751364000000LL, "Europe/Paris", &tm), 0);
	CHECK(tm.tm_hour == 12 && tm.tm_mday == 1 && tm.tm_mon == 6 && tm.tm_isdst > 0);
	CHECK_RC(cf_localtime(1736938800000LL, "Europe/Paris", &tm), 0);
	CHECK(tm.tm_hour == 12 && tm.tm_isdst == 0);
	CHECK_RC(cf_localtime(1736938800000LL, NULL, &tm), 0);
	CHECK(tm.tm_hour == 11);
	CHECK_RC(cf_localtime(-1, "UTC", &tm), 0);
	CHECK(tm.tm_year == 69 && tm.tm_hour == 23 && tm.tm_min == 59 && tm.tm_sec == 59);
	CHECK_RC(cf_localtime(-1, "", &tm), 0);
	CHECK(tm.tm_year == 69 && tm.tm_sec == 59);
	CHECK_RC(cf_localtime(0, "Bogus/Zone", &tm), -EINVAL);
}

static void
test_hex(void)
{
	uint8_t in[20], out[20];
	char hex[41];
	size_t i;

	for (i = 0; i < sizeof in; i++)
		in[i] = (uint8_t)(i * 37 + 5);
	cf_hex_encode(hex, in, sizeof in);
	CHECK(strlen(hex) == 40);
	CHECK_RC(cf_hex_decode(out, sizeof out, hex), 0);
	CHECK(memcmp(in, out, sizeof in) == 0);
	cf_hex_encode(hex, (const uint8_t *)"\x00\xff\xab", 3);
	CHECK_STR(hex, "00ffab");
	CHECK_RC(cf_hex_decode(out, 3, "00FFaB"), 0);
	CHECK(out[0] == 0x00 && out[1] == 0xff && out[2] == 0xab);
	cf_hex_encode(hex, in, 0);
	CHECK_STR(hex, "");
	CHECK_RC(cf_hex_decode(out, 3, "00ffa"), -EINVAL);
	CHECK_RC(cf_hex_decode(out, 3, "00ffabc"), -EINVAL);
	CHECK_RC(cf_hex_decode(out, 3, "00ffag"), -EINVAL);
	CHECK_RC(cf_hex_decode(out, 3, "00ff:b"), -EINVAL);
	CHECK_RC(cf_hex_decode(out, 3, "00ff@b"), -EINVAL);
	CHECK_RC(cf_hex_decode(out, 3, "0 ffab"), -EINVAL);
	CHECK_RC(cf_hex_decode(out, 1, "G0"), -EINVAL);
	CHECK_RC(cf_hex_decode(out, 1, "/0"), -EINVAL);
	CHECK_RC(cf_hex_decode(out, 1, "\xc0" "0"), -EINVAL);
}

static void
test_tz_names(void)
{
	const char *local;

	CHECK_RC(cf_tz_valid("UTC"), 0);
	CHECK_RC(cf_tz_valid("Etc/UTC"), 0);
	CHECK_RC(cf_tz_valid("Europe/Paris"), 0);
	CHECK_RC(cf_tz_valid("America/New_York"), 0);
	CHECK_RC(cf_tz_valid("No/Such_Zone"), -ENOENT);
	CHECK_RC(cf_tz_valid("../../../etc/passwd"), -ENOENT);
	CHECK_RC(cf_tz_valid("Europe/../Europe/Paris"), -ENOENT);
	CHECK_RC(cf_tz_valid("/usr/share/zoneinfo/Europe/Paris"), -ENOENT);
	CHECK_RC(cf_tz_valid("Europe"), -ENOENT);
	CHECK_RC(cf_tz_valid("zone.tab"), -ENOENT);
	CHECK_RC(cf_tz_valid(""), -ENOENT);
	CHECK_RC(cf_tz_valid(NULL), -ENOENT);
	local = cf_tz_local_name();
	REQUIRE(local != NULL);
	CHECK_RC(cf_tz_valid(local), 0);
}

static void
test_names_paths(void)
{
	char name[70], buf[8];

	CHECK_RC(cf_name_valid("alice"), 0);
	CHECK_RC(cf_name_valid("ingest-01.prod_A"), 0);
	CHECK_RC(cf_name_valid("7up"), 0);
	CHECK_RC(cf_name_valid(""), -EINVAL);
	CHECK_RC(cf_name_valid("-alice"), -EINVAL);
	CHECK_RC(cf_name_valid(".alice"), -EINVAL);
	CHECK_RC(cf_name_valid("al ice"), -EINVAL);
	CHECK_RC(cf_name_valid("al/ice"), -EINVAL);
	CHECK_RC(cf_name_valid("al\xc3\xa9"), -EINVAL);
	memset(name, 'a', 64);
	name[64] = '\0';
	CHECK_RC(cf_name_valid(name), 0);
	name[64] = 'a';
	name[65] = '\0';
	CHECK_RC(cf_name_valid(name), -EINVAL);

	CHECK_RC(cf_path(buf, sizeof buf, "%s/%s", "ab", "cd"), 0);
	CHECK_STR(buf, "ab/cd");
	CHECK_RC(cf_path(buf, sizeof buf, "%s/%s", "abcd", "def"), -ENAMETOOLONG);
	CHECK_RC(cf_path(buf, sizeof buf, "%s", "1234567"), 0);
}

static void
test_files(void)
{
	const char *tmp = getenv("TMPDIR");
	char tmpl[512], path[600], link[600];
	char *buf = NULL, *tmpdir, rb[16];
	size_t len = 0;
	int fd;

	REQUIRE(cf_path(tmpl, sizeof tmpl, "%s/coffer-test-util-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp") == 0);
	/* REQUIRE evaluates its argument twice: no side effects inside. */
	tmpdir = mkdtemp(tmpl);
	REQUIRE(tmpdir != NULL);
	REQUIRE(cf_path(path, sizeof path, "%s/f", tmpl) == 0);
	REQUIRE(cf_path(link, sizeof link, "%s/l", tmpl) == 0);

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	REQUIRE(fd >= 0);
	CHECK_RC(cf_write_all(fd, "hello\nworld", 11), 0);
	CHECK(close(fd) == 0);
	CHECK_RC(cf_read_file(path, &buf, &len), 0);
	CHECK(len == 11 && buf != NULL && strcmp(buf, "hello\nworld") == 0);
	free(buf);

	fd = open(path, O_RDONLY);
	REQUIRE(fd >= 0);
	CHECK_RC(cf_pread_all(fd, rb, 5, 6), 5);
	CHECK(memcmp(rb, "world", 5) == 0);
	CHECK_RC(cf_pread_all(fd, rb, 16, 6), 5);
	CHECK_RC(cf_pread_all(fd, rb, 4, 100), 0);
	CHECK(close(fd) == 0);
	CHECK_RC(cf_write_all(-1, "x", 1), -EBADF);

	cf_log_quiet(1);
	CHECK(symlink(path, link) == 0);
	CHECK_RC(cf_read_file(link, &buf, &len), -ELOOP);
	CHECK(buf == NULL);
	CHECK(unlink(link) == 0);
	CHECK_RC(cf_read_file(link, &buf, &len), -ENOENT);
	CHECK_RC(cf_read_file(tmpl, &buf, &len), -EINVAL);
	CHECK_RC(cf_fsync_dir(link), -ENOENT);
	cf_log_quiet(0);
	CHECK_RC(cf_fsync_dir(tmpl), 0);

	CHECK(unlink(path) == 0);
	CHECK(rmdir(tmpl) == 0);
}

/* Reference: decode each sequence and check its code point. */
static int
ref_utf8_valid(const unsigned char *p, size_t n)
{
	size_t i = 0, len, k;
	uint32_t cp, min;

	while (i < n) {
		unsigned char c = p[i];

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			len = 2;
			cp = c & 0x1fu;
			min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3;
			cp = c & 0x0fu;
			min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4;
			cp = c & 0x07u;
			min = 0x10000;
		} else {
			return 0;
		}
		if (n - i < len)
			return 0;
		for (k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + k] & 0x3fu);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

/* cf_utf8_valid against a decoding reference on every sequence of one to
 * three bytes and on four-byte sequences around every boundary. */
static void
test_utf8(void)
{
	static const unsigned char edges[] = {
		0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf,
		0xe0, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xf7, 0xf8, 0xff,
	};
	const size_t ne = sizeof edges / sizeof edges[0];
	unsigned char b[24];
	unsigned long bad = 0;
	uint32_t x;
	size_t i, j, k, l;

	/* every sequence of 1, 2 and 3 bytes (NUL included: the length counts) */
	for (x = 0; x < (1u << 24); x++) {
		b[0] = (unsigned char)(x >> 16);
		b[1] = (unsigned char)(x >> 8);
		b[2] = (unsigned char)x;
		if (cf_utf8_valid((const char *)b, 3) != ref_utf8_valid(b, 3))
			bad++;
		if (x < (1u << 16) &&
		    cf_utf8_valid((const char *)b + 1, 2) != ref_utf8_valid(b + 1, 2))
			bad++;
	}
	CHECK(bad == 0);
	/* four bytes around every boundary */
	bad = 0;
	for (i = 0; i < ne; i++)
		for (j = 0; j < ne; j++)
			for (k = 0; k < ne; k++)
				for (l = 0; l < ne; l++) {
					b[0] = edges[i];
					b[1] = edges[j];
					b[2] = edges[k];
					b[3] = edges[l];
					if (cf_utf8_valid((const char *)b, 4) !=
					    ref_utf8_valid(b, 4))
						bad++;
				}
	CHECK(bad == 0);
	/* the eight-byte skip: a bad byte at every position after ASCII */
	for (i = 0; i < sizeof b; i++) {
		memset(b, 'a', sizeof b);
		b[i] = 0xff;
		CHECK(cf_utf8_valid((const char *)b, sizeof b) == 0);
		b[i] = 0xc3;
		CHECK(cf_utf8_valid((const char *)b, sizeof b) == 0);   /* cut */
		if (i + 1 < sizeof b) {
			b[i + 1] = 0xa9;
			CHECK(cf_utf8_valid((const char *)b, sizeof b) == 1);
		}
	}
	CHECK(cf_utf8_valid("", 0) == 1);
}

int
main(void)
{
	cf_set_progname("test_util");
	CHECK_STR(cf_progname(), "test_util");
	test_parse_time();
	test_tz_restored();
	test_date_arg();
	test_format_localtime();
	test_hex();
	test_tz_names();
	test_names_paths();
	test_files();
	test_utf8();
	return CHECK_DONE("test_util");
}
