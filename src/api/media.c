/*
 * media.c - /api/v1/media: upload (POST, the body streamed to a file by http/upload.h),
 * list, get and delete; every call needs a bearer token.
 *
 * Status codes: 201 stored (200 when the same bytes were stored already: the existing
 * media is answered), 400 no file / a path in the name / malformed multipart, 401, 404,
 * 409 delete of a file a post still uses (unless ?force=1), 413 over
 * ONEFILE_MAX_UPLOAD_BYTES (answered by the server), 415 a type not accepted (sniffed:
 * the client's Content-Type is ignored), 422 a damaged or too large image, 503 the
 * database would not take it.
 *
 * Each media answer carries `url` (ONEFILE_BASE_URL + /media/<sha256>/<filename>) and, for
 * images, `variants` (width, height, url) once the media-variants job made them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/log.h"
#include "db/readers.h"
#include "db/writer.h"
#include "http/app.h"
#include "http/request.h"
#include "http/upload.h"
#include "jobs/jobs.h"
#include "media/ingest.h"
#include "media/serve.h"
#include "media/sniff.h"
#include "store/media.h"

static int64_t id_param(struct request *r)
{
    const char *s = request_param(r, "id");
    if (!s || !*s || strlen(s) > 18)
        return 0;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        v = v * 10 + (*p - '0');
    }
    return v;
}

/* The status for an ingest failure (the one place for the API and the admin panel). */
int media_ingest_status(int code)
{
    switch (code) {
    case INGEST_ENAME:
    case INGEST_EEMPTY:
        return 400;
    case INGEST_ETYPE:
        return 415;
    case INGEST_EIMAGE:
        return 422;
    case INGEST_EWRITE:
        return 503;
    default:
        return 500;
    }
}

void media_queue_variants(struct app *app, const struct media_info *m)
{
    if (!sniff_is_image(m->mime))
        return;
    char key[48], err[256];
    snprintf(key, sizeof(key), "media-variants-%lld", (long long)m->id);
    json_t *p = json_pack("{s:I}", "media_id", (json_int_t)m->id);
    if (jobs_enqueue(app->jobs, "media-variants", p, key, err, sizeof(err)) != 0)
        log_warn("media: variants of %s not queued: %s", m->sha256, err);
    json_decref(p);
}

static int upload(struct request *r)
{
    int rc = api_require_token(r);
    if (rc)
        return rc;
    struct upload *u = r->upload;
    if (!u)
        return request_error(r, 400, "No file was sent.");
    if (u->bad)
        return request_error(r, 400, u->why);
    struct media_info m;
    int existing = 0;
    char msg[320];
    rc = media_ingest(r->app->writer, r->app->cfg, u->fd, u->size, u->filename, &m, &existing, msg,
                      sizeof(msg));
    if (rc != 0) {
        int status = media_ingest_status(rc);
        if (status == 503)
            request_set_header(r, "Retry-After", "1");
        return request_error(r, status, msg);
    }
    if (!existing)
        media_queue_variants(r->app, &m);
    struct db_conn *db = readers_acquire(r->app->readers);
    json_t *o = NULL;
    rc = media_get(db, m.id, &m);
    if (rc == 0)
        o = media_model(r->app, db, &m);
    readers_release(r->app->readers, db);
    if (!o)
        return request_error(r, 500, "The stored file cannot be read back.");
    return request_json(r, existing ? 200 : 201, o);
}

static int list(struct request *r)
{
    int rc = api_require_token(r);
    if (rc)
        return rc;
    int limit;
    int64_t before;
    rc = api_paging(r, &limit, &before);
    if (rc)
        return rc;
    struct db_conn *db = readers_acquire(r->app->readers);
    json_t *items = NULL;
    int64_t next = 0;
    rc = media_list(db, request_query(r, "q"), limit, before, &items, &next);
    if (rc == 0)
        media_models_urls(r->app, db, items);
    readers_release(r->app->readers, db);
    if (rc != 0)
        return request_error(r, 500, "Cannot list the media.");
    request_set_header(r, "Cache-Control", "private, no-cache");
    return request_json(
        r, 200, json_pack("{s:o,s:o}", "items", items, "next_cursor", api_cursor_json(next)));
}

static int get(struct request *r)
{
    int rc = api_require_token(r);
    if (rc)
        return rc;
    struct media_info m;
    struct db_conn *db = readers_acquire(r->app->readers);
    json_t *o = NULL;
    rc = media_get(db, id_param(r), &m);
    if (rc == 0)
        o = media_model(r->app, db, &m);
    readers_release(r->app->readers, db);
    if (rc < 0)
        return request_error(r, 500, "Cannot read the media.");
    if (!o)
        return request_error(r, 404, "No such media.");
    request_set_header(r, "Cache-Control", "private, no-cache");
    return request_json(r, 200, o);
}

static int del(struct request *r)
{
    int rc = api_require_token(r);
    if (rc)
        return rc;
    struct media_info m;
    struct db_conn *db = readers_acquire(r->app->readers);
    rc = media_get(db, id_param(r), &m);
    int64_t used = rc == 0 ? media_used_by(db, m.sha256) : 0;
    readers_release(r->app->readers, db);
    if (rc < 0 || used < 0)
        return request_error(r, 500, "Cannot read the media.");
    if (rc == 1)
        return request_error(r, 404, "No such media.");
    const char *force = request_query(r, "force");
    if (used > 0 && !(force && strcmp(force, "1") == 0)) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "%lld post(s) use this file; delete with ?force=1 to remove it anyway.",
                 (long long)used);
        return request_error_field(r, 409, "in_use", msg, NULL);
    }
    struct media_del d = {m.id, 0};
    char err[256];
    rc = writer_submit(r->app->writer, "api:media-delete", media_delete, &d, err, sizeof(err));
    if (rc != 0 && d.not_found)
        return request_error(r, 404, "No such media.");
    if (rc != 0) {
        request_set_header(r, "Retry-After", "1");
        return request_error(r, 503, "The media could not be deleted now.");
    }
    return 204;
}

void media_api_routes(struct router *rt)
{
    router_add(rt, "POST", "/api/v1/media", upload);
    router_add(rt, "GET", "/api/v1/media", list);
    router_add(rt, "GET", "/api/v1/media/{id}", get);
    router_add(rt, "DELETE", "/api/v1/media/{id}", del);
}
