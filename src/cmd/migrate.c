/*
 * migrate.c - `onefile migrate [--status] [--json]`: apply pending migrations (the same
 * step `serve` runs before it listens), or list applied and pending ones.
 */
#include <stdio.h>

#include "cmd/cmd.h"
#include "core/log.h"
#include "db/db.h"
#include "db/lock.h"
#include "db/migrate.h"

static void print_status(json_t *st)
{
    size_t i;
    json_t *m;
    printf("schema version %lld\n", (long long)json_integer_value(json_object_get(st, "version")));
    json_array_foreach(json_object_get(st, "applied"), i, m) {
        printf("applied  %-8s %-32s %s  %lld ms\n",
               json_string_value(json_object_get(m, "source")),
               json_string_value(json_object_get(m, "name")),
               json_string_value(json_object_get(m, "applied_at")),
               (long long)json_integer_value(json_object_get(m, "duration_ms")));
    }
    json_array_foreach(json_object_get(st, "pending"), i, m) {
        printf("pending  %-8s %s\n", json_string_value(json_object_get(m, "source")),
               json_string_value(json_object_get(m, "name")));
    }
    json_array_foreach(json_object_get(st, "problems"), i, m) {
        printf("PROBLEM  %s\n", json_string_value(m));
    }
}

int cmd_migrate(int argc, char **argv)
{
    static const struct cmd_usage u = {
        "migrate", "[--status] [--json] [--db PATH]",
        "Apply the pending migrations (onefile's own, then ONEFILE_MIGRATIONS_DIR's), each in\n"
        "its own transaction; a failure rolls that migration back and stops. With --status,\n"
        "list applied and pending migrations without changing anything.",
        1};
    int status = 0, as_json = 0;
    const struct opt opts[] = {
        {"status", OPT_BOOL, &status, "list applied and pending migrations, change nothing"},
        {"json", OPT_BOOL, &as_json, "with --status: print JSON"},
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
    sqlite3 *db = NULL;
    struct lock lock = {-1, NULL};
    rc = 2;
    if (migrate_plan_load(&plan, cfg.migrations_dir, err, sizeof(err)) < 0) {
        cmd_fail(&u, "%s", err);
        goto out_cfg;
    }
    if (status) {
        json_t *st;
        rc = 1;
        if (db_open(cfg.db, DB_READONLY, &dbo, &db) < 0 || migrate_status(db, &plan, &st) < 0)
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
    if (config_check_db_dir(&cfg, err, sizeof(err)) < 0) {
        cmd_fail(&u, "%s", err);
        goto out;
    }
    /* a running server owns the file (and migrates it itself when it starts) */
    if (lock_acquire(&lock, cfg.db, "migrate", err, sizeof(err)) < 0) {
        cmd_fail(&u, "%s; `serve` applies pending migrations when it starts", err);
        goto out;
    }
    int applied;
    rc = 1;
    if (db_open(cfg.db, DB_READWRITE, &dbo, &db) < 0 || migrate_apply(db, &plan, &applied) < 0)
        goto out;
    printf("%d migration%s applied\n", applied, applied == 1 ? "" : "s");
    rc = 0;
out:
    lock_release(&lock);
    sqlite3_close_v2(db);
    migrate_plan_release(&plan);
out_cfg:
    config_release(&cfg);
    return rc;
}
