/*
 * cache.c - whole-response cache; see cache.h.
 *
 * STRIPES stripes, the key's hash picks one (low bits) and a chain in it (high bits).
 * Each stripe has a lock, fixed hash chains and a doubly linked LRU list (most recent at
 * the head). One atomic counter holds the bytes of all entries: after an insert the
 * inserting thread evicts from the tail of its stripe, then of the next ones, until the
 * total is within the budget again (one lock held at a time, never two).
 *
 * An entry's identity body never changes; its compressed variants are added once (under
 * the stripe's lock, after compressing outside it) and then never change either. A
 * variant that did not come out smaller is remembered as tried, so it is not attempted
 * again. An entry found stale (older generation or past its max age) stays until the
 * rebuilt response replaces it (which compares the bytes, to keep Last-Modified when they
 * did not change) or the LRU order evicts it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "core/mem.h"
#include "http/app.h"
#include "http/cache.h"
#include "http/encoding.h"
#include "http/httpdate.h"
#include "http/request.h"

#define STRIPES 16
#define CHAINS 4096                        /* per stripe: 65,536 in all */
#define MAX_BODY ((size_t)4 * 1024 * 1024) /* a sitemap of 50,000 URLs fits */

struct variant {
    char *data;
    size_t len;
    int tried; /* compression was attempted (data NULL: it did not pay) */
};

struct entry {
    struct entry *chain;       /* next in the hash chain */
    struct entry *prev, *next; /* LRU list of the stripe */
    uint64_t hash, serial;
    char *key;
    uint64_t version;
    int64_t stored_us;
    time_t last_modified; /* when these bytes were first built */
    int64_t id;
    const char *content_type; /* a literal */
    char cache_control[48];
    char etag[24]; /* the identity's */
    struct variant v[ENCODING_COUNT];
    size_t bytes; /* what it counts against the budget */
};

struct stripe {
    pthread_mutex_t mu;
    struct entry *chains[CHAINS];
    struct entry lru; /* sentinel: lru.next is the most recent */
};

static struct stripe stripes[STRIPES];
static pthread_once_t once = PTHREAD_ONCE_INIT;
static atomic_uint_fast64_t generation = 1, serials = 1;
static atomic_int_fast64_t due = INT64_MAX; /* the next scheduled change, or INT64_MAX */
static atomic_size_t total_bytes, total_entries;
static atomic_uint_fast64_t hits, misses, evictions;

static void init_stripes(void)
{
    for (size_t i = 0; i < STRIPES; i++) {
        pthread_mutex_init(&stripes[i].mu, NULL);
        stripes[i].lru.next = stripes[i].lru.prev = &stripes[i].lru;
    }
}

static uint64_t hash_of(const char *key)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h ^ (h >> 29);
}

static struct stripe *stripe_of(uint64_t h)
{
    pthread_once(&once, init_stripes);
    return &stripes[h % STRIPES];
}

static struct entry **chain_of(struct stripe *s, uint64_t h)
{
    return &s->chains[(h / STRIPES) % CHAINS];
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

static int enabled(const struct request *r)
{
    return r->app->cfg->cache_max_age_ms > 0 && r->app->cfg->cache_bytes > 0;
}

/* ---- entries (the stripe's lock held) ---- */

static struct entry *find(struct stripe *s, uint64_t h, const char *key)
{
    for (struct entry *e = *chain_of(s, h); e; e = e->chain)
        if (e->hash == h && strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

static void lru_unlink(struct entry *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
}

static void lru_push(struct stripe *s, struct entry *e)
{
    e->next = s->lru.next;
    e->prev = &s->lru;
    s->lru.next->prev = e;
    s->lru.next = e;
}

/* Takes e out of the stripe (chain, LRU, counters); the caller frees it. */
static void detach(struct stripe *s, struct entry *e)
{
    struct entry **pp = chain_of(s, e->hash);
    while (*pp != e)
        pp = &(*pp)->chain;
    *pp = e->chain;
    lru_unlink(e);
    atomic_fetch_sub(&total_bytes, e->bytes);
    atomic_fetch_sub(&total_entries, 1);
}

static void entry_free(struct entry *e)
{
    if (!e)
        return;
    for (int i = 0; i < ENCODING_COUNT; i++)
        free(e->v[i].data);
    free(e->key);
    free(e);
}

static int current(const struct request *r, const struct entry *e, uint64_t version, int64_t now_us)
{
    return e->version == version && now_us - e->stored_us < r->app->cfg->cache_max_age_ms * 1000LL;
}

/* ---- answering from an entry ---- */

/* Sets name to value, replacing a value the handler set. */
static void set_header(struct request *r, const char *name, const char *value)
{
    for (int i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->headers[i][0], name) == 0) {
            free(r->headers[i][1]);
            r->headers[i][1] = xstrdup(value);
            return;
        }
    }
    request_set_header(r, name, value);
}

/* What a response needs from an entry, copied under the lock. */
struct answer {
    enum encoding enc;
    const char *content_type;
    char etag[32];
    char cache_control[48];
    time_t last_modified;
    int64_t id;
};

static void answer_of(const struct entry *e, enum encoding enc, struct answer *a)
{
    a->enc = enc;
    a->content_type = e->content_type;
    encoding_etag(e->etag, enc, a->etag, sizeof(a->etag));
    memcpy(a->cache_control, e->cache_control, sizeof(a->cache_control));
    a->last_modified = e->last_modified;
    a->id = e->id;
}

/* a (made for the identity) now describes variant enc. */
static void to_variant(struct answer *a, enum encoding enc)
{
    char identity[sizeof(a->etag)];
    memcpy(identity, a->etag, sizeof(identity));
    encoding_etag(identity, enc, a->etag, sizeof(a->etag));
    a->enc = enc;
}

static void answer_headers(struct request *r, const struct answer *a)
{
    char date[HTTPDATE_LEN];
    r->content_type = a->content_type;
    set_header(r, "ETag", a->etag);
    httpdate_format(a->last_modified, date);
    set_header(r, "Last-Modified", date);
    if (a->cache_control[0])
        set_header(r, "Cache-Control", a->cache_control);
    if (encoding_compressible(a->content_type))
        set_header(r, "Vary", "Accept-Encoding");
    if (a->enc != ENCODING_IDENTITY)
        set_header(r, "Content-Encoding", encoding_name(a->enc));
    r->cached_id = a->id;
}

/* Adds variant enc (data, len; NULL when it did not pay) to the entry still stored under
   key with serial, unless it has one already. Takes data over in every case. */
static void add_variant(const char *key, uint64_t h, uint64_t serial, enum encoding enc, char *data,
                        size_t len)
{
    struct stripe *s = stripe_of(h);
    pthread_mutex_lock(&s->mu);
    struct entry *e = find(s, h, key);
    if (e && e->serial == serial && !e->v[enc].tried) {
        e->v[enc] = (struct variant){data, len, 1};
        e->bytes += len;
        atomic_fetch_add(&total_bytes, len);
        data = NULL;
    }
    pthread_mutex_unlock(&s->mu);
    free(data);
}

/* Evicts least recently used entries, from stripe `first` on, until the total is within
   the budget; `keep` (just inserted) is spared. */
static void evict(const struct request *r, size_t first, const struct entry *keep)
{
    size_t budget = (size_t)r->app->cfg->cache_bytes;
    for (size_t i = 0; i < STRIPES && atomic_load(&total_bytes) > budget; i++) {
        struct stripe *s = &stripes[(first + i) % STRIPES];
        pthread_mutex_lock(&s->mu);
        while (atomic_load(&total_bytes) > budget && s->lru.prev != &s->lru &&
               s->lru.prev != keep) {
            struct entry *e = s->lru.prev;
            detach(s, e);
            entry_free(e);
            atomic_fetch_add(&evictions, 1);
        }
        pthread_mutex_unlock(&s->mu);
    }
}

/* Compresses r's identity body into enc and answers with it when that pays, keeping the
   variant with the entry (key, serial); r stays identity otherwise. */
static enum encoding compress_for(struct request *r, const char *key, uint64_t h, uint64_t serial,
                                  enum encoding enc)
{
    char *z = NULL;
    size_t zlen = 0;
    int ok = encoding_compress(enc, r->out.data ? r->out.data : "", r->out.len, &z, &zlen) == 0;
    if (ok) {
        buf_reset(&r->out);
        buf_add(&r->out, z, zlen);
    }
    add_variant(key, h, serial, enc, ok ? z : NULL, zlen);
    return ok ? enc : ENCODING_IDENTITY;
}

int cache_get(struct request *r, const char *key)
{
    if (!enabled(r))
        return 0;
    uint64_t h = hash_of(key);
    struct stripe *s = stripe_of(h);
    enum encoding want = encoding_choose(request_header(r, "Accept-Encoding"), ENCODING_ALL);
    struct answer a;
    uint64_t serial = 0;
    int hit = 0, make = 0;
    pthread_mutex_lock(&s->mu);
    struct entry *e = find(s, h, key);
    if (e && current(r, e, cache_version(r), clock_mono_us())) {
        hit = 1;
        lru_unlink(e);
        lru_push(s, e);
        enum encoding enc = want;
        if (!encoding_worth(e->content_type, e->v[ENCODING_IDENTITY].len))
            enc = ENCODING_IDENTITY;
        if (enc != ENCODING_IDENTITY && !e->v[enc].data) {
            make = !e->v[enc].tried; /* the first client asking for it makes it */
            enc = ENCODING_IDENTITY;
        }
        buf_reset(&r->out);
        buf_add(&r->out, e->v[enc].data, e->v[enc].len);
        answer_of(e, enc, &a);
        serial = e->serial;
    }
    pthread_mutex_unlock(&s->mu);
    if (!hit) {
        atomic_fetch_add(&misses, 1);
        return 0;
    }
    atomic_fetch_add(&hits, 1);
    if (make && compress_for(r, key, h, serial, want) == want)
        to_variant(&a, want);
    answer_headers(r, &a);
    request_set_header(r, "X-Cache", "hit");
    return 200;
}

/* The identity ETag of r's response: the handler's, else a hash of the body. */
static void identity_etag(struct request *r, char out[24])
{
    for (int i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->headers[i][0], "ETag") == 0) {
            snprintf(out, 24, "%s", r->headers[i][1]);
            return;
        }
    }
    request_etag(r->out.data ? r->out.data : "", r->out.len, out);
}

void cache_put(struct request *r, const char *key, uint64_t version, int64_t id)
{
    size_t cap = (size_t)r->app->cfg->cache_bytes / 4;
    if (!enabled(r) || r->out.toobig || r->out.len > MAX_BODY || r->out.len > cap)
        return;
    uint64_t h = hash_of(key);
    struct stripe *s = stripe_of(h);
    struct entry *e = xcalloc(1, sizeof(*e));
    e->hash = h;
    e->serial = atomic_fetch_add(&serials, 1);
    e->key = xstrdup(key);
    e->version = version;
    e->id = id;
    e->content_type = r->content_type;
    e->stored_us = clock_mono_us();
    e->last_modified = time(NULL);
    identity_etag(r, e->etag);
    const char *cc = NULL;
    for (int i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i][0], "Cache-Control") == 0)
            cc = r->headers[i][1];
    snprintf(e->cache_control, sizeof(e->cache_control), "%s", cc ? cc : "");
    e->v[ENCODING_IDENTITY] = (struct variant){xmalloc(r->out.len + 1), r->out.len, 1};
    memcpy(e->v[ENCODING_IDENTITY].data, r->out.data ? r->out.data : "", r->out.len);
    e->v[ENCODING_IDENTITY].data[r->out.len] = '\0';
    /* the coding this client takes is made now (outside the lock); the others when asked */
    enum encoding want = encoding_choose(request_header(r, "Accept-Encoding"), ENCODING_ALL);
    if (!encoding_worth(e->content_type, r->out.len))
        want = ENCODING_IDENTITY;
    if (want != ENCODING_IDENTITY) {
        struct variant *v = &e->v[want];
        v->tried = 1;
        if (encoding_compress(want, r->out.data, r->out.len, &v->data, &v->len) != 0)
            v->data = NULL, v->len = 0;
    }
    e->bytes = sizeof(*e) + strlen(key) + 1;
    for (int i = 0; i < ENCODING_COUNT; i++)
        e->bytes += e->v[i].len;
    struct answer a;
    enum encoding enc = e->v[want].data ? want : ENCODING_IDENTITY;
    answer_of(e, enc, &a);
    if (enc != ENCODING_IDENTITY) {
        buf_reset(&r->out);
        buf_add(&r->out, e->v[enc].data, e->v[enc].len);
    }
    pthread_mutex_lock(&s->mu);
    struct entry *old = find(s, h, key);
    if (old) {
        /* the same bytes built again (the max age passed, or an unrelated post changed):
           they were not modified then */
        if (strcmp(old->etag, e->etag) == 0)
            e->last_modified = a.last_modified = old->last_modified;
        detach(s, old);
    }
    struct entry **chain = chain_of(s, h);
    e->chain = *chain;
    *chain = e;
    lru_push(s, e);
    atomic_fetch_add(&total_bytes, e->bytes);
    atomic_fetch_add(&total_entries, 1);
    pthread_mutex_unlock(&s->mu);
    entry_free(old);
    evict(r, (size_t)(s - stripes), e);
    answer_headers(r, &a);
}

void cache_get_stats(struct cache_stats *st)
{
    st->bytes = atomic_load(&total_bytes);
    st->entries = atomic_load(&total_entries);
    st->hits = atomic_load(&hits);
    st->misses = atomic_load(&misses);
    st->evictions = atomic_load(&evictions);
}

void cache_clear(void)
{
    pthread_once(&once, init_stripes);
    for (size_t i = 0; i < STRIPES; i++) {
        struct stripe *s = &stripes[i];
        pthread_mutex_lock(&s->mu);
        while (s->lru.next != &s->lru) {
            struct entry *e = s->lru.next;
            detach(s, e);
            entry_free(e);
        }
        pthread_mutex_unlock(&s->mu);
    }
}
