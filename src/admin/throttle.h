/*
 * throttle.h - the admin login throttle: which attempts are refused (429) before the
 * password is even looked at, and what a failure or a success leaves behind.
 *
 * Only FAILED logins count, per (account, address), in the table store/login_failures.c
 * keeps, over ONEFILE_LOGIN_WINDOW_S since the newest of them. An attempt is refused when
 *   - its address failed THROTTLE_ADDRESS_MAX times (on any accounts): one address
 *     guessing many accounts;
 *   - its address failed THROTTLE_PAIR_MAX times on this account: one address guessing
 *     one password;
 *   - the account failed THROTTLE_ACCOUNT_MAX times from all addresses together (many
 *     addresses guessing one password) and this address is one of them (failed on it at
 *     least once).
 * So strangers can never lock the owner out: an address that never failed on the account
 * (and is not itself guessing) is always let in with the right password, whatever others
 * did. (Behind a proxy every visitor shares its address unless ONEFILE_TRUST_PROXY is set:
 * docs/operations.md.) A success forgets its own pair's failures; `onefile user unlock
 * EMAIL` forgets all of the account's. The rows live in the database, not in memory, so
 * the command reaches a running server, a restart does not reset them, and instances on
 * one PostgreSQL database share them.
 * Threads: HTTP workers (a reader for the check, the writer for the writes).
 */
#ifndef ONEFILE_ADMIN_THROTTLE_H
#define ONEFILE_ADMIN_THROTTLE_H
#include <stddef.h>
#include <stdint.h>

#include "store/login_failures.h"

#define THROTTLE_ADDRESS_MAX 10
#define THROTTLE_PAIR_MAX 5
#define THROTTLE_ACCOUNT_MAX 20

struct app;

/* One login attempt, from throttle_check() to throttle_failed() / throttle_succeeded(). */
struct throttle {
    char account[LOGIN_ACCOUNT_MAX_LEN + 1]; /* the email, lower-cased, cut */
    const char *address;                     /* borrowed: the client's address */
    int64_t now, since;                      /* seconds since the epoch; since = now - window */
    struct login_failures_seen seen;
};

/* The account key of an email (lower-cased, cut at LOGIN_ACCOUNT_MAX_LEN) into out, which
   holds LOGIN_ACCOUNT_MAX_LEN + 1 bytes. The `user unlock` command uses it too. */
void throttle_account_key(const char *email, char *out);
/* The rules above on what the table holds: 0 let in, else the seconds to wait (>= 1). */
int throttle_wait(const struct login_failures_seen *seen, int64_t now, int64_t window_s);
/* Looks the attempt up: 0 with *wait_s set (0 let in, else the Retry-After), -1 when the
   table could not be read (logged: the caller answers 503, it does not guess). */
int throttle_check(struct app *app, struct throttle *t, const char *email, const char *address,
                   int *wait_s);
/* The password was wrong (or the account unknown): counts it, through the writer. */
void throttle_failed(struct app *app, const struct throttle *t);
/* The password was right: forgets this pair's failures (a write only when it had some). */
void throttle_succeeded(struct app *app, const struct throttle *t);
#endif
