/*
 * fuzz_whatsapp.c - libFuzzer target for the WhatsApp importer.  Each input
 * is written into a private temp folder as "chat.txt" (or "chat.zip" when it
 * starts with a zip signature) next to one media file, "IMG-1.jpg", so that
 * attachment linking is exercised too; then it is parsed into a fresh batch
 * (zone UTC) and everything is freed, including extracted zip members.
 */
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive.h"
#include "crypto.h"
#include "import.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[PATH_MAX];

static int
put(const char *path, const void *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600), rc;

	if (fd < 0)
		return -1;
	rc = cf_write_all(fd, data, size);
	return close(fd) == 0 && rc == 0 ? 0 : -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cf_import_opts o;
	struct cf_batch *b;
	char path[PATH_MAX + 16];
	const char *tmp;
	int zip = size >= 4 && memcmp(data, "PK\x03\x04", 4) == 0;

	cf_log_quiet(1);
	if (dir[0] == '\0') {
		if (cf_crypto_init() != 0)
			abort();
		tmp = getenv("TMPDIR");
		snprintf(dir, sizeof dir, "%s/fuzz_whatsapp.XXXXXX",
		    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
		if (mkdtemp(dir) == NULL)
			abort();
		snprintf(path, sizeof path, "%s/IMG-1.jpg", dir);
		if (put(path, "jpeg", 4) != 0)
			abort();
	}
	snprintf(path, sizeof path, "%s/chat.%s", dir, zip ? "zip" : "txt");
	if (put(path, data, size) != 0)
		abort();
	memset(&o, 0, sizeof o);
	o.tz = "UTC";
	if (cf_batch_new(&b, "whatsapp", "UTC") != 0)
		abort();
	(void)cf_importer_whatsapp.detect(path);
	(void)cf_importer_whatsapp.parse(path, b, &o);
	cf_batch_free(b);
	cf_import_tempdirs_clean();
	(void)unlink(path);
	return 0;
}
