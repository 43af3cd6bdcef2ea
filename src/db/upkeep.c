/*
 * upkeep.c - checkpoint and quick check on SQLite; see upkeep.h.
 */
#include "db/upkeep.h"

#include <stdio.h>
#include <string.h>

#include "db/db.h"
#include "db/migrate.h"
#include "db/pg_migrate.h"
#include "db/sqlite.h"

static int unsupported(struct db_conn *c, char *err, size_t errlen)
{
    if (db_engine(c) == DB_ENGINE_SQLITE)
        return 0;
    snprintf(err, errlen, "not supported on this engine");
    return -1;
}

int upkeep_checkpoint(struct db_conn *c, enum upkeep_checkpoint_mode mode, long busy_timeout_ms,
                      struct upkeep_checkpoint *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (unsupported(c, err, errlen) < 0)
        return DB_ERR;
    sqlite3 *db = sqlite_conn_handle(c);
    if (!sqlite3_get_autocommit(db)) {
        snprintf(err, errlen, "a transaction is open on the writer's connection");
        return DB_ERR;
    }
    int smode = mode == UPKEEP_PASSIVE ? SQLITE_CHECKPOINT_PASSIVE : SQLITE_CHECKPOINT_TRUNCATE;
    if (mode == UPKEEP_TRUNCATE)
        sqlite3_busy_handler(db, NULL, NULL); /* never wait for readers */
    int rc = sqlite3_wal_checkpoint_v2(db, NULL, smode, &out->wal_frames, &out->copied);
    if (rc != SQLITE_OK)
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
    if (mode == UPKEEP_TRUNCATE)
        db_busy_handler_install(db, busy_timeout_ms);
    return sqlite_code(rc);
}

int upkeep_quick_check(struct db_conn *c, char *msg, size_t msglen)
{
    msg[0] = '\0';
    if (unsupported(c, msg, msglen) < 0)
        return -1;
    struct db_stmt *st = db_prepare(c, "PRAGMA quick_check(20)");
    int ret = -1, rc, n = 0;
    size_t used = 0;
    if (!st) {
        snprintf(msg, msglen, "prepare: %s", db_errmsg(c));
        return -1;
    }
    while ((rc = db_step(st)) == DB_ROW) {
        const char *line = db_column_text(st, 0);
        if (line && strcmp(line, "ok") == 0 && n == 0) {
            ret = 0;
            continue;
        }
        ret = -1;
        if (used < msglen) {
            int w = snprintf(msg + used, msglen - used, "%s%s", n ? "; " : "", line ? line : "?");
            used += w > 0 ? (size_t)w : 0;
        }
        n++;
    }
    if (rc < 0) {
        snprintf(msg, msglen, "quick_check: %s", db_errmsg(c));
        ret = -1;
    } else if (ret == 0) {
        snprintf(msg, msglen, "ok");
    }
    db_reset(st);
    return ret;
}

void upkeep_facts(struct db_conn *c, const struct migration_plan *plan, struct upkeep_facts *f)
{
    memset(f, 0, sizeof(*f));
    if (db_engine(c) != DB_ENGINE_SQLITE) {
        json_t *st = NULL;
        if (pg_migrate_status(c, plan, &st) == 0) {
            f->migration_version = json_integer_value(json_object_get(st, "version"));
            json_decref(st);
        }
        return;
    }
    sqlite3 *db = sqlite_conn_handle(c);
    db_query_text(db, "PRAGMA journal_mode", f->journal_mode, sizeof(f->journal_mode));
    db_query_int(db, "PRAGMA page_size", &f->page_size);
    db_query_int(db, "PRAGMA page_count", &f->page_count);
    db_query_int(db, "PRAGMA freelist_count", &f->freelist_count);
    json_t *st = NULL;
    if (migrate_status(db, plan, &st) == 0) {
        f->migration_version = json_integer_value(json_object_get(st, "version"));
        json_decref(st);
    }
}

int upkeep_ready(struct db_conn *c, const struct migration_plan *plan, struct upkeep_ready *r)
{
    memset(r, 0, sizeof(*r));
    r->synchronous = r->foreign_keys = -1;
    if (db_engine(c) == DB_ENGINE_POSTGRES) {
        /* no pragmas: PostgreSQL's durability and foreign keys are not per connection */
        snprintf(r->journal_mode, sizeof(r->journal_mode), "postgres");
        return pg_migrate_status(c, plan, &r->status);
    }
    if (db_engine(c) != DB_ENGINE_SQLITE)
        return -1;
    sqlite3 *db = sqlite_conn_handle(c);
    return db_query_text(db, "PRAGMA journal_mode", r->journal_mode, sizeof(r->journal_mode)) ==
                       0 &&
                   db_query_int(db, "PRAGMA synchronous", &r->synchronous) == 0 &&
                   db_query_int(db, "PRAGMA foreign_keys", &r->foreign_keys) == 0 &&
                   migrate_status(db, plan, &r->status) == 0
               ? 0
               : -1;
}
