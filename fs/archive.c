/*
 * archive.c - the archive model: who holds which key, what a session may
 * read, and how a batch of messages becomes blobs plus one keystore
 * transaction.
 *
 * Policy lives here and only here.  The keystore stores, the blobs hold
 * ciphertext; this file decides.  Two rules carry the design:
 *   - a conversation's secret key is only ever sealed to the public key of a
 *     principal allowed to hold it (admins, the recovery key, reviewers with
 *     a grant), so bypassing this code does not bypass the policy;
 *   - the ingest identity only ever sees conversation *public* keys: it
 *     seals fresh blob keys to them and cannot open what it wrote.
 * Integrity of the keystore itself: records admins write are signed with
 * the archive's Ed25519 key, conversation records carry a MAC keyed with
 * the ingest key, and blobs are checked against their recorded hash when
 * opened (see "signed and MAC'd keystore records" below).
 * Limits: a batch is held in memory until it is stored (importers of huge
 * inputs flush it in parts, import.h); one import at a time per archive
 * (LMDB's single writer serialises them).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"
#include "util.h"

#define MARKER_NAME "COFFER"
#define MARKER_TEXT "coffer archive v1\n"

struct cf_archive {
	char *dir;                      /* absolute: the daemon chdirs to / */
	int flags;                      /* as given to cf_archive_open */
	struct cf_ks *ks;
	struct cf_meta meta;
};

struct cf_session {
	char name[CF_NAME_MAX + 1];
	enum cf_role role;
	int recovery;                   /* acting as the recovery key */
	struct cf_keypair kp;
	uint8_t *ingest_key;            /* secure memory, or NULL */
	uint8_t *sign_sk;               /* archive signing key (admins), or NULL */
};

static int64_t
now_secs(void)
{
	return (int64_t)time(NULL);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return now_secs() * 1000;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *
cf_role_name(enum cf_role r)
{
	switch (r) {
	case CF_ROLE_ADMIN:
		return "admin";
	case CF_ROLE_REVIEWER:
		return "reviewer";
	case CF_ROLE_INGEST:
		return "ingest";
	}
	return "unknown";
}

int
cf_role_parse(const char *s, enum cf_role *r)
{
	if (strcmp(s, "admin") == 0)
		*r = CF_ROLE_ADMIN;
	else if (strcmp(s, "reviewer") == 0)
		*r = CF_ROLE_REVIEWER;
	else if (strcmp(s, "ingest") == 0)
		*r = CF_ROLE_INGEST;
	else
		return -EINVAL;
	return 0;
}

const char *
cf_archive_dir(const struct cf_archive *a)
{
	return a->dir;
}

const uint8_t *
cf_archive_id(const struct cf_archive *a)
{
	return a->meta.archive_id;
}

struct cf_ks *
cf_archive_ks(struct cf_archive *a)
{
	return a->ks;
}

const char *
cf_session_name(const struct cf_session *s)
{
	return s->name;
}

enum cf_role
cf_session_role(const struct cf_session *s)
{
	return s->role;
}

static int
is_admin(const struct cf_session *s)
{
	return s->role == CF_ROLE_ADMIN;
}

/*
 * Associated data that binds a passphrase-wrapped key to its owner and to
 * the archive's signing key: whoever replaces the signing public key in the
 * keystore makes every unlock fail, so a principal that unlocks can trust
 * the signing key it reads, and through it every signed record.
 */
#define OWNER_AD_MAX (CF_ID_BYTES + CF_SIGN_PK_BYTES + CF_NAME_MAX)

static size_t
owner_ad(uint8_t *ad, const uint8_t archive_id[CF_ID_BYTES],
    const uint8_t sign_pk[CF_SIGN_PK_BYTES], const char *name)
{
	size_t len = strnlen(name, CF_NAME_MAX);

	memcpy(ad, archive_id, CF_ID_BYTES);
	memcpy(ad + CF_ID_BYTES, sign_pk, CF_SIGN_PK_BYTES);
	memcpy(ad + CF_ID_BYTES + CF_SIGN_PK_BYTES, name, len);
	return CF_ID_BYTES + CF_SIGN_PK_BYTES + len;
}

/* ---- signed and MAC'd keystore records --------------------------------
 *
 * Records that admins write (archive metadata, principals, grants) are
 * signed with the archive's Ed25519 key; conversation records, written by
 * ingest, carry a MAC keyed with the ingest key.  The messages below are
 * what is signed; docs/FORMAT.md spells them out.
 */
struct msgbuf {
	uint8_t b[1024];
	size_t n;
	int over;
};

static void
mb_put(struct msgbuf *m, const void *p, size_t len)
{
	if (m->over || len > sizeof(m->b) - m->n) {
		m->over = 1;
		return;
	}
	memcpy(m->b + m->n, p, len);
	m->n += len;
}

static void
mb_u64(struct msgbuf *m, uint64_t v)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	mb_put(m, b, 8);
}

/* a string with its terminating NUL, so that fields cannot run together */
static void
mb_str(struct msgbuf *m, const char *str)
{
	mb_put(m, str, strlen(str) + 1);
}

static void
meta_msg(struct msgbuf *m, const struct cf_meta *meta)
{
	memset(m, 0, sizeof(*m));
	mb_str(m, "coffer-meta-v1");
	mb_u64(m, meta->version);
	mb_put(m, meta->archive_id, CF_ID_BYTES);
	mb_put(m, meta->recovery_pk, CF_PK_BYTES);
	mb_put(m, meta->recovery_sealed_ingest_key, CF_SEALED_KEY_BYTES);
	mb_u64(m, (uint64_t)meta->created);
	mb_put(m, meta->sign_pk, CF_SIGN_PK_BYTES);
}

static void
principal_msg(struct msgbuf *m, const uint8_t archive_id[CF_ID_BYTES],
    const struct cf_principal *p)
{
	memset(m, 0, sizeof(*m));
	mb_str(m, "coffer-principal-v1");
	mb_put(m, archive_id, CF_ID_BYTES);
	mb_str(m, p->name);
	mb_put(m, &p->role, 1);
	mb_put(m, &p->disabled, 1);
	mb_put(m, p->pk, CF_PK_BYTES);
	mb_u64(m, (uint64_t)p->created);
	/* the keys handed to it: a swapped ingest or signing key would make
	 * it write under, or trust, keys an intruder chose */
	mb_put(m, &p->has_ingest_key, 1);
	mb_put(m, p->sealed_ingest_key, CF_SEALED_KEY_BYTES);
	mb_put(m, &p->has_sign_key, 1);
	mb_put(m, p->sealed_sign_sk, CF_SEALED_SIGN_KEY_BYTES);
}

static void
grant_msg(struct msgbuf *m, const uint8_t archive_id[CF_ID_BYTES], const struct cf_grant *g)
{
	memset(m, 0, sizeof(*m));
	mb_str(m, "coffer-grant-v1");
	mb_put(m, archive_id, CF_ID_BYTES);
	mb_str(m, g->principal);
	mb_put(m, g->conv_id, CF_ID_BYTES);
	mb_u64(m, (uint64_t)g->not_before);
	mb_u64(m, (uint64_t)g->not_after);
	mb_u64(m, (uint64_t)g->created);
	mb_str(m, g->granted_by);
	mb_str(m, g->reason);
}

static void
conv_mac(uint8_t out[CF_HASH_BYTES], const uint8_t *ingest_key,
    const uint8_t archive_id[CF_ID_BYTES], const struct cf_conv *c)
{
	struct msgbuf m;
	uint8_t meta_hash[CF_HASH_BYTES];

	memset(&m, 0, sizeof(m));
	cf_hash(meta_hash, c->sealed_meta, c->sealed_meta_len);
	mb_put(&m, archive_id, CF_ID_BYTES);
	mb_put(&m, c->id, CF_ID_BYTES);
	mb_put(&m, c->pk, CF_PK_BYTES);
	mb_u64(&m, (uint64_t)c->created);
	mb_u64(&m, c->next_seq);
	mb_put(&m, c->chat_tag, CF_HASH_BYTES);
	mb_put(&m, meta_hash, CF_HASH_BYTES);
	cf_keyed_tag(out, ingest_key, "coffer-conv-v1", m.b, m.n, NULL, 0);
}

/* 0 when p carries a valid archive signature, else -EBADMSG (reported). */
static int
principal_check(const struct cf_archive *a, const struct cf_principal *p)
{
	struct msgbuf m;

	principal_msg(&m, a->meta.archive_id, p);
	if (m.over || cf_sign_verify(p->sig, m.b, m.n, a->meta.sign_pk) != 0) {
		cf_error("%s/keystore: the record of principal %s is not signed by the archive "
		    "(altered keystore?)", a->dir, p->name);
		return -EBADMSG;
	}
	return 0;
}

static int
grant_check(const struct cf_archive *a, const struct cf_grant *g)
{
	struct msgbuf m;

	grant_msg(&m, a->meta.archive_id, g);
	if (m.over || cf_sign_verify(g->sig, m.b, m.n, a->meta.sign_pk) != 0) {
		cf_error("%s/keystore: a grant to %s is not signed by the archive "
		    "(altered keystore?)", a->dir, g->principal);
		return -EBADMSG;
	}
	return 0;
}

static int
meta_check(const struct cf_archive *a)
{
	struct msgbuf m;

	meta_msg(&m, &a->meta);
	if (m.over || cf_sign_verify(a->meta.sig, m.b, m.n, a->meta.sign_pk) != 0) {
		cf_error("%s/keystore: the archive metadata is not signed by the archive "
		    "(altered keystore?)", a->dir);
		return -EBADMSG;
	}
	return 0;
}

static void
principal_sign(const uint8_t archive_id[CF_ID_BYTES], struct cf_principal *p,
    const uint8_t *sign_sk)
{
	struct msgbuf m;

	principal_msg(&m, archive_id, p);
	cf_sign(p->sig, m.b, m.n, sign_sk);
}

/* The archive's signing key pair, derived from the recovery secret. */
static int
sign_key_from_recovery(const uint8_t secret[CF_KEY_BYTES], uint8_t pk[CF_SIGN_PK_BYTES],
    uint8_t *sk)
{
	uint8_t seed[CF_HASH_BYTES];
	int rc;

	cf_keyed_tag(seed, secret, "coffer-archive-signing-key-v1", "", 0, NULL, 0);
	rc = cf_sign_keypair_from_seed(pk, sk, seed);
	cf_wipe(seed, sizeof(seed));
	return rc;
}

/*
 * Fill p for a new principal with a fresh key pair whose secret key is
 * wrapped under pass.  kp receives the key pair (caller clears it).
 */
static int
principal_make(const uint8_t archive_id[CF_ID_BYTES], const uint8_t sign_pk[CF_SIGN_PK_BYTES],
    const char *name, enum cf_role role, const char *pass, size_t passlen,
    struct cf_principal *p, struct cf_keypair *kp)
{
	uint8_t ad[OWNER_AD_MAX];
	size_t adlen;
	int rc;

	memset(p, 0, sizeof(*p));
	if ((rc = cf_name_valid(name)) != 0) {
		cf_error("%s: invalid principal name (use 1-64 of A-Z a-z 0-9 . _ -)", name);
		return rc;
	}
	if ((rc = cf_keypair_new(kp)) != 0)
		return rc;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->role = (uint8_t)role;
	memcpy(p->pk, kp->pk, CF_PK_BYTES);
	cf_kdf_init(&p->kdf, role == CF_ROLE_INGEST ? CF_KDF_INTERACTIVE : CF_KDF_MODERATE);
	adlen = owner_ad(ad, archive_id, sign_pk, name);
	if ((rc = cf_pw_wrap(p->wrapped_sk, kp->sk, pass, passlen, &p->kdf, ad, adlen)) != 0) {
		cf_keypair_clear(kp);
		return rc;
	}
	p->created = now_secs();
	return 0;
}

/* Seal the archive signing key to p (admins). */
static int
principal_give_sign_key(struct cf_principal *p, const uint8_t *sign_sk)
{
	int rc;

	if ((rc = cf_seal(p->sealed_sign_sk, sign_sk, CF_SIGN_SK_BYTES, p->pk)) != 0)
		return rc;
	p->has_sign_key = 1;
	return 0;
}

/* Seal the ingest key to pk into p (admins and ingest identities). */
static int
principal_give_ingest_key(struct cf_principal *p, const uint8_t *ingest_key)
{
	int rc;

	if ((rc = cf_seal(p->sealed_ingest_key, ingest_key, CF_KEY_BYTES, p->pk)) != 0)
		return rc;
	p->has_ingest_key = 1;
	return 0;
}

static int
remove_if_present(const char *path, int isdir)
{
	if ((isdir ? rmdir(path) : unlink(path)) != 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* Undo a failed init: remove only what init creates. */
static void
init_cleanup(const char *dir, int created_dir)
{
	char p[4096];

	if (cf_path(p, sizeof(p), "%s/keystore/data.mdb", dir) == 0)
		remove_if_present(p, 0);
	if (cf_path(p, sizeof(p), "%s/keystore/lock.mdb", dir) == 0)
		remove_if_present(p, 0);
	if (cf_path(p, sizeof(p), "%s/keystore", dir) == 0)
		remove_if_present(p, 1);
	if (cf_path(p, sizeof(p), "%s/blobs", dir) == 0)
		remove_if_present(p, 1);
	if (cf_path(p, sizeof(p), "%s/" MARKER_NAME, dir) == 0)
		remove_if_present(p, 0);
	if (created_dir)
		remove_if_present(dir, 1);
}

static int
dir_is_empty(const char *dir)
{
	DIR *d;
	struct dirent *e;
	int empty = 1;

	if ((d = opendir(dir)) == NULL)
		return -errno;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			empty = 0;
			break;
		}
	}
	closedir(d);
	return empty;
}

static int
write_marker(const char *dir)
{
	char p[4096];
	int fd, rc;

	if ((rc = cf_path(p, sizeof(p), "%s/" MARKER_NAME, dir)) != 0)
		return rc;
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		cf_error("%s: %s", p, strerror(errno));
		return rc;
	}
	rc = cf_write_all(fd, MARKER_TEXT, strlen(MARKER_TEXT));
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc != 0)
		cf_error("%s: %s", p, strerror(-rc));
	return rc;
}

int
cf_archive_init(const char *dir, const char *admin, const char *pass, size_t passlen,
    uint8_t recovery_secret[CF_KEY_BYTES])
{
	struct cf_ks *ks = NULL;
	struct cf_txn *t = NULL;
	struct cf_meta meta;
	struct cf_principal p;
	struct cf_keypair rkp = { 0 }, akp = { 0 };
	uint8_t *ingest_key = NULL, *sign_sk = NULL;
	struct msgbuf mm;
	char p_blobs[4096];
	int rc, created_dir = 0;

	if ((rc = cf_name_valid(admin)) != 0) {
		cf_error("%s: invalid principal name (use 1-64 of A-Z a-z 0-9 . _ -)", admin);
		return rc;
	}
	if (mkdir(dir, 0700) == 0) {
		created_dir = 1;
	} else if (errno == EEXIST) {
		if ((rc = dir_is_empty(dir)) < 0) {
			cf_error("%s: %s", dir, strerror(-rc));
			return rc;
		}
		if (rc == 0) {
			cf_error("%s: already exists and is not empty", dir);
			return -EEXIST;
		}
	} else {
		rc = -errno;
		cf_error("%s: %s", dir, strerror(errno));
		return rc;
	}
	if ((rc = write_marker(dir)) != 0)
		goto out;
	if ((rc = cf_path(p_blobs, sizeof(p_blobs), "%s/blobs", dir)) != 0)
		goto out;
	if (mkdir(p_blobs, 0700) != 0) {
		rc = -errno;
		cf_error("%s: %s", p_blobs, strerror(errno));
		goto out;
	}
	if ((rc = cf_ks_create(dir)) != 0)
		goto out;
	if ((rc = cf_ks_open(&ks, dir, 0)) != 0)
		goto out;
	if ((ingest_key = cf_secure_alloc(CF_KEY_BYTES)) == NULL ||
	    (sign_sk = cf_secure_alloc(CF_SIGN_SK_BYTES)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	cf_random(ingest_key, CF_KEY_BYTES);
	cf_random(recovery_secret, CF_KEY_BYTES);
	if ((rc = cf_keypair_from_seed(&rkp, recovery_secret)) != 0)
		goto out;

	memset(&meta, 0, sizeof(meta));
	meta.version = CF_FORMAT_VERSION;
	cf_random(meta.archive_id, CF_ID_BYTES);
	memcpy(meta.recovery_pk, rkp.pk, CF_PK_BYTES);
	if ((rc = cf_seal(meta.recovery_sealed_ingest_key, ingest_key, CF_KEY_BYTES, rkp.pk)) != 0)
		goto out;
	meta.created = now_secs();
	if ((rc = sign_key_from_recovery(recovery_secret, meta.sign_pk, sign_sk)) != 0)
		goto out;
	meta_msg(&mm, &meta);
	cf_sign(meta.sig, mm.b, mm.n, sign_sk);

	if ((rc = principal_make(meta.archive_id, meta.sign_pk, admin, CF_ROLE_ADMIN, pass, passlen,
	    &p, &akp)) != 0)
		goto out;
	if ((rc = principal_give_ingest_key(&p, ingest_key)) != 0 ||
	    (rc = principal_give_sign_key(&p, sign_sk)) != 0)
		goto out;
	principal_sign(meta.archive_id, &p, sign_sk);

	if ((rc = cf_ks_begin(ks, 1, &t)) != 0)
		goto out;
	if ((rc = cf_ks_meta_put(t, &meta)) != 0 || (rc = cf_ks_principal_put(t, &p)) != 0)
		goto out;
	rc = cf_ks_commit(t);
	t = NULL;
out:
	cf_ks_abort(t);
	cf_ks_close(ks);
	cf_keypair_clear(&rkp);
	cf_keypair_clear(&akp);
	cf_secure_free(ingest_key);
	cf_secure_free(sign_sk);
	cf_wipe(&p, sizeof(p));
	if (rc != 0) {
		cf_wipe(recovery_secret, CF_KEY_BYTES);
		init_cleanup(dir, created_dir);
	}
	return rc;
}

int
cf_archive_open(struct cf_archive **ap, const char *dir, int flags)
{
	struct cf_archive *a;
	struct cf_txn *t = NULL;
	char p[4096];
	struct stat st;
	int rc;

	*ap = NULL;
	if ((rc = cf_path(p, sizeof(p), "%s/" MARKER_NAME, dir)) != 0) {
		cf_error("%s: path too long", dir);
		return rc;
	}
	if (stat(dir, &st) != 0) {
		rc = -errno;
		cf_error("%s: %s", dir, strerror(errno));
		return rc;
	}
	if (lstat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
		cf_error("%s: not a Coffer archive (no %s file)", dir, MARKER_NAME);
		return -ENOENT;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		cf_error("out of memory");
		return -ENOMEM;
	}
	if ((a->dir = realpath(dir, NULL)) == NULL) {
		rc = -errno;
		cf_error("%s: %s", dir, strerror(errno));
		free(a);
		return rc;
	}
	a->flags = flags;
	if ((rc = cf_ks_open(&a->ks, a->dir, flags)) != 0)
		goto fail;
	if ((rc = cf_ks_begin(a->ks, 0, &t)) != 0)
		goto fail;
	rc = cf_ks_meta_get(t, &a->meta);
	cf_ks_abort(t);
	if (rc == -ENOENT)
		cf_error("%s/keystore: no archive metadata", dir);
	if (rc != 0)
		goto fail;
	if (a->meta.version != CF_FORMAT_VERSION) {
		cf_error("%s: format version %u is not supported (this program reads %u)", dir,
		    a->meta.version, CF_FORMAT_VERSION);
		rc = -ENOTSUP;
		goto fail;
	}
	*ap = a;
	return 0;
fail:
	cf_archive_close(a);
	return rc;
}

int
cf_archive_reopen(struct cf_archive *a)
{
	cf_ks_close(a->ks);
	a->ks = NULL;
	return cf_ks_open(&a->ks, a->dir, a->flags);
}

void
cf_archive_close(struct cf_archive *a)
{
	if (a == NULL)
		return;
	cf_ks_close(a->ks);
	free(a->dir);
	free(a);
}

/* ---- sessions --------------------------------------------------------- */

static struct cf_session *
session_alloc(const char *name, enum cf_role role)
{
	struct cf_session *s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		cf_error("out of memory");
		return NULL;
	}
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->role = role;
	return s;
}

void
cf_session_free(struct cf_session *s)
{
	if (s == NULL)
		return;
	cf_keypair_clear(&s->kp);
	cf_secure_free(s->ingest_key);
	cf_secure_free(s->sign_sk);
	free(s);
}

int
cf_session_relock(struct cf_session *s)
{
	int rc;

	if (s->kp.sk != NULL && (rc = cf_secure_relock(s->kp.sk, CF_SK_BYTES)) != 0)
		return rc;
	if (s->ingest_key != NULL && (rc = cf_secure_relock(s->ingest_key, CF_KEY_BYTES)) != 0)
		return rc;
	if (s->sign_sk != NULL && (rc = cf_secure_relock(s->sign_sk, CF_SIGN_SK_BYTES)) != 0)
		return rc;
	return 0;
}

/* Unseal a sealed ingest key into the session. */
static int
session_take_ingest_key(struct cf_session *s, const uint8_t sealed[CF_SEALED_KEY_BYTES],
    const char *what)
{
	if ((s->ingest_key = cf_secure_alloc(CF_KEY_BYTES)) == NULL)
		return -ENOMEM;
	if (cf_unseal(s->ingest_key, sealed, CF_SEALED_KEY_BYTES, &s->kp) != 0) {
		cf_error("%s: the sealed ingest key does not open (keystore damaged?)", what);
		cf_secure_free(s->ingest_key);
		s->ingest_key = NULL;
		return -EBADMSG;
	}
	return 0;
}

int
cf_session_unlock(struct cf_archive *a, const char *name, const char *pass, size_t passlen,
    struct cf_session **sp)
{
	struct cf_txn *t = NULL;
	struct cf_principal p;
	struct cf_session *s = NULL;
	uint8_t *sk = NULL;
	uint8_t ad[OWNER_AD_MAX];
	size_t adlen;
	int rc;

	*sp = NULL;
	if (cf_name_valid(name) != 0) {
		cf_error("%s: invalid principal name", name);
		return -EINVAL;
	}
	if ((rc = cf_ks_begin(a->ks, 0, &t)) != 0)
		return rc;
	rc = cf_ks_principal_get(t, name, &p);
	cf_ks_abort(t);
	if (rc == -ENOENT) {
		cf_error("%s: no principal named %s", a->dir, name);
		return rc;
	}
	if (rc != 0)
		return rc;
	if (p.disabled) {
		cf_error("%s: principal %s is disabled", a->dir, name);
		rc = -EPERM;
		goto out;
	}
	if ((sk = cf_secure_alloc(CF_SK_BYTES)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	adlen = owner_ad(ad, a->meta.archive_id, a->meta.sign_pk, name);
	rc = cf_pw_unwrap(sk, p.wrapped_sk, pass, passlen, &p.kdf, ad, adlen);
	if (rc == -EACCES)
		cf_error("%s: wrong passphrase for %s", a->dir, name);
	if (rc != 0)
		goto out;
	/* the signing key is now trusted (it is in the AD): check the records */
	if ((rc = meta_check(a)) != 0 || (rc = principal_check(a, &p)) != 0)
		goto out;
	if ((s = session_alloc(name, (enum cf_role)p.role)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = cf_keypair_from_sk(&s->kp, sk)) != 0)
		goto out;
	if (cf_ct_compare(s->kp.pk, p.pk, CF_PK_BYTES) != 0) {
		cf_error("%s: the key of %s does not match its public key (keystore damaged)",
		    a->dir, name);
		rc = -EBADMSG;
		goto out;
	}
	if (p.has_ingest_key && (rc = session_take_ingest_key(s, p.sealed_ingest_key, a->dir)) != 0)
		goto out;
	if (p.has_sign_key) {
		if ((s->sign_sk = cf_secure_alloc(CF_SIGN_SK_BYTES)) == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		/* an Ed25519 secret key ends with its public key */
		if (cf_unseal(s->sign_sk, p.sealed_sign_sk, sizeof(p.sealed_sign_sk), &s->kp) != 0 ||
		    cf_ct_compare(s->sign_sk + CF_SIGN_SK_BYTES - CF_SIGN_PK_BYTES,
		    a->meta.sign_pk, CF_SIGN_PK_BYTES) != 0) {
			cf_error("%s: the signing key of %s does not open or does not match "
			    "(keystore damaged?)", a->dir, name);
			rc = -EBADMSG;
			goto out;
		}
	}
	*sp = s;
	s = NULL;
out:
	cf_secure_free(sk);
	cf_session_free(s);
	cf_wipe(&p, sizeof(p));
	return rc;
}

int
cf_session_recovery(struct cf_archive *a, const uint8_t secret[CF_KEY_BYTES],
    struct cf_session **sp)
{
	struct cf_session *s;
	uint8_t sign_pk[CF_SIGN_PK_BYTES];
	int rc;

	*sp = NULL;
	if ((s = session_alloc(CF_RECOVERY_NAME, CF_ROLE_ADMIN)) == NULL)
		return -ENOMEM;
	s->recovery = 1;
	if ((rc = cf_keypair_from_seed(&s->kp, secret)) != 0)
		goto fail;
	if (cf_ct_compare(s->kp.pk, a->meta.recovery_pk, CF_PK_BYTES) != 0) {
		cf_error("%s: this recovery key does not belong to this archive", a->dir);
		rc = -EACCES;
		goto fail;
	}
	if ((s->sign_sk = cf_secure_alloc(CF_SIGN_SK_BYTES)) == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	if ((rc = sign_key_from_recovery(secret, sign_pk, s->sign_sk)) != 0)
		goto fail;
	/* the recovery secret, not the keystore, is the anchor here */
	if (cf_ct_compare(sign_pk, a->meta.sign_pk, CF_SIGN_PK_BYTES) != 0) {
		cf_error("%s/keystore: the archive's signing key was replaced (altered keystore)",
		    a->dir);
		rc = -EBADMSG;
		goto fail;
	}
	if ((rc = meta_check(a)) != 0)
		goto fail;
	if ((rc = session_take_ingest_key(s, a->meta.recovery_sealed_ingest_key, a->dir)) != 0)
		goto fail;
	*sp = s;
	return 0;
fail:
	cf_session_free(s);
	return rc;
}

/* Check in t that s's principal still exists and is active. */
static int
session_still_active(struct cf_archive *a, struct cf_txn *t, const struct cf_session *s)
{
	struct cf_principal p;
	int rc;

	if (s->recovery)
		return 0;
	rc = cf_ks_principal_get(t, s->name, &p);
	if (rc == -ENOENT) {
		cf_error("%s: principal %s no longer exists", a->dir, s->name);
		return -EPERM;
	}
	if (rc != 0)
		return rc;
	if (p.disabled) {
		cf_error("%s: principal %s is disabled", a->dir, s->name);
		return -EPERM;
	}
	return 0;
}

static int
require_admin(struct cf_archive *a, const struct cf_session *s, const char *what)
{
	if (!is_admin(s)) {
		cf_error("%s: %s needs an admin; %s is %s", a->dir, what, s->name,
		    cf_role_name(s->role));
		return -EPERM;
	}
	return 0;
}

/* Unwrap conversation conv_id's secret key for s into kp (pk from conv). */
static int
conv_unwrap(struct cf_archive *a, struct cf_txn *t, const struct cf_session *s,
    const struct cf_conv *c, struct cf_keypair *kp)
{
	uint8_t sealed[CF_SEALED_KEY_BYTES];
	uint8_t *sk;
	char hex[2 * CF_ID_BYTES + 1];
	int rc;

	if ((rc = cf_ks_wrap_get(t, c->id, s->name, sealed)) != 0)
		return rc;
	if ((sk = cf_secure_alloc(CF_SK_BYTES)) == NULL)
		return -ENOMEM;
	if (cf_unseal(sk, sealed, sizeof(sealed), &s->kp) != 0) {
		cf_hex_encode(hex, c->id, CF_ID_BYTES);
		cf_error("%s: conversation %s: the key wrapped for %s does not open", a->dir, hex,
		    s->name);
		rc = -EBADMSG;
		goto out;
	}
	if ((rc = cf_keypair_from_sk(kp, sk)) != 0)
		goto out;
	if (cf_ct_compare(kp->pk, c->pk, CF_PK_BYTES) != 0) {
		cf_hex_encode(hex, c->id, CF_ID_BYTES);
		cf_error("%s: conversation %s: wrapped key does not match the conversation", a->dir,
		    hex);
		cf_keypair_clear(kp);
		rc = -EBADMSG;
	}
out:
	cf_secure_free(sk);
	return rc;
}

/* ---- collecting keystore walks into arrays ---------------------------- */

struct vec {
	void *v;
	size_t n, cap, size;
};

static int
vec_push(struct vec *vec, const void *item)
{
	if (vec->n == vec->cap) {
		size_t cap = vec->cap ? vec->cap * 2 : 16;
		void *nv = realloc(vec->v, cap * vec->size);

		if (nv == NULL) {
			cf_error("out of memory");
			return -ENOMEM;
		}
		vec->v = nv;
		vec->cap = cap;
	}
	memcpy((char *)vec->v + vec->n * vec->size, item, vec->size);
	vec->n++;
	return 0;
}

static void
vec_free(struct vec *vec)
{
	if (vec->v != NULL)
		cf_wipe(vec->v, vec->cap * vec->size);
	free(vec->v);
	vec->v = NULL;
	vec->n = vec->cap = 0;
}

static int
push_conv(const struct cf_conv *c, void *arg)
{
	return vec_push(arg, c);
}

static int
push_blob(const struct cf_blob_rec *b, void *arg)
{
	return vec_push(arg, b);
}

static int
push_principal(const struct cf_principal *p, void *arg)
{
	return vec_push(arg, p);
}

static int
push_grant(const struct cf_grant *g, void *arg)
{
	return vec_push(arg, g);
}

int
cf_principal_foreach(struct cf_archive *a, int (*cb)(const struct cf_principal *p, void *arg),
    void *arg)
{
	struct cf_txn *t;
	int rc;

	if ((rc = cf_ks_begin(a->ks, 0, &t)) != 0)
		return rc;
	rc = cf_ks_principal_foreach(t, cb, arg);
	cf_ks_abort(t);
	return rc;
}

/* ---- principals ------------------------------------------------------- */

/* Give new principal np a wrapped copy of every conversation key. */
static int
wrap_all_convs_for(struct cf_archive *a, struct cf_txn *t, const struct cf_session *admin,
    const char *name, const uint8_t pk[CF_PK_BYTES])
{
	struct vec convs = { .size = sizeof(struct cf_conv) };
	struct cf_keypair kp = { 0 };
	uint8_t sealed[CF_SEALED_KEY_BYTES];
	size_t i;
	int rc;

	if ((rc = cf_ks_conv_foreach(t, push_conv, &convs)) != 0)
		goto out;
	for (i = 0; i < convs.n; i++) {
		const struct cf_conv *c = (const struct cf_conv *)convs.v + i;

		if ((rc = conv_unwrap(a, t, admin, c, &kp)) != 0) {
			if (rc == -ENOENT) {
				char hex[2 * CF_ID_BYTES + 1];

				cf_hex_encode(hex, c->id, CF_ID_BYTES);
				cf_error("%s: conversation %s has no key for %s", a->dir, hex,
				    admin->name);
			}
			goto out;
		}
		rc = cf_seal(sealed, kp.sk, CF_SK_BYTES, pk);
		cf_keypair_clear(&kp);
		if (rc != 0 || (rc = cf_ks_wrap_put(t, c->id, name, sealed)) != 0)
			goto out;
	}
out:
	cf_keypair_clear(&kp);
	vec_free(&convs);
	return rc;
}

int
cf_principal_add(struct cf_archive *a, struct cf_session *admin, const char *name,
    enum cf_role role, const char *pass, size_t passlen)
{
	struct cf_txn *t = NULL;
	struct cf_principal p, old;
	struct cf_keypair kp = { 0 };
	int rc;

	if ((rc = require_admin(a, admin, "adding a principal")) != 0)
		return rc;
	if (strcmp(name, CF_RECOVERY_NAME) == 0 || cf_name_valid(name) != 0) {
		cf_error("%s: invalid principal name (use 1-64 of A-Z a-z 0-9 . _ -)", name);
		return -EINVAL;
	}
	if ((rc = cf_ks_begin(a->ks, 1, &t)) != 0)
		return rc;
	if ((rc = session_still_active(a, t, admin)) != 0)
		goto out;
	rc = cf_ks_principal_get(t, name, &old);
	if (rc == 0) {
		cf_error("%s: a principal named %s already exists", a->dir, name);
		rc = -EEXIST;
		goto out;
	}
	if (rc != -ENOENT)
		goto out;
	if (admin->sign_sk == NULL) {
		cf_error("%s: %s holds no archive signing key", a->dir, admin->name);
		rc = -EPERM;
		goto out;
	}
	if ((rc = principal_make(a->meta.archive_id, a->meta.sign_pk, name, role, pass, passlen,
	    &p, &kp)) != 0)
		goto out;
	if (role == CF_ROLE_ADMIN && (rc = principal_give_sign_key(&p, admin->sign_sk)) != 0)
		goto out;
	if (role == CF_ROLE_ADMIN || role == CF_ROLE_INGEST) {
		if (admin->ingest_key == NULL) {
			cf_error("%s: %s holds no ingest key to pass on", a->dir, admin->name);
			rc = -EPERM;
			goto out;
		}
		if ((rc = principal_give_ingest_key(&p, admin->ingest_key)) != 0)
			goto out;
	}
	if (role == CF_ROLE_ADMIN && (rc = wrap_all_convs_for(a, t, admin, name, p.pk)) != 0)
		goto out;
	principal_sign(a->meta.archive_id, &p, admin->sign_sk);
	if ((rc = cf_ks_principal_put(t, &p)) != 0)
		goto out;
	rc = cf_ks_commit(t);
	t = NULL;
out:
	cf_ks_abort(t);
	cf_keypair_clear(&kp);
	cf_wipe(&p, sizeof(p));
	return rc;
}

/* ---- conversations as a session sees them ----------------------------- */

/* A grant is valid at time now when inside its bounds. */
static int
grant_valid(const struct cf_grant *g, int64_t now)
{
	if (g->not_before != 0 && now < g->not_before)
		return 0;
	if (g->not_after != 0 && now > g->not_after)
		return 0;
	return 1;
}

/*
 * Policy: may s read conversation conv_id now?  1 yes, 0 no, -errno.  A
 * grant counts only with a valid archive signature, so a grant edited in
 * the keystore (an extended --until, say) grants nothing.
 */
static int
policy_allows(const struct cf_archive *a, struct cf_txn *t, const struct cf_session *s,
    const uint8_t conv_id[CF_ID_BYTES])
{
	struct cf_grant g;
	int64_t now = now_secs();
	int rc;

	if (s->role == CF_ROLE_ADMIN)
		return 1;
	if (s->role != CF_ROLE_REVIEWER)
		return 0;
	rc = cf_ks_grant_get(t, s->name, conv_id, &g);
	if (rc == 0 && grant_check(a, &g) == 0 && grant_valid(&g, now))
		return 1;
	if (rc != 0 && rc != -ENOENT)
		return rc;
	rc = cf_ks_grant_get(t, s->name, NULL, &g);
	if (rc == 0)
		return grant_check(a, &g) == 0 && grant_valid(&g, now);
	return rc == -ENOENT ? 0 : rc;
}

int
cf_policy_check(struct cf_archive *a, struct cf_session *s, const uint8_t conv_id[CF_ID_BYTES])
{
	struct cf_txn *t;
	int rc;

	if ((rc = cf_ks_begin(a->ks, 0, &t)) != 0)
		return rc;
	if ((rc = session_still_active(a, t, s)) != 0) {
		rc = -EACCES;
		goto out;
	}
	rc = policy_allows(a, t, s, conv_id);
	if (rc == 0)
		rc = -EACCES;
	else if (rc == 1)
		rc = 0;
out:
	cf_ks_abort(t);
	return rc;
}

/* Open a small sealed JSON object with kp. */
static json_t *
unseal_json(const uint8_t *sealed, size_t len, const struct cf_keypair *kp)
{
	uint8_t *plain;
	json_t *j;

	if (len < CF_SEAL_OVERHEAD)
		return NULL;
	if ((plain = malloc(len - CF_SEAL_OVERHEAD + 1)) == NULL)
		return NULL;
	if (cf_unseal(plain, sealed, len, kp) != 0) {
		free(plain);
		return NULL;
	}
	j = json_loadb((const char *)plain, len - CF_SEAL_OVERHEAD, 0, NULL);
	cf_wipe(plain, len - CF_SEAL_OVERHEAD);
	free(plain);
	return j;
}

/* Seal a JSON object to pk into out (at most cap bytes); sets *outlen. */
static int
seal_json(json_t *j, const uint8_t pk[CF_PK_BYTES], uint8_t *out, size_t cap, uint32_t *outlen,
    const char *what)
{
	char *text;
	size_t len;
	int rc;

	if ((text = json_dumps(j, JSON_COMPACT)) == NULL) {
		cf_error("%s: cannot encode (invalid UTF-8?)", what);
		return -EINVAL;
	}
	len = strlen(text);
	if (len + CF_SEAL_OVERHEAD > cap) {
		cf_error("%s: too long (%zu bytes)", what, len);
		rc = -EINVAL;
	} else {
		rc = cf_seal(out, (const uint8_t *)text, len, pk);
		*outlen = (uint32_t)(len + CF_SEAL_OVERHEAD);
	}
	cf_wipe(text, len);
	free(text);
	return rc;
}

static char *
json_strdup_member(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return strdup(v != NULL ? v : "");
}

static void
chat_clear(struct cf_chat *c)
{
	if (c->title != NULL)
		cf_wipe(c->title, strlen(c->title));
	if (c->chat != NULL)
		cf_wipe(c->chat, strlen(c->chat));
	free(c->title);
	free(c->chat);
	free(c->source);
	cf_keypair_clear(&c->kp);
	memset(c, 0, sizeof(*c));
}

void
cf_chats_free(struct cf_chat_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		chat_clear(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int
chat_cmp(const void *x, const void *y)
{
	const struct cf_chat *a = x, *b = y;
	int c = strcmp(a->title, b->title);

	return c != 0 ? c : memcmp(a->id, b->id, CF_ID_BYTES);
}

/* Fill title/chat/source and the counts of c from the keystore. */
static int
chat_describe(struct cf_archive *a, struct cf_txn *t, const struct cf_conv *conv,
    struct cf_chat *c)
{
	struct vec segs = { .size = sizeof(struct cf_blob_rec) };
	json_t *j;
	size_t i;
	int rc;
	char hex[2 * CF_ID_BYTES + 1];

	cf_hex_encode(hex, conv->id, CF_ID_BYTES);
	if ((j = unseal_json(conv->sealed_meta, conv->sealed_meta_len, &c->kp)) == NULL) {
		cf_error("%s: conversation %s: metadata does not open", a->dir, hex);
		return -EBADMSG;
	}
	c->title = json_strdup_member(j, "title");
	c->chat = json_strdup_member(j, "chat");
	c->source = json_strdup_member(j, "source");
	json_decref(j);
	if (c->title == NULL || c->chat == NULL || c->source == NULL)
		return -ENOMEM;
	if ((rc = cf_ks_conv_segments(t, conv->id, push_blob, &segs)) != 0)
		goto out;
	for (i = 0; i < segs.n; i++) {
		const struct cf_blob_rec *b = (const struct cf_blob_rec *)segs.v + i;
		json_int_t count, first, last;

		j = unseal_json(b->sealed_summary, b->sealed_summary_len, &c->kp);
		if (j == NULL || json_unpack(j, "{s:I,s:I,s:I}", "count", &count, "first", &first,
		    "last", &last) != 0) {
			cf_error("%s: conversation %s: segment %u summary does not open", a->dir, hex,
			    b->seq);
			json_decref(j);
			rc = -EBADMSG;
			goto out;
		}
		json_decref(j);
		if (count > 0) {
			if (c->messages == 0 || first < c->first_ms)
				c->first_ms = first;
			if (c->messages == 0 || last > c->last_ms)
				c->last_ms = last;
			c->messages += (uint64_t)count;
		}
	}
out:
	vec_free(&segs);
	return rc;
}

int
cf_chats_list(struct cf_archive *a, struct cf_session *s, struct cf_chat_list *out)
{
	struct vec convs = { .size = sizeof(struct cf_conv) };
	struct cf_txn *t = NULL;
	size_t i;
	int rc;

	out->v = NULL;
	out->n = 0;
	if ((rc = cf_ks_begin(a->ks, 0, &t)) != 0)
		return rc;
	if ((rc = session_still_active(a, t, s)) != 0)
		goto out;
	if (s->role == CF_ROLE_INGEST)
		goto out;
	if ((rc = cf_ks_conv_foreach(t, push_conv, &convs)) != 0)
		goto out;
	if (convs.n > 0 && (out->v = calloc(convs.n, sizeof(*out->v))) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < convs.n; i++) {
		const struct cf_conv *conv = (const struct cf_conv *)convs.v + i;
		struct cf_chat *c = &out->v[out->n];

		rc = policy_allows(a, t, s, conv->id);
		if (rc < 0)
			goto out;
		if (rc == 0)
			continue;
		rc = conv_unwrap(a, t, s, conv, &c->kp);
		if (rc == -ENOENT)      /* no key for s: the cryptographic check */
			continue;
		if (rc != 0)
			goto out;
		memcpy(c->id, conv->id, CF_ID_BYTES);
		out->n++;
		if ((rc = chat_describe(a, t, conv, c)) != 0)
			goto out;
	}
	rc = 0;
	if (out->n > 0)
		qsort(out->v, out->n, sizeof(*out->v), chat_cmp);
out:
	cf_ks_abort(t);
	vec_free(&convs);
	if (rc != 0)
		cf_chats_free(out);
	return rc;
}

static int
is_hex(const char *s)
{
	for (; *s != '\0'; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

int
cf_chat_find(const struct cf_chat_list *l, const char *arg)
{
	char hex[2 * CF_ID_BYTES + 1];
	size_t i, len = strlen(arg);
	int found = -1, n = 0;

	if (len >= 8 && len <= 2 * CF_ID_BYTES && is_hex(arg)) {
		for (i = 0; i < l->n; i++) {
			cf_hex_encode(hex, l->v[i].id, CF_ID_BYTES);
			if (strncmp(hex, arg, len) == 0) {
				found = (int)i;
				n++;
			}
		}
		if (n == 1)
			return found;
	}
	n = 0;
	for (i = 0; i < l->n; i++) {
		if (strcmp(l->v[i].title, arg) == 0) {
			found = (int)i;
			n++;
		}
	}
	if (n == 1)
		return found;
	if (n > 1) {
		cf_error("%s: several conversations have this title; use the id", arg);
		return -EEXIST;
	}
	cf_error("%s: no such conversation", arg);
	return -ENOENT;
}

/* ---- loading a conversation ------------------------------------------- */

static int
msg_cmp(const void *x, const void *y)
{
	const struct cf_msg *a = x, *b = y;

	if (a->ts_ms != b->ts_ms)
		return a->ts_ms < b->ts_ms ? -1 : 1;
	if (a->seg_seq != b->seg_seq)
		return a->seg_seq < b->seg_seq ? -1 : 1;
	if (a->rec_idx != b->rec_idx)
		return a->rec_idx < b->rec_idx ? -1 : 1;
	return 0;
}

void
cf_chat_content_free(struct cf_chat_content *cc)
{
	size_t i;

	if (cc == NULL)
		return;
	for (i = 0; i < cc->n; i++)
		cf_msg_clear(&cc->msgs[i]);
	for (i = 0; i < cc->nhdrs; i++)
		cf_seghdr_clear(&cc->hdrs[i]);
	free(cc->msgs);
	free(cc->hdrs);
	memset(cc, 0, sizeof(*cc));
}

/* Decrypt one segment and append its header and messages to cc. */
static int
load_segment(struct cf_archive *a, const struct cf_chat *c, const struct cf_blob_rec *b,
    struct cf_chat_content *cc, struct vec *msgs)
{
	struct cf_blob_reader *r = NULL;
	uint8_t *plain = NULL;
	size_t len = 0, pos = 0;
	struct cf_msg m;
	uint32_t idx = 1;
	int rc;
	char path[4096];

	memset(&m, 0, sizeof(m));
	if ((rc = cf_blob_path(path, sizeof(path), a->dir, b->id)) != 0)
		return rc;
	if ((rc = cf_blob_open(&r, a->dir, a->meta.archive_id, c->id, b->id, CF_BLOB_SEGMENT,
	    &c->kp)) != 0)
		/* a missing segment is damage to the store, like a bad one */
		return rc == -ENOENT ? -EBADMSG : rc;
	/* anyone can write a blob that opens with c's public key: it must
	 * also be the very file the keystore recorded */
	if ((rc = cf_blob_verify(r, b->file_size, b->hash)) != 0)
		goto out;
	if ((rc = cf_blob_read_all(r, &plain, &len)) != 0)
		goto out;
	rc = cf_record_next_hdr(plain, len, &pos, &cc->hdrs[cc->nhdrs]);
	if (rc != 1) {
		cf_error("%s: segment has no valid header record", path);
		rc = -EBADMSG;
		goto out;
	}
	cc->nhdrs++;
	while ((rc = cf_record_next_msg(plain, len, &pos, &m)) == 1) {
		m.seg_seq = b->seq;
		m.rec_idx = idx++;
		if ((rc = vec_push(msgs, &m)) != 0) {
			cf_msg_clear(&m);
			goto out;
		}
		memset(&m, 0, sizeof(m));
	}
	if (rc < 0)
		cf_error("%s: record %u is malformed", path, idx);
out:
	if (plain != NULL) {
		cf_wipe(plain, len);
		free(plain);
	}
	cf_blob_close(r);
	return rc;
}

int
cf_chat_load(struct cf_archive *a, const struct cf_chat *c, struct cf_chat_content *out)
{
	struct vec segs = { .size = sizeof(struct cf_blob_rec) };
	struct vec msgs = { .size = sizeof(struct cf_msg) };
	struct cf_txn *t = NULL;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = cf_ks_begin(a->ks, 0, &t)) != 0)
		return rc;
	rc = cf_ks_conv_segments(t, c->id, push_blob, &segs);
	cf_ks_abort(t);
	if (rc != 0)
		goto out;
	if (segs.n > 0 && (out->hdrs = calloc(segs.n, sizeof(*out->hdrs))) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < segs.n; i++) {
		if ((rc = load_segment(a, c, (const struct cf_blob_rec *)segs.v + i, out, &msgs)) != 0)
			goto out;
	}
	out->msgs = msgs.v;
	out->n = msgs.n;
	msgs.v = NULL;
	msgs.n = 0;
	if (out->n > 0)
		qsort(out->msgs, out->n, sizeof(*out->msgs), msg_cmp);
out:
	if (msgs.v != NULL) {
		for (i = 0; i < msgs.n; i++)
			cf_msg_clear((struct cf_msg *)msgs.v + i);
		free(msgs.v);
	}
	free(segs.v);
	if (rc != 0)
		cf_chat_content_free(out);
	return rc;
}

int
cf_chat_attachment_open(struct cf_archive *a, const struct cf_chat *c,
    const uint8_t blob_id[CF_ID_BYTES], struct cf_blob_reader **r)
{
	struct cf_blob_rec rec;
	struct cf_txn *t;
	int rc;

	*r = NULL;
	if ((rc = cf_ks_begin(a->ks, 0, &t)) != 0)
		return rc;
	rc = cf_ks_blob_get(t, blob_id, &rec);
	cf_ks_abort(t);
	if (rc == -ENOENT) {
		char hex[2 * CF_ID_BYTES + 1];

		cf_hex_encode(hex, blob_id, CF_ID_BYTES);
		cf_error("%s/keystore: attachment %s has no record", a->dir, hex);
		return -EBADMSG;
	}
	if (rc != 0)
		return rc;
	if (rec.kind != CF_BLOB_ATTACHMENT || memcmp(rec.conv_id, c->id, CF_ID_BYTES) != 0) {
		cf_error("%s/keystore: attachment record belongs elsewhere", a->dir);
		return -EBADMSG;
	}
	if ((rc = cf_blob_open(r, a->dir, a->meta.archive_id, c->id, blob_id, CF_BLOB_ATTACHMENT,
	    &c->kp)) != 0)
		return rc;
	/* as for segments: the file must be the one recorded */
	if ((rc = cf_blob_verify(*r, rec.file_size, rec.hash)) != 0) {
		cf_blob_close(*r);
		*r = NULL;
	}
	return rc;
}

/* ---- batches ---------------------------------------------------------- */

struct batch_chat {
	char *chat;
	char *title;
	struct cf_msg *msgs;
	size_t n, cap;
};

struct cf_batch {
	char *source;
	char *tz;
	struct batch_chat *chats;
	size_t n, cap;
	size_t last;                    /* index of the last chat used */
	size_t total;
	size_t bytes;                   /* approximate size of the messages */
};

int
cf_batch_new(struct cf_batch **bp, const char *source, const char *tz)
{
	struct cf_batch *b;

	*bp = NULL;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		goto nomem;
	if ((b->source = strdup(source)) == NULL)
		goto nomem;
	if (tz != NULL && (b->tz = strdup(tz)) == NULL)
		goto nomem;
	*bp = b;
	return 0;
nomem:
	cf_batch_free(b);
	cf_error("out of memory");
	return -ENOMEM;
}

void
cf_batch_reset(struct cf_batch *b)
{
	size_t i, j;

	for (i = 0; i < b->n; i++) {
		for (j = 0; j < b->chats[i].n; j++)
			cf_msg_clear(&b->chats[i].msgs[j]);
		free(b->chats[i].msgs);
		cf_free_wiped(b->chats[i].chat);
		cf_free_wiped(b->chats[i].title);
	}
	free(b->chats);
	b->chats = NULL;
	b->n = b->cap = b->last = b->total = b->bytes = 0;
}

void
cf_batch_free(struct cf_batch *b)
{
	if (b == NULL)
		return;
	cf_batch_reset(b);
	free(b->source);
	free(b->tz);
	free(b);
}

size_t
cf_batch_messages(const struct cf_batch *b)
{
	return b->total;
}

int
cf_batch_foreach(const struct cf_batch *b,
    int (*cb)(const char *chat, const char *title, const struct cf_msg *m, void *arg),
    void *arg)
{
	size_t i, j;
	int rc;

	for (i = 0; i < b->n; i++)
		for (j = 0; j < b->chats[i].n; j++)
			if ((rc = cb(b->chats[i].chat, b->chats[i].title, &b->chats[i].msgs[j],
			    arg)) != 0)
				return rc;
	return 0;
}

size_t
cf_batch_bytes(const struct cf_batch *b)
{
	return b->bytes;
}

static size_t
msg_bytes(const struct cf_msg *m)
{
	size_t n = sizeof(*m), i;

	n += m->id ? strlen(m->id) : 0;
	n += m->ts_raw ? strlen(m->ts_raw) : 0;
	n += m->sender ? strlen(m->sender) : 0;
	n += m->body ? strlen(m->body) : 0;
	n += m->extra ? strlen(m->extra) : 0;
	for (i = 0; i < m->natt; i++)
		n += sizeof(m->att[i]) + strlen(m->att[i].name) +
		    (m->att[i].src_path ? strlen(m->att[i].src_path) : 0);
	return n;
}

static struct batch_chat *
batch_chat_get(struct cf_batch *b, const char *chat)
{
	struct batch_chat *c;
	size_t i;

	if (b->n > 0 && strcmp(b->chats[b->last].chat, chat) == 0)
		return &b->chats[b->last];
	for (i = 0; i < b->n; i++) {
		if (strcmp(b->chats[i].chat, chat) == 0) {
			b->last = i;
			return &b->chats[i];
		}
	}
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 8;
		struct batch_chat *nc = realloc(b->chats, cap * sizeof(*nc));

		if (nc == NULL)
			return NULL;
		b->chats = nc;
		b->cap = cap;
	}
	c = &b->chats[b->n];
	memset(c, 0, sizeof(*c));
	if ((c->chat = strdup(chat)) == NULL)
		return NULL;
	b->last = b->n++;
	return c;
}

int
cf_batch_add(struct cf_batch *b, const char *chat, const char *title, struct cf_msg *m)
{
	struct batch_chat *c;

	if ((c = batch_chat_get(b, chat)) == NULL)
		goto nomem;
	if (title != NULL && title[0] != '\0') {
		char *t = strdup(title);

		if (t == NULL)
			goto nomem;
		cf_free_wiped(c->title);
		c->title = t;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct cf_msg *nm = realloc(c->msgs, cap * sizeof(*nm));

		if (nm == NULL)
			goto nomem;
		c->msgs = nm;
		c->cap = cap;
	}
	b->bytes += msg_bytes(m);
	c->msgs[c->n++] = *m;
	memset(m, 0, sizeof(*m));
	b->total++;
	return 0;
nomem:
	cf_error("out of memory");
	return -ENOMEM;
}

/* ---- import ----------------------------------------------------------- */

/* Everything an import writes, so that a failure can take it back. */
struct import_ctx {
	struct cf_archive *a;
	struct cf_session *s;
	struct cf_txn *t;
	struct cf_batch *b;
	struct vec written;             /* blob ids of files written */
	struct vec readers;             /* (name, pk) of who gets new conv keys */
	int readers_loaded;
};

struct reader_key {
	char name[CF_NAME_MAX + 1];
	uint8_t pk[CF_PK_BYTES];
};

static void
import_unlink_written(struct import_ctx *x)
{
	char path[4096];
	size_t i;

	for (i = 0; i < x->written.n; i++) {
		const uint8_t *id = (const uint8_t *)x->written.v + i * CF_ID_BYTES;

		if (cf_blob_path(path, sizeof(path), x->a->dir, id) == 0)
			unlink(path);
	}
}

/*
 * Who must receive the key of a conversation created now: the recovery
 * key, every admin, and every reviewer whose --all grant is valid now.
 */
static int
import_load_readers(struct import_ctx *x)
{
	struct vec ps = { .size = sizeof(struct cf_principal) };
	struct reader_key rk;
	struct cf_grant g;
	size_t i;
	int rc;

	if (x->readers_loaded)
		return 0;
	memset(&rk, 0, sizeof(rk));
	snprintf(rk.name, sizeof(rk.name), "%s", CF_RECOVERY_NAME);
	memcpy(rk.pk, x->a->meta.recovery_pk, CF_PK_BYTES);
	if ((rc = vec_push(&x->readers, &rk)) != 0)
		return rc;
	if ((rc = cf_ks_principal_foreach(x->t, push_principal, &ps)) != 0)
		goto out;
	for (i = 0; i < ps.n; i++) {
		const struct cf_principal *p = (const struct cf_principal *)ps.v + i;

		if (p->role == CF_ROLE_REVIEWER) {
			rc = cf_ks_grant_get(x->t, p->name, NULL, &g);
			if (rc == -ENOENT)
				continue;
			if (rc != 0)
				goto out;
			/* a grant that starts later still gets the key now: the
			 * policy check decides when it may be used */
			if ((g.not_after != 0 && g.not_after < now_secs()) || p->disabled)
				continue;
			/* fail closed: never seal a key to a record nobody signed */
			if ((rc = grant_check(x->a, &g)) != 0)
				goto out;
		} else if (p->role != CF_ROLE_ADMIN) {
			continue;
		}
		if ((rc = principal_check(x->a, p)) != 0)
			goto out;
		memset(&rk, 0, sizeof(rk));
		snprintf(rk.name, sizeof(rk.name), "%s", p->name);
		memcpy(rk.pk, p->pk, CF_PK_BYTES);
		if ((rc = vec_push(&x->readers, &rk)) != 0)
			goto out;
	}
	x->readers_loaded = 1;
	rc = 0;
out:
	vec_free(&ps);
	return rc;
}

static json_t *
conv_meta_json(const char *title, const char *source, const char *chat)
{
	return json_pack("{s:s,s:s,s:s}", "title", title != NULL ? title : "", "source", source,
	    "chat", chat);
}

/* Create conversation for bc: key pair, wrapped keys, sealed metadata. */
static int
import_new_conv(struct import_ctx *x, const struct batch_chat *bc, const uint8_t tag[CF_HASH_BYTES],
    struct cf_conv *conv)
{
	struct cf_keypair kp = { 0 };
	uint8_t sealed[CF_SEALED_KEY_BYTES];
	json_t *meta = NULL;
	size_t i;
	int rc;

	memset(conv, 0, sizeof(*conv));
	if ((rc = import_load_readers(x)) != 0)
		return rc;
	if ((rc = cf_keypair_new(&kp)) != 0)
		return rc;
	cf_random(conv->id, CF_ID_BYTES);
	memcpy(conv->pk, kp.pk, CF_PK_BYTES);
	memcpy(conv->chat_tag, tag, CF_HASH_BYTES);
	conv->created = now_secs();
	for (i = 0; i < x->readers.n; i++) {
		const struct reader_key *rk = (const struct reader_key *)x->readers.v + i;

		if ((rc = cf_seal(sealed, kp.sk, CF_SK_BYTES, rk->pk)) != 0)
			goto out;
		if ((rc = cf_ks_wrap_put(x->t, conv->id, rk->name, sealed)) != 0)
			goto out;
	}
	if ((meta = conv_meta_json(bc->title, x->b->source, bc->chat)) == NULL) {
		cf_error("conversation title or id is not valid UTF-8");
		rc = -EINVAL;
		goto out;
	}
	if ((rc = seal_json(meta, conv->pk, conv->sealed_meta, sizeof(conv->sealed_meta),
	    &conv->sealed_meta_len, "conversation metadata")) != 0)
		goto out;
	rc = cf_ks_chatmap_put(x->t, tag, conv->id);
out:
	json_decref(meta);
	/* the secret key is forgotten here: ingest never keeps it */
	cf_keypair_clear(&kp);
	return rc;
}

/* Tag that identifies a message for dedup, keyed with the ingest key. */
static void
msg_tag(const struct import_ctx *x, const struct batch_chat *bc, const struct cf_msg *m,
    uint8_t tag[CF_HASH_BYTES])
{
	struct cf_hash_state st;
	uint8_t digest[CF_HASH_BYTES];
	char scope[4096];
	int n;
	size_t i;

	n = snprintf(scope, sizeof(scope), "%s%c%s", x->b->source, 0, bc->chat);
	if (n < 0 || (size_t)n >= sizeof(scope))
		n = (int)sizeof(scope) - 1;
	if (m->id != NULL && m->id[0] != '\0') {
		cf_keyed_tag(tag, x->s->ingest_key, "coffer-msg-id", scope, (size_t)n, m->id,
		    strlen(m->id));
		return;
	}
	/* no source id: the message's content identifies it */
	cf_hash_init(&st);
	cf_hash_update(&st, &m->ts_ms, sizeof(m->ts_ms));
	cf_hash_update(&st, m->sender != NULL ? m->sender : "", m->sender != NULL ?
	    strlen(m->sender) + 1 : 1);
	cf_hash_update(&st, m->body != NULL ? m->body : "", m->body != NULL ?
	    strlen(m->body) + 1 : 1);
	for (i = 0; i < m->natt; i++)
		cf_hash_update(&st, m->att[i].name, strlen(m->att[i].name) + 1);
	/* extra tells apart identical lines (importers number repeats in it) */
	if (m->extra != NULL)
		cf_hash_update(&st, m->extra, strlen(m->extra) + 1);
	cf_hash_final(&st, digest);
	cf_keyed_tag(tag, x->s->ingest_key, "coffer-msg-content", scope, (size_t)n, digest,
	    sizeof(digest));
	cf_wipe(digest, sizeof(digest));
}

/* Record a finished blob in the keystore and in x->written. */
static int
import_blob_done(struct import_ctx *x, const struct cf_conv *conv, const struct cf_blob_info *info,
    uint32_t seq, const uint8_t *summary, uint32_t summary_len)
{
	struct cf_blob_rec rec;

	memset(&rec, 0, sizeof(rec));
	memcpy(rec.id, info->id, CF_ID_BYTES);
	memcpy(rec.conv_id, conv->id, CF_ID_BYTES);
	rec.kind = info->kind;
	rec.seq = seq;
	rec.file_size = info->file_size;
	rec.plain_size = info->plain_size;
	memcpy(rec.hash, info->hash, CF_HASH_BYTES);
	rec.created = now_secs();
	if (summary != NULL) {
		memcpy(rec.sealed_summary, summary, summary_len);
		rec.sealed_summary_len = summary_len;
	}
	return cf_ks_blob_put(x->t, &rec);
}

/* Encrypt one attachment file into a blob of conv; fills att blob_id/size. */
static int
import_attachment(struct import_ctx *x, const struct cf_conv *conv, struct cf_attach *att)
{
	struct cf_blob_writer *w = NULL;
	struct cf_blob_info info;
	struct stat st;
	uint8_t *buf = NULL;
	uint64_t left;
	int fd, rc;

	fd = open(att->src_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		cf_error("%s: %s", att->src_path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		cf_error("%s: not a regular file", att->src_path);
		rc = -EINVAL;
		goto out;
	}
	if ((buf = malloc(CF_CHUNK_SIZE)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = cf_blob_create(&w, x->a->dir, x->a->meta.archive_id, conv->id, conv->pk,
	    CF_BLOB_ATTACHMENT, (uint64_t)st.st_size)) != 0)
		goto out;
	for (left = (uint64_t)st.st_size; left > 0;) {
		size_t want = left < CF_CHUNK_SIZE ? (size_t)left : CF_CHUNK_SIZE;
		ssize_t got = read(fd, buf, want);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			rc = got < 0 ? -errno : -EIO;
			cf_error("%s: %s", att->src_path, got < 0 ? strerror(errno) :
			    "file shrank while being read");
			goto out;
		}
		if ((rc = cf_blob_write(w, buf, (size_t)got)) != 0)
			goto out;
		left -= (uint64_t)got;
	}
	rc = cf_blob_finish(w, &info);
	w = NULL;
	if (rc != 0)
		goto out;
	if ((rc = vec_push(&x->written, info.id)) != 0) {
		char path[4096];

		if (cf_blob_path(path, sizeof(path), x->a->dir, info.id) == 0)
			unlink(path);
		goto out;
	}
	if ((rc = import_blob_done(x, conv, &info, 0, NULL, 0)) != 0)
		goto out;
	memcpy(att->blob_id, info.id, CF_ID_BYTES);
	att->size = info.plain_size;
out:
	cf_blob_abort(w);
	if (buf != NULL) {
		cf_wipe(buf, CF_CHUNK_SIZE);
		free(buf);
	}
	close(fd);
	return rc;
}

/* Store the new messages of one batch conversation as one segment. */
static int
import_chat(struct import_ctx *x, struct batch_chat *bc, struct cf_import_stats *st)
{
	struct cf_conv conv;
	struct cf_seghdr hdr;
	struct cf_blob_writer *w = NULL;
	struct cf_blob_info info;
	uint8_t tag[CF_HASH_BYTES], ctag[CF_HASH_BYTES];
	uint8_t summary[CF_SEALED_SUMMARY_MAX];
	uint32_t summary_len = 0;
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, i, j;
	int64_t first = 0, last = 0;
	uint64_t count = 0;
	json_t *sj = NULL;
	int rc, isnew = 0;

	cf_keyed_tag(ctag, x->s->ingest_key, "coffer-chat", x->b->source, strlen(x->b->source),
	    bc->chat, strlen(bc->chat));
	rc = cf_ks_chatmap_get(x->t, ctag, conv.id);
	if (rc == 0) {
		uint8_t mac[CF_HASH_BYTES];

		if ((rc = cf_ks_conv_get(x->t, conv.id, &conv)) != 0) {
			if (rc == -ENOENT) {
				cf_error("%s/keystore: chat map names a missing conversation",
				    x->a->dir);
				rc = -EBADMSG;
			}
			return rc;
		}
		/* never seal new messages to a key nobody with the ingest key
		 * wrote, nor into another chat's conversation */
		conv_mac(mac, x->s->ingest_key, x->a->meta.archive_id, &conv);
		if (cf_ct_compare(mac, conv.mac, CF_HASH_BYTES) != 0 ||
		    cf_ct_compare(conv.chat_tag, ctag, CF_HASH_BYTES) != 0) {
			char hex[2 * CF_ID_BYTES + 1];

			cf_hex_encode(hex, conv.id, CF_ID_BYTES);
			cf_error("%s/keystore: conversation %s fails its integrity check "
			    "(altered keystore?)", x->a->dir, hex);
			return -EBADMSG;
		}
	} else if (rc == -ENOENT) {
		if ((rc = import_new_conv(x, bc, ctag, &conv)) != 0)
			return rc;
		isnew = 1;
	} else {
		return rc;
	}

	memset(&hdr, 0, sizeof(hdr));
	hdr.chat = bc->chat;
	hdr.title = bc->title;
	hdr.source = x->b->source;
	hdr.tz = x->b->tz;
	hdr.imported_ms = now_ms();
	if ((rc = cf_record_put_hdr(&buf, &len, &cap, &hdr)) != 0)
		goto out;
	for (i = 0; i < bc->n; i++) {
		struct cf_msg *m = &bc->msgs[i];

		/* dedup lookups walk a tree of random keys: let go of the
		 * keystore pages now and then, or the import's resident size
		 * grows with the keystore */
		if ((i & 511) == 511)
			cf_ks_release_pages(x->a->ks);
		msg_tag(x, bc, m, tag);
		if ((rc = cf_ks_dedup_has(x->t, tag)) < 0)
			goto out;
		if (rc == 1) {
			st->duplicates++;
			continue;
		}
		if ((rc = cf_ks_dedup_put(x->t, tag, conv.id)) != 0)
			goto out;
		for (j = 0; j < m->natt; j++) {
			if ((rc = import_attachment(x, &conv, &m->att[j])) != 0)
				goto out;
			st->attachments++;
		}
		if ((rc = cf_record_put_msg(&buf, &len, &cap, m)) != 0) {
			cf_error("message %s of the batch cannot be encoded", m->id ? m->id : "");
			goto out;
		}
		if (count == 0 || m->ts_ms < first)
			first = m->ts_ms;
		if (count == 0 || m->ts_ms > last)
			last = m->ts_ms;
		count++;
	}
	st->conversations++;
	if (isnew)
		st->new_conversations++;
	if (count == 0 && !isnew) {
		rc = 0;                 /* nothing new: write nothing */
		goto out;
	}

	if ((sj = json_pack("{s:I,s:I,s:I}", "count", (json_int_t)count, "first",
	    (json_int_t)first, "last", (json_int_t)last)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = seal_json(sj, conv.pk, summary, sizeof(summary), &summary_len,
	    "segment summary")) != 0)
		goto out;
	if ((rc = cf_blob_create(&w, x->a->dir, x->a->meta.archive_id, conv.id, conv.pk,
	    CF_BLOB_SEGMENT, len)) != 0)
		goto out;
	if ((rc = cf_blob_write(w, buf, len)) != 0)
		goto out;
	rc = cf_blob_finish(w, &info);
	w = NULL;
	if (rc != 0)
		goto out;
	if ((rc = vec_push(&x->written, info.id)) != 0)
		goto out;
	if ((rc = import_blob_done(x, &conv, &info, conv.next_seq, summary, summary_len)) != 0)
		goto out;
	conv.next_seq++;
	if (!isnew && bc->title != NULL) {
		json_t *meta = conv_meta_json(bc->title, x->b->source, bc->chat);

		rc = meta == NULL ? -EINVAL : seal_json(meta, conv.pk, conv.sealed_meta,
		    sizeof(conv.sealed_meta), &conv.sealed_meta_len, "conversation metadata");
		json_decref(meta);
		if (rc != 0)
			goto out;
	}
	conv_mac(conv.mac, x->s->ingest_key, x->a->meta.archive_id, &conv);
	if ((rc = cf_ks_conv_put(x->t, &conv)) != 0)
		goto out;
	st->added += count;
out:
	json_decref(sj);
	cf_blob_abort(w);
	if (buf != NULL) {
		cf_wipe(buf, cap);
		free(buf);
	}
	return rc;
}

int
cf_import(struct cf_archive *a, struct cf_session *s, struct cf_batch *b,
    struct cf_import_stats *st)
{
	struct import_ctx x;
	size_t i;
	int rc;

	memset(st, 0, sizeof(*st));
	memset(&x, 0, sizeof(x));
	x.a = a;
	x.s = s;
	x.b = b;
	x.written.size = CF_ID_BYTES;
	x.readers.size = sizeof(struct reader_key);
	if (s->ingest_key == NULL || s->role == CF_ROLE_REVIEWER) {
		cf_error("%s: %s may not import (needs an ingest or admin identity)", a->dir,
		    s->name);
		return -EPERM;
	}
	if ((rc = cf_ks_begin(a->ks, 1, &x.t)) != 0)
		return rc;
	if ((rc = session_still_active(a, x.t, s)) != 0)
		goto out;
	for (i = 0; i < b->n; i++) {
		if ((rc = import_chat(&x, &b->chats[i], st)) != 0)
			goto out;
	}
	rc = cf_ks_commit(x.t);
	x.t = NULL;
	if (rc == 0)
		cf_ks_release_pages(a->ks);
out:
	cf_ks_abort(x.t);
	if (rc != 0) {
		import_unlink_written(&x);
		memset(st, 0, sizeof(*st));
	}
	vec_free(&x.written);
	vec_free(&x.readers);
	return rc;
}

/* ---- grants ----------------------------------------------------------- */

/* The principal `name` must exist and be a reviewer. */
static int
grantee_get(struct cf_archive *a, struct cf_txn *t, const char *name, struct cf_principal *p)
{
	int rc = cf_ks_principal_get(t, name, p);

	if (rc == -ENOENT) {
		cf_error("%s: no principal named %s", a->dir, name);
		return rc;
	}
	if (rc != 0)
		return rc;
	if (p->role != CF_ROLE_REVIEWER) {
		cf_error("%s: %s is %s; only reviewers are granted conversations%s", a->dir, name,
		    cf_role_name((enum cf_role)p->role),
		    p->role == CF_ROLE_ADMIN ? " (admins read every conversation)" : "");
		return -EINVAL;
	}
	return 0;
}

int
cf_grant(struct cf_archive *a, struct cf_session *admin, const uint8_t *conv_id, const char *to,
    int64_t not_before, int64_t not_after, const char *reason)
{
	struct vec convs = { .size = sizeof(struct cf_conv) };
	struct cf_txn *t = NULL;
	struct cf_principal p;
	struct cf_grant g;
	struct cf_keypair kp = { 0 };
	uint8_t sealed[CF_SEALED_KEY_BYTES];
	size_t i;
	int rc;

	if ((rc = require_admin(a, admin, "granting")) != 0)
		return rc;
	if (not_before != 0 && not_after != 0 && not_after < not_before) {
		cf_error("grant ends before it starts");
		return -EINVAL;
	}
	if (reason != NULL && strlen(reason) > CF_REASON_MAX) {
		cf_error("reason is longer than %d bytes", CF_REASON_MAX);
		return -EINVAL;
	}
	if ((rc = cf_ks_begin(a->ks, 1, &t)) != 0)
		return rc;
	if ((rc = session_still_active(a, t, admin)) != 0)
		goto out;
	if ((rc = grantee_get(a, t, to, &p)) != 0 || (rc = principal_check(a, &p)) != 0)
		goto out;
	if (admin->sign_sk == NULL) {
		cf_error("%s: %s holds no archive signing key", a->dir, admin->name);
		rc = -EPERM;
		goto out;
	}
	if (conv_id != NULL) {
		struct cf_conv c;

		if ((rc = cf_ks_conv_get(t, conv_id, &c)) != 0)
			goto out;
		if ((rc = vec_push(&convs, &c)) != 0)
			goto out;
	} else if ((rc = cf_ks_conv_foreach(t, push_conv, &convs)) != 0) {
		goto out;
	}
	for (i = 0; i < convs.n; i++) {
		const struct cf_conv *c = (const struct cf_conv *)convs.v + i;

		if ((rc = conv_unwrap(a, t, admin, c, &kp)) != 0)
			goto out;
		rc = cf_seal(sealed, kp.sk, CF_SK_BYTES, p.pk);
		cf_keypair_clear(&kp);
		if (rc != 0 || (rc = cf_ks_wrap_put(t, c->id, to, sealed)) != 0)
			goto out;
	}
	memset(&g, 0, sizeof(g));
	snprintf(g.principal, sizeof(g.principal), "%s", to);
	if (conv_id != NULL)
		memcpy(g.conv_id, conv_id, CF_ID_BYTES);
	g.not_before = not_before;
	g.not_after = not_after;
	g.created = now_secs();
	snprintf(g.granted_by, sizeof(g.granted_by), "%s", admin->name);
	snprintf(g.reason, sizeof(g.reason), "%s", reason != NULL ? reason : "");
	{
		struct msgbuf m;

		grant_msg(&m, a->meta.archive_id, &g);
		cf_sign(g.sig, m.b, m.n, admin->sign_sk);
	}
	if ((rc = cf_ks_grant_put(t, &g)) != 0)
		goto out;
	rc = cf_ks_commit(t);
	t = NULL;
out:
	cf_ks_abort(t);
	cf_keypair_clear(&kp);
	vec_free(&convs);
	return rc;
}

int
cf_revoke(struct cf_archive *a, struct cf_session *admin, const uint8_t *conv_id,
    const char *from)
{
	struct vec convs = { .size = sizeof(struct cf_conv) };
	struct vec grants = { .size = sizeof(struct cf_grant) };
	struct cf_txn *t = NULL;
	struct cf_principal p;
	size_t i;
	int rc, removed = 0;

	if ((rc = require_admin(a, admin, "revoking")) != 0)
		return rc;
	if ((rc = cf_ks_begin(a->ks, 1, &t)) != 0)
		return rc;
	if ((rc = session_still_active(a, t, admin)) != 0)
		goto out;
	if ((rc = grantee_get(a, t, from, &p)) != 0)
		goto out;
	if (conv_id != NULL) {
		rc = cf_ks_grant_del(t, from, conv_id);
		if (rc == 0)
			removed++;
		else if (rc != -ENOENT)
			goto out;
		rc = cf_ks_wrap_del(t, conv_id, from);
		if (rc == 0)
			removed++;
		else if (rc != -ENOENT)
			goto out;
	} else {
		if ((rc = cf_ks_grant_foreach(t, from, push_grant, &grants)) != 0)
			goto out;
		for (i = 0; i < grants.n; i++) {
			const struct cf_grant *g = (const struct cf_grant *)grants.v + i;
			static const uint8_t zero[CF_ID_BYTES];
			int all = memcmp(g->conv_id, zero, CF_ID_BYTES) == 0;

			if ((rc = cf_ks_grant_del(t, from, all ? NULL : g->conv_id)) != 0)
				goto out;
			removed++;
		}
		if ((rc = cf_ks_conv_foreach(t, push_conv, &convs)) != 0)
			goto out;
		for (i = 0; i < convs.n; i++) {
			rc = cf_ks_wrap_del(t, ((const struct cf_conv *)convs.v + i)->id, from);
			if (rc == 0)
				removed++;
			else if (rc != -ENOENT)
				goto out;
		}
	}
	if (removed == 0) {
		cf_error("%s: %s holds no such grant", a->dir, from);
		rc = -ENOENT;
		goto out;
	}
	rc = cf_ks_commit(t);
	t = NULL;
out:
	cf_ks_abort(t);
	vec_free(&convs);
	vec_free(&grants);
	return rc;
}

int
cf_recover(struct cf_archive *a, const uint8_t secret[CF_KEY_BYTES], const char *new_admin,
    const char *pass, size_t passlen)
{
	struct cf_session *s = NULL;
	int rc;

	if ((rc = cf_session_recovery(a, secret, &s)) != 0)
		return rc;
	rc = cf_principal_add(a, s, new_admin, CF_ROLE_ADMIN, pass, passlen);
	cf_session_free(s);
	return rc;
}

/* ---- verify ----------------------------------------------------------- */

static int
id_cmp(const void *x, const void *y)
{
	return memcmp(x, y, CF_ID_BYTES);
}

struct verify_ctx {
	struct cf_archive *a;
	void (*report)(const char *line, void *arg);
	void *arg;
	struct cf_verify_result *r;
	struct cf_txn *t;               /* the one read transaction of the walk */
	struct vec ids;                 /* referenced blob ids, sorted after the walk */
};

static void
vreport(struct verify_ctx *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
vreport(struct verify_ctx *v, const char *fmt, ...)
{
	char line[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (v->report != NULL)
		v->report(line, v->arg);
}

static int
verify_blob(const struct cf_blob_rec *b, void *arg)
{
	struct verify_ctx *v = arg;
	char path[4096], hex[2 * CF_ID_BYTES + 1];
	uint8_t hash[CF_HASH_BYTES];
	uint64_t size;
	int rc;

	if ((rc = vec_push(&v->ids, b->id)) != 0)
		return rc;
	v->r->blobs_checked++;
	if ((rc = cf_blob_path(path, sizeof(path), v->a->dir, b->id)) != 0)
		return rc;
	cf_hex_encode(hex, b->conv_id, CF_ID_BYTES);
	rc = cf_blob_check_file(path, &size, hash);
	if (rc == -ENOENT) {
		vreport(v, "%s: missing (%s of conversation %s)", path,
		    b->kind == CF_BLOB_SEGMENT ? "segment" : "attachment", hex);
		v->r->damaged++;
		return 0;
	}
	if (rc != 0) {
		vreport(v, "%s: cannot be read: %s", path, strerror(-rc));
		v->r->damaged++;
		return 0;
	}
	if (size != b->file_size) {
		vreport(v, "%s: size %llu, expected %llu (conversation %s)", path,
		    (unsigned long long)size, (unsigned long long)b->file_size, hex);
		v->r->damaged++;
	} else if (cf_ct_compare(hash, b->hash, CF_HASH_BYTES) != 0) {
		vreport(v, "%s: content hash does not match (conversation %s)", path, hex);
		v->r->damaged++;
	}
	return 0;
}

static int
verify_count_seg(const struct cf_blob_rec *b, void *arg)
{
	uint32_t *expect = arg;

	if (b->seq != *expect)
		return 1;
	(*expect)++;
	return 0;
}

static int
verify_conv(const struct cf_conv *c, void *arg)
{
	struct verify_ctx *v = arg;
	uint32_t expect = 0;
	char hex[2 * CF_ID_BYTES + 1];
	int rc;

	cf_hex_encode(hex, c->id, CF_ID_BYTES);
	rc = cf_ks_conv_segments(v->t, c->id, verify_count_seg, &expect);
	if (rc < 0 || rc == 1 || expect != c->next_seq) {
		vreport(v, "%s/keystore: conversation %s: segment list is incomplete "
		    "(%u of %u found in order)", v->a->dir, hex, expect, c->next_seq);
		v->r->damaged++;
	}
	return 0;
}

/* Files under blobs/ that no keystore entry names. */
static int
verify_orphans(struct verify_ctx *v)
{
	char dpath[4096], fpath[4096];
	DIR *top, *sub;
	struct dirent *e, *f;
	uint8_t id[CF_ID_BYTES];
	int rc = 0;

	if ((rc = cf_path(dpath, sizeof(dpath), "%s/blobs", v->a->dir)) != 0)
		return rc;
	if ((top = opendir(dpath)) == NULL) {
		rc = -errno;
		cf_error("%s: %s", dpath, strerror(errno));
		return rc;
	}
	while ((e = readdir(top)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (cf_path(fpath, sizeof(fpath), "%s/blobs/%s", v->a->dir, e->d_name) != 0)
			continue;
		if ((sub = opendir(fpath)) == NULL) {
			vreport(v, "%s: unexpected file in blobs/", fpath);
			v->r->unreferenced++;
			continue;
		}
		while ((f = readdir(sub)) != NULL) {
			char path[4096];

			if (strcmp(f->d_name, ".") == 0 || strcmp(f->d_name, "..") == 0)
				continue;
			if (cf_path(path, sizeof(path), "%s/%s", fpath, f->d_name) != 0)
				continue;
			/* (bsearch must not see the NULL of an empty list) */
			if (cf_hex_decode(id, sizeof(id), f->d_name) != 0 || v->ids.n == 0 ||
			    bsearch(id, v->ids.v, v->ids.n, CF_ID_BYTES, id_cmp) == NULL) {
				vreport(v, "%s: unreferenced (left by an interrupted import?)", path);
				v->r->unreferenced++;
			}
		}
		closedir(sub);
	}
	closedir(top);
	return 0;
}

int
cf_verify(struct cf_archive *a, void (*report)(const char *line, void *arg), void *arg,
    struct cf_verify_result *r)
{
	struct verify_ctx v;
	struct cf_txn *t = NULL;
	int rc;

	memset(r, 0, sizeof(*r));
	memset(&v, 0, sizeof(v));
	v.a = a;
	v.report = report;
	v.arg = arg;
	v.r = r;
	v.ids.size = CF_ID_BYTES;
	if ((rc = cf_ks_begin(a->ks, 0, &t)) != 0)
		return rc;
	v.t = t;
	if ((rc = cf_ks_blob_foreach(t, verify_blob, &v)) != 0)
		goto out;
	if ((rc = cf_ks_conv_foreach(t, verify_conv, &v)) != 0)
		goto out;
	if (v.ids.n > 0)
		qsort(v.ids.v, v.ids.n, CF_ID_BYTES, id_cmp);
	rc = verify_orphans(&v);
out:
	cf_ks_abort(t);
	vec_free(&v.ids);
	return rc;
}
