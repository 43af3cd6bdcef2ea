/*
 * pg.h - the PostgreSQL driver of the statement interface (db/driver.h), over libpq.
 *
 * A struct db_conn here wraps one PGconn, opened from a postgres:// URL (core/dburl.h)
 * and verified before it is handed out: a server of version 13 or later (citext is a
 * trusted extension from 13), UTF8 encoding, standard_conforming_strings on, and, for a
 * DB_READONLY connection, transactions read-only by default (read back with SHOW).
 * Connections carry application_name "onefile" unless the URL names one, a connect
 * timeout of 10 s unless the URL sets one, client_encoding UTF8 always, and lock_timeout
 * set to the busy timeout (a lock wait then fails as DB_EBUSY, like SQLite's).
 *
 * Statements: the first db_prepare() of a text on a connection rewrites its `?N` to `$N`
 * (outside quotes, identifiers, comments and dollar-quoted bodies), appends `RETURNING id`
 * for db_prepare_insert(), and sends it once with PQprepare under a name of its own; every
 * later db_prepare() finds it in the connection's cache (by the literal's address, then by
 * text) and runs it with PQexecPrepared. Integers and doubles are sent as text from a
 * fixed slot per parameter; texts and blobs by reference, in binary format with their
 * length, so a text is never cut at a NUL byte: PostgreSQL refuses a text holding one
 * (SQLSTATE 22021), and the caller gets the error, not a shorter string. Results come
 * back in text format; a bytea column is decoded from hex into the statement's own
 * buffer. libpq allocates each PGresult itself (one per execution); the driver allocates
 * nothing per query beyond that (its buffers grow and stay).
 *
 * Errors: the SQLSTATE of a failure maps to the interface's codes in one table (pg.c,
 * `sqlstates`): 23505 -> DB_EUNIQUE, other 23xxx -> DB_ECONSTRAINT, 40001 / 40P01 / 55P03
 * -> DB_EBUSY (run again), 25006 -> DB_EREADONLY, 53100 -> DB_EFULL, XX001 / XX002 ->
 * DB_ECORRUPT, 08xxx, 57P0x and a lost connection -> DB_EIO, anything else DB_ERR.
 *
 * Threads: one thread at a time per connection (a PGconn is not shared).
 */
#ifndef ONEFILE_DB_PG_H
#define ONEFILE_DB_PG_H
#include <libpq-fe.h>

#include "db/db.h"
#include "db/driver.h"

extern const struct db_driver pg_driver;

/* Opens and verifies a connection to the database of url (a postgres:// URL). o gives the
   busy timeout (lock_timeout); NULL: 5000 ms. 0 with *out set, or -1 logged (the URL's
   password masked). */
int pg_conn_open(const char *url, enum db_mode mode, const struct db_options *o,
                 struct db_conn **out);
/* The PGconn behind c (a PostgreSQL connection). Engine code in src/db/ only. */
PGconn *pg_conn_handle(struct db_conn *c);
/* The interface's code for a SQLSTATE ("23505" -> DB_EUNIQUE); NULL -> DB_EIO (no
   SQLSTATE: the connection failed). */
int pg_code(const char *sqlstate);
/* sql with its ?N made $N (outside quotes, identifiers, comments, dollar bodies) and, for
   insert, " RETURNING id" appended: a new string (caller frees), *nparams the highest N;
   NULL with the reason in err for a placeholder that is not ?N. Exposed for its test. */
char *pg_translate(const char *sql, int insert, int *nparams, char *err, size_t errlen);
/* Whether c's connection to the server is still up (a reader or writer that lost it opens
   a new one). */
int pg_conn_ok(struct db_conn *c);
/* Engine code (the writer, the readers): whether a transaction is open (or failed: an
   error inside it makes PostgreSQL refuse everything until ROLLBACK [TO SAVEPOINT]); the
   rows changed by every statement since the connection opened; every statement reset. */
int pg_conn_in_transaction(struct db_conn *c);
int pg_conn_transaction_failed(struct db_conn *c);
int64_t pg_conn_total_changes(struct db_conn *c);
void pg_conn_reset_all(struct db_conn *c);
/* After a request (readers_release): every statement reset; an open transaction rolled
   back (2); a lost connection opened again, its statement cache emptied (1, or DB_EIO
   when the server is still unreachable: the next query fails and tidy tries again).
   0 when there was nothing to do. */
int pg_conn_tidy(struct db_conn *c);
#endif
