/*
 * store.c - the store's shared tails; see store.h.
 */
#include "store/store.h"

#include <stdio.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"

int store_exec_id(struct db_conn *c, const char *sql, int64_t id, char *err, size_t errlen)
{
    struct db_stmt *st = db_prepare(c, sql);
    if (!st) {
        snprintf(err, errlen, "prepare: %s", db_errmsg(c));
        return DB_ERR;
    }
    db_bind_int64(st, 1, id);
    return db_run(st, err, errlen);
}

static const struct db_sql begin_write = {{
    [DB_ENGINE_SQLITE] = "BEGIN IMMEDIATE",
    [DB_ENGINE_POSTGRES] = "BEGIN",
}};

int store_begin_write(struct db_conn *c, const char *what)
{
    const char *sql = begin_write.text[db_engine(c)];
    char err[256];
    if (db_execute(c, sql ? sql : begin_write.text[DB_ENGINE_SQLITE], err, sizeof(err)) < 0)
        return log_err("%s: begin: %s", what, err);
    return 0;
}

int store_commit(struct db_conn *c, const char *what)
{
    char err[256];
    if (db_execute(c, "COMMIT", err, sizeof(err)) < 0)
        return log_err("%s: commit: %s", what, err);
    return 0;
}

void store_rollback(struct db_conn *c)
{
    db_execute(c, "ROLLBACK", NULL, 0);
}

void store_time(long seconds, char *out)
{
    clock_iso8601(time(NULL) + seconds, out, 32);
}
