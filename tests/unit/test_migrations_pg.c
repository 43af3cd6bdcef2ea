/*
 * test_migrations_pg.c - the embedded PostgreSQL migrations pair up with SQLite's.
 *
 * Every migrations/NNNN_name.sql has migrations/postgres/NNNN_name.sql (same name, so the
 * same version) and the other way round; SQLite's list holds no file of the postgres/
 * subdirectory; both lists are valid plans (names, distinct versions); and
 * the PostgreSQL files, comments aside, use none of SQLite's words that PostgreSQL would
 * reject or, worse, accept with another meaning. That the two give the same logical schema
 * is tests/system/test_schema_pg.py's job, on a real server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/embed.h"
#include "core/mem.h"
#include "db/migrate.h"

static void test_every_sqlite_migration_has_its_postgres_form(void **state)
{
    (void)state;
    assert_true(embedded_migrations_count > 0);
    assert_int_equal(embedded_migrations_postgres_count, embedded_migrations_count);
    for (unsigned long i = 0; i < embedded_migrations_count; i++) {
        const char *name = embedded_migrations[i].name;
        /* the postgres/ subdirectory is not embedded as SQLite migrations */
        assert_null(strchr(name, '/'));
        int found = 0;
        for (unsigned long j = 0; j < embedded_migrations_postgres_count; j++)
            found += strcmp(embedded_migrations_postgres[j].name, name) == 0;
        if (found != 1)
            fail_msg("migrations/%s has no migrations/postgres/%s", name, name);
        assert_non_null(embedded_migrations_postgres[i].data);
        assert_true(embedded_migrations_postgres[i].size > 0);
    }
}

/* Both lists load as plans: valid names, distinct versions. */
static void load(const struct embedded_file *files, unsigned long n)
{
    const char **names = xcalloc(n, sizeof(*names));
    const char **texts = xcalloc(n, sizeof(*texts));
    for (unsigned long i = 0; i < n; i++) {
        names[i] = files[i].name;
        texts[i] = (const char *)files[i].data;
    }
    struct migration_list l;
    char err[512] = "";
    int rc = migrations_from_files(&l, "onefile", names, texts, n, err, sizeof(err));
    if (rc != 0)
        fail_msg("%s", err);
    assert_int_equal(l.n, n);
    migrations_release(&l);
    free(names);
    free(texts);
}

static void test_both_lists_are_valid_plans(void **state)
{
    (void)state;
    load(embedded_migrations, embedded_migrations_count);
    load(embedded_migrations_postgres, embedded_migrations_postgres_count);
}

/* The text with -- comments and '...' strings blanked, upper-cased, spaces collapsed. */
static char *code_only(const char *s)
{
    size_t n = strlen(s);
    char *out = xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '-' && s[i + 1] == '-') {
            while (i < n && s[i] != '\n')
                i++;
        } else if (s[i] == '\'') {
            for (i++; i < n && s[i] != '\''; i++)
                ;
        }
        char c = i < n ? s[i] : ' ';
        c = isspace((unsigned char)c) || c == '\'' ? ' ' : (char)toupper((unsigned char)c);
        if (c != ' ' || (o > 0 && out[o - 1] != ' '))
            out[o++] = c;
    }
    out[o] = '\0';
    return out;
}

static void test_postgres_files_carry_no_sqlite_dialect(void **state)
{
    (void)state;
    /* each would be one of the translation's mistakes: an id with no sequence, a default
       the server stores as text or rejects, a rowid table option, a lost collation */
    static const char *const sqlite_words[] = {
        "INTEGER PRIMARY KEY", "AUTOINCREMENT", "STRFTIME", "DATETIME(", "WITHOUT ROWID",
        "COLLATE NOCASE",      "INSERT OR",     "PRAGMA",   " GLOB ",    "IFNULL(",
    };
    for (unsigned long i = 0; i < embedded_migrations_postgres_count; i++) {
        char *code = code_only((const char *)embedded_migrations_postgres[i].data);
        for (size_t w = 0; w < sizeof(sqlite_words) / sizeof(sqlite_words[0]); w++)
            if (strstr(code, sqlite_words[w]))
                fail_msg("migrations/postgres/%s uses SQLite's \"%s\"",
                         embedded_migrations_postgres[i].name, sqlite_words[w]);
        free(code);
    }
    /* the check itself sees through comments and strings, and finds the words */
    char *c = code_only("-- INTEGER PRIMARY KEY\nSELECT 'strftime';\nid  integer\n primary key");
    assert_null(strstr(c, "STRFTIME"));
    assert_non_null(strstr(c, "INTEGER PRIMARY KEY"));
    assert_int_equal(strncmp(c, "SELECT ;", 8), 0);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_sqlite_migration_has_its_postgres_form),
        cmocka_unit_test(test_both_lists_are_valid_plans),
        cmocka_unit_test(test_postgres_files_carry_no_sqlite_dialect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
