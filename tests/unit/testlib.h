/*
 * testlib.h - small helpers the unit tests share (on top of check.h).
 */
#ifndef COFFER_TESTLIB_H
#define COFFER_TESTLIB_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "check.h"
#include "util.h"

/* Remove path and everything below it (nftw's callback, then the walk);
 * returns what nftw returns. */
static inline int
remove_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)st;
	(void)type;
	(void)f;
	return remove(path);
}

static inline int
remove_tree(const char *path)
{
	return nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Flip bits of the byte at off of path (XOR 0x20); any failure ends the
 * test.  Flipping twice restores it. */
static inline void
flip_byte(const char *path, off_t off)
{
	unsigned char c;
	int fd = open(path, O_RDWR);

	REQUIRE(fd >= 0);
	REQUIRE(pread(fd, &c, 1, off) == 1);
	c ^= 0x20;
	REQUIRE(pwrite(fd, &c, 1, off) == 1);
	close(fd);
}

/* Create or replace path with text; any failure ends the test. */
static inline void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	REQUIRE(f != NULL);
	REQUIRE(fputs(text, f) >= 0);
	REQUIRE(fclose(f) == 0);
}

/* Capture what the code under test prints on stderr (its error lines). */
static int capture_saved_fd = -1;
static char capture_path[PATH_MAX];

/* Start sending stderr to a file in folder dir. */
static inline void
capture_begin(const char *dir)
{
	int fd;

	REQUIRE(snprintf(capture_path, sizeof capture_path, "%s/stderr.txt", dir) <
	    (int)sizeof capture_path);
	fflush(stderr);
	REQUIRE((capture_saved_fd = dup(2)) >= 0);
	fd = open(capture_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	REQUIRE(fd >= 0);
	REQUIRE(dup2(fd, 2) == 2);
	close(fd);
}

/* Stop capturing; buf gets what was written (without final newlines). */
static inline void
capture_end(char *buf, size_t n)
{
	FILE *f;
	size_t got;

	fflush(stderr);
	REQUIRE(dup2(capture_saved_fd, 2) == 2);
	close(capture_saved_fd);
	REQUIRE((f = fopen(capture_path, "r")) != NULL);
	got = fread(buf, 1, n - 1, f);
	buf[got] = '\0';
	fclose(f);
	while (got > 0 && buf[got - 1] == '\n')
		buf[--got] = '\0';
	unlink(capture_path);
}

/* Flush callbacks for the importers' cf_import_opts: one that counts the
 * batches and messages it is given and empties the batch, one that fails. */
static int flushes;
static size_t flushed;

static inline int
count_flush(struct cf_batch *b, void *arg)
{
	(void)arg;
	flushes++;
	flushed += cf_batch_messages(b);
	cf_batch_reset(b);
	return 0;
}

static inline int
failing_flush(struct cf_batch *b, void *arg)
{
	(void)b;
	(void)arg;
	cf_error("flush failed on purpose");
	return -EIO;
}

#endif
