/*
 * samples.c - the dashboard's time series; see samples.h.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "admin/samples.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/hist.h"
#include "core/mem.h"
#include "db/db.h"
#include "db/writer.h"
#include "http/app.h"
#include "http/server.h"

enum { REQ_RATE, WRITE_RATE, WRITE_P99, WAL_MB, NSERIES };

static const char *const titles[NSERIES] = {"Requests per second", "Writes per second",
                                            "Write latency p99 (ms)", "WAL size (MB)"};

struct samples {
    struct app *app;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping;
    double v[NSERIES][SAMPLE_COUNT];
    size_t n, next; /* ring: n filled, next write position */
    uint64_t last_requests, last_writes;
    struct hist last_latency;
};

static void take(struct samples *s)
{
    struct server_stats ss = {0};
    struct writer_stats *ws = xcalloc(1, sizeof(*ws));
    if (s->app->server)
        server_get_stats(s->app->server, &ss);
    writer_get_stats(s->app->writer, ws);
    /* the p99 of the writes committed during this interval: the difference of histograms */
    struct hist delta = ws->latency;
    for (size_t i = 0; i <= delta.nbounds; i++)
        delta.counts[i] -= s->last_latency.counts[i];
    delta.count -= s->last_latency.count;
    double row[NSERIES] = {
        (double)(ss.requests - s->last_requests) / SAMPLE_INTERVAL_S,
        (double)(ws->committed - s->last_writes) / SAMPLE_INTERVAL_S,
        hist_quantile(&delta, 0.99) * 1000.0,
        (double)db_file_size(s->app->cfg->db, "-wal") / (1024.0 * 1024.0),
    };
    pthread_mutex_lock(&s->mu);
    if (s->n) /* the first sample only sets the baseline */
        for (int k = 0; k < NSERIES; k++)
            s->v[k][s->next] = row[k];
    if (s->n++)
        s->next = (s->next + 1) % SAMPLE_COUNT;
    if (s->n > SAMPLE_COUNT + 1)
        s->n = SAMPLE_COUNT + 1;
    s->last_requests = ss.requests;
    s->last_writes = ws->committed;
    s->last_latency = ws->latency;
    pthread_mutex_unlock(&s->mu);
    free(ws);
}

static void *run(void *arg)
{
    struct samples *s = arg;
    take(s);
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += SAMPLE_INTERVAL_S;
        if (pthread_cond_timedwait(&s->cv, &s->mu, &ts) != 0 && !s->stopping) {
            pthread_mutex_unlock(&s->mu);
            take(s);
            pthread_mutex_lock(&s->mu);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

struct samples *samples_start(struct app *app)
{
    struct samples *s = xcalloc(1, sizeof(*s));
    s->app = app;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_create(&s->thread, NULL, run, s);
    return s;
}

void samples_stop(struct samples *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

json_t *samples_charts(struct samples *s)
{
    json_t *items = json_array();
    pthread_mutex_lock(&s->mu);
    size_t n = s->n > 0 ? s->n - 1 : 0; /* values recorded */
    if (n > SAMPLE_COUNT)
        n = SAMPLE_COUNT;
    size_t first = (s->next + SAMPLE_COUNT - n) % SAMPLE_COUNT;
    for (int k = 0; k < NSERIES; k++) {
        double peak = 0, last = n ? s->v[k][(first + n - 1) % SAMPLE_COUNT] : 0;
        for (size_t i = 0; i < n; i++)
            if (s->v[k][(first + i) % SAMPLE_COUNT] > peak)
                peak = s->v[k][(first + i) % SAMPLE_COUNT];
        double top = peak > 0 ? peak * 1.1 : 1;
        struct buf svg = BUF_INIT;
        buf_addf(&svg,
                 "<svg viewBox=\"0 0 %d 100\" preserveAspectRatio=\"none\" role=\"img\" "
                 "aria-label=\"%s over the last two hours\">",
                 SAMPLE_COUNT - 1, titles[k]);
        if (n > 1) {
            buf_adds(&svg, "<polyline points=\"");
            for (size_t i = 0; i < n; i++) {
                double x = (double)(SAMPLE_COUNT - n + i);
                double y = 100.0 - 100.0 * s->v[k][(first + i) % SAMPLE_COUNT] / top;
                buf_addf(&svg, "%s%.1f,%.1f", i ? " " : "", x, y);
            }
            buf_adds(&svg, "\"/>");
        }
        buf_adds(&svg, "</svg>");
        json_array_append_new(items, json_pack("{s:s,s:s,s:s%,s:s%}", "title", titles[k], "svg",
                                               buf_str(&svg), "last", "", (size_t)0, "peak", "",
                                               (size_t)0));
        json_object_set_new(json_array_get(items, (size_t)k), "last", json_sprintf("%.1f", last));
        json_object_set_new(json_array_get(items, (size_t)k), "peak", json_sprintf("%.1f", peak));
        buf_release(&svg);
    }
    pthread_mutex_unlock(&s->mu);
    json_t *out = json_pack("{s:s,s:o}", "span", "two hours", "items", items);
    if (n < 2) /* said under the charts: text inside a stretched SVG would be distorted */
        json_object_set_new(out, "collecting", json_true());
    return out;
}
