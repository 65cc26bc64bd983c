/*
 * ks_offsets.c - where every key and value of a Coffer keystore lies inside
 * ARCHIVE/keystore/data.mdb, so that a test can damage exactly one value
 * (tests/e2e/t51-bitrot.sh).
 *
 * Usage: ks_offsets ARCHIVE
 *
 * Opens the environment read-only (MDB_NOLOCK: it takes no reader slot and
 * never touches lock.mdb), walks every entry of every named sub-database
 * and of the main database (whose values are LMDB's own records of the
 * named databases), and prints one line per entry:
 *
 *   val DB KEYHEX KEYOFF KEYLEN VALOFF VALLEN
 *
 * where the offsets are byte offsets in data.mdb (the main database is
 * printed as DB "@main").  The pointers LMDB returns point into its memory
 * map of data.mdb, so an offset is the pointer minus the map's start.
 * mdb_env_info's me_mapaddr is set only for MDB_FIXEDMAP environments, so
 * the map's start is read from /proc/self/maps; every offset is then
 * checked by reading those bytes back from the file with pread, and any
 * difference is an error (exit 2) rather than a wrong answer.
 *
 * It also prints the page size and, for each named database, its root
 * page and depth:
 *
 *   psize N
 *   db NAME ROOT DEPTH ENTRIES
 *
 * The root is read from the main database's value for NAME, which is
 * LMDB 0.9's MDB_db record (48 bytes, md_root the u64 at offset 40, in the
 * host's byte order); its depth (u16 at offset 6) is checked against
 * mdb_stat so that a different layout is an error, not a wrong number.
 * A root page of depth > 1 is a branch page.
 *
 * Exit status: 0, 1 usage, 2 the keystore could not be read.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

#define MDB_DB_BYTES 48
#define MDB_DB_DEPTH_OFF 6
#define MDB_DB_ROOT_OFF 40

static const char *const db_names[] = {
	"meta", "principals", "convs", "wraps", "grants", "blobs", "convblobs",
	"chatmap", "dedup", "audit"
};

struct ctx {
	const char *data_path;          /* ARCHIVE/keystore/data.mdb (real path) */
	int fd;                         /* data.mdb, for the read-back check */
	uintptr_t map_lo, map_hi;       /* LMDB's map of data.mdb */
};

/* Find LMDB's mapping of data.mdb in /proc/self/maps.  0 or -1. */
static int
find_map(struct ctx *c)
{
	char line[PATH_MAX + 256];
	unsigned long lo, hi;
	FILE *f;
	int rc = -1;

	if ((f = fopen("/proc/self/maps", "re")) == NULL) {
		fprintf(stderr, "ks_offsets: /proc/self/maps: %s\n", strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		char *p = strchr(line, '/');

		if (p == NULL)
			continue;
		p[strcspn(p, "\n")] = '\0';
		if (strcmp(p, c->data_path) == 0 && sscanf(line, "%lx-%lx", &lo, &hi) == 2) {
			c->map_lo = lo;
			c->map_hi = hi;
			rc = 0;
			break;
		}
	}
	fclose(f);
	if (rc != 0)
		fprintf(stderr, "ks_offsets: %s is not mapped\n", c->data_path);
	return rc;
}

/* The file offset of [p, p + n), checked against the file.  0 or -1. */
static int
offset_of(const struct ctx *c, const void *p, size_t n, unsigned long long *off)
{
	uintptr_t a = (uintptr_t)p;
	unsigned char buf[4096];
	size_t done = 0;

	if (a < c->map_lo || a > c->map_hi || n > c->map_hi - a) {
		fprintf(stderr, "ks_offsets: a pointer lies outside the map\n");
		return -1;
	}
	*off = (unsigned long long)(a - c->map_lo);
	while (done < n) {
		size_t want = n - done < sizeof buf ? n - done : sizeof buf;
		ssize_t got = pread(c->fd, buf, want, (off_t)(*off + done));

		if (got != (ssize_t)want || memcmp(buf, (const unsigned char *)p + done, want) != 0) {
			fprintf(stderr, "ks_offsets: bytes at offset %llu differ from the map\n",
			    *off + done);
			return -1;
		}
		done += want;
	}
	return 0;
}

static void
print_hex(const MDB_val *v)
{
	const unsigned char *b = v->mv_data;
	size_t i;

	if (v->mv_size == 0)
		putchar('-');
	for (i = 0; i < v->mv_size; i++)
		printf("%02x", b[i]);
}

/* Print every entry of dbi as DB "name".  0 or -1. */
static int
walk(const struct ctx *c, MDB_txn *txn, MDB_dbi dbi, const char *name)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	unsigned long long koff, voff;
	int rc;

	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0) {
		fprintf(stderr, "ks_offsets: %s: %s\n", name, mdb_strerror(rc));
		return -1;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (offset_of(c, k.mv_data, k.mv_size, &koff) != 0 ||
		    offset_of(c, v.mv_data, v.mv_size, &voff) != 0) {
			mdb_cursor_close(cur);
			return -1;
		}
		printf("val %s ", name);
		print_hex(&k);
		printf(" %llu %zu %llu %zu\n", koff, k.mv_size, voff, v.mv_size);
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND) {
		fprintf(stderr, "ks_offsets: %s: %s\n", name, mdb_strerror(rc));
		return -1;
	}
	return 0;
}

/* Root page and depth of named database name from the main database. */
static int
print_db(MDB_txn *txn, MDB_dbi main_dbi, MDB_dbi dbi, const char *name)
{
	MDB_val k = { strlen(name), (void *)name }, v;
	MDB_stat st;
	uint64_t root;
	uint16_t depth;
	int rc;

	if ((rc = mdb_get(txn, main_dbi, &k, &v)) != 0 || (rc = mdb_stat(txn, dbi, &st)) != 0) {
		fprintf(stderr, "ks_offsets: %s: %s\n", name, mdb_strerror(rc));
		return -1;
	}
	if (v.mv_size != MDB_DB_BYTES) {
		fprintf(stderr, "ks_offsets: %s: database record of %zu bytes, not LMDB 0.9's\n",
		    name, v.mv_size);
		return -1;
	}
	memcpy(&depth, (const unsigned char *)v.mv_data + MDB_DB_DEPTH_OFF, sizeof depth);
	memcpy(&root, (const unsigned char *)v.mv_data + MDB_DB_ROOT_OFF, sizeof root);
	if (depth != st.ms_depth) {
		fprintf(stderr, "ks_offsets: %s: unexpected database record layout\n", name);
		return -1;
	}
	printf("db %s %llu %u %zu\n", name, (unsigned long long)root, (unsigned)depth,
	    st.ms_entries);
	return 0;
}

int
main(int argc, char **argv)
{
	struct ctx c = { NULL, -1, 0, 0 };
	char dir[PATH_MAX], data[PATH_MAX], *real = NULL;
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi main_dbi, dbi;
	MDB_stat st;
	size_t i;
	int rc, status = 2;

	if (argc != 2) {
		fprintf(stderr, "usage: ks_offsets ARCHIVE\n");
		return 1;
	}
	if (snprintf(dir, sizeof dir, "%s/keystore", argv[1]) >= (int)sizeof dir ||
	    snprintf(data, sizeof data, "%s/data.mdb", dir) >= (int)sizeof data) {
		fprintf(stderr, "ks_offsets: %s: path too long\n", argv[1]);
		return 1;
	}
	if ((real = realpath(data, NULL)) == NULL) {
		fprintf(stderr, "ks_offsets: %s: %s\n", data, strerror(errno));
		return 2;
	}
	c.data_path = real;
	if ((c.fd = open(real, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "ks_offsets: %s: %s\n", real, strerror(errno));
		goto out;
	}
	if ((rc = mdb_env_create(&env)) != 0 || (rc = mdb_env_set_maxdbs(env, 16)) != 0 ||
	    (rc = mdb_env_open(env, dir, MDB_RDONLY | MDB_NOLOCK, 0600)) != 0 ||
	    (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, NULL, 0, &main_dbi)) != 0 ||
	    (rc = mdb_env_stat(env, &st)) != 0) {
		fprintf(stderr, "ks_offsets: %s: %s\n", dir, mdb_strerror(rc));
		goto out;
	}
	if (find_map(&c) != 0)
		goto out;
	printf("psize %u\n", st.ms_psize);
	if (walk(&c, txn, main_dbi, "@main") != 0)
		goto out;
	for (i = 0; i < sizeof db_names / sizeof db_names[0]; i++) {
		rc = mdb_dbi_open(txn, db_names[i], 0, &dbi);
		if (rc == MDB_NOTFOUND)
			continue;       /* an older keystore without it */
		if (rc != 0) {
			fprintf(stderr, "ks_offsets: %s: %s\n", db_names[i], mdb_strerror(rc));
			goto out;
		}
		if (print_db(txn, main_dbi, dbi, db_names[i]) != 0 ||
		    walk(&c, txn, dbi, db_names[i]) != 0)
			goto out;
	}
	status = fflush(stdout) == 0 ? 0 : 2;
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (env != NULL)
		mdb_env_close(env);
	if (c.fd >= 0)
		close(c.fd);
	free(real);
	return status;
}
