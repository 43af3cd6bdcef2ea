/* test_lint.c - the destructive-change lint (every finding kind, the marker, additive
   forms), the `-- onefile:rebuild` twelve-step rebuild on real data, and pending
   migrations applied all or none. */
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

/* posts with a UNIQUE and a plain index, and two rows; applied as site 0001 */
static const char base_sql[] =
    "CREATE TABLE posts (id INTEGER PRIMARY KEY, slug TEXT NOT NULL, title TEXT, legacy TEXT);\n"
    "CREATE UNIQUE INDEX posts_slug ON posts(slug);\n"
    "CREATE INDEX posts_title ON posts(title);\n"
    "CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT);\n"
    "INSERT INTO authors (id, name) VALUES (1, 'ann');\n"
    "INSERT INTO posts (slug, title, legacy) VALUES ('a', 'A', 'x'), ('b', 'B', 'y');\n";

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/onefile-lint-XXXXXX");
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

/* A plan with one "site" list made of the given files. */
static void site_plan(struct migration_plan *p, const char *const *names, const char *const *texts,
                      size_t n)
{
    memset(p, 0, sizeof(*p));
    if (migrations_from_files(&p->lists[0], "site", names, texts, n, errbuf, sizeof(errbuf)) < 0)
        fail_msg("migrations_from_files: %s", errbuf);
    p->nlists = 1;
}

/* A file database with `base` applied as site migration 0001_base.sql. */
static sqlite3 *db_with(const char *base)
{
    sqlite3 *db = fresh_db();
    const char *names[] = {"0001_base.sql"};
    const char *texts[] = {base};
    struct migration_plan p;
    int applied;
    site_plan(&p, names, texts, 1);
    assert_int_equal(migrate_apply(db, &p, &applied), 0);
    assert_int_equal(applied, 1);
    migrate_plan_release(&p);
    return db;
}

/* The plan 0001_base.sql (base) followed by one more site file. */
static void plan_with(struct migration_plan *p, const char *base, const char *name,
                      const char *text)
{
    const char *names[] = {"0001_base.sql", name};
    const char *texts[] = {base, text};
    site_plan(p, names, texts, 2);
}

/* Schema, schema_migrations and every table's rows, as one string. */
static char *fingerprint(sqlite3 *db)
{
    struct buf b = BUF_INIT;
    sqlite3_stmt *st, *rows;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT type, name, sql FROM sqlite_schema ORDER BY name",
                                        -1, &st, NULL),
                     SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *type = (const char *)sqlite3_column_text(st, 0);
        const char *name = (const char *)sqlite3_column_text(st, 1);
        buf_addf(&b, "%s|%s|%s\n", type, name, sqlite3_column_text(st, 2));
        if (strcmp(type, "table") != 0)
            continue;
        char *sql = sqlite3_mprintf("SELECT * FROM \"%w\" ORDER BY 1", name);
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &rows, NULL), SQLITE_OK);
        sqlite3_free(sql);
        while (sqlite3_step(rows) == SQLITE_ROW) {
            buf_adds(&b, "  ");
            for (int i = 0; i < sqlite3_column_count(rows); i++) {
                const unsigned char *v = sqlite3_column_text(rows, i);
                buf_addf(&b, "%s%s", i ? "," : "", v ? (const char *)v : "NULL");
            }
            buf_addc(&b, '\n');
        }
        sqlite3_finalize(rows);
    }
    sqlite3_finalize(st);
    return buf_detach(&b, NULL);
}

/* migrate_apply_report with stderr captured into out. */
static int apply_capturing(sqlite3 *db, const struct migration_plan *p, int *applied,
                           json_t *report, char *out, size_t outlen)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/stderr.txt", dir);
    fflush(stderr);
    int saved = dup(2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    close(fd);
    int rc = migrate_apply_report(db, p, applied, report);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    FILE *f = fopen(path, "r");
    size_t n = fread(out, 1, outlen - 1, f);
    out[n] = '\0';
    fclose(f);
    return rc;
}

/* The first finding of that kind, or NULL. */
static json_t *finding(json_t *findings, const char *kind)
{
    size_t i;
    json_t *f;
    json_array_foreach(findings, i, f)
    {
        if (strcmp(json_string_value(json_object_get(f, "kind")), kind) == 0)
            return f;
    }
    return NULL;
}

static const char *field(json_t *f, const char *key)
{
    const char *v = json_string_value(json_object_get(f, key));
    assert_non_null(v);
    return v;
}

static long long query_int(sqlite3 *db, const char *sql)
{
    long long n = -1;
    if (db_query_int(db, sql, &n) < 0)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    return n;
}

static char *dump_findings(json_t *findings)
{
    return json_dumps(findings, JSON_INDENT(1));
}

#define CHANGE "0002_change.sql"

/* The file used by the destructive-form tests: the statement sits on line 3 (or its
   rebuild's CREATE TABLE on line 4); the marked version adds the marker at the end. */
static char *change_text(const char *stmt, int marked)
{
    struct buf b = BUF_INIT;
    buf_addf(&b, "-- %s: a change\nCREATE TABLE other (x);\n%s\n", CHANGE, stmt);
    if (marked)
        buf_adds(&b, "-- onefile:destructive the test says this is intended\n");
    return buf_detach(&b, NULL);
}

/* Lints, and refuses, stmt without the marker (one finding `kind` at `line`, blocking,
   nothing applied); then lints and applies it with the marker (the finding allowed).
   Returns the database with the marked migration applied. */
static sqlite3 *check_destructive(const char *stmt, const char *kind, int line)
{
    sqlite3 *db = db_with(base_sql);
    char *before = fingerprint(db);
    char out[8192], where[128];
    struct migration_plan p;
    json_t *findings;
    int applied;
    snprintf(where, sizeof(where), "%s (site) line %d: ", CHANGE, line);

    /* without the marker: refused */
    char *text = change_text(stmt, 0);
    plan_with(&p, base_sql, CHANGE, text);
    int blocking = migrate_lint(db, &p, &findings);
    char *dump = dump_findings(findings);
    if (blocking != 1 || json_array_size(findings) != 1)
        fail_msg("%s: blocking %d, findings %s", stmt, blocking, dump);
    json_t *f = json_array_get(findings, 0);
    assert_string_equal(field(f, "kind"), kind);
    assert_string_equal(field(f, "file"), CHANGE);
    assert_string_equal(field(f, "source"), "site");
    assert_int_equal(json_integer_value(json_object_get(f, "line")), line);
    assert_true(json_is_false(json_object_get(f, "allowed")));
    const char *msg = field(f, "message");
    if (strncmp(msg, where, strlen(where)) != 0)
        fail_msg("message '%s' does not start with '%s'", msg, where);
    assert_non_null(strstr(msg, "multi-step"));
    assert_non_null(strstr(msg, "-- onefile:destructive <reason>"));
    if (strncmp(stmt, "-- onefile:rebuild", 18) != 0) {
        char want[256];
        snprintf(want, sizeof(want), "%.*s", (int)strlen(stmt) - 1, stmt); /* no ';' */
        if (!strstr(field(f, "statement"), want))
            fail_msg("statement '%s' lacks '%s'", field(f, "statement"), want);
    }
    free(dump);
    json_decref(findings);

    assert_int_equal(apply_capturing(db, &p, &applied, NULL, out, sizeof(out)), -1);
    assert_int_equal(applied, 0);
    assert_non_null(strstr(out, where));
    assert_non_null(strstr(out, "refusing to migrate"));
    char *after = fingerprint(db);
    assert_string_equal(before, after); /* not even `other` was created */
    free(after);
    migrate_plan_release(&p);
    free(text);

    /* with the marker: allowed, applied */
    text = change_text(stmt, 1);
    plan_with(&p, base_sql, CHANGE, text);
    blocking = migrate_lint(db, &p, &findings);
    dump = dump_findings(findings);
    if (blocking != 0 || json_array_size(findings) != 1)
        fail_msg("%s (marked): blocking %d, findings %s", stmt, blocking, dump);
    f = json_array_get(findings, 0);
    assert_string_equal(field(f, "kind"), kind);
    assert_int_equal(json_integer_value(json_object_get(f, "line")), line);
    assert_true(json_is_true(json_object_get(f, "allowed")));
    assert_null(strstr(field(f, "message"), "multi-step"));
    free(dump);
    json_decref(findings);
    assert_int_equal(apply_capturing(db, &p, &applied, NULL, out, sizeof(out)), 0);
    assert_int_equal(applied, 1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'other'"), 1);
    migrate_plan_release(&p);
    free(text);
    free(before);
    return db;
}

static void test_drop_table_is_flagged(void **state)
{
    (void)state;
    sqlite3 *db = check_destructive("DROP TABLE posts;", "drop-table", 3);
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'posts'"), 0);
    sqlite3_close_v2(db);
}

static void test_drop_column_is_flagged(void **state)
{
    (void)state;
    sqlite3 *db = check_destructive("ALTER TABLE posts DROP COLUMN legacy;", "drop-column", 3);
    assert_int_equal(
        query_int(db, "SELECT count(*) FROM pragma_table_info('posts') WHERE name = 'legacy'"), 0);
    sqlite3_close_v2(db);
}

static void test_drop_unique_index_is_flagged(void **state)
{
    (void)state;
    sqlite3 *db = check_destructive("DROP INDEX posts_slug;", "drop-unique-index", 3);
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'posts_slug'"),
                     0);

    /* dropping a plain index loses no data and no guarantee: not a finding */
    char *marked = change_text("DROP INDEX posts_slug;", 1);
    const char *names[] = {"0001_base.sql", CHANGE, "0003_plain.sql"};
    const char *texts[] = {base_sql, marked, "DROP INDEX posts_title;\n"};
    struct migration_plan p;
    json_t *findings;
    site_plan(&p, names, texts, 3);
    assert_int_equal(migrate_lint(db, &p, &findings), 0);
    assert_int_equal(json_array_size(findings), 0);
    json_decref(findings);
    migrate_plan_release(&p);
    free(marked);
    sqlite3_close_v2(db);
}

static void test_rename_table_is_flagged(void **state)
{
    (void)state;
    sqlite3 *db = check_destructive("ALTER TABLE posts RENAME TO articles;", "rename-table", 3);
    assert_int_equal(query_int(db, "SELECT count(*) FROM articles"), 2);
    sqlite3_close_v2(db);
}

static void test_rename_column_is_flagged(void **state)
{
    (void)state;
    sqlite3 *db =
        check_destructive("ALTER TABLE posts RENAME COLUMN title TO headline;", "rename-column", 3);
    assert_int_equal(
        query_int(db, "SELECT count(*) FROM pragma_table_info('posts') WHERE name = 'headline'"),
        1);
    sqlite3_close_v2(db);
}

static void test_delete_without_where_is_flagged(void **state)
{
    (void)state;
    sqlite3 *db = check_destructive("DELETE FROM posts;", "delete-without-where", 3);
    assert_int_equal(query_int(db, "SELECT count(*) FROM posts"), 0);
    sqlite3_close_v2(db);
}

static void test_update_without_where_is_flagged(void **state)
{
    (void)state;
    sqlite3 *db = check_destructive("UPDATE posts SET legacy = NULL;", "update-without-where", 3);
    assert_int_equal(query_int(db, "SELECT count(*) FROM posts WHERE legacy IS NULL"), 2);
    sqlite3_close_v2(db);
}

static void test_update_with_where_only_in_a_subquery_is_flagged(void **state)
{
    (void)state;
    /* the WHERE belongs to the subquery: the UPDATE itself rewrites every row */
    sqlite3 *db = check_destructive(
        "UPDATE posts SET title = (SELECT name FROM authors WHERE authors.id = posts.id);",
        "update-without-where", 3);
    assert_int_equal(query_int(db, "SELECT count(*) FROM posts WHERE title IS NULL"), 1);
    sqlite3_close_v2(db);
}

static void test_rebuild_dropping_a_column_is_flagged(void **state)
{
    (void)state;
    /* the finding is on the CREATE TABLE's line, after the directive */
    sqlite3 *db = check_destructive(
        "-- onefile:rebuild posts\n"
        "CREATE TABLE posts (id INTEGER PRIMARY KEY, slug TEXT NOT NULL, title TEXT);",
        "rebuild-drops-columns", 4);
    assert_int_equal(
        query_int(db, "SELECT count(*) FROM pragma_table_info('posts') WHERE name = 'legacy'"), 0);
    assert_int_equal(query_int(db, "SELECT count(*) FROM pragma_table_info('posts')"), 3);
    assert_int_equal(query_int(db, "SELECT count(*) FROM posts WHERE slug IN ('a', 'b') AND "
                                   "title IN ('A', 'B')"),
                     2);
    assert_int_equal(query_int(db, "SELECT count(*) FROM pragma_index_list('posts') WHERE "
                                   "name = 'posts_slug' AND \"unique\" = 1"),
                     1);
    sqlite3_close_v2(db);
}

static void test_marker_without_reason_is_an_error(void **state)
{
    (void)state;
    sqlite3 *db = db_with(base_sql);
    char *before = fingerprint(db);
    const char *variants[] = {"-- onefile:destructive\nDROP TABLE posts;\n",
                              "-- onefile:destructive   \t\nDROP TABLE posts;\n",
                              "DROP TABLE posts;\n-- onefile:destructive"};
    for (size_t i = 0; i < 3; i++) {
        struct migration_plan p;
        json_t *findings;
        int applied;
        char out[8192];
        plan_with(&p, base_sql, CHANGE, variants[i]);
        int blocking = migrate_lint(db, &p, &findings);
        char *dump = dump_findings(findings);
        json_t *err = finding(findings, "error"), *drop = finding(findings, "drop-table");
        if (blocking != 2 || !err || !drop)
            fail_msg("variant %zu: blocking %d, findings %s", i, blocking, dump);
        assert_string_equal(field(err, "file"), CHANGE);
        assert_non_null(strstr(field(err, "message"), "needs a reason"));
        assert_true(json_is_false(json_object_get(err, "allowed")));
        assert_true(json_is_false(json_object_get(drop, "allowed"))); /* no reason, no pass */
        free(dump);
        json_decref(findings);
        assert_int_equal(apply_capturing(db, &p, &applied, NULL, out, sizeof(out)), -1);
        assert_non_null(strstr(out, "needs a reason"));
        char *after = fingerprint(db);
        assert_string_equal(before, after);
        free(after);
        migrate_plan_release(&p);
    }
    free(before);
    sqlite3_close_v2(db);
}

static void test_additive_forms_pass_silently(void **state)
{
    (void)state;
    sqlite3 *db = db_with(base_sql);
    const char *text =
        "-- additive changes only\n"
        "CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n"
        "ALTER TABLE posts ADD COLUMN views INTEGER NOT NULL DEFAULT 0;\n"
        "CREATE INDEX posts_views ON posts(views);\n"
        "CREATE UNIQUE INDEX tags_name ON tags(name);\n"
        "INSERT INTO tags (name) VALUES ('one'), ('two'), ('three');\n"
        "UPDATE posts SET views = 1 WHERE slug = 'a';\n"
        "DELETE FROM tags WHERE name = 'two';\n"
        "UPDATE posts SET title = upper(title)\n"
        "    WHERE id IN (SELECT id FROM posts WHERE legacy IS NOT NULL);\n"
        "WITH old AS (SELECT id FROM tags WHERE name = 'three') DELETE FROM tags WHERE id IN "
        "(SELECT id FROM old);\n"
        "UPDATE OR IGNORE posts SET views = views + 1 WHERE slug = 'b';\n";
    struct migration_plan p;
    json_t *findings;
    json_t *report = json_array();
    int applied;
    char out[8192];
    plan_with(&p, base_sql, CHANGE, text);
    int blocking = migrate_lint(db, &p, &findings);
    char *dump = dump_findings(findings);
    if (blocking != 0 || json_array_size(findings) != 0)
        fail_msg("blocking %d, findings %s", blocking, dump);
    free(dump);
    json_decref(findings);
    assert_int_equal(apply_capturing(db, &p, &applied, report, out, sizeof(out)), 0);
    assert_int_equal(applied, 1);
    assert_null(strstr(out, "lint")); /* nothing logged about it */
    assert_int_equal(json_array_size(report), 1);
    assert_true(json_is_false(json_object_get(json_array_get(report, 0), "rebuild")));
    assert_int_equal(query_int(db, "SELECT count(*) FROM tags WHERE name = 'one'"), 1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM tags"), 1);
    assert_int_equal(query_int(db, "SELECT sum(views) FROM posts"), 2);
    assert_int_equal(query_int(db, "SELECT count(*) FROM posts WHERE title IN ('A', 'B')"), 2);
    json_decref(report);
    migrate_plan_release(&p);
    sqlite3_close_v2(db);
}

static void test_embedded_and_site_lists_lint_together(void **state)
{
    (void)state;
    /* on an empty database the embedded 0001_init.sql runs first in the lint, so the
       site's DROP TABLE of its posts is seen; applying it applies nothing at all */
    struct migration_plan p;
    memset(&p, 0, sizeof(p));
    assert_int_equal(migrations_embedded(&p.lists[0], errbuf, sizeof(errbuf)), 0);
    const char *names[] = {"0001_drop.sql"};
    const char *texts[] = {"CREATE TABLE mine (x);\nDROP TABLE posts;\n"};
    assert_int_equal(
        migrations_from_files(&p.lists[1], "site", names, texts, 1, errbuf, sizeof(errbuf)), 0);
    p.nlists = 2;
    json_t *findings;
    assert_int_equal(migrate_lint(NULL, &p, &findings), 1);
    json_t *f = finding(findings, "drop-table");
    assert_non_null(f);
    assert_string_equal(field(f, "file"), "0001_drop.sql");
    assert_string_equal(field(f, "source"), "site");
    assert_int_equal(json_integer_value(json_object_get(f, "line")), 2);
    json_decref(findings);

    sqlite3 *db = fresh_db();
    int applied;
    char out[8192];
    assert_int_equal(apply_capturing(db, &p, &applied, NULL, out, sizeof(out)), -1);
    assert_int_equal(applied, 0);
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_schema"), 0);
    migrate_plan_release(&p);
    sqlite3_close_v2(db);
}

static void test_drop_column_used_by_a_trigger_is_dangling(void **state)
{
    (void)state;
    /* SQLite 3.40 drops the column without complaint: the trigger's INSERT names it */
    const char *base =
        "CREATE TABLE posts (id INTEGER PRIMARY KEY, slug TEXT NOT NULL, legacy TEXT);\n"
        "CREATE TABLE imports (slug TEXT, legacy TEXT);\n"
        "CREATE TRIGGER imports_to_posts AFTER INSERT ON imports BEGIN\n"
        "    INSERT INTO posts (slug, legacy) VALUES (NEW.slug, NEW.legacy);\n"
        "END;\n"
        "INSERT INTO imports VALUES ('a', 'x');\n";
    const char *text = "-- onefile:destructive nobody reads legacy any more\n"
                       "ALTER TABLE posts DROP COLUMN legacy;\n";
    sqlite3 *db = db_with(base);
    char *before = fingerprint(db);
    struct migration_plan p;
    json_t *findings;
    int applied;
    char out[8192];
    plan_with(&p, base, CHANGE, text);
    int blocking = migrate_lint(db, &p, &findings);
    char *dump = dump_findings(findings);
    json_t *dangling = finding(findings, "dangling"), *drop = finding(findings, "drop-column");
    if (blocking != 1 || !dangling || !drop)
        fail_msg("blocking %d, findings %s", blocking, dump);
    assert_true(json_is_true(json_object_get(drop, "allowed")));
    assert_true(json_is_false(json_object_get(dangling, "allowed"))); /* marker or not */
    assert_string_equal(field(dangling, "file"), CHANGE);
    assert_int_equal(json_integer_value(json_object_get(dangling, "line")), 2);
    assert_non_null(strstr(field(dangling, "message"), "imports_to_posts"));
    assert_non_null(strstr(field(dangling, "message"), "legacy"));
    free(dump);
    json_decref(findings);
    assert_int_equal(apply_capturing(db, &p, &applied, NULL, out, sizeof(out)), -1);
    assert_non_null(strstr(out, "imports_to_posts"));
    char *after = fingerprint(db);
    assert_string_equal(before, after);
    assert_int_equal(db_exec(db, "test", "INSERT INTO imports VALUES ('b', 'y')"), 0);
    free(after);
    free(before);
    migrate_plan_release(&p);
    sqlite3_close_v2(db);
}

static void test_drop_table_used_by_a_view_is_dangling(void **state)
{
    (void)state;
    /* DROP TABLE never looks at views: the view is left pointing at nothing */
    const char *base = "CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT);\n"
                       "CREATE TABLE posts (id INTEGER PRIMARY KEY, author_id INTEGER);\n"
                       "CREATE VIEW bylines AS SELECT p.id, a.name FROM posts p\n"
                       "    JOIN authors a ON a.id = p.author_id;\n";
    const char *text = "-- onefile:destructive authors moved to the users table\n"
                       "\n"
                       "DROP TABLE authors;\n";
    sqlite3 *db = db_with(base);
    struct migration_plan p;
    json_t *findings;
    plan_with(&p, base, CHANGE, text);
    int blocking = migrate_lint(db, &p, &findings);
    char *dump = dump_findings(findings);
    json_t *dangling = finding(findings, "dangling"), *drop = finding(findings, "drop-table");
    if (blocking != 1 || !dangling || !drop)
        fail_msg("blocking %d, findings %s", blocking, dump);
    assert_true(json_is_true(json_object_get(drop, "allowed")));
    assert_true(json_is_false(json_object_get(dangling, "allowed")));
    assert_int_equal(json_integer_value(json_object_get(dangling, "line")), 3);
    assert_non_null(strstr(field(dangling, "message"), "view bylines"));
    free(dump);
    json_decref(findings);
    int applied;
    assert_int_equal(migrate_apply(db, &p, &applied), -1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'authors'"), 1);
    migrate_plan_release(&p);
    sqlite3_close_v2(db);
}

static const char rich_base[] =
    "CREATE TABLE posts (id INTEGER PRIMARY KEY, slug TEXT NOT NULL, title TEXT, views TEXT);\n"
    "CREATE UNIQUE INDEX posts_slug ON posts(slug);\n"
    "CREATE INDEX posts_title ON posts(title);\n"
    "CREATE TABLE comments (id INTEGER PRIMARY KEY,\n"
    "    post_id INTEGER NOT NULL REFERENCES posts(id), body TEXT);\n"
    "CREATE INDEX comments_post ON comments(post_id);\n"
    "CREATE TABLE post_log (post_id INTEGER, what TEXT);\n"
    "CREATE TRIGGER posts_logged AFTER INSERT ON posts BEGIN\n"
    "    INSERT INTO post_log VALUES (NEW.id, 'insert');\n"
    "END;\n"
    "CREATE VIEW popular AS SELECT id, slug, views FROM posts WHERE views > 10;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)\n"
    "INSERT INTO posts (slug, title, views) SELECT 'p' || i, 'T' || i, CAST(i AS TEXT) FROM n;\n"
    "INSERT INTO comments (post_id, body) SELECT id, 'c' FROM posts;\n";

static void test_rebuild_changing_a_type_keeps_everything(void **state)
{
    (void)state;
    sqlite3 *db = db_with(rich_base);
    assert_int_equal(query_int(db, "SELECT count(*) FROM posts WHERE typeof(views) = 'text'"), 500);
    const char *text =
        "-- views becomes an integer\n"
        "-- onefile:rebuild posts\n"
        "CREATE TABLE posts (id INTEGER PRIMARY KEY, slug TEXT NOT NULL, title TEXT,\n"
        "                    views INTEGER NOT NULL DEFAULT 0);\n";
    struct migration_plan p;
    json_t *findings, *report = json_array();
    int applied;
    char out[8192];
    plan_with(&p, rich_base, CHANGE, text);
    int blocking = migrate_lint(db, &p, &findings);
    char *dump = dump_findings(findings);
    if (blocking != 0 || json_array_size(findings) != 0)
        fail_msg("blocking %d, findings %s", blocking, dump);
    free(dump);
    json_decref(findings);
    if (apply_capturing(db, &p, &applied, report, out, sizeof(out)) != 0)
        fail_msg("apply failed: %s", out);
    assert_int_equal(applied, 1);
    json_t *r = json_array_get(report, 0);
    assert_true(json_is_true(json_object_get(r, "rebuild")));
    assert_true(json_integer_value(json_object_get(r, "rows_changed")) >= 500);

    /* rows, with the new type */
    assert_int_equal(query_int(db, "SELECT count(*) FROM posts"), 500);
    assert_int_equal(query_int(db, "SELECT count(*) FROM posts WHERE typeof(views) = 'integer'"),
                     500);
    assert_int_equal(query_int(db, "SELECT sum(views) FROM posts"), 500 * 501 / 2);
    assert_int_equal(query_int(db, "SELECT count(*) FROM pragma_table_info('posts') WHERE "
                                   "name = 'views' AND type = 'INTEGER' AND \"notnull\" = 1"),
                     1);
    /* indexes */
    assert_int_equal(query_int(db, "SELECT count(*) FROM pragma_index_list('posts') WHERE "
                                   "name = 'posts_slug' AND \"unique\" = 1"),
                     1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM pragma_index_list('posts') WHERE "
                                   "name = 'posts_title' AND \"unique\" = 0"),
                     1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM pragma_index_list('comments')"), 1);
    /* the trigger and the view, recreated and working */
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' "
                                   "AND name = 'posts_logged' AND tbl_name = 'posts'"),
                     1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'view' AND "
                                   "name = 'popular'"),
                     1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM popular"), 490);
    assert_int_equal(db_exec(db, "test", "INSERT INTO posts (slug) VALUES ('new')"), 0);
    assert_int_equal(query_int(db, "SELECT count(*) FROM post_log"), 501);
    /* no temporary table left, the file is sound */
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_schema WHERE name LIKE "
                                   "'onefile_rebuild%'"),
                     0);
    char check[64];
    assert_int_equal(db_query_text(db, "PRAGMA integrity_check", check, sizeof(check)), 0);
    assert_string_equal(check, "ok");
    assert_int_equal(query_int(db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
    /* the child's foreign key now points at the new table, and is enforced */
    assert_int_equal(query_int(db, "PRAGMA foreign_keys"), 1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM pragma_foreign_key_list('comments') "
                                   "WHERE \"table\" = 'posts'"),
                     1);
    assert_int_not_equal(sqlite3_exec(db,
                                      "INSERT INTO comments (post_id, body) VALUES (99999, 'x')",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
    assert_int_equal(sqlite3_extended_errcode(db), SQLITE_CONSTRAINT_FOREIGNKEY);
    assert_int_not_equal(sqlite3_exec(db, "DELETE FROM posts WHERE id = 1", NULL, NULL, NULL),
                         SQLITE_OK);
    assert_int_equal(sqlite3_extended_errcode(db), SQLITE_CONSTRAINT_FOREIGNKEY);
    assert_int_equal(query_int(db, "SELECT count(*) FROM comments"), 500);
    json_decref(report);
    migrate_plan_release(&p);
    sqlite3_close_v2(db);
}

static void test_rebuild_breaking_a_trigger_is_refused(void **state)
{
    (void)state;
    const char *base =
        "CREATE TABLE posts (id INTEGER PRIMARY KEY, slug TEXT NOT NULL, legacy TEXT);\n"
        "CREATE TABLE audit (v TEXT);\n"
        "CREATE TRIGGER posts_audit AFTER UPDATE ON posts BEGIN\n"
        "    INSERT INTO audit VALUES (NEW.legacy);\n"
        "END;\n"
        "INSERT INTO posts (slug, legacy) VALUES ('a', 'x'), ('b', 'y');\n";
    const char *text = "-- onefile:destructive legacy goes\n"
                       "-- onefile:rebuild posts\n"
                       "CREATE TABLE posts (id INTEGER PRIMARY KEY, slug TEXT NOT NULL);\n";
    sqlite3 *db = db_with(base);
    char *before = fingerprint(db);
    struct migration_plan p;
    json_t *findings;
    int applied;
    char out[8192];
    plan_with(&p, base, CHANGE, text);
    int blocking = migrate_lint(db, &p, &findings);
    char *dump = dump_findings(findings);
    json_t *err = finding(findings, "error");
    if (blocking < 1 || !err)
        fail_msg("blocking %d, findings %s", blocking, dump);
    assert_string_equal(field(err, "file"), CHANGE);
    assert_non_null(strstr(field(err, "message"), "posts_audit"));
    assert_non_null(strstr(field(err, "message"), "line 3"));
    free(dump);
    json_decref(findings);
    assert_int_equal(apply_capturing(db, &p, &applied, NULL, out, sizeof(out)), -1);
    assert_int_equal(applied, 0);
    assert_non_null(strstr(out, "posts_audit"));
    char *after = fingerprint(db);
    assert_string_equal(before, after);
    assert_int_equal(query_int(db, "PRAGMA foreign_keys"), 1);
    assert_int_equal(sqlite3_get_autocommit(db), 1);
    free(after);
    free(before);
    migrate_plan_release(&p);
    sqlite3_close_v2(db);
}

static void test_rebuild_of_another_table_is_an_error(void **state)
{
    (void)state;
    sqlite3 *db = db_with(base_sql);
    char *before = fingerprint(db);
    const char *variants[] = {
        "-- onefile:rebuild posts\nCREATE TABLE articles (id INTEGER PRIMARY KEY, slug TEXT);\n",
        "-- onefile:rebuild posts\nCREATE TEMP TABLE posts (id INTEGER PRIMARY KEY, slug TEXT);\n",
        "-- onefile:rebuild posts\nCREATE INDEX posts_x ON posts(title);\n",
    };
    for (size_t i = 0; i < 3; i++) {
        struct migration_plan p;
        json_t *findings;
        int applied;
        char out[8192];
        plan_with(&p, base_sql, CHANGE, variants[i]);
        int blocking = migrate_lint(db, &p, &findings);
        char *dump = dump_findings(findings);
        json_t *err = finding(findings, "error");
        if (blocking != 1 || !err)
            fail_msg("variant %zu: blocking %d, findings %s", i, blocking, dump);
        assert_string_equal(field(err, "file"), CHANGE);
        assert_non_null(strstr(field(err, "message"), "line 2"));
        assert_non_null(strstr(field(err, "message"), "must be CREATE TABLE posts"));
        free(dump);
        json_decref(findings);
        assert_int_equal(apply_capturing(db, &p, &applied, NULL, out, sizeof(out)), -1);
        assert_non_null(strstr(out, "must be CREATE TABLE posts"));
        char *after = fingerprint(db);
        assert_string_equal(before, after);
        free(after);
        migrate_plan_release(&p);
    }
    free(before);
    sqlite3_close_v2(db);
}

static void test_rebuild_leaving_a_foreign_key_violation_applies_nothing(void **state)
{
    (void)state;
    const char *base = "CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT);\n"
                       "CREATE TABLE posts (id INTEGER PRIMARY KEY, slug TEXT NOT NULL,\n"
                       "                    author_id INTEGER);\n"
                       "INSERT INTO authors VALUES (1, 'ann');\n"
                       "INSERT INTO posts (slug, author_id) VALUES ('a', 1), ('b', 42);\n";
    const char *names[] = {"0001_base.sql", "0002_tags.sql", "0003_fk.sql"};
    const char *texts[] = {
        base,
        "CREATE TABLE tags (name TEXT);\nINSERT INTO tags VALUES ('t');\n",
        "-- posts.author_id gets its foreign key\n"
        "-- onefile:rebuild posts\n"
        "CREATE TABLE posts (id INTEGER PRIMARY KEY, slug TEXT NOT NULL,\n"
        "                    author_id INTEGER REFERENCES authors(id));\n",
    };
    sqlite3 *db = db_with(base);
    char *before = fingerprint(db);
    struct migration_plan p;
    json_t *findings;
    int applied;
    char out[8192];
    site_plan(&p, names, texts, 3);
    /* the lint sees the schema only: no rows, no violation */
    assert_int_equal(migrate_lint(db, &p, &findings), 0);
    assert_int_equal(json_array_size(findings), 0);
    json_decref(findings);
    assert_int_equal(apply_capturing(db, &p, &applied, NULL, out, sizeof(out)), -1);
    assert_int_equal(applied, 0);
    assert_non_null(strstr(out, "foreign key violation"));
    assert_non_null(strstr(out, "nothing applied"));
    char *after = fingerprint(db);
    assert_string_equal(before, after); /* not even 0002's tags */
    assert_int_equal(query_int(db, "PRAGMA foreign_keys"), 1);
    assert_int_equal(sqlite3_get_autocommit(db), 1);
    free(after);
    migrate_plan_release(&p);

    /* once the orphan is fixed, the same files apply */
    assert_int_equal(db_exec(db, "test", "UPDATE posts SET author_id = 1 WHERE author_id = 42"), 0);
    site_plan(&p, names, texts, 3);
    assert_int_equal(apply_capturing(db, &p, &applied, NULL, out, sizeof(out)), 0);
    assert_int_equal(applied, 2);
    assert_int_equal(query_int(db, "SELECT count(*) FROM pragma_foreign_key_list('posts') WHERE "
                                   "\"table\" = 'authors'"),
                     1);
    assert_int_not_equal(
        sqlite3_exec(db, "INSERT INTO posts (slug, author_id) VALUES ('c', 7)", NULL, NULL, NULL),
        SQLITE_OK);
    free(before);
    migrate_plan_release(&p);
    sqlite3_close_v2(db);
}

static void test_failing_migration_among_several_applies_none(void **state)
{
    (void)state;
    const char *names[] = {"0001_base.sql", "0002_a.sql", "0003_b.sql", "0004_c.sql"};
    const char *texts[] = {base_sql, "CREATE TABLE a (x);\nINSERT INTO a VALUES (1);\n",
                           "CREATE TABLE b (x);\nINSERT INTO nope VALUES (1);\n",
                           "CREATE TABLE c (x);\n"};
    sqlite3 *db = db_with(base_sql);
    char *before = fingerprint(db);
    struct migration_plan p;
    json_t *findings;
    int applied;
    char out[8192];
    site_plan(&p, names, texts, 4);
    assert_int_equal(migrate_lint(db, &p, &findings), 1);
    json_t *err = finding(findings, "error");
    assert_non_null(err);
    assert_string_equal(field(err, "file"), "0003_b.sql");
    assert_non_null(strstr(field(err, "message"), "0003_b.sql (site) line 2: no such table: nope"));
    json_decref(findings);
    assert_int_equal(apply_capturing(db, &p, &applied, NULL, out, sizeof(out)), -1);
    assert_int_equal(applied, 0);
    assert_non_null(strstr(out, "no such table: nope"));
    char *after = fingerprint(db);
    assert_string_equal(before, after);
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_schema WHERE name IN "
                                   "('a', 'b', 'c')"),
                     0);
    free(after);
    free(before);
    migrate_plan_release(&p);
    sqlite3_close_v2(db);
}

static void test_data_dependent_failure_rolls_back_both(void **state)
{
    (void)state;
    const char *names[] = {"0001_base.sql", "0002_a.sql", "0003_b.sql"};
    const char *texts[] = {base_sql,
                           "CREATE TABLE tags (x);\nINSERT INTO posts (slug) VALUES ('c');\n",
                           "UPDATE posts SET title = 'z' WHERE slug = 'b';\n"
                           "INSERT INTO posts (slug) VALUES ('a');\n"};
    sqlite3 *db = db_with(base_sql);
    char *before = fingerprint(db);
    struct migration_plan p;
    json_t *findings;
    int applied;
    char out[8192];
    site_plan(&p, names, texts, 3);
    /* only the data can tell: the lint passes */
    assert_int_equal(migrate_lint(db, &p, &findings), 0);
    assert_int_equal(json_array_size(findings), 0);
    json_decref(findings);
    assert_int_equal(apply_capturing(db, &p, &applied, NULL, out, sizeof(out)), -1);
    assert_int_equal(applied, 0);
    assert_non_null(strstr(out, "0003_b.sql (site) line 2"));
    assert_non_null(strstr(out, "UNIQUE constraint failed: posts.slug"));
    char *after = fingerprint(db);
    assert_string_equal(before, after); /* no tags, no 'c', title of 'b' unchanged */
    assert_int_equal(migrate_is_applied(db, "site", 2), 0);
    assert_int_equal(sqlite3_get_autocommit(db), 1);
    free(after);
    free(before);
    migrate_plan_release(&p);
    sqlite3_close_v2(db);
}

/* Lints base + one file on a database with base applied, then releases everything:
   returns the number of blocking findings (or -1) and copies the kinds found, comma
   separated, into kinds. For the tests below, which assert only after cleaning up, so a
   failure reports the bug and nothing else. */
static int lint_kinds(const char *base, const char *text, char *kinds, size_t kindslen)
{
    sqlite3 *db = db_with(base);
    struct migration_plan p;
    json_t *findings, *f;
    size_t i;
    plan_with(&p, base, CHANGE, text);
    int blocking = migrate_lint(db, &p, &findings);
    kinds[0] = '\0';
    json_array_foreach(findings, i, f)
    {
        size_t used = strlen(kinds);
        snprintf(kinds + used, kindslen - used, "%s%s", used ? "," : "",
                 json_string_value(json_object_get(f, "kind")));
    }
    json_decref(findings);
    migrate_plan_release(&p);
    sqlite3_close_v2(db);
    return blocking;
}

/* `IF EXISTS` does not make a drop less destructive. */
static void test_drop_table_if_exists_is_flagged(void **state)
{
    (void)state;
    char kinds[256];
    int blocking = lint_kinds(base_sql, "DROP TABLE IF EXISTS posts;\n", kinds, sizeof(kinds));
    if (blocking != 1 || strcmp(kinds, "drop-table") != 0)
        fail_msg("DROP TABLE IF EXISTS posts (a table with rows): blocking %d, findings [%s], "
                 "wanted 1 drop-table",
                 blocking, kinds);
}

static void test_drop_unique_index_if_exists_is_flagged(void **state)
{
    (void)state;
    char kinds[256];
    int blocking = lint_kinds(base_sql, "DROP INDEX IF EXISTS posts_slug;\n", kinds, sizeof(kinds));
    if (blocking != 1 || strcmp(kinds, "drop-unique-index") != 0)
        fail_msg("DROP INDEX IF EXISTS posts_slug (UNIQUE): blocking %d, findings [%s], "
                 "wanted 1 drop-unique-index",
                 blocking, kinds);
}

/* A site with a full-text index: the lint's schema copy must still open. */
static void test_lint_runs_on_a_database_with_fts5(void **state)
{
    (void)state;
    if (!sqlite3_compileoption_used("ENABLE_FTS5")) {
        skip();
        return;
    }
    const char *base = "CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT);\n"
                       "CREATE VIRTUAL TABLE posts_search USING fts5(title);\n";
    char kinds[256];
    int blocking = lint_kinds(base, "CREATE TABLE tags (name TEXT);\n", kinds, sizeof(kinds));
    if (blocking != 0 || kinds[0])
        fail_msg("an additive migration on a database with an FTS5 table: migrate_lint "
                 "returned %d, findings [%s], wanted 0 and none",
                 blocking, kinds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drop_table_is_flagged),
        cmocka_unit_test(test_drop_column_is_flagged),
        cmocka_unit_test(test_drop_unique_index_is_flagged),
        cmocka_unit_test(test_rename_table_is_flagged),
        cmocka_unit_test(test_rename_column_is_flagged),
        cmocka_unit_test(test_delete_without_where_is_flagged),
        cmocka_unit_test(test_update_without_where_is_flagged),
        cmocka_unit_test(test_update_with_where_only_in_a_subquery_is_flagged),
        cmocka_unit_test(test_rebuild_dropping_a_column_is_flagged),
        cmocka_unit_test(test_marker_without_reason_is_an_error),
        cmocka_unit_test(test_additive_forms_pass_silently),
        cmocka_unit_test(test_embedded_and_site_lists_lint_together),
        cmocka_unit_test(test_drop_column_used_by_a_trigger_is_dangling),
        cmocka_unit_test(test_drop_table_used_by_a_view_is_dangling),
        cmocka_unit_test(test_rebuild_changing_a_type_keeps_everything),
        cmocka_unit_test(test_rebuild_breaking_a_trigger_is_refused),
        cmocka_unit_test(test_rebuild_of_another_table_is_an_error),
        cmocka_unit_test(test_rebuild_leaving_a_foreign_key_violation_applies_nothing),
        cmocka_unit_test(test_failing_migration_among_several_applies_none),
        cmocka_unit_test(test_data_dependent_failure_rolls_back_both),
        cmocka_unit_test(test_drop_table_if_exists_is_flagged),
        cmocka_unit_test(test_drop_unique_index_if_exists_is_flagged),
        cmocka_unit_test(test_lint_runs_on_a_database_with_fts5),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
