/*
 * api.h - the JSON API under /api/v1: posts (list with cursor pagination, get, create,
 * update, delete) and contact messages, with bearer tokens for writes and private data.
 * Handlers build a jansson model from the store and answer it as JSON; the site renders
 * the same models through templates (src/site/).
 * Adding an endpoint: a handler here and one line in api_routes().
 *
 * The folder src/api/ owns /api/v1 and the validation of a post's fields (used by the
 * admin too). It may call core/, db/ (readers, writer), store/ and http/.
 */
#ifndef ONEFILE_API_API_H
#define ONEFILE_API_API_H
#include <jansson.h>
#include <stdint.h>

struct router;
struct request;

void api_routes(struct router *rt);
/* /api/v1/media (api/media.c), added by api_routes. */
void media_api_routes(struct router *rt);
/* 0 when the request carries a valid bearer token (r->token_id set), else the 401
   already answered. For the API's other files. */
int api_require_token(struct request *r);
/* The limit (1-100, default 20) and cursor query arguments: 0, or 400 answered. */
int api_paging(struct request *r, int *limit, int64_t *before);
/* The next_cursor value of a list answer: a string, or null when next is 0. */
json_t *api_cursor_json(int64_t next);
/* The HTTP status of a media_ingest() failure (media/ingest.h): 400, 415, 422, 503, 500. */
int media_ingest_status(int code);
/* Queues the media-variants job for a new image m (jobs/media_variants.h); nothing for
   other types. A failure to queue is logged: the file is stored either way. */
struct app;
struct media_info;
void media_queue_variants(struct app *app, const struct media_info *m);

/* Validates a post body for create (partial = 0: title required) or update (partial = 1),
   normalising it in place (slug made from the title when absent on create). 0, or the
   error response is set on r (422 with the field) and its status returned. Shared with
   the admin panel. */
int post_fields_validate(struct request *r, json_t *fields, int partial);
/* The same check without a response: the problem's message (field set to the offending
   field's name), or NULL when the fields are valid. buf holds messages made on the fly.
   For the admin panel, which shows the message next to the field. */
const char *post_fields_check(json_t *fields, int partial, const char **field, char *buf,
                              size_t buflen);
/* Writes a URL slug made from text into out: lower-case ASCII letters and digits, other
   UTF-8 letters kept, every other run of characters one '-'. */
void slugify(const char *text, char *out, size_t outlen);
#endif
