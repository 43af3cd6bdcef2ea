/*
 * webhook.h - the built-in `webhook` job type: POST a JSON body to a URL with libcurl.
 *
 * Payload: {"url": "https://...", "body": <any JSON, default {}>}. The request carries
 * Content-Type: application/json, User-Agent: onefile/<version>, Idempotency-Key (the job's
 * key, or "job-<id>": the same on every attempt, so the receiver can drop a repeat),
 * X-Onefile-Job and X-Onefile-Attempt. Redirects are not followed; only http and https.
 * The whole request is bounded by ONEFILE_WEBHOOK_TIMEOUT_S (connecting by 5 s of it).
 *
 * Outcome: a 2xx status is done. Any other status fails the attempt with "HTTP <status>"
 * and the start of the response body in last_error; a network error fails it with curl's
 * message. Both are retried with backoff. A payload without a usable url fails for good
 * (JOB_EPERMANENT). When the worker is told to stop (ctx->abort) the transfer is cut and
 * the job released (JOB_EABORTED).
 *
 * Threads: any worker thread; curl_global_init() must have run (jobs_start does it).
 */
#ifndef ONEFILE_JOBS_WEBHOOK_H
#define ONEFILE_JOBS_WEBHOOK_H

#include <stddef.h>

#include "jobs/worker.h"

int webhook_run(const struct job_ctx *c, char *err, size_t errlen);

#endif
