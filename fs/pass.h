/*
 * pass.h - reading passphrases without ever taking them from argv or the
 * environment: from a file named by --passphrase-file, or from the
 * controlling terminal with echo off.
 */
#ifndef COFFER_PASS_H
#define COFFER_PASS_H

#include <stddef.h>

/*
 * Read a passphrase into secure memory (cf_secure_alloc).  With file
 * non-NULL: its first line (opened O_NOFOLLOW; a trailing "\n" or "\r\n" is
 * dropped; "-" means standard input).  Otherwise: /dev/tty, echo off,
 * showing prompt; confirm = 1 asks a second time and requires a match.
 * An empty passphrase is refused.  Returns 0 or -errno (reported, naming
 * the file; -ENXIO when there is no terminal and no file).
 */
int cf_pass_read(const char *file, const char *prompt, int confirm, char **pass, size_t *len);
/* Wipe and free.  Accepts NULL. */
void cf_pass_free(char *pass, size_t len);

#endif
