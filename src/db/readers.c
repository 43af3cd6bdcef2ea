/*
 * readers.c - the read-only connection pool; see readers.h.
 *
 * A mutex-protected stack of idle connections and a condition variable for waiters.
 * Statements prepared through db_prepare() (db/driver.h) stay prepared on their connection
 * between requests; release only resets them.
 */
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "db/readers.h"
#include "db/pg.h"
#include "db/sqlite.h"
#include "core/dburl.h"

int readers_open(struct readers *rs, const char *path, size_t n, const struct db_options *o)
{
    memset(rs, 0, sizeof(*rs));
    pthread_mutex_init(&rs->mu, NULL);
    pthread_cond_init(&rs->cv, NULL);
    rs->all = xcalloc(n, sizeof(*rs->all));
    rs->idle = xcalloc(n, sizeof(*rs->idle));
    for (size_t i = 0; i < n; i++) {
        int rc = dburl_is_postgres(path) ? pg_conn_open(path, DB_READONLY, o, &rs->all[i])
                                         : sqlite_conn_open(path, DB_READONLY, o, &rs->all[i]);
        if (rc < 0) {
            rs->n = i;
            readers_close(rs);
            return -1;
        }
        rs->idle[i] = rs->all[i];
    }
    rs->n = rs->nidle = n;
    return 0;
}

void readers_close(struct readers *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        db_conn_close(rs->all[i]);
    free(rs->all);
    free(rs->idle);
    pthread_cond_destroy(&rs->cv);
    pthread_mutex_destroy(&rs->mu);
    memset(rs, 0, sizeof(*rs));
}

struct db_conn *readers_acquire(struct readers *rs)
{
    pthread_mutex_lock(&rs->mu);
    rs->acquires++;
    if (rs->nidle == 0) {
        int64_t t0 = clock_mono_us();
        rs->waits++;
        while (rs->nidle == 0)
            pthread_cond_wait(&rs->cv, &rs->mu);
        rs->wait_us += (uint64_t)(clock_mono_us() - t0);
    }
    struct db_conn *c = rs->idle[--rs->nidle];
    pthread_mutex_unlock(&rs->mu);
    return c;
}

static void tidy_sqlite(struct db_conn *c)
{
    sqlite3 *db = sqlite_conn_handle(c);
    for (sqlite3_stmt *st = sqlite3_next_stmt(db, NULL); st; st = sqlite3_next_stmt(db, st))
        sqlite3_reset(st);
    if (!sqlite3_get_autocommit(db)) {
        log_warn("readers: a handler left a transaction open; rolled back");
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
}

/* PostgreSQL: the same, and a connection the server dropped is opened again here, so
   one lost session costs the request that met it, not every later one. */
static void tidy_pg(struct db_conn *c)
{
    int rc = pg_conn_tidy(c);
    if (rc == 2)
        log_warn("readers: a handler left a transaction open; rolled back");
    else if (rc == 1)
        log_warn("readers: the connection to PostgreSQL was lost; reconnected");
    else if (rc < 0)
        log_err("readers: %s", db_errmsg(c));
}

void readers_release(struct readers *rs, struct db_conn *c)
{
    if (db_engine(c) == DB_ENGINE_POSTGRES)
        tidy_pg(c);
    else
        tidy_sqlite(c);
    pthread_mutex_lock(&rs->mu);
    rs->idle[rs->nidle++] = c;
    pthread_cond_signal(&rs->cv);
    pthread_mutex_unlock(&rs->mu);
}

void readers_stats(struct readers *rs, uint64_t *acquires, uint64_t *waits, uint64_t *wait_us)
{
    pthread_mutex_lock(&rs->mu);
    *acquires = rs->acquires;
    *waits = rs->waits;
    *wait_us = rs->wait_us;
    pthread_mutex_unlock(&rs->mu);
}
