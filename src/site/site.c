/*
 * site.c - the public site; see site.h.
 *
 * A page's model: {site: {title, base_url, pages: [{title, slug}]}, page_title, canonical,
 * ...} plus the page's own data: posts (each with url, published_date, excerpt), post
 * (with body_html, rendered from Markdown with raw HTML escaped and unsafe URLs
 * neutralised), pagination links, the contact form's values and errors.
 * Viewing a post records a page view through the writer without waiting for it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/mem.h"
#include "db/readers.h"
#include "db/writer.h"
#include "http/app.h"
#include "http/cache.h"
#include "http/encoding.h"
#include "http/form.h"
#include "http/httpdate.h"
#include "http/request.h"
#include "site/markdown.h"
#include "site/ratelimit.h"
#include "site/site.h"
#include "site/theme.h"
#include "site/views.h"
#include "store/messages.h"
#include "jobs/jobs.h"
#include "store/posts.h"
#include "tmpl/tmpl.h"

#define PER_PAGE 10
#define EXCERPT_CHARS 280

/* Every page built from the database passes here, on the reader it was read from: the
   moment a scheduled post or page comes due is told to the response cache, whose entries
   (listings, the navigation of every page) it makes stale. */
static json_t *site_model(struct request *r, struct db_conn *db)
{
    const struct config *cfg = r->app->cfg;
    json_t *pages = NULL;
    int more;
    int64_t due;
    if (posts_next_due(db, &due) == 0)
        cache_due(due);
    if (posts_published(db, "page", 1, 20, &pages, &more) < 0)
        pages = json_array();
    json_t *nav = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(pages, i, p)
    {
        json_array_append_new(nav, json_pack("{s:O,s:O}", "title", json_object_get(p, "title"),
                                             "slug", json_object_get(p, "slug")));
    }
    json_decref(pages);
    return json_pack("{s:s,s:s,s:o}", "title", cfg->site_title, "base_url", cfg->base_url, "pages",
                     nav);
}

/* "24 November 2026" from "2026-11-24T...". */
static json_t *human_date(const char *iso)
{
    static const char *const months[] = {"January",   "February", "March",    "April",
                                         "May",       "June",     "July",     "August",
                                         "September", "October",  "November", "December"};
    int y, m, d;
    if (!iso || sscanf(iso, "%4d-%2d-%2d", &y, &m, &d) != 3 || m < 1 || m > 12)
        return json_string("");
    return json_sprintf("%d %s %d", d, months[m - 1], y);
}

/* Rendered Markdown of recent posts, keyed by id and updated_at: a post is rendered once
   per change, not once per view. A small direct-mapped cache under a mutex. */
#define HTML_CACHE 256
static struct {
    int64_t id;
    char updated[32];
    char *html;
} html_cache[HTML_CACHE];
static pthread_mutex_t html_cache_mu = PTHREAD_MUTEX_INITIALIZER;

static json_t *html_of(json_t *post, const char *md, int allow_html)
{
    int64_t id = json_integer_value(json_object_get(post, "id"));
    const char *updated = json_string_value(json_object_get(post, "updated_at"));
    size_t slot = (size_t)id % HTML_CACHE;
    json_t *out = NULL;
    pthread_mutex_lock(&html_cache_mu);
    if (html_cache[slot].html && html_cache[slot].id == id && updated &&
        strcmp(html_cache[slot].updated, updated) == 0)
        out = json_string(html_cache[slot].html);
    pthread_mutex_unlock(&html_cache_mu);
    if (out)
        return out;
    struct buf b = BUF_INIT;
    markdown_render(md, strlen(md), allow_html, &b);
    out = json_string(buf_str(&b));
    if (updated && strlen(updated) < sizeof(html_cache[0].updated)) {
        pthread_mutex_lock(&html_cache_mu);
        free(html_cache[slot].html);
        html_cache[slot].id = id;
        snprintf(html_cache[slot].updated, sizeof(html_cache[slot].updated), "%s", updated);
        html_cache[slot].html = buf_detach(&b, NULL);
        pthread_mutex_unlock(&html_cache_mu);
    }
    buf_release(&b);
    return out;
}

#define WITH_EXCERPT 1
#define WITH_BODY 2

/* Adds url, published_date, and the excerpt and/or body_html asked for to a post model. */
static void decorate(struct request *r, json_t *post, int full)
{
    const char *slug = json_string_value(json_object_get(post, "slug"));
    const char *kind = json_string_value(json_object_get(post, "kind"));
    const char *md = json_string_value(json_object_get(post, "body_md"));
    struct buf b = BUF_INIT;
    buf_adds(&b, strcmp(kind, "page") == 0 ? "/" : "/posts/");
    for (const unsigned char *p = (const unsigned char *)slug; *p; p++) /* percent-encode */
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p))
            buf_addc(&b, (char)*p);
        else
            buf_addf(&b, "%%%02X", *p);
    json_object_set_new(post, "url", json_string(buf_str(&b)));
    json_object_set_new(post, "published_date",
                        human_date(json_string_value(json_object_get(post, "published_at"))));
    if (full & WITH_EXCERPT) {
        buf_reset(&b);
        markdown_excerpt(md, strlen(md), EXCERPT_CHARS, &b);
        json_object_set_new(post, "excerpt", json_string(buf_str(&b)));
    }
    if (full & WITH_BODY)
        json_object_set_new(post, "body_html", html_of(post, md, (int)r->app->cfg->markdown_html));
    buf_release(&b);
}

/* Whether s holds a control character (C0 or DEL). */
static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
            return 1;
    return 0;
}

/* Renders template name with model (stolen) as the response. */
static int render(struct request *r, int status, const char *name, json_t *model,
                  const char *content_type)
{
    char err[256];
    buf_reset(&r->out);
    int rc = tmpl_render(r->app->theme->templates, name, model, &r->out, err, sizeof(err));
    json_decref(model);
    if (rc < 0) {
        buf_reset(&r->out);
        return request_error(r, 500, "The page could not be rendered.");
    }
    r->content_type = content_type ? content_type : "text/html; charset=utf-8";
    request_set_header(r, "Cache-Control", "no-cache");
    return status;
}

static int not_found(struct request *r, struct db_conn *db)
{
    json_t *m = json_pack("{s:o,s:i,s:s,s:s,s:s}", "site", site_model(r, db), "status", 404,
                          "reason", "Not Found", "message", "There is nothing at this address.",
                          "page_title", "Not found");
    return render(r, 404, "error.html", m, NULL);
}

static int home(struct request *r)
{
    const char *p = request_query(r, "page");
    long page = 1;
    if (p) {
        char *end;
        page = strtol(p, &end, 10);
        if (*end || page < 1 || page > 100000)
            return request_error(r, 400, "page must be a number from 1.");
    }
    char key[32];
    snprintf(key, sizeof(key), "/?page=%ld", page);
    int hit = cache_get(r, key);
    if (hit)
        return hit;
    uint64_t version = cache_version(r);
    struct db_conn *db = readers_acquire(r->app->readers);
    json_t *posts;
    int more, rc = posts_published(db, "post", (int)page, PER_PAGE, &posts, &more);
    if (rc < 0) {
        readers_release(r->app->readers, db);
        return request_error(r, 500, "Cannot read the posts.");
    }
    if (page > 1 && json_array_size(posts) == 0) {
        json_decref(posts);
        rc = not_found(r, db);
        readers_release(r->app->readers, db);
        return rc;
    }
    size_t i;
    json_t *post;
    json_array_foreach(posts, i, post)
    {
        decorate(r, post, WITH_EXCERPT);
    }
    json_t *m =
        json_pack("{s:o,s:o,s:i}", "site", site_model(r, db), "posts", posts, "page", (int)page);
    readers_release(r->app->readers, db);
    if (page > 1)
        json_object_set_new(m, "newer_url",
                            page == 2 ? json_string("/") : json_sprintf("/?page=%ld", page - 1));
    if (more)
        json_object_set_new(m, "older_url", json_sprintf("/?page=%ld", page + 1));
    rc = render(r, 200, "index.html", m, NULL);
    if (rc == 200)
        cache_put(r, key, version, 0);
    return rc;
}

static int show(struct request *r, const char *kind, const char *template)
{
    const char *slug = request_param(r, "slug");
    int hit = cache_get(r, r->path);
    if (hit) {
        if (strcmp(kind, "post") == 0) /* the view still counts */
            views_record(r->app->views, r->cached_id);
        return hit;
    }
    uint64_t version = cache_version(r);
    struct db_conn *db = readers_acquire(r->app->readers);
    json_t *post;
    int rc = posts_get_by_slug(db, slug, kind, 0, &post);
    if (rc != 0) {
        rc = rc < 0 ? request_error(r, 500, "Cannot read the post.") : not_found(r, db);
        readers_release(r->app->readers, db);
        return rc;
    }
    decorate(r, post, WITH_BODY);
    json_t *m = json_pack("{s:o,s:O,s:O}", "site", site_model(r, db), "page_title",
                          json_object_get(post, "title"), "post", post);
    readers_release(r->app->readers, db);
    json_object_set_new(m, "canonical",
                        json_sprintf("%s%s", r->app->cfg->base_url,
                                     json_string_value(json_object_get(post, "url"))));
    int64_t id = json_integer_value(json_object_get(post, "id"));
    if (strcmp(kind, "post") == 0) /* counted in memory, written within a second */
        views_record(r->app->views, id);
    json_decref(post);
    int status = render(r, 200, template, m, NULL);
    if (status == 200)
        cache_put(r, r->path, version, id);
    return status;
}

static int show_post(struct request *r)
{
    return show(r, "post", "post.html");
}

static int show_page(struct request *r)
{
    return show(r, "page", "page.html");
}

static int feed(struct request *r)
{
    int hit = cache_get(r, r->path);
    if (hit)
        return hit;
    uint64_t version = cache_version(r);
    struct db_conn *db = readers_acquire(r->app->readers);
    json_t *posts;
    int more;
    if (posts_published(db, "post", 1, 20, &posts, &more) < 0) {
        readers_release(r->app->readers, db);
        return request_error(r, 500, "Cannot read the posts.");
    }
    const char *updated = "1970-01-01T00:00:00Z";
    size_t i;
    json_t *post;
    json_array_foreach(posts, i, post)
    {
        decorate(r, post, WITH_EXCERPT | WITH_BODY);
        const char *u = json_string_value(json_object_get(post, "updated_at"));
        if (u && strcmp(u, updated) > 0)
            updated = u;
    }
    json_t *m =
        json_pack("{s:o,s:s,s:o}", "site", site_model(r, db), "updated", updated, "posts", posts);
    readers_release(r->app->readers, db);
    int rc = render(r, 200, "feed.xml", m, "application/atom+xml; charset=utf-8");
    if (rc == 200)
        cache_put(r, r->path, version, 0);
    return rc;
}

static int sitemap(struct request *r)
{
    int hit = cache_get(r, r->path);
    if (hit)
        return hit;
    uint64_t version = cache_version(r);
    struct db_conn *db = readers_acquire(r->app->readers);
    json_t *entries = json_array();
    static const char *const kinds[] = {"page", "post"};
    for (int k = 0; k < 2; k++) {
        json_t *items;
        int more;
        if (posts_published(db, kinds[k], 1, 25000, &items, &more) < 0) {
            readers_release(r->app->readers, db);
            json_decref(entries);
            return request_error(r, 500, "Cannot read the posts.");
        }
        size_t i;
        json_t *post;
        json_array_foreach(items, i, post)
        {
            decorate(r, post, 0);
            json_array_append(entries, post);
        }
        json_decref(items);
    }
    json_t *m = json_pack("{s:o,s:o}", "site", site_model(r, db), "entries", entries);
    readers_release(r->app->readers, db);
    int rc = render(r, 200, "sitemap.xml", m, "application/xml; charset=utf-8");
    if (rc == 200)
        cache_put(r, r->path, version, 0);
    return rc;
}

static int contact_form(struct request *r)
{
    struct db_conn *db = readers_acquire(r->app->readers);
    const char *sent = request_query(r, "sent");
    json_t *m = json_pack("{s:o,s:s,s:b,s:{},s:{}}", "site", site_model(r, db), "page_title",
                          "Contact", "sent", sent && strcmp(sent, "1") == 0, "values", "errors");
    readers_release(r->app->readers, db);
    return render(r, 200, "contact.html", m, NULL);
}

static int email_ok(const char *s)
{
    const char *at = strchr(s, '@');
    size_t n = strlen(s);
    if (!at || at == s || n > 254 || strchr(at + 1, '@') || !strchr(at + 1, '.') || at[1] == '.' ||
        s[n - 1] == '.')
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p == 0x7f || strchr("<>()[]\\,;:\"", *p))
            return 0;
    return 1;
}

static int contact_post(struct request *r)
{
    struct form f;
    char err[256], ip[64];
    const char *ct = request_header(r, "Content-Type");
    if (!ct || !form_is_urlencoded(ct))
        return request_error(r, 415,
                             "The form must be sent as "
                             "application/x-www-form-urlencoded (multipart is refused).");
    if (form_parse(&f, r->body.data ? r->body.data : "", r->body.len, err, sizeof(err)) < 0)
        return request_error(r, 400, err);
    const char *name = form_get(&f, "name"), *email = form_get(&f, "email"),
               *message = form_get(&f, "message"), *website = form_get(&f, "website");
    int status;
    request_client_ip(r, ip, sizeof(ip));
    if (website && *website) { /* the honeypot: a bot filled the hidden field */
        status = request_redirect(r, 303, "/contact?sent=1");
        goto out;
    }
    json_t *errors = json_object();
    /* a name is one line: CR/LF (or any control character) would let it forge lines in a
       notification or a mail header built from it */
    if (!name || !*name || strlen(name) > 100 || has_control(name))
        json_object_set_new(errors, "name",
                            json_string("Please give your name (up to 100 characters, one line)."));
    if (!email || !email_ok(email))
        json_object_set_new(errors, "email", json_string("Please give a valid email address."));
    if (!message || !*message || strlen(message) > 5000)
        json_object_set_new(errors, "message",
                            json_string("Please write a message (up to 5000 characters)."));
    if (json_object_size(errors)) {
        struct db_conn *db = readers_acquire(r->app->readers);
        json_t *m =
            json_pack("{s:o,s:s,s:b,s:{s:s,s:s,s:s},s:o}", "site", site_model(r, db), "page_title",
                      "Contact", "sent", 0, "values", "name", name ? name : "", "email",
                      email ? email : "", "message", message ? message : "", "errors", errors);
        readers_release(r->app->readers, db);
        status = render(r, 422, "contact.html", m, NULL);
        goto out;
    }
    json_decref(errors);
    int wait = ratelimit_take(r->app->contact_limit, ip);
    if (wait > 0) {
        char after[16];
        snprintf(after, sizeof(after), "%d", wait);
        request_set_header(r, "Retry-After", after);
        status =
            request_error(r, 429, "Too many messages from your address; please try again later.");
        goto out;
    }
    struct message_write mw = {name, email, message, ip, 0};
    if (writer_submit(r->app->writer, r->route, messages_create, &mw, err, sizeof(err)) != 0) {
        request_set_header(r, "Retry-After", "1");
        status = request_error(r, 503, "Your message could not be saved; please try again.");
        goto out;
    }
    jobs_notify_contact(r->app->jobs, mw.id, name, email); /* ONEFILE_NOTIFY_WEBHOOK */
    status = request_redirect(r, 303, "/contact?sent=1");
out:
    form_release(&f);
    return status;
}

static int static_file(struct request *r)
{
    const struct static_file *sf = theme_static(r->app->theme, request_param(r, "file"));
    if (!sf)
        return request_error(r, 404, "No such file.");
    enum encoding enc = encoding_choose(request_header(r, "Accept-Encoding"), sf->codings);
    char etag[32], date[HTTPDATE_LEN];
    buf_reset(&r->out);
    if (enc == ENCODING_IDENTITY)
        buf_add(&r->out, sf->data, sf->size);
    else
        buf_add(&r->out, sf->coded[enc].data, sf->coded[enc].size);
    r->content_type = sf->mime;
    encoding_etag(sf->etag, enc, etag, sizeof(etag));
    request_set_header(r, "ETag", etag);
    httpdate_format(sf->modified, date);
    request_set_header(r, "Last-Modified", date);
    request_set_header(r, "Cache-Control", "public, max-age=3600");
    if (encoding_compressible(sf->mime))
        request_set_header(r, "Vary", "Accept-Encoding");
    if (enc != ENCODING_IDENTITY)
        request_set_header(r, "Content-Encoding", encoding_name(enc));
    return 200;
}

void site_routes(struct router *rt)
{
    router_add(rt, "GET", "/", home);
    router_add(rt, "GET", "/posts/{slug}", show_post);
    router_add(rt, "GET", "/feed.xml", feed);
    router_add(rt, "GET", "/sitemap.xml", sitemap);
    router_add(rt, "GET", "/contact", contact_form);
    router_add(rt, "POST", "/contact", contact_post);
    router_add(rt, "GET", "/static/{file*}", static_file);
    router_add(rt, "GET", "/{slug}", show_page);
}
