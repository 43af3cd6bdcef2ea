/*
 * check.c - read-only inspection of any SQLite file; see check.h.
 *
 * How it runs, in order:
 *
 *   stat(path)          missing / not a regular file: -1, nothing is ever created
 *   open read-only      through a URI built here (the path percent-encoded), so a path
 *                       that looks like "file:..." or holds '?' is still just a path
 *   first read          SELECT from sqlite_schema: NOTADB is "not a SQLite database" (-1);
 *                       CORRUPT is a problem and the check goes on; other failures are -1
 *                       with a sentence saying why (locked, hot journal, WAL unreadable)
 *   pragmas             journal_mode, synchronous, page_size, page_count, freelist_count
 *   quick_check         or integrity_check when full; every message is listed
 *   foreign_key_check   violations counted, the first CHECK_MAX_LISTED listed
 *   migrations          migrate_status() when the file has schema_migrations
 *
 * A read-only connection to a WAL file needs its -shm. When SQLite cannot create it (the
 * directory is not writable by this user) and the -wal is missing or empty, every commit is
 * in the main file: it is reopened with immutable=1, which reads the main file alone
 * without locks, and the report says so (a writer starting during the check would go
 * unseen). With -wal content and no -shm the file cannot be read, and the error names the
 * directory. Only in that corner is immutable used: everywhere else the check takes part
 * in SQLite's locking, so checking a live database is safe.
 *
 * The connection is opened with SQLITE_OPEN_READONLY and PRAGMA query_only, and is only
 * ever given read pragmas: no journal_mode=, no checkpoint. Per-connection settings
 * (foreign_keys, busy_timeout, synchronous) are not properties of the file, which the
 * report notes; foreign_key_check inspects the rows instead.
 */
#include "db/check.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "core/mem.h"
#include "db/db.h"

#define CHECK_BUSY_TIMEOUT_MS 5000
#define CHECK_MAX_PROBLEM_LINES 10 /* integrity messages turned into problem lines */

struct check {
    const char *path;
    sqlite3 *db;
    int immutable; /* reopened with immutable=1 (see the top of this file) */
    json_t *report, *notes, *problems;
};

/* A JSON string for text read from the file, which need not be UTF-8: bytes that make it
   invalid become '?', so nothing found is ever dropped. NULL becomes "". */
static json_t *text(const char *s)
{
    json_t *j = json_string(s ? s : "");
    if (j)
        return j;
    char *copy = xstrdup(s);
    for (char *p = copy; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    j = json_string(copy);
    free(copy);
    return j;
}

static void add_line(json_t *array, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void add_line(json_t *array, const char *fmt, va_list ap)
{
    struct buf b = BUF_INIT;
    buf_vaddf(&b, fmt, ap);
    json_array_append_new(array, text(buf_str(&b)));
    buf_release(&b);
}

static void problem(struct check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(struct check *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_line(c->problems, fmt, ap);
    va_end(ap);
}

static void note(struct check *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_line(c->notes, fmt, ap);
    va_end(ap);
}

static int exists(const char *path, const char *suffix)
{
    char *p = xasprintf("%s%s", path, suffix);
    struct stat st;
    int found = stat(p, &st) == 0;
    free(p);
    return found;
}

/* "file:" URI for path: unreserved characters kept, everything else percent-encoded. */
static char *path_uri(const char *path, int immutable)
{
    struct buf b = BUF_INIT;
    buf_adds(&b, path[0] == '/' ? "file://" : "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        int keep = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                   (*p >= '0' && *p <= '9') || *p == '/' || *p == '.' || *p == '_' || *p == '-' ||
                   *p == '~';
        if (keep)
            buf_addc(&b, (char)*p);
        else
            buf_addf(&b, "%%%02X", *p);
    }
    if (immutable)
        buf_adds(&b, "?immutable=1");
    return buf_detach(&b, NULL);
}

static int open_readonly(struct check *c, int immutable, char *err, size_t errlen)
{
    char *uri = path_uri(c->path, immutable);
    int rc = -1;
    if (sqlite3_open_v2(uri, &c->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI,
                        NULL) != SQLITE_OK) {
        int sys = c->db ? sqlite3_system_errno(c->db) : 0;
        snprintf(err, errlen, "cannot open %s: %s%s%s%s", c->path,
                 c->db ? sqlite3_errmsg(c->db) : "out of memory", sys ? " (" : "",
                 sys ? strerror(sys) : "", sys ? ")" : "");
        goto out;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, CHECK_BUSY_TIMEOUT_MS);
    /* an inspected file is untrusted: its schema may not call functions with side effects */
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    /* connection settings only, nothing reaches the file */
    if (sqlite3_exec(c->db, "PRAGMA query_only=ON; PRAGMA cell_size_check=ON", NULL, NULL, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "cannot set up a connection to %s: %s", c->path,
                 sqlite3_errmsg(c->db));
        goto out;
    }
    c->immutable = immutable;
    rc = 0;
out:
    free(uri);
    if (rc < 0) {
        sqlite3_close_v2(c->db);
        c->db = NULL;
    }
    return rc;
}

/* The first read of the file: the extended result code of reading sqlite_schema. */
static int first_read(sqlite3 *db)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_schema", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* Whether a first-read failure is SQLite unable to create the -shm of a WAL file. */
static int shm_unavailable(int rc)
{
    return (rc & 0xff) == SQLITE_CANTOPEN || rc == SQLITE_READONLY_DIRECTORY ||
           rc == SQLITE_READONLY_CANTINIT;
}

/* Writes into err why the first read failed (the file cannot be checked). */
static void explain_first_read(struct check *c, int rc, char *err, size_t errlen)
{
    if ((rc & 0xff) == SQLITE_NOTADB) {
        snprintf(err, errlen, "%s is not a SQLite database", c->path);
    } else if ((rc & 0xff) == SQLITE_BUSY) {
        snprintf(err, errlen, "%s is locked by another connection (waited %d ms): try again",
                 c->path, CHECK_BUSY_TIMEOUT_MS);
    } else if (rc == SQLITE_READONLY_ROLLBACK) {
        snprintf(err, errlen,
                 "%s has a hot journal (%s-journal) left by an interrupted write: a read-write "
                 "connection must roll it back before the file can be read",
                 c->path, c->path);
    } else if (shm_unavailable(rc)) {
        char *dir = xstrdup(c->path);
        char *slash = strrchr(dir, '/');
        if (slash)
            slash[slash == dir ? 1 : 0] = '\0';
        snprintf(err, errlen,
                 "cannot read %s: it is in WAL mode with %lld bytes in %s-wal and SQLite cannot "
                 "create %s-shm to read them (is %s writable by this user?): run the check as "
                 "the database's owner",
                 c->path, db_file_size(c->path, "-wal"), c->path, c->path, slash ? dir : ".");
        free(dir);
    } else {
        int sys = sqlite3_system_errno(c->db);
        snprintf(err, errlen, "cannot read %s: %s%s%s%s", c->path, sqlite3_errmsg(c->db),
                 sys ? " (" : "", sys ? strerror(sys) : "", sys ? ")" : "");
    }
}

/* Journal mode as the file's header records it (bytes 18 and 19 are 2 for WAL), read
   through the connection's own file handle (never a second descriptor on the file): for
   an immutable connection, which reports "delete" for a WAL file, and for a file whose
   schema cannot be read. */
static const char *header_journal_mode(sqlite3 *db)
{
    sqlite3_file *f = NULL;
    unsigned char h[100];
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK || !f ||
        !f->pMethods || f->pMethods->xRead(f, h, sizeof(h), 0) != SQLITE_OK)
        return "unknown";
    return h[18] == 2 && h[19] == 2 ? "wal" : "delete";
}

static void add_int_pragma(struct check *c, const char *name)
{
    char sql[64];
    long long v;
    snprintf(sql, sizeof(sql), "PRAGMA %s", name);
    if (db_query_int(c->db, sql, &v) == 0)
        json_object_set_new(c->report, name, json_integer(v));
    else
        json_object_set_new(c->report, name, json_null());
}

static void check_pragmas(struct check *c, long long file_bytes)
{
    static const char *const sync_names[] = {"off", "normal", "full", "extra"};
    char jm[32];
    long long sync;

    /* the header when the pragma cannot tell: immutable, or a schema that cannot be read */
    if (c->immutable || db_query_text(c->db, "PRAGMA journal_mode", jm, sizeof(jm)) < 0)
        snprintf(jm, sizeof(jm), "%s", header_journal_mode(c->db));
    json_object_set_new(c->report, "journal_mode", json_string(jm));
    if (db_query_int(c->db, "PRAGMA synchronous", &sync) == 0 && sync >= 0 && sync <= 3)
        json_object_set_new(c->report, "synchronous", json_string(sync_names[sync]));
    else
        json_object_set_new(c->report, "synchronous", json_null());
    add_int_pragma(c, "page_size");
    add_int_pragma(c, "page_count");
    add_int_pragma(c, "freelist_count");

    if (file_bytes == 0)
        problem(c, "%s is empty: it holds no database yet (`onefile migrate` creates one)",
                c->path);
    else if (strcmp(jm, "wal") != 0 && strcmp(jm, "unknown") != 0)
        problem(c,
                "journal_mode is %s, onefile needs wal: run `onefile migrate` or PRAGMA "
                "journal_mode=WAL",
                jm);
    note(c, "foreign_keys, busy_timeout and synchronous belong to each connection, not to the "
            "file (onefile sets them on each of its own): synchronous is this SQLite's default, "
            "foreign_key_check checks the rows");
}

/* One check row may hold several messages, one a line, after a "*** in database main ***"
   heading: each message becomes one entry, the heading is dropped. */
static void add_messages(json_t *msgs, const char *row)
{
    static const char heading[] = "*** in database main ***";
    const char *p = row ? row : "";
    do {
        size_t len = strcspn(p, "\n");
        if (len > 0 && !(len == sizeof(heading) - 1 && strncmp(p, heading, len) == 0)) {
            char *line = xstrndup(p, len);
            json_array_append_new(msgs, text(line));
            free(line);
        }
        p += len;
    } while (*p++ == '\n');
}

static void check_integrity(struct check *c, int full)
{
    const char *name = full ? "integrity_check" : "quick_check";
    json_t *msgs = json_array();
    sqlite3_stmt *st = NULL;
    char sql[64];
    int rc;

    snprintf(sql, sizeof(sql), "PRAGMA %s(%d)", name, CHECK_MAX_LISTED);
    rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            add_messages(msgs, (const char *)sqlite3_column_text(st, 0));
    }
    if (rc != SQLITE_DONE)
        json_array_append_new(msgs, json_pack("s+", "error: ", sqlite3_errmsg(c->db)));
    sqlite3_finalize(st);
    json_object_set_new(c->report, name, msgs);

    size_t n = json_array_size(msgs);
    if (n == 1 && strcmp(json_string_value(json_array_get(msgs, 0)), "ok") == 0)
        return;
    for (size_t i = 0; i < n && i < CHECK_MAX_PROBLEM_LINES; i++)
        problem(c, "%s: %s", name, json_string_value(json_array_get(msgs, i)));
    if (n > CHECK_MAX_PROBLEM_LINES)
        problem(c, "%s: %zu more messages (see %s in `onefile check --json`)", name,
                n - CHECK_MAX_PROBLEM_LINES, name);
}

static void check_foreign_keys(struct check *c)
{
    json_t *rows = json_array();
    sqlite3_stmt *st = NULL;
    long long count = 0;
    int rc = sqlite3_prepare_v2(c->db, "PRAGMA foreign_key_check", -1, &st, NULL);

    if (rc == SQLITE_OK) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (++count > CHECK_MAX_LISTED)
                continue;
            json_t *rowid = sqlite3_column_type(st, 1) == SQLITE_NULL
                                ? json_null()
                                : json_integer(sqlite3_column_int64(st, 1));
            json_array_append_new(rows, json_pack("{s:o, s:o, s:o}", "table",
                                                  text((const char *)sqlite3_column_text(st, 0)),
                                                  "rowid", rowid, "parent",
                                                  text((const char *)sqlite3_column_text(st, 2))));
        }
    }
    if (rc != SQLITE_DONE)
        problem(c, "foreign_key_check failed: %s", sqlite3_errmsg(c->db));
    sqlite3_finalize(st);
    if (count > 0) {
        json_t *first = json_array_get(rows, 0);
        json_t *rowid = json_object_get(first, "rowid");
        char where[48] = "";
        if (json_is_integer(rowid))
            snprintf(where, sizeof(where), " rowid %lld", (long long)json_integer_value(rowid));
        problem(c,
                "foreign keys: %lld row%s reference%s a missing parent row (first: %s%s "
                "references %s)",
                count, count == 1 ? "" : "s", count == 1 ? "s" : "",
                json_string_value(json_object_get(first, "table")), where,
                json_string_value(json_object_get(first, "parent")));
    }
    json_object_set_new(c->report, "foreign_key_check",
                        json_pack("{s:I, s:o}", "violations", (json_int_t)count, "rows", rows));
}

static void check_migrations(struct check *c, const struct migration_plan *plan)
{
    int has = migrate_has_table(c->db);
    json_t *st;

    if (has < 0) {
        problem(c, "migrations: cannot read the schema: %s", sqlite3_errmsg(c->db));
        return;
    }
    if (has == 0) {
        note(c, "no schema_migrations table: not a onefile database (or never migrated), "
                "migrations not compared");
        return;
    }
    if (!plan)
        return;
    if (migrate_status(c->db, plan, &st) < 0) {
        problem(c, "migrations: cannot read schema_migrations: %s", sqlite3_errmsg(c->db));
        return;
    }
    json_t *found = json_object_get(st, "problems");
    for (size_t i = 0; i < json_array_size(found); i++)
        problem(c, "migrations: %s", json_string_value(json_array_get(found, i)));
    json_t *pending = json_object_get(st, "pending");
    if (json_array_size(pending) > 0) {
        struct buf names = BUF_INIT;
        for (size_t i = 0; i < json_array_size(pending); i++) {
            json_t *m = json_array_get(pending, i);
            buf_addf(&names, "%s%s (%s)", i ? ", " : "",
                     json_string_value(json_object_get(m, "name")),
                     json_string_value(json_object_get(m, "source")));
        }
        problem(c, "migrations: %zu pending: %s; `onefile migrate` (or `serve`) applies them",
                json_array_size(pending), buf_str(&names));
        buf_release(&names);
    }
    json_object_set_new(c->report, "migrations", st);
}

int check_run(const char *path, int full, const struct migration_plan *plan, json_t **report,
              char *err, size_t errlen)
{
    struct check c = {path, NULL, 0, NULL, json_array(), json_array()};
    struct stat st;
    int rc = -1, had_wal, had_shm;

    *report = NULL;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            snprintf(err, errlen, "%s: no such file", path);
        else
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s is not a regular file", path);
        goto out;
    }
    had_wal = exists(path, "-wal");
    had_shm = exists(path, "-shm");
    if (open_readonly(&c, 0, err, errlen) < 0)
        goto out;
    int first = first_read(c.db);
    if (shm_unavailable(first) && db_file_size(path, "-wal") == 0) {
        sqlite3_close_v2(c.db);
        c.db = NULL;
        if (open_readonly(&c, 1, err, errlen) < 0)
            goto out;
        first = first_read(c.db);
        note(&c, "read as immutable: the file is in WAL mode, its -wal is missing or empty and "
                 "SQLite cannot create its -shm here, so the main file holds every commit (a "
                 "writer starting during the check would not be seen)");
    }
    if (first != SQLITE_OK && (first & 0xff) != SQLITE_CORRUPT) {
        explain_first_read(&c, first, err, errlen);
        goto out;
    }

    long long file_bytes = db_file_size(path, "");
    c.report = json_pack("{s:o, s:s, s:I, s:I}", "path", text(path), "sqlite_version",
                         sqlite3_libversion(), "file_bytes", (json_int_t)file_bytes, "wal_bytes",
                         (json_int_t)db_file_size(path, "-wal"));
    if (first != SQLITE_OK)
        problem(&c, "cannot read the schema: %s", sqlite3_errmsg(c.db));
    check_pragmas(&c, file_bytes);
    check_integrity(&c, full);
    if (first == SQLITE_OK) {
        check_foreign_keys(&c);
        check_migrations(&c, plan);
    }
    sqlite3_close_v2(c.db);
    c.db = NULL;
    if ((!had_wal && exists(path, "-wal")) || (!had_shm && exists(path, "-shm")))
        note(&c,
             "%s-wal and %s-shm were created empty, as by any reader of a WAL file; a "
             "read-only connection cannot remove them (the next writer reuses them)",
             path, path);
    json_object_set(c.report, "notes", c.notes);
    json_object_set(c.report, "problems", c.problems);
    json_object_set_new(c.report, "ok", json_boolean(json_array_size(c.problems) == 0));
    *report = c.report;
    c.report = NULL;
    rc = 0;
out:
    sqlite3_close_v2(c.db);
    json_decref(c.report);
    json_decref(c.notes);
    json_decref(c.problems);
    return rc;
}

void check_integrity_fk(sqlite3 *db, char *integrity, size_t len, long long *fk_rows)
{
    if (db_query_text(db, "PRAGMA integrity_check", integrity, len) < 0)
        snprintf(integrity, len, "cannot run: %s", sqlite3_errmsg(db));
    if (db_query_int(db, "SELECT count(*) FROM pragma_foreign_key_check", fk_rows) < 0)
        *fk_rows = -1;
}
