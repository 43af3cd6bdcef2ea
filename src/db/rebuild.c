/*
 * rebuild.c - the twelve-step table rebuild and schema verification; see rebuild.h.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/mem.h"
#include "db/rebuild.h"
#include "db/sqltok.h"

#define TMP_PREFIX "onefile_rebuild_"

/* Appends "name" with embedded quotes doubled. */
static void add_ident(struct buf *b, const char *name)
{
    buf_addc(b, '"');
    for (const char *p = name; *p; p++) {
        if (*p == '"')
            buf_addc(b, '"');
        buf_addc(b, *p);
    }
    buf_addc(b, '"');
}

static int exec_buf(sqlite3 *db, struct buf *b, char *err, size_t errlen, const char *what)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, buf_str(b), NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", what, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* Column names of a table (generated and hidden columns excluded), as a JSON array. */
static json_t *columns(sqlite3 *db, const char *table)
{
    sqlite3_stmt *st;
    json_t *out = json_array();
    if (sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_xinfo(?1) WHERE hidden = 0", -1, &st,
                           NULL) != SQLITE_OK) {
        json_decref(out);
        return NULL;
    }
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(out, json_string((const char *)sqlite3_column_text(st, 0)));
    sqlite3_finalize(st);
    return out;
}

static int has_column(json_t *cols, const char *name)
{
    size_t i;
    json_t *c;
    json_array_foreach(cols, i, c)
    {
        if (strcasecmp(json_string_value(c), name) == 0)
            return 1;
    }
    return 0;
}

/* Prepares sql (not run): 0 if it compiles, else the message in problems. */
static int compiles(sqlite3 *db, const char *sql, const char *what, json_t *problems)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_finalize(st);
        return 0;
    }
    json_array_append_new(problems,
                          json_sprintf("%s no longer compiles: %s", what, sqlite3_errmsg(db)));
    return 1;
}

int schema_verify(sqlite3 *db, json_t *problems, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int found = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT s.type, s.name, s.tbl_name, t.type FROM sqlite_schema s "
                           "LEFT JOIN sqlite_schema t ON t.name = s.tbl_name AND "
                           "t.type IN ('table', 'view') "
                           "WHERE s.type IN ('view', 'trigger') ORDER BY s.rowid",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot read the schema: %s", sqlite3_errmsg(db));
        return -1;
    }
    json_t *seen = json_object(); /* tables whose triggers were compiled already */
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *type = (const char *)sqlite3_column_text(st, 0);
        const char *name = (const char *)sqlite3_column_text(st, 1);
        const char *tbl = (const char *)sqlite3_column_text(st, 2);
        const char *tbl_type = (const char *)sqlite3_column_text(st, 3);
        struct buf sql = BUF_INIT, what = BUF_INIT;
        if (strcmp(type, "view") == 0) {
            buf_adds(&sql, "SELECT * FROM ");
            add_ident(&sql, name);
            buf_addf(&what, "view %s", name);
            found += compiles(db, buf_str(&sql), buf_str(&what), problems);
        } else if (tbl_type && !json_object_get(seen, tbl)) {
            /* compile the table's triggers through the statements that fire them */
            json_object_set_new(seen, tbl, json_true());
            buf_addf(&what, "trigger %s on %s", name, tbl);
            int is_view = strcmp(tbl_type, "view") == 0;
            json_t *cols = columns(db, tbl);
            buf_adds(&sql, "INSERT INTO ");
            add_ident(&sql, tbl);
            buf_adds(&sql, is_view ? " SELECT * FROM " : " DEFAULT VALUES");
            if (is_view)
                add_ident(&sql, tbl);
            int bad = compiles(db, buf_str(&sql), buf_str(&what), problems);
            if (!bad && cols && json_array_size(cols)) {
                size_t i;
                json_t *c;
                buf_reset(&sql);
                buf_adds(&sql, "UPDATE ");
                add_ident(&sql, tbl);
                buf_adds(&sql, " SET ");
                json_array_foreach(cols, i, c)
                {
                    if (i)
                        buf_adds(&sql, ", ");
                    add_ident(&sql, json_string_value(c));
                    buf_adds(&sql, " = ");
                    add_ident(&sql, json_string_value(c));
                }
                bad = compiles(db, buf_str(&sql), buf_str(&what), problems);
            }
            if (!bad) {
                buf_reset(&sql);
                buf_adds(&sql, "DELETE FROM ");
                add_ident(&sql, tbl);
                bad = compiles(db, buf_str(&sql), buf_str(&what), problems);
            }
            found += bad;
            json_decref(cols);
        }
        buf_release(&sql);
        buf_release(&what);
    }
    sqlite3_finalize(st);
    json_decref(seen);
    return found;
}

/* create_sql with its table name replaced by tmp, or NULL (err filled) when it is not a
   CREATE TABLE of `name`. */
static char *rename_create(const char *create_sql, const char *name, const char *tmp, char *err,
                           size_t errlen)
{
    struct sqlscan s;
    struct sqltok t;
    sqlscan_init(&s, create_sql, strlen(create_sql));
    sqlscan_next(&s, &t);
    if (!sqltok_is(&t, "CREATE"))
        goto bad;
    sqlscan_next(&s, &t);
    if (sqltok_is(&t, "TEMP") || sqltok_is(&t, "TEMPORARY"))
        goto bad;
    if (!sqltok_is(&t, "TABLE"))
        goto bad;
    sqlscan_next(&s, &t);
    if (sqltok_is(&t, "IF")) {
        sqlscan_next(&s, &t); /* NOT */
        sqlscan_next(&s, &t); /* EXISTS */
        sqlscan_next(&s, &t);
    }
    struct sqltok first = t;
    struct sqlscan after = s;
    struct sqltok dot;
    if (sqlscan_next(&after, &dot) == SQLTOK_PUNCT && dot.text[0] == '.') {
        if (strcasecmp(first.text, "main") != 0)
            goto bad;
        sqlscan_next(&after, &t); /* the name after "main." */
        s = after;
    }
    if (t.kind != SQLTOK_WORD || strcasecmp(t.text, name) != 0)
        goto bad;
    struct buf b = BUF_INIT;
    buf_add(&b, create_sql, (size_t)(first.start - create_sql));
    add_ident(&b, tmp);
    buf_adds(&b, t.start + t.len);
    return buf_detach(&b, NULL);
bad:
    snprintf(err, errlen, "the statement after `-- onefile:rebuild %s` must be CREATE TABLE %s",
             name, name);
    return NULL;
}

struct saved {
    char *type, *name, *sql;
};

int rebuild_table(sqlite3 *db, const char *name, const char *create_sql, json_t *dropped, char *err,
                  size_t errlen)
{
    struct saved *saved = NULL;
    size_t nsaved = 0, cap = 0;
    json_t *old_cols = NULL, *new_cols = NULL, *problems = json_array();
    char *tmp = xasprintf(TMP_PREFIX "%s", name);
    char *create_tmp = NULL;
    struct buf sql = BUF_INIT;
    sqlite3_stmt *st = NULL;
    int rc = -1;

    long long fk = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA foreign_keys", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        fk = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (fk) {
        snprintf(err, errlen, "rebuild of %s: foreign keys must be off", name);
        goto out;
    }
    old_cols = columns(db, name);
    if (!old_cols || json_array_size(old_cols) == 0) {
        snprintf(err, errlen, "rebuild of %s: no such table", name);
        goto out;
    }
    if (!(create_tmp = rename_create(create_sql, name, tmp, err, errlen)))
        goto out;

    /* 1. remember the table's indexes and every view and trigger, drop views and triggers */
    if (sqlite3_prepare_v2(db,
                           "SELECT type, name, sql FROM sqlite_schema WHERE sql IS NOT NULL AND "
                           "((type = 'index' AND tbl_name = ?1 COLLATE NOCASE) OR "
                           " type IN ('view', 'trigger')) "
                           "ORDER BY CASE type WHEN 'index' THEN 0 WHEN 'view' THEN 1 ELSE 2 END, "
                           "rowid",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "rebuild of %s: %s", name, sqlite3_errmsg(db));
        goto out;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (nsaved == cap) {
            cap = cap ? cap * 2 : 16;
            saved = xrealloc(saved, cap * sizeof(*saved));
        }
        saved[nsaved].type = xstrdup((const char *)sqlite3_column_text(st, 0));
        saved[nsaved].name = xstrdup((const char *)sqlite3_column_text(st, 1));
        saved[nsaved].sql = xstrdup((const char *)sqlite3_column_text(st, 2));
        nsaved++;
    }
    sqlite3_finalize(st);
    st = NULL;
    for (size_t i = nsaved; i-- > 0;) {
        if (strcmp(saved[i].type, "index") == 0)
            continue;
        buf_reset(&sql);
        buf_addf(&sql, "DROP %s ", strcmp(saved[i].type, "view") == 0 ? "VIEW" : "TRIGGER");
        add_ident(&sql, saved[i].name);
        if (exec_buf(db, &sql, err, errlen, "rebuild: dropping a view or trigger") < 0)
            goto out;
    }

    /* 2. the new table under a temporary name, the common columns copied */
    buf_reset(&sql);
    buf_adds(&sql, create_tmp);
    if (exec_buf(db, &sql, err, errlen, "rebuild: the new CREATE TABLE") < 0)
        goto out;
    new_cols = columns(db, tmp);
    struct buf list = BUF_INIT;
    size_t i;
    json_t *c;
    int ncommon = 0;
    json_array_foreach(old_cols, i, c)
    {
        const char *col = json_string_value(c);
        if (!has_column(new_cols, col)) {
            if (dropped)
                json_array_append_new(dropped, json_string(col));
            continue;
        }
        if (ncommon++)
            buf_adds(&list, ", ");
        add_ident(&list, col);
    }
    buf_reset(&sql);
    if (ncommon) {
        buf_adds(&sql, "INSERT INTO ");
        add_ident(&sql, tmp);
        buf_addf(&sql, " (%s) SELECT %s FROM ", buf_str(&list), buf_str(&list));
        add_ident(&sql, name);
    }
    buf_release(&list);
    if (ncommon && exec_buf(db, &sql, err, errlen, "rebuild: copying the rows") < 0)
        goto out;

    /* 3. swap: drop the old table (its indexes go with it), rename the new one */
    buf_reset(&sql);
    buf_adds(&sql, "DROP TABLE ");
    add_ident(&sql, name);
    buf_adds(&sql, "; ALTER TABLE ");
    add_ident(&sql, tmp);
    buf_adds(&sql, " RENAME TO ");
    add_ident(&sql, name);
    if (exec_buf(db, &sql, err, errlen, "rebuild: swapping the tables") < 0)
        goto out;

    /* 4. indexes, views, triggers back, in their original order */
    for (i = 0; i < nsaved; i++) {
        char *msg = NULL;
        if (sqlite3_exec(db, saved[i].sql, NULL, NULL, &msg) != SQLITE_OK) {
            snprintf(err, errlen, "rebuild of %s: %s %s cannot be recreated: %s", name,
                     saved[i].type, saved[i].name, msg ? msg : "error");
            sqlite3_free(msg);
            goto out;
        }
    }
    /* 5. every trigger and view still compiles */
    int bad = schema_verify(db, problems, err, errlen);
    if (bad < 0)
        goto out;
    if (bad > 0) {
        snprintf(err, errlen, "rebuild of %s: %s", name,
                 json_string_value(json_array_get(problems, 0)));
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    for (size_t k = 0; k < nsaved; k++) {
        free(saved[k].type);
        free(saved[k].name);
        free(saved[k].sql);
    }
    free(saved);
    json_decref(old_cols);
    json_decref(new_cols);
    json_decref(problems);
    buf_release(&sql);
    free(create_tmp);
    free(tmp);
    return rc;
}
