/*
 * test_pg_driver.c - the PostgreSQL driver (db/pg.c) through the statement interface,
 * against a real PostgreSQL 15: CTest runs it under `tests/system/pg.py run`, which starts
 * a server, creates a database and passes its URL in ONEFILE_TEST_PG_URL (a missing URL is
 * a failure, not a skip).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>

#include "db/pg.h"

static const char *url;

static struct db_conn *open_conn(enum db_mode mode)
{
    struct db_conn *c = NULL;
    assert_int_equal(pg_conn_open(url, mode, NULL, &c), 0);
    assert_non_null(c);
    assert_int_equal(db_engine(c), DB_ENGINE_POSTGRES);
    return c;
}

static int64_t scalar(struct db_conn *c, const char *sql)
{
    struct db_stmt *st = db_prepare_once(c, sql);
    assert_non_null(st);
    assert_int_equal(db_step(st), DB_ROW);
    int64_t v = db_column_int64(st, 0);
    db_finalize(st);
    return v;
}

static void expect_translation(const char *in, int insert, const char *want, int want_n)
{
    char err[128];
    int n = -1;
    char *got = pg_translate(in, insert, &n, err, sizeof(err));
    assert_non_null(got);
    assert_string_equal(got, want);
    assert_int_equal(n, want_n);
    free(got);
}

static void test_placeholders_translated_outside_quotes(void **state)
{
    (void)state;
    expect_translation("SELECT a FROM t WHERE b = ?1 AND c = ?2 OR d = ?1", 0,
                       "SELECT a FROM t WHERE b = $1 AND c = $2 OR d = $1", 2);
    expect_translation("SELECT '?1', 'it''s ?2', \"q?3\", E'\\'?4' FROM t WHERE x = ?10", 0,
                       "SELECT '?1', 'it''s ?2', \"q?3\", E'\\'?4' FROM t WHERE x = $10", 10);
    expect_translation("SELECT 1 -- ?1\n/* ?2 /* ?3 */ */ + ?1", 0,
                       "SELECT 1 -- ?1\n/* ?2 /* ?3 */ */ + $1", 1);
    expect_translation("DO $x$ BEGIN PERFORM '?1'; END $x$; SELECT $$?2$$, ?3", 0,
                       "DO $x$ BEGIN PERFORM '?1'; END $x$; SELECT $$?2$$, $3", 3);
    expect_translation("INSERT INTO t (a) VALUES (?1);\n", 1,
                       "INSERT INTO t (a) VALUES ($1) RETURNING id", 1);
    char err[128];
    int n;
    assert_null(pg_translate("SELECT ?", 0, &n, err, sizeof(err)));
    assert_non_null(strstr(err, "not ?N"));
    assert_null(pg_translate("SELECT ?0", 0, &n, err, sizeof(err)));
}

static void test_sqlstates_map_to_codes(void **state)
{
    (void)state;
    assert_int_equal(pg_code("23505"), DB_EUNIQUE);
    assert_int_equal(pg_code("23502"), DB_ECONSTRAINT);
    assert_int_equal(pg_code("23503"), DB_ECONSTRAINT);
    assert_int_equal(pg_code("40001"), DB_EBUSY);
    assert_int_equal(pg_code("40P01"), DB_EBUSY);
    assert_int_equal(pg_code("25006"), DB_EREADONLY);
    assert_int_equal(pg_code("53100"), DB_EFULL);
    assert_int_equal(pg_code("08006"), DB_EIO);
    assert_int_equal(pg_code("XX001"), DB_ECORRUPT);
    assert_int_equal(pg_code("42601"), DB_ERR);
    assert_int_equal(pg_code(NULL), DB_EIO);
}

static const char *const insert_sql = "INSERT INTO t (s, n, d, b) VALUES (?1, ?2, ?3, ?4)";

static void test_statements_round_trip(void **state)
{
    (void)state;
    struct db_conn *c = open_conn(DB_READWRITE);
    char err[256];
    assert_int_equal(db_execute(c,
                                "DROP TABLE IF EXISTS t; CREATE TABLE t (id bigint GENERATED "
                                "BY DEFAULT AS IDENTITY PRIMARY KEY, s text NOT NULL UNIQUE, "
                                "n bigint CHECK (n >= 0), d double precision, b bytea, "
                                "f boolean NOT NULL DEFAULT true)",
                                err, sizeof(err)),
                     0);
    unsigned char bytes[256];
    for (int i = 0; i < 256; i++)
        bytes[i] = (unsigned char)i;
    struct db_stmt *ins = db_prepare_insert(c, insert_sql);
    assert_non_null(ins);
    db_bind_text(ins, 1, "first");
    db_bind_int64(ins, 2, INT64_C(9007199254740993));
    db_bind_double(ins, 3, 0.1);
    db_bind_blob(ins, 4, bytes, sizeof(bytes));
    assert_int_equal(db_step(ins), DB_DONE);
    assert_int_equal(db_insert_id(ins), 1);
    assert_int_equal(db_changes(c), 1);
    db_reset(ins);
    /* the cache gives back the same statement, unbound */
    assert_ptr_equal(db_prepare_insert(c, insert_sql), ins);
    db_bind_textn(ins, 1, "second-and-more", 6);
    assert_int_equal(db_run(ins, err, sizeof(err)), 0);
    assert_int_equal(db_insert_id(ins), 2);
    int64_t prepared = scalar(c, "SELECT count(*) FROM pg_prepared_statements");
    for (int i = 0; i < 50; i++) {
        struct db_stmt *st = db_prepare(c, "SELECT count(*) FROM t WHERE s <> ?1");
        db_bind_text(st, 1, "x");
        assert_int_equal(db_step(st), DB_ROW);
        assert_int_equal(db_column_int64(st, 0), 2);
        db_reset(st);
    }
    /* one more cached statement, not fifty */
    assert_int_equal(scalar(c, "SELECT count(*) FROM pg_prepared_statements"), prepared + 1);

    struct db_stmt *sel =
        db_prepare(c, "SELECT id, s, n, d, b, f, '?1' FROM t WHERE s = ?1 OR s = ?2 ORDER BY id");
    assert_non_null(sel);
    db_bind_text(sel, 1, "first");
    db_bind_text(sel, 2, "second");
    /* names are known before the first step (the server describes the statement) */
    assert_int_equal(db_column_count(sel), 7);
    assert_string_equal(db_column_name(sel, 1), "s");
    assert_int_equal(db_step(sel), DB_ROW);
    assert_string_equal(db_column_name(sel, 0), "id");
    assert_int_equal(db_column_type(sel, 0), DB_INTEGER);
    assert_int_equal(db_column_type(sel, 1), DB_TEXT);
    assert_int_equal(db_column_type(sel, 2), DB_INTEGER);
    assert_int_equal(db_column_type(sel, 3), DB_FLOAT);
    assert_int_equal(db_column_type(sel, 4), DB_BLOB);
    assert_int_equal(db_column_type(sel, 5), DB_INTEGER);
    assert_int_equal(db_column_int64(sel, 0), 1);
    assert_string_equal(db_column_text(sel, 1), "first");
    assert_true(db_column_int64(sel, 2) == INT64_C(9007199254740993));
    assert_true(db_column_double(sel, 3) == 0.1);
    assert_int_equal(db_column_bytes(sel, 4), 256);
    assert_memory_equal(db_column_blob(sel, 4), bytes, 256);
    assert_int_equal(db_column_int64(sel, 5), 1);
    assert_string_equal(db_column_text(sel, 6), "?1");
    assert_int_equal(db_step(sel), DB_ROW);
    assert_string_equal(db_column_text(sel, 1), "second"); /* six bytes of the textn */
    assert_true(db_column_is_null(sel, 2));
    assert_int_equal(db_column_type(sel, 2), DB_NULL);
    assert_null(db_column_text(sel, 2));
    assert_int_equal(db_column_int64(sel, 2), 0);
    assert_null(db_column_blob(sel, 4));
    assert_int_equal(db_step(sel), DB_DONE);
    db_reset(sel);

    /* a NUL inside a text is refused by the server, never cut short */
    db_prepare_insert(c, insert_sql);
    db_bind_textn(ins, 1, "a\0b", 3);
    assert_true(db_step(ins) < 0);
    assert_non_null(strstr(db_errmsg(c), "0x00"));
    db_reset(ins);
    assert_int_equal(scalar(c, "SELECT count(*) FROM t"), 2);
    assert_int_equal(scalar(c, "SELECT count(*) FROM t WHERE s LIKE 'a%'"), 0);

    /* constraint classes */
    db_prepare_insert(c, insert_sql);
    db_bind_text(ins, 1, "first");
    assert_int_equal(db_run(ins, err, sizeof(err)), DB_EUNIQUE);
    assert_non_null(strstr(err, "duplicate key"));
    db_prepare_insert(c, insert_sql);
    db_bind_text(ins, 1, "negative");
    db_bind_int64(ins, 2, -1);
    assert_int_equal(db_run(ins, err, sizeof(err)), DB_ECONSTRAINT);
    db_prepare_insert(c, insert_sql);
    assert_int_equal(db_run(ins, err, sizeof(err)), DB_ECONSTRAINT); /* s NULL */
    assert_int_equal(db_bind_int64(ins, 5, 1), DB_ERR);              /* no parameter 5 */

    /* the server's own SQLSTATEs, raised for real, reach the caller as the codes */
    static const struct {
        const char *state;
        int code;
    } raised[] = {{"40001", DB_EBUSY},
                  {"40P01", DB_EBUSY},
                  {"53100", DB_EFULL},
                  {"25006", DB_EREADONLY},
                  {"XX001", DB_ECORRUPT}};
    for (size_t i = 0; i < sizeof(raised) / sizeof(raised[0]); i++) {
        char sql[160];
        snprintf(sql, sizeof(sql),
                 "DO $$ BEGIN RAISE EXCEPTION 'raised' USING ERRCODE = '%s'; "
                 "END $$",
                 raised[i].state);
        assert_int_equal(db_execute(c, sql, err, sizeof(err)), raised[i].code);
        assert_non_null(strstr(err, "raised"));
    }
    /* a parameter PostgreSQL cannot type from its context (`?1 IS NULL` first) is text */
    struct db_stmt *untyped = db_prepare(
        c, "SELECT count(*) FROM t WHERE (?1 IS NULL OR s = ?1) AND (CASE WHEN ?2 IS NULL "
           "THEN 1 ELSE 0 END) = 1");
    assert_non_null(untyped);
    db_bind_text(untyped, 1, "first");
    assert_int_equal(db_step(untyped), DB_ROW);
    assert_int_equal(db_column_int64(untyped, 0), 1);
    db_reset(untyped);
    /* the same inside a transaction, which the retry must not abort */
    assert_int_equal(db_execute(c, "BEGIN", err, sizeof(err)), 0);
    untyped = db_prepare(c, "SELECT count(*) FROM t WHERE (?1 IS NULL OR s <> ?1)");
    assert_non_null(untyped);
    assert_int_equal(db_step(untyped), DB_ROW);
    assert_int_equal(db_column_int64(untyped, 0), 2);
    db_reset(untyped);
    assert_int_equal(db_execute(c, "COMMIT", err, sizeof(err)), 0);
    /* a prepare that cannot work is NULL, logged; the connection goes on */
    assert_null(db_prepare(c, "SELEC 1"));
    assert_null(db_prepare(c, "SELECT ?"));
    assert_int_equal(scalar(c, "SELECT 7"), 7);
    assert_int_equal(db_conn_close(c), 0);
}

static void test_read_only_connection(void **state)
{
    (void)state;
    struct db_conn *c = open_conn(DB_READONLY);
    char err[256];
    assert_int_equal(db_execute(c, "CREATE TABLE ro_attempt (x int)", err, sizeof(err)),
                     DB_EREADONLY);
    assert_int_equal(scalar(c, "SELECT count(*) FROM t"), 2);
    assert_int_equal(db_conn_close(c), 0);
}

/* The server ends the session (an administrator's pg_terminate_backend, a restart, a
   failover): the next statement fails as DB_EIO with a message that says so, and the
   connection reports itself down. */
static void test_connection_lost(void **state)
{
    (void)state;
    struct db_conn *victim = open_conn(DB_READWRITE);
    struct db_conn *admin = open_conn(DB_READWRITE);
    struct db_stmt *st = db_prepare(victim, "SELECT count(*) FROM t WHERE n > ?1");
    assert_non_null(st);
    int64_t pid = scalar(victim, "SELECT pg_backend_pid()");
    struct db_stmt *kill = db_prepare(admin, "SELECT pg_terminate_backend(?1::int)");
    db_bind_int64(kill, 1, pid);
    assert_int_equal(db_step(kill), DB_ROW);
    assert_int_equal(db_column_int64(kill, 0), 1);
    db_reset(kill);
    assert_true(pg_conn_ok(victim)); /* libpq has not noticed yet */
    db_bind_int64(st, 1, 0);
    assert_int_equal(db_step(st), DB_EIO);
    assert_non_null(strstr(db_errmsg(victim), "connection to PostgreSQL lost"));
    db_reset(st);
    assert_false(pg_conn_ok(victim));
    char err[256];
    assert_int_equal(db_execute(victim, "SELECT 1", err, sizeof(err)), DB_EIO);
    assert_int_equal(db_conn_close(victim), 0);
    assert_int_equal(db_conn_close(admin), 0);
}

static void test_unreachable_server(void **state)
{
    (void)state;
    struct db_conn *c = (struct db_conn *)1;
    assert_int_equal(pg_conn_open("postgres://u:pw@127.0.0.1:1/db", DB_READWRITE, NULL, &c), -1);
    assert_null(c);
}

int main(void)
{
    url = getenv("ONEFILE_TEST_PG_URL");
    if (!url) {
        fprintf(stderr, "ONEFILE_TEST_PG_URL is not set: run under tests/system/pg.py run\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_placeholders_translated_outside_quotes),
        cmocka_unit_test(test_sqlstates_map_to_codes),
        cmocka_unit_test(test_statements_round_trip),
        cmocka_unit_test(test_read_only_connection),
        cmocka_unit_test(test_connection_lost),
        cmocka_unit_test(test_unreachable_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
