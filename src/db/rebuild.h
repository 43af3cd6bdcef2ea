/*
 * rebuild.h - SQLite's documented twelve-step table rebuild, and the check that every
 * trigger and view of a schema still compiles.
 *
 * SQLite's ALTER TABLE cannot change a column's type, add a foreign key or change a
 * constraint: those need a new table. A migration asks for one with the directive
 *
 *     -- onefile:rebuild posts
 *     CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT NOT NULL, ...);
 *
 * and rebuild_table() does, inside the migration's transaction (the caller has turned
 * foreign keys off before BEGIN and runs foreign_key_check before COMMIT):
 *   save the table's indexes and every trigger and view; drop the triggers and views;
 *   create the new table under a temporary name; copy the columns both versions have;
 *   drop the old table; rename the new one; recreate the indexes, views and triggers;
 *   verify every trigger and view compiles (schema_verify).
 *
 * schema_verify() exists because SQLite 3.40 lets ALTER TABLE DROP COLUMN remove a column
 * a trigger uses, without any error; the next INSERT then fails with "no such column".
 * Preparing, for every table that has triggers, an INSERT, an UPDATE of every column and
 * a DELETE compiles those triggers; preparing SELECT * compiles each view.
 *
 * Threads: whoever holds the connection.
 */
#ifndef ONEFILE_DB_REBUILD_H
#define ONEFILE_DB_REBUILD_H
#include <jansson.h>
#include <sqlite3.h>
#include <stddef.h>

/* Appends one message per trigger or view that no longer compiles to problems.
   Returns how many were found, or -1 when the schema cannot be read (err filled). */
int schema_verify(sqlite3 *db, json_t *problems, char *err, size_t errlen);
/* Rebuilds table `name` with the definition create_sql (a CREATE TABLE of that same name).
   The names of the old columns the new definition lacks are appended to dropped (may be
   NULL). 0, or -1 with err filled (the caller rolls the transaction back). */
int rebuild_table(sqlite3 *db, const char *name, const char *create_sql, json_t *dropped, char *err,
                  size_t errlen);
#endif
