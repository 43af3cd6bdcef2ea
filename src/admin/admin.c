/*
 * admin.c - the admin panel under /admin (the security model is in admin.h): the route
 * table and the first admin's creation. The rest of src/admin/, by concern:
 *
 *   gate.c       sessions, CSRF and Origin checks, login/logout, rendering (gate.h)
 *   dashboard.c  database health, writer, charts, backups, queue
 *   posts.c      posts and pages: list, editor, preview, create, update, delete
 *   messages.c   contact-form messages
 *   users.c      admin accounts and API tokens
 *   jobs.c       schedule, queue, failed jobs, retry
 *   backups.c    backups: list, run now, download
 *   password.c   argon2id hashing; samples.c the dashboard's time series and charts
 *
 * The folder owns the admin's HTML pages. It may call core/, http/ (request, form),
 * store/ (all of its data), db/readers.h and db/writer.h (connections, writes),
 * db/upkeep.h (the engine's health), site/ (markdown, theme, rate limits), tmpl/,
 * remote/ (backup runs and downloads), jobs/ (the schedule) and api/ (post validation);
 * nothing calls into it but serve (admin_routes, admin_bootstrap).
 * Threads: HTTP workers; admin_bootstrap on the main thread at start-up.
 */
#include "admin/admin.h"

#include "admin/gate.h"
#include "admin/password.h"
#include "core/log.h"
#include "db/readers.h"
#include "db/writer.h"
#include "http/app.h"
#include "http/router.h"
#include "store/users.h"

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
    router_add(rt, "GET", "/admin/login", admin_login_form);
    router_add(rt, "POST", "/admin/login", admin_login);
    router_add(rt, "POST", "/admin/logout", admin_logout);
    router_add(rt, "GET", "/admin", admin_dashboard);
    router_add(rt, "GET", "/admin/", admin_dashboard);
    router_add(rt, "GET", "/admin/posts", admin_posts_page);
    router_add(rt, "POST", "/admin/posts", admin_create_post);
    router_add(rt, "GET", "/admin/posts/new", admin_new_post);
    router_add(rt, "GET", "/admin/posts/{id}/edit", admin_edit_post);
    router_add(rt, "POST", "/admin/posts/{id}", admin_update_post);
    router_add(rt, "GET", "/admin/posts/{id}/delete", admin_confirm_delete);
    router_add(rt, "POST", "/admin/posts/{id}/delete", admin_delete_post);
    router_add(rt, "POST", "/admin/preview", admin_preview);
    router_add(rt, "GET", "/admin/messages", admin_messages_page);
    router_add(rt, "GET", "/admin/messages/{id}", admin_message_page);
    router_add(rt, "POST", "/admin/messages/{id}/delete", admin_delete_message);
    router_add(rt, "GET", "/admin/users", admin_users_page);
    router_add(rt, "POST", "/admin/users", admin_add_user);
    router_add(rt, "POST", "/admin/tokens", admin_create_token);
    router_add(rt, "POST", "/admin/tokens/{id}/revoke", admin_revoke_token);
    router_add(rt, "GET", "/admin/media", admin_media_page);
    router_add(rt, "POST", "/admin/media/upload", admin_upload_media);
    router_add(rt, "POST", "/admin/media/{id}/delete", admin_delete_media);
    router_add(rt, "GET", "/admin/jobs", admin_jobs_page);
    router_add(rt, "POST", "/admin/jobs/failed/{id}/retry", admin_retry_job);
    router_add(rt, "GET", "/admin/backups", admin_backups_page);
    router_add(rt, "POST", "/admin/backups/run", admin_run_backup);
    router_add(rt, "GET", "/admin/backups/download/{name}", admin_download_backup);
    router_add(rt, "GET", "/admin/{rest*}", admin_unknown);
    router_add(rt, "POST", "/admin/{rest*}", admin_unknown_post);
}
