/*
 * posts.c - the admin's posts and pages: list (search, status filter, cursor pages),
 * editor with Markdown preview, create, update, delete with confirmation. Input is
 * validated by api_post_fields() so the API and the admin accept the same posts.
 * Threads: HTTP workers.
 */
#include "admin/gate.h"

#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/buf.h"
#include "db/readers.h"
#include "http/app.h"
#include "http/cache.h"
#include "site/markdown.h"
#include "store/posts.h"
#include "store/store.h"

/* ---- posts ---- */

/* The post's address on the site ("/posts/slug", a page's "/slug") into out. */
static void site_path(json_t *post, char *out, size_t len)
{
    const char *kind = json_string_value(json_object_get(post, "kind"));
    const char *slug = json_string_value(json_object_get(post, "slug"));
    snprintf(out, len, "%s/%s", kind && !strcmp(kind, "page") ? "" : "/posts", slug ? slug : "");
}

/* Published and its time has come: the site shows it. */
static int is_public(json_t *post, const char *now)
{
    const char *st = json_string_value(json_object_get(post, "status"));
    const char *at = json_string_value(json_object_get(post, "published_at"));
    return st && !strcmp(st, "published") && !(at && strcmp(at, now) > 0);
}

int admin_posts_page(struct request *r)
{
    struct ctx c;
    int rc = admin_page(r, &c);
    if (rc)
        return rc;
    const char *q = request_query(r, "q"), *status = request_query(r, "status"),
               *cursor = request_query(r, "cursor");
    if (status && strcmp(status, "draft") != 0 && strcmp(status, "published") != 0)
        status = NULL;
    struct posts_query pq = {
        NULL, status, 1, PAGE_SIZE, cursor ? strtoll(cursor, NULL, 10) : 0, q && *q ? q : NULL};
    if (pq.before < 0)
        pq.before = 0;
    json_t *items;
    int64_t next;
    struct db_conn *db = readers_acquire(r->app->readers);
    rc = posts_list(db, &pq, &items, &next);
    readers_release(r->app->readers, db);
    if (rc < 0)
        return request_error(r, 500, "Cannot read the posts.");
    char now[32];
    store_time(0, now);
    size_t i;
    json_t *p;
    json_array_foreach(items, i, p)
    { /* published, but not yet public */
        const char *st = json_string_value(json_object_get(p, "status"));
        char path[300];
        site_path(p, path, sizeof(path));
        json_object_set_new(p, "path", json_string(path));
        json_object_set_new(p, "public", json_boolean(is_public(p, now)));
        json_object_set_new(p, "scheduled",
                            json_boolean(st && !strcmp(st, "published") && !is_public(p, now)));
    }
    json_t *m = json_pack("{s:s,s:o,s:s,s:b,s:b}", "page_title", "Posts", "posts", items, "q",
                          q ? q : "", "status_draft", status && !strcmp(status, "draft"),
                          "status_published", status && !strcmp(status, "published"));
    if (next) { /* the next page keeps the filter and the search */
        struct buf url = BUF_INIT;
        buf_addf(&url, "/admin/posts?cursor=%lld", (long long)next);
        if (status)
            buf_addf(&url, "&status=%s", status);
        if (pq.search && buf_adds(&url, "&q=") == 0)
            form_escape(&url, pq.search);
        json_object_set_new(m, "next_url", json_string(buf_str(&url)));
        buf_release(&url);
    }
    return admin_render(r, &c, 200, "admin/posts.html", "posts", m);
}

/* The editor's model for post (stolen), with errors (stolen, may be NULL). */
static int editor(struct request *r, struct ctx *c, int status, json_t *post, json_t *errors)
{
    const char *kind = json_string_value(json_object_get(post, "kind"));
    const char *st = json_string_value(json_object_get(post, "status"));
    const char *md = json_string_value(json_object_get(post, "body_md"));
    struct buf preview = BUF_INIT;
    if (md)
        markdown_render(md, strlen(md), 0, &preview);
    json_int_t id = json_integer_value(json_object_get(post, "id"));
    json_t *m = json_pack(
        "{s:s,s:o,s:o,s:b,s:b,s:b,s:b,s:s}", "page_title", id ? "Edit post" : "New post", "post",
        post, "errors", errors ? errors : json_object(), "is_post", !kind || !strcmp(kind, "post"),
        "is_page", kind && !strcmp(kind, "page"), "is_draft", !st || !strcmp(st, "draft"),
        "is_published", st && !strcmp(st, "published"), "preview_html", buf_str(&preview));
    buf_release(&preview);
    json_object_set_new(m, "action",
                        id ? json_sprintf("/admin/posts/%lld", (long long)id)
                           : json_string("/admin/posts"));
    char now[32], path[300];
    store_time(0, now);
    if (id && status == 200 && is_public(post, now)) { /* saved and on the site */
        site_path(post, path, sizeof(path));
        json_object_set_new(m, "view_url", json_string(path));
    }
    return admin_render(r, c, status, "admin/edit.html", "posts", m);
}

int admin_new_post(struct request *r)
{
    struct ctx c;
    int rc = admin_page(r, &c);
    if (rc)
        return rc;
    return editor(r, &c, 200,
                  json_pack("{s:s,s:s,s:s}", "kind", "post", "status", "draft", "body_md", ""),
                  NULL);
}

int admin_edit_post(struct request *r)
{
    struct ctx c;
    int rc = admin_page(r, &c);
    if (rc)
        return rc;
    json_t *post;
    struct db_conn *db = readers_acquire(r->app->readers);
    rc = posts_get(db, admin_id_param(r), 1, &post);
    readers_release(r->app->readers, db);
    if (rc != 0)
        return request_error(r, rc < 0 ? 500 : 404, "No such post.");
    return editor(r, &c, 200, post, NULL);
}

/* Creates (id 0) or updates post id from the form. */
static int save_post(struct request *r, int64_t id)
{
    struct ctx c;
    char err[256], buf[200];
    int rc = admin_action(r, &c);
    if (rc) {
        admin_done(&c);
        return rc;
    }
    json_t *fields = json_object();
    static const char *const names[] = {"title", "slug", "body_md", "kind", "status"};
    for (int i = 0; i < 5; i++) {
        const char *v = form_get(&c.f, names[i]);
        if (v && (*v || strcmp(names[i], "slug") != 0)) /* an empty slug: make one */
            json_object_set_new(fields, names[i], json_string(v));
    }
    /* an empty date: none (publishing stamps the moment); a later one schedules the post */
    const char *at = form_get(&c.f, "published_at");
    if (at)
        json_object_set_new(fields, "published_at", *at ? json_string(at) : json_null());
    json_t *shown = json_deep_copy(fields); /* what the editor shows again on an error */
    if (id)
        json_object_set_new(shown, "id", json_integer(id));
    const char *field;
    const char *problem = post_fields_check(fields, id != 0, &field, buf, sizeof(buf));
    if (problem) {
        rc = editor(r, &c, 422, shown, json_pack("{s:s}", field, problem));
        goto out;
    }
    struct post_write w = {.id = id, .fields = fields};
    rc = admin_submit(r, "admin:posts", posts_write, &w, err, sizeof(err));
    if (rc != 0) {
        json_t *errors = w.slug_conflict ? json_pack("{s:s}", "slug", "Another post has this slug.")
                         : w.not_found   ? json_pack("{s:s}", "form", "This post no longer exists.")
                                         : json_pack("{s:s}", "form", err);
        rc = editor(r, &c, w.slug_conflict ? 409 : 422, shown, errors);
        goto out;
    }
    cache_changed(); /* committed: pages built from the old post are stale */
    json_decref(shown);
    char loc[64];
    snprintf(loc, sizeof(loc), "/admin/posts/%lld/edit", (long long)w.id);
    rc = admin_redirect_done(r, loc, id ? "post-saved" : "post-created");
out:
    json_decref(fields);
    admin_done(&c);
    return rc;
}

int admin_create_post(struct request *r)
{
    return save_post(r, 0);
}

int admin_update_post(struct request *r)
{
    int64_t id = admin_id_param(r);
    return id ? save_post(r, id) : request_error(r, 404, "No such post.");
}

int admin_confirm_delete(struct request *r)
{
    struct ctx c;
    int rc = admin_page(r, &c);
    if (rc)
        return rc;
    json_t *post;
    struct db_conn *db = readers_acquire(r->app->readers);
    rc = posts_get(db, admin_id_param(r), 1, &post);
    readers_release(r->app->readers, db);
    if (rc != 0)
        return request_error(r, rc < 0 ? 500 : 404, "No such post.");
    return admin_render(r, &c, 200, "admin/delete.html", "posts",
                        json_pack("{s:s,s:o}", "page_title", "Delete", "post", post));
}

int admin_delete_post(struct request *r)
{
    struct ctx c;
    char err[256];
    int rc = admin_action(r, &c);
    if (rc == 0 && !admin_confirmed(&c)) { /* not from the confirmation page: ask there */
        char loc[64];
        snprintf(loc, sizeof(loc), "/admin/posts/%lld/delete", (long long)admin_id_param(r));
        request_set_header(r, "Cache-Control", "no-store");
        rc = request_redirect(r, 303, loc);
    } else if (rc == 0) {
        struct post_write w = {.id = admin_id_param(r)};
        rc = admin_submit(r, "admin:posts", posts_delete, &w, err, sizeof(err));
        if (rc == 0)
            cache_changed();
        request_set_header(r, "Cache-Control", "no-store");
        rc = rc == 0 || w.not_found ? admin_redirect_done(r, "/admin/posts", "post-deleted")
                                    : request_error(r, 503, "The post could not be deleted.");
    }
    admin_done(&c);
    return rc;
}

int admin_preview(struct request *r)
{
    struct ctx c;
    int rc = admin_action(r, &c);
    if (rc == 0) {
        const char *md = form_get(&c.f, "body_md");
        buf_reset(&r->out);
        markdown_render(md ? md : "", md ? strlen(md) : 0, 0, &r->out);
        r->content_type = "text/html; charset=utf-8";
        request_set_header(r, "Cache-Control", "no-store");
        rc = 200;
    }
    admin_done(&c);
    return rc;
}
