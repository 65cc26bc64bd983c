/*
 * test_jsonscan.c - the streaming JSON scanner: walking objects and arrays,
 * handing values over intact across block boundaries (strings with escaped
 * quotes and brackets, values far larger than one block), skipping, the
 * "\x" escape rewrite, a byte order mark, and every error with its byte
 * offset: truncation at each prefix of a document, bad separators,
 * mismatched brackets, trailing commas and trailing data.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "jsonscan.h"
#include "util.h"

static char tmpdir[PATH_MAX];
static char docpath[PATH_MAX];

/* A scanner over a file holding len bytes of text. */
static struct cf_jscan *
open_doc(const char *text, size_t len, int *fd)
{
	struct cf_jscan *s = NULL;
	FILE *f = fopen(docpath, "w");

	REQUIRE(f != NULL);
	REQUIRE(fwrite(text, 1, len, f) == len);
	REQUIRE(fclose(f) == 0);
	*fd = open(docpath, O_RDONLY);
	REQUIRE(*fd >= 0);
	REQUIRE(cf_jscan_new(&s, *fd) == 0);
	return s;
}

static void
close_doc(struct cf_jscan *s, int fd)
{
	cf_jscan_free(s);
	close(fd);
}

/* The next value as a NUL-terminated copy. */
static char *
value_copy(struct cf_jscan *s)
{
	const char *t;
	size_t n;
	uint64_t off;
	char *c;

	if (cf_jscan_value(s, &t, &n, &off) != 0)
		return NULL;
	c = malloc(n + 1);
	REQUIRE(c != NULL);
	memcpy(c, t, n);
	c[n] = '\0';
	return c;
}

static void
test_walk(void)
{
	const char *doc = "\xef\xbb\xbf {\"a\": 1, \"b\\u0073\" : [ \"x]}\\\"\", {\"k\": [1, {}]}, "
	    "-2.5e3, true, null ] , \"skip\": {\"deep\": [[[\"}\"]]]}, \"s\": \"t\\x07u\"}\n\t ";
	struct cf_jscan *s;
	char *key, *v;
	int fd;

	s = open_doc(doc, strlen(doc), &fd);
	CHECK_RC(cf_jscan_peek(s), '{');
	CHECK_RC(cf_jscan_enter(s), 0);
	CHECK_RC(cf_jscan_member(s, &key), 1);
	CHECK_STR(key, "a");
	free(key);
	CHECK_RC(cf_jscan_peek(s), '0');
	v = value_copy(s);
	CHECK_STR(v, "1");
	free(v);
	CHECK_RC(cf_jscan_member(s, &key), 1);
	CHECK_STR(key, "bs");                   /* escapes in names decoded */
	free(key);
	CHECK_RC(cf_jscan_peek(s), '[');
	CHECK_RC(cf_jscan_enter(s), 0);
	CHECK_RC(cf_jscan_element(s), 1);
	CHECK_RC(cf_jscan_peek(s), '"');
	v = value_copy(s);
	CHECK_STR(v, "\"x]}\\\"\"");
	free(v);
	CHECK_RC(cf_jscan_element(s), 1);
	v = value_copy(s);
	CHECK_STR(v, "{\"k\": [1, {}]}");
	free(v);
	CHECK_RC(cf_jscan_element(s), 1);
	v = value_copy(s);
	CHECK_STR(v, "-2.5e3");
	free(v);
	CHECK_RC(cf_jscan_element(s), 1);
	CHECK_RC(cf_jscan_peek(s), 't');
	CHECK_RC(cf_jscan_skip(s), 0);
	CHECK_RC(cf_jscan_element(s), 1);
	CHECK_RC(cf_jscan_peek(s), 'n');
	CHECK_RC(cf_jscan_skip(s), 0);
	CHECK_RC(cf_jscan_element(s), 0);       /* ']' */
	CHECK_RC(cf_jscan_member(s, &key), 1);
	CHECK_STR(key, "skip");
	free(key);
	CHECK_RC(cf_jscan_skip(s), 0);
	CHECK_RC(cf_jscan_member(s, &key), 1);
	CHECK_STR(key, "s");
	free(key);
	v = value_copy(s);
	CHECK_STR(v, "\"t\\u0007u\"");          /* \x rewritten for jansson */
	free(v);
	CHECK_RC(cf_jscan_member(s, &key), 0);  /* '}' */
	CHECK(key == NULL);
	CHECK_RC(cf_jscan_finish(s), 0);
	CHECK_STR(cf_jscan_why(s), "");
	close_doc(s, fd);

	/* Empty object and array; a scalar document */
	s = open_doc("{}", 2, &fd);
	CHECK_RC(cf_jscan_enter(s), 0);
	CHECK_RC(cf_jscan_member(s, &key), 0);
	CHECK_RC(cf_jscan_finish(s), 0);
	close_doc(s, fd);
	s = open_doc("[ ]", 3, &fd);
	CHECK_RC(cf_jscan_enter(s), 0);
	CHECK_RC(cf_jscan_element(s), 0);
	CHECK_RC(cf_jscan_finish(s), 0);
	close_doc(s, fd);
	s = open_doc("42", 2, &fd);
	v = value_copy(s);
	CHECK_STR(v, "42");
	free(v);
	CHECK_RC(cf_jscan_finish(s), 0);
	close_doc(s, fd);
}

/* Values much larger than a block, and many small ones across blocks. */
static void
test_large(void)
{
	size_t big = 300000, i, len = 0, cap = big * 3 + 400000;
	struct cf_jscan *s;
	char *doc = malloc(cap), *v, *key;
	json_t *j;
	int fd, count = 0;

	REQUIRE(doc != NULL);
	len += (size_t)sprintf(doc + len, "{\"big\": \"");
	for (i = 0; i < big; i++) {
		if (i % 1000 == 999) {
			doc[len++] = '\\';      /* an escaped quote */
			doc[len++] = '"';
		} else {
			doc[len++] = (char)('a' + i % 26);
		}
	}
	len += (size_t)sprintf(doc + len, "\", \"list\": [");
	for (i = 0; i < 20000; i++)
		len += (size_t)sprintf(doc + len, "%s{\"n\": %zu}", i ? "," : "", i);
	len += (size_t)sprintf(doc + len, "], \"skipped\": [\"");
	for (i = 0; i < big; i++)
		doc[len++] = '[';
	len += (size_t)sprintf(doc + len, "\"]}");
	REQUIRE(len < cap);

	s = open_doc(doc, len, &fd);
	CHECK_RC(cf_jscan_enter(s), 0);
	CHECK_RC(cf_jscan_member(s, &key), 1);
	free(key);
	v = value_copy(s);
	REQUIRE(v != NULL);
	j = json_loads(v, JSON_DECODE_ANY, NULL);
	CHECK(json_is_string(j) && json_string_length(j) == big);
	json_decref(j);
	free(v);
	CHECK_RC(cf_jscan_member(s, &key), 1);
	free(key);
	CHECK_RC(cf_jscan_enter(s), 0);
	while (cf_jscan_element(s) == 1) {
		v = value_copy(s);
		j = json_loads(v, 0, NULL);
		CHECK(json_integer_value(json_object_get(j, "n")) == count);
		json_decref(j);
		free(v);
		count++;
	}
	CHECK(count == 20000);
	CHECK_RC(cf_jscan_member(s, &key), 1);
	free(key);
	CHECK_RC(cf_jscan_skip(s), 0);          /* brackets inside a string */
	CHECK_RC(cf_jscan_member(s, &key), 0);
	CHECK_RC(cf_jscan_finish(s), 0);
	CHECK(cf_jscan_offset(s) == len);
	close_doc(s, fd);
	free(doc);
}

/* Walk a document fully, skipping every value: 0 or the first error. */
static int
walk(struct cf_jscan *s)
{
	char *key;
	int rc;

	if ((rc = cf_jscan_enter(s)) < 0)
		return rc;
	while ((rc = cf_jscan_member(s, &key)) == 1) {
		free(key);
		if ((rc = cf_jscan_skip(s)) < 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	return cf_jscan_finish(s);
}

static void
check_error(const char *doc, const char *why, int line)
{
	struct cf_jscan *s;
	int fd, rc;

	s = open_doc(doc, strlen(doc), &fd);
	rc = walk(s);
	if (rc != -EINVAL || strcmp(cf_jscan_why(s), why) != 0)
		fprintf(stderr, "%s:%d: got %d \"%s\", wanted \"%s\"\n", __FILE__, line, rc,
		    cf_jscan_why(s), why);
	CHECK_RC(rc, -EINVAL);
	CHECK_STR(cf_jscan_why(s), why);
	close_doc(s, fd);
}

#define BAD(doc, why) check_error((doc), (why), __LINE__)

static void
test_errors(void)
{
	const char *t;
	uint64_t off;
	char *key;
	const char *doc = "{\"a\": [1, {\"b\": \"c\\\"]\"}], \"d\": null, \"e\": -1}";
	size_t i, len = strlen(doc), n;
	char want[80], *prefix;
	struct cf_jscan *s;
	int fd, rc;

	/* Every proper prefix is truncated, at its own length */
	for (i = 0; i < len; i++) {
		prefix = strndup(doc, i);
		REQUIRE(prefix != NULL);
		s = open_doc(prefix, i, &fd);
		rc = walk(s);
		snprintf(want, sizeof want, "truncated JSON at byte %zu", i);
		if (rc != -EINVAL || strcmp(cf_jscan_why(s), want) != 0)
			fprintf(stderr, "prefix %zu: %d %s\n", i, rc, cf_jscan_why(s));
		CHECK_RC(rc, -EINVAL);
		CHECK_STR(cf_jscan_why(s), want);
		close_doc(s, fd);
		free(prefix);
	}
	s = open_doc(doc, len, &fd);
	CHECK_RC(walk(s), 0);
	close_doc(s, fd);

	BAD("{\"a\": 1 \"b\": 2}", "invalid JSON at byte 8: expected ',' or '}'");
	BAD("{\"a\": 1,}", "invalid JSON at byte 8: trailing comma");
	BAD("{\"a\" 1}", "invalid JSON at byte 5: expected ':'");
	BAD("{1: 2}", "invalid JSON at byte 1: expected a member name");
	BAD("{\"a\": [1, 2}}", "invalid JSON at byte 11: mismatched bracket");
	BAD("{\"a\": }", "invalid JSON at byte 6: unexpected character");
	BAD("{\"a\": 1} x", "invalid JSON at byte 9: unexpected data after the end of the "
	    "document");
	BAD("{\"a\": 1}{}", "invalid JSON at byte 8: unexpected data after the end of the "
	    "document");
	BAD("{\"a\\q\": 1}", "invalid JSON at byte 1: bad member name");
	BAD("", "truncated JSON at byte 0");
	BAD("  \n", "truncated JSON at byte 3");

	/* A number cut by the end of input inside an object is truncated */
	s = open_doc("{\"a\": nu", 9, &fd);
	CHECK_RC(cf_jscan_enter(s), 0);
	CHECK_RC(cf_jscan_member(s, &key), 1);
	free(key);
	CHECK_RC(cf_jscan_value(s, &t, &n, &off), -EINVAL);
	CHECK_STR(cf_jscan_why(s), "truncated JSON at byte 9");
	close_doc(s, fd);

	/* enter() on something that is not a container */
	s = open_doc("\"str\"", 5, &fd);
	CHECK_RC(cf_jscan_enter(s), -EINVAL);
	CHECK_STR(cf_jscan_why(s), "invalid JSON at byte 0: expected an object or array, "
	    "found a string");
	close_doc(s, fd);
	/* element() inside an object is a caller's mistake */
	s = open_doc("{}", 2, &fd);
	CHECK_RC(cf_jscan_enter(s), 0);
	CHECK_RC(cf_jscan_element(s), -EINVAL);
	close_doc(s, fd);
	cf_jscan_free(NULL);
}

int
main(void)
{
	const char *base = getenv("TMPDIR");

	REQUIRE(cf_path(tmpdir, sizeof tmpdir, "%s/test_jsonscan.XXXXXX",
	    base != NULL && *base != '\0' ? base : "/tmp") == 0);
	REQUIRE(mkdtemp(tmpdir) != NULL);
	REQUIRE(cf_path(docpath, sizeof docpath, "%s/doc.json", tmpdir) == 0);

	test_walk();
	test_large();
	test_errors();

	unlink(docpath);
	rmdir(tmpdir);
	return CHECK_DONE("test_jsonscan");
}
