/*
 * cache.h - a small in-memory cache of whole public responses (a post or page, the
 * API's view of a published post), so a popular page is answered from memory.
 *
 * Validity: every entry records the content generation read BEFORE the response was
 * built. The generation moves only when published content changes (cache_changed(),
 * called after a post or page write committed: the API's and the admin panel's), never for
 * page views, sessions, messages or jobs, so those writes evict nothing. An entry is used
 * only while its generation is current and for at most ONEFILE_CACHE_MAX_AGE_MS (1000 by
 * default), which bounds how long a change made by another process (the sqlite3 shell,
 * another onefile command) goes unseen. Content also changes by itself when a scheduled
 * post comes due: a handler that read the next due time tells cache_due(), and the first
 * cache_version() at or after that second moves the generation. Only anonymous responses are
 * cached; handlers decide what is cacheable and with which key. A hit is answered with "X-Cache:
 * hit". Threads: any (striped locks).
 */
#ifndef ONEFILE_HTTP_CACHE_H
#define ONEFILE_HTTP_CACHE_H
#include <stdint.h>

struct request;

/* The content generation to pass to cache_put() for a response about to be built. */
uint64_t cache_version(struct request *r);
/* Published content changed (committed): every entry built before is stale. */
void cache_changed(void);
/* Published content changes by itself at `when` (seconds since the epoch, UTC: a
   scheduled post's published_at); 0 is ignored. The earliest time given is kept. */
void cache_due(int64_t when);
/* Fills r's response (body, content type, ETag, Cache-Control, and r->cached_id) from the
   cache when a current entry exists for key: returns 200, else 0. */
int cache_get(struct request *r, const char *key);
/* Stores r's 200 response under key, built from data at `version`; id is handed back in
   r->cached_id on a hit (the post whose page it is, to count its view), or 0. */
void cache_put(struct request *r, const char *key, uint64_t version, int64_t id);
/* Frees every entry (at exit). */
void cache_clear(void);
#endif
