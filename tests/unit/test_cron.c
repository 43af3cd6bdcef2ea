/* test_cron.c - cron expressions as data: expression and start time in, the next fire times
   out; every malformed form in, the error naming its field out; and cron_next() checked
   against a minute-by-minute scan with cron_match() from random starts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jobs/cron.h"

/* "2026-01-01T00:00:00Z" or "2026-01-01T00:00Z" -> seconds since the epoch */
static time_t utc(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    int n = sscanf(s, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                   &tm.tm_min, &tm.tm_sec);
    assert_true(n >= 5);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return timegm(&tm);
}

static const char *iso(time_t t, char *out, size_t len)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, len, "%Y-%m-%dT%H:%M", &tm);
    return out;
}

/* Fire times: from `from`, each `next` in turn (strictly after the previous). */
static const struct {
    const char *expr, *from;
    const char *next[8];
} fires[] = {
    {"*/15 * * * *",
     "2026-01-01T00:00",
     {"2026-01-01T00:15", "2026-01-01T00:30", "2026-01-01T00:45", "2026-01-01T01:00"}},
    {"*/15 * * * *", "2026-01-01T00:14:59", {"2026-01-01T00:15"}},
    {"* * * * *", "2026-01-01T00:00:30", {"2026-01-01T00:01", "2026-01-01T00:02"}},
    /* Sundays at 03:00; 2026-01-01 is a Thursday */
    {"0 3 * * 0", "2026-01-01T00:00", {"2026-01-04T03:00", "2026-01-11T03:00", "2026-01-18T03:00"}},
    {"0 3 * * 7", "2026-01-04T03:00", {"2026-01-11T03:00"}},
    {"0 3 * * SUN", "2026-01-04T02:59", {"2026-01-04T03:00"}},
    /* February 29 only in leap years; 2100 is not one */
    {"0 0 29 2 *",
     "2026-01-01T00:00",
     {"2028-02-29T00:00", "2032-02-29T00:00", "2036-02-29T00:00"}},
    {"0 0 29 2 *", "2096-03-01T00:00", {"2104-02-29T00:00"}},
    {"0 0 29 2 *", "2000-01-01T00:00", {"2000-02-29T00:00", "2004-02-29T00:00"}},
    /* the 31st only in 31-day months */
    {"0 0 31 * *",
     "2026-01-01T00:00",
     {"2026-01-31T00:00", "2026-03-31T00:00", "2026-05-31T00:00", "2026-07-31T00:00",
      "2026-08-31T00:00", "2026-10-31T00:00", "2026-12-31T00:00", "2027-01-31T00:00"}},
    {"0 0 30 * *", "2026-01-30T00:00", {"2026-03-30T00:00"}},
    {"0 0 28-29 2 *",
     "2027-02-28T00:00",
     {"2028-02-28T00:00", "2028-02-29T00:00", "2029-02-28T00:00"}},
    {"59 23 31 12 *", "2026-12-31T23:59", {"2027-12-31T23:59"}},
    {"0 0 1 1 *", "2026-12-31T23:59:59", {"2027-01-01T00:00"}},
    /* macros */
    {"@daily", "2026-01-01T00:00", {"2026-01-02T00:00", "2026-01-03T00:00"}},
    {"@midnight", "2026-01-01T12:00", {"2026-01-02T00:00"}},
    {"@DAILY", "2026-01-01T12:00", {"2026-01-02T00:00"}},
    {"  @hourly  ", "2026-01-01T00:00", {"2026-01-01T01:00", "2026-01-01T02:00"}},
    {"@weekly", "2026-01-01T00:00", {"2026-01-04T00:00", "2026-01-11T00:00"}},
    {"@monthly", "2026-01-15T00:00", {"2026-02-01T00:00", "2026-03-01T00:00"}},
    {"@yearly", "2026-01-01T00:00", {"2027-01-01T00:00"}},
    {"@annually", "2026-06-01T00:00", {"2027-01-01T00:00"}},
    /* lists, ranges and steps */
    {"0,30 9-17/4 * * MON-FRI",
     "2026-01-02T16:00",
     {"2026-01-02T17:00", "2026-01-02T17:30", "2026-01-05T09:00", "2026-01-05T09:30",
      "2026-01-05T13:00"}},
    {"5/15 * * * *",
     "2026-01-01T00:00",
     {"2026-01-01T00:05", "2026-01-01T00:20", "2026-01-01T00:35", "2026-01-01T00:50",
      "2026-01-01T01:05"}},
    {"10-20/5,45 3 * * *",
     "2026-01-01T00:00",
     {"2026-01-01T03:10", "2026-01-01T03:15", "2026-01-01T03:20", "2026-01-01T03:45",
      "2026-01-02T03:10"}},
    {"0 12 * jan,Jul *", "2026-01-31T12:00", {"2026-07-01T12:00"}},
    {"0 0 * * 5-7",
     "2026-01-01T00:00",
     {"2026-01-02T00:00", "2026-01-03T00:00", "2026-01-04T00:00", "2026-01-09T00:00"}},
    {"0 0 * * */2",
     "2026-01-01T00:00",
     {"2026-01-03T00:00", "2026-01-04T00:00", "2026-01-06T00:00", "2026-01-08T00:00"}},
    {"0 0 * * 1/2",
     "2026-01-01T00:00",
     {"2026-01-02T00:00", "2026-01-05T00:00", "2026-01-07T00:00"}},
    /* both days restricted: either matches (the 1st, and Mondays) */
    {"0 0 1 * MON",
     "2026-01-20T00:00",
     {"2026-01-26T00:00", "2026-02-01T00:00", "2026-02-02T00:00", "2026-02-09T00:00"}},
    {"0 0 */10 * 1",
     "2026-01-01T00:00",
     {"2026-01-05T00:00", "2026-01-11T00:00", "2026-01-12T00:00", "2026-01-19T00:00",
      "2026-01-21T00:00"}},
    /* `*`/1 is `*`: only the day of month counts */
    {"0 0 13 * */1", "2026-01-01T00:00", {"2026-01-13T00:00", "2026-02-13T00:00"}},
    /* a weekday rule makes an impossible day harmless */
    {"0 0 30 2 SAT", "2026-01-01T00:00", {"2026-02-07T00:00", "2026-02-14T00:00"}},
    {"0 0 31 4 *", "2026-01-01T00:00", {NULL}}, /* refused: never fires (see errors) */
};

static void test_fire_times(void **state)
{
    (void)state;
    char err[256], got[32];
    for (size_t i = 0; i < sizeof(fires) / sizeof(fires[0]); i++) {
        struct cron c;
        if (!fires[i].next[0])
            continue;
        int rc = cron_parse(fires[i].expr, &c, err, sizeof(err));
        if (rc != 0)
            fail_msg("'%s': %s", fires[i].expr, err);
        time_t t = utc(fires[i].from);
        for (size_t k = 0; k < 8 && fires[i].next[k]; k++) {
            time_t n = cron_next(&c, t);
            if (n != utc(fires[i].next[k]))
                fail_msg("'%s' after %s: got %s, want %s", fires[i].expr, iso(t, err, 32),
                         n == (time_t)-1 ? "none" : iso(n, got, sizeof(got)), fires[i].next[k]);
            assert_true(cron_match(&c, n));
            t = n;
        }
    }
}

/* Malformed: every error is one line that names the field (or "expression"). */
static const struct {
    const char *expr, *error;
} errors[] = {
    {"", "expression: empty"},
    {"   \t ", "expression: empty"},
    {"* * * *", "expression: expected 5 fields (minute hour day-of-month month day-of-week), "
                "got 4"},
    {"*", "got 1"},
    {"* * * * * *", "got 6 (seconds and years are not supported)"},
    {"0 0 * * * 2026 x", "got 7"},
    {"60 * * * *", "minute: 60 is out of range 0-59"},
    {"* 24 * * *", "hour: 24 is out of range 0-23"},
    {"* * 0 * *", "day-of-month: 0 is out of range 1-31"},
    {"* * 32 * *", "day-of-month: 32 is out of range 1-31"},
    {"* * * 0 *", "month: 0 is out of range 1-12"},
    {"* * * 13 *", "month: 13 is out of range 1-12"},
    {"* * * * 8", "day-of-week: 8 is out of range 0-7"},
    {"99999999999999999999 * * * *", "minute: 99999999999999999999 is out of range 0-59"},
    {"*/0 * * * *", "minute: step 0 is out of range 1-60"},
    {"*/61 * * * *", "minute: step 61 is out of range 1-60"},
    {"* */25 * * *", "hour: step 25 is out of range 1-24"},
    {"* * * * */8", "day-of-week: step 8 is out of range 1-7"},
    {"* * * * 1-5/0", "day-of-week: step 0 is out of range 1-7"},
    {"*/ * * * *", "minute: a step is missing after '/' in '*/'"},
    {"*/x * * * *", "minute: step 'x' is not a number"},
    {"*/-1 * * * *", "minute: step '-1' is not a number"},
    {"/5 * * * *", "minute: a value is missing before '/' in '/5'"},
    {"1/2/3 * * * *", "minute: '1/2/3' has more than one '/'"},
    {"1- * * * *", "minute: the end of range '1-' is missing"},
    {"1-/5 * * * *", "minute: the end of range '1-' is missing"},
    {"-1 * * * *", "minute: '-1' is not a number"},
    {"-5-10 * * * *", "minute: '-5-10' has more than one '-'"},
    {"1-2-3 * * * *", "minute: '1-2-3' has more than one '-'"},
    {"5-1 * * * *", "minute: range 5-1 goes backwards"},
    {"* * * * FRI-MON", "day-of-week: range FRI-MON goes backwards"},
    {"* * * DEC-JAN *", "month: range DEC-JAN goes backwards"},
    {"1,,2 * * * *", "minute: empty item in list '1,,2'"},
    {",1 * * * *", "minute: empty item in list ',1'"},
    {"1, * * * *", "minute: empty item in list '1,'"},
    {"a * * * *", "minute: 'a' is not a number"},
    {"1.5 * * * *", "minute: '1.5' is not a number"},
    {"** * * * *", "minute: '**' is not a number"},
    {"*5 * * * *", "minute: '*5' is not a number"},
    {"*-5 * * * *", "minute: '*' is not a number"},
    {"5* * * * *", "minute: '5*' is not a number"},
    {"+5 * * * *", "minute: '+5' is not a number"},
    {"? * * * *", "minute: '?' is not a number"},
    {"L * * * *", "minute: 'L' is not a number"},
    {"* * L * *", "day-of-month: 'L' is not a number"},
    {"* * 15W * *", "day-of-month: '15W' is not a number"},
    {"* * * * 5#3", "day-of-week: '5#3' is not a number"},
    {"* MON * * *", "hour: 'MON' is not a number"},
    {"* * * FOO *", "month: 'FOO' is not a number or month name"},
    {"* * * January *", "month: 'January' is not a number or month name"},
    {"* * * MON *", "month: 'MON' is not a number or month name"},
    {"* * * * JAN", "day-of-week: 'JAN' is not a number or weekday name"},
    {"* * * * FUNDAY", "day-of-week: 'FUNDAY' is not a number or weekday name"},
    {"* * * * MO", "day-of-week: 'MO' is not a number or weekday name"},
    {"* * * * MON-", "day-of-week: the end of range 'MON-' is missing"},
    {"* * * * 1/", "day-of-week: a step is missing after '/' in '1/'"},
    {"\x01 * * * *", "minute: '?' is not a number"},
    {"\xc3\xa9 * * * *", "minute: '?"
                         "?' is not a number"},
    {"0 0 30 2 *", "day-of-month: 30 never occurs in month 2"},
    {"0 0 31 2 *", "day-of-month: 31 never occurs in month 2"},
    {"0 0 31 4,6,9,11 *", "day-of-month: 31 never occurs in month 4,6,9,11"},
    {"0 0 31 APR *", "day-of-month: 31 never occurs in month APR"},
    {"0 0 30,31 FEB */1", "day-of-month: 30,31 never occurs in month FEB"},
    {"@reboot", "expression: @reboot is not supported"},
    {"@foo", "expression: unknown macro '@foo' (use @yearly, @monthly, @weekly, @daily or "
             "@hourly)"},
    {"@", "expression: unknown macro '@'"},
    {"@daily 5", "expression: unknown macro '@daily 5'"},
    {"@dailyy", "expression: unknown macro '@dailyy'"},
    {"0 0\n* * *", "got 4"}, /* only spaces and tabs separate fields */
};

static void test_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
        struct cron c;
        char err[256];
        memset(err, 0, sizeof(err));
        if (cron_parse(errors[i].expr, &c, err, sizeof(err)) != -1)
            fail_msg("'%s' parsed; want error '%s'", errors[i].expr, errors[i].error);
        if (!strstr(err, errors[i].error))
            fail_msg("'%s': got error '%s', want '%s'", errors[i].expr, err, errors[i].error);
        assert_null(strchr(err, '\n')); /* one line, printable */
        for (const char *p = err; *p; p++)
            assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
    }
}

static void test_long_expression_refused(void **state)
{
    (void)state;
    char expr[CRON_MAX_LEN + 40], err[256];
    struct cron c;
    memset(expr, ' ', sizeof(expr));
    memcpy(expr, "* * * * *", 9);
    expr[sizeof(expr) - 1] = '\0';
    assert_int_equal(cron_parse(expr, &c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "expression: longer than 256 characters"));
    /* a long error excerpt is cut and still one short line */
    memset(expr, '7', 200);
    memcpy(expr + 200, " * * * *", 9);
    assert_int_equal(cron_parse(expr, &c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "minute: 777"));
    assert_non_null(strstr(err, "... is out of range 0-59"));
    assert_true(strlen(err) < 80);
    /* a tiny error buffer is fine */
    char small[8];
    assert_int_equal(cron_parse("61 * * * *", &c, small, sizeof(small)), -1);
    assert_string_equal(small, "minute:");
}

static void test_match_and_edges(void **state)
{
    (void)state;
    struct cron c;
    char err[256];
    assert_int_equal(cron_parse("30 4 * * *", &c, err, sizeof(err)), 0);
    assert_true(cron_match(&c, utc("2026-05-05T04:30:00")));
    assert_true(cron_match(&c, utc("2026-05-05T04:30:59"))); /* within the minute */
    assert_false(cron_match(&c, utc("2026-05-05T04:31:00")));
    assert_false(cron_match(&c, (time_t)-5));
    /* before the epoch: the first fire at or after 1970 */
    assert_int_equal(cron_next(&c, (time_t)-100000), utc("1970-01-01T04:30"));
    /* the end of time */
    assert_int_equal(cron_next(&c, utc("9999-12-31T04:30")), (time_t)-1);
    assert_int_equal(cron_next(&c, utc("9999-12-30T04:30")), utc("9999-12-31T04:30"));
    assert_int_equal(cron_next(&c, (time_t)INT64_MAX), (time_t)-1);
    assert_int_equal(cron_parse("0 0 29 2 *", &c, err, sizeof(err)), 0);
    assert_int_equal(cron_next(&c, utc("9996-03-01T00:00")), (time_t)-1);
    /* an all-zero struct (never parsed) never fires */
    struct cron zero;
    memset(&zero, 0, sizeof(zero));
    assert_int_equal(cron_next(&zero, 0), (time_t)-1);
}

/* cron_next against a minute-by-minute scan: the result matches, nothing before it does. */
static void test_next_against_scan(void **state)
{
    (void)state;
    static const char *exprs[] = {
        "* * * * *",
        "*/7 */5 * * *",
        "0 0 1 * MON",
        "0 0 31 * *",
        "0 0 29 2 *",
        "1,2,3 4-6 7-9/2 */3 *",
        "59 23 * * 6",
        "@weekly",
        "0 12 13 * 5",
        "0 0 1-7 * 1",
        "*/30 9-17 * JAN-MAR,OCT *",
    };
    unsigned seed = 12345;
    char err[256];
    for (size_t e = 0; e < sizeof(exprs) / sizeof(exprs[0]); e++) {
        struct cron c;
        if (cron_parse(exprs[e], &c, err, sizeof(err)) < 0)
            continue;
        for (int round = 0; round < 60; round++) {
            seed = seed * 1103515245u + 12345u;
            time_t after = (time_t)(((uint64_t)seed << 16 ^ seed) % 13000000000ULL);
            time_t n = cron_next(&c, after);
            assert_true(n != (time_t)-1);
            assert_true(n > after);
            assert_int_equal(n % 60, 0);
            assert_true(cron_match(&c, n));
            /* scan the gap when it is short enough; spot-check it otherwise */
            time_t first = (after / 60 + 1) * 60;
            time_t step = n - first > 3 * 86400 ? (n - first) / 4000 / 60 * 60 + 60 : 60;
            for (time_t t = first; t < n; t += step)
                if (cron_match(&c, t))
                    fail_msg("'%s' after %lld: %lld matches before next %lld", exprs[e],
                             (long long)after, (long long)t, (long long)n);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fire_times),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_long_expression_refused),
        cmocka_unit_test(test_match_and_edges),
        cmocka_unit_test(test_next_against_scan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
