/*
 * snapshot.c - consistent copies through the online backup API; see snapshot.h.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "db/snapshot.h"

static int copy(const char *src, const char *dst, int scratch, char *err, size_t errlen)
{
    sqlite3 *from = NULL, *to = NULL;
    sqlite3_backup *b;
    struct stat st;
    int rc = -1;

    if (stat(src, &st) != 0) {
        snprintf(err, errlen, "%s: %s", src, strerror(errno));
        return -1;
    }
    if (sqlite3_open_v2(src, &from, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", src, sqlite3_errmsg(from));
        goto out;
    }
    sqlite3_busy_timeout(from, 5000);
    if (sqlite3_open_v2(dst, &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                      SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot create %s: %s", dst, sqlite3_errmsg(to));
        goto out;
    }
    if (scratch && sqlite3_exec(to, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF", NULL,
                                NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot set up %s: %s", dst, sqlite3_errmsg(to));
        goto out;
    }
    if (!(b = sqlite3_backup_init(to, "main", from, "main"))) {
        snprintf(err, errlen, "cannot copy %s: %s", src, sqlite3_errmsg(to));
        goto out;
    }
    int step = sqlite3_backup_step(b, -1);
    int fin = sqlite3_backup_finish(b);
    if (step != SQLITE_DONE || fin != SQLITE_OK) {
        snprintf(err, errlen, "copying %s: %s", src,
                 step != SQLITE_DONE ? sqlite3_errstr(step) : sqlite3_errmsg(to));
        goto out;
    }
    rc = 0;
out:
    sqlite3_close(from);
    if (to && sqlite3_close(to) != SQLITE_OK && rc == 0) {
        snprintf(err, errlen, "closing %s failed", dst);
        rc = -1;
    }
    return rc;
}

int snapshot_copy(const char *src, const char *dst, char *err, size_t errlen)
{
    return copy(src, dst, 0, err, errlen);
}

int snapshot_copy_scratch(const char *src, const char *dst, char *err, size_t errlen)
{
    return copy(src, dst, 1, err, errlen);
}
