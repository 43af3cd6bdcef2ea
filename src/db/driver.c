/*
 * driver.c - the statement interface's functions: each finds the driver in the head of
 * the connection or statement (driver.h, "For drivers only") and calls it.
 *
 * Nothing here allocates or locks: one indirect call per interface call. db_run() is the
 * step-to-end-and-reset tail that writer functions otherwise write out each time.
 * Threads: the caller's, which holds the connection.
 */
#include "db/driver.h"

#include <stdio.h>
#include <string.h>

static const struct db_driver *conn_driver(const struct db_conn *c)
{
    return ((const struct db_conn_head *)(const void *)c)->driver;
}

static const struct db_driver *stmt_driver(const struct db_stmt *st)
{
    return ((const struct db_stmt_head *)(const void *)st)->driver;
}

static struct db_conn *stmt_conn(const struct db_stmt *st)
{
    return ((const struct db_stmt_head *)(const void *)st)->conn;
}

enum db_engine db_engine(const struct db_conn *c)
{
    return conn_driver(c)->engine;
}

struct db_stmt *db_prepare(struct db_conn *c, const char *sql)
{
    return conn_driver(c)->prepare(c, sql, 0, 1);
}

struct db_stmt *db_prepare_insert(struct db_conn *c, const char *sql)
{
    return conn_driver(c)->prepare(c, sql, DB_PREPARE_INSERT, 1);
}

struct db_stmt *db_prepare_sql(struct db_conn *c, const struct db_sql *q)
{
    const char *text = q->text[db_engine(c)];
    return db_prepare(c, text ? text : q->text[DB_ENGINE_SQLITE]);
}

struct db_stmt *db_prepare_sql_insert(struct db_conn *c, const struct db_sql *q)
{
    const char *text = q->text[db_engine(c)];
    return db_prepare_insert(c, text ? text : q->text[DB_ENGINE_SQLITE]);
}

struct db_stmt *db_prepare_once(struct db_conn *c, const char *sql)
{
    return conn_driver(c)->prepare(c, sql, 0, 0);
}

void db_finalize(struct db_stmt *st)
{
    if (st)
        stmt_driver(st)->finalize(st);
}

int db_bind_int64(struct db_stmt *st, int i, int64_t v)
{
    return stmt_driver(st)->bind_int64(st, i, v);
}

int db_bind_double(struct db_stmt *st, int i, double v)
{
    return stmt_driver(st)->bind_double(st, i, v);
}

int db_bind_text(struct db_stmt *st, int i, const char *s)
{
    if (!s)
        return stmt_driver(st)->bind_null(st, i);
    return stmt_driver(st)->bind_text(st, i, s, strlen(s));
}

int db_bind_textn(struct db_stmt *st, int i, const char *s, size_t len)
{
    if (!s)
        return stmt_driver(st)->bind_null(st, i);
    return stmt_driver(st)->bind_text(st, i, s, len);
}

int db_bind_blob(struct db_stmt *st, int i, const void *p, size_t len)
{
    if (!p)
        return stmt_driver(st)->bind_null(st, i);
    return stmt_driver(st)->bind_blob(st, i, p, len);
}

int db_bind_null(struct db_stmt *st, int i)
{
    return stmt_driver(st)->bind_null(st, i);
}

int db_step(struct db_stmt *st)
{
    return stmt_driver(st)->step(st);
}

int db_run(struct db_stmt *st, char *err, size_t errlen)
{
    const struct db_driver *d = stmt_driver(st);
    int rc = d->step(st);
    if (rc == DB_ROW)
        rc = DB_DONE; /* a row nobody asked for (an upsert's RETURNING, say) is dropped */
    if (rc < 0 && errlen > 0)
        snprintf(err, errlen, "%s", d->errmsg(stmt_conn(st)));
    d->reset(st);
    return rc;
}

void db_reset(struct db_stmt *st)
{
    stmt_driver(st)->reset(st);
}

int64_t db_column_int64(struct db_stmt *st, int i)
{
    return stmt_driver(st)->column_int64(st, i);
}

double db_column_double(struct db_stmt *st, int i)
{
    return stmt_driver(st)->column_double(st, i);
}

const char *db_column_text(struct db_stmt *st, int i)
{
    return stmt_driver(st)->column_text(st, i);
}

const void *db_column_blob(struct db_stmt *st, int i)
{
    return stmt_driver(st)->column_blob(st, i);
}

size_t db_column_bytes(struct db_stmt *st, int i)
{
    return stmt_driver(st)->column_bytes(st, i);
}

int db_column_is_null(struct db_stmt *st, int i)
{
    return stmt_driver(st)->column_is_null(st, i);
}

int db_column_type(struct db_stmt *st, int i)
{
    return stmt_driver(st)->column_type(st, i);
}

int db_column_count(struct db_stmt *st)
{
    return stmt_driver(st)->column_count(st);
}

const char *db_column_name(struct db_stmt *st, int i)
{
    return stmt_driver(st)->column_name(st, i);
}

int64_t db_changes(struct db_conn *c)
{
    return conn_driver(c)->changes(c);
}

int64_t db_insert_id(struct db_stmt *st)
{
    return stmt_driver(st)->insert_id(st);
}

const char *db_errmsg(struct db_conn *c)
{
    return conn_driver(c)->errmsg(c);
}

int db_execute(struct db_conn *c, const char *sql, char *err, size_t errlen)
{
    const struct db_driver *d = conn_driver(c);
    int rc = d->execute(c, sql);
    if (rc < 0 && errlen > 0)
        snprintf(err, errlen, "%s", d->errmsg(c));
    return rc;
}

int db_conn_close(struct db_conn *c)
{
    return c ? conn_driver(c)->close(c) : 0;
}
