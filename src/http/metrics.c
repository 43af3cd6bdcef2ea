/*
 * metrics.c - GET /metrics; see metrics.h.
 *
 * The page is written with stdio into a memory stream, then copied into the response.
 * Every family has its # HELP and # TYPE line, counters end in _total, times are in
 * seconds and sizes in bytes, as Prometheus' naming conventions ask.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/hist.h"
#include "db/db.h"
#include "db/writer.h"
#include "http/app.h"
#include "http/metrics.h"
#include "http/request.h"
#include "http/server.h"
#include "jobs/jobs.h"
#include "remote/backup.h"

#define MAX_SERIES 256

struct series {
    char method[12];
    const char *route;
    int status;
    unsigned long long count;
};

static const double duration_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                         0.1,    0.25,  0.5,    1,     2.5,  5,     10};
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct series series[MAX_SERIES];
static size_t nseries;
static struct hist durations = {
    duration_bounds, sizeof(duration_bounds) / sizeof(duration_bounds[0]), {0}, 0, 0};

void metrics_http_observe(const char *method, const char *route, int status, double seconds)
{
    pthread_mutex_lock(&mu);
    hist_observe(&durations, seconds);
    size_t i;
    for (i = 0; i < nseries; i++)
        if (series[i].status == status && series[i].route == route &&
            strcmp(series[i].method, method) == 0)
            break;
    if (i == nseries && nseries < MAX_SERIES) {
        snprintf(series[i].method, sizeof(series[i].method), "%s", method);
        series[i].route = route;
        series[i].status = status;
        nseries++;
    }
    if (i < nseries)
        series[i].count++;
    pthread_mutex_unlock(&mu);
}

/* A label value with \ " and newline escaped. */
static void label(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            fputc('\\', out);
        if (*s == '\n') {
            fputs("\\n", out);
            continue;
        }
        fputc(*s, out);
    }
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(FILE *out, const char *name, const char *type, const char *help, double v)
{
    family(out, name, type, help);
    fprintf(out, "%s %.17g\n", name, v);
}

static void write_writer(FILE *out, struct writer *w)
{
    struct writer_stats *st = malloc(sizeof(*st));
    writer_get_stats(w, st);
    one(out, "onefile_write_queue_depth", "gauge", "Writes waiting for the writer.",
        (double)st->queue_depth);
    one(out, "onefile_write_queue_depth_max", "gauge", "Deepest the write queue has been.",
        (double)st->max_queue_depth);
    one(out, "onefile_writes_committed_total", "counter", "Writes acknowledged after COMMIT.",
        (double)st->committed);
    one(out, "onefile_writes_failed_total", "counter",
        "Writes that failed (their own error, or their batch's COMMIT).", (double)st->failed);
    one(out, "onefile_write_commit_failures_total", "counter",
        "Transactions whose COMMIT failed (every write in them failed).",
        (double)st->commit_failures);
    one(out, "onefile_writes_dropped_total", "counter",
        "Fire-and-forget writes refused (queue full or stopping).", (double)st->dropped);
    one(out, "onefile_write_batches_total", "counter", "Transactions run by the writer.",
        (double)st->batches);
    family(out, "onefile_write_batch_size", "histogram", "Writes per transaction.");
    hist_write_prometheus(&st->batch_size, "onefile_write_batch_size", NULL, out);
    family(out, "onefile_write_latency_seconds", "histogram",
           "Time from submit to COMMIT of acknowledged writes.");
    hist_write_prometheus(&st->latency, "onefile_write_latency_seconds", NULL, out);
    family(out, "onefile_write_commit_seconds", "histogram", "Time per writer transaction.");
    hist_write_prometheus(&st->commit_time, "onefile_write_commit_seconds", NULL, out);
    family(out, "onefile_checkpoints_total", "counter", "WAL checkpoints run by the writer.");
    fprintf(out, "onefile_checkpoints_total{mode=\"passive\"} %llu\n",
            (unsigned long long)st->checkpoints_passive);
    fprintf(out, "onefile_checkpoints_total{mode=\"truncate\"} %llu\n",
            (unsigned long long)st->checkpoints_truncate);
    one(out, "onefile_checkpoint_busy_total", "counter",
        "Checkpoints that could not complete because readers held the WAL.",
        (double)st->checkpoint_busy);
    one(out, "onefile_checkpoint_pages_total", "counter", "Pages copied back by checkpoints.",
        (double)st->checkpoint_pages);
    one(out, "onefile_wal_frames", "gauge", "Frames in the WAL after the last commit.",
        (double)st->wal_frames);

    static const struct {
        const char *name, *help;
    } per_origin[] = {
        {"onefile_origin_writes_total", "Writes by the route or job that submitted them."},
        {"onefile_origin_writes_failed_total", "Failed writes by origin."},
        {"onefile_origin_queue_seconds_total", "Time writes waited in the queue, by origin."},
        {"onefile_origin_transaction_seconds_total",
         "Time writes held the write lock (ran in the transaction), by origin."},
    };
    for (size_t k = 0; k < 4; k++) {
        family(out, per_origin[k].name, "counter", per_origin[k].help);
        for (size_t i = 0; i < st->norigins; i++) {
            const struct writer_origin_stats *os = &st->origins[i];
            double v = k == 0   ? (double)os->writes
                       : k == 1 ? (double)os->failed
                       : k == 2 ? os->queue_s
                                : os->tx_s;
            fprintf(out, "%s{origin=\"", per_origin[k].name);
            label(out, os->origin);
            fprintf(out, "\"} %.9g\n", v);
        }
    }
    free(st);
}

static void write_http(FILE *out, struct server *srv)
{
    struct server_stats ss;
    server_get_stats(srv, &ss);
    one(out, "onefile_http_requests_in_flight", "gauge", "Requests being handled.",
        (double)ss.active);
    one(out, "onefile_http_slow_requests_cut_total", "counter",
        "Connections closed because a request took longer than ONEFILE_REQUEST_TIMEOUT_S "
        "to arrive.",
        (double)ss.timeouts);
    one(out, "onefile_http_silent_connections_cut_total", "counter",
        "New connections closed because no byte came within ONEFILE_FIRST_BYTE_TIMEOUT_S.",
        (double)ss.idle_cuts);
    one(out, "onefile_http_rejected_total", "counter",
        "Requests refused before their handler (malformed framing, smuggling, limits).",
        (double)ss.rejected);
    family(out, "onefile_http_refused_total", "counter",
           "Requests refused by the framing check, by status (connection closed).");
    const struct {
        int status;
        uint64_t n;
    } refused[] = {{400, ss.refused.s400}, {413, ss.refused.s413}, {414, ss.refused.s414},
                   {431, ss.refused.s431}, {501, ss.refused.s501}, {505, ss.refused.s505}};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        fprintf(out, "onefile_http_refused_total{status=\"%d\"} %llu\n", refused[i].status,
                (unsigned long long)refused[i].n);
    family(out, "onefile_http_requests_total", "counter", "Completed requests.");
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < nseries; i++) {
        fprintf(out, "onefile_http_requests_total{method=\"");
        label(out, series[i].method);
        fprintf(out, "\",route=\"");
        label(out, series[i].route);
        fprintf(out, "\",status=\"%d\"} %llu\n", series[i].status, series[i].count);
    }
    struct hist d = durations;
    pthread_mutex_unlock(&mu);
    family(out, "onefile_http_request_duration_seconds", "histogram",
           "Time from a request's headers to its response queued.");
    hist_write_prometheus(&d, "onefile_http_request_duration_seconds", NULL, out);
}

static int metrics(struct request *r)
{
    struct app *app = r->app;
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out)
        return request_error(r, 500, "cannot build the metrics page");
    if (app->writer)
        write_writer(out, app->writer);
    one(out, "onefile_busy_retries_total", "counter",
        "Times any connection found the database locked and waited (busy handler calls).",
        (double)db_busy_retries());
    uint64_t acquires, waits, wait_us;
    readers_stats(app->readers, &acquires, &waits, &wait_us);
    one(out, "onefile_reader_acquires_total", "counter", "Reader connections handed out.",
        (double)acquires);
    one(out, "onefile_reader_waits_total", "counter",
        "Reader acquisitions that waited for a free connection.", (double)waits);
    one(out, "onefile_reader_wait_seconds_total", "counter",
        "Time spent waiting for a reader connection.", (double)wait_us / 1e6);
    one(out, "onefile_db_bytes", "gauge", "Size of the database file.",
        (double)db_file_size(app->cfg->db, ""));
    one(out, "onefile_wal_bytes", "gauge", "Size of the -wal file.",
        (double)db_file_size(app->cfg->db, "-wal"));
    if (app->server)
        write_http(out, app->server);
    jobs_write_metrics(app->jobs, out);
    backup_write_metrics(app, out);
    one(out, "onefile_uptime_seconds", "gauge", "Seconds since the server started.",
        (double)(clock_mono_us() - app->started_us) / 1e6);
    fclose(out);
    buf_reset(&r->out);
    buf_add(&r->out, text, len);
    free(text);
    r->content_type = "text/plain; version=0.0.4; charset=utf-8";
    request_set_header(r, "Cache-Control", "no-store");
    return 200;
}

void metrics_routes(struct router *rt)
{
    router_add(rt, "GET", "/metrics", metrics);
}
