/* test_jsonenc.c - jsonenc_value() gives exactly json_dumps(JSON_COMPACT | JSON_PRESERVE_ORDER)
   for documents covering every type, every escape, unicode, number edges and nesting, and
   refuses what it must (nothing, too deep, over the buffer's limit). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/jsonenc.h"

static void assert_same_as_jansson(json_t *v)
{
    char *want = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    assert_non_null(want);
    struct buf b = BUF_INIT;
    assert_int_equal(jsonenc_value(&b, v), 0);
    assert_string_equal(buf_str(&b), want);
    free(want);
    buf_release(&b);
    json_decref(v);
}

static void test_documents_match_jansson(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "{}",
        "[]",
        "null",
        "true",
        "false",
        "0",
        "-1",
        "9223372036854775807",
        "-9223372036854775808",
        "\"\"",
        "[[], {}, [[[]]], {\"a\": {}}]",
        "{\"id\": 7, \"slug\": \"x\", \"title\": \"<script>alert(1)</script>\", "
        "\"published_at\": null, \"tags\": [\"a\", \"b\"], \"ok\": true}",
        /* every escape jansson makes, and the bytes it leaves alone (/ and non-ASCII) */
        "\"quote \\\" backslash \\\\ slash / \\b \\f \\n \\r \\t \\u0000 \\u0001 \\u001f "
        "\\u007f h\\u00e9llo \\u2028 \\ud83d\\ude00 \\u4e2d\\u6587\"",
        "{\"k\\\"ey\\n\": 1, \"\\u00fcber\": [1, 2, 3]}",
        /* reals as jansson prints them */
        "[0.5, 1.0, -2.0, 0.1, 1e20, 1e-5, 1.5e300, -1.2345678901234567e-200, 1e16, 123456.0]",
        /* insertion order, not sorted */
        "{\"z\": 1, \"a\": 2, \"m\": 3}",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        json_error_t e;
        json_t *v = json_loads(docs[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
        if (!v)
            fail_msg("doc %zu: %s", i, e.text);
        assert_same_as_jansson(v);
    }
}

static void test_built_values_match_jansson(void **state)
{
    (void)state;
    /* a key with a NUL inside, a string with a NUL inside */
    json_t *o = json_object();
    json_object_setn_new(o, "a\0b", 3, json_stringn("x\0y", 3));
    json_object_set_new(o, "n", json_integer(42));
    assert_same_as_jansson(o);
    /* a large body, to cross the buffer's growth steps */
    char *big = malloc(100001);
    for (int i = 0; i < 100000; i++)
        big[i] = "ab\"\n\\c\x01"[i % 7];
    big[100000] = '\0';
    assert_same_as_jansson(json_pack("{s:s}", "body_md", big));
    free(big);
}

static void test_refusals(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    assert_int_equal(jsonenc_value(&b, NULL), -1);
    json_t *deep = json_array(), *inner = deep;
    for (int i = 0; i < JSONENC_MAX_DEPTH + 1; i++) {
        json_t *next = json_array();
        json_array_append_new(inner, next);
        inner = next;
    }
    buf_reset(&b);
    assert_int_equal(jsonenc_value(&b, deep), -1);
    json_decref(deep);
    buf_release(&b);

    struct buf small;
    buf_init(&small, 8);
    json_t *s = json_string("more than eight bytes");
    assert_int_equal(jsonenc_value(&small, s), -1);
    assert_true(small.toobig);
    json_decref(s);
    buf_release(&small);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_documents_match_jansson),
        cmocka_unit_test(test_built_values_match_jansson),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
