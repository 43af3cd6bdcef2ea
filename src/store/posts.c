/*
 * posts.c - posts and pages; see posts.h.
 *
 * Reads use db_prepare_cached(), so each reader connection prepares each query once.
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
#include "db/db.h"
#include "store/posts.h"

#define COLUMNS "id, slug, title, body_md, kind, status, published_at, created_at, updated_at"

#define NTEXT 8 /* the text columns, after id */
static const char *const text_names[NTEXT] = {"slug",   "title",        "body_md",
                                              "kind",   "status",       "published_at",
                                              "created_at", "updated_at"};

static json_t *text_or_null(const char *t, size_t len)
{
    return t ? json_stringn(t, len) : json_null();
}

/* The row at st (columns in COLUMNS order) as a JSON object. */
static json_t *row(sqlite3_stmt *st)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, 0)));
    for (int i = 0; i < NTEXT; i++) {
        const char *t = (const char *)sqlite3_column_text(st, i + 1);
        json_object_set_new(o, text_names[i],
                            text_or_null(t, (size_t)sqlite3_column_bytes(st, i + 1)));
    }
    return o;
}

struct post_row {
    sqlite3_int64 id;
    const char *text[NTEXT]; /* into data; NULL for SQL NULL */
    size_t len[NTEXT];
    char data[];
};

/* A post's columns packed into one allocation: texts v (NULL for SQL NULL) of lengths len,
   copied and NUL-terminated. */
static struct post_row *row_pack(sqlite3_int64 id, const char *const v[NTEXT],
                                 const size_t len[NTEXT])
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
static struct post_row *row_copy(sqlite3_stmt *st)
{
    const char *v[NTEXT];
    size_t len[NTEXT];
    for (int i = 0; i < NTEXT; i++) {
        v[i] = (const char *)sqlite3_column_text(st, i + 1);
        len[i] = (size_t)sqlite3_column_bytes(st, i + 1);
    }
    return row_pack(sqlite3_column_int64(st, 0), v, len);
}

int posts_row_encode(struct buf *b, const struct post_row *r)
{
    size_t size = 160; /* the keys, the id and the braces */
    for (int i = 0; i < NTEXT; i++)
        size += r->len[i] + 2;
    if (buf_reserve(b, size) < 0 || buf_addf(b, "{\"id\":%lld", (long long)r->id) < 0)
        return -1;
    for (int i = 0; i < NTEXT; i++) {
        if (r->text[i] && !json_utf8_valid(r->text[i], r->len[i]))
            continue; /* jansson refuses it as a string: row() leaves it out */
        if (buf_add(b, ",\"", 2) < 0 || buf_adds(b, text_names[i]) < 0 || buf_add(b, "\":", 2) < 0)
            return -1;
        if (r->text[i] ? json_encode_string(b, r->text[i], r->len[i]) < 0
                       : buf_add(b, "null", 4) < 0)
            return -1;
    }
    return buf_addc(b, '}');
}

static int one(sqlite3 *db, sqlite3_stmt *st, json_t **out)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = row(st);
        sqlite3_reset(st);
        return 0;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return 1;
    return log_err("posts: %s", sqlite3_errmsg(db));
}

int posts_get(sqlite3 *db, sqlite3_int64 id, int include_drafts, json_t **out)
{
    sqlite3_stmt *st = db_prepare_cached(
        db, "SELECT " COLUMNS " FROM posts WHERE id = ?1 AND (?2 OR status = 'published')");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, include_drafts);
    return one(db, st, out);
}

int posts_get_by_slug(sqlite3 *db, const char *slug, const char *kind, int include_drafts,
                      json_t **out)
{
    sqlite3_stmt *st = db_prepare_cached(
        db, "SELECT " COLUMNS " FROM posts WHERE slug = ?1 AND (?2 IS NULL OR kind = ?2) "
            "AND (?3 OR status = 'published')");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, slug, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, include_drafts);
    return one(db, st, out);
}

int posts_list(sqlite3 *db, const struct posts_query *q, json_t **items, sqlite3_int64 *next)
{
    sqlite3_stmt *st = db_prepare_cached(
        db, "SELECT " COLUMNS " FROM posts WHERE (?1 IS NULL OR kind = ?1) "
            "AND (?2 IS NULL OR status = ?2) AND (?3 OR status = 'published') "
            "AND (?4 = 0 OR id < ?4) AND (?5 IS NULL OR instr(lower(title), lower(?5)) > 0) "
            "ORDER BY id DESC LIMIT ?6");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, q->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, q->status, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, q->include_drafts);
    sqlite3_bind_int64(st, 4, q->before);
    sqlite3_bind_text(st, 5, q->search, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, q->limit + 1); /* one more tells whether a next page exists */
    *items = json_array();
    *next = 0;
    int rc, n = 0;
    sqlite3_int64 last = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n++ == q->limit) {
            *next = last;
            break;
        }
        last = sqlite3_column_int64(st, 0);
        json_array_append_new(*items, row(st));
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        json_decref(*items);
        *items = NULL;
        return log_err("posts: list: %s", sqlite3_errmsg(db));
    }
    return 0;
}

int posts_published(sqlite3 *db, const char *kind, int page, int per_page, json_t **items,
                    int *more)
{
    sqlite3_stmt *st = db_prepare_cached(
        db, "SELECT " COLUMNS " FROM posts WHERE kind = ?1 AND status = 'published' "
            "ORDER BY published_at DESC, id DESC LIMIT ?2 OFFSET ?3");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, per_page + 1);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)(page - 1) * per_page);
    *items = json_array();
    *more = 0;
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n++ == per_page) {
            *more = 1;
            break;
        }
        json_array_append_new(*items, row(st));
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        json_decref(*items);
        *items = NULL;
        return log_err("posts: published: %s", sqlite3_errmsg(db));
    }
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
    const char *v[NTEXT] = {field(f, "slug"), field(f, "title"),  field(f, "body_md"),
                            field(f, "kind"), field(f, "status"), field(f, "published_at"),
                            now,              now};
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

static int insert(sqlite3 *db, struct post_write *w, const char *now, char *err, size_t errlen)
{
    sqlite3_stmt *st = db_prepare_cached(
        db, "INSERT OR FAIL INTO posts (slug, title, body_md, kind, status, published_at, "
            "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    if (!st) {
        snprintf(err, errlen, "prepare: %s", sqlite3_errmsg(db));
        return -1;
    }
    struct post_row *r = new_row(w->fields, now);
    for (int i = 0; i < NTEXT; i++)
        sqlite3_bind_text(st, i + 1, r->text[i], (int)r->len[i], SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int ext = sqlite3_extended_errcode(db);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st); /* r is freed before the statement runs again */
    if (rc != SQLITE_DONE) {
        if (ext == SQLITE_CONSTRAINT_UNIQUE)
            w->slug_conflict = 1;
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        free(r);
        return -1;
    }
    w->id = r->id = sqlite3_last_insert_rowid(db);
    if (w->want_result)
        w->row = r;
    else
        free(r);
    return 0;
}

int posts_write(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    struct post_write *w = arg;
    json_t *f = w->fields;
    sqlite3_stmt *st;
    char now[32];
    clock_iso8601(time(NULL), now, sizeof(now));
    /* OR FAIL: one row, whose constraints are all checked before anything is written, so
       a failure leaves nothing to undo either way; and without ABORT, SQLite does not open
       a statement journal and copy every page the statement touches into it */
    if (w->id == 0)
        return insert(db, w, now, err, errlen);
    /* absent fields keep their value; publishing without a date stamps it now */
    st = db_prepare_cached(
        db, "UPDATE OR FAIL posts SET slug = coalesce(?1, slug), title = coalesce(?2, title), "
            "body_md = coalesce(?3, body_md), kind = coalesce(?4, kind), "
            "status = coalesce(?5, status), "
            "published_at = CASE WHEN ?9 THEN (CASE WHEN ?6 IS NULL AND "
            "    coalesce(?5, status) = 'published' THEN ?7 ELSE ?6 END) "
            "  WHEN coalesce(?5, status) = 'published' THEN coalesce(published_at, ?7) "
            "  ELSE published_at END, "
            "updated_at = ?7 WHERE id = ?8");
    if (!st) {
        snprintf(err, errlen, "prepare: %s", sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_text(st, 1, field(f, "slug"), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, field(f, "title"), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, field(f, "body_md"), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, field(f, "kind"), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, field(f, "status"), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, field(f, "published_at"), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 8, w->id);
    sqlite3_bind_int(st, 9, json_object_get(f, "published_at") != NULL);
    int rc = sqlite3_step(st);
    int ext = sqlite3_extended_errcode(db);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        if (ext == SQLITE_CONSTRAINT_UNIQUE)
            w->slug_conflict = 1;
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        return -1;
    }
    if (sqlite3_changes(db) == 0) {
        w->not_found = 1;
        snprintf(err, errlen, "no post %lld", (long long)w->id);
        return -1;
    }
    if (w->want_result) {
        st = db_prepare_cached(db, "SELECT " COLUMNS " FROM posts WHERE id = ?1");
        if (st) {
            sqlite3_bind_int64(st, 1, w->id);
            if (sqlite3_step(st) == SQLITE_ROW)
                w->row = row_copy(st);
            sqlite3_reset(st);
        }
        /* not found cannot happen short of an I/O error; the row is changed already, so
           the write stands and the caller reports that it cannot show it */
        if (!w->row)
            log_err("posts: cannot read post %lld back", (long long)w->id);
    }
    return 0;
}

int posts_delete(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    struct post_write *w = arg;
    sqlite3_stmt *st = db_prepare_cached(db, "DELETE FROM posts WHERE id = ?1");
    if (!st) {
        snprintf(err, errlen, "prepare: %s", sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_int64(st, 1, w->id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        return -1;
    }
    if (sqlite3_changes(db) == 0) {
        w->not_found = 1;
        snprintf(err, errlen, "no post %lld", (long long)w->id);
        return -1;
    }
    return 0;
}
