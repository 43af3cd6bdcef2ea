/*
 * worker.c - queue worker threads and the table of job types; the contract is in worker.h.
 *
 * DESIGN
 *
 * Each worker thread moves through:
 *
 *   PEEK ----(nothing ready: sleep until due, 1 s at most, or woken)----> PEEK
 *    |  (a job is due)
 *    v
 *   CLAIM  writer: queue_claim, one job, token "<owner>/w<k>/<seq>"
 *    |  (got none: another worker was faster -> sleep 200 ms, PEEK)
 *    v
 *   RUN    the type's handler, no connection held
 *    v
 *   RECORD writer: complete | fail (backoff, or failed_jobs) | release (aborted)
 *    +---> PEEK
 *
 * Peeking on a reader first keeps an idle queue from costing a write transaction per poll.
 * The token of the job a worker is running sits in its slot (under mu), so the stale-
 * reservation sweep never releases a job that is still running here, however long it takes.
 *
 * Stop: `stopping` makes every worker leave at its next PEEK; workers_stop waits up to the
 * grace period for running handlers, then raises `abort` (webhooks cut their transfer and
 * return JOB_EABORTED, which releases the job without counting the attempt), then joins.
 * The writer is still running during all this (serve stops it later), so outcomes are
 * recorded. An outcome that cannot be recorded (disk full) leaves the job reserved: the
 * sweep releases it after the visibility timeout, or the next start does; it runs again
 * (at least once).
 *
 * Threads: N workers; workers_wake/count/metrics from any thread (counters under mu).
 */
#include "jobs/worker.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "db/readers.h"
#include "db/writer.h"
#include "http/app.h"
#include "jobs/media_variants.h"
#include "jobs/webhook.h"

#define POLL_MS 1000       /* an idle worker looks again this often */
#define EMPTY_CLAIM_MS 200 /* after a claim that found nothing (another worker won) */
#define ERROR_WAIT_MS 1000 /* after a claim the writer refused */
#define OUTCOME_TRIES 3    /* recording an outcome: tries when COMMIT fails */

/* The job types. Adding one: write `int x_run(const struct job_ctx *, char *, size_t)` (see
   worker.h for its contract), add a row here; jobs_enqueue() accepts its name from then on. */
static const struct job_type types[] = {
    {"webhook", webhook_run},
    {"media-variants", media_variants_run},
};
#define NTYPES (sizeof(types) / sizeof(types[0]))

const struct job_type *worker_type(const char *name)
{
    for (size_t i = 0; i < NTYPES; i++)
        if (strcmp(types[i].name, name) == 0)
            return &types[i];
    return NULL;
}

/* Counters per type; the last row counts jobs of types this binary does not know. */
struct counts {
    uint64_t enqueued, completed, retried, failed, released, lost;
};

struct slot {
    struct workers *ws;
    size_t k;
    pthread_t thread;
    char token[QUEUE_TOKEN_MAX]; /* the running job's claim, "" when idle; under mu */
};

struct workers {
    struct app *app;
    char owner[64];
    size_t n, alive;
    struct slot *slots;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* wakes idle workers; tells workers_stop one has left */
    uint64_t wake_seq, claim_seq;
    int stopping;
    atomic_int abort;
    struct counts counts[NTYPES + 1];
    uint64_t swept_released, swept_failed;
    int64_t last_sweep_ms;
};

static struct counts *counts_of(struct workers *ws, const char *type)
{
    const struct job_type *t = worker_type(type);
    return &ws->counts[t ? (size_t)(t - types) : NTYPES];
}

void workers_count_enqueued(struct workers *ws, const char *type)
{
    if (!ws)
        return;
    pthread_mutex_lock(&ws->mu);
    counts_of(ws, type)->enqueued++;
    pthread_mutex_unlock(&ws->mu);
}

void workers_wake(struct workers *ws)
{
    if (!ws)
        return;
    pthread_mutex_lock(&ws->mu);
    ws->wake_seq++;
    pthread_cond_broadcast(&ws->cv);
    pthread_mutex_unlock(&ws->mu);
}

/* Sleeps up to ms, or until woken (wake_seq moved past seen) or stopping. Called with mu. */
static void nap(struct workers *ws, long ms, uint64_t seen)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    while (!ws->stopping && ws->wake_seq == seen)
        if (pthread_cond_timedwait(&ws->cv, &ws->mu, &ts) != 0)
            break;
}

/* Submits an outcome write, trying again when its batch's COMMIT failed. */
static int record(struct workers *ws, writer_fn *fn, const char *origin, struct queue_outcome *o)
{
    char err[256];
    int rc = -1;
    for (int i = 0; i < OUTCOME_TRIES; i++) {
        rc = writer_submit(ws->app->writer, origin, fn, o, err, sizeof(err));
        if (rc != WRITER_ECOMMIT)
            break;
        struct timespec ts = {0, 200000000L * (i + 1)};
        nanosleep(&ts, NULL);
    }
    if (rc != 0)
        log_err("jobs: job %lld: %s not recorded (%s); it runs again after the visibility "
                "timeout",
                (long long)o->id, origin, err);
    return rc;
}

static void run_job(struct workers *ws, struct queue_job *job)
{
    const struct config *cfg = ws->app->cfg;
    const struct job_type *t = worker_type(job->type);
    char err[512] = "";
    json_error_t je;
    json_t *payload = json_loads(job->payload ? job->payload : "", JSON_DECODE_ANY, &je);
    int64_t t0 = clock_mono_us();
    int rc;
    if (!t) {
        snprintf(err, sizeof(err), "no handler for job type '%s' in this build", job->type);
        rc = -1;
    } else if (!payload) {
        snprintf(err, sizeof(err), "payload is not JSON: %s", je.text);
        rc = JOB_EPERMANENT;
    } else {
        struct job_ctx ctx = {ws->app, job, payload, &ws->abort};
        rc = t->run(&ctx, err, sizeof(err));
        if (rc != 0 && !err[0])
            snprintf(err, sizeof(err), "failed");
    }
    json_decref(payload);
    double secs = (double)(clock_mono_us() - t0) / 1e6;

    struct queue_outcome o;
    memset(&o, 0, sizeof(o));
    o.id = job->id;
    o.token = job->token;
    o.error = err;
    o.permanent = rc == JOB_EPERMANENT;
    o.backoff_ms = cfg->job_backoff_ms;
    o.backoff_max_ms = cfg->job_backoff_max_s * 1000;
    o.jitter = (double)randombytes_uniform(2001) / 1000.0 - 1.0;
    int released = rc == JOB_EABORTED && atomic_load(&ws->abort), w;
    if (rc == 0)
        w = record(ws, queue_complete, "jobs/complete", &o);
    else if (released)
        w = record(ws, queue_release, "jobs/release", &o);
    else
        w = record(ws, queue_fail, "jobs/fail", &o);
    if (w != 0)
        return;

    static const char *const names[] = {"done", "retry", "failed", "lost"};
    const char *outcome = released && o.result == QUEUE_DONE ? "released" : names[o.result];
    pthread_mutex_lock(&ws->mu);
    struct counts *c = counts_of(ws, job->type);
    if (o.result == QUEUE_LOST)
        c->lost++;
    else if (released)
        c->released++;
    else if (o.result == QUEUE_DONE)
        c->completed++;
    else if (o.result == QUEUE_RETRY)
        c->retried++;
    else
        c->failed++;
    pthread_mutex_unlock(&ws->mu);

    json_t *f = json_pack("{s:I,s:s,s:i,s:i,s:s,s:f}", "id", (json_int_t)job->id, "type", job->type,
                          "attempt", job->attempts, "max_attempts", job->max_attempts, "outcome",
                          outcome, "seconds", secs);
    if (rc != 0)
        json_object_set_new(f, "error", json_string(err));
    if (o.result == QUEUE_RETRY) {
        char at[32];
        json_object_set_new(f, "next_at",
                            json_string(queue_time_format(o.next_ms, at, sizeof(at))));
    }
    log_event(rc == 0 ? LOG_INFO : LOG_WARN, "job", f);
}

/* Claims one job and runs it: 1 ran one, 0 none was ready, -1 the claim failed. */
static int claim_and_run(struct workers *ws, struct slot *sl)
{
    char token[QUEUE_TOKEN_MAX], err[256];
    struct queue_job job;
    pthread_mutex_lock(&ws->mu);
    snprintf(token, sizeof(token), "%s/w%zu/%llu", ws->owner, sl->k,
             (unsigned long long)++ws->claim_seq);
    snprintf(sl->token, sizeof(sl->token), "%s", token);
    pthread_mutex_unlock(&ws->mu);
    struct queue_claim c = {token, 1, 0, &job, 0};
    int rc = writer_submit(ws->app->writer, "jobs/claim", queue_claim, &c, err, sizeof(err));
    if (rc == 0 && c.n == 1) {
        run_job(ws, &job);
        queue_job_release(&job);
    } else if (rc != 0 && rc != WRITER_ESTOPPED) {
        log_err("jobs: claim: %s", err);
    }
    pthread_mutex_lock(&ws->mu);
    sl->token[0] = '\0';
    pthread_mutex_unlock(&ws->mu);
    return rc != 0 ? -1 : (int)c.n;
}

/* Releases reservations of processes that died (worker 0, every half visibility timeout). */
static void sweep(struct workers *ws)
{
    const struct config *cfg = ws->app->cfg;
    const char *keep[64];
    char tokens[64][QUEUE_TOKEN_MAX], err[256];
    size_t nkeep = 0;
    pthread_mutex_lock(&ws->mu);
    for (size_t i = 0; i < ws->n && nkeep < 64; i++)
        if (ws->slots[i].token[0]) {
            memcpy(tokens[nkeep], ws->slots[i].token, QUEUE_TOKEN_MAX);
            keep[nkeep] = tokens[nkeep];
            nkeep++;
        }
    pthread_mutex_unlock(&ws->mu);
    struct queue_sweep s = {cfg->job_visibility_s * 1000, keep, nkeep, 0, 0, 0};
    if (writer_submit(ws->app->writer, "jobs/sweep", queue_release_stale, &s, err, sizeof(err)) !=
        0) {
        log_err("jobs: releasing stale reservations: %s", err);
        return;
    }
    if (s.released || s.failed)
        log_event(LOG_WARN, "jobs released",
                  json_pack("{s:i,s:i,s:s}", "released", s.released, "failed", s.failed, "reason",
                            "reserved longer than ONEFILE_JOB_VISIBILITY_S"));
    pthread_mutex_lock(&ws->mu);
    ws->swept_released += (uint64_t)s.released;
    ws->swept_failed += (uint64_t)s.failed;
    pthread_mutex_unlock(&ws->mu);
}

static void *worker_main(void *arg)
{
    struct slot *sl = arg;
    struct workers *ws = sl->ws;
    struct app *app = ws->app;
    int64_t sweep_every_ms = app->cfg->job_visibility_s * 1000 / 2;
    for (;;) {
        pthread_mutex_lock(&ws->mu);
        uint64_t seen = ws->wake_seq;
        int stop = ws->stopping;
        pthread_mutex_unlock(&ws->mu);
        if (stop)
            break;
        if (sl->k == 0 && clock_wall_ms() - ws->last_sweep_ms >= sweep_every_ms) {
            ws->last_sweep_ms = clock_wall_ms(); /* worker 0 alone reads and writes it */
            sweep(ws);
        }
        int64_t due = 0;
        struct db_conn *db = readers_acquire(app->readers);
        int peek = queue_next_ready(db, &due);
        readers_release(app->readers, db);
        long wait_ms = POLL_MS;
        int64_t now = clock_wall_ms();
        if (peek == 0 && due <= now) {
            int got = claim_and_run(ws, sl);
            if (got > 0)
                continue;
            wait_ms = got == 0 ? EMPTY_CLAIM_MS : ERROR_WAIT_MS;
        } else if (peek == 0 && due - now < POLL_MS) {
            wait_ms = (long)(due - now);
        }
        pthread_mutex_lock(&ws->mu);
        nap(ws, wait_ms, seen);
        pthread_mutex_unlock(&ws->mu);
    }
    pthread_mutex_lock(&ws->mu);
    ws->alive--;
    pthread_cond_broadcast(&ws->cv);
    pthread_mutex_unlock(&ws->mu);
    return NULL;
}

struct workers *workers_start(struct app *app, size_t n, const char *owner)
{
    struct workers *ws = xcalloc(1, sizeof(*ws));
    ws->app = app;
    snprintf(ws->owner, sizeof(ws->owner), "%s", owner);
    ws->n = n;
    ws->slots = xcalloc(n, sizeof(*ws->slots));
    pthread_mutex_init(&ws->mu, NULL);
    pthread_cond_init(&ws->cv, NULL);
    atomic_init(&ws->abort, 0);
    if (sodium_init() < 0)
        abort(); /* main() initialised it already; this only makes tests self-sufficient */
    for (size_t i = 0; i < n; i++) {
        ws->slots[i].ws = ws;
        ws->slots[i].k = i;
        if (pthread_create(&ws->slots[i].thread, NULL, worker_main, &ws->slots[i]) != 0) {
            log_err("jobs: cannot start worker thread %zu", i);
            abort();
        }
        ws->alive++;
    }
    return ws;
}

void workers_stop(struct workers *ws, long grace_ms)
{
    if (!ws)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += grace_ms / 1000;
    ts.tv_nsec += (grace_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&ws->mu);
    ws->stopping = 1;
    pthread_cond_broadcast(&ws->cv);
    while (ws->alive > 0)
        if (pthread_cond_timedwait(&ws->cv, &ws->mu, &ts) != 0)
            break;
    size_t busy = ws->alive;
    pthread_mutex_unlock(&ws->mu);
    if (busy) {
        log_warn("jobs: %zu job(s) still running after %ld ms; stopping them", busy, grace_ms);
        atomic_store(&ws->abort, 1);
    }
    for (size_t i = 0; i < ws->n; i++)
        pthread_join(ws->slots[i].thread, NULL);
    pthread_cond_destroy(&ws->cv);
    pthread_mutex_destroy(&ws->mu);
    free(ws->slots);
    free(ws);
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void workers_write_metrics(struct workers *ws, FILE *out)
{
    if (!ws)
        return;
    static const struct {
        const char *name, *help;
        size_t offset;
    } fams[] = {
        {"onefile_jobs_enqueued_total", "Jobs enqueued by this process, by type.",
         offsetof(struct counts, enqueued)},
        {"onefile_jobs_completed_total", "Jobs that succeeded and were removed, by type.",
         offsetof(struct counts, completed)},
        {"onefile_jobs_retried_total", "Failed attempts scheduled for another try, by type.",
         offsetof(struct counts, retried)},
        {"onefile_jobs_failed_total", "Jobs moved to failed_jobs (no attempt left), by type.",
         offsetof(struct counts, failed)},
        {"onefile_jobs_released_total",
         "Jobs given back unfinished because the server was stopping, by type.",
         offsetof(struct counts, released)},
    };
    struct counts c[NTYPES + 1];
    pthread_mutex_lock(&ws->mu);
    memcpy(c, ws->counts, sizeof(c));
    uint64_t swept_released = ws->swept_released, swept_failed = ws->swept_failed;
    pthread_mutex_unlock(&ws->mu);
    for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
        family(out, fams[f].name, "counter", fams[f].help);
        for (size_t i = 0; i <= NTYPES; i++) {
            const uint64_t *v =
                (const uint64_t *)(const void *)((const char *)&c[i] + fams[f].offset);
            fprintf(out, "%s{type=\"%s\"} %llu\n", fams[f].name,
                    i < NTYPES ? types[i].name : "unknown", (unsigned long long)*v);
        }
    }
    family(out, "onefile_jobs_abandoned_total", "counter",
           "Reservations of a process that died, released (or failed: no attempt left).");
    fprintf(out, "onefile_jobs_abandoned_total{outcome=\"released\"} %llu\n",
            (unsigned long long)swept_released);
    fprintf(out, "onefile_jobs_abandoned_total{outcome=\"failed\"} %llu\n",
            (unsigned long long)swept_failed);
}
