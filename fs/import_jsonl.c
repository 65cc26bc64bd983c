/*
 * import_jsonl.c - the canonical JSON Lines importer (format in import.h).
 *
 * Each line is parsed on its own with jansson (duplicate members refused),
 * or, when it is plain (see fast_line), directly, into a struct cf_msg and
 * moved into the batch; the first bad line stops
 * the whole file with "FILE:LINE: reason".  Reasons name members and
 * attachment files but never quote message content: jansson's " near
 * '<token>'" suffix is replaced by the column.
 *
 * Plaintext handling: the line buffer and the stdio buffer are wiped before
 * they are freed, and the parsed JSON tree by jansson's allocator (record.c).  Limits:
 * getline() may have moved a line longer than the initial buffer, leaving an
 * unwiped copy in freed heap memory (jansson's own blocks are wiped on free
 * by the allocator record.c installs).  Attachment files are only checked here (lstat: a regular
 * file, not a symbolic link); the archive reads them at import time.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "import.h"
#include "jfast.h"
#include "util.h"

#define JSONL_LINE_INIT 65536           /* initial line buffer */
#define JSONL_DETECT_MAX 65536          /* bytes detect() looks at */
#define JSONL_WHY_MAX (PATH_MAX + 160)

/* Members with a meaning; every other one goes to cf_msg.extra. */
static const char *const known_members[] = {
	"chat", "chat_title", "id", "ts", "sender", "body", "attachments", NULL,
};

enum { OPTIONAL = 0, REQUIRED = 1 };
enum { MAY_BE_EMPTY = 0, NON_EMPTY = 1 };

static int
is_known(const char *key)
{
	size_t i;

	for (i = 0; known_members[i] != NULL; i++)
		if (strcmp(known_members[i], key) == 0)
			return 1;
	return 0;
}

static int
is_blank(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n' &&
		    s[i] != '\f' && s[i] != '\v')
			return 0;
	return 1;
}

/*
 * Copy string member key of obj into *dst.  Absent or null: -EINVAL when
 * required, else 0 with *dst NULL.  "" counts as absent for an optional
 * member and is refused for a required NON_EMPTY one.
 */
static int
get_string(json_t *obj, const char *key, int required, int nonempty, char **dst,
    char *why, size_t whylen)
{
	json_t *v = json_object_get(obj, key);

	*dst = NULL;
	if (v == NULL || json_is_null(v)) {
		if (!required)
			return 0;
		snprintf(why, whylen, "missing \"%s\"", key);
		return -EINVAL;
	}
	if (!json_is_string(v)) {
		snprintf(why, whylen, "\"%s\" must be a string", key);
		return -EINVAL;
	}
	if (json_string_length(v) == 0) {
		if (required && nonempty) {
			snprintf(why, whylen, "\"%s\" must not be empty", key);
			return -EINVAL;
		}
		if (!required)
			return 0;
	}
	*dst = cf_memdup_str(json_string_value(v), json_string_length(v));
	return *dst != NULL ? 0 : -ENOMEM;
}

/* "id": a string, or an integer taken as its decimal text. */
static int
get_id(json_t *obj, char **dst, char *why, size_t whylen)
{
	json_t *v = json_object_get(obj, "id");
	char num[32];

	*dst = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		*dst = strdup(num);
		return *dst != NULL ? 0 : -ENOMEM;
	}
	if (!json_is_string(v)) {
		snprintf(why, whylen, "\"id\" must be a string or an integer");
		return -EINVAL;
	}
	return get_string(obj, "id", OPTIONAL, MAY_BE_EMPTY, dst, why, whylen);
}

/* A name the mounted view can show as a file: no "/", not "." or "..". */
static int
plain_file_name(const char *s)
{
	return *s != '\0' && strchr(s, '/') == NULL && strcmp(s, ".") != 0 &&
	    strcmp(s, "..") != 0;
}

/* Fill one attachment from element i of "attachments". */
static int
get_attachment(json_t *el, size_t i, const char *dir, struct cf_attach *at, char *why,
    size_t whylen)
{
	char full[PATH_MAX];
	const char *path, *base;
	struct stat st;
	json_t *v;
	int rc;

	if (!json_is_object(el)) {
		snprintf(why, whylen, "attachments[%zu] must be an object", i);
		return -EINVAL;
	}
	v = json_object_get(el, "path");
	if (v == NULL || json_is_null(v)) {
		snprintf(why, whylen, "attachments[%zu]: missing \"path\"", i);
		return -EINVAL;
	}
	if (!json_is_string(v) || json_string_length(v) == 0) {
		snprintf(why, whylen, "attachments[%zu]: \"path\" must be a non-empty string", i);
		return -EINVAL;
	}
	path = json_string_value(v);
	if (path[0] == '/' || dir == NULL || dir[0] == '\0')
		rc = cf_path(full, sizeof full, "%s", path);
	else
		rc = cf_path(full, sizeof full, "%s/%s", dir, path);
	if (rc < 0) {
		snprintf(why, whylen, "attachments[%zu]: %s", i, strerror(ENAMETOOLONG));
		return -EINVAL;
	}
	/* lstat, not stat: a link could point anywhere, for example at a
	 * file the importing user should not be archiving. */
	if (lstat(full, &st) != 0) {
		snprintf(why, whylen, "attachment %s: %s", full, strerror(errno));
		return -EINVAL;
	}
	if (S_ISLNK(st.st_mode)) {
		snprintf(why, whylen, "attachment %s: is a symbolic link", full);
		return -EINVAL;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "attachment %s: not a regular file", full);
		return -EINVAL;
	}

	v = json_object_get(el, "name");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_string(v) || !plain_file_name(json_string_value(v))) {
			snprintf(why, whylen, "attachments[%zu]: \"name\" must be a file name", i);
			return -EINVAL;
		}
		base = json_string_value(v);
	} else {
		base = strrchr(path, '/');
		base = base != NULL ? base + 1 : path;
		if (!plain_file_name(base)) {
			snprintf(why, whylen,
			    "attachments[%zu]: \"path\" does not end in a file name", i);
			return -EINVAL;
		}
	}
	at->name = strdup(base);
	at->src_path = strdup(full);
	if (at->name == NULL || at->src_path == NULL)
		return -ENOMEM;
	at->size = (uint64_t)st.st_size;
	return 0;
}

static int
get_attachments(json_t *obj, const char *dir, struct cf_msg *m, char *why, size_t whylen)
{
	json_t *arr = json_object_get(obj, "attachments"), *el;
	size_t i, n;
	int rc;

	if (arr == NULL || json_is_null(arr))
		return 0;
	if (!json_is_array(arr)) {
		snprintf(why, whylen, "\"attachments\" must be an array");
		return -EINVAL;
	}
	n = json_array_size(arr);
	if (n == 0)
		return 0;
	m->att = calloc(n, sizeof *m->att);
	if (m->att == NULL)
		return -ENOMEM;
	json_array_foreach(arr, i, el) {
		/* Counted first so that cf_msg_clear frees a partial entry. */
		m->natt = i + 1;
		rc = get_attachment(el, i, dir, &m->att[i], why, whylen);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The unknown members of obj as compact JSON text, or NULL when none. */
static int
get_extra(json_t *obj, char **dst)
{
	json_t *extra = NULL, *v;
	const char *key;
	size_t n;
	int rc = 0;

	*dst = NULL;
	json_object_foreach(obj, key, v) {
		if (is_known(key))
			continue;
		if (extra == NULL && (extra = json_object()) == NULL)
			return -ENOMEM;
		if (json_object_set(extra, key, v) != 0) {
			rc = -ENOMEM;
			goto out;
		}
	}
	if (extra == NULL)
		return 0;
	/* json_dumpb into our own buffer: no assumption about jansson's
	 * allocator, and the text is freed by cf_msg_clear with free(). */
	n = json_dumpb(extra, NULL, 0, JSON_COMPACT);
	if (n == 0) {
		rc = -ENOMEM;
		goto out;
	}
	*dst = malloc(n + 1);
	if (*dst == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if (json_dumpb(extra, *dst, n, JSON_COMPACT) != n) {
		free(*dst);
		*dst = NULL;
		rc = -ENOMEM;
		goto out;
	}
	(*dst)[n] = '\0';
out:
	json_decref(extra);
	return rc;
}

/* jansson's message without its " near '<token>'" part, which may quote
 * message content. */
static void
json_reason(const json_error_t *e, char *why, size_t whylen)
{
	char text[JSON_ERROR_TEXT_LENGTH];
	char *near;

	snprintf(text, sizeof text, "%s", e->text);
	near = strstr(text, " near ");
	if (near != NULL)
		*near = '\0';
	if (e->column > 0)
		snprintf(why, whylen, "invalid JSON: %s (column %d)", text, e->column);
	else
		snprintf(why, whylen, "invalid JSON: %s", text);
	cf_wipe(text, sizeof text);
}

/*
 * The fast path: a line with only "chat", "chat_title", "id", "ts",
 * "sender" and "body", in the plain JSON of jfast.h (what the generator of
 * a large export usually writes), is read without a jansson tree; the
 * time, zone and checks that follow are the same for both paths.  Any
 * other line, and any line the subset cannot read, goes to jansson, which
 * reads it or gives the reason.  test_import_jsonl compares the paths.
 * Returns 1 with out and *ts filled, 0 for jansson, -ENOMEM.
 */
enum {
	FL_CHAT = 1u << 0, FL_TITLE = 1u << 1, FL_ID = 1u << 2, FL_TS = 1u << 3,
	FL_SENDER = 1u << 4, FL_BODY = 1u << 5,
};

static int
fast_line(const char *line, size_t len, struct cf_jsonl_line *out, char **ts)
{
	static const struct cf_jf_member members[] = {
		{ "chat", FL_CHAT }, { "chat_title", FL_TITLE }, { "id", FL_ID }, { "ts", FL_TS },
		{ "sender", FL_SENDER }, { "body", FL_BODY },
	};
	const unsigned need = FL_CHAT | FL_TS | FL_SENDER | FL_BODY;
	struct cf_jf f;
	char num[24], *v = NULL;
	unsigned seen = 0, bit;
	int64_t id;
	int rc = 0, more;

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	f.p = line;
	f.end = line + len;
	if (!cf_jf_eat(&f, '{'))
		return 0;
	do {
		if (!cf_jf_member(&f, members, sizeof members / sizeof members[0], &seen, &bit))
			goto nope;
		if (bit == FL_ID && f.p < f.end && (*f.p == '-' || (*f.p >= '0' && *f.p <= '9'))) {
			if ((rc = cf_jf_int(&f, &id)) != 1)
				goto nope;
			snprintf(num, sizeof num, "%lld", (long long)id);
			if ((out->msg.id = strdup(num)) == NULL) {
				rc = -ENOMEM;
				goto nope;
			}
			continue;
		}
		if ((rc = cf_jf_str(&f, &v)) != 1)
			goto nope;
		if (*v == '\0' && bit != FL_BODY) {
			/* "" is absent for the optional members, an error for the
			 * required ones: jansson's path says which */
			cf_free_wiped(v);
			v = NULL;
			if (bit != FL_TITLE && bit != FL_ID) {
				rc = 0;
				goto nope;
			}
			continue;
		}
		switch (bit) {
		case FL_CHAT: out->chat = v; break;
		case FL_TITLE: out->title = v; break;
		case FL_ID: out->msg.id = v; break;
		case FL_TS: *ts = v; break;
		case FL_SENDER: out->msg.sender = v; break;
		default: out->msg.body = v; break;
		}
		v = NULL;
	} while ((more = cf_jf_next(&f, '}')) == 1);
	rc = 0;
	if (more != 2 || f.p != f.end || (seen & need) != need)
		goto nope;
	return 1;
nope:
	cf_jsonl_line_clear(out);
	cf_free_wiped(*ts);
	*ts = NULL;
	return rc < 0 ? rc : 0;
}

static int
parse_line(const char *line, size_t len, const char *dir, const char *tz,
    struct cf_jsonl_line *out, char *why, size_t whylen, int fast)
{
	json_error_t jerr;
	json_t *root = NULL;
	const char *zone;
	char *ts = NULL;
	int rc, had_offset = 0, sender_req;

	memset(out, 0, sizeof *out);
	if (whylen > 0)
		why[0] = '\0';
	if (is_blank(line, len))
		return 0;
	zone = (tz != NULL && *tz != '\0') ? tz : cf_tz_local_name();

	rc = fast ? fast_line(line, len, out, &ts) : 0;
	if (rc < 0)
		goto out;
	if (rc == 0) {
		root = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
		if (root == NULL) {
			if (json_error_code(&jerr) == json_error_out_of_memory) {
				rc = -ENOMEM;
			} else {
				json_reason(&jerr, why, whylen);
				rc = -EINVAL;
			}
			cf_wipe(&jerr, sizeof jerr);
			goto out;
		}
		if (!json_is_object(root)) {
			snprintf(why, whylen, "not a JSON object");
			rc = -EINVAL;
			goto out;
		}

		/* "sender": null (not absent) is an event without a sender, a
		 * system line, as `coffer export --format jsonl` writes one */
		sender_req = json_is_null(json_object_get(root, "sender")) ? OPTIONAL : REQUIRED;
		if ((rc = get_string(root, "chat", REQUIRED, NON_EMPTY, &out->chat, why,
		    whylen)) < 0 ||
		    (rc = get_string(root, "chat_title", OPTIONAL, MAY_BE_EMPTY, &out->title,
		    why, whylen)) < 0 ||
		    (rc = get_id(root, &out->msg.id, why, whylen)) < 0 ||
		    (rc = get_string(root, "ts", REQUIRED, NON_EMPTY, &ts, why, whylen)) < 0 ||
		    (rc = get_string(root, "sender", sender_req, NON_EMPTY, &out->msg.sender, why,
		    whylen)) < 0 ||
		    (rc = get_string(root, "body", REQUIRED, MAY_BE_EMPTY, &out->msg.body, why,
		    whylen)) < 0)
			goto out;
	}

	rc = cf_parse_time(ts, zone, &out->msg.ts_ms, &had_offset);
	if (rc == -EINVAL) {
		snprintf(why, whylen, "\"ts\" is not an RFC 3339 date-time");
		goto out;
	} else if (rc < 0) {
		goto out;
	}
	out->msg.ts_raw = ts;
	ts = NULL;
	if (!had_offset && (out->msg.tz = strdup(zone)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}

	if (root != NULL && ((rc = get_attachments(root, dir, &out->msg, why, whylen)) < 0 ||
	    (rc = get_extra(root, &out->msg.extra)) < 0))
		goto out;
	rc = 1;
out:
	cf_free_wiped(ts);
	if (root != NULL) {
		json_decref(root);
	}
	if (rc < 0)
		cf_jsonl_line_clear(out);
	return rc;
}

int
cf_jsonl_parse_line(const char *line, size_t len, const char *dir, const char *tz,
    struct cf_jsonl_line *out, char *why, size_t whylen)
{
	return parse_line(line, len, dir, tz, out, why, whylen, 1);
}

int
cf_jsonl_parse_line_json(const char *line, size_t len, const char *dir, const char *tz,
    struct cf_jsonl_line *out, char *why, size_t whylen)
{
	return parse_line(line, len, dir, tz, out, why, whylen, 0);
}

void
cf_jsonl_line_clear(struct cf_jsonl_line *l)
{
	if (l == NULL)
		return;
	cf_free_wiped(l->chat);
	cf_free_wiped(l->title);
	cf_msg_clear(&l->msg);
	memset(l, 0, sizeof *l);
}

static int
has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* A .jsonl / .ndjson name, or a regular file whose first non-blank byte
 * (after an optional UTF-8 byte order mark) is '{'. */
static int
jsonl_detect(const char *path)
{
	unsigned char buf[4096];
	size_t total = 0, i, skip;
	struct stat st;
	ssize_t n;
	int fd, found = 0;

	if (has_suffix(path, ".jsonl") || has_suffix(path, ".ndjson"))
		return 1;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		goto out;
	while (total < JSONL_DETECT_MAX) {
		n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		skip = 0;
		if (total == 0 && n >= 3 && buf[0] == 0xef && buf[1] == 0xbb && buf[2] == 0xbf)
			skip = 3;
		total += (size_t)n;
		for (i = skip; i < (size_t)n; i++) {
			if (is_blank((const char *)&buf[i], 1))
				continue;
			found = buf[i] == '{';
			goto out;
		}
	}
out:
	cf_wipe(buf, sizeof buf);
	(void)close(fd);        /* read-only: nothing to lose */
	return found;
}

/* The folder attachment paths are relative to: path's parent. */
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
jsonl_parse(const char *path, struct cf_batch *b, const struct cf_import_opts *o)
{
	struct cf_jsonl_line rec;
	struct stat st;
	const char *zone;
	char *dir = NULL, *line = NULL, *iobuf = NULL, *why = NULL;
	size_t cap = JSONL_LINE_INIT, skip;
	unsigned long lineno = 0;
	ssize_t n;
	FILE *f = NULL;
	int fd = -1, rc;

	memset(&rec, 0, sizeof rec);
	zone = (o != NULL && o->tz != NULL && *o->tz != '\0') ? o->tz : cf_tz_local_name();
	if (cf_tz_valid(zone) < 0) {
		cf_error("%s: unknown time zone", zone);
		return -EINVAL;
	}

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		cf_error("%s: %s", path, rc == -ELOOP ? "is a symbolic link" : strerror(-rc));
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		cf_error("%s: %s", path, strerror(-rc));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		cf_error("%s: %s", path, rc == -EISDIR ? strerror(EISDIR) : "not a regular file");
		goto out;
	}
	dir = parent_dir(path);
	line = malloc(cap);
	iobuf = malloc(BUFSIZ);
	why = malloc(JSONL_WHY_MAX);
	if (dir == NULL || line == NULL || iobuf == NULL || why == NULL) {
		rc = -ENOMEM;
		cf_error("%s: %s", path, strerror(ENOMEM));
		goto out;
	}
	f = fdopen(fd, "r");
	if (f == NULL) {
		rc = -errno;
		cf_error("%s: %s", path, strerror(-rc));
		goto out;
	}
	fd = -1;
	/* Our own stdio buffer, so that it can be wiped. */
	if (setvbuf(f, iobuf, _IOFBF, BUFSIZ) != 0) {
		rc = -ENOMEM;
		cf_error("%s: %s", path, strerror(ENOMEM));
		goto out;
	}

	for (;;) {
		errno = 0;
		n = getline(&line, &cap, f);
		if (n < 0) {
			if (ferror(f)) {
				rc = errno != 0 ? -errno : -EIO;
				cf_error("%s: %s", path, strerror(-rc));
				goto out;
			}
			break;
		}
		lineno++;
		skip = 0;
		if (lineno == 1 && n >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0)
			skip = 3;
		rc = cf_jsonl_parse_line(line + skip, (size_t)n - skip, dir, zone, &rec, why,
		    JSONL_WHY_MAX);
		cf_wipe(line, (size_t)n);
		if (rc == 0)
			continue;
		if (rc < 0) {
			if (rc == -EINVAL)
				cf_error("%s:%lu: %s", path, lineno, why);
			else
				cf_error("%s:%lu: %s", path, lineno, strerror(-rc));
			goto out;
		}
		rc = cf_batch_add(b, rec.chat, rec.title, &rec.msg);   /* reports */
		cf_jsonl_line_clear(&rec);
		/* a large file is stored in batches as it is read (import.h) */
		if (rc >= 0)
			rc = cf_import_maybe_flush(o, b);       /* the flush reports */
		if (rc < 0)
			goto out;
	}
	rc = 0;
out:
	cf_jsonl_line_clear(&rec);
	if (f != NULL)
		(void)fclose(f);        /* read-only: nothing to lose */
	if (fd >= 0)
		(void)close(fd);
	if (line != NULL) {
		cf_wipe(line, cap);
		free(line);
	}
	if (iobuf != NULL) {
		cf_wipe(iobuf, BUFSIZ);
		free(iobuf);
	}
	if (why != NULL) {
		cf_wipe(why, JSONL_WHY_MAX);
		free(why);
	}
	free(dir);
	return rc;
}

const struct cf_importer cf_importer_jsonl = {
	.name = "jsonl",
	.detect = jsonl_detect,
	.parse = jsonl_parse,
};
