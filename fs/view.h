/*
 * view.h - the tree a reviewer sees when an archive is mounted, as a plain
 * in-memory model with no FUSE types in it, so that names, sizes, inode
 * numbers and rendered texts can be unit-tested without mounting.
 *
 * Layout (display zone: UTC unless the view was made with a zone):
 *   /                                  inode 1
 *   /<conversation>/                   inodes 2..n+1, in cf_chat_list order
 *   /<conversation>/YYYY-MM-DD.txt     one transcript per day
 *   /<conversation>/attachments/NAME   only when the conversation has some
 *   /<conversation>/info.txt           metadata
 * The inodes below a conversation folder are numbered from one counter, in
 * the order conversations are built, and are never reused while the view
 * exists.  Folder names are title-derived and made unique (see view.c).
 *
 * Conversation index: every conversation the view ever showed has an
 * index, fixed for the life of the view.  In a view fresh from
 * cf_view_new it is the position in the list; each cf_view_refresh gives
 * the following indices to the folders it adds.  cf_view_conv_listed maps
 * an index to its position in the latest list.
 *
 * Refresh: cf_view_refresh replaces the list.  A conversation listed again
 * with the same title, folder name, message count and time span keeps its
 * folder, inodes and built content; a new or changed one gets a new folder
 * inode (the next of the counter) and is built afresh; the previous
 * folder of a changed conversation stays readable under its old inodes
 * (for whoever has it open or as working folder), no longer reachable from
 * the root.  Every node of a conversation that is no longer listed answers
 * -EACCES.
 *
 * Building: a conversation's content is added with cf_view_conv_build()
 * (or marked unreadable with cf_view_conv_fail()) the first time it is
 * needed.  Until then lookups and listings inside it return -EAGAIN.
 *
 * Threads: every function may be called from any number of threads at once,
 * including while another thread builds a conversation or refreshes (the
 * view has its own lock for those; readers take no lock: what they reach
 * is published with a release store and never changes afterwards, until
 * cf_view_reclaim).  The caller should still serialise its own load +
 * build so as not to decrypt a conversation twice; a second build of the
 * same conversation returns -EEXIST and changes nothing.
 *
 * Pointers returned (names, texts, handles) stay valid until
 * cf_view_free(), except those of a conversation no longer listed, which
 * stay valid until the next cf_view_reclaim().
 */
#ifndef COFFER_VIEW_H
#define COFFER_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "archive.h"

#define CF_VIEW_ROOT_INO 1
/* Longest name part kept from a title or attachment name, in bytes. */
#define CF_VIEW_NAME_MAX 200

struct cf_view;

/* What stat(2) needs of one node. */
struct cf_view_attr {
	uint64_t ino;
	uint64_t parent;        /* the root's parent is the root */
	int is_dir;             /* 1 folder (0555), 0 regular file (0444) */
	uint64_t size;          /* exact byte count of a file; 0 for folders */
	int64_t mtime;          /* Unix seconds */
	uint32_t nlink;         /* files 1; folders 2 + subfolders */
	int final;              /* 0: this node's attributes change once its
	                         * conversation is built (a conversation folder
	                         * not built yet reports nlink 1, "unknown", as
	                         * find(1) expects); callers should not let them
	                         * be cached */
};

/*
 * Make the view of the conversations in l: the root and one folder per
 * conversation (names computed now; nothing is decrypted).  tz is the
 * display zone (NULL or "" = UTC; must be valid, cf_tz_valid), now_ms the
 * mount time (the root's mtime when l is empty).  handle_close (may be
 * NULL) is called by cf_view_free() on every handle stored with
 * cf_view_handle_set().  l is not referenced after the call.
 * Returns 0 or -ENOMEM / -EINVAL (reported).
 */
int cf_view_new(struct cf_view **v, const struct cf_chat_list *l, const char *tz,
    int64_t now_ms, void (*handle_close)(void *h));
/* Free the view and close its handles.  Accepts NULL. */
void cf_view_free(struct cf_view *v);

/* What the kernel may have cached that a refresh made wrong. */
struct cf_view_delta {
	char **names;           /* root entries whose folder changed, appeared
	                         * or went (copies, wiped by _delta_free) */
	size_t nnames;
	uint64_t *inos;         /* nodes whose cached attributes and pages must
	                         * go: the root, and every node of every
	                         * conversation that is no longer listed */
	size_t ninos;
	size_t added;           /* folders new in the root (new or changed) */
	size_t removed;         /* folders gone, their conversation unlisted */
};

/*
 * Make l the view's list (see "Refresh" above); now_ms is the root's
 * mtime when l is empty.  If d is not NULL it receives what changed.  On
 * failure nothing changed.  Returns 0 or -ENOMEM (reported).
 */
int cf_view_refresh(struct cf_view *v, const struct cf_chat_list *l, int64_t now_ms,
    struct cf_view_delta *d);
/* Free what cf_view_refresh put in d.  Accepts NULL. */
void cf_view_delta_free(struct cf_view_delta *d);
/*
 * Free the root listings replaced by refreshes, and wipe and free the
 * content of every conversation no longer listed (texts, names, handles
 * closed): such a conversation is gone for good; if it is listed again
 * it gets a new folder.  Call only when no thread can still be using a
 * pointer or handle it got before the last refresh (after a grace
 * period).
 */
void cf_view_reclaim(struct cf_view *v);

/* Number of conversations the view has shown (indices 0..n-1); equal to
 * the number of folders until a refresh. */
size_t cf_view_nconv(const struct cf_view *v);
/* The folder name of conversation idx (< cf_view_nconv), or NULL. */
const char *cf_view_conv_name(const struct cf_view *v, size_t idx);
/*
 * The conversation a node belongs to: its folder or anything below it.
 * Returns 0 with *idx set, -ENOENT (the root, or no such inode) or
 * -EACCES (no longer listed).
 */
int cf_view_conv_of(const struct cf_view *v, uint64_t ino, size_t *idx);
/* 0 not built yet, 1 built, or the negative errno it failed with;
 * -ENOENT when idx is out of range. */
int cf_view_conv_state(const struct cf_view *v, size_t idx);
/*
 * The position of conversation idx in the latest list (the one given to
 * cf_view_new or the last cf_view_refresh).  Returns 0 with *pos set,
 * -EACCES when that list does not have it, -ENOENT when idx is out of
 * range.
 */
int cf_view_conv_listed(const struct cf_view *v, size_t idx, size_t *pos);

/*
 * Build conversation idx from its decrypted content: render its day
 * transcripts and info.txt, name its attachments, number the new nodes and
 * publish them.  c is the conversation as listed (title, ids), cc what
 * cf_chat_load returned (messages sorted).  Neither is referenced after the
 * call: the caller may free cc.
 * Returns 0, -EEXIST (already built or failed: nothing changed), -EACCES
 * (no longer listed), -EINVAL (idx out of range, or a time the display
 * zone cannot convert), -ENOMEM; reported except -EEXIST and -EACCES.
 * On failure the conversation stays unbuilt.
 */
int cf_view_conv_build(struct cf_view *v, size_t idx, const struct cf_chat *c,
    const struct cf_chat_content *cc);
/*
 * Mark conversation idx as unreadable for the life of the view: every
 * later lookup or listing inside it returns -EIO.  err (< 0) is remembered
 * for cf_view_conv_state.  Does nothing to a built conversation.
 */
void cf_view_conv_fail(struct cf_view *v, size_t idx, int err);

/*
 * Find name in folder parent.  Returns 0 with *a filled, -ENOENT, -ENOTDIR
 * (parent is a file), -EAGAIN (parent is a conversation folder not built
 * yet: build it and ask again), -EIO (its conversation failed) or -EACCES
 * (its conversation is no longer listed; also for every other function
 * below that takes an inode).
 */
int cf_view_lookup(const struct cf_view *v, uint64_t parent, const char *name,
    struct cf_view_attr *a);
/* Attributes of ino.  Returns 0, -ENOENT or -EACCES. */
int cf_view_getattr(const struct cf_view *v, uint64_t ino, struct cf_view_attr *a);
/*
 * Entry pos (0-based; "." and ".." are not included) of folder dir: *name
 * and *a are set.  Returns 1, 0 past the last entry, or -ENOENT, -ENOTDIR,
 * -EAGAIN, -EIO as cf_view_lookup.  Entry order is stable: the root in
 * list order, a conversation's days in date order then "attachments" then
 * "info.txt", attachments in message order.
 */
int cf_view_readdir(const struct cf_view *v, uint64_t dir, size_t pos, const char **name,
    struct cf_view_attr *a);

/*
 * The whole content of a rendered file (a transcript or info.txt): *text
 * (not NUL-terminated) and *len, equal to its attribute size.
 * Returns 0, -ENOENT, -EISDIR, or -EINVAL for an attachment (its content
 * is in a blob: see cf_view_attachment).
 */
int cf_view_text(const struct cf_view *v, uint64_t ino, const char **text, size_t *len);

/*
 * The attachment behind ino: the index of its conversation (see
 * "Conversation index" above), its blob id and plaintext size.
 * Returns 0, -ENOENT, or -EINVAL when ino is not an attachment.
 */
int cf_view_attachment(const struct cf_view *v, uint64_t ino, size_t *conv,
    uint8_t blob_id[CF_ID_BYTES], uint64_t *size);
/*
 * A caller's handle (an open blob reader) kept with an attachment node for
 * the life of the view.  cf_view_handle_get returns it or NULL (also for a
 * node that is no attachment).  cf_view_handle_set stores h if the node has
 * none yet and returns 0; returns -EEXIST when another thread stored one
 * first (h is not taken: close it and use cf_view_handle_get), -EINVAL
 * when ino is not an attachment, -ENOENT or -EACCES.  A handle is closed
 * by cf_view_free, or by cf_view_reclaim once its conversation is no
 * longer listed.
 */
void *cf_view_handle_get(const struct cf_view *v, uint64_t ino);
int cf_view_handle_set(struct cf_view *v, uint64_t ino, void *h);

/* The end of the grant that lets the session read conversation idx (Unix
 * seconds, as struct cf_chat's until at the latest listing), 0 for none. */
int64_t cf_view_conv_until(const struct cf_view *v, size_t idx);
/*
 * What the audit log may say of file ino: "YYYY-MM-DD.txt", "info.txt" or
 * "attachment:<blob id>" (never a title or an attachment's name), and the
 * conversation it belongs to.  Returns 0, -EISDIR, -ENOENT or -EACCES.
 */
int cf_view_file_ref(const struct cf_view *v, uint64_t ino, size_t *conv, char *buf, size_t n);
/* Whether the first read of file ino was audited, and marking it so.  A
 * node is new after a refresh changed its conversation, so the first read
 * of every file of a mount is audited once (two racing first reads may
 * both be). */
int cf_view_read_audited(const struct cf_view *v, uint64_t ino);
void cf_view_set_read_audited(const struct cf_view *v, uint64_t ino);

/* Number of inodes handed out so far (root and folders included). */
uint64_t cf_view_ninodes(const struct cf_view *v);

/*
 * Make one name safe to be a file name: '/' and control characters
 * (< 0x20, 0x7f) become '_', leading and trailing spaces go, the result is
 * cut to CF_VIEW_NAME_MAX bytes on a UTF-8 character boundary, and "." /
 * ".." become "_" / "__".  An empty result stays empty (callers pick a
 * default).  Returns a malloc'd string, or NULL when out of memory.
 * Exposed for the unit tests.
 */
char *cf_view_sanitize(const char *name);

#endif
