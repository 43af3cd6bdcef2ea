/*
 * engine.c - engine dispatch for commands; see engine.h.
 */
#include "db/engine.h"

#include "core/dburl.h"
#include "db/pg.h"
#include "db/pg_migrate.h"
#include "db/sqlite.h"

int engine_is_postgres(const char *db)
{
    return db && dburl_is_postgres(db);
}

int engine_open(const char *db, enum db_mode mode, const struct db_options *o, struct db_conn **out)
{
    if (engine_is_postgres(db))
        return pg_conn_open(db, mode, o, out);
    return sqlite_conn_open(db, mode, o, out);
}

int engine_plan_load(struct migration_plan *p, const char *db, const char *site_dir, char *err,
                     size_t errlen)
{
    if (engine_is_postgres(db))
        return pg_migrate_plan_load(p, site_dir, err, errlen);
    return migrate_plan_load(p, site_dir, err, errlen);
}

int engine_migrate(struct db_conn *c, const struct migration_plan *p, int *applied, json_t *report)
{
    if (db_engine(c) == DB_ENGINE_POSTGRES)
        return pg_migrate_apply(c, p, applied, report);
    return migrate_apply_report(sqlite_conn_handle(c), p, applied, report);
}

int engine_migrate_status(struct db_conn *c, const struct migration_plan *p, json_t **out)
{
    if (db_engine(c) == DB_ENGINE_POSTGRES)
        return pg_migrate_status(c, p, out);
    return migrate_status(sqlite_conn_handle(c), p, out);
}

int engine_has_migrations(struct db_conn *c)
{
    if (db_engine(c) == DB_ENGINE_SQLITE)
        return migrate_has_table(sqlite_conn_handle(c));
    json_t *st = NULL;
    struct migration_plan none = {.nlists = 0};
    if (pg_migrate_status(c, &none, &st) < 0)
        return -1;
    int has = json_array_size(json_object_get(st, "applied")) > 0;
    json_decref(st);
    return has;
}
