/*
 * gate.h - what the admin panel's files share (internal to src/admin/): the request
 * context a handler holds, the gates (admin_page for GET pages, admin_action for POSTs),
 * rendering, and every handler, for admin.c's route table.
 *
 * A handler: `struct ctx c; int rc = admin_page(r, &c); if (rc) return rc;` (or
 * admin_action for a POST, which also parses the form), then read through store/, then
 * admin_render() (which releases c) or admin_done(&c) before another answer.
 * Threads: HTTP workers.
 */
#ifndef ONEFILE_ADMIN_GATE_H
#define ONEFILE_ADMIN_GATE_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "db/writer.h"
#include "http/form.h"
#include "http/request.h"
#include "store/users.h"

#define SESSION_COOKIE "onefile_session"
#define LOGIN_COOKIE "onefile_login"
#define PAGE_SIZE 50

struct ctx {
    struct session s;
    struct form f;
    int have_form;
};

/* ---- gate.c: the gates and shared helpers ---- */

/* Whether cookies get Secure (ONEFILE_BASE_URL is https). */
int admin_secure(struct request *r);
/* Set-Cookie with HttpOnly, SameSite=Lax, Path and Max-Age (0 deletes it). */
void admin_set_cookie(struct request *r, const char *name, const char *value, const char *path,
                      long max_age);
/* The value of cookie name, or NULL (request memory). */
const char *admin_cookie(struct request *r, const char *name);
/* Origin / Sec-Fetch-Site say the request comes from this site. */
int admin_same_origin(struct request *r);
/* The {id} route parameter, 0 when it is not a positive integer. */
int64_t admin_id_param(struct request *r);
/* The session of the request's cookie: 0 found (s filled), 1 none or expired, -1. */
int admin_load_session(struct request *r, struct session *s);
/* 303 to the login page. */
int admin_to_login(struct request *r);
/* Gate of a GET page: 0 with c's session loaded, or the status already answered. */
int admin_page(struct request *r, struct ctx *c);
/* 403 with why. */
int admin_forbidden(struct request *r, const char *why);
/* Gate of a POST: session, same origin, form parsed, CSRF token checked. 0 or the status
   answered (c released). */
int admin_action(struct request *r, struct ctx *c);
/* Releases c (its form). */
void admin_done(struct ctx *c);
/* Renders template name with model (stolen) plus the user, CSRF token and nav (active),
   Cache-Control: no-store; releases c. Returns the status. */
int admin_render(struct request *r, struct ctx *c, int status, const char *name, const char *active,
                 json_t *model);
/* 303 to path (no query, or one of its own) with ?done=code added, no-store: the page
   shown next says what was done, in the words of gate.c's notices table (code must be
   one of them). */
int admin_redirect_done(struct request *r, const char *path, const char *code);
/* A confirmation step before a destructive POST: the form's confirm=1 says the user
   answered admin_confirm()'s page. */
struct admin_question {
    const char *question; /* the page's title: "Delete this message?" */
    const char *detail;   /* what it means (may be NULL) */
    const char *action;   /* the POST the answer goes to (with confirm=1) */
    const char *button;   /* "Delete" */
    const char *back;     /* where Cancel leads */
    const char *nav;      /* the active admin section */
    int force;            /* also send force=1 (delete media still in use) */
};
int admin_confirmed(struct ctx *c);
/* Renders the question (200) through admin_render. */
int admin_confirm(struct request *r, struct ctx *c, const struct admin_question *q);
/* writer_submit of fn(arg) named origin. */
int admin_submit(struct request *r, const char *origin, writer_fn *fn, void *arg, char *err,
                 size_t errlen);

/* ---- the handlers, by file (routes in admin.c) ---- */
int admin_login_form(struct request *r); /* gate.c */
int admin_login(struct request *r);
int admin_logout(struct request *r);
int admin_unknown(struct request *r);
int admin_unknown_post(struct request *r);
int admin_media_page(struct request *r); /* media.c */
int admin_upload_media(struct request *r);
int admin_delete_media(struct request *r);
int admin_dashboard(struct request *r);  /* dashboard.c */
int admin_posts_page(struct request *r); /* posts.c */
int admin_new_post(struct request *r);
int admin_edit_post(struct request *r);
int admin_create_post(struct request *r);
int admin_update_post(struct request *r);
int admin_confirm_delete(struct request *r);
int admin_delete_post(struct request *r);
int admin_preview(struct request *r);
int admin_messages_page(struct request *r); /* messages.c */
int admin_message_page(struct request *r);
int admin_delete_message(struct request *r);
int admin_users_page(struct request *r); /* users.c */
int admin_add_user(struct request *r);
int admin_create_token(struct request *r);
int admin_revoke_token(struct request *r);
int admin_jobs_page(struct request *r); /* jobs.c */
int admin_retry_job(struct request *r);
int admin_backups_page(struct request *r); /* backups.c */
int admin_download_backup(struct request *r);
int admin_run_backup(struct request *r);
#endif
