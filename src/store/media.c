/*
 * media.c - uploaded files, their chunks and variants; see media.h for the write sequence.
 *
 * Every statement is portable (?N placeholders, times bound from C, ON CONFLICT DO NOTHING
 * which SQLite >= 3.24 and PostgreSQL share); blobs are BLOB on SQLite, bytea on
 * PostgreSQL, bound and read through db_bind_blob / db_column_blob either way.
 */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "store/media.h"
#include "store/store.h"

#define COLS "id, sha256, filename, mime, bytes, width, height, chunks, created_at"

static void copy_text(char *dst, size_t n, const char *s)
{
    snprintf(dst, n, "%s", s ? s : "");
}

static void row_info(struct db_stmt *st, struct media_info *m)
{
    m->id = db_column_int64(st, 0);
    copy_text(m->sha256, sizeof(m->sha256), db_column_text(st, 1));
    copy_text(m->filename, sizeof(m->filename), db_column_text(st, 2));
    copy_text(m->mime, sizeof(m->mime), db_column_text(st, 3));
    m->bytes = db_column_int64(st, 4);
    m->width = db_column_int64(st, 5);
    m->height = db_column_int64(st, 6);
    m->chunks = db_column_int64(st, 7);
    copy_text(m->created_at, sizeof(m->created_at), db_column_text(st, 8));
}

static int prep_fail(struct db_conn *c, char *err, size_t errlen)
{
    snprintf(err, errlen, "prepare: %s", db_errmsg(c));
    return -1;
}

int media_begin(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    struct media_new *n = arg;
    const struct media_info *m = &n->info;
    struct db_stmt *st = db_prepare(c, "SELECT id, state FROM media WHERE sha256 = ?1");
    if (!st)
        return prep_fail(c, err, errlen);
    db_bind_text(st, 1, m->sha256);
    int rc = db_step(st);
    int64_t old = 0;
    int ready = 0;
    if (rc == DB_ROW) {
        old = db_column_int64(st, 0);
        ready = strcmp(db_column_text(st, 1), "ready") == 0;
    }
    db_reset(st);
    if (rc < 0) {
        snprintf(err, errlen, "media: %s", db_errmsg(c));
        return -1;
    }
    if (ready) {
        n->id = old;
        n->existing = 1;
        return 0;
    }
    if (old && store_exec_id(c, "DELETE FROM media WHERE id = ?1", old, err, errlen) < 0)
        return -1;
    char now[32];
    store_time(0, now);
    st = db_prepare_insert(c, "INSERT INTO media (sha256, filename, mime, bytes, width, height, "
                              "chunks, state, created_at) "
                              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8)");
    if (!st)
        return prep_fail(c, err, errlen);
    db_bind_text(st, 1, m->sha256);
    db_bind_text(st, 2, m->filename);
    db_bind_text(st, 3, m->mime);
    db_bind_int64(st, 4, m->bytes);
    if (m->width > 0) {
        db_bind_int64(st, 5, m->width);
        db_bind_int64(st, 6, m->height);
    }
    db_bind_int64(st, 7, m->chunks);
    db_bind_text(st, 8, now);
    if (db_run(st, err, errlen) < 0)
        return -1;
    n->id = db_insert_id(st);
    n->existing = 0;
    return 0;
}

int media_put_chunk(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    const struct media_chunk *k = arg;
    struct db_stmt *st =
        db_prepare(c, "INSERT INTO media_chunks (media_id, seq, data) VALUES (?1, ?2, ?3)");
    if (!st)
        return prep_fail(c, err, errlen);
    db_bind_int64(st, 1, k->media_id);
    db_bind_int64(st, 2, k->seq);
    db_bind_blob(st, 3, k->data, k->len);
    return db_run(st, err, errlen) < 0 ? -1 : 0;
}

int media_finish(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    int64_t id = *(int64_t *)arg;
    if (store_exec_id(c,
                      "UPDATE media SET state = 'ready' WHERE id = ?1 AND state = 'pending' "
                      "AND chunks = (SELECT count(*) FROM media_chunks WHERE media_id = ?1)",
                      id, err, errlen) < 0)
        return -1;
    if (db_changes(c) == 0) {
        snprintf(err, errlen, "media %lld: not pending, or chunks missing", (long long)id);
        return -1;
    }
    return 0;
}

int media_abort(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    int64_t id = *(int64_t *)arg;
    return store_exec_id(c, "DELETE FROM media WHERE id = ?1 AND state = 'pending'", id, err,
                         errlen) < 0
               ? -1
               : 0;
}

int media_delete(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    struct media_del *d = arg;
    if (store_exec_id(c, "DELETE FROM media WHERE id = ?1 AND state = 'ready'", d->id, err,
                      errlen) < 0)
        return -1;
    if (db_changes(c) == 0) {
        d->not_found = 1;
        snprintf(err, errlen, "no media %lld", (long long)d->id);
        return -1;
    }
    return 0;
}

static int get_one(struct db_conn *c, struct db_stmt *st, struct media_info *out)
{
    int rc = db_step(st);
    if (rc == DB_ROW)
        row_info(st, out);
    db_reset(st);
    if (rc < 0)
        return log_err("media: %s", db_errmsg(c));
    return rc == DB_ROW ? 0 : 1;
}

int media_get_by_sha(struct db_conn *c, const char *sha256, struct media_info *out)
{
    struct db_stmt *st =
        db_prepare(c, "SELECT " COLS " FROM media WHERE sha256 = ?1 AND state = 'ready'");
    if (!st)
        return -1;
    db_bind_text(st, 1, sha256);
    return get_one(c, st, out);
}

int media_get(struct db_conn *c, int64_t id, struct media_info *out)
{
    struct db_stmt *st =
        db_prepare(c, "SELECT " COLS " FROM media WHERE id = ?1 AND state = 'ready'");
    if (!st)
        return -1;
    db_bind_int64(st, 1, id);
    return get_one(c, st, out);
}

int media_read(struct db_conn *c, const struct media_info *m, uint64_t offset, uint64_t len,
               struct buf *out)
{
    if (len == 0)
        return 0;
    if (offset + len > (uint64_t)m->bytes)
        return log_err("media %lld: read past the end", (long long)m->id);
    int64_t first = (int64_t)(offset / MEDIA_CHUNK);
    int64_t last = (int64_t)((offset + len - 1) / MEDIA_CHUNK);
    struct db_stmt *st = db_prepare(c, "SELECT seq, data FROM media_chunks WHERE media_id = ?1 "
                                       "AND seq >= ?2 AND seq <= ?3 ORDER BY seq");
    if (!st)
        return -1;
    db_bind_int64(st, 1, m->id);
    db_bind_int64(st, 2, first);
    db_bind_int64(st, 3, last);
    int rc, ret = -1;
    int64_t want = first;
    uint64_t left = len;
    while ((rc = db_step(st)) == DB_ROW) {
        int64_t seq = db_column_int64(st, 0);
        const unsigned char *p = db_column_blob(st, 1);
        uint64_t n = db_column_bytes(st, 1);
        uint64_t start = seq == first ? offset % MEDIA_CHUNK : 0;
        if (seq != want || start > n)
            goto damaged;
        uint64_t take = n - start < left ? n - start : left;
        if (buf_add(out, p + start, (size_t)take) != 0)
            goto out;
        left -= take;
        want++;
    }
    if (rc < 0) {
        log_err("media: %s", db_errmsg(c));
        goto out;
    }
    if (left) {
    damaged:
        log_err("media %lld: chunk %lld missing or short", (long long)m->id, (long long)want);
        goto out;
    }
    ret = 0;
out:
    db_reset(st);
    return ret;
}

json_t *media_json(const struct media_info *m)
{
    json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:I,s:s}", "id", (json_int_t)m->id, "sha256", m->sha256,
                          "filename", m->filename, "mime", m->mime, "bytes", (json_int_t)m->bytes,
                          "created_at", m->created_at);
    json_object_set_new(o, "width", m->width > 0 ? json_integer(m->width) : json_null());
    json_object_set_new(o, "height", m->height > 0 ? json_integer(m->height) : json_null());
    return o;
}

/* instr() is SQLite's, strpos() PostgreSQL's (whose parameters need their type named). */
static const struct db_sql list_sql = {{
    [DB_ENGINE_SQLITE] = "SELECT " COLS " FROM media WHERE state = 'ready' "
                         "AND (?1 = 0 OR id < ?1) "
                         "AND (?2 IS NULL OR instr(lower(filename), lower(?2)) > 0) "
                         "ORDER BY id DESC LIMIT ?3",
    [DB_ENGINE_POSTGRES] = "SELECT " COLS " FROM media WHERE state = 'ready' "
                           "AND (?1 = 0 OR id < ?1) "
                           "AND (?2::text IS NULL OR strpos(lower(filename), lower(?2::text)) > 0) "
                           "ORDER BY id DESC LIMIT ?3",
}};

int media_list(struct db_conn *c, const char *search, int limit, int64_t before, json_t **items,
               int64_t *next)
{
    struct db_stmt *st = db_prepare_sql(c, &list_sql);
    if (!st)
        return -1;
    db_bind_int64(st, 1, before);
    db_bind_text(st, 2, search && *search ? search : NULL);
    db_bind_int64(st, 3, limit + 1);
    json_t *arr = json_array();
    int rc, n = 0;
    *next = 0;
    while ((rc = db_step(st)) == DB_ROW) {
        struct media_info m;
        row_info(st, &m);
        if (n++ == limit) {
            *next = (int64_t)json_integer_value(
                json_object_get(json_array_get(arr, json_array_size(arr) - 1), "id"));
            break;
        }
        json_array_append_new(arr, media_json(&m));
    }
    db_reset(st);
    if (rc < 0) {
        json_decref(arr);
        return log_err("media: list: %s", db_errmsg(c));
    }
    *items = arr;
    return 0;
}

int64_t media_used_by(struct db_conn *c, const char *sha256)
{
    char pat[96];
    snprintf(pat, sizeof(pat), "%%/media/%s/%%", sha256); /* hex: no LIKE metacharacters */
    struct db_stmt *st = db_prepare(c, "SELECT count(*) FROM posts WHERE body_md LIKE ?1");
    if (!st)
        return -1;
    db_bind_text(st, 1, pat);
    int rc = db_step(st);
    int64_t n = rc == DB_ROW ? db_column_int64(st, 0) : -1;
    db_reset(st);
    if (rc < 0)
        return log_err("media: used by: %s", db_errmsg(c));
    return n;
}

int media_totals(struct db_conn *c, int64_t *count, int64_t *bytes)
{
    struct db_stmt *st =
        db_prepare(c, "SELECT count(*), coalesce(sum(bytes), 0) FROM media WHERE state = 'ready'");
    if (!st)
        return -1;
    int rc = db_step(st);
    if (rc == DB_ROW) {
        *count = db_column_int64(st, 0);
        *bytes = db_column_int64(st, 1);
    }
    db_reset(st);
    return rc == DB_ROW ? 0 : log_err("media: totals: %s", db_errmsg(c));
}

int media_variant_put(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    const struct media_variant *v = arg;
    struct db_stmt *st =
        db_prepare(c, "INSERT INTO media_variants (media_id, width, height, mime, data) "
                      "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING");
    if (!st)
        return prep_fail(c, err, errlen);
    db_bind_int64(st, 1, v->media_id);
    db_bind_int64(st, 2, v->width);
    db_bind_int64(st, 3, v->height);
    db_bind_text(st, 4, v->mime);
    db_bind_blob(st, 5, v->data, v->len);
    return db_run(st, err, errlen) < 0 ? -1 : 0;
}

int media_variant_widths(struct db_conn *c, int64_t media_id, int64_t *w, int64_t *h, int n)
{
    struct db_stmt *st = db_prepare(
        c, "SELECT width, height FROM media_variants WHERE media_id = ?1 ORDER BY width");
    if (!st)
        return -1;
    db_bind_int64(st, 1, media_id);
    int rc, k = 0;
    while ((rc = db_step(st)) == DB_ROW && k < n) {
        w[k] = db_column_int64(st, 0);
        h[k] = db_column_int64(st, 1);
        k++;
    }
    db_reset(st);
    return rc < 0 ? log_err("media: variants: %s", db_errmsg(c)) : k;
}

int media_variant_get(struct db_conn *c, int64_t media_id, int64_t width, char *mime,
                      struct buf *out)
{
    struct db_stmt *st =
        db_prepare(c, "SELECT mime, data FROM media_variants WHERE media_id = ?1 AND width = ?2");
    if (!st)
        return -1;
    db_bind_int64(st, 1, media_id);
    db_bind_int64(st, 2, width);
    int rc = db_step(st), ret = 1;
    if (rc == DB_ROW) {
        copy_text(mime, 80, db_column_text(st, 0));
        ret = buf_add(out, db_column_blob(st, 1), db_column_bytes(st, 1)) == 0 ? 0 : -1;
    }
    db_reset(st);
    if (rc < 0)
        return log_err("media: variant: %s", db_errmsg(c));
    return ret;
}
