/*
 * sqlite.c - the SQLite driver; see sqlite.h and driver.h.
 *
 * Statement cache: conn->stmts grows by doubling, one struct sqlite_stmt per distinct SQL
 * text, allocated on the text's first prepare on this connection and freed at close.
 * Lookup compares addresses (a literal is found at once), then texts (the same literal
 * from another translation unit, or the same text built twice). Bindings are SQLITE_STATIC:
 * the interface says bound bytes live until the statement is reset.
 *
 * Invariants: every statement of the cache is finalized before the handle closes; a
 * db_prepare_once() statement is outside the cache and finalized by its caller.
 * Threads: the one holding the connection.
 */
#include "db/sqlite.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"

struct sqlite_stmt {
    struct db_stmt_head head;
    sqlite3_stmt *st;
    const char *key; /* the address db_prepare() was given (cached statements) */
};

struct sqlite_conn {
    struct db_conn_head head;
    sqlite3 *db;
    struct sqlite_stmt **stmts;
    size_t n, cap;
};

static struct sqlite_conn *sconn(struct db_conn *c)
{
    return (struct sqlite_conn *)(void *)c;
}

static struct sqlite_stmt *sstmt(struct db_stmt *st)
{
    return (struct sqlite_stmt *)(void *)st;
}

static sqlite3_stmt *raw(struct db_stmt *st)
{
    return sstmt(st)->st;
}

int sqlite_code(int rc)
{
    switch (rc) {
    case SQLITE_ROW:
        return DB_ROW;
    case SQLITE_OK:
    case SQLITE_DONE:
        return DB_DONE;
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
        return DB_EUNIQUE;
    default:
        break;
    }
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
        return DB_ECONSTRAINT;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return DB_EBUSY;
    case SQLITE_READONLY:
        return DB_EREADONLY;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
        return DB_EIO;
    case SQLITE_FULL:
        return DB_EFULL;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return DB_ECORRUPT;
    default:
        return DB_ERR;
    }
}

static struct sqlite_stmt *stmt_new(struct sqlite_conn *c, sqlite3_stmt *st, const char *key)
{
    struct sqlite_stmt *s = xmalloc(sizeof(*s));
    s->head.driver = &sqlite_driver;
    s->head.conn = (struct db_conn *)(void *)c;
    s->st = st;
    s->key = key;
    return s;
}

/* The cached statement for sql on c, reset and unbound, or NULL when there is none yet. */
static struct sqlite_stmt *cache_find(struct sqlite_conn *c, const char *sql)
{
    struct sqlite_stmt *s = NULL;
    for (size_t i = 0; i < c->n && !s; i++)
        if (c->stmts[i]->key == sql)
            s = c->stmts[i];
    for (size_t i = 0; i < c->n && !s; i++)
        if (strcmp(sqlite3_sql(c->stmts[i]->st), sql) == 0)
            s = c->stmts[i];
    if (s) {
        sqlite3_reset(s->st);
        sqlite3_clear_bindings(s->st);
    }
    return s;
}

static struct db_stmt *prepare(struct db_conn *conn, const char *sql, int flags, int cached)
{
    struct sqlite_conn *c = sconn(conn);
    struct sqlite_stmt *s;
    sqlite3_stmt *st = NULL;
    (void)flags; /* SQLite keeps the rowid of every INSERT */
    if (cached && (s = cache_find(c, sql)) != NULL)
        return (struct db_stmt *)(void *)s;
    if (sqlite3_prepare_v3(c->db, sql, -1, cached ? SQLITE_PREPARE_PERSISTENT : 0, &st, NULL) !=
        SQLITE_OK) {
        log_err("db: prepare: %s", sqlite3_errmsg(c->db));
        return NULL;
    }
    s = stmt_new(c, st, sql);
    if (cached) {
        if (c->n == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 16;
            c->stmts = xrealloc(c->stmts, c->cap * sizeof(*c->stmts));
        }
        c->stmts[c->n++] = s;
    } else {
        s->key = NULL;
    }
    return (struct db_stmt *)(void *)s;
}

static void finalize(struct db_stmt *st)
{
    sqlite3_finalize(raw(st));
    free(st);
}

static int bind_rc(int rc)
{
    return rc == SQLITE_OK ? 0 : DB_ERR;
}

static int bind_int64(struct db_stmt *st, int i, int64_t v)
{
    return bind_rc(sqlite3_bind_int64(raw(st), i, (sqlite3_int64)v));
}

static int bind_double(struct db_stmt *st, int i, double v)
{
    return bind_rc(sqlite3_bind_double(raw(st), i, v));
}

static int bind_text(struct db_stmt *st, int i, const char *s, size_t len)
{
    return bind_rc(sqlite3_bind_text64(raw(st), i, s, len, SQLITE_STATIC, SQLITE_UTF8));
}

static int bind_blob(struct db_stmt *st, int i, const void *p, size_t len)
{
    return bind_rc(sqlite3_bind_blob64(raw(st), i, p, len, SQLITE_STATIC));
}

static int bind_null(struct db_stmt *st, int i)
{
    return bind_rc(sqlite3_bind_null(raw(st), i));
}

static int step(struct db_stmt *st)
{
    return sqlite_code(sqlite3_step(raw(st)));
}

static void reset(struct db_stmt *st)
{
    sqlite3_reset(raw(st));
}

static int64_t column_int64(struct db_stmt *st, int i)
{
    return sqlite3_column_int64(raw(st), i);
}

static double column_double(struct db_stmt *st, int i)
{
    return sqlite3_column_double(raw(st), i);
}

static const char *column_text(struct db_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(raw(st), i);
}

static const void *column_blob(struct db_stmt *st, int i)
{
    return sqlite3_column_blob(raw(st), i);
}

static size_t column_bytes(struct db_stmt *st, int i)
{
    return (size_t)sqlite3_column_bytes(raw(st), i);
}

static int column_is_null(struct db_stmt *st, int i)
{
    return sqlite3_column_type(raw(st), i) == SQLITE_NULL;
}

static int column_type(struct db_stmt *st, int i)
{
    switch (sqlite3_column_type(raw(st), i)) {
    case SQLITE_INTEGER:
        return DB_INTEGER;
    case SQLITE_FLOAT:
        return DB_FLOAT;
    case SQLITE_TEXT:
        return DB_TEXT;
    case SQLITE_BLOB:
        return DB_BLOB;
    default:
        return DB_NULL;
    }
}

static int column_count(struct db_stmt *st)
{
    return sqlite3_column_count(raw(st));
}

static const char *column_name(struct db_stmt *st, int i)
{
    return sqlite3_column_name(raw(st), i);
}

static int64_t changes(struct db_conn *c)
{
    return sqlite3_changes64(sconn(c)->db);
}

static int64_t insert_id(struct db_stmt *st)
{
    return sqlite3_last_insert_rowid(sconn(sstmt(st)->head.conn)->db);
}

static const char *errmsg(struct db_conn *c)
{
    return sqlite3_errmsg(sconn(c)->db);
}

static int execute(struct db_conn *c, const char *sql)
{
    return sqlite_code(sqlite3_exec(sconn(c)->db, sql, NULL, NULL, NULL));
}

static int conn_close(struct db_conn *conn)
{
    struct sqlite_conn *c = sconn(conn);
    for (size_t i = 0; i < c->n; i++) {
        sqlite3_finalize(c->stmts[i]->st);
        free(c->stmts[i]);
    }
    free(c->stmts);
    /* close first: an FTS5 table's own statements go with its virtual tables, which
       finalizing every statement by hand would free twice; only when statements prepared
       outside the cache (engine code's db_prepare_cached) remain, finalize those and
       close again */
    int rc = sqlite3_close(c->db);
    if (rc == SQLITE_BUSY)
        rc = db_close(c->db);
    if (rc != SQLITE_OK) {
        log_err("db: close: %s", sqlite3_errmsg(c->db));
        sqlite3_close_v2(c->db); /* closes once its last statement is gone */
    }
    free(c);
    return rc == SQLITE_OK ? 0 : sqlite_code(rc);
}

const struct db_driver sqlite_driver = {
    .name = "sqlite",
    .engine = DB_ENGINE_SQLITE,
    .prepare = prepare,
    .finalize = finalize,
    .bind_int64 = bind_int64,
    .bind_double = bind_double,
    .bind_text = bind_text,
    .bind_blob = bind_blob,
    .bind_null = bind_null,
    .step = step,
    .reset = reset,
    .column_int64 = column_int64,
    .column_double = column_double,
    .column_text = column_text,
    .column_blob = column_blob,
    .column_bytes = column_bytes,
    .column_is_null = column_is_null,
    .column_type = column_type,
    .column_count = column_count,
    .column_name = column_name,
    .changes = changes,
    .insert_id = insert_id,
    .errmsg = errmsg,
    .execute = execute,
    .close = conn_close,
};

struct db_conn *sqlite_conn_wrap(sqlite3 *db)
{
    struct sqlite_conn *c = xcalloc(1, sizeof(*c));
    c->head.driver = &sqlite_driver;
    c->db = db;
    return (struct db_conn *)(void *)c;
}

int sqlite_conn_open(const char *path, enum db_mode mode, const struct db_options *o,
                     struct db_conn **out)
{
    sqlite3 *db;
    *out = NULL;
    if (db_open(path, mode, o, &db) < 0)
        return -1;
    *out = sqlite_conn_wrap(db);
    return 0;
}

sqlite3 *sqlite_conn_handle(struct db_conn *c)
{
    return sconn(c)->db;
}
