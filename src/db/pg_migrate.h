/*
 * pg_migrate.h - onefile's migrations on a PostgreSQL database (migrations/postgres/).
 *
 * The SQLite runner (migrate.h) works on a sqlite3 handle; this is its PostgreSQL twin,
 * through the statement interface: the same schema_migrations records, the same checks of
 * recorded checksums against the files, all pending migrations in one transaction (DDL is
 * transactional here) under an advisory lock, so several instances starting at once apply
 * them once. Not yet on PostgreSQL: site migrations (ONEFILE_MIGRATIONS_DIR is refused),
 * the destructive-change lint, --dry-run.
 *
 * Threads: the caller's, which holds the connection.
 */
#ifndef ONEFILE_DB_PG_MIGRATE_H
#define ONEFILE_DB_PG_MIGRATE_H
#include <jansson.h>

#include "db/driver.h"
#include "db/migrate.h"

/* The embedded migrations/postgres/ files as a plan; site_dir must be NULL (refused with a
   reason in err otherwise). 0 or -1. Release with migrate_plan_release(). */
int pg_migrate_plan_load(struct migration_plan *p, const char *site_dir, char *err, size_t errlen);
/* {version, applied[], pending[], problems[]} like migrate_status(). 0 or -1 (logged). */
int pg_migrate_status(struct db_conn *c, const struct migration_plan *p, json_t **out);
/* Applies every pending migration (all or none); *applied counts them, report (may be
   NULL) gets one object per migration. 0 or -1 (logged, nothing applied). */
int pg_migrate_apply(struct db_conn *c, const struct migration_plan *p, int *applied,
                     json_t *report);
#endif
