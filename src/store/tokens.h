/*
 * tokens.h - API bearer tokens: created by `onefile token create NAME`, shown once, stored
 * only as their SHA-256, revocable, with the time they were last used.
 *
 * A token is "of_" followed by 43 base64url characters (32 random bytes). Checking one
 * hashes it and looks the hash up, so the comparison is a database index lookup on a
 * hash, never a byte-by-byte compare of secrets.
 * Threads: the caller's connection.
 */
#ifndef ONEFILE_STORE_TOKENS_H
#define ONEFILE_STORE_TOKENS_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "db/driver.h"

#define TOKEN_LEN 46 /* "of_" + 43, without the NUL */

/* Creates token `name` (on a read-write connection, outside the server's writer: used by
   the command). The token is written to token (at least TOKEN_LEN + 1 bytes).
   0, 1 when the name is taken, -1 logged. */
int tokens_create(struct db_conn *c, const char *name, char *token, size_t tokenlen);
/* Revokes token `name`: 0, 1 when there is no such active token, -1 logged. */
int tokens_revoke(struct db_conn *c, const char *name);
/* Every token: [{id, name, created_at, last_used_at, revoked_at}]. 0 or -1 logged. */
/* Writer function: revokes token *(int64_t *)arg (by id) now; revoked already is fine. */
int tokens_revoke_id(struct db_conn *c, void *arg, char *err, size_t errlen);
int tokens_list(struct db_conn *c, json_t **out);
#define TOKEN_HASH_LEN 64 /* hex SHA-256, without the NUL */

/* The stored form of a presented token into hash (TOKEN_HASH_LEN + 1 bytes): 0, or 1
   when it cannot be a token (wrong length or prefix) and needs no lookup. */
int tokens_hash(const char *token, char *hash);
/* Checks a presented token: 0 valid (*id set; *stale when its last use was recorded over
   a minute ago, or never), 1 unknown or revoked, -1 logged. */
int tokens_check(struct db_conn *c, const char *token, int64_t *id, int *stale);
/* The same for a token already hashed by tokens_hash(): on a reader, or inside a writer
   function, where the check and the write it allows are one transaction. */
int tokens_check_hash(struct db_conn *c, const char *hash, int64_t *id, int *stale);
/* Writer function: records the use of token *(int64_t *)arg now. */
int tokens_touch(struct db_conn *c, void *arg, char *err, size_t errlen);
#endif
