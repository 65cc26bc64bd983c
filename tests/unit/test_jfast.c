/*
 * test_jfast.c - unit tests for jfast.c, the strict JSON subset of the
 * fast paths: the string writer against a byte-by-byte reference escaper;
 * and the readers on values in and out of the subset (out of it they must
 * answer 0 and leave the cursor where it was), members and separators.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "jfast.h"

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
	{
		static const struct cf_jf_member members[] = { { "ts", 1u }, { "body", 2u } };
		unsigned seen = 0, bit = 0;

		f.p = "\"body\":1,\"ts\":2,\"body\":3,\"who\":4";
		f.end = f.p + strlen(f.p);
		CHECK(cf_jf_member(&f, members, 2, &seen, &bit) == 1 && bit == 2u && seen == 2u);
		CHECK(cf_jf_int(&f, &v) == 1 && cf_jf_next(&f, '}') == 1);
		CHECK(cf_jf_member(&f, members, 2, &seen, &bit) == 1 && bit == 1u && seen == 3u);
		CHECK(cf_jf_int(&f, &v) == 1 && cf_jf_next(&f, '}') == 1);
		/* repeated, then unknown: 0, the cursor where it was */
		i = (size_t)(f.end - f.p);
		CHECK(cf_jf_member(&f, members, 2, &seen, &bit) == 0 && (size_t)(f.end - f.p) == i);
		f.p += strlen("\"body\":3,");
		i = (size_t)(f.end - f.p);
		CHECK(cf_jf_member(&f, members, 2, &seen, &bit) == 0 && (size_t)(f.end - f.p) == i);
		CHECK(seen == 3u);
		f.p = "]}";
		f.end = f.p + 2;
		CHECK(cf_jf_next(&f, '}') == 0 && cf_jf_next(&f, ']') == 2 && cf_jf_next(&f, '}') == 2);
		CHECK(cf_jf_next(&f, '}') == 0);
	}
	f.p = "{";
	f.end = f.p + 1;
	CHECK(cf_jf_eat(&f, '[') == 0 && cf_jf_eat(&f, '{') == 1 && f.p == f.end);
	CHECK(cf_jf_eat(&f, '{') == 0);
}

int
main(void)
{
	test_put();
	test_readers();
	return CHECK_DONE("test_jfast");
}
