/*
 * profile.c - the contention profiler's workload; see profile.h.
 *
 * One run: W writer threads, R reader threads, all stopping at the same deadline.
 *   direct      each writer opens its own read-write connection (busy timeout as given)
 *               and runs BEGIN IMMEDIATE; K inserts; COMMIT. BEGIN IMMEDIATE, because in
 *               WAL a deferred transaction that reads and then writes fails at once with
 *               SQLITE_BUSY_SNAPSHOT whatever the busy timeout.
 *   serialized  one writer (db/writer.h) owns the only read-write connection; the W
 *               threads submit their K inserts to it and wait for the acknowledgement.
 * Readers run a point lookup and a small indexed range, each counted as one read.
 * Every thread keeps its own counters and latency samples; they are merged at the end.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "db/db.h"
#include "db/profile.h"
#include "db/writer.h"
#include "db/sqlite.h"

#define MAX_SAMPLES_PER_THREAD (4u << 20)
#define SEED_ROWS 1000

static const char *const insert_sql =
    "INSERT INTO onefile_profile(k, v, at) VALUES (?, "
    "'profile row: some text of the size a small write carries, a title or a counter', ?)";

struct run {
    const char *path;
    enum profile_mode mode;
    const struct profile_params *p;
    struct db_options dbo;
    struct writer *writer;
    int64_t start_us, end_us;
    atomic_int failed_to_start;
};

struct thread {
    struct run *run;
    int index;
    pthread_t tid;
    unsigned seed;
    uint64_t writes, rows, reads, busy, timeouts, other;
    double *lat_ms;
    size_t nlat, caplat;
};

const char *profile_mode_name(enum profile_mode mode)
{
    return mode == PROFILE_DIRECT ? "direct" : "serialized";
}

static void sleep_until(int64_t when_us)
{
    int64_t left = when_us - clock_mono_us();
    if (left <= 0)
        return;
    struct timespec ts = {left / 1000000, (long)(left % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static void sample(struct thread *t, double ms)
{
    if (t->nlat == t->caplat) {
        if (t->caplat >= MAX_SAMPLES_PER_THREAD)
            return;
        t->caplat = t->caplat ? t->caplat * 2 : 4096;
        t->lat_ms = xrealloc(t->lat_ms, t->caplat * sizeof(*t->lat_ms));
    }
    t->lat_ms[t->nlat++] = ms;
}

struct insert_arg {
    struct thread *t;
    int rows;
};

/* K inserts; used inside BEGIN IMMEDIATE (direct) or the writer's savepoint. */
static int insert_raw(sqlite3 *db, struct insert_arg *a, char *err, size_t errlen)
{
    sqlite3_stmt *st = db_prepare_cached(db, insert_sql);
    if (!st) {
        snprintf(err, errlen, "prepare: %s", sqlite3_errmsg(db));
        return -1;
    }
    for (int i = 0; i < a->rows; i++) {
        sqlite3_bind_int(st, 1, (int)(rand_r(&a->t->seed) % 1000));
        sqlite3_bind_int64(st, 2, clock_wall_ms());
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            snprintf(err, errlen, "insert: %s", sqlite3_errmsg(db));
            return -1;
        }
    }
    return 0;
}

/* The same as a writer function (serialized mode). */
static int insert_rows(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    return insert_raw(sqlite_conn_handle(c), arg, err, errlen);
}

/* One direct write transaction: 0, or the SQLite primary code of the failure. */
static int direct_write(sqlite3 *db, struct insert_arg *a)
{
    char err[256];
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return rc & 0xff;
    if (insert_raw(db, a, err, sizeof(err)) < 0) {
        rc = sqlite3_extended_errcode(db) & 0xff;
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return rc ? rc : SQLITE_ERROR;
    }
    rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        if (!sqlite3_get_autocommit(db))
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return rc & 0xff;
    }
    return 0;
}

static void *writer_thread(void *arg)
{
    struct thread *t = arg;
    struct run *r = t->run;
    const struct profile_params *p = r->p;
    sqlite3 *db = NULL;
    if (r->mode == PROFILE_DIRECT && db_open(r->path, DB_READWRITE, &r->dbo, &db) < 0) {
        atomic_store(&r->failed_to_start, 1);
        return NULL;
    }
    /* with a rate, writer i takes every W-th slot of the global schedule */
    double interval_us = p->write_rate > 0 ? 1e6 * p->writers / p->write_rate : 0;
    double next_due = (double)r->start_us + (interval_us * t->index) / p->writers;
    struct insert_arg a = {t, p->rows_per_write};
    char err[256];
    for (;;) {
        int64_t due;
        if (interval_us > 0) {
            due = (int64_t)next_due;
            next_due += interval_us;
            if (due >= r->end_us)
                break;
            sleep_until(due);
        } else {
            due = clock_mono_us();
            if (due >= r->end_us)
                break;
        }
        int rc;
        if (r->mode == PROFILE_DIRECT)
            rc = direct_write(db, &a);
        else
            rc = writer_submit(r->writer, "profile", insert_rows, &a, err, sizeof(err)) == 0
                     ? 0
                     : SQLITE_ERROR;
        double ms = (double)(clock_mono_us() - due) / 1000.0;
        sample(t, ms);
        if (ms > (double)p->busy_timeout_ms)
            t->timeouts++;
        if (rc == 0) {
            t->writes++;
            t->rows += (uint64_t)p->rows_per_write;
        } else if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
            t->busy++;
        } else {
            t->other++;
        }
    }
    db_close(db);
    return NULL;
}

static void *reader_thread(void *arg)
{
    struct thread *t = arg;
    struct run *r = t->run;
    sqlite3 *db;
    if (db_open(r->path, DB_READONLY, &r->dbo, &db) < 0) {
        atomic_store(&r->failed_to_start, 1);
        return NULL;
    }
    while (clock_mono_us() < r->end_us) {
        sqlite3_stmt *point = db_prepare_cached(db, "SELECT v FROM onefile_profile WHERE id = ?");
        sqlite3_stmt *range = db_prepare_cached(
            db, "SELECT count(*) FROM (SELECT id FROM onefile_profile WHERE k = ? LIMIT 50)");
        if (!point || !range) {
            t->other++;
            break;
        }
        sqlite3_bind_int(point, 1, 1 + (int)(rand_r(&t->seed) % SEED_ROWS));
        int rc1 = sqlite3_step(point);
        sqlite3_reset(point);
        sqlite3_bind_int(range, 1, (int)(rand_r(&t->seed) % 1000));
        int rc2 = sqlite3_step(range);
        sqlite3_reset(range);
        for (int rc = rc1, k = 0; k < 2; rc = rc2, k++) {
            if (rc == SQLITE_ROW || rc == SQLITE_DONE)
                t->reads++;
            else if ((rc & 0xff) == SQLITE_BUSY)
                t->busy++;
            else
                t->other++;
        }
    }
    db_close(db);
    return NULL;
}

int profile_prepare(const char *path, const struct profile_params *p)
{
    struct db_options dbo = {p->busy_timeout_ms, p->synchronous};
    sqlite3 *db;
    if (db_open(path, DB_READWRITE, &dbo, &db) < 0)
        return -1;
    int rc = db_exec(db, "profile: prepare",
                     "CREATE TABLE IF NOT EXISTS onefile_profile("
                     " id INTEGER PRIMARY KEY, k INTEGER NOT NULL, v TEXT NOT NULL,"
                     " at INTEGER NOT NULL);"
                     "CREATE INDEX IF NOT EXISTS onefile_profile_k ON onefile_profile(k);"
                     "INSERT INTO onefile_profile(k, v, at)"
                     " WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
                     "  WHERE i < 1000)"
                     " SELECT abs(random()) % 1000, 'seed row', 0 FROM n;"
                     "PRAGMA wal_checkpoint(TRUNCATE);");
    db_close(db);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double quantile(const double *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

int profile_run(const char *path, enum profile_mode mode, const struct profile_params *p,
                void (*progress)(double elapsed_s, void *ctx), void *ctx,
                struct profile_result *out)
{
    struct run r = {.path = path, .mode = mode, .p = p};
    r.dbo = (struct db_options){p->busy_timeout_ms, p->synchronous};
    sqlite3 *wdb = NULL;
    int nthreads = p->writers + p->readers;
    struct thread *ts = xcalloc((size_t)nthreads, sizeof(*ts));
    int rc = -1;

    memset(out, 0, sizeof(*out));
    out->mode = mode;
    if (mode == PROFILE_SERIALIZED) {
        if (db_open(path, DB_READWRITE, &r.dbo, &wdb) < 0)
            goto out;
        struct writer_options wo;
        writer_options_default(&wo);
        wo.busy_timeout_ms = p->busy_timeout_ms;
        r.writer = writer_start(sqlite_conn_wrap(wdb), &wo);
        wdb = NULL;
    }
    uint64_t retries0 = db_busy_retries();
    r.start_us = clock_mono_us() + 20000; /* let every thread open its connection first */
    r.end_us = r.start_us + (int64_t)(p->duration_s * 1e6);
    for (int i = 0; i < nthreads; i++) {
        ts[i].run = &r;
        ts[i].index = i < p->writers ? i : i - p->writers;
        ts[i].seed = (unsigned)(i * 7919 + 17);
        pthread_create(&ts[i].tid, NULL, i < p->writers ? writer_thread : reader_thread, &ts[i]);
    }
    for (int64_t tick = r.start_us + 1000000; tick < r.end_us; tick += 1000000) {
        sleep_until(tick);
        if (progress)
            progress((double)(tick - r.start_us) / 1e6, ctx);
    }
    for (int i = 0; i < nthreads; i++)
        pthread_join(ts[i].tid, NULL);
    out->elapsed_s = (double)(clock_mono_us() - r.start_us) / 1e6;
    if (r.writer) {
        struct writer_stats *st = xcalloc(1, sizeof(*st));
        writer_get_stats(r.writer, st);
        out->batches = st->batches;
        free(st);
        db_conn_close(writer_stop(r.writer));
        r.writer = NULL;
    }
    out->busy_retries = db_busy_retries() - retries0;
    if (atomic_load(&r.failed_to_start)) {
        log_err("profile: a thread could not open %s", path);
        goto out;
    }

    size_t nlat = 0;
    for (int i = 0; i < nthreads; i++)
        nlat += ts[i].nlat;
    double *all = xcalloc(nlat ? nlat : 1, sizeof(*all));
    nlat = 0;
    for (int i = 0; i < nthreads; i++) {
        struct thread *t = &ts[i];
        if (t->nlat)
            memcpy(all + nlat, t->lat_ms, t->nlat * sizeof(*all));
        nlat += t->nlat;
        out->writes += t->writes;
        out->rows += t->rows;
        out->reads += t->reads;
        out->busy_errors += t->busy;
        out->timeouts += t->timeouts;
        out->other_errors += t->other;
    }
    qsort(all, nlat, sizeof(*all), cmp_double);
    out->p50_ms = quantile(all, nlat, 0.50);
    out->p95_ms = quantile(all, nlat, 0.95);
    out->p99_ms = quantile(all, nlat, 0.99);
    out->max_ms = nlat ? all[nlat - 1] : 0;
    free(all);
    double secs = out->elapsed_s > 0 ? out->elapsed_s : 1;
    out->writes_per_s = (double)out->writes / secs;
    out->rows_per_s = (double)out->rows / secs;
    out->reads_per_s = (double)out->reads / secs;
    rc = 0;
out:
    if (r.writer)
        db_conn_close(writer_stop(r.writer));
    db_close(wdb);
    for (int i = 0; i < nthreads; i++)
        free(ts[i].lat_ms);
    free(ts);
    return rc;
}
