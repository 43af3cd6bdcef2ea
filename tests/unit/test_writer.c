/* test_writer.c - the one writer: acknowledged means committed, savepoint isolation inside a
   batch, atomic writes without savepoints (and the price of breaking that promise), a
   statement a write left running is reset after it, group
   commit under concurrency, fire-and-forget, draining on stop, per-origin accounting,
   checkpoints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/db.h"
#include "db/writer.h"
#include "db/sqlite.h"

static char dir[64], path[128];
static const struct db_options dbo = {5000, 2};

static int insert_value(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    sqlite3 *db = sqlite_conn_handle(c);
    sqlite3_stmt *st = db_prepare_cached(db, "INSERT INTO t(v) VALUES (?)");
    if (!st) {
        snprintf(err, errlen, "prepare");
        return -1;
    }
    sqlite3_bind_int64(st, 1, (int64_t)(intptr_t)arg);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "insert: %s", sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

/* inserts, then fails: its row must not survive */
static int insert_then_fail(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    if (insert_value(c, arg, err, errlen) < 0)
        return -1;
    snprintf(err, errlen, "refused on purpose");
    return -1;
}

static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_open, gate_entered;

/* holds the writer until the test opens the gate, so the next writes queue up */
static int wait_at_gate(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    pthread_mutex_lock(&gate_mu);
    gate_entered = 1;
    pthread_cond_broadcast(&gate_cv);
    while (!gate_open)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
    return insert_value(c, arg, err, errlen);
}

static void gate_reset(void)
{
    gate_open = gate_entered = 0;
}

static void gate_wait_entered(void)
{
    pthread_mutex_lock(&gate_mu);
    while (!gate_entered)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
}

static void gate_release(void)
{
    pthread_mutex_lock(&gate_mu);
    gate_open = 1;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
}

struct sub {
    struct writer *w;
    const char *origin;
    writer_fn *fn;
    long value;
    int count;
    int rc;
    char err[256];
};

static void *submitter(void *arg)
{
    struct sub *s = arg;
    s->rc = 0;
    for (int i = 0; i < s->count; i++) {
        int rc = writer_submit(s->w, s->origin, s->fn, (void *)(intptr_t)(s->value + i), s->err,
                               sizeof(s->err));
        if (rc != 0)
            s->rc = rc;
    }
    return NULL;
}

static long long count_rows(const char *where)
{
    sqlite3 *ro;
    long long n = -1;
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM t %s", where);
    assert_int_equal(db_open(path, DB_READONLY, &dbo, &ro), 0);
    assert_int_equal(db_query_int(ro, sql, &n), 0);
    sqlite3_close_v2(ro);
    return n;
}

static struct writer *start(struct writer_options *o)
{
    sqlite3 *db;
    unlink(path);
    char p2[160];
    snprintf(p2, sizeof(p2), "%s-wal", path);
    unlink(p2);
    snprintf(p2, sizeof(p2), "%s-shm", path);
    unlink(p2);
    assert_int_equal(db_open(path, DB_READWRITE, &dbo, &db), 0);
    assert_int_equal(
        db_exec(db, "test", "CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER UNIQUE)"), 0);
    struct writer_options def;
    writer_options_default(&def);
    return writer_start(sqlite_conn_wrap(db), o ? o : &def);
}

static void stop(struct writer *w)
{
    assert_int_equal(db_conn_close(writer_stop(w)), 0);
}

static void test_acknowledged_write_is_committed(void **state)
{
    (void)state;
    struct writer *w = start(NULL);
    char err[128];
    assert_int_equal(writer_submit(w, "test", insert_value, (void *)42, err, sizeof(err)), 0);
    assert_int_equal(count_rows("WHERE v = 42"), 1); /* visible to another connection */
    /* a failing write reports its own error and leaves nothing */
    assert_int_equal(writer_submit(w, "test", insert_then_fail, (void *)43, err, sizeof(err)), -1);
    assert_string_equal(err, "refused on purpose");
    assert_int_equal(count_rows("WHERE v = 43"), 0);
    /* a constraint failure is the write's error, with SQLite's message */
    assert_int_equal(writer_submit(w, "test", insert_value, (void *)42, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "UNIQUE constraint failed"));
    struct writer_stats st;
    writer_get_stats(w, &st);
    assert_int_equal(st.committed, 1);
    assert_int_equal(st.failed, 2);
    stop(w);
}

static void test_one_failing_write_in_a_batch_leaves_the_others(void **state)
{
    (void)state;
    struct writer *w = start(NULL);
    gate_reset();
    pthread_t holder, t[6];
    struct sub hs = {w, "gate", wait_at_gate, 1000, 1, 0, ""};
    pthread_create(&holder, NULL, submitter, &hs);
    gate_wait_entered();
    /* these queue up behind the gate and form one batch */
    struct sub subs[6];
    for (int i = 0; i < 6; i++) {
        subs[i] = (struct sub){w, "batch", i == 3 ? insert_then_fail : insert_value, i, 1, 0, ""};
        pthread_create(&t[i], NULL, submitter, &subs[i]);
    }
    for (;;) { /* wait until all six are queued */
        struct writer_stats st;
        writer_get_stats(w, &st);
        if (st.queue_depth == 6)
            break;
        usleep(1000);
    }
    gate_release();
    pthread_join(holder, NULL);
    for (int i = 0; i < 6; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 6; i++)
        assert_int_equal(subs[i].rc, i == 3 ? -1 : 0);
    assert_string_equal(subs[3].err, "refused on purpose");
    assert_int_equal(count_rows("WHERE v < 6"), 5);
    assert_int_equal(count_rows("WHERE v = 3"), 0);
    struct writer_stats st;
    writer_get_stats(w, &st);
    assert_int_equal(st.batches, 2); /* the gate's, then the six together */
    assert_int_equal(st.batch_size.count, 2);
    stop(w);
}

/* a write that breaks the contract and rolls the writer's transaction back */
static int rollback_everything(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    sqlite3 *db = sqlite_conn_handle(c);
    (void)arg;
    (void)err;
    (void)errlen;
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return 0;
}

static void test_a_write_ending_the_transaction_acknowledges_nothing_before_it(void **state)
{
    (void)state;
    struct writer *w = start(NULL);
    gate_reset();
    pthread_t holder, t[4];
    struct sub hs = {w, "gate", wait_at_gate, 1000, 1, 0, ""};
    pthread_create(&holder, NULL, submitter, &hs);
    gate_wait_entered();
    struct sub subs[4];
    for (int i = 0; i < 4; i++) {
        subs[i] =
            (struct sub){w, "batch", i == 2 ? rollback_everything : insert_value, i, 1, 0, ""};
        pthread_create(&t[i], NULL, submitter, &subs[i]);
        for (;;) { /* queue them in this order */
            struct writer_stats st;
            writer_get_stats(w, &st);
            if (st.queue_depth == (size_t)i + 1)
                break;
            usleep(1000);
        }
    }
    gate_release();
    pthread_join(holder, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(subs[0].rc, WRITER_ECOMMIT); /* rolled back by write 2 */
    assert_int_equal(subs[1].rc, WRITER_ECOMMIT);
    assert_int_equal(subs[2].rc, -1);
    assert_int_equal(subs[3].rc, 0); /* ran in a new transaction */
    assert_int_equal(count_rows("WHERE v < 4"), 1);
    assert_int_equal(count_rows("WHERE v = 3"), 1);
    stop(w);
}

/* outcomes of writer_submit_cb() writes, reported on the writer's thread */
struct outcome {
    int rc, reported;
    char err[256];
};
static pthread_mutex_t outcome_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t outcome_cv = PTHREAD_COND_INITIALIZER;

static void outcome_done(void *ctx, int rc, const char *err)
{
    struct outcome *o = ctx;
    pthread_mutex_lock(&outcome_mu);
    o->rc = rc;
    snprintf(o->err, sizeof(o->err), "%s", err);
    o->reported = 1;
    pthread_cond_broadcast(&outcome_cv);
    pthread_mutex_unlock(&outcome_mu);
}

/* Queues writes[i] (atomic, value values[i]) behind the gate, so they form one batch, and
   waits for every outcome. */
static void atomic_batch(struct writer *w, writer_fn **writes, const long *values, int n,
                         struct outcome *out)
{
    gate_reset();
    pthread_t holder;
    struct sub hs = {w, "gate", wait_at_gate, 100000 + values[0], 1, 0, ""};
    pthread_create(&holder, NULL, submitter, &hs);
    gate_wait_entered();
    for (int i = 0; i < n; i++) {
        out[i] = (struct outcome){0};
        assert_int_equal(writer_submit_cb(w, "atomic", writes[i], (void *)(intptr_t)values[i],
                                          WRITER_ATOMIC, outcome_done, &out[i]),
                         0);
    }
    gate_release();
    pthread_join(holder, NULL);
    assert_int_equal(hs.rc, 0);
    pthread_mutex_lock(&outcome_mu);
    for (int i = 0; i < n; i++)
        while (!out[i].reported)
            pthread_cond_wait(&outcome_cv, &outcome_mu);
    pthread_mutex_unlock(&outcome_mu);
}

static sqlite3_stmt *left_open;

/* steps a query once and returns without resetting it, then writes */
static int leave_a_query_open(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    sqlite3 *db = sqlite_conn_handle(c);
    left_open = db_prepare_cached(db, "SELECT v FROM t ORDER BY v");
    if (!left_open || sqlite3_step(left_open) != SQLITE_ROW) {
        snprintf(err, errlen, "select: %s", sqlite3_errmsg(db));
        return -1;
    }
    return insert_value(c, arg, err, errlen);
}

static void test_a_statement_left_running_is_reset_after_its_write(void **state)
{
    (void)state;
    struct writer *w = start(NULL);
    char err[256];
    assert_int_equal(writer_submit(w, "test", insert_value, (void *)1, err, sizeof(err)), 0);
    assert_int_equal(writer_submit(w, "test", leave_a_query_open, (void *)2, err, sizeof(err)), 0);
    /* the writer is idle now: reading the flag races with nothing */
    assert_false(sqlite3_stmt_busy(left_open));
    assert_int_equal(count_rows("WHERE v IN (1, 2)"), 2);
    assert_int_equal(writer_submit(w, "test", insert_value, (void *)3, err, sizeof(err)), 0);
    assert_int_equal(count_rows("WHERE v = 3"), 1);
    stop(w);
}

static void test_atomic_writes_run_without_savepoints(void **state)
{
    (void)state;
    struct writer *w = start(NULL);
    struct outcome out[4];
    /* a statement that fails undoes itself: only that write fails */
    writer_fn *ok_dup_ok[] = {insert_value, insert_value, insert_value};
    long values[] = {1, 1, 2};
    atomic_batch(w, ok_dup_ok, values, 3, out);
    assert_int_equal(out[0].rc, 0);
    assert_int_equal(out[1].rc, -1);
    assert_non_null(strstr(out[1].err, "UNIQUE constraint failed"));
    assert_int_equal(out[2].rc, 0);
    assert_int_equal(count_rows("WHERE v IN (1, 2)"), 2);

    /* a write that fails after its change stuck breaks the promise: the transaction is
       rolled back, the writes before it are not acknowledged, the ones after it are */
    writer_fn *broken[] = {insert_value, insert_value, insert_then_fail, insert_value};
    long values2[] = {10, 1, 12, 13};
    atomic_batch(w, broken, values2, 4, out);
    assert_int_equal(out[0].rc, WRITER_ECOMMIT);
    assert_int_equal(out[1].rc, -1); /* its own failure stays its own */
    assert_int_equal(out[2].rc, -1);
    assert_non_null(strstr(out[2].err, "atomic write failed after changing"));
    assert_int_equal(out[3].rc, 0);
    assert_int_equal(count_rows("WHERE v IN (10, 12)"), 0);
    assert_int_equal(count_rows("WHERE v = 13"), 1);
    struct writer_stats st;
    writer_get_stats(w, &st);
    assert_int_equal(st.committed, 5); /* the two gates' writes, 1, 2 and 13 */
    stop(w);
}

static void test_group_commit_under_concurrency(void **state)
{
    (void)state;
    struct writer *w = start(NULL);
    enum { THREADS = 32, EACH = 40 };
    pthread_t t[THREADS];
    struct sub subs[THREADS];
    for (int i = 0; i < THREADS; i++) {
        subs[i] = (struct sub){w, "many", insert_value, (long)i * 1000, EACH, 0, ""};
        pthread_create(&t[i], NULL, submitter, &subs[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(subs[i].rc, 0);
    }
    assert_int_equal(count_rows(""), THREADS * EACH);
    struct writer_stats st;
    writer_get_stats(w, &st);
    assert_int_equal(st.committed, THREADS * EACH);
    assert_true(st.batches < THREADS * EACH); /* writes shared transactions */
    assert_int_equal(st.latency.count, THREADS * EACH);
    stop(w);
}

static atomic_int freed;
static void count_free(void *arg)
{
    (void)arg;
    atomic_fetch_add(&freed, 1);
}

static void test_fire_and_forget_is_drained_on_stop(void **state)
{
    (void)state;
    struct writer *w = start(NULL);
    atomic_store(&freed, 0);
    for (long i = 0; i < 500; i++)
        assert_int_equal(writer_submit_async(w, "views", insert_value, (void *)i, count_free), 0);
    /* one failing async write is logged and counted, not fatal */
    assert_int_equal(writer_submit_async(w, "views", insert_value, (void *)1, count_free), 0);
    struct db_conn *c = writer_stop(w);
    assert_int_equal(atomic_load(&freed), 501);
    long long n;
    assert_int_equal(db_query_int(sqlite_conn_handle(c), "SELECT count(*) FROM t", &n), 0);
    assert_int_equal(n, 500);
    assert_int_equal(db_conn_close(c), 0);
}

static void test_async_queue_is_bounded(void **state)
{
    (void)state;
    struct writer_options o;
    writer_options_default(&o);
    o.max_queue = 3;
    struct writer *w = start(&o);
    gate_reset();
    pthread_t holder;
    struct sub hs = {w, "gate", wait_at_gate, 1000, 1, 0, ""};
    pthread_create(&holder, NULL, submitter, &hs);
    gate_wait_entered();
    atomic_store(&freed, 0);
    int queued = 0;
    for (long i = 0; i < 10; i++)
        queued += writer_submit_async(w, "views", insert_value, (void *)i, count_free) == 0;
    assert_int_equal(queued, 3);
    assert_int_equal(atomic_load(&freed), 7); /* refused ones are freed at once */
    gate_release();
    pthread_join(holder, NULL);
    stop(w);
    assert_int_equal(atomic_load(&freed), 10);
}

struct stopper {
    struct writer *w;
    struct db_conn *db;
};

static void *stop_thread(void *arg)
{
    struct stopper *s = arg;
    s->db = writer_stop(s->w);
    return NULL;
}

static void test_stop_runs_queued_writes_and_refuses_new_ones(void **state)
{
    (void)state;
    struct writer *w = start(NULL);
    gate_reset();
    pthread_t holder, queued, stopper;
    struct sub hs = {w, "gate", wait_at_gate, 1000, 1, 0, ""};
    pthread_create(&holder, NULL, submitter, &hs);
    gate_wait_entered();
    struct sub qs = {w, "queued", insert_value, 7, 1, 0, ""};
    pthread_create(&queued, NULL, submitter, &qs);
    for (;;) {
        struct writer_stats st;
        writer_get_stats(w, &st);
        if (st.queue_depth == 1)
            break;
        usleep(1000);
    }
    struct stopper sp = {w, NULL};
    pthread_create(&stopper, NULL, stop_thread, &sp);
    /* once stopping, new writes are refused; until the stopper thread got there they are
       still accepted (and then run before the stop completes) */
    long probes = 0;
    while (writer_submit_async(w, "late", insert_value, (void *)(intptr_t)(100 + probes), NULL) ==
           0) {
        probes++;
        usleep(1000);
    }
    char err[128];
    assert_int_equal(writer_submit(w, "late", insert_value, (void *)8, err, sizeof(err)),
                     WRITER_ESTOPPED);
    assert_string_equal(err, "the writer is stopping");
    gate_release();
    pthread_join(stopper, NULL);
    pthread_join(holder, NULL);
    pthread_join(queued, NULL);
    assert_int_equal(hs.rc, 0);
    assert_int_equal(qs.rc, 0); /* queued before the stop: ran */
    long long n;
    assert_int_equal(
        db_query_int(sqlite_conn_handle(sp.db), "SELECT count(*) FROM t WHERE v IN (1000, 7)", &n),
        0);
    assert_int_equal(n, 2);
    assert_int_equal(db_query_int(sqlite_conn_handle(sp.db),
                                  "SELECT count(*) FROM t WHERE v >= 100 AND v < 1000", &n),
                     0);
    assert_int_equal(n, probes);
    assert_int_equal(
        db_query_int(sqlite_conn_handle(sp.db), "SELECT count(*) FROM t WHERE v = 8", &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(db_conn_close(sp.db), 0);
}

static void test_per_origin_accounting(void **state)
{
    (void)state;
    struct writer *w = start(NULL);
    char err[128];
    for (long i = 0; i < 5; i++)
        assert_int_equal(
            writer_submit(w, "POST /api/v1/posts", insert_value, (void *)i, err, sizeof(err)), 0);
    assert_int_equal(
        writer_submit(w, "job:rollup-views", insert_then_fail, (void *)99, err, sizeof(err)), -1);
    struct writer_stats st;
    writer_get_stats(w, &st);
    assert_int_equal(st.norigins, 2);
    assert_string_equal(st.origins[0].origin, "POST /api/v1/posts");
    assert_int_equal(st.origins[0].writes, 5);
    assert_int_equal(st.origins[0].failed, 0);
    assert_true(st.origins[0].tx_s > 0);
    assert_string_equal(st.origins[1].origin, "job:rollup-views");
    assert_int_equal(st.origins[1].failed, 1);
    stop(w);
}

static void test_checkpoints_passive_when_grown_truncate_when_idle(void **state)
{
    (void)state;
    struct writer_options o;
    writer_options_default(&o);
    o.checkpoint_pages = 20;
    o.idle_checkpoint_ms = 50;
    struct writer *w = start(&o);
    char err[128];
    for (long i = 0; i < 100; i++)
        assert_int_equal(writer_submit(w, "t", insert_value, (void *)i, err, sizeof(err)), 0);
    struct writer_stats st;
    writer_get_stats(w, &st);
    assert_true(st.checkpoints_passive >= 1);
    char wal[160];
    snprintf(wal, sizeof(wal), "%s-wal", path);
    for (int i = 0; i < 200; i++) { /* idle: TRUNCATE within ~50 ms */
        writer_get_stats(w, &st);
        if (st.checkpoints_truncate > 0)
            break;
        usleep(10000);
    }
    assert_true(st.checkpoints_truncate >= 1);
    assert_int_equal(db_file_size(path, "-wal"), 0);
    assert_int_equal(st.wal_frames, 0);
    stop(w);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/onefile-writer-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/w.db", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acknowledged_write_is_committed),
        cmocka_unit_test(test_one_failing_write_in_a_batch_leaves_the_others),
        cmocka_unit_test(test_a_write_ending_the_transaction_acknowledges_nothing_before_it),
        cmocka_unit_test(test_atomic_writes_run_without_savepoints),
        cmocka_unit_test(test_a_statement_left_running_is_reset_after_its_write),
        cmocka_unit_test(test_group_commit_under_concurrency),
        cmocka_unit_test(test_fire_and_forget_is_drained_on_stop),
        cmocka_unit_test(test_async_queue_is_bounded),
        cmocka_unit_test(test_stop_runs_queued_writes_and_refuses_new_ones),
        cmocka_unit_test(test_per_origin_accounting),
        cmocka_unit_test(test_checkpoints_passive_when_grown_truncate_when_idle),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
