/*
 * test_import_telegram.c - the Telegram Desktop JSON importer: detection,
 * the single-chat and full-account fixtures message by message (text and
 * entity flattening, service sentences, zone-less and absolute times,
 * media attached or recorded as missing, replies, edits, forwards,
 * reactions, polls, locations, contacts, the "\x" escape), the exact error
 * messages (truncation at every prefix of a document, invalid JSON,
 * missing or unsafe attachment paths, bad dates, wrong structure), the
 * flush of a large import, and every file of the shared corpus.
 *
 * Fixtures: tests/fixtures/telegram/ (relative to the current directory,
 * or to $COFFER_SRCDIR or $COFFER_TOP).  Corpus: $COFFER_CORPUS, else
 * ../shared/corpus; when it is missing the corpus part is skipped (exit 77
 * after everything else passed).
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
#include "record.h"
#include "util.h"

static char fixdir[PATH_MAX];
static char tmpdir[PATH_MAX];

static void
tmp_path(char *buf, size_t n, const char *name)
{
	REQUIRE(cf_path(buf, n, "%s/%s", tmpdir, name) == 0);
}

/* ---- what a parse produced --------------------------------------------- */

struct got_msg {
	char *chat, *title;
	struct cf_msg m;
	json_t *extra;                  /* parsed extra, or NULL */
};

struct got {
	struct got_msg *v;
	size_t n, cap;
	char err[PATH_MAX + 400];
	int rc;
};

static int
collect(const char *chat, const char *title, const struct cf_msg *m, void *arg)
{
	struct got *g = arg;
	struct got_msg *e;

	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 64;
		g->v = realloc(g->v, g->cap * sizeof *g->v);
		REQUIRE(g->v != NULL);
	}
	{
		/* Every message must be storable as a record */
		uint8_t *buf = NULL;
		size_t len = 0, cap = 0;

		CHECK_RC(cf_record_put_msg(&buf, &len, &cap, m), 0);
		free(buf);
	}
	e = &g->v[g->n++];
	memset(e, 0, sizeof *e);
	e->chat = strdup(chat);
	e->title = title != NULL ? strdup(title) : NULL;
	REQUIRE(cf_msg_copy(&e->m, m) == 0);
	if (m->extra != NULL) {
		e->extra = json_loads(m->extra, JSON_ALLOW_NUL, NULL);
		CHECK(json_is_object(e->extra));
	}
	return 0;
}

static void
got_free(struct got *g)
{
	size_t i;

	for (i = 0; i < g->n; i++) {
		free(g->v[i].chat);
		free(g->v[i].title);
		cf_msg_clear(&g->v[i].m);
		json_decref(g->v[i].extra);
	}
	free(g->v);
	memset(g, 0, sizeof *g);
}

/* Parse path in zone tz; every message is collected, the error captured. */
static void
parse(const char *path, const char *tz, struct got *g)
{
	struct cf_import_opts o = { .tz = tz };
	struct cf_batch *b = NULL;

	memset(g, 0, sizeof *g);
	REQUIRE(cf_batch_new(&b, "telegram", tz) == 0);
	capture_begin(tmpdir);
	g->rc = cf_importer_telegram.parse(path, b, &o);
	capture_end(g->err, sizeof g->err);
	REQUIRE(cf_batch_foreach(b, collect, g) == 0);
	CHECK(cf_batch_messages(b) == g->n);
	cf_batch_free(b);
}

/* Parse text written to tmpdir/name; expect failure with err "coffer: PATH: want". */
static void
expect_error(const char *name, const char *text, const char *want, int line)
{
	char p[PATH_MAX], full[PATH_MAX + 400];
	struct got g;

	tmp_path(p, sizeof p, name);
	write_file(p, text);
	parse(p, "UTC", &g);
	REQUIRE(cf_path(full, sizeof full, "%s: %s: %s", cf_progname(), p, want) == 0);
	if (g.rc != -EINVAL || strcmp(g.err, full) != 0)
		fprintf(stderr, "%s:%d: got %d \"%s\"\n    wanted \"%s\"\n", __FILE__, line, g.rc,
		    g.err, full);
	CHECK_RC(g.rc, -EINVAL);
	CHECK_STR(g.err, full);
	got_free(&g);
}

#define BAD(name, text, want) expect_error((name), (text), (want), __LINE__)

static const struct got_msg *
by_id(const struct got *g, const char *chat, const char *id)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		if (strcmp(g->v[i].chat, chat) == 0 && g->v[i].m.id != NULL &&
		    strcmp(g->v[i].m.id, id) == 0)
			return &g->v[i];
	fprintf(stderr, "no message %s in chat %s\n", id, chat);
	return NULL;
}

/* extra[key] as a string ("" when absent or not a string). */
static const char *
xs(const struct got_msg *e, const char *key)
{
	json_t *v = json_object_get(e->extra, key);

	return json_is_string(v) ? json_string_value(v) : "";
}

/* Compact JSON of extra[key] ("" when absent). */
static char xbuf[4096];

static const char *
xj(const struct got_msg *e, const char *key)
{
	json_t *v = json_object_get(e->extra, key);

	xbuf[0] = '\0';
	if (v != NULL) {
		size_t n = json_dumpb(v, xbuf, sizeof xbuf - 1, JSON_COMPACT | JSON_ENCODE_ANY);

		xbuf[n < sizeof xbuf ? n : 0] = '\0';
	}
	return xbuf;
}

/* One message's common fields. */
static void
check_msg(const struct got_msg *e, int64_t ts, const char *tz, const char *sender,
    const char *body, size_t natt, int line)
{
	int ok;

	if (e == NULL) {
		CHECK(e != NULL);
		return;
	}
	ok = e->m.ts_ms == ts && ((tz == NULL && e->m.tz == NULL) ||
	    (tz != NULL && e->m.tz != NULL && strcmp(tz, e->m.tz) == 0)) &&
	    ((sender == NULL && e->m.sender == NULL) ||
	    (sender != NULL && e->m.sender != NULL && strcmp(sender, e->m.sender) == 0)) &&
	    e->m.body != NULL && strcmp(e->m.body, body) == 0 && e->m.natt == natt;
	if (!ok)
		fprintf(stderr, "%s:%d: message %s: ts %lld tz %s sender %s body \"%s\" natt %zu\n",
		    __FILE__, line, e->m.id ? e->m.id : "-", (long long)e->m.ts_ms,
		    e->m.tz ? e->m.tz : "(null)", e->m.sender ? e->m.sender : "(null)",
		    e->m.body ? e->m.body : "(null)", e->m.natt);
	CHECK(ok);
	/* Every message keeps its whole source object */
	CHECK(json_is_object(json_object_get(e->extra, "source")));
}

#define MSG(e, ts, tz, sender, body, natt) check_msg((e), (ts), (tz), (sender), (body), \
	(natt), __LINE__)

/* ---- detection --------------------------------------------------------- */

static void
test_detect(void)
{
	char p[PATH_MAX];

	REQUIRE(cf_path(p, sizeof p, "%s/single/result.json", fixdir) == 0);
	CHECK(cf_importer_telegram.detect(p) == 1);
	CHECK(cf_importer_detect(p) == &cf_importer_telegram);
	REQUIRE(cf_path(p, sizeof p, "%s/account/result.json", fixdir) == 0);
	CHECK(cf_importer_telegram.detect(p) == 1);
	CHECK(cf_importer_find("telegram") == &cf_importer_telegram);
	CHECK_STR(cf_importer_telegram.name, "telegram");

	tmp_path(p, sizeof p, "acct.json");
	write_file(p, "\xef\xbb\xbf\n{\n \"about\": \"x\",\n \"personal_information\": {}}");
	CHECK(cf_importer_telegram.detect(p) == 1);
	/* Not Telegram: JSON Lines, an array, other objects, empty, folders */
	tmp_path(p, sizeof p, "lines.jsonl");
	write_file(p, "{\"messages\": 1}\n");
	CHECK(cf_importer_telegram.detect(p) == 0);
	tmp_path(p, sizeof p, "line.json");
	write_file(p, "{\"chat\": \"c\", \"ts\": \"2025-03-13T19:44:01Z\", \"sender\": \"s\", "
	    "\"body\": \"messages\"}\n");
	CHECK(cf_importer_telegram.detect(p) == 0);
	CHECK(cf_importer_detect(p) != &cf_importer_telegram);
	tmp_path(p, sizeof p, "array.json");
	write_file(p, "[{\"messages\": []}]");
	CHECK(cf_importer_telegram.detect(p) == 0);
	tmp_path(p, sizeof p, "empty.json");
	write_file(p, "");
	CHECK(cf_importer_telegram.detect(p) == 0);
	tmp_path(p, sizeof p, "absent.json");
	CHECK(cf_importer_telegram.detect(p) == 0);
	CHECK(cf_importer_telegram.detect(tmpdir) == 0);
}

/* ---- the single-chat fixture ------------------------------------------- */

static void
test_single(void)
{
	char p[PATH_MAX], want[PATH_MAX];
	const struct got_msg *e;
	struct got g;
	const char *C = "4815162342", *A = "Alice Example", *B = "Bob Builder";
	size_t i;

	REQUIRE(cf_path(p, sizeof p, "%s/single/result.json", fixdir) == 0);
	parse(p, "Europe/Paris", &g);
	CHECK_RC(g.rc, 0);
	CHECK_STR(g.err, "");
	CHECK(g.n == 24);
	for (i = 0; i < g.n; i++) {
		CHECK_STR(g.v[i].chat, C);
		CHECK_STR(g.v[i].title, A);
	}

	/* Service, zone-less date read in the zone, recorded */
	e = by_id(&g, C, "101");
	MSG(e, 1741891200000LL, "Europe/Paris", NULL, "Alice Example joined Telegram", 0);
	CHECK_STR(e->m.ts_raw, "2025-03-13T19:40:00");
	CHECK_STR(xs(e, "kind"), "system");
	/* date_unixtime preferred: absolute, no zone */
	e = by_id(&g, C, "102");
	MSG(e, 1741891441000LL, NULL, A, "Hello Bob", 0);
	CHECK_STR(e->m.ts_raw, "1741891441");
	CHECK(json_object_get(e->extra, "kind") == NULL);
	/* Entities flattened; reply; edit; text_entities ignored */
	e = by_id(&g, C, "103");
	MSG(e, 1741891500000LL, NULL, B, "See https://example.org and our docs "
	    "(https://docs.example.org/x), ask @carol or Dave: make check! https://same.example", 0);
	CHECK_STR(xs(e, "reply_to"), "102");
	CHECK_STR(xj(e, "edited_ts"), "1741891800000");
	/* text "" -> text_entities; edited without unixtime read in the zone */
	e = by_id(&g, C, "104");
	MSG(e, 1741892400000LL, "Europe/Paris", B, "From entities only", 0);
	CHECK_STR(xj(e, "edited_ts"), "1741891800000");
	/* Photo present, with caption */
	e = by_id(&g, C, "105");
	MSG(e, 1741892460000LL, NULL, A, "caption here", 1);
	CHECK_STR(e->m.att[0].name, "photo_1@13-03-2025_19-44-01.jpg");
	REQUIRE(cf_path(want, sizeof want, "%s/single/photos/photo_1@13-03-2025_19-44-01.jpg",
	    fixdir) == 0);
	CHECK_STR(e->m.att[0].src_path, want);
	CHECK(e->m.att[0].size == 34);
	CHECK(json_object_get(e->extra, "missing_attachments") == NULL);
	/* File with its original name, and its thumbnail; forwarded */
	e = by_id(&g, C, "106");
	MSG(e, 1741892520000LL, NULL, A, "", 2);
	CHECK_STR(e->m.att[0].name, "Q1 report.pdf");
	CHECK(e->m.att[0].size == 34);
	CHECK_STR(e->m.att[1].name, "report.pdf_thumb.jpg");
	CHECK(e->m.att[1].size == 6);
	CHECK_STR(xs(e, "forwarded_from"), "Carol");
	/* Not included; forwarded from a hidden name (null kept) */
	e = by_id(&g, C, "107");
	MSG(e, 1741892580000LL, NULL, B, "", 0);
	CHECK_STR(xj(e, "missing_attachments"), "[{\"name\":\"file\",\"field\":\"file\","
	    "\"reason\":\"not included in export\"}]");
	CHECK_STR(xj(e, "forwarded_from"), "null");
	e = by_id(&g, C, "108");
	MSG(e, 1741892640000LL, NULL, B, "the image", 0);
	CHECK_STR(xj(e, "missing_attachments"), "[{\"name\":\"big.iso\",\"field\":\"file\","
	    "\"reason\":\"exceeds the export size limit\"}]");
	e = by_id(&g, C, "109");
	MSG(e, 1741892700000LL, NULL, A, "", 0);
	CHECK_STR(xj(e, "missing_attachments"), "[{\"name\":\"photo\",\"field\":\"photo\","
	    "\"reason\":\"unavailable when exported\"}]");
	/* Sticker: its emoji as text, file and thumbnail missing */
	e = by_id(&g, C, "110");
	MSG(e, 1741892760000LL, NULL, A, "\xf0\x9f\x98\x80", 0);
	CHECK_STR(xs(e, "kind"), "sticker");
	CHECK(json_array_size(json_object_get(e->extra, "missing_attachments")) == 2);
	/* Poll, location, venue, live location, contact (+ vcard) */
	e = by_id(&g, C, "111");
	MSG(e, 1741892820000LL, NULL, B, "Poll: Lunch?\n- Pizza (2 votes, chosen)\n"
	    "- Salad (1 vote)", 0);
	CHECK_STR(xs(e, "kind"), "poll");
	e = by_id(&g, C, "112");
	MSG(e, 1741892880000LL, NULL, A, "Location: 48.85837, 2.294481", 0);
	CHECK_STR(xs(e, "kind"), "location");
	e = by_id(&g, C, "113");
	MSG(e, 1741892940000LL, NULL, A, "Venue: Eiffel Tower, Champ de Mars, Paris "
	    "(48.85837, 2.294481)", 0);
	CHECK_STR(xs(e, "kind"), "location");
	e = by_id(&g, C, "114");
	MSG(e, 1741893000000LL, NULL, A, "Live location: 48.85837, 2.294481", 0);
	e = by_id(&g, C, "115");
	MSG(e, 1741893060000LL, NULL, B, "Contact: Carol Example, +33 6 00 00 00 00", 1);
	CHECK_STR(xs(e, "kind"), "contact");
	CHECK_STR(e->m.att[0].name, "contact_1.vcf");
	/* Reactions */
	e = by_id(&g, C, "116");
	MSG(e, 1741893120000LL, NULL, B, "React to this", 0);
	CHECK_STR(xj(e, "reactions"), "[{\"emoji\":\"\xf0\x9f\x91\x8d\",\"by\":[\"Alice Example\","
	    "\"user77\"],\"count\":2},{\"custom_emoji\":\"5368324170671202286\","
	    "\"type\":\"custom_emoji\",\"by\":[],\"count\":1}]");
	/* from null: from_id */
	e = by_id(&g, C, "117");
	MSG(e, 1741893300000LL, NULL, "user999", "I am deleted", 0);
	/* Service sentences */
	e = by_id(&g, C, "118");
	MSG(e, 1741893360000LL, NULL, NULL, "Missed call from Bob Builder", 0);
	CHECK_STR(xs(e, "kind"), "call");
	e = by_id(&g, C, "119");
	MSG(e, 1741893420000LL, NULL, NULL, "Alice Example pinned a message", 0);
	CHECK_STR(xs(e, "kind"), "system");
	e = by_id(&g, C, "120");
	MSG(e, 1741893480000LL, NULL, NULL, "Something custom happened", 0);
	e = by_id(&g, C, "121");
	MSG(e, 1741893540000LL, NULL, NULL, "Bob Builder: brand new action", 0);
	/* Unsupported: no date, placed at its predecessor's time */
	e = by_id(&g, C, "122");
	MSG(e, 1741893540000LL, NULL, NULL, "(message not supported by the exporter)", 0);
	CHECK(e->m.ts_raw == NULL);
	CHECK_STR(xs(e, "kind"), "unsupported");
	/* \xHH escapes (Telegram's, not JSON), U+2028, NUL, integer date_unixtime */
	e = by_id(&g, C, "123");
	MSG(e, 1741893600000LL, NULL, B, "bell\x07 unit\x1f tab\t line\xe2\x80\xa8sep", 0);
	e = by_id(&g, C, "124");
	MSG(e, 1741893660000LL, NULL, B, "a\xef\xbf\xbd" "b", 0);
	CHECK_STR(e->m.ts_raw, "1741893660");
	/* and so does the source: records are C strings */
	CHECK(strstr(e->m.extra, "\"text\":\"a\xef\xbf\xbd" "b\"") != NULL);
	got_free(&g);

	/* Another zone: only the zone-less times move */
	parse(p, "America/New_York", &g);
	CHECK_RC(g.rc, 0);
	e = by_id(&g, C, "104");
	MSG(e, 1741910400000LL, "America/New_York", B, "From entities only", 0);
	e = by_id(&g, C, "102");
	MSG(e, 1741891441000LL, NULL, A, "Hello Bob", 0);
	got_free(&g);
}

/* ---- the full-account fixture ------------------------------------------ */

static void
test_account(void)
{
	char p[PATH_MAX];
	const struct got_msg *e;
	struct got g;
	size_t i, n1 = 0, n2 = 0;

	REQUIRE(cf_path(p, sizeof p, "%s/account/result.json", fixdir) == 0);
	parse(p, "UTC", &g);
	CHECK_RC(g.rc, 0);
	CHECK_STR(g.err, "");
	CHECK(g.n == 12);
	/* Conversations in file order, chats then left_chats */
	CHECK_STR(g.v[0].chat, "100000001");
	CHECK_STR(g.v[0].title, "Saved Messages");
	CHECK_STR(g.v[1].chat, "1234567890");
	CHECK_STR(g.v[1].title, "Project Team");
	CHECK_STR(g.v[9].chat, "555");
	CHECK_STR(g.v[9].title, "Deleted Account");
	CHECK_STR(g.v[10].chat, "777");
	CHECK_STR(g.v[10].title, "Old Channel");
	for (i = 0; i < g.n; i++) {
		n1 += strcmp(g.v[i].chat, "1234567890") == 0;
		n2 += strcmp(g.v[i].chat, "4242") == 0;         /* no messages */
	}
	CHECK(n1 == 8 && n2 == 0);

	e = by_id(&g, "100000001", "1");
	MSG(e, 1706774400000LL, NULL, "Test User", "note to self", 0);
	e = by_id(&g, "1234567890", "10");
	MSG(e, 1706774400000LL, NULL, NULL, "Test User created group \"Project Team\" with "
	    "Test User, Ann and Deleted Account", 0);
	e = by_id(&g, "1234567890", "11");
	MSG(e, 1706774460000LL, NULL, NULL, "Test User changed the group photo", 1);
	CHECK_STR(e->m.att[0].name, "photo_2@01-02-2024_09-00-00.jpg");
	e = by_id(&g, "1234567890", "12");
	MSG(e, 1706774520000LL, NULL, NULL, "Test User added Ben", 0);
	e = by_id(&g, "1234567890", "13");
	MSG(e, 1706774580000LL, NULL, NULL, "Ann left the group", 0);
	e = by_id(&g, "1234567890", "14");
	MSG(e, 1706774700000LL, NULL, "Ben", "", 1);
	CHECK_STR(e->m.att[0].name, "audio_1@01-02-2024_09-05-00.ogg");
	CHECK(e->m.att[0].size == 11);
	e = by_id(&g, "1234567890", "15");
	MSG(e, 1706774760000LL, NULL, "Ben", "fake \"messages\": [ } ] { \\ brackets", 0);
	e = by_id(&g, "1234567890", "16");
	MSG(e, 1706778000000LL, NULL, NULL, "Test User started a group call (1 h 1 min)", 0);
	CHECK_STR(xs(e, "kind"), "call");
	e = by_id(&g, "1234567890", "17");
	MSG(e, 1706781600000LL, NULL, NULL, "Ben joined the group via an invite link from Ann",
	    0);
	e = by_id(&g, "555", "1");
	MSG(e, 1706860800000LL, NULL, "user555", "hello from a deleted account", 0);
	e = by_id(&g, "777", "1");
	MSG(e, 1672531200000LL, NULL, NULL, "Old Channel created channel \"Old Channel\"", 0);
	e = by_id(&g, "777", "2");
	MSG(e, 1672531260000LL, NULL, "Old Channel", "Last post", 0);
	got_free(&g);
}

/* ---- errors ------------------------------------------------------------ */

#define ONE(m) "{\"name\": \"N\", \"type\": \"personal_chat\", \"id\": 1, \"messages\": [" m "]}"
#define OK_MSG "{\"id\": 1, \"type\": \"message\", \"date_unixtime\": \"1700000000\", " \
	"\"from\": \"A\", \"text\": \"t\"}"

static void
test_errors(void)
{
	char p[PATH_MAX], want[PATH_MAX + 200], link[PATH_MAX], abs[PATH_MAX];
	struct got g;

	/* Structure */
	BAD("arr.json", "[1]", "not a Telegram export: the document is not a JSON object");
	BAD("none.json", "{\"about\": \"x\", \"contacts\": {\"list\": []}}",
	    "not a Telegram export: no \"messages\" or \"chats\"");
	BAD("msgobj.json", "{\"messages\": {}}", "messages: not an array");
	BAD("chatsarr.json", "{\"chats\": []}", "chats: not an object");
	BAD("listobj.json", "{\"chats\": {\"list\": {}}}", "chats.list: not an array");
	BAD("chatstr.json", "{\"chats\": {\"list\": [{\"messages\": []}, \"x\"]}}",
	    "chats.list[1]: not an object");
	BAD("msgstr.json", "{\"left_chats\": {\"list\": [{\"id\": 5, \"messages\": [" OK_MSG
	    ", 7]}]}}", "left_chats.list[0].messages[1]: not an object");
	BAD("empty.json", "", "truncated JSON at byte 0");
	BAD("trail.json", ONE(OK_MSG) "\n}", "invalid JSON at byte 149: unexpected data after "
	    "the end of the document");
	BAD("comma.json", ONE(OK_MSG " " OK_MSG), "invalid JSON at byte 147: expected ',' or ']'");
	/* Invalid JSON inside a message: where, never what */
	BAD("badval.json", ONE("{\"id\": 1, \"text\": secretword}"),
	    "messages[0]: invalid JSON at byte 88: invalid token");
	/* Dates */
	BAD("nodate.json", ONE(OK_MSG ", {\"id\": 2, \"type\": \"message\", \"text\": \"t\"}"),
	    "messages[1]: missing \"date\"");
	BAD("baddate.json", ONE("{\"id\": 1, \"date\": \"13/03/2025\", \"text\": \"t\"}"),
	    "messages[0]: \"date\" is not a date-time");
	BAD("badunix.json", ONE("{\"id\": 1, \"date_unixtime\": \"17e8\", \"text\": \"t\"}"),
	    "messages[0]: \"date_unixtime\" is not a number of seconds");
	/* Attachments: absent file, outside the folder, a link */
	tmp_path(p, sizeof p, "photos");
	REQUIRE(mkdir(p, 0700) == 0 || errno == EEXIST);
	REQUIRE(cf_path(want, sizeof want, "messages[0]: attachment %s/photos/x.jpg: %s", tmpdir,
	    strerror(ENOENT)) == 0);
	BAD("nofile.json", ONE("{\"id\": 1, \"date_unixtime\": \"1\", \"photo\": \"photos/x.jpg\"}"),
	    want);
	BAD("dotdot.json", ONE("{\"id\": 1, \"date_unixtime\": \"1\", \"file\": \"files/../../x\"}"),
	    "messages[0]: \"file\": not a relative path inside the export");
	BAD("abs.json", ONE("{\"id\": 1, \"date_unixtime\": \"1\", \"file\": \"/etc/passwd\"}"),
	    "messages[0]: \"file\": not a relative path inside the export");
	REQUIRE(cf_path(abs, sizeof abs, "%s/single/photos/photo_1@13-03-2025_19-44-01.jpg",
	    fixdir) == 0);
	tmp_path(link, sizeof link, "photos/link.jpg");
	REQUIRE(symlink(abs, link) == 0);
	REQUIRE(cf_path(want, sizeof want, "messages[0]: attachment %s: is a symbolic link",
	    link) == 0);
	BAD("link.json", ONE("{\"id\": 1, \"date_unixtime\": \"1\", \"photo\": "
	    "\"photos/link.jpg\"}"), want);
	REQUIRE(cf_path(want, sizeof want, "messages[0]: attachment %s/photos: not a regular "
	    "file", tmpdir) == 0);
	BAD("dir.json", ONE("{\"id\": 1, \"date_unixtime\": \"1\", \"photo\": \"photos\"}"), want);

	/* Missing input, a folder, a symbolic link, an unknown zone */
	tmp_path(p, sizeof p, "absent.json");
	parse(p, "UTC", &g);
	CHECK_RC(g.rc, -ENOENT);
	got_free(&g);
	parse(tmpdir, "UTC", &g);
	CHECK_RC(g.rc, -EISDIR);
	got_free(&g);
	tmp_path(link, sizeof link, "link-result.json");
	REQUIRE(cf_path(abs, sizeof abs, "%s/account/result.json", fixdir) == 0);
	REQUIRE(symlink(abs, link) == 0);
	parse(link, "UTC", &g);
	CHECK_RC(g.rc, -ELOOP);
	got_free(&g);
	parse(abs, "Mars/Olympus_Mons", &g);
	CHECK_RC(g.rc, -EINVAL);
	CHECK_STR(g.err, "coffer: Mars/Olympus_Mons: unknown time zone");
	got_free(&g);
}

/* Lenient cases and naming fallbacks. */
static void
test_lenient(void)
{
	char p[PATH_MAX];
	struct got g;

	/* No id: the name; neither: the file name (+ its place in an account) */
	tmp_path(p, sizeof p, "noid.json");
	write_file(p, "\xef\xbb\xbf{\"name\": \"Named\", \"messages\": [" OK_MSG "]}");
	parse(p, "UTC", &g);
	CHECK_RC(g.rc, 0);
	REQUIRE(g.n == 1);
	CHECK_STR(g.v[0].chat, "Named");
	CHECK_STR(g.v[0].title, "Named");
	got_free(&g);
	tmp_path(p, sizeof p, "My Export.JSON");
	write_file(p, "{\"messages\": [" OK_MSG "], \"name\": \"late\"}");
	parse(p, "UTC", &g);
	CHECK_RC(g.rc, 0);
	REQUIRE(g.n == 1);
	CHECK_STR(g.v[0].chat, "My Export");
	CHECK(g.v[0].title == NULL);
	got_free(&g);
	tmp_path(p, sizeof p, "acct.json");
	write_file(p, "{\"chats\": {\"list\": [{\"messages\": [" OK_MSG "]}, {\"type\": "
	    "\"replies\", \"messages\": [" OK_MSG "]}]}}");
	parse(p, "UTC", &g);
	CHECK_RC(g.rc, 0);
	REQUIRE(g.n == 2);
	CHECK_STR(g.v[0].chat, "acct:chats.list[0]");
	CHECK_STR(g.v[1].chat, "acct:chats.list[1]");
	CHECK_STR(g.v[1].title, "Replies");
	got_free(&g);
	/* A string id, type defaults to message, unknown members and
	 * entity types, a text that is neither string nor array */
	tmp_path(p, sizeof p, "odd.json");
	write_file(p, "{\"id\": \"chat-x\", \"messages\": [{\"id\": 9, \"date\": "
	    "\"2025-01-01T00:00:00\", \"from_id\": 12345, \"text\": [{\"type\": \"spoiler\", "
	    "\"text\": \"hidden\"}, {\"type\": \"custom_emoji\", \"text\": \"\xf0\x9f\x8e\x89\", "
	    "\"document_id\": \"1\"}, 5, {\"type\": \"weird\"}], \"new_member\": [1]}, {\"id\": 10, "
	    "\"date\": \"2025-01-01T00:00:01\", \"from\": \"Z\", \"text\": 17}]}");
	parse(p, "UTC", &g);
	CHECK_RC(g.rc, 0);
	REQUIRE(g.n == 2);
	CHECK_STR(g.v[0].chat, "chat-x");
	CHECK_STR(g.v[0].m.sender, "12345");
	CHECK_STR(g.v[0].m.body, "hidden\xf0\x9f\x8e\x89");
	CHECK_STR(g.v[0].m.tz, "UTC");
	CHECK(g.v[0].m.ts_ms == 1735689600000LL);
	CHECK_STR(g.v[1].m.body, "");
	got_free(&g);
}

/* Every prefix of a real document is refused as truncated at its length. */
static void
test_truncation(void)
{
	char p[PATH_MAX], src[PATH_MAX], want[PATH_MAX + 100], dir[PATH_MAX];
	char *doc = NULL, *cut, *errs, *line, *nl;
	size_t len, i, end, errcap = 1u << 20;
	struct got g;
	int failures = 0;

	REQUIRE(cf_path(src, sizeof src, "%s/account/result.json", fixdir) == 0);
	REQUIRE(cf_read_file(src, &doc, &len) == 0);
	/* The media the document names, in the temp folder */
	tmp_path(dir, sizeof dir, "photos");
	REQUIRE(mkdir(dir, 0700) == 0 || errno == EEXIST);
	tmp_path(dir, sizeof dir, "voice_messages");
	REQUIRE(mkdir(dir, 0700) == 0 || errno == EEXIST);
	tmp_path(dir, sizeof dir, "photos/photo_2@01-02-2024_09-00-00.jpg");
	write_file(dir, "x");
	tmp_path(dir, sizeof dir, "voice_messages/audio_1@01-02-2024_09-05-00.ogg");
	write_file(dir, "y");
	end = len;
	while (end > 0 && (doc[end - 1] == '\n' || doc[end - 1] == ' '))
		end--;
	tmp_path(p, sizeof p, "cut.json");
	cut = malloc(len + 1);
	REQUIRE(cut != NULL);
	/* One capture for all the parses: one error line per prefix */
	errs = malloc(errcap);
	REQUIRE(errs != NULL);
	capture_begin(tmpdir);
	for (i = 0; i < end; i++) {
		struct cf_import_opts o = { .tz = "UTC" };
		struct cf_batch *b = NULL;

		memcpy(cut, doc, i);
		cut[i] = '\0';
		write_file(p, cut);
		REQUIRE(cf_batch_new(&b, "telegram", "UTC") == 0);
		if (cf_importer_telegram.parse(p, b, &o) != -EINVAL)
			failures++;
		cf_batch_free(b);
	}
	capture_end(errs, errcap);
	line = errs;
	for (i = 0; i < end; i++) {
		nl = strchr(line, '\n');
		if (nl != NULL)
			*nl = '\0';
		REQUIRE(cf_path(want, sizeof want, "coffer: %s: truncated JSON at byte %zu", p,
		    i) == 0);
		if (strcmp(line, want) != 0 && failures++ < 5)
			fprintf(stderr, "prefix %zu: \"%s\"\n", i, line);
		if (nl == NULL) {
			failures += i + 1 < end;
			break;
		}
		line = nl + 1;
	}
	CHECK(failures == 0);
	free(errs);
	/* The whole document (even without its final newline) parses */
	memcpy(cut, doc, end);
	cut[end] = '\0';
	write_file(p, cut);
	parse(p, "UTC", &g);
	CHECK_RC(g.rc, 0);
	CHECK(g.n == 12);
	got_free(&g);
	free(cut);
	free(doc);
}

/* A large chat: the flush is offered every 5000 messages and between chats
 * (count_flush, failing_flush: testlib.h). */
static void
test_flush(void)
{
	struct cf_import_opts o = { .tz = "UTC", .flush = count_flush };
	struct cf_batch *b = NULL;
	char p[PATH_MAX], *text, err[512];
	size_t i;
	FILE *f;
	int rc;

	text = malloc(1801);
	REQUIRE(text != NULL);
	for (i = 0; i < 1800; i++)
		text[i] = (char)('a' + i % 26);
	text[1800] = '\0';
	tmp_path(p, sizeof p, "big.json");
	f = fopen(p, "w");
	REQUIRE(f != NULL);
	fprintf(f, "{\"chats\": {\"list\": [{\"id\": 1, \"messages\": [");
	for (i = 0; i < 12000; i++)
		fprintf(f, "%s{\"id\": %zu, \"date_unixtime\": \"%zu\", \"from\": \"A\", "
		    "\"text\": \"%s\"}", i ? ",\n" : "", i, 1700000000 + i, text);
	fprintf(f, "]}, {\"id\": 2, \"messages\": [" OK_MSG "]}]}}");
	REQUIRE(fclose(f) == 0);

	/* ~3.7 kB per message (text twice: body and source): over 32 MiB
	 * first at the check after message 10000; the rest stays. */
	REQUIRE(cf_batch_new(&b, "telegram", "UTC") == 0);
	rc = cf_importer_telegram.parse(p, b, &o);
	CHECK_RC(rc, 0);
	CHECK(flushes == 1);
	CHECK(flushed == 10000);
	CHECK(cf_batch_messages(b) == 2001);
	cf_batch_free(b);

	/* A failing flush stops the parse with its error */
	o.flush = failing_flush;
	REQUIRE(cf_batch_new(&b, "telegram", "UTC") == 0);
	capture_begin(tmpdir);
	rc = cf_importer_telegram.parse(p, b, &o);
	capture_end(err, sizeof err);
	CHECK_RC(rc, -EIO);
	CHECK_STR(err, "coffer: flush failed on purpose");
	cf_batch_free(b);
	unlink(p);
	free(text);
}

/* ---- the shared corpus ------------------------------------------------- */

static int
test_corpus(void)
{
	const char *env = getenv("COFFER_CORPUS");
	char corpus[PATH_MAX], p[PATH_MAX];
	const struct got_msg *e;
	struct stat st;
	struct got g;
	size_t i;

	REQUIRE(cf_path(corpus, sizeof corpus, "%s", env != NULL && *env != '\0' ? env :
	    "../shared/corpus") == 0);
	if (stat(corpus, &st) != 0 || !S_ISDIR(st.st_mode)) {
		printf("SKIP: corpus not found at %s\n", corpus);
		return 77;
	}

	/* Single-chat export: date-only and unixtime-only messages mixed */
	REQUIRE(cf_path(p, sizeof p, "%s/telegram/chat-analytics/DM_2A_7M.json", corpus) == 0);
	CHECK(cf_importer_detect(p) == &cf_importer_telegram);
	parse(p, "Europe/Paris", &g);
	CHECK_RC(g.rc, 0);
	CHECK_STR(g.err, "");
	CHECK(g.n == 8);
	for (i = 0; i < g.n; i++) {
		CHECK_STR(g.v[i].chat, "700000000");
		CHECK_STR(g.v[i].title, "Bob");
	}
	e = by_id(&g, "700000000", "2675");
	MSG(e, 1562338532000LL, "Europe/Paris", NULL, "Bob joined Telegram", 0);
	CHECK_STR(e->m.ts_raw, "2019-07-05T16:55:32");
	e = by_id(&g, "700000000", "3644");
	MSG(e, 1562943332000LL, "Europe/Paris", "Bob", "https://google.com \xf0\x9f\x91\x80", 0);
	e = by_id(&g, "700000000", "3645");
	MSG(e, 1646741262000LL, "Europe/Paris", "Alice", "hello world", 0);
	e = by_id(&g, "700000000", "3662");
	MSG(e, 1652135033000LL, NULL, "Bob", "world?", 0);
	e = by_id(&g, "700000000", "3663");
	MSG(e, 1652138769000LL, NULL, "Alice", "blah blah", 0);
	e = by_id(&g, "700000000", "3672");
	MSG(e, 1654898798000LL, NULL, "Alice", "", 0);
	CHECK_STR(xj(e, "missing_attachments"), "[{\"name\":\"photo\",\"field\":\"photo\","
	    "\"reason\":\"not included in export\"}]");
	e = by_id(&g, "700000000", "3673");
	MSG(e, 1654898799000LL, NULL, "Alice", "", 0);
	CHECK(json_array_size(json_object_get(e->extra, "missing_attachments")) == 1);
	/* both date and date_unixtime: the absolute one wins */
	e = by_id(&g, "700000000", "3674");
	MSG(e, 1691719862000LL, NULL, NULL, "Phone call from Alice (56 s)", 0);
	CHECK_STR(xs(e, "kind"), "call");
	got_free(&g);
	/* The zone changes only the date-only messages */
	parse(p, "UTC", &g);
	CHECK_RC(g.rc, 0);
	MSG(by_id(&g, "700000000", "2675"), 1562345732000LL, "UTC", NULL, "Bob joined Telegram",
	    0);
	MSG(by_id(&g, "700000000", "3674"), 1691719862000LL, NULL, NULL,
	    "Phone call from Alice (56 s)", 0);
	got_free(&g);

	/* Full-account export */
	REQUIRE(cf_path(p, sizeof p, "%s/telegram/chat-analytics/MultiChat_2C_6M.json",
	    corpus) == 0);
	CHECK(cf_importer_detect(p) == &cf_importer_telegram);
	parse(p, "Europe/Paris", &g);
	CHECK_RC(g.rc, 0);
	CHECK(g.n == 6);
	MSG(by_id(&g, "700000001", "1001"), 1672574400000LL, NULL, "Alice",
	    "Hello from chat one!", 0);
	MSG(by_id(&g, "700000001", "1002"), 1672574460000LL, NULL, "Bob", "Hi there!", 0);
	MSG(by_id(&g, "700000002", "2001"), 1672660800000LL, NULL, "Charlie",
	    "Welcome to chat two!", 0);
	MSG(by_id(&g, "700000002", "2002"), 1672660920000LL, NULL, "David", "Group chat is fun!",
	    0);
	MSG(by_id(&g, "700000002", "2003"), 1672660980000LL, NULL, NULL,
	    "Phone call from Charlie (2 min)", 0);
	e = by_id(&g, "700000002", "2004");
	MSG(e, 1672747200000LL, NULL, "Eve", "", 0);
	CHECK(json_array_size(json_object_get(e->extra, "missing_attachments")) == 1);
	CHECK_STR(g.v[0].title, "Chat One");
	CHECK_STR(g.v[2].title, "Chat Two");
	got_free(&g);

	/* Minimal chats.list wrapper: no ids, no date; name as the chat id */
	REQUIRE(cf_path(p, sizeof p, "%s/telegram/chat-miner/test_batch_export.json", corpus) == 0);
	CHECK(cf_importer_detect(p) == &cf_importer_telegram);
	parse(p, "UTC", &g);
	CHECK_RC(g.rc, 0);
	REQUIRE(g.n == 2);
	CHECK_STR(g.v[0].chat, "Chatname");
	CHECK_STR(g.v[0].title, "Chatname");
	CHECK(g.v[0].m.id == NULL);
	MSG(&g.v[0], 1544006350000LL, NULL, "Author 1", "Minimal Message", 0);
	MSG(&g.v[1], 1544006964000LL, NULL, "Author 2", "Link:https://telegram.org/", 0);
	got_free(&g);

	/* Minimal single chat: no name, no id: the file name */
	REQUIRE(cf_path(p, sizeof p, "%s/telegram/chat-miner/test_single_export.json",
	    corpus) == 0);
	CHECK(cf_importer_detect(p) == &cf_importer_telegram);
	parse(p, "UTC", &g);
	CHECK_RC(g.rc, 0);
	REQUIRE(g.n == 2);
	CHECK_STR(g.v[0].chat, "test_single_export");
	CHECK(g.v[0].title == NULL);
	MSG(&g.v[0], 1544006350000LL, NULL, "Author 1", "Minimal Message", 0);
	MSG(&g.v[1], 1544006964000LL, NULL, "Author 2", "Link:https://telegram.org/", 0);
	got_free(&g);
	return 0;
}

int
main(void)
{
	const char *src = getenv("COFFER_SRCDIR");
	const char *base = getenv("TMPDIR");
	char cwd[PATH_MAX], rel[PATH_MAX], cmd[PATH_MAX + 16];
	struct stat st;
	int corpus_rc;

	REQUIRE(cf_crypto_init() == 0);
	if (src == NULL || *src == '\0')
		src = getenv("COFFER_TOP");
	REQUIRE(cf_path(fixdir, sizeof fixdir, "%s/tests/fixtures/telegram",
	    src != NULL && *src != '\0' ? src : ".") == 0);
	if (stat(fixdir, &st) != 0) {
		fprintf(stderr, "test_import_telegram: %s: fixtures not found (run from the source "
		    "tree or set COFFER_SRCDIR)\n", fixdir);
		return 1;
	}
	REQUIRE(getcwd(cwd, sizeof cwd) != NULL);
	if (fixdir[0] != '/') {
		REQUIRE(cf_path(rel, sizeof rel, "%s", fixdir) == 0);
		REQUIRE(cf_path(fixdir, sizeof fixdir, "%s/%s", cwd, rel) == 0);
	}
	REQUIRE(cf_path(tmpdir, sizeof tmpdir, "%s/test_import_telegram.XXXXXX",
	    base != NULL && *base != '\0' ? base : "/tmp") == 0);
	REQUIRE(mkdtemp(tmpdir) != NULL);
	cf_set_progname("coffer");

	test_detect();
	test_single();
	test_account();
	test_errors();
	test_lenient();
	test_truncation();
	test_flush();
	corpus_rc = test_corpus();

	REQUIRE(cf_path(cmd, sizeof cmd, "rm -rf '%s'", tmpdir) == 0);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	if (corpus_rc == 77 && check_failures == 0) {
		printf("test_import_telegram: %d checks passed, corpus skipped\n", check_count);
		return 77;
	}
	return CHECK_DONE("test_import_telegram");
}
