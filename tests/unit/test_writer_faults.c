/* test_writer_faults.c - I/O errors during COMMIT: a VFS shim over the default one fails
   WAL writes or syncs on demand. Every write of a failed batch gets the error, none is
   reported done, nothing of it is in the file, and the writer carries on afterwards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "db/sqlite.h"
#include "db/writer.h"

/* ---- the shim VFS ---- */

static atomic_int fail_wal_writes, fail_wal_syncs, faults_hit;
static sqlite3_vfs *real_vfs;

struct shim_file {
    sqlite3_file base;
    int is_wal;
    sqlite3_file *real; /* follows this struct in the same allocation */
};

#define REAL(f) (((struct shim_file *)(f))->real)

static int shim_close(sqlite3_file *f)
{
    return REAL(f)->pMethods ? REAL(f)->pMethods->xClose(REAL(f)) : SQLITE_OK;
}
static int shim_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xRead(REAL(f), p, n, off);
}
static int shim_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
    if (((struct shim_file *)f)->is_wal && atomic_load(&fail_wal_writes)) {
        atomic_fetch_add(&faults_hit, 1);
        return SQLITE_IOERR_WRITE;
    }
    return REAL(f)->pMethods->xWrite(REAL(f), p, n, off);
}
static int shim_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int shim_sync(sqlite3_file *f, int flags)
{
    if (((struct shim_file *)f)->is_wal && atomic_load(&fail_wal_syncs)) {
        atomic_fetch_add(&faults_hit, 1);
        return SQLITE_IOERR_FSYNC;
    }
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int shim_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int shim_lock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xLock(REAL(f), l);
}
static int shim_unlock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), l);
}
static int shim_check(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int shim_fcntl(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int shim_sector(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int shim_caps(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int shim_shm_map(sqlite3_file *f, int i, int sz, int ext, void volatile **pp)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), i, sz, ext, pp);
}
static int shim_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void shim_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int shim_shm_unmap(sqlite3_file *f, int del)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}
static int shim_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
    return REAL(f)->pMethods->xFetch(REAL(f), off, n, pp);
}
static int shim_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods shim_methods = {
    3,
    shim_close,
    shim_read,
    shim_write,
    shim_truncate,
    shim_sync,
    shim_size,
    shim_lock,
    shim_unlock,
    shim_check,
    shim_fcntl,
    shim_sector,
    shim_caps,
    shim_shm_map,
    shim_shm_lock,
    shim_shm_barrier,
    shim_shm_unmap,
    shim_fetch,
    shim_unfetch,
};

static int shim_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
    (void)vfs;
    struct shim_file *sf = (struct shim_file *)f;
    sf->real = (sqlite3_file *)(sf + 1);
    sf->is_wal = (flags & SQLITE_OPEN_WAL) != 0;
    int rc = real_vfs->xOpen(real_vfs, name, sf->real, flags, out);
    f->pMethods = rc == SQLITE_OK ? &shim_methods : NULL;
    return rc;
}

static sqlite3_vfs shim_vfs;

static void shim_register(void)
{
    real_vfs = sqlite3_vfs_find(NULL);
    shim_vfs = *real_vfs;
    shim_vfs.zName = "faulty";
    shim_vfs.szOsFile = (int)sizeof(struct shim_file) + real_vfs->szOsFile;
    shim_vfs.xOpen = shim_open;
    shim_vfs.pNext = NULL;
    sqlite3_vfs_register(&shim_vfs, 1); /* the default: db_open uses it */
}

/* ---- the test ---- */

static char dir[64], path[128];
static const struct db_options dbo = {5000, 2};

static int insert_value(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    sqlite3 *db = sqlite_conn_handle(c);
    sqlite3_stmt *st = db_prepare_cached(db, "INSERT INTO t(v) VALUES (?)");
    sqlite3_bind_int64(st, 1, (sqlite3_int64)(intptr_t)arg);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "insert: %s", sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

struct sub {
    struct writer *w;
    long value;
    int rc;
    char err[256];
};

static void *submitter(void *arg)
{
    struct sub *s = arg;
    s->rc =
        writer_submit(s->w, "t", insert_value, (void *)(intptr_t)s->value, s->err, sizeof(s->err));
    return NULL;
}

static void run_faulty_batch(atomic_int *knob, long base)
{
    unlink(path);
    sqlite3 *db;
    assert_int_equal(db_open(path, DB_READWRITE, &dbo, &db), 0);
    assert_int_equal(db_exec(db, "t", "CREATE TABLE t(v INTEGER PRIMARY KEY)"), 0);
    struct writer_options o;
    writer_options_default(&o);
    o.idle_checkpoint_ms = 0;
    struct writer *w = writer_start(sqlite_conn_wrap(db), &o);
    char err[256];
    for (long i = 0; i < 10; i++)
        assert_int_equal(writer_submit(w, "t", insert_value, (void *)(base + i), err, sizeof(err)),
                         0);

    /* failing COMMITs, from 8 concurrent submitters, several rounds */
    atomic_store(&faults_hit, 0);
    atomic_store(knob, 1);
    for (int round = 0; round < 3; round++) {
        pthread_t t[8];
        struct sub subs[8];
        for (int i = 0; i < 8; i++) {
            subs[i] = (struct sub){w, base + 100 + round * 10 + i, 0, ""};
            pthread_create(&t[i], NULL, submitter, &subs[i]);
        }
        for (int i = 0; i < 8; i++) {
            pthread_join(t[i], NULL);
            assert_int_equal(subs[i].rc, WRITER_ECOMMIT);
            assert_non_null(strstr(subs[i].err, "disk I/O error"));
        }
    }
    assert_true(atomic_load(&faults_hit) > 0);
    assert_true(writer_failing(w)); /* /readyz reports it */
    atomic_store(knob, 0);

    /* the writer recovered */
    for (long i = 10; i < 20; i++)
        assert_int_equal(writer_submit(w, "t", insert_value, (void *)(base + i), err, sizeof(err)),
                         0);
    struct writer_stats st;
    writer_get_stats(w, &st);
    assert_int_equal(st.committed, 20);
    assert_int_equal(st.failed, 24);
    assert_true(st.commit_failures >= 3); /* at least one failed COMMIT per round */
    assert_false(writer_failing(w));
    assert_false(st.failing);
    assert_int_equal(db_conn_close(writer_stop(w)), 0);

    /* what is in the file: exactly the acknowledged writes, and the file is sound */
    sqlite3 *ro;
    assert_int_equal(db_open(path, DB_READONLY, &dbo, &ro), 0);
    long long n;
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM t WHERE v >= %ld AND v < %ld", base,
             base + 20);
    assert_int_equal(db_query_int(ro, sql, &n), 0);
    assert_int_equal(n, 20);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM t WHERE v >= %ld", base + 100);
    assert_int_equal(db_query_int(ro, sql, &n), 0);
    assert_int_equal(n, 0);
    char ok[64];
    assert_int_equal(db_query_text(ro, "PRAGMA integrity_check", ok, sizeof(ok)), 0);
    assert_string_equal(ok, "ok");
    sqlite3_close_v2(ro);
}

static void test_wal_write_errors_fail_the_batch_and_the_writer_recovers(void **state)
{
    (void)state;
    run_faulty_batch(&fail_wal_writes, 0);
}

static void test_wal_sync_errors_fail_the_batch_and_the_writer_recovers(void **state)
{
    (void)state;
    run_faulty_batch(&fail_wal_syncs, 1000);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/onefile-faults-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/f.db", dir);
    shim_register();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sqlite3_vfs_unregister(&shim_vfs);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wal_write_errors_fail_the_batch_and_the_writer_recovers),
        cmocka_unit_test(test_wal_sync_errors_fail_the_batch_and_the_writer_recovers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
