/*
 * api.c - /api/v1 handlers; see api.h.
 *
 * Status codes, in one place for the whole API: 200/201/204 success; 400 malformed
 * request (bad JSON, bad cursor or limit); 401 missing, unknown or revoked token;
 * 404 unknown id (drafts are unknown without a token); 405 with Allow (router);
 * 409 slug taken; 413 body over the limit (server); 415 not JSON; 422 a field is invalid;
 * 503 the write could not be committed (Retry-After).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/api.h"
#include "core/log.h"
#include "core/mem.h"
#include "db/driver.h"
#include "db/readers.h"
#include "db/writer.h"
#include "http/app.h"
#include "http/cache.h"
#include "http/request.h"
#include "store/messages.h"
#include "store/posts.h"
#include "store/tokens.h"

#define DEFAULT_LIMIT 20

/* ---- authentication ---- */

static int unauthorized(struct request *r)
{
    request_set_header(r, "WWW-Authenticate", "Bearer");
    return request_error_field(r, 401, "unauthorized", "A valid bearer token is required.", NULL);
}

/* The token of "Authorization: Bearer <token>", or NULL when there is no such header
   (*present tells whether an Authorization header was sent at all). */
static const char *bearer(struct request *r, int *present)
{
    const char *h = request_header(r, "Authorization");
    *present = h != NULL;
    return h && strncasecmp(h, "Bearer ", 7) == 0 ? h + 7 : NULL;
}

/* For reads: 0 with r->token_id set, 1 when no Authorization header was sent, or an error
   status already answered (401) for a malformed, unknown or revoked token. */
static int authenticate(struct request *r)
{
    int present;
    const char *token = bearer(r, &present);
    if (!present)
        return 1;
    if (!token)
        return unauthorized(r);
    struct db_conn *db = readers_acquire(r->app->readers);
    int64_t id = 0;
    int stale = 0;
    int rc = tokens_check(db, token, &id, &stale);
    readers_release(r->app->readers, db);
    if (rc < 0)
        return request_error(r, 500, "Cannot check the token.");
    if (rc == 1)
        return unauthorized(r);
    r->token_id = id;
    if (stale) { /* record the use, at most once a minute per token, without waiting */
        int64_t *arg = xmalloc(sizeof(*arg));
        *arg = id;
        writer_submit_async(r->app->writer, "api:token-used", tokens_touch, arg, free);
    }
    return 0;
}

/* For endpoints that need a token: 0, or the 401 status already answered. */
static int require_token(struct request *r)
{
    int rc = authenticate(r);
    return rc == 1 ? unauthorized(r) : rc;
}

/* For writes, the first half: the token's hash into hash (TOKEN_HASH_LEN + 1), or 401
   answered when none that could be valid was sent. The lookup is the write's own (see
   api_write_run), in the transaction of the change it allows. */
static int write_token(struct request *r, char *hash)
{
    int present;
    const char *token = bearer(r, &present);
    if (!token || tokens_hash(token, hash) != 0)
        return unauthorized(r);
    return 0;
}

/* A write refused before it reached the writer (bad id, bad body): only the holder of a
   valid token learns why; anyone else gets the 401 they would have got first. */
static int refuse_write(struct request *r, int status)
{
    int rc = authenticate(r);
    return rc == 0 ? status : rc == 1 ? unauthorized(r) : rc;
}

/* ---- validation ---- */

static int has_control(const char *s, int allow_newlines)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p < 0x20 && !(allow_newlines && (*p == '\n' || *p == '\r' || *p == '\t'))) ||
            *p == 0x7f)
            return 1;
    return 0;
}

void slugify(const char *text, char *out, size_t outlen)
{
    size_t n = 0;
    int dash = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p && n + 5 < outlen; p++) {
        unsigned char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80) {
            if (dash && n)
                out[n++] = '-';
            dash = 0;
            out[n++] = (char)c;
        } else if (c >= 'A' && c <= 'Z') {
            if (dash && n)
                out[n++] = '-';
            dash = 0;
            out[n++] = (char)(c - 'A' + 'a');
        } else {
            dash = 1;
        }
    }
    /* never cut a UTF-8 sequence in two */
    while (n && ((unsigned char)out[n - 1] & 0xC0) == 0x80) {
        size_t k = n - 1;
        while (k && ((unsigned char)out[k] & 0xC0) == 0x80)
            k--;
        unsigned char lead = (unsigned char)out[k];
        size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
        if (n - k == need)
            break;
        n = k;
    }
    if (n && ((unsigned char)out[n - 1] & 0xC0) == 0xC0)
        n--;
    out[n] = '\0';
}

static const char *const reserved_slugs[] = {
    "api",     "admin",    "static",      "posts",      "contact",     "healthz", "readyz",
    "metrics", "feed.xml", "sitemap.xml", "robots.txt", "favicon.ico", NULL,
};

static const char *slug_problem(const char *slug)
{
    size_t n = strlen(slug);
    if (n == 0 || n > 100)
        return "The slug must be 1 to 100 bytes.";
    for (const unsigned char *p = (const unsigned char *)slug; *p; p++)
        if (*p <= 0x20 || *p == 0x7f || strchr("/?#%\\\"'<>", *p))
            return "The slug cannot contain spaces, control characters or / ? # % \\ \" ' < >.";
    if (slug[0] == '.' || slug[0] == '-')
        return "The slug cannot start with '.' or '-'.";
    for (int i = 0; reserved_slugs[i]; i++)
        if (strcasecmp(slug, reserved_slugs[i]) == 0)
            return "That slug is reserved for the site's own pages.";
    return NULL;
}

static int iso8601_ok(const char *s)
{
    struct tm tm, back;
    memset(&tm, 0, sizeof(tm));
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!end || *end != '\0' || strlen(s) != 20)
        return 0;
    /* a real date: 2026-02-31 would normalise to March and not come back the same */
    struct tm asked = tm; /* timegm() normalises its argument in place */
    time_t t = timegm(&tm);
    return gmtime_r(&t, &back) && back.tm_mday == asked.tm_mday && back.tm_mon == asked.tm_mon &&
           back.tm_hour == asked.tm_hour && back.tm_min == asked.tm_min &&
           back.tm_sec == asked.tm_sec;
}

static int invalid(struct request *r, const char *field, const char *message)
{
    return request_error_field(r, 422, "invalid", message, field);
}

/* Names the field a problem is about, and returns the problem. */
static const char *at(const char **field, const char *name, const char *message)
{
    *field = name;
    return message;
}

const char *post_fields_check(json_t *fields, int partial, const char **field, char *buf,
                              size_t buflen)
{
    *field = NULL;
    static const char *const known[] = {"title",  "slug",         "body_md", "kind",
                                        "status", "published_at", NULL};
    const char *key;
    json_t *v;
    json_object_foreach(fields, key, v)
    {
        int ok = 0;
        for (int i = 0; known[i]; i++)
            ok |= strcmp(key, known[i]) == 0;
        if (!ok) {
            snprintf(buf, buflen, "Unknown field '%.100s'.", key);
            *field = key;
            return buf;
        }
        if (!json_is_string(v) && !(strcmp(key, "published_at") == 0 && json_is_null(v)))
            return at(field, key,
                      strcmp(key, "published_at") == 0 ? "Must be a string (ISO 8601 UTC) or null."
                                                       : "Must be a string.");
    }
    json_t *title = json_object_get(fields, "title");
    if (!partial && !title)
        return at(field, "title", "The title is required.");
    if (title) {
        const char *t = json_string_value(title);
        size_t n = strlen(t);
        if (n == 0 || n > 300 || has_control(t, 0))
            return at(field, "title", "The title must be 1 to 300 bytes, on one line.");
    }
    json_t *body = json_object_get(fields, "body_md");
    if (body && has_control(json_string_value(body), 1))
        return at(field, "body_md", "The body cannot contain control characters.");
    json_t *kind = json_object_get(fields, "kind");
    if (kind && strcmp(json_string_value(kind), "post") != 0 &&
        strcmp(json_string_value(kind), "page") != 0)
        return at(field, "kind", "The kind is 'post' or 'page'.");
    json_t *status = json_object_get(fields, "status");
    if (status && strcmp(json_string_value(status), "draft") != 0 &&
        strcmp(json_string_value(status), "published") != 0)
        return at(field, "status", "The status is 'draft' or 'published'.");
    json_t *pub = json_object_get(fields, "published_at");
    if (pub && json_is_string(pub) && !iso8601_ok(json_string_value(pub)))
        return at(field, "published_at", "published_at must look like 2026-11-24T03:00:00Z (UTC).");
    json_t *slug = json_object_get(fields, "slug");
    if (!slug && !partial) {
        char made[101]; /* at most 100 bytes, cut on a character boundary */
        slugify(json_string_value(title), made, sizeof(made));
        size_t n = strlen(made);
        while (n && made[n - 1] == '-')
            made[--n] = '\0';
        if (!made[0])
            return at(field, "slug", "No slug can be made from this title: give one.");
        json_object_set_new(fields, "slug", json_string(made));
        slug = json_object_get(fields, "slug");
    }
    if (slug) {
        const char *problem = slug_problem(json_string_value(slug));
        if (problem)
            return at(field, "slug", problem);
    }
    return NULL;
}

int post_fields_validate(struct request *r, json_t *fields, int partial)
{
    char buf[200];
    const char *field;
    const char *problem = post_fields_check(fields, partial, &field, buf, sizeof(buf));
    return problem ? invalid(r, field, problem) : 0;
}

/* ---- helpers ---- */

/* A positive integer from text, or 0. */
static int64_t positive_id(const char *s)
{
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

/* limit and cursor query arguments: 0, or 400 answered. */
static int paging(struct request *r, int *limit, int64_t *before)
{
    const char *l = request_query(r, "limit"), *c = request_query(r, "cursor");
    *limit = DEFAULT_LIMIT;
    *before = 0;
    if (l) {
        int64_t v = positive_id(l);
        if (v < 1 || v > POSTS_MAX_LIMIT)
            return request_error_field(r, 400, "bad_request", "limit must be from 1 to 100.",
                                       "limit");
        *limit = (int)v;
    }
    if (c && !(*before = positive_id(c)))
        return request_error_field(r, 400, "bad_request", "Not a cursor this API returned.",
                                   "cursor");
    return 0;
}

static json_t *cursor_json(int64_t next)
{
    if (!next)
        return json_null();
    char s[32];
    snprintf(s, sizeof(s), "%lld", (long long)next);
    return json_string(s);
}

/* Answers the outcome of a post write submitted to the writer. */
static int write_outcome(struct request *r, int rc, struct post_write *w, const char *err,
                         int created)
{
    if (rc == 0) {
        if (created) {
            char loc[64];
            snprintf(loc, sizeof(loc), "/api/v1/posts/%lld", (long long)w->id);
            request_set_header(r, "Location", loc);
        }
        /* the hot path of every API write: encoded from the row, no JSON object built */
        buf_reset(&r->out);
        if (posts_row_encode(&r->out, w->row) < 0 || buf_addc(&r->out, '\n') < 0)
            return request_error(r, 500, "Cannot encode the post.");
        r->content_type = "application/json";
        return created ? 201 : 200;
    }
    if (w->slug_conflict)
        return request_error_field(r, 409, "conflict", "Another post has this slug.", "slug");
    if (w->not_found)
        return request_error(r, 404, "No post with this id.");
    if (rc == WRITER_ECOMMIT || rc == WRITER_ESTOPPED) {
        request_set_header(r, "Retry-After", "1");
        return request_error(r, 503, "The change could not be saved; try again.");
    }
    return request_engine_error(r, w->engine_error ? w->engine_error : DB_ECONSTRAINT, err);
}

/* ---- handlers ---- */

static int list_posts(struct request *r)
{
    int auth = authenticate(r);
    if (auth > 1)
        return auth;
    struct posts_query q = {0};
    int rc = paging(r, &q.limit, &q.before);
    if (rc)
        return rc;
    q.kind = request_query(r, "kind");
    q.status = request_query(r, "status");
    q.include_drafts = auth == 0;
    if (q.kind && strcmp(q.kind, "post") != 0 && strcmp(q.kind, "page") != 0)
        return request_error_field(r, 400, "bad_request", "kind is 'post' or 'page'.", "kind");
    if (q.status && strcmp(q.status, "draft") != 0 && strcmp(q.status, "published") != 0)
        return request_error_field(r, 400, "bad_request", "status is 'draft' or 'published'.",
                                   "status");
    if (q.status && strcmp(q.status, "draft") == 0 && auth != 0) {
        request_set_header(r, "WWW-Authenticate", "Bearer");
        return request_error_field(r, 401, "unauthorized", "Drafts need a bearer token.", NULL);
    }
    /* an anonymous list is public: cached under its parameters as validated above */
    char key[160];
    snprintf(key, sizeof(key), "%s?limit=%d&cursor=%lld&kind=%s&status=%s", r->path, q.limit,
             (long long)q.before, q.kind ? q.kind : "", q.status ? q.status : "");
    int anonymous = auth == 1;
    if (anonymous && cache_get(r, key))
        return 200;
    uint64_t version = cache_version(r);
    json_t *items;
    int64_t next;
    struct db_conn *db = readers_acquire(r->app->readers);
    rc = posts_list(db, &q, &items, &next);
    readers_release(r->app->readers, db);
    if (rc < 0)
        return request_error(r, 500, "Cannot read the posts.");
    request_set_header(r, "Cache-Control", auth == 0 ? "private, no-cache" : "no-cache");
    rc = request_json(r, 200,
                      json_pack("{s:o,s:o}", "items", items, "next_cursor", cursor_json(next)));
    if (anonymous && rc == 200)
        cache_put(r, key, version, 0);
    return rc;
}

static int get_post(struct request *r)
{
    int auth = authenticate(r);
    if (auth > 1)
        return auth;
    int64_t id = positive_id(request_param(r, "id"));
    if (!id)
        return request_error(r, 404, "No post with this id.");
    int anonymous = auth == 1;
    if (anonymous && cache_get(r, r->path))
        return 200;
    uint64_t version = cache_version(r);
    json_t *post;
    struct db_conn *db = readers_acquire(r->app->readers);
    int rc = posts_get(db, id, auth == 0, &post);
    readers_release(r->app->readers, db);
    if (rc < 0)
        return request_error(r, 500, "Cannot read the post.");
    if (rc == 1)
        return request_error(r, 404, "No post with this id.");
    request_set_header(r, "Cache-Control", auth == 0 ? "private, no-cache" : "no-cache");
    rc = request_json(r, 200, post);
    if (anonymous)
        cache_put(r, r->path, version, 0);
    return rc;
}

/* A post write waiting for the writer: kept on the request until it ends. */
struct api_write {
    struct post_write w;
    json_t *fields;
    char token_hash[TOKEN_HASH_LEN + 1];
    int64_t token_id;
    int created, deleting, unauthorized;
};

static void api_write_free(void *p)
{
    struct api_write *a = p;
    free(a->w.row);
    json_decref(a->fields);
    free(a);
}

static struct api_write *api_write_new(struct request *r, int64_t id, json_t *fields,
                                       const char *token_hash)
{
    struct api_write *a = xcalloc(1, sizeof(*a));
    a->w.id = id;
    a->w.fields = fields;
    a->w.want_result = 1;
    a->fields = fields;
    a->created = id == 0;
    memcpy(a->token_hash, token_hash, sizeof(a->token_hash));
    r->state = a;
    r->state_free = api_write_free;
    return a;
}

/* Writer function of every API write: checks the token, then changes the post, both in
   the batch's transaction, so a token revoked a moment ago cannot write, and no reader
   transaction is spent on the check. Atomic (WRITER_ATOMIC): the lookup changes nothing,
   the post's change is one statement, and the note of the token's use comes after it and
   may fail alone. */
static int api_write_run(struct db_conn *db, void *arg, char *err, size_t errlen)
{
    struct api_write *a = arg;
    int stale = 0;
    int rc = tokens_check_hash(db, a->token_hash, &a->token_id, &stale);
    if (rc != 0) {
        a->unauthorized = rc == 1;
        snprintf(err, errlen, rc == 1 ? "unknown or revoked token" : "cannot check the token");
        if (rc != 1)
            a->w.engine_error = DB_ERR;
        return -1;
    }
    if ((a->deleting ? posts_delete : posts_write)(db, &a->w, err, errlen) < 0)
        return -1;
    if (stale) { /* at most once a minute per token; losing one note costs nothing */
        char note_err[128];
        if (tokens_touch(db, &a->token_id, note_err, sizeof(note_err)) < 0)
            log_warn("api: cannot note the use of token %lld: %s", (long long)a->token_id,
                     note_err);
    }
    return 0;
}

static int post_written(struct request *r, int rc, const char *err)
{
    struct api_write *a = r->state;
    if (a->unauthorized)
        return unauthorized(r);
    r->token_id = a->token_id;
    if (rc == 0) /* committed: pages built from the old post are stale */
        cache_changed();
    if (rc == 0 && a->deleting) {
        buf_reset(&r->out);
        r->content_type = NULL;
        return 204;
    }
    if (rc == 0 && !a->w.row)
        return request_error(r, 500, "The post was saved but cannot be read back.");
    return write_outcome(r, rc, &a->w, err, a->created);
}

static int create_post(struct request *r)
{
    json_t *fields;
    char hash[TOKEN_HASH_LEN + 1];
    int rc;
    if ((rc = write_token(r, hash)))
        return rc;
    if ((rc = request_json_body(r, &fields)))
        return refuse_write(r, rc);
    if ((rc = post_fields_validate(r, fields, 0))) {
        json_decref(fields);
        return refuse_write(r, rc);
    }
    struct api_write *a = api_write_new(r, 0, fields, hash);
    return request_defer(r, api_write_run, a, WRITER_ATOMIC, post_written);
}

static int update_post(struct request *r)
{
    json_t *fields;
    char hash[TOKEN_HASH_LEN + 1];
    int rc;
    if ((rc = write_token(r, hash)))
        return rc;
    int64_t id = positive_id(request_param(r, "id"));
    if (!id)
        return refuse_write(r, request_error(r, 404, "No post with this id."));
    if ((rc = request_json_body(r, &fields)))
        return refuse_write(r, rc);
    if ((rc = post_fields_validate(r, fields, 1))) {
        json_decref(fields);
        return refuse_write(r, rc);
    }
    struct api_write *a = api_write_new(r, id, fields, hash);
    return request_defer(r, api_write_run, a, WRITER_ATOMIC, post_written);
}

static int delete_post(struct request *r)
{
    char hash[TOKEN_HASH_LEN + 1];
    int rc;
    if ((rc = write_token(r, hash)))
        return rc;
    int64_t id = positive_id(request_param(r, "id"));
    if (!id)
        return refuse_write(r, request_error(r, 404, "No post with this id."));
    struct api_write *a = api_write_new(r, id, NULL, hash);
    a->deleting = 1;
    a->w.want_result = 0;
    return request_defer(r, api_write_run, a, WRITER_ATOMIC, post_written);
}

static int list_messages(struct request *r)
{
    int rc, limit;
    int64_t before, next;
    if ((rc = require_token(r)))
        return rc;
    if ((rc = paging(r, &limit, &before)))
        return rc;
    json_t *items;
    struct db_conn *db = readers_acquire(r->app->readers);
    rc = messages_list(db, before, limit, &items, &next);
    readers_release(r->app->readers, db);
    if (rc < 0)
        return request_error(r, 500, "Cannot read the messages.");
    request_set_header(r, "Cache-Control", "private, no-cache");
    return request_json(r, 200,
                        json_pack("{s:o,s:o}", "items", items, "next_cursor", cursor_json(next)));
}

int api_require_token(struct request *r)
{
    return require_token(r);
}

int api_paging(struct request *r, int *limit, int64_t *before)
{
    return paging(r, limit, before);
}

json_t *api_cursor_json(int64_t next)
{
    return cursor_json(next);
}

void api_routes(struct router *rt)
{
    media_api_routes(rt);
    router_add(rt, "GET", "/api/v1/posts", list_posts);
    router_add(rt, "POST", "/api/v1/posts", create_post);
    router_add(rt, "GET", "/api/v1/posts/{id}", get_post);
    router_add(rt, "PATCH", "/api/v1/posts/{id}", update_post);
    router_add(rt, "DELETE", "/api/v1/posts/{id}", delete_post);
    router_add(rt, "GET", "/api/v1/messages", list_messages);
}
