/*
 * users.c - admin accounts and sessions; see users.h.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "db/db.h"
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

static void iso_in(long seconds, char out[32])
{
    clock_iso8601(time(NULL) + seconds, out, 32);
}

int users_find(sqlite3 *db, const char *email, sqlite3_int64 *id, char *hash, size_t hashlen)
{
    sqlite3_stmt *st =
        db_prepare_cached(db, "SELECT id, password_hash FROM users WHERE email = ?1");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, email, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        snprintf(hash, hashlen, "%s", (const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return 0;
    return rc == SQLITE_DONE ? 1 : log_err("users: %s", sqlite3_errmsg(db));
}

int users_list(sqlite3 *db, json_t **out)
{
    sqlite3_stmt *st = db_prepare_cached(db, "SELECT id, email, created_at FROM users ORDER BY id");
    if (!st)
        return -1;
    *out = json_array();
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(
            *out, json_pack("{s:I,s:s,s:s}", "id", (json_int_t)sqlite3_column_int64(st, 0), "email",
                            (const char *)sqlite3_column_text(st, 1), "created_at",
                            (const char *)sqlite3_column_text(st, 2)));
    sqlite3_reset(st);
    return 0;
}

long long users_count(sqlite3 *db)
{
    long long n;
    return db_query_int(db, "SELECT count(*) FROM users", &n) == 0 ? n : -1;
}

int users_add_direct(sqlite3 *db, const char *email, const char *hash, int mode)
{
    char err[256];
    struct user_write w = {email, hash, 0, 0};
    int rc = -1;
    if (db_exec(db, "users: begin", "BEGIN IMMEDIATE") < 0)
        return -1;
    if (mode == 0) {
        rc = users_add(db, &w, err, sizeof(err));
        if (rc < 0 && w.exists)
            rc = 1;
    } else {
        sqlite3_int64 id;
        char old[256];
        int found = users_find(db, email, &id, old, sizeof(old));
        if (found != 0) {
            rc = found;
        } else {
            w.id = id;
            rc = users_set_password(db, &w, err, sizeof(err));
        }
    }
    if (rc == 0 && db_exec(db, "users: commit", "COMMIT") == 0)
        return 0;
    if (rc < 0 && !w.exists)
        log_err("users: %s", err);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc == 1 ? 1 : -1;
}

int users_add(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    struct user_write *w = arg;
    sqlite3_stmt *st =
        db_prepare_cached(db, "INSERT INTO users (email, password_hash) VALUES (?1, ?2)");
    if (!st) {
        snprintf(err, errlen, "prepare: %s", sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_text(st, 1, w->email, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, w->hash, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int ext = sqlite3_extended_errcode(db);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        w->exists = ext == SQLITE_CONSTRAINT_UNIQUE;
        snprintf(err, errlen, "%s",
                 w->exists ? "a user with this email exists" : sqlite3_errmsg(db));
        return -1;
    }
    w->id = sqlite3_last_insert_rowid(db);
    return 0;
}

int users_set_password(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    struct user_write *w = arg;
    char now[32];
    iso_in(0, now);
    sqlite3_stmt *st =
        db_prepare_cached(db, "UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1");
    sqlite3_stmt *end = db_prepare_cached(db, "DELETE FROM sessions WHERE user_id = ?1");
    if (!st || !end) {
        snprintf(err, errlen, "prepare: %s", sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_int64(st, 1, w->id);
    sqlite3_bind_text(st, 2, w->hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, now, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_bind_int64(end, 1, w->id);
    int rc2 = sqlite3_step(end);
    sqlite3_reset(end);
    if (rc != SQLITE_DONE || rc2 != SQLITE_DONE) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

int sessions_lookup(sqlite3 *db, const char *token, struct session *s)
{
    char hash[65];
    if (strlen(token) != SESSION_TOKEN_LEN)
        return 1;
    hash_hex(token, hash);
    sqlite3_stmt *st = db_prepare_cached(
        db, "SELECT s.id, s.user_id, u.email, s.csrf_token, "
            "s.last_seen_at < strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-60 seconds') "
            "FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?1 "
            "AND s.expires_at > strftime('%Y-%m-%dT%H:%M:%SZ', 'now') "
            "AND s.last_seen_at > strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ?2)");
    if (!st)
        return -1;
    char idle[32];
    snprintf(idle, sizeof(idle), "-%d seconds", SESSION_IDLE_S);
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, idle, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        s->id = sqlite3_column_int64(st, 0);
        s->user_id = sqlite3_column_int64(st, 1);
        snprintf(s->email, sizeof(s->email), "%s", (const char *)sqlite3_column_text(st, 2));
        snprintf(s->csrf, sizeof(s->csrf), "%s", (const char *)sqlite3_column_text(st, 3));
        s->touch = sqlite3_column_int(st, 4);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return 0;
    return rc == SQLITE_DONE ? 1 : log_err("sessions: %s", sqlite3_errmsg(db));
}

int sessions_create(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    struct session_write *w = arg;
    char hash[65], expires[32];
    random_token(w->token);
    random_token(w->csrf);
    hash_hex(w->token, hash);
    iso_in(SESSION_ABSOLUTE_S, expires);
    sqlite3_stmt *st =
        db_prepare_cached(db, "INSERT INTO sessions (token_hash, user_id, csrf_token, expires_at) "
                              "VALUES (?1, ?2, ?3, ?4)");
    if (!st) {
        snprintf(err, errlen, "prepare: %s", sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, w->user_id);
    sqlite3_bind_text(st, 3, w->csrf, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, expires, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        return -1;
    }
    w->id = sqlite3_last_insert_rowid(db);
    return 0;
}

int sessions_touch(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    return db_exec_id(db,
                      "UPDATE sessions SET last_seen_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') "
                      "WHERE id = ?1",
                      ((struct session_write *)arg)->id, err, errlen);
}

int sessions_delete(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    return db_exec_id(db, "DELETE FROM sessions WHERE id = ?1", ((struct session_write *)arg)->id,
                      err, errlen);
}

int sessions_prune(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    (void)arg;
    char idle[32];
    snprintf(idle, sizeof(idle), "-%d seconds", SESSION_IDLE_S);
    sqlite3_stmt *st = db_prepare_cached(
        db, "DELETE FROM sessions WHERE expires_at <= strftime('%Y-%m-%dT%H:%M:%SZ', 'now') "
            "OR last_seen_at <= strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ?1)");
    if (!st) {
        snprintf(err, errlen, "prepare: %s", sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_text(st, 1, idle, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}
