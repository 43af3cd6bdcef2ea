/*
 * check.h - inspecting any SQLite file without writing to it (`onefile check`).
 *
 * check_run() opens the file read-only (SQLITE_OPEN_READONLY, query_only), reads what the
 * file says about itself (journal mode, page size and counts, sizes of the file and its
 * -wal from stat(2)), runs PRAGMA quick_check (integrity_check when `full`) and
 * foreign_key_check, and, when the file has a schema_migrations table, compares it with
 * the migration plan. Everything it finds wrong becomes one sentence in "problems".
 *
 * Never writes: no pragma that changes the file, no checkpoint; the database file is only
 * ever opened read-only by SQLite. As with any SQLite reader, opening a WAL file whose
 * -wal and -shm are missing creates them empty beside it (and a read-only connection
 * cannot remove them); a delete-mode file gets nothing beside it.
 *
 * Threads: any thread; the connection lives and dies inside one call.
 */
#ifndef ONEFILE_DB_CHECK_H
#define ONEFILE_DB_CHECK_H

#include <jansson.h>
#include <sqlite3.h>
#include <stddef.h>

#include "db/migrate.h"

/* At most this many foreign key violations / check messages are listed (all are counted). */
#define CHECK_MAX_LISTED 100

/* Checks the SQLite file at path against plan (may be NULL: migrations not compared).
   Returns 0 with *report set (caller json_decref()s it) when the file could be checked,
   whatever was found:
     {"path", "sqlite_version", "file_bytes", "wal_bytes", "journal_mode", "synchronous",
      "page_size", "page_count", "freelist_count",
      "quick_check" | "integrity_check": ["ok"] or [messages],
      "foreign_key_check": {"violations": N, "rows": [{"table", "rowid", "parent"}]},
      "migrations": migrate_status() output (only for a file with schema_migrations),
      "notes": [...], "problems": ["..."], "ok": true|false}
   Returns -1 with *report NULL and err filled with one line when the file cannot be
   checked at all: missing, not a regular file, not a SQLite database, locked, unreadable.
   Logs nothing itself (migrate_status() logs a table it cannot read). */
int check_run(const char *path, int full, const struct migration_plan *plan, json_t **report,
              char *err, size_t errlen);

/* integrity_check's answer ("ok" or the first problems, "cannot run: ..." on an error)
   into integrity, and the foreign-key violations into *fk_rows (-1 when it cannot run):
   the proof of a migrated copy (`migrate --dry-run`). */
void check_integrity_fk(sqlite3 *db, char *integrity, size_t len, long long *fk_rows);
#endif
