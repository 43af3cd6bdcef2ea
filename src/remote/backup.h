/*
 * backup.h - online backups of the one database file, their retention, the scheduled
 * backup job and what /metrics, /readyz and the dashboard show about them.
 *
 * A backup, while a server may keep writing (no lock is taken; the live file is only read,
 * through SQLite):
 *
 *   1. snapshot   db/snapshot.c copies the live file into "<db>.backup-XXXXXX" beside it,
 *                 through the online backup API in ONE step (one read transaction: it
 *                 cannot restart under a steady write load and never blocks the writer)
 *   2. check      PRAGMA quick_check on the copy; its schema version is read
 *   3. ship       the copy is read once and pushed through compress -> encrypt (when
 *                 ONEFILE_BACKUP_KEY is set) -> SHA-256 -> destination (remote/remote.h);
 *                 memory stays bounded whatever the size
 *   4. verify     the stored object's size (HEAD / stat) and SHA-256 metadata must match
 *   5. retain     only then, backups beyond the newest `keep` are deleted
 *
 * Object names: onefile-YYYYMMDDTHHMMSSZ[-N].sqlite[.gz|.zst][.enc], UTC, N when several
 * backups fall in the same second. They sort by time; only names of that form are ever
 * listed as backups or deleted by retention.
 *
 * Threads: backup_run / backup_job run on the calling thread (a command's main thread or
 * the scheduler's) and open their own connections; backup_write_metrics
 * may run on HTTP threads.
 */
#ifndef ONEFILE_REMOTE_BACKUP_H
#define ONEFILE_REMOTE_BACKUP_H

#include <jansson.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "core/config.h"
#include "remote/compress.h"
#include "remote/remote.h"
#include "remote/stream.h"

struct app;

struct backup_result {
    char name[128];        /* stored object name */
    char url[1024];        /* the object's full URL */
    char sha256[65];       /* of the stored bytes */
    long long size;        /* stored bytes */
    long long source_size; /* bytes of the snapshot */
    double ratio;          /* size / source_size */
    double duration_s;     /* whole run */
    double snapshot_s;     /* the consistent copy alone */
    long long schema_version;
    char compression[8];
    int encrypted;
    int deleted;               /* older backups removed by retention */
    char retention_error[512]; /* "" or why retention failed (the backup itself is stored) */
    char started_at[24], finished_at[24]; /* ISO 8601 UTC */
};

struct backup_options {
    const char *to_url;           /* NULL: ONEFILE_BACKUP_URL */
    const char *compress;         /* "gzip", "zstd", "none"; NULL: ONEFILE_BACKUP_COMPRESS */
    int level;                    /* -1: ONEFILE_BACKUP_LEVEL; 0: the codec's default */
    long keep;                    /* 0: ONEFILE_BACKUP_KEEP */
    stream_progress_fn *progress; /* snapshot bytes read of its size; may be NULL */
    void *progress_ctx;
};

/* A parsed object name. */
struct backup_name {
    char stamp[17]; /* YYYYMMDDTHHMMSSZ */
    int seq;        /* 0, or N of "-N" */
    time_t time;
    enum compress_kind compression;
    int encrypted;
};

/* Takes a backup of cfg->db to to_url (NULL: ONEFILE_BACKUP_URL) with `compress` (NULL:
   ONEFILE_BACKUP_COMPRESS), then applies retention. 0 with *out filled (a retention
   failure is not a backup failure: out->retention_error says it, logged), or -1 with err
   filled (nothing is left stored, and the snapshot is removed). */
int backup_run(const struct config *cfg, const char *to_url, const char *compress,
               struct backup_result *out, char *err, size_t errlen);
/* The same with every option. */
int backup_run_with(const struct config *cfg, const struct backup_options *o,
                    struct backup_result *out, char *err, size_t errlen);

/* Parses a backup object name; 0, or -1 when it is not one. */
int backup_name_parse(const char *name, struct backup_name *out);
/* The backups at r, newest first (names that parse only). *out malloc'ed. 0 or -1. */
int backup_list(struct remote *r, struct remote_object **out, size_t *n, char *err, size_t errlen);
/* Deletes every backup at r but the newest `keep`, never `keep_name` (the one just
   stored). *deleted counts them. 0, or -1 with err filled (some may be deleted). */
int backup_prune(struct remote *r, long keep, const char *keep_name, int *deleted, char *err,
                 size_t errlen);

/* Lowers the calling thread's CPU priority (nice 10) and I/O priority (best-effort, lowest
   level), so a backup yields to the server's requests and writer. The backup command
   calls it; backup_job runs the backup on a thread of its own that does. */
void backup_lower_priority(void);

/* The scheduled job: a backup to ONEFILE_BACKUP_URL, recorded in the `backups` table
   through app->writer (status ok or error). 0, or -1; msg gets one line either way. */
int backup_job(struct app *app, char *msg, size_t msglen);

/* Prometheus families from the `backups` table (read through app->readers) and the
   restore drills of this process:
     onefile_backup_last_success_timestamp_seconds, onefile_backup_last_success_age_seconds,
     onefile_backup_last_success_bytes (no sample before a first success),
     onefile_backups_total{status="ok"|"error"},
     onefile_restore_drills_total{status="ok"|"error"},
     onefile_restore_drill_last_success_timestamp_seconds */
void backup_write_metrics(struct app *app, FILE *out);

/* Internal to remote/: restore.c reports its drills here for the metrics. */
void backup_note_drill(int ok);
#endif
