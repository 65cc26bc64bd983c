/*
 * jfast.c - the strict JSON subset of jfast.h: string, member name and
 * integer readers, and a string writer that escapes as jansson does.
 *
 * Strings are scanned eight bytes at a time (SWAR: a byte below 0x20, or
 * equal to '"' or '\\', sets its top bit in the test word) and checked as
 * strict UTF-8 after decoding (cf_utf8_valid); the escapes are ASCII, so
 * checking the decoded bytes is the check jansson makes of the raw text.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "jfast.h"
#include "util.h"

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Whether the word holds a byte below 0x20, a '"' or a '\\'. */
static int
word_special(uint64_t w)
{
	uint64_t q = w ^ (0x22 * ONES), b = w ^ (0x5c * ONES);

	return ((((w - 0x20 * ONES) & ~w) | ((q - ONES) & ~q) | ((b - ONES) & ~b)) & HIGHS) != 0;
}

/* Bytes that end a run of plain string content: '"', '\\' and controls. */
static int
fast_special(unsigned char c)
{
	return c < 0x20 || c == '"' || c == '\\';
}

/*
 * A string: 1 with *out (malloc'd), 0 when it is not for the fast path,
 * -ENOMEM.  Only the escapes \" \\ \/ \b \f \n \r \t; the content is
 * checked as UTF-8 after decoding (an escape is ASCII either way, so this
 * is the check jansson makes of the raw text).
 */
int
cf_jf_str(struct cf_jf *f, char **out)
{
	const char *p = f->p, *start, *r, *e;
	size_t nesc = 0, n;
	char *o, *q;

	if (p >= f->end || *p != '"')
		return 0;
	start = ++p;
	for (;;) {
		while (f->end - p >= 8) {
			uint64_t w;

			memcpy(&w, p, 8);
			if (word_special(w))
				break;
			p += 8;
		}
		while (p < f->end && !fast_special((unsigned char)*p))
			p++;
		if (p >= f->end || (unsigned char)*p < 0x20)
			return 0;
		if (*p == '"')
			break;
		/* a backslash */
		if (f->end - p < 2 || p[1] == '\0' || strchr("\"\\/bfnrt", p[1]) == NULL)
			return 0;
		p += 2;
		nesc++;
	}
	n = (size_t)(p - start) - nesc;
	if ((o = malloc(n + 1)) == NULL)
		return -ENOMEM;
	for (q = o, r = start; r < p;) {
		e = nesc > 0 ? memchr(r, '\\', (size_t)(p - r)) : NULL;
		if (e == NULL)
			e = p;
		memcpy(q, r, (size_t)(e - r));
		q += e - r;
		r = e;
		if (r >= p)
			break;
		switch (r[1]) {
		case 'b': *q++ = '\b'; break;
		case 'f': *q++ = '\f'; break;
		case 'n': *q++ = '\n'; break;
		case 'r': *q++ = '\r'; break;
		case 't': *q++ = '\t'; break;
		default: *q++ = r[1]; break;
		}
		r += 2;
	}
	*q = '\0';
	if (!cf_utf8_valid(o, n)) {
		cf_wipe(o, n);
		free(o);
		return 0;
	}
	f->p = p + 1;
	*out = o;
	return 1;
}

/* A member name and its colon: 1 with key (a-z and '_' only), else 0. */
int
cf_jf_key(struct cf_jf *f, char *key, size_t size)
{
	const char *p = f->p;
	size_t n = 0;

	if (p >= f->end || *p++ != '"')
		return 0;
	while (p < f->end && ((*p >= 'a' && *p <= 'z') || *p == '_')) {
		if (n + 1 >= size)
			return 0;
		key[n++] = *p++;
	}
	if (n == 0 || f->end - p < 2 || p[0] != '"' || p[1] != ':')
		return 0;
	key[n] = '\0';
	f->p = p + 2;
	return 1;
}

/* An integer: 1 with *v, else 0. */
int
cf_jf_int(struct cf_jf *f, int64_t *v)
{
	const char *p = f->p;
	int neg = 0, digits = 0;
	int64_t x = 0;

	if (p < f->end && *p == '-') {
		neg = 1;
		p++;
	}
	if (p >= f->end || *p < '0' || *p > '9')
		return 0;
	if (*p == '0' && (neg || (p + 1 < f->end && p[1] >= '0' && p[1] <= '9')))
		return 0;               /* "-0" and leading zeros: jansson decides */
	while (p < f->end && *p >= '0' && *p <= '9') {
		if (++digits > 18)
			return 0;
		x = x * 10 + (*p++ - '0');
	}
	if (p >= f->end || (*p != ',' && *p != '}' && *p != ']'))
		return 0;               /* a fraction, an exponent, or garbage */
	*v = neg ? -x : x;
	f->p = p;
	return 1;
}

int
cf_jf_eat(struct cf_jf *f, char c)
{
	if (f->p >= f->end || *f->p != c)
		return 0;
	f->p++;
	return 1;
}

int
cf_jf_member(struct cf_jf *f, const struct cf_jf_member *members, size_t n, unsigned *seen,
    unsigned *bit)
{
	const char *start = f->p;
	char key[16];
	size_t i;

	if (cf_jf_key(f, key, sizeof key) != 1)
		return 0;
	for (i = 0; i < n; i++)
		if (key[0] == members[i].key[0] && strcmp(key, members[i].key) == 0)
			break;
	if (i == n || (*seen & members[i].bit)) {
		f->p = start;
		return 0;
	}
	*bit = members[i].bit;
	*seen |= *bit;
	return 1;
}

int
cf_jf_next(struct cf_jf *f, char close)
{
	if (cf_jf_eat(f, ','))
		return 1;
	return cf_jf_eat(f, close) ? 2 : 0;
}

size_t
cf_jf_put_len(const char *s)
{
	size_t len = strlen(s), n = 2 + len, i = 0;
	uint64_t w;

	while (i < len) {
		unsigned char c;

		if (len - i >= 8) {
			memcpy(&w, s + i, 8);
			if (!word_special(w)) {
				i += 8;
				continue;
			}
		}
		c = (unsigned char)s[i++];
		if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' ||
		    c == '\t')
			n += 1;
		else if (c < 0x20)
			n += 5;
	}
	return n;
}

char *
cf_jf_put(char *p, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *end = s + strlen(s), *run = s;
	uint64_t w;

	*p++ = '"';
	while (s < end) {
		unsigned char c;
		char e;

		if (end - s >= 8) {
			memcpy(&w, s, 8);
			if (!word_special(w)) {
				s += 8;
				continue;
			}
		}
		c = (unsigned char)*s++;
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		memcpy(p, run, (size_t)(s - 1 - run));
		p += s - 1 - run;
		run = s;
		switch (c) {
		case '"': e = '"'; break;
		case '\\': e = '\\'; break;
		case '\b': e = 'b'; break;
		case '\f': e = 'f'; break;
		case '\n': e = 'n'; break;
		case '\r': e = 'r'; break;
		case '\t': e = 't'; break;
		default: e = 0; break;
		}
		*p++ = '\\';
		if (e != 0) {
			*p++ = e;
		} else {
			memcpy(p, "u00", 3);
			p[3] = hex[c >> 4];
			p[4] = hex[c & 15];
			p += 5;
		}
	}
	memcpy(p, run, (size_t)(end - run));
	p += end - run;
	*p++ = '"';
	return p;
}
