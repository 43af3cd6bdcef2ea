/*
 * db.h - opening the one SQLite file the way production needs it, and proving it.
 *
 * db_open() opens a connection, sets every pragma onefile relies on, then reads each one
 * back: a value that did not take (WAL refused by the file system, a read-only file that
 * is not in WAL mode...) closes the connection and fails with a message naming the pragma,
 * the wanted and the actual value. Pragmas, in order:
 *
 *   journal_mode=WAL        read-write connections set it; read-only ones verify it
 *   busy_timeout=N          ONEFILE_BUSY_TIMEOUT_MS
 *   foreign_keys=ON
 *   synchronous=FULL|NORMAL ONEFILE_SYNCHRONOUS
 *   temp_store=MEMORY       sorts and temp indexes never touch the volume
 *   cache_size=-16384       16 MiB page cache per connection
 *   journal_size_limit=64 MiB   the WAL is truncated back to this after checkpoints
 *
 * Busy waits: once verified, SQLite's busy_timeout handler is replaced by onefile's own,
 * which waits on the same schedule within the same budget and counts every retry
 * (db_busy_retries(), shown in /metrics). Hence, after db_open(), PRAGMA busy_timeout
 * reads 0: SQLite reports only its own handler's budget.
 *
 * DB_INSPECT opens any SQLite file read-only with no expectation (for `onefile check`,
 * which reports what it finds instead of refusing).
 * Threads: a connection belongs to one thread at a time (opened SQLITE_OPEN_NOMUTEX).
 *
 * The folder src/db/ owns the engines: the statement interface (driver.h) and its SQLite
 * driver, connections and pragmas, the writer, the readers, migrations and their lint,
 * check, snapshot, profile and upkeep. It may call core/ only; everything above reaches a
 * database through it (store/ through driver.h alone).
 */
#ifndef ONEFILE_DB_DB_H
#define ONEFILE_DB_DB_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

enum db_mode { DB_READWRITE, DB_READONLY, DB_INSPECT };

struct db_options {
    long busy_timeout_ms;
    int synchronous; /* 1 = NORMAL, 2 = FULL */
};

#define DB_CACHE_SIZE (-16384)
#define DB_JOURNAL_SIZE_LIMIT (64LL * 1024 * 1024)

/* Opens path; for DB_READWRITE creates the file and its directory when missing.
   0 with *out set, or -1 (logged; *out NULL). Close with sqlite3_close_v2(). */
int db_open(const char *path, enum db_mode mode, const struct db_options *o, sqlite3 **out);

/* Reads every pragma back and compares with what db_open set. 0, or -1 with the first
   mismatch written to err ("pragma journal_mode: wanted wal, got delete"). */
int db_verify(sqlite3 *db, enum db_mode mode, const struct db_options *o, char *err, size_t errlen);

/* The prepared statement for sql on db, from the connection's statement cache: the first
   call prepares it (SQLITE_PREPARE_PERSISTENT), later calls on the same connection find it
   by its SQL text, reset with bindings cleared. NULL on a prepare error (logged). The
   statement belongs to the connection: reset it when done, never finalize it; it is
   finalized when the connection closes through db_close(). */
sqlite3_stmt *db_prepare_cached(sqlite3 *db, const char *sql);
/* Runs sql (a cached statement with one parameter, ?1 = id) to completion: for writer
   functions that update or delete one row. 0, or -1 with SQLite's message in err. */
int db_exec_id(sqlite3 *db, const char *sql, sqlite3_int64 id, char *err, size_t errlen);
/* Deletes a database file that is not live and its -wal, -shm and -journal (scratch
   copies, dry runs): never call it on a file a connection has open. */
void db_remove_files(const char *path);
/* Finalizes every statement of db, then closes it. SQLITE_OK or SQLite's code. */
int db_close(sqlite3 *db);
/* Puts back onefile's counting busy handler with a budget of timeout_ms (after a caller
   removed it with sqlite3_busy_handler(db, NULL, NULL) to never wait). */
void db_busy_handler_install(sqlite3 *db, long timeout_ms);
/* Busy retries seen by every connection of this process since it started. */
uint64_t db_busy_retries(void);
/* Runs sql (several statements allowed). 0, or -1 with sqlite's message logged,
   prefixed by what. */
int db_exec(sqlite3 *db, const char *what, const char *sql);

/* Reads one pragma (or any one-value query) as an integer / text. 0 or -1 (not logged). */
int db_query_int(sqlite3 *db, const char *sql, long long *out);
int db_query_text(sqlite3 *db, const char *sql, char *out, size_t outlen);

/* Process-wide set-up of the library before any connection (memory statistics off: they
   take one process-wide mutex per allocation), and its release at exit. 0 or -1. */
int db_library_init(void);
void db_library_shutdown(void);
/* The SQLite library's version (3.40.1, say), for `onefile version`. */
const char *db_library_version(void);

/* Creates the directory that holds path (and its parents) when missing. 0 or -1 logged. */
int db_make_dir(const char *path);

/* Size in bytes of path + suffix ("" or "-wal"), read with stat(2), 0 when missing. */
long long db_file_size(const char *path, const char *suffix);

#endif
