/*
 * views.c - aggregated page views; see views.h.
 *
 * Counts live in a small open-addressing table under a mutex. The flusher swaps the
 * table for an empty one and submits the old one as a single writer function that
 * upserts every (post, day) row; a post deleted in the meantime is skipped.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "db/writer.h"
#include "site/views.h"
#include "store/post_views.h"

#define SLOTS 4096 /* distinct posts per flush; beyond, views of new posts are dropped */

struct counts {
    int64_t id[SLOTS];
    unsigned count[SLOTS];
    size_t used;
};

struct views {
    struct writer *w;
    long flush_ms;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct counts *cur;
    int stopping;
    pthread_t thread;
    unsigned long dropped;
};

void views_record(struct views *v, int64_t id)
{
    if (!v)
        return;
    size_t h = (size_t)((unsigned long long)id * 0x9E3779B97F4A7C15ULL >> 52) % SLOTS;
    pthread_mutex_lock(&v->mu);
    struct counts *c = v->cur;
    for (size_t i = 0; i < SLOTS; i++) {
        size_t k = (h + i) % SLOTS;
        if (c->count[k] && c->id[k] == id) {
            c->count[k]++;
            goto out;
        }
        if (!c->count[k]) {
            if (c->used * 4 >= SLOTS * 3) /* keep probing short: 75% full is full */
                break;
            c->id[k] = id;
            c->count[k] = 1;
            c->used++;
            goto out;
        }
    }
    v->dropped++;
out:
    pthread_mutex_unlock(&v->mu);
}

static int write_counts(struct db_conn *conn, void *arg, char *err, size_t errlen)
{
    struct counts *c = arg;
    char day[32], why[200];
    clock_iso8601(time(NULL), day, sizeof(day));
    day[10] = '\0';
    for (size_t k = 0; k < SLOTS; k++) {
        if (!c->count[k])
            continue;
        if (post_views_add(conn, day, c->id[k], c->count[k], why, sizeof(why)) < 0) {
            snprintf(err, errlen, "page views: %s", why);
            return -1;
        }
    }
    return 0;
}

/* Submits the counts gathered so far; waits for the write when `wait`. */
static void flush(struct views *v, int wait)
{
    pthread_mutex_lock(&v->mu);
    struct counts *full = v->cur;
    if (full->used == 0) {
        pthread_mutex_unlock(&v->mu);
        return;
    }
    v->cur = xcalloc(1, sizeof(*v->cur));
    pthread_mutex_unlock(&v->mu);
    if (wait) {
        char err[256];
        if (writer_submit(v->w, "site:page-views", write_counts, full, err, sizeof(err)) != 0)
            log_warn("views: %s", err);
        free(full);
    } else {
        writer_submit_async(v->w, "site:page-views", write_counts, full, free);
    }
}

static void *flusher(void *arg)
{
    struct views *v = arg;
    pthread_mutex_lock(&v->mu);
    while (!v->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += v->flush_ms / 1000;
        ts.tv_nsec += (v->flush_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&v->cv, &v->mu, &ts);
        if (v->stopping)
            break;
        pthread_mutex_unlock(&v->mu);
        flush(v, 0);
        pthread_mutex_lock(&v->mu);
    }
    pthread_mutex_unlock(&v->mu);
    return NULL;
}

struct views *views_start(struct writer *w, long flush_ms)
{
    struct views *v = xcalloc(1, sizeof(*v));
    v->w = w;
    v->flush_ms = flush_ms > 0 ? flush_ms : 1000;
    v->cur = xcalloc(1, sizeof(*v->cur));
    pthread_mutex_init(&v->mu, NULL);
    pthread_cond_init(&v->cv, NULL);
    pthread_create(&v->thread, NULL, flusher, v);
    return v;
}

void views_stop(struct views *v)
{
    if (!v)
        return;
    pthread_mutex_lock(&v->mu);
    v->stopping = 1;
    pthread_cond_signal(&v->cv);
    pthread_mutex_unlock(&v->mu);
    pthread_join(v->thread, NULL);
    flush(v, 1);
    if (v->dropped)
        log_warn("views: %lu views dropped (more than %d distinct posts a second)", v->dropped,
                 SLOTS * 3 / 4);
    free(v->cur);
    pthread_cond_destroy(&v->cv);
    pthread_mutex_destroy(&v->mu);
    free(v);
}
