/*
 * writer.h - the one writer: every write to the database goes through here.
 *
 * One thread owns the only read-write connection. Callers submit a write - a function
 * run against that connection, with its argument - and either wait for its own result
 * (writer_submit) or fire and forget (writer_submit_async: page views, counters). The
 * writer drains its queue in batches, one transaction each (group commit):
 *
 *   BEGIN IMMEDIATE
 *     SAVEPOINT w; write 1; RELEASE w         a write that fails is rolled back to its
 *     SAVEPOINT w; write 2; ROLLBACK TO w...  savepoint and gets its own error; the
 *     write 3 (WRITER_ATOMIC)                 others of the batch go on. A write that
 *     ...                                     undoes its own failure needs no savepoint
 *   COMMIT                                    then each waiter is woken with its result
 *
 * A write is acknowledged (writer_submit returns 0) only after COMMIT returned SQLITE_OK.
 * If COMMIT fails (disk full, I/O error), every write of the batch gets the error and
 * none is reported done. With a single waiter there is no timer: the batch is whatever
 * queued while the previous transaction was committing, so one write costs one
 * transaction, and many concurrent writes share one fsync.
 *
 * A write function must only use the connection it is given, must not BEGIN/COMMIT
 * (it runs inside the writer's transaction and savepoint), and must be quick: it holds
 * the database's only write lock while it runs.
 *
 * Checkpoints are the writer's too (auto-checkpoint is off on its connection): PASSIVE
 * after a commit that left the WAL over `checkpoint_pages`, TRUNCATE once the queue has
 * been idle for `idle_checkpoint_ms` (never waiting on readers: a busy TRUNCATE is
 * simply tried again at the next idle moment).
 *
 * Threads: submit and stats from any thread; start and stop from one controlling thread.
 */
#ifndef ONEFILE_DB_WRITER_H
#define ONEFILE_DB_WRITER_H
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "core/hist.h"
#include "db/driver.h"

/* A write: runs on the writer's connection inside the batch transaction, in its own
   savepoint. Returns 0, or -1 with err filled (the write is then rolled back alone). */
typedef int writer_fn(struct db_conn *c, void *arg, char *err, size_t errlen);

struct writer_options {
    size_t max_batch;        /* writes per transaction at most (default 256) */
    long linger_us;          /* wait this long for more writes when a batch is below
                                max_batch (default 0: never wait, no timer tick) */
    size_t max_queue;        /* async writes beyond this many queued are dropped (100000) */
    long checkpoint_pages;   /* PASSIVE checkpoint past this many WAL frames (1000) */
    long idle_checkpoint_ms; /* TRUNCATE after this long idle (1000; 0 = never) */
    long busy_timeout_ms;    /* the connection's busy budget (ONEFILE_BUSY_TIMEOUT_MS),
                                put back after an idle checkpoint that must not wait */
};

/* Error codes of writer_submit (besides -1, the write's own failure). */
#define WRITER_ECOMMIT (-2)  /* the batch's COMMIT failed: nothing of it was written */
#define WRITER_ESTOPPED (-3) /* the writer is stopping or stopped */

#define WRITER_MAX_ORIGINS 64

struct writer_origin_stats {
    const char *origin;
    uint64_t writes, failed;
    double queue_s; /* total time its writes waited in the queue */
    double tx_s;    /* total time its writes ran inside the transaction */
};

struct writer_stats {
    uint64_t committed, failed, commit_failures, dropped, batches;
    int failing; /* the last batch's BEGIN or COMMIT failed (cleared by the
                    next one that commits) */
    size_t queue_depth, max_queue_depth;
    uint64_t checkpoints_passive, checkpoints_truncate, checkpoint_pages, checkpoint_busy;
    long long wal_frames;       /* frames in the WAL after the last commit or checkpoint */
    int64_t last_checkpoint_ms; /* wall clock of the last completed checkpoint, or 0 */
    struct hist batch_size;     /* writes per transaction */
    struct hist latency;        /* seconds from submit to commit (acknowledged writes) */
    struct hist commit_time;    /* seconds per COMMIT */
    size_t norigins;
    struct writer_origin_stats origins[WRITER_MAX_ORIGINS];
};

struct writer;

/* Whether writes are failing now: the last batch could not be committed (disk full, I/O
   error). /readyz is not ready while this holds. Any thread. */
int writer_failing(struct writer *w);

/* Defaults for every option. */
void writer_options_default(struct writer_options *o);
/* Starts the writer thread on c (a DB_READWRITE SQLite connection, now the writer's).
   Returns the writer; never NULL (thread creation failure aborts). */
struct writer *writer_start(struct db_conn *c, const struct writer_options *o);
/* Runs fn(arg) in the next batch and waits for the batch's COMMIT. 0 when the write is
   durable; -1 (the write failed, err holds its message), WRITER_ECOMMIT or
   WRITER_ESTOPPED with err filled. `origin` names the route or job for the per-origin
   accounting; it must outlive the writer (a string literal or route pattern). */
int writer_submit(struct writer *w, const char *origin, writer_fn *fn, void *arg, char *err,
                  size_t errlen);
/* Queues fn(arg) without waiting. free_arg (may be NULL) is called on arg after the write
   ran, or at once when the write is refused. 0 queued, -1 refused (queue full or
   stopping: counted as dropped). Errors of async writes are logged and counted. */
int writer_submit_async(struct writer *w, const char *origin, writer_fn *fn, void *arg,
                        void (*free_arg)(void *));
/* Flags of writer_submit_cb(). */
#define WRITER_ATOMIC                                                                              \
    1u /* fn undoes its own failure: it changes the database with one                              \
          statement only (SQLite rolls a failed statement back by itself)                          \
          or fails before changing anything, so it runs without a                                  \
          savepoint of its own. A write that breaks this promise (fails                            \
          after a change stuck) costs the whole transaction: it is rolled                          \
          back, the writes before it in the batch get WRITER_ECOMMIT and                           \
          the error is logged. */

/* Called from the writer thread once the batch of a writer_submit_cb() write committed or
   failed, with rc and err as writer_submit() would return them. It must be quick and must
   not wait on the writer (it runs on its thread). */
typedef void writer_done_fn(void *ctx, int rc, const char *err);
/* Queues fn(arg) without blocking the caller; done(ctx, ...) reports the outcome (the
   HTTP server resumes a suspended request with it). flags: 0 or WRITER_ATOMIC. 0 queued;
   WRITER_ESTOPPED when the writer is stopping (done is then not called). */
int writer_submit_cb(struct writer *w, const char *origin, writer_fn *fn, void *arg, unsigned flags,
                     writer_done_fn *done, void *ctx);
/* Stops taking writes, runs every queued one, joins the thread and gives the connection
   back (the caller closes it). */
struct db_conn *writer_stop(struct writer *w);
/* A number that moves whenever a transaction that wrote something commits: a response
   built from data read at version v is current while the version is still v. */
uint64_t writer_data_version(struct writer *w);
/* A consistent copy of the counters. */
void writer_get_stats(struct writer *w, struct writer_stats *st);
#endif
