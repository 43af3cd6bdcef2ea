/*
 * schedule.h - schedule_runs: one row per fire of a scheduled job (jobs/scheduler.c), its
 * outcome and message, the newest KEEP rows per job kept.
 *
 * A run is inserted `running` when it starts (or directly `skipped` with its finish time),
 * finished with its outcome, and closed as `error` ("interrupted") at the next start when
 * the server died during it. Times are ISO 8601 UTC text, computed by the caller.
 * Threads: the caller's connection (the writer's for the writer functions).
 */
#ifndef ONEFILE_STORE_SCHEDULE_H
#define ONEFILE_STORE_SCHEDULE_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "db/driver.h"

struct schedule_run {
    const char *job;                /* borrowed: the job's name */
    const char *outcome;            /* running (start), skipped, or the final outcome (finish) */
    const char *message;            /* or NULL */
    char started[32], finished[32]; /* finished "" while running */
    int keep;                       /* finish: rows kept per job */
    int64_t id;                     /* insert: out; finish: in */
};
/* Writer functions (arg: struct schedule_run): insert a run, finish it (and drop the
   job's rows beyond the newest `keep`). */
int schedule_runs_insert(struct db_conn *c, void *arg, char *err, size_t errlen);
int schedule_runs_finish(struct db_conn *c, void *arg, char *err, size_t errlen);
/* Writer function: closes every run left `running` as error, interrupted, finished now;
 *(int *)arg receives how many. */
int schedule_runs_interrupt(struct db_conn *c, void *arg, char *err, size_t errlen);
/* The newest run of job as {started_at, finished_at, outcome, message} in *out, or NULL
   when it never ran. 0 or -1 logged. */
int schedule_runs_last(struct db_conn *c, const char *job, json_t **out);
/* "FINISHED_AT (OUTCOME)" of job's newest finished run into out, or out untouched when
   none finished. 0 or -1 logged. */
int schedule_runs_last_finished(struct db_conn *c, const char *job, char *out, size_t outlen);
#endif
