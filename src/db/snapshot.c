/*
 * snapshot.c - consistent copies through the online backup API, and the proofs a copy
 * passes before it is shipped (snapshot_check) or put in place (snapshot_verify_restore);
 * see snapshot.h.
 */
#include "db/snapshot.h"

#include <errno.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "core/log.h"
#include "db/db.h"
#include "db/migrate.h"

static int copy(const char *src, const char *dst, int scratch, char *err, size_t errlen)
{
    sqlite3 *from = NULL, *to = NULL;
    sqlite3_backup *b;
    struct stat st;
    int rc = -1;

    if (stat(src, &st) != 0) {
        snprintf(err, errlen, "%s: %s", src, strerror(errno));
        return -1;
    }
    if (sqlite3_open_v2(src, &from, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", src, sqlite3_errmsg(from));
        goto out;
    }
    sqlite3_busy_timeout(from, 5000);
    if (sqlite3_open_v2(dst, &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot create %s: %s", dst, sqlite3_errmsg(to));
        goto out;
    }
    if (scratch && sqlite3_exec(to, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF", NULL, NULL,
                                NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot set up %s: %s", dst, sqlite3_errmsg(to));
        goto out;
    }
    if (!(b = sqlite3_backup_init(to, "main", from, "main"))) {
        snprintf(err, errlen, "cannot copy %s: %s", src, sqlite3_errmsg(to));
        goto out;
    }
    int step = sqlite3_backup_step(b, -1);
    int fin = sqlite3_backup_finish(b);
    if (step != SQLITE_DONE || fin != SQLITE_OK) {
        snprintf(err, errlen, "copying %s: %s", src,
                 step != SQLITE_DONE ? sqlite3_errstr(step) : sqlite3_errmsg(to));
        goto out;
    }
    rc = 0;
out:
    sqlite3_close(from);
    if (to && sqlite3_close(to) != SQLITE_OK && rc == 0) {
        snprintf(err, errlen, "closing %s failed", dst);
        rc = -1;
    }
    return rc;
}

int snapshot_copy(const char *src, const char *dst, char *err, size_t errlen)
{
    return copy(src, dst, 0, err, errlen);
}

int snapshot_copy_scratch(const char *src, const char *dst, char *err, size_t errlen)
{
    return copy(src, dst, 1, err, errlen);
}

int snapshot_check(const char *path, long long *schema_version, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    char result[512] = "";
    int rc = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "snapshot: cannot open %s: %s", path, sqlite3_errmsg(db));
        goto out;
    }
    if (db_query_text(db, "PRAGMA quick_check", result, sizeof(result)) < 0) {
        snprintf(err, errlen, "snapshot: quick_check cannot run: %s", sqlite3_errmsg(db));
        goto out;
    }
    if (strcmp(result, "ok") != 0) {
        snprintf(err, errlen,
                 "snapshot: quick_check failed: %s (the live file may be damaged: "
                 "run `onefile check --full`)",
                 result);
        goto out;
    }
    *schema_version = 0;
    long long has = 0;
    if (db_query_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'schema_migrations'",
                     &has) == 0 &&
        has &&
        db_query_int(db,
                     "SELECT coalesce(max(version), 0) FROM schema_migrations "
                     "WHERE source = 'onefile'",
                     schema_version) < 0) {
        snprintf(err, errlen, "snapshot: cannot read schema_migrations: %s", sqlite3_errmsg(db));
        goto out;
    }
    rc = 0;
out:
    sqlite3_close(db);
    return rc;
}

/* integrity_check, foreign_key_check, schema not newer than the binary; then WAL mode.
   0, or -1 with err filled. */
int snapshot_verify_restore(const char *migrations_dir, const char *path, long long *schema_version,
                            char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    struct migration_plan plan;
    json_t *status = NULL;
    int rc = -1, have_plan = 0;
    char perr[512];
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "cannot open the restored file: %s", sqlite3_errmsg(db));
        goto out;
    }
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check(5)", -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "the restored file is not a usable SQLite database: %s",
                 sqlite3_errmsg(db));
        goto out;
    }
    struct buf msgs = BUF_INIT;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW)
        buf_addf(&msgs, "%s%s", msgs.len ? "; " : "", (const char *)sqlite3_column_text(st, 0));
    if (step != SQLITE_DONE || strcmp(buf_str(&msgs), "ok") != 0) {
        snprintf(err, errlen, "integrity_check of the restored file failed: %s",
                 step != SQLITE_DONE ? sqlite3_errmsg(db) : buf_str(&msgs));
        buf_release(&msgs);
        goto out;
    }
    buf_release(&msgs);
    long long fk = 0;
    if (db_query_int(db, "SELECT count(*) FROM pragma_foreign_key_check", &fk) < 0 || fk != 0) {
        snprintf(err, errlen, "foreign_key_check of the restored file: %lld violation%s", fk,
                 fk == 1 ? "" : "s");
        goto out;
    }
    if (migrate_plan_load(&plan, migrations_dir, perr, sizeof(perr)) < 0) {
        snprintf(err, errlen, "loading migrations: %s", perr);
        goto out;
    }
    have_plan = 1;
    if (migrate_status(db, &plan, &status) < 0) {
        snprintf(err, errlen, "cannot read the restored file's migrations");
        goto out;
    }
    *schema_version = (long long)json_integer_value(json_object_get(status, "version"));
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(status, "problems"), i, p)
    {
        const char *text = json_string_value(p);
        if (strstr(text, "newer than")) {
            snprintf(err, errlen, "the backup cannot be used by this binary: %s", text);
            goto out;
        }
        log_warn("restore: %s", text);
    }
    /* a onefile database runs in WAL mode; any other file keeps the mode it had */
    char mode[16] = "wal";
    if (migrate_has_table(db) == 1 &&
        (db_query_text(db, "PRAGMA journal_mode=WAL", mode, sizeof(mode)) < 0 ||
         strcmp(mode, "wal") != 0)) {
        snprintf(err, errlen, "cannot put the restored file in WAL mode (got '%s')", mode);
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    json_decref(status);
    if (have_plan)
        migrate_plan_release(&plan);
    if (db && sqlite3_close(db) != SQLITE_OK && rc == 0) {
        snprintf(err, errlen, "closing the restored file failed");
        rc = -1;
    }
    return rc;
}
