/* test_stream.c - the backup streams (remote/stream.c, compress.c, crypt.c): round trips
   through every codec with and without encryption at chunk-boundary sizes, bounded memory
   over a large input, and refusal of tampered, truncated, extended or wrongly keyed
   encrypted streams and of damaged gzip/zstd streams. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/buf.h"
#include "remote/compress.h"
#include "remote/crypt.h"
#include "remote/stream.h"

static uint8_t key[CRYPT_KEY_BYTES], other_key[CRYPT_KEY_BYTES];

/* Deterministic data that compresses somewhat: text runs mixed with noise. */
static void fill(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (i / 512) % 3 == 0 ? (uint8_t)x : (uint8_t)("onefile backup "[i % 15]);
    }
}

/* Encodes in into *out with the given codec (and key, may be NULL), in uneven writes. */
static int encode(enum compress_kind k, const uint8_t *ekey, const uint8_t *in, size_t n,
                  struct buf *out, char *err, size_t errlen)
{
    struct stream *s = stream_buf_new(out, err, errlen);
    if (ekey)
        s = crypt_encoder_new(ekey, s);
    s = compress_encoder_new(k, 0, s);
    size_t off = 0, step = 1;
    int rc = 0;
    while (off < n && rc == 0) {
        size_t take = step < n - off ? step : n - off;
        rc = stream_write(s, in + off, take);
        off += take;
        step = step * 3 + 7;
    }
    if (rc == 0)
        rc = stream_finish(s);
    stream_free(s);
    return rc;
}

static int decode(enum compress_kind k, const uint8_t *dkey, const uint8_t *in, size_t n,
                  struct buf *out, char *err, size_t errlen)
{
    struct stream *s = stream_buf_new(out, err, errlen);
    s = compress_decoder_new(k, s);
    if (dkey)
        s = crypt_decoder_new(dkey, s);
    size_t off = 0, step = 5;
    int rc = 0;
    while (off < n && rc == 0) {
        size_t take = step < n - off ? step : n - off;
        rc = stream_write(s, in + off, take);
        off += take;
        step = step * 2 + 1;
    }
    if (rc == 0)
        rc = stream_finish(s);
    stream_free(s);
    return rc;
}

static void test_round_trips(void **state)
{
    (void)state;
    static const size_t sizes[] = {0,
                                   1,
                                   17,
                                   CRYPT_CHUNK - 1,
                                   CRYPT_CHUNK,
                                   CRYPT_CHUNK + 1,
                                   2 * CRYPT_CHUNK,
                                   3 * 1024 * 1024 + 5};
    static const enum compress_kind kinds[] = {COMPRESS_NONE, COMPRESS_GZIP, COMPRESS_ZSTD};
    uint8_t *data = malloc(sizes[7]);
    fill(data, sizes[7], 1);
    char err[256];
    for (size_t ki = 0; ki < 3; ki++) {
        for (int enc = 0; enc < 2; enc++) {
            for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
                struct buf packed = BUF_INIT, back = BUF_INIT;
                const uint8_t *k = enc ? key : NULL;
                if (encode(kinds[ki], k, data, sizes[si], &packed, err, sizeof(err)) != 0)
                    fail_msg("encode %s enc=%d n=%zu: %s", compress_name(kinds[ki]), enc, sizes[si],
                             err);
                if (decode(kinds[ki], k, (const uint8_t *)packed.data, packed.len, &back, err,
                           sizeof(err)) != 0)
                    fail_msg("decode %s enc=%d n=%zu: %s", compress_name(kinds[ki]), enc, sizes[si],
                             err);
                assert_int_equal(back.len, sizes[si]);
                if (sizes[si])
                    assert_memory_equal(back.data, data, sizes[si]);
                buf_release(&packed);
                buf_release(&back);
            }
        }
    }
    free(data);
}

static long max_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* 384 MiB through compress -> encrypt -> hash -> decrypt -> decompress -> hash, in 1 MiB
   writes: both digests agree and the peak resident size grows by far less than the data. */
static void test_bounded_memory_on_a_large_input(void **state)
{
    (void)state;
    static const enum compress_kind kinds[] = {COMPRESS_GZIP, COMPRESS_ZSTD};
    const size_t block = 1024 * 1024, blocks = 192;
    uint8_t *data = malloc(block);
    char err[256];
    for (size_t ki = 0; ki < 2; ki++) {
        long before = max_rss_kib();
        char in_sha[65], mid_sha[65], out_sha[65];
        uint64_t in_n, mid_n, out_n, sink_n;
        struct stream *s = stream_null_new(&sink_n, err, sizeof(err));
        s = stream_hash_new(out_sha, &out_n, s);
        s = compress_decoder_new(kinds[ki], s);
        s = crypt_decoder_new(key, s);
        s = stream_hash_new(mid_sha, &mid_n, s);
        s = crypt_encoder_new(key, s);
        s = compress_encoder_new(kinds[ki], 1, s);
        s = stream_hash_new(in_sha, &in_n, s);
        for (size_t i = 0; i < blocks; i++) {
            fill(data, block, i);
            if (stream_write(s, data, block) != 0)
                fail_msg("%s: %s", compress_name(kinds[ki]), err);
        }
        if (stream_finish(s) != 0)
            fail_msg("%s: %s", compress_name(kinds[ki]), err);
        stream_free(s);
        assert_int_equal(in_n, blocks * block);
        assert_int_equal(out_n, blocks * block);
        assert_string_equal(in_sha, out_sha);
        assert_true(mid_n < in_n);
        long grown_mib = (max_rss_kib() - before) / 1024;
        print_message("%s: %zu MiB streamed, stored %llu MiB, peak RSS grew %ld MiB\n",
                      compress_name(kinds[ki]), blocks, (unsigned long long)(mid_n >> 20),
                      grown_mib);
        assert_true(grown_mib < 64);
    }
    free(data);
}

/* An encrypted, gzip'ed 300 KiB stream for the refusal tests. */
static void sealed(struct buf *packed, size_t n)
{
    uint8_t *data = malloc(n);
    char err[256];
    fill(data, n, 7);
    assert_int_equal(encode(COMPRESS_NONE, key, data, n, packed, err, sizeof(err)), 0);
    free(data);
}

static void expect_refused(const struct buf *b, size_t len, const uint8_t *k, const char *want)
{
    struct buf back = BUF_INIT;
    char err[256];
    int rc = decode(COMPRESS_NONE, k, (const uint8_t *)b->data, len, &back, err, sizeof(err));
    if (rc == 0)
        fail_msg("accepted (len %zu), wanted an error with '%s'", len, want);
    if (!strstr(err, want))
        fail_msg("error '%s' lacks '%s'", err, want);
    buf_release(&back);
}

static void test_tampered_encrypted_stream_refused(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    sealed(&b, 300 * 1024);
    size_t preamble = 8 + 8 + 24;
    /* a changed byte in the first chunk, in a middle one, in the last one's MAC */
    size_t spots[] = {preamble + 10, preamble + 2 * (CRYPT_CHUNK + 17) + 5, b.len - 1};
    for (size_t i = 0; i < 3; i++) {
        b.data[spots[i]] ^= 0x20;
        expect_refused(&b, b.len, key, i < 2 ? "tampered" : "truncated or its end was tampered");
        b.data[spots[i]] ^= 0x20;
    }
    /* the secretstream header (nonce) changed: nothing authenticates */
    b.data[8 + 8 + 3] ^= 1;
    expect_refused(&b, b.len, key, "tampered");
    b.data[8 + 8 + 3] ^= 1;
    /* chunks swapped */
    struct buf sw = BUF_INIT;
    buf_add(&sw, b.data, b.len);
    memcpy(sw.data + preamble, b.data + preamble + CRYPT_CHUNK + 17, CRYPT_CHUNK + 17);
    memcpy(sw.data + preamble + CRYPT_CHUNK + 17, b.data + preamble, CRYPT_CHUNK + 17);
    expect_refused(&sw, sw.len, key, "tampered");
    buf_release(&sw);
    /* the untouched stream still decodes */
    struct buf back = BUF_INIT;
    char err[256];
    assert_int_equal(
        decode(COMPRESS_NONE, key, (const uint8_t *)b.data, b.len, &back, err, sizeof(err)), 0);
    assert_int_equal(back.len, 300 * 1024);
    buf_release(&back);
    buf_release(&b);
}

static void test_truncated_or_extended_encrypted_stream_refused(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    sealed(&b, 300 * 1024);
    size_t preamble = 8 + 8 + 24, chunk = CRYPT_CHUNK + 17;
    size_t cuts[] = {0,
                     5,
                     preamble - 1,
                     preamble,
                     preamble + 1,
                     preamble + chunk,
                     preamble + 2 * chunk,
                     preamble + 2 * chunk + 100,
                     b.len - 1};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
        expect_refused(&b, cuts[i], key, "truncated");
    /* bytes appended to the final (short) chunk break its MAC */
    buf_addc(&b, 'x');
    expect_refused(&b, b.len, key, "tampered");
    buf_release(&b);
}

static void test_wrong_key_refused_before_decrypting(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    sealed(&b, 1000);
    char id[CRYPT_KEY_ID_HEX];
    crypt_key_id(key, id);
    expect_refused(&b, b.len, other_key, "wrong key");
    expect_refused(&b, b.len, other_key, id);
    b.data[0] = 'X';
    expect_refused(&b, b.len, key, "bad magic");
    buf_release(&b);
}

static void test_key_parsing(void **state)
{
    (void)state;
    char b64[64], err[256];
    uint8_t k[CRYPT_KEY_BYTES];
    crypt_key_new(b64, sizeof(b64));
    assert_int_equal(strlen(b64), 44);
    assert_int_equal(crypt_key_parse(b64, k, err, sizeof(err)), 0);
    char spaced[80];
    snprintf(spaced, sizeof(spaced), "  %s\n", b64);
    assert_int_equal(crypt_key_parse(spaced, k, err, sizeof(err)), 0);
    assert_int_equal(crypt_key_parse("c2hvcnQ=", k, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "32 bytes"));
    assert_int_equal(crypt_key_parse("not base64 at all!!!", k, err, sizeof(err)), -1);
    b64[43] = '\0'; /* padding gone */
    assert_int_equal(crypt_key_parse(b64, k, err, sizeof(err)), -1);
}

static void test_damaged_compressed_streams_refused(void **state)
{
    (void)state;
    static const enum compress_kind kinds[] = {COMPRESS_GZIP, COMPRESS_ZSTD};
    const size_t n = 500 * 1024;
    uint8_t *data = malloc(n);
    fill(data, n, 3);
    char err[256];
    for (size_t ki = 0; ki < 2; ki++) {
        struct buf packed = BUF_INIT, back = BUF_INIT;
        assert_int_equal(encode(kinds[ki], NULL, data, n, &packed, err, sizeof(err)), 0);
        /* truncated */
        assert_int_equal(decode(kinds[ki], NULL, (const uint8_t *)packed.data, packed.len - 3,
                                &back, err, sizeof(err)),
                         -1);
        assert_non_null(strstr(err, "truncated"));
        buf_reset(&back);
        /* trailing garbage */
        struct buf longer = BUF_INIT;
        buf_add(&longer, packed.data, packed.len);
        buf_adds(&longer, "garbage");
        assert_int_equal(decode(kinds[ki], NULL, (const uint8_t *)longer.data, longer.len, &back,
                                err, sizeof(err)),
                         -1);
        assert_non_null(strstr(err, "trailing"));
        buf_reset(&back);
        /* a flipped byte in the middle: the codec's own checksum or structure catches it */
        packed.data[packed.len / 2] ^= 0x55;
        assert_int_equal(decode(kinds[ki], NULL, (const uint8_t *)packed.data, packed.len, &back,
                                err, sizeof(err)),
                         -1);
        buf_release(&longer);
        buf_release(&packed);
        buf_release(&back);
    }
    free(data);
}

static void test_hash_and_errors_propagate(void **state)
{
    (void)state;
    char err[256], hex[65];
    uint64_t n;
    struct buf small;
    buf_init(&small, 10);
    struct stream *s = stream_hash_new(hex, &n, stream_buf_new(&small, err, sizeof(err)));
    assert_int_equal(stream_write(s, "abc", 3), 0);
    assert_int_equal(stream_finish(s), 0);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(n, 3);
    assert_int_equal(stream_write(s, "0123456789", 10), -1); /* the sink's limit */
    assert_non_null(strstr(err, "more than 10 bytes"));
    assert_int_equal(stream_write(s, "x", 1), -1); /* stays failed */
    stream_free(s);
    buf_release(&small);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    randombytes_buf(key, sizeof(key));
    randombytes_buf(other_key, sizeof(other_key));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_bounded_memory_on_a_large_input),
        cmocka_unit_test(test_tampered_encrypted_stream_refused),
        cmocka_unit_test(test_truncated_or_extended_encrypted_stream_refused),
        cmocka_unit_test(test_wrong_key_refused_before_decrypting),
        cmocka_unit_test(test_key_parsing),
        cmocka_unit_test(test_damaged_compressed_streams_refused),
        cmocka_unit_test(test_hash_and_errors_propagate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
