/*
 * test_mnt.c - fs/mnt.c without any FUSE mount: the mount table lookup on
 * folders that are or are not mount points (by any spelling of the path),
 * and the error paths of cleanup and refresh.  Dead and live Coffer mounts
 * are exercised by tests/e2e/t93-daemon-death.sh and t94-refresh.sh.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "mnt.h"
#include "util.h"

int
main(void)
{
	char tmpl[256], path[300];
	const char *tmp = getenv("TMPDIR");
	char *dir;

	snprintf(tmpl, sizeof(tmpl), "%s/test_mnt.XXXXXX", tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	REQUIRE((dir = mkdtemp(tmpl)) != NULL);

	/* /proc is a mount point of another type, however it is spelled */
	CHECK_RC(cf_mnt_is_coffer("/proc"), 0);
	CHECK_RC(cf_mnt_is_coffer("/proc///"), 0);
	CHECK_RC(cf_mnt_is_coffer("/proc/../proc"), 0);
	CHECK_RC(cf_mnt_is_coffer("/"), 0);
	/* a plain folder, relative or not, and a name that does not exist */
	CHECK_RC(cf_mnt_is_coffer(dir), 0);
	snprintf(path, sizeof(path), "%s/missing", dir);
	CHECK_RC(cf_mnt_is_coffer(path), 0);
	REQUIRE(chdir(dir) == 0);
	CHECK_RC(cf_mnt_is_coffer("."), 0);
	CHECK_RC(cf_mnt_is_coffer("missing"), 0);
	/* a parent that does not exist cannot be resolved */
	cf_log_quiet(1);
	snprintf(path, sizeof(path), "%s/missing/x", dir);
	CHECK_RC(cf_mnt_is_coffer(path), -ENOENT);
	cf_log_quiet(0);

	/* nothing to clean up at a plain folder or a missing one (the
	 * mount itself will report that) */
	CHECK_RC(cf_mnt_clean_stale(dir), 0);
	CHECK_RC(cf_mnt_clean_stale(path), 0);
	CHECK_RC(cf_mnt_clean_stale("/proc"), 0);

	/* refresh needs a Coffer mount */
	cf_log_quiet(1);
	CHECK_RC(cf_mnt_refresh(dir, 100, NULL), -EINVAL);
	CHECK_RC(cf_mnt_refresh("/proc", 100, NULL), -EINVAL);
	CHECK_RC(cf_mnt_refresh(path, 100, NULL), -ENOENT);
	cf_log_quiet(0);

	REQUIRE(chdir("/") == 0);
	CHECK(rmdir(dir) == 0);
	return CHECK_DONE("test_mnt");
}
