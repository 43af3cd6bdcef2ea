/*
 * password.h - password hashing with libsodium's argon2id (crypto_pwhash_str).
 *
 * Parameters: crypto_pwhash OPSLIMIT_INTERACTIVE / MEMLIMIT_INTERACTIVE (t=2, m=64 MiB),
 * above OWASP's argon2id minimum (m=19 MiB, t=2); about 100 ms per hash here. A hash costs
 * 64 MiB, so at most PASSWORD_MAX_CONCURRENT run at once (a semaphore): a burst of login
 * attempts queues instead of exhausting memory. Hashes made with older parameters are
 * reported by password_verify() so the caller stores a fresh one (rehash on login).
 * Threads: any.
 */
#ifndef ONEFILE_ADMIN_PASSWORD_H
#define ONEFILE_ADMIN_PASSWORD_H
#include <sodium.h>
#include <stddef.h>

#define PASSWORD_MAX_CONCURRENT 2
#define PASSWORD_HASH_LEN crypto_pwhash_STRBYTES
#define PASSWORD_MIN_LEN 10
#define PASSWORD_MAX_LEN 1024

/* Hashes password into out (PASSWORD_HASH_LEN bytes). 0, or -1 (out of memory). */
int password_hash(const char *password, char out[PASSWORD_HASH_LEN]);
/* 0 when password matches hash (then *rehash says whether the hash should be replaced),
   1 when it does not. With hash NULL, spends the same time and answers 1: an unknown
   account costs what a wrong password costs. */
int password_verify(const char *hash, const char *password, int *rehash);
/* A message when the password is not acceptable (too short, too long), else NULL. */
const char *password_problem(const char *password);
#endif
