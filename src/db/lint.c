/*
 * lint.c - the destructive-change lint; see lint.h for what it finds and how.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/log.h"
#include "db/lint.h"
#include "db/rebuild.h"
#include "db/sqltok.h"

#define MARKER "-- onefile:destructive"

static const char advice[] =
    "prefer the multi-step pattern: add the replacement, backfill it, stop writing the old "
    "one, remove it in a later release; if this is intended, add the line "
    "`-- onefile:destructive <reason>` to the file";

/* The statement as one line of at most ~160 characters, for messages. */
static json_t *statement_text(const char *sql)
{
    struct buf b = BUF_INIT;
    int space = 0;
    for (const char *p = sql; *p && b.len < 160; p++) {
        if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
            space = b.len > 0;
            continue;
        }
        if (space)
            buf_addc(&b, ' ');
        space = 0;
        buf_addc(&b, *p);
    }
    if (b.len >= 160)
        buf_adds(&b, "...");
    json_t *s = json_string(buf_str(&b));
    buf_release(&b);
    return s ? s : json_string("(statement not valid UTF-8)");
}

static void add(struct lint *l, int line, const char *kind, int destructive, const char *sql,
                const char *what)
{
    int allowed = destructive && l->allowed;
    struct buf msg = BUF_INIT;
    buf_addf(&msg, "%s (%s) line %d: %s", l->m->name, l->source, line, what);
    if (destructive && !allowed)
        buf_addf(&msg, "; %s", advice);
    json_array_append_new(l->findings,
                          json_pack("{s:s,s:s,s:i,s:s,s:o,s:s,s:b}", "file", l->m->name, "source",
                                    l->source, "line", line, "kind", kind, "statement",
                                    sql ? statement_text(sql) : json_string(""), "message",
                                    buf_str(&msg), "allowed", allowed));
    if (!allowed)
        l->blocking++;
    buf_release(&msg);
}

static int index_is_unique(sqlite3 *db, const char *index)
{
    sqlite3_stmt *st;
    int unique = 0;
    if (sqlite3_prepare_v2(
            db,
            "SELECT il.\"unique\" FROM sqlite_schema s, pragma_index_list(s.tbl_name) il "
            "WHERE s.type = 'index' AND s.name = ?1 COLLATE NOCASE AND il.name = s.name",
            -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(st, 1, index, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        unique = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return unique;
}

static int table_exists(sqlite3 *db, const char *table)
{
    sqlite3_stmt *st;
    int found = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND "
                           "name = ?1 COLLATE NOCASE",
                           -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

/* Skips "IF EXISTS" and a "main." prefix; leaves the object's name in *t. */
static void object_name(struct sqlscan *s, struct sqltok *t)
{
    sqlscan_next(s, t);
    if (sqltok_is(t, "IF")) { /* IF EXISTS, or IF NOT EXISTS */
        sqlscan_next(s, t);
        if (sqltok_is(t, "NOT"))
            sqlscan_next(s, t);
        sqlscan_next(s, t);
    }
    struct sqlscan peek = *s;
    struct sqltok dot;
    if (sqlscan_next(&peek, &dot) == SQLTOK_PUNCT && dot.text[0] == '.') {
        *s = peek;
        sqlscan_next(s, t);
    }
}

/* Whether the rest of the statement has a WHERE at depth 0. */
static int has_where(struct sqlscan *s)
{
    struct sqltok t;
    while (sqlscan_next(s, &t) != SQLTOK_END)
        if (t.depth == 0 && sqltok_is(&t, "WHERE"))
            return 1;
    return 0;
}

void lint_statement(struct lint *l, sqlite3 *db, int line, const char *sql)
{
    struct sqlscan s;
    struct sqltok t;
    char what[512];
    sqlscan_init(&s, sql, strlen(sql));
    sqlscan_next(&s, &t);
    if (sqltok_is(&t, "WITH")) { /* a CTE in front: find the statement's own verb */
        while (sqlscan_next(&s, &t) != SQLTOK_END)
            if (t.depth == 0 &&
                (sqltok_is(&t, "DELETE") || sqltok_is(&t, "UPDATE") || sqltok_is(&t, "INSERT") ||
                 sqltok_is(&t, "SELECT") || sqltok_is(&t, "REPLACE")))
                break;
    }
    if (sqltok_is(&t, "DROP")) {
        sqlscan_next(&s, &t);
        if (sqltok_is(&t, "TABLE")) {
            object_name(&s, &t);
            if (table_exists(db, t.text)) {
                snprintf(what, sizeof(what), "DROP TABLE %s drops the table and all its rows",
                         t.text);
                add(l, line, "drop-table", 1, sql, what);
            }
        } else if (sqltok_is(&t, "INDEX")) {
            object_name(&s, &t);
            if (index_is_unique(db, t.text)) {
                snprintf(what, sizeof(what),
                         "DROP INDEX %s drops a UNIQUE index: duplicates become possible", t.text);
                add(l, line, "drop-unique-index", 1, sql, what);
            }
        }
    } else if (sqltok_is(&t, "ALTER")) {
        sqlscan_next(&s, &t); /* TABLE */
        object_name(&s, &t);
        char table[128];
        snprintf(table, sizeof(table), "%s", t.text);
        sqlscan_next(&s, &t);
        if (sqltok_is(&t, "RENAME")) {
            sqlscan_next(&s, &t);
            if (sqltok_is(&t, "TO")) {
                sqlscan_next(&s, &t);
                snprintf(what, sizeof(what),
                         "ALTER TABLE %s RENAME TO %s: code still using the old name breaks", table,
                         t.text);
                add(l, line, "rename-table", 1, sql, what);
            } else {
                if (sqltok_is(&t, "COLUMN"))
                    sqlscan_next(&s, &t);
                char col[128];
                snprintf(col, sizeof(col), "%s", t.text);
                sqlscan_next(&s, &t); /* TO */
                sqlscan_next(&s, &t);
                snprintf(what, sizeof(what),
                         "ALTER TABLE %s RENAME COLUMN %s TO %s: code still using the old "
                         "name breaks",
                         table, col, t.text);
                add(l, line, "rename-column", 1, sql, what);
            }
        } else if (sqltok_is(&t, "DROP")) {
            sqlscan_next(&s, &t);
            if (sqltok_is(&t, "COLUMN"))
                sqlscan_next(&s, &t);
            snprintf(what, sizeof(what),
                     "ALTER TABLE %s DROP COLUMN %s loses the column and its data", table, t.text);
            add(l, line, "drop-column", 1, sql, what);
        }
    } else if (sqltok_is(&t, "DELETE")) {
        sqlscan_next(&s, &t); /* FROM */
        object_name(&s, &t);
        if (!has_where(&s)) {
            snprintf(what, sizeof(what), "DELETE FROM %s without WHERE deletes every row", t.text);
            add(l, line, "delete-without-where", 1, sql, what);
        }
    } else if (sqltok_is(&t, "UPDATE")) {
        object_name(&s, &t);
        if (sqltok_is(&t, "OR")) { /* UPDATE OR REPLACE t */
            sqlscan_next(&s, &t);
            object_name(&s, &t);
        }
        if (!has_where(&s)) {
            snprintf(what, sizeof(what), "UPDATE %s without WHERE rewrites every row", t.text);
            add(l, line, "update-without-where", 1, sql, what);
        }
    }
}

void lint_after(struct lint *l, sqlite3 *db, int line, const char *sql)
{
    struct sqlscan s;
    struct sqltok t;
    char err[256];
    sqlscan_init(&s, sql, strlen(sql));
    sqlscan_next(&s, &t);
    if (!sqltok_is(&t, "ALTER") && !sqltok_is(&t, "DROP"))
        return;
    json_t *problems = json_array();
    if (schema_verify(db, problems, err, sizeof(err)) > 0) {
        size_t i;
        json_t *p;
        json_array_foreach(problems, i, p)
        {
            const char *text = json_string_value(p);
            size_t k;
            json_t *b;
            int known = 0;
            json_array_foreach(l->baseline, k, b)
            {
                known |= strcmp(json_string_value(b), text) == 0;
            }
            if (known)
                continue;
            char what[512];
            snprintf(what, sizeof(what), "after this statement, %s", text);
            add(l, line, "dangling", 0, sql, what);
            json_array_append(l->baseline, p); /* reported once */
        }
    }
    json_decref(problems);
}

void lint_rebuild(struct lint *l, int line, const char *table, json_t *dropped)
{
    if (json_array_size(dropped) == 0)
        return;
    struct buf cols = BUF_INIT;
    size_t i;
    json_t *c;
    json_array_foreach(dropped, i, c)
    {
        buf_addf(&cols, "%s%s", i ? ", " : "", json_string_value(c));
    }
    char what[512];
    snprintf(what, sizeof(what), "the rebuild of %s drops column%s %s and their data", table,
             json_array_size(dropped) == 1 ? "" : "s", buf_str(&cols));
    add(l, line, "rebuild-drops-columns", 1, NULL, what);
    buf_release(&cols);
}

/* Whether the file carries the marker with a reason; -1 when the marker has no reason. */
static int marker(const char *sql)
{
    const char *p = strstr(sql, MARKER);
    if (!p)
        return 0;
    p += strlen(MARKER);
    p += strspn(p, " \t");
    return (*p && *p != '\n' && *p != '\r') ? 1 : -1;
}

/* The live schema, without rows, in a private in-memory database. */
static int shadow_open(sqlite3 *live, sqlite3 **out)
{
    sqlite3 *mem = NULL;
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_open_v2(":memory:", &mem, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        log_err("migrate: lint: cannot open an in-memory database");
        goto out;
    }
    sqlite3_exec(mem, "PRAGMA foreign_keys=OFF", NULL, NULL, NULL);
    if (live) {
        if (sqlite3_prepare_v2(live,
                               /* shadow tables of virtual tables (FTS5, R*Tree) are
                                  created by their CREATE VIRTUAL TABLE: not copied */
                               "SELECT s.sql FROM sqlite_schema s WHERE s.sql IS NOT NULL AND "
                               "s.name NOT LIKE 'sqlite_%' AND NOT EXISTS (SELECT 1 FROM "
                               "pragma_table_list t WHERE t.type = 'shadow' AND "
                               "t.name = s.tbl_name) ORDER BY CASE s.type WHEN 'table' THEN 0 "
                               "WHEN 'index' THEN 1 WHEN 'view' THEN 2 ELSE 3 END, s.rowid",
                               -1, &st, NULL) != SQLITE_OK) {
            log_err("migrate: lint: cannot read the schema: %s", sqlite3_errmsg(live));
            goto out;
        }
        while (sqlite3_step(st) == SQLITE_ROW) {
            char *msg = NULL;
            if (sqlite3_exec(mem, (const char *)sqlite3_column_text(st, 0), NULL, NULL, &msg) !=
                SQLITE_OK) {
                log_err("migrate: lint: cannot copy the schema: %s", msg ? msg : "error");
                sqlite3_free(msg);
                goto out;
            }
        }
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    if (rc == 0)
        *out = mem;
    else
        sqlite3_close(mem);
    return rc;
}

int migrate_lint(sqlite3 *db, const struct migration_plan *p, json_t **findings)
{
    sqlite3 *shadow = NULL;
    char err[1024];
    struct lint l = {.findings = json_array(), .baseline = json_array()};
    *findings = l.findings;
    if (shadow_open(db, &shadow) < 0) {
        json_decref(l.baseline);
        return -1;
    }
    schema_verify(shadow, l.baseline, err, sizeof(err));
    for (size_t i = 0; i < p->nlists; i++) {
        const struct migration_list *list = &p->lists[i];
        for (size_t j = 0; j < list->n; j++) {
            const struct migration *m = &list->items[j];
            if (db && migrate_is_applied(db, list->source, m->version) != 0)
                continue;
            l.m = m;
            l.source = list->source;
            int mk = marker(m->sql);
            l.allowed = mk == 1;
            if (mk < 0) {
                const char *at = strstr(m->sql, MARKER);
                int line = 1;
                for (const char *c = m->sql; c < at; c++)
                    line += *c == '\n';
                add(&l, line, "error", 0, NULL,
                    "the -- onefile:destructive marker needs a reason after it");
            }
            int rebuilt;
            if (migrate_run(shadow, list->source, m, &l, &rebuilt, err, sizeof(err)) < 0) {
                json_array_append_new(l.findings,
                                      json_pack("{s:s,s:s,s:i,s:s,s:s,s:s,s:b}", "file", m->name,
                                                "source", list->source, "line", 0, "kind", "error",
                                                "statement", "", "message", err, "allowed", 0));
                l.blocking++;
                goto done; /* later migrations may depend on this one */
            }
        }
    }
done:
    sqlite3_close(shadow);
    json_decref(l.baseline);
    return l.blocking;
}
