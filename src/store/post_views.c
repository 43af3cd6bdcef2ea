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

int post_views_rollup_month(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    struct post_views_rollup *r = arg;
    char from[16], to[16];
    r->month[0] = '\0';
    r->days = r->rows = 0;
    struct db_stmt *st = db_prepare(c, "SELECT substr(min(day), 1, 7) FROM post_views "
                                       "WHERE length(day) = 10 AND day < ?1");
    if (!st)
        goto fail;
    db_bind_text(st, 1, r->cutoff);
    int rc = db_step(st);
    if (rc == DB_ROW && !db_column_is_null(st, 0))
        snprintf(r->month, sizeof(r->month), "%s", db_column_text(st, 0));
    if (rc != DB_ROW)
        snprintf(err, errlen, "%s", db_errmsg(c));
    db_reset(st);
    if (rc != DB_ROW)
        return -1;
    if (!r->month[0])
        return 0;
    snprintf(from, sizeof(from), "%s-01", r->month);
    snprintf(to, sizeof(to), "%s-32", r->month); /* after every day of the month */
    st = db_prepare(c, "INSERT INTO post_views (post_id, day, count) "
                       "SELECT post_id, ?1, sum(count) FROM post_views "
                       "WHERE length(day) = 10 AND day >= ?2 AND day < ?3 "
                       "GROUP BY post_id "
                       "ON CONFLICT (post_id, day) DO UPDATE SET "
                       "count = post_views.count + excluded.count");
    if (!st)
        goto fail;
    db_bind_text(st, 1, r->month);
    db_bind_text(st, 2, from);
    db_bind_text(st, 3, to);
    if (db_run(st, err, errlen) < 0)
        return -1;
    r->rows = (int)db_changes(c);
    st = db_prepare(c, "DELETE FROM post_views WHERE length(day) = 10 AND day >= ?1 "
                       "AND day < ?2");
    if (!st)
        goto fail;
    db_bind_text(st, 1, from);
    db_bind_text(st, 2, to);
    if (db_run(st, err, errlen) < 0)
        return -1;
    r->days = (int)db_changes(c);
    return 0;
fail:
    snprintf(err, errlen, "prepare: %s", db_errmsg(c));
    return -1;
}
