/*
 * test_import_slack.c - the Slack workspace export importer.
 *
 * Own fixtures (tests/fixtures/slack/, relative to the current directory or
 * to $COFFER_SRCDIR / $COFFER_TOP): an export folder exercising every
 * feature (names, mentions, links, entities, threads, edits, reactions,
 * system events, bots, legacy attachments, blocks, files, dms and mpims,
 * an unlisted folder), the same export zipped here with libzip (at the top
 * and inside a folder, with __MACOSX junk) which must give identical
 * messages, lone day and message files, detection, and every refusal with
 * its exact message.  Then the shared corpus ($COFFER_CORPUS or
 * ../shared/corpus): every Slack file, message by message where it
 * matters.  When the corpus is missing the own-fixture checks still run and
 * the program exits 77 (skipped) if they passed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
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
#include "import.h"
#include "util.h"

static char fixdir[PATH_MAX];
static char tmpdir[PATH_MAX];
static char corpus[PATH_MAX];

/* ---- what a parse produced ---------------------------------------------- */

struct rec {
	char *chat, *title, *id, *sender, *body, *extra;
	int64_t ts;
	char *ts_raw, *tz;
	size_t natt;
};

struct recs {
	struct rec *v;
	size_t n, cap;
};

static char *
dup_or_null(const char *s)
{
	char *p;

	if (s == NULL)
		return NULL;
	p = strdup(s);
	REQUIRE(p != NULL);
	return p;
}

static int
collect_cb(const char *chat, const char *title, const struct cf_msg *m, void *arg)
{
	struct recs *r = arg;
	struct rec *x;

	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 64;
		r->v = realloc(r->v, r->cap * sizeof *r->v);
		REQUIRE(r->v != NULL);
	}
	x = &r->v[r->n++];
	x->chat = dup_or_null(chat);
	x->title = dup_or_null(title);
	x->id = dup_or_null(m->id);
	x->sender = dup_or_null(m->sender);
	x->body = dup_or_null(m->body);
	x->extra = dup_or_null(m->extra);
	x->ts_raw = dup_or_null(m->ts_raw);
	x->tz = dup_or_null(m->tz);
	x->ts = m->ts_ms;
	x->natt = m->natt;
	return 0;
}

static void
recs_free(struct recs *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		free(r->v[i].chat);
		free(r->v[i].title);
		free(r->v[i].id);
		free(r->v[i].sender);
		free(r->v[i].body);
		free(r->v[i].extra);
		free(r->v[i].ts_raw);
		free(r->v[i].tz);
	}
	free(r->v);
	memset(r, 0, sizeof *r);
}

/* Parse path with the Slack importer; returns its rc, fills r. */
static int
parse(const char *path, struct recs *r)
{
	struct cf_import_opts o = { .tz = "UTC" };
	struct cf_batch *b = NULL;
	int rc;

	memset(r, 0, sizeof *r);
	REQUIRE(cf_batch_new(&b, "slack", "UTC") == 0);
	rc = cf_importer_slack.parse(path, b, &o);
	if (rc == 0) {
		REQUIRE(cf_batch_foreach(b, collect_cb, r) == 0);
		CHECK(cf_batch_messages(b) == r->n);
	}
	cf_batch_free(b);
	return rc;
}

static const struct rec *
find(const struct recs *r, const char *chat, const char *id)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->v[i].chat, chat) == 0 && r->v[i].id != NULL &&
		    strcmp(r->v[i].id, id) == 0)
			return &r->v[i];
	fprintf(stderr, "message %s/%s not found\n", chat, id);
	return NULL;
}

static size_t
count_chat(const struct recs *r, const char *chat)
{
	size_t i, n = 0;

	for (i = 0; i < r->n; i++)
		n += strcmp(r->v[i].chat, chat) == 0;
	return n;
}

/* Number of distinct conversations. */
static size_t
count_chats(const struct recs *r)
{
	size_t i, j, n = 0;

	for (i = 0; i < r->n; i++) {
		for (j = 0; j < i; j++)
			if (strcmp(r->v[i].chat, r->v[j].chat) == 0)
				break;
		n += j == i;
	}
	return n;
}

static int
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static int
rec_eq(const struct rec *a, const struct rec *b)
{
	return str_eq(a->chat, b->chat) && str_eq(a->title, b->title) && str_eq(a->id, b->id) &&
	    str_eq(a->sender, b->sender) && str_eq(a->body, b->body) &&
	    str_eq(a->extra, b->extra) && str_eq(a->ts_raw, b->ts_raw) &&
	    str_eq(a->tz, b->tz) && a->ts == b->ts && a->natt == b->natt;
}

/* Every message of sub is in all, identical (same conversation, title, id,
 * time, sender, body and extra). */
static int
all_in(const struct recs *sub, const struct recs *all)
{
	size_t i;
	const struct rec *o;

	for (i = 0; i < sub->n; i++) {
		o = find(all, sub->v[i].chat, sub->v[i].id);
		if (o == NULL || !rec_eq(&sub->v[i], o)) {
			fprintf(stderr, "differs: %s/%s\n", sub->v[i].chat, sub->v[i].id);
			return 0;
		}
	}
	return 1;
}

static int
recs_equal(const struct recs *a, const struct recs *b)
{
	size_t i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (!rec_eq(&a->v[i], &b->v[i]))
			return 0;
	return 1;
}

/* The extra object of r (caller decrefs), or NULL. */
static json_t *
xj(const struct rec *r)
{
	if (r == NULL || r->extra == NULL)
		return NULL;
	return json_loads(r->extra, 0, NULL);
}

static const char *
xs(const json_t *x, const char *key)
{
	return json_string_value(json_object_get(x, key));
}

static json_int_t
xi(const json_t *x, const char *key)
{
	return json_integer_value(json_object_get(x, key));
}

/* Whether sender s (NULL allowed) is in the NULL-terminated list. */
static int
sender_in(const char *s, const char *const *list)
{
	size_t i;

	for (i = 0; list[i] != NULL; i++)
		if (str_eq(s, strcmp(list[i], "(system)") == 0 ? NULL : list[i]))
			return 1;
	return 0;
}

/* Every sender is one of list, and each of list occurs. */
static int
senders_are(const struct recs *r, const char *const *list)
{
	size_t i, j;
	int seen;

	for (i = 0; i < r->n; i++)
		if (!sender_in(r->v[i].sender, list)) {
			fprintf(stderr, "unexpected sender %s\n",
			    r->v[i].sender ? r->v[i].sender : "(system)");
			return 0;
		}
	for (j = 0; list[j] != NULL; j++) {
		const char *want = strcmp(list[j], "(system)") == 0 ? NULL : list[j];

		seen = 0;
		for (i = 0; i < r->n && !seen; i++)
			seen = str_eq(r->v[i].sender, want);
		if (!seen) {
			fprintf(stderr, "sender %s missing\n", list[j]);
			return 0;
		}
	}
	return 1;
}

/* Parse path expecting failure rc with exactly the message "PROG: want". */
static void
check_refused(const char *path, int want_rc, const char *want)
{
	char got[4096], full[4096];
	struct recs r;
	int rc;

	capture_begin(tmpdir);
	rc = parse(path, &r);
	capture_end(got, sizeof got);
	CHECK_RC(rc, want_rc);
	snprintf(full, sizeof full, "%s: %s", cf_progname(), want);
	CHECK_STR(got, full);
	recs_free(&r);
}

/* Same, for a message that starts with want (the rest is libzip's or
 * jansson's wording). */
static void
check_refused_prefix(const char *path, int want_rc, const char *want)
{
	char got[4096], full[4096];
	struct recs r;
	int rc;

	capture_begin(tmpdir);
	rc = parse(path, &r);
	capture_end(got, sizeof got);
	CHECK_RC(rc, want_rc);
	snprintf(full, sizeof full, "%s: %s", cf_progname(), want);
	CHECK(strncmp(got, full, strlen(full)) == 0);
	if (strncmp(got, full, strlen(full)) != 0)
		fprintf(stderr, "got \"%s\", wanted a start of \"%s\"\n", got, full);
	recs_free(&r);
}

/* ---- files and zips ------------------------------------------------------ */

static void
fix(char *buf, size_t n, const char *rel)
{
	REQUIRE(cf_path(buf, n, "%s/%s", fixdir, rel) == 0);
}

static void
tmp(char *buf, size_t n, const char *rel)
{
	REQUIRE(cf_path(buf, n, "%s/%s", tmpdir, rel) == 0);
}

static void
zip_add_text(zip_t *z, const char *name, const char *text)
{
	zip_source_t *s = zip_source_buffer(z, text, strlen(text), 0);

	REQUIRE(s != NULL);
	if (zip_file_add(z, name, s, ZIP_FL_ENC_UTF_8) < 0) {
		zip_source_free(s);
		REQUIRE(0);
	}
}

static void
zip_add_path(zip_t *z, const char *name, const char *path)
{
	zip_source_t *s = zip_source_file(z, path, 0, 0);

	REQUIRE(s != NULL);
	if (zip_file_add(z, name, s, ZIP_FL_ENC_UTF_8) < 0) {
		zip_source_free(s);
		REQUIRE(0);
	}
}

/* Zip the folder src (two levels, as an export is) into zpath, every
 * member below prefix ("" or "top/"), plus __MACOSX junk when junk. */
static void
zip_folder(const char *src, const char *zpath, const char *prefix, int junk)
{
	char p[PATH_MAX], q[PATH_MAX], name[PATH_MAX];
	struct dirent *e, *f;
	struct stat st;
	DIR *d, *d2;
	zip_t *z;
	int err;

	z = zip_open(zpath, ZIP_CREATE | ZIP_EXCL, &err);
	REQUIRE(z != NULL);
	if (prefix[0] != '\0')
		REQUIRE(zip_dir_add(z, prefix, ZIP_FL_ENC_UTF_8) >= 0);
	d = opendir(src);
	REQUIRE(d != NULL);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		REQUIRE(cf_path(p, sizeof p, "%s/%s", src, e->d_name) == 0);
		REQUIRE(stat(p, &st) == 0);
		if (S_ISREG(st.st_mode)) {
			REQUIRE(cf_path(name, sizeof name, "%s%s", prefix, e->d_name) == 0);
			zip_add_path(z, name, p);
			continue;
		}
		REQUIRE(cf_path(name, sizeof name, "%s%s/", prefix, e->d_name) == 0);
		REQUIRE(zip_dir_add(z, name, ZIP_FL_ENC_UTF_8) >= 0);
		d2 = opendir(p);
		REQUIRE(d2 != NULL);
		while ((f = readdir(d2)) != NULL) {
			if (f->d_name[0] == '.')
				continue;
			REQUIRE(cf_path(q, sizeof q, "%s/%s", p, f->d_name) == 0);
			REQUIRE(cf_path(name, sizeof name, "%s%s/%s", prefix, e->d_name,
			    f->d_name) == 0);
			zip_add_path(z, name, q);
		}
		closedir(d2);
	}
	closedir(d);
	if (junk) {
		/* resource forks a Mac adds: not JSON at all, must be ignored */
		zip_add_text(z, "__MACOSX/._users.json", "\x00\x05\x16\x07 junk");
		zip_add_text(z, "__MACOSX/general/._2024-01-01.json", "\x00\x05\x16\x07 junk");
	}
	REQUIRE(zip_close(z) == 0);
}

/* ---- own fixtures ------------------------------------------------------------ */

static void
test_detect(void)
{
	char p[PATH_MAX];

	fix(p, sizeof p, "export");
	CHECK(cf_importer_slack.detect(p) == 1);
	CHECK(cf_importer_detect(p) == &cf_importer_slack);
	fix(p, sizeof p, "lone/message.json");
	CHECK(cf_importer_slack.detect(p) == 1);
	CHECK(cf_importer_detect(p) == &cf_importer_slack);
	fix(p, sizeof p, "lone/chanx/2024-02-29.json");
	CHECK(cf_importer_slack.detect(p) == 1);
	fix(p, sizeof p, "export/general/2024-01-02.json");
	CHECK(cf_importer_slack.detect(p) == 1);
	/* not Slack: users.json alone is a list, not a message; a JSONL line;
	 * a folder without list files; plain text; nothing */
	fix(p, sizeof p, "export/users.json");
	CHECK(cf_importer_slack.detect(p) == 0);
	fix(p, sizeof p, "export/general/notes.txt");
	CHECK(cf_importer_slack.detect(p) == 0);
	fix(p, sizeof p, "export/general");
	CHECK(cf_importer_slack.detect(p) == 0);
	tmp(p, sizeof p, "line.jsonl");
	write_file(p, "{\"chat\":\"c\",\"ts\":\"2025-01-01T00:00:00Z\",\"sender\":\"a\",\"body\":\"b\"}\n");
	CHECK(cf_importer_slack.detect(p) == 0);
	tmp(p, sizeof p, "nope");
	CHECK(cf_importer_slack.detect(p) == 0);
	CHECK(cf_importer_find("slack") == &cf_importer_slack);
}

/* The fixture export, message by message. */
static void
check_export(const struct recs *r)
{
	const struct rec *m;
	json_t *x, *a;
	static const char *const senders[] = {
		"(system)", "Ann", "Bob Stone", "Cat", "dan", "deploybot", "Poller", "New Person",
		"Helper Bot", NULL,
	};

	CHECK(r->n == 29);
	CHECK(count_chats(r) == 6);
	CHECK(count_chat(r, "C01GEN") == 23);
	CHECK(count_chat(r, "C02RND") == 1);
	CHECK(count_chat(r, "G01SEC") == 1);
	CHECK(count_chat(r, "D01AB") == 2);
	CHECK(count_chat(r, "G02MP") == 1);
	CHECK(count_chat(r, "orphan") == 1);
	CHECK(senders_are(r, senders));

	/* conversations: ids from the lists, titles */
	if ((m = find(r, "C01GEN", "1704067200.000100")) != NULL)
		CHECK_STR(m->title, "#general");
	if ((m = find(r, "G01SEC", "1704070100.000002")) != NULL) {
		CHECK_STR(m->title, "#secret");
		CHECK_STR(m->sender, "dan");
	}
	if ((m = find(r, "D01AB", "1704070260.000004")) != NULL) {
		CHECK_STR(m->title, "Ann, Bob Stone");
		CHECK_STR(m->sender, "Bob Stone");
		CHECK_STR(m->body, "hi Ann");
	}
	if ((m = find(r, "G02MP", "1704070300.000005")) != NULL)
		CHECK_STR(m->title, "Ann, Bob Stone, Cat");
	if ((m = find(r, "orphan", "1704070400.000006")) != NULL)
		CHECK_STR(m->title, "#orphan");

	/* system: join with inviter */
	if ((m = find(r, "C01GEN", "1704067200.000200")) != NULL) {
		CHECK(m->sender == NULL);
		CHECK_STR(m->body, "Bob Stone joined #general (invited by Ann)");
		CHECK(m->ts == 1704067200000);
		x = xj(m);
		CHECK_STR(xs(x, "kind"), "system");
		CHECK_STR(xs(json_object_get(x, "source"), "subtype"), "channel_join");
		json_decref(x);
	}
	/* mentions, channels, specials, links, entities, emoji; ms precision */
	if ((m = find(r, "C01GEN", "1704067201.123456")) != NULL) {
		CHECK_STR(m->sender, "Ann");
		CHECK_STR(m->body, "Hi @Bob Stone and @ghost, see #random and #random @here "
		    "@channel the docs (https://example.com/a?b=1&c=2) https://example.com "
		    "ann@example.com 1 < 2 && 3 > 2 :tada: :+1::skin-tone-2:");
		CHECK(m->ts == 1704067201123);
		CHECK_STR(m->ts_raw, "1704067201.123456");
		CHECK(m->tz == NULL);
		CHECK(m->natt == 0);
		x = xj(m);
		CHECK(x != NULL && json_object_get(x, "kind") == NULL);
		CHECK_STR(xs(json_object_get(x, "source"), "client_msg_id"), "0a1b");
		json_decref(x);
	}
	/* thread parent with reactions (names resolved, count kept) */
	if ((m = find(r, "C01GEN", "1704067300.000200")) != NULL) {
		x = xj(m);
		CHECK(json_object_get(x, "reply_to") == NULL);
		a = json_object_get(x, "reactions");
		CHECK(json_array_size(a) == 2);
		CHECK_STR(xs(json_array_get(a, 0), "emoji"), ":thumbsup:");
		CHECK(xi(json_array_get(a, 0), "count") == 3);
		CHECK(json_array_size(json_object_get(json_array_get(a, 0), "by")) == 2);
		CHECK_STR(json_string_value(json_array_get(json_object_get(json_array_get(a, 0),
		    "by"), 1)), "Cat");
		CHECK_STR(json_string_value(json_array_get(json_object_get(json_array_get(a, 1),
		    "by"), 0)), "dan");
		json_decref(x);
	}
	/* replies */
	if ((m = find(r, "C01GEN", "1704067400.000300")) != NULL) {
		x = xj(m);
		CHECK_STR(xs(x, "reply_to"), "1704067300.000200");
		CHECK_STR(xs(x, "thread"), "1704067300.000200");
		json_decref(x);
	}
	if ((m = find(r, "C01GEN", "1704067450.000000")) != NULL) {
		x = xj(m);
		CHECK_STR(xs(x, "reply_to"), "1704067300.000200");
		json_decref(x);
	}
	/* edit */
	if ((m = find(r, "C01GEN", "1704067460.000001")) != NULL) {
		x = xj(m);
		CHECK(xi(x, "edited_ts") == 1704067500000);
		CHECK_STR(m->body, "Fixed typo");
		json_decref(x);
	}
	/* bot with username and legacy attachments */
	if ((m = find(r, "C01GEN", "1704067600.000000")) != NULL) {
		CHECK_STR(m->sender, "deploybot");
		CHECK_STR(m->body, "Deploy #42 (https://ci.example.com/42) done\n"
		    "Release 1.2 (https://ci.example.com/r/1.2)\nAll <green>\nEnv: prod\n"
		    "Only a fallback with @Ann");
	}
	/* bot_profile name; blocks used because text is empty */
	if ((m = find(r, "C01GEN", "1704067700.000000")) != NULL) {
		CHECK_STR(m->sender, "Poller");
		CHECK_STR(m->body, "Vote @Ann in #general :ballot_box: here "
		    "(https://vote.example.com) @here\n\xe2\x80\xa2 yes\n\xe2\x80\xa2 no\n1. first\n"
		    "```code()```\n> quoted\n*Poll* by @Bob Stone\nA: 1\nB: <2>\n"
		    "Created with /poll today");
	}
	/* files[]: missing, never attachments; tombstoned file */
	if ((m = find(r, "C01GEN", "1704067800.000000")) != NULL) {
		CHECK(m->natt == 0);
		CHECK_STR(m->body, "see attached");
		x = xj(m);
		a = json_object_get(x, "missing_attachments");
		CHECK(json_array_size(a) == 2);
		CHECK_STR(xs(json_array_get(a, 0), "name"), "plan.pdf");
		CHECK_STR(xs(json_array_get(a, 0), "reason"), "not included in Slack exports");
		CHECK_STR(xs(json_array_get(a, 1), "name"), "F02GONE");
		CHECK_STR(xs(json_array_get(a, 1), "reason"), "deleted in Slack");
		json_decref(x);
	}
	/* legacy file{} */
	if ((m = find(r, "C01GEN", "1704067900.000000")) != NULL) {
		CHECK_STR(m->sender, "Bob Stone");
		CHECK_STR(m->body, "@Bob Stone uploaded a file: Notes "
		    "(https://x.slack.com/files/U02BOB/F03/notes.txt)");
		x = xj(m);
		a = json_object_get(x, "missing_attachments");
		CHECK(json_array_size(a) == 1);
		CHECK_STR(xs(json_array_get(a, 0), "name"), "notes.txt");
		json_decref(x);
	}
	/* other system events */
	if ((m = find(r, "C01GEN", "1704068000.000000")) != NULL)
		CHECK_STR(m->body, "Bob Stone set the topic of #general: Q1 & Q2 plans");
	if ((m = find(r, "C01GEN", "1704068100.000000")) != NULL)
		CHECK_STR(m->body, "Bob Stone cleared the purpose of #general");
	if ((m = find(r, "C01GEN", "1704068200.000000")) != NULL)
		CHECK_STR(m->body, "Ann renamed the channel from #lobby to #general");
	if ((m = find(r, "C01GEN", "1704068300.000000")) != NULL)
		CHECK_STR(m->body, "Ann pinned a message to #general");
	if ((m = find(r, "C01GEN", "1704068400.000000")) != NULL) {
		CHECK(m->sender == NULL);
		CHECK_STR(m->body, "This message was deleted.");
	}
	if ((m = find(r, "C01GEN", "1704068500.000000")) != NULL) {
		CHECK(m->sender == NULL);
		CHECK_STR(m->body, "dan left #general");
	}
	if ((m = find(r, "C01GEN", "1704068600.000000")) != NULL) {
		CHECK(m->sender == NULL);
		CHECK_STR(m->body, "Ann added an integration to this channel: deploybot "
		    "(https://x.slack.com/services/B01DEP)");
	}
	/* unknown user: the message's profile snapshot */
	if ((m = find(r, "C01GEN", "1704068700.000000")) != NULL)
		CHECK_STR(m->sender, "New Person");
	/* me_message and an unknown subtype stay plain messages */
	if ((m = find(r, "C01GEN", "1704068800.000000")) != NULL) {
		CHECK_STR(m->sender, "Ann");
		CHECK_STR(m->body, "waves");
	}
	if ((m = find(r, "C01GEN", "1704068900.000000")) != NULL) {
		CHECK_STR(m->sender, "Cat");
		x = xj(m);
		CHECK(json_object_get(x, "kind") == NULL);
		json_decref(x);
	}
	/* bot_id without name: the bot user's name (display_name blank) */
	if ((m = find(r, "C01GEN", "1704069000.000000")) != NULL)
		CHECK_STR(m->sender, "Helper Bot");
	/* "\/" escapes; a ts without fraction */
	if ((m = find(r, "C01GEN", "1704153600")) != NULL) {
		CHECK_STR(m->body, "path a/b https://example.org/x");
		CHECK(m->ts == 1704153600000);
	}
	/* order: conversations by folder name, days in order, file order */
	CHECK(r->n > 0 && strcmp(r->v[0].chat, "D01AB") == 0);
	CHECK(r->n > 2 && strcmp(r->v[2].id, "1704067200.000100") == 0);
}

static void
test_export_folder_and_zip(void)
{
	char p[PATH_MAX], z1[PATH_MAX], z2[PATH_MAX];
	struct recs dir, zip1, zip2;

	fix(p, sizeof p, "export");
	CHECK_RC(parse(p, &dir), 0);
	check_export(&dir);

	tmp(z1, sizeof z1, "export.zip");
	zip_folder(p, z1, "", 1);
	CHECK(cf_importer_slack.detect(z1) == 1);
	CHECK_RC(parse(z1, &zip1), 0);
	CHECK(recs_equal(&dir, &zip1));

	tmp(z2, sizeof z2, "export-in-folder.zip");
	zip_folder(p, z2, "slack-export/", 0);
	CHECK(cf_importer_slack.detect(z2) == 1);
	CHECK(cf_importer_detect(z2) == &cf_importer_slack);
	CHECK_RC(parse(z2, &zip2), 0);
	CHECK(recs_equal(&dir, &zip2));

	recs_free(&dir);
	recs_free(&zip1);
	recs_free(&zip2);
}

static void
test_lone(void)
{
	char p[PATH_MAX], q[PATH_MAX];
	const struct rec *m;
	struct recs r;
	json_t *x;

	/* one message object: the file name names the conversation */
	fix(p, sizeof p, "lone/message.json");
	CHECK_RC(parse(p, &r), 0);
	CHECK(r.n == 1);
	if ((m = find(&r, "message", "1700000000.250000")) != NULL) {
		CHECK_STR(m->title, "#message");
		CHECK_STR(m->sender, "alerts");
		CHECK_STR(m->body, "Disk > 90% on host1 (https://mon.example.com/h/1)");
		CHECK(m->ts == 1700000000250);
		x = xj(m);
		CHECK(xi(x, "edited_ts") == 1700000100000);
		json_decref(x);
	}
	recs_free(&r);

	/* a day file outside an export: the folder names it, ids unresolved */
	fix(p, sizeof p, "lone/chanx/2024-02-29.json");
	CHECK_RC(parse(p, &r), 0);
	CHECK(r.n == 1);
	if ((m = find(&r, "chanx", "1709164800.999999")) != NULL) {
		CHECK_STR(m->title, "#chanx");
		CHECK_STR(m->sender, "U01ANN");
		CHECK_STR(m->body, "leap day @U01ANN");
		CHECK(m->ts == 1709164800999);
	}
	recs_free(&r);

	/* a day file inside an export: that export's names and channel id */
	fix(p, sizeof p, "export/general/2024-01-01.json");
	CHECK_RC(parse(p, &r), 0);
	CHECK(r.n == 22);
	CHECK(count_chat(&r, "C01GEN") == 22);
	if ((m = find(&r, "C01GEN", "1704067201.123456")) != NULL)
		CHECK_STR(m->sender, "Ann");
	recs_free(&r);

	/* a link longer than any fixed buffer, with a label */
	{
		char url[1200], text[1400], body[1400];
		size_t k;

		strcpy(url, "https://example.com/");
		for (k = strlen(url); k < 1100; k++)
			url[k] = (char)('a' + k % 26);
		url[k] = '\0';
		snprintf(text, sizeof text, "[{\"type\":\"message\",\"user\":\"U1\","
		    "\"text\":\"go <%s|there> now\",\"ts\":\"5.000001\"}]", url);
		tmp(q, sizeof q, "long.json");
		write_file(q, text);
		CHECK_RC(parse(q, &r), 0);
		CHECK(r.n == 1);
		snprintf(body, sizeof body, "go there (%s) now", url);
		if (r.n == 1) {
			CHECK_STR(r.v[0].body, body);
			CHECK_STR(r.v[0].chat, "long");
			CHECK(r.v[0].ts == 5000);
		}
		recs_free(&r);
	}

	/* a lone file that is JSON but neither a message nor an array */
	tmp(q, sizeof q, "scalar.json");
	write_file(q, "\"just a string\"\n");
	{
		char want[PATH_MAX + 128];

		snprintf(want, sizeof want, "%s/scalar.json: not a Slack message or a JSON array "
		    "of messages", tmpdir);
		check_refused(q, -EINVAL, want);
	}
}

static void
test_refusals(void)
{
	char p[PATH_MAX], q[PATH_MAX], want[2 * PATH_MAX + 128];
	zip_t *z;
	int err;

	fix(p, sizeof p, "bad-truncated");
	snprintf(want, sizeof want, "%s/general/2024-01-01.json:3: invalid JSON: "
	    "premature end of input (column 55)", p);
	check_refused(p, -EINVAL, want);

	fix(p, sizeof p, "bad-ts");
	snprintf(want, sizeof want, "%s/general/2024-01-01.json: [1].ts: not a Slack timestamp",
	    p);
	check_refused(p, -EINVAL, want);

	fix(p, sizeof p, "bad-not-array");
	snprintf(want, sizeof want, "%s/general/2024-01-01.json: not a JSON array of messages",
	    p);
	check_refused(p, -EINVAL, want);

	fix(p, sizeof p, "bad-not-object");
	snprintf(want, sizeof want, "%s/general/2024-01-01.json: [1]: not a message object", p);
	check_refused(p, -EINVAL, want);

	fix(p, sizeof p, "bad-users");
	snprintf(want, sizeof want, "%s/users.json: not a JSON array of users", p);
	check_refused(p, -EINVAL, want);

	/* an empty folder */
	tmp(p, sizeof p, "empty");
	REQUIRE(mkdir(p, 0700) == 0);
	snprintf(want, sizeof want, "%s: not a Slack export (no users.json, channels.json or "
	    "YYYY-MM-DD.json day files)", p);
	check_refused(p, -EINVAL, want);

	/* symbolic links: the input, a conversation folder, a day file */
	tmp(p, sizeof p, "link-to-export");
	fix(q, sizeof q, "export");
	REQUIRE(symlink(q, p) == 0);
	snprintf(want, sizeof want, "%s: is a symbolic link", p);
	check_refused(p, -EINVAL, want);

	tmp(p, sizeof p, "symexp");
	REQUIRE(mkdir(p, 0700) == 0);
	tmp(p, sizeof p, "symexp/users.json");
	write_file(p, "[]");
	tmp(p, sizeof p, "symexp/general");
	fix(q, sizeof q, "export/general");
	REQUIRE(symlink(q, p) == 0);
	snprintf(want, sizeof want, "%s: is a symbolic link", p);
	tmp(p, sizeof p, "symexp");
	check_refused(p, -EINVAL, want);

	tmp(p, sizeof p, "symday");
	REQUIRE(mkdir(p, 0700) == 0);
	tmp(p, sizeof p, "symday/users.json");
	write_file(p, "[]");
	tmp(p, sizeof p, "symday/general");
	REQUIRE(mkdir(p, 0700) == 0);
	tmp(p, sizeof p, "symday/general/2024-01-01.json");
	fix(q, sizeof q, "export/general/2024-01-01.json");
	REQUIRE(symlink(q, p) == 0);
	snprintf(want, sizeof want, "%s: is a symbolic link", p);
	tmp(p, sizeof p, "symday");
	check_refused(p, -ELOOP, want);

	/* zips: no export inside, an unsafe member, damaged, bad JSON member */
	tmp(p, sizeof p, "noslack.zip");
	REQUIRE((z = zip_open(p, ZIP_CREATE | ZIP_EXCL, &err)) != NULL);
	zip_add_text(z, "readme.txt", "hello");
	zip_add_text(z, "general/2024-01-01.json", "[]");
	REQUIRE(zip_close(z) == 0);
	snprintf(want, sizeof want, "%s: no users.json or channels.json: not a Slack export", p);
	check_refused(p, -EINVAL, want);

	tmp(p, sizeof p, "unsafe.zip");
	REQUIRE((z = zip_open(p, ZIP_CREATE | ZIP_EXCL, &err)) != NULL);
	zip_add_text(z, "users.json", "[]");
	zip_add_text(z, "../general/2024-01-01.json", "[]");
	REQUIRE(zip_close(z) == 0);
	/* detected, so that auto-detection also gets this precise refusal */
	CHECK(cf_importer_slack.detect(p) == 1);
	snprintf(want, sizeof want, "%s: member with an unsafe name (absolute or \"..\")", p);
	check_refused(p, -EINVAL, want);

	tmp(p, sizeof p, "damaged.zip");
	write_file(p, "PK\003\004 this is not really a zip archive");
	snprintf(want, sizeof want, "%s: not a readable zip: ", p);
	check_refused_prefix(p, -EINVAL, want);

	tmp(p, sizeof p, "badmember.zip");
	REQUIRE((z = zip_open(p, ZIP_CREATE | ZIP_EXCL, &err)) != NULL);
	zip_add_text(z, "top/users.json", "[]");
	zip_add_text(z, "top/general/2024-01-01.json",
	    "[{\"type\":\"message\",\"ts\":\"1.2\",\"text\":\"private words\"},\n{");
	REQUIRE(zip_close(z) == 0);
	snprintf(want, sizeof want, "%s:top/general/2024-01-01.json:2: invalid JSON: ", p);
	check_refused_prefix(p, -EINVAL, want);

	/* the reason never quotes content */
	{
		char got[4096];
		struct recs r;

		capture_begin(tmpdir);
		CHECK_RC(parse(p, &r), -EINVAL);
		capture_end(got, sizeof got);
		CHECK(strstr(got, "private") == NULL);
		recs_free(&r);
		fix(q, sizeof q, "bad-truncated");
		capture_begin(tmpdir);
		CHECK_RC(parse(q, &r), -EINVAL);
		capture_end(got, sizeof got);
		CHECK(strstr(got, "secret") == NULL);
		recs_free(&r);
	}

	tmp(p, sizeof p, "does-not-exist");
	snprintf(want, sizeof want, "%s: %s", p, strerror(ENOENT));
	check_refused(p, -ENOENT, want);
}

/* ---- the shared corpus ---------------------------------------------------------- */

static int
find_corpus(void)
{
	const char *env = getenv("COFFER_CORPUS");
	struct stat st;

	if (env != NULL && env[0] != '\0')
		snprintf(corpus, sizeof corpus, "%s", env);
	else
		snprintf(corpus, sizeof corpus, "../shared/corpus");
	return stat(corpus, &st) == 0 && S_ISDIR(st.st_mode);
}

static void
corp(char *buf, size_t n, const char *rel)
{
	REQUIRE(cf_path(buf, n, "%s/slack/%s", corpus, rel) == 0);
}

static void
test_corpus_viewer(void)
{
	static const char *const senders[] = {
		"(system)", "hamza", "abilinski", "doubledeez", "B0JL6RASU", "B0JL6UFSL",
		"B0VJZKVHC", NULL,
	};
	char p[PATH_MAX];
	const struct rec *m;
	struct recs dir, zip;
	json_t *x, *a;
	size_t i, nsys = 0;

	corp(p, sizeof p, "slack-export-viewer/testarchive");
	CHECK(cf_importer_detect(p) == &cf_importer_slack);
	CHECK_RC(parse(p, &dir), 0);
	CHECK(dir.n == 42);
	CHECK(count_chats(&dir) == 2);
	CHECK(count_chat(&dir, "C0JGLMMNX") == 25);
	CHECK(count_chat(&dir, "C0JL6CGQ2") == 17);
	CHECK(senders_are(&dir, senders));
	for (i = 0; i < dir.n; i++) {
		CHECK(dir.v[i].natt == 0);
		CHECK(dir.v[i].tz == NULL);
		nsys += dir.v[i].sender == NULL;
	}
	CHECK(nsys == 4);       /* the four channel_join events */

	if ((m = find(&dir, "C0JGLMMNX", "1452837318.000002")) != NULL) {
		CHECK_STR(m->title, "#enrique");
		CHECK(m->sender == NULL);
		CHECK_STR(m->body, "hamza joined #enrique");
		CHECK(m->ts == 1452837318000);
	}
	if ((m = find(&dir, "C0JGLMMNX", "1452837318.000005")) != NULL)
		CHECK_STR(m->body, "heroeshannibal joined #enrique (invited by hamza)");
	if ((m = find(&dir, "C0JGLMMNX", "1452837352.000006")) != NULL) {
		CHECK_STR(m->sender, "hamza");
		CHECK_STR(m->body, "@abilinski: Created an issue for a setup.py so that it can be "
		    "installed to a standard place");
		CHECK(m->ts == 1452837352000);
	}
	if ((m = find(&dir, "C0JGLMMNX", "1459154014.000018")) != NULL) {
		CHECK_STR(m->sender, "B0JL6RASU");
		CHECK_STR(m->body, "[enrique:master] 1 new commit by hfaran:\nb698a38 "
		    "(https://github.com/mesos-magellan/enrique/commit/"
		    "b698a38dabbd81c51029f163e74bcd76115e9c2f): Implement killTask; resolves #20 - "
		    "hfaran");
		x = xj(m);
		a = json_object_get(x, "reactions");
		CHECK(json_array_size(a) == 1);
		CHECK_STR(xs(json_array_get(a, 0), "emoji"), ":botman:");
		CHECK(xi(json_array_get(a, 0), "count") == 1);
		CHECK_STR(json_string_value(json_array_get(json_object_get(json_array_get(a, 0),
		    "by"), 0)), "abilinski");
		json_decref(x);
	}
	if ((m = find(&dir, "C0JGLMMNX", "1459233874.000036")) != NULL) {
		CHECK_STR(m->sender, "B0VJZKVHC");
		CHECK(m->ts == 1459233874000);
	}
	if ((m = find(&dir, "C0JL6CGQ2", "1458949481.000002")) != NULL) {
		CHECK_STR(m->title, "#traveling-sailor");
		CHECK_STR(m->sender, "abilinski");
		CHECK_STR(m->body, "@hamza: https://www.maxmind.com/en/free-world-cities-database\n"
		    "Free World Cities Database | MaxMind "
		    "(https://www.maxmind.com/en/free-world-cities-database)\n"
		    "Download our free world cities database. The database includes region, "
		    "country, latitude and longitude data for world cities.");
	}
	if ((m = find(&dir, "C0JL6CGQ2", "1458952384.000006")) != NULL)
		CHECK_STR(m->body, "[traveling-sailor] New branch \"hfaran_rewrite "
		    "(https://github.com/mesos-magellan/traveling-sailor/tree/hfaran_rewrite)\" "
		    "was pushed by hfaran");
	if ((m = find(&dir, "C0JL6CGQ2", "1458972985.000010")) != NULL) {
		x = xj(m);
		CHECK(xi(x, "edited_ts") == 1458981134000);
		json_decref(x);
		CHECK(strncmp(m->body, "```{\"cities\": {\n", 16) == 0);
	}
	if ((m = find(&dir, "C0JL6CGQ2", "1458972992.000011")) != NULL)
		CHECK_STR(m->body, "@doubledeez: ^");
	if ((m = find(&dir, "C0JL6CGQ2", "1459105865.000017")) != NULL) {
		CHECK_STR(m->sender, "doubledeez");
		CHECK_STR(m->body, "@doubledeez uploaded a file: 10 cities "
		    "(https://mesos-magellan.slack.com/files/U0BMS113R/F0VQ4C4BT/10_cities.js)");
		x = xj(m);
		a = json_object_get(x, "missing_attachments");
		CHECK(json_array_size(a) == 1);
		CHECK_STR(xs(json_array_get(a, 0), "name"), "10_cities.js");
		CHECK_STR(xs(json_array_get(a, 0), "reason"), "not included in Slack exports");
		json_decref(x);
	}
	if ((m = find(&dir, "C0JL6CGQ2", "1459106048.000018")) != NULL) {
		CHECK_STR(m->sender, "doubledeez");
		CHECK(strncmp(m->body, "@doubledeez commented on @doubledeez\xe2\x80\x99s file 10 cities "
		    "(https://", 56) == 0);
	}
	if ((m = find(&dir, "C0JL6CGQ2", "1459113341.000019")) != NULL)
		CHECK(strstr(m->body, "\nBest fitness: 28919.8689279\nTook 26.39s\n```") != NULL);

	/* the zip of the same export: every day file, and the folder's four
	 * day files give exactly the same messages */
	corp(p, sizeof p, "slack-export-viewer/testarchive.zip");
	CHECK(cf_importer_detect(p) == &cf_importer_slack);
	CHECK_RC(parse(p, &zip), 0);
	CHECK(zip.n == 158);
	CHECK(count_chats(&zip) == 2);
	CHECK(count_chat(&zip, "C0JGLMMNX") == 102);
	CHECK(count_chat(&zip, "C0JL6CGQ2") == 56);
	CHECK(all_in(&dir, &zip));
	if ((m = find(&zip, "C0JGLMMNX", "1452988746.000017")) != NULL) {
		CHECK(m->sender == NULL);
		CHECK_STR(m->body, "hamza added an integration to this channel: github "
		    "(https://mesos-magellan.slack.com/services/B0JL6RASU)");
	}
	if ((m = find(&zip, "C0JL6CGQ2", "1459052866.000012")) != NULL) {
		x = xj(m);
		a = json_object_get(x, "missing_attachments");
		CHECK_STR(xs(json_array_get(a, 0), "name"), "100_cities.js");
		json_decref(x);
	}
	recs_free(&dir);
	recs_free(&zip);
}

static void
test_corpus_slackdump(void)
{
	static const char *const senders[] = {
		"(system)", "WgO268Xc0KtFylJ", "YTX35tuC1zyFhKZL", "2NR0w", NULL,
	};
	char p[PATH_MAX];
	const struct rec *m;
	struct recs r;
	json_t *x, *a;

	corp(p, sizeof p, "slackdump/source_export_dir");
	CHECK(cf_importer_detect(p) == &cf_importer_slack);
	CHECK_RC(parse(p, &r), 0);
	CHECK(r.n == 16);
	CHECK(count_chats(&r) == 1);
	CHECK(count_chat(&r, "CO69735E8A") == 16);
	CHECK(senders_are(&r, senders));
	if ((m = find(&r, "CO69735E8A", "1736478514.897649")) != NULL) {
		CHECK_STR(m->title, "#B75B4C7");
		CHECK_STR(m->sender, "WgO268Xc0KtFylJ");
		CHECK_STR(m->body, "CYmxt38hm");
		CHECK(m->ts == 1736478514897);
	}
	if ((m = find(&r, "CO69735E8A", "1736554636.807919")) != NULL) {
		CHECK(m->sender == NULL);
		CHECK_STR(m->body, "YTX35tuC1zyFhKZL joined #B75B4C7");
	}
	/* thread: parent, two replies pointing at it */
	if ((m = find(&r, "CO69735E8A", "1736478630.905399")) != NULL) {
		x = xj(m);
		CHECK(json_object_get(x, "reply_to") == NULL);
		CHECK(xi(json_object_get(x, "source"), "reply_count") == 2);
		json_decref(x);
	}
	if ((m = find(&r, "CO69735E8A", "1736554746.482349")) != NULL) {
		CHECK_STR(m->sender, "YTX35tuC1zyFhKZL");
		CHECK(m->ts == 1736554746482);
		x = xj(m);
		CHECK_STR(xs(x, "reply_to"), "1736478630.905399");
		CHECK_STR(xs(x, "thread"), "1736478630.905399");
		json_decref(x);
	}
	if ((m = find(&r, "CO69735E8A", "1736554783.040199")) != NULL) {
		x = xj(m);
		CHECK_STR(xs(x, "reply_to"), "1736478630.905399");
		json_decref(x);
	}
	if ((m = find(&r, "CO69735E8A", "1736554819.539739")) != NULL) {
		x = xj(m);
		CHECK_STR(xs(x, "reply_to"), "1736554801.872639");
		json_decref(x);
	}
	/* deleted thread parent, and its reply */
	if ((m = find(&r, "CO69735E8A", "1736554828.343759")) != NULL) {
		CHECK(m->sender == NULL);
		CHECK_STR(m->body, "This message was deleted.");
		x = xj(m);
		CHECK_STR(xs(x, "kind"), "system");
		json_decref(x);
	}
	if ((m = find(&r, "CO69735E8A", "1736554838.911679")) != NULL) {
		x = xj(m);
		CHECK_STR(xs(x, "reply_to"), "1736554828.343759");
		json_decref(x);
	}
	/* files: an external gdoc and a hosted jpeg without text */
	if ((m = find(&r, "CO69735E8A", "1736560990.444379")) != NULL) {
		x = xj(m);
		a = json_object_get(x, "missing_attachments");
		CHECK(json_array_size(a) == 1);
		CHECK_STR(xs(json_array_get(a, 0), "name"),
		    "UYt6OUsnR7j1SfHiJNZr8nvykMlRPheYNHLmEsOgRi27CyoQqusJrRksBRvrSx4CW");
		json_decref(x);
	}
	if ((m = find(&r, "CO69735E8A", "1736582524.607359")) != NULL) {
		CHECK_STR(m->body, "");
		CHECK(m->natt == 0);
		x = xj(m);
		a = json_object_get(x, "missing_attachments");
		CHECK_STR(xs(json_array_get(a, 0), "name"),
		    "befvnsUNVjwGzKFcKxuIlJ2dYo5z59neCfT8P2Y3t");
		json_decref(x);
	}
	/* bot message with bot_profile and an edit */
	if ((m = find(&r, "CO69735E8A", "1737160363.583369")) != NULL) {
		CHECK_STR(m->sender, "2NR0w");
		x = xj(m);
		CHECK(xi(x, "edited_ts") == 1737160371000);
		json_decref(x);
	}
	if ((m = find(&r, "CO69735E8A", "1737716342.919259")) != NULL)
		CHECK(m->ts == 1737716342919);
	recs_free(&r);

	/* a lone day file (converter fixture) */
	corp(p, sizeof p, "slackdump/converter/chan1.json");
	CHECK(cf_importer_detect(p) == &cf_importer_slack);
	CHECK_RC(parse(p, &r), 0);
	CHECK(r.n == 2);
	CHECK(count_chat(&r, "chan1") == 2);
	if ((m = find(&r, "chan1", "1736478514.897649")) != NULL) {
		CHECK_STR(m->sender, "UHSD97ZA5");
		CHECK_STR(m->body, "test");
		CHECK(m->ts == 1736478514897);
	}
	if ((m = find(&r, "chan1", "1736478630.905399")) != NULL)
		CHECK_STR(m->body, "test2");
	recs_free(&r);

	/* a lone message object: text wins over blocks */
	corp(p, sizeof p, "slackdump/messages/bot_message.json");
	CHECK(cf_importer_detect(p) == &cf_importer_slack);
	CHECK_RC(parse(p, &r), 0);
	CHECK(r.n == 1);
	if ((m = find(&r, "bot_message", "1677029631.029259")) != NULL) {
		CHECK_STR(m->sender, "BUEBX9AUR");
		CHECK_STR(m->body, "Some question?");
		CHECK(m->ts == 1677029631029);
		x = xj(m);
		CHECK(xi(x, "edited_ts") == 1677054236000);
		json_decref(x);
	}
	recs_free(&r);
}

/* ---- main ---------------------------------------------------------------------------- */

static void
find_fixtures(void)
{
	const char *envs[] = { "COFFER_SRCDIR", "COFFER_TOP" };
	struct stat st;
	size_t i;

	for (i = 0; i < 2; i++) {
		const char *e = getenv(envs[i]);

		if (e != NULL && e[0] != '\0') {
			REQUIRE(cf_path(fixdir, sizeof fixdir, "%s/tests/fixtures/slack", e) == 0);
			if (stat(fixdir, &st) == 0)
				return;
		}
	}
	REQUIRE(getcwd(fixdir, sizeof fixdir - 32) != NULL);
	strcat(fixdir, "/tests/fixtures/slack");
	REQUIRE(stat(fixdir, &st) == 0);
}

int
main(void)
{
	const char *t = getenv("TMPDIR");
	int have_corpus;

	cf_set_progname("coffer");
	find_fixtures();
	REQUIRE(cf_path(tmpdir, sizeof tmpdir, "%s/test_slack.XXXXXX",
	    t != NULL && t[0] != '\0' ? t : "/tmp") == 0);
	REQUIRE(mkdtemp(tmpdir) != NULL);

	test_detect();
	test_export_folder_and_zip();
	test_lone();
	test_refusals();

	have_corpus = find_corpus();
	if (have_corpus) {
		test_corpus_viewer();
		test_corpus_slackdump();
	}
	CHECK(remove_tree(tmpdir) == 0);
	if (!have_corpus && check_failures == 0) {
		printf("%s: %d checks, 0 failed\n", "test_import_slack", check_count);
		printf("SKIP: corpus not found at %s\n", corpus);
		return 77;
	}
	return CHECK_DONE("test_import_slack");
}
