/*
 * check.c - `onefile check [--db PATH] [--json] [--full]`: inspect any SQLite file without
 * writing to it (db/check.c does the work) and print what was found.
 *
 * Output: one "name: value" line per item, "note: ..." and "problem: ..." lines, then
 * "healthy" or "N problems"; or the report as JSON with --json. Exit 0 healthy, 1 problems
 * found, 2 the file cannot be checked (one line on stderr).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "db/check.h"
#include "db/migrate.h"

/* The value of one report item as the human output shows it. */
static void print_item(const char *key, json_t *v)
{
    printf("%s: ", key);
    if (strcmp(key, "quick_check") == 0 || strcmp(key, "integrity_check") == 0) {
        size_t n = json_array_size(v);
        const char *first = json_string_value(json_array_get(v, 0));
        if (n == 1 && first && strcmp(first, "ok") == 0)
            printf("ok\n");
        else
            printf("%zu message%s\n", n, n == 1 ? "" : "s");
    } else if (strcmp(key, "foreign_key_check") == 0) {
        long long n = (long long)json_integer_value(json_object_get(v, "violations"));
        if (n == 0)
            printf("ok\n");
        else
            printf("%lld violation%s\n", n, n == 1 ? "" : "s");
    } else if (strcmp(key, "migrations") == 0) {
        printf("version %lld, %zu applied, %zu pending\n",
               (long long)json_integer_value(json_object_get(v, "version")),
               json_array_size(json_object_get(v, "applied")),
               json_array_size(json_object_get(v, "pending")));
    } else if (json_is_string(v)) {
        printf("%s\n", json_string_value(v));
    } else if (json_is_integer(v)) {
        printf("%lld\n", (long long)json_integer_value(v));
    } else if (json_is_null(v)) {
        printf("unknown\n");
    } else {
        char *s = json_dumps(v, JSON_COMPACT);
        printf("%s\n", s ? s : "?");
        free(s);
    }
}

static void print_report(json_t *r)
{
    /* items in the report's order (jansson keeps insertion order) */
    for (void *it = json_object_iter(r); it; it = json_object_iter_next(r, it)) {
        const char *key = json_object_iter_key(it);
        if (strcmp(key, "notes") != 0 && strcmp(key, "problems") != 0 && strcmp(key, "ok") != 0)
            print_item(key, json_object_iter_value(it));
    }
    json_t *notes = json_object_get(r, "notes");
    for (size_t i = 0; i < json_array_size(notes); i++)
        printf("note: %s\n", json_string_value(json_array_get(notes, i)));
    json_t *problems = json_object_get(r, "problems");
    for (size_t i = 0; i < json_array_size(problems); i++)
        printf("problem: %s\n", json_string_value(json_array_get(problems, i)));
    size_t n = json_array_size(problems);
    if (n == 0)
        printf("healthy\n");
    else
        printf("%zu problem%s\n", n, n == 1 ? "" : "s");
}

int cmd_check(int argc, char **argv)
{
    static const struct cmd_usage u = {
        "check", "[--db PATH] [--json] [--full]",
        "Inspect any SQLite file without writing to it: journal mode, sizes, quick_check (or\n"
        "integrity_check with --full), foreign key violations and, for a onefile database,\n"
        "its migrations. Exit 0 healthy, 1 problems found, 2 the file cannot be checked.",
        1};
    int as_json = 0, full = 0;
    const struct opt opts[] = {
        {"json", OPT_BOOL, &as_json, "print the report as JSON"},
        {"full", OPT_BOOL, &full, "run integrity_check (slower, checks indexes) not quick_check"},
        {NULL, 0, NULL, NULL},
    };
    struct config cfg;
    struct migration_plan plan = {0};
    char *pos[1];
    char err[1024];
    json_t *report = NULL;
    int npos, rc;
    if ((rc = cmd_parse(&u, argc, argv, opts, &cfg, pos, 0, &npos)) >= 0)
        return rc;

    rc = 2;
    if (migrate_plan_load(&plan, cfg.migrations_dir, err, sizeof(err)) < 0) {
        cmd_fail(&u, "%s", err);
        goto out;
    }
    if (check_run(cfg.db, full, &plan, &report, err, sizeof(err)) < 0) {
        cmd_fail(&u, "%s", err);
        goto out;
    }
    if (as_json) {
        char *s = json_dumps(report, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(s ? s : "null");
        free(s);
    } else {
        print_report(report);
    }
    rc = json_is_true(json_object_get(report, "ok")) ? 0 : 1;
out:
    json_decref(report);
    migrate_plan_release(&plan);
    config_release(&cfg);
    return rc;
}
