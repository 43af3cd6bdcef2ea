/*
 * health.c - GET /healthz (the process answers) and GET /readyz (it can serve: the
 * database is open in WAL mode with the pragmas onefile relies on, and its schema is
 * current). Load balancers and `make run`'s users poll these.
 *
 * /readyz reads through a reader connection, so it proves the file is readable now, not
 * only that it was at start-up. It answers 503 with the same JSON when a check fails
 * or the server is stopping.
 */
#include <stdlib.h>
#include <string.h>

#include "core/dburl.h"
#include "core/clock.h"
#include "http/app.h"
#include "http/request.h"
#include "remote/backup.h"
#include "db/upkeep.h"
#include "db/writer.h"
#include "store/backups.h"

static int healthz(struct request *r)
{
    return request_text(r, 200, "ok\n");
}

static const char *sync_name(long long v)
{
    static const char *const names[] = {"off", "normal", "full", "extra"};
    return v >= 0 && v <= 3 ? names[v] : "unknown";
}

static int readyz(struct request *r)
{
    struct app *app = r->app;
    struct db_conn *conn = readers_acquire(app->readers);
    struct upkeep_ready facts;
    json_t *out = json_object();
    int ok = upkeep_ready(conn, app->plan, &facts) == 0;
    const char *jm = facts.journal_mode;
    long long sync = facts.synchronous, fk = facts.foreign_keys;
    json_t *st = facts.status;
    json_t *backups = NULL;
    if (ok && backups_last(conn, &backups) < 0)
        backups = NULL;
    readers_release(app->readers, conn);

    json_t *problems = json_array();
    size_t pending = st ? json_array_size(json_object_get(st, "pending")) : 0;
    if (!ok)
        json_array_append_new(problems, json_string("cannot read the database"));
    if (ok && strcmp(jm, "wal") != 0 && strcmp(jm, "postgres") != 0)
        json_array_append_new(problems, json_string("journal_mode is not wal"));
    if (pending)
        json_array_append_new(problems, json_string("migrations pending"));
    if (st)
        json_array_extend(problems, json_object_get(st, "problems"));
    /* a site whose writes fail is not ready (disk full, I/O errors): a load balancer
       or an operator must hear it from here, not from the 503s of each write */
    if (app->writer && writer_failing(app->writer))
        json_array_append_new(problems, json_string("writes are failing (the last commit failed)"));
    if (atomic_load(&app->stopping))
        json_array_append_new(problems, json_string("stopping"));
    int ready = json_array_size(problems) == 0;

    json_object_set_new(out, "ready", json_boolean(ready));
    json_object_set_new(out, "db_open", json_boolean(ok));
    char *masked = dburl_mask(app->cfg->db); /* a postgres:// URL may carry a password */
    json_object_set_new(out, "db", json_string(masked));
    free(masked);
    json_object_set_new(out, "journal_mode", json_string(jm));
    /* SQLite's handler is replaced by db.c's counting one: report the budget it keeps */
    json_object_set_new(out, "busy_timeout_ms", json_integer(app->cfg->busy_timeout_ms));
    json_object_set_new(out, "synchronous", json_string(sync_name(sync)));
    json_object_set_new(out, "foreign_keys", json_boolean(fk == 1));
    json_object_set_new(out, "migration_version",
                        st ? json_incref(json_object_get(st, "version")) : json_null());
    json_object_set_new(out, "pending_migrations", json_integer((json_int_t)pending));
    json_object_set_new(out, "uptime_s",
                        json_integer((clock_mono_us() - app->started_us) / 1000000));
    json_t *age = backups ? json_object_get(backups, "last_success_age_s") : NULL;
    json_object_set_new(out, "last_backup_age_s", age ? json_incref(age) : json_null());
    json_t *last =
        backups ? json_object_get(json_object_get(backups, "last_success"), "size") : NULL;
    json_object_set_new(out, "last_backup_bytes", last ? json_incref(last) : json_null());
    json_decref(backups);
    json_object_set_new(out, "problems", problems);
    json_decref(st);
    request_set_header(r, "Cache-Control", "no-store");
    return request_json(r, ready ? 200 : 503, out);
}

void health_routes(struct router *rt)
{
    router_add(rt, "GET", "/healthz", healthz);
    router_add(rt, "GET", "/readyz", readyz);
}
