/*
 * admin.h - the admin panel under /admin: login, dashboard, posts and pages, messages,
 * users and API tokens. Server-rendered HTML (theme templates under admin/), usable
 * without JavaScript; /static/admin.js only adds the live Markdown preview.
 *
 * Security, in one place (admin.c): sessions are random tokens in an HttpOnly,
 * SameSite=Lax cookie (Secure when ONEFILE_BASE_URL is https), stored hashed, with an idle
 * and an absolute expiry; every state-changing request needs the session's CSRF token
 * (field _csrf; the login form uses a double-submit cookie) and passes an Origin /
 * Sec-Fetch-Site check; failed logins are throttled per address and per account without
 * letting strangers lock the owner out (admin/throttle.h: 429 with Retry-After); logins
 * answer the same for an unknown account and a wrong password;
 * admin pages are never cached (Cache-Control: no-store), so the back button after
 * logging out shows nothing private.
 */
#ifndef ONEFILE_ADMIN_ADMIN_H
#define ONEFILE_ADMIN_ADMIN_H

struct router;
struct app;

/* Adds the /admin routes (call before the site's catch-all /{slug}). */
void admin_routes(struct router *rt);
/* Creates the first admin from ONEFILE_ADMIN_EMAIL / ONEFILE_ADMIN_PASSWORD when the
   database has no user yet (through the writer). 0, or -1 logged. */
int admin_bootstrap(struct app *app);
#endif
