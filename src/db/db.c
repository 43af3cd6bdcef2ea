/*
 * db.c - connection set-up with verified pragmas; see db.h.
 *
 * The WAL file is never opened with ordinary file calls (closing any descriptor on it
 * drops the process's POSIX locks): sizes are read with stat(2) only.
 */
#include "db/db.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"

int db_exec(sqlite3 *db, const char *what, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        log_err("%s: %s", what, msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

int db_query_int(sqlite3 *db, const char *sql, long long *out)
{
    sqlite3_stmt *st;
    int rc = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

int db_query_text(sqlite3 *db, const char *sql, char *out, size_t outlen)
{
    sqlite3_stmt *st;
    int rc = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        snprintf(out, outlen, "%s", t ? (const char *)t : "");
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

int db_make_dir(const char *path)
{
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    int rc = 0;
    if (!slash || slash == dir)
        goto out;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
            rc = log_err("db: cannot create directory %s: %s", dir, strerror(errno));
            goto out;
        }
        *p = '/';
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        rc = log_err("db: cannot create directory %s: %s", dir, strerror(errno));
out:
    free(dir);
    return rc;
}

long long db_file_size(const char *path, const char *suffix)
{
    char *p = xasprintf("%s%s", path, suffix);
    struct stat st;
    long long size = stat(p, &st) == 0 ? (long long)st.st_size : 0;
    free(p);
    return size;
}

struct expect {
    const char *pragma;
    long long want; /* for integer pragmas */
};

int db_verify(sqlite3 *db, enum db_mode mode, const struct db_options *o, char *err, size_t errlen)
{
    char jm[32];
    if (mode != DB_INSPECT) {
        if (db_query_text(db, "PRAGMA journal_mode", jm, sizeof(jm)) < 0) {
            snprintf(err, errlen, "pragma journal_mode: cannot read: %s", sqlite3_errmsg(db));
            return -1;
        }
        if (strcmp(jm, "wal") != 0) {
            snprintf(err, errlen, "pragma journal_mode: wanted wal, got %s", jm);
            return -1;
        }
    }
    const struct expect expects[] = {
        {"busy_timeout", o->busy_timeout_ms}, {"foreign_keys", 1},
        {"synchronous", o->synchronous},      {"temp_store", 2},
        {"cache_size", DB_CACHE_SIZE},        {"journal_size_limit", DB_JOURNAL_SIZE_LIMIT},
    };
    for (size_t i = 0; i < sizeof(expects) / sizeof(expects[0]); i++) {
        char sql[64];
        long long got;
        snprintf(sql, sizeof(sql), "PRAGMA %s", expects[i].pragma);
        if (db_query_int(db, sql, &got) < 0) {
            snprintf(err, errlen, "pragma %s: cannot read: %s", expects[i].pragma,
                     sqlite3_errmsg(db));
            return -1;
        }
        if (got != expects[i].want) {
            snprintf(err, errlen, "pragma %s: wanted %lld, got %lld", expects[i].pragma,
                     expects[i].want, got);
            return -1;
        }
    }
    return 0;
}

static atomic_uint_fast64_t busy_retries;

/* SQLite's own busy_timeout handler, plus a count: sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25,
   50, 50, 100, 100... ms between retries until the budget (ctx, in ms) is spent. */
static int busy_handler(void *ctx, int count)
{
    static const int delays[] = {1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100};
    static const int totals[] = {0, 1, 3, 8, 18, 33, 53, 78, 103, 128, 178, 228};
    const int n = (int)(sizeof(delays) / sizeof(delays[0]));
    long budget = (long)(intptr_t)ctx;
    int delay, prior;
    atomic_fetch_add(&busy_retries, 1);
    if (count < n) {
        delay = delays[count];
        prior = totals[count];
    } else {
        delay = delays[n - 1];
        prior = totals[n - 1] + delay * (count - (n - 1));
    }
    if (prior + delay > budget) {
        delay = (int)(budget - prior);
        if (delay <= 0)
            return 0;
    }
    struct timespec ts = {delay / 1000, (long)(delay % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    return 1;
}

void db_busy_handler_install(sqlite3 *db, long timeout_ms)
{
    sqlite3_busy_handler(db, busy_handler, (void *)(intptr_t)timeout_ms);
}

sqlite3_stmt *db_prepare_cached(sqlite3 *db, const char *sql)
{
    for (sqlite3_stmt *st = sqlite3_next_stmt(db, NULL); st; st = sqlite3_next_stmt(db, st)) {
        const char *text = sqlite3_sql(st);
        if (text && strcmp(text, sql) == 0) {
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            return st;
        }
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        log_err("db: prepare: %s", sqlite3_errmsg(db));
        return NULL;
    }
    return st;
}

int db_exec_id(sqlite3 *db, const char *sql, sqlite3_int64 id, char *err, size_t errlen)
{
    sqlite3_stmt *st = db_prepare_cached(db, sql);
    if (!st) {
        snprintf(err, errlen, "prepare: %s", sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

void db_remove_files(const char *path)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        char *p = xasprintf("%s%s", path, suffixes[i]);
        unlink(p);
        free(p);
    }
}

int db_close(sqlite3 *db)
{
    sqlite3_stmt *st;
    if (!db)
        return SQLITE_OK;
    while ((st = sqlite3_next_stmt(db, NULL)) != NULL)
        sqlite3_finalize(st);
    return sqlite3_close(db);
}

uint64_t db_busy_retries(void)
{
    return atomic_load(&busy_retries);
}

static int apply_pragmas(sqlite3 *db, enum db_mode mode, const struct db_options *o)
{
    char sql[512];
    /* journal_mode answers with a row: read it through db_query_text so a refusal shows
       up in the verification below rather than as an exec error */
    if (mode == DB_READWRITE) {
        char jm[32];
        if (db_query_text(db, "PRAGMA journal_mode=WAL", jm, sizeof(jm)) < 0)
            return log_err("db: pragma journal_mode=WAL: %s", sqlite3_errmsg(db));
    }
    snprintf(sql, sizeof(sql),
             "PRAGMA busy_timeout=%ld; PRAGMA foreign_keys=ON; PRAGMA synchronous=%d;"
             "PRAGMA temp_store=MEMORY; PRAGMA cache_size=%d; PRAGMA journal_size_limit=%lld;",
             o->busy_timeout_ms, o->synchronous, DB_CACHE_SIZE, DB_JOURNAL_SIZE_LIMIT);
    return db_exec(db, "db: pragmas", sql);
}

int db_open(const char *path, enum db_mode mode, const struct db_options *o, sqlite3 **out)
{
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_NOMUTEX;
    char err[256];
    int rc = -1;

    *out = NULL;
    if (mode == DB_READWRITE) {
        if (db_make_dir(path) < 0)
            return -1;
        flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    } else {
        struct stat st;
        if (stat(path, &st) != 0)
            return log_err("db: %s: %s", path, strerror(errno));
        flags |= SQLITE_OPEN_READONLY;
    }
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        log_err("db: cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        goto out;
    }
    sqlite3_extended_result_codes(db, 1);
    /* SQLite opens a file it cannot write (mode 0444 for another user, a read-only mount,
       chattr +i) read-only without a word: every write would then fail while the site
       looks ready. Refuse here instead. */
    if (mode == DB_READWRITE && sqlite3_db_readonly(db, "main") == 1) {
        log_err("db: %s is read-only (its mode or owner, a read-only mount, or chattr +i): "
                "it must be writable by this user",
                path);
        goto out;
    }
    if (apply_pragmas(db, mode, o) < 0)
        goto out;
    if (db_verify(db, mode, o, err, sizeof(err)) < 0) {
        log_err("db: %s: %s", path, err);
        goto out;
    }
    db_busy_handler_install(db, o->busy_timeout_ms);
    rc = 0;
out:
    if (rc == 0)
        *out = db;
    else
        sqlite3_close_v2(db);
    return rc;
}

const char *db_library_version(void)
{
    return sqlite3_libversion();
}

int db_library_init(void)
{
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK ? 0 : -1;
}

void db_library_shutdown(void)
{
    sqlite3_shutdown();
}
