/*
 * jobs.h - scheduled jobs and the durable job queue, as `serve` sees them.
 *
 * jobs_start() validates the schedules (ONEFILE_SCHEDULE_<NAME>, see scheduler.h), gives
 * back the reservations a previous process left (serve holds the single-instance lock, so
 * whoever reserved them is gone), then starts the scheduler thread and
 * ONEFILE_JOB_WORKERS queue workers (worker.h). Every write, theirs included, goes through
 * app->writer; reads through app->readers.
 *
 * Order in serve: start after the writer and the reader pool are up and app->cfg is set
 * (before the server listens, so a bad schedule stops the start with exit 2 before the
 * port opens); stop after server_stop() (no handler can enqueue any more) and before
 * readers_close(), views_stop() and writer_stop() (workers read, and record outcomes).
 *
 * Threads: jobs_enqueue, jobs_notify_contact and jobs_write_metrics from any thread
 * (request handlers); start and stop from serve's main thread.
 *
 * The folder src/jobs/ owns running work: cron expressions, the scheduler and its
 * built-in jobs, the queue's worker threads and job types. Its tables live in store/
 * (queue, schedule, post_views); it may call core/, db/ (readers, writer, upkeep),
 * store/, remote/ (the backup job) and, today, http/app.h for struct app (issue 14's
 * composition-root step, not done yet, is to pass only what it uses).
 */
#ifndef ONEFILE_JOBS_JOBS_H
#define ONEFILE_JOBS_JOBS_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

struct app;
struct jobs;

/* Starts the scheduler and the workers. NULL with err filled (one line) on a bad
   configuration - a malformed ONEFILE_SCHEDULE_<NAME>, or one naming no job - which serve
   reports with exit 2; nothing is left running then. */
struct jobs *jobs_start(struct app *app, char *err, size_t errlen);
/* Stops taking jobs, lets running ones finish within ONEFILE_SHUTDOWN_TIMEOUT_S, then
   stops them (their reservations are released, the attempt not counted), waits for
   scheduled runs (they watch app->stopping), joins every thread and frees. NULL is fine. */
void jobs_stop(struct jobs *j);
/* Queues a job of a registered type (worker.c's table: "webhook") with payload (borrowed,
   stored as JSON text), waiting until it is committed. With idempotency_key (may be NULL),
   a job already queued with that key is kept and no second one is added (still 0).
   0, or -1 with err filled (unknown type, writer error). */
int jobs_enqueue(struct jobs *j, const char *type, json_t *payload, const char *idempotency_key,
                 char *err, size_t errlen);
/* When ONEFILE_NOTIFY_WEBHOOK is set, queues a webhook to it for a new contact message,
   key "contact-<id>", body {"event":"contact.message","id","name","email","site"}; else
   does nothing. 0 (queued or nothing to do, or j NULL), -1 (logged). */
int jobs_notify_contact(struct jobs *j, int64_t message_id, const char *name, const char *email);
/* Prometheus lines (# HELP/# TYPE each): jobs enqueued, completed, retried, failed and
   released by type; queue depth by state (ready, delayed, reserved, failed: read through
   a reader connection); scheduled runs by job and outcome, running, last success, next
   fire. NULL writes nothing. */
void jobs_write_metrics(struct jobs *j, FILE *out);

#endif
