/*
 * cmd_import.c - `coffer import`: read chat exports into the archive.
 *
 * Every PATH is parsed into one batch before the passphrase is asked and
 * before anything is stored, so a bad input refuses the whole import and
 * leaves the archive as it was; cf_import() then stores the batch in one
 * transaction (messages already present are skipped).  Inputs so large
 * that the batch passes CF_IMPORT_FLUSH_BYTES are stored in several
 * batches as the importer goes (import_flush): each is atomic, and a
 * re-run after a failure adds only what is missing.  All PATHs must be of
 * one format, named with --format or detected.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"
#include "cli.h"
#include "import.h"
#include "pass.h"
#include "util.h"

/* "jsonl, whatsapp, ..." for messages. */
static void
known_formats(char *buf, size_t n)
{
	size_t i, used = 0;
	int w;

	buf[0] = '\0';
	for (i = 0; cf_importers[i] != NULL; i++) {
		w = snprintf(buf + used, n - used, "%s%s", i > 0 ? ", " : "",
		    cf_importers[i]->name);
		if (w < 0 || (size_t)w >= n - used)
			break;
		used += (size_t)w;
	}
}

/* What the flushes of one import share. */
struct import_ctx {
	struct cf_archive *a;
	struct cf_session *s;           /* unlocked at the first flush */
	const char *as, *passfile;
	struct cf_import_stats total;
	char **chats;                   /* distinct source chat ids seen */
	size_t nchats;
	uint64_t bytes;                 /* message data stored so far */
	struct timespec start;
	int progress;                   /* a progress line is on stderr */
};

/* Remember chat (a source conversation id) once: a conversation spread
 * over several flushes counts once in the summary. */
static int
note_chat(const char *chat, const char *title, const struct cf_msg *m, void *arg)
{
	struct import_ctx *x = arg;
	char **nc;
	size_t i;

	(void)title;
	(void)m;
	if (x->nchats > 0 && strcmp(x->chats[x->nchats - 1], chat) == 0)
		return 0;
	for (i = 0; i < x->nchats; i++)
		if (strcmp(x->chats[i], chat) == 0)
			return 0;
	if ((nc = realloc(x->chats, (x->nchats + 1) * sizeof(*nc))) == NULL)
		return -ENOMEM;
	x->chats = nc;
	if ((x->chats[x->nchats] = strdup(chat)) == NULL)
		return -ENOMEM;
	x->nchats++;
	return 0;
}

static double
elapsed(const struct timespec *start)
{
	struct timespec now;

	if (clock_gettime(CLOCK_MONOTONIC, &now) != 0)
		return 0;
	return (double)(now.tv_sec - start->tv_sec) + (now.tv_nsec - start->tv_nsec) / 1e9;
}

/*
 * Store what the batch holds and empty it.  The identity is unlocked on the
 * first call, so a bad input is refused before the passphrase is asked
 * (unless the input is so large that a batch is stored before the end).
 */
static int
import_flush(struct cf_batch *b, void *arg)
{
	struct import_ctx *x = arg;
	struct cf_import_stats st;
	char *pass = NULL;
	size_t passlen = 0;
	int rc;

	if (x->s == NULL) {
		if ((rc = cli_read_pass(x->passfile, x->as, &pass, &passlen)) < 0)
			return rc;
		rc = cf_session_unlock(x->a, x->as, pass, passlen, &x->s);
		cf_pass_free(pass, passlen);
		if (rc < 0)
			return rc;
	}
	if (cf_batch_messages(b) == 0)
		return 0;
	if ((rc = cf_batch_foreach(b, note_chat, x)) != 0) {
		cf_error("out of memory");
		return rc;
	}
	x->bytes += cf_batch_bytes(b);
	if ((rc = cf_import(x->a, x->s, b, &st)) < 0)
		return rc;
	x->total.conversations = x->nchats;
	x->total.new_conversations += st.new_conversations;
	x->total.added += st.added;
	x->total.duplicates += st.duplicates;
	x->total.attachments += st.attachments;
	if (isatty(STDERR_FILENO)) {
		double secs = elapsed(&x->start);

		fprintf(stderr, "\r%" PRIu64 " messages stored, %" PRIu64 " already present, "
		    "%.1f MB, %.0f messages/s ", x->total.added, x->total.duplicates,
		    (double)x->bytes / 1048576.0,
		    secs > 0 ? (double)(x->total.added + x->total.duplicates) / secs : 0.0);
		x->progress = 1;
	}
	cf_batch_reset(b);
	return 0;
}

/* The importer for every path, from --format or by detection. */
static int
choose_importer(const char *format, const char **paths, int npaths,
    const struct cf_importer **out)
{
	const struct cf_importer *imp, *first = NULL;
	char known[256];
	int i;

	known_formats(known, sizeof known);
	if (format != NULL) {
		*out = cf_importer_find(format);
		if (*out == NULL)
			return cli_usage_error("import",
			    "--format: unknown format '%s' (known: %s)", format, known);
		return CMD_OK;
	}
	for (i = 0; i < npaths; i++) {
		imp = cf_importer_detect(paths[i]);
		if (imp == NULL) {
			cf_error("%s: format not recognised; name it with --format (known: %s)",
			    paths[i], known);
			return CMD_ERROR;
		}
		if (first != NULL && imp != first) {
			cf_error("%s: format %s, but %s is %s; import them separately", paths[i],
			    imp->name, paths[0], first->name);
			return CMD_ERROR;
		}
		first = imp;
	}
	*out = first;
	return CMD_OK;
}

int
cmd_import(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "as", required_argument, NULL, 'a' },
		{ "format", required_argument, NULL, 'F' },
		{ "timezone", required_argument, NULL, 'z' },
		{ "passphrase-file", required_argument, NULL, 'p' },
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	const char **pos, *as = NULL, *format = NULL, *tz = NULL, *passfile = NULL;
	const struct cf_importer *imp = NULL;
	struct import_ctx x = { 0 };
	struct cf_import_opts io;
	struct cf_archive *a = NULL;
	struct cf_batch *b = NULL;
	int c, i, npos = 0, result = CMD_ERROR;

	/* ARCHIVE and PATHs: never more than argc. */
	pos = calloc((size_t)argc, sizeof *pos);
	if (pos == NULL) {
		cf_error("import: out of memory");
		return CMD_ERROR;
	}
	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, "-h", opts, NULL)) != -1) {
		switch (c) {
		case 1:
			if ((result = cli_positional("import", pos, &npos, argc, optarg)) != CMD_OK)
				goto out;
			break;
		case 'a':
			as = optarg;
			break;
		case 'F':
			format = optarg;
			break;
		case 'z':
			tz = optarg;
			break;
		case 'p':
			passfile = optarg;
			break;
		case 'h':
			result = CMD_HELP;
			goto out;
		default:
			result = CMD_USAGE;
			goto out;
		}
	}
	if ((result = cli_rest("import", pos, &npos, argc, argc, argv)) != CMD_OK)
		goto out;
	if (npos < 2) {
		result = cli_usage_error("import", "missing %s", npos == 0 ? "ARCHIVE" : "PATH");
		goto out;
	}
	if (as == NULL) {
		result = cli_usage_error("import", "missing --as INGEST");
		goto out;
	}
	if ((result = cli_check_name("import", "--as", as)) != CMD_OK)
		goto out;
	if (tz == NULL)
		tz = cf_tz_local_name();
	if (cf_tz_valid(tz) < 0) {
		result = cli_usage_error("import", "--timezone: unknown time zone '%s'", tz);
		goto out;
	}
	if ((result = choose_importer(format, pos + 1, npos - 1, &imp)) != CMD_OK)
		goto out;
	result = CMD_ERROR;

	if (cf_archive_open(&a, pos[0], 0) < 0)
		goto out;
	if (cf_batch_new(&b, imp->name, tz) < 0)
		goto out;
	memset(&x, 0, sizeof x);
	x.a = a;
	x.as = as;
	x.passfile = passfile;
	(void)clock_gettime(CLOCK_MONOTONIC, &x.start);
	memset(&io, 0, sizeof io);
	io.tz = tz;
	io.flush = import_flush;
	io.flush_arg = &x;
	for (i = 1; i < npos; i++)
		if (imp->parse(pos[i], b, &io) < 0)
			goto out;
	/* the rest (for most inputs: everything) as the last batch */
	if (import_flush(b, &x) < 0)
		goto out;
	if (x.progress)
		fputc('\n', stderr);
	printf("imported %" PRIu64 " messages (%" PRIu64 " already present) into %" PRIu64
	    " conversations (%" PRIu64 " new), %" PRIu64 " attachments\n", x.total.added,
	    x.total.duplicates, x.total.conversations, x.total.new_conversations,
	    x.total.attachments);
	result = CMD_OK;
out:
	cf_batch_free(b);
	cf_import_tempdirs_clean();
	for (size_t k = 0; k < x.nchats; k++)
		free(x.chats[k]);
	free(x.chats);
	cli_close_session(a, x.s);
	free(pos);
	return result;
}
