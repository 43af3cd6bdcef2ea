/*
 * worker.h - the threads that run queued jobs, and the table of job types they know.
 *
 * A worker loops: peek on a reader connection for the earliest ready job, claim one through
 * the writer (queue_claim), run its type's handler outside any transaction, then record the
 * outcome through the writer (complete, fail with backoff, or release when stopped). With
 * nothing ready it sleeps until the next job is due, a second at most (jobs inserted by
 * another process are found by that poll), or until workers_wake() (a job enqueued here).
 * Worker 0 also releases, every half visibility timeout, reservations that another process
 * took and never finished (queue_release_stale).
 *
 * A handler runs on its worker's thread, may take its time (a webhook waits for the
 * network), must not hold a reader connection across slow work, and writes only through
 * app->writer. It returns 0 (done: the job is deleted), -1 (failed: retried after a backoff
 * until max_attempts, then moved to failed_jobs), JOB_EPERMANENT (failed, no retry: a
 * payload that can never work) or JOB_EABORTED (gave up because *abort was set by
 * workers_stop: the reservation is released and the attempt not counted). err is one line.
 *
 * Threads: workers_wake and workers_write_metrics from any thread; start and stop from one
 * controlling thread (serve's main thread, through jobs.c).
 */
#ifndef ONEFILE_JOBS_WORKER_H
#define ONEFILE_JOBS_WORKER_H

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>

#include "store/queue.h"

struct app;

#define JOB_EPERMANENT (-2)
#define JOB_EABORTED (-3)

/* What a handler is given. Everything is borrowed for the call. */
struct job_ctx {
    struct app *app;
    const struct queue_job *job;
    const json_t *payload;   /* job->payload parsed */
    const atomic_int *abort; /* set when the worker must give up now */
};
typedef int job_handler_fn(const struct job_ctx *c, char *err, size_t errlen);

struct job_type {
    const char *name;
    job_handler_fn *run;
};

/* The job type called name, or NULL. */
const struct job_type *worker_type(const char *name);

struct workers;

/* Starts n worker threads for app (app->cfg, app->readers and app->writer must stay up
   until workers_stop). owner names this process in reserved_by. Never NULL. */
struct workers *workers_start(struct app *app, size_t n, const char *owner);
/* A job was enqueued: idle workers look now instead of at their next poll. NULL is fine. */
void workers_wake(struct workers *ws);
/* Counts an enqueue of a job of that type (for the metrics). */
void workers_count_enqueued(struct workers *ws, const char *type);
/* Stops claiming; waits up to grace_ms for running jobs, then sets the abort flag so
   handlers that watch it give up (their jobs are released), joins the threads and frees. */
void workers_stop(struct workers *ws, long grace_ms);
/* Prometheus lines: jobs enqueued, completed, retried, failed (by type), released. */
void workers_write_metrics(struct workers *ws, FILE *out);

#endif
