/* test_encoding.c - Accept-Encoding negotiation (q-values, "*", exclusions, case, junk),
   which bodies are worth compressing, one-shot gzip/zstd that round-trip, variant ETags,
   and HTTP dates (http/encoding.c, http/httpdate.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "http/encoding.h"
#include "http/httpdate.h"

#define ALL ENCODING_ALL
#define GZ (1u << ENCODING_GZIP)

static void test_choose_by_q_values(void **state)
{
    (void)state;
    assert_int_equal(encoding_choose(NULL, ALL), ENCODING_IDENTITY);
    assert_int_equal(encoding_choose("", ALL), ENCODING_IDENTITY);
    assert_int_equal(encoding_choose("gzip", ALL), ENCODING_GZIP);
    assert_int_equal(encoding_choose("GZip", ALL), ENCODING_GZIP);
    assert_int_equal(encoding_choose("x-gzip", ALL), ENCODING_GZIP);
    assert_int_equal(encoding_choose("gzip, deflate, br, zstd", ALL), ENCODING_ZSTD);
    assert_int_equal(encoding_choose("gzip, deflate, br, zstd", GZ), ENCODING_GZIP);
    assert_int_equal(encoding_choose("zstd;q=0.5, gzip", ALL), ENCODING_GZIP);
    assert_int_equal(encoding_choose("zstd;q=0.9,gzip;q=0.8", ALL), ENCODING_ZSTD);
    assert_int_equal(encoding_choose("zstd ; q=0.25 , gzip ; q=0.2", ALL), ENCODING_ZSTD);
    assert_int_equal(encoding_choose("gzip;q=0", ALL), ENCODING_IDENTITY);
    assert_int_equal(encoding_choose("gzip;q=0.000, zstd;q=0", ALL), ENCODING_IDENTITY);
    assert_int_equal(encoding_choose("gzip;q=0.001", ALL), ENCODING_GZIP);
    assert_int_equal(encoding_choose("*", ALL), ENCODING_ZSTD);
    assert_int_equal(encoding_choose("*;q=0.5, zstd;q=0", ALL), ENCODING_GZIP);
    assert_int_equal(encoding_choose("*;q=0", ALL), ENCODING_IDENTITY);
    assert_int_equal(encoding_choose("identity", ALL), ENCODING_IDENTITY);
    assert_int_equal(encoding_choose("br", ALL), ENCODING_IDENTITY);
    assert_int_equal(encoding_choose("gzipx, zstdy", ALL), ENCODING_IDENTITY);
    assert_int_equal(encoding_choose("gzip", 0), ENCODING_IDENTITY);
    /* junk does not crash or read past the end */
    assert_int_equal(encoding_choose(";;;,,,q=1;", ALL), ENCODING_IDENTITY);
    assert_int_equal(encoding_choose("gzip;q=", ALL), ENCODING_GZIP);
    assert_int_equal(encoding_choose("gzip;q=0.", ALL), ENCODING_IDENTITY);
    assert_int_equal(encoding_choose("gzip;level=1;q=0", ALL), ENCODING_IDENTITY);
}

static void test_worth(void **state)
{
    (void)state;
    assert_true(encoding_worth("text/html; charset=utf-8", 5000));
    assert_true(encoding_worth("application/json", 5000));
    assert_true(encoding_worth("application/atom+xml; charset=utf-8", 5000));
    assert_true(encoding_worth("image/svg+xml", 5000));
    assert_true(encoding_worth(NULL, 5000)); /* the server's default: HTML */
    assert_false(encoding_worth("text/html", ENCODING_MIN_BYTES - 1));
    assert_false(encoding_worth("image/png", 5000));
    assert_false(encoding_worth("application/gzip", 5000));
    assert_false(encoding_worth("font/woff2", 5000));
    assert_true(encoding_compressible("text/css"));
    assert_false(encoding_compressible("image/jpeg"));
}

static void test_compress_round_trips(void **state)
{
    (void)state;
    size_t n = 20000;
    char *text = malloc(n);
    for (size_t i = 0; i < n; i++)
        text[i] = "<p>Hello, onefile.</p>\n"[i % 23];
    char *z;
    size_t zlen;
    assert_int_equal(encoding_compress(ENCODING_GZIP, text, n, &z, &zlen), 0);
    assert_true(zlen < n / 10);
    assert_int_equal((unsigned char)z[0], 0x1f); /* a gzip member, not a zlib stream */
    assert_int_equal((unsigned char)z[1], 0x8b);
    char *back = malloc(n);
    z_stream s;
    memset(&s, 0, sizeof(s));
    assert_int_equal(inflateInit2(&s, 15 + 16), Z_OK);
    s.next_in = (Bytef *)z;
    s.avail_in = (uInt)zlen;
    s.next_out = (Bytef *)back;
    s.avail_out = (uInt)n;
    assert_int_equal(inflate(&s, Z_FINISH), Z_STREAM_END);
    assert_int_equal(s.total_out, n);
    inflateEnd(&s);
    assert_memory_equal(back, text, n);
    free(z);
    assert_int_equal(encoding_compress(ENCODING_ZSTD, text, n, &z, &zlen), 0);
    assert_int_equal(ZSTD_decompress(back, n, z, zlen), n);
    assert_memory_equal(back, text, n);
    free(z);
    /* random bytes do not shrink: nothing is returned */
    uint64_t x = 88172645463325252ULL;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        text[i] = (char)x;
    }
    z = NULL;
    assert_int_equal(encoding_compress(ENCODING_GZIP, text, n, &z, &zlen), -1);
    assert_null(z);
    assert_int_equal(encoding_compress(ENCODING_ZSTD, text, n, &z, &zlen), -1);
    assert_int_equal(encoding_compress(ENCODING_IDENTITY, text, n, &z, &zlen), -1);
    free(back);
    free(text);
}

static void test_variant_etags(void **state)
{
    (void)state;
    char out[32];
    encoding_etag("\"0123456789abcdef\"", ENCODING_GZIP, out, sizeof(out));
    assert_string_equal(out, "\"0123456789abcdef-gz\"");
    encoding_etag("\"0123456789abcdef\"", ENCODING_ZSTD, out, sizeof(out));
    assert_string_equal(out, "\"0123456789abcdef-zst\"");
    encoding_etag("\"abc\"", ENCODING_IDENTITY, out, sizeof(out));
    assert_string_equal(out, "\"abc\"");
    assert_string_equal(encoding_name(ENCODING_GZIP), "gzip");
    assert_null(encoding_name(ENCODING_IDENTITY));
}

static void test_http_dates(void **state)
{
    (void)state;
    char s[HTTPDATE_LEN];
    httpdate_format(784111777, s);
    assert_string_equal(s, "Sun, 06 Nov 1994 08:49:37 GMT");
    time_t t;
    assert_int_equal(httpdate_parse("Sun, 06 Nov 1994 08:49:37 GMT", &t), 0);
    assert_int_equal(t, 784111777);
    httpdate_format(1796220000, s);
    assert_int_equal(httpdate_parse(s, &t), 0);
    assert_int_equal(t, 1796220000);
    assert_int_equal(httpdate_parse("Sunday, 06-Nov-94 08:49:37 GMT", &t), -1); /* RFC 850 */
    assert_int_equal(httpdate_parse("Sun Nov  6 08:49:37 1994", &t), -1);       /* asctime */
    assert_int_equal(httpdate_parse("Sun, 06 Nov 1994 08:49:37 UTC", &t), -1);
    assert_int_equal(httpdate_parse("Sun, 06 Foo 1994 08:49:37 GMT", &t), -1);
    assert_int_equal(httpdate_parse("Sun, 36 Nov 1994 08:49:37 GMT", &t), -1);
    assert_int_equal(httpdate_parse("Sun, 06 Nov 1994 08:49:37 GMTX", &t), -1);
    assert_int_equal(httpdate_parse("", &t), -1);
    assert_int_equal(httpdate_parse(NULL, &t), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_choose_by_q_values),   cmocka_unit_test(test_worth),
        cmocka_unit_test(test_compress_round_trips), cmocka_unit_test(test_variant_etags),
        cmocka_unit_test(test_http_dates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
