/*
 * test_jfast.c - unit tests for jfast.c, the strict JSON subset of the
 * fast paths: the UTF-8 check against a decoding reference on every
 * sequence of one to three bytes and on four-byte sequences around every
 * boundary; the string writer against a byte-by-byte reference escaper;
 * and the readers on values in and out of the subset (out of it they must
 * answer 0 and leave the cursor where it was).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "jfast.h"

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
		if (cf_jf_utf8_valid((const char *)b, 3) != ref_utf8_valid(b, 3))
			bad++;
		if (x < (1u << 16) &&
		    cf_jf_utf8_valid((const char *)b + 1, 2) != ref_utf8_valid(b + 1, 2))
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
					if (cf_jf_utf8_valid((const char *)b, 4) !=
					    ref_utf8_valid(b, 4))
						bad++;
				}
	CHECK(bad == 0);
	/* the eight-byte skip: a bad byte at every position after ASCII */
	for (i = 0; i < sizeof b; i++) {
		memset(b, 'a', sizeof b);
		b[i] = 0xff;
		CHECK(cf_jf_utf8_valid((const char *)b, sizeof b) == 0);
		b[i] = 0xc3;
		CHECK(cf_jf_utf8_valid((const char *)b, sizeof b) == 0);   /* cut */
		if (i + 1 < sizeof b) {
			b[i + 1] = 0xa9;
			CHECK(cf_jf_utf8_valid((const char *)b, sizeof b) == 1);
		}
	}
	CHECK(cf_jf_utf8_valid("", 0) == 1);
}

/* Reference escaper, one byte at a time. */
static size_t
ref_put(char *out, const char *s)
{
	size_t n = 0;

	out[n++] = '"';
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '"': n += (size_t)sprintf(out + n, "\\\""); break;
		case '\\': n += (size_t)sprintf(out + n, "\\\\"); break;
		case '\b': n += (size_t)sprintf(out + n, "\\b"); break;
		case '\f': n += (size_t)sprintf(out + n, "\\f"); break;
		case '\n': n += (size_t)sprintf(out + n, "\\n"); break;
		case '\r': n += (size_t)sprintf(out + n, "\\r"); break;
		case '\t': n += (size_t)sprintf(out + n, "\\t"); break;
		default:
			if (c < 0x20)
				n += (size_t)sprintf(out + n, "\\u%04X", c);
			else
				out[n++] = (char)c;
		}
	}
	out[n++] = '"';
	return n;
}

static void
test_put(void)
{
	static const char alphabet[] = "ab \"\\/\b\f\n\r\t\x01\x1f\x7f\xc3\xa9";
	char s[64], got[512], want[512];
	uint64_t rng = 0x2545f4914f6cdd1dULL;
	size_t len, i, n, bad = 0;
	int round;

	for (round = 0; round < 20000; round++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		len = (size_t)(rng % 40);
		for (i = 0; i < len; i++) {
			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			s[i] = alphabet[rng % (sizeof alphabet - 1)];
		}
		s[len] = '\0';
		n = ref_put(want, s);
		if (cf_jf_put_len(s) != n || (size_t)(cf_jf_put(got, s) - got) != n ||
		    memcmp(got, want, n) != 0)
			bad++;
	}
	CHECK(bad == 0);
	CHECK(cf_jf_put_len("") == 2);
}

/* Read one string value from text: the reader's answer; *out when 1. */
static int
read_str(const char *text, char **out)
{
	struct cf_jf f = { text, text + strlen(text) };
	int rc = cf_jf_str(&f, out);

	if (rc != 1 && f.p != text)
		return -1000;           /* the cursor moved without success */
	return rc;
}

static void
test_readers(void)
{
	static const char *const not_subset[] = {
		"\"a\\u0041\"", "\"tab\there\"", "\"a\\x\"", "\"\xff\"", "\"\xed\xa0\x80\"",
		"\"unterminated", "'single'", "5", "", "\"a\\",
	};
	struct cf_jf f;
	char *s = NULL, key[8];
	int64_t v = 0;
	size_t i;

	CHECK(read_str("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\xc3\xa9\"", &s) == 1);
	CHECK(s != NULL && strcmp(s, "a\"b\\c/d\b\f\n\r\t\xc3\xa9") == 0);
	free(s);
	s = NULL;
	CHECK(read_str("\"a long plain string well over eight bytes\",", &s) == 1);
	CHECK(s != NULL && strcmp(s, "a long plain string well over eight bytes") == 0);
	free(s);
	for (i = 0; i < sizeof not_subset / sizeof not_subset[0]; i++) {
		s = NULL;
		CHECK(read_str(not_subset[i], &s) == 0);
		CHECK(s == NULL);
	}

	f.p = "\"ts_raw\":1";
	f.end = f.p + strlen(f.p);
	CHECK(cf_jf_key(&f, key, sizeof key) == 1 && strcmp(key, "ts_raw") == 0 && *f.p == '1');
	f.p = "\"toolongkey\":1";
	f.end = f.p + strlen(f.p);
	CHECK(cf_jf_key(&f, key, sizeof key) == 0);
	f.p = "\"Ts\":1";
	f.end = f.p + strlen(f.p);
	CHECK(cf_jf_key(&f, key, sizeof key) == 0);
	f.p = "\"ts\" :1";
	f.end = f.p + strlen(f.p);
	CHECK(cf_jf_key(&f, key, sizeof key) == 0);

	f.p = "-123,";
	f.end = f.p + strlen(f.p);
	CHECK(cf_jf_int(&f, &v) == 1 && v == -123 && *f.p == ',');
	f.p = "999999999999999999}";
	f.end = f.p + strlen(f.p);
	CHECK(cf_jf_int(&f, &v) == 1 && v == 999999999999999999LL);
	{
		static const char *const bad[] = {
			"1234567890123456789,", "01,", "-0,", "1.5,", "1e3,", "-,", "1", "+1,",
		};

		for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			f.p = bad[i];
			f.end = f.p + strlen(f.p);
			CHECK(cf_jf_int(&f, &v) == 0 && f.p == bad[i]);
		}
	}
	f.p = "{";
	f.end = f.p + 1;
	CHECK(cf_jf_eat(&f, '[') == 0 && cf_jf_eat(&f, '{') == 1 && f.p == f.end);
	CHECK(cf_jf_eat(&f, '{') == 0);
}

int
main(void)
{
	test_utf8();
	test_put();
	test_readers();
	return CHECK_DONE("test_jfast");
}
