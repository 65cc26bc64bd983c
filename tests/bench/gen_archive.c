/*
 * gen_archive.c - write a synthetic chat archive in Coffer's canonical JSON
 * Lines format (docs/IMPORT.md) for the performance benchmark (perf.sh).
 *
 * Usage: gen_archive --out DIR [--scale K] [--messages N] [--chats N]
 *                    [--attachments N] [--attach-mib M]
 *
 * Writes DIR/chats.jsonl, the attachment files DIR/files/attach-N.bin that
 * it names, and DIR/needles.txt (one unique word a line, with the title of
 * the conversation holding it).  Defaults: 200 conversations, 100,000
 * messages times K (--scale 10: one million), 4 attachments of 64 MiB.
 *
 * Deterministic: a fixed-seed xorshift generator, so the same arguments
 * always give the same bytes.  What it looks like:
 *   - conversation sizes follow a Zipf law (the largest holds about a
 *     sixth of the messages: 17,000 at 100k, 170,000 at 1M), each
 *     conversation with 2 to 12 participants, titles partly non-ASCII;
 *   - each conversation is active over a stretch of 2019-2024, with a few
 *     to a few dozen messages on each of its active days, in time order;
 *   - bodies of 20 to 2000 bytes, log-uniform (most are short), words from
 *     a vocabulary with non-ASCII and emoji, some on several lines, a few
 *     system events without sender;
 *   - one message in a thousand holds a unique word "qzvNNNNNN" (listed
 *     in needles.txt) for grep to find;
 *   - the attachments (incompressible bytes) hang off messages of the four
 *     largest conversations.
 *
 * Standalone (only libc):  cc -O2 -o gen_archive tests/bench/gen_archive.c
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define BODY_MIN 20
#define BODY_MAX 2000
#define NEEDLE_EVERY 1000
#define EPOCH_2019 1546300800LL         /* 2019-01-01T00:00:00Z */
#define DAYS 2191                       /* 2019-01-01 .. 2024-12-31 */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;      /* fixed seed */

/* xorshift64*: small, fast and the same everywhere. */
static uint64_t
rng64(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static uint32_t
pick(uint32_t n)
{
	return (uint32_t)((rng64(&rng_state) >> 32) % n);
}

static const char *const words[] = {
	"the", "meeting", "tomorrow", "report", "budget", "ok", "thanks", "see", "you",
	"at", "noon", "please", "review", "draft", "contract", "signed", "invoice",
	"shipment", "delayed", "call", "me", "when", "free", "café", "naïve", "déjà",
	"vu", "Grüße", "привет", "こんにちは", "👍", "🎉", "quarterly", "numbers", "look",
	"good", "bad", "send", "it", "to", "legal", "asap", "and", "a", "of", "in",
	"for", "on", "with", "we", "they", "have", "been", "will", "would", "could",
	"customer", "supplier", "warehouse", "schedule", "approved", "pending",
	"deadline", "Friday", "Monday", "weekend", "forecast", "margin", "audit",
	"slides", "agenda", "minutes", "follow-up", "ticket", "deploy", "release",
	"server", "backup", "password", "reset", "travel", "hotel", "flight",
	"Zürich", "São", "Paulo", "Kraków", "Ελλάδα", "東京", "مرحبا", "שלום",
	"lunch", "coffee", "later", "sorry", "great", "fine", "yes", "no", "maybe",
	"figures", "attached", "updated", "version", "final", "v2", "v3", "(see",
	"above)", "\"quoted\"", "back\\slash", "tab\there", "100%", "€120", "£80",
	"$1,200.50", "#general", "@team", "https://example.org/x?y=1", "🙂", "❤️",
};
#define NWORDS (sizeof words / sizeof words[0])

static const char *const people[] = {
	"Alice Martin", "Bob Stone", "Chloé Durand", "Dmitri Ivanov", "Eve Adams",
	"Fatima Zahra", "Gustav Berg", "Hana Sato", "Ingrid Olsen", "João Silva",
	"Kwame Mensah", "Léa Moreau", "Mateo García", "Nadia Petrova", "Oskar Lind",
	"Priya Nair", "Quentin Roux", "Rosa Díaz", "Søren Kjær", "Tomás Novák",
	"Uma Rao", "Viktor Horvát", "Wen Li", "Xavier Dupont", "Yara Haddad",
	"Zoë Clarke", "Андрей Смирнов", "山田 太郎", "김 민수", "Ahmed Farouk",
	"Beatriz Costa", "Chen Wei", "Dara O'Neill", "Elif Yılmaz", "Femi Adeyemi",
	"Greta Schulz", "Hugo Lefèvre", "Isla Murray", "Jonas Weber", "Kaito Ito",
};
#define NPEOPLE (sizeof people / sizeof people[0])

static const char *const topics[] = {
	"Harbour operations", "Board", "Équipe Ω", "Совет директоров", "Procurement",
	"Legal review", "Family", "Release train", "Sales EMEA", "プロジェクト",
	"Facilities", "Security incident", "Book club", "Investor relations", "Support",
	"Logistics", "Marketing «Zéphyr»", "Finance", "Hiring", "Travel 🚀",
};
#define NTOPICS (sizeof topics / sizeof topics[0])

struct buf {
	char *p;
	size_t len, cap;
};

static void
buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;

		while (b->len + n + 1 > cap)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (b->p == NULL) {
			perror("gen_archive");
			exit(2);
		}
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* A JSON string literal of s. */
static void
buf_json(struct buf *b, const char *s, size_t n)
{
	char esc[8];
	size_t i;

	buf_add(b, "\"", 1);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			buf_add(b, esc, 2);
		} else if (c == '\n') {
			buf_add(b, "\\n", 2);
		} else if (c == '\t') {
			buf_add(b, "\\t", 2);
		} else if (c < 0x20) {
			snprintf(esc, sizeof esc, "\\u%04x", c);
			buf_add(b, esc, 6);
		} else {
			buf_add(b, s + i, 1);
		}
	}
	buf_add(b, "\"", 1);
}

/* A body of about target bytes (BODY_MIN..BODY_MAX), cut on a word. */
static void
make_body(struct buf *body, size_t target, uint64_t needle)
{
	char nw[32];

	body->len = 0;
	if (needle != UINT64_MAX) {
		snprintf(nw, sizeof nw, "qzv%06" PRIu64, needle);
		buf_str(body, nw);
	}
	for (;;) {
		const char *w = words[pick(NWORDS)];
		size_t wl = strlen(w), sep = body->len > 0;

		if (body->len + sep + wl > target) {
			if (body->len >= BODY_MIN)
				break;
			w = "ok";
			wl = 2;
		}
		if (sep)
			buf_add(body, pick(25) == 0 ? "\n" : " ", 1);
		buf_add(body, w, wl);
	}
	if (body->len > BODY_MAX)
		body->len = BODY_MAX;
}

/* Log-uniform between BODY_MIN and BODY_MAX. */
static size_t
body_target(void)
{
	double u = (double)pick(1u << 30) / (double)(1u << 30);

	return (size_t)(BODY_MIN * exp(u * log((double)BODY_MAX / BODY_MIN)));
}

static int
write_attachment(const char *path, unsigned idx, uint64_t bytes)
{
	static uint64_t block[8192];
	uint64_t s = 0x6a09e667f3bcc908ULL ^ ((uint64_t)idx * 0x9e3779b97f4a7c15ULL);
	FILE *f = fopen(path, "wb");
	uint64_t done = 0;

	if (f == NULL) {
		fprintf(stderr, "gen_archive: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (done < bytes) {
		size_t n = sizeof block, i;

		if (bytes - done < n)
			n = (size_t)(bytes - done);
		for (i = 0; i < sizeof block / sizeof block[0]; i++)
			block[i] = rng64(&s);
		if (fwrite(block, 1, n, f) != n)
			break;
		done += n;
	}
	if (fclose(f) != 0 || done < bytes) {
		fprintf(stderr, "gen_archive: %s: write failed\n", path);
		return -1;
	}
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: gen_archive --out DIR [--scale K] [--messages N] [--chats N] "
	    "[--attachments N] [--attach-mib M]\n");
	exit(2);
}

static unsigned long
num_arg(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		usage();
	return v;
}

int
main(int argc, char **argv)
{
	const char *out = NULL;
	unsigned long scale = 1, nmsg = 0, nchats = 200, natt = 4, attmib = 64;
	struct buf line = { 0 }, body = { 0 }, path = { 0 };
	uint64_t *count, total = 0, id = 0, needle = 0, bytes = 0;
	double h = 0;
	FILE *f, *nf;
	unsigned long c;
	int i;

	for (i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--out") == 0)
			out = argv[++i];
		else if (strcmp(argv[i], "--scale") == 0)
			scale = num_arg(argv[++i]);
		else if (strcmp(argv[i], "--messages") == 0)
			nmsg = num_arg(argv[++i]);
		else if (strcmp(argv[i], "--chats") == 0)
			nchats = num_arg(argv[++i]);
		else if (strcmp(argv[i], "--attachments") == 0)
			natt = num_arg(argv[++i]);
		else if (strcmp(argv[i], "--attach-mib") == 0)
			attmib = num_arg(argv[++i]);
		else
			usage();
	}
	if (out == NULL || scale == 0 || nchats == 0)
		usage();
	if (nmsg == 0)
		nmsg = 100000 * scale;
	if (natt > nchats)
		natt = nchats;
	if (mkdir(out, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "gen_archive: %s: %s\n", out, strerror(errno));
		return 2;
	}
	buf_str(&path, out);
	buf_str(&path, "/files");
	if (mkdir(path.p, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "gen_archive: %s: %s\n", path.p, strerror(errno));
		return 2;
	}

	/* Zipf sizes: chat k gets nmsg * (1/(k+1)) / H, the rest to chat 0. */
	count = calloc(nchats, sizeof *count);
	if (count == NULL)
		return 2;
	for (c = 0; c < nchats; c++)
		h += 1.0 / (double)(c + 1);
	for (c = 0; c < nchats; c++) {
		count[c] = (uint64_t)((double)nmsg / (double)(c + 1) / h);
		if (count[c] == 0)
			count[c] = 1;
		total += count[c];
	}
	while (total > nmsg) {          /* more chats than messages: trim */
		for (c = nchats; c-- > 0 && total > nmsg;)
			if (count[c] > 1) {
				count[c]--;
				total--;
			}
		if (count[0] == 1)
			break;
	}
	count[0] += nmsg - total;

	path.len = 0;
	buf_str(&path, out);
	buf_str(&path, "/chats.jsonl");
	f = fopen(path.p, "w");
	path.len = 0;
	buf_str(&path, out);
	buf_str(&path, "/needles.txt");
	nf = fopen(path.p, "w");
	if (f == NULL || nf == NULL) {
		fprintf(stderr, "gen_archive: %s: %s\n", out, strerror(errno));
		return 2;
	}
	setvbuf(f, NULL, _IOFBF, 1 << 20);

	for (c = 0; c < nchats; c++) {
		char title[256], chatid[32], people_idx[12], ts[32], num[32];
		unsigned np = 2 + pick(11), start, span, perday, d, day, k;
		uint64_t n = count[c], left = n, m = 0;
		uint64_t attach_at = c < natt ? n / 2 : UINT64_MAX;

		snprintf(title, sizeof title, "%s %03lu", topics[c % NTOPICS], c + 1);
		snprintf(chatid, sizeof chatid, "chat-%05lu", c + 1);
		for (k = 0; k < np; k++)
			people_idx[k] = (char)pick(NPEOPLE);
		/* an active stretch of 30 days to the whole six years */
		start = pick(DAYS - 30);
		span = 30 + pick(DAYS - start - 30 + 1);
		if (start + span > DAYS)
			span = DAYS - start;
		perday = 2 + pick(39);
		d = (unsigned)((n + perday - 1) / perday);
		if (d > span)
			d = span;
		if (d == 0)
			d = 1;
		for (day = 0; day < d; day++) {
			uint64_t today = n / d + (day < n % d), j;
			long long t0 = EPOCH_2019 + 86400LL *
			    (start + (long long)((uint64_t)day * span / d));
			unsigned sec = 7 * 3600 + pick(10 * 3600), step;

			step = today ? (unsigned)((86399 - sec) / (today + 1)) : 1;
			if (step == 0)
				step = 1;
			for (j = 0; j < today && left > 0; j++, left--, m++) {
				time_t t = (time_t)(t0 + sec);
				struct tm tm;
				const char *sender;

				if (gmtime_r(&t, &tm) == NULL ||
				    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
					return 2;
				if (sec + step < 86399)
					sec += 1 + pick(step);
				make_body(&body, body_target(),
				    id % NEEDLE_EVERY == NEEDLE_EVERY / 2 ? needle : UINT64_MAX);
				if (id % NEEDLE_EVERY == NEEDLE_EVERY / 2)
					fprintf(nf, "qzv%06" PRIu64 "\t%s\t%s\n", needle++, title, ts);
				sender = pick(100) == 0 ? NULL : people[(unsigned char)people_idx[pick(np)]];
				line.len = 0;
				buf_str(&line, "{\"chat\":");
				buf_json(&line, chatid, strlen(chatid));
				buf_str(&line, ",\"chat_title\":");
				buf_json(&line, title, strlen(title));
				snprintf(num, sizeof num, ",\"id\":%" PRIu64, id + 1);
				buf_str(&line, num);
				buf_str(&line, ",\"ts\":");
				buf_json(&line, ts, strlen(ts));
				buf_str(&line, ",\"sender\":");
				if (sender != NULL)
					buf_json(&line, sender, strlen(sender));
				else
					buf_str(&line, "null");
				buf_str(&line, ",\"body\":");
				buf_json(&line, body.p, body.len);
				if (m == attach_at) {
					char name[64], rel[64], full[4096];

					snprintf(name, sizeof name, "recording-%lu.bin", c + 1);
					snprintf(rel, sizeof rel, "files/attach-%lu.bin", c + 1);
					snprintf(full, sizeof full, "%s/%s", out, rel);
					if (write_attachment(full, (unsigned)c, (uint64_t)attmib << 20) < 0)
						return 2;
					buf_str(&line, ",\"attachments\":[{\"name\":");
					buf_json(&line, name, strlen(name));
					buf_str(&line, ",\"path\":");
					buf_json(&line, rel, strlen(rel));
					buf_str(&line, "}]");
				}
				buf_str(&line, "}\n");
				if (fwrite(line.p, 1, line.len, f) != line.len) {
					fprintf(stderr, "gen_archive: write failed\n");
					return 2;
				}
				bytes += body.len;
				id++;
			}
		}
	}
	if (fclose(f) != 0 || fclose(nf) != 0) {
		fprintf(stderr, "gen_archive: write failed\n");
		return 2;
	}
	printf("%" PRIu64 " messages in %lu conversations (largest %" PRIu64 "), "
	    "%" PRIu64 " body bytes, %lu attachments of %lu MiB, %" PRIu64 " needles\n",
	    id, nchats, count[0], bytes, natt, attmib, needle);
	free(count);
	free(line.p);
	free(body.p);
	free(path.p);
	return 0;
}
