/*
 * app.h - what every handler can reach: configuration, the reader pool, the writer, the
 * migration plan, the routes, the theme, rate limits, page views, jobs and the server's
 * counters. One struct app per `serve` process, built by src/cmd/serve.c before
 * the server starts and read-only afterwards (except the atomic flags).
 */
#ifndef ONEFILE_HTTP_APP_H
#define ONEFILE_HTTP_APP_H
#include <stdatomic.h>
#include <stdint.h>

#include "core/config.h"
#include "db/migrate.h"
#include "db/readers.h"
#include "http/router.h"

struct writer;
struct server;
struct theme;
struct ratelimit;
struct views;
struct samples;
struct jobs;

struct app {
    const struct config *cfg;
    struct readers *readers;
    struct writer *writer; /* every write goes through it (db/writer.h) */
    struct server *server; /* for its counters in /metrics; set once listening */
    const struct migration_plan *plan;
    struct router router;
    struct theme *theme;             /* templates and static files (site/theme.h) */
    struct ratelimit *contact_limit; /* per-IP limit of the contact form */
    struct views *views;             /* page views, aggregated (site/views.h) */
    struct samples *samples;         /* the dashboard's time series (admin/samples.h) */
    struct jobs *jobs;               /* scheduler and job queue (jobs/jobs.h) */
    int64_t started_us;              /* clock_mono_us() at start */
    atomic_int stopping;             /* set on SIGTERM: /readyz answers 503 */
};

/* Adds GET /healthz and GET /readyz (http/health.c). */
void health_routes(struct router *rt);
#endif
