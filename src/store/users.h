/*
 * users.h - admin accounts and their sessions.
 *
 * Users: {id, email, created_at}; the password hash never leaves this module except to
 * password_verify(). Sessions: a random token in a cookie, stored only as its SHA-256,
 * with a CSRF token, an absolute expiry and an idle expiry (last_seen_at). Reads run on
 * a reader connection; writes are writer functions, except users_add_direct() for the
 * `user` command, which writes on its own connection.
 * Threads: the caller's connection.
 */
#ifndef ONEFILE_STORE_USERS_H
#define ONEFILE_STORE_USERS_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "db/driver.h"

#define SESSION_TOKEN_LEN 43 /* base64url of 32 bytes */
#define SESSION_IDLE_S (2 * 3600)
#define SESSION_ABSOLUTE_S (7 * 24 * 3600)

/* The user with that email: 0 found (id, hash copied), 1 not found, -1. */
int users_find(struct db_conn *c, const char *email, int64_t *id, char *hash, size_t hashlen);
/* [{id, email, created_at}]. 0 or -1. */
int users_list(struct db_conn *c, json_t **out);
/* Number of users, or -1. */
long long users_count(struct db_conn *c);
/* Adds or updates a user on the command's own connection (not through the server):
   mode 0 add (1 when the email exists), 1 set the password (1 when no such user; the
   user's sessions are ended). 0, 1, or -1 logged. */
int users_add_direct(struct db_conn *c, const char *email, const char *hash, int mode);

/* Writer functions. */
struct user_write {
    const char *email; /* add */
    const char *hash;  /* add, set password */
    int64_t id;        /* set password; set by add */
    int exists;        /* add: the email is taken */
};
int users_add(struct db_conn *c, void *arg, char *err, size_t errlen);
/* New password hash for user id; ends every session of that user. */
int users_set_password(struct db_conn *c, void *arg, char *err, size_t errlen);

struct session {
    int64_t id, user_id;
    char email[256];
    char csrf[SESSION_TOKEN_LEN + 1];
    int touch; /* last_seen_at is over a minute old: refresh it */
};
struct session_write {
    int64_t user_id;
    char token[SESSION_TOKEN_LEN + 1]; /* create: the new cookie value */
    char csrf[SESSION_TOKEN_LEN + 1];
    int64_t id; /* touch / delete */
};
/* Looks a cookie token up: 0 valid (s filled), 1 unknown or expired, -1. */
int sessions_lookup(struct db_conn *c, const char *token, struct session *s);
/* Writer functions: create (fills token and csrf), touch (id), delete (id). */
int sessions_create(struct db_conn *c, void *arg, char *err, size_t errlen);
int sessions_touch(struct db_conn *c, void *arg, char *err, size_t errlen);
int sessions_delete(struct db_conn *c, void *arg, char *err, size_t errlen);
/* Deletes expired sessions (for the prune-sessions job). */
int sessions_prune(struct db_conn *c, void *arg, char *err, size_t errlen);
/* A random URL-safe token (32 bytes) into out (SESSION_TOKEN_LEN + 1 bytes). */
void random_token(char *out);
#endif
