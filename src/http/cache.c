/*
 * cache.c - whole-response cache; see cache.h.
 *
 * A direct-mapped table: the key's hash picks one slot; a newer response replaces what
 * was there. Each slot has its own mutex (a stripe), so threads rarely meet.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/clock.h"
#include "core/mem.h"
#include "http/app.h"
#include "http/cache.h"
#include "http/request.h"

#define SLOTS 512
#define MAX_BODY (2 * 1024 * 1024) /* a sitemap of 25,000 URLs fits */

struct entry {
    pthread_mutex_t mu;
    char *key;
    char *body;
    size_t len;
    const char *content_type; /* a literal */
    char etag[40];
    char cache_control[40];
    uint64_t version;
    int64_t stored_us;
    int64_t id;
};

static struct entry table[SLOTS];
static atomic_uint_fast64_t generation = 1;
static atomic_int_fast64_t due = INT64_MAX; /* the next scheduled change, or INT64_MAX */
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init_table(void)
{
    for (size_t i = 0; i < SLOTS; i++)
        pthread_mutex_init(&table[i].mu, NULL);
}

static struct entry *slot_of(const char *key)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    pthread_once(&once, init_table);
    return &table[h % SLOTS];
}

uint64_t cache_version(struct request *r)
{
    (void)r;
    int_fast64_t d = atomic_load(&due);
    /* the thread that clears a passed due time moves the generation, once; a builder that
       read before it passed and reports it again costs one more move, nothing worse */
    if (d != INT64_MAX && (int_fast64_t)time(NULL) >= d &&
        atomic_compare_exchange_strong(&due, &d, INT64_MAX))
        atomic_fetch_add(&generation, 1);
    return atomic_load(&generation);
}

void cache_due(int64_t when)
{
    if (when <= 0)
        return;
    int_fast64_t d = atomic_load(&due);
    while (when < d && !atomic_compare_exchange_weak(&due, &d, when))
        ;
}

void cache_changed(void)
{
    atomic_fetch_add(&generation, 1);
}

static const char *header_value(struct request *r, const char *name)
{
    for (int i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i][0], name) == 0)
            return r->headers[i][1];
    return NULL;
}

int cache_get(struct request *r, const char *key)
{
    struct entry *e = slot_of(key);
    uint64_t now_version = cache_version(r);
    int64_t now = clock_mono_us();
    int64_t max_age_us = r->app->cfg->cache_max_age_ms * 1000LL;
    int hit = 0;
    pthread_mutex_lock(&e->mu);
    if (e->key && strcmp(e->key, key) == 0 && e->version == now_version &&
        now - e->stored_us < max_age_us) {
        buf_reset(&r->out);
        buf_add(&r->out, e->body, e->len);
        r->content_type = e->content_type;
        if (e->etag[0])
            request_set_header(r, "ETag", e->etag);
        if (e->cache_control[0])
            request_set_header(r, "Cache-Control", e->cache_control);
        request_set_header(r, "X-Cache", "hit");
        r->cached_id = e->id;
        hit = 1;
    }
    pthread_mutex_unlock(&e->mu);
    return hit ? 200 : 0;
}

void cache_put(struct request *r, const char *key, uint64_t version, int64_t id)
{
    if (r->out.len > MAX_BODY || r->out.toobig)
        return;
    struct entry *e = slot_of(key);
    char *body = xmalloc(r->out.len + 1);
    memcpy(body, r->out.data ? r->out.data : "", r->out.len);
    body[r->out.len] = '\0';
    const char *etag = header_value(r, "ETag"), *cc = header_value(r, "Cache-Control");
    pthread_mutex_lock(&e->mu);
    if (!e->key || strcmp(e->key, key) != 0) {
        free(e->key);
        e->key = xstrdup(key);
    }
    free(e->body);
    e->body = body;
    e->len = r->out.len;
    e->content_type = r->content_type;
    snprintf(e->etag, sizeof(e->etag), "%s", etag ? etag : "");
    snprintf(e->cache_control, sizeof(e->cache_control), "%s", cc ? cc : "");
    e->version = version;
    e->id = id;
    e->stored_us = clock_mono_us();
    pthread_mutex_unlock(&e->mu);
}

void cache_clear(void)
{
    pthread_once(&once, init_table);
    for (size_t i = 0; i < SLOTS; i++) {
        pthread_mutex_lock(&table[i].mu);
        free(table[i].key);
        free(table[i].body);
        table[i].key = table[i].body = NULL;
        pthread_mutex_unlock(&table[i].mu);
    }
}
