/*
 * serve.h - media over HTTP: the public URLs and the JSON model of a media.
 *
 *   GET /media/{sha256}/{name}          the stored file (name is cosmetic)
 *   GET /media/{sha256}/w/{width}.webp  a resized WebP variant of an image
 *
 * Both are immutable (the URL names the bytes): ETag, Cache-Control: public,
 * max-age=31536000, immutable, 304 on If-None-Match, and single byte ranges (bytes=a-b,
 * a-, -n: 206 with Content-Range; 416 with "bytes *\/size" when unsatisfiable; several
 * ranges or a malformed header: the whole file, as RFC 9110 allows; If-Range naming
 * another validator: the whole file). Images are served inline, anything else with
 * Content-Disposition: attachment; every answer has nosniff and the site's CSP (server.c).
 * Only ready media are served; a row that fails to read answers 500.
 *
 * Threads: HTTP workers (a reader connection per request).
 */
#ifndef ONEFILE_MEDIA_SERVE_H
#define ONEFILE_MEDIA_SERVE_H
#include <jansson.h>

#include "db/driver.h"
#include "store/media.h"

struct app;
struct router;

/* Adds the two GET routes above. */
void media_routes(struct router *rt);
/* m's JSON (store/media.h's media_json) plus url and, for images, variants
   [{width, height, url}] read on db. A new reference. */
json_t *media_model(struct app *app, struct db_conn *db, const struct media_info *m);
/* Adds url and variants to each object of items (media_list's). */
void media_models_urls(struct app *app, struct db_conn *db, json_t *items);
/* The public URL of m into out ("<base>/media/<sha>/<filename>"). */
void media_url(const struct app *app, const struct media_info *m, char *out, size_t outlen);
#endif
