/*
 * migrate.h - schema migrations: onefile's own (embedded at build time) and a site's own
 * (ONEFILE_MIGRATIONS_DIR, or migrations/ beside the database), applied in order on every
 * start.
 *
 * A migration is a file NNNN_name.sql. Each source ("onefile" for the embedded ones,
 * "site" for the directory) is its own sequence ordered by NNNN; onefile's are applied
 * before the site's. The pending migrations are first linted (db/lint.h), then applied
 * in ONE BEGIN IMMEDIATE transaction, each in its own savepoint together with its row in
 * schema_migrations(source, version, name, checksum, applied_at, duration_ms): all of them
 * commit or none does, so a deploy never leaves the schema half-way.
 * The checksum is the SHA-256 of the file; a recorded migration whose file changed or
 * vanished stops migrate_apply() (drift), as does a database newer than this binary.
 *
 * Threads: whoever holds the read-write connection (the writer, or a command at start-up).
 */
#ifndef ONEFILE_DB_MIGRATE_H
#define ONEFILE_DB_MIGRATE_H

#include <jansson.h>
#include <sqlite3.h>
#include <stddef.h>

struct migration {
    int version;
    char *name; /* file name, "0001_init.sql" */
    char *sql;
    char checksum[65]; /* SHA-256 hex of the file's bytes */
};

struct migration_list {
    const char *source; /* "onefile" or "site" */
    struct migration *items;
    size_t n;
};

/* The set a configuration asks for: embedded, plus the site's directory when set. */
struct migration_plan {
    struct migration_list lists[2];
    size_t nlists;
};

/* Builds a list from in-memory files (name, text), sorted by version. Names must be
   NNNN_name.sql with distinct versions. 0, or -1 with err filled. */
int migrations_from_files(struct migration_list *l, const char *source, const char *const *names,
                          const char *const *texts, size_t n, char *err, size_t errlen);
/* Loads the embedded migrations / a directory's *.sql. 0, or -1 with err filled. */
int migrations_embedded(struct migration_list *l, char *err, size_t errlen);
int migrations_from_dir(struct migration_list *l, const char *dir, char *err, size_t errlen);
void migrations_release(struct migration_list *l);

/* The plan for a configuration's migrations_dir (NULL = embedded only). */
int migrate_plan_load(struct migration_plan *p, const char *site_dir, char *err, size_t errlen);
void migrate_plan_release(struct migration_plan *p);

/* Applies every pending migration of the plan, in order. *applied counts those applied.
   0, or -1 (logged: file, line and SQLite's message; the failing migration rolled back). */
int migrate_apply(sqlite3 *db, const struct migration_plan *p, int *applied);

/* The same, appending to report (may be NULL) one object per applied migration:
   {source, version, name, duration_ms, rows_changed, rebuild}. Before applying anything,
   the pending migrations are linted (migrate_lint); a blocking finding refuses them all. */
int migrate_apply_report(sqlite3 *db, const struct migration_plan *p, int *applied, json_t *report);
/* Lints the pending migrations of the plan against db's schema (db NULL: an empty
   database) - see db/lint.h. *findings receives an array of {file, source, line, kind,
   statement, message, allowed}. Returns the number of blocking findings, or -1 (logged)
   when the lint itself could not run. */
int migrate_lint(sqlite3 *db, const struct migration_plan *p, json_t **findings);
/* Whether (source, version) is recorded in schema_migrations: 1, 0, or -1. */
int migrate_is_applied(sqlite3 *db, const char *source, int version);
/* Describes the database against the plan, without writing:
   {"version": newest applied onefile version, "applied": [{source, version, name,
    checksum, applied_at, duration_ms}], "pending": [{source, version, name}],
    "problems": ["..."]}  (problems: drift, a database newer than the binary).
   A database without schema_migrations has everything pending. 0 or -1 (logged). */
int migrate_status(sqlite3 *db, const struct migration_plan *p, json_t **out);

/* Whether the file has a schema_migrations table: 1 yes, 0 no, -1 error. */
int migrate_has_table(sqlite3 *db);

#endif
