/*
 * tokens.c - API bearer tokens; see tokens.h.
 */
#include <sodium.h>
#include <string.h>
#include <stdio.h>

#include "core/log.h"
#include "store/store.h"
#include "store/tokens.h"

static void hash_hex(const char *token, char out[TOKEN_HASH_LEN + 1])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
    sodium_bin2hex(out, TOKEN_HASH_LEN + 1, h, sizeof(h));
}

int tokens_create(struct db_conn *c, const char *name, char *token, size_t tokenlen)
{
    unsigned char raw[32];
    char hash[TOKEN_HASH_LEN + 1], now[32];
    if (tokenlen < TOKEN_LEN + 1)
        return log_err("tokens: buffer too small");
    randombytes_buf(raw, sizeof(raw));
    memcpy(token, "of_", 3);
    sodium_bin2base64(token + 3, tokenlen - 3, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
    hash_hex(token, hash);
    store_time(0, now);
    struct db_stmt *st =
        db_prepare(c, "INSERT INTO api_tokens (name, token_hash, created_at) VALUES (?1, ?2, ?3)");
    if (!st)
        return -1;
    db_bind_text(st, 1, name);
    db_bind_text(st, 2, hash);
    db_bind_text(st, 3, now);
    char err[256];
    int rc = db_run(st, err, sizeof(err));
    if (rc == 0)
        return 0;
    if (rc == DB_EUNIQUE)
        return 1;
    return log_err("tokens: create: %s", err);
}

int tokens_revoke(struct db_conn *c, const char *name)
{
    char now[32], err[256];
    store_time(0, now);
    struct db_stmt *st = db_prepare(
        c, "UPDATE api_tokens SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL");
    if (!st)
        return -1;
    db_bind_text(st, 1, name);
    db_bind_text(st, 2, now);
    if (db_run(st, err, sizeof(err)) < 0)
        return log_err("tokens: revoke: %s", err);
    return db_changes(c) ? 0 : 1;
}

int tokens_revoke_id(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    char now[32];
    store_time(0, now);
    struct db_stmt *st =
        db_prepare(c, "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL");
    if (!st) {
        snprintf(err, errlen, "prepare: %s", db_errmsg(c));
        return -1;
    }
    db_bind_int64(st, 1, *(int64_t *)arg);
    db_bind_text(st, 2, now);
    return db_run(st, err, errlen) < 0 ? -1 : 0;
}

int tokens_list(struct db_conn *c, json_t **out)
{
    struct db_stmt *st = db_prepare(c, "SELECT id, name, created_at, last_used_at, revoked_at "
                                       "FROM api_tokens ORDER BY id");
    if (!st)
        return -1;
    *out = json_array();
    while (db_step(st) == DB_ROW) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(db_column_int64(st, 0)));
        static const char *const names[] = {"name", "created_at", "last_used_at", "revoked_at"};
        for (int i = 0; i < 4; i++) {
            const char *t = db_column_text(st, i + 1);
            json_object_set_new(o, names[i], t ? json_string(t) : json_null());
        }
        json_array_append_new(*out, o);
    }
    db_reset(st);
    return 0;
}

int tokens_hash(const char *token, char *hash)
{
    if (strlen(token) != TOKEN_LEN || strncmp(token, "of_", 3) != 0)
        return 1;
    hash_hex(token, hash);
    return 0;
}

int tokens_check(struct db_conn *c, const char *token, int64_t *id, int *stale)
{
    char hash[TOKEN_HASH_LEN + 1];
    if (tokens_hash(token, hash))
        return 1;
    return tokens_check_hash(c, hash, id, stale);
}

int tokens_check_hash(struct db_conn *c, const char *hash, int64_t *id, int *stale)
{
    char minute_ago[32];
    store_time(-60, minute_ago);
    struct db_stmt *st = db_prepare(
        c, "SELECT id, CASE WHEN last_used_at IS NULL OR last_used_at < ?2 THEN 1 ELSE 0 END "
           "FROM api_tokens WHERE token_hash = ?1 AND revoked_at IS NULL");
    if (!st)
        return -1;
    db_bind_textn(st, 1, hash, TOKEN_HASH_LEN);
    db_bind_text(st, 2, minute_ago);
    int rc = db_step(st);
    if (rc == DB_ROW) {
        *id = db_column_int64(st, 0);
        *stale = (int)db_column_int64(st, 1);
    }
    db_reset(st);
    if (rc == DB_ROW)
        return 0;
    if (rc == DB_DONE)
        return 1;
    return log_err("tokens: check: %s", db_errmsg(c));
}

int tokens_touch(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    char now[32];
    store_time(0, now);
    struct db_stmt *st = db_prepare(c, "UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1");
    if (!st) {
        snprintf(err, errlen, "prepare: %s", db_errmsg(c));
        return -1;
    }
    db_bind_int64(st, 1, *(int64_t *)arg);
    db_bind_text(st, 2, now);
    return db_run(st, err, errlen) < 0 ? -1 : 0;
}
