/*
 * dashboard.c - GET /admin: database health (db/upkeep.h), the writer's counters and
 * contention, the sampler's charts, the last backups and the queue.
 * Threads: HTTP workers.
 */
#include "admin/gate.h"

#include <stdlib.h>
#include <string.h>

#include "admin/samples.h"
#include "core/clock.h"
#include "core/dburl.h"
#include "core/hist.h"
#include "core/mem.h"
#include "db/db.h"
#include "db/readers.h"
#include "db/upkeep.h"
#include "db/writer.h"
#include "http/app.h"
#include "store/backups.h"
#include "store/media.h"
#include "store/queue.h"
#include "store/schedule.h"

/* ---- dashboard ---- */

static json_t *db_facts(struct request *r, struct db_conn *db)
{
    const struct config *cfg = r->app->cfg;
    struct upkeep_facts f;
    upkeep_facts(db, r->app->plan, &f);
    char last_check[64] = "never";
    schedule_runs_last_finished(db, "quick-check", last_check, sizeof(last_check));
    char *masked = dburl_mask(cfg->db); /* a postgres:// URL may carry a password */
    json_t *o =
        json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:I,s:s}", "path", masked, "journal_mode",
                  f.journal_mode, "page_size", (json_int_t)f.page_size, "page_count",
                  (json_int_t)f.page_count, "freelist_count", (json_int_t)f.freelist_count,
                  "file_bytes", (json_int_t)db_file_size(cfg->db, ""), "wal_bytes",
                  (json_int_t)db_file_size(cfg->db, "-wal"), "busy_timeout_ms",
                  (json_int_t)cfg->busy_timeout_ms, "synchronous", cfg->synchronous,
                  "migration_version", (json_int_t)f.migration_version, "last_check", last_check);
    free(masked);
    return o;
}

static json_t *writer_facts(struct request *r, json_t **origins)
{
    struct writer_stats *st = xcalloc(1, sizeof(*st));
    writer_get_stats(r->app->writer, st);
    double mean = st->batch_size.count ? st->batch_size.sum / (double)st->batch_size.count : 0;
    json_t *w = json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "queue_depth", (json_int_t)st->queue_depth,
        "max_queue_depth", (json_int_t)st->max_queue_depth, "committed", (json_int_t)st->committed,
        "failed", (json_int_t)st->failed, "busy_retries", (json_int_t)db_busy_retries(),
        "checkpoints", (json_int_t)(st->checkpoints_passive + st->checkpoints_truncate),
        "checkpoint_pages", (json_int_t)st->checkpoint_pages);
    json_object_set_new(w, "p50_ms", json_sprintf("%.2f", hist_quantile(&st->latency, 0.5) * 1e3));
    json_object_set_new(w, "p99_ms", json_sprintf("%.2f", hist_quantile(&st->latency, 0.99) * 1e3));
    json_object_set_new(w, "batch_mean", json_sprintf("%.1f", mean));
    json_object_set_new(w, "batch_p99", json_sprintf("%.0f", hist_quantile(&st->batch_size, 0.99)));
    *origins = json_array();
    for (size_t i = 0; i < st->norigins; i++) {
        const struct writer_origin_stats *o = &st->origins[i];
        json_t *row = json_pack("{s:s,s:I,s:I}", "origin", o->origin, "writes",
                                (json_int_t)o->writes, "failed", (json_int_t)o->failed);
        json_object_set_new(row, "queue_s", json_sprintf("%.3f", o->queue_s));
        json_object_set_new(row, "tx_s", json_sprintf("%.3f", o->tx_s));
        json_array_append_new(*origins, row);
    }
    free(st);
    return w;
}

int admin_dashboard(struct request *r)
{
    struct ctx c;
    int rc = admin_page(r, &c);
    if (rc)
        return rc;
    json_t *origins;
    struct db_conn *db = readers_acquire(r->app->readers);
    json_t *facts = db_facts(r, db);
    json_t *backups = NULL;
    if (backups_brief(db, 5, &backups) < 0)
        backups = json_array();
    struct queue_depth q;
    if (queue_depth(db, clock_wall_ms(), &q) < 0)
        memset(&q, 0, sizeof(q));
    long long ready = q.ready + q.delayed, reserved = q.reserved, failed = q.failed;
    int64_t media_count = 0, media_bytes = 0;
    if (media_totals(db, &media_count, &media_bytes) < 0)
        media_count = media_bytes = 0;
    readers_release(r->app->readers, db);
    json_t *m = json_pack(
        "{s:s,s:o,s:o,s:o,s:b,s:{s:I,s:I,s:I}}", "page_title", "Dashboard", "db", facts, "backups",
        backups, "charts", r->app->samples ? samples_charts(r->app->samples) : json_object(),
        "backup_url", r->app->cfg->backup_url != NULL, "queue", "ready", (json_int_t)ready,
        "reserved", (json_int_t)reserved, "failed", (json_int_t)failed);
    json_object_set_new(m, "writer", writer_facts(r, &origins));
    json_object_set_new(m, "sample_s", json_integer(SAMPLE_INTERVAL_S));
    json_object_set_new(
        m, "media",
        json_pack("{s:I,s:I}", "count", (json_int_t)media_count, "bytes", (json_int_t)media_bytes));
    json_object_set_new(m, "origins", origins);
    char last[64];
    struct writer_stats *st = xcalloc(1, sizeof(*st));
    writer_get_stats(r->app->writer, st);
    if (st->last_checkpoint_ms)
        clock_iso8601_ms(st->last_checkpoint_ms, last, sizeof(last));
    else
        snprintf(last, sizeof(last), "none since start");
    free(st);
    json_object_set_new(json_object_get(m, "db"), "last_checkpoint", json_string(last));
    return admin_render(r, &c, 200, "admin/dashboard.html", "dashboard", m);
}
