/*
 * post_views.h - page views per (post, day): the table the views aggregator
 * (site/views.c) flushes into once a second and the rollup job compacts.
 * Threads: the caller's connection (the writer's, for writes).
 */
#ifndef ONEFILE_STORE_POST_VIEWS_H
#define ONEFILE_STORE_POST_VIEWS_H
#include <stddef.h>
#include <stdint.h>

#include "db/driver.h"

/* Adds count views of post_id on day ("YYYY-MM-DD"); a post deleted meanwhile is skipped.
   For a writer function. 0, or a negative DB_E* code with the message in err. */
int post_views_add(struct db_conn *c, const char *day, int64_t post_id, int64_t count, char *err,
                   size_t errlen);
/* rollup-views' write: the oldest month of daily rows before cutoff becomes one row per
   post and month (day = "YYYY-MM", the month's sum), in one writer function. */
struct post_views_rollup {
    const char *cutoff; /* "YYYY-MM-01": daily rows before it are rolled up */
    char month[8];      /* out: the month rolled up, "" when none was left */
    int days, rows;     /* out: daily rows removed, monthly rows written */
};
int post_views_rollup_month(struct db_conn *c, void *arg, char *err, size_t errlen);
#endif
