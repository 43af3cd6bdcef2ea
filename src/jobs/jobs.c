/*
 * jobs.c - the jobs subsystem's face to `serve`: start, stop, enqueue, metrics; see jobs.h.
 *
 * DESIGN
 *
 * struct jobs holds the two halves - the scheduler (scheduler.c: cron-timed maintenance)
 * and the queue workers (worker.c: durable jobs) - and the identity this process writes
 * into reserved_by: "<host>:<pid>:<random>", so a reservation names the process that made
 * it even after a pid is reused.
 *
 * Start: plan the schedules first (the only configuration error, before any thread exists);
 * then release every reservation in the file, since serve's lock on <db>.lock proves no
 * other server runs and a reservation can only be a dead process's (a job with no attempt
 * left goes to failed_jobs instead); then start workers and scheduler.
 *
 * Threads: serve's main thread starts and stops; handlers enqueue; /metrics reads.
 */
#include "jobs/jobs.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "db/readers.h"
#include "db/writer.h"
#include "http/app.h"
#include "store/queue.h"
#include "jobs/scheduler.h"
#include "jobs/worker.h"

struct jobs {
    struct app *app;
    struct workers *workers;
    struct scheduler *sched;
    char owner[64];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_setup(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Gives back what a previous process reserved and never finished. */
static void release_abandoned(struct app *app)
{
    char err[256];
    struct queue_sweep s = {0, NULL, 0, 0, 0, 0};
    if (writer_submit(app->writer, "jobs/sweep", queue_release_stale, &s, err, sizeof(err)) != 0) {
        log_err("jobs: releasing reservations of the previous run: %s", err);
        return;
    }
    if (s.released || s.failed)
        log_event(LOG_WARN, "jobs released",
                  json_pack("{s:i,s:i,s:s}", "released", s.released, "failed", s.failed, "reason",
                            "reserved by a process that stopped without finishing"));
}

struct jobs *jobs_start(struct app *app, char *err, size_t errlen)
{
    size_t n = scheduler_njobs();
    struct sched_entry *plan = xcalloc(n, sizeof(*plan));
    struct jobs *j = NULL;
    if (scheduler_plan(plan, err, errlen) < 0)
        goto out;
    if (sodium_init() < 0) {
        snprintf(err, errlen, "jobs: libsodium failed to initialise");
        goto out;
    }
    pthread_once(&curl_once, curl_setup);
    j = xcalloc(1, sizeof(*j));
    j->app = app;
    char host[33] = "";
    unsigned char nonce[4];
    gethostname(host, sizeof(host) - 1);
    randombytes_buf(nonce, sizeof(nonce));
    snprintf(j->owner, sizeof(j->owner), "%s:%ld:%02x%02x%02x%02x", host[0] ? host : "host",
             (long)getpid(), nonce[0], nonce[1], nonce[2], nonce[3]);
    release_abandoned(app);
    j->workers = workers_start(app, (size_t)app->cfg->job_workers, j->owner);
    j->sched = scheduler_start(app, plan);
    json_t *sched = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(sched, plan[i].job->name, json_string(plan[i].schedule));
    log_event(LOG_INFO, "jobs started",
              json_pack("{s:i,s:s,s:o}", "workers", (int)app->cfg->job_workers, "owner", j->owner,
                        "schedule", sched));
out:
    free(plan);
    return j;
}

void jobs_stop(struct jobs *j)
{
    if (!j)
        return;
    workers_stop(j->workers, j->app->cfg->shutdown_timeout_s * 1000);
    scheduler_stop(j->sched);
    free(j);
}

int jobs_enqueue(struct jobs *j, const char *type, json_t *payload, const char *idempotency_key,
                 char *err, size_t errlen)
{
    if (!j) {
        snprintf(err, errlen, "jobs: not running");
        return -1;
    }
    if (!type || !worker_type(type)) {
        snprintf(err, errlen, "jobs: unknown job type '%s'", type ? type : "");
        return -1;
    }
    char *text = json_dumps(payload, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text) {
        snprintf(err, errlen, "jobs: the payload cannot be encoded as JSON");
        return -1;
    }
    struct queue_new q = {type, text, idempotency_key, (int)j->app->cfg->job_max_attempts, 0, 0,
                          0,    0};
    int rc = writer_submit(j->app->writer, "jobs/enqueue", queue_enqueue, &q, err, errlen);
    free(text);
    if (rc != 0)
        return -1;
    if (!q.existed) {
        workers_count_enqueued(j->workers, type);
        workers_wake(j->workers);
    }
    return 0;
}

int jobs_notify_contact(struct jobs *j, int64_t message_id, const char *name, const char *email)
{
    if (!j || !j->app->cfg->notify_webhook)
        return 0;
    const struct config *cfg = j->app->cfg;
    char key[48], err[256];
    snprintf(key, sizeof(key), "contact-%lld", (long long)message_id);
    json_t *p = json_pack("{s:s,s:{s:s,s:I,s:s?,s:s?,s:s?}}", "url", cfg->notify_webhook, "body",
                          "event", "contact.message", "id", (json_int_t)message_id, "name", name,
                          "email", email, "site", cfg->base_url);
    if (!p)
        return log_err("jobs: contact notification for message %lld: cannot build it",
                       (long long)message_id);
    int rc = jobs_enqueue(j, "webhook", p, key, err, sizeof(err));
    json_decref(p);
    if (rc < 0)
        return log_err("jobs: contact notification for message %lld: %s", (long long)message_id,
                       err);
    return 0;
}

void jobs_write_metrics(struct jobs *j, FILE *out)
{
    if (!j)
        return;
    workers_write_metrics(j->workers, out);
    struct queue_depth d;
    struct db_conn *db = readers_acquire(j->app->readers);
    int rc = queue_depth(db, 0, &d);
    readers_release(j->app->readers, db);
    if (rc == 0) {
        fprintf(out, "# HELP onefile_jobs_queue_depth Jobs in the file by state: ready to run, "
                     "delayed (waiting for a retry), reserved (running), failed "
                     "(in failed_jobs).\n# TYPE onefile_jobs_queue_depth gauge\n");
        fprintf(out, "onefile_jobs_queue_depth{state=\"ready\"} %lld\n", d.ready);
        fprintf(out, "onefile_jobs_queue_depth{state=\"delayed\"} %lld\n", d.delayed);
        fprintf(out, "onefile_jobs_queue_depth{state=\"reserved\"} %lld\n", d.reserved);
        fprintf(out, "onefile_jobs_queue_depth{state=\"failed\"} %lld\n", d.failed);
    }
    scheduler_write_metrics(j->sched, out);
}
