/*
 * cache.h - an in-memory cache of whole public responses (home pages, posts, pages, the
 * feed, the sitemap, the API's public reads and lists), so a page is built once and then
 * answered from memory, compressed once per entry.
 *
 * Validity: every entry records the content generation read BEFORE the response was
 * built. The generation moves only when published content changes (cache_changed(),
 * called after a post or page write committed: the API's and the admin panel's), never for
 * page views, sessions, messages or jobs, so those writes evict nothing. An entry is used
 * only while its generation is current and for at most ONEFILE_CACHE_MAX_AGE_MS (1000 by
 * default; that bounds how long a change made by another process - the sqlite3 shell,
 * another onefile command - goes unseen). Content also changes by itself when a scheduled
 * post comes due: a handler that read the next due time tells cache_due(), and the first
 * cache_version() at or after that second moves the generation. Only anonymous responses
 * are cached; handlers decide what is cacheable and with which key. A hit is answered with
 * "X-Cache: hit".
 *
 * Size: the entries' bytes (bodies, their compressed variants, keys and bookkeeping) stay
 * within ONEFILE_CACHE_BYTES (64 MiB by default; 0 turns the cache off); beyond it the
 * least recently used entries are evicted. A body larger than a quarter of the budget (or
 * than 4 MiB) is not cached.
 *
 * Representations: a stored entry answers every request with the best coding its
 * Accept-Encoding allows (http/encoding.h): each compressed variant is made once, the first
 * time a client asks for it, and kept with the entry. Responses carry ETag (the variant's),
 * Last-Modified (when this body was first built: a rebuild with the same bytes keeps it),
 * Vary: Accept-Encoding (compressible types), Cache-Control as the handler set it; the
 * server answers If-None-Match / If-Modified-Since with 304 (http/server.c).
 *
 * Threads: any. The table is split into stripes, each with its own lock, hash chains and
 * LRU list (one byte counter for all); compression runs outside the locks.
 */
#ifndef ONEFILE_HTTP_CACHE_H
#define ONEFILE_HTTP_CACHE_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct request;

/* The content generation to pass to cache_put() for a response about to be built. */
uint64_t cache_version(struct request *r);
/* Published content changed (committed): every entry built before is stale. */
void cache_changed(void);
/* Fills r's response (body in the best accepted coding, content type, ETag,
   Last-Modified, Vary, Content-Encoding, Cache-Control, and r->cached_id) from the cache
   when a current entry exists for key: returns 200, else 0. */
int cache_get(struct request *r, const char *key);
/* Stores r's 200 response under key, built from data at `version`; id is handed back in
   r->cached_id on a hit (the post whose page it is, to count its view), or 0. Then
   answers r from the stored entry (its accepted coding and headers, as cache_get()).
   Nothing is stored (and r is answered as built) when the cache is off or the body is
   over the size cap. */
void cache_put(struct request *r, const char *key, uint64_t version, int64_t id);
/* Published content changes by itself at `when` (seconds since the epoch, UTC: a
   scheduled post's published_at); 0 is ignored. The earliest time given is kept. */
void cache_due(int64_t when);

struct cache_stats {
    size_t bytes, entries;
    uint64_t hits, misses, evictions;
};
void cache_get_stats(struct cache_stats *st);
/* Frees every entry (at exit). */
void cache_clear(void);
#endif
