/*
 * form.h - a bounded parser for application/x-www-form-urlencoded request bodies.
 *
 * "name=Ada+Lovelace&msg=caf%C3%A9" becomes the fields name="Ada Lovelace", msg="café".
 * The body is hostile input, so the parser refuses rather than repairs: too many fields,
 * a long name, a bad %-escape, a decoded NUL or invalid UTF-8 make it fail with a message
 * fit for a 400 answer. Values are otherwise bounded only by the body, which the server
 * caps (ONEFILE_MAX_BODY_BYTES).
 *
 * Threads: no shared state; a struct form belongs to the request that parsed it.
 */
#ifndef ONEFILE_HTTP_FORM_H
#define ONEFILE_HTTP_FORM_H
#include <stddef.h>

#include "core/buf.h"

#define FORM_MAX_FIELDS 64
#define FORM_MAX_NAME 64 /* bytes, after decoding */

struct form {
    size_t n;                      /* fields, in body order */
    char *names[FORM_MAX_FIELDS];  /* decoded, NUL-terminated, owned by the form */
    char *values[FORM_MAX_FIELDS]; /* decoded, NUL-terminated, owned by the form */
};

/* Parses body (len bytes, need not be NUL-terminated) into f, which needs no set-up.
   Fields are separated by '&' and split at their first '='; '+' is a space and %XX a byte
   (either case of hex digit). Empty pieces ("a=1&&b=2", a trailing '&') are skipped; a
   field without '=' has the value "", and a name may be empty ("=x"). Refuses more than
   FORM_MAX_FIELDS fields, a bad %-escape, a decoded NUL byte, invalid UTF-8 after
   decoding, and a name longer than FORM_MAX_NAME bytes. 0 on success; -1 with err (errlen
   bytes, may be NULL) filled with an ASCII message for the client that quotes none of the
   input ("Field 2 of the form has a bad %-escape in its value."), and f left empty.
   form_release() is safe after either. */
int form_parse(struct form *f, const char *body, size_t len, char *err, size_t errlen);
/* The value of the first field called name, or NULL; valid until form_release(). */
const char *form_get(const struct form *f, const char *name);
/* Frees the fields and leaves f empty. */
void form_release(struct form *f);
/* Appends s percent-encoded for a query string or form value (everything but ALPHA,
   DIGIT and "-._~" as %XX), so form_parse() and request_query() give s back.
   0, or -1 at b's limit. */
int form_escape(struct buf *b, const char *s);
/* Whether a Content-Type header value names application/x-www-form-urlencoded, in any
   case, optionally followed by parameters ("; charset=UTF-8"). 0 for NULL. */
int form_is_urlencoded(const char *content_type);

#endif
