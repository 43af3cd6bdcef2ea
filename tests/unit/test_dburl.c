/* test_dburl.c - ONEFILE_DB as a path or a PostgreSQL URL: recognised, checked, masked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/dburl.h"

static void test_recognised_by_scheme_only(void **state)
{
    (void)state;
    assert_true(dburl_is_postgres("postgres://h/db"));
    assert_true(dburl_is_postgres("postgresql:///db?host=/tmp/pg"));
    assert_false(dburl_is_postgres(NULL));
    assert_false(dburl_is_postgres("./data/onefile.db"));
    assert_false(dburl_is_postgres("postgres.db"));
    assert_false(dburl_is_postgres("postgres:/h/db"));
    assert_false(dburl_is_postgres("host=h dbname=db")); /* a file name, for onefile */
    assert_false(dburl_is_postgres("POSTGRES://h/db"));
}

static void test_checked_by_libpq(void **state)
{
    (void)state;
    char err[256];
    static const char *const good[] = {
        "postgres://h/db",
        "postgresql://user:pw@h1:5432,h2:5433,h3/db?target_session_attrs=read-write",
        "postgresql:///db?host=/tmp/pg-sock&port=5433&user=postgres",
        "postgres://u@[::1]:5432/db?sslmode=require&connect_timeout=3",
        "postgres://u:p%40ss@h/db?target_session_attrs=prefer-standby",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (dburl_check(good[i], err, sizeof(err)) != 0)
            fail_msg("%s: %s", good[i], err);
    assert_int_equal(dburl_check("postgres://h:port/db", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "port"));
    assert_int_equal(dburl_check("postgres://h1:5432,h2:99999/db", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "99999"));
    assert_int_equal(dburl_check("postgresql:///db?host=/tmp/s&port=0", err, sizeof(err)), -1);
    assert_int_equal(dburl_check("postgres://h1:5432,h2/db", err, sizeof(err)), 0);
    assert_int_equal(dburl_check("postgres://h/db?bogus_option=1", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "bogus_option"));
    assert_int_equal(dburl_check("postgres://h/db?sslmode", err, sizeof(err)), -1);
    assert_true(strlen(err) > 0);
    assert_int_not_equal(err[strlen(err) - 1], '\n'); /* one line */
}

static void expect_mask(const char *in, const char *want)
{
    char *got = dburl_mask(in);
    if (strcmp(got, want) != 0)
        fail_msg("mask(%s) = %s, want %s", in, got, want);
    free(got);
}

static void test_masked(void **state)
{
    (void)state;
    expect_mask("./data/onefile.db", "./data/onefile.db");
    expect_mask("/srv/a:b@c.db", "/srv/a:b@c.db"); /* a path is left alone */
    expect_mask("postgres://h/db", "postgres://h/db");
    expect_mask("postgres://user@h/db", "postgres://user@h/db");
    expect_mask("postgres://user:secret@h:5432/db", "postgres://user:********@h:5432/db");
    expect_mask("postgresql://user:@h/db", "postgresql://user:********@h/db");
    expect_mask("postgres://u:p%40ss@h1,h2/db?x=1", "postgres://u:********@h1,h2/db?x=1");
    expect_mask("postgres://h/db?password=secret", "postgres://h/db?password=********");
    expect_mask("postgres://h/db?sslmode=require&password=secret&connect_timeout=3",
                "postgres://h/db?sslmode=require&password=********&connect_timeout=3");
    expect_mask("postgres://a:b@h/db?password=c&password=d",
                "postgres://a:********@h/db?password=********&password=********");
    /* only the parameter named password, not one that ends in it */
    expect_mask("postgres://h/db?sslpassword=k", "postgres://h/db?sslpassword=k");
    /* an '@' after the host part is not the user's */
    expect_mask("postgres://h/db?application_name=a:b@c", "postgres://h/db?application_name=a:b@c");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recognised_by_scheme_only),
        cmocka_unit_test(test_checked_by_libpq),
        cmocka_unit_test(test_masked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
