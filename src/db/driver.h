/*
 * driver.h - the statement interface: what store code asks of a database engine.
 *
 * Store code (src/store/) is written once against this header; an engine answers through
 * a driver, a `struct db_driver` of function pointers (SQLite: db/sqlite.c; PostgreSQL
 * db/pg.c). Store code sees two opaque types:
 *
 *   struct db_conn   one connection of some engine. It belongs to one thread at a time:
 *                    a reader between readers_acquire() and readers_release(), the writer's
 *                    inside a writer function (db/writer.h).
 *   struct db_stmt   a prepared statement. It belongs to its connection, which caches it:
 *                    the first db_prepare() of a text on a connection prepares it, every
 *                    later one finds it again. Nothing is allocated per query.
 *
 * A query, start to end:
 *
 *     struct db_stmt *st = db_prepare(c, "SELECT id, title FROM posts WHERE slug = ?1");
 *     if (!st)
 *         return -1;                      // logged by db_prepare
 *     db_bind_text(st, 1, slug);
 *     while ((rc = db_step(st)) == DB_ROW)
 *         use(db_column_int64(st, 0), db_column_text(st, 1));
 *     db_reset(st);                       // always, before the connection moves on
 *     if (rc < 0)
 *         return log_err("posts: %s", db_errmsg(c));
 *
 * Rules of the interface (a driver keeps them; store code relies on them):
 *
 * - SQL text. Placeholders are `?N`, numbered from 1 (`?1`, `?2`, ... a number may appear
 *   several times). That is the only style: no bare `?`, no `:name`, no `$N`. SQLite takes
 *   it as it is; the PostgreSQL driver rewrites `?N` to `$N` when it prepares (outside
 *   quoted strings). The text given to db_prepare() must live as long as the connection
 *   (a string literal): the cache keys on its address first. A text built at run time
 *   goes through db_prepare_once() and db_finalize().
 * - Portable SQL. Store statements keep to what both engines accept; times are computed
 *   in C and bound (ISO-8601 UTC text, core/clock.h), never strftime('now') or now();
 *   booleans are bound as integers and compared (`?3 <> 0`), never used bare. A
 *   statement that must differ by engine (FTS5 vs tsvector, SKIP LOCKED, upsert forms)
 *   is a `struct db_sql` with one text per engine, prepared with db_prepare_sql().
 * - Bindings. A text or blob is bound by reference: its bytes must stay valid until the
 *   statement is stepped to its end and reset, or bound again (no copy is made). A NULL
 *   text or blob pointer binds SQL NULL. db_prepare() returns the statement with every
 *   parameter unbound (NULL).
 * - Stepping. db_step() returns DB_ROW (a row is ready for the column getters), DB_DONE
 *   or a negative DB_E* code. A text or blob read from a column is valid until the next
 *   db_step() or db_reset() on the statement; copy what must outlive it.
 * - Reset. Every statement a caller stepped is reset by that caller (db_reset, or
 *   db_run which resets itself) before it returns: a statement left running would hold a
 *   read transaction open. readers_release() and the writer reset strays, as a backstop.
 * - Ids and counts. db_changes() counts the rows the connection's last completed INSERT,
 *   UPDATE or DELETE changed. db_insert_id() gives the `id` of the row an INSERT made,
 *   for statements prepared with db_prepare_insert() (SQLite reads its rowid; the
 *   PostgreSQL driver appends `RETURNING id` to such a statement and keeps the value).
 *   Nothing else about rowids is assumed.
 * - Errors. Every failure is one of the negative codes below, mapped from the engine's
 *   own by the driver; db_errmsg() gives the engine's message for the last failure on
 *   the connection (valid until the next call on it). Interface functions do not log,
 *   except db_prepare* (a prepare failure is a bug in the SQL, reported where found).
 *
 * Threads: none of its own; every call runs on the thread that holds the connection.
 */
#ifndef ONEFILE_DB_DRIVER_H
#define ONEFILE_DB_DRIVER_H
#include <stddef.h>
#include <stdint.h>

struct db_conn;
struct db_stmt;

/* What db_step() returns besides an error. */
#define DB_DONE 0 /* the statement ran to its end (no more rows) */
#define DB_ROW 1  /* a row is ready */

/* Errors: every interface function that can fail returns one of these (all < 0). */
#define DB_ERR (-1)         /* anything not below (misuse, out of memory, internal) */
#define DB_ECONSTRAINT (-2) /* NOT NULL, CHECK or FOREIGN KEY refused the change */
#define DB_EUNIQUE (-3)     /* a UNIQUE or PRIMARY KEY constraint refused the change */
#define DB_EBUSY (-4)       /* the database is locked by another connection (after waiting) */
#define DB_EREADONLY (-5)   /* the connection or the file is read-only */
#define DB_EIO (-6)         /* the engine met an I/O error */
#define DB_EFULL (-7)       /* disk or quota full */
#define DB_ECORRUPT (-8)    /* the file is damaged or not a database */

/* The engines; an index into struct db_sql. */
enum db_engine { DB_ENGINE_SQLITE, DB_ENGINE_POSTGRES, DB_NENGINES };

/* One statement's text per engine; a NULL entry means "the SQLite text". Adding an engine:
   a new enum db_engine value, then a text in each struct db_sql that needs one. */
struct db_sql {
    const char *text[DB_NENGINES];
};

/* The engine behind a connection. */
enum db_engine db_engine(const struct db_conn *c);

/* The cached statement for sql (a literal: see "SQL text") on c, reset with every
   parameter unbound. NULL on a prepare error (logged with the engine's message). Never
   finalize it: the connection does when it closes. */
struct db_stmt *db_prepare(struct db_conn *c, const char *sql);
/* db_prepare() of an INSERT whose new id the caller reads with db_insert_id(). */
struct db_stmt *db_prepare_insert(struct db_conn *c, const char *sql);
/* db_prepare() of q's text for c's engine. */
struct db_stmt *db_prepare_sql(struct db_conn *c, const struct db_sql *q);
/* db_prepare_insert() of q's text for c's engine. */
struct db_stmt *db_prepare_sql_insert(struct db_conn *c, const struct db_sql *q);
/* A statement prepared for one use (sql may be a temporary buffer): not cached, the
   caller releases it with db_finalize(). NULL on error (logged). */
struct db_stmt *db_prepare_once(struct db_conn *c, const char *sql);
/* Releases a db_prepare_once() statement; NULL is fine. */
void db_finalize(struct db_stmt *st);

/* Binding parameter i (from 1). 0, or DB_ERR (i out of range: a bug in the caller). */
int db_bind_int64(struct db_stmt *st, int i, int64_t v);
int db_bind_double(struct db_stmt *st, int i, double v);
/* s NUL-terminated, or NULL for SQL NULL; by reference (see "Bindings"). */
int db_bind_text(struct db_stmt *st, int i, const char *s);
/* len bytes of s (no NUL needed); s NULL binds SQL NULL. */
int db_bind_textn(struct db_stmt *st, int i, const char *s, size_t len);
int db_bind_blob(struct db_stmt *st, int i, const void *p, size_t len);
int db_bind_null(struct db_stmt *st, int i);

/* Runs the statement to its next row: DB_ROW, DB_DONE or a negative code. */
int db_step(struct db_stmt *st);
/* Steps a statement that returns no row to its end and resets it: 0, or a negative code
   with the engine's message in err ("" allowed: errlen 0). For writer functions. */
int db_run(struct db_stmt *st, char *err, size_t errlen);
/* Makes st ready to run again (its bindings are kept until the next db_prepare()). */
void db_reset(struct db_stmt *st);

/* Column i (from 0) of the current row. A NULL reads as 0, 0.0, or a NULL pointer for
   text and blob; text is NUL-terminated; the pointers are valid until the next step or
   reset of st. */
int64_t db_column_int64(struct db_stmt *st, int i);
double db_column_double(struct db_stmt *st, int i);
const char *db_column_text(struct db_stmt *st, int i);
const void *db_column_blob(struct db_stmt *st, int i);
/* Bytes of the text or blob in column i (without the NUL); 0 for NULL. */
size_t db_column_bytes(struct db_stmt *st, int i);
int db_column_is_null(struct db_stmt *st, int i);
/* The storage class of column i in the current row: one of DB_NULL... below. */
int db_column_type(struct db_stmt *st, int i);
#define DB_NULL 0
#define DB_INTEGER 1
#define DB_FLOAT 2
#define DB_TEXT 3
#define DB_BLOB 4
/* Columns of the statement's rows, and the name of column i (as the SELECT names it;
   valid while the statement is). */
int db_column_count(struct db_stmt *st);
const char *db_column_name(struct db_stmt *st, int i);

/* Rows changed by the connection's last completed INSERT, UPDATE or DELETE. */
int64_t db_changes(struct db_conn *c);
/* The id of the row the last DB_DONE of st (a db_prepare_insert() statement) inserted;
   still valid after db_reset() or db_run(), until st is prepared or stepped again. */
int64_t db_insert_id(struct db_stmt *st);
/* The engine's message for the last failure on c. Valid until the next call on c. */
const char *db_errmsg(struct db_conn *c);

/* Runs sql, one or more statements with no parameters and no rows wanted (BEGIN, COMMIT,
   a script). 0, or a negative code with the engine's message in err. */
int db_execute(struct db_conn *c, const char *sql, char *err, size_t errlen);
/* Closes c: finalizes its statements, then the connection. 0, or a negative code when
   the engine reported a failure (the connection is gone either way). NULL is fine. */
int db_conn_close(struct db_conn *c);

/*
 * For drivers only. A driver's connection struct starts with a struct db_conn_head and
 * its statement struct with a struct db_stmt_head; the functions above find the driver
 * there and call it. Store code never includes what follows in its thinking.
 */
struct db_driver {
    const char *name; /* "sqlite", "postgres" */
    enum db_engine engine;
    struct db_stmt *(*prepare)(struct db_conn *c, const char *sql, int flags, int cached);
    void (*finalize)(struct db_stmt *st);
    int (*bind_int64)(struct db_stmt *st, int i, int64_t v);
    int (*bind_double)(struct db_stmt *st, int i, double v);
    int (*bind_text)(struct db_stmt *st, int i, const char *s, size_t len);
    int (*bind_blob)(struct db_stmt *st, int i, const void *p, size_t len);
    int (*bind_null)(struct db_stmt *st, int i);
    int (*step)(struct db_stmt *st);
    void (*reset)(struct db_stmt *st);
    int64_t (*column_int64)(struct db_stmt *st, int i);
    double (*column_double)(struct db_stmt *st, int i);
    const char *(*column_text)(struct db_stmt *st, int i);
    const void *(*column_blob)(struct db_stmt *st, int i);
    size_t (*column_bytes)(struct db_stmt *st, int i);
    int (*column_is_null)(struct db_stmt *st, int i);
    int (*column_type)(struct db_stmt *st, int i);
    int (*column_count)(struct db_stmt *st);
    const char *(*column_name)(struct db_stmt *st, int i);
    int64_t (*changes)(struct db_conn *c);
    int64_t (*insert_id)(struct db_stmt *st);
    const char *(*errmsg)(struct db_conn *c);
    int (*execute)(struct db_conn *c, const char *sql);
    int (*close)(struct db_conn *c);
};
/* Flags of db_driver.prepare. */
#define DB_PREPARE_INSERT 1 /* the caller reads db_insert_id() */

struct db_conn_head {
    const struct db_driver *driver;
};
struct db_stmt_head {
    const struct db_driver *driver;
    struct db_conn *conn;
};

#endif
