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
 * Building: a conversation's content is added with cf_view_conv_build()
 * (or marked unreadable with cf_view_conv_fail()) the first time it is
 * needed.  Until then lookups and listings inside it return -EAGAIN.
 *
 * Threads: every function may be called from any number of threads at once,
 * including while another thread builds a conversation (the view has its
 * own lock for building; readers take no lock: a built conversation is
 * published with a release store and never changes afterwards).  The caller
 * should still serialise its own load + build so as not to decrypt a
 * conversation twice; a second build of the same conversation returns
 * -EEXIST and changes nothing.
 *
 * Pointers returned (names, texts) stay valid until cf_view_free().
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

/* Number of conversation folders. */
size_t cf_view_nconv(const struct cf_view *v);
/* The folder name of conversation idx (< cf_view_nconv), or NULL. */
const char *cf_view_conv_name(const struct cf_view *v, size_t idx);
/*
 * The conversation a node belongs to: its folder or anything below it.
 * Returns 0 with *idx set, or -ENOENT (the root, or no such inode).
 */
int cf_view_conv_of(const struct cf_view *v, uint64_t ino, size_t *idx);
/* 0 not built yet, 1 built, or the negative errno it failed with. */
int cf_view_conv_state(const struct cf_view *v, size_t idx);

/*
 * Build conversation idx from its decrypted content: render its day
 * transcripts and info.txt, name its attachments, number the new nodes and
 * publish them.  c is the conversation as listed (title, ids), cc what
 * cf_chat_load returned (messages sorted).  Neither is referenced after the
 * call: the caller may free cc.
 * Returns 0, -EEXIST (already built or failed: nothing changed), -EINVAL
 * (idx out of range, or a time the display zone cannot convert), -ENOMEM;
 * reported except -EEXIST.  On failure the conversation stays unbuilt.
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
 * yet: build it and ask again) or -EIO (its conversation failed).
 */
int cf_view_lookup(const struct cf_view *v, uint64_t parent, const char *name,
    struct cf_view_attr *a);
/* Attributes of ino.  Returns 0 or -ENOENT. */
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
 * The attachment behind ino: the index of its conversation (in the list
 * given to cf_view_new), its blob id and plaintext size.
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
 * when ino is not an attachment.
 */
void *cf_view_handle_get(const struct cf_view *v, uint64_t ino);
int cf_view_handle_set(struct cf_view *v, uint64_t ino, void *h);

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
