/*
 * metrics.h - GET /metrics in Prometheus text format (version 0.0.4): the writer's queue,
 * batches, latencies and per-origin accounting, busy retries, checkpoints, WAL size,
 * reader-pool waits, and HTTP requests by route and status with a duration histogram.
 *
 * HTTP counters are kept here, fed by the server once per completed request. One set per
 * process (there is one server per process).
 * Threads: metrics_http_observe() from any worker thread (under a mutex).
 */
#ifndef ONEFILE_HTTP_METRICS_H
#define ONEFILE_HTTP_METRICS_H

struct router;

/* Counts one completed request. route must outlive the process (a route pattern or
   literal); method is copied when first seen. */
void metrics_http_observe(const char *method, const char *route, int status, double seconds);
/* Adds GET /metrics. */
void metrics_routes(struct router *rt);
#endif
