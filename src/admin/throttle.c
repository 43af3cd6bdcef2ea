/*
 * throttle.c - the admin login throttle; the rules are in throttle.h.
 *
 * throttle_wait() is the whole policy, a function of the sums the table gives and the
 * time, so tests/unit/test_throttle.c checks every rule and the window without a clock.
 * The rest is glue: one read before the password is hashed (so a refused attempt costs
 * no Argon2 work), one write after a failure; both go to the database, which is what
 * lets `onefile user unlock` clear a running server's state.
 */
#include "admin/throttle.h"

#include <ctype.h>
#include <stdio.h>
#include <time.h>

#include "core/log.h"
#include "db/readers.h"
#include "db/writer.h"
#include "http/app.h"

void throttle_account_key(const char *email, char *out)
{
    size_t n = 0;
    for (; email[n] && n < LOGIN_ACCOUNT_MAX_LEN; n++)
        out[n] = (char)tolower((unsigned char)email[n]);
    out[n] = '\0';
}

/* Seconds until a failure at last stops counting (at least 1). */
static int until(int64_t last, int64_t now, int64_t window_s)
{
    int64_t left = last + window_s - now;
    return left < 1 ? 1 : left > 86400 ? 86400 : (int)left;
}

int throttle_wait(const struct login_failures_seen *s, int64_t now, int64_t window_s)
{
    int wait = 0, w;
    if (s->address >= THROTTLE_ADDRESS_MAX) {
        w = until(s->address_last, now, window_s);
        wait = w > wait ? w : wait;
    }
    if (s->pair >= THROTTLE_PAIR_MAX || (s->account >= THROTTLE_ACCOUNT_MAX && s->pair > 0)) {
        w = until(s->pair_last, now, window_s);
        wait = w > wait ? w : wait;
    }
    return wait;
}

int throttle_check(struct app *app, struct throttle *t, const char *email, const char *address,
                   int *wait_s)
{
    throttle_account_key(email, t->account);
    t->address = address;
    t->now = (int64_t)time(NULL);
    t->since = t->now - app->cfg->login_window_s;
    struct db_conn *db = readers_acquire(app->readers);
    int rc = login_failures_seen(db, t->account, t->address, t->since, &t->seen);
    readers_release(app->readers, db);
    if (rc < 0)
        return -1;
    *wait_s = throttle_wait(&t->seen, t->now, app->cfg->login_window_s);
    return 0;
}

void throttle_failed(struct app *app, const struct throttle *t)
{
    char err[256];
    struct login_failure_write w = {t->account, t->address, t->now, t->since, 0};
    if (writer_submit(app->writer, "admin:login-failed", login_failures_add, &w, err,
                      sizeof(err)) != 0)
        log_err("admin: counting a failed login: %s", err);
}

void throttle_succeeded(struct app *app, const struct throttle *t)
{
    char err[256];
    if (t->seen.pair == 0)
        return;
    struct login_failure_write w = {t->account, t->address, t->now, t->since, 0};
    if (writer_submit(app->writer, "admin:login-ok", login_failures_clear_pair, &w, err,
                      sizeof(err)) != 0)
        log_err("admin: forgetting failed logins: %s", err);
}
