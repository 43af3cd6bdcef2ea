/*
 * lock.h - one server per database file: an exclusive flock(2) on "<db>.lock".
 *
 * `serve` takes the lock for its whole life and writes its pid into the file; a second
 * `serve` on the same file fails at once, naming the holder's pid. Commands that write
 * outside the server (`migrate`, `restore`) take the same lock for their duration, so
 * they refuse while a server runs and a server refuses while they run. Read-only commands
 * (`check`, `backup`) never take it. The lock file is not the database: opening and
 * closing it has no effect on SQLite's own POSIX locks. The kernel drops the lock when
 * the process dies, so a crash never leaves a stale lock behind.
 */
#ifndef ONEFILE_DB_LOCK_H
#define ONEFILE_DB_LOCK_H

#include <stddef.h>

struct lock {
    int fd;     /* -1 when not held */
    char *path; /* "<db>.lock" */
};

/* Takes the lock for db_path. 0 when held; -1 with err filled ("database X is in use by
   onefile (pid 1234)") when another process holds it or the file cannot be created.
   `who` ("serve", "migrate") is written into the lock file beside the pid. */
int lock_acquire(struct lock *l, const char *db_path, const char *who, char *err, size_t errlen);
/* Releases the lock (and leaves the file: removing it would race a new holder). */
void lock_release(struct lock *l);

#endif
