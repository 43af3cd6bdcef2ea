/*
 * users.c - admin accounts and sessions; see users.h.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "store/store.h"
#include "store/users.h"

void random_token(char *out)
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(out, SESSION_TOKEN_LEN + 1, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
}

static void hash_hex(const char *token, char out[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
    sodium_bin2hex(out, 65, h, sizeof(h));
}

int users_find(struct db_conn *c, const char *email, int64_t *id, char *hash, size_t hashlen)
{
    struct db_stmt *st = db_prepare(c, "SELECT id, password_hash FROM users WHERE email = ?1");
    if (!st)
        return -1;
    db_bind_text(st, 1, email);
    int rc = db_step(st);
    if (rc == DB_ROW) {
        *id = db_column_int64(st, 0);
        snprintf(hash, hashlen, "%s", db_column_text(st, 1));
    }
    db_reset(st);
    if (rc == DB_ROW)
        return 0;
    return rc == DB_DONE ? 1 : log_err("users: %s", db_errmsg(c));
}

int users_list(struct db_conn *c, json_t **out)
{
    struct db_stmt *st = db_prepare(c, "SELECT id, email, created_at FROM users ORDER BY id");
    if (!st)
        return -1;
    *out = json_array();
    while (db_step(st) == DB_ROW)
        json_array_append_new(
            *out, json_pack("{s:I,s:s,s:s}", "id", (json_int_t)db_column_int64(st, 0), "email",
                            db_column_text(st, 1), "created_at", db_column_text(st, 2)));
    db_reset(st);
    return 0;
}

long long users_count(struct db_conn *c)
{
    struct db_stmt *st = db_prepare(c, "SELECT count(*) FROM users");
    long long n = -1;
    if (!st)
        return -1;
    if (db_step(st) == DB_ROW)
        n = db_column_int64(st, 0);
    db_reset(st);
    return n;
}

int users_add_direct(struct db_conn *c, const char *email, const char *hash, int mode)
{
    char err[256];
    struct user_write w = {email, hash, 0, 0};
    int rc = -1;
    if (store_begin_write(c, "users") < 0)
        return -1;
    if (mode == 0) {
        rc = users_add(c, &w, err, sizeof(err));
        if (rc < 0 && w.exists)
            rc = 1;
    } else {
        int64_t id;
        char old[256];
        int found = users_find(c, email, &id, old, sizeof(old));
        if (found != 0) {
            rc = found;
        } else {
            w.id = id;
            rc = users_set_password(c, &w, err, sizeof(err));
        }
    }
    if (rc == 0 && store_commit(c, "users") == 0)
        return 0;
    if (rc < 0 && !w.exists)
        log_err("users: %s", err);
    store_rollback(c);
    return rc == 1 ? 1 : -1;
}

int users_add(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    struct user_write *w = arg;
    char now[32];
    store_time(0, now);
    struct db_stmt *st =
        db_prepare_insert(c, "INSERT INTO users (email, password_hash, created_at, updated_at) "
                             "VALUES (?1, ?2, ?3, ?3)");
    if (!st) {
        snprintf(err, errlen, "prepare: %s", db_errmsg(c));
        return -1;
    }
    db_bind_text(st, 1, w->email);
    db_bind_text(st, 2, w->hash);
    db_bind_text(st, 3, now);
    int rc = db_step(st);
    if (rc == DB_DONE)
        w->id = db_insert_id(st);
    else
        snprintf(err, errlen, "%s", db_errmsg(c));
    db_reset(st);
    if (rc != DB_DONE) {
        w->exists = rc == DB_EUNIQUE;
        if (w->exists)
            snprintf(err, errlen, "a user with this email exists");
        return -1;
    }
    return 0;
}

int users_set_password(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    struct user_write *w = arg;
    char now[32];
    store_time(0, now);
    struct db_stmt *st =
        db_prepare(c, "UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1");
    if (!st) {
        snprintf(err, errlen, "prepare: %s", db_errmsg(c));
        return -1;
    }
    db_bind_int64(st, 1, w->id);
    db_bind_text(st, 2, w->hash);
    db_bind_text(st, 3, now);
    if (db_run(st, err, errlen) < 0)
        return -1;
    return store_exec_id(c, "DELETE FROM sessions WHERE user_id = ?1", w->id, err, errlen) < 0 ? -1
                                                                                               : 0;
}

int sessions_lookup(struct db_conn *c, const char *token, struct session *s)
{
    char hash[65], now[32], minute_ago[32], idle_since[32];
    if (strlen(token) != SESSION_TOKEN_LEN)
        return 1;
    hash_hex(token, hash);
    store_time(0, now);
    store_time(-60, minute_ago);
    store_time(-SESSION_IDLE_S, idle_since);
    struct db_stmt *st =
        db_prepare(c, "SELECT s.id, s.user_id, u.email, s.csrf_token, "
                      "CASE WHEN s.last_seen_at < ?3 THEN 1 ELSE 0 END "
                      "FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?1 "
                      "AND s.expires_at > ?4 AND s.last_seen_at > ?2");
    if (!st)
        return -1;
    db_bind_text(st, 1, hash);
    db_bind_text(st, 2, idle_since);
    db_bind_text(st, 3, minute_ago);
    db_bind_text(st, 4, now);
    int rc = db_step(st);
    if (rc == DB_ROW) {
        s->id = db_column_int64(st, 0);
        s->user_id = db_column_int64(st, 1);
        snprintf(s->email, sizeof(s->email), "%s", db_column_text(st, 2));
        snprintf(s->csrf, sizeof(s->csrf), "%s", db_column_text(st, 3));
        s->touch = (int)db_column_int64(st, 4);
    }
    db_reset(st);
    if (rc == DB_ROW)
        return 0;
    return rc == DB_DONE ? 1 : log_err("sessions: %s", db_errmsg(c));
}

int sessions_create(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    struct session_write *w = arg;
    char hash[65], now[32], expires[32];
    random_token(w->token);
    random_token(w->csrf);
    hash_hex(w->token, hash);
    store_time(0, now);
    store_time(SESSION_ABSOLUTE_S, expires);
    struct db_stmt *st = db_prepare_insert(
        c, "INSERT INTO sessions (token_hash, user_id, csrf_token, expires_at, created_at, "
           "last_seen_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)");
    if (!st) {
        snprintf(err, errlen, "prepare: %s", db_errmsg(c));
        return -1;
    }
    db_bind_text(st, 1, hash);
    db_bind_int64(st, 2, w->user_id);
    db_bind_text(st, 3, w->csrf);
    db_bind_text(st, 4, expires);
    db_bind_text(st, 5, now);
    int rc = db_step(st);
    if (rc == DB_DONE)
        w->id = db_insert_id(st);
    else
        snprintf(err, errlen, "%s", db_errmsg(c));
    db_reset(st);
    return rc == DB_DONE ? 0 : -1;
}

int sessions_touch(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    char now[32];
    store_time(0, now);
    struct db_stmt *st = db_prepare(c, "UPDATE sessions SET last_seen_at = ?2 WHERE id = ?1");
    if (!st) {
        snprintf(err, errlen, "prepare: %s", db_errmsg(c));
        return -1;
    }
    db_bind_int64(st, 1, ((struct session_write *)arg)->id);
    db_bind_text(st, 2, now);
    return db_run(st, err, errlen) < 0 ? -1 : 0;
}

int sessions_delete(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    return store_exec_id(c, "DELETE FROM sessions WHERE id = ?1", ((struct session_write *)arg)->id,
                         err, errlen) < 0
               ? -1
               : 0;
}

int sessions_prune(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    (void)arg;
    char now[32], idle_since[32];
    store_time(0, now);
    store_time(-SESSION_IDLE_S, idle_since);
    struct db_stmt *st =
        db_prepare(c, "DELETE FROM sessions WHERE expires_at <= ?1 OR last_seen_at <= ?2");
    if (!st) {
        snprintf(err, errlen, "prepare: %s", db_errmsg(c));
        return -1;
    }
    db_bind_text(st, 1, now);
    db_bind_text(st, 2, idle_since);
    return db_run(st, err, errlen) < 0 ? -1 : 0;
}
