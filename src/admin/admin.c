/*
 * admin.c - the admin panel; the security model is described in admin.h.
 *
 * Every handler starts with one of two gates:
 *   page(r, &ctx)     GET pages: a valid session, else 303 to /admin/login
 *   action(r, &ctx)   POST: a valid session, the Origin / Sec-Fetch-Site check and the
 *                     form's _csrf equal to the session's; else 403 (or 303 to login)
 * and renders through render(), which adds the user, the CSRF token and no-store.
 * Writes go through the writer (writer_submit: admin traffic is small).
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <microhttpd.h>

#include "admin/admin.h"
#include "admin/password.h"
#include "admin/samples.h"
#include "api/api.h"
#include "core/clock.h"
#include "core/hist.h"
#include "core/log.h"
#include "core/mem.h"
#include "db/db.h"
#include "db/migrate.h"
#include "db/readers.h"
#include "db/writer.h"
#include "http/app.h"
#include "http/form.h"
#include "http/request.h"
#include "jobs/cron.h"
#include "store/queue.h"
#include "jobs/scheduler.h"
#include "remote/backup.h"
#include "remote/remote.h"
#include "remote/stream.h"
#include "site/markdown.h"
#include "site/ratelimit.h"
#include "site/theme.h"
#include "store/messages.h"
#include "store/posts.h"
#include "store/schedule.h"
#include "store/tokens.h"
#include "store/users.h"
#include "tmpl/tmpl.h"
#include "db/upkeep.h"
#include "store/backups.h"

#define SESSION_COOKIE "onefile_session"
#define LOGIN_COOKIE "onefile_login"
#define PAGE_SIZE 50

struct ctx {
    struct session s;
    struct form f;
    int have_form;
};

/* ---- small helpers ---- */

static int secure(struct request *r)
{
    return strncmp(r->app->cfg->base_url, "https://", 8) == 0;
}

static void set_cookie(struct request *r, const char *name, const char *value, const char *path,
                       long max_age)
{
    char c[256];
    snprintf(c, sizeof(c), "%s=%s; Path=%s; HttpOnly; SameSite=Lax; Max-Age=%ld%s", name, value,
             path, max_age, secure(r) ? "; Secure" : "");
    request_set_header(r, "Set-Cookie", c);
}

static const char *cookie(struct request *r, const char *name)
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
static int same_origin(struct request *r)
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

static int64_t id_param(struct request *r)
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
static int load_session(struct request *r, struct session *s)
{
    const char *token = cookie(r, SESSION_COOKIE);
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

static int to_login(struct request *r)
{
    request_set_header(r, "Cache-Control", "no-store");
    return request_redirect(r, 303, "/admin/login");
}

static int page(struct request *r, struct ctx *c)
{
    memset(c, 0, sizeof(*c));
    return load_session(r, &c->s) == 0 ? 0 : to_login(r);
}

static int forbidden(struct request *r, const char *why)
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

static int action(struct request *r, struct ctx *c)
{
    int rc;
    memset(c, 0, sizeof(*c));
    if (load_session(r, &c->s) != 0)
        return to_login(r);
    if (!same_origin(r))
        return forbidden(r, "This request did not come from this site's pages.");
    if ((rc = parse_form(r, c)))
        return rc;
    if (!tokens_equal(form_get(&c->f, "_csrf"), c->s.csrf))
        return forbidden(r, "The form's security token is missing or stale: reload the page.");
    return 0;
}

static void done(struct ctx *c)
{
    if (c->have_form)
        form_release(&c->f);
}

static json_t *nav(const char *active)
{
    json_t *n = json_object();
    if (active)
        json_object_set_new(n, active, json_true());
    return n;
}

/* Renders an admin template; model is stolen. */
static int render(struct request *r, struct ctx *c, int status, const char *name,
                  const char *active, json_t *model)
{
    char err[256];
    json_object_set_new(model, "site", json_pack("{s:s}", "title", r->app->cfg->site_title));
    if (c && c->s.id) {
        json_object_set_new(model, "user", json_pack("{s:s}", "email", c->s.email));
        json_object_set_new(model, "csrf", json_string(c->s.csrf));
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

static int submit(struct request *r, const char *origin, writer_fn *fn, void *arg, char *err,
                  size_t errlen)
{
    return writer_submit(r->app->writer, origin, fn, arg, err, errlen);
}

/* ---- login and logout ---- */

static int login_page(struct request *r, int status, const char *error, const char *email)
{
    char token[SESSION_TOKEN_LEN + 1];
    random_token(token);
    set_cookie(r, LOGIN_COOKIE, token, "/admin/login", 3600);
    json_t *m = json_pack("{s:s,s:s,s:s?}", "page_title", "Log in", "csrf", token, "error", error);
    if (email)
        json_object_set_new(m, "email", json_string(email));
    return render(r, NULL, status, "admin/login.html", NULL, m);
}

static int login_form(struct request *r)
{
    struct session s;
    if (load_session(r, &s) == 0) {
        request_set_header(r, "Cache-Control", "no-store");
        return request_redirect(r, 303, "/admin");
    }
    return login_page(r, 200, NULL, NULL);
}

static int login(struct request *r)
{
    struct ctx c = {0};
    char ip[64], hash[PASSWORD_HASH_LEN + 1], err[256], account[300];
    int status;
    if (!same_origin(r))
        return forbidden(r, "This request did not come from this site's pages.");
    if ((status = parse_form(r, &c)))
        return status;
    const char *email = form_get(&c.f, "email"), *pw = form_get(&c.f, "password");
    if (!tokens_equal(form_get(&c.f, "_csrf"), cookie(r, LOGIN_COOKIE))) {
        status = login_page(r, 403, "The form expired: please try again.", email);
        goto out;
    }
    if (!email || !pw || !*email || !*pw || strlen(pw) > PASSWORD_MAX_LEN) {
        status = login_page(r, 400, "Give your email and password.", email);
        goto out;
    }
    /* throttled per address and per account, before any work */
    request_client_ip(r, ip, sizeof(ip));
    snprintf(account, sizeof(account), "%s", email);
    for (char *p = account; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    int wait = ratelimit_take(r->app->login_ip_limit, ip);
    int wait2 = ratelimit_take(r->app->login_user_limit, account);
    if (wait2 > wait)
        wait = wait2;
    if (wait > 0) {
        char after[16];
        snprintf(after, sizeof(after), "%d", wait);
        request_set_header(r, "Retry-After", after);
        status = login_page(r, 429, "Too many attempts: wait a little and try again.", email);
        goto out;
    }
    int64_t id = 0;
    struct db_conn *db = readers_acquire(r->app->readers);
    int found = users_find(db, email, &id, hash, sizeof(hash));
    readers_release(r->app->readers, db);
    int rehash = 0;
    if (found < 0 || password_verify(found == 0 ? hash : NULL, pw, &rehash) != 0) {
        /* the same answer, after the same work, for an unknown account and a wrong password */
        log_event(LOG_WARN, "admin login failed", json_pack("{s:s}", "ip", ip));
        status = login_page(r, 401, "Wrong email or password.", email);
        goto out;
    }
    if (rehash && password_hash(pw, hash) == 0) {
        struct user_write uw = {NULL, hash, id, 0};
        submit(r, "admin:rehash", users_set_password, &uw, err, sizeof(err));
    }
    struct session_write sw = {.user_id = id};
    if (submit(r, "admin:login", sessions_create, &sw, err, sizeof(err)) != 0) {
        status = login_page(r, 503, "Cannot log in right now: try again.", email);
        goto out;
    }
    set_cookie(r, SESSION_COOKIE, sw.token, "/", SESSION_ABSOLUTE_S);
    set_cookie(r, LOGIN_COOKIE, "", "/admin/login", 0);
    log_event(LOG_INFO, "admin login", json_pack("{s:s,s:s}", "email", email, "ip", ip));
    request_set_header(r, "Cache-Control", "no-store");
    status = request_redirect(r, 303, "/admin");
out:
    done(&c);
    return status;
}

static int logout(struct request *r)
{
    struct ctx c;
    char err[256];
    int rc = action(r, &c);
    if (rc) {
        done(&c);
        return rc;
    }
    struct session_write w = {.id = c.s.id};
    submit(r, "admin:logout", sessions_delete, &w, err, sizeof(err));
    set_cookie(r, SESSION_COOKIE, "", "/", 0);
    done(&c);
    return to_login(r);
}

/* ---- dashboard ---- */

static json_t *db_facts(struct request *r, struct db_conn *db)
{
    const struct config *cfg = r->app->cfg;
    struct upkeep_facts f;
    upkeep_facts(db, r->app->plan, &f);
    char last_check[64] = "never";
    schedule_runs_last_finished(db, "quick-check", last_check, sizeof(last_check));
    return json_pack(
        "{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:I,s:s}", "path", cfg->db, "journal_mode",
        f.journal_mode, "page_size", (json_int_t)f.page_size, "page_count",
        (json_int_t)f.page_count, "freelist_count", (json_int_t)f.freelist_count, "file_bytes",
        (json_int_t)db_file_size(cfg->db, ""), "wal_bytes",
        (json_int_t)db_file_size(cfg->db, "-wal"), "busy_timeout_ms",
        (json_int_t)cfg->busy_timeout_ms, "synchronous", cfg->synchronous, "migration_version",
        (json_int_t)f.migration_version, "last_check", last_check);
}

static json_t *writer_facts(struct request *r, json_t **origins)
{
    struct writer_stats *st = xcalloc(1, sizeof(*st));
    writer_get_stats(r->app->writer, st);
    double mean = st->batch_size.count ? st->batch_size.sum / (double)st->batch_size.count : 0;
    json_t *w = json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "queue_depth", (json_int_t)st->queue_depth,
        "max_queue_depth", (json_int_t)st->max_queue_depth, "committed", (json_int_t)st->committed,
        "failed", (json_int_t)st->failed, "busy_retries", (json_int_t)db_busy_retries(),
        "checkpoints", (json_int_t)(st->checkpoints_passive + st->checkpoints_truncate),
        "checkpoint_pages", (json_int_t)st->checkpoint_pages);
    json_object_set_new(w, "p50_ms", json_sprintf("%.2f", hist_quantile(&st->latency, 0.5) * 1e3));
    json_object_set_new(w, "p99_ms", json_sprintf("%.2f", hist_quantile(&st->latency, 0.99) * 1e3));
    json_object_set_new(w, "batch_mean", json_sprintf("%.1f", mean));
    json_object_set_new(w, "batch_p99", json_sprintf("%.0f", hist_quantile(&st->batch_size, 0.99)));
    *origins = json_array();
    for (size_t i = 0; i < st->norigins; i++) {
        const struct writer_origin_stats *o = &st->origins[i];
        json_t *row = json_pack("{s:s,s:I,s:I}", "origin", o->origin, "writes",
                                (json_int_t)o->writes, "failed", (json_int_t)o->failed);
        json_object_set_new(row, "queue_s", json_sprintf("%.3f", o->queue_s));
        json_object_set_new(row, "tx_s", json_sprintf("%.3f", o->tx_s));
        json_array_append_new(*origins, row);
    }
    free(st);
    return w;
}

static int dashboard(struct request *r)
{
    struct ctx c;
    int rc = page(r, &c);
    if (rc)
        return rc;
    json_t *origins;
    struct db_conn *db = readers_acquire(r->app->readers);
    json_t *facts = db_facts(r, db);
    json_t *backups = NULL;
    if (backups_brief(db, 5, &backups) < 0)
        backups = json_array();
    struct queue_depth q;
    if (queue_depth(db, clock_wall_ms(), &q) < 0)
        memset(&q, 0, sizeof(q));
    long long ready = q.ready + q.delayed, reserved = q.reserved, failed = q.failed;
    readers_release(r->app->readers, db);
    json_t *m = json_pack(
        "{s:s,s:o,s:o,s:o,s:b,s:{s:I,s:I,s:I}}", "page_title", "Dashboard", "db", facts, "backups",
        backups, "charts", r->app->samples ? samples_charts(r->app->samples) : json_object(),
        "backup_url", r->app->cfg->backup_url != NULL, "queue", "ready", (json_int_t)ready,
        "reserved", (json_int_t)reserved, "failed", (json_int_t)failed);
    json_object_set_new(m, "writer", writer_facts(r, &origins));
    json_object_set_new(m, "sample_s", json_integer(SAMPLE_INTERVAL_S));
    json_object_set_new(m, "origins", origins);
    char last[64];
    struct writer_stats *st = xcalloc(1, sizeof(*st));
    writer_get_stats(r->app->writer, st);
    if (st->last_checkpoint_ms)
        clock_iso8601_ms(st->last_checkpoint_ms, last, sizeof(last));
    else
        snprintf(last, sizeof(last), "none since start");
    free(st);
    json_object_set_new(json_object_get(m, "db"), "last_checkpoint", json_string(last));
    return render(r, &c, 200, "admin/dashboard.html", "dashboard", m);
}

/* ---- posts ---- */

static int posts_page(struct request *r)
{
    struct ctx c;
    int rc = page(r, &c);
    if (rc)
        return rc;
    const char *q = request_query(r, "q"), *status = request_query(r, "status"),
               *cursor = request_query(r, "cursor");
    if (status && strcmp(status, "draft") != 0 && strcmp(status, "published") != 0)
        status = NULL;
    struct posts_query pq = {
        NULL, status, 1, PAGE_SIZE, cursor ? strtoll(cursor, NULL, 10) : 0, q && *q ? q : NULL};
    if (pq.before < 0)
        pq.before = 0;
    json_t *items;
    int64_t next;
    struct db_conn *db = readers_acquire(r->app->readers);
    rc = posts_list(db, &pq, &items, &next);
    readers_release(r->app->readers, db);
    if (rc < 0)
        return request_error(r, 500, "Cannot read the posts.");
    json_t *m = json_pack("{s:s,s:o,s:s,s:b,s:b}", "page_title", "Posts", "posts", items, "q",
                          q ? q : "", "status_draft", status && !strcmp(status, "draft"),
                          "status_published", status && !strcmp(status, "published"));
    if (next)
        json_object_set_new(m, "next_url",
                            json_sprintf("/admin/posts?cursor=%lld%s%s%s%s", (long long)next,
                                         status ? "&status=" : "", status ? status : "", "", ""));
    return render(r, &c, 200, "admin/posts.html", "posts", m);
}

/* The editor's model for post (stolen), with errors (stolen, may be NULL). */
static int editor(struct request *r, struct ctx *c, int status, json_t *post, json_t *errors)
{
    const char *kind = json_string_value(json_object_get(post, "kind"));
    const char *st = json_string_value(json_object_get(post, "status"));
    const char *md = json_string_value(json_object_get(post, "body_md"));
    struct buf preview = BUF_INIT;
    if (md)
        markdown_render(md, strlen(md), 0, &preview);
    json_int_t id = json_integer_value(json_object_get(post, "id"));
    json_t *m = json_pack(
        "{s:s,s:o,s:o,s:b,s:b,s:b,s:b,s:s}", "page_title", id ? "Edit post" : "New post", "post",
        post, "errors", errors ? errors : json_object(), "is_post", !kind || !strcmp(kind, "post"),
        "is_page", kind && !strcmp(kind, "page"), "is_draft", !st || !strcmp(st, "draft"),
        "is_published", st && !strcmp(st, "published"), "preview_html", buf_str(&preview));
    buf_release(&preview);
    json_object_set_new(m, "action",
                        id ? json_sprintf("/admin/posts/%lld", (long long)id)
                           : json_string("/admin/posts"));
    return render(r, c, status, "admin/edit.html", "posts", m);
}

static int new_post(struct request *r)
{
    struct ctx c;
    int rc = page(r, &c);
    if (rc)
        return rc;
    return editor(r, &c, 200,
                  json_pack("{s:s,s:s,s:s}", "kind", "post", "status", "draft", "body_md", ""),
                  NULL);
}

static int edit_post(struct request *r)
{
    struct ctx c;
    int rc = page(r, &c);
    if (rc)
        return rc;
    json_t *post;
    struct db_conn *db = readers_acquire(r->app->readers);
    rc = posts_get(db, id_param(r), 1, &post);
    readers_release(r->app->readers, db);
    if (rc != 0)
        return request_error(r, rc < 0 ? 500 : 404, "No such post.");
    return editor(r, &c, 200, post, NULL);
}

/* Creates (id 0) or updates post id from the form. */
static int save_post(struct request *r, int64_t id)
{
    struct ctx c;
    char err[256], buf[200];
    int rc = action(r, &c);
    if (rc) {
        done(&c);
        return rc;
    }
    json_t *fields = json_object();
    static const char *const names[] = {"title", "slug", "body_md", "kind", "status"};
    for (int i = 0; i < 5; i++) {
        const char *v = form_get(&c.f, names[i]);
        if (v && (*v || strcmp(names[i], "slug") != 0)) /* an empty slug: make one */
            json_object_set_new(fields, names[i], json_string(v));
    }
    json_t *shown = json_deep_copy(fields); /* what the editor shows again on an error */
    if (id)
        json_object_set_new(shown, "id", json_integer(id));
    const char *field;
    const char *problem = post_fields_check(fields, id != 0, &field, buf, sizeof(buf));
    if (problem) {
        rc = editor(r, &c, 422, shown, json_pack("{s:s}", field, problem));
        goto out;
    }
    struct post_write w = {.id = id, .fields = fields};
    rc = submit(r, "admin:posts", posts_write, &w, err, sizeof(err));
    if (rc != 0) {
        json_t *errors = w.slug_conflict ? json_pack("{s:s}", "slug", "Another post has this slug.")
                         : w.not_found   ? json_pack("{s:s}", "form", "This post no longer exists.")
                                         : json_pack("{s:s}", "form", err);
        rc = editor(r, &c, w.slug_conflict ? 409 : 422, shown, errors);
        goto out;
    }
    json_decref(shown);
    request_set_header(r, "Cache-Control", "no-store");
    char loc[64];
    snprintf(loc, sizeof(loc), "/admin/posts/%lld/edit?saved=1", (long long)w.id);
    rc = request_redirect(r, 303, loc);
out:
    json_decref(fields);
    done(&c);
    return rc;
}

static int create_post(struct request *r)
{
    return save_post(r, 0);
}

static int update_post(struct request *r)
{
    int64_t id = id_param(r);
    return id ? save_post(r, id) : request_error(r, 404, "No such post.");
}

static int confirm_delete(struct request *r)
{
    struct ctx c;
    int rc = page(r, &c);
    if (rc)
        return rc;
    json_t *post;
    struct db_conn *db = readers_acquire(r->app->readers);
    rc = posts_get(db, id_param(r), 1, &post);
    readers_release(r->app->readers, db);
    if (rc != 0)
        return request_error(r, rc < 0 ? 500 : 404, "No such post.");
    return render(r, &c, 200, "admin/delete.html", "posts",
                  json_pack("{s:s,s:o}", "page_title", "Delete", "post", post));
}

static int delete_post(struct request *r)
{
    struct ctx c;
    char err[256];
    int rc = action(r, &c);
    if (rc == 0) {
        struct post_write w = {.id = id_param(r)};
        rc = submit(r, "admin:posts", posts_delete, &w, err, sizeof(err));
        request_set_header(r, "Cache-Control", "no-store");
        rc = rc == 0 || w.not_found ? request_redirect(r, 303, "/admin/posts")
                                    : request_error(r, 503, "The post could not be deleted.");
    }
    done(&c);
    return rc;
}

static int preview(struct request *r)
{
    struct ctx c;
    int rc = action(r, &c);
    if (rc == 0) {
        const char *md = form_get(&c.f, "body_md");
        buf_reset(&r->out);
        markdown_render(md ? md : "", md ? strlen(md) : 0, 0, &r->out);
        r->content_type = "text/html; charset=utf-8";
        request_set_header(r, "Cache-Control", "no-store");
        rc = 200;
    }
    done(&c);
    return rc;
}

/* ---- messages ---- */

static int messages_page(struct request *r)
{
    struct ctx c;
    int rc = page(r, &c);
    if (rc)
        return rc;
    const char *cursor = request_query(r, "cursor");
    int64_t before = cursor ? strtoll(cursor, NULL, 10) : 0, next;
    json_t *items;
    struct db_conn *db = readers_acquire(r->app->readers);
    rc = messages_list(db, before > 0 ? before : 0, PAGE_SIZE, &items, &next);
    readers_release(r->app->readers, db);
    if (rc < 0)
        return request_error(r, 500, "Cannot read the messages.");
    size_t i;
    json_t *m;
    json_array_foreach(items, i, m)
    {
        const char *body = json_string_value(json_object_get(m, "body"));
        struct buf b = BUF_INIT;
        markdown_excerpt(body, strlen(body), 120, &b);
        json_object_set_new(m, "excerpt", json_string(buf_str(&b)));
        buf_release(&b);
    }
    json_t *model = json_pack("{s:s,s:o}", "page_title", "Messages", "messages", items);
    if (next)
        json_object_set_new(model, "next_url",
                            json_sprintf("/admin/messages?cursor=%lld", (long long)next));
    return render(r, &c, 200, "admin/messages.html", "messages", model);
}

static int message_page(struct request *r)
{
    struct ctx c;
    char err[256];
    int rc = page(r, &c);
    if (rc)
        return rc;
    int64_t id = id_param(r);
    json_t *msg;
    struct db_conn *db = readers_acquire(r->app->readers);
    rc = messages_get(db, id, &msg);
    readers_release(r->app->readers, db);
    if (rc != 0)
        return request_error(r, rc < 0 ? 500 : 404, "No such message.");
    if (json_is_null(json_object_get(msg, "read_at")))
        submit(r, "admin:messages", messages_mark_read, &id, err, sizeof(err));
    json_object_set_new(msg, "csrf", json_string(c.s.csrf));
    return render(r, &c, 200, "admin/message.html", "messages",
                  json_pack("{s:s,s:o}", "page_title", "Message", "message", msg));
}

static int delete_message(struct request *r)
{
    struct ctx c;
    char err[256];
    int rc = action(r, &c);
    if (rc == 0) {
        int64_t id = id_param(r);
        rc = submit(r, "admin:messages", messages_delete, &id, err, sizeof(err)) == 0
                 ? request_redirect(r, 303, "/admin/messages")
                 : request_error(r, 503, "The message could not be deleted.");
        request_set_header(r, "Cache-Control", "no-store");
    }
    done(&c);
    return rc;
}

/* ---- users and tokens ---- */

static int users_view(struct request *r, struct ctx *c, int status, json_t *extra)
{
    json_t *users = NULL, *tokens = NULL;
    struct db_conn *db = readers_acquire(r->app->readers);
    users_list(db, &users);
    tokens_list(db, &tokens);
    readers_release(r->app->readers, db);
    size_t i;
    json_t *t;
    json_array_foreach(tokens, i, t)
    { /* the rows are rendered inside their own section */
        json_object_set_new(t, "csrf", json_string(c->s.csrf));
    }
    json_t *m = json_pack("{s:s,s:o,s:o}", "page_title", "Users and tokens", "users",
                          users ? users : json_array(), "tokens", tokens ? tokens : json_array());
    if (extra) {
        json_object_update(m, extra);
        json_decref(extra);
    }
    return render(r, c, status, "admin/users.html", "users", m);
}

static int users_page(struct request *r)
{
    struct ctx c;
    int rc = page(r, &c);
    return rc ? rc : users_view(r, &c, 200, NULL);
}

static int add_user(struct request *r)
{
    struct ctx c;
    char err[256], hash[PASSWORD_HASH_LEN];
    int rc = action(r, &c);
    if (rc) {
        done(&c);
        return rc;
    }
    const char *email = form_get(&c.f, "email"), *pw = form_get(&c.f, "password");
    const char *problem = !email || !strchr(email, '@') || strlen(email) > 254
                              ? "Give a valid email address."
                              : password_problem(pw ? pw : "");
    if (problem) {
        rc = users_view(r, &c, 422, json_pack("{s:s}", "error", problem));
        goto out;
    }
    if (password_hash(pw, hash) < 0) {
        rc = users_view(r, &c, 503, json_pack("{s:s}", "error", "Cannot hash the password now."));
        goto out;
    }
    struct user_write w = {email, hash, 0, 0};
    if (submit(r, "admin:users", users_add, &w, err, sizeof(err)) != 0) {
        rc = users_view(r, &c, w.exists ? 409 : 503,
                        json_pack("{s:s}", "error",
                                  w.exists ? "A user with this email exists."
                                           : "The user could not be added."));
        goto out;
    }
    request_set_header(r, "Cache-Control", "no-store");
    rc = request_redirect(r, 303, "/admin/users");
out:
    done(&c);
    return rc;
}

struct token_write {
    const char *name;
    char token[TOKEN_LEN + 1];
    int exists;
};

static int token_create_fn(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    struct token_write *t = arg;
    int rc = tokens_create(c, t->name, t->token, sizeof(t->token));
    t->exists = rc == 1;
    if (rc != 0)
        snprintf(err, errlen, "%s", rc == 1 ? "a token with this name exists" : "cannot create");
    return rc == 0 ? 0 : -1;
}

static int create_token(struct request *r)
{
    struct ctx c;
    char err[256];
    int rc = action(r, &c);
    if (rc) {
        done(&c);
        return rc;
    }
    const char *name = form_get(&c.f, "name");
    int ok = name && *name && strlen(name) <= 64;
    for (const char *p = name; ok && *p; p++)
        ok = isalnum((unsigned char)*p) || strchr("-_.", *p);
    if (!ok) {
        rc = users_view(
            r, &c, 422,
            json_pack("{s:s}", "error", "A token name is 1-64 letters, digits, '-', '_', '.'."));
        goto out;
    }
    struct token_write t = {name, "", 0};
    if (submit(r, "admin:tokens", token_create_fn, &t, err, sizeof(err)) != 0) {
        rc = users_view(r, &c, t.exists ? 409 : 503,
                        json_pack("{s:s}", "error",
                                  t.exists ? "A token with this name exists."
                                           : "The token could not be created."));
        goto out;
    }
    /* shown once, on this response only (no-store), never stored in clear */
    rc = users_view(r, &c, 201,
                    json_pack("{s:{s:s,s:s}}", "new_token", "name", name, "token", t.token));
    sodium_memzero(t.token, sizeof(t.token));
out:
    done(&c);
    return rc;
}

static int revoke_token(struct request *r)
{
    struct ctx c;
    char err[256];
    int rc = action(r, &c);
    if (rc == 0) {
        int64_t id = id_param(r);
        rc = submit(r, "admin:tokens", tokens_revoke_id, &id, err, sizeof(err)) == 0
                 ? request_redirect(r, 303, "/admin/users")
                 : request_error(r, 503, "The token could not be revoked.");
        request_set_header(r, "Cache-Control", "no-store");
    }
    done(&c);
    return rc;
}

/* ---- jobs and backups ---- */

static int jobs_page(struct request *r)
{
    struct ctx c;
    char err[256], next[32];
    int rc = page(r, &c);
    if (rc)
        return rc;
    size_t n = scheduler_njobs();
    struct sched_entry *plan = xcalloc(n ? n : 1, sizeof(*plan));
    json_t *schedule = json_array();
    struct db_conn *db = readers_acquire(r->app->readers);
    if (scheduler_plan(plan, err, sizeof(err)) == 0) {
        time_t now = time(NULL);
        for (size_t i = 0; i < n; i++) {
            json_t *row = json_pack("{s:s,s:s,s:s}", "name", plan[i].job->name, "schedule",
                                    plan[i].schedule, "source", plan[i].source);
            if (plan[i].off)
                snprintf(next, sizeof(next), "off");
            else
                clock_iso8601(cron_next(&plan[i].cron, now), next, sizeof(next));
            json_object_set_new(row, "next", json_string(next));
            json_t *last = NULL;
            if (schedule_runs_last(db, plan[i].job->name, &last) == 0 && last)
                json_object_set_new(row, "last", last);
            json_array_append_new(schedule, row);
        }
    }
    json_t *pending = NULL, *failed = NULL;
    queue_list(db, clock_wall_ms(), 100, &pending);
    queue_failed_list(db, 100, &failed);
    readers_release(r->app->readers, db);
    free(plan);
    size_t i;
    json_t *f;
    json_array_foreach(failed, i, f)
    {
        json_object_set_new(f, "csrf", json_string(c.s.csrf));
    }
    return render(r, &c, 200, "admin/jobs.html", "jobs",
                  json_pack("{s:s,s:o,s:o,s:o}", "page_title", "Jobs", "schedule", schedule,
                            "pending", pending ? pending : json_array(), "failed",
                            failed ? failed : json_array()));
}

static int retry_job(struct request *r)
{
    struct ctx c;
    char err[256];
    int rc = action(r, &c);
    if (rc == 0) {
        struct queue_retry q = {
            .failed_id = id_param(r), .max_attempts = 5, .now_ms = clock_wall_ms()};
        rc = submit(r, "admin:jobs", queue_retry, &q, err, sizeof(err)) == 0
                 ? request_redirect(r, 303, "/admin/jobs")
                 : request_error(r, 503, "The job could not be retried.");
        request_set_header(r, "Cache-Control", "no-store");
    }
    done(&c);
    return rc;
}

static int backups_view(struct request *r, struct ctx *c, int status, json_t *result)
{
    json_t *last = NULL;
    struct db_conn *db = readers_acquire(r->app->readers);
    if (backups_last(db, &last) < 0)
        last = NULL;
    readers_release(r->app->readers, db);
    json_t *m = json_pack("{s:s,s:O,s:s?}", "page_title", "Backups", "recent",
                          last ? json_object_get(last, "recent") : json_null(), "backup_url",
                          r->app->cfg->backup_url);
    json_decref(last);
    int local = r->app->cfg->backup_url != NULL; /* file:// or S3: both can be downloaded */
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(m, "recent"), i, row)
    {
        const char *state = json_string_value(json_object_get(row, "status"));
        json_object_set_new(row, "downloadable",
                            json_boolean(local && state && !strcmp(state, "ok")));
    }
    if (result)
        json_object_set_new(m, "result", result);
    json_object_set_new(m, "csrf", json_string(c->s.csrf));
    return render(r, c, status, "admin/backups.html", "backups", m);
}

static int backups_page(struct request *r)
{
    struct ctx c;
    int rc = page(r, &c);
    return rc ? rc : backups_view(r, &c, 200, NULL);
}

struct download {
    struct remote *remote;
    char name[200];
    int fd; /* the pipe's write end */
};

/* Streams an object from the destination into the pipe the response reads. */
static void *download_thread(void *arg)
{
    struct download *d = arg;
    char err[256];
    struct stream *out = stream_fd_new(d->fd, "download", err, sizeof(err));
    if (out) {
        if (remote_get(d->remote, d->name, out, err, sizeof(err)) == 0)
            stream_finish(out);
        else
            log_warn("admin: download of %s: %s", d->name, err);
        stream_free(out);
    }
    close(d->fd); /* the end of the body (or a cut one, which the browser reports) */
    remote_free(d->remote);
    free(d);
    return NULL;
}

/* Downloads a backup: a file:// object is sent straight from its file; an S3 object is
   streamed through a pipe filled by a thread of its own, never held in memory. */
static int download_backup(struct request *r)
{
    struct ctx c;
    struct backup_name bn;
    char err[256];
    int rc = page(r, &c);
    if (rc)
        return rc;
    const char *name = request_param(r, "name");
    const char *url = r->app->cfg->backup_url;
    request_set_header(r, "Cache-Control", "no-store");
    if (!name || backup_name_parse(name, &bn) < 0 || strchr(name, '/') || strlen(name) >= 200)
        return request_error(r, 404, "No such backup.");
    if (!url)
        return request_error(r, 404, "Backups are off (ONEFILE_BACKUP_URL).");
    char disposition[300];
    snprintf(disposition, sizeof(disposition), "attachment; filename=\"%s\"", name);
    if (strncmp(url, "file://", 7) == 0) {
        char *path = xasprintf("%s/%s", url + 7, name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        free(path);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            if (fd >= 0)
                close(fd);
            return request_error(r, 404, "No such backup.");
        }
        r->file_fd = fd;
        r->file_size = (uint64_t)st.st_size;
        r->has_file = 1;
    } else {
        struct remote *remote;
        struct remote_meta meta;
        int p[2];
        if (remote_open(r->app->cfg, url, &remote, err, sizeof(err)) < 0)
            return request_error(r, 502, err);
        remote_meta_init(&meta);
        if (remote_stat(remote, name, &meta, err, sizeof(err)) != 0) {
            remote_free(remote);
            return request_error(r, 404, "No such backup.");
        }
        if (pipe2(p, O_CLOEXEC) != 0) {
            remote_free(remote);
            return request_error(r, 503, "Cannot start the download.");
        }
        struct download *d = xcalloc(1, sizeof(*d));
        d->remote = remote;
        snprintf(d->name, sizeof(d->name), "%s", name);
        d->fd = p[1];
        pthread_t t;
        if (pthread_create(&t, NULL, download_thread, d) != 0) {
            close(p[0]);
            close(p[1]);
            remote_free(remote);
            free(d);
            return request_error(r, 503, "Cannot start the download.");
        }
        pthread_detach(t);
        r->pipe_fd = p[0];
        r->has_pipe = 1;
    }
    request_set_header(r, "Content-Disposition", disposition);
    r->content_type = "application/octet-stream";
    r->no_etag = 1;
    return 200;
}

/* Runs a backup now, on this request (admin traffic is small; the backup itself runs at a
   lower priority and never blocks the writer, see remote/backup.h). */
static int run_backup(struct request *r)
{
    struct ctx c;
    char msg[512];
    int rc = action(r, &c);
    if (rc == 0) {
        if (!r->app->cfg->backup_url) {
            rc = backups_view(
                r, &c, 409,
                json_pack("{s:b,s:s}", "ok", 0, "message", "ONEFILE_BACKUP_URL is not set."));
        } else {
            int ok = backup_job(r->app, msg, sizeof(msg)) == 0;
            rc = backups_view(r, &c, ok ? 200 : 502,
                              json_pack("{s:b,s:s}", "ok", ok, "message", msg));
        }
    }
    done(&c);
    return rc;
}

/* Anything else under /admin: the login page for strangers, 404 for the logged in. */
static int unknown(struct request *r)
{
    struct ctx c;
    int rc = page(r, &c);
    if (rc)
        return rc;
    request_set_header(r, "Cache-Control", "no-store");
    return request_error(r, 404, "There is no admin page at this address.");
}

static int unknown_post(struct request *r)
{
    struct ctx c;
    memset(&c, 0, sizeof(c));
    if (load_session(r, &c.s) != 0)
        return forbidden(r, "Log in first.");
    return request_error(r, 404, "There is no admin action at this address.");
}

int admin_bootstrap(struct app *app)
{
    const struct config *cfg = app->cfg;
    char hash[PASSWORD_HASH_LEN], err[256];
    if (!cfg->admin_email || !cfg->admin_password)
        return 0;
    struct db_conn *db = readers_acquire(app->readers);
    long long n = users_count(db);
    readers_release(app->readers, db);
    if (n != 0)
        return n < 0 ? log_err("admin: cannot count users") : 0;
    const char *problem = password_problem(cfg->admin_password);
    if (problem)
        return log_err("admin: ONEFILE_ADMIN_PASSWORD: %s", problem);
    if (password_hash(cfg->admin_password, hash) < 0)
        return log_err("admin: cannot hash ONEFILE_ADMIN_PASSWORD");
    struct user_write w = {cfg->admin_email, hash, 0, 0};
    if (writer_submit(app->writer, "admin:bootstrap", users_add, &w, err, sizeof(err)) != 0)
        return log_err("admin: cannot create the first admin: %s", err);
    log_event(LOG_INFO, "first admin created", json_pack("{s:s}", "email", cfg->admin_email));
    return 0;
}

void admin_routes(struct router *rt)
{
    router_add(rt, "GET", "/admin/login", login_form);
    router_add(rt, "POST", "/admin/login", login);
    router_add(rt, "POST", "/admin/logout", logout);
    router_add(rt, "GET", "/admin", dashboard);
    router_add(rt, "GET", "/admin/", dashboard);
    router_add(rt, "GET", "/admin/posts", posts_page);
    router_add(rt, "POST", "/admin/posts", create_post);
    router_add(rt, "GET", "/admin/posts/new", new_post);
    router_add(rt, "GET", "/admin/posts/{id}/edit", edit_post);
    router_add(rt, "POST", "/admin/posts/{id}", update_post);
    router_add(rt, "GET", "/admin/posts/{id}/delete", confirm_delete);
    router_add(rt, "POST", "/admin/posts/{id}/delete", delete_post);
    router_add(rt, "POST", "/admin/preview", preview);
    router_add(rt, "GET", "/admin/messages", messages_page);
    router_add(rt, "GET", "/admin/messages/{id}", message_page);
    router_add(rt, "POST", "/admin/messages/{id}/delete", delete_message);
    router_add(rt, "GET", "/admin/users", users_page);
    router_add(rt, "POST", "/admin/users", add_user);
    router_add(rt, "POST", "/admin/tokens", create_token);
    router_add(rt, "POST", "/admin/tokens/{id}/revoke", revoke_token);
    router_add(rt, "GET", "/admin/jobs", jobs_page);
    router_add(rt, "POST", "/admin/jobs/failed/{id}/retry", retry_job);
    router_add(rt, "GET", "/admin/backups", backups_page);
    router_add(rt, "POST", "/admin/backups/run", run_backup);
    router_add(rt, "GET", "/admin/backups/download/{name}", download_backup);
    router_add(rt, "GET", "/admin/{rest*}", unknown);
    router_add(rt, "POST", "/admin/{rest*}", unknown_post);
}
