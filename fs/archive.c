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
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"
#include "audit.h"
#include "retention.h"
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

/* ---- audit ----------------------------------------------------------- */

/*
 * Record a refusal in a transaction of its own.  The action is refused
 * whether or not this succeeds (a failure is reported by audit.c).
 */
static void
audit_denied(struct cf_archive *a, const char *who, const char *action, const char *object,
    const char *why)
{
	(void)cf_audit_log(a->ks, who, action, object, CF_AUDIT_DENIED, why);
}

/* Object text: a conversation id, or "all" for NULL. */
static void
audit_conv_object(char buf[CF_AUDIT_OBJECT_MAX + 1], const uint8_t *conv_id)
{
	if (conv_id != NULL)
		cf_audit_object(buf, conv_id, NULL);
	else
		snprintf(buf, CF_AUDIT_OBJECT_MAX + 1, "all");
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
	if ((rc = cf_audit_append(t, admin, "init", NULL, CF_AUDIT_OK, "first admin")) != 0)
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
	/* cf_archive_open checked its pages moments ago */
	return cf_ks_open(&a->ks, a->dir, a->flags | CF_KS_CHECKED);
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
		audit_denied(a, name, "unlock", NULL, "no such principal");
		return rc;
	}
	if (rc != 0)
		return rc;
	if (p.disabled) {
		cf_error("%s: principal %s is disabled", a->dir, name);
		audit_denied(a, name, "unlock", NULL, "principal disabled");
		rc = -EPERM;
		goto out;
	}
	if ((sk = cf_secure_alloc(CF_SK_BYTES)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	adlen = owner_ad(ad, a->meta.archive_id, a->meta.sign_pk, name);
	rc = cf_pw_unwrap(sk, p.wrapped_sk, pass, passlen, &p.kdf, ad, adlen);
	if (rc == -EACCES) {
		cf_error("%s: wrong passphrase for %s", a->dir, name);
		audit_denied(a, name, "unlock", NULL, "wrong passphrase");
	}
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
		audit_denied(a, CF_RECOVERY_NAME, "unlock", NULL, "wrong recovery key");
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

/* Admin actions: a refusal because of the session is audited. */
static int
admin_gate(struct cf_archive *a, struct cf_txn *t, const struct cf_session *s,
    const char *what, const char *action, const char *object)
{
	int rc;

	if ((rc = require_admin(a, s, what)) == 0 && (t == NULL ||
	    (rc = session_still_active(a, t, s)) == 0))
		return 0;
	audit_denied(a, s->name, action, object, rc == -EPERM ? "not an active admin" :
	    strerror(-rc));
	return rc;
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

	if ((rc = admin_gate(a, NULL, admin, "adding a principal", "principal-add", name)) != 0)
		return rc;
	if (strcmp(name, CF_RECOVERY_NAME) == 0 || cf_name_valid(name) != 0) {
		cf_error("%s: invalid principal name (use 1-64 of A-Z a-z 0-9 . _ -)", name);
		return -EINVAL;
	}
	if ((rc = cf_ks_begin(a->ks, 1, &t)) != 0)
		return rc;
	if ((rc = session_still_active(a, t, admin)) != 0) {
		cf_ks_abort(t);
		t = NULL;
		audit_denied(a, admin->name, "principal-add", name, "not an active admin");
		goto out;
	}
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
	{
		char detail[64];

		snprintf(detail, sizeof detail, "role=%s", cf_role_name(role));
		if ((rc = cf_audit_append(t, admin->name, "principal-add", name, CF_AUDIT_OK,
		    detail)) != 0)
			goto out;
	}
	rc = cf_ks_commit(t);
	t = NULL;
out:
	cf_ks_abort(t);
	cf_keypair_clear(&kp);
	cf_wipe(&p, sizeof(p));
	return rc;
}

int
cf_principal_set_disabled(struct cf_archive *a, struct cf_session *admin, const char *name,
    int disabled)
{
	const char *action = disabled ? "principal-disable" : "principal-enable";
	struct cf_txn *t = NULL;
	struct cf_principal p;
	int rc;

	if ((rc = admin_gate(a, NULL, admin, "changing a principal", action, name)) != 0)
		return rc;
	if (admin->sign_sk == NULL) {
		cf_error("%s: %s holds no archive signing key", a->dir, admin->name);
		return -EPERM;
	}
	if (!admin->recovery && strcmp(name, admin->name) == 0) {
		cf_error("%s: %s may not disable itself", a->dir, name);
		return -EINVAL;
	}
	if ((rc = cf_ks_begin(a->ks, 1, &t)) != 0)
		return rc;
	if ((rc = session_still_active(a, t, admin)) != 0) {
		cf_ks_abort(t);
		t = NULL;
		audit_denied(a, admin->name, action, name, "not an active admin");
		goto out;
	}
	rc = cf_ks_principal_get(t, name, &p);
	if (rc == -ENOENT)
		cf_error("%s: no principal named %s", a->dir, name);
	if (rc != 0 || (rc = principal_check(a, &p)) != 0)
		goto out;
	p.disabled = disabled ? 1 : 0;
	principal_sign(a->meta.archive_id, &p, admin->sign_sk);
	if ((rc = cf_ks_principal_put(t, &p)) != 0)
		goto out;
	if ((rc = cf_audit_append(t, admin->name, action, name, CF_AUDIT_OK, NULL)) != 0)
		goto out;
	rc = cf_ks_commit(t);
	t = NULL;
out:
	cf_ks_abort(t);
	cf_wipe(&p, sizeof(p));
	return rc;
}

/* ---- key generations ------------------------------------------------- */

struct convkey {
	uint32_t gen;
	uint8_t pk[CF_PK_BYTES];
	uint8_t sealed[CF_SEALED_KEY_BYTES];
};

static int
push_convkey(uint32_t gen, const uint8_t pk[CF_PK_BYTES],
    const uint8_t sealed[CF_SEALED_KEY_BYTES], void *arg)
{
	struct convkey k;

	k.gen = gen;
	memcpy(k.pk, pk, CF_PK_BYTES);
	memcpy(k.sealed, sealed, CF_SEALED_KEY_BYTES);
	return vec_push(arg, &k);
}

/*
 * Open the earlier generations of conversation conv_id's key into c->old
 * (newest first), each with the one after it, starting from c->kp.  A
 * generation that does not open, or opens to another public key, is
 * damage: -EBADMSG (reported).
 */
static int
conv_old_keys(struct cf_archive *a, struct cf_txn *t, const uint8_t conv_id[CF_ID_BYTES],
    struct cf_chat *c)
{
	struct vec gens = { .size = sizeof(struct convkey) };
	const struct cf_keypair *next = &c->kp;
	uint8_t *sk = NULL;
	char hex[2 * CF_ID_BYTES + 1];
	size_t i;
	int rc;

	if ((rc = cf_ks_convkey_foreach(t, conv_id, push_convkey, &gens)) != 0 || gens.n == 0)
		goto out;
	cf_hex_encode(hex, conv_id, CF_ID_BYTES);
	if ((c->old = calloc(gens.n, sizeof(*c->old))) == NULL ||
	    (sk = cf_secure_alloc(CF_SK_BYTES)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = gens.n; i-- > 0;) {
		const struct convkey *k = (const struct convkey *)gens.v + i;

		if (k->gen != i) {
			cf_error("%s/keystore: conversation %s: key generation %zu missing", a->dir,
			    hex, i);
			rc = -EBADMSG;
			goto out;
		}
		if (cf_unseal(sk, k->sealed, sizeof(k->sealed), next) != 0 ||
		    (rc = cf_keypair_from_sk(&c->old[c->nold], sk)) != 0 ||
		    cf_ct_compare(c->old[c->nold].pk, k->pk, CF_PK_BYTES) != 0) {
			cf_error("%s/keystore: conversation %s: key generation %u does not open",
			    a->dir, hex, k->gen);
			cf_keypair_clear(&c->old[c->nold]);
			rc = -EBADMSG;
			goto out;
		}
		next = &c->old[c->nold++];
	}
	rc = 0;
out:
	cf_secure_free(sk);
	vec_free(&gens);
	return rc;
}

/* Re-seal a sealed box (len bytes, sealed to from's public key) to pk, in
 * place.  Returns 0 or -errno. */
static int
reseal(uint8_t *box, size_t len, const struct cf_keypair *from, const uint8_t pk[CF_PK_BYTES])
{
	uint8_t *plain;
	size_t n;
	int rc;

	if (len < CF_SEAL_OVERHEAD)
		return -EBADMSG;
	n = len - CF_SEAL_OVERHEAD;
	if ((plain = cf_secure_alloc(n + 1)) == NULL)
		return -ENOMEM;
	rc = cf_unseal(plain, box, len, from) != 0 ? -EBADMSG : cf_seal(box, plain, n, pk);
	cf_wipe(plain, n + 1);
	cf_secure_free(plain);
	return rc;
}

struct rotate_ctx {
	struct cf_archive *a;
	struct cf_txn *t;
	const struct cf_keypair *oldkp;
	const struct cf_keypair *newkp;
	const uint8_t *conv_id;
	struct vec names;               /* of char[CF_NAME_MAX + 1] */
};

static int
push_wrap_name(const char *principal, const uint8_t sealed[CF_SEALED_KEY_BYTES], void *arg)
{
	char name[CF_NAME_MAX + 1];

	(void)sealed;
	snprintf(name, sizeof(name), "%s", principal);
	return vec_push(arg, name);
}

static int
reseal_summary(const struct cf_blob_rec *b, void *arg)
{
	struct rotate_ctx *x = arg;
	struct cf_blob_rec nb = *b;
	int rc;

	if (nb.sealed_summary_len == 0)
		return 0;
	if ((rc = reseal(nb.sealed_summary, nb.sealed_summary_len, x->oldkp, x->newkp->pk)) != 0) {
		cf_error("%s: a segment summary does not open: cannot rotate", x->a->dir);
		return rc;
	}
	return cf_ks_blob_put(x->t, &nb);
}

/*
 * Give conversation c a new key pair (revocation): the current secret key
 * becomes generation g (sealed to the new public key), every principal
 * still holding a wrapped key (and the recovery key) gets the new one, the
 * sealed metadata and segment summaries are sealed again to the new key,
 * and the record is MAC'd again.  New segments are then sealed to the new
 * public key, which the revoked principal never sees.  In t; admin's
 * session must hold the ingest key.  Returns 0 or -errno (reported).
 */
static int
conv_rotate(struct cf_archive *a, struct cf_txn *t, const struct cf_session *admin,
    const struct cf_conv *conv_in)
{
	struct rotate_ctx x;
	struct cf_conv *conv = NULL;
	struct cf_keypair oldkp = { 0 }, newkp = { 0 };
	struct vec gens = { .size = sizeof(struct convkey) };
	uint8_t sealed[CF_SEALED_KEY_BYTES];
	size_t i;
	int rc;

	memset(&x, 0, sizeof(x));
	x.names.size = CF_NAME_MAX + 1;
	if (admin->ingest_key == NULL) {
		cf_error("%s: %s holds no ingest key: cannot rotate keys", a->dir, admin->name);
		return -EPERM;
	}
	if ((conv = malloc(sizeof(*conv))) == NULL)
		return -ENOMEM;
	*conv = *conv_in;
	if ((rc = conv_unwrap(a, t, admin, conv, &oldkp)) != 0 ||
	    (rc = cf_keypair_new(&newkp)) != 0)
		goto out;
	if ((rc = cf_ks_convkey_foreach(t, conv->id, push_convkey, &gens)) != 0)
		goto out;
	if ((rc = cf_seal(sealed, oldkp.sk, CF_SK_BYTES, newkp.pk)) != 0 ||
	    (rc = cf_ks_convkey_put(t, conv->id, (uint32_t)gens.n, oldkp.pk, sealed)) != 0)
		goto out;
	/* every remaining holder gets the new key */
	if ((rc = cf_ks_wrap_foreach(t, conv->id, push_wrap_name, &x.names)) != 0)
		goto out;
	for (i = 0; i < x.names.n; i++) {
		const char *name = (const char *)x.names.v + i * (CF_NAME_MAX + 1);
		const uint8_t *pk;
		struct cf_principal p;

		if (strcmp(name, CF_RECOVERY_NAME) == 0) {
			pk = a->meta.recovery_pk;
		} else {
			if ((rc = cf_ks_principal_get(t, name, &p)) != 0 ||
			    (rc = principal_check(a, &p)) != 0)
				goto out;
			pk = p.pk;
		}
		if ((rc = cf_seal(sealed, newkp.sk, CF_SK_BYTES, pk)) != 0 ||
		    (rc = cf_ks_wrap_put(t, conv->id, name, sealed)) != 0)
			goto out;
	}
	x.a = a;
	x.t = t;
	x.oldkp = &oldkp;
	x.newkp = &newkp;
	x.conv_id = conv->id;
	if ((rc = cf_ks_conv_segments(t, conv->id, reseal_summary, &x)) != 0)
		goto out;
	if (conv->sealed_meta_len > 0 &&
	    (rc = reseal(conv->sealed_meta, conv->sealed_meta_len, &oldkp, newkp.pk)) != 0) {
		cf_error("%s: conversation metadata does not open: cannot rotate", a->dir);
		goto out;
	}
	memcpy(conv->pk, newkp.pk, CF_PK_BYTES);
	conv_mac(conv->mac, admin->ingest_key, a->meta.archive_id, conv);
	rc = cf_ks_conv_put(t, conv);
out:
	cf_keypair_clear(&oldkp);
	cf_keypair_clear(&newkp);
	cf_wipe(sealed, sizeof(sealed));
	vec_free(&gens);
	vec_free(&x.names);
	free(conv);
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
 * Policy: may s read conversation conv_id now?  1 yes, 0 no, 2 no because
 * its grant has ended or not begun yet, -errno.  *until (may be NULL): the
 * end of the grant that allows it.  A grant counts only with a valid
 * archive signature, so a grant edited in
 * the keystore (an extended --until, say) grants nothing.
 */
static int
policy_allows(const struct cf_archive *a, struct cf_txn *t, const struct cf_session *s,
    const uint8_t conv_id[CF_ID_BYTES], int64_t *until)
{
	struct cf_grant g;
	int64_t now = now_secs();
	int rc, ok = 0, outside = 0;

	if (until != NULL)
		*until = 0;
	if (s->role == CF_ROLE_ADMIN)
		return 1;
	if (s->role != CF_ROLE_REVIEWER)
		return 0;
	/* The conversation's own grant and the --all grant: the later end
	 * of the valid ones counts (0, no end, is the latest). */
	rc = cf_ks_grant_get(t, s->name, conv_id, &g);
	if (rc == 0 && grant_check(a, &g) == 0) {
		if (grant_valid(&g, now)) {
			ok = 1;
			if (until != NULL)
				*until = g.not_after;
		} else {
			outside = 1;
		}
	} else if (rc != 0 && rc != -ENOENT) {
		return rc;
	}
	rc = cf_ks_grant_get(t, s->name, NULL, &g);
	if (rc == 0 && grant_check(a, &g) == 0) {
		if (grant_valid(&g, now)) {
			if (until != NULL && (!ok || (*until != 0 && (g.not_after == 0 ||
			    g.not_after > *until))))
				*until = g.not_after;
			ok = 1;
		} else {
			outside = 1;
		}
	} else if (rc != 0 && rc != -ENOENT) {
		return rc;
	}
	return ok ? 1 : outside ? 2 : 0;
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
	rc = policy_allows(a, t, s, conv_id, NULL);
	if (rc == 0 || rc == 2)
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
	for (size_t i = 0; i < c->nold; i++)
		cf_keypair_clear(&c->old[i]);
	free(c->old);
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
	free(l->outside);
	memset(l, 0, sizeof(*l));
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

	memset(out, 0, sizeof(*out));
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

		rc = policy_allows(a, t, s, conv->id, &c->until);
		if (rc < 0)
			goto out;
		if (rc == 2) {
			void *nx = realloc(out->outside, (out->noutside + 1) * CF_ID_BYTES);

			if (nx == NULL) {
				rc = -ENOMEM;
				goto out;
			}
			out->outside = nx;
			memcpy(out->outside + out->noutside * CF_ID_BYTES, conv->id, CF_ID_BYTES);
			out->noutside++;
		}
		if (rc != 1)
			continue;
		rc = conv_unwrap(a, t, s, conv, &c->kp);
		if (rc == -ENOENT)      /* no key for s: the cryptographic check */
			continue;
		if (rc != 0)
			goto out;
		memcpy(c->id, conv->id, CF_ID_BYTES);
		out->n++;
		if ((rc = conv_old_keys(a, t, conv->id, c)) != 0)
			goto out;
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

/*
 * Anyone can write a blob that opens with a conversation's public key: the
 * open file r must also be the very one its keystore record b describes.
 * Its header suffices (blob.h: every chunk is authenticated under the key
 * that header holds, when it is read); records from before the header
 * hash get the whole-file check.  Returns 0, -EBADMSG (reported) or -errno.
 */
static int
blob_matches_record(struct cf_blob_reader *r, const struct cf_blob_rec *b)
{
	if (b->has_head_hash)
		return cf_blob_verify_header(r, b->file_size, b->head_hash);
	return cf_blob_verify(r, b->file_size, b->hash);
}

/* Decrypt one segment: its header into *hdr, its messages appended to
 * msgs.  Touches nothing shared but what it reads: called from two threads
 * at once by cf_chat_load. */
static int
load_segment(struct cf_archive *a, const struct cf_chat *c, const struct cf_blob_rec *b,
    struct cf_seghdr *hdr, struct vec *msgs)
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
	if ((rc = cf_chat_blob_open(a, c, b->id, CF_BLOB_SEGMENT, &r)) != 0)
		/* a missing segment is damage to the store, like a bad one */
		return rc == -ENOENT ? -EBADMSG : rc;
	/* cf_blob_read_all below authenticates every chunk */
	if ((rc = blob_matches_record(r, b)) != 0)
		goto out;
	if ((rc = cf_blob_read_all(r, &plain, &len)) != 0)
		goto out;
	rc = cf_record_next_hdr(plain, len, &pos, hdr);
	if (rc != 1) {
		cf_error("%s: segment has no valid header record", path);
		rc = -EBADMSG;
		goto out;
	}
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

/*
 * The segments of one conversation, decrypted and parsed by two threads
 * (the caller's and one helper) taking the next segment in turn: the first
 * look into a large conversation is mostly this work, and the mount has
 * two cores for it.  Each segment goes to its own vector; cf_chat_load
 * joins them in sequence order.
 */
#define LOAD_PARALLEL_MIN (1u << 20)    /* plaintext bytes worth a thread */

struct seg_job {
	struct cf_archive *a;
	const struct cf_chat *c;
	const struct cf_blob_rec *segs;
	struct cf_seghdr *hdrs;         /* one per segment */
	struct vec *outs;               /* one per segment */
	int *rcs;                       /* one per segment */
	size_t n;
	atomic_size_t next;
	atomic_int failed;              /* stop taking segments */
};

static void *
seg_worker(void *arg)
{
	struct seg_job *j = arg;
	size_t i;

	while (!atomic_load(&j->failed) && (i = atomic_fetch_add(&j->next, 1)) < j->n) {
		j->rcs[i] = load_segment(j->a, j->c, &j->segs[i], &j->hdrs[i], &j->outs[i]);
		if (j->rcs[i] != 0)
			atomic_store(&j->failed, 1);
	}
	return NULL;
}

int
cf_chat_load(struct cf_archive *a, const struct cf_chat *c, struct cf_chat_content *out)
{
	struct vec segs = { .size = sizeof(struct cf_blob_rec) };
	struct vec *outs = NULL;
	struct seg_job job;
	struct cf_txn *t = NULL;
	pthread_t helper;
	uint64_t plain = 0;
	size_t i, k, total = 0;
	int *rcs = NULL, rc, helped = 0;

	memset(out, 0, sizeof(*out));
	if ((rc = cf_ks_begin(a->ks, 0, &t)) != 0)
		return rc;
	rc = cf_ks_conv_segments(t, c->id, push_blob, &segs);
	cf_ks_abort(t);
	if (rc != 0 || segs.n == 0)
		goto out;
	out->hdrs = calloc(segs.n, sizeof(*out->hdrs));
	outs = calloc(segs.n, sizeof(*outs));
	rcs = calloc(segs.n, sizeof(*rcs));
	if (out->hdrs == NULL || outs == NULL || rcs == NULL) {
		cf_error("out of memory");
		rc = -ENOMEM;
		goto out;
	}
	out->nhdrs = segs.n;            /* zeroed headers clear safely */
	for (i = 0; i < segs.n; i++) {
		outs[i].size = sizeof(struct cf_msg);
		plain += ((const struct cf_blob_rec *)segs.v)[i].plain_size;
	}
	memset(&job, 0, sizeof(job));
	job.a = a;
	job.c = c;
	job.segs = segs.v;
	job.hdrs = out->hdrs;
	job.outs = outs;
	job.rcs = rcs;
	job.n = segs.n;
	atomic_init(&job.next, 0);
	atomic_init(&job.failed, 0);
	/* a helper only when there is enough to share; without one (or if it
	 * cannot start) this thread loads every segment */
	if (segs.n > 1 && plain >= LOAD_PARALLEL_MIN &&
	    pthread_create(&helper, NULL, seg_worker, &job) == 0)
		helped = 1;
	(void)seg_worker(&job);
	if (helped && pthread_join(helper, NULL) != 0) {
		cf_error("cannot join a loading thread");
		rc = -EIO;
		goto out;
	}
	/* the first failure in sequence order, as a serial load would give */
	for (i = 0; i < segs.n && rc == 0; i++)
		rc = rcs[i];
	if (rc == 0 && atomic_load(&job.next) < segs.n)
		rc = -EIO;              /* cannot happen: every segment was taken */
	if (rc != 0)
		goto out;
	for (i = 0; i < segs.n; i++)
		total += outs[i].n;
	if (total > 0 && (out->msgs = malloc(total * sizeof(*out->msgs))) == NULL) {
		cf_error("out of memory");
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < segs.n; i++) {
		if (outs[i].n > 0)
			memcpy(out->msgs + out->n, outs[i].v, outs[i].n * sizeof(*out->msgs));
		out->n += outs[i].n;
		free(outs[i].v);
		outs[i].v = NULL;
		outs[i].n = 0;
	}
	if (out->n > 0)
		qsort(out->msgs, out->n, sizeof(*out->msgs), msg_cmp);
out:
	if (outs != NULL) {
		for (i = 0; i < segs.n; i++) {
			for (k = 0; k < outs[i].n; k++)
				cf_msg_clear((struct cf_msg *)outs[i].v + k);
			free(outs[i].v);
		}
		free(outs);
	}
	free(rcs);
	free(segs.v);
	if (rc != 0)
		cf_chat_content_free(out);
	return rc;
}

int
cf_chat_blob_open(struct cf_archive *a, const struct cf_chat *c,
    const uint8_t blob_id[CF_ID_BYTES], int kind, struct cf_blob_reader **r)
{
	struct cf_keypair *keys;
	size_t i;
	int rc;

	*r = NULL;
	if (c->nold == 0)
		return cf_blob_open(r, a->dir, a->meta.archive_id, c->id, blob_id, kind, &c->kp);
	/* shallow copies: the secret keys stay owned by c */
	if ((keys = calloc(c->nold + 1, sizeof(*keys))) == NULL) {
		cf_error("%s: %s", a->dir, strerror(ENOMEM));
		return -ENOMEM;
	}
	keys[0] = c->kp;
	for (i = 0; i < c->nold; i++)
		keys[i + 1] = c->old[i];
	rc = cf_blob_open_keys(r, a->dir, a->meta.archive_id, c->id, blob_id, kind, keys,
	    c->nold + 1);
	free(keys);
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
	if ((rc = cf_chat_blob_open(a, c, blob_id, CF_BLOB_ATTACHMENT, r)) != 0)
		return rc;
	/* as for segments; no read of the whole file before its first byte */
	if ((rc = blob_matches_record(*r, &rec)) != 0) {
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
	memcpy(rec.head_hash, info->head_hash, CF_HASH_BYTES);
	rec.has_head_hash = 1;
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
		audit_denied(a, s->name, "import", NULL, "not an ingest or admin identity");
		return -EPERM;
	}
	if ((rc = cf_ks_begin(a->ks, 1, &x.t)) != 0)
		return rc;
	if ((rc = session_still_active(a, x.t, s)) != 0) {
		cf_ks_abort(x.t);
		x.t = NULL;
		audit_denied(a, s->name, "import", NULL, "principal not active");
		goto out;
	}
	for (i = 0; i < b->n; i++) {
		if ((rc = import_chat(&x, &b->chats[i], st)) != 0)
			goto out;
	}
	{
		char detail[200];

		snprintf(detail, sizeof detail, "source=%s conversations=%llu new=%llu "
		    "messages=%llu duplicates=%llu attachments=%llu", b->source,
		    (unsigned long long)st->conversations, (unsigned long long)st->new_conversations,
		    (unsigned long long)st->added, (unsigned long long)st->duplicates,
		    (unsigned long long)st->attachments);
		if ((rc = cf_audit_append(x.t, s->name, "import", NULL, CF_AUDIT_OK, detail)) != 0)
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
	char obj[CF_AUDIT_OBJECT_MAX + 1], detail[CF_AUDIT_DETAIL_MAX + 1];
	size_t i;
	int rc;

	audit_conv_object(obj, conv_id);
	if ((rc = admin_gate(a, NULL, admin, "granting", "grant", obj)) != 0)
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
	if ((rc = session_still_active(a, t, admin)) != 0) {
		cf_ks_abort(t);
		t = NULL;
		audit_denied(a, admin->name, "grant", obj, "not an active admin");
		goto out;
	}
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
	snprintf(detail, sizeof detail, "to=%s from=%lld until=%lld reason=%s", to,
	    (long long)not_before, (long long)not_after, g.reason);
	if ((rc = cf_audit_append(t, admin->name, "grant", obj, CF_AUDIT_OK, detail)) != 0)
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
	char obj[CF_AUDIT_OBJECT_MAX + 1], detail[CF_AUDIT_DETAIL_MAX + 1];
	size_t i, rotated = 0;
	int rc, removed = 0;

	audit_conv_object(obj, conv_id);
	if ((rc = admin_gate(a, NULL, admin, "revoking", "revoke", obj)) != 0)
		return rc;
	if ((rc = cf_ks_begin(a->ks, 1, &t)) != 0)
		return rc;
	if ((rc = session_still_active(a, t, admin)) != 0) {
		cf_ks_abort(t);
		t = NULL;
		audit_denied(a, admin->name, "revoke", obj, "not an active admin");
		goto out;
	}
	if ((rc = grantee_get(a, t, from, &p)) != 0)
		goto out;
	if (conv_id != NULL) {
		rc = cf_ks_grant_del(t, from, conv_id);
		if (rc == 0)
			removed++;
		else if (rc != -ENOENT)
			goto out;
		rc = cf_ks_wrap_del(t, conv_id, from);
		if (rc == 0) {
			struct cf_conv c;

			removed++;
			if ((rc = cf_ks_conv_get(t, conv_id, &c)) != 0 ||
			    (rc = conv_rotate(a, t, admin, &c)) != 0)
				goto out;
			rotated++;
		} else if (rc != -ENOENT) {
			goto out;
		}
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
			const struct cf_conv *c = (const struct cf_conv *)convs.v + i;

			rc = cf_ks_wrap_del(t, c->id, from);
			if (rc == 0) {
				removed++;
				if ((rc = conv_rotate(a, t, admin, c)) != 0)
					goto out;
				rotated++;
			} else if (rc != -ENOENT) {
				goto out;
			}
		}
	}
	if (removed == 0) {
		cf_error("%s: %s holds no such grant", a->dir, from);
		rc = -ENOENT;
		goto out;
	}
	snprintf(detail, sizeof detail, "from=%s keys-rotated=%zu", from, rotated);
	if ((rc = cf_audit_append(t, admin->name, "revoke", obj, CF_AUDIT_OK, detail)) != 0)
		goto out;
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
	if (rc == 0)
		rc = cf_audit_log(a->ks, CF_RECOVERY_NAME, "recover", new_admin, CF_AUDIT_OK,
		    "new admin created with the recovery key");
	return rc;
}

/* ---- verify -----------------------------------------------------------
 *
 * Without any key.  One walk over every keystore entry (cf_ks_check_walk)
 * decodes every value, checks the signatures that need only the archive's
 * public signing key (meta, principals, grants) and keeps what the
 * cross-checks need; every record must then name things that exist, and
 * every conversation must be whole (its chat map entry, its keys wrapped
 * for the recovery key and every admin, its segment list); then every
 * blob file is checked against its record, and files nothing names are
 * listed.  Keystore findings name ARCHIVE/keystore and the record; file
 * findings name the file.  What needs a key (sealed boxes, the
 * conversation MAC, dedup tags) is left to verify --deep and to reading.
 */

static int
id_cmp(const void *x, const void *y)
{
	return memcmp(x, y, CF_ID_BYTES);
}

/* What verify keeps of the records it cross-checks. */
struct vprin {
	char name[CF_NAME_MAX + 1];     /* first: the search key */
	uint8_t role;
};

struct vconv {
	uint8_t id[CF_ID_BYTES];
	uint8_t chat_tag[CF_HASH_BYTES];
	uint32_t next_seq;
};

struct vwrap {
	uint8_t conv_id[CF_ID_BYTES];
	char name[CF_NAME_MAX + 1];
};

struct vblob {
	uint8_t id[CF_ID_BYTES];
	uint8_t conv_id[CF_ID_BYTES];
	uint8_t kind;
	uint32_t seq;
	uint64_t file_size;
	uint64_t plain_size;
	uint8_t hash[CF_HASH_BYTES];
	int has_head_hash;
	uint8_t head_hash[CF_HASH_BYTES];
	uint32_t summary_len;
};

struct vseg {                           /* a convblobs entry */
	uint8_t conv_id[CF_ID_BYTES];
	uint32_t seq;
	uint8_t blob_id[CF_ID_BYTES];
};

struct vtag {                           /* a chatmap entry */
	uint8_t tag[CF_HASH_BYTES];
	uint8_t conv_id[CF_ID_BYTES];
};

/* A vec kept sorted for bsearch: sorted again only after a push. */
struct vset {
	struct vec v;
	int sorted;
	int (*cmp)(const void *x, const void *y);
};

struct verify_ctx {
	struct cf_archive *a;
	void (*report)(const char *line, void *arg);
	void *arg;
	struct cf_verify_result *r;
	int meta_signed;                /* meta's signature verifies */
	struct vset prins, convs, wraps, blobs, segs, tags;
};

static int
prin_cmp(const void *x, const void *y)
{
	return strcmp(((const struct vprin *)x)->name, ((const struct vprin *)y)->name);
}

static int
wrap_cmp(const void *x, const void *y)
{
	const struct vwrap *a = x, *b = y;
	int c = memcmp(a->conv_id, b->conv_id, CF_ID_BYTES);

	return c != 0 ? c : strcmp(a->name, b->name);
}

static int
seg_cmp(const void *x, const void *y)
{
	const struct vseg *a = x, *b = y;
	int c = memcmp(a->conv_id, b->conv_id, CF_ID_BYTES);

	if (c != 0)
		return c;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int
tag_cmp(const void *x, const void *y)
{
	return memcmp(x, y, CF_HASH_BYTES);
}

static int
vset_push(struct vset *s, const void *item)
{
	s->sorted = 0;
	return vec_push(&s->v, item);
}

/* The element that compares equal to key (a struct of the set's type,
 * or its leading search field), or NULL. */
static void *
vset_find(struct vset *s, const void *key)
{
	if (s->v.n == 0)
		return NULL;
	if (!s->sorted) {
		qsort(s->v.v, s->v.n, s->v.size, s->cmp);
		s->sorted = 1;
	}
	return bsearch(key, s->v.v, s->v.n, s->v.size, s->cmp);
}

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

/* One damaged keystore record: "ARCHIVE/keystore: WHAT". */
static void
vdamage(struct verify_ctx *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
vdamage(struct verify_ctx *v, const char *fmt, ...)
{
	char what[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	vreport(v, "%s/keystore: %s", v->a->dir, what);
	v->r->damaged++;
}

/* A principal name for a report: itself when valid, else its bytes in hex
 * (a damaged name must not send control characters to a terminal). */
static const char *
vname(const char *name, char buf[2 * CF_NAME_MAX + 1])
{
	size_t len = strnlen(name, CF_NAME_MAX);

	if (strcmp(name, CF_RECOVERY_NAME) == 0 || cf_name_valid(name) == 0)
		return name;
	cf_hex_encode(buf, (const uint8_t *)name, len);
	return buf;
}

static struct vconv *
vconv_find(struct verify_ctx *v, const uint8_t id[CF_ID_BYTES])
{
	return vset_find(&v->convs, id);
}

static struct vprin *
vprin_find(struct verify_ctx *v, const char *name)
{
	struct vprin key;

	memset(&key, 0, sizeof(key));
	snprintf(key.name, sizeof(key.name), "%s", name);
	return vset_find(&v->prins, &key);
}

static int
vwrap_has(struct verify_ctx *v, const uint8_t conv_id[CF_ID_BYTES], const char *name)
{
	struct vwrap key;

	memset(&key, 0, sizeof(key));
	memcpy(key.conv_id, conv_id, CF_ID_BYTES);
	snprintf(key.name, sizeof(key.name), "%s", name);
	return vset_find(&v->wraps, &key) != NULL;
}

/* 1 when the Argon2id cost is one that cf_kdf_init writes. */
static int
kdf_cost_known(const struct cf_kdf *k)
{
	static const enum cf_kdf_level levels[] = {
		CF_KDF_INTERACTIVE, CF_KDF_MODERATE, CF_KDF_SENSITIVE
	};
	struct cf_kdf want;
	size_t i;

	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		cf_kdf_init(&want, levels[i]);
		if (want.opslimit == k->opslimit && want.memlimit == k->memlimit)
			return 1;
	}
	return 0;
}

static int
verify_principal(struct verify_ctx *v, const struct cf_principal *p)
{
	struct vprin vp;
	struct msgbuf m;
	char nb[2 * CF_NAME_MAX + 1];

	if (v->meta_signed) {
		principal_msg(&m, v->a->meta.archive_id, p);
		if (m.over || cf_sign_verify(p->sig, m.b, m.n, v->a->meta.sign_pk) != 0)
			vdamage(v, "principal %s: the archive signature does not verify",
			    vname(p->name, nb));
	}
	if (!kdf_cost_known(&p->kdf))
		vdamage(v, "principal %s: Argon2id cost (opslimit %llu, memlimit %llu) is not "
		    "one Coffer writes", vname(p->name, nb), (unsigned long long)p->kdf.opslimit,
		    (unsigned long long)p->kdf.memlimit);
	memset(&vp, 0, sizeof(vp));
	snprintf(vp.name, sizeof(vp.name), "%s", p->name);
	vp.role = p->role;
	return vset_push(&v->prins, &vp);
}

static int
verify_conv_rec(struct verify_ctx *v, const struct cf_conv *c)
{
	struct vconv vc;
	char hex[2 * CF_ID_BYTES + 1];

	if (c->sealed_meta_len <= CF_SEAL_OVERHEAD) {
		cf_hex_encode(hex, c->id, CF_ID_BYTES);
		vdamage(v, "conversation %s: sealed metadata of %u bytes", hex,
		    (unsigned)c->sealed_meta_len);
	}
	memcpy(vc.id, c->id, CF_ID_BYTES);
	memcpy(vc.chat_tag, c->chat_tag, CF_HASH_BYTES);
	vc.next_seq = c->next_seq;
	return vset_push(&v->convs, &vc);
}

static int
verify_wrap(struct verify_ctx *v, const uint8_t conv_id[CF_ID_BYTES], const char *name)
{
	struct vwrap w;
	struct vprin *p;
	char hex[2 * CF_ID_BYTES + 1], nb[2 * CF_NAME_MAX + 1];

	cf_hex_encode(hex, conv_id, CF_ID_BYTES);
	if (vconv_find(v, conv_id) == NULL)
		vdamage(v, "key of conversation %s wrapped for %s: no such conversation", hex,
		    vname(name, nb));
	if (strcmp(name, CF_RECOVERY_NAME) != 0) {
		if ((p = vprin_find(v, name)) == NULL)
			vdamage(v, "key of conversation %s wrapped for %s: no such principal", hex,
			    vname(name, nb));
		else if (p->role == CF_ROLE_INGEST)
			vdamage(v, "key of conversation %s wrapped for %s, an ingest identity", hex,
			    name);
	}
	memset(&w, 0, sizeof(w));
	memcpy(w.conv_id, conv_id, CF_ID_BYTES);
	snprintf(w.name, sizeof(w.name), "%s", name);
	return vset_push(&v->wraps, &w);
}

static void
verify_grant(struct verify_ctx *v, const struct cf_grant *g)
{
	static const uint8_t all[CF_ID_BYTES];
	int is_all = memcmp(g->conv_id, all, CF_ID_BYTES) == 0;
	struct vprin *p;
	struct msgbuf m;
	char hex[2 * CF_ID_BYTES + 1], nb[2 * CF_NAME_MAX + 1];
	const char *who = vname(g->principal, nb);

	if (is_all)
		snprintf(hex, sizeof(hex), "all");
	else
		cf_hex_encode(hex, g->conv_id, CF_ID_BYTES);
	if (v->meta_signed) {
		grant_msg(&m, v->a->meta.archive_id, g);
		if (m.over || cf_sign_verify(g->sig, m.b, m.n, v->a->meta.sign_pk) != 0)
			vdamage(v, "grant of %s to %s: the archive signature does not verify", hex,
			    who);
	}
	if ((p = vprin_find(v, g->principal)) == NULL)
		vdamage(v, "grant of %s to %s: no such principal", hex, who);
	else if (p->role != CF_ROLE_REVIEWER)
		vdamage(v, "grant of %s to %s, who is not a reviewer", hex, who);
	if (is_all)
		return;
	if (vconv_find(v, g->conv_id) == NULL)
		vdamage(v, "grant of %s to %s: no such conversation", hex, who);
	else if (!vwrap_has(v, g->conv_id, g->principal))
		vdamage(v, "grant of %s to %s: no key wrapped for it", hex, who);
}

static int
verify_blob_rec(struct verify_ctx *v, const struct cf_blob_rec *b)
{
	struct vblob vb;
	char hex[2 * CF_ID_BYTES + 1];

	cf_hex_encode(hex, b->id, CF_ID_BYTES);
	if (vconv_find(v, b->conv_id) == NULL)
		vdamage(v, "blob %s: its conversation does not exist", hex);
	if (b->file_size != cf_blob_file_size(b->plain_size))
		vdamage(v, "blob %s: file size %llu does not fit plaintext size %llu", hex,
		    (unsigned long long)b->file_size, (unsigned long long)b->plain_size);
	if (b->kind == CF_BLOB_ATTACHMENT && (b->seq != 0 || b->sealed_summary_len != 0))
		vdamage(v, "blob %s: an attachment with a sequence number or a summary", hex);
	if (b->kind == CF_BLOB_SEGMENT && b->sealed_summary_len <= CF_SEAL_OVERHEAD)
		vdamage(v, "blob %s: a segment without a summary", hex);
	memset(&vb, 0, sizeof(vb));
	memcpy(vb.id, b->id, CF_ID_BYTES);
	memcpy(vb.conv_id, b->conv_id, CF_ID_BYTES);
	vb.kind = b->kind;
	vb.seq = b->seq;
	vb.file_size = b->file_size;
	vb.plain_size = b->plain_size;
	memcpy(vb.hash, b->hash, CF_HASH_BYTES);
	vb.has_head_hash = b->has_head_hash;
	memcpy(vb.head_hash, b->head_hash, CF_HASH_BYTES);
	vb.summary_len = b->sealed_summary_len;
	return vset_push(&v->blobs, &vb);
}

static int
verify_seg_entry(struct verify_ctx *v, const uint8_t conv_id[CF_ID_BYTES], uint32_t seq,
    const uint8_t blob_id[CF_ID_BYTES])
{
	struct vseg s;
	struct vblob *b;
	char hex[2 * CF_ID_BYTES + 1];

	cf_hex_encode(hex, conv_id, CF_ID_BYTES);
	if (vconv_find(v, conv_id) == NULL)
		vdamage(v, "segment list entry %u of conversation %s: no such conversation", seq,
		    hex);
	b = vset_find(&v->blobs, blob_id);
	if (b == NULL)
		vdamage(v, "segment list entry %u of conversation %s names a blob with no record",
		    seq, hex);
	else if (b->kind != CF_BLOB_SEGMENT || memcmp(b->conv_id, conv_id, CF_ID_BYTES) != 0 ||
	    b->seq != seq)
		vdamage(v, "segment list entry %u of conversation %s does not match its blob's "
		    "record", seq, hex);
	memcpy(s.conv_id, conv_id, CF_ID_BYTES);
	s.seq = seq;
	memcpy(s.blob_id, blob_id, CF_ID_BYTES);
	return vset_push(&v->segs, &s);
}

static int
verify_tag(struct verify_ctx *v, const struct cf_ks_entry *e)
{
	const uint8_t *tag = e->u.tagged.tag, *conv_id = e->u.tagged.conv_id;
	char hex[2 * CF_HASH_BYTES + 1];
	struct vconv *c;
	struct vtag t;

	cf_hex_encode(hex, tag, CF_HASH_BYTES);
	if ((c = vconv_find(v, conv_id)) == NULL) {
		vdamage(v, "%s entry %.16s...: no such conversation", e->db, hex);
		return 0;
	}
	if (strcmp(e->db, "dedup") == 0)
		return 0;
	if (memcmp(c->chat_tag, tag, CF_HASH_BYTES) != 0)
		vdamage(v, "chatmap entry %.16s... names a conversation with another chat tag",
		    hex);
	memcpy(t.tag, tag, CF_HASH_BYTES);
	memcpy(t.conv_id, conv_id, CF_ID_BYTES);
	return vset_push(&v->tags, &t);
}

/* cf_ks_check_pages callback: damage LMDB itself would not notice. */
static void
verify_page(const char *what, void *arg)
{
	vdamage(arg, "%s", what);
}

static void verify_policy(struct verify_ctx *v, const struct cf_policy *p);

/* cf_ks_check_walk callback: one keystore entry. */
static int
verify_entry(const struct cf_ks_entry *e, void *arg)
{
	struct verify_ctx *v = arg;
	char hex[2 * 48 + 1];
	struct msgbuf m;

	if (e->bad) {
		cf_hex_encode(hex, e->key, e->klen < 48 ? e->klen : 48);
		vdamage(v, "bad %s record (key %s%s)", e->db, e->klen > 0 ? hex : "empty",
		    e->klen > 48 ? "..." : "");
		return 0;
	}
	if (strcmp(e->db, "meta") == 0) {
		meta_msg(&m, e->u.meta);
		v->meta_signed = !m.over && cf_sign_verify(e->u.meta->sig, m.b, m.n,
		    e->u.meta->sign_pk) == 0;
		if (!v->meta_signed)
			vdamage(v, "the archive metadata is not signed by its signing key "
			    "(principals and grants not checked against it)");
		return 0;
	}
	if (strcmp(e->db, "principals") == 0)
		return verify_principal(v, e->u.principal);
	if (strcmp(e->db, "convs") == 0)
		return verify_conv_rec(v, e->u.conv);
	if (strcmp(e->db, "wraps") == 0)
		return verify_wrap(v, e->u.wrap.conv_id, e->u.wrap.principal);
	if (strcmp(e->db, "grants") == 0) {
		verify_grant(v, e->u.grant);
		return 0;
	}
	if (strcmp(e->db, "blobs") == 0)
		return verify_blob_rec(v, e->u.blob);
	if (strcmp(e->db, "convblobs") == 0)
		return verify_seg_entry(v, e->u.convblob.conv_id, e->u.convblob.seq,
		    e->u.convblob.blob_id);
	if (strcmp(e->db, "chatmap") == 0 || strcmp(e->db, "dedup") == 0)
		return verify_tag(v, e);
	if (strcmp(e->db, "policy") == 0) {
		verify_policy(v, e->u.policy);
		return 0;
	}
	return 0;                       /* audit: decoded is all we know */
}

/* Every conversation is whole: named by the chat map, its key wrapped for
 * the recovery key and every admin, its segments 0 .. next - 1 listed. */
static void
verify_conv_whole(struct verify_ctx *v, const struct vconv *c)
{
	const struct vprin *p;
	struct vtag *t;
	struct vseg key, *s;
	char hex[2 * CF_ID_BYTES + 1];
	uint32_t found = 0;
	size_t i;

	cf_hex_encode(hex, c->id, CF_ID_BYTES);
	t = vset_find(&v->tags, c->chat_tag);
	if (t == NULL || memcmp(t->conv_id, c->id, CF_ID_BYTES) != 0)
		vdamage(v, "conversation %s: no chat map entry names it", hex);
	if (!vwrap_has(v, c->id, CF_RECOVERY_NAME))
		vdamage(v, "conversation %s: no key wrapped for the recovery key", hex);
	for (i = 0; i < v->prins.v.n; i++) {
		p = (const struct vprin *)v->prins.v.v + i;
		if (p->role == CF_ROLE_ADMIN && !vwrap_has(v, c->id, p->name))
			vdamage(v, "conversation %s: no key wrapped for admin %s", hex, p->name);
	}
	/* the entries of this conversation, from seq 0, in order */
	memcpy(key.conv_id, c->id, CF_ID_BYTES);
	for (key.seq = 0; key.seq < c->next_seq; key.seq++) {
		if ((s = vset_find(&v->segs, &key)) == NULL)
			break;
		found++;
	}
	key.seq = c->next_seq;
	if (found != c->next_seq || vset_find(&v->segs, &key) != NULL)
		vdamage(v, "conversation %s: segment list is incomplete (%u of %u found in order)",
		    hex, found, c->next_seq);
}

/* A blob record against its segment list entry and its file. */
static void
verify_blob_file(struct verify_ctx *v, const struct vblob *b)
{
	char path[4096], hex[2 * CF_ID_BYTES + 1], bhex[2 * CF_ID_BYTES + 1];
	uint8_t hash[CF_HASH_BYTES], head[CF_HASH_BYTES];
	struct vseg key, *s;
	uint64_t size;
	int rc;

	v->r->blobs_checked++;
	cf_hex_encode(hex, b->conv_id, CF_ID_BYTES);
	cf_hex_encode(bhex, b->id, CF_ID_BYTES);
	if (b->kind == CF_BLOB_SEGMENT) {
		memcpy(key.conv_id, b->conv_id, CF_ID_BYTES);
		key.seq = b->seq;
		s = vset_find(&v->segs, &key);
		if (s == NULL || memcmp(s->blob_id, b->id, CF_ID_BYTES) != 0)
			vdamage(v, "segment %s is not in the segment list of conversation %s",
			    bhex, hex);
	}
	if (cf_blob_path(path, sizeof(path), v->a->dir, b->id) != 0)
		return;
	rc = cf_blob_check_file(path, &size, hash, head);
	if (rc == -ENOENT) {
		vreport(v, "%s: missing (%s of conversation %s)", path,
		    b->kind == CF_BLOB_SEGMENT ? "segment" : "attachment", hex);
		v->r->damaged++;
	} else if (rc != 0) {
		vreport(v, "%s: cannot be read: %s", path, strerror(-rc));
		v->r->damaged++;
	} else if (size != b->file_size) {
		vreport(v, "%s: size %llu, expected %llu (conversation %s)", path,
		    (unsigned long long)size, (unsigned long long)b->file_size, hex);
		v->r->damaged++;
	} else if (cf_ct_compare(hash, b->hash, CF_HASH_BYTES) != 0) {
		vreport(v, "%s: content hash does not match (conversation %s)", path, hex);
		v->r->damaged++;
	} else if (b->has_head_hash && cf_ct_compare(head, b->head_hash, CF_HASH_BYTES) != 0) {
		vreport(v, "%s: header hash does not match its record (conversation %s)", path,
		    hex);
		v->r->damaged++;
	}
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
			if (cf_hex_decode(id, sizeof(id), f->d_name) != 0 ||
			    vset_find(&v->blobs, id) == NULL) {
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
	size_t i;
	int rc;

	memset(r, 0, sizeof(*r));
	memset(&v, 0, sizeof(v));
	v.a = a;
	v.report = report;
	v.arg = arg;
	v.r = r;
	v.prins = (struct vset){ { NULL, 0, 0, sizeof(struct vprin) }, 0, prin_cmp };
	v.convs = (struct vset){ { NULL, 0, 0, sizeof(struct vconv) }, 0, id_cmp };
	v.wraps = (struct vset){ { NULL, 0, 0, sizeof(struct vwrap) }, 0, wrap_cmp };
	v.blobs = (struct vset){ { NULL, 0, 0, sizeof(struct vblob) }, 0, id_cmp };
	v.segs = (struct vset){ { NULL, 0, 0, sizeof(struct vseg) }, 0, seg_cmp };
	v.tags = (struct vset){ { NULL, 0, 0, sizeof(struct vtag) }, 0, tag_cmp };
	/* the file's structure (cf_archive_open checked what LMDB needs) */
	if ((rc = cf_ks_check_pages(a->ks, verify_page, &v)) < 0)
		return rc;
	if ((rc = cf_ks_begin(a->ks, 0, &t)) != 0)
		return rc;
	/* meta first: the signatures of principals and grants rest on it */
	rc = cf_ks_check_walk(t, NULL, verify_entry, &v);
	cf_ks_abort(t);
	if (rc != 0)
		goto out;
	for (i = 0; i < v.convs.v.n; i++)
		verify_conv_whole(&v, (const struct vconv *)v.convs.v.v + i);
	for (i = 0; i < v.blobs.v.n; i++)
		verify_blob_file(&v, (const struct vblob *)v.blobs.v.v + i);
	rc = verify_orphans(&v);
out:
	vec_free(&v.prins.v);
	vec_free(&v.convs.v);
	vec_free(&v.wraps.v);
	vec_free(&v.blobs.v);
	vec_free(&v.segs.v);
	vec_free(&v.tags.v);
	return rc;
}

int
cf_chat_check_mac(struct cf_archive *a, struct cf_session *s, const struct cf_chat *c)
{
	struct cf_conv *conv;
	struct cf_txn *t = NULL;
	uint8_t mac[CF_HASH_BYTES], tag[CF_HASH_BYTES];
	int rc;

	if (s->ingest_key == NULL)
		return -ENOKEY;
	/* a conversation record holds up to 4 KiB of sealed metadata */
	if ((conv = malloc(sizeof(*conv))) == NULL) {
		cf_error("out of memory");
		return -ENOMEM;
	}
	if ((rc = cf_ks_begin(a->ks, 0, &t)) != 0)
		goto out;
	rc = cf_ks_conv_get(t, c->id, conv);
	cf_ks_abort(t);
	if (rc != 0)
		goto out;
	conv_mac(mac, s->ingest_key, a->meta.archive_id, conv);
	cf_keyed_tag(tag, s->ingest_key, "coffer-chat", c->source, strlen(c->source), c->chat,
	    strlen(c->chat));
	if (cf_ct_compare(mac, conv->mac, CF_HASH_BYTES) != 0 ||
	    cf_ct_compare(tag, conv->chat_tag, CF_HASH_BYTES) != 0)
		rc = -EBADMSG;
out:
	free(conv);
	return rc;
}

/* ---- retention, legal holds, shredding --------------------------------
 *
 * Retention and hold records (keystore "policy") are signed with the
 * archive key, like grants, so that whoever can merely write the keystore
 * cannot shorten a retention or lift a hold unnoticed: a retention whose
 * signature does not verify is not applied (the conversation is kept and
 * reported as suspect), a hold whose signature does not verify, or that
 * does not decode, still holds (fail safe) and is reported.  Deleting a
 * hold record outright leaves no signature to check; the audit log keeps
 * the "hold" record that placed it (docs/RETENTION.md).
 *
 * Shredding is cf_ks_convs_destroy plus the audit record in one write
 * transaction; the blob files are unlinked only after it commits, so a
 * crash in between leaves files that nothing names: orphans that `coffer
 * gc` removes (and that nobody can open: every wrapped key is gone).
 */

#define EXPIRE_BATCH 64

static void
retention_msg(struct msgbuf *m, const uint8_t archive_id[CF_ID_BYTES], const struct cf_policy *p)
{
	memset(m, 0, sizeof(*m));
	mb_str(m, "coffer-retention-v1");
	mb_put(m, archive_id, CF_ID_BYTES);
	mb_put(m, p->conv_id, CF_ID_BYTES);
	mb_put(m, &p->keep.forever, 1);
	mb_u64(m, p->keep.years);
	mb_u64(m, p->keep.months);
	mb_u64(m, p->keep.days);
	mb_u64(m, (uint64_t)p->created);
	mb_str(m, p->by);
}

static void
hold_msg(struct msgbuf *m, const uint8_t archive_id[CF_ID_BYTES], const struct cf_policy *p)
{
	memset(m, 0, sizeof(*m));
	mb_str(m, "coffer-hold-v1");
	mb_put(m, archive_id, CF_ID_BYTES);
	mb_put(m, p->conv_id, CF_ID_BYTES);
	mb_u64(m, (uint64_t)p->created);
	mb_str(m, p->by);
	mb_str(m, p->reason);
}

static void
policy_msg(struct msgbuf *m, const uint8_t archive_id[CF_ID_BYTES], const struct cf_policy *p)
{
	if (p->kind == CF_POLICY_HOLD)
		hold_msg(m, archive_id, p);
	else
		retention_msg(m, archive_id, p);
}

/* 1 when p carries a valid archive signature (nothing reported). */
static int
policy_signed(const struct cf_archive *a, const struct cf_policy *p)
{
	struct msgbuf m;

	policy_msg(&m, a->meta.archive_id, p);
	return !m.over && cf_sign_verify(p->sig, m.b, m.n, a->meta.sign_pk) == 0;
}

/* Audit object of a retention: the conversation id, or "default". */
static void
policy_object(char buf[CF_AUDIT_OBJECT_MAX + 1], const uint8_t *conv_id)
{
	if (conv_id != NULL)
		cf_audit_object(buf, conv_id, NULL);
	else
		snprintf(buf, CF_AUDIT_OBJECT_MAX + 1, "default");
}

/* 0 when conversation id exists in t; -ENOENT, reported unless quiet. */
static int
conv_must_exist(struct cf_archive *a, struct cf_txn *t, const uint8_t id[CF_ID_BYTES],
    int64_t *created, int quiet)
{
	struct cf_conv *c;
	char hex[2 * CF_ID_BYTES + 1];
	int rc;

	if ((c = malloc(sizeof(*c))) == NULL) {
		cf_error("out of memory");
		return -ENOMEM;
	}
	rc = cf_ks_conv_get(t, id, c);
	if (rc == 0 && created != NULL)
		*created = c->created;
	free(c);
	if (rc == -ENOENT && !quiet) {
		cf_hex_encode(hex, id, CF_ID_BYTES);
		cf_error("%s: no conversation %s", a->dir, hex);
	}
	return rc;
}

/*
 * Is conversation conv_id on legal hold, in t?  0 no; 1 yes, why gets the
 * hold's reason; 2 yes because its hold record does not decode or is not
 * signed by the archive (fail safe), why says so; or -errno.
 */
static int
hold_state(struct cf_archive *a, struct cf_txn *t, const uint8_t conv_id[CF_ID_BYTES],
    char *why, size_t n)
{
	struct cf_policy p;
	int rc;

	rc = cf_ks_policy_get(t, CF_POLICY_HOLD, conv_id, &p);
	if (rc == -ENOENT)
		return 0;
	if (rc == -EBADMSG) {
		snprintf(why, n, "its hold record is damaged (kept on hold)");
		return 2;
	}
	if (rc != 0)
		return rc;
	if (!policy_signed(a, &p)) {
		snprintf(why, n, "its hold record is not signed by the archive (altered "
		    "keystore?; kept on hold)");
		return 2;
	}
	snprintf(why, n, "%s", p.reason);
	return 1;
}

/* The admin's signing key, needed to sign a policy record. */
static int
need_sign_key(struct cf_archive *a, const struct cf_session *admin)
{
	if (admin->sign_sk == NULL) {
		cf_error("%s: %s holds no archive signing key", a->dir, admin->name);
		return -EPERM;
	}
	return 0;
}

/* Begin a write transaction for admin's action, or audit the refusal. */
static int
admin_write_begin(struct cf_archive *a, const struct cf_session *admin, const char *action,
    const char *obj, struct cf_txn **t)
{
	int rc;

	if ((rc = cf_ks_begin(a->ks, 1, t)) != 0)
		return rc;
	if ((rc = session_still_active(a, *t, admin)) != 0) {
		cf_ks_abort(*t);
		*t = NULL;
		audit_denied(a, admin->name, action, obj, "not an active admin");
	}
	return rc;
}

int
cf_retention_set(struct cf_archive *a, struct cf_session *admin, const uint8_t *conv_id,
    const struct cf_keep *keep)
{
	struct cf_txn *t = NULL;
	struct cf_policy p;
	struct msgbuf m;
	char obj[CF_AUDIT_OBJECT_MAX + 1], detail[CF_AUDIT_DETAIL_MAX + 1];
	char text[CF_KEEP_TEXT_MAX];
	int rc;

	policy_object(obj, conv_id);
	if ((rc = admin_gate(a, NULL, admin, "setting a retention", "retention", obj)) != 0)
		return rc;
	if (keep != NULL && (rc = need_sign_key(a, admin)) != 0)
		return rc;
	if ((rc = admin_write_begin(a, admin, "retention", obj, &t)) != 0)
		return rc;
	if (conv_id != NULL && (rc = conv_must_exist(a, t, conv_id, NULL, 0)) != 0)
		goto out;
	if (keep == NULL) {
		rc = cf_ks_policy_del(t, CF_POLICY_RETENTION, conv_id);
		if (rc == -ENOENT)
			cf_error("%s: no retention is set for %s", a->dir, obj);
		if (rc != 0)
			goto out;
		snprintf(detail, sizeof(detail), "removed");
	} else {
		memset(&p, 0, sizeof(p));
		p.kind = CF_POLICY_RETENTION;
		if (conv_id != NULL)
			memcpy(p.conv_id, conv_id, CF_ID_BYTES);
		p.keep = *keep;
		p.created = now_secs();
		snprintf(p.by, sizeof(p.by), "%s", admin->name);
		retention_msg(&m, a->meta.archive_id, &p);
		cf_sign(p.sig, m.b, m.n, admin->sign_sk);
		if ((rc = cf_ks_policy_put(t, &p)) != 0)
			goto out;
		cf_keep_format(keep, text, sizeof(text));
		snprintf(detail, sizeof(detail), "keep=%s", text);
	}
	if ((rc = cf_audit_append(t, admin->name, "retention", obj, CF_AUDIT_OK, detail)) != 0)
		goto out;
	rc = cf_ks_commit(t);
	t = NULL;
out:
	cf_ks_abort(t);
	return rc;
}

int
cf_hold(struct cf_archive *a, struct cf_session *admin, const uint8_t conv_id[CF_ID_BYTES],
    int add, const char *reason)
{
	const char *action = add ? "hold" : "hold-remove";
	struct cf_txn *t = NULL;
	struct cf_policy p, old;
	struct msgbuf m;
	char obj[CF_AUDIT_OBJECT_MAX + 1], detail[CF_AUDIT_DETAIL_MAX + 1];
	size_t rlen = reason != NULL ? strlen(reason) : 0;
	int rc, had;

	cf_audit_object(obj, conv_id, NULL);
	if ((rc = admin_gate(a, NULL, admin, add ? "placing a legal hold" :
	    "lifting a legal hold", action, obj)) != 0)
		return rc;
	if (rlen > CF_REASON_MAX || (add && rlen == 0)) {
		cf_error("a hold %s", add ? "needs a reason of 1 to 256 bytes" :
		    "reason is longer than 256 bytes");
		return -EINVAL;
	}
	if (add && (rc = need_sign_key(a, admin)) != 0)
		return rc;
	if ((rc = admin_write_begin(a, admin, action, obj, &t)) != 0)
		return rc;
	if ((rc = conv_must_exist(a, t, conv_id, NULL, 0)) != 0)
		goto out;
	rc = cf_ks_policy_get(t, CF_POLICY_HOLD, conv_id, &old);
	if (rc != 0 && rc != -ENOENT && rc != -EBADMSG)
		goto out;
	had = rc != -ENOENT;
	if (add) {
		memset(&p, 0, sizeof(p));
		p.kind = CF_POLICY_HOLD;
		memcpy(p.conv_id, conv_id, CF_ID_BYTES);
		p.created = now_secs();
		snprintf(p.by, sizeof(p.by), "%s", admin->name);
		snprintf(p.reason, sizeof(p.reason), "%s", reason);
		hold_msg(&m, a->meta.archive_id, &p);
		cf_sign(p.sig, m.b, m.n, admin->sign_sk);
		if ((rc = cf_ks_policy_put(t, &p)) != 0)
			goto out;
		snprintf(detail, sizeof(detail), "%sreason=%s", had ? "replaced " : "", reason);
	} else {
		if (!had) {
			cf_error("%s: conversation %s is not on hold", a->dir, obj);
			rc = -ENOENT;
			goto out;
		}
		if ((rc = cf_ks_policy_del(t, CF_POLICY_HOLD, conv_id)) != 0)
			goto out;
		snprintf(detail, sizeof(detail), "%s%s%s", policy_signed(a, &old) ? "" :
		    "unsigned-record ", reason != NULL ? "reason=" : "", reason != NULL ? reason : "");
	}
	if ((rc = cf_audit_append(t, admin->name, action, obj, CF_AUDIT_OK, detail)) != 0)
		goto out;
	rc = cf_ks_commit(t);
	t = NULL;
out:
	cf_ks_abort(t);
	cf_wipe(&old, sizeof(old));
	return rc;
}

struct policy_list_ctx {
	const struct cf_archive *a;
	int (*cb)(const struct cf_policy *p, int signed_ok, void *arg);
	void *arg;
};

static int
policy_list_step(const struct cf_policy *p, void *arg)
{
	struct policy_list_ctx *x = arg;

	return x->cb(p, policy_signed(x->a, p), x->arg);
}

int
cf_policy_list(struct cf_archive *a, struct cf_session *admin, uint8_t kind,
    int (*cb)(const struct cf_policy *p, int signed_ok, void *arg), void *arg)
{
	struct policy_list_ctx x = { a, cb, arg };
	struct cf_txn *t = NULL;
	int rc;

	if ((rc = admin_gate(a, NULL, admin, "listing retentions and holds", "policy-list",
	    NULL)) != 0)
		return rc;
	if ((rc = cf_ks_begin(a->ks, 0, &t)) != 0)
		return rc;
	if ((rc = session_still_active(a, t, admin)) != 0) {
		cf_ks_abort(t);
		audit_denied(a, admin->name, "policy-list", NULL, "not an active admin");
		return rc;
	}
	rc = cf_ks_policy_foreach(t, kind, policy_list_step, &x);
	cf_ks_abort(t);
	return rc;
}

/* One conversation to shred in shred_txn: in, then what became of it. */
struct shred_job {
	uint8_t id[CF_ID_BYTES];
	char detail[CF_AUDIT_DETAIL_MAX / 2];   /* audit detail before the counts */
	int held;                               /* out: hold_state's 1 or 2 */
	char why[CF_REASON_MAX + 96];           /* out: why it is held */
	int gone;                               /* out: no such conversation */
	int done;                               /* out: shredded */
	struct cf_ks_destroyed counts;          /* out */
	size_t item;                            /* cf_expire: its item */
};

static int
shred_collect(const uint8_t blob_id[CF_ID_BYTES], size_t conv_index, void *arg)
{
	(void)conv_index;
	return vec_push(arg, blob_id);
}

/* Unlink the files of the blobs a committed shred removed, then fsync
 * each blobs/XX folder once.  Failures are reported and counted. */
static void
shred_unlink(struct cf_archive *a, const struct vec *files, struct cf_shred_result *r)
{
	uint8_t synced[256];
	char path[4096];
	size_t i;

	memset(synced, 0, sizeof(synced));
	for (i = 0; i < files->n; i++) {
		const uint8_t *id = (const uint8_t *)files->v + i * CF_ID_BYTES;

		if (cf_blob_path(path, sizeof(path), a->dir, id) != 0)
			continue;
		if (unlink(path) != 0 && errno != ENOENT) {
			cf_error("%s: %s (nothing names it any more: `coffer gc` removes it)", path,
			    strerror(errno));
			r->files_left++;
			continue;
		}
		r->files_removed++;
		synced[id[0]] |= 1;
	}
	/* the folder of a blob is blobs/ and its id's first byte in hex */
	for (i = 0; i < 256; i++)
		if (synced[i] && cf_path(path, sizeof(path), "%s/blobs/%02x", a->dir,
		    (unsigned)i) == 0)
			(void)cf_fsync_dir(path);       /* reports */
}

static void
shred_add(struct cf_shred_result *r, const struct cf_ks_destroyed *c)
{
	r->ks.wraps += c->wraps;
	r->ks.convkeys += c->convkeys;
	r->ks.grants += c->grants;
	r->ks.segments += c->segments;
	r->ks.attachments += c->attachments;
	r->ks.chatmap += c->chatmap;
	r->ks.dedup += c->dedup;
	r->ks.policy += c->policy;
}

static int
job_cmp(const void *x, const void *y)
{
	return memcmp(((const struct shred_job *)x)->id, ((const struct shred_job *)y)->id,
	    CF_ID_BYTES);
}

/*
 * Shred jobs[0..n-1] (sorted by id) in one write transaction as action
 * ("shred" or "expire").  Holds are checked inside it.  For "shred" a hold
 * or a missing conversation refuses the whole (-EBUSY, audited as denied;
 * -ENOENT); for "expire" a held conversation gets a denied record and is
 * kept, a vanished one is skipped.  Each one shredded gets its audit
 * record; after the commit the files go.  Returns 0 or -errno (reported).
 */
static int
shred_txn(struct cf_archive *a, struct cf_session *admin, struct shred_job *jobs, size_t n,
    const char *action, struct cf_shred_result *r)
{
	struct vec files = { .size = CF_ID_BYTES };
	struct cf_ks_destroyed *counts = NULL;
	struct cf_txn *t = NULL;
	uint8_t *ids = NULL;
	char obj[CF_AUDIT_OBJECT_MAX + 1], detail[CF_AUDIT_DETAIL_MAX + 1];
	size_t i, m = 0;
	int rc, shred = strcmp(action, "shred") == 0;

	if ((ids = malloc(n * CF_ID_BYTES)) == NULL || (counts = calloc(n, sizeof(*counts))) ==
	    NULL) {
		cf_error("out of memory");
		rc = -ENOMEM;
		goto out;
	}
	cf_audit_object(obj, jobs[0].id, NULL);
	if ((rc = admin_write_begin(a, admin, action, shred ? obj : NULL, &t)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		struct shred_job *j = &jobs[i];

		cf_audit_object(obj, j->id, NULL);
		rc = conv_must_exist(a, t, j->id, NULL, !shred);
		if (rc == -ENOENT && !shred) {
			j->gone = 1;
			continue;
		}
		if (rc != 0)
			goto out;
		if ((rc = hold_state(a, t, j->id, j->why, sizeof(j->why))) < 0)
			goto out;
		j->held = rc;
		if (j->held == 0) {
			memcpy(ids + m * CF_ID_BYTES, j->id, CF_ID_BYTES);
			m++;
			continue;
		}
		snprintf(detail, sizeof(detail), "on hold: %s", j->why);
		if (shred) {
			cf_ks_abort(t);
			t = NULL;
			cf_error("%s: conversation %s is on legal hold: %s; lift the hold first",
			    a->dir, obj, j->why);
			audit_denied(a, admin->name, action, obj, detail);
			rc = -EBUSY;
			goto out;
		}
		if ((rc = cf_audit_append(t, admin->name, action, obj, CF_AUDIT_DENIED,
		    detail)) != 0)
			goto out;
	}
	if (m > 0 && (rc = cf_ks_convs_destroy(t, ids, m, shred_collect, &files, counts)) != 0)
		goto out;
	for (i = 0, m = 0; i < n; i++) {
		struct shred_job *j = &jobs[i];
		const struct cf_ks_destroyed *c;

		if (j->gone || j->held)
			continue;
		c = &counts[m++];
		j->counts = *c;
		cf_audit_object(obj, j->id, NULL);
		snprintf(detail, sizeof(detail), "%s%swraps=%llu grants=%llu segments=%llu "
		    "attachments=%llu keygens=%llu dedup=%llu", j->detail, j->detail[0] ? " " : "",
		    (unsigned long long)c->wraps, (unsigned long long)c->grants,
		    (unsigned long long)c->segments, (unsigned long long)c->attachments,
		    (unsigned long long)c->convkeys, (unsigned long long)c->dedup);
		if ((rc = cf_audit_append(t, admin->name, action, obj, CF_AUDIT_OK, detail)) != 0)
			goto out;
	}
	rc = cf_ks_commit(t);
	t = NULL;
	if (rc != 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (!jobs[i].gone && !jobs[i].held) {
			jobs[i].done = 1;
			shred_add(r, &jobs[i].counts);
		}
	}
	shred_unlink(a, &files, r);
out:
	cf_ks_abort(t);
	free(ids);
	free(counts);
	vec_free(&files);
	return rc;
}

int
cf_shred(struct cf_archive *a, struct cf_session *admin, const uint8_t conv_id[CF_ID_BYTES],
    struct cf_shred_result *r)
{
	struct cf_shred_result mine;
	struct shred_job *job;
	char obj[CF_AUDIT_OBJECT_MAX + 1];
	int rc;

	if (r == NULL)
		r = &mine;
	memset(r, 0, sizeof(*r));
	cf_audit_object(obj, conv_id, NULL);
	if ((rc = admin_gate(a, NULL, admin, "shredding", "shred", obj)) != 0)
		return rc;
	if ((job = calloc(1, sizeof(*job))) == NULL) {
		cf_error("out of memory");
		return -ENOMEM;
	}
	memcpy(job->id, conv_id, CF_ID_BYTES);
	rc = shred_txn(a, admin, job, 1, "shred", r);
	free(job);
	return rc;
}

/*
 * The retention that applies to conversation id: 1 with *keep and *own
 * set, 0 none (kept forever), 2 suspect (why set), or -errno.  def is the
 * default's state as this function returns it for the all-zero id.
 */
static int
retention_of(struct cf_archive *a, struct cf_txn *t, const uint8_t *id, int def,
    const struct cf_keep *defkeep, struct cf_keep *keep, int *own, char *why, size_t n)
{
	struct cf_policy p;
	int rc;

	rc = cf_ks_policy_get(t, CF_POLICY_RETENTION, id, &p);
	if (rc == -EBADMSG) {
		snprintf(why, n, "%s retention record is damaged (kept)", id ? "its" : "the default");
		return 2;
	}
	if (rc != 0 && rc != -ENOENT)
		return rc;
	if (rc == 0) {
		if (!policy_signed(a, &p)) {
			snprintf(why, n, "%s retention record is not signed by the archive (altered "
			    "keystore?; kept)", id ? "its" : "the default");
			return 2;
		}
		*keep = p.keep;
		*own = id != NULL;
		return 1;
	}
	if (id == NULL || def == 0)
		return 0;
	if (def == 2) {
		snprintf(why, n, "the default retention record is damaged or not signed by the "
		    "archive (kept)");
		return 2;
	}
	*keep = *defkeep;
	*own = 0;
	return 1;
}

int
cf_expire(struct cf_archive *a, struct cf_session *admin, int dry_run,
    void (*report)(const struct cf_expire_item *it, void *arg), void *arg,
    struct cf_expire_result *r)
{
	struct cf_expire_result mine;
	struct cf_chat_list l = { .v = NULL };
	struct cf_expire_item *items = NULL;
	struct shred_job *jobs = NULL;
	char (*notes)[CF_REASON_MAX + 96] = NULL;
	struct cf_keep defkeep;
	struct cf_txn *t = NULL;
	char detail[CF_AUDIT_DETAIL_MAX + 1], text[CF_KEEP_TEXT_MAX], lt[32], dt[32];
	char defwhy[CF_REASON_MAX + 96];
	size_t i, nitems = 0, njobs = 0;
	int64_t now = now_secs();
	int rc, def, own = 0;

	if (r == NULL)
		r = &mine;
	memset(r, 0, sizeof(*r));
	memset(&defkeep, 0, sizeof(defkeep));
	if ((rc = admin_gate(a, NULL, admin, "expiring", "expire", NULL)) != 0)
		return rc;
	if ((rc = cf_chats_list(a, admin, &l)) != 0)
		return rc;
	if (l.n > 0 && ((items = calloc(l.n, sizeof(*items))) == NULL ||
	    (jobs = calloc(l.n, sizeof(*jobs))) == NULL ||
	    (notes = calloc(l.n, sizeof(*notes))) == NULL)) {
		cf_error("out of memory");
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = cf_ks_begin(a->ks, 0, &t)) != 0)
		goto out;
	def = retention_of(a, t, NULL, 0, NULL, &defkeep, &own, defwhy, sizeof(defwhy));
	if (def < 0) {
		rc = def;
		goto out;
	}
	for (i = 0; i < l.n; i++) {
		const struct cf_chat *c = &l.v[i];
		struct cf_expire_item *it = &items[nitems];
		int64_t created = 0;
		int state;

		r->conversations++;
		memset(it, 0, sizeof(*it));
		memcpy(it->id, c->id, CF_ID_BYTES);
		it->title = c->title;
		it->note = notes[nitems];
		state = retention_of(a, t, c->id, def, &defkeep, &it->keep, &it->own,
		    notes[nitems], sizeof(notes[nitems]));
		if (state < 0) {
			rc = state;
			goto out;
		}
		if (c->messages == 0 && (rc = conv_must_exist(a, t, c->id, &created, 0)) != 0)
			goto out;
		it->last = c->messages > 0 ? (c->last_ms >= 0 ? c->last_ms / 1000 :
		    -((-c->last_ms + 999) / 1000)) : created;
		if (state == 2) {
			it->state = CF_EXPIRE_SUSPECT;
			r->suspect++;
			nitems++;
			continue;
		}
		if (state == 0 || !cf_keep_expired(it->last, &it->keep, now))
			continue;
		(void)cf_keep_until(it->last, &it->keep, &it->due);
		if ((rc = hold_state(a, t, c->id, notes[nitems], sizeof(notes[nitems]))) < 0)
			goto out;
		if (rc > 0) {
			it->state = CF_EXPIRE_HELD;
			r->held++;
		} else {
			it->state = CF_EXPIRE_DUE;
			r->due++;
		}
		rc = 0;
		/* every past-retention one goes to shred_txn, which checks the
		 * hold again inside its own transaction */
		memcpy(jobs[njobs].id, c->id, CF_ID_BYTES);
		jobs[njobs].item = nitems;
		cf_keep_format(&it->keep, text, sizeof(text));
		cf_format_time_utc(it->last * 1000, lt, sizeof(lt));
		cf_format_time_utc(it->due * 1000, dt, sizeof(dt));
		snprintf(jobs[njobs].detail, sizeof(jobs[njobs].detail), "keep=%s%s last=%s due=%s",
		    text, it->own ? "" : "(default)", lt, dt);
		njobs++;
		nitems++;
	}
	cf_ks_abort(t);
	t = NULL;

	if (dry_run) {
		/* fail closed: nothing is shown unless the record is written */
		snprintf(detail, sizeof(detail), "dry-run conversations=%llu due=%llu held=%llu "
		    "suspect=%llu", (unsigned long long)r->conversations,
		    (unsigned long long)r->due, (unsigned long long)r->held,
		    (unsigned long long)r->suspect);
		if ((rc = cf_audit_log(a->ks, admin->name, "expire", NULL, CF_AUDIT_OK, detail)) != 0)
			goto out;
		for (i = 0; i < nitems && report != NULL; i++)
			report(&items[i], arg);
		goto out;
	}
	for (i = 0; i < nitems && report != NULL; i++)
		if (items[i].state == CF_EXPIRE_SUSPECT)
			report(&items[i], arg);
	r->due = r->held = 0;
	if (njobs > 0)
		qsort(jobs, njobs, sizeof(*jobs), job_cmp);
	for (i = 0; i < njobs; i += EXPIRE_BATCH) {
		size_t k, m = njobs - i < EXPIRE_BATCH ? njobs - i : EXPIRE_BATCH;

		if ((rc = shred_txn(a, admin, jobs + i, m, "expire", &r->shred)) != 0)
			goto out;
		for (k = i; k < i + m; k++) {
			struct cf_expire_item *it = &items[jobs[k].item];

			if (jobs[k].gone)
				continue;
			if (jobs[k].held) {
				snprintf(notes[jobs[k].item], sizeof(notes[0]), "%s", jobs[k].why);
				it->state = CF_EXPIRE_HELD;
				r->held++;
			} else {
				it->state = CF_EXPIRE_SHREDDED;
				r->due++;
				r->shredded++;
			}
			if (report != NULL)
				report(it, arg);
		}
	}
	snprintf(detail, sizeof(detail), "conversations=%llu shredded=%llu held=%llu suspect=%llu",
	    (unsigned long long)r->conversations, (unsigned long long)r->shredded,
	    (unsigned long long)r->held, (unsigned long long)r->suspect);
	rc = cf_audit_log(a->ks, admin->name, "expire", NULL, CF_AUDIT_OK, detail);
out:
	cf_ks_abort(t);
	cf_chats_free(&l);
	free(items);
	free(jobs);
	if (notes != NULL)
		cf_wipe(notes, l.n * sizeof(*notes));
	free(notes);
	return rc;
}

/* cf_verify: a retention or hold record (declared before verify_entry). */
static void
verify_policy(struct verify_ctx *v, const struct cf_policy *p)
{
	static const uint8_t zero[CF_ID_BYTES];
	int is_default = memcmp(p->conv_id, zero, CF_ID_BYTES) == 0;
	const char *what = p->kind == CF_POLICY_HOLD ? "hold on" : "retention of";
	char hex[2 * CF_ID_BYTES + 1];

	if (is_default)
		snprintf(hex, sizeof(hex), "default");
	else
		cf_hex_encode(hex, p->conv_id, CF_ID_BYTES);
	if (v->meta_signed && !policy_signed(v->a, p))
		vdamage(v, "%s %s: the archive signature does not verify (%s)", what, hex,
		    p->kind == CF_POLICY_HOLD ? "it still holds" : "not applied: kept");
	if (!is_default && vconv_find(v, p->conv_id) == NULL)
		vdamage(v, "%s %s: no such conversation", what, hex);
}
