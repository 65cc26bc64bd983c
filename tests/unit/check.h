/*
 * check.h - the whole unit-test framework: assertions that are always on
 * and print file:line with the failing expression, and a summary line the
 * runner understands.  Each test program is a main() calling CHECK*().
 */
#ifndef COFFER_CHECK_H
#define COFFER_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond) do { \
	check_count++; \
	if (!(cond)) { \
		check_failures++; \
		fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
	} \
} while (0)

/* Expect an int-returning call to give exactly want (0, -EBADMSG, …). */
#define CHECK_RC(expr, want) do { \
	long check_rc_ = (long)(expr); \
	check_count++; \
	if (check_rc_ != (long)(want)) { \
		check_failures++; \
		fprintf(stderr, "%s:%d: %s returned %ld (%s), wanted %ld\n", __FILE__, __LINE__, \
		    #expr, check_rc_, check_rc_ < 0 ? strerror((int)-check_rc_) : "-", (long)(want)); \
	} \
} while (0)

#define CHECK_STR(a, b) do { \
	const char *check_a_ = (a), *check_b_ = (b); \
	check_count++; \
	if (check_a_ == NULL || check_b_ == NULL || strcmp(check_a_, check_b_) != 0) { \
		check_failures++; \
		fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__, \
		    check_a_ ? check_a_ : "(null)", check_b_ ? check_b_ : "(null)"); \
	} \
} while (0)

/* Stop now: a failure the rest of the test cannot go on from.  cond is
 * evaluated once. */
#define REQUIRE(cond) do { \
	check_count++; \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: REQUIRE failed: %s: cannot continue\n", \
		    __FILE__, __LINE__, #cond); \
		exit(1); \
	} \
} while (0)

/* Last statement of main(). */
#define CHECK_DONE(name) ( \
	printf("%s: %d checks, %d failed\n", (name), check_count, check_failures), \
	check_failures ? 1 : 0)

#endif
