/*
 * queue.h - the durable job queue: its SQL, as writer functions and reader queries.
 *
 * A job is a row of `jobs` (migrations/0001): type, JSON payload, attempts, max_attempts,
 * available_at, reserved_at / reserved_by, last_error, idempotency_key. Its life:
 *
 *   enqueue --> READY --claim--> RESERVED --complete--> (deleted)
 *                ^  ^               |  |
 *                |  +--fail, retry--+  +--fail, no attempts left--> failed_jobs row
 *                |     (backoff)    |                                   |
 *                +----release-------+  (stopping, or stale)             |
 *                +-------------------------- retry ---------------------+
 *
 * Delivery is at least once: a job whose worker died after its effect but before
 * `complete` runs again. `attempts` counts starts (a claim adds one), so a job that kills
 * its process each time still ends in failed_jobs. An idempotency key makes a second enqueue
 * of the same work return the pending job instead of adding one (while the job is queued or
 * running; a completed job's key is free again); handlers pass it on (the webhook sends it as
 * the Idempotency-Key header) so a receiver can drop a repeated delivery.
 *
 * Times are ISO 8601 UTC text. available_at and reserved_at are written with milliseconds
 * ("2026-11-24T03:00:00.123Z"), so backoff below a second works; a row inserted by hand
 * with the column default ("...:00Z", no fraction) sorts as the end of its second, so it is
 * ready at most a second late.
 *
 * Writer functions (`int f(struct db_conn *c, void *arg, char *err, size_t errlen)`) run inside
 * a transaction: the writer's (writer_submit), or a command's store_begin_write(). Their
 * argument structs carry inputs and outputs; now_ms 0 means the wall clock (tests pass a
 * time). Reader functions run on any connection. Errors: -1 with err filled (writer
 * functions) or logged (readers).
 * Threads: the caller's connection; no state of its own.
 */
#ifndef ONEFILE_STORE_QUEUE_H
#define ONEFILE_STORE_QUEUE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "db/driver.h"

#define QUEUE_TOKEN_MAX 96 /* reserved_by of one claim */

/* A claimed job. Strings belong to the struct: queue_job_release() frees them. */
struct queue_job {
    int64_t id;
    char *type;
    char *payload; /* JSON text */
    char *key;     /* idempotency key, or NULL */
    int attempts;  /* starts so far, this one included */
    int max_attempts;
    char token[QUEUE_TOKEN_MAX]; /* the claim's reserved_by: complete/fail/release need it */
};
void queue_job_release(struct queue_job *job);

/* queue_enqueue's argument. */
struct queue_new {
    const char *type;    /* borrowed */
    const char *payload; /* JSON text, borrowed */
    const char *key;     /* idempotency key or NULL */
    int max_attempts;    /* >= 1 */
    int64_t delay_ms;    /* ready this long after now */
    int64_t now_ms;
    int64_t id;  /* out: the job */
    int existed; /* out: 1 when a job with this key was queued already (id is it) */
};
/* Adds a job, or finds the pending one with the same key. */
int queue_enqueue(struct db_conn *c, void *arg, char *err, size_t errlen);

/* queue_claim's argument. */
struct queue_claim {
    const char *token; /* written to reserved_by; unique per claim */
    size_t max;        /* claim at most this many (the size of jobs[]) */
    int64_t now_ms;
    struct queue_job *jobs; /* out: n claimed jobs, oldest available first */
    size_t n;
};
/* Reserves up to max ready jobs (available_at <= now, not reserved), adding one attempt. */
int queue_claim(struct db_conn *c, void *arg, char *err, size_t errlen);

/* Outcome of a job (queue_complete, queue_fail, queue_release). */
enum queue_result {
    QUEUE_DONE,   /* completed and deleted / released back to ready */
    QUEUE_RETRY,  /* failed, ready again at next_ms */
    QUEUE_FAILED, /* failed for good: moved to failed_jobs as failed_id */
    QUEUE_LOST,   /* the reservation was not ours any more (released, deleted) */
};
struct queue_outcome {
    int64_t id;
    const char *token;                  /* the claim's token */
    const char *error;                  /* fail: the message kept in last_error */
    int permanent;                      /* fail: no retry, straight to failed_jobs */
    int64_t backoff_ms, backoff_max_ms; /* fail: the delay schedule (queue_backoff_ms) */
    double jitter;                      /* fail: -1..1, the caller's random draw */
    int64_t now_ms;
    enum queue_result result; /* out */
    int64_t next_ms;          /* out: QUEUE_RETRY's available_at */
    int64_t failed_id;        /* out: QUEUE_FAILED's failed_jobs id */
};
/* Deletes a completed job. */
int queue_complete(struct db_conn *c, void *arg, char *err, size_t errlen);
/* Records a failed attempt: back to ready after a backoff, or to failed_jobs when no
   attempt is left (or permanent). */
int queue_fail(struct db_conn *c, void *arg, char *err, size_t errlen);
/* Gives a reservation back without counting the attempt (the worker was stopped). */
int queue_release(struct db_conn *c, void *arg, char *err, size_t errlen);

/* queue_release_stale's argument. */
struct queue_sweep {
    int64_t older_than_ms;   /* reservations made at or before now - this (0: all) */
    const char *const *keep; /* tokens left alone (this process's running jobs) */
    size_t nkeep;
    int64_t now_ms;
    int released, failed; /* out: back to ready / moved to failed_jobs (no attempt left) */
};
/* Releases reservations whose process died: older than the visibility timeout, or all of
   them at start-up (the single-instance lock proves their owner gone). At most 1000 a call. */
int queue_release_stale(struct db_conn *c, void *arg, char *err, size_t errlen);

/* queue_retry's argument. */
struct queue_retry {
    int64_t failed_id;
    int max_attempts;
    int64_t now_ms;
    int found;      /* out: 0 when no failed job has that id */
    int existed;    /* out: 1 when a job with its key was queued already: the
                       failed row is removed, job_id is the queued one */
    int64_t job_id; /* out: the queued job */
};
/* Moves a failed job back to the queue, ready now, attempts from 0. */
int queue_retry(struct db_conn *c, void *arg, char *err, size_t errlen);

/* queue_delete's argument. */
struct queue_delete {
    int64_t id;
    int failed; /* 1: a failed_jobs row; 0: a queued job (refused while it runs) */
    int found;  /* out: 1 deleted, 0 no such job, -1 the job is running (kept) */
};
/* Removes a failed job, or a queued job that no worker is running (the admin's "delete"). */
int queue_delete(struct db_conn *c, void *arg, char *err, size_t errlen);

/* The delay before the next attempt after `attempts` starts: min(max, base * 2^(attempts-1)),
   then +- 20% by jitter (-1..1). */
int64_t queue_backoff_ms(int attempts, int64_t base_ms, int64_t max_ms, double jitter);

struct queue_depth {
    long long ready, delayed, reserved, failed;
};
/* Counts jobs by state. 0 or -1 (logged). */
int queue_depth(struct db_conn *c, int64_t now_ms, struct queue_depth *d);
/* The earliest available_at of an unreserved job: 0 with *ms set, 1 when none, -1. */
int queue_next_ready(struct db_conn *c, int64_t *ms);
/* The first `limit` queued jobs (by available_at) / the newest failed jobs, as an array of
   objects named after the columns, plus "state" (ready, delayed or reserved) for queued
   ones. 0 with *out set (caller's reference), or -1 (logged). */
int queue_list(struct db_conn *c, int64_t now_ms, int limit, json_t **out);
int queue_failed_list(struct db_conn *c, int limit, json_t **out);

/* ms since the epoch <-> "2026-11-24T03:00:00.123Z" (the fraction optional when parsing).
   queue_time_format needs 25 bytes; queue_time_parse returns 0 or -1. */
char *queue_time_format(int64_t ms, char *out, size_t outlen);
int queue_time_parse(const char *s, int64_t *ms);

#endif
