/* test_backup.c - remote/backup.c and restore.c as the server uses them: backup_job records
   each run in `backups` through the writer (ok and error), backup_last and
   backup_write_metrics read it back, restore_drill_job proves the latest backup and leaves
   nothing behind, retention keeps the newest N, and object names parse as they should. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/mem.h"
#include "db/db.h"
#include "db/sqlite.h"
#include "db/migrate.h"
#include "db/readers.h"
#include "db/writer.h"
#include "http/app.h"
#include "remote/backup.h"
#include "remote/restore.h"
#include "store/backups.h"

struct fixture {
    char dir[64];
    struct config cfg;
    struct readers readers;
    struct migration_plan plan;
    struct app app;
};

static int count_dir(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    if (d)
        closedir(d);
    return n;
}

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    char err[256];
    snprintf(f->dir, sizeof(f->dir), "/tmp/onefile-test-backup-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    config_init(&f->cfg);
    free(f->cfg.db);
    f->cfg.db = xasprintf("%s/site.db", f->dir);
    f->cfg.backup_url = xasprintf("file://%s/backups", f->dir);
    f->cfg.backup_keep = 2;
    struct db_options dbo = {f->cfg.busy_timeout_ms, config_synchronous_level(&f->cfg)};
    sqlite3 *db;
    int applied;
    assert_int_equal(migrate_plan_load(&f->plan, NULL, err, sizeof(err)), 0);
    assert_int_equal(db_open(f->cfg.db, DB_READWRITE, &dbo, &db), 0);
    assert_int_equal(migrate_apply(db, &f->plan, &applied), 0);
    assert_int_equal(db_exec(db, "fill",
                             "CREATE TABLE t (x); WITH RECURSIVE n(i) AS (SELECT 1 "
                             "UNION ALL SELECT i + 1 FROM n WHERE i < 5000) "
                             "INSERT INTO t SELECT printf('row %d', i) FROM n"),
                     0);
    assert_int_equal(readers_open(&f->readers, f->cfg.db, 2, &dbo), 0);
    struct writer_options wo;
    writer_options_default(&wo);
    f->app.cfg = &f->cfg;
    f->app.readers = &f->readers;
    f->app.plan = &f->plan;
    f->app.writer = writer_start(sqlite_conn_wrap(db), &wo);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    db_conn_close(writer_stop(f->app.writer));
    readers_close(&f->readers);
    migrate_plan_release(&f->plan);
    char *cmd = xasprintf("rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    config_release(&f->cfg);
    free(f);
    return 0;
}

static void test_job_records_and_reports(void **state)
{
    struct fixture *f = *state;
    char msg[1024];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(backup_job(&f->app, msg, sizeof(msg)), 0);
        assert_non_null(strstr(msg, "stored file://"));
    }
    char *dest = xasprintf("%s/backups", f->dir);
    assert_int_equal(count_dir(dest, "onefile-"), 4); /* keep 2: two objects, two sidecars */
    assert_int_equal(count_dir(f->dir, "site.db.backup-"), 0); /* snapshots removed */

    /* a failing run is recorded too */
    free(f->cfg.backup_url);
    f->cfg.backup_url = xstrdup("file:///proc/onefile-cannot-write-here");
    assert_int_equal(backup_job(&f->app, msg, sizeof(msg)), -1);
    assert_non_null(strstr(msg, "backup failed"));
    free(f->cfg.backup_url);
    f->cfg.backup_url = xasprintf("file://%s", dest);

    struct db_conn *db = readers_acquire(&f->readers);
    json_t *last;
    assert_int_equal(backups_last(db, &last), 0);
    /* the schema version the backup recorded: the newest migration applied */
    struct db_stmt *sv = db_prepare(db, "SELECT max(version) FROM schema_migrations");
    assert_non_null(sv);
    assert_int_equal(db_step(sv), DB_ROW);
    int64_t schema = db_column_int64(sv, 0);
    db_reset(sv);
    readers_release(&f->readers, db);
    assert_int_equal(json_array_size(json_object_get(last, "recent")), 4);
    json_t *newest = json_object_get(last, "last");
    assert_string_equal(json_string_value(json_object_get(newest, "status")), "error");
    assert_non_null(json_string_value(json_object_get(newest, "error")));
    json_t *ok = json_object_get(last, "last_success");
    assert_string_equal(json_string_value(json_object_get(ok, "status")), "ok");
    assert_string_equal(json_string_value(json_object_get(ok, "compression")), "gzip");
    assert_int_equal(json_integer_value(json_object_get(ok, "schema_version")), schema);
    assert_int_equal(strlen(json_string_value(json_object_get(ok, "sha256"))), 64);
    assert_true(json_is_false(json_object_get(ok, "encrypted")));
    assert_true(json_integer_value(json_object_get(last, "last_success_age_s")) <= 5);
    json_decref(last);

    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    backup_write_metrics(&f->app, out);
    fclose(out);
    assert_non_null(strstr(text, "onefile_backups_total{status=\"ok\"} 3\n"));
    assert_non_null(strstr(text, "onefile_backups_total{status=\"error\"} 1\n"));
    assert_non_null(strstr(text, "# TYPE onefile_backup_last_success_age_seconds gauge\n"));
    assert_non_null(strstr(text, "onefile_backup_last_success_bytes "));
    free(text);
    free(dest);
}

static void test_restore_drill(void **state)
{
    struct fixture *f = *state;
    char msg[1024];
    assert_int_equal(restore_drill_job(&f->app, msg, sizeof(msg)), -1); /* nothing yet */
    assert_non_null(strstr(msg, "no backups at"));
    assert_int_equal(backup_job(&f->app, msg, sizeof(msg)), 0);
    assert_int_equal(restore_drill_job(&f->app, msg, sizeof(msg)), 0);
    assert_non_null(strstr(msg, "verified (sha256 ok, integrity ok"));
    assert_int_equal(count_dir(f->dir, "site.db.drill-"), 0); /* nothing left behind */
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    backup_write_metrics(&f->app, out);
    fclose(out);
    assert_non_null(strstr(text, "onefile_restore_drills_total{status=\"ok\"} 1\n"));
    assert_non_null(strstr(text, "onefile_restore_drills_total{status=\"error\"} 1\n"));
    assert_non_null(strstr(text, "onefile_restore_drill_last_success_timestamp_seconds "));
    free(text);
}

static void test_backup_with_options_and_restore_run(void **state)
{
    struct fixture *f = *state;
    struct backup_result res;
    char err[1024];
    assert_int_equal(backup_run(&f->cfg, NULL, "zstd", &res, err, sizeof(err)), 0);
    assert_string_equal(res.compression, "zstd");
    assert_true(res.ratio > 0 && res.ratio < 1);
    assert_true(strstr(res.name, ".sqlite.zst") != NULL);
    struct restore_options o = {.source = res.name};
    char *to = xasprintf("%s/copy.db", f->dir);
    o.to = to;
    struct restore_result rr;
    assert_int_equal(restore_run(&f->cfg, &o, &rr, err, sizeof(err)), 0);
    assert_int_equal(rr.sha256_checked, 1);
    assert_string_equal(rr.sha256, res.sha256);
    assert_int_equal(rr.db_size, res.source_size);
    assert_int_equal(rr.replaced, 0);
    /* again over it: --force needed, then kept aside */
    assert_int_equal(restore_run(&f->cfg, &o, &rr, err, sizeof(err)), RESTORE_EEXIST);
    o.force = 1;
    assert_int_equal(restore_run(&f->cfg, &o, &rr, err, sizeof(err)), 0);
    assert_int_equal(rr.replaced, 1);
    assert_non_null(strstr(rr.aside, "copy.db.before-restore"));
    free(to);
}

static void test_names(void **state)
{
    (void)state;
    struct backup_name n;
    assert_int_equal(backup_name_parse("onefile-20261123T030000Z.sqlite.gz", &n), 0);
    assert_string_equal(n.stamp, "20261123T030000Z");
    assert_int_equal(n.seq, 0);
    assert_int_equal(n.compression, COMPRESS_GZIP);
    assert_int_equal(n.encrypted, 0);
    assert_int_equal((long long)n.time, 1795402800LL);
    assert_int_equal(backup_name_parse("onefile-20261123T030000Z-3.sqlite.zst.enc", &n), 0);
    assert_int_equal(n.seq, 3);
    assert_int_equal(n.compression, COMPRESS_ZSTD);
    assert_int_equal(n.encrypted, 1);
    assert_int_equal(backup_name_parse("onefile-20261123T030000Z.sqlite", &n), 0);
    assert_int_equal(n.compression, COMPRESS_NONE);
    static const char *const bad[] = {
        "onefile-20261123T030000Z.sqlite.gz.json",
        "onefile-20261123T030000.sqlite",
        "onefile-2026112XT030000Z.sqlite",
        "other-20261123T030000Z.sqlite",
        "onefile-20261123T030000Z-1.sqlite",
        "onefile-20261123T030000Z.sqlite.bz2",
        "onefile-20261123T030000Z.db",
        ".onefile-20261123T030000Z.sqlite.tmp-x",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (backup_name_parse(bad[i], &n) == 0)
            fail_msg("accepted %s", bad[i]);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_job_records_and_reports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_drill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backup_with_options_and_restore_run, setup, teardown),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
