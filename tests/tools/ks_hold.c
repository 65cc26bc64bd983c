/*
 * ks_hold.c - test helper: open ARCHIVE/keystore read-only, begin a read
 * transaction and keep it until standard input closes.  While it is held
 * LMDB cannot reuse any page freed after it began, so every later write
 * transaction has to grow data.mdb: on a full file system that write fails,
 * which is how tests/e2e/t41-audit.sh makes an audit record impossible to
 * write.  Prints "holding" once the snapshot is taken.
 * Usage: ks_hold ARCHIVE
 */
#include <stdio.h>

#include <lmdb.h>

int
main(int argc, char **argv)
{
	char path[4096];
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	int rc, c;

	if (argc != 2) {
		fprintf(stderr, "usage: ks_hold ARCHIVE\n");
		return 2;
	}
	if (snprintf(path, sizeof path, "%s/keystore", argv[1]) >= (int)sizeof path) {
		fprintf(stderr, "ks_hold: path too long\n");
		return 2;
	}
	if ((rc = mdb_env_create(&env)) != 0 || (rc = mdb_env_set_maxdbs(env, 16)) != 0 ||
	    (rc = mdb_env_set_mapsize(env, (size_t)1 << 30)) != 0 ||
	    (rc = mdb_env_open(env, path, MDB_RDONLY | MDB_NOTLS, 0600)) != 0 ||
	    (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0) {
		fprintf(stderr, "ks_hold: %s: %s\n", path, mdb_strerror(rc));
		if (env != NULL)
			mdb_env_close(env);
		return 2;
	}
	printf("holding\n");
	if (fflush(stdout) != 0)
		return 2;
	while ((c = getchar()) != EOF)
		;
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return 0;
}
