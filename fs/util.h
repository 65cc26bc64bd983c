/*
 * util.h - small helpers shared by every module of the Coffer core:
 * error reporting, hex, time parsing and formatting, careful file I/O.
 *
 * Error convention for the whole of fs/: functions return 0 (or a
 * non-negative count) on success and -errno on failure.  The function that
 * knows the cause reports it once with cf_error(), naming the file; callers
 * just propagate the code.  Nothing in fs/ ever exits.
 */
#ifndef COFFER_UTIL_H
#define COFFER_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Set the name printed in front of every error ("coffer", "cofferfs"). */
void cf_set_progname(const char *name);
const char *cf_progname(void);

/*
 * Route cf_error() to syslog (LOG_DAEMON) instead of stderr; used by the
 * FUSE daemon once it has detached.  on = 0 goes back to stderr.
 */
void cf_log_to_syslog(int on);

/* Silence cf_error() (tests that provoke errors on purpose). */
void cf_log_quiet(int on);

/* Print "progname: MESSAGE\n" to stderr (or syslog).  Never prints secrets:
 * callers pass file names and causes, never message content. */
void cf_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Lower-case hex.  out must hold 2*inlen+1 bytes; always NUL-terminates. */
void cf_hex_encode(char *out, const uint8_t *in, size_t inlen);
/* Decode exactly outlen bytes from a string of exactly 2*outlen hex digits.
 * Returns 0 or -EINVAL. */
int cf_hex_decode(uint8_t *out, size_t outlen, const char *in);

/*
 * Parse an RFC 3339 / ISO 8601 date-time: "2025-03-13T19:44:01Z",
 * "2025-03-13T19:44:01.250+01:00", "2025-03-13 19:44:01", "2025-03-13T19:44".
 * A time with no offset is read in zone tz (an IANA name such as
 * "Europe/Paris"; NULL or "" means the machine's local zone).
 * *ms receives Unix time in milliseconds; *had_offset (may be NULL) is set to
 * 1 when the string carried its own offset.  Returns 0 or -EINVAL.
 */
int cf_parse_time(const char *s, const char *tz, int64_t *ms, int *had_offset);

/*
 * Parse a --until / --from argument: a date "2026-12-31" (meaning the end of
 * that day, 23:59:59, in zone tz, for until; the start for from) or a
 * date-time as for cf_parse_time.  end_of_day selects which.  Result in Unix
 * seconds.  Returns 0 or -EINVAL.
 */
int cf_parse_date_arg(const char *s, const char *tz, int end_of_day, int64_t *secs);

/* Format Unix milliseconds as "2025-03-13T19:44:01Z" (UTC).  buf >= 32. */
void cf_format_time_utc(int64_t ms, char *buf, size_t n);

/*
 * Break Unix milliseconds down in zone tz (NULL/"" = UTC) into a struct tm.
 * Thread-safe with respect to other cf_ time calls (they serialise on an
 * internal lock because TZ is process-global).  Returns 0 or -EINVAL.
 */
struct tm;
int cf_localtime(int64_t ms, const char *tz, struct tm *out);

/* Check that tz names a zone this machine knows (/usr/share/zoneinfo).
 * Returns 0 or -ENOENT. */
int cf_tz_valid(const char *tz);

/* Name of the machine's local zone ("Europe/Paris"), or "UTC" when unknown.
 * Returns a static string. */
const char *cf_tz_local_name(void);

/* write(2)/pread(2) loops that retry on EINTR and short counts.
 * Return 0 / bytes read, or -errno. */
int cf_write_all(int fd, const void *buf, size_t len);
ssize_t cf_pread_all(int fd, void *buf, size_t len, off_t off);

/* fsync a directory by path.  Returns 0 or -errno (reported). */
int cf_fsync_dir(const char *dir);

/* Read a whole regular file (opened O_NOFOLLOW) into malloc'd memory.
 * *buf is NUL-terminated (not counted in *len).  Returns 0 or -errno
 * (reported with the file name). */
int cf_read_file(const char *path, char **buf, size_t *len);

/* A NUL-terminated malloc'd copy of len bytes of s (which may hold NULs
 * that end the copy early for string use).  NULL when out of memory. */
char *cf_memdup_str(const char *s, size_t len);
/* Strict UTF-8 of s[0..n): shortest forms, no surrogates, nothing above
 * U+10FFFF; a NUL byte counts as ASCII (callers that refuse NUL check for
 * it).  1 or 0. */
int cf_utf8_valid(const char *s, size_t n);

/* snprintf that returns -ENAMETOOLONG instead of truncating. */
int cf_path(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Validate a principal name: 1..64 bytes of [A-Za-z0-9._-], starting with
 * a letter or digit.  Returns 0 or -EINVAL. */
int cf_name_valid(const char *name);

/*
 * Refuse a command line that looks like it carries a secret: an option
 * that abbreviates --passphrase-file or --new-passphrase-file (getopt would
 * take "--passphrase X" for --passphrase-file and then repeat X in its
 * error), with or without "=value".  Reports the option's name, never its
 * value.  Options after "--" are not looked at.  Returns 0 or -EINVAL.
 */
int cf_args_refuse_secrets(int argc, char *const argv[]);

#endif
