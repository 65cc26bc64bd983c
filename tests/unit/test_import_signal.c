/*
 * test_import_signal.c - the Signal importer: detection; sigtop JSON
 * (names learnt across files, mentions with UTF-16 ranges after multi-byte
 * text, quotes, edits, reactions, system events, attachments present,
 * renamed by sigtop's "-2" rule, missing and pending); signal-export
 * folders (data.json preferred over chat.md, chat.md grammar with quotes,
 * reactions, stickers, deleted messages, media links with %20, the "dup"
 * numbering, the older "[YYYY-MM-DD, HH:MM]" variant with CRLF); the exact
 * error messages; and the shared corpus file(s).
 *
 * Fixtures: tests/fixtures/signal/ (relative to the current directory, or
 * to $COFFER_SRCDIR or $COFFER_TOP).  Corpus: $COFFER_CORPUS, else
 * ../shared/corpus; when it is missing the corpus part is skipped (exit 77
 * once everything else passed).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "check.h"
#include "testlib.h"
#include "crypto.h"
#include "import.h"
#include "util.h"

static char fixdir[PATH_MAX];
static char tmpdir[PATH_MAX];
static char corpus_dir[PATH_MAX];

/* ---- what a parse produced -------------------------------------------- */

struct got {
	char *chat, *title;
	struct cf_msg m;
};

static struct got *gv;
static size_t gn;

static void
got_clear(void)
{
	size_t i;

	for (i = 0; i < gn; i++) {
		free(gv[i].chat);
		free(gv[i].title);
		cf_msg_clear(&gv[i].m);
	}
	free(gv);
	gv = NULL;
	gn = 0;
}

static int
collect(const char *chat, const char *title, const struct cf_msg *m, void *arg)
{
	struct got *nv = realloc(gv, (gn + 1) * sizeof(*nv));

	(void)arg;
	REQUIRE(nv != NULL);
	gv = nv;
	memset(&gv[gn], 0, sizeof(gv[gn]));
	gv[gn].chat = strdup(chat);
	gv[gn].title = title != NULL ? strdup(title) : NULL;
	REQUIRE(cf_msg_copy(&gv[gn].m, m) == 0);
	gn++;
	return 0;
}

/* Parse path (tz) into a fresh batch, keep what it produced in gv[], and
 * the error text in err. */
static int
parse(const char *path, const char *tz, char *err, size_t errlen)
{
	struct cf_import_opts o = { .tz = tz };
	struct cf_batch *b = NULL;
	int rc;

	got_clear();
	REQUIRE(cf_batch_new(&b, "signal", tz) == 0);
	capture_begin(tmpdir);
	rc = cf_importer_signal.parse(path, b, &o);
	capture_end(err, errlen);
	REQUIRE(cf_batch_foreach(b, collect, NULL) == 0);
	CHECK(cf_batch_messages(b) == gn);
	cf_batch_free(b);
	return rc;
}

static void
fix(char *buf, size_t n, const char *rel)
{
	REQUIRE(cf_path(buf, n, "%s/%s", fixdir, rel) == 0);
}

/* The message with this id, or NULL. */
static const struct got *
by_id(const char *id)
{
	size_t i;

	for (i = 0; i < gn; i++)
		if (gv[i].m.id != NULL && strcmp(gv[i].m.id, id) == 0)
			return &gv[i];
	return NULL;
}

/* extra parsed (caller decrefs); an empty object when there is none. */
static json_t *
extra_of(const struct got *g)
{
	json_t *j;

	if (g == NULL || g->m.extra == NULL)
		return json_object();
	j = json_loads(g->m.extra, 0, NULL);
	REQUIRE(j != NULL);
	return j;
}

static const char *
xstr(json_t *x, const char *key)
{
	return json_string_value(json_object_get(x, key));
}

/* ---- detection ------------------------------------------------------------ */

static void
test_detect(void)
{
	char p[PATH_MAX];

	fix(p, sizeof p, "sigtop");
	CHECK(cf_importer_signal.detect(p) == 1);
	fix(p, sizeof p, "sigtop/Book Club (group).json");
	CHECK(cf_importer_signal.detect(p) == 1);
	CHECK(cf_importer_detect(p) == &cf_importer_signal);
	fix(p, sizeof p, "sigexport");
	CHECK(cf_importer_signal.detect(p) == 1);
	fix(p, sizeof p, "sigexport/Dave");
	CHECK(cf_importer_signal.detect(p) == 1);
	fix(p, sizeof p, "sigexport/Carol/data.json");
	CHECK(cf_importer_signal.detect(p) == 1);
	/* the JSON Lines importer would take data.json: signal comes first */
	CHECK(cf_importer_detect(p) == &cf_importer_signal);
	fix(p, sizeof p, "sigexport/Dave/chat.md");
	CHECK(cf_importer_signal.detect(p) == 1);
	fix(p, sizeof p, "old-variant.txt");
	CHECK(cf_importer_signal.detect(p) == 1);

	/* not Signal: JSONL, a Slack day file, Telegram, WhatsApp, empty */
	REQUIRE(cf_path(p, sizeof p, "%s/x.jsonl", tmpdir) == 0);
	write_file(p, "{\"chat\":\"c\",\"ts\":\"2025-01-01T00:00:00Z\",\"sender\":\"a\",\"body\":\"b\"}\n");
	CHECK(cf_importer_signal.detect(p) == 0);
	REQUIRE(cf_path(p, sizeof p, "%s/2016-01-14.json", tmpdir) == 0);
	write_file(p, "[\n {\"type\": \"message\", \"user\": \"U1\", \"text\": \"hi\", "
	    "\"ts\": \"1452800000.000002\"}\n]\n");
	CHECK(cf_importer_signal.detect(p) == 0);
	REQUIRE(cf_path(p, sizeof p, "%s/dms.json", tmpdir) == 0);
	write_file(p, "[]\n");                 /* an empty list: not sigtop's */
	CHECK(cf_importer_signal.detect(p) == 0);
	unlink(p);
	REQUIRE(cf_path(p, sizeof p, "%s/result.json", tmpdir) == 0);
	write_file(p, "{\n \"name\": \"A\",\n \"type\": \"personal_chat\",\n \"id\": 1,\n "
	    "\"messages\": []\n}\n");
	CHECK(cf_importer_signal.detect(p) == 0);
	REQUIRE(cf_path(p, sizeof p, "%s/wa.txt", tmpdir) == 0);
	write_file(p, "13/03/2025, 19:44 - Alice: hello\n");
	CHECK(cf_importer_signal.detect(p) == 0);
	/* WhatsApp iOS with an ISO date: only as chat.md / .md */
	write_file(p, "[2021-03-14 18:22:05] Alice: hej\n");
	CHECK(cf_importer_signal.detect(p) == 0);
	REQUIRE(cf_path(p, sizeof p, "%s/empty", tmpdir) == 0);
	write_file(p, "");
	CHECK(cf_importer_signal.detect(p) == 0);
	CHECK(cf_importer_signal.detect(tmpdir) == 0);
	REQUIRE(cf_path(p, sizeof p, "%s/nope", tmpdir) == 0);
	CHECK(cf_importer_signal.detect(p) == 0);
	CHECK(cf_importer_find("signal") == &cf_importer_signal);
	CHECK_STR(cf_importer_signal.name, "signal");
	REQUIRE(cf_path(p, sizeof p, "%s/empty", tmpdir) == 0);
	unlink(p);
}

/* ---- sigtop ----------------------------------------------------------------- */

static void
test_sigtop(void)
{
	char p[PATH_MAX], want[PATH_MAX], err[4096];
	const struct got *g;
	json_t *x, *a, *r;
	size_t i, alice = 0, group = 0;

	fix(p, sizeof p, "sigtop");
	CHECK_RC(parse(p, "America/New_York", err, sizeof err), 0);
	CHECK_STR(err, "");
	CHECK(gn == 14);
	for (i = 0; i < gn; i++) {
		if (strcmp(gv[i].chat, "c0a11ce0-0000-4000-8000-000000000001") == 0) {
			alice++;
			CHECK_STR(gv[i].title, "Alice Example");
		} else if (strcmp(gv[i].chat, "c0b00c00-0000-4000-8000-000000000002") == 0) {
			group++;
			CHECK_STR(gv[i].title, "Book Club");
		}
		CHECK(gv[i].m.tz == NULL);      /* epoch ms: absolute */
		CHECK(gv[i].m.body != NULL);
	}
	CHECK(alice == 9);
	CHECK(group == 5);

	/* a plain incoming message of a contact file */
	g = by_id("msg-a1");
	REQUIRE(g != NULL);
	CHECK(g->m.ts_ms == 1700000000000);
	CHECK_STR(g->m.ts_raw, "1700000000000");
	CHECK_STR(g->m.sender, "Alice Example");
	CHECK_STR(g->m.body, "Hi there \xf0\x9f\x91\x8b");
	x = extra_of(g);
	CHECK(json_object_get(x, "kind") == NULL);
	CHECK_STR(xstr(json_object_get(x, "source"), "id"), "msg-a1");
	json_decref(x);

	/* attachments: two "holiday.jpg" (the second saved as holiday-2.jpg),
	 * one never exported, one pending; keys not kept */
	g = by_id("msg-a2");
	REQUIRE(g != NULL);
	CHECK_STR(g->m.sender, "Me");
	REQUIRE(g->m.natt == 2);
	CHECK_STR(g->m.att[0].name, "holiday.jpg");
	CHECK_STR(g->m.att[1].name, "holiday.jpg");
	fix(want, sizeof want, "sigtop/Alice Example (+15550001111)/holiday.jpg");
	CHECK_STR(g->m.att[0].src_path, want);
	CHECK(g->m.att[0].size == 9);
	fix(want, sizeof want, "sigtop/Alice Example (+15550001111)/holiday-2.jpg");
	CHECK_STR(g->m.att[1].src_path, want);
	CHECK(g->m.att[1].size == 10);
	x = extra_of(g);
	a = json_object_get(x, "missing_attachments");
	CHECK(json_array_size(a) == 2);
	CHECK_STR(xstr(json_array_get(a, 0), "name"), "report.pdf");
	CHECK_STR(xstr(json_array_get(a, 0), "reason"), "not exported");
	CHECK_STR(xstr(json_array_get(a, 1), "name"), "attachment");
	CHECK_STR(xstr(json_array_get(a, 1), "reason"), "not downloaded by Signal Desktop");
	CHECK(strstr(g->m.extra, "localKey") == NULL);
	CHECK(strstr(g->m.extra, "U0VDUkVUS0VZ") == NULL);
	CHECK(json_array_size(json_object_get(json_object_get(x, "source"), "attachments")) == 4);
	json_decref(x);

	/* a quote: reply_to is the quoted message's id, found by sent_at */
	g = by_id("msg-a3");
	REQUIRE(g != NULL);
	x = extra_of(g);
	CHECK_STR(xstr(x, "reply_to"), "msg-a2");
	r = json_object_get(x, "quote");
	CHECK(json_integer_value(json_object_get(r, "id")) == 1700000060000);
	CHECK_STR(xstr(r, "author"), "Me");
	CHECK_STR(xstr(r, "text"), "Hello Alice");
	CHECK_STR(json_string_value(json_array_get(json_object_get(r, "attachments"), 0)),
	    "holiday.jpg");
	CHECK(g->m.natt == 0);
	json_decref(x);

	/* edits: body the latest, earlier versions oldest first; reactions
	 * grouped, removed ones dropped, unknown reactor kept as its id */
	g = by_id("msg-a4");
	REQUIRE(g != NULL);
	CHECK_STR(g->m.body, "See you at 6pm");
	CHECK(g->m.ts_ms == 1700000180000);
	x = extra_of(g);
	a = json_object_get(x, "edits");
	REQUIRE(json_array_size(a) == 2);
	CHECK(json_integer_value(json_object_get(json_array_get(a, 0), "ts")) == 1700000180000);
	CHECK_STR(xstr(json_array_get(a, 0), "body"), "See you at 5pm");
	CHECK(json_integer_value(json_object_get(json_array_get(a, 1), "ts")) == 1700000240000);
	CHECK_STR(xstr(json_array_get(a, 1), "body"), "See you at 5.30pm");
	a = json_object_get(x, "reactions");
	REQUIRE(json_array_size(a) == 1);
	r = json_array_get(a, 0);
	CHECK_STR(xstr(r, "emoji"), "\xf0\x9f\x91\x8d");
	CHECK(json_integer_value(json_object_get(r, "count")) == 2);
	CHECK_STR(json_string_value(json_array_get(json_object_get(r, "by"), 0)), "Alice Example");
	CHECK_STR(json_string_value(json_array_get(json_object_get(r, "by"), 1)),
	    "c0ffee00-0000-4000-8000-000000000003");
	json_decref(x);

	/* system events: no sender, kind, a readable body */
	g = by_id("msg-a5");
	REQUIRE(g != NULL);
	CHECK(g->m.sender == NULL);
	CHECK_STR(g->m.body, "Disappearing message time set to 3600 seconds");
	x = extra_of(g);
	CHECK_STR(xstr(x, "kind"), "system");
	CHECK_STR(xstr(x, "signal_type"), "timer-notification");
	json_decref(x);
	g = by_id("msg-a6");
	REQUIRE(g != NULL);
	CHECK(g->m.sender == NULL);
	CHECK_STR(g->m.body, "Safety number changed");
	g = by_id("msg-a7");
	REQUIRE(g != NULL);
	CHECK(g->m.sender == NULL);
	CHECK_STR(g->m.body, "Missed voice call");
	x = extra_of(g);
	CHECK_STR(xstr(x, "kind"), "call");
	json_decref(x);
	g = by_id("msg-a8");
	REQUIRE(g != NULL);
	CHECK_STR(g->m.sender, "Alice Example");
	CHECK_STR(g->m.body, "This message was deleted.");
	x = extra_of(g);
	CHECK_STR(xstr(x, "kind"), "deleted");
	json_decref(x);
	g = by_id("msg-a9");
	REQUIRE(g != NULL);
	CHECK_STR(g->m.body, "\xf0\x9f\x90\xb1");
	x = extra_of(g);
	CHECK_STR(xstr(x, "kind"), "sticker");
	json_decref(x);

	/* the group */
	g = by_id("msg-g1");
	REQUIRE(g != NULL);
	CHECK(g->m.sender == NULL);
	CHECK_STR(g->m.body, "Group created; Group name changed to \"Book Club\"");
	/* mentions: UTF-16 offsets after "ü", "ß", an emoji (2 units) and
	 * CJK; names learnt from Alice's file and from outgoing messages;
	 * the sender has no contact file: its phone number */
	g = by_id("msg-g2");
	REQUIRE(g != NULL);
	CHECK_STR(g->m.sender, "+15550002222");
	CHECK_STR(g->m.body, "Gr\xc3\xbc\xc3\x9f" "e \xf0\x9f\x98\x80 @Alice Example, see "
	    "\xe6\x97\xa5\xe6\x9c\xac @Me!");
	g = by_id("msg-g3");
	REQUIRE(g != NULL);
	CHECK_STR(g->m.sender, "Alice Example");        /* learnt by service id */
	g = by_id("msg-g4");
	REQUIRE(g != NULL);
	CHECK_STR(g->m.body, "@Dora thanks");           /* replacementText, mentionUuid */
	x = extra_of(g);
	CHECK_STR(xstr(x, "reply_to"), "msg-g2");
	r = json_object_get(x, "quote");
	CHECK_STR(xstr(r, "author"), "bbbbbbbb-2222-4222-8222-bbbbbbbbbbbb");
	CHECK_STR(xstr(r, "text"), "Gr\xc3\xbc\xc3\x9f" "e \xf0\x9f\x98\x80 @Alice Example, see "
	    "\xe6\x97\xa5\xe6\x9c\xac @Me!");
	json_decref(x);
	/* a range inside a surrogate pair: the body stays as it is */
	g = by_id("msg-g5");
	REQUIRE(g != NULL);
	CHECK_STR(g->m.body, "\xf0\x9f\x98\x80\xef\xbf\xbc");

	/* one file alone: names come from that file only */
	fix(p, sizeof p, "sigtop/Book Club (group).json");
	CHECK_RC(parse(p, "UTC", err, sizeof err), 0);
	CHECK(gn == 5);
	g = by_id("msg-g3");
	REQUIRE(g != NULL);
	CHECK_STR(g->m.sender, "aaaaaaaa-1111-4111-8111-aaaaaaaaaaaa");
	g = by_id("msg-g2");
	REQUIRE(g != NULL);
	CHECK_STR(g->m.body, "Gr\xc3\xbc\xc3\x9f" "e \xf0\x9f\x98\x80 "
	    "@aaaaaaaa-1111-4111-8111-aaaaaaaaaaaa, see \xe6\x97\xa5\xe6\x9c\xac @Me!");
	got_clear();
}

/* Attachment named without fileName: "attachment-<local time><ext>". */
static void
test_sigtop_generated_name(void)
{
	char dir[PATH_MAX], p[PATH_MAX], err[1024];
	json_t *x;

	REQUIRE(cf_path(dir, sizeof dir, "%s/gen", tmpdir) == 0);
	REQUIRE(mkdir(dir, 0700) == 0);
	REQUIRE(cf_path(p, sizeof p, "%s/Zed (+1555).json", dir) == 0);
	write_file(p, "[\n{\"id\":\"z1\",\"conversationId\":\"cz\",\"type\":\"incoming\","
	    "\"sent_at\":1700000000000,\"body\":\"\",\"attachments\":[{\"contentType\":"
	    "\"image/png\",\"size\":3},{\"contentType\":\"application/x-odd\",\"size\":3}]}\n]\n");
	REQUIRE(cf_path(p, sizeof p, "%s/Zed (+1555)", dir) == 0);
	REQUIRE(mkdir(p, 0700) == 0);
	/* 2023-11-14 17:13:20 in New York */
	REQUIRE(cf_path(p, sizeof p, "%s/Zed (+1555)/attachment-2023-11-14-17-13-20.png", dir) == 0);
	write_file(p, "PNG");
	REQUIRE(cf_path(p, sizeof p, "%s/Zed (+1555).json", dir) == 0);
	CHECK_RC(parse(p, "America/New_York", err, sizeof err), 0);
	REQUIRE(gn == 1);
	CHECK_STR(gv[0].title, "Zed");
	CHECK_STR(gv[0].m.sender, "Zed");
	REQUIRE(gv[0].m.natt == 1);
	CHECK_STR(gv[0].m.att[0].name, "attachment-2023-11-14-17-13-20.png");
	x = extra_of(&gv[0]);
	CHECK(json_array_size(json_object_get(x, "missing_attachments")) == 1);
	json_decref(x);
	/* the same export read in another zone does not find the file */
	CHECK_RC(parse(p, "UTC", err, sizeof err), 0);
	REQUIRE(gn == 1);
	CHECK(gv[0].m.natt == 0);
	got_clear();
}

/* ---- signal-export ---------------------------------------------------------- */

static void
test_sigexport(void)
{
	char p[PATH_MAX], want[PATH_MAX], err[4096];
	const struct got *g;
	json_t *x, *a;
	size_t i, carol = 0, dave = 0;

	fix(p, sizeof p, "sigexport");
	CHECK_RC(parse(p, "Europe/Paris", err, sizeof err), 0);
	CHECK_STR(err, "");
	CHECK(gn == 14);
	for (i = 0; i < gn; i++) {
		CHECK(gv[i].m.id == NULL);
		CHECK_STR(gv[i].m.tz, "Europe/Paris");
		CHECK_STR(gv[i].title, gv[i].chat);
		carol += strcmp(gv[i].chat, "Carol") == 0;
		dave += strcmp(gv[i].chat, "Dave") == 0;
	}
	/* data.json, not chat.md, for Carol */
	REQUIRE(carol == 6);
	REQUIRE(dave == 8);
	REQUIRE(strcmp(gv[0].chat, "Carol") == 0);

	g = &gv[0];
	CHECK(g->m.ts_ms == 1682937296000);     /* 12:34:56 in Paris (UTC+2) */
	CHECK_STR(g->m.ts_raw, "2023-05-01T12:34:56");
	CHECK_STR(g->m.sender, "Carol");
	CHECK_STR(g->m.body, "Hi Me");
	x = extra_of(g);
	a = json_array_get(json_object_get(x, "reactions"), 0);
	CHECK(json_integer_value(json_object_get(a, "count")) == 2);
	CHECK_STR(json_string_value(json_array_get(json_object_get(a, "by"), 1)), "Dave");
	CHECK_STR(xstr(json_object_get(x, "source"), "date"), "2023-05-01T12:34:56");
	json_decref(x);

	g = &gv[1];
	CHECK(g->m.ts_ms == 1682937310250);
	CHECK_STR(g->m.sender, "Me");
	CHECK_STR(g->m.body, "Look");
	REQUIRE(g->m.natt == 1);
	CHECK_STR(g->m.att[0].name, "2023-05-01T12-35-10.250_00_cat.jpg");
	fix(want, sizeof want, "sigexport/Carol/media/2023-05-01T12-35-10.250_00_cat.jpg");
	CHECK_STR(g->m.att[0].src_path, want);
	x = extra_of(g);
	CHECK_STR(xstr(json_object_get(x, "quote"), "text"), "Hi Me");
	a = json_object_get(x, "missing_attachments");
	CHECK(json_array_size(a) == 1);
	CHECK_STR(xstr(json_array_get(a, 0), "name"), "gone.pdf");
	json_decref(x);

	x = extra_of(&gv[2]);
	CHECK_STR(xstr(x, "kind"), "deleted");
	CHECK_STR(gv[2].m.body, "This message was deleted.");
	json_decref(x);
	x = extra_of(&gv[3]);
	CHECK_STR(xstr(x, "kind"), "call");
	CHECK_STR(gv[3].m.body, "Missed voice call");
	json_decref(x);
	/* identical messages: the second is numbered */
	x = extra_of(&gv[4]);
	CHECK(json_object_get(x, "dup") == NULL);
	json_decref(x);
	x = extra_of(&gv[5]);
	CHECK(json_integer_value(json_object_get(x, "dup")) == 1);
	json_decref(x);
	CHECK(gv[4].m.ts_ms == gv[5].m.ts_ms);

	/* Dave: chat.md */
	g = &gv[6];
	CHECK_STR(g->chat, "Dave");
	CHECK(g->m.ts_ms == 1685696400000 - 7200000);
	CHECK_STR(g->m.ts_raw, "2023-06-02 09:00:00");
	CHECK_STR(g->m.sender, "Dave");
	CHECK_STR(g->m.body, "Morning! Multi-line\nsecond line");
	x = extra_of(g);
	CHECK_STR(xstr(x, "source_text"), "[2023-06-02 09:00:00] Dave: Morning! Multi-line\n"
	    "second line  ");
	json_decref(x);

	g = &gv[7];
	CHECK_STR(g->m.sender, "Me");
	CHECK_STR(g->m.body, "Reply with photo");
	REQUIRE(g->m.natt == 2);
	CHECK_STR(g->m.att[0].name, "2023-06-02T09-01-30.000_00_photo_(1).jpg");
	CHECK_STR(g->m.att[1].name, "notes final.txt");
	fix(want, sizeof want, "sigexport/Dave/media/notes final.txt");
	CHECK_STR(g->m.att[1].src_path, want);
	x = extra_of(g);
	CHECK_STR(xstr(json_object_get(x, "quote"), "text"), "Morning! Multi-line\nsecond line");
	a = json_object_get(x, "missing_attachments");
	CHECK(json_array_size(a) == 1);
	CHECK_STR(xstr(json_array_get(a, 0), "name"), "lost.mp3");
	json_decref(x);

	g = &gv[8];
	CHECK_STR(g->m.body, "nice");
	x = extra_of(g);
	a = json_object_get(x, "reactions");
	REQUIRE(json_array_size(a) == 2);
	CHECK_STR(xstr(json_array_get(a, 0), "emoji"), "\xf0\x9f\x98\x80");
	CHECK(json_integer_value(json_object_get(json_array_get(a, 0), "count")) == 2);
	CHECK_STR(json_string_value(json_array_get(json_object_get(json_array_get(a, 0), "by"),
	    1)), "Eve");
	json_decref(x);

	x = extra_of(&gv[9]);
	CHECK_STR(xstr(x, "kind"), "deleted");
	json_decref(x);
	x = extra_of(&gv[10]);
	CHECK_STR(xstr(x, "kind"), "sticker");
	CHECK_STR(gv[10].m.body, "\xf0\x9f\x90\xb6");
	json_decref(x);
	CHECK_STR(gv[11].m.body, "same");
	CHECK_STR(gv[12].m.body, "same");
	x = extra_of(&gv[12]);
	CHECK(json_integer_value(json_object_get(x, "dup")) == 1);
	json_decref(x);
	/* a markdown link to the web is text, not an attachment */
	CHECK_STR(gv[13].m.body, "link [site](https://example.org)");
	CHECK(gv[13].m.natt == 0);

	/* one conversation folder, and its chat.md alone */
	fix(p, sizeof p, "sigexport/Dave");
	CHECK_RC(parse(p, "Europe/Paris", err, sizeof err), 0);
	CHECK(gn == 8);
	CHECK_STR(gv[0].chat, "Dave");
	fix(p, sizeof p, "sigexport/Carol/chat.md");
	CHECK_RC(parse(p, "UTC", err, sizeof err), 0);
	REQUIRE(gn == 1);
	CHECK_STR(gv[0].chat, "Carol");
	CHECK_STR(gv[0].m.body, "only in chat.md");
	CHECK(gv[0].m.ts_ms == 1682944496000);
	got_clear();
}

static void
test_old_variant(void)
{
	char p[PATH_MAX], err[1024];
	json_t *x;

	fix(p, sizeof p, "old-variant.txt");
	CHECK_RC(parse(p, "UTC", err, sizeof err), 0);
	REQUIRE(gn == 3);
	CHECK_STR(gv[0].chat, "old-variant");
	CHECK_STR(gv[0].m.sender, "Zo\xc3\xab");
	CHECK_STR(gv[0].m.body, "Gr\xc3\xbc\xc3\x9f dich");
	CHECK(gv[0].m.ts_ms == 1612325100000);
	CHECK_STR(gv[0].m.ts_raw, "2021-02-03, 04:05");
	CHECK_STR(gv[0].m.tz, "UTC");
	CHECK_STR(gv[1].m.body, "Salut\n\xc3\xa7" "a va?\n\nbien");
	CHECK(gv[1].m.ts_ms == 1612325160000);
	x = extra_of(&gv[1]);
	CHECK_STR(xstr(x, "source_text"), "[2021-02-03, 04:06] Yann: Salut\n\xc3\xa7" "a va?\n\nbien");
	json_decref(x);
	CHECK_STR(gv[2].m.body, "\xf0\x9f\x91\x8d");   /* no final newline */
	CHECK(gv[2].m.ts_ms == 1612325220000);
	/* another zone, another instant */
	CHECK_RC(parse(p, "Asia/Tokyo", err, sizeof err), 0);
	REQUIRE(gn == 3);
	CHECK(gv[0].m.ts_ms == 1612325100000 - 9 * 3600000);
	CHECK_STR(gv[0].m.tz, "Asia/Tokyo");
	got_clear();
}

/* ---- errors ----------------------------------------------------------------- */

static void
test_errors(void)
{
	char p[PATH_MAX], want[PATH_MAX + 200], err[4096];

	fix(p, sizeof p, "bad/truncated.json");
	CHECK_RC(parse(p, "UTC", err, sizeof err), -EINVAL);
	REQUIRE(cf_path(want, sizeof want, "coffer: %s:3: [1]: truncated JSON", p) == 0);
	CHECK_STR(err, want);

	fix(p, sizeof p, "bad/sent-at.json");
	CHECK_RC(parse(p, "UTC", err, sizeof err), -EINVAL);
	REQUIRE(cf_path(want, sizeof want, "coffer: %s:3: [1].sent_at: must be an integer",
	    p) == 0);
	CHECK_STR(err, want);
	CHECK(strstr(err, "yesterday") == NULL);

	fix(p, sizeof p, "bad/header.md");
	CHECK_RC(parse(p, "UTC", err, sizeof err), -EINVAL);
	REQUIRE(cf_path(want, sizeof want, "coffer: %s:1: not a Signal chat.md message header",
	    p) == 0);
	CHECK_STR(err, want);
	CHECK(strstr(err, "hello") == NULL);

	fix(p, sizeof p, "bad/date");
	CHECK_RC(parse(p, "UTC", err, sizeof err), -EINVAL);
	fix(p, sizeof p, "bad/date/data.json");
	REQUIRE(cf_path(want, sizeof want, "coffer: %s:2: \"date\" is not an ISO 8601 date-time",
	    p) == 0);
	CHECK_STR(err, want);

	/* a media link leaving the export */
	REQUIRE(cf_path(p, sizeof p, "%s/chat.md", tmpdir) == 0);
	write_file(p, "[2023-06-02 09:00:00] Dave: x  [f](./media/../../../etc/passwd)  \n\n");
	CHECK_RC(parse(p, "UTC", err, sizeof err), -EINVAL);
	REQUIRE(cf_path(want, sizeof want, "coffer: %s:1: attachment link outside the export's "
	    "media folder", p) == 0);
	CHECK_STR(err, want);
	unlink(p);

	/* a zone nobody knows, a folder without Signal files */
	fix(p, sizeof p, "old-variant.txt");
	CHECK_RC(parse(p, "Mars/Olympus", err, sizeof err), -EINVAL);
	CHECK_STR(err, "coffer: Mars/Olympus: unknown time zone");
	CHECK_RC(parse(tmpdir, "UTC", err, sizeof err), -EINVAL);
	REQUIRE(cf_path(want, sizeof want, "coffer: %s: no Signal export here (sigtop .json "
	    "files, or signal-export folders with chat.md or data.json)", tmpdir) == 0);
	CHECK_STR(err, want);
	got_clear();
}

/* ---- the shared corpus ---------------------------------------------------- */

static int
test_corpus(void)
{
	const char *env = getenv("COFFER_CORPUS");
	char dir[PATH_MAX], p[PATH_MAX], err[1024];
	struct stat st;

	REQUIRE(cf_path(dir, sizeof dir, "%s", env != NULL && *env != '\0' ? env :
	    "../shared/corpus") == 0);
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(corpus_dir, sizeof corpus_dir, "%s", dir);
		return 77;
	}
	/* signal/chat-miner/test_export.txt: the older sigexport chat.md */
	REQUIRE(cf_path(p, sizeof p, "%s/signal/chat-miner/test_export.txt", dir) == 0);
	CHECK(cf_importer_signal.detect(p) == 1);
	CHECK_RC(parse(p, "UTC", err, sizeof err), 0);
	CHECK_STR(err, "");
	REQUIRE(gn == 2);
	CHECK_STR(gv[0].chat, "test_export");
	CHECK_STR(gv[0].title, "test_export");
	CHECK(gv[0].m.id == NULL);
	CHECK_STR(gv[0].m.sender, "Jane Doe");
	CHECK_STR(gv[0].m.body, "Hello John!");
	CHECK(gv[0].m.ts_ms == 1577190180000);
	CHECK_STR(gv[0].m.ts_raw, "2019-12-24, 12:23");
	CHECK_STR(gv[0].m.tz, "UTC");
	CHECK(gv[0].m.natt == 0);
	CHECK_STR(gv[1].m.sender, "John Doe");
	CHECK_STR(gv[1].m.body, "Hello\nJane!");
	CHECK(gv[1].m.ts_ms == 1579297740000);
	CHECK(gv[1].m.natt == 0);
	CHECK(gv[0].m.extra != NULL && strstr(gv[0].m.extra, "\"dup\"") == NULL);
	got_clear();
	return 0;
}

static void
remove_tmp(void)
{
	char p[PATH_MAX];

	REQUIRE(cf_path(p, sizeof p, "%s/gen/Zed (+1555)/attachment-2023-11-14-17-13-20.png",
	    tmpdir) == 0);
	unlink(p);
	REQUIRE(cf_path(p, sizeof p, "%s/gen/Zed (+1555)", tmpdir) == 0);
	rmdir(p);
	REQUIRE(cf_path(p, sizeof p, "%s/gen/Zed (+1555).json", tmpdir) == 0);
	unlink(p);
	REQUIRE(cf_path(p, sizeof p, "%s/gen", tmpdir) == 0);
	rmdir(p);
	REQUIRE(cf_path(p, sizeof p, "%s/x.jsonl", tmpdir) == 0);
	unlink(p);
	REQUIRE(cf_path(p, sizeof p, "%s/2016-01-14.json", tmpdir) == 0);
	unlink(p);
	REQUIRE(cf_path(p, sizeof p, "%s/result.json", tmpdir) == 0);
	unlink(p);
	REQUIRE(cf_path(p, sizeof p, "%s/wa.txt", tmpdir) == 0);
	unlink(p);
	CHECK(rmdir(tmpdir) == 0);
}

int
main(void)
{
	const char *src = getenv("COFFER_SRCDIR");
	const char *base = getenv("TMPDIR");
	char cwd[PATH_MAX], rel[PATH_MAX];
	struct stat st;
	int corpus;

	REQUIRE(cf_crypto_init() == 0);
	cf_set_progname("coffer");
	if (src == NULL || *src == '\0')
		src = getenv("COFFER_TOP");
	REQUIRE(cf_path(fixdir, sizeof fixdir, "%s/tests/fixtures/signal",
	    src != NULL && *src != '\0' ? src : ".") == 0);
	if (stat(fixdir, &st) != 0) {
		fprintf(stderr, "test_import_signal: %s: fixtures not found (run from the source "
		    "tree or set COFFER_SRCDIR)\n", fixdir);
		return 1;
	}
	REQUIRE(getcwd(cwd, sizeof cwd) != NULL);
	if (fixdir[0] != '/') {
		snprintf(rel, sizeof rel, "%s", fixdir);
		REQUIRE(cf_path(fixdir, sizeof fixdir, "%s/%s", cwd, rel) == 0);
	}
	REQUIRE(cf_path(tmpdir, sizeof tmpdir, "%s/test_import_signal.XXXXXX",
	    base != NULL && *base != '\0' ? base : "/tmp") == 0);
	REQUIRE(mkdtemp(tmpdir) != NULL);

	test_detect();
	test_sigtop();
	test_sigtop_generated_name();
	test_sigexport();
	test_old_variant();
	test_errors();
	corpus = test_corpus();
	remove_tmp();
	if (corpus == 77 && check_failures == 0) {
		printf("test_import_signal: %d checks, 0 failed\n", check_count);
		printf("SKIP: corpus not found at %s\n", corpus_dir);
		return 77;
	}
	return CHECK_DONE("test_import_signal");
}
