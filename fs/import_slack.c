/*
 * import_slack.c - the Slack workspace export importer (format in import.h).
 *
 * An export is a folder or a zip holding users.json, the conversation lists
 * channels.json, groups.json, dms.json and mpims.json (any may be missing or
 * "[]"), and one folder per conversation of day files YYYY-MM-DD.json, each
 * a JSON array of message objects.  Both containers are read through one
 * small "source" layer (open folder or libzip handle), so a folder and a zip
 * of the same export give identical messages.  A lone day file or a lone
 * message object is accepted too (see import.h).
 *
 * The lists are read first into jansson objects used as maps (user id ->
 * display name, channel id -> name, folder -> conversation); then the
 * conversation folders are read in name order, each day file in name order,
 * one file at a time, so memory holds one day of one channel plus the
 * batch (flushed between conversations and every few thousand messages).
 * Message text is Slack mrkdwn: references <@U…>, <#C…|name>, <!here> and
 * <url|label> are rendered as text and &amp; &lt; &gt; decoded; everything
 * the body does not show is kept in cf_msg.extra ("source" holds the whole
 * message object).  File bytes are never in a Slack export and their URLs
 * are never fetched: files are listed in extra.missing_attachments.
 *
 * Errors name the file (for a zip "ZIP:MEMBER") and a line (invalid JSON)
 * or a JSON path ("[3].ts"), never message content.  Plaintext handling:
 * file buffers and the strings of parsed trees are wiped before they are
 * freed, and so are the text buffers built here; jansson's and libzip's
 * own scratch buffers are not.
 */
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
#include <unistd.h>
#include <zip.h>

#include "crypto.h"
#include "import.h"
#include "util.h"

#define SLK_FILE_MAX (256u << 20)       /* largest JSON file or member read */
#define SLK_DETECT_MAX (256u << 10)     /* bytes detect() parses of a lone file */
#define SLK_FLUSH_EVERY 5000            /* messages between flush checks */
#define SLK_MISSING_REASON "not included in Slack exports"

/* The conversation list files, in the order their entries are matched. */
enum slk_list { LIST_CHANNELS, LIST_GROUPS, LIST_DMS, LIST_MPIMS, LIST_N };
static const char *const list_files[LIST_N] = {
	"channels.json", "groups.json", "dms.json", "mpims.json",
};

/* Subtypes shown as system events (sender NULL, extra.kind "system"). */
static const char *const system_subtypes[] = {
	"channel_join", "channel_leave", "channel_topic", "channel_purpose",
	"channel_name", "channel_archive", "channel_unarchive",
	"group_join", "group_leave", "group_topic", "group_purpose", "group_name",
	"group_archive", "group_unarchive", "pinned_item", "unpinned_item",
	"tombstone", "bot_add", "bot_remove", "bot_enable", "bot_disable",
	"channel_convert_to_private", "channel_convert_to_public",
	"channel_posting_permissions", "reminder_add", "sh_room_created",
	"app_conversation_join", "channel_canvas_updated", NULL,
};

/* One day file: FOLDER/NAME relative to the export root. */
struct slk_day {
	char *folder;
	char *name;
};

/* A conversation as the batch gets it. */
struct slk_conv {
	const char *id;                 /* chat id: the list's id, or the folder */
	const char *title;              /* "#name" or member names */
	const char *where;              /* "#name", or "the conversation" */
};

struct slk_ctx {
	const char *path;               /* the input, for messages */
	char root[PATH_MAX];            /* folder mode: the export's folder */
	zip_t *zip;                     /* zip mode */
	char prefix[PATH_MAX];          /* zip: "" or "TOP/" */
	json_t *users;                  /* user id -> display name */
	json_t *chans;                  /* channel id -> name (for <#C…>) */
	json_t *convs;                  /* folder name -> {id, title, where} */
	struct slk_day *days;
	size_t ndays, capdays;
	struct cf_batch *b;
	const struct cf_import_opts *o;
	size_t since_flush;
};

/* ---- small helpers ------------------------------------------------------ */

/* A growing text buffer; err is set on allocation failure and sticks.
 * Memory is wiped before it is released, including when it grows. */
struct sbuf {
	char *p;
	size_t n, cap;
	int err;
};

static void
sb_putn(struct sbuf *s, const char *p, size_t n)
{
	char *np;
	size_t cap;

	if (s->err || n == 0)
		return;
	if (s->n + n + 1 > s->cap) {
		cap = s->cap ? s->cap : 64;
		while (cap < s->n + n + 1) {
			if (cap > SIZE_MAX / 2) {
				s->err = 1;
				return;
			}
			cap *= 2;
		}
		if ((np = malloc(cap)) == NULL) {
			s->err = 1;
			return;
		}
		if (s->p != NULL) {
			memcpy(np, s->p, s->n);
			cf_wipe(s->p, s->cap);
			free(s->p);
		}
		s->p = np;
		s->cap = cap;
	}
	memcpy(s->p + s->n, p, n);
	s->n += n;
	s->p[s->n] = '\0';
}

static void
sb_puts(struct sbuf *s, const char *p)
{
	sb_putn(s, p, strlen(p));
}

static int
sb_ends_nl(const struct sbuf *s)
{
	return s->n == 0 || s->p[s->n - 1] == '\n';
}

static void
sb_free(struct sbuf *s)
{
	if (s->p != NULL) {
		cf_wipe(s->p, s->cap);
		free(s->p);
	}
	memset(s, 0, sizeof *s);
}

/* The text as a malloc'd string ("" when empty), or NULL when out of
 * memory; s is emptied either way. */
static char *
sb_take(struct sbuf *s)
{
	char *r;

	if (s->err) {
		sb_free(s);
		return NULL;
	}
	r = s->p != NULL ? s->p : strdup("");
	memset(s, 0, sizeof *s);
	return r;
}

/* The string member key of obj, or NULL when absent, not a string or "". */
static const char *
jstr(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);
	const char *s;

	if (!json_is_string(v))
		return NULL;
	s = json_string_value(v);
	return s[0] != '\0' ? s : NULL;
}

/* A non-empty string that is not only blanks. */
static const char *
nonblank(const char *s)
{
	const char *p;

	if (s == NULL)
		return NULL;
	for (p = s; *p != '\0'; p++)
		if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
			return s;
	return NULL;
}

static int
has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* "YYYY-MM-DD.json" exactly. */
static int
is_day_name(const char *s)
{
	static const char pat[] = "dddd-dd-dd.json";
	size_t i;

	for (i = 0; pat[i] != '\0'; i++) {
		if (pat[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != pat[i])
			return 0;
	}
	return s[i] == '\0';
}

/*
 * Slack "ts": decimal seconds, optionally "." and up to 9 fraction digits
 * (microseconds in practice).  *ms receives Unix milliseconds (the fraction
 * truncated).  Returns 0 or -EINVAL.
 */
static int
parse_ts(const char *s, int64_t *ms)
{
	int64_t sec = 0, frac = 0;
	size_t i = 0, nd = 0, nf = 0;

	if (s == NULL)
		return -EINVAL;
	for (; s[i] >= '0' && s[i] <= '9'; i++, nd++) {
		if (nd == 15)
			return -EINVAL;
		sec = sec * 10 + (s[i] - '0');
	}
	if (nd == 0)
		return -EINVAL;
	if (s[i] == '.') {
		for (i++; s[i] >= '0' && s[i] <= '9'; i++, nf++) {
			if (nf == 9)
				return -EINVAL;
			if (nf < 3)
				frac = frac * 10 + (s[i] - '0');
		}
		if (nf == 0)
			return -EINVAL;
	}
	if (s[i] != '\0')
		return -EINVAL;
	for (; nf < 3; nf++)
		frac *= 10;
	*ms = sec * 1000 + frac;
	return 0;
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
	snprintf(why, whylen, "%d: invalid JSON: %s (column %d)", e->line, text, e->column);
	cf_wipe(text, sizeof text);
}

/* ---- the export as a source of files ------------------------------------- */

/* How errors name rel: "ROOT/REL" for a folder, "ZIP:PREFIXREL" for a zip. */
static void
src_label(const struct slk_ctx *c, const char *rel, char *buf, size_t n)
{
	if (c->zip != NULL)
		snprintf(buf, n, "%s:%s%s", c->path, c->prefix, rel);
	else
		snprintf(buf, n, "%s/%s", c->root, rel);
}

static int
read_fd(int fd, const char *label, char **buf, size_t *len)
{
	struct stat st;
	size_t got = 0;
	ssize_t r;
	char *p;
	int rc;

	if (fstat(fd, &st) != 0) {
		rc = -errno;
		cf_error("%s: %s", label, strerror(-rc));
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		cf_error("%s: not a regular file", label);
		return -EINVAL;
	}
	if ((uint64_t)st.st_size > SLK_FILE_MAX) {
		cf_error("%s: too large (over %u MB)", label, SLK_FILE_MAX >> 20);
		return -EFBIG;
	}
	if ((p = malloc((size_t)st.st_size + 1)) == NULL) {
		cf_error("%s: %s", label, strerror(ENOMEM));
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		r = read(fd, p + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			cf_error("%s: %s", label, strerror(-rc));
			cf_wipe(p, got);
			free(p);
			return rc;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	p[got] = '\0';
	*buf = p;
	*len = got;
	return 0;
}

static int
zip_read_member(struct slk_ctx *c, zip_int64_t idx, const char *label, char **buf,
    size_t *len)
{
	zip_stat_t zs;
	zip_file_t *zf = NULL;
	zip_int64_t r;
	size_t got = 0;
	char *p = NULL;
	int rc;

	zip_stat_init(&zs);
	if (zip_stat_index(c->zip, (zip_uint64_t)idx, 0, &zs) != 0 ||
	    !(zs.valid & ZIP_STAT_SIZE)) {
		cf_error("%s: %s", label, zip_strerror(c->zip));
		return -EIO;
	}
	if (zs.size > SLK_FILE_MAX) {
		cf_error("%s: too large (over %u MB)", label, SLK_FILE_MAX >> 20);
		return -EFBIG;
	}
	if ((p = malloc((size_t)zs.size + 1)) == NULL) {
		cf_error("%s: %s", label, strerror(ENOMEM));
		return -ENOMEM;
	}
	if ((zf = zip_fopen_index(c->zip, (zip_uint64_t)idx, 0)) == NULL) {
		cf_error("%s: %s", label, zip_strerror(c->zip));
		rc = -EIO;
		goto out;
	}
	while (got < (size_t)zs.size) {
		r = zip_fread(zf, p + got, (zip_uint64_t)((size_t)zs.size - got));
		if (r < 0) {
			cf_error("%s: %s", label, zip_file_strerror(zf));
			rc = -EIO;
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	if (got != (size_t)zs.size) {
		cf_error("%s: truncated zip member", label);
		rc = -EIO;
		goto out;
	}
	p[got] = '\0';
	*buf = p;
	*len = got;
	p = NULL;
	rc = 0;
out:
	if (zf != NULL && zip_fclose(zf) != 0 && rc == 0) {
		cf_error("%s: damaged zip member", label);
		cf_wipe(*buf, *len);
		free(*buf);
		*buf = NULL;
		rc = -EIO;
	}
	if (p != NULL) {
		cf_wipe(p, got);
		free(p);
	}
	return rc;
}

/*
 * Read file rel of the export into *buf (NUL-terminated, wipe and free it).
 * missing_ok: an absent file gives -ENOENT without a report.  Returns 0 or
 * -errno (reported).
 */
static int
src_read(struct slk_ctx *c, const char *rel, int missing_ok, char **buf, size_t *len)
{
	char label[2 * PATH_MAX], name[PATH_MAX];
	zip_int64_t idx;
	int fd, rc;

	*buf = NULL;
	*len = 0;
	src_label(c, rel, label, sizeof label);
	if (c->zip != NULL) {
		if (cf_path(name, sizeof name, "%s%s", c->prefix, rel) < 0) {
			cf_error("%s: %s", label, strerror(ENAMETOOLONG));
			return -ENAMETOOLONG;
		}
		idx = zip_name_locate(c->zip, name, 0);
		if (idx < 0) {
			if (missing_ok)
				return -ENOENT;
			cf_error("%s: no such member", label);
			return -ENOENT;
		}
		return zip_read_member(c, idx, label, buf, len);
	}
	if (cf_path(name, sizeof name, "%s/%s", c->root, rel) < 0) {
		cf_error("%s: %s", label, strerror(ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	fd = open(name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		if (rc == -ENOENT && missing_ok)
			return rc;
		cf_error("%s: %s", label, rc == -ELOOP ? "is a symbolic link" : strerror(-rc));
		return rc;
	}
	rc = read_fd(fd, label, buf, len);
	(void)close(fd);        /* read-only: nothing to lose */
	return rc;
}

/* Parse file rel as JSON into *root.  Returns 0, -ENOENT (missing_ok and
 * absent, not reported), -EINVAL (reported) or -errno. */
static int
src_json(struct slk_ctx *c, const char *rel, int missing_ok, json_t **root)
{
	char label[2 * PATH_MAX], why[JSON_ERROR_TEXT_LENGTH + 64];
	json_error_t jerr;
	char *buf;
	size_t len;
	int rc;

	*root = NULL;
	if ((rc = src_read(c, rel, missing_ok, &buf, &len)) < 0)
		return rc;
	*root = json_loadb(buf, len, JSON_DECODE_ANY, &jerr);
	cf_wipe(buf, len);
	free(buf);
	if (*root != NULL)
		return 0;
	src_label(c, rel, label, sizeof label);
	if (json_error_code(&jerr) == json_error_out_of_memory) {
		cf_error("%s: %s", label, strerror(ENOMEM));
		rc = -ENOMEM;
	} else {
		json_reason(&jerr, why, sizeof why);
		cf_error("%s:%s", label, why);
		rc = -EINVAL;
	}
	cf_wipe(&jerr, sizeof jerr);
	return rc;
}

static int
day_add(struct slk_ctx *c, const char *folder, size_t flen, const char *name)
{
	struct slk_day *nd;
	size_t cap;

	if (c->ndays == c->capdays) {
		cap = c->capdays ? c->capdays * 2 : 64;
		if ((nd = realloc(c->days, cap * sizeof *nd)) == NULL)
			goto nomem;
		c->days = nd;
		c->capdays = cap;
	}
	nd = &c->days[c->ndays];
	nd->folder = strndup(folder, flen);
	nd->name = strdup(name);
	if (nd->folder == NULL || nd->name == NULL) {
		free(nd->folder);
		free(nd->name);
		goto nomem;
	}
	c->ndays++;
	return 0;
nomem:
	cf_error("%s: %s", c->path, strerror(ENOMEM));
	return -ENOMEM;
}

static int
day_cmp(const void *a, const void *b)
{
	const struct slk_day *x = a, *y = b;
	int r = strcmp(x->folder, y->folder);

	return r != 0 ? r : strcmp(x->name, y->name);
}

/* A zip member name we refuse: absolute, or with a ".." component. */
static int
unsafe_name(const char *s)
{
	const char *p = s;

	if (s[0] == '/' || s[0] == '\\')
		return 1;
	while (*p != '\0') {
		size_t n = strcspn(p, "/\\");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return 1;
		p += n;
		if (*p != '\0')
			p++;
	}
	return 0;
}

static int
is_list_name(const char *s)
{
	size_t i;

	if (strcmp(s, "users.json") == 0)
		return 1;
	for (i = 0; i < LIST_N; i++)
		if (strcmp(s, list_files[i]) == 0)
			return 1;
	return 0;
}

/*
 * Where the export's root is inside zip z: "" when users.json or a list
 * file is at the top, "TOP/" when it is inside one folder.  Returns 1 with
 * prefix set, 0 when the zip holds no Slack export.  Also refuses unsafe
 * member names when report is set (-EINVAL, reported).
 */
static int
zip_find_root(zip_t *z, const char *path, int report, char *prefix, size_t n)
{
	zip_int64_t i, count = zip_get_num_entries(z, 0);
	const char *name, *slash;
	int found = 0;

	prefix[0] = '\0';
	for (i = 0; i < count; i++) {
		if ((name = zip_get_name(z, (zip_uint64_t)i, 0)) == NULL)
			continue;
		if (unsafe_name(name)) {
			/* detect() still says "Slack" so that parse() explains */
			if (!report)
				continue;
			cf_error("%s: member with an unsafe name (absolute or \"..\")", path);
			return -EINVAL;
		}
		if (strncmp(name, "__MACOSX/", 9) == 0)
			continue;
		slash = strchr(name, '/');
		if (slash == NULL) {
			if (is_list_name(name)) {
				prefix[0] = '\0';
				found = 2;      /* the top wins over a folder */
			}
		} else if (found < 2 && strchr(slash + 1, '/') == NULL &&
		    is_list_name(slash + 1) && (size_t)(slash - name) + 2 <= n) {
			memcpy(prefix, name, (size_t)(slash - name) + 1);
			prefix[slash - name + 1] = '\0';
			found = 1;
		}
	}
	return found != 0;
}

/* Every FOLDER/YYYY-MM-DD.json member below the prefix. */
static int
zip_list_days(struct slk_ctx *c)
{
	zip_int64_t i, count = zip_get_num_entries(c->zip, 0);
	size_t plen = strlen(c->prefix);
	const char *name, *rel, *slash;
	int rc;

	for (i = 0; i < count; i++) {
		if ((name = zip_get_name(c->zip, (zip_uint64_t)i, 0)) == NULL)
			continue;
		if (strncmp(name, "__MACOSX/", 9) == 0 || strncmp(name, c->prefix, plen) != 0)
			continue;
		rel = name + plen;
		slash = strchr(rel, '/');
		if (slash == NULL || slash == rel || !is_day_name(slash + 1))
			continue;
		if ((rc = day_add(c, rel, (size_t)(slash - rel), slash + 1)) < 0)
			return rc;
	}
	return 0;
}

/* Every FOLDER/YYYY-MM-DD.json below the root folder; symbolic links are
 * refused rather than followed. */
static int
dir_list_days(struct slk_ctx *c)
{
	char sub[PATH_MAX];
	struct dirent *e, *f;
	struct stat st;
	DIR *top = NULL, *d = NULL;
	int rc = 0;

	if ((top = opendir(c->root)) == NULL) {
		rc = -errno;
		cf_error("%s: %s", c->root, strerror(-rc));
		return rc;
	}
	for (;;) {
		errno = 0;
		if ((e = readdir(top)) == NULL) {
			if (errno != 0) {
				rc = -errno;
				cf_error("%s: %s", c->root, strerror(-rc));
			}
			break;
		}
		if (e->d_name[0] == '.' || strcmp(e->d_name, "__MACOSX") == 0)
			continue;
		if (cf_path(sub, sizeof sub, "%s/%s", c->root, e->d_name) < 0) {
			cf_error("%s/%s: %s", c->root, e->d_name, strerror(ENAMETOOLONG));
			rc = -ENAMETOOLONG;
			break;
		}
		if (lstat(sub, &st) != 0) {
			rc = -errno;
			cf_error("%s: %s", sub, strerror(-rc));
			break;
		}
		if (S_ISLNK(st.st_mode)) {
			cf_error("%s: is a symbolic link", sub);
			rc = -EINVAL;
			break;
		}
		if (!S_ISDIR(st.st_mode))
			continue;
		if ((d = opendir(sub)) == NULL) {
			rc = -errno;
			cf_error("%s: %s", sub, strerror(-rc));
			break;
		}
		for (;;) {
			errno = 0;
			if ((f = readdir(d)) == NULL) {
				if (errno != 0) {
					rc = -errno;
					cf_error("%s: %s", sub, strerror(-rc));
				}
				break;
			}
			if (!is_day_name(f->d_name))
				continue;
			if ((rc = day_add(c, e->d_name, strlen(e->d_name), f->d_name)) < 0)
				break;
		}
		(void)closedir(d);
		d = NULL;
		if (rc < 0)
			break;
	}
	(void)closedir(top);
	return rc;
}

/* ---- users and conversation lists ------------------------------------------ */

/* Display name of a user object or profile: profile.display_name, then
 * profile.real_name, then real_name, then name; NULL when none is set. */
static const char *
user_display(const json_t *u)
{
	const json_t *p = json_object_get(u, "profile");
	const char *s;

	if (json_is_object(p)) {
		if ((s = nonblank(jstr(p, "display_name"))) != NULL ||
		    (s = nonblank(jstr(p, "real_name"))) != NULL)
			return s;
	}
	if ((s = nonblank(jstr(u, "real_name"))) != NULL ||
	    (s = nonblank(jstr(u, "name"))) != NULL)
		return s;
	return NULL;
}

static int
nomem(const struct slk_ctx *c)
{
	cf_error("%s: %s", c->path, strerror(ENOMEM));
	return -ENOMEM;
}

/* users.json: id -> display name. */
static int
load_users(struct slk_ctx *c)
{
	char label[2 * PATH_MAX];
	const char *id, *name;
	json_t *root, *u;
	size_t i;
	int rc;

	if ((rc = src_json(c, "users.json", 1, &root)) == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	if (!json_is_array(root)) {
		src_label(c, "users.json", label, sizeof label);
		cf_error("%s: not a JSON array of users", label);
		rc = -EINVAL;
		goto out;
	}
	json_array_foreach(root, i, u) {
		if ((id = jstr(u, "id")) == NULL || (name = user_display(u)) == NULL)
			continue;
		if (json_object_set_new(c->users, id, json_string(name)) != 0) {
			rc = nomem(c);
			goto out;
		}
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

/* The name of user id: users.json, else the message's user_profile snapshot
 * when it is that user's, else the id itself. */
static const char *
user_name(const struct slk_ctx *c, const char *id, const json_t *msg)
{
	const json_t *v = json_object_get(c->users, id);
	const json_t *prof;
	const char *s;

	if (json_is_string(v))
		return json_string_value(v);
	if (msg != NULL && (s = jstr(msg, "user")) != NULL && strcmp(s, id) == 0) {
		prof = json_object_get(msg, "user_profile");
		if (json_is_object(prof)) {
			if ((s = nonblank(jstr(prof, "display_name"))) != NULL ||
			    (s = nonblank(jstr(prof, "real_name"))) != NULL ||
			    (s = nonblank(jstr(prof, "name"))) != NULL)
				return s;
		}
	}
	return id;
}

/* "Ann, Bob" from a members array (ids resolved), or NULL when empty. */
static char *
member_names(const struct slk_ctx *c, const json_t *members)
{
	struct sbuf s = { 0 };
	const json_t *v;
	size_t i;

	if (!json_is_array(members) || json_array_size(members) == 0)
		return NULL;
	json_array_foreach(members, i, v) {
		if (!json_is_string(v))
			continue;
		if (s.n > 0)
			sb_puts(&s, ", ");
		sb_puts(&s, user_name(c, json_string_value(v), NULL));
	}
	if (s.n == 0 && !s.err) {
		sb_free(&s);
		return NULL;
	}
	return sb_take(&s);
}

/* Record conversation {id, title, where} under folder key (first one wins). */
static int
conv_put(struct slk_ctx *c, const char *key, const char *id, const char *title,
    const char *where)
{
	json_t *o;

	if (key == NULL || json_object_get(c->convs, key) != NULL)
		return 0;
	o = json_pack("{s:s, s:s, s:s}", "id", id, "title", title, "where", where);
	if (o == NULL || json_object_set_new(c->convs, key, o) != 0)
		return nomem(c);
	return 0;
}

/* One entry of a list file. */
static int
load_conv(struct slk_ctx *c, enum slk_list which, const json_t *e)
{
	const char *id = jstr(e, "id"), *name = jstr(e, "name");
	char *title = NULL, *names = NULL;
	int rc = 0;

	if (id == NULL)
		return 0;
	if (which == LIST_CHANNELS || which == LIST_GROUPS) {
		if (name == NULL)
			name = id;
		if (asprintf(&title, "#%s", name) < 0) {
			title = NULL;
			return nomem(c);
		}
		if (json_object_get(c->chans, id) == NULL &&
		    json_object_set_new(c->chans, id, json_string(name)) != 0)
			rc = nomem(c);
		/* folders are named after the channel; some tools use the id */
		if (rc == 0)
			rc = conv_put(c, name, id, title, title);
		if (rc == 0)
			rc = conv_put(c, id, id, title, title);
	} else {
		names = member_names(c, json_object_get(e, "members"));
		title = strdup(names != NULL ? names : name != NULL ? name : id);
		if (title == NULL) {
			cf_free_wiped(names);
			return nomem(c);
		}
		/* dms: folder named by id; mpims: by name (mpdm-…) */
		rc = conv_put(c, which == LIST_DMS ? id : name, id, title, "the conversation");
		if (rc == 0)
			rc = conv_put(c, which == LIST_DMS ? name : id, id, title,
			    "the conversation");
	}
	cf_free_wiped(names);
	cf_free_wiped(title);
	return rc;
}

static int
load_lists(struct slk_ctx *c)
{
	char label[2 * PATH_MAX];
	json_t *root, *e;
	size_t i;
	int l, rc = 0;

	for (l = 0; l < LIST_N && rc == 0; l++) {
		if ((rc = src_json(c, list_files[l], 1, &root)) == -ENOENT) {
			rc = 0;
			continue;
		}
		if (rc < 0)
			break;
		if (!json_is_array(root)) {
			src_label(c, list_files[l], label, sizeof label);
			cf_error("%s: not a JSON array of conversations", label);
			rc = -EINVAL;
		} else {
			json_array_foreach(root, i, e) {
				if ((rc = load_conv(c, (enum slk_list)l, e)) < 0)
					break;
			}
		}
		json_decref(root);
	}
	return rc;
}

/* ---- mrkdwn and blocks to text ------------------------------------------------ */

/* Text with &amp; &lt; &gt; decoded (the only escapes Slack uses). */
static void
put_decoded(struct sbuf *s, const char *p, size_t n)
{
	size_t i = 0, start = 0;

	while (i < n) {
		if (p[i] == '&') {
			const char *rep = NULL;
			size_t skip = 0;

			if (n - i >= 5 && memcmp(p + i, "&amp;", 5) == 0)
				rep = "&", skip = 5;
			else if (n - i >= 4 && memcmp(p + i, "&lt;", 4) == 0)
				rep = "<", skip = 4;
			else if (n - i >= 4 && memcmp(p + i, "&gt;", 4) == 0)
				rep = ">", skip = 4;
			if (rep != NULL) {
				sb_putn(s, p + start, i - start);
				sb_puts(s, rep);
				i += skip;
				start = i;
				continue;
			}
		}
		i++;
	}
	sb_putn(s, p + start, n - start);
}

static void
put_decoded_str(struct sbuf *s, const char *p)
{
	put_decoded(s, p, strlen(p));
}

/* Name of a channel id for "#name": channels.json / groups.json, or the id. */
static const char *
chan_name(const struct slk_ctx *c, const char *id)
{
	const json_t *v = json_object_get(c->chans, id);

	return json_is_string(v) ? json_string_value(v) : id;
}

/* One <…> reference, content without the brackets: <@U…>, <#C…|name>,
 * <!here>, <!subteam^S…|@team>, <!date^…|fallback>, <url|label>. */
static void
put_ref(const struct slk_ctx *c, struct sbuf *s, const char *p, size_t n)
{
	const char *bar = memchr(p, '|', n), *label = NULL;
	size_t tlen = bar != NULL ? (size_t)(bar - p) : n, llen = 0;
	char *target;

	if (bar != NULL) {
		label = bar + 1;
		llen = n - tlen - 1;
	}
	if (tlen == 0) {
		/* not a reference: keep it as it was written */
		sb_puts(s, "<");
		put_decoded(s, p, n);
		sb_puts(s, ">");
		return;
	}
	if ((target = strndup(p, tlen)) == NULL) {
		s->err = 1;
		return;
	}

	if (target[0] == '@') {
		const json_t *v = json_object_get(c->users, target + 1);

		sb_puts(s, "@");
		if (json_is_string(v))
			sb_puts(s, json_string_value(v));
		else if (llen > 0)
			put_decoded(s, label[0] == '@' ? label + 1 : label,
			    label[0] == '@' ? llen - 1 : llen);
		else
			sb_puts(s, target + 1);
	} else if (target[0] == '#') {
		const json_t *v = json_object_get(c->chans, target + 1);

		sb_puts(s, "#");
		if (json_is_string(v))
			sb_puts(s, json_string_value(v));
		else if (llen > 0)
			put_decoded(s, label, llen);
		else
			sb_puts(s, target + 1);
	} else if (target[0] == '!') {
		const char *cmd = target + 1;

		if (llen > 0) {
			put_decoded(s, label, llen);
		} else if (strncmp(cmd, "subteam^", 8) == 0) {
			sb_puts(s, "@");
			sb_puts(s, cmd + 8);
		} else if (strncmp(cmd, "date^", 5) == 0) {
			/* no fallback: the epoch seconds as written */
			sb_putn(s, cmd + 5, strcspn(cmd + 5, "^"));
		} else {
			sb_puts(s, "@");
			sb_puts(s, cmd);
		}
	} else {
		const char *rest = NULL;

		if (strncmp(target, "mailto:", 7) == 0)
			rest = target + 7;
		else if (strncmp(target, "tel:", 4) == 0)
			rest = target + 4;
		if (llen == 0 || (llen == tlen && memcmp(label, target, tlen) == 0)) {
			put_decoded_str(s, target);
		} else if (rest != NULL && strlen(rest) == llen && memcmp(rest, label, llen) == 0) {
			put_decoded(s, label, llen);
		} else {
			put_decoded(s, label, llen);
			sb_puts(s, " (");
			put_decoded_str(s, target);
			sb_puts(s, ")");
		}
	}
	cf_free_wiped(target);
}

/* Slack mrkdwn as the user reads it. */
static void
put_mrkdwn(const struct slk_ctx *c, struct sbuf *s, const char *t)
{
	const char *lt, *gt, *again;

	while (*t != '\0') {
		if ((lt = strchr(t, '<')) == NULL) {
			put_decoded_str(s, t);
			return;
		}
		put_decoded(s, t, (size_t)(lt - t));
		if ((gt = strchr(lt + 1, '>')) == NULL) {
			put_decoded_str(s, lt);
			return;
		}
		again = memchr(lt + 1, '<', (size_t)(gt - lt - 1));
		if (again != NULL) {
			/* "<" that opens nothing: literal up to the next one */
			put_decoded(s, lt, (size_t)(again - lt));
			t = again;
			continue;
		}
		put_ref(c, s, lt + 1, (size_t)(gt - lt - 1));
		t = gt + 1;
	}
}

/* Inline elements of a rich_text container. */
static void
put_rich_inline(const struct slk_ctx *c, struct sbuf *s, const json_t *els)
{
	const char *type, *v, *u;
	const json_t *e;
	size_t i;

	if (!json_is_array(els))
		return;
	json_array_foreach(els, i, e) {
		if ((type = jstr(e, "type")) == NULL)
			continue;
		if (strcmp(type, "text") == 0) {
			if ((v = jstr(e, "text")) != NULL)
				sb_puts(s, v);
		} else if (strcmp(type, "link") == 0) {
			u = jstr(e, "url");
			v = jstr(e, "text");
			if (v != NULL && (u == NULL || strcmp(u, v) != 0)) {
				sb_puts(s, v);
				if (u != NULL) {
					sb_puts(s, " (");
					sb_puts(s, u);
					sb_puts(s, ")");
				}
			} else if (u != NULL) {
				sb_puts(s, u);
			}
		} else if (strcmp(type, "user") == 0) {
			if ((v = jstr(e, "user_id")) != NULL) {
				sb_puts(s, "@");
				sb_puts(s, user_name(c, v, NULL));
			}
		} else if (strcmp(type, "channel") == 0) {
			if ((v = jstr(e, "channel_id")) != NULL) {
				sb_puts(s, "#");
				sb_puts(s, chan_name(c, v));
			}
		} else if (strcmp(type, "emoji") == 0) {
			if ((v = jstr(e, "name")) != NULL) {
				sb_puts(s, ":");
				sb_puts(s, v);
				sb_puts(s, ":");
			}
		} else if (strcmp(type, "usergroup") == 0) {
			if ((v = jstr(e, "usergroup_id")) != NULL) {
				sb_puts(s, "@");
				sb_puts(s, v);
			}
		} else if (strcmp(type, "broadcast") == 0) {
			if ((v = jstr(e, "range")) != NULL) {
				sb_puts(s, "@");
				sb_puts(s, v);
			}
		} else if (strcmp(type, "date") == 0) {
			if ((v = jstr(e, "fallback")) != NULL)
				sb_puts(s, v);
		} else if ((v = jstr(e, "text")) != NULL) {
			sb_puts(s, v);
		}
	}
}

static void
put_rich_text(const struct slk_ctx *c, struct sbuf *s, const json_t *els)
{
	const char *type, *style;
	const json_t *e, *item;
	size_t i, j;

	if (!json_is_array(els))
		return;
	json_array_foreach(els, i, e) {
		if ((type = jstr(e, "type")) == NULL)
			continue;
		if (!sb_ends_nl(s))
			sb_puts(s, "\n");
		if (strcmp(type, "rich_text_preformatted") == 0) {
			sb_puts(s, "```");
			put_rich_inline(c, s, json_object_get(e, "elements"));
			sb_puts(s, "```");
		} else if (strcmp(type, "rich_text_quote") == 0) {
			sb_puts(s, "> ");
			put_rich_inline(c, s, json_object_get(e, "elements"));
		} else if (strcmp(type, "rich_text_list") == 0) {
			style = jstr(e, "style");
			json_array_foreach(json_object_get(e, "elements"), j, item) {
				if (j > 0)
					sb_puts(s, "\n");
				if (style != NULL && strcmp(style, "ordered") == 0) {
					char num[24];

					snprintf(num, sizeof num, "%zu. ", j + 1);
					sb_puts(s, num);
				} else {
					sb_puts(s, "\xe2\x80\xa2 ");        /* U+2022 bullet */
				}
				put_rich_inline(c, s, json_object_get(item, "elements"));
			}
		} else {
			put_rich_inline(c, s, json_object_get(e, "elements"));
		}
	}
}

/* A text object {type: mrkdwn|plain_text, text}. */
static void
put_text_obj(const struct slk_ctx *c, struct sbuf *s, const json_t *t)
{
	const char *type = jstr(t, "type"), *v = jstr(t, "text");

	if (v == NULL)
		return;
	if (type != NULL && strcmp(type, "mrkdwn") == 0)
		put_mrkdwn(c, s, v);
	else
		sb_puts(s, v);
}

/* Block Kit blocks as text, one block per line (used when "text" is empty). */
static void
put_blocks(const struct slk_ctx *c, struct sbuf *s, const json_t *blocks)
{
	const char *type;
	const json_t *bl, *e;
	size_t i, j, n0;

	if (!json_is_array(blocks))
		return;
	json_array_foreach(blocks, i, bl) {
		if ((type = jstr(bl, "type")) == NULL)
			continue;
		n0 = s->n;
		if (!sb_ends_nl(s))
			sb_puts(s, "\n");
		if (strcmp(type, "rich_text") == 0) {
			put_rich_text(c, s, json_object_get(bl, "elements"));
		} else if (strcmp(type, "section") == 0 || strcmp(type, "header") == 0) {
			put_text_obj(c, s, json_object_get(bl, "text"));
			json_array_foreach(json_object_get(bl, "fields"), j, e) {
				sb_puts(s, "\n");
				put_text_obj(c, s, e);
			}
		} else if (strcmp(type, "context") == 0) {
			json_array_foreach(json_object_get(bl, "elements"), j, e) {
				if (jstr(e, "text") == NULL)
					continue;
				if (!sb_ends_nl(s))
					sb_puts(s, " ");
				put_text_obj(c, s, e);
			}
		}
		/* nothing written for this block: drop the separator */
		if (!s->err && s->n == n0 + 1 && s->p[n0] == '\n') {
			s->n = n0;
			s->p[n0] = '\0';
		}
	}
}

/* Legacy attachments[]: pretext, title (link), text, fields; the fallback
 * when none of those is set.  Each on its own line after the body. */
static void
put_legacy_attachments(const struct slk_ctx *c, struct sbuf *s, const json_t *atts)
{
	const char *pre, *title, *link, *text, *fb, *ft, *fv;
	const json_t *a, *f;
	size_t i, j;

#define LINE() do { if (s->n > 0) sb_puts(s, "\n"); } while (0)
	if (!json_is_array(atts))
		return;
	json_array_foreach(atts, i, a) {
		int any = 0;

		if (!json_is_object(a))
			continue;
		pre = jstr(a, "pretext");
		title = jstr(a, "title");
		link = jstr(a, "title_link");
		text = jstr(a, "text");
		fb = jstr(a, "fallback");
		if (pre != NULL) {
			LINE();
			put_mrkdwn(c, s, pre);
			any = 1;
		}
		if (title != NULL) {
			LINE();
			put_mrkdwn(c, s, title);
			if (link != NULL) {
				sb_puts(s, " (");
				put_decoded_str(s, link);
				sb_puts(s, ")");
			}
			any = 1;
		}
		if (text != NULL) {
			LINE();
			put_mrkdwn(c, s, text);
			any = 1;
		}
		json_array_foreach(json_object_get(a, "fields"), j, f) {
			ft = jstr(f, "title");
			fv = jstr(f, "value");
			if (ft == NULL && fv == NULL)
				continue;
			LINE();
			if (ft != NULL) {
				put_mrkdwn(c, s, ft);
				sb_puts(s, ": ");
			}
			if (fv != NULL)
				put_mrkdwn(c, s, fv);
			any = 1;
		}
		if (!any && fb != NULL) {
			LINE();
			put_mrkdwn(c, s, fb);
		}
	}
#undef LINE
}

/* ---- messages ----------------------------------------------------------------- */

static int
is_system(const char *subtype)
{
	size_t i;

	if (subtype == NULL)
		return 0;
	for (i = 0; system_subtypes[i] != NULL; i++)
		if (strcmp(system_subtypes[i], subtype) == 0)
			return 1;
	return 0;
}

/* The readable line of a system event. */
static void
put_system(const struct slk_ctx *c, struct sbuf *s, const struct slk_conv *cv,
    const char *sub, const json_t *m)
{
	const char *user = jstr(m, "user"), *inviter = jstr(m, "inviter");
	const char *actor = user != NULL ? user_name(c, user, m) : "Someone";
	const char *text = jstr(m, "text"), *verb = NULL, *v;

	if (strncmp(sub, "channel_", 8) == 0)
		verb = sub + 8;
	else if (strncmp(sub, "group_", 6) == 0)
		verb = sub + 6;
	if (verb != NULL && (strcmp(verb, "join") == 0 || strcmp(verb, "leave") == 0 ||
	    strcmp(verb, "archive") == 0 || strcmp(verb, "unarchive") == 0)) {
		sb_puts(s, actor);
		sb_puts(s, strcmp(verb, "join") == 0 ? " joined " :
		    strcmp(verb, "leave") == 0 ? " left " :
		    strcmp(verb, "archive") == 0 ? " archived " : " unarchived ");
		sb_puts(s, cv->where);
		if (inviter != NULL && strcmp(verb, "join") == 0) {
			sb_puts(s, " (invited by ");
			sb_puts(s, user_name(c, inviter, NULL));
			sb_puts(s, ")");
		}
		return;
	}
	if (verb != NULL && (strcmp(verb, "topic") == 0 || strcmp(verb, "purpose") == 0) &&
	    json_is_string(json_object_get(m, verb))) {
		v = jstr(m, verb);
		sb_puts(s, actor);
		sb_puts(s, v != NULL ? " set the " : " cleared the ");
		sb_puts(s, verb);
		sb_puts(s, " of ");
		sb_puts(s, cv->where);
		if (v != NULL) {
			sb_puts(s, ": ");
			put_mrkdwn(c, s, v);
		}
		return;
	}
	if (verb != NULL && strcmp(verb, "name") == 0 && (v = jstr(m, "name")) != NULL) {
		const char *old = jstr(m, "old_name");

		sb_puts(s, actor);
		sb_puts(s, " renamed the channel ");
		if (old != NULL) {
			sb_puts(s, "from #");
			sb_puts(s, old);
			sb_puts(s, " ");
		}
		sb_puts(s, "to #");
		sb_puts(s, v);
		return;
	}
	if (strcmp(sub, "pinned_item") == 0 || strcmp(sub, "unpinned_item") == 0) {
		sb_puts(s, actor);
		sb_puts(s, sub[0] == 'p' ? " pinned a message to " : " unpinned a message from ");
		sb_puts(s, cv->where);
		return;
	}
	if (strcmp(sub, "tombstone") == 0) {
		sb_puts(s, "This message was deleted.");
		return;
	}
	/* other events: Slack's own text, with the actor in front when the text
	 * does not start with a mention ("added an integration …") */
	if (text == NULL) {
		sb_puts(s, actor);
		sb_puts(s, " (");
		sb_puts(s, sub);
		sb_puts(s, ")");
		return;
	}
	if (user != NULL && strncmp(text, "<@", 2) != 0) {
		sb_puts(s, actor);
		sb_puts(s, " ");
	}
	put_mrkdwn(c, s, text);
}

/* The sender shown for a non-system message, or NULL when unknown. */
static const char *
msg_sender(const struct slk_ctx *c, const json_t *m, const char *sub)
{
	const char *user = jstr(m, "user"), *bot = jstr(m, "bot_id"), *v;
	const json_t *bp = json_object_get(m, "bot_profile");

	if ((sub != NULL && strcmp(sub, "bot_message") == 0) || bot != NULL) {
		if ((v = nonblank(jstr(bp, "name"))) != NULL ||
		    (v = nonblank(jstr(m, "username"))) != NULL)
			return v;
		if (user != NULL && json_is_string(json_object_get(c->users, user)))
			return json_string_value(json_object_get(c->users, user));
		if (bot != NULL)
			return bot;
	}
	if (user != NULL)
		return user_name(c, user, m);
	/* legacy file_comment: the commenter is in "comment" */
	if ((user = jstr(json_object_get(m, "comment"), "user")) != NULL)
		return user_name(c, user, NULL);
	return nonblank(jstr(m, "username"));
}

/* Fill extra; returns 0 or -ENOMEM. */
static int
build_extra(const struct slk_ctx *c, json_t *m, const char *ts, int system, json_t **out)
{
	json_t *x = json_object(), *arr = NULL, *by = NULL;
	const char *tts, *v, *name;
	const json_t *ed, *r, *u, *f;
	json_t *files[2], *e;
	int64_t ms;
	size_t i, j, k;
	int fail = 0;

	*out = NULL;
	if (x == NULL)
		return -ENOMEM;
	if (system)
		fail |= json_object_set_new(x, "kind", json_string("system"));
	tts = jstr(m, "thread_ts");
	if (tts != NULL && strcmp(tts, ts) != 0) {
		fail |= json_object_set_new(x, "reply_to", json_string(tts));
		fail |= json_object_set_new(x, "thread", json_string(tts));
	}
	ed = json_object_get(m, "edited");
	if (json_is_object(ed) && parse_ts(jstr(ed, "ts"), &ms) == 0)
		fail |= json_object_set_new(x, "edited_ts", json_integer(ms));

	r = json_object_get(m, "reactions");
	if (json_is_array(r) && json_array_size(r) > 0 && !fail) {
		if ((arr = json_array()) == NULL)
			goto nomem;
		json_array_foreach(r, i, e) {
			char emo[256];
			const json_t *cnt = json_object_get(e, "count");
			json_t *one;

			if ((name = jstr(e, "name")) == NULL)
				continue;
			if ((by = json_array()) == NULL)
				goto nomem;
			json_array_foreach(json_object_get(e, "users"), j, u) {
				if (json_is_string(u))
					fail |= json_array_append_new(by, json_string(
					    user_name(c, json_string_value(u), NULL)));
			}
			snprintf(emo, sizeof emo, ":%s:", name);
			one = json_pack("{s:s, s:o, s:I}", "emoji", emo, "by", by, "count",
			    json_is_integer(cnt) ? json_integer_value(cnt) :
			    (json_int_t)json_array_size(by));
			by = NULL;      /* stolen by json_pack, even on failure */
			if (one == NULL || json_array_append_new(arr, one) != 0)
				goto nomem;
		}
		if (json_array_size(arr) > 0)
			fail |= json_object_set_new(x, "reactions", arr);
		else
			json_decref(arr);
		arr = NULL;
	}

	files[0] = json_object_get(m, "files");
	files[1] = json_object_get(m, "file");
	for (k = 0; k < 2 && !fail; k++) {
		size_t n = k == 0 ? json_array_size(files[0]) : json_is_object(files[1]);

		for (i = 0; i < n; i++) {
			f = k == 0 ? json_array_get(files[0], i) : files[1];
			if (!json_is_object(f))
				continue;
			if ((name = jstr(f, "name")) == NULL && (name = jstr(f, "title")) == NULL &&
			    (name = jstr(f, "id")) == NULL)
				name = "file";
			v = jstr(f, "mode");
			if (arr == NULL && (arr = json_array()) == NULL)
				goto nomem;
			e = json_pack("{s:s, s:s}", "name", name, "reason",
			    v != NULL && strcmp(v, "tombstone") == 0 ? "deleted in Slack" :
			    SLK_MISSING_REASON);
			if (e == NULL || json_array_append_new(arr, e) != 0)
				goto nomem;
		}
	}
	if (arr != NULL) {
		fail |= json_object_set_new(x, "missing_attachments", arr);
		arr = NULL;
	}
	fail |= json_object_set(x, "source", m);
	if (fail)
		goto nomem;
	*out = x;
	return 0;
nomem:
	json_decref(by);
	json_decref(arr);
	json_decref(x);
	return -ENOMEM;
}

static char *
dump_compact(json_t *j)
{
	size_t n = json_dumpb(j, NULL, 0, JSON_COMPACT | JSON_PRESERVE_ORDER);
	char *p;

	if (n == 0 || (p = malloc(n + 1)) == NULL)
		return NULL;
	if (json_dumpb(j, p, n, JSON_COMPACT | JSON_PRESERVE_ORDER) != n) {
		free(p);
		return NULL;
	}
	p[n] = '\0';
	return p;
}

/* Message idx of file label (a JSON object) into the batch. */
static int
add_message(struct slk_ctx *c, const struct slk_conv *cv, json_t *m, const char *label,
    size_t idx)
{
	struct cf_msg msg;
	struct sbuf body = { 0 };
	const char *ts, *sub, *sender = NULL, *text;
	json_t *extra = NULL;
	int64_t ms;
	int rc, system;

	memset(&msg, 0, sizeof msg);
	if (!json_is_object(m)) {
		cf_error("%s: [%zu]: not a message object", label, idx);
		return -EINVAL;
	}
	ts = json_string_value(json_object_get(m, "ts"));
	if (ts == NULL) {
		cf_error("%s: [%zu].ts: missing or not a string", label, idx);
		return -EINVAL;
	}
	if (parse_ts(ts, &ms) < 0) {
		cf_error("%s: [%zu].ts: not a Slack timestamp", label, idx);
		return -EINVAL;
	}
	sub = jstr(m, "subtype");
	system = is_system(sub);

	if (system) {
		put_system(c, &body, cv, sub, m);
	} else {
		sender = msg_sender(c, m, sub);
		text = jstr(m, "text");
		if (text != NULL)
			put_mrkdwn(c, &body, text);
		else
			put_blocks(c, &body, json_object_get(m, "blocks"));
		put_legacy_attachments(c, &body, json_object_get(m, "attachments"));
	}
	if ((rc = build_extra(c, m, ts, system, &extra)) < 0)
		goto nomem;
	msg.ts_ms = ms;
	msg.id = strdup(ts);
	msg.ts_raw = strdup(ts);
	msg.sender = sender != NULL ? strdup(sender) : NULL;
	msg.body = sb_take(&body);
	msg.extra = dump_compact(extra);
	if (msg.id == NULL || msg.ts_raw == NULL || (sender != NULL && msg.sender == NULL) ||
	    msg.body == NULL || msg.extra == NULL)
		goto nomem;
	rc = cf_batch_add(c->b, cv->id, cv->title, &msg);       /* reports */
	goto out;
nomem:
	cf_error("%s: [%zu]: %s", label, idx, strerror(ENOMEM));
	rc = -ENOMEM;
out:
	sb_free(&body);
	if (extra != NULL) {
		/* "source" is still m, which the caller wipes */
		(void)json_object_del(extra, "source");
		json_decref(extra);
	}
	cf_msg_clear(&msg);
	return rc;
}

/* Every message of one parsed day file (an array) or lone message (an
 * object when lone_ok). */
static int
add_messages(struct slk_ctx *c, const struct slk_conv *cv, json_t *root, const char *label,
    int lone_ok)
{
	json_t *m;
	size_t i;
	int rc;

	if (lone_ok && json_is_object(root))
		return add_message(c, cv, root, label, 0);
	if (!json_is_array(root)) {
		cf_error("%s: not a JSON array of messages", label);
		return -EINVAL;
	}
	json_array_foreach(root, i, m) {
		if ((rc = add_message(c, cv, m, label, i)) < 0)
			return rc;
		if (++c->since_flush >= SLK_FLUSH_EVERY) {
			c->since_flush = 0;
			if ((rc = cf_import_maybe_flush(c->o, c->b)) < 0)
				return rc;
		}
	}
	return 0;
}

/* The conversation of folder (listed, or the folder name as id). */
static int
conv_for(struct slk_ctx *c, const char *folder, struct slk_conv *cv, char **owned)
{
	const json_t *e = json_object_get(c->convs, folder);

	*owned = NULL;
	if (e != NULL) {
		cv->id = jstr(e, "id");
		cv->title = jstr(e, "title");
		cv->where = jstr(e, "where");
		return 0;
	}
	if (asprintf(owned, "#%s", folder) < 0) {
		*owned = NULL;
		return nomem(c);
	}
	cv->id = folder;
	cv->title = *owned;
	cv->where = *owned;
	return 0;
}

/* Every day file listed in c->days, conversation by conversation. */
static int
add_days(struct slk_ctx *c)
{
	struct slk_conv cv;
	char rel[PATH_MAX], label[2 * PATH_MAX], *owned = NULL;
	json_t *root = NULL;
	size_t i;
	int rc = 0;

	qsort(c->days, c->ndays, sizeof *c->days, day_cmp);
	for (i = 0; i < c->ndays; i++) {
		if (i == 0 || strcmp(c->days[i].folder, c->days[i - 1].folder) != 0) {
			if (i > 0 && (rc = cf_import_maybe_flush(c->o, c->b)) < 0)
				break;
			free(owned);
			if ((rc = conv_for(c, c->days[i].folder, &cv, &owned)) < 0)
				break;
		}
		if (cf_path(rel, sizeof rel, "%s/%s", c->days[i].folder, c->days[i].name) < 0) {
			cf_error("%s: %s", c->path, strerror(ENAMETOOLONG));
			rc = -ENAMETOOLONG;
			break;
		}
		if ((rc = src_json(c, rel, 0, &root)) < 0)
			break;
		src_label(c, rel, label, sizeof label);
		rc = add_messages(c, &cv, root, label, 0);
		json_decref(root);
		root = NULL;
		if (rc < 0)
			break;
	}
	free(owned);
	return rc;
}

/* ---- detect and parse ------------------------------------------------------------ */

static int
ctx_init(struct slk_ctx *c, const char *path, struct cf_batch *b,
    const struct cf_import_opts *o)
{
	memset(c, 0, sizeof *c);
	c->path = path;
	c->b = b;
	c->o = o;
	c->users = json_object();
	c->chans = json_object();
	c->convs = json_object();
	if (c->users == NULL || c->chans == NULL || c->convs == NULL)
		return nomem(c);
	return 0;
}

static void
ctx_free(struct slk_ctx *c)
{
	size_t i;

	for (i = 0; i < c->ndays; i++) {
		free(c->days[i].folder);
		free(c->days[i].name);
	}
	free(c->days);
	json_decref(c->users);
	json_decref(c->chans);
	json_decref(c->convs);
	if (c->zip != NULL)
		zip_discard(c->zip);    /* opened read-only: nothing to write */
	memset(c, 0, sizeof *c);
}

/* Whether the folder at path holds users.json or a list file. */
static int
dir_has_lists(const char *path)
{
	char p[PATH_MAX];
	struct stat st;
	size_t i;

	if (cf_path(p, sizeof p, "%s/users.json", path) == 0 && lstat(p, &st) == 0 &&
	    S_ISREG(st.st_mode))
		return 1;
	for (i = 0; i < LIST_N; i++)
		if (cf_path(p, sizeof p, "%s/%s", path, list_files[i]) == 0 &&
		    lstat(p, &st) == 0 && S_ISREG(st.st_mode))
			return 1;
	return 0;
}

/* Open path as a zip (O_NOFOLLOW).  Returns the handle or NULL; *why gets
 * libzip's reason when it is a file that is not a readable zip. */
static zip_t *
zip_open_nofollow(const char *path, char *why, size_t whylen)
{
	zip_error_t ze;
	zip_t *z;
	int fd, err = 0;

	if (why != NULL)
		why[0] = '\0';
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (why != NULL)
			snprintf(why, whylen, "%s", errno == ELOOP ? "is a symbolic link" :
			    strerror(errno));
		return NULL;
	}
	z = zip_fdopen(fd, ZIP_RDONLY, &err);
	if (z == NULL) {
		(void)close(fd);        /* zip_fdopen keeps fd only on success */
		if (why != NULL) {
			zip_error_init_with_code(&ze, err);
			snprintf(why, whylen, "not a readable zip: %s", zip_error_strerror(&ze));
			zip_error_fini(&ze);
		}
	}
	return z;
}

/* First bytes of a regular file; n bytes read, or -1. */
static ssize_t
head_bytes(const char *path, char *buf, size_t cap)
{
	struct stat st;
	size_t got = 0;
	ssize_t r;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		(void)close(fd);
		return -1;
	}
	while (got < cap) {
		r = read(fd, buf + got, cap - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	(void)close(fd);
	return (ssize_t)got;
}

static int
is_zip_magic(const char *p, size_t n)
{
	return n >= 4 && p[0] == 'P' && p[1] == 'K' &&
	    ((p[2] == 3 && p[3] == 4) || (p[2] == 5 && p[3] == 6));
}

/* A Slack message object: "ts" a Slack timestamp and "type" "message". */
static int
looks_like_message(const json_t *m)
{
	const char *type = jstr(m, "type");
	int64_t ms;

	return json_is_object(m) && type != NULL && strcmp(type, "message") == 0 &&
	    parse_ts(jstr(m, "ts"), &ms) == 0;
}

/*
 * A folder holding users.json or a list file; a zip holding one (at the top
 * or inside one folder); or a JSON file whose first value (or first array
 * element) is a Slack message object.
 */
static int
slack_detect(const char *path)
{
	char *buf = NULL;
	struct stat st;
	json_error_t jerr;
	json_t *j = NULL;
	ssize_t n;
	size_t i;
	zip_t *z;
	char prefix[PATH_MAX];
	int found = 0;

	if (lstat(path, &st) != 0)
		return 0;
	if (S_ISDIR(st.st_mode))
		return dir_has_lists(path);
	if (!S_ISREG(st.st_mode) || (buf = malloc(SLK_DETECT_MAX)) == NULL)
		return 0;
	n = head_bytes(path, buf, SLK_DETECT_MAX);
	if (n <= 0)
		goto out;
	if (is_zip_magic(buf, (size_t)n)) {
		if ((z = zip_open_nofollow(path, NULL, 0)) != NULL) {
			found = zip_find_root(z, path, 0, prefix, sizeof prefix) == 1;
			zip_discard(z);
		}
		goto out;
	}
	i = 0;
	if (n >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < (size_t)n && strchr(" \t\r\n", buf[i]) != NULL && buf[i] != '\0')
		i++;
	if (i < (size_t)n && buf[i] == '[') {
		for (i++; i < (size_t)n && strchr(" \t\r\n", buf[i]) != NULL && buf[i] != '\0';)
			i++;
	}
	if (i >= (size_t)n || buf[i] != '{')
		goto out;
	j = json_loadb(buf + i, (size_t)n - i, JSON_DISABLE_EOF_CHECK, &jerr);
	found = looks_like_message(j);
out:
	json_decref(j);
	if (buf != NULL) {
		cf_wipe(buf, SLK_DETECT_MAX);
		free(buf);
	}
	return found;
}

/* path's last component and its parent folder. */
static int
split_path(const char *path, char *dir, size_t dn, char *base, size_t bn)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return cf_path(dir, dn, ".") < 0 || cf_path(base, bn, "%s", path) < 0 ?
		    -ENAMETOOLONG : 0;
	if (cf_path(base, bn, "%s", slash + 1) < 0 || (size_t)(slash - path) + 1 > dn)
		return -ENAMETOOLONG;
	if (slash == path) {
		snprintf(dir, dn, "/");
	} else {
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
	}
	return 0;
}

/*
 * A lone JSON file: a day file (array) or one message (object).  A day file
 * named YYYY-MM-DD.json inside an export folder (the grandparent holds
 * users.json or a list file) gets that export's names and conversation;
 * otherwise the conversation id is the parent folder's name for a day file,
 * or the file's name without ".json".
 */
static int
parse_lone(struct slk_ctx *c)
{
	char dir[PATH_MAX], base[PATH_MAX], pdir[PATH_MAX], folder[PATH_MAX];
	char label[2 * PATH_MAX], rel[PATH_MAX], *owned = NULL;
	struct slk_conv cv;
	json_t *root = NULL;
	int rc;

	if (split_path(c->path, dir, sizeof dir, base, sizeof base) < 0 ||
	    split_path(dir, pdir, sizeof pdir, folder, sizeof folder) < 0) {
		cf_error("%s: %s", c->path, strerror(ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	if (is_day_name(base) && folder[0] != '\0' && strcmp(folder, ".") != 0 &&
	    strcmp(folder, "..") != 0 && dir_has_lists(pdir)) {
		snprintf(c->root, sizeof c->root, "%s", pdir);
		if ((rc = load_users(c)) < 0 || (rc = load_lists(c)) < 0)
			return rc;
		if (cf_path(rel, sizeof rel, "%s/%s", folder, base) < 0) {
			cf_error("%s: %s", c->path, strerror(ENAMETOOLONG));
			return -ENAMETOOLONG;
		}
	} else {
		snprintf(c->root, sizeof c->root, "%s", dir);
		snprintf(rel, sizeof rel, "%s", base);
		if (!is_day_name(base) || folder[0] == '\0' || strcmp(folder, ".") == 0 ||
		    strcmp(folder, "..") == 0) {
			snprintf(folder, sizeof folder, "%s", base);
			if (has_suffix(folder, ".json"))
				folder[strlen(folder) - 5] = '\0';
		}
	}
	if ((rc = src_json(c, rel, 0, &root)) < 0)
		return rc;
	if ((rc = conv_for(c, folder, &cv, &owned)) == 0) {
		src_label(c, rel, label, sizeof label);
		if (!json_is_array(root) && !json_is_object(root)) {
			cf_error("%s: not a Slack message or a JSON array of messages", label);
			rc = -EINVAL;
		} else {
			rc = add_messages(c, &cv, root, label, 1);
		}
	}
	free(owned);
	json_decref(root);
	return rc;
}

static int
slack_parse(const char *path, struct cf_batch *b, const struct cf_import_opts *o)
{
	struct slk_ctx c;
	char why[256], head[4];
	struct stat st;
	ssize_t n;
	int rc;

	if ((rc = ctx_init(&c, path, b, o)) < 0)
		goto out;
	if (lstat(path, &st) != 0) {
		rc = -errno;
		cf_error("%s: %s", path, strerror(-rc));
		goto out;
	}
	if (S_ISLNK(st.st_mode)) {
		cf_error("%s: is a symbolic link", path);
		rc = -EINVAL;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		if (cf_path(c.root, sizeof c.root, "%s", path) < 0) {
			cf_error("%s: %s", path, strerror(ENAMETOOLONG));
			rc = -ENAMETOOLONG;
			goto out;
		}
		if ((rc = dir_list_days(&c)) < 0)
			goto out;
		if (c.ndays == 0 && !dir_has_lists(path)) {
			cf_error("%s: not a Slack export (no users.json, channels.json or "
			    "YYYY-MM-DD.json day files)", path);
			rc = -EINVAL;
			goto out;
		}
	} else if (!S_ISREG(st.st_mode)) {
		cf_error("%s: not a regular file or folder", path);
		rc = -EINVAL;
		goto out;
	} else {
		n = head_bytes(path, head, sizeof head);
		if (n < 0) {
			cf_error("%s: cannot read", path);
			rc = -EIO;
			goto out;
		}
		if (!is_zip_magic(head, (size_t)n)) {
			rc = parse_lone(&c);
			goto out;
		}
		if ((c.zip = zip_open_nofollow(path, why, sizeof why)) == NULL) {
			cf_error("%s: %s", path, why);
			rc = -EINVAL;
			goto out;
		}
		rc = zip_find_root(c.zip, path, 1, c.prefix, sizeof c.prefix);
		if (rc < 0)
			goto out;
		if (rc == 0) {
			cf_error("%s: no users.json or channels.json: not a Slack export", path);
			rc = -EINVAL;
			goto out;
		}
		if ((rc = zip_list_days(&c)) < 0)
			goto out;
	}
	if ((rc = load_users(&c)) < 0 || (rc = load_lists(&c)) < 0)
		goto out;
	rc = add_days(&c);
out:
	ctx_free(&c);
	return rc;
}

const struct cf_importer cf_importer_slack = {
	.name = "slack",
	.detect = slack_detect,
	.parse = slack_parse,
};
