/*
 * store.c - the store's shared tails; see store.h.
 */
#include "store/store.h"

#include <stdio.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"

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

static json_t *row_object(struct db_stmt *st, int as_text)
{
    json_t *o = json_object();
    for (int i = 0; i < db_column_count(st); i++) {
        const char *name = db_column_name(st, i);
        switch (as_text && db_column_type(st, i) != DB_NULL ? DB_TEXT : db_column_type(st, i)) {
        case DB_NULL:
            json_object_set_new(o, name, json_null());
            break;
        case DB_INTEGER:
            json_object_set_new(o, name, json_integer(db_column_int64(st, i)));
            break;
        default:
            json_object_set_new(o, name, json_string(db_column_text(st, i)));
        }
    }
    return o;
}

static int rows(struct db_conn *c, struct db_stmt *st, const char *what, int as_text, json_t **out)
{
    json_t *arr = json_array();
    int rc;
    while ((rc = db_step(st)) == DB_ROW)
        json_array_append_new(arr, row_object(st, as_text));
    db_reset(st);
    if (rc < 0) {
        json_decref(arr);
        return log_err("%s: %s", what, db_errmsg(c));
    }
    *out = arr;
    return 0;
}

int store_rows_json(struct db_conn *c, struct db_stmt *st, const char *what, json_t **out)
{
    return rows(c, st, what, 0, out);
}

int store_rows_text(struct db_conn *c, struct db_stmt *st, const char *what, json_t **out)
{
    return rows(c, st, what, 1, out);
}

int store_row_json(struct db_conn *c, struct db_stmt *st, const char *what, json_t **out)
{
    int rc = db_step(st);
    *out = rc == DB_ROW ? row_object(st, 0) : NULL;
    db_reset(st);
    if (rc < 0)
        return log_err("%s: %s", what, db_errmsg(c));
    return 0;
}

char *store_column_dup(struct db_stmt *st, int i)
{
    const char *t = db_column_text(st, i);
    return t ? xstrdup(t) : NULL;
}
