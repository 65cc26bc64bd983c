/*
 * testlib.h - small helpers the unit tests share (on top of check.h).
 */
#ifndef COFFER_TESTLIB_H
#define COFFER_TESTLIB_H

#include <stdio.h>

#include "check.h"

/* Create or replace path with text; any failure ends the test. */
static inline void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	REQUIRE(f != NULL);
	REQUIRE(fputs(text, f) >= 0);
	REQUIRE(fclose(f) == 0);
}

#endif
