/*
 * writer.c - the one writer thread and its group commit; the contract is in writer.h.
 *
 * DESIGN
 *
 * A FIFO of items under one mutex. Submitters append and signal `more`; a synchronous
 * submitter's item lives on its own stack and it sleeps on its own condition variable
 * until the writer marks the item done. The writer thread moves through these states:
 *
 *   IDLE ----(item queued)----> COLLECT: take up to max_batch items (after lingering
 *    ^  \                       linger_us for more when the batch is short)
 *    |   (idle_checkpoint_ms         |
 *    |    passed, WAL not empty)     v
 *    |         |                RUN: BEGIN IMMEDIATE; per item SAVEPOINT, fn,
 *    |         v                     RELEASE or ROLLBACK TO + RELEASE
 *    |    CHECKPOINT TRUNCATE        |
 *    |    (no busy wait; BUSY        v
 *    |     means try later)     COMMIT: ok -> every write that succeeded is acknowledged
 *    |                                  fail -> ROLLBACK if still open; every write
 *    |                                          of the batch gets WRITER_ECOMMIT
 *    |                               |
 *    +------(queue empty)------ ACCOUNT: stats, per-origin times, wake waiters,
 *                               PASSIVE checkpoint when the WAL grew past the threshold
 *
 *   STOPPING: submit refuses new items; the thread keeps running batches until the queue
 *   is empty, then exits; writer_stop() joins it and hands back the connection.
 *
 * Invariants: only the writer thread touches the connection while it runs; an item is
 * touched by nobody after it was marked done (a synchronous item's memory goes away as
 * soon as its submitter wakes); waiters are woken only after COMMIT returned.
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
#include "db/pg.h"
#include "db/sqlite.h"
#include "db/writer.h"

struct waiter {
    pthread_cond_t cv;
    int done;
};

struct item {
    struct item *next;
    const char *origin;
    writer_fn *fn;
    void *arg;
    unsigned flags; /* WRITER_ATOMIC: no savepoint */
    void (*free_arg)(void *);
    writer_done_fn *done; /* writer_submit_cb: reported after the batch, outside the lock */
    void *done_ctx;
    struct waiter *waiter; /* NULL for async items, which are heap-allocated */
    char *err;             /* the submitter's buffer, or async_item.errbuf */
    size_t errlen;
    int rc;
    int64_t submitted_us, taken_us, tx_us;
};

struct async_item {
    struct item it;
    char errbuf[256];
};

struct writer {
    struct db_conn *conn; /* what writer functions are given */
    sqlite3 *db;          /* its SQLite handle (transactions, checkpoints), NULL on PostgreSQL */
    struct writer_options o;
    long busy_timeout_ms;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t more;
    struct item *head, *tail;
    int stopping;
    struct writer_stats st; /* under mu */
    atomic_uint_fast64_t data_version;

    /* writer thread only */
    sqlite3_stmt *tx[6]; /* SQLite: the statements of enum tx_op, prepared once */
    long long wal_frames, frames_at_checkpoint;
    int64_t changes_seen;
    int64_t last_commit_us;
    int wal_dirty; /* something to truncate when idle */
};

static const double batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
static const double latency_bounds[] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05,
                                        0.1,    0.25,  0.5,   1,     2.5,  5,     10};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

void writer_options_default(struct writer_options *o)
{
    o->max_batch = 256;
    o->linger_us = 0;
    o->max_queue = 100000;
    o->checkpoint_pages = 1000;
    o->idle_checkpoint_ms = 1000;
    o->busy_timeout_ms = 5000;
}

/* ---- statements and checkpoints (writer thread) ---- */

static int step(struct writer *w, sqlite3_stmt *st, char *err, size_t errlen)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW)
        return 0;
    if (err)
        snprintf(err, errlen, "%s: %s", sqlite3_sql(st), sqlite3_errmsg(w->db));
    return -1;
}

/* The transaction statements; on SQLite prepared once (w->tx), on PostgreSQL sent as
   they are (db_execute: one round trip each, no parse worth caching). */
enum tx_op { TX_BEGIN, TX_COMMIT, TX_ROLLBACK, TX_SAVEPOINT, TX_RELEASE, TX_ROLLBACK_TO };
static const char *const tx_sql[][2] = {
    {"BEGIN IMMEDIATE", "BEGIN"},
    {"COMMIT", "COMMIT"},
    {"ROLLBACK", "ROLLBACK"},
    {"SAVEPOINT onefile_write", "SAVEPOINT onefile_write"},
    {"RELEASE onefile_write", "RELEASE onefile_write"},
    {"ROLLBACK TO onefile_write", "ROLLBACK TO onefile_write"},
};

static int tx(struct writer *w, enum tx_op op, char *err, size_t errlen)
{
    if (w->db)
        return step(w, w->tx[op], err, errlen);
    char msg[256];
    if (db_execute(w->conn, tx_sql[op][1], msg, sizeof(msg)) == 0)
        return 0;
    if (err)
        snprintf(err, errlen, "%s: %s", tx_sql[op][1], msg);
    return -1;
}

/* Whether the writer's transaction is open (on PostgreSQL: or failed, waiting for a
   rollback). */
static int in_tx(struct writer *w)
{
    return w->db ? !sqlite3_get_autocommit(w->db) : pg_conn_in_transaction(w->conn);
}

/* PostgreSQL only: an error inside the transaction refused everything after it until a
   ROLLBACK (TO SAVEPOINT); SQLite goes on after a failed statement. */
static int tx_failed(struct writer *w)
{
    return w->db ? 0 : pg_conn_transaction_failed(w->conn);
}

static int64_t total_changes(struct writer *w)
{
    return w->db ? (int64_t)sqlite3_total_changes64(w->db) : pg_conn_total_changes(w->conn);
}

/* A statement a write left mid-way is reset (an idle one costs nothing to skip, and the
   connection keeps every statement any write ever cached). */
static void reset_strays(struct writer *w)
{
    if (!w->db) {
        pg_conn_reset_all(w->conn);
        return;
    }
    for (sqlite3_stmt *s = sqlite3_next_stmt(w->db, NULL); s; s = sqlite3_next_stmt(w->db, s))
        if (sqlite3_stmt_busy(s))
            sqlite3_reset(s);
}

static int wal_hook(void *ctx, sqlite3 *db, const char *name, int frames)
{
    (void)db;
    (void)name;
    struct writer *w = ctx;
    w->wal_frames = frames;
    return SQLITE_OK;
}

static void checkpoint(struct writer *w, int mode)
{
    int log_frames = 0, done = 0;
    if (!w->db) /* PostgreSQL checkpoints itself */
        return;
    if (mode == SQLITE_CHECKPOINT_TRUNCATE) /* never wait for readers: try again later */
        sqlite3_busy_handler(w->db, NULL, NULL);
    int rc = sqlite3_wal_checkpoint_v2(w->db, NULL, mode, &log_frames, &done);
    if (mode == SQLITE_CHECKPOINT_TRUNCATE)
        db_busy_handler_install(w->db, w->busy_timeout_ms);
    pthread_mutex_lock(&w->mu);
    if (rc == SQLITE_OK) {
        if (mode == SQLITE_CHECKPOINT_TRUNCATE) {
            w->st.checkpoints_truncate++;
            w->wal_frames = 0;
            w->wal_dirty = 0;
        } else {
            w->st.checkpoints_passive++;
        }
        w->st.checkpoint_pages += (uint64_t)(done > 0 ? done : 0);
        w->st.last_checkpoint_ms = clock_wall_ms();
        w->frames_at_checkpoint = w->wal_frames;
    } else if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
        w->st.checkpoint_busy++;
    } else {
        log_err("writer: checkpoint: %s", sqlite3_errmsg(w->db));
    }
    w->st.wal_frames = w->wal_frames;
    pthread_mutex_unlock(&w->mu);
}

/* ---- accounting (under mu) ---- */

static struct writer_origin_stats *origin_of(struct writer *w, const char *origin)
{
    struct writer_stats *st = &w->st;
    for (size_t i = 0; i < st->norigins; i++)
        if (st->origins[i].origin == origin || strcmp(st->origins[i].origin, origin) == 0)
            return &st->origins[i];
    if (st->norigins < WRITER_MAX_ORIGINS) {
        st->origins[st->norigins].origin = origin;
        return &st->origins[st->norigins++];
    }
    return &st->origins[WRITER_MAX_ORIGINS - 1]; /* the last one absorbs the rest */
}

/* ---- the batch (writer thread, without mu) ---- */

static void fail_all(struct item *batch, int rc, const char *msg)
{
    for (struct item *it = batch; it; it = it->next) {
        if (it->rc == 0 || rc != WRITER_ECOMMIT) {
            it->rc = rc;
            snprintf(it->err, it->errlen, "%s", msg);
        }
    }
}

/* The transaction was lost in the middle of the batch at item `it`: it ended itself, or
   an atomic write failed after changing something. The items before it are not
   acknowledged; it gets `why`; a new transaction is begun for the rest. 1 when that
   BEGIN failed too (the rest of the batch has then failed). */
static int restart(struct writer *w, struct item *batch, struct item *it, const char *why)
{
    char msg[512];
    for (struct item *prev = batch; prev != it; prev = prev->next) {
        if (prev->rc == 0) {
            prev->rc = WRITER_ECOMMIT;
            snprintf(prev->err, prev->errlen, "another write (%s) lost the transaction",
                     it->origin);
        }
    }
    it->rc = -1;
    snprintf(it->err, it->errlen, "%s", why);
    log_err("writer: %s: %s", it->origin, why);
    if (in_tx(w))
        tx(w, TX_ROLLBACK, NULL, 0);
    if (tx(w, TX_BEGIN, msg, sizeof(msg)) < 0) {
        fail_all(it->next, WRITER_ECOMMIT, msg);
        return 1;
    }
    return 0;
}

/* Runs the batch's transaction; returns 1 when its COMMIT (or BEGIN) failed. */
static int run_batch(struct writer *w, struct item *batch)
{
    char msg[512];
    /* PostgreSQL: a connection the server dropped (restart, failover) failed the batch
       that met it; it is opened again for this one */
    if (!w->db && !pg_conn_ok(w->conn) && pg_conn_tidy(w->conn) == 1)
        log_warn("writer: the connection to PostgreSQL was lost; reconnected");
    if (tx(w, TX_BEGIN, msg, sizeof(msg)) < 0) {
        for (struct item *it = batch; it; it = it->next)
            it->rc = 0;
        fail_all(batch, WRITER_ECOMMIT, msg);
        return 1;
    }
    for (struct item *it = batch; it; it = it->next) {
        int64_t t0 = clock_mono_us();
        /* on PostgreSQL every write gets its savepoint: any error there aborts the whole
           transaction, which only ROLLBACK TO can take back */
        int atomic = (it->flags & WRITER_ATOMIC) != 0 && w->db;
        int64_t changes = total_changes(w);
        if (!atomic && tx(w, TX_SAVEPOINT, msg, sizeof(msg)) < 0) {
            it->rc = -1;
            snprintf(it->err, it->errlen, "%s", msg);
            continue;
        }
        it->err[0] = '\0';
        it->rc = it->fn(w->conn, it->arg, it->err, it->errlen) < 0 ? -1 : 0;
        reset_strays(w);
        if (!in_tx(w)) {
            /* the write ended the transaction itself (COMMIT or ROLLBACK): whether the
               writes before it in this batch are in the file is unknown */
            if (restart(w, batch, it, "a write must not end the writer's transaction")) {
                it->tx_us = clock_mono_us() - t0;
                return 1;
            }
        } else if (it->rc < 0 && atomic && (total_changes(w) != changes || tx_failed(w))) {
            /* no savepoint to go back to: only the whole transaction can undo it */
            if (restart(w, batch, it, "an atomic write failed after changing the database")) {
                it->tx_us = clock_mono_us() - t0;
                return 1;
            }
        } else if (it->rc < 0) {
            if (!it->err[0])
                snprintf(it->err, it->errlen, "write failed: %s", db_errmsg(w->conn));
            if (!atomic) {
                tx(w, TX_ROLLBACK_TO, NULL, 0);
                tx(w, TX_RELEASE, NULL, 0);
            }
        } else if (!atomic && tx(w, TX_RELEASE, msg, sizeof(msg)) < 0) {
            it->rc = -1;
            snprintf(it->err, it->errlen, "%s", msg);
        }
        it->tx_us = clock_mono_us() - t0;
    }
    if (tx(w, TX_COMMIT, msg, sizeof(msg)) < 0) {
        if (in_tx(w))
            tx(w, TX_ROLLBACK, NULL, 0);
        log_err("writer: %s", msg);
        fail_all(batch, WRITER_ECOMMIT, msg);
        return 1;
    }
    return 0;
}

static void finish_batch(struct writer *w, struct item *batch, size_t n, int64_t commit_us,
                         int commit_failed)
{
    int64_t now = clock_mono_us();
    struct item *callbacks = NULL;
    pthread_mutex_lock(&w->mu);
    struct writer_stats *st = &w->st;
    st->batches++;
    st->commit_failures += (uint64_t)commit_failed;
    st->failing = commit_failed != 0;
    hist_observe(&st->batch_size, (double)n);
    hist_observe(&st->commit_time, (double)commit_us / 1e6);
    st->wal_frames = w->wal_frames;
    struct item *next;
    for (struct item *it = batch; it; it = next) {
        next = it->next;
        struct writer_origin_stats *os = origin_of(w, it->origin);
        os->writes++;
        os->queue_s += (double)(it->taken_us - it->submitted_us) / 1e6;
        os->tx_s += (double)it->tx_us / 1e6;
        if (it->rc == 0) {
            st->committed++;
            hist_observe(&st->latency, (double)(now - it->submitted_us) / 1e6);
        } else {
            st->failed++;
            os->failed++;
        }
        if (it->waiter) {
            it->waiter->done = 1;
            pthread_cond_signal(&it->waiter->cv);
        } else if (it->done) {
            it->next = callbacks; /* reported below, once the lock is released */
            callbacks = it;
        } else {
            if (it->rc != 0)
                log_event(LOG_WARN, "async write failed",
                          json_pack("{s:s,s:s}", "origin", it->origin, "error", it->err));
            if (it->free_arg)
                it->free_arg(it->arg);
            free(it);
        }
    }
    pthread_mutex_unlock(&w->mu);
    /* never call out while holding the lock: a callback may take other locks (the HTTP
       server's), whose holders may be waiting to submit here */
    while (callbacks) {
        struct item *it = callbacks;
        callbacks = it->next;
        it->done(it->done_ctx, it->rc, it->err);
        free(it);
    }
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->head && !w->stopping) {
            if (w->wal_dirty && w->o.idle_checkpoint_ms > 0) {
                int64_t due = w->last_commit_us + w->o.idle_checkpoint_ms * 1000LL;
                int64_t wait_us = due - clock_mono_us();
                if (wait_us <= 0) {
                    pthread_mutex_unlock(&w->mu);
                    checkpoint(w, SQLITE_CHECKPOINT_TRUNCATE);
                    pthread_mutex_lock(&w->mu);
                    if (w->wal_dirty) /* busy: try again after another idle period */
                        w->last_commit_us = clock_mono_us();
                    continue;
                }
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_sec += wait_us / 1000000;
                ts.tv_nsec += (wait_us % 1000000) * 1000;
                if (ts.tv_nsec >= 1000000000L) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&w->more, &w->mu, &ts);
            } else {
                pthread_cond_wait(&w->more, &w->mu);
            }
        }
        if (!w->head)
            break; /* stopping and drained */
        if (w->o.linger_us > 0 && w->st.queue_depth < w->o.max_batch && !w->stopping) {
            int64_t until = clock_mono_us() + w->o.linger_us;
            while (w->st.queue_depth < w->o.max_batch && !w->stopping) {
                int64_t left = until - clock_mono_us();
                if (left <= 0)
                    break;
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += (long)left * 1000;
                while (ts.tv_nsec >= 1000000000L) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&w->more, &w->mu, &ts);
            }
        }
        int64_t now = clock_mono_us();
        struct item *batch = w->head, *last = w->head;
        size_t n = 1;
        last->taken_us = now;
        while (n < w->o.max_batch && last->next) {
            last = last->next;
            last->taken_us = now;
            n++;
        }
        w->head = last->next;
        if (!w->head)
            w->tail = NULL;
        last->next = NULL;
        w->st.queue_depth -= n;
        pthread_mutex_unlock(&w->mu);

        int64_t t0 = clock_mono_us();
        int commit_failed = run_batch(w, batch);
        if (total_changes(w) != w->changes_seen) { /* something was written */
            w->changes_seen = total_changes(w);
            atomic_fetch_add(&w->data_version, 1);
        }
        int64_t commit_us = clock_mono_us() - t0;
        finish_batch(w, batch, n, commit_us, commit_failed);
        if (w->wal_frames - w->frames_at_checkpoint >= w->o.checkpoint_pages)
            checkpoint(w, SQLITE_CHECKPOINT_PASSIVE);
        else if (w->wal_frames < w->frames_at_checkpoint)
            w->frames_at_checkpoint = 0; /* the WAL restarted from its beginning */

        pthread_mutex_lock(&w->mu);
        w->last_commit_us = clock_mono_us();
        w->wal_dirty = w->wal_frames > 0;
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* ---- public ---- */

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "writer: cannot prepare %s: %s\n", sql, sqlite3_errmsg(db));
        abort();
    }
    return st;
}

struct writer *writer_start(struct db_conn *conn, const struct writer_options *o)
{
    struct writer *w = xcalloc(1, sizeof(*w));
    sqlite3 *db = db_engine(conn) == DB_ENGINE_SQLITE ? sqlite_conn_handle(conn) : NULL;
    w->conn = conn;
    w->db = db;
    w->o = *o;
    if (w->o.max_batch == 0)
        w->o.max_batch = 1;
    if (w->o.checkpoint_pages <= 0)
        w->o.checkpoint_pages = 1000;
    w->busy_timeout_ms = o->busy_timeout_ms;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->more, NULL);
    hist_init(&w->st.batch_size, batch_bounds, NELEM(batch_bounds));
    hist_init(&w->st.latency, latency_bounds, NELEM(latency_bounds));
    hist_init(&w->st.commit_time, latency_bounds, NELEM(latency_bounds));
    if (db) {
        for (size_t i = 0; i < NELEM(w->tx); i++)
            w->tx[i] = prepare(db, tx_sql[i][0]);
        sqlite3_wal_hook(db, wal_hook, w); /* also turns SQLite's auto-checkpoint off */
    }
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        fprintf(stderr, "writer: cannot start its thread\n");
        abort();
    }
    pthread_setname_np(w->thread, "onefile-writer"); /* for top -H, perf, gdb */
    return w;
}

static void enqueue(struct writer *w, struct item *it)
{
    it->submitted_us = clock_mono_us();
    if (w->tail)
        w->tail->next = it;
    else
        w->head = it;
    w->tail = it;
    if (++w->st.queue_depth > w->st.max_queue_depth)
        w->st.max_queue_depth = w->st.queue_depth;
    pthread_cond_signal(&w->more);
}

int writer_submit(struct writer *w, const char *origin, writer_fn *fn, void *arg, char *err,
                  size_t errlen)
{
    struct waiter wt = {.done = 0};
    char scratch[1];
    struct item it = {
        .origin = origin,
        .fn = fn,
        .arg = arg,
        .waiter = &wt,
        .err = errlen ? err : scratch,
        .errlen = errlen ? errlen : sizeof(scratch),
    };
    pthread_cond_init(&wt.cv, NULL);
    pthread_mutex_lock(&w->mu);
    if (w->stopping) {
        pthread_mutex_unlock(&w->mu);
        pthread_cond_destroy(&wt.cv);
        snprintf(it.err, it.errlen, "the writer is stopping");
        return WRITER_ESTOPPED;
    }
    enqueue(w, &it);
    while (!wt.done)
        pthread_cond_wait(&wt.cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    pthread_cond_destroy(&wt.cv);
    return it.rc;
}

int writer_submit_async(struct writer *w, const char *origin, writer_fn *fn, void *arg,
                        void (*free_arg)(void *))
{
    struct async_item *a = xcalloc(1, sizeof(*a));
    a->it = (struct item){.origin = origin,
                          .fn = fn,
                          .arg = arg,
                          .free_arg = free_arg,
                          .err = a->errbuf,
                          .errlen = sizeof(a->errbuf)};
    pthread_mutex_lock(&w->mu);
    if (w->stopping || w->st.queue_depth >= w->o.max_queue) {
        w->st.dropped++;
        pthread_mutex_unlock(&w->mu);
        if (free_arg)
            free_arg(arg);
        free(a);
        return -1;
    }
    enqueue(w, &a->it);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

int writer_submit_cb(struct writer *w, const char *origin, writer_fn *fn, void *arg, unsigned flags,
                     writer_done_fn *done, void *ctx)
{
    struct async_item *a = xcalloc(1, sizeof(*a));
    a->it = (struct item){.origin = origin,
                          .fn = fn,
                          .arg = arg,
                          .flags = flags,
                          .done = done,
                          .done_ctx = ctx,
                          .err = a->errbuf,
                          .errlen = sizeof(a->errbuf)};
    pthread_mutex_lock(&w->mu);
    if (w->stopping) {
        pthread_mutex_unlock(&w->mu);
        free(a);
        return WRITER_ESTOPPED;
    }
    enqueue(w, &a->it);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

struct db_conn *writer_stop(struct writer *w)
{
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_signal(&w->more);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    struct db_conn *conn = w->conn;
    if (w->db) {
        sqlite3_wal_hook(w->db, NULL, NULL);
        for (size_t i = 0; i < NELEM(w->tx); i++)
            sqlite3_finalize(w->tx[i]);
    }
    pthread_cond_destroy(&w->more);
    pthread_mutex_destroy(&w->mu);
    free(w);
    return conn;
}

uint64_t writer_data_version(struct writer *w)
{
    return atomic_load(&w->data_version);
}

void writer_get_stats(struct writer *w, struct writer_stats *st)
{
    pthread_mutex_lock(&w->mu);
    *st = w->st;
    pthread_mutex_unlock(&w->mu);
}

int writer_failing(struct writer *w)
{
    pthread_mutex_lock(&w->mu);
    int failing = w->st.failing;
    pthread_mutex_unlock(&w->mu);
    return failing;
}
