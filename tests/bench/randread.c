/*
 * randread.c - random 4 KiB reads in one file, for perf.sh: COUNT preads
 * at 4 KiB-aligned offsets drawn with a fixed seed, so every contender
 * reads the same places.  Prints the bytes read.
 *
 * Usage: randread FILE [COUNT]     (COUNT defaults to 2000)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	static char buf[4096];
	uint64_t s = 0x853c49e6748fea9bULL, total = 0, blocks;
	unsigned long count, i;
	struct stat st;
	int fd;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: randread FILE [COUNT]\n");
		return 2;
	}
	count = argc > 2 ? strtoul(argv[2], NULL, 10) : 2000;
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "randread: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (st.st_size < (off_t)sizeof buf) {
		fprintf(stderr, "randread: %s: smaller than 4 KiB\n", argv[1]);
		close(fd);
		return 1;
	}
	blocks = (uint64_t)st.st_size / sizeof buf;
	for (i = 0; i < count; i++) {
		ssize_t n;

		s ^= s >> 12;
		s ^= s << 25;
		s ^= s >> 27;
		n = pread(fd, buf, sizeof buf,
		    (off_t)(((s * 0x2545f4914f6cdd1dULL) >> 16) % blocks * sizeof buf));
		if (n != (ssize_t)sizeof buf) {
			fprintf(stderr, "randread: %s: %s\n", argv[1],
			    n < 0 ? strerror(errno) : "short read");
			close(fd);
			return 1;
		}
		total += (uint64_t)n;
	}
	close(fd);
	printf("%llu\n", (unsigned long long)total);
	return 0;
}
