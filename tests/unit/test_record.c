/*
 * test_record.c - segment records: a header and messages round-trip with
 * every field (unicode, newlines, quotes, attachments, extra as an embedded
 * object), records are walked in order across buffer growth, and malformed
 * input (truncation, wrong type, missing members, bad UTF-8) is refused.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "record.h"
#include "same.h"
#include "util.h"

static const char body_text[] =
    "h\xc3\xa9llo\nworld \"quoted\" \\ back\\slash\ttab \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e "
    "\xf0\x9f\x99\x82 </script>";

/* A message with every member set; strings point at static text. */
static void
full_msg(struct cf_msg *m, struct cf_attach att[2])
{
	size_t i;

	memset(m, 0, sizeof *m);
	memset(att, 0, 2 * sizeof *att);
	att[0].name = (char *)"photo \xc3\xa9t\xc3\xa9.jpg";
	att[1].name = (char *)"notes\n\"2\".txt";
	for (i = 0; i < CF_ID_BYTES; i++) {
		att[0].blob_id[i] = (uint8_t)(0xa0 + i);
		att[1].blob_id[i] = (uint8_t)(0x0f * i);
	}
	att[0].size = 123456789012ULL;
	att[1].size = 0;
	att[0].src_path = (char *)"/import/photo.jpg";
	m->id = (char *)"msg-1";
	m->ts_ms = 1741894441250;
	m->ts_raw = (char *)"2025-03-13 20:34:01.250";
	m->tz = (char *)"Europe/Paris";
	m->sender = (char *)"Zo\xc3\xab \xf0\x9f\x99\x82";
	m->body = (char *)body_text;
	m->att = att;
	m->natt = 2;
	m->extra = (char *)"{\"reactions\": [\"\xf0\x9f\x91\x8d\", null], \"edited\": true, \"n\": {\"k\": 1.5}}";
}

static int
starts_with(const uint8_t *p, const char *s)
{
	return memcmp(p, s, strlen(s)) == 0;
}

/* Append one hand-written record. */
static void
raw_record(uint8_t *buf, size_t *len, const char *json)
{
	size_t n = strlen(json);

	buf[*len] = (uint8_t)n;
	buf[*len + 1] = (uint8_t)(n >> 8);
	buf[*len + 2] = (uint8_t)(n >> 16);
	buf[*len + 3] = (uint8_t)(n >> 24);
	memcpy(buf + *len + 4, json, n);
	*len += 4 + n;
}

/* Decode a single hand-written message record; returns the decoder's rc. */
static int
decode_one(const char *json)
{
	uint8_t buf[1024];
	size_t len = 0, pos = 0;
	struct cf_msg m;
	int rc;

	raw_record(buf, &len, json);
	rc = cf_record_next_msg(buf, len, &pos, &m);
	if (rc == 1)
		cf_msg_clear(&m);
	else if (pos != 0)
		rc = -1000;                     /* a failure must not advance */
	return rc;
}

static void
test_round_trip(void)
{
	struct cf_seghdr h, hout;
	struct cf_msg m, out, minimal;
	struct cf_attach att[2];
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, pos = 0, first;
	char *text;

	memset(&h, 0, sizeof h);
	h.chat = (char *)"+33 6 12 34 56 78";
	h.title = (char *)"Famille \xf0\x9f\x8f\xa0";
	h.source = (char *)"whatsapp";
	h.tz = (char *)"Europe/Paris";
	h.imported_ms = 1741900000000;
	full_msg(&m, att);
	memset(&minimal, 0, sizeof minimal);
	minimal.ts_ms = -5;
	minimal.sender = (char *)"";            /* empty: omitted, reads back NULL */
	minimal.body = (char *)"";

	CHECK_RC(cf_record_put_hdr(&buf, &len, &cap, &h), 0);
	first = len;
	CHECK_RC(cf_record_put_msg(&buf, &len, &cap, &m), 0);
	CHECK_RC(cf_record_put_msg(&buf, &len, &cap, &minimal), 0);
	REQUIRE(buf != NULL && len > first && cap >= len);

	/* layout: LE length, then compact JSON with type first */
	CHECK((size_t)buf[0] + ((size_t)buf[1] << 8) + ((size_t)buf[2] << 16) +
	    ((size_t)buf[3] << 24) == first - 4);
	CHECK(starts_with(buf + 4, "{\"type\":\"segment\",\"v\":1,\"chat\":"));
	CHECK(starts_with(buf + first + 4,
	    "{\"type\":\"message\",\"id\":\"msg-1\",\"ts\":1741894441250,\"ts_raw\":"));
	text = strndup((const char *)buf + first + 4, len - first - 4);
	REQUIRE(text != NULL);
	CHECK(strstr(text, "\"extra\":{\"reactions\":") != NULL);   /* an object, not a string */
	CHECK(strstr(text, "src_path") == NULL);                 /* never stored */
	CHECK(strstr(text, "/import/photo.jpg") == NULL);
	CHECK(strstr(text, "\"blob\":\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\"") != NULL);
	CHECK(strstr(text, "\"size\":123456789012") != NULL);
	/* the minimal message is the last record, exactly */
	CHECK(len - first > 36 && memcmp(buf + len - 36,
	    "{\"type\":\"message\",\"ts\":-5,\"body\":\"\"}", 36) == 0);
	CHECK(buf[len - 40] == 36 && buf[len - 39] == 0 && buf[len - 38] == 0 && buf[len - 37] == 0);
	free(text);

	CHECK_RC(cf_record_next_hdr(buf, len, &pos, &hout), 1);
	CHECK(pos == first);
	CHECK_STR(hout.chat, h.chat);
	CHECK_STR(hout.title, h.title);
	CHECK_STR(hout.source, h.source);
	CHECK_STR(hout.tz, h.tz);
	CHECK(hout.imported_ms == h.imported_ms);
	cf_seghdr_clear(&hout);
	CHECK(hout.chat == NULL && hout.title == NULL && hout.imported_ms == 0);

	CHECK_RC(cf_record_next_msg(buf, len, &pos, &out), 1);
	m.extra = (char *)"{\"reactions\":[\"\xf0\x9f\x91\x8d\",null],\"edited\":true,\"n\":{\"k\":1.5}}";
	CHECK(same_msg(&out, &m));
	CHECK_STR(out.body, body_text);
	CHECK_STR(out.extra, m.extra);
	REQUIRE(out.natt == 2);
	CHECK(out.att[0].src_path == NULL);
	CHECK(out.seg_seq == 0 && out.rec_idx == 0);
	cf_msg_clear(&out);
	CHECK(out.body == NULL && out.att == NULL && out.natt == 0);

	CHECK_RC(cf_record_next_msg(buf, len, &pos, &out), 1);
	CHECK(out.id == NULL && out.ts_raw == NULL && out.tz == NULL && out.sender == NULL);
	CHECK(out.extra == NULL && out.att == NULL && out.natt == 0);
	CHECK_STR(out.body, "");
	CHECK(out.ts_ms == -5);
	cf_msg_clear(&out);
	CHECK(pos == len);
	CHECK_RC(cf_record_next_msg(buf, len, &pos, &out), 0);
	CHECK_RC(cf_record_next_hdr(buf, len, &pos, &hout), 0);

	/* wrong type in either direction; pos does not move */
	pos = 0;
	CHECK_RC(cf_record_next_msg(buf, len, &pos, &out), -EBADMSG);
	CHECK(pos == 0);
	pos = first;
	CHECK_RC(cf_record_next_hdr(buf, len, &pos, &hout), -EBADMSG);
	CHECK(pos == first);

	/* truncation anywhere inside the last record */
	pos = first;
	CHECK_RC(cf_record_next_msg(buf, len - 1, &pos, &out), 1);
	cf_msg_clear(&out);
	CHECK_RC(cf_record_next_msg(buf, len - 1, &pos, &out), -EBADMSG);
	pos = 0;
	CHECK_RC(cf_record_next_hdr(buf, 2, &pos, &hout), -EBADMSG);  /* half a length */
	CHECK_RC(cf_record_next_hdr(buf, first - 1, &pos, &hout), -EBADMSG);
	CHECK_RC(cf_record_next_hdr(buf, 4, &pos, &hout), -EBADMSG);
	CHECK(pos == 0);
	pos = 5;                                  /* past the end */
	CHECK_RC(cf_record_next_hdr(buf, 4, &pos, &hout), -EBADMSG);

	/* a header without the optional strings reads back as "" */
	cf_wipe(buf, cap);
	free(buf);
	buf = NULL;
	len = cap = 0;
	pos = 0;
	memset(&h, 0, sizeof h);
	CHECK_RC(cf_record_put_hdr(&buf, &len, &cap, &h), 0);
	CHECK_RC(cf_record_next_hdr(buf, len, &pos, &hout), 1);
	CHECK_STR(hout.chat, "");
	CHECK_STR(hout.title, "");
	CHECK_STR(hout.source, "");
	CHECK_STR(hout.tz, "");
	cf_seghdr_clear(&hout);
	cf_seghdr_clear(NULL);
	free(buf);
}

static void
test_many(void)
{
	struct cf_seghdr h;
	struct cf_msg m, out;
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, pos = 0;
	char body[64], id[16];
	int i, n = 0, ok = 1;

	memset(&h, 0, sizeof h);
	h.title = (char *)"t";
	CHECK_RC(cf_record_put_hdr(&buf, &len, &cap, &h), 0);
	for (i = 0; i < 2000; i++) {
		memset(&m, 0, sizeof m);
		snprintf(body, sizeof body, "message number %d", i);
		snprintf(id, sizeof id, "%d", i);
		m.body = body;
		m.id = id;
		m.ts_ms = 1000 + i;
		if (cf_record_put_msg(&buf, &len, &cap, &m) != 0)
			ok = 0;
	}
	CHECK(ok);
	CHECK(len > 2000 * 40 && cap >= len);
	CHECK_RC(cf_record_next_hdr(buf, len, &pos, &h), 1);
	cf_seghdr_clear(&h);
	while (cf_record_next_msg(buf, len, &pos, &out) == 1) {
		snprintf(body, sizeof body, "message number %d", n);
		snprintf(id, sizeof id, "%d", n);
		if (out.ts_ms != 1000 + n || strcmp(out.body, body) != 0 || strcmp(out.id, id) != 0)
			ok = 0;
		cf_msg_clear(&out);
		n++;
	}
	CHECK(ok);
	CHECK(n == 2000);
	CHECK(pos == len);
	cf_wipe(buf, cap);
	free(buf);
}

static void
test_malformed(void)
{
	CHECK_RC(decode_one("{\"type\":\"message\",\"ts\":1,\"body\":\"x\",\"future\":[1,{}]}"), 1);
	CHECK_RC(decode_one("{\"type\":\"message\",\"body\":\"x\"}"), -EBADMSG);
	CHECK_RC(decode_one("{\"type\":\"message\",\"ts\":1}"), -EBADMSG);
	CHECK_RC(decode_one("{\"type\":\"message\",\"ts\":\"1\",\"body\":\"x\"}"), -EBADMSG);
	CHECK_RC(decode_one("{\"type\":\"message\",\"ts\":1.5,\"body\":\"x\"}"), -EBADMSG);
	CHECK_RC(decode_one("{\"type\":\"message\",\"ts\":1,\"body\":7}"), -EBADMSG);
	CHECK_RC(decode_one("{\"type\":\"message\",\"ts\":1,\"body\":\"x\",\"sender\":null}"), -EBADMSG);
	CHECK_RC(decode_one("{\"ts\":1,\"body\":\"x\"}"), -EBADMSG);
	CHECK_RC(decode_one("{\"type\":\"note\",\"ts\":1,\"body\":\"x\"}"), -EBADMSG);
	CHECK_RC(decode_one("[{\"type\":\"message\",\"ts\":1,\"body\":\"x\"}]"), -EBADMSG);
	CHECK_RC(decode_one("{\"type\":\"message\",\"ts\":1,\"body\":\"x\",\"body\":\"y\"}"), -EBADMSG);
	CHECK_RC(decode_one("{\"type\":\"message\",\"ts\":1,\"body\":\"x\"} "), 1);
	CHECK_RC(decode_one("{\"type\":\"message\",\"ts\":1,\"body\":\"x\"}{}"), -EBADMSG);
	CHECK_RC(decode_one("{\"type\":\"message\",\"ts\":1,\"body\":\"a\\u0000b\"}"), -EBADMSG);
	CHECK_RC(decode_one("{\"type\":\"message\",\"ts\":1,\"body\":\"\xff\"}"), -EBADMSG);
	CHECK_RC(decode_one("{\"type\":\"message\",\"ts\":1,\"body\":\"x\",\"extra\":\"{}\"}"), -EBADMSG);
	CHECK_RC(decode_one("{\"type\":\"message\",\"ts\":1,\"body\":\"x\",\"attachments\":{}}"), -EBADMSG);
	CHECK_RC(decode_one("{\"type\":\"message\",\"ts\":1,\"body\":\"x\",\"attachments\":"
	    "[{\"name\":\"a\",\"blob\":\"00112233445566778899aabbccddeeff\",\"size\":1}]}"), 1);
	CHECK_RC(decode_one("{\"type\":\"message\",\"ts\":1,\"body\":\"x\",\"attachments\":"
	    "[{\"name\":\"a\",\"blob\":\"00112233445566778899aabbccddeef\",\"size\":1}]}"), -EBADMSG);
	CHECK_RC(decode_one("{\"type\":\"message\",\"ts\":1,\"body\":\"x\",\"attachments\":"
	    "[{\"name\":\"a\",\"blob\":\"00112233445566778899aabbccddeefg\",\"size\":1}]}"), -EBADMSG);
	CHECK_RC(decode_one("{\"type\":\"message\",\"ts\":1,\"body\":\"x\",\"attachments\":"
	    "[{\"name\":\"a\",\"blob\":\"00112233445566778899aabbccddeeff\",\"size\":-1}]}"), -EBADMSG);
	CHECK_RC(decode_one("{\"type\":\"message\",\"ts\":1,\"body\":\"x\",\"attachments\":"
	    "[{\"blob\":\"00112233445566778899aabbccddeeff\",\"size\":1}]}"), -EBADMSG);
	CHECK_RC(decode_one("{\"type\":\"message\",\"ts\":1,\"body\":\"x\",\"attachments\":[1]}"), -EBADMSG);
	CHECK_RC(decode_one("{\"type\":\"message\",\"ts\":1,\"body\":\"x\""), -EBADMSG);
	CHECK_RC(decode_one(""), -EBADMSG);

	/* header: type and version */
	{
		uint8_t buf[256];
		size_t len = 0, pos = 0;
		struct cf_seghdr h;

		raw_record(buf, &len, "{\"type\":\"segment\",\"v\":2,\"title\":\"x\"}");
		CHECK_RC(cf_record_next_hdr(buf, len, &pos, &h), -EBADMSG);
		len = 0;
		raw_record(buf, &len, "{\"type\":\"segment\",\"title\":\"x\"}");
		CHECK_RC(cf_record_next_hdr(buf, len, &pos, &h), -EBADMSG);
		len = 0;
		raw_record(buf, &len, "{\"type\":\"segment\",\"v\":1,\"title\":5}");
		CHECK_RC(cf_record_next_hdr(buf, len, &pos, &h), -EBADMSG);
		len = 0;
		raw_record(buf, &len, "{\"type\":\"segment\",\"v\":1,\"title\":\"x\",\"new\":1}");
		CHECK_RC(cf_record_next_hdr(buf, len, &pos, &h), 1);
		CHECK_STR(h.title, "x");
		cf_seghdr_clear(&h);
		/* a length prefix that runs past the buffer */
		len = 0;
		raw_record(buf, &len, "{\"type\":\"segment\",\"v\":1}");
		buf[0] = (uint8_t)(buf[0] + 1);
		pos = 0;
		CHECK_RC(cf_record_next_hdr(buf, len, &pos, &h), -EBADMSG);
		buf[0] = 0;
		buf[3] = 0x80;
		CHECK_RC(cf_record_next_hdr(buf, len, &pos, &h), -EBADMSG);
	}
}

/*
 * cf_record_next_msg takes a fast path for plain records and hands the
 * rest to jansson (cf_record_next_msg_json): both must give the same
 * result, the same struct and the same position on every input, the
 * records cf_record_put_msg writes and hand-written edge cases alike.
 */
static int
same_both_ways(const uint8_t *buf, size_t len)
{
	struct cf_msg a, b;
	size_t pa = 0, pb = 0;
	int ra, rb, same;

	for (;;) {
		ra = cf_record_next_msg(buf, len, &pa, &a);
		rb = cf_record_next_msg_json(buf, len, &pb, &b);
		same = ra == rb && pa == pb && (ra != 1 || same_msg(&a, &b));
		if (ra == 1)
			cf_msg_clear(&a);
		if (rb == 1)
			cf_msg_clear(&b);
		if (!same)
			return 0;
		if (ra != 1)
			return 1;
	}
}

static int
same_one(const char *json)
{
	uint8_t buf[1024];
	size_t len = 0;

	raw_record(buf, &len, json);
	return same_both_ways(buf, len);
}

static void
test_fast_path(void)
{
	static const char *const cases[] = {
		"{\"type\":\"message\",\"ts\":1,\"body\":\"x\"}",
		"{\"body\":\"x\",\"ts\":-5,\"type\":\"message\"}",
		"{\"type\":\"message\",\"ts\":0,\"body\":\"\"}",
		"{\"type\":\"message\",\"ts\":-0,\"body\":\"x\"}",
		"{\"type\":\"message\",\"ts\":01,\"body\":\"x\"}",
		"{\"type\":\"message\",\"ts\":1e3,\"body\":\"x\"}",
		"{\"type\":\"message\",\"ts\":1.0,\"body\":\"x\"}",
		"{\"type\":\"message\",\"ts\":999999999999999999,\"body\":\"x\"}",
		"{\"type\":\"message\",\"ts\":9223372036854775807,\"body\":\"x\"}",
		"{\"type\":\"message\",\"ts\":9223372036854775808,\"body\":\"x\"}",
		"{\"type\":\"message\",\"ts\":-,\"body\":\"x\"}",
		"{\"type\":\"message\",\"ts\":1,\"body\":\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"}",
		"{\"type\":\"message\",\"ts\":1,\"body\":\"\\u00e9\\ud83d\\ude42\"}",
		"{\"type\":\"message\",\"ts\":1,\"body\":\"\\ud83d\"}",
		"{\"type\":\"message\",\"ts\":1,\"body\":\"\\x\"}",
		"{\"type\":\"message\",\"ts\":1,\"body\":\"tab\tinside\"}",
		"{\"type\":\"message\",\"ts\":1,\"body\":\"\xed\xa0\x80\"}",
		"{\"type\":\"message\",\"ts\":1,\"body\":\"\xc0\xaf\"}",
		"{\"type\":\"message\",\"ts\":1,\"body\":\"\xf4\x90\x80\x80\"}",
		"{\"type\":\"message\",\"ts\":1,\"body\":\"\x7f \xe2\x82\xac\"}",
		"{\"type\":\"message\",\"ts\":1,\"body\":\"x\",\"id\":\"\",\"sender\":\"\",\"tz\":\"UTC\","
		    "\"ts_raw\":\"r\"}",
		"{\"type\":\"message\",\"ts\":1,\"body\":\"x\",\"id\":5}",
		"{\"type\":\"message\",\"ts\":1,\"body\":\"x\",\"sender\":null}",
		"{\"type\":\"message\", \"ts\":1,\"body\":\"x\"}",
		"{\"type\":\"message\",\"ts\":1,\"body\":\"x\"} ",
		"{\"type\":\"message\",\"ts\":1,\"body\":\"x\"}x",
		"{\"type\":\"message\",\"ts\":1,\"body\":\"x\",}",
		"{\"type\":\"message\",\"ts\":1,\"body\":\"x\",\"body\":\"y\"}",
		"{\"type\":\"message\",\"ts\":1,\"ts\":2,\"body\":\"x\"}",
		"{\"type\":\"Message\",\"ts\":1,\"body\":\"x\"}",
		"{\"type\":\"message\",\"ty\\u0070e\":1,\"ts\":1,\"body\":\"x\"}",
		"{\"type\":\"message\",\"ts\":1,\"b\\u006fdy\":\"x\"}",
		"{\"type\":\"message\",\"ts\":1,\"body\":\"x\",\"future\":[1,{}]}",
		"{\"type\":\"message\",\"ts\":1,\"body\":\"x\",\"extra\":{\"kind\":\"edited\"}}",
		"{\"type\":\"message\",\"ts\":1,\"body\":\"x\",\"extra\":\"{}\"}",
		"{\"type\":\"message\",\"ts\":1,\"body\":\"x\",\"attachments\":[]}",
		"{\"type\":\"message\",\"ts\":1,\"body\":\"x\",\"attachments\":[{\"name\":\"a\","
		    "\"blob\":\"00112233445566778899aabbccddeeff\",\"size\":1},{\"size\":0,"
		    "\"blob\":\"00112233445566778899AABBCCDDEEFF\",\"name\":\"b\\n\"}]}",
		"{\"type\":\"message\",\"ts\":1,\"body\":\"x\",\"attachments\":[{\"name\":\"a\","
		    "\"blob\":\"00112233445566778899aabbccddeeff\",\"size\":1,\"more\":2}]}",
		"{\"type\":\"message\",\"ts\":1,\"body\":\"x\",\"attachments\":[{\"name\":\"a\","
		    "\"blob\":\"00112233445566778899aabbccddeeff\",\"size\":1,\"size\":2}]}",
		"{\"type\":\"message\",\"ts\":1,\"body\":\"x\",\"attachments\":[{\"name\":\"a\","
		    "\"blob\":\"00112233445566778899aabbccddeef\",\"size\":1}]}",
		"{\"type\":\"message\",\"ts\":1,\"body\":\"x\",\"attachments\":[{\"name\":\"a\","
		    "\"blob\":\"00112233445566778899aabbccddeeff\",\"size\":-1}]}",
		"{\"type\":\"message\",\"ts\":1,\"body\":\"x\",\"attachments\":[{\"name\":\"a\","
		    "\"blob\":\"00112233445566778899aabbccddeeff\"}]}",
		"{\"type\":\"message\",\"ts\":1,\"body\":\"x\",\"attachments\":[{}]}",
		"{\"type\":\"message\",\"ts\":1,\"body\":\"x\",\"attachments\":[1]}",
		"{\"type\":\"message\",\"ts\":1,\"body\":\"x\",\"attachments\":[{\"name\":\"a\","
		    "\"blob\":\"00112233445566778899aabbccddeeff\",\"size\":1}",
		"{\"type\":\"message\",\"ts\":1,\"body\":\"x\"",
		"{\"type\":\"message\",\"ts\":1,\"body\":\"x",
		"{}",
		"",
	};
	struct cf_attach att[2];
	struct cf_msg m;
	uint8_t *buf = NULL;
	size_t i, len = 0, cap = 0;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (!same_one(cases[i]))
			fprintf(stderr, "fast and jansson paths differ on case %zu: %s\n", i,
			    cases[i]);
		CHECK(same_one(cases[i]));
	}
	/* what the encoder writes, with and without the optional members */
	full_msg(&m, att);
	for (i = 0; i < 64; i++) {
		m.id = (i & 1) ? (char *)"msg-1" : NULL;
		m.ts_raw = (i & 2) ? (char *)"raw" : NULL;
		m.tz = (i & 4) ? (char *)"Europe/Paris" : NULL;
		m.sender = (i & 8) ? (char *)"Zo\xc3\xab" : NULL;
		m.natt = (i & 16) ? 2 : 0;
		m.att = (i & 16) ? att : NULL;
		m.extra = (i & 32) ? (char *)"{\"edited\":true}" : NULL;
		m.ts_ms = (int64_t)i * 1000003 - 5;
		REQUIRE(cf_record_put_msg(&buf, &len, &cap, &m) == 0);
	}
	CHECK(same_both_ways(buf, len));
	/* and every truncation of that buffer */
	for (i = 0; i < len; i += 7)
		CHECK(same_both_ways(buf, i));
	cf_wipe(buf, cap);
	free(buf);
}

/* cf_record_put_msg writes messages without extra directly; the bytes
 * must be those jansson writes (cf_record_put_msg_json), and bad input
 * must be refused the same way. */
static int
put_both(const struct cf_msg *m)
{
	uint8_t *a = NULL, *b = NULL;
	size_t la = 0, ca = 0, lb = 0, cb = 0;
	int ra, rb, same;

	ra = cf_record_put_msg(&a, &la, &ca, m);
	rb = cf_record_put_msg_json(&b, &lb, &cb, m);
	same = ra == rb && la == lb && (la == 0 || memcmp(a, b, la) == 0);
	if (!same)
		fprintf(stderr, "put differs: %d/%d %zu/%zu: %.*s | %.*s\n", ra, rb, la, lb,
		    (int)(la > 4 ? la - 4 : 0), a != NULL ? (const char *)a + 4 : "",
		    (int)(lb > 4 ? lb - 4 : 0), b != NULL ? (const char *)b + 4 : "");
	free(a);
	free(b);
	return same;
}

static void
test_fast_put(void)
{
	char all[160], *q = all;
	struct cf_attach att[2];
	struct cf_msg m;
	int c;
	size_t i;

	/* every control character, quote, backslash, slash, DEL, UTF-8 */
	for (c = 1; c < 0x20; c++)
		*q++ = (char)c;
	strcpy(q, "\"\\/\x7f \xc3\xa9\xf0\x9f\x99\x82 end");
	full_msg(&m, att);
	m.extra = NULL;
	for (i = 0; i < 64; i++) {
		m.id = (i & 1) ? all : (i & 2) ? (char *)"" : NULL;
		m.ts_raw = (i & 2) ? all : NULL;
		m.tz = (i & 4) ? (char *)"Europe/Paris" : NULL;
		m.sender = (i & 8) ? all : NULL;
		m.body = (i & 16) ? all : (i & 1) ? NULL : (char *)"";
		m.natt = (i & 32) ? 2 : (i & 4) ? 1 : 0;
		m.att = m.natt > 0 ? att : NULL;
		att[1].name = (i & 8) ? all : (char *)"b";
		m.ts_ms = (i & 1) ? -(int64_t)i * 977 : INT64_MAX - (int64_t)i;
		CHECK(put_both(&m));
	}
	/* refusals */
	m.body = (char *)"bad \xff utf-8";
	CHECK(put_both(&m));
	m.body = (char *)"ok";
	att[0].size = (uint64_t)INT64_MAX + 1;
	m.att = att;
	m.natt = 1;
	CHECK(put_both(&m));
	att[0].size = 5;
	att[0].name = NULL;
	CHECK(put_both(&m));
	m.att = NULL;
	CHECK(put_both(&m));
}

/* Put must refuse bad input and leave the buffer as it was. */
static int
put_fails(const struct cf_msg *m)
{
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	struct cf_msg ok;
	int rc;

	memset(&ok, 0, sizeof ok);
	ok.body = (char *)"fine";
	if (cf_record_put_msg(&buf, &len, &cap, &ok) != 0)
		return -1000;
	{
		size_t before = len;

		rc = cf_record_put_msg(&buf, &len, &cap, m);
		if (rc != 0 && len != before)
			rc = -1001;
	}
	free(buf);
	return rc;
}

static void
test_invalid_put(void)
{
	struct cf_msg m, base;
	struct cf_attach att[2];
	struct cf_seghdr h;
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;

	memset(&base, 0, sizeof base);
	base.body = (char *)"x";

	m = base;
	m.body = (char *)"bad \xff byte";
	CHECK_RC(put_fails(&m), -EINVAL);
	m = base;
	m.sender = (char *)"overlong \xc0\xaf";
	CHECK_RC(put_fails(&m), -EINVAL);
	m = base;
	m.id = (char *)"surrogate \xed\xa0\x80";
	CHECK_RC(put_fails(&m), -EINVAL);
	m = base;
	m.ts_raw = (char *)"truncated \xe6\x97";
	CHECK_RC(put_fails(&m), -EINVAL);
	m = base;
	m.tz = (char *)"too big \xf4\x90\x80\x80";
	CHECK_RC(put_fails(&m), -EINVAL);
	full_msg(&m, att);
	att[1].name = (char *)"\x80.txt";
	CHECK_RC(put_fails(&m), -EINVAL);
	full_msg(&m, att);
	att[1].name = NULL;
	CHECK_RC(put_fails(&m), -EINVAL);
	full_msg(&m, att);
	m.extra = (char *)"{\"k\":\"\xff\"}";
	CHECK_RC(put_fails(&m), -EINVAL);
	m.extra = (char *)"[1,2]";
	CHECK_RC(put_fails(&m), -EINVAL);
	m.extra = (char *)"{\"a\":1";
	CHECK_RC(put_fails(&m), -EINVAL);
	m.extra = (char *)"{\"a\":1} trailing";
	CHECK_RC(put_fails(&m), -EINVAL);
	m.extra = (char *)"{}";                 /* empty: simply omitted */
	CHECK_RC(put_fails(&m), 0);
	m = base;
	m.body = (char *)"4-byte \xf0\x9f\x99\x82 and 2-byte \xc3\xa9 are fine";
	CHECK_RC(put_fails(&m), 0);

	memset(&h, 0, sizeof h);
	h.title = (char *)"\xfe";
	CHECK_RC(cf_record_put_hdr(&buf, &len, &cap, &h), -EINVAL);
	CHECK(len == 0);
	free(buf);
}

static void
test_copy(void)
{
	struct cf_msg m, c;
	struct cf_attach att[2];

	full_msg(&m, att);
	m.seg_seq = 7;
	m.rec_idx = 9;
	CHECK_RC(cf_msg_copy(&c, &m), 0);
	CHECK(same_msg(&c, &m));
	CHECK(c.seg_seq == 7 && c.rec_idx == 9);
	CHECK(c.body != m.body && c.att != m.att && c.att[0].name != m.att[0].name);
	CHECK_STR(c.att[0].src_path, "/import/photo.jpg");
	CHECK(c.att[0].src_path != m.att[0].src_path);
	CHECK(c.att[1].src_path == NULL);
	cf_msg_clear(&c);
	CHECK(c.body == NULL && c.att == NULL && c.natt == 0 && c.ts_ms == 0);
	cf_msg_clear(NULL);

	memset(&m, 0, sizeof m);
	CHECK_RC(cf_msg_copy(&c, &m), 0);
	CHECK(c.body == NULL && c.id == NULL && c.att == NULL);
	cf_msg_clear(&c);
}

int
main(void)
{
	test_round_trip();
	test_many();
	test_malformed();
	test_fast_path();
	test_fast_put();
	test_invalid_put();
	test_copy();
	return CHECK_DONE("test_record");
}
