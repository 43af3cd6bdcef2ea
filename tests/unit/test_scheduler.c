/* test_scheduler.c - the scheduler and its built-in jobs on a real file through a real
   writer: schedules from the table and the environment (overrides, "off", malformed, unknown
   names); a fire runs the job and records running -> ok in schedule_runs; a fire while the
   job still runs is recorded as skipped; missed fires are not replayed; runs left `running`
   by a dead server are closed; old runs are pruned; metrics. Then each built-in job:
   checkpoint (TRUNCATE empties the WAL; a reader holding it is not an error), prune-sessions,
   rollup-views (monthly rows, totals unchanged, idempotent), quick-check.
   Includes scheduler.c to reach its statics (the run table, recording functions). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../src/jobs/scheduler.c"

#include "db/readers.h"
#include "fixture.h"
#include "db/sqlite.h"

static char dir[64], path[128];
static struct config cfg;
static struct readers readers;
static struct app app;

static int setup(void **state)
{
    (void)state;
    sqlite3 *db;
    fixture_migrated_db("sched", dir, sizeof(dir), path, sizeof(path), &db);
    struct writer_options wo;
    writer_options_default(&wo);
    wo.idle_checkpoint_ms = 0; /* only the checkpoint job truncates here */
    wo.checkpoint_pages = 1000000;
    config_init(&cfg);
    memset(&app, 0, sizeof(app));
    app.cfg = &cfg;
    app.writer = writer_start(sqlite_conn_wrap(db), &wo);
    assert_int_equal(readers_open(&readers, path, 3, &fixture_dbo), 0);
    app.readers = &readers;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    readers_close(&readers);
    db_conn_close(writer_stop(app.writer));
    config_release(&cfg);
    fixture_remove(dir);
    return 0;
}

static int exec_sql(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    sqlite3 *db = sqlite_conn_handle(c);
    char *msg = NULL;
    if (sqlite3_exec(db, arg, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s", msg ? msg : "?");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static void sql(const char *text)
{
    char err[256] = "";
    char *copy = strdup(text);
    if (writer_submit(app.writer, "test", exec_sql, copy, err, sizeof(err)) != 0)
        fail_msg("%s: %s", text, err);
    free(copy);
}

static long long count(const char *q)
{
    long long n = -1;
    struct db_conn *db = readers_acquire(&readers);
    if (db_query_int(sqlite_conn_handle(db), q, &n) != 0)
        fail_msg("%s: %s", q, db_errmsg(db));
    readers_release(&readers, db);
    return n;
}

static size_t job_index(const char *name)
{
    for (size_t i = 0; i < NJOBS; i++)
        if (strcmp(sched_jobs[i].name, name) == 0)
            return i;
    fail_msg("no job %s", name);
    return 0;
}

static void test_plan(void **state)
{
    (void)state;
    struct sched_entry e[NJOBS];
    char err[256], var[96];
    env_name("quick-check", var, sizeof(var));
    assert_string_equal(var, "ONEFILE_SCHEDULE_QUICK_CHECK");
    env_name("prune-sessions", var, sizeof(var));
    assert_string_equal(var, "ONEFILE_SCHEDULE_PRUNE_SESSIONS");
    assert_int_equal(scheduler_plan(e, err, sizeof(err)), 0);
    for (size_t i = 0; i < NJOBS; i++) {
        assert_ptr_equal(e[i].job, scheduler_job(i));
        assert_string_equal(e[i].schedule, sched_jobs[i].schedule);
        assert_string_equal(e[i].source, "default");
        assert_int_equal(e[i].off, 0);
    }
    assert_null(scheduler_job(NJOBS));
    size_t q = job_index("quick-check"), c = job_index("checkpoint");
    setenv("ONEFILE_SCHEDULE_QUICK_CHECK", "@hourly", 1);
    setenv("ONEFILE_SCHEDULE_CHECKPOINT", "off", 1);
    assert_int_equal(scheduler_plan(e, err, sizeof(err)), 0);
    assert_string_equal(e[q].schedule, "@hourly");
    assert_string_equal(e[q].source, "ONEFILE_SCHEDULE_QUICK_CHECK");
    assert_true(e[q].cron.hours == 0xffffff && e[q].cron.minutes == 1);
    assert_int_equal(e[c].off, 1);
    static const struct {
        const char *value, *error;
    } bad[] = {
        {"", "ONEFILE_SCHEDULE_QUICK_CHECK: expression: empty"},
        {"0 4 * *", "ONEFILE_SCHEDULE_QUICK_CHECK: expression: expected 5 fields"},
        {"0 25 * * *", "ONEFILE_SCHEDULE_QUICK_CHECK: hour: 25 is out of range 0-23 (a cron "
                       "expression or off)"},
        {"OFF", "ONEFILE_SCHEDULE_QUICK_CHECK: expression: expected 5 fields"},
        {"never", "ONEFILE_SCHEDULE_QUICK_CHECK: expression: expected 5 fields"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setenv("ONEFILE_SCHEDULE_QUICK_CHECK", bad[i].value, 1);
        assert_int_equal(scheduler_plan(e, err, sizeof(err)), -1);
        if (strncmp(err, bad[i].error, strlen(bad[i].error)) != 0)
            fail_msg("'%s': got '%s'", bad[i].value, err);
    }
    unsetenv("ONEFILE_SCHEDULE_QUICK_CHECK");
    unsetenv("ONEFILE_SCHEDULE_CHECKPOINT");
    setenv("ONEFILE_SCHEDULE_BACKUPS", "@daily", 1);
    assert_int_equal(scheduler_plan(e, err, sizeof(err)), -1);
    assert_string_equal(err, "ONEFILE_SCHEDULE_BACKUPS: no scheduled job of that name (jobs: "
                             "checkpoint, prune-sessions, quick-check, rollup-views, backup, "
                             "restore-drill)");
    unsetenv("ONEFILE_SCHEDULE_BACKUPS");
}

/* Waits up to seconds for q to count want. */
static int wait_count(const char *q, long long want, int seconds)
{
    for (int i = 0; i < seconds * 20; i++) {
        if (count(q) == want)
            return 1;
        usleep(50000);
    }
    return 0;
}

/* Makes job i of s due now and wakes the scheduler. */
static void fire(struct scheduler *s, size_t i)
{
    pthread_mutex_lock(&s->mu);
    s->runs[i].next = time(NULL);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void test_fire_record_skip(void **state)
{
    (void)state;
    struct sched_entry e[NJOBS];
    char err[256];
    /* a run a dead server left open */
    sql("INSERT INTO schedule_runs (job, started_at, outcome) VALUES "
        "('quick-check', '2026-01-01T04:00:00Z', 'running')");
    /* nothing fires by itself during the test */
    static const char *const vars[] = {
        "ONEFILE_SCHEDULE_CHECKPOINT",  "ONEFILE_SCHEDULE_PRUNE_SESSIONS",
        "ONEFILE_SCHEDULE_QUICK_CHECK", "ONEFILE_SCHEDULE_ROLLUP_VIEWS",
        "ONEFILE_SCHEDULE_BACKUP",      "ONEFILE_SCHEDULE_RESTORE_DRILL"};
    const size_t nvars = sizeof(vars) / sizeof(vars[0]);
    for (size_t i = 0; i < nvars; i++)
        setenv(vars[i], "0 0 1 1 *", 1);
    if (scheduler_plan(e, err, sizeof(err)) != 0)
        fail_msg("plan: %s", err);
    for (size_t i = 0; i < nvars; i++)
        unsetenv(vars[i]);
    time_t before = time(NULL);
    struct scheduler *s = scheduler_start(&app, e);
    assert_int_equal(count("SELECT count(*) FROM schedule_runs WHERE outcome = 'error' AND "
                           "finished_at IS NOT NULL AND message LIKE 'interrupted:%'"),
                     1);
    /* missed fires are not replayed: every next fire is after the start */
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < NJOBS; i++) {
        assert_true(s->runs[i].next > before);
        assert_true(s->runs[i].next <= cron_next(&e[i].cron, time(NULL)));
    }
    pthread_mutex_unlock(&s->mu);

    size_t q = job_index("quick-check");
    fire(s, q);
    assert_true(wait_count("SELECT count(*) FROM schedule_runs WHERE job = 'quick-check' AND "
                           "outcome = 'ok' AND message = 'ok' AND finished_at >= started_at",
                           1, 10));
    /* the next fire is computed from the fire, not replayed */
    pthread_mutex_lock(&s->mu);
    assert_true(s->runs[q].next > time(NULL));
    pthread_mutex_unlock(&s->mu);

    /* a fire while a run is going: skipped, recorded, not started */
    size_t c = job_index("checkpoint");
    pthread_mutex_lock(&s->mu);
    assert_int_equal(s->runs[c].joinable, 0); /* it never ran */
    s->runs[c].running = 1;
    s->runs[c].started = time(NULL) - 30;
    pthread_mutex_unlock(&s->mu);
    fire(s, c);
    assert_true(wait_count("SELECT count(*) FROM schedule_runs WHERE job = 'checkpoint' AND "
                           "outcome = 'skipped' AND message LIKE 'the previous run, started "
                           "at %, is still running'",
                           1, 10));
    pthread_mutex_lock(&s->mu);
    s->runs[c].running = 0;
    pthread_mutex_unlock(&s->mu);
    assert_int_equal(count("SELECT count(*) FROM schedule_runs WHERE job = 'checkpoint' AND "
                           "outcome <> 'skipped'"),
                     0);

    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    scheduler_write_metrics(s, out);
    fclose(out);
    assert_non_null(strstr(text, "# TYPE onefile_schedule_runs_total counter\n"));
    assert_non_null(
        strstr(text, "onefile_schedule_runs_total{job=\"quick-check\",outcome=\"ok\"} 1\n"));
    assert_non_null(
        strstr(text, "onefile_schedule_runs_total{job=\"checkpoint\",outcome=\"skipped\"} 1\n"));
    assert_non_null(strstr(text, "onefile_schedule_running{job=\"rollup-views\"}"));
    assert_non_null(strstr(text, "# TYPE onefile_schedule_last_success_timestamp_seconds gauge"));
    assert_non_null(
        strstr(text, "onefile_schedule_next_run_timestamp_seconds{job=\"checkpoint\"}"));
    free(text);
    scheduler_stop(s);
}

static void test_keep_runs(void **state)
{
    (void)state;
    char err[256];
    sql("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 520) "
        "INSERT INTO schedule_runs (job, started_at, finished_at, outcome) "
        "SELECT 'checkpoint', '2026-01-01T00:00:00Z', '2026-01-01T00:00:01Z', 'ok' FROM n");
    sql("INSERT INTO schedule_runs (job, started_at, outcome) VALUES "
        "('quick-check', '2026-01-01T00:00:00Z', 'ok')");
    struct schedule_run rec;
    memset(&rec, 0, sizeof(rec));
    rec.job = "checkpoint";
    rec.keep = KEEP_RUNS;
    rec.outcome = "ok";
    rec.message = "m";
    rec.id = count("SELECT max(id) FROM schedule_runs WHERE job = 'checkpoint'");
    snprintf(rec.finished, sizeof(rec.finished), "2026-01-01T00:00:02Z");
    assert_int_equal(
        writer_submit(app.writer, "test", schedule_runs_finish, &rec, err, sizeof(err)), 0);
    assert_int_equal(count("SELECT count(*) FROM schedule_runs WHERE job = 'checkpoint'"),
                     KEEP_RUNS);
    assert_int_equal(count("SELECT count(*) FROM schedule_runs WHERE job = 'quick-check'"), 1);
}

static void test_checkpoint_job(void **state)
{
    (void)state;
    char msg[512];
    sql("CREATE TABLE t(x); INSERT INTO t SELECT zeroblob(1000) FROM "
        "(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200) "
        "SELECT i FROM n)");
    assert_true(db_file_size(path, "-wal") > 0);
    assert_int_equal(maintenance_checkpoint(&app, msg, sizeof(msg)), 0);
    if (strncmp(msg, "truncate: ", 10) != 0 || !strstr(msg, "copied into the file"))
        fail_msg("message: %s", msg);
    assert_int_equal(db_file_size(path, "-wal"), 0);
    /* a reader in the middle of a read keeps TRUNCATE from finishing: not an error */
    sql("INSERT INTO t VALUES (1)");
    struct db_conn *ro = readers_acquire(&readers);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(sqlite_conn_handle(ro), "SELECT x FROM t", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW); /* holds a read transaction */
    sql("INSERT INTO t VALUES (2)");
    assert_int_equal(maintenance_checkpoint(&app, msg, sizeof(msg)), 0);
    if (!strstr(msg, "readers held the WAL"))
        fail_msg("message: %s", msg);
    sqlite3_finalize(st);
    readers_release(&readers, ro);
    /* the writer still works, its busy handler back in place */
    sql("INSERT INTO t VALUES (3)");
    assert_int_equal(count("SELECT count(*) FROM t"), 203);
}

static void test_prune_sessions_job(void **state)
{
    (void)state;
    char msg[512];
    sql("INSERT INTO users (id, email, password_hash) VALUES (1, 'a@example.com', 'x');"
        "INSERT INTO sessions (token_hash, user_id, csrf_token, expires_at) VALUES "
        "('old', 1, 'c', '2020-01-01T00:00:00Z'),"
        "('live', 1, 'c', strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '+1 day'))");
    assert_int_equal(maintenance_prune_sessions(&app, msg, sizeof(msg)), 0);
    assert_string_equal(msg, "1 expired session deleted");
    assert_int_equal(count("SELECT count(*) FROM sessions WHERE token_hash = 'live'"), 1);
    assert_int_equal(maintenance_prune_sessions(&app, msg, sizeof(msg)), 0);
    assert_string_equal(msg, "0 expired sessions deleted");
}

static void test_rollup_views_job(void **state)
{
    (void)state;
    char msg[512], cut[16];
    maintenance_rollup_cutoff(1778803200 /* 2026-05-15 */, cut, sizeof(cut));
    assert_string_equal(cut, "2026-02-01"); /* 90 days before: 2026-02-14 */
    maintenance_rollup_cutoff(1767225600 /* 2026-01-01 */, cut, sizeof(cut));
    assert_string_equal(cut, "2025-10-01");
    sql("INSERT INTO posts (id, slug, title) VALUES (1, 'a', 'A'), (2, 'b', 'B');"
        "INSERT INTO post_views (post_id, day, count) VALUES "
        "(1, '2019-12', 10), (1, '2019-12-03', 2),"
        "(1, '2020-01-05', 3), (1, '2020-01-20', 4), (2, '2020-01-31', 1),"
        "(1, '2020-02-01', 5),"
        "(1, strftime('%Y-%m-%d', 'now'), 7), (2, strftime('%Y-%m-%d', 'now', '-30 days'), 9)");
    long long total = count("SELECT sum(count) FROM post_views");
    assert_int_equal(maintenance_rollup_views(&app, msg, sizeof(msg)), 0);
    assert_string_equal(msg, "5 daily rows of 3 months (2019-12 to 2020-02) rolled into 4 "
                             "monthly rows");
    assert_int_equal(count("SELECT sum(count) FROM post_views"), total);
    assert_int_equal(count("SELECT count FROM post_views WHERE post_id = 1 AND day = '2019-12'"),
                     12);
    assert_int_equal(count("SELECT count FROM post_views WHERE post_id = 1 AND day = '2020-01'"),
                     7);
    assert_int_equal(count("SELECT count FROM post_views WHERE post_id = 2 AND day = '2020-01'"),
                     1);
    assert_int_equal(count("SELECT count FROM post_views WHERE post_id = 1 AND day = '2020-02'"),
                     5);
    assert_int_equal(count("SELECT count(*) FROM post_views WHERE length(day) = 10"), 2);
    /* nothing left to do: skipped */
    assert_int_equal(maintenance_rollup_views(&app, msg, sizeof(msg)), 1);
    assert_true(strncmp(msg, "no daily rows before ", 21) == 0);
    assert_int_equal(count("SELECT sum(count) FROM post_views"), total);
}

static void test_quick_check_job(void **state)
{
    (void)state;
    char msg[512];
    assert_int_equal(maintenance_quick_check(&app, msg, sizeof(msg)), 0);
    assert_string_equal(msg, "ok");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_plan),
        T(test_fire_record_skip),
        T(test_keep_runs),
        T(test_checkpoint_job),
        T(test_prune_sessions_job),
        T(test_rollup_views_job),
        T(test_quick_check_job),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
