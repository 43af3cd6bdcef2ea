/*
 * post_views.c - page views per (post, day); see post_views.h.
 *
 * One upsert per (post, day): the INSERT ... ON CONFLICT DO UPDATE form both engines
 * accept (the column qualified by its table, as PostgreSQL requires).
 */
#include "store/post_views.h"

#include <stdio.h>

int post_views_add(struct db_conn *c, const char *day, int64_t post_id, int64_t count, char *err,
                   size_t errlen)
{
    struct db_stmt *st = db_prepare(
        c, "INSERT INTO post_views (post_id, day, count) SELECT ?1, ?2, ?3 "
           "WHERE EXISTS (SELECT 1 FROM posts WHERE id = ?1) "
           "ON CONFLICT (post_id, day) DO UPDATE SET count = post_views.count + excluded.count");
    if (!st) {
        snprintf(err, errlen, "prepare: %s", db_errmsg(c));
        return DB_ERR;
    }
    db_bind_int64(st, 1, post_id);
    db_bind_text(st, 2, day);
    db_bind_int64(st, 3, count);
    return db_run(st, err, errlen);
}
