/*
 * engine.h - the one place commands choose the engine: ONEFILE_DB is a SQLite path or a
 * postgres:// URL (core/dburl.h), and these open, plan and migrate whichever it names.
 *
 * Threads: the caller's.
 */
#ifndef ONEFILE_DB_ENGINE_H
#define ONEFILE_DB_ENGINE_H
#include <jansson.h>

#include "db/db.h"
#include "db/driver.h"
#include "db/migrate.h"

/* Whether db (ONEFILE_DB) is a PostgreSQL URL. */
int engine_is_postgres(const char *db);
/* A connection to db: sqlite_conn_open() or pg_conn_open(). 0 or -1 (logged). */
int engine_open(const char *db, enum db_mode mode, const struct db_options *o,
                struct db_conn **out);
/* The migration plan for db's engine (migrations/ or migrations/postgres/, embedded, plus
   the site's directory on SQLite). 0 or -1 with err filled. */
int engine_plan_load(struct migration_plan *p, const char *db, const char *site_dir, char *err,
                     size_t errlen);
/* migrate_apply_report() or pg_migrate_apply() for c's engine. */
int engine_migrate(struct db_conn *c, const struct migration_plan *p, int *applied, json_t *report);
/* migrate_status() or pg_migrate_status() for c's engine. */
int engine_migrate_status(struct db_conn *c, const struct migration_plan *p, json_t **out);
/* migrate_has_table() for c's engine: 1, 0, or -1. */
int engine_has_migrations(struct db_conn *c);
#endif
