/*
 * import_telegram.c - Telegram Desktop "Export chat history" / "Export
 * Telegram data" JSON (result.json), format notes in import.h.
 *
 * The document is never loaded whole: a streaming scanner (jsonscan.h)
 * walks the outer structure - the chat object of a single-chat export, or
 * the chats.list[] and left_chats.list[] of a full-account export - skips
 * every other section unread, and hands each element of a "messages" array
 * to jansson on its own.  Peak memory is one message plus what the batch
 * holds until the caller's flush, whatever the size of the file.  The
 * chat's scalar members (name, type, id) must come before its "messages",
 * as Telegram writes them; members after it do not name the chat.
 *
 * Each message becomes one struct cf_msg: text flattened from its entity
 * array, service actions rendered as a sentence (no sender), and in extra
 * the standard keys (kind, reply_to, edited_ts, forwarded_from, reactions,
 * missing_attachments) plus the whole message object as "source".  Media
 * paths are relative to the folder of result.json: a file that is there is
 * attached, a "(File not included…)" sentence is recorded as missing, and a
 * path whose file is absent is an error (the export says it is included).
 *
 * Errors: "FILE: truncated JSON at byte N", "FILE: invalid JSON at byte N:
 * reason", "FILE: JSON.path: reason".  Reasons name members and files,
 * never message content.  Plaintext: our text buffers are wiped before they
 * are freed, and jansson's blocks by the allocator record.c installs (see
 * jsonscan.c for the scanner's buffers).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "import.h"
#include "jsonscan.h"
#include "util.h"

#define TG_DETECT_MAX 65536             /* bytes detect() looks at */
#define TG_FLUSH_EVERY 5000             /* messages between flush checks */
#define TG_WHY_MAX (PATH_MAX + 200)
#define TG_JPATH_MAX 96
#define TG_MAX_ATT 4                    /* photo, file, thumbnail, contact_vcard */
#define TG_DELETED "Deleted Account"    /* what Telegram shows for a null name */

/* Message members that name a file of the export. */
static const char *const media_fields[TG_MAX_ATT] = {
	"photo", "file", "thumbnail", "contact_vcard",
};

struct tg {
	const char *path;               /* the input, for messages */
	char *dir;                      /* folder media paths are relative to */
	char *fallback;                 /* chat id when a chat has no id or name */
	const char *zone;               /* for zone-less "date" */
	struct cf_batch *b;
	const struct cf_import_opts *o;
	struct cf_jscan *s;
	unsigned long since_flush;
	int found;                      /* saw "messages" or a chats section */
	char why[TG_WHY_MAX];
};

/* One chat object's naming members. */
struct tg_chat {
	char *id;                       /* "id" as decimal text */
	char *name;                     /* "name", NULL when null or absent */
	char *type;
	char *chat;                     /* the conversation id used */
	const char *title;
	int64_t last_ts;                /* for messages without a date */
};

/* ---- small helpers ----------------------------------------------------- */

/* The string member key of o, or NULL (absent, null, not a string). */
static const char *
get_str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Same, but "" counts as absent. */
static const char *
get_nonempty(json_t *o, const char *key)
{
	const char *s = get_str(o, key);

	return s != NULL && *s != '\0' ? s : NULL;
}

/* An integer, or a string of decimal digits (optional '-'), as text into
 * buf.  Returns 1, or 0 when v is neither. */
static int
int_text(json_t *v, char *buf, size_t n)
{
	const char *s, *p;

	if (json_is_integer(v)) {
		snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return 1;
	}
	if (!json_is_string(v))
		return 0;
	s = json_string_value(v);
	p = *s == '-' ? s + 1 : s;
	if (*p == '\0' || strlen(s) >= n || strlen(p) > 15)
		return 0;
	for (; *p != '\0'; p++)
		if (*p < '0' || *p > '9')
			return 0;
	snprintf(buf, n, "%s", s);
	return 1;
}

/* Seconds since the epoch from a "*_unixtime" member, as milliseconds.
 * Returns 1, 0 when absent, -1 when present but not a number. */
static int
unixtime_ms(json_t *o, const char *key, int64_t *ms)
{
	json_t *v = json_object_get(o, key);
	char num[32];

	if (v == NULL || json_is_null(v))
		return 0;
	if (!int_text(v, num, sizeof num))
		return -1;
	*ms = strtoll(num, NULL, 10) * 1000;
	return 1;
}

/* ---- text building ----------------------------------------------------- */

struct sb {
	char *p;
	size_t len, cap;
	int oom;
};

static void
sb_add(struct sb *b, const char *s, size_t n)
{
	size_t ncap;
	char *np;

	if (b->oom || n == 0)
		return;
	if (b->len + n + 1 > b->cap) {
		ncap = b->cap == 0 ? 128 : b->cap;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		np = malloc(ncap);
		if (np == NULL) {
			b->oom = 1;
			return;
		}
		if (b->p != NULL) {
			memcpy(np, b->p, b->len);
			cf_wipe(b->p, b->cap);
			free(b->p);
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_str(struct sb *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void sb_fmt(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sb_fmt(struct sb *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n > 0)
		sb_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
	cf_wipe(tmp, sizeof tmp);
}

/* A JSON string's text; an embedded NUL (from "\u0000") becomes U+FFFD so
 * that the C string keeps what follows it. */
static void
sb_json(struct sb *b, json_t *v)
{
	const char *s = json_string_value(v), *nul;
	size_t n = json_string_length(v);

	while (n > 0 && (nul = memchr(s, '\0', n)) != NULL) {
		sb_add(b, s, (size_t)(nul - s));
		sb_str(b, "\xef\xbf\xbd");
		n -= (size_t)(nul - s) + 1;
		s = nul + 1;
	}
	sb_add(b, s, n);
}

/* The text (possibly "") as a malloc'd string, or NULL when out of memory.
 * b is left empty. */
static char *
sb_take(struct sb *b)
{
	char *r;

	if (b->oom) {
		if (b->p != NULL) {
			cf_wipe(b->p, b->cap);
			free(b->p);
		}
		memset(b, 0, sizeof *b);
		return NULL;
	}
	r = b->p != NULL ? b->p : strdup("");
	memset(b, 0, sizeof *b);
	return r;
}

static void
sb_free(struct sb *b)
{
	if (b->p != NULL) {
		cf_wipe(b->p, b->cap);
		free(b->p);
	}
	memset(b, 0, sizeof *b);
}

/*
 * Replace each NUL byte of every string in j (from "\u0000", which jansson
 * accepts with JSON_ALLOW_NUL) by U+FFFD: records are C strings, and the
 * record encoder refuses NUL.  Returns 0 or -ENOMEM.
 */
static int
strip_nul(json_t *j)
{
	const char *key;
	struct sb b = { 0 };
	json_t *v;
	size_t i;
	int rc = 0;

	if (json_is_string(j)) {
		if (memchr(json_string_value(j), '\0', json_string_length(j)) == NULL)
			return 0;
		sb_json(&b, j);
		cf_wipe((char *)json_string_value(j), json_string_length(j));
		if (b.oom || json_string_setn(j, b.p, b.len) != 0)
			rc = -ENOMEM;
		sb_free(&b);
	} else if (json_is_object(j)) {
		json_object_foreach(j, key, v)
			if ((rc = strip_nul(v)) < 0)
				break;
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			if ((rc = strip_nul(v)) < 0)
				break;
	}
	return rc;
}

/*
 * Flatten a "text" value: a string, or an array of strings and entity
 * objects {type, text, href?...}.  Every entity shows as its text (links,
 * mentions, code, custom emoji); a text_link whose target differs from its
 * text adds " (href)".  Other types add nothing.
 */
static void
flatten(struct sb *b, json_t *text)
{
	json_t *el, *t, *href;
	size_t i;

	if (json_is_string(text)) {
		sb_json(b, text);
		return;
	}
	if (!json_is_array(text))
		return;
	json_array_foreach(text, i, el) {
		if (json_is_string(el)) {
			sb_json(b, el);
			continue;
		}
		if (!json_is_object(el))
			continue;
		t = json_object_get(el, "text");
		if (json_is_string(t))
			sb_json(b, t);
		else if (json_is_array(t))
			flatten(b, t);
		href = json_object_get(el, "href");
		if (json_is_string(href) && json_string_length(href) > 0 &&
		    (!json_is_string(t) || strcmp(json_string_value(t),
		    json_string_value(href)) != 0)) {
			sb_str(b, " (");
			sb_json(b, href);
			sb_str(b, ")");
		}
	}
}

/* The message's text: "text", or "text_entities" when "text" is empty. */
static void
message_text(struct sb *b, json_t *m)
{
	size_t before = b->len;

	flatten(b, json_object_get(m, "text"));
	if (b->len == before)
		flatten(b, json_object_get(m, "text_entities"));
}

/* "56 s", "2 min", "1 h 5 min". */
static void
sb_duration(struct sb *b, json_int_t secs)
{
	if (secs < 60)
		sb_fmt(b, "%" JSON_INTEGER_FORMAT " s", secs);
	else if (secs < 3600 && secs % 60 == 0)
		sb_fmt(b, "%" JSON_INTEGER_FORMAT " min", secs / 60);
	else if (secs < 3600)
		sb_fmt(b, "%" JSON_INTEGER_FORMAT " min %" JSON_INTEGER_FORMAT " s", secs / 60,
		    secs % 60);
	else
		sb_fmt(b, "%" JSON_INTEGER_FORMAT " h %" JSON_INTEGER_FORMAT " min", secs / 3600,
		    secs % 3600 / 60);
}

/* A person named by member key of o (a name, or null for a deleted one). */
static void
sb_person(struct sb *b, json_t *o, const char *key, const char *id_key)
{
	const char *s = get_nonempty(o, key);
	char num[32];

	if (s != NULL)
		sb_json(b, json_object_get(o, key));
	else if (id_key != NULL && (s = get_nonempty(o, id_key)) != NULL)
		sb_str(b, s);
	else if (id_key != NULL && int_text(json_object_get(o, id_key), num, sizeof num))
		sb_str(b, num);
	else
		sb_str(b, TG_DELETED);
}

/* "A, B and C" from an array of names (null: a deleted account). */
static void
sb_names(struct sb *b, json_t *arr)
{
	size_t i, n = json_array_size(arr);
	json_t *v;

	json_array_foreach(arr, i, v) {
		if (i > 0)
			sb_str(b, i + 1 == n ? " and " : ", ");
		if (json_is_string(v) && json_string_length(v) > 0)
			sb_json(b, v);
		else
			sb_str(b, TG_DELETED);
	}
}

/* " "title"" when o has a string member key. */
static void
sb_quoted(struct sb *b, json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v))
		return;
	sb_str(b, " \"");
	sb_json(b, v);
	sb_str(b, "\"");
}

static json_int_t
get_int(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? json_integer_value(v) : 0;
}

/*
 * A service message as a sentence: "Alice joined Telegram", "Phone call
 * from Alice (56 s)", "Alice pinned a message"...  Unknown actions degrade
 * to "Alice: some action".  *kind is "call" for calls, else "system".
 */
static void
render_service(struct sb *b, json_t *m, const char **kind)
{
	const char *action = get_str(m, "action"), *reason, *info;
	json_t *members = json_object_get(m, "members");
	size_t before;
	const char *p;

	*kind = "system";
	info = get_str(m, "information_text");
	if (action == NULL) {
		if (info != NULL)
			sb_json(b, json_object_get(m, "information_text"));
		else
			message_text(b, m);
		if (b->len == 0) {
			sb_person(b, m, "actor", "actor_id");
			sb_str(b, ": service message");
		}
		return;
	}
	if (strcmp(action, "phone_call") == 0) {
		*kind = "call";
		reason = get_str(m, "discard_reason");
		if (reason != NULL && strcmp(reason, "missed") == 0)
			sb_str(b, "Missed call from ");
		else if (reason != NULL && strcmp(reason, "busy") == 0)
			sb_str(b, "Declined call from ");
		else
			sb_str(b, "Phone call from ");
		sb_person(b, m, "actor", "actor_id");
		if (get_int(m, "duration_seconds") > 0) {
			sb_str(b, " (");
			sb_duration(b, get_int(m, "duration_seconds"));
			sb_str(b, ")");
		}
		return;
	}
	if (strcmp(action, "group_call") == 0) {
		*kind = "call";
		sb_person(b, m, "actor", "actor_id");
		sb_str(b, " started a group call");
		if (get_int(m, "duration") > 0) {
			sb_str(b, " (");
			sb_duration(b, get_int(m, "duration"));
			sb_str(b, ")");
		}
		return;
	}
	if (strcmp(action, "proximity_reached") == 0) {
		sb_person(b, m, "from", "from_id");
		sb_fmt(b, " is within %" JSON_INTEGER_FORMAT " m of ", get_int(m, "distance"));
		sb_person(b, m, "to", "to_id");
		return;
	}
	if (strcmp(action, "send_payment") == 0) {
		sb_fmt(b, "Payment sent: %" JSON_INTEGER_FORMAT, get_int(m, "amount"));
		if (get_str(m, "currency") != NULL) {
			sb_str(b, " ");
			sb_json(b, json_object_get(m, "currency"));
		}
		return;
	}

	sb_person(b, m, "actor", "actor_id");
	before = b->len;
	if (strcmp(action, "joined_telegram") == 0) {
		sb_str(b, " joined Telegram");
	} else if (strcmp(action, "create_group") == 0) {
		sb_str(b, " created group");
		sb_quoted(b, m, "title");
		if (json_array_size(members) > 0) {
			sb_str(b, " with ");
			sb_names(b, members);
		}
	} else if (strcmp(action, "edit_group_title") == 0) {
		sb_str(b, " changed the group name to");
		sb_quoted(b, m, "title");
	} else if (strcmp(action, "edit_group_photo") == 0) {
		sb_str(b, " changed the group photo");
	} else if (strcmp(action, "delete_group_photo") == 0) {
		sb_str(b, " removed the group photo");
	} else if (strcmp(action, "invite_members") == 0) {
		sb_str(b, " added ");
		sb_names(b, members);
	} else if (strcmp(action, "remove_members") == 0) {
		if (json_array_size(members) == 1 && json_is_string(json_array_get(members, 0)) &&
		    get_str(m, "actor") != NULL &&
		    strcmp(json_string_value(json_array_get(members, 0)), get_str(m, "actor")) == 0) {
			sb_str(b, " left the group");
		} else {
			sb_str(b, " removed ");
			sb_names(b, members);
		}
	} else if (strcmp(action, "join_group_by_link") == 0) {
		sb_str(b, " joined the group via an invite link");
		if (json_object_get(m, "inviter") != NULL) {
			sb_str(b, " from ");
			sb_person(b, m, "inviter", NULL);
		}
	} else if (strcmp(action, "join_group_by_request") == 0) {
		sb_str(b, " joined the group by request");
	} else if (strcmp(action, "create_channel") == 0) {
		sb_str(b, " created channel");
		sb_quoted(b, m, "title");
	} else if (strcmp(action, "migrate_to_supergroup") == 0) {
		sb_str(b, " converted the group to a supergroup");
	} else if (strcmp(action, "migrate_from_group") == 0) {
		sb_str(b, " created the supergroup from group");
		sb_quoted(b, m, "title");
	} else if (strcmp(action, "pin_message") == 0) {
		sb_str(b, " pinned a message");
	} else if (strcmp(action, "clear_history") == 0) {
		sb_str(b, " cleared the history");
	} else if (strcmp(action, "take_screenshot") == 0) {
		sb_str(b, " took a screenshot");
	} else if (strcmp(action, "score_in_game") == 0) {
		sb_fmt(b, " scored %" JSON_INTEGER_FORMAT, get_int(m, "score"));
	} else if (strcmp(action, "invite_to_group_call") == 0) {
		sb_str(b, " invited ");
		sb_names(b, members);
		sb_str(b, " to the group call");
	} else if (strcmp(action, "set_messages_ttl") == 0) {
		if (get_int(m, "period") > 0) {
			sb_str(b, " set messages to auto-delete after ");
			sb_duration(b, get_int(m, "period"));
		} else {
			sb_str(b, " turned off auto-delete");
		}
	} else if (strcmp(action, "edit_chat_theme") == 0) {
		sb_str(b, " changed the chat theme");
		if (get_str(m, "emoticon") != NULL) {
			sb_str(b, " to ");
			sb_json(b, json_object_get(m, "emoticon"));
		}
	} else if (strcmp(action, "topic_created") == 0) {
		sb_str(b, " created topic");
		sb_quoted(b, m, "title");
	} else if (strcmp(action, "topic_edit") == 0) {
		sb_str(b, " edited the topic");
		sb_quoted(b, m, "new_title");
	}
	if (b->len == before) {
		/* Unknown: "Alice: allow sending messages" */
		sb_str(b, ": ");
		for (p = action; *p != '\0'; p++)
			sb_add(b, *p == '_' ? " " : p, 1);
	}
}

/* ---- kinds with their own rendering ------------------------------------ */

static void
sb_number(struct sb *b, json_t *v)
{
	if (json_is_number(v))
		sb_fmt(b, "%.10g", json_number_value(v));
	else
		sb_str(b, "?");
}

/* Poll, location, venue, contact or sticker: a line of text and a kind. */
static void
render_media(struct sb *b, json_t *m, const char **kind)
{
	json_t *poll = json_object_get(m, "poll"), *loc, *ci, *ans;
	const char *mt = get_str(m, "media_type");
	size_t i;

	if (json_is_object(poll)) {
		*kind = "poll";
		sb_str(b, json_is_true(json_object_get(poll, "closed")) ? "Poll (closed): " :
		    "Poll: ");
		flatten(b, json_object_get(poll, "question"));
		json_array_foreach(json_object_get(poll, "answers"), i, ans) {
			sb_str(b, "\n- ");
			flatten(b, json_object_get(ans, "text"));
			sb_fmt(b, " (%" JSON_INTEGER_FORMAT " vote%s%s)", get_int(ans, "voters"),
			    get_int(ans, "voters") == 1 ? "" : "s",
			    json_is_true(json_object_get(ans, "chosen")) ? ", chosen" : "");
		}
		return;
	}
	loc = json_object_get(m, "location_information");
	if (get_str(m, "place_name") != NULL || get_str(m, "address") != NULL) {
		*kind = "location";
		sb_str(b, "Venue: ");
		if (get_str(m, "place_name") != NULL)
			sb_json(b, json_object_get(m, "place_name"));
		if (get_nonempty(m, "address") != NULL) {
			sb_str(b, ", ");
			sb_json(b, json_object_get(m, "address"));
		}
		if (json_is_object(loc)) {
			sb_str(b, " (");
			sb_number(b, json_object_get(loc, "latitude"));
			sb_str(b, ", ");
			sb_number(b, json_object_get(loc, "longitude"));
			sb_str(b, ")");
		}
		return;
	}
	if (loc != NULL) {
		*kind = "location";
		sb_str(b, json_object_get(m, "live_location_period_seconds") != NULL ?
		    "Live location" : "Location");
		if (json_is_object(loc)) {
			sb_str(b, ": ");
			sb_number(b, json_object_get(loc, "latitude"));
			sb_str(b, ", ");
			sb_number(b, json_object_get(loc, "longitude"));
		}
		return;
	}
	ci = json_object_get(m, "contact_information");
	if (json_is_object(ci)) {
		*kind = "contact";
		sb_str(b, "Contact:");
		if (get_nonempty(ci, "first_name") != NULL) {
			sb_str(b, " ");
			sb_json(b, json_object_get(ci, "first_name"));
		}
		if (get_nonempty(ci, "last_name") != NULL) {
			sb_str(b, " ");
			sb_json(b, json_object_get(ci, "last_name"));
		}
		if (get_nonempty(ci, "phone_number") != NULL) {
			sb_str(b, ", ");
			sb_json(b, json_object_get(ci, "phone_number"));
		}
		return;
	}
	if (mt != NULL && strcmp(mt, "sticker") == 0) {
		*kind = "sticker";
		if (get_str(m, "sticker_emoji") != NULL)
			sb_json(b, json_object_get(m, "sticker_emoji"));
	}
}

/* ---- media files ------------------------------------------------------- */

/*
 * When s is a "(File not included. …)"-style sentence, possibly after a
 * file name, return 1 with *reason and the length of the name before it.
 */
static int
skipped_file(const char *s, size_t *namelen, const char **reason)
{
	size_t n = strlen(s);
	const char *open = NULL, *p;

	if (n == 0 || s[n - 1] != ')')
		return 0;
	for (p = s; (p = strchr(p, '(')) != NULL; p++)
		if ((p == s || p[-1] == ' ') && (strncmp(p, "(File ", 6) == 0 ||
		    strncmp(p, "(Photo ", 7) == 0))
			open = p;
	if (open == NULL)
		return 0;
	*namelen = (size_t)(open - s);
	while (*namelen > 0 && s[*namelen - 1] == ' ')
		(*namelen)--;
	if (strstr(open, "not included") != NULL)
		*reason = "not included in export";
	else if (strstr(open, "exceeds maximum size") != NULL)
		*reason = "exceeds the export size limit";
	else if (strstr(open, "unavailable") != NULL)
		*reason = "unavailable when exported";
	else
		*reason = "not in export";
	return 1;
}

/* A relative path that stays inside the export folder. */
static int
safe_rel_path(const char *p)
{
	const char *c = p;

	if (*p == '\0' || *p == '/')
		return 0;
	while (*c != '\0') {
		size_t n = strcspn(c, "/");

		if (n == 2 && c[0] == '.' && c[1] == '.')
			return 0;
		c += n;
		if (*c == '/')
			c++;
	}
	return 1;
}

static int
plain_file_name(const char *s)
{
	return *s != '\0' && strchr(s, '/') == NULL && strcmp(s, ".") != 0 &&
	    strcmp(s, "..") != 0;
}

/*
 * One media member: attach the file, or record it in missing (an array).
 * Returns 0, -EINVAL (why set) or -ENOMEM.
 */
static int
media_file(struct tg *t, json_t *m, const char *field, struct cf_msg *out, json_t *missing)
{
	char full[PATH_MAX], name[NAME_MAX + 1];
	const char *v = get_str(m, field), *reason, *fname, *base;
	struct cf_attach *at;
	struct stat st;
	json_t *e;
	size_t nl;

	if (v == NULL || *v == '\0')
		return 0;
	fname = strcmp(field, "file") == 0 ? get_nonempty(m, "file_name") : NULL;
	if (fname != NULL && !plain_file_name(fname))
		fname = NULL;
	if (skipped_file(v, &nl, &reason)) {
		if (nl > 0 && nl < sizeof name) {
			memcpy(name, v, nl);
			name[nl] = '\0';
		} else {
			snprintf(name, sizeof name, "%s", fname != NULL ? fname : field);
		}
		e = json_pack("{s:s, s:s, s:s}", "name", name, "field", field, "reason", reason);
		cf_wipe(name, sizeof name);
		if (e == NULL || json_array_append_new(missing, e) != 0)
			return -ENOMEM;
		return 0;
	}
	if (!safe_rel_path(v)) {
		snprintf(t->why, sizeof t->why, "\"%s\": not a relative path inside the export",
		    field);
		return -EINVAL;
	}
	if (cf_path(full, sizeof full, "%s/%s", t->dir, v) < 0) {
		snprintf(t->why, sizeof t->why, "\"%s\": %s", field, strerror(ENAMETOOLONG));
		return -EINVAL;
	}
	/* lstat: a link could point at a file that should not be archived. */
	if (lstat(full, &st) != 0) {
		snprintf(t->why, sizeof t->why, "attachment %s: %s", full, strerror(errno));
		return -EINVAL;
	}
	if (S_ISLNK(st.st_mode) || !S_ISREG(st.st_mode)) {
		snprintf(t->why, sizeof t->why, "attachment %s: %s", full,
		    S_ISLNK(st.st_mode) ? "is a symbolic link" : "not a regular file");
		return -EINVAL;
	}
	if (out->att == NULL && (out->att = calloc(TG_MAX_ATT, sizeof *out->att)) == NULL)
		return -ENOMEM;
	base = strrchr(v, '/');
	base = base != NULL ? base + 1 : v;
	at = &out->att[out->natt++];
	at->name = strdup(fname != NULL ? fname : base);
	at->src_path = strdup(full);
	at->size = (uint64_t)st.st_size;
	if (at->name == NULL || at->src_path == NULL)
		return -ENOMEM;
	return 0;
}

/* ---- one message ------------------------------------------------------- */

/* Reactions as [{"emoji", "by", "count"}] (custom emoji by document id). */
static json_t *
convert_reactions(json_t *arr)
{
	json_t *out = json_array(), *r, *e, *by, *who;
	const char *type;
	size_t i, j;

	if (out == NULL)
		return NULL;
	json_array_foreach(arr, i, r) {
		if (!json_is_object(r))
			continue;
		if ((e = json_object()) == NULL || json_array_append_new(out, e) != 0)
			goto nomem;
		type = get_str(r, "type");
		if (get_str(r, "emoji") != NULL) {
			if (json_object_set(e, "emoji", json_object_get(r, "emoji")) != 0)
				goto nomem;
		} else if (json_object_get(r, "document_id") != NULL) {
			if (json_object_set(e, "custom_emoji", json_object_get(r, "document_id")) != 0)
				goto nomem;
		}
		if (type != NULL && strcmp(type, "emoji") != 0 &&
		    json_object_set(e, "type", json_object_get(r, "type")) != 0)
			goto nomem;
		if ((by = json_array()) == NULL || json_object_set_new(e, "by", by) != 0)
			goto nomem;
		json_array_foreach(json_object_get(r, "recent"), j, who) {
			json_t *name = json_object_get(who, "from");

			if (!json_is_string(name))
				name = json_object_get(who, "from_id");
			if (!json_is_string(name))
				continue;
			if (json_array_append(by, name) != 0)
				goto nomem;
		}
		if (json_is_integer(json_object_get(r, "count")) &&
		    json_object_set(e, "count", json_object_get(r, "count")) != 0)
			goto nomem;
	}
	return out;
nomem:
	json_decref(out);
	return NULL;
}

/* Compact JSON text of j into a malloc'd string. */
static char *
dump_compact(json_t *j)
{
	size_t n = json_dumpb(j, NULL, 0, JSON_COMPACT | JSON_PRESERVE_ORDER);
	char *s;

	if (n == 0 || (s = malloc(n + 1)) == NULL)
		return NULL;
	if (json_dumpb(j, s, n, JSON_COMPACT | JSON_PRESERVE_ORDER) != n) {
		free(s);
		return NULL;
	}
	s[n] = '\0';
	return s;
}

/*
 * Turn message object m of chat c into *out.  Returns 0, -EINVAL with the
 * reason in t->why, or -ENOMEM.
 */
static int
convert_message(struct tg *t, struct tg_chat *c, json_t *m, struct cf_msg *out)
{
	struct sb body = { 0 };
	json_t *extra = NULL, *missing = NULL, *v;
	const char *type, *kind = NULL, *date, *du;
	char num[32], tnum[32];
	int64_t ms = 0;
	size_t i, before;
	int rc, had_offset = 0, r;

	memset(out, 0, sizeof *out);
	if (!json_is_object(m)) {
		snprintf(t->why, sizeof t->why, "not an object");
		return -EINVAL;
	}
	type = get_str(m, "type");
	if (type == NULL)
		type = "message";

	if (int_text(json_object_get(m, "id"), num, sizeof num) &&
	    (out->id = strdup(num)) == NULL)
		goto nomem;

	/* Time: date_unixtime (absolute) first, else the zone-less date. */
	r = unixtime_ms(m, "date_unixtime", &ms);
	date = get_nonempty(m, "date");
	du = get_str(m, "date_unixtime");
	if (r < 0) {
		snprintf(t->why, sizeof t->why, "\"date_unixtime\" is not a number of seconds");
		rc = -EINVAL;
		goto fail;
	} else if (r > 0) {
		out->ts_ms = ms;
		if (du == NULL)         /* an integer: its decimal text */
			(void)int_text(json_object_get(m, "date_unixtime"), tnum, sizeof tnum);
		if ((out->ts_raw = strdup(du != NULL ? du : tnum)) == NULL)
			goto nomem;
	} else if (date != NULL) {
		if (cf_parse_time(date, t->zone, &out->ts_ms, &had_offset) != 0) {
			snprintf(t->why, sizeof t->why, "\"date\" is not a date-time");
			rc = -EINVAL;
			goto fail;
		}
		if ((out->ts_raw = strdup(date)) == NULL ||
		    (!had_offset && (out->tz = strdup(t->zone)) == NULL))
			goto nomem;
	} else if (strcmp(type, "unsupported") == 0) {
		out->ts_ms = c->last_ts;        /* placed after its predecessor */
	} else {
		snprintf(t->why, sizeof t->why, "missing \"date\"");
		rc = -EINVAL;
		goto fail;
	}
	c->last_ts = out->ts_ms;

	if ((extra = json_object()) == NULL || (missing = json_array()) == NULL)
		goto nomem;

	if (strcmp(type, "service") == 0) {
		render_service(&body, m, &kind);
	} else if (strcmp(type, "unsupported") == 0) {
		kind = "unsupported";
		sb_str(&body, "(message not supported by the exporter)");
	} else {
		struct sb who = { 0 };

		sb_person(&who, m, "from", "from_id");
		if ((out->sender = sb_take(&who)) == NULL)
			goto nomem;
		render_media(&body, m, &kind);
		before = body.len;
		if (before > 0 && kind != NULL && strcmp(kind, "sticker") == 0) {
			/* a sticker's caption replaces its emoji */
			struct sb cap = { 0 };

			message_text(&cap, m);
			if (cap.len > 0) {
				sb_free(&body);
				body = cap;
			} else {
				sb_free(&cap);
			}
		} else {
			struct sb cap = { 0 };

			message_text(&cap, m);
			if (cap.len > 0 && before > 0)
				sb_str(&body, "\n");
			if (cap.p != NULL)
				sb_str(&body, cap.p);
			if (cap.oom)
				body.oom = 1;
			sb_free(&cap);
		}
	}
	if ((out->body = sb_take(&body)) == NULL)
		goto nomem;

	for (i = 0; i < TG_MAX_ATT; i++)
		if ((rc = media_file(t, m, media_fields[i], out, missing)) < 0)
			goto fail;

	if (kind != NULL && json_object_set_new(extra, "kind", json_string(kind)) != 0)
		goto nomem;
	v = json_object_get(m, "reply_to_message_id");
	if (v != NULL && int_text(v, num, sizeof num) &&
	    json_object_set_new(extra, "reply_to", json_string(num)) != 0)
		goto nomem;
	r = unixtime_ms(m, "edited_unixtime", &ms);
	if (r <= 0 && get_nonempty(m, "edited") != NULL)
		r = cf_parse_time(get_str(m, "edited"), t->zone, &ms, NULL) == 0;
	if (r > 0 && json_object_set_new(extra, "edited_ts", json_integer(ms)) != 0)
		goto nomem;
	v = json_object_get(m, "forwarded_from");
	if (v != NULL && json_object_set(extra, "forwarded_from", v) != 0)
		goto nomem;
	v = json_object_get(m, "reactions");
	if (json_array_size(v) > 0) {
		json_t *rx = convert_reactions(v);

		if (rx == NULL || json_object_set_new(extra, "reactions", rx) != 0)
			goto nomem;
	}
	if (json_array_size(missing) > 0 &&
	    json_object_set(extra, "missing_attachments", missing) != 0)
		goto nomem;
	if (json_object_set(extra, "source", m) != 0)
		goto nomem;
	if ((out->extra = dump_compact(extra)) == NULL)
		goto nomem;
	rc = 0;
	goto out;
nomem:
	rc = -ENOMEM;
fail:
	sb_free(&body);
	cf_msg_clear(out);
out:
	json_decref(missing);
	json_decref(extra);
	return rc;
}

/* ---- the document ------------------------------------------------------ */

static int
scan_error(struct tg *t, int rc)
{
	if (rc == -EINVAL)
		cf_error("%s: %s", t->path, cf_jscan_why(t->s));
	else
		cf_error("%s: %s", t->path, strerror(-rc));
	return rc;
}

/* Read the next value as a JSON tree (decoded by jansson). */
static int
read_value(struct tg *t, const char *jpath, json_t **out)
{
	json_error_t jerr;
	const char *text;
	uint64_t off;
	size_t len;
	char *near;
	int rc;

	*out = NULL;
	if ((rc = cf_jscan_value(t->s, &text, &len, &off)) < 0)
		return scan_error(t, rc);
	*out = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (*out != NULL)
		return 0;
	if (json_error_code(&jerr) == json_error_out_of_memory) {
		cf_error("%s: %s", t->path, strerror(ENOMEM));
		return -ENOMEM;
	}
	/* jansson's " near '<token>'" could quote content */
	near = strstr(jerr.text, " near ");
	if (near != NULL)
		*near = '\0';
	cf_error("%s: %s: invalid JSON at byte %llu: %s", t->path, jpath,
	    (unsigned long long)(off + (uint64_t)(jerr.position > 0 ? jerr.position - 1 : 0)),
	    jerr.text);
	cf_wipe(&jerr, sizeof jerr);
	return -EINVAL;
}

static int
flush_check(struct tg *t)
{
	return cf_import_maybe_flush(t->o, t->b);       /* the flush reports */
}

/* Decide the conversation id and title of c (at its "messages"). */
static int
chat_ident(struct tg *t, struct tg_chat *c, const char *jpath)
{
	char buf[NAME_MAX + TG_JPATH_MAX + 2];

	if (c->id != NULL)
		c->chat = strdup(c->id);
	else if (c->name != NULL)
		c->chat = strdup(c->name);
	else {
		/* A synthetic minimum: the file's name (and where the chat is). */
		snprintf(buf, sizeof buf, "%s%s%s", t->fallback, *jpath != '\0' ? ":" : "",
		    jpath);
		c->chat = strdup(buf);
	}
	if (c->chat == NULL)
		return -ENOMEM;
	c->title = c->name;
	if (c->title == NULL && c->type != NULL) {
		if (strcmp(c->type, "saved_messages") == 0)
			c->title = "Saved Messages";
		else if (strcmp(c->type, "replies") == 0)
			c->title = "Replies";
		else if (strcmp(c->type, "verification_codes") == 0)
			c->title = "Verification Codes";
		else if (strcmp(c->type, "personal_chat") == 0)
			c->title = TG_DELETED;
	}
	return 0;
}

/* The elements of a "messages" array. */
static int
read_messages(struct tg *t, struct tg_chat *c, const char *prefix)
{
	char jpath[TG_JPATH_MAX + 32];
	struct cf_msg msg;
	json_t *m = NULL;
	size_t i;
	int rc;

	memset(&msg, 0, sizeof msg);
	if ((rc = cf_jscan_peek(t->s)) < 0)
		return scan_error(t, rc);
	if (rc != '[') {
		cf_error("%s: %s%smessages: not an array", t->path, prefix, *prefix ? "." : "");
		return -EINVAL;
	}
	if ((rc = cf_jscan_enter(t->s)) < 0)
		return scan_error(t, rc);
	for (i = 0;; i++) {
		if ((rc = cf_jscan_element(t->s)) < 0)
			return scan_error(t, rc);
		if (rc == 0)
			break;
		snprintf(jpath, sizeof jpath, "%s%smessages[%zu]", prefix, *prefix ? "." : "", i);
		if ((rc = read_value(t, jpath, &m)) < 0)
			return rc;
		rc = strip_nul(m);
		if (rc == 0)
			rc = convert_message(t, c, m, &msg);
		json_decref(m);
		m = NULL;
		if (rc == -EINVAL) {
			cf_error("%s: %s: %s", t->path, jpath, t->why);
			return rc;
		}
		if (rc < 0) {
			cf_error("%s: %s", t->path, strerror(-rc));
			return rc;
		}
		rc = cf_batch_add(t->b, c->chat, c->title, &msg);     /* reports */
		cf_msg_clear(&msg);
		if (rc < 0)
			return rc;
		if (++t->since_flush >= TG_FLUSH_EVERY) {
			t->since_flush = 0;
			if ((rc = flush_check(t)) < 0)
				return rc;
		}
	}
	return 0;
}

static int read_section(struct tg *t, const char *key);

/* Copy a naming member (name, type or id) of a chat object. */
static int
chat_scalar(struct tg *t, struct tg_chat *c, const char *key, const char *jpath)
{
	char num[32], **dst;
	json_t *v;
	int rc, oom = 0;

	if ((rc = read_value(t, jpath, &v)) < 0)
		return rc;
	dst = strcmp(key, "name") == 0 ? &c->name : strcmp(key, "type") == 0 ? &c->type :
	    &c->id;
	cf_free_wiped(*dst);
	*dst = NULL;
	if (dst == &c->id && int_text(v, num, sizeof num))
		oom = (*dst = strdup(num)) == NULL;
	else if (json_is_string(v) && json_string_length(v) > 0)
		oom = (*dst = strdup(json_string_value(v))) == NULL;
	json_decref(v);
	if (oom) {
		cf_error("%s: %s", t->path, strerror(ENOMEM));
		return -ENOMEM;
	}
	return 0;
}

/*
 * One chat object (the next value).  prefix is its JSON path ("" for the
 * document itself, which may also hold "chats" and "left_chats").
 */
static int
read_chat(struct tg *t, const char *prefix, int top)
{
	struct tg_chat c;
	char *key = NULL, jpath[TG_JPATH_MAX + 32];
	int rc;

	memset(&c, 0, sizeof c);
	if ((rc = cf_jscan_enter(t->s)) < 0)
		return scan_error(t, rc);
	for (;;) {
		free(key);
		key = NULL;
		if ((rc = cf_jscan_member(t->s, &key)) < 0) {
			scan_error(t, rc);
			goto out;
		}
		if (rc == 0)
			break;
		snprintf(jpath, sizeof jpath, "%s%s%s", prefix, *prefix ? "." : "", key);
		if (strcmp(key, "name") == 0 || strcmp(key, "type") == 0 ||
		    strcmp(key, "id") == 0) {
			rc = chat_scalar(t, &c, key, jpath);
		} else if (strcmp(key, "messages") == 0 && c.chat == NULL) {
			t->found = 1;
			if ((rc = chat_ident(t, &c, prefix)) < 0) {
				cf_error("%s: %s", t->path, strerror(ENOMEM));
				goto out;
			}
			rc = read_messages(t, &c, prefix);
		} else if (top && (strcmp(key, "chats") == 0 || strcmp(key, "left_chats") == 0)) {
			t->found = 1;
			rc = read_section(t, key);
		} else {
			rc = cf_jscan_skip(t->s);
			if (rc < 0)
				scan_error(t, rc);
		}
		if (rc < 0)
			goto out;
	}
	rc = 0;
out:
	free(key);
	cf_free_wiped(c.id);
	cf_free_wiped(c.name);
	cf_free_wiped(c.type);
	cf_free_wiped(c.chat);
	return rc;
}

/* "chats" or "left_chats": {about, list: [chat, …]}. */
static int
read_section(struct tg *t, const char *name)
{
	char *key = NULL, jpath[TG_JPATH_MAX + 32];
	size_t i;
	int rc;

	if ((rc = cf_jscan_peek(t->s)) < 0)
		return scan_error(t, rc);
	if (rc != '{') {
		cf_error("%s: %s: not an object", t->path, name);
		return -EINVAL;
	}
	if ((rc = cf_jscan_enter(t->s)) < 0)
		return scan_error(t, rc);
	for (;;) {
		free(key);
		key = NULL;
		if ((rc = cf_jscan_member(t->s, &key)) < 0) {
			scan_error(t, rc);
			break;
		}
		if (rc == 0)
			break;
		if (strcmp(key, "list") != 0) {
			if ((rc = cf_jscan_skip(t->s)) < 0) {
				scan_error(t, rc);
				break;
			}
			continue;
		}
		if ((rc = cf_jscan_peek(t->s)) < 0) {
			scan_error(t, rc);
			break;
		}
		if (rc != '[') {
			cf_error("%s: %s.list: not an array", t->path, name);
			rc = -EINVAL;
			break;
		}
		if ((rc = cf_jscan_enter(t->s)) < 0) {
			scan_error(t, rc);
			break;
		}
		for (i = 0;; i++) {
			if ((rc = cf_jscan_element(t->s)) < 0) {
				scan_error(t, rc);
				goto out;
			}
			if (rc == 0)
				break;
			snprintf(jpath, sizeof jpath, "%s.list[%zu]", name, i);
			if ((rc = cf_jscan_peek(t->s)) < 0) {
				scan_error(t, rc);
				goto out;
			}
			if (rc != '{') {
				cf_error("%s: %s: not an object", t->path, jpath);
				rc = -EINVAL;
				goto out;
			}
			if ((rc = read_chat(t, jpath, 0)) < 0 || (rc = flush_check(t)) < 0)
				goto out;
		}
	}
out:
	free(key);
	return rc < 0 ? rc : 0;
}

/* The base name of path without ".json": the id of a chat with neither
 * "id" nor "name". */
static char *
fallback_name(const char *path)
{
	const char *base = strrchr(path, '/');
	size_t n;

	base = base != NULL ? base + 1 : path;
	n = strlen(base);
	if (n > 5 && strcasecmp(base + n - 5, ".json") == 0)
		n -= 5;
	if (n > NAME_MAX)
		n = NAME_MAX;
	return strndup(base, n);
}

static char *
parent_dir(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

static int
tg_parse(const char *path, struct cf_batch *b, const struct cf_import_opts *o)
{
	struct tg t;
	struct stat st;
	int fd = -1, rc;

	memset(&t, 0, sizeof t);
	t.path = path;
	t.b = b;
	t.o = o;
	t.zone = (o != NULL && o->tz != NULL && *o->tz != '\0') ? o->tz : cf_tz_local_name();
	if (cf_tz_valid(t.zone) < 0) {
		cf_error("%s: unknown time zone", t.zone);
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
	t.dir = parent_dir(path);
	t.fallback = fallback_name(path);
	if (t.dir == NULL || t.fallback == NULL || cf_jscan_new(&t.s, fd) < 0) {
		rc = -ENOMEM;
		cf_error("%s: %s", path, strerror(ENOMEM));
		goto out;
	}
	if ((rc = cf_jscan_peek(t.s)) < 0) {
		scan_error(&t, rc);
		goto out;
	}
	if (rc != '{') {
		cf_error("%s: not a Telegram export: the document is not a JSON object", path);
		rc = -EINVAL;
		goto out;
	}
	if ((rc = read_chat(&t, "", 1)) < 0)
		goto out;
	if ((rc = cf_jscan_finish(t.s)) < 0) {
		scan_error(&t, rc);
		goto out;
	}
	if (!t.found) {
		cf_error("%s: not a Telegram export: no \"messages\" or \"chats\"", path);
		rc = -EINVAL;
		goto out;
	}
	rc = flush_check(&t);
out:
	cf_jscan_free(t.s);
	if (fd >= 0)
		(void)close(fd);        /* read-only: nothing to lose */
	free(t.dir);
	free(t.fallback);
	cf_wipe(t.why, sizeof t.why);
	return rc;
}

/* ---- detection --------------------------------------------------------- */

static int
has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* "key" followed by optional white space and ':' somewhere in buf. */
static int
has_key(const char *buf, size_t n, const char *key)
{
	size_t kl = strlen(key), i;
	const char *p = buf, *end = buf + n;

	while ((p = memmem(p, (size_t)(end - p), key, kl)) != NULL) {
		i = kl;
		while (p + i < end && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' ||
		    p[i] == '\n'))
			i++;
		if (p + i < end && p[i] == ':')
			return 1;
		p += kl;
	}
	return 0;
}

/*
 * A regular file (not .jsonl/.ndjson) whose first non-blank byte is '{'
 * and whose first 64 KiB hold a member "messages", "chats", "left_chats" or
 * "personal_information".
 */
static int
tg_detect(const char *path)
{
	char *buf;
	size_t total = 0, i = 0;
	struct stat st;
	ssize_t n;
	int fd, found = 0;

	if (has_suffix(path, ".jsonl") || has_suffix(path, ".ndjson"))
		return 0;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return 0;
	buf = malloc(TG_DETECT_MAX);
	if (buf == NULL || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		goto out;
	while (total < TG_DETECT_MAX) {
		n = read(fd, buf + total, TG_DETECT_MAX - total);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += (size_t)n;
	}
	if (total >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < total && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
		i++;
	if (i >= total || buf[i] != '{')
		goto out;
	found = has_key(buf, total, "\"messages\"") || has_key(buf, total, "\"chats\"") ||
	    has_key(buf, total, "\"left_chats\"") ||
	    has_key(buf, total, "\"personal_information\"");
out:
	if (buf != NULL) {
		cf_wipe(buf, TG_DETECT_MAX);
		free(buf);
	}
	(void)close(fd);
	return found;
}

const struct cf_importer cf_importer_telegram = {
	.name = "telegram",
	.detect = tg_detect,
	.parse = tg_parse,
};
