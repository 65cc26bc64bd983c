/*
 * test_import_jsonl.c - the JSON Lines importer and the importer registry:
 * detection, every member of a line (types, defaults, naive times and the
 * zone recorded, unknown members kept as compact JSON, attachments), and
 * the error paths, including the exact "FILE:LINE: reason" messages (read
 * back from a redirected stderr) and that they never quote content.
 *
 * Fixtures: tests/fixtures/jsonl/ (relative to the current directory, or
 * to $COFFER_SRCDIR or $COFFER_TOP).  Other inputs are written to a private temp folder.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "check.h"
#include "same.h"
#include "testlib.h"
#include "crypto.h"
#include "import.h"
#include "util.h"

static char fixdir[PATH_MAX];
static char tmpdir[PATH_MAX];

static void
tmp_path(char *buf, size_t n, const char *name)
{
	REQUIRE(cf_path(buf, n, "%s/%s", tmpdir, name) == 0);
}

/* Parse path into a fresh batch; *count gets the messages added, *err the
 * error text printed (with the "coffer: " prefix). */
static int
parse_file(const char *path, const char *tz, size_t *count, char *err, size_t errlen)
{
	struct cf_import_opts o = { .tz = tz };
	struct cf_batch *b = NULL;
	int rc;

	REQUIRE(cf_batch_new(&b, "jsonl", tz) == 0);
	capture_begin(tmpdir);
	rc = cf_importer_jsonl.parse(path, b, &o);
	capture_end(err, errlen);
	*count = cf_batch_messages(b);
	cf_batch_free(b);
	return rc;
}

/* ---- the fast path gives what jansson gives ---------------------------- */

/* Parse line both ways (with and without the fast path): same result,
 * same reason, same fields. */
static int
both_ways(const char *line)
{
	struct cf_jsonl_line a, b;
	char wa[256], wb[256];
	int ra, rb, same;

	ra = cf_jsonl_parse_line(line, strlen(line), tmpdir, "Europe/Paris", &a, wa, sizeof wa);
	rb = cf_jsonl_parse_line_json(line, strlen(line), tmpdir, "Europe/Paris", &b, wb,
	    sizeof wb);
	same = ra == rb && (ra >= 0 || strcmp(wa, wb) == 0);
	if (same && ra == 1)
		same = same_jsonl_line(&a, &b);
	if (!same)
		fprintf(stderr, "the paths differ (%d, %d: %s | %s) on: %s\n", ra, rb,
		    ra < 0 ? wa : "", rb < 0 ? wb : "", line);
	if (ra == 1)
		cf_jsonl_line_clear(&a);
	if (rb == 1)
		cf_jsonl_line_clear(&b);
	return same;
}

static void
test_fast_path(void)
{
	static const char *const lines[] = {
		"{\"chat\":\"c\",\"ts\":\"2024-05-01T10:00:00Z\",\"sender\":\"A\",\"body\":\"x\"}\n",
		"{\"chat\":\"c\",\"chat_title\":\"T\",\"id\":7,\"ts\":\"2024-05-01T10:00:00+02:00\","
		    "\"sender\":\"Zo\xc3\xab\",\"body\":\"a\\nb \\\"q\\\" \\\\ \\t \xf0\x9f\x99\x82\"}\r\n",
		"{\"body\":\"\",\"sender\":\"A\",\"ts\":\"2024-05-01 10:00:00\",\"id\":\"m-1\","
		    "\"chat\":\"c\"}",
		"{\"chat\":\"c\",\"chat_title\":\"\",\"id\":\"\",\"ts\":\"2024-05-01T10:00:00Z\","
		    "\"sender\":\"A\",\"body\":\"x\"}",
		"{\"chat\":\"c\",\"id\":-12,\"ts\":\"2024-05-01T10:00:00Z\",\"sender\":\"A\",\"body\":\"x\"}",
		"{\"chat\":\"c\",\"id\":1.5,\"ts\":\"2024-05-01T10:00:00Z\",\"sender\":\"A\",\"body\":\"x\"}",
		"{\"chat\":\"c\",\"id\":99999999999999999999,\"ts\":\"2024-05-01T10:00:00Z\","
		    "\"sender\":\"A\",\"body\":\"x\"}",
		"{\"chat\":\"c\",\"id\":true,\"ts\":\"2024-05-01T10:00:00Z\",\"sender\":\"A\",\"body\":\"x\"}",
		"{\"chat\":\"\",\"ts\":\"2024-05-01T10:00:00Z\",\"sender\":\"A\",\"body\":\"x\"}",
		"{\"chat\":\"c\",\"ts\":\"\",\"sender\":\"A\",\"body\":\"x\"}",
		"{\"chat\":\"c\",\"ts\":\"yesterday\",\"sender\":\"A\",\"body\":\"x\"}",
		"{\"chat\":\"c\",\"ts\":\"2024-05-01T10:00:00Z\",\"sender\":\"\",\"body\":\"x\"}",
		"{\"chat\":\"c\",\"ts\":\"2024-05-01T10:00:00Z\",\"sender\":null,\"body\":\"x\"}",
		"{\"chat\":\"c\",\"ts\":\"2024-05-01T10:00:00Z\",\"body\":\"x\"}",
		"{\"chat\":\"c\",\"ts\":\"2024-05-01T10:00:00Z\",\"sender\":\"A\"}",
		"{\"chat\":\"c\",\"ts\":\"2024-05-01T10:00:00Z\",\"sender\":\"A\",\"body\":5}",
		"{\"chat\":\"c\",\"ts\":\"2024-05-01T10:00:00Z\",\"sender\":\"A\",\"body\":\"x\","
		    "\"mood\":\"ok\",\"n\":[1,2]}",
		"{\"chat\":\"c\",\"ts\":\"2024-05-01T10:00:00Z\",\"sender\":\"A\",\"body\":\"x\","
		    "\"attachments\":[]}",
		"{\"chat\":\"c\",\"ts\":\"2024-05-01T10:00:00Z\",\"sender\":\"A\",\"body\":\"x\","
		    "\"body\":\"y\"}",
		"{\"chat\":\"c\",\"ts\":\"2024-05-01T10:00:00Z\",\"sender\":\"A\",\"body\":\"\\u00e9\"}",
		"{\"chat\":\"c\",\"ts\":\"2024-05-01T10:00:00Z\",\"sender\":\"A\",\"body\":\"\\u0000\"}",
		"{\"chat\":\"c\",\"ts\":\"2024-05-01T10:00:00Z\",\"sender\":\"A\",\"body\":\"\xff\"}",
		"{\"chat\":\"c\",\"ts\":\"2024-05-01T10:00:00Z\",\"sender\":\"A\",\"body\":\"tab\there\"}",
		"{\"chat\":\"c\", \"ts\":\"2024-05-01T10:00:00Z\",\"sender\":\"A\",\"body\":\"x\"}",
		" {\"chat\":\"c\",\"ts\":\"2024-05-01T10:00:00Z\",\"sender\":\"A\",\"body\":\"x\"}",
		"{\"chat\":\"c\",\"ts\":\"2024-05-01T10:00:00Z\",\"sender\":\"A\",\"body\":\"x\"} x",
		"{\"chat\":\"c\",\"ts\":\"2024-05-01T10:00:00Z\",\"sender\":\"A\",\"body\":\"x\"",
		"{\"chat\":\"c\",\"ts\":\"2024-05-01T10:00:00Z\",\"sender\":\"A\",\"body\":\"x",
		"{\"ch\\u0061t\":\"c\",\"ts\":\"2024-05-01T10:00:00Z\",\"sender\":\"A\",\"body\":\"x\"}",
		"[1]",
		"{}",
		"   \n",
	};
	size_t i;

	for (i = 0; i < sizeof lines / sizeof lines[0]; i++)
		CHECK(both_ways(lines[i]));
}

/* ---- a large file is stored in batches as it is read -------------------- */

/* 45,000 lines in two interleaved chats: the batch is offered to the flush
 * each time it reaches CF_IMPORT_FLUSH_MESSAGES, so memory stays bounded
 * (a bug had the whole file kept for one batch); a failing flush stops
 * the parse with its error. */
static void
test_flush(void)
{
	struct cf_import_opts o = { .tz = "UTC", .flush = count_flush };
	struct cf_batch *b = NULL;
	char p[PATH_MAX], err[512];
	size_t i;
	FILE *f;
	int rc;

	tmp_path(p, sizeof p, "big.jsonl");
	f = fopen(p, "w");
	REQUIRE(f != NULL);
	for (i = 0; i < 45000; i++)
		fprintf(f, "{\"chat\":\"c%zu\",\"id\":%zu,\"ts\":\"2023-01-01T%02zu:%02zu:%02zuZ\","
		    "\"sender\":\"A\",\"body\":\"line %zu\"}\n", i % 2, i, i / 3600, i / 60 % 60,
		    i % 60, i);
	REQUIRE(fclose(f) == 0);
	REQUIRE(CF_IMPORT_FLUSH_MESSAGES == 20000);
	REQUIRE(cf_batch_new(&b, "jsonl", "UTC") == 0);
	CHECK_RC(cf_importer_jsonl.parse(p, b, &o), 0);
	CHECK(flushes == 2);
	CHECK(flushed == 40000);
	CHECK(cf_batch_messages(b) == 5000);
	cf_batch_free(b);

	o.flush = failing_flush;
	REQUIRE(cf_batch_new(&b, "jsonl", "UTC") == 0);
	capture_begin(tmpdir);
	rc = cf_importer_jsonl.parse(p, b, &o);
	capture_end(err, sizeof err);
	CHECK_RC(rc, -EIO);
	CHECK(strstr(err, "flush failed on purpose") != NULL);
	cf_batch_free(b);
	CHECK(unlink(p) == 0);
}

/* ---- detection and the registry ---------------------------------------- */

static void
test_detect(void)
{
	char p[PATH_MAX];

	REQUIRE(cf_path(p, sizeof p, "%s/good.jsonl", fixdir) == 0);
	CHECK(cf_importer_jsonl.detect(p) == 1);
	CHECK(cf_importer_detect(p) == &cf_importer_jsonl);

	/* By content: blanks, then '{' */
	tmp_path(p, sizeof p, "export.txt");
	write_file(p, "\n   \t\n{\"chat\": \"x\"}\n");
	CHECK(cf_importer_jsonl.detect(p) == 1);
	/* A byte order mark first */
	tmp_path(p, sizeof p, "bom.json");
	write_file(p, "\xef\xbb\xbf{\"chat\": \"x\"}\n");
	CHECK(cf_importer_jsonl.detect(p) == 1);
	/* Not JSON Lines: a WhatsApp-style text export, a JSON array, empty */
	tmp_path(p, sizeof p, "chat.txt");
	write_file(p, "13/03/2025, 19:44 - Alice: hello\n");
	CHECK(cf_importer_jsonl.detect(p) == 0);
	CHECK(cf_importer_detect(p) != &cf_importer_jsonl);
	tmp_path(p, sizeof p, "result.json");
	write_file(p, "[{\"chat\": \"x\"}]\n");
	CHECK(cf_importer_jsonl.detect(p) == 0);
	tmp_path(p, sizeof p, "empty");
	write_file(p, "");
	CHECK(cf_importer_jsonl.detect(p) == 0);
	/* By name, whatever the content (parse then says what is wrong) */
	tmp_path(p, sizeof p, "UPPER.NDJSON");
	write_file(p, "not json\n");
	CHECK(cf_importer_jsonl.detect(p) == 1);
	/* Missing file, folder */
	tmp_path(p, sizeof p, "nope");
	CHECK(cf_importer_jsonl.detect(p) == 0);
	CHECK(cf_importer_jsonl.detect(tmpdir) == 0);

	CHECK(cf_importer_find("jsonl") == &cf_importer_jsonl);
	CHECK(cf_importer_find("whatsapp-not-yet") == NULL);
	CHECK(cf_importer_find(NULL) == NULL);
	/* in the registry once (its place in the detection order is free) */
	{
		int found = 0;

		for (size_t i = 0; cf_importers[i] != NULL; i++)
			found += cf_importers[i] == &cf_importer_jsonl;
		CHECK(found == 1);
	}
	CHECK_STR(cf_importer_jsonl.name, "jsonl");
}

/* ---- one line ---------------------------------------------------------- */

static int
line(const char *text, const char *tz, struct cf_jsonl_line *l, char *why, size_t n)
{
	return cf_jsonl_parse_line(text, strlen(text), fixdir, tz, l, why, n);
}

/* Expect text to be refused with exactly reason. */
static void
check_bad(const char *text, const char *reason, int lineno)
{
	struct cf_jsonl_line l;
	char why[PATH_MAX + 200];
	int rc = line(text, "UTC", &l, why, sizeof why);

	if (rc != -EINVAL || strcmp(why, reason) != 0)
		fprintf(stderr, "%s:%d: got %d \"%s\", wanted \"%s\"\n", __FILE__, lineno, rc,
		    why, reason);
	CHECK_RC(rc, -EINVAL);
	CHECK_STR(why, reason);
	/* Nothing is left allocated or filled on failure. */
	CHECK(l.chat == NULL && l.title == NULL && l.msg.body == NULL && l.msg.att == NULL);
}

#define BAD(text, reason) check_bad((text), (reason), __LINE__)

static void
test_line_members(void)
{
	struct cf_jsonl_line l;
	char why[PATH_MAX + 200];

	/* Everything, with an offset: no zone recorded */
	CHECK_RC(line("{\"chat\": \"family\", \"chat_title\": \"Family\", \"id\": \"m1\", "
	    "\"ts\": \"2025-03-13T19:45:12+01:00\", \"sender\": \"Alice\", "
	    "\"body\": \"Dinner?\"}", "Europe/Paris", &l, why, sizeof why), 1);
	CHECK_STR(l.chat, "family");
	CHECK_STR(l.title, "Family");
	CHECK_STR(l.msg.id, "m1");
	CHECK_STR(l.msg.sender, "Alice");
	CHECK_STR(l.msg.body, "Dinner?");
	CHECK_STR(l.msg.ts_raw, "2025-03-13T19:45:12+01:00");
	CHECK(l.msg.ts_ms == 1741891512000LL);
	CHECK(l.msg.tz == NULL);
	CHECK(l.msg.extra == NULL);
	CHECK(l.msg.natt == 0 && l.msg.att == NULL);
	cf_jsonl_line_clear(&l);
	CHECK(l.chat == NULL && l.msg.body == NULL);

	/* A time without offset is read in the zone given, which is recorded */
	CHECK_RC(line("{\"chat\": \"c\", \"ts\": \"2025-03-13T19:44:01\", \"sender\": \"s\", "
	    "\"body\": \"\"}", "Europe/Paris", &l, why, sizeof why), 1);
	CHECK(l.msg.ts_ms == 1741891441000LL);
	CHECK_STR(l.msg.tz, "Europe/Paris");
	CHECK_STR(l.msg.ts_raw, "2025-03-13T19:44:01");
	CHECK_STR(l.msg.body, "");
	CHECK(l.msg.id == NULL);
	CHECK(l.title == NULL);
	cf_jsonl_line_clear(&l);
	CHECK_RC(line("{\"chat\": \"c\", \"ts\": \"2025-03-13 19:44:01\", \"sender\": \"s\", "
	    "\"body\": \"b\"}", "America/New_York", &l, why, sizeof why), 1);
	CHECK(l.msg.ts_ms == 1741909441000LL);
	CHECK_STR(l.msg.tz, "America/New_York");
	cf_jsonl_line_clear(&l);
	/* No zone given: the machine's, by name */
	CHECK_RC(line("{\"chat\": \"c\", \"ts\": \"2025-03-13T19:44\", \"sender\": \"s\", "
	    "\"body\": \"b\"}", NULL, &l, why, sizeof why), 1);
	CHECK_STR(l.msg.tz, cf_tz_local_name());
	cf_jsonl_line_clear(&l);

	/* Integer id as decimal text; null optional members; "" title absent;
	 * unknown members kept in order, compact */
	CHECK_RC(line("{\"reactions\": [1, {\"who\": \"Bob\"}], \"chat\": \"c\", \"id\": -42, "
	    "\"chat_title\": \"\", \"attachments\": null, \"ts\": \"2025-03-13T19:44:01Z\", "
	    "\"sender\": \"s\", \"body\": \"b\", \"edited\": true, \"n\": null}", "UTC",
	    &l, why, sizeof why), 1);
	CHECK_STR(l.msg.id, "-42");
	CHECK(l.title == NULL);
	CHECK_STR(l.msg.extra, "{\"reactions\":[1,{\"who\":\"Bob\"}],\"edited\":true,\"n\":null}");
	cf_jsonl_line_clear(&l);
	CHECK_RC(line("{\"chat\": \"c\", \"id\": null, \"ts\": \"2025-03-13T19:44:01Z\", "
	    "\"sender\": \"s\", \"body\": \"b\"}", "UTC", &l, why, sizeof why), 1);
	CHECK(l.msg.id == NULL);
	cf_jsonl_line_clear(&l);

	/* Unicode escapes decode to UTF-8 */
	CHECK_RC(line("{\"chat\": \"c\", \"ts\": \"2025-03-13T19:44:01Z\", \"sender\": \"s\", "
	    "\"body\": \"caf\\u00e9 \\ud83d\\ude00\"}", "UTC", &l, why, sizeof why), 1);
	CHECK_STR(l.msg.body, "caf\xc3\xa9 \xf0\x9f\x98\x80");
	cf_jsonl_line_clear(&l);

	/* Blank lines */
	CHECK_RC(line("", "UTC", &l, why, sizeof why), 0);
	CHECK_RC(line("  \t\r\n", "UTC", &l, why, sizeof why), 0);
	/* Only len bytes are read: what follows is ignored */
	{
		const char *t = "{\"chat\": \"c\", \"ts\": \"2025-03-13T19:44:01Z\", "
		    "\"sender\": \"s\", \"body\": \"b\"}garbage";

		CHECK_RC(cf_jsonl_parse_line(t, strlen(t) - 7, fixdir, "UTC", &l, why, sizeof why),
		    1);
	}
	cf_jsonl_line_clear(&l);
	cf_jsonl_line_clear(NULL);
}

static void
test_line_errors(void)
{
	struct cf_jsonl_line l;
	char why[PATH_MAX + 200];

	/* Not JSON: jansson's reason, without the token it stopped at */
	CHECK_RC(line("{\"chat\": \"c\", \"body\": topsecretword}", "UTC", &l, why, sizeof why),
	    -EINVAL);
	CHECK(strncmp(why, "invalid JSON: ", 14) == 0);
	CHECK(strstr(why, "topsecretword") == NULL);
	CHECK(strstr(why, "column") != NULL);
	CHECK_RC(line("{\"chat\": \"c\"", "UTC", &l, why, sizeof why), -EINVAL);
	CHECK(strncmp(why, "invalid JSON: ", 14) == 0);
	/* Two values on one line */
	CHECK_RC(line("{\"chat\": \"c\"} {\"chat\": \"d\"}", "UTC", &l, why, sizeof why), -EINVAL);
	CHECK(strncmp(why, "invalid JSON: ", 14) == 0);
	/* Duplicate member */
	CHECK_RC(line("{\"chat\": \"c\", \"chat\": \"d\", \"ts\": \"2025-03-13T19:44:01Z\", "
	    "\"sender\": \"s\", \"body\": \"b\"}", "UTC", &l, why, sizeof why), -EINVAL);
	CHECK(strstr(why, "duplicate") != NULL);
	/* Invalid UTF-8 */
	CHECK_RC(line("{\"chat\": \"c\", \"ts\": \"2025-03-13T19:44:01Z\", \"sender\": \"s\", "
	    "\"body\": \"\xff\xfe\"}", "UTC", &l, why, sizeof why), -EINVAL);
	/* NUL inside a string */
	CHECK_RC(line("{\"chat\": \"c\", \"ts\": \"2025-03-13T19:44:01Z\", \"sender\": \"s\", "
	    "\"body\": \"a\\u0000b\"}", "UTC", &l, why, sizeof why), -EINVAL);

	BAD("[1, 2]", "not a JSON object");
	BAD("\"just a string\"", "not a JSON object");
	BAD("{\"ts\": \"2025-03-13T19:44:01Z\", \"sender\": \"s\", \"body\": \"b\"}",
	    "missing \"chat\"");
	BAD("{\"chat\": \"c\", \"sender\": \"s\", \"body\": \"b\"}", "missing \"ts\"");
	BAD("{\"chat\": \"c\", \"ts\": \"2025-03-13T19:44:01Z\", \"body\": \"b\"}",
	    "missing \"sender\"");
	BAD("{\"chat\": \"c\", \"ts\": \"2025-03-13T19:44:01Z\", \"sender\": \"s\"}",
	    "missing \"body\"");
	BAD("{\"chat\": \"c\", \"ts\": \"2025-03-13T19:44:01Z\", \"sender\": \"s\", \"body\": null}",
	    "missing \"body\"");
	BAD("{\"chat\": 7, \"ts\": \"2025-03-13T19:44:01Z\", \"sender\": \"s\", \"body\": \"b\"}",
	    "\"chat\" must be a string");
	BAD("{\"chat\": \"\", \"ts\": \"2025-03-13T19:44:01Z\", \"sender\": \"s\", \"body\": \"b\"}",
	    "\"chat\" must not be empty");
	BAD("{\"chat\": \"c\", \"ts\": 1741891441, \"sender\": \"s\", \"body\": \"b\"}",
	    "\"ts\" must be a string");
	BAD("{\"chat\": \"c\", \"ts\": \"yesterday\", \"sender\": \"s\", \"body\": \"b\"}",
	    "\"ts\" is not an RFC 3339 date-time");
	BAD("{\"chat\": \"c\", \"ts\": \"2025-02-30T10:00:00Z\", \"sender\": \"s\", \"body\": \"b\"}",
	    "\"ts\" is not an RFC 3339 date-time");
	BAD("{\"chat\": \"c\", \"ts\": \"2025-03-13T19:44:01Z\", \"sender\": 5, \"body\": \"b\"}",
	    "\"sender\" must be a string");
	BAD("{\"chat\": \"c\", \"ts\": \"2025-03-13T19:44:01Z\", \"sender\": \"\", \"body\": \"b\"}",
	    "\"sender\" must not be empty");
	BAD("{\"chat\": \"c\", \"ts\": \"2025-03-13T19:44:01Z\", \"sender\": \"s\", \"body\": [\"b\"]}",
	    "\"body\" must be a string");
	BAD("{\"chat\": \"c\", \"chat_title\": 3, \"ts\": \"2025-03-13T19:44:01Z\", \"sender\": \"s\", "
	    "\"body\": \"b\"}", "\"chat_title\" must be a string");
	BAD("{\"chat\": \"c\", \"id\": 1.5, \"ts\": \"2025-03-13T19:44:01Z\", \"sender\": \"s\", "
	    "\"body\": \"b\"}", "\"id\" must be a string or an integer");
	BAD("{\"chat\": \"c\", \"id\": true, \"ts\": \"2025-03-13T19:44:01Z\", \"sender\": \"s\", "
	    "\"body\": \"b\"}", "\"id\" must be a string or an integer");
}

static void
test_line_attachments(void)
{
	struct cf_jsonl_line l;
	char why[PATH_MAX + 200], want[PATH_MAX + 200], abs[PATH_MAX], p[PATH_MAX];
	char js[2 * PATH_MAX];

#define MSG "{\"chat\": \"c\", \"ts\": \"2025-03-13T19:44:01Z\", \"sender\": \"s\", \"body\": \"b\", "
	CHECK_RC(line(MSG "\"attachments\": [{\"name\": \"The plan.pdf\", \"path\": "
	    "\"files/plan.pdf\"}, {\"path\": \"files/photo.jpg\"}]}", "UTC", &l, why, sizeof why), 1);
	REQUIRE(l.msg.natt == 2);
	CHECK_STR(l.msg.att[0].name, "The plan.pdf");
	REQUIRE(cf_path(want, sizeof want, "%s/files/plan.pdf", fixdir) == 0);
	CHECK_STR(l.msg.att[0].src_path, want);
	CHECK(l.msg.att[0].size == 85);
	CHECK_STR(l.msg.att[1].name, "photo.jpg");          /* default: basename */
	CHECK(l.msg.att[1].size == 34);
	cf_jsonl_line_clear(&l);
	/* Empty array: no attachment */
	CHECK_RC(line(MSG "\"attachments\": []}", "UTC", &l, why, sizeof why), 1);
	CHECK(l.msg.natt == 0);
	cf_jsonl_line_clear(&l);

	/* Absolute path */
	REQUIRE(realpath(want, abs) != NULL);
	REQUIRE(cf_path(js, sizeof js, MSG "\"attachments\": [{\"path\": \"%s\"}]}", abs) == 0);
	CHECK_RC(line(js, "UTC", &l, why, sizeof why), 1);
	REQUIRE(l.msg.natt == 1);
	CHECK_STR(l.msg.att[0].src_path, abs);
	CHECK_STR(l.msg.att[0].name, "plan.pdf");
	cf_jsonl_line_clear(&l);

	/* Missing file: named, with the system's reason */
	REQUIRE(cf_path(want, sizeof want, "attachment %s/files/missing.pdf: %s", fixdir,
	    strerror(ENOENT)) == 0);
	BAD(MSG "\"attachments\": [{\"path\": \"files/plan.pdf\"}, {\"name\": \"x.pdf\", "
	    "\"path\": \"files/missing.pdf\"}]}", want);
	/* A folder, a symbolic link */
	REQUIRE(cf_path(want, sizeof want, "attachment %s/files: not a regular file", fixdir) == 0);
	BAD(MSG "\"attachments\": [{\"name\": \"x\", \"path\": \"files\"}]}", want);
	tmp_path(p, sizeof p, "link.pdf");
	REQUIRE(symlink(abs, p) == 0);
	REQUIRE(cf_path(want, sizeof want, "attachment %s: is a symbolic link", p) == 0);
	REQUIRE(cf_path(js, sizeof js, MSG "\"attachments\": [{\"path\": \"%s\"}]}", p) == 0);
	BAD(js, want);

	BAD(MSG "\"attachments\": {\"path\": \"files/plan.pdf\"}}", "\"attachments\" must be an array");
	BAD(MSG "\"attachments\": [\"files/plan.pdf\"]}", "attachments[0] must be an object");
	BAD(MSG "\"attachments\": [{\"name\": \"plan.pdf\"}]}", "attachments[0]: missing \"path\"");
	BAD(MSG "\"attachments\": [{\"path\": \"\"}]}",
	    "attachments[0]: \"path\" must be a non-empty string");
	BAD(MSG "\"attachments\": [{\"path\": 4}]}",
	    "attachments[0]: \"path\" must be a non-empty string");
	BAD(MSG "\"attachments\": [{\"path\": \"files/plan.pdf\"}, {\"name\": \"../evil\", "
	    "\"path\": \"files/plan.pdf\"}]}", "attachments[1]: \"name\" must be a file name");
	BAD(MSG "\"attachments\": [{\"name\": \"..\", \"path\": \"files/plan.pdf\"}]}",
	    "attachments[0]: \"name\" must be a file name");
	BAD(MSG "\"attachments\": [{\"name\": \"\", \"path\": \"files/plan.pdf\"}]}",
	    "attachments[0]: \"name\" must be a file name");
	BAD(MSG "\"attachments\": [{\"name\": 1, \"path\": \"files/plan.pdf\"}]}",
	    "attachments[0]: \"name\" must be a file name");
#undef MSG
}

/* ---- whole files ------------------------------------------------------- */

static void
test_files(void)
{
	char p[PATH_MAX], q[PATH_MAX], err[PATH_MAX + 300], want[PATH_MAX + 300];
	size_t n = 0, i;
	char *big;
	FILE *f;

	/* The good fixture: 5 messages, blank lines skipped */
	REQUIRE(cf_path(p, sizeof p, "%s/good.jsonl", fixdir) == 0);
	CHECK_RC(parse_file(p, "Europe/Paris", &n, err, sizeof err), 0);
	CHECK(n == 5);
	CHECK_STR(err, "");
	/* Parsing twice into one batch adds to it (dedup is the archive's) */
	{
		struct cf_import_opts o = { .tz = "UTC" };
		struct cf_batch *b = NULL;

		REQUIRE(cf_batch_new(&b, "jsonl", "UTC") == 0);
		CHECK_RC(cf_importer_jsonl.parse(p, b, &o), 0);
		CHECK_RC(cf_importer_jsonl.parse(p, b, &o), 0);
		CHECK(cf_batch_messages(b) == 10);
		cf_batch_free(b);
	}

	/* The first bad line stops everything, named FILE:LINE */
	REQUIRE(cf_path(p, sizeof p, "%s/bad-json.jsonl", fixdir) == 0);
	CHECK_RC(parse_file(p, "UTC", &n, err, sizeof err), -EINVAL);
	REQUIRE(cf_path(want, sizeof want, "coffer: %s:3: invalid JSON: ", p) == 0);
	CHECK(strncmp(err, want, strlen(want)) == 0);
	CHECK(strstr(err, "secret") == NULL);
	CHECK(strchr(err, '\n') == NULL);                   /* one line */
	if (strncmp(err, want, strlen(want)) != 0)
		fprintf(stderr, "got: %s\n", err);

	REQUIRE(cf_path(p, sizeof p, "%s/missing-ts.jsonl", fixdir) == 0);
	CHECK_RC(parse_file(p, "UTC", &n, err, sizeof err), -EINVAL);
	REQUIRE(cf_path(want, sizeof want, "coffer: %s:3: missing \"ts\"", p) == 0);
	CHECK_STR(err, want);

	REQUIRE(cf_path(p, sizeof p, "%s/missing-attachment.jsonl", fixdir) == 0);
	CHECK_RC(parse_file(p, "UTC", &n, err, sizeof err), -EINVAL);
	REQUIRE(cf_path(want, sizeof want, "coffer: %s:2: attachment %s/files/missing.pdf: %s", p,
	    fixdir, strerror(ENOENT)) == 0);
	CHECK_STR(err, want);

	/* Missing file, folder, symbolic link, unknown zone */
	tmp_path(p, sizeof p, "absent.jsonl");
	CHECK_RC(parse_file(p, "UTC", &n, err, sizeof err), -ENOENT);
	REQUIRE(cf_path(want, sizeof want, "coffer: %s: %s", p, strerror(ENOENT)) == 0);
	CHECK_STR(err, want);
	CHECK_RC(parse_file(tmpdir, "UTC", &n, err, sizeof err), -EISDIR);
	REQUIRE(cf_path(q, sizeof q, "%s/good.jsonl", fixdir) == 0);
	REQUIRE(realpath(q, want) != NULL);
	tmp_path(p, sizeof p, "link.jsonl");
	REQUIRE(symlink(want, p) == 0);
	CHECK_RC(parse_file(p, "UTC", &n, err, sizeof err), -ELOOP);
	REQUIRE(cf_path(want, sizeof want, "coffer: %s: is a symbolic link", p) == 0);
	CHECK_STR(err, want);
	CHECK_RC(parse_file(q, "Mars/Olympus_Mons", &n, err, sizeof err), -EINVAL);
	CHECK_STR(err, "coffer: Mars/Olympus_Mons: unknown time zone");

	/* CRLF line ends, a byte order mark, blank lines, an empty file */
	tmp_path(p, sizeof p, "crlf.jsonl");
	write_file(p, "\xef\xbb\xbf{\"chat\": \"c\", \"ts\": \"2025-03-13T19:44:01Z\", \"sender\": "
	    "\"s\", \"body\": \"one\"}\r\n\r\n{\"chat\": \"c\", \"ts\": \"2025-03-13T19:45:01Z\", "
	    "\"sender\": \"s\", \"body\": \"two\"}");         /* no final newline */
	CHECK_RC(parse_file(p, "UTC", &n, err, sizeof err), 0);
	CHECK(n == 2);
	tmp_path(p, sizeof p, "empty.jsonl");
	write_file(p, "");
	CHECK_RC(parse_file(p, "UTC", &n, err, sizeof err), 0);
	CHECK(n == 0);

	/* A line far longer than the initial buffer, then a bad line 3 */
	big = malloc(300000);
	REQUIRE(big != NULL);
	tmp_path(p, sizeof p, "long.jsonl");
	f = fopen(p, "w");
	REQUIRE(f != NULL);
	fprintf(f, "{\"chat\": \"c\", \"ts\": \"2025-03-13T19:44:01Z\", \"sender\": \"s\", \"body\": \"");
	for (i = 0; i < 299999; i++)
		big[i] = (char)('a' + i % 26);
	big[299999] = '\0';
	fputs(big, f);
	fprintf(f, "\"}\n{\"chat\": \"c\", \"ts\": \"2025-03-13T19:45:01Z\", \"sender\": \"s\", "
	    "\"body\": \"x\"}\n{\"chat\": \"c\", \"sender\": \"s\", \"body\": \"x\"}\n");
	REQUIRE(fclose(f) == 0);
	free(big);
	CHECK_RC(parse_file(p, "UTC", &n, err, sizeof err), -EINVAL);
	REQUIRE(cf_path(want, sizeof want, "coffer: %s:3: missing \"ts\"", p) == 0);
	CHECK_STR(err, want);
	unlink(p);
	/* ... and without the bad line */
	f = fopen(p, "w");
	REQUIRE(f != NULL);
	fprintf(f, "{\"chat\": \"c\", \"ts\": \"2025-03-13T19:44:01Z\", \"sender\": \"s\", "
	    "\"body\": \"%0200000d\"}\n{\"chat\": \"d\", \"ts\": \"2025-03-13T19:45:01Z\", "
	    "\"sender\": \"s\", \"body\": \"x\"}\n", 7);
	REQUIRE(fclose(f) == 0);
	CHECK_RC(parse_file(p, "UTC", &n, err, sizeof err), 0);
	CHECK(n == 2);

	/* A path with no folder part: attachments relative to "." */
	REQUIRE(getcwd(q, sizeof q) != NULL);
	REQUIRE(chdir(tmpdir) == 0);
	write_file("att.bin", "data");
	write_file("here.jsonl", "{\"chat\": \"c\", \"ts\": \"2025-03-13T19:44:01Z\", "
	    "\"sender\": \"s\", \"body\": \"b\", \"attachments\": [{\"path\": \"att.bin\"}]}\n");
	CHECK_RC(parse_file("here.jsonl", "UTC", &n, err, sizeof err), 0);
	CHECK(n == 1);
	REQUIRE(chdir(q) == 0);
}

static void
remove_tmp(void)
{
	static const char *const names[] = {
		"export.txt", "bom.json", "chat.txt", "result.json", "empty", "UPPER.NDJSON",
		"link.pdf", "link.jsonl", "crlf.jsonl", "empty.jsonl", "long.jsonl",
		"att.bin", "here.jsonl", "stderr.txt", NULL,
	};
	char p[PATH_MAX];
	size_t i;

	for (i = 0; names[i] != NULL; i++) {
		tmp_path(p, sizeof p, names[i]);
		(void)unlink(p);
	}
	CHECK(rmdir(tmpdir) == 0);
}

int
main(void)
{
	const char *src = getenv("COFFER_SRCDIR");
	const char *base = getenv("TMPDIR");
	char cwd[PATH_MAX];
	struct stat st;

	REQUIRE(cf_crypto_init() == 0);
	if (src == NULL || *src == '\0')
		src = getenv("COFFER_TOP");             /* as tests/e2e/lib.sh */
	REQUIRE(cf_path(fixdir, sizeof fixdir, "%s/tests/fixtures/jsonl",
	    src != NULL && *src != '\0' ? src : ".") == 0);
	if (stat(fixdir, &st) != 0) {
		fprintf(stderr, "test_import_jsonl: %s: fixtures not found (run from the source "
		    "tree or set COFFER_SRCDIR)\n", fixdir);
		return 1;
	}
	/* Absolute, so that chdir() in a test does not lose it. */
	REQUIRE(getcwd(cwd, sizeof cwd) != NULL);
	if (fixdir[0] != '/') {
		char rel[PATH_MAX];

		snprintf(rel, sizeof rel, "%s", fixdir);
		REQUIRE(cf_path(fixdir, sizeof fixdir, "%s/%s", cwd, rel) == 0);
	}
	REQUIRE(cf_path(tmpdir, sizeof tmpdir, "%s/test_import_jsonl.XXXXXX",
	    base != NULL && *base != '\0' ? base : "/tmp") == 0);
	REQUIRE(mkdtemp(tmpdir) != NULL);

	test_detect();
	test_line_members();
	test_line_errors();
	test_line_attachments();
	test_files();
	test_flush();
	test_fast_path();
	remove_tmp();
	return CHECK_DONE("test_import_jsonl");
}
