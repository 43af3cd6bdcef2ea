/* test_queue.c - the durable job queue on a real file through a real writer: enqueue, claim,
   complete; idempotency keys; backoff that grows; max attempts -> failed_jobs -> retry;
   permanent failures and releases; the visibility timeout; and the workers end to end
   against a local HTTP endpoint (libmicrohttpd in this test) that fails twice then
   succeeds, always fails, or hangs until the server stops; a restart that picks up what a
   dead process had reserved; the contact notification; a bad schedule variable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/config.h"
#include "db/db.h"
#include "db/sqlite.h"
#include "db/readers.h"
#include "db/writer.h"
#include "http/app.h"
#include "jobs/jobs.h"
#include "store/queue.h"
#include "fixture.h"

static char dir[64], path[128];
static struct config cfg;
static struct readers readers;
static struct app app;

static int setup(void **state)
{
    (void)state;
    sqlite3 *db;
    fixture_migrated_db("queue", dir, sizeof(dir), path, sizeof(path), &db);
    struct writer_options wo;
    writer_options_default(&wo);
    config_init(&cfg);
    cfg.job_backoff_ms = 200;
    cfg.job_backoff_max_s = 60;
    cfg.job_max_attempts = 5;
    cfg.webhook_timeout_s = 5;
    cfg.shutdown_timeout_s = 5;
    memset(&app, 0, sizeof(app));
    app.cfg = &cfg;
    app.writer = writer_start(sqlite_conn_wrap(db), &wo);
    assert_int_equal(readers_open(&readers, path, 4, &fixture_dbo), 0);
    app.readers = &readers;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    readers_close(&readers);
    db_conn_close(writer_stop(app.writer));
    config_release(&cfg);
    fixture_remove(dir);
    return 0;
}

static void submit(writer_fn *fn, void *arg)
{
    char err[256] = "";
    int rc = writer_submit(app.writer, "test", fn, arg, err, sizeof(err));
    if (rc != 0)
        fail_msg("write failed (%d): %s", rc, err);
}

static long long count(const char *sql)
{
    long long n = -1;
    struct db_conn *db = readers_acquire(&readers);
    assert_int_equal(db_query_int(sqlite_conn_handle(db), sql, &n), 0);
    readers_release(&readers, db);
    return n;
}

static int64_t enqueue(const char *type, const char *payload, const char *key, int max, int64_t now)
{
    struct queue_new n = {type, payload, key, max, 0, now, 0, 0};
    submit(queue_enqueue, &n);
    assert_int_equal(n.existed, 0);
    return n.id;
}

/* Claims up to max jobs at now with token; returns how many (jobs in out[]). */
static size_t claim(const char *token, size_t max, int64_t now, struct queue_job *out)
{
    struct queue_claim c = {token, max, now, out, 0};
    submit(queue_claim, &c);
    return c.n;
}

static const int64_t T0 = 1790000000000LL; /* a fixed "now" in ms for the SQL-level tests */

static void test_enqueue_claim_complete(void **state)
{
    (void)state;
    struct queue_job jobs[4];
    int64_t a = enqueue("webhook", "{\"n\":1}", NULL, 5, T0);
    int64_t b = enqueue("webhook", "{\"n\":2}", NULL, 5, T0 + 1);
    struct queue_new later = {"webhook", "{\"n\":3}", NULL, 5, 60000, T0, 0, 0};
    submit(queue_enqueue, &later);
    /* the delayed one is not ready; the others come oldest first, one attempt each */
    assert_int_equal(claim("p/w0/1", 4, T0 + 10, jobs), 2);
    assert_int_equal(jobs[0].id, a);
    assert_int_equal(jobs[1].id, b);
    assert_string_equal(jobs[0].type, "webhook");
    assert_string_equal(jobs[0].payload, "{\"n\":1}");
    assert_null(jobs[0].key);
    assert_int_equal(jobs[0].attempts, 1);
    assert_int_equal(jobs[0].max_attempts, 5);
    assert_string_equal(jobs[0].token, "p/w0/1");
    /* reserved jobs are not claimed twice */
    assert_int_equal(claim("p/w1/2", 4, T0 + 20, jobs + 2), 0);
    assert_int_equal(count("SELECT count(*) FROM jobs WHERE reserved_by = 'p/w0/1'"), 2);
    /* completion needs the claim's token */
    struct queue_outcome o = {.id = a, .token = "someone-else"};
    submit(queue_complete, &o);
    assert_int_equal(o.result, QUEUE_LOST);
    o.token = "p/w0/1";
    submit(queue_complete, &o);
    assert_int_equal(o.result, QUEUE_DONE);
    assert_int_equal(count("SELECT count(*) FROM jobs"), 2);
    /* the delayed job is ready after its delay */
    assert_int_equal(claim("p/w0/3", 4, T0 + 60000, jobs + 2), 1);
    assert_int_equal(jobs[2].id, later.id);
    for (int i = 0; i < 3; i++)
        queue_job_release(&jobs[i]);
}

static void test_idempotency_key(void **state)
{
    (void)state;
    struct queue_job job;
    int64_t id = enqueue("webhook", "{}", "contact-7", 5, T0);
    struct queue_new again = {"webhook", "{\"other\":1}", "contact-7", 5, 0, T0, 0, 0};
    submit(queue_enqueue, &again);
    assert_int_equal(again.existed, 1);
    assert_int_equal(again.id, id);
    assert_int_equal(count("SELECT count(*) FROM jobs"), 1);
    /* still deduplicated while it runs */
    assert_int_equal(claim("p/w0/1", 1, T0, &job), 1);
    assert_string_equal(job.key, "contact-7");
    submit(queue_enqueue, &again);
    assert_int_equal(again.existed, 1);
    /* a completed job frees its key */
    struct queue_outcome o = {.id = id, .token = "p/w0/1"};
    submit(queue_complete, &o);
    again.existed = 0;
    submit(queue_enqueue, &again);
    assert_int_equal(again.existed, 0);
    assert_true(again.id != 0);
    assert_int_equal(count("SELECT count(*) FROM jobs WHERE idempotency_key = 'contact-7'"), 1);
    queue_job_release(&job);
}

static void test_backoff_grows(void **state)
{
    (void)state;
    /* the schedule itself: doubling from the base, capped, +-20% jitter */
    static const struct {
        int attempts;
        int64_t base, max;
        double jitter;
        int64_t want;
    } rows[] = {
        {1, 1000, 60000, 0, 1000},  {2, 1000, 60000, 0, 2000},           {3, 1000, 60000, 0, 4000},
        {7, 1000, 60000, 0, 60000}, {200, 1000, 60000, 0, 60000},        {1, 1000, 60000, 1, 1200},
        {1, 1000, 60000, -1, 800},  {3, 1000, 60000, 0.5, 4400},         {0, 1000, 60000, 0, 1000},
        {2, 1000, 60000, 9, 2400},  {40, 3600000, 3600000, -1, 2880000},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        assert_int_equal(
            queue_backoff_ms(rows[i].attempts, rows[i].base, rows[i].max, rows[i].jitter),
            rows[i].want);
    /* through the queue: each failure makes the job wait longer, even with the worst jitter */
    int64_t id = enqueue("webhook", "{}", NULL, 10, T0);
    int64_t now = T0, prev_delay = 0;
    for (int attempt = 1; attempt <= 6; attempt++) {
        struct queue_job job;
        assert_int_equal(claim("p/w0/x", 1, now, &job), 1);
        assert_int_equal(job.attempts, attempt);
        struct queue_outcome o = {.id = id,
                                  .token = "p/w0/x",
                                  .error = "HTTP 500",
                                  .backoff_ms = 1000,
                                  .backoff_max_ms = 3600000,
                                  .jitter = attempt % 2 ? 1.0 : -1.0,
                                  .now_ms = now};
        submit(queue_fail, &o);
        assert_int_equal(o.result, QUEUE_RETRY);
        int64_t delay = o.next_ms - now;
        assert_true(delay > prev_delay);
        prev_delay = delay;
        /* not ready a millisecond early, ready on time */
        assert_int_equal(claim("p/w0/x", 1, o.next_ms - 1, &job), 0);
        now = o.next_ms;
        queue_job_release(&job);
    }
    assert_int_equal(count("SELECT count(*) FROM jobs WHERE last_error = 'HTTP 500'"), 1);
}

static void test_max_attempts_then_failed_and_retry(void **state)
{
    (void)state;
    int64_t id = enqueue("webhook", "{\"u\":1}", "k-failing", 3, T0);
    int64_t now = T0;
    struct queue_outcome o;
    for (int attempt = 1; attempt <= 3; attempt++) {
        struct queue_job job;
        char err[32];
        assert_int_equal(claim("p/w0/y", 1, now, &job), 1);
        snprintf(err, sizeof(err), "HTTP 50%d", attempt);
        memset(&o, 0, sizeof(o));
        o = (struct queue_outcome){.id = id,
                                   .token = "p/w0/y",
                                   .error = err,
                                   .backoff_ms = 100,
                                   .backoff_max_ms = 1000,
                                   .now_ms = now};
        submit(queue_fail, &o);
        assert_int_equal(o.result, attempt < 3 ? QUEUE_RETRY : QUEUE_FAILED);
        now = o.next_ms;
        queue_job_release(&job);
    }
    assert_int_equal(count("SELECT count(*) FROM jobs"), 0);
    assert_int_equal(count("SELECT count(*) FROM failed_jobs WHERE last_error = 'HTTP 503' "
                           "AND attempts = 3 AND idempotency_key = 'k-failing' "
                           "AND payload = '{\"u\":1}' AND type = 'webhook'"),
                     1);
    /* retry: back in the queue, ready now, attempts from 0, the last error kept */
    struct queue_retry r = {o.failed_id, 4, T0 + 5000, 0, 0, 0};
    submit(queue_retry, &r);
    assert_int_equal(r.found, 1);
    assert_int_equal(r.existed, 0);
    assert_int_equal(count("SELECT count(*) FROM failed_jobs"), 0);
    assert_int_equal(count("SELECT count(*) FROM jobs WHERE attempts = 0 AND max_attempts = 4 "
                           "AND last_error = 'HTTP 503' AND idempotency_key = 'k-failing'"),
                     1);
    struct queue_job job;
    assert_int_equal(claim("p/w0/z", 1, T0 + 5000, &job), 1);
    assert_int_equal(job.id, r.job_id);
    queue_job_release(&job);
    /* an unknown id */
    struct queue_retry none = {999, 4, 0, 0, 0, 0};
    submit(queue_retry, &none);
    assert_int_equal(none.found, 0);
    /* a failed job whose key was queued again meanwhile: the failed entry goes away */
    struct queue_outcome p = {.id = r.job_id, .token = "p/w0/z", .error = "bad", .permanent = 1};
    submit(queue_fail, &p);
    assert_int_equal(p.result, QUEUE_FAILED);
    int64_t fresh = enqueue("webhook", "{}", "k-failing", 3, T0);
    struct queue_retry dup = {p.failed_id, 4, 0, 0, 0, 0};
    submit(queue_retry, &dup);
    assert_int_equal(dup.found, 1);
    assert_int_equal(dup.existed, 1);
    assert_int_equal(dup.job_id, fresh);
    assert_int_equal(count("SELECT count(*) FROM failed_jobs"), 0);
    assert_int_equal(count("SELECT count(*) FROM jobs"), 1);
}

static void test_permanent_and_release(void **state)
{
    (void)state;
    struct queue_job job;
    int64_t id = enqueue("webhook", "{}", NULL, 5, T0);
    assert_int_equal(claim("p/w0/1", 1, T0, &job), 1);
    /* released by a stopping worker: the attempt does not count */
    struct queue_outcome o = {.id = id, .token = "p/w0/1"};
    submit(queue_release, &o);
    assert_int_equal(o.result, QUEUE_DONE);
    assert_int_equal(count("SELECT count(*) FROM jobs WHERE reserved_at IS NULL AND "
                           "attempts = 0"),
                     1);
    queue_job_release(&job);
    /* a permanent failure skips the remaining attempts */
    assert_int_equal(claim("p/w0/2", 1, T0, &job), 1);
    struct queue_outcome f = {
        .id = id, .token = "p/w0/2", .error = "payload.url missing", .permanent = 1};
    submit(queue_fail, &f);
    assert_int_equal(f.result, QUEUE_FAILED);
    assert_int_equal(count("SELECT count(*) FROM failed_jobs WHERE attempts = 1"), 1);
    /* an outcome for a reservation that is gone changes nothing */
    submit(queue_fail, &f);
    assert_int_equal(f.result, QUEUE_LOST);
    submit(queue_release, &f);
    assert_int_equal(f.result, QUEUE_LOST);
    queue_job_release(&job);
}

static void test_delete(void **state)
{
    (void)state;
    struct queue_job job;
    int64_t a = enqueue("webhook", "{}", NULL, 5, T0);
    int64_t b = enqueue("webhook", "{}", NULL, 5, T0 + 1);
    assert_int_equal(claim("p/w0/1", 1, T0 + 2, &job), 1); /* a runs */
    struct queue_delete d = {a, 0, 0};
    submit(queue_delete, &d);
    assert_int_equal(d.found, -1); /* running: kept */
    d.id = b;
    submit(queue_delete, &d);
    assert_int_equal(d.found, 1);
    submit(queue_delete, &d);
    assert_int_equal(d.found, 0);
    struct queue_outcome f = {.id = a, .token = "p/w0/1", .error = "x", .permanent = 1};
    submit(queue_fail, &f);
    struct queue_delete df = {f.failed_id, 1, 0};
    submit(queue_delete, &df);
    assert_int_equal(df.found, 1);
    assert_int_equal(count("SELECT (SELECT count(*) FROM jobs) + (SELECT count(*) FROM "
                           "failed_jobs)"),
                     0);
    queue_job_release(&job);
}

static void test_visibility_timeout(void **state)
{
    (void)state;
    struct queue_job jobs[3];
    int64_t a = enqueue("webhook", "{}", NULL, 5, T0);
    int64_t b = enqueue("webhook", "{}", NULL, 1, T0);
    int64_t c = enqueue("webhook", "{}", NULL, 5, T0);
    assert_int_equal(claim("deadhost:1:0/w0/1", 2, T0, jobs), 2); /* a and b: a dead worker */
    assert_int_equal(claim("live:2:0/w0/1", 1, T0, jobs + 2), 1); /* c: a running one */
    assert_int_equal(jobs[2].id, c);
    /* younger than the timeout: left alone */
    const char *keep[] = {"live:2:0/w0/1"};
    struct queue_sweep s = {300000, keep, 1, T0 + 299000, 0, 0};
    submit(queue_release_stale, &s);
    assert_int_equal(s.released + s.failed, 0);
    /* older: a goes back to ready (its attempt counted), b had no attempt left, c is kept */
    s.now_ms = T0 + 300000;
    submit(queue_release_stale, &s);
    assert_int_equal(s.released, 1);
    assert_int_equal(s.failed, 1);
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM jobs WHERE id = %lld AND reserved_at IS "
             "NULL AND attempts = 1 AND last_error LIKE 'abandoned: reserved by deadhost:1:0%%'",
             (long long)a);
    assert_int_equal(count(sql), 1);
    assert_int_equal(count("SELECT count(*) FROM failed_jobs WHERE last_error LIKE "
                           "'abandoned:%attempt 1 of 1)'"),
                     1);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM jobs WHERE id = %lld AND reserved_by = "
             "'live:2:0/w0/1'",
             (long long)c);
    assert_int_equal(count(sql), 1);
    (void)b;
    /* the dead worker's late outcome is refused */
    struct queue_outcome o = {.id = a, .token = "deadhost:1:0/w0/1"};
    submit(queue_complete, &o);
    assert_int_equal(o.result, QUEUE_LOST);
    /* at start-up everything reserved is released (older_than 0) */
    struct queue_sweep all = {0, NULL, 0, T0 + 1, 0, 0};
    submit(queue_release_stale, &all);
    assert_int_equal(all.released, 1);
    assert_int_equal(count("SELECT count(*) FROM jobs WHERE reserved_at IS NOT NULL"), 0);
    for (int i = 0; i < 3; i++)
        queue_job_release(&jobs[i]);
}

static void test_list_depth_and_times(void **state)
{
    (void)state;
    struct queue_job job;
    int64_t now = clock_wall_ms();
    enqueue("webhook", "{}", "ready-one", 5, now - 1000);
    struct queue_new later = {"webhook", "{}", NULL, 5, 3600000, now, 0, 0};
    submit(queue_enqueue, &later);
    enqueue("webhook", "{}", NULL, 5, now - 2000);
    assert_int_equal(claim("p/w0/1", 1, now, &job), 1);
    queue_job_release(&job);
    struct queue_depth d;
    struct db_conn *db = readers_acquire(&readers);
    assert_int_equal(queue_depth(db, now, &d), 0);
    assert_int_equal(d.ready, 1);
    assert_int_equal(d.delayed, 1);
    assert_int_equal(d.reserved, 1);
    assert_int_equal(d.failed, 0);
    json_t *list;
    assert_int_equal(queue_list(db, now, 100, &list), 0);
    assert_int_equal(json_array_size(list), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "state")),
                        "ready");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(list, 1), "idempotency_key")),
        "ready-one");
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 2), "state")),
                        "delayed");
    json_decref(list);
    int64_t next;
    assert_int_equal(queue_next_ready(db, &next), 0);
    assert_int_equal(next, now - 1000);
    readers_release(&readers, db);
    /* time text */
    char t[32];
    int64_t ms;
    assert_string_equal(queue_time_format(T0 + 7, t, sizeof(t)), "2026-09-21T14:13:20.007Z");
    assert_int_equal(queue_time_parse(t, &ms), 0);
    assert_int_equal(ms, T0 + 7);
    assert_int_equal(queue_time_parse("2026-09-21T14:13:20Z", &ms), 0);
    assert_int_equal(ms, T0);
    assert_int_equal(queue_time_parse("2026-09-21T14:13:20.5Z", &ms), 0);
    assert_int_equal(ms, T0 + 500);
    assert_int_equal(queue_time_parse("2026-09-21 13:46:40", &ms), -1);
    assert_int_equal(queue_time_parse("soon", &ms), -1);
    assert_int_equal(queue_time_parse("2026-09-21T13:46:40.Z", &ms), -1);
}

/* ---- a local HTTP endpoint ---- */

#define HOOK_MAX 32

struct hook {
    struct MHD_Daemon *d;
    unsigned port;
    char url[64];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int fail_first; /* answer 500 to the first N requests */
    int always;     /* answer this status to every request (0: off) */
    int hang;       /* hold every request until `released` */
    int released;
    int n;
    int64_t at_ms[HOOK_MAX];
    char key[HOOK_MAX][64];
    int attempt[HOOK_MAX];
    char body[HOOK_MAX][256];
};

struct upload {
    char data[1024];
    size_t len;
};

static enum MHD_Result hook_handler(void *cls, struct MHD_Connection *c, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_size, void **ctx)
{
    (void)url, (void)method, (void)version;
    struct hook *h = cls;
    struct upload *up = *ctx;
    if (!up) {
        *ctx = calloc(1, sizeof(struct upload));
        return MHD_YES;
    }
    if (*upload_size) {
        size_t take = *upload_size < sizeof(up->data) - 1 - up->len
                          ? *upload_size
                          : sizeof(up->data) - 1 - up->len;
        memcpy(up->data + up->len, upload_data, take);
        up->len += take;
        *upload_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&h->mu);
    int i = h->n < HOOK_MAX ? h->n++ : HOOK_MAX - 1;
    h->at_ms[i] = clock_wall_ms();
    const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Idempotency-Key");
    const char *attempt = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Onefile-Attempt");
    snprintf(h->key[i], sizeof(h->key[i]), "%s", key ? key : "");
    h->attempt[i] = attempt ? atoi(attempt) : 0;
    snprintf(h->body[i], sizeof(h->body[i]), "%.255s", up->data);
    pthread_cond_broadcast(&h->cv);
    while (h->hang && !h->released)
        pthread_cond_wait(&h->cv, &h->mu);
    int status = h->always ? h->always : i < h->fail_first ? 500 : 200;
    pthread_mutex_unlock(&h->mu);
    const char *text = status == 200 ? "ok" : "nope\nnot now";
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)(uintptr_t)text,
                                                             MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static void hook_done(void *cls, struct MHD_Connection *c, void **ctx,
                      enum MHD_RequestTerminationCode code)
{
    (void)cls, (void)c, (void)code;
    free(*ctx);
    *ctx = NULL;
}

static void hook_start(struct hook *h)
{
    memset(h, 0, sizeof(*h));
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                            NULL, NULL, hook_handler, h, MHD_OPTION_SOCK_ADDR, &sa,
                            MHD_OPTION_NOTIFY_COMPLETED, hook_done, h, MHD_OPTION_END);
    assert_non_null(h->d);
    h->port = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT)->port;
    snprintf(h->url, sizeof(h->url), "http://127.0.0.1:%u/hook", h->port);
}

static void hook_stop(struct hook *h)
{
    pthread_mutex_lock(&h->mu);
    h->released = 1;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    MHD_stop_daemon(h->d);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
}

/* Waits up to seconds for sql to count want. */
static int wait_count(const char *sql, long long want, int seconds)
{
    for (int i = 0; i < seconds * 20; i++) {
        if (count(sql) == want)
            return 1;
        usleep(50000);
    }
    return 0;
}

static int wait_requests(struct hook *h, int want, int seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += seconds;
    pthread_mutex_lock(&h->mu);
    while (h->n < want)
        if (pthread_cond_timedwait(&h->cv, &h->mu, &ts) != 0)
            break;
    int n = h->n;
    pthread_mutex_unlock(&h->mu);
    return n >= want;
}

static json_t *webhook_payload(const char *url)
{
    return json_pack("{s:s,s:{s:s,s:i}}", "url", url, "body", "hello", "world", "n", 1);
}

static char *metrics_text(struct jobs *j)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    jobs_write_metrics(j, out);
    fclose(out);
    return text;
}

static void test_webhook_fails_twice_then_succeeds(void **state)
{
    (void)state;
    struct hook h;
    char err[256];
    hook_start(&h);
    h.fail_first = 2;
    struct jobs *j = jobs_start(&app, err, sizeof(err));
    assert_non_null(j);
    json_t *p = webhook_payload(h.url);
    assert_int_equal(jobs_enqueue(j, "webhook", p, "order-1", err, sizeof(err)), 0);
    assert_int_equal(jobs_enqueue(j, "webhook", p, "order-1", err, sizeof(err)), 0); /* dup */
    json_decref(p);
    assert_true(wait_requests(&h, 3, 20));
    assert_true(wait_count("SELECT count(*) FROM jobs", 0, 10));
    usleep(300000);
    assert_int_equal(h.n, 3); /* no fourth delivery, no duplicate job */
    for (int i = 0; i < 3; i++) {
        assert_string_equal(h.key[i], "order-1");
        assert_int_equal(h.attempt[i], i + 1);
        assert_string_equal(h.body[i], "{\"hello\":\"world\",\"n\":1}");
    }
    /* growing delays: ~200 ms then ~400 ms (+-20%) */
    int64_t d1 = h.at_ms[1] - h.at_ms[0], d2 = h.at_ms[2] - h.at_ms[1];
    if (!(d1 >= 150 && d2 > d1 && d2 >= 300))
        fail_msg("delays %lld ms then %lld ms do not grow", (long long)d1, (long long)d2);
    assert_int_equal(count("SELECT count(*) FROM failed_jobs"), 0);
    char *m = metrics_text(j);
    assert_non_null(strstr(m, "# TYPE onefile_jobs_completed_total counter"));
    assert_non_null(strstr(m, "onefile_jobs_enqueued_total{type=\"webhook\"} 1\n"));
    assert_non_null(strstr(m, "onefile_jobs_completed_total{type=\"webhook\"} 1\n"));
    assert_non_null(strstr(m, "onefile_jobs_retried_total{type=\"webhook\"} 2\n"));
    assert_non_null(strstr(m, "onefile_jobs_failed_total{type=\"webhook\"} 0\n"));
    assert_non_null(strstr(m, "onefile_jobs_queue_depth{state=\"ready\"} 0\n"));
    assert_non_null(strstr(m, "# TYPE onefile_schedule_runs_total counter"));
    assert_non_null(strstr(m, "onefile_schedule_runs_total{job=\"checkpoint\",outcome=\"ok\"}"));
    free(m);
    jobs_stop(j);
    hook_stop(&h);
}

static void test_webhook_always_fails_then_retry(void **state)
{
    (void)state;
    struct hook h;
    char err[256];
    hook_start(&h);
    h.always = 503;
    cfg.job_max_attempts = 2;
    struct jobs *j = jobs_start(&app, err, sizeof(err));
    assert_non_null(j);
    json_t *p = webhook_payload(h.url);
    assert_int_equal(jobs_enqueue(j, "webhook", p, NULL, err, sizeof(err)), 0);
    json_decref(p);
    assert_true(wait_count("SELECT count(*) FROM failed_jobs WHERE attempts = 2 AND "
                           "last_error = 'HTTP 503: nope not now'",
                           1, 20));
    assert_int_equal(count("SELECT count(*) FROM jobs"), 0);
    assert_int_equal(h.n, 2);
    /* the receiver recovers; retry brings the job back and it completes */
    pthread_mutex_lock(&h.mu);
    h.always = 200;
    pthread_mutex_unlock(&h.mu);
    struct queue_retry r = {0, 2, 0, 0, 0, 0};
    r.failed_id = count("SELECT id FROM failed_jobs");
    submit(queue_retry, &r);
    assert_int_equal(r.found, 1);
    assert_true(wait_requests(&h, 3, 10));
    assert_true(wait_count("SELECT count(*) FROM jobs", 0, 10));
    assert_int_equal(count("SELECT count(*) FROM failed_jobs"), 0);
    char *m = metrics_text(j);
    assert_non_null(strstr(m, "onefile_jobs_failed_total{type=\"webhook\"} 1\n"));
    assert_non_null(strstr(m, "onefile_jobs_completed_total{type=\"webhook\"} 1\n"));
    free(m);
    /* a payload that can never work fails at once; an unreachable URL is retried */
    p = json_pack("{s:s}", "url", "ftp://example.com/x");
    assert_int_equal(jobs_enqueue(j, "webhook", p, NULL, err, sizeof(err)), 0);
    json_decref(p);
    assert_true(wait_count("SELECT count(*) FROM failed_jobs WHERE attempts = 1 AND last_error "
                           "LIKE 'payload.url must be%'",
                           1, 10));
    p = json_pack("{s:s}", "url", "http://127.0.0.1:1/");
    assert_int_equal(jobs_enqueue(j, "webhook", p, NULL, err, sizeof(err)), 0);
    json_decref(p);
    assert_true(wait_count("SELECT count(*) FROM failed_jobs WHERE attempts = 2 AND last_error "
                           "LIKE 'POST failed: %'",
                           1, 10));
    /* unknown types are refused at enqueue */
    p = json_object();
    assert_int_equal(jobs_enqueue(j, "nope", p, NULL, err, sizeof(err)), -1);
    assert_string_equal(err, "jobs: unknown job type 'nope'");
    json_decref(p);
    jobs_stop(j);
    hook_stop(&h);
}

static void test_stop_releases_running_jobs(void **state)
{
    (void)state;
    struct hook h;
    char err[256];
    hook_start(&h);
    h.hang = 1;
    cfg.shutdown_timeout_s = 1;
    struct jobs *j = jobs_start(&app, err, sizeof(err));
    assert_non_null(j);
    json_t *p = webhook_payload(h.url);
    assert_int_equal(jobs_enqueue(j, "webhook", p, "slow-1", err, sizeof(err)), 0);
    json_decref(p);
    assert_true(wait_requests(&h, 1, 10));
    int64_t t0 = clock_mono_us();
    jobs_stop(j); /* 1 s grace, then the transfer is cut */
    int64_t took_ms = (clock_mono_us() - t0) / 1000;
    if (took_ms < 900 || took_ms > 4000)
        fail_msg("jobs_stop took %lld ms", (long long)took_ms);
    /* released, not failed: no reservation, the attempt not counted */
    assert_int_equal(count("SELECT count(*) FROM jobs WHERE reserved_at IS NULL AND "
                           "attempts = 0 AND idempotency_key = 'slow-1'"),
                     1);
    hook_stop(&h);
}

static void test_restart_runs_what_a_dead_process_reserved(void **state)
{
    (void)state;
    struct hook h;
    char err[256];
    struct queue_job jobs[2];
    hook_start(&h);
    for (int i = 0; i < 2; i++) {
        char key[16], payload[128];
        snprintf(key, sizeof(key), "job-%d", i);
        snprintf(payload, sizeof(payload), "{\"url\":\"%s\",\"body\":{\"i\":%d}}", h.url, i);
        enqueue("webhook", payload, key, 5, 0);
    }
    /* a process that was killed while running them */
    assert_int_equal(claim("gone:1234:beef/w0/1", 2, 0, jobs), 2);
    struct jobs *j = jobs_start(&app, err, sizeof(err));
    assert_non_null(j);
    assert_true(wait_requests(&h, 2, 10));
    assert_true(wait_count("SELECT count(*) FROM jobs", 0, 10));
    usleep(200000);
    assert_int_equal(h.n, 2); /* each once */
    assert_true((strcmp(h.key[0], "job-0") == 0 && strcmp(h.key[1], "job-1") == 0) ||
                (strcmp(h.key[0], "job-1") == 0 && strcmp(h.key[1], "job-0") == 0));
    assert_int_equal(h.attempt[0], 2); /* the dead process's start counted */
    jobs_stop(j);
    hook_stop(&h);
    for (int i = 0; i < 2; i++)
        queue_job_release(&jobs[i]);
}

static void test_notify_contact(void **state)
{
    (void)state;
    struct hook h;
    char err[256];
    hook_start(&h);
    struct jobs *j = jobs_start(&app, err, sizeof(err));
    assert_non_null(j);
    /* not configured: nothing happens */
    assert_int_equal(jobs_notify_contact(j, 41, "Ann", "ann@example.com"), 0);
    assert_int_equal(count("SELECT count(*) FROM jobs"), 0);
    assert_int_equal(jobs_notify_contact(NULL, 41, "Ann", "ann@example.com"), 0);
    cfg.notify_webhook = strdup(h.url);
    assert_int_equal(jobs_notify_contact(j, 42, "Ann \"A\"", "ann@example.com"), 0);
    assert_true(wait_requests(&h, 1, 10));
    assert_true(wait_count("SELECT count(*) FROM jobs", 0, 10));
    assert_string_equal(h.key[0], "contact-42");
    json_error_t je;
    json_t *body = json_loads(h.body[0], 0, &je);
    assert_non_null(body);
    assert_string_equal(json_string_value(json_object_get(body, "event")), "contact.message");
    assert_int_equal(json_integer_value(json_object_get(body, "id")), 42);
    assert_string_equal(json_string_value(json_object_get(body, "name")), "Ann \"A\"");
    assert_string_equal(json_string_value(json_object_get(body, "email")), "ann@example.com");
    assert_string_equal(json_string_value(json_object_get(body, "site")), cfg.base_url);
    json_decref(body);
    jobs_stop(j);
    hook_stop(&h);
}

static void test_bad_schedule_refuses_to_start(void **state)
{
    (void)state;
    char err[256];
    setenv("ONEFILE_SCHEDULE_QUICK_CHECK", "0 0 32 * *", 1);
    assert_null(jobs_start(&app, err, sizeof(err)));
    assert_string_equal(err, "ONEFILE_SCHEDULE_QUICK_CHECK: day-of-month: 32 is out of range "
                             "1-31 (a cron expression or off)");
    setenv("ONEFILE_SCHEDULE_QUICK_CHECK", "off", 1);
    setenv("ONEFILE_SCHEDULE_QUICKCHECK", "0 4 * * *", 1);
    assert_null(jobs_start(&app, err, sizeof(err)));
    assert_non_null(strstr(err, "ONEFILE_SCHEDULE_QUICKCHECK: no scheduled job of that name"));
    unsetenv("ONEFILE_SCHEDULE_QUICKCHECK");
    struct jobs *j = jobs_start(&app, err, sizeof(err)); /* "off" is fine */
    assert_non_null(j);
    jobs_stop(j);
    unsetenv("ONEFILE_SCHEDULE_QUICK_CHECK");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_enqueue_claim_complete),
        T(test_idempotency_key),
        T(test_backoff_grows),
        T(test_max_attempts_then_failed_and_retry),
        T(test_permanent_and_release),
        T(test_delete),
        T(test_visibility_timeout),
        T(test_list_depth_and_times),
        T(test_webhook_fails_twice_then_succeeds),
        T(test_webhook_always_fails_then_retry),
        T(test_stop_releases_running_jobs),
        T(test_restart_runs_what_a_dead_process_reserved),
        T(test_notify_contact),
        T(test_bad_schedule_refuses_to_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
