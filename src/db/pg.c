/*
 * pg.c - the PostgreSQL driver; see pg.h and driver.h.
 *
 * A statement's life: prepare (translate ?N -> $N, PQprepare once, cache) -> bind (fill
 * values/lengths/formats; nothing sent) -> the first step runs PQexecPrepared and keeps
 * the PGresult -> each step moves to the next row -> reset clears the result. The result
 * of a db_prepare_insert() statement is its RETURNING id row, which the step consumes
 * (the caller sees DB_DONE, and the id through db_insert_id()).
 *
 * Invariants: a cached statement is never freed before its connection closes; a
 * db_prepare_once() statement is DEALLOCATEd and freed by db_finalize(); conn->err holds
 * the message of the last failure on the connection, one line.
 * Threads: the one holding the connection.
 */
#include "db/pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dburl.h"
#include "core/log.h"
#include "core/mem.h"

#define BOOLOID 16
#define BYTEAOID 17
#define INT8OID 20
#define TEXTOID 25
#define INT2OID 21
#define INT4OID 23
#define OIDOID 26
#define FLOAT4OID 700
#define FLOAT8OID 701
#define NUMERICOID 1700

struct pg_stmt {
    struct db_stmt_head head;
    const char *key; /* the address db_prepare() was given (cached statements), else NULL */
    char name[24];   /* the server-side prepared statement */
    int nparams;
    int insert; /* RETURNING id appended: the step consumes the row */
    const char **values;
    int *lengths, *formats;
    char (*num)[32]; /* the text of integer and double parameters */
    PGresult *res;
    PGresult *desc; /* PQdescribePrepared's answer, for column names before a step */
    int row, nrows;
    int64_t id;
    unsigned char *blob; /* a decoded bytea column */
    size_t blobcap, bloblen;
    int blobrow, blobcol;
};

struct pg_conn {
    struct db_conn_head head;
    PGconn *pg;
    struct pg_stmt **stmts;
    size_t n, cap;
    unsigned next_name;
    int64_t changes, total_changes;
    long lock_ms;  /* lock_timeout, set again after a reconnect */
    int read_only; /* DB_READONLY: sessions read-only, set again after a reconnect */
    char err[512];
};

static struct pg_conn *pconn(struct db_conn *c)
{
    return (struct pg_conn *)(void *)c;
}

static struct pg_stmt *pstmt(struct db_stmt *st)
{
    return (struct pg_stmt *)(void *)st;
}

static struct pg_conn *stmt_pconn(struct pg_stmt *s)
{
    return pconn(s->head.conn);
}

/* SQLSTATE -> interface code, first matching prefix wins (so the exact codes come before
   their class). Adding one: a row, in front of its class's row. */
static const struct {
    const char *prefix;
    int code;
} sqlstates[] = {
    {"23505", DB_EUNIQUE},   /* unique_violation */
    {"23", DB_ECONSTRAINT},  /* not null, foreign key, check, exclusion */
    {"40001", DB_EBUSY},     /* serialization_failure: run again */
    {"40P01", DB_EBUSY},     /* deadlock_detected: run again */
    {"55P03", DB_EBUSY},     /* lock_not_available: lock_timeout passed */
    {"25006", DB_EREADONLY}, /* read_only_sql_transaction (or a standby) */
    {"53100", DB_EFULL},     /* disk_full */
    {"58030", DB_EIO},       /* io_error */
    {"08", DB_EIO},          /* connection exceptions */
    {"57P0", DB_EIO},        /* admin / crash shutdown, cannot connect now */
    {"XX001", DB_ECORRUPT},  /* data_corrupted */
    {"XX002", DB_ECORRUPT},  /* index_corrupted */
};

int pg_code(const char *sqlstate)
{
    if (!sqlstate || !*sqlstate)
        return DB_EIO;
    for (size_t i = 0; i < sizeof(sqlstates) / sizeof(sqlstates[0]); i++)
        if (strncmp(sqlstate, sqlstates[i].prefix, strlen(sqlstates[i].prefix)) == 0)
            return sqlstates[i].code;
    return DB_ERR;
}

/* Keeps msg (one line: trailing newlines dropped, inner ones made spaces) as c's error. */
static void set_err(struct pg_conn *c, const char *msg)
{
    snprintf(c->err, sizeof(c->err), "%s", msg && *msg ? msg : "unknown error");
    size_t n = strlen(c->err);
    while (n > 0 && (c->err[n - 1] == '\n' || c->err[n - 1] == ' '))
        c->err[--n] = '\0';
    for (char *p = c->err; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
}

/* Prefixes c's error with what happened: the server is gone for this connection. */
static void mark_lost(struct pg_conn *c)
{
    char lost[sizeof(c->err)];
    snprintf(lost, sizeof(lost), "connection to PostgreSQL lost: %.440s", c->err);
    set_err(c, lost);
}

/* The interface code of a failed result (NULL: libpq could not even allocate one), with
   the message kept on c. */
static int result_error(struct pg_conn *c, const PGresult *res)
{
    if (!res) {
        set_err(c, PQerrorMessage(c->pg));
        if (PQstatus(c->pg) != CONNECTION_OK)
            mark_lost(c);
        return DB_EIO;
    }
    const char *msg = PQresultErrorMessage(res);
    set_err(c, msg && *msg ? msg : PQerrorMessage(c->pg));
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (PQstatus(c->pg) != CONNECTION_OK) {
        mark_lost(c);
        return DB_EIO;
    }
    return state ? pg_code(state) : DB_ERR;
}

static int is_word(char ch)
{
    char lower = (char)(ch | 32);
    return ch == '_' || (lower >= 'a' && lower <= 'z') || (ch >= '0' && ch <= '9');
}

/*
 * ?N -> $N outside '...' strings (with '' and E'\'' escapes), "..." identifiers, -- and
 * nested block comments, and $tag$...$tag$ bodies. A `?` not followed by a digit is an
 * error (the interface has one placeholder style). *nparams gets the highest N. Returns
 * the new text (caller frees) with " RETURNING id" appended when insert, or NULL with the
 * reason in err.
 */
char *pg_translate(const char *sql, int insert, int *nparams, char *err, size_t errlen)
{
    size_t n = strlen(sql);
    /* "$N" is never longer than "?N"; room for the RETURNING clause */
    char *out = xmalloc(n + sizeof(" RETURNING id"));
    size_t o = 0;
    int max = 0;
    for (size_t i = 0; i < n;) {
        char ch = sql[i];
        if (ch == '\'' || ch == '"') {
            int escapes = ch == '\'' && i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e');
            out[o++] = sql[i++];
            while (i < n) {
                if (escapes && sql[i] == '\\' && i + 1 < n) {
                    out[o++] = sql[i++];
                    out[o++] = sql[i++];
                    continue;
                }
                if (sql[i] == ch) {
                    out[o++] = sql[i++];
                    if (i < n && sql[i] == ch) { /* a doubled quote stays inside */
                        out[o++] = sql[i++];
                        continue;
                    }
                    break;
                }
                out[o++] = sql[i++];
            }
        } else if (ch == '-' && i + 1 < n && sql[i + 1] == '-') {
            while (i < n && sql[i] != '\n')
                out[o++] = sql[i++];
        } else if (ch == '/' && i + 1 < n && sql[i + 1] == '*') {
            int depth = 0;
            do {
                if (sql[i] == '/' && i + 1 < n && sql[i + 1] == '*') {
                    depth++;
                    out[o++] = sql[i++];
                } else if (sql[i] == '*' && i + 1 < n && sql[i + 1] == '/') {
                    depth--;
                    out[o++] = sql[i++];
                }
                out[o++] = sql[i++];
            } while (i < n && depth > 0);
        } else if (ch == '$' && (i == 0 || !is_word(sql[i - 1]))) {
            /* $tag$ ... $tag$ (the tag may be empty); a $N of its own is copied as it is */
            size_t t = i + 1;
            while (t < n && is_word(sql[t]) && !(sql[t] >= '0' && sql[t] <= '9'))
                t++;
            if (t < n && sql[t] == '$') {
                size_t taglen = t + 1 - i;
                const char *end = NULL;
                for (size_t k = t + 1; k + taglen <= n && !end; k++)
                    if (strncmp(sql + k, sql + i, taglen) == 0)
                        end = sql + k + taglen;
                size_t stop = end ? (size_t)(end - sql) : n;
                memcpy(out + o, sql + i, stop - i);
                o += stop - i;
                i = stop;
            } else {
                out[o++] = sql[i++];
            }
        } else if (ch == '?') {
            size_t d = i + 1;
            int v = 0;
            while (d < n && sql[d] >= '0' && sql[d] <= '9' && v < 100000)
                v = v * 10 + (sql[d++] - '0');
            if (d == i + 1 || v < 1 || v > 65535) {
                snprintf(err, errlen, "placeholder at offset %zu is not ?N (N from 1)", i);
                free(out);
                return NULL;
            }
            if (v > max)
                max = v;
            out[o++] = '$';
            memcpy(out + o, sql + i + 1, d - i - 1);
            o += d - i - 1;
            i = d;
        } else {
            out[o++] = sql[i++];
        }
    }
    if (insert) {
        while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\n' || out[o - 1] == ';'))
            o--;
        memcpy(out + o, " RETURNING id", sizeof(" RETURNING id") - 1);
        o += sizeof(" RETURNING id") - 1;
    }
    out[o] = '\0';
    *nparams = max;
    return out;
}

static void unbind_all(struct pg_stmt *s)
{
    for (int i = 0; i < s->nparams; i++) {
        s->values[i] = NULL;
        s->lengths[i] = 0;
        s->formats[i] = 0;
    }
}

static void clear_result(struct pg_stmt *s)
{
    PQclear(s->res);
    s->res = NULL;
    s->row = -1;
    s->nrows = 0;
    s->blobrow = -1;
}

static void stmt_free(struct pg_stmt *s)
{
    clear_result(s);
    PQclear(s->desc);
    free(s->values);
    free(s->lengths);
    free(s->formats);
    free(s->num);
    free(s->blob);
    free(s);
}

static struct pg_stmt *cache_find(struct pg_conn *c, const char *sql)
{
    struct pg_stmt *s = NULL;
    for (size_t i = 0; i < c->n && !s; i++)
        if (c->stmts[i]->key == sql)
            s = c->stmts[i];
    for (size_t i = 0; i < c->n && !s; i++)
        if (strcmp(c->stmts[i]->key, sql) == 0)
            s = c->stmts[i];
    return s;
}

/* PQprepare of text as s->name. A parameter whose type PostgreSQL cannot settle from its
   first use (`?2 IS NULL OR kind = ?2`: SQLSTATE 42P08 or 42P18, "could not determine
   data type of parameter $2") is declared text and the prepare tried again: SQLite's
   untyped parameters carry text in those places of onefile's SQL, and every value is sent
   in a form text accepts. */
static PGresult *prepare_typed(struct pg_conn *c, struct pg_stmt *s, const char *text)
{
    Oid *types = s->nparams ? xcalloc((size_t)s->nparams, sizeof(*types)) : NULL;
    PGresult *res = NULL;
    /* inside a transaction (the writer's) a failed attempt would abort it: each attempt
       gets a savepoint (first prepares on a connection only) */
    int in_tx = PQtransactionStatus(c->pg) == PQTRANS_INTRANS;
    for (int tries = 0; tries <= s->nparams; tries++) {
        PQclear(res);
        if (in_tx)
            PQclear(PQexec(c->pg, "SAVEPOINT onefile_prepare"));
        res = PQprepare(c->pg, s->name, text, s->nparams, types);
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        int retry = state && (strcmp(state, "42P18") == 0 || strcmp(state, "42P08") == 0);
        if (in_tx && state)
            PQclear(PQexec(c->pg, "ROLLBACK TO SAVEPOINT onefile_prepare"));
        if (in_tx)
            PQclear(PQexec(c->pg, "RELEASE SAVEPOINT onefile_prepare"));
        if (!retry)
            break;
        const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        const char *dollar = msg ? strrchr(msg, '$') : NULL;
        int k = dollar ? atoi(dollar + 1) : 0;
        if (k < 1 || k > s->nparams || types[k - 1] != 0)
            break;
        types[k - 1] = TEXTOID;
    }
    free(types);
    return res;
}

static struct db_stmt *prepare(struct db_conn *conn, const char *sql, int flags, int cached)
{
    struct pg_conn *c = pconn(conn);
    struct pg_stmt *s = cached ? cache_find(c, sql) : NULL;
    if (s && s->insert == !!(flags & DB_PREPARE_INSERT)) {
        clear_result(s);
        unbind_all(s);
        return (struct db_stmt *)(void *)s;
    }
    char why[128];
    int nparams = 0;
    char *text = pg_translate(sql, flags & DB_PREPARE_INSERT, &nparams, why, sizeof(why));
    if (!text) {
        set_err(c, why);
        log_err("db: prepare: %s: %.200s", why, sql);
        return NULL;
    }
    s = xcalloc(1, sizeof(*s));
    s->head.driver = &pg_driver;
    s->head.conn = conn;
    s->key = cached ? sql : NULL;
    s->insert = !!(flags & DB_PREPARE_INSERT);
    s->nparams = nparams;
    s->row = -1;
    s->blobrow = -1;
    snprintf(s->name, sizeof(s->name), "onefile_%u", ++c->next_name);
    size_t np = nparams ? (size_t)nparams : 1;
    s->values = xcalloc(np, sizeof(*s->values));
    s->lengths = xcalloc(np, sizeof(*s->lengths));
    s->formats = xcalloc(np, sizeof(*s->formats));
    s->num = xcalloc(np, sizeof(*s->num));
    PGresult *res = prepare_typed(c, s, text);
    free(text);
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
        result_error(c, res);
        PQclear(res);
        log_err("db: prepare: %s: %.200s", c->err, sql);
        stmt_free(s);
        return NULL;
    }
    PQclear(res);
    if (cached) {
        if (c->n == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 16;
            c->stmts = xrealloc(c->stmts, c->cap * sizeof(*c->stmts));
        }
        c->stmts[c->n++] = s;
    }
    return (struct db_stmt *)(void *)s;
}

static void finalize(struct db_stmt *st)
{
    struct pg_stmt *s = pstmt(st);
    struct pg_conn *c = stmt_pconn(s);
    char sql[64];
    snprintf(sql, sizeof(sql), "DEALLOCATE %s", s->name);
    if (PQstatus(c->pg) == CONNECTION_OK)
        PQclear(PQexec(c->pg, sql));
    stmt_free(s);
}

static int param(struct pg_stmt *s, int i)
{
    if (i < 1 || i > s->nparams)
        return -1;
    return i - 1;
}

static int bind_int64(struct db_stmt *st, int i, int64_t v)
{
    struct pg_stmt *s = pstmt(st);
    int k = param(s, i);
    if (k < 0)
        return DB_ERR;
    snprintf(s->num[k], sizeof(s->num[k]), "%lld", (long long)v);
    s->values[k] = s->num[k];
    s->lengths[k] = 0;
    s->formats[k] = 0;
    return 0;
}

static int bind_double(struct db_stmt *st, int i, double v)
{
    struct pg_stmt *s = pstmt(st);
    int k = param(s, i);
    if (k < 0)
        return DB_ERR;
    snprintf(s->num[k], sizeof(s->num[k]), "%.17g", v);
    s->values[k] = s->num[k];
    s->lengths[k] = 0;
    s->formats[k] = 0;
    return 0;
}

/* Text and bytea both travel as their raw bytes in binary format, with their length. */
static int bind_bytes(struct db_stmt *st, int i, const void *p, size_t len)
{
    struct pg_stmt *s = pstmt(st);
    int k = param(s, i);
    if (k < 0 || len > 0x3fffffff)
        return DB_ERR;
    s->values[k] = p ? (const char *)p : NULL;
    s->lengths[k] = (int)len;
    s->formats[k] = 1;
    if (p && len == 0)
        s->values[k] = ""; /* an empty value, not NULL */
    return 0;
}

static int bind_text(struct db_stmt *st, int i, const char *p, size_t len)
{
    return bind_bytes(st, i, p, len);
}

static int bind_blob(struct db_stmt *st, int i, const void *p, size_t len)
{
    return bind_bytes(st, i, p, len);
}

static int bind_null(struct db_stmt *st, int i)
{
    struct pg_stmt *s = pstmt(st);
    int k = param(s, i);
    if (k < 0)
        return DB_ERR;
    s->values[k] = NULL;
    return 0;
}

static void count_changes(struct pg_conn *c, PGresult *res)
{
    const char *n = PQcmdTuples(res);
    if (n && *n) {
        c->changes = strtoll(n, NULL, 10);
        c->total_changes += c->changes;
    }
}

static int step(struct db_stmt *st)
{
    struct pg_stmt *s = pstmt(st);
    struct pg_conn *c = stmt_pconn(s);
    if (!s->res) {
        s->res = PQexecPrepared(c->pg, s->name, s->nparams, s->values, s->lengths, s->formats, 0);
        ExecStatusType status = s->res ? PQresultStatus(s->res) : PGRES_FATAL_ERROR;
        if (status == PGRES_COMMAND_OK) {
            count_changes(c, s->res);
            s->nrows = 0;
        } else if (status == PGRES_TUPLES_OK) {
            s->nrows = PQntuples(s->res);
            if (s->insert) {
                count_changes(c, s->res);
                if (s->nrows > 0)
                    s->id = strtoll(PQgetvalue(s->res, 0, 0), NULL, 10);
                s->nrows = 0; /* the RETURNING row is the driver's, not the caller's */
            } else if (strncmp(PQcmdStatus(s->res), "SELECT", 6) != 0) {
                count_changes(c, s->res); /* UPDATE ... RETURNING and the like */
            }
        } else {
            int rc = result_error(c, s->res);
            clear_result(s);
            return rc;
        }
        s->row = -1;
    }
    if (s->row + 1 < s->nrows) {
        s->row++;
        return DB_ROW;
    }
    s->row = s->nrows;
    return DB_DONE;
}

static void reset(struct db_stmt *st)
{
    clear_result(pstmt(st));
}

/* The value of column i in the current row, or NULL (no row, out of range, SQL NULL). */
static const char *value(struct pg_stmt *s, int i)
{
    if (!s->res || s->row < 0 || s->row >= s->nrows || i < 0 || i >= PQnfields(s->res) ||
        PQgetisnull(s->res, s->row, i))
        return NULL;
    return PQgetvalue(s->res, s->row, i);
}

static int64_t column_int64(struct db_stmt *st, int i)
{
    struct pg_stmt *s = pstmt(st);
    const char *v = value(s, i);
    if (!v)
        return 0;
    if (PQftype(s->res, i) == BOOLOID)
        return v[0] == 't';
    return strtoll(v, NULL, 10);
}

static double column_double(struct db_stmt *st, int i)
{
    const char *v = value(pstmt(st), i);
    return v ? strtod(v, NULL) : 0.0;
}

static const char *column_text(struct db_stmt *st, int i)
{
    return value(pstmt(st), i);
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = (char)(ch | 32);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* bytea's text form "\x0a1b..." decoded into s->blob (kept for the row and column). */
static const unsigned char *decode_bytea(struct pg_stmt *s, int i, const char *v)
{
    if (s->blobrow == s->row && s->blobcol == i)
        return s->blob;
    size_t n = strlen(v);
    if (n < 2 || v[0] != '\\' || v[1] != 'x') /* bytea_output = escape: not ours */
        return NULL;
    size_t len = (n - 2) / 2;
    if (len + 1 > s->blobcap) {
        s->blobcap = len + 1 > 2 * s->blobcap ? len + 1 : 2 * s->blobcap;
        s->blob = xrealloc(s->blob, s->blobcap);
    }
    for (size_t k = 0; k < len; k++) {
        int hi = hexval(v[2 + 2 * k]), lo = hexval(v[3 + 2 * k]);
        if (hi < 0 || lo < 0)
            return NULL;
        s->blob[k] = (unsigned char)(hi << 4 | lo);
    }
    s->blob[len] = 0;
    s->bloblen = len;
    s->blobrow = s->row;
    s->blobcol = i;
    return s->blob;
}

static const void *column_blob(struct db_stmt *st, int i)
{
    struct pg_stmt *s = pstmt(st);
    const char *v = value(s, i);
    if (!v)
        return NULL;
    if (PQftype(s->res, i) == BYTEAOID)
        return decode_bytea(s, i, v);
    return v;
}

static size_t column_bytes(struct db_stmt *st, int i)
{
    struct pg_stmt *s = pstmt(st);
    const char *v = value(s, i);
    if (!v)
        return 0;
    if (PQftype(s->res, i) == BYTEAOID)
        return decode_bytea(s, i, v) ? s->bloblen : 0;
    return (size_t)PQgetlength(s->res, s->row, i);
}

static int column_is_null(struct db_stmt *st, int i)
{
    return value(pstmt(st), i) == NULL;
}

/* The result that describes the statement's columns: the current one, else the
   statement's description (asked of the server once, kept until the statement goes). */
static const PGresult *shape(struct pg_stmt *s)
{
    if (s->res)
        return s->res;
    if (!s->desc) {
        struct pg_conn *c = stmt_pconn(s);
        PGresult *d = PQdescribePrepared(c->pg, s->name);
        if (!d || PQresultStatus(d) != PGRES_COMMAND_OK) {
            result_error(c, d);
            PQclear(d);
            return NULL;
        }
        s->desc = d;
    }
    return s->desc;
}

static int column_type(struct db_stmt *st, int i)
{
    struct pg_stmt *s = pstmt(st);
    if (!value(s, i))
        return DB_NULL;
    switch (PQftype(s->res, i)) {
    case BOOLOID:
    case INT2OID:
    case INT4OID:
    case INT8OID:
    case OIDOID:
        return DB_INTEGER;
    case FLOAT4OID:
    case FLOAT8OID:
    case NUMERICOID:
        return DB_FLOAT;
    case BYTEAOID:
        return DB_BLOB;
    default:
        return DB_TEXT;
    }
}

static int column_count(struct db_stmt *st)
{
    const PGresult *r = shape(pstmt(st));
    return r ? PQnfields(r) : 0;
}

static const char *column_name(struct db_stmt *st, int i)
{
    const PGresult *r = shape(pstmt(st));
    return r && i >= 0 && i < PQnfields(r) ? PQfname(r, i) : NULL;
}

static int64_t changes(struct db_conn *c)
{
    return pconn(c)->changes;
}

static int64_t insert_id(struct db_stmt *st)
{
    return pstmt(st)->id;
}

static const char *errmsg(struct db_conn *c)
{
    return pconn(c)->err;
}

static int execute(struct db_conn *conn, const char *sql)
{
    struct pg_conn *c = pconn(conn);
    PGresult *res = PQexec(c->pg, sql);
    ExecStatusType status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    int rc = 0;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY)
        count_changes(c, res);
    else
        rc = result_error(c, res);
    PQclear(res);
    return rc;
}

static int conn_close(struct db_conn *conn)
{
    struct pg_conn *c = pconn(conn);
    for (size_t i = 0; i < c->n; i++)
        stmt_free(c->stmts[i]);
    free(c->stmts);
    PQfinish(c->pg);
    free(c);
    return 0;
}

const struct db_driver pg_driver = {
    .name = "postgres",
    .engine = DB_ENGINE_POSTGRES,
    .prepare = prepare,
    .finalize = finalize,
    .bind_int64 = bind_int64,
    .bind_double = bind_double,
    .bind_text = bind_text,
    .bind_blob = bind_blob,
    .bind_null = bind_null,
    .step = step,
    .reset = reset,
    .column_int64 = column_int64,
    .column_double = column_double,
    .column_text = column_text,
    .column_blob = column_blob,
    .column_bytes = column_bytes,
    .column_is_null = column_is_null,
    .column_type = column_type,
    .column_count = column_count,
    .column_name = column_name,
    .changes = changes,
    .insert_id = insert_id,
    .errmsg = errmsg,
    .execute = execute,
    .close = conn_close,
};

/* The server's NOTICEs ("relation ... already exists, skipping") are not errors; libpq
   would print them raw on stderr, between onefile's JSON log lines. */
static void notice(void *arg, const char *msg)
{
    (void)arg;
    char line[512];
    snprintf(line, sizeof(line), "%s", msg);
    line[strcspn(line, "\n")] = '\0';
    log_event(LOG_DEBUG, "postgres notice", json_pack("{s:s}", "message", line));
}

/* SHOW name into out; 0 or -1 with the reason in c->err. */
static int show(struct pg_conn *c, const char *name, char *out, size_t outlen)
{
    char sql[96];
    snprintf(sql, sizeof(sql), "SHOW %s", name);
    PGresult *res = PQexec(c->pg, sql);
    int rc = -1;
    if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        snprintf(out, outlen, "%s", PQgetvalue(res, 0, 0));
        rc = 0;
    } else {
        result_error(c, res);
    }
    PQclear(res);
    return rc;
}

/* The settings every connection is proved to have. Adding one: a row. */
static const struct {
    const char *name, *want;
    enum db_mode only; /* DB_INSPECT: every mode */
} verified[] = {
    {"server_encoding", "UTF8", DB_INSPECT},
    {"client_encoding", "UTF8", DB_INSPECT},
    {"standard_conforming_strings", "on", DB_INSPECT},
    {"default_transaction_read_only", "on", DB_READONLY},
};

static int verify(struct pg_conn *c, enum db_mode mode, char *why, size_t whylen)
{
    int version = PQserverVersion(c->pg);
    if (version < 130000) {
        snprintf(why, whylen, "server version %d.%d: onefile needs PostgreSQL 13 or later",
                 version / 10000, version % 10000);
        return -1;
    }
    for (size_t i = 0; i < sizeof(verified) / sizeof(verified[0]); i++) {
        char got[128];
        if (verified[i].only != DB_INSPECT && verified[i].only != mode)
            continue;
        if (show(c, verified[i].name, got, sizeof(got)) < 0) {
            snprintf(why, whylen, "SHOW %s: %.300s", verified[i].name, c->err);
            return -1;
        }
        if (strcmp(got, verified[i].want) != 0) {
            snprintf(why, whylen, "%s: wanted %s, got %s", verified[i].name, verified[i].want, got);
            return -1;
        }
    }
    return 0;
}

int pg_conn_open(const char *url, enum db_mode mode, const struct db_options *o,
                 struct db_conn **out)
{
    /* earlier entries are defaults the URL may override; later ones are forced */
    const char *const keys[] = {"connect_timeout", "fallback_application_name", "dbname",
                                "client_encoding", NULL};
    const char *const vals[] = {"10", "onefile", url, "UTF8", NULL};
    char why[512], sql[160];
    char *masked = dburl_mask(url);
    int rc = -1;
    *out = NULL;
    struct pg_conn *c = xcalloc(1, sizeof(*c));
    c->head.driver = &pg_driver;
    c->pg = PQconnectdbParams(keys, vals, 1);
    if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
        set_err(c, c->pg ? PQerrorMessage(c->pg) : "out of memory");
        log_err("db: cannot connect to %s: %s", masked, c->err);
        goto out;
    }
    PQsetNoticeProcessor(c->pg, notice, NULL);
    long lock_ms = o ? o->busy_timeout_ms : 5000;
    c->lock_ms = lock_ms;
    c->read_only = mode == DB_READONLY;
    snprintf(sql, sizeof(sql), "SET lock_timeout = %ld", lock_ms);
    if (execute((struct db_conn *)(void *)c, sql) < 0 ||
        (mode == DB_READONLY &&
         execute((struct db_conn *)(void *)c,
                 "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY") < 0)) {
        log_err("db: %s: %s", masked, c->err);
        goto out;
    }
    if (verify(c, mode, why, sizeof(why)) < 0) {
        log_err("db: %s: %s", masked, why);
        goto out;
    }
    *out = (struct db_conn *)(void *)c;
    c = NULL;
    rc = 0;
out:
    if (c) {
        PQfinish(c->pg);
        free(c);
    }
    free(masked);
    return rc;
}

PGconn *pg_conn_handle(struct db_conn *c)
{
    return pconn(c)->pg;
}

int pg_conn_ok(struct db_conn *c)
{
    return PQstatus(pconn(c)->pg) == CONNECTION_OK;
}

int pg_conn_in_transaction(struct db_conn *c)
{
    PGTransactionStatusType t = PQtransactionStatus(pconn(c)->pg);
    return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

int pg_conn_transaction_failed(struct db_conn *c)
{
    return PQtransactionStatus(pconn(c)->pg) == PQTRANS_INERROR;
}

int64_t pg_conn_total_changes(struct db_conn *c)
{
    return pconn(c)->total_changes;
}

void pg_conn_reset_all(struct db_conn *c)
{
    struct pg_conn *p = pconn(c);
    for (size_t i = 0; i < p->n; i++)
        clear_result(p->stmts[i]);
}

int pg_conn_tidy(struct db_conn *conn)
{
    struct pg_conn *c = pconn(conn);
    pg_conn_reset_all(conn);
    if (PQstatus(c->pg) != CONNECTION_OK) {
        /* the server's prepared statements went with the session: forget them */
        for (size_t i = 0; i < c->n; i++)
            stmt_free(c->stmts[i]);
        c->n = 0;
        PQreset(c->pg);
        if (PQstatus(c->pg) != CONNECTION_OK) {
            set_err(c, PQerrorMessage(c->pg));
            mark_lost(c);
            return DB_EIO;
        }
        char sql[64];
        snprintf(sql, sizeof(sql), "SET lock_timeout = %ld", c->lock_ms);
        if (execute(conn, sql) < 0 ||
            (c->read_only &&
             execute(conn, "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY") < 0))
            return DB_EIO;
        return 1;
    }
    if (PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
        execute(conn, "ROLLBACK");
        return 2;
    }
    return 0;
}
