/*
 * pg_migrate.c - migrations on PostgreSQL; see pg_migrate.h.
 *
 * The plan is migrations/postgres/ (embedded), source "onefile", recorded in the same
 * schema_migrations table as on SQLite (source, version, name, checksum, applied_at,
 * duration_ms). Applying: one transaction (PostgreSQL's DDL is transactional, so a failed
 * migration leaves nothing behind), first taking a transaction-level advisory lock so that
 * instances starting together apply the plan once: the second waits, then finds nothing
 * pending. Each migration's text runs as one PQexec (several statements), then its record
 * is inserted; the checksums of applied migrations are compared with the files first, and
 * any difference refuses the run, as on SQLite.
 *
 * Threads: the caller's, which holds the connection.
 */
#include "db/pg_migrate.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/embed.h"
#include "core/log.h"
#include "core/mem.h"

/* pg_advisory_xact_lock key of the migration run: "onefile" folded into a bigint. */
#define MIGRATE_LOCK_KEY 0x6f6e6566696c65LL

int pg_migrate_plan_load(struct migration_plan *p, const char *site_dir, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    if (site_dir) {
        snprintf(err, errlen,
                 "ONEFILE_MIGRATIONS_DIR (site migrations) is not supported on PostgreSQL yet");
        return -1;
    }
    size_t n = embedded_migrations_postgres_count;
    const char **names = xcalloc(n ? n : 1, sizeof(*names));
    const char **texts = xcalloc(n ? n : 1, sizeof(*texts));
    for (size_t i = 0; i < n; i++) {
        names[i] = embedded_migrations_postgres[i].name;
        texts[i] = (const char *)embedded_migrations_postgres[i].data;
    }
    int rc = migrations_from_files(&p->lists[0], "onefile", names, texts, n, err, errlen);
    free(names);
    free(texts);
    if (rc == 0)
        p->nlists = 1;
    return rc;
}

static int has_table(struct db_conn *c)
{
    struct db_stmt *st = db_prepare(c, "SELECT to_regclass('schema_migrations') IS NOT NULL");
    if (!st)
        return -1;
    int rc = db_step(st);
    int has = rc == DB_ROW ? (int)db_column_int64(st, 0) : -1;
    db_reset(st);
    return has;
}

static const struct migration *find(const struct migration_plan *p, const char *source, int version)
{
    for (size_t i = 0; i < p->nlists; i++)
        if (strcmp(p->lists[i].source, source) == 0)
            for (size_t j = 0; j < p->lists[i].n; j++)
                if (p->lists[i].items[j].version == version)
                    return &p->lists[i].items[j];
    return NULL;
}

/* Whether m is recorded in applied (an array of {source, version}). */
static int recorded(json_t *applied, const char *source, int version)
{
    size_t i;
    json_t *a;
    json_array_foreach(applied, i, a)
    {
        if (strcmp(json_string_value(json_object_get(a, "source")), source) == 0 &&
            json_integer_value(json_object_get(a, "version")) == version)
            return 1;
    }
    return 0;
}

int pg_migrate_status(struct db_conn *c, const struct migration_plan *p, json_t **out)
{
    json_t *applied = json_array(), *pending = json_array(), *problems = json_array();
    json_int_t version = 0;
    int has = has_table(c), rc = DB_DONE;
    *out = NULL;
    if (has < 0)
        goto fail;
    if (has) {
        struct db_stmt *st = db_prepare(c, "SELECT source, version, name, checksum, applied_at, "
                                           "duration_ms FROM schema_migrations "
                                           "ORDER BY source = 'site', version");
        if (!st)
            goto fail;
        while ((rc = db_step(st)) == DB_ROW) {
            const char *source = db_column_text(st, 0), *name = db_column_text(st, 2);
            const char *sum = db_column_text(st, 3);
            int v = (int)db_column_int64(st, 1);
            if (!source || !name || !sum)
                continue;
            if (strcmp(source, "onefile") == 0 && v > version)
                version = v;
            json_array_append_new(applied,
                                  json_pack("{s:s, s:i, s:s, s:s, s:s?, s:I}", "source", source,
                                            "version", v, "name", name, "checksum", sum,
                                            "applied_at", db_column_text(st, 4), "duration_ms",
                                            (json_int_t)db_column_int64(st, 5)));
            const struct migration *m = find(p, source, v);
            char msg[512];
            if (!m)
                snprintf(msg, sizeof(msg),
                         "database has %s migration %s, unknown to this binary: the database "
                         "is newer than onefile %s",
                         source, name, ONEFILE_VERSION);
            else if (strcmp(m->checksum, sum) != 0)
                snprintf(msg, sizeof(msg),
                         "migration %s (%s) changed after it was applied: recorded sha256 %s, "
                         "file sha256 %s",
                         name, source, sum, m->checksum);
            else
                continue;
            json_array_append_new(problems, json_string(msg));
        }
        db_reset(st);
        if (rc < 0)
            goto fail;
    }
    for (size_t i = 0; i < p->nlists; i++)
        for (size_t j = 0; j < p->lists[i].n; j++)
            if (!recorded(applied, p->lists[i].source, p->lists[i].items[j].version))
                json_array_append_new(pending,
                                      json_pack("{s:s, s:i, s:s}", "source", p->lists[i].source,
                                                "version", p->lists[i].items[j].version, "name",
                                                p->lists[i].items[j].name));
    *out = json_pack("{s:I, s:o, s:o, s:o}", "version", version, "applied", applied, "pending",
                     pending, "problems", problems);
    return 0;
fail:
    log_err("migrate: cannot read schema_migrations: %s", db_errmsg(c));
    json_decref(applied);
    json_decref(pending);
    json_decref(problems);
    return -1;
}

static const char create_table_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " source text NOT NULL, version bigint NOT NULL, name text NOT NULL,"
    " checksum text NOT NULL, applied_at text NOT NULL, duration_ms bigint NOT NULL,"
    " PRIMARY KEY (source, version))";

static int record(struct db_conn *c, const char *source, const struct migration *m, int64_t ms)
{
    char ts[32];
    clock_iso8601(time(NULL), ts, sizeof(ts));
    struct db_stmt *st =
        db_prepare_once(c, "INSERT INTO schema_migrations (source, version, name, checksum, "
                           "applied_at, duration_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    if (!st)
        return -1;
    db_bind_text(st, 1, source);
    db_bind_int64(st, 2, m->version);
    db_bind_text(st, 3, m->name);
    db_bind_text(st, 4, m->checksum);
    db_bind_text(st, 5, ts);
    db_bind_int64(st, 6, ms);
    char err[256];
    int rc = db_run(st, err, sizeof(err));
    db_finalize(st);
    if (rc < 0)
        return log_err("migrate: record %s: %s", m->name, err);
    return 0;
}

int pg_migrate_apply(struct db_conn *c, const struct migration_plan *p, int *applied,
                     json_t *report)
{
    char err[1024], lock[96];
    json_t *st = NULL, *batch = json_array();
    int rc = -1;
    *applied = 0;
    snprintf(lock, sizeof(lock), "SELECT pg_advisory_xact_lock(%lld)", MIGRATE_LOCK_KEY);
    if (db_execute(c, "BEGIN", err, sizeof(err)) < 0) {
        log_err("migrate: begin: %s", err);
        goto out;
    }
    if (db_execute(c, lock, err, sizeof(err)) < 0 ||
        db_execute(c, create_table_sql, err, sizeof(err)) < 0) {
        log_err("migrate: %s", err);
        goto out;
    }
    if (pg_migrate_status(c, p, &st) < 0)
        goto out;
    json_t *problems = json_object_get(st, "problems");
    if (json_array_size(problems) > 0) {
        log_err("migrate: refusing to migrate: %s", json_string_value(json_array_get(problems, 0)));
        goto out;
    }
    size_t k;
    json_t *want;
    json_array_foreach(json_object_get(st, "pending"), k, want)
    {
        const char *source = json_string_value(json_object_get(want, "source"));
        const struct migration *m =
            find(p, source, (int)json_integer_value(json_object_get(want, "version")));
        int64_t t0 = clock_mono_us();
        if (db_execute(c, m->sql, err, sizeof(err)) < 0) {
            log_err("migrate: %s: %s", m->name, err);
            goto out;
        }
        int64_t ms = (clock_mono_us() - t0) / 1000;
        if (record(c, source, m, ms) < 0)
            goto out;
        json_array_append_new(batch, json_pack("{s:s,s:i,s:s,s:I,s:b}", "source", source, "version",
                                               m->version, "name", m->name, "duration_ms",
                                               (json_int_t)ms, "rebuild", 0));
    }
    if (db_execute(c, "COMMIT", err, sizeof(err)) < 0) {
        log_err("migrate: commit: %s", err);
        goto out;
    }
    json_t *f;
    json_array_foreach(batch, k, f)
    {
        log_event(LOG_INFO, "migration applied", json_deep_copy(f));
        if (report)
            json_array_append(report, f);
    }
    *applied = (int)json_array_size(batch);
    rc = 0;
out:
    if (rc < 0)
        db_execute(c, "ROLLBACK", NULL, 0);
    json_decref(st);
    json_decref(batch);
    return rc;
}
