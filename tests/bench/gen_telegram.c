/*
 * gen_telegram.c - write a synthetic Telegram Desktop full-account export
 * (result.json) for the import benchmark.
 *
 * Usage: gen_telegram OUTPUT MESSAGES
 *
 * Deterministic (a fixed-seed generator): the same arguments always give
 * the same bytes.  The document looks like what Telegram Desktop writes:
 * one-space indentation, "about" and "personal_information" first, a
 * contacts list to skip, then chats.list[] and left_chats.list[] with
 * MESSAGES messages spread over chats of up to 20000 (the last one in
 * left_chats).  Messages mix plain
 * texts of 20 to 700 characters, entity arrays (links, text links,
 * mentions, bold, code), replies, edits, forwards, reactions, photos "not
 * included", service messages (calls, joins, pins), "\xHH" escapes and
 * non-ASCII text.  About 480 bytes per message on average: 630,000
 * messages make a file of about 300 MB.  Media paths are never real
 * files, so the export imports without a media folder.
 *
 * Standalone (only libc), so that it builds with nothing else:
 *   cc -O2 -o gen_telegram tests/bench/gen_telegram.c
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHAT_MAX 20000

static uint64_t rng_state = 0x243f6a8885a308d3ULL;   /* fixed seed */

/* xorshift64*: small, fast and the same everywhere. */
static uint32_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dULL) >> 32);
}

static uint32_t
pick(uint32_t n)
{
	return rng() % n;
}

static const char *const words[] = {
	"the", "meeting", "tomorrow", "report", "budget", "ok", "thanks", "see", "you",
	"at", "noon", "please", "review", "draft", "contract", "signed", "invoice",
	"shipment", "delayed", "call", "me", "when", "free", "café", "naïve",
	"déjà", "vu", "Grüße", "привет", "こんにちは", "👍", "🎉", "quarterly",
	"numbers", "look", "good", "bad", "send", "it", "to", "legal", "asap",
};
static const char *const people[] = {
	"Alice Martin", "Bob Stone", "Chloé Durand", "Dmitri Ivanov", "Eve Adams",
	"Fatima Zahra", "Gustav Berg", "Hana Sato",
};
#define NWORDS (sizeof words / sizeof words[0])
#define NPEOPLE (sizeof people / sizeof people[0])

/* A sentence of about len bytes (plain text, JSON-safe). */
static void
sentence(FILE *f, size_t len)
{
	size_t n = 0;
	const char *w;

	while (n < len) {
		w = words[pick(NWORDS)];
		if (n > 0) {
			fputc(' ', f);
			n++;
		}
		fputs(w, f);
		n += strlen(w);
	}
}

static void
date_fields(FILE *f, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char buf[32];

	gmtime_r(&tt, &tm);
	strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(f, "   \"date\": \"%s\",\n   \"date_unixtime\": \"%" PRId64 "\",\n", buf, t);
}

static void
text_plain(FILE *f, size_t len)
{
	fputs("   \"text\": \"", f);
	sentence(f, len);
	fputs("\",\n   \"text_entities\": [\n    {\n     \"type\": \"plain\",\n     \"text\": \"", f);
	fputs("(see text)", f);
	fputs("\"\n    }\n   ]\n", f);
}

static void
text_entities(FILE *f)
{
	fputs("   \"text\": [\n    \"", f);
	sentence(f, 20 + pick(60));
	fputs(" \",\n    {\n     \"type\": \"text_link\",\n     \"text\": \"the doc\",\n"
	    "     \"href\": \"https://example.org/d/", f);
	fprintf(f, "%u\"\n    },\n    \" cc \",\n    {\n     \"type\": \"mention\",\n"
	    "     \"text\": \"@user%u\"\n    },\n    {\n     \"type\": \"bold\",\n"
	    "     \"text\": \"", pick(100000), pick(1000));
	sentence(f, 10);
	fputs("\"\n    },\n    {\n     \"type\": \"code\",\n     \"text\": \"make check\"\n"
	    "    }\n   ],\n   \"text_entities\": []\n", f);
}

static void
message(FILE *f, int64_t id, int64_t t, int first)
{
	uint32_t r = pick(100), who = pick(NPEOPLE);

	fputs(first ? "\n" : ",\n", f);
	fprintf(f, "  {\n   \"id\": %" PRId64 ",\n", id);
	if (r < 5) {
		static const char *const actions[] = { "joined_telegram", "pin_message",
		    "phone_call" };
		uint32_t a = pick(3);

		fputs("   \"type\": \"service\",\n", f);
		date_fields(f, t);
		fprintf(f, "   \"actor\": \"%s\",\n   \"actor_id\": \"user%u\",\n"
		    "   \"action\": \"%s\",\n", people[who], 1000 + who, actions[a]);
		if (a == 2)
			fprintf(f, "   \"duration_seconds\": %u,\n   \"discard_reason\": \"hangup\",\n",
			    pick(3600));
		if (a == 1)
			fprintf(f, "   \"message_id\": %" PRId64 ",\n", id > 1 ? id - 1 : 1);
		fputs("   \"text\": \"\",\n   \"text_entities\": []\n  }", f);
		return;
	}
	fputs("   \"type\": \"message\",\n", f);
	date_fields(f, t);
	if (r < 15) {
		fputs("   \"edited\": \"2024-01-01T00:00:00\",\n", f);
		fprintf(f, "   \"edited_unixtime\": \"%" PRId64 "\",\n", t + 60);
	}
	fprintf(f, "   \"from\": \"%s\",\n   \"from_id\": \"user%u\",\n", people[who], 1000 + who);
	if (r >= 15 && r < 25 && id > 1)
		fprintf(f, "   \"reply_to_message_id\": %" PRId64 ",\n", id - 1 - pick(10) % id);
	if (r >= 25 && r < 28)
		fprintf(f, "   \"forwarded_from\": \"%s\",\n", people[pick(NPEOPLE)]);
	if (r >= 28 && r < 36)
		fputs("   \"photo\": \"(File not included. Change data exporting settings to "
		    "download.)\",\n   \"width\": 1280,\n   \"height\": 960,\n", f);
	if (r >= 36 && r < 40)
		fputs("   \"text\": \"tab\\x09bell\\x07 escapes\",\n   \"text_entities\": []\n", f);
	else if (r >= 40 && r < 52)
		text_entities(f);
	else
		text_plain(f, 20 + pick(pick(4) == 0 ? 700 : 200));
	if (r >= 52 && r < 56)
		fprintf(f, "   ,\"reactions\": [\n    {\n     \"type\": \"emoji\",\n"
		    "     \"count\": %u,\n     \"emoji\": \"👍\",\n     \"recent\": [\n      {\n"
		    "       \"from\": \"%s\",\n       \"from_id\": \"user1\",\n"
		    "       \"date\": \"2024-01-01T00:00:00\"\n      }\n     ]\n    }\n   ]\n",
		    1 + pick(5), people[pick(NPEOPLE)]);
	fputs("  }", f);
}

int
main(int argc, char **argv)
{
	unsigned long long total, done = 0, chat = 0, n, i;
	int64_t t = 1600000000;
	char *end;
	FILE *f;
	int left = 0, list_first = 1;

	if (argc != 3) {
		fprintf(stderr, "usage: gen_telegram OUTPUT MESSAGES\n");
		return 2;
	}
	errno = 0;
	total = strtoull(argv[2], &end, 10);
	if (errno != 0 || *end != '\0' || argv[2][0] == '-') {
		fprintf(stderr, "gen_telegram: %s: not a number of messages\n", argv[2]);
		return 2;
	}
	f = fopen(argv[1], "w");
	if (f == NULL) {
		fprintf(stderr, "gen_telegram: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	fputs("{\n \"about\": \"Here is the data you requested.\",\n"
	    " \"personal_information\": {\n  \"user_id\": 1000,\n  \"first_name\": \"Alice\",\n"
	    "  \"last_name\": \"Martin\",\n  \"phone_number\": \"+00 000 000\"\n },\n"
	    " \"contacts\": {\n  \"about\": \"contacts\",\n  \"list\": [", f);
	for (i = 0; i < 2000; i++)
		fprintf(f, "%s\n   {\n    \"user_id\": %llu,\n    \"first_name\": \"Contact\",\n"
		    "    \"last_name\": \"%llu\",\n    \"phone_number\": \"+00 %llu\",\n"
		    "    \"date\": \"2020-01-01T00:00:00\",\n    \"date_unixtime\": \"1577836800\"\n   }",
		    i ? "," : "", 5000 + i, i, i);
	fputs("\n  ]\n },\n \"chats\": {\n  \"about\": \"chats\",\n  \"list\": [", f);
	while (done < total || chat == 0) {
		n = total - done < CHAT_MAX ? total - done : CHAT_MAX;
		/* The last chat (when there are several) goes to left_chats */
		if (!left && chat > 0 && n == total - done) {
			fputs("\n  ]\n },\n \"left_chats\": {\n  \"about\": \"left\",\n  \"list\": [", f);
			left = 1;
			list_first = 1;
		}
		fputs(list_first ? "\n" : ",\n", f);
		list_first = 0;
		fprintf(f, "   {\n    \"name\": \"Chat %llu\",\n    \"type\": \"%s\",\n"
		    "    \"id\": %llu,\n    \"messages\": [", chat, chat % 3 ? "private_supergroup" :
		    "personal_chat", 900000000ULL + chat);
		for (i = 0; i < n; i++) {
			t += 1 + pick(600);
			message(f, (int64_t)i + 1, t, i == 0);
		}
		fputs("\n    ]\n   }", f);
		done += n;
		chat++;
		if (n == 0)
			break;
	}
	fputs("\n  ]\n }\n}\n", f);
	if (fclose(f) != 0) {
		fprintf(stderr, "gen_telegram: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	return 0;
}
