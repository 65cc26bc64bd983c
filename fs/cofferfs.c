/*
 * cofferfs.c - the read-only FUSE file system (cofferfs.h) on the libfuse3
 * low-level API: a table of small handlers over the model in view.c.
 *
 * The tree changes only when the daemon is told to refresh (SIGHUP, sent
 * by `coffer mount --refresh`), so every entry and attribute is given a
 * one-day timeout and files are opened keep_cache (or not opened at all
 * where the kernel allows it); a refresh tells the kernel what to forget.
 * A conversation is decrypted and rendered on the first lookup or listing
 * inside it; transcripts are then served from memory, attachments
 * decrypted from their blob on every read (only the range asked for).
 * Anything that fails authentication reads as EIO, and the cause goes to
 * the log (syslog once daemonised), never the plaintext.  Log lines name
 * conversations by id, never by title.
 *
 * Refresh: a thread of its own waits for SIGHUP (blocked in every other
 * thread), lists the conversations again (policy re-checked), has the view
 * adopt the new list (view.h: unchanged folders keep their inodes; new or
 * changed ones get new inodes; unlisted ones answer EACCES), waits for a
 * grace period, then invalidates the root's changed entries and every
 * inode of the conversations no longer listed (dropping their cached
 * pages), and finally lets the view wipe what no request can reach any
 * more.  The grace period: every handler that touches the view runs
 * between cfs_enter and cfs_leave, which count requests per epoch; the
 * refresher starts a new epoch and waits until the previous one has no
 * request left, so no request still holds the old listing when the kernel
 * is told to forget it (a reply racing the invalidation would otherwise
 * be cached for a day).  The daemon answers user.coffer.pid and
 * user.coffer.refresh on its root (mnt.h) so that a client can find it
 * and wait for the refresh it asked for.
 *
 * Policy: grants are checked when the mount starts, at each refresh and
 * when a conversation is first opened; the end of a grant is checked on
 * every lookup, listing and read, and the refresher wakes at the earliest
 * end to drop the conversation and its cached pages.  A principal
 * disabled, or a grant revoked, while mounted takes effect at the next
 * refresh.  Conversations imported after the mount appear at the next
 * refresh or mount.
 *
 * Audit (audit.h): the mount, the first read of each file, refusals and
 * damaged blobs are recorded; a read whose record cannot be written is
 * refused with EACCES (fail closed).  Records are written under
 * audit_lock, never under arch_lock.
 */
#define FUSE_USE_VERSION 35

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <fuse_lowlevel.h>

#include "archive.h"
#include "audit.h"
#include "blob.h"
#include "cofferfs.h"
#include "crypto.h"
#include "mnt.h"
#include "util.h"
#include "view.h"

#define CFS_TIMEOUT 86400.0     /* seconds: the view changes only at a refresh,
                                 * which invalidates what it changed */
#define CFS_BLKSIZE 65536
#define CFS_AUDIT_BATCH 512     /* pending read records before a flush */
#define CFS_AUDIT_DELAY_MS 1000 /* the longest a pending record waits */

/* What the last refresh did, for user.coffer.refresh. */
struct cfs_refresh_status {
	unsigned long started;          /* refreshes begun */
	unsigned long done;             /* refreshes finished */
	int rc;                         /* the last one's result */
	unsigned long added, removed;   /* its folders */
};

/* Everything a mount shares between its worker threads. */
struct cfs_mount {
	struct cf_archive *a;           /* arch_lock (not documented thread-safe) */
	struct cf_session *s;           /* arch_lock */
	struct cf_chat_list chats;      /* arch_lock: the latest list; the view's
	                                 * list positions refer to it */
	struct cf_view *view;           /* no lock: thread-safe by itself (view.h) */
	pthread_mutex_t arch_lock;      /* every call into a and s: policy checks,
	                                 * conversation loads, attachment opens,
	                                 * listings; also serialises builds, handle
	                                 * stores and the swap of chats */
	uid_t uid;                      /* immutable */
	gid_t gid;                      /* immutable */
	int no_open;                    /* written by cfs_init before any other
	                                 * request is handled; read-only after */
	struct fuse_session *se;        /* set before serving; for notifications */
	atomic_uint epoch;              /* grace periods: see cfs_enter */
	atomic_uint active[2];          /* requests in progress, by epoch parity */
	atomic_int stopping;            /* the refresher must end */
	pthread_mutex_t status_lock;    /* guards status */
	struct cfs_refresh_status status;
	pthread_mutex_t audit_lock;     /* guards denied; serialises audit writes
	                                 * (the keystore is not used under
	                                 * arch_lock for them, so reads do not
	                                 * wait for a conversation being built) */
	uint8_t *denied;                /* audit_lock: per conversation index, an
	                                 * expired-grant denial was audited */
	size_t ndenied;
	uint8_t *opened;                /* audit_lock: per conversation index, a
	                                 * read of one of its files is durably
	                                 * in the audit log */
	size_t nopened;
	/* audit_lock: first reads of further files of an opened conversation,
	 * appended to the log together within CFS_AUDIT_DELAY_MS (see
	 * cfs_read_allowed) */
	char (*pending)[CF_AUDIT_OBJECT_MAX + 1];
	size_t npending;
	struct timespec pending_since;  /* CLOCK_MONOTONIC of pending[0] */
	pthread_cond_t flush_cond;      /* with audit_lock: wakes the flusher */
};

static struct cfs_mount *
cfs_mount_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void
cfs_id_hex(const struct cf_chat *c, char hex[2 * CF_ID_BYTES + 1])
{
	cf_hex_encode(hex, c->id, CF_ID_BYTES);
}

/*
 * Every request that uses the view runs between cfs_enter and cfs_leave,
 * so that a refresh can wait until no request still holds what it
 * replaced (cfs_grace).  A request counts in the epoch it saw; it checks
 * again after counting so as never to be counted in an epoch whose wait
 * has already looked.  Sequentially consistent atomics throughout.
 */
static unsigned
cfs_enter(struct cfs_mount *m)
{
	unsigned e;

	for (;;) {
		e = atomic_load(&m->epoch);
		atomic_fetch_add(&m->active[e & 1], 1);
		if (atomic_load(&m->epoch) == e)
			return e;
		atomic_fetch_sub(&m->active[e & 1], 1);
	}
}

static void
cfs_leave(struct cfs_mount *m, unsigned e)
{
	atomic_fetch_sub(&m->active[e & 1], 1);
}

/* Wait until every request that began before the call has finished
 * (only the refresher calls this). */
static void
cfs_grace(struct cfs_mount *m)
{
	const struct timespec tick = { 0, 1000 * 1000 };
	unsigned e = atomic_fetch_add(&m->epoch, 1);

	while (atomic_load(&m->active[e & 1]) != 0)
		(void)nanosleep(&tick, NULL);
}

/* The entry of the latest list for conversation idx of the view, or NULL
 * when it is no longer listed.  arch_lock held. */
static const struct cf_chat *
cfs_chat(struct cfs_mount *m, size_t idx)
{
	size_t pos;

	if (cf_view_conv_listed(m->view, idx, &pos) != 0 || pos >= m->chats.n)
		return NULL;
	return &m->chats.v[pos];
}

/* ---- attributes ----------------------------------------------------------- */

static void
cfs_stat(const struct cfs_mount *m, const struct cf_view_attr *a, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = (ino_t)a->ino;
	st->st_mode = a->is_dir ? (S_IFDIR | 0555) : (S_IFREG | 0444);
	st->st_nlink = a->nlink;
	st->st_uid = m->uid;
	st->st_gid = m->gid;
	st->st_size = (off_t)a->size;
	st->st_blksize = CFS_BLKSIZE;
	st->st_blocks = (blkcnt_t)((a->size + 511) / 512);
	st->st_mtim.tv_sec = (time_t)a->mtime;
	st->st_atim = st->st_mtim;
	st->st_ctim = st->st_mtim;
}

static void
cfs_entry(const struct cfs_mount *m, const struct cf_view_attr *a, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = a->ino;
	e->generation = 1;
	cfs_stat(m, a, &e->attr);
	e->entry_timeout = CFS_TIMEOUT;
	/* A conversation folder not built yet will change its link count. */
	e->attr_timeout = a->final ? CFS_TIMEOUT : 0.0;
}

static int cfs_audit(struct cfs_mount *m, const char *action, const char *object,
    const char *result, const char *detail);
static int cfs_audit_flush(struct cfs_mount *m, const char *action, const char *object,
    const char *result, const char *detail);

/* ---- building conversations --------------------------------------------- */

/*
 * Decrypt and render conversation idx unless done already.  Returns 0,
 * -EIO (it failed, now or before), -EACCES (no longer granted) or -ENOMEM.
 */
static int
cfs_conv_build(struct cfs_mount *m, size_t idx)
{
	const struct cf_chat *c;
	struct cf_chat_content cc;
	char hex[2 * CF_ID_BYTES + 1];
	int rc, st;

	memset(&cc, 0, sizeof(cc));
	if ((rc = pthread_mutex_lock(&m->arch_lock)) != 0)
		return -EIO;
	st = cf_view_conv_state(m->view, idx);
	if (st != 0) {
		rc = st > 0 ? 0 : -EIO;
		goto out;
	}
	if ((c = cfs_chat(m, idx)) == NULL) {
		rc = -EACCES;           /* a refresh took it away */
		goto out;
	}
	rc = cf_policy_check(m->a, m->s, c->id);
	if (rc == -EACCES) {
		cfs_id_hex(c, hex);
		cf_error("conversation %s: access is no longer granted to %s", hex,
		    cf_session_name(m->s));
		goto out;
	}
	if (rc == 0)
		rc = cf_chat_load(m->a, c, &cc);
	if (rc == 0) {
		rc = cf_view_conv_build(m->view, idx, c, &cc);
		if (rc == -EEXIST)
			rc = 0;
	}
	if (rc == -EBADMSG) {
		/* Tampered or damaged: cf_chat_load reported which blob.  The
		 * conversation stays unreadable until a refresh or unmount. */
		cfs_id_hex(c, hex);
		cf_error("conversation %s: unreadable until refreshed or remounted", hex);
		cf_view_conv_fail(m->view, idx, rc);
		{
			char obj[CF_AUDIT_OBJECT_MAX + 1];

			cf_audit_object(obj, c->id, NULL);
			(void)cfs_audit(m, "read", obj, CF_AUDIT_FAILED,
			    "damaged or tampered segment: EIO");
		}
	}
	if (rc != 0 && rc != -EACCES && rc != -ENOMEM)
		rc = -EIO;
out:
	cf_chat_content_free(&cc);
	pthread_mutex_unlock(&m->arch_lock);
	return rc;
}

/* Make sure folder dir can be searched: build its conversation if it is a
 * conversation folder not built yet.  Returns 0 or -errno. */
static int
cfs_dir_ready(struct cfs_mount *m, fuse_ino_t dir)
{
	size_t idx;
	int st;

	if ((st = cf_view_conv_of(m->view, dir, &idx)) != 0)
		return st == -ENOENT ? 0 : st;  /* the root, or no such folder */
	st = cf_view_conv_state(m->view, idx);
	if (st > 0)
		return 0;
	if (st < 0)
		return -EIO;
	return cfs_conv_build(m, idx);
}

/* ---- audit and grant ends ------------------------------------------------ */

static int64_t
cfs_now_secs(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec;
}

/* The conversation id of view index idx, or NULL when no longer listed.
 * Copied out under arch_lock: the list may be swapped by a refresh. */
static int
cfs_conv_id(struct cfs_mount *m, size_t idx, uint8_t id[CF_ID_BYTES])
{
	const struct cf_chat *c;
	int rc = -EACCES;

	if (pthread_mutex_lock(&m->arch_lock) != 0)
		return -EIO;
	if ((c = cfs_chat(m, idx)) != NULL) {
		memcpy(id, c->id, CF_ID_BYTES);
		rc = 0;
	}
	pthread_mutex_unlock(&m->arch_lock);
	return rc;
}

/* Append one audit record for this mount's principal.  Returns 0 or
 * -EACCES: an action whose record cannot be written is refused. */
static int
cfs_audit(struct cfs_mount *m, const char *action, const char *object, const char *result,
    const char *detail)
{
	int rc;

	if (pthread_mutex_lock(&m->audit_lock) != 0)
		return -EACCES;
	/* the pending reads happened first: they go first, in its transaction */
	rc = cfs_audit_flush(m, action, object, result, detail);
	pthread_mutex_unlock(&m->audit_lock);
	return rc;
}

/*
 * Grow a per-conversation flag array to hold index idx.  audit_lock held.
 * Returns 0 or -ENOMEM.
 */
static int
cfs_flags_fit(uint8_t **v, size_t *n, size_t idx)
{
	uint8_t *nv;

	if (idx < *n)
		return 0;
	if ((nv = realloc(*v, idx + 16)) == NULL)
		return -ENOMEM;
	memset(nv + *n, 0, idx + 16 - *n);
	*v = nv;
	*n = idx + 16;
	return 0;
}

/*
 * Conversation idx may still be read now: its grant has not ended.  The
 * first refusal of each conversation is audited (not every request of a
 * `grep -r`).  Returns 0 or -EACCES.
 */
static int
cfs_check_until(struct cfs_mount *m, size_t idx)
{
	int64_t until = cf_view_conv_until(m->view, idx);
	uint8_t id[CF_ID_BYTES];
	char obj[CF_AUDIT_OBJECT_MAX + 1], hex[2 * CF_ID_BYTES + 1];
	int first = 0;

	if (until == 0 || cfs_now_secs() <= until)
		return 0;
	if (pthread_mutex_lock(&m->audit_lock) != 0)
		return -EACCES;
	if (cfs_flags_fit(&m->denied, &m->ndenied, idx) == 0 && !m->denied[idx]) {
		m->denied[idx] = 1;
		first = 1;
	}
	pthread_mutex_unlock(&m->audit_lock);
	if (first && cfs_conv_id(m, idx, id) == 0) {
		cf_audit_object(obj, id, NULL);
		cf_hex_encode(hex, id, CF_ID_BYTES);
		cf_error("conversation %s: the grant of %s has ended", hex, cf_session_name(m->s));
		(void)cfs_audit(m, "read", obj, CF_AUDIT_DENIED, "grant expired");
	}
	return -EACCES;
}

/* Before a node of a conversation is used: the grant is still valid.
 * The root and unknown inodes pass (the view answers for them). */
static int
cfs_node_allowed(struct cfs_mount *m, fuse_ino_t ino)
{
	size_t idx;

	if (cf_view_conv_of(m->view, ino, &idx) != 0)
		return 0;
	return cfs_check_until(m, idx);
}

/*
 * Write the pending read records, and after them one record of this
 * mount's principal when action is not NULL, in one transaction, durable
 * when it returns.  audit_lock held.  The pending records stay pending
 * when it fails.  Returns 0 or -EACCES.
 */
static int
cfs_audit_flush(struct cfs_mount *m, const char *action, const char *object,
    const char *result, const char *detail)
{
	struct cf_txn *t = NULL;
	size_t i;
	int rc;

	if (m->npending == 0 && action == NULL)
		return 0;
	if ((rc = cf_ks_begin(cf_archive_ks(m->a), 1, &t)) != 0)
		return -EACCES;
	for (i = 0; rc == 0 && i < m->npending; i++)
		rc = cf_audit_append(t, cf_session_name(m->s), "read", m->pending[i],
		    CF_AUDIT_OK, NULL);
	if (rc == 0 && action != NULL)
		rc = cf_audit_append(t, cf_session_name(m->s), action, object, result, detail);
	if (rc != 0) {
		cf_ks_abort(t);
		return -EACCES;
	}
	if (cf_ks_commit(t) != 0)
		return -EACCES;
	m->npending = 0;
	return 0;
}

/* The oldest pending read record's wait starts now.  audit_lock held. */
static void
cfs_pending_since_now(struct cfs_mount *m)
{
	if (clock_gettime(CLOCK_MONOTONIC, &m->pending_since) != 0)
		memset(&m->pending_since, 0, sizeof m->pending_since);
}

/*
 * The first read of file ino in this mount: check the grant, then audit
 * it; later reads of the file are not recorded (the kernel may serve them
 * from its cache anyway).  The first file read of each conversation is
 * durably in the log before a byte is served, as every other audited
 * action.  The first reads of its other files (a `grep -r` reads
 * thousands) are appended together: each is queued before its data is
 * served and written within CFS_AUDIT_DELAY_MS, or before any other record
 * of the mount (so the log keeps the order of events), or at unmount.  A
 * crash of the machine can lose those of the last second, never the fact
 * that the conversation was read (docs/AUDIT.md).  Returns 0 or -EACCES.
 */
static int
cfs_read_allowed(struct cfs_mount *m, fuse_ino_t ino)
{
	uint8_t id[CF_ID_BYTES];
	char ref[96], obj[CF_AUDIT_OBJECT_MAX + 1];
	size_t idx;
	int rc;

	if (cf_view_file_ref(m->view, ino, &idx, ref, sizeof ref) != 0)
		return 0;               /* the view answers for it */
	if ((rc = cfs_check_until(m, idx)) != 0)
		return rc;
	if (cf_view_read_audited(m->view, ino))
		return 0;
	if ((rc = cfs_conv_id(m, idx, id)) != 0)
		return rc;
	cf_audit_object(obj, id, ref);
	if (pthread_mutex_lock(&m->audit_lock) != 0)
		return -EACCES;
	if (cf_view_read_audited(m->view, ino)) {
		rc = 0;                 /* another thread did it meanwhile */
	} else if (cfs_flags_fit(&m->opened, &m->nopened, idx) != 0) {
		rc = -EACCES;
	} else if (!m->opened[idx] || m->npending >= CFS_AUDIT_BATCH) {
		/* the conversation's first: durable now, with what waits */
		if ((rc = cfs_audit_flush(m, "read", obj, CF_AUDIT_OK, NULL)) == 0)
			m->opened[idx] = 1;
	} else {
		if (m->npending == 0) {
			cfs_pending_since_now(m);
			(void)pthread_cond_signal(&m->flush_cond);
		}
		memcpy(m->pending[m->npending++], obj, sizeof obj);
		rc = 0;
	}
	if (rc == 0)
		cf_view_set_read_audited(m->view, ino);
	pthread_mutex_unlock(&m->audit_lock);
	if (rc != 0)
		cf_error("audit record for a read cannot be written: read refused");
	return rc;
}

/*
 * The audit flusher: writes the pending read records once the oldest has
 * waited CFS_AUDIT_DELAY_MS, and the rest when the mount stops.
 */
static void *
cfs_flusher(void *arg)
{
	struct cfs_mount *m = arg;
	struct timespec due;

	if (pthread_mutex_lock(&m->audit_lock) != 0)
		return NULL;
	while (!atomic_load(&m->stopping)) {
		if (m->npending == 0) {
			(void)pthread_cond_wait(&m->flush_cond, &m->audit_lock);
			continue;
		}
		due = m->pending_since;
		due.tv_sec += CFS_AUDIT_DELAY_MS / 1000;
		due.tv_nsec += (long)(CFS_AUDIT_DELAY_MS % 1000) * 1000000L;
		if (due.tv_nsec >= 1000000000L) {
			due.tv_sec++;
			due.tv_nsec -= 1000000000L;
		}
		if (pthread_cond_timedwait(&m->flush_cond, &m->audit_lock, &due) == ETIMEDOUT &&
		    m->npending > 0 && cfs_audit_flush(m, NULL, NULL, NULL, NULL) != 0) {
			cf_error("audit records of reads cannot be written: retrying");
			/* wait a full period before the next attempt */
			cfs_pending_since_now(m);
		}
	}
	if (m->npending > 0 && cfs_audit_flush(m, NULL, NULL, NULL, NULL) != 0)
		cf_error("%zu audit records of reads could not be written", m->npending);
	pthread_mutex_unlock(&m->audit_lock);
	return NULL;
}

/* ---- attachments ---------------------------------------------------------- */

static void
cfs_reader_close(void *h)
{
	cf_blob_close(h);
}

/*
 * The open blob reader of attachment ino, opened on first use and kept for
 * the mount.  Returns NULL with *err set (-EIO, -ENOMEM, …) on failure.
 */
static struct cf_blob_reader *
cfs_reader(struct cfs_mount *m, fuse_ino_t ino, size_t conv,
    const uint8_t blob_id[CF_ID_BYTES], uint64_t size, int *err)
{
	struct cf_blob_reader *r;
	const struct cf_chat *c;
	char hex[2 * CF_ID_BYTES + 1];
	int rc;

	if ((r = cf_view_handle_get(m->view, ino)) != NULL)
		return r;
	if ((rc = pthread_mutex_lock(&m->arch_lock)) != 0) {
		*err = -EIO;
		return NULL;
	}
	if ((r = cf_view_handle_get(m->view, ino)) != NULL)
		goto out;
	if ((c = cfs_chat(m, conv)) == NULL) {
		*err = -EACCES;
		goto out;
	}
	rc = cf_chat_attachment_open(m->a, c, blob_id, &r);
	if (rc == 0 && cf_blob_plain_size(r) != size) {
		cf_hex_encode(hex, blob_id, CF_ID_BYTES);
		cf_error("attachment blob %s: size %llu, the conversation says %llu", hex,
		    (unsigned long long)cf_blob_plain_size(r), (unsigned long long)size);
		cf_blob_close(r);
		r = NULL;
		rc = -EBADMSG;
	}
	if (rc == 0 && (rc = cf_view_handle_set(m->view, ino, r)) != 0) {
		/* Only this function stores handles, under arch_lock. */
		cf_blob_close(r);
		r = cf_view_handle_get(m->view, ino);
		rc = r != NULL ? 0 : -EIO;
	}
	if (rc != 0) {
		char obj[CF_AUDIT_OBJECT_MAX + 1], ref[2 * CF_ID_BYTES + 16];

		r = NULL;
		*err = (rc == -ENOMEM) ? rc : -EIO;
		if (rc == -EBADMSG) {
			cf_hex_encode(hex, blob_id, CF_ID_BYTES);
			snprintf(ref, sizeof ref, "attachment:%s", hex);
			cf_audit_object(obj, c->id, ref);
			(void)cfs_audit(m, "read", obj, CF_AUDIT_FAILED,
			    "damaged or tampered attachment: EIO");
		}
	}
out:
	pthread_mutex_unlock(&m->arch_lock);
	return r;
}

/* ---- handlers ------------------------------------------------------------ */

static void
cfs_init(void *userdata, struct fuse_conn_info *conn)
{
	struct cfs_mount *m = userdata;

	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	/* Always READDIRPLUS: one request gives find and du every attribute. */
	conn->want &= ~(unsigned)FUSE_CAP_READDIRPLUS_AUTO;
	if (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT) {
		conn->want |= FUSE_CAP_NO_OPEN_SUPPORT;
		m->no_open = 1;
	}
	/* OPENDIR stays: the root must never be listed from the kernel's
	 * cache, so that a mount whose daemon died answers ENOTCONN (and
	 * a refresh shows at once). */
	conn->want &= ~(unsigned)FUSE_CAP_NO_OPENDIR_SUPPORT;
}

static void
cfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct cfs_mount *m = cfs_mount_of(req);
	struct fuse_entry_param e;
	struct cf_view_attr a;
	unsigned ep = cfs_enter(m);
	int rc;

	if ((rc = cfs_node_allowed(m, parent)) != 0) {
		fuse_reply_err(req, -rc);
		goto out;
	}
	rc = cf_view_lookup(m->view, parent, name, &a);
	if (rc == -EAGAIN && (rc = cfs_dir_ready(m, parent)) == 0)
		rc = cf_view_lookup(m->view, parent, name, &a);
	if (rc == 0 && parent == FUSE_ROOT_ID)
		rc = cfs_node_allowed(m, a.ino);
	if (rc == -ENOENT) {
		/* Let the kernel remember the absence: a folder's content
		 * never changes, and a refresh invalidates the root's names. */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = CFS_TIMEOUT;
		fuse_reply_entry(req, &e);
	} else if (rc != 0) {
		fuse_reply_err(req, -rc);
	} else {
		cfs_entry(m, &a, &e);
		fuse_reply_entry(req, &e);
	}
out:
	cfs_leave(m, ep);
}

static void
cfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	/* Nodes live as long as the mount (or until their conversation is
	 * no longer listed): nothing to count. */
	(void)ino;
	(void)nlookup;
	fuse_reply_none(req);
}

static void
cfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct cfs_mount *m = cfs_mount_of(req);
	struct cf_view_attr a;
	struct stat st;
	unsigned ep = cfs_enter(m);
	int rc;

	(void)fi;
	if ((rc = cf_view_getattr(m->view, ino, &a)) != 0) {
		fuse_reply_err(req, -rc);
	} else {
		cfs_stat(m, &a, &st);
		fuse_reply_attr(req, &st, a.final ? CFS_TIMEOUT : 0.0);
	}
	cfs_leave(m, ep);
}

/* READDIR and READDIRPLUS: offsets are entry numbers, 1 and 2 being "."
 * and "..", so a listing can resume anywhere. */
static void
cfs_readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, int plus)
{
	struct cfs_mount *m = cfs_mount_of(req);
	struct cf_view_attr a;
	struct fuse_entry_param e;
	struct stat st;
	const char *name;
	char *buf = NULL;
	size_t used = 0, n;
	off_t pos;
	unsigned ep = cfs_enter(m);
	int rc;

	if ((rc = cf_view_getattr(m->view, ino, &a)) != 0) {
		fuse_reply_err(req, -rc);
		goto out;
	}
	if (!a.is_dir) {
		fuse_reply_err(req, ENOTDIR);
		goto out;
	}
	if ((rc = cfs_node_allowed(m, ino)) != 0 || (rc = cfs_dir_ready(m, ino)) != 0) {
		fuse_reply_err(req, -rc);
		goto out;
	}
	if ((buf = malloc(size)) == NULL) {
		fuse_reply_err(req, ENOMEM);
		goto out;
	}
	for (pos = off < 0 ? 0 : off;; pos++) {
		if (pos == 0) {
			name = ".";
			rc = cf_view_getattr(m->view, ino, &a) == 0 ? 1 : -EIO;
		} else if (pos == 1) {
			name = "..";
			rc = cf_view_getattr(m->view, ino, &a);
			if (rc == 0)
				rc = cf_view_getattr(m->view, a.parent, &a);
			rc = rc == 0 ? 1 : -EIO;
		} else {
			rc = cf_view_readdir(m->view, ino, (size_t)(pos - 2), &name, &a);
		}
		if (rc <= 0)
			break;
		if (plus) {
			cfs_entry(m, &a, &e);
			n = fuse_add_direntry_plus(req, buf + used, size - used, name, &e, pos + 1);
		} else {
			cfs_stat(m, &a, &st);
			n = fuse_add_direntry(req, buf + used, size - used, name, &st, pos + 1);
		}
		if (n > size - used)
			break;
		used += n;
	}
	if (rc < 0 && used == 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, buf, used);
out:
	free(buf);
	cfs_leave(m, ep);
}

static void
cfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	cfs_readdir_common(req, ino, size, off, 0);
}

static void
cfs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	(void)fi;
	cfs_readdir_common(req, ino, size, off, 1);
}

static void
cfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct cfs_mount *m = cfs_mount_of(req);
	struct cf_view_attr a;
	unsigned ep;
	int rc;

	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (m->no_open) {
		/* The kernel takes this as success and stops sending OPEN. */
		fuse_reply_err(req, ENOSYS);
		return;
	}
	ep = cfs_enter(m);
	if ((rc = cf_view_getattr(m->view, ino, &a)) != 0) {
		fuse_reply_err(req, -rc);
	} else if (a.is_dir) {
		fuse_reply_err(req, EISDIR);
	} else {
		fi->keep_cache = 1;
		fuse_reply_open(req, fi);
	}
	cfs_leave(m, ep);
}

static void
cfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct cfs_mount *m = cfs_mount_of(req);
	struct cf_view_attr a;
	unsigned ep;
	int rc;

	ep = cfs_enter(m);
	if ((rc = cf_view_getattr(m->view, ino, &a)) != 0) {
		fuse_reply_err(req, -rc);
	} else if (!a.is_dir) {
		fuse_reply_err(req, ENOTDIR);
	} else {
		/* A folder's entries never change; the root's change at a
		 * refresh, and a listing of the root must reach the daemon. */
		fi->keep_cache = ino != FUSE_ROOT_ID;
		fi->cache_readdir = ino != FUSE_ROOT_ID;
		fuse_reply_open(req, fi);
	}
	cfs_leave(m, ep);
}

static void
cfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct cfs_mount *m = cfs_mount_of(req);
	struct cf_blob_reader *r;
	uint8_t blob_id[CF_ID_BYTES];
	const char *text;
	uint64_t asize;
	size_t len, conv;
	uint8_t *buf;
	ssize_t got;
	unsigned ep;
	int rc, err = -EIO;

	(void)fi;
	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	ep = cfs_enter(m);
	if ((rc = cfs_read_allowed(m, ino)) != 0) {
		fuse_reply_err(req, -rc);
		goto out;
	}
	rc = cf_view_text(m->view, ino, &text, &len);
	if (rc == 0) {
		if ((uint64_t)off >= len)
			fuse_reply_buf(req, NULL, 0);
		else
			fuse_reply_buf(req, text + off, len - (size_t)off < size ? len - (size_t)off : size);
		goto out;
	}
	if (rc != -EINVAL || (rc = cf_view_attachment(m->view, ino, &conv, blob_id, &asize)) != 0) {
		fuse_reply_err(req, -rc);
		goto out;
	}
	if ((uint64_t)off >= asize) {
		fuse_reply_buf(req, NULL, 0);
		goto out;
	}
	if ((r = cfs_reader(m, ino, conv, blob_id, asize, &err)) == NULL) {
		fuse_reply_err(req, -err);
		goto out;
	}
	if (asize - (uint64_t)off < size)
		size = (size_t)(asize - (uint64_t)off);
	if ((buf = malloc(size)) == NULL) {
		fuse_reply_err(req, ENOMEM);
		goto out;
	}
	got = cf_blob_pread(r, buf, size, (uint64_t)off);
	if (got < 0)
		fuse_reply_err(req, got == -ENOMEM ? ENOMEM : EIO);
	else
		fuse_reply_buf(req, (const char *)buf, (size_t)got);
	cf_wipe(buf, size);
	free(buf);
out:
	cfs_leave(m, ep);
}

static void
cfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct cfs_mount *m = cfs_mount_of(req);
	struct statvfs sv;

	(void)ino;
	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = CFS_BLKSIZE;
	sv.f_frsize = 512;
	sv.f_files = (fsfilcnt_t)cf_view_ninodes(m->view);
	sv.f_namemax = 255;
	sv.f_flag = ST_RDONLY | ST_NOSUID | ST_NODEV;
	fuse_reply_statfs(req, &sv);
}

/* The root's attributes for clients (mnt.h); every other node has none. */
static int
cfs_xattr_value(struct cfs_mount *m, fuse_ino_t ino, const char *name, char *buf, size_t n)
{
	struct cfs_refresh_status st;
	int len;

	if (ino != FUSE_ROOT_ID)
		return -ENODATA;
	if (strcmp(name, CF_MNT_XATTR_PID) == 0) {
		len = snprintf(buf, n, "%ld", (long)getpid());
	} else if (strcmp(name, CF_MNT_XATTR_REFRESH) == 0) {
		if (pthread_mutex_lock(&m->status_lock) != 0)
			return -EIO;
		st = m->status;
		pthread_mutex_unlock(&m->status_lock);
		len = snprintf(buf, n, "%lu %lu %d %lu %lu", st.started, st.done, st.rc, st.added,
		    st.removed);
	} else {
		return -ENODATA;
	}
	return len < 0 || (size_t)len >= n ? -EIO : len;
}

static void
cfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	char buf[128];
	int len = cfs_xattr_value(cfs_mount_of(req), ino, name, buf, sizeof(buf));

	if (len < 0)
		fuse_reply_err(req, -len);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)len);
	else if (size < (size_t)len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, buf, (size_t)len);
}

static void
cfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	static const char names[] = CF_MNT_XATTR_PID "\0" CF_MNT_XATTR_REFRESH;
	size_t len = ino == FUSE_ROOT_ID ? sizeof(names) : 0;

	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, names, len);
}

/* Every modifying request: the file system is read-only. */

static void
cfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
    struct fuse_file_info *fi)
{
	(void)ino;
	(void)attr;
	(void)to_set;
	(void)fi;
	fuse_reply_err(req, EROFS);
}

static void
cfs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	(void)parent;
	(void)name;
	(void)mode;
	(void)rdev;
	fuse_reply_err(req, EROFS);
}

static void
cfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	(void)parent;
	(void)name;
	(void)mode;
	fuse_reply_err(req, EROFS);
}

static void
cfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent;
	(void)name;
	fuse_reply_err(req, EROFS);
}

static void
cfs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	(void)link;
	(void)parent;
	(void)name;
	fuse_reply_err(req, EROFS);
}

static void
cfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
    const char *newname, unsigned int flags)
{
	(void)parent;
	(void)name;
	(void)newparent;
	(void)newname;
	(void)flags;
	fuse_reply_err(req, EROFS);
}

static void
cfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	(void)ino;
	(void)newparent;
	(void)newname;
	fuse_reply_err(req, EROFS);
}

static void
cfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	(void)ino;
	(void)buf;
	(void)size;
	(void)off;
	(void)fi;
	fuse_reply_err(req, EROFS);
}

static void
cfs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
    struct fuse_file_info *fi)
{
	(void)parent;
	(void)name;
	(void)mode;
	(void)fi;
	fuse_reply_err(req, EROFS);
}

static void
cfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
    size_t size, int flags)
{
	(void)ino;
	(void)name;
	(void)value;
	(void)size;
	(void)flags;
	fuse_reply_err(req, EROFS);
}

static void
cfs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	(void)ino;
	(void)name;
	fuse_reply_err(req, EROFS);
}

static void
cfs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
    struct fuse_file_info *fi)
{
	(void)ino;
	(void)mode;
	(void)offset;
	(void)length;
	(void)fi;
	fuse_reply_err(req, EROFS);
}

static const struct fuse_lowlevel_ops cfs_ops = {
	.init = cfs_init,
	.lookup = cfs_lookup,
	.forget = cfs_forget,
	.getattr = cfs_getattr,
	.readdir = cfs_readdir,
	.readdirplus = cfs_readdirplus,
	.open = cfs_open,
	.opendir = cfs_opendir,
	.read = cfs_read,
	.statfs = cfs_statfs,
	.setattr = cfs_setattr,
	.mknod = cfs_mknod,
	.mkdir = cfs_mkdir,
	.unlink = cfs_unlink,
	.rmdir = cfs_unlink,
	.symlink = cfs_symlink,
	.rename = cfs_rename,
	.link = cfs_link,
	.write = cfs_write,
	.create = cfs_create,
	.setxattr = cfs_setxattr,
	.removexattr = cfs_removexattr,
	.getxattr = cfs_getxattr,
	.listxattr = cfs_listxattr,
	.fallocate = cfs_fallocate,
};

/* ---- options --------------------------------------------------------------- */

int
cfs_parse_o(const char *arg, struct cfs_opts *o, char **rest)
{
	/* The zone named by the last tz= seen; o->tz points here. */
	static char tzbuf[256];
	const char *p = arg, *end;
	size_t len, have;
	char *grown;

	while (*p != '\0') {
		end = strchr(p, ',');
		len = end != NULL ? (size_t)(end - p) : strlen(p);
		if (len == 0) {
			p += end != NULL;
			continue;
		}
		if (len >= 3 && strncmp(p, "tz=", 3) == 0) {
			if (len - 3 >= sizeof(tzbuf)) {
				cf_error("unknown time zone %.*s", (int)(len - 3), p + 3);
				return -EINVAL;
			}
			memcpy(tzbuf, p + 3, len - 3);
			tzbuf[len - 3] = '\0';
			if (cf_tz_valid(tzbuf) != 0) {
				cf_error("unknown time zone %s", tzbuf);
				return -EINVAL;
			}
			o->tz = tzbuf;
		} else if (len == 2 && strncmp(p, "rw", 2) == 0) {
			cf_error("option rw: the archive can only be mounted read-only");
			return -EINVAL;
		} else if ((len == 11 && strncmp(p, "allow_other", 11) == 0) ||
		    (len == 10 && strncmp(p, "allow_root", 10) == 0)) {
			/* the view is decrypted for one principal: sharing it
			 * with other users would bypass their own grants */
			cf_error("option %.*s: a mount shows one principal's view and is private "
			    "to its user", (int)len, p);
			return -EINVAL;
		} else {
			have = *rest != NULL ? strlen(*rest) : 0;
			if ((grown = realloc(*rest, have + len + 2)) == NULL) {
				cf_error("out of memory");
				return -ENOMEM;
			}
			if (have > 0)
				grown[have++] = ',';
			memcpy(grown + have, p, len);
			grown[have + len] = '\0';
			*rest = grown;
		}
		p += len;
		p += *p == ',';
	}
	return 0;
}

/* ---- running ---------------------------------------------------------------- */

static int64_t
cfs_now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return (int64_t)time(NULL) * 1000;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Tell the kernel to forget what the refresh changed (after the grace
 * period, from the refresher, holding no lock: see fuse_lowlevel.h).
 * An inode or name the kernel does not hold answers ENOENT: fine. */
static void
cfs_notify(struct cfs_mount *m, const struct cf_view_delta *d)
{
	size_t i, failed = 0;
	int rc, first = 0;

	for (i = 0; i < d->nnames; i++) {
		rc = fuse_lowlevel_notify_inval_entry(m->se, FUSE_ROOT_ID, d->names[i],
		    strlen(d->names[i]));
		if (rc != 0 && rc != -ENOENT && failed++ == 0)
			first = rc;
	}
	for (i = 0; i < d->ninos; i++) {
		rc = fuse_lowlevel_notify_inval_inode(m->se, d->inos[i], 0, 0);
		if (rc != 0 && rc != -ENOENT && failed++ == 0)
			first = rc;
	}
	if (failed > 0)
		cf_error("refresh: the kernel refused %zu cache invalidations (%s): cached "
		    "entries may show the old view until they expire", failed, strerror(-first));
}

/*
 * Audit the conversations of the current list that l no longer holds
 * because their grant ended.  arch_lock held.
 */
static void
cfs_audit_ended(struct cfs_mount *m, const struct cf_chat_list *l)
{
	char obj[CF_AUDIT_OBJECT_MAX + 1];
	size_t i, j;

	for (i = 0; i < l->noutside; i++) {
		const uint8_t *id = l->outside + i * CF_ID_BYTES;

		for (j = 0; j < m->chats.n; j++) {
			if (memcmp(m->chats.v[j].id, id, CF_ID_BYTES) != 0)
				continue;
			cf_audit_object(obj, id, NULL);
			(void)cfs_audit(m, "read", obj, CF_AUDIT_DENIED, "grant expired");
		}
	}
}

/* One refresh (see the file comment).  Runs in the refresher only. */
static void
cfs_refresh(struct cfs_mount *m)
{
	struct cf_chat_list l = { .v = NULL };
	struct cf_view_delta d;
	unsigned long no;
	int rc;

	memset(&d, 0, sizeof(d));
	if (pthread_mutex_lock(&m->status_lock) != 0)
		return;
	no = ++m->status.started;
	pthread_mutex_unlock(&m->status_lock);

	if ((rc = pthread_mutex_lock(&m->arch_lock)) != 0) {
		rc = -rc;
		goto done;
	}
	rc = cf_chats_list(m->a, m->s, &l);
	if (rc == -EPERM) {
		/* The principal was disabled or removed (reported): it may
		 * read nothing any more. */
		(void)cfs_audit(m, "refresh", NULL, CF_AUDIT_DENIED, "principal not active");
		rc = 0;
	}
	if (rc == 0)
		cfs_audit_ended(m, &l);
	if (rc == 0)
		rc = cf_view_refresh(m->view, &l, cfs_now_ms(), &d);
	if (rc == 0) {
		/* Nothing refers to the old list outside arch_lock. */
		cf_chats_free(&m->chats);
		m->chats = l;
		memset(&l, 0, sizeof(l));
	}
	pthread_mutex_unlock(&m->arch_lock);
	cf_chats_free(&l);
	if (rc == 0) {
		cfs_grace(m);
		cfs_notify(m, &d);
		cf_view_reclaim(m->view);
	} else {
		cf_error("refresh failed: %s; the view is unchanged", strerror(-rc));
	}
done:
	if (pthread_mutex_lock(&m->status_lock) == 0) {
		m->status.done = no;
		m->status.rc = rc;
		m->status.added = rc == 0 ? d.added : 0;
		m->status.removed = rc == 0 ? d.removed : 0;
		pthread_mutex_unlock(&m->status_lock);
	}
	cf_view_delta_free(&d);
}

/*
 * Seconds until the first grant of a listed conversation ends (at least 1),
 * or -1 when none ends.  The refresher wakes then, so that a conversation
 * whose grant ended disappears and the kernel forgets what it cached of it.
 */
static long
cfs_next_end(struct cfs_mount *m)
{
	int64_t now = cfs_now_secs(), first = 0;
	size_t i;

	if (pthread_mutex_lock(&m->arch_lock) != 0)
		return 1;
	for (i = 0; i < m->chats.n; i++) {
		int64_t u = m->chats.v[i].until;

		if (u != 0 && (first == 0 || u < first))
			first = u;
	}
	pthread_mutex_unlock(&m->arch_lock);
	if (first == 0)
		return -1;
	/* the grant ends after second `first`: wake just past it */
	return first + 1 - now > 1 ? (long)(first + 1 - now) : 1;
}

/* The refresher: SIGHUP is blocked in every thread and taken here; it
 * also refreshes on its own when a grant ends. */
static void *
cfs_refresher(void *arg)
{
	struct cfs_mount *m = arg;
	struct timespec ts;
	sigset_t set;
	long wait;
	int sig;

	(void)sigemptyset(&set);
	(void)sigaddset(&set, SIGHUP);
	for (;;) {
		wait = cfs_next_end(m);
		if (wait < 0) {
			if (sigwait(&set, &sig) != 0)
				continue;
		} else {
			ts.tv_sec = wait;
			ts.tv_nsec = 0;
			if (sigtimedwait(&set, NULL, &ts) < 0 && errno != EAGAIN)
				continue;       /* EINTR: look again */
		}
		if (atomic_load(&m->stopping))
			break;
		cfs_refresh(m);
	}
	return NULL;
}

/*
 * After fuse_daemonize: lock the keys again (memory locks are not
 * inherited by fork) and open the archive afresh.  The keystore's LMDB
 * environment must not be used across fork (its fcntl locks belong to the
 * parent, which exits, so another process could reset the reader table
 * under us).  fuse_daemonize also changed to "/": the archive path is
 * absolute (cf_archive_open resolved it).
 */
static int
cfs_after_daemonize(struct cfs_mount *m, int foreground)
{
	size_t i;
	int rc;

	if (!foreground)
		cf_log_to_syslog(1);
	if ((rc = cf_session_relock(m->s)) != 0)
		return rc;
	for (i = 0; i < m->chats.n; i++) {
		if (m->chats.v[i].kp.sk != NULL &&
		    (rc = cf_secure_relock(m->chats.v[i].kp.sk, CF_SK_BYTES)) != 0)
			return rc;
	}
	return cf_archive_reopen(m->a);
}

int
cfs_run(struct cf_archive *a, struct cf_session *s, const char *mountpoint,
    const struct cfs_opts *o)
{
	struct cfs_mount m;
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_session *se = NULL;
	struct fuse_loop_config cfg = { .clone_fd = 0, .max_idle_threads = 10 };
	pthread_t refresher;
	sigset_t hup;
	char *mopts = NULL;
	int rc, lock_ok = 0, status_ok = 0, audit_ok = 0, handlers = 0, mounted = 0;
	int refreshing = 0, served = 0, cond_ok = 0, flushing = 0;
	pthread_t flusher;
	pthread_condattr_t ca;
	size_t i;
	int foreground = o->foreground || o->debug;
	char detail[64];

	memset(&m, 0, sizeof(m));
	m.a = a;
	m.s = s;
	m.uid = getuid();
	m.gid = getgid();
	atomic_init(&m.epoch, 0);
	atomic_init(&m.active[0], 0);
	atomic_init(&m.active[1], 0);
	atomic_init(&m.stopping, 0);
	if ((rc = pthread_mutex_init(&m.arch_lock, NULL)) != 0) {
		cf_error("cannot create a lock: %s", strerror(rc));
		rc = -rc;
		goto out;
	}
	lock_ok = 1;
	if ((rc = pthread_mutex_init(&m.status_lock, NULL)) != 0) {
		cf_error("cannot create a lock: %s", strerror(rc));
		rc = -rc;
		goto out;
	}
	status_ok = 1;
	if ((rc = pthread_mutex_init(&m.audit_lock, NULL)) != 0) {
		cf_error("cannot create a lock: %s", strerror(rc));
		rc = -rc;
		goto out;
	}
	audit_ok = 1;
	if ((rc = pthread_condattr_init(&ca)) == 0) {
		if ((rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC)) == 0 &&
		    (rc = pthread_cond_init(&m.flush_cond, &ca)) == 0)
			cond_ok = 1;
		(void)pthread_condattr_destroy(&ca);
	}
	if (!cond_ok) {
		cf_error("cannot create a condition variable: %s", strerror(rc));
		rc = -rc;
		goto out;
	}
	if ((m.pending = calloc(CFS_AUDIT_BATCH, sizeof *m.pending)) == NULL) {
		cf_error("out of memory");
		rc = -ENOMEM;
		goto out;
	}
	if (cf_session_role(s) == CF_ROLE_INGEST) {
		cf_error("%s: %s is an ingest identity: it can add messages, never read them",
		    cf_archive_dir(a), cf_session_name(s));
		rc = -EPERM;
		goto out;
	}
	/* Before anything is mounted, so a wrong identity fails here. */
	if ((rc = cf_chats_list(a, s, &m.chats)) != 0)
		goto out;
	if ((rc = cf_view_new(&m.view, &m.chats, o->tz, cfs_now_ms(), cfs_reader_close)) != 0)
		goto out;
	/* A mount whose daemon was killed answers ENOTCONN: unmount it. */
	if ((rc = cf_mnt_clean_stale(mountpoint)) != 0)
		goto out;
	if (asprintf(&mopts, "ro,default_permissions,fsname=coffer,subtype=coffer%s%s",
	    o->fuse_opts != NULL && *o->fuse_opts != '\0' ? "," : "",
	    o->fuse_opts != NULL ? o->fuse_opts : "") < 0) {
		mopts = NULL;
		cf_error("out of memory");
		rc = -ENOMEM;
		goto out;
	}
	if (fuse_opt_add_arg(&args, "cofferfs") != 0 || fuse_opt_add_arg(&args, "-o") != 0 ||
	    fuse_opt_add_arg(&args, mopts) != 0 ||
	    (o->debug && fuse_opt_add_arg(&args, "-d") != 0)) {
		cf_error("out of memory");
		rc = -ENOMEM;
		goto out;
	}
	if ((se = fuse_session_new(&args, &cfs_ops, sizeof(cfs_ops), &m)) == NULL) {
		cf_error("cannot start the FUSE session (options: %s)", mopts);
		rc = -EINVAL;
		goto out;
	}
	m.se = se;
	if (fuse_set_signal_handlers(se) != 0) {
		cf_error("cannot install signal handlers");
		rc = -EIO;
		goto out;
	}
	handlers = 1;
	if (fuse_session_mount(se, mountpoint) != 0) {
		cf_error("%s: cannot mount", mountpoint);
		rc = -EIO;
		goto out;
	}
	mounted = 1;
	/* Fail closed: a mount that cannot be audited is not served.  Written
	 * before fuse_daemonize, so that the exit status tells. */
	snprintf(detail, sizeof detail, "conversations=%zu", m.chats.n);
	if ((rc = cf_audit_log(cf_archive_ks(a), cf_session_name(s), "mount", NULL,
	    CF_AUDIT_OK, detail)) != 0) {
		cf_error("%s: the mount cannot be audited: not mounted", mountpoint);
		goto out;
	}
	for (i = 0; i < m.chats.noutside; i++) {
		char obj[CF_AUDIT_OBJECT_MAX + 1];

		cf_audit_object(obj, m.chats.outside + i * CF_ID_BYTES, NULL);
		if ((rc = cf_audit_log(cf_archive_ks(a), cf_session_name(s), "mount", obj,
		    CF_AUDIT_DENIED, "grant expired or not yet valid")) != 0)
			goto out;
	}
	/* Unless foreground, the parent _exit()s in here once the child is
	 * set up (so its exit status is 0 and its stdio buffers are not
	 * flushed: flush them now); only the child returns. */
	(void)fflush(NULL);
	if (fuse_daemonize(foreground) != 0) {
		cf_error("cannot go into the background");
		rc = -EIO;
		goto out;
	}
	if ((rc = cfs_after_daemonize(&m, foreground)) != 0)
		goto out;
	/* SIGHUP means refresh, not exit: blocked here, so in every thread
	 * started from now on, and taken by the refresher alone. */
	(void)sigemptyset(&hup);
	(void)sigaddset(&hup, SIGHUP);
	if ((rc = pthread_sigmask(SIG_BLOCK, &hup, NULL)) != 0 ||
	    (rc = pthread_create(&refresher, NULL, cfs_refresher, &m)) != 0) {
		cf_error("cannot start the refresh thread: %s", strerror(rc));
		rc = -rc;
		goto out;
	}
	refreshing = 1;
	if ((rc = pthread_create(&flusher, NULL, cfs_flusher, &m)) != 0) {
		cf_error("cannot start the audit thread: %s", strerror(rc));
		rc = -rc;
		goto out;
	}
	flushing = 1;
	served = 1;
	rc = fuse_session_loop_mt(se, &cfg);
	if (rc < 0) {
		cf_error("%s: %s", mountpoint, strerror(-rc));
	} else {
		rc = 0;         /* unmounted, or stopped by a signal */
	}
out:
	if (refreshing) {
		atomic_store(&m.stopping, 1);
		if (pthread_kill(refresher, SIGHUP) != 0 || pthread_join(refresher, NULL) != 0)
			cf_error("cannot stop the refresh thread");
	}
	if (flushing) {
		/* it writes what is pending before it ends */
		atomic_store(&m.stopping, 1);
		if (pthread_mutex_lock(&m.audit_lock) == 0) {
			(void)pthread_cond_signal(&m.flush_cond);
			pthread_mutex_unlock(&m.audit_lock);
		}
		if (pthread_join(flusher, NULL) != 0)
			cf_error("cannot stop the audit thread");
	}
	if (mounted)
		fuse_session_unmount(se);
	if (served)
		(void)cf_audit_log(cf_archive_ks(m.a), cf_session_name(m.s), "unmount", NULL,
		    CF_AUDIT_OK, NULL);
	if (handlers)
		fuse_remove_signal_handlers(se);
	if (se != NULL)
		fuse_session_destroy(se);
	fuse_opt_free_args(&args);
	free(mopts);
	cf_view_free(m.view);
	cf_chats_free(&m.chats);
	cf_session_free(m.s);
	cf_archive_close(m.a);
	if (status_ok)
		pthread_mutex_destroy(&m.status_lock);
	if (audit_ok)
		pthread_mutex_destroy(&m.audit_lock);
	free(m.denied);
	free(m.opened);
	free(m.pending);
	if (cond_ok)
		pthread_cond_destroy(&m.flush_cond);
	if (lock_ok)
		pthread_mutex_destroy(&m.arch_lock);
	return rc;
}
