/* test_form.c - application/x-www-form-urlencoded bodies as data: valid bodies with the
   fields they must give, invalid ones with the refusal, the field and name limits,
   duplicates (first wins), '+' versus %2B, and the Content-Type check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "http/form.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct valid_case {
    const char *body;
    size_t n;                 /* fields expected */
    const char *fields[4][2]; /* the first ones, in order: name, value */
};

static const struct valid_case valid[] = {
    {"", 0, {{0}}},
    {"&", 0, {{0}}},
    {"&&&", 0, {{0}}},
    {"a=1", 1, {{"a", "1"}}},
    {"a=1&b=2", 2, {{"a", "1"}, {"b", "2"}}},
    {"a=1&&b=2", 2, {{"a", "1"}, {"b", "2"}}},
    {"a=1&", 1, {{"a", "1"}}},
    {"&a=1", 1, {{"a", "1"}}},
    {"a", 1, {{"a", ""}}},
    {"a=", 1, {{"a", ""}}},
    {"a&b=2", 2, {{"a", ""}, {"b", "2"}}},
    {"=x", 1, {{"", "x"}}},
    {"=", 1, {{"", ""}}},
    {"a=b=c", 1, {{"a", "b=c"}}},
    {"q=a+b%2Bc", 1, {{"q", "a b+c"}}},
    {"q=%20+%2b+", 1, {{"q", "  + "}}},
    {"first+name=Ada+Lovelace", 1, {{"first name", "Ada Lovelace"}}},
    {"n%61me=v%61lue", 1, {{"name", "value"}}},
    {"%2B=%26&%3D=%25", 2, {{"+", "&"}, {"=", "%"}}},
    {"x=%e2%82%AC&y=%E2%82%ac", 2, {{"x", "€"}, {"y", "€"}}},
    {"msg=caf%C3%A9+%E6%97%A5%E6%9C%AC+%F0%9F%98%80", 1, {{"msg", "café 日本 😀"}}},
    {"raw=café", 1, {{"raw", "café"}}},
    {"a=1&a=2&a=3", 3, {{"a", "1"}, {"a", "2"}, {"a", "3"}}},
    {"a=%0D%0A%09", 1, {{"a", "\r\n\t"}}},
    {"a=line1%0Aline2&b=%3Cscript%3E", 2, {{"a", "line1\nline2"}, {"b", "<script>"}}},
};

static void test_valid_bodies(void **state)
{
    (void)state;
    char err[128];
    for (size_t i = 0; i < N(valid); i++) {
        struct form f;
        int rc = form_parse(&f, valid[i].body, strlen(valid[i].body), err, sizeof(err));
        if (rc != 0)
            print_error("case %zu (%s): %s\n", i, valid[i].body, err);
        assert_int_equal(rc, 0);
        assert_string_equal(err, "");
        assert_int_equal(f.n, valid[i].n);
        for (size_t k = 0; k < f.n && k < 4; k++) {
            assert_string_equal(f.names[k], valid[i].fields[k][0]);
            assert_string_equal(f.values[k], valid[i].fields[k][1]);
        }
        form_release(&f);
        assert_int_equal(f.n, 0);
    }
}

struct invalid_case {
    const char *body;
    size_t len; /* 0: strlen */
    const char *err;
};

static const struct invalid_case invalid[] = {
    {"a=%", 0, "Field 1 of the form has a bad %-escape in its value."},
    {"a=%4", 0, "Field 1 of the form has a bad %-escape in its value."},
    {"a=%zz", 0, "Field 1 of the form has a bad %-escape in its value."},
    {"a=%4g", 0, "Field 1 of the form has a bad %-escape in its value."},
    {"a=%%41", 0, "Field 1 of the form has a bad %-escape in its value."},
    {"a=% 1", 0, "Field 1 of the form has a bad %-escape in its value."},
    {"ok=1&%=1", 0, "Field 2 of the form has a bad %-escape in its name."},
    {"ok=1&&b%2=1", 0, "Field 2 of the form has a bad %-escape in its name."},
    {"a=%00", 0, "Field 1 of the form has a NUL byte in its value."},
    {"a%00=1", 0, "Field 1 of the form has a NUL byte in its name."},
    {"a=x\0y", 5, "Field 1 of the form has a NUL byte in its value."},
    {"a=%FF", 0, "Field 1 of the form has invalid UTF-8 in its value."},
    {"a=%C3", 0, "Field 1 of the form has invalid UTF-8 in its value."},
    {"a=%C3%28", 0, "Field 1 of the form has invalid UTF-8 in its value."},
    {"a=%C0%AF", 0, "Field 1 of the form has invalid UTF-8 in its value."},    /* overlong */
    {"a=%E0%80%AF", 0, "Field 1 of the form has invalid UTF-8 in its value."}, /* overlong */
    {"a=%ED%A0%80", 0, "Field 1 of the form has invalid UTF-8 in its value."}, /* surrogate */
    {"a=%F4%90%80%80", 0, "Field 1 of the form has invalid UTF-8 in its value."},
    {"a=%F0%9F%98", 0, "Field 1 of the form has invalid UTF-8 in its value."}, /* truncated */
    {"a=\xff", 0, "Field 1 of the form has invalid UTF-8 in its value."},
    {"%E9t%E9=1", 0, "Field 1 of the form has invalid UTF-8 in its name."}, /* Latin-1 */
};

static void test_invalid_bodies(void **state)
{
    (void)state;
    char err[128];
    for (size_t i = 0; i < N(invalid); i++) {
        struct form f;
        size_t len = invalid[i].len ? invalid[i].len : strlen(invalid[i].body);
        int rc = form_parse(&f, invalid[i].body, len, err, sizeof(err));
        if (rc != -1 || strcmp(err, invalid[i].err) != 0)
            print_error("case %zu (%s): rc %d, %s\n", i, invalid[i].body, rc, err);
        assert_int_equal(rc, -1);
        assert_string_equal(err, invalid[i].err);
        assert_int_equal(f.n, 0); /* emptied: nothing to release, releasing is harmless */
        form_release(&f);
        form_release(&f);
    }
}

static void test_field_limit(void **state)
{
    (void)state;
    struct buf body = BUF_INIT;
    struct form f;
    char err[128];

    for (int i = 0; i < FORM_MAX_FIELDS; i++)
        buf_addf(&body, "f%d=%d&", i, i);
    buf_adds(&body, "&&"); /* empty pieces are not fields */
    assert_int_equal(form_parse(&f, body.data, body.len, err, sizeof(err)), 0);
    assert_int_equal(f.n, FORM_MAX_FIELDS);
    assert_string_equal(form_get(&f, "f63"), "63");
    form_release(&f);

    buf_adds(&body, "one=more");
    assert_int_equal(form_parse(&f, body.data, body.len, err, sizeof(err)), -1);
    assert_string_equal(err, "The form has more than 64 fields.");
    assert_int_equal(f.n, 0);
    form_release(&f);

    /* many empty pieces and a flood of fields: refused without decoding them all */
    buf_reset(&body);
    for (int i = 0; i < 100000; i++)
        buf_adds(&body, "a&");
    assert_int_equal(form_parse(&f, body.data, body.len, NULL, 0), -1);
    assert_int_equal(f.n, 0);
    buf_release(&body);
}

static void test_name_limit(void **state)
{
    (void)state;
    char body[4 * 70], err[128];
    struct form f;

    memset(body, 'n', 64);
    strcpy(body + 64, "=v");
    assert_int_equal(form_parse(&f, body, strlen(body), err, sizeof(err)), 0);
    assert_int_equal(strlen(f.names[0]), 64);
    form_release(&f);

    memset(body, 'n', 65);
    strcpy(body + 65, "=v");
    assert_int_equal(form_parse(&f, body, strlen(body), err, sizeof(err)), -1);
    assert_string_equal(err, "Field 1 of the form has a name longer than 64 bytes.");

    /* the limit is on the decoded name: 64 x "%41" is 64 bytes, 65 is too many */
    body[0] = '\0';
    for (int i = 0; i < 64; i++)
        strcat(body, "%41");
    strcat(body, "=v");
    assert_int_equal(form_parse(&f, body, strlen(body), err, sizeof(err)), 0);
    form_release(&f);
    body[0] = '\0';
    for (int i = 0; i < 65; i++)
        strcat(body, "%41");
    assert_int_equal(form_parse(&f, body, strlen(body), err, sizeof(err)), -1);

    /* a long value is fine */
    struct buf big = BUF_INIT;
    buf_adds(&big, "v=");
    for (int i = 0; i < 100000; i++)
        buf_adds(&big, "%C3%A9");
    assert_int_equal(form_parse(&f, big.data, big.len, err, sizeof(err)), 0);
    assert_int_equal(strlen(form_get(&f, "v")), 200000);
    form_release(&f);
    buf_release(&big);
}

static void test_get_duplicates_and_missing(void **state)
{
    (void)state;
    struct form f;
    const char *body = "name=Ada&email=ada%40example.com&name=Grace&empty=&bare";
    assert_int_equal(form_parse(&f, body, strlen(body), NULL, 0), 0);
    assert_int_equal(f.n, 5);
    assert_string_equal(form_get(&f, "name"), "Ada"); /* first wins */
    assert_string_equal(form_get(&f, "email"), "ada@example.com");
    assert_string_equal(form_get(&f, "empty"), "");
    assert_string_equal(form_get(&f, "bare"), "");
    assert_null(form_get(&f, "missing"));
    assert_null(form_get(&f, "Name")); /* names are case-sensitive */
    assert_null(form_get(&f, "nam"));
    form_release(&f);
    assert_null(form_get(&f, "name"));
}

static void test_plus_versus_2b(void **state)
{
    (void)state;
    struct form f;
    const char *body = "a=1+1&b=1%2B1&c=%2B+%2B&d=++";
    assert_int_equal(form_parse(&f, body, strlen(body), NULL, 0), 0);
    assert_string_equal(form_get(&f, "a"), "1 1");
    assert_string_equal(form_get(&f, "b"), "1+1");
    assert_string_equal(form_get(&f, "c"), "+ +");
    assert_string_equal(form_get(&f, "d"), "  ");
    form_release(&f);
}

static void test_length_is_honoured(void **state)
{
    (void)state;
    struct form f;
    const char body[] = {'a', '=', '1', '&', 'b', '=', '2'}; /* not NUL-terminated */
    assert_int_equal(form_parse(&f, body, 3, NULL, 0), 0);
    assert_int_equal(f.n, 1);
    assert_null(form_get(&f, "b"));
    form_release(&f);
    assert_int_equal(form_parse(&f, body, sizeof(body), NULL, 0), 0);
    assert_string_equal(form_get(&f, "b"), "2");
    form_release(&f);
    /* an escape cut by the length is bad, not read past the end */
    assert_int_equal(form_parse(&f, "a=%41", 4, NULL, 0), -1);
    assert_int_equal(form_parse(&f, NULL, 0, NULL, 0), 0);
    assert_int_equal(f.n, 0);
    form_release(&f);
}

static void test_err_is_bounded(void **state)
{
    (void)state;
    struct form f;
    char err[8];
    memset(err, 'x', sizeof(err));
    assert_int_equal(form_parse(&f, "a=%", 3, err, sizeof(err)), -1);
    assert_string_equal(err, "Field 1");
    assert_int_equal(form_parse(&f, "a=%", 3, err, 0), -1);
}

static void test_content_type(void **state)
{
    (void)state;
    static const struct {
        const char *ct;
        int yes;
    } cases[] = {
        {"application/x-www-form-urlencoded", 1},
        {"Application/X-WWW-Form-URLEncoded", 1},
        {"application/x-www-form-urlencoded; charset=UTF-8", 1},
        {"application/x-www-form-urlencoded;charset=utf-8", 1},
        {"  application/x-www-form-urlencoded  ", 1},
        {"application/x-www-form-urlencoded ; charset=utf-8", 1},
        {"multipart/form-data; boundary=x", 0},
        {"application/x-www-form-urlencodedx", 0},
        {"application/x-www-form-urlencoded,text/plain", 0},
        {"application/x-www-form", 0},
        {"text/plain", 0},
        {"application/json", 0},
        {"", 0},
        {NULL, 0},
    };
    for (size_t i = 0; i < N(cases); i++)
        assert_int_equal(form_is_urlencoded(cases[i].ct), cases[i].yes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_bodies),
        cmocka_unit_test(test_invalid_bodies),
        cmocka_unit_test(test_field_limit),
        cmocka_unit_test(test_name_limit),
        cmocka_unit_test(test_get_duplicates_and_missing),
        cmocka_unit_test(test_plus_versus_2b),
        cmocka_unit_test(test_length_is_honoured),
        cmocka_unit_test(test_err_is_bounded),
        cmocka_unit_test(test_content_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
