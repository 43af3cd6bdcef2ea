/*
 * restore.h - fetching a backup, proving it, and putting it in place; restore drills.
 *
 *   1. resolve   SOURCE: "latest" (the newest backup at the URL), an object name under
 *                ONEFILE_BACKUP_URL (or --from), a full file:// or s3:// URL, or a local
 *                file path
 *   2. lock      restoring over a database takes its single-instance lock (db/lock.h): it
 *                refuses while a server runs on it; another path needs no server stopped
 *   3. fetch     streamed: SHA-256 of the stored bytes -> decrypt -> decompress -> a
 *                temporary file "<target>.restore-XXXXXX" beside the target
 *   4. verify    the SHA-256 and size against the object's metadata, integrity_check,
 *                foreign_key_check, and a schema not newer than this binary's migrations
 *   5. place     the old file and its -wal/-shm are kept aside as <target>.before-restore
 *                (and -wal/-shm beside it, so that copy still opens with its last
 *                commits), then the new file is renamed over the target and the directory
 *                synced
 *
 * Any failure before step 5 leaves the target, its -wal and -shm untouched and removes
 * the temporary file. A drill (verify_only) runs steps 1, 3 and 4 into a temporary file
 * beside the target and deletes it: it proves a backup can be restored without touching
 * anything.
 *
 * Threads: the calling thread; opens its own connections.
 */
#ifndef ONEFILE_REMOTE_RESTORE_H
#define ONEFILE_REMOTE_RESTORE_H

#include <stddef.h>

#include "core/config.h"
#include "remote/stream.h"

struct app;

#define RESTORE_EBUSY (-2)  /* a server (or another restore/migrate) holds the lock */
#define RESTORE_EEXIST (-3) /* the target (or its .before-restore) exists: --force needed */

struct restore_options {
    const char *source;           /* see above */
    const char *from_url;         /* NULL: ONEFILE_BACKUP_URL */
    const char *to;               /* NULL: ONEFILE_DB */
    int force;                    /* replace an existing target and an existing .before-restore */
    int verify_only;              /* a drill: fetch and verify into a temporary file, delete it */
    stream_progress_fn *progress; /* stored bytes fetched of their size; may be NULL */
    void *progress_ctx;
};

struct restore_result {
    char name[128];     /* the backup restored */
    char url[1024];     /* its URL */
    char sha256[65];    /* of the stored bytes (checked against the metadata) */
    int sha256_checked; /* 0 when the object had no recorded sha256 */
    long long size;     /* stored bytes fetched */
    long long db_size;  /* bytes of the restored database */
    long long schema_version;
    double duration_s;
    int replaced;     /* an existing target was kept aside */
    char aside[1024]; /* its new name */
    char path[1024];  /* where the database is now (or was verified, for a drill) */
};

/* Runs the steps above. 0 with *out filled; -1, RESTORE_EBUSY or RESTORE_EEXIST with err
   filled (one line naming the cause: wrong key, truncated, sha256 mismatch, integrity,
   newer schema...). */
int restore_run(const struct config *cfg, const struct restore_options *o,
                struct restore_result *out, char *err, size_t errlen);

/* The scheduled restore drill: the latest backup at ONEFILE_BACKUP_URL fetched into a
   temporary file beside the database, verified as a restore would, removed. Counted in
   /metrics (backup_write_metrics). 0, or -1; msg gets one line either way. */
int restore_drill_job(struct app *app, char *msg, size_t msglen);
#endif
