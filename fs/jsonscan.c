/*
 * jsonscan.c - a streaming JSON scanner (interface in jsonscan.h).
 *
 * One buffer holds the unread part of the input: bytes before s->pos have
 * been consumed and are dropped at the next refill, so a value being handed
 * over stays contiguous from s->pos while the scan of its extent refills as
 * often as needed.  The extent scan is a small resumable state machine
 * (inside a string, after a backslash, a bracket stack) so that refills
 * never rescan.  Skipping consumes as it goes and so never grows the
 * buffer.
 *
 * Plaintext handling: the buffers hold document text (message content).
 * They are wiped when they are replaced by larger ones and when the scanner
 * is freed; bytes moved down by a refill are overwritten by later reads.
 * jansson's copies of member names are not wiped (names are structure).
 */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto.h"
#include "jsonscan.h"

#define JSCAN_BLOCK 65536               /* initial buffer, and read size */
#define JSCAN_NEST_MAX 64               /* levels entered with cf_jscan_enter */
#define JSCAN_SKIP_DEPTH 1024           /* bracket depth inside one value */
#define JSCAN_WHY_MAX 160

struct jscan_level {
	char type;                      /* '{' or '[' */
	int first;                      /* no member/element seen yet */
};

struct cf_jscan {
	int fd;
	unsigned char *buf;
	size_t cap, pos, end;           /* consumed < pos <= end <= cap */
	uint64_t base;                  /* input offset of buf[0] */
	int eof;
	int bom_checked;
	struct jscan_level lv[JSCAN_NEST_MAX];
	int depth;
	char *fix;                      /* value with \x escapes rewritten */
	size_t fixcap;
	char stack[JSCAN_SKIP_DEPTH];   /* brackets open inside one value */
	char why[JSCAN_WHY_MAX];
};

int
cf_jscan_new(struct cf_jscan **s, int fd)
{
	struct cf_jscan *n;

	*s = NULL;
	n = calloc(1, sizeof *n);
	if (n == NULL)
		return -ENOMEM;
	n->buf = malloc(JSCAN_BLOCK);
	if (n->buf == NULL) {
		free(n);
		return -ENOMEM;
	}
	n->cap = JSCAN_BLOCK;
	n->fd = fd;
	*s = n;
	return 0;
}

void
cf_jscan_free(struct cf_jscan *s)
{
	if (s == NULL)
		return;
	cf_wipe(s->buf, s->cap);
	free(s->buf);
	if (s->fix != NULL) {
		cf_wipe(s->fix, s->fixcap);
		free(s->fix);
	}
	cf_wipe(s, sizeof *s);
	free(s);
}

uint64_t
cf_jscan_offset(const struct cf_jscan *s)
{
	return s->base + s->pos;
}

const char *
cf_jscan_why(const struct cf_jscan *s)
{
	return s->why;
}

static int
fail_at(struct cf_jscan *s, uint64_t off, const char *what)
{
	snprintf(s->why, sizeof s->why, "invalid JSON at byte %llu: %s",
	    (unsigned long long)off, what);
	return -EINVAL;
}

static int
truncated(struct cf_jscan *s)
{
	snprintf(s->why, sizeof s->why, "truncated JSON at byte %llu",
	    (unsigned long long)(s->base + s->end));
	return -EINVAL;
}

/*
 * Read more input after s->end, first dropping the consumed bytes before
 * s->pos (positions after s->pos keep their offset from it).  Returns the
 * number of bytes read, 0 at the end of input, or -errno.
 */
static int
fill(struct cf_jscan *s)
{
	unsigned char *nb;
	size_t ncap;
	ssize_t n;

	if (s->eof)
		return 0;
	if (s->pos > 0) {
		memmove(s->buf, s->buf + s->pos, s->end - s->pos);
		s->base += s->pos;
		s->end -= s->pos;
		s->pos = 0;
	}
	if (s->end == s->cap) {
		if (s->cap >= CF_JSCAN_VALUE_MAX) {
			snprintf(s->why, sizeof s->why,
			    "a value at byte %llu is larger than %u MiB",
			    (unsigned long long)s->base, CF_JSCAN_VALUE_MAX >> 20);
			return -EINVAL;
		}
		ncap = s->cap * 2;
		/* Not realloc: the old block is wiped before it is freed. */
		nb = malloc(ncap);
		if (nb == NULL)
			return -ENOMEM;
		memcpy(nb, s->buf, s->end);
		cf_wipe(s->buf, s->cap);
		free(s->buf);
		s->buf = nb;
		s->cap = ncap;
	}
	do
		n = read(s->fd, s->buf + s->end, s->cap - s->end);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0) {
		s->eof = 1;
		return 0;
	}
	s->end += (size_t)n;
	return (int)n;
}

static int
is_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The next byte that is not white space (not consumed), -1 at the end of
 * input, or -errno. */
static int
next_char(struct cf_jscan *s)
{
	int rc = 0;

	for (;;) {
		if (!s->bom_checked) {
			while (s->end - s->pos < 3 && (rc = fill(s)) > 0)
				;
			if (rc < 0)
				return rc;
			s->bom_checked = 1;
			if (s->base == 0 && s->end - s->pos >= 3 &&
			    memcmp(s->buf + s->pos, "\xef\xbb\xbf", 3) == 0)
				s->pos += 3;
		}
		while (s->pos < s->end && is_ws(s->buf[s->pos]))
			s->pos++;
		if (s->pos < s->end)
			return s->buf[s->pos];
		rc = fill(s);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return -1;
	}
}

int
cf_jscan_peek(struct cf_jscan *s)
{
	int c;

	s->why[0] = '\0';
	c = next_char(s);
	if (c == -1)
		return truncated(s);
	if (c < 0)
		return c;
	switch (c) {
	case '{': case '[': case '"': case 't': case 'f': case 'n':
		return c;
	default:
		if (c == '-' || (c >= '0' && c <= '9'))
			return '0';
		return fail_at(s, cf_jscan_offset(s), "unexpected character");
	}
}

int
cf_jscan_enter(struct cf_jscan *s)
{
	int c = cf_jscan_peek(s);

	if (c < 0)
		return c;
	if (c != '{' && c != '[')
		return fail_at(s, cf_jscan_offset(s), c == '"' ? "expected an object or array, "
		    "found a string" : "expected an object or array");
	if (s->depth >= JSCAN_NEST_MAX)
		return fail_at(s, cf_jscan_offset(s), "nested too deeply");
	s->lv[s->depth].type = (char)c;
	s->lv[s->depth].first = 1;
	s->depth++;
	s->pos++;
	return 0;
}

/*
 * Find the extent of the value starting at s->pos (white space already
 * skipped).  keep: the value must stay in the buffer (its length is stored
 * in *len); otherwise it is consumed as it is scanned.  *saw_x is set when
 * a string in it holds a "\x" escape.  Returns 0 or -errno.
 */
static int
scan_value(struct cf_jscan *s, int keep, size_t *len, int *saw_x)
{
	size_t k = 0;                   /* offset from s->pos of the next byte */
	int depth = 0, in_str = 0, esc = 0, scalar = 0, rc;
	unsigned char c;

	*saw_x = 0;
	for (;;) {
		if (s->pos + k == s->end) {
			if (!keep) {
				s->pos += k;
				k = 0;
			}
			rc = fill(s);
			if (rc < 0)
				return rc;
			if (rc == 0) {
				if (scalar && depth == 0 && s->depth == 0)
					break;  /* a scalar document ends at EOF */
				return truncated(s);
			}
			continue;
		}
		c = s->buf[s->pos + k];
		if (in_str) {
			if (esc) {
				esc = 0;
				if (c == 'x')
					*saw_x = 1;
			} else if (c == '\\') {
				esc = 1;
			} else if (c == '"') {
				in_str = 0;
				if (depth == 0) {
					k++;
					break;
				}
			}
			k++;
			continue;
		}
		if (scalar) {
			if (is_ws(c) || c == ',' || c == ']' || c == '}' || c == ':')
				break;
			k++;
			continue;
		}
		switch (c) {
		case '"':
			in_str = 1;
			break;
		case '{':
		case '[':
			if (depth >= JSCAN_SKIP_DEPTH)
				return fail_at(s, s->base + s->pos + k, "nested too deeply");
			s->stack[depth++] = (char)c;
			break;
		case '}':
		case ']':
			if (depth == 0 || s->stack[depth - 1] != (c == '}' ? '{' : '['))
				return fail_at(s, s->base + s->pos + k, "mismatched bracket");
			depth--;
			break;
		default:
			if (depth == 0)
				scalar = 1;
			break;
		}
		k++;
		if (depth == 0 && !scalar && !in_str)
			break;                  /* a container just closed */
	}
	if (len != NULL)
		*len = k;
	if (!keep)
		s->pos += k;
	return 0;
}

/* Rewrite "\xHH" escapes inside strings of text to "\u00HH" into s->fix. */
static int
fix_escapes(struct cf_jscan *s, const char *text, size_t len, const char **out, size_t *outlen)
{
	size_t need = len + len / 2 + 1, i, o = 0;
	int in_str = 0;
	char *nf;

	if (need > s->fixcap) {
		nf = malloc(need);
		if (nf == NULL)
			return -ENOMEM;
		if (s->fix != NULL) {
			cf_wipe(s->fix, s->fixcap);
			free(s->fix);
		}
		s->fix = nf;
		s->fixcap = need;
	}
	for (i = 0; i < len; i++) {
		char c = text[i];

		if (!in_str) {
			if (c == '"')
				in_str = 1;
			s->fix[o++] = c;
			continue;
		}
		if (c == '"') {
			in_str = 0;
			s->fix[o++] = c;
		} else if (c == '\\' && i + 1 < len) {
			if (text[i + 1] == 'x') {
				memcpy(s->fix + o, "\\u00", 4);
				o += 4;
			} else {
				s->fix[o++] = '\\';
				s->fix[o++] = text[i + 1];
			}
			i++;
		} else {
			s->fix[o++] = c;
		}
	}
	*out = s->fix;
	*outlen = o;
	return 0;
}

int
cf_jscan_value(struct cf_jscan *s, const char **text, size_t *len, uint64_t *off)
{
	size_t n;
	int c, rc, saw_x;

	c = cf_jscan_peek(s);
	if (c < 0)
		return c;
	if (off != NULL)
		*off = cf_jscan_offset(s);
	if ((rc = scan_value(s, 1, &n, &saw_x)) < 0)
		return rc;
	*text = (const char *)s->buf + s->pos;
	*len = n;
	s->pos += n;
	if (saw_x)
		return fix_escapes(s, *text, n, text, len);
	return 0;
}

int
cf_jscan_skip(struct cf_jscan *s)
{
	int c, saw_x;

	c = cf_jscan_peek(s);
	if (c < 0)
		return c;
	return scan_value(s, 0, NULL, &saw_x);
}

/* Top level entered as type, or -EINVAL (a caller's mistake). */
static struct jscan_level *
level(struct cf_jscan *s, char type)
{
	if (s->depth == 0 || s->lv[s->depth - 1].type != type) {
		snprintf(s->why, sizeof s->why, "scanner used out of order");
		return NULL;
	}
	return &s->lv[s->depth - 1];
}

/* Consume the separator before the next member or element, or the closing
 * bracket.  Returns 1 (an item follows), 0 (closed), or -errno. */
static int
next_item(struct cf_jscan *s, char type)
{
	struct jscan_level *l = level(s, type);
	char close = type == '{' ? '}' : ']';
	int c;

	s->why[0] = '\0';
	if (l == NULL)
		return -EINVAL;
	c = next_char(s);
	if (c == -1)
		return truncated(s);
	if (c < 0)
		return c;
	if (c == close && l->first) {
		s->pos++;
		s->depth--;
		return 0;
	}
	if (!l->first) {
		if (c == close) {
			s->pos++;
			s->depth--;
			return 0;
		}
		if (c != ',')
			return fail_at(s, cf_jscan_offset(s), type == '{' ?
			    "expected ',' or '}'" : "expected ',' or ']'");
		s->pos++;
		c = next_char(s);
		if (c == -1)
			return truncated(s);
		if (c < 0)
			return c;
		if (c == close)
			return fail_at(s, cf_jscan_offset(s), "trailing comma");
	}
	l->first = 0;
	return 1;
}

int
cf_jscan_member(struct cf_jscan *s, char **key)
{
	json_error_t jerr;
	json_t *k = NULL;
	const char *text;
	uint64_t off;
	size_t len;
	int rc, c;

	*key = NULL;
	rc = next_item(s, '{');
	if (rc <= 0)
		return rc;
	c = next_char(s);
	if (c != '"')
		return fail_at(s, cf_jscan_offset(s), "expected a member name");
	if ((rc = cf_jscan_value(s, &text, &len, &off)) < 0)
		return rc;
	k = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (k == NULL || !json_is_string(k)) {
		json_decref(k);
		return fail_at(s, off, "bad member name");
	}
	*key = strdup(json_string_value(k));
	json_decref(k);
	if (*key == NULL)
		return -ENOMEM;
	c = next_char(s);
	if (c == -1) {
		rc = truncated(s);
		goto fail;
	}
	if (c < 0) {
		rc = c;
		goto fail;
	}
	if (c != ':') {
		rc = fail_at(s, cf_jscan_offset(s), "expected ':'");
		goto fail;
	}
	s->pos++;
	return 1;
fail:
	free(*key);
	*key = NULL;
	return rc;
}

int
cf_jscan_element(struct cf_jscan *s)
{
	return next_item(s, '[');
}

int
cf_jscan_finish(struct cf_jscan *s)
{
	int c;

	s->why[0] = '\0';
	c = next_char(s);
	if (c == -1)
		return 0;
	if (c < 0)
		return c;
	return fail_at(s, cf_jscan_offset(s), "unexpected data after the end of the document");
}
