/*
 * backups.c - the backups table; see backups.h.
 */
#include "store/backups.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "store/store.h"

int backups_record(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    const struct backups_row *b = arg;
    struct db_stmt *st = db_prepare(
        c, "INSERT INTO backups (name, url, compression, encrypted, size, source_size, sha256, "
           "schema_version, status, error, started_at, finished_at) "
           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
    if (!st) {
        snprintf(err, errlen, "backups: %s", db_errmsg(c));
        return -1;
    }
    int ok = b->error == NULL;
    db_bind_text(st, 1, b->name);
    db_bind_text(st, 2, b->url);
    db_bind_text(st, 3, b->compression);
    db_bind_int64(st, 4, b->encrypted);
    if (ok) {
        db_bind_int64(st, 5, b->size);
        db_bind_int64(st, 6, b->source_size);
        db_bind_text(st, 7, b->sha256);
        db_bind_int64(st, 8, b->schema_version);
    }
    db_bind_text(st, 9, ok ? "ok" : "error");
    db_bind_text(st, 10, b->error);
    db_bind_text(st, 11, b->started_at);
    db_bind_text(st, 12, b->finished_at);
    char why[256];
    if (db_run(st, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "backups: %s", why);
        return -1;
    }
    return 0;
}

static long long parse_time(const char *s)
{
    struct tm tm = {0};
    if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
        return -1;
    return (long long)timegm(&tm);
}

#define ROW_SELECT                                                                                 \
    "SELECT id, name, url, compression, encrypted, size, source_size, sha256, schema_version, "    \
    "status, error, started_at, finished_at FROM backups "

/* The rows of st as objects with encrypted as a boolean. */
static int rows(struct db_conn *c, struct db_stmt *st, json_t **out)
{
    if (store_rows_json(c, st, "backups", out) < 0)
        return -1;
    size_t i;
    json_t *o;
    json_array_foreach(*out, i, o)
    {
        json_object_set_new(o, "encrypted",
                            json_boolean(json_integer_value(json_object_get(o, "encrypted"))));
    }
    return 0;
}

int backups_last(struct db_conn *c, json_t **out)
{
    json_t *recent = NULL, *success = NULL;
    *out = NULL;
    struct db_stmt *st = db_prepare(c, ROW_SELECT "ORDER BY id DESC LIMIT 10");
    if (!st || rows(c, st, &recent) < 0)
        goto fail;
    st = db_prepare(c, ROW_SELECT "WHERE status = 'ok' ORDER BY id DESC LIMIT 1");
    if (!st || rows(c, st, &success) < 0)
        goto fail;
    json_t *o =
        json_pack("{s:O, s:O, s:n, s:o}", "last",
                  json_array_size(recent) ? json_array_get(recent, 0) : json_null(), "last_success",
                  json_array_size(success) ? json_array_get(success, 0) : json_null(),
                  "last_success_age_s", "recent", recent);
    if (json_array_size(success)) {
        long long when = parse_time(
            json_string_value(json_object_get(json_array_get(success, 0), "finished_at")));
        if (when >= 0)
            json_object_set_new(o, "last_success_age_s",
                                json_integer((json_int_t)(time(NULL) - when)));
    }
    json_decref(success);
    *out = o;
    return 0;
fail:
    json_decref(recent);
    json_decref(success);
    return log_err("backups: cannot read the backups table: %s", db_errmsg(c));
}

int backups_totals(struct db_conn *c, struct backups_totals *t)
{
    memset(t, 0, sizeof(*t));
    t->last_size = -1;
    struct db_stmt *st = db_prepare(c, "SELECT count(*) FILTER (WHERE status = 'ok'), "
                                       "count(*) FILTER (WHERE status = 'error') FROM backups");
    if (!st)
        return -1;
    int rc = db_step(st);
    if (rc == DB_ROW) {
        t->ok = db_column_int64(st, 0);
        t->failed = db_column_int64(st, 1);
    }
    db_reset(st);
    st = db_prepare(c, "SELECT size, finished_at FROM backups WHERE status = 'ok' "
                       "ORDER BY id DESC LIMIT 1");
    if (!st)
        return -1;
    int rc2 = db_step(st);
    if (rc2 == DB_ROW) {
        t->last_size = db_column_int64(st, 0);
        const char *when = db_column_text(st, 1);
        snprintf(t->last_finished_at, sizeof(t->last_finished_at), "%s", when ? when : "");
    }
    db_reset(st);
    if (rc < 0 || rc2 < 0)
        return log_err("backups: totals: %s", db_errmsg(c));
    return 0;
}

int backups_brief(struct db_conn *c, int n, json_t **out)
{
    struct db_stmt *st = db_prepare(c, "SELECT started_at, status, coalesce(size, '') AS size, "
                                       "name FROM backups ORDER BY id DESC LIMIT ?1");
    if (!st)
        return -1;
    db_bind_int64(st, 1, n);
    return store_rows_text(c, st, "backups", out);
}
