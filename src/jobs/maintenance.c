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
 * takes the next batch - runs upkeep_checkpoint() (db/upkeep.h) there, outside any transaction,
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
#include "db/readers.h"
#include "db/upkeep.h"
#include "db/writer.h"
#include "http/app.h"
#include "store/post_views.h"
#include "store/users.h"

#define ROLLUP_DAYS 90
#define ROLLUP_MAX_MONTHS 240 /* per run: a first run on an old file still ends quickly */

/* ---- checkpoint ---- */

struct ckpt {
    enum upkeep_checkpoint_mode mode;
    long busy_timeout_ms; /* the writer connection's budget, put back afterwards */
    struct db_conn *conn; /* the writer's connection, noted by ckpt_note */
    int rc;
    struct upkeep_checkpoint counts;
    int done;
    char err[256];
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static int ckpt_note(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    ((struct ckpt *)arg)->conn = c;
    return 0;
}

/* Writer thread, after the batch committed: no transaction is open. */
static void ckpt_run(void *ctx, int rc, const char *err)
{
    struct ckpt *c = ctx;
    if (rc != 0 || !c->conn) {
        c->rc = DB_ERR;
        snprintf(c->err, sizeof(c->err), "the writer refused the request: %s", err ? err : "");
    } else {
        c->rc = upkeep_checkpoint(c->conn, c->mode, c->busy_timeout_ms, &c->counts, c->err,
                                  sizeof(c->err));
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
    c.mode = quiet ? UPKEEP_TRUNCATE : UPKEEP_PASSIVE;
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
    if (c.rc == 0) {
        snprintf(msg, msglen, "%s: %d WAL frames, %d copied into the file", mode,
                 c.counts.wal_frames, c.counts.copied);
    } else if (c.rc == DB_EBUSY) { /* readers kept it from finishing: normal */
        snprintf(msg, msglen, "%s: readers held the WAL; %d of %d frames copied", mode,
                 c.counts.copied > 0 ? c.counts.copied : 0,
                 c.counts.wal_frames > 0 ? c.counts.wal_frames : 0);
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

int maintenance_rollup_views(struct app *app, char *msg, size_t msglen)
{
    char cutoff[16], err[256], first[8] = "", last[8] = "";
    int months = 0, days = 0, rows = 0;
    maintenance_rollup_cutoff(time(NULL), cutoff, sizeof(cutoff));
    struct post_views_rollup r = {cutoff, "", 0, 0};
    while (months < ROLLUP_MAX_MONTHS && !atomic_load(&app->stopping)) {
        if (writer_submit(app->writer, "rollup-views", post_views_rollup_month, &r, err,
                          sizeof(err)) != 0) {
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
    struct db_conn *c = readers_acquire(app->readers);
    if (db_engine(c) == DB_ENGINE_POSTGRES) {
        readers_release(app->readers, c);
        snprintf(msg, msglen, "PostgreSQL: pages are checked by the server (data checksums)");
        return 1;
    }
    int ret = upkeep_quick_check(c, msg, msglen);
    readers_release(app->readers, c);
    return ret;
}
