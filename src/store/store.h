/*
 * store.h - what every store file shares: the small tails of a write that each would
 * otherwise write out, and the engine-specific statements the store needs (one table).
 *
 * src/store/ owns all of the application's SQL; each file is named for its table family
 * (posts, users and sessions, tokens, messages...). It may call core/ and db/driver.h
 * only: never db/sqlite.h, never HTTP, never a thread of its own.
 * Threads: the caller's connection.
 */
#ifndef ONEFILE_STORE_STORE_H
#define ONEFILE_STORE_STORE_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "db/driver.h"

/* Runs sql (a literal, ?1 = id) to its end: for writer functions that change one row.
   0, or a negative DB_E* code with the engine's message in err. */
int store_exec_id(struct db_conn *c, const char *sql, int64_t id, char *err, size_t errlen);
/* Opens a write transaction on a connection of the caller's own (the commands that write
   beside a running server: user, token, jobs retry): SQLite's BEGIN IMMEDIATE takes the
   write lock at once, so a busy file fails here rather than at the first write.
   0, or -1 logged, prefixed by what. */
int store_begin_write(struct db_conn *c, const char *what);
/* COMMIT / ROLLBACK of store_begin_write's transaction. 0 or -1 logged (rollback: 0). */
int store_commit(struct db_conn *c, const char *what);
void store_rollback(struct db_conn *c);
/* Steps st to its end, each row an object keyed by column name (NULL -> null, integers
   as integers, anything else as text), appended to a new array *out; st is reset. 0, or
   -1 logged with what (nothing in *out). */
int store_rows_json(struct db_conn *c, struct db_stmt *st, const char *what, json_t **out);
/* The same with every value as text (NULL -> null): for pages that only print them. */
int store_rows_text(struct db_conn *c, struct db_stmt *st, const char *what, json_t **out);
/* The first row of st as such an object in *out (NULL when there is none). 0 or -1. */
int store_row_json(struct db_conn *c, struct db_stmt *st, const char *what, json_t **out);
/* A copy of text column i (NULL for NULL): the caller frees it. */
char *store_column_dup(struct db_stmt *st, int i);
/* The UTC time now + seconds as ISO 8601 text ("2026-12-02T07:00:00Z"), as every time
   column holds it. out holds at least 32 bytes. */
void store_time(long seconds, char *out);
#endif
