/* test_db.c - connections: pragmas set, read back, and a mismatch refused by name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/db.h"

static char dir[64];
static const struct db_options opts = {1234, 2};

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/onefile-db-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd);
}

static void test_readwrite_sets_and_verifies_every_pragma(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/new/sub/x.db", dir); /* directories created */
    sqlite3 *db;
    assert_int_equal(db_open(path, DB_READWRITE, &opts, &db), 0);
    char text[32];
    long long v;
    assert_int_equal(db_query_text(db, "PRAGMA journal_mode", text, sizeof(text)), 0);
    assert_string_equal(text, "wal");
    /* verified at 1234, then replaced by the counting handler: SQLite reads 0 */
    assert_int_equal(db_query_int(db, "PRAGMA busy_timeout", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(db_query_int(db, "PRAGMA foreign_keys", &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(db_query_int(db, "PRAGMA synchronous", &v), 0);
    assert_int_equal(v, 2);
    assert_int_equal(db_query_int(db, "PRAGMA temp_store", &v), 0);
    assert_int_equal(v, 2);
    assert_int_equal(db_query_int(db, "PRAGMA journal_size_limit", &v), 0);
    assert_int_equal(v, DB_JOURNAL_SIZE_LIMIT);

    /* a read-only connection beside it verifies WAL without setting it */
    sqlite3 *ro;
    const struct db_options normal = {10, 1};
    assert_int_equal(db_open(path, DB_READONLY, &normal, &ro), 0);
    assert_int_equal(db_query_int(ro, "PRAGMA synchronous", &v), 0);
    assert_int_equal(v, 1);
    assert_int_not_equal(sqlite3_exec(ro, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close_v2(ro);
    sqlite3_close_v2(db);
}

static void test_verify_names_pragma_wanted_and_actual(void **state)
{
    (void)state;
    char path[128], err[256];
    snprintf(path, sizeof(path), "%s/v.db", dir);
    sqlite3 *db;
    assert_int_equal(db_open(path, DB_READWRITE, &opts, &db), 0);
    sqlite3_close_v2(db);
    /* a connection set up by hand, as db_open does before its busy handler */
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "PRAGMA busy_timeout=1234; PRAGMA foreign_keys=ON;"
                                  "PRAGMA synchronous=FULL; PRAGMA temp_store=MEMORY;"
                                  "PRAGMA cache_size=-16384;"
                                  "PRAGMA journal_size_limit=67108864;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(db_verify(db, DB_READWRITE, &opts, err, sizeof(err)), 0);
    const struct db_options other = {5000, 1};
    assert_int_equal(db_verify(db, DB_READWRITE, &other, err, sizeof(err)), -1);
    assert_string_equal(err, "pragma busy_timeout: wanted 5000, got 1234");
    sqlite3_exec(db, "PRAGMA foreign_keys=OFF", NULL, NULL, NULL);
    assert_int_equal(db_verify(db, DB_READWRITE, &opts, err, sizeof(err)), -1);
    assert_string_equal(err, "pragma foreign_keys: wanted 1, got 0");
    sqlite3_close_v2(db);
}

static void test_busy_handler_counts_and_keeps_the_budget(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/busy.db", dir);
    const struct db_options short_budget = {120, 2};
    sqlite3 *a, *b;
    assert_int_equal(db_open(path, DB_READWRITE, &opts, &a), 0);
    assert_int_equal(db_open(path, DB_READWRITE, &short_budget, &b), 0);
    assert_int_equal(sqlite3_exec(a, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    uint64_t before = db_busy_retries();
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(sqlite3_exec(b, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_BUSY);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    assert_true(db_busy_retries() - before >= 5); /* 1+2+5+10+15+20+25+25 ms... */
    assert_true(ms >= 100.0);
    assert_true(ms < 2000.0);
    sqlite3_exec(a, "ROLLBACK", NULL, NULL, NULL);
    assert_int_equal(sqlite3_exec(b, "BEGIN IMMEDIATE; COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close_v2(a);
    sqlite3_close_v2(b);
}

static void test_wal_refused_is_an_error(void **state)
{
    (void)state;
    /* an in-memory database cannot be in WAL mode: journal_mode stays "memory" */
    sqlite3 *db;
    assert_int_equal(db_open(":memory:", DB_READWRITE, &opts, &db), -1);
    assert_null(db);
    char err[256];
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
    assert_int_equal(db_verify(db, DB_READWRITE, &opts, err, sizeof(err)), -1);
    assert_string_equal(err, "pragma journal_mode: wanted wal, got memory");
    sqlite3_close(db);
}

static void test_readonly_refuses_a_rollback_journal_file(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/delete.db", dir);
    sqlite3 *raw;
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(raw, "PRAGMA journal_mode=DELETE; CREATE TABLE t(x);", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(raw);
    sqlite3 *db;
    assert_int_equal(db_open(path, DB_READONLY, &opts, &db), -1);
    assert_null(db);
    /* and the file is still in rollback-journal mode: nothing converted it */
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    char text[32];
    assert_int_equal(db_query_text(raw, "PRAGMA journal_mode", text, sizeof(text)), 0);
    assert_string_equal(text, "delete");
    sqlite3_close(raw);
    /* a missing file is not created by a read-only open */
    snprintf(path, sizeof(path), "%s/missing.db", dir);
    assert_int_equal(db_open(path, DB_READONLY, &opts, &db), -1);
    assert_int_equal(access(path, F_OK), -1);
}

static void test_file_sizes_by_stat(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/s.db", dir);
    sqlite3 *db;
    assert_int_equal(db_open(path, DB_READWRITE, &opts, &db), 0);
    assert_int_equal(db_exec(db, "test", "CREATE TABLE t(x); INSERT INTO t VALUES (1)"), 0);
    assert_true(db_file_size(path, "-wal") > 0);
    assert_int_equal(db_file_size(path, "-nothing"), 0);
    sqlite3_close_v2(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readwrite_sets_and_verifies_every_pragma),
        cmocka_unit_test(test_verify_names_pragma_wanted_and_actual),
        cmocka_unit_test(test_busy_handler_counts_and_keeps_the_budget),
        cmocka_unit_test(test_wal_refused_is_an_error),
        cmocka_unit_test(test_readonly_refuses_a_rollback_journal_file),
        cmocka_unit_test(test_file_sizes_by_stat),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
