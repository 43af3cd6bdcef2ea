/*
 * tokens.c - API bearer tokens; see tokens.h.
 */
#include <sodium.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "db/db.h"
#include "store/tokens.h"

static void hash_hex(const char *token, char out[TOKEN_HASH_LEN + 1])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
    sodium_bin2hex(out, TOKEN_HASH_LEN + 1, h, sizeof(h));
}

int tokens_create(sqlite3 *db, const char *name, char *token, size_t tokenlen)
{
    unsigned char raw[32];
    char hash[TOKEN_HASH_LEN + 1];
    if (tokenlen < TOKEN_LEN + 1)
        return log_err("tokens: buffer too small");
    randombytes_buf(raw, sizeof(raw));
    memcpy(token, "of_", 3);
    sodium_bin2base64(token + 3, tokenlen - 3, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
    hash_hex(token, hash);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT INTO api_tokens (name, token_hash) VALUES (?1, ?2)", -1,
                           &st, NULL) != SQLITE_OK)
        return log_err("tokens: %s", sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int ext = sqlite3_extended_errcode(db);
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return 0;
    if (ext == SQLITE_CONSTRAINT_UNIQUE)
        return 1;
    return log_err("tokens: create: %s", sqlite3_errmsg(db));
}

int tokens_revoke(sqlite3 *db, const char *name)
{
    char now[32];
    sqlite3_stmt *st;
    clock_iso8601(time(NULL), now, sizeof(now));
    if (sqlite3_prepare_v2(db,
                           "UPDATE api_tokens SET revoked_at = ?2 WHERE name = ?1 AND "
                           "revoked_at IS NULL",
                           -1, &st, NULL) != SQLITE_OK)
        return log_err("tokens: %s", sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, now, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return log_err("tokens: revoke: %s", sqlite3_errmsg(db));
    return sqlite3_changes(db) ? 0 : 1;
}

int tokens_list(sqlite3 *db, json_t **out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT id, name, created_at, last_used_at, revoked_at FROM "
                           "api_tokens ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK)
        return log_err("tokens: %s", sqlite3_errmsg(db));
    *out = json_array();
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, 0)));
        static const char *const names[] = {"name", "created_at", "last_used_at", "revoked_at"};
        for (int i = 0; i < 4; i++) {
            const unsigned char *t = sqlite3_column_text(st, i + 1);
            json_object_set_new(o, names[i], t ? json_string((const char *)t) : json_null());
        }
        json_array_append_new(*out, o);
    }
    sqlite3_finalize(st);
    return 0;
}

int tokens_hash(const char *token, char *hash)
{
    if (strlen(token) != TOKEN_LEN || strncmp(token, "of_", 3) != 0)
        return 1;
    hash_hex(token, hash);
    return 0;
}

int tokens_check(sqlite3 *db, const char *token, sqlite3_int64 *id, int *stale)
{
    char hash[TOKEN_HASH_LEN + 1];
    if (tokens_hash(token, hash))
        return 1;
    return tokens_check_hash(db, hash, id, stale);
}

int tokens_check_hash(sqlite3 *db, const char *hash, sqlite3_int64 *id, int *stale)
{
    char minute_ago[32]; /* bound rather than strftime('now', ...) in SQL: cheaper */
    clock_iso8601(time(NULL) - 60, minute_ago, sizeof(minute_ago));
    sqlite3_stmt *st = db_prepare_cached(
        db, "SELECT id, last_used_at IS NULL OR last_used_at < ?2 "
            "FROM api_tokens WHERE token_hash = ?1 AND revoked_at IS NULL");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, hash, TOKEN_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, minute_ago, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        *stale = sqlite3_column_int(st, 1);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc == SQLITE_DONE)
        return 1;
    return log_err("tokens: check: %s", sqlite3_errmsg(db));
}

int tokens_touch(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    char now[32];
    clock_iso8601(time(NULL), now, sizeof(now));
    sqlite3_stmt *st = db_prepare_cached(db, "UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1");
    if (!st) {
        snprintf(err, errlen, "prepare: %s", sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_int64(st, 1, *(sqlite3_int64 *)arg);
    sqlite3_bind_text(st, 2, now, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}
