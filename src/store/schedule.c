/*
 * schedule.c - schedule_runs; see schedule.h.
 */
#include "store/schedule.h"

#include <stdio.h>

#include "store/store.h"

int schedule_runs_insert(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    struct schedule_run *r = arg;
    struct db_stmt *st = db_prepare_insert(c, "INSERT INTO schedule_runs (job, started_at, "
                                              "finished_at, outcome, message) "
                                              "VALUES (?1, ?2, ?3, ?4, ?5)");
    if (!st) {
        snprintf(err, errlen, "prepare: %s", db_errmsg(c));
        return -1;
    }
    db_bind_text(st, 1, r->job);
    db_bind_text(st, 2, r->started);
    db_bind_text(st, 3, r->finished[0] ? r->finished : NULL);
    db_bind_text(st, 4, r->outcome);
    db_bind_text(st, 5, r->message);
    if (db_run(st, err, errlen) < 0)
        return -1;
    r->id = db_insert_id(st);
    return 0;
}

int schedule_runs_finish(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    struct schedule_run *r = arg;
    struct db_stmt *st = db_prepare(c, "UPDATE schedule_runs SET finished_at = ?2, "
                                       "outcome = ?3, message = ?4 WHERE id = ?1");
    if (!st) {
        snprintf(err, errlen, "prepare: %s", db_errmsg(c));
        return -1;
    }
    db_bind_int64(st, 1, r->id);
    db_bind_text(st, 2, r->finished);
    db_bind_text(st, 3, r->outcome);
    db_bind_text(st, 4, r->message);
    if (db_run(st, err, errlen) < 0)
        return -1;
    st = db_prepare(c, "DELETE FROM schedule_runs WHERE job = ?1 AND id <= (SELECT id "
                       "FROM schedule_runs WHERE job = ?1 ORDER BY id DESC LIMIT 1 "
                       "OFFSET ?2)");
    if (!st) {
        snprintf(err, errlen, "prepare: %s", db_errmsg(c));
        return -1;
    }
    db_bind_text(st, 1, r->job);
    db_bind_int64(st, 2, r->keep);
    return db_run(st, err, errlen) < 0 ? -1 : 0;
}

int schedule_runs_interrupt(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    char now[32];
    struct db_stmt *st = db_prepare(c, "UPDATE schedule_runs SET outcome = 'error', "
                                       "finished_at = ?1, message = 'interrupted: the "
                                       "server stopped during the run' "
                                       "WHERE outcome = 'running'");
    if (!st) {
        snprintf(err, errlen, "prepare: %s", db_errmsg(c));
        return -1;
    }
    store_time(0, now);
    db_bind_text(st, 1, now);
    if (db_run(st, err, errlen) < 0)
        return -1;
    *(int *)arg = (int)db_changes(c);
    return 0;
}

int schedule_runs_last(struct db_conn *c, const char *job, json_t **out)
{
    *out = NULL;
    struct db_stmt *st = db_prepare(c, "SELECT started_at, finished_at, outcome, message "
                                       "FROM schedule_runs WHERE job = ?1 "
                                       "ORDER BY id DESC LIMIT 1");
    if (!st)
        return -1;
    db_bind_text(st, 1, job);
    return store_row_json(c, st, "schedule: last run", out);
}

int schedule_runs_last_finished(struct db_conn *c, const char *job, char *out, size_t outlen)
{
    struct db_stmt *st = db_prepare(c, "SELECT finished_at, outcome FROM schedule_runs "
                                       "WHERE job = ?1 AND finished_at IS NOT NULL "
                                       "ORDER BY id DESC LIMIT 1");
    if (!st)
        return -1;
    db_bind_text(st, 1, job);
    int rc = db_step(st);
    if (rc == DB_ROW && db_column_text(st, 1))
        snprintf(out, outlen, "%s (%s)", db_column_text(st, 0), db_column_text(st, 1));
    db_reset(st);
    return rc < 0 ? -1 : 0;
}
