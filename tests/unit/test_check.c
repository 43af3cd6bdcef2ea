/* test_check.c - `onefile check`'s inspection: healthy, delete mode, corrupt, not a
   database, missing, foreign key violations, migrations, an unwritable directory; and
   the checked file is byte-identical (sha256, mtime) afterwards every time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db/check.h"
#include "db/db.h"
#include "db/migrate.h"

static char dir[64];
static char err[1024];
static const struct db_options opts = {5000, 2};
static int nfile;

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/onefile-check-XXXXXX");
    return mkdtemp(dir) && sodium_init() >= 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "chmod -R u+w %s; rm -rf %s", dir, dir);
    return system(cmd);
}

/* A new path in the test directory (nothing created). */
static void new_path(char *out, size_t outlen, const char *ext)
{
    snprintf(out, outlen, "%s/%d.%s", dir, nfile++, ext);
}

static int exists(const char *path, const char *suffix)
{
    char p[256];
    struct stat st;
    snprintf(p, sizeof(p), "%s%s", path, suffix);
    return stat(p, &st) == 0;
}

/* What must not change: the bytes (sha256) and the modification time. */
struct snapshot {
    unsigned char sha[crypto_hash_sha256_BYTES];
    struct timespec mtime;
    off_t size;
};

static void snap(const char *path, struct snapshot *s)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    s->mtime = st.st_mtim;
    s->size = st.st_size;
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    FILE *f = fopen(path, "rb"); /* a test file, no connection open on it */
    assert_non_null(f);
    unsigned char b[8192];
    size_t n;
    while ((n = fread(b, 1, sizeof(b), f)) > 0)
        crypto_hash_sha256_update(&h, b, n);
    fclose(f);
    crypto_hash_sha256_final(&h, s->sha);
}

static void assert_unchanged(const char *path, const struct snapshot *before)
{
    struct snapshot now;
    snap(path, &now);
    assert_int_equal(now.size, before->size);
    assert_memory_equal(now.sha, before->sha, sizeof(now.sha));
    assert_int_equal(now.mtime.tv_sec, before->mtime.tv_sec);
    assert_int_equal(now.mtime.tv_nsec, before->mtime.tv_nsec);
}

/* Whether one of the strings of the report's array `key` contains needle. */
static int has_line(json_t *r, const char *key, const char *needle)
{
    json_t *a = json_object_get(r, key);
    for (size_t i = 0; i < json_array_size(a); i++)
        if (strstr(json_string_value(json_array_get(a, i)), needle))
            return 1;
    return 0;
}

static int has_problem(json_t *r, const char *needle)
{
    return has_line(r, "problems", needle);
}

static int has_note(json_t *r, const char *needle)
{
    return has_line(r, "notes", needle);
}

static void exec_sql(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
}

/* A file made by plain SQLite (not onefile): sql run on a default connection. */
static void plain_db(const char *path, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    exec_sql(db, sql);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* A file as `onefile migrate` leaves it: WAL, onefile's migrations applied, closed. */
static void onefile_db(const char *path, const struct migration_plan *plan)
{
    sqlite3 *db;
    int applied;
    assert_int_equal(db_open(path, DB_READWRITE, &opts, &db), 0);
    assert_int_equal(migrate_apply(db, plan, &applied), 0);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* check_run that must succeed, and must leave the file as it was. */
static json_t *check_ok(const char *path, int full, const struct migration_plan *plan)
{
    struct snapshot before;
    json_t *r = NULL;
    snap(path, &before);
    if (check_run(path, full, plan, &r, err, sizeof(err)) != 0)
        fail_msg("check_run(%s): %s", path, err);
    assert_non_null(r);
    assert_unchanged(path, &before);
    return r;
}

static void test_healthy_onefile_file(void **state)
{
    (void)state;
    char path[128];
    struct migration_plan plan;
    new_path(path, sizeof(path), "db");
    assert_int_equal(migrate_plan_load(&plan, NULL, err, sizeof(err)), 0);
    onefile_db(path, &plan);

    for (int full = 0; full <= 1; full++) {
        json_t *r = check_ok(path, full, &plan);
        if (!json_is_true(json_object_get(r, "ok"))) {
            char *s = json_dumps(r, JSON_INDENT(2));
            fail_msg("not ok:\n%s", s);
        }
        assert_int_equal(json_array_size(json_object_get(r, "problems")), 0);
        assert_string_equal(json_string_value(json_object_get(r, "path")), path);
        assert_string_equal(json_string_value(json_object_get(r, "journal_mode")), "wal");
        assert_true(json_integer_value(json_object_get(r, "page_size")) >= 512);
        assert_true(json_integer_value(json_object_get(r, "page_count")) > 1);
        assert_int_equal(json_integer_value(json_object_get(r, "file_bytes")),
                         json_integer_value(json_object_get(r, "page_size")) *
                             json_integer_value(json_object_get(r, "page_count")));
        assert_true(json_is_integer(json_object_get(r, "freelist_count")));
        assert_true(json_is_integer(json_object_get(r, "wal_bytes")));
        assert_non_null(json_object_get(r, "synchronous"));
        json_t *ic = json_object_get(r, full ? "integrity_check" : "quick_check");
        assert_int_equal(json_array_size(ic), 1);
        assert_string_equal(json_string_value(json_array_get(ic, 0)), "ok");
        assert_null(json_object_get(r, full ? "quick_check" : "integrity_check"));
        json_t *fk = json_object_get(r, "foreign_key_check");
        assert_int_equal(json_integer_value(json_object_get(fk, "violations")), 0);
        json_t *m = json_object_get(r, "migrations");
        assert_non_null(m);
        assert_true(json_integer_value(json_object_get(m, "version")) >= 1);
        assert_int_equal(json_array_size(json_object_get(m, "pending")), 0);
        assert_true(has_note(r, "foreign_key_check"));
        json_decref(r);
        /* a reader may leave an empty -wal beside a WAL file, never a frame in it */
        assert_int_equal(db_file_size(path, "-wal"), 0);
    }
    migrate_plan_release(&plan);
}

static void test_delete_mode_is_named_and_nothing_is_created(void **state)
{
    (void)state;
    char path[128];
    new_path(path, sizeof(path), "sqlite");
    plain_db(path, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);"
                   "INSERT INTO t (v) VALUES ('a'), ('b');");
    json_t *r = check_ok(path, 0, NULL);
    assert_false(json_is_true(json_object_get(r, "ok")));
    assert_string_equal(json_string_value(json_object_get(r, "journal_mode")), "delete");
    assert_true(has_problem(r, "journal_mode is delete, onefile needs wal"));
    assert_int_equal(json_array_size(json_object_get(r, "problems")), 1);
    assert_null(json_object_get(r, "migrations"));
    assert_true(has_note(r, "no schema_migrations table"));
    assert_int_equal(json_integer_value(json_object_get(r, "wal_bytes")), 0);
    json_decref(r);
    assert_false(exists(path, "-wal"));
    assert_false(exists(path, "-shm"));
    assert_false(exists(path, "-journal"));

    /* integrity_check too writes nothing beside it */
    r = check_ok(path, 1, NULL);
    json_decref(r);
    assert_false(exists(path, "-wal"));
    assert_false(exists(path, "-journal"));
}

/* A WAL file with a table of many rows and an index, closed (so all of it is in the main
   file), then two pages in the middle overwritten with garbage: the header and page 1
   (the schema) are intact, so the file opens and the check must name the damage. */
static void test_corruption_is_a_problem(void **state)
{
    (void)state;
    char path[128];
    new_path(path, sizeof(path), "db");
    plain_db(path, "PRAGMA journal_mode=WAL;"
                   "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL);"
                   "CREATE INDEX t_v ON t(v);"
                   "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)"
                   " INSERT INTO t (v) SELECT printf('row %d %s', i, hex(randomblob(20))) FROM n;");
    assert_false(exists(path, "-wal"));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    long pages = (long)(st.st_size / 4096);
    assert_true(pages > 20);

    unsigned char garbage[2 * 4096];
    for (size_t i = 0; i < sizeof(garbage); i++)
        garbage[i] = (unsigned char)(i * 37 + 11);
    FILE *f = fopen(path, "r+b"); /* a test file with no connection open on it */
    assert_non_null(f);
    assert_int_equal(fseek(f, (pages / 2) * 4096L, SEEK_SET), 0);
    assert_int_equal(fwrite(garbage, 1, sizeof(garbage), f), sizeof(garbage));
    assert_int_equal(fclose(f), 0);

    for (int full = 0; full <= 1; full++) {
        json_t *r = check_ok(path, full, NULL);
        const char *name = full ? "integrity_check" : "quick_check";
        assert_false(json_is_true(json_object_get(r, "ok")));
        assert_true(has_problem(r, full ? "integrity_check: " : "quick_check: "));
        json_t *msgs = json_object_get(r, name);
        assert_true(json_array_size(msgs) >= 1);
        assert_string_not_equal(json_string_value(json_array_get(msgs, 0)), "ok");
        for (size_t i = 0; i < json_array_size(msgs); i++) { /* one message an entry */
            const char *m = json_string_value(json_array_get(msgs, i));
            assert_null(strchr(m, '\n'));
            assert_null(strstr(m, "*** in database"));
        }
        /* the journal mode is still read from the intact header */
        assert_string_equal(json_string_value(json_object_get(r, "journal_mode")), "wal");
        json_decref(r);
    }
}

/* Page 1 past the 100-byte header (the schema's root) overwritten: the file is still a
   SQLite database whose schema cannot be read, a problem rather than "cannot check". */
static void test_unreadable_schema_is_a_problem(void **state)
{
    (void)state;
    char path[128];
    new_path(path, sizeof(path), "db");
    plain_db(path, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);"
                   "INSERT INTO t (v) VALUES ('a'), ('b');");
    unsigned char garbage[4096 - 100];
    for (size_t i = 0; i < sizeof(garbage); i++)
        garbage[i] = (unsigned char)(i * 37 + 11);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, 100, SEEK_SET), 0);
    assert_int_equal(fwrite(garbage, 1, sizeof(garbage), f), sizeof(garbage));
    assert_int_equal(fclose(f), 0);

    json_t *r = check_ok(path, 0, NULL);
    assert_false(json_is_true(json_object_get(r, "ok")));
    assert_true(has_problem(r, "cannot read the schema"));
    /* read from the header when the pragma cannot */
    assert_string_equal(json_string_value(json_object_get(r, "journal_mode")), "delete");
    assert_true(has_problem(r, "journal_mode is delete"));
    json_decref(r);
}

/* A write interrupted by a crash leaves a hot journal that only a read-write connection
   may roll back: the file cannot be checked, and the error says why. */
static void test_hot_journal_cannot_be_checked(void **state)
{
    (void)state;
    char path[128];
    new_path(path, sizeof(path), "db");
    plain_db(path, "CREATE TABLE t (x TEXT);"
                   "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)"
                   " INSERT INTO t SELECT printf('%0500d', i) FROM n;");
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* a writer that dies mid-transaction, pages spilled to the file */
        sqlite3 *db;
        int ok = sqlite3_open(path, &db) == SQLITE_OK &&
                 sqlite3_exec(db, "PRAGMA cache_size=10; BEGIN; UPDATE t SET x = 'y' || x;", NULL,
                              NULL, NULL) == SQLITE_OK;
        _exit(ok ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_true(exists(path, "-journal"));

    struct snapshot before;
    snap(path, &before);
    json_t *r = NULL;
    assert_int_equal(check_run(path, 0, NULL, &r, err, sizeof(err)), -1);
    assert_null(r);
    assert_non_null(strstr(err, "hot journal"));
    assert_unchanged(path, &before);
    assert_true(exists(path, "-journal"));
}

static void test_not_a_database(void **state)
{
    (void)state;
    char path[128];
    new_path(path, sizeof(path), "txt");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 200; i++)
        fprintf(f, "this is line %d of a text file, not a database\n", i);
    fclose(f);
    struct snapshot before;
    snap(path, &before);
    json_t *r = json_null(); /* must be reset to NULL */
    assert_int_equal(check_run(path, 0, NULL, &r, err, sizeof(err)), -1);
    assert_null(r);
    assert_non_null(strstr(err, "is not a SQLite database"));
    assert_non_null(strstr(err, path));
    assert_null(strchr(err, '\n'));
    assert_unchanged(path, &before);
    assert_false(exists(path, "-wal"));
    assert_false(exists(path, "-journal"));
}

static void test_missing_file_is_not_created(void **state)
{
    (void)state;
    char path[128];
    new_path(path, sizeof(path), "db");
    json_t *r = NULL;
    assert_int_equal(check_run(path, 0, NULL, &r, err, sizeof(err)), -1);
    assert_null(r);
    assert_non_null(strstr(err, "no such file"));
    assert_non_null(strstr(err, path));
    assert_false(exists(path, ""));
    assert_false(exists(path, "-wal"));
    assert_false(exists(path, "-journal"));

    /* a directory is refused the same way, by name */
    assert_int_equal(check_run(dir, 0, NULL, &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not a regular file"));
}

static void test_foreign_key_violation_is_listed(void **state)
{
    (void)state;
    char path[128];
    new_path(path, sizeof(path), "db");
    /* foreign_keys is off on a default connection: the orphan goes in */
    plain_db(path, "PRAGMA journal_mode=WAL;"
                   "CREATE TABLE parent (id INTEGER PRIMARY KEY);"
                   "CREATE TABLE child (id INTEGER PRIMARY KEY,"
                   " parent_id INTEGER REFERENCES parent(id));"
                   "INSERT INTO parent (id) VALUES (1);"
                   "INSERT INTO child (id, parent_id) VALUES (1, 1), (7, 42), (8, NULL);");
    json_t *r = check_ok(path, 0, NULL);
    assert_false(json_is_true(json_object_get(r, "ok")));
    json_t *fk = json_object_get(r, "foreign_key_check");
    assert_int_equal(json_integer_value(json_object_get(fk, "violations")), 1);
    json_t *row = json_array_get(json_object_get(fk, "rows"), 0);
    assert_string_equal(json_string_value(json_object_get(row, "table")), "child");
    assert_int_equal(json_integer_value(json_object_get(row, "rowid")), 7);
    assert_string_equal(json_string_value(json_object_get(row, "parent")), "parent");
    assert_true(has_problem(r, "foreign keys: 1 row references a missing parent row"));
    assert_true(has_problem(r, "child rowid 7 references parent"));
    assert_int_equal(json_array_size(json_object_get(r, "problems")), 1);
    json_decref(r);
}

/* A site plan of one list. */
static void site_plan(struct migration_plan *p, const char *const *names, const char *const *texts,
                      size_t n)
{
    memset(p, 0, sizeof(*p));
    assert_int_equal(migrations_from_files(&p->lists[0], "site", names, texts, n, err, sizeof(err)),
                     0);
    p->nlists = 1;
}

static void test_pending_and_drift_are_problems(void **state)
{
    (void)state;
    char path[128];
    new_path(path, sizeof(path), "db");
    const char *names[] = {"0001_tags.sql", "0002_more.sql"};
    const char *texts[] = {"CREATE TABLE tags (name TEXT);", "CREATE TABLE more (x);"};
    const char *changed[] = {"CREATE TABLE tags (name TEXT NOT NULL);"};
    struct migration_plan one, two, drift;
    site_plan(&one, names, texts, 1);
    site_plan(&two, names, texts, 2);
    site_plan(&drift, names, changed, 1);
    onefile_db(path, &one);

    json_t *r = check_ok(path, 0, &one);
    assert_true(json_is_true(json_object_get(r, "ok")));
    json_decref(r);

    r = check_ok(path, 0, &two);
    assert_false(json_is_true(json_object_get(r, "ok")));
    assert_true(has_problem(r, "migrations: 1 pending: 0002_more.sql (site)"));
    json_decref(r);

    r = check_ok(path, 0, &drift);
    assert_false(json_is_true(json_object_get(r, "ok")));
    assert_true(has_problem(r, "migrations: migration 0001_tags.sql (site) changed"));
    json_decref(r);

    migrate_plan_release(&one);
    migrate_plan_release(&two);
    migrate_plan_release(&drift);
}

/* Runs fn as an unprivileged user (nobody) when the tests run as root, so that directory
   permissions apply; returns what fn returned. */
static int unprivileged(int (*fn)(const char *), const char *path)
{
    if (geteuid() != 0)
        return fn(path);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int rc = setgid(65534) == 0 && setuid(65534) == 0 ? fn(path) : 99;
        _exit(rc);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* 0 when path checks healthy, read as immutable, in WAL mode. */
static int expect_immutable_ok(const char *path)
{
    json_t *r = NULL;
    int rc = 1;
    if (check_run(path, 0, NULL, &r, err, sizeof(err)) != 0) {
        fprintf(stderr, "check_run: %s\n", err);
        goto out;
    }
    if (!json_is_true(json_object_get(r, "ok")) || !has_note(r, "read as immutable") ||
        strcmp(json_string_value(json_object_get(r, "journal_mode")), "wal") != 0) {
        char *s = json_dumps(r, JSON_INDENT(2));
        fprintf(stderr, "unexpected report:\n%s\n", s);
        free(s);
        goto out;
    }
    rc = 0;
out:
    json_decref(r);
    return rc;
}

/* 0 when path cannot be checked, with the -shm named in the error. */
static int expect_shm_error(const char *path)
{
    json_t *r = NULL;
    if (check_run(path, 0, NULL, &r, err, sizeof(err)) != -1) {
        json_decref(r);
        return 1;
    }
    if (!strstr(err, "WAL mode") || !strstr(err, "-shm") || strchr(err, '\n')) {
        fprintf(stderr, "unexpected error: %s\n", err);
        return 2;
    }
    return 0;
}

/* A WAL file in a directory the checker cannot write: with no -wal content it is read as
   immutable; with -wal content and no -shm it cannot be read, and the error says why. */
static void test_unwritable_directory(void **state)
{
    (void)state;
    char sub[96], clean[128], pending[128];
    snprintf(sub, sizeof(sub), "%s/ro", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    assert_int_equal(chmod(dir, 0755), 0); /* nobody may traverse it */
    snprintf(clean, sizeof(clean), "%s/clean.db", sub);
    snprintf(pending, sizeof(pending), "%s/pending.db", sub);
    plain_db(clean, "PRAGMA journal_mode=WAL; CREATE TABLE t (x); INSERT INTO t VALUES (1);");
    assert_false(exists(clean, "-wal"));

    /* leave committed frames in pending.db-wal: no checkpoint on close, -shm removed */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(pending, &db), SQLITE_OK);
    exec_sql(db, "PRAGMA journal_mode=WAL; CREATE TABLE t (x);");
    assert_int_equal(sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL), SQLITE_OK);
    exec_sql(db, "INSERT INTO t VALUES (1);");
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    assert_true(db_file_size(pending, "-wal") > 0);
    char shm[160];
    snprintf(shm, sizeof(shm), "%s-shm", pending);
    assert_int_equal(unlink(shm), 0);

    struct snapshot before_clean, before_pending;
    snap(clean, &before_clean);
    snap(pending, &before_pending);
    assert_int_equal(chmod(sub, 0555), 0);
    assert_int_equal(unprivileged(expect_immutable_ok, clean), 0);
    assert_int_equal(unprivileged(expect_shm_error, pending), 0);
    assert_int_equal(chmod(sub, 0755), 0);
    assert_unchanged(clean, &before_clean);
    assert_unchanged(pending, &before_pending);
    assert_false(exists(clean, "-wal"));
    assert_false(exists(clean, "-shm"));
}

/* A path SQLite would read as a URI, or that holds URI syntax, is still just a path. */
static void test_uri_like_path(void **state)
{
    (void)state;
    char path[160];
    snprintf(path, sizeof(path), "%s/file:odd?mode=rwc#x%%20y.db", dir);
    plain_db(path, "PRAGMA journal_mode=WAL; CREATE TABLE t (x);"); /* opened via sqlite3_open */
    assert_true(exists(path, ""));
    json_t *r = check_ok(path, 0, NULL);
    assert_true(json_is_true(json_object_get(r, "ok")));
    assert_string_equal(json_string_value(json_object_get(r, "path")), path);
    json_decref(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_healthy_onefile_file),
        cmocka_unit_test(test_delete_mode_is_named_and_nothing_is_created),
        cmocka_unit_test(test_corruption_is_a_problem),
        cmocka_unit_test(test_unreadable_schema_is_a_problem),
        cmocka_unit_test(test_hot_journal_cannot_be_checked),
        cmocka_unit_test(test_not_a_database),
        cmocka_unit_test(test_missing_file_is_not_created),
        cmocka_unit_test(test_foreign_key_violation_is_listed),
        cmocka_unit_test(test_pending_and_drift_are_problems),
        cmocka_unit_test(test_unwritable_directory),
        cmocka_unit_test(test_uri_like_path),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
