/*
 * queue.c - the job queue's tables (jobs, failed_jobs); the contract and a job's life are in
 * queue.h. Written against the statement interface (db/driver.h).
 *
 * DESIGN
 *
 * Every state change is one writer function, so it commits with the writer's batch and
 * never competes for the write lock. A claim is a single UPDATE ... RETURNING over the
 * partial index jobs_ready (unreserved jobs by available_at): the rows it returns are
 * reserved by the same statement that found them, so two workers can never take the same
 * job. Completion, failure and release name the job AND the claim's token (reserved_by):
 * an outcome arriving for a reservation that was released meanwhile changes nothing
 * (QUEUE_LOST) instead of deleting another worker's job.
 *
 * Moving to failed_jobs copies the row and deletes it in the same transaction, and a retry
 * does the reverse, so a job is always in exactly one of the two tables.
 *
 * Threads: whichever thread owns the connection it is given.
 */
#include "store/queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "store/store.h"

#define SWEEP_MAX 1000

static int64_t now_or(int64_t now_ms)
{
    return now_ms ? now_ms : clock_wall_ms();
}

char *queue_time_format(int64_t ms, char *out, size_t outlen)
{
    return clock_iso8601_ms(ms, out, outlen);
}

int queue_time_parse(const char *s, int64_t *ms)
{
    struct tm tm;
    int frac = 0, n = 0, y, mo, d, h, mi, sec;
    memset(&tm, 0, sizeof(tm));
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
        n != 19)
        return -1;
    const char *p = s + 19;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 3)
                frac = frac * 10 + (*p - '0');
        if (digits == 0)
            return -1;
        for (; digits < 3; digits++)
            frac *= 10;
    }
    if (strcmp(p, "Z") != 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        sec > 60)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    *ms = (int64_t)timegm(&tm) * 1000 + frac;
    return 0;
}

int64_t queue_backoff_ms(int attempts, int64_t base_ms, int64_t max_ms, double jitter)
{
    int shift = attempts > 1 ? attempts - 1 : 0;
    int64_t d = base_ms;
    while (shift-- > 0 && d < max_ms)
        d *= 2;
    if (d > max_ms)
        d = max_ms;
    if (jitter < -1)
        jitter = -1;
    if (jitter > 1)
        jitter = 1;
    d += (int64_t)((double)d * 0.2 * jitter);
    return d > 0 ? d : 0;
}

void queue_job_release(struct queue_job *job)
{
    free(job->type);
    free(job->payload);
    free(job->key);
    job->type = job->payload = job->key = NULL;
}

/* ---- small helpers: prepared statements from the connection's cache ---- */

static struct db_stmt *prep(struct db_conn *c, const char *sql, char *err, size_t errlen)
{
    struct db_stmt *st = db_prepare(c, sql);
    if (!st)
        snprintf(err, errlen, "prepare: %s", db_errmsg(c));
    return st;
}

static struct db_stmt *prep_insert(struct db_conn *c, const char *sql, char *err, size_t errlen)
{
    struct db_stmt *st = db_prepare_insert(c, sql);
    if (!st)
        snprintf(err, errlen, "prepare: %s", db_errmsg(c));
    return st;
}

/* Binds the time ms as text: t must outlive the step (bindings are by reference). */
static void bind_time(struct db_stmt *st, int i, int64_t ms, char t[32])
{
    db_bind_text(st, i, queue_time_format(ms, t, 32));
}

/* ---- writer functions ---- */

int queue_enqueue(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    struct queue_new *n = arg;
    struct db_stmt *st;
    char avail[32], now[32];
    n->existed = 0;
    if (n->key) {
        if (!(st = prep(c, "SELECT id FROM jobs WHERE idempotency_key = ?1", err, errlen)))
            return -1;
        db_bind_text(st, 1, n->key);
        int rc = db_step(st);
        if (rc == DB_ROW) {
            n->id = db_column_int64(st, 0);
            n->existed = 1;
        }
        db_reset(st);
        if (rc < 0) {
            snprintf(err, errlen, "%s", db_errmsg(c));
            return -1;
        }
        if (n->existed)
            return 0;
    }
    if (!(st = prep_insert(c,
                           "INSERT INTO jobs (type, payload, max_attempts, available_at, "
                           "idempotency_key, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                           err, errlen)))
        return -1;
    store_time(0, now);
    db_bind_text(st, 1, n->type);
    db_bind_text(st, 2, n->payload);
    db_bind_int64(st, 3, n->max_attempts > 0 ? n->max_attempts : 1);
    bind_time(st, 4, now_or(n->now_ms) + (n->delay_ms > 0 ? n->delay_ms : 0), avail);
    db_bind_text(st, 5, n->key);
    db_bind_text(st, 6, now);
    if (db_run(st, err, errlen) < 0)
        return -1;
    n->id = db_insert_id(st);
    return 0;
}

int queue_claim(struct db_conn *conn, void *arg, char *err, size_t errlen)
{
    struct queue_claim *c = arg;
    char now[32];
    c->n = 0;
    struct db_stmt *st =
        prep(conn,
             "UPDATE jobs SET reserved_at = ?1, reserved_by = ?2, attempts = attempts + 1 "
             "WHERE id IN (SELECT id FROM jobs WHERE reserved_at IS NULL AND available_at <= ?1 "
             "ORDER BY available_at, id LIMIT ?3) "
             "RETURNING id, type, payload, idempotency_key, attempts, max_attempts",
             err, errlen);
    if (!st)
        return -1;
    bind_time(st, 1, now_or(c->now_ms), now);
    db_bind_text(st, 2, c->token);
    db_bind_int64(st, 3, (int64_t)c->max);
    int rc;
    while ((rc = db_step(st)) == DB_ROW && c->n < c->max) {
        struct queue_job *j = &c->jobs[c->n++];
        memset(j, 0, sizeof(*j));
        j->id = db_column_int64(st, 0);
        j->type = store_column_dup(st, 1);
        j->payload = store_column_dup(st, 2);
        j->key = store_column_dup(st, 3);
        j->attempts = (int)db_column_int64(st, 4);
        j->max_attempts = (int)db_column_int64(st, 5);
        snprintf(j->token, sizeof(j->token), "%s", c->token);
    }
    if (rc < 0)
        snprintf(err, errlen, "%s", db_errmsg(conn));
    db_reset(st);
    if (rc < 0) {
        for (size_t i = 0; i < c->n; i++)
            queue_job_release(&c->jobs[i]);
        c->n = 0;
        return -1;
    }
    return 0;
}

/* Looks the reservation up: 1 found (attempts, max filled), 0 not ours, -1. */
static int reservation(struct db_conn *c, const struct queue_outcome *o, int *attempts, int *max,
                       char *err, size_t errlen)
{
    struct db_stmt *st = prep(c,
                              "SELECT attempts, max_attempts FROM jobs "
                              "WHERE id = ?1 AND reserved_by = ?2",
                              err, errlen);
    if (!st)
        return -1;
    db_bind_int64(st, 1, o->id);
    db_bind_text(st, 2, o->token);
    int rc = db_step(st);
    if (rc == DB_ROW) {
        *attempts = (int)db_column_int64(st, 0);
        *max = (int)db_column_int64(st, 1);
    }
    if (rc < 0)
        snprintf(err, errlen, "%s", db_errmsg(c));
    db_reset(st);
    if (rc < 0)
        return -1;
    return rc == DB_ROW;
}

/* Moves job id to failed_jobs with error as its last_error; *failed_id is the new row. */
static int move_to_failed(struct db_conn *c, int64_t id, const char *error, int64_t *failed_id,
                          char *err, size_t errlen)
{
    char now[32];
    struct db_stmt *st = prep_insert(c,
                                     "INSERT INTO failed_jobs (type, payload, attempts, "
                                     "last_error, idempotency_key, created_at, failed_at) "
                                     "SELECT type, payload, attempts, ?2, idempotency_key, "
                                     "created_at, ?3 FROM jobs WHERE id = ?1",
                                     err, errlen);
    if (!st)
        return -1;
    store_time(0, now);
    db_bind_int64(st, 1, id);
    db_bind_text(st, 2, error);
    db_bind_text(st, 3, now);
    if (db_run(st, err, errlen) < 0)
        return -1;
    *failed_id = db_insert_id(st);
    return store_exec_id(c, "DELETE FROM jobs WHERE id = ?1", id, err, errlen) < 0 ? -1 : 0;
}

int queue_complete(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    struct queue_outcome *o = arg;
    struct db_stmt *st =
        prep(c, "DELETE FROM jobs WHERE id = ?1 AND reserved_by = ?2", err, errlen);
    if (!st)
        return -1;
    db_bind_int64(st, 1, o->id);
    db_bind_text(st, 2, o->token);
    if (db_run(st, err, errlen) < 0)
        return -1;
    o->result = db_changes(c) ? QUEUE_DONE : QUEUE_LOST;
    return 0;
}

int queue_fail(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    struct queue_outcome *o = arg;
    int attempts = 0, max = 0;
    char next[32];
    const char *error = o->error ? o->error : "failed";
    int found = reservation(c, o, &attempts, &max, err, errlen);
    if (found < 0)
        return -1;
    if (!found) {
        o->result = QUEUE_LOST;
        return 0;
    }
    if (o->permanent || attempts >= max) {
        if (move_to_failed(c, o->id, error, &o->failed_id, err, errlen) < 0)
            return -1;
        o->result = QUEUE_FAILED;
        return 0;
    }
    o->next_ms =
        now_or(o->now_ms) + queue_backoff_ms(attempts, o->backoff_ms, o->backoff_max_ms, o->jitter);
    struct db_stmt *st = prep(c,
                              "UPDATE jobs SET reserved_at = NULL, reserved_by = NULL, "
                              "last_error = ?2, available_at = ?3 WHERE id = ?1",
                              err, errlen);
    if (!st)
        return -1;
    db_bind_int64(st, 1, o->id);
    db_bind_text(st, 2, error);
    bind_time(st, 3, o->next_ms, next);
    if (db_run(st, err, errlen) < 0)
        return -1;
    o->result = QUEUE_RETRY;
    return 0;
}

int queue_release(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    struct queue_outcome *o = arg;
    struct db_stmt *st = prep(c,
                              "UPDATE jobs SET reserved_at = NULL, reserved_by = NULL, "
                              "attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END "
                              "WHERE id = ?1 AND reserved_by = ?2",
                              err, errlen);
    if (!st)
        return -1;
    db_bind_int64(st, 1, o->id);
    db_bind_text(st, 2, o->token);
    if (db_run(st, err, errlen) < 0)
        return -1;
    o->result = db_changes(c) ? QUEUE_DONE : QUEUE_LOST;
    return 0;
}

struct stale {
    int64_t id;
    int attempts, max;
    char *by, *at;
};

int queue_release_stale(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    struct queue_sweep *s = arg;
    struct stale *rows = NULL;
    size_t n = 0;
    int ret = -1, rc;
    char cutoff[32];
    s->released = s->failed = 0;
    struct db_stmt *st = prep(c,
                              "SELECT id, attempts, max_attempts, reserved_by, reserved_at "
                              "FROM jobs WHERE reserved_at IS NOT NULL AND reserved_at <= ?1 "
                              "ORDER BY id LIMIT ?2",
                              err, errlen);
    if (!st)
        goto out;
    bind_time(st, 1, now_or(s->now_ms) - s->older_than_ms, cutoff);
    db_bind_int64(st, 2, SWEEP_MAX);
    rows = xcalloc(SWEEP_MAX, sizeof(*rows));
    while ((rc = db_step(st)) == DB_ROW) {
        const char *by = db_column_text(st, 3);
        int keep = 0;
        for (size_t k = 0; k < s->nkeep && by; k++)
            keep |= strcmp(by, s->keep[k]) == 0;
        if (keep)
            continue;
        rows[n].id = db_column_int64(st, 0);
        rows[n].attempts = (int)db_column_int64(st, 1);
        rows[n].max = (int)db_column_int64(st, 2);
        rows[n].by = store_column_dup(st, 3);
        rows[n].at = store_column_dup(st, 4);
        n++;
    }
    if (rc < 0)
        snprintf(err, errlen, "%s", db_errmsg(c));
    db_reset(st);
    if (rc < 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        char msg[256];
        snprintf(msg, sizeof(msg),
                 "abandoned: reserved by %s at %s, which never finished it "
                 "(attempt %d of %d)",
                 rows[i].by ? rows[i].by : "?", rows[i].at ? rows[i].at : "?", rows[i].attempts,
                 rows[i].max);
        if (rows[i].attempts >= rows[i].max) {
            int64_t failed_id;
            if (move_to_failed(c, rows[i].id, msg, &failed_id, err, errlen) < 0)
                goto out;
            s->failed++;
            continue;
        }
        if (!(st = prep(c,
                        "UPDATE jobs SET reserved_at = NULL, reserved_by = NULL, "
                        "last_error = ?2 WHERE id = ?1",
                        err, errlen)))
            goto out;
        db_bind_int64(st, 1, rows[i].id);
        db_bind_text(st, 2, msg);
        if (db_run(st, err, errlen) < 0)
            goto out;
        s->released++;
    }
    ret = 0;
out:
    for (size_t i = 0; i < n; i++) {
        free(rows[i].by);
        free(rows[i].at);
    }
    free(rows);
    return ret;
}

int queue_retry(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    struct queue_retry *r = arg;
    int ret = -1, rc;
    char *key = NULL, avail[32];
    r->found = r->existed = 0;
    r->job_id = 0;
    struct db_stmt *st =
        prep(c, "SELECT idempotency_key FROM failed_jobs WHERE id = ?1", err, errlen);
    if (!st)
        goto out;
    db_bind_int64(st, 1, r->failed_id);
    rc = db_step(st);
    if (rc == DB_ROW) {
        r->found = 1;
        key = store_column_dup(st, 0);
    }
    if (rc < 0)
        snprintf(err, errlen, "%s", db_errmsg(c));
    db_reset(st);
    if (rc < 0)
        goto out;
    if (!r->found) {
        ret = 0;
        goto out;
    }
    if (key) {
        if (!(st = prep(c, "SELECT id FROM jobs WHERE idempotency_key = ?1", err, errlen)))
            goto out;
        db_bind_text(st, 1, key);
        if ((rc = db_step(st)) == DB_ROW) {
            r->existed = 1;
            r->job_id = db_column_int64(st, 0);
        }
        if (rc < 0)
            snprintf(err, errlen, "%s", db_errmsg(c));
        db_reset(st);
        if (rc < 0)
            goto out;
    }
    if (!r->existed) {
        if (!(st = prep_insert(c,
                               "INSERT INTO jobs (type, payload, attempts, max_attempts, "
                               "available_at, last_error, idempotency_key, created_at) "
                               "SELECT type, payload, 0, ?2, ?3, last_error, idempotency_key, "
                               "created_at FROM failed_jobs WHERE id = ?1",
                               err, errlen)))
            goto out;
        db_bind_int64(st, 1, r->failed_id);
        db_bind_int64(st, 2, r->max_attempts > 0 ? r->max_attempts : 1);
        bind_time(st, 3, now_or(r->now_ms), avail);
        if (db_run(st, err, errlen) < 0)
            goto out;
        r->job_id = db_insert_id(st);
    }
    if (store_exec_id(c, "DELETE FROM failed_jobs WHERE id = ?1", r->failed_id, err, errlen) < 0)
        goto out;
    ret = 0;
out:
    free(key);
    return ret;
}

int queue_delete(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    struct queue_delete *d = arg;
    if (store_exec_id(c,
                      d->failed ? "DELETE FROM failed_jobs WHERE id = ?1"
                                : "DELETE FROM jobs WHERE id = ?1 AND reserved_at IS NULL",
                      d->id, err, errlen) < 0)
        return -1;
    d->found = db_changes(c) ? 1 : 0;
    if (!d->found && !d->failed) {
        struct db_stmt *st = prep(c, "SELECT 1 FROM jobs WHERE id = ?1", err, errlen);
        if (!st)
            return -1;
        db_bind_int64(st, 1, d->id);
        int rc = db_step(st);
        if (rc < 0)
            snprintf(err, errlen, "%s", db_errmsg(c));
        db_reset(st);
        if (rc < 0)
            return -1;
        if (rc == DB_ROW)
            d->found = -1; /* reserved: a worker runs it now */
    }
    return 0;
}

/* ---- readers ---- */

int queue_depth(struct db_conn *c, int64_t now_ms, struct queue_depth *d)
{
    char now[32], err[256];
    memset(d, 0, sizeof(*d));
    struct db_stmt *st =
        prep(c,
             "SELECT coalesce(sum(CASE WHEN reserved_at IS NULL AND available_at <= ?1 "
             "THEN 1 ELSE 0 END), 0), "
             "coalesce(sum(CASE WHEN reserved_at IS NULL AND available_at > ?1 "
             "THEN 1 ELSE 0 END), 0), "
             "coalesce(sum(CASE WHEN reserved_at IS NOT NULL THEN 1 ELSE 0 END), 0), "
             "(SELECT count(*) FROM failed_jobs) FROM jobs",
             err, sizeof(err));
    if (!st)
        return -1;
    bind_time(st, 1, now_or(now_ms), now);
    int rc = db_step(st);
    if (rc == DB_ROW) {
        d->ready = db_column_int64(st, 0);
        d->delayed = db_column_int64(st, 1);
        d->reserved = db_column_int64(st, 2);
        d->failed = db_column_int64(st, 3);
    }
    db_reset(st);
    if (rc != DB_ROW)
        return log_err("queue: depth: %s", db_errmsg(c));
    return 0;
}

int queue_next_ready(struct db_conn *c, int64_t *ms)
{
    char err[256];
    struct db_stmt *st =
        prep(c, "SELECT min(available_at) FROM jobs WHERE reserved_at IS NULL", err, sizeof(err));
    if (!st)
        return -1;
    int rc = db_step(st), ret = 1;
    if (rc == DB_ROW && !db_column_is_null(st, 0)) {
        const char *t = db_column_text(st, 0);
        /* a row without milliseconds ("...:05Z", the column default) sorts after every
           "...:05.xxxZ", so the claim sees it ready from the next second on */
        ret = 0;
        if (queue_time_parse(t, ms) < 0)
            *ms = 0; /* not a time: let a claim decide */
        else if (strlen(t) == 20)
            *ms += 1000;
    }
    db_reset(st);
    if (rc != DB_ROW)
        return log_err("queue: next: %s", db_errmsg(c));
    return ret;
}

int queue_list(struct db_conn *c, int64_t now_ms, int limit, json_t **out)
{
    char now[32], err[256];
    struct db_stmt *st = prep(c,
                              "SELECT id, type, payload, attempts, max_attempts, available_at, "
                              "reserved_at, reserved_by, last_error, idempotency_key, "
                              "created_at FROM jobs ORDER BY available_at, id LIMIT ?1",
                              err, sizeof(err));
    if (!st)
        return -1;
    db_bind_int64(st, 1, limit);
    if (store_rows_json(c, st, "queue: list", out) < 0)
        return -1;
    queue_time_format(now_or(now_ms), now, sizeof(now));
    size_t i;
    json_t *o;
    json_array_foreach(*out, i, o)
    {
        const char *reserved = json_string_value(json_object_get(o, "reserved_at"));
        const char *avail = json_string_value(json_object_get(o, "available_at"));
        json_object_set_new(o, "state",
                            json_string(reserved                          ? "reserved"
                                        : avail && strcmp(avail, now) > 0 ? "delayed"
                                                                          : "ready"));
    }
    return 0;
}

int queue_failed_list(struct db_conn *c, int limit, json_t **out)
{
    char err[256];
    struct db_stmt *st = prep(c,
                              "SELECT id, type, payload, attempts, last_error, "
                              "idempotency_key, created_at, failed_at FROM failed_jobs "
                              "ORDER BY id DESC LIMIT ?1",
                              err, sizeof(err));
    if (!st)
        return -1;
    db_bind_int64(st, 1, limit);
    return store_rows_json(c, st, "queue: list", out);
}
