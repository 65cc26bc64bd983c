/*
 * test_import_whatsapp.c - the WhatsApp importer: our own fixtures for each
 * edge case (Android and iOS grammars, locales, 12-hour clocks and their
 * spaces, calendars, time-first dates, multi-line and mixed line endings,
 * system lines, placeholders, attachments from a lone .txt, a folder and a
 * zip built here with libzip, deleted/edited/poll markers, day/month
 * decision, "dup", overlap with a later export, exact error messages that
 * quote no content), then every WhatsApp file of the shared corpus: count,
 * chat id, senders, kinds and sample messages with exact ts_ms (UTC).
 *
 * Fixtures: tests/fixtures/whatsapp/ (relative to the current directory, or
 * to $COFFER_SRCDIR or $COFFER_TOP).  Corpus: $COFFER_CORPUS, else
 * ../shared/corpus; when it is missing the corpus part is skipped (exit 77
 * if everything else passed).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include "archive.h"
#include "check.h"
#include "testlib.h"
#include "crypto.h"
#include "import.h"
#include "util.h"

static char fixdir[PATH_MAX];
static char tmpdir[PATH_MAX];

/* ---- collecting what the importer produced ------------------------------ */

struct got {
	struct cf_msg *m;
	char **chat, **title;
	size_t n, cap;
};

static int
collect_cb(const char *chat, const char *title, const struct cf_msg *m, void *arg)
{
	struct got *g = arg;

	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 64;
		REQUIRE((g->m = realloc(g->m, g->cap * sizeof *g->m)) != NULL);
		REQUIRE((g->chat = realloc(g->chat, g->cap * sizeof *g->chat)) != NULL);
		REQUIRE((g->title = realloc(g->title, g->cap * sizeof *g->title)) != NULL);
	}
	REQUIRE(cf_msg_copy(&g->m[g->n], m) == 0);
	REQUIRE((g->chat[g->n] = strdup(chat)) != NULL);
	REQUIRE((g->title[g->n] = strdup(title != NULL ? title : "")) != NULL);
	g->n++;
	return 0;
}

static void
got_free(struct got *g)
{
	size_t i;

	for (i = 0; i < g->n; i++) {
		cf_msg_clear(&g->m[i]);
		free(g->chat[i]);
		free(g->title[i]);
	}
	free(g->m);
	free(g->chat);
	free(g->title);
	memset(g, 0, sizeof *g);
}

/* Parse path (UTC) into g; returns parse's result. */
static int
parse(const char *path, struct got *g)
{
	struct cf_import_opts o;
	struct cf_batch *b;
	int rc;

	memset(g, 0, sizeof *g);
	memset(&o, 0, sizeof o);
	o.tz = "UTC";
	REQUIRE(cf_batch_new(&b, "whatsapp", "UTC") == 0);
	rc = cf_importer_whatsapp.parse(path, b, &o);
	if (rc == 0)
		REQUIRE(cf_batch_foreach(b, collect_cb, g) == 0);
	cf_batch_free(b);
	return rc;
}

/* extra[key] as a string ("" when absent; numbers and objects as JSON). */
static const char *
extra_get(const struct cf_msg *m, const char *key)
{
	static char buf[4096];
	json_t *j, *v;
	char *s;

	buf[0] = '\0';
	if (m->extra == NULL)
		return buf;
	REQUIRE((j = json_loads(m->extra, 0, NULL)) != NULL);
	v = json_object_get(j, key);
	if (json_is_string(v)) {
		snprintf(buf, sizeof buf, "%s", json_string_value(v));
	} else if (v != NULL) {
		s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
		REQUIRE(s != NULL);
		snprintf(buf, sizeof buf, "%s", s);
		free(s);
	}
	json_decref(j);
	return buf;
}

/* "att=1 deleted=2 missing=3 …": counts of kinds and flags, sorted. */
static void
summary(const struct got *g, char *out, size_t n)
{
	static const char *const keys[] = {
		"att", "call", "contact", "deleted", "dup", "edited", "guess", "location",
		"missing", "poll", "sticker", "system", NULL,
	};
	size_t i, k, used = 0;
	unsigned cnt;
	int w;

	out[0] = '\0';
	for (k = 0; keys[k] != NULL; k++) {
		cnt = 0;
		for (i = 0; i < g->n; i++) {
			const struct cf_msg *m = &g->m[i];

			if (strcmp(keys[k], "att") == 0)
				cnt += m->natt > 0;
			else if (strcmp(keys[k], "dup") == 0)
				cnt += *extra_get(m, "dup") != '\0';
			else if (strcmp(keys[k], "guess") == 0)
				cnt += *extra_get(m, "date_guess") != '\0';
			else if (strcmp(keys[k], "missing") == 0)
				cnt += *extra_get(m, "missing_attachments") != '\0';
			else
				cnt += strcmp(extra_get(m, "kind"), keys[k]) == 0;
		}
		if (cnt == 0)
			continue;
		w = snprintf(out + used, n - used, "%s%s=%u", used ? " " : "", keys[k], cnt);
		REQUIRE(w > 0 && (size_t)w < n - used);
		used += (size_t)w;
	}
}

/* Distinct senders in order of appearance, joined with "|". */
static void
senders(const struct got *g, char *out, size_t n)
{
	size_t i, used = 0;
	int w;

	out[0] = '\0';
	for (i = 0; i < g->n; i++) {
		const char *s = g->m[i].sender;
		size_t j, dup = 0;

		if (s == NULL)
			continue;
		for (j = 0; j < i; j++)
			if (g->m[j].sender != NULL && strcmp(g->m[j].sender, s) == 0)
				dup = 1;
		if (dup)
			continue;
		w = snprintf(out + used, n - used, "%s%s", used ? "|" : "", s);
		REQUIRE(w > 0 && (size_t)w < n - used);
		used += (size_t)w;
	}
}

/* ---- files and stderr ------------------------------------------------------ */

static void
fix(char *buf, size_t n, const char *name)
{
	REQUIRE(cf_path(buf, n, "%s/%s", fixdir, name) == 0);
}

static void
tmp_path(char *buf, size_t n, const char *name)
{
	REQUIRE(cf_path(buf, n, "%s/%s", tmpdir, name) == 0);
}

static void
write_bytes(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	REQUIRE(fd >= 0);
	REQUIRE(cf_write_all(fd, data, len) == 0);
	REQUIRE(close(fd) == 0);
}


/* Parse path expecting failure; err gets the message without "prog: ". */
static int
parse_err(const char *path, char *err, size_t n)
{
	char raw[2048];
	const char *p;
	struct got g;
	int rc;

	capture_begin(tmpdir);
	rc = parse(path, &g);
	capture_end(raw, sizeof raw);
	got_free(&g);
	p = strstr(raw, ": ");
	snprintf(err, n, "%s", p != NULL && strncmp(raw, cf_progname(), strlen(cf_progname())) ==
	    0 ? p + 2 : raw);
	return rc;
}

static int
file_equals(const char *path, const char *data, size_t len)
{
	char buf[256];
	ssize_t got;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return 0;
	got = read(fd, buf, sizeof buf);
	close(fd);
	return got == (ssize_t)len && memcmp(buf, data, len) == 0;
}

/* ---- fixtures ---------------------------------------------------------------- */

#define LRM "\xe2\x80\x8e"

static void
test_android_txt(void)
{
	char path[PATH_MAX], want[PATH_MAX], s[512];
	struct got g;

	fix(path, sizeof path, "android/WhatsApp Chat with Ana Lima.txt");
	CHECK(cf_importer_whatsapp.detect(path) == 1);
	CHECK_RC(parse(path, &g), 0);
	REQUIRE(g.n == 15);
	/* chat id and title: the file name without prefix and extension */
	CHECK_STR(g.chat[0], "Ana Lima");
	CHECK_STR(g.title[0], "Ana Lima");
	senders(&g, s, sizeof s);
	CHECK_STR(s, "Ana Lima|Ben");
	summary(&g, s, sizeof s);
	CHECK_STR(s, "att=1 call=1 deleted=1 dup=1 edited=1 location=1 missing=2 system=2");
	/* system line without author; times in UTC, exact */
	CHECK(g.m[0].sender == NULL);
	CHECK_STR(extra_get(&g.m[0], "kind"), "system");
	CHECK(g.m[0].ts_ms == 1704445200000LL);                 /* 2024-01-05 09:00 */
	CHECK_STR(g.m[0].ts_raw, "05/01/2024, 09:00");
	CHECK_STR(g.m[0].tz, "UTC");
	CHECK(g.m[0].id == NULL);
	/* CRLF line, then LF and CRLF continuation lines with an empty one */
	CHECK_STR(g.m[1].body, "Good morning");
	CHECK_STR(g.m[2].body, "Two lines\nsecond line\n\nthird after a blank line");
	CHECK_STR(extra_get(&g.m[2], "source_text"),
	    "05/01/2024, 09:02 - Ben: Two lines\nsecond line\n\nthird after a blank line");
	/* a file next to the .txt is linked; the caption stays in the body */
	REQUIRE(g.m[3].natt == 1);
	CHECK_STR(g.m[3].att[0].name, "IMG-20240105-WA0001.jpg");
	fix(want, sizeof want, "android/IMG-20240105-WA0001.jpg");
	CHECK_STR(g.m[3].att[0].src_path, want);
	CHECK(g.m[3].att[0].size == 25);
	CHECK_STR(g.m[3].body, "IMG-20240105-WA0001.jpg (file attached)\nCaption under the photo");
	CHECK_STR(extra_get(&g.m[3], "missing_attachments"), "");
	/* a file absent next to a lone .txt is recorded, not an error; the
	 * U+200E before the name stays in the body */
	CHECK(g.m[4].natt == 0);
	CHECK_STR(g.m[4].body, LRM "DOC-20240105-WA0002.pdf (file attached)");
	CHECK_STR(extra_get(&g.m[4], "missing_attachments"),
	    "[{\"name\":\"DOC-20240105-WA0002.pdf\",\"reason\":\"not found next to the chat file\"}]");
	/* day first, decided by "13/01" */
	CHECK(g.m[5].ts_ms == 1705180500000LL);                 /* 2024-01-13 21:15 */
	CHECK_STR(extra_get(&g.m[5], "date_guess"), "");
	CHECK_STR(extra_get(&g.m[5], "missing_attachments"),
	    "[{\"type\":\"media\",\"reason\":\"not included in export\"}]");
	CHECK_STR(extra_get(&g.m[6], "kind"), "deleted");
	CHECK_STR(g.m[6].sender, "Ben");
	/* edited marker removed from the body, kept in source_text */
	CHECK_STR(g.m[7].body, "Fixed typo");
	CHECK_STR(extra_get(&g.m[7], "kind"), "edited");
	CHECK_STR(extra_get(&g.m[7], "edited"), "true");
	CHECK(strstr(extra_get(&g.m[7], "source_text"), "<This message was edited>") != NULL);
	/* identical lines stay distinct */
	CHECK_STR(extra_get(&g.m[8], "dup"), "");
	CHECK_STR(extra_get(&g.m[9], "dup"), "1");
	CHECK_STR(g.m[9].body, "same");
	CHECK_STR(extra_get(&g.m[10], "kind"), "location");
	/* a quoted ": " in a system line does not make an author */
	CHECK(g.m[11].sender == NULL);
	CHECK_STR(g.m[11].body, "Ana Lima changed the subject from \"a: b\" to \"c\"");
	CHECK_STR(extra_get(&g.m[12], "kind"), "call");
	/* a name that is not a plain file name is left as text */
	CHECK(g.m[13].natt == 0);
	CHECK_STR(extra_get(&g.m[13], "missing_attachments"), "");
	/* last line without a newline */
	CHECK_STR(g.m[14].body, "last line, no newline");
	CHECK(g.m[14].ts_ms == 1705180980000LL);
	got_free(&g);
}

static void
test_ios_folder(void)
{
	char path[PATH_MAX], want[PATH_MAX], s[512];
	struct got g;

	fix(path, sizeof path, "ios/WhatsApp Chat - Bruno Costa");
	CHECK(cf_importer_whatsapp.detect(path) == 1);
	CHECK_RC(parse(path, &g), 0);
	REQUIRE(g.n == 13);
	CHECK_STR(g.chat[0], "Bruno Costa");
	senders(&g, s, sizeof s);
	CHECK_STR(s, "Carla|Bruno Costa");
	summary(&g, s, sizeof s);
	CHECK_STR(s, "att=2 deleted=2 edited=1 missing=2 poll=1 system=2");
	/* the notice authored by the chat's name is a system line */
	CHECK(g.m[0].sender == NULL);
	CHECK_STR(extra_get(&g.m[0], "kind"), "system");
	CHECK_STR(g.m[0].body, LRM "Messages and calls are end-to-end encrypted. No one outside "
	    "of this chat can read them.");
	CHECK(g.m[0].ts_ms == 1707595200000LL);                 /* 2024-02-10 20:00:00 */
	/* <attached: …> linked to the folder's files, names with spaces too */
	REQUIRE(g.m[2].natt == 1);
	CHECK_STR(g.m[2].att[0].name, "00000002-PHOTO-2024-02-10-20-05-00.jpg");
	fix(want, sizeof want, "ios/WhatsApp Chat - Bruno Costa/00000002-PHOTO-2024-02-10-20-05-00.jpg");
	CHECK_STR(g.m[2].att[0].src_path, want);
	CHECK_STR(g.m[2].sender, "Bruno Costa");
	REQUIRE(g.m[3].natt == 1);
	CHECK_STR(g.m[3].att[0].name, "00000003-Plan v2.pdf");
	CHECK_STR(g.m[3].body, "Plan v2.pdf " LRM "<attached: 00000003-Plan v2.pdf>");
	/* iOS placeholders */
	CHECK_STR(extra_get(&g.m[4], "missing_attachments"),
	    "[{\"type\":\"image\",\"reason\":\"not included in export\"}]");
	CHECK_STR(extra_get(&g.m[5], "missing_attachments"),
	    "[{\"name\":\"Report.pdf\",\"type\":\"document\",\"reason\":\"not included in export\"}]");
	CHECK_STR(extra_get(&g.m[6], "kind"), "deleted");
	/* poll, CRLF continuation lines */
	CHECK_STR(extra_get(&g.m[7], "kind"), "poll");
	CHECK_STR(g.m[7].body, "POLL:\nWhere do we meet?\nOPTION: Station (2 votes)\nOPTION: Cafe (1 vote)");
	CHECK_STR(extra_get(&g.m[7], "poll"), "{\"question\":\"Where do we meet?\",\"options\":"
	    "[{\"text\":\"Station\",\"votes\":2},{\"text\":\"Cafe\",\"votes\":1}]}");
	CHECK_STR(g.m[8].body, "See you at 8");
	CHECK_STR(extra_get(&g.m[8], "kind"), "edited");
	/* 12-hour clock with U+202F before PM / AM */
	CHECK(g.m[9].ts_ms == 1707854709000LL);                 /* 2024-02-13 20:05:09 */
	CHECK_STR(g.m[9].ts_raw, "2/13/24, 8:05:09\xe2\x80\xafPM");
	CHECK(g.m[10].ts_ms == 1707868800000LL);                /* 2024-02-14 00:00:00 */
	/* a security-code line by the chat's name is system; a deletion by the
	 * same name is not */
	CHECK(g.m[11].sender == NULL);
	CHECK_STR(extra_get(&g.m[11], "kind"), "system");
	CHECK_STR(g.m[12].sender, "Bruno Costa");
	CHECK_STR(extra_get(&g.m[12], "kind"), "deleted");
	got_free(&g);

	/* the same _chat.txt alone: the folder's name is the chat id and the
	 * files next to it are linked too */
	fix(path, sizeof path, "ios/WhatsApp Chat - Bruno Costa/_chat.txt");
	CHECK_RC(parse(path, &g), 0);
	REQUIRE(g.n == 13);
	CHECK_STR(g.chat[0], "Bruno Costa");
	CHECK(g.m[2].natt == 1 && g.m[3].natt == 1);
	got_free(&g);
}

struct locale_case {
	const char *file;
	size_t n;
	int64_t ts[4];
	const char *sender0, *body_last;
};

static void
test_locales(void)
{
	static const struct locale_case cases[] = {
		/* Arabic-Indic digits, U+200F, Arabic comma, NBSP + م/ص, phone
		 * number author in U+202A…U+202C */
		{ "locales/arabic.txt", 2, { 1707163509000LL, 1707784200000LL },
		    "+44\xc2\xa0" "7700\xc2\xa0" "900123",
		    "\xe2\x80\x8f\xd9\x84\xd9\x85 \xd9\x8a\xd8\xaa\xd9\x85 \xd8\xa5\xd8\xaf\xd8\xb1\xd8\xa7"
		    "\xd8\xac \xd8\xa7\xd9\x84\xd8\xb5\xd9\x88\xd8\xb1\xd8\xa9" },
		/* Thai Buddhist years */
		{ "locales/thai_be.txt", 2, { 1707987600000LL, 1673489144000LL }, "Somchai", "older" },
		/* Japanese eras: Reiwa 6, Heisei 31, Showa 63 */
		{ "locales/japanese_era.txt", 3, { 1707987600000LL, 1546855200000LL, 599615999000LL },
		    "Aiko", "showa" },
		/* time before date; day first from "15/2" */
		{ "locales/vietnamese.txt", 2, { 1707988500000LL, 1706994001000LL }, "Minh",
		    LRM "\xc4\x91\xc3\xa3 b\xe1\xbb\x8f qua h\xc3\xacnh \xe1\xba\xa3nh" },
		/* dotted time */
		{ "locales/indonesian.txt", 1, { 1707988530000LL }, "Budi", "dotted time" },
		/* "p. m." with U+202F and NBSP, "12:10 a. m.", "00:08 a. m.", "p.m." */
		{ "locales/spanish.txt", 4, { 1708031100000LL, 1708042200000LL, 1708042080000LL,
		    1708086600000LL }, "Lucia", "mediodia" },
		/* a dot after the time, year first */
		{ "locales/trailing_dot.txt", 1, { 1708004040000LL }, "Kim", "dot after the time" },
		/* "PM" after U+202F, "am" after NBSP */
		{ "locales/us_12h.txt", 2, { 1708031100000LL, 1708084740000LL }, "Sam",
		    "no-break space" },
	};
	char path[PATH_MAX];
	struct got g;
	size_t i, k;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		fix(path, sizeof path, cases[i].file);
		CHECK(cf_importer_whatsapp.detect(path) == 1);
		CHECK_RC(parse(path, &g), 0);
		if (g.n != cases[i].n) {
			fprintf(stderr, "%s: %zu messages, wanted %zu\n", cases[i].file, g.n,
			    cases[i].n);
			CHECK(0);
			got_free(&g);
			continue;
		}
		for (k = 0; k < g.n; k++) {
			if (g.m[k].ts_ms != cases[i].ts[k])
				fprintf(stderr, "%s[%zu]: ts %lld, wanted %lld\n", cases[i].file, k,
				    (long long)g.m[k].ts_ms, (long long)cases[i].ts[k]);
			CHECK(g.m[k].ts_ms == cases[i].ts[k]);
			CHECK_STR(extra_get(&g.m[k], "date_guess"), "");
		}
		CHECK_STR(g.m[0].sender, cases[i].sender0);
		CHECK_STR(g.m[g.n - 1].body, cases[i].body_last);
		got_free(&g);
	}
	/* the Arabic placeholder is a missing image */
	fix(path, sizeof path, "locales/arabic.txt");
	REQUIRE(parse(path, &g) == 0 && g.n == 2);
	CHECK_STR(extra_get(&g.m[1], "missing_attachments"),
	    "[{\"type\":\"image\",\"reason\":\"not included in export\"}]");
	CHECK_STR(g.m[0].body, "\xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7");
	got_free(&g);
}

static void
test_ambiguous(void)
{
	char path[PATH_MAX];
	struct got g;

	/* "03/04/2024" and "01/01/2024": no field above 12; '/' with a
	 * four-digit year means day first, recorded where it matters */
	fix(path, sizeof path, "ambiguous.txt");
	CHECK_RC(parse(path, &g), 0);
	REQUIRE(g.n == 2);
	CHECK(g.m[0].ts_ms == 1712138400000LL);                 /* 2024-04-03 10:00 */
	CHECK_STR(extra_get(&g.m[0], "date_guess"), "dmy");
	CHECK_STR(extra_get(&g.m[1], "date_guess"), "");        /* 1/1: same either way */
	got_free(&g);
}

static void
test_timezone(void)
{
	struct cf_import_opts o;
	struct cf_batch *b;
	struct got g;
	char path[PATH_MAX];

	/* zone-less times are read in o.tz and the zone is recorded */
	fix(path, sizeof path, "locales/indonesian.txt");
	memset(&o, 0, sizeof o);
	memset(&g, 0, sizeof g);
	o.tz = "Asia/Jakarta";
	REQUIRE(cf_batch_new(&b, "whatsapp", o.tz) == 0);
	CHECK_RC(cf_importer_whatsapp.parse(path, b, &o), 0);
	REQUIRE(cf_batch_foreach(b, collect_cb, &g) == 0);
	cf_batch_free(b);
	REQUIRE(g.n == 1);
	CHECK(g.m[0].ts_ms == 1707988530000LL - 7 * 3600 * 1000LL);
	CHECK_STR(g.m[0].tz, "Asia/Jakarta");
	got_free(&g);
	/* an unknown zone is refused */
	o.tz = "Mars/Olympus";
	REQUIRE(cf_batch_new(&b, "whatsapp", "UTC") == 0);
	cf_log_quiet(1);
	CHECK_RC(cf_importer_whatsapp.parse(path, b, &o), -EINVAL);
	cf_log_quiet(0);
	cf_batch_free(b);
}

static void
test_errors(void)
{
	static const struct {
		const char *file, *reason;
	} cases[] = {
		{ "invalid/first_line.txt", ":1: not a WhatsApp message header" },
		{ "invalid/bad_time.txt", ":2: invalid time" },
		{ "invalid/conflict.txt", ":2: day and month order differs from line 1" },
		{ "invalid/bad_date.txt", ":2: invalid date" },
		{ "invalid/bad_utf8.txt", ":2: not valid UTF-8 text" },
		{ "invalid/empty.txt", ": no WhatsApp messages" },
	};
	char path[PATH_MAX], err[2048], want[PATH_MAX + 100];
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		fix(path, sizeof path, cases[i].file);
		CHECK_RC(parse_err(path, err, sizeof err), -EINVAL);
		snprintf(want, sizeof want, "%s%s", path, cases[i].reason);
		CHECK_STR(err, want);
		/* never the content of a message */
		CHECK(strstr(err, "secret") == NULL && strstr(err, "month first") == NULL);
	}
	CHECK(cf_importer_whatsapp.detect(path) == 0);          /* empty.txt */
	tmp_path(path, sizeof path, "nope.txt");
	CHECK_RC(parse_err(path, err, sizeof err), -ENOENT);
}

/* The Android fixture and its later export: every message of the first is
 * in the second with the same (ts, sender, body, extra), so the archive's
 * content tag dedups them. */
static void
test_overlap(void)
{
	char path[PATH_MAX];
	struct got a, b;
	size_t i;

	fix(path, sizeof path, "android/WhatsApp Chat with Ana Lima.txt");
	REQUIRE(parse(path, &a) == 0);
	fix(path, sizeof path, "overlap/WhatsApp Chat with Ana Lima.txt");
	REQUIRE(parse(path, &b) == 0);
	REQUIRE(b.n == a.n + 1);
	CHECK_STR(b.chat[0], a.chat[0]);
	for (i = 0; i < a.n; i++) {
		CHECK(a.m[i].ts_ms == b.m[i].ts_ms);
		CHECK_STR(a.m[i].body, b.m[i].body);
		CHECK((a.m[i].sender == NULL) == (b.m[i].sender == NULL));
		/* the overlap folder has no IMG file: that message differs */
		if (i != 3)
			CHECK_STR(a.m[i].extra, b.m[i].extra);
	}
	CHECK_STR(b.m[a.n].body, "a new day");
	got_free(&a);
	got_free(&b);
}

/* ---- zip and folder exports built here ------------------------------------ */

static void
tzip_add(zip_t *z, const char *name, const char *data)
{
	zip_source_t *src = zip_source_buffer(z, data, strlen(data), 0);

	REQUIRE(src != NULL);
	REQUIRE(zip_file_add(z, name, src, ZIP_FL_ENC_UTF_8) >= 0);
}

static void
make_zip(const char *path, const char *const *members)
{
	zip_t *z;
	int err;

	unlink(path);
	REQUIRE((z = zip_open(path, ZIP_CREATE | ZIP_EXCL, &err)) != NULL);
	for (; members[0] != NULL; members += 2)
		tzip_add(z, members[0], members[1]);
	REQUIRE(zip_close(z) == 0);
}

static const char ios_chat[] =
    "[2/10/24, 20:00:00] Carla: " LRM "Messages and calls are end-to-end encrypted.\r\n"
    LRM "[2/10/24, 20:05:00] Dora: " LRM "<attached: 00000002-PHOTO-2024-02-10-20-05-00.jpg>\r\n"
    "caption line\r\n"
    "[2/10/24, 20:06:00] Carla: again\r\n"
    LRM "[2/10/24, 20:07:00] Dora: " LRM "<attached: 00000002-PHOTO-2024-02-10-20-05-00.jpg>\r\n";

static void
test_zip(void)
{
	const char *const good[] = {
		"_chat.txt", ios_chat,
		"00000002-PHOTO-2024-02-10-20-05-00.jpg", "PHOTO BYTES",
		"__MACOSX/._chat.txt", "junk",
		"__MACOSX/._00000002-PHOTO-2024-02-10-20-05-00.jpg", "junk",
		NULL, NULL,
	};
	const char *const missing[] = { "_chat.txt", ios_chat, NULL, NULL };
	const char *const nochat[] = { "photo.jpg", "x", "__MACOSX/._chat.txt", "junk", NULL, NULL };
	const char *const evil[] = { "_chat.txt", ios_chat, "../evil.jpg", "x", NULL, NULL };
	const char *const android[] = {
		"WhatsApp Chat with Dora.txt", "13/02/2024, 10:00 - Dora: DOC-1.pdf (file attached)\n",
		"DOC-1.pdf", "%PDF",
		NULL, NULL,
	};
	char path[PATH_MAX], err[2048], want[PATH_MAX + 200], dir[PATH_MAX];
	struct stat st;
	struct got g;
	char *slash;

	tmp_path(path, sizeof path, "WhatsApp Chat - Carla.zip");
	make_zip(path, good);
	CHECK(cf_importer_whatsapp.detect(path) == 1);
	CHECK_RC(parse(path, &g), 0);
	REQUIRE(g.n == 4);
	CHECK_STR(g.chat[0], "Carla");
	CHECK(g.m[0].sender == NULL);
	REQUIRE(g.m[1].natt == 1 && g.m[3].natt == 1);
	CHECK_STR(g.m[1].att[0].name, "00000002-PHOTO-2024-02-10-20-05-00.jpg");
	CHECK_STR(g.m[1].body, LRM "<attached: 00000002-PHOTO-2024-02-10-20-05-00.jpg>\ncaption line");
	CHECK(g.m[1].att[0].size == 11);
	/* extracted once, 0600 inside a 0700 folder, with the member's bytes */
	CHECK_STR(g.m[1].att[0].src_path, g.m[3].att[0].src_path);
	CHECK(file_equals(g.m[1].att[0].src_path, "PHOTO BYTES", 11));
	REQUIRE(lstat(g.m[1].att[0].src_path, &st) == 0);
	CHECK(S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0600);
	snprintf(dir, sizeof dir, "%s", g.m[1].att[0].src_path);
	REQUIRE((slash = strrchr(dir, '/')) != NULL);
	*slash = '\0';
	REQUIRE(lstat(dir, &st) == 0);
	CHECK(S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
	got_free(&g);
	/* the import command removes the folder */
	cf_import_tempdirs_clean();
	CHECK(lstat(dir, &st) != 0 && errno == ENOENT);

	/* the zip promised the file */
	make_zip(path, missing);
	CHECK_RC(parse_err(path, err, sizeof err), -EINVAL);
	snprintf(want, sizeof want, "%s/_chat.txt:2: attachment "
	    "00000002-PHOTO-2024-02-10-20-05-00.jpg: not in the export", path);
	CHECK_STR(err, want);

	tmp_path(path, sizeof path, "nochat.zip");
	make_zip(path, nochat);
	CHECK(cf_importer_whatsapp.detect(path) == 0);
	CHECK_RC(parse_err(path, err, sizeof err), -EINVAL);
	snprintf(want, sizeof want, "%s: no WhatsApp chat file in the zip", path);
	CHECK_STR(err, want);

	tmp_path(path, sizeof path, "evil.zip");
	make_zip(path, evil);
	CHECK_RC(parse_err(path, err, sizeof err), -EINVAL);
	snprintf(want, sizeof want, "%s: member ../evil.jpg: absolute or \"..\" name refused", path);
	CHECK_STR(err, want);

	/* Android zip: the chat id comes from the member's name */
	tmp_path(path, sizeof path, "export.zip");
	make_zip(path, android);
	CHECK(cf_importer_whatsapp.detect(path) == 1);
	CHECK_RC(parse(path, &g), 0);
	REQUIRE(g.n == 1);
	CHECK_STR(g.chat[0], "Dora");
	REQUIRE(g.m[0].natt == 1);
	CHECK(file_equals(g.m[0].att[0].src_path, "%PDF", 4));
	got_free(&g);
	cf_import_tempdirs_clean();

	/* not a zip at all, though named .zip */
	tmp_path(path, sizeof path, "broken.zip");
	write_bytes(path, "PK\x03\x04 broken", 11);
	CHECK(cf_importer_whatsapp.detect(path) == 0);
	CHECK_RC(parse_err(path, err, sizeof err), -EINVAL);
	CHECK(strncmp(err, path, strlen(path)) == 0);
}

static void
test_folder_missing(void)
{
	char dir[PATH_MAX], path[PATH_MAX], err[2048], want[PATH_MAX + 200];

	tmp_path(dir, sizeof dir, "WhatsApp Chat - Eve");
	REQUIRE(mkdir(dir, 0700) == 0);
	REQUIRE(cf_path(path, sizeof path, "%s/_chat.txt", dir) == 0);
	write_bytes(path, ios_chat, strlen(ios_chat));
	CHECK(cf_importer_whatsapp.detect(dir) == 1);
	CHECK_RC(parse_err(dir, err, sizeof err), -EINVAL);
	snprintf(want, sizeof want, "%s:2: attachment 00000002-PHOTO-2024-02-10-20-05-00.jpg: "
	    "not in the export", path);
	CHECK_STR(err, want);
	/* the same text alone only records the file as missing */
	REQUIRE(cf_path(path, sizeof path, "%s/lone.txt", tmpdir) == 0);
	write_bytes(path, ios_chat, strlen(ios_chat));
	{
		struct got g;

		CHECK_RC(parse(path, &g), 0);
		REQUIRE(g.n == 4);
		CHECK_STR(g.chat[0], "lone");
		CHECK(g.m[1].natt == 0);
		CHECK(strstr(extra_get(&g.m[1], "missing_attachments"), "not found") != NULL);
		got_free(&g);
	}
}

static void
test_detect(void)
{
	char path[PATH_MAX];

	/* signal-export's old chat.md line form is left to the Signal importer */
	tmp_path(path, sizeof path, "signalish.txt");
	write_bytes(path, "[2019-12-24, 12:23] Jane Doe: Hello John!\n", 42);
	CHECK(cf_importer_whatsapp.detect(path) == 0);
	tmp_path(path, sizeof path, "lines.jsonl");
	write_bytes(path, "{\"chat\":\"x\"}\n", 13);
	CHECK(cf_importer_whatsapp.detect(path) == 0);
	/* a header in a file not named .txt */
	tmp_path(path, sizeof path, "chat.md");
	write_bytes(path, "05/01/2024, 09:00 - Ana: x\n", 27);
	CHECK(cf_importer_whatsapp.detect(path) == 0);
	CHECK(cf_importer_whatsapp.detect(tmpdir) == 0);        /* no chat file (yet) */
	fix(path, sizeof path, "android/WhatsApp Chat with Ana Lima.txt");
	CHECK(cf_importer_find("whatsapp") == &cf_importer_whatsapp);
}

/* ---- the shared corpus ------------------------------------------------------ */

struct sample {
	size_t i;
	int64_t ts;
	const char *sender, *body;
};

struct corpus_case {
	const char *file;
	size_t n;
	const char *chat, *senders, *summary;
	struct sample s[4];
};

/* Generated from the importer's output and checked by hand against the
 * files; every ts_ms was also recomputed independently from ts_raw. */
static const struct corpus_case corpus[] = {
	{ "chat-analytics/1A_3M.txt", 3, "1A_3M",
	    "A|B",
	    "",
	    { { 0, 1609502400000LL, "A", "Hi" }, { 2, 1609502520000LL, "A", "All good" } } },
	{ "chat-analytics/2A_5M.txt", 5, "2A_5M",
	    "A|B",
	    "missing=1",
	    { { 0, 1609502400000LL, "A", "Hi" }, { 3, 1609502580000LL, "B", "<media omitted>" }, { 4, 1609502520000LL, "A", "This message should be reordered" } } },
	{ "chat-analytics/4A_11M.txt", 14, "4A_11M",
	    "Bob|Eve|Alice|Mallory|Trent",
	    "guess=14 system=3",
	    { { 0, 1607558100000LL, NULL, "Messages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, can read or listen to them. Tap to learn more." }, { 13, 1607558160000LL, "Trent", "heh" } } },
	{ "chat-analytics/4A_11M.zip", 14, "4A_11M",
	    "Bob|Eve|Alice|Mallory|Trent",
	    "guess=14 system=3",
	    { { 0, 1607558100000LL, NULL, "Messages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, can read or listen to them. Tap to learn more." }, { 13, 1607558160000LL, "Trent", "heh" } } },
	{ "chat-miner/test_[mmddyy]_24hrs.txt", 9, "test_[mmddyy]_24hrs",
	    "John Doe|Jahn Doe|John-John Doe|John Doe 🤓|🤓",
	    "system=2",
	    { { 0, 1546341900000LL, "John Doe", "Lorem ipsum dolor sit amet." }, { 2, 1548881340000LL, "Jahn Doe", "Lorem ipsum dolor sit amet,\nconsectetur adipiscing elit. Duis libero." }, { 8, 1640901660000LL, "John Doe", "Lorem ipsum dolor sit amet,\nconsectetur adipiscing elit. Duis libero." } } },
	{ "chat-miner/test_dateformat1.txt", 10, "test_dateformat1",
	    "John Doe|John-John Doe|Jahn Doe|+12 345 578",
	    "system=3",
	    { { 0, 1577186580000LL, "John Doe", "." }, { 4, 1579294140000LL, "Jahn Doe", "Lorem ipsum dolor sit amet,\nconsectetur adipiscing elit. Duis libero." }, { 9, 1500232380000LL, "+12 345 578", "Lorem ipsum." } } },
	{ "chat-miner/test_dateformat2.txt", 4, "test_dateformat2",
	    "John Doe|John-John Doe|Jahn Doe",
	    "",
	    { { 0, 1569367800000LL, "John Doe", "Lorem ipsum dolor sit amet." }, { 3, 1577187000000LL, "Jahn Doe", "Lorem ipsum dolor sit amet,\nconsectetur adipiscing elit. Duis libero." } } },
	{ "chat-miner/test_dateformat3.txt", 4, "test_dateformat3",
	    "John Doe|John-John Doe|Jahn Doe",
	    "",
	    { { 0, 1671024840000LL, "John Doe", "Lorem ipsum dolor sit amet." }, { 3, 1671642120000LL, "Jahn Doe", "Lorem ipsum dolor sit amet,\nconsectetur adipiscing elit. Duis libero." } } },
	{ "chat-miner/test_dateformat5.txt", 4, "test_dateformat5",
	    "John Doe|John-John Doe|Jahn Doe",
	    "",
	    { { 0, 1634829705000LL, "John Doe", "Lorem ipsum dolor sit amet." }, { 3, 1635088908000LL, "Jahn Doe", "Lorem ipsum dolor sit amet,\nconsectetur adipiscing elit. Duis libero." } } },
	{ "chat-miner/test_dateformat6.txt", 4, "test_dateformat6",
	    "John Doe|John-John Doe|Jahn Doe",
	    "",
	    { { 0, 1634829705000LL, "John Doe", "Lorem ipsum dolor sit amet." }, { 3, 1635088908000LL, "Jahn Doe", "Lorem ipsum dolor sit amet,\nconsectetur adipiscing elit. Duis libero." } } },
	{ "chat-miner/test_ddmmyy_24hrs.txt", 9, "test_ddmmyy_24hrs",
	    "John Doe|Jahn Doe|John-John Doe|John Doe 🤓|🤓",
	    "system=2",
	    { { 0, 1546341900000LL, "John Doe", "Lorem ipsum dolor sit amet." }, { 2, 1548881340000LL, "Jahn Doe", "Lorem ipsum dolor sit amet,\nconsectetur adipiscing elit. Duis libero." }, { 8, 1640901660000LL, "John Doe", "Lorem ipsum dolor sit amet,\nconsectetur adipiscing elit. Duis libero." } } },
	{ "chat-miner/test_mmddyy_24hrs.txt", 9, "test_mmddyy_24hrs",
	    "John Doe|Jahn Doe|John-John Doe|John Doe 🤓|🤓",
	    "system=2",
	    { { 0, 1546341900000LL, "John Doe", "Lorem ipsum dolor sit amet." }, { 2, 1548881340000LL, "Jahn Doe", "Lorem ipsum dolor sit amet,\nconsectetur adipiscing elit. Duis libero." }, { 8, 1640901660000LL, "John Doe", "Lorem ipsum dolor sit amet,\nconsectetur adipiscing elit. Duis libero." } } },
	{ "chat-miner/test_mmddyyyy_12hrs.txt", 9, "test_mmddyyyy_12hrs",
	    "John Doe|Jahn Doe|John-John Doe|John Doe 🤓|🤓",
	    "system=2",
	    { { 0, 1546341900000LL, "John Doe", "Lorem ipsum dolor sit amet." }, { 2, 1548881340000LL, "Jahn Doe", "Lorem ipsum dolor sit amet,\nconsectetur adipiscing elit. Duis libero." }, { 8, 1640901660000LL, "John Doe", "Lorem ipsum dolor sit amet,\nconsectetur adipiscing elit. Duis libero." } } },
	{ "chat-miner/test_unicode.txt", 3, "test_unicode",
	    "John Doe|John Doe 🤓|🤓",
	    "guess=3",
	    { { 0, 1662849420000LL, "John Doe", "Testing abnormal\xc2\xa0unicode" }, { 2, 1662849420000LL, "🤓", "Testing emoji 🤓" } } },
	{ "chat-miner/test_yyyymmdd_24hrs.txt", 9, "test_yyyymmdd_24hrs",
	    "John Doe|Jahn Doe|John-John Doe|John Doe 🤓|🤓",
	    "system=2",
	    { { 0, 1546341900000LL, "John Doe", "Lorem ipsum dolor sit amet." }, { 2, 1548881340000LL, "Jahn Doe", "Lorem ipsum dolor sit amet,\nconsectetur adipiscing elit. Duis libero." }, { 8, 1640901660000LL, "John Doe", "Lorem ipsum dolor sit amet,\nconsectetur adipiscing elit. Duis libero." } } },
	{ "chat-miner/testlog.txt", 20, "testlog",
	    "John Doe|Jahn Doe|+12 345 578|John-John Doe|John Doe 🤓|🤓",
	    "dup=1 system=3",
	    { { 0, 1577186580000LL, "John Doe", "Lorem ipsum dolor sit amet." }, { 2, 1579294140000LL, "Jahn Doe", "Lorem ipsum dolor sit amet,\nconsectetur adipiscing elit. Duis libero." }, { 19, 1662849420000LL, "🤓", "Testing emoji 🤓" } } },
	{ "pustur/example-2019/_chat.txt", 100, "example-2019",
	    "Loris|John|Emily",
	    "system=3",
	    { { 0, 1561046327000LL, NULL, "\xe2\x80\x8eMessages to this group are now secured with end-to-end encryption." }, { 19, 1561046587000LL, "Emily", "It was just a suggestion\nIf you want we can change place\nHave you ever been to <insert cool place here>?" }, { 99, 1561060498000LL, "Loris", "Links:\n- https://github.com/Pustur/whatsapp-chat-parser\n- https://github.com/Pustur/whatsapp-chat-parser-website" } } },
	{ "pustur/example-2024/_chat.txt", 52, "example-2024",
	    "John|Loris|Emily",
	    "missing=4 poll=1 system=4",
	    { { 0, 1561046327000LL, NULL, "Messages to this group are now secured with end-to-end encryption." }, { 15, 1561046415000LL, "Loris", "<attached: 00000001-PHOTO-2019-06-20-16-00-15.jpg>" }, { 23, 1561046587000LL, "Emily", "Come on...\ndon't be so mysterious and show us!" }, { 51, 1561049128000LL, "Loris", "Links:\n- https://github.com/Pustur/whatsapp-chat-parser\n- https://github.com/Pustur/whatsapp-chat-parser-website" } } },
	{ "pustur/short-chat.txt", 5, "short-chat",
	    "Sample User|TestBot|+410123456789",
	    "guess=5 system=2",
	    { { 0, 1488761100000LL, NULL, "Messages to this group are now secured with end-to-end encryption. Tap for more info." }, { 4, 1491702600000LL, "+410123456789", "How are you?\nIs everything alright?" } } },
	{ "rwhatsapp/sample.txt", 9, "sample",
	    "Johannes Gruber|Test",
	    "missing=1 system=2",
	    { { 0, 1499898900000LL, NULL, "Messages to this group are now secured with end-to-end encryption. Tap for more info." }, { 2, 1499898900000LL, "Johannes Gruber", "<Media omitted>" }, { 4, 1499937120000LL, "Test", "It's fun doing text analysis with R\nisn't it?" }, { 8, 1538141400000LL, "Johannes Gruber", "🤷‍♀🤷🏻‍♂🙎‍♀🙎‍♂🙍‍♀🙍‍♂💇‍♀💇‍♂💆‍♀💆‍♂🧖‍♀🧖‍♂💅🤳💃🕺👯‍♀👯‍♂🕴🚶‍♀🚶‍♂🏃‍♀🏃‍♂👫👭👬💑👩‍❤‍👩👨‍❤‍👨💏👩‍❤‍💋‍👩👨‍❤‍💋‍👨👪👨‍👩‍👧👨‍👩‍👧‍👦👨‍👩‍👦‍👦👨‍👩‍👧‍👧👩‍👩‍👦👩‍👩‍👧👩‍👩‍👧‍👦👩‍👩‍👦‍👦👩‍👩‍👧‍👧👨‍👨‍👦👨‍👨‍👧👨‍👨‍👧‍👦👨‍👨‍👦‍👦👨‍👨‍👧‍👧👩‍👦👩‍👧👩‍👧‍👦👩‍👦‍👦👩‍👧‍👧👨‍👦👨‍👧👨‍👧‍👦👨‍👦‍👦👨‍👧‍👧🧥👚👕👖👔👗👙👘👠👡👢👞👟🧦🧤🧣🎩🧢👒🎓⛑👑👝👛👜💼🎒👓🕶🌂" } } },
	{ "whats_json/android/WhatsApp Chat with Group Chat XXX Android.txt", 20, "Group Chat XXX Android",
	    "Dmitry S",
	    "deleted=1 guess=20 system=16",
	    { { 0, 1673453580000LL, NULL, "Messages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, can read or listen to them. Tap to learn more." }, { 18, 1673456220000LL, "Dmitry S", "This message was deleted" }, { 19, 1673456220000LL, "Dmitry S", "We" } } },
	{ "whats_json/calendars/Buddhist iOS.txt", 28, "Buddhist iOS",
	    "Dmitry S|Elon Musk",
	    "contact=1 deleted=3 location=2 missing=16 sticker=2 system=3",
	    { { 0, 1647615361000LL, NULL, "\xe2\x80\x8eMessages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, can read or listen to them." }, { 2, 1648417315000LL, "Dmitry S", "\xe2\x80\x8eimage omitted" }, { 27, 1673537715000LL, "Dmitry S", "\xe2\x80\x8e" "audio omitted" } } },
	{ "whats_json/calendars/Japanese iOS.txt", 28, "Japanese iOS",
	    "Dmitry S|Elon Musk",
	    "contact=1 deleted=3 location=2 missing=16 sticker=2 system=3",
	    { { 0, 1647615361000LL, NULL, "\xe2\x80\x8eMessages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, can read or listen to them." }, { 2, 1648417315000LL, "Dmitry S", "\xe2\x80\x8eimage omitted" }, { 27, 1673537715000LL, "Dmitry S", "\xe2\x80\x8e" "audio omitted" } } },
	{ "whats_json/languages/arabic2_ios.txt", 23, "arabic2_ios",
	    "Dmitry Starkov|Elon Musk",
	    "contact=1 deleted=2 location=2 missing=14 sticker=2 system=1",
	    { { 0, 1647615361000LL, NULL, "\xe2\x80\x8fالرسائل والمكالمات مشفرة تمامًا بين الطرفين، بحيث لا يستطيع أحد خارج هذه الدردشة، ولا حتى شركة واتساب نفسها، قراءتها أو الاستماع إليها." }, { 2, 1648417315000LL, "Dmitry Starkov", "\xe2\x80\x8fلم يتم إدراج الصورة" }, { 22, 1648418205000LL, "Dmitry Starkov", "\xe2\x80\x8fموقع: https://maps.google.com/?q=36.666958,29.113155" } } },
	{ "whats_json/languages/arabic_ios.txt", 23, "arabic_ios",
	    "Dmitry S|+40\xc2\xa0" "521\xc2\xa0" "028\xc2\xa0" "61\xc2\xa0" "88",
	    "contact=1 deleted=2 location=2 missing=14 sticker=2 system=1",
	    { { 0, 1647615360000LL, NULL, "\xe2\x80\x8fالرسائل والمكالمات مشفرة تمامًا بين الطرفين، بحيث لا يستطيع أحد خارج هذه الدردشة، ولا حتى شركة واتساب نفسها، قراءتها أو الاستماع إليها." }, { 2, 1648417315000LL, "Dmitry S", "\xe2\x80\x8fلم يتم إدراج الصورة" }, { 22, 1648418205000LL, "Dmitry S", "\xe2\x80\x8fموقع: https://maps.google.com/?q=34.800600,28.100155" } } },
	{ "whats_json/languages/czech_android.txt", 60, "czech_android",
	    "Dmitry S|Elon",
	    "call=2 contact=2 deleted=8 dup=9 location=3 missing=29 system=1",
	    { { 0, 1648042260000LL, NULL, "Zprávy a hovory jsou zabezpečeny koncovým šifrováním. Nikdo, kdo není přímým účastníkem této konverzace, ji nemůže sledovat ani poslouchat. Dokonce ani WhatsApp. Další informace zobrazíte klepnutím." }, { 2, 1647616200000LL, "Dmitry S", "<Média vynechány>" }, { 38, 1648417560000LL, "Dmitry S", "Pimlico Gardens\nLondon, United Kingdom\nhttps://foursquare.com/v/4e89af95e5fa82ad4c0aa03b" }, { 59, 1673134320000LL, "Dmitry S", "Zmeškaný hovor" } } },
	{ "whats_json/languages/czech_ios.txt", 23, "czech_ios",
	    "Dmitry S|Elon Musk",
	    "contact=1 deleted=2 location=2 missing=14 sticker=2 system=1",
	    { { 0, 1647615360000LL, NULL, "\xe2\x80\x8eZprávy a hovory jsou opatřeny koncovým šifrováním. Nikdo, kdo není přímým účastníkem této konverzace, ji nemůže sledovat ani poslouchat. Dokonce ani WhatsApp." }, { 2, 1648417315000LL, "Dmitry S", "\xe2\x80\x8eobrázek vynechán" }, { 22, 1648418205000LL, "Dmitry S", "\xe2\x80\x8ePoloha: https://maps.google.com/?q=51.5021456,-0.127397" } } },
	{ "whats_json/languages/deutch_android_media.txt", 41, "deutch_android_media",
	    "Dmitry S|Elon",
	    "call=2 contact=2 deleted=7 dup=1 location=3 missing=21 sticker=4 system=1",
	    { { 0, 1648042260000LL, NULL, "Berichten en oproepen worden end-to-end versleuteld. Niemand buiten deze chat kan ze lezen of beluisteren, zelfs WhatsApp niet. Tik voor meer informatie." }, { 2, 1647616200000LL, "Dmitry S", "<Media weggelaten>" }, { 3, 1647616200000LL, "Dmitry S", "<Media weggelaten>\nCaption" }, { 40, 1673134320000LL, "Dmitry S", "Gemiste spraakoproep" } } },
	{ "whats_json/languages/deutch_ios.txt", 23, "deutch_ios",
	    "Dmitry S|Elon Musk",
	    "contact=1 deleted=2 location=2 missing=14 sticker=2 system=1",
	    { { 0, 1647615360000LL, NULL, "\xe2\x80\x8eNachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt. Niemand außerhalb dieses Chats kann sie lesen oder anhören, nicht einmal WhatsApp." }, { 2, 1648417315000LL, "Dmitry S", "\xe2\x80\x8e" "Bild weggelassen" }, { 22, 1648418205000LL, "Dmitry S", "\xe2\x80\x8eStandort: https://maps.google.com/?q=51.5021456,-0.127397" } } },
	{ "whats_json/languages/english_android.txt", 60, "english_android",
	    "Dmitry S|Elon",
	    "call=2 contact=2 deleted=8 dup=9 location=3 missing=29 system=1",
	    { { 0, 1648042260000LL, NULL, "Messages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, can read or listen to them. Tap to learn more." }, { 2, 1647616200000LL, "Dmitry S", "<Media omitted>" }, { 38, 1648417560000LL, "Dmitry S", "Pimlico Gardens\nLondon, United Kingdom\nhttps://foursquare.com/v/4e89af95e5fa82ad4c0aa03b" }, { 59, 1673134320000LL, "Dmitry S", "Missed voice call" } } },
	{ "whats_json/languages/english_android_media.txt", 60, "english_android_media",
	    "Dmitry S|Elon",
	    "call=2 contact=2 deleted=8 dup=3 location=3 missing=29 sticker=4 system=1",
	    { { 0, 1648042260000LL, NULL, "Messages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, can read or listen to them. Tap to learn more." }, { 2, 1647616200000LL, "Dmitry S", "<Media omitted>" }, { 3, 1647616200000LL, "Dmitry S", "<Media omitted>\nCaption" }, { 59, 1673134320000LL, "Dmitry S", "Missed voice call" } } },
	{ "whats_json/languages/english_ios.txt", 23, "english_ios",
	    "Dmitry S|Elon Musk",
	    "contact=1 deleted=2 location=2 missing=14 sticker=2 system=1",
	    { { 0, 1647615361000LL, NULL, "\xe2\x80\x8eMessages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, can read or listen to them." }, { 2, 1648417315000LL, "Dmitry S", "\xe2\x80\x8eimage omitted" }, { 22, 1648418205000LL, "Dmitry S", "\xe2\x80\x8eLocation: https://maps.google.com/?q=51.5021456,-0.127397" } } },
	{ "whats_json/languages/english_ios_media.txt", 25, "english_ios_media",
	    "Dmitry S|Elon Musk",
	    "contact=1 deleted=2 location=2 missing=14 sticker=2 system=3",
	    { { 0, 1647615361000LL, NULL, "\xe2\x80\x8eMessages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, can read or listen to them." }, { 2, 1648417315000LL, "Dmitry S", "\xe2\x80\x8e<attached: 00000035-PHOTO-2022-03-27-21-41-55.jpg>" }, { 24, 1673134350000LL, NULL, "\xe2\x80\x8e\xe2\x80\x8eYour security code with Elon changed. \xe2\x80\x8eTap to learn more." } } },
	{ "whats_json/languages/french_ios.txt", 23, "french_ios",
	    "Dmitry S|Elon Musk",
	    "contact=1 deleted=2 location=2 missing=14 sticker=2 system=1",
	    { { 0, 1647615360000LL, NULL, "\xe2\x80\x8eLes messages et les appels sont chiffrés de bout en bout. Aucun tiers, pas même WhatsApp, ne peut les lire ou les écouter." }, { 2, 1648417315000LL, "Dmitry S", "\xe2\x80\x8eimage absente" }, { 22, 1648418205000LL, "Dmitry S", "\xe2\x80\x8eLocalisation: https://maps.google.com/?q=51.5021456,-0.127397" } } },
	{ "whats_json/languages/hindi_ios.txt", 23, "hindi_ios",
	    "Dmitry S|Elon Musk",
	    "contact=1 deleted=2 location=2 missing=14 sticker=2 system=1",
	    { { 0, 1647615360000LL, NULL, "\xe2\x80\x8eमैसेजेस और कॉल्स एंड-टू-एंड एन्क्रिप्टेड हैं. इस चैट में शामिल लोगों के अलावा कोई भी इन्हें पढ़ या सुन नहीं सकता, WhatsApp भी नहीं." }, { 2, 1648417315000LL, "Dmitry S", "\xe2\x80\x8eफ़ोटो हटाई गई" }, { 22, 1648418205000LL, "Dmitry S", "\xe2\x80\x8eलोकेशन: https://maps.google.com/?q=51.5021456,-0.127397" } } },
	{ "whats_json/languages/indonesian_ios.txt", 23, "indonesian_ios",
	    "Dmitry S|Elon Musk",
	    "contact=1 deleted=2 location=2 missing=14 sticker=2 system=1",
	    { { 0, 1647615361000LL, NULL, "\xe2\x80\x8ePesan dan panggilan terenkripsi secara end-to-end. Tidak seorang pun di luar chat ini, termasuk WhatsApp, yang dapat membaca atau mendengarkannya." }, { 2, 1648417315000LL, "Dmitry S", "\xe2\x80\x8egambar tidak disertakan" }, { 22, 1648418205000LL, "Dmitry S", "\xe2\x80\x8eLokasi: https://maps.google.com/?q=51.5021456,-0.127397" } } },
	{ "whats_json/languages/italian_ios.txt", 23, "italian_ios",
	    "Dmitry S|Elon Musk",
	    "contact=1 deleted=2 location=2 missing=14 sticker=2 system=1",
	    { { 0, 1647615360000LL, NULL, "\xe2\x80\x8eI messaggi e le chiamate sono crittografati end-to-end. Nessuno al di fuori di questa chat, nemmeno WhatsApp, può leggerne o ascoltarne il contenuto." }, { 2, 1648417315000LL, "Dmitry S", "\xe2\x80\x8eimmagine omessa" }, { 22, 1648418205000LL, "Dmitry S", "\xe2\x80\x8ePosizione: https://maps.google.com/?q=51.5021456,-0.127397" } } },
	{ "whats_json/languages/japanese_ios.txt", 23, "japanese_ios",
	    "Dmitry S|Elon Musk",
	    "contact=1 deleted=2 location=2 missing=14 sticker=2 system=1",
	    { { 0, 1647615360000LL, NULL, "\xe2\x80\x8eメッセージと通話はエンドツーエンド暗号化されています。チャットの参加者以外は、たとえWhatsAppでも読んだり聞いたりすることはできません。" }, { 2, 1648417315000LL, "Dmitry S", "\xe2\x80\x8e画像は含まれていません" }, { 22, 1648418205000LL, "Dmitry S", "\xe2\x80\x8e位置情報: https://maps.google.com/?q=51.5021456,-0.127397" } } },
	{ "whats_json/languages/portugal_ios.txt", 23, "portugal_ios",
	    "Dmitry S|Elon Musk",
	    "contact=1 deleted=2 location=2 missing=14 sticker=2 system=1",
	    { { 0, 1647615360000LL, NULL, "\xe2\x80\x8e" "As mensagens e chamadas são encriptadas ponto a ponto. Ninguém fora desta conversa, nem mesmo o WhatsApp, pode ler ou ouvi-las." }, { 2, 1648417315000LL, "Dmitry S", "\xe2\x80\x8eimagem não revelada" }, { 22, 1648418205000LL, "Dmitry S", "\xe2\x80\x8eLocalização: https://maps.google.com/?q=51.5021456,-0.127397" } } },
	{ "whats_json/languages/russian_android.txt", 60, "russian_android",
	    "Dmitry S|Elon",
	    "call=2 contact=2 deleted=8 dup=9 location=3 missing=29 system=1",
	    { { 0, 1648042260000LL, NULL, "Сообщения и звонки защищены сквозным шифрованием. Третьи лица, включая WhatsApp, не\xc2\xa0могут прочитать ваши сообщения или прослушать звонки. Нажмите, чтобы узнать подробнее." }, { 2, 1647616200000LL, "Dmitry S", "<Без медиафайлов>" }, { 38, 1648417560000LL, "Dmitry S", "Pimlico Gardens\nLondon, United Kingdom\nhttps://foursquare.com/v/4e89af95e5fa82ad4c0aa03b" }, { 59, 1673134320000LL, "Dmitry S", "Пропущенный аудиозвонок" } } },
	{ "whats_json/languages/russian_ios.txt", 23, "russian_ios",
	    "Dmitry S|Elon Musk",
	    "contact=1 deleted=2 location=2 missing=14 sticker=2 system=1",
	    { { 0, 1647615360000LL, NULL, "\xe2\x80\x8eСообщения и звонки защищены сквозным шифрованием. Третьи лица, включая WhatsApp, не\xc2\xa0могут прочитать ваши сообщения или прослушать звонки." }, { 2, 1648417315000LL, "Dmitry S", "\xe2\x80\x8eизображение отсутствует" }, { 22, 1648418205000LL, "Dmitry S", "\xe2\x80\x8eМестоположение: https://maps.google.com/?q=51.5021456,-0.127397" } } },
	{ "whats_json/languages/spanish_ios.txt", 23, "spanish_ios",
	    "Dmitry S|Elon Musk",
	    "contact=1 deleted=2 location=2 missing=14 sticker=2 system=1",
	    { { 0, 1647615360000LL, NULL, "\xe2\x80\x8eLos mensajes y las llamadas están cifrados de extremo a extremo. Nadie fuera de este chat, ni siquiera WhatsApp, puede leerlos ni escucharlos." }, { 2, 1648417315000LL, "Dmitry S", "\xe2\x80\x8eimagen omitida" }, { 22, 1648418205000LL, "Dmitry S", "\xe2\x80\x8eUbicación: https://maps.google.com/?q=51.5021456,-0.127397" } } },
	{ "whats_json/languages/thai_ios.txt", 23, "thai_ios",
	    "Dmitry S|Elon Musk",
	    "contact=1 deleted=2 location=2 missing=14 sticker=2 system=1",
	    { { 0, 1647615361000LL, NULL, "\xe2\x80\x8eข้อความและการโทรได้รับการเข้ารหัสจากต้นทางถึงปลายทาง ผู้ที่ไม่ได้อยู่ในแชทนี้จะไม่สามารถอ่านหรือฟังได้แม้แต่ WhatsApp เอง" }, { 2, 1648417315000LL, "Dmitry S", "\xe2\x80\x8eไม่มีรูปภาพ" }, { 22, 1648418205000LL, "Dmitry S", "\xe2\x80\x8eตำแหน่งที่ตั้ง: https://maps.google.com/?q=51.5021456,-0.127397" } } },
	{ "whats_json/languages/ukrainian_ios.txt", 23, "ukrainian_ios",
	    "Dmitry S|Elon Musk",
	    "contact=1 deleted=2 location=2 missing=14 sticker=2 system=1",
	    { { 0, 1647615360000LL, NULL, "\xe2\x80\x8eПовідомлення й дзвінки захищено наскрізним шифруванням. Прочитати чи прослухати їх не зможе жодна стороння особа, навіть із WhatsApp." }, { 2, 1648417315000LL, "Dmitry S", "\xe2\x80\x8eзображення відсутнє" }, { 22, 1648418205000LL, "Dmitry S", "\xe2\x80\x8eРозташування: https://maps.google.com/?q=51.5021456,-0.127397" } } },
	{ "whats_json/languages/vietnamese_ios.txt", 23, "vietnamese_ios",
	    "Dmitry S|Musk Elon",
	    "contact=1 deleted=2 location=2 missing=14 sticker=2 system=1",
	    { { 0, 1647615361000LL, NULL, "\xe2\x80\x8eTin nhắn và cuộc gọi được mã hóa đầu cuối. Những người bên ngoài cuộc trò chuyện này, kể cả WhatsApp, sẽ không đọc hoặc nghe được." }, { 2, 1648417315000LL, "Dmitry S", "\xe2\x80\x8eđã bỏ qua hình ảnh" }, { 22, 1648418206000LL, "Dmitry S", "\xe2\x80\x8eVị trí: https://maps.google.com/?q=51.5021456,-0.127397" } } },
	{ "whatstk/example-12h.txt", 20, "example-12h",
	    "Ash Ketchum|Brock|Misty|Prof. Oak|Jessie & James|Raichu|Meowth|Wobbuffet",
	    "system=2",
	    { { 0, 1460732640000LL, NULL, "You created group “Sample Group”" }, { 19, 1477923780000LL, "Wobbuffet", "Wo-bbu-ffet" } } },
	{ "whatstk/pokemon.txt", 20, "pokemon",
	    "Ash Ketchum|Brock|Misty|Prof. Oak|Jessie & James|Raichu|Meowth|Wobbuffet",
	    "system=2",
	    { { 0, 1460732640000LL, NULL, "Messages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, can read or listen to them." }, { 19, 1477916580000LL, "Wobbuffet", "Wo-bbu-ffet" } } },
};

static int
test_corpus(const char *dir)
{
	char path[PATH_MAX], s[1024], err[2048], want[PATH_MAX + 100];
	struct got g;
	size_t i, k;

	for (i = 0; i < sizeof corpus / sizeof corpus[0]; i++) {
		const struct corpus_case *c = &corpus[i];

		REQUIRE(cf_path(path, sizeof path, "%s/whatsapp/%s", dir, c->file) == 0);
		CHECK(cf_importer_whatsapp.detect(path) == 1);
		if (parse(path, &g) != 0) {
			fprintf(stderr, "%s: parse failed\n", c->file);
			CHECK(0);
			continue;
		}
		if (g.n != c->n) {
			fprintf(stderr, "%s: %zu messages, wanted %zu\n", c->file, g.n, c->n);
			CHECK(0);
			got_free(&g);
			continue;
		}
		CHECK_STR(g.chat[0], c->chat);
		CHECK_STR(g.chat[g.n - 1], c->chat);
		senders(&g, s, sizeof s);
		CHECK_STR(s, c->senders);
		summary(&g, s, sizeof s);
		if (strcmp(s, c->summary) != 0)
			fprintf(stderr, "%s: summary\n", c->file);
		CHECK_STR(s, c->summary);
		for (k = 0; k < 4 && c->s[k].body != NULL; k++) {
			const struct cf_msg *m = &g.m[c->s[k].i];

			if (m->ts_ms != c->s[k].ts)
				fprintf(stderr, "%s[%zu]: ts %lld\n", c->file, c->s[k].i,
				    (long long)m->ts_ms);
			CHECK(m->ts_ms == c->s[k].ts);
			if (c->s[k].sender == NULL)
				CHECK(m->sender == NULL);
			else
				CHECK_STR(m->sender, c->s[k].sender);
			CHECK_STR(m->body, c->s[k].body);
			CHECK_STR(m->tz, "UTC");
			CHECK(m->id == NULL && m->ts_raw != NULL);
			CHECK(*extra_get(m, "source_text") != '\0');
		}
		got_free(&g);
	}

	/* invalid on purpose: "13:37:00 p.m." on line 3 */
	REQUIRE(cf_path(path, sizeof path, "%s/whatsapp/chat-miner/test_dateformat4.txt", dir) == 0);
	CHECK_RC(parse_err(path, err, sizeof err), -EINVAL);
	snprintf(want, sizeof want, "%s:3: invalid time", path);
	CHECK_STR(err, want);

	/* the text and the zip of 4A_11M are the same chat */
	REQUIRE(cf_path(path, sizeof path, "%s/whatsapp/chat-analytics/4A_11M.zip", dir) == 0);
	REQUIRE(parse(path, &g) == 0);
	{
		struct got t;

		REQUIRE(cf_path(path, sizeof path, "%s/whatsapp/chat-analytics/4A_11M.txt", dir) == 0);
		REQUIRE(parse(path, &t) == 0);
		REQUIRE(t.n == g.n);
		for (k = 0; k < g.n; k++)
			CHECK_STR(g.m[k].extra, t.m[k].extra);
		got_free(&t);
	}
	got_free(&g);
	cf_import_tempdirs_clean();
	return 0;
}

static void
remove_tmp(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "warning: could not remove %s\n", tmpdir);
}

int
main(void)
{
	const char *src = getenv("COFFER_SRCDIR"), *base = getenv("TMPDIR");
	const char *corpus_env = getenv("COFFER_CORPUS");
	char cwd[PATH_MAX], corpus_dir[PATH_MAX], rel[PATH_MAX];
	struct stat st;
	int have_corpus;

	REQUIRE(cf_crypto_init() == 0);
	if (src == NULL || *src == '\0')
		src = getenv("COFFER_TOP");
	REQUIRE(cf_path(fixdir, sizeof fixdir, "%s/tests/fixtures/whatsapp",
	    src != NULL && *src != '\0' ? src : ".") == 0);
	if (stat(fixdir, &st) != 0) {
		fprintf(stderr, "test_import_whatsapp: %s: fixtures not found (run from the "
		    "source tree or set COFFER_SRCDIR)\n", fixdir);
		return 1;
	}
	REQUIRE(getcwd(cwd, sizeof cwd) != NULL);
	if (fixdir[0] != '/') {
		snprintf(rel, sizeof rel, "%s", fixdir);
		REQUIRE(cf_path(fixdir, sizeof fixdir, "%s/%s", cwd, rel) == 0);
	}
	REQUIRE(cf_path(tmpdir, sizeof tmpdir, "%s/test_import_whatsapp.XXXXXX",
	    base != NULL && *base != '\0' ? base : "/tmp") == 0);
	REQUIRE(mkdtemp(tmpdir) != NULL);

	test_detect();
	test_android_txt();
	test_ios_folder();
	test_locales();
	test_ambiguous();
	test_timezone();
	test_errors();
	test_overlap();
	test_zip();
	test_folder_missing();

	REQUIRE(cf_path(corpus_dir, sizeof corpus_dir, "%s",
	    corpus_env != NULL && *corpus_env != '\0' ? corpus_env : "../shared/corpus") == 0);
	have_corpus = stat(corpus_dir, &st) == 0 && S_ISDIR(st.st_mode);
	if (have_corpus)
		test_corpus(corpus_dir);
	remove_tmp();
	if (!have_corpus && check_failures == 0) {
		printf("test_import_whatsapp: %d checks passed\n", check_count);
		printf("SKIP: corpus not found at %s\n", corpus_dir);
		return 77;
	}
	return CHECK_DONE("test_import_whatsapp");
}
