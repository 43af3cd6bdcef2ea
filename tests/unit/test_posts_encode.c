/* test_posts_encode.c - the JSON an API write answers with (posts_row_encode, from the row
   an insert bound, defaults applied in C, or the row an update read back inside its
   transaction) is byte for byte the JSON of the same post read the ordinary way (posts_get
   on another connection, then jsonenc_value): hostile and unicode text, control characters,
   NULL, stamped and given dates, a NUL inside a JSON string, an update, and a row whose
   text is not UTF-8 (written behind onefile's back). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/jsonenc.h"
#include "db/db.h"
#include "db/sqlite.h"
#include "store/posts.h"
#include "fixture.h"

static char dir[64], path[128];
static sqlite3 *rw, *ro;
static struct db_conn *crw, *cro; /* the same connections, as store code sees them */

static int setup(void **state)
{
    (void)state;
    fixture_migrated_db("posts", dir, sizeof(dir), path, sizeof(path), &rw);
    assert_int_equal(db_open(path, DB_READONLY, &fixture_dbo, &ro), 0);
    crw = sqlite_conn_wrap(rw);
    cro = sqlite_conn_wrap(ro);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(db_conn_close(cro), 0);
    assert_int_equal(db_conn_close(crw), 0);
    fixture_remove(dir);
    return 0;
}

/* Runs posts_write as the writer would (in a transaction; the slug is the handler's to
   derive, so creates name one) and checks its answer. */
static int64_t write_and_compare(int64_t id, json_t *fields)
{
    struct post_write w = {.id = id, .fields = fields, .want_result = 1};
    char err[256] = "";
    assert_int_equal(db_exec(rw, "test", "BEGIN IMMEDIATE"), 0);
    if (posts_write(crw, &w, err, sizeof(err)) != 0)
        fail_msg("posts_write: %s", err);
    assert_int_equal(db_exec(rw, "test", "COMMIT"), 0);
    assert_non_null(w.row);

    struct buf got = BUF_INIT, want = BUF_INIT;
    assert_int_equal(posts_row_encode(&got, w.row), 0);
    json_t *post;
    assert_int_equal(posts_get(cro, w.id, 1, &post), 0);
    assert_int_equal(jsonenc_value(&want, post), 0);
    assert_string_equal(buf_str(&got), buf_str(&want));
    json_decref(post);
    buf_release(&got);
    buf_release(&want);
    free(w.row);
    json_decref(fields);
    return w.id;
}

static void test_write_answer_is_the_read_json(void **state)
{
    (void)state;
    write_and_compare(0, json_pack("{s:s,s:s}", "title", "Plain", "slug", "plain"));
    write_and_compare(
        0, json_pack("{s:s,s:s,s:s,s:s}", "title", "<script>\"x\"</script>\\", "slug", "hostile",
                     "status", "published", "body_md",
                     "line\nbreak\ttab \x01\x1f \xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80"));
    int64_t id =
        write_and_compare(0, json_pack("{s:s,s:s,s:s,s:s}", "title", "Ünïcödé 中文", "slug", "ünï",
                                       "kind", "page", "published_at", "2026-01-02T03:04:05Z"));
    write_and_compare(id, json_pack("{s:s}", "status", "published")); /* an update */
    /* a draft keeps the date it was given; a published post keeps its own */
    write_and_compare(0, json_pack("{s:s,s:s,s:s}", "title", "Dated draft", "slug", "dd",
                                   "published_at", "2025-05-05T05:05:05Z"));
    write_and_compare(0, json_pack("{s:s,s:s,s:s,s:s}", "title", "Dated", "slug", "dp", "status",
                                   "published", "published_at", "2024-04-04T04:04:04Z"));
    /* "\u0000" in JSON: the text stored, and answered, ends there */
    write_and_compare(0, json_pack("{s:o,s:s,s:o}", "title", json_stringn("nul\0after", 9), "slug",
                                   "nul", "body_md", json_stringn("b\0", 2)));

    /* and what was stored is what a create means: the schema's defaults, a published post
       stamped with its creation time, a given date kept */
    static const char *const meant[] = {
        "SELECT body_md = '' AND kind = 'post' AND status = 'draft' AND published_at IS NULL "
        "AND created_at = updated_at AND created_at GLOB '2*T*Z' FROM posts WHERE slug = 'plain'",
        "SELECT published_at = created_at FROM posts WHERE slug = 'hostile'",
        "SELECT status = 'draft' AND published_at = '2025-05-05T05:05:05Z' FROM posts "
        "WHERE slug = 'dd'",
        "SELECT published_at = '2024-04-04T04:04:04Z' FROM posts WHERE slug = 'dp'",
        "SELECT title = 'nul' AND body_md = 'b' FROM posts WHERE slug = 'nul'",
    };
    for (size_t i = 0; i < sizeof(meant) / sizeof(meant[0]); i++) {
        long long yes = 0;
        assert_int_equal(db_query_int(ro, meant[i], &yes), 0);
        if (yes != 1)
            fail_msg("not as meant: %s", meant[i]);
    }
}

static void test_text_that_is_not_utf8_is_left_out_as_jansson_does(void **state)
{
    (void)state;
    assert_int_equal(db_exec(rw, "test",
                             "INSERT INTO posts (slug, title, body_md) VALUES "
                             "('bad-bytes', CAST(x'66fe6f' AS TEXT), CAST(x'c3' AS TEXT))"),
                     0);
    long long id = 0;
    assert_int_equal(db_query_int(rw, "SELECT id FROM posts WHERE slug = 'bad-bytes'", &id), 0);
    write_and_compare(id, json_pack("{s:s}", "kind", "page"));
}

static void test_utf8_validation_agrees_with_jansson(void **state)
{
    (void)state;
    static const char *const samples[] = {
        "",
        "ascii",
        "\xc3\xa9",
        "\xe2\x82\xac",
        "\xf0\x9f\x98\x80",
        "\xf4\x8f\xbf\xbf",
        "\xc0\x80",
        "\xc1\xbf",
        "\xe0\x80\x80",
        "\xf0\x80\x80\x80", /* overlong */
        "\xed\xa0\x80",
        "\xed\xbf\xbf", /* surrogates */
        "\xf4\x90\x80\x80",
        "\xf5\x80\x80\x80",
        "\xff",
        "\x80", /* out of range */
        "\xc3",
        "\xe2\x82",
        "\xf0\x9f\x98",
        "\xc3\x28",
        "a\xe2\x82\xac\xc3",
    };
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        size_t len = strlen(samples[i]);
        json_t *s = json_stringn(samples[i], len);
        assert_int_equal(jsonenc_utf8_valid(samples[i], len), s != NULL);
        json_decref(s);
    }
    /* every two-byte sequence */
    for (unsigned a = 0; a < 256; a++) {
        for (unsigned b = 0; b < 256; b++) {
            char t[2] = {(char)a, (char)b};
            json_t *s = json_stringn(t, 2);
            if (jsonenc_utf8_valid(t, 2) != (s != NULL))
                fail_msg("%02x %02x: ours %d, jansson %d", a, b, jsonenc_utf8_valid(t, 2),
                         s != NULL);
            json_decref(s);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_answer_is_the_read_json),
        cmocka_unit_test(test_text_that_is_not_utf8_is_left_out_as_jansson_does),
        cmocka_unit_test(test_utf8_validation_agrees_with_jansson),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
