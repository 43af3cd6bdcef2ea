/*
 * login_failures.h - failed admin logins per (account, address), the login throttle's
 * memory (the policy is admin/throttle.c; the table is migrations/0003_login_failures.sql).
 *
 * Times are seconds since the epoch passed in by the caller, so the rules can be tested
 * without a clock. Only rows whose last failure is at or after `since` count: older ones
 * are expired, and deleted by the next login_failures_add.
 * Threads: the caller's connection (a reader for the sums, the writer for the writes,
 * the `user` command's own connection for the unlock).
 */
#ifndef ONEFILE_STORE_LOGIN_FAILURES_H
#define ONEFILE_STORE_LOGIN_FAILURES_H
#include <stddef.h>
#include <stdint.h>

#include "db/driver.h"

#define LOGIN_ACCOUNT_MAX_LEN 254 /* longer account keys are cut: an email is no longer */

/* What the table holds now for one login attempt (failures since `since`). */
struct login_failures_seen {
    int64_t address;      /* from this address, on any account */
    int64_t address_last; /* the newest of them (0 for none) */
    int64_t pair;         /* on this account from this address */
    int64_t pair_last;
    int64_t account; /* on this account from every address */
};
/* Fills out for account (lower-cased by the caller) and address. 0, or -1 logged. */
int login_failures_seen(struct db_conn *c, const char *account, const char *address, int64_t since,
                        struct login_failures_seen *out);

/* Writer functions. */
struct login_failure_write {
    const char *account, *address;
    int64_t now, since; /* add: the failure's time; rows older than since reset / go */
    int64_t removed;    /* clear_account: rows deleted */
};
/* Counts one failure for (account, address) and deletes expired rows. */
int login_failures_add(struct db_conn *c, void *arg, char *err, size_t errlen);
/* Forgets the failures of (account, address): after a successful login. */
int login_failures_clear_pair(struct db_conn *c, void *arg, char *err, size_t errlen);
/* Forgets every failure on account (`onefile user unlock`); sets removed. */
int login_failures_clear_account(struct db_conn *c, void *arg, char *err, size_t errlen);
#endif
