/*
 * samples.h - what the dashboard's charts draw: every SAMPLE_INTERVAL_S a thread records
 * requests/s, writes/s, the write p99 over the interval and the WAL size into a ring that
 * covers the last two hours; samples_charts() turns it into SVG drawn by the server (no
 * JavaScript, nothing fetched by the browser).
 * Threads: one sampler thread; samples_charts() from any thread (mutex).
 */
#ifndef ONEFILE_ADMIN_SAMPLES_H
#define ONEFILE_ADMIN_SAMPLES_H
#include <jansson.h>

#define SAMPLE_INTERVAL_S 20
#define SAMPLE_COUNT 360 /* two hours */

struct app;
struct samples;

struct samples *samples_start(struct app *app);
void samples_stop(struct samples *s);
/* {span: "2 hours", items: [{title, svg, last, peak}]} */
json_t *samples_charts(struct samples *s);
#endif
