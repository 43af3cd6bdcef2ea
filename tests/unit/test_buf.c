/* test_buf.c - the growable buffer: appends that fit and that grow it, formatted appends
   that fit the room there is and that do not, and the limit, which appends nothing and
   leaves the text as it was (NUL-terminated) when it would be exceeded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/buf.h"

static void test_appends_and_growth(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    assert_string_equal(buf_str(&b), "");
    assert_int_equal(buf_adds(&b, "abc"), 0);
    assert_int_equal(buf_addc(&b, '-'), 0);
    assert_int_equal(buf_addf(&b, "%d/%s", 42, "x"), 0); /* fits the room there is */
    assert_string_equal(buf_str(&b), "abc-42/x");
    char big[300];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(buf_addf(&b, "[%s]", big), 0); /* does not: grows, formats again */
    assert_int_equal(b.len, 8 + 2 + 299);
    assert_int_equal(b.data[b.len], '\0');
    assert_int_equal(b.data[8], '[');
    assert_int_equal(b.data[b.len - 1], ']');
    size_t cap = b.cap;
    assert_int_equal(buf_reserve(&b, 10000), 0);
    assert_true(b.cap >= b.len + 10001 && b.cap > cap);
    assert_int_equal(b.len, 309); /* reserving appends nothing */
    buf_release(&b);
}

static void test_limit_appends_nothing(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 10);
    assert_int_equal(buf_adds(&b, "12345"), 0);
    assert_int_equal(buf_reserve(&b, 100), -1);
    /* the room allocated is larger than the limit: the text fits it but not the limit */
    assert_true(b.cap > 10);
    assert_int_equal(buf_addf(&b, "%s", "abcdefgh"), -1);
    assert_true(b.toobig);
    assert_int_equal(b.len, 5);
    assert_string_equal(buf_str(&b), "12345");
    assert_int_equal(buf_adds(&b, "abcdefgh"), -1);
    assert_string_equal(buf_str(&b), "12345");
    assert_int_equal(buf_addf(&b, "%s", "abcde"), 0); /* exactly the limit */
    assert_string_equal(buf_str(&b), "12345abcde");
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_appends_and_growth),
        cmocka_unit_test(test_limit_appends_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
