/*
 * porting.c - walks and the upsert for export/import; see porting.h.
 *
 * The upsert reads the row by slug and compares in C (NULL-safe), then INSERTs or
 * UPDATEs: portable, and it tells created / updated / unchanged apart without an
 * engine-specific RETURNING or IS DISTINCT FROM.
 */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "store/porting.h"
#include "store/store.h"

int porting_each_post(struct db_conn *c, int (*fn)(void *ctx, const struct port_post *p), void *ctx)
{
    struct db_stmt *st = db_prepare(c, "SELECT slug, title, body_md, kind, status, published_at, "
                                       "created_at, updated_at FROM posts ORDER BY id");
    if (!st)
        return -1;
    int rc, ret = 0;
    while ((rc = db_step(st)) == DB_ROW) {
        struct port_post p = {db_column_text(st, 0), db_column_text(st, 1), db_column_text(st, 2),
                              db_column_text(st, 3), db_column_text(st, 4), db_column_text(st, 5),
                              db_column_text(st, 6), db_column_text(st, 7)};
        if (fn(ctx, &p) != 0) {
            ret = -1;
            break;
        }
    }
    db_reset(st);
    if (rc < 0)
        return log_err("porting: posts: %s", db_errmsg(c));
    return ret;
}

int porting_each_media(struct db_conn *c, int (*fn)(void *ctx, const struct media_info *m),
                       void *ctx)
{
    int64_t last = 0;
    for (;;) { /* one row per statement: fn reads chunks on the same connection */
        struct db_stmt *st = db_prepare(
            c, "SELECT id FROM media WHERE state = 'ready' AND id > ?1 ORDER BY id LIMIT 1");
        if (!st)
            return -1;
        db_bind_int64(st, 1, last);
        int rc = db_step(st);
        int64_t id = rc == DB_ROW ? db_column_int64(st, 0) : 0;
        db_reset(st);
        if (rc < 0)
            return log_err("porting: media: %s", db_errmsg(c));
        if (rc == DB_DONE)
            return 0;
        struct media_info m;
        if (media_get(c, id, &m) < 0)
            return -1;
        if (fn(ctx, &m) != 0)
            return -1;
        last = id;
    }
}

static int same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int porting_upsert(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    struct port_upsert *u = arg;
    const struct port_post *p = &u->post;
    struct db_stmt *st = db_prepare(c, "SELECT id, title, body_md, kind, status, published_at, "
                                       "created_at, updated_at FROM posts WHERE slug = ?1");
    if (!st) {
        snprintf(err, errlen, "prepare: %s", db_errmsg(c));
        return -1;
    }
    db_bind_text(st, 1, p->slug);
    int rc = db_step(st);
    int64_t id = 0;
    int differs = 1;
    if (rc == DB_ROW) {
        id = db_column_int64(st, 0);
        differs =
            !same(p->title, db_column_text(st, 1)) || !same(p->body_md, db_column_text(st, 2)) ||
            !same(p->kind, db_column_text(st, 3)) || !same(p->status, db_column_text(st, 4)) ||
            !same(p->published_at, db_column_text(st, 5)) ||
            !same(p->created_at, db_column_text(st, 6)) ||
            !same(p->updated_at, db_column_text(st, 7));
    }
    db_reset(st);
    if (rc < 0) {
        snprintf(err, errlen, "%s", db_errmsg(c));
        return -1;
    }
    if (id && !differs) {
        u->outcome = PORT_UNCHANGED;
        return 0;
    }
    st = db_prepare(c, id ? "UPDATE posts SET title = ?2, body_md = ?3, kind = ?4, status = ?5, "
                            "published_at = ?6, created_at = ?7, updated_at = ?8 WHERE slug = ?1"
                          : "INSERT INTO posts (slug, title, body_md, kind, status, published_at, "
                            "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    if (!st) {
        snprintf(err, errlen, "prepare: %s", db_errmsg(c));
        return -1;
    }
    db_bind_text(st, 1, p->slug);
    db_bind_text(st, 2, p->title);
    db_bind_text(st, 3, p->body_md);
    db_bind_text(st, 4, p->kind);
    db_bind_text(st, 5, p->status);
    db_bind_text(st, 6, p->published_at);
    db_bind_text(st, 7, p->created_at);
    db_bind_text(st, 8, p->updated_at);
    if (db_run(st, err, errlen) < 0)
        return -1;
    u->outcome = id ? PORT_UPDATED : PORT_CREATED;
    return 0;
}
