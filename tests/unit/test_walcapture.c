/* test_walcapture.c - db/walcapture.c: the committed frames of a live WAL, read through
   SQLite's own handle, replayed onto a base copy give the live content; a log restarted
   by a completed PASSIVE checkpoint is reported (salt1 + 1), not read as a continuation;
   frames of a transaction that spilled without committing are never returned; a frame
   whose checksum does not chain ends what is returned. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "db/snapshot.h"
#include "db/walcapture.h"
#include "fixture.h"

static char dir[64];

static void exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
}

static long long count(sqlite3 *db, const char *sql)
{
    long long n = -1;
    assert_int_equal(db_query_int(db, sql, &n), 0);
    return n;
}

/* Writes the captured frames into the file at path (not open anywhere), page by page,
   and cuts it to the last commit's size: what a restore does. */
static void replay(const char *path, const struct walcapture *c, const struct buf *frames)
{
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    size_t fsz = WALCAPTURE_FRAME_HEADER + c->page_size;
    assert_int_equal(frames->len % fsz, 0);
    for (size_t off = 0; off < frames->len; off += fsz) {
        const uint8_t *f = (const uint8_t *)frames->data + off;
        uint32_t pgno = walcapture_be32(f);
        assert_int_equal(
            pwrite(fd, f + WALCAPTURE_FRAME_HEADER, c->page_size, (off_t)(pgno - 1) * c->page_size),
            (ssize_t)c->page_size);
    }
    assert_int_equal(ftruncate(fd, (off_t)c->db_pages * c->page_size), 0);
    close(fd);
}

static void test_replay_equals_live(void **state)
{
    (void)state;
    int n = 0;
    char base[128];
    sqlite3 *db = fixture_fresh_db(dir, &n);
    exec(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
    exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
    snprintf(base, sizeof(base), "%s/base.db", dir);
    char err[256];
    assert_int_equal(snapshot_copy(sqlite3_db_filename(db, "main"), base, err, sizeof(err)), 0);

    struct walcapture c;
    struct buf frames = BUF_INIT;
    long long got = -1;
    walcapture_init(&c);
    assert_int_equal(walcapture_read(&c, db, &frames, &got, NULL, err, sizeof(err)), 0);
    assert_int_equal(got, 0); /* truncated WAL: nothing */
    for (int i = 0; i < 50; i++)
        exec(db, "INSERT INTO t (v) VALUES (hex(randomblob(300)))");
    assert_int_equal(walcapture_read(&c, db, &frames, &got, NULL, err, sizeof(err)), 0);
    assert_true(got >= 50);
    long long first = got;
    exec(db, "DELETE FROM t WHERE id % 3 = 0");
    assert_int_equal(walcapture_read(&c, db, &frames, &got, NULL, err, sizeof(err)), 0);
    assert_true(got > 0);
    assert_int_equal(c.next, first + got + 1);
    assert_int_equal(walcapture_read(&c, db, &frames, &got, NULL, err, sizeof(err)), 0);
    assert_int_equal(got, 0); /* nothing new */

    replay(base, &c, &frames);
    sqlite3 *copy;
    assert_int_equal(sqlite3_open_v2(base, &copy, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    const char *digest = "SELECT count(*) * 1000003 + sum(id) + sum(length(v)) FROM t";
    assert_int_equal(count(copy, digest), count(db, digest));
    assert_int_equal(count(copy, "SELECT count(*) FROM t"), 34);
    char ok[16];
    assert_int_equal(db_query_text(copy, "PRAGMA integrity_check", ok, sizeof(ok)), 0);
    assert_string_equal(ok, "ok");
    sqlite3_close(copy);
    buf_release(&frames);
    sqlite3_close(db);
}

/* The trap measured on SQLite 3.40.1: a PASSIVE checkpoint that completes makes the next
   commit restart the WAL at frame 1 with salt1 + 1; the bytes after it are stale frames
   of the old log, which must not be read as a continuation. */
static void test_passive_restart_is_a_new_log(void **state)
{
    (void)state;
    int n = 100;
    char err[256];
    sqlite3 *db = fixture_fresh_db(dir, &n);
    exec(db, "PRAGMA wal_autocheckpoint=0");
    exec(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
    for (int i = 0; i < 6; i++)
        exec(db, "INSERT INTO t (v) VALUES ('x')");
    struct walcapture c;
    struct buf frames = BUF_INIT;
    long long got = 0;
    walcapture_init(&c);
    assert_int_equal(walcapture_read(&c, db, &frames, &got, NULL, err, sizeof(err)), 0);
    assert_true(got >= 7);
    uint32_t old1 = c.salt[0];
    int log = 0, done = 0;
    assert_int_equal(sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done),
                     SQLITE_OK);
    assert_int_equal(log, done); /* complete */
    exec(db, "INSERT INTO t (v) VALUES ('after')");
    uint32_t salt[2] = {0, 0};
    size_t before = frames.len;
    assert_int_equal(walcapture_read(&c, db, &frames, &got, salt, err, sizeof(err)),
                     WALCAPTURE_ENEWLOG);
    assert_int_equal(frames.len, before);
    assert_int_equal(salt[0], old1 + 1);
    walcapture_restart(&c);
    assert_int_equal(walcapture_read(&c, db, &frames, &got, NULL, err, sizeof(err)), 0);
    assert_int_equal(got, 1); /* frame 1 of the new log only, not the stale 2..7 */
    assert_int_equal(c.salt[0], old1 + 1);
    buf_release(&frames);
    sqlite3_close(db);
}

/* A transaction that spills its cache writes frames with no commit frame: never returned,
   also after it rolled back and a later commit overwrote part of them. */
static void test_uncommitted_frames_not_returned(void **state)
{
    (void)state;
    int n = 200;
    char err[256];
    sqlite3 *db = fixture_fresh_db(dir, &n);
    exec(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
    struct walcapture c;
    struct buf frames = BUF_INIT;
    long long got = 0;
    walcapture_init(&c);
    assert_int_equal(walcapture_read(&c, db, &frames, &got, NULL, err, sizeof(err)), 0);
    long long next = c.next;
    exec(db, "PRAGMA cache_size=2");
    exec(db, "BEGIN; WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 200) "
             "INSERT INTO t (v) SELECT hex(randomblob(2000)) FROM s");
    long long wal = db_file_size(sqlite3_db_filename(db, "main"), "-wal");
    assert_true(wal > 100 * 4096); /* it spilled */
    assert_int_equal(walcapture_read(&c, db, &frames, &got, NULL, err, sizeof(err)), 0);
    assert_int_equal(got, 0);
    assert_int_equal(c.next, next);
    exec(db, "ROLLBACK");
    exec(db, "INSERT INTO t (v) VALUES ('one')");
    assert_int_equal(walcapture_read(&c, db, &frames, &got, NULL, err, sizeof(err)), 0);
    assert_true(got >= 1 && got <= 3); /* the one commit, not the stale spill after it */
    assert_int_equal(count(db, "SELECT count(*) FROM t"), 1);
    buf_release(&frames);
    sqlite3_close(db);
}

/* SQLite's checksum of a known header, computed both ways, and a frame whose checksum
   does not chain stops the read. */
static void test_broken_chain_stops(void **state)
{
    (void)state;
    int n = 300;
    char err[256];
    sqlite3 *db = fixture_fresh_db(dir, &n);
    exec(db, "PRAGMA wal_autocheckpoint=0");
    exec(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
    exec(db, "INSERT INTO t (v) VALUES ('a')");
    exec(db, "INSERT INTO t (v) VALUES ('b')");
    struct walcapture c;
    struct buf frames = BUF_INIT;
    long long got = 0;
    walcapture_init(&c);
    assert_int_equal(walcapture_read(&c, db, &frames, &got, NULL, err, sizeof(err)), 0);
    long long all = got;
    assert_true(all >= 3);
    /* a follower that is told its chain value is off by one sees nothing valid */
    struct walcapture bad;
    walcapture_init(&bad);
    struct buf none = BUF_INIT;
    assert_int_equal(walcapture_read(&bad, db, &none, &got, NULL, err, sizeof(err)), 0);
    assert_int_equal(got, all);
    bad.next = 2;
    bad.cksum[0] += 1;
    buf_reset(&none);
    assert_int_equal(walcapture_read(&bad, db, &none, &got, NULL, err, sizeof(err)), 0);
    assert_int_equal(got, 0);
    assert_int_equal(none.len, 0);
    buf_release(&none);
    buf_release(&frames);
    sqlite3_close(db);
}

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/onefile-walcap-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    fixture_remove(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_equals_live),
        cmocka_unit_test(test_passive_restart_is_a_new_log),
        cmocka_unit_test(test_uncommitted_frames_not_returned),
        cmocka_unit_test(test_broken_chain_stops),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
