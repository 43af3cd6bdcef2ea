/* test_config.c - settings table: defaults, environment, flags, validation, masking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"

static char err[512];

static void clear_env(void)
{
    const char *names[] = {"ONEFILE_DB",
                           "ONEFILE_LISTEN",
                           "ONEFILE_BUSY_TIMEOUT_MS",
                           "ONEFILE_SYNCHRONOUS",
                           "ONEFILE_BACKUP_URL",
                           "AWS_SECRET_ACCESS_KEY",
                           "ONEFILE_ADMIN_PASSWORD",
                           "ONEFILE_HTTP_THREADS"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        unsetenv(names[i]);
}

static void test_defaults(void **state)
{
    (void)state;
    struct config c;
    config_init(&c);
    assert_string_equal(c.db, "./data/onefile.db");
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(c.listen_port, 8080);
    assert_int_equal(c.busy_timeout_ms, 5000);
    assert_string_equal(c.synchronous, "full");
    assert_int_equal(config_synchronous_level(&c), 2);
    assert_null(c.backup_url);
    assert_int_equal(c.backup_keep, 8);
    config_release(&c);
}

static void test_env_overrides_default_and_flag_overrides_env(void **state)
{
    (void)state;
    struct config c;
    clear_env();
    setenv("ONEFILE_BUSY_TIMEOUT_MS", "250", 1);
    setenv("ONEFILE_SYNCHRONOUS", "normal", 1);
    setenv("ONEFILE_LISTEN", "0.0.0.0:9000", 1);
    config_init(&c);
    assert_int_equal(config_load_env(&c, err, sizeof(err)), 0);
    assert_int_equal(c.busy_timeout_ms, 250);
    assert_int_equal(config_synchronous_level(&c), 1);
    assert_int_equal(c.listen_port, 9000);
    assert_int_equal(config_set_flag(&c, "busy-timeout", "1000", err, sizeof(err)), 0);
    assert_int_equal(c.busy_timeout_ms, 1000);
    assert_int_equal(config_set_flag(&c, "listen", "[::1]:8081", err, sizeof(err)), 0);
    assert_string_equal(c.listen_host, "::1");
    assert_int_equal(c.listen_port, 8081);
    config_release(&c);
    clear_env();
}

struct bad {
    const char *env;
    const char *value;
    const char *expect; /* substring of the error */
};

static void test_bad_values_are_refused_with_a_clear_message(void **state)
{
    (void)state;
    const struct bad cases[] = {
        {"ONEFILE_LISTEN", "127.0.0.1:0", "ONEFILE_LISTEN"},
        {"ONEFILE_LISTEN", "127.0.0.1:65536", "port 1-65535"},
        {"ONEFILE_LISTEN", "127.0.0.1:80x", "ADDR:PORT"},
        {"ONEFILE_LISTEN", "localhost", "ADDR:PORT"},
        {"ONEFILE_LISTEN", "999.1.1.1:80", "ADDR:PORT"},
        {"ONEFILE_LISTEN", ":8080", "ADDR:PORT"},
        {"ONEFILE_BUSY_TIMEOUT_MS", "-5", "whole number from 0"},
        {"ONEFILE_BUSY_TIMEOUT_MS", "12ms", "'12ms'"},
        {"ONEFILE_BUSY_TIMEOUT_MS", "", "whole number"},
        {"ONEFILE_BUSY_TIMEOUT_MS", "99999999999999999999", "whole number"},
        {"ONEFILE_SYNCHRONOUS", "off", "unknown value 'off' (allowed: full|normal)"},
        {"ONEFILE_SYNCHRONOUS", "FULLER", "unknown value"},
        {"ONEFILE_BACKUP_URL", "ftp://x", "must start with file:///|s3://"},
        {"ONEFILE_BACKUP_URL", "s3://", "must start with"},
        {"ONEFILE_HTTP_THREADS", "0", "from 1 to 256"},
        {"ONEFILE_DB", "", "must not be empty"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config c;
        clear_env();
        setenv(cases[i].env, cases[i].value, 1);
        config_init(&c);
        err[0] = '\0';
        if (config_load_env(&c, err, sizeof(err)) != -1)
            fail_msg("%s=%s was accepted", cases[i].env, cases[i].value);
        if (!strstr(err, cases[i].expect) || !strstr(err, cases[i].env))
            fail_msg("%s=%s: message '%s' lacks '%s'", cases[i].env, cases[i].value, err,
                     cases[i].expect);
        assert_null(strchr(err, '\n'));
        config_release(&c);
    }
    clear_env();
}

static void test_unknown_flag_and_flag_errors(void **state)
{
    (void)state;
    struct config c;
    config_init(&c);
    assert_int_equal(config_set_flag(&c, "no-such-flag", "x", err, sizeof(err)), 1);
    assert_int_equal(config_set_flag(&c, "synchronous", "extra", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "--synchronous"));
    assert_string_equal(c.synchronous, "full"); /* unchanged */
    config_release(&c);
}

static void test_print_masks_secrets(void **state)
{
    (void)state;
    struct config c;
    clear_env();
    setenv("AWS_SECRET_ACCESS_KEY", "hunter2-very-secret", 1);
    setenv("ONEFILE_ADMIN_PASSWORD", "pw-secret", 1);
    config_init(&c);
    assert_int_equal(config_load_env(&c, err, sizeof(err)), 0);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    config_print(&c, f);
    fclose(f);
    assert_null(strstr(text, "hunter2"));
    assert_null(strstr(text, "pw-secret"));
    assert_non_null(strstr(text, "AWS_SECRET_ACCESS_KEY=******** (set)"));
    assert_non_null(strstr(text, "ONEFILE_BUSY_TIMEOUT_MS=5000"));
    free(text);
    config_release(&c);
    clear_env();
}

static void test_base_url_trailing_slash_and_loopback(void **state)
{
    (void)state;
    const struct {
        const char *in, *out;
        int loopback;
    } cases[] = {
        {"https://example.org/", "https://example.org", 0},
        {"https://example.org///", "https://example.org", 0},
        {"https://example.org/blog/", "https://example.org/blog", 0},
        {"https://example.org", "https://example.org", 0},
        {"http://127.0.0.1:8080/", "http://127.0.0.1:8080", 1},
        {"http://localhost", "http://localhost", 1},
        {"http://[::1]:8080", "http://[::1]:8080", 1},
        {"http://127.9.0.1", "http://127.9.0.1", 1},
        {"http://128.0.0.1", "http://128.0.0.1", 0},
        {"http://localhost.example.org", "http://localhost.example.org", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config c;
        config_init(&c);
        assert_int_equal(config_set_flag(&c, "base-url", cases[i].in, err, sizeof(err)), 0);
        config_resolve(&c);
        assert_string_equal(c.base_url, cases[i].out);
        assert_int_equal(config_base_url_is_loopback(&c), cases[i].loopback);
        config_release(&c);
    }
    assert_true(config_host_is_loopback("127.0.0.1"));
    assert_true(config_host_is_loopback("::1"));
    assert_false(config_host_is_loopback("0.0.0.0"));
    assert_false(config_host_is_loopback("::"));
    assert_false(config_host_is_loopback("10.0.0.1"));
}

static void test_db_dir_checks(void **state)
{
    (void)state;
    struct config c;
    char tmpl[] = "/tmp/onefile-config-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    config_init(&c);
    char path[512];
    snprintf(path, sizeof(path), "%s/a/b/c.db", dir); /* missing dirs, creatable */
    assert_int_equal(config_set_flag(&c, "db", path, err, sizeof(err)), 0);
    assert_int_equal(config_check_db_dir(&c, err, sizeof(err)), 0);
    snprintf(path, sizeof(path), "%s/ro/c.db", dir);
    char ro[512];
    snprintf(ro, sizeof(ro), "%s/ro", dir);
    assert_int_equal(mkdir(ro, 0555), 0);
    assert_int_equal(config_set_flag(&c, "db", path, err, sizeof(err)), 0);
    if (geteuid() != 0) { /* root writes anywhere but /proc */
        assert_int_equal(config_check_db_dir(&c, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "not writable"));
    }
    snprintf(path, sizeof(path), "%s/file", dir);
    FILE *f = fopen(path, "w");
    fclose(f);
    snprintf(path, sizeof(path), "%s/file/x.db", dir);
    assert_int_equal(config_set_flag(&c, "db", path, err, sizeof(err)), 0);
    assert_int_equal(config_check_db_dir(&c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not a directory"));
    assert_int_equal(config_set_flag(&c, "db", "/proc/onefile/x.db", err, sizeof(err)), 0);
    assert_int_equal(config_check_db_dir(&c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot be created"));
    assert_int_equal(config_set_flag(&c, "db", "/proc/x.db", err, sizeof(err)), 0);
    assert_int_equal(config_check_db_dir(&c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not writable"));
    config_release(&c);
    unlink(path);
    snprintf(path, sizeof(path), "%s/file", dir);
    unlink(path);
    rmdir(ro);
    snprintf(path, sizeof(path), "%s/a/b", dir);
    rmdir(path);
    snprintf(path, sizeof(path), "%s/a", dir);
    rmdir(path);
    rmdir(dir);
}

/* ONEFILE_DB as a PostgreSQL URL: libpq's parser decides, the password never shows, and
   the URL has no data directory and no site migrations beside it. */
static void test_postgres_url(void **state)
{
    (void)state;
    struct config c;
    clear_env();
    config_init(&c);
    const char *url = "postgres://app:s3cret-pw@db1:5432,db2:5433/site"
                      "?target_session_attrs=read-write&connect_timeout=5";
    assert_int_equal(config_set_flag(&c, "db", url, err, sizeof(err)), 0);
    assert_string_equal(c.db, url);
    config_resolve(&c);
    assert_null(c.migrations_dir);
    assert_int_equal(config_check_db_dir(&c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "PostgreSQL URL"));
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    config_print(&c, f);
    fclose(f);
    assert_null(strstr(text, "s3cret"));
    assert_non_null(strstr(text, "ONEFILE_DB=postgres://app:********@db1:5432,db2:5433/site"
                                 "?target_session_attrs=read-write&connect_timeout=5\n"));
    free(text);

    /* what libpq refuses is refused here, named, with the password masked */
    assert_int_equal(
        config_set_flag(&c, "db", "postgresql://u:pw-in-bad@h:notaport/db", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "--db: 'postgresql://u:********@h:notaport/db' is not a "
                                "PostgreSQL URL libpq accepts: "));
    assert_non_null(strstr(err, "port"));
    assert_null(strstr(err, "pw-in-bad"));
    setenv("ONEFILE_DB", "postgres://h/db?no_such_option=1", 1);
    assert_int_equal(config_load_env(&c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "ONEFILE_DB: "));
    assert_non_null(strstr(err, "no_such_option"));
    assert_string_equal(c.db, url); /* unchanged by the refused values */
    config_release(&c);
    clear_env();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_env_overrides_default_and_flag_overrides_env),
        cmocka_unit_test(test_bad_values_are_refused_with_a_clear_message),
        cmocka_unit_test(test_unknown_flag_and_flag_errors),
        cmocka_unit_test(test_print_masks_secrets),
        cmocka_unit_test(test_db_dir_checks),
        cmocka_unit_test(test_postgres_url),
        cmocka_unit_test(test_base_url_trailing_slash_and_loopback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
