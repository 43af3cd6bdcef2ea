/*
 * login_failures.c - failed admin logins per (account, address); see login_failures.h.
 *
 * One row per pair keeps every question one indexed read: the sums per address and per
 * account come from the same rows (the primary key leads with account, an index serves
 * address). The upsert is the INSERT ... ON CONFLICT DO UPDATE form both engines accept
 * (the column qualified by its table, as PostgreSQL requires); sums are cast to BIGINT
 * because PostgreSQL's sum(bigint) is numeric.
 */
#include "store/login_failures.h"

#include <stdio.h>

#include "core/log.h"

int login_failures_seen(struct db_conn *c, const char *account, const char *address, int64_t since,
                        struct login_failures_seen *out)
{
    struct db_stmt *st = db_prepare(
        c, "SELECT CAST(coalesce(sum(CASE WHEN address = ?2 THEN failures END), 0) AS BIGINT), "
           "CAST(coalesce(max(CASE WHEN address = ?2 THEN last_at END), 0) AS BIGINT), "
           "CAST(coalesce(sum(CASE WHEN account = ?1 AND address = ?2 THEN failures END), 0) "
           "AS BIGINT), "
           "CAST(coalesce(max(CASE WHEN account = ?1 AND address = ?2 THEN last_at END), 0) "
           "AS BIGINT), "
           "CAST(coalesce(sum(CASE WHEN account = ?1 THEN failures END), 0) AS BIGINT) "
           "FROM login_failures WHERE (account = ?1 OR address = ?2) AND last_at >= ?3");
    if (!st)
        return log_err("login_failures: %s", db_errmsg(c));
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, address);
    db_bind_int64(st, 3, since);
    int rc = db_step(st);
    if (rc == DB_ROW) {
        out->address = db_column_int64(st, 0);
        out->address_last = db_column_int64(st, 1);
        out->pair = db_column_int64(st, 2);
        out->pair_last = db_column_int64(st, 3);
        out->account = db_column_int64(st, 4);
    }
    db_reset(st);
    return rc == DB_ROW ? 0 : log_err("login_failures: %s", db_errmsg(c));
}

int login_failures_add(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    struct login_failure_write *w = arg;
    /* an expired pair starts again at 1: its old failures no longer count */
    struct db_stmt *st =
        db_prepare(c, "INSERT INTO login_failures (account, address, failures, last_at) "
                      "VALUES (?1, ?2, 1, ?3) ON CONFLICT (account, address) DO UPDATE SET "
                      "failures = CASE WHEN login_failures.last_at < ?4 THEN 1 "
                      "ELSE login_failures.failures + 1 END, last_at = excluded.last_at");
    if (!st) {
        snprintf(err, errlen, "prepare: %s", db_errmsg(c));
        return DB_ERR;
    }
    db_bind_text(st, 1, w->account);
    db_bind_text(st, 2, w->address);
    db_bind_int64(st, 3, w->now);
    db_bind_int64(st, 4, w->since);
    if (db_run(st, err, errlen) < 0)
        return -1;
    /* expired rows go here, so the table holds one window of failures at most */
    st = db_prepare(c, "DELETE FROM login_failures WHERE last_at < ?1");
    if (!st) {
        snprintf(err, errlen, "prepare: %s", db_errmsg(c));
        return DB_ERR;
    }
    db_bind_int64(st, 1, w->since);
    return db_run(st, err, errlen) < 0 ? -1 : 0;
}

int login_failures_clear_pair(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    struct login_failure_write *w = arg;
    struct db_stmt *st =
        db_prepare(c, "DELETE FROM login_failures WHERE account = ?1 AND address = ?2");
    if (!st) {
        snprintf(err, errlen, "prepare: %s", db_errmsg(c));
        return DB_ERR;
    }
    db_bind_text(st, 1, w->account);
    db_bind_text(st, 2, w->address);
    return db_run(st, err, errlen) < 0 ? -1 : 0;
}

int login_failures_clear_account(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    struct login_failure_write *w = arg;
    struct db_stmt *st = db_prepare(c, "DELETE FROM login_failures WHERE account = ?1");
    if (!st) {
        snprintf(err, errlen, "prepare: %s", db_errmsg(c));
        return DB_ERR;
    }
    db_bind_text(st, 1, w->account);
    if (db_run(st, err, errlen) < 0)
        return -1;
    w->removed = db_changes(c);
    return 0;
}
