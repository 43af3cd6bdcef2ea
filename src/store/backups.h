/*
 * backups.h - the `backups` table: one row per backup run of the server (ok or error),
 * which the dashboard, /readyz and /metrics read.
 *
 * A row is {id, name, url, compression, encrypted, size, source_size, sha256,
 * schema_version, status ("ok"|"error"), error, started_at, finished_at} (ISO 8601 UTC).
 * Threads: the caller's connection (the writer's for backups_record).
 */
#ifndef ONEFILE_STORE_BACKUPS_H
#define ONEFILE_STORE_BACKUPS_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "db/driver.h"

/* backups_record's argument; strings borrowed. On an error run (error not NULL) size,
   source_size, sha256 and schema_version are stored as NULL. */
struct backups_row {
    const char *name, *url, *compression;
    int encrypted;
    long long size, source_size, schema_version;
    const char *sha256;
    const char *error; /* NULL: status ok */
    const char *started_at, *finished_at;
};
/* Writer function: inserts the row (arg: struct backups_row). */
int backups_record(struct db_conn *c, void *arg, char *err, size_t errlen);

/* The newest rows: {"last": row|null, "last_success": row|null, "last_success_age_s":
   n|null, "recent": [up to 10 rows, newest first]} (encrypted as a boolean). 0 with *out
   owned by the caller, or -1 (logged; *out NULL). */
int backups_last(struct db_conn *c, json_t **out);

/* The newest n rows as {started_at, status, size ("" when NULL), name}, every value text,
   for the dashboard. 0 or -1 logged. */
int backups_brief(struct db_conn *c, int n, json_t **out);

struct backups_totals {
    long long ok, failed;      /* rows by status */
    long long last_size;       /* of the newest ok row; -1 when none */
    char last_finished_at[32]; /* of the newest ok row; "" when none */
};
/* The counts /metrics shows. 0, or -1 (logged; what was read stays filled). */
int backups_totals(struct db_conn *c, struct backups_totals *t);
#endif
