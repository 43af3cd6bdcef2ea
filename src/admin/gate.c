/*
 * gate.c - the admin panel's gate: sessions, CSRF, Origin checks, login and logout, and
 * the helpers every admin page shares (see gate.h).
 *
 * Every handler starts with one of two gates:
 *   admin_page(r, &ctx)     GET pages: a valid session, else 303 to /admin/login
 *   admin_action(r, &ctx)   POST: a valid session, the Origin / Sec-Fetch-Site check and
 *                           the form's _csrf equal to the session's; else 403 (or 303)
 * and renders through admin_render(), which adds the user, the CSRF token and no-store.
 * Writes go through the writer (admin_submit: admin traffic is small).
 * Threads: HTTP workers.
 */
#include "admin/gate.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <microhttpd.h>

#include "admin/password.h"
#include "admin/throttle.h"
#include "core/log.h"
#include "core/mem.h"
#include "http/app.h"
#include "site/theme.h"
#include "store/users.h"
#include "tmpl/tmpl.h"

/* ---- small helpers ---- */

int admin_secure(struct request *r)
{
    return strncmp(r->app->cfg->base_url, "https://", 8) == 0;
}

void admin_set_cookie(struct request *r, const char *name, const char *value, const char *path,
                      long max_age)
{
    char c[256];
    snprintf(c, sizeof(c), "%s=%s; Path=%s; HttpOnly; SameSite=Lax; Max-Age=%ld%s", name, value,
             path, max_age, admin_secure(r) ? "; Secure" : "");
    request_set_header(r, "Set-Cookie", c);
}

const char *admin_cookie(struct request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name);
}

/* "scheme://host[:port]" of a URL into out. */
static void origin_of(const char *url, char *out, size_t len)
{
    const char *p = strstr(url, "://");
    size_t n = p ? (size_t)(p + 3 - url) + strcspn(p + 3, "/?#") : strlen(url);
    snprintf(out, len, "%.*s", (int)n, url);
}

/* Whether a state-changing request comes from our own pages. */
int admin_same_origin(struct request *r)
{
    const char *site = request_header(r, "Sec-Fetch-Site");
    if (site && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0)
        return 0;
    const char *origin = request_header(r, "Origin");
    if (!origin)
        return 1; /* not sent by every client: the CSRF token still has to match */
    char mine[300];
    origin_of(r->app->cfg->base_url, mine, sizeof(mine));
    if (strcasecmp(origin, mine) == 0)
        return 1;
    const char *host = request_header(r, "Host");
    if (!host)
        return 0;
    char a[300];
    snprintf(a, sizeof(a), "http://%s", host);
    if (strcasecmp(origin, a) == 0)
        return 1;
    snprintf(a, sizeof(a), "https://%s", host);
    return strcasecmp(origin, a) == 0;
}

static int tokens_equal(const char *a, const char *b)
{
    size_t n = a ? strlen(a) : 0;
    return a && b && n > 0 && n == strlen(b) && sodium_memcmp(a, b, n) == 0;
}

int64_t admin_id_param(struct request *r)
{
    const char *s = request_param(r, "id");
    if (!s || !*s || strlen(s) > 18)
        return 0;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p))
            return 0;
    return strtoll(s, NULL, 10);
}

/* Loads the session from its cookie: 0 valid, 1 none. */
int admin_load_session(struct request *r, struct session *s)
{
    const char *token = admin_cookie(r, SESSION_COOKIE);
    if (!token)
        return 1;
    struct db_conn *db = readers_acquire(r->app->readers);
    int rc = sessions_lookup(db, token, s);
    readers_release(r->app->readers, db);
    if (rc != 0)
        return 1;
    if (s->touch) { /* idle expiry moves with use; at most one write a minute */
        struct session_write *w = xcalloc(1, sizeof(*w));
        w->id = s->id;
        writer_submit_async(r->app->writer, "admin:session-seen", sessions_touch, w, free);
    }
    return 0;
}

int admin_to_login(struct request *r)
{
    request_set_header(r, "Cache-Control", "no-store");
    return request_redirect(r, 303, "/admin/login");
}

int admin_page(struct request *r, struct ctx *c)
{
    memset(c, 0, sizeof(*c));
    return admin_load_session(r, &c->s) == 0 ? 0 : admin_to_login(r);
}

int admin_forbidden(struct request *r, const char *why)
{
    request_set_header(r, "Cache-Control", "no-store");
    return request_error(r, 403, why);
}

/* Parses the form body: 0, or the error status answered. */
static int parse_form(struct request *r, struct ctx *c)
{
    char err[256];
    const char *ct = request_header(r, "Content-Type");
    if (!ct || !form_is_urlencoded(ct))
        return request_error(r, 415, "Forms are sent as application/x-www-form-urlencoded.");
    if (form_parse(&c->f, r->body.data ? r->body.data : "", r->body.len, err, sizeof(err)) < 0)
        return request_error(r, 400, err);
    c->have_form = 1;
    return 0;
}

int admin_action(struct request *r, struct ctx *c)
{
    int rc;
    memset(c, 0, sizeof(*c));
    if (admin_load_session(r, &c->s) != 0)
        return admin_to_login(r);
    if (!admin_same_origin(r))
        return admin_forbidden(r, "This request did not come from this site's pages.");
    if ((rc = parse_form(r, c)))
        return rc;
    if (!tokens_equal(form_get(&c->f, "_csrf"), c->s.csrf))
        return admin_forbidden(r,
                               "The form's security token is missing or stale: reload the page.");
    return 0;
}

void admin_done(struct ctx *c)
{
    if (c->have_form)
        form_release(&c->f);
}

/* ---- notices after a write, confirmation before a destructive one ---- */

/* What a redirect after a write may ask the next page to say (?done=CODE). The text shown
   is always this table's, never anything from the query, so a link cannot make the admin
   say something else; an unknown code shows nothing. Adding one: a row here, then
   admin_redirect_done(r, path, "code") in the handler. */
static const struct {
    const char *code, *text;
} notices[] = {
    {"post-created", "Created."},
    {"post-saved", "Saved."},
    {"post-deleted", "Deleted."},
    {"message-deleted", "Message deleted."},
    {"media-uploaded", "Uploaded."},
    {"media-deleted", "File deleted."},
    {"job-retried", "The job is queued again."},
    {"user-added", "User added."},
    {"token-revoked", "Token revoked: it no longer works."},
};

static const char *notice_text(const char *code)
{
    for (size_t i = 0; code && i < sizeof(notices) / sizeof(notices[0]); i++)
        if (strcmp(code, notices[i].code) == 0)
            return notices[i].text;
    return NULL;
}

int admin_redirect_done(struct request *r, const char *path, const char *code)
{
    char loc[256];
    assert(notice_text(code));
    snprintf(loc, sizeof(loc), "%s%cdone=%s", path, strchr(path, '?') ? '&' : '?', code);
    request_set_header(r, "Cache-Control", "no-store");
    return request_redirect(r, 303, loc);
}

int admin_confirmed(struct ctx *c)
{
    const char *v = c->have_form ? form_get(&c->f, "confirm") : NULL;
    return v && strcmp(v, "1") == 0;
}

int admin_confirm(struct request *r, struct ctx *c, const struct admin_question *q)
{
    json_t *m = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s?,s:b}", "page_title", q->question, "question",
                          q->question, "action", q->action, "button", q->button, "back", q->back,
                          "detail", q->detail, "force", q->force);
    return admin_render(r, c, 200, "admin/confirm.html", q->nav, m);
}

static json_t *nav(const char *active)
{
    json_t *n = json_object();
    if (active)
        json_object_set_new(n, active, json_true());
    return n;
}

/* Renders an admin template; model is stolen. */
int admin_render(struct request *r, struct ctx *c, int status, const char *name, const char *active,
                 json_t *model)
{
    char err[256];
    json_object_set_new(model, "site", json_pack("{s:s}", "title", r->app->cfg->site_title));
    if (c && c->s.id) {
        json_object_set_new(model, "user", json_pack("{s:s}", "email", c->s.email));
        json_object_set_new(model, "csrf", json_string(c->s.csrf));
        const char *flash = notice_text(request_query(r, "done"));
        if (flash && !json_object_get(model, "flash"))
            json_object_set_new(model, "flash", json_string(flash));
    }
    json_object_set_new(model, "nav", nav(active));
    buf_reset(&r->out);
    int rc = tmpl_render(r->app->theme->templates, name, model, &r->out, err, sizeof(err));
    json_decref(model);
    request_set_header(r, "Cache-Control", "no-store");
    if (rc < 0) {
        log_err("admin: %s", err);
        return request_error(r, 500, "The page could not be rendered.");
    }
    r->content_type = "text/html; charset=utf-8";
    return status;
}

int admin_submit(struct request *r, const char *origin, writer_fn *fn, void *arg, char *err,
                 size_t errlen)
{
    return writer_submit(r->app->writer, origin, fn, arg, err, errlen);
}

/* ---- login and logout ---- */

static int login_page(struct request *r, int status, const char *error, const char *email)
{
    char token[SESSION_TOKEN_LEN + 1];
    random_token(token);
    admin_set_cookie(r, LOGIN_COOKIE, token, "/admin/login", 3600);
    json_t *m = json_pack("{s:s,s:s,s:s?}", "page_title", "Log in", "csrf", token, "error", error);
    if (email)
        json_object_set_new(m, "email", json_string(email));
    return admin_render(r, NULL, status, "admin/login.html", NULL, m);
}

int admin_login_form(struct request *r)
{
    struct session s;
    if (admin_load_session(r, &s) == 0) {
        request_set_header(r, "Cache-Control", "no-store");
        return request_redirect(r, 303, "/admin");
    }
    return login_page(r, 200, NULL, NULL);
}

int admin_login(struct request *r)
{
    struct ctx c = {0};
    char ip[64], hash[PASSWORD_HASH_LEN + 1], err[256];
    int status;
    if (!admin_same_origin(r))
        return admin_forbidden(r, "This request did not come from this site's pages.");
    if ((status = parse_form(r, &c)))
        return status;
    const char *email = form_get(&c.f, "email"), *pw = form_get(&c.f, "password");
    if (!tokens_equal(form_get(&c.f, "_csrf"), admin_cookie(r, LOGIN_COOKIE))) {
        status = login_page(r, 403, "The form expired: please try again.", email);
        goto out;
    }
    if (!email || !pw || !*email || !*pw || strlen(pw) > PASSWORD_MAX_LEN) {
        status = login_page(r, 400, "Give your email and password.", email);
        goto out;
    }
    /* refused before any work when this address or account failed too often
       (admin/throttle.h) */
    request_client_ip(r, ip, sizeof(ip));
    struct throttle t;
    int wait;
    if (throttle_check(r->app, &t, email, ip, &wait) < 0) {
        status = login_page(r, 503, "Cannot log in right now: try again.", email);
        goto out;
    }
    if (wait > 0) {
        char after[16];
        snprintf(after, sizeof(after), "%d", wait);
        request_set_header(r, "Retry-After", after);
        log_event(LOG_WARN, "admin login throttled",
                  json_pack("{s:s,s:i}", "ip", ip, "retry_after_s", wait));
        status =
            login_page(r, 429, "Too many failed attempts: wait a little and try again.", email);
        goto out;
    }
    int64_t id = 0;
    struct db_conn *db = readers_acquire(r->app->readers);
    int found = users_find(db, email, &id, hash, sizeof(hash));
    readers_release(r->app->readers, db);
    int rehash = 0;
    if (found < 0 || password_verify(found == 0 ? hash : NULL, pw, &rehash) != 0) {
        /* the same answer, after the same work, for an unknown account and a wrong password */
        throttle_failed(r->app, &t);
        log_event(LOG_WARN, "admin login failed", json_pack("{s:s}", "ip", ip));
        status = login_page(r, 401, "Wrong email or password.", email);
        goto out;
    }
    throttle_succeeded(r->app, &t);
    if (rehash && password_hash(pw, hash) == 0) {
        struct user_write uw = {NULL, hash, id, 0};
        admin_submit(r, "admin:rehash", users_set_password, &uw, err, sizeof(err));
    }
    struct session_write sw = {.user_id = id};
    if (admin_submit(r, "admin:login", sessions_create, &sw, err, sizeof(err)) != 0) {
        status = login_page(r, 503, "Cannot log in right now: try again.", email);
        goto out;
    }
    admin_set_cookie(r, SESSION_COOKIE, sw.token, "/", SESSION_ABSOLUTE_S);
    admin_set_cookie(r, LOGIN_COOKIE, "", "/admin/login", 0);
    log_event(LOG_INFO, "admin login", json_pack("{s:s,s:s}", "email", email, "ip", ip));
    request_set_header(r, "Cache-Control", "no-store");
    status = request_redirect(r, 303, "/admin");
out:
    admin_done(&c);
    return status;
}

int admin_logout(struct request *r)
{
    struct ctx c;
    char err[256];
    int rc = admin_action(r, &c);
    if (rc) {
        admin_done(&c);
        return rc;
    }
    struct session_write w = {.id = c.s.id};
    admin_submit(r, "admin:logout", sessions_delete, &w, err, sizeof(err));
    admin_set_cookie(r, SESSION_COOKIE, "", "/", 0);
    admin_done(&c);
    return admin_to_login(r);
}

/* Anything else under /admin: the login page for strangers, 404 for the logged in. */
int admin_unknown(struct request *r)
{
    struct ctx c;
    int rc = admin_page(r, &c);
    if (rc)
        return rc;
    request_set_header(r, "Cache-Control", "no-store");
    return request_error(r, 404, "There is no admin page at this address.");
}

int admin_unknown_post(struct request *r)
{
    struct ctx c;
    memset(&c, 0, sizeof(c));
    if (admin_load_session(r, &c.s) != 0)
        return admin_forbidden(r, "Log in first.");
    return request_error(r, 404, "There is no admin action at this address.");
}
