/*
 * import_whatsapp.c - the WhatsApp "Export chat" importer (format notes in
 * import.h and docs/IMPORT-whatsapp.md).
 *
 * Input: the exported .txt alone, a folder holding the .txt and its media,
 * or the .zip WhatsApp writes (_chat.txt or "WhatsApp Chat with X.txt" plus
 * media; __MACOSX/ members ignored).  The text is read twice, streamed line
 * by line: the first pass checks every header line and decides, for the
 * whole file, whether dates are day/month or month/day (a first field above
 * 12 means day first, a second field above 12 month first, otherwise a
 * documented guess that is recorded in the affected messages); the second
 * pass builds the messages.  A line that parses as a header starts a
 * message, any other line continues the current one.  Header parsing reads
 * through the bidirectional marks, Arabic-Indic digits, the Arabic comma and
 * the no-break spaces that locales put in the date, but every stored text
 * (body, source_text, ts_raw) is the original bytes.
 *
 * Attachments referenced by name are linked to the file in the zip or the
 * folder (a missing one is an error there, because the export promises it)
 * or next to a lone .txt (a missing one is then only recorded).  Zip
 * members are extracted, only when referenced, into a private 0700 folder
 * registered with cf_import_tempdir_add(); the caller removes it.
 *
 * Plaintext handling: line, body and JSON buffers are wiped before they are
 * freed; jansson's own scratch memory and libzip's inflate buffers are not.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <zip.h>

#include "crypto.h"
#include "import.h"
#include "util.h"

#define WA_DETECT_BYTES 4096            /* bytes detect() reads of a .txt */
#define WA_DETECT_ENTRIES 4096          /* folder entries detect() looks at */
#define WA_FLUSH_EVERY 5000             /* messages between flush checks */
#define WA_WHY_MAX (PATH_MAX + 160)
#define WA_IO_CHUNK 65536
#define WA_YEAR_MIN 1970
#define WA_YEAR_MAX 2999

enum wa_mode { WA_TXT, WA_DIR, WA_ZIP };
enum wa_order { ORDER_NONE, ORDER_DMY, ORDER_MDY };

/* A growing text buffer, wiped whenever its memory is given back. */
struct wa_buf {
	char *p;
	size_t len, cap;
};

/* One header line: "[3/18/22, 14:56:01] " or "18/03/2022, 14:56 - ". */
struct wa_hdr {
	int f1, f2, f3;                 /* date fields in written order */
	int d1, d2, d3;                 /* their digit counts */
	int era;                        /* 0, 'B' (Buddhist), 'R', 'H', 'S' (Japanese) */
	int hour, min, sec, has_sec;
	int ampm;                       /* 0, 'A' or 'P' */
	int bracket;                    /* iOS "[...]" form */
	char sep;                       /* date separator */
	size_t raw_off, raw_len;        /* the date-time text, for ts_raw */
	size_t text_off;                /* first byte after the header */
};

/* Counts of earlier (ts, sender, body) triples, for "dup". */
struct wa_seen {
	uint8_t key[16];
	uint32_t count;
	uint8_t used;
};

/* The message being built in the second pass. */
struct wa_msg {
	int active;
	unsigned long line;             /* of the header */
	struct wa_hdr h;
	char *author;                   /* bidi controls removed; NULL: none */
	int text_marked;                /* text starts with U+200E / U+200F */
	struct wa_buf body, src;
	size_t blank;                   /* empty lines not yet appended */
};

struct wa_ctx {
	const char *path;               /* as the user named it */
	enum wa_mode mode;
	char *text_name;                /* the chat file, for messages */
	char *dir;                      /* WA_TXT / WA_DIR: folder of the media */
	zip_t *zip;                     /* WA_ZIP */
	zip_int64_t chat_index;
	char *zip_prefix;               /* folder of the chat member, "" or "x/" */
	char **extracted;               /* per member: temp file, or NULL */
	zip_uint64_t nentries;
	char *tempdir;
	char *chat_id;
	const char *zone;
	struct cf_batch *b;
	const struct cf_import_opts *o;
	/* from the first pass */
	enum wa_order order;
	int guessed;
	char *chat_name;                /* author of the first, iOS-style line */
	/* second pass */
	struct wa_seen *seen;
	size_t nseen, capseen;
	unsigned long nmsg;
	char *why;
};

/* ---- small text helpers ------------------------------------------------ */

static int
buf_add(struct wa_buf *b, const char *s, size_t n)
{
	size_t cap;
	char *np;

	if (b->cap - b->len < n + 1) {
		cap = b->cap != 0 ? b->cap : 256;
		while (cap - b->len < n + 1) {
			if (cap > SIZE_MAX / 2)
				return -ENOMEM;
			cap *= 2;
		}
		/* not realloc: the old block is wiped before it is freed */
		if ((np = malloc(cap)) == NULL)
			return -ENOMEM;
		if (b->len > 0)
			memcpy(np, b->p, b->len);
		if (b->p != NULL) {
			cf_wipe(b->p, b->cap);
			free(b->p);
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static void
buf_reset(struct wa_buf *b)
{
	if (b->p != NULL) {
		cf_wipe(b->p, b->len);
		b->p[0] = '\0';
	}
	b->len = 0;
}

static void
buf_free(struct wa_buf *b)
{
	if (b->p != NULL) {
		cf_wipe(b->p, b->cap);
		free(b->p);
	}
	memset(b, 0, sizeof *b);
}

static int
has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static const char *
base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

/* Strict UTF-8 without NUL bytes. */
static int
utf8_valid(const char *s, size_t n)
{
	return memchr(s, '\0', n) == NULL && cf_utf8_valid(s, n);
}

/* The code point at s[*i] (valid UTF-8 assumed; a stray byte reads as
 * U+FFFD), advancing *i.  0 at the end. */
static uint32_t
utf8_get(const char *s, size_t n, size_t *i)
{
	const unsigned char *u = (const unsigned char *)s + *i;
	size_t left = n - *i, len, k;
	uint32_t c;

	if (*i >= n)
		return 0;
	if (u[0] < 0x80) {
		(*i)++;
		return u[0];
	}
	if ((u[0] & 0xe0) == 0xc0) {
		len = 2;
		c = u[0] & 0x1fu;
	} else if ((u[0] & 0xf0) == 0xe0) {
		len = 3;
		c = u[0] & 0x0fu;
	} else if ((u[0] & 0xf8) == 0xf0) {
		len = 4;
		c = u[0] & 0x07u;
	} else {
		(*i)++;
		return 0xfffd;
	}
	if (left < len) {
		(*i)++;
		return 0xfffd;
	}
	for (k = 1; k < len; k++) {
		if ((u[k] & 0xc0) != 0x80) {
			(*i)++;
			return 0xfffd;
		}
		c = (c << 6) | (u[k] & 0x3fu);
	}
	*i += len;
	return c;
}

/* Bidirectional controls WhatsApp sprinkles into exports. */
static int
is_mark(uint32_t c)
{
	return c == 0x200e || c == 0x200f || (c >= 0x202a && c <= 0x202e) ||
	    (c >= 0x2066 && c <= 0x2069);
}

/* Does s[0..n) start with a directional mark (U+200E, U+200F)? */
static int
starts_marked(const char *s, size_t n)
{
	size_t i = 0;
	uint32_t c = utf8_get(s, n, &i);

	return c == 0x200e || c == 0x200f;
}

/* s[0..n) without bidi controls and without surrounding ASCII blanks;
 * malloc'd, NUL-terminated. */
static char *
clean_text(const char *s, size_t n)
{
	size_t i = 0, o = 0, st, a;
	char *out = malloc(n + 1);
	uint32_t c;

	if (out == NULL)
		return NULL;
	while (i < n) {
		st = i;
		c = utf8_get(s, n, &i);
		if (!is_mark(c)) {
			memcpy(out + o, s + st, i - st);
			o += i - st;
		}
	}
	while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t'))
		o--;
	out[o] = '\0';
	for (a = 0; out[a] == ' ' || out[a] == '\t'; a++)
		;
	if (a > 0)
		memmove(out, out + a, o - a + 1);
	return out;
}

/* A name the mounted view can show as a file. */
static int
plain_file_name(const char *s)
{
	return *s != '\0' && strchr(s, '/') == NULL && strcmp(s, ".") != 0 &&
	    strcmp(s, "..") != 0 && strlen(s) <= NAME_MAX;
}

/* ---- header grammar ---------------------------------------------------- */

/* A cursor that reads a header through its decorations: bidi controls are
 * skipped, Arabic-Indic digits read as ASCII digits, no-break spaces as a
 * space and the Arabic comma as a comma. */
struct hcur {
	const char *s;
	size_t n, i;
};

static uint32_t
hc_get(struct hcur *c)
{
	uint32_t ch;

	do {
		if (c->i >= c->n)
			return 0;
		ch = utf8_get(c->s, c->n, &c->i);
	} while (is_mark(ch));
	if (ch >= 0x660 && ch <= 0x669)
		return '0' + (ch - 0x660);
	if (ch >= 0x6f0 && ch <= 0x6f9)
		return '0' + (ch - 0x6f0);
	if (ch == 0xa0 || ch == 0x202f || ch == 0x2009)
		return ' ';
	if (ch == 0x60c)
		return ',';
	return ch;
}

static uint32_t
hc_peek(const struct hcur *c)
{
	struct hcur t = *c;

	return hc_get(&t);
}

/* 1..maxd digits; returns their count, 0 (cursor unmoved) when there are
 * none or more than maxd. */
static int
hc_num(struct hcur *c, int maxd, int *val)
{
	struct hcur t = *c, u;
	int d = 0, v = 0;
	uint32_t ch;

	for (;;) {
		u = t;
		ch = hc_get(&u);
		if (ch < '0' || ch > '9')
			break;
		if (d == maxd)
			return 0;
		v = v * 10 + (int)(ch - '0');
		d++;
		t = u;
	}
	if (d == 0)
		return 0;
	*c = t;
	*val = v;
	return d;
}

/* ASCII literal, case-insensitive. */
static int
hc_lit(struct hcur *c, const char *lit)
{
	struct hcur t = *c;
	uint32_t ch;

	for (; *lit != '\0'; lit++) {
		ch = hc_get(&t);
		if (ch == 0 || ch >= 0x80 ||
		    tolower((int)ch) != tolower((unsigned char)*lit))
			return 0;
	}
	*c = t;
	return 1;
}

static int
hc_spaces(struct hcur *c)
{
	int k = 0;

	while (hc_peek(c) == ' ') {
		(void)hc_get(c);
		k++;
	}
	return k;
}

/* d/m/y, m/d/y, y/m/d with "/", "." or "-"; "2565 BE"; "R4", "H31", "S64". */
static int
hdr_date(struct hcur *c, struct wa_hdr *h)
{
	struct hcur t;
	uint32_t ch, sep;

	h->era = 0;
	if ((h->d1 = hc_num(c, 4, &h->f1)) == 0 || h->d1 == 3)
		return 0;
	sep = hc_get(c);
	if (sep != '/' && sep != '.' && sep != '-')
		return 0;
	h->sep = (char)sep;
	if (hc_peek(c) == ' ')
		(void)hc_get(c);
	if ((h->d2 = hc_num(c, 2, &h->f2)) == 0 || hc_get(c) != sep)
		return 0;
	if (hc_peek(c) == ' ')
		(void)hc_get(c);
	if (h->d1 == 4) {
		if ((h->d3 = hc_num(c, 2, &h->f3)) == 0)
			return 0;
	} else {
		ch = hc_peek(c);
		if (ch == 'R' || ch == 'H' || ch == 'S') {
			(void)hc_get(c);
			h->era = (int)ch;
			if ((h->d3 = hc_num(c, 2, &h->f3)) == 0)
				return 0;
		} else {
			h->d3 = hc_num(c, 4, &h->f3);
			if (h->d3 != 2 && h->d3 != 4)
				return 0;
			t = *c;
			if (h->d3 == 4 && hc_get(&t) == ' ' && hc_lit(&t, "BE")) {
				ch = hc_peek(&t);
				if (ch == 0 || ch == ' ' || ch == ',' || ch == ']') {
					*c = t;
					h->era = 'B';
				}
			}
		}
	}
	/* "13. 6. 2018." */
	t = *c;
	if (hc_get(&t) == '.') {
		ch = hc_peek(&t);
		if (ch == ' ' || ch == ',')
			*c = t;
	}
	return 1;
}

static int
ampm_end(const struct hcur *c)
{
	uint32_t ch = hc_peek(c);

	return ch == 0 || ch == ' ' || ch == ']' || ch == ',';
}

/* "AM", "p.m.", "a. m." (any case), Arabic ص / م. */
static int
hdr_ampm(struct hcur *c, int *ampm)
{
	static const struct {
		const char *lit;
		int v;
	} m[] = {
		{ "a. m.", 'A' }, { "p. m.", 'P' }, { "a.m.", 'A' }, { "p.m.", 'P' },
		{ "am", 'A' }, { "pm", 'P' },
	};
	struct hcur t;
	uint32_t ch;
	size_t k;

	for (k = 0; k < sizeof m / sizeof m[0]; k++) {
		t = *c;
		if (hc_lit(&t, m[k].lit) && ampm_end(&t)) {
			*c = t;
			*ampm = m[k].v;
			return 1;
		}
	}
	t = *c;
	ch = hc_get(&t);
	if ((ch == 0x635 || ch == 0x645) && ampm_end(&t)) {
		*c = t;
		*ampm = ch == 0x635 ? 'A' : 'P';
		return 1;
	}
	return 0;
}

/* H:mm[:ss], "." also as separator, an optional trailing dot, then an
 * optional 12-hour marker after optional spaces. */
static int
hdr_time(struct hcur *c, struct wa_hdr *h)
{
	struct hcur t;
	uint32_t sep, ch;

	if (hc_num(c, 2, &h->hour) == 0)
		return 0;
	sep = hc_get(c);
	if ((sep != ':' && sep != '.') || hc_num(c, 2, &h->min) != 2)
		return 0;
	h->sec = 0;
	h->has_sec = 0;
	t = *c;
	if (hc_get(&t) == sep && hc_num(&t, 2, &h->sec) == 2) {
		*c = t;
		h->has_sec = 1;
	}
	t = *c;
	if (hc_get(&t) == '.') {
		ch = hc_peek(&t);
		if (ch == ' ' || ch == ']')
			*c = t;
	}
	h->ampm = 0;
	t = *c;
	(void)hc_spaces(&t);
	if (hdr_ampm(&t, &h->ampm))
		*c = t;
	return 1;
}

/* Between date and time: an optional comma, spaces, optional "à"/"klo". */
static int
hdr_between(struct hcur *c)
{
	struct hcur t;

	if (hc_peek(c) == ',')
		(void)hc_get(c);
	if (hc_spaces(c) == 0)
		return 0;
	t = *c;
	if (hc_get(&t) == 0xe0 && hc_get(&t) == ' ')
		*c = t;
	t = *c;
	if (hc_lit(&t, "klo "))
		*c = t;
	return 1;
}

/* The calendar year of a year-last date. */
static int
hdr_year(const struct wa_hdr *h)
{
	switch (h->era) {
	case 'B':
		return h->f3 - 543;
	case 'R':
		return 2018 + h->f3;
	case 'H':
		return 1988 + h->f3;
	case 'S':
		return 1925 + h->f3;
	default:
		return h->d3 == 2 ? 2000 + h->f3 : h->f3;
	}
}

/*
 * Parse a header at the start of s[0..n).  Returns 1 with *h filled, 0 when
 * the line is not a header (a continuation line), -EINVAL when it is one
 * but its date or time cannot be (reason in why).
 */
static int
hdr_parse(const char *s, size_t n, struct wa_hdr *h, char *why, size_t whylen)
{
	struct hcur c = { s, n, 0 }, save;
	size_t j;
	int year;

	memset(h, 0, sizeof *h);
	while (c.i < n) {
		j = c.i;
		if (!is_mark(utf8_get(s, n, &j)))
			break;
		c.i = j;
	}
	if (hc_peek(&c) == '[') {
		(void)hc_get(&c);
		h->bracket = 1;
		h->raw_off = c.i;
		save = c;
		if (!(hdr_date(&c, h) && hdr_between(&c) && hdr_time(&c, h))) {
			c = save;
			if (!(hdr_time(&c, h) && hc_get(&c) == ',' && hc_spaces(&c) > 0 &&
			    hdr_date(&c, h)))
				return 0;
		}
		h->raw_len = c.i - h->raw_off;
		(void)hc_spaces(&c);
		if (hc_get(&c) != ']')
			return 0;
		if (c.i < n && hc_get(&c) != ' ')
			return 0;
	} else {
		h->raw_off = c.i;
		if (!(hdr_date(&c, h) && hdr_between(&c) && hdr_time(&c, h)))
			return 0;
		h->raw_len = c.i - h->raw_off;
		if (hc_get(&c) != ' ' || hc_get(&c) != '-')
			return 0;
		if (c.i < n && hc_get(&c) != ' ')
			return 0;
	}
	h->text_off = c.i;

	if (h->min > 59 || h->sec > 59 || (h->ampm != 0 ? h->hour > 12 : h->hour > 23)) {
		snprintf(why, whylen, "invalid time");
		return -EINVAL;
	}
	if (h->d1 == 4) {
		year = h->f1;
		if (h->f2 < 1 || h->f2 > 12 || h->f3 < 1 || h->f3 > 31)
			goto bad_date;
	} else {
		year = hdr_year(h);
		if (h->f1 < 1 || h->f2 < 1 || h->f1 > 31 || h->f2 > 31 ||
		    (h->f1 > 12 && h->f2 > 12) || (h->era != 0 && h->era != 'B' && h->f3 < 1))
			goto bad_date;
	}
	if (year < WA_YEAR_MIN || year > WA_YEAR_MAX)
		goto bad_date;
	return 1;
bad_date:
	snprintf(why, whylen, "invalid date");
	return -EINVAL;
}

/* ---- the text after the header --------------------------------------- */

/*
 * Split "Author: text".  The author ends at the first ": "; failing that,
 * at a ':' that ends the line or is followed by punctuation ("Name:.").
 * A candidate holding a quotation mark is a system line quoting a group
 * subject, not an author.  Returns 1 with the author's length and the
 * text's offset, 0 when there is no author.
 */
static int
split_author(const char *t, size_t n, size_t *alen, size_t *toff)
{
	const char *p = memmem(t, n, ": ", 2);
	size_t k;

	if (p != NULL) {
		k = (size_t)(p - t);
		*toff = k + 2;
	} else {
		p = memchr(t, ':', n);
		if (p == NULL)
			return 0;
		k = (size_t)(p - t);
		if (k + 1 < n && !(ispunct((unsigned char)t[k + 1]) && t[k + 1] != '/'))
			return 0;
		*toff = k + 1;
	}
	if (k == 0 || memchr(t, '"', k) != NULL || memmem(t, k, "\xe2\x80\x9c", 3) != NULL ||
	    memmem(t, k, "\xe2\x80\x9d", 3) != NULL)
		return 0;
	*alen = k;
	return 1;
}

/* ---- phrase tables (as the corpus and WhatsApp's strings show them) ---- */

/* Whole-body deletion notices, compared without a final "." or "。". */
static const char *const deleted_phrases[] = {
	"This message was deleted", "You deleted this message",
	"Tato zpráva byla odstraněna", "Tuto zprávu jste odstranil/a",
	"Tato zpráva byla smazána", "Tuto zprávu jste smazal/a",
	"Данное сообщение удалено", "Вы удалили данное сообщение",
	"Dit bericht is verwijderd", "U hebt dit bericht verwijderd",
	"Diese Nachricht wurde gelöscht", "Du hast diese Nachricht gelöscht",
	"Ce message a été supprimé", "Vous avez supprimé ce message",
	"यह मैसेज डिलीट कर दिया गया है", "आपने यह मैसेज डिलीट किया",
	"Pesan ini dihapus", "Anda menghapus pesan ini",
	"Questo messaggio è stato eliminato", "Hai eliminato questo messaggio",
	"このメッセージは削除されました", "このメッセージを削除しました",
	"Esta mensagem foi apagada", "Apagou esta mensagem",
	"Se eliminó este mensaje", "Eliminaste este mensaje",
	"ข้อความนี้ถูกลบแล้ว", "คุณได้ลบข้อความนี้",
	"Це повідомлення було видалено", "Ви видалили це повідомлення",
	"Tin nhắn này đã bị xóa", "Bạn đã xoá tin nhắn này",
	"تم حذف هذه الرسالة", "أنت حذفت هذه الرسالة", "لقد حذَفت هذه الرسالة",
	NULL,
};

/* Android: the whole line when media were not exported. */
static const char *const media_omitted[] = {
	"<Media omitted>", "<Medien ausgeschlossen>", "<Média vynechány>",
	"<Без медиафайлов>", "<Media weggelaten>", "<Multimedia omitido>",
	"<Médias omis>", "<Media omessi>", "<Mídia oculta>", "<Arquivo de mídia oculto>",
	NULL,
};

/* iOS: "‎image omitted" and friends, after the last directional mark. */
static const struct {
	const char *text, *type;
} ios_omitted[] = {
	{ "image omitted", "image" }, { "video omitted", "video" },
	{ "audio omitted", "audio" }, { "sticker omitted", "sticker" },
	{ "GIF omitted", "gif" }, { "Contact card omitted", "contact" },
	{ "document omitted", "document" },
	{ "obrázek vynechán", "image" }, { "video vynecháno", "video" },
	{ "zvukový soubor vynechán", "audio" }, { "nálepka vynechána", "sticker" },
	{ "GIF vynechán", "gif" }, { "Vizitka vynechána", "contact" },
	{ "dokument vynechán", "document" },
	{ "Bild weggelassen", "image" }, { "Video weggelassen", "video" },
	{ "Audio weggelassen", "audio" }, { "Sticker weggelassen", "sticker" },
	{ "GIF weggelassen", "gif" }, { "Kontaktkarte ausgelassen", "contact" },
	{ "Dokument weggelassen", "document" },
	{ "image absente", "image" }, { "vidéo absente", "video" },
	{ "audio omis", "audio" }, { "sticker omis", "sticker" },
	{ "GIF retiré", "gif" }, { "Fiche contact manquante", "contact" },
	{ "document manquant", "document" },
	{ "फ़ोटो हटाई गई", "image" }, { "वीडियो छोड़ा गया", "video" },
	{ "ऑडियो हटाई गयी", "audio" }, { "स्टिकर छोड़ा गया", "sticker" },
	{ "GIF छोड़ा गया", "gif" }, { "कॉन्टैक्ट कार्ड छोड़ा गया", "contact" },
	{ "डॉक्यूमेंट छोड़ा गया", "document" },
	{ "gambar tidak disertakan", "image" }, { "video tidak disertakan", "video" },
	{ "audio tidak disertakan", "audio" }, { "stiker tidak disertakan", "sticker" },
	{ "GIF tidak disertakan", "gif" }, { "Kartu kontak tidak disertakan", "contact" },
	{ "dokumen tidak disertakan", "document" },
	{ "immagine omessa", "image" }, { "video omesso", "video" },
	{ "audio omesso", "audio" }, { "sticker non incluso", "sticker" },
	{ "GIF esclusa", "gif" }, { "Scheda contatto omessa", "contact" },
	{ "documento omesso", "document" },
	{ "画像は含まれていません", "image" }, { "ビデオは含まれていません", "video" },
	{ "音声は含まれていません", "audio" }, { "スタンプは含まれていません", "sticker" },
	{ "GIFは含まれていません", "gif" }, { "連絡先カードを省略", "contact" },
	{ "ドキュメントは含まれていません", "document" },
	{ "imagem não revelada", "image" }, { "vídeo não revelado", "video" },
	{ "ficheiro de áudio não revelado", "audio" }, { "sticker não revelado", "sticker" },
	{ "GIF não revelada", "gif" }, { "Contacto não revelado", "contact" },
	{ "documento não revelado", "document" },
	{ "изображение отсутствует", "image" }, { "видео отсутствует", "video" },
	{ "аудиофайл отсутствует", "audio" }, { "стикер не добавлен", "sticker" },
	{ "GIF отсутствует", "gif" }, { "Карточка контакта отсутствует", "contact" },
	{ "документ отсутствует", "document" },
	{ "imagen omitida", "image" }, { "Video omitido", "video" },
	{ "audio omitido", "audio" }, { "sticker omitido", "sticker" },
	{ "GIF omitido", "gif" }, { "Tarjeta de contacto omitida", "contact" },
	{ "documento omitido", "document" },
	{ "ไม่มีรูปภาพ", "image" }, { "วิดีโอถูกลบ", "video" },
	{ "ไม่มีไฟล์เสียง", "audio" }, { "ไม่มีสติกเกอร์", "sticker" },
	{ "ละเว้น GIF", "gif" }, { "บัตรรายชื่อที่ละเว้น", "contact" },
	{ "ละเว้นเอกสาร", "document" },
	{ "зображення відсутнє", "image" }, { "відео відсутнє", "video" },
	{ "аудіо відсутнє", "audio" }, { "Наклейку не додано", "sticker" },
	{ "GIF-анімацію пропущено", "gif" }, { "Картка контакту відсутня", "contact" },
	{ "документ пропущено", "document" },
	{ "đã bỏ qua hình ảnh", "image" }, { "đã bỏ video", "video" },
	{ "bỏ qua tệp âm thanh", "audio" }, { "đã bỏ sticker", "sticker" },
	{ "Đã bỏ qua ảnh GIF", "gif" }, { "Bỏ qua thẻ liên lạc", "contact" },
	{ "đã bỏ qua tài liệu", "document" },
	{ "لم يتم إدراج الصورة", "image" }, { "لم يتم إدراج الفيديوهات", "video" },
	{ "لم يتم إدراج المقاطع الصوتية", "audio" }, { "تم حذف الملصقات", "sticker" },
	{ "لم يتم إدراج صورة GIF", "gif" }, { "لم يتم إدراج بطاقة جهة اتصال", "contact" },
	{ "لم يتم إدراج المستند", "document" },
	{ NULL, NULL },
};

/* Android: "NAME (file attached)". */
static const char *const file_attached[] = {
	"(file attached)", "(Datei angehängt)", "(soubor byl přiložen)", "(файл добавлен)",
	"(bestand bijgevoegd)", "(archivo adjunto)", "(fichier joint)", "(file allegato)",
	"(arquivo anexado)",
	NULL,
};

/* iOS: "<attached: NAME>". */
static const char *const attached_labels[] = {
	"attached", "adjunto", "Anhang", NULL,
};

/* Suffix WhatsApp adds to an edited message (2023+). */
static const char *const edited_markers[] = {
	"<This message was edited>", "<Diese Nachricht wurde bearbeitet>",
	"<Dieses Nachricht wurde bearbeitet>", "<Se editó este mensaje.>",
	"<Ce message a été modifié>", "<Questo messaggio è stato modificato>",
	"<Mensagem editada>", "<Dit bericht is bewerkt>", "<Сообщение изменено>",
	NULL,
};

static const char *const call_phrases[] = {
	"Missed voice call", "Missed video call", "Missed group voice call",
	"Missed group video call", "Zmeškaný hovor", "Zmeškaný videohovor",
	"Пропущенный аудиозвонок", "Пропущенный видеозвонок", "Gemiste spraakoproep",
	"Gemiste video-oproep", "Verpasster Sprachanruf", "Verpasster Videoanruf",
	NULL,
};

static int
in_table(const char *s, const char *const *t)
{
	for (; *t != NULL; t++)
		if (strcasecmp(s, *t) == 0)
			return 1;
	return 0;
}

/* ---- errors -------------------------------------------------------------- */

static int
oom(const struct wa_ctx *x)
{
	cf_error("%s: %s", x->text_name != NULL ? x->text_name : x->path, strerror(ENOMEM));
	return -ENOMEM;
}

/* ---- reading the chat text --------------------------------------------- */

/* libzip member as a stdio stream (fopencookie), so both passes use getline. */
static ssize_t
zcookie_read(void *cookie, char *buf, size_t size)
{
	zip_int64_t n = zip_fread(cookie, buf, size);

	return n < 0 ? -1 : (ssize_t)n;
}

static int
zcookie_close(void *cookie)
{
	return zip_fclose(cookie) == 0 ? 0 : -1;
}

/* Open the chat text for one pass. */
static int
text_open(struct wa_ctx *x, FILE **out, char *iobuf)
{
	cookie_io_functions_t io = { zcookie_read, NULL, NULL, zcookie_close };
	zip_file_t *zf;
	struct stat st;
	FILE *f;
	int fd, rc;

	*out = NULL;
	if (x->mode == WA_ZIP) {
		zf = zip_fopen_index(x->zip, (zip_uint64_t)x->chat_index, 0);
		if (zf == NULL) {
			cf_error("%s: %s", x->text_name, zip_strerror(x->zip));
			return -EINVAL;
		}
		if ((f = fopencookie(zf, "r", io)) == NULL) {
			(void)zip_fclose(zf);
			return oom(x);
		}
	} else {
		fd = open(x->text_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			rc = -errno;
			cf_error("%s: %s", x->text_name,
			    rc == -ELOOP ? "is a symbolic link" : strerror(-rc));
			return rc;
		}
		if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
			(void)close(fd);
			cf_error("%s: not a regular file", x->text_name);
			return -EINVAL;
		}
		if ((f = fdopen(fd, "r")) == NULL) {
			rc = -errno;
			(void)close(fd);
			cf_error("%s: %s", x->text_name, strerror(-rc));
			return rc;
		}
	}
	/* our own stdio buffer, so that it can be wiped */
	if (setvbuf(f, iobuf, _IOFBF, WA_IO_CHUNK) != 0) {
		(void)fclose(f);
		return oom(x);
	}
	*out = f;
	return 0;
}

/*
 * Next line without its line ending ("\n", "\r\n"; a UTF-8 byte order mark
 * is dropped from line 1).  Returns 1, 0 at the end, or -errno (reported).
 */
static int
text_line(struct wa_ctx *x, FILE *f, char **line, size_t *cap, unsigned long *lineno,
    char **s, size_t *n)
{
	ssize_t got;
	size_t len;
	char *p;

	errno = 0;
	got = getline(line, cap, f);
	if (got < 0) {
		if (ferror(f)) {
			cf_error("%s: read error%s%s", x->text_name,
			    x->mode == WA_ZIP ? ": " : "",
			    x->mode == WA_ZIP ? zip_strerror(x->zip) : "");
			return errno != 0 ? -errno : -EIO;
		}
		return 0;
	}
	(*lineno)++;
	p = *line;
	len = (size_t)got;
	if (len > 0 && p[len - 1] == '\n')
		len--;
	if (len > 0 && p[len - 1] == '\r')
		len--;
	if (*lineno == 1 && len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
		p += 3;
		len -= 3;
	}
	if (!utf8_valid(p, len)) {
		cf_error("%s:%lu: not valid UTF-8 text", x->text_name, *lineno);
		return -EINVAL;
	}
	*s = p;
	*n = len;
	return 1;
}

/* ---- first pass: check headers, decide the date order, find the chat name */

static int
is_blank_line(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return 0;
	return 1;
}

static int
scan(struct wa_ctx *x, FILE *f)
{
	struct wa_hdr h;
	unsigned long lineno = 0, dmy_line = 0, mdy_line = 0, nhdr = 0;
	size_t cap = 0, alen, toff;
	char *line = NULL, *s, *clean;
	size_t n;
	int rc, hint = ORDER_DMY;

	for (;;) {
		if ((rc = text_line(x, f, &line, &cap, &lineno, &s, &n)) <= 0)
			break;
		rc = hdr_parse(s, n, &h, x->why, WA_WHY_MAX);
		if (rc < 0) {
			cf_error("%s:%lu: %s", x->text_name, lineno, x->why);
			goto out;
		}
		if (rc == 0) {
			if (nhdr == 0 && !is_blank_line(s, n)) {
				cf_error("%s:%lu: not a WhatsApp message header", x->text_name,
				    lineno);
				rc = -EINVAL;
				goto out;
			}
			cf_wipe(s, n);
			continue;
		}
		if (nhdr++ == 0) {
			/* the hint for undecided files comes from the first header */
			if (h.d1 != 4 && (h.era != 0 || (h.sep == '/' && h.d3 == 2)))
				hint = ORDER_MDY;
			/* iOS names the chat as the author of the first line */
			if (split_author(s + h.text_off, n - h.text_off, &alen, &toff)) {
				clean = clean_text(s + h.text_off + toff, n - h.text_off - toff);
				if (clean == NULL) {
					rc = oom(x);
					goto out;
				}
				if (starts_marked(s + h.text_off + toff, n - h.text_off - toff) ||
				    strcasestr(clean, "end-to-end encrypted") != NULL) {
					x->chat_name = clean_text(s + h.text_off, alen);
					if (x->chat_name == NULL) {
						cf_free_wiped(clean);
						rc = oom(x);
						goto out;
					}
				}
				cf_free_wiped(clean);
			}
		}
		if (h.d1 != 4) {
			if (h.f1 > 12 && dmy_line == 0)
				dmy_line = lineno;
			if (h.f2 > 12 && mdy_line == 0)
				mdy_line = lineno;
			if (dmy_line != 0 && mdy_line != 0) {
				cf_error("%s:%lu: day and month order differs from line %lu",
				    x->text_name, lineno, lineno == dmy_line ? mdy_line : dmy_line);
				rc = -EINVAL;
				goto out;
			}
		}
		cf_wipe(s, n);
	}
	if (rc < 0)
		goto out;
	if (nhdr == 0) {
		cf_error("%s: no WhatsApp messages", x->text_name);
		rc = -EINVAL;
		goto out;
	}
	if (dmy_line != 0) {
		x->order = ORDER_DMY;
	} else if (mdy_line != 0) {
		x->order = ORDER_MDY;
	} else {
		x->order = (enum wa_order)hint;
		x->guessed = 1;
	}
	rc = 0;
out:
	if (line != NULL) {
		cf_wipe(line, cap);
		free(line);
	}
	return rc;
}

/* ---- attachments ----------------------------------------------------------- */

static int
make_tempdir(struct wa_ctx *x)
{
	const char *tmp = getenv("TMPDIR");
	char path[PATH_MAX];
	int rc;

	if (x->tempdir != NULL)
		return 0;
	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	if (cf_path(path, sizeof path, "%s/coffer-whatsapp.XXXXXX", tmp) < 0) {
		cf_error("%s: %s", tmp, strerror(ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	if (mkdtemp(path) == NULL) {
		rc = -errno;
		cf_error("%s: cannot create a temporary folder: %s", tmp, strerror(-rc));
		return rc;
	}
	if ((rc = cf_import_tempdir_add(path)) < 0) {
		(void)rmdir(path);
		return rc;
	}
	if ((x->tempdir = strdup(path)) == NULL)
		return oom(x);
	return 0;
}

/* Extract member idx (once) into the temp folder, 0600. */
static int
zip_extract(struct wa_ctx *x, zip_int64_t idx, const char **out, uint64_t *size)
{
	char path[PATH_MAX], *chunk = NULL;
	const char *mname = zip_get_name(x->zip, (zip_uint64_t)idx, 0);
	zip_file_t *zf = NULL;
	struct stat st;
	zip_int64_t got;
	int fd = -1, rc;

	if (x->extracted[idx] != NULL)
		goto done;
	if ((rc = make_tempdir(x)) < 0)
		return rc;
	if (cf_path(path, sizeof path, "%s/%lld", x->tempdir, (long long)idx) < 0) {
		cf_error("%s: %s", x->tempdir, strerror(ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	if ((chunk = malloc(WA_IO_CHUNK)) == NULL)
		return oom(x);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		cf_error("%s: %s", path, strerror(-rc));
		goto out;
	}
	if ((zf = zip_fopen_index(x->zip, (zip_uint64_t)idx, 0)) == NULL) {
		cf_error("%s: member %s: %s", x->path, mname != NULL ? mname : "?",
		    zip_strerror(x->zip));
		rc = -EINVAL;
		goto out;
	}
	while ((got = zip_fread(zf, chunk, WA_IO_CHUNK)) > 0) {
		if ((rc = cf_write_all(fd, chunk, (size_t)got)) < 0) {
			cf_error("%s: %s", path, strerror(-rc));
			goto out;
		}
	}
	if (got < 0) {
		cf_error("%s: member %s: %s", x->path, mname != NULL ? mname : "?",
		    zip_file_strerror(zf));
		rc = -EINVAL;
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = -errno;
		cf_error("%s: %s", path, strerror(-rc));
		goto out;
	}
	fd = -1;
	if ((x->extracted[idx] = strdup(path)) == NULL) {
		rc = oom(x);
		goto out;
	}
	rc = 0;
out:
	if (zf != NULL)
		(void)zip_fclose(zf);   /* read side: nothing to lose */
	if (fd >= 0)
		(void)close(fd);
	if (chunk != NULL) {
		cf_wipe(chunk, WA_IO_CHUNK);
		free(chunk);
	}
	if (rc < 0)
		return rc;
done:
	if (lstat(x->extracted[idx], &st) != 0) {
		rc = -errno;
		cf_error("%s: %s", x->extracted[idx], strerror(-rc));
		return rc;
	}
	*out = x->extracted[idx];
	*size = (uint64_t)st.st_size;
	return 0;
}

/*
 * Find attachment name for the message at line.  Returns 1 with *src and
 * *size set when the file is there, 0 when it is absent from a lone .txt's
 * folder (why says so), -EINVAL (reported) when the export promised it.
 */
static int
attach_find(struct wa_ctx *x, unsigned long line, const char *name, char **src,
    uint64_t *size)
{
	char full[PATH_MAX];
	const char *path = NULL;
	struct stat st;
	zip_int64_t idx;
	int rc;

	*src = NULL;
	if (x->mode == WA_ZIP) {
		if (cf_path(full, sizeof full, "%s%s", x->zip_prefix, name) < 0)
			idx = -1;
		else
			idx = zip_name_locate(x->zip, full, 0);
		if (idx < 0 || (zip_uint64_t)idx >= x->nentries) {
			cf_error("%s:%lu: attachment %s: not in the export", x->text_name, line,
			    name);
			return -EINVAL;
		}
		if ((rc = zip_extract(x, idx, &path, size)) < 0)
			return rc;
		if ((*src = strdup(path)) == NULL)
			return oom(x);
		return 1;
	}
	if (cf_path(full, sizeof full, "%s/%s", x->dir, name) < 0) {
		cf_error("%s:%lu: attachment %s: %s", x->text_name, line, name,
		    strerror(ENAMETOOLONG));
		return -EINVAL;
	}
	/* lstat: a link could point at a file the user should not archive */
	if (lstat(full, &st) != 0) {
		if (x->mode == WA_DIR) {
			cf_error("%s:%lu: attachment %s: %s", x->text_name, line, name,
			    errno == ENOENT ? "not in the export" : strerror(errno));
			return -EINVAL;
		}
		return 0;
	}
	if (!S_ISREG(st.st_mode)) {
		if (x->mode == WA_DIR) {
			cf_error("%s:%lu: attachment %s: %s", x->text_name, line, name,
			    S_ISLNK(st.st_mode) ? "is a symbolic link" : "not a regular file");
			return -EINVAL;
		}
		return 0;
	}
	*size = (uint64_t)st.st_size;
	if ((*src = strdup(full)) == NULL)
		return oom(x);
	return 1;
}

/* ---- second pass: messages --------------------------------------------- */

/* "dup": how many earlier messages had the same (ts, sender, body). */
static int
seen_count(struct wa_ctx *x, int64_t ts, const char *sender, const char *body,
    uint32_t *count)
{
	struct cf_hash_state st;
	uint8_t digest[CF_HASH_BYTES];
	struct wa_seen *ns;
	size_t i, k, cap;
	uint64_t h;
	uint8_t flag = sender != NULL;

	if (x->capseen == 0 || (x->nseen + 1) * 2 > x->capseen) {
		cap = x->capseen != 0 ? x->capseen * 2 : 1024;
		if ((ns = calloc(cap, sizeof *ns)) == NULL)
			return oom(x);
		for (i = 0; i < x->capseen; i++) {
			if (!x->seen[i].used)
				continue;
			memcpy(&h, x->seen[i].key, sizeof h);
			for (k = (size_t)(h % cap); ns[k].used; k = (k + 1) % cap)
				;
			ns[k] = x->seen[i];
		}
		free(x->seen);
		x->seen = ns;
		x->capseen = cap;
	}
	cf_hash_init(&st);
	cf_hash_update(&st, &ts, sizeof ts);
	cf_hash_update(&st, &flag, 1);
	if (sender != NULL)
		cf_hash_update(&st, sender, strlen(sender) + 1);
	cf_hash_update(&st, body, strlen(body) + 1);
	cf_hash_final(&st, digest);
	memcpy(&h, digest, sizeof h);
	for (k = (size_t)(h % x->capseen); x->seen[k].used; k = (k + 1) % x->capseen) {
		if (memcmp(x->seen[k].key, digest, sizeof x->seen[k].key) == 0) {
			*count = x->seen[k].count++;
			cf_wipe(digest, sizeof digest);
			return 0;
		}
	}
	memcpy(x->seen[k].key, digest, sizeof x->seen[k].key);
	x->seen[k].count = 1;
	x->seen[k].used = 1;
	x->nseen++;
	*count = 0;
	cf_wipe(digest, sizeof digest);
	return 0;
}

/* Compact JSON text of obj in plain malloc'd memory (freed by cf_msg_clear). */
static char *
json_text(json_t *obj)
{
	size_t n = json_dumpb(obj, NULL, 0, JSON_COMPACT | JSON_PRESERVE_ORDER);
	char *p;

	if (n == 0 || (p = malloc(n + 1)) == NULL)
		return NULL;
	if (json_dumpb(obj, p, n, JSON_COMPACT | JSON_PRESERVE_ORDER) != n) {
		free(p);
		return NULL;
	}
	p[n] = '\0';
	return p;
}

/* Remove a trailing " <This message was edited>" from b.  Returns 1 if it
 * was there. */
static int
strip_edited(struct wa_buf *b, struct wa_ctx *x, int *err)
{
	size_t end = b->len, lt, i, st;
	char *tail;
	uint32_t c;
	int hit;

	*err = 0;
	while (end > 0 && (b->p[end - 1] == ' ' || b->p[end - 1] == '\t'))
		end--;
	if (end == 0 || b->p[end - 1] != '>')
		return 0;
	for (lt = end; lt > 0 && b->p[lt - 1] != '<' && b->p[lt - 1] != '\n'; lt--)
		;
	if (lt == 0 || b->p[lt - 1] != '<')
		return 0;
	lt--;
	if ((tail = clean_text(b->p + lt, end - lt)) == NULL) {
		*err = oom(x);
		return 0;
	}
	hit = in_table(tail, edited_markers);
	cf_free_wiped(tail);
	if (!hit)
		return 0;
	/* also the blanks and marks in front of the marker */
	while (lt > 0) {
		if (b->p[lt - 1] == ' ' || b->p[lt - 1] == '\t') {
			lt--;
			continue;
		}
		st = lt - 1;
		while (st > 0 && ((unsigned char)b->p[st] & 0xc0) == 0x80)
			st--;
		i = st;
		c = utf8_get(b->p, lt, &i);
		if (i != lt || !(is_mark(c) || c == 0xa0 || c == 0x202f))
			break;
		lt = st;
	}
	cf_wipe(b->p + lt, b->len - lt);
	b->len = lt;
	b->p[lt] = '\0';
	return 1;
}

/* What the second pass learns about one message's text. */
struct wa_class {
	const char *kind;               /* NULL: a plain message */
	int system;
	char *att_name;                 /* a file the message names */
	char *miss_type;                /* a placeholder's media type */
	char *miss_name;                /* a placeholder's file name (documents) */
};

static void
class_clear(struct wa_class *k)
{
	cf_free_wiped(k->att_name);
	cf_free_wiped(k->miss_type);
	cf_free_wiped(k->miss_name);
	memset(k, 0, sizeof *k);
}

/* "NAME (file attached)" (Android) or "... <attached: NAME>" (iOS). */
static char *
attached_name(const char *clean)
{
	size_t n = strlen(clean), m, k;
	const char *const *t;
	const char *p, *q, *lt;
	char *name;

	for (t = file_attached; *t != NULL; t++) {
		m = strlen(*t);
		if (n > m + 1 && strcasecmp(clean + n - m, *t) == 0 && clean[n - m - 1] == ' ') {
			name = cf_memdup_str(clean, n - m - 1);
			return name;
		}
	}
	if (n < 3 || clean[n - 1] != '>')
		return NULL;
	/* "file.jpg <attached>" (older iOS) */
	if (n > 11 && strcasecmp(clean + n - 10, "<attached>") == 0 && clean[n - 11] == ' ')
		return cf_memdup_str(clean, n - 11);
	lt = strrchr(clean, '<');
	if (lt == NULL)
		return NULL;
	p = lt + 1;
	while (*p == ' ')
		p++;
	for (t = attached_labels; *t != NULL; t++) {
		m = strlen(*t);
		if (strncasecmp(p, *t, m) != 0 || p[m] != ':')
			continue;
		q = p + m + 1;
		while (*q == ' ')
			q++;
		k = (size_t)(clean + n - 1 - q);
		while (k > 0 && q[k - 1] == ' ')
			k--;
		return cf_memdup_str(q, k);
	}
	return NULL;
}

/* Trim ASCII blanks in place. */
static void
trim(char *s)
{
	size_t n = strlen(s), a = 0;

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	while (s[a] == ' ' || s[a] == '\t')
		a++;
	if (a > 0)
		memmove(s, s + a, n - a + 1);
}

/* The iOS placeholder after the last directional mark of the first line. */
static int
ios_placeholder(struct wa_ctx *x, const char *line, size_t n, struct wa_class *k)
{
	size_t i = 0, last = SIZE_MAX, j;
	uint32_t c;
	char *tail, *pre, *bullet;

	while (i < n) {
		c = utf8_get(line, n, &i);
		if (c == 0x200e || c == 0x200f)
			last = i;
	}
	if (last == SIZE_MAX)
		return 0;
	if ((tail = clean_text(line + last, n - last)) == NULL)
		return oom(x);
	for (j = 0; ios_omitted[j].text != NULL; j++)
		if (strcasecmp(tail, ios_omitted[j].text) == 0)
			break;
	cf_free_wiped(tail);
	if (ios_omitted[j].text == NULL)
		return 0;
	if ((k->miss_type = strdup(ios_omitted[j].type)) == NULL)
		return oom(x);
	/* documents: "Name.pdf • ‎2 pages ‎document omitted"; the mark is
	 * three bytes long */
	if ((pre = clean_text(line, last - 3)) == NULL)
		return oom(x);
	if ((bullet = strstr(pre, " \xe2\x80\xa2 ")) != NULL)
		*bullet = '\0';
	trim(pre);
	if (*pre != '\0')
		k->miss_name = pre;
	else
		free(pre);
	return 1;
}

/* Location shares: "location: https://maps.google.com/?q=…" (any label), a
 * venue "Name (Address): https://foursquare.com/v/…" or, on Android, three
 * lines ending in the foursquare URL. */
static int
is_location(const char *clean_first, const char *body)
{
	const char *p, *nl;

	p = strstr(clean_first, ": https://maps.google.com/");
	if (p != NULL && p > clean_first && p - clean_first <= 64)
		return 1;
	p = strstr(clean_first, ": https://foursquare.com/v/");
	if (p != NULL && p > clean_first)
		return 1;
	nl = strrchr(body, '\n');
	return nl != NULL && strncmp(nl + 1, "https://foursquare.com/v/", 25) == 0 &&
	    strchr(nl + 1, ' ') == NULL;
}

static int
classify(struct wa_ctx *x, struct wa_msg *m, const char *body, struct wa_class *k)
{
	const char *nl = strchr(body, '\n');
	size_t first = nl != NULL ? (size_t)(nl - body) : strlen(body), n;
	char *cfirst = NULL, *cbody = NULL;
	int rc;

	memset(k, 0, sizeof *k);
	if (m->author == NULL) {
		k->kind = "system";
		k->system = 1;
		return 0;
	}
	if ((cfirst = clean_text(body, first)) == NULL || (cbody = clean_text(body,
	    strlen(body))) == NULL) {
		rc = oom(x);
		goto out;
	}
	rc = 0;
	if (strcmp(cfirst, "POLL:") == 0 && nl != NULL) {
		k->kind = "poll";
		goto out;
	}
	n = strlen(cbody);
	if (n > 0 && cbody[n - 1] == '.')
		cbody[n - 1] = '\0';
	else if (n >= 3 && strcmp(cbody + n - 3, "\xe3\x80\x82") == 0)
		cbody[n - 3] = '\0';
	if (in_table(cbody, deleted_phrases)) {
		k->kind = "deleted";
		goto out;
	}
	if ((k->att_name = attached_name(cfirst)) != NULL) {
		trim(k->att_name);
		if (!plain_file_name(k->att_name)) {
			/* not something we can link: leave it as text */
			cf_free_wiped(k->att_name);
			k->att_name = NULL;
		} else {
			if (strncmp(k->att_name, "STK-", 4) == 0 ||
			    strstr(k->att_name, "-STICKER-") != NULL)
				k->kind = "sticker";
			else if (has_suffix(k->att_name, ".vcf"))
				k->kind = "contact";
			goto out;
		}
	}
	if (in_table(cfirst, media_omitted)) {
		if ((k->miss_type = strdup("media")) == NULL)
			rc = oom(x);
		goto out;
	}
	if ((rc = ios_placeholder(x, body, first, k)) != 0) {
		if (rc > 0) {
			rc = 0;
			if (strcmp(k->miss_type, "sticker") == 0)
				k->kind = "sticker";
			else if (strcmp(k->miss_type, "contact") == 0)
				k->kind = "contact";
		}
		goto out;
	}
	if (is_location(cfirst, body)) {
		k->kind = "location";
		goto out;
	}
	if (in_table(cbody, call_phrases)) {
		k->kind = "call";
		goto out;
	}
	/* iOS: events written as the chat's own lines */
	if (x->chat_name != NULL && strcmp(m->author, x->chat_name) == 0 &&
	    (m->text_marked || x->nmsg == 0)) {
		k->kind = "system";
		k->system = 1;
	}
out:
	cf_free_wiped(cfirst);
	cf_free_wiped(cbody);
	return rc;
}

/* "POLL:\nquestion\nOPTION: text (N votes)…" as {"question", "options"}. */
static json_t *
poll_json(const char *body)
{
	json_t *poll = json_object(), *opts = json_array(), *o;
	const char *line = strchr(body, '\n'), *end;
	size_t len;
	long votes;
	char *copy, *lp, *num;
	int have_q = 0;

	if (poll == NULL || opts == NULL)
		goto fail;
	while (line != NULL) {
		line++;
		end = strchr(line, '\n');
		len = end != NULL ? (size_t)(end - line) : strlen(line);
		if (len > 8 && strncmp(line, "OPTION: ", 8) == 0) {
			if ((copy = cf_memdup_str(line + 8, len - 8)) == NULL || (o = json_object()) == NULL) {
				cf_free_wiped(copy);
				goto fail;
			}
			votes = -1;
			lp = strrchr(copy, '(');
			if (lp != NULL && lp > copy && lp[-1] == ' ' &&
			    copy[strlen(copy) - 1] == ')') {
				votes = strtol(lp + 1, &num, 10);
				if (num == lp + 1 || (strcmp(num, " votes)") != 0 &&
				    strcmp(num, " vote)") != 0))
					votes = -1;
				else
					lp[-1] = '\0';
			}
			if (json_object_set_new(o, "text", json_string(copy)) != 0 ||
			    (votes >= 0 && json_object_set_new(o, "votes",
			    json_integer(votes)) != 0) || json_array_append_new(opts, o) != 0) {
				cf_free_wiped(copy);
				goto fail;
			}
			cf_free_wiped(copy);
		} else if (!have_q) {
			if (json_object_set_new(poll, "question", json_stringn(line, len)) != 0)
				goto fail;
			have_q = 1;
		}
		line = end;
	}
	if (json_object_set_new(poll, "options", opts) != 0) {
		opts = NULL;
		goto fail;
	}
	return poll;
fail:
	json_decref(opts);
	json_decref(poll);
	return NULL;
}

static int
set_str(json_t *obj, const char *key, const char *val)
{
	return json_object_set_new(obj, key, json_string(val)) == 0 ? 0 : -ENOMEM;
}

/* Build the cf_msg for the current message and add it to the batch. */
static int
finish(struct wa_ctx *x, struct wa_msg *m)
{
	struct cf_msg out;
	struct wa_class k;
	json_t *extra = NULL, *miss, *one, *poll;
	char ts[40], *src = NULL;
	int y, mo, d, hour, rc, edited, err, guessed = 0;
	uint32_t dup = 0;
	uint64_t size = 0;

	memset(&out, 0, sizeof out);
	memset(&k, 0, sizeof k);
	if (!m->active)
		return 0;
	m->active = 0;
	edited = strip_edited(&m->body, x, &err);
	if (err < 0)
		return err;
	if (m->body.p == NULL && (rc = buf_add(&m->body, "", 0)) < 0)
		return oom(x);

	/* time */
	if (m->h.d1 == 4) {
		y = m->h.f1;
		mo = m->h.f2;
		d = m->h.f3;
	} else {
		y = hdr_year(&m->h);
		if (x->order == ORDER_MDY) {
			mo = m->h.f1;
			d = m->h.f2;
		} else {
			d = m->h.f1;
			mo = m->h.f2;
		}
		guessed = x->guessed && m->h.f1 != m->h.f2;
	}
	hour = m->h.hour;
	if (m->h.ampm == 'A' && hour == 12)
		hour = 0;
	else if (m->h.ampm == 'P' && hour != 12)
		hour += 12;
	snprintf(ts, sizeof ts, "%04d-%02d-%02d %02d:%02d:%02d", y, mo, d, hour, m->h.min,
	    m->h.sec);
	rc = cf_parse_time(ts, x->zone, &out.ts_ms, NULL);
	if (rc < 0) {
		cf_error("%s:%lu: invalid date", x->text_name, m->line);
		rc = -EINVAL;
		goto out;
	}

	if ((rc = classify(x, m, m->body.p, &k)) < 0)
		goto out;
	if ((extra = json_object()) == NULL)
		goto nomem;
	if (k.kind != NULL) {
		if (set_str(extra, "kind", k.kind) < 0)
			goto nomem;
	} else if (edited && set_str(extra, "kind", "edited") < 0) {
		goto nomem;
	}
	if (edited && json_object_set_new(extra, "edited", json_true()) != 0)
		goto nomem;

	if (k.att_name != NULL) {
		rc = attach_find(x, m->line, k.att_name, &src, &size);
		if (rc < 0)
			goto out;
		if (rc == 1) {
			if ((out.att = calloc(1, sizeof *out.att)) == NULL)
				goto nomem;
			out.natt = 1;
			out.att[0].name = k.att_name;
			k.att_name = NULL;
			out.att[0].src_path = src;
			src = NULL;
			out.att[0].size = size;
		}
	}
	if (k.att_name != NULL || k.miss_type != NULL) {
		if ((miss = json_array()) == NULL ||
		    json_object_set_new(extra, "missing_attachments", miss) != 0 ||
		    (one = json_object()) == NULL || json_array_append_new(miss, one) != 0)
			goto nomem;
		if (k.att_name != NULL) {
			if (set_str(one, "name", k.att_name) < 0 ||
			    set_str(one, "reason", "not found next to the chat file") < 0)
				goto nomem;
		} else {
			if ((k.miss_name != NULL && set_str(one, "name", k.miss_name) < 0) ||
			    set_str(one, "type", k.miss_type) < 0 ||
			    set_str(one, "reason", "not included in export") < 0)
				goto nomem;
		}
	}
	if (k.kind != NULL && strcmp(k.kind, "poll") == 0) {
		if ((poll = poll_json(m->body.p)) == NULL ||
		    json_object_set_new(extra, "poll", poll) != 0)
			goto nomem;
	}
	if (guessed && set_str(extra, "date_guess", x->order == ORDER_MDY ? "mdy" : "dmy") < 0)
		goto nomem;

	if (!k.system && m->author != NULL) {
		out.sender = m->author;
		m->author = NULL;
	}
	if ((rc = seen_count(x, out.ts_ms, out.sender, m->body.p, &dup)) < 0)
		goto out;
	if (dup > 0 && json_object_set_new(extra, "dup", json_integer(dup)) != 0)
		goto nomem;
	if (json_object_set_new(extra, "source_text", json_stringn(m->src.p, m->src.len)) != 0)
		goto nomem;

	if ((out.extra = json_text(extra)) == NULL ||
	    (out.body = cf_memdup_str(m->body.p, m->body.len)) == NULL ||
	    (out.ts_raw = cf_memdup_str(m->src.p + m->h.raw_off, m->h.raw_len)) == NULL ||
	    (out.tz = strdup(x->zone)) == NULL)
		goto nomem;
	rc = cf_batch_add(x->b, x->chat_id, x->chat_id, &out);     /* reports */
	if (rc < 0)
		goto out;
	x->nmsg++;
	if (x->nmsg % WA_FLUSH_EVERY == 0)
		rc = cf_import_maybe_flush(x->o, x->b);
	goto out;
nomem:
	rc = oom(x);
out:
	if (extra != NULL) {
		json_decref(extra);
	}
	cf_free_wiped(src);
	class_clear(&k);
	cf_msg_clear(&out);
	cf_free_wiped(m->author);
	m->author = NULL;
	buf_reset(&m->body);
	buf_reset(&m->src);
	return rc;
}

/* Start a message from header line s[0..n). */
static int
start(struct wa_ctx *x, struct wa_msg *m, const struct wa_hdr *h, unsigned long lineno,
    const char *s, size_t n)
{
	const char *text = s + h->text_off;
	size_t tlen = n - h->text_off, alen, toff;

	m->active = 1;
	m->line = lineno;
	m->h = *h;
	m->blank = 0;
	m->author = NULL;
	m->text_marked = 0;
	if (split_author(text, tlen, &alen, &toff)) {
		if ((m->author = clean_text(text, alen)) == NULL)
			return oom(x);
		if (m->author[0] == '\0') {
			free(m->author);
			m->author = NULL;
		}
	}
	if (m->author != NULL) {
		text += toff;
		tlen -= toff;
		m->text_marked = starts_marked(text, tlen);
	}
	if (buf_add(&m->body, text, tlen) < 0 || buf_add(&m->src, s, n) < 0)
		return oom(x);
	return 0;
}

static int
build(struct wa_ctx *x, FILE *f)
{
	struct wa_msg m;
	struct wa_hdr h;
	unsigned long lineno = 0;
	size_t cap = 0, n;
	char *line = NULL, *s;
	int rc;

	memset(&m, 0, sizeof m);
	for (;;) {
		if ((rc = text_line(x, f, &line, &cap, &lineno, &s, &n)) <= 0)
			break;
		rc = hdr_parse(s, n, &h, x->why, WA_WHY_MAX);
		if (rc < 0) {
			cf_error("%s:%lu: %s", x->text_name, lineno, x->why);
			goto out;
		}
		if (rc == 1) {
			if ((rc = finish(x, &m)) < 0 || (rc = start(x, &m, &h, lineno, s, n)) < 0)
				goto out;
		} else if (m.active) {
			/* continuation; empty lines wait until something follows */
			if (n == 0) {
				m.blank++;
			} else {
				for (; m.blank > 0; m.blank--)
					if (buf_add(&m.body, "\n", 1) < 0 || buf_add(&m.src, "\n", 1) < 0)
						goto nomem;
				if (buf_add(&m.body, "\n", 1) < 0 || buf_add(&m.body, s, n) < 0 ||
				    buf_add(&m.src, "\n", 1) < 0 || buf_add(&m.src, s, n) < 0)
					goto nomem;
			}
		}
		cf_wipe(s, n);
	}
	if (rc == 0)
		rc = finish(x, &m);
	goto out;
nomem:
	rc = oom(x);
out:
	cf_free_wiped(m.author);
	buf_free(&m.body);
	buf_free(&m.src);
	if (line != NULL) {
		cf_wipe(line, cap);
		free(line);
	}
	return rc;
}

/* ---- locating the chat file and naming the chat ------------------------ */

/* Ranks of chat file names: 1 "_chat.txt", 2 "...WhatsApp....txt", 3 other
 * ".txt", 0 not a candidate. */
static int
chat_rank(const char *base)
{
	if (strcmp(base, "_chat.txt") == 0)
		return 1;
	if (!has_suffix(base, ".txt") || base[0] == '.')
		return 0;
	return strcasestr(base, "whatsapp") != NULL ? 2 : 3;
}

/* Export names WhatsApp gives; the rest is the chat's name. */
static const char *const name_prefixes[] = {
	"WhatsApp Chat with ", "WhatsApp Chat - ", "WhatsApp Chat mit ",
	"Chat WhatsApp s\xc2\xa0uživatelem ", "Chat WhatsApp s uživatelem ",
	"Чат WhatsApp с\xc2\xa0контактом ", "Чат WhatsApp с контактом ",
	NULL,
};

/* The chat id from a file name: prefix and extension removed. */
static char *
chat_id_from(const char *name, const char *ext)
{
	size_t n = strlen(name), m = strlen(ext), k;
	const char *const *p;
	char *id;

	if (n > m && strcasecmp(name + n - m, ext) == 0)
		n -= m;
	for (p = name_prefixes; *p != NULL; p++) {
		k = strlen(*p);
		if (n > k && strncmp(name, *p, k) == 0) {
			name += k;
			n -= k;
			break;
		}
	}
	while (n > 0 && name[n - 1] == '/')
		n--;
	if (n == 0)
		return strdup("WhatsApp chat");
	id = cf_memdup_str(name, n);
	return id;
}

/* The last component of a folder path, resolved when it is "." or the like. */
static char *
folder_name(const char *dir)
{
	char real[PATH_MAX];
	const char *b;
	char *copy, *slash, *res;

	if (realpath(dir, real) == NULL)
		snprintf(real, sizeof real, "%s", dir);
	if ((copy = strdup(real)) == NULL)
		return NULL;
	while ((slash = strrchr(copy, '/')) != NULL && slash[1] == '\0' && slash != copy)
		*slash = '\0';
	b = base_name(copy);
	/* "WhatsApp Chat - Name" folders are named like the zip */
	res = chat_id_from(*b != '\0' ? b : "WhatsApp chat", "");
	free(copy);
	return res;
}

/* An unsafe member name: absolute, or with a ".." component. */
static int
unsafe_member(const char *name)
{
	const char *p = name;

	if (name[0] == '/' || name[0] == '\\')
		return 1;
	for (;;) {
		if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || p[2] == '\0' || p[2] == '\\'))
			return 1;
		p = strpbrk(p, "/\\");
		if (p == NULL)
			return 0;
		p++;
	}
}

/* Pick the chat member of the zip.  report: 0 for detect(). */
static int
zip_find_chat(zip_t *z, const char *path, int report, zip_int64_t *index)
{
	zip_int64_t n = zip_get_num_entries(z, 0), i, best = -1;
	int rank, best_rank = 4, ties = 0;
	const char *name, *base;

	for (i = 0; i < n; i++) {
		if ((name = zip_get_name(z, (zip_uint64_t)i, 0)) == NULL)
			continue;
		if (unsafe_member(name)) {
			if (report)
				cf_error("%s: member %s: absolute or \"..\" name refused", path, name);
			return -EINVAL;
		}
		if (strncmp(name, "__MACOSX/", 9) == 0)
			continue;
		base = base_name(name);
		rank = chat_rank(base);
		if (rank == 0)
			continue;
		if (rank < best_rank) {
			best_rank = rank;
			best = i;
			ties = 0;
		} else if (rank == best_rank) {
			ties++;
		}
	}
	if (best < 0 || (best_rank == 3 && ties > 0)) {
		if (report)
			cf_error("%s: no WhatsApp chat file in the zip", path);
		return -EINVAL;
	}
	if (ties > 0) {
		if (report)
			cf_error("%s: several WhatsApp chat files in the zip", path);
		return -EINVAL;
	}
	*index = best;
	return 0;
}

/* Pick the chat file of a folder; *out is its name.  report: 0 for detect. */
static int
dir_find_chat(const char *dir, int report, char **out)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	char *best = NULL;
	int rank, best_rank = 4, ties = 0, rc;
	size_t seen = 0;

	*out = NULL;
	if (d == NULL) {
		rc = -errno;
		if (report)
			cf_error("%s: %s", dir, strerror(-rc));
		return rc;
	}
	while ((e = readdir(d)) != NULL) {
		if (!report && ++seen > WA_DETECT_ENTRIES)
			break;
		rank = chat_rank(e->d_name);
		if (rank == 0 || rank > best_rank)
			continue;
		if (rank == best_rank) {
			ties++;
			continue;
		}
		free(best);
		if ((best = strdup(e->d_name)) == NULL) {
			(void)closedir(d);
			if (report)
				cf_error("%s: %s", dir, strerror(ENOMEM));
			return -ENOMEM;
		}
		best_rank = rank;
		ties = 0;
	}
	(void)closedir(d);
	/* detect() wants a WhatsApp name; parse() also takes a lone .txt */
	if (best == NULL || (best_rank == 3 && (ties > 0 || !report)) || ties > 0) {
		if (report)
			cf_error("%s: %s", dir, best != NULL && ties > 0 && best_rank != 3 ?
			    "several WhatsApp chat files in the folder" :
			    "no WhatsApp chat file in the folder");
		free(best);
		return -EINVAL;
	}
	*out = best;
	return 0;
}

static char *
parent_dir(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return cf_memdup_str(path, (size_t)(slash - path));
}

static int
open_zip(struct wa_ctx *x)
{
	zip_error_t ze;
	const char *mname;
	int fd, err = 0, rc;

	fd = open(x->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		cf_error("%s: %s", x->path, rc == -ELOOP ? "is a symbolic link" : strerror(-rc));
		return rc;
	}
	if ((x->zip = zip_fdopen(fd, ZIP_RDONLY, &err)) == NULL) {
		(void)close(fd);
		zip_error_init_with_code(&ze, err);
		cf_error("%s: not a readable zip: %s", x->path, zip_error_strerror(&ze));
		zip_error_fini(&ze);
		return -EINVAL;
	}
	if ((rc = zip_find_chat(x->zip, x->path, 1, &x->chat_index)) < 0)
		return rc;
	x->nentries = (zip_uint64_t)zip_get_num_entries(x->zip, 0);
	if ((x->extracted = calloc(x->nentries + 1, sizeof *x->extracted)) == NULL)
		return oom(x);
	mname = zip_get_name(x->zip, (zip_uint64_t)x->chat_index, 0);
	if (mname == NULL)
		return oom(x);
	if ((x->zip_prefix = cf_memdup_str(mname, (size_t)(base_name(mname) - mname))) == NULL ||
	    asprintf(&x->text_name, "%s/%s", x->path, mname) < 0) {
		x->text_name = NULL;
		return oom(x);
	}
	if (strcmp(base_name(mname), "_chat.txt") == 0)
		x->chat_id = chat_id_from(base_name(x->path), ".zip");
	else
		x->chat_id = chat_id_from(base_name(mname), ".txt");
	if (x->chat_id == NULL)
		return oom(x);
	return 0;
}

static int
open_dir(struct wa_ctx *x)
{
	char *name = NULL;
	int rc;

	if ((rc = dir_find_chat(x->path, 1, &name)) < 0)
		return rc;
	if ((x->dir = strdup(x->path)) == NULL ||
	    asprintf(&x->text_name, "%s/%s", x->path, name) < 0) {
		x->text_name = NULL;
		free(name);
		return oom(x);
	}
	if (strcmp(name, "_chat.txt") == 0)
		x->chat_id = folder_name(x->path);
	else
		x->chat_id = chat_id_from(name, ".txt");
	free(name);
	return x->chat_id != NULL ? 0 : oom(x);
}

static int
open_txt(struct wa_ctx *x)
{
	if ((x->text_name = strdup(x->path)) == NULL || (x->dir = parent_dir(x->path)) == NULL)
		return oom(x);
	if (strcmp(base_name(x->path), "_chat.txt") == 0)
		x->chat_id = folder_name(x->dir);
	else
		x->chat_id = chat_id_from(base_name(x->path), ".txt");
	return x->chat_id != NULL ? 0 : oom(x);
}

/* Zip by name or by its "PK\3\4" signature. */
static int
looks_like_zip(const char *path)
{
	unsigned char sig[4];
	ssize_t got;
	int fd;

	if (has_suffix(path, ".zip"))
		return 1;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return 0;
	got = cf_pread_all(fd, sig, sizeof sig, 0);
	(void)close(fd);
	return got == 4 && memcmp(sig, "PK\x03\x04", 4) == 0;
}

static void
ctx_free(struct wa_ctx *x)
{
	zip_uint64_t i;

	if (x->extracted != NULL) {
		for (i = 0; i < x->nentries; i++)
			free(x->extracted[i]);
		free(x->extracted);
	}
	if (x->zip != NULL)
		zip_discard(x->zip);
	free(x->text_name);
	free(x->dir);
	free(x->zip_prefix);
	free(x->tempdir);
	free(x->chat_id);
	cf_free_wiped(x->chat_name);
	free(x->seen);
	if (x->why != NULL) {
		cf_wipe(x->why, WA_WHY_MAX);
		free(x->why);
	}
}

static int
run_pass(struct wa_ctx *x, int (*pass)(struct wa_ctx *, FILE *), char *iobuf)
{
	FILE *f = NULL;
	int rc;

	if ((rc = text_open(x, &f, iobuf)) < 0)
		return rc;
	rc = pass(x, f);
	if (fclose(f) != 0 && rc == 0 && x->mode == WA_ZIP) {
		/* a zip member's checksum is verified when it is closed */
		cf_error("%s: damaged zip member", x->text_name);
		rc = -EINVAL;
	}
	cf_wipe(iobuf, WA_IO_CHUNK);
	return rc;
}

static int
wa_parse(const char *path, struct cf_batch *b, const struct cf_import_opts *o)
{
	struct wa_ctx x;
	struct stat st;
	char *iobuf = NULL;
	int rc;

	memset(&x, 0, sizeof x);
	x.path = path;
	x.b = b;
	x.o = o;
	x.zone = (o != NULL && o->tz != NULL && *o->tz != '\0') ? o->tz : cf_tz_local_name();
	if (cf_tz_valid(x.zone) < 0) {
		cf_error("%s: unknown time zone", x.zone);
		return -EINVAL;
	}
	if (lstat(path, &st) != 0) {
		rc = -errno;
		cf_error("%s: %s", path, strerror(-rc));
		return rc;
	}
	if ((x.why = malloc(WA_WHY_MAX)) == NULL || (iobuf = malloc(WA_IO_CHUNK)) == NULL) {
		rc = oom(&x);
		goto out;
	}
	if (S_ISLNK(st.st_mode)) {
		cf_error("%s: is a symbolic link", path);
		rc = -EINVAL;
		goto out;
	} else if (S_ISDIR(st.st_mode)) {
		x.mode = WA_DIR;
		rc = open_dir(&x);
	} else if (S_ISREG(st.st_mode) && looks_like_zip(path)) {
		x.mode = WA_ZIP;
		rc = open_zip(&x);
	} else if (S_ISREG(st.st_mode)) {
		x.mode = WA_TXT;
		rc = open_txt(&x);
	} else {
		cf_error("%s: not a regular file or folder", path);
		rc = -EINVAL;
	}
	if (rc < 0)
		goto out;
	if ((rc = run_pass(&x, scan, iobuf)) < 0)
		goto out;
	rc = run_pass(&x, build, iobuf);
out:
	if (iobuf != NULL) {
		cf_wipe(iobuf, WA_IO_CHUNK);
		free(iobuf);
	}
	ctx_free(&x);
	return rc;
}

/* ---- detection ------------------------------------------------------------ */

/* A .txt whose first line is a WhatsApp header.  The old signal-export
 * chat.md form "[2019-12-24, 12:23] " (year first, no seconds, brackets)
 * is left to the Signal importer. */
static int
detect_txt(const char *path)
{
	char buf[WA_DETECT_BYTES], why[64];
	struct wa_hdr h;
	size_t total = 0, start = 0, end;
	ssize_t got;
	int fd, found = 0;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return 0;
	got = cf_pread_all(fd, buf, sizeof buf, 0);
	(void)close(fd);
	if (got <= 0)
		goto out;
	total = (size_t)got;
	if (total >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		start = 3;
	/* skip leading blank lines */
	while (start < total && (buf[start] == '\n' || buf[start] == '\r'))
		start++;
	for (end = start; end < total && buf[end] != '\n'; end++)
		;
	if (end > start && buf[end - 1] == '\r')
		end--;
	if (end <= start || !utf8_valid(buf + start, end - start))
		goto out;
	if (hdr_parse(buf + start, end - start, &h, why, sizeof why) == 1 &&
	    !(h.bracket && h.d1 == 4 && h.sep == '-' && !h.has_sec))
		found = 1;
out:
	cf_wipe(buf, sizeof buf);
	return found;
}

static int
wa_detect(const char *path)
{
	struct stat st;
	zip_t *z;
	zip_int64_t idx;
	char *name = NULL;
	int fd, err = 0, found;

	if (path == NULL || lstat(path, &st) != 0)
		return 0;
	if (S_ISDIR(st.st_mode)) {
		found = dir_find_chat(path, 0, &name) == 0;
		free(name);
		return found;
	}
	if (!S_ISREG(st.st_mode))
		return 0;
	if (looks_like_zip(path)) {
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return 0;
		if ((z = zip_fdopen(fd, ZIP_RDONLY, &err)) == NULL) {
			(void)close(fd);
			return 0;
		}
		found = zip_find_chat(z, path, 0, &idx) == 0 &&
		    (name = (char *)zip_get_name(z, (zip_uint64_t)idx, 0)) != NULL &&
		    chat_rank(base_name(name)) < 3;
		zip_discard(z);
		return found;
	}
	return has_suffix(path, ".txt") && detect_txt(path);
}

const struct cf_importer cf_importer_whatsapp = {
	.name = "whatsapp",
	.detect = wa_detect,
	.parse = wa_parse,
};
