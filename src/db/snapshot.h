/*
 * snapshot.h - a consistent copy of a live database file, taken through SQLite's online
 * backup API in one step (step(-1)): the copy is one read transaction, so it never
 * restarts under a steady write load (steps of N pages restart on every commit of another
 * connection and may never finish) and the writer is never blocked. The source is opened
 * read-only; a server may keep running and writing meanwhile.
 *
 * Threads: any; opens its own connections.
 */
#ifndef ONEFILE_DB_SNAPSHOT_H
#define ONEFILE_DB_SNAPSHOT_H
#include <stddef.h>

/* Copies src into dst (created or replaced; left in rollback-journal mode, as the backup
   API writes it). 0, or -1 with err filled. */
int snapshot_copy(const char *src, const char *dst, char *err, size_t errlen);
/* The same for a scratch copy that is read once and deleted (a backup's snapshot): dst is
   written without journal and without fsync, so copying a large file does not flood the
   disk with a sync that the live file's own commits would queue behind. A crash leaves a
   useless dst, never a damaged src. */
int snapshot_copy_scratch(const char *src, const char *dst, char *err, size_t errlen);
/* Opens the copy at path read-only and proves it: PRAGMA quick_check must answer "ok";
   *schema_version is onefile's newest applied migration in it (0 without the table).
   0, or -1 with err filled ("snapshot: quick_check failed: ..."). */
int snapshot_check(const char *path, long long *schema_version, char *err, size_t errlen);
/* Proves a restored copy at path before it replaces anything: integrity_check "ok", no
   foreign-key violation, a schema no newer than this binary (migrations of migrations_dir
   too), then WAL mode for a onefile database. 0 with *schema_version set, or -1 with err
   filled. */
int snapshot_verify_restore(const char *migrations_dir, const char *path, long long *schema_version,
                            char *err, size_t errlen);
#endif
