/*
 * lint.h - the destructive-change lint, and the statement runner it shares with migrate.c.
 *
 * migrate_lint() (declared in migrate.h) copies the live schema - schema only, no rows -
 * into an in-memory database and runs the pending migrations there, statement by
 * statement, through the very runner that applies them for real (migrate_run). Before
 * each statement the lint classifies it; after each ALTER or DROP it verifies that every
 * trigger and view still compiles (rebuild.h). Findings:
 *
 *   drop-table, drop-column, drop-unique-index, rename-table, rename-column,
 *   rebuild-drops-columns, delete-without-where, update-without-where
 *        destructive: refused unless the file carries `-- onefile:destructive <reason>`
 *   dangling   a trigger, view or index left pointing at something gone: always refused
 *   error      the statement fails even on the schema alone: always refused
 *
 * Threads: the caller's; the in-memory database is private to the call.
 */
#ifndef ONEFILE_DB_LINT_H
#define ONEFILE_DB_LINT_H
#include <jansson.h>
#include <sqlite3.h>
#include <stddef.h>

#include "db/migrate.h"

struct lint {
    json_t *findings; /* array of finding objects */
    json_t *baseline; /* schema_verify problems before the migrations */
    const struct migration *m;
    const char *source;
    int allowed;  /* the file carries the destructive marker */
    int blocking; /* findings that refuse the migration */
};

/* Runs every statement of m on db, applying `-- onefile:rebuild` directives. When lint is
   not NULL, each statement is classified first and the schema verified after ALTER/DROP.
   *rebuilt is set when a rebuild ran (the caller checks foreign keys before COMMIT).
   0, or -1 with err filled ("0002_x.sql (site) line 3: message"). */
int migrate_run(sqlite3 *db, const char *source, const struct migration *m, struct lint *lint,
                int *rebuilt, char *err, size_t errlen);
/* Hooks called by migrate_run in lint mode. */
void lint_statement(struct lint *l, sqlite3 *db, int line, const char *sql);
void lint_after(struct lint *l, sqlite3 *db, int line, const char *sql);
void lint_rebuild(struct lint *l, int line, const char *table, json_t *dropped);
/* Whether text holds a `-- onefile:rebuild` directive (the migration needs foreign keys off
   around its transaction). */
int migrate_has_rebuild(const char *sql);
#endif
