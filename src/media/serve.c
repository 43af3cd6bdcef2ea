/*
 * serve.c - the media URLs and model; see serve.h.
 *
 * A GET reads the media row and then only the chunks its range needs (store/media.h),
 * on a reader released before the response is queued; the bytes are copied into the
 * response body (a whole file of at most ONEFILE_MAX_UPLOAD_BYTES for a full GET).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "db/readers.h"
#include "http/app.h"
#include "http/request.h"
#include "http/router.h"
#include "media/serve.h"
#include "media/sniff.h"

#define MAX_VARIANTS 8

void media_url(const struct app *app, const struct media_info *m, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/media/%s/%s", app->cfg->base_url, m->sha256, m->filename);
}

static void add_urls(struct app *app, struct db_conn *db, json_t *o, const struct media_info *m)
{
    char url[512];
    media_url(app, m, url, sizeof(url));
    json_object_set_new(o, "url", json_string(url));
    if (!sniff_is_image(m->mime))
        return;
    int64_t w[MAX_VARIANTS], h[MAX_VARIANTS];
    int n = media_variant_widths(db, m->id, w, h, MAX_VARIANTS);
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        snprintf(url, sizeof(url), "%s/media/%s/w/%" PRId64 ".webp", app->cfg->base_url, m->sha256,
                 w[i]);
        json_array_append_new(arr, json_pack("{s:I,s:I,s:s}", "width", (json_int_t)w[i], "height",
                                             (json_int_t)h[i], "url", url));
    }
    json_object_set_new(o, "variants", arr);
}

json_t *media_model(struct app *app, struct db_conn *db, const struct media_info *m)
{
    json_t *o = media_json(m);
    add_urls(app, db, o, m);
    return o;
}

void media_models_urls(struct app *app, struct db_conn *db, json_t *items)
{
    size_t i;
    json_t *o;
    json_array_foreach(items, i, o)
    {
        struct media_info m;
        memset(&m, 0, sizeof(m));
        m.id = (int64_t)json_integer_value(json_object_get(o, "id"));
        snprintf(m.sha256, sizeof(m.sha256), "%s", json_string_value(json_object_get(o, "sha256")));
        snprintf(m.filename, sizeof(m.filename), "%s",
                 json_string_value(json_object_get(o, "filename")));
        snprintf(m.mime, sizeof(m.mime), "%s", json_string_value(json_object_get(o, "mime")));
        add_urls(app, db, o, &m);
    }
}

static int is_sha(const char *s)
{
    if (!s || strlen(s) != 64)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

/* A decimal number of at most 18 digits at *p, advancing p; -1 when none. */
static int64_t number(const char **p)
{
    int64_t v = 0;
    int n = 0;
    while (**p >= '0' && **p <= '9' && n < 18)
        v = v * 10 + (*(*p)++ - '0'), n++;
    return n && !(**p >= '0' && **p <= '9') ? v : -1;
}

/* Range of a file of size bytes: 0 the whole file, 1 [*first, *last], 2 unsatisfiable. */
static int parse_range(const char *h, uint64_t size, uint64_t *first, uint64_t *last)
{
    if (!h || strncmp(h, "bytes=", 6) != 0)
        return 0;
    const char *p = h + 6;
    while (*p == ' ')
        p++;
    if (*p == '-') {
        p++;
        int64_t n = number(&p);
        if (n < 0 || *p)
            return 0;
        if (n == 0 || size == 0)
            return 2;
        *first = (uint64_t)n >= size ? 0 : size - (uint64_t)n;
        *last = size - 1;
        return 1;
    }
    int64_t a = number(&p);
    if (a < 0 || *p++ != '-')
        return 0;
    int64_t b = -1;
    if (*p) {
        b = number(&p);
        if (b < 0 || *p || b < a)
            return 0; /* several ranges, or malformed: ignored */
    }
    if ((uint64_t)a >= size)
        return 2;
    *first = (uint64_t)a;
    *last = b < 0 || (uint64_t)b >= size ? size - 1 : (uint64_t)b;
    return 1;
}

static void immutable(struct request *r, const char *etag)
{
    request_set_header(r, "ETag", etag);
    request_set_header(r, "Cache-Control", "public, max-age=31536000, immutable");
}

static int not_modified(struct request *r, const char *etag)
{
    const char *inm = request_header(r, "If-None-Match");
    if (!inm || (strcmp(inm, "*") != 0 && !strstr(inm, etag)))
        return 0;
    immutable(r, etag);
    return 1;
}

static int serve_file(struct request *r)
{
    const char *sha = request_param(r, "sha");
    if (!is_sha(sha))
        return request_error(r, 404, "There is nothing at this address.");
    char etag[72];
    snprintf(etag, sizeof(etag), "\"%s\"", sha);
    struct media_info m;
    struct db_conn *db = readers_acquire(r->app->readers);
    int rc = media_get_by_sha(db, sha, &m);
    if (rc != 0) {
        readers_release(r->app->readers, db);
        return rc < 0 ? request_error(r, 500, "Cannot read the file.")
                      : request_error(r, 404, "There is nothing at this address.");
    }
    if (not_modified(r, etag)) {
        readers_release(r->app->readers, db);
        return 304;
    }
    uint64_t size = (uint64_t)m.bytes, first = 0, last = size ? size - 1 : 0;
    const char *ifr = request_header(r, "If-Range");
    int range = ifr && strcmp(ifr, etag) != 0
                    ? 0
                    : parse_range(request_header(r, "Range"), size, &first, &last);
    char hv[320];
    if (range == 2) {
        readers_release(r->app->readers, db);
        snprintf(hv, sizeof(hv), "bytes */%" PRIu64, size);
        request_set_header(r, "Content-Range", hv);
        return request_error(r, 416, "The requested range is outside the file.");
    }
    buf_reset(&r->out);
    rc = media_read(db, &m, first, size ? last - first + 1 : 0, &r->out);
    readers_release(r->app->readers, db);
    if (rc != 0) {
        buf_reset(&r->out);
        return request_error(r, 500, "Cannot read the file.");
    }
    r->content_type = sniff_literal(m.mime);
    immutable(r, etag);
    request_set_header(r, "Accept-Ranges", "bytes");
    snprintf(hv, sizeof(hv), "%s; filename=\"%s\"",
             sniff_is_image(m.mime) ? "inline" : "attachment", m.filename);
    request_set_header(r, "Content-Disposition", hv);
    if (range == 1) {
        snprintf(hv, sizeof(hv), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first, last, size);
        request_set_header(r, "Content-Range", hv);
        return 206;
    }
    return 200;
}

static int serve_variant(struct request *r)
{
    const char *sha = request_param(r, "sha"), *file = request_param(r, "file");
    const char *p = file ? file : "";
    int64_t width = number(&p);
    if (!is_sha(sha) || width <= 0 || strcmp(p, ".webp") != 0)
        return request_error(r, 404, "There is nothing at this address.");
    char etag[96], mime[80];
    snprintf(etag, sizeof(etag), "\"%s-w%" PRId64 "\"", sha, width);
    struct media_info m;
    struct db_conn *db = readers_acquire(r->app->readers);
    int rc = media_get_by_sha(db, sha, &m);
    if (rc == 0 && not_modified(r, etag)) {
        readers_release(r->app->readers, db);
        return 304;
    }
    buf_reset(&r->out);
    if (rc == 0)
        rc = media_variant_get(db, m.id, width, mime, &r->out);
    readers_release(r->app->readers, db);
    if (rc != 0) {
        buf_reset(&r->out);
        return rc < 0 ? request_error(r, 500, "Cannot read the file.")
                      : request_error(r, 404, "There is nothing at this address.");
    }
    r->content_type = sniff_literal(mime);
    immutable(r, etag);
    return 200;
}

void media_routes(struct router *rt)
{
    router_add(rt, "GET", "/media/{sha}/w/{file}", serve_variant);
    router_add(rt, "GET", "/media/{sha}/{name}", serve_file);
}
