/*
 * sqlite.h - the SQLite driver of the statement interface (db/driver.h).
 *
 * A struct db_conn here wraps one sqlite3 connection opened by db_open() (db.h: pragmas
 * set and read back) and keeps its statement cache: an array of the statements prepared on
 * it, found by the address of their SQL text first (store statements are literals), by
 * the text itself second. Each is prepared once (SQLITE_PREPARE_PERSISTENT) and finalized
 * when the connection closes; a query allocates nothing.
 *
 * Engine code in src/db/ (the writer's transactions and checkpoints, readers_release's
 * backstop, migrations, check, snapshot, profile) reaches the sqlite3 handle with
 * sqlite_conn_handle(); nothing outside src/db/ may (tests/lint_sql.sh checks it).
 *
 * Threads: like a sqlite3 handle opened SQLITE_OPEN_NOMUTEX: one thread at a time.
 */
#ifndef ONEFILE_DB_SQLITE_H
#define ONEFILE_DB_SQLITE_H
#include <sqlite3.h>

#include "db/db.h"
#include "db/driver.h"

extern const struct db_driver sqlite_driver;

/* db_open(path, mode, o) wrapped as a connection. 0 with *out set, or -1 (logged). */
int sqlite_conn_open(const char *path, enum db_mode mode, const struct db_options *o,
                     struct db_conn **out);
/* Wraps an open handle; the connection owns it from now on (db_conn_close closes it). */
struct db_conn *sqlite_conn_wrap(sqlite3 *db);
/* The handle behind c (which must be a SQLite connection). Engine code only. */
sqlite3 *sqlite_conn_handle(struct db_conn *c);
/* The interface's code (driver.h) for a SQLite result code (extended or primary):
   SQLITE_ROW -> DB_ROW, SQLITE_DONE/SQLITE_OK -> DB_DONE, errors -> DB_E*. */
int sqlite_code(int rc);
#endif
