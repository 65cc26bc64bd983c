/*
 * test_export.c - fs/export*.c: bounds and formats, the MIME pieces, and
 * whole exports of a real archive built from tests/fixtures/export/:
 * RSMF day slicing and the event limit (a small limit), the manifest's
 * events, reactions, edits and parents, EML headers, JSONL lines parsed
 * back to the same messages, --from/--to, the SHA-256 manifest, the audit
 * record per conversation, and every refusal (non-empty folder, symbolic
 * link, folder inside the archive, an audit log that cannot be written).
 *
 * Fixtures: tests/fixtures/export/ relative to the current directory, or
 * to $COFFER_SRCDIR or $COFFER_TOP.  Everything else is made in a private
 * temp folder.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>
#include <zip.h>

#include "audit.h"
#include "export.h"
#include "export_int.h"
#include "import.h"
#include "testlib.h"
#include "util.h"

#define PW(s) (s), strlen(s)

static char tmp[PATH_MAX], arch[PATH_MAX], fixdir[PATH_MAX];

static int64_t
T(const char *s)
{
	int64_t ms = 0;

	REQUIRE(cf_parse_time(s, "UTC", &ms, NULL) == 0);
	return ms;
}

static void
rm_rf(const char *p)
{
	(void)remove_tree(p);
}

/* Whole file into malloc'd memory (NUL-terminated). */
static char *
slurp(const char *path, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;

	if (cf_read_file(path, &buf, &n) != 0)
		return NULL;
	if (len != NULL)
		*len = n;
	return buf;
}

static size_t
count_files(const char *d)
{
	char p[PATH_MAX];
	struct dirent *e;
	struct stat st;
	size_t n = 0;
	DIR *dp = opendir(d);

	if (dp == NULL)
		return 0;
	while ((e = readdir(dp)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		REQUIRE(cf_path(p, sizeof p, "%s/%s", d, e->d_name) == 0);
		if (lstat(p, &st) != 0)
			continue;
		n += S_ISDIR(st.st_mode) ? count_files(p) : 1;
	}
	closedir(dp);
	return n;
}

/* ---- pieces --------------------------------------------------------------- */

static void
test_bounds(void)
{
	enum cf_export_format f;
	int64_t ms;

	CHECK_RC(cf_export_format_parse("rsmf", &f), 0);
	CHECK(f == CF_EXPORT_RSMF);
	CHECK_RC(cf_export_format_parse("eml", &f), 0);
	CHECK(f == CF_EXPORT_EML);
	CHECK_RC(cf_export_format_parse("jsonl", &f), 0);
	CHECK(f == CF_EXPORT_JSONL);
	CHECK_RC(cf_export_format_parse("RSMF", &f), -EINVAL);
	CHECK_RC(cf_export_format_parse("pdf", &f), -EINVAL);
	CHECK_STR(cf_export_format_name(CF_EXPORT_EML), "eml");

	CHECK_RC(cf_export_parse_bound("2025-03-10", &ms), 0);
	CHECK(ms == 1741564800000LL);
	CHECK_RC(cf_export_parse_bound("2025-03-10T08:00:00Z", &ms), 0);
	CHECK(ms == 1741564800000LL + 8 * 3600000LL);
	CHECK_RC(cf_export_parse_bound("2025-03-10T08:00:00.250+01:00", &ms), 0);
	CHECK(ms == 1741564800000LL + 7 * 3600000LL + 250);
	CHECK_RC(cf_export_parse_bound("2025-03-10T08:00:00", &ms), 0);     /* UTC */
	CHECK(ms == 1741564800000LL + 8 * 3600000LL);
	CHECK_RC(cf_export_parse_bound("2025-3-10", &ms), -EINVAL);
	CHECK_RC(cf_export_parse_bound("2025-13-10", &ms), -EINVAL);
	CHECK_RC(cf_export_parse_bound("yesterday", &ms), -EINVAL);
	CHECK_RC(cf_export_parse_bound("", &ms), -EINVAL);
}

static void
test_times(void)
{
	char b[64];

	x_time_iso(1741593492000LL, b, sizeof b);
	CHECK_STR(b, "2025-03-10T07:58:12Z");
	x_time_iso(1741593492250LL, b, sizeof b);
	CHECK_STR(b, "2025-03-10T07:58:12.250Z");
	x_time_iso(-1, b, sizeof b);                    /* floored, not truncated */
	CHECK_STR(b, "1969-12-31T23:59:59.999Z");
	x_time_rfc5322(1741593492250LL, b, sizeof b);
	CHECK_STR(b, "Mon, 10 Mar 2025 07:58:12 +0000");
	CHECK(x_day(0) == 0 && x_day(86399999) == 0 && x_day(86400000) == 1 && x_day(-1) == -1);
}

static void
test_mime(void)
{
	struct xbuf b = { 0 };
	char *p, *w;
	size_t words = 0;

	x_mailbox(&b, "Ann \"A\" Lee", "p1@x.coffer.invalid");
	CHECK_STR(b.p, "\"Ann \\\"A\\\" Lee\" <p1@x.coffer.invalid>");
	xb_free(&b);
	x_phrase(&b, "Tomás");
	CHECK_STR(b.p, "=?UTF-8?B?VG9tw6Fz?=");
	xb_free(&b);
	/* text that looks like an encoded word is encoded itself */
	x_phrase(&b, "=?x?");
	CHECK(strncmp(b.p, "=?UTF-8?B?", 10) == 0);
	xb_free(&b);
	/* 60 two-byte characters: several words, each at most 75 characters,
	 * none splitting a character (each decodes to whole "é"s) */
	for (int i = 0; i < 60; i++)
		xb_puts(&b, "\xc3\xa9");
	p = strdup(b.p);
	REQUIRE(p != NULL);
	xb_free(&b);
	x_phrase(&b, p);
	free(p);
	for (w = strtok(b.p, "\r\n "); w != NULL; w = strtok(NULL, "\r\n ")) {
		unsigned char bin[64];
		size_t binlen = 0, body = strlen(w) - 12;

		words++;
		CHECK(strlen(w) <= 75);
		CHECK(strncmp(w, "=?UTF-8?B?", 10) == 0);
		CHECK(sodium_base642bin(bin, sizeof bin, w + 10, body, NULL, &binlen, NULL,
		    sodium_base64_VARIANT_ORIGINAL) == 0);
		CHECK(binlen % 2 == 0 && binlen > 0 && bin[0] == 0xc3);
	}
	CHECK(words == 3);
	xb_free(&b);
}

/* ---- whole exports ----------------------------------------------------------- */

struct fixture {
	struct cf_archive *a;
	struct cf_session *s;
	struct cf_chat_list l;
	const struct cf_chat *ops, *board;
	char opshex[2 * CF_ID_BYTES + 1], boardhex[2 * CF_ID_BYTES + 1];
};

static void
fixture_open(struct fixture *fx)
{
	struct cf_import_opts io = { .tz = "UTC" };
	struct cf_import_stats ist;
	struct cf_batch *b = NULL;
	uint8_t *secret;
	char path[PATH_MAX];
	size_t i;

	memset(fx, 0, sizeof(*fx));
	secret = cf_secure_alloc(CF_KEY_BYTES);
	REQUIRE(secret != NULL);
	REQUIRE(cf_archive_init(arch, "admin", PW("pw admin"), secret) == 0);
	cf_secure_free(secret);
	REQUIRE(cf_archive_open(&fx->a, arch, 0) == 0);
	REQUIRE(cf_session_unlock(fx->a, "admin", PW("pw admin"), &fx->s) == 0);
	REQUIRE(cf_path(path, sizeof path, "%s/chat.jsonl", fixdir) == 0);
	REQUIRE(cf_batch_new(&b, "jsonl", "UTC") == 0);
	REQUIRE(cf_importer_jsonl.parse(path, b, &io) == 0);
	REQUIRE(cf_import(fx->a, fx->s, b, &ist) == 0);
	CHECK(ist.added == 11 && ist.attachments == 4);
	cf_batch_free(b);
	REQUIRE(cf_chats_list(fx->a, fx->s, &fx->l) == 0);
	REQUIRE(fx->l.n == 2);
	for (i = 0; i < fx->l.n; i++) {
		if (strcmp(fx->l.v[i].chat, "ops") == 0)
			fx->ops = &fx->l.v[i];
		else
			fx->board = &fx->l.v[i];
	}
	REQUIRE(fx->ops != NULL && fx->board != NULL);
	cf_hex_encode(fx->opshex, fx->ops->id, CF_ID_BYTES);
	cf_hex_encode(fx->boardhex, fx->board->id, CF_ID_BYTES);
}

static void
fixture_close(struct fixture *fx)
{
	cf_chats_free(&fx->l);
	cf_session_free(fx->s);
	cf_archive_close(fx->a);
}

static int
run_export(struct fixture *fx, const struct cf_chat *only, const char *out,
    enum cf_export_format f, size_t max_events, int64_t from, int64_t to,
    struct cf_export_stats *st)
{
	const struct cf_chat *sel[2];
	struct cf_export_opts o = { .format = f, .from_ms = from, .to_ms = to,
	    .max_events = max_events };
	size_t n = 0;

	if (only != NULL) {
		sel[n++] = only;
	} else {
		sel[n++] = fx->ops;
		sel[n++] = fx->board;
	}
	return cf_export(fx->a, fx->s, sel, n, out, &o, st);
}

/* The rsmf.zip of an .rsmf file, decoded, written to zpath. */
static int
rsmf_zip(const char *rsmf, const char *zpath)
{
	char *text, *p, *end;
	unsigned char *bin;
	size_t len, binlen = 0;
	FILE *f;
	int rc = -1;

	if ((text = slurp(rsmf, &len)) == NULL)
		return -1;
	p = strstr(text, "filename=\"rsmf.zip\"");
	if (p != NULL)
		p = strstr(p, "\r\n\r\n");
	end = p != NULL ? strstr(p + 4, "\r\n--" X_BOUNDARY "--") : NULL;
	if (p != NULL && end != NULL && (bin = malloc(len)) != NULL) {
		if (sodium_base642bin(bin, len, p + 4, (size_t)(end - p - 4), "\r\n", &binlen,
		    NULL, sodium_base64_VARIANT_ORIGINAL) == 0 &&
		    (f = fopen(zpath, "wb")) != NULL) {
			rc = fwrite(bin, 1, binlen, f) == binlen ? 0 : -1;
			fclose(f);
		}
		free(bin);
	}
	free(text);
	return rc;
}

/* rsmf_manifest.json of an .rsmf file. */
static json_t *
rsmf_manifest(const char *rsmf, int *nentries)
{
	char zpath[PATH_MAX], *buf = NULL;
	zip_stat_t zs;
	zip_file_t *zf;
	zip_t *z;
	json_t *j = NULL;
	int err;

	REQUIRE(cf_path(zpath, sizeof zpath, "%s/z.zip", tmp) == 0);
	if (rsmf_zip(rsmf, zpath) != 0)
		return NULL;
	if ((z = zip_open(zpath, ZIP_RDONLY, &err)) == NULL)
		return NULL;
	*nentries = (int)zip_get_num_entries(z, 0);
	if (zip_stat(z, "rsmf_manifest.json", 0, &zs) == 0 && (buf = calloc(1, zs.size + 1)) &&
	    (zf = zip_fopen(z, "rsmf_manifest.json", 0)) != NULL) {
		if (zip_fread(zf, buf, zs.size) == (zip_int64_t)zs.size)
			j = json_loads(buf, 0, NULL);
		zip_fclose(zf);
	}
	free(buf);
	zip_discard(z);
	unlink(zpath);
	return j;
}

static json_t *
event_by_id(json_t *man, const char *id)
{
	json_t *ev;
	size_t i;

	json_array_foreach(json_object_get(man, "events"), i, ev)
		if (strcmp(json_string_value(json_object_get(ev, "id")), id) == 0)
			return ev;
	return NULL;
}

static void
test_rsmf(struct fixture *fx)
{
	char out[PATH_MAX], p[PATH_MAX], *text;
	struct cf_export_stats st;
	json_t *man, *ev, *r;
	int n = 0;

	REQUIRE(cf_path(out, sizeof out, "%s/rsmf", tmp) == 0);
	/* at most 2 events per file: 10 March (3 messages) gives two files */
	CHECK_RC(run_export(fx, NULL, out, CF_EXPORT_RSMF, 2, CF_EXPORT_NO_FROM,
	    CF_EXPORT_NO_TO, &st), 0);
	CHECK(st.conversations == 2 && st.messages == 11 && st.attachments == 4);
	/* ops: 10 March 2+1, 11 March 2, 12 March 2+1; board: 1 April 2, 2 April 1 */
	CHECK(st.files == 5 + 2 + 2);
	CHECK(count_files(out) == 9);

	REQUIRE(cf_path(p, sizeof p, "%s/%s/2025-03-10_001.rsmf", out, fx->opshex) == 0);
	REQUIRE((text = slurp(p, NULL)) != NULL);
	CHECK(strstr(text, "\r\nX-RSMF-Version: 2.0.0\r\n") != NULL);
	CHECK(strstr(text, "\r\nX-RSMF-EventCount: 2\r\n") != NULL);
	CHECK(strstr(text, "\r\nX-RSMF-BeginDate: 2025-03-10T07:58:12Z\r\n") != NULL);
	CHECK(strstr(text, "\r\nX-RSMF-EndDate: 2025-03-10T08:03:40.250Z\r\n") != NULL);
	CHECK(strstr(text, "X-RSMF-EventCollectionID: ") != NULL &&
	    strstr(text, fx->opshex) != NULL);
	free(text);
	REQUIRE((man = rsmf_manifest(p, &n)) != NULL);
	CHECK(n == 1);                                  /* no attachment in this slice */
	CHECK_STR(json_string_value(json_object_get(man, "version")), "2.0.0");
	CHECK_STR(json_string_value(json_object_get(man, "eventcollectionid")), fx->opshex);
	CHECK(json_array_size(json_object_get(man, "events")) == 2);
	CHECK(json_array_size(json_object_get(man, "participants")) == 3);
	ev = event_by_id(man, "m1");
	REQUIRE(ev != NULL);
	r = json_array_get(json_object_get(ev, "reactions"), 0);
	CHECK_STR(json_string_value(json_object_get(r, "value")), "👍");
	CHECK(json_integer_value(json_object_get(r, "count")) == 2);
	CHECK(json_array_size(json_object_get(r, "participants")) == 2);
	ev = event_by_id(man, "m2");
	REQUIRE(ev != NULL);
	CHECK_STR(json_string_value(json_object_get(ev, "parent")), "m1");
	CHECK_STR(json_string_value(json_object_get(ev, "timestamp")), "2025-03-10T08:03:40.250Z");
	json_decref(man);

	/* the second slice of that day: the attachments, the edit */
	REQUIRE(cf_path(p, sizeof p, "%s/%s/2025-03-10_002.rsmf", out, fx->opshex) == 0);
	REQUIRE((man = rsmf_manifest(p, &n)) != NULL);
	CHECK(n == 3);
	ev = event_by_id(man, "m3");
	REQUIRE(ev != NULL);
	CHECK(json_array_size(json_object_get(ev, "attachments")) == 2);
	CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(ev,
	    "attachments"), 1), "display")), "crane photo.jpg");
	r = json_array_get(json_object_get(ev, "edits"), 0);
	CHECK_STR(json_string_value(json_object_get(r, "previous")), "Inspection report attachd.");
	CHECK_STR(json_string_value(json_object_get(r, "new")), "Inspection report attached.");
	CHECK_STR(json_string_value(json_object_get(man, "eventcollectionid")), fx->opshex);
	json_decref(man);

	/* 12 March: deleted, missing attachment, reply to an unknown id */
	REQUIRE(cf_path(p, sizeof p, "%s/%s/2025-03-12_002.rsmf", out, fx->opshex) == 0);
	REQUIRE((man = rsmf_manifest(p, &n)) != NULL);
	ev = event_by_id(man, "m8");
	REQUIRE(ev != NULL);
	CHECK(json_object_get(ev, "parent") == NULL);
	json_decref(man);
	REQUIRE(cf_path(p, sizeof p, "%s/%s/2025-03-12_001.rsmf", out, fx->opshex) == 0);
	REQUIRE((man = rsmf_manifest(p, &n)) != NULL);
	ev = event_by_id(man, "m7");
	REQUIRE(ev != NULL);
	CHECK(json_is_true(json_object_get(ev, "deleted")));
	json_decref(man);

	/* board: a thread reply's parent is the root (integer source id 7) */
	REQUIRE(cf_path(p, sizeof p, "%s/%s/2025-04-01_001.rsmf", out, fx->boardhex) == 0);
	REQUIRE((man = rsmf_manifest(p, &n)) != NULL);
	ev = event_by_id(man, "m2");
	REQUIRE(ev != NULL);
	CHECK_STR(json_string_value(json_object_get(ev, "parent")), "m1");
	CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(man,
	    "conversations"), 0), "type")), "channel");   /* three senders */
	json_decref(man);

	/* the default limit: one file per day */
	REQUIRE(cf_path(out, sizeof out, "%s/rsmf-default", tmp) == 0);
	CHECK_RC(run_export(fx, fx->ops, out, CF_EXPORT_RSMF, 0, CF_EXPORT_NO_FROM,
	    CF_EXPORT_NO_TO, &st), 0);
	CHECK(st.files == 3 + 2);
}

static void
test_eml(struct fixture *fx)
{
	char out[PATH_MAX], p[PATH_MAX], *text;
	struct cf_export_stats st;

	REQUIRE(cf_path(out, sizeof out, "%s/eml", tmp) == 0);
	CHECK_RC(run_export(fx, NULL, out, CF_EXPORT_EML, 0, CF_EXPORT_NO_FROM, CF_EXPORT_NO_TO,
	    &st), 0);
	CHECK(st.files == 11 + 2);
	REQUIRE(cf_path(p, sizeof p, "%s/%s/0000002.eml", out, fx->opshex) == 0);
	REQUIRE((text = slurp(p, NULL)) != NULL);
	CHECK(strncmp(text, "From: =?UTF-8?B?", 16) == 0);     /* Tomás */
	CHECK(strstr(text, "\r\nDate: Mon, 10 Mar 2025 08:03:40 +0000\r\n") != NULL);
	CHECK(strstr(text, "\r\nIn-Reply-To: <m1.") != NULL);
	CHECK(strstr(text, "\r\nX-Coffer-Message-Id: o2\r\n") != NULL);
	CHECK(strstr(text, "\r\nContent-Type: text/plain; charset=utf-8\r\n") != NULL);
	CHECK(strstr(text, "multipart") == NULL);
	free(text);
	REQUIRE(cf_path(p, sizeof p, "%s/%s/0000003.eml", out, fx->opshex) == 0);
	REQUIRE((text = slurp(p, NULL)) != NULL);
	CHECK(strstr(text, "multipart/mixed; boundary=\"" X_BOUNDARY "\"") != NULL);
	CHECK(strstr(text, "filename=\"crane photo.jpg\"") != NULL);
	CHECK(strstr(text, "Content-Type: image/jpeg") != NULL);
	CHECK(strstr(text, "\r\n--" X_BOUNDARY "--\r\n") != NULL);
	free(text);
	/* a long non-ASCII name: RFC 2231 continuations, short lines */
	REQUIRE(cf_path(p, sizeof p, "%s/%s/0000008.eml", out, fx->opshex) == 0);
	REQUIRE((text = slurp(p, NULL)) != NULL);
	CHECK(strstr(text, "\r\n filename*0*=UTF-8''%D0%9E%D1%82") != NULL);
	CHECK(strstr(text, ";\r\n filename*1*=") != NULL);
	CHECK(strstr(text, "filename=") == NULL);
	{
		char *l, *save2 = NULL;
		size_t longest = 0;

		for (l = strtok_r(text, "\n", &save2); l != NULL; l = strtok_r(NULL, "\n", &save2))
			longest = strlen(l) > longest ? strlen(l) : longest;
		CHECK(longest <= 78);
	}
	free(text);
}

/* The exported JSONL parses back into the messages that were stored. */
static void
test_jsonl(struct fixture *fx)
{
	char out[PATH_MAX], p[PATH_MAX], cdir[PATH_MAX], why[512], *text, *line, *save = NULL;
	struct cf_chat_content cc;
	struct cf_jsonl_line jl;
	struct cf_export_stats st;
	size_t i = 0, k;

	REQUIRE(cf_path(out, sizeof out, "%s/jsonl", tmp) == 0);
	CHECK_RC(run_export(fx, NULL, out, CF_EXPORT_JSONL, 0, CF_EXPORT_NO_FROM,
	    CF_EXPORT_NO_TO, &st), 0);
	CHECK(st.files == 2 + 4 + 2);
	REQUIRE(cf_chat_load(fx->a, fx->ops, &cc) == 0);
	REQUIRE(cf_path(cdir, sizeof cdir, "%s/%s", out, fx->opshex) == 0);
	REQUIRE(cf_path(p, sizeof p, "%s/messages.jsonl", cdir) == 0);
	REQUIRE((text = slurp(p, NULL)) != NULL);
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		const struct cf_msg *m;

		REQUIRE(i < cc.n);
		m = &cc.msgs[i];
		CHECK_RC(cf_jsonl_parse_line(line, strlen(line), cdir, "Europe/Paris", &jl, why,
		    sizeof why), 1);
		CHECK_STR(jl.chat, "ops");
		if (i == 0)
			CHECK_STR(jl.title, "Harbour ops Ω");
		else
			CHECK(jl.title == NULL);
		CHECK_STR(jl.msg.id, m->id);
		CHECK(jl.msg.ts_ms == m->ts_ms);
		CHECK_STR(jl.msg.sender, m->sender);
		CHECK_STR(jl.msg.body, m->body);
		CHECK((jl.msg.extra == NULL) == (m->extra == NULL));
		if (m->extra != NULL)
			CHECK_STR(jl.msg.extra, m->extra);
		CHECK(jl.msg.natt == m->natt);
		for (k = 0; k < jl.msg.natt && k < m->natt; k++) {
			char *data;
			size_t len = 0;

			CHECK_STR(jl.msg.att[k].name, m->att[k].name);
			CHECK(jl.msg.att[k].size == m->att[k].size);
			data = slurp(jl.msg.att[k].src_path, &len);
			CHECK(data != NULL && len == m->att[k].size);
			free(data);
		}
		cf_jsonl_line_clear(&jl);
		i++;
	}
	CHECK(i == cc.n);
	free(text);
	cf_chat_content_free(&cc);
	/* an event without a sender is written with "sender": null, which the
	 * importer reads back as one; an absent sender is still an error */
	{
		const char *sys = "{\"chat\":\"c\",\"ts\":\"2025-01-01T00:00:00Z\","
		    "\"sender\":null,\"body\":\"Ann joined\",\"kind\":\"system\"}";
		const char *none = "{\"chat\":\"c\",\"ts\":\"2025-01-01T00:00:00Z\","
		    "\"body\":\"x\"}";

		CHECK_RC(cf_jsonl_parse_line(sys, strlen(sys), cdir, "UTC", &jl, why, sizeof why), 1);
		CHECK(jl.msg.sender == NULL);
		CHECK_STR(jl.msg.extra, "{\"kind\":\"system\"}");
		cf_jsonl_line_clear(&jl);
		CHECK_RC(cf_jsonl_parse_line(none, strlen(none), cdir, "UTC", &jl, why, sizeof why),
		    -EINVAL);
	}
	/* the attachments themselves */
	REQUIRE(cf_path(p, sizeof p, "%s/attachments/3-2-crane photo.jpg", cdir) == 0);
	{
		char fp[PATH_MAX], *a, *b;
		size_t la = 0, lb = 0;

		REQUIRE(cf_path(fp, sizeof fp, "%s/files/photo.jpg", fixdir) == 0);
		a = slurp(p, &la);
		b = slurp(fp, &lb);
		CHECK(a != NULL && b != NULL && la == lb && memcmp(a, b, la) == 0);
		free(a);
		free(b);
	}
}

/* MANIFEST.sha256 names every file with its hash. */
static void
test_manifest(const char *out)
{
	char p[PATH_MAX], *text, *line, *save = NULL, *data, hex[65];
	unsigned char h[crypto_hash_sha256_BYTES];
	size_t n = 0, len;

	REQUIRE(cf_path(p, sizeof p, "%s/MANIFEST.sha256", out) == 0);
	REQUIRE((text = slurp(p, NULL)) != NULL);
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		REQUIRE(strlen(line) > 66 && line[64] == ' ' && line[65] == ' ');
		REQUIRE(cf_path(p, sizeof p, "%s/%s", out, line + 66) == 0);
		data = slurp(p, &len);
		CHECK(data != NULL);
		if (data == NULL)
			continue;
		crypto_hash_sha256(h, (unsigned char *)data, len);
		cf_hex_encode(hex, h, sizeof h);
		CHECK(strncmp(line, hex, 64) == 0);
		free(data);
		n++;
	}
	free(text);
	CHECK(n + 1 == count_files(out));              /* all but itself */
	REQUIRE(cf_path(p, sizeof p, "%s/manifest.json", out) == 0);
	REQUIRE((text = slurp(p, NULL)) != NULL);
	{
		json_t *j = json_loads(text, 0, NULL);

		CHECK(j != NULL);
		CHECK_STR(json_string_value(json_object_get(j, "principal")), "admin");
		CHECK(json_array_size(json_object_get(j, "files")) == n - 1);
		json_decref(j);
	}
	free(text);
}

static void
test_range(struct fixture *fx)
{
	char out[PATH_MAX];
	struct cf_export_stats st;

	/* [11 March, 12 March): the two messages of the 11th */
	REQUIRE(cf_path(out, sizeof out, "%s/range", tmp) == 0);
	CHECK_RC(run_export(fx, fx->ops, out, CF_EXPORT_EML, 0, T("2025-03-11T00:00:00Z"),
	    T("2025-03-12T00:00:00Z"), &st), 0);
	CHECK(st.messages == 2 && st.files == 2 + 2);
	/* from is inclusive, to exclusive: a message exactly at to is out */
	REQUIRE(cf_path(out, sizeof out, "%s/range2", tmp) == 0);
	CHECK_RC(run_export(fx, fx->ops, out, CF_EXPORT_EML, 0, T("2025-03-10T07:58:12Z"),
	    T("2025-03-11T16:21:00Z"), &st), 0);
	CHECK(st.messages == 4);
	/* nothing in range: audited, only the manifests */
	REQUIRE(cf_path(out, sizeof out, "%s/range3", tmp) == 0);
	CHECK_RC(run_export(fx, fx->ops, out, CF_EXPORT_RSMF, 0, T("2030-01-01T00:00:00Z"),
	    CF_EXPORT_NO_TO, &st), 0);
	CHECK(st.messages == 0 && st.files == 2 && st.conversations == 1);
}

static void
test_refusals(struct fixture *fx)
{
	char out[PATH_MAX], p[PATH_MAX];
	struct cf_export_stats st;
	struct cf_archive *ro = NULL;
	struct cf_session *ros = NULL;
	struct cf_export_opts o = { .format = CF_EXPORT_RSMF, .from_ms = CF_EXPORT_NO_FROM,
	    .to_ms = CF_EXPORT_NO_TO };
	const struct cf_chat *sel[1];
	struct cf_chat_list l = { .v = NULL };

	cf_log_quiet(1);
	/* a folder that is not empty */
	REQUIRE(cf_path(out, sizeof out, "%s/full", tmp) == 0);
	REQUIRE(mkdir(out, 0700) == 0);
	REQUIRE(cf_path(p, sizeof p, "%s/keep.txt", out) == 0);
	write_file(p, "mine\n");
	CHECK_RC(run_export(fx, NULL, out, CF_EXPORT_RSMF, 0, CF_EXPORT_NO_FROM,
	    CF_EXPORT_NO_TO, &st), -EEXIST);
	CHECK(count_files(out) == 1);
	/* an empty folder is fine */
	REQUIRE(cf_path(out, sizeof out, "%s/empty", tmp) == 0);
	REQUIRE(mkdir(out, 0700) == 0);
	CHECK_RC(run_export(fx, fx->board, out, CF_EXPORT_JSONL, 0, CF_EXPORT_NO_FROM,
	    CF_EXPORT_NO_TO, &st), 0);
	/* a symbolic link to a folder */
	REQUIRE(cf_path(p, sizeof p, "%s/target", tmp) == 0);
	REQUIRE(mkdir(p, 0700) == 0);
	REQUIRE(cf_path(out, sizeof out, "%s/link", tmp) == 0);
	REQUIRE(symlink(p, out) == 0);
	CHECK(run_export(fx, NULL, out, CF_EXPORT_EML, 0, CF_EXPORT_NO_FROM, CF_EXPORT_NO_TO,
	    &st) < 0);
	CHECK(count_files(p) == 0);
	/* inside the archive */
	REQUIRE(cf_path(out, sizeof out, "%s/plain", arch) == 0);
	CHECK_RC(run_export(fx, NULL, out, CF_EXPORT_JSONL, 0, CF_EXPORT_NO_FROM,
	    CF_EXPORT_NO_TO, &st), -EINVAL);
	CHECK(access(out, F_OK) != 0);
	/* an empty range */
	REQUIRE(cf_path(out, sizeof out, "%s/norange", tmp) == 0);
	CHECK_RC(run_export(fx, NULL, out, CF_EXPORT_JSONL, 0, 5, 5, &st), -EINVAL);
	CHECK(access(out, F_OK) != 0);

	/* fail closed: with the keystore read-only nothing can be audited,
	 * so nothing is exported and the folder made is gone again */
	REQUIRE(cf_archive_open(&ro, arch, CF_KS_RDONLY) == 0);
	REQUIRE(cf_session_unlock(ro, "admin", PW("pw admin"), &ros) == 0);
	REQUIRE(cf_chats_list(ro, ros, &l) == 0 && l.n == 2);
	sel[0] = &l.v[0];
	REQUIRE(cf_path(out, sizeof out, "%s/unaudited", tmp) == 0);
	CHECK(cf_export(ro, ros, sel, 1, out, &o, &st) < 0);
	CHECK(access(out, F_OK) != 0);
	cf_chats_free(&l);
	cf_session_free(ros);
	cf_archive_close(ro);
	cf_log_quiet(0);
}

struct audit_count {
	int exports, ok, leaks;
	const char *title;
};

static int
audit_cb(const struct cf_audit_rec *r, void *arg)
{
	struct audit_count *c = arg;

	if (strcmp(r->action, "export") != 0)
		return 0;
	c->exports++;
	c->ok += strcmp(r->result, CF_AUDIT_OK) == 0;
	c->leaks += strstr(r->detail, "Harbour") != NULL || strstr(r->object, "Harbour") != NULL;
	return 0;
}

static void
test_audit(struct fixture *fx, int want)
{
	struct audit_count c = { 0 };

	CHECK_RC(cf_audit_foreach(cf_archive_ks(fx->a), 1, audit_cb, &c), 0);
	CHECK(c.exports == want);
	CHECK(c.ok == want);
	CHECK(c.leaks == 0);
}

int
main(void)
{
	const char *src = getenv("COFFER_SRCDIR");
	const char *base = getenv("TMPDIR");
	char cwd[PATH_MAX], out[PATH_MAX];
	struct fixture fx;
	struct stat st;

	REQUIRE(cf_crypto_init() == 0);
	if (src == NULL || *src == '\0')
		src = getenv("COFFER_TOP");
	REQUIRE(cf_path(fixdir, sizeof fixdir, "%s/tests/fixtures/export",
	    src != NULL && *src != '\0' ? src : ".") == 0);
	if (stat(fixdir, &st) != 0) {
		fprintf(stderr, "test_export: %s: fixtures not found (run from the source tree "
		    "or set COFFER_SRCDIR)\n", fixdir);
		return 1;
	}
	REQUIRE(getcwd(cwd, sizeof cwd) != NULL);
	if (fixdir[0] != '/') {
		char rel[PATH_MAX];

		snprintf(rel, sizeof rel, "%s", fixdir);
		REQUIRE(cf_path(fixdir, sizeof fixdir, "%s/%s", cwd, rel) == 0);
	}
	REQUIRE(cf_path(tmp, sizeof tmp, "%s/coffer-test-export.XXXXXX",
	    base != NULL && *base != '\0' ? base : "/tmp") == 0);
	REQUIRE(mkdtemp(tmp) != NULL);
	REQUIRE(cf_path(arch, sizeof arch, "%s/archive", tmp) == 0);

	test_bounds();
	test_times();
	test_mime();

	fixture_open(&fx);
	test_rsmf(&fx);                 /* 2 conversations, then 1 */
	test_eml(&fx);                  /* 2 */
	test_jsonl(&fx);                /* 2 */
	REQUIRE(cf_path(out, sizeof out, "%s/rsmf", tmp) == 0);
	test_manifest(out);
	REQUIRE(cf_path(out, sizeof out, "%s/jsonl", tmp) == 0);
	test_manifest(out);
	test_range(&fx);                /* 3 */
	test_refusals(&fx);             /* 1 (the empty folder) */
	test_audit(&fx, 2 + 1 + 2 + 2 + 3 + 1);
	fixture_close(&fx);

	rm_rf(tmp);
	return CHECK_DONE("test_export");
}
