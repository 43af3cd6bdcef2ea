/* test_framing.c - the framing check as data: each case is a byte stream and the status
   framing_feed() must reach (0: well-formed), fed whole and then split at every byte
   (a client's bytes arrive in any pieces, and the answer must not depend on them);
   pipelined requests: the bytes passed on stop at the offending request's first byte;
   a dead stream stays dead. The HTTP-level behaviour is tests/system/test_http_conformance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "http/framing.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct framing_limits lim = {
    .max_line = 64,
    .max_field = 48,
    .max_head = 160,
    .max_fields = 4,
    .max_params = 3,
    .max_cookies = 2,
    .max_body = 10,
};

struct stream_case {
    const char *bytes;
    int status;
    size_t len; /* 0: strlen(bytes) */
};

#define GET "GET / HTTP/1.1\r\nHost: x\r\n"
static const struct stream_case cases[] = {
    {GET "\r\n", 0, 0},
    {GET "\r\n" GET "\r\n", 0, 0},
    {"\r\n\r\n" GET "\r\n", 0, 0},
    {"GET / HTTP/1.0\r\n\r\n", 0, 0},
    {"GET / HTTP/1.1\nHost: x\n\n", 0, 0},
    {GET "Content-Length: 3\r\n\r\nabc" GET "\r\n", 0, 0},
    {GET "Transfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\n" GET "\r\n", 0, 0},
    {GET "Cookie: a=1; b=2\r\n\r\n", 0, 0},
    {"GET /?a&b&c HTTP/1.1\r\nHost: x\r\n\r\n", 0, 0},
    {"GET /%2500 HTTP/1.1\r\nHost: x\r\n\r\n", 0, 0},
    {"GET /?q=%00 HTTP/1.1\r\nHost: x\r\n\r\n", 0, 0},
    {GET "Content-Length : 3\r\n\r\n", 400, 0},
    {GET "X: a\rb\r\n\r\n", 400, 0},
    {GET "X: a\0b\r\n\r\n", 400, sizeof(GET "X: a\0b\r\n\r\n") - 1},
    {GET " X: a\r\n\r\n", 400, 0},
    {"GET / HTTP/1.1\r\n\r\n", 400, 0},
    {GET "Host: y\r\n\r\n", 400, 0},
    {GET "Content-Length: 1\r\nContent-Length: 1\r\n\r\n", 400, 0},
    {GET "Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400, 0},
    {GET "Content-Length: 0x1\r\n\r\n", 400, 0},
    {GET "Content-Length: 11\r\n\r\n", 413, 0},
    {GET "Transfer-Encoding: gzip\r\n\r\n", 501, 0},
    {GET "Transfer-Encoding: chunked\r\n\r\n0_2\r\n", 400, 0},
    {GET "Transfer-Encoding: chunked\r\n\r\n3\nabc\r\n", 400, 0},
    {GET "Transfer-Encoding: chunked\r\n\r\n3\r\nabcd", 400, 0},
    {GET "Transfer-Encoding: chunked\r\n\r\nb\r\n", 413, 0},
    {GET "Transfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n5\r\n", 413, 0},
    {"GET /a%00 HTTP/1.1\r\nHost: x\r\n\r\n", 400, 0},
    {"GET /?a&b&c&d HTTP/1.1\r\nHost: x\r\n\r\n", 414, 0},
    {"GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n", 414, 0},
    {GET "X: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", 431, 0},
    {GET "A: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\n\r\n", 431, 0},
    {GET "Cookie: a=1; b=2; c=3\r\n\r\n", 431, 0},
    {"GET / HTTP/2.0\r\n", 505, 0},
    {"GET / HTTP/1.1 \r\n", 400, 0},
    {"GET /\r\n", 400, 0},
};

static int feed_all(const char *bytes, size_t n, size_t step)
{
    struct framing f;
    framing_init(&f, &lim);
    int status = 0;
    for (size_t i = 0; i < n && !status; i += step) {
        size_t len = n - i < step ? n - i : step, good;
        status = framing_feed(&f, (const unsigned char *)bytes + i, len, &good);
        if (!status)
            assert_int_equal(good, len);
    }
    return status;
}

static void test_streams_whole_and_split(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(cases); i++) {
        size_t n = cases[i].len ? cases[i].len : strlen(cases[i].bytes);
        for (size_t step = 1; step <= n; step = step < 8 ? step + 1 : step * 2) {
            int got = feed_all(cases[i].bytes, n, step);
            if (got != cases[i].status)
                fail_msg("case %zu (step %zu): %d, want %d", i, step, got, cases[i].status);
        }
    }
}

static void test_pipelined_good_bytes_stop_at_the_bad_request(void **state)
{
    (void)state;
    static const char two[] = GET "\r\n" GET "X : y\r\n\r\n";
    struct framing f;
    framing_init(&f, &lim);
    size_t good;
    assert_int_equal(framing_feed(&f, (const unsigned char *)two, sizeof(two) - 1, &good), 400);
    assert_int_equal(good, sizeof(GET "\r\n") - 1);
    assert_int_equal(f.requests, 2);
    /* dead: every later feed refuses, passing nothing */
    assert_int_equal(framing_feed(&f, (const unsigned char *)GET, 5, &good), 400);
    assert_int_equal(good, 0);
    assert_false(framing_idle(&f));
}

static void test_a_request_begun_in_an_earlier_feed_passes_nothing_more(void **state)
{
    (void)state;
    struct framing f;
    framing_init(&f, &lim);
    size_t good;
    assert_int_equal(framing_feed(&f, (const unsigned char *)GET, sizeof(GET) - 1, &good), 0);
    assert_false(framing_idle(&f));
    assert_int_equal(framing_feed(&f, (const unsigned char *)"X\t: 1\r\n", 7, &good), 400);
    assert_int_equal(good, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_streams_whole_and_split),
        cmocka_unit_test(test_pipelined_good_bytes_stop_at_the_bad_request),
        cmocka_unit_test(test_a_request_begun_in_an_earlier_feed_passes_nothing_more),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
