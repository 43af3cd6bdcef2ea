/* test_throttle.c - the admin login throttle (admin/throttle.c) over its table
   (store/login_failures.c) on a real migrated file, with the time passed in: only failures
   count; the address, pair and account rules; an address that never failed on an account
   is let in whatever others did; the window (expiry, reset of an expired pair, pruning);
   a success forgets its pair; unlock forgets the account; the account key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "admin/throttle.h"
#include "db/db.h"
#include "db/sqlite.h"
#include "store/login_failures.h"
#include "fixture.h"

#define WINDOW 300
static char dir[64], path[128];
static struct db_conn *conn;

static int setup(void **state)
{
    (void)state;
    sqlite3 *db;
    fixture_migrated_db("throttle", dir, sizeof(dir), path, sizeof(path), &db);
    conn = sqlite_conn_wrap(db);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    db_conn_close(conn);
    fixture_remove(dir);
    return 0;
}

static void fail_at(const char *account, const char *address, int64_t now)
{
    char err[256] = "";
    struct login_failure_write w = {account, address, now, now - WINDOW, 0};
    if (login_failures_add(conn, &w, err, sizeof(err)) != 0)
        fail_msg("add: %s", err);
}

/* The seconds the attempt must wait (0: let in). */
static int wait_at(const char *account, const char *address, int64_t now)
{
    struct login_failures_seen s;
    assert_int_equal(login_failures_seen(conn, account, address, now - WINDOW, &s), 0);
    return throttle_wait(&s, now, WINDOW);
}

static long long rows(void)
{
    long long n = -1;
    assert_int_equal(
        db_query_int(sqlite_conn_handle(conn), "SELECT count(*) FROM login_failures", &n), 0);
    return n;
}

static void test_pair_rule_and_window(void **state)
{
    (void)state;
    int64_t t = 1000000;
    for (int i = 0; i < THROTTLE_PAIR_MAX - 1; i++) {
        fail_at("a@x", "10.0.0.1", t + i);
        assert_int_equal(wait_at("a@x", "10.0.0.1", t + i), 0);
    }
    fail_at("a@x", "10.0.0.1", t + 10);
    /* refused until the newest failure is a window old */
    assert_int_equal(wait_at("a@x", "10.0.0.1", t + 10), WINDOW);
    assert_int_equal(wait_at("a@x", "10.0.0.1", t + 10 + WINDOW - 1), 1);
    assert_int_equal(wait_at("a@x", "10.0.0.1", t + 10 + WINDOW + 1), 0);
    /* other addresses and other accounts never noticed */
    assert_int_equal(wait_at("a@x", "10.0.0.2", t + 11), 0);
    assert_int_equal(wait_at("b@x", "10.0.0.1", t + 11), 0);
    /* an expired pair starts again at one, and the old rows are pruned by the next write */
    fail_at("a@x", "10.0.0.1", t + 10 + WINDOW + 1);
    assert_int_equal(wait_at("a@x", "10.0.0.1", t + 10 + WINDOW + 2), 0);
    fail_at("c@x", "10.0.0.9", t + 3 * WINDOW);
    assert_int_equal(rows(), 1);
}

static void test_address_rule(void **state)
{
    (void)state;
    int64_t t = 2000000;
    char account[32];
    for (int i = 0; i < THROTTLE_ADDRESS_MAX; i++) {
        assert_int_equal(wait_at("owner@x", "10.1.0.1", t), 0);
        snprintf(account, sizeof(account), "guess%d@x", i);
        fail_at(account, "10.1.0.1", t);
    }
    /* one address guessing many accounts: refused on every one, the owner's too */
    assert_int_not_equal(wait_at("owner@x", "10.1.0.1", t + 1), 0);
    assert_int_equal(wait_at("owner@x", "10.1.0.2", t + 1), 0);
}

static void test_many_addresses_never_lock_out_a_clean_one(void **state)
{
    (void)state;
    int64_t t = 3000000;
    char address[32];
    /* strangers from many addresses, each under every per-address limit */
    for (int i = 0; i < THROTTLE_ACCOUNT_MAX; i++) {
        snprintf(address, sizeof(address), "10.2.0.%d", i);
        fail_at("owner@x", address, t);
    }
    /* an address that failed on the account while it is under attack: refused */
    assert_int_not_equal(wait_at("owner@x", "10.2.0.0", t + 1), 0);
    /* one that never failed on it: let in */
    assert_int_equal(wait_at("owner@x", "10.9.9.9", t + 1), 0);
    /* unlock forgets every pair of the account */
    char err[256] = "";
    struct login_failure_write w = {"owner@x", NULL, 0, 0, 0};
    assert_int_equal(login_failures_clear_account(conn, &w, err, sizeof(err)), 0);
    assert_int_equal(w.removed, THROTTLE_ACCOUNT_MAX);
    assert_int_equal(wait_at("owner@x", "10.2.0.0", t + 2), 0);
}

static void test_success_forgets_its_pair(void **state)
{
    (void)state;
    int64_t t = 4000000;
    for (int i = 0; i < THROTTLE_PAIR_MAX - 1; i++)
        fail_at("d@x", "10.3.0.1", t);
    fail_at("d@x", "10.3.0.2", t);
    char err[256] = "";
    struct login_failure_write w = {"d@x", "10.3.0.1", t, t - WINDOW, 0};
    assert_int_equal(login_failures_clear_pair(conn, &w, err, sizeof(err)), 0);
    struct login_failures_seen s;
    assert_int_equal(login_failures_seen(conn, "d@x", "10.3.0.1", t - WINDOW, &s), 0);
    assert_int_equal(s.pair, 0);
    assert_int_equal(s.account, 1); /* the other address's failure stays */
}

static void test_account_key(void **state)
{
    (void)state;
    char out[LOGIN_ACCOUNT_MAX_LEN + 1], longer[400];
    throttle_account_key("Owner@Example.ORG", out);
    assert_string_equal(out, "owner@example.org");
    memset(longer, 'A', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    throttle_account_key(longer, out);
    assert_int_equal(strlen(out), LOGIN_ACCOUNT_MAX_LEN);
    assert_int_equal(out[0], 'a');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pair_rule_and_window),
        cmocka_unit_test(test_address_rule),
        cmocka_unit_test(test_many_addresses_never_lock_out_a_clean_one),
        cmocka_unit_test(test_success_forgets_its_pair),
        cmocka_unit_test(test_account_key),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
