/*
 * views.h - page views, counted in memory and written through the writer once a second
 * as one aggregated write (per post and day), so a visitor never waits for a write and
 * a busy page costs one upsert per second, not one commit per view.
 *
 * The price: views counted in the last second before a crash (SIGKILL, power loss) are
 * lost; a clean stop flushes them. Acceptable for a counter; nothing else works this way.
 * Threads: views_record() from any thread; start/stop from serve's main thread.
 */
#ifndef ONEFILE_SITE_VIEWS_H
#define ONEFILE_SITE_VIEWS_H
#include <stdint.h>

struct views;
struct writer;

/* Starts the once-a-second flusher, writing through w. */
struct views *views_start(struct writer *w, long flush_ms);
/* Counts one view of post id. */
void views_record(struct views *v, int64_t id);
/* Flushes what is counted (waiting for the write) and stops. NULL is fine. */
void views_stop(struct views *v);
#endif
