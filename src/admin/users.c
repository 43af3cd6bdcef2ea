/*
 * users.c - admin accounts and API tokens in the admin: list, add a user, create a token
 * (shown once), revoke one.
 * Threads: HTTP workers.
 */
#include "admin/gate.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "admin/password.h"
#include "db/readers.h"
#include "http/app.h"
#include "store/tokens.h"
#include "store/users.h"

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
    return admin_render(r, c, status, "admin/users.html", "users", m);
}

int admin_users_page(struct request *r)
{
    struct ctx c;
    int rc = admin_page(r, &c);
    return rc ? rc : users_view(r, &c, 200, NULL);
}

int admin_add_user(struct request *r)
{
    struct ctx c;
    char err[256], hash[PASSWORD_HASH_LEN];
    int rc = admin_action(r, &c);
    if (rc) {
        admin_done(&c);
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
    if (admin_submit(r, "admin:users", users_add, &w, err, sizeof(err)) != 0) {
        rc = users_view(r, &c, w.exists ? 409 : 503,
                        json_pack("{s:s}", "error",
                                  w.exists ? "A user with this email exists."
                                           : "The user could not be added."));
        goto out;
    }
    rc = admin_redirect_done(r, "/admin/users", "user-added");
out:
    admin_done(&c);
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

int admin_create_token(struct request *r)
{
    struct ctx c;
    char err[256];
    int rc = admin_action(r, &c);
    if (rc) {
        admin_done(&c);
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
    if (admin_submit(r, "admin:tokens", token_create_fn, &t, err, sizeof(err)) != 0) {
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
    admin_done(&c);
    return rc;
}

int admin_revoke_token(struct request *r)
{
    struct ctx c;
    char err[256];
    int rc = admin_action(r, &c);
    int64_t id = admin_id_param(r);
    if (rc == 0 && !admin_confirmed(&c)) {
        char action[64];
        snprintf(action, sizeof(action), "/admin/tokens/%lld/revoke", (long long)id);
        struct admin_question q = {"Revoke this token?",
                                   "Every client using it is refused from then on; a revoked "
                                   "token cannot be brought back.",
                                   action,
                                   "Revoke",
                                   "/admin/users",
                                   "users",
                                   0};
        rc = admin_confirm(r, &c, &q);
    } else if (rc == 0) {
        rc = admin_submit(r, "admin:tokens", tokens_revoke_id, &id, err, sizeof(err)) == 0
                 ? admin_redirect_done(r, "/admin/users", "token-revoked")
                 : request_error(r, 503, "The token could not be revoked.");
        request_set_header(r, "Cache-Control", "no-store");
    }
    admin_done(&c);
    return rc;
}
