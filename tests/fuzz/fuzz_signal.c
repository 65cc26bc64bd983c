/*
 * fuzz_signal.c - libFuzzer target for the Signal importer.  The first
 * byte of the input chooses the layout the rest is written as, in a private
 * temp folder made once: 0 a sigtop file "Fuzz (+1).json" (with its
 * attachment folder), 1 a sigexport conversation folder's data.json, 2 its
 * chat.md, 3 a sigexport root holding that chat.md.  The importer then
 * parses it into a fresh batch, which is freed.  Errors are silenced.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined -Ifs $(pkg-config
 * --cflags ...) tests/fuzz/fuzz_signal.c and every fs/ source but cofferfs_main.c.
 * Seeds: tests/fixtures/signal files and the corpus, each prefixed with its
 * layout byte.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "crypto.h"
#include "import.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char base[4096];

static int
setup(void)
{
	const char *t = getenv("TMPDIR");
	char p[4200];

	if (base[0] != '\0')
		return 0;
	if (cf_crypto_init() != 0)
		return -1;
	cf_log_quiet(1);
	snprintf(base, sizeof base, "%s/fuzz_signal.XXXXXX", t != NULL && *t != '\0' ? t : "/tmp");
	if (mkdtemp(base) == NULL)
		return -1;
	snprintf(p, sizeof p, "%s/Fuzz (+1)", base);
	(void)mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/Fuzz (+1)/a.jpg", base);
	{
		FILE *f = fopen(p, "w");

		if (f != NULL) {
			fputs("x", f);
			fclose(f);
		}
	}
	snprintf(p, sizeof p, "%s/root", base);
	(void)mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/root/Conv", base);
	(void)mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/root/Conv/media", base);
	(void)mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/root/Conv/media/a.jpg", base);
	{
		FILE *f = fopen(p, "w");

		if (f != NULL) {
			fputs("x", f);
			fclose(f);
		}
	}
	return 0;
}

static int
write_bytes(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL)
		return -1;
	if (size > 0 && fwrite(data, 1, size, f) != size) {
		fclose(f);
		return -1;
	}
	return fclose(f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cf_import_opts o = { .tz = "Europe/Paris" };
	struct cf_batch *b = NULL;
	char file[4200], target[4200], other[4200];
	unsigned mode;

	if (size < 1 || setup() != 0)
		return 0;
	mode = data[0] % 4;
	data++;
	size--;
	/* one layout at a time: remove what the other modes leave */
	snprintf(other, sizeof other, "%s/Fuzz (+1).json", base);
	unlink(other);
	snprintf(other, sizeof other, "%s/root/Conv/data.json", base);
	unlink(other);
	snprintf(other, sizeof other, "%s/root/Conv/chat.md", base);
	unlink(other);
	switch (mode) {
	case 0:
		snprintf(file, sizeof file, "%s/Fuzz (+1).json", base);
		snprintf(target, sizeof target, "%s", file);
		break;
	case 1:
		snprintf(file, sizeof file, "%s/root/Conv/data.json", base);
		snprintf(target, sizeof target, "%s/root/Conv", base);
		break;
	case 2:
		snprintf(file, sizeof file, "%s/root/Conv/chat.md", base);
		snprintf(target, sizeof target, "%s", file);
		break;
	default:
		snprintf(file, sizeof file, "%s/root/Conv/chat.md", base);
		snprintf(target, sizeof target, "%s/root", base);
		break;
	}
	if (write_bytes(file, data, size) != 0)
		return 0;
	(void)cf_importer_signal.detect(target);
	if (cf_batch_new(&b, "signal", o.tz) != 0)
		return 0;
	(void)cf_importer_signal.parse(target, b, &o);
	cf_batch_free(b);
	return 0;
}
