/*
 * test_view.c - the mounted tree's model (fs/view.c) without FUSE or an
 * archive: conversations and messages are built by hand, and names, day
 * splits, rendered texts, sizes, inode numbers and error codes are checked
 * against literal expectations.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "util.h"
#include "view.h"

static int64_t
T(const char *s)
{
	int64_t ms = 0;

	REQUIRE(cf_parse_time(s, "UTC", &ms, NULL) == 0);
	return ms;
}

static void
set_chat(struct cf_chat *c, uint8_t idbyte, const char *title, int64_t last_ms)
{
	memset(c, 0, sizeof(*c));
	memset(c->id, idbyte, CF_ID_BYTES);
	c->title = (char *)title;
	c->chat = (char *)"src-chat";
	c->source = (char *)"jsonl";
	c->last_ms = last_ms;
}

static struct cf_msg
msg(const char *ts, const char *sender, const char *body)
{
	struct cf_msg m;

	memset(&m, 0, sizeof(m));
	m.ts_ms = T(ts);
	m.sender = (char *)sender;
	m.body = (char *)body;
	return m;
}

/* The text of name inside folder dir, NUL-terminated copy in buf. */
static const char *
text_of(const struct cf_view *v, uint64_t dir, const char *name, char *buf, size_t n)
{
	struct cf_view_attr a;
	const char *t;
	size_t len;

	if (cf_view_lookup(v, dir, name, &a) != 0)
		return NULL;
	if (cf_view_text(v, a.ino, &t, &len) != 0 || len >= n || len != a.size)
		return NULL;
	memcpy(buf, t, len);
	buf[len] = '\0';
	return buf;
}

static uint64_t
ino_of(const struct cf_view *v, uint64_t dir, const char *name)
{
	struct cf_view_attr a;

	return cf_view_lookup(v, dir, name, &a) == 0 ? a.ino : 0;
}

static void
test_sanitize(void)
{
	char longname[400], *s;
	size_t i;

#define SAN(in, want) do { \
	s = cf_view_sanitize(in); \
	CHECK_STR(s, want); \
	free(s); \
} while (0)
	SAN("a/b", "a_b");
	SAN("  spaced  ", "spaced");
	SAN("..", "__");
	SAN(".", "_");
	SAN(" .. ", "__");
	SAN("...", "...");
	SAN("", "");
	SAN("   ", "");
	SAN("tab\there\nnl\x7f", "tab_here_nl_");
	SAN("\x01", "_");
	SAN("é/ü", "é_ü");

	/* "a" + 100 two-byte characters = 201 bytes: the 200-byte cut would
	 * split the last character, so it goes entirely. */
	longname[0] = 'a';
	for (i = 0; i < 100; i++)
		memcpy(longname + 1 + 2 * i, "\xc3\xa9", 2);
	longname[201] = '\0';
	s = cf_view_sanitize(longname);
	REQUIRE(s != NULL);
	CHECK(strlen(s) == 199);
	CHECK(memcmp(s, longname, 199) == 0);
	free(s);
	/* 100 two-byte characters are exactly 200 bytes: kept whole. */
	s = cf_view_sanitize(longname + 1);
	REQUIRE(s != NULL);
	CHECK(strlen(s) == 200);
	free(s);
	/* 4-byte characters: 201 of them cut to 50 (200 bytes). */
	for (i = 0; i < 60; i++)
		memcpy(longname + 4 * i, "\xf0\x9f\x98\x80", 4);
	longname[240] = '\0';
	s = cf_view_sanitize(longname);
	REQUIRE(s != NULL);
	CHECK(strlen(s) == 200);
	free(s);
	/* A cut that leaves a trailing space trims it. */
	memset(longname, 'x', 199);
	longname[199] = ' ';
	memcpy(longname + 200, "tail", 5);
	s = cf_view_sanitize(longname);
	REQUIRE(s != NULL);
	CHECK(strlen(s) == 199);
	free(s);
#undef SAN
}

static void
test_root_names(void)
{
	struct cf_chat chats[8];
	struct cf_chat_list l = { .v = chats, .n = 8 };
	struct cf_view *v = NULL;
	struct cf_view_attr a;
	const char *name;
	char longtitle[260];
	size_t i;

	memset(longtitle, 'L', 150);
	for (i = 0; i < 30; i++)
		memcpy(longtitle + 150 + 2 * i, "\xc3\xa9", 2);       /* 210 bytes */
	longtitle[210] = '\0';
	set_chat(&chats[0], 0x01, "Same", T("2025-01-01T00:00:00Z"));
	set_chat(&chats[1], 0x02, "Same", T("2025-06-01T00:00:00Z"));
	set_chat(&chats[2], 0x03, "a/b", 0);
	set_chat(&chats[3], 0x04, "", T("2024-01-01T00:00:00Z"));
	set_chat(&chats[4], 0x05, "..", 0);
	set_chat(&chats[5], 0x06, longtitle, 0);
	set_chat(&chats[6], 0x07, "chat-08080808", 0);
	set_chat(&chats[7], 0x08, "", 0);               /* "chat-08080808" too */

	CHECK_RC(cf_view_new(&v, &l, NULL, T("2026-01-01T00:00:00Z"), NULL), 0);
	REQUIRE(v != NULL);
	CHECK(cf_view_nconv(v) == 8);
	CHECK_STR(cf_view_conv_name(v, 0), "Same (01010101)");
	CHECK_STR(cf_view_conv_name(v, 1), "Same (02020202)");
	CHECK_STR(cf_view_conv_name(v, 2), "a_b");
	CHECK_STR(cf_view_conv_name(v, 3), "chat-04040404");
	CHECK_STR(cf_view_conv_name(v, 4), "__");
	CHECK(strlen(cf_view_conv_name(v, 5)) == 200);
	CHECK(strncmp(cf_view_conv_name(v, 5), longtitle, 200) == 0);
	CHECK_STR(cf_view_conv_name(v, 6), "chat-08080808 (07070707)");
	CHECK_STR(cf_view_conv_name(v, 7), "chat-08080808 (08080808)");
	CHECK(cf_view_conv_name(v, 8) == NULL);

	/* Root: readdir in list order, inodes 2..9, lookups agree. */
	for (i = 0; i < 8; i++) {
		CHECK_RC(cf_view_readdir(v, CF_VIEW_ROOT_INO, i, &name, &a), 1);
		CHECK_STR(name, cf_view_conv_name(v, i));
		CHECK(a.ino == 2 + i);
		CHECK(a.is_dir);
		CHECK(a.parent == CF_VIEW_ROOT_INO);
		CHECK(a.nlink == 1 && a.final == 0);   /* not built yet */
		CHECK(ino_of(v, CF_VIEW_ROOT_INO, name) == 2 + i);
	}
	CHECK_RC(cf_view_readdir(v, CF_VIEW_ROOT_INO, 8, &name, &a), 0);
	CHECK_RC(cf_view_lookup(v, CF_VIEW_ROOT_INO, "Same", &a), -ENOENT);
	CHECK_RC(cf_view_lookup(v, CF_VIEW_ROOT_INO, "chat-08080808", &a), -ENOENT);

	/* mtimes: folder = last message (mount time when empty); root = newest. */
	CHECK_RC(cf_view_getattr(v, 2, &a), 0);
	CHECK(a.mtime == T("2025-01-01T00:00:00Z") / 1000);
	CHECK_RC(cf_view_getattr(v, 4, &a), 0);
	CHECK(a.mtime == T("2026-01-01T00:00:00Z") / 1000);
	CHECK_RC(cf_view_getattr(v, CF_VIEW_ROOT_INO, &a), 0);
	CHECK(a.mtime == T("2025-06-01T00:00:00Z") / 1000);
	CHECK(a.nlink == 2 + 8);
	CHECK(a.is_dir && a.final && a.parent == CF_VIEW_ROOT_INO);
	CHECK(cf_view_ninodes(v) == 9);
	CHECK_RC(cf_view_getattr(v, 0, &a), -ENOENT);
	CHECK_RC(cf_view_getattr(v, 10, &a), -ENOENT);

	/* Nothing built: lookups inside say "build first". */
	CHECK_RC(cf_view_lookup(v, 2, "info.txt", &a), -EAGAIN);
	CHECK_RC(cf_view_readdir(v, 2, 0, &name, &a), -EAGAIN);
	CHECK(cf_view_conv_state(v, 0) == 0);
	cf_view_free(v);

	/* Empty list: root mtime is the mount time. */
	l.n = 0;
	CHECK_RC(cf_view_new(&v, &l, NULL, 1700000000123, NULL), 0);
	REQUIRE(v != NULL);
	CHECK_RC(cf_view_getattr(v, CF_VIEW_ROOT_INO, &a), 0);
	CHECK(a.mtime == 1700000000 && a.nlink == 2);
	CHECK_RC(cf_view_readdir(v, CF_VIEW_ROOT_INO, 0, &name, &a), 0);
	cf_view_free(v);

	/* An unknown display zone is refused. */
	cf_log_quiet(1);
	CHECK_RC(cf_view_new(&v, &l, "Nowhere/Atlantis", 0, NULL), -EINVAL);
	cf_log_quiet(0);
	CHECK(v == NULL);
}

/* Messages around midnight UTC on 2025-03-13/14 (New York is UTC-4 then). */
static void
day_messages(struct cf_msg *m)
{
	m[0] = msg("2025-03-13T23:30:00Z", "Alice", "late evening");
	m[1] = msg("2025-03-14T03:59:59Z", "Bob", "line one\r\nline two\nline three");
	m[2] = msg("2025-03-14T04:00:00Z", NULL, "Carol joined");
	m[3] = msg("2025-03-14T12:00:05Z", "", "system note");
}

static void
test_days(void)
{
	struct cf_chat chat;
	struct cf_chat_list l = { .v = &chat, .n = 1 };
	struct cf_msg m[4];
	struct cf_chat_content cc = { m, 4, NULL, 0 };
	struct cf_view *v = NULL;
	struct cf_view_attr a;
	const char *name;
	char buf[1024];

	day_messages(m);
	set_chat(&chat, 0x11, "Days", m[3].ts_ms);

	/* UTC */
	REQUIRE(cf_view_new(&v, &l, NULL, 0, NULL) == 0);
	CHECK_RC(cf_view_conv_build(v, 0, &chat, &cc), 0);
	CHECK(cf_view_conv_state(v, 0) == 1);
	CHECK_RC(cf_view_readdir(v, 2, 0, &name, &a), 1);
	CHECK_STR(name, "2025-03-13.txt");
	CHECK_RC(cf_view_readdir(v, 2, 1, &name, &a), 1);
	CHECK_STR(name, "2025-03-14.txt");
	CHECK_RC(cf_view_readdir(v, 2, 2, &name, &a), 1);
	CHECK_STR(name, "info.txt");
	CHECK_RC(cf_view_readdir(v, 2, 3, &name, &a), 0);
	CHECK_STR(text_of(v, 2, "2025-03-13.txt", buf, sizeof(buf)),
	    "23:30:00  Alice: late evening\n");
	CHECK_STR(text_of(v, 2, "2025-03-14.txt", buf, sizeof(buf)),
	    "03:59:59  Bob: line one\n"
	    "          line two\n"
	    "          line three\n"
	    "04:00:00  * Carol joined\n"
	    "12:00:05  * system note\n");
	CHECK_RC(cf_view_lookup(v, 2, "2025-03-14.txt", &a), 0);
	CHECK(a.size == strlen(buf));
	CHECK(a.mtime == m[3].ts_ms / 1000);
	CHECK(!a.is_dir && a.nlink == 1 && a.final);
	CHECK_RC(cf_view_lookup(v, 2, "2025-03-13.txt", &a), 0);
	CHECK(a.size == strlen("23:30:00  Alice: late evening\n"));
	CHECK(a.mtime == m[0].ts_ms / 1000);
	/* No attachment: no attachments folder; conversation nlink 2. */
	CHECK_RC(cf_view_lookup(v, 2, "attachments", &a), -ENOENT);
	CHECK_RC(cf_view_getattr(v, 2, &a), 0);
	CHECK(a.nlink == 2 && a.final);
	/* Building twice changes nothing. */
	CHECK_RC(cf_view_conv_build(v, 0, &chat, &cc), -EEXIST);
	cf_view_free(v);

	/* New York */
	REQUIRE(cf_view_new(&v, &l, "America/New_York", 0, NULL) == 0);
	CHECK_RC(cf_view_conv_build(v, 0, &chat, &cc), 0);
	CHECK_STR(text_of(v, 2, "2025-03-13.txt", buf, sizeof(buf)),
	    "19:30:00  Alice: late evening\n"
	    "23:59:59  Bob: line one\n"
	    "          line two\n"
	    "          line three\n");
	CHECK_RC(cf_view_lookup(v, 2, "2025-03-13.txt", &a), 0);
	CHECK(a.size == strlen(buf));
	CHECK(a.mtime == m[1].ts_ms / 1000);
	CHECK_STR(text_of(v, 2, "2025-03-14.txt", buf, sizeof(buf)),
	    "00:00:00  * Carol joined\n"
	    "08:00:05  * system note\n");
	CHECK(strstr(text_of(v, 2, "info.txt", buf, sizeof(buf)),
	    "\nShown in zone: America/New_York\n") != NULL);
	cf_view_free(v);
}

static int closed_handles;

static void
count_close(void *h)
{
	CHECK(h != NULL);
	closed_handles++;
}

static void
test_attachments(void)
{
	struct cf_chat chat;
	struct cf_chat_list l = { .v = &chat, .n = 1 };
	struct cf_attach att_a[3], att_b[1], att_c[2], att_d[1];
	struct cf_msg m[4];
	struct cf_chat_content cc = { m, 4, NULL, 0 };
	struct cf_view *v = NULL;
	struct cf_view_attr a;
	const char *name;
	char buf[2048];
	uint64_t dir, size, ino;
	uint8_t blob[CF_ID_BYTES];
	size_t conv, i;
	int token1 = 1, token2 = 2;
	static const char *const want_names[] = {
		"2025-03-13_100000_photo.jpg", "doc.pdf", "2025-03-13_100000_photo_2.jpg",
		"2025-03-14_112233_photo.jpg", "a_b.txt", "attachment", "notes",
	};

	memset(att_a, 0, sizeof(att_a));
	memset(att_b, 0, sizeof(att_b));
	memset(att_c, 0, sizeof(att_c));
	memset(att_d, 0, sizeof(att_d));
	att_a[0].name = (char *)"photo.jpg";
	att_a[0].size = 1234;
	memset(att_a[0].blob_id, 0xa0, CF_ID_BYTES);
	att_a[1].name = (char *)"doc.pdf";
	att_a[1].size = 0;
	memset(att_a[1].blob_id, 0xa1, CF_ID_BYTES);
	att_a[2].name = (char *)"photo.jpg";       /* same name, same second */
	att_a[2].size = 5;
	memset(att_a[2].blob_id, 0xa2, CF_ID_BYTES);
	att_b[0].name = (char *)"photo.jpg";
	att_b[0].size = 77;
	memset(att_b[0].blob_id, 0xb0, CF_ID_BYTES);
	att_c[0].name = (char *)"a/b.txt";
	att_c[0].size = 3;
	att_c[1].name = (char *)"  ";
	att_c[1].size = 4;
	att_d[0].name = (char *)"notes";
	att_d[0].size = 9;

	m[0] = msg("2025-03-13T10:00:00.500Z", "Alice", "pictures");
	m[0].att = att_a;
	m[0].natt = 3;
	m[1] = msg("2025-03-14T11:22:33Z", "Bob", "");
	m[1].att = att_b;
	m[1].natt = 1;
	m[2] = msg("2025-03-14T11:30:00Z", "Bob", "");
	m[2].att = att_c;
	m[2].natt = 2;
	m[3] = msg("2025-03-14T12:00:00Z", "Bob", "");
	m[3].att = att_d;
	m[3].natt = 1;
	set_chat(&chat, 0x22, "Files", m[3].ts_ms);

	REQUIRE(cf_view_new(&v, &l, NULL, 0, count_close) == 0);
	CHECK_RC(cf_view_conv_build(v, 0, &chat, &cc), 0);
	dir = ino_of(v, 2, "attachments");
	REQUIRE(dir != 0);
	CHECK_RC(cf_view_getattr(v, dir, &a), 0);
	CHECK(a.is_dir && a.nlink == 2 && a.parent == 2);
	CHECK(a.mtime == m[3].ts_ms / 1000);
	CHECK_RC(cf_view_getattr(v, 2, &a), 0);
	CHECK(a.nlink == 3);                    /* one subfolder */
	for (i = 0; i < 7; i++) {
		CHECK_RC(cf_view_readdir(v, dir, i, &name, &a), 1);
		CHECK_STR(name, want_names[i]);
		CHECK(a.parent == dir && !a.is_dir);
	}
	CHECK_RC(cf_view_readdir(v, dir, 7, &name, &a), 0);

	/* Sizes, mtimes and blob ids come from the attachment records. */
	CHECK_RC(cf_view_lookup(v, dir, "2025-03-13_100000_photo.jpg", &a), 0);
	CHECK(a.size == 1234 && a.mtime == m[0].ts_ms / 1000);
	CHECK_RC(cf_view_attachment(v, a.ino, &conv, blob, &size), 0);
	CHECK(conv == 0 && size == 1234 && blob[0] == 0xa0 && blob[15] == 0xa0);
	{
		const char *t;
		size_t len;

		CHECK_RC(cf_view_text(v, a.ino, &t, &len), -EINVAL);
		CHECK_RC(cf_view_text(v, dir, &t, &len), -EISDIR);
		CHECK_RC(cf_view_text(v, 9999, &t, &len), -ENOENT);
	}
	CHECK_RC(cf_view_lookup(v, dir, "2025-03-13_100000_photo_2.jpg", &a), 0);
	CHECK_RC(cf_view_attachment(v, a.ino, &conv, blob, &size), 0);
	CHECK(size == 5 && blob[0] == 0xa2);
	CHECK_RC(cf_view_lookup(v, dir, "doc.pdf", &a), 0);
	CHECK(a.size == 0);
	CHECK_RC(cf_view_lookup(v, dir, "photo.jpg", &a), -ENOENT);
	CHECK_RC(cf_view_lookup(v, 2, "info.txt", &a), 0);
	CHECK_RC(cf_view_attachment(v, a.ino, &conv, blob, &size), -EINVAL);
	CHECK_RC(cf_view_lookup(v, a.ino, "x", &a), -ENOTDIR);

	CHECK_STR(text_of(v, 2, "2025-03-13.txt", buf, sizeof(buf)),
	    "10:00:00  Alice: pictures\n"
	    "          [attachment: attachments/2025-03-13_100000_photo.jpg]\n"
	    "          [attachment: attachments/doc.pdf]\n"
	    "          [attachment: attachments/2025-03-13_100000_photo_2.jpg]\n");
	CHECK_STR(text_of(v, 2, "2025-03-14.txt", buf, sizeof(buf)),
	    "11:22:33  Bob: [attachment: attachments/2025-03-14_112233_photo.jpg]\n"
	    "11:30:00  Bob: [attachment: attachments/a_b.txt]\n"
	    "          [attachment: attachments/attachment]\n"
	    "12:00:00  Bob: [attachment: attachments/notes]\n");

	/* Handles: set once, kept, closed by cf_view_free. */
	ino = ino_of(v, dir, "doc.pdf");
	CHECK(cf_view_handle_get(v, ino) == NULL);
	CHECK_RC(cf_view_handle_set(v, ino, &token1), 0);
	CHECK_RC(cf_view_handle_set(v, ino, &token2), -EEXIST);
	CHECK(cf_view_handle_get(v, ino) == &token1);
	CHECK_RC(cf_view_handle_set(v, ino_of(v, 2, "info.txt"), &token2), -EINVAL);
	CHECK(cf_view_handle_get(v, ino_of(v, 2, "info.txt")) == NULL);
	CHECK_RC(cf_view_handle_set(v, ino_of(v, dir, "notes"), &token2), 0);
	closed_handles = 0;
	cf_view_free(v);
	CHECK(closed_handles == 2);
}

/* An original name that equals a prefixed one is kept; the prefixed copy
 * is numbered instead. */
static void
test_attachment_clash(void)
{
	struct cf_chat chat;
	struct cf_chat_list l = { .v = &chat, .n = 1 };
	struct cf_attach att[3];
	struct cf_msg m[2];
	struct cf_chat_content cc = { m, 2, NULL, 0 };
	struct cf_view *v = NULL;
	const char *name;
	struct cf_view_attr a;
	uint64_t dir;

	memset(att, 0, sizeof(att));
	att[0].name = (char *)"2025-03-13_100000_x.txt";
	att[1].name = (char *)"x.txt";
	att[2].name = (char *)"x.txt";
	m[0] = msg("2025-03-13T10:00:00Z", "A", "one");
	m[0].att = att;
	m[0].natt = 2;
	m[1] = msg("2025-03-14T10:00:00Z", "A", "two");
	m[1].att = att + 2;
	m[1].natt = 1;
	set_chat(&chat, 0x33, "Clash", m[1].ts_ms);
	REQUIRE(cf_view_new(&v, &l, NULL, 0, NULL) == 0);
	CHECK_RC(cf_view_conv_build(v, 0, &chat, &cc), 0);
	dir = ino_of(v, 2, "attachments");
	CHECK_RC(cf_view_readdir(v, dir, 0, &name, &a), 1);
	CHECK_STR(name, "2025-03-13_100000_x.txt");
	CHECK_RC(cf_view_readdir(v, dir, 1, &name, &a), 1);
	CHECK_STR(name, "2025-03-13_100000_x_2.txt");
	CHECK_RC(cf_view_readdir(v, dir, 2, &name, &a), 1);
	CHECK_STR(name, "2025-03-14_100000_x.txt");
	cf_view_free(v);
}

static void
test_info(void)
{
	struct cf_chat chats[2];
	struct cf_chat_list l = { .v = chats, .n = 2 };
	struct cf_seghdr hdrs[2];
	struct cf_attach att[1];
	struct cf_msg m[4];
	struct cf_chat_content cc = { m, 4, hdrs, 2 };
	struct cf_chat_content empty = { NULL, 0, NULL, 0 };
	struct cf_view *v = NULL;
	struct cf_view_attr a;
	char buf[2048];

	memset(hdrs, 0, sizeof(hdrs));
	hdrs[0].chat = (char *)"c-1";
	hdrs[0].source = (char *)"jsonl";
	hdrs[0].tz = (char *)"Europe/Paris";
	hdrs[1].chat = (char *)"c-1";
	hdrs[1].source = (char *)"whatsapp";
	hdrs[1].tz = (char *)"Europe/Paris";
	memset(att, 0, sizeof(att));
	att[0].name = (char *)"f.bin";
	m[0] = msg("2025-03-13T23:30:00Z", "Alice", "hi");
	m[0].id = (char *)"m1";
	m[0].extra = (char *)"{\"k\":1}";
	m[1] = msg("2025-03-14T01:00:00Z", "Bob", "yo");
	m[1].tz = (char *)"America/New_York";
	m[2] = msg("2025-03-14T04:00:00Z", NULL, "Bob left");
	m[2].extra = (char *)"{\"x\":true}";
	m[3] = msg("2025-03-14T05:06:07Z", "Alice", "");
	m[3].att = att;
	m[3].natt = 1;
	set_chat(&chats[0], 0x0a, "Team\nchat", m[3].ts_ms);
	chats[0].chat = (char *)"c-1";
	set_chat(&chats[1], 0x0b, "Quiet", 0);

	REQUIRE(cf_view_new(&v, &l, NULL, 0, NULL) == 0);
	CHECK_RC(cf_view_conv_build(v, 0, &chats[0], &cc), 0);
	CHECK_STR(text_of(v, 2, "info.txt", buf, sizeof(buf)),
	    "Title: Team chat\n"
	    "Conversation: 0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a\n"
	    "Source: jsonl, whatsapp\n"
	    "Source chat id: c-1\n"
	    "Time zone of source times: America/New_York\n"
	    "Participants: Alice, Bob\n"
	    "Messages: 4\n"
	    "Attachments: 1\n"
	    "First: 2025-03-13T23:30:00Z\n"
	    "Last: 2025-03-14T05:06:07Z\n"
	    "Shown in zone: UTC\n"
	    "Extra fields:\n"
	    "  m1: {\"k\":1}\n"
	    "  2025-03-14 04:00:00: {\"x\":true}\n");
	CHECK_RC(cf_view_lookup(v, 2, "info.txt", &a), 0);
	CHECK(a.size == strlen(buf));
	CHECK(a.mtime == m[3].ts_ms / 1000);

	/* An empty conversation: only info.txt, no zone, no extras. */
	CHECK_RC(cf_view_conv_build(v, 1, &chats[1], &empty), 0);
	CHECK_STR(text_of(v, 3, "info.txt", buf, sizeof(buf)),
	    "Title: Quiet\n"
	    "Conversation: 0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b\n"
	    "Source: jsonl\n"
	    "Source chat id: src-chat\n"
	    "Time zone of source times: none (all times carried an offset)\n"
	    "Participants: \n"
	    "Messages: 0\n"
	    "Attachments: 0\n"
	    "First: none\n"
	    "Last: none\n"
	    "Shown in zone: UTC\n");
	cf_view_free(v);
}

struct seen {
	uint64_t ino[64];
	size_t n;
};

/* Every inode below dir (recursively), checking that lookup agrees with
 * readdir and getattr. */
static void
walk(const struct cf_view *v, uint64_t dir, struct seen *s)
{
	struct cf_view_attr a, b, c;
	const char *name;
	size_t pos;

	for (pos = 0; cf_view_readdir(v, dir, pos, &name, &a) == 1; pos++) {
		CHECK_RC(cf_view_lookup(v, dir, name, &b), 0);
		CHECK(b.ino == a.ino && b.size == a.size && b.mtime == a.mtime);
		CHECK_RC(cf_view_lookup(v, dir, name, &b), 0);
		CHECK(b.ino == a.ino);
		CHECK_RC(cf_view_getattr(v, a.ino, &c), 0);
		CHECK(c.ino == a.ino && c.parent == dir && c.size == a.size);
		REQUIRE(s->n < 64);
		s->ino[s->n++] = a.ino;
		if (a.is_dir)
			walk(v, a.ino, s);
	}
}

static void
test_inodes(void)
{
	struct cf_chat chats[3];
	struct cf_chat_list l = { .v = chats, .n = 3 };
	struct cf_attach att[2];
	struct cf_msg m0[4], m1[2];
	struct cf_chat_content cc0 = { m0, 4, NULL, 0 }, cc1 = { m1, 2, NULL, 0 };
	struct cf_view *v = NULL;
	struct cf_view_attr a;
	struct seen first = { .n = 0 }, again = { .n = 0 }, all = { .n = 0 };
	const char *name;
	size_t i, j, idx;

	day_messages(m0);
	memset(att, 0, sizeof(att));
	att[0].name = (char *)"one";
	att[1].name = (char *)"two";
	m1[0] = msg("2025-01-01T00:00:00Z", "Z", "first");
	m1[0].att = att;
	m1[0].natt = 2;
	m1[1] = msg("2025-02-01T00:00:00Z", "Z", "second");
	set_chat(&chats[0], 0x41, "zero", m0[3].ts_ms);
	set_chat(&chats[1], 0x42, "one", m1[1].ts_ms);
	set_chat(&chats[2], 0x43, "two", 0);

	REQUIRE(cf_view_new(&v, &l, NULL, 0, NULL) == 0);
	/* Build the second conversation first: numbering follows build order. */
	CHECK_RC(cf_view_conv_build(v, 1, &chats[1], &cc1), 0);
	walk(v, 3, &first);
	CHECK(first.n == 6);     /* 2 days, attachments, 2 files, info.txt */
	for (i = 0; i < first.n; i++) {
		CHECK(first.ino[i] >= 5 && first.ino[i] < 5 + 6);
		CHECK_RC(cf_view_conv_of(v, first.ino[i], &idx), 0);
		CHECK(idx == 1);
	}
	CHECK(cf_view_ninodes(v) == 4 + 6);
	CHECK_RC(cf_view_conv_build(v, 0, &chats[0], &cc0), 0);
	CHECK(cf_view_ninodes(v) == 4 + 6 + 3);

	/* The first conversation's inodes did not move. */
	walk(v, 3, &again);
	CHECK(again.n == first.n);
	for (i = 0; i < first.n && i < again.n; i++)
		CHECK(again.ino[i] == first.ino[i]);

	/* Every inode of the tree is unique. */
	all.ino[all.n++] = CF_VIEW_ROOT_INO;
	for (i = 0; i < 3; i++)
		all.ino[all.n++] = 2 + i;
	walk(v, 2, &all);
	walk(v, 3, &all);
	CHECK(all.n == 4 + 3 + 6);
	for (i = 0; i < all.n; i++) {
		for (j = i + 1; j < all.n; j++)
			CHECK(all.ino[i] != all.ino[j]);
		CHECK(all.ino[i] <= cf_view_ninodes(v));
	}
	CHECK_RC(cf_view_getattr(v, cf_view_ninodes(v) + 1, &a), -ENOENT);
	CHECK_RC(cf_view_conv_of(v, CF_VIEW_ROOT_INO, &idx), -ENOENT);
	CHECK_RC(cf_view_conv_of(v, 2, &idx), 0);
	CHECK(idx == 0);
	CHECK_RC(cf_view_conv_of(v, 11, &idx), 0);
	CHECK(idx == 0);

	/* A failed conversation: EIO inside, forever. */
	cf_view_conv_fail(v, 2, -EBADMSG);
	CHECK(cf_view_conv_state(v, 2) == -EBADMSG);
	CHECK_RC(cf_view_lookup(v, 4, "info.txt", &a), -EIO);
	CHECK_RC(cf_view_readdir(v, 4, 0, &name, &a), -EIO);
	CHECK_RC(cf_view_conv_build(v, 2, &chats[2], &cc1), -EEXIST);
	CHECK_RC(cf_view_getattr(v, 4, &a), 0);
	CHECK(a.is_dir && a.final);
	/* Failing a built conversation does nothing. */
	cf_view_conv_fail(v, 0, -EBADMSG);
	CHECK(cf_view_conv_state(v, 0) == 1);
	CHECK(ino_of(v, 2, "info.txt") != 0);
	cf_log_quiet(1);
	CHECK_RC(cf_view_conv_build(v, 3, &chats[2], &cc1), -EINVAL);
	cf_log_quiet(0);
	cf_view_free(v);
}

/* Readers racing a build see either "not built" or the whole conversation. */
struct racer {
	const struct cf_view *v;
	int saw_built;
	int bad;
};

static void *
race_reader(void *arg)
{
	struct racer *r = arg;
	struct cf_view_attr a;
	const char *name;
	int i, rc;

	for (i = 0; i < 200000 && !r->saw_built; i++) {
		rc = cf_view_readdir(r->v, 2, 0, &name, &a);
		if (rc == 1) {
			r->saw_built = 1;
			if (strcmp(name, "2025-03-13.txt") != 0 || cf_view_getattr(r->v, a.ino, &a) != 0)
				r->bad = 1;
		} else if (rc != -EAGAIN) {
			r->bad = 1;
		}
	}
	return NULL;
}

static void
test_race(void)
{
	struct cf_chat chat;
	struct cf_chat_list l = { .v = &chat, .n = 1 };
	struct cf_msg m[4];
	struct cf_chat_content cc = { m, 4, NULL, 0 };
	struct cf_view *v = NULL;
	struct racer r[4];
	pthread_t th[4];
	int i;

	day_messages(m);
	set_chat(&chat, 0x55, "Race", m[3].ts_ms);
	REQUIRE(cf_view_new(&v, &l, NULL, 0, NULL) == 0);
	for (i = 0; i < 4; i++) {
		r[i] = (struct racer){ v, 0, 0 };
		REQUIRE(pthread_create(&th[i], NULL, race_reader, &r[i]) == 0);
	}
	CHECK_RC(cf_view_conv_build(v, 0, &chat, &cc), 0);
	for (i = 0; i < 4; i++) {
		REQUIRE(pthread_join(th[i], NULL) == 0);
		CHECK(!r[i].bad);
	}
	cf_view_free(v);
}

/* The conventional members of extra (import.h) in the transcript; the
 * rest in info.txt. */
static void
test_extra_render(void)
{
	struct cf_chat chat;
	struct cf_chat_list l = { .v = &chat, .n = 1 };
	struct cf_msg m[4];
	struct cf_chat_content cc = { m, 4, NULL, 0 };
	struct cf_view *v = NULL;
	char buf[4096];

	m[0] = msg("2025-05-01T10:00:00Z", "Ann", "Is the berth free?\nSecond line");
	m[0].id = (char *)"100";
	m[1] = msg("2025-05-01T10:05:00Z", "Ben", "Yes");
	m[1].id = (char *)"101";
	m[1].extra = (char *)"{\"reply_to\":\"100\",\"edits\":[{\"ts\":1,\"body\":\"No\"}],"
	    "\"reactions\":[{\"emoji\":\"👍\",\"by\":[\"Ann\",\"Cy\"]},{\"emoji\":\"❤️\",\"count\":3}],"
	    "\"source\":{\"raw\":1},\"mood\":\"calm\"}";
	m[2] = msg("2025-05-01T10:06:00Z", "Ann", "see photo");
	m[2].extra = (char *)"{\"reply_to\":\"999\",\"missing_attachments\":[{\"name\":\"p.jpg\","
	    "\"reason\":\"not included in export\"}],\"edited\":true,\"dup\":1}";
	m[3] = msg("2025-05-01T10:07:00Z", "Ben", "agreed");
	m[3].extra = (char *)"{\"quote\":{\"author\":\"Ann\",\"text\":\"see photo\"}}";
	set_chat(&chat, 0x21, "Extra", m[3].ts_ms);
	REQUIRE(cf_view_new(&v, &l, NULL, 0, NULL) == 0);
	CHECK_RC(cf_view_conv_build(v, 0, &chat, &cc), 0);
	CHECK_STR(text_of(v, 2, "2025-05-01.txt", buf, sizeof(buf)),
	    "10:00:00  Ann: Is the berth free?\n"
	    "          Second line\n"
	    "10:05:00  Ben: Yes\n"
	    "          [in reply to 2025-05-01 10:00:00 Ann: Is the berth free?…]\n"
	    "          [before an edit: No]\n"
	    "          [reactions: 👍 Ann, Cy; ❤️ 3]\n"
	    "10:06:00  Ann: see photo\n"
	    "          [in reply to message 999, not in this archive]\n"
	    "          [edited]\n"
	    "          [attachment not in the archive: p.jpg (not included in export)]\n"
	    "10:07:00  Ben: agreed\n"
	    "          [quoting Ann: see photo]\n");
	/* info.txt lists only the member the transcript does not show */
	REQUIRE(text_of(v, 2, "info.txt", buf, sizeof(buf)) != NULL);
	CHECK(strstr(buf, "  101: {\"mood\":\"calm\"}\n") != NULL);
	CHECK(strstr(buf, "raw") == NULL);
	CHECK(strstr(buf, "dup") == NULL);
	cf_view_free(v);
}

/* ---- refresh ------------------------------------------------------------- */

static int
has_ino(const struct cf_view_delta *d, uint64_t ino)
{
	size_t i;

	for (i = 0; i < d->ninos; i++)
		if (d->inos[i] == ino)
			return 1;
	return 0;
}

static void
test_refresh(void)
{
	struct cf_chat l1v[2], l2v[3], l3v[2], l4v[2];
	struct cf_chat_list l1 = { .v = l1v, .n = 2 }, l2 = { .v = l2v, .n = 3 };
	struct cf_chat_list l3 = { .v = l3v, .n = 2 }, l4 = { .v = l4v, .n = 2 };
	struct cf_chat_list none = { .v = NULL, .n = 0 };
	struct cf_attach att[1];
	struct cf_msg ma[2], mb[1], mb2[2];
	struct cf_chat_content cca = { ma, 2, NULL, 0 }, ccb = { mb, 1, NULL, 0 };
	struct cf_chat_content ccb2 = { mb2, 2, NULL, 0 };
	struct cf_view *v = NULL;
	struct cf_view_delta d;
	struct cf_view_attr at;
	const char *name, *t;
	uint64_t a_dir, a_info, a_att, b_dir, b_day, b2_dir, b2_day, c_dir, b3_dir, before;
	size_t pos, idx, len;
	int token = 7;

	closed_handles = 0;
	memset(att, 0, sizeof(att));
	att[0].name = (char *)"doc.pdf";
	att[0].size = 10;
	ma[0] = msg("2025-01-01T10:00:00Z", "Ann", "alpha");
	ma[0].att = att;
	ma[0].natt = 1;
	ma[1] = msg("2025-01-02T10:00:00Z", "Ben", "beta");
	mb[0] = msg("2025-03-01T10:00:00Z", "Cy", "gamma");
	mb2[0] = mb[0];
	mb2[1] = msg("2025-03-02T10:00:00Z", "Cy", "delta");
	set_chat(&l1v[0], 0xa1, "Alpha", ma[1].ts_ms);
	l1v[0].messages = 2;
	set_chat(&l1v[1], 0xb1, "Bravo", mb[0].ts_ms);
	l1v[1].messages = 1;

	REQUIRE(cf_view_new(&v, &l1, NULL, 0, count_close) == 0);
	CHECK_RC(cf_view_conv_build(v, 0, &l1v[0], &cca), 0);
	CHECK_RC(cf_view_conv_build(v, 1, &l1v[1], &ccb), 0);
	a_dir = ino_of(v, CF_VIEW_ROOT_INO, "Alpha");
	b_dir = ino_of(v, CF_VIEW_ROOT_INO, "Bravo");
	CHECK(a_dir == 2 && b_dir == 3);
	a_info = ino_of(v, a_dir, "info.txt");
	a_att = ino_of(v, ino_of(v, a_dir, "attachments"), "doc.pdf");
	b_day = ino_of(v, b_dir, "2025-03-01.txt");
	CHECK(a_info != 0 && a_att != 0 && b_day != 0);
	CHECK_RC(cf_view_handle_set(v, a_att, &token), 0);
	before = cf_view_ninodes(v);

	/* Alpha unchanged, Bravo has a new message, Charlie is new. */
	l2v[0] = l1v[0];
	l2v[1] = l1v[1];
	l2v[1].messages = 2;
	l2v[1].last_ms = mb2[1].ts_ms;
	set_chat(&l2v[2], 0xc1, "Charlie", 0);
	CHECK_RC(cf_view_refresh(v, &l2, T("2026-01-01T00:00:00Z"), &d), 0);
	CHECK(d.added == 2 && d.removed == 0);
	REQUIRE(d.nnames == 2);
	CHECK_STR(d.names[0], "Bravo");
	CHECK_STR(d.names[1], "Charlie");
	CHECK(d.ninos == 1 && d.inos[0] == CF_VIEW_ROOT_INO);
	cf_view_delta_free(&d);
	CHECK(d.names == NULL && d.nnames == 0);
	CHECK(cf_view_nconv(v) == 4);
	/* Alpha keeps its folder, its built nodes and its handle. */
	CHECK(ino_of(v, CF_VIEW_ROOT_INO, "Alpha") == a_dir);
	CHECK(ino_of(v, a_dir, "info.txt") == a_info);
	CHECK(cf_view_handle_get(v, a_att) == &token);
	/* Bravo and Charlie: new folders, numbered after every inode so far. */
	b2_dir = ino_of(v, CF_VIEW_ROOT_INO, "Bravo");
	c_dir = ino_of(v, CF_VIEW_ROOT_INO, "Charlie");
	CHECK(b2_dir == before + 1 && c_dir == before + 2);
	CHECK(cf_view_ninodes(v) == before + 2);
	CHECK_RC(cf_view_readdir(v, CF_VIEW_ROOT_INO, 1, &name, &at), 1);
	CHECK_STR(name, "Bravo");
	CHECK(at.ino == b2_dir && !at.final && at.nlink == 1);
	CHECK_RC(cf_view_readdir(v, CF_VIEW_ROOT_INO, 3, &name, &at), 0);
	CHECK_RC(cf_view_getattr(v, CF_VIEW_ROOT_INO, &at), 0);
	CHECK(at.nlink == 5);
	CHECK_RC(cf_view_conv_of(v, b2_dir, &idx), 0);
	CHECK(idx == 2);
	CHECK_RC(cf_view_conv_of(v, c_dir, &idx), 0);
	CHECK(idx == 3);
	CHECK_RC(cf_view_conv_listed(v, 0, &pos), 0);
	CHECK(pos == 0);
	CHECK_RC(cf_view_conv_listed(v, 1, &pos), 0);       /* the old Bravo */
	CHECK(pos == 1);
	CHECK_RC(cf_view_conv_listed(v, 3, &pos), 0);
	CHECK(pos == 2);
	CHECK_RC(cf_view_conv_listed(v, 4, &pos), -ENOENT);
	/* The old Bravo folder stays readable under its inodes. */
	CHECK_RC(cf_view_getattr(v, b_day, &at), 0);
	CHECK(ino_of(v, b_dir, "2025-03-01.txt") == b_day);
	CHECK_RC(cf_view_text(v, b_day, &t, &len), 0);
	CHECK(len == at.size && memmem(t, len, "gamma", 5) != NULL);
	/* The new one is built on demand, with new inodes. */
	CHECK_RC(cf_view_lookup(v, b2_dir, "2025-03-02.txt", &at), -EAGAIN);
	CHECK_RC(cf_view_conv_build(v, 2, &l2v[1], &ccb2), 0);
	b2_day = ino_of(v, b2_dir, "2025-03-02.txt");
	CHECK(b2_day > c_dir);
	CHECK(ino_of(v, b2_dir, "2025-03-01.txt") != b_day);

	/* Bravo is revoked: both its folders answer EACCES. */
	l3v[0] = l2v[0];
	l3v[1] = l2v[2];
	CHECK_RC(cf_view_refresh(v, &l3, 0, &d), 0);
	CHECK(d.added == 0 && d.removed == 1);
	REQUIRE(d.nnames == 1);
	CHECK_STR(d.names[0], "Bravo");
	/* root + old Bravo (folder, day, info) + new Bravo (folder, 2 days, info) */
	CHECK(d.ninos == 1 + 3 + 4);
	CHECK(has_ino(&d, CF_VIEW_ROOT_INO) && has_ino(&d, b_dir) && has_ino(&d, b_day) &&
	    has_ino(&d, b2_dir) && has_ino(&d, b2_day) && !has_ino(&d, a_dir));
	cf_view_delta_free(&d);
	CHECK(ino_of(v, CF_VIEW_ROOT_INO, "Bravo") == 0);
	CHECK_RC(cf_view_lookup(v, CF_VIEW_ROOT_INO, "Bravo", &at), -ENOENT);
	CHECK_RC(cf_view_getattr(v, b_day, &at), -EACCES);
	CHECK_RC(cf_view_getattr(v, b2_dir, &at), -EACCES);
	CHECK_RC(cf_view_lookup(v, b2_dir, "2025-03-02.txt", &at), -EACCES);
	CHECK_RC(cf_view_readdir(v, b_dir, 0, &name, &at), -EACCES);
	CHECK_RC(cf_view_text(v, b2_day, &t, &len), -EACCES);
	CHECK_RC(cf_view_conv_of(v, b_day, &idx), -EACCES);
	CHECK_RC(cf_view_conv_listed(v, 1, &pos), -EACCES);
	CHECK_RC(cf_view_conv_listed(v, 2, &pos), -EACCES);
	CHECK_RC(cf_view_conv_listed(v, 3, &pos), 0);
	CHECK(pos == 1);
	CHECK_RC(cf_view_getattr(v, CF_VIEW_ROOT_INO, &at), 0);
	CHECK(at.nlink == 4);
	CHECK(ino_of(v, a_dir, "info.txt") == a_info);
	cf_view_reclaim(v);
	CHECK(closed_handles == 0);
	CHECK(cf_view_conv_name(v, 1) == NULL);
	CHECK_STR(cf_view_conv_name(v, 0), "Alpha");
	CHECK_RC(cf_view_getattr(v, b_day, &at), -EACCES);
	CHECK_RC(cf_view_conv_build(v, 1, &l1v[1], &ccb), -EACCES);

	/* Bravo back, unchanged, and Alpha revoked: Bravo gets a new folder
	 * (its old content is gone), Alpha's handle is closed by the reclaim. */
	before = cf_view_ninodes(v);
	l4v[0] = l2v[1];
	l4v[1] = l2v[2];
	CHECK_RC(cf_view_refresh(v, &l4, 0, &d), 0);
	CHECK(d.added == 1 && d.removed == 1 && d.nnames == 2);
	CHECK(has_ino(&d, a_dir) && has_ino(&d, a_info) && has_ino(&d, a_att));
	cf_view_delta_free(&d);
	b3_dir = ino_of(v, CF_VIEW_ROOT_INO, "Bravo");
	CHECK(b3_dir == before + 1);
	CHECK(ino_of(v, CF_VIEW_ROOT_INO, "Charlie") == c_dir);
	CHECK(cf_view_handle_get(v, a_att) == NULL);
	CHECK(closed_handles == 0);
	cf_view_reclaim(v);
	CHECK(closed_handles == 1);

	/* Nothing listed: an empty root. */
	CHECK_RC(cf_view_refresh(v, &none, T("2026-02-01T00:00:00Z"), NULL), 0);
	CHECK_RC(cf_view_readdir(v, CF_VIEW_ROOT_INO, 0, &name, &at), 0);
	CHECK_RC(cf_view_getattr(v, CF_VIEW_ROOT_INO, &at), 0);
	CHECK(at.nlink == 2 && at.mtime == T("2026-02-01T00:00:00Z") / 1000);
	CHECK_RC(cf_view_getattr(v, c_dir, &at), -EACCES);
	cf_view_free(v);
	CHECK(closed_handles == 1);
}

/* Many conversations: the slot and range arrays grow over several
 * chunks; every folder stays reachable by name and inode. */
static void
test_refresh_many(void)
{
	enum { N1 = 100, N2 = 230 };
	struct cf_chat *c1, *c2;
	struct cf_chat_list l1, l2;
	struct cf_msg m[1];
	struct cf_chat_content cc = { m, 1, NULL, 0 };
	struct cf_view *v = NULL;
	struct cf_view_attr at;
	char (*titles)[16];
	uint64_t first_new;
	size_t i, idx, pos;
	int bad = 0;

	c1 = calloc(N1, sizeof(*c1));
	c2 = calloc(N2, sizeof(*c2));
	titles = calloc(N2, sizeof(*titles));
	REQUIRE(c1 != NULL && c2 != NULL && titles != NULL);
	m[0] = msg("2025-04-01T10:00:00Z", "A", "x");
	for (i = 0; i < N2; i++) {
		snprintf(titles[i], sizeof(titles[i]), "t%03zu", i);
		set_chat(&c2[i], 0, titles[i], 0);
		c2[i].id[0] = (uint8_t)(i & 0xff);
		c2[i].id[1] = (uint8_t)(i >> 8);
		if (i < N1)
			c1[i] = c2[i];
	}
	l1 = (struct cf_chat_list){ .v = c1, .n = N1 };
	l2 = (struct cf_chat_list){ .v = c2, .n = N2 };
	REQUIRE(cf_view_new(&v, &l1, NULL, 0, NULL) == 0);
	for (i = 0; i < N1; i += 3)
		CHECK_RC(cf_view_conv_build(v, i, &c1[i], &cc), 0);
	first_new = cf_view_ninodes(v) + 1;
	CHECK_RC(cf_view_refresh(v, &l2, 0, NULL), 0);
	for (i = 0; i < N2; i += 2)
		if (i >= N1 && cf_view_conv_build(v, i, &c2[i], &cc) != 0)
			bad++;
	CHECK(bad == 0);
	CHECK(cf_view_nconv(v) == N2);
	for (i = 0; i < N2; i++) {
		uint64_t dir = ino_of(v, CF_VIEW_ROOT_INO, titles[i]);

		if (dir != (i < N1 ? 2 + i : first_new + (i - N1)) || cf_view_conv_of(v, dir, &idx) != 0 || idx != i ||
		    cf_view_conv_listed(v, i, &pos) != 0 || pos != i ||
		    cf_view_getattr(v, dir, &at) != 0 || at.ino != dir)
			bad++;
		if ((i < N1 ? i % 3 == 0 : i % 2 == 0) &&
		    (cf_view_lookup(v, dir, "info.txt", &at) != 0 ||
		    cf_view_conv_of(v, at.ino, &idx) != 0 || idx != i))
			bad++;
	}
	CHECK(bad == 0);
	cf_view_free(v);
	free(c1);
	free(c2);
	free(titles);
}

/* Readers while a refresher swaps two lists back and forth: a listed
 * folder is always found, by name and inode, and nothing else is seen. */
struct refresher {
	struct cf_view *v;
	const struct cf_chat_list *l[2];
	atomic_int stop;
	int bad;
};

static void *
refresh_loop(void *arg)
{
	struct refresher *r = arg;
	int i;

	for (i = 0; i < 400; i++)
		if (cf_view_refresh(r->v, r->l[i % 2], 0, NULL) != 0)
			r->bad = 1;
	atomic_store(&r->stop, 1);
	return NULL;
}

static void *
refresh_reader(void *arg)
{
	struct refresher *r = arg;
	struct cf_view_attr a, b;
	const char *name;
	size_t pos;
	int rc;

	while (!atomic_load(&r->stop)) {
		/* "Keep" is in both lists, unchanged: always the same folder. */
		if (cf_view_lookup(r->v, CF_VIEW_ROOT_INO, "Keep", &a) != 0 || a.ino != 2)
			r->bad = 1;
		if (cf_view_lookup(r->v, 2, "info.txt", &b) != 0 || cf_view_getattr(r->v, b.ino, &b) != 0)
			r->bad = 1;
		for (pos = 0; (rc = cf_view_readdir(r->v, CF_VIEW_ROOT_INO, pos, &name, &a)) == 1; pos++)
			if (strcmp(name, "Keep") != 0 && strcmp(name, "Other") != 0)
				r->bad = 1;
		if (rc != 0)
			r->bad = 1;
		rc = cf_view_lookup(r->v, CF_VIEW_ROOT_INO, "Other", &a);
		if (rc == 0 && (rc = cf_view_getattr(r->v, a.ino, &b)) != 0 && rc != -EACCES)
			r->bad = 1;
		else if (rc != 0 && rc != -ENOENT && rc != -EACCES)
			r->bad = 1;
	}
	return NULL;
}

static void
test_refresh_race(void)
{
	struct cf_chat both[2], one[1];
	struct cf_chat_list lb = { .v = both, .n = 2 }, lo = { .v = one, .n = 1 };
	struct cf_msg m[1];
	struct cf_chat_content cc = { m, 1, NULL, 0 };
	struct refresher r;
	pthread_t th[3];
	int i;

	m[0] = msg("2025-04-01T10:00:00Z", "A", "x");
	set_chat(&both[0], 0x11, "Keep", 0);
	set_chat(&both[1], 0x22, "Other", 0);
	one[0] = both[0];
	memset(&r, 0, sizeof(r));
	r.l[0] = &lo;
	r.l[1] = &lb;
	atomic_init(&r.stop, 0);
	REQUIRE(cf_view_new(&r.v, &lb, NULL, 0, NULL) == 0);
	CHECK_RC(cf_view_conv_build(r.v, 0, &both[0], &cc), 0);
	for (i = 0; i < 2; i++)
		REQUIRE(pthread_create(&th[i], NULL, refresh_reader, &r) == 0);
	REQUIRE(pthread_create(&th[2], NULL, refresh_loop, &r) == 0);
	for (i = 0; i < 3; i++)
		REQUIRE(pthread_join(th[i], NULL) == 0);
	CHECK(!r.bad);
	/* 200 times "Other" came back: 200 new folders, never an old inode. */
	CHECK(cf_view_nconv(r.v) == 2 + 200);
	cf_view_reclaim(r.v);
	cf_view_free(r.v);
}

int
main(void)
{
	test_sanitize();
	test_extra_render();
	test_root_names();
	test_days();
	test_attachments();
	test_attachment_clash();
	test_info();
	test_inodes();
	test_race();
	test_refresh();
	test_refresh_many();
	test_refresh_race();
	return CHECK_DONE("test_view");
}
