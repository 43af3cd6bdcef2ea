/*
 * media.c - the media library in the admin: list and search (thumbnails, the Markdown to
 * paste into a post), upload (one file per request: the form without JavaScript, or
 * admin.js sending each dropped or chosen file with a progress bar), delete (refused
 * while a post uses the file, unless confirmed).
 *
 * The upload's body is a multipart stream in r->upload (http/upload.h), not a form in
 * memory, so it has its own gate: the session, the same-origin check and the CSRF token
 * taken from the multipart field `_csrf` (the same checks admin_action makes). It answers
 * JSON when the client asks for it (admin.js; request_error() follows Accept too), else
 * 303 back to the library.
 * Threads: HTTP workers.
 */
#include "admin/gate.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "db/readers.h"
#include "http/app.h"
#include "http/upload.h"
#include "media/ingest.h"
#include "media/serve.h"
#include "media/sniff.h"
#include "store/media.h"

int admin_media_page(struct request *r)
{
    struct ctx c;
    int rc = admin_page(r, &c);
    if (rc)
        return rc;
    const char *cursor = request_query(r, "cursor"), *q = request_query(r, "q");
    int64_t before = cursor ? strtoll(cursor, NULL, 10) : 0, next = 0;
    json_t *items = NULL;
    int64_t count = 0, bytes = 0;
    struct db_conn *db = readers_acquire(r->app->readers);
    rc = media_list(db, q, PAGE_SIZE, before > 0 ? before : 0, &items, &next);
    if (rc == 0) {
        media_models_urls(r->app, db, items);
        rc = media_totals(db, &count, &bytes);
    }
    readers_release(r->app->readers, db);
    if (rc < 0) {
        json_decref(items);
        return request_error(r, 500, "Cannot read the media.");
    }
    size_t i;
    json_t *m;
    json_array_foreach(items, i, m)
    {
        const char *mime = json_string_value(json_object_get(m, "mime"));
        const char *url = json_string_value(json_object_get(m, "url"));
        const char *name = json_string_value(json_object_get(m, "filename"));
        int img = sniff_is_image(mime);
        json_t *vs = json_object_get(m, "variants");
        json_t *thumb = json_array_size(vs) ? json_object_get(json_array_get(vs, 0), "url") : NULL;
        /* the page and the Markdown use the site-relative path: they keep working when
           ONEFILE_BASE_URL changes (and the link check in media_used_by matches either) */
        const char *path = strstr(url, "/media/");
        const char *tpath = thumb ? strstr(json_string_value(thumb), "/media/") : NULL;
        json_object_set_new(m, "path", json_string(path));
        if (img)
            json_object_set_new(m, "thumb", json_string(tpath ? tpath : path));
        json_object_set_new(m, "markdown",
                            json_sprintf(img ? "![%s](%s)" : "[%s](%s)", name, path));
    }
    json_t *model =
        json_pack("{s:s,s:o,s:I,s:I,s:s}", "page_title", "Media", "media", items, "count",
                  (json_int_t)count, "bytes", (json_int_t)bytes, "q", q ? q : "");
    if (next)
        json_object_set_new(model, "next_url",
                            json_sprintf("/admin/media?cursor=%lld", (long long)next));
    return admin_render(r, &c, 200, "admin/media.html", "media", model);
}

static int wants_json(struct request *r)
{
    const char *a = request_header(r, "Accept");
    return a && strstr(a, "application/json") != NULL;
}

int admin_upload_media(struct request *r)
{
    struct session s;
    int json = wants_json(r);
    if (admin_load_session(r, &s) != 0)
        return json ? request_error(r, 401, "Sign in again.") : admin_to_login(r);
    if (!admin_same_origin(r))
        return admin_forbidden(r, "This request did not come from this site's pages.");
    struct upload *u = r->upload;
    const char *csrf = u ? upload_field(u, "_csrf") : NULL;
    size_t n = csrf ? strlen(csrf) : 0;
    if (!n || n != strlen(s.csrf) || sodium_memcmp(csrf, s.csrf, n) != 0)
        return admin_forbidden(r,
                               "The form's security token is missing or stale: reload the page.");
    request_set_header(r, "Cache-Control", "no-store");
    if (u->bad)
        return request_error(r, 400, u->why);
    struct media_info m;
    int existing = 0;
    char msg[320];
    int rc = media_ingest(r->app->writer, r->app->cfg, u->fd, u->size, u->filename, &m, &existing,
                          msg, sizeof(msg));
    if (rc != 0)
        return request_error(r, media_ingest_status(rc), msg);
    if (!existing)
        media_queue_variants(r->app, &m);
    if (!json)
        return admin_redirect_done(r, "/admin/media", "media-uploaded");
    struct db_conn *db = readers_acquire(r->app->readers);
    json_t *o = media_get(db, m.id, &m) == 0 ? media_model(r->app, db, &m) : NULL;
    readers_release(r->app->readers, db);
    if (!o)
        return request_error(r, 500, "The stored file cannot be read back.");
    return request_json(r, existing ? 200 : 201, o);
}

int admin_delete_media(struct request *r)
{
    struct ctx c;
    char err[256];
    int rc = admin_action(r, &c);
    if (rc)
        return rc;
    struct media_info m;
    struct media_del d = {admin_id_param(r), 0};
    struct db_conn *db = readers_acquire(r->app->readers);
    rc = media_get(db, d.id, &m);
    int64_t used = rc == 0 ? media_used_by(db, m.sha256) : 0;
    readers_release(r->app->readers, db);
    const char *force = form_get(&c.f, "force");
    request_set_header(r, "Cache-Control", "no-store");
    int forced = force && strcmp(force, "1") == 0;
    if (rc != 0 || used < 0) {
        rc = request_error(r, rc == 1 ? 404 : 500, "No such media.");
    } else if (used > 0 && !forced && admin_confirmed(&c)) {
        char msg[400];
        snprintf(msg, sizeof(msg),
                 "%lld post(s) or page(s) use %s: delete it with \"Delete anyway\" on its "
                 "confirmation page.",
                 (long long)used, m.filename);
        rc = request_error(r, 409, msg);
    } else if (!admin_confirmed(&c)) { /* ask first, saying what still uses it */
        char question[300], detail[400], action[64];
        snprintf(question, sizeof(question), "Delete %s?", m.filename);
        if (used > 0)
            snprintf(detail, sizeof(detail),
                     "%lld post(s) or page(s) still show it: they will show a broken link. "
                     "This cannot be undone.",
                     (long long)used);
        else
            snprintf(detail, sizeof(detail), "No post or page uses it. This cannot be undone.");
        snprintf(action, sizeof(action), "/admin/media/%lld/delete", (long long)d.id);
        struct admin_question q = {
            question,       detail,  action,  used > 0 ? "Delete anyway" : "Delete",
            "/admin/media", "media", used > 0};
        rc = admin_confirm(r, &c, &q);
    } else {
        rc = admin_submit(r, "admin:media", media_delete, &d, err, sizeof(err)) == 0
                 ? admin_redirect_done(r, "/admin/media", "media-deleted")
                 : request_error(r, 503, "The file could not be deleted.");
    }
    admin_done(&c);
    return rc;
}
