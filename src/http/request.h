/*
 * request.h - one HTTP request as a handler sees it, and the response it builds.
 *
 * The server (http/server.c) creates a struct request when libmicrohttpd reports the
 * request's headers, collects its body (capped at ONEFILE_MAX_BODY_BYTES), matches a
 * route, and calls the handler once the whole request is in. The handler reads method,
 * path, params, headers, query and body, fills `out` (and its content type and extra
 * headers) and returns the status. Everything a request allocates hangs off it and is
 * freed in one place, when libmicrohttpd reports the request completed; handlers never
 * free request data.
 *
 * Errors have one shape per audience: request_error() answers JSON
 * {"error":{"code":"not_found","message":"..."}} under /api/ (and for clients that ask for
 * JSON), a small HTML page elsewhere.
 *
 * Threads: a request belongs to the libmicrohttpd worker thread that handles it.
 */
#ifndef ONEFILE_HTTP_REQUEST_H
#define ONEFILE_HTTP_REQUEST_H
#include <jansson.h>
#include <stdint.h>

#include "core/buf.h"
#include "db/writer.h"
#include "http/router.h"

struct MHD_Connection;
struct app;
struct upload;

#define REQUEST_MAX_HEADERS 16

struct request {
    struct MHD_Connection *conn;
    struct app *app;
    const char *method;       /* owned by libmicrohttpd, valid for the request */
    const char *path;         /* without the query string */
    struct route_match match; /* params of the matched route */
    const char *route;        /* the matched pattern, or "-" (for logs and metrics) */
    struct buf body;          /* request body, capped; body.toobig set beyond the cap */
    struct upload *upload;    /* instead of body on upload paths (http/upload.h) */
    int64_t started_us;       /* clock_mono_us() when the headers were in */

    /* response */
    int status;
    struct buf out;
    const char *content_type;              /* a literal; default text/html; charset=utf-8 */
    char *headers[REQUEST_MAX_HEADERS][2]; /* extra headers, malloc'ed */
    int nheaders;
    int close;      /* answer with Connection: close */
    int dispatched; /* the handler ran (or is waiting for its write) */
    int file_fd;    /* with has_file: the body is this open file (taken over) */
    int has_file;
    uint64_t file_size;
    int pipe_fd; /* with has_pipe: the body is read from this pipe to its end */
    int has_pipe;
    int no_etag;       /* do not add an ETag (the handler knows better) */
    int64_t token_id;  /* the API token that authenticated the request, or 0 */
    int64_t cached_id; /* set by cache_get() on a hit (http/cache.h) */

    /* a write deferred to the writer (request_defer) */
    int (*then)(struct request *r, int rc, const char *err);
    int deferred_rc;
    char deferred_err[256];
    void *state; /* the handler's, freed with state_free at the end */
    void (*state_free)(void *);
    size_t bytes_sent; /* body bytes, for the log line */
};

/* A request header's value (case-insensitive name), or NULL. */
const char *request_header(struct request *r, const char *name);
/* A query-string argument's value (decoded), or NULL. */
const char *request_query(struct request *r, const char *name);
/* A route parameter, or NULL. */
const char *request_param(struct request *r, const char *name);
/* Whether the request wants a JSON answer (path under /api/ or Accept: application/json). */
int request_wants_json(struct request *r);

/* Adds a response header (both strings copied). Beyond REQUEST_MAX_HEADERS it is dropped
   and logged: a programming error, not a request error. */
void request_set_header(struct request *r, const char *name, const char *value);
/* Sets the body to the JSON text of v (reference stolen) and returns status. */
int request_json(struct request *r, int status, json_t *v);
/* Sets a plain-text body and returns status. */
int request_text(struct request *r, int status, const char *text);
/* The error answer for status with message (JSON or HTML, see above); returns status.
   The JSON form is {"error":{"code":"not_found","message":"..."}}, the code derived from
   the status. */
int request_error(struct request *r, int status, const char *message);
/* The same with an explicit code and the offending field (field may be NULL):
   {"error":{"code":"invalid","message":"...","field":"title"}}. */
int request_error_field(struct request *r, int status, const char *code, const char *message,
                        const char *field);
/* The one place an engine's failure becomes an HTTP status (db/driver.h codes): a
   constraint the input broke (DB_ECONSTRAINT, DB_EUNIQUE) is 422; the file or the disk
   failing (DB_EREADONLY, DB_EIO, DB_EFULL, DB_EBUSY) is 503 with Retry-After - nothing
   is wrong with the request; a damaged file or anything else (DB_ECORRUPT, DB_ERR) 500.
   `what` says what failed, for the message. Returns the status. */
int request_engine_error(struct request *r, int code, const char *what);
/* A redirect (303 after a form post, 301/302 otherwise) to location; returns status. */
int request_redirect(struct request *r, int status, const char *location);
/* Logs one warning per process (the first time) when a request carries a forwarding
   header (Fly-Client-IP, X-Forwarded-For, Forwarded) from a loopback or private peer while
   ONEFILE_TRUST_PROXY is off: a reverse proxy is in front and every visitor would share
   its address. Called by the server for each request's headers; cheap once warned. */
void request_note_proxy_headers(struct request *r);
/* The client's IP address as text into buf ("127.0.0.1"); "unknown" when not available. */
const char *request_client_ip(struct request *r, char *buf, size_t len);
/* Parses the body as a JSON object. 0 with *out set (caller decrefs); otherwise the error
   response is set (415 not application/json, 400 malformed: truncated, invalid UTF-8,
   duplicated keys, numbers out of range, not an object) and its status returned. */
int request_json_body(struct request *r, json_t **out);

/* Hands fn(arg) to the writer and suspends the request without holding its thread: the
   worker serves other connections meanwhile, and many requests' writes share one
   transaction. Once the write committed (or failed), then(r, rc, err) runs on a worker
   thread to build the response, with rc and err as writer_submit() returns them. arg
   must live until then (keep it in r->state). flags as writer_submit_cb() takes them
   (WRITER_ATOMIC). A handler returns request_defer()'s value: REQUEST_DEFERRED. */
#define REQUEST_DEFERRED 0
int request_defer(struct request *r, writer_fn *fn, void *arg, unsigned flags,
                  int (*then)(struct request *r, int rc, const char *err));

/* A strong ETag ("\"0123456789abcdef\"", a 64-bit hash of the bytes) for a body built on
   the fly: not a security boundary, an ETag only saves a transfer. */
void request_etag(const char *data, size_t len, char out[24]);

/* The reason phrase of an HTTP status ("Not Found"). */
const char *http_reason(int status);
#endif
