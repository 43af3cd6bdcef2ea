/*
 * maintenance.c - built-in scheduled jobs; what each does is in maintenance.h.
 *
 * DESIGN
 *
 * All writes go through the writer, as every write does. The checkpoint is the one subtle
 * case: SQLite refuses a checkpoint inside a transaction ("database table is locked"), and a
 * write function always runs inside the writer's. So the job submits an empty write with
 * writer_submit_cb(): its write function only notes the writer's connection, and its done
 * callback - which the writer calls on its own thread, after the batch's COMMIT, before it
 * takes the next batch - runs sqlite3_wal_checkpoint_v2() there, outside any transaction,
 * exactly as the writer's own checkpoints do (TRUNCATE without waiting for readers: the
 * busy handler is removed for the call and put back). The job thread waits for the callback.
 * Nothing of writer.c changes; writer.h's contract for the callback (writer thread, quick,
 * never waits on the writer) holds: a checkpoint never waits.
 *
 * rollup-views works a month at a time, oldest first, each month one short write, and
 * stops when the server is stopping; a month is either all daily rows or one monthly row.
 *
 * Threads: a scheduler run thread per job; the checkpoint callback on the writer thread.
 */
#include "jobs/maintenance.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/mem.h"
#include "db/db.h"
#include "db/readers.h"
#include "db/writer.h"
#include "http/app.h"
#include "store/users.h"
#include "db/sqlite.h"

#define ROLLUP_DAYS 90
#define ROLLUP_MAX_MONTHS 240 /* per run: a first run on an old file still ends quickly */

/* ---- checkpoint ---- */

struct ckpt {
    int mode;             /* SQLITE_CHECKPOINT_PASSIVE or _TRUNCATE */
    long busy_timeout_ms; /* the writer connection's budget, put back afterwards */
    sqlite3 *db;          /* the writer's connection, noted by ckpt_note */
    int rc, wal_frames, copied, done;
    char err[256];
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static int ckpt_note(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    sqlite3 *db = sqlite_conn_handle(c);
    (void)err, (void)errlen;
    ((struct ckpt *)arg)->db = db;
    return 0;
}

/* Writer thread, after the batch committed: no transaction is open. */
static void ckpt_run(void *ctx, int rc, const char *err)
{
    struct ckpt *c = ctx;
    if (rc != 0 || !c->db) {
        c->rc = SQLITE_ERROR;
        snprintf(c->err, sizeof(c->err), "the writer refused the request: %s", err ? err : "");
    } else if (!sqlite3_get_autocommit(c->db)) {
        c->rc = SQLITE_ERROR;
        snprintf(c->err, sizeof(c->err), "a transaction is open on the writer's connection");
    } else {
        if (c->mode == SQLITE_CHECKPOINT_TRUNCATE)
            sqlite3_busy_handler(c->db, NULL, NULL); /* never wait for readers */
        c->rc = sqlite3_wal_checkpoint_v2(c->db, NULL, c->mode, &c->wal_frames, &c->copied);
        if (c->rc != SQLITE_OK)
            snprintf(c->err, sizeof(c->err), "%s", sqlite3_errmsg(c->db));
        if (c->mode == SQLITE_CHECKPOINT_TRUNCATE)
            db_busy_handler_install(c->db, c->busy_timeout_ms);
    }
    pthread_mutex_lock(&c->mu);
    c->done = 1;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

int maintenance_checkpoint(struct app *app, char *msg, size_t msglen)
{
    struct writer_stats *st = xmalloc(sizeof(*st));
    writer_get_stats(app->writer, st);
    int quiet = st->queue_depth == 0;
    free(st);
    struct ckpt c;
    memset(&c, 0, sizeof(c));
    c.mode = quiet ? SQLITE_CHECKPOINT_TRUNCATE : SQLITE_CHECKPOINT_PASSIVE;
    c.busy_timeout_ms = app->cfg->busy_timeout_ms;
    pthread_mutex_init(&c.mu, NULL);
    pthread_cond_init(&c.cv, NULL);
    int ret = -1;
    if (writer_submit_cb(app->writer, "checkpoint", ckpt_note, &c, 0, ckpt_run, &c) != 0) {
        snprintf(msg, msglen, "the writer is stopping");
        goto out;
    }
    pthread_mutex_lock(&c.mu);
    while (!c.done)
        pthread_cond_wait(&c.cv, &c.mu);
    pthread_mutex_unlock(&c.mu);
    const char *mode = quiet ? "truncate" : "passive";
    if (c.rc == SQLITE_OK) {
        snprintf(msg, msglen, "%s: %d WAL frames, %d copied into the file", mode, c.wal_frames,
                 c.copied);
    } else if ((c.rc & 0xff) == SQLITE_BUSY) { /* readers kept it from finishing: normal */
        snprintf(msg, msglen, "%s: readers held the WAL; %d of %d frames copied", mode,
                 c.copied > 0 ? c.copied : 0, c.wal_frames > 0 ? c.wal_frames : 0);
    } else {
        snprintf(msg, msglen, "%s: %s", mode, c.err);
        goto out;
    }
    ret = 0;
out:
    pthread_cond_destroy(&c.cv);
    pthread_mutex_destroy(&c.mu);
    return ret;
}

/* ---- prune-sessions ---- */

static int prune_sessions(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    if (sessions_prune(c, NULL, err, errlen) < 0)
        return -1;
    *(int *)arg = (int)db_changes(c);
    return 0;
}

int maintenance_prune_sessions(struct app *app, char *msg, size_t msglen)
{
    char err[256];
    int deleted = 0;
    if (writer_submit(app->writer, "prune-sessions", prune_sessions, &deleted, err, sizeof(err)) !=
        0) {
        snprintf(msg, msglen, "%s", err);
        return -1;
    }
    snprintf(msg, msglen, "%d expired session%s deleted", deleted, deleted == 1 ? "" : "s");
    return 0;
}

/* ---- rollup-views ---- */

void maintenance_rollup_cutoff(time_t now, char *out, size_t outlen)
{
    char day[32];
    clock_iso8601(now - (time_t)ROLLUP_DAYS * 86400, day, sizeof(day));
    snprintf(out, outlen, "%.7s-01", day);
}

struct rollup {
    const char *cutoff; /* "YYYY-MM-01": daily rows before it are rolled up */
    char month[8];      /* out: the month rolled up, "" when none was left */
    int days, rows;     /* out: daily rows removed, monthly rows written */
};

/* Rolls the oldest month of daily rows before the cutoff into monthly rows. */
static int rollup_month(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    sqlite3 *db = sqlite_conn_handle(c);
    struct rollup *r = arg;
    char from[16], to[16];
    int ret = -1, rc;
    r->month[0] = '\0';
    r->days = r->rows = 0;
    sqlite3_stmt *st = db_prepare_cached(db, "SELECT substr(min(day), 1, 7) FROM post_views "
                                             "WHERE length(day) = 10 AND day < ?1");
    if (!st)
        goto out;
    sqlite3_bind_text(st, 1, r->cutoff, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        snprintf(r->month, sizeof(r->month), "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        goto out;
    if (!r->month[0]) {
        ret = 0;
        goto out;
    }
    snprintf(from, sizeof(from), "%s-01", r->month);
    snprintf(to, sizeof(to), "%s-32", r->month); /* after every day of the month */
    st = db_prepare_cached(db, "INSERT INTO post_views (post_id, day, count) "
                               "SELECT post_id, ?1, sum(count) FROM post_views "
                               "WHERE length(day) = 10 AND day >= ?2 AND day < ?3 "
                               "GROUP BY post_id "
                               "ON CONFLICT (post_id, day) DO UPDATE SET "
                               "count = count + excluded.count");
    if (!st)
        goto out;
    sqlite3_bind_text(st, 1, r->month, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, from, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, to, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        goto out;
    r->rows = sqlite3_changes(db);
    st = db_prepare_cached(db, "DELETE FROM post_views WHERE length(day) = 10 AND day >= ?1 "
                               "AND day < ?2");
    if (!st)
        goto out;
    sqlite3_bind_text(st, 1, from, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, to, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        goto out;
    r->days = sqlite3_changes(db);
    ret = 0;
out:
    if (ret < 0)
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
    return ret;
}

int maintenance_rollup_views(struct app *app, char *msg, size_t msglen)
{
    char cutoff[16], err[256], first[8] = "", last[8] = "";
    int months = 0, days = 0, rows = 0;
    maintenance_rollup_cutoff(time(NULL), cutoff, sizeof(cutoff));
    struct rollup r = {cutoff, "", 0, 0};
    while (months < ROLLUP_MAX_MONTHS && !atomic_load(&app->stopping)) {
        if (writer_submit(app->writer, "rollup-views", rollup_month, &r, err, sizeof(err)) != 0) {
            snprintf(msg, msglen, "%s", err);
            return -1;
        }
        if (!r.month[0])
            break;
        if (!months)
            memcpy(first, r.month, sizeof(first));
        memcpy(last, r.month, sizeof(last));
        months++;
        days += r.days;
        rows += r.rows;
    }
    if (!months) {
        snprintf(msg, msglen, "no daily rows before %s", cutoff);
        return 1;
    }
    snprintf(msg, msglen, "%d daily rows of %d month%s (%s to %s) rolled into %d monthly rows",
             days, months, months == 1 ? "" : "s", first, last, rows);
    return 0;
}

/* ---- quick-check ---- */

int maintenance_quick_check(struct app *app, char *msg, size_t msglen)
{
    struct db_conn *conn = readers_acquire(app->readers);
    sqlite3 *db = sqlite_conn_handle(conn);
    sqlite3_stmt *st = db_prepare_cached(db, "PRAGMA quick_check(20)");
    int ret = -1, rc = SQLITE_ERROR, n = 0;
    size_t used = 0;
    msg[0] = '\0';
    if (!st) {
        snprintf(msg, msglen, "prepare: %s", sqlite3_errmsg(db));
        goto out;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *line = (const char *)sqlite3_column_text(st, 0);
        if (line && strcmp(line, "ok") == 0 && n == 0) {
            ret = 0;
            continue;
        }
        ret = -1;
        if (used < msglen) {
            int w = snprintf(msg + used, msglen - used, "%s%s", n ? "; " : "", line ? line : "?");
            used += w > 0 ? (size_t)w : 0;
        }
        n++;
    }
    if (rc != SQLITE_DONE) {
        snprintf(msg, msglen, "quick_check: %s", sqlite3_errmsg(db));
        ret = -1;
    } else if (ret == 0) {
        snprintf(msg, msglen, "ok");
    }
out:
    readers_release(app->readers, conn);
    return ret;
}
