/*
 * posts.c - posts and pages; see posts.h.
 *
 * Written against the statement interface (db/driver.h): each connection prepares each
 * query once. The two statements with SQLite-only words (OR FAIL) are struct db_sql with
 * the plain form for PostgreSQL, where a failed statement never leaves a partial change.
 * Writes are writer functions: one statement each (no RETURNING: it builds an ephemeral
 * table per row; the rowid and the change count say the same). On request they give the
 * stored row: an insert binds every column (the schema's defaults applied here), so its
 * row is what it bound; an update reads the row back inside the same transaction.
 */
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/jsonenc.h"
#include "core/log.h"
#include "core/mem.h"
#include "db/driver.h"
#include "store/posts.h"
#include "store/store.h"

#define COLUMNS "id, slug, title, body_md, kind, status, published_at, created_at, updated_at"

#define NTEXT 8 /* the text columns, after id */
static const char *const text_names[NTEXT] = {"slug",   "title",        "body_md",    "kind",
                                              "status", "published_at", "created_at", "updated_at"};

static json_t *text_or_null(const char *t, size_t len)
{
    return t ? json_stringn(t, len) : json_null();
}

/* The row at st (columns in COLUMNS order) as a JSON object. */
static json_t *row(struct db_stmt *st)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(db_column_int64(st, 0)));
    for (int i = 0; i < NTEXT; i++) {
        const char *t = db_column_text(st, i + 1);
        json_object_set_new(o, text_names[i], text_or_null(t, db_column_bytes(st, i + 1)));
    }
    return o;
}

struct post_row {
    int64_t id;
    const char *text[NTEXT]; /* into data; NULL for SQL NULL */
    size_t len[NTEXT];
    char data[];
};

/* A post's columns packed into one allocation: texts v (NULL for SQL NULL) of lengths len,
   copied and NUL-terminated. */
static struct post_row *row_pack(int64_t id, const char *const v[NTEXT], const size_t len[NTEXT])
{
    size_t total = 0;
    for (int i = 0; i < NTEXT; i++)
        total += v[i] ? len[i] + 1 : 0;
    struct post_row *r = xmalloc(sizeof(*r) + total);
    r->id = id;
    char *p = r->data;
    for (int i = 0; i < NTEXT; i++) {
        r->len[i] = v[i] ? len[i] : 0;
        r->text[i] = v[i] ? p : NULL;
        if (v[i]) {
            memcpy(p, v[i], len[i]);
            p[len[i]] = '\0';
            p += len[i] + 1;
        }
    }
    return r;
}

/* The row at st copied (made on the writer's thread, which should not spend its time
   building JSON objects that another thread then frees). */
static struct post_row *row_copy(struct db_stmt *st)
{
    const char *v[NTEXT];
    size_t len[NTEXT];
    for (int i = 0; i < NTEXT; i++) {
        v[i] = db_column_text(st, i + 1);
        len[i] = db_column_bytes(st, i + 1);
    }
    return row_pack(db_column_int64(st, 0), v, len);
}

int posts_row_encode(struct buf *b, const struct post_row *r)
{
    size_t size = 160; /* the keys, the id and the braces */
    for (int i = 0; i < NTEXT; i++)
        size += r->len[i] + 2;
    if (buf_reserve(b, size) < 0 || buf_addf(b, "{\"id\":%lld", (long long)r->id) < 0)
        return -1;
    for (int i = 0; i < NTEXT; i++) {
        if (r->text[i] && !jsonenc_utf8_valid(r->text[i], r->len[i]))
            continue; /* jansson refuses it as a string: row() leaves it out */
        if (buf_add(b, ",\"", 2) < 0 || buf_adds(b, text_names[i]) < 0 || buf_add(b, "\":", 2) < 0)
            return -1;
        if (r->text[i] ? jsonenc_string(b, r->text[i], r->len[i]) < 0 : buf_add(b, "null", 4) < 0)
            return -1;
    }
    return buf_addc(b, '}');
}

static int one(struct db_conn *c, struct db_stmt *st, json_t **out)
{
    int rc = db_step(st);
    if (rc == DB_ROW) {
        *out = row(st);
        db_reset(st);
        return 0;
    }
    db_reset(st);
    if (rc == DB_DONE)
        return 1;
    return log_err("posts: %s", db_errmsg(c));
}

/* What the public sees: published, and no longer scheduled (published_at has come).
   Times are ISO 8601 UTC text of one shape, so they compare as text. */
#define VISIBLE "status = 'published' AND published_at <= "

int posts_get(struct db_conn *c, int64_t id, int include_drafts, json_t **out)
{
    char now[32];
    store_time(0, now);
    struct db_stmt *st = db_prepare(c, "SELECT " COLUMNS " FROM posts WHERE id = ?1 AND "
                                       "(?2 <> 0 OR (" VISIBLE "?3))");
    if (!st)
        return -1;
    db_bind_int64(st, 1, id);
    db_bind_int64(st, 2, include_drafts);
    db_bind_text(st, 3, now);
    return one(c, st, out);
}

int posts_get_by_slug(struct db_conn *c, const char *slug, const char *kind, int include_drafts,
                      json_t **out)
{
    char now[32];
    store_time(0, now);
    struct db_stmt *st =
        db_prepare(c, "SELECT " COLUMNS " FROM posts WHERE slug = ?1 AND (?2 IS NULL OR kind = ?2) "
                      "AND (?3 <> 0 OR (" VISIBLE "?4))");
    if (!st)
        return -1;
    db_bind_text(st, 1, slug);
    db_bind_text(st, 2, kind);
    db_bind_int64(st, 3, include_drafts);
    db_bind_text(st, 4, now);
    return one(c, st, out);
}

/* instr() is SQLite's; PostgreSQL's is strpos(). */
static const struct db_sql list_sql = {{
    [DB_ENGINE_SQLITE] = "SELECT " COLUMNS " FROM posts WHERE (?1 IS NULL OR kind = ?1) "
                         "AND (?2 IS NULL OR status = ?2) AND (?3 <> 0 OR (" VISIBLE "?7)) "
                         "AND (?4 = 0 OR id < ?4) "
                         "AND (?5 IS NULL OR instr(lower(title), lower(?5)) > 0) "
                         "ORDER BY id DESC LIMIT ?6",
    [DB_ENGINE_POSTGRES] = "SELECT " COLUMNS " FROM posts WHERE (?1 IS NULL OR kind = ?1) "
                           "AND (?2 IS NULL OR status = ?2) AND (?3 <> 0 OR status = 'published') "
                           "AND (?4 = 0 OR id < ?4) "
                           "AND (?5 IS NULL OR strpos(lower(title), lower(?5)) > 0) "
                           "ORDER BY id DESC LIMIT ?6",
}};

int posts_list(struct db_conn *c, const struct posts_query *q, json_t **items, int64_t *next)
{
    struct db_stmt *st = db_prepare_sql(c, &list_sql);
    if (!st)
        return -1;
    db_bind_text(st, 1, q->kind);
    db_bind_text(st, 2, q->status);
    db_bind_int64(st, 3, q->include_drafts);
    db_bind_int64(st, 4, q->before);
    db_bind_text(st, 5, q->search);
    db_bind_int64(st, 6, q->limit + 1); /* one more tells whether a next page exists */
    char now[32];
    store_time(0, now);
    db_bind_text(st, 7, now);
    *items = json_array();
    *next = 0;
    int rc, n = 0;
    int64_t last = 0;
    while ((rc = db_step(st)) == DB_ROW) {
        if (n++ == q->limit) {
            *next = last;
            break;
        }
        last = db_column_int64(st, 0);
        json_array_append_new(*items, row(st));
    }
    db_reset(st);
    if (rc < 0) {
        json_decref(*items);
        *items = NULL;
        return log_err("posts: list: %s", db_errmsg(c));
    }
    return 0;
}

int posts_published(struct db_conn *c, const char *kind, int page, int per_page, json_t **items,
                    int *more)
{
    char now[32];
    store_time(0, now);
    struct db_stmt *st =
        db_prepare(c, "SELECT " COLUMNS " FROM posts WHERE kind = ?1 AND " VISIBLE "?4 "
                      "ORDER BY published_at DESC, id DESC LIMIT ?2 OFFSET ?3");
    if (!st)
        return -1;
    db_bind_text(st, 4, now);
    db_bind_text(st, 1, kind);
    db_bind_int64(st, 2, per_page + 1);
    db_bind_int64(st, 3, (int64_t)(page - 1) * per_page);
    *items = json_array();
    *more = 0;
    int rc, n = 0;
    while ((rc = db_step(st)) == DB_ROW) {
        if (n++ == per_page) {
            *more = 1;
            break;
        }
        json_array_append_new(*items, row(st));
    }
    db_reset(st);
    if (rc < 0) {
        json_decref(*items);
        *items = NULL;
        return log_err("posts: published: %s", db_errmsg(c));
    }
    return 0;
}

/* Both kinds through the listing index (kind, status, published_at): two seeks. */
int posts_next_due(struct db_conn *c, int64_t *due)
{
    char now[32];
    store_time(0, now);
    struct db_stmt *st = db_prepare(
        c, "SELECT min(t) FROM (SELECT min(published_at) AS t FROM posts WHERE kind = 'post' "
           "AND status = 'published' AND published_at > ?1 UNION ALL "
           "SELECT min(published_at) AS t FROM posts WHERE kind = 'page' "
           "AND status = 'published' AND published_at > ?1) AS due");
    if (!st)
        return -1;
    db_bind_text(st, 1, now);
    *due = 0;
    int rc = db_step(st);
    if (rc == DB_ROW) {
        const char *t = db_column_text(st, 0);
        struct tm tm = {0};
        if (t && sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                        &tm.tm_hour, &tm.tm_min, &tm.tm_sec) == 6) {
            tm.tm_year -= 1900;
            tm.tm_mon -= 1;
            *due = (int64_t)timegm(&tm);
        }
    }
    db_reset(st);
    if (rc < 0)
        return log_err("posts: next due: %s", db_errmsg(c));
    return 0;
}

static const char *field(json_t *fields, const char *name)
{
    return json_string_value(json_object_get(fields, name));
}

/* The columns of a new post: the fields given and, for the rest, the values the schema's
   defaults would give (a published post without a date is stamped now). Inserted as they
   are, so the row is the answer without reading it back. Text as C strings, as it is
   bound: a JSON "\u0000" ends the text there. */
static struct post_row *new_row(json_t *f, const char *now)
{
    const char *v[NTEXT] = {field(f, "slug"),
                            field(f, "title"),
                            field(f, "body_md"),
                            field(f, "kind"),
                            field(f, "status"),
                            field(f, "published_at"),
                            now,
                            now};
    if (!v[2])
        v[2] = "";
    if (!v[3])
        v[3] = "post";
    if (!v[4])
        v[4] = "draft";
    if (!v[5] && strcmp(v[4], "published") == 0)
        v[5] = now;
    size_t len[NTEXT];
    for (int i = 0; i < NTEXT; i++)
        len[i] = v[i] ? strlen(v[i]) : 0;
    return row_pack(0, v, len);
}

/* OR FAIL: one row, whose constraints are all checked before anything is written, so a
   failure leaves nothing to undo either way; and without ABORT, SQLite does not open a
   statement journal and copy every page the statement touches into it. */
static const struct db_sql insert_sql = {{
    [DB_ENGINE_SQLITE] = "INSERT OR FAIL INTO posts (slug, title, body_md, kind, status, "
                         "published_at, created_at, updated_at) "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [DB_ENGINE_POSTGRES] = "INSERT INTO posts (slug, title, body_md, kind, status, "
                           "published_at, created_at, updated_at) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
}};

/* Absent fields keep their value; publishing without a date stamps it now. */
#define UPDATE_SET                                                                                 \
    " posts SET slug = coalesce(?1, slug), title = coalesce(?2, title), "                          \
    "body_md = coalesce(?3, body_md), kind = coalesce(?4, kind), "                                 \
    "status = coalesce(?5, status), "                                                              \
    "published_at = CASE WHEN ?9 <> 0 THEN (CASE WHEN ?6 IS NULL AND "                             \
    "    coalesce(?5, status) = 'published' THEN ?7 ELSE ?6 END) "                                 \
    "  WHEN coalesce(?5, status) = 'published' THEN coalesce(published_at, ?7) "                   \
    "  ELSE published_at END, "                                                                    \
    "updated_at = ?7 WHERE id = ?8"
static const struct db_sql update_sql = {{
    [DB_ENGINE_SQLITE] = "UPDATE OR FAIL" UPDATE_SET,
    [DB_ENGINE_POSTGRES] = "UPDATE" UPDATE_SET,
}};

static int insert(struct db_conn *c, struct post_write *w, const char *now, char *err,
                  size_t errlen)
{
    struct db_stmt *st = db_prepare_sql_insert(c, &insert_sql);
    if (!st) {
        snprintf(err, errlen, "prepare: %s", db_errmsg(c));
        return -1;
    }
    struct post_row *r = new_row(w->fields, now);
    for (int i = 0; i < NTEXT; i++)
        db_bind_textn(st, i + 1, r->text[i], r->len[i]);
    /* the id is read before the reset (db_insert_id is the statement's); r is freed
       before the statement runs again, whose bindings db_prepare clears first */
    int rc = db_step(st);
    if (rc == DB_DONE)
        w->id = r->id = db_insert_id(st);
    else
        snprintf(err, errlen, "%s", db_errmsg(c));
    db_reset(st);
    if (rc != DB_DONE) {
        w->slug_conflict = rc == DB_EUNIQUE;
        w->engine_error = rc;
        free(r);
        return -1;
    }
    if (w->want_result)
        w->row = r;
    else
        free(r);
    return 0;
}

int posts_write(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    struct post_write *w = arg;
    json_t *f = w->fields;
    struct db_stmt *st;
    char now[32];
    clock_iso8601(time(NULL), now, sizeof(now));
    if (w->id == 0)
        return insert(c, w, now, err, errlen);
    st = db_prepare_sql(c, &update_sql);
    if (!st) {
        snprintf(err, errlen, "prepare: %s", db_errmsg(c));
        return -1;
    }
    db_bind_text(st, 1, field(f, "slug"));
    db_bind_text(st, 2, field(f, "title"));
    db_bind_text(st, 3, field(f, "body_md"));
    db_bind_text(st, 4, field(f, "kind"));
    db_bind_text(st, 5, field(f, "status"));
    db_bind_text(st, 6, field(f, "published_at"));
    db_bind_text(st, 7, now);
    db_bind_int64(st, 8, w->id);
    db_bind_int64(st, 9, json_object_get(f, "published_at") != NULL);
    int rc = db_run(st, err, errlen);
    if (rc < 0) {
        w->slug_conflict = rc == DB_EUNIQUE;
        w->engine_error = rc;
        return -1;
    }
    if (db_changes(c) == 0) {
        w->not_found = 1;
        snprintf(err, errlen, "no post %lld", (long long)w->id);
        return -1;
    }
    if (w->want_result) {
        st = db_prepare(c, "SELECT " COLUMNS " FROM posts WHERE id = ?1");
        if (st) {
            db_bind_int64(st, 1, w->id);
            if (db_step(st) == DB_ROW)
                w->row = row_copy(st);
            db_reset(st);
        }
        /* not found cannot happen short of an I/O error; the row is changed already, so
           the write stands and the caller reports that it cannot show it */
        if (!w->row)
            log_err("posts: cannot read post %lld back", (long long)w->id);
    }
    return 0;
}

int posts_delete(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    struct post_write *w = arg;
    struct db_stmt *st = db_prepare(c, "DELETE FROM posts WHERE id = ?1");
    if (!st) {
        snprintf(err, errlen, "prepare: %s", db_errmsg(c));
        return -1;
    }
    db_bind_int64(st, 1, w->id);
    int rc = db_run(st, err, errlen);
    if (rc < 0) {
        w->engine_error = rc;
        return -1;
    }
    if (db_changes(c) == 0) {
        w->not_found = 1;
        snprintf(err, errlen, "no post %lld", (long long)w->id);
        return -1;
    }
    return 0;
}
