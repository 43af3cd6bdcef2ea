/* test_migrate.c - migration ordering, checksums, drift, and whole rollback on failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "db/db.h"
#include "db/migrate.h"
#include "fixture.h"

static char dir[64];
static char errbuf[512];
static int ndb;

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/onefile-migrate-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    fixture_remove(dir);
    return 0;
}

static sqlite3 *fresh_db(void)
{
    return fixture_fresh_db(dir, &ndb);
}

/* A plan with one "site" list made of the given files (embedded list left out). */
static void site_plan(struct migration_plan *p, const char *const *names, const char *const *texts,
                      size_t n)
{
    memset(p, 0, sizeof(*p));
    assert_int_equal(
        migrations_from_files(&p->lists[0], "site", names, texts, n, errbuf, sizeof(errbuf)), 0);
    p->nlists = 1;
}

/* Everything that describes the file's schema and data, as one string. */
static char *fingerprint(sqlite3 *db)
{
    struct buf b = BUF_INIT;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT type, name, sql FROM sqlite_schema ORDER BY name",
                                        -1, &st, NULL),
                     SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW)
        buf_addf(&b, "%s|%s|%s\n", sqlite3_column_text(st, 0), sqlite3_column_text(st, 1),
                 sqlite3_column_text(st, 2));
    sqlite3_finalize(st);
    if (migrate_has_table(db) == 1) {
        assert_int_equal(sqlite3_prepare_v2(db,
                                            "SELECT source, version, name, checksum, applied_at "
                                            "FROM schema_migrations ORDER BY 1, 2",
                                            -1, &st, NULL),
                         SQLITE_OK);
        while (sqlite3_step(st) == SQLITE_ROW)
            buf_addf(&b, "%s|%d|%s|%s|%s\n", sqlite3_column_text(st, 0), sqlite3_column_int(st, 1),
                     sqlite3_column_text(st, 2), sqlite3_column_text(st, 3),
                     sqlite3_column_text(st, 4));
        sqlite3_finalize(st);
    }
    return buf_detach(&b, NULL);
}

/* Runs migrate_apply with stderr captured into out. */
static int apply_capturing(sqlite3 *db, const struct migration_plan *p, int *applied, char *out,
                           size_t outlen)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/stderr.txt", dir);
    fflush(stderr);
    int saved = dup(2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    close(fd);
    int rc = migrate_apply(db, p, applied);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    FILE *f = fopen(path, "r");
    size_t n = fread(out, 1, outlen - 1, f);
    out[n] = '\0';
    fclose(f);
    return rc;
}

static void test_names_are_parsed_and_ordered(void **state)
{
    (void)state;
    const char *names[] = {"0010_c.sql", "0002_b.sql", "0001_a.sql"};
    const char *texts[] = {"SELECT 3;", "SELECT 2;", "SELECT 1;"};
    struct migration_list l;
    assert_int_equal(migrations_from_files(&l, "site", names, texts, 3, errbuf, sizeof(errbuf)), 0);
    assert_int_equal(l.items[0].version, 1);
    assert_int_equal(l.items[1].version, 2);
    assert_int_equal(l.items[2].version, 10);
    assert_string_equal(l.items[2].name, "0010_c.sql");
    assert_int_equal(strlen(l.items[0].checksum), 64);
    assert_string_not_equal(l.items[0].checksum, l.items[1].checksum);
    migrations_release(&l);

    const char *bad[] = {"init.sql", "0001-init.sql", "0001_init.txt", "_x.sql", "0001_.sql"};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(
            migrations_from_files(&l, "site", &bad[i], texts, 1, errbuf, sizeof(errbuf)), -1);
        assert_non_null(strstr(errbuf, bad[i]));
    }
    const char *dup[] = {"0001_a.sql", "01_b.sql"};
    assert_int_equal(migrations_from_files(&l, "site", dup, texts, 2, errbuf, sizeof(errbuf)), -1);
    assert_non_null(strstr(errbuf, "same version 1"));
}

static void test_embedded_initial_schema_applies_once(void **state)
{
    (void)state;
    sqlite3 *db = fresh_db();
    struct migration_plan p;
    int applied;
    assert_int_equal(migrate_plan_load(&p, NULL, errbuf, sizeof(errbuf)), 0);
    assert_true(p.lists[0].n >= 1);
    assert_string_equal(p.lists[0].items[0].name, "0001_init.sql");
    assert_int_equal(migrate_apply(db, &p, &applied), 0);
    assert_int_equal(applied, (int)p.lists[0].n);
    const char *tables[] = {
        "users", "sessions",    "api_tokens",    "posts",   "messages",         "post_views",
        "jobs",  "failed_jobs", "schedule_runs", "backups", "schema_migrations"};
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        char sql[128];
        long long n;
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM sqlite_schema WHERE name='%s'", tables[i]);
        assert_int_equal(db_query_int(db, sql, &n), 0);
        if (n != 1)
            fail_msg("table %s missing", tables[i]);
    }
    char *before = fingerprint(db);
    assert_int_equal(migrate_apply(db, &p, &applied), 0);
    assert_int_equal(applied, 0);
    char *after = fingerprint(db);
    assert_string_equal(before, after); /* a second run is a no-op */
    json_t *st;
    assert_int_equal(migrate_status(db, &p, &st), 0);
    assert_int_equal(json_integer_value(json_object_get(st, "version")),
                     p.lists[0].items[p.lists[0].n - 1].version);
    assert_int_equal(json_array_size(json_object_get(st, "pending")), 0);
    assert_int_equal(json_array_size(json_object_get(st, "problems")), 0);
    json_decref(st);
    free(before);
    free(after);
    migrate_plan_release(&p);
    sqlite3_close_v2(db);
}

static void test_failing_migration_is_rolled_back_whole_and_stops(void **state)
{
    (void)state;
    sqlite3 *db = fresh_db();
    const char *names[] = {"0001_ok.sql", "0002_bad.sql", "0003_after.sql"};
    const char *texts[] = {
        "CREATE TABLE t1 (x);\nINSERT INTO t1 VALUES (1);\n",
        "CREATE TABLE t2 (x);\nINSERT INTO t1 VALUES (2);\n\n-- a comment\nINSERT INTO nope "
        "VALUES (1);\n",
        "CREATE TABLE t3 (x);\n",
    };
    struct migration_plan p;
    int applied;
    char out[4096];
    site_plan(&p, names, texts, 1);
    assert_int_equal(migrate_apply(db, &p, &applied), 0);
    migrate_plan_release(&p);
    char *before = fingerprint(db);

    site_plan(&p, names, texts, 3);
    assert_int_equal(apply_capturing(db, &p, &applied, out, sizeof(out)), -1);
    assert_int_equal(applied, 0);
    assert_non_null(strstr(out, "0002_bad.sql"));
    assert_non_null(strstr(out, "line 5"));
    assert_non_null(strstr(out, "no such table: nope"));
    char *after = fingerprint(db);
    assert_string_equal(before, after); /* same schema, same schema_migrations */
    long long n;
    assert_int_equal(db_query_int(db, "SELECT count(*) FROM t1", &n), 0);
    assert_int_equal(n, 1); /* 0002's insert into t1 is gone too */
    assert_int_equal(sqlite3_get_autocommit(db), 1);
    free(before);
    free(after);
    migrate_plan_release(&p);
    sqlite3_close_v2(db);
}

static void test_transaction_control_inside_a_migration_is_refused(void **state)
{
    (void)state;
    sqlite3 *db = fresh_db();
    const char *names[] = {"0001_commit.sql"};
    const char *texts[] = {"CREATE TABLE t1 (x);\nCOMMIT;\nCREATE TABLE t2 (x);\n"};
    struct migration_plan p;
    int applied;
    char out[4096];
    site_plan(&p, names, texts, 1);
    assert_int_equal(apply_capturing(db, &p, &applied, out, sizeof(out)), -1);
    assert_non_null(strstr(out, "line 2"));
    long long n;
    assert_int_equal(db_query_int(db, "SELECT count(*) FROM sqlite_schema", &n), 0);
    assert_int_equal(n, 0); /* nothing committed, not even t1 */
    migrate_plan_release(&p);
    sqlite3_close_v2(db);
}

static void test_changed_or_vanished_file_is_drift(void **state)
{
    (void)state;
    sqlite3 *db = fresh_db();
    const char *names[] = {"0001_a.sql", "0002_b.sql"};
    const char *texts[] = {"CREATE TABLE a (x);", "CREATE TABLE b (x);"};
    const char *edited[] = {"CREATE TABLE a (x, y);", "CREATE TABLE b (x);"};
    struct migration_plan p;
    int applied;
    char out[4096];
    site_plan(&p, names, texts, 2);
    assert_int_equal(migrate_apply(db, &p, &applied), 0);
    assert_int_equal(applied, 2);
    char recorded[65];
    strcpy(recorded, p.lists[0].items[0].checksum);
    migrate_plan_release(&p);

    site_plan(&p, names, edited, 2);
    assert_int_equal(apply_capturing(db, &p, &applied, out, sizeof(out)), -1);
    assert_non_null(strstr(out, "0001_a.sql"));
    assert_non_null(strstr(out, recorded));
    assert_non_null(strstr(out, p.lists[0].items[0].checksum));
    json_t *st;
    assert_int_equal(migrate_status(db, &p, &st), 0);
    assert_int_equal(json_array_size(json_object_get(st, "problems")), 1);
    json_decref(st);
    migrate_plan_release(&p);

    site_plan(&p, names, texts, 1); /* 0002 vanished */
    assert_int_equal(apply_capturing(db, &p, &applied, out, sizeof(out)), -1);
    assert_non_null(strstr(out, "0002_b.sql"));
    assert_non_null(strstr(out, "gone"));
    migrate_plan_release(&p);
    sqlite3_close_v2(db);
}

static void test_database_newer_than_binary(void **state)
{
    (void)state;
    sqlite3 *db = fresh_db();
    struct migration_plan p;
    int applied;
    assert_int_equal(migrate_plan_load(&p, NULL, errbuf, sizeof(errbuf)), 0);
    assert_int_equal(migrate_apply(db, &p, &applied), 0);
    assert_int_equal(db_exec(db, "test",
                             "INSERT INTO schema_migrations VALUES ('onefile', 9999, "
                             "'9999_future.sql', 'x', '2030-01-01T00:00:00Z', 1)"),
                     0);
    json_t *st;
    assert_int_equal(migrate_status(db, &p, &st), 0);
    assert_int_equal(json_integer_value(json_object_get(st, "version")), 9999);
    const char *problem = json_string_value(json_array_get(json_object_get(st, "problems"), 0));
    assert_non_null(problem);
    assert_non_null(strstr(problem, "newer"));
    json_decref(st);
    assert_int_equal(migrate_apply(db, &p, &applied), -1);
    migrate_plan_release(&p);
    sqlite3_close_v2(db);
}

static void test_pending_reported_without_table(void **state)
{
    (void)state;
    sqlite3 *db = fresh_db();
    struct migration_plan p;
    assert_int_equal(migrate_plan_load(&p, NULL, errbuf, sizeof(errbuf)), 0);
    json_t *st;
    assert_int_equal(migrate_status(db, &p, &st), 0);
    assert_int_equal(json_array_size(json_object_get(st, "pending")), p.lists[0].n);
    assert_int_equal(json_integer_value(json_object_get(st, "version")), 0);
    json_decref(st);
    migrate_plan_release(&p);
    sqlite3_close_v2(db);
}

static void test_directory_source(void **state)
{
    (void)state;
    char sub[128], path[160];
    snprintf(sub, sizeof(sub), "%s/site", dir);
    assert_int_equal(system((snprintf(path, sizeof(path), "mkdir -p %s", sub), path)), 0);
    snprintf(path, sizeof(path), "%s/0002_two.sql", sub);
    FILE *f = fopen(path, "w");
    fputs("CREATE TABLE two (x);", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/0001_one.sql", sub);
    f = fopen(path, "w");
    fputs("CREATE TABLE one (x);", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/README.txt", sub); /* ignored */
    f = fopen(path, "w");
    fputs("not a migration", f);
    fclose(f);
    struct migration_plan p;
    assert_int_equal(migrate_plan_load(&p, sub, errbuf, sizeof(errbuf)), 0);
    assert_int_equal(p.nlists, 2);
    assert_int_equal(p.lists[1].n, 2);
    assert_string_equal(p.lists[1].items[0].name, "0001_one.sql");
    sqlite3 *db = fresh_db();
    int applied;
    assert_int_equal(migrate_apply(db, &p, &applied), 0);
    assert_int_equal(applied, (int)(p.lists[0].n + 2));
    migrate_plan_release(&p);
    assert_int_equal(migrate_plan_load(&p, "/nonexistent/dir", errbuf, sizeof(errbuf)), -1);
    assert_non_null(strstr(errbuf, "/nonexistent/dir"));
    sqlite3_close_v2(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_are_parsed_and_ordered),
        cmocka_unit_test(test_embedded_initial_schema_applies_once),
        cmocka_unit_test(test_failing_migration_is_rolled_back_whole_and_stops),
        cmocka_unit_test(test_transaction_control_inside_a_migration_is_refused),
        cmocka_unit_test(test_changed_or_vanished_file_is_drift),
        cmocka_unit_test(test_database_newer_than_binary),
        cmocka_unit_test(test_pending_reported_without_table),
        cmocka_unit_test(test_directory_source),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
