/*
 * migrate.c - `onefile migrate [--status|--lint|--dry-run] [--json]`: apply pending
 * migrations (the same step `serve` runs before it listens), list applied and pending
 * ones, lint them for destructive changes, or rehearse them on a copy of the live file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "core/log.h"
#include "db/check.h"
#include "db/db.h"
#include "db/engine.h"
#include "db/sqlite.h"
#include "db/lock.h"
#include "db/migrate.h"
#include "db/snapshot.h"
#include "core/clock.h"
#include "core/mem.h"

static void print_status(json_t *st)
{
    size_t i;
    json_t *m;
    printf("schema version %lld\n", (long long)json_integer_value(json_object_get(st, "version")));
    json_array_foreach(json_object_get(st, "applied"), i, m)
    {
        printf("applied  %-8s %-32s %s  %lld ms\n", json_string_value(json_object_get(m, "source")),
               json_string_value(json_object_get(m, "name")),
               json_string_value(json_object_get(m, "applied_at")),
               (long long)json_integer_value(json_object_get(m, "duration_ms")));
    }
    json_array_foreach(json_object_get(st, "pending"), i, m)
    {
        printf("pending  %-8s %s\n", json_string_value(json_object_get(m, "source")),
               json_string_value(json_object_get(m, "name")));
    }
    json_array_foreach(json_object_get(st, "problems"), i, m)
    {
        printf("PROBLEM  %s\n", json_string_value(m));
    }
}

static void print_json(json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    puts(s);
    free(s);
}

static const char multi_step[] =
    "A destructive change breaks the running version while it is being deployed, and loses\n"
    "data for good. The safe path is several releases: add the replacement (column, table),\n"
    "backfill it, switch the code to it and stop writing the old one, and only then remove\n"
    "the old one, in a later migration marked `-- onefile:destructive <reason>`.\n";

/* --lint: 0 nothing blocking, 1 blocking findings, 2 cannot lint. */
static int lint(const struct config *cfg, const struct migration_plan *plan, int as_json)
{
    struct db_options dbo = {cfg->busy_timeout_ms, config_synchronous_level(cfg)};
    struct db_conn *db = NULL;
    json_t *findings = NULL;
    struct stat st;
    int rc = 2;
    if (stat(cfg->db, &st) == 0 && sqlite_conn_open(cfg->db, DB_READONLY, &dbo, &db) < 0)
        goto out;
    int blocking = migrate_lint(db ? sqlite_conn_handle(db) : NULL, plan, &findings);
    if (blocking < 0)
        goto out;
    if (as_json) {
        json_t *o = json_pack("{s:O,s:i}", "findings", findings, "blocking", blocking);
        print_json(o);
        json_decref(o);
    } else {
        size_t i;
        json_t *f;
        json_array_foreach(findings, i, f)
        {
            printf("%s %s\n", json_is_true(json_object_get(f, "allowed")) ? "allowed " : "REFUSED ",
                   json_string_value(json_object_get(f, "message")));
        }
        int destructive = 0;
        json_array_foreach(findings, i, f)
        {
            const char *kind = json_string_value(json_object_get(f, "kind"));
            destructive |= !json_is_true(json_object_get(f, "allowed")) &&
                           strcmp(kind, "error") != 0 && strcmp(kind, "dangling") != 0;
        }
        if (destructive)
            printf("\n%s", multi_step);
        printf("%zu finding%s, %d refused\n", json_array_size(findings),
               json_array_size(findings) == 1 ? "" : "s", blocking);
    }
    rc = blocking ? 1 : 0;
out:
    json_decref(findings);
    db_conn_close(db);
    return rc;
}

/* --dry-run: the pending migrations applied to a consistent copy of the live file, which
   is then checked and deleted. 0 they would apply cleanly, 1 they would not, 2 cannot. */
static int dry_run(const struct cmd_usage *u, const struct config *cfg,
                   const struct migration_plan *plan, int as_json)
{
    struct db_options dbo = {cfg->busy_timeout_ms, config_synchronous_level(cfg)};
    char err[512], integrity[256] = "", fk[64] = "";
    char *copy = xasprintf("%s.dry-run-%ld", cfg->db, (long)getpid());
    json_t *report = json_array();
    struct db_conn *db = NULL;
    int applied = 0, rc = 2, ok = 0;
    long long fk_rows = -1;
    if (access(cfg->db, R_OK) != 0) {
        cmd_fail(u, "--dry-run: %s does not exist (nothing to rehearse on)", cfg->db);
        goto out;
    }
    int64_t t0 = clock_mono_us();
    if (snapshot_copy(cfg->db, copy, err, sizeof(err)) < 0) {
        cmd_fail(u, "--dry-run: %s", err);
        goto out;
    }
    double copy_ms = (double)(clock_mono_us() - t0) / 1000.0;
    rc = 1;
    if (sqlite_conn_open(copy, DB_READWRITE, &dbo, &db) < 0)
        goto out;
    t0 = clock_mono_us();
    int migrated = migrate_apply_report(sqlite_conn_handle(db), plan, &applied, report) == 0;
    double migrate_ms = (double)(clock_mono_us() - t0) / 1000.0;
    check_integrity_fk(sqlite_conn_handle(db), integrity, sizeof(integrity), &fk_rows);
    snprintf(fk, sizeof(fk), fk_rows == 0 ? "ok" : "%lld violations", fk_rows);
    ok = migrated && strcmp(integrity, "ok") == 0 && fk_rows == 0;
    if (as_json) {
        json_t *o =
            json_pack("{s:b,s:b,s:O,s:f,s:f,s:s,s:I}", "ok", ok, "migrations_ok", migrated,
                      "applied", report, "copy_ms", copy_ms, "migrate_ms", migrate_ms,
                      "integrity_check", integrity, "foreign_key_violations", (json_int_t)fk_rows);
        print_json(o);
        json_decref(o);
    } else {
        size_t i;
        json_t *m;
        printf("dry run on a copy of %s (copied in %.0f ms)\n", cfg->db, copy_ms);
        json_array_foreach(report, i, m)
        {
            printf("  %-8s %-32s %6lld ms  %lld rows changed%s\n",
                   json_string_value(json_object_get(m, "source")),
                   json_string_value(json_object_get(m, "name")),
                   (long long)json_integer_value(json_object_get(m, "duration_ms")),
                   (long long)json_integer_value(json_object_get(m, "rows_changed")),
                   json_is_true(json_object_get(m, "rebuild")) ? "  (table rebuild)" : "");
        }
        printf("migrations: %s (%d applied to the copy in %.0f ms)\n",
               migrated ? "ok" : "FAILED (see above)", applied, migrate_ms);
        printf("integrity_check: %s\nforeign_key_check: %s\n", integrity, fk);
        printf("%s; the live file was not changed\n",
               ok ? "would apply cleanly" : "would NOT apply cleanly");
    }
    rc = ok ? 0 : 1;
out:
    db_conn_close(db);
    db_remove_files(copy);
    free(copy);
    json_decref(report);
    return rc;
}

int cmd_migrate(int argc, char **argv)
{
    static const struct cmd_usage u = {
        "migrate", "[--status | --lint | --dry-run] [--json] [--db PATH]",
        "Apply the pending migrations (onefile's own, then the site's: ONEFILE_MIGRATIONS_DIR,\n"
        "or a migrations/ directory beside the database), all in one transaction with a\n"
        "savepoint each: all of them or none. They are linted first; a destructive change\n"
        "is refused unless its file says `-- onefile:destructive <reason>`.\n"
        "--status lists applied and pending migrations; --lint only lints; --dry-run applies\n"
        "them to a consistent copy of the live file (a server may be running), checks it and\n"
        "deletes it. None of the three changes the database.",
        1};
    int status = 0, as_json = 0, lint_only = 0, dry = 0;
    const struct opt opts[] = {
        {"status", OPT_BOOL, &status, "list applied and pending migrations, change nothing"},
        {"lint", OPT_BOOL, &lint_only, "lint the pending migrations, change nothing"},
        {"dry-run", OPT_BOOL, &dry, "apply them to a copy, report, delete the copy"},
        {"json", OPT_BOOL, &as_json, "with --status, --lint or --dry-run: print JSON"},
        {NULL, 0, NULL, NULL},
    };
    struct config cfg;
    char *pos[1];
    char err[512];
    int npos, rc;
    if ((rc = cmd_parse(&u, argc, argv, opts, &cfg, pos, 0, &npos)) >= 0)
        return rc;

    struct migration_plan plan;
    struct db_options dbo = {cfg.busy_timeout_ms, config_synchronous_level(&cfg)};
    struct db_conn *db = NULL;
    struct lock lock = {-1, NULL};
    rc = 2;
    int pg = engine_is_postgres(cfg.db);
    if (engine_plan_load(&plan, cfg.db, cfg.migrations_dir, err, sizeof(err)) < 0) {
        cmd_fail(&u, "%s", err);
        goto out_cfg;
    }
    if (status + lint_only + dry > 1) {
        cmd_fail(&u, "--status, --lint and --dry-run go one at a time");
        goto out;
    }
    if (pg && (lint_only || dry)) {
        cmd_fail(&u, "--%s does not run on PostgreSQL yet (docs/postgres.md)",
                 lint_only ? "lint" : "dry-run");
        goto out;
    }
    if (lint_only) {
        rc = lint(&cfg, &plan, as_json);
        goto out;
    }
    if (dry) {
        rc = dry_run(&u, &cfg, &plan, as_json);
        goto out;
    }
    if (status) {
        json_t *st;
        rc = 1;
        if (engine_open(cfg.db, DB_READONLY, &dbo, &db) < 0 ||
            engine_migrate_status(db, &plan, &st) < 0)
            goto out;
        if (as_json) {
            char *s = json_dumps(st, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            puts(s);
            free(s);
        } else {
            print_status(st);
        }
        rc = json_array_size(json_object_get(st, "problems")) ? 1 : 0;
        json_decref(st);
        goto out;
    }
    if (!pg && config_check_db_dir(&cfg, err, sizeof(err)) < 0) {
        cmd_fail(&u, "%s", err);
        goto out;
    }
    /* a running server owns the file (and migrates it itself when it starts); on
       PostgreSQL the runner's advisory lock keeps concurrent runs apart */
    if (!pg && lock_acquire(&lock, cfg.db, "migrate", err, sizeof(err)) < 0) {
        cmd_fail(&u, "%s; `serve` applies pending migrations when it starts", err);
        goto out;
    }
    int applied;
    rc = 1;
    if (engine_open(cfg.db, DB_READWRITE, &dbo, &db) < 0 ||
        engine_migrate(db, &plan, &applied, NULL) < 0)
        goto out;
    printf("%d migration%s applied\n", applied, applied == 1 ? "" : "s");
    rc = 0;
out:
    lock_release(&lock);
    db_conn_close(db);
    migrate_plan_release(&plan);
out_cfg:
    config_release(&cfg);
    return rc;
}
