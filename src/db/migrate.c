/*
 * migrate.c - loading, checking and applying migrations; see migrate.h.
 *
 * A migration's SQL is run one statement at a time (prepare/step with the tail pointer),
 * so a failure names the line of the statement that failed, not just the file.
 */
#include "db/migrate.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/embed.h"
#include "core/log.h"
#include "core/mem.h"
#include "db/db.h"
#include "db/lint.h"
#include "db/rebuild.h"
#include "db/sqltok.h"

#define MIGRATION_MAX_BYTES (16 * 1024 * 1024)

static const char create_table_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " source TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL,"
    " checksum TEXT NOT NULL, applied_at TEXT NOT NULL, duration_ms INTEGER NOT NULL,"
    " PRIMARY KEY (source, version))";

static int parse_version(const char *name)
{
    size_t digits = strspn(name, "0123456789");
    size_t len = strlen(name);
    if (digits == 0 || digits > 9 || name[digits] != '_' || len < digits + 6 ||
        strcmp(name + len - 4, ".sql") != 0)
        return -1;
    return atoi(name);
}

static int by_version(const void *a, const void *b)
{
    const struct migration *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

static void checksum_hex(const char *text, size_t len, char out[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)text, len);
    sodium_bin2hex(out, 65, h, sizeof(h));
}

int migrations_from_files(struct migration_list *l, const char *source, const char *const *names,
                          const char *const *texts, size_t n, char *err, size_t errlen)
{
    l->source = source;
    l->items = xcalloc(n, sizeof(*l->items));
    l->n = 0;
    for (size_t i = 0; i < n; i++) {
        int v = parse_version(names[i]);
        if (v < 0) {
            snprintf(err, errlen, "migration '%s' (%s): name must be NNNN_name.sql", names[i],
                     source);
            goto fail;
        }
        struct migration *m = &l->items[l->n++];
        m->version = v;
        m->name = xstrdup(names[i]);
        m->sql = xstrdup(texts[i]);
        checksum_hex(texts[i], strlen(texts[i]), m->checksum);
    }
    qsort(l->items, l->n, sizeof(*l->items), by_version);
    for (size_t i = 1; i < l->n; i++) {
        if (l->items[i].version == l->items[i - 1].version) {
            snprintf(err, errlen, "migrations '%s' and '%s' (%s) have the same version %d",
                     l->items[i - 1].name, l->items[i].name, source, l->items[i].version);
            goto fail;
        }
    }
    return 0;
fail:
    migrations_release(l);
    return -1;
}

int migrations_embedded(struct migration_list *l, char *err, size_t errlen)
{
    size_t n = embedded_migrations_count;
    const char **names = xcalloc(n, sizeof(*names));
    const char **texts = xcalloc(n, sizeof(*texts));
    for (size_t i = 0; i < n; i++) {
        names[i] = embedded_migrations[i].name;
        texts[i] = (const char *)embedded_migrations[i].data;
    }
    int rc = migrations_from_files(l, "onefile", names, texts, n, err, errlen);
    free(names);
    free(texts);
    return rc;
}

static char *read_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read migration %s: %s", path, strerror(errno));
        return NULL;
    }
    struct buf b;
    buf_init(&b, MIGRATION_MAX_BYTES);
    char chunk[8192];
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (buf_add(&b, chunk, got) < 0) {
            snprintf(err, errlen, "migration %s is larger than %d bytes", path,
                     MIGRATION_MAX_BYTES);
            break;
        }
    }
    int bad = ferror(f) || b.toobig;
    if (ferror(f))
        snprintf(err, errlen, "cannot read migration %s: %s", path, strerror(errno));
    fclose(f);
    if (bad) {
        buf_release(&b);
        return NULL;
    }
    if (memchr(buf_str(&b), '\0', b.len)) {
        snprintf(err, errlen, "migration %s contains a NUL byte", path);
        buf_release(&b);
        return NULL;
    }
    return buf_detach(&b, NULL);
}

int migrations_from_dir(struct migration_list *l, const char *dir, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "migrations directory %s: %s", dir, strerror(errno));
        return -1;
    }
    size_t n = 0, cap = 16;
    char **names = xcalloc(cap, sizeof(*names));
    char **texts = xcalloc(cap, sizeof(*texts));
    int rc = -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len < 5 || strcmp(e->d_name + len - 4, ".sql") != 0)
            continue;
        if (n == cap) {
            cap *= 2;
            names = xrealloc(names, cap * sizeof(*names));
            texts = xrealloc(texts, cap * sizeof(*texts));
        }
        char *path = xasprintf("%s/%s", dir, e->d_name);
        texts[n] = read_file(path, err, errlen);
        free(path);
        if (!texts[n])
            goto out;
        names[n++] = xstrdup(e->d_name);
    }
    rc = migrations_from_files(l, "site", (const char *const *)names, (const char *const *)texts, n,
                               err, errlen);
out:
    closedir(d);
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
        free(texts[i]);
    }
    free(names);
    free(texts);
    return rc;
}

void migrations_release(struct migration_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].name);
        free(l->items[i].sql);
    }
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

int migrate_plan_load(struct migration_plan *p, const char *site_dir, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    if (migrations_embedded(&p->lists[0], err, errlen) < 0)
        return -1;
    p->nlists = 1;
    if (site_dir) {
        if (migrations_from_dir(&p->lists[1], site_dir, err, errlen) < 0) {
            migrate_plan_release(p);
            return -1;
        }
        p->nlists = 2;
    }
    return 0;
}

void migrate_plan_release(struct migration_plan *p)
{
    for (size_t i = 0; i < p->nlists; i++)
        migrations_release(&p->lists[i]);
    p->nlists = 0;
}

int migrate_has_table(sqlite3 *db)
{
    long long n;
    if (db_query_int(db,
                     "SELECT count(*) FROM sqlite_schema WHERE type='table' AND "
                     "name='schema_migrations'",
                     &n) < 0)
        return log_err("migrate: cannot read the schema: %s", sqlite3_errmsg(db));
    return n > 0;
}

static const struct migration *find(const struct migration_list *l, int version)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->items[i].version == version)
            return &l->items[i];
    return NULL;
}

/* Compares the recorded migrations of every source in the plan with the files.
   Fills `applied` (may be NULL) and `problems` (one string each). 0 or -1. */
static int compare_recorded(sqlite3 *db, const struct migration_plan *p, json_t *applied,
                            json_t *problems, long long *version)
{
    *version = 0;
    int has = migrate_has_table(db);
    if (has <= 0)
        return has;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT source, version, name, checksum, applied_at, duration_ms "
                           "FROM schema_migrations ORDER BY source = 'site', version",
                           -1, &st, NULL) != SQLITE_OK)
        return log_err("migrate: cannot read schema_migrations: %s", sqlite3_errmsg(db));
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *source = (const char *)sqlite3_column_text(st, 0);
        int v = sqlite3_column_int(st, 1);
        const char *name = (const char *)sqlite3_column_text(st, 2);
        const char *sum = (const char *)sqlite3_column_text(st, 3);
        if (!source || !name || !sum)
            continue;
        if (strcmp(source, "onefile") == 0 && v > *version)
            *version = v;
        if (applied)
            json_array_append_new(
                applied, json_pack("{s:s, s:i, s:s, s:s, s:s?, s:I}", "source", source, "version",
                                   v, "name", name, "checksum", sum, "applied_at",
                                   (const char *)sqlite3_column_text(st, 4), "duration_ms",
                                   (json_int_t)sqlite3_column_int64(st, 5)));
        const struct migration_list *l = NULL;
        for (size_t i = 0; i < p->nlists; i++)
            if (strcmp(p->lists[i].source, source) == 0)
                l = &p->lists[i];
        const struct migration *m = l ? find(l, v) : NULL;
        char msg[512];
        if (!m && strcmp(source, "onefile") == 0)
            snprintf(msg, sizeof(msg),
                     "database has onefile migration %s, unknown to this binary: the database "
                     "is newer than onefile %s",
                     name, ONEFILE_VERSION);
        else if (!m && l)
            snprintf(msg, sizeof(msg),
                     "migration %s (%s) was applied but its file is gone (recorded sha256 %s)",
                     name, source, sum);
        else if (!m)
            continue; /* a source this run does not load (no migrations dir given) */
        else if (strcmp(m->checksum, sum) != 0)
            snprintf(msg, sizeof(msg),
                     "migration %s (%s) changed after it was applied: recorded sha256 %s, file "
                     "sha256 %s",
                     name, source, sum, m->checksum);
        else if (strcmp(m->name, name) != 0)
            snprintf(msg, sizeof(msg), "migration version %d (%s) was applied as %s, file is %s", v,
                     source, name, m->name);
        else
            continue;
        json_array_append_new(problems, json_string(msg));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return log_err("migrate: cannot read schema_migrations: %s", sqlite3_errmsg(db));
    return 0;
}

int migrate_is_applied(sqlite3 *db, const char *source, int version)
{
    sqlite3_stmt *st;
    int found = 0;
    if (migrate_has_table(db) <= 0)
        return 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM schema_migrations WHERE source=?1 AND version=?2", -1,
                           &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, version);
    found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

int migrate_status(sqlite3 *db, const struct migration_plan *p, json_t **out)
{
    json_t *applied = json_array(), *pending = json_array(), *problems = json_array();
    long long version;
    *out = NULL;
    if (compare_recorded(db, p, applied, problems, &version) < 0) {
        json_decref(applied);
        json_decref(pending);
        json_decref(problems);
        return -1;
    }
    for (size_t i = 0; i < p->nlists; i++) {
        const struct migration_list *l = &p->lists[i];
        for (size_t j = 0; j < l->n; j++)
            if (migrate_is_applied(db, l->source, l->items[j].version) == 0)
                json_array_append_new(pending,
                                      json_pack("{s:s, s:i, s:s}", "source", l->source, "version",
                                                l->items[j].version, "name", l->items[j].name));
    }
    *out = json_pack("{s:I, s:o, s:o, s:o}", "version", (json_int_t)version, "applied", applied,
                     "pending", pending, "problems", problems);
    return 0;
}

static int line_of(const char *text, const char *at)
{
    int line = 1;
    for (const char *p = text; p < at; p++)
        if (*p == '\n')
            line++;
    return line;
}

/* Skips whitespace and SQL comments: where a statement's own text starts. */
static const char *skip_space(const char *p)
{
    for (;;) {
        p += strspn(p, " \t\r\n");
        if (p[0] == '-' && p[1] == '-') {
            p += strcspn(p, "\n");
        } else if (p[0] == '/' && p[1] == '*') {
            const char *end = strstr(p + 2, "*/");
            p = end ? end + 2 : p + strlen(p);
        } else {
            return p;
        }
    }
}

/* Whether a statement ends or starts a transaction: the runner owns the transaction, and a
   COMMIT inside a migration would make half of it permanent. */
static int is_transaction_control(const char *text)
{
    static const char *const words[] = {"BEGIN", "COMMIT", "END", "ROLLBACK"};
    const char *sql = skip_space(text);
    size_t n = strspn(sql, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (n == strlen(words[i]) && strncasecmp(sql, words[i], n) == 0)
            return 1;
    return 0;
}

#define REBUILD_DIRECTIVE "-- onefile:rebuild"

int migrate_has_rebuild(const char *sql)
{
    return strstr(sql, REBUILD_DIRECTIVE) != NULL;
}

/* The table named by a rebuild directive in the comments between from and to, or 0. */
static int rebuild_directive(const char *from, const char *to, char *table, size_t tablelen)
{
    const char *hit = NULL;
    for (const char *p = from; p && p < to; p++) {
        p = strstr(p, REBUILD_DIRECTIVE);
        if (!p || p >= to)
            break;
        hit = p;
    }
    if (!hit)
        return 0;
    const char *name = hit + strlen(REBUILD_DIRECTIVE);
    name += strspn(name, " \t");
    size_t n = strcspn(name, " \t\r\n;");
    if (n == 0 || n >= tablelen)
        return 0;
    memcpy(table, name, n);
    table[n] = '\0';
    if ((table[0] == '"' || table[0] == '`') && n >= 2 && table[n - 1] == table[0]) {
        memmove(table, table + 1, n - 2);
        table[n - 2] = '\0';
    }
    return 1;
}

/* The end of the statement that starts at p: just past its ';' at depth 0, or the end. */
static const char *statement_end(const char *p)
{
    struct sqlscan s;
    struct sqltok t;
    sqlscan_init(&s, p, strlen(p));
    while (sqlscan_next(&s, &t) != SQLTOK_END)
        if (t.kind == SQLTOK_PUNCT && t.text[0] == ';' && t.depth == 0)
            return t.start + 1;
    return p + strlen(p);
}

static int rebuild_step(sqlite3 *db, const char *source, const struct migration *m,
                        struct lint *lint, const char *table, const char *start, const char *end,
                        char *err, size_t errlen)
{
    char msg[512];
    int line = line_of(m->sql, start);
    char *create = xstrndup(start, (size_t)(end - start));
    json_t *dropped = json_array();
    int rc = rebuild_table(db, table, create, dropped, msg, sizeof(msg));
    if (rc < 0)
        snprintf(err, errlen, "%s (%s) line %d: %s", m->name, source, line, msg);
    else if (lint)
        lint_rebuild(lint, line, table, dropped);
    json_decref(dropped);
    free(create);
    return rc;
}

int migrate_run(sqlite3 *db, const char *source, const struct migration *m, struct lint *lint,
                int *rebuilt, char *err, size_t errlen)
{
    const char *sql = m->sql;
    char table[128];
    *rebuilt = 0;
    while (*sql) {
        sqlite3_stmt *st = NULL;
        const char *tail;
        const char *start = skip_space(sql);
        if (!*start)
            break;
        if (rebuild_directive(sql, start, table, sizeof(table))) {
            const char *end = statement_end(start);
            if (rebuild_step(db, source, m, lint, table, start, end, err, errlen) < 0)
                return -1;
            *rebuilt = 1;
            sql = end;
            continue;
        }
        if (sqlite3_prepare_v2(db, start, -1, &st, &tail) != SQLITE_OK) {
            snprintf(err, errlen, "%s (%s) line %d: %s", m->name, source, line_of(m->sql, start),
                     sqlite3_errmsg(db));
            return -1;
        }
        if (st && is_transaction_control(sqlite3_sql(st))) {
            sqlite3_finalize(st);
            snprintf(err, errlen,
                     "%s (%s) line %d: a migration must not control the transaction "
                     "(BEGIN/COMMIT/END/ROLLBACK): each migration already runs in its own",
                     m->name, source, line_of(m->sql, start));
            return -1;
        }
        if (st) {
            int rc, line = line_of(m->sql, start);
            if (lint)
                lint_statement(lint, db, line, sqlite3_sql(st));
            while ((rc = sqlite3_step(st)) == SQLITE_ROW)
                ;
            if (rc != SQLITE_DONE) {
                snprintf(err, errlen, "%s (%s) line %d: %s", m->name, source, line,
                         sqlite3_errmsg(db));
                sqlite3_finalize(st);
                return -1;
            }
            if (lint)
                lint_after(lint, db, line, sqlite3_sql(st));
            sqlite3_finalize(st);
        }
        sql = tail;
    }
    return 0;
}

static int record(sqlite3 *db, const char *source, const struct migration *m, int64_t ms)
{
    sqlite3_stmt *st;
    char ts[32];
    clock_iso8601(time(NULL), ts, sizeof(ts));
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO schema_migrations (source, version, name, checksum, "
                           "applied_at, duration_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                           -1, &st, NULL) != SQLITE_OK)
        return log_err("migrate: record %s: %s", m->name, sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, m->version);
    sqlite3_bind_text(st, 3, m->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, m->checksum, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, ts, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 6, ms);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return log_err("migrate: record %s: %s", m->name, sqlite3_errmsg(db));
    return 0;
}

/* Violations of foreign keys anywhere, as one line, or "" when there are none. */
static int foreign_key_problem(sqlite3 *db, char *out, size_t outlen)
{
    sqlite3_stmt *st;
    out[0] = '\0';
    if (sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(out, outlen,
                 "foreign key violation: row %lld of %s references a missing row of %s",
                 (long long)sqlite3_column_int64(st, 1), sqlite3_column_text(st, 0),
                 sqlite3_column_text(st, 2));
    sqlite3_finalize(st);
    return 0;
}

/* Runs one migration inside the batch's transaction, in its own savepoint, and records
   it. Appends {source, version, name, duration_ms, rows_changed, rebuild} to done. */
static int apply_one(sqlite3 *db, const char *source, const struct migration *m, json_t *done,
                     int *rebuilt)
{
    char err[1024];
    int64_t t0 = clock_mono_us();
    sqlite3_int64 changes0 = sqlite3_total_changes64(db);
    int this_rebuilt = 0;
    if (db_exec(db, "migrate: savepoint", "SAVEPOINT onefile_migration") < 0)
        return -1;
    if (migrate_run(db, source, m, NULL, &this_rebuilt, err, sizeof(err)) < 0) {
        log_err("migrate: %s", err);
        return -1; /* the caller rolls the whole transaction back */
    }
    sqlite3_int64 changes = sqlite3_total_changes64(db) - changes0;
    json_int_t ms = (json_int_t)((clock_mono_us() - t0) / 1000);
    if (record(db, source, m, ms) < 0 ||
        db_exec(db, "migrate: release", "RELEASE onefile_migration") < 0)
        return -1;
    *rebuilt |= this_rebuilt;
    json_array_append_new(done,
                          json_pack("{s:s,s:i,s:s,s:I,s:I,s:b}", "source", source, "version",
                                    m->version, "name", m->name, "duration_ms", ms, "rows_changed",
                                    (json_int_t)changes, "rebuild", this_rebuilt));
    return 0;
}

/* Whether any pending migration of the plan carries a rebuild directive. */
static int pending_rebuild(sqlite3 *db, const struct migration_plan *p)
{
    for (size_t i = 0; i < p->nlists; i++)
        for (size_t j = 0; j < p->lists[i].n; j++)
            if (migrate_has_rebuild(p->lists[i].items[j].sql) &&
                migrate_is_applied(db, p->lists[i].source, p->lists[i].items[j].version) == 0)
                return 1;
    return 0;
}

int migrate_apply(sqlite3 *db, const struct migration_plan *p, int *applied)
{
    return migrate_apply_report(db, p, applied, NULL);
}

int migrate_apply_report(sqlite3 *db, const struct migration_plan *p, int *applied, json_t *report)
{
    json_t *problems = json_array(), *findings = NULL, *batch = json_array();
    long long version;
    int rc = -1, fk_off = 0, rebuilt = 0;
    *applied = 0;
    if (compare_recorded(db, p, NULL, problems, &version) < 0)
        goto out;
    if (json_array_size(problems) > 0) {
        log_err("migrate: refusing to migrate: %s", json_string_value(json_array_get(problems, 0)));
        goto out;
    }
    int blocking = migrate_lint(db, p, &findings);
    if (blocking < 0)
        goto out;
    size_t k;
    json_t *f;
    json_array_foreach(findings, k, f)
    {
        int allowed = json_is_true(json_object_get(f, "allowed"));
        const char *msg = json_string_value(json_object_get(f, "message"));
        if (allowed)
            log_warn("migrate: lint: %s (allowed by its onefile:destructive marker)", msg);
        else
            log_err("migrate: lint: %s", msg);
    }
    if (blocking > 0) {
        log_err("migrate: refusing to migrate: %d lint finding%s (see `onefile migrate --lint`)",
                blocking, blocking == 1 ? "" : "s");
        goto out;
    }
    /* every pending migration in one transaction, each in its own savepoint: all of them
       or none. A rebuild needs foreign keys off, which only takes outside a transaction;
       they are then checked whole before COMMIT. */
    fk_off = pending_rebuild(db, p);
    if (fk_off && db_exec(db, "migrate: foreign keys off", "PRAGMA foreign_keys=OFF") < 0)
        goto out;
    if (db_exec(db, "migrate: begin", "BEGIN IMMEDIATE") < 0)
        goto out;
    if (db_exec(db, "migrate: create schema_migrations", create_table_sql) < 0)
        goto out;
    for (size_t i = 0; i < p->nlists; i++) {
        const struct migration_list *l = &p->lists[i];
        for (size_t j = 0; j < l->n; j++) {
            int done = migrate_is_applied(db, l->source, l->items[j].version);
            if (done < 0) {
                log_err("migrate: cannot read schema_migrations: %s", sqlite3_errmsg(db));
                goto out;
            }
            if (done)
                continue;
            if (apply_one(db, l->source, &l->items[j], batch, &rebuilt) < 0)
                goto out;
        }
    }
    if (rebuilt) {
        char fk[512];
        if (foreign_key_problem(db, fk, sizeof(fk)) < 0) {
            log_err("migrate: foreign_key_check: %s", sqlite3_errmsg(db));
            goto out;
        }
        if (fk[0]) {
            log_err("migrate: after the rebuild, %s; nothing applied", fk);
            goto out;
        }
    }
    if (db_exec(db, "migrate: commit", "COMMIT") < 0)
        goto out;
    json_array_foreach(batch, k, f)
    {
        log_event(LOG_INFO, "migration applied", json_deep_copy(f));
        if (report)
            json_array_append(report, f);
    }
    *applied = (int)json_array_size(batch);
    rc = 0;
out:
    if (rc < 0 && !sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    if (fk_off)
        db_exec(db, "migrate: foreign keys on", "PRAGMA foreign_keys=ON");
    json_decref(batch);
    json_decref(findings);
    json_decref(problems);
    return rc;
}
