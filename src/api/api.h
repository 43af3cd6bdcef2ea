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

struct router;
struct request;

void api_routes(struct router *rt);

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
