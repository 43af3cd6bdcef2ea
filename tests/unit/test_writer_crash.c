/* test_writer_crash.c - kill -9 in the middle of a sustained write load, many times over
   the same file: every write acknowledged before the kill is there after the restart,
   and integrity_check is ok every time.

   The child runs the writer with 8 submitting threads; after each acknowledgement it
   writes the value to a pipe (8-byte writes are atomic). The parent kills it at a
   random moment, reads every acknowledgement that made it into the pipe, then checks
   the file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "db/writer.h"
#include "db/sqlite.h"

#define ROUNDS 12
#define THREADS 8

static char dir[64], path[128];
static const struct db_options dbo = {5000, 2};
static int ack_fd;

static int insert_value(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    sqlite3 *db = sqlite_conn_handle(c);
    sqlite3_stmt *st = db_prepare_cached(db, "INSERT INTO t(v, pad) VALUES (?, randomblob(200))");
    sqlite3_bind_int64(st, 1, *(int64_t *)arg);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "insert: %s", sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

struct load {
    struct writer *w;
    int64_t next, step;
};

static void *load_thread(void *arg)
{
    struct load *l = arg;
    char err[256];
    for (;;) {
        int64_t v = l->next;
        if (writer_submit(l->w, "crash", insert_value, &v, err, sizeof(err)) == 0) {
            if (write(ack_fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
                _exit(3);
        }
        l->next += l->step;
    }
    return NULL;
}

static void child(int round)
{
    sqlite3 *db;
    if (db_open(path, DB_READWRITE, &dbo, &db) < 0)
        _exit(2);
    struct writer_options o;
    writer_options_default(&o);
    o.checkpoint_pages = 200; /* checkpoints happen during the load, and get killed too */
    struct writer *w = writer_start(sqlite_conn_wrap(db), &o);
    static struct load loads[THREADS];
    pthread_t t;
    for (int i = 0; i < THREADS; i++) {
        loads[i] = (struct load){w, (int64_t)round * 100000000 + i, THREADS};
        pthread_create(&t, NULL, load_thread, &loads[i]);
    }
    for (;;)
        pause();
}

static void test_acknowledged_writes_survive_sigkill(void **state)
{
    (void)state;
    sqlite3 *db;
    assert_int_equal(db_open(path, DB_READWRITE, &dbo, &db), 0);
    assert_int_equal(db_exec(db, "t", "CREATE TABLE t(v INTEGER PRIMARY KEY, pad BLOB)"), 0);
    sqlite3_close(db);
    srand((unsigned)time(NULL));
    size_t cap = 1 << 20, total_acked = 0;
    int64_t *acked = malloc(cap * sizeof(*acked));
    for (int round = 1; round <= ROUNDS; round++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            ack_fd = p[1];
            child(round);
        }
        close(p[1]);
        /* read acknowledgements while the load runs (a full pipe would stall it), then
           kill at a random moment and read what was acknowledged before */
        struct timespec t0, now;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        long kill_after_ms = 100 + rand() % 300;
        size_t n = 0;
        int64_t v;
        for (;;) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            long ms = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
            if (ms >= kill_after_ms)
                break;
            struct pollfd pf = {p[0], POLLIN, 0};
            if (poll(&pf, 1, (int)(kill_after_ms - ms)) > 0 &&
                read(p[0], &v, sizeof(v)) == (ssize_t)sizeof(v) && n < cap)
                acked[n++] = v;
        }
        kill(pid, SIGKILL);
        while (read(p[0], &v, sizeof(v)) == (ssize_t)sizeof(v) && n < cap)
            acked[n++] = v;
        close(p[0]);
        int status;
        waitpid(pid, &status, 0);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

        /* restart: open as serve would, check every acknowledged write and the file */
        assert_int_equal(db_open(path, DB_READWRITE, &dbo, &db), 0);
        char ok[64];
        assert_int_equal(db_query_text(db, "PRAGMA integrity_check", ok, sizeof(ok)), 0);
        assert_string_equal(ok, "ok");
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(db, "SELECT 1 FROM t WHERE v = ?", -1, &st, NULL),
                         SQLITE_OK);
        for (size_t i = 0; i < n; i++) {
            sqlite3_bind_int64(st, 1, acked[i]);
            if (sqlite3_step(st) != SQLITE_ROW)
                fail_msg("round %d: acknowledged write %lld is missing", round,
                         (long long)acked[i]);
            sqlite3_reset(st);
        }
        sqlite3_finalize(st);
        sqlite3_close(db);
        total_acked += n;
        assert_true(n > 0); /* the load really ran before the kill */
    }
    printf("# %d kills, %zu acknowledged writes checked\n", ROUNDS, total_acked);
    free(acked);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/onefile-crash-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/c.db", dir);
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
        cmocka_unit_test(test_acknowledged_writes_survive_sigkill),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
