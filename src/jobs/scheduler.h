/*
 * scheduler.h - jobs that run on a cron schedule inside `serve`.
 *
 * The jobs are a table in scheduler.c: name, default schedule, handler. A schedule is
 * overridden by ONEFILE_SCHEDULE_<NAME> (the name upper-cased, '-' -> '_': quick-check ->
 * ONEFILE_SCHEDULE_QUICK_CHECK), or by the row's older alias variable when only that is set;
 * the value is a cron expression (jobs/cron.h) or "off".
 * A malformed value, or a variable naming no job, is a configuration error (serve exits 2).
 *
 * Each run is a row of schedule_runs: inserted as `running` when it starts, updated with
 * finished_at, outcome (ok, error, skipped) and a one-line message when it ends. A job
 * still running at its next fire time is not started again: that fire is recorded as
 * `skipped`. Fire times missed while the server was stopped are not replayed: at start
 * each job's next fire is cron_next(now). Rows left `running` by a server that died are
 * closed as `error` ("interrupted") at start. The newest 500 runs of each job are kept.
 *
 * A handler runs on a thread of its own (one per job at most, so a long backup never
 * delays a checkpoint), writes only through app->writer and returns 0 (ok), 1 (skipped:
 * nothing to do, say why in msg) or -1 (error, msg says what). A long one should watch
 * atomic_load(&app->stopping) and give up when it is set: scheduler_stop() waits for it.
 *
 * Threads: one scheduler thread plus a thread per running job; scheduler_write_metrics from
 * any thread; plan/start/stop from one controlling thread.
 */
#ifndef ONEFILE_JOBS_SCHEDULER_H
#define ONEFILE_JOBS_SCHEDULER_H

#include <stddef.h>
#include <stdio.h>

#include "jobs/cron.h"

struct app;

/* A scheduled job's work. msg (msglen bytes, starts empty) receives one line. */
typedef int sched_run_fn(struct app *app, char *msg, size_t msglen);

struct sched_job {
    const char *name;     /* lower-case, '-' between words */
    const char *schedule; /* default cron expression */
    sched_run_fn *run;
    /* an older variable that also sets this schedule (backup: "ONEFILE_BACKUP_SCHEDULE"),
       or NULL; ONEFILE_SCHEDULE_<NAME> wins over it */
    const char *alias_env;
};

/* A job's effective schedule. */
struct sched_entry {
    const struct sched_job *job;
    char schedule[CRON_MAX_LEN + 1];
    char source[96]; /* "default", or the variable it came from */
    struct cron cron;
    int off; /* "off": never runs */
};

/* How many jobs the table holds, and the i-th. */
size_t scheduler_njobs(void);
const struct sched_job *scheduler_job(size_t i);
/* Resolves every job's schedule from the environment into e[0..scheduler_njobs()).
   0, or -1 with err naming the variable: "ONEFILE_SCHEDULE_QUICK_CHECK: minute: 60 is out
   of range 0-59", or an ONEFILE_SCHEDULE_* variable that names no job. */
int scheduler_plan(struct sched_entry *e, char *err, size_t errlen);

struct scheduler;

/* Closes runs left `running` by a dead server, then starts the scheduler thread with the
   plan (copied). app->cfg, app->writer and app->readers must outlive it. Never NULL. */
struct scheduler *scheduler_start(struct app *app, const struct sched_entry *plan);
/* Starts no more runs, waits for running ones (they watch app->stopping), joins, frees. */
void scheduler_stop(struct scheduler *s);
/* Prometheus lines: runs by job and outcome, running, last success, next fire. */
void scheduler_write_metrics(struct scheduler *s, FILE *out);

#endif
